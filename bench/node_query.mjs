#!/usr/bin/env node
// bench/node_query.mjs — per-call query cost through Node: our binding
// (bindings/node, build/node/rvf.node) vs the reference @ruvector/rvf-node
// 0.2.3, same data, same run, same process.
//
//   make node && node bench/node_query.mjs        (N=10000 DIM=384 NQ=1000 K=10)
//
// For each side: ingest N x DIM (fixed seed) in batches of 1,000, close,
// openReadonly, the first query (the reference builds its HNSW index then),
// then NQ queries each timed alone (after 50 warm-up queries), the sides
// interleaved query by query: mean, p50, p99
// in microseconds per call, and recall@K against the exact answer. Ours is
// measured three ways: default (below 20,000 vectors no index: exact scan),
// with the index built (buildIndex) at the default efSearch, and at
// efSearch 256 (what the reference always uses, it raises lower values).
// A 1-vector store gives the bare per-call overhead of each binding
// (argument conversion, result objects). Prints a table with the ratio
// reference / ours (> 1: ours is faster) and writes
// bench/results/node_query.md. RVF_REF_NODE=<package dir> uses an installed
// reference; otherwise it is installed with npm into a temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomVectors } from '../tests/node/scenario.mjs';
import { loadReference, loadOurs, ROOT } from '../tests/node/reference.mjs';

const N = +(process.env.N || 10000), DIM = +(process.env.DIM || 384);
const NQ = +(process.env.NQ || 1000), K = +(process.env.K || 10), WARM = 50;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rvf-node-bench-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const now = () => process.hrtime.bigint();
const ms = (t0) => Number(now() - t0) / 1e6;
const data = randomVectors(N, DIM, 42);
const ids = Array.from({ length: N }, (_, i) => i + 1);
const queries = Array.from({ length: NQ }, (_, i) => randomVectors(1, DIM, 10000 + i));

function build(Db, file, extra) {
  const db = Db.create(file, { dimension: DIM });
  const t0 = now();
  for (let i = 0; i < N; i += 1000) {
    const n = Math.min(1000, N - i);
    db.ingestBatch(data.subarray(i * DIM, (i + n) * DIM), ids.slice(i, i + n));
  }
  const ingest = ms(t0);
  let index = null;
  if (extra) { const t1 = now(); extra(db); index = ms(t1); }
  db.close();
  return { ingest, index };
}

// Times every side on query i before moving to query i+1, so a change of
// machine load hits all sides alike (the machine is shared).
function timeInterleaved(sides) {
  for (let i = 0; i < WARM; i++) for (const sd of sides) sd.db.query(queries[i % NQ], K, sd.opts);
  for (const sd of sides) { sd.lat = new Float64Array(NQ); sd.res = []; }
  for (let i = 0; i < NQ; i++) {
    for (const sd of sides) {
      const t0 = now();
      const r = sd.db.query(queries[i], K, sd.opts);
      sd.lat[i] = Number(now() - t0) / 1e3;
      sd.res.push(r);
    }
  }
  for (const sd of sides) {
    const s = [...sd.lat].sort((a, b) => a - b);
    sd.mean = sd.lat.reduce((a, b) => a + b, 0) / NQ;
    sd.p50 = s[NQ >> 1];
    sd.p99 = s[Math.floor(NQ * 0.99)];
  }
}

function prepare(Db, name, file, opts, extra) {
  const b = build(Db, file, extra);
  let t0 = now();
  const db = Db.openReadonly(file);
  const open = ms(t0);
  t0 = now();
  db.query(queries[0], K, opts);
  const first = ms(t0);
  return { name, db, opts, ...b, open, first };
}

function tiny(Db, name, file) {
  const db = Db.create(file, { dimension: DIM });
  db.ingestBatch(data.subarray(0, DIM), [1]);
  return { name, db };
}

const ref = loadReference();
if (ref.skip) {
  console.error('='.repeat(76) + `\nSKIP: ${ref.skip}: no reference to compare with\n` + '='.repeat(76));
  process.exit(77);
}
const Ours = loadOurs().RvfDatabase, Ref = ref.lib.RvfDatabase;

console.log(`node_query: ${N} x ${DIM} (l2), ${NQ} timed queries, k=${K}, node ${process.version}`);
const rows = [
  prepare(Ref, 'reference 0.2.3 (HNSW, built by the first query)', path.join(tmp, 'ref.rvf')),
  prepare(Ours, 'ours, default (exact scan below 20,000 vectors)', path.join(tmp, 'ours.rvf')),
  prepare(Ours, 'ours, index built at ingest (buildIndex), default efSearch', path.join(tmp, 'ours_idx.rvf'), undefined, (db) => db.buildIndex()),
];
// the same indexed file, a second handle asking for efSearch 256
rows.push({ ...prepare(Ours, 'ours, same index, efSearch 256', path.join(tmp, 'ours_idx2.rvf'), { efSearch: 256 }, (db) => db.buildIndex()) });
timeInterleaved(rows);
const ov = [tiny(Ref, 'reference', path.join(tmp, 'ov_ref.rvf')), tiny(Ours, 'ours', path.join(tmp, 'ov_ours.rvf'))];
timeInterleaved(ov);
for (const sd of [...rows, ...ov]) sd.db.close();
const [ovRef, ovOurs] = ov;
const exact = rows[1].res;
const recall = (res) => {
  let hit = 0;
  res.forEach((r, i) => { const want = new Set(exact[i].map((h) => h.id)); hit += r.filter((h) => want.has(h.id)).length; });
  return hit / (NQ * K);
};

const f = (x, d = 1) => (x == null ? '—' : x.toFixed(d));
const lines = [];
lines.push(`# Node binding: query cost per call, ours vs @ruvector/rvf-node 0.2.3`);
lines.push('');
lines.push(`${N} x ${DIM} random vectors (l2, fixed seed), ingested in batches of 1,000, reopened read-only; ` +
  `${NQ} queries (k=${K}) each timed alone after ${WARM} warm-up queries; node ${process.version}, ` +
  `${os.cpus().length} CPUs (${os.cpus()[0].model}), load ${os.loadavg()[0].toFixed(1)}. \`node bench/node_query.mjs\`, ${new Date().toISOString().slice(0, 10)}.`);
lines.push('');
lines.push('| side | ingest ms | index build ms | open ms | first query ms | mean µs/query | p50 µs | p99 µs | recall@10 |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  lines.push(`| ${r.name} | ${f(r.ingest, 0)} | ${f(r.index, 0)} | ${f(r.open, 2)} | ${f(r.first, 1)} | ${f(r.mean)} | ${f(r.p50)} | ${f(r.p99)} | ${recall(r.res).toFixed(3)} |`);
lines.push(`| bare call (1-vector store), reference | | | | | ${f(ovRef.mean, 2)} | ${f(ovRef.p50, 2)} | ${f(ovRef.p99, 2)} | |`);
lines.push(`| bare call (1-vector store), ours | | | | | ${f(ovOurs.mean, 2)} | ${f(ovOurs.p50, 2)} | ${f(ovOurs.p99, 2)} | |`);
lines.push('');
lines.push('Ratios reference / ours (> 1: ours is faster):');
lines.push('');
lines.push(`- first query after open: ${(rows[0].first / rows[1].first).toFixed(1)}x (ours exact), ${(rows[0].first / rows[2].first).toFixed(1)}x (ours indexed)`);
const ratio = (a, b) => `${(a.p50 / b.p50).toFixed(2)}x (median), ${(a.mean / b.mean).toFixed(2)}x (mean)`;
lines.push(`- per query, ours exact: ${ratio(rows[0], rows[1])}`);
lines.push(`- per query, ours indexed: ${ratio(rows[0], rows[2])}`);
lines.push(`- per query, ours indexed at efSearch 256: ${ratio(rows[0], rows[3])}`);
lines.push(`- bare per-call overhead: ${ratio(ovRef, ovOurs)}`);
const out = lines.join('\n') + '\n';
process.stdout.write(out);
if (!process.env.NO_WRITE) fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'node_query.md'), out);
