#!/usr/bin/env bash
# serve_http.sh — `rvf serve` (HTTP/JSON, libmicrohttpd) end to end with curl:
# every endpoint (status, health, query, ingest, delete, metrics), query
# results identical to `rvf query --json` on the same file (plain, filtered,
# with metadata), reads seeing writes at once, every error case (400 bad
# JSON / missing field / wrong type / wrong dimension / k=0 / bad filter,
# 404, 405 + Allow, 413 by Content-Length and chunked), concurrent requests
# (xargs -P 8 curl), the writer lock while serving, and a clean shutdown on
# SIGTERM (exit 0, lock released, writes durable). Hardening: bearer token
# (401 missing/wrong, 403 writes without --token-file, --token-reads, token
# files others can read refused), 415 for a cross-origin-style text/plain
# POST, no CORS headers, 403 for a foreign Host (DNS rebinding), 1,100 idle
# partial connections while /healthz still answers, 40 slow 4 MiB bodies
# held to the --max-inflight budget (RSS measured, 503 for a large write,
# freed by the --min-body-rate reaper), --wait-timeout. More attacks:
# serve_abuse.sh.
# ~45 s on a loaded 2-core machine.
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
TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '\n')
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
AUTH="Authorization: Bearer $TOKEN"

# start_server ERRFILE ARGS... -> $SPID, $PORT (of that server)
start_server() {
	local err=$1
	shift
	"$RVF" serve "$@" --port 0 2>"$err" &
	SPID=$!
	on_exit "kill -KILL $SPID 2>/dev/null"
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*HTTP listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$err")
		[ -n "$PORT" ] && break
		kill -0 "$SPID" 2>/dev/null || { cat "$err" >&2; fail "rvf serve exited at start"; }
		sleep 0.1
	done
	[ -n "$PORT" ] || { cat "$err" >&2; fail "rvf serve did not report its port"; }
}
stop_server() {
	kill -TERM "$1"
	wait "$1" || true
}

start_server "$T/serve.err" "$F" --max-body 65536 --threads 4 --token-file "$T/token"
BASE=http://127.0.0.1:$PORT
log "serving on $BASE"

# req METHOD PATH [JSON]  -> $CODE, body in $T/r.json (with the token)
req() {
	local m=$1 p=$2
	shift 2
	if [ $# -gt 0 ]; then
		CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
			-H "$AUTH" --data-binary "$1" "$BASE$p")
	else
		CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" -H "$AUTH" "$BASE$p")
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
# reals print as their shortest round-tripping text: a float32 distance of
# 0.3f*0.3f is 0.09 (not 0.090000003576278687), a double 0.3 is 0.3
expect_http 200 POST /v1/ingest '{"vectors":[{"id":3000,"vector":[0.3,0,0,0,0,0,0,0],"metadata":{"0":0.3}}]}'
expect_http 200 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"k":1,"filter":{"eq":{"field":0,"value":0.3}},"with_metadata":true}'
QUERIES=$((QUERIES + 1))
assert_eq "$(cat "$T/r.json")" '{"count":1,"results":[{"distance":0.09,"id":3000,"metadata":{"0":0.3}}]}' "shortest reals over HTTP"
expect_http 200 POST /v1/delete '{"ids":[3000]}'
# named metadata fields: ingest, filter (both grammars) and results by name
expect_http 200 POST /v1/ingest '{"vectors":[{"id":3001,"vector":[0.5,0,0,0,0,0,0,0],"metadata":{"color":"teal","weight":2}}]}'
expect_http 200 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"k":3,"filter":{"eq":{"field":"color","value":"teal"}},"with_metadata":true}'
QUERIES=$((QUERIES + 1))
assert_eq "$(cat "$T/r.json")" '{"count":1,"results":[{"distance":0.25,"id":3001,"metadata":{"color":"teal","weight":2}}]}' "names over HTTP"
expect_http 200 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"k":3,"filter":{"op":"eq","field":"weight","value":"2"}}'
QUERIES=$((QUERIES + 1))
json_eq "$T/r.json" '.results[0].id' 3001
expect_http 400 POST /v1/ingest '{"vectors":[{"id":3002,"vector":[1,2,3,4,5,6,7,8],"metadata":{"color":5}}]}'
expect_contains "$T/r.json" "field 'color' is string, got u64"
expect_http 400 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"filter":{"eq":{"field":"colour","value":"teal"}}}'
expect_contains "$T/r.json" "unknown field name 'colour'"
expect_http 200 POST /v1/delete '{"ids":[3001]}'

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
expect_http 400 POST /v1/ingest '{"vectors":[{"id":5,"vector":[1,2,3,4,5,6,7,8],"metadata":{"1x":1}}]}'
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
# reals print as their shortest round-tripping text: a float32 distance of
# 0.3f*0.3f is 0.09 (not 0.090000003576278687), a double 0.3 is 0.3
expect_http 200 POST /v1/ingest '{"vectors":[{"id":3000,"vector":[0.3,0,0,0,0,0,0,0],"metadata":{"0":0.3}}]}'
expect_http 200 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"k":1,"filter":{"eq":{"field":0,"value":0.3}},"with_metadata":true}'
QUERIES=$((QUERIES + 1))
assert_eq "$(cat "$T/r.json")" '{"count":1,"results":[{"distance":0.09,"id":3000,"metadata":{"0":0.3}}]}' "shortest reals over HTTP"
expect_http 200 POST /v1/delete '{"ids":[3000]}'
# named metadata fields: ingest, filter (both grammars) and results by name
expect_http 200 POST /v1/ingest '{"vectors":[{"id":3001,"vector":[0.5,0,0,0,0,0,0,0],"metadata":{"color":"teal","weight":2}}]}'
expect_http 200 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"k":3,"filter":{"eq":{"field":"color","value":"teal"}},"with_metadata":true}'
QUERIES=$((QUERIES + 1))
assert_eq "$(cat "$T/r.json")" '{"count":1,"results":[{"distance":0.25,"id":3001,"metadata":{"color":"teal","weight":2}}]}' "names over HTTP"
expect_http 200 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"k":3,"filter":{"op":"eq","field":"weight","value":"2"}}'
QUERIES=$((QUERIES + 1))
json_eq "$T/r.json" '.results[0].id' 3001
expect_http 400 POST /v1/ingest '{"vectors":[{"id":3002,"vector":[1,2,3,4,5,6,7,8],"metadata":{"color":5}}]}'
expect_contains "$T/r.json" "field 'color' is string, got u64"
expect_http 400 POST /v1/query '{"vector":[0,0,0,0,0,0,0,0],"filter":{"eq":{"field":"colour","value":"teal"}}}'
expect_contains "$T/r.json" "unknown field name 'colour'"
expect_http 200 POST /v1/delete '{"ids":[3001]}'
# 413: announced by Content-Length (refused before the body is read) ...
python3 -c "print('{\"vectors\":[' + ','.join(['{\"id\":1,\"vector\":[1,2,3,4,5,6,7,8]}'] * 3000) + ']}')" >"$T/big.json"
[ "$(stat -c %s "$T/big.json")" -gt 65536 ] || fail "big body too small"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST -H "$AUTH" -H 'Content-Type: application/json' \
	--data-binary @"$T/big.json" "$BASE/v1/ingest")
assert_eq "$CODE" 413 "oversized body (Content-Length)"
json_ok "$T/r.json" '.code == 413'
# ... and chunked (no length: counted while it arrives)
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
	-H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$T/big.json" "$BASE/v1/ingest")
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
		curl -s -o "$0/par/$i.json" -w "%{http_code}\n" -X POST -H "$2" -H "Content-Type: application/json" \
			--data-binary "{\"vectors\":[{\"id\":$((5000 + i)),\"vector\":[$i,0,0,0,0,0,0,1]}]}" "$1/v1/ingest"
	else
		curl -s -o "$0/par/$i.json" -w "%{http_code}\n" -X POST -H "Content-Type: application/json" \
			--data-binary "{\"vector\":[0.$i,0.1,0.2,0.3,0.4,0.5,0.6,0.7],\"k\":5}" "$1/v1/query"
	fi' "$T" "$BASE" "$AUTH" >"$T/par.codes"
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

# ---- access: no token file -> writes refused, reads open ----------------------
start_server "$T/s2.err" "$F"
B2=http://127.0.0.1:$PORT
expect_contains "$T/s2.err" "writes disabled"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -H 'Content-Type: application/json' -H "$AUTH" \
	--data-binary '{"ids":[1]}' "$B2/v1/delete")
assert_eq "$CODE" 403 "write without --token-file"
expect_contains "$T/r.json" "--token-file"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' "$B2/v1/status")
assert_eq "$CODE" 200 "read without --token-file"
stop_server "$SPID"

# ---- token files: others must not read them, the token must be sane ------------
printf '%s\n' "$TOKEN" >"$T/tok644"
chmod 644 "$T/tok644"
expect_exit 1 "$RVF" serve "$F" --port 0 --token-file "$T/tok644"
expect_contains "$T/last.err" "chmod 600"
printf 'short\n' >"$T/tokshort"
chmod 600 "$T/tokshort"
expect_exit 1 "$RVF" serve "$F" --port 0 --token-file "$T/tokshort"
expect_contains "$T/last.err" "16..1024"
printf 'has a space in it, 1234567890\n' >"$T/tokspace"
chmod 600 "$T/tokspace"
expect_exit 1 "$RVF" serve "$F" --port 0 --token-file "$T/tokspace"
expect_exit 1 "$RVF" serve "$F" --port 0 --token-file "$T/missing"
expect_exit 1 "$RVF" serve "$F" --port 0 --token-file "$T"
cp "$T/token" "$T/tok620" && chmod 620 "$T/tok620"
expect_exit 1 "$RVF" serve "$F" --port 0 --token-file "$T/tok620"
expect_contains "$T/last.err" "chmod 600"
# group-readable is accepted (the token passes; the missing store fails next)
cp "$T/token" "$T/tok640" && chmod 640 "$T/tok640"
expect_exit 1 "$RVF" serve "$T/no-store.rvf" --port 0 --token-file "$T/tok640"
expect_contains "$T/last.err" "no such file"
expect_exit 2 "$RVF" serve "$F" --port 0 --token-reads
expect_exit 2 "$RVF" serve "$F" --port 0 --max-body 100 --max-inflight 99

# ---- --token-reads: reads need the token, health never ----------------------------
start_server "$T/s3.err" "$F" --token-file "$T/token" --token-reads
B3=http://127.0.0.1:$PORT
CODE=$(curl -s -D "$T/h" -o "$T/r.json" -w '%{http_code}' "$B3/v1/status")
assert_eq "$CODE" 401 "read without the token under --token-reads"
grep -qi '^WWW-Authenticate: Bearer' "$T/h" || fail "401 without WWW-Authenticate: Bearer"
ok
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong-token-0123456789' "$B3/metrics")
assert_eq "$CODE" 401 "metrics with a wrong token"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$B3/v1/status")
assert_eq "$CODE" 200 "read with the token"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$B3/healthz")
assert_eq "$CODE" 200 "healthz without the token"
stop_server "$SPID"

# ---- the hardened server: token, content type, Host, limits ----------------------
# 4 MiB bodies, 16 MiB in flight (the default 4x), default connection limits.
start_server "$T/s4.err" "$F" --token-file "$T/token" --max-body 4194304 --idle-timeout 30
S4=$SPID
B4=http://127.0.0.1:$PORT
st_total() { curl -s -H "$AUTH" "$B4/v1/status" | jq .total_vectors; }
N0=$(st_total)
W='{"vectors":[{"id":777777,"vector":[1,2,3,4,5,6,7,8]}]}'
# post CTYPE TOKEN-HEADER [extra curl args] -> $CODE
post() {
	local ct=$1 auth=$2 args=()
	shift 2
	[ -z "$ct" ] || args+=(-H "Content-Type: $ct")
	[ -z "$auth" ] || args+=(-H "$auth")
	CODE=$(curl -s -D "$T/h" -o "$T/r.json" -w '%{http_code}' -X POST "${args[@]}" "$@" \
		--data-binary "$W" "$B4/v1/ingest")
}
post application/json ""
assert_eq "$CODE" 401 "write without a token"
grep -qi '^WWW-Authenticate: Bearer' "$T/h" || fail "401 without WWW-Authenticate"
ok
post application/json "Authorization: Bearer ${TOKEN}x"
assert_eq "$CODE" 401 "write with a wrong token"
post application/json "Authorization: Bearer ${TOKEN:0:8}"
assert_eq "$CODE" 401 "write with a token prefix"
post application/json "Authorization: Basic $(printf 'a:%s' "$TOKEN" | base64 -w0)"
assert_eq "$CODE" 401 "write with Basic auth"
# What a cross-origin page can send without a preflight: text/plain, form or
# multipart (and no Authorization header) — refused, nothing written.
post text/plain "" -H 'Origin: http://evil.example'
assert_eq "$CODE" 401 "cross-origin text/plain write"
post text/plain "$AUTH" -H 'Origin: http://evil.example'
assert_eq "$CODE" 415 "text/plain write even with the token"
json_ok "$T/r.json" '.code == 415'
post application/x-www-form-urlencoded "$AUTH"
assert_eq "$CODE" 415 "form write"
post "" "$AUTH" -H 'Content-Type:'
assert_eq "$CODE" 415 "write without Content-Type"
post application/jsonx "$AUTH"
assert_eq "$CODE" 415 "application/jsonx"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
	-H 'Origin: http://evil.example' --data-binary '{"vector":[1,2,3,4,5,6,7,8]}' "$B4/v1/query")
assert_eq "$CODE" 415 "cross-origin text/plain query"
assert_eq "$(st_total)" "$N0" "nothing written by refused requests"
# a CORS preflight gets no allowance; no response ever carries Access-Control-*
CODE=$(curl -s -D "$T/h" -o /dev/null -w '%{http_code}' -X OPTIONS -H 'Origin: http://evil.example' \
	-H 'Access-Control-Request-Method: POST' "$B4/v1/ingest")
assert_eq "$CODE" 405 "preflight"
post "application/json; charset=utf-8" "$AUTH" -H 'Origin: http://evil.example'
assert_eq "$CODE" 200 "JSON write with the token"
cat "$T/h" >>"$T/h.all"
curl -s -D - -o /dev/null -H 'Origin: http://evil.example' "$B4/v1/status" >>"$T/h.all"
! grep -qi '^Access-Control-' "$T/h.all" || fail "a response carries Access-Control-*: $(grep -i '^Access-Control' "$T/h.all")"
ok
[ "$(grep -ci '^X-Content-Type-Options: nosniff' "$T/h.all")" = 2 ] || fail "responses without nosniff"
ok
assert_eq "$(st_total)" "$((N0 + 1))" "the authorised write landed"
# DNS rebinding: a page on evil.example resolving to 127.0.0.1 is refused
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -H 'Host: evil.example' "$B4/v1/status")
assert_eq "$CODE" 403 "foreign Host on a loopback bind"
expect_contains "$T/r.json" "DNS rebinding"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: localhost:$PORT" "$B4/v1/status")
assert_eq "$CODE" 200 "Host localhost"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: [::1]:$PORT" "$B4/v1/status")
assert_eq "$CODE" 200 "Host [::1]"
# anything after the port is not a loopback name (an outside test got 200)
for h in "localhost:evil.com" "127.0.0.1:1@evil.com" "localhost:" "[::1]:x" "localhost:99999"; do
	CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $h" "$B4/v1/status")
	assert_eq "$CODE" 403 "Host $h"
done

# ids up to 2^64-1 over HTTP: exact in, exact out, deletable
BIG=18446744073709551615
BIG2=9223372036854775808
BASE=$B4
expect_http 200 POST /v1/ingest '{"vectors":[{"id":'"$BIG"',"vector":[7,7,7,7,7,7,7,7]},{"id":'"$BIG2"',"vector":[6,6,6,6,6,6,6,6]}]}'
json_eq "$T/r.json" .accepted 2
expect_http 200 POST /v1/query '{"vector":[7,7,7,7,7,7,7,7],"k":2}'
grep -q "\"id\":$BIG[,}]" "$T/r.json" || fail "id 2^64-1 not printed exactly: $(cat "$T/r.json")"
grep -q "\"id\":$BIG2[,}]" "$T/r.json" || fail "id 2^63 not printed exactly: $(cat "$T/r.json")"
ok
expect_http 400 POST /v1/ingest '{"vectors":[{"id":18446744073709551616,"vector":[7,7,7,7,7,7,7,7]}]}'
expect_http 400 POST /v1/ingest '{"vectors":[{"id":"18446744073709551615","vector":[7,7,7,7,7,7,7,7]}]}'
expect_http 200 POST /v1/delete '{"ids":['"$BIG,$BIG2"']}'
json_eq "$T/r.json" .deleted 2

# 1,100 idle partial connections: 500 from 127.0.0.2 and 30 from each of 20
# more addresses, each stopping mid-header. --max-per-ip (32) caps each
# address, so /healthz and a query from 127.0.0.1 still answer.
cat >"$T/hold.py" <<'PY'
import json, resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
port = int(sys.argv[1])
plan = [("127.0.0.2", 500)] + [("127.0.0.%d" % (10 + i), 30) for i in range(20)]
conns = []
for ip, n in plan:
    for _ in range(n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind((ip, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"POST /v1/query HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        except OSError:
            s.close()
            continue
        conns.append((ip, s))
time.sleep(1.5)
held = {}
for ip, s in conns:
    s.setblocking(False)
    try:
        alive = s.recv(1) == b""  # b"": closed by the server
        alive = not alive
    except BlockingIOError:
        alive = True
    except OSError:
        alive = False
    if alive:
        held[ip] = held.get(ip, 0) + 1
print(json.dumps({"attempted": sum(n for _, n in plan), "connected": len(conns),
                  "held": sum(held.values()), "held_one_ip": held.get("127.0.0.2", 0)}), flush=True)
time.sleep(120)
PY
python3 "$T/hold.py" "$PORT" >"$T/hold.json" &
HOLD=$!
on_exit "kill $HOLD 2>/dev/null"
for _ in $(seq 1 300); do [ -s "$T/hold.json" ] && break; sleep 0.1; done
[ -s "$T/hold.json" ] || fail "hold.py did not report"
log "idle partial connections: $(cat "$T/hold.json")"
json_ok "$T/hold.json" '.attempted == 1100 and .held_one_ip <= 32 and .held >= 600 and .held <= 672'
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' --max-time 5 "$B4/healthz")
assert_eq "$CODE" 200 "/healthz while 1,100 partial connections are attempted"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
	--data-binary '{"vector":[1,2,3,4,5,6,7,8],"k":1}' "$B4/v1/query")
assert_eq "$CODE" 200 "a query while 1,100 partial connections are attempted"
kill "$HOLD" 2>/dev/null || true
wait "$HOLD" 2>/dev/null || true

# 40 slow 4 MiB bodies (announced by Content-Length, sent but for the last
# KiB, then held). Bytes are reserved as they arrive, past the first 16 KiB of
# each body: --max-inflight 16 MiB buffers ~4 of them, the rest are drained
# unbuffered, so the server's memory grows by ~16 MiB, not 160 MiB. A small
# write still lands (its bytes need no budget), a 100 KiB one gets 503 while
# the budget is used up, and the stalled bodies are dropped by the
# --min-body-rate reaper (no byte in a 4 s window), which frees the budget
# while the clients still hold their connections.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$S4/status"; }
reserved() { curl -s -H "$AUTH" "$B4/metrics" | awk '$1 == "rvf_http_body_bytes_reserved" {print $2}'; }
RSS0=$(rss_kib)
cat >"$T/slow.py" <<'PY'
import json, socket, sys, time
port, token, n, size = int(sys.argv[1]), sys.argv[2], 40, 4 << 20
hdr = ("POST /v1/ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
       "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (token, size)).encode()
body = b"{" + b" " * (size - 1024 - 1)
conns = []
for i in range(n):  # from 4 addresses: --max-per-ip is 32
    s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                 source_address=("127.0.4.%d" % (i % 4 + 1), 0))
    s.sendall(hdr + body)
    conns.append(s)
print(json.dumps({"sent": len(conns)}), flush=True)
time.sleep(120)
PY
python3 "$T/slow.py" "$PORT" "$TOKEN" >"$T/slow.json" &
SLOW=$!
on_exit "kill $SLOW 2>/dev/null"
for _ in $(seq 1 300); do [ -s "$T/slow.json" ] && break; sleep 0.1; done
[ -s "$T/slow.json" ] || fail "slow.py did not report"
json_eq "$T/slow.json" .sent 40
SENT_AT=$SECONDS
RES=$(reserved)
RSS1=$(rss_kib)
log "slow bodies: $(cat "$T/slow.json"), reserved $RES bytes, server RSS $RSS0 KiB -> $RSS1 KiB (+$(((RSS1 - RSS0) / 1024)) MiB)"
[ "$RES" -le 16777216 ] || fail "reserved $RES bytes, more than --max-inflight"
ok
[ $((RSS1 - RSS0)) -lt $((40 * 1024)) ] || fail "server RSS grew by $(((RSS1 - RSS0) / 1024)) MiB holding 40 slow 4 MiB bodies"
ok
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$B4/healthz")
assert_eq "$CODE" 200 "/healthz while slow bodies are held"
post application/json "$AUTH" --max-time 5
assert_eq "$CODE" 200 "a small write while slow bodies are held"
python3 -c "import json; print(json.dumps({'vectors': [{'id': 880000 + i, 'vector': [i, 0, 0, 0, 0, 0, 0, 1]} for i in range(2600)]}))" >"$T/w100k.json"
[ "$(stat -c %s "$T/w100k.json")" -gt 102400 ] || fail "100 KiB write too small"
w100k() {
	CODE=$(curl -s -D "$T/h" -o "$T/r.json" -w '%{http_code}' --max-time 10 -X POST -H "$AUTH" \
		-H 'Content-Type: application/json' --data-binary @"$T/w100k.json" "$B4/v1/ingest")
}
# 503 needs more than 84 KiB reserved by others: 4 bodies of 4 MiB - 17 KiB
# leave 68 KiB of the 16 MiB free.
[ "$RES" -gt $((16777216 - 102400 + 16384)) ] || fail "only $RES bytes reserved: the budget is not used up"
ok
w100k
assert_eq "$CODE" 503 "a 100 KiB write while the budget is used up"
grep -qi '^Retry-After: 1' "$T/h" || fail "503 without Retry-After"
ok
for _ in $(seq 1 200); do
	[ "$(reserved)" = 0 ] && break
	sleep 0.1
done
assert_eq "$(reserved)" 0 "budget released by the reaper while the slow clients hold their connections"
log "budget released $((SECONDS - SENT_AT)) s after the bodies were sent"
kill -0 "$SLOW" 2>/dev/null || fail "slow.py exited early"
ok
w100k
assert_eq "$CODE" 200 "a 100 KiB write once the budget is free"
kill "$SLOW" 2>/dev/null || true
wait "$SLOW" 2>/dev/null || true

# --wait-timeout: a second server gives up on the held writer lock
expect_exit 1 "$RVF" serve "$F" --port 0 --wait-timeout 0.3
expect_contains "$T/last.err" "--wait-timeout 0.3"
stop_server "$S4"

# --idle-timeout closes a half-sent request; --body-timeout drops a body
# that keeps trickling
start_server "$T/s5.err" "$F" --token-file "$T/token" --idle-timeout 2 --body-timeout 1
cat >"$T/tmo.py" <<'PY'
import json, socket, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
def closed(s, wait):
    s.settimeout(wait)
    try:
        return s.recv(4096) == b""
    except socket.timeout:
        return False
    except OSError:
        return True
idle = socket.create_connection(("127.0.0.1", port))
idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
slow = socket.create_connection(("127.0.0.1", port))
slow.sendall(("POST /v1/query HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              "Authorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{" % token).encode())
for _ in range(3):  # a byte every 0.8 s: never idle, but slower than 1 s in total
    time.sleep(0.8)
    try:
        slow.sendall(b" ")
    except OSError:
        break
print(json.dumps({"slow_closed": closed(slow, 3), "idle_closed": closed(idle, 10)}), flush=True)
PY
python3 "$T/tmo.py" "$PORT" "$TOKEN" >"$T/tmo.json"
log "timeouts: $(cat "$T/tmo.json")"
json_ok "$T/tmo.json" '.slow_closed and .idle_closed'
CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
assert_eq "$CODE" 200 "healthz after the timeouts"
stop_server "$SPID"

# a non-loopback bind warns when reads are open, and does not check Host
"$RVF" serve "$F" --port 0 --bind 0.0.0.0 2>"$T/s6.err" &
S6=$!
on_exit "kill -KILL $S6 2>/dev/null"
for _ in $(seq 1 100); do grep -q "listening" "$T/s6.err" && break; sleep 0.1; done
expect_contains "$T/s6.err" "warning: 0.0.0.0 is not a loopback address"
P6=$(sed -n 's/.*HTTP listening on 0\.0\.0\.0:\([0-9]*\) .*/\1/p' "$T/s6.err")
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: rvf.example' "http://127.0.0.1:$P6/v1/status")
assert_eq "$CODE" 200 "any Host on a non-loopback bind"
stop_server "$S6"

pass
