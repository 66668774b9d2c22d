/* store_read.c — queries and read-only accessors over an open store. */
#include "distance.h"
#include "errors.h"
#include "store.h"
#include "topk.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Candidates kept beyond k before the exact rerank: the SIMD scan's sums
 * differ from the sequential ones by a few ULP, which can only reorder
 * near-ties, never move a true top-k result this far down. */
#define RERANK_MARGIN 16
#define SCAN_CHUNK 1024

int rvf_query(const rvf_store *s, const float *q, uint32_t dim, size_t k, rvf_hit *out, size_t *nout)
{
	rvf_query_opts o = {.k = k, .exact = 1};
	return rvf_query_ex(s, q, dim, &o, out, nout);
}

static int query_exact(const rvf_store *s, const float *q, size_t k, const rvf_filter *f, rvf_hit *out,
		       size_t *nout);

int rvf_query_ex(const rvf_store *s, const float *q, uint32_t dim, const rvf_query_opts *o, rvf_hit *out,
		 size_t *nout)
{
	rvf_clear_error();
	*nout = 0;
	if (dim != s->dim)
		return rvf_fail(RVF_E_DIMENSION, "%s: query has %u components, the store's vectors have %u",
				s->path, dim, s->dim);
	for (uint32_t i = 0; i < dim; i++)
		if (!isfinite(q[i]))
			return rvf_fail(RVF_E_ARG, "query component %u is not a finite number", i);
	size_t live = s->nslots - s->ndeleted;
	size_t k = o->k > live ? live : o->k;
	if (o->info)
		*o->info = (rvf_query_info){.path = RVF_QPATH_EXACT};
	if (k == 0)
		return 0;
	if (o->quant && !o->exact && s->quant) {
		int r = store_quant_query(s, q, o, k, out, nout);
		if (r <= 0) {
			if (o->info)
				o->info->path = RVF_QPATH_QUANT;
			return r;
		}
	}
	if (s->index && !o->exact && !o->filter && !o->quant) {
		int r = store_index_query(s, q, o, k, out, nout);
		if (r <= 0) {
			if (o->info)
				o->info->path = RVF_QPATH_INDEX;
			return r;
		}
	}
	if (o->info)
		*o->info = (rvf_query_info){.path = RVF_QPATH_EXACT};
	return query_exact(s, q, k, o->filter, out, nout);
}

/* Brute force over every live slot (passing the filter, if any). */
static int query_exact(const rvf_store *s, const float *q, size_t k, const rvf_filter *f, rvf_hit *out,
		       size_t *nout)
{
	size_t live = s->nslots - s->ndeleted;
	size_t kc = k + RERANK_MARGIN < live ? k + RERANK_MARGIN : live;
	rvf_topk_item *cand = malloc(kc * sizeof *cand);
	float *d = malloc(SCAN_CHUNK * sizeof *d);
	if (!cand || !d) {
		free(cand);
		free(d);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	rvf_topk t;
	rvf_topk_init(&t, kc, cand);
	for (size_t base = 0; base < s->nslots; base += SCAN_CHUNK) {
		size_t n = s->nslots - base < SCAN_CHUNK ? s->nslots - base : SCAN_CHUNK;
		rvf_dist_batch((int)s->metric, q, s->vecs + base * s->stride, n, s->dim, s->stride, d);
		float bound = rvf_topk_bound(&t);
		for (size_t i = 0; i < n; i++)
			if (!s->deleted[base + i] && !(d[i] > bound) &&
			    (!f || store_slot_matches(s, base + i, f)))
				rvf_topk_push(&t, base + i, d[i]);
	}
	size_t nc = rvf_topk_finish(&t);
	for (size_t i = 0; i < nc; i++) {
		size_t slot = (size_t)cand[i].id;
		cand[i].id = s->ids[slot];
		cand[i].dist = rvf_dist_exact((int)s->metric, q, s->vecs + slot * s->stride, s->dim);
	}
	rvf_topk_sort(cand, nc);
	for (size_t i = 0; i < k && i < nc; i++) {
		out[i].id = cand[i].id;
		out[i].distance = cand[i].dist;
	}
	*nout = k < nc ? k : nc;
	free(cand);
	free(d);
	return 0;
}

int rvf_get_status(const rvf_store *s, rvf_status *st)
{
	memset(st, 0, sizeof *st);
	st->stored_vectors = s->nslots - s->ninherited;
	st->deleted_vectors = s->ndeleted - s->ndeleted_inh;
	st->inherited_vectors = s->ninherited;
	st->total_vectors = s->nslots - s->ninherited - (s->ndeleted - s->ndeleted_inh);
	st->total_segments = s->ndir;
	st->file_size = s->file_size;
	st->epoch = s->epoch;
	st->dimension = s->dim;
	st->metric = s->metric;
	st->profile_id = s->profile;
	size_t local = s->nslots - s->ninherited;
	st->dead_space_ratio = local ? (double)(s->ndeleted - s->ndeleted_inh) / (double)local : 0.0;
	st->dead_bytes = store_dead_bytes(s);
	st->read_only = s->read_only;
	st->frozen = s->frozen;
	st->visible_vectors = s->nslots - s->ndeleted;
	return 0;
}

uint64_t rvf_live_count(const rvf_store *s) { return s->nslots - s->ndeleted; }

int rvf_live_get(const rvf_store *s, uint64_t i, uint64_t *id, const float **vec)
{
	/* The live index is a cache; rebuilding it does not change the store. */
	rvf_store *m = (rvf_store *)s;
	if (store_rebuild_live(m))
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	if (i >= m->nlive)
		return rvf_fail(RVF_E_ARG, "live index %llu out of range (%zu live)",
				(unsigned long long)i, m->nlive);
	uint32_t slot = m->live[i];
	*id = s->ids[slot];
	*vec = s->vecs + (size_t)slot * s->stride;
	return 0;
}

uint32_t rvf_dimension(const rvf_store *s) { return s->dim; }
rvf_metric rvf_get_metric(const rvf_store *s) { return s->metric; }
const char *rvf_path(const rvf_store *s) { return s->path; }

const char *rvf_metric_name(rvf_metric m)
{
	switch (m) {
	case RVF_METRIC_L2: return "l2";
	case RVF_METRIC_IP: return "inner_product";
	case RVF_METRIC_COSINE: return "cosine";
	}
	return "unknown";
}

int rvf_metric_parse(const char *str, rvf_metric *out)
{
	static const struct {
		const char *name;
		rvf_metric m;
	} names[] = {{"l2", RVF_METRIC_L2}, {"L2", RVF_METRIC_L2}, {"ip", RVF_METRIC_IP},
		     {"inner_product", RVF_METRIC_IP}, {"cosine", RVF_METRIC_COSINE}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(str, names[i].name)) {
			*out = names[i].m;
			return 0;
		}
	return rvf_fail(RVF_E_ARG, "Unknown metric: %s (expected l2, ip, inner_product or cosine)", str);
}

size_t rvf_segment_count(const rvf_store *s) { return s->ndir; }

int rvf_segment_get(const rvf_store *s, size_t i, rvf_segment_info *out)
{
	if (i >= s->ndir)
		return rvf_fail(RVF_E_ARG, "segment index %zu out of range", i);
	out->seg_id = s->dir[i].seg_id;
	out->offset = s->dir[i].offset;
	out->payload_length = s->dir[i].payload_length;
	out->seg_type = s->dir[i].seg_type;
	return 0;
}

const char *rvf_segment_type_name(uint8_t t)
{
	static const char *const names[] = {
		[RVF_SEG_VEC] = "Vec",         [RVF_SEG_INDEX] = "Index",
		[RVF_SEG_OVERLAY] = "Overlay", [RVF_SEG_JOURNAL] = "Journal",
		[RVF_SEG_MANIFEST] = "Manifest", [RVF_SEG_QUANT] = "Quant",
		[RVF_SEG_META] = "Meta",       [RVF_SEG_HOT] = "Hot",
		[RVF_SEG_SKETCH] = "Sketch",   [RVF_SEG_WITNESS] = "Witness",
		[RVF_SEG_PROFILE] = "Profile", [RVF_SEG_CRYPTO] = "Crypto",
		[RVF_SEG_METAIDX] = "MetaIdx", [RVF_SEG_KERNEL] = "Kernel",
		[RVF_SEG_EBPF] = "Ebpf",       [RVF_SEG_WASM] = "Wasm",
		[RVF_SEG_DASHBOARD] = "Dashboard", [RVF_SEG_COW_MAP] = "CowMap",
		[RVF_SEG_REFCOUNT] = "Refcount", [RVF_SEG_MEMBERSHIP] = "Membership",
		[RVF_SEG_DELTA] = "Delta",
	};
	if (t < sizeof names / sizeof names[0] && names[t])
		return names[t];
	return "Unknown";
}

int rvf_get_identity(const rvf_store *s, rvf_identity *out)
{
	memcpy(out->file_id, s->file_id, 16);
	memcpy(out->parent_id, s->parent_id, 16);
	memcpy(out->parent_hash, s->parent_hash, 32);
	out->lineage_depth = s->lineage_depth;
	return 0;
}

/* Payload of the i-th directory segment of a type, hash-checked. */
static int typed_payload(const rvf_store *s, uint8_t type, size_t nth, const uint8_t **p, uint64_t *len)
{
	int err = store_mapped(s);
	if (err)
		return err;
	for (size_t i = 0; i < s->ndir; i++) {
		const rvf_dir_entry *e = &s->dir[i];
		if (e->seg_type != type || nth--)
			continue;
		if (e->offset + RVF_SEG_HDR_SIZE + e->payload_length > s->map_len)
			return rvf_fail(RVF_E_CORRUPT, "%s: segment %llu runs past the end of the file",
					s->path, (unsigned long long)e->seg_id);
		rvf_seg_hdr h;
		rvf_hdr_decode(s->map + e->offset, &h);
		*p = s->map + e->offset + RVF_SEG_HDR_SIZE;
		*len = h.payload_length;
		if (!store_hash_ok(s, e->offset, &h))
			return rvf_fail(RVF_E_CHECKSUM, "%s: %s segment %llu at offset %llu: content hash mismatch",
					s->path, rvf_segment_type_name(type), (unsigned long long)e->seg_id,
					(unsigned long long)e->offset);
		return 0;
	}
	return rvf_fail(RVF_E_NOT_FOUND, "%s: no %s segment", s->path, rvf_segment_type_name(type));
}

size_t rvf_ebpf_count(const rvf_store *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->ndir; i++)
		n += s->dir[i].seg_type == RVF_SEG_EBPF;
	return n;
}

int rvf_ebpf_get(const rvf_store *s, size_t i, rvf_ebpf *out)
{
	const uint8_t *p;
	uint64_t len;
	int err = typed_payload(s, RVF_SEG_EBPF, i, &p, &len);
	if (err)
		return err;
	if (len < RVF_EBPF_HDR || rd32(p) != RVF_EBPF_MAGIC)
		return rvf_fail(RVF_E_CORRUPT, "%s: eBPF segment %zu has no valid header", s->path, i);
	uint64_t psz = rd64(p + 0x10), bsz = rd32(p + 0x1C);
	if (psz > len - RVF_EBPF_HDR || bsz > len - RVF_EBPF_HDR - psz)
		return rvf_fail(RVF_E_CORRUPT, "%s: eBPF segment %zu: program (%llu) + BTF (%llu) bytes exceed the payload",
				s->path, i, (unsigned long long)psz, (unsigned long long)bsz);
	out->program_type = p[6];
	out->attach_type = p[7];
	out->max_dimension = rd16(p + 0x0E);
	out->program = p + RVF_EBPF_HDR;
	out->program_size = psz;
	out->btf = bsz ? p + RVF_EBPF_HDR + psz : NULL;
	out->btf_size = bsz;
	return 0;
}

size_t rvf_kernel_count(const rvf_store *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->ndir; i++)
		n += s->dir[i].seg_type == RVF_SEG_KERNEL;
	return n;
}

/* typed_payload plus the directory entry of that segment. */
static int typed_payload_info(const rvf_store *s, uint8_t type, size_t i, const uint8_t **payload,
			      uint64_t *len, rvf_segment_info *si)
{
	int err = typed_payload(s, type, i, payload, len);
	if (err || !si)
		return err;
	for (size_t j = 0, n = 0; j < s->ndir; j++)
		if (s->dir[j].seg_type == type && n++ == i) {
			si->seg_id = s->dir[j].seg_id;
			si->offset = s->dir[j].offset;
			si->payload_length = s->dir[j].payload_length;
			si->seg_type = type;
		}
	return 0;
}

int rvf_kernel_payload(const rvf_store *s, size_t i, const uint8_t **payload, uint64_t *len,
		       rvf_segment_info *si)
{
	return typed_payload_info(s, RVF_SEG_KERNEL, i, payload, len, si);
}

int rvf_ebpf_payload(const rvf_store *s, size_t i, const uint8_t **payload, uint64_t *len,
		     rvf_segment_info *si)
{
	return typed_payload_info(s, RVF_SEG_EBPF, i, payload, len, si);
}

int rvf_kernel_get(const rvf_store *s, rvf_kernel *out)
{
	const uint8_t *p;
	uint64_t len;
	int err = typed_payload(s, RVF_SEG_KERNEL, 0, &p, &len);
	if (err)
		return err;
	rvf_kernel_view v;
	const char *why;
	if (rvf_kernel_decode(p, len, &v, &why))
		return rvf_fail(RVF_E_CORRUPT, "%s: kernel segment: %s", s->path, why);
	*out = v.k;
	return 0;
}
