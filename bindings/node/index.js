'use strict';
// @rvf/node — the rvf C library (librvf) as a Node-API addon with the API of
// @ruvector/rvf-node 0.2.3 (see README.md for the differences, all fixes).
//
// The addon is built by `make node` at the repository root (or `npm install`
// here, which runs it): build/node/rvf.node. RVF_NODE_ADDON overrides the path.
const path = require('path');
const fs = require('fs');

function findAddon() {
  const candidates = [
    process.env.RVF_NODE_ADDON,
    path.join(__dirname, 'build', 'rvf.node'),
    path.join(__dirname, '..', '..', 'build', 'node', 'rvf.node'),
  ].filter(Boolean);
  for (const p of candidates) {
    if (fs.existsSync(p)) return path.resolve(p);
  }
  throw new Error(
    'rvf native addon not found (looked in ' + candidates.join(', ') +
      '); build it with `make node` at the repository root');
}

const addon = require(findAddon());

module.exports.RvfDatabase = addon.RvfDatabase;
