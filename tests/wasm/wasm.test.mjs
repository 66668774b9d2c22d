// rvf.wasm against the native CLI on the reference corpus: every file opens
// from bytes with the expected count, dimension and metric, and top-k
// answers (exact, and whatever the store offers) equal build/rvf's.
// Run: node --test tests/wasm/  (RVF_WASM = path of rvf.wasm, RVF_CLI = rvf)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRvf, RvfError } from '../../bindings/wasm/rvf.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WASM = process.env.RVF_WASM ?? path.join(ROOT, 'build/wasm/rvf.wasm');
const CLI = process.env.RVF_CLI ?? path.join(ROOT, 'build/rvf');
const CORPUS = path.join(ROOT, '../shared/corpus');
const EXPECTED = JSON.parse(fs.readFileSync(path.join(CORPUS, 'EXPECTED.json'), 'utf8'));
const rvf = await loadRvf(fs.readFileSync(WASM));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rvf-wasm-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// Deterministic queries (xorshift), in [-1, 1).
function queries(n, dim, seed) {
  let s = seed >>> 0 || 1;
  const out = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      v[j] = s / 2 ** 31 - 1;
    }
    out.push(v);
  }
  return out;
}

function cli(file, qs, k, extra = []) {
  const qf = path.join(tmp, 'q.json');
  // Float32 values printed exactly: the CLI parses them back to the same f32.
  fs.writeFileSync(qf, JSON.stringify(qs.map((q) => Array.from(q))));
  const out = execFileSync(CLI, ['query', file, '--input', qf, '-k', String(k), '--json', ...extra],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out).results;
}

function same(wasmHits, cliHits, what) {
  assert.equal(wasmHits.length, cliHits.length, `${what}: hit count`);
  for (let i = 0; i < cliHits.length; i++) {
    assert.equal(wasmHits[i].id, cliHits[i].id, `${what}: id of hit ${i}`);
    // the CLI prints the f32 distance widened to double
    assert.equal(wasmHits[i].distance, Math.fround(cliHits[i].distance), `${what}: distance of hit ${i}`);
  }
}

const files = Object.keys(EXPECTED).filter((f) => EXPECTED[f].status === 'ok');

test('corpus files open from bytes with the expected shape', () => {
  let opened = 0;
  for (const f of files) {
    const e = EXPECTED[f];
    const db = rvf.openBuffer(fs.readFileSync(path.join(CORPUS, f)));
    try {
      const st = db.status();
      assert.equal(db.dimension, e.dimension, `${f}: dimension`);
      assert.equal(st.total_vectors, e.live_vectors, `${f}: live vectors`);
      assert.equal(st.metric, e.metric === 'ip' ? 'inner_product' : e.metric, `${f}: metric`);
      assert.equal(st.epoch, e.epoch, `${f}: epoch`);
      assert.equal(db.segments().length, st.total_segments, `${f}: segments listed`);
      opened++;
    } finally {
      db.close();
    }
  }
  assert.ok(opened >= 20, `only ${opened} corpus files opened`);
});

test('top-k equals the native CLI (exact and default path)', () => {
  let compared = 0;
  for (const f of files) {
    const e = EXPECTED[f];
    if (!e.live_vectors) continue;
    const file = path.join(CORPUS, f);
    const db = rvf.openBuffer(fs.readFileSync(file));
    try {
      const qs = queries(5, e.dimension, f.length * 7919);
      const k = Math.min(10, e.live_vectors + 2);
      const exact = cli(file, qs, k, ['--exact']);
      const auto = cli(file, qs, k);
      qs.forEach((q, i) => {
        same(db.query(q, k, { mode: 'exact' }), exact[i], `${f} exact q${i}`);
        same(db.query(q, k), auto[i], `${f} default q${i}`);
      });
      compared++;
    } finally {
      db.close();
    }
  }
  assert.ok(compared >= 20, `only ${compared} files compared`);
});

test('an indexed store written by the CLI: HNSW answers and filters equal the CLI', () => {
  const file = path.join(tmp, 'idx.rvf');
  const dim = 32, n = 3000;
  const vs = queries(n, dim, 42);
  const rows = vs.map((v, i) => JSON.stringify({ id: i + 1, vector: Array.from(v), metadata: { 0: i % 7, 1: `t${i % 3}` } }));
  fs.writeFileSync(path.join(tmp, 'in.jsonl'), rows.join('\n') + '\n');
  execFileSync(CLI, ['create', file, '--dimension', String(dim), '--metric', 'cosine'], { stdio: 'pipe' });
  execFileSync(CLI, ['ingest', file, '-i', path.join(tmp, 'in.jsonl'), '--format', 'jsonl'], { stdio: 'pipe' });
  execFileSync(CLI, ['index', file], { stdio: 'pipe' });
  const db = rvf.openBuffer(fs.readFileSync(file));
  try {
    const qs = queries(20, dim, 7);
    const auto = cli(file, qs, 10, ['--ef-search', '48']);
    const filt = '{"eq":{"field":0,"value":3}}';
    const withF = cli(file, qs, 10, ['--filter', filt]);
    qs.forEach((q, i) => {
      same(db.query(q, 10, { efSearch: 48 }), auto[i], `hnsw q${i}`);
      same(db.query(q, 10, { filter: JSON.parse(filt) }), withF[i], `filter q${i}`);
    });
    assert.deepEqual(db.metadata(22), { 0: 21 % 7, 1: 't0' });
    assert.equal(db.metadata(999999), null);
  } finally {
    db.close();
  }
});

// The exact scan runs the SIMD128 kernels (distance_wasm128.c): top-k must
// equal the native CLI's for every metric, with dimensions that exercise
// every tail (dim % 8 of 0..7) and the 4-row blocks' short last block.
test('the SIMD128 scan equals the CLI for l2, inner product and cosine, every tail', () => {
  assert.equal(rvf.simd, 'wasm128', 'rvf.wasm does not use its SIMD128 kernels');
  let compared = 0;
  for (const metric of ['l2', 'ip', 'cosine']) {
    for (const dim of [1, 3, 4, 7, 8, 13, 16, 21]) {
      const file = path.join(tmp, `simd-${metric}-${dim}.rvf`);
      const n = 203; // 50 blocks of 4 and a short one
      const rows = queries(n, dim, 1000 + dim).map((v, i) => JSON.stringify({ id: i + 1, vector: Array.from(v) }));
      fs.writeFileSync(path.join(tmp, 'simd.jsonl'), rows.join('\n') + '\n');
      execFileSync(CLI, ['create', file, '--dimension', String(dim), '--metric', metric], { stdio: 'pipe' });
      execFileSync(CLI, ['ingest', file, '-i', path.join(tmp, 'simd.jsonl'), '--format', 'jsonl'], { stdio: 'pipe' });
      const qs = queries(4, dim, 77 + dim);
      const want = cli(file, qs, 10, ['--exact']);
      const db = rvf.openBuffer(fs.readFileSync(file));
      try {
        qs.forEach((q, i) => same(db.query(q, 10, { mode: 'exact' }), want[i], `${metric} dim ${dim} q${i}`));
        compared++;
      } finally {
        db.close();
      }
    }
  }
  assert.equal(compared, 24);
});

test('a COW branch is refused: its parent is a file, bytes must not open files', () => {
  const parent = path.join(tmp, 'p.rvf'), child = path.join(tmp, 'c.rvf');
  fs.copyFileSync(path.join(CORPUS, 'basic_store.rvf'), parent);
  execFileSync(CLI, ['derive', parent, child], { stdio: 'pipe' });
  assert.throws(() => rvf.openBuffer(fs.readFileSync(child)),
    (err) => err instanceof RvfError && /COW branch/.test(err.message));
  // lineage only (--empty) is a plain file: it opens
  const lin = path.join(tmp, 'l.rvf');
  execFileSync(CLI, ['derive', '--empty', parent, lin], { stdio: 'pipe' });
  rvf.openBuffer(fs.readFileSync(lin)).close();
});

test('hostile and wrong input gives errors, never a crash', () => {
  const good = fs.readFileSync(path.join(CORPUS, 'basic_store.rvf'));
  assert.throws(() => rvf.openBuffer(new Uint8Array(0)), RvfError);
  assert.throws(() => rvf.openBuffer(new Uint8Array(100).fill(0x52)), RvfError);
  // every truncation point of the first 4 KiB and a sample after: open or a clear error
  for (let cut = 0; cut < good.length; cut += cut < 4096 ? 97 : 4099) {
    try { rvf.openBuffer(good.subarray(0, cut)).close(); } catch (e) { assert.ok(e instanceof RvfError, `cut ${cut}: ${e}`); }
  }
  // byte flips across the file
  for (let i = 0; i < 300; i++) {
    const b = Uint8Array.from(good);
    const at = (i * 2654435761) % b.length;
    b[at] ^= 0x5a;
    try {
      const db = rvf.openBuffer(b);
      db.query(new Float32Array(db.dimension), 3);
      db.close();
    } catch (e) { assert.ok(e instanceof RvfError, `flip at ${at}: ${e}`); }
  }
  const db = rvf.openBuffer(good);
  assert.throws(() => db.query(new Float32Array(db.dimension + 1), 3), /dimensions/);
  assert.throws(() => db.query(new Float32Array(db.dimension), 3, { filter: '{"eq":' }), RvfError);
  assert.throws(() => db.query(new Float32Array(db.dimension), -1), RvfError);
  assert.deepEqual(db.query(new Float32Array(db.dimension), 0), []);
  // argument checks an outside attack found missing (k wrapped in the i32
  // call, 'toString' passed as a mode, text after a NUL ignored)
  const z = new Float32Array(db.dimension);
  assert.throws(() => db.query(z, 2 ** 32 + 3), RvfError);
  assert.throws(() => db.query(z, 3, { mode: 'toString' }), RvfError);
  assert.throws(() => db.query(z, 3, { efSearch: -1 }), RvfError);
  assert.throws(() => db.query(z, 3, { filter: '{"eq":{"field":0,"value":1}}\u0000junk' }), RvfError);
  assert.throws(() => db.metadata('abc'), RvfError);
  // numbers as the Node binding: integers in range, never truncated
  for (const k of [NaN, 1.5, Infinity, -0.5]) assert.throws(() => db.query(z, k), RvfError, `k ${k}`);
  for (const ef of [0, NaN, 1.5, 2 ** 32, 1e6 + 1, Infinity])
    assert.throws(() => db.query(z, 3, { efSearch: ef }), /efSearch must be an integer in 1\.\.1000000/, `efSearch ${ef}`);
  assert.equal(db.query(z, 3, { efSearch: 1 }).length, 3);
  assert.equal(db.query(z, 3, { efSearch: undefined }).length, 3);
  // filter '': an error, as `rvf query --filter ''` and the Node binding (absent: no filter)
  assert.throws(() => db.query(z, 3, { filter: '' }), (e) => e instanceof RvfError && /Invalid filter JSON/.test(e.message));
  assert.throws(() => execFileSync(CLI, ['query', path.join(CORPUS, 'basic_store.rvf'), '--vector', Array.from(z).join(','), '-k', '3', '--filter', ''],
    { stdio: 'pipe' }), (e) => e.status === 1 && /Invalid filter JSON/.test(String(e.stderr)));
  assert.equal(db.query(z, 3, { filter: null }).length, 3);
  // any view opens by its bytes, not its elements
  const f32 = new Float32Array(good.buffer.slice(good.byteOffset, good.byteOffset + good.byteLength - (good.byteLength % 4)));
  if (f32.byteLength === good.byteLength) rvf.openBuffer(f32).close();
  rvf.openBuffer(new DataView(good.buffer, good.byteOffset, good.byteLength)).close();
  db.close();
  assert.throws(() => db.query(new Float32Array(4), 3), /closed/);
  db.close(); // twice is harmless
});

test('memory is returned: 200 open/query/close cycles do not grow the heap', () => {
  const good = fs.readFileSync(path.join(CORPUS, 'basic_store.rvf'));
  const cycle = () => {
    const db = rvf.openBuffer(good);
    db.query(new Float32Array(db.dimension), 5);
    db.close();
  };
  for (let i = 0; i < 20; i++) cycle();
  const before = rvf.memoryBytes;
  for (let i = 0; i < 200; i++) cycle();
  assert.equal(rvf.memoryBytes, before);
});
