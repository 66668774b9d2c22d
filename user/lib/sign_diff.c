/* sign_diff.c — what changed between the signed state and the current one
 * (docs/SECURITY.md §2.4): signed records that were deleted or modified,
 * signed directory entries that are gone, and what was appended. Used by
 * `rvf verify`: appends after the signature are listed and allowed with
 * --allow-append, any change to a signed record fails. */
#include "errors.h"
#include "sign.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	uint64_t id;
	uint64_t order; /* position in directory order: the later record wins (§8) */
	const uint8_t *rec; /* dim f32 values */
} live_rec;

static int by_id_order(const void *a, const void *b)
{
	const live_rec *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Live vectors of manifest m (its own VEC segments minus its deletion list),
 * sorted by id, one record per id. -1 on allocation failure. */
static int live_set(const uint8_t *f, size_t len, const rvf_manifest *m, live_rec **out, size_t *n)
{
	size_t cap = 0, cnt = 0, ord = 0;
	live_rec *v = NULL;
	*out = NULL;
	*n = 0;
	for (uint32_t i = 0; i < m->seg_count; i++) {
		const rvf_dir_entry *e = &m->dir[i];
		if (e->seg_type != RVF_SEG_VEC || e->offset > len || len - e->offset < RVF_SEG_HDR_SIZE ||
		    rd32(f + e->offset) != RVF_SEG_MAGIC || f[e->offset + 5] != RVF_SEG_VEC)
			continue;
		uint64_t pl = rd64(f + e->offset + 0x10);
		if (pl > len - e->offset - RVF_SEG_HDR_SIZE)
			continue;
		const uint8_t *p = f + e->offset + RVF_SEG_HDR_SIZE;
		uint16_t dim;
		uint32_t count;
		uint64_t k = rvf_vec_decode_header(p, pl, &dim, &count);
		if (dim != m->dimension)
			continue; /* contributes no vectors (§8) */
		for (uint64_t j = 0; j < k; j++) {
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 256;
				live_rec *t = realloc(v, nc * sizeof *t);
				if (!t) {
					free(v);
					return -1;
				}
				v = t;
				cap = nc;
			}
			const uint8_t *r = p + RVF_VEC_HDR + j * rvf_vec_record_size(dim);
			v[cnt++] = (live_rec){rd64(r), ord++, r + 8};
		}
	}
	if (cnt)
		qsort(v, cnt, sizeof *v, by_id_order);
	uint64_t *del = NULL;
	if (m->deleted_count) {
		del = malloc(m->deleted_count * sizeof *del);
		if (!del) {
			free(v);
			return -1;
		}
		memcpy(del, m->deleted, m->deleted_count * sizeof *del);
		qsort(del, m->deleted_count, sizeof *del, cmp_u64);
	}
	size_t w = 0;
	for (size_t i = 0; i < cnt; i++) {
		if (i + 1 < cnt && v[i + 1].id == v[i].id)
			continue; /* a later record of the same id wins */
		if (del && bsearch(&v[i].id, del, m->deleted_count, sizeof *del, cmp_u64))
			continue;
		v[w++] = v[i];
	}
	free(del);
	*out = v;
	*n = w;
	return 0;
}

static void note(rvf_id_list *l, uint64_t id)
{
	if (l->n < RVF_SIG_LIST)
		l->ids[l->n] = id;
	l->n++;
}

static int same_entry(const rvf_dir_entry *x, const rvf_dir_entry *y)
{
	return x->seg_id == y->seg_id && x->offset == y->offset && x->payload_length == y->payload_length &&
	       x->seg_type == y->seg_type;
}

static int listed(const rvf_manifest *m, const rvf_dir_entry *e)
{
	for (uint32_t i = 0; i < m->seg_count; i++)
		if (same_entry(&m->dir[i], e))
			return 1;
	return 0;
}

/* Entries our writers drop from the directory in normal operation (merged
 * VEC/META segments, rebuilt INDEX/QUANT, COW bookkeeping). */
static int superseded(uint8_t t)
{
	return t == RVF_SEG_VEC || t == RVF_SEG_INDEX || t == RVF_SEG_QUANT || t == RVF_SEG_META ||
	       t == RVF_SEG_COW_MAP || t == RVF_SEG_MEMBERSHIP;
}

int sig_diff(const uint8_t *f, size_t len, const rvf_manifest *sig, const rvf_manifest *cur,
	     rvf_sig_report *r)
{
	r->header_changed =
		sig->dimension != cur->dimension || sig->metric != cur->metric ||
		sig->profile_id != cur->profile_id || sig->has_identity != cur->has_identity ||
		sig->lineage_depth != cur->lineage_depth || memcmp(sig->file_id, cur->file_id, 16) ||
		memcmp(sig->parent_id, cur->parent_id, 16) || memcmp(sig->parent_hash, cur->parent_hash, 32);
	/* segments: CRYPTO entries come and go with every signature */
	for (uint32_t i = 0; i < sig->seg_count; i++)
		if (sig->dir[i].seg_type != RVF_SEG_CRYPTO && !listed(cur, &sig->dir[i]))
			note(superseded(sig->dir[i].seg_type) ? &r->seg_superseded : &r->seg_removed,
			     sig->dir[i].seg_id);
	for (uint32_t i = 0; i < cur->seg_count; i++)
		if (cur->dir[i].seg_type != RVF_SEG_CRYPTO && !listed(sig, &cur->dir[i]))
			note(&r->seg_appended, cur->dir[i].seg_id);
	live_rec *a, *b;
	size_t na, nb;
	if (live_set(f, len, sig, &a, &na))
		return -1;
	if (live_set(f, len, cur, &b, &nb)) {
		free(a);
		return -1;
	}
	size_t vb = 4 * (size_t)sig->dimension, i = 0, j = 0;
	while (i < na || j < nb) {
		if (j == nb || (i < na && a[i].id < b[j].id)) {
			note(&r->vec_deleted, a[i++].id);
		} else if (i == na || b[j].id < a[i].id) {
			note(&r->vec_appended, b[j++].id);
		} else {
			if (sig->dimension != cur->dimension || memcmp(a[i].rec, b[j].rec, vb))
				note(&r->vec_modified, a[i].id);
			i++;
			j++;
		}
	}
	free(a);
	free(b);
	return 0;
}
