'use strict';
// Shared helpers for the interop scripts: deterministic f32 data, JSON I/O,
// result comparison with readable diffs.
const fs = require('fs');

// 64-bit LCG (same constants as the reference examples); values are exact f32.
function rng(seed) {
  let x = BigInt.asUintN(64, BigInt(seed) * 0x9E3779B97F4A7C15n + 1n);
  return () => {
    x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
    return Math.fround(Number(x >> 40n) / 16777216 - 0.5); // 24 bits -> exact f32
  };
}

function vectors(n, dim, seed) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const v = new Array(dim);
    for (let d = 0; d < dim; d++) v[d] = r();
    out.push(v);
  }
  return out;
}

function flat(vs, dim) {
  const a = new Float32Array(vs.length * dim);
  vs.forEach((v, i) => a.set(v, i * dim));
  return a;
}

function readJson(p) { return JSON.parse(fs.readFileSync(p, 'utf8')); }
function writeJson(p, v) { fs.writeFileSync(p, JSON.stringify(v, null, 1) + '\n'); }

function normMetric(m) {
  m = String(m);
  if (m === 'ip' || m === 'InnerProduct') return 'inner_product';
  if (m === 'L2') return 'l2';
  if (m === 'Cosine') return 'cosine';
  return m;
}

function fmt(list) {
  return list.map((h) => `${h.id}:${h.distance}`).join(' ');
}

// Compare two lists of per-query results ([[{id,distance}]]).
// mode 'exact': same ids, same order, identical distances.
// mode 'approx' (the reference used HNSW): >= 90 % of the reference ids in
// ours, distances of common ids within 1e-5 relative.
// Distances are float32 on both sides: ours print as the shortest text of
// the float32, the binding's as the double of it; compared as float32
// (Math.fround), "identical" means the same float32 bits.
// Returns an array of human-readable problems (empty = equal).
function compareResults(label, ours, ref, mode) {
  const problems = [];
  if (!Array.isArray(ours) || !Array.isArray(ref)) {
    return [`${label}: missing results (ours ${typeof ours}, reference ${typeof ref})`];
  }
  const f32 = (l) => l.map((q) => (Array.isArray(q) ? q.map((h) => ({ ...h, distance: Math.fround(h.distance) })) : q));
  ours = f32(ours);
  ref = f32(ref);
  if (ours.length !== ref.length) problems.push(`${label}: ${ours.length} queries vs ${ref.length}`);
  const nq = Math.min(ours.length, ref.length);
  for (let q = 0; q < nq; q++) {
    const a = ours[q], b = ref[q];
    if (mode === 'exact-ties') {
      // The reference orders equal distances arbitrarily (hash-map order):
      // compare (distance, id)-sorted lists; at the k-th distance only the
      // distances must agree (which tied ids made the cut is arbitrary).
      const key = (x, y) => (x.distance - y.distance) || (x.id - y.id);
      const sa = [...a].sort(key), sb = [...b].sort(key);
      const last = sb.length ? sb[sb.length - 1].distance : null;
      let bad = sa.length !== sb.length;
      for (let i = 0; !bad && i < sa.length; i++) {
        bad = sa[i].distance !== sb[i].distance || (sb[i].distance !== last && sa[i].id !== sb[i].id);
      }
      if (bad) {
        problems.push(`${label} query ${q}: results differ\n    ours: ${fmt(a)}\n    ref : ${fmt(b)}`);
      }
    } else if (mode === 'exact') {
      let bad = a.length !== b.length;
      for (let i = 0; !bad && i < a.length; i++) {
        bad = a[i].id !== b[i].id || a[i].distance !== b[i].distance;
      }
      if (bad) {
        let at = 0;
        while (at < a.length && at < b.length && a[at].id === b[at].id && a[at].distance === b[at].distance) at++;
        problems.push(`${label} query ${q}: results differ (first at rank ${at}: ` +
          `ours ${a[at] ? a[at].id + ':' + a[at].distance : '-'} vs ref ${b[at] ? b[at].id + ':' + b[at].distance : '-'})\n` +
          `    ours: ${fmt(a)}\n    ref : ${fmt(b)}`);
      }
    } else {
      const mine = new Map(a.map((h) => [h.id, h.distance]));
      let common = 0;
      const dd = [];
      for (const h of b) {
        if (!mine.has(h.id)) continue;
        common++;
        const x = mine.get(h.id), y = h.distance;
        if (x !== y && Math.abs(x - y) > 1e-5 * Math.max(Math.abs(x), Math.abs(y))) dd.push(`${h.id}: ${x} vs ${y}`);
      }
      if (a.length !== b.length) problems.push(`${label} query ${q}: ${a.length} hits vs reference ${b.length}`);
      if (common * 10 < b.length * 9) {
        problems.push(`${label} query ${q}: only ${common}/${b.length} reference ids in our top-${a.length}\n` +
          `    ours: ${fmt(a)}\n    ref : ${fmt(b)}`);
      }
      if (dd.length) problems.push(`${label} query ${q}: distances differ > 1e-5 rel: ${dd.join(', ')}`);
    }
  }
  return problems;
}

function binding() {
  // Resolved from the temp install dir the shell test created.
  return require('@ruvector/rvf-node');
}

module.exports = { rng, vectors, flat, readJson, writeJson, normMetric, compareResults, binding };
