#!/usr/bin/env bash
# shard_netns.sh — a sharded store served by three rvfd, one per network
# namespace (shd_s0..2, generic XDP on each veth), queried from a client
# namespace (shd_c, one veth pair per shard, 10.97.I.0/24) with
# `rvf net-query --shards` / `--shard-map`:
#  - 3,000 x 128 L2 vectors split by hash into 3 shards; for 500 queries the
#    merged daemon top-10 (--daemon --no-cache: exact f32 on each shard)
#    equals `rvf query --exact` on the unsplit file, ids and distances bit
#    for bit, every shard answering;
#  - the same 500 queries on the XDP path: the recall@10 of the merged answer
#    against the exact one is reported (not asserted);
#  - one shard stopped: net-query exits 3, names the missing shard's
#    HOST:PORT in "missing" and "shards", and returns the exact top-10 of the
#    two shards still serving (both with --shards and --shard-map).
# Needs root (skips with 77 otherwise); run under flock /tmp/rvf-net.lock.
. "$(dirname "$0")/lib.sh"
. bench/netbench/netns.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! shard_netns: SKIPPED — needs root (network namespaces, XDP, bpffs) !!!" >&2
	skip "needs root"
fi
need_cmd jq ip nsenter
PY=$(rvfd_python) || skip "python3 with numpy not available"
[ -x "$RVF" ] && [ -x build/rvfd ] || skip "build/rvf or build/rvfd not built"
RVFD=build/rvfd
PORT=7878
NQ=${RVF_SHARD_QUERIES:-500}
NS_C=shd_c
chmod 755 "$T" # rvfd's worker (user nobody) reopens the store

ns() { local n=$1; shift; nsenter --net="/run/netns/$n" -- "$@"; }
net_down() {
	local i
	for i in 0 1 2; do
		if [ -e "/run/netns/shd_s$i" ]; then
			timeout 10 nsenter --net="/run/netns/shd_s$i" -- "$RVF" detach "shd_s$i" \
				>/dev/null 2>&1 || true
			ip netns del "shd_s$i" 2>/dev/null || true
		fi
		rm -rf "/sys/fs/bpf/rvf/shd_s$i" 2>/dev/null || true
	done
	[ -e "/run/netns/$NS_C" ] && ip netns del "$NS_C" 2>/dev/null
	return 0
}
net_up() {
	local i mac_s mac_c
	net_down
	ip netns add "$NS_C" || return 1
	ns "$NS_C" ip link set lo up
	for i in 0 1 2; do
		ip netns add "shd_s$i" || return 1
		ip link add "shd_s$i" netns "shd_s$i" type veth peer name "shd_c$i" netns "$NS_C" ||
			return 1
		ns "shd_s$i" ip addr add "10.97.$i.1/24" dev "shd_s$i"
		ns "$NS_C" ip addr add "10.97.$i.2/24" dev "shd_c$i"
		ns "shd_s$i" ip link set lo up
		ns "shd_s$i" ip link set "shd_s$i" up && ns "$NS_C" ip link set "shd_c$i" up || return 1
		mac_c=$(ns "$NS_C" ip -o link show "shd_c$i" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
		mac_s=$(ns "shd_s$i" ip -o link show "shd_s$i" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
		ns "shd_s$i" ip neigh replace "10.97.$i.2" lladdr "$mac_c" dev "shd_s$i" nud permanent
		ns "$NS_C" ip neigh replace "10.97.$i.1" lladdr "$mac_s" dev "shd_c$i" nud permanent
	done
}
on_exit net_down
net_up || fail "could not create the namespaces"
ok

# data: 3,000 x 128, queries near stored vectors
$PY - "$T" "$NQ" <<'PY'
import json, sys, numpy as np
t, nq = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(97)
v = rng.standard_normal((3000, 128)).astype(np.float32)
json.dump([{"id": 7 * i + 1, "vector": [float(x) for x in v[i]]} for i in range(3000)], open(t + "/v.json", "w"))
q = (v[rng.choice(3000, nq, replace=nq > 3000)] + 0.3 * rng.standard_normal((nq, 128))).astype(np.float32)
np.save(t + "/q.npy", q)
with open(t + "/q.txt", "w") as f:
    for r in q:
        f.write(",".join(repr(float(x)) for x in r) + "\n")
PY
S=$T/s.rvf
expect_exit 0 $RVF create "$S" -d 128
expect_exit 0 $RVF ingest "$S" -i "$T/v.json" --no-progress
mkdir "$T/sh"
ADDRS=10.97.0.1:$PORT,10.97.1.1:$PORT,10.97.2.1:$PORT
expect_exit 0 $RVF shard split "$S" --shards 3 --by hash --out-dir "$T/sh" --addrs "$ADDRS"
chmod 644 "$T"/sh/*.rvf
chmod 755 "$T/sh"
$RVF query "$S" --input "$T/q.npy" -k 10 --exact --json >"$T/exact.json" || fail "rvf query batch"

PIDS=()
for i in 0 1 2; do
	nsenter --net="/run/netns/shd_s$i" -- $RVFD --file "$T/sh/shard-$i.rvf" --iface "shd_s$i" \
		--port "$PORT" --mode generic >"$T/rvfd$i.log" 2>&1 &
	PIDS+=($!)
	on_exit "kill -9 ${PIDS[$i]} 2>/dev/null"
done
for i in 0 1 2; do
	rvfd_wait_ready "$T/rvfd$i.log" "${PIDS[$i]}" 30 || { cat "$T/rvfd$i.log" >&2; fail "rvfd $i did not start"; }
	rvfd_wait_xdp "$T/rvfd$i.log" "${PIDS[$i]}" 60 || { cat "$T/rvfd$i.log" >&2; fail "rvfd $i published no XDP maps"; }
done
ok
nq() { ns "$NS_C" $RVF net-query "$@"; }

# all queries in one process (--input): one JSON object per query, one per line
run_queries() { # OUT FLAGS...
	local out=$1
	shift
	expect_exit 0 nq --shards "$ADDRS" --input "$T/q.npy" -k 10 --timeout-ms 1000 --retries 2 \
		--json "$@"
	json_eq "$T/last.out" .count "$NQ"
	json_eq "$T/last.out" .complete "$NQ"
	json_eq "$T/last.out" .partial 0
	jq -c '.queries[]' "$T/last.out" >"$out"
	assert_eq "$(wc -l <"$out")" "$NQ" "answers"
}

log "daemon path: $NQ merged top-10 == exact top-10 of the unsplit file"
T0=$(date +%s.%N)
run_queries "$T/daemon.jsonl" --daemon --no-cache
T1=$(date +%s.%N)
$PY - "$T/daemon.jsonl" "$T/exact.json" daemon >"$T/cmp_daemon.txt" <<'PY' || { cat "$T/cmp_daemon.txt"; fail "merged daemon answers differ from the exact answers"; }
import json, struct, sys
got = [json.loads(l) for l in open(sys.argv[1])]
exact = json.load(open(sys.argv[2]))["results"]
bits = lambda d: struct.unpack("<I", struct.pack("<f", d))[0]
bad = 0
paths = {}
for i, (g, e) in enumerate(zip(got, exact)):
    for s in g["shards"]:
        paths[s["path"]] = paths.get(s["path"], 0) + 1
    a = [(h["id"], bits(h["distance"])) for h in g["results"]]
    b = [(h["id"], bits(h["distance"])) for h in e]
    if a != b or not g["complete"] or g["answered"] != 3 or g["missing"]:
        bad += 1
        if bad < 5:
            print("query %d: merged %s != exact %s (complete %s)" % (i, a, b, g["complete"]))
print("queries %d mismatches %d shard paths %s" % (len(got), bad, paths))
sys.exit(1 if bad or len(got) != len(exact) or set(paths) != {"daemon"} else 0)
PY
ok
log "  $(cat "$T/cmp_daemon.txt") in $(awk "BEGIN{printf \"%.2f\", $T1 - $T0}") s wall, $(jq .elapsed_us "$T/last.out") us in fan-out"

log "XDP path: recall@10 of the merged answer (reported)"
run_queries "$T/xdp.jsonl" --no-cache
$PY - "$T/xdp.jsonl" "$T/exact.json" >"$T/cmp_xdp.txt" <<'PY' || { cat "$T/cmp_xdp.txt"; fail "XDP fan-out incomplete"; }
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
exact = json.load(open(sys.argv[2]))["results"]
rec, paths, incomplete = [], {}, 0
for g, e in zip(got, exact):
    incomplete += not g["complete"]
    for s in g["shards"]:
        paths[s["path"]] = paths.get(s["path"], 0) + 1
    ex = {h["id"] for h in e}
    rec.append(len(ex & {h["id"] for h in g["results"]}) / len(ex))
print("XDP-path merged recall@10 %.4f (min %.2f) over %d queries, shard answers by path %s" %
      (sum(rec) / len(rec), min(rec), len(rec), paths))
sys.exit(1 if incomplete else 0)
PY
ok
log "  $(cat "$T/cmp_xdp.txt")"

log "one shard stopped: partial result, exit 3, the missing shard named"
rvfd_stop "${PIDS[2]}" 10
q1=$(head -n 1 "$T/q.txt")
# the exact top-10 of the two shards still serving
$RVF query "$T/sh/shard-0.rvf" -v "$q1" -k 10 --exact --json >"$T/p0.json"
$RVF query "$T/sh/shard-1.rvf" -v "$q1" -k 10 --exact --json >"$T/p1.json"
jq -sc '[.[0].results[], .[1].results[]] | sort_by(.distance, .id) | .[:10] | map([.id, .distance])' \
	"$T/p0.json" "$T/p1.json" >"$T/want_partial"
for how in "--shards $ADDRS" "--shard-map $T/sh/shardmap.json"; do
	# shellcheck disable=SC2086
	expect_exit 3 nq $how -v "$q1" -k 10 --daemon --no-cache --timeout-ms 200 --retries 1 --json
	json_eq "$T/last.out" .complete false
	json_eq "$T/last.out" .answered 2
	json_eq "$T/last.out" '.missing|tojson' "[\"10.97.2.1:$PORT\"]"
	json_eq "$T/last.out" '.shards[2].addr' "10.97.2.1:$PORT"
	json_eq "$T/last.out" '.shards[2].state' timeout
	json_eq "$T/last.out" '.shards[2].attempts' 2
	json_eq "$T/last.out" '.shards[0].state' ok
	expect_contains "$T/last.err" "shard 10.97.2.1:$PORT did not answer in time"
	expect_contains "$T/last.err" "partial result: 2 of 3 shards answered"
	jq -c '.results | map([.id, .distance])' "$T/last.out" | cmp -s - "$T/want_partial" ||
		fail "partial result $(jq -c .results "$T/last.out") != exact of shards 0,1 $(cat "$T/want_partial")"
	ok
done
ELAPSED=$(jq .elapsed_us "$T/last.out")
log "  partial answer after $ELAPSED us (2 attempts of 200 ms)"
# batch: every query partial -> exit 3, counted
expect_exit 3 nq --shards "$ADDRS" --input "$T/q.npy" -k 3 --daemon --timeout-ms 20 --retries 0 --json
json_eq "$T/last.out" .partial "$NQ"
json_eq "$T/last.out" '[.queries[].missing[0]]|unique|tojson' "[\"10.97.2.1:$PORT\"]"
expect_contains "$T/last.err" "partial results: $NQ of $NQ queries missed a shard"
# text mode: the same exit status, the shard named
expect_exit 3 nq --shards "$ADDRS" -v "$q1" -k 3 --daemon --timeout-ms 100 --retries 0
expect_contains "$T/last.out" "shard 10.97.2.1:$PORT: timeout"
# every shard gone: exit 1
for i in 0 1; do rvfd_stop "${PIDS[$i]}" 10; done
err_is 1 "no shard answered" nq --shards "$ADDRS" -v "$q1" -k 3 --timeout-ms 100 --retries 0
# usage
expect_exit 2 nq --shards "$ADDRS" --shard-map "$T/sh/shardmap.json" -v "$q1"
expect_exit 2 nq --shards "$ADDRS" 10.97.0.1:$PORT -v "$q1"
expect_exit 2 nq --shards "$ADDRS" --i8 -v "$q1"
expect_exit 2 nq --shards "10.97.0.1:$PORT,,10.97.1.1:$PORT" -v "$q1"
expect_exit 2 nq --shards "10.97.0.1:$PORT,10.97.0.1:$PORT" -v "$q1"
err_is 1 "has no \"addr\"" nq --shard-map <(jq 'del(.shards[1].addr)' "$T/sh/shardmap.json") -v "$q1"
pass
