'use strict';
// Part (b) input: data files for our CLI to write stores from, and the plan
// both sides follow.   node gen_cli_data.js OUTDIR  -> OUTDIR/plan.json, *.json
const path = require('path');
const { vectors, writeJson } = require('./common.js');

const out = process.argv[2];
if (!out) { console.error('usage: node gen_cli_data.js OUTDIR'); process.exit(2); }
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
const records = (ids, dim, seed) => {
  const vs = vectors(ids.length, dim, seed);
  return ids.map((id, i) => ({ id, vector: vs[i] }));
};

const stores = [
  { file: 'c_l2.rvf', cliMetric: 'l2', metric: 'l2', dim: 16, compact: false, n: 150 },
  { file: 'c_ip.rvf', cliMetric: 'ip', metric: 'inner_product', dim: 10, compact: false, n: 130 },
  { file: 'c_cos.rvf', cliMetric: 'cosine', metric: 'cosine', dim: 24, compact: false, n: 170 },
  { file: 'c_l2_compact.rvf', cliMetric: 'l2', metric: 'l2', dim: 8, compact: true, n: 120, index: 'on' },
  { file: 'c_cos_compact.rvf', cliMetric: 'cosine', metric: 'cosine', dim: 12, compact: true, n: 90 },
  // >= 1024 vectors: the binding answers with HNSW (approximate, format §17)
  { file: 'c_big.rvf', cliMetric: 'inner_product', metric: 'inner_product', dim: 20, compact: false, n: 1200, index: 'on' },
];
let seed = 5000;
const plan = [];
for (const s of stores) {
  const half = Math.floor(s.n / 2);
  // named metadata (field dictionary + values in META_SEGs the binding must
  // keep and ignore) on the first batch
  const b1 = records(range(0, half), s.dim, seed++)
    .map(r => ({ ...r, metadata: { tag: 'g' + (r.id % 3), even: r.id % 2 === 0, 0: r.id } }));
  // second batch: new ids plus an upsert of id 4 and a duplicate inside the batch
  const b2 = records([...range(half, s.n), 4, half + 1], s.dim, seed++);
  const base = s.file.replace(/\.rvf$/, '');
  writeJson(path.join(out, base + '.b1.json'), b1);
  writeJson(path.join(out, base + '.b2.json'), b2);
  const queries = vectors(6, s.dim, seed++);
  writeJson(path.join(out, base + '.queries.json'), queries);
  plan.push({
    ...s,
    exact: s.n < 1024,
    batches: [base + '.b1.json', base + '.b2.json'],
    batchSize: s.n >= 1024 ? 400 : 1000,
    deleteIds: [2, 7, half + 3, 99999],       // 99999 never existed
    queriesFile: base + '.queries.json',
    // what the binding appends in its read-write session
    add: { id: 100000 + s.n, vector: vectors(1, s.dim, seed++)[0] },
    del: 11,
  });
}
writeJson(path.join(out, 'plan.json'), plan);
console.log(`gen_cli_data: ${plan.length} store plans`);
