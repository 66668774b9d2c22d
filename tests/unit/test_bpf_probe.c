/* test_bpf_probe.c — suite "bpf_probe": the BPF tool chain works end to end.
 *
 * Loads build/bpf/probe.bpf.o for real through libbpf (from bytes in memory,
 * as the product loader loads objects stored in RVF files), so the kernel
 * verifier runs and CO-RE relocations are applied against the running
 * kernel's BTF. Then BPF_PROG_TEST_RUN feeds it frames and the per-CPU
 * counters are read back. Needs root (CAP_BPF) and a BTF kernel; tests run
 * from the repository root.
 */
#include "fileio.h"
#include "testreg.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROBE_OBJ /* overridable for testing the failure path */
#define PROBE_OBJ "build/bpf/probe.bpf.o"
#endif

/* Counter slots of bpf/probe.bpf.c. */
enum { PROBE_IPV4, PROBE_OTHER, PROBE_SHORT, PROBE_CORE_OK, PROBE_NCOUNTERS };

/* ---- libbpf log capture: kept quiet, printed only when something fails ---- */

static char logbuf[256 * 1024];
static size_t loglen;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG) /* like libbpf's default printer */
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
	fprintf(stderr, "\nbpf_probe: %s failed: %s (%d)\n", what, strerror(-err), err);
	if (loglen)
		fprintf(stderr, "---- libbpf / verifier log ----\n%s\n-------------------------------\n",
			logbuf);
}

/* ---- loading ---- */

struct probe {
	uint8_t *bytes;
	size_t size;
	struct bpf_object *obj;
	int prog_fd;
	int map_fd;
};

static void probe_close(struct probe *p)
{
	bpf_object__close(p->obj);
	free(p->bytes);
	memset(p, 0, sizeof *p);
	p->prog_fd = p->map_fd = -1;
}

/* Returns 0 or a negative errno; on failure prints why (with the verifier log). */
static int probe_load(struct probe *p)
{
	memset(p, 0, sizeof *p);
	p->prog_fd = p->map_fd = -1;
	loglen = 0;
	logbuf[0] = '\0';
	libbpf_print_fn_t old = libbpf_set_print(capture_print);
	int err = rvf_read_file(PROBE_OBJ, &p->bytes, &p->size);
	if (err) {
		fprintf(stderr, "\nbpf_probe: cannot read %s (run from the repo root after "
				"`make %s`): %s\n", PROBE_OBJ, PROBE_OBJ, strerror(-err));
		goto out;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "rvf_probe");
	p->obj = bpf_object__open_mem(p->bytes, p->size, &oopts);
	if (!p->obj) {
		err = -errno;
		dump_log("bpf_object__open_mem", err);
		goto out;
	}
	err = bpf_object__load(p->obj);
	if (err) {
		dump_log("bpf_object__load (verifier)", err);
		goto out;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(p->obj, "rvf_probe");
	struct bpf_map *map = bpf_object__find_map_by_name(p->obj, "probe_counters");
	if (!prog || !map) {
		err = -ENOENT;
		dump_log("finding program rvf_probe / map probe_counters", err);
		goto out;
	}
	p->prog_fd = bpf_program__fd(prog);
	p->map_fd = bpf_map__fd(map);
	if (p->prog_fd < 0 || p->map_fd < 0) {
		err = -EBADF;
		dump_log("getting program/map fds", err);
	}
out:
	libbpf_set_print(old);
	if (err)
		probe_close(p);
	return err;
}

/* Sum of one per-CPU counter slot over every possible CPU. */
static int counter(const struct probe *p, uint32_t slot, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	uint64_t *vals = calloc((size_t)ncpu, sizeof *vals);
	if (!vals)
		return -ENOMEM;
	int err = bpf_map_lookup_elem(p->map_fd, &slot, vals);
	if (err)
		err = -errno;
	*sum = 0;
	for (int i = 0; !err && i < ncpu; i++)
		*sum += vals[i];
	free(vals);
	return err;
}

/* ---- frames ---- */

static uint16_t ip_csum(const uint8_t *h, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 (ihl 5) + UDP 10.0.0.2:40000 -> 10.0.0.1:7777 + 16-byte payload. */
static size_t make_ipv4_udp(uint8_t *f)
{
	static const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00};
	const size_t payload = 16, udp_len = 8 + payload, ip_len = 20 + udp_len;
	uint8_t *ip = f + 14, *udp = ip + 20;
	memcpy(f, eth, sizeof eth);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64; /* ttl */
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, (uint8_t[]){10, 0, 0, 2}, 4);
	memcpy(ip + 16, (uint8_t[]){10, 0, 0, 1}, 4);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = 7777 >> 8;
	udp[3] = 7777 & 0xff;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	udp[6] = udp[7] = 0; /* no checksum (allowed for IPv4) */
	for (size_t i = 0; i < payload; i++)
		udp[8 + i] = (uint8_t)('a' + i);
	return 14 + ip_len;
}

/* Ethernet broadcast ARP request (EtherType 0x0806), padded to 60 bytes. */
static size_t make_arp(uint8_t *f)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0, 0, 0x02}, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, (uint8_t[]){0, 1, 8, 0, 6, 4, 0, 1}, 8);
	return 60;
}

/* One BPF_PROG_TEST_RUN; checks retval XDP_PASS and that the frame is unchanged. */
static int run_frame(const struct probe *p, const uint8_t *frame, size_t len, int repeat)
{
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof out, .repeat = repeat);
	int err = bpf_prog_test_run_opts(p->prog_fd, &topts);
	if (err) {
		err = -errno;
		fprintf(stderr, "\nbpf_probe: bpf_prog_test_run_opts: %s\n", strerror(-err));
		return err;
	}
	CU_ASSERT_EQUAL(topts.retval, XDP_PASS);
	CU_ASSERT_EQUAL(topts.data_size_out, len);
	CU_ASSERT(topts.data_size_out == len && memcmp(out, frame, len) == 0);
	return 0;
}

/* ---- tests ---- */

static void test_verifier_accepts(void)
{
	struct probe p;
	int err = probe_load(&p);
	CU_ASSERT_EQUAL_FATAL(err, 0);

	struct bpf_prog_info info;
	uint32_t ilen = sizeof info;
	memset(&info, 0, sizeof info);
	err = bpf_obj_get_info_by_fd(p.prog_fd, &info, &ilen);
	if (err)
		fprintf(stderr, "\nbpf_probe: bpf_obj_get_info_by_fd: %s\n", strerror(errno));
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_EQUAL(info.type, BPF_PROG_TYPE_XDP);
	CU_ASSERT(info.xlated_prog_len > 0);     /* the verifier produced a program */
	CU_ASSERT(info.verified_insns > 0);      /* ...after processing instructions */
	CU_ASSERT(info.jited_prog_len > 0);      /* JIT is always on here */

	/* Counters start at zero in a fresh load. */
	for (uint32_t s = 0; s < PROBE_NCOUNTERS; s++) {
		uint64_t v = 1;
		CU_ASSERT_EQUAL(counter(&p, s, &v), 0);
		CU_ASSERT_EQUAL(v, 0);
	}
	probe_close(&p);
}

static void test_counts_ipv4_and_other(void)
{
	struct probe p;
	CU_ASSERT_EQUAL_FATAL(probe_load(&p), 0);

	uint8_t ipv4[128], arp[64];
	size_t ipv4_len = make_ipv4_udp(ipv4), arp_len = make_arp(arp);
	CU_ASSERT_EQUAL(ipv4_len, 14 + 20 + 8 + 16);

	CU_ASSERT_EQUAL(run_frame(&p, ipv4, ipv4_len, 1), 0);
	CU_ASSERT_EQUAL(run_frame(&p, arp, arp_len, 1), 0);
	/* repeat=N runs the program N times on the same frame. */
	CU_ASSERT_EQUAL(run_frame(&p, ipv4, ipv4_len, 3), 0);

	uint64_t v4 = 0, other = 0, shrt = 0, core = 0;
	CU_ASSERT_EQUAL(counter(&p, PROBE_IPV4, &v4), 0);
	CU_ASSERT_EQUAL(counter(&p, PROBE_OTHER, &other), 0);
	CU_ASSERT_EQUAL(counter(&p, PROBE_SHORT, &shrt), 0);
	CU_ASSERT_EQUAL(counter(&p, PROBE_CORE_OK, &core), 0);
	CU_ASSERT_EQUAL(v4, 4);
	CU_ASSERT_EQUAL(other, 1);
	CU_ASSERT_EQUAL(shrt, 0);
	/* The CO-RE-guarded slot counts every run: relocation resolved the field. */
	CU_ASSERT_EQUAL(core, 5);
	probe_close(&p);
}

static void test_loads_twice_independently(void)
{
	/* Two loads from the same bytes get separate maps (no accidental pinning). */
	struct probe a, b;
	CU_ASSERT_EQUAL_FATAL(probe_load(&a), 0);
	if (probe_load(&b) != 0) {
		CU_FAIL("second load failed");
		probe_close(&a);
		return;
	}
	uint8_t arp[64];
	size_t arp_len = make_arp(arp);
	CU_ASSERT_EQUAL(run_frame(&a, arp, arp_len, 2), 0);
	uint64_t va = 0, vb = 0;
	CU_ASSERT_EQUAL(counter(&a, PROBE_OTHER, &va), 0);
	CU_ASSERT_EQUAL(counter(&b, PROBE_OTHER, &vb), 0);
	CU_ASSERT_EQUAL(va, 2);
	CU_ASSERT_EQUAL(vb, 0);
	probe_close(&b);
	probe_close(&a);
}

RVF_SUITE(bpf_probe,
	  {"verifier accepts the CO-RE XDP probe", test_verifier_accepts},
	  {"test_run counts IPv4 vs other frames, returns XDP_PASS", test_counts_ipv4_and_other},
	  {"two loads have independent maps", test_loads_twice_independently})
