/* store_index_repair.c — link repair of the store's HNSW graph: re-linking
 * upserted nodes (their vector changed) and dropping deleted nodes at
 * compaction without a rebuild. Changed nodes are tracked by the graph
 * (hnsw_track_changes), so the next commit's INDEX_LOG carries them. */
#include "distance.h"
#include "errors.h"
#include "store_index.h"
#include <stdlib.h>
#include <string.h>

/* Re-links the nodes of upserted slots (their vector changed, their links
 * were chosen for the old one): new layer-0 (and upper-layer) neighbours
 * from a graph search for the new vector, and back-links from those
 * neighbours (appended, or replacing their farthest link when closer).
 * Links that still point at the node from its old neighbourhood stay (they
 * only cost a detour). */
int store_index_upserted(rvf_store *s, const uint32_t *slots, size_t n)
{
	struct store_index *x = s->index;
	if (!x || !n)
		return 0;
	hnsw_index *g = x->g;
	uint32_t M = hnsw_m(g), M0 = 2 * M;
	size_t ef = hnsw_ef_construction(g) > M0 + 1 ? hnsw_ef_construction(g) : M0 + 1;
	rvf_topk_item *res = malloc((M0 + 1) * sizeof *res);
	uint32_t *links = malloc((M0 + 1) * sizeof *links);
	hnsw_scratch *sc = hnsw_scratch_new();
	int err = !res || !links || !sc ? RVF_E_NOMEM : 0;
	x->persisted = 0;
	if (!err && s->metric == RVF_METRIC_COSINE) {
		/* The cached norms of the upserted nodes are stale; an identity
		 * renumber makes set_storage recompute them (O(nodes)). */
		uint32_t cap = hnsw_capacity(g);
		uint32_t *id = malloc((cap ? cap : 1) * sizeof *id);
		for (uint32_t i = 0; id && i < cap; i++)
			id[i] = i;
		err = id ? hnsw_renumber(g, id, cap) : RVF_E_NOMEM;
		free(id);
		x->storage_stale = 1;
	}
	if (!err)
		idx_storage(s, x);
	for (size_t u = 0; !err && u < n; u++) {
		uint32_t node = slots[u];
		int lv = hnsw_level(g, node);
		if (lv < 0 || hnsw_count(g) < 2)
			continue;
		const float *v = s->vecs + (size_t)node * s->stride;
		size_t nr = 0;
		int r = hnsw_search_ex(g, sc, v, M0 + 1, ef, NULL, 0, res, &nr, NULL);
		if (r < 0) {
			err = r;
			break;
		}
		for (int l = 0; !err && l <= lv; l++) {
			uint32_t max = l ? M : M0, cnt = 0;
			for (size_t j = 0; j < nr && cnt < max; j++) {
				uint32_t nb = (uint32_t)res[j].id;
				if (nb != node && hnsw_level(g, nb) >= l)
					links[cnt++] = nb;
			}
			if (!cnt && l)
				continue; /* keep the old upper-layer links */
			if ((err = hnsw_set_links(g, node, l, links, cnt)))
				break;
			/* Back-links. */
			uint32_t nbl[HNSW_MAX_M * 2 + 1];
			for (uint32_t j = 0; !err && j < cnt; j++) {
				uint32_t nb = links[j], c2;
				const uint32_t *l2 = hnsw_links(g, nb, l, &c2);
				int have = 0;
				for (uint32_t t = 0; t < c2; t++)
					have |= l2[t] == node;
				if (have)
					continue;
				memcpy(nbl, l2, c2 * sizeof *nbl);
				const float *vb = s->vecs + (size_t)nb * s->stride;
				if (c2 < max) {
					nbl[c2++] = node;
				} else {
					float dn = rvf_dist_exact((int)s->metric, vb, v, s->dim), worst = -1;
					uint32_t wi = 0;
					for (uint32_t t = 0; t < c2; t++) {
						float d = rvf_dist_exact((int)s->metric, vb,
									 s->vecs + (size_t)nbl[t] * s->stride, s->dim);
						if (d > worst) {
							worst = d;
							wi = t;
						}
					}
					if (!(dn < worst))
						continue;
					nbl[wi] = node;
				}
				err = hnsw_set_links(g, nb, l, nbl, c2);
			}
		}
	}
	free(res);
	free(links);
	hnsw_scratch_free(sc);
	if (err)
		return rvf_fail(err, "%s: re-linking upserted vectors in the HNSW index failed", s->path);
	return 0;
}

/* ---- compaction ---------------------------------------------------------- */

typedef struct {
	uint32_t node; /* new numbering */
	float d;
} cand;

static int cand_cmp(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

/* Builds the graph of the surviving nodes: same levels, links to deleted
 * nodes replaced by those nodes' surviving neighbours (closest first, up to
 * the list's capacity). Called before the store moves its slots, so vectors
 * are read in the old numbering. */
hnsw_index *idx_compact_graph(const rvf_store *s, const hnsw_index *g, const uint32_t *remap, size_t nold,
			      uint32_t nnew)
{
	uint32_t M = hnsw_m(g), cap = hnsw_capacity(g);
	hnsw_index *ng = hnsw_new(s->dim, (int)s->metric, M, hnsw_ef_construction(g), IDX_SEED ^ nnew);
	if (!ng)
		return NULL;
	size_t lim = 2 * (size_t)M;
	size_t ccap = lim * (lim + 1) + 1;
	cand *c = malloc(ccap * sizeof *c);
	uint32_t *links = malloc((lim + 1) * sizeof *links);
	uint32_t *old_of = malloc((nnew ? nnew : 1) * sizeof *old_of);
	int err = !c || !links || !old_of;
	for (uint32_t i = 0; !err && i < cap && i < nold; i++) {
		int lv = hnsw_level(g, i);
		if (lv < 0 || remap[i] == META_SLOT_NONE)
			continue;
		old_of[remap[i]] = i;
		err = hnsw_add_node(ng, remap[i], lv) != 0;
	}
	for (uint32_t i = 0; !err && i < cap && i < nold; i++) {
		int lv = hnsw_level(g, i);
		if (lv < 0 || remap[i] == META_SLOT_NONE)
			continue;
		const float *vi = s->vecs + (size_t)i * s->stride;
		for (int l = 0; !err && l <= lv; l++) {
			uint32_t cnt, max = l ? M : 2 * M;
			const uint32_t *ln = hnsw_links(g, i, l, &cnt);
			size_t nc = 0, nlive = 0;
			int lost = 0;
			for (uint32_t j = 0; j < cnt; j++) {
				if (remap[ln[j]] != META_SLOT_NONE)
					links[nlive++] = remap[ln[j]];
				else
					lost = 1;
			}
			if (lost) {
				/* Candidates: surviving links + surviving links of the
				 * deleted neighbours (2-hop repair), deduplicated. */
				for (size_t j = 0; j < nlive; j++)
					c[nc++] = (cand){links[j], 0};
				for (uint32_t j = 0; j < cnt; j++) {
					if (remap[ln[j]] != META_SLOT_NONE)
						continue;
					uint32_t cnt2;
					const uint32_t *l2 = hnsw_links(g, ln[j], l, &cnt2);
					for (uint32_t t = 0; t < cnt2 && nc < ccap; t++) {
						if (l2[t] == i || remap[l2[t]] == META_SLOT_NONE)
							continue;
						c[nc++] = (cand){remap[l2[t]], 0};
					}
				}
				for (size_t j = 0; j < nc; j++)
					c[j].d = rvf_dist_exact((int)s->metric, vi,
								s->vecs + (size_t)old_of[c[j].node] * s->stride, s->dim);
				qsort(c, nc, sizeof *c, cand_cmp);
				nlive = 0;
				for (size_t j = 0; j < nc && nlive < max; j++)
					if (!j || c[j].node != c[j - 1].node) /* duplicates are adjacent */
						links[nlive++] = c[j].node;
			}
			err = hnsw_set_links(ng, remap[i], l, links, (uint32_t)nlive) != 0;
		}
	}
	/* Entry: the old one if it survives, else a surviving node of the
	 * highest level. */
	uint32_t ep;
	int top;
	if (!err && !hnsw_entry(g, &ep, &top)) {
		int best = -1;
		uint32_t bn = 0;
		if (ep < nold && remap[ep] != META_SLOT_NONE) {
			best = top;
			bn = remap[ep];
		} else {
			for (uint32_t i = 0; i < cap && i < nold; i++) {
				int lv = hnsw_level(g, i);
				if (lv > best && remap[i] != META_SLOT_NONE) {
					best = lv;
					bn = remap[i];
				}
			}
		}
		if (best >= 0)
			err = hnsw_set_entry(ng, bn) != 0;
	}
	free(c);
	free(links);
	free(old_of);
	if (err) {
		hnsw_free(ng);
		return NULL;
	}
	return ng;
}


/* A fresh graph over the surviving slots, in the new numbering. Called
 * before the store moves its slots, so the survivors are copied out first
 * (the graph reads them there during the build only). */
hnsw_index *idx_rebuild_compacted(const rvf_store *s, const hnsw_index *g, const uint32_t *remap, size_t nold,
				  uint32_t nnew)
{
	float *tmp = malloc(((size_t)nnew ? nnew : 1) * s->stride * sizeof *tmp);
	hnsw_index *ng = tmp ? hnsw_new(s->dim, (int)s->metric, hnsw_m(g), hnsw_ef_construction(g), IDX_SEED) : NULL;
	if (!ng) {
		free(tmp);
		return NULL;
	}
	for (size_t i = 0; i < nold; i++)
		if (remap[i] != META_SLOT_NONE)
			memcpy(tmp + (size_t)remap[i] * s->stride, s->vecs + i * s->stride, s->stride * sizeof *tmp);
	hnsw_set_storage(ng, tmp, s->stride);
	const struct index_log *l = s->ilog;
	unsigned th = l && l->threads ? l->threads : 0;
	int err = hnsw_build_parallel(ng, nnew, th ? th : idx_default_threads(), l ? l->progress : NULL,
				      l ? l->progress_ctx : NULL);
	hnsw_set_storage(ng, NULL, s->stride);
	free(tmp);
	if (err) {
		hnsw_free(ng);
		return NULL;
	}
	return ng;
}
