/* bruteforce.c — see bruteforce.h. Deliberately naive: one straight loop per
 * metric, no SIMD, no reordering, so the f32 rounding sequence is exactly the
 * one §17 specifies (the build uses -std=c11, which disables FP contraction,
 * so no fused multiply-add is formed). */
#include "bruteforce.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

float bf_distance(rvf_metric m, const float *q, const float *v, uint32_t dim)
{
	switch (m) {
	case RVF_METRIC_IP: {
		float dot = 0.0f;
		for (uint32_t i = 0; i < dim; i++) {
			float p = q[i] * v[i];
			dot = dot + p;
		}
		return -dot;
	}
	case RVF_METRIC_COSINE: {
		float dot = 0.0f, qq = 0.0f, vv = 0.0f;
		for (uint32_t i = 0; i < dim; i++) {
			float a = q[i], b = v[i];
			float ab = a * b, aa = a * a, bb = b * b;
			dot = dot + ab;
			qq = qq + aa;
			vv = vv + bb;
		}
		float prod = qq * vv;
		float denom = sqrtf(prod);
		if (denom < FLT_EPSILON)
			return 1.0f;
		float c = dot / denom;
		return 1.0f - c;
	}
	case RVF_METRIC_L2:
	default: {
		float s = 0.0f;
		for (uint32_t i = 0; i < dim; i++) {
			float d = q[i] - v[i];
			float dd = d * d;
			s = s + dd;
		}
		return s;
	}
	}
}

int bf_hit_cmp(const void *a, const void *b)
{
	const rvf_hit *x = a, *y = b;
	int xn = isnan(x->distance), yn = isnan(y->distance);
	if (xn != yn)
		return xn - yn;
	if (!xn) {
		if (x->distance < y->distance)
			return -1;
		if (x->distance > y->distance)
			return 1;
	}
	return (x->id > y->id) - (x->id < y->id);
}

int bf_same_bits(float a, float b)
{
	uint32_t x, y;
	memcpy(&x, &a, 4);
	memcpy(&y, &b, 4);
	return x == y;
}

size_t bf_topk(rvf_metric m, uint32_t dim, const uint64_t *ids, const float *const *vecs,
	       size_t n, const float *q, size_t k, rvf_hit *out)
{
	if (n == 0 || k == 0)
		return 0;
	rvf_hit *all = malloc(n * sizeof *all);
	if (!all)
		abort();
	for (size_t i = 0; i < n; i++) {
		all[i].id = ids[i];
		all[i].distance = bf_distance(m, q, vecs[i], dim);
	}
	qsort(all, n, sizeof *all, bf_hit_cmp);
	size_t nout = k < n ? k : n;
	memcpy(out, all, nout * sizeof *out);
	free(all);
	return nout;
}

size_t bf_topk_store(const rvf_store *s, const float *q, size_t k, rvf_hit *out)
{
	uint64_t n = rvf_live_count(s);
	if (n == 0)
		return 0;
	uint64_t *ids = malloc(n * sizeof *ids);
	const float **vecs = malloc(n * sizeof *vecs);
	if (!ids || !vecs)
		abort();
	for (uint64_t i = 0; i < n; i++) {
		if (rvf_live_get(s, i, &ids[i], &vecs[i]) != RVF_OK) {
			free(ids);
			free(vecs);
			return (size_t)-1;
		}
	}
	size_t r = bf_topk(rvf_get_metric(s), rvf_dimension(s), ids, vecs, n, q, k, out);
	free(ids);
	free(vecs);
	return r;
}
