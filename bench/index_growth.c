/* index_growth.c — driver for bench/index_growth.sh: file growth per small
 * ingest into an indexed store, index build time by thread count, recall.
 *
 *   index_growth DIR N DIM THREADS...
 * Creates DIR/g.rvf with N clustered vectors (policy off, one batch),
 * builds the index with each thread count (rvf_index_build) reporting build
 * seconds and recall@10 vs the exact scan (200 queries), then does 100
 * one-vector ingests reporting the file growth of each. One JSON object per
 * line on stdout. */
#include "rvf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static uint64_t rs = 20240601;
static double urand(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return ((rs >> 11) + 0.5) / 9007199254740992.0;
}
static float grand(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fsize(const char *p)
{
	struct stat st;
	return stat(p, &st) ? 0 : (uint64_t)st.st_size;
}

static float *cent;
static void points(float *v, size_t n, uint32_t dim)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)(urand() * 100) % 100;
		for (uint32_t d = 0; d < dim; d++)
			v[i * dim + d] = cent[k * dim + d] + 0.15f * grand();
	}
}

static double recall(rvf_store *s, const float *q, size_t nq, uint32_t dim)
{
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
	return tot ? (double)hit / (double)tot : 0;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return fprintf(stderr, "usage: index_growth DIR N DIM THREADS...\n"), 2;
	char path[4096];
	snprintf(path, sizeof path, "%s/g.rvf", argv[1]);
	remove(path);
	size_t n = strtoull(argv[2], NULL, 10);
	uint32_t dim = (uint32_t)strtoul(argv[3], NULL, 10);
	cent = malloc(100 * (size_t)dim * sizeof *cent);
	for (size_t i = 0; i < 100 * (size_t)dim; i++)
		cent[i] = (float)urand();
	float *v = malloc((n + 100) * dim * sizeof *v), *q = malloc(200 * (size_t)dim * sizeof *q);
	uint64_t *ids = malloc((n + 100) * sizeof *ids);
	points(v, n + 100, dim);
	points(q, 200, dim);
	for (size_t i = 0; i < n + 100; i++)
		ids[i] = i;
	rvf_store *s;
	rvf_create_opts co = {.dimension = dim};
	if (rvf_create(path, &co, &s) || rvf_set_index_policy(s, RVF_INDEX_OFF) || rvf_ingest(s, ids, v, n, NULL))
		return fprintf(stderr, "setup: %s\n", rvf_last_error()), 1;
	uint64_t noindex = fsize(path);
	for (int a = 4; a < argc; a++) {
		unsigned t = (unsigned)strtoul(argv[a], NULL, 10);
		rvf_set_index_threads(s, t);
		double t0 = now_s();
		if (rvf_index_build(s, 16, 200))
			return fprintf(stderr, "build: %s\n", rvf_last_error()), 1;
		double bs = now_s() - t0;
		printf("{\"build_s\": %.2f, \"threads\": %u, \"recall10\": %.4f, \"file_no_index\": %llu, \"file\": %llu}\n",
		       bs, t, recall(s, q, 200, dim), (unsigned long long)noindex, (unsigned long long)fsize(path));
		fflush(stdout);
	}
	rvf_close(s);
	/* 100 one-vector ingests, each in its own open / commit / close like
	 * `rvf ingest` */
	uint64_t prev = fsize(path);
	for (size_t i = 0; i < 100; i++) {
		if (rvf_open(path, 0, &s) || rvf_ingest(s, ids + n + i, v + (n + i) * dim, 1, NULL))
			return fprintf(stderr, "ingest: %s\n", rvf_last_error()), 1;
		rvf_close(s);
		uint64_t now = fsize(path);
		printf("{\"ingest\": %zu, \"growth\": %llu}\n", i + 1, (unsigned long long)(now - prev));
		prev = now;
	}
	if (rvf_open(path, RVF_OPEN_READONLY, &s))
		return 1;
	rvf_status st;
	rvf_index_stats is;
	rvf_get_status(s, &st);
	rvf_get_index_stats(s, &is);
	printf("{\"final_recall10\": %.4f, \"warning\": \"%s\", \"persisted\": %d, \"file\": %llu, \"status_file\": %llu, "
	       "\"dead_bytes\": %llu, \"checkpoint_bytes\": %llu, \"log_bytes\": %llu}\n",
	       recall(s, q, 200, dim), rvf_open_warning(s)[0] ? "yes" : "", is.persisted,
	       (unsigned long long)fsize(path), (unsigned long long)st.file_size, (unsigned long long)st.dead_bytes,
	       (unsigned long long)is.checkpoint_bytes, (unsigned long long)is.log_bytes);
	rvf_close(s);
	return 0;
}
