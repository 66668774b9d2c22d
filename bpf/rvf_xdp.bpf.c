// SPDX-License-Identifier: GPL-2.0
/* rvf_xdp.bpf.c — the in-kernel query engine: answers RVF UDP queries
 * (include/rvf_wire.h) from int8 PACK3 vectors held in BPF maps, or from the
 * result cache, and passes everything else to the daemon.
 *
 * Built once per dimension (-DRVF_DIM=64..768): the inner distance loop is
 * fully unrolled over the compile-time dimension.
 *
 * Design decisions (see also user/lib/quant8.h, the single definition of
 * the quantizer, which this file mirrors with the same integer operations):
 *  - f32 queries ARE quantized in XDP, with integer arithmetic on the IEEE
 *    bits: x = m * 2^(e-150) becomes the fixed point X = m << (e - E + 1)
 *    (E = scale's exponent; truncating right shifts, saturation at 2^62),
 *    q = round_half_away((X - OFF[d]) / S) with S = 2 * mantissa(scale),
 *    computed with a per-query reciprocal and one correction step (exact).
 *    RVF_WF_I8 queries (x = i8 * f32 scale) go through the same code. A
 *    non-finite component passes the query to the daemon.
 *  - Distances: int L2 (exact, PACK3) times the f32 factor of rvf_quant,
 *    rounded to nearest-even by an integer float builder: bit-identical to
 *    (float)((double)l2 * factor) in C (quant8_dist).
 *  - Cosine stores: vectors are normalized before quantizing; the query is
 *    used as received, so clients must send unit-norm queries (the client
 *    library normalizes). The IP metric is passed to the daemon.
 *  - Top-k ties are broken by vector index (key = l2 << 32 | index), so the
 *    answer does not depend on the scan order (IVF).
 *  - Scan modes (config.scan_mode): RVF_SCAN_PACK3 computes the exact int8 L2
 *    of every vector. RVF_SCAN_BIN is two-stage: the 1-bit codes of the
 *    dense rvf_bins map (bit d = q[d] >= 0) give a hamming
 *    distance (XOR + SWAR popcount, ~6 insns per 8 dims); the R smallest
 *    keys hamming << 32 | index are kept in the per-CPU scratch (cand, a
 *    max-heap; 8 vectors per bpf_loop iteration), then
 *    their exact PACK3 L2 gives the top-k with the same distances as the
 *    PACK3 mode. Deterministic: equal to quant8_bin_topk (C) bit for bit.
 *    Both modes also apply to the members of the probed IVF clusters.
 *  - int8 queries whose scale is not finite and > 0 are counted malformed
 *    and passed up: the daemon answers BAD_REQUEST.
 *  - IPv4: the UDP checksum of the reply is 0; the IP header checksum is
 *    updated incrementally for the new total length (RFC 1624).
 *    IPv6: the UDP checksum is computed over the reply with bpf_csum_diff.
 *  - Passed up untouched (counted RVF_C_NOT_OURS): non-IP, IPv4 fragments
 *    (any with MF or an offset), IPv6 with extension headers, other ports.
 *  - Query digest (cache key): keyed SipHash-2-4-128 (include/rvf_qdigest.h)
 *    with config.qkey, one 8-byte block per bpf_loop iteration; the state
 *    lives in the per-CPU scratch. The cache is keyed by the whole digest,
 *    config.cache_gen and k (PROTOCOL §7.2).
 *  - Map sets: the loader builds the next set beside the live one as a new
 *    object reading the other parameter slot of rvf_config (rvf_slot) and
 *    replaces the program atomically; the slot is copied into the scratch
 *    once per packet.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rvf_maps.h"

#ifndef RVF_DIM
#error "build with -DRVF_DIM=<dimension>"
#endif
#if RVF_DIM > RVF_XDP_MAX_DIM || RVF_DIM % 4
#error "RVF_DIM must be a multiple of 4 up to RVF_XDP_MAX_DIM"
#endif

#define ETH_ALEN 6
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_UDP_ 17
#define METRIC_IP 1

#define KNOWN_FLAGS (RVF_WF_I8 | RVF_WF_DAEMON | RVF_WF_NO_CACHE | RVF_WF_FILTER)

/* Host-order UDP port, set by the loader before load. */
const volatile __u16 rvf_port = RVF_WIRE_DEFAULT_PORT;
/* Which parameter slot of rvf_config describes this object's maps (struct
 * rvf_xdp_slot), set by the loader before load. */
const volatile __u32 rvf_slot = 0;

/* ---- quantizer (mirror of quant8_fx / quant8_round) ---------------------- */

static __always_inline __s64 fx(__u64 mag, __u32 neg, __s32 shift)
{
	__u64 x;
	if (mag == 0)
		return 0;
	if (shift >= 31)
		x = 1ull << 62;
	else if (shift >= 0)
		x = mag << shift;
	else if (shift > -64)
		x = mag >> -shift;
	else
		x = 0;
	return neg ? -(__s64)x : (__s64)x;
}

struct qctx {
	struct rvf_xdp_scratch *sc;
	struct rvf_xdp_quant *qp;
	__u64 S, S2, inv; /* S, 2S, floor(2^55 / 2S) */
	__s32 sexp;       /* scale's biased exponent */
	__u32 i8;
	__u32 qm;         /* I8: query scale mantissa (with hidden bit) */
	__u32 qneg;
	__s32 qshift;
};

/* Quantizes component i; returns 1 on a non-finite component. */
static __always_inline int quant_one(struct qctx *c, struct rvf_xdp_scratch *sc, __u32 i)
{
	__u64 mag;
	__u32 neg;
	__s32 shift;

	if (i >= RVF_DIM)
		return 1;
	if (c->i8) {
		__s8 v = ((__s8 *)sc->raw)[i];
		mag = (__u64)(v < 0 ? -(__s32)v : v) * c->qm;
		neg = (v < 0) ^ c->qneg;
		shift = c->qshift;
	} else {
		__u32 b = sc->raw[i], e = (b >> 23) & 0xff, m = b & 0x7fffff;
		if (e == 255)
			return 1;
		if (e)
			m |= 0x800000;
		else
			e = 1;
		mag = m;
		neg = b >> 31;
		shift = (__s32)e - c->sexp + 1;
	}
	__s64 d = fx(mag, neg, shift) - c->qp->off[i];
	__u64 a = d < 0 ? -(__u64)d : (__u64)d;
	__u64 r = 127;
	if (a < 128 * c->S) {
		__u64 n = 2 * a + c->S;
		r = (n * c->inv) >> 55;
		if ((r + 1) * c->S2 <= n)
			r++;
		if (r > 127)
			r = 127;
	}
	sc->u[i] = (__u8)(d < 0 ? 128 - r : 128 + r);
	return 0;
}

/* One component per iteration: unrolling 4 per iteration made the query
 * quantization ~1.5x faster (D=768: 7.6 vs 11.5 us) but doubled the
 * verifier's processed instructions (~16k per inlined copy of quant_one). */
static long quant_cb(__u32 i, void *arg)
{
	struct qctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;

	if (quant_one(c, sc, i)) {
		sc->fail = 1;
		return 1;
	}
	return 0;
}

/* bpf_loop contexts must live on the stack: the scratch pointer is wrapped. */
struct sc_ctx {
	struct rvf_xdp_scratch *sc;
};

/* PACK3 word t of the query, its norm and (RVF_SCAN_BIN) the 1-bit code of
 * components 3t..3t+2: bit d = u[d] >= 128 (quant8_bin). Lanes past RVF_DIM
 * hold u = 0, so their bits stay 0. */
static long pack_cb(__u32 t, void *arg)
{
	struct rvf_xdp_scratch *sc = ((struct sc_ctx *)arg)->sc;
	if (t >= RVF_W)
		return 1;
	__u64 a = sc->u[3 * t], b = sc->u[3 * t + 1], c = sc->u[3 * t + 2];
	sc->qw[t] = c | b << 22 | a << 44;
	sc->qnorm += (__u32)(a * a + b * b + c * c);
	__u32 d = 3 * t;
	sc->qb[(d >> 6) & (RVF_XDP_QB_WORDS - 1)] |= (a >> 7) << (d & 63);
	d++;
	sc->qb[(d >> 6) & (RVF_XDP_QB_WORDS - 1)] |= (b >> 7) << (d & 63);
	d++;
	sc->qb[(d >> 6) & (RVF_XDP_QB_WORDS - 1)] |= (c >> 7) << (d & 63);
	return 0;
}

/* Query digest block i (query bytes 8i..8i+7, zero padded by the caller). */
static long sip_cb(__u32 i, void *arg)
{
	struct rvf_xdp_scratch *sc = ((struct sc_ctx *)arg)->sc;
	if (i >= RVF_XDP_MAX_DIM / 2)
		return 1;
	__u64 m = (__u64)sc->raw[2 * i] | (__u64)sc->raw[2 * i + 1] << 32;
	__u64 v0 = sc->sv[0], v1 = sc->sv[1], v2 = sc->sv[2], v3 = sc->sv[3];
	RVF_SIP_BLOCK(v0, v1, v2, v3, m);
	sc->sv[0] = v0;
	sc->sv[1] = v1;
	sc->sv[2] = v2;
	sc->sv[3] = v3;
	return 0;
}

/* rvf_qdigest() of the query in sc->raw (need bytes) into sc->qd0/qd1. */
static __always_inline void query_digest(struct rvf_xdp_scratch *sc, const struct rvf_xdp_config *cfg,
					 __u16 flags, __u32 qscale, __u32 need)
{
	__u64 k0 = cfg->qkey[0], k1 = cfg->qkey[1];
	__u64 v0 = k0 ^ RVF_SIP_C0, v1 = k1 ^ RVF_SIP_C1 ^ 0xee, v2 = k0 ^ RVF_SIP_C2,
	      v3 = k1 ^ RVF_SIP_C3;
	__u64 m = RVF_QDIGEST_M0(RVF_DIM, flags, (flags & RVF_WF_I8) ? qscale : 0);
	__u32 nw = (need + 7) / 8, pi = need / 4;

	if ((need & 7) && pi < RVF_XDP_MAX_DIM)
		sc->raw[pi] = 0; /* zero padding of the last block */
	RVF_SIP_BLOCK(v0, v1, v2, v3, m);
	sc->sv[0] = v0;
	sc->sv[1] = v1;
	sc->sv[2] = v2;
	sc->sv[3] = v3;
	struct sc_ctx hc = {.sc = sc};
	bpf_loop(nw, sip_cb, &hc, 0);
	v0 = sc->sv[0];
	v1 = sc->sv[1];
	v2 = sc->sv[2];
	v3 = sc->sv[3];
	m = (__u64)((8 + 8 * nw) & 0xff) << 56;
	RVF_SIP_BLOCK(v0, v1, v2, v3, m);
	v2 ^= 0xee;
	RVF_SIP_ROUND(v0, v1, v2, v3);
	RVF_SIP_ROUND(v0, v1, v2, v3);
	RVF_SIP_ROUND(v0, v1, v2, v3);
	RVF_SIP_ROUND(v0, v1, v2, v3);
	sc->qd0 = v0 ^ v1 ^ v2 ^ v3;
	v1 ^= 0xdd;
	RVF_SIP_ROUND(v0, v1, v2, v3);
	RVF_SIP_ROUND(v0, v1, v2, v3);
	RVF_SIP_ROUND(v0, v1, v2, v3);
	RVF_SIP_ROUND(v0, v1, v2, v3);
	sc->qd1 = v0 ^ v1 ^ v2 ^ v3;
}

/* ---- top-k ---------------------------------------------------------------- */

/* Sorted insertion of key into top[0..*n) keeping at most k (1..64). */
static __always_inline void topk_insert(__u64 *top, __u32 *n, __u32 k, __u64 key)
{
	__u32 cnt = *n, i;

	if (cnt >= k) {
		if (key >= top[(k - 1) & (RVF_WIRE_MAX_K - 1)])
			return;
		cnt = k - 1;
	} else {
		*n = cnt + 1;
	}
	i = cnt & (RVF_WIRE_MAX_K - 1);
	for (int j = 0; j < RVF_WIRE_MAX_K; j++) {
		if (i == 0)
			break;
		__u64 prev = top[(i - 1) & (RVF_WIRE_MAX_K - 1)];
		if (prev <= key)
			break;
		top[i & (RVF_WIRE_MAX_K - 1)] = prev;
		i--;
	}
	top[i & (RVF_WIRE_MAX_K - 1)] = key;
}

/* The RVF_SCAN_BIN candidates: a max-heap of up to R (<= RVF_XDP_MAX_RERANK)
 * keys, cand[0] the largest (the R-th best). A sorted array cost R/2 moves
 * per insertion, ~40% of the whole query at R = 64; the heap costs
 * log2(R). The candidates are reranked in any order (keys are unique), so
 * the set, not its order, is what matters. */
#define CM (RVF_XDP_MAX_RERANK - 1)
struct sift_ctx {
	struct rvf_xdp_scratch *sc;
	__u64 key;
};

/* One heap level per call, the position in map memory (sc->hpos) and R
 * read from it too: values the verifier does not track, so each callback
 * is verified once for a generic level. An unrolled or bounded loop over
 * the levels is verified once per root-to-leaf path and call context,
 * past the 1M-insn limit on kernel 6.18. */
static long sift_up_cb(__u32 l, void *arg)
{
	struct sift_ctx *x = arg;
	struct rvf_xdp_scratch *sc = x->sc;
	__u32 i = sc->hpos;

	if (i == 0)
		return 1;
	__u32 p = (i - 1) / 2;
	__u64 pv = sc->cand[p & CM];
	if (pv >= x->key)
		return 1;
	sc->cand[i & CM] = pv;
	sc->hpos = p;
	return 0;
}

static long sift_down_cb(__u32 l, void *arg)
{
	struct sift_ctx *x = arg;
	struct rvf_xdp_scratch *sc = x->sc;
	__u32 i = sc->hpos, R = sc->rerank, c = 2 * i + 1;

	if (c >= R)
		return 1;
	__u64 cv = sc->cand[c & CM];
	if (c + 1 < R && sc->cand[(c + 1) & CM] > cv) {
		c++;
		cv = sc->cand[c & CM];
	}
	if (cv <= x->key)
		return 1;
	sc->cand[i & CM] = cv;
	sc->hpos = c;
	return 0;
}

/* Insert key into the heap of the sc->rerank smallest keys seen. */
static __always_inline void cand_insert(struct rvf_xdp_scratch *sc, __u64 key)
{
	struct sift_ctx x = {.sc = sc, .key = key};
	__u32 cnt = sc->ncand;

	if (cnt < sc->rerank) {
		sc->ncand = cnt + 1;
		sc->hpos = cnt;
		bpf_loop(8, sift_up_cb, &x, 0);
	} else {
		if (key >= sc->cand[0])
			return;
		sc->hpos = 0; /* replace the root, sift down */
		bpf_loop(8, sift_down_cb, &x, 0);
	}
	sc->cand[sc->hpos & CM] = key;
}

/* ---- scan ------------------------------------------------------------------ */

/* The callbacks read k, R (sc->rerank) and nprobe from the scratch map,
 * not from their stack context: map memory is untracked by the verifier,
 * so each callback is verified for any value instead of once per range the
 * caller's clamping branches leave (which passed 1M insns on kernel 6.18). */
struct scan_ctx {
	struct rvf_xdp_scratch *sc;
	__u32 lo;
	__u32 bin; /* IVF members: 1 = binary pass (bin_cb), 0 = PACK3 (scan_cb) */
};

static __always_inline __u32 pack3_l2(const struct rvf_xdp_vec *v, const struct rvf_xdp_scratch *sc)
{
	__u64 acc = 0;
#pragma clang loop unroll(full)
	for (int t = 0; t < RVF_W; t++) {
		acc += (v->w[t] * sc->qw[t]) >> 44;
		asm volatile("" : "+r"(acc));
	}
	return v->norm + sc->qnorm - 2 * (__u32)acc;
}

static long scan_cb(__u32 i, void *arg)
{
	struct scan_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;
	__u32 idx = c->lo + i;
	struct rvf_xdp_vec *v = bpf_map_lookup_elem(&rvf_vecs, &idx);

	if (!v)
		return 1;
	__u32 l2 = pack3_l2(v, sc);
	topk_insert(sc->top, &sc->ntop, sc->k, (__u64)l2 << 32 | idx);
	return 0;
}

/* Hamming distance of the 1-bit codes: XOR, SWAR popcount. Per word the
 * byte counts (<= 8) are summed over all words (<= 8 * 12 = 96 per byte at
 * D = 768, no carry), folded to 16-bit lanes, then one multiply adds the
 * four lanes (<= 768) into bits 48..63. */
static __always_inline __u32 bin_ham(const __u64 *b, const struct rvf_xdp_scratch *sc)
{
	__u64 acc = 0;
#pragma clang loop unroll(full)
	for (int t = 0; t < RVF_BW; t++) {
		__u64 x = b[t] ^ sc->qb[t];
		x -= (x >> 1) & 0x5555555555555555ull;
		x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
		x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
		acc += x;
		asm volatile("" : "+r"(acc));
	}
	acc = (acc & 0x00ff00ff00ff00ffull) + ((acc >> 8) & 0x00ff00ff00ff00ffull);
	return (__u32)((acc * 0x0001000100010001ull) >> 48);
}

/* Binary pass over vectors [lo, hi): iteration j handles block lo / 8 + j
 * (8 vectors, one lookup), keeping the R smallest keys hamming << 32 |
 * index; a key that does not beat the current R-th is rejected inline. */
struct bin_ctx {
	struct rvf_xdp_scratch *sc;
	__u32 lo, hi;
};

/* Sorted insertion of the block's pending keys (a key that no longer beats
 * the R-th is rejected there, so the result is the R smallest keys). One
 * callback, verified once: inlining the insertion 8 times per block made
 * the verifier explore every combination (> 1M insns). */
static long pend_cb(__u32 p, void *arg)
{
	struct bin_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;

	if (p >= RVF_XDP_BIN_BLOCK)
		return 1;
	__u64 key = sc->pend[p];
	if (key != ~0ull) {
		sc->pend[p] = ~0ull;
		cand_insert(sc, key);
	}
	return 0;
}

static long bin_cb(__u32 j, void *arg)
{
	struct bin_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;
	__u32 blk = c->lo / RVF_XDP_BIN_BLOCK + j, lo = c->lo, hi = c->hi, R = sc->rerank, np = 0;
	struct rvf_xdp_bin *v = bpf_map_lookup_elem(&rvf_bins, &blk);

	if (!v)
		return 1;
	/* pend[e] = the key if it beats the R-th (and is in range); pend[]
	 * is ~0 otherwise (set per query, reset by pend_cb). Only a flag is
	 * carried between the 8 unrolled steps, so the verifier's states do
	 * not multiply (a running count as the index did: 0.6-1M insns). */
	__u64 worst = sc->ncand >= R ? sc->cand[0] : ~0ull;
	/* Lanes of this block inside [lo, hi), as a bit mask computed once:
	 * range checks per lane made the verifier's states multiply. */
	__u32 base = blk * RVF_XDP_BIN_BLOCK;
	__u32 elo = lo > base ? lo - base : 0, ehi = hi > base ? hi - base : 0;
	if (elo > RVF_XDP_BIN_BLOCK)
		elo = RVF_XDP_BIN_BLOCK;
	if (ehi > RVF_XDP_BIN_BLOCK)
		ehi = RVF_XDP_BIN_BLOCK;
	__u32 lanes = ((1u << ehi) - 1) & ~((1u << elo) - 1);
#pragma clang loop unroll(full)
	for (__u32 e = 0; e < RVF_XDP_BIN_BLOCK; e++) {
		__u32 idx = base + e;
		__u64 key = (__u64)bin_ham(&v->b[e * RVF_BW], sc) << 32 | idx;
		if (key < worst && (lanes >> e) & 1) {
			sc->pend[e] = key;
			np = 1;
		}
	}
	if (np)
		bpf_loop(RVF_XDP_BIN_BLOCK, pend_cb, c, 0);
	return 0;
}

static __always_inline void bin_scan(struct rvf_xdp_scratch *sc, __u32 lo, __u32 hi)
{
	if (hi <= lo)
		return;
	struct bin_ctx b = {.sc = sc, .lo = lo, .hi = hi};
	bpf_loop((hi - 1) / RVF_XDP_BIN_BLOCK - lo / RVF_XDP_BIN_BLOCK + 1, bin_cb, &b, 0);
}

/* Rerank: exact PACK3 L2 of candidate j into the top-k. */
static long rerank_cb(__u32 j, void *arg)
{
	struct scan_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;

	if (j >= RVF_XDP_MAX_RERANK)
		return 1;
	__u32 idx = (__u32)sc->cand[j];
	struct rvf_xdp_vec *v = bpf_map_lookup_elem(&rvf_vecs, &idx);
	if (!v)
		return 1;
	__u32 l2 = pack3_l2(v, sc);
	topk_insert(sc->top, &sc->ntop, sc->k, (__u64)l2 << 32 | idx);
	return 0;
}

static long cent_cb(__u32 i, void *arg)
{
	struct scan_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;
	struct rvf_xdp_vec *v = bpf_map_lookup_elem(&rvf_cents, &i);

	if (!v)
		return 1;
	__u32 l2 = pack3_l2(v, sc);
	topk_insert(sc->ctop, &sc->nctop, sc->nprobe, (__u64)l2 << 32 | i);
	return 0;
}

static long probe_cb(__u32 p, void *arg)
{
	struct scan_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;

	if (p >= RVF_XDP_MAX_NPROBE || p >= sc->nctop)
		return 1;
	__u32 cl = (__u32)sc->ctop[p], cl1 = cl + 1;
	__u32 *lo = bpf_map_lookup_elem(&rvf_coff, &cl);
	__u32 *hi = bpf_map_lookup_elem(&rvf_coff, &cl1);
	if (!lo || !hi)
		return 1;
	__u32 a = *lo, b = *hi;
	if (b <= a)
		return 0;
	struct scan_ctx sub = {.sc = sc, .lo = a};
	if (c->bin)
		bin_scan(sc, a, b);
	else
		bpf_loop(b - a, scan_cb, &sub, 0);
	return 0;
}

/* ---- distances: (float)(l2 * factor) with integer ops ---------------------- */

static __always_inline __u32 dist_bits(__u64 l2, __u32 fb)
{
	__u64 P = l2 * ((fb & 0x7fffff) | 0x800000), x, m;
	__s32 fe = (fb >> 23) & 0xff;
	__u32 msb = 0;

	if (P == 0)
		return 0;
	x = P;
	if (x >> 32) { x >>= 32; msb += 32; }
	if (x >> 16) { x >>= 16; msb += 16; }
	if (x >> 8) { x >>= 8; msb += 8; }
	if (x >> 4) { x >>= 4; msb += 4; }
	if (x >> 2) { x >>= 2; msb += 2; }
	if (x >> 1) { msb += 1; }
	if (msb > 23) {
		__u32 sh = (msb - 23) & 63;
		__u64 rem = P & ((1ull << sh) - 1), half = 1ull << ((sh - 1) & 63);
		m = P >> sh;
		if (rem > half || (rem == half && (m & 1)))
			m++;
		if (m == (1ull << 24)) {
			m >>= 1;
			msb++;
		}
	} else {
		m = P << ((23 - msb) & 63);
	}
	return (__u32)(fe + (__s32)msb - 23) << 23 | (__u32)(m & 0x7fffff);
}

struct res_ctx {
	struct rvf_xdp_scratch *sc;
	__u32 fbits;
};

static long res_cb(__u32 i, void *arg)
{
	struct res_ctx *c = arg;
	struct rvf_xdp_scratch *sc = c->sc;

	if (i >= RVF_WIRE_MAX_K)
		return 1;
	__u64 key = sc->top[i];
	__u32 idx = (__u32)key;
	struct rvf_xdp_vec *v = bpf_map_lookup_elem(&rvf_vecs, &idx);
	sc->res[i].id = v ? v->id : ~0ull;
	__u32 bits = dist_bits(key >> 32, c->fbits);
	__builtin_memcpy(&sc->res[i].dist, &bits, 4);
	sc->res[i].reserved = 0;
	return 0;
}

/* ---- packet helpers ----------------------------------------------------------- */

static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624: HC' = ~(~HC + ~m + m') */
static __always_inline __u16 csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 s = (__u16)~check + (__u16)~old + (__u32) new;
	return (__u16)~csum_fold(s);
}

struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip4;
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	struct rvf_wire_hdr *hdr;
	__u32 l4off;  /* offset of the UDP header */
	__u32 paylen; /* UDP payload length (the request length) */
};

static __always_inline void mapped_addr(const struct pkt *p, __u8 *out)
{
	if (p->ip4) {
		__builtin_memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		__builtin_memcpy(out + 12, &p->ip4->saddr, 4);
	} else if (p->ip6) {
		__builtin_memcpy(out, &p->ip6->saddr, 16);
	}
}

/* Rewrite the request in place into a reply carrying count results from
 * res (map memory), trim, and return XDP_TX (or XDP_DROP on helper error). */
static __always_inline int reply(struct xdp_md *ctx, struct pkt *p, struct rvf_wire_result *res,
				 __u32 count, __u32 epoch, __u8 path)
{
	unsigned char mac[ETH_ALEN];
	__u32 body = RVF_WIRE_HDR_SIZE + count * RVF_WIRE_RESULT_SIZE;
	__u16 ulen = (__u16)(sizeof(struct udphdr) + body);

	if (count > RVF_WIRE_MAX_K)
		return XDP_DROP;
	__builtin_memcpy(mac, p->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(p->eth->h_dest, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, mac, ETH_ALEN);

	struct rvf_wire_hdr *h = p->hdr;
	h->op = RVF_OP_REPLY;
	h->epoch = epoch;
	h->status = RVF_ST_OK;
	h->path = path;
	h->count = (__u16)count;
	h->tag = 0;

	__u16 sport = p->udp->source;
	p->udp->source = p->udp->dest;
	p->udp->dest = sport;
	p->udp->len = bpf_htons(ulen);
	p->udp->check = 0;

	if (p->ip4) {
		struct iphdr *ip = p->ip4;
		__u32 a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		__u16 old = ip->tot_len, new = bpf_htons((__u16)(ip->ihl * 4) + ulen);
		ip->check = csum_replace2(ip->check, old, new);
		ip->tot_len = new;
	} else {
		struct ipv6hdr *ip = p->ip6;
		if (!ip) /* the verifier does not correlate ip4 == NULL with ip6 != NULL */
			return XDP_DROP;
		struct in6_addr a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->payload_len = bpf_htons(ulen);
		/* pseudo header (addresses, length, next header) + UDP header +
		 * rvf header from the packet, results from map memory */
		__s64 s = bpf_csum_diff(0, 0, (__be32 *)&ip->saddr, 32, 0);
		if (s < 0)
			return XDP_DROP;
		s = bpf_csum_diff(0, 0, (__be32 *)p->udp, 8 + RVF_WIRE_HDR_SIZE, (__u32)s);
		if (s < 0)
			return XDP_DROP;
		__u32 n1 = count > 32 ? 32 : count, n2 = count - n1;
		if (n2 > 32) /* bound for the verifier; count <= 64 */
			n2 = 32;
		if (n1) {
			s = bpf_csum_diff(0, 0, (__be32 *)res, n1 * RVF_WIRE_RESULT_SIZE, (__u32)s);
			if (s < 0)
				return XDP_DROP;
		}
		if (n2) {
			s = bpf_csum_diff(0, 0, (__be32 *)(res + 32), n2 * RVF_WIRE_RESULT_SIZE,
					  (__u32)s);
			if (s < 0)
				return XDP_DROP;
		}
		__u64 sum = (__u32)s;
		sum += bpf_htons(ulen);
		sum += bpf_htons(IPPROTO_UDP_);
		__u16 c = (__u16)~csum_fold(sum);
		p->udp->check = c ? c : 0xffff;
	}

	__u32 resoff = p->l4off + sizeof(struct udphdr) + RVF_WIRE_HDR_SIZE;
	__u32 newlen = resoff + count * RVF_WIRE_RESULT_SIZE;
	__s32 delta = (__s32)newlen - (__s32)(ctx->data_end - ctx->data);
	if (count) {
		/* 1..64 results, written as a size the verifier sees as nonzero */
		__u32 sz = (((count - 1) & (RVF_WIRE_MAX_K - 1)) + 1) * RVF_WIRE_RESULT_SIZE;
		if (bpf_xdp_store_bytes(ctx, resoff, res, sz))
			return XDP_DROP;
	}
	if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta))
		return XDP_DROP;
	return XDP_TX;
}

/* ---- the program ---------------------------------------------------------- */

static __always_inline int pass_daemon(struct pkt *p, struct rvf_xdp_scratch *sc,
				       const struct rvf_xdp_config *cfg, int cacheable,
				       __u32 k)
{
	if (cacheable) {
		struct rvf_pending_key pk = {};
		struct rvf_pending_val pv = {.qd = {sc->qd0, sc->qd1},
					     .gen = cfg->cache_gen,
					     .epoch = cfg->cache_epoch,
					     .k = k};
		mapped_addr(p, pk.addr);
		pk.port = p->udp->source;
		pk.req_id = p->hdr->req_id;
		bpf_map_update_elem(&rvf_pending, &pk, &pv, BPF_ANY);
	}
	rvf_count(RVF_C_PASS_DAEMON);
	return XDP_PASS;
}

SEC("xdp")
int rvf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt p = {};
	__u32 l3 = sizeof(struct ethhdr), zero = 0;

	p.eth = data;
	if ((void *)(p.eth + 1) > data_end)
		goto not_ours;
	__u16 proto = p.eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = data + l3;
		if ((void *)(vh + 1) > data_end)
			goto not_ours;
		proto = vh->h_vlan_encapsulated_proto;
		l3 += sizeof(struct vlan_hdr);
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > data_end)
			goto not_ours;
		if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_UDP_ ||
		    (ip->frag_off & bpf_htons(0x3fff)))
			goto not_ours;
		p.ip4 = ip;
		p.l4off = l3 + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip = data + l3;
		if ((void *)(ip + 1) > data_end)
			goto not_ours;
		if (ip->version != 6 || ip->nexthdr != IPPROTO_UDP_)
			goto not_ours;
		p.ip6 = ip;
		p.l4off = l3 + sizeof(*ip);
	} else {
		goto not_ours;
	}
	p.l4off &= 0xff; /* <= 18 + 60: keeps the verifier's range small */
	p.udp = data + p.l4off;
	if ((void *)(p.udp + 1) > data_end)
		goto not_ours;
	if (p.udp->dest != bpf_htons(rvf_port))
		goto not_ours;

	rvf_count(RVF_C_RX);
	struct rvf_xdp_config *cfg = bpf_map_lookup_elem(&rvf_config, &zero);
	struct rvf_xdp_scratch *sc = bpf_map_lookup_elem(&rvf_scratch, &zero);
	struct rvf_xdp_quant *qp = bpf_map_lookup_elem(&rvf_quant, &zero);
	if (!cfg || !sc || !qp) {
		rvf_count(RVF_C_ERROR);
		return XDP_PASS;
	}
	if (!cfg->enabled) {
		rvf_count(RVF_C_PASS_DAEMON);
		return XDP_PASS;
	}
	/* This object's map set, read once into the per-CPU scratch (map
	 * memory, untracked by the verifier). A concurrent build writes the
	 * other slot only. */
	struct rvf_xdp_slot *Pp = &sc->par;
	if (rvf_slot) {
		__builtin_memcpy(Pp, &cfg->slot1, sizeof(*Pp));
	} else {
		Pp->nvec = cfg->nvec;
		Pp->epoch = cfg->epoch;
		Pp->dim = cfg->dim;
		Pp->metric = cfg->metric;
		Pp->max_scan = cfg->max_scan;
		Pp->ncentroids = cfg->ncentroids;
		Pp->nprobe = cfg->nprobe;
		Pp->scan_mode = cfg->scan_mode;
		Pp->rerank = cfg->rerank;
	}

	/* Allow-list before anything else is looked at. */
	if (cfg->allow_enabled) {
		struct rvf_allow_key ak = {.prefixlen = 128};
		mapped_addr(&p, ak.addr);
		if (!bpf_map_lookup_elem(&rvf_allow, &ak)) {
			rvf_count(RVF_C_DENIED);
			return XDP_DROP;
		}
	}

	/* Lengths: the UDP length must fit in the IP packet and the frame. */
	__u32 ulen = bpf_ntohs(p.udp->len);
	__u32 avail = (__u32)(data_end - (void *)p.udp);
	__u32 iplen = 0;
	if (p.ip4)
		iplen = (__u32)bpf_ntohs(p.ip4->tot_len) - p.ip4->ihl * 4;
	else if (p.ip6)
		iplen = bpf_ntohs(p.ip6->payload_len);
	if (ulen < sizeof(struct udphdr) + RVF_WIRE_HDR_SIZE || ulen > avail || ulen > iplen)
		goto malformed;
	p.paylen = ulen - sizeof(struct udphdr);
	p.hdr = (void *)(p.udp + 1);
	if ((void *)(p.hdr + 1) > data_end)
		goto malformed;
	struct rvf_wire_hdr *h = p.hdr;
	if (h->magic != RVF_WIRE_MAGIC || h->version != RVF_WIRE_VERSION || h->op != RVF_OP_QUERY)
		goto malformed;
	__u16 flags = h->flags;
	__u32 i8 = flags & RVF_WF_I8;
	__u32 need = i8 ? RVF_DIM : RVF_DIM * 4;
	if (h->dim != RVF_DIM || h->dim != Pp->dim || h->k == 0 || h->k > RVF_WIRE_MAX_K) {
		rvf_count(RVF_C_PASS_DAEMON);
		return XDP_PASS;
	}
	if (p.paylen < RVF_WIRE_HDR_SIZE + need)
		goto malformed;
	__u32 k = h->k;
	__u32 qscale = h->scale;
	/* int8 scale must be finite and > 0 (PROTOCOL §4): 0, -0, negative,
	 * inf and NaN go to the daemon, which answers BAD_REQUEST. As a signed
	 * integer the f32 bits are in (0, +inf) exactly then. */
	if (i8 && ((__s32)qscale <= 0 || qscale >= 0x7f800000u))
		goto malformed;
	__u32 maxres = (p.paylen - RVF_WIRE_HDR_SIZE) / RVF_WIRE_RESULT_SIZE;

	/* Copy the query out of the packet (hashed for the cache, quantized). */
	__u32 qoff = p.l4off + sizeof(struct udphdr) + RVF_WIRE_HDR_SIZE;
	long err = i8 ? bpf_xdp_load_bytes(ctx, qoff, sc->raw, RVF_DIM)
		      : bpf_xdp_load_bytes(ctx, qoff, sc->raw, RVF_DIM * 4);
	if (err) {
		rvf_count(RVF_C_ERROR);
		return XDP_PASS;
	}
	/* Packet pointers are still valid: load_bytes does not change the packet. */

	int cacheable = cfg->cache_enabled && !(flags & (RVF_WF_NO_CACHE | RVF_WF_FILTER)) &&
			!(flags & ~KNOWN_FLAGS);
	if (cacheable) {
		query_digest(sc, cfg, flags, qscale, need);
		struct rvf_cache_key ck = {.qd = {sc->qd0, sc->qd1}, .gen = cfg->cache_gen, .k = k};
		struct rvf_cache_val *cv = bpf_map_lookup_elem(&rvf_cache, &ck);
		if (cv && cv->epoch == cfg->cache_epoch) {
			__u32 n = cv->count;
			if (n > k)
				n = k;
			if (n > maxres)
				n = maxres;
			int act = reply(ctx, &p, cv->res, n, cv->epoch, RVF_PATH_CACHE);
			rvf_count(act == XDP_TX ? RVF_C_CACHE_HIT : RVF_C_ERROR);
			return act;
		}
	}

	if ((flags & (RVF_WF_DAEMON | RVF_WF_FILTER)) || (flags & ~KNOWN_FLAGS) ||
	    Pp->metric == METRIC_IP || (Pp->ncentroids == 0 && Pp->nvec > Pp->max_scan))
		return pass_daemon(&p, sc, cfg, cacheable, k);

	/* Quantize and pack the query. */
	struct qctx qc = {.sc = sc, .qp = qp, .i8 = i8};
	__u32 sb = qp->scale_bits;
	qc.sexp = (sb >> 23) & 0xff;
	qc.S = 2ull * ((sb & 0x7fffff) | 0x800000);
	qc.S2 = 2 * qc.S;
	qc.inv = (1ull << 55) / qc.S2;
	if (i8) {
		__u32 e = (qscale >> 23) & 0xff, m = qscale & 0x7fffff;
		if (e)
			m |= 0x800000;
		else
			e = 1;
		qc.qm = m;
		qc.qneg = qscale >> 31;
		qc.qshift = (__s32)e - qc.sexp + 1;
	}
	sc->fail = 0;
	bpf_loop(RVF_DIM, quant_cb, &qc, 0);
	if (sc->fail)
		return pass_daemon(&p, sc, cfg, cacheable, k);
	sc->u[RVF_DIM] = 0;
	sc->u[RVF_DIM + 1] = 0;
	sc->qnorm = 0;
#pragma clang loop unroll(full)
	for (int t = 0; t < RVF_BW + 1; t++)
		sc->qb[t] = 0;
	struct sc_ctx pc = {.sc = sc};
	bpf_loop(RVF_W, pack_cb, &pc, 0);

	/* Scan: brute force, or IVF over the nprobe closest clusters; with
	 * RVF_SCAN_BIN the vectors (members) go through the binary pass into
	 * cand[R] and the R candidates are reranked with PACK3. */
	__u32 bin = Pp->scan_mode == RVF_SCAN_BIN && Pp->nvec <= RVF_XDP_BIN_CAP, R = Pp->rerank;
	if (R == 0)
		R = RVF_XDP_DEF_RERANK;
	if (R < k)
		R = k;
	if (R > RVF_XDP_MAX_RERANK)
		R = RVF_XDP_MAX_RERANK;
	sc->ntop = 0;
	sc->ncand = 0;
	sc->rerank = R;
	sc->k = k;
#pragma clang loop unroll(full)
	for (int e = 0; e < RVF_XDP_BIN_BLOCK; e++)
		sc->pend[e] = ~0ull;
	struct scan_ctx s = {.sc = sc, .lo = 0, .bin = bin};
	if (Pp->ncentroids) {
		__u32 nc = Pp->ncentroids, np = Pp->nprobe;
		if (nc > RVF_XDP_MAX_CENTROIDS)
			nc = RVF_XDP_MAX_CENTROIDS;
		if (np == 0)
			np = 1;
		if (np > RVF_XDP_MAX_NPROBE)
			np = RVF_XDP_MAX_NPROBE;
		sc->nctop = 0;
		sc->nprobe = np;
		struct scan_ctx cs = {.sc = sc, .lo = 0};
		bpf_loop(nc, cent_cb, &cs, 0);
		bpf_loop(sc->nctop, probe_cb, &s, 0);
	} else if (bin) {
		bin_scan(sc, 0, Pp->nvec);
	} else {
		bpf_loop(Pp->nvec, scan_cb, &s, 0);
	}
	if (bin) {
		struct scan_ctx rr = {.sc = sc, .lo = 0};
		bpf_loop(sc->ncand, rerank_cb, &rr, 0);
	}

	__u32 count = sc->ntop;
	if (count > k)
		count = k;
	if (count > maxres)
		count = maxres;
	struct res_ctx rc = {.sc = sc, .fbits = qp->dist_bits};
	bpf_loop(count, res_cb, &rc, 0);
	int act = reply(ctx, &p, sc->res, count, Pp->epoch, RVF_PATH_XDP);
	rvf_count(act == XDP_TX ? RVF_C_ANSWERED : RVF_C_ERROR);
	return act;

malformed:
	rvf_count(RVF_C_MALFORMED);
	return XDP_PASS;
not_ours:
	rvf_count(RVF_C_NOT_OURS);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
