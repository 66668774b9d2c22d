/* fuzz_util.h — helpers shared by the libFuzzer harnesses: an input as a
 * file (memfd, or a real file in a private tmpfs directory for the writers,
 * whose lock file, compaction and COW parent need a directory), and a byte
 * consumer for harnesses that draw parameters from the input. */
#ifndef RVF_FUZZ_UTIL_H
#define RVF_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile uint8_t fz_sink;

/* Reads every byte (a dangling pointer or a short span shows under ASan). */
static inline void fz_touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= b[i];
	fz_sink ^= x;
}

static inline void fz_write_fd(int fd, const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
}

/* The input as /proc/self/fd/N of one memfd reused across runs. */
static inline const char *fz_memfd_path(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		if ((fd = memfd_create("fuzz-input", 0)) < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	fz_write_fd(fd, data, size);
	return path;
}

static char fz_dir[256];

static void fz_rmdir(void)
{
	char cmd[300];
	if (fz_dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
	}
}

/* A private directory on tmpfs (/dev/shm, else $TMPDIR or /tmp), removed at exit. */
static inline const char *fz_workdir(void)
{
	if (fz_dir[0])
		return fz_dir;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(fz_dir, sizeof fz_dir, "%s/rvf-fuzz.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(fz_dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(fz_rmdir);
	return fz_dir;
}

static inline void fz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* Draws parameters from the front of the input. */
typedef struct {
	const uint8_t *p;
	size_t n;
} fz_bytes;

static inline uint32_t fz_u32(fz_bytes *b, uint32_t dflt)
{
	if (b->n < 4)
		return dflt;
	uint32_t v;
	memcpy(&v, b->p, 4);
	b->p += 4;
	b->n -= 4;
	return v;
}

static inline uint8_t fz_u8(fz_bytes *b, uint8_t dflt)
{
	if (!b->n)
		return dflt;
	b->n--;
	return *b->p++;
}

/* Exact-size NUL-terminated copy (ASan sees a read past the end). */
static inline char *fz_cstr(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

#endif
