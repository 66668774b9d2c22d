/* cli_qbatch.c — batch `rvf query PATH --input QUERIES -k K [--json]`.
 *
 * QUERIES is a JSON array of vectors or a 2-D little-endian float32 .npy
 * (recognised by its magic, not its name). elapsed_ms covers the searches
 * only: parsing, conversion and printing are outside the timed region.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "npy.h"

struct qset {
	size_t nq;
	float *data;  /* nq * dim once converted */
	json_t *json; /* JSON input until converted */
	uint64_t npy_cols;
};

/* Type checks that do not need the store (exit 1, nothing searched). */
static int check_json(const char *input, const json_t *root)
{
	size_t i, c;
	json_t *q, *x;

	if (!json_is_array(root))
		return cli_fail("%s: expected a JSON array of query vectors (arrays of numbers)",
				input);
	json_array_foreach(root, i, q) {
		if (!json_is_array(q))
			return cli_fail("%s: query %zu: expected an array of numbers", input, i);
		json_array_foreach(q, c, x) {
			if (!json_is_number(x))
				return cli_fail("%s: query %zu: component %zu is not a number",
						input, i, c);
		}
	}
	return CLI_OK;
}

static int load(const char *input, struct qset *qs)
{
	struct npy_f32 a;
	char err[512];
	int kind = npy_sniff(input);

	if (kind == 1) {
		if (npy_load_f32(input, &a, err, sizeof err))
			return cli_fail("%s", err);
		qs->nq = a.rows;
		qs->npy_cols = a.cols;
		qs->data = a.data;
		return CLI_OK;
	}
	/* Unreadable files fall through to jansson, which names the errno. */
	qs->json = cli_json_load(input);
	if (!qs->json)
		return CLI_FAIL;
	qs->nq = json_array_size(qs->json);
	return check_json(input, qs->json);
}

/* Brings every query to the store's dimension as one flat float array. */
static int convert(const char *path, const char *input, struct qset *qs, uint32_t dim)
{
	char what[600];
	size_t i, bad;

	if (!qs->json) {
		if (qs->nq && qs->npy_cols != dim) {
			snprintf(what, sizeof what, "each query in %s", input);
			return cli_dim_mismatch(path, what, qs->npy_cols, dim);
		}
		return CLI_OK;
	}
	qs->data = malloc((qs->nq ? qs->nq : 1) * dim * sizeof(float));
	if (!qs->data)
		return cli_fail("out of memory");
	for (i = 0; i < qs->nq; i++) {
		const json_t *q = json_array_get(qs->json, i);

		if (cli_json_floats(q, qs->data + i * dim, dim, &bad)) {
			snprintf(what, sizeof what, "query %zu in %s", i, input);
			return cli_dim_mismatch(path, what, json_array_size(q), dim);
		}
	}
	return CLI_OK;
}

static int print_text(const rvf_hit *hits, const size_t *nout, size_t nq, size_t kk,
		      double ms)
{
	size_t i, j;

	for (i = 0; i < nq; i++) {
		const rvf_hit *h = hits + i * kk;

		printf("Query %zu results (%zu neighbors):\n", i, nout[i]);
		for (j = 0; j < nout[i]; j++)
			printf("  [%zu] id=%llu distance=%.6f\n", j, (unsigned long long)h[j].id,
			       (double)h[j].distance);
	}
	printf("Batch complete:\n");
	cli_kv("Queries", "%zu", nq);
	cli_kv("Search time", "%.3f ms", ms);
	return CLI_OK;
}

static int print_json(const rvf_hit *hits, const size_t *nout, size_t nq, size_t kk,
		      uint64_t k, double ms)
{
	json_t *all = json_array();
	size_t i;

	for (i = 0; all && i < nq; i++) {
		json_t *one = cli_json_hits(hits + i * kk, nout[i]);

		if (!one || json_array_append_new(all, one)) {
			json_decref(all);
			all = NULL;
		}
	}
	if (!all)
		return cli_fail("out of memory building JSON output");
	return cli_json_print(json_pack("{s:o, s:f, s:o, s:o}",
					"count", cli_json_u64(nq),
					"elapsed_ms", ms,
					"k", cli_json_u64(k),
					"results", all));
}

int cli_query_batch(const char *path, const char *input, uint64_t k, int json)
{
	struct qset qs = { 0 };
	rvf_store *s = NULL;
	rvf_hit *hits = NULL;
	size_t *nout = NULL;
	size_t i, kk, dim;
	double t0, ms = 0;
	int rc;

	rc = load(input, &qs);
	if (rc)
		goto out;
	rc = cli_open(path, RVF_OPEN_READONLY, &s);
	if (rc) {
		rc = cli_store_fail(rc);
		goto out;
	}
	dim = rvf_dimension(s);
	rc = convert(path, input, &qs, (uint32_t)dim);
	if (rc)
		goto out;
	kk = k < rvf_live_count(s) ? (size_t)k : (size_t)rvf_live_count(s);
	nout = calloc(qs.nq ? qs.nq : 1, sizeof *nout);
	hits = malloc((qs.nq && kk ? qs.nq * kk : 1) * sizeof *hits);
	if (!nout || !hits) {
		rc = cli_fail("out of memory");
		goto out;
	}
	t0 = cli_now_ms();
	for (i = 0; kk && i < qs.nq; i++) {
		rc = rvf_query(s, qs.data + i * dim, (uint32_t)dim, kk, hits + i * kk, &nout[i]);
		if (rc) {
			rc = cli_store_fail(rc);
			goto out;
		}
	}
	ms = cli_now_ms() - t0;
	if (json)
		rc = print_json(hits, nout, qs.nq, kk, k, ms);
	else
		rc = print_text(hits, nout, qs.nq, kk, ms);
out:
	rvf_close(s);
	free(hits);
	free(nout);
	free(qs.data);
	json_decref(qs.json);
	return rc;
}
