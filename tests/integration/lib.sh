# shellcheck shell=bash
# lib.sh — helpers for shell integration tests. Source it from a test:
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/lib.sh"
#   need_cmd jq
#   $RVF create "$T/a.rvf" -d 4 --json > "$T/out.json" || fail "create failed"
#   json_eq "$T/out.json" .dimension 4
#   expect_exit 2 $RVF create          # usage error
#   pass
#
# Contract with scripts/run-tests.sh: exit 0 = pass, 77 = skip, anything else =
# fail. Tests run from the repository root with RVF (build/rvf), RVF_ASAN
# (build/asan/rvf) and RVF_SHARED (../shared) in the environment.
set -euo pipefail

: "${RVF:=build/rvf}"
: "${RVF_ASAN:=build/asan/rvf}"
: "${RVF_SHARED:=../shared}"
export RVF RVF_ASAN RVF_SHARED

TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
_CHECKS=0

# --- outcome ---------------------------------------------------------------
log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }
fail() {
	printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}
pass() {
	printf '[%s] PASS%s\n' "$TEST_NAME" "${1:+: $1} ($_CHECKS checks)"
	exit 0
}
skip() {
	printf '[%s] SKIP: %s\n' "$TEST_NAME" "${1:-no reason given}" >&2
	exit 77
}
ok() { _CHECKS=$((_CHECKS + 1)); }

# --- preconditions ---------------------------------------------------------
need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "command '$c' not available"; done
}
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
need_file() {
	local f
	for f in "$@"; do [ -e "$f" ] || skip "missing $f"; done
}

# --- temp dir, removed on exit (RVF_KEEP_TMP=1 keeps it) -------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/rvf-it-${TEST_NAME}.XXXXXX")
_CLEANUP_HOOKS=()
on_exit() { _CLEANUP_HOOKS+=("$*"); } # extra cleanup commands (netns, pids...)
_cleanup() {
	local rc=$? h
	for h in "${_CLEANUP_HOOKS[@]+"${_CLEANUP_HOOKS[@]}"}"; do eval "$h" || true; done
	if [ -n "${RVF_KEEP_TMP:-}" ]; then
		echo "[$TEST_NAME] kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# --- command checks --------------------------------------------------------
# expect_exit CODE cmd args...   run cmd, require exit status CODE. Output is
# kept in $T/last.out / $T/last.err (and printed on mismatch).
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout:" >&2; head -c 4000 "$T/last.out" >&2
		echo "--- stderr:" >&2; head -c 4000 "$T/last.err" >&2
		fail "expected exit $want, got $rc: $*"
	fi
	ok
}
# run_ok cmd args...   expect_exit 0, then print stdout (for $(...) capture).
run_ok() { expect_exit 0 "$@"; cat "$T/last.out"; }

# expect_contains FILE STRING   FILE ("-" = stdin) contains STRING literally.
expect_contains() {
	local f=$1 s=$2
	[ "$f" = - ] && { f="$T/stdin.$$"; cat >"$f"; }
	grep -qF -- "$s" "$f" || fail "'$s' not found in $1: $(head -c 2000 "$f")"
	ok
}

# err_is CODE TEXT cmd...   expect_exit CODE, and TEXT on its stderr.
err_is() {
	local code=$1 text=$2
	shift 2
	expect_exit "$code" "$@"
	expect_contains "$T/last.err" "$text"
}

# assert_eq GOT WANT [message]
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', want '$2'"
	ok
}

# --- JSON (jq) -------------------------------------------------------------
# json_get FILE FILTER     print jq -r FILTER of FILE ("-" = stdin); fails on bad JSON.
json_get() {
	local out
	out=$(jq -r "$2" "$1") || fail "invalid JSON or jq filter '$2' on $1"
	printf '%s\n' "$out"
}
# json_eq FILE FILTER WANT   jq -r FILTER must print exactly WANT.
json_eq() {
	local got
	got=$(json_get "$1" "$2")
	[ "$got" = "$3" ] || fail "JSON $2 in $1: got '$got', want '$3'"
	ok
}
# json_ok FILE FILTER       jq -e FILTER must be true (e.g. '.count == (.results|length)').
json_ok() {
	jq -e "$2" "$1" >/dev/null 2>&1 || fail "JSON check failed on $1: $2 ($(head -c 1000 "$1"))"
	ok
}
# json_valid FILE           FILE holds exactly one valid JSON value.
json_valid() {
	jq -e . "$1" >/dev/null 2>&1 || jq . "$1" >/dev/null 2>&1 ||
		fail "not valid JSON: $1 ($(head -c 1000 "$1"))"
	ok
}

# gen_vectors N DIM [SEED] > file.json   JSON array of {"id","vector"} records.
gen_vectors() {
	python3 - "$1" "$2" "${3:-1}" <<'PY'
import json, random, sys
n, d, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
json.dump([{"id": i, "vector": [round(r.uniform(-1, 1), 6) for _ in range(d)]}
           for i in range(n)], sys.stdout)
PY
}
