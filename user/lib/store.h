/* store.h — in-memory state of an open RVF file, shared by the store_*.c
 * files. Layering: format (bytes) <- store (state) <- index/CLI. */
#ifndef RVF_STORE_H
#define RVF_STORE_H

#include "format.h"
#include "idmap.h"
#include "meta.h"
#include "meta_dict.h"
#include "rvf.h"
#include <stddef.h>
#include <stdint.h>

/* Vectors live in one aligned array, `stride` floats per slot (dimension
 * rounded up to 16 so SIMD rows stay 64-byte aligned). A slot is a stored id;
 * deleted slots stay until compaction, like the file's records. */
struct rvf_store {
	char *path;
	int fd;
	int read_only;

	const uint8_t *map; /* read-only mapping of the file, map_len bytes */
	int map_borrowed;   /* map is the caller's buffer (rvf_open_buffer) */
	uint64_t map_len;
	uint64_t file_size; /* where the next segment is appended */

	uint32_t dim;
	uint32_t stride;
	rvf_metric metric;
	uint8_t profile;
	uint32_t epoch;
	uint64_t manifest_offset; /* current manifest's header offset */
	uint64_t next_seg_id;

	int has_identity;
	uint8_t file_id[16], parent_id[16], parent_hash[32];
	uint32_t lineage_depth;

	/* directory the next manifest will carry */
	rvf_dir_entry *dir;
	size_t ndir, dir_cap;

	uint64_t *ids;    /* slot -> id */
	float *vecs;      /* slot -> stride floats (anonymous mapping) */
	size_t vecs_bytes;
	uint8_t *deleted; /* slot -> 1 if in the deletion list */
	size_t nslots, slot_cap;
	size_t ndeleted;  /* deleted slots */
	idmap slot_of;

	/* COW branch (spec §15): parent vectors visible through the membership
	 * bitmap are slots with inh[slot] = 1 (inh is NULL for plain files). A
	 * child write of such an id makes the slot local; a child delete of a
	 * parent-only id clears its membership bit instead of listing it. */
	int is_cow;
	struct store_cow *cow;
	uint8_t *inh;
	size_t ninherited;   /* slots with inh = 1 */
	size_t ndeleted_inh; /* of those, hidden since open */
	int frozen;          /* rvf_freeze: no writes through any handle */

	/* deletion-list ids that name no stored vector (kept verbatim) */
	uint64_t *orphan_del;
	size_t norphan_del;

	/* live-index cache for rvf_live_get, rebuilt after mutations */
	uint32_t *live;
	size_t nlive;
	int live_dirty;

	meta_table *meta; /* slot -> typed fields (store_meta.c) */
	meta_dict dict;   /* field names (store_meta.c), persisted as an RVMF META_SEG */
	int dict_dirty;   /* dict changed: the next commit writes it */
	struct store_index *index; /* HNSW over the slots, or NULL (store_index.c) */
	struct index_prefetch *index_pf; /* graph decoding during open */
	struct index_log *ilog;    /* index settings + persisted form (store_index.h) */
	struct store_quant *quant; /* int8 / binary codes of the slots, or NULL (store_quant.c) */

	uint8_t witness_prev[32]; /* chain head: H(last witness payload in the file) */
	int witness_head_known;   /* witness_prev loaded from the file (store_witness.c) */

	double auto_ratio;    /* rvf_set_auto_compact; 0 = off */
	uint64_t auto_min;

	/* commit buffer kept between commits: a fresh one per batch costs page
	 * faults on every commit */
	uint8_t *scratch;
	size_t scratch_cap;

	char warning[512]; /* non-fatal open report (e.g. manifest fallback) */
	uint64_t unhashed_end; /* rvf_unhashed_end of the file at open */
	uint64_t damaged_manifest; /* newest manifest skipped as damaged, or UINT64_MAX */
	uint64_t rollback_offset; /* an intact manifest of a higher epoch after the last listed data, 0 if none */
	uint32_t rollback_epoch;
	/* rvf_recover --output: listed segments that do not load are left out */
	int salvage;
	uint64_t salvage_dropped, salvage_first;
};

/* store_load_cow depth of a store opened from a buffer: no parent lookup */
#define COW_DEPTH_BUFFER (-1)

/* store_open_depth flag (internal): open for salvage (see above) */
#define STORE_OPEN_SALVAGE (1u << 16)

/* store_open.c: (re)map the whole file; store_mapped() does it only when the
 * file grew since, so commits do not pay for a mapping nobody reads. The
 * mapping is a cache, so const readers may refresh it. */
int store_map(rvf_store *s);
int store_mapped(const rvf_store *s);
/* store_open.c: create (with lineage fields for derive), open with a bound
 * on COW parent recursion */
int store_create(const char *path, const rvf_create_opts *o, const rvf_identity *lineage, rvf_store **out);
int store_open_depth(const char *path, unsigned flags, int depth, rvf_store **out);
/* Read only, as if the file ended after its first `size` bytes (what a
 * truncation to size would leave). */
int store_open_prefix(const char *path, uint64_t size, rvf_store **out);
/* store_cow.c: resolve the parent of a branch and merge its visible vectors */
int store_load_cow(rvf_store *s, int depth);

/* store_compact.c: writes the state of s (opened for salvage) compacted
 * into a new file at out. */
int store_salvage_write(rvf_store *s, const char *out, rvf_compact_result *res);

/* store_durable.c: 1 if the segment at off (mapped) has a valid content
 * hash, or an unset one where the file's writer sets none (format.h). */
int store_hash_ok(const rvf_store *s, uint64_t off, const rvf_seg_hdr *h);
/* fsync of the directory holding path: 0 or -1 (errno). */
int store_fsync_dir(const char *path);
/* realpath(path), or a copy of path if it cannot be resolved (malloc). */
char *store_real_path(const char *path);
/* Creates the compaction temp file of the store at path: a new file with a
 * unique name "<stem>.rvf.compact.XXXXXX.tmp" beside the real file, O_EXCL,
 * 0600. The fd and *tmp (malloc), or -1 (errno). */
int store_compact_tmp_create(const char *path, char **tmp);
/* A writer holding the lock removes a temp file a killed compaction left. */
void store_remove_stale_tmp(rvf_store *s);
/* 1: the commit of the manifest at moff is a freeze (its witness says so),
 * 0: another of our commits, -1: unknown (no witness of ours before it). */
int store_commit_froze(const uint8_t *f, uint64_t len, uint64_t ue, uint64_t moff);
/* store_check.c: the commits of a file, shared by check and recover */
typedef struct {
	int has_cur;       /* open's choice: the newest intact manifest */
	uint64_t cur_off, cur_end;
	uint32_t cur_epoch;
	uint64_t cur_bad;  /* offset of the first damaged segment it lists; 0: none */
	int has_good;      /* the newest intact manifest listing only intact segments */
	uint64_t good_off, good_end;
	uint32_t good_epoch;
} store_commits;
int store_find_commits(const uint8_t *f, uint64_t len, uint64_t ue, store_commits *c);
/* Complete segments in [from, len). */
uint64_t store_segments_in(const uint8_t *f, uint64_t len, uint64_t from);
/* 1 if a process holds the writer lock on fd's file, 0 if not, -1 unknown. */
int store_writer_active(int fd);

/* store_walk.c: fn returns non-zero to stop the walk (that value is
 * returned). Only segments whose whole payload is in the file are visited. */
typedef int (*store_seg_fn)(void *ctx, uint64_t off, const rvf_seg_hdr *h);
int store_walk(const rvf_store *s, store_seg_fn fn, void *ctx);

/* store_space.c: bytes a compaction would drop (rvf_status.dead_bytes) */
uint64_t store_dead_bytes(const rvf_store *s);

/* store_slots.c */
int store_reserve_slots(rvf_store *s, size_t extra);
/* Upserts one vector; clears a deletion mark. */
int store_put(rvf_store *s, uint64_t id, const float *v);
int store_dir_append(rvf_store *s, const rvf_dir_entry *e);
/* Sorted, de-duplicated deletion list for the next manifest (malloc). */
int store_deleted_list(const rvf_store *s, uint64_t **out, size_t *n);
int store_rebuild_live(rvf_store *s); /* 0 or -1 (no memory) */

/* store_commit.c: appends `data` (already-encoded segments listed in
 * `entries`, offsets relative to the start of `data`), a witness covering
 * them (witness_action is required: every commit is witnessed) and a
 * manifest at epoch s->epoch + 1 (same epoch with same_epoch), and makes
 * it durable. */
typedef struct {
	uint8_t *buf;
	size_t len, cap;
	rvf_dir_entry *ents;
	uint8_t *verbatim; /* 1: header copied from another file, keep it */
	size_t nents, ents_cap;
	int same_epoch; /* create and freeze: the manifest keeps the epoch */
} seg_batch;

int batch_add(rvf_store *s, seg_batch *b, uint8_t type, const uint8_t *payload, uint64_t len);
/* Reserves room for a segment and returns its payload pointer (hash is
 * computed at commit). */
uint8_t *batch_add_raw(rvf_store *s, seg_batch *b, uint8_t type, uint64_t len);
/* Copies a whole segment (header + payload) unchanged, keeping its id. */
int batch_add_verbatim(rvf_store *s, seg_batch *b, const uint8_t *seg, uint64_t payload_len);
/* store_witness.c: appends the commit's witness to b: linked to the last
 * witness in the file (loaded once per handle), covering every segment
 * already in b. 0 or a negative rvf_err (rvf_fail called). */
int store_witness_add(rvf_store *s, seg_batch *b, const char *action, uint8_t type);
int store_commit(rvf_store *s, seg_batch *b, const char *witness_action, uint8_t witness_type);
void batch_free(seg_batch *b);
/* RVF_OK, or the error for a read-only / failed / COW handle. */
int store_writable(rvf_store *s);

/* store_meta.c */
int store_meta_init(rvf_store *s);
int store_meta_load(rvf_store *s, const rvf_dir_entry *e, const rvf_seg_hdr *h);
int store_meta_batch(rvf_store *s, seg_batch *b, const uint64_t *ids, size_t n);
/* Adds the dictionary to a commit when it changed, dropping the older
 * dictionary segments from the directory. */
int store_dict_batch(rvf_store *s, seg_batch *b);
/* Every field of a named id must have the dictionary's type (RVF_E_ARG,
 * naming row and field). */
int store_meta_check_names(const rvf_store *s, const rvf_field *const *fields, const size_t *nfields,
			   size_t n);
int store_slot_matches(const rvf_store *s, size_t slot, const rvf_filter *f);

/* store_index.c: the HNSW index over the slots (persisted in INDEX_SEG).
 * store_index_query returns 0 when it answered, 1 to fall back to the exact
 * scan, or a negative rvf_err. */
int store_index_open(rvf_store *s);
/* Starts decoding the manifest's INDEX_SEG on a second thread; open joins
 * it in store_index_open (close, on a failed open). */
void store_index_prefetch(rvf_store *s, const rvf_manifest *m);
/* Before the ingest's commit: inserts the new slots (or builds the index
 * when the policy asks for one). Never fails the ingest: on trouble the
 * index is dropped with a warning. */
int store_index_ingested(rvf_store *s, size_t first_new_slot);
/* store_commit's hooks: add the INDEX_SEG / INDEX_LOG the commit must carry
 * (and fix the directory); then record what was written. */
int store_index_batch(rvf_store *s, seg_batch *b);
void store_index_committed(rvf_store *s, int ok);
/* Offsets of listed index segments that are still live (checkpoint +
 * chain), for dead-space accounting: 1 if off is one. */
int store_index_live_seg(const rvf_store *s, uint64_t off);
/* 1 if a type-0x40 payload is our INDEX_LOG (another writer's 0x40
 * segments are unknown types: kept through compaction, never read). */
int store_index_log_ours(const uint8_t *payload, uint64_t len);
/* Existing slots whose vectors an ingest replaced: re-linked in the graph. */
int store_index_upserted(rvf_store *s, const uint32_t *slots, size_t n);
int store_index_query(const rvf_store *s, const float *q, const rvf_query_opts *o, size_t k, rvf_hit *out,
		      size_t *nout);
int store_index_compacted(rvf_store *s, const uint32_t *remap, size_t nold);
void store_index_free(rvf_store *s);

/* store_cow.c: write side of branches */
struct store_cow {
	char *parent_rel;        /* parent path relative to the child's dir */
	uint8_t base_id[16], base_hash[32];
	uint8_t *bits;           /* membership bitmap over parent ids (owned) */
	uint64_t nbits;
	uint32_t clusters;       /* COW map cluster count */
	uint8_t frozen;
	uint32_t frozen_epoch;
};
/* Adds the fresh COW_MAP and MEMBERSHIP every branch commit carries and
 * drops the old ones from the directory. */
int store_cow_segments(rvf_store *s, seg_batch *b);
void store_cow_free(rvf_store *s);
/* Marks a live slot deleted, with the branch rules for parent ids. */
void store_mark_deleted(rvf_store *s, uint32_t slot);

/* store_quant.c: SQ8 / binary codes of the slots (QUANT_SEG holds the
 * quantizer parameters). store_quant_query returns 0 when it answered, 1 to
 * fall back to the exact scan, or a negative rvf_err. The hooks never fail
 * an open or a commit: on trouble the codes are dropped with a warning. */
int store_quant_open(rvf_store *s);
int store_quant_ingested(rvf_store *s, size_t first_new_slot, const uint32_t *upserted, size_t nups);
int store_quant_query(const rvf_store *s, const float *q, const rvf_query_opts *o, size_t k, rvf_hit *out,
		      size_t *nout);
int store_quant_compacted(rvf_store *s, const uint32_t *remap, size_t nold);
void store_quant_free(rvf_store *s);

#endif
