/* rvfd.h — internal interfaces of the rvf query daemon (user/rvfd/).
 *
 * rvfd serves one store over the UDP wire protocol (docs/PROTOCOL.md). It
 * answers every query the XDP program passes up (and, with --no-xdp, every
 * query) with the exact f32 top-k of rvf_query, follows the store file as it
 * changes (reopen + loader sync), enforces the allow-list in userspace too
 * and exports Prometheus counters on a small HTTP/1.0 responder.
 *
 *   rvfd_proto.c    request validation and reply building (no I/O)
 *   rvfd_allow.c    CIDR allow-list
 *   rvfd_metrics.c  counters, latency histogram, Prometheus text, HTTP
 *   rvfd_xdp.c      the XDP/tc side through the loader (loader/loader.h)
 *   rvfd_limit.c    per-source token bucket for error replies (--error-rate)
 *   rvfd_priv.c     dropping root (--user), the root monitor process
 *   rvfd_main.c     options, sockets, event loop, store reloads, signals
 */
#ifndef RVFD_H
#define RVFD_H

#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "rvf.h"
#include "rvf_wire.h"

/* ---- store view --------------------------------------------------------- */
struct rvfd_store {
	rvf_store *s;     /* read-only handle, NULL if none could be opened yet */
	uint32_t dim;
	rvf_metric metric;
	uint32_t epoch;
	uint64_t nvec;
};

/* ---- protocol (rvfd_proto.c) --------------------------------------------- */
enum rvfd_verdict {
	RVFD_REPLY = 0,   /* out holds a reply of *outlen bytes */
	RVFD_DROP_SHORT,  /* shorter than the header: no reply (PROTOCOL §4.1) */
	RVFD_DROP_REPLY,  /* op == REPLY: never answered (no reply loops) */
};

/* Scratch buffers for one request (query vector and hits). */
struct rvfd_work {
	float *q;       /* 65535 floats */
	rvf_hit *hits;  /* RVF_WIRE_MAX_K */
	uint64_t qkey[2]; /* with have_qkey: OK replies carry the query tag */
	int have_qkey;    /* (rvf_qdigest under the loader's key, PROTOCOL §7.2) */
};

int rvfd_work_init(struct rvfd_work *w);
void rvfd_work_free(struct rvfd_work *w);

/* Handles one datagram. Never reads outside req[0, len); writes a reply of
 * at most min(len, 32 + 16 * 64) bytes into out (cap >= that). *status is
 * the reply status for RVFD_REPLY. st may have s == NULL (INTERNAL). */
int rvfd_handle(const struct rvfd_store *st, struct rvfd_work *w, const uint8_t *req, size_t len,
		uint8_t *out, size_t cap, size_t *outlen, uint8_t *status);

/* ---- allow-list (rvfd_allow.c) ------------------------------------------- */
struct rvfd_cidr {
	uint8_t addr[16]; /* IPv4 as IPv4-mapped IPv6 */
	uint32_t prefixlen; /* over the 128-bit mapped address */
	int v4;
	char text[64];
};

/* "10.0.0.0/8", "192.168.1.7", "fd00::/64", "::1". 0 or -EINVAL. Host bits
 * beyond the prefix are cleared. */
int rvfd_cidr_parse(const char *s, struct rvfd_cidr *out);
/* 1 if the address (sockaddr_in / sockaddr_in6, mapped v4 understood)
 * matches one of the n entries; n == 0 allows everything. */
int rvfd_allowed(const struct rvfd_cidr *list, size_t n, const struct sockaddr *sa);

/* ---- metrics (rvfd_metrics.c) -------------------------------------------- */
#define RVFD_LAT_BUCKETS 22 /* le 1, 2, 4, ... 2^20 us, +Inf */

struct rvfd_metrics {
	uint64_t requests;          /* datagrams received on the query port */
	uint64_t replies[8];        /* by rvf_wire_status */
	uint64_t drop_short, drop_reply, drop_denied, send_errors;
	uint64_t error_limited;     /* error replies suppressed by --error-rate */
	uint64_t metrics_denied;    /* metrics connections outside the allow-list */
	uint64_t lat[RVFD_LAT_BUCKETS]; /* daemon answers, log2 us, not cumulative */
	uint64_t lat_count;
	double lat_sum_us;
	uint64_t reloads, reload_errors, syncs, sync_errors;
	uint64_t xdp[RVF_C_MAX];    /* summed over CPUs at the last read */
	int xdp_valid;              /* xdp[] was read from a counters map */
	int xdp_attached;
	uint32_t epoch;
	uint64_t nvec;
	uint32_t dim;
	double start_time;          /* unix seconds; 0 until serving */
	char file_id[33];           /* served file's id, hex ("" if none) */
};

void rvfd_lat_observe(struct rvfd_metrics *m, double us);
/* Records the served store's file id (call after every (re)open). */
void rvfd_metrics_identity(struct rvfd_metrics *m, const rvf_store *s);
/* Prometheus text exposition (format 0.0.4). Returns a malloc'd string. */
char *rvfd_metrics_text(const struct rvfd_metrics *m);

/* Tiny HTTP/1.0 server: GET /metrics and GET /healthz (200 + JSON
 * {epoch, file_id, status, vectors, xdp_attached} while serving, else 503).
 * Non-blocking, driven by the daemon's poll loop. */
#define RVFD_HTTP_MAX_CONN 8
struct rvfd_http_conn {
	int fd;
	size_t got;
	double deadline; /* monotonic seconds */
	char buf[2048];
};

struct rvfd_http {
	int lfd;                     /* listener, -1 if unused */
	const struct rvfd_cidr *allow; /* connections from elsewhere are closed */
	size_t nallow;               /* 0: everyone */
	uint64_t *denied;            /* counts the closed ones (may be NULL) */
	const struct rvfd_metrics *m; /* for GET /healthz (NULL: 503) */
	struct rvfd_http_conn c[RVFD_HTTP_MAX_CONN];
};

/* Binds TCP addr:port (addr: an IPv4 or IPv6 literal). -errno with a
 * message on stderr. Set allow/nallow/denied afterwards. */
int rvfd_http_open(struct rvfd_http *h, const char *addr, uint16_t port);
void rvfd_http_close(struct rvfd_http *h);
/* Adds the listening and connection fds to pfd (room for 1 + MAX_CONN);
 * returns the number added. */
int rvfd_http_pollfds(struct rvfd_http *h, struct pollfd *pfd);
/* Accepts / reads / answers as far as possible without blocking.
 * text() is called when a complete GET /metrics arrived. */
void rvfd_http_service(struct rvfd_http *h, char *(*text)(void *), void *arg);

double rvfd_mono(void);

/* ---- error-reply rate limit (rvfd_limit.c) ------------------------------- */
#define RVFD_LIMIT_SLOTS 4096 /* sources tracked; the least recently seen of a
			       * full 8-way set is forgotten */
#define RVFD_LIMIT_WAYS 8

struct rvfd_limit_slot {
	uint8_t addr[16];
	double tokens, last; /* last: monotonic seconds, 0 = free */
};

struct rvfd_limit {
	double rate;  /* tokens per second (= burst); 0: no limit */
	struct rvfd_limit_slot *slot; /* RVFD_LIMIT_SLOTS */
};

/* rate 0 disables; -ENOMEM. */
int rvfd_limit_init(struct rvfd_limit *rl, double rate);
void rvfd_limit_free(struct rvfd_limit *rl);
/* 1 if an error reply to this source may be sent now (takes a token). */
int rvfd_limit_take(struct rvfd_limit *rl, const struct sockaddr *sa, double now);

/* ---- privileges (rvfd_priv.c) --------------------------------------------- */
struct rvfd_priv {
	int drop;      /* 0: stay as started (not root, or --user root) */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Resolves --user NAME (0 or -errno with a message). */
int rvfd_priv_lookup(const char *name, struct rvfd_priv *p);
/* setgroups/setresgid/setresuid to the user keeping only CAP_BPF,
 * CAP_NET_ADMIN and CAP_PERFMON (keep_bpf) or no capability at all, an
 * emptied bounding set and no_new_privs. 0 or -errno with a message. */
int rvfd_priv_drop(const struct rvfd_priv *p, int keep_bpf);
/* The root monitor: forwards TERM/INT/HUP to the worker and returns its
 * exit status when it ends (set: the blocked signals, with SIGCHLD). */
int rvfd_priv_monitor(pid_t worker, const sigset_t *set);

/* ---- XDP side (rvfd_xdp.c) ----------------------------------------------- */
struct rvfd_xdp;

struct rvfd_xdp_opts {
	const char *ifname;
	const char *pin_dir;    /* NULL: /sys/fs/bpf/rvf/<ifname> */
	const char *mode;       /* "native", "generic", "auto" */
	uint16_t port;
	const struct rvfd_cidr *allow;
	size_t nallow;
	const uint8_t *trust_key; /* non-NULL: load the store's EBPF_SEGs if signed
				   * with this key (store_path is checked) */
};

/* 1 if this build can attach XDP programs (the loader was linked in). */
int rvfd_xdp_available(void);
/* Loads the objects (store EBPF_SEG or build/bpf), fills the maps from the
 * store, attaches XDP + tc, pins. Reuses pinned maps of a previous run.
 * Messages on stderr; returns 0 or -errno. */
int rvfd_xdp_start(const struct rvfd_xdp_opts *o, const char *store_path, rvf_store *s,
		   struct rvfd_xdp **out);
/* Starts the map builder thread (and the first build) in the serving
 * process, after the privilege drop. */
int rvfd_xdp_run(struct rvfd_xdp *x);
/* After the store changed: refill the maps, bump the epoch. */
int rvfd_xdp_sync(struct rvfd_xdp *x, rvf_store *s);
/* Per-CPU rvf_counters summed. 0 or -errno. */
int rvfd_xdp_counters(struct rvfd_xdp *x, uint64_t out[RVF_C_MAX]);
/* The monitor after fork: closes its copies of the loader's fds (the
 * worker owns them); rvfd_xdp_stop still detaches and unpins. */
void rvfd_xdp_release(struct rvfd_xdp *x);
/* Detach XDP and tc, unpin, free. Safe on NULL. */
void rvfd_xdp_stop(struct rvfd_xdp *x);
/* The loader's query digest key (for the replies' tag). 0 or -ENOENT. */
int rvfd_xdp_cache_key(struct rvfd_xdp *x, uint64_t key[2]);
/* Epoch the maps carry (config.epoch), or -1. */
int64_t rvfd_xdp_epoch(struct rvfd_xdp *x);

/* Reads a pinned per-CPU counters map (pin_dir/rvf_counters) and sums it.
 * Used by the daemon when no loader handle exists and by `rvf stats`. */
int rvfd_read_pinned_counters(const char *pin_dir, uint64_t out[RVF_C_MAX]);

extern const char *const rvfd_counter_names[RVF_C_MAX];

#endif
