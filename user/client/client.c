/* client.c — UDP query client of the rvf wire protocol (see rvfclient.h and
 * docs/PROTOCOL.md). */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rvfclient.h"

/* Header and result layouts come from the packed structs of rvf_wire.h
 * (sizeof/offsetof), never from hand-written offsets, so that the client
 * follows the contract header exactly. */
#define HDR_LEN sizeof(struct rvf_wire_hdr)
#define RES_LEN sizeof(struct rvf_wire_result)
_Static_assert(sizeof(struct rvf_wire_hdr) == RVF_WIRE_HDR_SIZE, "wire header size");
_Static_assert(sizeof(struct rvf_wire_result) == RVF_WIRE_RESULT_SIZE, "wire result size");

/* Largest datagram we build or accept: header + 65535 f32 components. */
#define MAX_DGRAM (HDR_LEN + 4u * 65535u)

struct rvf_client {
	int fd;
	uint32_t next_id;
	uint8_t *rxbuf; /* MAX_DGRAM + 1: a longer datagram shows up as truncated */
	uint8_t *txbuf;
};

/* ---- little-endian field access (the wire order, independent of host) ---- */

static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- strings ---- */

const char *rvf_client_status_str(unsigned status)
{
	static const char *const s[] = {
		[RVF_ST_OK] = "ok",
		[RVF_ST_BAD_REQUEST] = "bad request",
		[RVF_ST_DIM_MISMATCH] = "dimension mismatch",
		[RVF_ST_BUSY] = "server busy",
		[RVF_ST_BAD_K] = "bad k",
		[RVF_ST_UNSUPPORTED] = "unsupported",
		[RVF_ST_INTERNAL] = "internal server error",
		[RVF_ST_DENIED] = "denied",
	};

	return status < sizeof s / sizeof s[0] ? s[status] : "unknown status";
}

const char *rvf_client_path_str(unsigned path)
{
	switch (path) {
	case RVF_PATH_XDP:
		return "xdp";
	case RVF_PATH_CACHE:
		return "cache";
	case RVF_PATH_DAEMON:
		return "daemon";
	default:
		return "none";
	}
}

/* ---- wire encoding ---- */

size_t rvf_client_request_size(uint32_t dim, uint32_t k, int i8)
{
	size_t body = (size_t)dim * (i8 ? 1 : 4);
	size_t want = (size_t)(k > RVF_WIRE_MAX_K ? RVF_WIRE_MAX_K : k) * RES_LEN;

	return HDR_LEN + (body > want ? body : want);
}

ssize_t rvf_client_build(void *buf, size_t cap, uint32_t req_id, const void *vec, uint32_t dim,
			 float scale, uint32_t k, uint16_t flags)
{
	bool i8 = flags & RVF_WF_I8;
	struct rvf_wire_hdr h;
	uint8_t *p = buf;
	size_t len;

	if (!buf || !vec || dim == 0 || dim > 65535 || k == 0 || k > RVF_WIRE_MAX_K)
		return -EINVAL;
	if (flags & ~(RVF_WF_I8 | RVF_WF_DAEMON | RVF_WF_NO_CACHE))
		return -EINVAL; /* RVF_WF_FILTER: no filter encoding yet */
	if (i8 && (!isfinite(scale) || scale <= 0))
		return -EINVAL;
	len = rvf_client_request_size(dim, k, i8);
	if (len > cap)
		return -ENOSPC;
	memset(&h, 0, sizeof h);
	h.magic = htole32(RVF_WIRE_MAGIC);
	h.version = RVF_WIRE_VERSION;
	h.op = RVF_OP_QUERY;
	h.flags = htole16(flags);
	h.req_id = htole32(req_id);
	h.dim = htole16((uint16_t)dim);
	h.k = htole16((uint16_t)k);
	/* epoch, status, path, count, reserved: 0 in a request */
	if (i8)
		h.scale = htole32(f32_bits(scale));
	memset(p, 0, len);
	memcpy(p, &h, HDR_LEN);
	if (i8) {
		memcpy(p + HDR_LEN, vec, dim);
	} else {
		const float *f = vec;

		for (uint32_t d = 0; d < dim; d++)
			put32(p + HDR_LEN + 4 * d, f32_bits(f[d]));
	}
	return (ssize_t)len;
}

int rvf_client_parse_reply(const void *buf, size_t len, uint32_t req_id, uint32_t k,
			   rvf_client_result *out)
{
	const uint8_t *p = buf;
	struct rvf_wire_hdr h;
	unsigned status, path, count;

	/* Enough to tell whether it is meant as our reply: magic..req_id. */
	if (len < offsetof(struct rvf_wire_hdr, req_id) + sizeof h.req_id)
		return -ENOMSG;
	memset(&h, 0, sizeof h);
	memcpy(&h, p, len < HDR_LEN ? len : HDR_LEN);
	if (le32toh(h.magic) != RVF_WIRE_MAGIC || h.version != RVF_WIRE_VERSION ||
	    h.op != RVF_OP_REPLY || le32toh(h.req_id) != req_id)
		return -ENOMSG;
	if (len < HDR_LEN)
		return -EBADMSG;
	status = h.status;
	path = h.path;
	count = le16toh(h.count);
	if (count > RVF_WIRE_MAX_K || count > k || path > RVF_PATH_DAEMON)
		return -EBADMSG;
	if (status == RVF_ST_OK ? path == RVF_PATH_NONE : count != 0)
		return -EBADMSG;
	if (len < HDR_LEN + (size_t)count * RES_LEN)
		return -EBADMSG;

	out->status = (uint8_t)status;
	out->path = (uint8_t)path;
	out->flags = le16toh(h.flags);
	out->req_id = req_id;
	out->dim = le16toh(h.dim);
	out->k = le16toh(h.k);
	out->epoch = le32toh(h.epoch);
	out->count = (uint16_t)count;
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *r = p + HDR_LEN + i * RES_LEN;

		out->hits[i].id = get64(r + offsetof(struct rvf_wire_result, id));
		out->hits[i].distance = bits_f32(get32(r + offsetof(struct rvf_wire_result, dist)));
	}
	return 0;
}

/* ---- socket ---- */

/* Splits "host:port", "[v6]:port", "[v6]", "host" and bare "v6" into host
 * and port strings inside `tmp`. */
static int split_hostport(const char *s, char *tmp, size_t cap, const char **host,
			  const char **port)
{
	static const char defport[] = "7878";
	size_t n = strlen(s);
	char *colon;

	_Static_assert(RVF_WIRE_DEFAULT_PORT == 7878, "default port string");
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(tmp, s, n + 1);
	*port = defport;
	if (tmp[0] == '[') {
		char *end = strchr(tmp, ']');

		if (!end || end == tmp + 1)
			return -EINVAL;
		*end = '\0';
		*host = tmp + 1;
		if (end[1] == '\0')
			return 0;
		if (end[1] != ':' || end[2] == '\0')
			return -EINVAL;
		*port = end + 2;
		return 0;
	}
	colon = strchr(tmp, ':');
	if (colon && strchr(colon + 1, ':')) { /* bare IPv6, no port */
		*host = tmp;
		return 0;
	}
	*host = tmp;
	if (colon) {
		if (colon == tmp || colon[1] == '\0')
			return -EINVAL;
		*colon = '\0';
		*port = colon + 1;
	}
	return 0;
}

static int parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	return (int)v;
}

int rvf_client_open(const char *hostport, rvf_client **out)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	const char *host, *port;
	char tmp[512];
	rvf_client *c;
	int err, gai, fd = -1;

	if (!hostport || !out)
		return -EINVAL;
	*out = NULL;
	err = split_hostport(hostport, tmp, sizeof tmp, &host, &port);
	if (err)
		return err;
	err = parse_port(port);
	if (err < 0)
		return err;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME || gai == EAI_NODATA ||
	    gai == EAI_FAMILY) {
		/* AI_ADDRCONFIG hides ::1 on hosts with no global IPv6 address. */
		hints.ai_flags = AI_NUMERICSERV;
		gai = getaddrinfo(host, port, &hints, &res);
	}
	if (gai)
		return gai == EAI_SYSTEM ? -errno : gai == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	err = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err;

	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->rxbuf = malloc(MAX_DGRAM + 1);
	c->txbuf = malloc(MAX_DGRAM);
	if (!c->rxbuf || !c->txbuf) {
		rvf_client_close(c);
		return -ENOMEM;
	}
	if (getrandom(&c->next_id, sizeof c->next_id, GRND_NONBLOCK) != sizeof c->next_id)
		c->next_id = (uint32_t)now_ns() ^ (uint32_t)getpid() << 16;
	*out = c;
	return 0;
}

int rvf_client_resolve(const char *hostport, struct sockaddr_storage *out, socklen_t *len)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	const char *host, *port;
	char tmp[512];
	int err, gai;

	if (!hostport || !out || !len)
		return -EINVAL;
	err = split_hostport(hostport, tmp, sizeof tmp, &host, &port);
	if (err)
		return err;
	err = parse_port(port);
	if (err < 0)
		return err;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = AI_NUMERICSERV;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai)
		return gai == EAI_SYSTEM ? -errno : gai == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	if (res->ai_addrlen > sizeof *out) {
		freeaddrinfo(res);
		return -EAFNOSUPPORT;
	}
	memset(out, 0, sizeof *out);
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void rvf_client_close(rvf_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->rxbuf);
	free(c->txbuf);
	free(c);
}

int rvf_client_fd(const rvf_client *c)
{
	return c ? c->fd : -1;
}

void rvf_client_set_next_id(rvf_client *c, uint32_t id)
{
	if (c)
		c->next_id = id;
}

static int send_dgram(rvf_client *c, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(c->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Reads one datagram: its length, 0 when none is queued, or -errno.
 * A datagram longer than MAX_DGRAM is reported with length MAX_DGRAM + 1. */
static ssize_t recv_dgram(rvf_client *c)
{
	ssize_t n;

	do
		n = recv(c->fd, c->rxbuf, MAX_DGRAM + 1, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n > (ssize_t)MAX_DGRAM ? (ssize_t)MAX_DGRAM + 1 : n;
}

/* Waits until the socket is readable or the deadline passes: 1, 0 or -errno. */
static int wait_readable(int fd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		uint64_t now = now_ns();
		int ms, r;

		if (now >= deadline)
			return 0;
		ms = (int)((deadline - now + 999999) / 1000000);
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int query_common(rvf_client *c, const void *vec, uint32_t dim, float scale, uint32_t k,
			uint16_t flags, int timeout_ms, int retries, rvf_client_result *out)
{
	int seen_bad = 0, refused = 0;

	if (!c || !out || timeout_ms < 0 || retries < 0)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	for (int attempt = 0; attempt <= retries; attempt++) {
		uint32_t id = c->next_id++;
		ssize_t len = rvf_client_build(c->txbuf, MAX_DGRAM, id, vec, dim, scale, k, flags);
		uint64_t sent, deadline;
		int err;

		if (len < 0)
			return (int)len;
		sent = now_ns();
		deadline = sent + (uint64_t)timeout_ms * 1000000ull;
		err = send_dgram(c, c->txbuf, (size_t)len);
		if (err == -ECONNREFUSED) { /* ICMP of an earlier datagram */
			refused = 1;
			err = send_dgram(c, c->txbuf, (size_t)len);
		}
		if (err && err != -ECONNREFUSED)
			return err;
		out->attempts = (unsigned)attempt + 1;
		for (;;) {
			ssize_t n;

			err = wait_readable(c->fd, deadline);
			if (err < 0)
				return err;
			if (err == 0)
				break; /* this attempt timed out */
			while ((n = recv_dgram(c)) != 0) {
				if (n == -ECONNREFUSED) {
					refused = 1;
					continue;
				}
				if (n < 0)
					return (int)n;
				err = rvf_client_parse_reply(c->rxbuf, (size_t)n, id, k, out);
				if (err == 0) {
					out->rtt_ns = now_ns() - sent;
					out->attempts = (unsigned)attempt + 1;
					return 0;
				}
				if (err == -EBADMSG)
					seen_bad = 1;
				/* -ENOMSG: stale or foreign datagram, keep waiting */
			}
		}
	}
	return seen_bad ? -EBADMSG : refused ? -ECONNREFUSED : -ETIMEDOUT;
}

int rvf_client_query(rvf_client *c, const float *q, uint32_t dim, uint32_t k, uint16_t flags,
		     int timeout_ms, int retries, rvf_client_result *out)
{
	if (flags & RVF_WF_I8)
		return -EINVAL;
	return query_common(c, q, dim, 0, k, flags, timeout_ms, retries, out);
}

int rvf_client_query_i8(rvf_client *c, const int8_t *q, uint32_t dim, float scale, uint32_t k,
			uint16_t flags, int timeout_ms, int retries, rvf_client_result *out)
{
	return query_common(c, q, dim, scale, k, flags | RVF_WF_I8, timeout_ms, retries, out);
}

int rvf_client_quantize(const float *x, uint32_t dim, int8_t *q, float *scale)
{
	float m = 0, s;

	if (!x || !q || !scale || dim == 0)
		return -EINVAL;
	for (uint32_t d = 0; d < dim; d++) {
		if (!isfinite(x[d]))
			return -EINVAL;
		if (fabsf(x[d]) > m)
			m = fabsf(x[d]);
	}
	s = m > 0 ? m / 127.0f : 1.0f;
	for (uint32_t d = 0; d < dim; d++) {
		float v = roundf(x[d] / s);

		q[d] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
	}
	*scale = s;
	return 0;
}

/* ---- pipelined batch ---- */

struct slot {
	size_t qi;       /* query index; SIZE_MAX = free */
	uint32_t req_id;
	unsigned attempts;
	uint64_t sent;
};

static int batch_send(rvf_client *c, const struct rvf_client_query_spec *q, uint32_t dim,
		      uint32_t k, struct slot *s)
{
	ssize_t len = rvf_client_build(c->txbuf, MAX_DGRAM, c->next_id, q->vec, dim, q->scale, k,
				       q->flags);
	int err;

	if (len < 0)
		return (int)len;
	s->req_id = c->next_id++;
	s->attempts++;
	s->sent = now_ns();
	err = send_dgram(c, c->txbuf, (size_t)len);
	if (err == -ECONNREFUSED)
		err = send_dgram(c, c->txbuf, (size_t)len);
	return err == -ECONNREFUSED ? 0 : err;
}

int rvf_client_batch(rvf_client *c, const struct rvf_client_query_spec *qs, size_t n,
		     uint32_t dim, uint32_t k, unsigned window, int timeout_ms, int retries,
		     rvf_client_result *out, int *err)
{
	struct slot *slots;
	size_t next = 0, done = 0;
	int answered = 0, rc = 0;
	uint64_t tmo = (uint64_t)timeout_ms * 1000000ull;

	if (!c || (n && (!qs || !out || !err)) || window == 0 || timeout_ms < 0 || retries < 0)
		return -EINVAL;
	if (n > (size_t)INT32_MAX)
		return -E2BIG;
	/* Check every query up front so that a bad one cannot stop a run midway. */
	for (size_t i = 0; i < n; i++) {
		ssize_t len = rvf_client_build(c->txbuf, MAX_DGRAM, 0, qs[i].vec, dim, qs[i].scale,
					       k, qs[i].flags);
		if (len < 0)
			return (int)len;
		memset(&out[i], 0, sizeof out[i]);
		err[i] = -ETIMEDOUT;
	}
	if (window > n)
		window = n ? (unsigned)n : 1;
	slots = calloc(window, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (unsigned w = 0; w < window; w++)
		slots[w].qi = SIZE_MAX;

	while (done < n) {
		uint64_t now = now_ns(), deadline = UINT64_MAX;
		ssize_t len;

		/* Fill free slots, expire or resend the overdue ones. */
		for (unsigned w = 0; w < window; w++) {
			struct slot *s = &slots[w];

			if (s->qi != SIZE_MAX && now - s->sent >= tmo) {
				if (s->attempts > (unsigned)retries) {
					done++;
					s->qi = SIZE_MAX;
				} else {
					rc = batch_send(c, &qs[s->qi], dim, k, s);
					if (rc)
						goto out;
					out[s->qi].attempts = s->attempts;
				}
			}
			if (s->qi == SIZE_MAX && next < n) {
				s->qi = next++;
				s->attempts = 0;
				rc = batch_send(c, &qs[s->qi], dim, k, s);
				if (rc)
					goto out;
				out[s->qi].attempts = s->attempts;
			}
			if (s->qi != SIZE_MAX && s->sent + tmo < deadline)
				deadline = s->sent + tmo;
		}
		if (done >= n)
			break;
		rc = wait_readable(c->fd, deadline);
		if (rc < 0)
			goto out;
		rc = 0;
		while ((len = recv_dgram(c)) != 0) {
			if (len == -ECONNREFUSED)
				continue;
			if (len < 0) {
				rc = (int)len;
				goto out;
			}
			if ((size_t)len < offsetof(struct rvf_wire_hdr, req_id) + 4)
				continue;
			uint32_t id = get32(c->rxbuf + offsetof(struct rvf_wire_hdr, req_id));

			for (unsigned w = 0; w < window; w++) {
				struct slot *s = &slots[w];
				int e;

				if (s->qi == SIZE_MAX || s->req_id != id)
					continue;
				e = rvf_client_parse_reply(c->rxbuf, (size_t)len, id, k, &out[s->qi]);
				if (e == -EBADMSG) {
					err[s->qi] = -EBADMSG; /* kept unless a good one follows */
				} else if (e == 0) {
					out[s->qi].rtt_ns = now_ns() - s->sent;
					out[s->qi].attempts = s->attempts;
					err[s->qi] = 0;
					answered++;
					done++;
					s->qi = SIZE_MAX;
				}
				break;
			}
		}
	}
out:
	free(slots);
	return rc ? rc : answered;
}
