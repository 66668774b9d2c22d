#!/usr/bin/env bash
# demo.sh — `make demo`: the rvf command line, then the network query engine.
#
# Part 1 (any user): a short CLI walk-through on 2,000 random 128-d vectors:
#   create, ingest, status, query, delete, query again.
# Part 2 (root; skipped with a message otherwise): the XDP query engine on a
#   veth pair between two network namespaces (rvfd_s 10.98.0.1 / rvfd_c
#   10.98.0.2): a 1,000 x 128 data set (numpy, fixed seed), a store with the
#   eBPF objects embedded (rvf embed-ebpf), rvfd serving it with XDP in
#   generic mode, queries from the client namespace with `rvf net-query`
#   answered by XDP, by the daemon (--daemon) and from the cache (a repeat),
#   an ingest while serving, the counters (`rvf stats`), and a latency table
#   (p50/p99 of 200 queries per path, client and server on one vCPU).
# Everything (namespaces, rvfd, pins, temp files) is removed on exit, also
# on failure or Ctrl-C; every wait is bounded.
# Environment: RVF (build/rvf), RVF_DEMO_N (2000), RVF_DEMO_DIM (128),
# RVF_DEMO_CPU (1), RVF_DEMO_NET=0 to skip part 2.
set -euo pipefail
cd "$(dirname "$0")/.."

RVF=${RVF:-build/rvf}
N=${RVF_DEMO_N:-2000}
DIM=${RVF_DEMO_DIM:-128}
CPU=${RVF_DEMO_CPU:-1}
export RVF

if [ ! -x "$RVF" ]; then
	echo "demo: $RVF not found; build it with 'make' (or run 'make demo')" >&2
	exit 1
fi
. bench/netbench/netns.sh
PY=$(rvfd_python) || { echo "demo: needs python3 with numpy (make deps)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/rvf-demo.XXXXXX)
# rvfd serves as user nobody after set-up and reopens the store on every
# change: the directory must let it in (mktemp makes it 0700).
chmod 0755 "$TMP"
RPID=
NET_UP=
cleanup() {
	local rc=$?
	if [ -n "$RPID" ]; then rvfd_stop "$RPID" 10; fi
	[ -n "$NET_UP" ] && rvfd_ns_down
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then B=$'\033[1m' H=$'\033[1;34m' R=$'\033[0m'; else B='' H='' R=''; fi

# Print a command (long arguments shortened), then run it.
run() {
	local shown=() a
	for a in "$@"; do
		if [ "${#a}" -gt 72 ]; then a="${a:0:40}…(${#a} chars)"; fi
		case $a in *' '* | *'"'* | *'{'*) a="'$a'" ;; esac
		shown+=("$a")
	done
	printf '\n%s$ %s%s\n' "$B" "${shown[*]}" "$R"
	"$@"
}
step() { printf '\n%s### %s%s\n' "$H" "$*" "$R"; }

# ---- part 1: the CLI --------------------------------------------------------
STORE=$TMP/demo.rvf
step "Part 1 — the rvf CLI. Generate $N random $DIM-d vectors (python3, fixed seed)"
$PY - "$N" "$DIM" "$TMP" <<'PY'
import json, sys, numpy as np
n, dim, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
v = np.random.default_rng(20260424).standard_normal((n, dim)).astype(np.float32)
json.dump([{"id": i, "vector": [round(float(x), 6) for x in v[i]]} for i in range(n)],
          open(f"{out}/vectors.json", "w"))
open(f"{out}/query.txt", "w").write(",".join(repr(round(float(x), 6)) for x in v[42 % n]))
print(f"wrote {out}/vectors.json ({n} records)")
PY
QUERY=$(cat "$TMP/query.txt")
run "$RVF" create "$STORE" -d "$DIM" -m cosine
run "$RVF" ingest "$STORE" -i "$TMP/vectors.json"
run "$RVF" status "$STORE"
step "The 5 nearest neighbours of vector 42 (id 42 first, distance ~0)"
run "$RVF" query "$STORE" -v "$QUERY" -k 5
step "Delete ids 42 and 7, query again: id 42 is gone"
run "$RVF" delete "$STORE" --ids 42,7
run "$RVF" query "$STORE" -v "$QUERY" -k 3

# ---- part 2: the network query engine --------------------------------------
if [ "${RVF_DEMO_NET:-1}" = 0 ]; then
	printf '\ndemo finished (RVF_DEMO_NET=0: network part skipped)\n'
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	printf '\n%s!!! Part 2 (XDP query engine) needs root (network namespaces, XDP, bpffs): skipped.%s\n' "$B" "$R"
	exit 0
fi
for c in ip nsenter taskset; do
	command -v "$c" >/dev/null || { echo "demo: '$c' missing (make deps)" >&2; exit 1; }
done
step "Part 2 — the XDP query engine. Build rvfd and the benchmark client"
bench/netbench/build.sh
step "Two network namespaces joined by a veth pair: rvfd_s ($RVFD_IP_S) <-> rvfd_c ($RVFD_IP_C)"
NET_UP=1
rvfd_ns_up
ns_s ip -br addr show dev "$RVFD_NS_S"
ns_c ip -br addr show dev "$RVFD_NS_C"

NS=$TMP/net.rvf
step "A 1,000 x 128 data set (numpy, seed 7), an L2 store, the eBPF objects embedded in it"
$PY - "$TMP" <<'PY'
import json, sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(7)
v = rng.standard_normal((1000, 128)).astype(np.float32)
json.dump([{"id": i, "vector": [float(x) for x in v[i]]} for i in range(1000)], open(t + "/net.json", "w"))
q = (v[rng.choice(1000, 200, replace=False)] + 0.3 * rng.standard_normal((200, 128))).astype(np.float32)
q.tofile(t + "/q.f32")
open(t + "/q1.txt", "w").write(",".join("%.6f" % x for x in q[0]))
new = (rng.standard_normal(128) * 2).astype(np.float32)
json.dump([{"id": 424242, "vector": [float(x) for x in new]}], open(t + "/new.json", "w"))
open(t + "/new.txt", "w").write(",".join(repr(float(x)) for x in new))
print("1000 vectors, 200 queries")
PY
run "$RVF" create "$NS" -d 128
run "$RVF" ingest "$NS" -i "$TMP/net.json"
run "$RVF" embed-ebpf "$NS"

step "Start rvfd in rvfd_s: XDP (generic mode) + tc on the veth, metrics on 127.0.0.1:9100 (on vCPU $CPU)"
printf '%s$ taskset -c %s nsenter --net=/run/netns/rvfd_s build/rvfd --file %s --iface rvfd_s --port 7878 --mode generic --metrics-port 9100%s\n' \
	"$B" "$CPU" "$NS" "$R"
taskset -c "$CPU" nsenter --net="/run/netns/$RVFD_NS_S" -- build/rvfd --file "$NS" --iface "$RVFD_NS_S" \
	--port 7878 --mode generic --metrics-port 9100 >"$TMP/rvfd.log" 2>&1 &
RPID=$!
rvfd_wait_ready "$TMP/rvfd.log" "$RPID" 30 || { cat "$TMP/rvfd.log" >&2; echo "demo: rvfd did not start" >&2; exit 1; }
rvfd_wait_xdp "$TMP/rvfd.log" "$RPID" 60 || { cat "$TMP/rvfd.log" >&2; echo "demo: XDP maps not published" >&2; exit 1; }
sed 's/^/  | /' "$TMP/rvfd.log"

SRV=$RVFD_IP_S:7878
Q1=$(cat "$TMP/q1.txt")
nq() { ns_c "$RVF" net-query "$@"; }
step "A query from rvfd_c: answered inside the kernel by the XDP int8 scan"
run nq "$SRV" -v "$Q1" -k 5
step "The same query forced to the daemon (--daemon): exact f32 distances"
run nq "$SRV" -v "$Q1" -k 5 --daemon
step "Repeat: the tc program cached the daemon's reply, XDP answers from the cache"
run nq "$SRV" -v "$Q1" -k 5 --daemon
step "An int8 query (--i8): the XDP path again, 128 bytes of vector instead of 512"
run nq "$SRV" -v "$Q1" -k 5 --i8
step "Local exact answer for comparison (rvf query on the same file)"
run "$RVF" query "$NS" -v "$Q1" -k 5

step "Ingest a new vector while rvfd serves: it reopens the store and the loader refills the maps"
run "$RVF" ingest "$NS" -i "$TMP/new.json"
found=
for _ in $(seq 100); do
	out=$(nq "$SRV" -v "$(cat "$TMP/new.txt")" -k 1 2>/dev/null || true)
	case $out in *"Answered by xdp"*"id=424242"*) found=1; break ;; esac
	sleep 0.1
done
run nq "$SRV" -v "$(cat "$TMP/new.txt")" -k 3
[ -n "$found" ] || echo "(the new vector did not reach the XDP maps within 10 s)"

step "Counters: the pinned XDP/tc map, and the daemon's Prometheus endpoint"
run "$RVF" stats "$RVFD_NS_S"
run ns_s "$RVF" stats --metrics 127.0.0.1:9100 # metrics listen on loopback by default

step "Latency, 200 queries per path, client and server on vCPU $CPU (bench/netbench/rvfbench)"
lat() { # LABEL FLAGS...
	local label=$1 r
	shift
	r=$(taskset -c "$CPU" nsenter --net="/run/netns/$RVFD_NS_C" -- build/netbench/rvfbench "$SRV" \
		"$TMP/q.f32" 128 10 --n 200 --seconds 0.5 "$@")
	printf '%s\n' "$r" | $PY -c '
import json, sys
r = json.loads(sys.stdin.read()); p = r["lat_paths"]
print("| %-28s | %8.1f | %8.1f | %8.0f | %s |" % (sys.argv[1], r["p50_us"], r["p99_us"], r["qps"],
      ", ".join("%s %d" % kv for kv in p.items() if kv[1])))' "$label"
}
printf '| %-28s | %8s | %8s | %8s | %s |\n' "path" "p50 us" "p99 us" "q/s (w16)" "answered by"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------" "----------" "----------" "----------" "-------------"
lat "XDP int8 scan" --no-cache
lat "daemon (exact f32, via XDP)" --daemon --no-cache
lat "(warm-up: fill the cache)" --daemon >/dev/null
lat "cache (repeats of --daemon)" --daemon
echo "(bench/xdp_vs_daemon.sh compares against the daemon with XDP detached, N = 1k/4k/65k)"

step "Stop rvfd (SIGTERM): it detaches XDP and tc and removes its pins"
rvfd_stop "$RPID" 10
RPID=
tail -n 3 "$TMP/rvfd.log" | sed 's/^/  | /'
if [ -e "/sys/fs/bpf/rvf/$RVFD_NS_S" ]; then echo "pins left?"; else echo "no pins left under /sys/fs/bpf/rvf/$RVFD_NS_S"; fi
printf '\ndemo finished; namespaces and %s are removed on exit\n' "$TMP"
