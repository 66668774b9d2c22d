#!/usr/bin/env bash
# rvfd_netns.sh — rvfd with the XDP/tc programs attached, in two network
# namespaces joined by a veth pair (bench/netbench/netns.sh: rvfd_s
# 10.98.0.1 / rvfd_c 10.98.0.2 + 10.98.0.66), generic XDP:
#  - daemon answers (--daemon) equal `rvf query` on the same file, ids and
#    f32 distances bit for bit (exact brute force);
#  - XDP answers (f32 and --i8 queries) equal the quantized reference
#    (bench/netbench/xdp_ref: the loader's quant8 parameters, integer L2 over
#    the offset-binary codes, ties by vector index) ids AND distance bits, and
#    their recall@10 against the exact answers is reported and must be >= 0.9;
#  - misses reach the daemon (DAEMON flag, wrong dim), a repeat is answered
#    from the cache with exactly the exact answer; a client reusing one
#    request id for two daemon queries while the daemon is busy never makes
#    the cache serve one query's answer for the other (issue 11); the
#    wire-protocol checks pass through XDP too;
#  - the allow-list drops a client outside the CIDR (XDP counter 'denied');
#  - a CLI ingest while serving shows up (new epoch in replies, new vector
#    found by the daemon and by XDP);
#  - ingests while a client queries without pause: no query unanswered,
#    every answer equal to the exact answer (daemon, cache) or to the
#    quantized reference (XDP) of the epoch the reply carries;
#  - kill -9 of rvfd, restart (pinned maps reused): answers again;
#  - SIGTERM: exit 0, no pin / link / program left; after another kill -9,
#    `rvf detach IFACE` leaves no pin, link or program behind;
#  - least privilege: the built-in objects by default although the store
#    carries EBPF_SEGs; the worker serves as nobody with CapEff = CapPrm =
#    CapBnd = CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON, no_new_privs, and still
#    syncs the maps (ingest, rvf_vecs grown) and answers; an unprivileged
#    process cannot bind the daemon's UDP port (wildcard or specific, with
#    SO_REUSEADDR); metrics: a source outside the allow-list gets no HTTP
#    answer, the default listener is 127.0.0.1 only; --ebpf-from-store loads
#    the store's programs only with the key of its `rvf sign` signature.
# Needs root (skips with 77 otherwise).
. "$(dirname "$0")/lib.sh"
. bench/netbench/netns.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! rvfd_netns: SKIPPED — needs root (network namespaces, XDP, bpffs) !!!" >&2
	skip "needs root"
fi
need_cmd jq ip nsenter bpftool tc
PY=$(rvfd_python) || skip "python3 with numpy not available"
[ -x "$RVF" ] || skip "$RVF not built"
bench/netbench/build.sh >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "building rvfd/helpers failed"; }
RVFD=build/rvfd
PORT=7878
MPORT=9178
SRV=$RVFD_IP_S:$PORT
chmod 755 "$T" # the worker (user nobody) reopens the store after every change
NOBODY=$(id -u nobody) NOGROUP=$(id -g nobody)

on_exit "rvfd_ns_down"
rvfd_ns_up || fail "could not create the namespaces"
ok

# data: 1000 x 128 L2, 20 queries near stored vectors, one new vector
$PY - "$T" <<'PY'
import json, sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(98)
v = rng.standard_normal((1000, 128)).astype(np.float32)
json.dump([{"id": 10 * i + 3, "vector": [float(x) for x in v[i]]} for i in range(1000)], open(t + "/v.json", "w"))
q = (v[rng.choice(1000, 20, replace=False)] + 0.3 * rng.standard_normal((20, 128))).astype(np.float32)
np.save(t + "/q.npy", q)
q.tofile(t + "/q.f32")
with open(t + "/q.txt", "w") as f:
    for r in q:
        f.write(",".join(repr(float(x)) for x in r) + "\n")
new = (rng.standard_normal(128) * 2).astype(np.float32)
json.dump([{"id": 777777, "vector": [float(x) for x in new]}], open(t + "/new.json", "w"))
open(t + "/new.txt", "w").write(",".join(repr(float(x)) for x in new))
PY
S=$T/s.rvf
expect_exit 0 $RVF create "$S" -d 128
expect_exit 0 $RVF ingest "$S" -i "$T/v.json"
expect_exit 0 $RVF embed-ebpf "$S"

RPID=
start() { # LOG ARGS...
	local log=$1
	shift
	nsenter --net="/run/netns/$RVFD_NS_S" -- $RVFD --file "$S" --iface "$RVFD_NS_S" --port "$PORT" \
		--mode generic "$@" >"$log" 2>&1 &
	RPID=$!
	on_exit "kill -9 $RPID 2>/dev/null"
	rvfd_wait_ready "$log" "$RPID" 30 || { cat "$log" >&2; fail "rvfd did not start"; }
	# the daemon answers at once; XDP joins when its first map set is built
	rvfd_wait_xdp "$log" "$RPID" 60 || { cat "$log" >&2; fail "rvfd published no XDP maps"; }
	ok
}
nq() { ns_c $RVF net-query "$@"; }
# kill -9 of the daemon (the root monitor); its worker dies with it.
kill9() {
	local w
	w=$(pgrep -P "$RPID" || true)
	kill -9 "$RPID"
	wait "$RPID" 2>/dev/null || true
	for _ in $(seq 100); do
		{ [ -z "$w" ] || ! kill -0 "$w" 2>/dev/null; } && return 0
		sleep 0.05
	done
	fail "worker $w survived kill -9 of the daemon"
}

start "$T/d1.log" --allow 10.98.0.0/26 --allow fd98::/64 --metrics-port "$MPORT" --metrics-addr 0.0.0.0
expect_contains "$T/d1.log" "XDP attached to $RVFD_NS_S (generic mode, xdp from build/bpf, tc from build/bpf"
expect_contains "$T/d1.log" "the store carries 2 EBPF_SEG(s): not loaded"
[ -e "/sys/fs/bpf/rvf/$RVFD_NS_S/rvf_counters" ] || fail "no pins under /sys/fs/bpf/rvf/$RVFD_NS_S"

log "least privilege: the worker runs as nobody with CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON"
WPID=$(pgrep -P "$RPID")
[ -n "$WPID" ] || fail "no worker process under rvfd $RPID"
assert_eq "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$WPID/status")" "$NOBODY $NOBODY $NOBODY $NOBODY" "worker uids"
assert_eq "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$WPID/status")" "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" "worker gids"
for c in CapEff CapPrm CapBnd; do
	assert_eq "$(awk "/^$c:/ {print \$2}" "/proc/$WPID/status")" 000000c000001000 "worker $c"
done
for c in CapInh CapAmb; do
	assert_eq "$(awk "/^$c:/ {print \$2}" "/proc/$WPID/status")" 0000000000000000 "worker $c"
done
assert_eq "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$WPID/status")" 1 "worker no_new_privs"
expect_contains "$T/d1.log" "as user nobody (uid $NOBODY) with CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON"

log "an unprivileged process cannot bind the daemon's UDP port"
for a in 0.0.0.0 "$RVFD_IP_S" 127.0.0.1 :: ; do
	expect_exit 1 ns_s setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups $PY -c '
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if ":" in a:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
try:
    s.bind((a, int(sys.argv[2])))
except OSError as e:
    print(e, file=sys.stderr); sys.exit(1)
sys.exit(0)' "$a" "$PORT"
	expect_contains "$T/last.err" "Address already in use"
done

log "daemon answers == rvf query (exact f32)"
$RVF query "$S" --input "$T/q.npy" -k 10 --json >"$T/exact.json" || fail "rvf query batch"
i=0
while IFS= read -r q; do
	expect_exit 0 nq "$SRV" -v "$q" -k 10 --daemon --no-cache --json
	json_eq "$T/last.out" .path daemon
	jq -c '[.results[] | [.id, .distance]]' "$T/last.out" >"$T/got"
	jq -c ".results[$i] | [.[] | [.id, .distance]]" "$T/exact.json" >"$T/want"
	cmp -s "$T/got" "$T/want" || fail "query $i: daemon $(cat "$T/got") != rvf query $(cat "$T/want")"
	ok
	i=$((i + 1))
done <"$T/q.txt"

log "XDP answers == quantized reference (ids and distance bits); recall@10 vs exact"
for mode in f32 i8; do
	build/netbench/xdp_ref "$S" "$T/q.f32" 10 $([ $mode = i8 ] && echo --i8) >"$T/ref_$mode.txt" ||
		fail "xdp_ref failed"
	: >"$T/xdp_$mode.jsonl"
	while IFS= read -r q; do
		expect_exit 0 nq "$SRV" -v "$q" -k 10 --no-cache --json $([ $mode = i8 ] && echo --i8)
		json_eq "$T/last.out" .path xdp
		jq -c . "$T/last.out" >>"$T/xdp_$mode.jsonl"
	done <"$T/q.txt"
	$PY - "$T/xdp_$mode.jsonl" "$T/ref_$mode.txt" "$T/exact.json" >"$T/cmp_$mode.txt" <<'PY' ||
import json, struct, sys
xdp = [json.loads(l) for l in open(sys.argv[1])]
ref = [l.split() for l in open(sys.argv[2])]
exact = json.load(open(sys.argv[3]))["results"]
bad, rec = 0, []
for i, (x, r) in enumerate(zip(xdp, ref)):
    got = ["%d:%08x" % (h["id"], struct.unpack("<I", struct.pack("<f", h["distance"]))[0]) for h in x["results"]]
    if got != r:
        bad += 1
        print("query %d: xdp %s != ref %s" % (i, got, r))
    ex = {h["id"] for h in exact[i]}
    rec.append(len(ex & {h["id"] for h in x["results"]}) / len(ex))
print("mismatches %d recall@10 %.3f min %.2f" % (bad, sum(rec) / len(rec), min(rec)))
sys.exit(1 if bad or sum(rec) / len(rec) < 0.9 else 0)
PY
		{ cat "$T/cmp_$mode.txt"; fail "XDP ($mode) answers differ from the quantized reference"; }
	ok
	log "  $mode: $(tail -n 1 "$T/cmp_$mode.txt")"
done

log "misses reach the daemon; repeats come from the cache"
q1=$(head -n 1 "$T/q.txt")
expect_exit 0 nq "$SRV" -v "$q1" -k 5 --daemon --json
json_eq "$T/last.out" .path daemon
expect_exit 0 nq "$SRV" -v "$q1" -k 5 --daemon --json
json_eq "$T/last.out" .path cache
jq -c .results "$T/last.out" >"$T/cache.res"
expect_exit 0 nq "$SRV" -v "$q1" -k 5 --daemon --no-cache --json
json_eq "$T/last.out" .path daemon
jq -c .results "$T/last.out" | cmp -s - "$T/cache.res" || fail "cache answer differs from the daemon's"
jq -c '.results[0][:5] | [.[] | [.id, .distance]]' "$T/exact.json" >"$T/want5"
jq -c '[.[] | [.id, .distance]]' "$T/cache.res" | cmp -s - "$T/want5" ||
	fail "cache answer $(cat "$T/cache.res") != exact $(cat "$T/want5")"
ok

log "request id reused for two daemon queries while the daemon is busy (3 rounds)"
ns_c $PY - "$RVFD_IP_S" "$PORT" "$T/q.npy" >"$T/reuse.out" 2>&1 <<'PY' || { cat "$T/reuse.out"; fail "cache served another query's answer"; }
import socket, struct, sys, numpy as np
H = struct.Struct("<IBBHIHHIBBHII")
host, port, q = sys.argv[1], int(sys.argv[2]), np.load(sys.argv[3]).astype(np.float32)
def req(rid, v, flags, k=5):
    b = v.astype("<f4").tobytes()
    return H.pack(0x31515652, 1, 1, flags, rid, len(v), k, 0, 0, 0, 0, 0, 0) + b + b"\0" * max(0, 16 * k - len(b))
def ask(s, rid, v, flags):
    s.send(req(rid, v, flags))
    while True:
        b = s.recv(65536)
        h = H.unpack(b[:32])
        if h[4] == rid:
            return h[9], [struct.unpack("<Qf", b[32 + 16 * i:44 + 16 * i]) for i in range(h[10])]
c = socket.socket(); c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect((host, port)); c.settimeout(3)
busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); busy.connect((host, port))
hits = wrong = 0
for r in range(3):
    q1, q2 = q[6 + 2 * r], q[7 + 2 * r]
    for i in range(300):  # keep the daemon busy: exact, uncached
        busy.send(req(1000 + i, q[i % len(q)], 2 | 4))
    rid = 0x5EED0000 + r
    c.send(req(rid, q1, 2)); c.send(req(rid, q2, 2))
    got = 0
    while got < 2:
        b = c.recv(65536)
        got += H.unpack(b[:32])[4] == rid
    want2 = ask(c, 0x7000 + r, q2, 2 | 4)[1]  # the exact answer, not cached
    want1 = ask(c, 0x7100 + r, q1, 2 | 4)[1]
    for v, want, name in ((q2, want2, "Q2"), (q1, want1, "Q1")):
        path, res = ask(c, 0x7200 + 4 * r + (name == "Q1"), v, 2)
        if path == 2:
            hits += 1
            if res != want:
                wrong += 1
                print("round %d: cache answered %s with %s, exact %s" % (r, name, res, want))
print("rounds 3 cache_hits %d wrong %d" % (hits, wrong))
sys.exit(1 if wrong or hits == 0 else 0)
PY
ok
log "  $(tail -n 1 "$T/reuse.out")"
expect_exit 1 nq "$SRV" -v "1,2,3" -k 5
expect_contains "$T/last.err" "dimension mismatch"
log "wire protocol through XDP (IPv4 and IPv6)"
# RVFD_STRICT=1: an int8 query with scale <= 0 answered by XDP fails the test
# (PROTOCOL §4: the scale is finite and > 0); by default it is a loud warning.
ns_c $PY bench/netbench/wirecheck.py "$RVFD_IP_S" "$PORT" 128 \
	$([ -n "${RVFD_STRICT:-}" ] || echo --lenient-i8-scale) >"$T/wc.out" 2>&1 ||
	{ cat "$T/wc.out"; fail "wirecheck through XDP"; }
ok
if grep -q '^WARN' "$T/wc.out"; then
	log "!!! WARNING: XDP protocol deviation (not the daemon's):"
	grep '^WARN' "$T/wc.out" | while IFS= read -r l; do log "!!!   $l"; done
fi
ns_c $PY bench/netbench/wirecheck.py "$RVFD_IP6_S" "$PORT" 128 --daemon >"$T/wc6.out" 2>&1 ||
	{ cat "$T/wc6.out"; fail "wirecheck IPv6 through XDP, daemon flag"; }
ok

log "allow-list: $RVFD_IP_C2 is outside 10.98.0.0/26"
expect_exit 0 $RVF stats "$RVFD_NS_S" --json
d0=$(jq -r .counters.denied "$T/last.out")
ns_c $PY bench/netbench/wirecheck.py "$RVFD_IP_S" "$PORT" 128 --src "$RVFD_IP_C2" --expect-silence \
	>"$T/wcd.out" 2>&1 || { cat "$T/wcd.out"; fail "allow-list: a source outside got replies"; }
ok
expect_exit 0 $RVF stats "$RVFD_NS_S" --json
json_ok "$T/last.out" ".counters.denied > $d0 + 400 and .config.allow_enabled == true"

log "metrics and stats"
expect_exit 0 ns_c $RVF stats --metrics "$RVFD_IP_S:$MPORT" --json
json_ok "$T/last.out" '.metrics["rvfd_xdp_packets_total{counter=\"answered\"}"] >= 40 and .metrics.rvfd_cache_hits_total >= 1 and .metrics.rvfd_xdp_attached == 1'
json_ok "$T/last.out" '.metrics["rvfd_replies_total{status=\"ok\"}"] >= 22'
log "metrics: a source outside the allow-list gets no answer"
metrics_from() { # SRC -> first response line, or "closed"
	ns_c $PY - "$RVFD_IP_S" "$MPORT" "$1" <<'PY'
import socket, sys
c = socket.socket()
c.bind((sys.argv[3], 0))
c.settimeout(3)
try:
    c.connect((sys.argv[1], int(sys.argv[2])))
    c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    d = c.recv(100)
except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
    d = b""
print(d.split(b"\r\n")[0].decode() if d else "closed")
PY
}
assert_eq "$(metrics_from "$RVFD_IP_C2")" closed "metrics from $RVFD_IP_C2 (outside the allow-list)"
assert_eq "$(metrics_from "$RVFD_IP_C")" "HTTP/1.0 200 OK" "metrics from $RVFD_IP_C"
expect_exit 0 ns_c $RVF stats --metrics "$RVFD_IP_S:$MPORT" --json
json_ok "$T/last.out" '.metrics.rvfd_metrics_denied_total >= 1'

log "CLI ingest while serving"
ep0=$(jq -r .epoch "$T/xdp_f32.jsonl" | head -n 1)
expect_exit 0 $RVF ingest "$S" -i "$T/new.json"
found=
for _ in $(seq 100); do
	nq "$SRV" -v "$(cat "$T/new.txt")" -k 3 --json >"$T/nx.json" 2>/dev/null || true
	# while the loader refills the maps XDP passes queries to the daemon
	if [ "$(jq -r '.results[0].id, .path' "$T/nx.json" 2>/dev/null | paste -sd' ')" = "777777 xdp" ]; then
		found=1
		break
	fi
	sleep 0.1
done
[ -n "$found" ] || fail "XDP: ingested id 777777 not visible within 10 s"
json_ok "$T/nx.json" ".path == \"xdp\" and .epoch > $ep0"
expect_exit 0 nq "$SRV" -v "$(cat "$T/new.txt")" -k 3 --daemon --no-cache --json
json_ok "$T/last.out" ".path == \"daemon\" and .epoch > $ep0 and .results[0].id == 777777 and .results[0].distance == 0"
ep1=$(jq -r .epoch "$T/last.out")

log "ingests while a client queries without pause (8 x 50 vectors)"
$PY - "$T" <<'PY'
import json, sys, numpy as np
rng = np.random.default_rng(1111)
for j in range(8):
    v = rng.standard_normal((50, 128)).astype(np.float32)
    json.dump([{"id": 500000 + 100 * j + i, "vector": [float(x) for x in v[i]]} for i in range(50)],
              open("%s/b%d.json" % (sys.argv[1], j), "w"))
PY
mkdir -p "$T/ep"
snap() { local e; e=$($RVF status "$S" --json | jq -r .epoch); cp "$S" "$T/ep/$e.rvf"; }
snap
ns_c $PY bench/netbench/livecheck.py "$RVFD_IP_S" "$PORT" "$T/q.npy" 5 "$T/live.jsonl" \
	--daemon-share 0.4 >"$T/live.sum" 2>&1 &
LPID=$!
for j in 0 1 2 3 4 5 6 7; do
	sleep 0.4
	$RVF ingest "$S" -i "$T/b$j.json" >/dev/null || fail "ingest $j"
	snap
done
wait "$LPID" || { cat "$T/live.sum"; fail "livecheck failed"; }
cat "$T/live.sum" >&2
json_ok "$T/live.sum" '.unanswered == 0 and .errors == 0 and .answered > 100'
for f in "$T"/ep/*.rvf; do
	e=$(basename "$f" .rvf)
	$RVF query "$f" --input "$T/q.npy" -k 10 --json >"$T/ep/$e.exact" || fail "rvf query epoch $e"
	build/netbench/xdp_ref "$f" "$T/q.f32" 10 >"$T/ep/$e.ref" || fail "xdp_ref epoch $e"
done
$PY - "$T" >"$T/live.cmp" 2>&1 <<'PY' || { cat "$T/live.cmp"; fail "wrong answers during ingest"; }
import json, os, struct, sys
t = sys.argv[1]
exact, ref = {}, {}
for f in os.listdir(t + "/ep"):
    e, ext = f.split(".")
    if ext == "exact":
        exact[int(e)] = [[(h["id"], struct.unpack("<I", struct.pack("<f", h["distance"]))[0]) for h in r]
                         for r in json.load(open(t + "/ep/" + f))["results"]]
    elif ext == "ref":
        ref[int(e)] = [[(int(x.split(":")[0]), int(x.split(":")[1], 16)) for x in l.split()]
                       for l in open(t + "/ep/" + f)]
bad, n, by, epochs = 0, 0, {}, set()
for l in open(t + "/live.jsonl"):
    r = json.loads(l)
    n += 1
    got = list(zip(r["ids"], r["dbits"]))
    e = r["epoch"]
    epochs.add(e)
    want = (ref if r["path"] == "xdp" else exact).get(e)
    by[r["path"]] = by.get(r["path"], 0) + 1
    if want is None:
        bad += 1
        print("reply at epoch %d (%s): no snapshot of that epoch" % (e, r["path"]))
    elif got != want[r["q"]]:
        bad += 1
        print("query %d epoch %d path %s: %s != %s" % (r["q"], e, r["path"], got, want[r["q"]]))
print("answers %d wrong %d epochs %s by path %s" % (n, bad, sorted(epochs), by))
sys.exit(1 if bad or len(epochs) < 3 else 0)
PY
ok
log "  $(tail -n 1 "$T/live.cmp")"
ep1=$($RVF status "$S" --json | jq -r .epoch)

log "kill -9 and restart"
kill9
expect_exit 0 nq "$SRV" -v "$q1" -k 5 --json
json_eq "$T/last.out" .path xdp # the program keeps answering without the daemon
start "$T/d2.log" --metrics-port "$MPORT"
# default metrics address: loopback only
assert_eq "$(metrics_from "$RVFD_IP_C")" closed "metrics on $RVFD_IP_S by default"
code=$(ns_s $PY -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 3)
c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
print(c.recv(100).split(b"\r\n")[0].decode())' "$MPORT")
assert_eq "$code" "HTTP/1.0 200 OK" "metrics on 127.0.0.1 by default"
expect_exit 0 nq "$SRV" -v "$q1" -k 5 --daemon --no-cache --json
json_eq "$T/last.out" .path daemon
json_eq "$T/last.out" .epoch "$ep1"
expect_exit 0 nq "$SRV" -v "$(cat "$T/new.txt")" -k 1 --json
json_ok "$T/last.out" ".path == \"xdp\" and .results[0].id == 777777"
# the restart without --allow switched the allow-list off
expect_exit 0 ns_c $PY bench/netbench/wirecheck.py "$RVFD_IP_S" "$PORT" 128 --src "$RVFD_IP_C2" \
	$([ -n "${RVFD_STRICT:-}" ] || echo --lenient-i8-scale)

prog_id() { ns_s ip -j link show dev "$RVFD_NS_S" | jq -r '.[0].xdp.prog.id // empty'; }
no_leftovers() { # PROG_ID WHAT
	[ -z "$(prog_id)" ] || fail "$2: XDP program still attached"
	ns_s tc filter show dev "$RVFD_NS_S" egress 2>/dev/null | grep >/dev/null . && fail "$2: tc filter left"
	ns_s tc qdisc show dev "$RVFD_NS_S" | grep >/dev/null clsact && fail "$2: clsact qdisc left"
	[ ! -e "/sys/fs/bpf/rvf/$RVFD_NS_S" ] || fail "$2: pins left: $(ls "/sys/fs/bpf/rvf/$RVFD_NS_S")"
	for _ in $(seq 50); do bpftool prog show id "$1" >/dev/null 2>&1 || break; sleep 0.1; done
	bpftool prog show id "$1" >/dev/null 2>&1 && fail "$2: program $1 still loaded"
	ok
}

log "SIGTERM: detached and unpinned"
pid1=$(prog_id)
[ -n "$pid1" ] || fail "no XDP program on $RVFD_NS_S"
rvfd_stop "$RPID" 15
assert_eq "$RVFD_RC" 0 "rvfd exit status after SIGTERM"
no_leftovers "$pid1" "after SIGTERM"

log "kill -9, then rvf detach"
start "$T/d3.log"
pid2=$(prog_id)
kill9
[ -e "/sys/fs/bpf/rvf/$RVFD_NS_S/rvf_counters" ] || fail "pins vanished after kill -9"
expect_exit 0 ns_s $RVF detach "$RVFD_NS_S"
no_leftovers "$pid2" "after rvf detach"

log "--ebpf-from-store: only with a signature by --trust-key"
expect_exit 0 $RVF keygen --output "$T/k1"
expect_exit 0 $RVF keygen --output "$T/k2"
expect_exit 0 $RVF sign "$S" --key "$T/k1"
chmod 644 "$S"
expect_exit 2 $RVFD --file "$S" --iface "$RVFD_NS_S" --ebpf-from-store
expect_contains "$T/last.err" "go together"
expect_exit 1 ns_s $RVFD --file "$S" --iface "$RVFD_NS_S" --port "$PORT" --mode generic \
	--ebpf-from-store --trust-key "$T/k2.pub"
expect_contains "$T/last.err" "signature wrong_key"
[ -z "$(prog_id)" ] || fail "XDP attached after a refused load"
start "$T/d4.log" --ebpf-from-store --trust-key "$T/k1.pub"
expect_contains "$T/d4.log" "xdp from the store's signed EBPF_SEG, tc from the store's signed EBPF_SEG"
expect_exit 0 nq "$SRV" -v "$q1" -k 5 --json
json_eq "$T/last.out" .path xdp
pid3=$(prog_id)
rvfd_stop "$RPID" 15
assert_eq "$RVFD_RC" 0 "rvfd exit status after SIGTERM"
no_leftovers "$pid3" "after SIGTERM (signed store programs)"
pass
