/* store_index.c — the store's HNSW index (hnsw.h) over its slots, persisted
 * as an INDEX_SEG (rvf-format.md §14).
 *
 * Life cycle
 *  - open: the directory's latest INDEX_SEG is hash-checked and decoded, its
 *    nodes are renumbered from segment order (vector-id rank) to slots, and
 *    slots the graph lacks (vectors appended after it was written, p30) are
 *    inserted. Nothing is rebuilt. A damaged or inconsistent INDEX_SEG is
 *    ignored with a warning (rvf_open_warning): queries then take the exact
 *    scan. The open never fails because of the index.
 *  - ingest: new slots are inserted into the graph. An upsert of an existing
 *    id keeps its node and links (hnsw.h cannot re-link a node): the node is
 *    found with its new vector and exact distances, but the links around it
 *    were chosen for the old vector, so its recall can drop until the next
 *    rvf_index_build. Any INDEX_SEG entry is dropped from the directory the
 *    next manifest carries (the vector set changed, §14).
 *  - delete: nothing changes; tombstoned nodes route searches and are never
 *    returned (skip = s->deleted). Like the reference, the graph holds every
 *    stored record, deleted ones included.
 *  - compaction: deleted nodes are dropped from the graph and the links that
 *    pointed at them are repaired from their own neighbours (no rebuild).
 *    The compacted file lists no INDEX_SEG; rvf_index_persist writes one.
 *  - query (rvf_query_ex without exact/filter): hnsw_search_ex with a scratch
 *    from a small pool (concurrent const readers are safe). ef = ef_search or
 *    max(64, k). Too few results -> exact fallback (p35). A time budget that
 *    runs out returns RVF_E_TIMEOUT with the best results found so far in
 *    out/nout.
 */
#include "errors.h"
#include "hnsw.h"
#include "distance.h"
#include "store.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_SEED 0x5256464958ull /* level draws: deterministic builds */
#define IDX_POOL 16               /* idle scratches kept for readers */
#define IDX_DEFAULT_M 16
#define IDX_DEFAULT_EFC 200
#define IDX_MIN_EF 64

struct store_index {
	hnsw_index *g;
	int persisted;       /* the listed INDEX_SEG encodes exactly this graph */
	int storage_stale;   /* slots moved (compaction): set_storage before use */
	int degenerate;      /* loaded graph with many linkless nodes (p35): exact */
	pthread_mutex_t lock; /* guards the scratch pool and storage refresh */
	hnsw_scratch *pool[IDX_POOL];
	int npool;
};

/* ---- helpers ------------------------------------------------------------- */

static void idx_warn(rvf_store *s, const char *fmt, const char *detail)
{
	if (s->warning[0])
		return;
	snprintf(s->warning, sizeof s->warning, fmt, s->path, detail);
}

static struct store_index *idx_new(hnsw_index *g)
{
	struct store_index *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	if (pthread_mutex_init(&x->lock, NULL)) {
		free(x);
		return NULL;
	}
	x->g = g;
	return x;
}

static void idx_free(struct store_index *x)
{
	if (!x)
		return;
	hnsw_free(x->g);
	for (int i = 0; i < x->npool; i++)
		hnsw_scratch_free(x->pool[i]);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

static void prefetch_drop(rvf_store *s);

void store_index_free(rvf_store *s)
{
	prefetch_drop(s);
	idx_free(s->index);
	s->index = NULL;
}

/* Point the graph at the slot array (it may have moved or been compacted). */
static void idx_storage(const rvf_store *s, struct store_index *x)
{
	hnsw_set_storage(x->g, s->vecs, s->stride);
	x->storage_stale = 0;
}

/* Removes every INDEX_SEG entry from the directory of the next manifest;
 * returns how many were removed. */
static size_t drop_index_entries(rvf_store *s)
{
	size_t w = 0, n = s->ndir;
	for (size_t i = 0; i < n; i++)
		if (s->dir[i].seg_type != RVF_SEG_INDEX)
			s->dir[w++] = s->dir[i];
	s->ndir = w;
	return n - w;
}

/* ---- open ----------------------------------------------------------------- */

/* Loads the index from the INDEX_SEG at directory entry e. Returns 0 with
 * s->index set, or a short reason (static string) why it was ignored. */
/* Checking and decoding the graph needs neither the vectors nor the id map,
 * so open runs it on a second thread while it loads the vectors (the two
 * take about as long). */
struct index_prefetch {
	pthread_t th;
	const uint8_t *map;
	uint64_t map_len, offset;
	uint32_t dim;
	int metric;
	const char *why; /* results */
	hnsw_index *g;
	uint64_t *ids, n;
};

static void *decode_graph(void *arg)
{
	struct index_prefetch *pf = arg;
	uint64_t off = pf->offset;
	if (off > pf->map_len || pf->map_len - off < RVF_SEG_HDR_SIZE) {
		pf->why = "segment outside the file";
		return NULL;
	}
	rvf_seg_hdr h;
	rvf_hdr_decode(pf->map + off, &h);
	if (h.magic != RVF_SEG_MAGIC || h.seg_type != RVF_SEG_INDEX ||
	    h.payload_length > pf->map_len - off - RVF_SEG_HDR_SIZE) {
		pf->why = "no complete INDEX segment at the listed offset";
		return NULL;
	}
	const uint8_t *p = pf->map + off + RVF_SEG_HDR_SIZE;
	if (!rvf_content_hash_ok(h.content_hash, p, h.payload_length)) {
		pf->why = "content hash mismatch";
		return NULL;
	}
	if (!pf->dim) {
		pf->why = "the store has no vectors for it";
		return NULL;
	}
	int r = hnsw_decode(p, h.payload_length, pf->dim, pf->metric, IDX_SEED, &pf->g, &pf->ids, &pf->n);
	if (r)
		pf->why = r == RVF_E_NOMEM ? "out of memory decoding it" : "undecodable graph";
	return NULL;
}

static const rvf_dir_entry *latest_index(const rvf_dir_entry *dir, size_t n)
{
	const rvf_dir_entry *e = NULL;
	for (size_t i = 0; i < n; i++)
		if (dir[i].seg_type == RVF_SEG_INDEX && (!e || dir[i].offset > e->offset))
			e = &dir[i];
	return e;
}

void store_index_prefetch(rvf_store *s, const rvf_manifest *m)
{
	const rvf_dir_entry *e = latest_index(m->dir, m->seg_count);
	struct index_prefetch *pf = e ? calloc(1, sizeof *pf) : NULL;
	if (!pf)
		return; /* store_index_open decodes it itself */
	pf->map = s->map;
	pf->map_len = s->map_len;
	pf->offset = e->offset;
	pf->dim = m->dimension;
	pf->metric = m->metric <= RVF_METRIC_COSINE ? m->metric : RVF_METRIC_L2;
	if (pthread_create(&pf->th, NULL, decode_graph, pf)) {
		free(pf);
		return;
	}
	s->index_pf = pf;
}

/* Waits for the prefetch; its results are returned (or freed when unused). */
static struct index_prefetch *prefetch_join(rvf_store *s)
{
	struct index_prefetch *pf = s->index_pf;
	s->index_pf = NULL;
	if (pf)
		pthread_join(pf->th, NULL);
	return pf;
}

static void prefetch_drop(rvf_store *s)
{
	struct index_prefetch *pf = prefetch_join(s);
	if (pf) {
		hnsw_free(pf->g);
		free(pf->ids);
		free(pf);
	}
}

static const char *load_index(rvf_store *s, const rvf_dir_entry *e)
{
	struct index_prefetch *pf = prefetch_join(s), local;
	if (!pf || pf->offset != e->offset) {
		if (pf) {
			hnsw_free(pf->g);
			free(pf->ids);
			free(pf);
		}
		memset(&local, 0, sizeof local);
		local.map = s->map;
		local.map_len = s->map_len;
		local.offset = e->offset;
		local.dim = s->dim;
		local.metric = (int)s->metric;
		decode_graph(&local);
		pf = &local;
	}
	const char *why = pf->why;
	hnsw_index *g = pf->g;
	uint64_t *ids = pf->ids, n = pf->n;
	if (pf != &local)
		free(pf);
	if (!why && (s->nslots == 0 || s->nslots > HNSW_MAX_NODES))
		why = "the store has no vectors for it";
	if (why) {
		hnsw_free(g);
		free(ids);
		return why;
	}
	uint32_t *map = malloc((n ? n : 1) * sizeof *map);
	if (!map)
		why = "out of memory";
	/* Node k is the k-th smallest id; a store ingested in ascending id order
	 * holds exactly that in slot k, and then the graph needs no renumbering
	 * (the common case, and half the load time when it holds). */
	int same = n == s->nslots;
	for (uint64_t k = 0; same && k < n; k++)
		same = s->ids[k] == ids[k];
	for (uint64_t k = 0; !why && !same && k < n; k++) {
		map[k] = idmap_get(&s->slot_of, ids[k]);
		if (map[k] == IDMAP_NONE)
			why = "it names a vector id the store does not hold (stale index)";
	}
	if (!why && !same && hnsw_renumber(g, map, (uint32_t)s->nslots))
		why = "graph could not be mapped to the stored vectors";
	free(map);
	free(ids);
	struct store_index *x = NULL;
	if (!why && !(x = idx_new(g)))
		why = "out of memory";
	if (why) {
		hnsw_free(g);
		return why;
	}
	idx_storage(s, x);
	size_t missing = 0;
	for (size_t slot = 0; slot < s->nslots; slot++) {
		if (hnsw_level(g, (uint32_t)slot) >= 0)
			continue;
		if (hnsw_insert(g, (uint32_t)slot)) {
			idx_free(x);
			return "out of memory inserting the vectors it lacks";
		}
		missing++;
	}
	x->persisted = missing == 0;
	/* A valid but useless graph (p35: every list empty) would answer with
	 * whatever the entry point reaches; the reference falls back to an
	 * exact scan there, so do we, for every query on this graph. */
	uint32_t lonely = 0, cnt;
	for (size_t slot = 0; hnsw_count(g) > 1 && slot < s->nslots; slot++)
		if (hnsw_level(g, (uint32_t)slot) >= 0 && (hnsw_links(g, (uint32_t)slot, 0, &cnt), cnt == 0))
			lonely++;
	if ((uint64_t)lonely * 100 > hnsw_count(g)) {
		x->degenerate = 1;
		char d[96];
		snprintf(d, sizeof d, "%u of %u nodes", lonely, hnsw_count(g));
		idx_warn(s, "%s: INDEX segment loaded but %s have no links; queries use the exact scan "
			    "(rvf index rebuilds it)", d);
	}
	s->index = x;
	return NULL;
}

int store_index_open(rvf_store *s)
{
	const rvf_dir_entry *e = latest_index(s->dir, s->ndir);
	if (!e) {
		store_index_free(s); /* joins a prefetch, if any */
		return 0;
	}
	const char *why = load_index(s, e);
	if (why)
		idx_warn(s, "%s: INDEX segment ignored (%s); queries use the exact scan", why);
	return 0;
}

/* ---- ingest -------------------------------------------------------------- */

int store_index_ingested(rvf_store *s, size_t first_new_slot)
{
	/* The vector set changed: a listed INDEX_SEG is stale from now on. */
	drop_index_entries(s);
	struct store_index *x = s->index;
	if (!x)
		return 0;
	x->persisted = 0;
	idx_storage(s, x); /* the slot array may have been reallocated */
	for (size_t slot = first_new_slot; slot < s->nslots; slot++) {
		if (hnsw_level(x->g, (uint32_t)slot) >= 0)
			continue;
		if (hnsw_insert(x->g, (uint32_t)slot)) {
			/* The commit is done; an index missing vectors would give wrong
			 * answers, so drop it: queries take the exact scan. */
			store_index_free(s);
			snprintf(s->warning, sizeof s->warning,
				 "%s: out of memory updating the HNSW index; it was dropped "
				 "(queries use the exact scan; rvf_index_build rebuilds it)", s->path);
			return 0;
		}
	}
	return 0;
}

/* Re-links the nodes of upserted slots (their vector changed, their links
 * were chosen for the old one): new layer-0 (and upper-layer) neighbours
 * from a graph search for the new vector, and back-links from those
 * neighbours (appended, or replacing their farthest link when closer).
 * Links that still point at the node from its old neighbourhood stay (they
 * only cost a detour). Not declared in store.h yet: store_write.c should
 * call it with the slots an ingest upserted (see the report). */
int store_index_upserted(rvf_store *s, const uint32_t *slots, size_t n);
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

/* ---- query --------------------------------------------------------------- */

static hnsw_scratch *pool_get(struct store_index *x)
{
	hnsw_scratch *sc = NULL;
	pthread_mutex_lock(&x->lock);
	if (x->npool)
		sc = x->pool[--x->npool];
	pthread_mutex_unlock(&x->lock);
	return sc ? sc : hnsw_scratch_new();
}

static void pool_put(struct store_index *x, hnsw_scratch *sc)
{
	pthread_mutex_lock(&x->lock);
	if (x->npool < IDX_POOL) {
		x->pool[x->npool++] = sc;
		sc = NULL;
	}
	pthread_mutex_unlock(&x->lock);
	hnsw_scratch_free(sc);
}

static int hit_cmp(const void *a, const void *b)
{
	const rvf_hit *x = a, *y = b;
	if (x->distance < y->distance)
		return -1;
	if (x->distance > y->distance)
		return 1;
	return (x->id > y->id) - (x->id < y->id);
}

int store_index_query(const rvf_store *s, const float *q, const rvf_query_opts *o, size_t k, rvf_hit *out,
		      size_t *nout)
{
	struct store_index *x = s->index;
	*nout = 0;
	if (!x || x->degenerate || hnsw_count(x->g) == 0)
		return 1;
	if (x->storage_stale) {
		pthread_mutex_lock(&x->lock);
		if (x->storage_stale)
			idx_storage(s, x);
		pthread_mutex_unlock(&x->lock);
	}
	size_t ef = o->ef_search ? o->ef_search : (k > IDX_MIN_EF ? k : IDX_MIN_EF);
	rvf_topk_item *items = malloc(k * sizeof *items);
	hnsw_scratch *sc = pool_get(x);
	if (!items || !sc) {
		free(items);
		hnsw_scratch_free(sc);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	size_t n = 0;
	int r = hnsw_search_ex(x->g, sc, q, k, ef, s->deleted, (double)o->timeout_ms, items, &n, NULL);
	pool_put(x, sc);
	if (r < 0) {
		free(items);
		return rvf_fail(r, "%s: HNSW search failed", s->path);
	}
	if (r != HNSW_PARTIAL && n < k) {
		free(items); /* too few (empty lists, p35; tombstones): exact scan */
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].id = s->ids[items[i].id];
		out[i].distance = items[i].dist;
	}
	free(items);
	/* Same order as the exact scan: distance, then id (hnsw ties by slot). */
	qsort(out, n, sizeof *out, hit_cmp);
	*nout = n;
	if (r == HNSW_PARTIAL)
		return rvf_fail(RVF_E_TIMEOUT,
				"%s: partial: time budget of %u ms reached; the %zu best results found so far "
				"(of %zu requested) are returned",
				s->path, o->timeout_ms, n, k);
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
static hnsw_index *compact_graph(const rvf_store *s, const hnsw_index *g, const uint32_t *remap,
				 size_t nold, uint32_t nnew)
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

int store_index_compacted(rvf_store *s, const uint32_t *remap, size_t nold)
{
	struct store_index *x = s->index;
	if (!x)
		return 0;
	uint32_t nnew = 0;
	for (size_t i = 0; i < nold; i++)
		if (remap[i] != META_SLOT_NONE && remap[i] + 1 > nnew)
			nnew = remap[i] + 1;
	hnsw_index *ng = compact_graph(s, x->g, remap, nold, nnew);
	if (!ng)
		return -1; /* no memory: purge_deleted changes nothing */
	hnsw_free(x->g);
	x->g = ng;
	x->persisted = 0;       /* the compacted file lists no INDEX_SEG */
	x->storage_stale = 1;   /* slots move after this hook returns */
	return 0;
}

/* ---- public API ---------------------------------------------------------- */

int rvf_index_persist(rvf_store *s)
{
	rvf_clear_error();
	struct store_index *x = s->index;
	if (!x || x->persisted)
		return 0;
	int err = store_writable(s);
	if (err)
		return err;
	if (x->storage_stale)
		idx_storage(s, x);
	if (hnsw_count(x->g) == 0) {
		x->persisted = 1; /* nothing to encode; an empty store lists none */
		return 0;
	}
	uint8_t *pay = NULL;
	size_t len = 0;
	if ((err = hnsw_encode(x->g, s->ids, &pay, &len, NULL)))
		return rvf_fail(err, "%s: encoding the HNSW index failed", s->path);
	seg_batch b = {0};
	rvf_dir_entry *saved = malloc((s->ndir ? s->ndir : 1) * sizeof *saved);
	size_t nsaved = s->ndir;
	if (!saved || batch_add(s, &b, RVF_SEG_INDEX, pay, len)) {
		free(pay);
		free(saved);
		batch_free(&b);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	free(pay);
	memcpy(saved, s->dir, nsaved * sizeof *saved);
	drop_index_entries(s); /* the new segment replaces any listed one */
	err = store_commit(s, &b, NULL, 0);
	batch_free(&b);
	if (err) {
		memcpy(s->dir, saved, nsaved * sizeof *saved); /* dir_cap >= nsaved */
		s->ndir = nsaved;
	} else {
		x->persisted = 1;
	}
	free(saved);
	return err;
}

int rvf_index_build(rvf_store *s, uint32_t m, uint32_t ef_construction)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!m)
		m = IDX_DEFAULT_M;
	if (!ef_construction)
		ef_construction = IDX_DEFAULT_EFC;
	if (m < 2 || m > HNSW_MAX_M || m > UINT16_MAX)
		return rvf_fail(RVF_E_ARG, "index: M must be between 2 and %u (got %u)", HNSW_MAX_M, m);
	if (s->nslots > HNSW_MAX_NODES)
		return rvf_fail(RVF_E_ARG, "index: too many vectors (%zu)", s->nslots);
	hnsw_index *g = hnsw_new(s->dim, (int)s->metric, m, ef_construction, IDX_SEED);
	struct store_index *x = g ? idx_new(g) : NULL;
	if (!x) {
		hnsw_free(g);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	idx_storage(s, x);
	/* Every stored vector, tombstoned ones included (as the reference:
	 * node_count = stored records); deleted nodes are skipped at query time
	 * and dropped by compaction. */
	for (size_t slot = 0; slot < s->nslots; slot++)
		if ((err = hnsw_insert(g, (uint32_t)slot))) {
			idx_free(x);
			return rvf_fail(err, "%s: building the HNSW index failed at slot %zu", s->path, slot);
		}
	store_index_free(s);
	s->index = x;
	return rvf_index_persist(s);
}

int rvf_get_index_stats(const rvf_store *s, rvf_index_stats *st)
{
	memset(st, 0, sizeof *st);
	struct store_index *x = s->index;
	if (!x)
		return 0;
	st->present = 1;
	st->m = hnsw_m(x->g);
	st->ef_construction = hnsw_ef_construction(x->g);
	st->nodes = hnsw_count(x->g);
	uint32_t ep;
	int top;
	st->max_level = hnsw_entry(x->g, &ep, &top) ? 0 : (uint32_t)top;
	st->persisted = x->persisted;
	st->memory_bytes = hnsw_memory(x->g) + sizeof *x;
	return 0;
}
