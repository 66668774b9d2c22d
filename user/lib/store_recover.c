/* store_recover.c — `rvf recover`: in place, roll back to the last good
 * commit after a byte-identical backup, but never drop more than the
 * damage without being told to (RVF_RECOVER_TRUNCATE); or salvage every
 * intact segment into a new file.
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

/* Intact vectors the rollback to `cut` would drop: live in the salvage
 * state (every intact segment) but not, or not with the same value, in the
 * state the truncated file would hold. Also *kept = the salvage's count. */
static int rollback_loss(const char *path, uint64_t cut, uint64_t *lost, uint64_t *kept)
{
	rvf_store *rb = NULL, *sv = NULL;
	int err = store_open_prefix(path, cut, &rb);
	if (!err)
		err = store_open_depth(path, RVF_OPEN_READONLY | STORE_OPEN_SALVAGE, 0, &sv);
	*lost = *kept = 0;
	for (size_t i = 0; !err && i < sv->nslots; i++) {
		if (sv->deleted[i])
			continue;
		++*kept;
		uint32_t j = idmap_get(&rb->slot_of, sv->ids[i]);
		if (j == IDMAP_NONE || rb->deleted[j] || rb->dim != sv->dim ||
		    memcmp(rb->vecs + (size_t)j * rb->stride, sv->vecs + i * sv->stride, sv->dim * sizeof(float)))
			++*lost;
	}
	rvf_close(rb);
	rvf_close(sv);
	return err;
}

static int recover_in_place(const char *path, unsigned flags, rvf_recover_result *res)
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
	store_commits c;
	if ((err = store_find_commits(f, len, rvf_unhashed_end(f, len), &c))) {
		err = rvf_fail(err, "out of memory");
		goto out;
	}
	if (!c.has_cur || !c.has_good) {
		err = rvf_fail(RVF_E_CORRUPT, "%s: no intact commit to roll back to (`rvf recover %s --output "
			       "NEW` salvages what is intact)", path, path);
		goto out;
	}
	uint64_t cut = c.cur_end;
	if (c.cur_bad) {
		/* the current state is damaged: rolling back to the last good
		 * commit drops every commit since, intact segments included */
		uint64_t kept;
		cut = c.good_end;
		res->epochs_dropped = c.cur_epoch - c.good_epoch;
		if ((err = rollback_loss(path, cut, &res->vectors_lost, &kept)) && !(flags & RVF_RECOVER_TRUNCATE)) {
			char why[256];
			snprintf(why, sizeof why, "%s", rvf_last_error());
			err = rvf_fail(err, "%s: the current state (epoch %u) is damaged at offset %llu and what a "
				       "rollback would drop cannot be told (%s); nothing changed: `rvf recover %s "
				       "--output NEW` salvages, `--truncate` rolls back anyway", path, c.cur_epoch,
				       (unsigned long long)c.cur_bad, why, path);
			goto out;
		}
		err = 0;
		if (res->vectors_lost && !(flags & RVF_RECOVER_TRUNCATE)) {
			err = rvf_fail(RVF_E_CORRUPT,
				       "%s: the segment at offset %llu, listed by the current commit (epoch %u), is "
				       "damaged; rolling back to the last commit whose segments are all intact "
				       "(epoch %u) would drop %u commits (%llu bytes, %llu segments) and %llu of the "
				       "%llu intact vectors; nothing changed. `rvf recover %s --output NEW` keeps every "
				       "intact vector; `rvf recover %s --truncate` rolls back anyway (after a backup)",
				       path, (unsigned long long)c.cur_bad, c.cur_epoch, c.good_epoch,
				       res->epochs_dropped, (unsigned long long)(len - cut),
				       (unsigned long long)store_segments_in(f, len, cut),
				       (unsigned long long)res->vectors_lost, (unsigned long long)kept, path, path);
			goto out;
		}
	}
	if (cut < len) {
		/* counted before the truncation: the mapping past it is gone then */
		res->segments_dropped = store_segments_in(f, len, cut);
		res->bytes_dropped = len - cut;
		res->first_dropped_offset = cut;
		if ((err = write_backup(real, &st, f, len, res->backup, sizeof res->backup)))
			goto out;
		if (ftruncate(fd, (off_t)cut) || fsync(fd)) {
			err = rvf_fail(RVF_E_IO, "%s: truncate to %llu bytes: %s (the backup %s is intact)",
				       path, (unsigned long long)cut, strerror(errno), res->backup);
			goto out;
		}
		res->changed = 1;
		res->size_after = cut;
	}
out:
	if (f)
		munmap((void *)f, res->size_before);
	if (fd >= 0)
		close(fd); /* drops the lock */
	free(real);
	return err ? err : state_of(path, res);
}

int rvf_recover(const char *path, const char *output, unsigned flags, rvf_recover_result *res)
{
	rvf_clear_error();
	memset(res, 0, sizeof *res);
	res->first_dropped_offset = UINT64_MAX;
	int err;
	if (!output) {
		err = recover_in_place(path, flags, res);
	} else {
		rvf_store *s;
		if ((err = store_open_depth(path, RVF_OPEN_READONLY | STORE_OPEN_SALVAGE, 0, &s)))
			return err;
		rvf_compact_result cr;
		res->size_before = s->file_size;
		res->segments_dropped = s->salvage_dropped;
		if (s->salvage_dropped)
			res->first_dropped_offset = s->salvage_first;
		err = store_salvage_write(s, output, &cr);
		rvf_close(s);
		if (!err) {
			res->changed = 1;
			res->size_after = cr.file_size_after;
			err = state_of(output, res);
		}
	}
	return err ? err : rvf_check(output ? output : path, &res->after);
}
