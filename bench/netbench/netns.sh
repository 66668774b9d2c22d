# shellcheck shell=bash
# netns.sh — two network namespaces joined by a veth pair, for rvfd tests,
# the demo and the XDP-vs-daemon benchmark. Source it, then:
#
#   rvfd_ns_up            create netns rvfd_s (veth rvfd_s, 10.98.0.1/24, fd98::1/64)
#                         and rvfd_c (veth rvfd_c, 10.98.0.2/24 + 10.98.0.66/24, fd98::2/64)
#   ns_s CMD...           run CMD in the server netns, keeping the host's mount
#                         namespace (so /sys/fs/bpf is the real bpffs; 'ip netns exec'
#                         would hide it)
#   ns_c CMD...           run CMD in the client netns
#   rvfd_ns_down          detach rvf programs, remove pins, delete both netns (idempotent)
#
# Names are fixed (RVFD_NS_S / RVFD_NS_C, veth of the same names); all waits bounded.
RVFD_NS_S=${RVFD_NS_S:-rvfd_s}
RVFD_NS_C=${RVFD_NS_C:-rvfd_c}
RVFD_IP_S=10.98.0.1
RVFD_IP_C=10.98.0.2
RVFD_IP_C2=10.98.0.66
RVFD_IP6_S=fd98::1
RVFD_IP6_C=fd98::2

ns_s() { nsenter --net="/run/netns/$RVFD_NS_S" -- "$@"; }
ns_c() { nsenter --net="/run/netns/$RVFD_NS_C" -- "$@"; }

rvfd_ns_down() {
	local rvf=${RVF:-build/rvf}
	if [ -e "/run/netns/$RVFD_NS_S" ]; then
		[ -x "$rvf" ] && timeout 10 nsenter --net="/run/netns/$RVFD_NS_S" -- \
			"$rvf" detach "$RVFD_NS_S" >/dev/null 2>&1 || true
		ip netns del "$RVFD_NS_S" 2>/dev/null || true
	fi
	[ -e "/run/netns/$RVFD_NS_C" ] && ip netns del "$RVFD_NS_C" 2>/dev/null
	rm -rf "/sys/fs/bpf/rvf/$RVFD_NS_S" 2>/dev/null || true
	return 0
}

rvfd_ns_up() {
	rvfd_ns_down
	ip netns add "$RVFD_NS_S" && ip netns add "$RVFD_NS_C" || return 1
	ip link add "$RVFD_NS_S" netns "$RVFD_NS_S" type veth peer name "$RVFD_NS_C" \
		netns "$RVFD_NS_C" || return 1
	ns_s ip addr add "$RVFD_IP_S/24" dev "$RVFD_NS_S"
	ns_s ip -6 addr add "$RVFD_IP6_S/64" dev "$RVFD_NS_S" nodad
	ns_c ip addr add "$RVFD_IP_C/24" dev "$RVFD_NS_C"
	ns_c ip addr add "$RVFD_IP_C2/24" dev "$RVFD_NS_C"
	ns_c ip -6 addr add "$RVFD_IP6_C/64" dev "$RVFD_NS_C" nodad
	ns_s ip link set lo up && ns_c ip link set lo up
	ns_s ip link set "$RVFD_NS_S" up && ns_c ip link set "$RVFD_NS_C" up || return 1
	# Static neighbours: no ARP/ND round trips inside timed runs.
	local mac_s mac_c
	mac_c=$(ns_c ip -o link show "$RVFD_NS_C" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	mac_s=$(ns_s ip -o link show "$RVFD_NS_S" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	ns_s ip neigh replace "$RVFD_IP_C" lladdr "$mac_c" dev "$RVFD_NS_S" nud permanent
	ns_s ip neigh replace "$RVFD_IP_C2" lladdr "$mac_c" dev "$RVFD_NS_S" nud permanent
	ns_s ip -6 neigh replace "$RVFD_IP6_C" lladdr "$mac_c" dev "$RVFD_NS_S" nud permanent
	ns_c ip neigh replace "$RVFD_IP_S" lladdr "$mac_s" dev "$RVFD_NS_C" nud permanent
	ns_c ip -6 neigh replace "$RVFD_IP6_S" lladdr "$mac_s" dev "$RVFD_NS_C" nud permanent
	return 0
}

# rvfd_wait_ready LOG PID [SECONDS]: wait for rvfd's "serving" line (bounded).
rvfd_wait_ready() {
	local log=$1 pid=$2 t=${3:-20} i
	for ((i = 0; i < t * 20; i++)); do
		grep -q '^rvfd: serving' "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# rvfd_wait_xdp LOG PID [SECONDS]: wait until rvfd published its first XDP
# map set (the daemon answers from start; XDP joins when its maps are built).
rvfd_wait_xdp() {
	local log=$1 pid=$2 t=${3:-60} i
	for ((i = 0; i < t * 20; i++)); do
		grep -q '^rvfd: XDP maps published' "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# rvfd_stop PID [SECONDS]: SIGTERM, wait (bounded), SIGKILL if still there.
# Sets RVFD_RC to rvfd's exit status (call it directly, not in $(...): only
# the shell that started rvfd can wait for it).
rvfd_stop() {
	local pid=$1 t=${2:-10} i
	RVFD_RC=0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < t * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || RVFD_RC=$?
}

# A python3 that has numpy (pyenv shims may shadow Debian's python3-numpy).
rvfd_python() {
	local p
	for p in python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
