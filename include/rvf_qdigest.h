/* rvf_qdigest.h — the result cache's query digest (docs/PROTOCOL.md §7.2).
 *
 * SipHash-2-4 with 128-bit output, keyed by the random per-load key the
 * loader writes into rvf_config.qkey, over the byte string
 *
 *   m0 (8 bytes LE) = dim | (flags & (I8 | DAEMON)) << 16 | scale << 32
 *   query bytes     = dim x 4 (f32) or dim x 1 (RVF_WF_I8), as received
 *   zero bytes      = up to the next multiple of 8
 *
 * (scale is the header's scale field for RVF_WF_I8, else 0). dim fixes the
 * length, so the encoding is unambiguous. The XDP program computes it in the
 * kernel (bpf/rvf_xdp.bpf.c, one block per bpf_loop iteration), the daemon
 * and the tests with rvf_qdigest() below; the results are equal bit for bit.
 * The macros are shared by both sides.
 */
#ifndef RVF_QDIGEST_H
#define RVF_QDIGEST_H

#define RVF_SIP_C0 0x736f6d6570736575ull
#define RVF_SIP_C1 0x646f72616e646f6dull
#define RVF_SIP_C2 0x6c7967656e657261ull
#define RVF_SIP_C3 0x7465646279746573ull

#define RVF_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define RVF_SIP_ROUND(v0, v1, v2, v3)                                                              \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = RVF_SIP_ROTL(v1, 13);                                                         \
		v1 ^= v0;                                                                          \
		v0 = RVF_SIP_ROTL(v0, 32);                                                         \
		v2 += v3;                                                                          \
		v3 = RVF_SIP_ROTL(v3, 16);                                                         \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = RVF_SIP_ROTL(v3, 21);                                                         \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = RVF_SIP_ROTL(v1, 17);                                                         \
		v1 ^= v2;                                                                          \
		v2 = RVF_SIP_ROTL(v2, 32);                                                         \
	} while (0)

/* One 8-byte block m, two compression rounds. */
#define RVF_SIP_BLOCK(v0, v1, v2, v3, m)                                                           \
	do {                                                                                       \
		v3 ^= (m);                                                                         \
		RVF_SIP_ROUND(v0, v1, v2, v3);                                                     \
		RVF_SIP_ROUND(v0, v1, v2, v3);                                                     \
		v0 ^= (m);                                                                         \
	} while (0)

/* The first block: dim, the flags that change the answer, the I8 scale. */
#define RVF_QDIGEST_M0(dim, flags, scale)                                                          \
	((__u64)(dim) | (__u64)((flags) & 3u) << 16 | (__u64)(scale) << 32)

#ifndef __bpf__
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Little-endian hosts only, like the wire format's users (rvf_wire.h). */
static inline void rvf_qdigest(uint64_t k0, uint64_t k1, uint16_t dim, uint16_t flags, uint32_t scale,
			       const void *query, uint64_t out[2])
{
	size_t qb = (flags & 1u) ? dim : (size_t)dim * 4u, nw = (qb + 7) / 8;
	const unsigned char *q = query;
	uint64_t v0 = k0 ^ RVF_SIP_C0, v1 = k1 ^ RVF_SIP_C1 ^ 0xee, v2 = k0 ^ RVF_SIP_C2,
		 v3 = k1 ^ RVF_SIP_C3, m;

	m = RVF_QDIGEST_M0(dim, flags, (flags & 1u) ? scale : 0u);
	RVF_SIP_BLOCK(v0, v1, v2, v3, m);
	for (size_t i = 0; i < nw; i++) {
		m = 0;
		memcpy(&m, q + 8 * i, qb - 8 * i < 8 ? qb - 8 * i : 8);
		RVF_SIP_BLOCK(v0, v1, v2, v3, m);
	}
	m = (uint64_t)((8 + 8 * nw) & 0xff) << 56;
	RVF_SIP_BLOCK(v0, v1, v2, v3, m);
	v2 ^= 0xee;
	for (int r = 0; r < 4; r++)
		RVF_SIP_ROUND(v0, v1, v2, v3);
	out[0] = v0 ^ v1 ^ v2 ^ v3;
	v1 ^= 0xdd;
	for (int r = 0; r < 4; r++)
		RVF_SIP_ROUND(v0, v1, v2, v3);
	out[1] = v0 ^ v1 ^ v2 ^ v3;
}
#endif

#endif
