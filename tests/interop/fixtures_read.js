'use strict';
// Part (c): the binding reads the shared fixtures (ref/ written by itself,
// py/ written from the spec) with deterministic query vectors that our CLI
// is asked too. Covers what refgen_log.json cannot: the log does not record
// its query vectors, and COW children need the parent resolution rule.
//   node fixtures_read.js FIXROOT OUTDIR   (FIXROOT = shared/spec/fixtures)
const fs = require('fs');
const path = require('path');
const { vectors, writeJson, normMetric } = require('./common.js');
const { RvfDatabase } = require('./common.js').binding();

const [root, out] = process.argv.slice(2);
if (!root || !out) { console.error('usage: node fixtures_read.js FIXROOT OUTDIR'); process.exit(2); }
const K = 10;
const files = [];
for (const sub of ['ref', 'ref/sub', 'py']) {
  const d = path.join(root, sub);
  if (!fs.existsSync(d)) continue;
  for (const f of fs.readdirSync(d).sort()) if (f.endsWith('.rvf')) files.push(path.join(sub, f));
}
const log = { files: [] };
let seed = 9000;
for (const rel of files) {
  const e = { file: rel };
  try {
    const db = RvfDatabase.openReadonly(path.join(root, rel));
    const dim = db.dimension();
    const queries = vectors(4, dim, seed++);
    e.status = db.status();
    e.metric = normMetric(db.metric());
    e.dimension = dim;
    e.results = queries.map((q) => db.query(new Float32Array(q), K));
    db.close();
    e.queriesFile = rel.replace(/[/]/g, '__') + '.queries.json';
    writeJson(path.join(out, e.queriesFile), queries);
  } catch (err) {
    e.error = String(err && err.message || err);
  }
  log.files.push(e);
}
writeJson(path.join(out, 'fixtures_read.json'), log);
console.log(`fixtures_read: ${log.files.length} fixtures read by the binding (${log.files.filter((x) => x.error).length} rejected)`);
