'use strict';
// Part (b): the reference binding reads stores our CLI wrote (plan.json),
// then opens them read-write, ingests one vector and deletes one id, and
// reads them again. Everything it sees goes to OUTDIR/ref_read.json.
//   node ref_read.js DIR
const path = require('path');
const { readJson, writeJson, normMetric } = require('./common.js');
const { RvfDatabase } = require('./common.js').binding();

const dir = process.argv[2];
if (!dir) { console.error('usage: node ref_read.js DIR'); process.exit(2); }
const K = 10;
const plan = readJson(path.join(dir, 'plan.json'));
const log = { stores: [] };
let failures = 0;

function snapshot(file, queries) {
  const db = RvfDatabase.openReadonly(file);
  const s = {
    status: db.status(), metric: normMetric(db.metric()), dimension: db.dimension(),
    segTypes: db.segments().map((x) => x.segType),
    results: queries.map((q) => db.query(new Float32Array(q), K)),
  };
  db.close();
  return s;
}

for (const p of plan) {
  const file = path.join(dir, p.file);
  const queries = readJson(path.join(dir, p.queriesFile));
  const e = { file: p.file, exact: p.exact };
  try {
    e.before = snapshot(file, queries);
    const db = RvfDatabase.open(file);
    e.rwStatusAtOpen = db.status();
    e.ingest = db.ingestBatch(new Float32Array(p.add.vector), [p.add.id]);
    e.del = db.delete([p.del]);
    if (!p.exact) db.query(new Float32Array(queries[0]), K); // builds + persists HNSW at close
    db.close();
    e.after = snapshot(file, queries);
  } catch (err) {
    e.error = String(err && err.message || err);
    console.error(`ref_read: ${p.file}: binding failed: ${e.error}`);
    failures++;
  }
  log.stores.push(e);
}
writeJson(path.join(dir, 'ref_read.json'), log);
console.log(`ref_read: ${plan.length} CLI-written stores read/appended by the binding, ${failures} failures`);
process.exit(failures ? 1 : 0);
