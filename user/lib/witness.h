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

#include "digest.h"
#include "format.h"
#include "rvf.h"
#include <stddef.h>
#include <stdint.h>

/* Suffix of the action string of witnesses chained with BLAKE2b-256. */
#define RVF_WITNESS_B2B_MARK ",h=blake2b"

/* Link algorithm a witness declares (RVF_WALG_*). */
int rvf_witness_alg(const rvf_witness *w);
/* H(payload) with the given algorithm. */
void rvf_witness_link(int alg, const uint8_t *payload, size_t len, uint8_t out[32]);

/* The report (rvf_witness_report) and rvf_verify_witness are public: rvf.h. */
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

#endif
