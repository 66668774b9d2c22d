/* distance_wasm128.c — WebAssembly SIMD128 kernels for the wasm build
 * (bindings/wasm, clang -msimd128): the batch scan of distance.c (four rows
 * per pass share each query load, two accumulators per row) and the
 * single-pair L2 / dot of the HNSW search (hnsw.c). The exact sums
 * (rvf_dist_exact) stay sequential: they must be bit-identical to the
 * reference. WebAssembly has no masked loads, so the last dim % 4
 * components are summed in scalar. Compiles to nothing elsewhere. */
#if defined(__wasm_simd128__)
#include "distance.h"
#include "rvf.h"
#include <wasm_simd128.h>

#define T
#define R4(X) X(0) X(1) X(2) X(3)

static inline float hsum(v128_t v)
{
	return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 2)) +
	       (wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 3));
}

static inline v128_t ld(const float *p)
{
	return wasm_v128_load(p); /* no alignment required */
}

static inline v128_t l2s(v128_t acc, v128_t x, v128_t v)
{
	v128_t d = wasm_f32x4_sub(v, x);
	return wasm_f32x4_add(acc, wasm_f32x4_mul(d, d));
}

static inline v128_t dots(v128_t acc, v128_t x, v128_t v)
{
	return wasm_f32x4_add(acc, wasm_f32x4_mul(x, v));
}

/* Σ(q-v)² for rows r[0..3] */
static void l2_rows4(const float *q, const float *const *r, uint32_t dim, float *o)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
	v128_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
	uint32_t i = 0;

	for (; i + 8 <= dim; i += 8) {
		v128_t x = ld(q + i), y = ld(q + i + 4);
#define S(k)                                                                                       \
	a##k = l2s(a##k, x, ld(r##k + i));                                                         \
	b##k = l2s(b##k, y, ld(r##k + i + 4));
		R4(S)
#undef S
	}
	if (i + 4 <= dim) {
		v128_t x = ld(q + i);
#define S(k) a##k = l2s(a##k, x, ld(r##k + i));
		R4(S)
#undef S
		i += 4;
	}
	for (; i < dim; i++) {
#define S(k) t##k += (q[i] - r##k[i]) * (q[i] - r##k[i]);
		R4(S)
#undef S
	}
#define S(k) o[k] = hsum(wasm_f32x4_add(a##k, b##k)) + t##k;
	R4(S)
#undef S
}

/* Σ q·v for rows r[0..3] */
static void dot_rows4(const float *q, const float *const *r, uint32_t dim, float *o)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
	v128_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
	uint32_t i = 0;

	for (; i + 8 <= dim; i += 8) {
		v128_t x = ld(q + i), y = ld(q + i + 4);
#define S(k)                                                                                       \
	a##k = dots(a##k, x, ld(r##k + i));                                                        \
	b##k = dots(b##k, y, ld(r##k + i + 4));
		R4(S)
#undef S
	}
	if (i + 4 <= dim) {
		v128_t x = ld(q + i);
#define S(k) a##k = dots(a##k, x, ld(r##k + i));
		R4(S)
#undef S
		i += 4;
	}
	for (; i < dim; i++) {
#define S(k) t##k += q[i] * r##k[i];
		R4(S)
#undef S
	}
#define S(k) o[k] = hsum(wasm_f32x4_add(a##k, b##k)) + t##k;
	R4(S)
#undef S
}

/* Σ q·v and Σ v·v for rows r[0..3] in one pass over the rows. */
static void dotvv_rows4(const float *q, const float *const *r, uint32_t dim, float *o, float *vv)
{
	const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
	v128_t n0 = a0, n1 = a0, n2 = a0, n3 = a0;
	float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
	float u0 = 0.0f, u1 = 0.0f, u2 = 0.0f, u3 = 0.0f;
	uint32_t i = 0;

	for (; i + 4 <= dim; i += 4) {
		v128_t x = ld(q + i), v;
#define S(k)                                                                                       \
	v = ld(r##k + i);                                                                          \
	a##k = dots(a##k, x, v);                                                                   \
	n##k = dots(n##k, v, v);
		R4(S)
#undef S
	}
	for (; i < dim; i++) {
#define S(k)                                                                                       \
	t##k += q[i] * r##k[i];                                                                    \
	u##k += r##k[i] * r##k[i];
		R4(S)
#undef S
	}
#define S(k)                                                                                       \
	o[k] = hsum(a##k) + t##k;                                                                  \
	vv[k] = hsum(n##k) + u##k;
	R4(S)
#undef S
}

/* ---- single pairs, for the HNSW search (hnsw.c) ------------------------ */
float rvf_l2_wasm128(const float *a, const float *b, uint32_t dim)
{
	v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
	float t = 0.0f;
	uint32_t i = 0;

	for (; i + 16 <= dim; i += 16) {
		s0 = l2s(s0, ld(a + i), ld(b + i));
		s1 = l2s(s1, ld(a + i + 4), ld(b + i + 4));
		s2 = l2s(s2, ld(a + i + 8), ld(b + i + 8));
		s3 = l2s(s3, ld(a + i + 12), ld(b + i + 12));
	}
	for (; i + 4 <= dim; i += 4)
		s0 = l2s(s0, ld(a + i), ld(b + i));
	for (; i < dim; i++)
		t += (a[i] - b[i]) * (a[i] - b[i]);
	return hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3))) + t;
}

float rvf_dot_wasm128(const float *a, const float *b, uint32_t dim)
{
	v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
	float t = 0.0f;
	uint32_t i = 0;

	for (; i + 16 <= dim; i += 16) {
		s0 = dots(s0, ld(a + i), ld(b + i));
		s1 = dots(s1, ld(a + i + 4), ld(b + i + 4));
		s2 = dots(s2, ld(a + i + 8), ld(b + i + 8));
		s3 = dots(s3, ld(a + i + 12), ld(b + i + 12));
	}
	for (; i + 4 <= dim; i += 4)
		s0 = dots(s0, ld(a + i), ld(b + i));
	for (; i < dim; i++)
		t += a[i] * b[i];
	return hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3))) + t;
}

#define RVF_BATCH_FN rvf_batch_wasm128
#include "distance_batch.h"
#endif
