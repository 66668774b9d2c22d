/* quant8.h — THE int8 quantizer of the XDP fast path, shared by the loader
 * (fills the BPF maps; the map layout is the loader's business:
 * loader/quant8_xdp.h), the store's SQ8 scan, the tests/benchmarks (C
 * reference) and, by
 * construction, bpf/rvf_xdp.bpf.c (which re-implements quant8_fx /
 * quant8_round / quant8_dist_bits with the same integer operations; the
 * "xdp" unit suite checks the two agree bit for bit).
 *
 * Definition
 *  - offset[d] = midrange of dimension d over the vectors,
 *    scale = max |x - offset| / 127 over all d (one global scale, so integer
 *    L2 is real L2 / scale^2). A zero spread gives scale 1.
 *  - Fixed point relative to the scale: with E = biased exponent of scale,
 *    F = 151 - E, a float x = m * 2^(e-150) becomes X = trunc(x * 2^F) =
 *    m shifted left by e - E + 1 (right shifts truncate; a left shift of 31
 *    or more saturates |X| to 2^62, which still clamps to +-127 because
 *    |OFF| < 2^50 is required) and the scale is exactly S = 2 * mantissa,
 *    in [2^24, 2^25). OFF[d] = fx(offset[d]).
 *  - q = clamp(round_half_away((X - OFF[d]) / S), -127, 127), u = q + 128
 *    (offset binary; L2 over u equals L2 over q). This is round((x-off)/scale)
 *    up to a truncation below 2^-23 of a quantization step.
 *  - An int8 query (RVF_WF_I8) i[d] with its f32 query scale s means
 *    x = i * s; X = trunc(|i| * mant(s) * 2^(E(s) - E + 1)), same rounding.
 *  - PACK3: u64 word t of a vector = u[3t] | u[3t+1] << 22 | u[3t+2] << 44;
 *    of the query, reversed: u[3t+2] | u[3t+1] << 22 | u[3t] << 44. Then
 *    (w * qw) >> 44 = u[3t]q[3t] + u[3t+1]q[3t+1] + u[3t+2]q[3t+2] exactly.
 *    int L2 = norm(v) + norm(q) - 2 * sum_t (w[t] * qw[t]) >> 44.
 *  - 1-bit code (RVF_SCAN_BIN): bit d of word d / 64 is u[d] >= 128, i.e.
 *    the int8 value q[d] >= 0; unused bits 0. Hamming = popcount(a ^ b).
 *    Two-stage top-k: the R smallest keys hamming << 32 | index, then the
 *    k smallest keys int_l2 << 32 | index among those R (quant8_bin_topk).
 *  - Distance reported: (float)((double)int_l2 * (double)factor) with
 *    factor = scale^2 for L2 and scale^2 / 2 for cosine (vectors and query
 *    normalized before quantizing: |a - b|^2 / 2 = 1 - cos). IP is never
 *    answered from int8 (the daemon does it).
 */
#ifndef RVF_QUANT8_H
#define RVF_QUANT8_H
#include <stddef.h>
#include <stdint.h>

/* u64 words of one vector's codes: PACK3 (3 bytes a word) and 1-bit. The
 * XDP maps use the same sizes (RVF_PACK3_WORDS / RVF_BIN_WORDS of
 * rvf_wire.h; loader/quant8_xdp.c asserts they agree). */
#define QUANT8_PACK3_WORDS(dim) (((dim) + 2) / 3)
#define QUANT8_BIN_WORDS(dim) (((dim) + 63) / 64)

typedef struct {
	uint32_t dim;
	int metric;          /* rvf_metric */
	float scale;         /* global scale (> 0, normal) */
	float factor;        /* distance factor: scale^2, or scale^2 / 2 for cosine */
	int32_t scale_exp;   /* biased exponent of scale */
	uint64_t S;          /* scale in fixed point: 2 * mantissa, [2^24, 2^25) */
	float *off;          /* dim offsets (midranges) */
	int64_t *off_fx;     /* dim offsets in fixed point */
	int fx_ok;           /* 1 if the fixed-point form holds (offsets within
			      * +-2^50, a factor with room both ways, not IP):
			      * what the XDP program needs besides its maximum
			      * dimension (quant8_fill_xdp checks that) */
} quant8_params;

/* Parameters from n vectors (row-major, n x dim). For cosine the vectors are
 * normalized first (on a copy). Returns 0 or -errno (-EINVAL, -ENOMEM). */
int quant8_params_init(quant8_params *p, const float *vecs, size_t n, uint32_t dim, int metric);
void quant8_params_free(quant8_params *p);

/* In-place L2 normalization (zero vectors stay zero). */
void quant8_normalize(float *v, uint32_t dim);

/* |value| = mag * 2^(shift - F) -> fixed point X (mag < 2^31). Mirrors the
 * BPF code exactly. */
int64_t quant8_fx(uint32_t mag, int neg, int32_t shift);
/* X - OFF -> offset-binary byte. */
uint8_t quant8_round(int64_t d, uint64_t S);

/* Quantize one vector: for cosine stores it normalizes a copy first.
 * Returns 0, or -EDOM if x holds inf/nan. */
int quant8_quantize(const quant8_params *p, const float *x, uint8_t *u);
/* Same without normalization (what XDP does with the query it receives). */
int quant8_quantize_raw(const quant8_params *p, const float *x, uint8_t *u);
/* int8 query with its f32 scale (RVF_WF_I8): x = i * qscale. -EDOM unless
 * qscale is finite and > 0 (XDP passes such queries to the daemon). */
int quant8_quantize_i8(const quant8_params *p, const int8_t *i, float qscale, uint8_t *u);

/* PACK3 */
void quant8_pack3(const uint8_t *u, uint32_t dim, uint64_t *w);       /* QUANT8_PACK3_WORDS(dim) */
void quant8_pack3_query(const uint8_t *u, uint32_t dim, uint64_t *qw); /* reversed lanes */
uint32_t quant8_norm(const uint8_t *u, uint32_t dim);                 /* sum u^2 */
/* 1-bit code: QUANT8_BIN_WORDS(dim) words (one rvf_bins entry). */
void quant8_bin(const uint8_t *u, uint32_t dim, uint64_t *b);
uint32_t quant8_hamming(const uint64_t *a, const uint64_t *b, uint32_t dim);
/* Two-stage search over n vectors (row-major offset-binary bytes, base) or
 * over the index ranges [ranges[2j], ranges[2j+1]) when nranges > 0 (IVF
 * members): the R smallest hamming keys, reranked by exact int L2. Writes
 * up to k keys int_l2 << 32 | index (ascending) and returns their count.
 * R is used as given (XDP raises it to k and caps it: the wire protocol).
 * -1 on allocation failure. */
int quant8_bin_topk(const uint8_t *base, uint32_t n, uint32_t dim, const uint32_t *ranges,
		    uint32_t nranges, const uint8_t *qu, uint32_t R, uint32_t k, uint64_t *keys);
/* Chooses R for the two-stage scan on the data itself: nq of the m vectors
 * (evenly spaced) are used as queries against the other m - 1 (leave one
 * out); for each R of Rs (ascending, nR <= 8) the mean recall@k of the
 * two-stage top-k against the exact int8 top-k is computed (recall[j]).
 * Returns the smallest R whose recall >= target, 0 if none does (the
 * binary codes do not separate this data well enough: use PACK3), -1 on
 * allocation failure. */
int quant8_bin_calibrate(const uint8_t *u, uint32_t m, uint32_t dim, uint32_t nq, uint32_t k,
			 double target, const uint32_t *Rs, int nR, double *recall);
/* Exact int8 top-k (keys int_l2 << 32 | index) over all n vectors. */
int quant8_exact_topk(const uint8_t *base, uint32_t n, uint32_t dim, const uint8_t *qu, uint32_t k,
		      uint64_t *keys);

/* Exact integer L2 between two offset-binary vectors (reference). */
uint32_t quant8_l2(const uint8_t *a, const uint8_t *b, uint32_t dim);
/* Same through PACK3 words (what the BPF scan computes). */
uint32_t quant8_l2_pack3(const uint64_t *w, uint32_t vnorm, const uint64_t *qw, uint32_t qnorm,
			 uint32_t dim);
/* f32 distance of an integer L2: (float)((double)l2 * factor). */
float quant8_dist(const quant8_params *p, uint32_t l2);
/* Same, integer-only on the factor's bits (the BPF algorithm). */
uint32_t quant8_dist_bits(uint32_t l2, uint32_t factor_bits);

#endif
