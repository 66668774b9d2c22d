/* store_open.c — create, open (manifest discovery + vector load) and close.
 *
 * Opening never writes: a failed open leaves the file as it was. Every
 * offset and length read from the file is checked against the file size
 * before use, and no allocation is larger than what the file can hold.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static rvf_store *store_alloc(const char *path)
{
	rvf_store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->fd = -1;
	s->damaged_manifest = UINT64_MAX;
	s->path = strdup(path);
	if (!s->path || idmap_init(&s->slot_of, 0) || !(s->meta = meta_new())) {
		idmap_free(&s->slot_of);
		free(s->path);
		free(s);
		return NULL;
	}
	return s;
}

void rvf_close(rvf_store *s)
{
	if (!s)
		return;
	/* first: a graph decode started by open may still read the mapping */
	store_index_free(s);
	if (s->map && !s->map_borrowed)
		munmap((void *)s->map, s->map_len);
	if (s->fd >= 0)
		close(s->fd); /* also drops the flock */
	idmap_free(&s->slot_of);
	meta_free(s->meta);
	meta_dict_clear(&s->dict);
	free(s->scratch);
	free(s->inh);
	store_cow_free(s);
	store_quant_free(s);
	free(s->path);
	free(s->dir);
	free(s->ids);
	if (s->vecs)
		munmap(s->vecs, s->vecs_bytes);
	free(s->deleted);
	free(s->orphan_del);
	free(s->live);
	free(s);
}

int store_mapped(const rvf_store *s)
{
	if (s->map_len == s->file_size)
		return 0;
	return store_map((rvf_store *)s);
}

int store_map(rvf_store *s)
{
	if (s->map)
		munmap((void *)s->map, s->map_len);
	s->map = NULL;
	s->map_len = 0;
	if (s->file_size == 0)
		return 0;
	void *p = mmap(NULL, s->file_size, PROT_READ, MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED)
		return rvf_fail(RVF_E_IO, "%s: mmap of %llu bytes failed: %s", s->path,
				(unsigned long long)s->file_size, strerror(errno));
	s->map = p;
	s->map_len = s->file_size;
	return 0;
}

/* Writers hold an exclusive flock on the file itself; a crashed writer's
 * lock dies with its process, so there is no stale-lock timeout. After the
 * lock is won, the path must still name the locked inode (compaction renames
 * a new file over it). */
static int take_lock(rvf_store *s, int flags, int wait)
{
	for (int tries = 0; tries < 1000; tries++) {
		if (flock(s->fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
			if (errno == EWOULDBLOCK)
				return rvf_fail(RVF_E_LOCKED,
						"%s: another process has it open for writing "
						"(use --wait to wait for it)",
						s->path);
			return rvf_fail(RVF_E_IO, "%s: flock: %s", s->path, strerror(errno));
		}
		struct stat a, b;
		if (fstat(s->fd, &a) || stat(s->path, &b))
			return rvf_fail(RVF_E_IO, "%s: stat: %s", s->path, strerror(errno));
		if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 0;
		close(s->fd);
		s->fd = open(s->path, flags | O_CLOEXEC);
		if (s->fd < 0)
			return rvf_fail(RVF_E_IO, "%s: %s", s->path, strerror(errno));
	}
	return rvf_fail(RVF_E_LOCKED, "%s: file keeps being replaced", s->path);
}

static int random_file_id(uint8_t id[16])
{
	size_t got = 0;
	while (got < 16) {
		ssize_t r = getrandom(id + got, 16 - got, 0);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			got += (size_t)r;
	}
	if (!memcmp(id, (uint8_t[16]){0}, 16))
		id[0] = 1; /* all-zero means "no identity" */
	return 0;
}

int rvf_create(const char *path, const rvf_create_opts *o, rvf_store **out)
{
	rvf_clear_error();
	return store_create(path, o, NULL, out);
}

int store_create(const char *path, const rvf_create_opts *o, const rvf_identity *lineage, rvf_store **out)
{
	*out = NULL;
	if (!o || o->dimension < 1 || o->dimension > 65535)
		return rvf_fail(RVF_E_ARG, "dimension must be between 1 and 65535 (got %u)",
				o ? o->dimension : 0);
	if ((unsigned)o->metric > RVF_METRIC_COSINE)
		return rvf_fail(RVF_E_ARG, "unknown metric code %d", (int)o->metric);
	rvf_store *s = store_alloc(path);
	if (!s)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		int e = errno;
		rvf_close(s);
		return rvf_fail(e == EEXIST ? RVF_E_EXISTS : RVF_E_IO, "%s: %s", path,
				e == EEXIST ? "file already exists (refusing to overwrite)"
					    : strerror(e));
	}
	int err = take_lock(s, O_RDWR, 0);
	if (!err && random_file_id(s->file_id))
		err = rvf_fail(RVF_E_IO, "getrandom: %s", strerror(errno));
	if (err) {
		unlink(path);
		rvf_close(s);
		return err;
	}
	s->dim = o->dimension;
	s->stride = (s->dim + 15) & ~15u;
	s->metric = o->metric;
	s->profile = o->profile;
	s->has_identity = 1;
	s->next_seg_id = 1;
	if (lineage) {
		memcpy(s->parent_id, lineage->parent_id, 16);
		memcpy(s->parent_hash, lineage->parent_hash, 32);
		s->lineage_depth = lineage->lineage_depth;
	}
	/* The empty epoch-0 manifest every reference-created file starts with,
	 * after the witness that starts the file's chain. */
	seg_batch b = {.same_epoch = 1};
	char act[96];
	snprintf(act, sizeof act, "create:dimension=%u,metric=%s%s", o->dimension,
		 o->metric == RVF_METRIC_COSINE ? "cosine" : o->metric == RVF_METRIC_IP ? "ip" : "l2",
		 lineage ? ",derived=1" : "");
	err = store_commit(s, &b, act, 1);
	batch_free(&b);
	/* the new name must survive a power cut as well as the manifest */
	if (!err && store_fsync_dir(path))
		err = rvf_fail(RVF_E_IO, "%s: fsync of the directory failed: %s", path, strerror(errno));
	if (err) {
		unlink(path);
		rvf_close(s);
		return err;
	}
	*out = s;
	return 0;
}

/* After the current manifest the reference leaves at most witness segments
 * (its compaction witness); anything else there is a torn write, an
 * unfinished commit or damage to a newer manifest, so the state we open may
 * be older than what was last written. That fallback is reported, except to
 * a reader while a writer holds the lock: then the tail is the commit being
 * written (`rvf check` still reports a real one). */
static void check_tail(rvf_store *s, uint64_t after, uint32_t epoch)
{
	uint64_t off = after;
	while (off < s->file_size) {
		rvf_seg_hdr h;
		if (s->file_size - off < RVF_SEG_HDR_SIZE)
			break;
		rvf_hdr_decode(s->map + off, &h);
		if (h.magic != RVF_SEG_MAGIC || h.payload_length > s->file_size - off - RVF_SEG_HDR_SIZE ||
		    h.seg_type != RVF_SEG_WITNESS)
			break;
		off += RVF_SEG_HDR_SIZE + h.payload_length;
	}
	if (off >= s->file_size || s->warning[0])
		return;
	if (s->read_only) {
		struct stat st;
		if (store_writer_active(s->fd) == 1 || fstat(s->fd, &st) ||
		    (uint64_t)st.st_size != s->file_size)
			return; /* a commit in progress, or one that finished since */
	}
	snprintf(s->warning, sizeof s->warning,
		 "%s: %llu bytes at offset %llu after the current manifest are not part of it "
		 "(torn write, unfinished commit or damaged newer manifest); opened the state of the "
		 "manifest at offset %llu (epoch %u)",
		 s->path, (unsigned long long)(s->file_size - off), (unsigned long long)off,
		 (unsigned long long)s->manifest_offset, epoch);
}

/* §2: scan backwards byte by byte for "SFVR" + type 0x05 whose payload fits
 * and decodes. A damaged candidate is skipped for the next older one, with
 * a warning naming it: a power cut can leave any prefix of the newest commit
 * (zeros or garbage after it), and the previous commit is then the last
 * durable state. */
/* An appended copy of an older manifest must not silently roll the store
 * back: between the end of the last segment the chosen manifest lists and
 * the manifest itself only that commit's unlisted segments (witness,
 * journal, older manifests) stand in a file we or the reference wrote. An
 * intact manifest there with a higher epoch means the newest manifest goes
 * back in time: remember it (warning; writers refuse). */
static void check_rollback(rvf_store *s, const rvf_manifest *m, uint64_t at)
{
	const uint8_t *f = s->map;
	uint64_t from = 0;

	for (uint32_t k = 0; k < m->seg_count; k++) {
		const rvf_dir_entry *e = &m->dir[k];
		if (e->offset >= at || at - e->offset < RVF_SEG_HDR_SIZE)
			continue;
		rvf_seg_hdr h;
		rvf_hdr_decode(f + e->offset, &h);
		uint64_t end = e->offset + RVF_SEG_HDR_SIZE;
		if (h.payload_length <= at - end)
			end += h.payload_length;
		if (end > from)
			from = end;
	}
	for (uint64_t j = at; j-- > from;) {
		if (f[j] != 0x53 || j + RVF_SEG_HDR_SIZE > at || f[j + 5] != RVF_SEG_MANIFEST ||
		    rd32(f + j) != RVF_SEG_MAGIC)
			continue;
		rvf_seg_hdr h;
		rvf_hdr_decode(f + j, &h);
		if (h.payload_length > RVF_MANIFEST_MAX_PAYLOAD || h.payload_length > at - j - RVF_SEG_HDR_SIZE ||
		    rvf_seg_damage(f, s->unhashed_end, j, &h))
			continue;
		rvf_manifest old;
		if (rvf_manifest_decode(f + j + RVF_SEG_HDR_SIZE, h.payload_length, &old) != 0)
			continue;
		uint32_t e = old.epoch;
		rvf_manifest_free(&old);
		if (e > m->epoch && e > s->rollback_epoch) {
			s->rollback_offset = j;
			s->rollback_epoch = e;
		}
	}
	if (s->rollback_offset)
		snprintf(s->warning, sizeof s->warning,
			 "%s: the newest manifest, at offset %llu, has epoch %u but the manifest at offset "
			 "%llu has epoch %u: the file was rolled back (an old manifest appended?); writes are "
			 "refused (`rvf check`, `rvf recover --output NEW`)",
			 s->path, (unsigned long long)at, m->epoch, (unsigned long long)s->rollback_offset,
			 s->rollback_epoch);
}

static int find_manifest(rvf_store *s, rvf_manifest *m)
{
	const uint8_t *f = s->map;
	uint64_t size = s->file_size;
	const char *bad_why = NULL;

	if (size < RVF_SEG_HDR_SIZE + 22)
		return rvf_fail(RVF_E_NO_MANIFEST,
				"%s: file is %llu bytes, too small to hold a manifest (not an RVF file?)",
				s->path, (unsigned long long)size);
	for (uint64_t i = size - RVF_SEG_HDR_SIZE + 1; i-- > 0;) {
		if (f[i] != 0x53 || f[i + 5] != RVF_SEG_MANIFEST || rd32(f + i) != RVF_SEG_MAGIC)
			continue;
		rvf_seg_hdr h;
		rvf_hdr_decode(f + i, &h);
		if (h.payload_length > RVF_MANIFEST_MAX_PAYLOAD ||
		    h.payload_length > size - i - RVF_SEG_HDR_SIZE)
			continue;
		const uint8_t *p = f + i + RVF_SEG_HDR_SIZE;
		int r = rvf_manifest_decode(p, h.payload_length, m);
		if (r == -2)
			return rvf_fail(RVF_E_NOMEM, "%s: out of memory decoding manifest", s->path);
		if (r != 0)
			continue;
		/* The reference accepts a manifest whose hash is wrong; we do not:
		 * a torn or damaged newest commit must not silently become the
		 * store's state (an all-zero one used to open as an empty store). */
		const char *why = rvf_seg_damage(f, s->unhashed_end, i, &h);
		if (why) {
			rvf_manifest_free(m);
			if (!bad_why) {
				bad_why = why;
				s->damaged_manifest = i;
			}
			continue;
		}
		s->manifest_offset = i;
		s->next_seg_id = h.seg_id + 1;
		/* a freeze commit's witness says so too: clearing the flag (outside
		 * the content hash) does not unfreeze the store */
		s->frozen = (h.flags & RVF_SEG_FLAG_SEALED) ||
			    store_commit_froze(f, size, s->unhashed_end, i) == 1;
		if (bad_why)
			snprintf(s->warning, sizeof s->warning,
				 "%s: the newest manifest, at offset %llu, is damaged (%s): opened the "
				 "previous commit, manifest at offset %llu (epoch %u); the %llu bytes after it "
				 "are not part of the store (`rvf check` / `rvf recover`)",
				 s->path, (unsigned long long)s->damaged_manifest, bad_why,
				 (unsigned long long)i, m->epoch,
				 (unsigned long long)(size - i - RVF_SEG_HDR_SIZE - h.payload_length));
		else
			check_tail(s, i + RVF_SEG_HDR_SIZE + h.payload_length, m->epoch);
		check_rollback(s, m, i);
		return 0;
	}
	if (bad_why)
		return rvf_fail(RVF_E_CHECKSUM,
				"%s: manifest at offset %llu: %s, and no earlier commit is intact "
				"(the file's current state is damaged)",
				s->path, (unsigned long long)s->damaged_manifest, bad_why);
	return rvf_fail(RVF_E_NO_MANIFEST, "%s: no manifest segment found in %llu bytes (not an RVF file?)",
			s->path, (unsigned long long)size);
}

/* Checks that a directory entry points at a real, complete segment of the
 * stated type and returns its header. */
static int check_entry(rvf_store *s, const rvf_dir_entry *e, rvf_seg_hdr *h)
{
	if (e->offset > s->file_size || s->file_size - e->offset < RVF_SEG_HDR_SIZE)
		return rvf_fail(RVF_E_CORRUPT,
				"%s: directory entry for segment %llu points at offset %llu, past the end of the file (%llu bytes)",
				s->path, (unsigned long long)e->seg_id, (unsigned long long)e->offset,
				(unsigned long long)s->file_size);
	rvf_hdr_decode(s->map + e->offset, h);
	if (h->magic != RVF_SEG_MAGIC)
		return rvf_fail(RVF_E_CORRUPT,
				"%s: offset %llu: no segment header there (bad magic) although the manifest lists segment %llu",
				s->path, (unsigned long long)e->offset, (unsigned long long)e->seg_id);
	if (h->seg_type != e->seg_type)
		return rvf_fail(RVF_E_CORRUPT,
				"%s: offset %llu: segment type 0x%02x differs from the manifest's 0x%02x",
				s->path, (unsigned long long)e->offset, h->seg_type, e->seg_type);
	if (h->payload_length > s->file_size - e->offset - RVF_SEG_HDR_SIZE)
		return rvf_fail(RVF_E_CORRUPT,
				"%s: offset %llu: segment payload of %llu bytes runs past the end of the file",
				s->path, (unsigned long long)e->offset, (unsigned long long)h->payload_length);
	return 0;
}

static int load_vec(rvf_store *s, const rvf_dir_entry *e, const rvf_seg_hdr *h)
{
	const uint8_t *p = s->map + e->offset + RVF_SEG_HDR_SIZE;
	if (!store_hash_ok(s, e->offset, h))
		return rvf_fail(RVF_E_CHECKSUM,
				"%s: vector segment %llu at offset %llu: content hash mismatch (data damaged)",
				s->path, (unsigned long long)e->seg_id, (unsigned long long)e->offset);
	uint16_t dim;
	uint32_t count;
	uint64_t n = rvf_vec_decode_header(p, h->payload_length, &dim, &count);
	if (dim != s->dim || s->dim == 0)
		return 0; /* the reference ignores a segment of another dimension */
	if (n < count)
		snprintf(s->warning, sizeof s->warning,
			 "%s: vector segment at offset %llu declares %u records but holds %llu",
			 s->path, (unsigned long long)e->offset, count, (unsigned long long)n);
	if (store_reserve_slots(s, n))
		return rvf_fail(RVF_E_NOMEM, "out of memory loading %llu vectors", (unsigned long long)n);
	const uint8_t *r = p + RVF_VEC_HDR;
	for (uint64_t i = 0; i < n; i++, r += rvf_vec_record_size(dim)) {
		uint64_t id = rd64(r);
		uint32_t slot = idmap_get(&s->slot_of, id);
		if (slot == IDMAP_NONE) {
			slot = (uint32_t)s->nslots++;
			s->ids[slot] = id;
			s->deleted[slot] = 0;
			if (idmap_put(&s->slot_of, id, slot))
				return rvf_fail(RVF_E_NOMEM, "out of memory");
		}
		memcpy(s->vecs + (size_t)slot * s->stride, r + 8, 4 * (size_t)dim);
	}
	return 0;
}

/* Salvage: a listed segment that is damaged is left out (counted) instead
 * of failing the open; 1 if it was, 0 to fail as usual. */
static int salvage_drop(rvf_store *s, const rvf_dir_entry *e, int err)
{
	if (!s->salvage || err == RVF_E_NOMEM)
		return 0;
	rvf_clear_error();
	if (!s->salvage_dropped++ || e->offset < s->salvage_first)
		s->salvage_first = e->offset;
	return 1;
}

/* Salvage: intact VEC segments before the manifest that it does not list
 * but an older intact manifest did (absorbed into a bigger one by a later
 * ingest) are loaded first, so a damaged listed segment loses only what no
 * older segment holds. Segments no intact manifest ever listed (a torn
 * commit a writer appended after) are not data. Listed segments load after
 * these and win; the deletion list applies last. Pass 0 collects the
 * offsets, pass 1 loads. */
typedef struct {
	rvf_store *s;
	const rvf_manifest *m;
	idmap once_listed; /* VEC offsets listed by an older intact manifest */
	int pass;
} older_ctx;

static int load_older(void *ctx, uint64_t off, const rvf_seg_hdr *h)
{
	older_ctx *c = ctx;
	if (off >= c->s->manifest_offset)
		return 1; /* done */
	if (!store_hash_ok(c->s, off, h))
		return 0;
	if (c->pass == 0) {
		rvf_manifest om;
		if (h->seg_type != RVF_SEG_MANIFEST ||
		    rvf_manifest_decode(c->s->map + off + RVF_SEG_HDR_SIZE, h->payload_length, &om))
			return 0;
		int err = 0;
		for (uint32_t i = 0; i < om.seg_count && !err; i++)
			if (om.dir[i].seg_type == RVF_SEG_VEC)
				err = idmap_put(&c->once_listed, om.dir[i].offset, 1);
		rvf_manifest_free(&om);
		return err ? RVF_E_NOMEM : 0;
	}
	if (h->seg_type != RVF_SEG_VEC || idmap_get(&c->once_listed, off) == IDMAP_NONE)
		return 0;
	for (uint32_t i = 0; i < c->m->seg_count; i++)
		if (c->m->dir[i].offset == off)
			return 0;
	rvf_dir_entry e = {.seg_id = h->seg_id, .offset = off, .payload_length = h->payload_length,
			   .seg_type = h->seg_type};
	return load_vec(c->s, &e, h) == RVF_E_NOMEM ? RVF_E_NOMEM : 0;
}

static int load_older_vecs(rvf_store *s, const rvf_manifest *m)
{
	older_ctx c = {.s = s, .m = m};
	if (idmap_init(&c.once_listed, 0))
		return RVF_E_NOMEM;
	int r = store_walk(s, load_older, &c);
	if (r >= 0) {
		c.pass = 1;
		r = store_walk(s, load_older, &c);
	}
	idmap_free(&c.once_listed);
	return r < 0 ? r : 0;
}

static int load_state(rvf_store *s, rvf_manifest *m)
{
	s->epoch = m->epoch;
	s->dim = m->dimension;
	s->stride = (s->dim + 15) & ~15u;
	s->metric = m->metric <= RVF_METRIC_COSINE ? (rvf_metric)m->metric : RVF_METRIC_L2;
	s->profile = m->profile_id;
	s->has_identity = m->has_identity;
	memcpy(s->file_id, m->file_id, 16);
	memcpy(s->parent_id, m->parent_id, 16);
	memcpy(s->parent_hash, m->parent_hash, 32);
	s->lineage_depth = m->lineage_depth;

	/* Size the slot arrays and the id map once: growing them while loading
	 * costs more than the load. Bounded by the file size, so a hostile count
	 * cannot make us allocate more than the file could hold. */
	uint64_t records = 0;
	for (uint32_t i = 0; i < m->seg_count; i++) {
		const rvf_dir_entry *e = &m->dir[i];
		rvf_seg_hdr h;
		if (e->seg_type != RVF_SEG_VEC || check_entry(s, e, &h))
			continue;
		uint16_t vdim;
		uint32_t cnt;
		if (s->dim && h.payload_length >= RVF_VEC_HDR &&
		    rvf_vec_decode_header(s->map + e->offset + RVF_SEG_HDR_SIZE, h.payload_length, &vdim, &cnt) &&
		    vdim == s->dim)
			records += (h.payload_length - RVF_VEC_HDR) / rvf_vec_record_size(s->dim);
	}
	if (records) {
		idmap_free(&s->slot_of);
		if (idmap_init(&s->slot_of, records) || store_reserve_slots(s, records))
			return rvf_fail(RVF_E_NOMEM, "out of memory for %llu vectors", (unsigned long long)records);
	}
	if (s->salvage && load_older_vecs(s, m))
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	for (uint32_t i = 0; i < m->seg_count; i++) {
		const rvf_dir_entry *e = &m->dir[i];
		rvf_seg_hdr h;
		int err = check_entry(s, e, &h);
		if (e->seg_id >= s->next_seg_id)
			s->next_seg_id = e->seg_id + 1;
		if (!err && e->seg_type == RVF_SEG_VEC)
			err = load_vec(s, e, &h);
		if (err && salvage_drop(s, e, err))
			continue;
		if (err)
			return err;
		rvf_dir_entry ne = *e;
		ne.payload_length = h.payload_length;
		if (store_dir_append(s, &ne))
			return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	/* Metadata after all vectors, so every record finds its slot. */
	for (uint32_t i = 0; i < m->seg_count; i++) {
		const rvf_dir_entry *e = &m->dir[i];
		rvf_seg_hdr h;
		int err;
		if (e->seg_type == RVF_SEG_META &&
		    ((err = check_entry(s, e, &h)) || (err = store_meta_load(s, e, &h))) &&
		    !salvage_drop(s, e, err))
			return err;
	}
	for (uint32_t i = 0; i < m->deleted_count; i++) {
		uint32_t slot = idmap_get(&s->slot_of, m->deleted[i]);
		if (slot != IDMAP_NONE) {
			if (!s->deleted[slot]) {
				s->deleted[slot] = 1;
				s->ndeleted++;
			}
			continue;
		}
		uint64_t *no = realloc(s->orphan_del, (s->norphan_del + 1) * sizeof *no);
		if (!no)
			return rvf_fail(RVF_E_NOMEM, "out of memory");
		s->orphan_del = no;
		s->orphan_del[s->norphan_del++] = m->deleted[i];
	}
	s->live_dirty = 1;
	return 0;
}

int rvf_open(const char *path, unsigned flags, rvf_store **out)
{
	rvf_clear_error();
	return store_open_depth(path, flags, 0, out);
}

static int load_mapped(rvf_store *s, int depth);
static int open_impl(const char *path, unsigned flags, int depth, uint64_t limit, rvf_store **out);

int store_open_depth(const char *path, unsigned flags, int depth, rvf_store **out)
{
	return open_impl(path, flags, depth, UINT64_MAX, out);
}

int store_open_prefix(const char *path, uint64_t size, rvf_store **out)
{
	return open_impl(path, RVF_OPEN_READONLY, 0, size, out);
}

static int open_impl(const char *path, unsigned flags, int depth, uint64_t limit, rvf_store **out)
{
	*out = NULL;
	rvf_store *s = store_alloc(path);
	if (!s)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	s->read_only = !!(flags & RVF_OPEN_READONLY);
	s->salvage = !!(flags & STORE_OPEN_SALVAGE);
	int oflags = s->read_only ? O_RDONLY : O_RDWR;
	/* O_NONBLOCK: a FIFO named by a hostile COW map must not hang the open
	 * (it is refused below as not a regular file). */
	s->fd = open(path, oflags | O_CLOEXEC | O_NONBLOCK);
	int err = 0;
	if (s->fd < 0) {
		int e = errno;
		err = rvf_fail(e == ENOENT ? RVF_E_NOENT : RVF_E_IO, "%s: %s", path, strerror(e));
		goto fail;
	}
	if (!s->read_only && (err = take_lock(s, oflags, !!(flags & RVF_OPEN_WAIT))))
		goto fail;
	if (!s->read_only)
		store_remove_stale_tmp(s);
	struct stat st;
	if (fstat(s->fd, &st)) {
		err = rvf_fail(RVF_E_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = rvf_fail(RVF_E_ARG, "%s: not a regular file", path);
		goto fail;
	}
	s->file_size = (uint64_t)st.st_size < limit ? (uint64_t)st.st_size : limit;
	/* Opening reads every vector: fault the file in up front. */
	void *p = s->file_size ? mmap(NULL, s->file_size, PROT_READ, MAP_SHARED | MAP_POPULATE, s->fd, 0) : NULL;
	if (p == MAP_FAILED) {
		err = rvf_fail(RVF_E_IO, "%s: mmap of %llu bytes failed: %s", path,
			       (unsigned long long)s->file_size, strerror(errno));
		goto fail;
	}
	s->map = p;
	s->map_len = s->file_size;
	err = load_mapped(s, depth);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	rvf_close(s);
	return err;
}

/* Everything open does once the file's bytes are at s->map. */
static int load_mapped(rvf_store *s, int depth)
{
	int err;

	s->unhashed_end = rvf_unhashed_end(s->map, s->file_size);
	rvf_manifest m;
	if ((err = find_manifest(s, &m)))
		return err;
	store_index_prefetch(s, &m);
	err = load_state(s, &m);
	rvf_manifest_free(&m);
	if (!err)
		err = store_load_cow(s, depth);
	if (!err)
		err = store_index_open(s);
	if (!err)
		err = store_quant_open(s);
	const char *ac = getenv("RVF_AUTO_COMPACT");
	if (!err && ac && *ac && !s->read_only) {
		char *end;
		double r = strtod(ac, &end);
		unsigned long long mn = *end == ':' ? strtoull(end + 1, &end, 10) : 0;
		if (*end || rvf_set_auto_compact(s, r, mn))
			err = rvf_fail(RVF_E_ARG, "RVF_AUTO_COMPACT=%s: expected RATIO or RATIO:MIN_DELETED", ac);
	}
	return err;
}

/* A read-only store over bytes the caller owns (a file fetched over the
 * network, a WebAssembly heap): nothing is copied, so data must outlive the
 * store. A COW branch is refused: its parent is named by a path, and bytes
 * from elsewhere must not make us open files. */
int rvf_open_buffer(const void *data, size_t len, rvf_store **out)
{
	*out = NULL;
	rvf_clear_error();
	if (!data && len)
		return rvf_fail(RVF_E_ARG, "rvf_open_buffer: NULL data");
	rvf_store *s = store_alloc("<buffer>");
	if (!s)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	s->read_only = 1;
	s->map_borrowed = 1;
	s->map = data;
	s->map_len = s->file_size = len;
	int err = load_mapped(s, COW_DEPTH_BUFFER);
	if (err) {
		rvf_close(s);
		return err;
	}
	*out = s;
	return 0;
}

const char *rvf_open_warning(const rvf_store *s) { return s->warning; }
