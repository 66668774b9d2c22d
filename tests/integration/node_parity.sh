#!/usr/bin/env bash
# node_parity.sh — the Node binding (bindings/node, build/node/rvf.node):
#  1. tests/node/binding.test.mjs: our binding on its own (Promise variants,
#     persisted index and metadata, option bounds, misuse -> errors);
#  2. tests/node/parity.test.mjs: one scenario against our binding and the
#     reference @ruvector/rvf-node 0.2.3 from npm, step by step; every
#     difference must be a row of bindings/node/README.md's table.
#  3. the README's Quick Start runs (node -e) against our binding.
# Steps 1 and 2 run again with the ASan/UBSan build of the addon
# (build/asan/node/rvf.node) loaded into node.
# Skips (exit 77, loudly) only for step 2 when the npm registry is unreachable
# (steps 1 and 3 have run by then).
. "$(dirname "$0")/lib.sh"
need_cmd node npm

ADDON=build/node/rvf.node
AADDON=$PWD/build/asan/node/rvf.node
[ -f "$ADDON" ] || fail "$ADDON not built (make node; make test builds it)"
[ -f "$AADDON" ] || fail "$AADDON not built (make node-asan; make test builds it)"
# node with the ASan/UBSan build of the addon: the sanitizer runtimes must be
# loaded first; node's own allocations are not ours to leak-check
asan_node() {
	RVF_NODE_ADDON=$AADDON LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 node "$@"
}
sanitizer_clean() { ! grep -qE 'ERROR: AddressSanitizer|runtime error:' "$1"; }

log "binding tests"
node --expose-gc --test tests/node/binding.test.mjs >"$T/binding.log" 2>&1 || {
	cat "$T/binding.log" >&2
	fail "tests/node/binding.test.mjs failed"
}
grep -E '^# (pass|fail)' "$T/binding.log" >&2
log "binding tests, ASan/UBSan addon"
# (the sanitized addon is the one loaded, with the ASan runtime)
asan_node -e "require('./bindings/node'); const m = require('fs').readFileSync('/proc/self/maps', 'utf8');
	process.exit(m.includes('$AADDON') && /libasan/.test(m) ? 0 : 1)" || fail "the ASan addon did not load"
asan_node --expose-gc --test tests/node/binding.test.mjs >"$T/binding-asan.log" 2>&1 && sanitizer_clean "$T/binding-asan.log" || {
	cat "$T/binding-asan.log" >&2
	fail "tests/node/binding.test.mjs failed with the ASan/UBSan addon"
}

log "README Quick Start"
sed -n '/^```javascript/,/^```$/p' bindings/node/README.md | sed '1d;$d' >"$T/quickstart.js"
[ -s "$T/quickstart.js" ] || fail "no Quick Start in bindings/node/README.md"
node -e "$(cat "$T/quickstart.js")" >"$T/quickstart.out" 2>&1 || {
	cat "$T/quickstart.out" >&2
	fail "the README Quick Start failed"
}
grep -q "id: 3, distance: 0.0061" "$T/quickstart.out" || fail "Quick Start output: $(cat "$T/quickstart.out")"
grep -qx '\[ 3, 1 \]' "$T/quickstart.out" || fail "Quick Start filter output: $(cat "$T/quickstart.out")"

HERE=$(cd "$(dirname "$0")/../interop" && pwd)
. "$HERE/install_binding.sh"
install_binding "$T/npm"
log "parity with @ruvector/rvf-node 0.2.3"
RVF_REF_NODE="$T/npm/node_modules/@ruvector/rvf-node" node --test tests/node/parity.test.mjs >"$T/parity.log" 2>&1 || {
	cat "$T/parity.log" >&2
	fail "tests/node/parity.test.mjs failed"
}
grep -q '^ok 1 - parity' "$T/parity.log" || { cat "$T/parity.log" >&2; fail "parity test did not run"; }
log "parity, ASan/UBSan addon"
RVF_REF_NODE="$T/npm/node_modules/@ruvector/rvf-node" asan_node --test tests/node/parity.test.mjs >"$T/parity-asan.log" 2>&1 &&
	sanitizer_clean "$T/parity-asan.log" || {
	cat "$T/parity-asan.log" >&2
	fail "tests/node/parity.test.mjs failed with the ASan/UBSan addon"
}
pass "binding tests, Quick Start, parity with the reference (plain and ASan/UBSan addon)"
