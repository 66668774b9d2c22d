#!/usr/bin/env bash
# serve_abuse.sh — `rvf serve` against the attacks an outside test found
# after the first hardening (issue 12), each with a well-behaved client that
# must still be answered while the attack runs:
#   - ambiguous headers: Host, Content-Length, Authorization, Content-Type or
#     Transfer-Encoding twice, Content-Length with Transfer-Encoding -> 400
#     and the connection closed (two Host headers used to hang / answer);
#   - 4 unauthenticated /v1/query connections announcing 16 MiB (they used to
#     reserve the whole in-flight budget, so every other POST got 503) ->
#     413 at once, a concurrent query answers 200;
#   - 40 slow bodies from 40 addresses trickling 2 bytes/s -> dropped by the
#     --min-body-rate reaper within seconds, a query answers meanwhile;
#   - a write without the token announcing 16 MiB -> 401 before any body
#     byte is reserved;
#   - the connection table filled from 50 addresses in 127.0.3.0/24 (and
#     kept full) -> the oldest idle connections are evicted, /healthz and a
#     query answer.
# Run under `flock /tmp/rvf-net.lock` (binds loopback ports). ~40 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd curl jq python3
[ -x "$RVF" ] || fail "$RVF not built"
"$RVF" serve "$T/none.rvf" --port 0 >/dev/null 2>"$T/probe.err" || true
if grep -q "built without libmicrohttpd" "$T/probe.err"; then
	skip "!!! $RVF was built without libmicrohttpd — rvf serve was NOT tested"
fi

F=$T/s.rvf
D=8
expect_exit 0 "$RVF" create "$F" -d "$D" -m l2
python3 - "$D" >"$T/data.json" <<'PY'
import json, sys
d = int(sys.argv[1])
json.dump([{"id": i, "vector": [float((i * 7 + j) % 11) for j in range(d)]} for i in range(50)],
          sys.stdout)
PY
expect_exit 0 "$RVF" ingest "$F" -i "$T/data.json"
TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '\n')
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
AUTH="Authorization: Bearer $TOKEN"
Q='{"vector":[1,2,3,4,5,6,7,8],"k":3}'

# start_server ERRFILE ARGS... -> $SPID, $PORT, $B
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
	B=http://127.0.0.1:$PORT
}
# stop_server PID ERRFILE: SIGTERM, a clean exit 0 (under ASan: no error,
# no leak)
stop_server() {
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	[ "$rc" = 0 ] || { tail -n 40 "$2" >&2; fail "rvf serve exited $rc after SIGTERM"; }
	ok
}
metric() { curl -s --max-time 5 -H "$AUTH" "$B/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
# legit_query WHAT: a well-formed query from 127.0.0.1 must get 200 within 5 s
legit_query() {
	local code
	code=$(curl -s -o "$T/legit.json" -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "$Q" "$B/v1/query") || true
	assert_eq "$code" 200 "a well-formed query while $1"
	json_eq "$T/legit.json" .count 3
}
legit_health() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$B/healthz") || true
	assert_eq "$code" 200 "/healthz while $1"
}
# run_bg NAME SCRIPT ARGS...: a python attacker in the background that
# prints one JSON line when it is in place -> $BGPID; waits (<= 30 s) for it
run_bg() {
	local name=$1
	shift
	python3 "$@" >"$T/$name.json" 2>"$T/$name.err" &
	BGPID=$!
	on_exit "kill $BGPID 2>/dev/null"
	for _ in $(seq 1 300); do [ -s "$T/$name.json" ] && break; sleep 0.1; done
	[ -s "$T/$name.json" ] || { cat "$T/$name.err" >&2; fail "$name did not report"; }
	log "$name: $(head -c 400 "$T/$name.json")"
}
stop_bg() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

expect_exit 2 "$RVF" serve "$F" --port 0 --min-body-rate x
expect_exit 2 "$RVF" serve "$F" --port 0 --min-body-rate 1073741825
start_server "$T/s1.err" "$F" --token-file "$T/token"
log "serving on $B (default limits)"

# ---- ambiguous headers: 400 + connection closed, never a hang or a pick --------
cat >"$T/dup.py" <<'PY'
import json, socket, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
body = b'{"vectors":[{"id":900,"vector":[9,9,9,9,9,9,9,9]}]}'
qb = b'{"vector":[1,2,3,4,5,6,7,8],"k":1}'
J = b"Content-Type: application/json\r\n"
A = ("Authorization: Bearer %s\r\n" % token).encode()
def post(path, hdrs, b):
    return b"POST " + path + b" HTTP/1.1\r\n" + hdrs + b"\r\n" + b
L = lambda b: b"Content-Length: %d\r\n" % len(b)
cases = {
    "host_twice_get": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
    "host_twice_same": b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n",
    "host_twice_write": post(b"/v1/ingest", b"Host: localhost\r\nHost: evil.example\r\n" + J + A + L(body), body),
    "content_length_twice": post(b"/v1/query", b"Host: localhost\r\n" + J + L(qb) + b"Content-Length: 5\r\n", qb),
    "content_length_twice_same": post(b"/v1/query", b"Host: localhost\r\n" + J + L(qb) + L(qb), qb),
    "authorization_twice": post(b"/v1/ingest", b"Host: localhost\r\n" + J + A +
                                b"Authorization: Bearer not-the-token-0123456789\r\n" + L(body), body),
    "content_type_twice": post(b"/v1/ingest", b"Host: localhost\r\n" + J +
                               b"Content-Type: text/plain\r\n" + A + L(body), body),
    "length_and_chunked": post(b"/v1/query", b"Host: localhost\r\n" + J + L(qb) +
                               b"Transfer-Encoding: chunked\r\n", b"%x\r\n" % len(qb) + qb + b"\r\n0\r\n\r\n"),
    "content_length_list": post(b"/v1/query", b"Host: localhost\r\n" + J +
                                b"Content-Length: %d, %d\r\n" % (len(qb), len(qb)), qb),
    "chunked_twice": post(b"/v1/query", b"Host: localhost\r\n" + J + b"Transfer-Encoding: chunked\r\n"
                          b"Transfer-Encoding: chunked\r\n", b"%x\r\n" % len(qb) + qb + b"\r\n0\r\n\r\n"),
}
out = {}
for name, raw in cases.items():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    t0, got, closed = time.time(), b"", False
    try:
        while time.time() - t0 < 5:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            got += d
    except socket.timeout:
        pass
    except OSError:
        closed = True
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
    try:
        j = json.loads(rest)
    except ValueError:
        j = None
    out[name] = {"status": status, "closed": closed, "secs": round(time.time() - t0, 2),
                 "json_400": isinstance(j, dict) and j.get("code") == 400 and "ambiguous" in j.get("error", "")}
print(json.dumps(out))
PY
python3 "$T/dup.py" "$PORT" "$TOKEN" >"$T/dup.json"
log "duplicate headers: $(cat "$T/dup.json")"
for c in $(jq -r 'keys[]' "$T/dup.json"); do
	# a Content-Length list is refused by libmicrohttpd itself (HTML body)
	j400=".$c.json_400"
	[ "$c" != content_length_list ] || j400=true
	json_ok "$T/dup.json" ".$c.status == 400 and .$c.closed and $j400 and .$c.secs < 3" ||
		fail "duplicate headers, case $c: $(jq -c ".$c" "$T/dup.json")"
done
assert_eq "$(jq 'length' "$T/dup.json")" 10 "duplicate-header cases run"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -H "$AUTH" "$B/v1/status")
assert_eq "$CODE" 200 "status after the duplicate-header requests"
json_eq "$T/r.json" .total_vectors 50

# ---- F4a: 4 unauthenticated slow queries announcing 16 MiB ---------------------
cat >"$T/big16.py" <<'PY'
import json, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
hdr = (b"POST /v1/query HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
       b"Content-Length: 16777216\r\n\r\n")
conns, statuses = [], []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(hdr + b'{"vector":[')
    conns.append(s)
for s in conns:
    try:
        line = s.recv(4096).split(b"\r\n")[0]
        statuses.append(int(line.split(b" ")[1]) if line.startswith(b"HTTP/1.1 ") else 0)
    except OSError:
        statuses.append(0)
print(json.dumps({"statuses": statuses}), flush=True)
time.sleep(60)
PY
run_bg big16 "$T/big16.py" "$PORT" 4
json_ok "$T/big16.json" '.statuses == [413, 413, 413, 413]'
legit_query "4 queries announcing 16 MiB are held open"
assert_eq "$(metric rvf_http_body_bytes_reserved)" 0 "bytes reserved for announced-only bodies"
stop_bg "$BGPID"

# ---- the /v1/query body limit: 64 KiB + 64 bytes per dimension -----------------
QLIM=$((65536 + 64 * D))
python3 -c "import sys; b=b'$Q'; sys.stdout.buffer.write(b + b' ' * ($QLIM - len(b)))" >"$T/qlim.json"
assert_eq "$(stat -c %s "$T/qlim.json")" "$QLIM" "padded query size"
qpost() {
	CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' "$@" \
		"$B/v1/query")
}
qpost --data-binary @"$T/qlim.json"
assert_eq "$CODE" 200 "a query body of exactly the limit ($QLIM bytes)"
printf ' ' >>"$T/qlim.json"
qpost --data-binary @"$T/qlim.json"
assert_eq "$CODE" 413 "a query body one byte over the limit"
expect_contains "$T/r.json" "limit of $QLIM bytes for /v1/query"
qpost -H 'Transfer-Encoding: chunked' --data-binary @"$T/qlim.json"
assert_eq "$CODE" 413 "a chunked query body one byte over the limit"

# ---- F4b: 40 slow query bodies from 40 addresses --------------------------------
# Each announces the largest query body, sends 40 KiB at once, then 1 byte
# every 0.5 s (below --min-body-rate 4096 B/s).
cat >"$T/trickle.py" <<'PY'
import json, socket, sys, time
port, n, clen = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hdr = (b"POST /v1/query HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\n\r\n" % clen)
conns = []
for i in range(n):
    s = socket.socket()
    s.settimeout(5)
    s.bind(("127.0.2.%d" % (i + 1), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(hdr + b"{" + b" " * (40 << 10))
    conns.append(s)
t0 = time.time()
print(json.dumps({"open": len(conns)}), flush=True)
alive, closed_at = set(range(n)), {}
while alive and time.time() - t0 < 25:
    time.sleep(0.5)
    for i in list(alive):
        try:
            conns[i].sendall(b" ")
        except OSError:
            alive.discard(i)
            closed_at[i] = time.time() - t0
print(json.dumps({"dropped": len(closed_at), "last_drop_s": round(max(closed_at.values(), default=-1), 1)}),
      flush=True)
time.sleep(60)
PY
run_bg trickle "$T/trickle.py" "$PORT" 40 "$QLIM"
json_eq "$T/trickle.json" .open 40
R=$(metric rvf_http_body_bytes_reserved)
log "reserved while 40 slow bodies are open: $R bytes"
[ "$R" -le $((40 * (QLIM - 16384))) ] || fail "reserved $R bytes, more than the bodies brought"
ok
legit_query "40 slow bodies trickle in"
legit_health "40 slow bodies trickle in"
for _ in $(seq 1 300); do [ "$(wc -l <"$T/trickle.json")" -ge 2 ] && break; sleep 0.1; done
tail -n 1 "$T/trickle.json" >"$T/trickle2.json"
log "slow bodies: $(cat "$T/trickle2.json")"
# dropped at the second 4 s window (the first got 40 KiB), well before
# --body-timeout (120 s) and --idle-timeout (30 s)
json_ok "$T/trickle2.json" '.dropped == 40 and .last_drop_s <= 15'
[ "$(metric rvf_http_slow_bodies_dropped_total)" -ge 40 ] || fail "slow bodies not counted"
ok
assert_eq "$(metric rvf_http_body_bytes_reserved)" 0 "budget released once the slow bodies are dropped"
stop_bg "$BGPID"

# ---- the token is checked before any body byte is accepted ---------------------
cat >"$T/noauth.py" <<'PY'
import json, socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
          b"Content-Length: 16777216\r\n\r\n")
line = s.recv(4096).split(b"\r\n")[0]
print(json.dumps({"status": int(line.split(b" ")[1])}), flush=True)
PY
python3 "$T/noauth.py" "$PORT" >"$T/noauth.json"
json_eq "$T/noauth.json" .status 401
assert_eq "$(metric rvf_http_body_bytes_reserved)" 0 "bytes reserved for an unauthenticated write"
stop_server "$SPID" "$T/s1.err"

# ---- F5: the connection table filled from many loopback addresses --------------
start_server "$T/s2.err" "$F" --token-file "$T/token" --max-connections 64
cat >"$T/fill.py" <<'PY'
import json, socket, sys, time
port, addrs, per, secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def opener(ip):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind((ip, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: local")  # never finished
        return s
    except OSError:
        s.close()
        return None
def alive(s):
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
ips = ["127.0.3.%d" % (i + 1) for i in range(addrs)]
conns = [(ip, opener(ip)) for ip in ips for _ in range(per)]
opened = sum(1 for _, s in conns if s)
time.sleep(1)
held = sum(1 for _, s in conns if s and alive(s))
print(json.dumps({"attempted": len(conns), "opened": opened, "held": held}), flush=True)
# keep the table full: reopen what the server closed, for secs seconds
t0, reopened = time.time(), 0
while time.time() - t0 < secs:
    for k, (ip, s) in enumerate(conns):
        if s is None or not alive(s):
            if s:
                s.close()
            conns[k] = (ip, opener(ip))
            reopened += 1
    time.sleep(0.05)
print(json.dumps({"reopened": reopened}), flush=True)
time.sleep(60)
PY
run_bg fill "$T/fill.py" "$PORT" 50 4 6
# held: at most the limit, plus connections the 4 server threads accept at
# the same instant
json_ok "$T/fill.json" '.attempted == 200 and .opened >= 150 and .held <= 64 + 4'
legit_health "the table was filled from 50 addresses"
legit_query "the table was filled from 50 addresses"
for i in $(seq 1 10); do
	legit_health "the attacker keeps the table full ($i)"
	legit_query "the attacker keeps the table full ($i)"
	sleep 0.2
done
EV=$(metric rvf_http_connections_evicted_total)
log "evicted: $EV, open now: $(metric rvf_http_connections)"
[ "$EV" -ge 136 ] || fail "only $EV connections evicted"
ok
# no connection was being answered for long, so none was refused
assert_eq "$(metric rvf_http_connections_refused_total)" 0 "connections refused"
[ "$(metric rvf_http_connections)" -le $((64 + 64)) ] || fail "more connections open than the limit allows"
ok
stop_bg "$BGPID"
stop_server "$SPID" "$T/s2.err"

pass
