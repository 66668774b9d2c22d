/* cli_check.c — `rvf check PATH [--json]` (integrity scan; exit 1 naming
 * the first bad offset and what to run) and `rvf recover PATH [--output NEW
 * | --truncate] [--json]` (roll back to the last good commit after a
 * backup, or salvage; exit 1 when the file it leaves is still damaged). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_OUTPUT, OPT_TRUNCATE };

static const struct option opts[] = {
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "truncate", no_argument, NULL, OPT_TRUNCATE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* --json and, for recover, --output / --truncate. */
static int parse(const char *cmd, int argc, char **argv, int allow_output, const char **path,
		 const char **output, int *truncate, int *json)
{
	int opt;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		if (opt == OPT_JSON)
			*json = 1;
		else if ((opt == OPT_OUTPUT || opt == 'o') && allow_output)
			*output = optarg;
		else if (opt == OPT_TRUNCATE && allow_output)
			*truncate = 1;
		else
			return cli_bad_option(cmd, argv, opt);
	}
	if (*output && *truncate)
		return cli_usage(cmd, "--truncate is for recovery in place, not with --output");
	return cli_one_path(cmd, argc, argv, path);
}

/* What to run about the damage r describes (the same words from check and
 * recover). */
static void advice(const char *path, const rvf_check_report *r, int after_recover, char *out, size_t n)
{
	if (!r->has_commit)
		snprintf(out, n, "no intact commit: `rvf recover %s --output NEW` salvages what is intact", path);
	else if (!r->state_intact && after_recover)
		snprintf(out, n, "the current state (epoch %u) is damaged and no rollback fixes it: `rvf "
			 "recover %s --output NEW` salvages every intact segment", r->epoch, path);
	else if (!r->state_intact)
		snprintf(out, n, "the current state (epoch %u) is damaged: `rvf recover %s` rolls back to the "
			 "last good commit if that loses no intact vector, `rvf recover %s --output NEW` "
			 "salvages every intact segment", r->epoch, path, path);
	else if (r->dead_problems)
		snprintf(out, n, "the current state (epoch %u) is intact; %llu problem(s), the first at offset "
			 "%llu, are in bytes it does not use (superseded segments, old manifests, junk)%s: "
			 "`rvf compact %s` rewrites the file without them (or `rvf recover %s --output NEW`)",
			 r->epoch, (unsigned long long)r->dead_problems,
			 (unsigned long long)r->first_dead_offset,
			 r->tail_bytes ? " and bytes follow the last commit" : "", path, path);
	else
		snprintf(out, n, "the current state (epoch %u) is intact; the %llu bytes after the last commit "
			 "are not part of it: `rvf recover %s` cuts them off (after a backup)", r->epoch,
			 (unsigned long long)r->tail_bytes, path);
}

static json_t *json_off(uint64_t v)
{
	return v == UINT64_MAX ? json_null() : cli_json_u64(v);
}

int cmd_check(int argc, char **argv)
{
	const char *path = NULL, *unused = NULL;
	int json = 0, rc, no_truncate = 0;
	if ((rc = parse("check", argc, argv, 0, &path, &unused, &no_truncate, &json)))
		return rc;
	rvf_check_report r;
	if ((rc = rvf_check(path, &r)))
		return cli_store_fail(rc);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "clean", json_boolean(r.clean));
		json_object_set_new(o, "dead_problems", cli_json_u64(r.dead_problems));
		json_object_set_new(o, "epoch", r.has_commit ? json_integer(r.epoch) : json_null());
		json_object_set_new(o, "first_dead_offset", json_off(r.first_dead_offset));
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
		json_object_set_new(o, "state_intact", json_boolean(r.has_commit && r.state_intact));
		json_object_set_new(o, "tail_bytes", cli_json_u64(r.tail_bytes));
		if (cli_json_print(o))
			return CLI_FAIL;
	} else {
		printf("Integrity check:\n");
		cli_kv("File size", "%llu bytes", (unsigned long long)r.file_size);
		cli_kv("Segments", "%llu", (unsigned long long)r.segments);
		cli_kv("Manifests", "%llu", (unsigned long long)r.manifests);
		if (r.has_commit)
			cli_kv("Current state", "epoch %u, manifest at offset %llu, %s", r.epoch,
			       (unsigned long long)r.manifest_offset, r.state_intact ? "intact" : "DAMAGED");
		cli_kv("Problems", "%llu", (unsigned long long)r.problems);
		if (r.dead_problems)
			cli_kv("Unused bytes", "%llu problem(s), first at offset %llu",
			       (unsigned long long)r.dead_problems, (unsigned long long)r.first_dead_offset);
		cli_kv("Result", "%s", r.clean ? "clean" : "DAMAGED");
	}
	if (r.clean)
		return CLI_OK;
	char adv[600];
	advice(path, &r, 0, adv, sizeof adv);
	return cli_fail("%s: damaged: first bad offset %llu: %s; %s", path,
			(unsigned long long)r.first_bad_offset, r.first_problem, adv);
}

int cmd_recover(int argc, char **argv)
{
	const char *path = NULL, *output = NULL;
	int json = 0, truncate = 0, rc;
	if ((rc = parse("recover", argc, argv, 1, &path, &output, &truncate, &json)))
		return rc;
	rvf_recover_result r;
	if ((rc = rvf_recover(path, output, truncate ? RVF_RECOVER_TRUNCATE : 0, &r)))
		return cli_store_fail(rc);
	const char *res_path = output ? output : path;
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "backup", r.backup[0] ? cli_json_path(r.backup) : json_null());
		json_object_set_new(o, "bytes_dropped", cli_json_u64(r.bytes_dropped));
		json_object_set_new(o, "changed", json_boolean(r.changed));
		json_object_set_new(o, "clean_after", json_boolean(r.after.clean));
		json_object_set_new(o, "epoch", json_integer(r.epoch));
		json_object_set_new(o, "epochs_dropped", json_integer(r.epochs_dropped));
		json_object_set_new(o, "first_bad_offset_after", r.after.clean ? json_null()
					    : json_off(r.after.first_bad_offset));
		json_object_set_new(o, "first_dropped_offset", json_off(r.first_dropped_offset));
		json_object_set_new(o, "mode", json_string(output ? "salvage" : "in_place"));
		json_object_set_new(o, "output", cli_json_path(res_path));
		json_object_set_new(o, "segments_dropped", cli_json_u64(r.segments_dropped));
		json_object_set_new(o, "size_after", cli_json_u64(r.size_after));
		json_object_set_new(o, "size_before", cli_json_u64(r.size_before));
		json_object_set_new(o, "vectors", cli_json_u64(r.vectors));
		json_object_set_new(o, "vectors_lost", cli_json_u64(r.vectors_lost));
		if ((rc = cli_json_print(o)))
			return rc;
	} else if (!r.changed && r.after.clean) {
		printf("Nothing to recover: %s ends with its last good commit (epoch %u, %llu vectors)\n",
		       path, r.epoch, (unsigned long long)r.vectors);
	} else if (!r.changed) {
		printf("Not changed: %s ends with its last good commit (epoch %u, %llu vectors); no rollback "
		       "removes the damage below\n", path, r.epoch, (unsigned long long)r.vectors);
	} else {
		printf(output ? "Salvaged into %s:\n" : "Rolled back %s to its last good commit:\n", res_path);
		if (r.backup[0])
			cli_kv("Backup", "%s", r.backup);
		cli_kv("Epoch", "%u", r.epoch);
		cli_kv("Vectors", "%llu", (unsigned long long)r.vectors);
		cli_kv("Size before", "%llu bytes", (unsigned long long)r.size_before);
		cli_kv("Size after", "%llu bytes", (unsigned long long)r.size_after);
		if (!output) {
			cli_kv("Commits dropped", "%u", r.epochs_dropped);
			cli_kv("Bytes dropped", "%llu", (unsigned long long)r.bytes_dropped);
		}
		cli_kv("Segments dropped", "%llu", (unsigned long long)r.segments_dropped);
		if (r.first_dropped_offset != UINT64_MAX)
			cli_kv("First dropped", "offset %llu", (unsigned long long)r.first_dropped_offset);
		if (r.vectors_lost)
			cli_kv("Vectors lost", "%llu (intact, dropped by --truncate)",
			       (unsigned long long)r.vectors_lost);
	}
	if (r.after.clean)
		return CLI_OK;
	char adv[600];
	advice(res_path, &r.after, 1, adv, sizeof adv);
	return cli_fail("%s: still damaged: first bad offset %llu: %s; %s", res_path,
			(unsigned long long)r.after.first_bad_offset, r.after.first_problem, adv);
}
