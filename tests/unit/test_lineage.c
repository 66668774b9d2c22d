/* Lineage: derive (empty child) and branch (COW read-through with the
 * child's own writes), freeze, membership; all surviving reopen. */
#include "format.h"
#include "rvf.h"
#include "testreg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIM 8

static char *tp(const char *name)
{
	static char buf[4][512];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 512, "%s/%s", rvf_test_tmpdir(), name);
	return b;
}

static void vec(uint64_t id, float *v)
{
	for (int d = 0; d < DIM; d++)
		v[d] = (float)((id * 31 + (uint64_t)d * 7) % 97) / 97.0f;
}

static rvf_store *parent_with(const char *path, uint64_t n)
{
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	rvf_store *s;
	remove(path);
	if (rvf_create(path, &o, &s))
		return NULL;
	for (uint64_t i = 0; i < n; i++) {
		float v[DIM];
		vec(i, v);
		if (rvf_ingest(s, &i, v, 1, NULL)) {
			rvf_close(s);
			return NULL;
		}
	}
	return s;
}

/* 1 if `id` is returned at distance 0 for its own vector `v`. */
static int finds(const rvf_store *s, uint64_t id, const float *v)
{
	rvf_hit h[4];
	size_t n;
	if (rvf_query(s, v, DIM, 4, h, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (h[i].id == id && h[i].distance == 0.0f)
			return 1;
	return 0;
}

static void test_derive_empty(void)
{
	rvf_store *p = parent_with(tp("dp.rvf"), 10), *c;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(rvf_derive(p, tp("dc.rvf"), 0, &c), RVF_OK);
	rvf_identity pi, ci;
	rvf_get_identity(p, &pi);
	rvf_get_identity(c, &ci);
	CU_ASSERT_EQUAL(memcmp(ci.parent_id, pi.file_id, 16), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(ci.file_id, pi.file_id, 16), 0);
	CU_ASSERT_EQUAL(ci.lineage_depth, pi.lineage_depth + 1);
	CU_ASSERT_EQUAL(rvf_live_count(c), 0);
	rvf_close(c);
	/* parent_hash = fold32 of the parent's last 64 KiB */
	FILE *f = fopen(tp("dp.rvf"), "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	static uint8_t buf[1 << 20];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	uint8_t h[32];
	size_t n = len < 65536 ? len : 65536;
	rvf_fold32(buf + len - n, n, h);
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("dc.rvf"), RVF_OPEN_READONLY, &c), RVF_OK);
	rvf_get_identity(c, &ci);
	CU_ASSERT_EQUAL(memcmp(ci.parent_hash, h, 32), 0);
	rvf_close(c);
	rvf_close(p);
}

static void test_branch_rw(void)
{
	rvf_store *p = parent_with(tp("bp.rvf"), 30), *c;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(rvf_derive(p, tp("bc.rvf"), 1, &c), RVF_OK);
	rvf_close(p);
	float v[DIM], w[DIM];
	CU_ASSERT_EQUAL(rvf_live_count(c), 30);
	vec(5, v);
	CU_ASSERT(finds(c, 5, v));
	/* own writes: a new id, an override of parent id 7 */
	uint64_t id = 1000;
	vec(1000, w);
	CU_ASSERT_EQUAL(rvf_ingest(c, &id, w, 1, NULL), RVF_OK);
	id = 7;
	vec(1001, w);
	CU_ASSERT_EQUAL(rvf_ingest(c, &id, w, 1, NULL), RVF_OK);
	/* deletes: parent-only id 3 (membership), own id 1000, overridden 7 */
	uint64_t del[3] = {3, 1000, 7};
	rvf_delete_result dr;
	CU_ASSERT_EQUAL(rvf_delete(c, del, 3, &dr), RVF_OK);
	CU_ASSERT_EQUAL(dr.deleted, 3);
	rvf_status st;
	rvf_get_status(c, &st);
	CU_ASSERT_EQUAL(st.total_vectors, 0);   /* own vectors only, as the reference */
	CU_ASSERT_EQUAL(rvf_live_count(c), 28); /* 30 + 1000 - {3, 1000, 7} */
	rvf_close(c);
	for (int round = 0; round < 2; round++) {
		CU_ASSERT_EQUAL_FATAL(rvf_open(tp("bc.rvf"), round ? 0 : RVF_OPEN_READONLY, &c), RVF_OK);
		CU_ASSERT_EQUAL(rvf_live_count(c), 28);
		vec(3, v);
		CU_ASSERT(!finds(c, 3, v));
		vec(7, v);
		CU_ASSERT(!finds(c, 7, v));
		vec(8, v);
		CU_ASSERT(finds(c, 8, v));
		if (round) { /* re-ingest a hidden parent id: visible again, as the child's */
			id = 3;
			vec(3, v);
			CU_ASSERT_EQUAL(rvf_ingest(c, &id, v, 1, NULL), RVF_OK);
		}
		rvf_close(c);
	}
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("bc.rvf"), RVF_OPEN_READONLY, &c), RVF_OK);
	vec(3, v);
	CU_ASSERT(finds(c, 3, v));
	CU_ASSERT_EQUAL(rvf_live_count(c), 29);
	/* the parent file is untouched by the child's writes */
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("bp.rvf"), RVF_OPEN_READONLY, &p), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(p), 30);
	rvf_close(p);
	rvf_close(c);
}

static void test_membership(void)
{
	rvf_store *p = parent_with(tp("mp.rvf"), 20), *c;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(rvf_membership(p, NULL, 0, 0), RVF_E_UNSUPPORTED);
	CU_ASSERT_EQUAL_FATAL(rvf_derive(p, tp("mc.rvf"), 1, &c), RVF_OK);
	rvf_close(p);
	uint64_t keep[3] = {1, 2, 3};
	CU_ASSERT_EQUAL(rvf_membership(c, keep, 3, 1), RVF_OK);
	rvf_close(c);
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("mc.rvf"), RVF_OPEN_READONLY, &c), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(c), 3);
	rvf_close(c);
}

static void test_freeze(void)
{
	rvf_store *p = parent_with(tp("fp.rvf"), 5), *c;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	rvf_status st;
	rvf_get_status(p, &st);
	uint32_t epoch = st.epoch;
	CU_ASSERT_EQUAL(rvf_freeze(p), RVF_OK);
	uint64_t id = 99;
	float v[DIM] = {0};
	CU_ASSERT_EQUAL(rvf_ingest(p, &id, v, 1, NULL), RVF_E_READONLY);
	rvf_close(p);
	/* every later writer is refused; readers and derivation still work */
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("fp.rvf"), 0, &p), RVF_OK);
	rvf_get_status(p, &st);
	CU_ASSERT_EQUAL(st.epoch, epoch);
	CU_ASSERT_EQUAL(rvf_ingest(p, &id, v, 1, NULL), RVF_E_READONLY);
	CU_ASSERT_EQUAL(rvf_delete(p, &id, 1, NULL), RVF_E_READONLY);
	CU_ASSERT_EQUAL(rvf_compact(p, NULL), RVF_E_READONLY);
	CU_ASSERT_EQUAL(rvf_derive(p, tp("fc.rvf"), 1, &c), RVF_OK);
	CU_ASSERT_EQUAL(rvf_ingest(c, &id, v, 1, NULL), RVF_OK);
	rvf_close(c);
	rvf_close(p);
}

static void test_reference_branch(void)
{
	/* The reference's branch reads as before (ids 8, 9 hidden, 7 overridden)
	 * and our write on top keeps its parent visible. */
	char src[512], dst[512], pdst[512], cmd[2048];
	snprintf(src, sizeof src, "%s/spec/fixtures/ref/f_cow_child.rvf", rvf_test_shared_dir());
	snprintf(dst, sizeof dst, "%s/f_cow_child.rvf", rvf_test_tmpdir());
	snprintf(pdst, sizeof pdst, "%s/f_cow_parent.rvf", rvf_test_tmpdir());
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s/spec/fixtures/ref/f_cow_parent.rvf' '%s'", src, dst,
		 rvf_test_shared_dir(), pdst);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	rvf_store *c;
	CU_ASSERT_EQUAL_FATAL(rvf_open(dst, 0, &c), RVF_OK);
	uint64_t before = rvf_live_count(c);
	uint64_t id = 5;
	CU_ASSERT_EQUAL(rvf_delete(c, &id, 1, NULL), RVF_OK);
	rvf_close(c);
	CU_ASSERT_EQUAL_FATAL(rvf_open(dst, RVF_OPEN_READONLY, &c), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(c), before - 1);
	rvf_close(c);
}

static void test_refcounts(void)
{
	/* dim 8: 128 parent vectors per cluster; 300 vectors -> 3 clusters */
	rvf_store *p = parent_with(tp("rp.rvf"), 300), *c;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	uint32_t nc = 0, loc = 0;
	CU_ASSERT_EQUAL(rvf_rebuild_refcounts(p, &nc, &loc), RVF_E_NOT_FOUND);
	CU_ASSERT_EQUAL_FATAL(rvf_derive(p, tp("rc.rvf"), 1, &c), RVF_OK);
	rvf_close(p);
	/* keep only ids of the first cluster visible, override one of them */
	uint64_t keep[2] = {0, 5};
	CU_ASSERT_EQUAL(rvf_membership(c, keep, 2, 1), RVF_OK);
	uint64_t id = 5;
	float v[DIM] = {0};
	CU_ASSERT_EQUAL(rvf_ingest(c, &id, v, 1, NULL), RVF_OK);
	CU_ASSERT_EQUAL(rvf_rebuild_refcounts(c, &nc, &loc), RVF_OK);
	CU_ASSERT_EQUAL(nc, 3);
	CU_ASSERT_EQUAL(loc, 1);
	rvf_close(c);
	/* the REFCOUNT_SEG is listed and survives reopen */
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("rc.rvf"), RVF_OPEN_READONLY, &c), RVF_OK);
	int found = 0;
	for (size_t i = 0; i < rvf_segment_count(c); i++) {
		rvf_segment_info si;
		rvf_segment_get(c, i, &si);
		found += si.seg_type == 0x21 && si.payload_length == 32 + 3;
	}
	CU_ASSERT_EQUAL(found, 1);
	CU_ASSERT_EQUAL(rvf_live_count(c), 2);
	rvf_close(c);
}

RVF_SUITE(lineage, {"rebuild-refcounts", test_refcounts}, {"derive: empty child with identity and parent hash", test_derive_empty},
	  {"branch: read-through, own writes, deletes, reopen", test_branch_rw},
	  {"branch: include-only membership", test_membership},
	  {"freeze refuses every later writer", test_freeze},
	  {"reference branch takes our writes", test_reference_branch})
