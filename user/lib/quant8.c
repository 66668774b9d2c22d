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
	int ok = dim <= RVF_XDP_MAX_DIM && metric != RVF_METRIC_IP;
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
	p->xdp_ok = ok;
	return 0;
}

void quant8_params_free(quant8_params *p)
{
	free(p->off);
	free(p->off_fx);
	p->off = NULL;
	p->off_fx = NULL;
}

int quant8_fill_xdp(const quant8_params *p, struct rvf_xdp_quant *out)
{
	memset(out, 0, sizeof *out);
	if (!p->xdp_ok || p->dim > RVF_XDP_MAX_DIM)
		return -EINVAL;
	out->scale_bits = f2u(p->scale);
	out->dist_bits = f2u(p->factor);
	out->dim = p->dim;
	for (uint32_t d = 0; d < p->dim; d++)
		out->off[d] = p->off_fx[d];
	return 0;
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
	if (e == 255)
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
	for (uint32_t t = 0; t < RVF_PACK3_WORDS(dim); t++) {
		uint64_t a = u[3 * t], b = 3 * t + 1 < dim ? u[3 * t + 1] : 0,
			 c = 3 * t + 2 < dim ? u[3 * t + 2] : 0;
		w[t] = a | b << 22 | c << 44;
	}
}

void quant8_pack3_query(const uint8_t *u, uint32_t dim, uint64_t *qw)
{
	for (uint32_t t = 0; t < RVF_PACK3_WORDS(dim); t++) {
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

void quant8_vec_entry(const uint8_t *u, uint32_t dim, uint64_t id, void *out)
{
	struct rvf_xdp_vec_hdr h = {.id = id, .norm = quant8_norm(u, dim), .pad = 0};
	memcpy(out, &h, sizeof h);
	quant8_pack3(u, dim, (uint64_t *)((char *)out + sizeof h));
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
	for (uint32_t t = 0; t < RVF_PACK3_WORDS(dim); t++)
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
