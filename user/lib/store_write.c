/* store_write.c — the write operations: ingest, delete, embed.
 *
 * Ingest keeps the directory short: a new batch absorbs the trailing vector
 * segments whose record count is at most twice what it holds so far, so a
 * store written one vector at a time has O(log n) vector segments and each
 * record is rewritten O(log n) times, instead of one directory entry per
 * call (the reference's quadratic growth). The absorbed segments become
 * dead space that compaction reclaims.
 */
#include "errors.h"
#include "store.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_writable(rvf_store *s)
{
	if (s->read_only)
		return rvf_fail(RVF_E_READONLY, "%s: store is read-only (opened read-only, or a "
				"previous write failed: reopen it)", s->path);
	if (s->frozen)
		return rvf_fail(RVF_E_READONLY, "%s: the file is frozen (rvf freeze); derive a child to "
				"change it", s->path);
	if (s->rollback_offset) /* a write would make the rollback permanent */
		return rvf_fail(RVF_E_CORRUPT, "%s: the newest manifest goes back to an older epoch than "
				"the manifest at offset %llu (epoch %u): refusing to write (`rvf check`, "
				"`rvf recover --output NEW`)", s->path,
				(unsigned long long)s->rollback_offset, s->rollback_epoch);
	return 0;
}

/* Trailing VEC entries a batch of `n` records absorbs; returns how many
 * (taken from the end of the directory, skipping other segment types). */
/* Whole records a listed VEC_SEG's payload can hold (0 for one shorter
 * than its header, which the open skipped too). */
static uint64_t vec_records(const rvf_dir_entry *e, uint64_t rec)
{
	return e->payload_length >= RVF_VEC_HDR ? (e->payload_length - RVF_VEC_HDR) / rec : 0;
}

static size_t pick_merge(const rvf_store *s, uint64_t n, size_t *idx, size_t max)
{
	uint64_t rec = rvf_vec_record_size(s->dim), acc = n;
	size_t k = 0, nvec = 0;
	/* While the manifest's vector entries (25 bytes each) weigh less than
	 * the batch itself, the file stays within 2x its data: no rewrite. */
	for (size_t i = 0; i < s->ndir; i++)
		nvec += s->dir[i].seg_type == RVF_SEG_VEC;
	if (25 * (uint64_t)nvec <= n * rec)
		return 0;
	for (size_t i = s->ndir; i-- > 0 && k < max;) {
		const rvf_dir_entry *e = &s->dir[i];
		if (e->seg_type != RVF_SEG_VEC)
			continue;
		uint64_t cnt = vec_records(e, rec);
		if (cnt > 2 * acc)
			break;
		idx[k++] = i;
		acc += cnt;
	}
	return k;
}

/* Adds `id` to the set of ids the new segment must carry; 1 if new. */
static int want_id(idmap *seen, uint64_t id, int *err)
{
	if (idmap_get(seen, id) != IDMAP_NONE)
		return 0;
	if (idmap_put(seen, id, 0))
		*err = 1;
	return 1;
}

/* Nothing absorbed: the rows go out as given (a repeated id is written
 * twice; readers keep the last record, as the reference writes it). */
static int write_rows(rvf_store *s, seg_batch *b, const uint64_t *ids, const float *vecs, size_t n,
		      const uint8_t *good, size_t ok)
{
	uint64_t rec = rvf_vec_record_size(s->dim);
	uint8_t *p = batch_add_raw(s, b, RVF_SEG_VEC, RVF_VEC_HDR + ok * rec);
	if (!p)
		return -1;
	wr16(p, (uint16_t)s->dim);
	wr32(p + 2, (uint32_t)ok);
	p += RVF_VEC_HDR;
	for (size_t i = 0; i < n; i++) {
		if (!good[i])
			continue;
		wr64(p, ids[i]);
		memcpy(p + 8, vecs + i * s->dim, 4 * (size_t)s->dim); /* x86-64 is little-endian */
		p += rec;
	}
	return 0;
}

static int write_merged_vec(rvf_store *s, seg_batch *b, const uint64_t *ids, const uint8_t *good,
			    size_t n, const size_t *midx, size_t nm)
{
	uint64_t rec = rvf_vec_record_size(s->dim);
	uint64_t total = n;
	for (size_t i = 0; i < nm; i++)
		total += vec_records(&s->dir[midx[i]], rec);
	/* Distinct live ids, oldest segment first so the order is stable. */
	uint64_t *list = malloc((total ? total : 1) * sizeof *list);
	idmap seen;
	if (!list || idmap_init(&seen, total)) {
		free(list);
		return -1;
	}
	size_t cnt = 0;
	int err = 0;
	if (nm && store_mapped(s)) {
		idmap_free(&seen);
		free(list);
		return -1;
	}
	for (size_t i = nm; i-- > 0 && !err;) {
		const rvf_dir_entry *e = &s->dir[midx[i]];
		const uint8_t *r = s->map + e->offset + RVF_SEG_HDR_SIZE + RVF_VEC_HDR;
		uint64_t c = vec_records(e, rec);
		for (uint64_t j = 0; j < c; j++, r += rec)
			if (want_id(&seen, rd64(r), &err))
				list[cnt++] = rd64(r);
	}
	for (size_t i = 0; i < n && !err; i++)
		if (good[i] && want_id(&seen, ids[i], &err))
			list[cnt++] = ids[i];
	idmap_free(&seen);
	/* Deleted records go too, unless the HNSW index still holds them as
	 * nodes (until compaction): its persisted form names them, so a reopen
	 * must find their slots. */
	size_t live = 0;
	for (size_t i = 0; i < cnt; i++) {
		uint32_t slot = idmap_get(&s->slot_of, list[i]);
		if (slot != IDMAP_NONE && (!s->deleted[slot] || s->index))
			list[live++] = slot;
	}
	uint8_t *p = err ? NULL : batch_add_raw(s, b, RVF_SEG_VEC, RVF_VEC_HDR + live * rec);
	if (p) {
		wr16(p, (uint16_t)s->dim);
		wr32(p + 2, (uint32_t)live);
		p += RVF_VEC_HDR;
		for (size_t i = 0; i < live; i++, p += rec) {
			wr64(p, s->ids[list[i]]);
			memcpy(p + 8, s->vecs + list[i] * s->stride, 4 * (size_t)s->dim);
		}
	}
	free(list);
	return p ? 0 : -1;
}

static int row_ok(const float *v, uint32_t dim)
{
	for (uint32_t i = 0; i < dim; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

int rvf_ingest(rvf_store *s, const uint64_t *ids, const float *vecs, size_t n, rvf_ingest_result *res)
{
	return rvf_ingest_meta(s, ids, vecs, n, NULL, NULL, res);
}

/* Applies the rows' metadata to the table; returns 1 if the batch needs a
 * META_SEG (it sets fields, or clears those of an upserted id). */
static int apply_meta(rvf_store *s, const uint64_t *ids, const uint8_t *good, size_t n,
		      const rvf_field *const *fields, const size_t *nfields, int *err)
{
	int need = 0;
	for (size_t i = 0; i < n && !*err; i++) {
		if (!good[i])
			continue;
		uint32_t slot = idmap_get(&s->slot_of, ids[i]);
		size_t nf = fields && nfields && fields[i] ? nfields[i] : 0;
		const meta_field *old;
		size_t nold;
		if (nf) {
			*err = meta_set(s->meta, slot, fields[i], nf);
			need = 1;
		} else if (meta_get(s->meta, slot, &old, &nold)) {
			meta_clear(s->meta, slot);
			need = 1;
		}
	}
	return need;
}

/* Validates metadata before anything changes, so a bad field rejects the
 * whole call with nothing written. */
static int check_meta(const rvf_field *const *fields, const size_t *nfields, size_t n)
{
	if (!fields || !nfields)
		return 0;
	meta_table *t = meta_new();
	if (!t)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	int err = 0;
	for (size_t i = 0; i < n && !err; i++)
		if (fields[i] && nfields[i] && (err = meta_set(t, 0, fields[i], nfields[i])))
			err = rvf_fail(err, "row %zu: bad metadata: %s", i, rvf_last_error());
	meta_free(t);
	return err;
}

static int ingest_rows(rvf_store *s, const uint64_t *ids, const float *vecs, const uint8_t *good,
		       size_t n, size_t ok, const rvf_field *const *fields, const size_t *nfields);
static int ingest_commit(rvf_store *s, const uint64_t *ids, const float *vecs, const uint8_t *good,
			 size_t n, size_t ok, const rvf_field *const *fields, const size_t *nfields);

int rvf_ingest_meta(rvf_store *s, const uint64_t *ids, const float *vecs, size_t n,
		    const rvf_field *const *fields, const size_t *nfields, rvf_ingest_result *res)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (n > UINT32_MAX || (n && (!ids || !vecs)))
		return rvf_fail(RVF_E_ARG, "ingest: bad batch (n=%zu)", n);
	if ((err = check_meta(fields, nfields, n)) || (err = store_meta_check_names(s, fields, nfields, n)))
		return err;
	uint8_t *good = malloc(n ? n : 1);
	if (!good)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += good[i] = (uint8_t)row_ok(vecs + i * s->dim, s->dim);
	if (res) {
		res->accepted = ok;
		res->rejected = n - ok;
		res->epoch = s->epoch;
	}
	err = ingest_rows(s, ids, vecs, good, n, ok, fields, nfields);
	free(good);
	if (!err && ok && res)
		res->epoch = s->epoch;
	return err;
}

static int ingest_rows(rvf_store *s, const uint64_t *ids, const float *vecs, const uint8_t *good,
		       size_t n, size_t ok, const rvf_field *const *fields, const size_t *nfields)
{
	int err;
	if (!ok)
		return 0;
	if (store_reserve_slots(s, ok))
		return rvf_fail(RVF_E_NOMEM, "out of memory for %zu vectors", ok);
	size_t first_new = s->nslots;
	/* Existing slots this batch overwrites: the index re-links them. */
	uint32_t *ups = s->index || s->quant ? malloc((n ? n : 1) * sizeof *ups) : NULL;
	size_t nups = 0;
	if ((s->index || s->quant) && !ups)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!good[i])
			continue;
		uint32_t old = ups ? idmap_get(&s->slot_of, ids[i]) : IDMAP_NONE;
		if (store_put(s, ids[i], vecs + i * s->dim)) {
			free(ups);
			s->read_only = 1; /* memory is ahead of the file now */
			return rvf_fail(RVF_E_NOMEM, "out of memory");
		}
		if (old != IDMAP_NONE && old < first_new)
			ups[nups++] = old;
	}
	/* The graph changes first: the commit carries them (INDEX_LOG). */
	err = store_index_ingested(s, first_new);
	if (!err && nups)
		err = store_index_upserted(s, ups, nups);
	if (err)
		s->read_only = 1; /* memory is ahead of the file now */
	if (!err)
		err = ingest_commit(s, ids, vecs, good, n, ok, fields, nfields);
	if (!err)
		err = store_quant_ingested(s, first_new, ups, nups);
	free(ups);
	return err;
}

/* Metadata, vector segment (absorbing what it outweighs), witness, manifest. */
static int ingest_commit(rvf_store *s, const uint64_t *ids, const float *vecs, const uint8_t *good,
			 size_t n, size_t ok, const rvf_field *const *fields, const size_t *nfields)
{
	int err;
	int merr = 0;
	int need_meta = apply_meta(s, ids, good, n, fields, nfields, &merr);
	if (merr) {
		s->read_only = 1;
		return rvf_fail(merr, "metadata: %s", rvf_last_error());
	}
	size_t midx[64];
	size_t nm = pick_merge(s, ok, midx, 64);
	seg_batch b = {0};
	if (nm ? write_merged_vec(s, &b, ids, good, n, midx, nm) : write_rows(s, &b, ids, vecs, n, good, ok)) {
		batch_free(&b);
		s->read_only = 1;
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	/* Drop the absorbed entries (midx is in descending order). On failure
	 * below the handle refuses further writes (store_commit), so the
	 * directory is not restored: nothing will write it again. */
	for (size_t i = 0; i < nm; i++) {
		memmove(&s->dir[midx[i]], &s->dir[midx[i] + 1], (s->ndir - midx[i] - 1) * sizeof *s->dir);
		s->ndir--;
	}
	if (need_meta && (err = store_meta_batch(s, &b, ids, n))) {
		batch_free(&b);
		s->read_only = 1;
		return err;
	}
	char act[64];
	snprintf(act, sizeof act, "ingest:count=%zu", ok);
	err = store_commit(s, &b, act, 1);
	batch_free(&b);
	return err;
}

int rvf_set_auto_compact(rvf_store *s, double dead_ratio, uint64_t min_deleted)
{
	if (!(dead_ratio >= 0 && dead_ratio <= 1))
		return rvf_fail(RVF_E_ARG, "auto-compaction ratio must be between 0 and 1 (got %g)", dead_ratio);
	s->auto_ratio = dead_ratio;
	s->auto_min = min_deleted;
	return 0;
}

/* Runs the auto-compaction policy after a delete; the delete itself is
 * already durable, so a failed compaction only reports. */
static int maybe_compact(rvf_store *s)
{
	size_t local = s->nslots - s->ninherited, dead = s->ndeleted - s->ndeleted_inh;
	if (s->auto_ratio <= 0 || s->is_cow || !local || dead < s->auto_min ||
	    (double)dead / (double)local < s->auto_ratio)
		return 0;
	return rvf_compact(s, NULL);
}

int rvf_delete(rvf_store *s, const uint64_t *ids, size_t n, rvf_delete_result *res)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (n > UINT32_MAX || (n && !ids))
		return rvf_fail(RVF_E_ARG, "delete: bad id list (n=%zu)", n);
	seg_batch b = {0};
	uint8_t *p = batch_add_raw(s, &b, RVF_SEG_JOURNAL, rvf_journal_size(n));
	if (!p) {
		batch_free(&b);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	rvf_journal_encode(p, ids, n, s->epoch + 1);
	uint64_t deleted = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t slot = idmap_get(&s->slot_of, ids[i]);
		if (slot != IDMAP_NONE && !s->deleted[slot]) {
			store_mark_deleted(s, slot);
			deleted++;
		}
	}
	s->live_dirty = 1;
	char act[64];
	snprintf(act, sizeof act, "delete:count=%llu", (unsigned long long)deleted);
	err = store_commit(s, &b, act, 0);
	batch_free(&b);
	if (!err && res) {
		res->deleted = deleted;
		res->epoch = s->epoch;
	}
	if (!err)
		err = maybe_compact(s);
	return err;
}

int rvf_embed_ebpf(rvf_store *s, const rvf_ebpf *e, uint64_t *seg_id)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!e || !e->program || !e->program_size || e->btf_size > UINT32_MAX ||
	    (e->btf_size && !e->btf))
		return rvf_fail(RVF_E_ARG, "embed-ebpf: empty program or bad BTF");
	seg_batch b = {0};
	uint8_t *p = batch_add_raw(s, &b, RVF_SEG_EBPF, RVF_EBPF_HDR + e->program_size + e->btf_size);
	if (!p)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	memset(p, 0, RVF_EBPF_HDR);
	wr32(p, RVF_EBPF_MAGIC);
	wr16(p + 4, 1);
	p[6] = e->program_type;
	p[7] = e->attach_type;
	wr16(p + 0x0C, (uint16_t)(e->program_size / 8));
	wr16(p + 0x0E, e->max_dimension);
	wr64(p + 0x10, e->program_size);
	wr32(p + 0x1C, (uint32_t)e->btf_size);
	rvf_fold32(e->program, e->program_size, p + 0x20);
	memcpy(p + RVF_EBPF_HDR, e->program, e->program_size);
	if (e->btf_size)
		memcpy(p + RVF_EBPF_HDR + e->program_size, e->btf, e->btf_size);
	uint64_t id = b.ents[0].seg_id;
	char act[80]; /* a witness, so the program is covered by the chain */
	snprintf(act, sizeof act, "embed-ebpf:program=%zu,btf=%zu", e->program_size, e->btf_size);
	err = store_commit(s, &b, act, 1);
	batch_free(&b);
	if (!err && seg_id)
		*seg_id = id;
	return err;
}
