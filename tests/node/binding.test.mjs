// binding.test.mjs — our Node binding on its own: the Promise variants, the
// fixes the parity scenario does not reach (README "Further fixes"), and
// that misuse gives errors, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { randomVectors } from './scenario.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { RvfDatabase } = require(path.join(ROOT, 'bindings', 'node'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rvf-node-binding-'));
const P = (f) => path.join(tmp, f);
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const rvfErr = (prefix) => (e) => e.code === 'GenericFailure' && e.message.startsWith(prefix);

function exactTopK(vecs, dim, q, k) {
  const d = [];
  for (let i = 0; i < vecs.length / dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) { const x = Math.fround(vecs[i * dim + j] - q[j]); s = Math.fround(s + Math.fround(x * x)); }
    d.push([s, i + 1]);
  }
  return d.sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k).map((x) => x[1]);
}

test('Promise variants give the synchronous results, off the JS thread', async () => {
  const db = RvfDatabase.create(P('async.rvf'), { dimension: 16 });
  const n = 3000, vecs = randomVectors(n, 16, 11), ids = Array.from({ length: n }, (_, i) => i + 1);
  let ticked = false;
  setImmediate(() => { ticked = true; });
  const p = db.ingestBatchAsync(vecs, ids);
  assert.ok(p instanceof Promise);
  vecs.fill(0); // the call works on its own copy
  assert.deepStrictEqual(await p, { accepted: n, rejected: 0, epoch: 1 });
  ticked = false;
  setImmediate(() => { ticked = true; });
  await db.buildIndexAsync({ m: 8, efConstruction: 64 });
  assert.ok(ticked, 'the event loop ran while the index was built');
  const q = randomVectors(1, 16, 99);
  assert.deepStrictEqual(await db.queryAsync(q, 10), db.query(q, 10));
  assert.notEqual(db.query(q, 1)[0].distance, 0); // the copied rows, not the zeroed array
  assert.deepStrictEqual(await db.deleteAsync([1, 2, 99999]), { deleted: 2, epoch: 3 });
  const c = await db.compactAsync();
  assert.equal(c.segmentsCompacted, 2);
  await assert.rejects(db.queryAsync(new Float32Array(3), 1), rvfErr('RVF error 0x0200: DimensionMismatch'));
  await assert.rejects(db.deleteByFilterAsync('{"op":"x"}'), /Unknown filter op 'x'/); // rejects, never throws
  await assert.rejects(db.queryAsync([1, 2], 1), (e) => e.code === 'InvalidArg');
  // close() waits for calls in flight; the ones queued after it reject
  const pending = [db.queryAsync(q, 5), db.ingestBatchAsync(randomVectors(1, 16, 5), [5])];
  db.close();
  for (const r of await Promise.allSettled(pending)) {
    if (r.status === 'rejected') assert.equal(r.reason.message, 'Store is closed');
  }
  await assert.rejects(db.queryAsync(q, 1), (e) => e.message === 'Store is closed');
});

test('the index is built when asked (not by the first query) and persisted; read-only handles load it', () => {
  const dim = 16, n = 3000, vecs = randomVectors(n, dim, 21);
  const db = RvfDatabase.create(P('index.rvf'), { dimension: dim, m: 8, efConstruction: 32 });
  db.ingestBatch(vecs, Array.from({ length: n }, (_, i) => i + 1));
  assert.equal(db.indexStats().indexedVectors, 0); // no index below the AUTO threshold
  db.buildIndex();
  const st = db.indexStats();
  assert.equal(st.indexedVectors, n);
  assert.equal(st.m, 8);
  assert.ok(st.layers >= 1);
  db.close();
  const ro = RvfDatabase.openReadonly(P('index.rvf'));
  assert.deepStrictEqual(ro.indexStats(), st); // loaded at open, before any query
  // efSearch is used as given (the reference raises it to 256)
  const recall = (ef) => {
    let hit = 0;
    for (let i = 0; i < 40; i++) {
      const q = randomVectors(1, dim, 500 + i);
      const want = new Set(exactTopK(vecs, dim, q, 10));
      hit += ro.query(q, 10, { efSearch: ef }).filter((h) => want.has(h.id)).length;
    }
    return hit / 400;
  };
  const low = recall(10), high = recall(400);
  assert.ok(high >= 0.97, `recall at efSearch 400: ${high}`);
  assert.ok(low < high, `efSearch 10 (${low}) searched as much as 400 (${high})`);
  ro.close();
});

test('metadata: per-row split, rejected rows do not shift it, persisted', () => {
  const db = RvfDatabase.create(P('meta.rvf'), { dimension: 2 });
  const m = (v) => ({ fieldId: 0, valueType: 'u64', value: String(v) });
  // row 2 (NaN) is rejected; row 3 keeps its own metadata
  const r = db.ingestBatch(new Float32Array([1, 0, NaN, 0, 0, 1]), [1, 2, 3], [m(10), m(20), m(30)]);
  assert.deepStrictEqual(r, { accepted: 2, rejected: 1, epoch: 1 });
  const eq = (v) => db.query(new Float32Array([0, 0]), 10, { filter: JSON.stringify({ op: 'eq', fieldId: 0, valueType: 'u64', value: String(v) }) }).map((h) => h.id);
  assert.deepStrictEqual(eq(30), [3]);
  assert.deepStrictEqual(eq(20), []);
  // per-row arrays
  db.ingestBatch(new Float32Array([2, 2, 3, 3]), [4, 5], [[m(40), { fieldId: 1, valueType: 'string', value: 'x' }], []]);
  assert.deepStrictEqual(eq(40), [4]);
  assert.throws(() => db.ingestBatch(new Float32Array([1, 1, 2, 2]), [6, 7], [m(1), m(2), m(3)]),
    (e) => e.code === 'GenericFailure' && /multiple of ids length/.test(e.message));
  assert.throws(() => db.ingestBatch(new Float32Array([1, 1]), [6], [{ fieldId: 70000, valueType: 'u64', value: '1' }]),
    /fieldId 70000/);
  db.close();
  const ro = RvfDatabase.openReadonly(P('meta.rvf'));
  assert.deepStrictEqual(ro.query(new Float32Array([0, 0]), 10, { filter: '{"op":"eq","fieldId":1,"valueType":"string","value":"x"}' }).map((h) => h.id), [4]);
  ro.close();
});

test('options out of range are refused (the reference wraps them)', () => {
  assert.throws(() => RvfDatabase.create(P('d.rvf'), { dimension: 70000 }), rvfErr('RVF error 0x0105: InvalidManifest'));
  assert.throws(() => RvfDatabase.create(P('d.rvf'), { dimension: -1 }), rvfErr('RVF error 0x0105: InvalidManifest'));
  assert.throws(() => RvfDatabase.create(P('d.rvf'), { dimension: 4, profile: 300 }), rvfErr('RVF error 0x0105: InvalidManifest'));
  assert.ok(!fs.existsSync(P('d.rvf')));
  const db = RvfDatabase.create(P('p.rvf'), { dimension: 4, metric: 'ip', profile: 3 });
  assert.throws(() => db.derive(P('c.rvf'), { dimension: 7 }), rvfErr('RVF error 0x0602: LineageBroken'));
  const c = db.derive(P('c.rvf'), { dimension: 4, metric: 'inner_product' });
  assert.equal(c.metric(), 'inner_product');
  assert.equal(c.status().profileId, 3);
  c.close();
  db.close();
});

test('freeze() is persisted: the reopened file refuses writes', () => {
  const db = RvfDatabase.create(P('f.rvf'), { dimension: 2 });
  db.ingestBatch(new Float32Array([1, 2]), [1]);
  assert.equal(db.freeze(), 1);
  assert.throws(() => db.ingestBatch(new Float32Array([1, 2]), [2]), rvfErr('RVF error 0x0305: ReadOnly'));
  db.close();
  const re = RvfDatabase.open(P('f.rvf'));
  assert.throws(() => re.delete([1]), rvfErr('RVF error 0x0305: ReadOnly'));
  assert.equal(re.query(new Float32Array([1, 2]), 1)[0].id, 1);
  re.close();
});

test('branch() reads through to its parent; derive() starts empty', () => {
  const db = RvfDatabase.create(P('par.rvf'), { dimension: 2 });
  db.ingestBatch(new Float32Array([0, 0, 1, 1]), [1, 2]);
  const b = db.branch(P('br.rvf'));
  const d = db.derive(P('dv.rvf'));
  assert.deepStrictEqual(b.query(new Float32Array([0, 0]), 5).map((h) => h.id), [1, 2]);
  assert.deepStrictEqual(d.query(new Float32Array([0, 0]), 5), []);
  assert.equal(b.lineageDepth(), 1);
  assert.equal(b.parentId(), db.fileId());
  b.close(); d.close(); db.close();
});

test('misuse throws, never crashes', () => {
  const db = RvfDatabase.create(P('m.rvf'), { dimension: 2 });
  const bad = [
    () => db.query(new Float64Array(2), 1),
    () => db.query(new Float32Array(2)),
    () => db.query(new Float32Array(2), 1, { efSearch: 'x' }),
    () => db.ingestBatch(new Float32Array(2), [{}]),
    () => db.ingestBatch(new Float32Array(2), [1], [null]),
    () => db.ingestBatch(new Float32Array(2), [1], 'meta'),
    () => db.embedEbpf(1, 2, 3),
    () => db.embedKernel(),
    () => db.derive(),
    () => db.deleteByFilter(),
    () => RvfDatabase.create(P('n\0ul.rvf'), { dimension: 2 }),
    () => RvfDatabase.prototype.status.call({}),
    () => RvfDatabase.open(P('m.rvf')),
  ];
  for (const f of bad) assert.throws(f, (e) => e instanceof Error && typeof e.message === 'string' && e.message.length > 0);
  assert.deepStrictEqual(db.query(new Float32Array(2), 4294967295), []); // huge k on an empty store
  assert.equal(db.extractKernel(), null);
  assert.equal(db.extractEbpf(), null);
  db.close();
  assert.throws(() => db.close(), (e) => e.message === 'Store is already closed');
});

test('a handle that is never closed releases its lock when collected', { skip: !global.gc && 'needs --expose-gc' }, async () => {
  (() => { RvfDatabase.create(P('gc.rvf'), { dimension: 2 }); })();
  for (let i = 0; i < 5; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
  const db = RvfDatabase.open(P('gc.rvf'));
  db.close();
});

test('index.d.ts declares exactly the methods the addon has', () => {
  const dts = fs.readFileSync(path.join(ROOT, 'bindings', 'node', 'index.d.ts'), 'utf8');
  const cls = dts.slice(dts.indexOf('export declare class RvfDatabase'));
  const declared = new Set([...cls.matchAll(/^\s+(?:static )?([a-zA-Z]+)\(/gm)].map((m) => m[1]));
  const actual = new Set([...Object.getOwnPropertyNames(RvfDatabase.prototype), 'create', 'open', 'openReadonly']);
  actual.delete('constructor');
  assert.deepStrictEqual([...declared].sort(), [...actual].sort());
});

test('damaged files give errors (or the previous commit), never a crash', () => {
  const src = P('good.rvf');
  const db = RvfDatabase.create(src, { dimension: 4 });
  db.ingestBatch(randomVectors(20, 4, 3), Array.from({ length: 20 }, (_, i) => i + 1),
    Array.from({ length: 20 }, (_, i) => ({ fieldId: 0, valueType: 'u64', value: String(i) })));
  db.embedKernel(0, 1, 0, Buffer.from('kernel'), 80, 'x');
  db.embedEbpf(1, 2, 4, Buffer.alloc(16, 0x95));
  db.delete([3]);
  db.close();
  const good = fs.readFileSync(src);
  let errors = 0, opened = 0;
  for (let i = 0; i < 60; i++) {
    const bad = Buffer.from(good);
    const pos = Math.floor((i * 7919) % bad.length);
    if (i % 3 === 2) bad.fill(0xff, pos, Math.min(bad.length, pos + 16)); else bad[pos] ^= 0x5a;
    const f = P(`bad${i}.rvf`);
    fs.writeFileSync(f, i % 5 === 4 ? bad.subarray(0, pos) : bad);
    try {
      const h = RvfDatabase.openReadonly(f);
      opened++;
      try {
        h.status(); h.segments(); h.query(new Float32Array(4), 5);
        h.query(new Float32Array(4), 5, { filter: '{"op":"ge","fieldId":0,"valueType":"u64","value":"3"}' });
        h.extractKernel(); h.extractEbpf();
      } catch (e) {
        assert.equal(e.code, 'GenericFailure', e.message);
        errors++;
      } finally {
        h.close();
      }
    } catch (e) {
      assert.equal(e.code, 'GenericFailure', e.message);
      assert.match(e.message, /^RVF error 0x0[0-9a-f]{3}: /);
      errors++;
    }
  }
  assert.ok(errors > 0 && opened > 0, `errors ${errors}, opened ${opened}`);
});

test('process.exit while a Promise call runs: no crash, the store opens after', async () => {
  const { spawnSync } = await import('node:child_process');
  const f = P('exit.rvf');
  const script = `const { RvfDatabase } = require(${JSON.stringify(path.join(ROOT, 'bindings', 'node'))});
    const db = RvfDatabase.create(${JSON.stringify(f)}, { dimension: 64 });
    const v = new Float32Array(64 * 20000).map((_, i) => Math.sin(i));
    db.ingestBatchAsync(v, Array.from({ length: 20000 }, (_, i) => i));
    setImmediate(() => process.exit(3));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: process.env });
  assert.equal(r.status, 3, r.stderr);
  const db = RvfDatabase.openReadonly(f);
  assert.ok([0, 20000].includes(db.status().totalVectors)); // the commit happened whole or not at all
  db.close();
});

test('a getter that resizes or transfers the vectors\' buffer mid-call gives an error, never freed memory', async () => {
  // found by an outside attack: the data pointer was taken before ids,
  // metadata and options were read (user getters run there) -> SIGSEGV
  const dim = 1024, n = 64;
  const db = RvfDatabase.create(P('uaf.rvf'), { dimension: dim });
  try {
    const fresh = () => new ArrayBuffer(n * dim * 4, { maxByteLength: n * dim * 4 });
    let buf = fresh();
    const ids = [...Array(n).keys()];
    Object.defineProperty(ids, 1, { get() { buf.resize(0); return 1; } });
    assert.throws(() => db.ingestBatch(new Float32Array(buf).fill(2), ids), (e) => e.code === 'InvalidArg' && /changed size/.test(e.message));
    buf = fresh();
    const v = new Float32Array(buf, 0, dim).fill(1);
    const opts = { get efSearch() { buf.resize(0); return 10; } };
    assert.throws(() => db.query(v, 3, opts), (e) => e.code === 'InvalidArg');
    buf = fresh();
    const w = new Float32Array(buf, 0, dim).fill(1);
    const opts2 = { get efSearch() { structuredClone(buf, { transfer: [buf] }); return 10; } };
    await assert.rejects(db.queryAsync(w, 3, opts2), (e) => e.code === 'InvalidArg');
    assert.equal(db.status().totalVectors, 0, 'nothing was written');
  } finally {
    db.close();
  }
});

// README "numeric-args" / "duplicate-ids": the reference coerces these
// numbers (k NaN -> [], -1 -> everything, 1.5 -> 1; ids 1.5 -> 1, NaN -> 0;
// a repeated id overwrites the earlier row and is counted twice); ours
// throws InvalidArg and writes nothing.
test('numbers are integers in range or InvalidArg, never truncated or wrapped', async () => {
  const db = RvfDatabase.create(P('num.rvf'), { dimension: 2 });
  db.ingestBatch(new Float32Array([1, 0, 0, 1, 1, 1]), [1, 2, 3]);
  const q = new Float32Array([1, 0]);
  const invalid = (what) => (e) => e.code === 'InvalidArg' && e.message.startsWith(what + ' must be an integer in');
  for (const k of [NaN, -1, 1.5, 2 ** 32, Infinity, -Infinity, -0.5]) {
    assert.throws(() => db.query(q, k), invalid('k'), `k ${k}`);
    await assert.rejects(db.queryAsync(q, k), invalid('k'), `async k ${k}`);
  }
  for (const ef of [-1, NaN, 0, 1.5, 2 ** 32, 1e6 + 1, Infinity])
    assert.throws(() => db.query(q, 2, { efSearch: ef }), invalid('RvfQueryOptions.efSearch'), `efSearch ${ef}`);
  for (const t of [-1, NaN, 1.5, Infinity, 2 ** 32])
    assert.throws(() => db.query(q, 2, { timeoutMs: t }), invalid('RvfQueryOptions.timeoutMs'), `timeoutMs ${t}`);
  const epoch = db.status().currentEpoch;
  for (const id of [1.5, NaN, -1, -0.5, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Infinity]) {
    assert.throws(() => db.ingestBatch(new Float32Array([5, 5]), [id]), invalid('id'), `ingest id ${id}`);
    assert.throws(() => db.delete([id]), invalid('id'), `delete id ${id}`);
  }
  assert.throws(() => db.ingestBatch(new Float32Array([7, 7, 8, 8, 9, 9]), [100, 101, 100]),
    (e) => e.code === 'InvalidArg' && /100 appears twice in one batch \(rows 0 and 2\)/.test(e.message));
  await assert.rejects(db.ingestBatchAsync(new Float32Array([7, 7, 8, 8]), [5, 5]), (e) => e.code === 'InvalidArg');
  assert.equal(db.status().currentEpoch, epoch, 'a refused call wrote');
  assert.equal(db.status().totalVectors, 3);
  assert.throws(() => db.buildIndex({ m: -1 }), invalid('m'));
  assert.throws(() => db.buildIndex({ efConstruction: 1.5 }), invalid('efConstruction'));
  // the edges that are values: k 0 and 2^32-1, efSearch 1 and 10^6, timeout 0, id 0 and 2^53-1
  assert.deepStrictEqual(db.query(q, 0), []);
  assert.equal(db.query(q, 2 ** 32 - 1, { efSearch: 1e6, timeoutMs: 0 }).length, 3);
  assert.equal(db.query(q, 1, { efSearch: 1 }).length, 1);
  assert.deepStrictEqual(db.ingestBatch(new Float32Array([4, 4, 6, 6]), [0, 2 ** 53 - 1]).accepted, 2);
  assert.deepStrictEqual(db.query(new Float32Array([6, 6]), 1).map((h) => h.id), [2 ** 53 - 1]);
  assert.throws(() => db.query(q, '3'), (e) => e.code === 'NumberExpected'); // type errors keep their code
  db.close();
  for (const d of [0, 1.5, 2 ** 32, NaN, Infinity, 65536])
    assert.throws(() => RvfDatabase.create(P('dim.rvf'), { dimension: d }), rvfErr('RVF error 0x0105: InvalidManifest'), `dimension ${d}`);
  for (const o of [{ m: 1.5 }, { m: -1 }, { efConstruction: NaN }])
    assert.throws(() => RvfDatabase.create(P('dim.rvf'), { dimension: 2, ...o }), (e) => e.code === 'InvalidArg', JSON.stringify(o));
  assert.ok(!fs.existsSync(P('dim.rvf')));
});

// As the reference: any ArrayBufferView, exactly the bytes it covers
// (byteOffset .. byteOffset + byteLength), not its elements or its buffer.
test('embedKernel / embedEbpf take exactly the bytes a view covers', () => {
  const back = new Uint8Array([9, 9, 1, 2, 3, 4, 9, 9]);
  const views = [
    ['Buffer from the pool', Buffer.from([1, 2, 3, 4]), [1, 2, 3, 4]],
    ['Uint8Array subarray', back.subarray(2, 6), [1, 2, 3, 4]],
    ['DataView window', new DataView(back.buffer, 2, 4), [1, 2, 3, 4]],
    ['Uint16Array window', new Uint16Array(back.buffer, 2, 2), [1, 2, 3, 4]],
    ['Float64Array', new Float64Array([1]), [0, 0, 0, 0, 0, 0, 240, 63]],
  ];
  for (const [name, v, want] of views) {
    fs.rmSync(P('view.rvf'), { force: true });
    const db = RvfDatabase.create(P('view.rvf'), { dimension: 2 });
    db.embedKernel(1, 0, 0, v, 8080);
    db.embedEbpf(1, 0, 2, v, new DataView(back.buffer, 6, 2));
    assert.deepStrictEqual([...db.extractKernel().image], want, `kernel ${name}`);
    assert.deepStrictEqual([...db.extractEbpf().payload], [...want, 9, 9], `ebpf ${name}`);
    db.close();
  }
  const db = RvfDatabase.open(P('view.rvf'));
  for (const bad of [back.buffer, [1, 2], 'abc'])
    assert.throws(() => db.embedKernel(1, 0, 0, bad, 80), (e) => e.code === 'InvalidArg');
  db.close();
});

// A writer whose file another process truncated or replaced: the commit is
// refused (the store checks the file before appending), nothing is written.
test('a commit after the file was truncated or replaced underneath fails', () => {
  for (const how of ['truncate', 'replace']) {
    const f = P(`under-${how}.rvf`);
    const db = RvfDatabase.create(f, { dimension: 2 });
    db.ingestBatch(new Float32Array([1, 1, 2, 2]), [1, 2]);
    if (how === 'truncate') fs.truncateSync(f, 64);
    else { fs.copyFileSync(f, f + '.new'); fs.renameSync(f + '.new', f); }
    const before = fs.readFileSync(f);
    assert.throws(() => db.ingestBatch(new Float32Array([3, 3]), [3]),
      (e) => e.code === 'GenericFailure' && /another process|removed or replaced/.test(e.message), how);
    assert.throws(() => db.delete([1]), rvfErr('RVF error 0x0305: ReadOnly'), how);
    assert.ok(fs.readFileSync(f).equals(before), `${how}: the refused commit changed the file`);
    db.close();
  }
});
