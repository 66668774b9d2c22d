/* test_index_persist.c — the HNSW index is persisted incrementally
 * (INDEX_LOG per commit, INDEX_SEG checkpoints) and never lost:
 *  - a random sequence of ingest / upsert / delete / compact, each step
 *    followed by a reopen, always loads the index (no warning, persisted,
 *    every stored vector a node) and it answers like brute force;
 *  - small ingests into an indexed 20k x 32 store grow the file by O(batch)
 *    bytes, not by the index size; status / compaction sizes are the real
 *    file size; dead bytes account for superseded index segments;
 *  - policy auto builds at 20000 vectors, off never; efSearch and the
 *    policy are stored in the file;
 *  - the parallel build keeps recall;
 *  - delete/upsert churn keeps recall@10 at the default efSearch within
 *    0.03 of a rebuilt graph (upserts used to leave their old neighbours'
 *    lists pointing into the moved node's new place: 0.94 vs 0.99).
 */
#include "format.h"
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rs;
static double urand(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return ((rs >> 11) + 0.5) / 9007199254740992.0;
}

/* Clustered points: 40 centres, sigma 0.3. */
static void gen(float *v, size_t n, uint32_t dim, uint64_t seed)
{
	uint64_t save = rs;
	rs = 0x1234567ull;
	float c[40 * 64];
	for (size_t i = 0; i < 40 * (size_t)dim; i++)
		c[i] = (float)(urand() * 4 - 2);
	rs = seed * 0x9E3779B97F4A7C15ull | 1;
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)(urand() * 40) % 40;
		for (uint32_t d = 0; d < dim; d++)
			v[i * dim + d] = c[k * dim + d] + (float)(urand() - 0.5) * 0.6f;
	}
	rs = save;
}

static uint64_t fsize(const char *path)
{
	struct stat st;
	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

/* Recall@10 of the index path vs the exact scan over nq generated queries,
 * a hit counted by distance (ties cannot fail it). */
static double recall10(const rvf_store *s, size_t nq, uint64_t seed)
{
	uint32_t dim = rvf_dimension(s);
	float *q = malloc(nq * dim * sizeof *q);
	gen(q, nq, dim, seed);
	size_t hit = 0, tot = 0;
	for (size_t i = 0; i < nq; i++) {
		rvf_hit e[10], a[10];
		size_t ne = 0, na = 0;
		rvf_query_opts oe = {.k = 10, .exact = 1}, oa = {.k = 10};
		if (rvf_query_ex(s, q + i * dim, dim, &oe, e, &ne) || rvf_query_ex(s, q + i * dim, dim, &oa, a, &na))
			continue;
		for (size_t j = 0; j < na; j++)
			hit += ne && a[j].distance <= e[ne - 1].distance;
		tot += ne;
	}
	free(q);
	return tot ? (double)hit / (double)tot : 1.0;
}

/* The index loaded from the file: no warning, persisted, all records. */
static int index_ok(const rvf_store *s, const char *step)
{
	rvf_index_stats st;
	rvf_status ss;
	rvf_get_index_stats(s, &st);
	rvf_get_status(s, &ss);
	uint64_t stored = ss.stored_vectors;
	int ok = CHECK(!rvf_open_warning(s)[0], "%s: warning '%s'", step, rvf_open_warning(s));
	ok &= CHECK(!stored || (st.present && st.persisted && st.nodes == stored),
		    "%s: present %d persisted %d nodes %llu stored %llu", step, st.present, st.persisted,
		    (unsigned long long)st.nodes, (unsigned long long)stored);
	return ok;
}

#define SDIM 16

static void test_write_sequences(void)
{
	char *path = tu_tpath("ipersist", "seq.rvf");
	rvf_store *s = NULL;
	rvf_create_opts co = {.dimension = SDIM};
	if (!CHECK_OK(rvf_create(path, &co, &s)))
		goto out;
	CHECK_OK(rvf_index_configure(s, RVF_INDEX_ON, 0));
	size_t n0 = 3000;
	float *v = malloc(n0 * SDIM * sizeof *v);
	uint64_t *ids = malloc(n0 * sizeof *ids);
	gen(v, n0, SDIM, 1);
	for (size_t i = 0; i < n0; i++)
		ids[i] = 5 * i + 3;
	CHECK_OK(rvf_ingest(s, ids, v, n0, NULL));
	uint64_t next = 5 * n0 + 3;
	rs = 77;
	char step[64];
	for (int it = 0; it < 40; it++) {
		uint32_t kind = (uint32_t)(urand() * 100);
		size_t n = 1 + (size_t)(urand() * 20);
		uint64_t tid[32];
		float tv[32 * SDIM];
		gen(tv, n, SDIM, 100 + (uint64_t)it);
		if (kind < 40) { /* new ids */
			for (size_t j = 0; j < n; j++)
				tid[j] = next++;
			snprintf(step, sizeof step, "step %d ingest %zu", it, n);
			CHECK_OK(rvf_ingest(s, tid, tv, n, NULL));
		} else if (kind < 60) { /* upserts (some of deleted ids) */
			for (size_t j = 0; j < n; j++)
				tid[j] = ids[(size_t)(urand() * n0) % n0];
			snprintf(step, sizeof step, "step %d upsert %zu", it, n);
			CHECK_OK(rvf_ingest(s, tid, tv, n, NULL));
		} else if (kind < 90) {
			for (size_t j = 0; j < n; j++)
				tid[j] = ids[(size_t)(urand() * n0) % n0];
			snprintf(step, sizeof step, "step %d delete %zu", it, n);
			CHECK_OK(rvf_delete(s, tid, n, NULL));
		} else {
			rvf_compact_result cr;
			snprintf(step, sizeof step, "step %d compact", it);
			if (CHECK_OK(rvf_compact(s, &cr))) {
				rvf_status ss;
				rvf_get_status(s, &ss);
				CHECK(cr.file_size_after == fsize(path) && ss.file_size == fsize(path),
				      "compact: after %llu status %llu file %llu", (unsigned long long)cr.file_size_after,
				      (unsigned long long)ss.file_size, (unsigned long long)fsize(path));
			}
		}
		rvf_close(s);
		s = NULL;
		if (!CHECK_OK(rvf_open(path, it % 2 ? RVF_OPEN_READONLY : 0, &s)))
			break;
		if (!index_ok(s, step))
			break;
		double r = recall10(s, 20, 900 + (uint64_t)it);
		if (!CHECK(r >= 0.9, "%s: recall %.3f", step, r))
			break;
		if (it % 2) { /* back to a writable handle */
			rvf_close(s);
			s = NULL;
			if (!CHECK_OK(rvf_open(path, 0, &s)))
				break;
		}
	}
	free(v);
	free(ids);
out:
	rvf_close(s);
	free(path);
}

/* The issue's sequence: index; ingest 900; delete 900; ingest 901. */
static void test_issue_sequence(void)
{
	char *path = tu_tpath("ipersist", "issue.rvf");
	rvf_store *s = NULL;
	rvf_create_opts co = {.dimension = SDIM};
	if (!CHECK_OK(rvf_create(path, &co, &s)))
		goto out;
	size_t n0 = 2000;
	float *v = malloc((n0 + 2) * SDIM * sizeof *v);
	uint64_t *ids = malloc(n0 * sizeof *ids);
	gen(v, n0 + 2, SDIM, 3);
	for (size_t i = 0; i < n0; i++)
		ids[i] = i;
	CHECK_OK(rvf_ingest(s, ids, v, n0, NULL));
	CHECK_OK(rvf_index_build(s, 0, 0));
	uint64_t a = 2900, b = 2901;
	CHECK_OK(rvf_ingest(s, &a, v + n0 * SDIM, 1, NULL));
	CHECK_OK(rvf_delete(s, &a, 1, NULL));
	CHECK_OK(rvf_ingest(s, &b, v + (n0 + 1) * SDIM, 1, NULL));
	rvf_close(s);
	s = NULL;
	if (CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s)))
		index_ok(s, "index; ingest; delete; ingest");
	free(v);
	free(ids);
out:
	rvf_close(s);
	free(path);
}

#define GDIM 32
#define GN 20000

/* Policy auto at 19999 -> 20000, then growth per small ingest. */
static void test_growth_and_policy(void)
{
	char *path = tu_tpath("ipersist", "growth.rvf");
	rvf_store *s = NULL;
	rvf_create_opts co = {.dimension = GDIM};
	if (!CHECK_OK(rvf_create(path, &co, &s)))
		goto out;
	float *v = malloc((GN + 200) * GDIM * sizeof *v);
	uint64_t *ids = malloc((GN + 200) * sizeof *ids);
	gen(v, GN + 200, GDIM, 5);
	for (size_t i = 0; i < GN + 200; i++)
		ids[i] = i;
	rvf_index_stats st;
	CHECK_OK(rvf_ingest(s, ids, v, GN - 1, NULL));
	rvf_get_index_stats(s, &st);
	CHECK(!st.present, "policy auto built an index at %d vectors", GN - 1);
	CHECK_OK(rvf_set_index_policy(s, RVF_INDEX_OFF));
	CHECK_OK(rvf_ingest(s, ids + GN - 1, v + (GN - 1) * GDIM, 1, NULL));
	rvf_get_index_stats(s, &st);
	CHECK(!st.present, "policy off built an index");
	CHECK_OK(rvf_set_index_policy(s, -1)); /* the stored one: auto */
	CHECK_OK(rvf_ingest(s, ids + GN, v + GN * GDIM, 1, NULL));
	rvf_get_index_stats(s, &st);
	CHECK(st.present && st.persisted && st.nodes == GN + 1, "auto at %d: present %d persisted %d nodes %llu",
	      GN + 1, st.present, st.persisted, (unsigned long long)st.nodes);
	uint64_t prev = fsize(path), total = 0, worst5 = 0;
	for (size_t i = 0; i < 100; i++) {
		CHECK_OK(rvf_ingest(s, ids + GN + 1 + i, v + (GN + 1 + i) * GDIM, 1, NULL));
		uint64_t now = fsize(path);
		if (i < 5 && now - prev > worst5)
			worst5 = now - prev;
		total += now - prev;
		prev = now;
	}
	CHECK(worst5 <= 65536, "a 1-vector ingest grew the file by %llu bytes", (unsigned long long)worst5);
	CHECK(total / 100 <= 65536, "100 1-vector ingests grew the file by %llu bytes on average",
	      (unsigned long long)(total / 100));
	rvf_status ss;
	rvf_get_status(s, &ss);
	rvf_get_index_stats(s, &st);
	CHECK(ss.file_size == fsize(path), "status size %llu, file %llu", (unsigned long long)ss.file_size,
	      (unsigned long long)fsize(path));
	CHECK(ss.dead_bytes > 0 && ss.dead_bytes < ss.file_size, "dead bytes %llu", (unsigned long long)ss.dead_bytes);
	CHECK(st.log_bytes <= st.checkpoint_bytes, "log %llu bytes > checkpoint %llu", (unsigned long long)st.log_bytes,
	      (unsigned long long)st.checkpoint_bytes);
	/* compaction reclaims what status called dead, plus the index log it
	 * folds into the new checkpoint (within a manifest and a witness) */
	uint64_t dead = ss.dead_bytes + st.log_bytes, before = ss.file_size;
	rvf_compact_result cr;
	CHECK_OK(rvf_compact(s, &cr));
	CHECK(cr.file_size_after == fsize(path), "compact after %llu, file %llu", (unsigned long long)cr.file_size_after,
	      (unsigned long long)fsize(path));
	/* the compaction's own commit: a manifest and a witness whose coverage
	 * block has one entry per segment it wrote (docs/SECURITY.md §1.2),
	 * among them the kept witness chain (one witness per earlier commit) */
	uint64_t own = 4096 + (uint64_t)RVF_WCOV_ENTRY * (ss.epoch + rvf_segment_count(s));
	CHECK(cr.file_size_after + dead <= before + own && before - dead <= cr.file_size_after + own,
	      "dead %llu of %llu, compacted to %llu", (unsigned long long)dead, (unsigned long long)before,
	      (unsigned long long)cr.file_size_after);
	/* efSearch and policy are stored */
	CHECK_OK(rvf_index_configure(s, RVF_INDEX_OFF, 123));
	rvf_close(s);
	s = NULL;
	if (CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s))) {
		rvf_get_index_stats(s, &st);
		CHECK(st.ef_search == 123 && st.policy == RVF_INDEX_OFF && st.present && st.persisted,
		      "stored: ef %u policy %d present %d", st.ef_search, st.policy, st.present);
		double r = recall10(s, 50, 4242);
		CHECK(r >= 0.95, "recall %.3f after 100 logged ingests and compaction", r);
	}
	free(v);
	free(ids);
out:
	rvf_close(s);
	free(path);
}

/* Parallel build (4 threads even on fewer cores) keeps recall. */
static void test_parallel_recall(void)
{
	char *path = tu_tpath("ipersist", "par.rvf");
	rvf_store *s = NULL;
	rvf_create_opts co = {.dimension = GDIM};
	if (!CHECK_OK(rvf_create(path, &co, &s)))
		goto out;
	size_t n = 8000;
	float *v = malloc(n * GDIM * sizeof *v);
	uint64_t *ids = malloc(n * sizeof *ids);
	gen(v, n, GDIM, 9);
	for (size_t i = 0; i < n; i++)
		ids[i] = i * 3;
	CHECK_OK(rvf_ingest(s, ids, v, n, NULL));
	CHECK_OK(rvf_set_index_threads(s, 1));
	CHECK_OK(rvf_index_build(s, 0, 0));
	double r1 = recall10(s, 100, 31);
	CHECK_OK(rvf_set_index_threads(s, 4));
	CHECK_OK(rvf_index_build(s, 0, 0));
	double r4 = recall10(s, 100, 31);
	rvf_index_stats st;
	rvf_get_index_stats(s, &st);
	CHECK(st.nodes == n && st.persisted, "parallel build: nodes %llu", (unsigned long long)st.nodes);
	CHECK(r4 >= 0.95 && r4 >= r1 - 0.02, "recall 1 thread %.4f, 4 threads %.4f", r1, r4);
	/* a big ingest into the indexed store is linked on 4 threads too, and
	 * its log reopens */
	size_t m = 4000;
	float *w = malloc(m * GDIM * sizeof *w);
	uint64_t *wid = malloc(m * sizeof *wid);
	gen(w, m, GDIM, 10);
	for (size_t i = 0; i < m; i++)
		wid[i] = 1000000 + i;
	CHECK_OK(rvf_ingest(s, wid, w, m, NULL));
	rvf_close(s);
	s = NULL;
	if (CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s))) {
		index_ok(s, "after a 4000-vector parallel ingest");
		double r = recall10(s, 100, 32);
		CHECK(r >= 0.95, "recall after a parallel ingest %.4f", r);
	}
	free(w);
	free(wid);
	free(v);
	free(ids);
out:
	rvf_close(s);
	free(path);
}

/* Another writer's type-0x40 segment (the p14 fixture: an unknown type to
 * the reference) is not our INDEX_LOG: kept through compaction, not dead. */
static void test_foreign_0x40(void)
{
	char src[4096];
	snprintf(src, sizeof src, "%s/spec/fixtures/py/p14_unknown_type.rvf", rvf_test_shared_dir());
	FILE *in = fopen(src, "rb");
	if (!CHECK(in != NULL, "missing fixture %s", src))
		return;
	char *path = tu_tpath("ipersist", "p14.rvf");
	FILE *out = fopen(path, "wb");
	char buf[4096];
	size_t n;
	while (out && (n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	if (out)
		fclose(out);
	rvf_store *s = NULL;
	if (CHECK_OK(rvf_open(path, 0, &s))) {
		rvf_status st;
		rvf_get_status(s, &st);
		CHECK(!rvf_open_warning(s)[0] && st.dead_bytes == 0, "warning '%s', dead %llu", rvf_open_warning(s),
		      (unsigned long long)st.dead_bytes);
		CHECK_OK(rvf_compact(s, NULL));
		int kept = 0;
		for (size_t i = 0; i < rvf_segment_count(s); i++) {
			rvf_segment_info si;
			if (!rvf_segment_get(s, i, &si) && si.seg_type == 0x40)
				kept++;
		}
		CHECK(kept == 1, "foreign 0x40 segments after compaction: %d", kept);
	}
	rvf_close(s);
	free(path);
}


#define CDIM 8

/* crash_writer.c's vectors: near a line, generation gen of id. */
static void line_vec(uint64_t id, uint32_t gen, float *v)
{
	for (int k = 0; k < CDIM; k++)
		v[k] = (float)((id * 7 + (uint64_t)gen * 13 + (uint64_t)k) % 10007) * 0.5f;
}

/* Recall@10 at the default efSearch (k-th exact distance as the bar) over
 * live vectors shifted a little, as tests/crash/crash_writer.c asks it. */
static double live_recall(const rvf_store *s, size_t nq)
{
	uint64_t live = rvf_live_count(s);
	size_t hit = 0, tot = 0;
	for (uint64_t i = 0; i < nq && i < live; i++) {
		uint64_t id;
		const float *v;
		float q[CDIM];
		rvf_hit e[10], a[10];
		size_t ne = 0, na = 0;
		if (rvf_live_get(s, i * live / nq, &id, &v))
			continue;
		for (int d = 0; d < CDIM; d++)
			q[d] = v[d] + 0.25f;
		rvf_query_opts oe = {.k = 10, .exact = 1}, oa = {.k = 10};
		if (rvf_query_ex(s, q, CDIM, &oe, e, &ne) || rvf_query_ex(s, q, CDIM, &oa, a, &na))
			continue;
		for (size_t j = 0; j < na; j++)
			hit += ne && a[j].distance <= e[ne - 1].distance;
		tot += ne;
	}
	return tot ? (double)hit / (double)tot : 1.0;
}

/* Delete/upsert churn between compactions (batches of new ids, upserts
 * that move earlier vectors, some of them deleted, and deletes leaving
 * ~10 % tombstones) keeps recall@10 at the default efSearch within 0.03
 * of a graph rebuilt over the same live set. */
static void test_churn_recall(void)
{
	char *path = tu_tpath("ipersist", "churn.rvf");
	rvf_store *s = NULL;
	rvf_create_opts co = {.dimension = CDIM};
	if (!CHECK_OK(rvf_create(path, &co, &s)))
		goto out;
	CHECK_OK(rvf_index_configure(s, RVF_INDEX_ON, 0));
	enum { B = 250, ROUNDS = 24 };
	float v[B * CDIM];
	uint64_t id[B];
	rs = 4242;
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t j = 0; j < B; j++)
			id[j] = (uint64_t)r * B + j;
		for (size_t j = 0; j < B; j++)
			line_vec(id[j], 0, v + j * CDIM);
		CHECK_OK(rvf_ingest(s, id, v, B, NULL));
		if (r < 2)
			continue;
		/* upsert two earlier batches (deleted ids too) with new vectors */
		for (int u = 0; u < 2; u++) {
			uint64_t ub = (uint64_t)(urand() * r) % (uint64_t)r;
			for (size_t j = 0; j < B; j++)
				id[j] = ub * B + j;
			for (size_t j = 0; j < B; j++)
				line_vec(id[j], (uint32_t)(r * 2 + u), v + j * CDIM);
			CHECK_OK(rvf_ingest(s, id, v, B, NULL));
		}
		/* delete a tenth of another one */
		uint64_t db = (uint64_t)(urand() * r) % (uint64_t)r;
		for (size_t j = 0; j < B / 8; j++)
			id[j] = db * B + 1 + 8 * j;
		CHECK_OK(rvf_delete(s, id, B / 8, NULL));
	}
	double churned = live_recall(s, 200);
	CHECK_OK(rvf_index_build(s, 0, 0));
	double rebuilt = live_recall(s, 200);
	CHECK(churned >= rebuilt - 0.03, "recall@10 after churn %.4f, rebuilt %.4f", churned, rebuilt);
out:
	rvf_close(s);
	free(path);
}

RVF_SUITE(index_persist, {"foreign 0x40 segment kept, not read", test_foreign_0x40}, {"every write sequence + reopen keeps the index", test_write_sequences},
	  {"index; ingest; delete; ingest keeps the index", test_issue_sequence},
	  {"policy auto/off, growth per small ingest, true sizes", test_growth_and_policy},
	  {"parallel build keeps recall", test_parallel_recall},
	  {"delete/upsert churn keeps recall near a rebuilt graph", test_churn_recall})
