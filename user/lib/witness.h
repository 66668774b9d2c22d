/* witness.h — WITNESS_SEG chain verification (spec §11) and the file-level
 * helpers shared by the verifiers (witness.c, sign.c, attest.c).
 *
 * Verification never opens the file as a store: a damaged file (a VEC whose
 * content hash is wrong makes rvf_open fail) must still be reported segment
 * by segment. Files are read whole (mmap) and walked in file order.
 *
 * Chain rule (docs/SECURITY.md §1): a witness whose prev_hash is 32 zero
 * bytes starts a new chain (every open, every compaction). Otherwise its
 * prev_hash must equal H(payload of the previous witness in file order),
 * where H is chosen by the witness holding the prev_hash:
 *   action ends with RVF_WITNESS_B2B_MARK  -> BLAKE2b-256 (unkeyed, libsodium
 *                                             crypto_generichash, 32-byte out)
 *   otherwise                               -> fold32 (§11.3, reference)
 */
#ifndef RVF_WITNESS_H
#define RVF_WITNESS_H

#include "format.h"
#include <stddef.h>
#include <stdint.h>

/* Suffix of the action string of witnesses chained with BLAKE2b-256. */
#define RVF_WITNESS_B2B_MARK ",h=blake2b"

enum { RVF_WALG_FOLD32 = 0, RVF_WALG_BLAKE2B = 1 };

/* BLAKE2b-256 (unkeyed) of data: the link hash of our own witnesses. */
void rvf_blake2b256(const uint8_t *data, size_t len, uint8_t out[32]);
/* Link algorithm a witness declares (RVF_WALG_*). */
int rvf_witness_alg(const rvf_witness *w);
/* H(payload) with the given algorithm. */
void rvf_witness_link(int alg, const uint8_t *payload, size_t len, uint8_t out[32]);

/* ---- report --------------------------------------------------------- */
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
	int head_alg;
	uint64_t first_ts, last_ts;
	size_t nissues;         /* issues recorded (capped) */
	uint64_t issues_total;  /* issues found */
	rvf_verify_issue issues[RVF_VERIFY_MAX_ISSUES]; /* file order; [0] is first bad */
} rvf_witness_report;

/* 0 (report filled; r->valid says the verdict) or a negative rvf_err when
 * the file cannot be read. */
int rvf_verify_witness(const char *path, rvf_witness_report *r);
int rvf_verify_witness_buf(const uint8_t *f, size_t len, rvf_witness_report *r);

/* ---- file helpers shared by the verifiers ---------------------------- */
typedef struct {
	const uint8_t *data;
	size_t len;
	void *map_base; /* munmap target, or NULL */
	size_t map_len;
} vfile;

int vfile_open(const char *path, vfile *vf); /* rvf_err; message via rvf_fail */
void vfile_close(vfile *vf);

/* Segment visitor: off = header offset, complete header decoded. gap > 0
 * reports `gap` bytes of damage before `off` (off == len: at the end). */
typedef int (*vwalk_fn)(void *ctx, uint64_t off, const rvf_seg_hdr *h);
typedef void (*vgap_fn)(void *ctx, uint64_t off, uint64_t gap);
int vwalk(const uint8_t *f, size_t len, vwalk_fn fn, vgap_fn gap, void *ctx);

/* §2 manifest scan (backwards, byte-wise; the content hash is NOT checked,
 * as in the reference). 0 with *off and *m (free with rvf_manifest_free),
 * -1 if none, -2 out of memory. */
int vfind_manifest(const uint8_t *f, size_t len, uint64_t *off, rvf_manifest *m);

/* Hex helpers. hex_decode returns 0 if s (whitespace-trimmed) is exactly
 * 2*n hex digits. */
void rvf_hex(const uint8_t *b, size_t n, char *out); /* out: 2n+1 */
int rvf_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

#endif
