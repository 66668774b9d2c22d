/* test_loader.c — suite "loader": the BPF loader (loader/).
 *
 *  - EBPF_SEG payload classification (ELF64 LE EM_BPF vs placeholder), with
 *    the corpus file ebpf_accelerator.rvf whose program is 0xBF filler;
 *  - a store carrying a placeholder XdpDistance segment followed by the
 *    real build/bpf/rvf_xdp_d64.bpf.o and rvf_tc.bpf.o: by default the
 *    loader ignores them (built-in objects only); with ebpf_from_store and
 *    the key of an `rvf sign` signature of the current state it skips the
 *    placeholder with a warning and loads both objects FROM THE STORE
 *    (bpf_dir points nowhere, so no fall-back is possible) through the
 *    verifier; unsigned, wrong-key and signed-then-changed stores are
 *    refused;
 *  - max_scan past the bpf_loop limit is refused; an IVF cluster above
 *    max_scan disables IVF (the daemon answers);
 *  - detach of an interface that does not exist fails with -ENODEV;
 *  - the maps after the fill equal quant8 computed here (config, rvf_quant,
 *    every rvf_vecs entry), brute force and IVF (k-means, rvf_coff);
 *  - BPF_PROG_TEST_RUN of a query frame returns the expected neighbour;
 *  - rvf_loader_sync after the store grew beyond rvf_vecs (object reload);
 *  - CIDR parsing of the allow-list.
 *
 * The loader parts need the loader linked in (RVF_LOADER, see the Makefile
 * rule) and root; without either they pass with a note.
 */
#include "testreg.h"
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../loader/rvf_elf.h"
#include "rvf.h"

static char *corpus(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/corpus/%s", rvf_test_shared_dir(), name);
	return p;
}

static void t_elf_classify(void)
{
	uint8_t b[128];
	memset(b, 0, sizeof b);
	memcpy(b, "\x7f" "ELF", 4);
	b[4] = 2;
	b[5] = 1;
	b[18] = RVF_EM_BPF;
	CU_ASSERT_EQUAL(rvf_elf_check(b, sizeof b), RVF_ELF_BPF);
	CU_ASSERT_EQUAL(rvf_elf_check(b, 0), RVF_ELF_EMPTY);
	CU_ASSERT_EQUAL(rvf_elf_check(b, 40), RVF_ELF_TRUNCATED);
	b[18] = 62; /* EM_X86_64 */
	CU_ASSERT_EQUAL(rvf_elf_check(b, sizeof b), RVF_ELF_WRONG_MACHINE);
	b[18] = RVF_EM_BPF;
	b[4] = 1; /* ELFCLASS32 */
	CU_ASSERT_EQUAL(rvf_elf_check(b, sizeof b), RVF_ELF_WRONG_CLASS);
	b[4] = 2;
	b[5] = 2; /* big-endian */
	CU_ASSERT_EQUAL(rvf_elf_check(b, sizeof b), RVF_ELF_WRONG_CLASS);
	b[5] = 1;
	/* Section table pointing outside the bytes. */
	b[40] = 0x70; /* shoff 112 */
	b[58] = 64;   /* shentsize */
	b[60] = 2;    /* shnum */
	CU_ASSERT_EQUAL(rvf_elf_check(b, sizeof b), RVF_ELF_TRUNCATED);
	memset(b, 0xBF, sizeof b);
	CU_ASSERT_EQUAL(rvf_elf_check(b, sizeof b), RVF_ELF_NOT_ELF);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_elf_kind_str(RVF_ELF_NOT_ELF), "placeholder payload"));
}

static void t_corpus_placeholder(void)
{
	rvf_store *s = NULL;
	int e = rvf_open(corpus("ebpf_accelerator.rvf"), RVF_OPEN_READONLY, &s);
	CU_ASSERT_EQUAL_FATAL(e, 0);
	CU_ASSERT_EQUAL_FATAL(rvf_ebpf_count(s), 1);
	rvf_ebpf eb;
	CU_ASSERT_EQUAL_FATAL(rvf_ebpf_get(s, 0, &eb), 0);
	CU_ASSERT_EQUAL(eb.program_type, 0);
	CU_ASSERT_EQUAL(eb.attach_type, 0);
	CU_ASSERT_EQUAL(eb.max_dimension, 384);
	CU_ASSERT_EQUAL(eb.program_size, 1024);
	CU_ASSERT_EQUAL(eb.btf_size, 256);
	CU_ASSERT_EQUAL(eb.program[0], 0xBF);
	CU_ASSERT_EQUAL(rvf_elf_check(eb.program, eb.program_size), RVF_ELF_NOT_ELF);
	rvf_close(s);
}

#ifdef RVF_LOADER
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../../loader/loader.h"
#include "quant8_xdp.h"
#include "rvf_wire.h"
#include "xdp_frames.h"

#define DIM 64
#define N0 200
#define N1 100
#define XDP_OBJ "build/bpf/rvf_xdp_d64.bpf.o"
#define TC_OBJ "build/bpf/rvf_tc.bpf.o"

static int can_load(void)
{
	char err[256];
	if (rvf_loader_probe(err, sizeof err)) {
		fprintf(stderr, "\nloader: skipped (%s)\n", err);
		return 0;
	}
	if (access(XDP_OBJ, R_OK) || access(TC_OBJ, R_OK)) {
		fprintf(stderr, "\nloader: skipped (%s / %s not built)\n", XDP_OBJ, TC_OBJ);
		return 0;
	}
	return 1;
}

static float *gen(uint32_t n, uint64_t seed)
{
	float *v = malloc((size_t)n * DIM * sizeof(float));
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < (size_t)n * DIM; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* clustered: 8 centres plus noise */
		float c = (float)((i / DIM) % 8) - 3.5f;
		v[i] = c * ((i % DIM) % 3 == 0 ? 1.f : -0.5f) + (float)((x >> 11) % 2001) / 1000.f - 1.f;
	}
	return v;
}

static char last_store[512]; /* path of the last make_store() */

/* A writable store with N0 vectors and, in order: a placeholder XDP
 * segment, the real XDP object, the real tc object. */
static rvf_store *make_store(const char *name)
{
	char path[512];
	rvf_store *s = NULL;
	snprintf(path, sizeof path, "%s/%s", rvf_test_tmpdir(), name);
	unlink(path);
	snprintf(last_store, sizeof last_store, "%s", path);
	rvf_create_opts co = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (rvf_create(path, &co, &s))
		return NULL;
	uint64_t ids[N0];
	for (int i = 0; i < N0; i++)
		ids[i] = 1000 + (uint64_t)i;
	float *v = gen(N0, 1);
	int e = rvf_ingest(s, ids, v, N0, NULL);
	free(v);
	uint8_t filler[1024];
	memset(filler, 0xBF, sizeof filler);
	rvf_ebpf ph = {.program_type = 0, .attach_type = 0, .max_dimension = DIM,
		       .program = filler, .program_size = sizeof filler};
	size_t xs = 0, ts = 0;
	uint8_t *xb = tu_slurp(XDP_OBJ, &xs), *tb = tu_slurp(TC_OBJ, &ts);
	rvf_ebpf xe = {.program_type = 0, .attach_type = 0, .max_dimension = DIM, .program = xb,
		       .program_size = xs};
	rvf_ebpf te = {.program_type = 1, .attach_type = 2, .max_dimension = DIM, .program = tb,
		       .program_size = ts};
	if (!e && xb && tb)
		e = rvf_embed_ebpf(s, &ph, NULL) || rvf_embed_ebpf(s, &xe, NULL) ||
		    rvf_embed_ebpf(s, &te, NULL);
	free(xb);
	free(tb);
	if (e || !xb || !tb) {
		rvf_close(s);
		return NULL;
	}
	return s;
}

static uint8_t sign_seed[32], sign_pub[32];

/* Signs the current state of s with a fresh key (sign_pub). */
static int sign_store(rvf_store *s)
{
	rvf_sign_result r;
	return rvf_keygen(sign_seed, sign_pub) || rvf_sign(s, sign_seed, &r) ? -1 : 0;
}

/* Loads the store's own objects: s must be signed with sign_pub. */
static rvf_loader *open_loader_path(rvf_store *s, const char *path, uint32_t max_scan)
{
	struct rvf_loader_opts o;
	char err[512] = "";
	rvf_loader *l = NULL;
	memset(&o, 0, sizeof o);
	o.bpf_dir = "/nonexistent-rvf-bpf-dir"; /* only the store's objects can load */
	o.max_scan = max_scan;
	o.ebpf_from_store = 1;
	o.trust_key = sign_pub;
	o.store_path = path;
	int e = rvf_loader_open(s, &o, &l, err, sizeof err);
	if (e) {
		fprintf(stderr, "\nrvf_loader_open: %s\n%s\n", err, rvf_loader_last_log());
		return NULL;
	}
	return l;
}

/* Signs the store (make_store's last one) and loads its own objects. */
static rvf_loader *open_loader(rvf_store *s, uint32_t max_scan)
{
	if (sign_store(s))
		return NULL;
	return open_loader_path(s, last_store, max_scan);
}

/* Expected rvf_vecs entry of live vector i. */
static void expect_entry(const quant8_params *p, rvf_store *s, uint64_t i, uint8_t *out)
{
	uint64_t id;
	const float *v;
	uint8_t u[DIM + 4];
	CU_ASSERT_EQUAL_FATAL(rvf_live_get(s, i, &id, &v), 0);
	CU_ASSERT_EQUAL_FATAL(quant8_quantize(p, v, u), 0);
	quant8_vec_entry(u, DIM, id, out);
}

static int params_of(rvf_store *s, quant8_params *p)
{
	uint64_t n = rvf_live_count(s);
	float *all = malloc(n * DIM * sizeof(float));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id;
		const float *v;
		rvf_live_get(s, i, &id, &v);
		memcpy(all + i * DIM, v, DIM * sizeof(float));
	}
	int e = quant8_params_init(p, all, n, DIM, RVF_METRIC_L2);
	free(all);
	return e;
}

/* Sends a query for live vector `which` through BPF_PROG_TEST_RUN; returns
 * the first result id (or UINT64_MAX) and its distance. */
static uint64_t run_query(rvf_loader *l, rvf_store *s, uint64_t which, float *dist, int *act)
{
	uint64_t id;
	const float *v;
	uint8_t pl[2048], frame[4096], out[4096];
	struct xf_opts fo;
	rvf_live_get(s, which, &id, &v);
	size_t plen = xf_rvf_query(pl, sizeof pl, 77, DIM, 4, 0, v, NULL, 0, 0);
	xf_defaults(&fo);
	size_t flen = xf_build(frame, sizeof frame, &fo, pl, plen);
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = (__u32)flen,
		    .data_out = out, .data_size_out = sizeof out, .repeat = 1);
	if (bpf_prog_test_run_opts(rvf_loader_xdp_prog_fd(l), &t))
		return UINT64_MAX;
	*act = (int)t.retval;
	struct xf_parsed ps;
	if (xf_parse(out, t.data_size_out, &ps) || ps.plen < RVF_WIRE_HDR_SIZE + RVF_WIRE_RESULT_SIZE)
		return UINT64_MAX;
	struct rvf_wire_hdr h;
	struct rvf_wire_result r;
	memcpy(&h, out + ps.payload, sizeof h);
	if (h.op != RVF_OP_REPLY || h.count == 0)
		return UINT64_MAX;
	memcpy(&r, out + ps.payload + RVF_WIRE_HDR_SIZE, sizeof r);
	*dist = r.dist;
	return r.id;
}

static void check_maps(rvf_loader *l, rvf_store *s, int ivf)
{
	quant8_params p;
	struct rvf_xdp_config c;
	struct rvf_xdp_quant q, qm;
	rvf_status st;
	__u32 k0 = 0;
	uint64_t n = rvf_live_count(s);
	uint32_t vsz = RVF_XDP_VEC_SIZE(DIM);

	CU_ASSERT_EQUAL_FATAL(params_of(s, &p), 0);
	CU_ASSERT_EQUAL_FATAL(rvf_get_status(s, &st), 0);
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c), 0);
	struct rvf_xdp_slot sp; /* the live object's parameter slot */
	CU_ASSERT_EQUAL_FATAL(rvf_loader_params(l, &sp), 0);
	CU_ASSERT_EQUAL(sp.nvec, n);
	CU_ASSERT_EQUAL(sp.epoch, st.epoch);
	CU_ASSERT_EQUAL(sp.dim, DIM);
	CU_ASSERT_EQUAL(sp.metric, RVF_METRIC_L2);
	CU_ASSERT_EQUAL(c.enabled, 1);
	CU_ASSERT_EQUAL(c.cache_enabled, 1);
	CU_ASSERT_EQUAL(c.cache_epoch, st.epoch);
	CU_ASSERT(sp.scale == p.scale);
	CU_ASSERT_EQUAL(sp.ncentroids != 0, ivf);
	memset(&q, 0, sizeof q);
	CU_ASSERT_EQUAL(quant8_fill_xdp(&p, &q), 0);
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_quant"), &k0, &qm), 0);
	CU_ASSERT(memcmp(&q, &qm, sizeof q) == 0);

	int vfd = rvf_loader_map_fd(l, "rvf_vecs");
	uint8_t *got = malloc(vsz), *want = malloc(vsz);
	int *seen = calloc(n, sizeof *seen);
	uint32_t coff[RVF_XDP_MAX_CENTROIDS + 1];
	if (ivf) {
		int cfd = rvf_loader_map_fd(l, "rvf_coff");
		for (__u32 i = 0; i <= sp.ncentroids; i++)
			CU_ASSERT_EQUAL(bpf_map_lookup_elem(cfd, &i, &coff[i]), 0);
		CU_ASSERT_EQUAL(coff[0], 0);
		CU_ASSERT_EQUAL(coff[sp.ncentroids], n);
		for (__u32 i = 0; i < sp.ncentroids; i++)
			CU_ASSERT(coff[i] < coff[i + 1]); /* no empty cluster */
		int cefd = rvf_loader_map_fd(l, "rvf_cents");
		for (__u32 i = 0; i < sp.ncentroids; i++) {
			CU_ASSERT_EQUAL(bpf_map_lookup_elem(cefd, &i, got), 0);
			CU_ASSERT_EQUAL(((struct rvf_xdp_vec_hdr *)got)->id, i);
		}
	}
	/* Every slot holds the quant8 entry of one live vector, each exactly once. */
	for (__u32 j = 0; j < n; j++) {
		CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(vfd, &j, got), 0);
		uint64_t id = ((struct rvf_xdp_vec_hdr *)got)->id;
		uint64_t i = ivf ? n : j;
		if (ivf) { /* find the live index of this id */
			for (uint64_t t = 0; t < n; t++) {
				uint64_t tid;
				const float *v;
				rvf_live_get(s, t, &tid, &v);
				if (tid == id) {
					i = t;
					break;
				}
			}
		}
		CU_ASSERT_FATAL(i < n);
		seen[i]++;
		expect_entry(&p, s, i, want);
		CU_ASSERT(memcmp(got, want, vsz) == 0);
	}
	for (uint64_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(seen[i], 1);
	free(seen);
	free(got);
	free(want);
	quant8_params_free(&p);
}

static void t_store_objects(void)
{
	if (!can_load())
		return;
	rvf_store *s = make_store("objs.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(rvf_ebpf_count(s), 3);
	rvf_loader *l = open_loader(s, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(rvf_loader_xdp_source(l), RVF_OBJ_STORE);
	CU_ASSERT_EQUAL(rvf_loader_tc_source(l), RVF_OBJ_STORE);
	CU_ASSERT(rvf_loader_xdp_prog_fd(l) >= 0);
	CU_ASSERT(rvf_loader_tc_prog_fd(l) >= 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_loader_warnings(l), "EBPF_SEG #0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_loader_warnings(l), "placeholder payload, not a BPF object"));
	/* The tc object shares the XDP object's maps. */
	struct bpf_map_info a, b;
	__u32 la = sizeof a, lb = sizeof b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	struct bpf_prog_info pi;
	__u32 lp = sizeof pi;
	memset(&pi, 0, sizeof pi);
	__u32 ids[16];
	pi.nr_map_ids = 16;
	pi.map_ids = (__u64)(unsigned long)ids;
	CU_ASSERT_EQUAL(bpf_obj_get_info_by_fd(rvf_loader_tc_prog_fd(l), &pi, &lp), 0);
	CU_ASSERT_EQUAL(bpf_obj_get_info_by_fd(rvf_loader_map_fd(l, "rvf_config"), &a, &la), 0);
	int shared = 0;
	for (__u32 i = 0; i < pi.nr_map_ids && i < 16; i++)
		shared |= ids[i] == a.id;
	CU_ASSERT(shared);
	(void)b;
	(void)lb;
	check_maps(l, s, 0);
	float d = -1;
	int act = -1;
	uint64_t lid;
	const float *v;
	rvf_live_get(s, 17, &lid, &v);
	CU_ASSERT_EQUAL(run_query(l, s, 17, &d, &act), lid);
	CU_ASSERT_EQUAL(act, XDP_TX);
	CU_ASSERT(d == 0.0f);
	rvf_loader_close(l);
	rvf_close(s);
}

static void t_placeholder_fallback(void)
{
	if (!can_load())
		return;
	rvf_store *s = NULL;
	CU_ASSERT_EQUAL_FATAL(rvf_open(corpus("ebpf_accelerator.rvf"), RVF_OPEN_READONLY, &s), 0);
	if (rvf_dimension(s) != 384 || access("build/bpf/rvf_xdp_d384.bpf.o", R_OK)) {
		rvf_close(s);
		return;
	}
	struct rvf_loader_opts o;
	char err[512] = "";
	rvf_loader *l = NULL;
	memset(&o, 0, sizeof o);
	o.bpf_dir = "build/bpf";
	o.no_tc = 1;
	int e = rvf_loader_open(s, &o, &l, err, sizeof err);
	if (e)
		fprintf(stderr, "\n%s\n%s\n", err, rvf_loader_last_log());
	CU_ASSERT_EQUAL_FATAL(e, 0);
	CU_ASSERT_EQUAL(rvf_loader_xdp_source(l), RVF_OBJ_BUILTIN);
	/* Unsigned store: its segment is not even looked at. */
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_loader_warnings(l), "carries 1 EBPF_SEG(s): not loaded"));
	CU_ASSERT_PTR_NULL(strstr(rvf_loader_warnings(l), "placeholder payload"));
	rvf_loader_close(l);
	/* Without built-in objects the load fails with a clear message. */
	o.bpf_dir = "/nonexistent-rvf-bpf-dir";
	e = rvf_loader_open(s, &o, &l, err, sizeof err);
	CU_ASSERT(e < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no usable XDP program"));
	rvf_close(s);
}

static void t_ivf(void)
{
	if (!can_load())
		return;
	rvf_store *s = make_store("ivf.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	rvf_loader *l = open_loader(s, 50); /* 200 > 50: IVF */
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	check_maps(l, s, 1);
	float d = -1;
	int act = -1;
	uint64_t lid;
	const float *v;
	rvf_live_get(s, 123, &lid, &v);
	CU_ASSERT_EQUAL(run_query(l, s, 123, &d, &act), lid); /* its own cluster is probed */
	CU_ASSERT_EQUAL(act, XDP_TX);
	rvf_loader_close(l);
	rvf_close(s);
}

static void t_sync_grow(void)
{
	if (!can_load())
		return;
	rvf_store *s = make_store("grow.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	rvf_loader *l = open_loader(s, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	struct rvf_xdp_config c0, c1;
	__u32 k0 = 0;
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c0), 0);
	int cfg_fd_before = rvf_loader_map_fd(l, "rvf_config");
	struct bpf_map_info a, b;
	__u32 la = sizeof a, lb = sizeof b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	bpf_obj_get_info_by_fd(cfg_fd_before, &a, &la);

	uint64_t ids[N1];
	for (int i = 0; i < N1; i++)
		ids[i] = 5000 + (uint64_t)i;
	float *v = gen(N1, 2);
	CU_ASSERT_EQUAL_FATAL(rvf_ingest(s, ids, v, N1, NULL), 0);
	free(v);
	char err[512] = "";
	int e = rvf_loader_sync(l, s, err, sizeof err);
	if (e)
		fprintf(stderr, "\nsync: %s\n%s\n", err, rvf_loader_last_log());
	CU_ASSERT_EQUAL_FATAL(e, 0);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c1), 0);
	struct rvf_xdp_slot p1;
	CU_ASSERT_EQUAL(rvf_loader_params(l, &p1), 0);
	CU_ASSERT_EQUAL(p1.nvec, N0 + N1);
	CU_ASSERT(p1.epoch > c0.epoch);
	CU_ASSERT_EQUAL(c1.active_slot, 1); /* built beside: the other slot */
	CU_ASSERT(c1.cache_gen > c0.cache_gen);
	/* Same shared config map after the reload, bigger rvf_vecs. */
	bpf_obj_get_info_by_fd(rvf_loader_map_fd(l, "rvf_config"), &b, &lb);
	CU_ASSERT_EQUAL(a.id, b.id);
	memset(&b, 0, sizeof b);
	lb = sizeof b;
	bpf_obj_get_info_by_fd(rvf_loader_map_fd(l, "rvf_vecs"), &b, &lb);
	CU_ASSERT_EQUAL(b.max_entries, N0 + N1);
	check_maps(l, s, 0);
	float d = -1;
	int act = -1;
	uint64_t lid;
	const float *vv;
	rvf_live_get(s, N0 + 42, &lid, &vv);
	CU_ASSERT_EQUAL(run_query(l, s, N0 + 42, &d, &act), lid);
	CU_ASSERT(d == 0.0f);
	/* Delete: shrinks nvec without a reload. */
	rvf_delete_result dr;
	CU_ASSERT_EQUAL(rvf_delete(s, ids, 10, &dr), 0);
	CU_ASSERT_EQUAL(rvf_loader_sync(l, s, err, sizeof err), 0);
	check_maps(l, s, 0);
	rvf_loader_close(l);
	rvf_close(s);
}

/* The store's programs load only with ebpf_from_store and a trusted key
 * whose signature covers the current state; the default is built-in only. */
static void t_store_objects_need_signature(void)
{
	if (!can_load())
		return;
	rvf_store *s = make_store("trust.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	struct rvf_loader_opts o;
	char err[512] = "";
	rvf_loader *l = NULL;
	uint8_t seed1[32], pub1[32], seed2[32], pub2[32];
	rvf_sign_result r;
	CU_ASSERT_EQUAL_FATAL(rvf_keygen(seed1, pub1), 0);
	CU_ASSERT_EQUAL_FATAL(rvf_keygen(seed2, pub2), 0);

	memset(&o, 0, sizeof o);
	o.bpf_dir = "build/bpf";
	CU_ASSERT_EQUAL_FATAL(rvf_loader_open(s, &o, &l, err, sizeof err), 0);
	CU_ASSERT_EQUAL(rvf_loader_xdp_source(l), RVF_OBJ_BUILTIN);
	CU_ASSERT_EQUAL(rvf_loader_tc_source(l), RVF_OBJ_BUILTIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_loader_warnings(l), "carries 3 EBPF_SEG(s): not loaded"));
	rvf_loader_close(l);
	l = NULL;
	/* No built-in objects: an error, never the store's programs. */
	o.bpf_dir = "/nonexistent-rvf-bpf-dir";
	CU_ASSERT_EQUAL(rvf_loader_open(s, &o, &l, err, sizeof err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no usable XDP program: built-in"));

	o.ebpf_from_store = 1;
	o.store_path = last_store;
	CU_ASSERT_EQUAL(rvf_loader_open(s, &o, &l, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "trusted public key"));
	o.trust_key = pub1;
	CU_ASSERT_EQUAL(rvf_loader_open(s, &o, &l, err, sizeof err), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "signature unsigned"));
	CU_ASSERT_EQUAL_FATAL(rvf_sign(s, seed2, &r), 0);
	CU_ASSERT_EQUAL(rvf_loader_open(s, &o, &l, err, sizeof err), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "signature wrong_key"));
	CU_ASSERT_EQUAL_FATAL(rvf_sign(s, seed1, &r), 0);
	int e = rvf_loader_open(s, &o, &l, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(e, 0);
	CU_ASSERT_EQUAL(rvf_loader_xdp_source(l), RVF_OBJ_STORE);
	CU_ASSERT_EQUAL(rvf_loader_tc_source(l), RVF_OBJ_STORE);
	rvf_loader_close(l);
	l = NULL;
	/* A commit after the signature (e.g. an appended EBPF_SEG): refused. */
	uint64_t id = 99999;
	float *v = gen(1, 5);
	CU_ASSERT_EQUAL_FATAL(rvf_ingest(s, &id, v, 1, NULL), 0);
	free(v);
	CU_ASSERT_EQUAL(rvf_loader_open(s, &o, &l, err, sizeof err), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "signature state_changed"));
	CU_ASSERT_PTR_NULL(l);
	rvf_close(s);
}

static void t_limits(void)
{
	if (!can_load())
		return;
	rvf_store *s = make_store("limits.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	struct rvf_loader_opts o;
	char err[512] = "";
	rvf_loader *l = NULL;
	memset(&o, 0, sizeof o);
	o.bpf_dir = "build/bpf";
	o.max_scan = RVF_LOADER_MAX_SCAN + 1;
	CU_ASSERT_EQUAL(rvf_loader_open(s, &o, &l, err, sizeof err), -ERANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bpf_loop limit"));
	CU_ASSERT_PTR_NULL(l);
	/* One cluster of all 200 vectors > max_scan 50: no IVF, XDP passes. */
	o.max_scan = 50;
	o.ncentroids = 1;
	CU_ASSERT_EQUAL_FATAL(rvf_loader_open(s, &o, &l, err, sizeof err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_loader_warnings(l), "IVF cluster 0 holds 200 vectors, more than max_scan 50"));
	struct rvf_xdp_config c;
	__u32 k0 = 0;
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c), 0);
	CU_ASSERT_EQUAL(c.ncentroids, 0);
	float d = -1;
	int act = -1;
	CU_ASSERT_EQUAL(run_query(l, s, 3, &d, &act), UINT64_MAX);
	CU_ASSERT_EQUAL(act, XDP_PASS);
	rvf_loader_close(l);
	l = NULL;
	/* Clusters within the cap keep IVF. */
	o.ncentroids = 16;
	CU_ASSERT_EQUAL_FATAL(rvf_loader_open(s, &o, &l, err, sizeof err), 0);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c), 0);
	CU_ASSERT(c.ncentroids > 1);
	CU_ASSERT_PTR_NULL(strstr(rvf_loader_warnings(l), "IVF cluster"));
	rvf_loader_close(l);
	rvf_close(s);
}

static void t_detach_missing(void)
{
	char err[512] = "";
	CU_ASSERT_EQUAL(rvf_loader_detach("rvfnosuch0", NULL, err, sizeof err), -ENODEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "interface rvfnosuch0 does not exist"));
}

/* Plants one cache entry (at the current cache_gen) and one pending entry. */
static void plant_cache(rvf_loader *l)
{
	struct rvf_xdp_config c;
	struct rvf_cache_key ck;
	struct rvf_cache_val *cv = calloc(1, sizeof *cv);
	struct rvf_pending_key pk;
	struct rvf_pending_val pv;
	__u32 k0 = 0;

	CU_ASSERT_FATAL(cv != NULL);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c), 0);
	memset(&ck, 0, sizeof ck);
	ck.qd[0] = 1;
	ck.gen = c.cache_gen;
	ck.k = 1;
	cv->count = 1;
	cv->epoch = c.cache_epoch;
	CU_ASSERT_EQUAL(bpf_map_update_elem(rvf_loader_map_fd(l, "rvf_cache"), &ck, cv, BPF_ANY), 0);
	memset(&pk, 0, sizeof pk);
	memset(&pv, 0, sizeof pv);
	pk.req_id = 9;
	pv.gen = c.cache_gen;
	pv.epoch = c.cache_epoch;
	CU_ASSERT_EQUAL(bpf_map_update_elem(rvf_loader_map_fd(l, "rvf_pending"), &pk, &pv, BPF_ANY), 0);
	free(cv);
}

static int nkeys(rvf_loader *l, const char *map, size_t ksz)
{
	uint8_t k[64], nk[64];
	int fd = rvf_loader_map_fd(l, map), n = 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		n++;
		memcpy(k, nk, ksz);
		prev = k;
	}
	return n;
}

static struct rvf_xdp_config config_of(rvf_loader *l)
{
	struct rvf_xdp_config c;
	__u32 k0 = 0;
	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(rvf_loader_map_fd(l, "rvf_config"), &k0, &c), 0);
	return c;
}

/* Issue 11: the cache is bound to the store state. A file replaced by
 * another one (other file_id) at the SAME epoch, another metric, another
 * dimension: the cache and pending maps are emptied and cache_gen moves;
 * another dimension leaves XDP disabled (never answered from the old
 * maps). A plain resync of the same state still moves cache_gen. */
static void t_sync_identity(void)
{
	if (!can_load())
		return;
	/* both signed once (open_loader signs a, the last store made), so
	 * both are at the same epoch */
	rvf_store *b = make_store("idb.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL_FATAL(sign_store(b), 0);
	rvf_store *a = make_store("ida.rvf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	rvf_loader *l = open_loader(a, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	rvf_status sa, sb;
	CU_ASSERT_EQUAL(rvf_get_status(a, &sa), 0);
	CU_ASSERT_EQUAL(rvf_get_status(b, &sb), 0);
	CU_ASSERT_EQUAL_FATAL(sa.epoch, sb.epoch); /* the case that fooled (qhash, epoch, k) */
	char err[512] = "";
	uint64_t key[2];
	rvf_loader_cache_key(l, key);
	struct rvf_xdp_config c0 = config_of(l), c1;
	CU_ASSERT(key[0] != 0 || key[1] != 0);
	CU_ASSERT(c0.qkey[0] == key[0] && c0.qkey[1] == key[1]);
	CU_ASSERT_EQUAL(c0.cache_epoch, sa.epoch);
	CU_ASSERT(c0.cache_gen > 0);

	/* same state again: new generation, entries of the old one unreachable */
	plant_cache(l);
	CU_ASSERT_EQUAL(rvf_loader_sync(l, a, err, sizeof err), 0);
	c1 = config_of(l);
	CU_ASSERT(c1.cache_gen > c0.cache_gen);
	CU_ASSERT_EQUAL(c1.enabled, 1);

	/* another file at the same epoch */
	plant_cache(l);
	CU_ASSERT_EQUAL(rvf_loader_sync(l, b, err, sizeof err), 0);
	c0 = c1;
	c1 = config_of(l);
	CU_ASSERT(c1.cache_gen > c0.cache_gen);
	CU_ASSERT_EQUAL(nkeys(l, "rvf_cache", sizeof(struct rvf_cache_key)), 0);
	CU_ASSERT_EQUAL(nkeys(l, "rvf_pending", sizeof(struct rvf_pending_key)), 0);
	CU_ASSERT_EQUAL(c1.enabled, 1);

	/* another metric, same dimension */
	char path[512];
	rvf_store *cs = NULL, *ds = NULL;
	snprintf(path, sizeof path, "%s/idc.rvf", rvf_test_tmpdir());
	unlink(path);
	rvf_create_opts co = {.dimension = DIM, .metric = RVF_METRIC_COSINE};
	CU_ASSERT_EQUAL_FATAL(rvf_create(path, &co, &cs), 0);
	uint64_t ids[N1];
	for (int i = 0; i < N1; i++)
		ids[i] = 7000 + (uint64_t)i;
	float *v = gen(N1, 3);
	CU_ASSERT_EQUAL_FATAL(rvf_ingest(cs, ids, v, N1, NULL), 0);
	free(v);
	plant_cache(l);
	CU_ASSERT_EQUAL(rvf_loader_sync(l, cs, err, sizeof err), 0);
	c0 = c1;
	c1 = config_of(l);
	CU_ASSERT(c1.cache_gen > c0.cache_gen);
	struct rvf_xdp_slot pc;
	CU_ASSERT_EQUAL(rvf_loader_params(l, &pc), 0);
	CU_ASSERT_EQUAL(pc.metric, RVF_METRIC_COSINE);
	CU_ASSERT_EQUAL(nkeys(l, "rvf_cache", sizeof(struct rvf_cache_key)), 0);

	/* another dimension: refused, XDP left disabled, cache emptied */
	snprintf(path, sizeof path, "%s/idd.rvf", rvf_test_tmpdir());
	unlink(path);
	rvf_create_opts cd = {.dimension = 2 * DIM, .metric = RVF_METRIC_L2};
	CU_ASSERT_EQUAL_FATAL(rvf_create(path, &cd, &ds), 0);
	plant_cache(l);
	CU_ASSERT_EQUAL(rvf_loader_sync(l, ds, err, sizeof err), -EXDEV);
	c0 = c1;
	c1 = config_of(l);
	CU_ASSERT_EQUAL(c1.enabled, 0);
	CU_ASSERT(c1.cache_gen > c0.cache_gen);
	CU_ASSERT_EQUAL(nkeys(l, "rvf_cache", sizeof(struct rvf_cache_key)), 0);
	CU_ASSERT_EQUAL(nkeys(l, "rvf_pending", sizeof(struct rvf_pending_key)), 0);
	rvf_loader_close(l);
	rvf_close(a);
	rvf_close(b);
	rvf_close(cs);
	rvf_close(ds);
}

/* Issue 11 B: the next map set is built beside the live one and switched
 * atomically. While the stage is built (here: after an ingest, with IVF)
 * the live program keeps answering from the old maps, unchanged; appended
 * vectors join the existing clusters (no k-means); publish switches the
 * parameter slot and the program at once; a stage of another file is
 * refused (-ESTALE) after the daemon adopted a different one. */
static void t_stage(void)
{
	if (!can_load())
		return;
	rvf_store *o = make_store("stage_other.rvf"), *s = make_store("stage.rvf"); /* s last: open_loader loads it */
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	/* IVF (300 > 150), k-means at open; clusters small enough that the
	 * appended vectors can join them within max_scan */
	rvf_loader *l = open_loader(s, 150);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	char err[512] = "";
	struct rvf_xdp_slot p0, p1;
	CU_ASSERT_EQUAL_FATAL(rvf_loader_params(l, &p0), 0);
	int prog0 = rvf_loader_xdp_prog_fd(l);

	uint64_t ids[N1];
	for (int i = 0; i < N1; i++)
		ids[i] = 9000 + (uint64_t)i;
	float *v = gen(N1, 5);
	CU_ASSERT_EQUAL_FATAL(rvf_ingest(s, ids, v, N1, NULL), 0);
	free(v);
	CU_ASSERT_EQUAL(rvf_loader_adopt(l, s, err, sizeof err), 0); /* same file: XDP stays on */
	CU_ASSERT_EQUAL(config_of(l).enabled, 1);
	rvf_loader_stage *st = NULL;
	int e = rvf_loader_stage_build(l, s, &st, err, sizeof err);
	if (e)
		fprintf(stderr, "\nstage: %s\n%s\n", err, rvf_loader_last_log());
	CU_ASSERT_EQUAL_FATAL(e, 0);
	struct rvf_loader_stage_info in;
	rvf_loader_stage_info(st, &in);
	CU_ASSERT_EQUAL(in.nvec, N0 + N1);
	CU_ASSERT_EQUAL(in.reclustered, 0); /* appended vectors joined the clusters */
	CU_ASSERT_EQUAL(in.ncentroids, p0.ncentroids);
	/* the live set is untouched while the stage exists */
	CU_ASSERT_EQUAL(rvf_loader_xdp_prog_fd(l), prog0);
	CU_ASSERT_EQUAL(rvf_loader_params(l, &p1), 0);
	CU_ASSERT(memcmp(&p0, &p1, sizeof p0) == 0);
	float d = -1;
	int act = -1;
	uint64_t lid;
	const float *vv;
	rvf_live_get(s, 17, &lid, &vv);
	CU_ASSERT_EQUAL(run_query(l, s, 17, &d, &act), lid);
	CU_ASSERT_EQUAL(act, XDP_TX);
	/* publish: other slot, new program, new parameters, maps = quant8 */
	CU_ASSERT_EQUAL_FATAL(rvf_loader_stage_publish(l, st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(rvf_loader_params(l, &p1), 0);
	CU_ASSERT_EQUAL(p1.nvec, N0 + N1);
	CU_ASSERT_EQUAL(config_of(l).active_slot, 1);
	check_maps(l, s, 1);
	rvf_live_get(s, N0 + 42, &lid, &vv);
	CU_ASSERT_EQUAL(run_query(l, s, N0 + 42, &d, &act), lid); /* an appended vector */
	CU_ASSERT(d == 0.0f);

	/* a stage of another file, published after s was adopted: refused */
	CU_ASSERT_EQUAL(rvf_loader_stage_build(l, o, &st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(rvf_loader_stage_publish(l, st, err, sizeof err), -ESTALE);
	CU_ASSERT_EQUAL(rvf_loader_params(l, &p0), 0);
	CU_ASSERT(memcmp(&p0, &p1, sizeof p0) == 0);
	/* adopting the other file switches XDP off until its maps are in */
	CU_ASSERT_EQUAL(rvf_loader_adopt(l, o, err, sizeof err), 1);
	CU_ASSERT_EQUAL(config_of(l).enabled, 0);
	CU_ASSERT_EQUAL(rvf_loader_stage_build(l, o, &st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(rvf_loader_stage_publish(l, st, err, sizeof err), 0);
	CU_ASSERT_EQUAL(config_of(l).enabled, 1);
	CU_ASSERT_EQUAL(config_of(l).active_slot, 0);
	check_maps(l, o, 1);
	rvf_loader_close(l);
	rvf_close(s);
	rvf_close(o);
}

static void t_cidr(void)
{
	uint32_t pl;
	uint8_t a[16];
	CU_ASSERT_EQUAL(rvf_loader_parse_cidr("10.1.2.3/8", &pl, a), 0);
	CU_ASSERT_EQUAL(pl, 104);
	static const uint8_t w4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0};
	CU_ASSERT(memcmp(a, w4, 16) == 0);
	CU_ASSERT_EQUAL(rvf_loader_parse_cidr("10.99.0.2", &pl, a), 0);
	CU_ASSERT_EQUAL(pl, 128);
	CU_ASSERT_EQUAL(rvf_loader_parse_cidr("fd00::1:2/64", &pl, a), 0);
	CU_ASSERT_EQUAL(pl, 64);
	CU_ASSERT_EQUAL(a[0], 0xfd);
	CU_ASSERT_EQUAL(a[15], 0);
	CU_ASSERT_EQUAL(rvf_loader_parse_cidr("::1", &pl, a), 0);
	CU_ASSERT_EQUAL(pl, 128);
	CU_ASSERT_EQUAL(a[15], 1);
	CU_ASSERT(rvf_loader_parse_cidr("10.0.0.0/33", &pl, a) < 0);
	CU_ASSERT(rvf_loader_parse_cidr("fd00::/129", &pl, a) < 0);
	CU_ASSERT(rvf_loader_parse_cidr("10.0.0.0/", &pl, a) < 0);
	CU_ASSERT(rvf_loader_parse_cidr("bogus", &pl, a) < 0);
	CU_ASSERT(rvf_loader_parse_cidr("10.0.0.0/8x", &pl, a) < 0);
}

RVF_SUITE(loader, {"elf classification", t_elf_classify},
	  {"corpus ebpf_accelerator.rvf holds a placeholder", t_corpus_placeholder},
	  {"objects loaded from EBPF_SEGs, maps = quant8, test_run", t_store_objects},
	  {"unsigned store with a placeholder segment: built-in", t_placeholder_fallback},
	  {"IVF fill (k-means, coff, centroids)", t_ivf},
	  {"sync after growth reloads rvf_vecs, keeps shared maps", t_sync_grow},
	  {"store programs only signed + trusted, built-in by default", t_store_objects_need_signature},
	  {"max_scan limit, IVF cluster cap", t_limits},
	  {"detach of a missing interface: -ENODEV", t_detach_missing},
	  {"sync to another file/metric/dimension empties the cache", t_sync_identity},
	  {"stage built beside the live set, incremental IVF, atomic publish", t_stage},
	  {"allow-list CIDR parsing", t_cidr})
#else
static void t_no_loader(void)
{
	fprintf(stderr, "\nloader: built without RVF_LOADER: loader tests skipped\n");
}

RVF_SUITE(loader, {"elf classification", t_elf_classify},
	  {"corpus ebpf_accelerator.rvf holds a placeholder", t_corpus_placeholder},
	  {"loader not linked (RVF_LOADER)", t_no_loader})
#endif
