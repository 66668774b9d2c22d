/* store_index_repair.c — link repair of the store's HNSW graph: re-linking
 * upserted nodes (their vector changed) and dropping deleted nodes at
 * compaction without a rebuild. Changed nodes are tracked by the graph
 * (hnsw_track_changes), so the next commit's INDEX_LOG carries them. */
#include "distance.h"
#include "errors.h"
#include "store_index.h"
#include <stdlib.h>
#include <string.h>

/* Nodes whose lists point at a moved node (an upserted slot: its links
 * and in-links were chosen for the old vector) lose that link; each such
 * list is chosen again with the insert heuristic among its other links and
 * the moved node's old links at that layer (2-hop repair, as at
 * compaction). Without this, an old neighbour keeps a link into the moved
 * node's new place instead of the nodes the heuristic pruned for it, and
 * its neighbourhood falls apart (recall after churn, docs/index.md). */
static int repair_in_links(hnsw_index *g, const uint8_t *moved, uint32_t *stamp, uint32_t *cand,
			   size_t ccap)
{
	uint32_t cap = hnsw_capacity(g), ep = 0;
	for (uint32_t a = 0; a < cap; a++) {
		int lv = hnsw_level(g, a);
		if (lv < 0 || moved[a])
			continue; /* moved nodes get new lists afterwards */
		for (int l = 0; l <= lv; l++) {
			uint32_t cnt, nc = 0;
			const uint32_t *ln = hnsw_links(g, a, l, &cnt);
			int hit = 0;
			for (uint32_t j = 0; j < cnt; j++)
				hit |= moved[ln[j]];
			if (!hit)
				continue;
			if (++ep == 0) { /* stamps wrapped: start over */
				memset(stamp, 0, (size_t)cap * sizeof *stamp);
				ep = 1;
			}
			stamp[a] = ep;
			for (uint32_t j = 0; j < cnt; j++)
				if (!moved[ln[j]] && stamp[ln[j]] != ep) {
					stamp[ln[j]] = ep;
					cand[nc++] = ln[j];
				}
			for (uint32_t j = 0; j < cnt; j++) {
				uint32_t c2;
				if (!moved[ln[j]])
					continue;
				const uint32_t *l2 = hnsw_links(g, ln[j], l, &c2);
				for (uint32_t t = 0; t < c2 && nc < ccap; t++)
					if (!moved[l2[t]] && stamp[l2[t]] != ep) {
						stamp[l2[t]] = ep;
						cand[nc++] = l2[t];
					}
			}
			int err = hnsw_relink(g, a, l, cand, nc);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Re-links the nodes of upserted slots: first the lists that pointed at
 * them (repair_in_links), then their own lists, chosen with the insert
 * heuristic among the ef_construction nearest nodes of a graph search for
 * the new vector, and back-links from those neighbours (shrinking a full
 * list with the same heuristic). */
int store_index_upserted(rvf_store *s, const uint32_t *slots, size_t n)
{
	struct store_index *x = s->index;
	if (!x || !n)
		return 0;
	hnsw_index *g = x->g;
	uint32_t M = hnsw_m(g), M0 = 2 * M, cap = hnsw_capacity(g);
	size_t ef = hnsw_ef_construction(g) > M0 + 1 ? hnsw_ef_construction(g) : M0 + 1;
	size_t ccap = (size_t)M0 * (M0 + 1);
	rvf_topk_item *res = malloc((ef + 1) * sizeof *res);
	uint32_t *links = malloc((ef + 1) * sizeof *links);
	uint32_t *cand = malloc(ccap * sizeof *cand);
	uint32_t *stamp = calloc(cap ? cap : 1, sizeof *stamp);
	uint8_t *moved = calloc(cap ? cap : 1, 1);
	hnsw_scratch *sc = hnsw_scratch_new();
	int err = !res || !links || !cand || !stamp || !moved || !sc ? RVF_E_NOMEM : 0;
	x->persisted = 0;
	if (!err && s->metric == RVF_METRIC_COSINE) {
		/* The cached norms of the upserted nodes are stale; an identity
		 * renumber makes set_storage recompute them (O(nodes)). */
		uint32_t *id = malloc((cap ? cap : 1) * sizeof *id);
		for (uint32_t i = 0; id && i < cap; i++)
			id[i] = i;
		err = id ? hnsw_renumber(g, id, cap) : RVF_E_NOMEM;
		free(id);
		x->storage_stale = 1;
	}
	if (!err)
		idx_storage(s, x);
	size_t nmoved = 0;
	for (size_t u = 0; !err && u < n; u++)
		if (slots[u] < cap && hnsw_level(g, slots[u]) >= 0 && !moved[slots[u]]) {
			moved[slots[u]] = 1;
			nmoved++;
		}
	if (!err && nmoved && hnsw_count(g) > nmoved)
		err = repair_in_links(g, moved, stamp, cand, ccap);
	for (size_t u = 0; !err && u < n; u++) {
		uint32_t node = slots[u];
		int lv = hnsw_level(g, node);
		if (lv < 0 || hnsw_count(g) < 2)
			continue;
		const float *v = s->vecs + (size_t)node * s->stride;
		size_t nr = 0;
		/* live neighbours only (tombstones route, no query returns them) */
		int r = hnsw_search_ex(g, sc, v, ef + 1, ef, s->deleted, 0, res, &nr, NULL);
		if (r < 0) {
			err = r;
			break;
		}
		for (int l = 0; !err && l <= lv; l++) {
			uint32_t cnt = 0;
			for (size_t j = 0; j < nr; j++) {
				uint32_t nb = (uint32_t)res[j].id;
				if (nb != node && hnsw_level(g, nb) >= l)
					links[cnt++] = nb;
			}
			if (!cnt && l)
				continue; /* keep the old upper-layer links */
			if ((err = hnsw_relink(g, node, l, links, cnt)))
				break;
			uint32_t kept;
			const uint32_t *nl = hnsw_links(g, node, l, &kept);
			memcpy(links, nl, kept * sizeof *links);
			for (uint32_t j = 0; !err && j < kept; j++)
				err = hnsw_link_to(g, links[j], node, l);
		}
	}
	free(res);
	free(links);
	free(cand);
	free(stamp);
	free(moved);
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
