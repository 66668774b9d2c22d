/* cli_create.c — `rvf create PATH -d N [-m METRIC] [-p PROFILE]
 *                [--index auto|on|off] [--json]`. --index stores the index
 * policy in the file (an INDEX_LOG; without it the default is auto). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_INDEX };

static const struct option opts[] = {
	{ "dimension", required_argument, NULL, 'd' },
	{ "metric", required_argument, NULL, 'm' },
	{ "profile", required_argument, NULL, 'p' },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

int cmd_create(int argc, char **argv)
{
	const char *path = NULL, *metric_s = "l2", *dim_s = NULL;
	uint64_t dim = 0, profile = 0;
	rvf_create_opts co = { 0 };
	rvf_store *s = NULL;
	int json = 0, opt, rc, policy = -1;
	json_t *j;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":d:m:p:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dim_s = optarg;
			if (cli_parse_u64(optarg, &dim))
				return cli_usage("create", "invalid value '%s' for '--dimension <DIMENSION>': "
						 "invalid digit found in string", optarg);
			break;
		case 'm':
			metric_s = optarg;
			break;
		case 'p':
			if (cli_parse_u64(optarg, &profile) || profile > 255)
				return cli_usage("create", "invalid value '%s' for '--profile <PROFILE>': "
						 "expected an integer 0..255", optarg);
			break;
		case OPT_INDEX:
			if ((policy = cli_index_policy_parse(optarg)) < 0)
				return cli_usage("create", "invalid value '%s' for '--index <POLICY>': auto, on or off",
						 optarg);
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("create", argv, opt);
		}
	}
	if ((rc = cli_one_path("create", argc, argv, &path)))
		return rc;
	if (!dim_s)
		return cli_usage("create", "the following required arguments were not provided:\n"
				 "  --dimension <DIMENSION>");
	/* Range and metric are checked after parsing, exit 1 like the reference. */
	if (dim < 1 || dim > 65535)
		return cli_fail("Dimension must be between 1 and 65535 (got %s)", dim_s);
	if (rvf_metric_parse(metric_s, &co.metric))
		return cli_fail("Unknown metric: %s (expected l2, ip, inner_product or cosine)",
				metric_s);
	co.dimension = (uint32_t)dim;
	co.profile = (uint8_t)profile;

	rc = rvf_create(path, &co, &s);
	if (rc)
		return cli_store_fail(rc);
	co.metric = rvf_get_metric(s);
	if (policy >= 0 && (rc = rvf_index_configure(s, policy, 0))) {
		rvf_close(s);
		return cli_store_fail(rc);
	}
	rvf_close(s);

	if (json) {
		j = json_pack("{s:I, s:s, s:o, s:I, s:s}",
			      "dimension", (json_int_t)co.dimension,
			      "metric", rvf_metric_name(co.metric),
			      "path", cli_json_path(path),
			      "profile", (json_int_t)co.profile,
			      "status", "created");
		return cli_json_print(j);
	}
	printf("Created RVF store: %s\n", path);
	cli_kv("Dimension", "%u", co.dimension);
	cli_kv("Metric", "%s", rvf_metric_name(co.metric));
	cli_kv("Profile", "%u", co.profile);
	return CLI_OK;
}
