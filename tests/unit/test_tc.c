/* test_tc.c — suite "tc": the tc egress cache filler (bpf/rvf_tc.bpf.c),
 * loaded for real and fed crafted daemon replies with BPF_PROG_TEST_RUN
 * (SCHED_CLS), then the full BMC round trip together with the XDP query
 * program (build/bpf/rvf_xdp_d64.bpf.o) sharing the maps.
 *
 * Needs root (CAP_BPF) and a BTF kernel; runs from the repository root.
 */
#include "testreg.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvf_qdigest.h"
#include "rvf_wire.h"
#include "rvfclient.h"

#ifndef TC_OBJ
#define TC_OBJ "build/bpf/rvf_tc.bpf.o"
#endif
#ifndef XDP_OBJ
#define XDP_OBJ "build/bpf/rvf_xdp_d64.bpf.o"
#endif

#define TEST_PORT 7979 /* not the default: proves .rodata rvf_port is honoured */
#define CLIENT_PORT 40000
#define HDR_LEN sizeof(struct rvf_wire_hdr)
#define RES_LEN sizeof(struct rvf_wire_result)

/* ---- libbpf log capture (printed only on failure) ---- */

static char logbuf[256 * 1024];
static size_t loglen;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (loglen < sizeof logbuf - 1) {
		int n = vsnprintf(logbuf + loglen, sizeof logbuf - loglen, fmt, ap);

		if (n > 0)
			loglen += (size_t)n < sizeof logbuf - loglen ? (size_t)n
								      : sizeof logbuf - 1 - loglen;
	}
	return 0;
}

static void dump_log(const char *what, int err)
{
	fprintf(stderr, "\ntc: %s failed: %s (%d)\n", what, strerror(-err), err);
	if (loglen)
		fprintf(stderr, "---- libbpf / verifier log ----\n%s\n-------------------------------\n",
			logbuf);
}

static int read_whole(const char *path, void **out, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *buf = NULL;
	long n;
	int err = 0;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		err = -errno;
		goto out;
	}
	buf = malloc(n ? (size_t)n : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		err = ferror(f) ? -EIO : -ENODATA;
		free(buf);
		goto out;
	}
	*out = buf;
	*size = (size_t)n;
out:
	fclose(f);
	return err;
}

/* Sets a `const volatile` global of the object's .rodata before load, found
 * through BTF (DATASEC .rodata). */
static int set_rodata(struct bpf_object *obj, const char *var, const void *v, size_t vlen)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const char *name;
	int id;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	const struct btf_type *sec = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *t = btf__type_by_id(btf, vs->type);

		name = btf__name_by_offset(btf, t->name_off);
		if (!name || strcmp(name, var) != 0)
			continue;
		if (vs->size != vlen)
			return -EINVAL;
		bpf_object__for_each_map(map, obj) {
			size_t sz = 0;
			const void *cur;
			char *data;
			int err;

			if (!bpf_map__is_internal(map) || !strstr(bpf_map__name(map), ".rodata"))
				continue;
			/* libbpf 1.1 hands out a const view: copy, patch, set. */
			cur = bpf_map__initial_value(map, &sz);
			if (!cur || vs->offset + vlen > sz)
				return -EINVAL;
			data = malloc(sz);
			if (!data)
				return -ENOMEM;
			memcpy(data, cur, sz);
			memcpy(data + vs->offset, v, vlen);
			err = bpf_map__set_initial_value(map, data, sz);
			free(data);
			return err;
		}
		return -ENOENT;
	}
	return -ENOENT;
}

/* ---- the tc object ---- */

struct tcobj {
	void *bytes;
	size_t size;
	struct bpf_object *obj;
	int prog_fd, cfg_fd, cnt_fd, cache_fd, pend_fd;
};

static void tc_close(struct tcobj *t)
{
	bpf_object__close(t->obj);
	free(t->bytes);
	memset(t, 0, sizeof *t);
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

static int tc_load(struct tcobj *t)
{
	uint16_t port = TEST_PORT;
	libbpf_print_fn_t old;
	int err;

	memset(t, 0, sizeof *t);
	loglen = 0;
	logbuf[0] = '\0';
	old = libbpf_set_print(capture_print);
	err = read_whole(TC_OBJ, &t->bytes, &t->size);
	if (err) {
		fprintf(stderr, "\ntc: cannot read %s (`make %s` first): %s\n", TC_OBJ, TC_OBJ,
			strerror(-err));
		goto out;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "rvf_tc");
	t->obj = bpf_object__open_mem(t->bytes, t->size, &oopts);
	if (!t->obj) {
		err = -errno;
		dump_log("bpf_object__open_mem", err);
		goto out;
	}
	err = set_rodata(t->obj, "rvf_port", &port, sizeof port);
	if (err) {
		dump_log("setting .rodata rvf_port", err);
		goto out;
	}
	err = bpf_object__load(t->obj);
	if (err) {
		dump_log("bpf_object__load (verifier)", err);
		goto out;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(t->obj, "rvf_tc_egress");
	t->prog_fd = prog ? bpf_program__fd(prog) : -ENOENT;
	t->cfg_fd = map_fd(t->obj, "rvf_config");
	t->cnt_fd = map_fd(t->obj, "rvf_counters");
	t->cache_fd = map_fd(t->obj, "rvf_cache");
	t->pend_fd = map_fd(t->obj, "rvf_pending");
	if (t->prog_fd < 0 || t->cfg_fd < 0 || t->cnt_fd < 0 || t->cache_fd < 0 ||
	    t->pend_fd < 0) {
		err = -ENOENT;
		dump_log("finding program rvf_tc_egress / maps", err);
	}
out:
	libbpf_set_print(old);
	if (err)
		tc_close(t);
	return err;
}

/* The cache state the tests run in: digest key, generation. */
static const uint64_t KEY[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
static const uint64_t GEN = 41;

static int set_config_gen(int cfg_fd, uint32_t epoch, uint32_t cache_enabled, uint64_t gen)
{
	struct rvf_xdp_config c;
	uint32_t zero = 0;

	memset(&c, 0, sizeof c);
	c.epoch = epoch;
	c.cache_epoch = epoch;
	c.cache_gen = gen;
	c.qkey[0] = KEY[0];
	c.qkey[1] = KEY[1];
	c.cache_enabled = cache_enabled;
	c.dim = 64;
	return bpf_map_update_elem(cfg_fd, &zero, &c, BPF_ANY) ? -errno : 0;
}

static int set_config(int cfg_fd, uint32_t epoch, uint32_t cache_enabled)
{
	return set_config_gen(cfg_fd, epoch, cache_enabled, GEN);
}

static uint64_t counter(int cnt_fd, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals, sum = 0;

	if (ncpu <= 0)
		return UINT64_MAX;
	vals = calloc((size_t)ncpu, sizeof *vals);
	if (!vals)
		return UINT64_MAX;
	if (bpf_map_lookup_elem(cnt_fd, &slot, vals) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	else
		sum = UINT64_MAX;
	free(vals);
	return sum;
}

static int map_count(int fd, size_t keylen)
{
	uint8_t key[64], next[64];
	int n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		n++;
		memcpy(key, next, keylen);
		prev = key;
	}
	return n;
}

/* ---- frames ---- */

struct addrs {
	int v6;
	uint8_t src[16], dst[16]; /* v4: first 4 bytes */
	uint16_t sport, dport;    /* host order */
};

static void addrs_v4(struct addrs *a)
{
	memset(a, 0, sizeof *a);
	memcpy(a->src, (uint8_t[]){ 10, 0, 0, 1 }, 4); /* daemon */
	memcpy(a->dst, (uint8_t[]){ 10, 0, 0, 2 }, 4); /* client */
	a->sport = TEST_PORT;
	a->dport = CLIENT_PORT;
}

static void addrs_v6(struct addrs *a)
{
	memset(a, 0, sizeof *a);
	a->v6 = 1;
	inet_pton(AF_INET6, "fd00::1", a->src);
	inet_pton(AF_INET6, "fd00::2", a->dst);
	a->sport = TEST_PORT;
	a->dport = CLIENT_PORT;
}

/* The pending key XDP would have recorded for the client of `a`. */
static struct rvf_pending_key pkey(const struct addrs *a, uint32_t req_id)
{
	struct rvf_pending_key k;

	memset(&k, 0, sizeof k);
	if (a->v6) {
		memcpy(k.addr, a->dst, 16);
	} else {
		k.addr[10] = k.addr[11] = 0xff;
		memcpy(k.addr + 12, a->dst, 4);
	}
	k.port = htons(a->dport);
	k.req_id = req_id;
	return k;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* Ethernet + IPv4/IPv6 + UDP around `payload`; returns the frame length. */
static size_t make_frame(uint8_t *f, const struct addrs *a, const void *payload, size_t plen)
{
	static const uint8_t mac[12] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };
	size_t ulen = 8 + plen, l3 = a->v6 ? 40 : 20;
	uint8_t *ip = f + 14, *udp = ip + l3;
	uint32_t s;

	memcpy(f, mac, 12);
	f[12] = a->v6 ? 0x86 : 0x08;
	f[13] = a->v6 ? 0xdd : 0x00;
	memset(ip, 0, l3);
	if (a->v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(ulen >> 8);
		ip[5] = (uint8_t)ulen;
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, a->src, 16);
		memcpy(ip + 24, a->dst, 16);
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + ulen) >> 8);
		ip[3] = (uint8_t)(20 + ulen);
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, a->src, 4);
		memcpy(ip + 16, a->dst, 4);
		uint16_t c = csum_fold(csum_add(0, ip, 20));
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	udp[0] = (uint8_t)(a->sport >> 8);
	udp[1] = (uint8_t)a->sport;
	udp[2] = (uint8_t)(a->dport >> 8);
	udp[3] = (uint8_t)a->dport;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, payload, plen);
	/* UDP checksum over the pseudo header (mandatory for IPv6). */
	s = a->v6 ? csum_add(0, ip + 8, 32) : csum_add(0, ip + 12, 8);
	s += 17 + (uint32_t)ulen;
	s = csum_add(s, udp, ulen);
	uint16_t c = csum_fold(s);
	if (c == 0)
		c = 0xffff;
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	return 14 + l3 + ulen;
}

struct reply {
	struct rvf_wire_hdr h;
	struct rvf_wire_result r[RVF_WIRE_MAX_K];
} __attribute__((packed));

static const uint64_t QD0 = 0x0123456789abcdefull, QD1 = 0xfedcba9876543210ull;

/* A daemon reply with `count` results, ids 1000+i, ascending distances,
 * tagged (header tag + result 0's reserved) with `tag`. */
static size_t make_reply_tag(struct reply *rp, uint32_t req_id, uint32_t epoch, unsigned count,
			     uint64_t tag)
{
	memset(rp, 0, sizeof *rp);
	rp->h.magic = RVF_WIRE_MAGIC;
	rp->h.version = RVF_WIRE_VERSION;
	rp->h.op = RVF_OP_REPLY;
	rp->h.req_id = req_id;
	rp->h.dim = 64;
	rp->h.k = (uint16_t)count;
	rp->h.epoch = epoch;
	rp->h.status = RVF_ST_OK;
	rp->h.path = RVF_PATH_DAEMON;
	rp->h.count = (uint16_t)count;
	for (unsigned i = 0; i < count && i < RVF_WIRE_MAX_K; i++) {
		rp->r[i].id = 1000 + i;
		rp->r[i].dist = 0.5f * (float)(i + 1);
	}
	rp->h.tag = (uint32_t)tag;
	rp->r[0].reserved = (uint32_t)(tag >> 32);
	return HDR_LEN + (count > RVF_WIRE_MAX_K ? RVF_WIRE_MAX_K : count) * RES_LEN;
}

static size_t make_reply(struct reply *rp, uint32_t req_id, uint32_t epoch, unsigned count)
{
	return make_reply_tag(rp, req_id, epoch, count, QD0);
}

/* The cached results equal the reply's (ids and distances; the tag in
 * result 0's reserved is not stored). */
static int res_eq(const struct rvf_wire_result *a, const struct rvf_wire_result *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i].id != b[i].id || a[i].dist != b[i].dist || a[i].reserved != 0)
			return 0;
	return 1;
}

/* One test run: the program must return TC_ACT_UNSPEC and leave the frame as
 * it was. Returns 0, or -errno of the syscall (e.g. -EINVAL for frames
 * shorter than an Ethernet header, which test_run refuses). */
static int run_tc(const struct tcobj *t, const uint8_t *frame, size_t len)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof out, .repeat = 1);
	int err = bpf_prog_test_run_opts(t->prog_fd, &o);

	if (err)
		return -errno;
	CU_ASSERT_EQUAL(o.retval, (uint32_t)-1); /* TC_ACT_UNSPEC: the packet goes on to other filters */
	CU_ASSERT(o.data_size_out == len && memcmp(out, frame, len) == 0);
	return 0;
}

static int add_pending(const struct tcobj *t, const struct rvf_pending_key *k, uint32_t epoch,
		       uint32_t kk)
{
	struct rvf_pending_val v = { .qd = { QD0, QD1 }, .gen = GEN, .epoch = epoch, .k = kk };

	return bpf_map_update_elem(t->pend_fd, k, &v, BPF_ANY) ? -errno : 0;
}

static int has_pending(const struct tcobj *t, const struct rvf_pending_key *k)
{
	struct rvf_pending_val v;

	return bpf_map_lookup_elem(t->pend_fd, k, &v) == 0;
}

/* ---- tests ---- */

static void test_loads(void)
{
	struct tcobj t;
	struct bpf_prog_info info;
	uint32_t ilen = sizeof info;

	CU_ASSERT_EQUAL_FATAL(tc_load(&t), 0);
	memset(&info, 0, sizeof info);
	CU_ASSERT_EQUAL(bpf_obj_get_info_by_fd(t.prog_fd, &info, &ilen), 0);
	CU_ASSERT_EQUAL(info.type, BPF_PROG_TYPE_SCHED_CLS);
	CU_ASSERT(info.verified_insns > 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_SEEN), 0);
	CU_ASSERT_EQUAL(map_count(t.cache_fd, sizeof(struct rvf_cache_key)), 0);
	tc_close(&t);
}

/* A matching pending entry: the results land in the cache, the entry goes. */
static void check_caches(int v6)
{
	struct tcobj t;
	struct addrs a;
	struct reply rp;
	uint8_t frame[2048];
	size_t plen, flen;

	CU_ASSERT_EQUAL_FATAL(tc_load(&t), 0);
	v6 ? addrs_v6(&a) : addrs_v4(&a);
	struct rvf_pending_key pk = pkey(&a, 0xa1b2c3d4);
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 1), 0);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 5), 0);
	plen = make_reply(&rp, 0xa1b2c3d4, 7, 5);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);

	struct rvf_cache_key ck = { .qd = { QD0, QD1 }, .gen = GEN, .k = 5 };
	struct rvf_cache_val cv;
	memset(&cv, 0xee, sizeof cv);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(t.cache_fd, &ck, &cv), 0);
	CU_ASSERT_EQUAL(cv.count, 5);
	CU_ASSERT_EQUAL(cv.epoch, 7);
	CU_ASSERT(res_eq(cv.res, rp.r, 5));
	int zero_tail = 1;
	for (unsigned i = 5; i < RVF_WIRE_MAX_K; i++)
		if (cv.res[i].id || cv.res[i].dist != 0 || cv.res[i].reserved)
			zero_tail = 0;
	CU_ASSERT(zero_tail);
	CU_ASSERT_EQUAL(cv.res[4].id, 1004);
	CU_ASSERT_EQUAL(cv.res[4].dist, 2.5f);
	CU_ASSERT(!has_pending(&t, &pk));
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_SEEN), 1);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);
	CU_ASSERT_EQUAL(map_count(t.cache_fd, sizeof ck), 1);

	/* The same reply again: no pending entry any more, nothing new. */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_SEEN), 2);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);

	/* A reply with the maximum number of results. */
	pk.req_id = 77;
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, RVF_WIRE_MAX_K), 0);
	plen = make_reply(&rp, 77, 7, RVF_WIRE_MAX_K);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	ck.k = RVF_WIRE_MAX_K;
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(t.cache_fd, &ck, &cv), 0);
	CU_ASSERT_EQUAL(cv.count, RVF_WIRE_MAX_K);
	CU_ASSERT(res_eq(cv.res, rp.r, RVF_WIRE_MAX_K));
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 2);
	tc_close(&t);
}

static void test_caches_v4(void) { check_caches(0); }
static void test_caches_v6(void) { check_caches(1); }

/* Replies that must not be cached although they look close. */
static void check_not_cached(int v6)
{
	struct tcobj t;
	struct addrs a, b;
	struct reply rp;
	uint8_t frame[2048];
	size_t plen, flen;
	int cached = 0;

	CU_ASSERT_EQUAL_FATAL(tc_load(&t), 0);
	v6 ? addrs_v6(&a) : addrs_v4(&a);
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 1), 0);
	struct rvf_pending_key pk = pkey(&a, 42);

	/* no pending entry at all */
	plen = make_reply(&rp, 42, 7, 3);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);

	/* pending for another request id, client port, client address */
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	plen = make_reply(&rp, 43, 7, 3);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	b = a;
	b.dport = CLIENT_PORT + 1;
	plen = make_reply(&rp, 42, 7, 3);
	flen = make_frame(frame, &b, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	b = a;
	b.dst[v6 ? 15 : 3] ^= 1;
	flen = make_frame(frame, &b, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	/* from another source port (not the daemon) */
	b = a;
	b.sport = TEST_PORT + 1;
	flen = make_frame(frame, &b, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT(has_pending(&t, &pk)); /* none of those consumed it */

	/* header variants, each against a live pending entry */
	for (int v = 0; v < 9; v++) {
		CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
		plen = make_reply(&rp, 42, 7, 3);
		switch (v) {
		case 0: rp.h.magic ^= 1; break;
		case 1: rp.h.version = 2; break;
		case 2: rp.h.op = RVF_OP_QUERY; break;
		case 3: rp.h.status = RVF_ST_BUSY; break;
		case 4: rp.h.path = RVF_PATH_XDP; break;
		case 5: rp.h.path = RVF_PATH_CACHE; break;
		case 6: rp.h.count = 0; break;
		case 7: rp.h.count = RVF_WIRE_MAX_K + 1; break;
		case 8: rp.h.count = 2; break; /* short answer: count != k */
		}
		flen = make_frame(frame, &a, &rp, plen);
		CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	}
	CU_ASSERT_EQUAL(map_count(t.cache_fd, sizeof(struct rvf_cache_key)), 0);

	/* wrong epochs: reply vs pending vs config. The entry is consumed. */
	static const uint32_t ep[][3] = {
		/* reply, pending, config */
		{ 6, 7, 7 }, { 7, 6, 7 }, { 7, 7, 8 }, { 6, 6, 7 }, { 8, 7, 7 },
	};
	for (size_t i = 0; i < sizeof ep / sizeof ep[0]; i++) {
		CU_ASSERT_EQUAL(set_config(t.cfg_fd, ep[i][2], 1), 0);
		CU_ASSERT_EQUAL(add_pending(&t, &pk, ep[i][1], 3), 0);
		plen = make_reply(&rp, 42, ep[i][0], 3);
		flen = make_frame(frame, &a, &rp, plen);
		CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
		CU_ASSERT(!has_pending(&t, &pk));
	}
	/* the daemon moved to another store state (cache_gen bumped) after
	 * the query was passed: consumed, not cached */
	CU_ASSERT_EQUAL(set_config_gen(t.cfg_fd, 7, 1, GEN + 1), 0);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	plen = make_reply(&rp, 42, 7, 3);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT(!has_pending(&t, &pk));
	/* a reply to another query (tag differs in either half): not cached,
	 * and the entry stays for its own reply */
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 1), 0);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	uint64_t m0 = counter(t.cnt_fd, RVF_C_TC_MISMATCH);
	plen = make_reply_tag(&rp, 42, 7, 3, QD0 ^ 1);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	plen = make_reply_tag(&rp, 42, 7, 3, QD0 ^ (1ull << 63));
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	plen = make_reply_tag(&rp, 42, 7, 3, 0);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_MISMATCH), m0 + 3);
	CU_ASSERT(has_pending(&t, &pk));
	bpf_map_delete_elem(t.pend_fd, &pk);
	/* cache disabled in the config */
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 0), 0);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	plen = make_reply(&rp, 42, 7, 3);
	flen = make_frame(frame, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT(!has_pending(&t, &pk));

	cached = map_count(t.cache_fd, sizeof(struct rvf_cache_key));
	CU_ASSERT_EQUAL(cached, 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 0);

	/* ...and the control: the same entry and reply at the right epoch. */
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 1), 0);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);
	tc_close(&t);
}

static void test_not_cached_v4(void) { check_not_cached(0); }
static void test_not_cached_v6(void) { check_not_cached(1); }

/* Every truncation of a valid reply frame, (a) cut short with the IP/UDP
 * lengths still claiming the whole datagram, (b) rebuilt with consistent
 * IP/UDP lengths around a cut rvf payload: never cached, never dropped. */
static void check_truncations(int v6)
{
	struct tcobj t;
	struct addrs a;
	struct reply rp;
	uint8_t frame[2048], cut[2048];
	size_t plen, flen;
	unsigned einval = 0;

	CU_ASSERT_EQUAL_FATAL(tc_load(&t), 0);
	v6 ? addrs_v6(&a) : addrs_v4(&a);
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 1), 0);
	struct rvf_pending_key pk = pkey(&a, 42);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 4), 0);
	plen = make_reply(&rp, 42, 7, 4);
	flen = make_frame(frame, &a, &rp, plen);

	for (size_t len = 0; len < flen; len++) {
		memcpy(cut, frame, len);
		int err = run_tc(&t, cut, len);

		/* test_run refuses frames shorter than an Ethernet header
		 * and, for IP EtherTypes, than the fixed IP header: such
		 * frames never reach a tc hook either. */
		if (err == -EINVAL && len < 14 + (v6 ? 40u : 20u))
			einval++;
		else
			CU_ASSERT_EQUAL(err, 0);
	}
	CU_ASSERT(einval >= 14 && einval <= 14 + (v6 ? 40u : 20u));
	if (einval < 14 || einval > 14 + (v6 ? 40u : 20u))
		fprintf(stderr, "\ntc: %u truncated frames refused by test_run\n", einval);
	for (size_t len = 0; len < plen; len++) {
		size_t fl = make_frame(cut, &a, &rp, len);

		CU_ASSERT_EQUAL(run_tc(&t, cut, fl), 0);
	}
	CU_ASSERT_EQUAL(map_count(t.cache_fd, sizeof(struct rvf_cache_key)), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 0);
	CU_ASSERT(has_pending(&t, &pk));

	/* The whole frame (plus trailing padding) still works afterwards. */
	memcpy(cut, frame, flen);
	memset(cut + flen, 0, 16);
	CU_ASSERT_EQUAL(run_tc(&t, cut, flen + 16), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);
	CU_ASSERT(!has_pending(&t, &pk));
	tc_close(&t);
}

static void test_truncated_v4(void) { check_truncations(0); }
static void test_truncated_v6(void) { check_truncations(1); }

/* Non-rvf traffic passes untouched: ARP, IPv4 fragments, IPv6 with an
 * extension header, TCP. */
static void test_other_traffic(void)
{
	struct tcobj t;
	struct addrs a;
	struct reply rp;
	uint8_t frame[2048];
	size_t plen, flen;

	CU_ASSERT_EQUAL_FATAL(tc_load(&t), 0);
	addrs_v4(&a);
	CU_ASSERT_EQUAL(set_config(t.cfg_fd, 7, 1), 0);
	struct rvf_pending_key pk = pkey(&a, 42);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	plen = make_reply(&rp, 42, 7, 3);

	flen = make_frame(frame, &a, &rp, plen);
	frame[12] = 0x08, frame[13] = 0x06; /* ARP */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	flen = make_frame(frame, &a, &rp, plen);
	frame[14 + 6] |= 0x20; /* more fragments */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	flen = make_frame(frame, &a, &rp, plen);
	frame[14 + 6] = 0, frame[14 + 7] = 8; /* fragment offset 64 */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	flen = make_frame(frame, &a, &rp, plen);
	frame[14 + 9] = 6; /* TCP */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	flen = make_frame(frame, &a, &rp, plen);
	frame[14] = 0x44; /* ihl 4 */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_SEEN), 0);
	CU_ASSERT(has_pending(&t, &pk));

	addrs_v6(&a);
	pk = pkey(&a, 42);
	CU_ASSERT_EQUAL(add_pending(&t, &pk, 7, 3), 0);
	flen = make_frame(frame, &a, &rp, plen);
	frame[14 + 6] = 0; /* hop-by-hop options header instead of UDP */
	CU_ASSERT_EQUAL(run_tc(&t, frame, flen), 0);
	CU_ASSERT(has_pending(&t, &pk));
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_SEEN), 0);
	CU_ASSERT_EQUAL(map_count(t.cache_fd, sizeof(struct rvf_cache_key)), 0);
	tc_close(&t);
}

/* ---- the BMC round trip with the XDP query program ---- */

struct xdpobj {
	void *bytes;
	size_t size;
	struct bpf_object *obj;
	int prog_fd, cnt_fd;
};

static void xdp_close(struct xdpobj *x)
{
	bpf_object__close(x->obj);
	free(x->bytes);
	memset(x, 0, sizeof *x);
}

/* Loads the XDP object with its shared maps reusing the tc object's, as the
 * loader does. 1 = object not built (skip), 0 = loaded, <0 = failure. */
static int xdp_load(struct xdpobj *x, const struct tcobj *t)
{
	static const char *const shared[] = { "rvf_config", "rvf_counters", "rvf_cache",
					      "rvf_pending", "rvf_allow" };
	uint16_t port = TEST_PORT;
	libbpf_print_fn_t old;
	int err;

	memset(x, 0, sizeof *x);
	err = read_whole(XDP_OBJ, &x->bytes, &x->size);
	if (err == -ENOENT)
		return 1;
	if (err)
		return err;
	loglen = 0;
	logbuf[0] = '\0';
	old = libbpf_set_print(capture_print);
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "rvf_xdp");
	x->obj = bpf_object__open_mem(x->bytes, x->size, &oopts);
	if (!x->obj) {
		err = -errno;
		dump_log("bpf_object__open_mem(" XDP_OBJ ")", err);
		goto out;
	}
	err = set_rodata(x->obj, "rvf_port", &port, sizeof port);
	if (err) {
		dump_log("setting the XDP object's rvf_port", err);
		goto out;
	}
	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(x->obj, shared[i]);
		int fd = map_fd(t->obj, shared[i]);

		err = m && fd >= 0 ? bpf_map__reuse_fd(m, fd) : -ENOENT;
		if (err) {
			fprintf(stderr, "\ntc: sharing map %s: %s\n", shared[i], strerror(-err));
			goto out;
		}
	}
	err = bpf_object__load(x->obj);
	if (err) {
		dump_log("bpf_object__load(" XDP_OBJ ")", err);
		goto out;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(x->obj, "rvf_xdp");
	x->prog_fd = prog ? bpf_program__fd(prog) : -ENOENT;
	x->cnt_fd = map_fd(x->obj, "rvf_counters");
	if (x->prog_fd < 0 || x->cnt_fd < 0) {
		err = -ENOENT;
		dump_log("finding program rvf_xdp", err);
	}
out:
	libbpf_set_print(old);
	if (err)
		xdp_close(x);
	return err;
}

/* Config of the round trip: the scan budget (nvec > max_scan, no IVF) makes
 * XDP pass every query to the daemon unless the cache answers. */
static int set_xdp_config(int cfg_fd, uint32_t epoch)
{
	struct rvf_xdp_config c;
	uint32_t zero = 0;

	memset(&c, 0, sizeof c);
	c.epoch = epoch;
	c.dim = 64;
	c.nvec = 100;
	c.max_scan = 10;
	c.enabled = 1;
	c.cache_enabled = 1;
	/* as the loader does: every new store state gets a new generation */
	c.cache_gen = GEN + epoch;
	c.cache_epoch = epoch;
	c.qkey[0] = KEY[0];
	c.qkey[1] = KEY[1];
	return bpf_map_update_elem(cfg_fd, &zero, &c, BPF_ANY) ? -errno : 0;
}

/* Query vector number `seed` (64 f32). */
static void query_vec(float *vec, unsigned seed)
{
	for (int i = 0; i < 64; i++)
		vec[i] = 0.01f * (float)i - 0.3f + 0.125f * (float)seed;
}

/* The tag the daemon puts into its reply to query `vec` (rvf_qdigest). */
static uint64_t qtag(const float *vec, uint16_t flags)
{
	uint64_t qd[2];

	rvf_qdigest(KEY[0], KEY[1], 64, flags, 0, vec, qd);
	return qd[0];
}

/* The client's request frame for vector vec: client -> daemon port
 * (addresses of `a` reversed, since `a` describes the reply direction).
 * Built by hand (the client library refuses non-finite components). */
static size_t make_query_frame_v(uint8_t *f, const struct addrs *a, uint32_t req_id,
				 uint16_t flags, uint32_t k, const float *vec)
{
	uint8_t payload[1024];
	struct addrs q = *a;
	struct rvf_wire_hdr h;
	size_t n = HDR_LEN + (64 * 4 > 16 * k ? 64 * 4 : 16 * k);

	memset(payload, 0, sizeof payload);
	memset(&h, 0, sizeof h);
	h.magic = RVF_WIRE_MAGIC;
	h.version = RVF_WIRE_VERSION;
	h.op = RVF_OP_QUERY;
	h.flags = flags;
	h.req_id = req_id;
	h.dim = 64;
	h.k = (uint16_t)k;
	memcpy(payload, &h, sizeof h);
	memcpy(payload + HDR_LEN, vec, 64 * 4);
	memcpy(q.src, a->dst, 16);
	memcpy(q.dst, a->src, 16);
	q.sport = a->dport;
	q.dport = a->sport;
	return make_frame(f, &q, payload, n);
}

static size_t make_query_frame(uint8_t *f, const struct addrs *a, uint32_t req_id, uint16_t flags,
			       uint32_t k)
{
	uint8_t payload[1024];
	struct addrs q = *a;
	float vec[64];

	query_vec(vec, 0);
	ssize_t n = rvf_client_build(payload, sizeof payload, req_id, vec, 64, 0, k, flags);
	CU_ASSERT_FATAL(n > 0);
	memcpy(q.src, a->dst, 16);
	memcpy(q.dst, a->src, 16);
	q.sport = a->dport;
	q.dport = a->sport;
	return make_frame(f, &q, payload, (size_t)n);
}

struct xdp_out {
	uint32_t retval;
	uint8_t frame[2048];
	size_t len;
};

static int run_xdp(const struct xdpobj *x, const uint8_t *frame, size_t len, struct xdp_out *o)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = o->frame, .data_size_out = sizeof o->frame, .repeat = 1);
	int err = bpf_prog_test_run_opts(x->prog_fd, &topts);

	if (err) {
		err = -errno;
		fprintf(stderr, "\ntc: XDP test_run: %s\n", strerror(-err));
		return err;
	}
	o->retval = topts.retval;
	o->len = topts.data_size_out;
	return 0;
}

/* Checks an XDP_TX reply frame: addresses swapped back to the client,
 * lengths consistent, checksums valid, and decodes it with the client
 * library. */
static int check_tx_reply(const struct xdp_out *o, const struct addrs *a, uint32_t req_id,
			  uint32_t k, rvf_client_result *res)
{
	size_t l3 = a->v6 ? 40 : 20, l4 = 14 + l3;
	const uint8_t *ip = o->frame + 14, *udp = o->frame + l4;

	CU_ASSERT_EQUAL_FATAL(o->retval, XDP_TX);
	CU_ASSERT_FATAL(o->len >= l4 + 8);
	size_t ulen = (size_t)udp[4] << 8 | udp[5];
	CU_ASSERT_EQUAL(o->len, l4 + ulen);
	CU_ASSERT_EQUAL((unsigned)(udp[0] << 8 | udp[1]), a->sport); /* from the daemon port */
	CU_ASSERT_EQUAL((unsigned)(udp[2] << 8 | udp[3]), a->dport);
	if (a->v6) {
		CU_ASSERT(memcmp(ip + 8, a->src, 16) == 0);
		CU_ASSERT(memcmp(ip + 24, a->dst, 16) == 0);
		CU_ASSERT_EQUAL((size_t)(ip[4] << 8 | ip[5]), ulen);
		uint32_t s = csum_add(0, ip + 8, 32) + 17 + (uint32_t)ulen;
		CU_ASSERT_EQUAL(csum_fold(csum_add(s, udp, ulen)), 0); /* valid UDP checksum */
	} else {
		CU_ASSERT(memcmp(ip + 12, a->src, 4) == 0);
		CU_ASSERT(memcmp(ip + 16, a->dst, 4) == 0);
		CU_ASSERT_EQUAL((size_t)(ip[2] << 8 | ip[3]), 20 + ulen);
		CU_ASSERT_EQUAL(csum_fold(csum_add(0, ip, 20)), 0); /* valid IP checksum */
	}
	return rvf_client_parse_reply(udp + 8, ulen - 8, req_id, k, res);
}

static int pending_count(const struct tcobj *t)
{
	return map_count(t->pend_fd, sizeof(struct rvf_pending_key));
}

static void check_round_trip(int v6, uint16_t flags)
{
	struct tcobj t;
	struct xdpobj x;
	struct addrs a;
	struct reply rp;
	struct xdp_out o;
	rvf_client_result res;
	uint8_t qf[2048], rf[2048];
	size_t qlen, rlen, plen;
	const uint32_t K = 4;
	int err;

	CU_ASSERT_EQUAL_FATAL(tc_load(&t), 0);
	err = xdp_load(&x, &t);
	if (err == 1) {
		CU_PASS("build/bpf/rvf_xdp_d64.bpf.o not built yet: round trip skipped");
		fprintf(stderr, "\ntc: SKIP round trip: %s not built\n", XDP_OBJ);
		tc_close(&t);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(err, 0);
	v6 ? addrs_v6(&a) : addrs_v4(&a);
	CU_ASSERT_EQUAL(set_xdp_config(t.cfg_fd, 3), 0);

	/* 1. first query: passed to the daemon, pending entry recorded */
	qlen = make_query_frame(qf, &a, 100, flags, K);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(o.retval, XDP_PASS);
	struct rvf_pending_key pk = pkey(&a, 100);
	struct rvf_pending_val pv;
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(t.pend_fd, &pk, &pv), 0);
	CU_ASSERT_EQUAL(pv.epoch, 3);
	CU_ASSERT_EQUAL(pv.k, K);
	CU_ASSERT_EQUAL(pv.gen, GEN + 3);
	{ /* the kernel's SipHash equals rvf_qdigest() */
		float vq[64];
		uint64_t qd[2];

		query_vec(vq, 0);
		rvf_qdigest(KEY[0], KEY[1], 64, flags, 0, vq, qd);
		CU_ASSERT_EQUAL(pv.qd[0], qd[0]);
		CU_ASSERT_EQUAL(pv.qd[1], qd[1]);
	}
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_PASS_DAEMON), 1);

	/* 2. the daemon's reply leaves through tc: cached */
	float v0[64];
	query_vec(v0, 0);
	const uint64_t tag0 = qtag(v0, flags);
	plen = make_reply_tag(&rp, 100, 3, K, tag0);
	rlen = make_frame(rf, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, rf, rlen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);
	CU_ASSERT_EQUAL(pending_count(&t), 0);

	/* 3. the same query (another request id): answered by XDP from the cache */
	qlen = make_query_frame(qf, &a, 101, flags, K);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(check_tx_reply(&o, &a, 101, K, &res), 0);
	CU_ASSERT_EQUAL(res.status, RVF_ST_OK);
	CU_ASSERT_EQUAL(res.path, RVF_PATH_CACHE);
	CU_ASSERT_EQUAL(res.epoch, 3);
	CU_ASSERT_EQUAL(res.count, K);
	for (unsigned i = 0; i < K && i < res.count; i++) {
		CU_ASSERT_EQUAL(res.hits[i].id, rp.r[i].id);
		CU_ASSERT_EQUAL(res.hits[i].distance, rp.r[i].dist);
	}
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_CACHE_HIT), 1);
	CU_ASSERT_EQUAL(pending_count(&t), 0);

	/* a different query (k differs) is not answered from that entry */
	qlen = make_query_frame(qf, &a, 102, flags, K + 1);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(o.retval, XDP_PASS);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_CACHE_HIT), 1);

	/* 4. the store changes: epoch 4. The query goes to the daemon again. */
	CU_ASSERT_EQUAL(set_xdp_config(t.cfg_fd, 4), 0);
	qlen = make_query_frame(qf, &a, 103, flags, K);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(o.retval, XDP_PASS);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_CACHE_HIT), 1);
	pk = pkey(&a, 103);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(t.pend_fd, &pk, &pv), 0);
	CU_ASSERT_EQUAL(pv.epoch, 4);

	/* a reply computed at the old epoch (daemon not reloaded yet) must not
	 * be cached under either epoch */
	plen = make_reply_tag(&rp, 103, 3, K, tag0);
	rlen = make_frame(rf, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, rf, rlen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);
	qlen = make_query_frame(qf, &a, 104, flags, K);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(o.retval, XDP_PASS);

	/* the epoch-4 answer is cached and served, with the new results */
	plen = make_reply_tag(&rp, 104, 4, K, tag0);
	for (unsigned i = 0; i < K; i++)
		rp.r[i].id += 500;
	rlen = make_frame(rf, &a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(&t, rf, rlen), 0);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 2);
	qlen = make_query_frame(qf, &a, 105, flags, K);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(check_tx_reply(&o, &a, 105, K, &res), 0);
	CU_ASSERT_EQUAL(res.path, RVF_PATH_CACHE);
	CU_ASSERT_EQUAL(res.epoch, 4);
	CU_ASSERT_EQUAL(res.hits[0].id, 1500);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_CACHE_HIT), 2);

	/* NO_CACHE: passed, and no pending entry is recorded */
	int before = pending_count(&t);
	qlen = make_query_frame(qf, &a, 106, flags | RVF_WF_NO_CACHE, K);
	CU_ASSERT_EQUAL_FATAL(run_xdp(&x, qf, qlen, &o), 0);
	CU_ASSERT_EQUAL(o.retval, XDP_PASS);
	CU_ASSERT_EQUAL(pending_count(&t), before);

	xdp_close(&x);
	tc_close(&t);
}

/* Loads tc + XDP for the tests below; 1 = XDP object not built (skip). */
static int both_load(struct tcobj *t, struct xdpobj *x)
{
	if (tc_load(t)) {
		CU_FAIL("loading the tc object");
		return -1;
	}
	int err = xdp_load(x, t);
	if (err) {
		if (err == 1)
			fprintf(stderr, "\ntc: SKIP: %s not built\n", XDP_OBJ);
		else
			CU_FAIL("loading the XDP object");
		tc_close(t);
	}
	return err;
}

/* The daemon's reply to vec (ids base+i), through tc. */
static void daemon_reply(const struct tcobj *t, const struct addrs *a, uint32_t req_id,
			 uint32_t epoch, uint32_t k, const float *vec, uint16_t flags, uint64_t base)
{
	struct reply rp;
	uint8_t rf[2048];
	size_t plen = make_reply_tag(&rp, req_id, epoch, k, qtag(vec, flags));

	for (unsigned i = 0; i < k; i++)
		rp.r[i].id = base + i;
	size_t rlen = make_frame(rf, a, &rp, plen);
	CU_ASSERT_EQUAL(run_tc(t, rf, rlen), 0);
}

/* XDP's answer to vec: XDP_PASS (0) or the first id of a cache answer. */
static uint64_t xdp_answer(const struct xdpobj *x, const struct addrs *a, uint32_t req_id,
			   uint16_t flags, uint32_t k, const float *vec)
{
	uint8_t qf[2048];
	struct xdp_out o;
	rvf_client_result res;
	size_t qlen = make_query_frame_v(qf, a, req_id, flags, k, vec);

	CU_ASSERT_FATAL(run_xdp(x, qf, qlen, &o) == 0);
	if (o.retval == XDP_PASS)
		return 0;
	CU_ASSERT_EQUAL_FATAL(check_tx_reply(&o, a, req_id, k, &res), 0);
	CU_ASSERT_EQUAL(res.path, RVF_PATH_CACHE);
	return res.count ? res.hits[0].id : 0;
}

/* Issue 11: a client reuses a request id for two different daemon queries
 * (Q1, Q2 back to back, both passed up before the daemon answered). The
 * daemon's answer to Q1 must never be cached as the answer to Q2, whatever
 * order the replies leave in; a reply to a query that reached the daemon
 * without XDP recording it (NO_CACHE) does not match either. */
static void check_reqid_reuse(int v6, int q2_first)
{
	struct tcobj t;
	struct xdpobj x;
	struct addrs a;
	const uint32_t K = 4, RID = 500;
	const uint16_t F = RVF_WF_DAEMON;
	float q0[64], q1[64], q2[64];

	if (both_load(&t, &x))
		return;
	v6 ? addrs_v6(&a) : addrs_v4(&a);
	CU_ASSERT_EQUAL(set_xdp_config(t.cfg_fd, 3), 0);
	query_vec(q0, 10);
	query_vec(q1, 1);
	query_vec(q2, 2);

	/* Q0 (NO_CACHE: no pending entry), then Q1 and Q2, one request id */
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, RID, F | RVF_WF_NO_CACHE, K, q0), 0);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, RID, F, K, q1), 0);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, RID, F, K, q2), 0);
	/* the daemon answers Q0 (ids 3000..), then Q1 (1000..) and Q2 (2000..) */
	daemon_reply(&t, &a, RID, 3, K, q0, F | RVF_WF_NO_CACHE, 3000);
	if (q2_first) {
		daemon_reply(&t, &a, RID, 3, K, q2, F, 2000);
		daemon_reply(&t, &a, RID, 3, K, q1, F, 1000);
	} else {
		daemon_reply(&t, &a, RID, 3, K, q1, F, 1000);
		daemon_reply(&t, &a, RID, 3, K, q2, F, 2000);
	}
	/* every answer the cache gives is the right one: Q2 -> 2000, never
	 * 1000 or 3000; Q1 and Q0 are not cached (their entry was replaced) */
	uint64_t a2 = xdp_answer(&x, &a, 900, F, K, q2);
	CU_ASSERT(a2 == 0 || a2 == 2000);
	CU_ASSERT_EQUAL(a2, 2000); /* Q2's own reply matched its entry */
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 901, F, K, q1), 0);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 902, F, K, q0), 0);
	/* Q0's reply, and Q1's when it came before Q2's (after, the entry is
	 * gone), met Q2's entry with another tag */
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_MISMATCH), q2_first ? 1u : 2u);
	xdp_close(&x);
	tc_close(&t);
}

static void test_reqid_reuse_v4(void) { check_reqid_reuse(0, 0); }
static void test_reqid_reuse_v6(void) { check_reqid_reuse(1, 1); }

/* The old key, FNV-1a 64 over 32-bit words (dim | flags << 16, scale, query). */
static uint64_t fnv_step(uint64_t h, uint32_t w) { return (h ^ w) * 0x100000001b3ull; }
static uint64_t fnv_query(uint16_t flags, const uint32_t *w)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv_step(h, 64u | (uint32_t)(flags & 3u) << 16);
	h = fnv_step(h, 0);
	for (int i = 0; i < 64; i++)
		h = fnv_step(h, w[i]);
	return h;
}

/* Two different queries with the same 64-bit key under the old scheme,
 * constructed: they differ in words 62 and 63 only. After word 62 the FNV
 * state is A = x * P with x = h ^ w62, P = 2^40 + 0x1b3, so the top 32 bits
 * of A are (x mod 2^24) << 8 plus floor(x_lo * 0x1b3 / 2^32) plus a
 * constant: two x whose low 24 bits are equal or adjacent and whose top
 * bytes differ suitably give the same top half; word 63 then cancels the
 * low half (A ^ w63 equal). The answer cached for one must not be served
 * for the other. */
static void test_colliding_keys(void)
{
	struct tcobj t;
	struct xdpobj x;
	struct addrs a;
	const uint32_t K = 3;
	const uint16_t F = RVF_WF_DAEMON;
	uint32_t wa[64], wb[64];
	uint64_t h = 0xcbf29ce484222325ull;
	int found = 0;
	float fv[64];

	query_vec(fv, 3);
	memcpy(wa, fv, sizeof wa);
	h = fnv_step(h, 64u | (uint32_t)F << 16);
	h = fnv_step(h, 0);
	for (int i = 0; i < 62; i++)
		h = fnv_step(h, wa[i]);
	memcpy(wb, wa, sizeof wb);
	for (uint32_t L = 0x123456; L < 0x123456 + 64 && !found; L++)
		for (uint32_t d = 0; d < 2 && !found; d++)
			for (uint32_t ta = 0; ta < 256 && !found; ta++)
				for (uint32_t tb = 0; tb < 256 && !found; tb++) {
					uint32_t xa = ta << 24 | L, xb = tb << 24 | (L + d);
					uint32_t w62a = xa ^ (uint32_t)h, w62b = xb ^ (uint32_t)h;
					uint64_t A = fnv_step(h, w62a), B = fnv_step(h, w62b);
					if (w62a == w62b || (A >> 32) != (B >> 32))
						continue;
					wa[62] = w62a;
					wb[62] = w62b;
					wb[63] = wa[63] ^ (uint32_t)(A ^ B);
					found = 1;
				}
	CU_ASSERT_FATAL(found);
	CU_ASSERT_FATAL(memcmp(wa, wb, sizeof wa) != 0);
	CU_ASSERT_FATAL(fnv_query(F, wa) == fnv_query(F, wb)); /* the old keys collide */

	if (both_load(&t, &x))
		return;
	addrs_v4(&a);
	CU_ASSERT_EQUAL(set_xdp_config(t.cfg_fd, 3), 0);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 10, F, K, (float *)wa), 0);
	daemon_reply(&t, &a, 10, 3, K, (float *)wa, F, 1000);
	CU_ASSERT_EQUAL(counter(t.cnt_fd, RVF_C_TC_CACHED), 1);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 11, F, K, (float *)wa), 1000); /* its own: hit */
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 12, F, K, (float *)wb), 0);    /* the other: miss */
	daemon_reply(&t, &a, 12, 3, K, (float *)wb, F, 2000);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 13, F, K, (float *)wb), 2000);
	CU_ASSERT_EQUAL(xdp_answer(&x, &a, 14, F, K, (float *)wa), 1000);
	xdp_close(&x);
	tc_close(&t);
}

static void test_round_trip_v4(void) { check_round_trip(0, 0); }
static void test_round_trip_v6(void) { check_round_trip(1, 0); }
static void test_round_trip_daemon_flag(void) { check_round_trip(0, RVF_WF_DAEMON); }

RVF_SUITE(tc,
	  { "verifier accepts the tc egress program (SCHED_CLS)", test_loads },
	  { "IPv4 reply matching a pending entry is cached", test_caches_v4 },
	  { "IPv6 reply matching a pending entry is cached", test_caches_v6 },
	  { "IPv4: no cache without match, wrong epoch, bad header", test_not_cached_v4 },
	  { "IPv6: no cache without match, wrong epoch, bad header", test_not_cached_v6 },
	  { "IPv4: every truncation is ignored, TC_ACT_UNSPEC", test_truncated_v4 },
	  { "IPv6: every truncation is ignored, TC_ACT_UNSPEC", test_truncated_v6 },
	  { "non-rvf traffic passes untouched", test_other_traffic },
	  { "BMC round trip with XDP over IPv4 (pass, fill, hit, epoch bump)", test_round_trip_v4 },
	  { "BMC round trip with XDP over IPv6", test_round_trip_v6 },
	  { "BMC round trip for RVF_WF_DAEMON queries", test_round_trip_daemon_flag },
	  { "request id reused for two queries: never the other's answer (IPv4)", test_reqid_reuse_v4 },
	  { "request id reused, replies in the other order (IPv6)", test_reqid_reuse_v6 },
	  { "queries colliding under the old 64-bit key: each gets its own", test_colliding_keys })
