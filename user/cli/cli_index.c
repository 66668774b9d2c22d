/* cli_index.c — `rvf index PATH [--m M] [--ef-construction E] [--wait] [--json]`.
 * Builds the HNSW index over every stored vector and persists it as an
 * INDEX_SEG (+ manifest); later opens load it without rebuilding and
 * `rvf query` uses it. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_M, OPT_EFC, OPT_WAIT };

static const struct option opts[] = {
	{ "m", required_argument, NULL, OPT_M },
	{ "ef-construction", required_argument, NULL, OPT_EFC },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

int cmd_index(int argc, char **argv)
{
	const char *path = NULL;
	rvf_store *s = NULL;
	unsigned flags = 0;
	uint64_t m = 16, efc = 200;
	int json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_M:
			if (cli_parse_u64(optarg, &m) || m < 2 || m > 2048)
				return cli_usage("index", "invalid value '%s' for '--m <M>': 2..2048", optarg);
			break;
		case OPT_EFC:
			if (cli_parse_u64(optarg, &efc) || efc < 1 || efc > 1000000)
				return cli_usage("index", "invalid value '%s' for '--ef-construction <E>': 1..1000000",
						 optarg);
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("index", argv, opt);
		}
	}
	if ((rc = cli_one_path("index", argc, argv, &path)))
		return rc;
	rc = cli_open(path, flags, &s);
	double t0 = cli_now_ms(), ms = 0;
	if (!rc) {
		rc = rvf_index_build(s, (uint32_t)m, (uint32_t)efc);
		ms = cli_now_ms() - t0;
	}
	rvf_index_stats st = { 0 };
	rvf_status ss = { 0 };
	if (!rc) {
		rvf_get_index_stats(s, &st);
		rvf_get_status(s, &ss);
	}
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "build_ms", cli_json_real(ms));
			json_object_set_new(o, "ef_construction", json_integer(st.ef_construction));
			json_object_set_new(o, "epoch", json_integer(ss.epoch));
			json_object_set_new(o, "file_size", cli_json_u64(ss.file_size));
			json_object_set_new(o, "levels", json_integer((json_int_t)st.max_level + 1));
			json_object_set_new(o, "m", json_integer(st.m));
			json_object_set_new(o, "memory_bytes", cli_json_u64(st.memory_bytes));
			json_object_set_new(o, "nodes", cli_json_u64(st.nodes));
			json_object_set_new(o, "persisted", json_boolean(st.persisted));
		}
		return cli_json_print(o);
	}
	printf("Index built:\n");
	cli_kv("Nodes", "%llu", (unsigned long long)st.nodes);
	cli_kv("Levels", "%u", st.max_level + 1);
	cli_kv("M", "%u", st.m);
	cli_kv("ef_construction", "%u", st.ef_construction);
	cli_kv("Build time", "%.1f ms", ms);
	cli_kv("Memory", "%llu bytes", (unsigned long long)st.memory_bytes);
	cli_kv("Epoch", "%u", ss.epoch);
	cli_kv("File size", "%llu bytes", (unsigned long long)ss.file_size);
	return CLI_OK;
}
