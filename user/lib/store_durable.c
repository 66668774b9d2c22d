/* store_durable.c — what keeps a store durable and honest about damage:
 * the content-hash rule for unset hashes, the directory fsync after a
 * rename or create, the compaction temp file (unique, exclusive, never
 * through a link) and the cleanup of a killed one's, and telling an unfinished
 * commit of a live writer from a torn tail.
 */
#include "errors.h"
#include "store.h"
#include "witness.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int store_hash_ok(const rvf_store *s, uint64_t off, const rvf_seg_hdr *h)
{
	return !rvf_seg_damage(s->map, s->unhashed_end, off, h);
}

int store_fsync_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

char *store_real_path(const char *path)
{
	char *r = realpath(path, NULL);
	return r ? r : strdup(path);
}

/* "<dir>/<stem>" of the real file: its path with the extension cut
 * (malloc); the compaction temp files are "<stem>.rvf.compact.XXXXXX.tmp"
 * beside the real file (a symlinked store is compacted where its target is). */
static char *tmp_stem(const char *path)
{
	char *real = store_real_path(path);
	if (!real)
		return NULL;
	char *slash = strrchr(real, '/'), *dot = strrchr(real, '.');
	if (dot && (!slash || dot > slash) && dot != real && dot[-1] != '/')
		*dot = 0;
	return real;
}

int store_compact_tmp_create(const char *path, char **tmp)
{
	*tmp = NULL;
	char *stem = tmp_stem(path);
	char *t = stem ? malloc(strlen(stem) + sizeof ".rvf.compact.XXXXXX.tmp") : NULL;
	if (!t) {
		free(stem);
		errno = ENOMEM;
		return -1;
	}
	sprintf(t, "%s.rvf.compact.XXXXXX.tmp", stem);
	free(stem);
	/* O_CREAT|O_EXCL, 0600, a fresh random name: never opens, follows or
	 * truncates a file or link someone else put there */
	int fd = mkostemps(t, 4, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(t);
		errno = e;
		return -1;
	}
	*tmp = t;
	return fd;
}

/* name is "<base>.rvf.compact.tmp" (what older versions wrote) or
 * "<base>.rvf.compact.XXXXXX.tmp" (X from mkstemp's alphabet). */
static int tmp_name_ours(const char *name, const char *base)
{
	size_t bl = strlen(base);
	if (strncmp(name, base, bl) || strncmp(name + bl, ".rvf.compact.", 13))
		return 0;
	const char *r = name + bl + 13;
	if (!strcmp(r, "tmp"))
		return 1;
	for (int i = 0; i < 6; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') ||
		      (r[i] >= '0' && r[i] <= '9')))
			return 0;
	return !strcmp(r + 6, ".tmp");
}

/* One directory entry that may be a killed compaction's temp file: removed
 * only if it is a regular file (never through a symlink), owned by us or by
 * the store's owner (a compaction gives its temp file the store's owner),
 * not locked (a live compaction holds its temp file locked), and still the
 * same inode when unlinked. */
static void remove_if_ours(int dfd, const char *name, uid_t store_uid)
{
	struct stat a, b;
	if (fstatat(dfd, name, &a, AT_SYMLINK_NOFOLLOW) || !S_ISREG(a.st_mode) ||
	    (a.st_uid != geteuid() && a.st_uid != store_uid))
		return;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	if (!fstat(fd, &b) && b.st_dev == a.st_dev && b.st_ino == a.st_ino &&
	    !flock(fd, LOCK_EX | LOCK_NB) && !fstatat(dfd, name, &a, AT_SYMLINK_NOFOLLOW) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino && !unlinkat(dfd, name, 0))
		fsync(dfd);
	close(fd);
}

/* Called by a writer that holds the store's lock: no compaction of this
 * store can be running, so a temp file is what a killed one left. */
void store_remove_stale_tmp(rvf_store *s)
{
	struct stat st;
	char *stem = tmp_stem(s->path);
	if (!stem || fstat(s->fd, &st)) {
		free(stem);
		return;
	}
	char *slash = strrchr(stem, '/');
	const char *base = slash ? slash + 1 : stem;
	if (slash)
		*slash = 0;
	int dfd = open(slash ? (*stem ? stem : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		free(stem);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (tmp_name_ours(de->d_name, base))
			remove_if_ours(dirfd(d), de->d_name, st.st_uid);
	closedir(d);
	free(stem);
}

/* Whether some process holds the writer lock (an exclusive flock) on the
 * file open as fd: 1 yes, 0 no, -1 unknown. Read from /proc/locks, so the
 * probe never takes a lock a writer could trip over. */
int store_writer_active(int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		return -1;
	FILE *f = fopen("/proc/locks", "re");
	if (!f)
		return -1;
	char line[256];
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		char kind[16], mode[16], rw[16];
		unsigned maj, mnr;
		unsigned long long ino;
		long pid;
		/* "1: FLOCK  ADVISORY  WRITE 4446 fe:00:10953001 0 EOF"; waiters
		 * ("1: -> FLOCK ...") hold nothing and do not parse */
		if (sscanf(line, "%*u: %15s %15s %15s %ld %x:%x:%llu", kind, mode, rw, &pid, &maj, &mnr,
			   &ino) != 7)
			continue;
		found = !strcmp(kind, "FLOCK") && !strcmp(rw, "WRITE") && maj == major(st.st_dev) &&
			mnr == minor(st.st_dev) && ino == (unsigned long long)st.st_ino;
	}
	fclose(f);
	return found;
}

/* 1 if the segment right before the manifest at moff is an intact witness
 * of ours (BLAKE2b mark) recording a freeze, 0 if it is one recording
 * something else, -1 if there is none (an older or another writer's
 * commit). The witness is the freeze commit's record that the manifest is
 * SEALED, so a flipped header flag shows (docs/SECURITY.md §6.7). */
int store_commit_froze(const uint8_t *f, uint64_t len, uint64_t ue, uint64_t moff)
{
	static const uint8_t magic[4] = {0x53, 0x46, 0x56, 0x52};
	uint64_t off = 0, prev = UINT64_MAX;
	while (off < moff && moff - off >= RVF_SEG_HDR_SIZE) {
		rvf_seg_hdr h;
		rvf_hdr_decode(f + off, &h);
		if (h.magic == RVF_SEG_MAGIC && h.payload_length <= moff - off - RVF_SEG_HDR_SIZE) {
			prev = off;
			off += RVF_SEG_HDR_SIZE + h.payload_length;
			continue;
		}
		const uint8_t *next = memmem(f + off + 1, moff - off - 1, magic, sizeof magic);
		prev = UINT64_MAX;
		off = next ? (uint64_t)(next - f) : moff;
	}
	if (off != moff || prev == UINT64_MAX || len < moff)
		return -1;
	rvf_seg_hdr h;
	rvf_hdr_decode(f + prev, &h);
	rvf_witness w;
	size_t ml = strlen(RVF_WITNESS_B2B_MARK);
	if (h.seg_type != RVF_SEG_WITNESS || rvf_seg_damage(f, ue, prev, &h) ||
	    rvf_witness_decode(f + prev + RVF_SEG_HDR_SIZE, h.payload_length, &w) || w.action_len < ml ||
	    memcmp(w.action + w.action_len - ml, RVF_WITNESS_B2B_MARK, ml))
		return -1;
	return w.action_len >= 7 && !memcmp(w.action, "freeze:", 7);
}
