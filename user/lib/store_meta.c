/* store_meta.c — per-vector metadata of the store: loading META_SEGs at
 * open, writing one with each ingest that carries (or clears) metadata, and
 * filters over it. The table is slot-indexed like the vectors.
 *
 * Like vector segments, a batch absorbs the trailing META_SEGs it outweighs,
 * so the directory stays O(log n) however small the batches are.
 */
#include "errors.h"
#include "filter.h"
#include "store.h"
#include <stdlib.h>
#include <string.h>

int rvf_filter_parse(const char *json, rvf_filter **out)
{
	rvf_clear_error();
	*out = NULL;
	if (!json)
		return rvf_fail(RVF_E_ARG, "filter: no JSON given");
	return filter_parse(json, strlen(json), FILTER_GRAMMAR_AUTO, out);
}

static int dict_lookup(void *ctx, const char *name, int type, uint16_t *id, int *dtype)
{
	(void)type;
	return rvf_field_lookup(ctx, name, id, dtype);
}

int rvf_filter_parse_names(const rvf_store *s, const char *json, rvf_filter **out)
{
	rvf_clear_error();
	*out = NULL;
	if (!json)
		return rvf_fail(RVF_E_ARG, "filter: no JSON given");
	meta_names nm = {dict_lookup, NULL, (void *)s};
	return filter_parse_names(json, strlen(json), FILTER_GRAMMAR_AUTO, s ? &nm : NULL, out);
}

void rvf_filter_free(rvf_filter *f) { filter_free(f); }

int store_meta_init(rvf_store *s)
{
	if (!s->meta && !(s->meta = meta_new()))
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	return 0;
}

int store_meta_load(rvf_store *s, const rvf_dir_entry *e, const rvf_seg_hdr *h)
{
	const uint8_t *p = s->map + e->offset + RVF_SEG_HDR_SIZE;
	if (!store_hash_ok(s, e->offset, h))
		return rvf_fail(RVF_E_CHECKSUM, "%s: metadata segment %llu at offset %llu: content hash mismatch",
				s->path, (unsigned long long)e->seg_id, (unsigned long long)e->offset);
	if (meta_dict_is(p, h->payload_length)) {
		/* each dictionary segment is complete: the last one counts */
		int derr = meta_dict_decode(p, h->payload_length, &s->dict);
		if (derr == RVF_E_UNSUPPORTED)
			return 0;
		return derr ? rvf_fail(derr, "%s: field dictionary at offset %llu: %s", s->path,
				       (unsigned long long)e->offset, rvf_last_error())
			    : 0;
	}
	meta_batch b;
	int err = meta_seg_decode(p, h->payload_length, &b);
	if (err == RVF_E_UNSUPPORTED)
		return 0; /* another writer's metadata: kept as is, not interpreted */
	if (err)
		return rvf_fail(err, "%s: metadata segment at offset %llu: %s", s->path,
				(unsigned long long)e->offset, rvf_last_error());
	for (size_t i = 0; i < b.n && !err; i++) {
		uint32_t slot = idmap_get(&s->slot_of, b.recs[i].id);
		if (slot != IDMAP_NONE)
			err = meta_set(s->meta, slot, b.recs[i].fields, b.recs[i].nfields);
	}
	meta_batch_free(&b);
	return err ? rvf_fail(err, "%s: loading metadata: %s", s->path, rvf_last_error()) : 0;
}

static int is_ours(const rvf_store *s, const rvf_dir_entry *e)
{
	return e->seg_type == RVF_SEG_META && e->payload_length >= 4 &&
	       !memcmp(s->map + e->offset + RVF_SEG_HDR_SIZE, META_SEG_MAGIC, 4);
}

/* Appends a META_SEG for the batch's ids plus those of the trailing META_SEGs
 * it absorbs, and drops the absorbed entries from the directory. */
int store_meta_batch(rvf_store *s, seg_batch *b, const uint64_t *ids, size_t n)
{
	int err = store_mapped(s);
	if (err)
		return err;
	size_t nmeta = 0, cand[64], nc = 0;
	for (size_t i = 0; i < s->ndir; i++)
		nmeta += s->dir[i].seg_type == RVF_SEG_META;
	uint64_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		const meta_field *f;
		size_t nf;
		uint32_t slot = idmap_get(&s->slot_of, ids[i]);
		acc += 10 + (slot != IDMAP_NONE && meta_get(s->meta, slot, &f, &nf) ? 16 * nf : 0);
	}
	if (25 * (uint64_t)nmeta > acc)
		for (size_t i = s->ndir; i-- > 0 && nc < 64;) {
			const rvf_dir_entry *e = &s->dir[i];
			if (e->seg_type != RVF_SEG_META)
				continue;
			if (!is_ours(s, e) || e->payload_length > 2 * acc)
				break;
			cand[nc++] = i;
			acc += e->payload_length;
		}
	/* ids: absorbed segments first (oldest first), then the batch */
	idmap seen;
	size_t cap = n, cnt = 0;
	meta_batch *mb = calloc(nc ? nc : 1, sizeof *mb);
	if (!mb || idmap_init(&seen, n)) {
		free(mb);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < nc && !err; i++) {
		const rvf_dir_entry *e = &s->dir[cand[i]];
		err = meta_seg_decode(s->map + e->offset + RVF_SEG_HDR_SIZE, e->payload_length, &mb[i]);
		if (!err)
			cap += mb[i].n;
	}
	uint64_t *lid = err ? NULL : malloc((cap ? cap : 1) * sizeof *lid);
	uint32_t *lslot = err ? NULL : malloc((cap ? cap : 1) * sizeof *lslot);
	if (!err && (!lid || !lslot))
		err = RVF_E_NOMEM;
	for (size_t i = nc; !err && i-- > 0;)
		for (size_t j = 0; j < mb[i].n && !err; j++) {
			uint64_t id = mb[i].recs[j].id;
			if (idmap_get(&seen, id) != IDMAP_NONE)
				continue;
			if (idmap_put(&seen, id, 0))
				err = RVF_E_NOMEM;
			lid[cnt++] = id;
		}
	for (size_t i = 0; !err && i < n; i++) {
		if (idmap_get(&seen, ids[i]) != IDMAP_NONE)
			continue;
		if (idmap_put(&seen, ids[i], 0))
			err = RVF_E_NOMEM;
		lid[cnt++] = ids[i];
	}
	size_t w = 0;
	for (size_t i = 0; !err && i < cnt; i++) {
		uint32_t slot = idmap_get(&s->slot_of, lid[i]);
		if (slot == IDMAP_NONE || s->deleted[slot])
			continue;
		lid[w] = lid[i];
		lslot[w++] = slot;
	}
	uint8_t *pay = NULL;
	size_t plen = 0;
	if (!err)
		err = meta_seg_encode_slots(s->meta, lslot, lid, w, &pay, &plen);
	if (!err && batch_add(s, b, RVF_SEG_META, pay, plen))
		err = RVF_E_NOMEM;
	/* cand[] is descending, so removing in order keeps indexes valid */
	for (size_t i = 0; !err && i < nc; i++) {
		memmove(&s->dir[cand[i]], &s->dir[cand[i] + 1], (s->ndir - cand[i] - 1) * sizeof *s->dir);
		s->ndir--;
	}
	free(pay);
	free(lid);
	free(lslot);
	for (size_t i = 0; i < nc; i++)
		meta_batch_free(&mb[i]);
	free(mb);
	idmap_free(&seen);
	if (err == RVF_E_NOMEM)
		return rvf_fail(err, "out of memory");
	return err ? rvf_fail(err, "%s: metadata: %s", s->path, rvf_last_error()) : 0;
}

int rvf_get_meta(const rvf_store *s, uint64_t id, const rvf_field **fields, size_t *n)
{
	*fields = NULL;
	*n = 0;
	uint32_t slot = idmap_get(&s->slot_of, id);
	if (slot == IDMAP_NONE || s->deleted[slot])
		return rvf_fail(RVF_E_NOT_FOUND, "id %llu is not live", (unsigned long long)id);
	if (s->meta)
		meta_get(s->meta, slot, fields, n);
	return 0;
}

int store_slot_matches(const rvf_store *s, size_t slot, const rvf_filter *f)
{
	const meta_field *fields = NULL;
	size_t n = 0;
	if (s->meta)
		meta_get(s->meta, (uint32_t)slot, &fields, &n);
	return filter_eval(f, fields, n);
}

int rvf_delete_filter(rvf_store *s, const rvf_filter *f, rvf_delete_result *res)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!f)
		return rvf_fail(RVF_E_ARG, "delete: no filter");
	size_t cnt = 0;
	uint64_t *ids = malloc((s->nslots ? s->nslots : 1) * sizeof *ids);
	if (!ids)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	for (size_t i = 0; i < s->nslots; i++)
		if (!s->deleted[i] && store_slot_matches(s, i, f))
			ids[cnt++] = s->ids[i];
	if (!cnt) {
		free(ids);
		if (res) {
			res->deleted = 0;
			res->epoch = s->epoch;
		}
		return 0;
	}
	err = rvf_delete(s, ids, cnt, res);
	free(ids);
	return err;
}

/* ---- field names ----------------------------------------------------------- */

int store_dict_batch(rvf_store *s, seg_batch *b)
{
	if (!s->dict_dirty || !s->dict.n)
		return 0;
	int err = store_mapped(s);
	if (err)
		return err;
	uint8_t *pay;
	size_t plen;
	if ((err = meta_dict_encode(&s->dict, &pay, &plen)))
		return err;
	if (batch_add(s, b, RVF_SEG_META, pay, plen)) {
		free(pay);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	free(pay);
	size_t w = 0;
	for (size_t i = 0; i < s->ndir; i++) {
		const rvf_dir_entry *e = &s->dir[i];
		if (e->seg_type == RVF_SEG_META && e->offset + RVF_SEG_HDR_SIZE + 4 <= s->map_len &&
		    meta_dict_is(s->map + e->offset + RVF_SEG_HDR_SIZE, e->payload_length))
			continue; /* superseded by the one just added */
		s->dir[w++] = *e;
	}
	s->ndir = w;
	s->dict_dirty = 0;
	return 0;
}

int store_meta_check_names(const rvf_store *s, const rvf_field *const *fields, const size_t *nfields,
			   size_t n)
{
	for (size_t i = 0; fields && nfields && s->dict.n && i < n; i++)
		for (size_t j = 0; fields[i] && j < nfields[i]; j++) {
			const meta_dict_ent *d = meta_dict_by_id(&s->dict, fields[i][j].id);
			if (d && d->type != fields[i][j].type)
				return rvf_fail(RVF_E_ARG, "row %zu: field '%s' (id %u) is %s, got %s", i, d->name,
						d->id, meta_type_name(d->type),
						meta_type_name(fields[i][j].type) ? meta_type_name(fields[i][j].type)
										  : "an invalid type");
		}
	return 0;
}

int rvf_field_lookup(const rvf_store *s, const char *name, uint16_t *id, int *type)
{
	const meta_dict_ent *d = name ? meta_dict_find(&s->dict, name, strlen(name)) : NULL;
	if (!d)
		return rvf_fail(RVF_E_NOT_FOUND, "unknown field name '%s'", name ? name : "(null)");
	if (id)
		*id = d->id;
	if (type)
		*type = d->type;
	return 0;
}

const char *rvf_field_name(const rvf_store *s, uint16_t id, int *type)
{
	const meta_dict_ent *d = meta_dict_by_id(&s->dict, id);
	if (d && type)
		*type = d->type;
	return d ? d->name : NULL;
}

/* A new name gets the highest id not in use (named, or carried by any
 * vector): numeric ids people type are small, so names stay clear of them. */
static int free_id(const rvf_store *s, uint16_t *out)
{
	uint8_t *used = calloc(65536 / 8, 1);
	if (!used)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	for (size_t i = 0; i < s->dict.n; i++)
		used[s->dict.e[i].id / 8] |= (uint8_t)(1u << (s->dict.e[i].id % 8));
	for (size_t i = 0; s->meta && i < s->nslots; i++) {
		const meta_field *f;
		size_t nf;
		if (meta_get(s->meta, (uint32_t)i, &f, &nf))
			for (size_t j = 0; j < nf; j++)
				used[f[j].id / 8] |= (uint8_t)(1u << (f[j].id % 8));
	}
	int id = -1;
	for (int i = 65535; i >= 0 && id < 0; i--)
		if (!(used[i / 8] & (1u << (i % 8))))
			id = i;
	free(used);
	if (id < 0)
		return rvf_fail(RVF_E_ARG, "all 65536 field ids are in use");
	*out = (uint16_t)id;
	return 0;
}

int rvf_field_define(rvf_store *s, const char *name, int type, uint16_t *id)
{
	rvf_clear_error();
	if (!name)
		return rvf_fail(RVF_E_ARG, "field name missing");
	const meta_dict_ent *d = meta_dict_find(&s->dict, name, strlen(name));
	if (d) {
		if (d->type != type)
			return rvf_fail(RVF_E_ARG, "field '%s' is %s, not %s", name, meta_type_name(d->type),
					meta_type_name(type) ? meta_type_name(type) : "a valid type");
		if (id)
			*id = d->id;
		return 0;
	}
	int err = store_writable(s);
	if (err)
		return err;
	uint16_t nid = 0;
	if ((err = free_id(s, &nid)) || (err = meta_dict_add(&s->dict, name, strlen(name), nid, type)))
		return err;
	s->dict_dirty = 1;
	if (id)
		*id = nid;
	return 0;
}
