/* testutil.c — see testutil.h. */
#include "testutil.h"
#include <string.h>

#include "fileio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int tu_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
	if (ok) {
		CU_assertImplementation(CU_TRUE, (unsigned)line, expr, file, "", CU_FALSE);
		return 1;
	}
	va_list ap;
	fprintf(stderr, "\n    FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	CU_assertImplementation(CU_FALSE, (unsigned)line, expr, file, "", CU_FALSE);
	return 0;
}

char *tu_tpath(const char *prefix, const char *name)
{
	static int seq;
	char *p = NULL;
	if (asprintf(&p, "%s/%s_%d_%s", rvf_test_tmpdir(), prefix, seq++, name) < 0)
		abort();
	return p;
}

long long tu_fsize(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (long long)st.st_size;
}

uint8_t *tu_slurp(const char *path, size_t *len)
{
	uint8_t *b;
	return rvf_read_file(path, &b, len) ? NULL : b;
}

uint8_t *tu_slurp_shared(const char *rel, size_t *len)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", rvf_test_shared_dir(), rel) < 0)
		abort();
	uint8_t *b = tu_slurp(path, len);
	free(path);
	return b;
}

uint64_t tu_live_mix(const rvf_store *s)
{
	uint64_t mix = 0, n = rvf_live_count(s);
	uint32_t dim = rvf_dimension(s);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id;
		const float *v;
		if (rvf_live_get(s, i, &id, &v))
			continue;
		uint64_t h = id * 0x9E3779B97F4A7C15ull;
		for (uint32_t d = 0; d < dim; d++) {
			uint32_t b;
			memcpy(&b, &v[d], 4);
			h = (h ^ b) * 0x100000001B3ull;
		}
		mix += h;
	}
	return mix;
}
