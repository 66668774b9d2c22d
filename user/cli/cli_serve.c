/* cli_serve.c — `rvf serve PATH [--port 8080] [--bind 127.0.0.1]
 * [--max-body BYTES] [--threads N] [--wait]`: the store over HTTP/JSON
 * (libmicrohttpd, internal thread pool).
 *
 * The store is opened read-write (it holds the writer lock for the life of
 * the process); every store call runs under one mutex, so requests are
 * serialised against each other and a query sees every write acknowledged
 * before it. Endpoints (JSON in and out, errors {"error": "...", "code":
 * <HTTP status>}):
 *
 *   GET  /v1/status   {total_vectors, total_segments, file_size, current_epoch,
 *                      profile_id, dead_space_ratio, read_only (the reference's
 *                      keys), dimension, metric, deleted_vectors, stored_vectors}
 *   POST /v1/query    {vector, k?=10, filter?, ef_search?, with_metadata?,
 *                      exact?, timeout_ms?} -> {count, results:[{id, distance
 *                      (, metadata)}]} — the same hits and numbers as
 *                      `rvf query --json` (k is clamped to the live count;
 *                      k == 0 is a 400 as in the reference)
 *   POST /v1/ingest   {vectors:[{id, vector, metadata?}]} or the reference's
 *                      {vectors:[[..]], ids:[..]} -> {accepted, rejected, epoch};
 *                      a malformed record or a wrong dimension rejects the
 *                      whole request (400) and nothing is written
 *   POST /v1/delete   {ids:[..]} or {filter:..} -> {deleted, epoch}
 *   GET  /healthz, /v1/health  {"status":"ok"}
 *   GET  /metrics     Prometheus text: rvf_http_requests_total{endpoint,status},
 *                      rvf_query_duration_seconds histogram, store gauges
 *
 * Errors: 400 bad JSON / missing or mistyped field / wrong dimension / bad
 * filter, 404 unknown route, 405 wrong method (with Allow), 413 body larger
 * than --max-body (refused from Content-Length before the body is read; a
 * chunked body is counted while it arrives and never buffered past the
 * limit), 409 lock held, 403 read-only, 500 other store failures.
 * SIGINT/SIGTERM: stop accepting, finish running requests, persist a changed
 * HNSW index, close the store, exit 0.
 */
#include "cli.h"

#ifndef RVF_HAVE_MHD
/* Built without libmicrohttpd (the Makefile adds -DRVF_HAVE_MHD together
 * with libmicrohttpd in PKGS): the command exists but says why it cannot run. */
int cmd_serve(int argc, char **argv)
{
	return cli_fail("this rvf was built without libmicrohttpd (install libmicrohttpd-dev, "
			"list libmicrohttpd in the Makefile's PKGS, build with -DRVF_HAVE_MHD)");
}
#else
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "meta.h"

#define DEFAULT_MAX_BODY (16u << 20)

enum { OPT_BIND = 256, OPT_MAXBODY, OPT_THREADS, OPT_WAIT };

/* ---- routes and metrics -------------------------------------------------- */
enum route { R_STATUS, R_QUERY, R_INGEST, R_DELETE, R_HEALTHZ, R_HEALTH, R_METRICS, R_OTHER, R_N };

static const struct {
	const char *path, *method;
} routes[R_N] = {
	[R_STATUS] = { "/v1/status", "GET" },   [R_QUERY] = { "/v1/query", "POST" },
	[R_INGEST] = { "/v1/ingest", "POST" },  [R_DELETE] = { "/v1/delete", "POST" },
	[R_HEALTHZ] = { "/healthz", "GET" },    [R_HEALTH] = { "/v1/health", "GET" },
	[R_METRICS] = { "/metrics", "GET" },    [R_OTHER] = { "other", NULL },
};

static const double lat_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5 };
#define NBUCKETS (sizeof lat_bounds / sizeof lat_bounds[0])
#define MAX_STATUS_KINDS 16

struct server {
	rvf_store *s;
	pthread_mutex_t mu; /* the store */
	size_t max_body;
	/* metrics, under mmu */
	pthread_mutex_t mmu;
	struct {
		unsigned status;
		uint64_t n;
	} req[R_N][MAX_STATUS_KINDS];
	uint64_t lat_bucket[NBUCKETS + 1], lat_count;
	double lat_sum;
	uint64_t total;
};

/* One request's state (MHD's con_cls). */
struct req {
	enum route route;
	int post;
	int too_big;
	char *body;
	size_t len, cap;
	uint64_t received;
};

static void count_request(struct server *sv, enum route r, unsigned status)
{
	int i;

	pthread_mutex_lock(&sv->mmu);
	sv->total++;
	for (i = 0; i < MAX_STATUS_KINDS; i++) {
		if (sv->req[r][i].status == status || !sv->req[r][i].status) {
			sv->req[r][i].status = status;
			sv->req[r][i].n++;
			break;
		}
	}
	pthread_mutex_unlock(&sv->mmu);
}

static void observe_latency(struct server *sv, double sec)
{
	size_t b = 0;

	while (b < NBUCKETS && sec > lat_bounds[b])
		b++;
	pthread_mutex_lock(&sv->mmu);
	sv->lat_bucket[b]++;
	sv->lat_count++;
	sv->lat_sum += sec;
	pthread_mutex_unlock(&sv->mmu);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- responses -------------------------------------------------------------- */

static enum MHD_Result send_text(struct server *sv, struct MHD_Connection *c, enum route r,
				 unsigned status, const char *ctype, char *text, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	count_request(sv, r, status);
	return ret;
}

/* Steals j. */
static enum MHD_Result send_json_allow(struct server *sv, struct MHD_Connection *c, enum route r,
				       unsigned status, json_t *j, const char *allow)
{
	char *text = NULL;

	if (j)
		text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	json_decref(j);
	if (!text) {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		text = strdup("{\"code\":500,\"error\":\"out of memory building the response\"}");
		if (!text)
			return MHD_NO;
	}
	size_t n = strlen(text);
	char *t2 = realloc(text, n + 2);
	if (t2) {
		text = t2;
		text[n] = '\n';
		text[n + 1] = 0;
	}
	return send_text(sv, c, r, status, "application/json", text, allow);
}

static enum MHD_Result send_json(struct server *sv, struct MHD_Connection *c, enum route r,
				 unsigned status, json_t *j)
{
	return send_json_allow(sv, c, r, status, j, NULL);
}

__attribute__((format(printf, 5, 6))) static enum MHD_Result
send_error(struct server *sv, struct MHD_Connection *c, enum route r, unsigned status,
	   const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return send_json(sv, c, r, status, json_pack("{s:s, s:i}", "error", msg, "code", (int)status));
}

static unsigned store_status(int err)
{
	switch (err) {
	case RVF_E_DIMENSION:
	case RVF_E_ARG: return MHD_HTTP_BAD_REQUEST;
	case RVF_E_READONLY: return MHD_HTTP_FORBIDDEN;
	case RVF_E_LOCKED: return MHD_HTTP_CONFLICT;
	case RVF_E_NOT_FOUND:
	case RVF_E_NO_MANIFEST: return MHD_HTTP_NOT_FOUND;
	case RVF_E_TIMEOUT: return MHD_HTTP_GATEWAY_TIMEOUT;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Call with the store mutex held (rvf_last_error is per thread, so it is
 * this request's message). */
static enum MHD_Result send_store_error(struct server *sv, struct MHD_Connection *c, enum route r,
					int err)
{
	const char *m = rvf_last_error();
	return send_error(sv, c, r, store_status(err), "%s%s%s", rvf_strerror(err), *m ? ": " : "", m);
}

/* ---- request parsing helpers ---------------------------------------------- */

/* Body as a JSON object, or NULL after sending the 400. */
static json_t *parse_body(struct server *sv, struct MHD_Connection *c, struct req *q,
			  enum MHD_Result *ret)
{
	json_error_t je;
	json_t *j;

	if (!q->len) {
		*ret = send_error(sv, c, q->route, MHD_HTTP_BAD_REQUEST,
				  "empty request body: expected a JSON object");
		return NULL;
	}
	j = json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		*ret = send_error(sv, c, q->route, MHD_HTTP_BAD_REQUEST,
				  "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*ret = send_error(sv, c, q->route, MHD_HTTP_BAD_REQUEST,
				  "request body must be a JSON object");
		return NULL;
	}
	return j;
}

/* Non-negative integer field; 0 ok, 1 absent, -1 wrong type/range. */
static int get_uint(const json_t *o, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_bool(const json_t *o, const char *key, int *out)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 1;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* arr of numbers into out[0..dim); 0, -1 not a number (index in *bad), -2 length. */
static int get_floats(const json_t *arr, float *out, size_t dim, size_t *bad)
{
	size_t i;
	json_t *x;

	if (json_array_size(arr) != dim)
		return -2;
	json_array_foreach(arr, i, x) {
		if (!json_is_number(x)) {
			*bad = i;
			return -1;
		}
		out[i] = (float)json_number_value(x);
	}
	return 0;
}

/* "filter": a JSON object/array, or a string holding one. NULL *f if absent.
 * Returns 0 or -1 with msg filled. */
static int get_filter(const json_t *o, rvf_filter **f, char *msg, size_t len)
{
	const json_t *v = json_object_get(o, "filter");
	char *txt;
	int e;

	*f = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		txt = strdup(json_string_value(v));
	else if (json_is_object(v) || json_is_array(v))
		txt = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
	else {
		snprintf(msg, len, "\"filter\" must be a JSON object (or a string holding one)");
		return -1;
	}
	if (!txt) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	e = rvf_filter_parse(txt, f);
	free(txt);
	if (e) {
		snprintf(msg, len, "invalid filter: %s", rvf_last_error());
		return -1;
	}
	return 0;
}

/* ---- handlers ------------------------------------------------------------------ */

static enum MHD_Result h_status(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	rvf_status st;
	int e;

	pthread_mutex_lock(&sv->mu);
	e = rvf_get_status(sv->s, &st);
	if (e) {
		enum MHD_Result r = send_store_error(sv, c, q->route, e);
		pthread_mutex_unlock(&sv->mu);
		return r;
	}
	pthread_mutex_unlock(&sv->mu);
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "total_vectors", cli_json_u64(st.total_vectors));
		json_object_set_new(o, "total_segments", cli_json_u64(st.total_segments));
		json_object_set_new(o, "file_size", cli_json_u64(st.file_size));
		json_object_set_new(o, "current_epoch", json_integer(st.epoch));
		json_object_set_new(o, "profile_id", json_integer(st.profile_id));
		json_object_set_new(o, "dead_space_ratio", cli_json_real(st.dead_space_ratio));
		json_object_set_new(o, "read_only", json_boolean(st.read_only));
		json_object_set_new(o, "dimension", json_integer(st.dimension));
		json_object_set_new(o, "metric", json_string(rvf_metric_name(st.metric)));
		json_object_set_new(o, "deleted_vectors", cli_json_u64(st.deleted_vectors));
		json_object_set_new(o, "stored_vectors", cli_json_u64(st.stored_vectors));
	}
	return send_json(sv, c, q->route, MHD_HTTP_OK, o);
}

static enum MHD_Result h_query(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	enum MHD_Result ret = MHD_NO;
	uint64_t k = 10, ef = 0, tmo = 0;
	int with_meta = 0, exact = 0, e;
	rvf_filter *f = NULL;
	rvf_hit *hits = NULL;
	float *vec = NULL;
	char msg[512];
	size_t bad = 0, nout = 0;
	json_t *j, *v;
	uint32_t dim = rvf_dimension(sv->s); /* fixed for the life of the store */

	if (!(j = parse_body(sv, c, q, &ret)))
		return ret;
	v = json_object_get(j, "vector");
	if (!v) {
		ret = send_error(sv, c, q->route, 400, "missing field \"vector\"");
		goto out;
	}
	if (!json_is_array(v)) {
		ret = send_error(sv, c, q->route, 400, "\"vector\" must be an array of numbers");
		goto out;
	}
	if (get_uint(j, "k", UINT32_MAX, &k) < 0 || get_uint(j, "ef_search", UINT32_MAX, &ef) < 0 ||
	    get_uint(j, "timeout_ms", UINT32_MAX, &tmo) < 0) {
		ret = send_error(sv, c, q->route, 400,
				 "\"k\", \"ef_search\" and \"timeout_ms\" must be integers 0..4294967295");
		goto out;
	}
	if (!k) {
		ret = send_error(sv, c, q->route, 400, "k must be > 0");
		goto out;
	}
	if (get_bool(j, "with_metadata", &with_meta) < 0 || get_bool(j, "exact", &exact) < 0) {
		ret = send_error(sv, c, q->route, 400, "\"with_metadata\" and \"exact\" must be booleans");
		goto out;
	}
	vec = malloc((dim ? dim : 1) * sizeof *vec);
	if (!vec) {
		ret = send_error(sv, c, q->route, 500, "out of memory");
		goto out;
	}
	e = get_floats(v, vec, dim, &bad);
	if (e == -2) {
		ret = send_error(sv, c, q->route, 400,
				 "dimension mismatch: query vector has %zu components, the store has "
				 "dimension %u", json_array_size(v), dim);
		goto out;
	}
	if (e == -1) {
		ret = send_error(sv, c, q->route, 400, "\"vector\" component %zu is not a number", bad);
		goto out;
	}
	if (get_filter(j, &f, msg, sizeof msg)) {
		ret = send_error(sv, c, q->route, 400, "%s", msg);
		goto out;
	}

	pthread_mutex_lock(&sv->mu);
	uint64_t live = rvf_live_count(sv->s);
	if (k > live)
		k = live;
	if (k && !(hits = malloc(k * sizeof *hits))) {
		pthread_mutex_unlock(&sv->mu);
		ret = send_error(sv, c, q->route, 500, "out of memory");
		goto out;
	}
	if (k) {
		rvf_query_opts o = {
			.k = k, .filter = f, .ef_search = (uint32_t)ef, .timeout_ms = (uint32_t)tmo,
			.exact = exact,
		};
		double t0 = mono_s();
		e = rvf_query_ex(sv->s, vec, dim, &o, hits, &nout);
		observe_latency(sv, mono_s() - t0);
		if (e) {
			ret = send_store_error(sv, c, q->route, e);
			pthread_mutex_unlock(&sv->mu);
			goto out;
		}
	}
	/* Metadata pointers are valid until the next write: build under the lock. */
	json_t *res = json_pack("{s:I, s:o}", "count", (json_int_t)nout, "results",
				cli_json_hits_meta(sv->s, hits, nout, with_meta));
	pthread_mutex_unlock(&sv->mu);
	ret = send_json(sv, c, q->route, MHD_HTTP_OK, res);
out:
	rvf_filter_free(f);
	free(hits);
	free(vec);
	json_decref(j);
	return ret;
}

static enum MHD_Result h_ingest(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	enum MHD_Result ret = MHD_NO;
	uint32_t dim = rvf_dimension(sv->s);
	const json_t *vecs, *ids, *mds;
	rvf_field **fields = NULL;
	size_t *nfields = NULL;
	uint64_t *idv = NULL;
	float *data = NULL;
	size_t n, i, bad = 0;
	int simple, e;
	json_t *j;

	if (!(j = parse_body(sv, c, q, &ret)))
		return ret;
	vecs = json_object_get(j, "vectors");
	if (!vecs) {
		ret = send_error(sv, c, q->route, 400, "missing field \"vectors\"");
		goto out;
	}
	if (!json_is_array(vecs)) {
		ret = send_error(sv, c, q->route, 400,
				 "\"vectors\" must be an array of {\"id\", \"vector\", \"metadata\"?} "
				 "objects (or of vectors, with \"ids\")");
		goto out;
	}
	n = json_array_size(vecs);
	if (!n) {
		ret = send_error(sv, c, q->route, 400, "vectors must not be empty");
		goto out;
	}
	/* Reference shape: {"vectors": [[..]..], "ids": [..], "metadata"?: [{..}..]}. */
	simple = json_is_array(json_array_get(vecs, 0));
	ids = json_object_get(j, "ids");
	mds = json_object_get(j, "metadata");
	if (simple) {
		if (!ids || !json_is_array(ids)) {
			ret = send_error(sv, c, q->route, 400,
					 "missing field \"ids\" (required when \"vectors\" holds arrays)");
			goto out;
		}
		if (json_array_size(ids) != n) {
			ret = send_error(sv, c, q->route, 400, "vectors and ids must have the same length");
			goto out;
		}
		if (mds && !json_is_null(mds) && (!json_is_array(mds) || json_array_size(mds) != n)) {
			ret = send_error(sv, c, q->route, 400,
					 "\"metadata\" must be an array with one object per vector");
			goto out;
		}
	} else if (ids) {
		ret = send_error(sv, c, q->route, 400,
				 "\"ids\" is only accepted when \"vectors\" holds arrays; put \"id\" in "
				 "each record");
		goto out;
	}
	idv = calloc(n, sizeof *idv);
	data = malloc(n * (dim ? dim : 1) * sizeof *data);
	fields = calloc(n, sizeof *fields);
	nfields = calloc(n, sizeof *nfields);
	if (!idv || !data || !fields || !nfields) {
		ret = send_error(sv, c, q->route, 500, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const json_t *rec = json_array_get(vecs, i), *id, *v, *md;

		if (simple) {
			id = json_array_get(ids, i);
			v = rec;
			md = mds && !json_is_null(mds) ? json_array_get(mds, i) : NULL;
		} else {
			if (!json_is_object(rec)) {
				ret = send_error(sv, c, q->route, 400,
						 "vectors[%zu]: expected an object with \"id\" and \"vector\"", i);
				goto out;
			}
			id = json_object_get(rec, "id");
			v = json_object_get(rec, "vector");
			md = json_object_get(rec, "metadata");
			if (!id || !v) {
				ret = send_error(sv, c, q->route, 400, "vectors[%zu]: missing field \"%s\"",
						 i, id ? "vector" : "id");
				goto out;
			}
		}
		if (!json_is_integer(id) || json_integer_value(id) < 0) {
			ret = send_error(sv, c, q->route, 400, "%s[%zu]: id must be a non-negative integer",
					 simple ? "ids" : "vectors", i);
			goto out;
		}
		idv[i] = (uint64_t)json_integer_value(id);
		if (!json_is_array(v)) {
			ret = send_error(sv, c, q->route, 400, "vectors[%zu]: vector must be an array of numbers", i);
			goto out;
		}
		e = get_floats(v, data + i * dim, dim, &bad);
		if (e == -2) {
			ret = send_error(sv, c, q->route, 400,
					 "dimension mismatch: vectors[%zu] has %zu components, the store "
					 "has dimension %u", i, json_array_size(v), dim);
			goto out;
		}
		if (e == -1) {
			ret = send_error(sv, c, q->route, 400,
					 "vectors[%zu]: component %zu is not a number", i, bad);
			goto out;
		}
		if (md && !json_is_null(md)) {
			if (meta_from_json(md, &fields[i], &nfields[i])) {
				ret = send_error(sv, c, q->route, 400, "vectors[%zu]: bad metadata: %s", i,
						 rvf_last_error());
				goto out;
			}
		}
	}
	rvf_ingest_result res;
	pthread_mutex_lock(&sv->mu);
	e = rvf_ingest_meta(sv->s, idv, data, n, (const rvf_field *const *)fields, nfields, &res);
	if (e) {
		ret = send_store_error(sv, c, q->route, e);
		pthread_mutex_unlock(&sv->mu);
		goto out;
	}
	pthread_mutex_unlock(&sv->mu);
	ret = send_json(sv, c, q->route, MHD_HTTP_OK,
			json_pack("{s:o, s:o, s:I}", "accepted", cli_json_u64(res.accepted), "rejected",
				  cli_json_u64(res.rejected), "epoch", (json_int_t)res.epoch));
out:
	if (fields)
		for (i = 0; i < n; i++)
			free(fields[i]);
	free(fields);
	free(nfields);
	free(idv);
	free(data);
	json_decref(j);
	return ret;
}

static enum MHD_Result h_delete(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	enum MHD_Result ret = MHD_NO;
	const json_t *ids, *x;
	uint64_t *idv = NULL;
	rvf_filter *f = NULL;
	rvf_delete_result res;
	char msg[512];
	size_t n = 0, i;
	json_t *j;
	int e;

	if (!(j = parse_body(sv, c, q, &ret)))
		return ret;
	ids = json_object_get(j, "ids");
	if (ids && json_object_get(j, "filter")) {
		ret = send_error(sv, c, q->route, 400, "give either \"ids\" or \"filter\", not both");
		goto out;
	}
	if (ids) {
		if (!json_is_array(ids)) {
			ret = send_error(sv, c, q->route, 400, "\"ids\" must be an array of integers");
			goto out;
		}
		n = json_array_size(ids);
		if (!n) {
			ret = send_error(sv, c, q->route, 400, "ids must not be empty");
			goto out;
		}
		idv = malloc(n * sizeof *idv);
		if (!idv) {
			ret = send_error(sv, c, q->route, 500, "out of memory");
			goto out;
		}
		json_array_foreach(ids, i, x) {
			if (!json_is_integer(x) || json_integer_value(x) < 0) {
				ret = send_error(sv, c, q->route, 400,
						 "ids[%zu] must be a non-negative integer", i);
				goto out;
			}
			idv[i] = (uint64_t)json_integer_value(x);
		}
	} else {
		if (get_filter(j, &f, msg, sizeof msg)) {
			ret = send_error(sv, c, q->route, 400, "%s", msg);
			goto out;
		}
		if (!f) {
			ret = send_error(sv, c, q->route, 400, "missing field: expected \"ids\" or \"filter\"");
			goto out;
		}
	}
	pthread_mutex_lock(&sv->mu);
	e = f ? rvf_delete_filter(sv->s, f, &res) : rvf_delete(sv->s, idv, n, &res);
	if (e) {
		ret = send_store_error(sv, c, q->route, e);
		pthread_mutex_unlock(&sv->mu);
		goto out;
	}
	pthread_mutex_unlock(&sv->mu);
	ret = send_json(sv, c, q->route, MHD_HTTP_OK,
			json_pack("{s:o, s:I}", "deleted", cli_json_u64(res.deleted), "epoch",
				  (json_int_t)res.epoch));
out:
	rvf_filter_free(f);
	free(idv);
	json_decref(j);
	return ret;
}

/* Appends printf output to a growing buffer; *buf NULL after a failure. */
__attribute__((format(printf, 3, 4))) static void bprintf(char **buf, size_t *len,
							  const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	if (!*buf)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	char *nb = n >= 0 ? realloc(*buf, *len + (size_t)n + 1) : NULL;
	if (!nb) {
		free(*buf);
		free(s);
		*buf = NULL;
		return;
	}
	memcpy(nb + *len, s, (size_t)n + 1);
	*len += (size_t)n;
	*buf = nb;
	free(s);
}

static enum MHD_Result h_metrics(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	char *b = calloc(1, 1);
	size_t len = 0, i;
	rvf_status st;
	int r, k, have;

	pthread_mutex_lock(&sv->mu);
	have = rvf_get_status(sv->s, &st) == 0;
	pthread_mutex_unlock(&sv->mu);

	pthread_mutex_lock(&sv->mmu);
	bprintf(&b, &len, "# HELP rvf_http_requests_total HTTP requests answered, by endpoint and status code.\n"
			  "# TYPE rvf_http_requests_total counter\n");
	for (r = 0; r < R_N; r++)
		for (k = 0; k < MAX_STATUS_KINDS && sv->req[r][k].status; k++)
			bprintf(&b, &len, "rvf_http_requests_total{endpoint=\"%s\",status=\"%u\"} %llu\n",
				routes[r].path, sv->req[r][k].status,
				(unsigned long long)sv->req[r][k].n);
	bprintf(&b, &len, "# HELP rvf_query_duration_seconds Time spent in the store per /v1/query.\n"
			  "# TYPE rvf_query_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (i = 0; i < NBUCKETS; i++) {
		cum += sv->lat_bucket[i];
		bprintf(&b, &len, "rvf_query_duration_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[i],
			(unsigned long long)cum);
	}
	cum += sv->lat_bucket[NBUCKETS];
	bprintf(&b, &len, "rvf_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			  "rvf_query_duration_seconds_sum %.9f\n"
			  "rvf_query_duration_seconds_count %llu\n",
		(unsigned long long)cum, sv->lat_sum, (unsigned long long)sv->lat_count);
	pthread_mutex_unlock(&sv->mmu);
	if (have) {
#define GAUGE(name, help, fmt, val)                                                          \
	bprintf(&b, &len, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " " fmt "\n", val)
		GAUGE("rvf_store_vectors", "Live vectors.", "%llu", (unsigned long long)st.total_vectors);
		GAUGE("rvf_store_deleted_vectors", "Deleted vectors not yet compacted.", "%llu",
		      (unsigned long long)st.deleted_vectors);
		GAUGE("rvf_store_segments", "Segments in the manifest directory.", "%llu",
		      (unsigned long long)st.total_segments);
		GAUGE("rvf_store_file_size_bytes", "Size of the RVF file.", "%llu",
		      (unsigned long long)st.file_size);
		GAUGE("rvf_store_epoch", "Manifest epoch.", "%u", st.epoch);
		GAUGE("rvf_store_dimension", "Vector dimension.", "%u", st.dimension);
		GAUGE("rvf_store_dead_space_ratio", "Deleted / stored vectors.", "%g",
		      st.dead_space_ratio);
#undef GAUGE
	}
	if (!b)
		return send_error(sv, c, q->route, 500, "out of memory");
	return send_text(sv, c, q->route, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b,
			 NULL);
}

/* ---- libmicrohttpd glue --------------------------------------------------- */

static enum route find_route(const char *url, int *path_known)
{
	int r;

	*path_known = 0;
	for (r = 0; r < R_OTHER; r++)
		if (!strcmp(url, routes[r].path)) {
			*path_known = 1;
			return (enum route)r;
		}
	return R_OTHER;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct server *sv = cls;
	struct req *q = *con_cls;

	if (!q) {
		int known;
		enum route r = find_route(url, &known);

		q = calloc(1, sizeof *q);
		if (!q)
			return MHD_NO;
		q->route = r;
		q->post = !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
		*con_cls = q;
		if (!known)
			return send_error(sv, c, r, MHD_HTTP_NOT_FOUND, "no such endpoint: %s %s", method, url);
		/* HEAD is what GET is, minus the body (MHD drops it). */
		if (strcmp(method, routes[r].method) &&
		    !(!strcmp(method, "HEAD") && !strcmp(routes[r].method, "GET"))) {
			char msg[160];
			snprintf(msg, sizeof msg, "method %s not allowed on %s (use %s)", method, url,
				 routes[r].method);
			return send_json_allow(sv, c, r, MHD_HTTP_METHOD_NOT_ALLOWED,
					       json_pack("{s:s, s:i}", "error", msg, "code", 405),
					       routes[r].method);
		}
		if (!strcmp(routes[r].method, "POST")) {
			/* Refuse an announced oversized body before reading any of it. */
			const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
								     MHD_HTTP_HEADER_CONTENT_LENGTH);
			unsigned long long n;
			if (cl && sscanf(cl, "%llu", &n) == 1 && n > sv->max_body)
				return send_error(sv, c, r, 413 /* Content Too Large */,
						  "request body of %llu bytes exceeds the limit of %zu bytes",
						  n, sv->max_body);
			return MHD_YES; /* wait for the body */
		}
		/* GET routes answer at once (a body, if any, is ignored). */
		switch (r) {
		case R_STATUS: return h_status(sv, c, q);
		case R_METRICS: return h_metrics(sv, c, q);
		default:
			return send_json(sv, c, r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
		}
	}
	if (*upload_data_size) {
		/* Body arriving: never keep more than max_body bytes. */
		size_t n = *upload_data_size;
		q->received += n;
		if (!q->too_big && q->len + n > sv->max_body) {
			q->too_big = 1;
			free(q->body);
			q->body = NULL;
			q->len = q->cap = 0;
		}
		if (!q->too_big) {
			if (q->len + n + 1 > q->cap) {
				size_t cap = q->cap ? q->cap : 4096;
				while (cap < q->len + n + 1)
					cap *= 2;
				char *nb = realloc(q->body, cap);
				if (!nb)
					return MHD_NO;
				q->body = nb;
				q->cap = cap;
			}
			memcpy(q->body + q->len, upload_data, n);
			q->len += n;
		} else if (q->received > sv->max_body + (64u << 20)) {
			return MHD_NO; /* a client streaming without end: drop the connection */
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->too_big)
		return send_error(sv, c, q->route, 413 /* Content Too Large */,
				  "request body exceeds the limit of %zu bytes", sv->max_body);
	switch (q->route) {
	case R_QUERY: return h_query(sv, c, q);
	case R_INGEST: return h_ingest(sv, c, q);
	case R_DELETE: return h_delete(sv, c, q);
	default: return send_error(sv, c, q->route, 500, "internal routing error");
	}
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("rvf serve: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "max-body", required_argument, NULL, OPT_MAXBODY },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *bind_s = "127.0.0.1";
	uint64_t port = 8080, max_body = DEFAULT_MAX_BODY, threads = 4;
	unsigned oflags = 0;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned mflags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;
	struct server *sv;
	sigset_t set;
	int opt, rc, e, sig = 0;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":p:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (cli_parse_u64(optarg, &port) || port > 65535)
				return cli_usage("serve", "invalid value '%s' for '--port <PORT>': expected "
						 "0..65535", optarg);
			break;
		case OPT_BIND: bind_s = optarg; break;
		case OPT_MAXBODY:
			if (cli_parse_u64(optarg, &max_body) || !max_body || max_body > (1ull << 32))
				return cli_usage("serve", "invalid value '%s' for '--max-body <BYTES>': "
						 "expected 1..4294967296", optarg);
			break;
		case OPT_THREADS:
			if (cli_parse_u64(optarg, &threads) || !threads || threads > 256)
				return cli_usage("serve", "invalid value '%s' for '--threads <N>': expected "
						 "1..256", optarg);
			break;
		case OPT_WAIT: oflags |= RVF_OPEN_WAIT; break;
		default: return cli_bad_option("serve", argv, opt);
		}
	}
	if ((rc = cli_one_path("serve", argc, argv, &path)))
		return rc;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, bind_s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, bind_s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		mflags |= MHD_USE_IPv6;
	} else {
		return cli_usage("serve", "invalid value '%s' for '--bind <ADDR>': expected an IPv4 or "
				 "IPv6 address", bind_s);
	}
	sv = calloc(1, sizeof *sv);
	if (!sv)
		return cli_fail("out of memory");
	pthread_mutex_init(&sv->mu, NULL);
	pthread_mutex_init(&sv->mmu, NULL);
	sv->max_body = (size_t)max_body;
	if ((e = cli_open(path, oflags, &sv->s))) {
		rc = cli_store_fail(e);
		goto out;
	}
	/* Server threads inherit this mask: only the main thread takes the
	 * stop signals (sigwait below). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(mflags, (uint16_t)port, NULL, NULL, handler, sv,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, sv,
			     MHD_OPTION_END);
	if (!d) {
		rc = cli_fail("cannot listen on %s port %llu (%s)", bind_s, (unsigned long long)port,
			      errno ? strerror(errno) : "libmicrohttpd failed to start");
		goto out;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = di ? di->port : (unsigned)port;
	fprintf(stderr, "rvf serve: HTTP listening on %s%s%s:%u (store %s, dimension %u, metric %s)\n",
		strchr(bind_s, ':') ? "[" : "", bind_s, strchr(bind_s, ':') ? "]" : "", bound, path,
		rvf_dimension(sv->s), rvf_metric_name(rvf_get_metric(sv->s)));
	fflush(stderr);
	while (sigwait(&set, &sig) != 0 || sig == SIGHUP)
		;
	fprintf(stderr, "rvf serve: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	MHD_stop_daemon(d); /* joins the workers: running requests finish first */
	rc = CLI_OK;
	pthread_mutex_lock(&sv->mu);
	rvf_index_stats is;
	if (rvf_get_index_stats(sv->s, &is) == 0 && is.present && !is.persisted &&
	    (e = rvf_index_persist(sv->s)))
		rc = cli_store_fail(e);
	pthread_mutex_unlock(&sv->mu);
	fprintf(stderr, "rvf serve: stopped after %llu requests\n", (unsigned long long)sv->total);
out:
	rvf_close(sv->s);
	pthread_mutex_destroy(&sv->mu);
	pthread_mutex_destroy(&sv->mmu);
	free(sv);
	return rc;
}
#endif /* RVF_HAVE_MHD */
