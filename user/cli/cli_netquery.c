/* cli_netquery.c — `rvf net-query HOST:PORT -v "1,2,3" [-k K] [--json]
 * [--timeout-ms T] [--retries R] [--daemon] [--no-cache] [--i8]`: one query
 * over the UDP wire protocol (docs/PROTOCOL.md) through the client library,
 * reporting which path answered (xdp, cache or daemon).
 *
 * With --shards H:P,... or --shard-map FILE the query goes to every shard
 * at once and the merged top-k is printed (cli_fanout.c).
 *
 * Exit status: 0 answered with status OK, 1 no reply / error status /
 * malformed replies, 2 usage error, 3 (shards) a partial result.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_fanout.h"
#include "npy.h"
#include "rvfclient.h"

enum {
	OPT_JSON = 256,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_DAEMON,
	OPT_NO_CACHE,
	OPT_I8,
	OPT_SHARDS,
	OPT_SHARD_MAP,
	OPT_INPUT,
};

static const struct option opts[] = {
	{ "vector", required_argument, NULL, 'v' },
	{ "k", required_argument, NULL, 'k' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "daemon", no_argument, NULL, OPT_DAEMON },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "i8", no_argument, NULL, OPT_I8 },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "shard-map", required_argument, NULL, OPT_SHARD_MAP },
	{ "input", required_argument, NULL, OPT_INPUT },
	{ NULL, 0, NULL, 0 },
};

static int print_result(const rvf_client_result *r, int json)
{
	rvf_hit hits[RVF_WIRE_MAX_K];
	double rtt_us = (double)r->rtt_ns / 1e3;

	for (unsigned i = 0; i < r->count; i++) {
		hits[i].id = r->hits[i].id;
		hits[i].distance = r->hits[i].distance;
	}
	if (json)
		return cli_json_print(json_pack("{s:I, s:I, s:s, s:I, s:o, s:o, s:I}",
						"count", (json_int_t)r->count,
						"epoch", (json_int_t)r->epoch,
						"path", rvf_client_path_str(r->path),
						"req_id", (json_int_t)r->req_id,
						"results", cli_json_hits(hits, r->count),
						"rtt_us", cli_json_real(rtt_us),
						"attempts", (json_int_t)r->attempts));
	printf("Answered by %s (epoch %u, req_id %u, rtt %.1f us, attempt %u)\n",
	       rvf_client_path_str(r->path), r->epoch, r->req_id, rtt_us, r->attempts);
	return cli_print_hits(hits, r->count);
}

static int parse_int(const char *opt, const char *s, uint64_t max, int *out)
{
	uint64_t v;

	if (cli_parse_u64(s, &v) || v > max)
		return cli_usage("net-query", "invalid value '%s' for '%s': expected an integer "
				 "0..%llu", s, opt, (unsigned long long)max);
	*out = (int)v;
	return CLI_OK;
}

/* --shards / --shard-map: no positional target, f32 queries only. */
static int fan_out(int argc, char **argv, const char *shards, const char *shard_map,
		   const char *vec_s, const char *input, int k, uint16_t flags, int timeout_ms,
		   int retries, int json, int i8)
{
	char **addrs = NULL;
	size_t n = 0, dim = 0, nq = 1;
	float *q = NULL;
	int rc;

	if (shards && shard_map)
		return cli_usage("net-query", "--shards and --shard-map exclude each other");
	if (optind < argc)
		return cli_usage("net-query", "unexpected argument '%s' found (the shards come "
				 "from --shards / --shard-map)", argv[optind]);
	if (i8)
		return cli_usage("net-query", "--i8 is not supported with shards");
	if (!vec_s == !input)
		return cli_usage("net-query", "give exactly one of --vector <VECTOR> and "
				 "--input <Q.npy>");
	if (input) {
		struct npy_f32 a;
		char err[512];

		if (npy_load_f32(input, &a, err, sizeof err))
			return cli_fail("%s", err);
		q = a.data;
		nq = a.rows;
		dim = a.cols;
		if (nq == 0) {
			free(q);
			return cli_fail("%s: no queries", input);
		}
	} else if (cli_parse_vector(vec_s, &q, &dim)) {
		return CLI_USAGE;
	}
	if (dim == 0 || dim > 65535) {
		free(q);
		return cli_usage("net-query", "the query vector needs 1..65535 components");
	}
	rc = shards ? cli_shard_addrs_from_list(shards, &addrs, &n)
		    : cli_shard_addrs_from_map(shard_map, &addrs, &n);
	if (rc == CLI_OK)
		rc = cli_net_query_shards((const char *const *)addrs, n, q, dim, nq, k, flags,
					  timeout_ms, retries, json);
	cli_shard_addrs_free(addrs, n);
	free(q);
	return rc;
}

int cmd_net_query(int argc, char **argv)
{
	const char *target, *vec_s = NULL, *shards = NULL, *shard_map = NULL, *input = NULL;
	int json = 0, i8 = 0, timeout_ms = 1000, retries = 2, k = 10, opt, rc;
	uint16_t flags = 0;
	rvf_client_result res;
	rvf_client *c = NULL;
	float *q = NULL;
	int8_t *q8 = NULL;
	size_t dim = 0;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":v:k:", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			vec_s = optarg;
			break;
		case 'k':
			if ((rc = parse_int("--k <K>", optarg, RVF_WIRE_MAX_K, &k)))
				return rc;
			if (k == 0)
				return cli_usage("net-query", "invalid value '0' for '--k <K>': "
						 "expected 1..%d", RVF_WIRE_MAX_K);
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_TIMEOUT:
			if ((rc = parse_int("--timeout-ms <T>", optarg, 3600 * 1000, &timeout_ms)))
				return rc;
			break;
		case OPT_RETRIES:
			if ((rc = parse_int("--retries <R>", optarg, 100, &retries)))
				return rc;
			break;
		case OPT_DAEMON:
			flags |= RVF_WF_DAEMON;
			break;
		case OPT_NO_CACHE:
			flags |= RVF_WF_NO_CACHE;
			break;
		case OPT_I8:
			i8 = 1;
			break;
		case OPT_SHARDS:
			shards = optarg;
			break;
		case OPT_SHARD_MAP:
			shard_map = optarg;
			break;
		case OPT_INPUT:
			input = optarg;
			break;
		default:
			return cli_bad_option("net-query", argv, opt);
		}
	}
	if (shards || shard_map)
		return fan_out(argc, argv, shards, shard_map, vec_s, input, k, flags, timeout_ms,
			       retries, json, i8);
	if (input)
		return cli_usage("net-query", "--input needs --shards or --shard-map");
	if (optind >= argc)
		return cli_usage("net-query", "the required argument <HOST:PORT> was not provided");
	if (optind + 1 < argc)
		return cli_usage("net-query", "unexpected argument '%s' found", argv[optind + 1]);
	target = argv[optind];
	if (!vec_s)
		return cli_usage("net-query", "the following required arguments were not provided:"
				 "\n  --vector <VECTOR>");
	if (cli_parse_vector(vec_s, &q, &dim))
		return CLI_USAGE; /* message printed */
	if (dim == 0 || dim > 65535) {
		free(q);
		return cli_usage("net-query", "the query vector needs 1..65535 components");
	}

	rc = rvf_client_open(target, &c);
	if (rc) {
		rc = rc == -EINVAL ? cli_usage("net-query", "invalid address '%s': expected "
					       "HOST:PORT or [IPV6]:PORT", target)
				   : cli_fail("cannot use address '%s': %s", target,
					      rc == -EHOSTUNREACH ? "host not found" : strerror(-rc));
		goto out;
	}
	if (i8) {
		float scale;

		q8 = malloc(dim);
		if (!q8) {
			rc = cli_fail("out of memory");
			goto out;
		}
		if (rvf_client_quantize(q, (uint32_t)dim, q8, &scale)) {
			rc = cli_usage("net-query", "--i8: the vector has a NaN or infinite component");
			goto out;
		}
		rc = rvf_client_query_i8(c, q8, (uint32_t)dim, scale, (uint32_t)k, flags, timeout_ms,
					 retries, &res);
	} else {
		rc = rvf_client_query(c, q, (uint32_t)dim, (uint32_t)k, flags, timeout_ms, retries,
				      &res);
	}
	switch (rc) {
	case 0:
		break;
	case -ETIMEDOUT:
		rc = cli_fail("no reply from %s after %d attempt%s of %d ms", target, retries + 1,
			      retries ? "s" : "", timeout_ms);
		goto out;
	case -EBADMSG:
		rc = cli_fail("%s sent only malformed replies", target);
		goto out;
	case -ECONNREFUSED:
		rc = cli_fail("%s refused the query (no server on that port)", target);
		goto out;
	default:
		rc = cli_fail("query to %s failed: %s", target, strerror(-rc));
		goto out;
	}
	if (res.status != RVF_ST_OK) {
		rc = cli_fail("server %s answered with status %u (%s), path %s", target, res.status,
			      rvf_client_status_str(res.status), rvf_client_path_str(res.path));
		goto out;
	}
	rc = print_result(&res, json);
out:
	rvf_client_close(c);
	free(q8);
	free(q);
	return rc;
}
