/* test_distance.c — suite "distance": exact metric values (spec §17), the
 * SIMD batch kernels against the exact ones, and the top-k heap. */
#include "distance.h"
#include "rvf.h"
#include "testreg.h"
#include "topk.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static float frand(void) /* uniform in [-1, 1) */
{
	return (float)(rnd() >> 40) / (float)(1u << 23) - 1.0f;
}

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static const int metrics[] = {RVF_METRIC_L2, RVF_METRIC_IP, RVF_METRIC_COSINE};

/* ---- exact values ------------------------------------------------------ */

static void test_hand_values(void)
{
	static const float q[2] = {1, 0};
	static const float v[4][2] = {{1, 0}, {0, 1}, {3, 4}, {-1, 0}};
	/* cosine of (3,4) is 1 - 3/5 rounded in f32 (0.39999998f, not 0.4f) */
	static const float l2[4] = {0, 2, 20, 4}, cs[4] = {0, 1, 1.0f - 3.0f / 5.0f, 2};
	static const float ip[4] = {-1, 0, -3, 1};

	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(rvf_dist_exact(RVF_METRIC_L2, q, v[i], 2), l2[i]);
		CU_ASSERT_EQUAL(rvf_dist_exact(RVF_METRIC_COSINE, q, v[i], 2), cs[i]);
		CU_ASSERT_EQUAL(rvf_dist_exact(RVF_METRIC_IP, q, v[i], 2), ip[i]);
	}
	CU_ASSERT(isnan(rvf_dist_exact(7, q, v[0], 2)));
}

static void test_cosine_zero(void)
{
	static const float z[3] = {0, 0, 0}, a[3] = {1, 2, 3}, tiny[3] = {1e-30f, 0, 0};
	float out[2];

	CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_COSINE, z, a, 3)), fbits(1.0f));
	CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_COSINE, a, z, 3)), fbits(1.0f));
	CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_COSINE, z, z, 3)), fbits(1.0f));
	/* sqrt(qq*vv) underflows below FLT_EPSILON: also exactly 1 */
	CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_COSINE, tiny, a, 3)), fbits(1.0f));
	for (int l = RVF_SIMD_SCALAR; l <= RVF_SIMD_AVX512; l++) {
		if (rvf_simd_force(l))
			continue;
		rvf_dist_batch(RVF_METRIC_COSINE, a, z, 1, 3, 3, out);
		CU_ASSERT_EQUAL(fbits(out[0]), fbits(1.0f));
		rvf_dist_batch(RVF_METRIC_COSINE, z, a, 1, 3, 3, out);
		CU_ASSERT_EQUAL(fbits(out[0]), fbits(1.0f));
	}
	rvf_simd_force(RVF_SIMD_AUTO);
}

/* rvf_dist_exact must be the plain sequential f32 sum: values spanning many
 * magnitudes make any reordering (or FMA) visible in the low bits. */
static void test_exact_sequential(void)
{
	float q[257], v[257];
	int differs = 0;

	for (int rep = 0; rep < 50; rep++) {
		uint32_t dim = 1 + rnd() % 257;

		for (uint32_t i = 0; i < dim; i++) {
			q[i] = frand() * ldexpf(1.0f, (int)(rnd() % 24) - 12);
			v[i] = frand() * ldexpf(1.0f, (int)(rnd() % 24) - 12);
		}
		volatile float l2 = 0, dot = 0, qq = 0, vv = 0;
		for (uint32_t i = 0; i < dim; i++) {
			volatile float d = q[i] - v[i], p = d * d, pd = q[i] * v[i];
			volatile float pq = q[i] * q[i], pv = v[i] * v[i];
			l2 += p;
			dot += pd;
			qq += pq;
			vv += pv;
		}
		volatile float s = sqrtf(qq * vv);
		float cs = s < FLT_EPSILON ? 1.0f : 1.0f - dot / s;

		CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_L2, q, v, dim)), fbits(l2));
		CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_IP, q, v, dim)), fbits(-dot));
		CU_ASSERT_EQUAL(fbits(rvf_dist_exact(RVF_METRIC_COSINE, q, v, dim)), fbits(cs));
		CU_ASSERT_EQUAL(fbits(rvf_sqnorm_exact(v, dim)), fbits(vv));
		/* sanity that the data does distinguish summation orders */
		double ref = 0;
		for (uint32_t i = 0; i < dim; i++)
			ref += (double)q[i] * v[i];
		differs += (float)ref != dot;
	}
	CU_ASSERT(differs > 0);
}

/* ---- batch kernels ------------------------------------------------------ */

struct rows {
	float *mem, *base;
	size_t n, stride;
	uint32_t dim;
};

/* n rows; padding between rows is NaN (so reading it shows), and the
 * allocation ends right after the last row's dim floats (ASan catches
 * over-reads). off shifts the base off 32-byte alignment. */
static void rows_make(struct rows *r, size_t n, uint32_t dim, size_t stride, size_t off)
{
	size_t len = off + (n - 1) * stride + dim;

	r->mem = aligned_alloc(64, (len * sizeof(float) + 63) & ~(size_t)63);
	CU_ASSERT_FATAL(r->mem != NULL);
	r->base = r->mem + off;
	r->n = n;
	r->dim = dim;
	r->stride = stride;
	for (size_t i = 0; i < len; i++)
		r->mem[i] = NAN;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < dim; j++)
			r->base[i * stride + j] = frand();
}

/* Tolerance 1e-5 relative to the magnitude of the computation: |exact| for
 * L2 (all terms >= 0), Σ|q·v| for IP (a random dot may cancel to ~0, where
 * no summation order is relatively accurate), and 1 for cosine (1 - cos). */
static int close_enough(int metric, const float *q, const float *v, uint32_t dim, float exact,
			float got)
{
	double scale = fabs(exact);

	if (metric == RVF_METRIC_IP) {
		double s = 0;
		for (uint32_t i = 0; i < dim; i++)
			s += fabs((double)q[i] * v[i]);
		scale = s > scale ? s : scale;
	} else if (metric == RVF_METRIC_COSINE && scale < 1) {
		scale = 1;
	}
	return fabs((double)got - exact) <= 1e-5 * scale;
}

/* Compare the forced level with rvf_dist_exact over many shapes; returns
 * the number of mismatches. */
static int check_level(int level)
{
	static const size_t ns[] = {1, 3, 4, 5, 37};
	uint32_t dims[140];
	int ndims = 0, bad = 0;

	for (uint32_t d = 1; d <= 130; d++)
		dims[ndims++] = d;
	dims[ndims++] = 384;
	dims[ndims++] = 768;
	CU_ASSERT_FATAL(rvf_simd_force(level) == 0);
	for (int di = 0; di < ndims; di++) {
		uint32_t dim = dims[di];
		size_t strides[3] = {dim, dim + 1 + 2 * (rnd() % 3), (dim + 7) & ~(size_t)7};
		float q[768];

		for (uint32_t j = 0; j < dim; j++)
			q[j] = frand();
		for (int si = 0; si < 3; si++) {
			struct rows r;
			size_t n = ns[(di + si) % 5];
			float out[37], norms[37];

			rows_make(&r, n, dim, strides[si], si == 1 ? 1 : 0);
			for (size_t i = 0; i < n; i++)
				norms[i] = rvf_sqnorm_exact(r.base + i * r.stride, dim);
			for (int mi = 0; mi < 3; mi++) {
				int m = metrics[mi];

				for (int wn = 0; wn < 2; wn++) {
					if (wn && m != RVF_METRIC_COSINE)
						continue;
					rvf_dist_batch_norms(m, q, r.base, n, dim, r.stride,
							     wn ? norms : NULL, out);
					for (size_t i = 0; i < n; i++) {
						const float *v = r.base + i * r.stride;
						float ex = rvf_dist_exact(m, q, v, dim);

						if (close_enough(m, q, v, dim, ex, out[i]))
							continue;
						if (bad++ < 5)
							printf("\n  %s metric %d dim %u stride %zu row %zu: "
							       "%.9g vs exact %.9g",
							       rvf_simd_name(level), m, dim, r.stride, i,
							       out[i], ex);
					}
				}
			}
			free(r.mem);
		}
	}
	rvf_simd_force(RVF_SIMD_AUTO);
	return bad;
}

static void test_batch_scalar(void)
{
	CU_ASSERT_EQUAL(check_level(RVF_SIMD_SCALAR), 0);
}

static void test_batch_avx2(void)
{
	if (!rvf_simd_supported(RVF_SIMD_AVX2)) {
		printf("(avx2 unsupported, skipped) ");
		return;
	}
	CU_ASSERT_EQUAL(check_level(RVF_SIMD_AVX2), 0);
}

static void test_batch_avx512(void)
{
	if (!rvf_simd_supported(RVF_SIMD_AVX512)) {
		printf("(avx512 unsupported, skipped) ");
		return;
	}
	CU_ASSERT_EQUAL(check_level(RVF_SIMD_AVX512), 0);
}

/* The scalar kernel is the exact sums, bit for bit (with or without
 * rvf_sqnorm_exact norms), so it can serve as a reference path. */
static void test_batch_scalar_bits(void)
{
	struct rows r;
	float q[100], out[9], norms[9];

	for (int j = 0; j < 100; j++)
		q[j] = frand();
	rows_make(&r, 9, 100, 103, 0);
	for (size_t i = 0; i < 9; i++)
		norms[i] = rvf_sqnorm_exact(r.base + i * r.stride, 100);
	CU_ASSERT_FATAL(rvf_simd_force(RVF_SIMD_SCALAR) == 0);
	for (int mi = 0; mi < 3; mi++) {
		for (int wn = 0; wn < 2; wn++) {
			rvf_dist_batch_norms(metrics[mi], q, r.base, 9, 100, r.stride,
					     wn ? norms : NULL, out);
			for (size_t i = 0; i < 9; i++)
				CU_ASSERT_EQUAL(fbits(out[i]),
						fbits(rvf_dist_exact(metrics[mi], q,
								     r.base + i * r.stride, 100)));
		}
	}
	rvf_simd_force(RVF_SIMD_AUTO);
	free(r.mem);
}

static void test_batch_misc(void)
{
	static const float q[2] = {1, 0}, v[8] = {1, 0, 0, 1, 3, 4, -1, 0};
	static const float l2[4] = {0, 2, 20, 4};
	float out[5];

	for (int l = RVF_SIMD_SCALAR; l <= RVF_SIMD_AVX512; l++) {
		if (rvf_simd_force(l))
			continue;
		for (int i = 0; i < 5; i++)
			out[i] = -7;
		CU_ASSERT_EQUAL(rvf_simd_active(), l);
		rvf_dist_batch(RVF_METRIC_L2, q, v, 0, 2, 2, out); /* n = 0 writes nothing */
		CU_ASSERT_EQUAL(out[0], -7);
		rvf_dist_batch(RVF_METRIC_L2, q, v, 4, 2, 2, out);
		for (int i = 0; i < 4; i++)
			CU_ASSERT_EQUAL(out[i], l2[i]);
		CU_ASSERT_EQUAL(out[4], -7);
		rvf_dist_batch(9, q, v, 4, 2, 2, out);
		CU_ASSERT(isnan(out[0]) && isnan(out[3]));
	}
	CU_ASSERT_EQUAL(rvf_simd_force(42), -1);
	CU_ASSERT_EQUAL(strcmp(rvf_simd_name(RVF_SIMD_AVX2), "avx2"), 0);

	/* RVF_SIMD is read when the level is (re)resolved */
	setenv("RVF_SIMD", "scalar", 1);
	rvf_simd_force(RVF_SIMD_AUTO);
	CU_ASSERT_EQUAL(rvf_simd_active(), RVF_SIMD_SCALAR);
	if (rvf_simd_supported(RVF_SIMD_AVX2)) {
		setenv("RVF_SIMD", "avx2", 1);
		rvf_simd_force(RVF_SIMD_AUTO);
		CU_ASSERT_EQUAL(rvf_simd_active(), RVF_SIMD_AVX2);
	}
	unsetenv("RVF_SIMD");
	rvf_simd_force(RVF_SIMD_AUTO);
	CU_ASSERT(rvf_simd_supported(rvf_simd_active()));
}

/* ---- top-k -------------------------------------------------------------- */

/* Independent statement of the order: NaN last, then distance, then id. */
static int cmp_item(const void *pa, const void *pb)
{
	const rvf_topk_item *a = pa, *b = pb;
	int na = isnan(a->dist), nb = isnan(b->dist);

	if (na != nb)
		return na - nb;
	if (!na && a->dist != b->dist)
		return a->dist < b->dist ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* Same rank: -0 and +0 with one id may come in either order. */
static int same_item(const rvf_topk_item *a, const rvf_topk_item *b)
{
	return a->id == b->id && (a->dist == b->dist || (isnan(a->dist) && isnan(b->dist)));
}

/* Distances from a small set so ties are common, with NaN and ±inf. */
static float rand_dist(void)
{
	switch (rnd() % 16) {
	case 0:
		return NAN;
	case 1:
		return INFINITY;
	case 2:
		return -INFINITY;
	case 3:
		return -0.0f;
	}
	return (float)(int)(rnd() % 50) - 10.0f;
}

static void test_topk_random(void)
{
	enum { N = 700 };
	static rvf_topk_item all[N], ref[N], store[N + 5];
	static const size_t ks[] = {0, 1, 2, 7, 64, 699, 700, 705};

	for (int rep = 0; rep < 40; rep++) {
		size_t n = rep == 0 ? 0 : 1 + rnd() % N;

		for (size_t i = 0; i < n; i++) {
			all[i].id = rnd() % (n + 1); /* duplicate ids too */
			all[i].dist = rand_dist();
		}
		memcpy(ref, all, n * sizeof *all);
		qsort(ref, n, sizeof *ref, cmp_item);
		for (size_t i = 1; i < n; i++)
			CU_ASSERT(rvf_topk_cmp(&ref[i - 1], &ref[i]) <= 0);
		for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
			rvf_topk t;
			size_t k = ks[ki], want = k < n ? k : n;

			rvf_topk_init(&t, k, store);
			for (size_t i = 0; i < n; i++) {
				float b = rvf_topk_bound(&t);
				bool kept = rvf_topk_push(&t, all[i].id, all[i].dist);

				/* strictly worse than the bound is never kept */
				if (all[i].dist > b)
					CU_ASSERT(!kept);
			}
			CU_ASSERT_EQUAL_FATAL(rvf_topk_finish(&t), want);
			for (size_t i = 0; i < want; i++)
				CU_ASSERT(same_item(&store[i], &ref[i]));
		}
		/* rvf_topk_sort agrees with qsort too */
		memcpy(store, all, n * sizeof *all);
		rvf_topk_sort(store, n);
		for (size_t i = 0; i < n; i++)
			CU_ASSERT(same_item(&store[i], &ref[i]));
	}
}

static void test_topk_nan(void)
{
	rvf_topk_item st[3];
	rvf_topk t;

	rvf_topk_init(&t, 3, st);
	CU_ASSERT(rvf_topk_push(&t, 5, NAN));
	CU_ASSERT(rvf_topk_push(&t, 4, NAN));
	CU_ASSERT(rvf_topk_push(&t, 9, INFINITY));
	CU_ASSERT(isnan(rvf_topk_bound(&t)));
	CU_ASSERT(rvf_topk_push(&t, 1, 3.0f)); /* evicts NaN id 5 */
	CU_ASSERT(!rvf_topk_push(&t, 6, NAN)); /* NaN id 6 ranks after NaN id 4 */
	CU_ASSERT(rvf_topk_push(&t, 8, INFINITY)); /* evicts NaN id 4 */
	CU_ASSERT_EQUAL(rvf_topk_bound(&t), INFINITY);
	CU_ASSERT(!rvf_topk_push(&t, 10, INFINITY)); /* tie, larger id */
	CU_ASSERT(rvf_topk_push(&t, 2, 1e30f));
	CU_ASSERT(rvf_topk_push(&t, 3, -1.0f));
	CU_ASSERT_EQUAL(rvf_topk_bound(&t), 1e30f);
	CU_ASSERT(!rvf_topk_push(&t, 0, NAN));
	CU_ASSERT_EQUAL(rvf_topk_finish(&t), 3);
	CU_ASSERT(st[0].id == 3 && st[1].id == 1 && st[2].id == 2);

	rvf_topk_init(&t, 0, NULL);
	CU_ASSERT(!rvf_topk_push(&t, 1, 0.0f));
	CU_ASSERT_EQUAL(rvf_topk_finish(&t), 0);
}

RVF_SUITE(distance, {"hand_values", test_hand_values}, {"cosine_zero", test_cosine_zero},
	  {"exact_sequential", test_exact_sequential}, {"batch_scalar", test_batch_scalar},
	  {"batch_avx2", test_batch_avx2}, {"batch_avx512", test_batch_avx512},
	  {"batch_scalar_bits", test_batch_scalar_bits}, {"batch_misc", test_batch_misc},
	  {"topk_random", test_topk_random}, {"topk_nan", test_topk_nan})
