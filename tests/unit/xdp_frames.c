/* xdp_frames.c — see xdp_frames.h. */
#include "xdp_frames.h"
#include "rvf_wire.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

uint32_t xf_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;
	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t xf_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void xf_defaults(struct xf_opts *o)
{
	memset(o, 0, sizeof *o);
	o->proto = 17;
	o->sport = 40000;
	o->dport = RVF_WIRE_DEFAULT_PORT;
	memcpy(o->smac, (uint8_t[]){0x02, 0, 0, 0, 0, 0x02}, 6);
	memcpy(o->dmac, (uint8_t[]){0x02, 0, 0, 0, 0, 0x01}, 6);
	o->vlan_tci = 42;
}

static void default_addrs(const struct xf_opts *o, uint8_t *s, uint8_t *d)
{
	static const uint8_t z[16];
	memcpy(s, o->saddr, 16);
	memcpy(d, o->daddr, 16);
	if (memcmp(s, z, 16) == 0) {
		if (o->ipv6)
			memcpy(s, (uint8_t[]){0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 16);
		else
			memcpy(s, (uint8_t[]){10, 0, 0, 2}, 4);
	}
	if (memcmp(d, z, 16) == 0) {
		if (o->ipv6)
			memcpy(d, (uint8_t[]){0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 16);
		else
			memcpy(d, (uint8_t[]){10, 0, 0, 1}, 4);
	}
}

size_t xf_build(uint8_t *buf, size_t cap, const struct xf_opts *o, const void *payload, size_t plen)
{
	size_t l2 = 14 + (o->vlan ? 4 : 0);
	size_t l3 = o->ipv6 ? 40 : 20 + (size_t)o->ip_opts;
	size_t ulen = 8 + plen, total = l2 + l3 + ulen + o->eth_pad;
	uint8_t s[16], d[16];

	if (total > cap || (!o->ipv6 && (o->ip_opts % 4 || o->ip_opts > 40)))
		return 0;
	default_addrs(o, s, d);
	memset(buf, 0, total);
	memcpy(buf, o->dmac, 6);
	memcpy(buf + 6, o->smac, 6);
	if (o->vlan) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, o->vlan_tci);
	}
	put16(buf + l2 - 2, o->ipv6 ? 0x86dd : 0x0800);
	uint8_t *ip = buf + l2, *udp = ip + l3;
	if (o->ipv6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)ulen);
		ip[6] = o->proto;
		ip[7] = 64;
		memcpy(ip + 8, s, 16);
		memcpy(ip + 24, d, 16);
	} else {
		ip[0] = (uint8_t)(0x40 | (l3 / 4));
		put16(ip + 2, (uint16_t)(l3 + ulen));
		put16(ip + 4, 0x1234);
		if (o->frag == 1)
			put16(ip + 6, 0x2000);
		else if (o->frag == 2)
			put16(ip + 6, 0x0001);
		ip[8] = 64;
		ip[9] = o->proto;
		memcpy(ip + 12, s, 4);
		memcpy(ip + 16, d, 4);
		memset(ip + 20, 1, (size_t)o->ip_opts); /* NOP options */
		put16(ip + 10, xf_csum_fold(xf_csum_add(0, ip, l3)));
	}
	put16(udp, o->sport);
	put16(udp + 2, o->dport);
	put16(udp + 4, (uint16_t)ulen);
	if (plen)
		memcpy(udp + 8, payload, plen);
	if (o->ipv6 || o->udp_csum) {
		uint8_t ph[40];
		size_t phl;
		memset(ph, 0, sizeof ph);
		if (o->ipv6) {
			memcpy(ph, s, 16);
			memcpy(ph + 16, d, 16);
			put16(ph + 34, (uint16_t)ulen);
			ph[39] = 17;
			phl = 40;
		} else {
			memcpy(ph, s, 4);
			memcpy(ph + 4, d, 4);
			ph[9] = 17;
			put16(ph + 10, (uint16_t)ulen);
			phl = 12;
		}
		uint16_t c = xf_csum_fold(xf_csum_add(xf_csum_add(0, ph, phl), udp, ulen));
		put16(udp + 6, c ? c : 0xffff);
	}
	return total;
}

size_t xf_rvf_query(uint8_t *buf, size_t cap, uint32_t req_id, uint16_t dim, uint16_t k,
		    uint16_t flags, const float *q, const int8_t *q8, float qscale, size_t pad)
{
	size_t qb = q8 ? dim : (size_t)dim * 4, len = RVF_WIRE_HDR_SIZE + qb + pad;
	struct rvf_wire_hdr h;

	if (len > cap)
		return 0;
	memset(&h, 0, sizeof h);
	h.magic = RVF_WIRE_MAGIC;
	h.version = RVF_WIRE_VERSION;
	h.op = RVF_OP_QUERY;
	h.flags = (uint16_t)(flags | (q8 ? RVF_WF_I8 : 0));
	h.req_id = req_id;
	h.dim = dim;
	h.k = k;
	if (q8)
		memcpy(&h.scale, &qscale, 4);
	memcpy(buf, &h, sizeof h);
	if (q8)
		memcpy(buf + sizeof h, q8, dim);
	else
		memcpy(buf + sizeof h, q, (size_t)dim * 4);
	memset(buf + sizeof h + qb, 0, pad);
	return len;
}

int xf_parse(const uint8_t *f, size_t len, struct xf_parsed *out)
{
	memset(out, 0, sizeof *out);
	if (len < 14)
		return -1;
	memcpy(out->dmac, f, 6);
	memcpy(out->smac, f + 6, 6);
	size_t off = 12;
	uint16_t et = get16(f + off);
	if (et == 0x8100) {
		if (len < 18)
			return -1;
		out->vlan = 1;
		off += 4;
		et = get16(f + off);
	}
	off += 2;
	out->l3 = off;
	const uint8_t *ip = f + off;
	if (et == 0x0800) {
		if (len < off + 20)
			return -1;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		if (ihl < 20 || len < off + ihl + 8)
			return -1;
		out->ip_csum_ok = xf_csum_fold(xf_csum_add(0, ip, ihl)) == 0;
		memcpy(out->saddr, ip + 12, 4);
		memcpy(out->daddr, ip + 16, 4);
		out->l4 = off + ihl;
	} else if (et == 0x86dd) {
		if (len < off + 48)
			return -1;
		out->ipv6 = 1;
		out->ip_csum_ok = 1;
		memcpy(out->saddr, ip + 8, 16);
		memcpy(out->daddr, ip + 24, 16);
		out->l4 = off + 40;
	} else {
		return -1;
	}
	const uint8_t *udp = f + out->l4;
	out->sport = get16(udp);
	out->dport = get16(udp + 2);
	size_t ulen = get16(udp + 4);
	if (ulen < 8 || out->l4 + ulen > len)
		return -1;
	out->plen = ulen - 8;
	out->payload = out->l4 + 8;
	out->udp_csum = get16(udp + 6);
	if (out->udp_csum == 0 && !out->ipv6) {
		out->udp_csum_ok = 1;
	} else {
		uint8_t ph[40];
		size_t phl;
		memset(ph, 0, sizeof ph);
		if (out->ipv6) {
			memcpy(ph, out->saddr, 16);
			memcpy(ph + 16, out->daddr, 16);
			put16(ph + 34, (uint16_t)ulen);
			ph[39] = 17;
			phl = 40;
		} else {
			memcpy(ph, out->saddr, 4);
			memcpy(ph + 4, out->daddr, 4);
			ph[9] = 17;
			put16(ph + 10, (uint16_t)ulen);
			phl = 12;
		}
		out->udp_csum_ok =
			xf_csum_fold(xf_csum_add(xf_csum_add(0, ph, phl), udp, ulen)) == 0;
	}
	return 0;
}
