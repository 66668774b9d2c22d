/* cli_index.c — `rvf index PATH [--m M] [--ef-construction E]
 *               [--policy auto|on|off] [--ef-search N] [--threads N]
 *               [--wait] [--no-progress] [--json]`.
 * Builds the HNSW index over every stored vector on every core and
 * persists it as an INDEX_SEG checkpoint (+ INDEX_LOG + manifest); later
 * opens load it without rebuilding, and every write keeps it current.
 * --policy / --ef-search store the defaults in the file; given without
 * --m / --ef-construction on a store that has an index, they only store
 * the settings (no rebuild). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "progress.h"

enum { OPT_JSON = 256, OPT_M, OPT_EFC, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_POLICY, OPT_EFS, OPT_THREADS, OPT_NOPROG };

static const struct option opts[] = {
	{ "m", required_argument, NULL, OPT_M },
	{ "ef-construction", required_argument, NULL, OPT_EFC },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "ef-search", required_argument, NULL, OPT_EFS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "no-progress", no_argument, NULL, OPT_NOPROG },
	{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static const char *const policy_names[] = { "auto", "on", "off" };

int cli_index_policy_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, policy_names[i]))
			return i;
	return -1;
}

const char *cli_index_policy_name(int policy)
{
	return policy >= 0 && policy < 3 ? policy_names[policy] : "?";
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	p->total = total;
	progress_update(p, done, done);
}

void cli_index_progress(rvf_store *s, struct progress *p, int enable)
{
	progress_start(p, "indexing", 0, enable);
	if (p->on)
		rvf_set_index_progress(s, on_progress, p);
}

void cli_index_progress_end(struct progress *p) { progress_end(p); }

int cmd_index(int argc, char **argv)
{
	const char *path = NULL;
	rvf_store *s = NULL;
	unsigned flags = 0;
	uint64_t m = 16, efc = 200, efs = 0, threads = 0;
	int json = 0, opt, rc, policy = -1, build_args = 0, prog = 1;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_M:
			if (cli_parse_u64(optarg, &m) || m < 2 || m > 2048)
				return cli_usage("index", "invalid value '%s' for '--m <M>': 2..2048", optarg);
			build_args = 1;
			break;
		case OPT_EFC:
			if (cli_parse_u64(optarg, &efc) || efc < 1 || efc > 1000000)
				return cli_usage("index", "invalid value '%s' for '--ef-construction <E>': 1..1000000",
						 optarg);
			build_args = 1;
			break;
		case OPT_POLICY:
			if ((policy = cli_index_policy_parse(optarg)) < 0)
				return cli_usage("index", "invalid value '%s' for '--policy <P>': auto, on or off", optarg);
			break;
		case OPT_EFS:
			if (cli_parse_u64(optarg, &efs) || efs < 1 || efs > 1000000)
				return cli_usage("index", "invalid value '%s' for '--ef-search <N>': 1..1000000", optarg);
			break;
		case OPT_THREADS:
			if (cli_parse_u64(optarg, &threads) || threads < 1 || threads > 256)
				return cli_usage("index", "invalid value '%s' for '--threads <N>': 1..256", optarg);
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_NOPROG:
			prog = 0;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("index", optarg, &flags)))
				return rc;
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
	if ((rc = cli_open_store(path, flags, &s)))
		return rc;
	uint64_t t0 = cli_now_ns();
	double ms = 0;
	rvf_index_stats st = { 0 };
	int built = 0;
	struct progress pg;
	if (!rc) {
		rvf_get_index_stats(s, &st);
		if (policy >= 0 || efs)
			rc = rvf_index_configure(s, policy, (uint32_t)efs);
	}
	if (!rc && (build_args || !st.present || (policy < 0 && !efs))) {
		rvf_set_index_threads(s, (unsigned)threads);
		cli_index_progress(s, &pg, prog && !json);
		rc = rvf_index_build(s, (uint32_t)m, (uint32_t)efc);
		cli_index_progress_end(&pg);
		ms = cli_ms_since(t0);
		built = 1;
	}
	rvf_status ss = { 0 };
	if (!rc) {
		rvf_get_index_stats(s, &st);
		rvf_get_status(s, &ss);
	}
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	uint32_t efs_eff = st.ef_search ? st.ef_search : 64;
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "build_ms", built ? cli_json_real(ms) : json_null());
			json_object_set_new(o, "ef_construction", json_integer(st.ef_construction));
			json_object_set_new(o, "ef_search", json_integer(efs_eff));
			json_object_set_new(o, "epoch", json_integer(ss.epoch));
			json_object_set_new(o, "file_size", cli_json_u64(ss.file_size));
			json_object_set_new(o, "levels", json_integer((json_int_t)st.max_level + 1));
			json_object_set_new(o, "m", json_integer(st.m));
			json_object_set_new(o, "memory_bytes", cli_json_u64(st.memory_bytes));
			json_object_set_new(o, "nodes", cli_json_u64(st.nodes));
			json_object_set_new(o, "persisted", json_boolean(st.persisted));
			json_object_set_new(o, "policy", json_string(cli_index_policy_name(st.policy)));
		}
		return cli_json_print(o);
	}
	printf(built ? "Index built:\n" : "Index settings stored:\n");
	cli_kv("Nodes", "%llu", (unsigned long long)st.nodes);
	cli_kv("Levels", "%u", st.max_level + 1);
	cli_kv("M", "%u", st.m);
	cli_kv("ef_construction", "%u", st.ef_construction);
	cli_kv("ef_search", "%u", efs_eff);
	cli_kv("Policy", "%s", cli_index_policy_name(st.policy));
	if (built)
		cli_kv("Build time", "%.1f ms", ms);
	cli_kv("Memory", "%llu bytes", (unsigned long long)st.memory_bytes);
	cli_kv("Epoch", "%u", ss.epoch);
	cli_kv("File size", "%llu bytes", (unsigned long long)ss.file_size);
	return CLI_OK;
}
