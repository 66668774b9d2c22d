/* test_store.c — suite "store": the write/read life cycle of files we write.
 *
 *  - create / ingest / query / reopen for every metric, checked against an
 *    in-test model (ids + vectors) through bruteforce.c: same ids, same order,
 *    bit-identical distances;
 *  - upsert (last wins, also within one batch), delete + re-ingest (live
 *    again, also after reopen and compaction), delete of a missing id, empty
 *    ingest, k = 0 / k > live, wrong query dimension, NaN/Inf rows;
 *  - compaction: live set unchanged, deleted vectors gone, file smaller,
 *    eBPF/kernel segments byte-for-byte, reopen;
 *  - read-only handles, the writer lock, create over an existing file,
 *    dimension bounds;
 *  - file growth over 400 single-vector commits (the reference: 6.2 MB) and
 *    unique segment ids in the files we write.
 *
 * Every failed comparison prints what differed to stderr. */
#include "bruteforce.h"
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small utilities ---------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) /* [-1, 1) */
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((rng_state >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}
static void fill(float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = frand();
}

/* In-test model of the live set: id -> vector, upsert and delete. */
typedef struct {
	uint32_t dim;
	size_t n, cap;
	uint64_t *ids;
	float *vecs;
} model;

static void model_init(model *m, uint32_t dim) { memset(m, 0, sizeof *m), m->dim = dim; }
static void model_free(model *m)
{
	free(m->ids);
	free(m->vecs);
}
static void model_put(model *m, uint64_t id, const float *v)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->ids[i] == id) {
			memcpy(m->vecs + i * m->dim, v, m->dim * sizeof(float));
			return;
		}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->ids = realloc(m->ids, m->cap * sizeof *m->ids);
		m->vecs = realloc(m->vecs, m->cap * m->dim * sizeof(float));
		if (!m->ids || !m->vecs)
			abort();
	}
	m->ids[m->n] = id;
	memcpy(m->vecs + m->n * m->dim, v, m->dim * sizeof(float));
	m->n++;
}
static void model_del(model *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->ids[i] == id) {
			m->n--;
			m->ids[i] = m->ids[m->n];
			memmove(m->vecs + i * m->dim, m->vecs + m->n * m->dim, m->dim * sizeof(float));
			return;
		}
}
static const float *model_get(const model *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->ids[i] == id)
			return m->vecs + i * m->dim;
	return NULL;
}

/* Ingests n rows and mirrors the finite ones into the model. */
static int ingest_both(rvf_store *s, model *m, const uint64_t *ids, const float *v, size_t n)
{
	rvf_ingest_result r;
	int rc = rvf_ingest(s, ids, v, n, &r);
	if (rc == RVF_OK)
		for (size_t i = 0; i < n; i++) {
			int ok = 1;
			for (uint32_t d = 0; d < m->dim; d++)
				ok &= isfinite(v[i * m->dim + d]) != 0;
			if (ok)
				model_put(m, ids[i], v + i * m->dim);
		}
	return rc;
}

/* rvf_query vs brute force over the model: ids, order and distance bits. */
static void check_queries(const char *label, const rvf_store *s, const model *m, rvf_metric metric,
			  int nq, size_t k)
{
	uint32_t dim = m->dim;
	float *q = malloc(dim * sizeof(float));
	rvf_hit *got = calloc(k + 1, sizeof *got), *want = calloc(k + 1, sizeof *want);
	const float **vp = malloc((m->n + 1) * sizeof *vp);
	for (size_t i = 0; i < m->n; i++)
		vp[i] = m->vecs + i * dim;
	for (int t = 0; t < nq; t++) {
		if (t == 0 && m->n)
			memcpy(q, m->vecs, dim * sizeof(float)); /* an exact hit */
		else
			fill(q, dim);
		size_t ng = 0;
		if (!CHECK_OK(rvf_query(s, q, dim, k, got, &ng)))
			break;
		size_t nw = bf_topk(metric, dim, m->ids, vp, m->n, q, k, want);
		if (!CHECK(ng == nw, "%s: query %d returned %zu hits, brute force %zu", label, t, ng, nw))
			continue;
		for (size_t i = 0; i < ng; i++)
			if (!CHECK(got[i].id == want[i].id && bf_same_bits(got[i].distance, want[i].distance),
				   "%s: query %d hit %zu: got id %" PRIu64 " d=%a, want id %" PRIu64 " d=%a",
				   label, t, i, got[i].id, (double)got[i].distance, want[i].id,
				   (double)want[i].distance))
				break;
	}
	free(q);
	free(got);
	free(want);
	free(vp);
}

/* Live set of the store == model (ids and vector bits). */
static void check_live(const char *label, const rvf_store *s, const model *m)
{
	uint64_t n = rvf_live_count(s);
	if (!CHECK(n == m->n, "%s: live count %" PRIu64 ", expected %zu", label, n, m->n))
		return;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id;
		const float *v;
		if (!CHECK_OK(rvf_live_get(s, i, &id, &v)))
			return;
		const float *w = model_get(m, id);
		if (!CHECK(w, "%s: live id %" PRIu64 " is not in the model", label, id))
			return;
		if (!CHECK(!memcmp(v, w, m->dim * sizeof(float)), "%s: vector of id %" PRIu64 " differs",
			   label, id))
			return;
	}
	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	CHECK(st.total_vectors == m->n, "%s: status total_vectors %" PRIu64 ", expected %zu", label,
	      st.total_vectors, m->n);
}

/* Walks the file as back-to-back segments (our writer adds no padding):
 * every header has the magic, the walk ends exactly at EOF, and no two
 * segments share an id. Returns the number of segments, or -1. */
static long walk_segments(const char *label, const char *path)
{
	size_t len;
	uint8_t *b = tu_slurp(path, &len);
	if (!CHECK(b, "%s: cannot read %s", label, path))
		return -1;
	size_t cap = 64, n = 0;
	uint64_t *ids = malloc(cap * sizeof *ids);
	long result = -1;
	size_t off = 0;
	while (off < len) {
		if (!CHECK(len - off >= 64 && !memcmp(b + off, "SFVR", 4),
			   "%s: no segment header at offset %zu", label, off))
			goto out;
		uint64_t id, plen;
		memcpy(&id, b + off + 8, 8);
		memcpy(&plen, b + off + 16, 8);
		if (!CHECK(plen <= len - off - 64, "%s: segment at %zu runs past EOF", label, off))
			goto out;
		for (size_t i = 0; i < n; i++)
			if (!CHECK(ids[i] != id, "%s: segment id %" PRIu64 " used twice (offset %zu)",
				   label, id, off))
				goto out;
		if (n == cap)
			ids = realloc(ids, (cap *= 2) * sizeof *ids);
		ids[n++] = id;
		off += 64 + plen;
	}
	result = (long)n;
out:
	free(ids);
	free(b);
	return result;
}

/* Directory of an open store: ids unique. */
static void check_dir_ids(const char *label, const rvf_store *s)
{
	size_t n = rvf_segment_count(s);
	uint64_t *ids = malloc((n + 1) * sizeof *ids);
	for (size_t i = 0; i < n; i++) {
		rvf_segment_info si;
		CHECK_OK(rvf_segment_get(s, i, &si));
		ids[i] = si.seg_id;
		for (size_t j = 0; j < i; j++)
			if (!CHECK(ids[j] != si.seg_id, "%s: directory lists segment id %" PRIu64 " twice",
				   label, si.seg_id))
				goto out;
	}
out:
	free(ids);
}

static rvf_store *make(const char *path, uint32_t dim, rvf_metric m)
{
	rvf_create_opts o = {.dimension = dim, .metric = m, .profile = 0};
	rvf_store *s = NULL;
	CHECK_OK(rvf_create(path, &o, &s));
	return s;
}

static rvf_store *reopen(rvf_store *s, const char *path, unsigned flags)
{
	rvf_close(s);
	rvf_store *r = NULL;
	CHECK_OK(rvf_open(path, flags, &r));
	return r;
}

/* ---- tests -------------------------------------------------------------- */

static void test_roundtrip_metrics(void)
{
	for (int mi = 0; mi < 3; mi++) {
		rvf_metric metric = (rvf_metric)mi;
		const uint32_t dim = 13; /* not a multiple of any SIMD width */
		char label[64];
		snprintf(label, sizeof label, "roundtrip %s", rvf_metric_name(metric));
		char *path = tu_tpath("store", "roundtrip.rvf");
		rvf_store *s = make(path, dim, metric);
		if (!s) {
			free(path);
			continue;
		}
		model m;
		model_init(&m, dim);
		uint64_t ids[150];
		float *v = malloc(150 * dim * sizeof(float));
		for (int i = 0; i < 150; i++)
			ids[i] = 1000 + (uint64_t)i * 7;
		fill(v, 150 * dim);
		CHECK_OK(ingest_both(s, &m, ids, v, 100));
		CHECK_OK(ingest_both(s, &m, ids + 100, v + 100 * dim, 50));
		check_live(label, s, &m);
		check_queries(label, s, &m, metric, 6, 10);
		check_queries(label, s, &m, metric, 2, 150); /* full ordering */

		rvf_status st;
		CHECK_OK(rvf_get_status(s, &st));
		uint32_t epoch = st.epoch;
		CHECK(epoch == 2, "%s: epoch after 2 ingests is %u, expected 2", label, epoch);

		s = reopen(s, path, RVF_OPEN_READONLY);
		if (s) {
			CHECK(rvf_dimension(s) == dim, "%s: dimension after reopen %u", label,
			      rvf_dimension(s));
			CHECK(rvf_get_metric(s) == metric, "%s: metric after reopen %d", label,
			      (int)rvf_get_metric(s));
			CHECK_OK(rvf_get_status(s, &st));
			CHECK(st.epoch == epoch, "%s: epoch after reopen %u, expected %u", label, st.epoch,
			      epoch);
			CHECK(st.read_only, "%s: status of a read-only handle says writable", label);
			CHECK(!*rvf_open_warning(s), "%s: unexpected open warning: %s", label,
			      rvf_open_warning(s));
			check_live(label, s, &m);
			check_queries(label, s, &m, metric, 6, 10);
		}
		rvf_close(s);
		model_free(&m);
		free(v);
		free(path);
	}
}

static void test_upsert_duplicate(void)
{
	const uint32_t dim = 5;
	char *path = tu_tpath("store", "upsert.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_L2);
	if (!s)
		goto out;
	model m;
	model_init(&m, dim);
	uint64_t ids[10];
	float v[10 * 5];
	for (int i = 0; i < 10; i++)
		ids[i] = (uint64_t)i + 1;
	fill(v, 50);
	CHECK_OK(ingest_both(s, &m, ids, v, 10));
	/* id 5 again in its own batch, and id 7 twice in one batch */
	float nv[5];
	fill(nv, 5);
	uint64_t id5 = 5;
	CHECK_OK(ingest_both(s, &m, &id5, nv, 1));
	uint64_t id77[2] = {7, 7};
	float v77[10];
	fill(v77, 10);
	CHECK_OK(ingest_both(s, &m, id77, v77, 2));
	CHECK(m.n == 10, "model has %zu", m.n);
	check_live("upsert", s, &m);
	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	CHECK(st.total_vectors == 10 && st.deleted_vectors == 0,
	      "upsert: total %" PRIu64 " deleted %" PRIu64 " (expected 10, 0)", st.total_vectors,
	      st.deleted_vectors);
	rvf_hit h[3];
	size_t n = 0;
	CHECK_OK(rvf_query(s, nv, dim, 3, h, &n));
	CHECK(n == 3 && h[0].id == 5 && h[0].distance == 0.0f,
	      "upsert: query with the new vector of 5: first hit id %" PRIu64 " d=%g", h[0].id,
	      (double)h[0].distance);
	CHECK_OK(rvf_query(s, v77 + 5, dim, 1, h, &n));
	CHECK(n == 1 && h[0].id == 7 && h[0].distance == 0.0f,
	      "upsert in one batch: last row of id 7 should win (got id %" PRIu64 " d=%g)", h[0].id,
	      (double)h[0].distance);
	check_queries("upsert", s, &m, RVF_METRIC_L2, 4, 10);
	s = reopen(s, path, 0);
	if (s) {
		check_live("upsert reopened", s, &m);
		check_queries("upsert reopened", s, &m, RVF_METRIC_L2, 4, 10);
	}
	rvf_close(s);
	model_free(&m);
out:
	free(path);
}

/* Is `id` returned by an exact query with its own vector? */
static int finds(const rvf_store *s, const float *v, uint32_t dim, uint64_t id)
{
	rvf_hit h[64];
	size_t n = 0;
	if (rvf_query(s, v, dim, 64, h, &n) != RVF_OK)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (h[i].id == id)
			return 1;
	return 0;
}

static void test_delete_reingest(void)
{
	const uint32_t dim = 4;
	char *path = tu_tpath("store", "reingest.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_L2);
	if (!s)
		goto out;
	model m;
	model_init(&m, dim);
	uint64_t ids[10];
	float v[40];
	for (int i = 0; i < 10; i++)
		ids[i] = (uint64_t)i + 1;
	fill(v, 40);
	CHECK_OK(ingest_both(s, &m, ids, v, 10));
	uint64_t seven = 7;
	rvf_delete_result dr;
	CHECK_OK(rvf_delete(s, &seven, 1, &dr));
	model_del(&m, 7);
	CHECK(dr.deleted == 1, "delete 7: deleted=%" PRIu64, dr.deleted);
	CHECK(finds(s, v + 6 * dim, dim, 7) == 0, "deleted id 7 is still returned");
	check_live("after delete", s, &m);
	s = reopen(s, path, 0);
	if (!s)
		goto free_model;
	CHECK(finds(s, v + 6 * dim, dim, 7) == 0, "deleted id 7 returned after reopen");
	check_live("after delete+reopen", s, &m);

	float nv[4] = {0.5f, 0.25f, -0.125f, 2.0f};
	CHECK_OK(ingest_both(s, &m, &seven, nv, 1));
	CHECK(finds(s, nv, dim, 7) == 1, "re-ingested id 7 is not returned");
	check_live("after re-ingest", s, &m);
	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	CHECK(st.deleted_vectors == 0, "re-ingested id still counted deleted (%" PRIu64 ")",
	      st.deleted_vectors);
	s = reopen(s, path, 0);
	if (!s)
		goto free_model;
	CHECK(finds(s, nv, dim, 7) == 1, "re-ingested id 7 is not returned after reopen");
	check_live("after re-ingest+reopen", s, &m);
	rvf_compact_result cr;
	CHECK_OK(rvf_compact(s, &cr));
	CHECK(finds(s, nv, dim, 7) == 1, "re-ingested id 7 lost by compaction");
	check_live("after compact", s, &m);
	s = reopen(s, path, RVF_OPEN_READONLY);
	if (s) {
		CHECK(finds(s, nv, dim, 7) == 1, "re-ingested id 7 lost after compaction + reopen");
		check_live("after compact+reopen", s, &m);
		check_queries("after compact+reopen", s, &m, RVF_METRIC_L2, 3, 10);
	}
free_model:
	rvf_close(s);
	model_free(&m);
out:
	free(path);
}

static void test_delete_missing_bumps_epoch(void)
{
	const uint32_t dim = 3;
	char *path = tu_tpath("store", "delmissing.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_IP);
	if (!s)
		goto out;
	uint64_t ids[2] = {1, 2};
	float v[6] = {1, 2, 3, 4, 5, 6};
	CHECK_OK(rvf_ingest(s, ids, v, 2, NULL));
	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	uint32_t e0 = st.epoch;
	uint64_t missing = 999;
	rvf_delete_result dr = {0};
	CHECK_OK(rvf_delete(s, &missing, 1, &dr));
	CHECK(dr.deleted == 0, "delete of a missing id reports %" PRIu64 " deleted", dr.deleted);
	CHECK(dr.epoch == e0 + 1, "delete of a missing id: epoch %u, expected %u", dr.epoch, e0 + 1);
	CHECK_OK(rvf_get_status(s, &st));
	CHECK(st.epoch == e0 + 1 && st.total_vectors == 2,
	      "status after deleting a missing id: epoch %u total %" PRIu64, st.epoch,
	      st.total_vectors);
	s = reopen(s, path, RVF_OPEN_READONLY);
	if (s) {
		CHECK_OK(rvf_get_status(s, &st));
		CHECK(st.epoch == e0 + 1 && st.total_vectors == 2,
		      "reopened: epoch %u total %" PRIu64 " (expected %u, 2)", st.epoch,
		      st.total_vectors, e0 + 1);
	}
	rvf_close(s);
out:
	free(path);
}

static void test_empty_ingest(void)
{
	char *path = tu_tpath("store", "empty.rvf");
	rvf_store *s = make(path, 4, RVF_METRIC_L2);
	if (!s)
		goto out;
	long long size0 = tu_fsize(path);
	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	uint32_t e0 = st.epoch;
	CHECK(e0 == 0, "a new store has epoch %u", e0);
	rvf_ingest_result r = {99, 99, 99};
	CHECK_OK(rvf_ingest(s, NULL, NULL, 0, &r));
	CHECK(r.accepted == 0 && r.rejected == 0 && r.epoch == e0,
	      "empty ingest: accepted %" PRIu64 " rejected %" PRIu64 " epoch %u", r.accepted,
	      r.rejected, r.epoch);
	CHECK(tu_fsize(path) == size0, "empty ingest changed the file size %lld -> %lld", size0,
	      tu_fsize(path));
	CHECK_OK(rvf_get_status(s, &st));
	CHECK(st.epoch == e0, "empty ingest bumped the epoch to %u", st.epoch);
	/* an empty delete is a commit of its own (journal with 0 ids): only
	 * check it does not fail */
	s = reopen(s, path, RVF_OPEN_READONLY);
	if (s) {
		CHECK_OK(rvf_get_status(s, &st));
		CHECK(st.epoch == e0 && st.total_vectors == 0, "reopened empty store: epoch %u total %" PRIu64,
		      st.epoch, st.total_vectors);
		rvf_hit h[4];
		size_t n = 9;
		float q[4] = {0};
		CHECK_OK(rvf_query(s, q, 4, 4, h, &n));
		CHECK(n == 0, "query on an empty store returned %zu hits", n);
	}
	rvf_close(s);
out:
	free(path);
}

static void test_k_edges_and_dimension(void)
{
	const uint32_t dim = 6;
	char *path = tu_tpath("store", "kedge.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_COSINE);
	if (!s)
		goto out;
	model m;
	model_init(&m, dim);
	uint64_t ids[5] = {50, 40, 30, 20, 10};
	float v[30];
	fill(v, 30);
	CHECK_OK(ingest_both(s, &m, ids, v, 5));
	rvf_hit h[16];
	size_t n = 77;
	float q[8];
	fill(q, 8);
	CHECK_OK(rvf_query(s, q, dim, 0, h, &n));
	CHECK(n == 0, "k=0 returned %zu hits", n);
	n = 0;
	CHECK_OK(rvf_query(s, q, dim, 16, h, &n));
	CHECK(n == 5, "k=16 > live=5 returned %zu hits", n);
	check_queries("k>live", s, &m, RVF_METRIC_COSINE, 3, 12);
	for (uint32_t bad = dim - 1; bad <= dim + 1; bad += 2) {
		n = 77;
		int rc = rvf_query(s, q, bad, 3, h, &n);
		CHECK(rc == RVF_E_DIMENSION, "query with %u components: rc %d, expected RVF_E_DIMENSION",
		      bad, rc);
		CHECK(*rvf_last_error(), "query with wrong dimension: empty rvf_last_error()");
		CHECK(n == 0, "failed query wrote nout=%zu", n);
	}
	rvf_close(s);
	model_free(&m);
out:
	free(path);
}

static void test_nan_inf_rejected(void)
{
	const uint32_t dim = 3;
	char *path = tu_tpath("store", "nan.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_L2);
	if (!s)
		goto out;
	uint64_t ids[5] = {1, 2, 3, 4, 5};
	float v[15] = {1, 2, 3, NAN, 0, 0, 0, INFINITY, 0, 0, 0, -INFINITY, 7, 8, 9};
	rvf_ingest_result r = {0};
	CHECK_OK(rvf_ingest(s, ids, v, 5, &r));
	CHECK(r.accepted == 2 && r.rejected == 3,
	      "NaN/Inf rows: accepted %" PRIu64 " rejected %" PRIu64 " (expected 2, 3)", r.accepted,
	      r.rejected);
	CHECK(rvf_live_count(s) == 2, "live count %" PRIu64 " after NaN/Inf ingest", rvf_live_count(s));
	CHECK(finds(s, v, dim, 1) == 1 && finds(s, v + 12, dim, 5) == 1,
	      "finite rows of a mixed batch not stored");
	/* a batch with only bad rows: all rejected, nothing written */
	long long size0 = tu_fsize(path);
	uint32_t e0 = r.epoch;
	CHECK_OK(rvf_ingest(s, ids + 1, v + 3, 3, &r));
	CHECK(r.accepted == 0 && r.rejected == 3 && r.epoch == e0,
	      "all-bad batch: accepted %" PRIu64 " rejected %" PRIu64 " epoch %u", r.accepted,
	      r.rejected, r.epoch);
	CHECK(tu_fsize(path) == size0, "all-bad batch changed the file size %lld -> %lld", size0,
	      tu_fsize(path));
	s = reopen(s, path, RVF_OPEN_READONLY);
	if (s)
		CHECK(rvf_live_count(s) == 2, "reopened: live %" PRIu64, rvf_live_count(s));
	rvf_close(s);
out:
	free(path);
}

/* Raw bytes (header + payload) of the i-th segment of a type in the file. */
static uint8_t *seg_bytes(const rvf_store *s, uint8_t type, size_t *len)
{
	size_t n = rvf_segment_count(s);
	for (size_t i = 0; i < n; i++) {
		rvf_segment_info si;
		if (rvf_segment_get(s, i, &si) || si.seg_type != type)
			continue;
		size_t flen;
		uint8_t *f = tu_slurp(rvf_path(s), &flen);
		if (!f || si.offset + 64 + si.payload_length > flen) {
			free(f);
			return NULL;
		}
		uint8_t *b = malloc(64 + si.payload_length);
		memcpy(b, f + si.offset, 64 + si.payload_length);
		free(f);
		*len = 64 + si.payload_length;
		return b;
	}
	return NULL;
}

static void check_programs(const char *label, const rvf_store *s, const uint8_t *prog, size_t plen,
			   const uint8_t *btf, size_t blen, const uint8_t *img, size_t ilen,
			   const char *cmd)
{
	CHECK(rvf_ebpf_count(s) == 1, "%s: %zu eBPF segments", label, rvf_ebpf_count(s));
	rvf_ebpf e;
	if (CHECK_OK(rvf_ebpf_get(s, 0, &e))) {
		CHECK(e.program_type == 1 && e.attach_type == 2 && e.max_dimension == 8,
		      "%s: eBPF header fields %u/%u/%u", label, e.program_type, e.attach_type,
		      e.max_dimension);
		CHECK(e.program_size == plen && !memcmp(e.program, prog, plen),
		      "%s: eBPF program differs (size %zu)", label, e.program_size);
		CHECK(e.btf_size == blen && !memcmp(e.btf, btf, blen), "%s: BTF differs (size %zu)",
		      label, e.btf_size);
	}
	/* the raw payload: 64-byte header, then program and BTF, as listed */
	const uint8_t *raw = NULL;
	uint64_t rlen = 0;
	rvf_segment_info si = {0};
	if (CHECK_OK(rvf_ebpf_payload(s, 0, &raw, &rlen, &si))) {
		CHECK(rlen == 64 + plen + blen && si.payload_length == rlen && si.seg_type == 0x0F &&
			      !memcmp(raw, "PBVR", 4) && !memcmp(raw + 64, prog, plen) &&
			      !memcmp(raw + 64 + plen, btf, blen),
		      "%s: eBPF raw payload (%llu bytes, type 0x%x)", label, (unsigned long long)rlen,
		      si.seg_type);
		CHECK(rvf_ebpf_payload(s, 1, &raw, &rlen, NULL) == RVF_E_NOT_FOUND,
		      "%s: a second eBPF payload where there is one", label);
	}
	rvf_kernel k;
	if (CHECK_OK(rvf_kernel_get(s, &k))) {
		CHECK(k.arch == 1 && k.kernel_type == 2 && k.flags == 0x11 && k.api_port == 8080,
		      "%s: kernel header fields %u/%u/0x%x/%u", label, k.arch, k.kernel_type, k.flags,
		      k.api_port);
		CHECK(k.image_size == ilen && !memcmp(k.image, img, ilen), "%s: kernel image differs",
		      label);
		CHECK(k.cmdline_len == strlen(cmd) && !memcmp(k.cmdline, cmd, k.cmdline_len),
		      "%s: kernel command line differs", label);
	}
}

static void test_compact(void)
{
	const uint32_t dim = 8;
	char *path = tu_tpath("store", "compact.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_L2);
	uint8_t *eb0 = NULL, *kb0 = NULL, *eb1 = NULL, *kb1 = NULL;
	if (!s)
		goto out;
	model m;
	model_init(&m, dim);
	uint64_t ids[100];
	float *v = malloc(100 * dim * sizeof(float));
	for (int i = 0; i < 100; i++)
		ids[i] = (uint64_t)i * 3 + 1;
	fill(v, 100 * dim);
	CHECK_OK(ingest_both(s, &m, ids, v, 50));
	uint8_t prog[40], btf[13], img[300];
	for (size_t i = 0; i < sizeof prog; i++)
		prog[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof btf; i++)
		btf[i] = (uint8_t)(0xB0 + i);
	for (size_t i = 0; i < sizeof img; i++)
		img[i] = (uint8_t)(i * 31);
	const char *cmd = "console=ttyS0 quiet";
	rvf_ebpf e = {.program_type = 1, .attach_type = 2, .max_dimension = 8, .program = prog,
		      .program_size = sizeof prog, .btf = btf, .btf_size = sizeof btf};
	rvf_kernel k = {.arch = 1, .kernel_type = 2, .flags = 0x11, .api_port = 8080, .image = img,
			.image_size = sizeof img, .cmdline = cmd, .cmdline_len = strlen(cmd)};
	uint64_t eid = 0, kid = 0;
	CHECK_OK(rvf_embed_ebpf(s, &e, &eid));
	CHECK_OK(rvf_embed_kernel(s, &k, &kid));
	CHECK_OK(ingest_both(s, &m, ids + 50, v + 50 * dim, 50));
	/* delete 40 ids, over two commits, plus an id that never existed */
	uint64_t del[41];
	for (int i = 0; i < 40; i++)
		del[i] = ids[(i * 5 + i / 20) % 100]; /* 40 distinct ids */
	del[40] = 123456789;
	CHECK_OK(rvf_delete(s, del, 20, NULL));
	CHECK_OK(rvf_delete(s, del + 20, 21, NULL));
	for (int i = 0; i < 41; i++)
		model_del(&m, del[i]);
	check_programs("before compact", s, prog, sizeof prog, btf, sizeof btf, img, sizeof img, cmd);
	check_live("before compact", s, &m);
	size_t el0 = 0, kl0 = 0, el1 = 0, kl1 = 0;
	eb0 = seg_bytes(s, 0x0F, &el0);
	kb0 = seg_bytes(s, 0x0E, &kl0);
	CHECK(eb0 && kb0, "cannot read eBPF/kernel segment bytes before compaction");

	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	uint64_t deleted_before = st.deleted_vectors;
	long long size_before = tu_fsize(path);
	rvf_compact_result cr;
	memset(&cr, 0, sizeof cr);
	CHECK_OK(rvf_compact(s, &cr));
	long long size_after = tu_fsize(path);
	printf("\n    compact: %lld -> %lld bytes, purged %" PRIu64 " (reported reclaimed %" PRIu64
	       ")\n",
	       size_before, size_after, cr.segments_compacted, cr.bytes_reclaimed);
	CHECK(size_after < size_before, "compaction did not shrink the file (%lld -> %lld)",
	      size_before, size_after);
	CHECK(cr.file_size_before == (uint64_t)size_before && cr.file_size_after == (uint64_t)size_after,
	      "compact result sizes %" PRIu64 " -> %" PRIu64 " differ from the file's %lld -> %lld",
	      cr.file_size_before, cr.file_size_after, size_before, size_after);
	CHECK(cr.segments_compacted == deleted_before && cr.vectors_after == m.n,
	      "compact counters: purged %" PRIu64 " (deleted was %" PRIu64 "), after %" PRIu64
	      " (live %zu)",
	      cr.segments_compacted, deleted_before, cr.vectors_after, m.n);
	CHECK_OK(rvf_get_status(s, &st));
	CHECK(st.deleted_vectors == 0 && st.stored_vectors == m.n,
	      "after compact: deleted %" PRIu64 " stored %" PRIu64 " (live %zu)", st.deleted_vectors,
	      st.stored_vectors, m.n);
	check_live("after compact", s, &m);
	check_queries("after compact", s, &m, RVF_METRIC_L2, 4, 20);
	for (int i = 0; i < 40; i++) {
		size_t idx = 0;
		while (ids[idx] != del[i])
			idx++;
		if (!CHECK(finds(s, v + idx * dim, dim, del[i]) == 0,
			   "deleted id %" PRIu64 " returned after compaction", del[i]))
			break;
	}
	check_programs("after compact", s, prog, sizeof prog, btf, sizeof btf, img, sizeof img, cmd);
	eb1 = seg_bytes(s, 0x0F, &el1);
	kb1 = seg_bytes(s, 0x0E, &kl1);
	CHECK(eb0 && eb1 && el0 == el1 && !memcmp(eb0, eb1, el0),
	      "eBPF segment not byte-identical after compaction");
	CHECK(kb0 && kb1 && kl0 == kl1 && !memcmp(kb0, kb1, kl0),
	      "kernel segment not byte-identical after compaction");
	char *tmp = NULL;
	if (asprintf(&tmp, "%.*s.rvf.compact.tmp", (int)(strlen(path) - 4), path) > 0) {
		CHECK(access(tmp, F_OK) != 0, "compaction left %s behind", tmp);
		free(tmp);
	}
	check_dir_ids("after compact", s);
	CHECK(walk_segments("after compact", path) > 0, "walk failed");

	/* the compacted file is writable and reopens with the same state */
	float nv[8];
	fill(nv, 8);
	uint64_t nid = 999;
	CHECK_OK(ingest_both(s, &m, &nid, nv, 1));
	s = reopen(s, path, RVF_OPEN_READONLY);
	if (s) {
		CHECK(!*rvf_open_warning(s), "compacted file opens with a warning: %s",
		      rvf_open_warning(s));
		check_live("compact+reopen", s, &m);
		check_queries("compact+reopen", s, &m, RVF_METRIC_L2, 4, 20);
		check_programs("compact+reopen", s, prog, sizeof prog, btf, sizeof btf, img, sizeof img,
			       cmd);
		check_dir_ids("compact+reopen", s);
	}
	CHECK(walk_segments("compact+ingest", path) > 0, "walk failed");
	rvf_close(s);
	model_free(&m);
	free(v);
out:
	free(eb0);
	free(kb0);
	free(eb1);
	free(kb1);
	free(path);
}

static void test_readonly(void)
{
	char *path = tu_tpath("store", "ro.rvf");
	rvf_store *s = make(path, 2, RVF_METRIC_L2);
	if (!s)
		goto out;
	uint64_t id = 1;
	float v[2] = {1, 2};
	CHECK_OK(rvf_ingest(s, &id, v, 1, NULL));
	rvf_close(s);
	size_t len0, len1;
	uint8_t *before = tu_slurp(path, &len0);
	s = NULL;
	CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s));
	if (s) {
		int rc = rvf_ingest(s, &id, v, 1, NULL);
		CHECK(rc == RVF_E_READONLY, "ingest on read-only: %d", rc);
		CHECK(*rvf_last_error(), "ingest on read-only: empty message");
		rc = rvf_delete(s, &id, 1, NULL);
		CHECK(rc == RVF_E_READONLY, "delete on read-only: %d", rc);
		rvf_compact_result cr;
		rc = rvf_compact(s, &cr);
		CHECK(rc == RVF_E_READONLY, "compact on read-only: %d", rc);
		uint8_t prog[8] = {1};
		rvf_ebpf e = {.program = prog, .program_size = 8};
		rc = rvf_embed_ebpf(s, &e, NULL);
		CHECK(rc == RVF_E_READONLY, "embed-ebpf on read-only: %d", rc);
		rvf_kernel k = {.image = prog, .image_size = 8};
		rc = rvf_embed_kernel(s, &k, NULL);
		CHECK(rc == RVF_E_READONLY, "embed-kernel on read-only: %d", rc);
		CHECK(rvf_live_count(s) == 1, "read-only store changed in memory");
		rvf_close(s);
	}
	uint8_t *after = tu_slurp(path, &len1);
	CHECK(before && after && len0 == len1 && !memcmp(before, after, len0),
	      "read-only handle changed the file");
	free(before);
	free(after);
out:
	free(path);
}

static void test_lock(void)
{
	char *path = tu_tpath("store", "lock.rvf");
	rvf_store *a = make(path, 2, RVF_METRIC_L2), *b = NULL, *r = NULL;
	if (!a)
		goto out;
	int rc = rvf_open(path, 0, &b);
	CHECK(rc == RVF_E_LOCKED && !b, "second writer while the creator is open: rc %d", rc);
	CHECK(*rvf_last_error(), "RVF_E_LOCKED without a message");
	rc = rvf_open(path, RVF_OPEN_READONLY, &r);
	CHECK(rc == RVF_OK, "reader while a writer is open: rc %d (%s)", rc, rvf_last_error());
	rvf_close(r);
	rvf_close(a);
	a = NULL;
	CHECK_OK(rvf_open(path, 0, &a));
	if (a) {
		rc = rvf_open(path, 0, &b);
		CHECK(rc == RVF_E_LOCKED && !b, "second writer while an opener is open: rc %d", rc);
		uint64_t id = 3;
		float v[2] = {3, 4};
		CHECK_OK(rvf_ingest(a, &id, v, 1, NULL));
		rvf_close(a);
	}
	CHECK_OK(rvf_open(path, 0, &b));
	if (b) {
		CHECK(rvf_live_count(b) == 1, "writer after close sees %" PRIu64 " vectors",
		      rvf_live_count(b));
		/* compaction replaces the inode: the lock must follow the path */
		rvf_compact_result cr;
		CHECK_OK(rvf_compact(b, &cr));
		rc = rvf_open(path, 0, &a);
		CHECK(rc == RVF_E_LOCKED && !a, "second writer after compaction: rc %d", rc);
		rvf_close(a);
		rvf_close(b);
	}
out:
	free(path);
}

static void test_create_exists_and_dims(void)
{
	char *path = tu_tpath("store", "exists.rvf");
	rvf_store *s = make(path, 4, RVF_METRIC_L2);
	if (s) {
		uint64_t id = 1;
		float v[4] = {1, 2, 3, 4};
		CHECK_OK(rvf_ingest(s, &id, v, 1, NULL));
		rvf_close(s);
	}
	size_t l0, l1;
	uint8_t *before = tu_slurp(path, &l0);
	rvf_create_opts o = {.dimension = 4, .metric = RVF_METRIC_L2};
	rvf_store *t = (rvf_store *)1;
	int rc = rvf_create(path, &o, &t);
	CHECK(rc == RVF_E_EXISTS && !t, "create over an existing file: rc %d", rc);
	CHECK(*rvf_last_error(), "RVF_E_EXISTS without a message");
	uint8_t *after = tu_slurp(path, &l1);
	CHECK(before && after && l0 == l1 && !memcmp(before, after, l0),
	      "failed create changed the existing file");
	free(before);
	free(after);
	free(path);

	uint32_t bad[2] = {0, 65536};
	for (int i = 0; i < 2; i++) {
		char *p = tu_tpath("store", "baddim.rvf");
		o.dimension = bad[i];
		t = (rvf_store *)1;
		rc = rvf_create(p, &o, &t);
		CHECK(rc == RVF_E_ARG && !t, "create with dimension %u: rc %d", bad[i], rc);
		CHECK(*rvf_last_error(), "create with dimension %u: empty message", bad[i]);
		CHECK(access(p, F_OK) != 0, "create with dimension %u left a file", bad[i]);
		free(p);
	}
	uint32_t good[2] = {1, 65535};
	for (int i = 0; i < 2; i++) {
		char *p = tu_tpath("store", "gooddim.rvf");
		o.dimension = good[i];
		s = NULL;
		CHECK_OK(rvf_create(p, &o, &s));
		rvf_close(s);
		s = NULL;
		CHECK_OK(rvf_open(p, RVF_OPEN_READONLY, &s));
		if (s)
			CHECK(rvf_dimension(s) == good[i], "dimension %u reopened as %u", good[i],
			      rvf_dimension(s));
		rvf_close(s);
		free(p);
	}
}

static void test_growth(void)
{
	const uint32_t dim = 4;
	char *path = tu_tpath("store", "growth.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_L2);
	if (!s)
		goto out;
	model m;
	model_init(&m, dim);
	for (uint64_t i = 0; i < 400; i++) {
		float v[4];
		fill(v, 4);
		if (!CHECK_OK(ingest_both(s, &m, &i, v, 1)))
			break;
	}
	long long size = tu_fsize(path);
	rvf_status st;
	CHECK_OK(rvf_get_status(s, &st));
	printf("\n    growth: 400 single-vector ingests (dim 4) -> %lld bytes, %" PRIu64
	       " directory entries, epoch %u (reference: 6.2 MB, 1201 entries)\n",
	       size, st.total_segments, st.epoch);
	/* Per commit: one manifest (fixed size, the directory stays O(log n))
	 * and one witness, about 400 bytes, plus O(log n) rewrites of the tiny
	 * vector data. The reference reaches 6.2 MB here. */
	CHECK(size > 0 && size < 320 * 1024, "400 single ingests made a %lld-byte file (limit 320 KB)",
	      size);
	CHECK(st.epoch == 400, "epoch %u after 400 ingests", st.epoch);
	CHECK(st.total_segments <= 16, "directory has %" PRIu64 " entries after 400 ingests",
	      st.total_segments);
	for (uint64_t i = 400; i < 800; i++) {
		float v[4];
		fill(v, 4);
		if (!CHECK_OK(ingest_both(s, &m, &i, v, 1)))
			break;
	}
	long long size2 = tu_fsize(path);
	printf("    growth: 800 single-vector ingests -> %lld bytes (x%.2f for x2 data)\n", size2,
	       (double)size2 / (double)size);
	CHECK(size2 < size * 23 / 10, "growth is not linear: 400 ingests %lld bytes, 800 ingests %lld",
	      size, size2);
	check_dir_ids("growth", s);
	long nseg = walk_segments("growth", path);
	CHECK(nseg > 0, "growth: segment walk failed");
	s = reopen(s, path, RVF_OPEN_READONLY);
	if (s) {
		check_live("growth reopened", s, &m);
		check_queries("growth reopened", s, &m, RVF_METRIC_L2, 3, 10);
		check_dir_ids("growth reopened", s);
	}
	rvf_close(s);
	model_free(&m);
out:
	free(path);
}

static void test_segment_ids_unique(void)
{
	/* a file with every kind of commit we write */
	const uint32_t dim = 4;
	char *path = tu_tpath("store", "segids.rvf");
	rvf_store *s = make(path, dim, RVF_METRIC_L2);
	if (!s)
		goto out;
	CHECK(walk_segments("fresh", path) == 2, "a fresh store should be a witness and a manifest");
	uint64_t ids[3] = {1, 2, 3};
	float v[12];
	fill(v, 12);
	CHECK_OK(rvf_ingest(s, ids, v, 3, NULL));
	CHECK_OK(rvf_delete(s, ids, 1, NULL));
	uint8_t prog[16] = {0x95};
	rvf_ebpf e = {.program = prog, .program_size = 16};
	CHECK_OK(rvf_embed_ebpf(s, &e, NULL));
	rvf_kernel k = {.image = prog, .image_size = 16};
	CHECK_OK(rvf_embed_kernel(s, &k, NULL));
	check_dir_ids("mixed", s);
	CHECK(walk_segments("mixed", path) > 0, "walk failed");
	s = reopen(s, path, 0);
	if (s) {
		CHECK_OK(rvf_ingest(s, ids + 1, v, 2, NULL)); /* ids continue after reopen */
		check_dir_ids("mixed reopened", s);
		CHECK(walk_segments("mixed reopened+ingest", path) > 0, "walk failed");
		rvf_compact_result cr;
		CHECK_OK(rvf_compact(s, &cr));
		CHECK_OK(rvf_delete(s, ids + 2, 1, NULL)); /* and after compaction */
		check_dir_ids("mixed compacted", s);
		CHECK(walk_segments("mixed compacted+delete", path) > 0, "walk failed");
	}
	rvf_close(s);
out:
	free(path);
}

RVF_SUITE(store, {"roundtrip_all_metrics", test_roundtrip_metrics},
	  {"upsert_duplicate_id", test_upsert_duplicate},
	  {"delete_reingest_reopen_compact", test_delete_reingest},
	  {"delete_missing_bumps_epoch", test_delete_missing_bumps_epoch},
	  {"empty_ingest_writes_nothing", test_empty_ingest},
	  {"k_edges_and_wrong_dimension", test_k_edges_and_dimension},
	  {"nan_inf_rows_rejected", test_nan_inf_rejected}, {"compact", test_compact},
	  {"readonly_rejects_writes", test_readonly}, {"writer_lock", test_lock},
	  {"create_exists_and_dimension_bounds", test_create_exists_and_dims},
	  {"growth_400_single_ingests", test_growth},
	  {"segment_ids_unique", test_segment_ids_unique})
