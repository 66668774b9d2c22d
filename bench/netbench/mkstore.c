/* mkstore.c — creates an L2 store from raw little-endian float32 rows
 * (ids 0..n-1), faster than JSON for the big benchmark sets:
 *   mkstore OUT.rvf DATA.f32 DIM */
#include <stdio.h>
#include <stdlib.h>

#include "rvf.h"

int main(int argc, char **argv)
{
	rvf_create_opts o = { .metric = RVF_METRIC_L2 };
	rvf_ingest_result r;
	rvf_store *s;
	uint64_t *ids;
	float *v;
	long n;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: mkstore OUT.rvf DATA.f32 DIM\n");
		return 2;
	}
	o.dimension = (uint32_t)atoi(argv[3]);
	f = fopen(argv[2], "rb");
	if (!f || fseek(f, 0, SEEK_END)) {
		perror(argv[2]);
		return 1;
	}
	n = ftell(f) / (long)(o.dimension * sizeof(float));
	rewind(f);
	v = malloc((size_t)n * o.dimension * sizeof(float));
	ids = malloc((size_t)n * sizeof(*ids));
	if (!v || !ids || fread(v, sizeof(float) * o.dimension, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "mkstore: cannot read %s\n", argv[2]);
		return 1;
	}
	for (long i = 0; i < n; i++)
		ids[i] = (uint64_t)i;
	if (rvf_create(argv[1], &o, &s) || rvf_set_index_policy(s, RVF_INDEX_OFF) || rvf_ingest(s, ids, v, (size_t)n, &r)) {
		fprintf(stderr, "mkstore: %s\n", rvf_last_error());
		return 1;
	}
	rvf_close(s);
	printf("%s: %ld vectors, dim %u, epoch %u\n", argv[1], n, o.dimension, r.epoch);
	return 0;
}
