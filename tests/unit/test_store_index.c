/* test_store_index.c — suite "store_index": the store's HNSW index
 * (user/lib/store_index.c) through the public API.
 *
 *  - build on 5k x 32 clustered data, every metric: recall@10 >= 0.95 vs
 *    the exact scan through rvf_query_ex, distances bit-identical to exact;
 *  - reopen: the INDEX_SEG is loaded, not rebuilt (stats.persisted, open
 *    much faster than the build), identical results;
 *  - ingest more: new vectors found, persisted after rvf_index_persist, no
 *    stale INDEX_SEG listed after the next commit;
 *  - deletes never returned; compaction keeps a working index;
 *  - py fixtures p30..p35 and ref/f_hnsw: open, answer like the exact scan;
 *  - a corrupted INDEX_SEG payload: warning, exact answers, open succeeds;
 *  - ef_search raises recall monotonically (on average);
 *  - time budget: RVF_E_TIMEOUT with the partial results in out/nout;
 *  - concurrent readers on one handle. */
#include "bruteforce.h"
#include "rvf.h"
#include "store.h" /* slot numbers for store_index_upserted */
#include "testreg.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- data: gaussian clusters, fixed seed --------------------------------- */
static uint64_t rs;
static double urand(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return ((rs >> 11) + 0.5) / 9007199254740992.0;
}
static float grand(void)
{
	return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()));
}
#define NCENT 50
static float *centres(uint32_t dim, uint64_t seed)
{
	rs = seed | 1;
	float *c = malloc(sizeof(float) * NCENT * dim);
	for (size_t i = 0; i < (size_t)NCENT * dim; i++)
		c[i] = grand();
	return c;
}
/* n points around the centres (sigma 0.35), rs continues. */
static float *points(const float *c, uint32_t dim, size_t n)
{
	float *v = malloc(sizeof(float) * n * dim);
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)(urand() * NCENT) % NCENT;
		for (uint32_t d = 0; d < dim; d++)
			v[i * dim + d] = c[k * dim + d] + 0.35f * grand();
	}
	return v;
}

/* Points from another stream than the stored ones (queries, new vectors). */
static float *fresh(const float *c, uint32_t dim, size_t n, uint64_t salt)
{
	rs = 0x9E3779B97F4A7C15ull ^ (salt * 0x100000001B3ull);
	return points(c, dim, n);
}

/* ---- a built store shared by several tests ------------------------------- */
#define N0 5000
#define DIM 32
#define NQ 200
#define K 10

static rvf_store *mk_store(const char *name, rvf_metric m, uint32_t dim, size_t n, uint64_t seed,
			   float **vecs_out, char **path_out)
{
	char *path = tu_tpath("sidx", name);
	float *c = centres(dim, seed);
	float *v = points(c, dim, n);
	free(c);
	uint64_t *ids = malloc(n * sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = 1000 + 7 * (uint64_t)i; /* not slot order */
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = dim, .metric = m};
	if (CHECK_OK(rvf_create(path, &o, &s)))
		CHECK_OK(rvf_ingest(s, ids, v, n, NULL));
	free(ids);
	if (vecs_out)
		*vecs_out = v;
	else
		free(v);
	*path_out = path;
	return s;
}

/* Recall@k of the default (index) path against the exact scan over the
 * queries; also checks that every returned hit is live, carries its exact
 * distance, and that results are sorted. */
static double recall(const rvf_store *s, const float *qs, size_t nq, size_t k, uint32_t ef, int *bad)
{
	uint32_t dim = rvf_dimension(s);
	rvf_hit a[64], e[64];
	size_t found = 0, total = 0;
	for (size_t i = 0; i < nq; i++) {
		const float *q = qs + i * dim;
		size_t na, ne;
		rvf_query_opts oa = {.k = k, .ef_search = ef}, oe = {.k = k, .exact = 1};
		if (rvf_query_ex(s, q, dim, &oa, a, &na) || rvf_query_ex(s, q, dim, &oe, e, &ne)) {
			(*bad)++;
			continue;
		}
		if (na != ne)
			(*bad)++;
		for (size_t j = 0; j < na; j++) {
			if (j && bf_hit_cmp(&a[j - 1], &a[j]) > 0)
				(*bad)++;
			for (size_t t = 0; t < ne; t++)
				if (a[j].id == e[t].id) {
					found++;
					if (!bf_same_bits(a[j].distance, e[t].distance))
						(*bad)++;
					break;
				}
		}
		total += ne;
	}
	return total ? (double)found / (double)total : 1.0;
}

int store_index_upserted(rvf_store *s, const uint32_t *slots, size_t n); /* store_index.c */

static int same_hits(const rvf_hit *a, const rvf_hit *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].id != b[i].id || !bf_same_bits(a[i].distance, b[i].distance))
			return 0;
	return 1;
}

static int index_entries(const rvf_store *s)
{
	int n = 0;
	for (size_t i = 0; i < rvf_segment_count(s); i++) {
		rvf_segment_info si;
		if (!rvf_segment_get(s, i, &si) && si.seg_type == 0x02)
			n++;
	}
	return n;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_build_recall_all_metrics(void)
{
	for (int m = 0; m <= 2; m++) {
		char *path;
		rvf_store *s = mk_store("metric.rvf", (rvf_metric)m, DIM, N0, 100 + m, NULL, &path);
		if (!s) {
			free(path);
			continue;
		}
		rvf_index_stats st;
		CHECK_OK(rvf_get_index_stats(s, &st));
		CHECK(!st.present, "metric %d: index before any build", m);
		CHECK_OK(rvf_index_build(s, 16, 200));
		CHECK_OK(rvf_get_index_stats(s, &st));
		CHECK(st.present && st.persisted && st.nodes == N0 && st.m == 16 && st.ef_construction == 200,
		      "metric %d: stats present %d persisted %d nodes %llu m %u efc %u", m, st.present,
		      st.persisted, (unsigned long long)st.nodes, st.m, st.ef_construction);
		CHECK(index_entries(s) == 1, "metric %d: %d INDEX entries listed", m, index_entries(s));
		float *c = centres(DIM, 100 + m);
		float *q = fresh(c, DIM, NQ, __LINE__);
		int bad = 0;
		double r = recall(s, q, NQ, K, 0, &bad);
		CHECK(r >= 0.95, "metric %d: recall@10 %.4f < 0.95", m, r);
		CHECK(bad == 0, "metric %d: %d bad results (order, distance bits, count)", m, bad);
		/* A second persist with nothing changed writes nothing. */
		rvf_status a, b;
		rvf_get_status(s, &a);
		CHECK_OK(rvf_index_persist(s));
		rvf_get_status(s, &b);
		CHECK(a.file_size == b.file_size && a.epoch == b.epoch, "metric %d: idle persist wrote", m);
		free(c);
		free(q);
		rvf_close(s);
		free(path);
	}
}

static void test_reopen_no_rebuild(void)
{
	char *path;
	rvf_store *s = mk_store("reopen.rvf", RVF_METRIC_L2, DIM, N0, 7, NULL, &path);
	if (!s)
		return;
	double t0 = now_ms();
	CHECK_OK(rvf_index_build(s, 16, 200));
	double build = now_ms() - t0;
	rvf_status st0;
	rvf_get_status(s, &st0);
	float *c = centres(DIM, 7);
	float *q = fresh(c, DIM, NQ, __LINE__);
	rvf_hit *before = calloc(NQ * K, sizeof *before);
	size_t nb[NQ];
	for (size_t i = 0; i < NQ; i++) {
		rvf_query_opts o = {.k = K};
		CHECK_OK(rvf_query_ex(s, q + i * DIM, DIM, &o, before + i * K, &nb[i]));
	}
	rvf_close(s);

	t0 = now_ms();
	CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s));
	double open = now_ms() - t0;
	if (!s)
		goto out;
	rvf_index_stats ist;
	rvf_get_index_stats(s, &ist);
	CHECK(ist.present && ist.persisted && ist.nodes == N0, "reopen: present %d persisted %d nodes %llu",
	      ist.present, ist.persisted, (unsigned long long)ist.nodes);
	CHECK(open * 5 < build, "reopen took %.1f ms vs a %.1f ms build: rebuilt?", open, build);
	CHECK(!rvf_open_warning(s)[0], "warning: %s", rvf_open_warning(s));
	int diff = 0;
	for (size_t i = 0; i < NQ; i++) {
		rvf_hit h[K];
		size_t n;
		rvf_query_opts o = {.k = K};
		CHECK_OK(rvf_query_ex(s, q + i * DIM, DIM, &o, h, &n));
		if (n != nb[i] || !same_hits(h, before + i * K, n))
			diff++;
	}
	CHECK(diff == 0, "%d of %d queries differ after reopen", diff, NQ);
	rvf_status st1;
	rvf_get_status(s, &st1);
	CHECK(st1.file_size == st0.file_size, "read-only open changed the file");
	rvf_close(s);
	/* A writable open + close of an unchanged index writes nothing. */
	CHECK_OK(rvf_open(path, 0, &s));
	CHECK_OK(rvf_index_persist(s));
	rvf_get_status(s, &st1);
	CHECK(st1.file_size == st0.file_size && st1.epoch == st0.epoch, "persist of a loaded index wrote");
	rvf_close(s);
out:
	free(before);
	free(c);
	free(q);
	free(path);
}

static void test_ingest_delete_compact(void)
{
	char *path;
	float *base;
	rvf_store *s = mk_store("life.rvf", RVF_METRIC_L2, DIM, N0, 11, &base, &path);
	if (!s)
		return;
	CHECK_OK(rvf_index_build(s, 16, 200));
	/* Ingest 500 more vectors (new ids) + 10 upserts of existing ids. */
	float *c = centres(DIM, 11);
	size_t nn = 510;
	float *nv = fresh(c, DIM, nn, __LINE__);
	uint64_t ids[510];
	for (size_t i = 0; i < 500; i++)
		ids[i] = 900000 + i;
	for (size_t i = 500; i < nn; i++)
		ids[i] = 1000 + 7 * (i - 500); /* existing */
	CHECK_OK(rvf_ingest(s, ids, nv, nn, NULL));
	/* Upserts keep their node and are re-linked; the commit carried the
	 * changed nodes (INDEX_LOG), so the index stays persisted. */
	rvf_index_stats st;
	rvf_get_index_stats(s, &st);
	CHECK(st.present && st.persisted && st.nodes == N0 + 500, "after ingest: present %d persisted %d nodes %llu",
	      st.present, st.persisted, (unsigned long long)st.nodes);
	CHECK(index_entries(s) == 1 && st.log_segments >= 1, "after ingest: %d INDEX entries, %u log segments",
	      index_entries(s), st.log_segments);
	size_t hit = 0;
	for (size_t i = 0; i < nn; i++) {
		rvf_hit h[1];
		size_t n;
		rvf_query_opts o = {.k = 1};
		if (rvf_query_ex(s, nv + i * DIM, DIM, &o, h, &n) == 0 && n == 1 && h[0].id == ids[i])
			hit++;
		else if (getenv("SIDX_DEBUG")) {
			rvf_hit e[1];
			rvf_query_opts oe = {.k = 1, .exact = 1};
			rvf_query_ex(s, nv + i * DIM, DIM, &oe, e, &n);
			fprintf(stderr, "miss %zu id %llu got %llu %g exact %llu %g\n", i, (unsigned long long)ids[i],
				(unsigned long long)h[0].id, h[0].distance, (unsigned long long)e[0].id, e[0].distance);
		}
	}
	CHECK(hit >= nn - 2, "only %zu of %zu ingested/upserted vectors found as their own NN", hit, nn);
	float *q = fresh(c, DIM, NQ, __LINE__);
	int bad = 0;
	double r = recall(s, q, NQ, K, 0, &bad);
	CHECK(r >= 0.95 && !bad, "after ingest: recall %.4f bad %d", r, bad);

	/* Delete every 5th original id: never returned, graph unchanged. */
	uint64_t *del = malloc(N0 / 5 * sizeof *del);
	for (size_t i = 0; i < N0 / 5; i++)
		del[i] = 1000 + 7 * (5 * i + 1);
	CHECK_OK(rvf_delete(s, del, N0 / 5, NULL));
	int leaked = 0;
	for (size_t i = 0; i < N0 / 5; i++) {
		rvf_hit h[K];
		size_t n;
		rvf_query_opts o = {.k = K};
		const float *v = base + (5 * i + 1) * DIM; /* the deleted vector itself */
		if (rvf_query_ex(s, v, DIM, &o, h, &n) == 0)
			for (size_t j = 0; j < n; j++)
				leaked += (h[j].id - 1000) % 7 == 0 && (h[j].id - 1000) / 7 % 5 == 1 &&
					  h[j].id < 900000;
	}
	CHECK(leaked == 0, "%d deleted ids returned", leaked);
	bad = 0;
	r = recall(s, q, NQ, K, 0, &bad);
	CHECK(r >= 0.95 && !bad, "after delete: recall %.4f bad %d", r, bad);

	/* Persist, then the next commit must not list a stale index. */
	CHECK_OK(rvf_index_persist(s));
	rvf_get_index_stats(s, &st);
	CHECK(st.persisted && index_entries(s) == 1, "persist: persisted %d entries %d", st.persisted,
	      index_entries(s));
	rvf_close(s);
	CHECK_OK(rvf_open(path, 0, &s));
	if (!s)
		goto out;
	rvf_get_index_stats(s, &st);
	CHECK(st.present && st.persisted && st.nodes == N0 + 500, "reopen after persist: %d %d %llu", st.present,
	      st.persisted, (unsigned long long)st.nodes);
	float one[DIM];
	memcpy(one, nv, sizeof one);
	one[0] += 0.001f;
	uint64_t oid = 777777;
	CHECK_OK(rvf_ingest(s, &oid, one, 1, NULL));
	CHECK_OK(rvf_delete(s, &oid, 0, NULL)); /* any later commit */
	rvf_close(s);
	CHECK_OK(rvf_open(path, 0, &s));
	if (!s)
		goto out;
	rvf_get_index_stats(s, &st);
	CHECK(st.present && st.persisted && st.nodes == N0 + 501 && !rvf_open_warning(s)[0],
	      "index lost after ingest + commit: present %d persisted %d nodes %llu warning '%s'", st.present,
	      st.persisted, (unsigned long long)st.nodes, rvf_open_warning(s));
	CHECK_OK(rvf_index_build(s, 0, 0)); /* defaults 16 / 200 */
	rvf_get_index_stats(s, &st);
	CHECK(st.present && st.persisted && st.m == 16 && st.ef_construction == 200, "rebuild defaults");

	/* Compaction: deleted nodes dropped, index still answers. */
	rvf_compact_result cr;
	CHECK_OK(rvf_compact(s, &cr));
	rvf_get_index_stats(s, &st);
	uint64_t live = rvf_live_count(s);
	CHECK(st.present && st.persisted && st.nodes == live, "after compact: present %d persisted %d nodes %llu live %llu",
	      st.present, st.persisted, (unsigned long long)st.nodes, (unsigned long long)live);
	CHECK(index_entries(s) == 1, "compacted file lists %d INDEX segments", index_entries(s));
	rvf_status sst;
	rvf_get_status(s, &sst);
	struct stat fst;
	CHECK(stat(path, &fst) == 0 && (uint64_t)fst.st_size == sst.file_size && cr.file_size_after == sst.file_size,
	      "compaction sizes: result %llu status %llu file %lld", (unsigned long long)cr.file_size_after,
	      (unsigned long long)sst.file_size, (long long)fst.st_size);
	bad = 0;
	r = recall(s, q, NQ, K, 0, &bad);
	CHECK(r >= 0.95 && !bad, "after compact: recall %.4f bad %d", r, bad);
	CHECK_OK(rvf_index_persist(s));
	rvf_close(s);
	CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s));
	if (!s)
		goto out;
	rvf_get_index_stats(s, &st);
	CHECK(st.present && st.persisted && st.nodes == live, "reopen after compact+persist");
	bad = 0;
	r = recall(s, q, NQ, K, 0, &bad);
	CHECK(r >= 0.95 && !bad, "reopened compacted: recall %.4f bad %d", r, bad);
	rvf_close(s);
out:
	free(del);
	free(q);
	free(nv);
	free(c);
	free(base);
	free(path);
}

/* Vector of `id` in an open store (via the live list). */
static int live_vec(const rvf_store *s, uint64_t id, float *out)
{
	for (uint64_t i = 0; i < rvf_live_count(s); i++) {
		uint64_t got;
		const float *v;
		if (!rvf_live_get(s, i, &got, &v) && got == id) {
			memcpy(out, v, rvf_dimension(s) * sizeof *out);
			return 1;
		}
	}
	return 0;
}

static void test_fixtures(void)
{
	const char *sh = rvf_test_shared_dir();
	char path[4096];
	float q24[24];
	rvf_store *s = NULL;
	snprintf(path, sizeof path, "%s/spec/fixtures/py/p30_stale_index_kept.rvf", sh);
	if (!CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s)))
		return;
	CHECK(live_vec(s, 99999, q24), "p30: id 99999 missing");
	rvf_close(s);
	static const struct {
		const char *file;
		int present, persisted; /* expected index state; -1 = either */
		uint64_t first;         /* expected nearest id */
		int warn;               /* open warning expected */
	} fx[] = {
		{"py/p30_stale_index_kept.rvf", 1, 0, 99999, 0},
		{"py/p31_index_dropped.rvf", 0, 0, 99999, 0},
		{"py/p32_index_zeroed_adjacency.rvf", -1, -1, 1887, -1},
		{"py/p33_index_garbage.rvf", 0, 0, 1887, 1},
		{"py/p34_index_bad_hash.rvf", 0, 0, 1887, 1},
		{"py/p35_index_empty_lists.rvf", 1, 1, 1887, -1},
		{"ref/f_hnsw.rvf", 1, 1, 33, 0},
	};
	for (size_t f = 0; f < sizeof fx / sizeof fx[0]; f++) {
		snprintf(path, sizeof path, "%s/spec/fixtures/%s", sh, fx[f].file);
		s = NULL;
		if (!CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s)))
			continue;
		rvf_index_stats st;
		rvf_get_index_stats(s, &st);
		if (fx[f].present >= 0)
			CHECK(st.present == fx[f].present, "%s: index present %d", fx[f].file, st.present);
		if (fx[f].persisted >= 0 && st.present)
			CHECK(st.persisted == fx[f].persisted, "%s: persisted %d", fx[f].file, st.persisted);
		if (fx[f].warn >= 0)
			CHECK(!!rvf_open_warning(s)[0] == fx[f].warn, "%s: warning '%s'", fx[f].file,
			      rvf_open_warning(s));
		if (fx[f].warn == 1)
			CHECK(strstr(rvf_open_warning(s), "INDEX") && strstr(rvf_open_warning(s), "exact"),
			      "%s: warning '%s'", fx[f].file, rvf_open_warning(s));
		float q[24];
		if (!strcmp(fx[f].file, "ref/f_hnsw.rvf")) {
			CHECK(rvf_dimension(s) == 24 && live_vec(s, 33, q), "f_hnsw: id 33");
		} else {
			memcpy(q, q24, sizeof q);
		}
		for (size_t k = 1; k <= 20; k += 9) {
			rvf_hit a[20], e[20];
			size_t na = 0, ne = 0;
			rvf_query_opts oa = {.k = k}, oe = {.k = k, .exact = 1};
			CHECK_OK(rvf_query_ex(s, q, 24, &oa, a, &na));
			CHECK_OK(rvf_query_ex(s, q, 24, &oe, e, &ne));
			CHECK(na == ne && same_hits(a, e, na), "%s k=%zu: index answer differs from exact",
			      fx[f].file, k);
			CHECK(na && a[0].id == fx[f].first, "%s: first hit %llu", fx[f].file,
			      na ? (unsigned long long)a[0].id : 0ull);
		}
		rvf_close(s);
	}
}

static void test_corrupt_index(void)
{
	char *path;
	rvf_store *s = mk_store("corrupt.rvf", RVF_METRIC_COSINE, DIM, 2000, 21, NULL, &path);
	if (!s)
		return;
	CHECK_OK(rvf_index_build(s, 8, 64));
	rvf_segment_info si = {0};
	for (size_t i = 0; i < rvf_segment_count(s); i++)
		if (!rvf_segment_get(s, i, &si) && si.seg_type == 0x02)
			break;
	rvf_close(s);
	CHECK(si.seg_type == 0x02, "no INDEX segment");
	FILE *f = fopen(path, "r+b");
	if (!CHECK(f != NULL, "open %s", path))
		goto out;
	long at = (long)(si.offset + 64 + si.payload_length / 2);
	fseek(f, at, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(ch ^ 0x5A, f);
	fclose(f);
	s = NULL;
	CHECK_OK(rvf_open(path, 0, &s));
	if (!s)
		goto out;
	rvf_index_stats st;
	rvf_get_index_stats(s, &st);
	CHECK(!st.present, "corrupted index loaded");
	CHECK(strstr(rvf_open_warning(s), "INDEX") && strstr(rvf_open_warning(s), "hash"), "warning '%s'",
	      rvf_open_warning(s));
	float *c = centres(DIM, 21);
	float *q = fresh(c, DIM, 50, __LINE__);
	int bad = 0;
	double r = recall(s, q, 50, K, 0, &bad);
	CHECK(r == 1.0 && !bad, "exact answers expected: recall %.4f bad %d", r, bad);
	/* Rebuilding replaces the damaged entry. */
	CHECK_OK(rvf_index_build(s, 8, 64));
	CHECK(index_entries(s) == 1, "%d INDEX entries", index_entries(s));
	rvf_close(s);
	CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s));
	if (s) {
		rvf_get_index_stats(s, &st);
		CHECK(st.present && st.persisted && !rvf_open_warning(s)[0], "after rebuild: %d %d '%s'",
		      st.present, st.persisted, rvf_open_warning(s));
	}
	rvf_close(s);
	free(c);
	free(q);
out:
	free(path);
}

static void test_ef_monotonic(void)
{
	char *path;
	rvf_store *s = mk_store("ef.rvf", RVF_METRIC_L2, DIM, N0, 31, NULL, &path);
	if (!s)
		return;
	CHECK_OK(rvf_index_build(s, 6, 40)); /* a weak graph, so low ef loses recall */
	float *c = centres(DIM, 31);
	float *q = fresh(c, DIM, NQ, __LINE__);
	static const uint32_t efs[] = {10, 20, 40, 80, 160, 320};
	double prev = 0;
	for (size_t i = 0; i < sizeof efs / sizeof efs[0]; i++) {
		int bad = 0;
		double r = recall(s, q, NQ, K, efs[i], &bad);
		CHECK(!bad, "ef %u: %d bad", efs[i], bad);
		CHECK(r + 0.002 >= prev, "ef %u: recall %.4f < %.4f at the smaller ef", efs[i], r, prev);
		if (i == 0)
			CHECK(r < 0.999, "ef %u already perfect (%.4f): test data too easy", efs[i], r);
		prev = r;
	}
	CHECK(prev >= 0.98, "ef 320 recall %.4f", prev);
	rvf_close(s);
	free(c);
	free(q);
	free(path);
}

static void test_timeout(void)
{
	/* 20000 x 256 with a sparse graph: an ef-20000 search visits every
	 * node, several ms. */
	char *path;
	const uint32_t dim = 256;
	rvf_store *s = mk_store("timeout.rvf", RVF_METRIC_L2, dim, 20000, 41, NULL, &path);
	if (!s)
		return;
	CHECK_OK(rvf_index_build(s, 4, 16));
	float *c = centres(dim, 41);
	float *q = fresh(c, dim, 20, __LINE__);
	int timeouts = 0;
	for (int i = 0; i < 20; i++) {
		rvf_hit h[K];
		size_t n = 99;
		rvf_query_opts o = {.k = K, .ef_search = 20000, .timeout_ms = 1};
		int rc = rvf_query_ex(s, q + (size_t)i * dim, dim, &o, h, &n);
		CHECK(rc == 0 || rc == RVF_E_TIMEOUT, "rc %d", rc);
		if (rc == RVF_E_TIMEOUT) {
			timeouts++;
			CHECK(n <= K && strstr(rvf_last_error(), "partial"), "timeout: n %zu msg '%s'", n,
			      rvf_last_error());
			for (size_t j = 1; j < n; j++)
				CHECK(bf_hit_cmp(&h[j - 1], &h[j]) <= 0, "partial results unsorted");
		} else {
			CHECK(n == K, "n %zu", n);
		}
		/* Without a budget the same query completes. */
		rvf_query_opts o2 = {.k = K, .ef_search = 20000};
		CHECK_OK(rvf_query_ex(s, q + (size_t)i * dim, dim, &o2, h, &n));
	}
	CHECK(timeouts > 0, "no query hit a 1 ms budget at ef 20000 x dim 256");
	rvf_close(s);
	free(c);
	free(q);
	free(path);
}

typedef struct {
	const rvf_store *s;
	const float *q;
	int nq, bad;
} thr_arg;

static void *reader(void *p)
{
	thr_arg *a = p;
	for (int r = 0; r < 5; r++)
		for (int i = 0; i < a->nq; i++) {
			rvf_hit h[K], e[K];
			size_t n, ne;
			rvf_query_opts o = {.k = K, .ef_search = 200}, oe = {.k = K, .exact = 1};
			if (rvf_query_ex(a->s, a->q + (size_t)i * DIM, DIM, &o, h, &n) ||
			    rvf_query_ex(a->s, a->q + (size_t)i * DIM, DIM, &oe, e, &ne) || n != ne ||
			    h[0].id != e[0].id)
				a->bad++;
		}
	return NULL;
}

static void test_concurrent_readers(void)
{
	char *path;
	rvf_store *s = mk_store("threads.rvf", RVF_METRIC_IP, DIM, 3000, 51, NULL, &path);
	if (!s)
		return;
	CHECK_OK(rvf_index_build(s, 16, 100));
	float *c = centres(DIM, 51);
	float *q = fresh(c, DIM, 50, __LINE__);
	pthread_t t[4];
	thr_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (thr_arg){s, q, 50, 0};
		pthread_create(&t[i], NULL, reader, &a[i]);
	}
	int bad = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += a[i].bad;
	}
	CHECK(bad <= 4, "%d concurrent queries failed or missed the exact nearest", bad);
	rvf_close(s);
	free(c);
	free(q);
	free(path);
}

static void test_errors(void)
{
	char *path;
	rvf_store *s = mk_store("err.rvf", RVF_METRIC_L2, 8, 100, 61, NULL, &path);
	if (!s)
		return;
	CHECK(rvf_index_build(s, 1, 10) == RVF_E_ARG, "m 1 accepted");
	CHECK_OK(rvf_index_persist(s)); /* no index: nothing to do */
	CHECK_OK(rvf_index_build(s, 4, 10));
	rvf_close(s);
	CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s));
	if (s) {
		CHECK(rvf_index_build(s, 4, 10) == RVF_E_READONLY, "build on a read-only handle");
		rvf_index_stats st;
		rvf_get_index_stats(s, &st);
		CHECK(st.present && st.persisted && st.m == 4 && st.nodes == 100, "m restored from the segment");
	}
	rvf_close(s);
	/* Empty store: build is a no-op index, queries return nothing. */
	char *p2 = tu_tpath("sidx", "empty.rvf");
	rvf_create_opts o = {.dimension = 4};
	if (CHECK_OK(rvf_create(p2, &o, &s))) {
		CHECK_OK(rvf_index_build(s, 0, 0));
		CHECK(index_entries(s) == 0, "empty index persisted");
		float v[4] = {1, 2, 3, 4};
		uint64_t id = 5;
		CHECK_OK(rvf_ingest(s, &id, v, 1, NULL));
		rvf_hit h[2];
		size_t n;
		CHECK_OK(rvf_query(s, v, 4, 2, h, &n));
		CHECK(n == 1 && h[0].id == 5, "n %zu", n);
		CHECK_OK(rvf_index_persist(s));
		CHECK(index_entries(s) == 1, "index of 1 vector not persisted");
		rvf_close(s);
	}
	free(p2);
	free(path);
}

RVF_SUITE(store_index, {"build + recall@10, every metric", test_build_recall_all_metrics},
	  {"reopen loads the INDEX_SEG without rebuilding", test_reopen_no_rebuild},
	  {"ingest / delete / compact keep the index working", test_ingest_delete_compact},
	  {"fixtures p30..p35 and f_hnsw", test_fixtures},
	  {"corrupted INDEX_SEG: warning + exact answers", test_corrupt_index},
	  {"ef_search raises recall monotonically", test_ef_monotonic},
	  {"time budget -> RVF_E_TIMEOUT with partial results", test_timeout},
	  {"concurrent readers", test_concurrent_readers},
	  {"argument errors, read-only, empty store", test_errors})
