#!/usr/bin/env bash
# rvfd_proto.sh — the daemon without XDP (--no-xdp) on loopback, no root
# needed: every wire-protocol rule (bench/netbench/wirecheck.py, IPv4 and
# IPv6), exact answers equal to `rvf query`, the userspace allow-list, the
# Prometheus endpoint and `rvf stats --metrics`, store changes picked up
# while serving (ingest: new epoch + new vector; delete + compact: the file
# is replaced), clean exit on SIGTERM/SIGINT and the start-up errors
# (missing file, busy port, missing interface, not root, bad options);
# --error-rate limits error replies per source (OK replies never); started
# as root, the daemon serves as user nobody without any capability; another
# process cannot bind the daemon's UDP port; the metrics port closes
# connections from outside the allow-list.
. "$(dirname "$0")/lib.sh"
. bench/netbench/netns.sh
need_cmd jq
PY=$(rvfd_python) || skip "python3 with numpy not available"
[ -x "$RVF" ] || skip "$RVF not built"
bench/netbench/build.sh >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "building rvfd/helpers failed"; }
RVFD=build/rvfd

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MPORT=$(free_port)

# data: 500 x 32, L2
$PY - "$T" <<'PY'
import json, sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(20261125)
v = rng.standard_normal((500, 32)).astype(np.float32)
json.dump([{"id": i, "vector": [float(x) for x in v[i]]} for i in range(500)], open(t + "/v.json", "w"))
q = (v[:12] + 0.05 * rng.standard_normal((12, 32))).astype(np.float32)
np.save(t + "/q.npy", q)
with open(t + "/q.txt", "w") as f:
    for r in q:
        f.write(",".join(repr(float(x)) for x in r) + "\n")
new = rng.standard_normal(32).astype(np.float32) * 3
json.dump([{"id": 9001, "vector": [float(x) for x in new]}], open(t + "/new.json", "w"))
open(t + "/new.txt", "w").write(",".join(repr(float(x)) for x in new))
PY
S=$T/s.rvf
chmod 755 "$T" # started as root, the daemon serves as nobody and reopens S
expect_exit 0 $RVF create "$S" -d 32
expect_exit 0 $RVF ingest "$S" -i "$T/v.json"

RPID=
start() { # LOG ARGS...
	local log=$1
	shift
	$RVFD --file "$S" --port "$PORT" --no-xdp "$@" >"$log" 2>&1 &
	RPID=$!
	on_exit "kill -9 $RPID 2>/dev/null"
	rvfd_wait_ready "$log" "$RPID" 10 || { cat "$log" >&2; fail "rvfd did not start"; }
	ok
}

start "$T/d1.log" --metrics-port "$MPORT"
if [ "$(id -u)" -eq 0 ]; then
	log "root start: serves as nobody without capabilities"
	assert_eq "$(awk '/^Uid:/ {print $2, $3, $4}' "/proc/$RPID/status")" \
		"$(id -u nobody) $(id -u nobody) $(id -u nobody)" "daemon uids"
	for c in CapEff CapPrm CapBnd; do
		assert_eq "$(awk "/^$c:/ {print \$2}" "/proc/$RPID/status")" 0000000000000000 "daemon $c"
	done
fi
log "no other process can bind the daemon's UDP port (even with SO_REUSEADDR)"
AS_OTHER=()
if [ "$(id -u)" -eq 0 ]; then AS_OTHER=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups); fi
for a in 0.0.0.0 127.0.0.1; do
	expect_exit 1 "${AS_OTHER[@]}" $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError as e:
    print(e, file=sys.stderr); sys.exit(1)' "$a" "$PORT"
	expect_contains "$T/last.err" "Address already in use"
done
log "wire protocol, IPv4"
$PY bench/netbench/wirecheck.py 127.0.0.1 "$PORT" 32 --daemon >"$T/wc4.out" 2>&1 ||
	{ cat "$T/wc4.out"; fail "wirecheck IPv4"; }
ok
if $PY -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
	log "wire protocol, IPv6"
	$PY bench/netbench/wirecheck.py ::1 "$PORT" 32 >"$T/wc6.out" 2>&1 ||
		{ cat "$T/wc6.out"; fail "wirecheck IPv6"; }
	ok
fi

log "exact answers equal rvf query"
$RVF query "$S" --input "$T/q.npy" -k 10 --json >"$T/exact.json" || fail "rvf query batch"
i=0
while IFS= read -r q; do
	expect_exit 0 $RVF net-query "127.0.0.1:$PORT" -v "$q" -k 10 --json
	json_eq "$T/last.out" .path daemon
	jq -c '[.results[] | [.id, .distance]]' "$T/last.out" >"$T/got"
	jq -c ".results[$i] | [.[] | [.id, .distance]]" "$T/exact.json" >"$T/want"
	cmp -s "$T/got" "$T/want" || fail "query $i: daemon $(cat "$T/got") != rvf query $(cat "$T/want")"
	ok
	i=$((i + 1))
done <"$T/q.txt"

log "metrics"
expect_exit 0 $RVF stats --metrics "127.0.0.1:$MPORT" --json
json_ok "$T/last.out" '.metrics.rvfd_requests_total > 800 and .metrics["rvfd_replies_total{status=\"ok\"}"] >= 12'
json_ok "$T/last.out" '.metrics["rvfd_dropped_total{reason=\"short\"}"] >= 4 and .metrics["rvfd_daemon_latency_us_count"] > 0'
json_ok "$T/last.out" '.metrics["rvfd_replies_total{status=\"bad_k\"}"] >= 2 and .metrics.rvfd_xdp_attached == 0'
expect_exit 0 $RVF stats --metrics "127.0.0.1:$MPORT"
expect_contains "$T/last.out" "daemon latency:"
code=$($PY - "$MPORT" <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
c.sendall(b"GET /other HTTP/1.0\r\n\r\n")
print(c.recv(100).split(b"\r\n")[0].decode())
PY
)
assert_eq "$code" "HTTP/1.0 404 Not Found" "GET /other"

log "ingest while serving: new epoch, new vector"
ep0=$(jq -r .epoch "$T/last.out" 2>/dev/null || true)
expect_exit 0 $RVF net-query "127.0.0.1:$PORT" -v "$(cat "$T/new.txt")" -k 1 --json
ep0=$(jq -r .epoch "$T/last.out")
expect_exit 0 $RVF ingest "$S" -i "$T/new.json"
found=
for _ in $(seq 50); do
	$RVF net-query "127.0.0.1:$PORT" -v "$(cat "$T/new.txt")" -k 1 --json >"$T/nq.json" 2>/dev/null || true
	if [ "$(jq -r '.results[0].id' "$T/nq.json" 2>/dev/null)" = 9001 ]; then found=1; break; fi
	sleep 0.1
done
[ -n "$found" ] || fail "ingested id 9001 not visible within 5 s"
json_ok "$T/nq.json" ".epoch > $ep0 and .results[0].distance == 0"

log "delete + compact (file replaced) while serving"
expect_exit 0 $RVF delete "$S" --ids 9001
expect_exit 0 $RVF compact "$S"
gone=
for _ in $(seq 50); do
	$RVF net-query "127.0.0.1:$PORT" -v "$(cat "$T/new.txt")" -k 1 --json >"$T/nq.json" 2>/dev/null || true
	if [ "$(jq -r '.results[0].id' "$T/nq.json" 2>/dev/null)" != 9001 ]; then gone=1; break; fi
	sleep 0.1
done
[ -n "$gone" ] || fail "deleted id 9001 still answered after compaction"
ok

log "busy port"
expect_exit 1 $RVFD --file "$S" --port "$PORT" --no-xdp
expect_contains "$T/last.err" "is busy"

log "SIGTERM -> exit 0"
rvfd_stop "$RPID" 10
assert_eq "$RVFD_RC" 0 "rvfd exit status after SIGTERM"
expect_contains "$T/d1.log" "SIGTERM: shutting down"

log "userspace allow-list"
start "$T/d2.log" --allow 10.0.0.0/8 --allow fd00::/8 --metrics-port "$MPORT"
$PY bench/netbench/wirecheck.py 127.0.0.1 "$PORT" 32 --expect-silence >"$T/wc.out" 2>&1 ||
	{ cat "$T/wc.out"; fail "allow-list: a source outside got replies"; }
ok
code=$($PY - "$MPORT" <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
try:
    c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    d = c.recv(100)
except (ConnectionResetError, BrokenPipeError):
    d = b""
print(d.split(b"\r\n")[0].decode() if d else "closed")
PY
)
assert_eq "$code" closed "metrics from 127.0.0.1, outside the allow-list"
kill -INT "$RPID"
for _ in $(seq 100); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.05; done
rc=0; wait "$RPID" || rc=$?
assert_eq "$rc" 0 "rvfd exit status after SIGINT"
start "$T/d3.log" --allow 127.0.0.0/8 --allow ::1
expect_exit 0 $RVF net-query "127.0.0.1:$PORT" -v "$(head -n 1 "$T/q.txt")" -k 3
rvfd_stop "$RPID" 10
assert_eq "$RVFD_RC" 0 "rvfd exit status"

log "--error-rate: error replies limited per source, OK replies not"
start "$T/d4.log" --error-rate 2/s --metrics-port "$MPORT"
got=$($PY - "$PORT" "$(head -n 1 "$T/q.txt")" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1]); good = [float(x) for x in sys.argv[2].split(",")]
def req(rid, vec):
    return struct.pack("<IBBHIHHIBBHII", 0x31515652, 1, 1, 0, rid, len(vec), 3, 0, 0, 0, 0, 0, 0) + \
        struct.pack("<%df" % len(vec), *vec)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(40):  # wrong dimension: an error reply each, if not limited
    s.sendto(req(i, [1.0] * 5), ("127.0.0.1", port))
err = 0
try:
    while True:
        s.recvfrom(4096); err += 1
except socket.timeout:
    pass
ok = 0
for i in range(20):
    s.sendto(req(1000 + i, good), ("127.0.0.1", port))
    try:
        d, _ = s.recvfrom(4096)
        ok += d[20] == 0  # status OK
    except socket.timeout:
        pass
print(err, ok)
PY
)
err=${got% *} okn=${got#* }
[ "$err" -ge 1 ] && [ "$err" -le 6 ] || fail "error replies with --error-rate 2/s: $err of 40"
assert_eq "$okn" 20 "OK replies with --error-rate"
expect_exit 0 $RVF stats --metrics "127.0.0.1:$MPORT" --json
json_ok "$T/last.out" '.metrics.rvfd_error_replies_limited_total >= 34'
rvfd_stop "$RPID" 10
assert_eq "$RVFD_RC" 0 "rvfd exit status"

log "start-up errors"
expect_exit 2 $RVFD --file "$S" --no-xdp --error-rate 0
expect_exit 2 $RVFD --file "$S" --no-xdp --error-rate 5/min
expect_exit 2 $RVFD --file "$S" --no-xdp --metrics-addr localhost
expect_contains "$T/last.err" "invalid --metrics-addr"
expect_exit 1 $RVFD --file "$S" --port "$PORT" --no-xdp --user rvf-no-such-user
expect_contains "$T/last.err" "no such user"
expect_exit 1 $RVFD --file "$T/missing.rvf" --port "$PORT" --no-xdp
expect_contains "$T/last.err" "No such file"
echo garbage >"$T/garbage.rvf"
expect_exit 1 $RVFD --file "$T/garbage.rvf" --port "$PORT" --no-xdp
expect_contains "$T/last.err" "cannot open the store"
expect_exit 2 $RVFD --port "$PORT" --no-xdp
expect_contains "$T/last.err" "--file is required"
expect_exit 2 $RVFD --file "$S" --no-xdp --port 0
expect_exit 2 $RVFD --file "$S" --no-xdp --allow 10.0.0.0/33
expect_exit 2 $RVFD --file "$S" --no-xdp --mode turbo
expect_exit 2 $RVFD --file "$S" --port "$PORT"
expect_contains "$T/last.err" "--iface is required"
if [ "$(id -u)" -eq 0 ]; then
	expect_exit 1 $RVFD --file "$S" --port "$PORT" --iface rvfd_nope0 --mode generic
	expect_contains "$T/last.err" "interface 'rvfd_nope0' does not exist"
	if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$RVFD" 2>/dev/null; then
		expect_exit 1 setpriv --reuid=65534 --regid=65534 --clear-groups $RVFD --file "$S" --port "$PORT" --iface lo
		expect_contains "$T/last.err" "needs root"
	else
		log "setpriv/permissions: not-root error not checked"
	fi
else
	expect_exit 1 $RVFD --file "$S" --port "$PORT" --iface lo
	expect_contains "$T/last.err" "needs root"
fi
expect_exit 0 $RVFD --help
expect_contains "$T/last.out" "--metrics-port"
pass
