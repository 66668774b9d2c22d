/* gen_data.c — deterministic clustered benchmark data (no numpy needed).
 * Build: gcc -std=c11 -O2 bench/gen_data.c -lm -o build/bench/gen_data
 * Usage: gen_data OUTDIR [n [dim [nq [seed]]]]   (defaults 100000 128 100 42)
 * Writes OUTDIR/base.f32 (n x dim float32, row-major, little-endian; row i has
 * id i), OUTDIR/queries.f32 (nq x dim) and OUTDIR/queries.npy (same, as .npy).
 * Data: 256 centres uniform in [-1,1]^dim, each point = centre + N(0, 0.15^2);
 * queries drawn the same way from an independent stream. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t splitmix64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unif(void) /* (0,1) */
{
	return ((splitmix64() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
	return sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif());
}

static int write_rows(const char *path, const float *centres, size_t ncent, size_t n,
		      uint32_t dim, int npy)
{
	FILE *f = fopen(path, "wb");
	float *row = malloc(dim * sizeof(float));

	if (!f || !row) {
		perror(path);
		return -1;
	}
	if (npy) {
		char hdr[128];
		int len = snprintf(hdr, sizeof hdr,
				   "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %u), }",
				   n, dim);
		int total = 10 + len + 1;
		int pad = (64 - total % 64) % 64;
		uint16_t hlen = (uint16_t)(len + pad + 1);

		fwrite("\x93NUMPY\x01\x00", 1, 8, f);
		fputc(hlen & 0xff, f);
		fputc(hlen >> 8, f);
		fwrite(hdr, 1, (size_t)len, f);
		for (int i = 0; i < pad; i++)
			fputc(' ', f);
		fputc('\n', f);
	}
	for (size_t i = 0; i < n; i++) {
		const float *c = centres + (splitmix64() % ncent) * dim;

		for (uint32_t d = 0; d < dim; d++)
			row[d] = (float)(c[d] + 0.15 * gauss());
		if (fwrite(row, sizeof(float), dim, f) != dim) {
			perror(path);
			return -1;
		}
	}
	free(row);
	return fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTDIR [n [dim [nq [seed]]]]\n", argv[0]);
		return 2;
	}
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	uint32_t dim = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 128;
	size_t nq = argc > 4 ? strtoul(argv[4], NULL, 10) : 100;
	uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 42;
	size_t ncent = 256;
	float *centres = malloc(ncent * dim * sizeof(float));
	char path[4096];

	rng_state = seed;
	for (size_t i = 0; i < ncent * dim; i++)
		centres[i] = (float)(2.0 * unif() - 1.0);

	snprintf(path, sizeof path, "%s/base.f32", argv[1]);
	if (write_rows(path, centres, ncent, n, dim, 0))
		return 1;
	rng_state = seed ^ 0x5151515151515151ULL; /* independent query stream */
	snprintf(path, sizeof path, "%s/queries.f32", argv[1]);
	if (write_rows(path, centres, ncent, nq, dim, 0))
		return 1;
	rng_state = seed ^ 0x5151515151515151ULL;
	snprintf(path, sizeof path, "%s/queries.npy", argv[1]);
	if (write_rows(path, centres, ncent, nq, dim, 1))
		return 1;
	printf("{\"n\":%zu,\"dim\":%u,\"nq\":%zu,\"seed\":%llu,\"centres\":%zu}\n", n, dim, nq,
	       (unsigned long long)seed, ncent);
	free(centres);
	return 0;
}
