'use strict';
// Compares what the binding saw (ref_write.json / ref_read.json) with what
// our CLI printed for the same files. Exit 0 if equal, 1 with a list of
// differences otherwise.
//
//   node compare.js write DIR   DIR/ref_write.json vs DIR/<file>.cli.query.json,
//                               DIR/<file>.cli.status.json
//   node compare.js read DIR    DIR/ref_read.json vs DIR/<file>.cli.{before,after}.{query,status}.json
const fs = require('fs');
const path = require('path');
const { readJson, normMetric, compareResults } = require('./common.js');

const [mode, dir] = process.argv.slice(2);
const problems = [];
let checks = 0;
const must = (cond, msg) => { checks++; if (!cond) problems.push(msg); };

function cliResults(file) {
  const j = readJson(file);
  must(Array.isArray(j.results) && j.count === j.results.length,
    `${file}: batch output must have results[] and count == results.length (count=${j.count})`);
  return j.results;
}

// Status fields both sides report. `ref` is the binding's status().
function compareStatus(label, cli, ref, refMetric, refDim, fileOnDisk) {
  must(cli.total_vectors === ref.totalVectors, `${label}: total_vectors ${cli.total_vectors} vs binding ${ref.totalVectors}`);
  must(cli.epoch === ref.currentEpoch, `${label}: epoch ${cli.epoch} vs binding ${ref.currentEpoch}`);
  must(normMetric(cli.metric) === refMetric, `${label}: metric ${cli.metric} vs binding ${refMetric}`);
  must(cli.dimension === refDim, `${label}: dimension ${cli.dimension} vs binding ${refDim}`);
  if (cli.dead_space_ratio !== undefined) {
    must(Math.abs(cli.dead_space_ratio - ref.deadSpaceRatio) < 1e-9,
      `${label}: dead_space_ratio ${cli.dead_space_ratio} vs binding ${ref.deadSpaceRatio}`);
  }
  if (fileOnDisk) {
    const size = fs.statSync(fileOnDisk).size;
    must(cli.file_size === size, `${label}: file_size ${cli.file_size} vs ${size} on disk`);
  }
}

function addProblems(list) { checks++; problems.push(...list); }

if (mode === 'write') {
  const log = readJson(path.join(dir, 'ref_write.json'));
  for (const s of log.stores) {
    const base = path.join(dir, s.file);
    compareStatus(`${s.file} status`, readJson(base + '.cli.status.json'), s.status, s.metric, s.dimension, base);
    addProblems(compareResults(`${s.file} (${s.exact ? 'exact' : 'approx, binding used HNSW'})`,
      cliResults(base + '.cli.query.json'), s.results, s.exact ? 'exact' : 'approx'));
  }
} else if (mode === 'read') {
  const log = readJson(path.join(dir, 'ref_read.json'));
  const plan = readJson(path.join(dir, 'plan.json'));
  for (const s of log.stores) {
    const p = plan.find((x) => x.file === s.file);
    const base = path.join(dir, s.file);
    if (s.error) { must(false, `${s.file}: binding failed: ${s.error}`); continue; }
    const how = s.exact ? 'exact' : 'approx';
    // before the binding wrote: same file, our CLI vs the binding
    must(s.before.metric === p.metric, `${s.file}: binding reads metric ${s.before.metric}, created as ${p.metric}`);
    compareStatus(`${s.file} before`, readJson(base + '.cli.before.status.json'), s.before.status, s.before.metric, s.before.dimension, null);
    addProblems(compareResults(`${s.file} before binding writes (${how})`,
      cliResults(base + '.cli.before.query.json'), s.before.results, how));
    // the binding's append: one accepted vector, one id deleted
    must(s.ingest.accepted === 1 && s.ingest.rejected === 0, `${s.file}: binding ingest into our file: ${JSON.stringify(s.ingest)}`);
    must(s.del.deleted === 1, `${s.file}: binding delete of id ${p.del} in our file: ${JSON.stringify(s.del)}`);
    must(s.after.status.totalVectors === s.before.status.totalVectors, // +1 -1
      `${s.file}: binding live count ${s.before.status.totalVectors} -> ${s.after.status.totalVectors} after +1/-1`);
    // after: our CLI reads the binding-appended file
    compareStatus(`${s.file} after`, readJson(base + '.cli.after.status.json'), s.after.status, s.after.metric, s.after.dimension, base);
    addProblems(compareResults(`${s.file} after binding writes (${how})`,
      cliResults(base + '.cli.after.query.json'), s.after.results, how));
    if (!s.exact) {
      must(s.after.segTypes.includes('index'), `${s.file}: binding did not append an INDEX_SEG (${s.after.segTypes.join(',')})`);
    }
  }
} else if (mode === 'fixtures') {
  const DAMAGED_MANIFEST = new Set(['p21_bad_manifest_hash.rvf', 'p22_bad_manifest_payload.rvf']);
  // DIR/fixtures_read.json vs DIR/<queriesFile minus .queries.json>.cli.{status,query}.json
  const log = readJson(path.join(dir, 'fixtures_read.json'));
  for (const f of log.files) {
    const base = path.join(dir, f.file.replace(/[/]/g, '__'));
    if (f.error) {
      must(fs.existsSync(base + '.cli.rejected'), `${f.file}: binding rejects it (${f.error}) but our CLI opened it`);
      continue;
    }
    // Damaged newest manifest: the binding opens it silently; we open the
    // previous commit with a warning on purpose (it is what a torn commit
    // leaves; docs/SECURITY.md §6.1).
    if (DAMAGED_MANIFEST.has(path.basename(f.file))) {
      must(fs.existsSync(base + '.cli.fellback'), `${f.file}: our CLI must open the previous commit with a warning`);
      if (fs.existsSync(base + '.cli.status.json')) {
        const cli = readJson(base + '.cli.status.json');
        must(cli.epoch + 1 === f.status.currentEpoch,
          `${f.file}: our epoch ${cli.epoch} is not the one before the binding's ${f.status.currentEpoch}`);
      }
      continue;
    }
    if (!fs.existsSync(base + '.cli.status.json')) { must(false, `${f.file}: our CLI could not open it (binding: ${f.status.totalVectors} vectors)`); continue; }
    const cli = readJson(base + '.cli.status.json');
    compareStatus(`${f.file} status`, cli, f.status, f.metric, f.dimension, null);
    const how = f.status.totalVectors >= 1024 || (cli.total_vectors >= 1024) ? 'approx' : 'exact-ties';
    addProblems(compareResults(`${f.file} (${how})`, cliResults(base + '.cli.query.json'), f.results, how));
  }
} else {
  console.error('usage: node compare.js write|read|fixtures DIR');
  process.exit(2);
}

if (problems.length) {
  console.error(`compare ${mode}: ${problems.length} difference(s) in ${checks} checks:`);
  for (const p of problems) console.error('  - ' + p);
  process.exit(1);
}
console.log(`compare ${mode}: ${checks} checks equal`);
