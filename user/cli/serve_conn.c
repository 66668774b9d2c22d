/* serve_conn.c — the libmicrohttpd request callback of `rvf serve`: every
 * check that runs before an endpoint sees a request, in this order, all on
 * the headers alone (no body byte is buffered before they pass):
 *
 *   400 a Host, Content-Length, Transfer-Encoding, Authorization or
 *       Content-Type header given twice, or Content-Length together with
 *       Transfer-Encoding (the request is ambiguous: answered, connection
 *       closed)
 *   404 unknown path, 405 wrong method (with Allow)
 *   403 a Host header that does not name loopback while bound to loopback
 *       (a DNS-rebinding page cannot talk to us as its own origin)
 *   401 a missing or wrong bearer token (writes always; reads with
 *       --token-reads; a wrong token is refused on any route but health),
 *       403 a write when no --token-file was given
 *   415 a POST body that is not Content-Type: application/json (a
 *       cross-origin page can only send text/plain, form or multipart
 *       bodies without a CORS preflight, and we never answer preflights)
 *   413 a Content-Length above the route's limit: --max-body for writes,
 *       64 KiB + 64 bytes per dimension for /v1/query
 *
 * Body bytes are reserved against --max-inflight as they arrive, not as
 * announced, and only past the first SERVE_FREE_BODY bytes of a request; a
 * body that finds the budget used up (or passes its limit when chunked) is
 * drained, not buffered, then answered 503 (413). Slow bodies are dropped
 * by the reaper (serve_table.c).
 */
#ifdef RVF_HAVE_MHD
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

/* ---- checks on the headers ------------------------------------------------ */

static enum route find_route(const char *url, int *path_known)
{
	int r;

	*path_known = 0;
	for (r = 0; r < R_OTHER; r++)
		if (!strcmp(url, serve_routes[r].path)) {
			*path_known = 1;
			return (enum route)r;
		}
	return R_OTHER;
}

/* "localhost", "127.x.y.z" or "[::1]", each with an optional ":port". */
/* "" or ":PORT" (1..65535 in decimal, nothing after). */
static int host_port_ok(const char *p)
{
	if (!*p)
		return 1;
	if (*p++ != ':' || !*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
		return 0;
	long v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535;
}

static int host_is_loopback(const char *h)
{
	char name[256];
	size_t n;

	if (h[0] == '[') {
		const char *e = strchr(h, ']');
		if (!e || !host_port_ok(e + 1))
			return 0;
		n = (size_t)(e - h - 1);
		if (n >= sizeof name)
			return 0;
		memcpy(name, h + 1, n);
		name[n] = 0;
		struct in6_addr a6;
		return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	n = strcspn(h, ":");
	if (n >= sizeof name || !host_port_ok(h + n))
		return 0;
	memcpy(name, h, n);
	name[n] = 0;
	if (!strcasecmp(name, "localhost") || !strcasecmp(name, "localhost."))
		return 1;
	struct in_addr a4;
	return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive),
 * NULL if the header is absent or of another scheme. */
static const char *bearer_token(struct MHD_Connection *c, size_t *len)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*len = n;
	return h;
}

/* Compares hashes, not the texts: the time taken depends neither on the
 * token's bytes nor on its length. */
static int token_ok(const struct server *sv, const char *tok, size_t len)
{
	uint8_t h[32];

	crypto_generichash(h, sizeof h, (const unsigned char *)tok, len, NULL, 0);
	return sodium_memcmp(h, sv->token_hash, sizeof h) == 0;
}

/* 0 if the request may proceed, else a response has been queued (*ret). */
static int check_access(struct server *sv, struct MHD_Connection *c, enum route r,
			enum MHD_Result *ret)
{
	enum access a = serve_routes[r].access;
	const char *tok;
	size_t len = 0;

	if (a == A_OPEN)
		return 0;
	tok = bearer_token(c, &len);
	if (a == A_WRITE && !sv->have_token) {
		*ret = serve_send_error(sv, c, r, MHD_HTTP_FORBIDDEN,
					"writes over HTTP are disabled: start rvf serve with "
					"--token-file FILE and send 'Authorization: Bearer <token>'");
		return -1;
	}
	if (!sv->have_token || (a == A_READ && !sv->token_reads && !tok))
		return 0;
	if (!tok) {
		*ret = serve_send_error_hdr(sv, c, r, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate",
					    "Bearer realm=\"rvf\"",
					    "missing 'Authorization: Bearer <token>' header");
		return -1;
	}
	if (!token_ok(sv, tok, len)) {
		*ret = serve_send_error_hdr(sv, c, r, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate",
					    "Bearer realm=\"rvf\", error=\"invalid_token\"",
					    "invalid bearer token");
		return -1;
	}
	return 0;
}

/* Media type application/json, any parameters (charset) allowed. */
static int is_json_type(const char *ct)
{
	size_t n;

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n))
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return !*ct || *ct == ';';
}

/* Headers whose repetition makes a request ambiguous (which Host, which
 * length, which token?): given twice, the request is refused. */
enum { H_HOST, H_LENGTH, H_CHUNKED, H_AUTH, H_TYPE };
static const char *const single_headers[] = {
	[H_HOST] = MHD_HTTP_HEADER_HOST,
	[H_LENGTH] = MHD_HTTP_HEADER_CONTENT_LENGTH,
	[H_CHUNKED] = MHD_HTTP_HEADER_TRANSFER_ENCODING,
	[H_AUTH] = MHD_HTTP_HEADER_AUTHORIZATION,
	[H_TYPE] = MHD_HTTP_HEADER_CONTENT_TYPE,
};
#define NSINGLE (sizeof single_headers / sizeof *single_headers)

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	unsigned *n = cls;
	size_t i;

	for (i = 0; i < NSINGLE; i++)
		if (!strcasecmp(key, single_headers[i]))
			n[i]++;
	return MHD_YES;
}

/* NULL, or what makes the request's headers ambiguous. */
static const char *ambiguous_headers(struct MHD_Connection *c, char *msg, size_t len)
{
	unsigned n[NSINGLE] = { 0 };
	size_t i;

	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, n);
	for (i = 0; i < NSINGLE; i++)
		if (n[i] > 1) {
			snprintf(msg, len, "the %s header appears %u times (it may appear once)",
				 single_headers[i], n[i]);
			return msg;
		}
	if (n[H_LENGTH] && n[H_CHUNKED]) {
		snprintf(msg, len, "both Content-Length and Transfer-Encoding given");
		return msg;
	}
	return NULL;
}

/* ---- the in-flight body budget -------------------------------------------- */

static int reserve(struct server *sv, struct req *q, size_t n)
{
	int ok;

	pthread_mutex_lock(&sv->bmu);
	ok = n <= sv->max_inflight - sv->inflight;
	if (ok) {
		sv->inflight += n;
		q->reserved += n;
	}
	pthread_mutex_unlock(&sv->bmu);
	return ok;
}

static void release(struct server *sv, struct req *q)
{
	pthread_mutex_lock(&sv->bmu);
	sv->inflight -= q->reserved;
	pthread_mutex_unlock(&sv->bmu);
	q->reserved = 0;
}

static void drop_body(struct server *sv, struct req *q)
{
	free(q->body);
	q->body = NULL;
	q->len = q->cap = 0;
	release(sv, q);
}

/* ---- the callback ------------------------------------------------------------ */

/* First call for a request (headers complete, no body yet). */
static enum MHD_Result on_headers(struct server *sv, struct MHD_Connection *c, struct req *q,
				  const char *url, const char *method)
{
	enum MHD_Result ret = MHD_NO;
	int known;
	enum route r = find_route(url, &known);

	q->route = r;
	char amb[128];
	if (ambiguous_headers(c, amb, sizeof amb))
		return serve_send_error_hdr(sv, c, r, MHD_HTTP_BAD_REQUEST, MHD_HTTP_HEADER_CONNECTION,
					    "close", "ambiguous request: %s", amb);
	if (!known)
		return serve_send_error(sv, c, r, MHD_HTTP_NOT_FOUND, "no such endpoint: %s %s", method,
					url);
	/* HEAD is what GET is, minus the body (MHD drops it). OPTIONS (a CORS
	 * preflight) is refused like any other method. */
	if (strcmp(method, serve_routes[r].method) &&
	    !(!strcmp(method, "HEAD") && !strcmp(serve_routes[r].method, "GET")))
		return serve_send_error_hdr(sv, c, r, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
					    serve_routes[r].method, "method %s not allowed on %s (use %s)",
					    method, url, serve_routes[r].method);
	if (sv->loopback_hosts) {
		const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
		if (host && !host_is_loopback(host))
			return serve_send_error(sv, c, r, MHD_HTTP_FORBIDDEN,
						"Host '%.200s' is not a loopback name: this server is bound "
						"to loopback and answers only localhost, 127.0.0.0/8 and "
						"[::1] (DNS rebinding protection)", host);
	}
	if (check_access(sv, c, r, &ret))
		return ret;
	if (!strcmp(serve_routes[r].method, "GET")) {
		/* GET routes answer at once (a body, if any, is ignored). */
		switch (r) {
		case R_STATUS: return serve_h_status(sv, c, q);
		case R_METRICS: return serve_h_metrics(sv, c, q);
		default:
			return serve_send_json(sv, c, r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
		}
	}
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!is_json_type(ct))
		return serve_send_error(sv, c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
					"Content-Type must be application/json (got %.100s)",
					ct ? ct : "none");
	/* Refuse an announced body larger than the route takes before reading
	 * any of it; bytes are reserved as they come (on_data). */
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	q->limit = r == R_QUERY ? sv->query_body : sv->max_body;
	q->announced = UINT64_MAX;
	if (cl) {
		if (cli_parse_u64(cl, &q->announced))
			return serve_send_error_hdr(sv, c, r, MHD_HTTP_BAD_REQUEST,
						    MHD_HTTP_HEADER_CONNECTION, "close",
						    "invalid Content-Length '%.40s'", cl);
		if (q->announced > q->limit)
			return serve_send_error(sv, c, r, MHD_HTTP_CONTENT_TOO_LARGE,
						"request body of %llu bytes exceeds the limit of %zu "
						"bytes for %s", (unsigned long long)q->announced,
						q->limit, serve_routes[r].path);
	}
	q->want_body = 1;
	return MHD_YES; /* wait for the body */
}

/* Body bytes: kept up to q->limit, then drained. */
static enum MHD_Result on_data(struct server *sv, struct req *q, const char *data, size_t n)
{
	q->received += n;
	if (q->received >= q->announced)
		serve_conn_state(sv, q->conn, CS_REPLY); /* all in: no longer a slow body */
	else
		serve_conn_body(sv, q->conn, n);
	if (!q->too_big && !q->over_budget && q->len + n > q->limit) {
		q->too_big = 1;
		drop_body(sv, q);
	}
	if (q->too_big || q->over_budget) {
		if (q->received > (uint64_t)q->limit + (64u << 20))
			return MHD_NO; /* a client streaming without end */
		return MHD_YES;
	}
	/* Bytes past the first SERVE_FREE_BODY are reserved as they come. */
	size_t need = q->len + n > SERVE_FREE_BODY ? q->len + n - SERVE_FREE_BODY : 0;
	if (need > q->reserved && !reserve(sv, q, need - q->reserved)) {
		q->over_budget = 1;
		drop_body(sv, q);
		return MHD_YES;
	}
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		while (cap < q->len + n + 1)
			cap *= 2;
		if (cap > q->limit + 1)
			cap = q->limit + 1;
		char *nb = realloc(q->body, cap);
		if (!nb)
			return MHD_NO;
		q->body = nb;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	return MHD_YES;
}

enum MHD_Result serve_handler(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct server *sv = cls;
	struct req *q = *con_cls;

	if (!q) {
		q = calloc(1, sizeof *q);
		if (!q)
			return MHD_NO;
		*con_cls = q;
		q->conn = serve_conn_of(c);
		enum MHD_Result ret = on_headers(sv, c, q, url, method);
		serve_conn_state(sv, q->conn, q->want_body ? CS_BODY : CS_REPLY);
		return ret;
	}
	if (*upload_data_size) {
		enum MHD_Result r = on_data(sv, q, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return r;
	}
	serve_conn_state(sv, q->conn, CS_REPLY);
	if (q->too_big)
		return serve_send_error(sv, c, q->route, MHD_HTTP_CONTENT_TOO_LARGE,
					"request body exceeds the limit of %zu bytes for %s", q->limit,
					serve_routes[q->route].path);
	if (q->over_budget)
		return serve_send_error_hdr(sv, c, q->route, MHD_HTTP_SERVICE_UNAVAILABLE,
					    "Retry-After", "1",
					    "busy: request bodies in flight exceed %zu bytes; retry "
					    "later", sv->max_inflight);
	switch (q->route) {
	case R_QUERY: return serve_h_query(sv, c, q);
	case R_INGEST: return serve_h_ingest(sv, c, q);
	case R_DELETE: return serve_h_delete(sv, c, q);
	default: return serve_send_error(sv, c, q->route, 500, "internal routing error");
	}
}

void serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		     enum MHD_RequestTerminationCode toe)
{
	struct server *sv = cls;
	struct req *q = *con_cls;

	if (q) {
		drop_body(sv, q);
		serve_conn_state(sv, q->conn, CS_WAIT); /* idle until the next request */
		free(q);
		*con_cls = NULL;
	}
}
#endif /* RVF_HAVE_MHD */
