/* store_index.c — the store's HNSW index (hnsw.h) over its slots: loading
 * at open, maintenance on ingest and compaction, queries, statistics. How
 * it is persisted (INDEX_SEG checkpoint + INDEX_LOG chain) is in
 * store_index.h and store_index_log.c.
 *
 * Life cycle
 *  - open: the directory's latest INDEX_SEG is hash-checked and decoded, its
 *    nodes are renumbered from segment order (vector-id rank) to slots, the
 *    INDEX_LOG chain after it is applied, and slots the graph still lacks
 *    (vectors another writer appended, p30) are inserted. Nothing is
 *    rebuilt. A damaged or inconsistent INDEX_SEG is ignored with a
 *    warning (rvf_open_warning) that says the next ingest rebuilds it;
 *    queries take the exact scan until then. The open never fails because
 *    of the index.
 *  - ingest: new slots are inserted into the graph before the commit, and
 *    the commit carries the changed nodes (store_index_batch). With no
 *    index, the policy (store_index.h) may build one here. Upserted slots
 *    are re-linked (store_index_repair.c).
 *  - delete: nothing changes; tombstoned nodes route searches and are never
 *    returned (skip = s->deleted). Like the reference, the graph holds every
 *    stored record, deleted ones included.
 *  - compaction: deleted nodes are dropped from the graph and the links that
 *    pointed at them are repaired (no rebuild); the compacted file gets a
 *    fresh checkpoint in its only commit.
 *  - query (rvf_query_ex without exact/filter): hnsw_search_ex with a scratch
 *    from a small pool (concurrent const readers are safe). ef = ef_search,
 *    else the stored default, else max(64, k). Too few results -> exact
 *    fallback (p35). A time budget that runs out returns RVF_E_TIMEOUT with
 *    the best results found so far in out/nout.
 */
#include "distance.h"
#include "errors.h"
#include "store_index.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

/* Appends to an earlier warning (e.g. a torn tail) instead of hiding. */
static void idx_warn(rvf_store *s, const char *fmt, const char *detail)
{
	size_t n = strlen(s->warning);
	if (n && n + 3 < sizeof s->warning) {
		s->warning[n++] = ';';
		s->warning[n++] = '\n';
	}
	if (n + 1 < sizeof s->warning)
		snprintf(s->warning + n, sizeof s->warning - n, fmt, s->path, detail);
}

struct store_index *idx_new(hnsw_index *g)
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

void idx_free(struct store_index *x)
{
	if (!x)
		return;
	hnsw_free(x->g);
	for (int i = 0; i < x->npool; i++)
		hnsw_scratch_free(x->pool[i]);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

struct index_log *ilog_get(rvf_store *s)
{
	if (!s->ilog)
		s->ilog = calloc(1, sizeof *s->ilog);
	return s->ilog;
}

static void prefetch_drop(rvf_store *s);

void store_index_free(rvf_store *s)
{
	prefetch_drop(s);
	idx_free(s->index);
	s->index = NULL;
	if (s->ilog)
		free(s->ilog->chain);
	free(s->ilog);
	s->ilog = NULL;
}

/* Point the graph at the slot array (it may have moved or been compacted). */
void idx_storage(const rvf_store *s, struct store_index *x)
{
	hnsw_set_storage(x->g, s->vecs, s->stride);
	x->storage_stale = 0;
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
	/* The log after the checkpoint: a damaged chain only costs the
	 * insertions below (its nodes are re-inserted) and a checkpoint at the
	 * next commit. */
	const char *lwhy = ilog_load(s, g, e);
	if (lwhy) {
		x->need_checkpoint = 1;
		idx_warn(s, "%s: INDEX_LOG not applied (%s); the vectors it covered were re-inserted "
			    "into the index, the next write stores a new checkpoint", lwhy);
	}
	idx_storage(s, x);
	if (!s->read_only && hnsw_track_changes(g, 1)) {
		idx_free(x);
		return "out of memory";
	}
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
	x->persisted = missing == 0 && !x->need_checkpoint;
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
	ilog_settings_load(s);
	const rvf_dir_entry *e = latest_index(s->dir, s->ndir);
	if (!e) {
		prefetch_drop(s);
		return 0;
	}
	const char *why = load_index(s, e);
	if (why) {
		struct index_log *l = ilog_get(s);
		if (l)
			l->broken = 1;
		idx_warn(s, "%s: INDEX segment ignored (%s); queries use the exact scan until the index is "
			    "rebuilt (by the next ingest, or rvf index)", why);
	}
	return 0;
}

/* ---- ingest -------------------------------------------------------------- */

static void drop_graph(rvf_store *s, const char *what)
{
	idx_free(s->index);
	s->index = NULL;
	struct index_log *l = ilog_get(s);
	if (l)
		l->broken = 1;
	snprintf(s->warning, sizeof s->warning,
		 "%s: %s; the index was dropped (queries use the exact scan; the next ingest or "
		 "rvf index rebuilds it)", s->path, what);
}

/* Whether an ingest should build the missing index now. */
static int want_build(rvf_store *s)
{
	struct index_log *l = ilog_get(s);
	size_t live = s->nslots - s->ndeleted;
	if (!l || !live || s->nslots > HNSW_MAX_NODES)
		return 0;
	switch (ilog_policy(s)) {
	case RVF_INDEX_ON:
		return 1;
	case RVF_INDEX_OFF:
		return 0;
	default:
		return l->broken || live >= IDX_AUTO_MIN;
	}
}

int store_index_ingested(rvf_store *s, size_t first_new_slot)
{
	struct store_index *x = s->index;
	if (!x) {
		if (!want_build(s))
			return 0;
		hnsw_index *g = NULL;
		int err = idx_build_graph(s, 0, 0, &g);
		if (err == RVF_E_NOMEM) {
			drop_graph(s, "out of memory building the HNSW index");
			return 0;
		}
		if (err)
			return err;
		if (!(x = idx_new(g))) {
			hnsw_free(g);
			drop_graph(s, "out of memory building the HNSW index");
			return 0;
		}
		x->need_checkpoint = 1;
		idx_storage(s, x);
		s->index = x;
		s->ilog->broken = 0;
		return 0;
	}
	x->persisted = 0;
	idx_storage(s, x); /* the slot array may have been reallocated */
	/* new slots are contiguous and absent from the graph; big batches are
	 * linked on every core */
	const struct index_log *l = s->ilog;
	hnsw_set_tombstones(x->g, s->deleted); /* new nodes link live ones */
	int err = s->nslots > first_new_slot
			  ? hnsw_insert_parallel(x->g, (uint32_t)first_new_slot, (uint32_t)(s->nslots - first_new_slot),
						 idx_threads(s), l ? l->progress : NULL, l ? l->progress_ctx : NULL)
			  : 0;
	hnsw_set_tombstones(x->g, NULL);
	if (err) {
		/* An index missing vectors would give wrong answers. */
		drop_graph(s, "out of memory updating the HNSW index");
		return 0;
	}
	return 0;
}

/* ---- compaction ---------------------------------------------------------- */

int store_index_compacted(rvf_store *s, const uint32_t *remap, size_t nold)
{
	struct store_index *x = s->index;
	struct index_log *l = s->ilog;
	if (l) {
		/* the compacted file starts without index segments: its commit
		 * writes the settings again (and a checkpoint, below) */
		l->settings_dirty = 1;
		if (!x) {
			l->has_base = 0;
			l->nchain = 0;
		}
	}
	if (!x)
		return 0;
	uint32_t nnew = 0;
	for (size_t i = 0; i < nold; i++)
		if (remap[i] != META_SLOT_NONE && remap[i] + 1 > nnew)
			nnew = remap[i] + 1;
	size_t live = 0;
	for (size_t i = 0; i < nold; i++)
		live += remap[i] != META_SLOT_NONE;
	hnsw_index *ng = (double)(nold - live) >= IDX_REBUILD_PURGED * (double)nold
				 ? idx_rebuild_compacted(s, x->g, remap, nold, nnew)
				 : idx_compact_graph(s, x->g, remap, nold, nnew);
	if (!ng || hnsw_track_changes(ng, 1)) {
		hnsw_free(ng);
		return -1; /* no memory: purge_deleted changes nothing */
	}
	hnsw_free(x->g);
	x->g = ng;
	x->persisted = 0;
	x->need_checkpoint = 1; /* the compacted file starts a new chain */
	x->storage_stale = 1;   /* slots move after this hook returns */
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
	size_t ef = o->ef_search ? o->ef_search : s->ilog && s->ilog->ef_search ? s->ilog->ef_search : IDX_MIN_EF;
	if (!o->ef_search && ef < k)
		ef = k;
	if (o->info)
		o->info->ef_search = (uint32_t)(ef < k ? k : ef); /* hnsw_search_ex raises ef to k */
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


/* ---- statistics ---------------------------------------------------------- */

int rvf_get_index_stats(const rvf_store *s, rvf_index_stats *st)
{
	memset(st, 0, sizeof *st);
	const struct index_log *l = s->ilog;
	if (l) {
		st->policy = l->policy;
		st->ef_search = l->ef_search;
		st->rebuild_needed = l->broken && !s->index;
		if (l->has_base) {
			st->checkpoint_bytes = l->base.len;
			st->log_bytes = l->chain_bytes;
			st->log_segments = (uint32_t)l->nchain;
		}
	}
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
