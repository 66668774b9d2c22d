#!/usr/bin/env bash
# crash_kill9.sh — SIGKILL a writer at random moments, 200 times, on one store.
#
# tests/crash/crash_writer.c (built here against build/librvf.a) ingests
# batches with metadata, re-ingests (also deleted ids), deletes and compacts
# in a loop, logging "begin OP" / "committed EPOCH OP" around every call.
# Each round starts a writer on the store left by the previous (killed) one,
# kills it with SIGKILL after 0-50 ms, then checks read-only that the store
# opens (a warning about a torn tail is fine) and holds exactly every
# committed operation, plus the in-flight one entirely or not at all, and
# that its HNSW index loads (no rebuild, no index warning) and answers like
# the exact scan (recall@10 >= 0.9 at efSearch 200 over 200 queries; the
# lowest seen is logged).
# Bounded: stops at 200 rounds or RVF_CRASH_SECONDS (100) s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd cc pkg-config
need_file build/librvf.a include/rvf.h
[ -x "$RVF" ] || skip "$RVF not built"

W=$T/crash_writer
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude -Iuser/lib \
	$(pkg-config --cflags jansson libsodium zlib 2>/dev/null) \
	-o "$W" tests/crash/crash_writer.c build/librvf.a \
	-ljansson -lsodium -lz -lisal -lbpf -lnettle -lm -lpthread 2>"$T/cc.err" ||
	{ cat "$T/cc.err" >&2; fail "cannot build tests/crash/crash_writer.c"; }
ok

S=$T/crash.rvf
LOG=$T/ops.log
# --index on: every commit also carries the HNSW index, and the checker
# (CRASH_INDEX=1) requires it to load after every kill and match the exact
# scan.
run_ok "$RVF" create "$S" -d 8 --index on >/dev/null
export CRASH_INDEX=1
: >"$LOG"

ROUNDS=${RVF_CRASH_ROUNDS:-200}
DEADLINE=$((SECONDS + ${RVF_CRASH_SECONDS:-100}))
warned=0 inflight_applied=0 inflight_absent=0 done_rounds=0 min_recall=1.000
for ((r = 1; r <= ROUNDS; r++)); do
	[ "$SECONDS" -lt "$DEADLINE" ] || break
	"$W" write "$S" "$LOG" "$r" "$RANDOM" 2>"$T/w.err" &
	pid=$!
	sleep "0.0$(printf '%02d' $((RANDOM % 51)))"
	kill -9 "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" 2>/dev/null || rc=$?
	# 137 = killed; anything else means the writer stopped on its own.
	[ "$rc" -eq 137 ] || fail "round $r: writer exited with $rc before the kill: $(cat "$T/w.err")"
	rc=0
	"$W" check "$S" "$LOG" >"$T/c.out" 2>"$T/c.err" || rc=$?
	[ "$rc" -eq 0 ] || {
		cp "$S" "$T/failed.rvf" 2>/dev/null || true
		fail "round $r: $(cat "$T/c.err" "$T/c.out") (log: $(tail -3 "$LOG" | tr '\n' '|'))"
	}
	grep -q '^warning:' "$T/c.out" && warned=$((warned + 1))
	grep -q 'in-flight op applied' "$T/c.out" && inflight_applied=$((inflight_applied + 1))
	grep -q 'in-flight op absent' "$T/c.out" && inflight_absent=$((inflight_absent + 1))
	rec=$(sed -n 's/^index recall //p' "$T/c.out")
	[ -n "$rec" ] && min_recall=$(awk -v a="$min_recall" -v b="$rec" 'BEGIN { print (b < a ? b : a) }')
	ok
	done_rounds=$r
done
[ "$done_rounds" -ge $((ROUNDS < 50 ? ROUNDS : 50)) ] || fail "only $done_rounds rounds ran before the time limit"
commits=$(grep -c '^committed' "$LOG" || true)
[ "$commits" -gt 0 ] || fail "no operation ever committed (writer too slow to start?)"
ok
# The CLI agrees with the checker on the final store.
run_ok "$RVF" status "$S" --json >"$T/st.json"
json_valid "$T/st.json"
log "$done_rounds rounds, $commits committed ops, killed mid-operation: $inflight_applied applied + $inflight_absent absent, $warned opens warned about a torn tail; lowest index recall@10 $min_recall; final $(jq -c '{total_vectors, epoch, file_size}' "$T/st.json")"
pass
