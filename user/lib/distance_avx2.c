/* distance_avx2.c — AVX2+FMA batch kernel, the same shape as the AVX-512
 * one: four rows per pass share each query load, two accumulators per row
 * (one for cosine, which already has two sums), masked loads for the tail. */
#if defined(__x86_64__) || defined(__i386__)
#include "distance.h"
#include "rvf.h"
#include <immintrin.h>

#define T __attribute__((target("avx2,fma")))
#define R4(X) X(0) X(1) X(2) X(3)

/* lanes [0, rem) set, rem in 1..7 */
T static inline __m256i tail_mask(uint32_t rem)
{
	static const int32_t tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1};

	return _mm256_loadu_si256((const __m256i *)(tab + 8 - rem));
}

T static inline float hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

T static inline __m256 l2s(__m256 acc, __m256 x, __m256 v)
{
	__m256 d = _mm256_sub_ps(v, x);

	return _mm256_fmadd_ps(d, d, acc);
}

/* Σ(q-v)² for rows r[0..3] */
T static void l2_rows4(const float *q, const float *const *r, uint32_t dim, float *o)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	uint32_t i = 0;

	for (; i + 16 <= dim; i += 16) {
		__m256 x = _mm256_loadu_ps(q + i), y = _mm256_loadu_ps(q + i + 8);
#define S(k)                                                                                       \
	a##k = l2s(a##k, x, _mm256_loadu_ps(r##k + i));                                            \
	b##k = l2s(b##k, y, _mm256_loadu_ps(r##k + i + 8));
		R4(S)
#undef S
	}
	if (i + 8 <= dim) {
		__m256 x = _mm256_loadu_ps(q + i);
#define S(k) a##k = l2s(a##k, x, _mm256_loadu_ps(r##k + i));
		R4(S)
#undef S
		i += 8;
	}
	if (i < dim) {
		__m256i m = tail_mask(dim - i);
		__m256 x = _mm256_maskload_ps(q + i, m);
#define S(k) b##k = l2s(b##k, x, _mm256_maskload_ps(r##k + i, m));
		R4(S)
#undef S
	}
#define S(k) o[k] = hsum(_mm256_add_ps(a##k, b##k));
	R4(S)
#undef S
}

/* Σ q·v for rows r[0..3] */
T static void dot_rows4(const float *q, const float *const *r, uint32_t dim, float *o)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	uint32_t i = 0;

	for (; i + 16 <= dim; i += 16) {
		__m256 x = _mm256_loadu_ps(q + i), y = _mm256_loadu_ps(q + i + 8);
#define S(k)                                                                                       \
	a##k = _mm256_fmadd_ps(x, _mm256_loadu_ps(r##k + i), a##k);                                \
	b##k = _mm256_fmadd_ps(y, _mm256_loadu_ps(r##k + i + 8), b##k);
		R4(S)
#undef S
	}
	if (i + 8 <= dim) {
		__m256 x = _mm256_loadu_ps(q + i);
#define S(k) a##k = _mm256_fmadd_ps(x, _mm256_loadu_ps(r##k + i), a##k);
		R4(S)
#undef S
		i += 8;
	}
	if (i < dim) {
		__m256i m = tail_mask(dim - i);
		__m256 x = _mm256_maskload_ps(q + i, m);
#define S(k) b##k = _mm256_fmadd_ps(x, _mm256_maskload_ps(r##k + i, m), b##k);
		R4(S)
#undef S
	}
#define S(k) o[k] = hsum(_mm256_add_ps(a##k, b##k));
	R4(S)
#undef S
}

/* Σ q·v and Σ v·v for rows r[0..3] in one pass over the rows. */
T static void dotvv_rows4(const float *q, const float *const *r, uint32_t dim, float *o, float *vv)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m256 n0 = a0, n1 = a0, n2 = a0, n3 = a0;
	uint32_t i = 0;

	for (; i + 8 <= dim; i += 8) {
		__m256 x = _mm256_loadu_ps(q + i), v;
#define S(k)                                                                                       \
	v = _mm256_loadu_ps(r##k + i);                                                             \
	a##k = _mm256_fmadd_ps(x, v, a##k);                                                        \
	n##k = _mm256_fmadd_ps(v, v, n##k);
		R4(S)
#undef S
	}
	if (i < dim) {
		__m256i m = tail_mask(dim - i);
		__m256 x = _mm256_maskload_ps(q + i, m), v;
#define S(k)                                                                                       \
	v = _mm256_maskload_ps(r##k + i, m);                                                    \
	a##k = _mm256_fmadd_ps(x, v, a##k);                                                        \
	n##k = _mm256_fmadd_ps(v, v, n##k);
		R4(S)
#undef S
	}
#define S(k)                                                                                       \
	o[k] = hsum(a##k);                                                         \
	vv[k] = hsum(n##k);
	R4(S)
#undef S
}

#define RVF_BATCH_FN rvf_batch_avx2
#include "distance_batch.h"
#endif
