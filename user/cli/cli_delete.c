/* cli_delete.c — `rvf delete PATH (--ids 1,2,3 | --filter JSON) [--wait]
 * [--json]`. Soft delete by id, or of every live vector a metadata filter
 * matches (either grammar, docs/METADATA.md §5). A filter that matches
 * nothing writes nothing and reports the unchanged epoch, as the reference.
 * Giving both --ids and --filter is a usage error (the reference silently
 * ignored the filter). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_IDS, OPT_FILTER, OPT_WAIT, OPT_WAIT_TIMEOUT };

static const struct option opts[] = {
	{ "ids", required_argument, NULL, OPT_IDS },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static int run(const char *path, const char *ids_s, const char *filter_s, unsigned flags,
	       int json)
{
	rvf_delete_result res = { 0 };
	rvf_filter *f = NULL;
	rvf_store *s = NULL;
	const char *named = NULL;
	uint64_t *ids = NULL;
	size_t n = 0;
	int rc;

	if (ids_s) {
		rc = cli_parse_ids(ids_s, &ids, &n);
		if (rc)
			return rc;
	} else if ((rc = cli_filter_early(filter_s, &f, &named))) {
		return rc;
	}
	if ((rc = cli_open_store(path, flags, &s)) || (named && (rc = cli_filter_names(s, named, &f)))) {
		rvf_close(s);
		rvf_filter_free(f);
		free(ids);
		return rc;
	}
	rc = f ? rvf_delete_filter(s, f, &res) : rvf_delete(s, ids, n, &res);
	rvf_close(s);
	rvf_filter_free(f);
	free(ids);
	if (rc)
		return cli_store_fail(rc);
	if (json)
		return cli_json_print(json_pack("{s:o, s:I}", "deleted", cli_json_u64(res.deleted),
						"epoch", (json_int_t)res.epoch));
	printf("Delete complete:\n");
	cli_kv("Deleted", "%llu", (unsigned long long)res.deleted);
	cli_kv("Epoch", "%u", res.epoch);
	return CLI_OK;
}

int cmd_delete(int argc, char **argv)
{
	const char *path = NULL, *ids = NULL, *filter = NULL;
	unsigned flags = 0;
	int json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_IDS:
			ids = optarg;
			break;
		case OPT_FILTER:
			filter = optarg;
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("delete", optarg, &flags)))
				return rc;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("delete", argv, opt);
		}
	}
	if ((rc = cli_one_path("delete", argc, argv, &path)))
		return rc;
	if (ids && filter)
		return cli_usage("delete", "the argument '--ids <IDS>' cannot be used with "
				 "'--filter <FILTER>'");
	if (!ids && !filter) {
		cli_fail("must specify --ids or --filter");
		fprintf(stderr, "\nUsage: rvf delete [OPTIONS] <PATH>\n");
		return CLI_FAIL;
	}
	return run(path, ids, filter, flags, json);
}
