/* rvfbench.c — UDP load generator for rvfd / the XDP path (rvfclient):
 *
 *   rvfbench HOST:PORT QUERIES.f32 DIM K [--n N] [--window W] [--daemon]
 *            [--no-cache] [--i8] [--seconds S]
 *
 * Phase 1 (latency): N queries one at a time (cycling through the file),
 * RTT of each from the client library (send of the answered attempt to
 * reply). Phase 2 (throughput): the same N queries through
 * rvf_client_batch with W requests in flight, repeated for about S seconds
 * (default 2). Prints one JSON object: p50/p90/p99/mean latency in us,
 * queries/s, answers by path, errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rvfclient.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned n = 200, window = 16, paths[4] = { 0 }, bpaths[4] = { 0 };
	double seconds = 2.0, *lat, t0, el, sum = 0;
	uint16_t flags = 0;
	int i8 = 0, errs = 0, berrs = 0;
	size_t nq, answered = 0, sent = 0;
	uint32_t dim, k;
	rvf_client *c;
	float *qs;
	FILE *f;

	if (argc < 5) {
		fprintf(stderr, "usage: rvfbench HOST:PORT QUERIES.f32 DIM K [--n N] [--window W] "
				"[--daemon] [--no-cache] [--i8] [--seconds S]\n");
		return 2;
	}
	dim = (uint32_t)atoi(argv[3]);
	k = (uint32_t)atoi(argv[4]);
	for (int a = 5; a < argc; a++) {
		if (!strcmp(argv[a], "--n") && a + 1 < argc)
			n = (unsigned)atoi(argv[++a]);
		else if (!strcmp(argv[a], "--window") && a + 1 < argc)
			window = (unsigned)atoi(argv[++a]);
		else if (!strcmp(argv[a], "--seconds") && a + 1 < argc)
			seconds = atof(argv[++a]);
		else if (!strcmp(argv[a], "--daemon"))
			flags |= RVF_WF_DAEMON;
		else if (!strcmp(argv[a], "--no-cache"))
			flags |= RVF_WF_NO_CACHE;
		else if (!strcmp(argv[a], "--i8"))
			i8 = 1;
		else {
			fprintf(stderr, "rvfbench: bad argument %s\n", argv[a]);
			return 2;
		}
	}
	f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	nq = (size_t)ftell(f) / (dim * sizeof(float));
	rewind(f);
	qs = malloc(nq * dim * sizeof(float));
	if (!nq || fread(qs, sizeof(float) * dim, nq, f) != nq) {
		fprintf(stderr, "rvfbench: cannot read queries\n");
		return 1;
	}
	fclose(f);
	if (rvf_client_open(argv[1], &c)) {
		fprintf(stderr, "rvfbench: bad address %s\n", argv[1]);
		return 1;
	}
	int8_t *q8 = malloc(nq * dim);
	float *sc = malloc(nq * sizeof(float));
	struct rvf_client_query_spec *spec = malloc(n * sizeof(*spec));
	rvf_client_result *res = malloc(n * sizeof(*res)), r;
	int *err = malloc(n * sizeof(int));

	for (size_t i = 0; i < nq; i++)
		rvf_client_quantize(qs + i * dim, dim, q8 + i * dim, &sc[i]);
	lat = malloc(n * sizeof(double));
	/* warm-up */
	for (unsigned i = 0; i < 20 && i < n; i++)
		rvf_client_query(c, qs + (i % nq) * dim, dim, k, flags, 1000, 2, &r);
	for (unsigned i = 0; i < n; i++) {
		size_t qi = i % nq;
		int rc = i8 ? rvf_client_query_i8(c, q8 + qi * dim, dim, sc[qi], k, flags, 1000, 2, &r)
			    : rvf_client_query(c, qs + qi * dim, dim, k, flags, 1000, 2, &r);

		if (rc || r.status != RVF_ST_OK) {
			errs++;
			lat[i] = 1e9;
			continue;
		}
		lat[i] = (double)r.rtt_ns / 1e3;
		sum += lat[i];
		paths[r.path & 3]++;
	}
	qsort(lat, n, sizeof(double), cmpd);
	for (unsigned i = 0; i < n; i++) {
		size_t qi = i % nq;

		spec[i].vec = i8 ? (const void *)(q8 + qi * dim) : (const void *)(qs + qi * dim);
		spec[i].scale = i8 ? sc[qi] : 0;
		spec[i].flags = (uint16_t)(flags | (i8 ? RVF_WF_I8 : 0));
	}
	t0 = now_s();
	do {
		int got = rvf_client_batch(c, spec, n, dim, k, window, 1000, 1, res, err);

		if (got < 0) {
			fprintf(stderr, "rvfbench: batch: %s\n", strerror(-got));
			return 1;
		}
		answered += (size_t)got;
		sent += n;
		for (unsigned i = 0; i < n; i++) {
			if (err[i] || res[i].status != RVF_ST_OK)
				berrs++;
			else
				bpaths[res[i].path & 3]++;
		}
		el = now_s() - t0;
	} while (el < seconds);
	printf("{\"n\": %u, \"k\": %u, \"dim\": %u, \"window\": %u, \"p50_us\": %.1f, \"p90_us\": %.1f, "
	       "\"p99_us\": %.1f, \"mean_us\": %.1f, \"errors\": %d, \"lat_paths\": {\"xdp\": %u, "
	       "\"cache\": %u, \"daemon\": %u}, \"qps\": %.0f, \"batch_sent\": %zu, "
	       "\"batch_answered\": %zu, \"batch_errors\": %d, \"batch_paths\": {\"xdp\": %u, "
	       "\"cache\": %u, \"daemon\": %u}}\n",
	       n, k, dim, window, lat[n / 2], lat[(n * 9) / 10], lat[(n * 99) / 100],
	       n > (unsigned)errs ? sum / (n - (unsigned)errs) : 0.0, errs, paths[1], paths[2],
	       paths[3], (double)answered / el, sent, answered, berrs, bpaths[1], bpaths[2], bpaths[3]);
	rvf_client_close(c);
	return 0;
}
