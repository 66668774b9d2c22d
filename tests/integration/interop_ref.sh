#!/usr/bin/env bash
# interop_ref.sh — byte compatibility with the reference Node binding
# @ruvector/rvf-node 0.2.3, both directions (scripts in tests/interop/).
#
#  (a) the binding writes stores (l2 / inner_product / cosine, several batches
#      with duplicate ids, deletes, re-open, a compacted store, a >= 1024-vector
#      store with a persisted INDEX_SEG); our CLI must report the same live
#      counts / epoch / metric and the same query results (exact ids and
#      distances below 1024 vectors; >= 90 % id overlap and 1e-5 relative
#      distances where the binding used HNSW). Our read-only CLI commands must
#      leave the files byte-identical.
#  (b) our CLI writes stores (create with each metric, two ingest batches, a
#      delete, compaction; two of them with the HNSW index persisted on every
#      commit: INDEX_SEG + INDEX_LOG); the binding reads them (openReadonly) and must
#      answer like our CLI; then it opens them read-write, ingests one vector
#      and deletes one id; our CLI must read the binding-appended files and
#      again answer like the binding.
#  (c) the binding reads every shared fixture (spec/fixtures/ref, ref/sub, py)
#      with deterministic queries; our CLI must agree on status and results
#      (incl. COW children via their parents) and reject what the binding
#      rejects (p05).
#
# Needs node + npm and the npm registry. If the registry is unreachable the
# test SKIPs (exit 77) with a loud banner; any other npm failure is a FAIL.
if [ -f "$(dirname "$0")/lib.sh" ]; then
	. "$(dirname "$0")/lib.sh"
else
	set -euo pipefail
	: "${RVF:=build/rvf}" "${RVF_SHARED:=../shared}"
	TEST_NAME=interop_ref
	T=$(mktemp -d "${TMPDIR:-/tmp}/rvf-it-interop_ref.XXXXXX")
	trap 'rm -rf "$T"' EXIT
	log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }
	fail() { printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
	skip() { printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*" >&2; exit 77; }
	pass() { printf '[%s] PASS%s\n' "$TEST_NAME" "${1:+: $1}"; exit 0; }
	need_cmd() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "command '$c' not available"; done; }
	ok() { :; }
fi

HERE=$(cd "$(dirname "$0")/../interop" && pwd)
RVF_BIN=$(command -v "$RVF" 2>/dev/null || true)
[ -n "$RVF_BIN" ] && [ -x "$RVF_BIN" ] || fail "CLI not built: $RVF (run make first)"
RVF_BIN=$(cd "$(dirname "$RVF_BIN")" && pwd)/$(basename "$RVF_BIN")

need_cmd node npm jq sha256sum

. "$HERE/install_binding.sh"
install_binding "$T/npm"
NPMDIR="$T/npm"
log "using @ruvector/rvf-node 0.2.3, CLI $RVF_BIN"

# run CMD... with output to $1 (a file); on failure show stderr and fail
run_to() {
	local out=$1
	shift
	if ! "$@" >"$out" 2>"$out.err"; then
		echo "--- stdout:" >&2; head -c 3000 "$out" >&2
		echo "--- stderr:" >&2; head -c 3000 "$out.err" >&2
		fail "command failed: $*"
	fi
}
nodejs() { (cd "$NPMDIR" && node "$@"); }

# ---- (a) the binding writes, our CLI reads ---------------------------------
A="$T/a"
mkdir -p "$A"
run_to "$T/ref_write.log" nodejs ref_write.js "$A"
log "$(cat "$T/ref_write.log")"
for f in $(jq -r '.stores[].file' "$A/ref_write.json"); do
	sum_before=$(sha256sum <"$A/$f")
	run_to "$A/$f.cli.status.json" "$RVF_BIN" status "$A/$f" --json
	run_to "$A/$f.cli.query.json" "$RVF_BIN" query "$A/$f" --input "$A/$f.queries.json" -k 10 --json
	jq -e . "$A/$f.cli.status.json" >/dev/null || fail "$f: status --json is not JSON"
	jq -e . "$A/$f.cli.query.json" >/dev/null || fail "$f: query --json is not JSON"
	[ "$(sha256sum <"$A/$f")" = "$sum_before" ] || fail "$f: read-only CLI commands modified the binding's file"
	[ ! -e "$A/$f.lock" ] || fail "$f: read-only CLI commands left a lock file"
done
if ! nodejs compare.js write "$A" >"$T/cmp_a.log" 2>&1; then
	cat "$T/cmp_a.log" >&2
	fail "(a) our CLI reads binding-written stores differently (see differences above)"
fi
log "(a) $(cat "$T/cmp_a.log")"
ok

# ---- (b) our CLI writes, the binding reads and appends, our CLI reads again
B="$T/b"
mkdir -p "$B"
run_to "$T/gen.log" nodejs gen_cli_data.js "$B"
n=$(jq length "$B/plan.json")
for i in $(seq 0 $((n - 1))); do
	p() { jq -r ".[$i].$1" "$B/plan.json"; }
	f=$(p file)
	# index: "on" -> every commit also writes our HNSW index (INDEX_SEG
	# checkpoint + INDEX_LOG segments, type 0x40) for the binding to read
	idx=()
	[ "$(p index)" = null ] || idx=(--index "$(p index)")
	run_to "$B/$f.create.json" "$RVF_BIN" create "$B/$f" -d "$(p dim)" -m "$(p cliMetric)" "${idx[@]}" --json
	for b in $(jq -r ".[$i].batches[]" "$B/plan.json"); do
		run_to "$B/$f.$b.ingest.json" "$RVF_BIN" ingest "$B/$f" -i "$B/$b" -b "$(p batchSize)" --json
		jq -e '.accepted > 0 and .rejected == 0' "$B/$f.$b.ingest.json" >/dev/null ||
			fail "$f: ingest of $b: $(cat "$B/$f.$b.ingest.json")"
	done
	ids=$(jq -r ".[$i].deleteIds | map(tostring) | join(\",\")" "$B/plan.json")
	run_to "$B/$f.delete.json" "$RVF_BIN" delete "$B/$f" --ids "$ids" --json
	jq -e '.deleted == 3' "$B/$f.delete.json" >/dev/null ||
		fail "$f: delete --ids $ids (3 live, 1 unknown): $(cat "$B/$f.delete.json")"
	if [ "$(p compact)" = true ]; then
		run_to "$B/$f.compact.json" "$RVF_BIN" compact "$B/$f" --json
		# reference naming: segments_compacted = deleted vectors purged
		jq -e '.segments_compacted == 3' "$B/$f.compact.json" >/dev/null ||
			fail "$f: compact did not report 3 purged vectors: $(cat "$B/$f.compact.json")"
	fi
	q=$(p queriesFile)
	run_to "$B/$f.cli.before.status.json" "$RVF_BIN" status "$B/$f" --json
	run_to "$B/$f.cli.before.query.json" "$RVF_BIN" query "$B/$f" --input "$B/$q" -k 10 --json
	[ ! -e "$B/$f.lock" ] || fail "$f: CLI left a lock file behind"
done
if ! nodejs ref_read.js "$B" >"$T/ref_read.log" 2>&1; then
	cat "$T/ref_read.log" >&2
	fail "(b) the binding could not read/append stores written by our CLI"
fi
log "$(cat "$T/ref_read.log")"
for i in $(seq 0 $((n - 1))); do
	f=$(jq -r ".[$i].file" "$B/plan.json")
	q=$(jq -r ".[$i].queriesFile" "$B/plan.json")
	[ ! -e "$B/$f.lock" ] || fail "$f: binding left a lock file behind"
	run_to "$B/$f.cli.after.status.json" "$RVF_BIN" status "$B/$f" --json
	run_to "$B/$f.cli.after.query.json" "$RVF_BIN" query "$B/$f" --input "$B/$q" -k 10 --json
done
if ! nodejs compare.js read "$B" >"$T/cmp_b.log" 2>&1; then
	cat "$T/cmp_b.log" >&2
	fail "(b) binding and CLI disagree on CLI-written stores (see differences above)"
fi
log "(b) $(cat "$T/cmp_b.log")"
# the field names and values survived the binding's session (it keeps META_SEGs)
for i in $(seq 0 $((n - 1))); do
	f=$(jq -r ".[$i].file" "$B/plan.json")
	run_to "$B/$f.names.json" "$RVF_BIN" query "$B/$f" --vector "$(jq -r ".[$i].add.vector | map(tostring) | join(\",\")" "$B/plan.json")" \
		-k 100000 --exact --filter '{"eq":{"field":"tag","value":"g1"}}' --with-metadata --json
	jq -e '.count > 0 and all(.results[]; .metadata.tag == "g1" and (.metadata.even | type) == "boolean" and .metadata["0"] == .id)' \
		"$B/$f.names.json" >/dev/null || fail "$f: named metadata lost after the binding's session: $(head -c 300 "$B/$f.names.json")"
done
ok

# ---- (c) shared fixtures: the binding and our CLI read the same files -------
FIX="$RVF_SHARED/spec/fixtures"
[ -d "$FIX" ] || fail "missing $FIX"
FIX=$(cd "$FIX" && pwd)
C="$T/c"
mkdir -p "$C"
run_to "$T/fixtures_read.log" nodejs fixtures_read.js "$FIX" "$C"
log "$(cat "$T/fixtures_read.log")"
nf=$(jq '.files | length' "$C/fixtures_read.json")
for i in $(seq 0 $((nf - 1))); do
	rel=$(jq -r ".files[$i].file" "$C/fixtures_read.json")
	base="$C/${rel//\//__}"
	if jq -e ".files[$i].error" "$C/fixtures_read.json" >/dev/null; then
		# the binding rejects it: our CLI must fail cleanly (exit 1, a message)
		rc=0
		"$RVF_BIN" status "$FIX/$rel" --json >"$base.out" 2>"$base.err" || rc=$?
		if [ "$rc" -eq 1 ] && [ -s "$base.err" ]; then : >"$base.cli.rejected"; else
			log "$rel: binding rejects it, our CLI status exited $rc: $(head -c 300 "$base.err")"
		fi
		continue
	fi
	q="$C/$(jq -r ".files[$i].queriesFile" "$C/fixtures_read.json")"
	# failures are recorded (missing output) and reported by compare.js
	rc=0
	"$RVF_BIN" status "$FIX/$rel" --json >"$base.cli.status.json" 2>"$base.status.err" || rc=$?
	if [ "$rc" -eq 0 ] && grep -q "newest manifest, at offset .* is damaged" "$base.status.err"; then
		: >"$base.cli.fellback" # on purpose: damaged newest manifest, previous commit opened
		continue
	fi
	[ "$rc" -eq 0 ] ||
		{ log "$rel: rvf status failed: $(head -c 300 "$base.status.err")"; rm -f "$base.cli.status.json"; }
	"$RVF_BIN" query "$FIX/$rel" --input "$q" -k 10 --json >"$base.cli.query.json" 2>"$base.query.err" ||
		{ log "$rel: rvf query failed: $(head -c 300 "$base.query.err")"; rm -f "$base.cli.status.json"; }
done
if ! nodejs compare.js fixtures "$C" >"$T/cmp_c.log" 2>&1; then
	cat "$T/cmp_c.log" >&2
	fail "(c) binding and CLI disagree on the shared fixtures (see differences above)"
fi
log "(c) $(cat "$T/cmp_c.log")"
ok

pass "binding-written stores read identically; CLI-written stores read and appended by the binding"
