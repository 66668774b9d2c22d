/* quant8.c — the int8 quantizer of the XDP fast path (see quant8.h). */
#include "quant8.h"
#include "rvf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

void quant8_normalize(float *v, uint32_t dim)
{
	double s = 0;
	for (uint32_t d = 0; d < dim; d++)
		s += (double)v[d] * v[d];
	if (s <= 0)
		return;
	float inv = (float)(1.0 / sqrt(s));
	for (uint32_t d = 0; d < dim; d++)
		v[d] *= inv;
}

int64_t quant8_fx(uint32_t mag, int neg, int32_t shift)
{
	uint64_t x;
	if (mag == 0)
		return 0;
	if (shift >= 31)
		x = 1ull << 62;
	else if (shift >= 0)
		x = (uint64_t)mag << shift;
	else if (shift > -64)
		x = (uint64_t)mag >> -shift;
	else
		x = 0;
	return neg ? -(int64_t)x : (int64_t)x;
}

/* f32 -> fixed point; -EDOM for inf/nan. */
static int fx_f32(uint32_t b, int32_t scale_exp, int64_t *out)
{
	uint32_t e = (b >> 23) & 0xff, m = b & 0x7fffff;
	if (e == 255)
		return -EDOM;
	if (e)
		m |= 0x800000;
	else
		e = 1;
	*out = quant8_fx(m, (int)(b >> 31), (int32_t)e - scale_exp + 1);
	return 0;
}

uint8_t quant8_round(int64_t d, uint64_t S)
{
	uint64_t a = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	uint64_t r = 127;
	if (a < 128 * S) {
		r = (2 * a + S) / (2 * S);
		if (r > 127)
			r = 127;
	}
	return (uint8_t)(d < 0 ? 128 - r : 128 + r);
}

int quant8_params_init(quant8_params *p, const float *vecs, size_t n, uint32_t dim, int metric)
{
	memset(p, 0, sizeof *p);
	if (dim == 0 || (n && !vecs))
		return -EINVAL;
	p->dim = dim;
	p->metric = metric;
	p->off = calloc(dim, sizeof *p->off);
	p->off_fx = calloc(dim, sizeof *p->off_fx);
	float *tmp = metric == RVF_METRIC_COSINE ? malloc(dim * sizeof(float)) : NULL;
	if (!p->off || !p->off_fx || (metric == RVF_METRIC_COSINE && !tmp)) {
		free(tmp);
		quant8_params_free(p);
		return -ENOMEM;
	}
	float *lo = calloc(dim, sizeof(float)), *hi = calloc(dim, sizeof(float));
	if (!lo || !hi) {
		free(lo);
		free(hi);
		free(tmp);
		quant8_params_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const float *v = vecs + i * dim;
		if (tmp) {
			memcpy(tmp, v, dim * sizeof(float));
			quant8_normalize(tmp, dim);
			v = tmp;
		}
		for (uint32_t d = 0; d < dim; d++) {
			if (!isfinite(v[d]))
				continue;
			if (i == 0 || v[d] < lo[d])
				lo[d] = v[d];
			if (i == 0 || v[d] > hi[d])
				hi[d] = v[d];
		}
	}
	double maxabs = 0;
	for (uint32_t d = 0; d < dim; d++) {
		p->off[d] = (float)(((double)lo[d] + hi[d]) / 2);
		double a = fmax(fabs((double)hi[d] - p->off[d]), fabs((double)lo[d] - p->off[d]));
		if (a > maxabs)
			maxabs = a;
	}
	free(lo);
	free(hi);
	free(tmp);
	p->scale = (float)(maxabs / 127.0);
	if (!(p->scale >= 0x1p-126f) || !isfinite(p->scale)) /* guard scale > 0, normal */
		p->scale = maxabs > 0 ? 0x1p-126f : 1.0f;
	uint32_t sb = f2u(p->scale);
	p->scale_exp = (int32_t)((sb >> 23) & 0xff);
	p->S = 2ull * ((sb & 0x7fffff) | 0x800000);
	double f = (double)p->scale * p->scale;
	if (metric == RVF_METRIC_COSINE)
		f /= 2;
	p->factor = (float)f;
	int ok = metric != RVF_METRIC_IP;
	for (uint32_t d = 0; d < dim; d++) {
		if (fx_f32(f2u(p->off[d]), p->scale_exp, &p->off_fx[d]) ||
		    p->off_fx[d] >= (1ll << 50) || p->off_fx[d] <= -(1ll << 50))
			ok = 0;
	}
	/* The integer float builder needs a normal factor with room both ways:
	 * int L2 < 2^26 and results must stay normal. */
	uint32_t fe = (f2u(p->factor) >> 23) & 0xff;
	if (fe < 24 || fe > 200)
		ok = 0;
	p->fx_ok = ok;
	return 0;
}

void quant8_params_free(quant8_params *p)
{
	free(p->off);
	free(p->off_fx);
	p->off = NULL;
	p->off_fx = NULL;
}

int quant8_quantize_raw(const quant8_params *p, const float *x, uint8_t *u)
{
	for (uint32_t d = 0; d < p->dim; d++) {
		int64_t X;
		if (fx_f32(f2u(x[d]), p->scale_exp, &X))
			return -EDOM;
		u[d] = quant8_round(X - p->off_fx[d], p->S);
	}
	return 0;
}

int quant8_quantize(const quant8_params *p, const float *x, uint8_t *u)
{
	if (p->metric != RVF_METRIC_COSINE)
		return quant8_quantize_raw(p, x, u);
	float *tmp = malloc(p->dim * sizeof(float));
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, x, p->dim * sizeof(float));
	quant8_normalize(tmp, p->dim);
	int err = quant8_quantize_raw(p, tmp, u);
	free(tmp);
	return err;
}

int quant8_quantize_i8(const quant8_params *p, const int8_t *i, float qscale, uint8_t *u)
{
	uint32_t b = f2u(qscale), e = (b >> 23) & 0xff, m = b & 0x7fffff;
	if (e == 255 || (int32_t)b <= 0)
		return -EDOM;
	if (e)
		m |= 0x800000;
	else
		e = 1;
	for (uint32_t d = 0; d < p->dim; d++) {
		int v = i[d];
		uint32_t a = (uint32_t)(v < 0 ? -v : v);
		int64_t X = quant8_fx(a * m, (v < 0) ^ (int)(b >> 31), (int32_t)e - p->scale_exp + 1);
		u[d] = quant8_round(X - p->off_fx[d], p->S);
	}
	return 0;
}

void quant8_pack3(const uint8_t *u, uint32_t dim, uint64_t *w)
{
	for (uint32_t t = 0; t < QUANT8_PACK3_WORDS(dim); t++) {
		uint64_t a = u[3 * t], b = 3 * t + 1 < dim ? u[3 * t + 1] : 0,
			 c = 3 * t + 2 < dim ? u[3 * t + 2] : 0;
		w[t] = a | b << 22 | c << 44;
	}
}

void quant8_pack3_query(const uint8_t *u, uint32_t dim, uint64_t *qw)
{
	for (uint32_t t = 0; t < QUANT8_PACK3_WORDS(dim); t++) {
		uint64_t a = u[3 * t], b = 3 * t + 1 < dim ? u[3 * t + 1] : 0,
			 c = 3 * t + 2 < dim ? u[3 * t + 2] : 0;
		qw[t] = c | b << 22 | a << 44;
	}
}

uint32_t quant8_norm(const uint8_t *u, uint32_t dim)
{
	uint32_t s = 0;
	for (uint32_t d = 0; d < dim; d++)
		s += (uint32_t)u[d] * u[d];
	return s;
}

void quant8_bin(const uint8_t *u, uint32_t dim, uint64_t *b)
{
	memset(b, 0, QUANT8_BIN_WORDS(dim) * sizeof *b);
	for (uint32_t d = 0; d < dim; d++)
		b[d >> 6] |= (uint64_t)(u[d] >> 7) << (d & 63);
}

uint32_t quant8_hamming(const uint64_t *a, const uint64_t *b, uint32_t dim)
{
	uint32_t h = 0;
	for (uint32_t t = 0; t < QUANT8_BIN_WORDS(dim); t++)
		h += (uint32_t)__builtin_popcountll(a[t] ^ b[t]);
	return h;
}

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Keeps the k smallest keys of tmp[0..m) in keys (sorted); returns the count. */
static uint32_t smallest(uint64_t *tmp, uint32_t m, uint32_t k, uint64_t *keys)
{
	qsort(tmp, m, sizeof *tmp, cmp_key);
	uint32_t c = m < k ? m : k;
	memcpy(keys, tmp, c * sizeof *keys);
	return c;
}

int quant8_exact_topk(const uint8_t *base, uint32_t n, uint32_t dim, const uint8_t *qu, uint32_t k,
		      uint64_t *keys)
{
	uint64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
	if (!tmp)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		tmp[i] = (uint64_t)quant8_l2(qu, base + (size_t)i * dim, dim) << 32 | i;
	uint32_t c = smallest(tmp, n, k, keys);
	free(tmp);
	return (int)c;
}

int quant8_bin_topk(const uint8_t *base, uint32_t n, uint32_t dim, const uint32_t *ranges,
		    uint32_t nranges, const uint8_t *qu, uint32_t R, uint32_t k, uint64_t *keys)
{
	uint32_t bw = QUANT8_BIN_WORDS(dim), m = 0;
	uint64_t *tmp = malloc((n ? n : 1) * sizeof *tmp), *qb = malloc(bw * 8), *vb = malloc(bw * 8);
	uint64_t *cand = malloc((R ? R : 1) * sizeof *cand);
	int ret = -1;
	if (!tmp || !qb || !vb || !cand)
		goto out;
	quant8_bin(qu, dim, qb);
	uint32_t all[2] = {0, n};
	if (!nranges) {
		ranges = all;
		nranges = 1;
	}
	for (uint32_t j = 0; j < nranges; j++)
		for (uint32_t i = ranges[2 * j]; i < ranges[2 * j + 1] && i < n; i++) {
			quant8_bin(base + (size_t)i * dim, dim, vb);
			tmp[m++] = (uint64_t)quant8_hamming(qb, vb, dim) << 32 | i;
		}
	uint32_t nc = smallest(tmp, m, R, cand);
	for (uint32_t j = 0; j < nc; j++) {
		uint32_t i = (uint32_t)cand[j];
		cand[j] = (uint64_t)quant8_l2(qu, base + (size_t)i * dim, dim) << 32 | i;
	}
	ret = (int)smallest(cand, nc, k, keys);
out:
	free(tmp);
	free(qb);
	free(vb);
	free(cand);
	return ret;
}

uint32_t quant8_l2(const uint8_t *a, const uint8_t *b, uint32_t dim)
{
	uint32_t s = 0;
	for (uint32_t d = 0; d < dim; d++) {
		int x = (int)a[d] - (int)b[d];
		s += (uint32_t)(x * x);
	}
	return s;
}

uint32_t quant8_l2_pack3(const uint64_t *w, uint32_t vnorm, const uint64_t *qw, uint32_t qnorm,
			 uint32_t dim)
{
	uint64_t dot = 0;
	for (uint32_t t = 0; t < QUANT8_PACK3_WORDS(dim); t++)
		dot += (w[t] * qw[t]) >> 44;
	return (uint32_t)(vnorm + qnorm - 2 * dot);
}

float quant8_dist(const quant8_params *p, uint32_t l2)
{
	return (float)((double)l2 * (double)p->factor);
}

uint32_t quant8_dist_bits(uint32_t l2, uint32_t fb)
{
	uint64_t P = (uint64_t)l2 * ((fb & 0x7fffff) | 0x800000);
	int32_t fe = (int32_t)((fb >> 23) & 0xff);
	if (P == 0)
		return 0;
	int msb = 63;
	while (!(P >> msb))
		msb--;
	uint64_t m;
	if (msb > 23) {
		int sh = msb - 23;
		uint64_t rem = P & ((1ull << sh) - 1), half = 1ull << (sh - 1);
		m = P >> sh;
		if (rem > half || (rem == half && (m & 1)))
			m++;
		if (m == (1ull << 24)) {
			m >>= 1;
			msb++;
		}
	} else {
		m = P << (23 - msb);
	}
	uint32_t e = (uint32_t)(fe + msb - 23);
	return e << 23 | (uint32_t)(m & 0x7fffff);
}

int quant8_bin_calibrate(const uint8_t *u, uint32_t m, uint32_t dim, uint32_t nq, uint32_t k,
			 double target, const uint32_t *Rs, int nR, double *recall)
{
	uint32_t bw = QUANT8_BIN_WORDS(dim), rmax = 0;
	int ret = -1;
	if (nR <= 0 || nR > 8 || m < 2 || k == 0)
		return 0;
	for (int j = 0; j < nR; j++)
		rmax = Rs[j] > rmax ? Rs[j] : rmax;
	if (nq > m)
		nq = m;
	uint64_t *codes = malloc((size_t)m * bw * 8), *hk = malloc((size_t)m * 8),
		 *ek = malloc((size_t)m * 8), *c = malloc((size_t)(rmax + 1) * 8);
	double sum[8] = {0};
	if (!codes || !hk || !ek || !c)
		goto out;
	for (uint32_t i = 0; i < m; i++)
		quant8_bin(u + (size_t)i * dim, dim, codes + (size_t)i * bw);
	for (uint32_t qi = 0; qi < nq; qi++) {
		uint32_t q = (uint32_t)((uint64_t)qi * m / nq), n = 0;
		const uint8_t *qu = u + (size_t)q * dim;
		for (uint32_t i = 0; i < m; i++) {
			if (i == q)
				continue;
			hk[n] = (uint64_t)quant8_hamming(codes + (size_t)q * bw, codes + (size_t)i * bw, dim)
					<< 32 | i;
			ek[n++] = (uint64_t)quant8_l2(qu, u + (size_t)i * dim, dim) << 32 | i;
		}
		qsort(hk, n, 8, cmp_key);
		qsort(ek, n, 8, cmp_key);
		uint32_t kk = k < n ? k : n;
		for (int j = 0; j < nR; j++) {
			uint32_t R = Rs[j] < n ? Rs[j] : n, hit = 0;
			for (uint32_t t = 0; t < R; t++) {
				uint32_t i = (uint32_t)hk[t];
				c[t] = (uint64_t)quant8_l2(qu, u + (size_t)i * dim, dim) << 32 | i;
			}
			qsort(c, R, 8, cmp_key);
			for (uint32_t a = 0; a < kk && a < R; a++)
				for (uint32_t b = 0; b < kk; b++)
					hit += (uint32_t)c[a] == (uint32_t)ek[b];
			sum[j] += (double)hit / kk;
		}
	}
	ret = 0;
	for (int j = nR - 1; j >= 0; j--) {
		if (recall)
			recall[j] = sum[j] / nq;
		if (sum[j] / nq >= target)
			ret = (int)Rs[j];
	}
out:
	free(codes);
	free(hk);
	free(ek);
	free(c);
	return ret;
}
