/* cli_query.c — `rvf query PATH -v "1,2,3" [-k K] [--json]` and the option
 * parsing for batch mode (`--input FILE`, see cli_qbatch.c).
 * Stores are opened read-only: queries never take the writer lock. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "vector", required_argument, NULL, 'v' },
	{ "input", required_argument, NULL, 'i' },
	{ "k", required_argument, NULL, 'k' },
	{ "filter", required_argument, NULL, 'f' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

int cli_print_hits(const rvf_hit *hits, size_t n)
{
	size_t i;

	printf("Query results (%zu neighbors):\n", n);
	for (i = 0; i < n; i++)
		printf("  [%zu] id=%llu distance=%.6f\n", i, (unsigned long long)hits[i].id,
		       (double)hits[i].distance);
	return CLI_OK;
}

int cli_dim_mismatch(const char *path, const char *what, size_t got, uint32_t dim)
{
	return cli_fail("%s: %s has %zu components, store %s has dimension %u",
			rvf_strerror(RVF_E_DIMENSION), what, got, path, dim);
}

static int query_one(const char *path, const char *vec_s, uint64_t k, int json)
{
	rvf_store *s = NULL;
	rvf_hit *hits = NULL;
	float *q = NULL;
	size_t n, nout = 0;
	uint64_t live;
	int rc;

	rc = cli_parse_vector(vec_s, &q, &n);
	if (rc)
		return rc;
	rc = cli_open(path, RVF_OPEN_READONLY, &s);
	if (rc) {
		rc = cli_store_fail(rc);
		goto out;
	}
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
		rc = rvf_query(s, q, (uint32_t)n, k, hits, &nout);
		if (rc) {
			rc = cli_store_fail(rc);
			goto out;
		}
	}
	if (json)
		rc = cli_json_print(json_pack("{s:I, s:o}", "count", (json_int_t)nout,
					      "results", cli_json_hits(hits, nout)));
	else
		rc = cli_print_hits(hits, nout);
out:
	rvf_close(s);
	free(hits);
	free(q);
	return rc;
}

int cmd_query(int argc, char **argv)
{
	const char *path = NULL, *vec = NULL, *input = NULL;
	uint64_t k = 10;
	int json = 0, filter = 0, opt, rc;

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
			if (cli_parse_u64(optarg, &k))
				return cli_usage("query", "invalid value '%s' for '--k <K>': "
						 "expected a non-negative integer", optarg);
			break;
		case 'f':
			filter = 1;
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
	/* Refuse rather than silently answer unfiltered. */
	if (filter)
		return cli_fail("--filter: filters need metadata support, not available yet");
	if (input)
		return cli_query_batch(path, input, k, json);
	return query_one(path, vec, k, json);
}
