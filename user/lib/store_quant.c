/* store_quant.c — SQ8 and 1-bit codes of the store's slots, persisted as a
 * QUANT_SEG (rvf-format.md §18.4), and the quantized search of rvf_query_ex.
 *
 * The quantizer is quant8.h's, unchanged: per-dimension offset (midrange),
 * one global scale, offset-binary u8 codes, and quant8_bin's 1-bit codes
 * (bit d = int8 value >= 0). The codes of a store are therefore exactly what
 * the loader puts in the XDP maps for the same vector set.
 *
 * QUANT_SEG payload (little endian), written by rvf_quantize:
 *   0   u8   quant_type   0 scalar (SQ8), 2 binary
 *   1   u8   tier         0 (hot)
 *   2   u16  dim
 *   4   60   zero
 *   64  dim x f32  minimums  (per dimension, over the live vectors; for
 *                              cosine stores over the normalized vectors)
 *   64+4*dim dim x f32 maximums
 *   64+8*dim  32-byte extension (ours):
 *       +0  "RVQ8"   +4 u16 version (1)   +6 u8 metric   +7 u8 flags (0)
 *       +8  u32 scale (f32 bits)   +12 u32 distance factor (f32 bits)
 *       +16 u64 vectors the range was computed over   +24 u64 zero
 * The body is §18.4's scalar body (minimums, then maximums) for both types:
 * the binary code is the sign of the int8 code, so it needs the offsets too
 * (§18.4 gives binary no body; readers skip QUANT_SEG anyway). quant8's
 * parameters are a function of the range: offset = midrange, scale =
 * max |x - offset| / 127; they are recomputed at open with
 * quant8_params_init over the two rows {min, max} (the same min/max as over
 * the vectors) and the stored scale must match bit for bit.
 *
 * Codes are not persisted: they are derived at open (sq8_encode, ~1/5 of
 * the open time of a 100k x 128 store, see bench/results/quant.md), so the
 * segment never goes stale: ingest encodes new and upserted vectors with the
 * existing parameters (values beyond the range saturate at +-127 until the
 * next rvf_quantize), deletes just hide slots, compaction moves the codes
 * and keeps the QUANT_SEG (listed, copied verbatim). A damaged or foreign
 * QUANT_SEG is ignored with a warning (rvf_open_warning): quantized queries
 * then take the exact scan; the open never fails because of it.
 *
 * Search (opts.quant): every live slot passing the filter is scored on its
 * codes (SQ8: exact int8 L2 through the VNNI dot, or -dot with the query on
 * its own int8 scale for IP; binary: hamming), the `rerank` best (default
 * 4k) are kept and reranked with rvf_dist_exact, sorted by (distance, id):
 * the distances returned are the exact scan's, bit for bit.
 */
#include "distance.h"
#include "errors.h"
#include "sq8.h"
#include "store.h"
#include "topk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QS_HDR 64
#define QS_EXT 32
#define QS_MAGIC "RVQ8"
#define QS_VERSION 1
#define QS_CHUNK 1024

struct store_quant {
	int type; /* RVF_QUANT_SQ8 / RVF_QUANT_BINARY */
	quant8_params p;
	float *lo, *hi;  /* the persisted range */
	uint64_t nrange; /* vectors it was computed over */
	size_t cstride;  /* SQ8_STRIDE(dim) */
	uint32_t bw;     /* QUANT8_BIN_WORDS(dim) */
	uint8_t *codes;  /* slot -> cstride bytes */
	int32_t *cconst; /* slot -> sq8_row_const */
	uint64_t *bins;  /* slot -> bw words */
	float *tmp;      /* dim floats: normalized copy (cosine, writers only) */
	size_t n, cap;   /* slots encoded */
};

static void qs_free(struct store_quant *x)
{
	if (!x)
		return;
	quant8_params_free(&x->p);
	free(x->lo);
	free(x->hi);
	free(x->codes);
	free(x->cconst);
	free(x->bins);
	free(x->tmp);
	free(x);
}

void store_quant_free(rvf_store *s)
{
	qs_free(s->quant);
	s->quant = NULL;
}

static void qs_warn(rvf_store *s, const char *fmt, const char *detail)
{
	if (s->warning[0])
		return;
	snprintf(s->warning, sizeof s->warning, fmt, s->path, detail);
}

static uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* quant8 parameters of a range: quant8_params_init over {lo, hi} (which has
 * the same per-dimension min / max as the vectors themselves). Cosine data
 * was normalized before the range was taken, so it is passed as L2 and the
 * metric and factor are set afterwards. */
static int params_from_range(quant8_params *p, const float *lo, const float *hi, uint32_t dim, int metric)
{
	float *two = malloc(2 * (size_t)dim * sizeof *two);
	if (!two)
		return -1;
	memcpy(two, lo, dim * sizeof *two);
	memcpy(two + dim, hi, dim * sizeof *two);
	int r = quant8_params_init(p, two, 2, dim, metric == RVF_METRIC_IP ? RVF_METRIC_IP : RVF_METRIC_L2);
	free(two);
	if (r)
		return -1;
	if (metric == RVF_METRIC_COSINE) {
		p->metric = RVF_METRIC_COSINE;
		p->factor = (float)((double)p->scale * p->scale / 2);
		uint32_t fe = (f2u(p->factor) >> 23) & 0xff;
		if (fe < 24 || fe > 200)
			p->fx_ok = 0;
	}
	return 0;
}

static struct store_quant *qs_new(const rvf_store *s, int type, const float *lo, const float *hi, uint64_t nrange)
{
	struct store_quant *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->type = type;
	x->nrange = nrange;
	x->cstride = SQ8_STRIDE(s->dim);
	x->bw = QUANT8_BIN_WORDS(s->dim);
	x->lo = malloc(s->dim * sizeof(float));
	x->hi = malloc(s->dim * sizeof(float));
	x->tmp = malloc(s->dim * sizeof(float));
	if (!x->lo || !x->hi || !x->tmp || params_from_range(&x->p, lo, hi, s->dim, (int)s->metric)) {
		qs_free(x);
		return NULL;
	}
	memcpy(x->lo, lo, s->dim * sizeof(float));
	memcpy(x->hi, hi, s->dim * sizeof(float));
	return x;
}

static int qs_reserve(struct store_quant *x, size_t n)
{
	if (n <= x->cap)
		return 0;
	size_t cap = x->cap ? x->cap : 1024;
	while (cap < n)
		cap *= 2;
	uint8_t *c = realloc(x->codes, cap * x->cstride);
	if (!c)
		return -1;
	x->codes = c;
	int32_t *cc = realloc(x->cconst, cap * sizeof *cc);
	if (!cc)
		return -1;
	x->cconst = cc;
	uint64_t *b = realloc(x->bins, cap * x->bw * sizeof *b);
	if (!b)
		return -1;
	x->bins = b;
	x->cap = cap;
	return 0;
}

/* Codes of one slot (x->cap > slot). */
static void qs_encode(const rvf_store *s, struct store_quant *x, size_t slot)
{
	const float *v = s->vecs + slot * s->stride;
	uint8_t *u = x->codes + slot * x->cstride;
	if (s->metric == RVF_METRIC_COSINE) {
		memcpy(x->tmp, v, s->dim * sizeof(float));
		quant8_normalize(x->tmp, s->dim);
		v = x->tmp;
	}
	if (sq8_encode(&x->p, v, u))
		memset(u, 128, s->dim); /* inf/nan: never stored (ingest rejects them) */
	memset(u + s->dim, 0, x->cstride - s->dim);
	x->cconst[slot] = sq8_row_const(u, s->dim);
	quant8_bin(u, s->dim, x->bins + slot * x->bw);
}

static int qs_encode_all(const rvf_store *s, struct store_quant *x)
{
	if (qs_reserve(x, s->nslots))
		return -1;
	for (size_t i = 0; i < s->nslots; i++)
		qs_encode(s, x, i);
	x->n = s->nslots;
	return 0;
}

/* ---- open -------------------------------------------------------------- */

static const char *load_quant(rvf_store *s, const rvf_dir_entry *e)
{
	if (e->offset > s->map_len || s->map_len - e->offset < RVF_SEG_HDR_SIZE)
		return "segment outside the file";
	rvf_seg_hdr h;
	rvf_hdr_decode(s->map + e->offset, &h);
	if (h.magic != RVF_SEG_MAGIC || h.seg_type != RVF_SEG_QUANT ||
	    h.payload_length > s->map_len - e->offset - RVF_SEG_HDR_SIZE)
		return "no complete QUANT segment at the listed offset";
	const uint8_t *p = s->map + e->offset + RVF_SEG_HDR_SIZE;
	uint64_t len = h.payload_length, dim = s->dim;
	if (!rvf_content_hash_ok(h.content_hash, p, len))
		return "content hash mismatch";
	if (len < QS_HDR || rd16(p + 2) != dim || dim == 0)
		return "its dimension differs from the store's";
	if (p[0] != 0 && p[0] != 2)
		return "quantizer type not supported (only scalar and binary)";
	if (len != QS_HDR + 8 * dim + QS_EXT || memcmp(p + QS_HDR + 8 * dim, QS_MAGIC, 4))
		return "not written by this library (no RVQ8 extension)";
	const uint8_t *ext = p + QS_HDR + 8 * dim;
	if (rd16(ext + 4) != QS_VERSION || ext[6] != (uint8_t)s->metric)
		return "version or metric mismatch";
	float *lo = malloc(dim * sizeof *lo), *hi = malloc(dim * sizeof *hi);
	const char *why = NULL;
	if (!lo || !hi)
		why = "out of memory";
	for (uint64_t d = 0; !why && d < dim; d++) {
		uint32_t a = rd32(p + QS_HDR + 4 * d), b = rd32(p + QS_HDR + 4 * dim + 4 * d);
		memcpy(&lo[d], &a, 4);
		memcpy(&hi[d], &b, 4);
		if (!isfinite(lo[d]) || !isfinite(hi[d]) || lo[d] > hi[d])
			why = "invalid range";
	}
	struct store_quant *x = NULL;
	if (!why && !(x = qs_new(s, p[0] == 2 ? RVF_QUANT_BINARY : RVF_QUANT_SQ8, lo, hi, rd64(ext + 16))))
		why = "out of memory";
	free(lo);
	free(hi);
	if (!why && f2u(x->p.scale) != rd32(ext + 8))
		why = "stored scale does not match its range";
	if (!why && qs_encode_all(s, x))
		why = "out of memory encoding the vectors";
	if (why) {
		qs_free(x);
		return why;
	}
	s->quant = x;
	return NULL;
}

int store_quant_open(rvf_store *s)
{
	const rvf_dir_entry *e = NULL;
	for (size_t i = 0; i < s->ndir; i++)
		if (s->dir[i].seg_type == RVF_SEG_QUANT && (!e || s->dir[i].offset > e->offset))
			e = &s->dir[i];
	if (!e)
		return 0;
	const char *why = load_quant(s, e);
	if (why)
		qs_warn(s, "%s: QUANT segment ignored (%s); quantized queries use the exact scan "
			   "(rvf quantize rewrites it)", why);
	return 0;
}

/* ---- ingest / compaction ------------------------------------------------- */

int store_quant_ingested(rvf_store *s, size_t first_new_slot, const uint32_t *upserted, size_t nups)
{
	struct store_quant *x = s->quant;
	if (!x)
		return 0;
	if (x->n < first_new_slot || qs_reserve(x, s->nslots)) {
		/* The commit is done; codes missing vectors would miss results. */
		store_quant_free(s);
		snprintf(s->warning, sizeof s->warning,
			 "%s: out of memory updating the quantized codes; they were dropped "
			 "(quantized queries use the exact scan until reopen)", s->path);
		return 0;
	}
	for (size_t slot = first_new_slot; slot < s->nslots; slot++)
		qs_encode(s, x, slot);
	x->n = s->nslots;
	for (size_t i = 0; i < nups; i++)
		if (upserted[i] < x->n)
			qs_encode(s, x, upserted[i]);
	return 0;
}

int store_quant_compacted(rvf_store *s, const uint32_t *remap, size_t nold)
{
	struct store_quant *x = s->quant;
	if (!x)
		return 0;
	size_t w = 0;
	/* remap is increasing over survivors (new <= old): move forward in place */
	for (size_t i = 0; i < nold && i < x->n; i++) {
		if (remap[i] == META_SLOT_NONE)
			continue;
		size_t t = remap[i];
		if (t != i) {
			memmove(x->codes + t * x->cstride, x->codes + i * x->cstride, x->cstride);
			x->cconst[t] = x->cconst[i];
			memmove(x->bins + t * x->bw, x->bins + i * x->bw, x->bw * sizeof *x->bins);
		}
		w = t + 1;
	}
	x->n = w;
	return 0;
}

/* ---- query --------------------------------------------------------------- */

/* Max-heap of keys score << 32 | slot. */
static void heap_push(uint64_t *h, size_t *n, size_t cap, uint64_t key)
{
	size_t i;
	if (*n < cap) {
		i = (*n)++;
		while (i && h[(i - 1) / 2] < key) {
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = key;
		return;
	}
	if (key >= h[0])
		return;
	i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t mv = key;
		if (l < cap && h[l] > mv) {
			m = l;
			mv = h[l];
		}
		if (r < cap && h[r] > mv)
			m = r;
		if (m == i)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = key;
}

int store_quant_query(const rvf_store *s, const float *q, const rvf_query_opts *o, size_t k, rvf_hit *out,
		      size_t *nout)
{
	const struct store_quant *x = s->quant;
	*nout = 0;
	if (o->quant != RVF_QUANT_SQ8 && o->quant != RVF_QUANT_BINARY)
		return rvf_fail(RVF_E_ARG, "query: quant must be 1 (sq8) or 2 (binary), got %d", o->quant);
	if (!x || x->n < s->nslots || s->nslots > UINT32_MAX)
		return 1;
	size_t live = s->nslots - s->ndeleted;
	size_t R = o->rerank ? o->rerank : 4 * k;
	if (R < k)
		R = k;
	if (R > live)
		R = live;
	if (o->info)
		o->info->rerank = (uint32_t)(R > UINT32_MAX ? UINT32_MAX : R);
	uint32_t dim = s->dim;
	int ip = s->metric == RVF_METRIC_IP;
	uint8_t *uq = malloc(x->cstride);
	int8_t *sq = calloc(x->cstride, 1);
	uint64_t *qb = calloc(x->bw, sizeof *qb);
	uint64_t *heap = malloc((R ? R : 1) * sizeof *heap);
	int32_t *dots = malloc(QS_CHUNK * sizeof *dots);
	uint32_t *ham = malloc(QS_CHUNK * sizeof *ham);
	rvf_topk_item *items = malloc((R ? R : 1) * sizeof *items);
	int err = 0;
	if (!uq || !sq || !qb || !heap || !dots || !ham || !items) {
		err = rvf_fail(RVF_E_NOMEM, "out of memory");
		goto out;
	}
	uint32_t nq = 0;
	if (!ip) {
		if (quant8_quantize(&x->p, q, uq)) {
			err = rvf_fail(RVF_E_NOMEM, "out of memory");
			goto out;
		}
		for (uint32_t d = 0; d < dim; d++)
			sq[d] = (int8_t)((int)uq[d] - 128);
		nq = quant8_norm(uq, dim);
		quant8_bin(uq, dim, qb);
	} else {
		/* -dot(q, off + scale (u - 128)) ranks like -sum q[d] u[d]: the query
		 * on its own int8 scale; its 1-bit code is the sign of q. */
		float m = 0;
		for (uint32_t d = 0; d < dim; d++)
			m = fabsf(q[d]) > m ? fabsf(q[d]) : m;
		for (uint32_t d = 0; d < dim; d++) {
			sq[d] = m > 0 ? (int8_t)lrintf(q[d] / m * 127.0f) : 0;
			if (q[d] >= 0)
				qb[d >> 6] |= 1ull << (d & 63);
		}
	}
	size_t nh = 0;
	const rvf_filter *f = o->filter;
	for (size_t base = 0; base < s->nslots; base += QS_CHUNK) {
		size_t n = s->nslots - base < QS_CHUNK ? s->nslots - base : QS_CHUNK;
		if (o->quant == RVF_QUANT_SQ8)
			sq8_dot_batch(x->codes + base * x->cstride, n, x->cstride, sq, dots);
		else
			sq8_hamming_batch(x->bins + base * x->bw, n, x->bw, qb, ham);
		for (size_t i = 0; i < n; i++) {
			size_t slot = base + i;
			if (s->deleted[slot])
				continue;
			uint32_t score;
			if (o->quant == RVF_QUANT_BINARY)
				score = ham[i];
			else if (ip)
				score = (uint32_t)(0x80000000u - (uint32_t)dots[i]);
			else
				score = (uint32_t)((int64_t)x->cconst[slot] + nq - 2 * (int64_t)dots[i]);
			uint64_t key = (uint64_t)score << 32 | (uint32_t)slot;
			if (nh == R && key >= heap[0])
				continue;
			if (f && !store_slot_matches(s, slot, f))
				continue;
			heap_push(heap, &nh, R, key);
		}
	}
	for (size_t j = 0; j < nh; j++) {
		size_t slot = (uint32_t)heap[j];
		items[j].id = s->ids[slot];
		items[j].dist = rvf_dist_exact((int)s->metric, q, s->vecs + slot * s->stride, dim);
	}
	rvf_topk_sort(items, nh);
	size_t m = k < nh ? k : nh;
	for (size_t j = 0; j < m; j++) {
		out[j].id = items[j].id;
		out[j].distance = items[j].dist;
	}
	*nout = m;
out:
	free(uq);
	free(sq);
	free(qb);
	free(heap);
	free(dots);
	free(ham);
	free(items);
	return err;
}

/* ---- public API ------------------------------------------------------------ */

static size_t drop_quant_entries(rvf_store *s)
{
	size_t w = 0, n = s->ndir;
	for (size_t i = 0; i < n; i++)
		if (s->dir[i].seg_type != RVF_SEG_QUANT)
			s->dir[w++] = s->dir[i];
	s->ndir = w;
	return n - w;
}

int rvf_quantize(rvf_store *s, int type)
{
	rvf_clear_error();
	if (type != RVF_QUANT_SQ8 && type != RVF_QUANT_BINARY)
		return rvf_fail(RVF_E_ARG, "quantize: type must be 1 (sq8) or 2 (binary), got %d", type);
	int err = store_writable(s);
	if (err)
		return err;
	uint32_t dim = s->dim;
	if (dim == 0 || dim > UINT16_MAX || s->nslots > UINT32_MAX)
		return rvf_fail(RVF_E_ARG, "quantize: unsupported store shape");
	float *lo = calloc(dim, sizeof *lo), *hi = calloc(dim, sizeof *hi), *tmp = malloc(dim * sizeof *tmp);
	if (!lo || !hi || !tmp) {
		free(lo);
		free(hi);
		free(tmp);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	/* The range over the live vectors, as quant8_params_init takes it. */
	uint64_t nlive = 0;
	for (size_t i = 0; i < s->nslots; i++) {
		if (s->deleted[i])
			continue;
		const float *v = s->vecs + i * s->stride;
		if (s->metric == RVF_METRIC_COSINE) {
			memcpy(tmp, v, dim * sizeof *tmp);
			quant8_normalize(tmp, dim);
			v = tmp;
		}
		for (uint32_t d = 0; d < dim; d++) {
			if (!isfinite(v[d]))
				continue;
			if (nlive == 0 || v[d] < lo[d])
				lo[d] = v[d];
			if (nlive == 0 || v[d] > hi[d])
				hi[d] = v[d];
		}
		nlive++;
	}
	free(tmp);
	struct store_quant *x = qs_new(s, type, lo, hi, nlive);
	free(lo);
	free(hi);
	if (!x || qs_encode_all(s, x)) {
		qs_free(x);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	size_t len = QS_HDR + 8 * (size_t)dim + QS_EXT;
	seg_batch b = {0};
	uint8_t *p = batch_add_raw(s, &b, RVF_SEG_QUANT, len);
	rvf_dir_entry *saved = malloc((s->ndir ? s->ndir : 1) * sizeof *saved);
	if (!p || !saved) {
		free(saved);
		batch_free(&b);
		qs_free(x);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	memset(p, 0, len);
	p[0] = type == RVF_QUANT_BINARY ? 2 : 0;
	p[1] = 0;
	wr16(p + 2, (uint16_t)dim);
	for (uint32_t d = 0; d < dim; d++) {
		wr32(p + QS_HDR + 4 * (size_t)d, f2u(x->lo[d]));
		wr32(p + QS_HDR + 4 * (size_t)dim + 4 * (size_t)d, f2u(x->hi[d]));
	}
	uint8_t *ext = p + QS_HDR + 8 * (size_t)dim;
	memcpy(ext, QS_MAGIC, 4);
	wr16(ext + 4, QS_VERSION);
	ext[6] = (uint8_t)s->metric;
	ext[7] = 0;
	wr32(ext + 8, f2u(x->p.scale));
	wr32(ext + 12, f2u(x->p.factor));
	wr64(ext + 16, nlive);
	size_t nsaved = s->ndir;
	memcpy(saved, s->dir, nsaved * sizeof *saved);
	drop_quant_entries(s); /* the new segment replaces any listed one */
	err = store_commit(s, &b, type == RVF_QUANT_BINARY ? "quantize:binary" : "quantize:sq8", 1);
	batch_free(&b);
	if (err) {
		memcpy(s->dir, saved, nsaved * sizeof *saved);
		s->ndir = nsaved;
		qs_free(x);
	} else {
		store_quant_free(s);
		s->quant = x;
	}
	free(saved);
	return err;
}
