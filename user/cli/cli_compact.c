/* cli_compact.c — `rvf compact PATH [--strip-unknown] [--wait] [--json]`.
 * The store rewrites the file beside itself and renames it into place. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_STRIP, OPT_WAIT, OPT_WAIT_TIMEOUT };

static const struct option opts[] = {
	{ "strip-unknown", no_argument, NULL, OPT_STRIP },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static int report(const rvf_compact_result *r, int strip, int json)
{
	json_t *o;

	if (json) {
		o = json_object();
		if (o) {
			json_object_set_new(o, "bytes_reclaimed", cli_json_u64(r->bytes_reclaimed));
			json_object_set_new(o, "epoch", json_integer(r->epoch));
			json_object_set_new(o, "file_size_after", cli_json_u64(r->file_size_after));
			json_object_set_new(o, "file_size_before", cli_json_u64(r->file_size_before));
			json_object_set_new(o, "segments_compacted",
					    cli_json_u64(r->segments_compacted));
			json_object_set_new(o, "strip_unknown", json_boolean(strip));
			json_object_set_new(o, "vectors_after", cli_json_u64(r->vectors_after));
			json_object_set_new(o, "vectors_before", cli_json_u64(r->vectors_before));
		}
		return cli_json_print(o);
	}
	printf("Compaction complete:\n");
	cli_kv("Segments compacted", "%llu", (unsigned long long)r->segments_compacted);
	cli_kv("Bytes reclaimed", "%llu", (unsigned long long)r->bytes_reclaimed);
	cli_kv("Epoch", "%u", r->epoch);
	cli_kv("Vectors before", "%llu", (unsigned long long)r->vectors_before);
	cli_kv("Vectors after", "%llu", (unsigned long long)r->vectors_after);
	cli_kv("File size before", "%llu bytes", (unsigned long long)r->file_size_before);
	cli_kv("File size after", "%llu bytes", (unsigned long long)r->file_size_after);
	return CLI_OK;
}

int cmd_compact(int argc, char **argv)
{
	rvf_compact_result res = { 0 };
	const char *path = NULL;
	rvf_store *s = NULL;
	unsigned flags = 0;
	int json = 0, strip = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_STRIP:
			strip = 1;
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("compact", optarg, &flags)))
				return rc;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("compact", argv, opt);
		}
	}
	if ((rc = cli_one_path("compact", argc, argv, &path)))
		return rc;
	if (strip)
		fputs("Warning: --strip-unknown will remove segment types not recognized by this "
		      "version.\nThis may discard data written by newer tools.\n", stderr);
	if ((rc = cli_open_store(path, flags, &s)))
		return rc;
	rc = rvf_compact(s, &res);
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	return report(&res, strip, json);
}
