/* hnsw.h — standalone HNSW graph over a caller-owned vector array, and the
 * INDEX_SEG codec (rvf-format.md §14, the reference's G2 layout).
 *
 * Nodes are the caller's slot numbers (dense 0..n-1). The index never owns
 * vectors: node i's vector is read at base + i*stride floats (see
 * hnsw_set_storage; call it again whenever the caller's array moves).
 * Nodes may be inserted in any order; a slot that was never inserted is
 * "absent" (no links, never returned).
 *
 * Distances: traversal uses a fast SIMD f32 kernel (AVX-512 / AVX2+FMA /
 * scalar, chosen like distance.h, RVF_SIMD honoured); the reported results
 * are recomputed with rvf_dist_exact, so they are bit-identical to an exact
 * scan's distances for the same node.
 *
 * Deletions are the caller's business: hnsw_search takes a per-node skip
 * array (tombstones). Skipped nodes still route the search but are never
 * returned.
 *
 * Threading: an index is single-writer; hnsw_search uses scratch memory
 * inside the index, so concurrent searches need one hnsw_scratch per thread
 * (hnsw_search_ex) and no concurrent insert.
 */
#ifndef RVF_HNSW_H
#define RVF_HNSW_H
#include "topk.h"
#include <stddef.h>
#include <stdint.h>

typedef struct hnsw_index hnsw_index;
typedef struct hnsw_scratch hnsw_scratch;

#define HNSW_MAX_M 2048      /* M accepted by hnsw_new and the decoder */
#define HNSW_MAX_LEVEL 31    /* levels drawn above this are clamped */
#define HNSW_MAX_NODES 0x7ffffffeu
#define HNSW_PARTIAL 1       /* hnsw_search: deadline hit, results are partial */

/* metric: rvf_metric (0 L2, 1 IP, 2 cosine). M >= 2 (layer 0 keeps 2M
 * links, upper layers M); ef_construction >= 1; seed drives the level
 * draws (same seed + same insert order -> same graph). NULL on bad
 * arguments or no memory. */
hnsw_index *hnsw_new(uint32_t dim, int metric, uint32_t M, uint32_t ef_construction,
		     uint64_t seed);
void hnsw_free(hnsw_index *idx);

/* Vector of node i = base + i*stride floats (stride >= dim). Must cover
 * every node inserted so far; the index keeps only the pointer. */
void hnsw_set_storage(hnsw_index *idx, const float *base, size_t stride);

/* Add node (its vector must be readable). Returns 0, RVF_E_ARG if the node
 * is already present or out of range, RVF_E_NOMEM. */
int hnsw_insert(hnsw_index *idx, uint32_t node);

/* Inserts nodes 0..n-1 (none may be present yet) on `threads` threads
 * (1: in order, same graph as hnsw_insert in a loop). Several threads
 * lock each node's lists while reading or changing them; the result is
 * not deterministic but of the same quality. progress (may be NULL) is
 * called with (ctx, done, n) from the calling thread. */
int hnsw_build_parallel(hnsw_index *idx, uint32_t n, unsigned threads,
			void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx);
/* Same for nodes first..first+n-1 (none present) into a graph that may
 * already hold others; tracked changes are recorded (thread-safe). */
int hnsw_insert_parallel(hnsw_index *idx, uint32_t first, uint32_t n, unsigned threads,
			 void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx);

/* k nearest present nodes to q (dim floats), skipping nodes with
 * skip[node] != 0 (skip may be NULL; if given it must cover every node,
 * see hnsw_capacity). ef = size of the layer-0 candidate list, used as
 * given except that it is raised to k when smaller (0 is treated as k).
 * budget_ms > 0 bounds the search time; when it runs out the best results
 * found so far are returned with HNSW_PARTIAL. out (k items) gets node
 * numbers (in .id) with exact distances, ascending (ties by node).
 * Returns 0, HNSW_PARTIAL, or a negative rvf_err: RVF_E_NOMEM, RVF_E_ARG
 * (no storage set, or set_storage not called after decode/renumber). */
int hnsw_search(hnsw_index *idx, const float *q, size_t k, size_t ef, const uint8_t *skip,
		double budget_ms, rvf_topk_item *out, size_t *nout);

/* Re-entrant variant: scratch from hnsw_scratch_new (one per thread). Also
 * reports the number of distance evaluations if ndist != NULL. */
hnsw_scratch *hnsw_scratch_new(void);
void hnsw_scratch_free(hnsw_scratch *s);
int hnsw_search_ex(const hnsw_index *idx, hnsw_scratch *s, const float *q, size_t k, size_t ef,
		   const uint8_t *skip, double budget_ms, rvf_topk_item *out, size_t *nout,
		   uint64_t *ndist);

/* ---- inspection and raw construction ---------------------------------- */
uint32_t hnsw_dim(const hnsw_index *idx);
int hnsw_metric(const hnsw_index *idx);
uint32_t hnsw_m(const hnsw_index *idx);
uint32_t hnsw_ef_construction(const hnsw_index *idx);
uint32_t hnsw_capacity(const hnsw_index *idx); /* 1 + highest node ever added */
uint32_t hnsw_count(const hnsw_index *idx);    /* present nodes */
int hnsw_level(const hnsw_index *idx, uint32_t node); /* -1 if absent */
/* Entry node and its top layer; returns -1 when the index is empty. */
int hnsw_entry(const hnsw_index *idx, uint32_t *node, int *max_level);
/* Links of node at layer (0..level); NULL with *count = 0 if none. */
const uint32_t *hnsw_links(const hnsw_index *idx, uint32_t node, int layer, uint32_t *count);
size_t hnsw_memory(const hnsw_index *idx); /* bytes held (graph + caches) */

/* Raw graph construction (decoder, tests): add node with a given top
 * level and no links; then set links (every link must be a present node
 * having that layer; count <= 2M at layer 0, <= M above); then the entry.
 * Cosine norms are cached from the storage; nodes added without storage
 * get theirs at the next hnsw_set_storage. */
int hnsw_add_node(hnsw_index *idx, uint32_t node, int level);
int hnsw_set_links(hnsw_index *idx, uint32_t node, int layer, const uint32_t *links,
		   uint32_t count);
int hnsw_set_entry(hnsw_index *idx, uint32_t node);

/* Deleted nodes for the inserts and relinks that follow: nodes with
 * tomb[n] != 0 still route their searches but are not chosen as links of
 * the new node (a link to a node no query returns wastes one of the M
 * slots; a revived node is re-linked). tomb must cover every node while
 * set; NULL (the default) clears it. The index keeps only the pointer. */
void hnsw_set_tombstones(hnsw_index *idx, const uint8_t *tomb);

/* Link repair (a node's vector changed; tests). hnsw_relink sets node's
 * list at layer to the neighbour-selection heuristic's choice (as an
 * insert makes it) among cands: n distinct present nodes having that
 * layer, node excluded. hnsw_link_to adds the link from -> to at layer,
 * shrinking from's full list with the same heuristic. Both need the
 * storage set. Return 0, RVF_E_ARG, RVF_E_NOMEM. */
int hnsw_relink(hnsw_index *idx, uint32_t node, int layer, const uint32_t *cands, size_t n);
int hnsw_link_to(hnsw_index *idx, uint32_t from, uint32_t to, int layer);

/* Renumber nodes: node i becomes map[i] (i < hnsw_capacity; map injective
 * on present nodes, values < new_capacity; absent nodes' entries ignored).
 * Use after hnsw_decode to move segment nodes to store slots; slots that
 * receive no node are absent and can be hnsw_insert-ed afterwards.
 * Call hnsw_set_storage afterwards, with the array in the new numbering,
 * before searching or inserting (cached cosine norms are recomputed). */
int hnsw_renumber(hnsw_index *idx, const uint32_t *map, uint32_t new_capacity);

/* ---- change tracking (incremental persistence) ----------------------- */
/* While tracking is on, every node whose level or link lists change
 * (insert, its neighbours' back-links, set_links, add_node, renumber keeps
 * the set) is remembered once. hnsw_changes returns them (in first-change
 * order) and *overflow = 1 if a change could not be recorded (no memory:
 * treat every node as changed). Returns RVF_E_NOMEM if tracking cannot
 * start. */
int hnsw_track_changes(hnsw_index *idx, int on);
const uint32_t *hnsw_changes(const hnsw_index *idx, size_t *n, int *overflow);
void hnsw_changes_clear(hnsw_index *idx);

/* ---- INDEX_SEG codec (§14) --------------------------------------------- */
/* Encodes the present nodes. node_ids[i] = vector id of node i (for every
 * i < hnsw_capacity; absent nodes' values are ignored); ids of present
 * nodes must be distinct. Segment node k is the present node with the k-th
 * smallest id. *payload is malloc'ed. seg_to_node, if not NULL, receives a
 * malloc'ed array: seg_to_node[k] = node. Returns 0, RVF_E_ARG (empty index,
 * duplicate ids), RVF_E_NOMEM. */
int hnsw_encode(const hnsw_index *idx, const uint64_t *node_ids, uint8_t **payload,
		size_t *len, uint32_t **seg_to_node);

/* Decodes and validates an INDEX_SEG payload. On success *out is an index
 * whose node k is segment node k (M, ef_construction from the segment;
 * dim/metric/seed as given), *ids (malloc'ed, *n entries) maps segment node
 * -> vector id, strictly ascending. Vectors are not needed to decode; call
 * hnsw_set_storage (or hnsw_renumber) before searching. Returns 0,
 * RVF_E_CORRUPT (any inconsistency; nothing allocated), RVF_E_ARG (dim 0,
 * bad metric), RVF_E_NOMEM. A valid graph may still be useless (p35: all
 * lists empty): treat *nout < min(k, live count) from hnsw_search as "fall
 * back to an exact scan", as the reference does.
 *
 * Typical open path: decode; map[k] = slot of vector id ids[k] (every k
 * must map, or drop the index); hnsw_renumber(idx, map, nslots);
 * hnsw_set_storage(idx, vectors, stride); hnsw_insert each slot whose
 * hnsw_level is -1 (vectors appended after the index was written). */
int hnsw_decode(const uint8_t *payload, size_t len, uint32_t dim, int metric, uint64_t seed,
		hnsw_index **out, uint64_t **ids, uint64_t *n);

#ifdef HNSW_INTERNAL
/* ---- shared by hnsw_*.c only ------------------------------------------ */
typedef float (*hnsw_dist_fn)(const float *a, const float *b, uint32_t dim);

typedef struct {
	float d;
	uint32_t id;
} hnsw_pair;

struct hnsw_scratch {
	uint32_t *visited; /* epoch stamps, vcap entries */
	uint32_t vcap, epoch;
	hnsw_pair *cand, *res, *tmp; /* heaps / work lists */
	size_t ccap, rcap, tcap;
};

struct hnsw_index {
	uint32_t dim, M, M0, efc;
	int metric;
	uint64_t rng;
	double mult;
	const float *base;
	size_t stride;
	uint32_t cap, alloc, count;
	int8_t *level;   /* -1 absent */
	uint32_t *l0;    /* alloc * (1 + M0): count, links */
	uint32_t *uoff;  /* upper layers of node: offset into upool, layer l>=1 at
			    uoff + (l-1)*(1+M) */
	uint32_t *upool;
	size_t ulen, ucap;
	float *sqn;      /* cosine: squared norm per node */
	int sqn_stale;   /* cosine norms need recomputing (set_storage does) */
	uint32_t entry;
	int max_level;   /* -1 empty */
	hnsw_dist_fn l2, dot;
	hnsw_scratch scratch;
	/* change tracking: chg[node] = 1 once listed in chl */
	int track, chg_overflow;
	uint8_t *chg;
	uint32_t *chl;
	size_t nchl, chl_cap;
	/* parallel build only: one spin lock byte per node guarding its link
	 * lists (NULL otherwise: no locking) */
	uint8_t *locks;
	uint8_t chl_lock; /* guards chl while locks != NULL */
	const uint8_t *tomb; /* hnsw_set_tombstones */
};

static inline const float *hnsw_vec(const hnsw_index *x, uint32_t n)
{
	return x->base + (size_t)n * x->stride;
}
static inline uint32_t *hnsw_list(const hnsw_index *x, uint32_t n, int layer)
{
	if (layer == 0)
		return x->l0 + (size_t)n * (1 + x->M0);
	return x->upool + x->uoff[n] + (size_t)(layer - 1) * (1 + x->M);
}
int hnsw_grow(hnsw_index *x, uint32_t need);
int hnsw_scratch_reserve(hnsw_scratch *s, uint32_t nodes, size_t ef);
float hnsw_qdist(const hnsw_index *x, const float *q, float qq, uint32_t n);
/* Best-first search of one layer from eps; results (<= ef, skip[] nodes
 * excluded) left in s->res sorted ascending; returns their number. Needs
 * hnsw_scratch_reserve(s, x->cap, ef). deadline: CLOCK_MONOTONIC ns or 0;
 * *timed_out set when it passed. ndist may be NULL. */
size_t hnsw_search_layer(const hnsw_index *x, hnsw_scratch *s, const float *q, float qq,
			 const hnsw_pair *eps, size_t neps, int layer, size_t ef,
			 const uint8_t *skip, uint64_t deadline, uint64_t *ndist, int *timed_out);
/* Greedy descent from the entry point down to layer `to`. */
hnsw_pair hnsw_descend(const hnsw_index *x, const float *q, float qq, int to, uint64_t *ndist);
/* Same from node ep whose top layer is top. */
hnsw_pair hnsw_descend_from(const hnsw_index *x, const float *q, float qq, uint32_t ep, int top, int to,
			    uint64_t *ndist);
/* Links an added node (level lvl, no links yet) into the graph entered at
 * ep / top, using scratch s (reserved for x->cap nodes and efc). */
void hnsw_link_node(hnsw_index *x, hnsw_scratch *s, uint32_t node, int lvl, uint32_t ep, int top);
int hnsw_random_level(hnsw_index *x);
/* Spin-wait hint: PAUSE on x86; other targets (wasm32) just spin. */
static inline void hnsw_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}
static inline void hnsw_lock(const hnsw_index *x, uint32_t n)
{
	if (!x->locks)
		return;
	while (__atomic_test_and_set(&x->locks[n], __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&x->locks[n], __ATOMIC_RELAXED))
			hnsw_cpu_relax();
}
static inline void hnsw_unlock(const hnsw_index *x, uint32_t n)
{
	if (x->locks)
		__atomic_clear(&x->locks[n], __ATOMIC_RELEASE);
}
void hnsw_refresh_norms(hnsw_index *x);
/* Records a change of node n (no-op unless tracking). */
void hnsw_touch(hnsw_index *x, uint32_t n);
#endif
#endif
