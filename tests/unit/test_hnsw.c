/* test_hnsw.c — suite "hnsw": recall against brute force for the three
 * metrics, exact result distances, tombstones, time budget, ef, the
 * INDEX_SEG codec against the reference's f_hnsw.rvf (decode, search,
 * byte-exact re-encode), round trips, and corrupted payloads. */
#include "distance.h"
#include "format.h"
#include "hnsw.h"
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"
#include "topk.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rs = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static float frand(void) { return (float)(rnd() >> 40) / (float)(1u << 23) - 1.0f; }

static float gauss(void)
{
	float s = 0;

	for (int i = 0; i < 6; i++)
		s += frand();
	return s * 0.7071f;
}

/* n points around 40 centres (noise sd ~ 0.2 of the centre spread) */
static float *clustered(size_t n, uint32_t dim, uint64_t seed)
{
	float *c = malloc(40 * (size_t)dim * sizeof *c), *v = malloc(n * dim * sizeof *v);

	rs = seed;
	for (size_t i = 0; i < 40 * (size_t)dim; i++)
		c[i] = frand();
	for (size_t i = 0; i < n; i++) {
		const float *ci = c + (rnd() % 40) * dim;
		for (uint32_t j = 0; j < dim; j++)
			v[i * dim + j] = ci[j] + 0.2f * gauss();
	}
	free(c);
	return v;
}

/* exact top-k over rows (skipping skip[i]) */
static size_t brute(int metric, const float *v, size_t n, uint32_t dim, const float *q, size_t k,
		    const uint8_t *skip, rvf_topk_item *out)
{
	rvf_topk t;

	rvf_topk_init(&t, k, out);
	for (size_t i = 0; i < n; i++)
		if (!skip || !skip[i])
			rvf_topk_push(&t, i, rvf_dist_exact(metric, q, v + i * dim, dim));
	return rvf_topk_finish(&t);
}

static size_t overlap(const rvf_topk_item *a, size_t na, const rvf_topk_item *b, size_t nb)
{
	size_t c = 0;

	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].id == b[j].id) {
				c++;
				break;
			}
	return c;
}

static hnsw_index *build(const float *v, size_t n, uint32_t dim, int metric, uint32_t M,
			 uint32_t efc)
{
	hnsw_index *x = hnsw_new(dim, metric, M, efc, 42);

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	hnsw_set_storage(x, v, dim);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(hnsw_insert(x, (uint32_t)i), 0);
	return x;
}

/* recall@10 of x over nq queries; also checks exact distances */
static double recall(hnsw_index *x, const float *v, size_t n, uint32_t dim, int metric,
		     const float *qs, size_t nq, size_t ef, const uint8_t *skip)
{
	size_t hit = 0, tot = 0;

	for (size_t i = 0; i < nq; i++) {
		rvf_topk_item a[10], b[10];
		size_t na = 0, nb;
		const float *q = qs + i * dim;

		CU_ASSERT_EQUAL(hnsw_search(x, q, 10, ef, skip, 0, a, &na), 0);
		nb = brute(metric, v, n, dim, q, 10, skip, b);
		hit += overlap(a, na, b, nb);
		tot += nb;
		for (size_t j = 0; j < na; j++) {
			float e = rvf_dist_exact(metric, q, v + a[j].id * dim, dim);
			CU_ASSERT_EQUAL(memcmp(&e, &a[j].dist, 4), 0);
			if (j)
				CU_ASSERT(rvf_topk_cmp(&a[j - 1], &a[j]) < 0);
			if (skip)
				CU_ASSERT_FALSE(skip[a[j].id]);
		}
	}
	return tot ? (double)hit / (double)tot : 1.0;
}

static void recall_metric(int metric)
{
	const uint32_t dim = 32;
	const size_t n = 5000, nq = 200;
	float *v = clustered(n, dim, 7 + (uint64_t)metric), *qs = clustered(nq, dim, 7 + (uint64_t)metric);
	hnsw_index *x = build(v, n, dim, metric, 16, 100);
	double r = recall(x, v, n, dim, metric, qs, nq, 64, NULL);

	if (r < 0.95)
		fprintf(stderr, "\nhnsw recall metric %d: %.4f\n", metric, r);
	CU_ASSERT(r >= 0.95);
	CU_ASSERT_EQUAL(hnsw_count(x), n);
	hnsw_free(x);
	free(v);
	free(qs);
}

static void test_recall_l2(void) { recall_metric(RVF_METRIC_L2); }
static void test_recall_ip(void) { recall_metric(RVF_METRIC_IP); }
static void test_recall_cosine(void) { recall_metric(RVF_METRIC_COSINE); }

static void test_tombstones(void)
{
	const uint32_t dim = 16;
	const size_t n = 3000, nq = 100;
	float *v = clustered(n, dim, 11), *qs = clustered(nq, dim, 12);
	uint8_t *skip = calloc(n, 1);
	hnsw_index *x = build(v, n, dim, RVF_METRIC_L2, 12, 100);
	double r;

	for (size_t i = 0; i < n; i++)
		skip[i] = rnd() % 10 < 3;
	/* a query equal to a deleted vector never returns it */
	for (size_t i = 0; i < n; i += 97) {
		rvf_topk_item a[5];
		size_t na;
		skip[i] = 1;
		CU_ASSERT_EQUAL(hnsw_search(x, v + i * dim, 5, 32, skip, 0, a, &na), 0);
		CU_ASSERT_EQUAL(na, 5);
		for (size_t j = 0; j < na; j++)
			CU_ASSERT_FALSE(skip[a[j].id]);
	}
	r = recall(x, v, n, dim, RVF_METRIC_L2, qs, nq, 64, skip);
	CU_ASSERT(r >= 0.9);
	/* everything deleted: nothing returned */
	memset(skip, 1, n);
	{
		rvf_topk_item a[5];
		size_t na = 9;
		CU_ASSERT_EQUAL(hnsw_search(x, qs, 5, 32, skip, 0, a, &na), 0);
		CU_ASSERT_EQUAL(na, 0);
	}
	hnsw_free(x);
	free(skip);
	free(v);
	free(qs);
}

/* Nodes inserted while tombstones are set never link a deleted node (they
 * still route); hnsw_relink keeps a heuristic subset of its candidates,
 * hnsw_link_to adds a link; both refuse bad nodes. */
static void test_tombstone_links(void)
{
	const uint32_t dim = 16;
	const size_t n = 3000, half = 1500, nq = 100;
	float *v = clustered(n, dim, 21), *qs = clustered(nq, dim, 22);
	uint8_t *skip = calloc(n, 1);
	hnsw_index *x = hnsw_new(dim, RVF_METRIC_L2, 12, 100, 5);
	size_t bad = 0;

	hnsw_set_storage(x, v, dim);
	for (size_t i = 0; i < half; i++)
		CU_ASSERT_EQUAL_FATAL(hnsw_insert(x, (uint32_t)i), 0);
	for (size_t i = 0; i < half; i++)
		skip[i] = rnd() % 10 < 3;
	hnsw_set_tombstones(x, skip);
	for (size_t i = half; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(hnsw_insert(x, (uint32_t)i), 0);
	hnsw_set_tombstones(x, NULL);
	for (size_t i = half; i < n; i++) {
		uint32_t cnt;
		const uint32_t *l = hnsw_links(x, (uint32_t)i, 0, &cnt);
		CU_ASSERT(cnt > 0);
		for (uint32_t j = 0; j < cnt; j++)
			bad += skip[l[j]];
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(recall(x, v, n, dim, RVF_METRIC_L2, qs, nq, 64, skip) >= 0.9);

	/* relink node 0 among 100 candidates: a non-empty subset, <= 2M */
	uint32_t cand[100], cnt, self = 0, absent = (uint32_t)n + 5;
	for (uint32_t i = 0; i < 100; i++)
		cand[i] = 1 + i;
	CU_ASSERT_EQUAL(hnsw_relink(x, 0, 0, cand, 100), 0);
	const uint32_t *l = hnsw_links(x, 0, 0, &cnt);
	CU_ASSERT(cnt >= 1 && cnt <= 24);
	for (uint32_t j = 0; j < cnt; j++)
		CU_ASSERT(l[j] >= 1 && l[j] <= 100);
	CU_ASSERT_EQUAL(hnsw_relink(x, 0, 0, &self, 1), RVF_E_ARG);
	CU_ASSERT_EQUAL(hnsw_relink(x, 0, 0, &absent, 1), RVF_E_ARG);
	CU_ASSERT_EQUAL(hnsw_relink(x, 0, HNSW_MAX_LEVEL + 1, cand, 1), RVF_E_ARG);
	/* link_to: appended when there is room, never twice */
	CU_ASSERT_EQUAL(hnsw_relink(x, 0, 0, cand, 1), 0);
	CU_ASSERT_EQUAL(hnsw_link_to(x, 0, 2999, 0), 0);
	CU_ASSERT_EQUAL(hnsw_link_to(x, 0, 2999, 0), 0);
	l = hnsw_links(x, 0, 0, &cnt);
	CU_ASSERT(cnt == 2 && l[0] == 1 && l[1] == 2999);
	CU_ASSERT_EQUAL(hnsw_link_to(x, 0, 0, 0), RVF_E_ARG);
	CU_ASSERT_EQUAL(hnsw_link_to(x, 0, absent, 0), RVF_E_ARG);
	hnsw_free(x);
	free(skip);
	free(v);
	free(qs);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_deadline(void)
{
	const uint32_t dim = 32;
	const size_t n = 5000;
	float *v = clustered(n, dim, 21);
	hnsw_index *x = build(v, n, dim, RVF_METRIC_L2, 16, 64);
	rvf_topk_item a[10];
	size_t na;
	struct timespec t0;
	double full, part;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = hnsw_search(x, v, 10, 5000, NULL, 0, a, &na);
	full = ms_since(&t0);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(na, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = hnsw_search(x, v, 10, 5000, NULL, 0.001, a, &na);
	part = ms_since(&t0);
	CU_ASSERT_EQUAL(rc, HNSW_PARTIAL);
	CU_ASSERT(na >= 1 && na <= 10);
	CU_ASSERT(part < full);
	CU_ASSERT(part < 0.001 + 20.0); /* generous for ASan */
	/* a generous budget changes nothing */
	CU_ASSERT_EQUAL(hnsw_search(x, v, 10, 64, NULL, 10000.0, a, &na), 0);
	CU_ASSERT_EQUAL(na, 10);
	CU_ASSERT_EQUAL(a[0].id, 0);
	hnsw_free(x);
	free(v);
}

static void test_ef(void)
{
	const uint32_t dim = 32;
	const size_t n = 5000, nq = 100;
	float *v = clustered(n, dim, 31), *qs = clustered(nq, dim, 32);
	hnsw_index *x = build(v, n, dim, RVF_METRIC_L2, 16, 100);
	hnsw_scratch *s = hnsw_scratch_new();
	uint64_t prev = 0;
	const size_t efs[] = {10, 16, 32, 64, 128, 256};
	double rlo, rhi;

	for (size_t e = 0; e < 6; e++) {
		uint64_t tot = 0;
		for (size_t i = 0; i < nq; i++) {
			rvf_topk_item a[10];
			size_t na;
			uint64_t nd;
			CU_ASSERT_EQUAL(hnsw_search_ex(x, s, qs + i * dim, 10, efs[e], NULL, 0, a, &na, &nd), 0);
			CU_ASSERT_EQUAL(na, 10);
			tot += nd;
		}
		CU_ASSERT(tot > prev); /* more work for every larger ef: no floor */
		prev = tot;
	}
	/* k > ef: ef raised to k, k results */
	{
		rvf_topk_item a[50];
		size_t na;
		CU_ASSERT_EQUAL(hnsw_search(x, qs, 50, 5, NULL, 0, a, &na), 0);
		CU_ASSERT_EQUAL(na, 50);
		CU_ASSERT_EQUAL(hnsw_search(x, qs, 3, 0, NULL, 0, a, &na), 0);
		CU_ASSERT_EQUAL(na, 3);
	}
	rlo = recall(x, v, n, dim, RVF_METRIC_L2, qs, nq, 10, NULL);
	rhi = recall(x, v, n, dim, RVF_METRIC_L2, qs, nq, 256, NULL);
	CU_ASSERT(rlo <= rhi);
	CU_ASSERT(rhi >= 0.99);
	hnsw_scratch_free(s);
	hnsw_free(x);
	free(v);
	free(qs);
}

static void test_api_edges(void)
{
	float v[4 * 3] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 5, 5, 5};
	rvf_topk_item a[4];
	size_t na = 7;
	hnsw_index *x;
	uint32_t ep, cnt;
	int ml;

	CU_ASSERT_PTR_NULL(hnsw_new(0, 0, 16, 100, 1));
	CU_ASSERT_PTR_NULL(hnsw_new(3, 3, 16, 100, 1));
	CU_ASSERT_PTR_NULL(hnsw_new(3, 0, 1, 100, 1));
	CU_ASSERT_PTR_NULL(hnsw_new(3, 0, 16, 0, 1));
	x = hnsw_new(3, RVF_METRIC_L2, 4, 16, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(hnsw_insert(x, 0), RVF_E_ARG); /* no storage yet */
	hnsw_set_storage(x, v, 3);
	CU_ASSERT_EQUAL(hnsw_search(x, v, 3, 10, NULL, 0, a, &na), 0);
	CU_ASSERT_EQUAL(na, 0);
	CU_ASSERT_EQUAL(hnsw_entry(x, &ep, &ml), -1);
	/* sparse insertion: node 3 then 1; 0 and 2 absent */
	CU_ASSERT_EQUAL(hnsw_insert(x, 3), 0);
	CU_ASSERT_EQUAL(hnsw_insert(x, 1), 0);
	CU_ASSERT_EQUAL(hnsw_insert(x, 1), RVF_E_ARG);
	CU_ASSERT_EQUAL(hnsw_count(x), 2);
	CU_ASSERT_EQUAL(hnsw_capacity(x), 4);
	CU_ASSERT_EQUAL(hnsw_level(x, 0), -1);
	CU_ASSERT_EQUAL(hnsw_search(x, v, 4, 10, NULL, 0, a, &na), 0);
	CU_ASSERT_EQUAL(na, 2);
	CU_ASSERT_EQUAL(a[0].id, 1);
	CU_ASSERT_EQUAL(a[1].id, 3);
	CU_ASSERT_EQUAL(hnsw_search(x, v, 0, 10, NULL, 0, a, &na), 0);
	CU_ASSERT_EQUAL(na, 0);
	CU_ASSERT_PTR_NOT_NULL(hnsw_links(x, 1, 0, &cnt));
	CU_ASSERT_EQUAL(cnt, 1);
	/* move the storage (caller reallocated) */
	{
		float *w = malloc(sizeof v);
		memcpy(w, v, sizeof v);
		hnsw_set_storage(x, w, 3);
		CU_ASSERT_EQUAL(hnsw_insert(x, 0), 0);
		CU_ASSERT_EQUAL(hnsw_insert(x, 2), 0);
		CU_ASSERT_EQUAL(hnsw_search(x, w + 9, 4, 10, NULL, 0, a, &na), 0);
		CU_ASSERT_EQUAL(na, 4);
		CU_ASSERT_EQUAL(a[0].id, 3);
		CU_ASSERT_EQUAL(a[0].dist, 0.0f);
		/* renumber: reverse */
		{
			static const uint32_t map[4] = {3, 2, 1, 0};
			float r[12];
			for (int i = 0; i < 4; i++)
				memcpy(r + 3 * i, w + 3 * (3 - i), 12);
			CU_ASSERT_EQUAL(hnsw_renumber(x, map, 4), 0);
			hnsw_set_storage(x, r, 3);
			CU_ASSERT_EQUAL(hnsw_search(x, w + 9, 4, 10, NULL, 0, a, &na), 0);
			CU_ASSERT_EQUAL(na, 4);
			CU_ASSERT_EQUAL(a[0].id, 0);
			static const uint32_t bad[4] = {0, 0, 1, 2};
			CU_ASSERT_EQUAL(hnsw_renumber(x, bad, 4), RVF_E_ARG);
		}
		free(w);
	}
	hnsw_free(x);
	hnsw_free(NULL);
}

/* ---- reference fixture -------------------------------------------------- */

typedef struct {
	uint8_t *file;
	const uint8_t *index;
	size_t index_len;
	uint32_t dim, nvec;
	uint64_t *ids;
	float *vecs;
} fixture;

/* walk segments; collect the last INDEX_SEG and all VEC records */
static int load_fixture(const char *rel, fixture *fx)
{
	size_t len, off = 0;

	memset(fx, 0, sizeof *fx);
	fx->file = tu_slurp_shared(rel, &len);
	if (!fx->file)
		return -1;
	while (off + RVF_SEG_HDR_SIZE <= len) {
		rvf_seg_hdr h;
		const uint8_t *p = fx->file + off + RVF_SEG_HDR_SIZE;

		rvf_hdr_decode(fx->file + off, &h);
		if (h.magic != RVF_SEG_MAGIC || h.payload_length > len - off - RVF_SEG_HDR_SIZE)
			break;
		if (h.seg_type == RVF_SEG_INDEX) {
			fx->index = p;
			fx->index_len = h.payload_length;
		} else if (h.seg_type == RVF_SEG_VEC) {
			uint16_t d;
			uint32_t c;
			uint64_t nrec = rvf_vec_decode_header(p, h.payload_length, &d, &c);
			fx->dim = d;
			fx->ids = realloc(fx->ids, (fx->nvec + nrec) * sizeof *fx->ids);
			fx->vecs = realloc(fx->vecs, (fx->nvec + nrec) * d * sizeof *fx->vecs);
			for (uint64_t i = 0; i < nrec; i++) {
				const uint8_t *r = p + RVF_VEC_HDR + i * rvf_vec_record_size(d);
				fx->ids[fx->nvec] = rd64(r);
				memcpy(fx->vecs + (size_t)fx->nvec * d, r + 8, 4 * (size_t)d);
				fx->nvec++;
			}
		}
		off += RVF_SEG_HDR_SIZE + h.payload_length;
	}
	return fx->index ? 0 : -1;
}

static void fixture_free(fixture *fx)
{
	free(fx->file);
	free(fx->ids);
	free(fx->vecs);
}

static int u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_ref_decode(void)
{
	fixture fx;
	hnsw_index *x = NULL;
	uint64_t *ids = NULL, n = 0, *sorted;
	uint32_t ep;
	int ml;
	float *byseg;
	size_t hit = 0, tot = 0;

	CU_ASSERT_EQUAL_FATAL(load_fixture("spec/fixtures/ref/f_hnsw.rvf", &fx), 0);
	CU_ASSERT_EQUAL(fx.nvec, 1600);
	CU_ASSERT_EQUAL_FATAL(hnsw_decode(fx.index, fx.index_len, fx.dim, RVF_METRIC_L2, 1, &x, &ids, &n), 0);
	CU_ASSERT_EQUAL(n, 1600);
	CU_ASSERT_EQUAL(hnsw_m(x), 12);
	CU_ASSERT_EQUAL(hnsw_ef_construction(x), 64);
	CU_ASSERT_EQUAL(hnsw_count(x), 1600);
	CU_ASSERT_EQUAL_FATAL(hnsw_entry(x, &ep, &ml), 0);
	CU_ASSERT_EQUAL(hnsw_level(x, ep), ml);
	CU_ASSERT(ml >= 1);
	for (uint64_t k = 1; k < n; k++)
		CU_ASSERT(ids[k] > ids[k - 1]);
	sorted = malloc(fx.nvec * sizeof *sorted);
	memcpy(sorted, fx.ids, fx.nvec * sizeof *sorted);
	qsort(sorted, fx.nvec, sizeof *sorted, u64cmp);
	CU_ASSERT_EQUAL(memcmp(sorted, ids, n * sizeof *ids), 0);
	/* vectors in segment-node order, then search vs brute force */
	byseg = malloc((size_t)n * fx.dim * sizeof *byseg);
	for (uint32_t i = 0; i < fx.nvec; i++) {
		uint64_t *f = bsearch(&fx.ids[i], ids, n, sizeof *ids, u64cmp);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		memcpy(byseg + (size_t)(f - ids) * fx.dim, fx.vecs + (size_t)i * fx.dim, 4 * (size_t)fx.dim);
	}
	hnsw_set_storage(x, byseg, fx.dim);
	for (uint32_t i = 0; i < 200; i++) {
		rvf_topk_item a[10], b[10];
		size_t na, nb;
		float q[64];
		for (uint32_t j = 0; j < fx.dim; j++)
			q[j] = byseg[(size_t)(i * 7) * fx.dim + j] + 0.05f * frand();
		CU_ASSERT_EQUAL(hnsw_search(x, q, 10, 32, NULL, 0, a, &na), 0);
		nb = brute(RVF_METRIC_L2, byseg, n, fx.dim, q, 10, NULL, b);
		hit += overlap(a, na, b, nb);
		tot += nb;
	}
	CU_ASSERT((double)hit / (double)tot >= 0.9);
	/* re-encode: byte-identical to the reference payload */
	{
		uint8_t *p;
		size_t plen;
		uint32_t *s2n;
		CU_ASSERT_EQUAL_FATAL(hnsw_encode(x, ids, &p, &plen, &s2n), 0);
		CU_ASSERT_EQUAL(plen, fx.index_len);
		CU_ASSERT(plen == fx.index_len && memcmp(p, fx.index, plen) == 0);
		for (uint32_t k = 0; k < n; k++)
			CU_ASSERT_EQUAL(s2n[k], k);
		free(p);
		free(s2n);
	}
	free(byseg);
	free(sorted);
	free(ids);
	hnsw_free(x);
	fixture_free(&fx);
}

/* p30/p34/p35 hold valid graphs (p35 with empty lists); p32/p33 do not */
static void test_ref_edge_files(void)
{
	static const struct {
		const char *f;
		int ok;
	} cases[] = {
		{"spec/fixtures/py/p30_stale_index_kept.rvf", 1},
		{"spec/fixtures/py/p32_index_zeroed_adjacency.rvf", 0},
		{"spec/fixtures/py/p33_index_garbage.rvf", 0},
		{"spec/fixtures/py/p34_index_bad_hash.rvf", 1},
		{"spec/fixtures/py/p35_index_empty_lists.rvf", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		fixture fx;
		hnsw_index *x = NULL;
		uint64_t *ids = NULL, n = 0;
		int rc;

		CU_ASSERT_EQUAL_FATAL(load_fixture(cases[i].f, &fx), 0);
		rc = hnsw_decode(fx.index, fx.index_len, fx.dim, RVF_METRIC_L2, 1, &x, &ids, &n);
		if (cases[i].ok != (rc == 0))
			fprintf(stderr, "\n%s: decode rc %d\n", cases[i].f, rc);
		CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
		if (rc == 0) {
			uint8_t *p;
			size_t plen;
			CU_ASSERT_EQUAL(hnsw_encode(x, ids, &p, &plen, NULL), 0);
			CU_ASSERT(plen == fx.index_len && memcmp(p, fx.index, plen) == 0);
			free(p);
		} else {
			CU_ASSERT_PTR_NULL(x);
			CU_ASSERT_PTR_NULL(ids);
		}
		free(ids);
		hnsw_free(x);
		fixture_free(&fx);
	}
}

/* ---- round trip and corruption ----------------------------------------- */
static uint64_t *shuffled_ids(size_t n)
{
	uint64_t *id = malloc(n * sizeof *id);

	for (size_t i = 0; i < n; i++)
		id[i] = 1000 + 3 * i + (rnd() % 3);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		uint64_t t = id[i];
		id[i] = id[j];
		id[j] = t;
	}
	return id;
}

static int set_eq(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb, const uint32_t *map)
{
	if (na != nb)
		return 0;
	for (uint32_t i = 0; i < na; i++) {
		uint32_t j;
		for (j = 0; j < nb && map[b[j]] != a[i]; j++)
			;
		if (j == nb)
			return 0;
	}
	return 1;
}

static void test_roundtrip(void)
{
	const uint32_t dim = 16;
	const size_t n = 2000;
	float *v = clustered(n, dim, 41);
	uint64_t *id = shuffled_ids(n), *ids2, n2;
	hnsw_index *x = build(v, n, dim, RVF_METRIC_COSINE, 8, 64), *y;
	uint8_t *p, *p2;
	size_t plen, plen2;
	uint32_t *s2n, e1, e2;
	int m1, m2;

	CU_ASSERT_EQUAL_FATAL(hnsw_encode(x, id, &p, &plen, &s2n), 0);
	CU_ASSERT_EQUAL(memcmp(p + plen - 4, "RVIX", 4), 0);
	CU_ASSERT_EQUAL_FATAL(hnsw_decode(p, plen, dim, RVF_METRIC_COSINE, 1, &y, &ids2, &n2), 0);
	CU_ASSERT_EQUAL(n2, n);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t node = s2n[k];
		CU_ASSERT_EQUAL(ids2[k], id[node]);
		CU_ASSERT_EQUAL(hnsw_level(y, k), hnsw_level(x, node));
		for (int l = 0; l <= hnsw_level(x, node); l++) {
			uint32_t ca, cb;
			const uint32_t *la = hnsw_links(x, node, l, &ca), *lb = hnsw_links(y, k, l, &cb);
			CU_ASSERT(set_eq(la, ca, lb, cb, s2n));
		}
	}
	hnsw_entry(x, &e1, &m1);
	hnsw_entry(y, &e2, &m2);
	CU_ASSERT_EQUAL(s2n[e2], e1);
	CU_ASSERT_EQUAL(m1, m2);
	CU_ASSERT_EQUAL_FATAL(hnsw_encode(y, ids2, &p2, &plen2, NULL), 0);
	CU_ASSERT(plen == plen2 && memcmp(p, p2, plen) == 0);
	/* back to store slots: identical search results to a fresh decode */
	{
		rvf_topk_item a[10];
		size_t na;
		CU_ASSERT_EQUAL(hnsw_renumber(y, s2n, (uint32_t)n), 0);
		CU_ASSERT_EQUAL(hnsw_search(y, v, 10, 64, NULL, 0, a, &na), RVF_E_ARG);
		hnsw_set_storage(y, v, dim);
		CU_ASSERT_EQUAL(hnsw_search(y, v + 5 * dim, 10, 64, NULL, 0, a, &na), 0);
		CU_ASSERT_EQUAL(na, 10);
		CU_ASSERT_EQUAL(a[0].id, 5);
		/* the renumbered graph encodes to the same payload */
		free(p2);
		CU_ASSERT_EQUAL_FATAL(hnsw_encode(y, id, &p2, &plen2, NULL), 0);
		CU_ASSERT(plen == plen2 && memcmp(p, p2, plen) == 0);
		/* and keeps growing */
		CU_ASSERT_EQUAL(hnsw_insert(y, (uint32_t)n - 1 + 0), RVF_E_ARG);
	}
	/* duplicate ids are refused */
	id[1] = id[0];
	free(p2);
	CU_ASSERT_EQUAL(hnsw_encode(x, id, &p2, &plen2, NULL), RVF_E_ARG);
	free(p);
	free(p2);
	free(s2n);
	free(ids2);
	free(id);
	hnsw_free(x);
	hnsw_free(y);
	free(v);
}

/* a decoded graph must be fully walkable: check the invariants, search it */
static void check_decoded(hnsw_index *y, uint64_t n, const float *v, uint32_t dim)
{
	uint32_t ep;
	int ml;
	rvf_topk_item a[5];
	size_t na;

	CU_ASSERT_EQUAL(hnsw_count(y), n);
	CU_ASSERT_EQUAL_FATAL(hnsw_entry(y, &ep, &ml), 0);
	CU_ASSERT(ep < n && hnsw_level(y, ep) == ml);
	for (uint32_t k = 0; k < n; k++) {
		int lv = hnsw_level(y, k);
		CU_ASSERT(lv >= 0 && lv <= ml);
		for (int l = 0; l <= lv; l++) {
			uint32_t c;
			const uint32_t *li = hnsw_links(y, k, l, &c);
			CU_ASSERT(c <= (l ? hnsw_m(y) : 2 * hnsw_m(y)));
			for (uint32_t i = 0; i < c; i++)
				CU_ASSERT(li[i] < n && hnsw_level(y, li[i]) >= l);
		}
	}
	hnsw_set_storage(y, v, dim);
	CU_ASSERT(hnsw_search(y, v, 5, 16, NULL, 0, a, &na) == 0);
}

static void test_corruption(void)
{
	const uint32_t dim = 8;
	const size_t n = 300;
	float *v = clustered(n, dim, 51);
	uint64_t *id = shuffled_ids(n);
	hnsw_index *x = build(v, n, dim, RVF_METRIC_L2, 4, 32), *y;
	uint8_t *p, *c;
	size_t plen;
	uint64_t *ids, nn;
	size_t valid = 0;

	CU_ASSERT_EQUAL_FATAL(hnsw_encode(x, id, &p, &plen, NULL), 0);
	c = malloc(plen);
	for (size_t t = 0; t < plen; t++) {
		/* exact-size copy so ASan sees any over-read */
		uint8_t *tr = malloc(t ? t : 1);
		memcpy(tr, p, t);
		CU_ASSERT_NOT_EQUAL(hnsw_decode(tr, t, dim, RVF_METRIC_L2, 1, &y, &ids, &nn), 0);
		CU_ASSERT_PTR_NULL(y);
		free(tr);
	}
	for (int it = 0; it < 2000; it++) {
		int flips = 1 + (int)(rnd() % 3);
		int rc;
		memcpy(c, p, plen);
		for (int f = 0; f < flips; f++)
			c[rnd() % plen] ^= (uint8_t)(1 + rnd() % 255);
		rc = hnsw_decode(c, plen, dim, RVF_METRIC_L2, 1, &y, &ids, &nn);
		CU_ASSERT(rc == 0 || rc == RVF_E_CORRUPT);
		if (rc == 0) {
			valid++;
			if (nn <= n)
				check_decoded(y, nn, v, dim);
			hnsw_free(y);
			free(ids);
		}
	}
	CU_ASSERT(valid < 2000);
	free(c);
	free(p);
	free(id);
	hnsw_free(x);
	free(v);
}

RVF_SUITE(hnsw, {"recall@10 l2 5k x 32", test_recall_l2}, {"recall@10 ip 5k x 32", test_recall_ip},
	  {"recall@10 cosine 5k x 32", test_recall_cosine}, {"tombstones", test_tombstones},
	  {"inserts never link tombstones; relink, link_to", test_tombstone_links},
	  {"time budget", test_deadline}, {"ef respected", test_ef}, {"api edges", test_api_edges},
	  {"decode reference f_hnsw", test_ref_decode}, {"reference edge files p30-p35", test_ref_edge_files},
	  {"encode/decode round trip", test_roundtrip}, {"truncations and byte flips", test_corruption})
