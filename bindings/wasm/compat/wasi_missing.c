/* See wasi_missing.h. */
#include "wasi_missing.h"
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *realpath(const char *path, char *resolved)
{
	(void)path;
	(void)resolved;
	errno = ENOSYS;
	return NULL;
}

int fchown(int fd, uid_t uid, gid_t gid)
{
	(void)fd;
	(void)uid;
	(void)gid;
	errno = ENOSYS;
	return -1;
}

int fchmod(int fd, mode_t mode)
{
	(void)fd;
	(void)mode;
	errno = ENOSYS;
	return -1;
}

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	(void)flags;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < 256 ? len - done : 256; /* getentropy's limit */
		if (getentropy((char *)buf + done, n))
			return -1;
		done += n;
	}
	return (ssize_t)len;
}

/* no users in WASI: an id no file has (the compaction temp cleanup, never
 * reached by a read-only module, compares owners with it) */
uid_t geteuid(void)
{
	return (uid_t)-1;
}

int mkostemps(char *tmpl, int suffixlen, int flags)
{
	(void)tmpl;
	(void)suffixlen;
	(void)flags;
	errno = ENOSYS;
	return -1;
}

int flock(int fd, int op)
{
	(void)fd;
	(void)op;
	errno = ENOSYS;
	return -1;
}

void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
	if (!(flags & MREMAP_MAYMOVE)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	void *p = mmap(NULL, new_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	memcpy(p, old, old_size < new_size ? old_size : new_size);
	munmap(old, old_size);
	return p;
}
