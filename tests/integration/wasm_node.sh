#!/usr/bin/env bash
# wasm_node.sh — builds rvf.wasm (bindings/wasm/build.sh) and runs its node
# tests (tests/wasm/): every corpus file opens from bytes with the expected
# shape, top-k (exact, default, HNSW, filtered) equals build/rvf's, hostile
# bytes give errors, memory is returned. Prints the module size.
# The build fetches Jansson's Debian source package once: if the Debian
# archive is unreachable the test SKIPs (exit 77) with a loud banner.
. "$(dirname "$0")/lib.sh"
need_cmd node clang
need_file "$RVF"
if ! out=$(bindings/wasm/build.sh 2>&1); then
	if grep -q "apt-get .*failed" <<<"$out" &&
		! timeout 20 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
		echo "################################################################" >&2
		echo "## wasm_node: SKIPPED — deb.debian.org unreachable, cannot fetch" >&2
		echo "## Jansson's source package to build rvf.wasm" >&2
		echo "################################################################" >&2
		skip "Debian archive unreachable"
	fi
	printf '%s\n' "$out" >&2
	fail "wasm build failed"
fi
log "$(tail -1 <<<"$out")"
RVF_CLI=$RVF node --test tests/wasm/ >"$T/node.log" 2>&1 || { cat "$T/node.log" >&2; fail "node --test tests/wasm failed"; }
grep -E '^# (pass|fail)' "$T/node.log" >&2
ok
pass "$(grep -E '^# pass' "$T/node.log" | sed 's/# //') node tests"
