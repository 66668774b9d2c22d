/* bench_distance.c — ns/vector of rvf_dist_batch per SIMD level, D=128.
 * Build (after `make build/librvf.a`):
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Iuser/lib bench/bench_distance.c build/librvf.a -lm -o build/bench_distance
 * Usage: build/bench_distance [n [dim]]   (defaults 100000, 128)
 * Two working sets: all n rows (memory-bound once beyond L3) and the first
 * 1000 rows (cache-resident, the kernels' compute speed). Best of 7 runs. */
#include "distance.h"
#include "rvf.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* best ns per vector over 7 runs, each scanning `total` rows in chunks */
static double run(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		  size_t total, float *out)
{
	double best = 1e30;

	for (int rep = 0; rep < 7; rep++) {
		double t0 = now_ns();

		for (size_t done = 0; done < total; done += n)
			rvf_dist_batch(metric, q, base, n, dim, dim, out);
		double t = (now_ns() - t0) / (double)total;
		best = t < best ? t : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	uint32_t dim = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 128;
	size_t small = n < 1000 ? n : 1000;
	float *base = aligned_alloc(64, (n * dim * sizeof(float) + 63) & ~(size_t)63);
	float *q = malloc(dim * sizeof(float)), *out = malloc(n * sizeof(float));
	static const char *mname[] = {"l2", "ip", "cosine"};
	volatile float sink = 0;

	if (!base || !q || !out)
		return 1;
	srand(1);
	for (size_t i = 0; i < n * dim; i++)
		base[i] = rand() / (float)RAND_MAX - 0.5f;
	for (uint32_t i = 0; i < dim; i++)
		q[i] = rand() / (float)RAND_MAX - 0.5f;

	printf("dim %u, ns/vector: %zu rows (%.1f MB) | %zu rows (cache)\n", dim, n,
	       n * dim * 4 / 1e6, small);
	for (int level = RVF_SIMD_SCALAR; level <= RVF_SIMD_AVX512; level++) {
		if (rvf_simd_force(level)) {
			printf("%-7s unsupported\n", rvf_simd_name(level));
			continue;
		}
		printf("%-7s", rvf_simd_name(level));
		for (int m = 0; m < 3; m++) {
			double big = run(m, q, base, n, dim, n, out);
			double hot = run(m, q, base, small, dim, 200 * small, out);

			sink += out[0];
			printf("  %s %6.2f | %6.2f", mname[m], big, hot);
		}
		printf("\n");
	}
	free(base);
	free(q);
	free(out);
	return 0;
}
