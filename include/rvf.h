/* rvf.h — public C API of the rvf store.
 *
 * A store is one RVF file: an append-only sequence of segments whose current
 * state is described by the newest manifest. Files written here use the
 * layout of the reference's npm binding 0.2.x ("G2") and stay readable by it.
 *
 * Every function returns RVF_OK (0) or a negative rvf_err. After a failure,
 * rvf_last_error() gives a sentence for the calling thread naming the file
 * and, where it applies, the byte offset. A failed open never changes the file.
 *
 * Threads: a call on a store needs it alone, except that rvf_query,
 * rvf_query_ex, rvf_get_meta, rvf_live_count, rvf_dimension, rvf_get_metric
 * and rvf_path may run at the same time from several threads on one store
 * while no other call runs on it (tests/unit/test_concurrent_read.c). A
 * caller sharing a store between threads therefore holds a read/write lock
 * (the Python binding does).
 */
#ifndef RVF_H
#define RVF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with -fvisibility=hidden: what this header declares
 * is its whole exported interface (librvf.so exports exactly these
 * functions; mk/shared.mk). */
#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility push(default)
#endif

typedef enum {
	RVF_OK = 0,
	RVF_E_IO = -1,           /* read/write/fsync/mmap failed (errno in message) */
	RVF_E_NOMEM = -2,
	RVF_E_ARG = -3,          /* invalid argument from the caller */
	RVF_E_EXISTS = -4,       /* create: path already exists */
	RVF_E_NOENT = -5,        /* file does not exist */
	RVF_E_NO_MANIFEST = -6,  /* no decodable manifest in the file */
	RVF_E_CORRUPT = -7,      /* structure damaged (bad lengths, offsets, magic) */
	RVF_E_CHECKSUM = -8,     /* content hash mismatch */
	RVF_E_DIMENSION = -9,    /* vector length differs from the store's */
	RVF_E_READONLY = -10,    /* write on a read-only handle */
	RVF_E_LOCKED = -11,      /* another writer holds the file */
	RVF_E_PARENT = -12,      /* COW parent missing or changed */
	RVF_E_UNSUPPORTED = -13, /* valid file feature this build cannot handle */
	RVF_E_NOT_FOUND = -14,   /* requested item (segment, kernel, ebpf) absent */
	RVF_E_TIMEOUT = -15,
} rvf_err;

const char *rvf_strerror(int err);
/* Detailed message of the last failure on this thread ("" if none). */
const char *rvf_last_error(void);

typedef enum {
	RVF_METRIC_L2 = 0,     /* squared Euclidean */
	RVF_METRIC_IP = 1,     /* negated dot product */
	RVF_METRIC_COSINE = 2, /* 1 - cos */
} rvf_metric;

const char *rvf_metric_name(rvf_metric m); /* "l2", "inner_product", "cosine" */
/* Accepts l2/L2, ip/inner_product, cosine. Returns 0 or RVF_E_ARG. */
int rvf_metric_parse(const char *s, rvf_metric *out);

typedef struct rvf_store rvf_store;

/* ---- metadata ------------------------------------------------------------
 * Each vector may carry typed fields, persisted in META_SEGs (layout in
 * docs/METADATA.md), returned with query results and usable in filters. */
typedef enum {
	RVF_FIELD_U64 = 0,
	RVF_FIELD_I64 = 1,
	RVF_FIELD_F64 = 2,
	RVF_FIELD_STRING = 3,
	RVF_FIELD_BOOL = 4,
} rvf_field_type;

typedef struct {
	uint16_t id;
	uint8_t type; /* rvf_field_type */
	union {
		uint64_t u64;
		int64_t i64;
		double f64;
		_Bool b;
		struct {
			const char *ptr; /* UTF-8, not NUL-terminated in general */
			uint32_t len;
		} str;
	} v;
} rvf_field;

/* Field names (docs/METADATA.md §8): a dictionary name -> {field id, type}
 * persisted in the file (an "RVMF" META_SEG that reference readers skip),
 * kept by compaction and inherited by rvf_derive children.
 * rvf_field_define returns the id of name, defining it with type (and the
 * highest id not in use) when new; a name already defined with another
 * type is RVF_E_ARG. A new name is written with the next commit (ingest,
 * delete, compact...). Once named, every value of that field id must have
 * the name's type (rvf_ingest_meta fails otherwise). */
int rvf_field_define(rvf_store *s, const char *name, int type, uint16_t *id);
/* RVF_E_NOT_FOUND for an unknown name; id/type may be NULL. */
int rvf_field_lookup(const rvf_store *s, const char *name, uint16_t *id, int *type);
/* The name of a field id, or NULL; *type (may be NULL) gets its type. */
const char *rvf_field_name(const rvf_store *s, uint16_t id, int *type);

/* A parsed filter: the reference CLI grammar ({"eq":{"field":0,"value":5}},
 * and/or/not, plus in/range) or the Node binding's ({"op":"eq",...}). */
typedef struct filter rvf_filter;
int rvf_filter_parse(const char *json, rvf_filter **out); /* message in rvf_last_error */
/* Same, where fields may be given by name ("field": "tag"), looked up in s's
 * dictionary (unknown name: RVF_E_ARG); literals take the field's type when
 * they convert exactly (5 -> 5.0 for an f64 field). */
int rvf_filter_parse_names(const rvf_store *s, const char *json, rvf_filter **out);
void rvf_filter_free(rvf_filter *f);

typedef struct {
	uint32_t dimension; /* 1..65535 */
	rvf_metric metric;
	uint8_t profile;
} rvf_create_opts;

enum {
	RVF_OPEN_READONLY = 1 << 0, /* no lock, writes fail with RVF_E_READONLY */
	RVF_OPEN_WAIT = 1 << 1,     /* writers: wait for the lock instead of failing */
};

int rvf_create(const char *path, const rvf_create_opts *opts, rvf_store **out);
int rvf_open(const char *path, unsigned flags, rvf_store **out);
/* Read-only store over len bytes of a whole .rvf file held in memory (no
 * copy: data must stay valid and unchanged until rvf_close). A COW branch
 * is refused (RVF_E_PARENT): its parent is another file. */
int rvf_open_buffer(const void *data, size_t len, rvf_store **out);
/* Non-fatal report from open ("" if none), e.g. that a torn newest manifest
 * was skipped and the previous one used. Callers should show it. */
const char *rvf_open_warning(const rvf_store *s);
/* Releases memory, mapping and lock. Safe on NULL. */
void rvf_close(rvf_store *s);

uint32_t rvf_dimension(const rvf_store *s);
rvf_metric rvf_get_metric(const rvf_store *s);
const char *rvf_path(const rvf_store *s);

/* ---- writing ---------------------------------------------------------- */
typedef struct {
	uint64_t accepted;
	uint64_t rejected;
	uint32_t epoch;
} rvf_ingest_result;

/* Appends n vectors (n * dimension floats, row-major). Duplicate ids upsert
 * (last wins); an id that was deleted becomes live again. n == 0 writes
 * nothing. One commit: VEC_SEG, WITNESS_SEG, MANIFEST_SEG, fsync. */
int rvf_ingest(rvf_store *s, const uint64_t *ids, const float *vectors, size_t n,
	       rvf_ingest_result *res);
/* Same, with fields[i][0..nfields[i]) as the metadata of row i (fields or
 * nfields may be NULL: no metadata). An upsert replaces the metadata too. */
int rvf_ingest_meta(rvf_store *s, const uint64_t *ids, const float *vectors, size_t n,
		    const rvf_field *const *fields, const size_t *nfields, rvf_ingest_result *res);
/* Metadata of a live id: 0 with *n fields (pointers valid until the next
 * write), RVF_E_NOT_FOUND if the id is not live. */
int rvf_get_meta(const rvf_store *s, uint64_t id, const rvf_field **fields, size_t *n);

typedef struct {
	uint64_t deleted; /* ids that were live and are now deleted */
	uint32_t epoch;
} rvf_delete_result;

int rvf_delete(rvf_store *s, const uint64_t *ids, size_t n, rvf_delete_result *res);
/* Deletes every live vector the filter matches; writes nothing (and keeps
 * the epoch) when none does, as the reference. */
int rvf_delete_filter(rvf_store *s, const rvf_filter *f, rvf_delete_result *res);

typedef struct {
	uint64_t segments_compacted; /* reference naming: deleted vectors purged */
	uint64_t bytes_reclaimed;    /* file bytes actually reclaimed */
	uint64_t vectors_before, vectors_after;
	uint64_t file_size_before, file_size_after;
	uint32_t epoch;
} rvf_compact_result;

/* Rewrites the file beside itself, fsyncs, renames over it, fsyncs the dir. */
int rvf_compact(rvf_store *s, rvf_compact_result *res);

/* Auto-compaction: after a delete, compact when deleted / stored vectors
 * reaches `dead_ratio` (and at least `min_deleted` are deleted). Off by
 * default (dead_ratio 0): compaction rewrites the whole file, which a caller
 * deleting in a loop should decide on. The RVF_AUTO_COMPACT environment
 * variable ("0.3" or "0.3:1000") sets it for every store opened for writing. */
int rvf_set_auto_compact(rvf_store *s, double dead_ratio, uint64_t min_deleted);

/* ---- reading ---------------------------------------------------------- */
typedef struct {
	uint64_t id;
	float distance;
} rvf_hit;

/* Exact top-k with the file's metric. `out` holds k entries; *nout gets the
 * number written (min(k, live)). Sorted by ascending distance, ties by id.
 * Distances are bit-identical to a sequential f32 sum over dimensions. */
int rvf_query(const rvf_store *s, const float *query, uint32_t dim, size_t k, rvf_hit *out,
	      size_t *nout);

typedef struct {
	size_t k;
	const rvf_filter *filter; /* NULL: none */
	uint32_t ef_search;       /* 0: default; ignored by exact search */
	uint32_t timeout_ms;      /* 0: none. When the HNSW search runs out of time,
				   * RVF_E_TIMEOUT is returned with the best results
				   * found so far in out / *nout (sorted); the exact
				   * scan does not time out. */
	int exact;                /* 1: exact scan even when an index exists */
	int quant;                /* 0 none, 1 sq8, 2 binary: scan the codes of
				   * rvf_quantize, rerank a shortlist exactly */
	uint32_t rerank;          /* shortlist size, 0 = 4*k */
	struct rvf_query_info *info; /* optional: which path answered */
} rvf_query_opts;

/* What answered a query (rvf_query_opts.info): the HNSW index (with the
 * efSearch it used), the SQ8/binary codes (with the shortlist size), or the
 * exact scan (also when the index or codes could not: filters, too few
 * live nodes, no quantizer). */
enum { RVF_QPATH_EXACT = 0, RVF_QPATH_INDEX = 1, RVF_QPATH_QUANT = 2 };
typedef struct rvf_query_info {
	int path;           /* RVF_QPATH_* */
	uint32_t ef_search; /* RVF_QPATH_INDEX: efSearch used */
	uint32_t rerank;    /* RVF_QPATH_QUANT: shortlist reranked exactly */
} rvf_query_info;

int rvf_query_ex(const rvf_store *s, const float *query, uint32_t dim, const rvf_query_opts *o,
		 rvf_hit *out, size_t *nout);

typedef struct {
	uint64_t total_vectors; /* live vectors of this file (as the reference counts) */
	uint64_t inherited_vectors; /* COW branch: parent vectors visible here */
	uint64_t stored_vectors; /* distinct ids in VEC segments incl. deleted */
	uint64_t deleted_vectors;
	uint64_t total_segments; /* manifest directory entries */
	uint64_t file_size;
	uint32_t epoch;
	uint32_t dimension;
	rvf_metric metric;
	uint8_t profile_id;
	double dead_space_ratio; /* deleted / stored, as the reference reports */
	uint64_t dead_bytes;     /* bytes compaction would drop: old manifests,
				  * journals, superseded index segments,
				  * unlisted segments, deleted records */
	int read_only;
	int frozen;              /* rvf_freeze: every writer refuses */
	uint64_t visible_vectors; /* what a query can return: own live + inherited */
} rvf_status;

int rvf_get_status(const rvf_store *s, rvf_status *st);

/* Every vector a query can return (own live + inherited), in a stable order;
 * index i in [0, rvf_live_count). */
uint64_t rvf_live_count(const rvf_store *s);
int rvf_live_get(const rvf_store *s, uint64_t i, uint64_t *id, const float **vec);

/* ---- HNSW index ----------------------------------------------------------
 * Persisted in INDEX_SEG with the reference's layout, loaded at open (no
 * rebuild), maintained on ingest once it exists, used by rvf_query_ex unless
 * opts.exact or a filter is given. */
typedef struct {
	int present;
	uint32_t m, ef_construction;
	uint64_t nodes;     /* graph nodes (live + tombstoned) */
	uint32_t max_level;
	int persisted;      /* 1 if the file (checkpoint + log) holds this graph */
	uint64_t memory_bytes;
	/* settings and persisted form (also filled when present = 0) */
	int policy;              /* RVF_INDEX_AUTO / ON / OFF, as stored */
	uint32_t ef_search;      /* stored default; 0 = max(64, k) */
	uint64_t checkpoint_bytes; /* INDEX_SEG payload of the checkpoint */
	uint64_t log_bytes;      /* INDEX_LOG payloads chained to it */
	uint32_t log_segments;
	int rebuild_needed;      /* the file's index was unusable; next ingest rebuilds */
} rvf_index_stats;

/* Index policy (stored in the file, overridable per handle):
 * AUTO builds the index when an ingest leaves >= 20000 live vectors, ON
 * builds it at the first ingest, OFF never builds one. An existing index is
 * always kept current, whatever the policy: every commit that changes it
 * appends an INDEX_LOG with the changed nodes (O(batch) bytes) in the same
 * commit as the vectors, folded into a new INDEX_SEG checkpoint when the
 * log passes half the checkpoint's size. */
enum { RVF_INDEX_AUTO = 0, RVF_INDEX_ON = 1, RVF_INDEX_OFF = 2 };
#define RVF_INDEX_AUTO_MIN 20000

/* Build progress: done of total vectors inserted (called from the building
 * thread, at most ~100 times per build plus once at the end). */
typedef void (*rvf_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Builds the index over every stored vector (m 0 -> 16, ef 0 -> 200) on
 * every online CPU (rvf_set_index_threads) and persists it (INDEX_SEG +
 * INDEX_LOG + manifest). */
int rvf_index_build(rvf_store *s, uint32_t m, uint32_t ef_construction);
/* Writes what the file lacks of the graph (a log entry or a checkpoint),
 * and pending settings; nothing when it is current. Needs a writable handle. */
int rvf_index_persist(rvf_store *s);
int rvf_get_index_stats(const rvf_store *s, rvf_index_stats *st);
/* This handle's policy (ingest --index), not stored; -1 = the stored one. */
int rvf_set_index_policy(rvf_store *s, int policy);
/* Stores the defaults in the file (one commit): policy (-1 keeps it) and
 * efSearch (0 keeps it; a query's opts.ef_search overrides it). */
int rvf_index_configure(rvf_store *s, int policy, uint32_t ef_search);
/* Build threads (0 = online CPUs, 1 = deterministic single-thread build)
 * and progress callback (NULL = none) for this handle's builds. */
int rvf_set_index_threads(rvf_store *s, unsigned threads);
int rvf_set_index_progress(rvf_store *s, rvf_progress_fn fn, void *ctx);

/* ---- quantization ---------------------------------------------------------
 * SQ8 (quant8.h: per-dimension offset, one global scale, the codes the XDP
 * maps hold) and 1-bit codes (the sign of each int8 component). rvf_quantize
 * computes the parameters over the live vectors, persists them in a
 * QUANT_SEG (+ manifest) and encodes every vector; the codes are rebuilt
 * from the parameters at open and kept up to date on ingest / compaction.
 * rvf_query_ex with opts.quant scans the codes, keeps the best opts.rerank
 * candidates and reranks them with exact f32 distances. Without a
 * quantizer, opts.quant falls back to the exact scan. */
enum { RVF_QUANT_NONE = 0, RVF_QUANT_SQ8 = 1, RVF_QUANT_BINARY = 2 };
int rvf_quantize(rvf_store *s, int type);

/* ---- segments and lineage -------------------------------------------- */
typedef struct {
	uint64_t seg_id;
	uint64_t offset;
	uint64_t payload_length;
	uint8_t seg_type;
} rvf_segment_info;

size_t rvf_segment_count(const rvf_store *s);
int rvf_segment_get(const rvf_store *s, size_t i, rvf_segment_info *out);
/* "Vec", "Manifest", ... as the reference CLI names them; "Unknown" else. */
const char *rvf_segment_type_name(uint8_t seg_type);

typedef struct {
	uint8_t file_id[16];
	uint8_t parent_id[16];
	uint8_t parent_hash[32];
	uint32_t lineage_depth;
} rvf_identity;

int rvf_get_identity(const rvf_store *s, rvf_identity *out);

/* Creates `child_path` derived from `parent` (new file id, parent id, parent
 * hash = fold32 of the parent file's last 64 KiB, depth + 1, same dimension,
 * metric and profile). With `branch` the child reads through to the
 * parent's live vectors (COW_MAP + MEMBERSHIP, found beside it by a relative
 * path) and takes its own writes on top; without, it starts empty like the
 * reference's derive. The parent may be read-only. */
int rvf_derive(rvf_store *parent, const char *child_path, int branch, rvf_store **child);
/* Makes the file read-only for every later writer (a SEALED manifest; a
 * branch also records frozen + epoch in its COW map). The epoch is kept. */
int rvf_freeze(rvf_store *s);
/* Branches only: hide the listed parent ids (include = 0), or hide every
 * parent id not listed (include = 1). Persisted in MEMBERSHIP_SEG. */
int rvf_membership(rvf_store *s, const uint64_t *ids, size_t n, int include);
/* Branches only: writes a REFCOUNT_SEG (spec §15.3) whose count per parent
 * cluster is 1 while the branch still sees a vector of it, else 0.
 * *clusters gets the cluster count, *local the clusters holding an id the
 * branch overrides. RVF_E_NOT_FOUND for a plain file. */
int rvf_rebuild_refcounts(rvf_store *s, uint32_t *clusters, uint32_t *local);

/* ---- embedded programs ------------------------------------------------- */
typedef struct {
	uint8_t program_type; /* 0 XdpDistance, 1 TcFilter, 2 SocketFilter, ... */
	uint8_t attach_type;  /* 0 XdpIngress, 1 TcIngress, 2 TcEgress, ... */
	uint16_t max_dimension;
	const uint8_t *program;
	size_t program_size;
	const uint8_t *btf;
	size_t btf_size;
} rvf_ebpf;

/* Appends an EBPF_SEG (reference header layout) and commits. */
int rvf_embed_ebpf(rvf_store *s, const rvf_ebpf *prog, uint64_t *seg_id);
/* Number of EBPF_SEGs in the directory and the i-th one (pointers into the
 * store's mapping, valid until the store is closed or written). */
size_t rvf_ebpf_count(const rvf_store *s);
int rvf_ebpf_get(const rvf_store *s, size_t i, rvf_ebpf *out);
/* The raw payload of the i-th EBPF_SEG (64-byte header, program, BTF;
 * content hash checked; pointers into the store's mapping) and, if si is
 * not NULL, its directory entry. RVF_E_NOT_FOUND if there is no i-th one. */
int rvf_ebpf_payload(const rvf_store *s, size_t i, const uint8_t **payload, uint64_t *len,
		     rvf_segment_info *si);

typedef struct {
	uint8_t arch, kernel_type;
	uint32_t flags;
	uint16_t api_port;
	const uint8_t *image;
	size_t image_size;
	const char *cmdline; /* not NUL-terminated */
	size_t cmdline_len;
} rvf_kernel;

/* Appends a KERNEL_SEG in the KernelBinding layout (docs/SECURITY.md §3:
 * BLAKE2b-256 of the image, policy and current manifest) and commits with an
 * "embed-kernel:" witness. rvf_embed_kernel_bound also binds an initramfs
 * (initrd->image; NULL: none), written in the same commit as the next
 * KERNEL_SEG (legacy layout, command line RVF_INITRAMFS_MARKER). */
int rvf_embed_kernel(rvf_store *s, const rvf_kernel *k, uint64_t *seg_id);
/* The first KERNEL_SEG of the directory (content hash checked), decoded. */
int rvf_kernel_get(const rvf_store *s, rvf_kernel *out);
/* Number of KERNEL_SEGs in the directory; the raw payload of the i-th one
 * (content hash checked; pointers into the store's mapping). */
size_t rvf_kernel_count(const rvf_store *s);
int rvf_kernel_payload(const rvf_store *s, size_t i, const uint8_t **payload, uint64_t *len,
		       rvf_segment_info *si);

/* The one KERNEL_SEG payload decoder (spec §12, both layouts). 0, or -1 with
 * *why (static text) if the payload is not a kernel segment. */
#define RVF_KERNEL_BINDING_SIZE 128
#define RVF_INITRAMFS_MARKER "rvf.role=initramfs"
typedef struct {
	rvf_kernel k;             /* pointers into the payload */
	const uint8_t *binding;   /* the 128-byte KernelBinding, or NULL (legacy layout) */
	uint64_t cmdline_offset;  /* 128 or 256 */
	const uint8_t *image_hash; /* header image_hash: fold32(image), 32 bytes */
} rvf_kernel_view;
int rvf_kernel_decode(const uint8_t *payload, uint64_t len, rvf_kernel_view *v, const char **why);
/* Is this KERNEL_SEG the initramfs companion (command line RVF_INITRAMFS_MARKER)? */
int rvf_kernel_is_initramfs(const rvf_kernel *k);

/* ---- integrity: signatures and attestation (docs/SECURITY.md) -----------
 * Ed25519 over the current manifest plus a BLAKE2b digest of every byte
 * before the CRYPTO_SEG; verification reads the raw file. */
/* Fresh Ed25519 key pair: 32-byte seed (the secret) and public key. */
int rvf_keygen(uint8_t seed[32], uint8_t pubkey[32]);
/* Public key of a seed. */
void rvf_key_public(const uint8_t seed[32], uint8_t pubkey[32]);

/* Key files (docs/SECURITY.md §2.1), as `rvf keygen` writes them: KEY holds
 * the label line "RVF-ED25519-SECRET-KEY" and the seed as 64 hex digits
 * (mode 0600), KEY.pub the public key as 64 hex digits. rvf_key_write
 * writes both through a temp file and link/rename (never through a
 * symlink; force: replace existing files). rvf_key_read_secret refuses a
 * public key, rvf_key_read_public a secret one; path_or_hex may also be the
 * 64 hex digits themselves. */
int rvf_key_write(const char *path, const uint8_t seed[32], int force);
int rvf_key_read_secret(const char *path, uint8_t seed[32]);
int rvf_key_read_public(const char *path_or_hex, uint8_t pubkey[32]);

typedef struct {
	uint64_t crypto_seg_id;
	uint64_t crypto_offset;   /* header offset of the new CRYPTO_SEG */
	uint64_t manifest_offset; /* the signed manifest */
	uint64_t manifest_seg_id;
	uint64_t covered_len;     /* file bytes covered by the prefix digest */
	uint32_t epoch;           /* epoch after the signature commit */
	uint8_t pubkey[32];
} rvf_sign_result;

/* Signs the current state of a writable store and commits the CRYPTO_SEG
 * (one commit: CRYPTO_SEG, WITNESS "sign:...", MANIFEST). Refuses a store
 * whose open reported an unfinished tail (RVF_E_CORRUPT). */
int rvf_sign(rvf_store *s, const uint8_t seed[32], rvf_sign_result *res);

enum {
	RVF_SIG_OK = 0,        /* signature valid, prefix intact, state current */
	RVF_SIG_UNSIGNED,      /* no CRYPTO_SEG of ours in the file */
	RVF_SIG_MALFORMED,     /* CRYPTO_SEG undecodable / signed manifest missing */
	RVF_SIG_WRONG_KEY,     /* signed by another public key */
	RVF_SIG_BAD_SIGNATURE, /* Ed25519 verification failed */
	RVF_SIG_PREFIX_CHANGED,/* covered bytes changed */
	RVF_SIG_STATE_CHANGED, /* valid signature, later commits only appended */
	RVF_SIG_SIGNED_CHANGED,/* valid signature, but later commits deleted or
				  modified signed records: fails even with allow_append */
};

/* Ids of changed records: how many, and the first RVF_SIG_LIST of them. */
#define RVF_SIG_LIST 16
typedef struct {
	uint64_t n;
	uint64_t ids[RVF_SIG_LIST];
} rvf_id_list;

typedef struct {
	int status;             /* RVF_SIG_* */
	int valid;              /* status == RVF_SIG_OK (or STATE_CHANGED with allow_append) */
	char reason[200];
	uint64_t crypto_segments; /* CRYPTO_SEGs in the file (any format) */
	uint64_t crypto_seg_id, crypto_offset;
	uint64_t manifest_offset, manifest_seg_id, covered_len;
	uint64_t signed_at_ns;
	uint8_t pubkey[32];     /* key named in the CRYPTO_SEG */
	int signature_ok, prefix_ok, state_current;
	/* signed state vs the current one (when the current manifest is a later
	 * one): vector ids live at signing and now deleted / with a different
	 * record, live ids added since; segment ids of signed directory entries
	 * no longer listed: kernel/eBPF/other payloads (a change) or VEC, INDEX,
	 * QUANT, META, COW_MAP, MEMBERSHIP entries that our writers merge or
	 * rebuild (superseded: the records are compared instead); entries listed
	 * since (CRYPTO_SEGs aside); dimension, metric, profile or identity
	 * changed */
	rvf_id_list vec_deleted, vec_modified, vec_appended;
	rvf_id_list seg_removed, seg_superseded, seg_appended;
	int header_changed;
	uint64_t bytes_after;   /* file bytes after the CRYPTO_SEG */
	/* §18.5 per-segment footers (SIGNED flag): counted, not verifiable
	 * without SHAKE-256 */
	uint64_t footer_signed_segments;
} rvf_sig_report;

/* pubkey NULL: check against the key named in the file (integrity only, no
 * authenticity). allow_append: a valid signature over an older state still
 * passes (state_current = 0 is reported). Returns 0 (see r->valid) or a
 * negative rvf_err when the file cannot be read. */
int rvf_verify_signature(const char *path, const uint8_t *pubkey, int allow_append, rvf_sig_report *r);

/* Witness chain and content hashes (docs/SECURITY.md §1), read from the raw
 * file (a damaged file is reported segment by segment, never opened as a
 * store). Link algorithms: */
enum { RVF_WALG_FOLD32 = 0, RVF_WALG_BLAKE2B = 1 };
#define RVF_VERIFY_MAX_ISSUES 64

typedef struct {
	uint64_t seg_id;
	uint64_t offset;  /* header offset in the file */
	uint8_t seg_type; /* 0 for damage between segments */
	char reason[160];
} rvf_verify_issue;

typedef struct {
	int valid;              /* no issue at all */
	int chain_valid;        /* every witness link matches */
	uint64_t entries;       /* witness segments found (decodable or not) */
	uint64_t restarts;      /* zero prev_hash after the first witness */
	uint64_t links_fold32;  /* verified non-zero links, per algorithm */
	uint64_t links_blake2b;
	uint64_t witnesses_blake2b; /* witnesses carrying the BLAKE2b mark */
	uint64_t witnesses_covering; /* ... with a coverage block (§1.2) */
	uint64_t covered;           /* coverage entries checked */
	uint64_t covered_bad;       /* covered payloads that changed (or are gone) */
	uint64_t covered_compacted; /* covered segments gone in a later compaction */
	uint64_t segments;      /* segments walked */
	uint64_t hash_bad;      /* segments whose content hash does not match */
	uint64_t hash_unset;    /* segments with an all-zero content hash */
	int has_manifest;
	uint64_t manifest_offset;
	uint64_t listed;        /* directory entries of the current manifest */
	uint64_t listed_bad;    /* ... that are missing, mistyped or hash-bad */
	uint64_t damaged_bytes; /* bytes not belonging to any complete segment */
	uint8_t head[32];       /* H(last witness payload): the chain head */
	int head_alg;           /* RVF_WALG_* of the head */
	uint64_t first_ts, last_ts;
	size_t nissues;         /* issues recorded (capped) */
	uint64_t issues_total;  /* issues found */
	rvf_verify_issue issues[RVF_VERIFY_MAX_ISSUES]; /* file order; [0] is first bad */
} rvf_witness_report;

/* 0 (report filled; r->valid says the verdict) or a negative rvf_err when
 * the file cannot be read. */
int rvf_verify_witness(const char *path, rvf_witness_report *r);

/* Kernel attestation: image hash (fold32, as the reference), layout, and
 * our KernelBinding (BLAKE2b of the bound manifest and policy). */
enum { RVF_ATT_VALID = 0, RVF_ATT_PARTIAL = 1, RVF_ATT_INVALID = 2, RVF_ATT_NO_KERNEL = 3 };
enum {
	RVF_BIND_NONE = 0,         /* legacy layout (cmdline_offset 128) */
	RVF_BIND_OK,               /* ours, every hash matches */
	RVF_BIND_MISMATCH,         /* ours, a hash differs / reference binding_version 0 */
	RVF_BIND_UNVERIFIABLE,     /* reference binding: algorithm unknown */
	RVF_BIND_STALE,            /* ours, the bound manifest is no longer in the file */
};

typedef struct {
	uint64_t seg_id, offset;
	uint64_t payload_length;
	int magic_ok, content_hash_ok, layout_ok;
	uint8_t arch, kernel_type;
	uint32_t flags;
	uint16_t api_port;
	uint64_t image_size;
	uint64_t cmdline_offset;
	uint32_t cmdline_len;
	uint8_t stored_hash[32], computed_hash[32];
	int image_hash_ok;
	int has_binding, binding_ours;
	uint16_t binding_version, min_runtime_version;
	uint64_t allowed_segment_mask;
	uint8_t manifest_root_hash[32], policy_hash[32];
	uint64_t bound_manifest_offset; /* ours */
	int image_b2b_ok, policy_ok, manifest_ok; /* ours; -1 = not checked */
	int binding_status; /* RVF_BIND_* */
	int is_initramfs;   /* the initramfs companion segment (RVF_INITRAMFS_MARKER) */
	uint64_t initrd_offset; /* kernels with binding_version 2: the bound initramfs
				   segment (right after this one); 0 if none */
	uint8_t payload_digest[32]; /* BLAKE2b-256 of the whole payload checked, so a
				       loader can make sure it boots exactly these bytes */
	int verdict;        /* RVF_ATT_VALID / PARTIAL / INVALID */
	char note[240];     /* why not VALID, or what was verified */
} rvf_kernel_attest;

#define RVF_ATTEST_MAX 8
typedef struct {
	int verdict; /* worst of the kernels; RVF_ATT_NO_KERNEL if none */
	size_t nkernels;   /* kernels checked (listed ones, at most RVF_ATTEST_MAX) */
	uint64_t kernels_total;
	rvf_kernel_attest k[RVF_ATTEST_MAX];
} rvf_attest_report;

int rvf_verify_attestation(const char *path, rvf_attest_report *r);

/* rvf_embed_kernel with an optional initramfs bound in the same binding
 * (binding_version 2), the binding's runtime version / segment mask, and
 * the initramfs segment id. */
int rvf_embed_kernel_bound(rvf_store *s, const rvf_kernel *k, const rvf_kernel *initrd,
			   uint16_t min_runtime_version, uint64_t allowed_segment_mask, uint64_t *seg_id,
			   uint64_t *initrd_seg_id);

const char *rvf_att_verdict_name(int v); /* "valid", "partial", "invalid", "no_kernel" */
const char *rvf_bind_status_name(int b);

/* ---- durability: integrity scan and recovery (docs/SECURITY.md) -------- */
typedef struct {
	int clean;                  /* no problem found */
	uint64_t file_size;
	uint64_t segments;          /* complete segments walked */
	uint64_t manifests;         /* decodable, intact MANIFEST_SEGs */
	uint64_t problems;          /* problems found (the first is described) */
	uint64_t first_bad_offset;  /* file offset of the first problem; UINT64_MAX if clean */
	char first_problem[240];
	int has_commit;             /* a commit opens (the state rvf_open shows) */
	uint32_t epoch;             /* its epoch */
	uint64_t manifest_offset;   /* its manifest */
	uint64_t good_end;          /* end of that commit (+ its trailing witnesses) */
	int state_intact;           /* that state loads and every segment it lists is intact */
	uint64_t dead_problems;     /* problems before good_end in bytes the state does not use
				     * (superseded or unlisted segments, old manifests, junk) */
	uint64_t first_dead_offset; /* the first of those; UINT64_MAX if none */
	uint64_t tail_bytes;        /* bytes after good_end (torn or unfinished commit) */
} rvf_check_report;

/* Full integrity scan of the file at path (read only, no lock): every
 * segment header and content hash, every manifest, the current manifest's
 * directory, bytes between and after segments. Returns RVF_OK with the
 * report filled (r->clean says whether it is damaged) or an error if the
 * file cannot be read. */
int rvf_check(const char *path, rvf_check_report *r);

typedef struct {
	int changed;                /* 0: the file was not changed */
	char backup[4096];          /* in place: the byte-identical copy made first */
	uint64_t size_before, size_after;
	uint32_t epoch;             /* epoch of the recovered state */
	uint64_t vectors;           /* live vectors in it */
	uint64_t segments_dropped;  /* in place: complete segments cut off; salvage: damaged
				     * listed segments left out */
	uint64_t bytes_dropped;     /* in place: bytes cut off */
	uint64_t first_dropped_offset; /* UINT64_MAX if none */
	uint32_t epochs_dropped;    /* in place: commits (epochs) rolled back */
	uint64_t vectors_lost;      /* in place: intact vectors (salvage keeps them) the
				     * rollback drops; > 0 only with RVF_RECOVER_TRUNCATE */
	rvf_check_report after;     /* rvf_check of the result */
} rvf_recover_result;

enum {
	/* in place: roll back even when that drops intact committed vectors */
	RVF_RECOVER_TRUNCATE = 1 << 0,
};

/* output == NULL: in place. Finds the last good commit (the newest intact
 * manifest whose listed segments are all intact); if the file extends past
 * it, copies the file to PATH.bak (PATH.bak.N if that exists) and truncates
 * it there. When the current state is damaged and the rollback would drop
 * intact vectors that salvage keeps, refuses with RVF_E_CORRUPT (the
 * message says how much and points to salvage) unless RVF_RECOVER_TRUNCATE.
 * Refuses (RVF_E_LOCKED) while another process holds the writer lock.
 * output != NULL: salvage into a new file (refuses to overwrite): every
 * intact segment of the newest intact commit (damaged ones left out), the
 * intact witnesses, compacted. The damaged file is not changed. res->after
 * says whether the result is clean (damage in bytes the state does not use
 * is not removed in place: `rvf compact` or salvage rewrites without it). */
int rvf_recover(const char *path, const char *output, unsigned flags, rvf_recover_result *res);

#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
