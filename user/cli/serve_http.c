/* serve_http.c — `rvf serve` responses ({"error", "code"} JSON errors), the
 * request counters and the Prometheus /metrics text. */
#ifdef RVF_HAVE_MHD
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

/* ---- routes and metrics -------------------------------------------------- */
const struct route_def serve_routes[R_N] = {
	[R_STATUS] = { "/v1/status", "GET", A_READ },   [R_QUERY] = { "/v1/query", "POST", A_READ },
	[R_INGEST] = { "/v1/ingest", "POST", A_WRITE }, [R_DELETE] = { "/v1/delete", "POST", A_WRITE },
	[R_HEALTHZ] = { "/healthz", "GET", A_OPEN },    [R_HEALTH] = { "/v1/health", "GET", A_OPEN },
	[R_METRICS] = { "/metrics", "GET", A_READ },    [R_OTHER] = { "other", NULL, A_OPEN },
};

static const double lat_bounds[SERVE_NBUCKETS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
						   0.005,  0.01,    0.025,  0.05,  0.1,
						   0.25,   0.5,     1,      2.5 };
#define NBUCKETS SERVE_NBUCKETS
#define MAX_STATUS_KINDS SERVE_MAX_STATUS_KINDS

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

void serve_observe_latency(struct server *sv, double sec)
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

double serve_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- responses -------------------------------------------------------------- */

enum MHD_Result serve_send_text(struct server *sv, struct MHD_Connection *c, enum route r,
				unsigned status, const char *ctype, char *text, const char *hname,
				const char *hvalue)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* Browsers must not sniff a JSON error into something else. No
	 * Access-Control-* header is ever sent: cross-origin pages get nothing. */
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (hname)
		MHD_add_response_header(resp, hname, hvalue);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	count_request(sv, r, status);
	return ret;
}

enum MHD_Result serve_send_json_hdr(struct server *sv, struct MHD_Connection *c, enum route r,
				    unsigned status, json_t *j, const char *hname,
				    const char *hvalue)
{
	char *text = NULL;

	if (j)
		text = cli_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
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
	return serve_send_text(sv, c, r, status, "application/json", text, hname, hvalue);
}

enum MHD_Result serve_send_json(struct server *sv, struct MHD_Connection *c, enum route r,
				unsigned status, json_t *j)
{
	return serve_send_json_hdr(sv, c, r, status, j, NULL, NULL);
}

static enum MHD_Result send_error_v(struct server *sv, struct MHD_Connection *c, enum route r,
				    unsigned status, const char *hname, const char *hvalue,
				    const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	return serve_send_json_hdr(sv, c, r, status,
				   json_pack("{s:s, s:i}", "error", msg, "code", (int)status), hname,
				   hvalue);
}

enum MHD_Result serve_send_error_hdr(struct server *sv, struct MHD_Connection *c, enum route r,
				     unsigned status, const char *hname, const char *hvalue,
				     const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = send_error_v(sv, c, r, status, hname, hvalue, fmt, ap);
	va_end(ap);
	return ret;
}

enum MHD_Result serve_send_error(struct server *sv, struct MHD_Connection *c, enum route r,
				 unsigned status, const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = send_error_v(sv, c, r, status, NULL, NULL, fmt, ap);
	va_end(ap);
	return ret;
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
enum MHD_Result serve_send_store_error(struct server *sv, struct MHD_Connection *c, enum route r,
					int err)
{
	const char *m = rvf_last_error();
	return serve_send_error(sv, c, r, store_status(err), "%s%s%s", rvf_strerror(err),
				*m ? ": " : "", m);
}

/* ---- /metrics ------------------------------------------------------------------ */

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

enum MHD_Result serve_h_metrics(struct server *sv, struct MHD_Connection *c, struct req *q)
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
				serve_routes[r].path, sv->req[r][k].status,
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
	pthread_mutex_lock(&sv->bmu);
	size_t inflight = sv->inflight;
	pthread_mutex_unlock(&sv->bmu);
	bprintf(&b, &len, "# HELP rvf_http_body_bytes_reserved Request body bytes reserved against "
			  "--max-inflight.\n# TYPE rvf_http_body_bytes_reserved gauge\n"
			  "rvf_http_body_bytes_reserved %zu\n", inflight);
	pthread_mutex_lock(&sv->tmu);
	size_t nconns = sv->nconns;
	uint64_t evicted = sv->evicted, refused = sv->refused, dropped = sv->dropped_slow;
	pthread_mutex_unlock(&sv->tmu);
	bprintf(&b, &len, "# HELP rvf_http_connections Open HTTP connections.\n"
			  "# TYPE rvf_http_connections gauge\nrvf_http_connections %zu\n"
			  "# HELP rvf_http_connections_evicted_total Idle or partial connections closed "
			  "to make room for a new one.\n# TYPE rvf_http_connections_evicted_total counter\n"
			  "rvf_http_connections_evicted_total %llu\n"
			  "# HELP rvf_http_connections_refused_total New connections refused: the table "
			  "was full of connections being answered.\n"
			  "# TYPE rvf_http_connections_refused_total counter\n"
			  "rvf_http_connections_refused_total %llu\n"
			  "# HELP rvf_http_slow_bodies_dropped_total Connections dropped for a body slower "
			  "than --min-body-rate or older than --body-timeout.\n"
			  "# TYPE rvf_http_slow_bodies_dropped_total counter\n"
			  "rvf_http_slow_bodies_dropped_total %llu\n", nconns,
		(unsigned long long)evicted, (unsigned long long)refused, (unsigned long long)dropped);
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
		return serve_send_error(sv, c, q->route, 500, "out of memory");
	return serve_send_text(sv, c, q->route, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b,
			       NULL, NULL);
}

#endif /* RVF_HAVE_MHD */
