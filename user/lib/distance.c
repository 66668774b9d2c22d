/* distance.c — exact reference distances, the scalar batch kernel and the
 * run-time choice of the SIMD kernel (distance_avx2.c, distance_avx512.c;
 * distance_wasm128.c in the wasm build). */
#include "distance.h"
#include "rvf.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define RVF_X86 1
#endif

/*
 * The exact sums must be rounded after every multiply and every add, in
 * dimension order. GCC never reassociates floats without -ffast-math, and
 * -std=c11 already turns off FMA contraction; the attribute/pragma keep it
 * so if someone builds with -march=native in GNU mode or with clang.
 */
#if defined(__clang__)
#pragma clang fp contract(off)
#define EXACT_FP
#elif defined(__GNUC__)
#define EXACT_FP __attribute__((optimize("fp-contract=off")))
#else
#define EXACT_FP
#endif

EXACT_FP static float l2_exact(const float *q, const float *v, uint32_t dim)
{
	float s = 0.0f;

	for (uint32_t i = 0; i < dim; i++) {
		float d = q[i] - v[i];
		float p = d * d;
		s += p;
	}
	return s;
}

EXACT_FP static float dot_exact(const float *q, const float *v, uint32_t dim)
{
	float s = 0.0f;

	for (uint32_t i = 0; i < dim; i++) {
		float p = q[i] * v[i];
		s += p;
	}
	return s;
}

EXACT_FP float rvf_sqnorm_exact(const float *v, uint32_t dim)
{
	float s = 0.0f;

	for (uint32_t i = 0; i < dim; i++) {
		float p = v[i] * v[i];
		s += p;
	}
	return s;
}

/* The three cosine sums in one pass, as the reference does. They are
 * independent accumulators, so separate passes give the same bits too. */
EXACT_FP static float cos_exact(const float *q, const float *v, uint32_t dim)
{
	float dot = 0.0f, qq = 0.0f, vv = 0.0f;

	for (uint32_t i = 0; i < dim; i++) {
		float pd = q[i] * v[i];
		float pq = q[i] * q[i];
		float pv = v[i] * v[i];
		dot += pd;
		qq += pq;
		vv += pv;
	}
	return rvf_cos_finish(dot, qq, vv);
}

float rvf_dist_exact(int metric, const float *q, const float *v, uint32_t dim)
{
	switch (metric) {
	case RVF_METRIC_L2:
		return l2_exact(q, v, dim);
	case RVF_METRIC_IP:
		return -dot_exact(q, v, dim);
	case RVF_METRIC_COSINE:
		return cos_exact(q, v, dim);
	}
	return NAN;
}

/* Scalar fallback: the exact sums, so it doubles as a reference path. */
static void batch_scalar(int metric, const float *q, const float *base, size_t n, uint32_t dim,
			 size_t stride, const float *row_sqnorm, float *out)
{
	float qq = rvf_sqnorm_exact(q, dim);

	for (size_t i = 0; i < n; i++) {
		const float *v = base + i * stride;
		float vv;

		switch (metric) {
		case RVF_METRIC_L2:
			out[i] = l2_exact(q, v, dim);
			break;
		case RVF_METRIC_IP:
			out[i] = -dot_exact(q, v, dim);
			break;
		case RVF_METRIC_COSINE:
			vv = row_sqnorm ? row_sqnorm[i] : rvf_sqnorm_exact(v, dim);
			out[i] = rvf_cos_finish(dot_exact(q, v, dim), qq, vv);
			break;
		default:
			out[i] = NAN;
		}
	}
}

/* ---- run-time dispatch ------------------------------------------------ */

static const rvf_batch_fn kernels[] = {
	[RVF_SIMD_SCALAR] = batch_scalar,
#ifdef RVF_X86
	[RVF_SIMD_AVX2] = rvf_batch_avx2,
	[RVF_SIMD_AVX512] = rvf_batch_avx512,
#endif
#ifdef __wasm_simd128__
	[RVF_SIMD_WASM128] = rvf_batch_wasm128,
#endif
};

/* Resolved level, RVF_SIMD_AUTO until first use. Resolution is idempotent,
 * so threads racing on first use just store the same value. */
static atomic_int active_level = RVF_SIMD_AUTO;

int rvf_simd_supported(int level)
{
	switch (level) {
	case RVF_SIMD_SCALAR:
		return 1;
#ifdef RVF_X86
	case RVF_SIMD_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case RVF_SIMD_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f");
#endif
#ifdef __wasm_simd128__
	case RVF_SIMD_WASM128: /* compiled in: a runtime without SIMD refuses the module */
		return 1;
#endif
	}
	return 0;
}

const char *rvf_simd_name(int level)
{
	switch (level) {
	case RVF_SIMD_SCALAR:
		return "scalar";
	case RVF_SIMD_AVX2:
		return "avx2";
	case RVF_SIMD_AVX512:
		return "avx512";
	case RVF_SIMD_WASM128:
		return "wasm128";
	}
	return "auto";
}

static int resolve_level(void)
{
	const char *e = getenv("RVF_SIMD");
	int level = RVF_SIMD_WASM128; /* the best, then down to what is there */

	if (e && !strcmp(e, "scalar"))
		level = RVF_SIMD_SCALAR;
	else if (e && !strcmp(e, "avx2"))
		level = RVF_SIMD_AVX2;
	while (level > RVF_SIMD_SCALAR && !rvf_simd_supported(level))
		level--;
	return level;
}

int rvf_simd_active(void)
{
	int level = atomic_load_explicit(&active_level, memory_order_relaxed);

	if (level == RVF_SIMD_AUTO) {
		level = resolve_level();
		atomic_store_explicit(&active_level, level, memory_order_relaxed);
	}
	return level;
}

int rvf_simd_force(int level)
{
	if (level != RVF_SIMD_AUTO && !rvf_simd_supported(level))
		return -1;
	atomic_store_explicit(&active_level, level, memory_order_relaxed);
	return 0;
}

void rvf_dist_batch_norms(int metric, const float *q, const float *base, size_t n, uint32_t dim,
			  size_t stride, const float *row_sqnorm, float *out)
{
	kernels[rvf_simd_active()](metric, q, base, n, dim, stride, row_sqnorm, out);
}

void rvf_dist_batch(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		    size_t stride, float *out)
{
	rvf_dist_batch_norms(metric, q, base, n, dim, stride, NULL, out);
}
