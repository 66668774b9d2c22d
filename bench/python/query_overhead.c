/* query_overhead.c — per-call cost of rvf_query_ex through the C API, the
 * baseline of bench/python/query_overhead.sh.
 *
 *   query_overhead STORE QUERIES.f32 NQ K MODE REPS
 *
 * MODE: exact | index (opts.exact = 1 / 0). Opens STORE read-only, reads NQ
 * float32 queries of the store's dimension, runs every query once to warm
 * up, then REPS passes over all of them into one preallocated hit buffer
 * (what a C caller does). Prints "ns_per_call N" and "checksum X" (sum of
 * the hit ids, so the Python side can check it ran the same queries). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rvf.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust on a loaded machine */
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	rvf_store *s = NULL;
	int err;

	if (argc != 7) {
		fprintf(stderr, "usage: %s STORE QUERIES.f32 NQ K exact|index REPS\n", argv[0]);
		return 2;
	}
	size_t nq = strtoull(argv[3], NULL, 10), k = strtoull(argv[4], NULL, 10);
	int exact = argv[5][0] == 'e';
	long reps = strtol(argv[6], NULL, 10);
	if ((err = rvf_open(argv[1], RVF_OPEN_READONLY, &s))) {
		fprintf(stderr, "error: %s\n", rvf_last_error());
		return 1;
	}
	uint32_t dim = rvf_dimension(s);
	float *q = malloc(nq * dim * sizeof *q);
	rvf_hit *hits = malloc(k * sizeof *hits);
	FILE *f = fopen(argv[2], "rb");
	if (!q || !hits || !f || fread(q, sizeof *q * dim, nq, f) != nq) {
		fprintf(stderr, "error: cannot read %zu queries of %u floats from %s\n", nq, dim, argv[2]);
		return 1;
	}
	fclose(f);
	rvf_query_opts o = { .k = k, .exact = exact };
	uint64_t checksum = 0;
	size_t nout;
	for (size_t i = 0; i < nq; i++) {
		if ((err = rvf_query_ex(s, q + i * dim, dim, &o, hits, &nout))) {
			fprintf(stderr, "error: %s\n", rvf_last_error());
			return 1;
		}
		for (size_t j = 0; j < nout; j++)
			checksum += hits[j].id;
	}
	double t0 = now_ns();
	for (long r = 0; r < reps; r++)
		for (size_t i = 0; i < nq; i++)
			rvf_query_ex(s, q + i * dim, dim, &o, hits, &nout);
	double t1 = now_ns();
	printf("ns_per_call %.1f\nchecksum %llu\n", (t1 - t0) / ((double)reps * nq),
	       (unsigned long long)checksum);
	free(q);
	free(hits);
	rvf_close(s);
	return 0;
}
