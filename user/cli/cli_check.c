/* cli_check.c — `rvf check PATH [--json]` (integrity scan; exit 1 naming
 * the first bad offset) and `rvf recover PATH [--output NEW] [--json]`
 * (roll back to the last good commit after a backup, or salvage). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_OUTPUT };

static const struct option opts[] = {
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* --json and, for recover, --output. */
static int parse(const char *cmd, int argc, char **argv, int allow_output, const char **path,
		 const char **output, int *json)
{
	int opt;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		if (opt == OPT_JSON)
			*json = 1;
		else if ((opt == OPT_OUTPUT || opt == 'o') && allow_output)
			*output = optarg;
		else
			return cli_bad_option(cmd, argv, opt);
	}
	return cli_one_path(cmd, argc, argv, path);
}

int cmd_check(int argc, char **argv)
{
	const char *path = NULL, *unused = NULL;
	int json = 0, rc;
	if ((rc = parse("check", argc, argv, 0, &path, &unused, &json)))
		return rc;
	rvf_check_report r;
	if ((rc = rvf_check(path, &r)))
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "clean", json_boolean(r.clean));
		json_object_set_new(o, "epoch", r.has_commit ? json_integer(r.epoch) : json_null());
		json_object_set_new(o, "file_size", cli_json_u64(r.file_size));
		json_object_set_new(o, "first_bad_offset",
				    r.clean ? json_null() : cli_json_u64(r.first_bad_offset));
		json_object_set_new(o, "first_problem", r.clean ? json_null() : json_string(r.first_problem));
		json_object_set_new(o, "good_end", r.has_commit ? cli_json_u64(r.good_end) : json_null());
		json_object_set_new(o, "manifest_offset",
				    r.has_commit ? cli_json_u64(r.manifest_offset) : json_null());
		json_object_set_new(o, "manifests", cli_json_u64(r.manifests));
		json_object_set_new(o, "problems", cli_json_u64(r.problems));
		json_object_set_new(o, "segments", cli_json_u64(r.segments));
		if (cli_json_print(o))
			return CLI_FAIL;
	} else {
		printf("Integrity check:\n");
		cli_kv("File size", "%llu bytes", (unsigned long long)r.file_size);
		cli_kv("Segments", "%llu", (unsigned long long)r.segments);
		cli_kv("Manifests", "%llu", (unsigned long long)r.manifests);
		if (r.has_commit)
			cli_kv("Current state", "epoch %u, manifest at offset %llu", r.epoch,
			       (unsigned long long)r.manifest_offset);
		cli_kv("Problems", "%llu", (unsigned long long)r.problems);
		cli_kv("Result", "%s", r.clean ? "clean" : "DAMAGED");
	}
	if (r.clean)
		return CLI_OK;
	return cli_fail("%s: damaged: first bad offset %llu: %s", path,
			(unsigned long long)r.first_bad_offset, r.first_problem);
}

int cmd_recover(int argc, char **argv)
{
	const char *path = NULL, *output = NULL;
	int json = 0, rc;
	if ((rc = parse("recover", argc, argv, 1, &path, &output, &json)))
		return rc;
	rvf_recover_result r;
	if ((rc = rvf_recover(path, output, &r)))
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "backup", r.backup[0] ? cli_json_path(r.backup) : json_null());
		json_object_set_new(o, "changed", json_boolean(r.changed));
		json_object_set_new(o, "epoch", json_integer(r.epoch));
		json_object_set_new(o, "first_dropped_offset", r.segments_dropped
					    ? cli_json_u64(r.first_dropped_offset) : json_null());
		json_object_set_new(o, "mode", json_string(output ? "salvage" : "in_place"));
		json_object_set_new(o, "output", cli_json_path(output ? output : path));
		json_object_set_new(o, "segments_dropped", cli_json_u64(r.segments_dropped));
		json_object_set_new(o, "size_after", cli_json_u64(r.size_after));
		json_object_set_new(o, "size_before", cli_json_u64(r.size_before));
		json_object_set_new(o, "vectors", cli_json_u64(r.vectors));
		return cli_json_print(o);
	}
	if (!r.changed) {
		printf("Nothing to recover: %s ends with its last good commit (epoch %u, %llu vectors)\n",
		       path, r.epoch, (unsigned long long)r.vectors);
		return CLI_OK;
	}
	printf(output ? "Salvaged into %s:\n" : "Rolled back %s to its last good commit:\n",
	       output ? output : path);
	if (r.backup[0])
		cli_kv("Backup", "%s", r.backup);
	cli_kv("Epoch", "%u", r.epoch);
	cli_kv("Vectors", "%llu", (unsigned long long)r.vectors);
	cli_kv("Size before", "%llu bytes", (unsigned long long)r.size_before);
	cli_kv("Size after", "%llu bytes", (unsigned long long)r.size_after);
	cli_kv("Segments dropped", "%llu", (unsigned long long)r.segments_dropped);
	if (r.segments_dropped)
		cli_kv("First dropped", "offset %llu", (unsigned long long)r.first_dropped_offset);
	return CLI_OK;
}
