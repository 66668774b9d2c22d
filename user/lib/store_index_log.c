/* store_index_log.c — persisting the HNSW index incrementally: the
 * INDEX_LOG segment (type 0x40, ours) and the commit hooks that decide
 * between a log entry and a full INDEX_SEG checkpoint (store_index.h).
 *
 * INDEX_LOG payload (little-endian; docs/index.md):
 *   0  4  magic "RVXL"            4  2  version 1
 *   6  1  policy (RVF_INDEX_*)    7  1  flags: 1 = has base, 2 = has prev
 *   8  4  default efSearch        12 4  sequence number after the base (0 = head)
 *   16 32 base: INDEX_SEG ref     48 32 prev: INDEX_LOG ref
 *      (ref = u64 offset, u64 segment id, 16-byte content hash)
 *   80 8  base payload length     88 8  entry point vector id
 *   96 4  entry point level       100 4 record count
 *   104   records: varint id, varint level, per layer 0..level: varint n,
 *         n vector ids ascending (first absolute, then differences)
 * A record gives a node's level and every link list; applying it replaces
 * the node's lists (adding the node if it is new). Links name vector ids,
 * which survive the slot moves of a reopen.
 */
#include "errors.h"
#include "bytebuf.h"
#include "store_index.h"
#include <stdlib.h>
#include <string.h>

#define LOG_MAGIC "RVXL"
#define LOG_HDR 104u
#define LOG_HAS_BASE 1
#define LOG_HAS_PREV 2

int ilog_policy(rvf_store *s)
{
	const struct index_log *l = s->ilog;
	if (l && l->session_policy)
		return l->session_policy - 1;
	return l ? l->policy : RVF_INDEX_AUTO;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void ref_put(uint8_t *p, const seg_ref *r)
{
	wr64(p, r->off);
	wr64(p + 8, r->seg_id);
	memcpy(p + 16, r->hash, 16);
}

static void ref_get(const uint8_t *p, seg_ref *r)
{
	r->off = rd64(p);
	r->seg_id = rd64(p + 8);
	memcpy(r->hash, p + 16, 16);
}

static int ref_eq(const seg_ref *a, const seg_ref *b)
{
	return a->off == b->off && a->seg_id == b->seg_id && !memcmp(a->hash, b->hash, 16);
}

/* ---- encoding ---------------------------------------------------------------- */

/* Header + records of the changed nodes (nodes may be NULL when n = 0). */
static int encode_log(const rvf_store *s, const struct index_log *l, const hnsw_index *g, const seg_ref *base,
		      uint64_t base_len, const seg_ref *prev, uint32_t seq, const uint32_t *nodes, size_t n,
		      bytebuf *b)
{
	uint8_t *h = bytebuf_room(b, LOG_HDR);
	if (!h)
		return RVF_E_NOMEM;
	memset(h, 0, LOG_HDR);
	memcpy(h, LOG_MAGIC, 4);
	wr16(h + 4, 1);
	h[6] = l->policy;
	h[7] = (uint8_t)((base ? LOG_HAS_BASE : 0) | (prev ? LOG_HAS_PREV : 0));
	wr32(h + 8, l->ef_search);
	wr32(h + 12, seq);
	if (base)
		ref_put(h + 16, base);
	if (prev)
		ref_put(h + 48, prev);
	wr64(h + 80, base_len);
	uint32_t ep = 0;
	int top = -1;
	if (g && !hnsw_entry(g, &ep, &top)) {
		wr64(h + 88, s->ids[ep]);
		wr32(h + 96, (uint32_t)top);
	}
	uint64_t tmp[2 * HNSW_MAX_M];
	uint32_t nrec = 0;
	for (size_t i = 0; i < n; i++) {
		int lv = hnsw_level(g, nodes[i]);
		if (lv < 0)
			continue; /* insert failed after the change was noted */
		bytebuf_varint(b, s->ids[nodes[i]]);
		bytebuf_varint(b, (uint64_t)lv);
		for (int layer = 0; layer <= lv; layer++) {
			uint32_t cnt;
			const uint32_t *ln = hnsw_links(g, nodes[i], layer, &cnt);
			for (uint32_t j = 0; j < cnt; j++)
				tmp[j] = s->ids[ln[j]];
			qsort(tmp, cnt, sizeof *tmp, u64_cmp);
			bytebuf_varint(b, cnt);
			for (uint32_t j = 0; j < cnt; j++)
				bytebuf_varint(b, j ? tmp[j] - tmp[j - 1] : tmp[j]);
		}
		nrec++;
	}
	if (b->oom)
		return RVF_E_NOMEM;
	wr32(b->p + 100, nrec); /* b->p may have moved since h */
	return 0;
}

/* ---- decoding ---------------------------------------------------------------- */

typedef struct {
	const uint8_t *p; /* payload */
	uint64_t len;
	seg_ref self;
	int has_base, has_prev;
	seg_ref base, prev;
	uint64_t base_len;
} log_view;

/* Checks the segment at off is a complete, intact INDEX_LOG. */
static int log_at(const rvf_store *s, uint64_t off, log_view *v)
{
	if (off > s->map_len || s->map_len - off < RVF_SEG_HDR_SIZE)
		return -1;
	rvf_seg_hdr h;
	rvf_hdr_decode(s->map + off, &h);
	if (h.magic != RVF_SEG_MAGIC || h.seg_type != RVF_SEG_INDEX_LOG ||
	    h.payload_length > s->map_len - off - RVF_SEG_HDR_SIZE || h.payload_length < LOG_HDR)
		return -1;
	const uint8_t *p = s->map + off + RVF_SEG_HDR_SIZE;
	if (memcmp(p, LOG_MAGIC, 4) || rd16(p + 4) != 1 || p[6] > RVF_INDEX_OFF ||
	    !rvf_content_hash_ok(h.content_hash, p, h.payload_length))
		return -1;
	memset(v, 0, sizeof *v);
	v->p = p;
	v->len = h.payload_length;
	v->self.off = off;
	v->self.seg_id = h.seg_id;
	v->self.len = h.payload_length;
	memcpy(v->self.hash, h.content_hash, 16);
	v->has_base = !!(p[7] & LOG_HAS_BASE);
	v->has_prev = !!(p[7] & LOG_HAS_PREV);
	ref_get(p + 16, &v->base);
	ref_get(p + 48, &v->prev);
	v->base_len = rd64(p + 80);
	return 0;
}

static const rvf_dir_entry *latest_log(const rvf_store *s)
{
	const rvf_dir_entry *e = NULL;
	for (size_t i = 0; i < s->ndir; i++)
		if (s->dir[i].seg_type == RVF_SEG_INDEX_LOG && (!e || s->dir[i].offset > e->offset))
			e = &s->dir[i];
	return e;
}

void ilog_settings_load(rvf_store *s)
{
	const rvf_dir_entry *e = latest_log(s);
	log_view v;
	struct index_log *l;
	if (!e || log_at(s, e->offset, &v) || !(l = ilog_get(s)))
		return;
	l->policy = v.p[6];
	l->ef_search = rd32(v.p + 8);
	/* a chain without a loadable base is dead: only the settings count */
	l->nchain = 0;
	l->has_base = 0;
	if (l->chain_cap < 1) {
		seg_ref *c = realloc(l->chain, sizeof *c);
		if (!c)
			return;
		l->chain = c;
		l->chain_cap = 1;
	}
	l->chain[l->nchain++] = v.self;
	l->chain_bytes = v.len;
}

static int slot_of(const rvf_store *s, uint64_t id, uint32_t *slot)
{
	*slot = idmap_get(&s->slot_of, id);
	return *slot == IDMAP_NONE ? -1 : 0;
}

/* Applies one log's records: pass 0 adds new nodes, pass 1 sets links. */
static const char *apply_log(const rvf_store *s, hnsw_index *g, const log_view *v)
{
	uint32_t links[2 * HNSW_MAX_M];
	uint32_t nrec = rd32(v->p + 100);
	for (int pass = 0; pass < 2; pass++) {
		size_t pos = LOG_HDR;
		for (uint32_t r = 0; r < nrec; r++) {
			uint64_t id, lv, cnt, d;
			uint32_t node;
			if (bytebuf_read_varint(v->p, v->len, &pos, &id) || bytebuf_read_varint(v->p, v->len, &pos, &lv) ||
			    lv > HNSW_MAX_LEVEL)
				return "undecodable record";
			if (slot_of(s, id, &node))
				return "it names a vector id the store does not hold";
			int have = hnsw_level(g, node);
			if (pass == 0 && have < 0 && hnsw_add_node(g, node, (int)lv))
				return "a node could not be added";
			if (pass == 0 && have >= 0 && (uint64_t)have != lv)
				return "a node changed its level";
			for (uint64_t layer = 0; layer <= lv; layer++) {
				if (bytebuf_read_varint(v->p, v->len, &pos, &cnt) || cnt > 2 * (uint64_t)hnsw_m(g))
					return "undecodable record";
				uint64_t prev = 0;
				for (uint64_t j = 0; j < cnt; j++) {
					if (bytebuf_read_varint(v->p, v->len, &pos, &d) || (j && d == 0) || d > UINT64_MAX - prev)
						return "undecodable record";
					prev = j ? prev + d : d;
					if (pass == 1 && slot_of(s, prev, &links[j]))
						return "it names a vector id the store does not hold";
				}
				if (pass == 1 && hnsw_set_links(g, node, (int)layer, links, (uint32_t)cnt))
					return "inconsistent links";
			}
		}
	}
	uint32_t ep;
	if (slot_of(s, rd64(v->p + 88), &ep) || hnsw_level(g, ep) != (int)rd32(v->p + 96) ||
	    hnsw_set_entry(g, ep))
		return "bad entry point";
	return NULL;
}

const char *ilog_load(rvf_store *s, hnsw_index *g, const rvf_dir_entry *e)
{
	struct index_log *l = ilog_get(s);
	if (!l)
		return "out of memory";
	seg_ref base = {.off = e->offset};
	rvf_seg_hdr h;
	rvf_hdr_decode(s->map + e->offset, &h); /* decode_graph checked it */
	base.seg_id = h.seg_id;
	base.len = h.payload_length;
	memcpy(base.hash, h.content_hash, 16);
	l->has_base = 1;
	l->base = base;
	l->nchain = 0;
	l->chain_bytes = 0;
	const rvf_dir_entry *le = latest_log(s);
	log_view v;
	if (!le)
		return NULL; /* a checkpoint alone (e.g. the reference's) */
	if (log_at(s, le->offset, &v)) {
		l->has_base = 0;
		return "damaged INDEX_LOG segment";
	}
	if (!v.has_base || !ref_eq(&v.base, &base) || v.base_len != base.len)
		return NULL; /* settings only, or a log of another INDEX_SEG */
	/* Collect the chain newest first, then apply oldest first. */
	const char *why = NULL;
	for (;;) {
		if (l->nchain == l->chain_cap) {
			size_t c = l->chain_cap ? 2 * l->chain_cap : 16;
			seg_ref *t = realloc(l->chain, c * sizeof *t);
			if (!t) {
				why = "out of memory";
				break;
			}
			l->chain = t;
			l->chain_cap = c;
		}
		l->chain[l->nchain++] = v.self;
		l->chain_bytes += v.len;
		if (!v.has_prev)
			break;
		seg_ref want = v.prev;
		if (want.off <= base.off || want.off >= v.self.off || log_at(s, want.off, &v) ||
		    !ref_eq(&v.self, &want) || !v.has_base || !ref_eq(&v.base, &base)) {
			why = "broken INDEX_LOG chain";
			break;
		}
	}
	for (size_t i = 0, j = l->nchain ? l->nchain - 1 : 0; !why && i < l->nchain / 2; i++, j--) {
		seg_ref t = l->chain[i];
		l->chain[i] = l->chain[j];
		l->chain[j] = t;
	}
	for (size_t i = 0; !why && i < l->nchain; i++) {
		if (log_at(s, l->chain[i].off, &v))
			why = "damaged INDEX_LOG segment";
		else
			why = apply_log(s, g, &v);
	}
	if (why) {
		l->has_base = 0;
		l->nchain = 0;
		l->chain_bytes = 0;
	}
	return why;
}

/* ---- commit hooks -------------------------------------------------------------- */

static void drop_entries(rvf_store *s, int index_too)
{
	size_t w = 0;
	for (size_t i = 0; i < s->ndir; i++) {
		uint8_t t = s->dir[i].seg_type;
		if (t == RVF_SEG_INDEX_LOG || (index_too && t == RVF_SEG_INDEX))
			continue;
		s->dir[w++] = s->dir[i];
	}
	s->ndir = w;
}

/* Adds payload as a segment; fills its future identity. */
static int add_seg(rvf_store *s, seg_batch *b, uint8_t type, const uint8_t *p, size_t len, seg_ref *r)
{
	if (batch_add(s, b, type, p, len))
		return RVF_E_NOMEM;
	const rvf_dir_entry *e = &b->ents[b->nents - 1];
	r->off = s->file_size + e->offset;
	r->seg_id = e->seg_id;
	r->len = len;
	rvf_content_hash(p, len, r->hash);
	return 0;
}

int store_index_batch(rvf_store *s, seg_batch *b)
{
	struct index_log *l = s->ilog;
	struct store_index *x = s->index;
	if (!l && !x)
		return 0; /* no settings, no index: nothing to carry */
	if (!(l = ilog_get(s)))
		return RVF_E_NOMEM;
	l->pending = 0;
	size_t nch = 0;
	int overflow = 0;
	const uint32_t *ch = x ? hnsw_changes(x->g, &nch, &overflow) : NULL;
	int ckpt = x && (x->need_checkpoint || overflow || !l->has_base);
	if (!ckpt && !nch && !l->settings_dirty && (!x || x->persisted))
		return 0;
	bytebuf lb = {0};
	int err = 0;
	seg_ref *prev = l->has_base && l->nchain ? &l->chain[l->nchain - 1] : NULL;
	if (!ckpt && l->has_base) {
		err = encode_log(s, l, x ? x->g : NULL, &l->base, l->base.len, prev, (uint32_t)l->nchain, ch, nch, &lb);
		if (!err && x && (double)(l->chain_bytes + lb.n) > IDX_FOLD * (double)l->base.len) {
			ckpt = 1; /* fold: the log would outgrow its share */
			lb.n = 0;
		}
	}
	if (!err && ckpt && x && hnsw_count(x->g) == 0) {
		ckpt = 0; /* an empty graph has no INDEX_SEG form */
		l->has_base = 0;
	}
	if (!err && ckpt) {
		uint8_t *pay = NULL;
		size_t len = 0;
		err = hnsw_encode(x->g, s->ids, &pay, &len, NULL);
		if (!err)
			err = add_seg(s, b, RVF_SEG_INDEX, pay, len, &l->pend_base);
		free(pay);
		if (!err)
			err = encode_log(s, l, x->g, &l->pend_base, len, NULL, 0, NULL, 0, &lb);
		if (!err)
			drop_entries(s, 1);
	} else if (!err && !l->has_base) {
		/* settings only (no index, or an empty one) */
		err = encode_log(s, l, NULL, NULL, 0, NULL, 0, NULL, 0, &lb);
		if (!err)
			drop_entries(s, 1);
	} else if (!err) {
		drop_entries(s, 0);
	}
	if (!err)
		err = add_seg(s, b, RVF_SEG_INDEX_LOG, lb.p, lb.n, &l->pend_log);
	free(lb.p);
	if (err)
		return rvf_fail(err, "%s: encoding the HNSW index for the commit failed", s->path);
	l->pending = 1;
	l->pend_ckpt = ckpt;
	return 0;
}

void store_index_committed(rvf_store *s, int ok)
{
	struct index_log *l = s->ilog;
	if (!l || !l->pending)
		return;
	l->pending = 0;
	if (!ok)
		return; /* the handle refuses writes now; it must be reopened */
	if (l->pend_ckpt) {
		l->has_base = 1;
		l->base = l->pend_base;
	}
	if (l->pend_ckpt || !l->has_base) {
		l->nchain = 0;
		l->chain_bytes = 0;
	}
	if (l->nchain == l->chain_cap) {
		size_t c = l->chain_cap ? 2 * l->chain_cap : 16;
		seg_ref *t = realloc(l->chain, c * sizeof *t);
		if (!t) {
			/* Only the dead-space accounting of this handle suffers;
			 * the next commit writes a checkpoint. */
			if (s->index)
				s->index->need_checkpoint = 1;
			return;
		}
		l->chain = t;
		l->chain_cap = c;
	}
	l->chain[l->nchain++] = l->pend_log;
	l->chain_bytes += l->pend_log.len;
	l->settings_dirty = 0;
	if (s->index) {
		hnsw_changes_clear(s->index->g);
		s->index->persisted = 1;
		s->index->need_checkpoint = 0;
	}
}

int store_index_log_ours(const uint8_t *p, uint64_t len)
{
	return len >= LOG_HDR && !memcmp(p, LOG_MAGIC, 4);
}

int store_index_live_seg(const rvf_store *s, uint64_t off)
{
	const struct index_log *l = s->ilog;
	if (!l)
		return 0;
	if (l->has_base && l->base.off == off)
		return 1;
	for (size_t i = 0; i < l->nchain; i++)
		if (l->chain[i].off == off)
			return 1;
	return 0;
}

/* ---- public API ------------------------------------------------------------------ */

int rvf_index_persist(rvf_store *s)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	struct store_index *x = s->index;
	struct index_log *l = s->ilog;
	size_t nch = 0;
	int overflow = 0;
	if (x)
		hnsw_changes(x->g, &nch, &overflow);
	if (!(x && (!x->persisted || x->need_checkpoint || nch || overflow)) && !(l && l->settings_dirty))
		return 0;
	if (x && x->storage_stale)
		idx_storage(s, x);
	seg_batch b = {0};
	/* witnessed like every commit: covers the INDEX_SEG / INDEX_LOG */
	int full = x && (!x->persisted || x->need_checkpoint);
	err = store_commit(s, &b, full ? "index:checkpoint" : "index:update", 1);
	batch_free(&b);
	return err;
}

int rvf_index_build(rvf_store *s, uint32_t m, uint32_t ef_construction)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!ilog_get(s))
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	hnsw_index *g = NULL;
	if ((err = idx_build_graph(s, m, ef_construction, &g)))
		return err;
	struct store_index *x = idx_new(g);
	if (!x) {
		hnsw_free(g);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	idx_storage(s, x);
	x->need_checkpoint = 1;
	idx_free(s->index);
	s->index = x;
	s->ilog->broken = 0;
	return rvf_index_persist(s);
}

int rvf_set_index_policy(rvf_store *s, int policy)
{
	if (policy < -1 || policy > RVF_INDEX_OFF)
		return rvf_fail(RVF_E_ARG, "index policy must be auto, on or off");
	struct index_log *l = ilog_get(s);
	if (!l)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	l->session_policy = policy + 1;
	return 0;
}

int rvf_index_configure(rvf_store *s, int policy, uint32_t ef_search)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (policy < -1 || policy > RVF_INDEX_OFF)
		return rvf_fail(RVF_E_ARG, "index policy must be auto, on or off");
	struct index_log *l = ilog_get(s);
	if (!l)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	if (policy >= 0 && l->policy != policy) {
		l->policy = (uint8_t)policy;
		l->settings_dirty = 1;
	}
	if (ef_search && l->ef_search != ef_search) {
		l->ef_search = ef_search;
		l->settings_dirty = 1;
	}
	return rvf_index_persist(s);
}

int rvf_set_index_threads(rvf_store *s, unsigned threads)
{
	struct index_log *l = ilog_get(s);
	if (!l)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	l->threads = threads;
	return 0;
}

int rvf_set_index_progress(rvf_store *s, rvf_progress_fn fn, void *ctx)
{
	struct index_log *l = ilog_get(s);
	if (!l)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	l->progress = fn;
	l->progress_ctx = ctx;
	return 0;
}
