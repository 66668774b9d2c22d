/* test_client.c — suite "client": the UDP query client (user/client) against
 * a small answer server thread on 127.0.0.1 / ::1 that can misbehave on
 * purpose: drop requests, send stale ids, wrong magic, short replies, error
 * statuses. Checks request encoding and padding, reply validation, timeouts,
 * retries and the pipelined batch mode.
 */
#include "testreg.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rvfclient.h"

#define HDR_LEN sizeof(struct rvf_wire_hdr)
#define RES_LEN sizeof(struct rvf_wire_result)
#define MAX_LOG 4096

enum mode {
	M_ANSWER,      /* proper reply, count = min(k, room in the request) */
	M_SILENT,      /* never reply */
	M_DROP_FIRST,  /* drop the first `param` requests, answer the rest */
	M_NOISE,       /* foreign id, bad magic, garbage, then the real reply */
	M_STALE,       /* drop #1; on #2 send the reply of #1 first, then #2's */
	M_SHORT,       /* count 3 but only 2 results follow */
	M_STATUS,      /* status `param`, no results */
	M_COUNT_GT_K,  /* more results than asked for */
};

struct server {
	int fd;
	int family;
	uint16_t port;
	pthread_t thr;
	atomic_int stop;
	atomic_int mode;
	atomic_int param;
	atomic_int nreq;
	struct {
		size_t len;
		struct rvf_wire_hdr h;
		uint8_t body[64];
	} log[MAX_LOG];
};

static void fill_reply(uint8_t *out, size_t *olen, const struct rvf_wire_hdr *rq, size_t rqlen,
		       const uint8_t *body)
{
	struct rvf_wire_hdr h = *rq;
	unsigned k = le16toh(rq->k), room = (unsigned)((rqlen - HDR_LEN) / RES_LEN);
	unsigned count = k < room ? k : room;

	if (count > RVF_WIRE_MAX_K)
		count = RVF_WIRE_MAX_K;
	h.op = RVF_OP_REPLY;
	h.epoch = htole32(9);
	h.status = RVF_ST_OK;
	h.path = RVF_PATH_DAEMON;
	h.count = htole16((uint16_t)count);
	memcpy(out, &h, HDR_LEN);
	for (unsigned i = 0; i < count; i++) {
		struct rvf_wire_result r = { 0 };
		float f0;

		/* id = 1000 * first query byte + i: ties a reply to its query */
		memcpy(&f0, body, 4);
		r.id = htole64(1000ull * body[0] + i);
		r.dist = (float)i + 0.25f;
		(void)f0;
		memcpy(out + HDR_LEN + i * RES_LEN, &r, RES_LEN);
	}
	*olen = HDR_LEN + count * RES_LEN;
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	uint8_t in[65536], out[4096];
	struct sockaddr_storage peer;
	uint32_t prev_id = 0;
	int have_prev = 0;

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		socklen_t plen = sizeof peer;
		struct rvf_wire_hdr rq;
		size_t olen = 0;
		ssize_t n;
		int idx;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = recvfrom(s->fd, in, sizeof in, 0, (struct sockaddr *)&peer, &plen);
		if (n < (ssize_t)HDR_LEN)
			continue;
		memcpy(&rq, in, HDR_LEN);
		idx = atomic_fetch_add(&s->nreq, 1);
		if (idx < MAX_LOG) {
			s->log[idx].len = (size_t)n;
			s->log[idx].h = rq;
			memcpy(s->log[idx].body, in + HDR_LEN,
			       (size_t)n - HDR_LEN < 64 ? (size_t)n - HDR_LEN : 64);
		}
		switch (atomic_load(&s->mode)) {
		case M_SILENT:
			break;
		case M_DROP_FIRST:
			if (idx < atomic_load(&s->param))
				break;
			/* fall through */
		case M_ANSWER:
			fill_reply(out, &olen, &rq, (size_t)n, in + HDR_LEN);
			break;
		case M_NOISE: {
			struct rvf_wire_hdr h;

			fill_reply(out, &olen, &rq, (size_t)n, in + HDR_LEN);
			memcpy(&h, out, HDR_LEN);
			h.req_id = htole32(le32toh(rq.req_id) + 1);
			memcpy(out, &h, HDR_LEN);
			sendto(s->fd, out, olen, 0, (struct sockaddr *)&peer, plen);
			h.req_id = rq.req_id;
			h.magic ^= 0x100;
			memcpy(out, &h, HDR_LEN);
			sendto(s->fd, out, olen, 0, (struct sockaddr *)&peer, plen);
			sendto(s->fd, "garbage", 7, 0, (struct sockaddr *)&peer, plen);
			sendto(s->fd, out, 0, 0, (struct sockaddr *)&peer, plen);
			h.magic ^= 0x100;
			h.op = RVF_OP_QUERY; /* our own request reflected */
			memcpy(out, &h, HDR_LEN);
			sendto(s->fd, out, olen, 0, (struct sockaddr *)&peer, plen);
			fill_reply(out, &olen, &rq, (size_t)n, in + HDR_LEN);
			break;
		}
		case M_STALE:
			if (idx == 0) {
				prev_id = rq.req_id;
				have_prev = 1;
				break;
			}
			if (have_prev) {
				struct rvf_wire_hdr h = rq;

				h.req_id = prev_id;
				fill_reply(out, &olen, &h, (size_t)n, in + HDR_LEN);
				((struct rvf_wire_hdr *)out)->path = RVF_PATH_XDP; /* marker */
				sendto(s->fd, out, olen, 0, (struct sockaddr *)&peer, plen);
				have_prev = 0;
			}
			fill_reply(out, &olen, &rq, (size_t)n, in + HDR_LEN);
			break;
		case M_SHORT:
			fill_reply(out, &olen, &rq, (size_t)n, in + HDR_LEN);
			((struct rvf_wire_hdr *)out)->count = htole16(3);
			olen = HDR_LEN + 2 * RES_LEN;
			break;
		case M_STATUS: {
			struct rvf_wire_hdr h = rq;

			h.op = RVF_OP_REPLY;
			h.status = (uint8_t)atomic_load(&s->param);
			h.path = RVF_PATH_DAEMON;
			h.count = 0;
			memcpy(out, &h, HDR_LEN);
			olen = HDR_LEN;
			break;
		}
		case M_COUNT_GT_K:
			fill_reply(out, &olen, &rq, (size_t)n, in + HDR_LEN);
			((struct rvf_wire_hdr *)out)->count = htole16((uint16_t)(le16toh(rq.k) + 1));
			olen += RES_LEN;
			break;
		}
		if (olen)
			sendto(s->fd, out, olen, 0, (struct sockaddr *)&peer, plen);
	}
	return NULL;
}

static struct server *server_start(int family, enum mode m, int param)
{
	struct server *s = calloc(1, sizeof *s);
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!s)
		return NULL;
	s->family = family;
	atomic_store(&s->mode, m);
	atomic_store(&s->param, param);
	s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		free(s);
		return NULL;
	}
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *a;
	}
	if (bind(s->fd, (struct sockaddr *)&ss, sl) != 0 ||
	    getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0)
		goto fail;
	s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					   : ((struct sockaddr_in *)&ss)->sin_port);
	if (pthread_create(&s->thr, NULL, server_main, s) != 0)
		goto fail;
	return s;
fail:
	fprintf(stderr, "\nclient: test server: %s\n", strerror(errno));
	close(s->fd);
	free(s);
	return NULL;
}

static void server_stop(struct server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thr, NULL);
	close(s->fd);
	free(s);
}

static rvf_client *connect_to(const struct server *s)
{
	char hp[64];
	rvf_client *c = NULL;
	int err;

	snprintf(hp, sizeof hp, s->family == AF_INET6 ? "[::1]:%u" : "127.0.0.1:%u", s->port);
	err = rvf_client_open(hp, &c);
	if (err)
		fprintf(stderr, "\nclient: rvf_client_open(%s): %s\n", hp, strerror(-err));
	return c;
}

static const float Q4[4] = { 1.0f, 2.0f, 3.0f, 4.0f };

/* ---- tests ---- */

static void test_open_strings(void)
{
	static const char *const bad[] = {
		"", ":7878", "host:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
		"127.0.0.1:-1", "[::1", "[]:1", "[::1]x", "[::1]:",
	};
	rvf_client *c = NULL;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int err = rvf_client_open(bad[i], &c);

		CU_ASSERT(err < 0);
		CU_ASSERT_PTR_NULL(c);
		if (err >= 0) {
			fprintf(stderr, "\nclient: '%s' accepted\n", bad[i]);
			rvf_client_close(c);
			c = NULL;
		}
	}
	static const char *const good[] = {
		"127.0.0.1:7878", "127.0.0.1", "[::1]:7878", "[::1]", "::1", "localhost:9",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int err = rvf_client_open(good[i], &c);

		CU_ASSERT_EQUAL(err, 0);
		if (err)
			fprintf(stderr, "\nclient: '%s': %s\n", good[i], strerror(-err));
		CU_ASSERT(rvf_client_fd(c) >= 0);
		rvf_client_close(c);
		c = NULL;
	}
	CU_ASSERT_EQUAL(rvf_client_open(NULL, &c), -EINVAL);
}

static void test_build_and_padding(void)
{
	uint8_t buf[4096];
	struct rvf_wire_hdr h;
	int8_t q8[4] = { 1, -2, 3, -127 };
	ssize_t n;

	/* f32, dim 4, k 1: header + 16 bytes of vector, already reply-sized */
	n = rvf_client_build(buf, sizeof buf, 0x01020304, Q4, 4, 0, 1, 0);
	CU_ASSERT_EQUAL(n, (ssize_t)(HDR_LEN + 16));
	CU_ASSERT(memcmp(buf, "RVQ1", 4) == 0); /* magic bytes on the wire */
	memcpy(&h, buf, HDR_LEN);
	CU_ASSERT_EQUAL(h.version, 1);
	CU_ASSERT_EQUAL(h.op, RVF_OP_QUERY);
	CU_ASSERT_EQUAL(le32toh(h.req_id), 0x01020304);
	CU_ASSERT_EQUAL(buf[offsetof(struct rvf_wire_hdr, req_id)], 0x04); /* little-endian */
	CU_ASSERT_EQUAL(le16toh(h.dim), 4);
	CU_ASSERT_EQUAL(le16toh(h.k), 1);
	CU_ASSERT(h.epoch == 0 && h.status == 0 && h.path == 0 && h.count == 0 && h.scale == 0);
	CU_ASSERT(memcmp(buf + HDR_LEN, "\x00\x00\x80\x3f", 4) == 0); /* 1.0f LE */

	/* f32, dim 4, k 10: padded to header + 10 results, zero padding */
	n = rvf_client_build(buf, sizeof buf, 1, Q4, 4, 0, 10, RVF_WF_DAEMON);
	CU_ASSERT_EQUAL(n, (ssize_t)(HDR_LEN + 10 * RES_LEN));
	int zero = 1;
	for (size_t i = HDR_LEN + 16; i < (size_t)n; i++)
		zero &= buf[i] == 0;
	CU_ASSERT(zero);
	CU_ASSERT_EQUAL(rvf_client_request_size(4, 10, 0), HDR_LEN + 10 * RES_LEN);
	CU_ASSERT_EQUAL(rvf_client_request_size(4, 1000, 0), HDR_LEN + RVF_WIRE_MAX_K * RES_LEN);
	CU_ASSERT_EQUAL(rvf_client_request_size(512, 10, 0), HDR_LEN + 2048);

	/* int8, dim 4, k 3: 4 bytes of query padded to 3 results, scale bits */
	n = rvf_client_build(buf, sizeof buf, 2, q8, 4, 0.5f, 3, RVF_WF_I8);
	CU_ASSERT_EQUAL(n, (ssize_t)(HDR_LEN + 3 * RES_LEN));
	memcpy(&h, buf, HDR_LEN);
	CU_ASSERT_EQUAL(le16toh(h.flags), RVF_WF_I8);
	CU_ASSERT_EQUAL(le32toh(h.scale), 0x3f000000u);
	CU_ASSERT(memcmp(buf + HDR_LEN, "\x01\xfe\x03\x81", 4) == 0);

	/* argument checks */
	CU_ASSERT_EQUAL(rvf_client_build(buf, sizeof buf, 0, Q4, 0, 0, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_build(buf, sizeof buf, 0, Q4, 4, 0, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_build(buf, sizeof buf, 0, Q4, 4, 0, RVF_WIRE_MAX_K + 1, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(rvf_client_build(buf, sizeof buf, 0, Q4, 4, 0, 1, RVF_WF_FILTER), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_build(buf, sizeof buf, 0, q8, 4, 0, 1, RVF_WF_I8), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_build(buf, 40, 0, Q4, 4, 0, 10, 0), -ENOSPC);
}

static void test_parse_reply(void)
{
	uint8_t buf[HDR_LEN + 4 * RES_LEN];
	struct rvf_wire_hdr h;
	struct rvf_wire_result r;
	rvf_client_result out;

	memset(&h, 0, sizeof h);
	h.magic = htole32(RVF_WIRE_MAGIC);
	h.version = RVF_WIRE_VERSION;
	h.op = RVF_OP_REPLY;
	h.req_id = htole32(77);
	h.epoch = htole32(3);
	h.path = RVF_PATH_CACHE;
	h.count = htole16(2);
	memcpy(buf, &h, HDR_LEN);
	for (int i = 0; i < 2; i++) {
		r.id = htole64(5 + (uint64_t)i);
		r.dist = 1.5f * (float)i;
		r.reserved = 0;
		memcpy(buf + HDR_LEN + i * RES_LEN, &r, RES_LEN);
	}
	size_t len = HDR_LEN + 2 * RES_LEN;
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 2, &out), 0);
	CU_ASSERT_EQUAL(out.count, 2);
	CU_ASSERT_EQUAL(out.epoch, 3);
	CU_ASSERT_EQUAL(out.path, RVF_PATH_CACHE);
	CU_ASSERT_EQUAL(out.hits[1].id, 6);
	CU_ASSERT_EQUAL(out.hits[1].distance, 1.5f);
	/* trailing padding is allowed */
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len + RES_LEN, 77, 2, &out), 0);
	/* every truncation is rejected: ENOMSG before the id, EBADMSG after */
	for (size_t l = 0; l < len; l++) {
		int e = rvf_client_parse_reply(buf, l, 77, 2, &out);

		CU_ASSERT(l < 12 ? e == -ENOMSG : e == -EBADMSG);
	}
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 78, 2, &out), -ENOMSG);
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 1, &out), -EBADMSG); /* count > k */
	buf[offsetof(struct rvf_wire_hdr, path)] = RVF_PATH_NONE;
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 2, &out), -EBADMSG);
	buf[offsetof(struct rvf_wire_hdr, path)] = 9;
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 2, &out), -EBADMSG);
	buf[offsetof(struct rvf_wire_hdr, path)] = RVF_PATH_XDP;
	buf[offsetof(struct rvf_wire_hdr, status)] = RVF_ST_BUSY; /* error with results */
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 2, &out), -EBADMSG);
	buf[offsetof(struct rvf_wire_hdr, status)] = RVF_ST_OK;
	buf[offsetof(struct rvf_wire_hdr, version)] = 2;
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 2, &out), -ENOMSG);
	buf[offsetof(struct rvf_wire_hdr, version)] = 1;
	buf[offsetof(struct rvf_wire_hdr, op)] = RVF_OP_QUERY;
	CU_ASSERT_EQUAL(rvf_client_parse_reply(buf, len, 77, 2, &out), -ENOMSG);
}

static void check_query_ok(int family)
{
	struct server *s = server_start(family, M_ANSWER, 0);
	rvf_client_result res;
	rvf_client *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	c = connect_to(s);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out;
	rvf_client_set_next_id(c, 0xfffffffe); /* wraps */
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 10, 0, 1000, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, RVF_ST_OK);
	CU_ASSERT_EQUAL(res.path, RVF_PATH_DAEMON);
	CU_ASSERT_EQUAL(res.count, 10); /* the padding made room for all 10 */
	CU_ASSERT_EQUAL(res.epoch, 9);
	CU_ASSERT_EQUAL(res.req_id, 0xfffffffe);
	CU_ASSERT_EQUAL(res.attempts, 1);
	CU_ASSERT_EQUAL(res.hits[3].distance, 3.25f);
	CU_ASSERT(res.rtt_ns > 0);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 64, RVF_WF_DAEMON, 1000, 0, &res), 0);
	CU_ASSERT_EQUAL(res.count, 64);
	CU_ASSERT_EQUAL(res.req_id, 0xffffffff);
	CU_ASSERT_EQUAL(res.flags, RVF_WF_DAEMON);

	int8_t q8[4];
	float scale;
	CU_ASSERT_EQUAL(rvf_client_quantize(Q4, 4, q8, &scale), 0);
	CU_ASSERT_EQUAL(q8[3], 127);
	CU_ASSERT_EQUAL(q8[0], 32); /* round(1 / (4/127)) */
	CU_ASSERT_EQUAL(rvf_client_query_i8(c, q8, 4, scale, 20, 0, 1000, 0, &res), 0);
	CU_ASSERT_EQUAL(res.count, 20);
	CU_ASSERT_EQUAL(res.req_id, 0);
	CU_ASSERT_EQUAL(atomic_load(&s->nreq), 3);
	/* what the server saw: sizes leave room for k results */
	CU_ASSERT_EQUAL(s->log[0].len, HDR_LEN + 10 * RES_LEN);
	CU_ASSERT_EQUAL(s->log[1].len, HDR_LEN + 64 * RES_LEN);
	CU_ASSERT_EQUAL(s->log[2].len, HDR_LEN + 20 * RES_LEN);
	CU_ASSERT_EQUAL(le16toh(s->log[2].h.flags), RVF_WF_I8);
	CU_ASSERT(memcmp(s->log[2].body, q8, 4) == 0);
	float sc;
	uint32_t bits = le32toh(s->log[2].h.scale);
	memcpy(&sc, &bits, 4);
	CU_ASSERT_EQUAL(sc, scale);
	rvf_client_close(c);
out:
	server_stop(s);
}

static void test_query_v4(void) { check_query_ok(AF_INET); }
static void test_query_v6(void) { check_query_ok(AF_INET6); }

static void test_timeout_and_retries(void)
{
	struct server *s = server_start(AF_INET, M_SILENT, 0);
	rvf_client_result res;
	rvf_client *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	c = connect_to(s);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out;
	rvf_client_set_next_id(c, 500);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 3, 0, 50, 2, &res), -ETIMEDOUT);
	CU_ASSERT_EQUAL(res.attempts, 3);
	usleep(50 * 1000);
	CU_ASSERT_EQUAL(atomic_load(&s->nreq), 3);
	/* each attempt has a fresh id */
	CU_ASSERT_EQUAL(le32toh(s->log[0].h.req_id), 500);
	CU_ASSERT_EQUAL(le32toh(s->log[1].h.req_id), 501);
	CU_ASSERT_EQUAL(le32toh(s->log[2].h.req_id), 502);

	/* drop the first two, the third attempt is answered */
	atomic_store(&s->param, 5);
	atomic_store(&s->mode, M_DROP_FIRST);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 3, 0, 50, 2, &res), 0);
	CU_ASSERT_EQUAL(res.attempts, 3);
	CU_ASSERT_EQUAL(res.req_id, 505);
	CU_ASSERT_EQUAL(res.count, 3);
	rvf_client_close(c);
out:
	server_stop(s);
}

static void test_ignores_noise_and_stale(void)
{
	struct server *s = server_start(AF_INET, M_NOISE, 0);
	rvf_client_result res;
	rvf_client *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	c = connect_to(s);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out;
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 4, 0, 1000, 0, &res), 0);
	CU_ASSERT_EQUAL(res.count, 4);
	CU_ASSERT_EQUAL(res.attempts, 1);

	/* attempt 1 dropped; its late reply arrives during attempt 2 and is
	 * ignored (path XDP marks it), attempt 2's reply is taken */
	atomic_store(&s->nreq, 0);
	atomic_store(&s->mode, M_STALE);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 4, 0, 100, 1, &res), 0);
	CU_ASSERT_EQUAL(res.attempts, 2);
	CU_ASSERT_EQUAL(res.path, RVF_PATH_DAEMON);
	CU_ASSERT_EQUAL(res.req_id, le32toh(s->log[1].h.req_id));
	rvf_client_close(c);
out:
	server_stop(s);
}

static void test_bad_replies(void)
{
	struct server *s = server_start(AF_INET, M_SHORT, 0);
	rvf_client_result res;
	rvf_client *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	c = connect_to(s);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out;
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 4, 0, 50, 1, &res), -EBADMSG);
	CU_ASSERT_EQUAL(res.attempts, 2);
	atomic_store(&s->mode, M_COUNT_GT_K);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 4, 0, 50, 0, &res), -EBADMSG);

	/* an error status is a valid reply */
	atomic_store(&s->param, RVF_ST_DIM_MISMATCH);
	atomic_store(&s->mode, M_STATUS);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 4, 0, 1000, 0, &res), 0);
	CU_ASSERT_EQUAL(res.status, RVF_ST_DIM_MISMATCH);
	CU_ASSERT_EQUAL(res.count, 0);
	CU_ASSERT_STRING_EQUAL(rvf_client_status_str(res.status), "dimension mismatch");
	CU_ASSERT_STRING_EQUAL(rvf_client_path_str(RVF_PATH_CACHE), "cache");

	/* bad arguments never reach the wire */
	int before = atomic_load(&s->nreq);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 0, 0, 10, 0, &res), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 65, 0, 10, 0, &res), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 1, RVF_WF_I8, 10, 0, &res), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 1, 0, -1, 0, &res), -EINVAL);
	CU_ASSERT_EQUAL(atomic_load(&s->nreq), before);
	rvf_client_close(c);
out:
	server_stop(s);
}

static void test_refused(void)
{
	/* A port with nobody listening: ICMP port unreachable on loopback. */
	struct server *s = server_start(AF_INET, M_SILENT, 0);
	rvf_client_result res;
	rvf_client *c;
	char hp[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	snprintf(hp, sizeof hp, "127.0.0.1:%u", s->port);
	server_stop(s); /* port now closed */
	CU_ASSERT_EQUAL_FATAL(rvf_client_open(hp, &c), 0);
	CU_ASSERT_EQUAL(rvf_client_query(c, Q4, 4, 1, 0, 50, 1, &res), -ECONNREFUSED);
	rvf_client_close(c);
}

static void test_batch(void)
{
	enum { N = 200 };
	struct server *s = server_start(AF_INET, M_DROP_FIRST, 7);
	struct rvf_client_query_spec qs[N];
	float vecs[N][4] = { { 0 } };
	int8_t v8[N][4];
	rvf_client_result *out = calloc(N, sizeof *out);
	int err[N];
	rvf_client *c = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(s);
	if (!s)
		goto out;
	c = connect_to(s);
	CU_ASSERT_PTR_NOT_NULL(c);
	if (!c)
		goto out;
	for (int i = 0; i < N; i++) {
		/* the server derives result ids from the first request byte */
		vecs[i][0] = 0;
		memset(v8[i], 0, sizeof v8[i]);
		v8[i][0] = (int8_t)(i % 100);
		qs[i].vec = i % 2 ? (const void *)v8[i] : (const void *)vecs[i];
		qs[i].flags = i % 2 ? RVF_WF_I8 : 0;
		qs[i].scale = 0.1f;
	}
	/* the first 7 datagrams are dropped: those queries need a retry */
	int n = rvf_client_batch(c, qs, N, 4, 5, 16, 100, 2, out, err);
	CU_ASSERT_EQUAL(n, N);
	int ok = 1, retried = 0;
	for (int i = 0; i < N; i++) {
		ok &= err[i] == 0 && out[i].count == 5;
		ok &= out[i].hits[0].id == (i % 2 ? 1000ull * (uint64_t)(i % 100) : 0);
		retried += out[i].attempts > 1;
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(retried, 7);
	CU_ASSERT_EQUAL(atomic_load(&s->nreq), N + 7);

	/* nobody answers: every item times out, still returns */
	atomic_store(&s->mode, M_SILENT);
	n = rvf_client_batch(c, qs, 10, 4, 5, 4, 30, 1, out, err);
	CU_ASSERT_EQUAL(n, 0);
	for (int i = 0; i < 10; i++) {
		CU_ASSERT_EQUAL(err[i], -ETIMEDOUT);
		CU_ASSERT_EQUAL(out[i].attempts, 2);
	}
	/* a bad query is refused before anything is sent */
	qs[3].flags = RVF_WF_FILTER;
	CU_ASSERT_EQUAL(rvf_client_batch(c, qs, 10, 4, 5, 4, 30, 1, out, err), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_batch(c, qs, 0, 4, 5, 4, 30, 1, out, err), 0);
out:
	rvf_client_close(c);
	server_stop(s);
	free(out);
}

RVF_SUITE(client,
	  { "open: host:port forms, bad strings refused", test_open_strings },
	  { "request encoding, LE fields, padding to k results", test_build_and_padding },
	  { "reply validation: truncations, ids, count, status", test_parse_reply },
	  { "query over IPv4: f32, int8, padding honoured", test_query_v4 },
	  { "query over IPv6", test_query_v6 },
	  { "timeout, retries with fresh ids", test_timeout_and_retries },
	  { "stale ids, wrong magic and garbage are ignored", test_ignores_noise_and_stale },
	  { "malformed replies -> EBADMSG, error status returned", test_bad_replies },
	  { "closed port -> ECONNREFUSED", test_refused },
	  { "pipelined batch with drops and retries", test_batch })
