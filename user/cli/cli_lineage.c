/* cli_lineage.c — `rvf derive`, `rvf branch`, `rvf freeze`, `rvf filter`:
 * lineage and copy-on-write children (spec §7, §15). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_EMPTY, OPT_TYPE, OPT_INCLUDE, OPT_EXCLUDE, OPT_WAIT, OPT_WAIT_TIMEOUT };

static const char *const derivation_types[] = {"clone", "filter", "merge", "quantize",
						"reindex", "transform", "snapshot"};

static int print_child(const char *parent, const char *child, rvf_store *c, int branch, int json)
{
	rvf_identity id;
	rvf_get_identity(c, &id);
	rvf_status st;
	rvf_get_status(c, &st);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "child", cli_json_path(child));
			json_object_set_new(o, "parent", cli_json_path(parent));
			json_object_set_new(o, "file_id", cli_json_hex(id.file_id, 16));
			json_object_set_new(o, "parent_id", cli_json_hex(id.parent_id, 16));
			json_object_set_new(o, "parent_hash", cli_json_hex(id.parent_hash, 32));
			json_object_set_new(o, "lineage_depth", json_integer(id.lineage_depth));
			json_object_set_new(o, "copy_on_write", json_boolean(branch));
			json_object_set_new(o, "visible_vectors", cli_json_u64(rvf_live_count(c)));
		}
		return cli_json_print(o);
	}
	printf("Derived %s from %s\n", child, parent);
	cli_kv("Lineage depth", "%u", id.lineage_depth);
	cli_kv("Copy on write", "%s", branch ? "yes (reads through to the parent)" : "no (empty child)");
	cli_kv("Visible vectors", "%llu", (unsigned long long)rvf_live_count(c));
	return CLI_OK;
}

/* derive PARENT CHILD [--empty] [-t TYPE]; branch = derive without --empty. */
static int derive(const char *cmd, int argc, char **argv, int branch)
{
	static const struct option opts[] = {
		{"empty", no_argument, NULL, OPT_EMPTY},
		{"derivation-type", required_argument, NULL, 't'},
		{"type", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	int json = 0, opt;
	const char *out = NULL;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":t:o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case OPT_EMPTY:
			branch = 0;
			break;
		case 't': {
			/* Accepted for the reference's interface; nothing stores it (§7). */
			int ok = 0;
			for (size_t i = 0; i < sizeof derivation_types / sizeof *derivation_types; i++)
				ok |= !strcasecmp(optarg, derivation_types[i]);
			if (!ok)
				return cli_fail("Unknown derivation type: %s (expected clone, filter, merge, "
						"quantize, reindex, transform or snapshot)", optarg);
			break;
		}
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option(cmd, argv, opt);
		}
	}
	/* PARENT CHILD, or PARENT --output CHILD as the reference's README has it */
	if (argc - optind != (out ? 1 : 2))
		return cli_usage(cmd, out ? "expected PARENT and --output CHILD, not a CHILD path too"
					  : "expected PARENT and CHILD paths (or PARENT --output CHILD)");
	const char *parent = argv[optind], *child = out ? out : argv[optind + 1];
	rvf_store *p, *c;
	int rc = cli_open_store(parent, RVF_OPEN_READONLY, &p);
	if (rc)
		return rc;
	rc = rvf_derive(p, child, branch, &c);
	rvf_close(p);
	if (rc)
		return cli_store_fail(rc);
	rc = print_child(parent, child, c, branch, json);
	rvf_close(c);
	return rc;
}

int cmd_derive(int argc, char **argv) { return derive("derive", argc, argv, 1); }
int cmd_branch(int argc, char **argv) { return derive("branch", argc, argv, 1); }

/* `CMD PATH [--wait] [--json]`: parses and opens PATH for writing. */
static int open_writer(const char *cmd, int argc, char **argv, int *json, const char **path,
		       rvf_store **s)
{
	static const struct option opts[] = {
		{"wait", no_argument, NULL, OPT_WAIT},
		{"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	int opt, rc;
	unsigned flags = 0;
	*json = 0;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == OPT_JSON)
			*json = 1;
		else if (opt == OPT_WAIT)
			flags |= RVF_OPEN_WAIT;
		else if (opt == OPT_WAIT_TIMEOUT) {
			if ((rc = cli_wait_timeout_option(cmd, optarg, &flags)))
				return rc;
		}
		else
			return cli_bad_option(cmd, argv, opt);
	}
	if ((rc = cli_one_path(cmd, argc, argv, path)))
		return rc;
	return cli_open_store(*path, flags, s);
}

int cmd_freeze(int argc, char **argv)
{
	int json, rc;
	const char *path;
	rvf_store *s;
	if ((rc = open_writer("freeze", argc, argv, &json, &path, &s)))
		return rc;
	rc = rvf_freeze(s);
	rvf_status st;
	rvf_get_status(s, &st);
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "epoch", json_integer(st.epoch));
			json_object_set_new(o, "frozen", json_true());
		}
		return cli_json_print(o);
	}
	printf("Frozen: %s\n", path);
	cli_kv("Epoch", "%u", st.epoch);
	return CLI_OK;
}

/* filter FILE --include-ids a,b | --exclude-ids a,b: parent visibility of a
 * branch (MEMBERSHIP_SEG). */
int cmd_filter(int argc, char **argv)
{
	static const struct option opts[] = {
		{"include-ids", required_argument, NULL, OPT_INCLUDE},
		{"exclude-ids", required_argument, NULL, OPT_EXCLUDE},
		{"wait", no_argument, NULL, OPT_WAIT},
		{"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	const char *list = NULL, *path;
	int include = -1, json = 0, opt, rc;
	unsigned flags = 0;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_INCLUDE:
		case OPT_EXCLUDE:
			if (include >= 0)
				return cli_usage("filter", "give one of --include-ids and --exclude-ids");
			include = opt == OPT_INCLUDE;
			list = optarg;
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("filter", optarg, &flags)))
				return rc;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("filter", argv, opt);
		}
	}
	if (include < 0)
		return cli_usage("filter", "must specify --include-ids or --exclude-ids");
	if ((rc = cli_one_path("filter", argc, argv, &path)))
		return rc;
	uint64_t *ids;
	size_t n;
	if ((rc = cli_parse_ids(list, &ids, &n)))
		return rc;
	rvf_store *s;
	if ((rc = cli_open_store(path, flags, &s))) {
		free(ids);
		return rc;
	}
	rc = rvf_membership(s, ids, n, include);
	free(ids);
	uint64_t visible = rvf_live_count(s);
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "mode", json_string(include ? "include" : "exclude"));
			json_object_set_new(o, "visible_vectors", cli_json_u64(visible));
		}
		return cli_json_print(o);
	}
	printf("Membership updated (%s)\n", include ? "include" : "exclude");
	cli_kv("Visible vectors", "%llu", (unsigned long long)visible);
	return CLI_OK;
}

/* rebuild-refcounts FILE: per-cluster reference counts of a branch. */
int cmd_rebuild_refcounts(int argc, char **argv)
{
	int json, rc;
	const char *path;
	rvf_store *s;
	if ((rc = open_writer("rebuild-refcounts", argc, argv, &json, &path, &s)))
		return rc;
	uint32_t clusters = 0, local = 0;
	rc = rvf_rebuild_refcounts(s, &clusters, &local);
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "cluster_count", json_integer(clusters));
			json_object_set_new(o, "local_clusters", json_integer(local));
			json_object_set_new(o, "status", json_string("rebuilt"));
		}
		return cli_json_print(o);
	}
	printf("Refcounts rebuilt:\n");
	cli_kv("Cluster count", "%u", clusters);
	cli_kv("Local clusters", "%u", local);
	return CLI_OK;
}
