/* cli_fanout.c — `rvf net-query --shards H:P,... | --shard-map FILE`: one
 * query to every shard through the client library's fan-out
 * (rvfclient.h), the merged top-k and each shard's status.
 *
 * With --input Q.npy every row is one query, sent one after another; with
 * --json the output is {"complete", "count", "elapsed_us", "partial",
 * "queries": [one object per query]}.
 *
 * Exit status: 0 every shard answered every query with status OK, 3 some
 * did not (the merged result of the others is printed, the missing ones are
 * named on stderr and in the JSON), 1 no shard answered (a query) or the
 * socket failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_fanout.h"
#include "rvfclient.h"
#include "shardmap.h"

static const char *shard_state(const rvf_client_shard_reply *r)
{
	if (r->err == -ETIMEDOUT)
		return "timeout";
	if (r->err == -EBADMSG)
		return "malformed";
	if (r->err)
		return "error";
	return r->res.status == RVF_ST_OK ? "ok" : "error_status";
}

static json_t *shard_json(const char *addr, const rvf_client_shard_reply *r)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "addr", json_string(addr));
	json_object_set_new(o, "attempts", json_integer(r->res.attempts));
	json_object_set_new(o, "state", json_string(shard_state(r)));
	if (r->err == 0) {
		json_object_set_new(o, "count", json_integer(r->res.count));
		json_object_set_new(o, "epoch", json_integer(r->res.epoch));
		json_object_set_new(o, "path", json_string(rvf_client_path_str(r->res.path)));
		json_object_set_new(o, "rtt_us", cli_json_real((double)r->res.rtt_ns / 1e3));
		json_object_set_new(o, "status", json_string(rvf_client_status_str(r->res.status)));
	}
	return o;
}

static json_t *result_json(const char *const *addrs, const rvf_client_fanout_result *m,
			   const rvf_client_shard_reply *per)
{
	json_t *shards = json_array(), *missing = json_array();
	rvf_hit hits[RVF_WIRE_MAX_K];

	for (size_t i = 0; shards && missing && i < m->nshards; i++) {
		json_array_append_new(shards, shard_json(addrs[i], &per[i]));
		if (per[i].err || per[i].res.status != RVF_ST_OK)
			json_array_append_new(missing, json_string(addrs[i]));
	}
	for (unsigned i = 0; i < m->count; i++) {
		hits[i].id = m->hits[i].id;
		hits[i].distance = m->hits[i].distance;
	}
	return json_pack("{s:b, s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:I}",
					"complete", m->answered == m->nshards,
					"count", (json_int_t)m->count,
					"duplicate_ids", (json_int_t)m->duplicate_ids,
					"elapsed_us", cli_json_real((double)m->elapsed_ns / 1e3),
					"ignored", (json_int_t)m->ignored,
					"missing", missing,
					"results", cli_json_hits(hits, m->count),
					"shards", shards,
					"answered", (json_int_t)m->answered);
}

static int print_text(const char *const *addrs, const rvf_client_fanout_result *m,
		      const rvf_client_shard_reply *per)
{
	rvf_hit hits[RVF_WIRE_MAX_K];

	printf("Merged top-%u from %zu of %zu shards (%.1f us)\n", m->count, m->answered,
	       m->nshards, (double)m->elapsed_ns / 1e3);
	for (size_t i = 0; i < m->nshards; i++) {
		if (per[i].err == 0)
			printf("  shard %s: %s, %s, epoch %u, %u hits, rtt %.1f us\n", addrs[i],
			       rvf_client_status_str(per[i].res.status),
			       rvf_client_path_str(per[i].res.path), per[i].res.epoch,
			       per[i].res.count, (double)per[i].res.rtt_ns / 1e3);
		else
			printf("  shard %s: %s\n", addrs[i], shard_state(&per[i]));
	}
	for (unsigned i = 0; i < m->count; i++) {
		hits[i].id = m->hits[i].id;
		hits[i].distance = m->hits[i].distance;
	}
	return cli_print_hits(hits, m->count);
}

static void warn_missing(const char *const *addrs, const rvf_client_shard_reply *per, size_t n,
			 const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		if (per[i].err == 0 && per[i].res.status == RVF_ST_OK)
			continue;
		if (per[i].err == 0)
			fprintf(stderr, "warning: %sshard %s answered with status %u (%s): left out "
				"of the result\n", prefix, addrs[i], per[i].res.status,
				rvf_client_status_str(per[i].res.status));
		else
			fprintf(stderr, "warning: %sshard %s %s: left out of the result\n", prefix,
				addrs[i], per[i].err == -ETIMEDOUT ? "did not answer in time"
								   : "sent only malformed replies");
	}
}

int cli_net_query_shards(const char *const *addrs, size_t n, const float *q, size_t dim,
			 size_t nq, int k, uint16_t flags, int timeout_ms, int retries, int json)
{
	rvf_client_shard_reply *per = calloc(n, sizeof *per);
	json_t *all = nq > 1 && json ? json_array() : NULL;
	size_t complete = 0, empty = 0;
	rvf_client_fanout_result m;
	rvf_client_fanout *f = NULL;
	uint64_t t0 = 0;
	int rc;

	if (!per || (nq > 1 && json && !all)) {
		free(per);
		json_decref(all);
		return cli_fail("out of memory");
	}
	rc = rvf_client_fanout_open(addrs, n, &f);
	if (rc) {
		free(per);
		json_decref(all);
		if (rc == -EINVAL)
			return cli_usage("net-query", "invalid shard list: every entry must be "
					 "HOST:PORT or [IPV6]:PORT, each address once");
		return cli_fail("cannot use the shard addresses: %s",
				rc == -EHOSTUNREACH ? "a host was not found" : strerror(-rc));
	}
	for (size_t qi = 0; qi < nq; qi++) {
		char prefix[48] = "";

		rc = rvf_client_fanout_query(f, q + qi * dim, (uint32_t)dim, (uint32_t)k, flags,
					     timeout_ms, retries, &m, per);
		if (rc) {
			rc = cli_fail("fan-out query failed: %s", strerror(-rc));
			break;
		}
		t0 += m.elapsed_ns;
		complete += m.answered == m.nshards;
		empty += m.answered == 0;
		if (nq > 1)
			snprintf(prefix, sizeof prefix, "query %zu: ", qi);
		warn_missing(addrs, per, n, prefix);
		if (all)
			rc = json_array_append_new(all, result_json(addrs, &m, per)) ? CLI_FAIL
										       : CLI_OK;
		else if (json)
			rc = cli_json_print(result_json(addrs, &m, per));
		else
			rc = print_text(addrs, &m, per);
		if (rc)
			break;
	}
	rvf_client_fanout_close(f);
	free(per);
	if (all) {
		if (!rc)
			rc = cli_json_print(json_pack("{s:I, s:I, s:o, s:I, s:o}",
						      "complete", (json_int_t)complete,
						      "count", (json_int_t)nq,
						      "elapsed_us", cli_json_real((double)t0 / 1e3),
						      "partial", (json_int_t)(nq - complete),
						      "queries", all));
		else
			json_decref(all);
	}
	if (rc)
		return rc;
	if (empty)
		return cli_fail(nq > 1 ? "no shard answered %zu of the queries" : "no shard answered",
				empty);
	if (complete < nq) {
		if (nq > 1)
			fprintf(stderr, "warning: partial results: %zu of %zu queries missed a shard\n",
				nq - complete, nq);
		else
			fprintf(stderr, "warning: partial result: %zu of %zu shards answered\n",
				m.answered, m.nshards);
		return CLI_PARTIAL;
	}
	return CLI_OK;
}

int cli_shard_addrs_from_map(const char *path, char ***addrs, size_t *n)
{
	struct shard_map m;
	char **a;

	if (shardmap_load(path, &m))
		return CLI_FAIL;
	a = calloc(m.nshards, sizeof *a);
	for (unsigned i = 0; a && i < m.nshards; i++) {
		if (!m.shards[i].addr[0]) {
			cli_fail("%s: shard %u (%s) has no \"addr\"", path, i, m.shards[i].file);
			cli_shard_addrs_free(a, i);
			shardmap_free(&m);
			return CLI_FAIL;
		}
		if (!(a[i] = strdup(m.shards[i].addr))) {
			cli_shard_addrs_free(a, i);
			a = NULL;
		}
	}
	*n = m.nshards;
	shardmap_free(&m);
	if (!a)
		return cli_fail("out of memory");
	*addrs = a;
	return CLI_OK;
}

int cli_shard_addrs_from_list(const char *list, char ***addrs, size_t *n)
{
	size_t cnt = 1, i = 0;
	char **a;

	for (const char *p = list; *p; p++)
		cnt += *p == ',';
	a = calloc(cnt, sizeof *a);
	if (!a)
		return cli_fail("out of memory");
	for (const char *p = list;; i++) {
		size_t len = strcspn(p, ",");

		if (len == 0) {
			cli_shard_addrs_free(a, i);
			return cli_usage("net-query", "--shards: empty entry in '%s'", list);
		}
		if (!(a[i] = strndup(p, len))) {
			cli_shard_addrs_free(a, i);
			return cli_fail("out of memory");
		}
		p += len;
		if (!*p)
			break;
		p++;
	}
	*addrs = a;
	*n = cnt;
	return CLI_OK;
}

void cli_shard_addrs_free(char **addrs, size_t n)
{
	for (size_t i = 0; addrs && i < n; i++)
		free(addrs[i]);
	free(addrs);
}
