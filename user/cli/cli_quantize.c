/* cli_quantize.c — `rvf quantize PATH [--type sq8|binary] [--wait] [--json]`.
 * Computes the quant8 parameters over the live vectors and persists them
 * in a QUANT_SEG (+ manifest); every later open derives the SQ8 and 1-bit
 * codes from it and rvf_query_ex with opts.quant scans them (exact rerank). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON = 256, OPT_TYPE, OPT_WAIT, OPT_WAIT_TIMEOUT };

static const struct option opts[] = {
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

int cmd_quantize(int argc, char **argv)
{
	const char *path = NULL;
	rvf_store *s = NULL;
	unsigned flags = 0;
	int type = RVF_QUANT_SQ8, json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_TYPE:
			if (!strcmp(optarg, "sq8"))
				type = RVF_QUANT_SQ8;
			else if (!strcmp(optarg, "binary"))
				type = RVF_QUANT_BINARY;
			else
				return cli_usage("quantize", "invalid value '%s' for '--type <TYPE>': sq8 | binary",
						 optarg);
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("quantize", optarg, &flags)))
				return rc;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("quantize", argv, opt);
		}
	}
	if ((rc = cli_one_path("quantize", argc, argv, &path)))
		return rc;
	if ((rc = cli_open_store(path, flags, &s)))
		return rc;
	uint64_t t0 = cli_now_ns();
	double ms = 0;
	rc = rvf_quantize(s, type);
	ms = cli_ms_since(t0);
	rvf_status ss = { 0 };
	if (!rc)
		rvf_get_status(s, &ss);
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	const char *tname = type == RVF_QUANT_BINARY ? "binary" : "sq8";
	uint64_t code_bytes = type == RVF_QUANT_BINARY ? (ss.dimension + 63) / 64 * 8 : ss.dimension;
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "type", json_string(tname));
			json_object_set_new(o, "vectors", cli_json_u64(ss.total_vectors));
			json_object_set_new(o, "dimension", json_integer(ss.dimension));
			json_object_set_new(o, "code_bytes_per_vector", cli_json_u64(code_bytes));
			json_object_set_new(o, "quantize_ms", cli_json_real(ms));
			json_object_set_new(o, "epoch", json_integer(ss.epoch));
			json_object_set_new(o, "file_size", cli_json_u64(ss.file_size));
		}
		return cli_json_print(o);
	}
	printf("Quantized:\n");
	cli_kv("Type", "%s", tname);
	cli_kv("Vectors", "%llu", (unsigned long long)ss.total_vectors);
	cli_kv("Code bytes", "%llu per vector", (unsigned long long)code_bytes);
	cli_kv("Time", "%.1f ms", ms);
	cli_kv("Epoch", "%u", ss.epoch);
	cli_kv("File size", "%llu bytes", (unsigned long long)ss.file_size);
	return CLI_OK;
}
