/* xdp_ref.c — the XDP int8 path's expected answers, computed in C with the
 * loader's quantizer (user/lib/quant8.c) on the same store:
 *
 *   xdp_ref STORE QUERIES.f32 K [--i8]
 *
 * QUERIES.f32 is n x dim little-endian float32. For each query one line:
 * "id:distbits id:distbits ..." (distbits = hex f32 bits of the distance XDP
 * reports), the top-K by integer L2 over the offset-binary codes, ties by
 * vector index (the order the loader writes rvf_vecs for a brute-force
 * store), exactly as bpf/rvf_xdp.bpf.c scans. With --i8 the query is first
 * quantized the way the client library sends it (rvf_client_quantize) and
 * then re-quantized as XDP does (quant8_quantize_i8). L2 / brute force only
 * (no IVF): the tests keep N below the loader's scan budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant8_xdp.h"
#include "rvf.h"
#include "rvfclient.h"

struct cand {
	uint32_t l2, idx;
};

static int cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->l2 != y->l2)
		return x->l2 < y->l2 ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int main(int argc, char **argv)
{
	struct rvf_xdp_quant xq;
	quant8_params p;
	rvf_store *s;
	FILE *f;
	float *vecs, *q;
	uint64_t *ids, n;
	uint8_t *codes, *uq;
	struct cand *c;
	uint32_t dim, k;
	int i8;

	if (argc < 4) {
		fprintf(stderr, "usage: xdp_ref STORE QUERIES.f32 K [--i8]\n");
		return 2;
	}
	k = (uint32_t)atoi(argv[3]);
	i8 = argc > 4 && !strcmp(argv[4], "--i8");
	if (rvf_open(argv[1], RVF_OPEN_READONLY, &s)) {
		fprintf(stderr, "xdp_ref: %s\n", rvf_last_error());
		return 1;
	}
	dim = rvf_dimension(s);
	n = rvf_live_count(s);
	vecs = malloc(n * dim * sizeof(float));
	ids = malloc(n * sizeof(*ids));
	codes = malloc(n * dim);
	c = malloc(n * sizeof(*c));
	q = malloc(dim * sizeof(float));
	uq = malloc(dim + 4);
	for (uint64_t i = 0; i < n; i++) {
		const float *v;

		rvf_live_get(s, i, &ids[i], &v);
		memcpy(vecs + i * dim, v, dim * sizeof(float));
	}
	if (quant8_params_init(&p, vecs, n, dim, rvf_get_metric(s)) || quant8_fill_xdp(&p, &xq)) {
		fprintf(stderr, "xdp_ref: quantizer not usable in XDP\n");
		return 1;
	}
	for (uint64_t i = 0; i < n; i++)
		quant8_quantize(&p, vecs + i * dim, codes + i * dim);
	f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	while (fread(q, sizeof(float), dim, f) == dim) {
		if (i8) {
			int8_t *qi = malloc(dim);
			float scale;

			rvf_client_quantize(q, dim, qi, &scale);
			quant8_quantize_i8(&p, qi, scale, uq);
			free(qi);
		} else {
			quant8_quantize_raw(&p, q, uq);
		}
		for (uint64_t i = 0; i < n; i++) {
			c[i].l2 = quant8_l2(codes + i * dim, uq, dim);
			c[i].idx = (uint32_t)i;
		}
		qsort(c, n, sizeof(*c), cmp);
		for (uint32_t j = 0; j < k && j < n; j++)
			printf("%s%llu:%08x", j ? " " : "", (unsigned long long)ids[c[j].idx],
			       quant8_dist_bits(c[j].l2, xq.dist_bits));
		printf("\n");
	}
	fclose(f);
	quant8_params_free(&p);
	rvf_close(s);
	return 0;
}
