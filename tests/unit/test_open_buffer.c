/* test_open_buffer.c — rvf_open_buffer (the open behind rvf.wasm) answers
 * like rvf_open on the same bytes, never touches memory past len, refuses a
 * COW branch without opening any file, and borrows (never frees) the bytes. */
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

/* The bytes end exactly at a PROT_NONE page: any read past len faults. */
static uint8_t *fenced_copy(const uint8_t *src, size_t len, void **map, size_t *maplen)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t body = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	*maplen = body + (size_t)pg;
	uint8_t *m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	mprotect(m + body, (size_t)pg, PROT_NONE);
	*map = m;
	memcpy(m + body - len, src, len);
	return m + body - len;
}

static void same_answers(const char *name)
{
	char path[512];
	size_t len = 0, maplen;
	void *map;
	snprintf(path, sizeof path, "%s/corpus/%s", rvf_test_shared_dir(), name);
	uint8_t *raw = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	uint8_t *b = fenced_copy(raw, len, &map, &maplen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	rvf_store *f = NULL, *m = NULL;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, RVF_OPEN_READONLY, &f), 0);
	CU_ASSERT_EQUAL_FATAL(rvf_open_buffer(b, len, &m), 0);
	rvf_status sf, sm;
	CU_ASSERT_EQUAL(rvf_get_status(f, &sf), 0);
	CU_ASSERT_EQUAL(rvf_get_status(m, &sm), 0);
	CU_ASSERT_EQUAL(sf.total_vectors, sm.total_vectors);
	CU_ASSERT_EQUAL(sf.epoch, sm.epoch);
	CU_ASSERT_EQUAL(sf.dimension, sm.dimension);
	CU_ASSERT_EQUAL(sm.read_only, 1);
	uint32_t dim = rvf_dimension(f);
	float *q = calloc(dim, sizeof *q);
	for (uint32_t i = 0; i < dim; i++)
		q[i] = (float)((i * 37) % 11) / 7.0f - 0.5f;
	rvf_hit hf[10], hm[10];
	size_t nf = 0, nm = 0;
	CU_ASSERT_EQUAL(rvf_query(f, q, dim, 10, hf, &nf), 0);
	CU_ASSERT_EQUAL(rvf_query(m, q, dim, 10, hm, &nm), 0);
	CU_ASSERT_EQUAL(nf, nm);
	for (size_t i = 0; i < nf && i < nm; i++) {
		CU_ASSERT_EQUAL(hf[i].id, hm[i].id);
		CU_ASSERT(!memcmp(&hf[i].distance, &hm[i].distance, sizeof(float)));
	}
	uint64_t one = 1;
	CU_ASSERT_EQUAL(rvf_ingest(m, &one, q, 1, NULL), RVF_E_READONLY);
	free(q);
	rvf_close(f);
	rvf_close(m); /* must not free or unmap the caller's bytes */
	CU_ASSERT_EQUAL(b[0], raw[0]);
	munmap(map, maplen);
	free(raw);
}

static void t_same_as_file(void)
{
	same_answers("basic_store.rvf");
	same_answers("filtered_search.rvf");
	same_answers("quantization.rvf");
}

static void t_truncations(void)
{
	char path[512];
	size_t len = 0, maplen;
	void *map;
	snprintf(path, sizeof path, "%s/corpus/basic_store.rvf", rvf_test_shared_dir());
	uint8_t *raw = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	rvf_store *s = NULL;
	CU_ASSERT_NOT_EQUAL(rvf_open_buffer(raw, 0, &s), 0);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(rvf_open_buffer(NULL, 10, &s), RVF_E_ARG);
	/* every cut: opens or fails cleanly, and never reads past the cut */
	for (size_t cut = 1; cut < len; cut += cut < 512 ? 1 : 251) {
		uint8_t *b = fenced_copy(raw, cut, &map, &maplen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		if (rvf_open_buffer(b, cut, &s) == 0)
			rvf_close(s);
		munmap(map, maplen);
	}
	free(raw);
}

static void t_branch_refused(void)
{
	char parent[512], child[512];
	snprintf(parent, sizeof parent, "%s/ob_parent.rvf", rvf_test_tmpdir());
	snprintf(child, sizeof child, "%s/ob_child.rvf", rvf_test_tmpdir());
	rvf_create_opts o = {.dimension = 4, .metric = RVF_METRIC_L2};
	rvf_store *p = NULL, *c = NULL, *m = NULL;
	float v[4] = {1, 2, 3, 4};
	uint64_t id = 7;
	CU_ASSERT_EQUAL_FATAL(rvf_create(parent, &o, &p), 0);
	CU_ASSERT_EQUAL_FATAL(rvf_ingest(p, &id, v, 1, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(rvf_derive(p, child, 1, &c), 0);
	rvf_close(c);
	rvf_close(p);
	size_t len = 0;
	uint8_t *b = slurp(child, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(rvf_open_buffer(b, len, &m), RVF_E_PARENT);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), "COW branch"));
	free(b);
}

RVF_SUITE(open_buffer, {"same answers as rvf_open on the same bytes", t_same_as_file},
	  {"every truncation opens or fails, no read past len", t_truncations},
	  {"a COW branch is refused without opening its parent", t_branch_refused})
