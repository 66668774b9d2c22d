#!/usr/bin/env bash
# replica_netns.sh — three rvfd replicas behind the kernel's UDP load
# balancer (deploy/nftables-lb.sh), in network namespaces: a client (rpl_c),
# a router holding the VIP 10.96.100.1 and the nftables rules (rpl_r), three
# replicas (rpl_s0..2, rvfd with generic XDP on the veth):
#  - deploy/rvf-follow.sh makes each replica (first copy: "replace"); after
#    an ingest on the primary it ships only the tail ("append"); a replica
#    not yet followed shows the lag on /healthz (older epoch, same file_id)
#    and in rvfd_store_info; after a compaction of the primary the replica is
#    replaced whole;
#  - 3,000 queries to the VIP, one UDP flow each: every one answered, each
#    replica answers a share (rvfd_requests_total), every answer equal to
#    `rvf query --exact` of the primary (ids and distance bits);
#  - one replica stopped mid-stream, the backend set updated: the loss
#    window in queries and ms is reported; no query sent after the update
#    is lost; no conntrack entry for the removed backend remains;
#  - --down removes the table (the VIP no longer answers).
# Needs root (skips with 77 otherwise); run under flock /tmp/rvf-net.lock.
. "$(dirname "$0")/lib.sh"
. bench/netbench/netns.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! replica_netns: SKIPPED — needs root (network namespaces, XDP, nftables) !!!" >&2
	skip "needs root"
fi
need_cmd jq ip nsenter nft conntrack rsync curl cmp
PY=$(rvfd_python) || skip "python3 with numpy not available"
[ -x "$RVF" ] && [ -x build/rvfd ] || skip "build/rvf or build/rvfd not built"
RVFD=build/rvfd
PORT=7878
MPORT=9178
VIP=10.96.100.1
NQ=${RVF_REPLICA_QUERIES:-3000}
chmod 755 "$T" # rvfd's worker (user nobody) reopens the store

ns() { local n=$1; shift; nsenter --net="/run/netns/$n" -- "$@"; }
net_down() {
	local n
	for n in 0 1 2; do
		if [ -e "/run/netns/rpl_s$n" ]; then
			timeout 10 nsenter --net="/run/netns/rpl_s$n" -- "$RVF" detach "rpl_s$n" \
				>/dev/null 2>&1 || true
			ip netns del "rpl_s$n" 2>/dev/null || true
		fi
		rm -rf "/sys/fs/bpf/rvf/rpl_s$n" 2>/dev/null || true
	done
	for n in rpl_r rpl_c; do [ ! -e "/run/netns/$n" ] || ip netns del "$n" 2>/dev/null || true; done
	return 0
}
net_up() {
	local i
	net_down
	ip netns add rpl_c && ip netns add rpl_r || return 1
	ip link add rpl_c netns rpl_c type veth peer name rpl_rc netns rpl_r || return 1
	ns rpl_c ip addr add 10.96.10.2/24 dev rpl_c
	ns rpl_r ip addr add 10.96.10.1/24 dev rpl_rc
	ns rpl_r ip addr add "$VIP/32" dev lo
	for n in rpl_c rpl_r; do ns $n ip link set lo up; done
	ns rpl_c ip link set rpl_c up && ns rpl_r ip link set rpl_rc up || return 1
	ns rpl_c ip route add default via 10.96.10.1 || return 1
	ns rpl_r sysctl -qw net.ipv4.ip_forward=1 || return 1
	for i in 0 1 2; do
		ip netns add "rpl_s$i" || return 1
		ip link add "rpl_s$i" netns "rpl_s$i" type veth peer name "rpl_r$i" netns rpl_r || return 1
		ns "rpl_s$i" ip addr add "10.96.$i.2/24" dev "rpl_s$i"
		ns rpl_r ip addr add "10.96.$i.1/24" dev "rpl_r$i"
		ns "rpl_s$i" ip link set lo up
		ns "rpl_s$i" ip link set "rpl_s$i" up && ns rpl_r ip link set "rpl_r$i" up || return 1
		ns "rpl_s$i" ip route add default via "10.96.$i.1" || return 1
	done
}
on_exit net_down
net_up || fail "could not create the namespaces"
ok

# data: 2,000 x 128 L2 on the primary, NQ queries near stored vectors
$PY - "$T" "$NQ" <<'PY'
import json, sys, numpy as np
t, nq = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(96)
v = rng.standard_normal((2000, 128)).astype(np.float32)
json.dump([{"id": 5 * i + 2, "vector": [float(x) for x in v[i]]} for i in range(2000)], open(t + "/v.json", "w"))
more = rng.standard_normal((10, 128)).astype(np.float32)
json.dump([{"id": 100000 + i, "vector": [float(x) for x in more[i]]} for i in range(10)], open(t + "/more.json", "w"))
q = (v[rng.choice(2000, nq, replace=nq > 2000)] + 0.3 * rng.standard_normal((nq, 128))).astype(np.float32)
np.save(t + "/q.npy", q)
q.tofile(t + "/q.f32")
PY
P=$T/primary.rvf
expect_exit 0 $RVF create "$P" -d 128
expect_exit 0 $RVF ingest "$P" -i "$T/v.json" --no-progress
FILE_ID=$($RVF inspect "$P" --json | jq -r .lineage.file_id)
epoch_of() { $RVF status "$1" --json | jq -r .epoch; }

log "replicas made with deploy/rvf-follow.sh"
for i in 0 1 2; do
	mkdir -m 755 "$T/rep$i"
	assert_eq "$(deploy/rvf-follow.sh "$P" "$T/rep$i/s.rvf")" replace "first copy of replica $i"
	cmp -s "$P" "$T/rep$i/s.rvf" || fail "replica $i differs from the primary"
	chmod 644 "$T/rep$i/s.rvf"
done
assert_eq "$(deploy/rvf-follow.sh "$P" "$T/rep0/s.rvf")" current "follow with nothing new"

PIDS=()
for i in 0 1 2; do
	nsenter --net="/run/netns/rpl_s$i" -- $RVFD --file "$T/rep$i/s.rvf" --iface "rpl_s$i" \
		--port "$PORT" --mode generic --metrics-port "$MPORT" >"$T/rvfd$i.log" 2>&1 &
	PIDS+=($!)
	on_exit "kill -9 ${PIDS[$i]} 2>/dev/null"
done
for i in 0 1 2; do
	rvfd_wait_ready "$T/rvfd$i.log" "${PIDS[$i]}" 30 || { cat "$T/rvfd$i.log" >&2; fail "rvfd $i did not start"; }
	rvfd_wait_xdp "$T/rvfd$i.log" "${PIDS[$i]}" 60 || { cat "$T/rvfd$i.log" >&2; fail "rvfd $i published no XDP maps"; }
done
ok
health() { ns "rpl_s$1" curl -s --max-time 5 "http://127.0.0.1:$MPORT/healthz"; }
metric() { # REPLICA NAME: the value of a metric line starting with NAME
	ns "rpl_s$1" curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$2" '$1 == m {print $2}'
}
# wait_epoch REPLICA EPOCH: /healthz reports EPOCH (bounded: 15 s)
wait_epoch() {
	local n
	for n in $(seq 150); do
		[ "$(health "$1" | jq -r .epoch)" = "$2" ] && return 0
		sleep 0.1
	done
	fail "replica $1 still at epoch $(health "$1" | jq -r .epoch), want $2"
}

log "/healthz and rvfd_store_info carry the served file_id and epoch"
E1=$(epoch_of "$P")
CODE=$(ns rpl_s0 curl -s -o "$T/h.json" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MPORT/healthz")
assert_eq "$CODE" 200 "/healthz status"
json_eq "$T/h.json" .status serving
json_eq "$T/h.json" .file_id "$FILE_ID"
json_eq "$T/h.json" .epoch "$E1"
json_eq "$T/h.json" .vectors 2000
json_eq "$T/h.json" .xdp_attached true
ns rpl_s0 curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$T/m.txt"
expect_contains "$T/m.txt" "rvfd_store_info{file_id=\"$FILE_ID\",epoch=\"$E1\"} 1"
CODE=$(ns rpl_s0 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MPORT/healthz/x")
assert_eq "$CODE" 404 "/healthz/x"

log "an ingest on the primary: follow ships the tail; the lagging replicas show it"
expect_exit 0 $RVF ingest "$P" -i "$T/more.json" --no-progress
E2=$(epoch_of "$P")
[ "$E2" -gt "$E1" ] || fail "the ingest did not advance the epoch"
OUT=$(deploy/rvf-follow.sh "$P" "$T/rep0/s.rvf")
case $OUT in "append "*" bytes") ok ;; *) fail "follow after an ingest printed '$OUT', want append" ;; esac
wait_epoch 0 "$E2"
json_eq <(health 1) .epoch "$E1" # replica 1 lags: same file_id, older epoch
json_eq <(health 1) .file_id "$FILE_ID"
for i in 1 2; do deploy/rvf-follow.sh "$P" "$T/rep$i/s.rvf" >/dev/null || fail "follow $i"; done
for i in 0 1 2; do wait_epoch $i "$E2"; cmp -s "$P" "$T/rep$i/s.rvf" || fail "replica $i differs"; done
ok
log "a compaction on the primary: the replica is replaced whole"
expect_exit 0 $RVF delete "$P" --ids 2,7
expect_exit 0 $RVF compact "$P"
expect_exit 0 $RVF ingest "$P" -i "$T/more.json" --no-progress # a commit after the compaction
E3=$(epoch_of "$P")
for i in 0 1 2; do
	OUT=$(deploy/rvf-follow.sh "$P" "$T/rep$i/s.rvf")
	assert_eq "$OUT" replace "follow after a compaction (replica $i)"
	chmod 644 "$T/rep$i/s.rvf"
done
for i in 0 1 2; do wait_epoch $i "$E3"; done
json_eq <(health 2) .vectors 2008

log "load balancer up: $VIP:$PORT -> three replicas"
expect_exit 0 ns rpl_r deploy/nftables-lb.sh "$VIP:$PORT" 10.96.0.2:$PORT 10.96.1.2:$PORT 10.96.2.2:$PORT
expect_exit 2 ns rpl_r deploy/nftables-lb.sh "$VIP:$PORT" 10.96.0.2:$PORT 10.96.0.2:$PORT
expect_exit 2 ns rpl_r deploy/nftables-lb.sh "$VIP:$PORT" 10.96.0.256:$PORT
expect_exit 2 ns rpl_r deploy/nftables-lb.sh "$VIP:$PORT"
$RVF query "$P" --input "$T/q.npy" -k 10 --exact --json >"$T/exact.json" || fail "rvf query batch"
for i in 0 1 2; do B[$i]=$(metric $i rvfd_requests_total); done

log "$NQ queries to the VIP, one flow each"
ns rpl_c $PY tests/integration/lbclient.py "$VIP" "$PORT" "$T/q.f32" 128 "$NQ" 1000 1000 2 \
	>"$T/p1.jsonl" || fail "lbclient failed"
SHARES=
for i in 0 1 2; do
	A=$(metric $i rvfd_requests_total)
	SH[$i]=$((A - B[i]))
	SHARES+="${SHARES:+ / }${SH[$i]}"
done
$PY - "$T/p1.jsonl" "$T/exact.json" "$NQ" "$E3" >"$T/cmp1.txt" <<'PY' || { cat "$T/cmp1.txt"; fail "phase 1"; }
import json, struct, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"i"' in l]
exact = json.load(open(sys.argv[2]))["results"]
n, epoch = int(sys.argv[3]), int(sys.argv[4])
bits = lambda d: struct.unpack("<I", struct.pack("<f", d))[0]
lost = [r["i"] for r in rows if not r["ok"]]
bad = [r["i"] for r in rows if r["ok"] and (r["ids"] != [h["id"] for h in exact[r["i"]]] or
       r["bits"] != [bits(h["distance"]) for h in exact[r["i"]]] or r["epoch"] != epoch)]
retried = sum(r["attempts"] > 1 for r in rows)
rtt = sorted(r["rtt_us"] for r in rows if r["ok"])
print("queries %d answered %d lost %d wrong %d retried %d rtt p50 %d us p99 %d us" %
      (len(rows), len(rows) - len(lost), len(lost), len(bad), retried, rtt[len(rtt) // 2], rtt[len(rtt) * 99 // 100]))
sys.exit(1 if lost or bad or len(rows) != n else 0)
PY
ok
log "  $(cat "$T/cmp1.txt"); daemon requests per replica: $SHARES"
for i in 0 1 2; do
	[ "${SH[$i]}" -ge $((NQ / 4)) ] || fail "replica $i answered only ${SH[$i]} of $NQ"
	ok
done

log "replica 2 stopped at query 300, backend set updated at query 400 (500 queries/s)"
NQ2=1500
UPD="nsenter --net=/run/netns/rpl_r -- deploy/nftables-lb.sh $VIP:$PORT 10.96.0.2:$PORT 10.96.1.2:$PORT"
ns rpl_c $PY tests/integration/lbclient.py "$VIP" "$PORT" "$T/q.f32" 128 "$NQ2" 500 300 0 \
	"300:kill:${PIDS[2]}" "400:run:$UPD" >"$T/p2.jsonl" || fail "lbclient failed"
rvfd_stop "${PIDS[2]}" 10 || true # already stopped by the client (SIGTERM at query 300)
$PY - "$T/p2.jsonl" "$NQ2" >"$T/cmp2.txt" <<'PY' || { cat "$T/cmp2.txt"; fail "phase 2"; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in lines if "i" in r]
ev = sorted((e for e in lines if "event_at" in e), key=lambda e: e["event_at"])
kill, upd = ev[0], ev[1]
lost = [r for r in rows if not r["ok"]]
before = [r["i"] for r in lost if r["t_ms"] < kill["start_ms"]]
after = [r["i"] for r in lost if r["t_ms"] > upd["done_ms"]]
print("sent %d, lost %d: first query %s, last query %s, window %.0f ms (stop at %.0f ms, update "
      "%.0f..%.0f ms, rc %s); lost before the stop %d, after the update %d" %
      (len(rows), len(lost), lost[0]["i"] if lost else "-", lost[-1]["i"] if lost else "-",
       (lost[-1]["t_ms"] - lost[0]["t_ms"]) if lost else 0, kill["start_ms"], upd["start_ms"],
       upd["done_ms"], upd["rc"], len(before), len(after)))
sys.exit(1 if before or after or upd["rc"] != 0 or len(rows) != int(sys.argv[2]) else 0)
PY
ok
log "  $(cat "$T/cmp2.txt")"
N_CT=$(ns rpl_r conntrack -L -p udp --reply-src 10.96.2.2 2>/dev/null | grep -c . || true)
assert_eq "$N_CT" 0 "conntrack entries left for the removed backend"
N_CT=$(ns rpl_r conntrack -L -p udp --reply-src 10.96.0.2 2>/dev/null | grep -c . || true)
[ "$N_CT" -gt 0 ] || fail "no conntrack entries for a remaining backend (the check above proves nothing)"
ok

log "--down removes the balancer"
expect_exit 0 ns rpl_r deploy/nftables-lb.sh --down "$VIP:$PORT"
ns rpl_r nft list tables | grep -q rvf_lb && fail "table still there after --down"
q1=$($PY -c "import numpy as np; print(','.join(repr(float(x)) for x in np.load('$T/q.npy')[0]))")
expect_exit 1 ns rpl_c $RVF net-query "$VIP:$PORT" -v "$q1" --daemon --timeout-ms 200 --retries 0
expect_exit 1 ns rpl_r deploy/nftables-lb.sh --down "$VIP:$PORT"
pass
