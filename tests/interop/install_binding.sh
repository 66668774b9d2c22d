# install_binding.sh — sourced by the interop tests: installs the pinned
# reference binding (@ruvector/rvf-node 0.2.3, tests/interop/package.json)
# into DIR with the interop scripts beside it. Skips the calling test loudly
# (exit 77) only when the npm registry cannot be reached.
# Needs: $HERE (tests/interop), $T, log/fail from lib.sh.

banner_skip() {
	{
		echo "=========================================================================="
		echo "SKIP: npm registry unreachable — interop with @ruvector/rvf-node NOT tested"
		echo "      ($1)"
		echo "=========================================================================="
	} >&2
	exit 77
}
is_network_error() { grep -Eq 'ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ENETUNREACH|EHOSTUNREACH|network request .* failed|socket hang up' "$1"; }

install_binding() { # DIR
	local NPMDIR=$1 ver
	mkdir -p "$NPMDIR"
	cp "$HERE"/package.json "$HERE"/*.js "$NPMDIR"/
	if ! (cd "$NPMDIR" && timeout 60 npm ping) >"$T/npm-ping.log" 2>&1; then
		banner_skip "npm ping failed: $(grep -v '^npm warn' "$T/npm-ping.log" | tail -n 2 | tr '\n' ' ')"
	fi
	if ! (cd "$NPMDIR" && timeout 600 npm install --no-audit --no-fund) >"$T/npm-install.log" 2>&1; then
		if is_network_error "$T/npm-install.log"; then
			banner_skip "npm install: $(grep -Eo 'ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ENETUNREACH|EHOSTUNREACH' "$T/npm-install.log" | head -n 1)"
		fi
		cat "$T/npm-install.log" >&2
		fail "npm install of @ruvector/rvf-node 0.2.3 failed (not a network error)"
	fi
	ver=$(cd "$NPMDIR" && node -p "require('@ruvector/rvf-node/package.json').version") ||
		fail "installed binding cannot be loaded"
	[ "$ver" = 0.2.3 ] || fail "installed @ruvector/rvf-node is $ver, expected 0.2.3"
	(cd "$NPMDIR" && node -e "require('@ruvector/rvf-node').RvfDatabase.create") >/dev/null 2>&1 ||
		fail "@ruvector/rvf-node loaded but has no RvfDatabase (native addon missing?)"
}
