/* quant_bench.c — quantized search of the store (rvf_quantize +
 * rvf_query_ex opts.quant) vs the exact scan, 100k x 128 clustered data.
 *
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Iuser/lib bench/quant_bench.c \
 *       build/librvf.a $(pkg-config --libs jansson libsodium zlib libisal) -lm -lpthread \
 *       -o build/bench/quant_bench
 *   build/bench/quant_bench [N] [NQ]      (markdown table on stdout)
 *
 * One thread; QPS = queries / wall time of the query loop; recall@10
 * against the exact scan's ids. The open time is measured with and without
 * a QUANT_SEG (the codes are derived at open). */
#include "distance.h"
#include "rvf.h"
#include "sq8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t st = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
	st = st * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(st >> 33);
}
static float frand(void) { return (float)rnd() / 2147483648.0f; }
static float gauss(void)
{
	float u = frand() + 1e-7f, v = frand();
	return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

#define K 10
static uint64_t *truth;

static void run(const rvf_store *s, const float *qs, size_t nq, uint32_t dim, const char *name, int quant,
		uint32_t rerank, int exact)
{
	rvf_hit h[K];
	size_t nh, hit = 0;
	double t0 = now();
	for (size_t i = 0; i < nq; i++) {
		rvf_query_opts o = {.k = K, .exact = exact, .quant = quant, .rerank = rerank};
		if (rvf_query_ex(s, qs + i * dim, dim, &o, h, &nh)) {
			fprintf(stderr, "query: %s\n", rvf_last_error());
			exit(1);
		}
		if (!truth[i * K] && exact)
			for (size_t j = 0; j < nh; j++)
				truth[i * K + j] = h[j].id;
		for (size_t j = 0; j < nh; j++)
			for (size_t t = 0; t < K; t++)
				hit += h[j].id == truth[i * K + t];
	}
	double dt = now() - t0;
	printf("| %-28s | %8u | %9.0f | %7.3f | %6.4f |\n", name, rerank ? rerank : (quant ? 4 * K : 0),
	       nq / dt, dt / nq * 1e3, (double)hit / (nq * K));
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, nq = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
	uint32_t dim = 128, nc = 100;
	float *c = malloc((size_t)nc * dim * 4), *v = malloc((n + nq) * dim * 4);
	for (size_t i = 0; i < (size_t)nc * dim; i++)
		c[i] = frand() * 2 - 1;
	for (size_t i = 0; i < n + nq; i++) {
		const float *cc = c + (size_t)(rnd() % nc) * dim;
		for (uint32_t d = 0; d < dim; d++)
			v[i * dim + d] = cc[d] + 0.15f * gauss();
	}
	uint64_t *ids = malloc(n * 8);
	for (size_t i = 0; i < n; i++)
		ids[i] = i + 1;
	char path[] = "/tmp/quant_bench_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	rvf_store *s;
	rvf_create_opts co = {.dimension = dim, .metric = RVF_METRIC_L2};
	if (rvf_create(path, &co, &s) || rvf_set_index_policy(s, RVF_INDEX_OFF) || rvf_ingest(s, ids, v, n, NULL)) {
		fprintf(stderr, "%s\n", rvf_last_error());
		return 1;
	}
	rvf_close(s);
	double best_plain = 1e9, best_q = 1e9, tq;
	for (int r = 0; r < 5; r++) {
		double t0 = now();
		rvf_open(path, RVF_OPEN_READONLY, &s);
		double t = now() - t0;
		best_plain = t < best_plain ? t : best_plain;
		rvf_close(s);
	}
	rvf_open(path, 0, &s);
	double t0 = now();
	if (rvf_quantize(s, RVF_QUANT_SQ8)) {
		fprintf(stderr, "%s\n", rvf_last_error());
		return 1;
	}
	tq = now() - t0;
	rvf_close(s);
	for (int r = 0; r < 5; r++) {
		t0 = now();
		rvf_open(path, RVF_OPEN_READONLY, &s);
		double t = now() - t0;
		best_q = t < best_q ? t : best_q;
		rvf_close(s);
	}
	rvf_open(path, RVF_OPEN_READONLY, &s);
	const float *qs = v + n * dim;
	truth = calloc(nq * K, 8);
	printf("%zu x %u clustered (%u centres, sigma 0.15), %zu queries, k = %d, 1 thread\n\n", n, dim, nc, nq, K);
	printf("open: %.1f ms without QUANT_SEG, %.1f ms with (codes derived at open); rvf_quantize %.1f ms\n\n",
	       best_plain * 1e3, best_q * 1e3, tq * 1e3);
	printf("| %-28s | %8s | %9s | %7s | %6s |\n|---|---:|---:|---:|---:|\n", "method", "rerank", "QPS",
	       "ms/q", "R@10");
	char name[64];
	run(s, qs, nq, dim, "exact f32 (warm-up, truth)", 0, 0, 1);
	snprintf(name, sizeof name, "exact f32 (%s)", rvf_simd_name(rvf_simd_active()));
	run(s, qs, nq, dim, name, 0, 0, 1);
	uint32_t rr[] = {40, 100};
	for (int lv = SQ8_SCALAR; lv <= SQ8_VNNI; lv++) {
		if (sq8_force(lv))
			continue;
		for (int j = 0; j < 2; j++) {
			snprintf(name, sizeof name, "sq8 %s", sq8_name(lv));
			run(s, qs, nq, dim, name, RVF_QUANT_SQ8, rr[j], 0);
		}
	}
	sq8_force(SQ8_AUTO);
	uint32_t rb[] = {40, 200, 1000};
	for (int j = 0; j < 3; j++)
		run(s, qs, nq, dim, "binary (popcnt)", RVF_QUANT_BINARY, rb[j], 0);
	rvf_close(s);
	unlink(path);
	return 0;
}
