/* store_compact.c — rewrite the file without deleted vectors and dead
 * manifests (spec §16): write beside, fsync, rename over, fsync the dir.
 * Until the rename the original file is untouched, so a crash at any point
 * leaves either the old file or the complete new one (the next writer
 * removes the temp file of a killed compaction). The new file gets the old
 * one's owner, group and mode; a symlinked store is compacted where its
 * target is, so the link stays a link.
 */
#include "errors.h"
#include "store.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Drops deleted slots from memory (metadata follows its vector); returns
 * how many were purged, or -1 without memory (nothing changed then). */
static int64_t purge_deleted(rvf_store *s)
{
	uint32_t *remap = malloc((s->nslots ? s->nslots : 1) * sizeof *remap);
	if (!remap)
		return -1;
	size_t w = 0;
	for (size_t i = 0; i < s->nslots; i++)
		remap[i] = s->deleted[i] ? META_SLOT_NONE : (uint32_t)w++;
	if (meta_compact(s->meta, remap, s->nslots) || store_index_compacted(s, remap, s->nslots) ||
	    store_quant_compacted(s, remap, s->nslots)) {
		free(remap);
		return -1;
	}
	free(remap);
	w = 0;
	for (size_t i = 0; i < s->nslots; i++) {
		if (s->deleted[i])
			continue;
		if (w != i) {
			s->ids[w] = s->ids[i];
			memcpy(s->vecs + w * s->stride, s->vecs + i * s->stride, s->stride * sizeof(float));
		}
		s->deleted[w++] = 0;
	}
	int64_t purged = (int64_t)(s->nslots - w);
	s->nslots = w;
	s->ndeleted = 0;
	s->norphan_del = 0;
	s->live_dirty = 1;
	return purged;
}

static int rebuild_idmap(rvf_store *s)
{
	idmap m;
	if (idmap_init(&m, s->nslots))
		return -1;
	for (size_t i = 0; i < s->nslots; i++)
		if (idmap_put(&m, s->ids[i], (uint32_t)i)) {
			idmap_free(&m);
			return -1;
		}
	idmap_free(&s->slot_of);
	s->slot_of = m;
	return 0;
}

/* Everything but vectors, journals, manifests and the (now stale) index is
 * kept byte for byte, in file order: kernels, eBPF, unknown types that the
 * directory lists, and every intact witness (the audit chain), listed or not. */
typedef struct {
	rvf_store *s, *n;
	seg_batch *b;
} keep_ctx;

static int listed(const rvf_store *s, uint64_t off)
{
	for (size_t i = 0; i < s->ndir; i++)
		if (s->dir[i].offset == off)
			return 1;
	return 0;
}

static int kept(const keep_ctx *k, uint64_t off, const rvf_seg_hdr *h)
{
	const uint8_t *p = k->s->map + off;
	switch (h->seg_type) {
	case RVF_SEG_VEC:
	case RVF_SEG_JOURNAL:
	case RVF_SEG_MANIFEST:
	case RVF_SEG_INDEX:
		return 0;
	case RVF_SEG_INDEX_LOG: /* ours: the commit below writes a fresh checkpoint */
		if (store_index_log_ours(p + RVF_SEG_HDR_SIZE, h->payload_length) || !listed(k->s, off))
			return 0;
		break;
	case RVF_SEG_WITNESS:
		if (!store_hash_ok(k->s, off, h))
			return 0; /* damaged: verify-witness reports it in the old file */
		break;
	case RVF_SEG_META: /* ours (values, names) are rewritten whole; another writer's are kept */
		if (h->payload_length >= 4 && (!memcmp(p + RVF_SEG_HDR_SIZE, META_SEG_MAGIC, 4) ||
					       meta_dict_is(p + RVF_SEG_HDR_SIZE, h->payload_length)))
			return 0;
		if (!listed(k->s, off))
			return 0;
		break;
	default:
		if (!listed(k->s, off))
			return 0;
	}
	/* salvage keeps intact segments only */
	return !k->s->salvage || store_hash_ok(k->s, off, h);
}

static int keep_segment(void *ctx, uint64_t off, const rvf_seg_hdr *h)
{
	keep_ctx *k = ctx;
	if (!kept(k, off, h))
		return 0;
	return batch_add_verbatim(k->n, k->b, k->s->map + off, h->payload_length) ? -1 : 0;
}

/* Kept segments keep their ids; new ones are numbered after the largest,
 * so no two segments of the new file share an id (the create witness is
 * id 1, like the first VEC of a fresh numbering). */
static int max_kept_id(void *ctx, uint64_t off, const rvf_seg_hdr *h)
{
	keep_ctx *k = ctx;
	if (kept(k, off, h) && h->seg_id >= k->n->next_seg_id)
		k->n->next_seg_id = h->seg_id + 1;
	return 0;
}

static int write_new_file(rvf_store *s, rvf_store *n, int64_t purged)
{
	seg_batch b = {0};
	int err = 0;
	keep_ctx k = {s, n, &b};
	if (store_walk(s, max_kept_id, &k) < 0)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	n->dict_dirty = s->dict.n > 0; /* n shares s's dictionary: written again */
	if (s->nslots) {
		uint64_t rec = rvf_vec_record_size(s->dim);
		uint8_t *p = batch_add_raw(n, &b, RVF_SEG_VEC, RVF_VEC_HDR + s->nslots * rec);
		if (!p) {
			err = rvf_fail(RVF_E_NOMEM, "out of memory");
			goto out;
		}
		wr16(p, (uint16_t)s->dim);
		wr32(p + 2, (uint32_t)s->nslots);
		p += RVF_VEC_HDR;
		for (size_t i = 0; i < s->nslots; i++, p += rec) {
			wr64(p, s->ids[i]);
			memcpy(p + 8, s->vecs + i * s->stride, 4 * (size_t)s->dim);
		}
	}
	if (meta_count(s->meta)) {
		uint32_t *slots = malloc(s->nslots * sizeof *slots);
		uint8_t *pay = NULL;
		size_t plen = 0, cnt = 0;
		const meta_field *f;
		size_t nf;
		for (size_t i = 0; slots && i < s->nslots; i++)
			if (meta_get(s->meta, (uint32_t)i, &f, &nf))
				slots[cnt++] = (uint32_t)i;
		uint64_t *ids = slots ? malloc(cnt * sizeof *ids) : NULL;
		for (size_t i = 0; ids && i < cnt; i++)
			ids[i] = s->ids[slots[i]];
		err = !ids ? RVF_E_NOMEM : meta_seg_encode_slots(s->meta, slots, ids, cnt, &pay, &plen);
		if (!err && batch_add(n, &b, RVF_SEG_META, pay, plen))
			err = RVF_E_NOMEM;
		free(slots);
		free(ids);
		free(pay);
		if (err) {
			err = rvf_fail(err, "compaction: writing metadata failed");
			goto out;
		}
	}
	if (store_walk(s, keep_segment, &k)) {
		err = rvf_fail(RVF_E_NOMEM, "out of memory");
		goto out;
	}
	char act[128];
	snprintf(act, sizeof act, "compact:segments_compacted=%llu,bytes_reclaimed=%llu",
		 (unsigned long long)purged, (unsigned long long)(purged * s->dim * 4));
	err = store_commit(n, &b, act, 1);
out:
	batch_free(&b);
	return err;
}

int rvf_compact(rvf_store *s, rvf_compact_result *res)
{
	rvf_clear_error();
	int werr = store_writable(s);
	if (werr)
		return werr;
	if (s->is_cow)
		return rvf_fail(RVF_E_UNSUPPORTED, "%s: compacting a copy-on-write branch is not supported yet",
				s->path);
	struct stat st;
	if (fstat(s->fd, &st))
		return rvf_fail(RVF_E_IO, "%s: %s", s->path, strerror(errno));
	char *target = store_real_path(s->path);
	if (!target)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	/* A fresh name, created exclusively: a file or link another user put
	 * beside the store is never opened, followed or truncated. It is
	 * created private and given the store's owner and mode before any byte
	 * is written; a store we could not give back its owner is not
	 * replaced. */
	char *tmp = NULL;
	int fd = store_compact_tmp_create(s->path, &tmp);
	if (fd < 0) {
		int e = errno;
		free(target);
		return e == ENOMEM ? rvf_fail(RVF_E_NOMEM, "out of memory")
				   : rvf_fail(RVF_E_IO, "%s: cannot create the compaction file beside it: %s",
					      s->path, strerror(e));
	}
	struct stat ts;
	int err = 0;
	if (flock(fd, LOCK_EX | LOCK_NB) || fstat(fd, &ts))
		err = rvf_fail(RVF_E_IO, "%s: cannot create compaction file: %s", tmp, strerror(errno));
	else if ((ts.st_uid != st.st_uid || ts.st_gid != st.st_gid) && fchown(fd, st.st_uid, st.st_gid))
		err = rvf_fail(RVF_E_IO, "%s: cannot give the compacted file the owner %u:%u of the store: %s",
			       s->path, (unsigned)st.st_uid, (unsigned)st.st_gid, strerror(errno));
	else if (fchmod(fd, st.st_mode & 07777))
		err = rvf_fail(RVF_E_IO, "%s: chmod: %s", tmp, strerror(errno));
	if (err) {
		unlink(tmp);
		close(fd);
		free(tmp);
		free(target);
		return err;
	}
	uint64_t before_vecs = s->nslots - s->ndeleted, before_size = s->file_size;
	int64_t purged = purge_deleted(s);
	if (purged < 0) {
		close(fd);
		unlink(tmp);
		free(tmp);
		free(target);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}

	rvf_store n = *s; /* shares the slot arrays; owns only dir and map */
	n.path = tmp;
	n.fd = fd;
	n.map = NULL;
	n.map_len = 0;
	n.file_size = 0;
	n.dir = NULL;
	n.ndir = n.dir_cap = 0;
	n.next_seg_id = 1;
	n.scratch = NULL;
	n.scratch_cap = 0;
	memset(n.witness_prev, 0, sizeof n.witness_prev);

	err = write_new_file(s, &n, purged);
	free(n.scratch);
	if (!err && rename(tmp, target))
		err = rvf_fail(RVF_E_IO, "rename %s -> %s: %s", tmp, target, strerror(errno));
	if (!err && store_fsync_dir(target))
		err = rvf_fail(RVF_E_IO, "%s: fsync of the directory failed: %s", target, strerror(errno));
	free(target);
	if (err) {
		unlink(tmp);
		if (n.map)
			munmap((void *)n.map, n.map_len);
		close(fd);
		free(n.dir);
		free(tmp);
		/* Memory no longer matches the file: force a reopen. */
		s->read_only = 1;
		return err;
	}
	free(tmp);
	if (rebuild_idmap(s)) {
		s->read_only = 1;
		err = rvf_fail(RVF_E_NOMEM, "out of memory after compaction (file is complete; reopen it)");
	}
	if (s->map)
		munmap((void *)s->map, s->map_len);
	close(s->fd);
	free(s->dir);
	s->fd = n.fd;
	s->map = n.map;
	s->map_len = n.map_len;
	s->file_size = n.file_size;
	s->dir = n.dir;
	s->ndir = n.ndir;
	s->dir_cap = n.dir_cap;
	s->epoch = n.epoch;
	s->manifest_offset = n.manifest_offset;
	s->next_seg_id = n.next_seg_id;
	memcpy(s->witness_prev, n.witness_prev, sizeof s->witness_prev);
	if (res) {
		res->segments_compacted = purged;
		res->vectors_before = before_vecs;
		res->vectors_after = s->nslots;
		res->file_size_before = before_size;
		res->file_size_after = s->file_size;
		res->bytes_reclaimed = before_size > s->file_size ? before_size - s->file_size : 0;
		res->epoch = s->epoch;
	}
	return err;
}

int store_salvage_write(rvf_store *s, const char *out, rvf_compact_result *res)
{
	if (s->is_cow)
		return rvf_fail(RVF_E_UNSUPPORTED, "%s: salvaging a copy-on-write branch is not supported",
				s->path);
	int fd = open(out, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return rvf_fail(errno == EEXIST ? RVF_E_EXISTS : RVF_E_IO, "%s: %s", out,
				errno == EEXIST ? "file already exists (refusing to overwrite)" : strerror(errno));
	uint64_t before_vecs = s->nslots - s->ndeleted, before_size = s->file_size;
	int64_t purged = purge_deleted(s);
	rvf_store n = *s; /* as in rvf_compact */
	n.path = (char *)out;
	n.fd = fd;
	n.read_only = 0;
	n.map = NULL;
	n.map_len = 0;
	n.file_size = 0;
	n.dir = NULL;
	n.ndir = n.dir_cap = 0;
	n.next_seg_id = 1;
	n.scratch = NULL;
	n.scratch_cap = 0;
	memset(n.witness_prev, 0, sizeof n.witness_prev);
	int err = purged < 0 ? rvf_fail(RVF_E_NOMEM, "out of memory") : write_new_file(s, &n, purged);
	free(n.scratch);
	free(n.dir);
	if (n.map)
		munmap((void *)n.map, n.map_len);
	if (!err && store_fsync_dir(out))
		err = rvf_fail(RVF_E_IO, "%s: fsync of the directory failed: %s", out, strerror(errno));
	close(fd);
	if (err) {
		unlink(out);
		return err;
	}
	if (res) {
		memset(res, 0, sizeof *res);
		res->segments_compacted = (uint64_t)purged;
		res->vectors_before = before_vecs;
		res->vectors_after = s->nslots;
		res->file_size_before = before_size;
		res->file_size_after = n.file_size;
		res->epoch = n.epoch;
	}
	return 0;
}
