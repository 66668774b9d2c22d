/* distance_avx512.c — AVX-512F batch kernel. Four rows per pass share each
 * query load; two accumulators per row keep eight FMA chains in flight; the
 * dimension tail uses a masked load, so any dim and stride work. */
#if defined(__x86_64__) || defined(__i386__)
#include "distance.h"
#include "rvf.h"
#include <immintrin.h>

#define T __attribute__((target("avx512f")))
#define R4(X) X(0) X(1) X(2) X(3)

T static inline __m512 l2s(__m512 acc, __m512 x, __m512 v)
{
	__m512 d = _mm512_sub_ps(v, x);

	return _mm512_fmadd_ps(d, d, acc);
}

/* Σ(q-v)² for rows r[0..3] */
T static void l2_rows4(const float *q, const float *const *r, uint32_t dim, float *o)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	uint32_t i = 0;

	for (; i + 32 <= dim; i += 32) {
		__m512 x = _mm512_loadu_ps(q + i), y = _mm512_loadu_ps(q + i + 16);
#define S(k)                                                                                       \
	a##k = l2s(a##k, x, _mm512_loadu_ps(r##k + i));                                            \
	b##k = l2s(b##k, y, _mm512_loadu_ps(r##k + i + 16));
		R4(S)
#undef S
	}
	if (i + 16 <= dim) {
		__m512 x = _mm512_loadu_ps(q + i);
#define S(k) a##k = l2s(a##k, x, _mm512_loadu_ps(r##k + i));
		R4(S)
#undef S
		i += 16;
	}
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
		__m512 x = _mm512_maskz_loadu_ps(m, q + i);
#define S(k) b##k = l2s(b##k, x, _mm512_maskz_loadu_ps(m, r##k + i));
		R4(S)
#undef S
	}
#define S(k) o[k] = _mm512_reduce_add_ps(_mm512_add_ps(a##k, b##k));
	R4(S)
#undef S
}

/* Σ q·v for rows r[0..3] */
T static void dot_rows4(const float *q, const float *const *r, uint32_t dim, float *o)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	uint32_t i = 0;

	for (; i + 32 <= dim; i += 32) {
		__m512 x = _mm512_loadu_ps(q + i), y = _mm512_loadu_ps(q + i + 16);
#define S(k)                                                                                       \
	a##k = _mm512_fmadd_ps(x, _mm512_loadu_ps(r##k + i), a##k);                                \
	b##k = _mm512_fmadd_ps(y, _mm512_loadu_ps(r##k + i + 16), b##k);
		R4(S)
#undef S
	}
	if (i + 16 <= dim) {
		__m512 x = _mm512_loadu_ps(q + i);
#define S(k) a##k = _mm512_fmadd_ps(x, _mm512_loadu_ps(r##k + i), a##k);
		R4(S)
#undef S
		i += 16;
	}
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
		__m512 x = _mm512_maskz_loadu_ps(m, q + i);
#define S(k) b##k = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r##k + i), b##k);
		R4(S)
#undef S
	}
#define S(k) o[k] = _mm512_reduce_add_ps(_mm512_add_ps(a##k, b##k));
	R4(S)
#undef S
}

/* Σ q·v and Σ v·v for rows r[0..3] in one pass over the rows. */
T static void dotvv_rows4(const float *q, const float *const *r, uint32_t dim, float *o, float *vv)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m512 n0 = a0, n1 = a0, n2 = a0, n3 = a0;
	uint32_t i = 0;

	for (; i + 16 <= dim; i += 16) {
		__m512 x = _mm512_loadu_ps(q + i), v;
#define S(k)                                                                                       \
	v = _mm512_loadu_ps(r##k + i);                                                             \
	a##k = _mm512_fmadd_ps(x, v, a##k);                                                        \
	n##k = _mm512_fmadd_ps(v, v, n##k);
		R4(S)
#undef S
	}
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
		__m512 x = _mm512_maskz_loadu_ps(m, q + i), v;
#define S(k)                                                                                       \
	v = _mm512_maskz_loadu_ps(m, r##k + i);                                                    \
	a##k = _mm512_fmadd_ps(x, v, a##k);                                                        \
	n##k = _mm512_fmadd_ps(v, v, n##k);
		R4(S)
#undef S
	}
#define S(k)                                                                                       \
	o[k] = _mm512_reduce_add_ps(a##k);                                                         \
	vv[k] = _mm512_reduce_add_ps(n##k);
	R4(S)
#undef S
}

#define RVF_BATCH_FN rvf_batch_avx512
#include "distance_batch.h"
#endif
