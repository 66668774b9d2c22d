/* Auto-compaction policy: off by default, compacts once the dead ratio is
 * reached, and the live set survives it. */
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static rvf_store *fill(const char *path, uint64_t n)
{
	rvf_create_opts o = {.dimension = 8, .metric = RVF_METRIC_L2};
	rvf_store *s;
	remove(path);
	if (rvf_create(path, &o, &s))
		return NULL;
	uint64_t *ids = malloc(n * sizeof *ids);
	float *v = malloc(n * 8 * sizeof *v);
	for (uint64_t i = 0; i < n; i++) {
		ids[i] = i;
		for (int d = 0; d < 8; d++)
			v[i * 8 + d] = (float)(i * 8 + (uint64_t)d) / 100.0f;
	}
	int err = rvf_ingest(s, ids, v, n, NULL);
	free(ids);
	free(v);
	if (err) {
		rvf_close(s);
		return NULL;
	}
	return s;
}

static void test_off_by_default(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/ac_off.rvf", rvf_test_tmpdir());
	rvf_store *s = fill(path, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	uint64_t del[60];
	for (int i = 0; i < 60; i++)
		del[i] = (uint64_t)i;
	CU_ASSERT_EQUAL(rvf_delete(s, del, 60, NULL), RVF_OK);
	rvf_status st;
	rvf_get_status(s, &st);
	CU_ASSERT_EQUAL(st.deleted_vectors, 60); /* still there: no compaction */
	rvf_close(s);
}

static void test_compacts_at_ratio(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/ac_on.rvf", rvf_test_tmpdir());
	rvf_store *s = fill(path, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(rvf_set_auto_compact(s, 1.5, 0), RVF_E_ARG);
	CU_ASSERT_EQUAL(rvf_set_auto_compact(s, 0.5, 10), RVF_OK);
	uint64_t del[60];
	for (int i = 0; i < 60; i++)
		del[i] = (uint64_t)i;
	/* 40 of 100: below the ratio, nothing happens */
	CU_ASSERT_EQUAL(rvf_delete(s, del, 40, NULL), RVF_OK);
	rvf_status st;
	rvf_get_status(s, &st);
	CU_ASSERT_EQUAL(st.deleted_vectors, 40);
	long long before = tu_fsize(path);
	/* 60 of 100: compacted */
	CU_ASSERT_EQUAL(rvf_delete(s, del + 40, 20, NULL), RVF_OK);
	rvf_get_status(s, &st);
	CU_ASSERT_EQUAL(st.deleted_vectors, 0);
	CU_ASSERT_EQUAL(st.total_vectors, 40);
	CU_ASSERT(tu_fsize(path) < before);
	rvf_close(s);
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, RVF_OPEN_READONLY, &s), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(s), 40);
	float q[8] = {0};
	for (int d = 0; d < 8; d++)
		q[d] = (float)(99 * 8 + d) / 100.0f;
	rvf_hit h[1];
	size_t n;
	CU_ASSERT_EQUAL(rvf_query(s, q, 8, 1, h, &n), RVF_OK);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(h[0].id, 99);
	rvf_close(s);
}

RVF_SUITE(autocompact, {"off by default", test_off_by_default},
	  {"compacts once the dead ratio is reached", test_compacts_at_ratio})
