// SPDX-License-Identifier: GPL-2.0
/* rvf_tc.bpf.c — tc clsact egress half of the BMC-style result cache.
 *
 * When the XDP query program (rvf_xdp.bpf.c) passes a cacheable query up to
 * the daemon, it records (client address, client port, request id) ->
 * (query digest, cache_gen, cache_epoch, k) in rvf_pending. This program
 * sees the daemon's UDP reply leave the host (source port rvf_port),
 * validates it and stores its results in rvf_cache under (digest,
 * cache_gen, k) only when the reply provably answers the recorded query in
 * the store state the cache currently serves:
 *  - a pending entry exists for (destination address, port, req_id);
 *  - the reply's 64-bit tag (header `tag` + result 0's `reserved`), which
 *    the daemon computes from the query it answered, equals the entry's
 *    digest word 0: a reply to another query that reused the request id
 *    (or reached the daemon without XDP) does not match;
 *  - the entry's cache_gen is the current one and the reply's epoch equals
 *    the entry's and the current cache_epoch: the daemon bumps cache_gen
 *    before it answers from any other store state.
 * The pending entry is consumed only by its matching reply.
 *
 * The program only reads packets: it always returns TC_ACT_UNSPEC (TCX_NEXT),
 * so other tcx programs and clsact filters still see the packet. It reads
 * through bpf_skb_load_bytes, so non-linear skbs are handled too.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rvf_maps.h"

#define TC_ACT_OK 0
#define TC_ACT_UNSPEC (-1)
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define RVF_IPPROTO_UDP 17
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

#define HDR_LEN ((__u32)sizeof(struct rvf_wire_hdr))
#define RES_LEN ((__u32)sizeof(struct rvf_wire_result))

/* UDP port of the daemon (host order), set by the loader before load; the
 * same value as the XDP program's rvf_port. */
const volatile __u16 rvf_port = RVF_WIRE_DEFAULT_PORT;

/* A cache value is too big for the stack: build it in a per-CPU slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rvf_cache_val);
} rvf_tc_scratch SEC(".maps");

/* Parses Ethernet + IPv4/IPv6 + UDP of a frame leaving the host. On success
 * fills the pending key's client address/port (the destination) and returns
 * the offset of the UDP payload and its length; -1 when the frame is not a
 * complete, unfragmented UDP datagram from rvf_port. */
static __always_inline int parse_udp(struct __sk_buff *skb, struct rvf_pending_key *pk,
				     __u32 *payload_off, __u32 *payload_len)
{
	__u32 skb_len = skb->len, l4, ulen;
	struct ethhdr eth;
	struct udphdr udp;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	if (eth.h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		__u32 ihl, tot;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
			return -1;
		if (ip.version != 4 || ip.protocol != RVF_IPPROTO_UDP)
			return -1;
		if (ip.frag_off & bpf_htons(IP_MF | IP_OFFMASK))
			return -1; /* fragments: the reply is not all here */
		ihl = (__u32)ip.ihl * 4;
		tot = bpf_ntohs(ip.tot_len);
		if (ihl < sizeof(ip) || tot < ihl + sizeof(udp) || ETH_HLEN + tot > skb_len)
			return -1;
		/* IPv4-mapped IPv6, as XDP stores the client address */
		__builtin_memset(pk->addr, 0, 10);
		pk->addr[10] = 0xff;
		pk->addr[11] = 0xff;
		__builtin_memcpy(&pk->addr[12], &ip.daddr, 4);
		l4 = ETH_HLEN + ihl;
	} else if (eth.h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return -1;
		/* Replies carry no extension headers: UDP must follow directly. */
		if (ip6.version != 6 || ip6.nexthdr != RVF_IPPROTO_UDP)
			return -1;
		if (ETH_HLEN + sizeof(ip6) + bpf_ntohs(ip6.payload_len) > skb_len)
			return -1;
		__builtin_memcpy(pk->addr, &ip6.daddr, 16);
		l4 = ETH_HLEN + sizeof(ip6);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)))
		return -1;
	if (udp.source != bpf_htons(rvf_port))
		return -1;
	ulen = bpf_ntohs(udp.len);
	if (ulen < sizeof(udp) || l4 + ulen > skb_len)
		return -1;
	pk->port = udp.dest;
	*payload_off = l4 + sizeof(udp);
	*payload_len = ulen - sizeof(udp);
	return 0;
}

static __always_inline int fill_cache(struct __sk_buff *skb)
{
	struct rvf_pending_key pk = {};
	struct rvf_pending_val pv;
	struct rvf_pending_val *pvp;
	struct rvf_cache_key ck = {};
	struct rvf_cache_val *val;
	struct rvf_xdp_config *cfg;
	struct rvf_wire_hdr h;
	__u32 off, plen, count, nbytes, zero = 0;

	if (parse_udp(skb, &pk, &off, &plen))
		return TC_ACT_OK;
	if (plen < HDR_LEN || bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
		return TC_ACT_OK;
	if (h.magic != RVF_WIRE_MAGIC || h.version != RVF_WIRE_VERSION || h.op != RVF_OP_REPLY)
		return TC_ACT_OK;
	rvf_count(RVF_C_TC_SEEN);

	/* Only complete, successful daemon answers go to the cache. */
	count = h.count;
	if (h.status != RVF_ST_OK || h.path != RVF_PATH_DAEMON)
		return TC_ACT_OK;
	if (count == 0 || count > RVF_WIRE_MAX_K || plen < HDR_LEN + count * RES_LEN)
		return TC_ACT_OK;

	pk.req_id = h.req_id;
	pvp = bpf_map_lookup_elem(&rvf_pending, &pk);
	if (!pvp)
		return TC_ACT_OK;
	pv = *pvp;
	/* The reply must answer the recorded query: its tag is the digest
	 * the daemon computed over the query it answered. */
	__u32 tag_hi;
	if (bpf_skb_load_bytes(skb, off + HDR_LEN + 12, &tag_hi, sizeof(tag_hi)))
		return TC_ACT_OK;
	if (((__u64)tag_hi << 32 | h.tag) != pv.qd[0]) {
		rvf_count(RVF_C_TC_MISMATCH);
		return TC_ACT_OK; /* not this entry's reply: leave it for its own */
	}
	/* One reply per pending entry, whatever happens next. */
	bpf_map_delete_elem(&rvf_pending, &pk);

	cfg = bpf_map_lookup_elem(&rvf_config, &zero);
	if (!cfg || !cfg->cache_enabled)
		return TC_ACT_OK;
	if (pv.gen != cfg->cache_gen)
		return TC_ACT_OK; /* the daemon serves another store state now */
	if (h.epoch != pv.epoch || pv.epoch != cfg->cache_epoch)
		return TC_ACT_OK; /* the store moved on: never cache a stale answer */
	if (count != pv.k)
		return TC_ACT_OK; /* short answer (e.g. truncated by request size) */

	val = bpf_map_lookup_elem(&rvf_tc_scratch, &zero);
	if (!val) {
		rvf_count(RVF_C_ERROR);
		return TC_ACT_OK;
	}
	/* Unused slots hold zeros, not results of an earlier query. */
#pragma clang loop unroll(full)
	for (int i = 0; i < RVF_WIRE_MAX_K; i++) {
		if ((__u32)i < count)
			continue; /* overwritten by the copy below */
		val->res[i].id = 0;
		val->res[i].dist = 0;
		val->res[i].reserved = 0;
	}
	val->pad = 0;
	val->epoch = pv.epoch;
	nbytes = count * RES_LEN;
	if (nbytes < RES_LEN || nbytes > sizeof(val->res))
		return TC_ACT_OK; /* cannot happen; keeps the verifier's bounds */
	if (bpf_skb_load_bytes(skb, off + HDR_LEN, val->res, nbytes)) {
		rvf_count(RVF_C_ERROR);
		return TC_ACT_OK;
	}
	val->count = (__u16)count;
	val->res[0].reserved = 0; /* the tag, not part of the answer */

	ck.qd[0] = pv.qd[0];
	ck.qd[1] = pv.qd[1];
	ck.gen = pv.gen;
	ck.k = pv.k;
	if (bpf_map_update_elem(&rvf_cache, &ck, val, BPF_ANY)) {
		rvf_count(RVF_C_ERROR);
		return TC_ACT_OK;
	}
	rvf_count(RVF_C_TC_CACHED);
	return TC_ACT_OK;
}

SEC("tc")
int rvf_tc_egress(struct __sk_buff *skb)
{
	fill_cache(skb);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
