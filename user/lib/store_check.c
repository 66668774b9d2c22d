/* store_check.c — `rvf check` (full integrity scan) and `rvf recover`
 * (roll back to the last good commit in place, after a byte-identical
 * backup; or salvage every intact segment into a new file).
 */
#include "errors.h"
#include "store.h"
#include "witness.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t seg_magic[4] = {0x53, 0x46, 0x56, 0x52};

__attribute__((format(printf, 3, 4))) static void problem(rvf_check_report *r, uint64_t off,
							  const char *fmt, ...)
{
	r->problems++;
	r->clean = 0;
	if (r->first_bad_offset != UINT64_MAX && off >= r->first_bad_offset)
		return;
	r->first_bad_offset = off;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->first_problem, sizeof r->first_problem, fmt, ap);
	va_end(ap);
}

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A complete segment header at off (magic, payload inside the file). */
static int seg_at(const uint8_t *f, uint64_t len, uint64_t off, rvf_seg_hdr *h)
{
	if (off > len || len - off < RVF_SEG_HDR_SIZE)
		return 0;
	rvf_hdr_decode(f + off, h);
	return h->magic == RVF_SEG_MAGIC && h->payload_length <= len - off - RVF_SEG_HDR_SIZE;
}

/* Every segment in file order: header, hash, manifests decode and their
 * epochs never go back (the chain of commits); bytes that are no segment
 * (zero padding between segments is allowed: the library writer of §18.2
 * pads). */
static void scan_segments(rvf_check_report *r, const uint8_t *f, uint64_t len, uint64_t ue)
{
	uint64_t off = 0;
	uint32_t last_epoch = 0;
	while (off < len) {
		rvf_seg_hdr h;
		if (seg_at(f, len, off, &h)) {
			r->segments++;
			const char *why = rvf_seg_damage(f, ue, off, &h);
			rvf_manifest m;
			if (why)
				problem(r, off, "%s segment %llu at offset %llu: %s",
					rvf_segment_type_name(h.seg_type), (unsigned long long)h.seg_id,
					(unsigned long long)off, why);
			else if (h.seg_type == RVF_SEG_MANIFEST &&
				 rvf_manifest_decode(f + off + RVF_SEG_HDR_SIZE, h.payload_length, &m) == 0) {
				if (r->manifests++ && m.epoch < last_epoch)
					problem(r, off, "manifest at offset %llu: epoch %u after epoch %u (the chain of "
						"commits goes back: an old manifest appended?)",
						(unsigned long long)off, m.epoch, last_epoch);
				last_epoch = m.epoch;
				rvf_manifest_free(&m);
			}
			off += RVF_SEG_HDR_SIZE + h.payload_length;
			continue;
		}
		const uint8_t *next = len - off > 1 ? memmem(f + off + 1, len - off - 1, seg_magic, 4) : NULL;
		uint64_t end = next ? (uint64_t)(next - f) : len;
		if (next && all_zero(f + off, end - off)) {
			off = end;
			continue;
		}
		problem(r, off, "%llu bytes at offset %llu are not a complete segment (%s)",
			(unsigned long long)(end - off), (unsigned long long)off,
			next ? "damaged header or garbage"
			     : all_zero(f + off, end - off) ? "zero-filled tail: torn write"
							    : "torn write or garbage after the last segment");
		off = end;
	}
}

/* Checks the directory of the manifest at moff: 0 if every listed segment is
 * complete, of its type and intact; else the offset of the first bad one
 * (reported when r is not NULL). */
static uint64_t check_dir(rvf_check_report *r, const uint8_t *f, uint64_t len, uint64_t ue,
			  const rvf_manifest *m)
{
	uint64_t first = 0;
	for (uint32_t i = 0; i < m->seg_count; i++) {
		const rvf_dir_entry *e = &m->dir[i];
		rvf_seg_hdr h;
		const char *why = NULL;
		if (!seg_at(f, len, e->offset, &h) || h.seg_type != e->seg_type)
			why = "no complete segment of that type there";
		else
			why = rvf_seg_damage(f, ue, e->offset, &h);
		if (!why)
			continue;
		if (r)
			problem(r, e->offset, "%s segment %llu listed at offset %llu: %s",
				rvf_segment_type_name(e->seg_type), (unsigned long long)e->seg_id,
				(unsigned long long)e->offset, why);
		if (!first || e->offset < first)
			first = e->offset ? e->offset : 1;
	}
	return first;
}

/* End of the commit whose manifest ends at end: the witness segments the
 * reference writes after a compaction manifest belong to it. */
static uint64_t commit_end(const uint8_t *f, uint64_t len, uint64_t ue, uint64_t end)
{
	rvf_seg_hdr h;
	while (seg_at(f, len, end, &h) && h.seg_type == RVF_SEG_WITNESS && !rvf_seg_damage(f, ue, end, &h))
		end += RVF_SEG_HDR_SIZE + h.payload_length;
	return end;
}

/* The newest intact manifest below `below` (open's choice when below is
 * the file size); with intact_dir, also every segment it lists must be
 * intact (the last good commit). 0 and *moff, or -1 if none, -2 no memory. */
static int find_commit(const uint8_t *f, uint64_t len, uint64_t ue, int intact_dir, uint64_t *moff,
		       rvf_manifest *m)
{
	if (len < RVF_SEG_HDR_SIZE + 22)
		return -1;
	for (uint64_t i = len - RVF_SEG_HDR_SIZE + 1; i-- > 0;) {
		if (f[i] != 0x53 || f[i + 5] != RVF_SEG_MANIFEST || rd32(f + i) != RVF_SEG_MAGIC)
			continue;
		rvf_seg_hdr h;
		rvf_hdr_decode(f + i, &h);
		if (h.payload_length > RVF_MANIFEST_MAX_PAYLOAD || h.payload_length > len - i - RVF_SEG_HDR_SIZE)
			continue;
		int rc = rvf_manifest_decode(f + i + RVF_SEG_HDR_SIZE, h.payload_length, m);
		if (rc == -2)
			return -2;
		if (rc)
			continue;
		if (!rvf_seg_damage(f, ue, i, &h) && (!intact_dir || !check_dir(NULL, f, len, ue, m))) {
			*moff = i;
			return 0;
		}
		rvf_manifest_free(m);
	}
	return -1;
}

int rvf_check(const char *path, rvf_check_report *r)
{
	rvf_clear_error();
	memset(r, 0, sizeof *r);
	r->clean = 1;
	r->first_bad_offset = UINT64_MAX;
	vfile vf;
	int err = vfile_open(path, &vf);
	if (err)
		return err;
	const uint8_t *f = vf.data;
	uint64_t len = vf.len, ue = rvf_unhashed_end(f, len);
	r->file_size = len;
	scan_segments(r, f, len, ue);

	rvf_manifest m;
	uint64_t moff;
	int rc = find_commit(f, len, ue, 0, &moff, &m);
	if (rc == -2) {
		vfile_close(&vf);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	if (rc) {
		problem(r, len, "no intact manifest in the file (not an RVF store, or no commit survived)");
	} else {
		r->has_commit = 1;
		r->epoch = m.epoch;
		r->manifest_offset = moff;
		check_dir(r, f, len, ue, &m);
		uint64_t end = moff + RVF_SEG_HDR_SIZE + rd64(f + moff + 0x10);
		r->good_end = commit_end(f, len, ue, end);
		if (r->good_end < len)
			problem(r, r->good_end,
				"%llu bytes at offset %llu after the last commit (manifest at offset %llu, "
				"epoch %u) are not part of it (torn write, unfinished commit or damaged "
				"newer manifest)",
				(unsigned long long)(len - r->good_end), (unsigned long long)r->good_end,
				(unsigned long long)moff, m.epoch);
		rvf_manifest_free(&m);
	}
	vfile_close(&vf);
	/* what the scan cannot see: the state must load (COW parent, metadata) */
	if (r->has_commit) {
		rvf_store *s;
		if ((err = rvf_open(path, RVF_OPEN_READONLY, &s)))
			problem(r, r->manifest_offset, "the state does not load: %s", rvf_last_error());
		rvf_close(s);
		rvf_clear_error();
	}
	return 0;
}

/* ---- recover ------------------------------------------------------------ */

/* PATH.bak, else PATH.bak.1 ..., created exclusively with the file's mode,
 * holding a copy of f; fsynced with its directory. */
static int write_backup(const char *real, const struct stat *st, const uint8_t *f, uint64_t len,
			char *out, size_t outsz)
{
	int fd = -1;
	for (int n = 0; n < 1000 && fd < 0; n++) {
		if (n)
			snprintf(out, outsz, "%s.bak.%d", real, n);
		else
			snprintf(out, outsz, "%s.bak", real);
		fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 0777);
		if (fd < 0 && errno != EEXIST)
			return rvf_fail(RVF_E_IO, "%s: %s", out, strerror(errno));
	}
	if (fd < 0)
		return rvf_fail(RVF_E_EXISTS, "%s.bak: 1000 backups exist already", real);
	if (fchown(fd, st->st_uid, st->st_gid)) {
		/* not root: the backup is ours, readable as the original was */
	}
	uint64_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, f + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			unlink(out);
			return rvf_fail(RVF_E_IO, "%s: write: %s", out, strerror(e));
		}
		done += (uint64_t)w;
	}
	if (fsync(fd) || close(fd) || store_fsync_dir(out)) {
		int e = errno;
		unlink(out);
		return rvf_fail(RVF_E_IO, "%s: fsync: %s", out, strerror(e));
	}
	return 0;
}

static int state_of(const char *path, rvf_recover_result *res)
{
	rvf_store *s;
	int err = rvf_open(path, RVF_OPEN_READONLY, &s);
	if (err)
		return err;
	rvf_status st = {0};
	err = rvf_get_status(s, &st);
	res->epoch = st.epoch;
	res->vectors = st.total_vectors;
	rvf_close(s);
	return err;
}

static int recover_in_place(const char *path, rvf_recover_result *res)
{
	char *real = store_real_path(path);
	if (!real)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	int err = 0, fd = open(real, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	const uint8_t *f = NULL;
	if (fd < 0) {
		err = rvf_fail(errno == ENOENT ? RVF_E_NOENT : RVF_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK
			      ? rvf_fail(RVF_E_LOCKED, "%s: another process has it open for writing", path)
			      : rvf_fail(RVF_E_IO, "%s: flock: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = rvf_fail(RVF_E_ARG, "%s: not a regular file", path);
		goto out;
	}
	uint64_t len = (uint64_t)st.st_size;
	res->size_before = res->size_after = len;
	f = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	if (f == MAP_FAILED) {
		f = NULL;
		err = rvf_fail(RVF_E_IO, "%s: mmap: %s", path, strerror(errno));
		goto out;
	}
	uint64_t ue = rvf_unhashed_end(f, len), moff;
	rvf_manifest m;
	int rc = find_commit(f, len, ue, 1, &moff, &m);
	if (rc) {
		err = rc == -2 ? rvf_fail(RVF_E_NOMEM, "out of memory")
			       : rvf_fail(RVF_E_CORRUPT,
					  "%s: no intact commit to roll back to (try --output to salvage)", path);
		goto out;
	}
	rvf_manifest_free(&m);
	uint64_t end = commit_end(f, len, ue, moff + RVF_SEG_HDR_SIZE + rd64(f + moff + 0x10));
	if (end < len) {
		if ((err = write_backup(real, &st, f, len, res->backup, sizeof res->backup)))
			goto out;
		if (ftruncate(fd, (off_t)end) || fsync(fd)) {
			err = rvf_fail(RVF_E_IO, "%s: truncate to %llu bytes: %s (the backup %s is intact)",
				       path, (unsigned long long)end, strerror(errno), res->backup);
			goto out;
		}
		res->changed = 1;
		res->size_after = end;
		res->first_dropped_offset = end;
		/* segments cut off, counted as the walk sees them */
		for (uint64_t off = end; off < len;) {
			rvf_seg_hdr h;
			res->segments_dropped++;
			if (seg_at(f, len, off, &h)) {
				off += RVF_SEG_HDR_SIZE + h.payload_length;
				continue;
			}
			const uint8_t *next = len - off > 1 ? memmem(f + off + 1, len - off - 1, seg_magic, 4) : NULL;
			off = next ? (uint64_t)(next - f) : len;
		}
	}
out:
	if (f)
		munmap((void *)f, res->size_before);
	if (fd >= 0)
		close(fd); /* drops the lock */
	free(real);
	return err ? err : state_of(path, res);
}

int rvf_recover(const char *path, const char *output, rvf_recover_result *res)
{
	rvf_clear_error();
	memset(res, 0, sizeof *res);
	res->first_dropped_offset = UINT64_MAX;
	if (!output)
		return recover_in_place(path, res);
	rvf_store *s;
	int err = store_open_depth(path, RVF_OPEN_READONLY | STORE_OPEN_SALVAGE, 0, &s);
	if (err)
		return err;
	rvf_compact_result cr;
	res->size_before = s->file_size;
	res->segments_dropped = s->salvage_dropped;
	if (s->salvage_dropped)
		res->first_dropped_offset = s->salvage_first;
	err = store_salvage_write(s, output, &cr);
	rvf_close(s);
	if (err)
		return err;
	res->changed = 1;
	res->size_after = cr.file_size_after;
	return state_of(output, res);
}
