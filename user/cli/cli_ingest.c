/* cli_ingest.c — `rvf ingest PATH -i FILE [-b N] [--wait] [--json]`.
 *
 * The whole input is validated before the store is opened, so a malformed
 * record anywhere means nothing is written. Rows whose vector length differs
 * from the store's dimension are counted as rejected (reference behaviour).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_WAIT };

static const struct option opts[] = {
	{ "input", required_argument, NULL, 'i' },
	{ "batch-size", required_argument, NULL, 'b' },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* Checks every record's shape; ids go to ids[]. Prints and returns CLI_FAIL. */
static int validate(const char *file, const json_t *root, uint64_t *ids)
{
	size_t i, k;
	json_t *rec, *id, *vec, *x;

	json_array_foreach(root, i, rec) {
		if (!json_is_object(rec))
			return cli_fail("%s: record %zu: expected an object with \"id\" and \"vector\"",
					file, i);
		id = json_object_get(rec, "id");
		if (!id)
			return cli_fail("%s: record %zu: missing field \"id\"", file, i);
		if (!json_is_integer(id) || json_integer_value(id) < 0)
			return cli_fail("%s: record %zu: \"id\" must be a non-negative integer",
					file, i);
		ids[i] = (uint64_t)json_integer_value(id);
		vec = json_object_get(rec, "vector");
		if (!vec)
			return cli_fail("%s: record %zu: missing field \"vector\"", file, i);
		if (!json_is_array(vec))
			return cli_fail("%s: record %zu: \"vector\" must be an array of numbers",
					file, i);
		json_array_foreach(vec, k, x) {
			if (!json_is_number(x))
				return cli_fail("%s: record %zu: \"vector\" component %zu is not a number",
						file, i, k);
		}
	}
	return CLI_OK;
}

struct totals {
	uint64_t accepted, rejected;
	uint32_t epoch;
};

/* Ingests records [lo, hi) as one commit; wrong-length rows are rejected. */
static int ingest_batch(rvf_store *s, const json_t *root, const uint64_t *ids, size_t lo,
			size_t hi, uint64_t *bid, float *bvec, struct totals *t)
{
	uint32_t dim = rvf_dimension(s);
	rvf_ingest_result res = { 0 };
	size_t i, n = 0, bad;
	int rc;

	for (i = lo; i < hi; i++) {
		const json_t *vec = json_object_get(json_array_get(root, i), "vector");

		if (cli_json_floats(vec, bvec + n * dim, dim, &bad)) {
			t->rejected++;
			continue;
		}
		bid[n++] = ids[i];
	}
	if (!n)
		return CLI_OK; /* nothing to commit: the epoch stays where it is */
	rc = rvf_ingest(s, bid, bvec, n, &res);
	if (rc)
		return cli_store_fail(rc);
	t->accepted += res.accepted;
	t->rejected += res.rejected;
	t->epoch = res.epoch;
	return CLI_OK;
}

static int report(int json, const struct totals *t)
{
	if (json)
		return cli_json_print(json_pack("{s:o, s:I, s:o}",
						"accepted", cli_json_u64(t->accepted),
						"epoch", (json_int_t)t->epoch,
						"rejected", cli_json_u64(t->rejected)));
	printf("Ingestion complete:\n");
	cli_kv("Accepted", "%llu", (unsigned long long)t->accepted);
	cli_kv("Rejected", "%llu", (unsigned long long)t->rejected);
	cli_kv("Epoch", "%u", t->epoch);
	return CLI_OK;
}

static int run(const char *path, const char *input, uint64_t batch, unsigned flags, int json)
{
	struct totals t = { 0 };
	uint64_t *ids = NULL, *bid = NULL;
	float *bvec = NULL;
	rvf_store *s = NULL;
	rvf_status st;
	json_t *root;
	size_t n, lo, hi;
	int rc;

	root = cli_json_load(input);
	if (!root)
		return CLI_FAIL;
	if (!json_is_array(root)) {
		json_decref(root);
		return cli_fail("%s: expected a JSON array of {\"id\": N, \"vector\": [...]} records",
				input);
	}
	n = json_array_size(root);
	if (n == 0) {
		/* Like the reference: succeed without touching the store. */
		json_decref(root);
		if (json)
			return report(json, &t);
		printf("No records to ingest.\n");
		return CLI_OK;
	}
	ids = malloc(n * sizeof *ids);
	if (!ids) {
		rc = cli_fail("out of memory");
		goto out;
	}
	rc = validate(input, root, ids);
	if (rc)
		goto out;

	rc = cli_open(path, flags, &s);
	if (rc) {
		rc = cli_store_fail(rc);
		goto out;
	}
	rc = rvf_get_status(s, &st);
	if (rc) {
		rc = cli_store_fail(rc);
		goto out;
	}
	t.epoch = st.epoch;
	if (batch > n)
		batch = n;
	bid = malloc(batch * sizeof *bid);
	bvec = malloc(batch * rvf_dimension(s) * sizeof *bvec);
	if (!bid || !bvec) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (lo = 0; lo < n; lo = hi) {
		hi = lo + batch < n ? lo + batch : n;
		rc = ingest_batch(s, root, ids, lo, hi, bid, bvec, &t);
		if (rc)
			goto out;
	}
	rvf_close(s);
	s = NULL;
	rc = report(json, &t);
out:
	rvf_close(s);
	free(bvec);
	free(bid);
	free(ids);
	json_decref(root);
	return rc;
}

int cmd_ingest(int argc, char **argv)
{
	const char *path = NULL, *input = NULL;
	uint64_t batch = 1000;
	unsigned flags = 0;
	int json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":i:b:", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			input = optarg;
			break;
		case 'b':
			if (cli_parse_u64(optarg, &batch))
				return cli_usage("ingest", "invalid value '%s' for '--batch-size <N>': "
						 "expected a non-negative integer", optarg);
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("ingest", argv, opt);
		}
	}
	if ((rc = cli_one_path("ingest", argc, argv, &path)))
		return rc;
	if (!input)
		return cli_usage("ingest", "the following required arguments were not provided:\n"
				 "  --input <INPUT>");
	if (batch == 0)
		batch = 1; /* reference: 0 is treated as 1 */
	return run(path, input, batch, flags, json);
}
