/* fanout.c — one query to S shard servers over one UDP socket, top-k merge
 * (rvfclient.h, docs/SCALING.md). */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rvfclient.h"

#define FANOUT_MAX 4096
/* Replies carry at most RVF_WIRE_MAX_K results; longer datagrams are
 * padding we do not need. */
#define RXCAP (sizeof(struct rvf_wire_hdr) + RVF_WIRE_MAX_K * sizeof(struct rvf_wire_result))

struct shard {
	struct sockaddr_storage addr; /* in the socket's family (v4-mapped if AF_INET6) */
	socklen_t len;
	uint32_t req_id;   /* id of the last datagram sent to it */
	bool done;         /* a valid reply arrived */
	bool seen_bad;     /* a malformed reply with its id arrived */
	uint64_t sent;
};

struct rvf_client_fanout {
	int fd;
	int family;
	uint32_t next_id;
	size_t n;
	struct shard *s;
	uint8_t rx[RXCAP];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* a (AF_INET) as ::ffff:a.b.c.d for an AF_INET6 socket. */
static void map_v4(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };

	memcpy(&v4, ss, sizeof v4);
	v6.sin6_port = v4.sin_port;
	v6.sin6_addr.s6_addr[10] = 0xff;
	v6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
	memset(ss, 0, sizeof *ss);
	memcpy(ss, &v6, sizeof v6);
	*len = sizeof v6;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		/* the scope matters only for link-local addresses */
		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) &&
		       (!IN6_IS_ADDR_LINKLOCAL(&x->sin6_addr) ||
			x->sin6_scope_id == y->sin6_scope_id);
	}
	return false;
}

int rvf_client_fanout_open(const char *const *hostports, size_t n, rvf_client_fanout **out)
{
	rvf_client_fanout *f;
	bool any6 = false;
	int err = 0;

	if (!hostports || !out || n == 0 || n > FANOUT_MAX)
		return -EINVAL;
	*out = NULL;
	f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	f->n = n;
	f->s = calloc(n, sizeof *f->s);
	if (!f->s) {
		free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; !err && i < n; i++) {
		err = hostports[i] ? rvf_client_resolve(hostports[i], &f->s[i].addr, &f->s[i].len)
				   : -EINVAL;
		if (!err && f->s[i].addr.ss_family == AF_INET6)
			any6 = true;
		else if (!err && f->s[i].addr.ss_family != AF_INET)
			err = -EAFNOSUPPORT;
	}
	if (!err) {
		int off = 0;

		f->family = any6 ? AF_INET6 : AF_INET;
		f->fd = socket(f->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
		if (f->fd < 0)
			err = -errno;
		else if (any6 &&
			 setsockopt(f->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off))
			err = -errno;
	}
	for (size_t i = 0; !err && any6 && i < n; i++)
		if (f->s[i].addr.ss_family == AF_INET)
			map_v4(&f->s[i].addr, &f->s[i].len);
	for (size_t i = 0; !err && i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (same_addr(&f->s[i].addr, &f->s[j].addr)) {
				err = -EINVAL;
				break;
			}
	if (err) {
		rvf_client_fanout_close(f);
		return err;
	}
	if (getrandom(&f->next_id, sizeof f->next_id, GRND_NONBLOCK) != sizeof f->next_id)
		f->next_id = (uint32_t)now_ns() ^ (uint32_t)getpid() << 16;
	*out = f;
	return 0;
}

void rvf_client_fanout_close(rvf_client_fanout *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->s);
	free(f);
}

int rvf_client_fanout_fd(const rvf_client_fanout *f)
{
	return f ? f->fd : -1;
}

void rvf_client_fanout_set_next_id(rvf_client_fanout *f, uint32_t id)
{
	if (f)
		f->next_id = id;
}

/* Sends the request in buf to shard i with a fresh id. */
static int send_to(rvf_client_fanout *f, size_t i, uint8_t *buf, size_t len)
{
	struct shard *s = &f->s[i];
	uint32_t id = htole32(f->next_id);
	ssize_t w;

	memcpy(buf + offsetof(struct rvf_wire_hdr, req_id), &id, 4);
	s->req_id = f->next_id++;
	s->sent = now_ns();
	do
		w = sendto(f->fd, buf, len, 0, (const struct sockaddr *)&s->addr, s->len);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* a shard we cannot reach right now is a missing shard, not a
		 * failure of the whole query; only a broken socket is */
		if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL || errno == EMSGSIZE)
			return -errno;
	}
	return 0;
}

static int cmp_hit(const void *a, const void *b)
{
	const rvf_client_hit *x = a, *y = b;

	if (x->distance != y->distance)
		return x->distance < y->distance ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void merge(rvf_client_fanout_result *out, const rvf_client_shard_reply *per, size_t n,
		  uint32_t k, rvf_client_hit *all)
{
	size_t m = 0, w = 0;

	for (size_t i = 0; i < n; i++) {
		if (per[i].err || per[i].res.status != RVF_ST_OK)
			continue;
		out->answered++;
		for (unsigned h = 0; h < per[i].res.count; h++)
			all[m++] = per[i].res.hits[h];
	}
	qsort(all, m, sizeof *all, cmp_hit);
	for (size_t i = 0; i < m && w < k; i++) {
		bool dup = false;

		for (size_t j = 0; j < w && !dup; j++)
			dup = out->hits[j].id == all[i].id;
		if (dup) {
			out->duplicate_ids++;
			continue;
		}
		out->hits[w++] = all[i];
	}
	out->count = (uint16_t)w;
}

/* Handles one datagram from `from`. */
static void take(rvf_client_fanout *f, const struct sockaddr_storage *from, size_t len, uint32_t k,
		 rvf_client_fanout_result *out, rvf_client_shard_reply *per, size_t *pending)
{
	rvf_client_result r;
	size_t i;
	int e;

	for (i = 0; i < f->n; i++)
		if (same_addr(&f->s[i].addr, from))
			break;
	if (i == f->n || f->s[i].done) { /* a stranger, or a second reply */
		out->ignored++;
		return;
	}
	e = rvf_client_parse_reply(f->rx, len, f->s[i].req_id, k, &r);
	for (unsigned h = 0; e == 0 && h < r.count; h++)
		if (isnan(r.hits[h].distance))
			e = -EBADMSG;
	if (e) {
		if (e == -EBADMSG)
			f->s[i].seen_bad = true;
		out->ignored++;
		return;
	}
	r.rtt_ns = now_ns() - f->s[i].sent;
	r.attempts = per[i].res.attempts;
	per[i].res = r;
	per[i].err = 0;
	f->s[i].done = true;
	(*pending)--;
}

int rvf_client_fanout_query(rvf_client_fanout *f, const float *q, uint32_t dim, uint32_t k,
			    uint16_t flags, int timeout_ms, int retries,
			    rvf_client_fanout_result *out, rvf_client_shard_reply *per)
{
	size_t len, pending;
	uint8_t *buf;
	rvf_client_hit *all;
	uint64_t start;
	ssize_t blen;
	int rc = 0;

	if (!f || !q || !out || !per || timeout_ms < 0 || retries < 0 || (flags & RVF_WF_I8))
		return -EINVAL;
	if (k == 0 || k > RVF_WIRE_MAX_K || dim == 0 || dim > 65535)
		return -EINVAL;
	len = rvf_client_request_size(dim, k, 0);
	buf = malloc(len);
	all = malloc(f->n * RVF_WIRE_MAX_K * sizeof *all);
	if (!buf || !all) {
		free(buf);
		free(all);
		return -ENOMEM;
	}
	blen = rvf_client_build(buf, len, 0, q, dim, 0, k, flags);
	if (blen < 0) {
		free(buf);
		free(all);
		return (int)blen;
	}
	memset(out, 0, sizeof *out);
	out->nshards = f->n;
	for (size_t i = 0; i < f->n; i++) {
		memset(&per[i], 0, sizeof per[i]);
		per[i].err = -ETIMEDOUT;
		f->s[i].done = f->s[i].seen_bad = false;
	}
	pending = f->n;
	start = now_ns();
	for (int attempt = 0; rc == 0 && pending && attempt <= retries; attempt++) {
		uint64_t deadline;

		for (size_t i = 0; rc == 0 && i < f->n; i++)
			if (!f->s[i].done) {
				rc = send_to(f, i, buf, (size_t)blen);
				per[i].res.attempts = (unsigned)attempt + 1;
			}
		deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
		while (rc == 0 && pending) {
			struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
			uint64_t now = now_ns();
			int pr;

			if (now >= deadline)
				break;
			pr = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
			if (pr < 0 && errno != EINTR)
				rc = -errno;
			if (pr <= 0)
				continue;
			for (;;) {
				struct sockaddr_storage from;
				socklen_t flen = sizeof from;
				ssize_t n = recvfrom(f->fd, f->rx, sizeof f->rx, MSG_TRUNC,
						     (struct sockaddr *)&from, &flen);

				if (n < 0) {
					if (errno == EINTR)
						continue;
					if (errno != EAGAIN && errno != EWOULDBLOCK &&
					    errno != ECONNREFUSED && errno != EHOSTUNREACH &&
					    errno != ENETUNREACH)
						rc = -errno;
					break;
				}
				take(f, &from, (size_t)n < sizeof f->rx ? (size_t)n : sizeof f->rx, k,
				     out, per, &pending);
			}
		}
	}
	for (size_t i = 0; i < f->n; i++)
		if (!f->s[i].done && f->s[i].seen_bad)
			per[i].err = -EBADMSG;
	out->elapsed_ns = now_ns() - start;
	if (rc == 0)
		merge(out, per, f->n, k, all);
	free(buf);
	free(all);
	return rc;
}
