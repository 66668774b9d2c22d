/* serve.h — internals of `rvf serve` shared by its files:
 *   cli_serve.c   options, token file, limits, daemon start/stop
 *   serve_conn.c  libmicrohttpd request callback: routing, Host/auth/content
 *                 type checks, body budgets (everything before a handler runs)
 *   serve_api.c   the JSON endpoints (status, query, ingest, delete)
 *   serve_http.c  responses, request counters and /metrics
 */
#ifndef RVF_SERVE_H
#define RVF_SERVE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

enum route { R_STATUS, R_QUERY, R_INGEST, R_DELETE, R_HEALTHZ, R_HEALTH, R_METRICS, R_OTHER, R_N };

/* Who may call a route: anyone, readers (the token only with --token-reads)
 * or writers (always the token). */
enum access { A_OPEN, A_READ, A_WRITE };

struct route_def {
	const char *path, *method;
	enum access access;
};
extern const struct route_def serve_routes[R_N];

#define SERVE_NBUCKETS 14
#define SERVE_MAX_STATUS_KINDS 16

struct server {
	rvf_store *s;
	pthread_mutex_t mu; /* the store */

	/* access (read-only after start) */
	int have_token;           /* --token-file given */
	int token_reads;          /* reads need the token too */
	uint8_t token_hash[32];   /* BLAKE2b-256 of the token */
	int loopback_hosts;       /* bound to loopback: Host must name loopback */

	/* body limits (read-only after start) */
	size_t max_body;          /* one request */
	size_t max_inflight;      /* all bodies being received, together */
	double body_timeout_s;    /* one body, first byte to last */

	/* bytes reserved by bodies being received, under bmu */
	pthread_mutex_t bmu;
	size_t inflight;

	/* metrics, under mmu */
	pthread_mutex_t mmu;
	struct {
		unsigned status;
		uint64_t n;
	} req[R_N][SERVE_MAX_STATUS_KINDS];
	uint64_t lat_bucket[SERVE_NBUCKETS + 1], lat_count;
	double lat_sum;
	uint64_t total;
	uint64_t refused_budget; /* 503: in-flight body budget exhausted */
};

/* One request's state (MHD's con_cls). */
struct req {
	enum route route;
	int too_big;       /* body passed max_body: drained, then 413 */
	int over_budget;   /* a chunked body found the budget exhausted: drained, then 503 */
	char *body;
	size_t len, cap;
	size_t limit;      /* bytes this body may take (Content-Length or max_body) */
	size_t reserved;   /* bytes of sv->inflight held by this request */
	uint64_t received;
	double t0;         /* monotonic start, for the body timeout */
};

double serve_mono_s(void);
void serve_observe_latency(struct server *sv, double sec);

/* Responses. Every one is counted in the metrics under route r; one extra
 * header (hname: hvalue) if hname != NULL. send_text and send_json* steal
 * text / j. */
enum MHD_Result serve_send_text(struct server *sv, struct MHD_Connection *c, enum route r,
				unsigned status, const char *ctype, char *text, const char *hname,
				const char *hvalue);
enum MHD_Result serve_send_json_hdr(struct server *sv, struct MHD_Connection *c, enum route r,
				    unsigned status, json_t *j, const char *hname,
				    const char *hvalue);
enum MHD_Result serve_send_json(struct server *sv, struct MHD_Connection *c, enum route r,
				unsigned status, json_t *j);
/* {"error": msg, "code": status}. */
__attribute__((format(printf, 7, 8))) enum MHD_Result
serve_send_error_hdr(struct server *sv, struct MHD_Connection *c, enum route r, unsigned status,
		     const char *hname, const char *hvalue, const char *fmt, ...);
__attribute__((format(printf, 5, 6))) enum MHD_Result
serve_send_error(struct server *sv, struct MHD_Connection *c, enum route r, unsigned status,
		 const char *fmt, ...);
/* Store error -> HTTP status + message; call with sv->mu held. */
enum MHD_Result serve_send_store_error(struct server *sv, struct MHD_Connection *c, enum route r,
				       int err);

/* Endpoints (serve_api.c, serve_http.c). */
enum MHD_Result serve_h_status(struct server *sv, struct MHD_Connection *c, struct req *q);
enum MHD_Result serve_h_query(struct server *sv, struct MHD_Connection *c, struct req *q);
enum MHD_Result serve_h_ingest(struct server *sv, struct MHD_Connection *c, struct req *q);
enum MHD_Result serve_h_delete(struct server *sv, struct MHD_Connection *c, struct req *q);
enum MHD_Result serve_h_metrics(struct server *sv, struct MHD_Connection *c, struct req *q);

/* libmicrohttpd callbacks (serve_conn.c); cls is the struct server. */
enum MHD_Result serve_handler(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls);
void serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		     enum MHD_RequestTerminationCode toe);

#endif
