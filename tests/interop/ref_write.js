'use strict';
// Part (a): the reference binding writes stores; it records what it reads
// back (status, metric, query results for fixed query vectors) so the shell
// test can ask our CLI the same questions about the same files.
//
//   node ref_write.js OUTDIR      -> OUTDIR/*.rvf, OUTDIR/<store>.queries.json,
//                                    OUTDIR/ref_write.json
const path = require('path');
const { vectors, flat, writeJson, normMetric } = require('./common.js');
const { RvfDatabase } = require('./common.js').binding();

const out = process.argv[2];
if (!out) { console.error('usage: node ref_write.js OUTDIR'); process.exit(2); }

const K = 10;
const log = { binding: require('@ruvector/rvf-node/package.json').version, stores: [] };

function ingest(db, dim, ids, seed) {
  const r = db.ingestBatch(flat(vectors(ids.length, dim, seed), dim), ids);
  if (r.accepted !== ids.length || r.rejected !== 0) {
    throw new Error(`ingest of ${ids.length} rows: ${JSON.stringify(r)}`);
  }
  return r;
}
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

// Read back through a fresh read-only handle: what any later reader sees.
function record(name, dim, exact, nq, qseed, extra) {
  const file = path.join(out, name);
  const queries = vectors(nq, dim, qseed);
  const db = RvfDatabase.openReadonly(file);
  const st = db.status();
  const results = queries.map((q) => db.query(new Float32Array(q), K));
  const segTypes = db.segments().map((s) => s.segType);
  const entry = {
    file: name, dimension: db.dimension(), metric: normMetric(db.metric()), exact,
    status: st, segTypes, queriesFile: name + '.queries.json', results, ...extra,
  };
  db.close();
  writeJson(path.join(out, entry.queriesFile), queries);
  log.stores.push(entry);
}

// 1. One store per metric: two batches (the second re-ingests id 5 and has a
//    duplicate id inside the batch), a delete incl. an unknown id.
const specs = [
  { name: 'w_l2.rvf', metric: 'l2', dim: 16 },
  { name: 'w_ip.rvf', metric: 'inner_product', dim: 12 },
  { name: 'w_cos.rvf', metric: 'cosine', dim: 20 },
];
let seed = 100;
for (const s of specs) {
  const db = RvfDatabase.create(path.join(out, s.name), { dimension: s.dim, metric: s.metric });
  ingest(db, s.dim, range(0, 120), seed++);
  ingest(db, s.dim, [...range(120, 200), 5, 130, 130], seed++);
  const d = db.delete([3, 50, 150, 999999]);
  if (d.deleted !== 3) throw new Error(`${s.name}: delete reported ${JSON.stringify(d)}`);
  if (s.metric === 'cosine') {
    // a zero vector: cosine distance is exactly 1 for every query
    db.ingestBatch(new Float32Array(s.dim), [777]);
  }
  db.close();
  record(s.name, s.dim, true, 6, seed++, { ops: 'create, ingest x2 (dup ids), delete 4 (1 unknown)' });
}

// 2. Re-open for writing (segment ids restart, old manifest unreferenced),
//    ingest and delete again.
{
  const name = 'w_reopen.rvf', dim = 8;
  let db = RvfDatabase.create(path.join(out, name), { dimension: dim, metric: 'l2' });
  ingest(db, dim, range(0, 60), seed++);
  db.close();
  db = RvfDatabase.open(path.join(out, name));
  ingest(db, dim, range(60, 90), seed++);
  db.delete([10, 61]);
  db.close();
  db = RvfDatabase.open(path.join(out, name));
  ingest(db, dim, [7, 300], seed++);
  db.close();
  record(name, dim, true, 5, seed++, { ops: 'create+ingest, reopen x2, ingest, delete, upsert' });
}

// 3. A compacted store (deletes purged; witnesses preserved).
{
  const name = 'w_compact.rvf', dim = 16;
  const db = RvfDatabase.create(path.join(out, name), { dimension: dim, metric: 'cosine' });
  ingest(db, dim, range(0, 100), seed++);
  ingest(db, dim, range(100, 150), seed++);
  db.delete(range(20, 45));
  const c = db.compact();
  ingest(db, dim, range(150, 160), seed++);
  db.close();
  record(name, dim, true, 5, seed++, { ops: 'ingest x2, delete 25, compact, ingest', compact: c });
}

// 4. >= 1024 vectors, queried in a read-write session so the binding builds
//    its HNSW graph and persists an INDEX_SEG at close. Its later answers are
//    approximate (format §17).
{
  const name = 'w_big.rvf', dim = 24;
  const db = RvfDatabase.create(path.join(out, name), { dimension: dim, metric: 'l2', m: 12, efConstruction: 64 });
  ingest(db, dim, range(0, 700), seed++);
  ingest(db, dim, range(700, 1300), seed++);
  db.delete([1, 2, 3]);
  db.query(new Float32Array(vectors(1, dim, 4242)[0]), K); // builds the graph
  db.close();
  record(name, dim, false, 8, seed++, { ops: '1300 vectors, delete 3, query in rw session, close' });
  const e = log.stores[log.stores.length - 1];
  if (!e.segTypes.includes('index')) {
    throw new Error(`${name}: binding did not persist an INDEX_SEG (segments: ${e.segTypes.join(',')})`);
  }
}

writeJson(path.join(out, 'ref_write.json'), log);
console.log(`ref_write: ${log.stores.length} stores written by @ruvector/rvf-node ${log.binding}`);
