/* hnsw_search.c — layer search, greedy descent and the k-NN query with an
 * exact rerank of the final candidates. */
#define HNSW_INTERNAL
#include "hnsw.h"
#include "distance.h"
#include "rvf.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- heaps: cand is a min-heap, res a max-heap on d -------------------- */
static inline void minheap_push(hnsw_pair *h, size_t *n, hnsw_pair p)
{
	size_t i = (*n)++;

	while (i) {
		size_t u = (i - 1) / 2;
		if (!(p.d < h[u].d))
			break;
		h[i] = h[u];
		i = u;
	}
	h[i] = p;
}

static inline hnsw_pair minheap_pop(hnsw_pair *h, size_t *n)
{
	hnsw_pair top = h[0], last = h[--*n];
	size_t i = 0, m = *n;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= m)
			break;
		if (c + 1 < m && h[c + 1].d < h[c].d)
			c++;
		if (!(h[c].d < last.d))
			break;
		h[i] = h[c];
		i = c;
	}
	if (m)
		h[i] = last;
	return top;
}

static inline void maxheap_push(hnsw_pair *h, size_t *n, hnsw_pair p)
{
	size_t i = (*n)++;

	while (i) {
		size_t u = (i - 1) / 2;
		if (!(p.d > h[u].d))
			break;
		h[i] = h[u];
		i = u;
	}
	h[i] = p;
}

static inline void maxheap_pop(hnsw_pair *h, size_t *n)
{
	hnsw_pair last = h[--*n];
	size_t i = 0, m = *n;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= m)
			break;
		if (c + 1 < m && h[c + 1].d > h[c].d)
			c++;
		if (!(h[c].d > last.d))
			break;
		h[i] = h[c];
		i = c;
	}
	if (m)
		h[i] = last;
}

static int pair_cmp(const void *a, const void *b)
{
	const hnsw_pair *x = a, *y = b;

	if (x->d < y->d)
		return -1;
	if (x->d > y->d)
		return 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* ---- distances during traversal ---------------------------------------- */
float hnsw_qdist(const hnsw_index *x, const float *q, float qq, uint32_t n)
{
	const float *v = hnsw_vec(x, n);

	switch (x->metric) {
	case RVF_METRIC_L2:
		return x->l2(q, v, x->dim);
	case RVF_METRIC_IP:
		return -x->dot(q, v, x->dim);
	default: {
		float den = sqrtf(qq * x->sqn[n]);
		if (!(den >= FLT_EPSILON))
			return 1.0f;
		return 1.0f - x->dot(q, v, x->dim) / den;
	}
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint32_t next_epoch(hnsw_scratch *s)
{
	if (++s->epoch == 0) {
		memset(s->visited, 0, (size_t)s->vcap * sizeof *s->visited);
		s->epoch = 1;
	}
	return s->epoch;
}

/* Every cache line of node n's vector (at most 32: 2 KiB, 512-d). */
static inline void prefetch_vec(const hnsw_index *x, uint32_t n, uint32_t lines)
{
	const char *p = (const char *)hnsw_vec(x, n);

	if (lines > 32)
		lines = 32;
	for (uint32_t i = 0; i < lines; i++)
		__builtin_prefetch(p + 64 * (size_t)i);
}

size_t hnsw_search_layer(const hnsw_index *x, hnsw_scratch *s, const float *q, float qq,
			 const hnsw_pair *eps, size_t neps, int layer, size_t ef,
			 const uint8_t *skip, uint64_t deadline, uint64_t *ndist, int *timed_out)
{
	uint32_t ep = next_epoch(s), *vis = s->visited;
	size_t nc = 0, nr = 0, steps = 0;
	uint64_t nd = 0;
	float bound = INFINITY;
	uint32_t pf_lines = (x->dim * (uint32_t)sizeof(float) + 63) / 64;

	for (size_t i = 0; i < neps; i++) {
		if (vis[eps[i].id] == ep)
			continue;
		vis[eps[i].id] = ep;
		minheap_push(s->cand, &nc, eps[i]);
		if (!skip || !skip[eps[i].id]) {
			maxheap_push(s->res, &nr, eps[i]);
			if (nr > ef)
				maxheap_pop(s->res, &nr);
		}
	}
	if (nr == ef)
		bound = s->res[0].d;
	while (nc) {
		hnsw_pair c = minheap_pop(s->cand, &nc);
		const uint32_t *l;
		uint32_t cnt, todo[2 * HNSW_MAX_M], nt = 0;

		if (c.d > bound)
			break;
		if (nc) /* the likely next candidate's list, while this one is scanned */
			__builtin_prefetch(hnsw_list(x, s->cand[0].id, layer));
		if (deadline && (++steps & 15) == 0 && now_ns() > deadline) {
			*timed_out = 1;
			break;
		}
		hnsw_lock(x, c.id);
		l = hnsw_list(x, c.id, layer);
		cnt = l[0];
		for (uint32_t i = 1; i <= cnt; i++) {
			uint32_t n = l[i];
			if (vis[n] != ep) {
				vis[n] = ep;
				todo[nt++] = n;
			}
		}
		hnsw_unlock(x, c.id);
		if (nt)
			prefetch_vec(x, todo[0], pf_lines);
		for (uint32_t i = 0; i < nt; i++) {
			uint32_t n = todo[i];
			float d;

			if (i + 1 < nt)
				prefetch_vec(x, todo[i + 1], pf_lines);
			d = hnsw_qdist(x, q, qq, n);
			nd++;
			if (nr < ef || d < bound) {
				hnsw_pair p = {d, n};
				if (nc == s->ccap) {
					hnsw_pair *t = realloc(s->cand, 2 * s->ccap * sizeof *t);
					if (!t)
						continue; /* drop the candidate, stay correct */
					s->cand = t;
					s->ccap *= 2;
				}
				minheap_push(s->cand, &nc, p);
				if (!skip || !skip[n]) {
					maxheap_push(s->res, &nr, p);
					if (nr > ef)
						maxheap_pop(s->res, &nr);
					if (nr == ef)
						bound = s->res[0].d;
				}
			}
		}
	}
	qsort(s->res, nr, sizeof *s->res, pair_cmp);
	if (ndist)
		*ndist += nd;
	return nr;
}

/* Greedy descent from the entry to layer `to` (exclusive of layers < to). */
hnsw_pair hnsw_descend(const hnsw_index *x, const float *q, float qq, int to, uint64_t *ndist)
{
	return hnsw_descend_from(x, q, qq, x->entry, x->max_level, to, ndist);
}

hnsw_pair hnsw_descend_from(const hnsw_index *x, const float *q, float qq, uint32_t entry, int top, int to,
			    uint64_t *ndist)
{
	hnsw_pair cur = {hnsw_qdist(x, q, qq, entry), entry};
	uint64_t nd = 1;
	uint32_t copy[HNSW_MAX_M + 1];

	for (int layer = top; layer > to; layer--) {
		int changed = 1;
		while (changed) {
			const uint32_t *l = hnsw_list(x, cur.id, layer);
			if (x->locks) { /* parallel build: copy under the node's lock */
				hnsw_lock(x, cur.id);
				memcpy(copy, l, (1 + (size_t)l[0]) * sizeof *copy);
				hnsw_unlock(x, cur.id);
				l = copy;
			}
			changed = 0;
			for (uint32_t i = 1; i <= l[0]; i++) {
				float d = hnsw_qdist(x, q, qq, l[i]);
				nd++;
				if (d < cur.d) {
					cur.d = d;
					cur.id = l[i];
					changed = 1;
				}
			}
		}
	}
	if (ndist)
		*ndist += nd;
	return cur;
}

#define RERANK_MARGIN 8

int hnsw_search_ex(const hnsw_index *x, hnsw_scratch *s, const float *q, size_t k, size_t ef,
		   const uint8_t *skip, double budget_ms, rvf_topk_item *out, size_t *nout,
		   uint64_t *ndist)
{
	uint64_t deadline = 0;
	int timed_out = 0, rc;
	float qq = 0;
	size_t nr, nx;
	hnsw_pair ep;

	*nout = 0;
	if (ndist)
		*ndist = 0;
	if (k == 0 || x->max_level < 0)
		return 0;
	if (!x->base || x->sqn_stale || !q || !out)
		return RVF_E_ARG;
	if (budget_ms > 0)
		deadline = now_ns() + (uint64_t)(budget_ms * 1e6);
	if (ef < k)
		ef = k;
	rc = hnsw_scratch_reserve(s, x->cap, ef);
	if (rc)
		return rc;
	if (x->metric == RVF_METRIC_COSINE)
		qq = x->dot(q, q, x->dim);
	ep = hnsw_descend(x, q, qq, 0, ndist);
	nr = hnsw_search_layer(x, s, q, qq, &ep, 1, 0, ef, skip, deadline, ndist, &timed_out);
	/* exact distances for the best k + margin, then the final order */
	nx = nr < k + RERANK_MARGIN ? nr : k + RERANK_MARGIN;
	{
		rvf_topk_item tmp[64], *t = nx <= 64 ? tmp : malloc(nx * sizeof *t);
		if (!t)
			return RVF_E_NOMEM;
		for (size_t i = 0; i < nx; i++) {
			uint32_t n = s->res[i].id;
			t[i].id = n;
			t[i].dist = rvf_dist_exact(x->metric, q, hnsw_vec(x, n), x->dim);
		}
		rvf_topk_sort(t, nx);
		nx = nx < k ? nx : k;
		memcpy(out, t, nx * sizeof *t);
		if (t != tmp)
			free(t);
	}
	*nout = nx;
	return timed_out ? HNSW_PARTIAL : 0;
}

int hnsw_search(hnsw_index *x, const float *q, size_t k, size_t ef, const uint8_t *skip,
		double budget_ms, rvf_topk_item *out, size_t *nout)
{
	return hnsw_search_ex(x, &x->scratch, q, k, ef, skip, budget_ms, out, nout, NULL);
}
