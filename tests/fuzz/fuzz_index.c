/* fuzz_index.c — libFuzzer harness for the INDEX_SEG codec (hnsw_codec.c).
 *
 * Input byte 0 picks the metric, byte 1 the dimension (1..16), the rest is
 * the payload. hnsw_decode must reject it (RVF_E_CORRUPT, nothing returned)
 * or give a graph that (1) re-encodes to a payload decoding to the same
 * graph and ids, whose encoding is a fixed point, (2) answers
 * searches on synthetic vectors with at most k distinct, present nodes. */
#include "fuzz_util.h"
#include "hnsw.h"
#include "rvf.h"
#include "topk.h"

static void same_graph(const hnsw_index *a, const hnsw_index *b)
{
	uint32_t ea, eb;
	int la, lb;
	if (hnsw_count(a) != hnsw_count(b) || hnsw_capacity(a) != hnsw_capacity(b) ||
	    hnsw_m(a) != hnsw_m(b) || hnsw_entry(a, &ea, &la) != hnsw_entry(b, &eb, &lb) || ea != eb ||
	    la != lb)
		abort();
	for (uint32_t v = 0; v < hnsw_capacity(a); v++) {
		if (hnsw_level(a, v) != hnsw_level(b, v))
			abort();
		for (int l = 0; l <= hnsw_level(a, v); l++) {
			uint32_t ca, cb;
			const uint32_t *x = hnsw_links(a, v, l, &ca), *y = hnsw_links(b, v, l, &cb);
			if (ca != cb || (ca && memcmp(x, y, ca * sizeof *x)))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	int metric = data[0] % 3;
	uint32_t dim = 1 + data[1] % 16;
	size_t len = size - 2;
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		abort();
	memcpy(p, data + 2, len);
	hnsw_index *x = NULL;
	uint64_t *ids = NULL, n = 0;
	int rc = hnsw_decode(p, len, dim, metric, 42, &x, &ids, &n);
	if (rc != 0) {
		if (x || ids || n || rc > 0)
			abort();
		free(p);
		return 0;
	}
	for (uint64_t k = 1; k < n; k++)
		if (ids[k] <= ids[k - 1])
			abort(); /* documented: strictly ascending */
	/* The decoder ignores reserved header bytes (and ef 0 means 200), so
	 * the first re-encoding may differ; it must describe the same graph and
	 * be a fixed point. */
	uint8_t *enc, *enc2;
	size_t elen, elen2;
	if (hnsw_encode(x, ids, &enc, &elen, NULL) != 0)
		abort();
	hnsw_index *y = NULL;
	uint64_t *ids2 = NULL, n2 = 0;
	if (hnsw_decode(enc, elen, dim, metric, 42, &y, &ids2, &n2) != 0 || n2 != n ||
	    memcmp(ids, ids2, n * sizeof *ids))
		abort();
	same_graph(x, y);
	if (hnsw_encode(y, ids2, &enc2, &elen2, NULL) != 0 || elen2 != elen || memcmp(enc, enc2, elen))
		abort();
	hnsw_free(y);
	free(ids2);
	free(enc);
	free(enc2);
	float *vecs = malloc((size_t)n * dim * sizeof *vecs);
	if (!vecs)
		abort();
	for (size_t i = 0; i < (size_t)n * dim; i++)
		vecs[i] = (float)((i * 2654435761u) % 17) - 8.0f;
	hnsw_set_storage(x, vecs, dim);
	float q[16];
	for (uint32_t d = 0; d < dim; d++)
		q[d] = (float)d - 3.0f;
	rvf_topk_item out[10];
	size_t nout = 0;
	hnsw_scratch *s = hnsw_scratch_new();
	if (!s)
		abort();
	rc = hnsw_search_ex(x, s, q, 10, 32, NULL, 0, out, &nout, NULL);
	if (rc == 0) {
		if (nout > 10 || nout > n)
			abort();
		for (size_t i = 0; i < nout; i++) {
			if (out[i].id >= n || hnsw_level(x, (uint32_t)out[i].id) < 0)
				abort();
			for (size_t j = 0; j < i; j++)
				if (out[j].id == out[i].id)
					abort();
		}
	}
	hnsw_scratch_free(s);
	free(vecs);
	hnsw_free(x);
	free(ids);
	free(p);
	return 0;
}
