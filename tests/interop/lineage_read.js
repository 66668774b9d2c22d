'use strict';
// Opens a store written by our CLI with the reference binding and prints its
// status and query results as JSON.
//   node lineage_read.js ro|rw FILE QUERIES.json K
const fs = require('fs');
const { RvfDatabase } = require('./common.js').binding();

const [mode, file, qfile, k] = process.argv.slice(2);
const queries = JSON.parse(fs.readFileSync(qfile, 'utf8'));
const db = mode === 'rw' ? RvfDatabase.open(file) : RvfDatabase.openReadonly(file);
const out = {
  status: db.status(),
  results: queries.map((q) => db.query(new Float32Array(q), Number(k))),
};
db.close();
process.stdout.write(JSON.stringify(out) + '\n');
