/* store_space.c — dead space in bytes: what a compaction would drop. */
#include "store.h"

typedef struct {
	const rvf_store *s;
	uint64_t live;
} space_ctx;

static int listed(const rvf_store *s, uint64_t off)
{
	for (size_t i = 0; i < s->ndir; i++)
		if (s->dir[i].offset == off)
			return 1;
	return 0;
}

static int count_live(void *ctx, uint64_t off, const rvf_seg_hdr *h)
{
	space_ctx *c = ctx;
	const rvf_store *s = c->s;
	int live;
	switch (h->seg_type) {
	case RVF_SEG_MANIFEST:
		live = off == s->manifest_offset;
		break;
	case RVF_SEG_JOURNAL:
		live = 0; /* the deletion list lives in the manifest */
		break;
	case RVF_SEG_WITNESS:
		live = 1; /* the audit chain survives compaction */
		break;
	case RVF_SEG_INDEX:
		live = store_index_live_seg(s, off);
		break;
	case RVF_SEG_INDEX_LOG: /* another writer's 0x40: an unknown type */
		live = store_index_live_seg(s, off) ||
		       (listed(s, off) && !store_index_log_ours(s->map + off + RVF_SEG_HDR_SIZE, h->payload_length));
		break;
	default:
		live = listed(s, off);
	}
	if (live)
		c->live += RVF_SEG_HDR_SIZE + h->payload_length;
	return 0;
}

uint64_t store_dead_bytes(const rvf_store *s)
{
	space_ctx c = {s, 0};
	if (store_walk(s, count_live, &c))
		return 0;
	uint64_t dead_recs = (uint64_t)(s->ndeleted - s->ndeleted_inh) * rvf_vec_record_size(s->dim);
	uint64_t live = c.live > dead_recs ? c.live - dead_recs : 0;
	return s->file_size > live ? s->file_size - live : 0;
}
