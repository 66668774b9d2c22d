/* store_index.h — shared by store_index*.c only: the in-memory HNSW index
 * of a store and the state of its persisted form.
 *
 * On disk the index is a checkpoint (an INDEX_SEG in the reference's layout,
 * rvf-format.md §14) plus a chain of INDEX_LOG segments (type 0x40, ours;
 * docs/index.md): each commit that changes the graph appends one INDEX_LOG
 * holding the full link lists of the nodes it changed, keyed by vector id,
 * and a back-pointer to the previous INDEX_LOG. The directory lists the
 * checkpoint and the newest INDEX_LOG only; the newest one also carries the
 * index settings (policy, default efSearch). The reference ignores the
 * INDEX_LOG (unknown type, kept through its compaction) and loads the
 * checkpoint, inserting the vectors it lacks itself (§14, p30).
 */
#ifndef RVF_STORE_INDEX_H
#define RVF_STORE_INDEX_H

#include "hnsw.h"
#include "store.h"
#include <pthread.h>

#define IDX_SEED 0x5256464958ull /* level draws: deterministic builds */
#define IDX_POOL 16               /* idle scratches kept for readers */
#define IDX_DEFAULT_M 16
#define IDX_DEFAULT_EFC 200
#define IDX_MIN_EF 64
#define IDX_AUTO_MIN 20000        /* policy auto: build at this many live vectors */
/* A checkpoint replaces the chain once the chain's bytes pass this fraction
 * of the checkpoint's (growth per commit ~ delta * (1 + 1/FOLD)). */
#define IDX_FOLD 0.5

struct store_index {
	hnsw_index *g;
	int persisted;        /* the file's checkpoint + chain encode this graph */
	int need_checkpoint;  /* next commit writes a full INDEX_SEG */
	int storage_stale;    /* slots moved (compaction): set_storage before use */
	int degenerate;       /* loaded graph with many linkless nodes (p35): exact */
	pthread_mutex_t lock; /* guards the scratch pool and storage refresh */
	hnsw_scratch *pool[IDX_POOL];
	int npool;
};

/* Identity of a segment a log entry points at. */
typedef struct {
	uint64_t off, seg_id, len;
	uint8_t hash[16];
} seg_ref;

struct index_log {
	/* settings (the newest INDEX_LOG's) */
	uint8_t policy;       /* RVF_INDEX_AUTO / ON / OFF */
	uint32_t ef_search;   /* 0: max(64, k) */
	int session_policy;   /* rvf_set_index_policy: 1 + policy, 0 = stored */
	int settings_dirty;
	int broken;           /* the file's index could not be used: rebuild */
	/* the listed checkpoint and the chain of logs after it */
	int has_base;
	seg_ref base;
	seg_ref *chain;       /* oldest first; chain[nchain-1] is listed */
	size_t nchain, chain_cap;
	uint64_t chain_bytes; /* payload bytes of the chain */
	/* staged by store_index_batch, applied by store_index_committed */
	int pending;
	int pend_ckpt;
	seg_ref pend_base, pend_log;
	/* progress callback of builds */
	rvf_progress_fn progress;
	void *progress_ctx;
	unsigned threads;     /* build threads, 0 = online CPUs */
};

/* store_index.c */
struct store_index *idx_new(hnsw_index *g);
void idx_free(struct store_index *x);
void idx_storage(const rvf_store *s, struct store_index *x);
struct index_log *ilog_get(rvf_store *s); /* allocated on first use; NULL: no memory */

/* store_index_log.c: INDEX_LOG codec and chain */
/* Applies the chain (checkpoint already decoded and renumbered into g).
 * Returns NULL, or why it was not (fully) applied. */
const char *ilog_load(rvf_store *s, hnsw_index *g, const rvf_dir_entry *base);
void ilog_settings_load(rvf_store *s);
int ilog_policy(rvf_store *s);

/* store_index_build.c: graph over every slot, tracking on */
int idx_build_graph(rvf_store *s, uint32_t m, uint32_t efc, hnsw_index **out);
unsigned idx_default_threads(void); /* online CPUs, capped */
unsigned idx_threads(const rvf_store *s); /* rvf_set_index_threads or the default */
/* Compaction rebuilds instead of repairing links from this share of
 * purged nodes on (a repair cannot bridge large holes). */
#define IDX_REBUILD_PURGED 0.1

/* store_index_repair.c */
hnsw_index *idx_compact_graph(const rvf_store *s, const hnsw_index *g, const uint32_t *remap, size_t nold,
			      uint32_t nnew);
hnsw_index *idx_rebuild_compacted(const rvf_store *s, const hnsw_index *g, const uint32_t *remap, size_t nold,
				  uint32_t nnew);

#endif
