/* rvfd_metrics.c — daemon counters as Prometheus text (exposition format
 * 0.0.4) and the tiny HTTP/1.0 responder that serves them: GET /metrics
 * and GET /healthz (for load balancers and readiness probes), everything
 * else 404/405/400, one response per connection. All
 * sockets are non-blocking and driven by the daemon's poll loop; a client
 * that does not send its request within 2 s is dropped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rvfd.h"

const char *const rvfd_counter_names[RVF_C_MAX] = {
	[RVF_C_RX] = "rx",
	[RVF_C_ANSWERED] = "answered",
	[RVF_C_CACHE_HIT] = "cache_hit",
	[RVF_C_PASS_DAEMON] = "pass_daemon",
	[RVF_C_MALFORMED] = "malformed",
	[RVF_C_DENIED] = "denied",
	[RVF_C_NOT_OURS] = "not_ours",
	[RVF_C_ERROR] = "error",
	[RVF_C_TC_SEEN] = "tc_seen",
	[RVF_C_TC_CACHED] = "tc_cached",
	[RVF_C_TC_MISMATCH] = "tc_mismatch",
};

static const char *const status_names[8] = {
	"ok", "bad_request", "dim_mismatch", "busy", "bad_k", "unsupported", "internal", "denied",
};

double rvfd_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rvfd_lat_observe(struct rvfd_metrics *m, double us)
{
	unsigned b = 0;
	double edge = 1.0;

	if (us < 0)
		us = 0;
	while (b < RVFD_LAT_BUCKETS - 1 && us > edge) {
		edge *= 2.0;
		b++;
	}
	m->lat[b]++;
	m->lat_count++;
	m->lat_sum_us += us;
}

void rvfd_metrics_identity(struct rvfd_metrics *m, const rvf_store *s)
{
	static const char d[] = "0123456789abcdef";
	rvf_identity id;

	m->file_id[0] = '\0';
	if (!s || rvf_get_identity(s, &id))
		return;
	for (int i = 0; i < 16; i++) {
		m->file_id[2 * i] = d[id.file_id[i] >> 4];
		m->file_id[2 * i + 1] = d[id.file_id[i] & 15];
	}
	m->file_id[32] = '\0';
}

/* ---- text ---------------------------------------------------------------- */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap + (size_t)n + 1) * 2;
		char *np = realloc(b->p, ncap);

		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static void counter(struct sbuf *b, const char *name, const char *help, uint64_t v)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
		  (unsigned long long)v);
}

static void gauge(struct sbuf *b, const char *name, const char *help, double v)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

char *rvfd_metrics_text(const struct rvfd_metrics *m)
{
	struct sbuf b = { .p = malloc(4096), .cap = 4096 };
	uint64_t cum = 0;
	unsigned i;

	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	counter(&b, "rvfd_requests_total", "Datagrams received by the daemon on the query port.",
		m->requests);
	sb_printf(&b, "# HELP rvfd_replies_total Replies sent by the daemon, by status.\n"
		      "# TYPE rvfd_replies_total counter\n");
	for (i = 0; i < 8; i++)
		sb_printf(&b, "rvfd_replies_total{status=\"%s\"} %llu\n", status_names[i],
			  (unsigned long long)m->replies[i]);
	sb_printf(&b, "# HELP rvfd_dropped_total Datagrams dropped without a reply, by reason.\n"
		      "# TYPE rvfd_dropped_total counter\n"
		      "rvfd_dropped_total{reason=\"short\"} %llu\n"
		      "rvfd_dropped_total{reason=\"reply_op\"} %llu\n"
		      "rvfd_dropped_total{reason=\"denied\"} %llu\n",
		  (unsigned long long)m->drop_short, (unsigned long long)m->drop_reply,
		  (unsigned long long)m->drop_denied);
	counter(&b, "rvfd_send_errors_total", "Replies the socket refused to send.", m->send_errors);
	counter(&b, "rvfd_error_replies_limited_total",
		"Error replies not sent because the source exceeded --error-rate.", m->error_limited);
	counter(&b, "rvfd_metrics_denied_total",
		"Metrics connections closed: source outside the allow-list.", m->metrics_denied);
	sb_printf(&b, "# HELP rvfd_daemon_latency_us Daemon answer time, kernel receive to send, "
		      "microseconds (log2 buckets).\n# TYPE rvfd_daemon_latency_us histogram\n");
	for (i = 0; i < RVFD_LAT_BUCKETS; i++) {
		cum += m->lat[i];
		if (i == RVFD_LAT_BUCKETS - 1)
			sb_printf(&b, "rvfd_daemon_latency_us_bucket{le=\"+Inf\"} %llu\n",
				  (unsigned long long)cum);
		else
			sb_printf(&b, "rvfd_daemon_latency_us_bucket{le=\"%llu\"} %llu\n",
				  1ull << i, (unsigned long long)cum);
	}
	sb_printf(&b, "rvfd_daemon_latency_us_sum %.3f\nrvfd_daemon_latency_us_count %llu\n",
		  m->lat_sum_us, (unsigned long long)m->lat_count);
	counter(&b, "rvfd_store_reloads_total", "Store reopened after the file changed.",
		m->reloads);
	counter(&b, "rvfd_store_reload_errors_total", "Reopen attempts that failed.",
		m->reload_errors);
	counter(&b, "rvfd_xdp_syncs_total", "Loader map syncs after a store change.", m->syncs);
	counter(&b, "rvfd_xdp_sync_errors_total", "Loader map syncs that failed.", m->sync_errors);
	gauge(&b, "rvfd_store_epoch", "Store epoch the daemon answers from.", m->epoch);
	gauge(&b, "rvfd_store_vectors", "Live vectors in the store.", (double)m->nvec);
	gauge(&b, "rvfd_store_dimension", "Store dimension.", m->dim);
	sb_printf(&b, "# HELP rvfd_store_info The served file: its file_id and epoch (value 1).\n"
		      "# TYPE rvfd_store_info gauge\nrvfd_store_info{file_id=\"%s\",epoch=\"%u\"} 1\n",
		  m->file_id, m->epoch);
	gauge(&b, "rvfd_xdp_attached", "1 if the XDP program is attached.", m->xdp_attached);
	gauge(&b, "rvfd_start_time_seconds", "Daemon start, unix time.", m->start_time);
	if (m->xdp_valid) {
		sb_printf(&b, "# HELP rvfd_xdp_packets_total XDP/tc verdict counters (rvf_counters, "
			      "summed over CPUs).\n# TYPE rvfd_xdp_packets_total counter\n");
		for (i = 0; i < RVF_C_MAX; i++)
			sb_printf(&b, "rvfd_xdp_packets_total{counter=\"%s\"} %llu\n",
				  rvfd_counter_names[i], (unsigned long long)m->xdp[i]);
		counter(&b, "rvfd_cache_hits_total", "Queries answered by XDP from the result cache.",
			m->xdp[RVF_C_CACHE_HIT]);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- HTTP ---------------------------------------------------------------- */
int rvfd_http_open(struct rvfd_http *h, const char *addr, uint16_t port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	socklen_t alen;
	int fd, one = 1, err;

	memset(h, 0, sizeof(*h));
	h->lfd = -1;
	for (int i = 0; i < RVFD_HTTP_MAX_CONN; i++)
		h->c[i].fd = -1;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, addr, &a.in.sin_addr) == 1) {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(port);
		alen = sizeof(a.in);
	} else if (inet_pton(AF_INET6, addr, &a.in6.sin6_addr) == 1) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		alen = sizeof(a.in6);
	} else {
		fprintf(stderr, "rvfd: error: metrics address '%s' is not an IPv4 or IPv6 address\n",
			addr);
		return -EINVAL;
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "rvfd: error: metrics socket: %s\n", strerror(-err));
		return err;
	}
	/* TCP TIME_WAIT reuse only; a second listener on the port still fails. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &a.sa, alen) || listen(fd, 16)) {
		err = -errno;
		close(fd);
		fprintf(stderr, "rvfd: error: metrics on %s port %u: %s%s\n", addr, port, strerror(-err),
			err == -EADDRINUSE ? " (another process listens on it; pick another "
					     "--metrics-port)" : "");
		return err;
	}
	h->lfd = fd;
	return 0;
}

void rvfd_http_close(struct rvfd_http *h)
{
	int i;

	if (h->lfd >= 0)
		close(h->lfd);
	h->lfd = -1;
	for (i = 0; i < RVFD_HTTP_MAX_CONN; i++) {
		if (h->c[i].fd >= 0)
			close(h->c[i].fd);
		h->c[i].fd = -1;
	}
}

int rvfd_http_pollfds(struct rvfd_http *h, struct pollfd *pfd)
{
	int n = 0, i;

	if (h->lfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
	for (i = 0; i < RVFD_HTTP_MAX_CONN; i++)
		if (h->c[i].fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = h->c[i].fd, .events = POLLIN };
	return n;
}

/* Best effort: the response is small, the socket buffer takes it at once. */
static void respond(int fd, const char *status, const char *ctype, const char *body)
{
	char head[256];
	size_t blen = strlen(body);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, ctype, blen);
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)body, blen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void conn_close(struct rvfd_http_conn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* 200 + the served identity while serving, 503 before. */
static void health(int fd, const struct rvfd_metrics *m, int head)
{
	char body[256];

	if (!m || m->start_time <= 0 || !m->file_id[0]) {
		respond(fd, "503 Service Unavailable", "application/json",
			head ? "" : "{\"status\":\"starting\"}\n");
		return;
	}
	snprintf(body, sizeof body,
		 "{\"epoch\":%u,\"file_id\":\"%s\",\"status\":\"serving\",\"vectors\":%llu,"
		 "\"xdp_attached\":%s}\n", m->epoch, m->file_id, (unsigned long long)m->nvec,
		 m->xdp_attached ? "true" : "false");
	respond(fd, "200 OK", "application/json", head ? "" : body);
}

static void conn_request(struct rvfd_http_conn *c, const struct rvfd_metrics *m,
			 char *(*text)(void *), void *arg)
{
	char method[16], target[256];
	char *body;

	c->buf[c->got] = '\0';
	if (sscanf(c->buf, "%15s %255s", method, target) != 2) {
		respond(c->fd, "400 Bad Request", "text/plain", "bad request\n");
		return;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		respond(c->fd, "405 Method Not Allowed", "text/plain", "only GET\n");
		return;
	}
	if (!strcmp(target, "/healthz")) {
		health(c->fd, m, !strcmp(method, "HEAD"));
		return;
	}
	if (strcmp(target, "/metrics") && strncmp(target, "/metrics?", 9)) {
		respond(c->fd, "404 Not Found", "text/plain", "try /metrics or /healthz\n");
		return;
	}
	body = text(arg);
	if (!body) {
		respond(c->fd, "500 Internal Server Error", "text/plain", "out of memory\n");
		return;
	}
	respond(c->fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		strcmp(method, "HEAD") ? body : "");
	free(body);
}

void rvfd_http_service(struct rvfd_http *h, char *(*text)(void *), void *arg)
{
	double now = rvfd_mono();
	int j;

	while (h->lfd >= 0) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(h->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		if (!rvfd_allowed(h->allow, h->nallow, (struct sockaddr *)&peer)) {
			if (h->denied)
				(*h->denied)++;
			close(fd); /* outside the allow-list: not even an HTTP answer */
			continue;
		}
		for (j = 0; j < RVFD_HTTP_MAX_CONN && h->c[j].fd >= 0; j++)
			;
		if (j == RVFD_HTTP_MAX_CONN) {
			respond(fd, "503 Service Unavailable", "text/plain", "busy\n");
			close(fd);
			continue;
		}
		h->c[j].fd = fd;
		h->c[j].got = 0;
		h->c[j].deadline = now + 2.0;
	}
	for (j = 0; j < RVFD_HTTP_MAX_CONN; j++) {
		struct rvfd_http_conn *c = &h->c[j];
		ssize_t n;

		if (c->fd < 0)
			continue;
		for (;;) {
			n = recv(c->fd, c->buf + c->got, sizeof(c->buf) - 1 - c->got, MSG_DONTWAIT);
			if (n <= 0)
				break;
			c->got += (size_t)n;
			if (c->got >= sizeof(c->buf) - 1)
				break;
		}
		c->buf[c->got] = '\0';
		if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n")) {
			conn_request(c, h->m, text, arg);
			conn_close(c);
		} else if (c->got >= sizeof(c->buf) - 1) {
			respond(c->fd, "431 Request Header Fields Too Large", "text/plain", "too large\n");
			conn_close(c);
		} else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
			   now > c->deadline) {
			conn_close(c);
		}
	}
}
