// rvf.mjs — open an .rvf file from bytes and query it, in any JavaScript
// runtime with WebAssembly (browsers, Node, Deno, edge workers).
//
//   import { loadRvf } from './rvf.mjs';
//   const rvf = await loadRvf(wasmBytes);         // bytes of rvf.wasm
//   const db = rvf.openBuffer(fileBytes);          // ArrayBuffer / Uint8Array
//   db.query(new Float32Array(dim), 10, { efSearch: 64, filter: {...} });
//   db.close();
//
// rvf.wasm needs only a handful of WASI calls and none reaches a file
// system: the shim below answers them (clock, random, stderr), so no
// runtime WASI support is required.

const ERRNO_BADF = 8;
const ERRNO_NOSYS = 52;

function wasiShim(getMemory) {
  const view = () => new DataView(getMemory().buffer);
  const u8 = () => new Uint8Array(getMemory().buffer);
  const dec = new TextDecoder();
  let line = '';
  const nosys = () => ERRNO_NOSYS;
  return {
    environ_get: () => 0,
    environ_sizes_get: (countPtr, sizePtr) => {
      view().setUint32(countPtr, 0, true);
      view().setUint32(sizePtr, 0, true);
      return 0;
    },
    clock_time_get: (id, precision, outPtr) => {
      const ns = typeof performance !== 'undefined'
        ? BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
        : BigInt(Date.now()) * 1000000n;
      view().setBigUint64(outPtr, ns, true);
      return 0;
    },
    random_get: (ptr, len) => {
      const b = u8().subarray(ptr, ptr + len);
      for (let i = 0; i < len; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(len, i + 65536)));
      return 0;
    },
    fd_write: (fd, iovs, iovsLen, nwrittenPtr) => {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      let n = 0;
      for (let i = 0; i < iovsLen; i++) {
        const p = view().getUint32(iovs + 8 * i, true);
        const l = view().getUint32(iovs + 8 * i + 4, true);
        line += dec.decode(u8().subarray(p, p + l));
        n += l;
      }
      let nl;
      while ((nl = line.indexOf('\n')) >= 0) {
        console.error(line.slice(0, nl));
        line = line.slice(nl + 1);
      }
      view().setUint32(nwrittenPtr, n, true);
      return 0;
    },
    fd_close: () => ERRNO_BADF,
    fd_fdstat_get: () => ERRNO_BADF,
    fd_fdstat_set_flags: () => ERRNO_BADF,
    fd_filestat_get: () => ERRNO_BADF,
    fd_pread: () => ERRNO_BADF,
    fd_read: () => ERRNO_BADF,
    fd_readdir: () => ERRNO_BADF, // linked by the (writer-only) compaction temp cleanup
    fd_seek: () => ERRNO_BADF,
    fd_sync: () => ERRNO_BADF,
    fd_prestat_get: () => ERRNO_BADF, // no preopened directories
    fd_prestat_dir_name: () => ERRNO_BADF,
    path_filestat_get: nosys,
    path_open: nosys,
    path_remove_directory: nosys,
    path_unlink_file: nosys,
    proc_exit: (code) => { throw new Error(`rvf.wasm exited with code ${code}`); },
  };
}

export class RvfError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'RvfError';
    this.code = code;
  }
}

const METRICS = ['l2', 'inner_product', 'cosine'];
const MODES = { auto: 0, exact: 1, quantized: 2 };

export async function loadRvf(wasmBytes) {
  let instance;
  const shim = wasiShim(() => instance.exports.memory);
  const mod = await WebAssembly.compile(wasmBytes);
  instance = await WebAssembly.instantiate(mod, { wasi_snapshot_preview1: shim });
  const x = instance.exports;
  x._initialize();
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const mem = () => new Uint8Array(x.memory.buffer);
  // wasm32 pointers come back as signed i32: above 2 GiB they would be
  // negative offsets (found by an outside attack); >>> 0 makes them unsigned
  const cstr = (p) => {
    p >>>= 0;
    const m = mem();
    let e = p;
    while (m[e]) e++;
    return dec.decode(m.subarray(p, e));
  };
  const alloc = (n) => {
    const p = x.malloc(Math.max(n, 1)) >>> 0;
    if (!p) throw new RvfError('out of wasm memory', -2);
    return p;
  };
  const fail = (code) => { throw new RvfError(cstr(x.rvfw_last_error()) || `error ${code}`, code); };
  const takeJson = (p) => {
    p >>>= 0;
    if (!p) fail(-14);
    try { return JSON.parse(cstr(p)); } finally { x.free(p); }
  };

  class RvfStore {
    #h; #buf; #dim;
    constructor(h, buf) {
      this.#h = h;
      this.#buf = buf;
      this.#dim = x.rvfw_dimension(h);
      this.warning = cstr(x.rvfw_open_warning(h));
    }
    #live() {
      if (!this.#h) throw new RvfError('store is closed', -3);
      return this.#h;
    }
    get dimension() { this.#live(); return this.#dim; }
    status() {
      const s = takeJson(x.rvfw_status_json(this.#live()));
      return s;
    }
    get metric() { return this.status().metric; }
    segments() { return takeJson(x.rvfw_segments_json(this.#live())); }
    metadata(id) {
      if (!(typeof id === 'bigint' || Number.isSafeInteger(id)) || id < 0 || BigInt(id) >= 2n ** 64n)
        throw new RvfError(`id must be an integer in 0..2^64-1, got ${String(id)}`, -3);
      const p = x.rvfw_meta_json(this.#live(), BigInt(id)) >>> 0;
      return p ? takeJson(p) : null;
    }
    // -> { ids: BigUint64Array, distances: Float32Array }
    queryRaw(vector, k, opts = {}) {
      const h = this.#live();
      if (!(vector instanceof Float32Array)) vector = Float32Array.from(vector);
      if (vector.length !== this.#dim)
        throw new RvfError(`query has ${vector.length} dimensions, the store ${this.#dim}`, -9);
      if (!Number.isInteger(k) || k < 0 || k > 100000) throw new RvfError(`k must be an integer in 0..100000, got ${String(k)}`, -3);
      if (k === 0) return { ids: new BigUint64Array(0), distances: new Float32Array(0) };
      const modeName = opts.mode ?? 'auto';
      if (!Object.hasOwn(MODES, modeName)) throw new RvfError(`mode must be auto, exact or quantized`, -3);
      const mode = MODES[modeName];
      // efSearch as the Node binding: absent = the store's default (0 in
      // the call), given = an integer in 1..10^6 (0, NaN, -1, 1.5 refused)
      const ef = opts.efSearch ?? 0;
      if (opts.efSearch != null && (!Number.isInteger(ef) || ef < 1 || ef > 1000000))
        throw new RvfError(`efSearch must be an integer in 1..1000000, got ${String(ef)}`, -3);
      // '' is an invalid filter, as for the CLI and the Node binding (absent = none)
      const filter = opts.filter == null ? null
        : typeof opts.filter === 'string' ? opts.filter : JSON.stringify(opts.filter);
      if (filter !== null && filter.includes('\0')) throw new RvfError('filter contains a NUL character', -3);
      const q = alloc(vector.length * 4), ids = alloc(k * 8), dist = alloc(k * 4);
      let fp = 0;
      try {
        new Float32Array(x.memory.buffer, q, vector.length).set(vector);
        if (filter !== null) {
          const b = enc.encode(filter);
          fp = alloc(b.length + 1);
          mem().set(b, fp);
          mem()[fp + b.length] = 0;
        }
        const n = x.rvfw_query(h, q, vector.length, k, ef, fp, mode, ids, dist);
        if (n < 0) fail(n);
        return {
          ids: new BigUint64Array(x.memory.buffer, ids, n).slice(),
          distances: new Float32Array(x.memory.buffer, dist, n).slice(),
        };
      } finally {
        x.free(q); x.free(ids); x.free(dist);
        if (fp) x.free(fp);
      }
    }
    // -> [{ id, distance }] ascending; id is a Number, or a BigInt above 2^53
    query(vector, k, opts = {}) {
      const r = this.queryRaw(vector, k, opts);
      const out = new Array(r.ids.length);
      for (let i = 0; i < out.length; i++) {
        const id = r.ids[i];
        out[i] = { id: id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id, distance: r.distances[i] };
      }
      return out;
    }
    close() {
      if (!this.#h) return;
      x.rvfw_close(this.#h);
      x.free(this.#buf);
      this.#h = 0;
    }
  }

  return {
    metrics: METRICS,
    openBuffer(bytes) {
      // the bytes of any view (a Float32Array or DataView too), not its elements
      const b = bytes instanceof Uint8Array ? bytes
        : ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : new Uint8Array(bytes);
      const p = alloc(b.length);
      let h;
      try {
        mem().set(b, p);
        h = x.rvfw_open(p, b.length) >>> 0;
      } catch (e) {
        x.free(p);
        throw e instanceof RvfError ? e : new RvfError(String(e.message ?? e), -2);
      }
      if (!h) {
        const msg = cstr(x.rvfw_last_error());
        x.free(p);
        throw new RvfError(msg || 'cannot open the buffer', -7);
      }
      return new RvfStore(h, p);
    },
    get memoryBytes() { return x.memory.buffer.byteLength; },
    // the distance kernel in use: 'wasm128' (SIMD128), or 'scalar'
    get simd() { return cstr(x.rvfw_simd()); },
  };
}
