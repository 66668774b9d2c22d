#!/usr/bin/env bash
# live.sh — rvfd + XDP under live change (issue 11), on a veth pair between
# two network namespaces (bench/netbench/netns.sh), generic XDP:
#   1. start-up: time from starting rvfd to its first answer (daemon) and to
#      the first answer by XDP, for a 65,536 x 128 store (IVF);
#   2. idle: a client queries without pause for IDLE seconds;
#   3. ingest: the same client while `rvf ingest` adds RATE vectors/s (in
#      batches every 2 s: one CLI run per batch) for SECS seconds.
# Prints, for idle and ingest: queries, share answered by XDP, by cache, by
# the daemon, unanswered, p50/p99 µs and the ratio ingest/idle; wrong answers
# = cache answers that differ from the daemon's answer to the same query at
# the same epoch within the run. Numbers only, no assertion (shared vCPUs).
#   bench/live.sh [N] [SECS] [RATE] [IDLE]     defaults 65536 30 500 10
# Needs root; run under `flock /tmp/rvf-net.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/netbench/netns.sh
N=${1:-65536}
SECS=${2:-30}
RATE=${3:-500}
IDLE=${4:-10}
PORT=7878
[ "$(id -u)" -eq 0 ] || { echo "live.sh: needs root" >&2; exit 77; }
PY=$(rvfd_python) || { echo "live.sh: python3 with numpy needed" >&2; exit 77; }
make -s -j2 build/rvf build/rvfd >/dev/null
bench/netbench/build.sh >/dev/null
TMP=$(mktemp -d /tmp/rvf-live.XXXXXX)
RPID=
cleanup() {
	[ -n "$RPID" ] && kill -9 "$RPID" 2>/dev/null
	rvfd_ns_down
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

$PY - "$TMP" "$N" "$SECS" "$RATE" <<'PY'
import json, sys, numpy as np
t, n, secs, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(4242)
c = rng.standard_normal((64, 128)).astype(np.float32) * 2
v = (c[rng.integers(0, 64, n)] + rng.standard_normal((n, 128))).astype(np.float32)
v.tofile(t + "/data.f32")
q = (v[rng.choice(n, 256, replace=False)] + 0.2 * rng.standard_normal((256, 128))).astype(np.float32)
np.save(t + "/q.npy", q)
per = max(1, rate * 2)
for j in range(int(secs / 2)):
    b = (c[rng.integers(0, 64, per)] + rng.standard_normal((per, 128))).astype(np.float32)
    json.dump([{"id": 10_000_000 + 100_000 * j + i, "vector": [float(x) for x in r]} for i, r in enumerate(b)],
              open("%s/b%d.json" % (t, j), "w"))
PY
build/netbench/mkstore "$TMP/s.rvf" "$TMP/data.f32" 128 >/dev/null
build/rvf embed-ebpf "$TMP/s.rvf" >/dev/null
rvfd_ns_up

echo "== start-up, N=$N D=128"
t0=$(date +%s.%N)
nsenter --net="/run/netns/$RVFD_NS_S" -- build/rvfd --file "$TMP/s.rvf" --iface "$RVFD_NS_S" \
	--port "$PORT" --mode generic >"$TMP/rvfd.log" 2>&1 &
RPID=$!
# first answer of any path, then the first one from XDP (10 ms polling)
ns_c $PY - "$RVFD_IP_S" "$PORT" "$TMP/q.npy" "$t0" <<'PY'
import socket, struct, sys, time, numpy as np
H = struct.Struct("<IBBHIHHIBBHII")
host, port, q, t0 = sys.argv[1], int(sys.argv[2]), np.load(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((host, port)); s.settimeout(0.01)
first = None
for rid in range(1, 100000):
    try:
        s.send(H.pack(0x31515652, 1, 1, 0, rid, 128, 10, 0, 0, 0, 0, 0, 0) + q[rid % len(q)].astype("<f4").tobytes())
    except ConnectionRefusedError:
        time.sleep(0.01)
        continue
    try:
        b = s.recv(65536)
    except (socket.timeout, ConnectionRefusedError):  # not bound yet: ICMP unreachable
        time.sleep(0.01)
        continue
    h = H.unpack(b[:32])
    now = time.time() - t0
    if first is None:
        first = now
        print("  first answer (any path): %.3f s after start (path %d)" % (now, h[9]))
    if h[9] == 1:
        print("  first XDP answer:        %.3f s after start" % now)
        break
    time.sleep(0.01)
PY
grep -E 'XDP maps published' "$TMP/rvfd.log" | head -n 1 | sed 's/^/  /'

run_phase() { # NAME SECONDS
	ns_c $PY bench/netbench/livecheck.py "$RVFD_IP_S" "$PORT" "$TMP/q.npy" "$2" "$TMP/$1.jsonl" \
		--daemon-share 0.1 >"$TMP/$1.sum"
}
echo "== idle, ${IDLE} s"
run_phase idle "$IDLE"
echo "== ingest $RATE vectors/s for $SECS s"
run_phase ingest "$SECS" &
LPID=$!
j=0
next=$(date +%s.%N)
ti0=$next
while kill -0 "$LPID" 2>/dev/null && [ -e "$TMP/b$j.json" ]; do
	build/rvf ingest "$TMP/s.rvf" -i "$TMP/b$j.json" --no-progress >/dev/null
	j=$((j + 1))
	next=$(echo "$next + 2" | bc)
	now=$(date +%s.%N)
	d=$(echo "$next - $now" | bc)
	case $d in -* | 0) ;; *) sleep "$d" ;; esac
done
ti1=$(date +%s.%N)
wait "$LPID"
echo "  ingested $j batches of $((RATE * 2)) vectors in $(echo "$ti1 - $ti0" | bc | cut -c1-5) s" \
	"(target $RATE/s for $SECS s)"
echo "  map sets with IVF kept (appended vectors joined the clusters): $(grep -c 'IVF incremental' "$TMP/rvfd.log")," \
	"with k-means: $(grep -c 'IVF k-means' "$TMP/rvfd.log")"
grep -c 'XDP maps published' "$TMP/rvfd.log" | sed 's/^/  map sets published: /'
grep -E 'XDP maps published' "$TMP/rvfd.log" | sed -E 's/.*built in ([0-9]+) ms.*/\1/' |
	sort -n | awk '{a[NR]=$1} END {if (NR) printf "  build time ms: min %d median %d max %d\n", a[1], a[int((NR+1)/2)], a[NR]}'

$PY - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
def load(name):
    return json.load(open("%s/%s.sum" % (t, name))), [json.loads(l) for l in open("%s/%s.jsonl" % (t, name))]
res = {}
for name in ("idle", "ingest"):
    s, rows = load(name)
    n = s["sent"]
    by = s["by_path"]
    daemon = {}
    for r in rows:
        if r["path"] == "daemon":
            daemon[(r["q"], r["epoch"])] = r["ids"]
    checked = wrong = 0
    for r in rows:
        if r["path"] == "cache" and (r["q"], r["epoch"]) in daemon:
            checked += 1
            wrong += r["ids"] != daemon[(r["q"], r["epoch"])]
    epochs = sorted({r["epoch"] for r in rows})
    res[name] = s
    print("%-7s queries %6d  xdp %5.1f %%  cache %5.1f %%  daemon %5.1f %%  unanswered %d  p50 %7.1f us  p99 %8.1f us  "
          "epochs %d  cache answers checked %d, wrong %d" % (
              name, n, 100.0 * by.get("xdp", 0) / max(n, 1), 100.0 * by.get("cache", 0) / max(n, 1),
              100.0 * by.get("daemon", 0) / max(n, 1), s["unanswered"], s["p50_us"] or 0, s["p99_us"] or 0,
              len(epochs), checked, wrong))
i, g = res["idle"], res["ingest"]
if i["p99_us"] and g["p99_us"]:
    print("ingest / idle: p50 %.2fx  p99 %.2fx  (goal p99 <= 2x; XDP share goal >= 95 %% counts queries without the daemon flag)"
          % (g["p50_us"] / i["p50_us"], g["p99_us"] / i["p99_us"]))
PY
