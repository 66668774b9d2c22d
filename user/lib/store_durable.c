/* store_durable.c — what keeps a store durable and honest about damage:
 * the content-hash rule for unset hashes, the directory fsync after a
 * rename or create, the compaction temp file, and telling an unfinished
 * commit of a live writer from a torn tail.
 */
#include "errors.h"
#include "store.h"
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

/* "<dir>/<name>.rvf.compact.tmp" with the extension replaced, as the
 * reference names it, so a leftover temp file is recognisable. Beside the
 * real file (a symlinked store is compacted where its target is). */
char *store_compact_tmp_path(const char *path)
{
	char *real = store_real_path(path);
	if (!real)
		return NULL;
	size_t len = strlen(real);
	const char *slash = strrchr(real, '/');
	const char *dot = strrchr(real, '.');
	if (dot && (!slash || dot > slash) && dot != real && dot[-1] != '/')
		len = (size_t)(dot - real);
	char *t = malloc(len + sizeof ".rvf.compact.tmp");
	if (t)
		sprintf(t, "%.*s.rvf.compact.tmp", (int)len, real);
	free(real);
	return t;
}

/* Called by a writer that holds the store's lock: no compaction of this
 * store can be running, so a temp file is what a killed one left. The temp
 * file is also locked by a live compaction; a locked one is left alone. */
void store_remove_stale_tmp(rvf_store *s)
{
	char *tmp = store_compact_tmp_path(s->path);
	if (!tmp)
		return;
	int fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		struct stat st;
		if (!fstat(fd, &st) && S_ISREG(st.st_mode) && !flock(fd, LOCK_EX | LOCK_NB) &&
		    !unlink(tmp))
			store_fsync_dir(tmp);
		close(fd);
	}
	free(tmp);
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
