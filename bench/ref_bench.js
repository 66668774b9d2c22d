#!/usr/bin/env node
// ref_bench.js — the reference side of bench/bench_ingest.c: same arguments,
// same JSON lines ("impl":"reference"), using @ruvector/rvf-node (RvfDatabase).
// Installs nothing: bench/run.sh installs the binding into build/bench-node and
// sets NODE_PATH (or pass RVF_NODE_MODULE=/path/to/@ruvector/rvf-node).
// Usage:
//   node ref_bench.js ingest BASE.f32 N DIM STORE BATCH
//   node ref_bench.js query STORE QUERIES.f32 NQ DIM K [TOPK_OUT]
// The query step of the 0.2.3 binding builds an HNSW graph on the first query
// of a read-only handle (>= 1024 vectors); run.sh wraps it in `timeout`.
// Timer: process.hrtime.bigint() (monotonic). Module load is outside the timings.
'use strict';
const fs = require('fs');

const mod = process.env.RVF_NODE_MODULE || '@ruvector/rvf-node';
const { RvfDatabase } = require(mod);

function nowMs() {
	return Number(process.hrtime.bigint()) / 1e6;
}

function loadF32(path, rows, dim) {
	const buf = fs.readFileSync(path);
	const want = rows * dim * 4;
	if (buf.length < want) {
		console.error(`ref_bench: cannot read ${rows} x ${dim} floats from ${path}`);
		process.exit(1);
	}
	// copy into an aligned, owned buffer
	const out = new Float32Array(rows * dim);
	new Uint8Array(out.buffer).set(buf.subarray(0, want));
	return out;
}

function emit(obj) {
	process.stdout.write(JSON.stringify(Object.assign({ impl: 'reference' }, obj)) + '\n');
}

function doIngest(a) {
	if (a.length !== 5) {
		console.error('usage: ref_bench.js ingest BASE.f32 N DIM STORE BATCH');
		process.exit(2);
	}
	const n = parseInt(a[1], 10), dim = parseInt(a[2], 10), store = a[3];
	const batch = parseInt(a[4], 10);
	const vec = loadF32(a[0], n, dim);
	// inputs prepared before the clock starts, as on the C side
	const batches = [];
	for (let off = 0; off < n; off += batch) {
		const m = Math.min(batch, n - off);
		const ids = new Array(m);
		for (let i = 0; i < m; i++) ids[i] = off + i;
		batches.push([vec.subarray(off * dim, (off + m) * dim), ids]);
	}
	let accepted = 0;
	const t0 = nowMs();
	const db = RvfDatabase.create(store, { dimension: dim, metric: 'l2' });
	const tCreate = nowMs();
	for (const [v, ids] of batches) accepted += db.ingestBatch(v, ids).accepted;
	const tIngest = nowMs();
	db.close();
	const tClose = nowMs();
	if (accepted !== n) {
		console.error(`ref_bench: accepted ${accepted} of ${n}`);
		process.exit(1);
	}
	emit({
		step: `ingest_b${batch}`, ms: +(tClose - t0).toFixed(3),
		create_ms: +(tCreate - t0).toFixed(3), ingest_ms: +(tIngest - tCreate).toFixed(3),
		close_ms: +(tClose - tIngest).toFixed(3), n, batches: batches.length,
	});
}

function doQuery(a) {
	if (a.length !== 5 && a.length !== 6) {
		console.error('usage: ref_bench.js query STORE QUERIES.f32 NQ DIM K [TOPK_OUT]');
		process.exit(2);
	}
	const store = a[0], nq = parseInt(a[2], 10), dim = parseInt(a[3], 10);
	const k = parseInt(a[4], 10);
	const q = loadF32(a[1], nq, dim);
	const rows = [];
	for (let i = 0; i < nq; i++) rows.push(q.subarray(i * dim, (i + 1) * dim));

	const t0 = nowMs();
	const db = RvfDatabase.openReadonly(store);
	const tOpen = nowMs();
	const first = db.query(rows[0], k);
	const tFirst = nowMs();
	let idx = null;
	try { idx = db.indexStats(); } catch (e) { /* not essential */ }
	emit({
		step: 'open_first_query', ms: +(tFirst - t0).toFixed(3),
		open_ms: +(tOpen - t0).toFixed(3), first_query_ms: +(tFirst - tOpen).toFixed(3),
		k, hits: first.length,
		index: idx && { indexedVectors: idx.indexedVectors, layers: idx.layers },
	});

	const res = new Array(nq);
	const t1 = nowMs();
	for (let i = 0; i < nq; i++) res[i] = db.query(rows[i], k);
	const t2 = nowMs();
	emit({ step: 'query_mean', ms: +((t2 - t1) / nq).toFixed(4), queries: nq, k });

	if (a.length === 6) {
		const lines = res.map((r, i) => [i].concat(r.map((h) => h.id)).join(' '));
		fs.writeFileSync(a[5], lines.join('\n') + '\n');
	}
	db.close();
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'ingest') doIngest(rest);
else if (mode === 'query') doQuery(rest);
else {
	console.error('usage: ref_bench.js ingest|query ...');
	process.exit(2);
}
