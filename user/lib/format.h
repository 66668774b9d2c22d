/* format.h — RVF bytes: segment headers, hashes and payload codecs.
 *
 * Pure functions over byte buffers; no file I/O and no store state. Every
 * decoder takes the buffer length and never reads past it, so it is safe on
 * hostile input. Layouts follow shared/spec/rvf-format.md (section numbers in
 * the comments below refer to it).
 */
#ifndef RVF_FORMAT_H
#define RVF_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define RVF_SEG_MAGIC 0x52564653u /* "SFVR" on disk */
#define RVF_SEG_HDR_SIZE 64
#define RVF_MANIFEST_MAX_PAYLOAD (256u << 20) /* reader cap, as the reference */

enum rvf_seg_type {
	RVF_SEG_INVALID = 0x00,
	RVF_SEG_VEC = 0x01,
	RVF_SEG_INDEX = 0x02,
	RVF_SEG_OVERLAY = 0x03,
	RVF_SEG_JOURNAL = 0x04,
	RVF_SEG_MANIFEST = 0x05,
	RVF_SEG_QUANT = 0x06,
	RVF_SEG_META = 0x07,
	RVF_SEG_HOT = 0x08,
	RVF_SEG_SKETCH = 0x09,
	RVF_SEG_WITNESS = 0x0A,
	RVF_SEG_PROFILE = 0x0B,
	RVF_SEG_CRYPTO = 0x0C,
	RVF_SEG_METAIDX = 0x0D,
	RVF_SEG_KERNEL = 0x0E,
	RVF_SEG_EBPF = 0x0F,
	RVF_SEG_WASM = 0x10,
	RVF_SEG_DASHBOARD = 0x11,
	RVF_SEG_COW_MAP = 0x20,
	RVF_SEG_REFCOUNT = 0x21,
	RVF_SEG_MEMBERSHIP = 0x22,
	RVF_SEG_DELTA = 0x23,
	RVF_SEG_INDEX_LOG = 0x40, /* ours: incremental HNSW index (docs/index.md) */
};

#define RVF_SEG_FLAG_SEALED 0x0008

/* Little-endian unaligned access. */
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/* ---- §3 segment header ------------------------------------------------ */
typedef struct {
	uint32_t magic;
	uint8_t version;
	uint8_t seg_type;
	uint16_t flags;
	uint64_t seg_id;
	uint64_t payload_length;
	uint64_t timestamp_ns;
	uint8_t checksum_algo;
	uint8_t compression;
	uint16_t reserved_0;
	uint32_t reserved_1;
	uint8_t content_hash[16];
	uint32_t uncompressed_len;
	uint32_t alignment_pad;
} rvf_seg_hdr;

void rvf_hdr_decode(const uint8_t *b, rvf_seg_hdr *h); /* b: 64 bytes */
/* A header field outside the content hash with a value no known writer
 * writes and a reader may act on (docs/SECURITY.md §6.7): version other
 * than 1, flags other than SEALED on a manifest, compression, the reserved
 * fields, uncompressed_len, alignment_pad. A description, or NULL. The
 * timestamp and checksum_algo are not judged (other writers set them; no
 * store reader uses them). */
const char *rvf_hdr_odd(const rvf_seg_hdr *h);
/* Writes a G2 header (version 1, flags 0, algo 0) with the CRC-rotated hash
 * of the payload into b[0..64). */
void rvf_hdr_encode(uint8_t *b, uint8_t seg_type, uint64_t seg_id, const uint8_t *payload,
		    uint64_t payload_len);

/* ---- §4 content hash and §11.3 fold32 --------------------------------- */
uint32_t rvf_crc32(const uint8_t *data, uint64_t len); /* CRC-32/ISO-HDLC */
void rvf_content_hash(const uint8_t *payload, uint64_t len, uint8_t out[16]);
/* Non-zero if hash is the CRC-rotated hash of payload (RVF_HASH_CRC; all
 * zero only for an empty payload or a CRC of 0) or, as other writers set
 * it, the first 16 bytes of its SHA-256 or SHAKE-256 (format_hash_alt.c;
 * not in builds with RVF_NO_ALT_HASH, e.g. rvf.wasm). An all-zero hash on
 * other payloads is "not set" only in the part of a file written by a
 * writer that sets no hashes: see rvf_unhashed_end. */
enum { RVF_HASH_CRC = 1, RVF_HASH_SHA256 = 2, RVF_HASH_SHAKE256 = 3 };
int rvf_content_hash_ok(const uint8_t hash[16], const uint8_t *payload, uint64_t len);
int rvf_content_hash_alt_ok(const uint8_t hash[16], const uint8_t *payload, uint64_t len);
/* 1 if hash is all zero although payload is not empty ("not set"). */
int rvf_hash_unset(const uint8_t hash[16], uint64_t len);
/* Where the part of the file written by writers that set no content hashes
 * ends: the end of the last MANIFEST_SEG before the first segment that
 * carries a hash (0 if the file starts with a hashed segment, as every file
 * of the reference and of this library does). A segment with an unset hash
 * is accepted only if it ends at or before this offset: in a file whose
 * writer hashes, an all-zero hash is damage (a zero-filled tail, a zeroed
 * header), never "not set". */
uint64_t rvf_unhashed_end(const uint8_t *f, uint64_t size);
/* Why the complete segment at off of file f is damaged ("content hash
 * mismatch", ...), or NULL if its hash holds. unhashed_end as above. An
 * all-zero manifest payload with an unset hash (a zero-filled tail decodes
 * as an empty manifest) is always damage. */
const char *rvf_seg_damage(const uint8_t *f, uint64_t unhashed_end, uint64_t off, const rvf_seg_hdr *h);
void rvf_fold32(const uint8_t *data, size_t len, uint8_t out[32]);

/* ---- §6 manifest ------------------------------------------------------- */
typedef struct {
	uint64_t seg_id;
	uint64_t offset;
	uint64_t payload_length;
	uint8_t seg_type;
} rvf_dir_entry;

typedef struct {
	uint32_t epoch;
	uint16_t dimension;
	uint64_t total_vectors;
	uint8_t profile_id;
	uint8_t metric;
	uint32_t seg_count;
	rvf_dir_entry *dir; /* seg_count entries, owned (malloc) */
	uint32_t deleted_count;
	uint64_t *deleted; /* deleted_count ids, owned (malloc) */
	int has_identity;
	uint8_t file_id[16];
	uint8_t parent_id[16];
	uint8_t parent_hash[32];
	uint32_t lineage_depth;
} rvf_manifest;

/* Decodes with the reference's rule (§6.2). Returns 0, -1 if the payload is
 * not a manifest, or -2 on allocation failure. Allocations never exceed the
 * payload length times a small constant. */
int rvf_manifest_decode(const uint8_t *p, uint64_t len, rvf_manifest *m);
void rvf_manifest_free(rvf_manifest *m);
uint64_t rvf_manifest_encoded_size(const rvf_manifest *m);
/* Writes exactly rvf_manifest_encoded_size(m) bytes. */
void rvf_manifest_encode(const rvf_manifest *m, uint8_t *out);

/* ---- §8 VEC_SEG -------------------------------------------------------- */
#define RVF_VEC_HDR 6
static inline uint64_t rvf_vec_record_size(uint32_t dim) { return 8 + 4 * (uint64_t)dim; }
/* Returns the number of complete records (0 if payload too short/mismatched). */
uint64_t rvf_vec_decode_header(const uint8_t *p, uint64_t len, uint16_t *dim, uint32_t *count);

/* ---- §9 JOURNAL_SEG ---------------------------------------------------- */
uint64_t rvf_journal_size(size_t n);
void rvf_journal_encode(uint8_t *out, const uint64_t *ids, size_t n, uint32_t epoch);

/* ---- §11 WITNESS_SEG --------------------------------------------------- */
uint64_t rvf_witness_size(size_t action_len);
void rvf_witness_encode(uint8_t *out, uint8_t type, uint64_t ts_ns, const char *action,
			size_t action_len, const uint8_t prev_hash[32]);
typedef struct {
	uint8_t type;
	uint64_t timestamp_ns;
	const char *action; /* points into the payload */
	uint32_t action_len;
	const uint8_t *prev_hash; /* 32 bytes, into the payload */
	/* ours: coverage block after prev_hash (docs/SECURITY.md §1.2) */
	const uint8_t *cov; /* ncov entries of RVF_WCOV_ENTRY bytes, or NULL */
	uint32_t ncov;
	int cov_malformed;  /* the block's magic is there but it does not fit */
} rvf_witness;
int rvf_witness_decode(const uint8_t *p, uint64_t len, rvf_witness *w);

/* Coverage block (ours; the reference ignores witness payloads): "RVWC",
 * u32 count, then count entries: u64 seg_id, u64 header offset, u64
 * payload_length, u8 seg_type, 7 zero bytes, 32-byte BLAKE2b-256 of the
 * payload. */
#define RVF_WCOV_MAGIC "RVWC"
#define RVF_WCOV_HDR 8
#define RVF_WCOV_ENTRY 64
typedef struct {
	uint64_t seg_id, offset, payload_length;
	uint8_t seg_type;
	const uint8_t *hash; /* 32 bytes */
} rvf_wcov;
void rvf_wcov_get(const rvf_witness *w, uint32_t i, rvf_wcov *out);

/* ---- §12 KERNEL_SEG / §13 EBPF_SEG headers ------------------------------ */
#define RVF_KERNEL_MAGIC 0x52564B4Eu
#define RVF_KERNEL_HDR 128
#define RVF_EBPF_MAGIC 0x52564250u
#define RVF_EBPF_HDR 64

#endif
