#!/usr/bin/env bash
# serve_http.sh — `rvf serve` (HTTP/JSON, libmicrohttpd) end to end with curl:
# every endpoint (status, health, query, ingest, delete, metrics), query
# results identical to `rvf query --json` on the same file (plain, filtered,
# with metadata), reads seeing writes at once, every error case (400 bad
# JSON / missing field / wrong type / wrong dimension / k=0 / bad filter,
# 404, 405 + Allow, 413 by Content-Length and chunked), concurrent requests
# (xargs -P 8 curl), the writer lock while serving, and a clean shutdown on
# SIGTERM (exit 0, lock released, writes durable). ~5-10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd curl jq python3 xargs
[ -x "$RVF" ] || fail "$RVF not built"
"$RVF" serve "$T/none.rvf" --port 0 >/dev/null 2>"$T/probe.err" || true
if grep -q "built without libmicrohttpd" "$T/probe.err"; then
	skip "!!! $RVF was built without libmicrohttpd (Makefile: PKGS += libmicrohttpd, CFLAGS += -DRVF_HAVE_MHD; deps: libmicrohttpd-dev) — rvf serve was NOT tested"
fi

F=$T/s.rvf
D=8
N=300
expect_exit 0 "$RVF" create "$F" -d "$D" -m l2
python3 - "$N" "$D" >"$T/data.json" <<'PY'
import json, random, sys
n, d = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(7)
json.dump([{"id": i, "vector": [round(r.uniform(-1, 1), 5) for _ in range(d)],
            "metadata": {"0": i % 5, "1": "even" if i % 2 == 0 else "odd"}}
           for i in range(n)], sys.stdout)
PY
expect_exit 0 "$RVF" ingest "$F" -i "$T/data.json"

# ---- start ----------------------------------------------------------------
"$RVF" serve "$F" --port 0 --max-body 65536 --threads 4 2>"$T/serve.err" &
SPID=$!
on_exit "kill -KILL $SPID 2>/dev/null"
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*HTTP listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/serve.err")
	[ -n "$PORT" ] && break
	kill -0 "$SPID" 2>/dev/null || { cat "$T/serve.err" >&2; fail "rvf serve exited at start"; }
	sleep 0.1
done
[ -n "$PORT" ] || { cat "$T/serve.err" >&2; fail "rvf serve did not report its port"; }
BASE=http://127.0.0.1:$PORT
log "serving on $BASE"

# req METHOD PATH [JSON]  -> $CODE, body in $T/r.json
req() {
	local m=$1 p=$2
	shift 2
	if [ $# -gt 0 ]; then
		CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
			--data-binary "$1" "$BASE$p")
	else
		CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" "$BASE$p")
	fi
}
# expect_http CODE METHOD PATH [JSON] — status CODE; for errors, the JSON
# error shape {"error": non-empty string, "code": CODE}.
expect_http() {
	local want=$1
	shift
	req "$@"
	[ "$CODE" = "$want" ] || fail "$1 $2: HTTP $CODE, want $want: $(head -c 500 "$T/r.json")"
	ok
	if [ "$want" -ge 400 ]; then
		json_ok "$T/r.json" "(.error | type == \"string\" and length > 0) and .code == $want"
	fi
}

# ---- health / status --------------------------------------------------------
expect_http 200 GET /healthz
json_eq "$T/r.json" .status ok
expect_http 200 GET /v1/health
json_eq "$T/r.json" .status ok
expect_http 200 GET /v1/status
json_eq "$T/r.json" .total_vectors "$N"
json_eq "$T/r.json" .dimension "$D"
json_eq "$T/r.json" .metric l2
json_eq "$T/r.json" .read_only false
json_ok "$T/r.json" 'has("total_segments") and has("file_size") and has("current_epoch") and has("profile_id") and has("dead_space_ratio")'
EPOCH0=$(json_get "$T/r.json" .current_epoch)

# The server holds the writer lock; readers still work.
expect_exit 1 "$RVF" delete "$F" --ids 1
expect_contains "$T/last.err" "lock"
expect_exit 1 "$RVF" serve "$F" --port 0
QUERIES=0

# ---- query == rvf query --json ------------------------------------------------
vec() { python3 -c "import random; r=random.Random($1); print(','.join(str(round(r.uniform(-1,1),4)) for _ in range($D)))"; }
for seed in 1 2 3 4 5; do
	v=$(vec "$seed")
	expect_http 200 POST /v1/query "{\"vector\":[$v],\"k\":10}"
	QUERIES=$((QUERIES + 1))
	run_ok "$RVF" query "$F" -v "$v" -k 10 --json >"$T/cli.json"
	jq -S . "$T/r.json" >"$T/a" && jq -S . "$T/cli.json" >"$T/b"
	cmp -s "$T/a" "$T/b" || { diff "$T/a" "$T/b" | head -20 >&2; fail "HTTP query != CLI query (seed $seed)"; }
	ok
done
json_eq "$T/r.json" .count 10
# filter + metadata + ef_search
FILT='{"eq":{"field":0,"value":3}}'
v=$(vec 9)
expect_http 200 POST /v1/query "{\"vector\":[$v],\"k\":7,\"filter\":$FILT,\"with_metadata\":true,\"ef_search\":64}"
QUERIES=$((QUERIES + 1))
run_ok "$RVF" query "$F" -v "$v" -k 7 --filter "$FILT" --with-metadata --json >"$T/cli.json"
jq -S . "$T/r.json" >"$T/a" && jq -S . "$T/cli.json" >"$T/b"
cmp -s "$T/a" "$T/b" || { diff "$T/a" "$T/b" | head -20 >&2; fail "filtered HTTP query != CLI query"; }
ok
json_ok "$T/r.json" '.count == 7 and all(.results[]; .metadata["0"] == 3)'
# filter given as a string, default k (10), k larger than the store
expect_http 200 POST /v1/query "{\"vector\":[$v],\"filter\":\"{\\\"eq\\\":{\\\"field\\\":1,\\\"value\\\":\\\"odd\\\"}}\"}"
QUERIES=$((QUERIES + 1))
json_ok "$T/r.json" '.count == 10 and all(.results[]; .id % 2 == 1)'
expect_http 200 POST /v1/query "{\"vector\":[$v],\"k\":100000}"
QUERIES=$((QUERIES + 1))
json_eq "$T/r.json" .count "$N"

# ---- ingest: reads see writes at once ----------------------------------------
NEWV="9,9,9,9,9,9,9,9"
expect_http 200 POST /v1/ingest "{\"vectors\":[{\"id\":1000,\"vector\":[$NEWV],\"metadata\":{\"0\":42,\"1\":\"new\"}},{\"id\":1001,\"vector\":[-9,-9,-9,-9,-9,-9,-9,-9]}]}"
json_eq "$T/r.json" .accepted 2
json_eq "$T/r.json" .rejected 0
EPOCH1=$(json_get "$T/r.json" .epoch)
[ "$EPOCH1" -gt "$EPOCH0" ] || fail "ingest epoch $EPOCH1 not above $EPOCH0"
ok
expect_http 200 POST /v1/query "{\"vector\":[$NEWV],\"k\":1,\"with_metadata\":true}"
QUERIES=$((QUERIES + 1))
json_ok "$T/r.json" '.results[0].id == 1000 and .results[0].distance == 0 and .results[0].metadata["0"] == 42 and .results[0].metadata["1"] == "new"'
# the reference's shape: parallel "vectors" (arrays) and "ids"
expect_http 200 POST /v1/ingest '{"vectors":[[1,1,1,1,1,1,1,1],[2,2,2,2,2,2,2,2]],"ids":[2000,2001]}'
json_eq "$T/r.json" .accepted 2
expect_http 200 GET /v1/status
json_eq "$T/r.json" .total_vectors $((N + 4))
# CLI (read-only open) sees the server's writes too
run_ok "$RVF" query "$F" -v 2,2,2,2,2,2,2,2 -k 1 --json >"$T/cli.json"
json_eq "$T/cli.json" '.results[0].id' 2001

# ---- delete -------------------------------------------------------------------
expect_http 200 POST /v1/delete '{"ids":[2000,2001,999999]}'
json_eq "$T/r.json" .deleted 2
expect_http 200 POST /v1/query '{"vector":[2,2,2,2,2,2,2,2],"k":3}'
QUERIES=$((QUERIES + 1))
json_ok "$T/r.json" 'all(.results[]; .id != 2000 and .id != 2001)'
# by filter: field 0 == 4 (ids 4, 9, 14, ...: N/5 of them)
run_ok "$RVF" query "$F" -v "$(vec 1)" -k 100000 --filter '{"eq":{"field":0,"value":4}}' --json >"$T/cli.json"
WANT=$(json_get "$T/cli.json" .count)
[ "$WANT" -eq $((N / 5)) ] || fail "CLI filter count $WANT, want $((N / 5))"
expect_http 200 POST /v1/delete '{"filter":{"eq":{"field":0,"value":4}}}'
json_eq "$T/r.json" .deleted "$WANT"
expect_http 200 GET /v1/status
json_eq "$T/r.json" .total_vectors $((N + 4 - 2 - WANT))

# ---- errors ---------------------------------------------------------------------
expect_http 400 POST /v1/query '{"vector":[1,2,3'
expect_contains "$T/r.json" "invalid JSON"
expect_http 400 POST /v1/query ''
expect_http 400 POST /v1/query '[1,2,3]'
expect_http 400 POST /v1/query '{"k":3}'
expect_contains "$T/r.json" '\"vector\"'
expect_http 400 POST /v1/query '{"vector":"1,2"}'
expect_http 400 POST /v1/query '{"vector":[1,2,3]}'
expect_contains "$T/r.json" "dimension"
expect_http 400 POST /v1/query '{"vector":[1,2,3,4,5,6,7,"x"]}'
expect_http 400 POST /v1/query '{"vector":[1,2,3,4,5,6,7,8],"k":0}'
expect_contains "$T/r.json" "k must be > 0"
expect_http 400 POST /v1/query '{"vector":[1,2,3,4,5,6,7,8],"k":-1}'
expect_http 400 POST /v1/query '{"vector":[1,2,3,4,5,6,7,8],"with_metadata":"yes"}'
expect_http 400 POST /v1/query '{"vector":[1,2,3,4,5,6,7,8],"filter":{"bogus":1}}'
expect_contains "$T/r.json" "invalid filter"
expect_http 400 POST /v1/ingest '{}'
expect_http 400 POST /v1/ingest '{"vectors":[]}'
expect_http 400 POST /v1/ingest '{"vectors":[{"vector":[1,2,3,4,5,6,7,8]}]}'
expect_contains "$T/r.json" '\"id\"'
expect_http 400 POST /v1/ingest '{"vectors":[{"id":5,"vector":[1,2]}]}'
expect_contains "$T/r.json" "dimension"
expect_http 400 POST /v1/ingest '{"vectors":[{"id":-5,"vector":[1,2,3,4,5,6,7,8]}]}'
expect_http 400 POST /v1/ingest '{"vectors":[{"id":5,"vector":[1,2,3,4,5,6,7,8],"metadata":{"x":1}}]}'
expect_http 400 POST /v1/ingest '{"vectors":[[1,2,3,4,5,6,7,8]],"ids":[1,2]}'
expect_contains "$T/r.json" "same length"
expect_http 400 POST /v1/delete '{}'
expect_http 400 POST /v1/delete '{"ids":[]}'
expect_contains "$T/r.json" "ids must not be empty"
expect_http 400 POST /v1/delete '{"ids":[1],"filter":{"eq":{"field":0,"value":1}}}'
expect_http 400 POST /v1/delete '{"ids":["a"]}'
expect_http 404 GET /nope
expect_http 404 POST /v1/compact '{}'
expect_http 404 GET /v1/status/extra
expect_http 405 GET /v1/query
curl -s -D "$T/h" -o /dev/null -X DELETE "$BASE/v1/status"
grep -qi '^Allow: GET' "$T/h" || fail "405 without Allow: GET ($(cat "$T/h"))"
ok
expect_http 405 PUT /v1/ingest '{}'
# nothing was written by the failed requests
expect_http 200 GET /v1/status
json_eq "$T/r.json" .total_vectors $((N + 4 - 2 - WANT))
# 413: announced by Content-Length (refused before the body is read) ...
python3 -c "print('{\"vectors\":[' + ','.join(['{\"id\":1,\"vector\":[1,2,3,4,5,6,7,8]}'] * 3000) + ']}')" >"$T/big.json"
[ "$(stat -c %s "$T/big.json")" -gt 65536 ] || fail "big body too small"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST --data-binary @"$T/big.json" "$BASE/v1/ingest")
assert_eq "$CODE" 413 "oversized body (Content-Length)"
json_ok "$T/r.json" '.code == 413'
# ... and chunked (no length: counted while it arrives)
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/big.json" "$BASE/v1/ingest")
assert_eq "$CODE" 413 "oversized body (chunked)"
json_ok "$T/r.json" '.code == 413'
# a body just under the limit is fine
expect_http 200 POST /v1/query "{\"vector\":[$(vec 3)],\"k\":2$(printf ' %.0s' $(seq 1 200))}"
QUERIES=$((QUERIES + 1))

# ---- concurrency: 8 parallel clients, queries and ingests mixed ---------------
mkdir -p "$T/par"
seq 1 160 | xargs -P 8 -I{} sh -c '
	i={}
	if [ $((i % 4)) -eq 0 ]; then
		curl -s -o "$0/par/$i.json" -w "%{http_code}\n" -X POST \
			--data-binary "{\"vectors\":[{\"id\":$((5000 + i)),\"vector\":[$i,0,0,0,0,0,0,1]}]}" "$1/v1/ingest"
	else
		curl -s -o "$0/par/$i.json" -w "%{http_code}\n" -X POST \
			--data-binary "{\"vector\":[0.$i,0.1,0.2,0.3,0.4,0.5,0.6,0.7],\"k\":5}" "$1/v1/query"
	fi' "$T" "$BASE" >"$T/par.codes"
assert_eq "$(grep -c '^200$' "$T/par.codes")" 160 "parallel requests answered 200"
for i in $(seq 1 160); do
	if [ $((i % 4)) -eq 0 ]; then
		jq -e '.accepted == 1' "$T/par/$i.json" >/dev/null || fail "parallel ingest $i: $(cat "$T/par/$i.json")"
	else
		jq -e '.count == 5 and (.results | length) == 5' "$T/par/$i.json" >/dev/null ||
			fail "parallel query $i: $(cat "$T/par/$i.json")"
	fi
done
ok
QUERIES=$((QUERIES + 120))
expect_http 200 GET /v1/status
TOTAL=$((N + 4 - 2 - WANT + 40))
json_eq "$T/r.json" .total_vectors "$TOTAL"

# ---- metrics ------------------------------------------------------------------------
CODE=$(curl -s -o "$T/metrics.txt" -w '%{http_code}' "$BASE/metrics")
assert_eq "$CODE" 200 "/metrics"
m() { awk -v k="$1" '$1 == k {print $2}' "$T/metrics.txt"; }
assert_eq "$(m 'rvf_http_requests_total{endpoint="/v1/query",status="200"}')" "$QUERIES" "query 200 counter"
assert_eq "$(m rvf_query_duration_seconds_count)" "$QUERIES" "latency histogram count"
assert_eq "$(m 'rvf_query_duration_seconds_bucket{le="+Inf"}')" "$QUERIES" "+Inf bucket"
[ -n "$(m 'rvf_http_requests_total{endpoint="/v1/query",status="400"}')" ] || fail "no query 400 counter"
ok
[ -n "$(m 'rvf_http_requests_total{endpoint="other",status="404"}')" ] || fail "no 404 counter"
ok
[ -n "$(m 'rvf_http_requests_total{endpoint="/v1/ingest",status="413"}')" ] || fail "no 413 counter"
ok
assert_eq "$(m rvf_store_vectors)" "$TOTAL" "rvf_store_vectors gauge"
expect_contains "$T/metrics.txt" "# TYPE rvf_query_duration_seconds histogram"
expect_contains "$T/metrics.txt" "# TYPE rvf_store_epoch gauge"

# ---- SIGTERM: clean shutdown, lock released, writes durable ----------------------
kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
assert_eq "$rc" 0 "rvf serve exit status after SIGTERM"
expect_contains "$T/serve.err" "SIGTERM received"
! curl -s -o /dev/null --max-time 2 "$BASE/healthz" || fail "still answering after SIGTERM"
ok
run_ok "$RVF" status "$F" --json >"$T/st.json"
json_eq "$T/st.json" .total_vectors "$TOTAL"
run_ok "$RVF" query "$F" -v "$NEWV" -k 1 --json >"$T/cli.json"
json_eq "$T/cli.json" '.results[0].id' 1000
expect_exit 0 "$RVF" delete "$F" --ids 1000

pass
