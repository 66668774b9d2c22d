#!/usr/bin/env bash
# nftables-lb.sh — the kernel's UDP load balancer in front of rvfd replicas,
# the way kube-proxy's nftables mode does it (docs/SCALING.md):
#
#   deploy/nftables-lb.sh VIP:PORT BACKEND_IP:PORT...   set up, or replace the backend set
#   deploy/nftables-lb.sh --down VIP:PORT               remove it
#
# One table `ip rvf_lb_<VIP>_<PORT>` per VIP, in the network namespace the
# script runs in: UDP to VIP:PORT is DNATed (prerouting for forwarded
# traffic, output for local clients) to `numgen inc mod N` over the backends,
# so each new UDP flow (client address + port) goes to the next backend and
# conntrack carries the replies back from the VIP. A replacement is one nft
# transaction (no moment without rules). Conntrack entries of a backend
# that left the set are deleted (`conntrack -D ... --reply-src IP
# --reply-port-src PORT`, as kube-proxy does): without that, a flow pinned to
# a dead backend would keep being sent there until its entry times out
# (30 s / 120 s for UDP). IPv4 only. Needs root (CAP_NET_ADMIN), nft,
# conntrack. Exit 0 ok, 1 failure, 2 usage.
set -euo pipefail

usage() {
	echo "usage: $0 VIP:PORT BACKEND_IP:PORT... | $0 --down VIP:PORT" >&2
	exit 2
}
die() {
	echo "error: $*" >&2
	exit 1
}

IPV4='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}'
# ip_port STRING: sets IP and PORT, or exits 2.
ip_port() {
	[[ $1 =~ ^($IPV4):([0-9]{1,5})$ ]] || { echo "error: '$1' is not IPV4:PORT" >&2; usage; }
	IP=${1%:*}
	PORT=${1##*:}
	PORT=$((10#$PORT))
	[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || { echo "error: port of '$1' not 1..65535" >&2; usage; }
}

# backends_of TABLE: the IP:PORT of the table's current map, one per line.
backends_of() {
	nft list table ip "$1" 2>/dev/null |
		grep -oE "[0-9]+ : $IPV4 \. [0-9]+" | sed -E 's/^[0-9]+ : //; s/ \. /:/' | sort -u || true
}

# forget IP PORT: delete the conntrack entries of VIP:VPORT flows that
# conntrack sends to backend IP:PORT.
forget() {
	conntrack -D -p udp --orig-dst "$VIP" --orig-port-dst "$VPORT" --reply-src "$1" \
		--reply-port-src "$2" >/dev/null 2>&1 || true # exit 1 = no entry: fine
}

command -v nft >/dev/null || die "nft not found (Debian package nftables)"
command -v conntrack >/dev/null || die "conntrack not found (Debian package conntrack)"
[ $# -ge 1 ] || usage

if [ "$1" = --down ]; then
	[ $# -eq 2 ] || usage
	ip_port "$2"
	VIP=$IP VPORT=$PORT
	TABLE="rvf_lb_${VIP//./_}_$VPORT"
	nft list table ip "$TABLE" >/dev/null 2>&1 || die "no load balancer for $VIP:$VPORT here"
	nft delete table ip "$TABLE" || die "nft delete table $TABLE failed"
	conntrack -D -p udp --orig-dst "$VIP" --orig-port-dst "$VPORT" >/dev/null 2>&1 || true
	echo "removed the load balancer for $VIP:$VPORT"
	exit 0
fi

[ $# -ge 2 ] || usage
ip_port "$1"
VIP=$IP VPORT=$PORT
TABLE="rvf_lb_${VIP//./_}_$VPORT"
shift
NEW=()
ELEMS=
i=0
for b in "$@"; do
	ip_port "$b"
	for o in "${NEW[@]+"${NEW[@]}"}"; do
		[ "$o" != "$IP:$PORT" ] || { echo "error: backend $IP:$PORT listed twice" >&2; usage; }
	done
	NEW+=("$IP:$PORT")
	ELEMS+="${ELEMS:+, }$i : $IP . $PORT"
	i=$((i + 1))
done
OLD=$(backends_of "$TABLE")
RULE="ip daddr $VIP udp dport $VPORT dnat to numgen inc mod $i map { $ELEMS }"
# add + delete + add in one transaction: atomic whether the table exists or not
nft -f - <<NFT || die "nft refused the ruleset for $TABLE"
table ip $TABLE
delete table ip $TABLE
table ip $TABLE {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		$RULE
	}
	chain output {
		type nat hook output priority -100; policy accept;
		$RULE
	}
}
NFT
removed=0
for o in $OLD; do
	keep=0
	for n in "${NEW[@]}"; do [ "$n" != "$o" ] || keep=1; done
	if [ $keep -eq 0 ]; then
		forget "${o%:*}" "${o##*:}"
		removed=$((removed + 1))
	fi
done
echo "$VIP:$VPORT -> ${NEW[*]} (numgen inc mod $i; $removed backend(s) removed, their conntrack entries deleted)"
