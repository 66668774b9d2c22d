/* bench_ingest.c — ingest / open / query timings of librvf, the C side of the
 * "ours vs reference binding" benchmark (bench/ref_bench.js is the other side;
 * both take the same arguments and print the same JSON lines).
 * Build (after `make build/librvf.a`):
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/bench_ingest.c build/librvf.a \
 *       -ljansson -lsodium -lz -lisal -lbpf -lm -lpthread -o build/bench/bench_ingest
 * Usage:
 *   bench_ingest ingest BASE.f32 N DIM STORE BATCH
 *       times rvf_create + rvf_ingest of N rows in batches of BATCH (ids 0..N-1)
 *       + rvf_close. STORE must not exist.
 *   bench_ingest query STORE QUERIES.f32 NQ DIM K [TOPK_OUT]
 *       times rvf_open(READONLY), the first rvf_query (query row 0) and then
 *       NQ queries (rows 0..NQ-1); writes "qi id1 .. idK" lines to TOPK_OUT.
 * Output: one JSON object per line: {"impl":"ours","step":...,"ms":...}.
 * Timer: CLOCK_MONOTONIC. */
#include "rvf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static float *load_f32(const char *path, size_t rows, uint32_t dim)
{
	FILE *f = fopen(path, "rb");
	float *v = malloc(rows * dim * sizeof(float));

	if (!f || !v || fread(v, sizeof(float) * dim, rows, f) != rows) {
		fprintf(stderr, "bench_ingest: cannot read %zu x %u floats from %s\n", rows, dim,
			path);
		exit(1);
	}
	fclose(f);
	return v;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_ingest: %s: %s (%s)\n", what, rvf_strerror(rc), rvf_last_error());
	exit(1);
}

static int do_ingest(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: bench_ingest ingest BASE.f32 N DIM STORE BATCH\n");
		return 2;
	}
	size_t n = strtoul(argv[3], NULL, 10);
	uint32_t dim = (uint32_t)strtoul(argv[4], NULL, 10);
	const char *store = argv[5];
	size_t batch = strtoul(argv[6], NULL, 10);
	float *vec = load_f32(argv[2], n, dim);
	uint64_t *ids = malloc(n * sizeof(uint64_t));
	rvf_create_opts o = {.dimension = dim, .metric = RVF_METRIC_L2, .profile = 0};
	rvf_store *s = NULL;
	uint64_t accepted = 0;
	double t_create, t_ingest, t_close, t0;
	int rc;

	for (size_t i = 0; i < n; i++)
		ids[i] = i;

	t0 = now_ms();
	if ((rc = rvf_create(store, &o, &s)))
		die("rvf_create", rc);
	/* like for like with the reference's ingest: no HNSW build here (the
	 * default policy would build it at 20,000 vectors) */
	if ((rc = rvf_set_index_policy(s, RVF_INDEX_OFF)))
		die("rvf_set_index_policy", rc);
	t_create = now_ms();
	for (size_t off = 0; off < n; off += batch) {
		size_t m = n - off < batch ? n - off : batch;
		rvf_ingest_result r;

		if ((rc = rvf_ingest(s, ids + off, vec + off * dim, m, &r)))
			die("rvf_ingest", rc);
		accepted += r.accepted;
	}
	t_ingest = now_ms();
	rvf_close(s);
	t_close = now_ms();
	if (accepted != n) {
		fprintf(stderr, "bench_ingest: accepted %llu of %zu\n", (unsigned long long)accepted, n);
		return 1;
	}
	printf("{\"impl\":\"ours\",\"step\":\"ingest_b%zu\",\"ms\":%.3f,\"create_ms\":%.3f,"
	       "\"ingest_ms\":%.3f,\"close_ms\":%.3f,\"n\":%zu,\"batches\":%zu}\n",
	       batch, t_close - t0, t_create - t0, t_ingest - t_create, t_close - t_ingest, n,
	       (n + batch - 1) / batch);
	free(vec);
	free(ids);
	return 0;
}

static int do_query(int argc, char **argv)
{
	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: bench_ingest query STORE QUERIES.f32 NQ DIM K [TOPK_OUT]\n");
		return 2;
	}
	const char *store = argv[2];
	size_t nq = strtoul(argv[4], NULL, 10);
	uint32_t dim = (uint32_t)strtoul(argv[5], NULL, 10);
	size_t k = strtoul(argv[6], NULL, 10);
	float *q = load_f32(argv[3], nq, dim);
	rvf_hit *hits = malloc(nq * k * sizeof(rvf_hit));
	size_t *nout = malloc(nq * sizeof(size_t));
	rvf_store *s = NULL;
	double t0, t_open, t_first, t_all;
	int rc;

	t0 = now_ms();
	if ((rc = rvf_open(store, RVF_OPEN_READONLY, &s)))
		die("rvf_open", rc);
	t_open = now_ms();
	if ((rc = rvf_query(s, q, dim, k, hits, &nout[0])))
		die("rvf_query", rc);
	t_first = now_ms();
	printf("{\"impl\":\"ours\",\"step\":\"open_first_query\",\"ms\":%.3f,\"open_ms\":%.3f,"
	       "\"first_query_ms\":%.3f,\"k\":%zu,\"hits\":%zu}\n",
	       t_first - t0, t_open - t0, t_first - t_open, k, nout[0]);
	fflush(stdout);

	t0 = now_ms();
	for (size_t i = 0; i < nq; i++)
		if ((rc = rvf_query(s, q + i * dim, dim, k, hits + i * k, &nout[i])))
			die("rvf_query", rc);
	t_all = now_ms();
	printf("{\"impl\":\"ours\",\"step\":\"query_mean\",\"ms\":%.4f,\"queries\":%zu,\"k\":%zu}\n",
	       (t_all - t0) / (double)nq, nq, k);

	if (argc == 8) {
		FILE *f = fopen(argv[7], "w");

		if (!f) {
			perror(argv[7]);
			return 1;
		}
		for (size_t i = 0; i < nq; i++) {
			fprintf(f, "%zu", i);
			for (size_t j = 0; j < nout[i]; j++)
				fprintf(f, " %llu", (unsigned long long)hits[i * k + j].id);
			fputc('\n', f);
		}
		fclose(f);
	}
	rvf_close(s);
	free(q);
	free(hits);
	free(nout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ingest"))
		return do_ingest(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "query"))
		return do_query(argc, argv);
	fprintf(stderr, "usage: bench_ingest ingest|query ...\n");
	return 2;
}
