/* xdp_frames.h — Ethernet/VLAN/IPv4/IPv6/UDP frame builders and parsers for
 * BPF_PROG_TEST_RUN tests of the XDP and tc programs, plus RVF request
 * payload builders. Shared by tests/unit/test_xdp.c and the tc tests. */
#ifndef RVF_XDP_FRAMES_H
#define RVF_XDP_FRAMES_H
#include <stddef.h>
#include <stdint.h>

struct xf_opts {
	int ipv6;          /* 0: IPv4, 1: IPv6 */
	int vlan;          /* 1: one 802.1Q tag (TCI vlan_tci) */
	uint16_t vlan_tci;
	int ip_opts;       /* IPv4 option bytes (multiple of 4, <= 40), NOPs */
	int frag;          /* IPv4: 1 = MF set, 2 = fragment offset 8 */
	uint8_t proto;     /* L4 protocol (default 17 = UDP) */
	uint16_t sport, dport;
	uint8_t smac[6], dmac[6];
	uint8_t saddr[16], daddr[16]; /* IPv4 uses the first 4 bytes */
	int udp_csum;      /* IPv4: 1 = fill the UDP checksum (IPv6 always) */
	size_t eth_pad;    /* extra bytes after the IP packet (Ethernet padding) */
};

/* Defaults: 02:00:00:00:00:02 -> 02:00:00:00:00:01, 10.0.0.2:40000 ->
 * 10.0.0.1:7878 (IPv6 fd00::2 -> fd00::1), UDP. */
void xf_defaults(struct xf_opts *o);

/* Frame with payload; returns the frame length or 0 if cap is too small. */
size_t xf_build(uint8_t *buf, size_t cap, const struct xf_opts *o, const void *payload, size_t plen);

/* RVF query payload: header + query (f32, or int8 when q8 != NULL, with
 * qscale) + pad zero bytes. Returns its length or 0 if cap is too small. */
size_t xf_rvf_query(uint8_t *buf, size_t cap, uint32_t req_id, uint16_t dim, uint16_t k,
		    uint16_t flags, const float *q, const int8_t *q8, float qscale, size_t pad);

struct xf_parsed {
	int ipv6, vlan;
	size_t l3, l4, payload; /* offsets */
	size_t plen;            /* UDP payload length (from the UDP header) */
	uint8_t smac[6], dmac[6], saddr[16], daddr[16];
	uint16_t sport, dport;
	int ip_csum_ok;         /* IPv4 header checksum (1 for IPv6) */
	int udp_csum_ok;        /* 1 when 0 (IPv4) or valid */
	uint16_t udp_csum;
};

/* Parse a frame the builders could produce; 0 or -1. */
int xf_parse(const uint8_t *f, size_t len, struct xf_parsed *out);

/* Internet checksum helpers. */
uint32_t xf_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t xf_csum_fold(uint32_t sum);
#endif
