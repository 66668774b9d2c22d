#!/usr/bin/env bash
# netquery_cli.sh — `rvf net-query` end to end against a scripted UDP server
# (python3, IPv4 and IPv6 loopback): text and --json output, the path names
# (xdp/cache/daemon), request padding for k results, --i8, --daemon, error
# statuses, timeouts with retries (exit 1) and usage errors (exit 2).
. "$(dirname "$0")/lib.sh"
need_cmd python3 jq
[ -x "$RVF" ] || skip "$RVF not built"

# The server answers by k: k=7 -> status DIM_MISMATCH, k=9 -> silent,
# k=11 -> a malformed reply (count 3, one result); else OK with
# count = min(k, room in the request), path XDP for I8, DAEMON for the
# DAEMON flag, CACHE otherwise. It refuses (BAD_REQUEST) requests that are
# not padded for k results or carry a bad vector length. Each request is
# logged as "flags k len" to $T/requests.log.
cat >"$T/server.py" <<'PY'
import socket, struct, sys, select
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.1", 0))
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
log = open(sys.argv[3], "a", buffering=1)
HDR = struct.Struct("<IBBHIHHIBBHII")
while True:
    r, _, _ = select.select([s], [], [], 30)
    if not r:
        break
    data, peer = s.recvfrom(65536)
    if len(data) < 32:
        continue
    magic, ver, op, flags, rid, dim, k, ep, st, path, cnt, scale, res2 = HDR.unpack_from(data)
    log.write("%d %d %d\n" % (flags, k, len(data)))
    if magic != 0x31515652 or ver != 1 or op != 1:
        continue
    if k == 9:
        continue
    vec = dim * (1 if flags & 1 else 4)
    status, path, results = 0, 3, []
    if len(data) < 32 + max(vec, 16 * min(k, 64)) or (flags & 1 and scale == 0):
        status = 1
    elif k == 7:
        status = 2
    else:
        path = 1 if flags & 1 else 3 if flags & 2 else 2
        room = (len(data) - 32) // 16
        results = [(100 + i, 0.5 * i) for i in range(min(k, room))]
    count = len(results)
    if k == 11:
        count = 3
        results = results[:1]
    out = HDR.pack(magic, 1, 2, flags, rid, dim, k, 5, status, path, count, scale, 0)
    out += b"".join(struct.pack("<QfI", i, d, 0) for i, d in results)
    s.sendto(out, peer)
PY

start_server() { # FAMILY -> sets PORT
	local pf="$T/port$1"
	python3 "$T/server.py" "$1" "$pf" "$T/requests.log" &
	on_exit "kill $! 2>/dev/null"
	for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
	[ -s "$pf" ] || fail "test server did not start"
	PORT=$(cat "$pf")
}

start_server 4
P4=$PORT
if python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
	start_server 6
	P6=$PORT
else
	P6=
	log "no IPv6 loopback: IPv6 checks skipped"
fi

# text output
expect_exit 0 $RVF net-query "127.0.0.1:$P4" -v "1,2,3,4" -k 3
expect_contains "$T/last.out" "Answered by cache (epoch 5"
expect_contains "$T/last.out" "Query results (3 neighbors):"
expect_contains "$T/last.out" "[2] id=102 distance=1.000000"

# JSON: all fields, results padded for k = 20
expect_exit 0 $RVF net-query "127.0.0.1:$P4" -v "1,2,3,4" -k 20 --json
json_eq "$T/last.out" .count 20
json_eq "$T/last.out" .epoch 5
json_eq "$T/last.out" .path cache
json_ok "$T/last.out" '(.results | length) == 20 and .results[19].id == 119 and .results[1].distance == 0.5'
json_ok "$T/last.out" '(.req_id | type) == "number" and .rtt_us > 0 and .attempts == 1'

# --daemon and --i8 set the flags; the i8 request (dim 4 = 4 bytes) is
# padded to hold 16 results (32 + 256 bytes)
expect_exit 0 $RVF net-query "127.0.0.1:$P4" -v "1,2,3,4" -k 5 --daemon --json
json_eq "$T/last.out" .path daemon
expect_exit 0 $RVF net-query "127.0.0.1:$P4" -v "1,-2,3,4" -k 16 --i8 --json
json_eq "$T/last.out" .path xdp
json_eq "$T/last.out" .count 16
assert_eq "$(tail -n 1 "$T/requests.log")" "1 16 288" "i8 request flags/k/length"

# IPv6
if [ -n "$P6" ]; then
	expect_exit 0 $RVF net-query "[::1]:$P6" -v "0.5,0.25" -k 2 --json
	json_eq "$T/last.out" .count 2
fi

# error status -> exit 1 with the status named
expect_exit 1 $RVF net-query "127.0.0.1:$P4" -v "1,2,3,4" -k 7
expect_contains "$T/last.err" "dimension mismatch"
# malformed reply -> exit 1
expect_exit 1 $RVF net-query "127.0.0.1:$P4" -v "1,2" -k 11 --timeout-ms 100 --retries 0
expect_contains "$T/last.err" "malformed"
# silence -> timeout after 1 + retries attempts, exit 1
n0=$(wc -l <"$T/requests.log")
expect_exit 1 $RVF net-query "127.0.0.1:$P4" -v "1,2" -k 9 --timeout-ms 100 --retries 2
expect_contains "$T/last.err" "no reply from 127.0.0.1:$P4 after 3 attempts"
sleep 0.2
assert_eq "$(($(wc -l <"$T/requests.log") - n0))" 3 "datagrams sent for 2 retries"

# usage errors -> exit 2
expect_exit 2 $RVF net-query "127.0.0.1:$P4"
expect_contains "$T/last.err" "--vector"
expect_exit 2 $RVF net-query -v 1,2
expect_contains "$T/last.err" "HOST:PORT"
expect_exit 2 $RVF net-query "127.0.0.1:$P4" -v 1,2 -k 0
expect_exit 2 $RVF net-query "127.0.0.1:$P4" -v 1,2 -k 65
expect_exit 2 $RVF net-query "127.0.0.1:$P4" -v 1,x
expect_exit 2 $RVF net-query "127.0.0.1:$P4" -v 1,2 --timeout-ms abc
expect_exit 2 $RVF net-query "127.0.0.1:$P4" -v 1,2 --bogus
expect_exit 2 $RVF net-query "127.0.0.1:0" -v 1,2
expect_contains "$T/last.err" "invalid address"
expect_exit 2 $RVF net-query "127.0.0.1:$P4" "extra" -v 1,2
expect_exit 0 $RVF net-query --help
expect_contains "$T/last.out" "--timeout-ms"
expect_exit 0 $RVF --help
expect_contains "$T/last.out" "net-query"

pass
