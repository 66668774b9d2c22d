/* cli_qbatch.c — batch `rvf query PATH --input QUERIES -k K [--json]` with
 * the single-query options (--filter, --with-metadata, --ef-search,
 * --timeout-ms per query, --exact). A query that times out ends the batch:
 * the results so far (its own partial ones included) are printed, exit 1.
 *
 * QUERIES is a JSON array of vectors or a 2-D float16/32/64 .npy
 * (recognised by its magic, not its name). elapsed_ms covers the searches
 * only: parsing, conversion and printing are outside the timed region.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		if (strcmp(a.dtype, "float32"))
			fprintf(stderr, "note: %s: %s .npy converted to float32\n", input, a.dtype);
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

static int print_text(const rvf_store *s, const rvf_hit *hits, const size_t *nout, size_t nq,
		      size_t kk, int with_meta, double ms)
{
	size_t i;

	for (i = 0; i < nq; i++) {
		printf("Query %zu results (%zu neighbors):\n", i, nout[i]);
		cli_print_hit_lines(s, hits + i * kk, nout[i], with_meta);
	}
	printf("Batch complete:\n");
	cli_kv("Queries", "%zu", nq);
	cli_kv("Search time", "%.3f ms", ms);
	return CLI_OK;
}

static int print_json(const rvf_store *s, const rvf_hit *hits, const size_t *nout, size_t nq,
		      size_t kk, uint64_t k, int with_meta, double ms)
{
	json_t *all = json_array();
	size_t i;

	for (i = 0; all && i < nq; i++) {
		json_t *one = cli_json_hits_meta(s, hits + i * kk, nout[i], with_meta);

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

int cli_query_batch(const char *path, const char *input, const struct cli_qopts *q, int json)
{
	struct qset qs = { 0 };
	rvf_query_opts o = { 0 };
	rvf_store *s = NULL;
	rvf_hit *hits = NULL;
	size_t *nout = NULL;
	size_t i, kk, dim, done;
	uint64_t t0;
	double ms = 0;
	int rc, qrc = 0;

	rc = load(input, &qs);
	if (rc)
		goto out;
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &s)))
		goto out;
	if (q->filter_names && !q->filter &&
	    (rc = cli_filter_names(s, q->filter_names, &((struct cli_qopts *)q)->filter)))
		goto out;
	dim = rvf_dimension(s);
	rc = convert(path, input, &qs, (uint32_t)dim);
	if (rc)
		goto out;
	kk = q->k < rvf_live_count(s) ? (size_t)q->k : (size_t)rvf_live_count(s);
	nout = calloc(qs.nq ? qs.nq : 1, sizeof *nout);
	hits = malloc((qs.nq && kk ? qs.nq * kk : 1) * sizeof *hits);
	if (!nout || !hits) {
		rc = cli_fail("out of memory");
		goto out;
	}
	o.k = kk;
	o.filter = q->filter;
	o.ef_search = q->ef_search;
	o.timeout_ms = q->timeout_ms;
	o.exact = q->exact;
	o.quant = q->quant;
	o.rerank = q->rerank;
	done = qs.nq;
	t0 = cli_now_ns();
	for (i = 0; kk && i < qs.nq; i++) {
		qrc = rvf_query_ex(s, qs.data + i * dim, (uint32_t)dim, &o, hits + i * kk, &nout[i]);
		if (qrc == RVF_E_TIMEOUT) {
			done = i + 1;
			break;
		}
		if (qrc) {
			rc = cli_store_fail(qrc);
			goto out;
		}
	}
	ms = cli_ms_since(t0);
	if (json)
		rc = print_json(s, hits, nout, done, kk, q->k, q->with_meta, ms);
	else
		rc = print_text(s, hits, nout, done, kk, q->with_meta, ms);
	if (qrc == RVF_E_TIMEOUT && done < qs.nq)
		rc = cli_fail("query %zu timed out after %u ms: its results are partial and "
			      "queries %zu..%zu were not run", done - 1, q->timeout_ms, done,
			      qs.nq - 1);
	else if (qrc == RVF_E_TIMEOUT)
		rc = cli_fail("query %zu timed out after %u ms: its results are partial",
			      done - 1, q->timeout_ms);
out:
	rvf_close(s);
	free(hits);
	free(nout);
	free(qs.data);
	json_decref(qs.json);
	return rc;
}
