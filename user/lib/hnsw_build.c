/* hnsw_build.c — insertion (HNSW paper, Algorithm 1 with the neighbour
 * selection heuristic of Algorithm 4, as hnswlib does it), raw graph
 * construction and renumbering. */
#define HNSW_INTERNAL
#include "hnsw.h"
#include "rvf.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_next(hnsw_index *x)
{
	uint64_t z = (x->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int hnsw_random_level(hnsw_index *x)
{
	double u = ((double)(rng_next(x) >> 11) + 1.0) / 9007199254740992.0; /* (0, 1] */
	double l = -log(u) * x->mult;

	return l >= HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int)l;
}

int hnsw_add_node(hnsw_index *x, uint32_t node, int level)
{
	size_t need;
	int rc;

	if (node >= HNSW_MAX_NODES || level < 0 || level > HNSW_MAX_LEVEL)
		return RVF_E_ARG;
	if (node < x->cap && x->level[node] >= 0)
		return RVF_E_ARG;
	if (node >= x->cap && (rc = hnsw_grow(x, node + 1)) != 0)
		return rc;
	if (level > 0) {
		need = x->ulen + (size_t)level * (1 + x->M);
		if (need > UINT32_MAX)
			return RVF_E_NOMEM;
		if (need > x->ucap) {
			size_t c = x->ucap ? x->ucap : 1024;
			uint32_t *p;
			while (c < need)
				c *= 2;
			p = realloc(x->upool, c * sizeof *p);
			if (!p)
				return RVF_E_NOMEM;
			x->upool = p;
			x->ucap = c;
		}
		x->uoff[node] = (uint32_t)x->ulen;
		for (int l = 0; l < level; l++)
			x->upool[x->ulen + (size_t)l * (1 + x->M)] = 0;
		x->ulen = need;
	}
	x->level[node] = (int8_t)level;
	x->l0[(size_t)node * (1 + x->M0)] = 0;
	hnsw_touch(x, node);
	if (x->metric == RVF_METRIC_COSINE) {
		if (x->base && !x->sqn_stale) {
			const float *v = hnsw_vec(x, node);
			x->sqn[node] = x->dot(v, v, x->dim);
		} else {
			x->sqn_stale = 1;
		}
	}
	x->count++;
	return 0;
}

int hnsw_set_links(hnsw_index *x, uint32_t node, int layer, const uint32_t *links, uint32_t count)
{
	uint32_t *l;

	if (node >= x->cap || layer < 0 || layer > x->level[node])
		return RVF_E_ARG;
	if (count > (layer ? x->M : x->M0))
		return RVF_E_ARG;
	for (uint32_t i = 0; i < count; i++)
		if (links[i] >= x->cap || x->level[links[i]] < layer || links[i] == node)
			return RVF_E_ARG;
	l = hnsw_list(x, node, layer);
	memmove(l + 1, links, count * sizeof *links);
	l[0] = count;
	hnsw_touch(x, node);
	return 0;
}

int hnsw_set_entry(hnsw_index *x, uint32_t node)
{
	if (node >= x->cap || x->level[node] < 0)
		return RVF_E_ARG;
	x->entry = node;
	x->max_level = x->level[node];
	return 0;
}

static float node_dist(const hnsw_index *x, uint32_t a, uint32_t b)
{
	return hnsw_qdist(x, hnsw_vec(x, a), x->metric == RVF_METRIC_COSINE ? x->sqn[a] : 0, b);
}

/* c[0..n) sorted ascending by distance to the base point. Keeps (in place,
 * in order) each candidate closer to the base than to every kept one, at
 * most m of them. Returns the number kept. */
static size_t select_heuristic(const hnsw_index *x, hnsw_pair *c, size_t n, size_t m)
{
	size_t kept = 0;

	if (n <= m)
		return n;
	for (size_t i = 0; i < n && kept < m; i++) {
		int good = 1;
		for (size_t j = 0; j < kept; j++)
			if (node_dist(x, c[i].id, c[j].id) < c[i].d) {
				good = 0;
				break;
			}
		if (good)
			c[kept++] = c[i];
	}
	return kept;
}

static int pair_cmp(const void *a, const void *b)
{
	const hnsw_pair *p = a, *q = b;

	if (p->d < q->d)
		return -1;
	if (p->d > q->d)
		return 1;
	return (p->id > q->id) - (p->id < q->id);
}

/* add the link s -> node at layer, shrinking s's list with the heuristic
 * when full. work: room for max+1 pairs. Caller holds s's lock. */
static void link_back_locked(hnsw_index *x, uint32_t s, uint32_t node, int layer, hnsw_pair *work)
{
	uint32_t *l = hnsw_list(x, s, layer), max = layer ? x->M : x->M0, n = l[0];
	size_t kept;

	for (uint32_t i = 1; i <= n; i++)
		if (l[i] == node)
			return;
	hnsw_touch(x, s);
	if (n < max) {
		l[1 + n] = node;
		l[0] = n + 1;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		work[i].id = l[1 + i];
		work[i].d = node_dist(x, s, l[1 + i]);
	}
	work[n].id = node;
	work[n].d = node_dist(x, s, node);
	qsort(work, n + 1, sizeof *work, pair_cmp);
	kept = select_heuristic(x, work, n + 1, max);
	for (size_t i = 0; i < kept; i++)
		l[1 + i] = work[i].id;
	l[0] = (uint32_t)kept;
}

static void link_back(hnsw_index *x, uint32_t s, uint32_t node, int layer, hnsw_pair *work)
{
	hnsw_lock(x, s);
	link_back_locked(x, s, node, layer, work);
	hnsw_unlock(x, s);
}

void hnsw_link_node(hnsw_index *x, hnsw_scratch *s, uint32_t node, int lvl, uint32_t ep, int maxl)
{
	const float *q = hnsw_vec(x, node);
	float qq = x->metric == RVF_METRIC_COSINE ? x->sqn[node] : 0;
	int top = lvl < maxl ? lvl : maxl, dummy = 0;
	hnsw_pair cur = hnsw_descend_from(x, q, qq, ep, maxl, top, NULL);

	for (int layer = top; layer >= 0; layer--) {
		size_t nr = hnsw_search_layer(x, s, q, qq, &cur, 1, layer, x->efc, x->tomb, 0, NULL, &dummy);
		if (nr == 0 && x->tomb) /* only deleted nodes around: link those */
			nr = hnsw_search_layer(x, s, q, qq, &cur, 1, layer, x->efc, NULL, 0, NULL, &dummy);
		hnsw_pair *w = s->tmp, *work = s->tmp + nr;
		uint32_t *l;
		size_t kept;

		memcpy(w, s->res, nr * sizeof *w);
		if (nr == 0)
			continue;
		cur = w[0];
		kept = select_heuristic(x, w, nr, x->M);
		hnsw_lock(x, node);
		l = hnsw_list(x, node, layer);
		for (size_t i = 0; i < kept; i++)
			l[1 + i] = w[i].id;
		l[0] = (uint32_t)kept;
		hnsw_unlock(x, node);
		for (size_t i = 0; i < kept; i++)
			link_back(x, w[i].id, node, layer, work);
	}
}

int hnsw_insert(hnsw_index *x, uint32_t node)
{
	hnsw_scratch *s = &x->scratch;
	int lvl, rc;

	if (!x->base || x->sqn_stale)
		return RVF_E_ARG;
	lvl = hnsw_random_level(x);
	rc = hnsw_add_node(x, node, lvl);
	if (rc)
		return rc;
	rc = hnsw_scratch_reserve(s, x->cap, x->efc);
	if (rc) {
		x->level[node] = -1; /* upper-pool slot is leaked until free */
		x->count--;
		return rc;
	}
	if (x->max_level < 0) {
		x->entry = node;
		x->max_level = lvl;
		return 0;
	}
	hnsw_link_node(x, s, node, lvl, x->entry, x->max_level);
	if (lvl > x->max_level) {
		x->entry = node;
		x->max_level = lvl;
	}
	return 0;
}

void hnsw_set_tombstones(hnsw_index *x, const uint8_t *tomb)
{
	x->tomb = tomb;
}

static int relink_args(const hnsw_index *x, uint32_t node, int layer)
{
	return x->base && !x->sqn_stale && node < x->cap && layer >= 0 && layer <= x->level[node];
}

int hnsw_relink(hnsw_index *x, uint32_t node, int layer, const uint32_t *cands, size_t n)
{
	uint32_t *l;
	hnsw_pair *w;
	size_t kept;

	if (!relink_args(x, node, layer))
		return RVF_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (cands[i] >= x->cap || x->level[cands[i]] < layer || cands[i] == node)
			return RVF_E_ARG;
	w = malloc((n ? n : 1) * sizeof *w);
	if (!w)
		return RVF_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		w[i].id = cands[i];
		w[i].d = node_dist(x, node, cands[i]);
	}
	qsort(w, n, sizeof *w, pair_cmp);
	kept = select_heuristic(x, w, n, layer ? x->M : x->M0);
	l = hnsw_list(x, node, layer);
	for (size_t i = 0; i < kept; i++)
		l[1 + i] = w[i].id;
	l[0] = (uint32_t)kept;
	hnsw_touch(x, node);
	free(w);
	return 0;
}

int hnsw_link_to(hnsw_index *x, uint32_t from, uint32_t to, int layer)
{
	hnsw_pair *work;

	if (!relink_args(x, from, layer) || to >= x->cap || x->level[to] < layer || to == from)
		return RVF_E_ARG;
	work = malloc(((size_t)(layer ? x->M : x->M0) + 1) * sizeof *work);
	if (!work)
		return RVF_E_NOMEM;
	link_back_locked(x, from, to, layer, work);
	free(work);
	return 0;
}

int hnsw_renumber(hnsw_index *x, const uint32_t *map, uint32_t new_cap)
{
	size_t row = 1 + (size_t)x->M0;
	uint8_t *seen;
	int8_t *lev;
	uint32_t *uoff, *l0, alloc = new_cap ? new_cap : 1;
	float *sqn;

	if (new_cap > HNSW_MAX_NODES)
		return RVF_E_ARG;
	seen = calloc(alloc, 1);
	if (!seen)
		return RVF_E_NOMEM;
	for (uint32_t i = 0; i < x->cap; i++) {
		if (x->level[i] < 0)
			continue;
		if (map[i] >= new_cap || seen[map[i]]) {
			free(seen);
			return RVF_E_ARG;
		}
		seen[map[i]] = 1;
	}
	free(seen);
	lev = malloc(alloc);
	uoff = malloc(alloc * sizeof *uoff);
	sqn = calloc(alloc, sizeof *sqn);
	l0 = malloc(alloc * row * sizeof *l0);
	if (!lev || !uoff || !sqn || !l0) {
		free(lev);
		free(uoff);
		free(sqn);
		free(l0);
		return RVF_E_NOMEM;
	}
	memset(lev, -1, alloc);
	for (uint32_t i = 0; i < alloc; i++) {
		uoff[i] = UINT32_MAX;
		l0[i * row] = 0;
	}
	for (uint32_t i = 0; i < x->cap; i++) {
		uint32_t j = map[i];
		if (x->level[i] < 0)
			continue;
		lev[j] = x->level[i];
		uoff[j] = x->uoff[i];
		sqn[j] = x->sqn[i];
		memcpy(l0 + j * row, x->l0 + i * row, row * sizeof *l0);
		for (uint32_t k = 1; k <= l0[j * row]; k++)
			l0[j * row + k] = map[l0[j * row + k]];
		for (int l = 1; l <= lev[j]; l++) {
			uint32_t *u = x->upool + uoff[j] + (size_t)(l - 1) * (1 + x->M);
			for (uint32_t k = 1; k <= u[0]; k++)
				u[k] = map[u[k]];
		}
	}
	if (x->max_level >= 0)
		x->entry = map[x->entry];
	if (x->track) {
		uint8_t *chg = calloc(alloc, 1);
		if (!chg) {
			free(lev);
			free(uoff);
			free(sqn);
			free(l0);
			return RVF_E_NOMEM;
		}
		size_t w = 0;
		for (size_t i = 0; i < x->nchl; i++) {
			if (x->level[x->chl[i]] < 0)
				continue; /* absent nodes have no new number */
			x->chl[w] = map[x->chl[i]];
			chg[x->chl[w++]] = 1;
		}
		x->nchl = w;
		free(x->chg);
		x->chg = chg;
	}
	free(x->level);
	free(x->uoff);
	free(x->sqn);
	free(x->l0);
	x->level = lev;
	x->uoff = uoff;
	x->sqn = sqn;
	x->l0 = l0;
	x->alloc = alloc;
	x->cap = new_cap;
	x->sqn_stale = x->metric == RVF_METRIC_COSINE;
	return 0;
}
