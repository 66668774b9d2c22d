/* store_witness.c — the WITNESS_SEG a commit writes (spec §11, our rules in
 * docs/SECURITY.md §1):
 *   - its prev_hash links to the last witness in the file, whichever process
 *     or writer wrote it (the reference restarts at zeros in every session;
 *     we continue the chain), with BLAKE2b-256 (marked in the action);
 *   - a coverage block lists every segment the commit writes before it
 *     (id, offset, length, type, BLAKE2b-256 of the payload), so
 *     verify-witness detects a rewritten payload even when its CRC/content
 *     hash was recomputed. */
#include "errors.h"
#include "store.h"
#include "witness.h"

#include <string.h>
#include <time.h>

typedef struct {
	const rvf_store *s;
	uint64_t end; /* the committed state ends here; later bytes are a torn tail */
	uint64_t off, len;
	int found;
} last_ctx;

static int find_last(void *vc, uint64_t off, const rvf_seg_hdr *h)
{
	last_ctx *c = vc;
	if (off >= c->end || h->payload_length > c->end - off - RVF_SEG_HDR_SIZE)
		return 1;
	if (h->seg_type == RVF_SEG_WITNESS) {
		c->found = 1;
		c->off = off;
		c->len = h->payload_length;
	}
	return 0;
}

/* witness_prev = BLAKE2b-256(payload of the last witness in the file), or
 * zeros if there is none: the chain continues across processes. */
static int load_head(rvf_store *s)
{
	memset(s->witness_prev, 0, sizeof s->witness_prev);
	if (s->file_size) {
		last_ctx c = {.s = s, .end = s->file_size};
		int err = store_walk(s, find_last, &c);
		if (err < 0)
			return err;
		if (c.found)
			rvf_blake2b256(s->map + c.off + RVF_SEG_HDR_SIZE, c.len, s->witness_prev);
	}
	s->witness_head_known = 1;
	return 0;
}

int store_witness_add(rvf_store *s, seg_batch *b, const char *action, uint8_t type)
{
	int err;
	if (!s->witness_head_known && (err = load_head(s)))
		return err;
	uint8_t prev[32];
	memcpy(prev, s->witness_prev, 32);
	/* witnesses copied into this batch (compaction keeps the old chain)
	 * precede ours in the file: link to the last of them */
	size_t n = b->nents;
	for (size_t i = 0; i < n; i++)
		if (b->verbatim[i] && b->ents[i].seg_type == RVF_SEG_WITNESS)
			rvf_blake2b256(b->buf + b->ents[i].offset + RVF_SEG_HDR_SIZE,
				       b->ents[i].payload_length, prev);
	size_t alen = strlen(action);
	uint64_t base = rvf_witness_size(alen);
	uint8_t *p = batch_add_raw(s, b, RVF_SEG_WITNESS, base + RVF_WCOV_HDR + n * RVF_WCOV_ENTRY);
	if (!p)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	rvf_witness_encode(p, type, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, action,
			   alen, prev);
	uint8_t *c = p + base;
	memcpy(c, RVF_WCOV_MAGIC, 4);
	wr32(c + 4, (uint32_t)n);
	c += RVF_WCOV_HDR;
	for (size_t i = 0; i < n; i++, c += RVF_WCOV_ENTRY) {
		const rvf_dir_entry *e = &b->ents[i];
		memset(c, 0, RVF_WCOV_ENTRY);
		wr64(c, e->seg_id);
		wr64(c + 8, s->file_size + e->offset); /* where store_commit will put it */
		wr64(c + 16, e->payload_length);
		c[24] = e->seg_type;
		rvf_blake2b256(b->buf + e->offset + RVF_SEG_HDR_SIZE, e->payload_length, c + 32);
	}
	return 0;
}
