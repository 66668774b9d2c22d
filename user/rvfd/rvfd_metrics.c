/* rvfd_metrics.c — daemon counters as Prometheus text (exposition format
 * 0.0.4) and the tiny HTTP/1.0 responder that serves them: GET /metrics
 * only, everything else 404/405/400, one response per connection. All
 * sockets are non-blocking and driven by the daemon's poll loop; a client
 * that does not send its request within 2 s is dropped. */
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
static int listen_on(int family, uint16_t port)
{
	int fd, one = 1, err;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_ANY_INIT };

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		err = bind(fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_ANY) };

		err = bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (err || listen(fd, 16)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int rvfd_http_open(struct rvfd_http *h, uint16_t port)
{
	int i, r6, r4;

	for (i = 0; i < RVFD_HTTP_MAX_CONN; i++)
		h->c[i].fd = -1;
	r6 = listen_on(AF_INET6, port);
	r4 = listen_on(AF_INET, port);
	h->lfd[0] = r6 >= 0 ? r6 : -1;
	h->lfd[1] = r4 >= 0 ? r4 : -1;
	if (r4 < 0 && r4 != -EAFNOSUPPORT) {
		fprintf(stderr, "rvfd: error: metrics port %u: %s%s\n", port, strerror(-r4),
			r4 == -EADDRINUSE ? " (another process listens on it; pick another "
					    "--metrics-port)" : "");
		rvfd_http_close(h);
		return r4;
	}
	if (r4 < 0 && r6 < 0) {
		fprintf(stderr, "rvfd: error: metrics port %u: %s\n", port, strerror(-r6));
		return r6;
	}
	return 0;
}

void rvfd_http_close(struct rvfd_http *h)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (h->lfd[i] >= 0)
			close(h->lfd[i]);
		h->lfd[i] = -1;
	}
	for (i = 0; i < RVFD_HTTP_MAX_CONN; i++) {
		if (h->c[i].fd >= 0)
			close(h->c[i].fd);
		h->c[i].fd = -1;
	}
}

int rvfd_http_pollfds(struct rvfd_http *h, struct pollfd *pfd)
{
	int n = 0, i;

	for (i = 0; i < 2; i++)
		if (h->lfd[i] >= 0)
			pfd[n++] = (struct pollfd){ .fd = h->lfd[i], .events = POLLIN };
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

static void conn_request(struct rvfd_http_conn *c, char *(*text)(void *), void *arg)
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
	if (strcmp(target, "/metrics") && strncmp(target, "/metrics?", 9)) {
		respond(c->fd, "404 Not Found", "text/plain", "try /metrics\n");
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
	int i, j;

	for (i = 0; i < 2; i++) {
		while (h->lfd[i] >= 0) {
			int fd = accept4(h->lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0)
				break;
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
			conn_request(c, text, arg);
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
