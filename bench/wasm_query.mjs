// wasm_query.mjs — per-query time of rvf.wasm (bindings/wasm) against the
// native library on the same file, same queries, same run: exact scan and
// HNSW (after `rvf index`), 10,000 x 128 l2 by default.
//   node bench/wasm_query.mjs [N] [DIM] [QUERIES]
// Native time is the CLI's batch `elapsed_ms` (library time, no process
// start-up); wasm time is measured around db.query in this process.
// RVF_WASM_BASE=other.wasm times a second module in the same run (e.g. a
// build without the SIMD128 kernels) and prints its ratio to RVF_WASM.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRvf } from '../bindings/wasm/rvf.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [N, DIM, NQ] = [+(process.argv[2] ?? 10000), +(process.argv[3] ?? 128), +(process.argv[4] ?? 200)];
const CLI = process.env.RVF_CLI ?? path.join(ROOT, 'build/rvf');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rvf-wasmbench-'));
let s = 12345;
const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 31 - 1; };
const rows = [];
for (let i = 0; i < N; i++) rows.push(JSON.stringify({ id: i, vector: Array.from({ length: DIM }, rnd) }));
fs.writeFileSync(path.join(tmp, 'in.jsonl'), rows.join('\n'));
const qs = Array.from({ length: NQ }, () => Float32Array.from({ length: DIM }, rnd));
fs.writeFileSync(path.join(tmp, 'q.json'), JSON.stringify(qs.map((q) => Array.from(q))));
const file = path.join(tmp, 's.rvf');
execFileSync(CLI, ['create', file, '-d', String(DIM)]);
execFileSync(CLI, ['ingest', file, '-i', path.join(tmp, 'in.jsonl'), '--format', 'jsonl', '--index', 'off']);
const WASM = process.env.RVF_WASM ?? path.join(ROOT, 'build/wasm/rvf.wasm');
const rvf = await loadRvf(fs.readFileSync(WASM));
const base = process.env.RVF_WASM_BASE ? await loadRvf(fs.readFileSync(process.env.RVF_WASM_BASE)) : null;

function nativeMs(extra) {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const o = JSON.parse(execFileSync(CLI, ['query', file, '--input', path.join(tmp, 'q.json'), '-k', '10', '--json', ...extra], { maxBuffer: 1 << 28 }));
    best = Math.min(best, o.elapsed_ms / NQ);
  }
  return best;
}
function wasmMs(opts, mod = rvf) {
  const db = mod.openBuffer(fs.readFileSync(file));
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    for (const q of qs) db.query(q, 10, opts);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6 / NQ);
  }
  db.close();
  return best;
}
const row = (name, w, n, b) => console.log(`${name.padEnd(8)} wasm ${w.toFixed(4)} ms  native ${n.toFixed(4)} ms  wasm/native ${(w / n).toFixed(2)}x` +
  (b === undefined ? '' : `  base wasm ${b.toFixed(4)} ms  base/wasm ${(b / w).toFixed(2)}x`));
console.log(`rvf.wasm ${fs.statSync(WASM).size} bytes (kernel ${rvf.simd})` +
  (base ? `; base ${fs.statSync(process.env.RVF_WASM_BASE).size} bytes (kernel ${(() => { try { return base.simd; } catch { return 'scalar: a module without rvfw_simd'; } })()})` : '') +
  `; ${N} x ${DIM} l2, ${NQ} queries, k 10, best of 3`);
const both = (opts) => [wasmMs(opts), base ? wasmMs(opts, base) : undefined];
let [w, b] = both({ mode: 'exact' });
row('exact', w, nativeMs(['--exact']), b);
execFileSync(CLI, ['index', file]);
[w, b] = both({ efSearch: 64 });
row('hnsw', w, nativeMs(['--ef-search', '64']), b);
fs.rmSync(tmp, { recursive: true, force: true });
