/* serve.h — internals of `rvf serve` shared by its files:
 *   cli_serve.c   options, token file, limits, daemon start/stop
 *   serve_conn.c  libmicrohttpd request callback: duplicate headers,
 *                 routing, Host/auth/content type checks, body budgets
 *                 (everything before a handler runs)
 *   serve_table.c the connection table: eviction when full, slow-body reaper
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

/* Body bytes of one request that do not count against --max-inflight: any
 * request this small is never refused for lack of budget. Worst case they
 * add --max-connections x this much memory. */
#define SERVE_FREE_BODY (16u << 10)
/* Room in libmicrohttpd's connection limit above --max-connections (plus
 * half of it) for connections evicted but not yet closed. */
#define SERVE_EVICT_SLACK 64u
/* The reaper's window: a body must bring --min-body-rate x this many bytes
 * in every such window. */
#define SERVE_RATE_WINDOW_S 4.0

/* State of a connection in the table (serve_table.c). */
enum cstate {
	CS_WAIT,  /* request headers not complete yet, or idle between requests */
	CS_BODY,  /* headers done, body arriving */
	CS_REPLY, /* request complete: being handled or answered */
};

struct sconn {
	struct sconn *prev, *next; /* sv->head: least recent state change first */
	int fd;
	enum cstate state;
	int evicting;        /* shut down, waiting for MHD to close it */
	double since;        /* monotonic time of the last state change */
	uint64_t body_bytes; /* body bytes handed to us in this state */
	double mark_t;       /* reaper: start of the current rate window */
	uint64_t mark_bytes; /* ... and the bytes arrived by then */
};
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
	size_t max_body;          /* one request to /v1/ingest or /v1/delete */
	size_t query_body;        /* one request to /v1/query (from the dimension) */
	size_t max_inflight;      /* all bodies being received, together */
	double body_timeout_s;    /* one body, headers to last byte */
	double min_body_rate;     /* bytes/s a body must keep up (0: off) */

	/* bytes reserved by bodies being received, under bmu */
	pthread_mutex_t bmu;
	size_t inflight;

	/* the connection table (serve_table.c), under tmu */
	pthread_mutex_t tmu;
	struct sconn *head, *tail;
	size_t nconns, nevicting;
	size_t max_conns;         /* read-only after start */
	uint64_t evicted;         /* connections evicted for a new one */
	uint64_t refused;         /* new connections refused: every one answering */
	uint64_t dropped_slow;    /* bodies dropped by the reaper */

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
	int want_body;     /* the headers passed: waiting for the body */
	int too_big;       /* body passed max_body: drained, then 413 */
	int over_budget;   /* a chunked body found the budget exhausted: drained, then 503 */
	char *body;
	size_t len, cap;
	size_t limit;      /* bytes this body may take (the route's limit) */
	uint64_t announced; /* Content-Length, UINT64_MAX when chunked */
	size_t reserved;   /* bytes of sv->inflight held by this request */
	uint64_t received;
	struct sconn *conn; /* its connection in the table, NULL if untracked */
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

/* The connection table (serve_table.c); cls is the struct server. */
void serve_notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
enum MHD_Result serve_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
struct sconn *serve_conn_of(struct MHD_Connection *c);
void serve_conn_state(struct server *sv, struct sconn *sc, enum cstate st);
void serve_conn_body(struct server *sv, struct sconn *sc, size_t n);
/* Drops bodies slower than --min-body-rate or older than --body-timeout;
 * the main thread calls it a few times a second. */
void serve_reap(struct server *sv);

#endif
