/* sq8.h — integer kernels over the quant8 codes (quant8.h) used by the
 * store's quantized search (store_quant.c).
 *
 * Codes are quant8's offset-binary bytes u = q + 128, one row per vector,
 * SQ8_STRIDE(dim) bytes per row (zero padding). A query is an int8 vector
 * s (same padding, zeros): for L2/cosine s = u_q - 128 (the query's quant8
 * code, never -128 because quant8 clamps to +-127); for IP s is the query on
 * its own int8 scale.
 *
 *  dot(u, s) = sum_d u[d] * s[d]                 (u8 x s8 -> exact int32)
 *  L2(u, u_q) = c(u) + norm(u_q) - 2 * dot(u, s) with c(u) = sum u (u - 256)
 *
 * which is exactly quant8_l2(u, u_q): the "u8-offset trick" lets AVX-512
 * VNNI's vpdpbusd (u8 x s8, four products per 32-bit lane) compute the
 * int8 L2 without widening. |u*s| <= 255 * 127, so no int32 lane or total
 * can overflow for dim <= 65535. Every level gives the same integers.
 *
 * Binary codes are quant8_bin's (bit d = u[d] >= 128), QUANT8_BIN_WORDS(dim)
 * u64 words per row; distance = popcount(a ^ b).
 */
#ifndef RVF_SQ8_H
#define RVF_SQ8_H
#include <stddef.h>
#include <stdint.h>

#include "quant8.h"

#define SQ8_STRIDE(dim) ((((size_t)(dim)) + 63) & ~(size_t)63)

enum {
	SQ8_AUTO = -1,
	SQ8_SCALAR = 0,
	SQ8_AVX2 = 1, /* widen to 16 bits, vpmaddwd */
	SQ8_VNNI = 2, /* AVX-512 VNNI vpdpbusd */
};

/* Run-time choice (like rvf_simd_*): RVF_SQ8=scalar|avx2|vnni forces a
 * level (clamped to the CPU), otherwise the best available. */
int sq8_supported(int level);
int sq8_active(void);
int sq8_force(int level); /* 0, or -1 if unsupported (nothing changes) */
const char *sq8_name(int level);

/* out[i] = dot(codes + i * cstride, s) over cstride bytes (cstride a
 * multiple of 64, s padded with zeros). */
void sq8_dot_batch(const uint8_t *codes, size_t n, size_t cstride, const int8_t *s, int32_t *out);
void sq8_dot_batch_level(int level, const uint8_t *codes, size_t n, size_t cstride, const int8_t *s,
			 int32_t *out);

/* out[i] = hamming(bins + i * words, qb). */
void sq8_hamming_batch(const uint64_t *bins, size_t n, uint32_t words, const uint64_t *qb, uint32_t *out);

/* c(u) = sum u (u - 256) over dim bytes. */
int32_t sq8_row_const(const uint8_t *u, uint32_t dim);

/* Same bytes as quant8_quantize_raw (checked by the "quant" suite), faster:
 * the rounding division is a multiplication by the reciprocal in double
 * plus one integer correction step instead of a 64-bit integer division.
 * Returns 0 or -EDOM (inf/nan). */
int sq8_encode(const quant8_params *p, const float *x, uint8_t *u);

#endif
