/* cli_query.c — `rvf query PATH -v "1,2,3" [-k K] [-f FILTER]
 * [--with-metadata] [--ef-search N] [--timeout-ms T] [--exact] [--json]`
 * and the option parsing for batch mode (`--input FILE`, see cli_qbatch.c).
 *
 * --filter takes either JSON grammar (the reference CLI's {"eq":{"field":0,
 * "value":5}} with and/or/not plus in/range, or the Node binding's
 * {"op":"eq",...}); see docs/METADATA.md §5. --with-metadata adds each hit's
 * fields in the simple form {"0": 5, "1": "text"}. A query that hits
 * --timeout-ms prints what it has and exits 1.
 * Stores are opened read-only: queries never take the writer lock. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "cli.h"
#include "rvf_frontend.h"

enum { OPT_JSON = 256, OPT_META, OPT_EF, OPT_TIMEOUT, OPT_EXACT, OPT_QUANT, OPT_RERANK };

static const struct option opts[] = {
	{ "vector", required_argument, NULL, 'v' },
	{ "input", required_argument, NULL, 'i' },
	{ "k", required_argument, NULL, 'k' },
	{ "filter", required_argument, NULL, 'f' },
	{ "with-metadata", no_argument, NULL, OPT_META },
	{ "ef-search", required_argument, NULL, OPT_EF },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "quant", required_argument, NULL, OPT_QUANT },
	{ "rerank", required_argument, NULL, OPT_RERANK },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* The hit's metadata in the simple form (named fields by name); {} when it
 * has none. */
static json_t *hit_meta(const rvf_store *s, uint64_t id)
{
	const rvf_field *f = NULL;
	size_t n = 0;

	meta_names nm = cli_names((rvf_store *)s, 0); /* names only read */

	if (rvf_get_meta(s, id, &f, &n) || !n)
		return json_object();
	return meta_to_json_names(f, n, META_JSON_SIMPLE, &nm);
}

void cli_print_hit_lines(const rvf_store *s, const rvf_hit *hits, size_t n, int with_meta)
{
	size_t i;

	for (i = 0; i < n; i++) {
		printf("  [%zu] id=%llu distance=%.6f", i, (unsigned long long)hits[i].id,
		       (double)hits[i].distance);
		if (with_meta) {
			json_t *m = hit_meta(s, hits[i].id);
			char *txt = m ? cli_json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS |
						   JSON_REAL_PRECISION(17)) : NULL;

			printf(" metadata=%s", txt ? txt : "?");
			free(txt);
			json_decref(m);
		}
		putchar('\n');
	}
}

int cli_print_hits(const rvf_hit *hits, size_t n)
{
	printf("Query results (%zu neighbors):\n", n);
	cli_print_hit_lines(NULL, hits, n, 0);
	return CLI_OK;
}

json_t *cli_json_hits_meta(const rvf_store *s, const rvf_hit *hits, size_t n, int with_meta)
{
	json_t *arr = cli_json_hits(hits, n);
	size_t i;

	for (i = 0; arr && with_meta && i < n; i++) {
		json_t *m = hit_meta(s, hits[i].id);

		if (!m || json_object_set_new(json_array_get(arr, i), "metadata", m)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

int cli_dim_mismatch(const char *path, const char *what, size_t got, uint32_t dim)
{
	return cli_fail("%s: %s has %zu components, store %s has dimension %u",
			rvf_strerror(RVF_E_DIMENSION), what, got, path, dim);
}

/* Which path answered: users tuning --ef-search or --quant see what took
 * effect (an index is skipped for filtered queries, codes without a
 * quantizer). */
static void print_query_path(const rvf_query_info *in, const struct cli_qopts *qo)
{
	if (in->path == RVF_QPATH_INDEX)
		printf("Search: index (HNSW, efSearch %u)\n", in->ef_search);
	else if (in->path == RVF_QPATH_QUANT)
		printf("Search: quantized (%s codes, %u candidates reranked exactly)\n",
		       qo->quant == RVF_QUANT_BINARY ? "binary" : "sq8", in->rerank);
	else
		printf("Search: exact scan%s\n", qo->exact ? "" : qo->filter ? " (filtered)" : "");
}

static int query_one(const char *path, const char *vec_s, const struct cli_qopts *qo, int json)
{
	rvf_query_info info = { .path = RVF_QPATH_EXACT };
	rvf_query_opts o = { .info = &info };
	rvf_store *s = NULL;
	rvf_hit *hits = NULL;
	float *q = NULL;
	size_t n, nout = 0;
	uint64_t live, k = qo->k;
	int rc, qrc = 0;

	rc = cli_parse_vector(vec_s, &q, &n);
	if (rc)
		return rc;
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &s)))
		goto out;
	if (qo->filter_names && !qo->filter &&
	    (rc = cli_filter_names(s, qo->filter_names, &((struct cli_qopts *)qo)->filter)))
		goto out;
	if (n != rvf_dimension(s)) {
		rc = cli_dim_mismatch(path, "query vector", n, rvf_dimension(s));
		goto out;
	}
	/* k may be huge; never allocate more slots than live vectors. */
	live = rvf_live_count(s);
	if (k > live)
		k = live;
	if (k) {
		hits = malloc(k * sizeof *hits);
		if (!hits) {
			rc = cli_fail("out of memory");
			goto out;
		}
		o.k = k;
		o.filter = qo->filter;
		o.ef_search = qo->ef_search;
		o.timeout_ms = qo->timeout_ms;
		o.exact = qo->exact;
		o.quant = qo->quant;
		o.rerank = qo->rerank;
		qrc = rvf_query_ex(s, q, (uint32_t)n, &o, hits, &nout);
		if (qrc && qrc != RVF_E_TIMEOUT) {
			rc = cli_store_fail(qrc);
			goto out;
		}
	}
	if (json) {
		/* the reference's keys exactly; the path is in the text output */
		rc = cli_json_print(json_pack("{s:I, s:o}", "count", (json_int_t)nout, "results",
					      cli_json_hits_meta(s, hits, nout, qo->with_meta)));
	} else {
		printf("Query results (%zu neighbors):\n", nout);
		cli_print_hit_lines(s, hits, nout, qo->with_meta);
		if (k) /* k 0 or an empty store: nothing was searched */
			print_query_path(&info, qo);
	}
	if (qrc == RVF_E_TIMEOUT)
		rc = cli_fail("query timed out after %u ms: the %zu results above are partial",
			      qo->timeout_ms, nout);
out:
	rvf_close(s);
	free(hits);
	free(q);
	return rc;
}

static int parse_u32(const char *cmd, const char *flag, const char *arg, uint32_t *out)
{
	uint64_t v;

	if (cli_parse_u64(arg, &v) || v > UINT32_MAX)
		return cli_usage(cmd, "invalid value '%s' for '%s': expected an integer "
				 "0..4294967295", arg, flag);
	*out = (uint32_t)v;
	return CLI_OK;
}

int cmd_query(int argc, char **argv)
{
	struct cli_qopts qo = { 0 };
	const char *path = NULL, *vec = NULL, *input = NULL, *filter = NULL;
	int json = 0, opt, rc;

	qo.k = 10;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":v:i:k:f:", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			vec = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case 'k':
			if (cli_parse_u64(optarg, &qo.k))
				return cli_usage("query", "invalid value '%s' for '--k <K>': "
						 "expected a non-negative integer", optarg);
			break;
		case 'f':
			filter = optarg;
			break;
		case OPT_META:
			qo.with_meta = 1;
			break;
		case OPT_EF:
			if ((rc = parse_u32("query", "--ef-search <N>", optarg, &qo.ef_search)))
				return rc;
			break;
		case OPT_TIMEOUT:
			if ((rc = parse_u32("query", "--timeout-ms <T>", optarg, &qo.timeout_ms)))
				return rc;
			break;
		case OPT_EXACT:
			qo.exact = 1;
			break;
		case OPT_QUANT:
			if (!strcmp(optarg, "sq8"))
				qo.quant = RVF_QUANT_SQ8;
			else if (!strcmp(optarg, "binary"))
				qo.quant = RVF_QUANT_BINARY;
			else
				return cli_usage("query", "--quant takes sq8 or binary (got '%s')", optarg);
			break;
		case OPT_RERANK:
			if ((rc = parse_u32("query", "--rerank <N>", optarg, &qo.rerank)))
				return rc;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("query", argv, opt);
		}
	}
	if ((rc = cli_one_path("query", argc, argv, &path)))
		return rc;
	if (vec && input)
		return cli_usage("query", "the argument '--vector <VECTOR>' cannot be used with "
				 "'--input <INPUT>'");
	if (!vec && !input)
		return cli_usage("query", "the following required arguments were not provided:\n"
				 "  <--vector <VECTOR>|--input <INPUT>>");
	if (filter && (rc = cli_filter_early(filter, &qo.filter, &qo.filter_names)))
		return rc;
	if (input)
		rc = cli_query_batch(path, input, &qo, json);
	else
		rc = query_one(path, vec, &qo, json);
	rvf_filter_free(qo.filter);
	return rc;
}
