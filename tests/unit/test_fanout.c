/* test_fanout.c — suite "fanout": rvf_client_fanout_* against fake shard
 * servers on 127.0.0.1 / ::1 (one thread each): the merged top-k of honest
 * shards, a silent shard (partial result after the retries, named by its
 * index), and hostile replies — another shard's request id, a stranger's
 * datagram carrying the right id, a truncated reply, a second reply, NaN
 * distances, ids returned by two shards — none of which may change the
 * merge.
 */
#include "testreg.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rvfclient.h"

#define HDR sizeof(struct rvf_wire_hdr)
#define RES sizeof(struct rvf_wire_result)

enum fmode {
	F_ANSWER,   /* the shard's hits */
	F_SILENT,   /* never answers */
	F_HOSTILE,  /* wrong id, truncated, then the answer, then a forged duplicate */
	F_STRANGER, /* a datagram from another port with the right id first */
	F_NAN,      /* a NaN distance (malformed) */
};

struct fshard {
	int fd, fd2; /* fd2: the stranger's socket */
	int family;
	uint16_t port;
	pthread_t thr;
	atomic_int stop;
	enum fmode mode;
	unsigned nhits;
	rvf_client_hit hits[8];
	atomic_uint last_id; /* for F_STRANGER from another shard's thread */
};

static void put_hits(uint8_t *out, const rvf_client_hit *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct rvf_wire_result r = { .id = htole64(h[i].id) };
		uint32_t bits;

		memcpy(&bits, &h[i].distance, 4);
		bits = htole32(bits);
		memcpy(&r.dist, &bits, 4);
		memcpy(out + HDR + i * RES, &r, RES);
	}
}

/* Reply of `count` hits to request rq (req_id overridden by id). */
static size_t reply(uint8_t *out, const struct rvf_wire_hdr *rq, uint32_t id,
		    const rvf_client_hit *h, unsigned count)
{
	struct rvf_wire_hdr r = *rq;

	r.op = RVF_OP_REPLY;
	r.req_id = htole32(id);
	r.status = RVF_ST_OK;
	r.path = RVF_PATH_DAEMON;
	r.epoch = htole32(4);
	r.count = htole16((uint16_t)count);
	memcpy(out, &r, HDR);
	put_hits(out, h, count);
	return HDR + count * RES;
}

static void *fshard_main(void *arg)
{
	struct fshard *s = arg;
	uint8_t in[8192], out[2048];

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		struct sockaddr_storage peer;
		socklen_t pl = sizeof peer;
		struct rvf_wire_hdr rq;
		unsigned k, count;
		uint32_t id;
		ssize_t n;
		size_t len;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recvfrom(s->fd, in, sizeof in, 0, (struct sockaddr *)&peer, &pl);
		if (n < (ssize_t)HDR)
			continue;
		memcpy(&rq, in, HDR);
		id = le32toh(rq.req_id);
		k = le16toh(rq.k);
		count = s->nhits < k ? s->nhits : k;
		atomic_store(&s->last_id, id);
		switch (s->mode) {
		case F_SILENT:
			break;
		case F_ANSWER:
			len = reply(out, &rq, id, s->hits, count);
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			break;
		case F_HOSTILE: {
			static const rvf_client_hit evil[2] = { { 999, -100.0f }, { 998, -99.0f } };

			/* the id of some other request, with hits that would win */
			len = reply(out, &rq, id + 1, evil, 2);
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			/* right id, count 2, one result: truncated */
			len = reply(out, &rq, id, evil, 2) - RES;
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			/* only the header */
			sendto(s->fd, out, HDR - 3, 0, (struct sockaddr *)&peer, pl);
			len = reply(out, &rq, id, s->hits, count);
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			/* a second reply, same id, other hits */
			len = reply(out, &rq, id, evil, 2);
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			break;
		}
		case F_STRANGER: {
			static const rvf_client_hit evil[1] = { { 777, -50.0f } };

			len = reply(out, &rq, id, evil, 1);
			sendto(s->fd2, out, len, 0, (struct sockaddr *)&peer, pl);
			usleep(20000); /* the forgery arrives well before the answer */
			len = reply(out, &rq, id, s->hits, count);
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			break;
		}
		case F_NAN: {
			rvf_client_hit h[8];

			memcpy(h, s->hits, sizeof h);
			h[0].distance = NAN;
			len = reply(out, &rq, id, h, count);
			sendto(s->fd, out, len, 0, (struct sockaddr *)&peer, pl);
			break;
		}
		}
	}
	return NULL;
}

static int bind_any(int family, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t l;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		l = sizeof *a;
	}
	if (bind(fd, (struct sockaddr *)&ss, l) || getsockname(fd, (struct sockaddr *)&ss, &l)) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static struct fshard *fshard_start(int family, enum fmode mode, const rvf_client_hit *h,
				   unsigned n)
{
	struct fshard *s = calloc(1, sizeof *s);
	uint16_t p2;

	if (!s)
		return NULL;
	s->family = family;
	s->mode = mode;
	s->nhits = n;
	memcpy(s->hits, h, n * sizeof *h);
	s->fd = bind_any(family, &s->port);
	s->fd2 = bind_any(family, &p2);
	if (s->fd < 0 || s->fd2 < 0 || pthread_create(&s->thr, NULL, fshard_main, s)) {
		if (s->fd >= 0)
			close(s->fd);
		if (s->fd2 >= 0)
			close(s->fd2);
		free(s);
		return NULL;
	}
	return s;
}

static void fshard_stop(struct fshard *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thr, NULL);
	close(s->fd);
	close(s->fd2);
	free(s);
}

static void addr_of(const struct fshard *s, char *buf, size_t cap)
{
	snprintf(buf, cap, s->family == AF_INET6 ? "[::1]:%u" : "127.0.0.1:%u", s->port);
}

static const float Q[4] = { 1, 2, 3, 4 };

/* Three shards' hits: the merged top-5 is 10(0.1) 20(0.2) 11(0.3) 30(0.35) 21(0.4). */
static const rvf_client_hit H0[3] = { { 10, 0.1f }, { 11, 0.3f }, { 12, 0.9f } };
static const rvf_client_hit H1[3] = { { 20, 0.2f }, { 21, 0.4f }, { 22, 0.8f } };
static const rvf_client_hit H2[3] = { { 30, 0.35f }, { 31, 0.5f }, { 32, 0.7f } };
static const uint64_t WANT5[5] = { 10, 20, 11, 30, 21 };

/* Runs a 3-shard query with the given modes; returns the fan-out rc. */
static int run3(const enum fmode m[3], int family2, int timeout_ms, int retries,
		rvf_client_fanout_result *out, rvf_client_shard_reply per[3])
{
	const rvf_client_hit *hs[3] = { H0, H1, H2 };
	struct fshard *s[3] = { 0 };
	char a[3][64];
	const char *addrs[3] = { a[0], a[1], a[2] };
	rvf_client_fanout *f = NULL;
	int rc = -1;

	for (int i = 0; i < 3; i++) {
		s[i] = fshard_start(i == 2 ? family2 : AF_INET, m[i], hs[i], 3);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
		addr_of(s[i], a[i], sizeof a[i]);
	}
	CU_ASSERT_EQUAL(rvf_client_fanout_open(addrs, 3, &f), 0);
	if (f)
		rc = rvf_client_fanout_query(f, Q, 4, 5, RVF_WF_DAEMON, timeout_ms, retries, out,
					     per);
	rvf_client_fanout_close(f);
	for (int i = 0; i < 3; i++)
		fshard_stop(s[i]);
	return rc;
}

static void expect_ids(const rvf_client_fanout_result *r, const uint64_t *want, unsigned n)
{
	CU_ASSERT_EQUAL(r->count, n);
	for (unsigned i = 0; i < n && i < r->count; i++) {
		CU_ASSERT_EQUAL(r->hits[i].id, want[i]);
		if (r->hits[i].id != want[i])
			fprintf(stderr, "\nfanout: hit %u is %llu, want %llu\n", i,
				(unsigned long long)r->hits[i].id, (unsigned long long)want[i]);
	}
}

static void test_merge_honest(void)
{
	const enum fmode m[3] = { F_ANSWER, F_ANSWER, F_ANSWER };
	rvf_client_fanout_result r;
	rvf_client_shard_reply per[3];

	CU_ASSERT_EQUAL(run3(m, AF_INET6, 1000, 0, &r, per), 0);
	CU_ASSERT_EQUAL(r.answered, 3);
	CU_ASSERT_EQUAL(r.nshards, 3);
	CU_ASSERT_EQUAL(r.ignored, 0);
	expect_ids(&r, WANT5, 5);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(per[i].err, 0);
		CU_ASSERT_EQUAL(per[i].res.count, 3);
		CU_ASSERT_EQUAL(per[i].res.epoch, 4);
		CU_ASSERT_EQUAL(per[i].res.attempts, 1);
	}
}

static void test_silent_shard(void)
{
	const enum fmode m[3] = { F_ANSWER, F_SILENT, F_ANSWER };
	static const uint64_t want[5] = { 10, 11, 30, 31, 32 };
	rvf_client_fanout_result r;
	rvf_client_shard_reply per[3];

	CU_ASSERT_EQUAL(run3(m, AF_INET, 60, 1, &r, per), 0);
	CU_ASSERT_EQUAL(r.answered, 2);
	CU_ASSERT_EQUAL(per[1].err, -ETIMEDOUT);
	CU_ASSERT_EQUAL(per[1].res.attempts, 2);
	CU_ASSERT_EQUAL(per[0].err, 0);
	CU_ASSERT_EQUAL(per[2].err, 0);
	CU_ASSERT(r.elapsed_ns >= 2 * 60 * 1000000ull);
	CU_ASSERT(r.elapsed_ns < 5ull * 1000000000ull);
	expect_ids(&r, want, 5);
}

static void test_hostile_shard(void)
{
	const enum fmode m[3] = { F_HOSTILE, F_ANSWER, F_STRANGER };
	rvf_client_fanout_result r;
	rvf_client_shard_reply per[3];

	CU_ASSERT_EQUAL(run3(m, AF_INET, 1000, 0, &r, per), 0);
	CU_ASSERT_EQUAL(r.answered, 3);
	expect_ids(&r, WANT5, 5);
	/* wrong id, truncated, header-only, stranger; the duplicate may arrive
	 * after the loop ended (nothing pending), so >= 4 */
	CU_ASSERT(r.ignored >= 4);
	CU_ASSERT_EQUAL(per[0].res.count, 3);
	CU_ASSERT_EQUAL(per[2].res.hits[0].id, 30);
}

static void test_nan_is_malformed(void)
{
	const enum fmode m[3] = { F_ANSWER, F_NAN, F_ANSWER };
	rvf_client_fanout_result r;
	rvf_client_shard_reply per[3];

	CU_ASSERT_EQUAL(run3(m, AF_INET, 80, 0, &r, per), 0);
	CU_ASSERT_EQUAL(r.answered, 2);
	CU_ASSERT_EQUAL(per[1].err, -EBADMSG);
	for (unsigned i = 0; i < r.count; i++)
		CU_ASSERT(r.hits[i].id < 20 || r.hits[i].id >= 30);
}

static void test_duplicate_ids(void)
{
	static const rvf_client_hit a[2] = { { 5, 0.5f }, { 6, 0.6f } };
	static const rvf_client_hit b[2] = { { 5, 0.1f }, { 7, 0.7f } };
	struct fshard *s0 = fshard_start(AF_INET, F_ANSWER, a, 2);
	struct fshard *s1 = fshard_start(AF_INET, F_ANSWER, b, 2);
	char a0[64], a1[64];
	const char *addrs[2] = { a0, a1 };
	rvf_client_fanout_result r;
	rvf_client_shard_reply per[2];
	rvf_client_fanout *f = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
	addr_of(s0, a0, sizeof a0);
	addr_of(s1, a1, sizeof a1);
	CU_ASSERT_EQUAL_FATAL(rvf_client_fanout_open(addrs, 2, &f), 0);
	CU_ASSERT_EQUAL(rvf_client_fanout_query(f, Q, 4, 4, 0, 1000, 0, &r, per), 0);
	CU_ASSERT_EQUAL(r.count, 3);
	CU_ASSERT_EQUAL(r.duplicate_ids, 1);
	CU_ASSERT_EQUAL(r.hits[0].id, 5);
	CU_ASSERT(r.hits[0].distance == 0.1f);
	CU_ASSERT_EQUAL(r.hits[1].id, 6);
	CU_ASSERT_EQUAL(r.hits[2].id, 7);
	/* the same address twice is refused */
	{
		const char *same[2] = { a0, a0 };
		rvf_client_fanout *g = NULL;

		CU_ASSERT_EQUAL(rvf_client_fanout_open(same, 2, &g), -EINVAL);
		CU_ASSERT_PTR_NULL(g);
	}
	CU_ASSERT_EQUAL(rvf_client_fanout_query(f, Q, 4, 0, 0, 10, 0, &r, per), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_fanout_query(f, Q, 4, 65, 0, 10, 0, &r, per), -EINVAL);
	CU_ASSERT_EQUAL(rvf_client_fanout_query(f, Q, 4, 4, RVF_WF_I8, 10, 0, &r, per), -EINVAL);
	rvf_client_fanout_close(f);
	fshard_stop(s0);
	fshard_stop(s1);
	{
		const char *bad[1] = { "127.0.0.1:0" };
		rvf_client_fanout *g = NULL;

		CU_ASSERT_EQUAL(rvf_client_fanout_open(bad, 1, &g), -EINVAL);
		CU_ASSERT_EQUAL(rvf_client_fanout_open(bad, 0, &g), -EINVAL);
	}
}

RVF_SUITE(fanout,
	  { "three shards (v4 + v6 on one socket): merged top-k", test_merge_honest },
	  { "silent shard: partial result after retries, named", test_silent_shard },
	  { "hostile ids, stranger, truncated, duplicate: merge unchanged", test_hostile_shard },
	  { "NaN distance: shard malformed, left out", test_nan_is_malformed },
	  { "id from two shards kept once; bad arguments", test_duplicate_ids })
