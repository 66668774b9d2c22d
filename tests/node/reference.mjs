// reference.mjs — loads the reference binding @ruvector/rvf-node 0.2.3:
// from RVF_REF_NODE (its package directory) if set, else installed with npm
// into a temp dir from tests/interop/package.json (the pinned version).
// Returns {lib} or {skip: reason} when the npm registry is unreachable.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function loadReference() {
  if (process.env.RVF_REF_NODE) return { lib: require(process.env.RVF_REF_NODE) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rvf-node-ref-'));
  fs.copyFileSync(path.join(ROOT, 'tests', 'interop', 'package.json'), path.join(dir, 'package.json'));
  try {
    execFileSync('npm', ['ping'], { cwd: dir, stdio: 'pipe', timeout: 60000 });
  } catch (e) {
    return { skip: 'npm registry unreachable: ' + String(e.stderr || e.message).split('\n').slice(-3).join(' ') };
  }
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'pipe', timeout: 600000 });
  const lib = require(path.join(dir, 'node_modules', '@ruvector', 'rvf-node'));
  const ver = require(path.join(dir, 'node_modules', '@ruvector', 'rvf-node', 'package.json')).version;
  if (ver !== '0.2.3') throw new Error(`installed @ruvector/rvf-node ${ver}, expected 0.2.3`);
  return { lib };
}

export function loadOurs() {
  return require(path.join(ROOT, 'bindings', 'node'));
}
