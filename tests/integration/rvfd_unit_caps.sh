#!/usr/bin/env bash
# rvfd_unit_caps.sh — the privileges of the installed systemd unit
# (packaging/rvfd@.service.in) are enough for rvfd with XDP, and needed:
#  - rvfd started with exactly the unit's CapabilityBoundingSet (setpriv
#    --bounding-set) and no_new_privs, on a veth in a network namespace
#    (bench/netbench/netns.sh), attaches XDP, publishes its maps, answers a
#    query from XDP and one from the daemon, drops its worker to nobody,
#    and on SIGTERM exits 0 leaving no pin behind;
#  - without CAP_SETPCAP (one capability of the set removed) the worker's
#    privilege drop fails and rvfd exits 1: the set is not larger than it
#    must be for that capability.
# Needs root (skips with 77 otherwise). Run under flock /tmp/rvf-net.lock
# beside other network tests (fixed namespace names and pin paths).
. "$(dirname "$0")/lib.sh"
. bench/netbench/netns.sh
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, XDP, bpffs)"
need_cmd ip nsenter setpriv jq
need_file build/rvfd build/rvf packaging/rvfd@.service.in
RVFD=build/rvfd PORT=7879

# The unit's bounding set, as setpriv wants it: -all,+bpf,+net_admin,...
caps=$(sed -n 's/^CapabilityBoundingSet=//p' packaging/rvfd@.service.in)
[ -n "$caps" ] || fail "no CapabilityBoundingSet in the unit"
bset=-all
for c in $caps; do bset+=",+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"; done
log "unit bounding set: $caps -> setpriv --bounding-set $bset"
grep -q '^NoNewPrivileges=yes$' packaging/rvfd@.service.in || fail "unit without NoNewPrivileges"

chmod 755 "$T" # the worker (nobody) reopens the store
gen_vectors 300 128 7 > "$T/v.json"
expect_exit 0 "$RVF" create "$T/s.rvf" -d 128
expect_exit 0 "$RVF" ingest "$T/s.rvf" -i "$T/v.json"
chmod 644 "$T/s.rvf"
q=$(jq -r '.[5].vector | map(tostring) | join(",")' "$T/v.json")

on_exit "rvfd_ns_down"
rvfd_ns_up || fail "could not create the namespaces"

# run_capped BSET LOG: rvfd in the server namespace under that bounding set.
RPID=
run_capped() {
	nsenter --net="/run/netns/$RVFD_NS_S" -- setpriv --bounding-set "$1" --no-new-privs -- \
		"$RVFD" --file "$T/s.rvf" --iface "$RVFD_NS_S" --port "$PORT" --mode generic \
		>"$2" 2>&1 &
	RPID=$!
	on_exit "kill -9 $RPID 2>/dev/null"
}

run_capped "$bset" "$T/rvfd.log"
rvfd_wait_ready "$T/rvfd.log" "$RPID" 30 || { cat "$T/rvfd.log" >&2; fail "rvfd did not start with the unit's capabilities"; }
rvfd_wait_xdp "$T/rvfd.log" "$RPID" 60 || { cat "$T/rvfd.log" >&2; fail "no XDP maps with the unit's capabilities"; }
ok
grep -q 'as user nobody' "$T/rvfd.log" || fail "worker did not drop to nobody: $(cat "$T/rvfd.log")"
ok
x=$(ns_c "$RVF" net-query "$RVFD_IP_S:$PORT" -v "$q" -k 3 --json) || fail "XDP query failed"
assert_eq "$(jq -r .path <<< "$x")" xdp "path of the first query"
assert_eq "$(jq -r '.results[0].id' <<< "$x")" 5 "nearest id (XDP)"
d=$(ns_c "$RVF" net-query "$RVFD_IP_S:$PORT" -v "$q" -k 3 --daemon --json) || fail "daemon query failed"
assert_eq "$(jq -r .path <<< "$d")" daemon "path of the --daemon query"
assert_eq "$(jq -r '.results[0].id' <<< "$d")" 5 "nearest id (daemon)"
[ -d "/sys/fs/bpf/rvf/$RVFD_NS_S" ] || fail "no pins while serving"
rvfd_stop "$RPID" 15
assert_eq "$RVFD_RC" 0 "rvfd exit status after SIGTERM"
[ ! -e "/sys/fs/bpf/rvf/$RVFD_NS_S" ] || fail "pins left after SIGTERM: $(ls "/sys/fs/bpf/rvf/$RVFD_NS_S")"
ok

# One capability less (CAP_SETPCAP: PR_CAPBSET_DROP in the worker's drop).
run_capped "${bset/,+setpcap/}" "$T/rvfd2.log"
rc=0
for _ in $(seq 600); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$RPID" 2>/dev/null; then
	rvfd_stop "$RPID" 10
	fail "rvfd kept running without CAP_SETPCAP: $(cat "$T/rvfd2.log")"
fi
wait "$RPID" 2>/dev/null || rc=$?
assert_eq "$rc" 1 "rvfd exit status without CAP_SETPCAP"
expect_contains "$T/rvfd2.log" "dropping privileges"
[ ! -e "/sys/fs/bpf/rvf/$RVFD_NS_S" ] || fail "pins left after the failed drop"
ok

pass
