// scenario.mjs — one sequence of RvfDatabase calls, run against a binding
// (ours or the reference @ruvector/rvf-node 0.2.3); every call's outcome is
// recorded under a step name so two runs can be compared step by step.
import fs from 'node:fs';
import path from 'node:path';

// Deterministic exact-f32 data (the interop tests' LCG).
export function rng(seed) {
  let x = BigInt.asUintN(64, BigInt(seed) * 0x9E3779B97F4A7C15n + 1n);
  return () => {
    x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
    return Math.fround(Number(x >> 40n) / 16777216 - 0.5);
  };
}

export function randomVectors(n, dim, seed) {
  const r = rng(seed);
  const a = new Float32Array(n * dim);
  for (let i = 0; i < a.length; i++) a[i] = r();
  return a;
}

export const DIM = 8;
const CATS = ['a', 'b', 'c'];
function meta(ids) {
  const out = [];
  for (const id of ids) {
    out.push({ fieldId: 0, valueType: 'string', value: CATS[id % 3] });
    out.push({ fieldId: 1, valueType: 'u64', value: String(id * 10) });
    out.push({ fieldId: 2, valueType: 'f64', value: String(id / 4) });
  }
  return out;
}

const F = (o) => JSON.stringify(o);
export const FILTERS = {
  eq: F({ op: 'eq', fieldId: 0, valueType: 'string', value: 'a' }),
  range: F({ op: 'range', fieldId: 1, valueType: 'u64', low: '100', high: '250' }),
  in: F({ op: 'in', fieldId: 0, valueType: 'string', values: ['b', 'c'] }),
  and: F({ op: 'and', children: [
    { op: 'eq', fieldId: 0, valueType: 'string', value: 'b' },
    { op: 'gt', fieldId: 2, valueType: 'f64', value: '4' }] }),
  not: F({ op: 'not', child: { op: 'eq', fieldId: 0, valueType: 'string', value: 'a' } }),
  ne: F({ op: 'ne', fieldId: 0, valueType: 'string', value: 'b' }),
  cross: F({ op: 'gt', fieldId: 1, valueType: 'i64', value: '15' }), // u64 field, i64 literal: no match
};

function capture(fn) {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: { name: e.constructor.name, code: e.code, message: String(e.message) } };
  }
}

// The numbers of the args.* steps (README numeric-args).
export const NUM_ARGS = {
  k: [NaN, -1, 1.5, 2 ** 32, Infinity],
  efSearch: [-1, NaN, 0, 2 ** 32],
  timeoutMs: [-1, NaN],
  id: [1.5, NaN, -1, 2 ** 53 + 2],
};

// Runs the scenario with RvfDatabase in dir; returns {steps: Map, files}.
export function runScenario(RvfDatabase, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const P = (f) => path.join(dir, f);
  const steps = new Map();
  const files = { a: P('a.rvf'), child: P('child.rvf'), other: P('other.rvf') };
  const step = (name, fn) => {
    if (steps.has(name)) throw new Error('duplicate step ' + name);
    const r = capture(fn);
    steps.set(name, r);
    return r.ok ? r.value : undefined;
  };
  const q = (i) => randomVectors(1, DIM, 1000 + i);
  const queries = (db, label, opts) => {
    for (let i = 0; i < 3; i++) step(`${label}.q${i}`, () => db.query(q(i), 10, opts));
  };
  const fsize = () => fs.statSync(files.a).size;

  // ---- create, ingest with metadata, query, filters -----------------------
  const db = step('create', () => RvfDatabase.create(files.a, { dimension: DIM, metric: 'cosine' }));
  step('create.status', () => ({ ...db.status(), actualSize: fsize() }));
  step('create.dimension', () => db.dimension());
  step('create.metric', () => db.metric());
  step('create.lineage', () => ({ depth: db.lineageDepth(), parent: db.parentId(),
    idShape: /^[0-9a-f]{32}$/.test(db.fileId()) }));
  const ids1 = Array.from({ length: 30 }, (_, i) => i + 1);
  step('ingest.1', () => db.ingestBatch(randomVectors(30, DIM, 1), ids1, meta(ids1)));
  const ids2 = [...Array.from({ length: 10 }, (_, i) => i + 31), 5, 6]; // 5, 6: upserts
  step('ingest.2', () => db.ingestBatch(randomVectors(12, DIM, 2), ids2, meta(ids2)));
  step('ingest.empty', () => db.ingestBatch(new Float32Array(0), []));
  queries(db, 'query');
  for (const [k, f] of Object.entries(FILTERS)) step(`filter.${k}`, () => db.query(q(0), 50, { filter: f }));
  step('query.k0', () => db.query(q(0), 0));
  step('query.kall', () => db.query(q(0), 1000));
  step('query.ef', () => db.query(q(1), 5, { efSearch: 10, timeoutMs: 0 }));
  step('ingest.status', () => ({ ...db.status(), actualSize: fsize() }));

  // ---- delete, delete by filter, compact -----------------------------------
  step('delete', () => db.delete([3, 4, 999]));
  step('deleteByFilter', () => db.deleteByFilter(FILTERS.and));
  step('deleteByFilter.none', () => db.deleteByFilter(F({ op: 'eq', fieldId: 0, valueType: 'string', value: 'zz' })));
  queries(db, 'deleted');
  step('deleted.status', () => ({ ...db.status(), actualSize: fsize() }));
  const before = fsize();
  step('compact', () => ({ ...db.compact(), shrunkBy: before - fsize() }));
  step('compact.status', () => ({ ...db.status(), actualSize: fsize() }));
  queries(db, 'compacted');
  step('compacted.filter', () => db.query(q(0), 50, { filter: FILTERS.eq }));

  // ---- embedded programs -----------------------------------------------------
  const prog = Buffer.from('bytecode-of-eight-insns-0123456789abcdef0123456789abcdef'.slice(0, 64));
  const btf = Buffer.from([0x9f, 0xeb, 1, 0, 24, 0, 0, 0]);
  step('embedEbpf', () => typeof db.embedEbpf(1, 2, DIM, prog, btf));
  step('extractEbpf', () => {
    const e = db.extractEbpf();
    return { header: e.header.toString('hex'), payload: e.payload.toString('hex') };
  });
  step('embedKernel', () => typeof db.embedKernel(0, 1, 0x11, Buffer.from('MZ-kernel-image'), 8080, 'console=ttyS0 quiet'));
  step('embedKernel.2', () => typeof db.embedKernel(1, 2, 0, Buffer.from('second'), 9090));
  step('extractKernel', () => {
    const k = db.extractKernel();
    return { header: k.header.toString('hex'), image: k.image.toString('latin1') };
  });
  step('programs.status', () => ({ ...db.status(), actualSize: fsize() }));
  step('segments', () => db.segments());

  // ---- lineage ---------------------------------------------------------------
  const child = step('derive', () => db.derive(files.child));
  step('derive.lineage', () => ({ depth: child.lineageDepth(), parentIsParent: child.parentId() === db.fileId(),
    differs: child.fileId() !== db.fileId(), dim: child.dimension(), metric: child.metric() }));
  step('derive.status', () => child.status());
  step('derive.query', () => child.query(q(0), 5));
  step('derive.ingest', () => child.ingestBatch(randomVectors(2, DIM, 7), [100, 101]));
  step('derive.close', () => child.close());
  step('derive.exists', () => db.derive(files.child));

  // ---- errors on an open store ----------------------------------------------
  step('err.query.dim', () => db.query(new Float32Array(DIM - 1), 5));
  step('err.query.array', () => db.query([1, 2, 3], 5));
  step('err.query.k', () => db.query(q(0), '3'));
  step('err.query.filterjson', () => db.query(q(0), 5, { filter: '{' }));
  step('err.query.filterop', () => db.query(q(0), 5, { filter: '{"op":"xx"}' }));
  step('err.query.filterobj', () => db.query(q(0), 5, { filter: { op: 'eq' } }));
  step('err.ingest.divisible', () => db.ingestBatch(new Float32Array(DIM + 1), [1, 2]));
  step('err.ingest.ids', () => db.ingestBatch(new Float32Array(DIM), 7));
  step('err.ingest.metatype', () => db.ingestBatch(new Float32Array(DIM), [50], [{ fieldId: 0, valueType: 'zz', value: '1' }]));
  step('err.ingest.metavalue', () => db.ingestBatch(new Float32Array(DIM), [50], [{ fieldId: 1, valueType: 'u64', value: 'x' }]));
  step('err.ingest.metamissing', () => db.ingestBatch(new Float32Array(DIM), [50], [{ fieldId: 1, valueType: 'u64' }]));
  step('err.delete.notarray', () => db.delete('3'));
  step('err.deleteByFilter.json', () => db.deleteByFilter('nope'));
  step('err.embedKernel.image', () => db.embedKernel(0, 1, 2, 'not-a-buffer', 80));
  step('err.open.locked', () => RvfDatabase.open(files.a));
  step('err.create.exists', () => RvfDatabase.create(files.a, { dimension: DIM }));
  step('err.create.noopts', () => RvfDatabase.create(files.other));
  step('err.create.dim0', () => RvfDatabase.create(files.other, { dimension: 0 }));
  step('err.create.dimstr', () => RvfDatabase.create(files.other, { dimension: '4' }));
  step('err.create.metric', () => RvfDatabase.create(files.other, { dimension: 4, metric: 'dot' }));
  step('err.create.compression', () => RvfDatabase.create(files.other, { dimension: 4, compression: 'zip' }));
  step('err.create.path', () => RvfDatabase.create(5, { dimension: 4 }));
  step('err.open.missing', () => RvfDatabase.open(P('missing.rvf')));
  step('err.openReadonly.missing', () => RvfDatabase.openReadonly(P('missing.rvf')));
  step('err.new', () => new RvfDatabase());
  // rows of another dimension are rejected, not an error
  step('ingest.wrongdim', () => db.ingestBatch(new Float32Array(2 * (DIM + 1)), [60, 61]));
  step('close', () => db.close());

  // ---- closed handle -----------------------------------------------------------
  for (const m of ['status', 'segments', 'fileId', 'dimension', 'extractEbpf', 'compact', 'close'])
    step(`closed.${m}`, () => db[m]());
  step('closed.query', () => db.query(q(0), 1));
  step('closed.ingest', () => db.ingestBatch(new Float32Array(DIM), [1]));

  // ---- reopen ----------------------------------------------------------------------
  const re = step('reopen', () => RvfDatabase.open(files.a));
  step('reopen.status', () => ({ ...re.status(), actualSize: fsize() }));
  step('reopen.metric', () => re.metric());
  queries(re, 'reopened');
  step('reopened.filter', () => re.query(q(0), 50, { filter: FILTERS.eq }));
  step('reopened.extractEbpf', () => {
    const e = re.extractEbpf();
    return { header: e.header.toString('hex'), payload: e.payload.toString('hex') };
  });
  step('reopened.extractKernel', () => {
    const k = re.extractKernel();
    return { header: k.header.toString('hex'), image: k.image.toString('latin1') };
  });
  step('reopened.segments', () => re.segments());
  step('reopened.ingest', () => re.ingestBatch(randomVectors(1, DIM, 9), [200]));
  step('reopened.close', () => re.close());
  const ro = step('openReadonly', () => RvfDatabase.openReadonly(files.a));
  step('readonly.status', () => ({ ...ro.status(), actualSize: fsize() }));
  queries(ro, 'readonly');
  step('readonly.ingest', () => ro.ingestBatch(new Float32Array(DIM), [300]));
  step('readonly.delete', () => ro.delete([1]));
  step('readonly.compact', () => ro.compact());
  step('readonly.embedEbpf', () => ro.embedEbpf(1, 2, DIM, prog));
  step('readonly.close', () => ro.close());
  const ch = step('child.reopen', () => RvfDatabase.openReadonly(files.child));
  step('child.lineage', () => ({ depth: ch.lineageDepth(), parentIsParent: ch.parentId() === re_fileId(RvfDatabase, files.a) }));
  step('child.query', () => ch.query(q(0), 5));
  step('child.close', () => ch.close());

  // ---- numbers the reference coerces (README numeric-args, duplicate-ids) --
  // on a store of their own: the reference writes what it coerced
  const nd = step('args.create', () => RvfDatabase.create(P('num.rvf'), { dimension: 2 }));
  step('args.ingest', () => nd.ingestBatch(new Float32Array([1, 0, 0, 1, 1, 1, 2, 2]), [1, 2, 3, 4]));
  const nq = new Float32Array([1, 0]);
  for (const k of NUM_ARGS.k) step(`args.k.${k}`, () => nd.query(nq, k));
  for (const ef of NUM_ARGS.efSearch) step(`args.efSearch.${ef}`, () => nd.query(nq, 2, { efSearch: ef }));
  for (const t of NUM_ARGS.timeoutMs) step(`args.timeoutMs.${t}`, () => nd.query(nq, 2, { timeoutMs: t }));
  step('args.filter.empty', () => nd.query(nq, 2, { filter: '' }));
  // any ArrayBufferView: exactly the bytes it covers, in both
  const back = new Uint8Array([9, 9, 1, 2, 3, 4, 9, 9]);
  step('args.view.kernel', () => {
    nd.embedKernel(1, 0, 0, new DataView(back.buffer, 2, 4), 8080);
    return [...nd.extractKernel().image];
  });
  step('args.view.ebpf', () => {
    nd.embedEbpf(1, 0, 2, new Uint16Array(back.buffer, 2, 2), new Float64Array([1]));
    return [...nd.extractEbpf().payload];
  });
  for (const id of NUM_ARGS.id) step(`args.id.${id}`, () => nd.ingestBatch(new Float32Array([5, 5]), [id]));
  step('args.delete.1.5', () => nd.delete([1.5]));
  step('args.dupIds', () => nd.ingestBatch(new Float32Array([7, 7, 8, 8]), [100, 100]));
  step('args.close', () => nd.close());
  step('args.dimension.1.5', () => {
    const d = RvfDatabase.create(P('frac.rvf'), { dimension: 1.5 });
    try { return d.dimension(); } finally { d.close(); }
  });
  return { steps, files };
}

function re_fileId(RvfDatabase, file) {
  const h = RvfDatabase.openReadonly(file);
  try { return h.fileId(); } finally { h.close(); }
}
