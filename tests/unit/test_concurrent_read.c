/* Concurrent readers on one store (the promise in rvf.h that the Python
 * binding's shared lock relies on): 4 threads run rvf_query_ex (HNSW index,
 * exact scan, filter), rvf_get_meta and rvf_live_count on one handle right
 * after a write left the index's storage stale, and every answer equals the
 * single-threaded answer of the same handle afterwards. */
#include "rvf.h"
#include "testreg.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CR_DIM 24
#define CR_N 3000
#define CR_NQ 48
#define CR_K 10
#define CR_THREADS 4
#define CR_MODES 3 /* index, exact, filter */

struct cr_ctx {
	rvf_store *s;
	const float *q;
	const rvf_filter *f;
	rvf_hit got[CR_THREADS][CR_MODES][CR_NQ][CR_K];
	size_t ngot[CR_THREADS][CR_MODES][CR_NQ];
	int errors[CR_THREADS];
	int tid;
	pthread_mutex_t mu;
};

static float cr_rand(uint64_t *st)
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((*st >> 40) & 0xffffff) / (float)0x1000000 - 0.5f;
}

static int cr_query(struct cr_ctx *c, int mode, size_t qi, rvf_hit *out, size_t *nout)
{
	rvf_query_opts o = {.k = CR_K, .exact = mode == 1, .filter = mode == 2 ? c->f : NULL};
	return rvf_query_ex(c->s, c->q + qi * CR_DIM, CR_DIM, &o, out, nout);
}

static void *cr_reader(void *arg)
{
	struct cr_ctx *c = arg;
	pthread_mutex_lock(&c->mu);
	int t = c->tid++;
	pthread_mutex_unlock(&c->mu);
	for (int rep = 0; rep < 3; rep++)
		for (size_t qi = 0; qi < CR_NQ; qi++)
			for (int m = 0; m < CR_MODES; m++) {
				size_t qq = (qi + (size_t)t * 7) % CR_NQ; /* threads start apart */
				if (cr_query(c, m, qq, c->got[t][m][qq], &c->ngot[t][m][qq]))
					c->errors[t]++;
				const rvf_field *f;
				size_t nf;
				if (rvf_get_meta(c->s, qq * 5, &f, &nf) || nf != 1 || f[0].v.u64 != (qq * 5) % 4)
					c->errors[t]++;
				if (rvf_live_count(c->s) != CR_N + 1)
					c->errors[t]++;
			}
	return NULL;
}

/* Field by field: rvf_hit has padding after the float. */
static int same_hits(const rvf_hit *a, size_t na, const rvf_hit *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].id != b[i].id || memcmp(&a[i].distance, &b[i].distance, sizeof a[i].distance))
			return 0;
	return 1;
}

static void test_concurrent_readers(void)
{
	static struct cr_ctx c; /* large: keep it off the stack */
	char path[512];
	rvf_create_opts co = {.dimension = CR_DIM, .metric = RVF_METRIC_L2};
	uint64_t st = 42, *ids = malloc((CR_N + 1) * sizeof *ids);
	float *v = malloc((size_t)(CR_N + 1) * CR_DIM * sizeof *v), *q = malloc(CR_NQ * CR_DIM * sizeof *q);
	rvf_field *fields = malloc((CR_N + 1) * sizeof *fields);
	const rvf_field **rows = malloc((CR_N + 1) * sizeof *rows);
	size_t *counts = malloc((CR_N + 1) * sizeof *counts);
	CU_ASSERT_FATAL(ids && v && q && fields && rows && counts);

	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.mu, NULL);
	for (size_t i = 0; i < (size_t)CR_N + 1; i++) {
		ids[i] = i;
		fields[i] = (rvf_field){.id = 0, .type = RVF_FIELD_U64, .v.u64 = i % 4};
		rows[i] = &fields[i];
		counts[i] = 1;
		for (int d = 0; d < CR_DIM; d++)
			v[i * CR_DIM + d] = cr_rand(&st);
	}
	for (size_t i = 0; i < CR_NQ * CR_DIM; i++)
		q[i] = cr_rand(&st);
	snprintf(path, sizeof path, "%s/concurrent_read.rvf", rvf_test_tmpdir());
	remove(path);
	CU_ASSERT_FATAL(rvf_create(path, &co, &c.s) == 0);
	CU_ASSERT_FATAL(rvf_ingest_meta(c.s, ids, v, CR_N, rows, counts, NULL) == 0);
	CU_ASSERT_FATAL(rvf_set_index_threads(c.s, 1) == 0);
	CU_ASSERT_FATAL(rvf_index_build(c.s, 8, 64) == 0);
	/* one more write: the index's storage is stale when the readers start */
	CU_ASSERT_FATAL(rvf_ingest_meta(c.s, ids + CR_N, v + (size_t)CR_N * CR_DIM, 1, rows + CR_N,
					counts + CR_N, NULL) == 0);
	CU_ASSERT_FATAL(rvf_filter_parse("{\"eq\":{\"field\":0,\"value\":2}}", (rvf_filter **)&c.f) == 0);
	c.q = q;

	pthread_t th[CR_THREADS];
	for (int t = 0; t < CR_THREADS; t++)
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, cr_reader, &c) == 0);
	for (int t = 0; t < CR_THREADS; t++)
		pthread_join(th[t], NULL);

	int mismatches = 0, errors = 0;
	for (int m = 0; m < CR_MODES; m++)
		for (size_t qi = 0; qi < CR_NQ; qi++) {
			rvf_hit want[CR_K];
			size_t nwant = 0;
			CU_ASSERT(cr_query(&c, m, qi, want, &nwant) == 0);
			CU_ASSERT(nwant == CR_K);
			for (int t = 0; t < CR_THREADS; t++)
				mismatches += !same_hits(c.got[t][m][qi], c.ngot[t][m][qi], want, nwant);
		}
	for (int t = 0; t < CR_THREADS; t++)
		errors += c.errors[t];
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(mismatches, 0);

	rvf_filter_free((rvf_filter *)c.f);
	rvf_close(c.s);
	pthread_mutex_destroy(&c.mu);
	free(ids);
	free(v);
	free(q);
	free(fields);
	free(rows);
	free(counts);
}

RVF_SUITE(concurrent_read, {"4 readers on one handle answer as one", test_concurrent_readers});
