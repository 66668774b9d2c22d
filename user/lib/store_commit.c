/* store_commit.c — appending commits: data segments, a witness, a manifest.
 *
 * A commit is durable once its manifest is on disk. Data and witness are
 * written and synced first, the manifest after, so a crash leaves either the
 * old manifest as the newest complete one or the new commit whole. A failed
 * write truncates the file back and disables writes on the handle (its
 * in-memory state already moved on), so the caller must reopen.
 */
#include "errors.h"
#include "store.h"
#include "witness.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t *batch_reserve(seg_batch *b, uint64_t len)
{
	if (len > SIZE_MAX - RVF_SEG_HDR_SIZE - b->len)
		return NULL;
	if (b->nents == b->ents_cap) {
		size_t cap = b->ents_cap ? b->ents_cap * 2 : 8;
		rvf_dir_entry *e = realloc(b->ents, cap * sizeof *e);
		if (!e)
			return NULL;
		b->ents = e;
		uint8_t *v = realloc(b->verbatim, cap);
		if (!v)
			return NULL;
		b->verbatim = v;
		b->ents_cap = cap;
	}
	size_t need = b->len + RVF_SEG_HDR_SIZE + (size_t)len;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		uint8_t *nb = realloc(b->buf, cap);
		if (!nb)
			return NULL;
		b->buf = nb;
		b->cap = cap;
	}
	rvf_dir_entry *e = &b->ents[b->nents];
	e->offset = b->len; /* relative until commit */
	e->payload_length = len;
	b->verbatim[b->nents++] = 0;
	uint8_t *p = b->buf + b->len;
	b->len = need;
	return p;
}

uint8_t *batch_add_raw(rvf_store *s, seg_batch *b, uint8_t type, uint64_t len)
{
	if (!b->buf && s->scratch) {
		b->buf = s->scratch;
		b->cap = s->scratch_cap;
		s->scratch = NULL;
		s->scratch_cap = 0;
	}
	uint8_t *p = batch_reserve(b, len);
	if (!p)
		return NULL;
	b->ents[b->nents - 1].seg_type = type;
	b->ents[b->nents - 1].seg_id = s->next_seg_id++;
	return p + RVF_SEG_HDR_SIZE;
}

int batch_add_verbatim(rvf_store *s, seg_batch *b, const uint8_t *seg, uint64_t payload_len)
{
	uint8_t *p = batch_reserve(b, payload_len);
	if (!p)
		return -1;
	memcpy(p, seg, RVF_SEG_HDR_SIZE + payload_len);
	rvf_dir_entry *e = &b->ents[b->nents - 1];
	e->seg_type = seg[5];
	e->seg_id = rd64(seg + 8);
	b->verbatim[b->nents - 1] = 1;
	if (e->seg_id >= s->next_seg_id)
		s->next_seg_id = e->seg_id + 1;
	return 0;
}

int batch_add(rvf_store *s, seg_batch *b, uint8_t type, const uint8_t *payload, uint64_t len)
{
	uint8_t *p = batch_add_raw(s, b, type, len);
	if (!p)
		return -1;
	memcpy(p, payload, len);
	return 0;
}

void batch_free(seg_batch *b)
{
	free(b->buf);
	free(b->ents);
	free(b->verbatim);
	memset(b, 0, sizeof *b);
}

static int write_all(rvf_store *s, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(s->fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return rvf_fail(RVF_E_IO, "%s: write at offset %llu failed: %s", s->path,
					(unsigned long long)off, w < 0 ? strerror(errno) : "short write");
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int sync_file(rvf_store *s)
{
	if (fdatasync(s->fd))
		return rvf_fail(RVF_E_IO, "%s: fdatasync failed: %s", s->path, strerror(errno));
	return 0;
}

/* Audit records (witnesses, journals) and old manifests are found by walking
 * the file; listing them would make every manifest grow with the number of
 * commits (the reference's files grow quadratically that way). */
static int dir_listed(uint8_t type)
{
	return type != RVF_SEG_MANIFEST && type != RVF_SEG_WITNESS && type != RVF_SEG_JOURNAL;
}

static int build_manifest(rvf_store *s, uint32_t epoch, uint8_t **out, uint64_t *len)
{
	rvf_manifest m = {0};
	m.epoch = epoch;
	m.dimension = (uint16_t)s->dim;
	m.total_vectors = s->nslots - s->ninherited; /* a branch counts its own vectors */
	m.profile_id = s->profile;
	m.metric = (uint8_t)s->metric;
	m.dir = malloc((s->ndir ? s->ndir : 1) * sizeof *m.dir);
	if (!m.dir)
		return -1;
	for (size_t i = 0; i < s->ndir; i++)
		if (dir_listed(s->dir[i].seg_type))
			m.dir[m.seg_count++] = s->dir[i];
	size_t nd;
	if (store_deleted_list(s, &m.deleted, &nd)) {
		free(m.dir);
		return -1;
	}
	m.deleted_count = (uint32_t)nd;
	m.has_identity = s->has_identity;
	memcpy(m.file_id, s->file_id, 16);
	memcpy(m.parent_id, s->parent_id, 16);
	memcpy(m.parent_hash, s->parent_hash, 32);
	m.lineage_depth = s->lineage_depth;
	*len = rvf_manifest_encoded_size(&m);
	*out = malloc(RVF_SEG_HDR_SIZE + *len);
	if (*out)
		rvf_manifest_encode(&m, *out + RVF_SEG_HDR_SIZE);
	free(m.deleted);
	free(m.dir);
	return *out ? 0 : -1;
}

/* The writer's flock keeps other rvf writers out, but not a process that
 * truncates, appends to, unlinks or renames over the file: a commit then
 * would point at bytes that are gone, overwrite someone else's, or land in
 * an orphaned inode while the caller believes it persisted. The file must
 * still be the one this handle opened (the path names the same inode) and
 * exactly as long as the last commit left it. */
static int check_file_ours(rvf_store *s)
{
	struct stat a, b;
	if (fstat(s->fd, &a))
		return rvf_fail(RVF_E_IO, "%s: fstat: %s", s->path, strerror(errno));
	if (a.st_nlink == 0 || stat(s->path, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return rvf_fail(RVF_E_IO,
				"%s: the file was removed or replaced by another process since it was opened; "
				"nothing written (reopen it)",
				s->path);
	if ((uint64_t)a.st_size != s->file_size)
		return rvf_fail(RVF_E_IO,
				"%s: the file is %llu bytes but this handle's last commit ended at %llu: another "
				"process truncated or extended it; nothing written (reopen it, `rvf check`)",
				s->path, (unsigned long long)a.st_size, (unsigned long long)s->file_size);
	return 0;
}

int store_commit(rvf_store *s, seg_batch *b, const char *action, uint8_t witness_type)
{
	if (s->read_only)
		return rvf_fail(RVF_E_READONLY, "%s: opened read-only", s->path);
	/* the index changes this commit makes travel with it */
	int ierr = store_index_batch(s, b);
	if (!ierr)
		ierr = store_dict_batch(s, b);
	if (ierr)
		return ierr;
	/* every commit carries a witness (docs/SECURITY.md §1.2) */
	if (!action)
		return rvf_fail(RVF_E_ARG, "%s: internal error: a commit without a witness action", s->path);
	/* every change of state bumps the epoch (caches are keyed by it); the
	 * create, branch and freeze manifests do not (the reference starts at 0) */
	int bump = !b->same_epoch;
	uint32_t epoch = s->epoch + (uint32_t)bump;
	char act[160];
	int cerr = s->cow ? store_cow_segments(s, b) : 0;
	if (cerr)
		return cerr == -1 ? rvf_fail(RVF_E_NOMEM, "out of memory") : cerr;
	/* last in the batch, so it covers every segment of the commit;
	 * BLAKE2b-256 links, marked in the action (store_witness.c) */
	snprintf(act, sizeof act, "%s,epoch=%u" RVF_WITNESS_B2B_MARK, action, epoch);
	int werr = store_witness_add(s, b, act, witness_type);
	if (werr)
		return werr;
	uint64_t base = s->file_size;
	size_t old_ndir = s->ndir;
	for (size_t i = 0; i < b->nents; i++) {
		rvf_dir_entry *e = &b->ents[i];
		uint8_t *h = b->buf + e->offset;
		if (!b->verbatim[i])
			rvf_hdr_encode(h, e->seg_type, e->seg_id, h + RVF_SEG_HDR_SIZE, e->payload_length);
		if (!dir_listed(e->seg_type))
			continue;
		rvf_dir_entry abs = *e;
		abs.offset += base;
		if (store_dir_append(s, &abs)) {
			s->ndir = old_ndir;
			return rvf_fail(RVF_E_NOMEM, "out of memory");
		}
	}
	uint8_t *man;
	uint64_t mlen;
	uint64_t man_id = s->next_seg_id++;
	if (build_manifest(s, epoch, &man, &mlen)) {
		s->ndir = old_ndir;
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	rvf_hdr_encode(man, RVF_SEG_MANIFEST, man_id, man + RVF_SEG_HDR_SIZE, mlen);
	if (s->frozen) /* SEALED: our writers refuse to append (rvf_freeze) */
		wr16(man + 6, RVF_SEG_FLAG_SEALED);

	int err = check_file_ours(s);
	if (err) { /* not our bytes to truncate: only refuse, and every later write */
		free(man);
		s->ndir = old_ndir;
		s->read_only = 1;
		store_index_committed(s, 0);
		return err;
	}
	err = write_all(s, b->buf, b->len, base);
	if (!err && b->len)
		err = sync_file(s);
	if (!err)
		err = write_all(s, man, RVF_SEG_HDR_SIZE + mlen, base + b->len);
	if (!err)
		err = sync_file(s);
	free(man);
	if (err) {
		/* Leave the file as the last good commit left it. */
		if (ftruncate(s->fd, (off_t)base) == 0)
			fdatasync(s->fd);
		s->ndir = old_ndir;
		s->read_only = 1;
		store_index_committed(s, 0);
		return err;
	}
	store_index_committed(s, 1);
	for (size_t i = 0; i < b->nents; i++)
		if (b->ents[i].seg_type == RVF_SEG_WITNESS && !b->verbatim[i])
			rvf_blake2b256(b->buf + b->ents[i].offset + RVF_SEG_HDR_SIZE,
				       b->ents[i].payload_length, s->witness_prev);
	if (b->cap > s->scratch_cap) { /* keep the bigger buffer for next time */
		uint8_t *t = s->scratch;
		size_t tc = s->scratch_cap;
		s->scratch = b->buf;
		s->scratch_cap = b->cap;
		b->buf = t;
		b->cap = tc;
	}
	s->manifest_offset = base + b->len;
	s->file_size = base + b->len + RVF_SEG_HDR_SIZE + mlen;
	s->epoch = epoch;
	return 0; /* the mapping is extended lazily (store_mapped) */
}

