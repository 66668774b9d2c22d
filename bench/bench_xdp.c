/* bench_xdp.c — cost of the XDP int8 scan (bpf/rvf_xdp.bpf.c) per vector,
 * in the kernel (BPF_PROG_TEST_RUN with repeat) vs the same int8 L2 scan in
 * userspace (scalar C and AVX2), per dimension, N = 1024 and 4096; plus the
 * verifier's processed instructions and the load time of every object.
 *
 * Build and run (root, from the repository root, after `make`):
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -mavx2 -Iinclude -Iuser/lib -Iloader -Itests/unit \
 *       -o build/bench_xdp bench/bench_xdp.c user/lib/quant8.c loader/quant8_xdp.c \
 *       tests/unit/xdp_frames.c -lbpf -lm
 *   build/bench_xdp [cpu]        # pins itself to cpu (default 1)
 *
 * Kernel figures: BPF_PROG_TEST_RUN with repeat = 1 (the reply is written
 * in place, so repetitions would not see a query), the kernel-measured
 * duration; best and median over 301 calls. ns/vector = (t(N) - t(0)) / N
 * where t(0) is the same query with nvec = 0 (parse, quantize, reply).
 * Userspace figures: best and median over 11 rounds of 64 queries, top-10
 * kept by insertion, same offset-binary bytes.
 * "BIN+rerank R" rows: config.scan_mode = RVF_SCAN_BIN (1-bit hamming over
 * all N vectors keeping R candidates, exact PACK3 rerank of those R); the
 * ns/vector column is then (t(N) - t(0)) / N including the rerank.
 * "64 queries cycled" rows: 64 different queries (near other stored vectors)
 * in turn instead of one repeated query.
 */
#include "quant8_xdp.h"
#include "rvf.h"
#include "rvf_wire.h"
#include "xdp_frames.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <immintrin.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PORT 7878
#define NCALLS 11

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	if (l == LIBBPF_WARN)
		vfprintf(stderr, f, ap);
	return 0;
}

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static float frand(void) { return (float)((rnd() >> 11) * 0x1p-53 * 2 - 1); }

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void best_med(double *v, int n, double *best, double *med)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	*best = v[0];
	*med = v[n / 2];
}

/* ---- userspace int8 scans (offset-binary u8, exact integer L2) ---- */

static void topk_ins(uint64_t *top, int *n, int k, uint64_t key)
{
	int i;
	if (*n == k) {
		if (key >= top[k - 1])
			return;
		i = k - 1;
	} else {
		i = (*n)++;
	}
	while (i > 0 && top[i - 1] > key) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = key;
}

__attribute__((optimize("no-tree-vectorize"))) static void scan_scalar(const uint8_t *base,
									uint32_t n, uint32_t dim,
									const uint8_t *q, uint64_t *top)
{
	int nt = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *v = base + (size_t)i * dim;
		uint32_t s = 0;
		for (uint32_t d = 0; d < dim; d++) {
			int x = (int)v[d] - (int)q[d];
			s += (uint32_t)(x * x);
		}
		topk_ins(top, &nt, 10, (uint64_t)s << 32 | i);
	}
}

static void scan_avx2(const uint8_t *base, uint32_t n, uint32_t dim, const uint8_t *q,
		      uint64_t *top)
{
	int nt = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *v = base + (size_t)i * dim;
		__m256i acc = _mm256_setzero_si256();
		for (uint32_t d = 0; d < dim; d += 16) {
			__m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(v + d)));
			__m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(q + d)));
			__m256i df = _mm256_sub_epi16(a, b);
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(df, df));
		}
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
		topk_ins(top, &nt, 10, (uint64_t)(uint32_t)_mm_cvtsi128_si32(s) << 32 | i);
	}
}

/* ---- kernel ---- */

struct obj {
	struct bpf_object *obj;
	int prog, cfg, quant, vecs, bins;
	uint32_t insns;
	double load_ms;
};

static int set_port(struct bpf_object *obj)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m;
	int id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -ENOENT;
	if (id < 0)
		return id;
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	long off = -1;
	for (int i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf__type_by_id(btf, vs[i].type)->name_off),
			    "rvf_port"))
			off = vs[i].offset;
	bpf_object__for_each_map(m, obj)
	{
		const char *n = bpf_map__name(m);
		size_t l = strlen(n), sz;
		if (off < 0 || l < 7 || strcmp(n + l - 7, ".rodata"))
			continue;
		const void *p = bpf_map__initial_value(m, &sz);
		uint8_t *cp = p ? malloc(sz) : NULL;
		if (!cp)
			return -ENOMEM;
		memcpy(cp, p, sz);
		uint16_t port = PORT;
		memcpy(cp + off, &port, 2);
		int err = bpf_map__set_initial_value(m, cp, sz);
		free(cp);
		return err;
	}
	return -ENOENT;
}

static int load(struct obj *o, uint32_t dim, uint32_t nmax)
{
	char path[96];
	snprintf(path, sizeof path, "build/bpf/rvf_xdp_d%u.bpf.o", dim);
	memset(o, 0, sizeof *o);
	o->obj = bpf_object__open_file(path, NULL);
	if (!o->obj) {
		int err = -errno;
		fprintf(stderr, "open %s: %s\n", path, strerror(-err));
		return err;
	}
	int err = set_port(o->obj);
	if (!err)
		err = bpf_map__set_max_entries(bpf_object__find_map_by_name(o->obj, "rvf_vecs"), nmax);
	if (err) {
		fprintf(stderr, "prepare %s: %s\n", path, strerror(-err));
		return err;
	}
	double t0 = now_ns();
	err = bpf_object__load(o->obj);
	o->load_ms = (now_ns() - t0) / 1e6;
	if (err) {
		fprintf(stderr, "load %s: %s\n", path, strerror(-err));
		return err;
	}
	o->prog = bpf_program__fd(bpf_object__find_program_by_name(o->obj, "rvf_xdp"));
	o->cfg = bpf_map__fd(bpf_object__find_map_by_name(o->obj, "rvf_config"));
	o->quant = bpf_map__fd(bpf_object__find_map_by_name(o->obj, "rvf_quant"));
	o->vecs = bpf_map__fd(bpf_object__find_map_by_name(o->obj, "rvf_vecs"));
	o->bins = bpf_map__fd(bpf_object__find_map_by_name(o->obj, "rvf_bins"));
	struct bpf_prog_info info;
	uint32_t il = sizeof info;
	memset(&info, 0, sizeof info);
	if (bpf_obj_get_info_by_fd(o->prog, &info, &il)) {
		err = -errno;
		fprintf(stderr, "prog info: %s\n", strerror(-err));
		return err;
	}
	o->insns = info.verified_insns;
	return 0;
}

static int set_mode(const struct obj *o, const quant8_params *qp, uint32_t dim, uint32_t n,
		    uint32_t mode, uint32_t rerank)
{
	struct rvf_xdp_config c;
	uint32_t z = 0;
	memset(&c, 0, sizeof c);
	c.nvec = n;
	c.epoch = 1;
	c.dim = dim;
	c.scale = qp->scale;
	c.max_scan = 1u << 30;
	c.enabled = 1;
	c.scan_mode = mode;
	c.rerank = rerank;
	return bpf_map_update_elem(o->cfg, &z, &c, BPF_ANY) ? -errno : 0;
}

/* ns per run, best and median over `calls` calls. repeat is 1: the
 * program rewrites the frame into a reply in place and test_run does not
 * restore it between repetitions, so a second repetition would see a reply
 * (not ours). The kernel's own duration (ktime around the run) is used. */
#define KCALLS 301
static int kernel_time(const struct obj *o, const uint8_t *f, size_t len, int calls, double *best,
		       double *med)
{
	static uint8_t out[8192];
	static double v[KCALLS];
	if (calls > KCALLS)
		calls = KCALLS;
	for (int i = 0; i < calls; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = f, .data_size_in = (uint32_t)len,
			    .data_out = out, .data_size_out = sizeof out, .repeat = 1);
		if (bpf_prog_test_run_opts(o->prog, &t)) {
			int err = -errno;
			fprintf(stderr, "test_run: %s\n", strerror(-err));
			return err;
		}
		if (t.retval != XDP_TX) {
			int cfd = bpf_map__fd(bpf_object__find_map_by_name(o->obj, "rvf_counters"));
			int ncpu = libbpf_num_possible_cpus();
			uint64_t cv[256];
			for (uint32_t s = 0; s < RVF_C_MAX && ncpu > 0 && ncpu <= 256; s++) {
				uint64_t sum = 0;
				if (bpf_map_lookup_elem(cfd, &s, cv) == 0)
					for (int c = 0; c < ncpu; c++)
						sum += cv[c];
				fprintf(stderr, "counter %u = %llu\n", s, (unsigned long long)sum);
			}
			fprintf(stderr, "test_run: verdict %u, not XDP_TX (len %zu)\n", t.retval, len);
			return -EINVAL;
		}
		v[i] = t.duration;
	}
	best_med(v, calls, best, med);
	return 0;
}

/* Cache-cold(er) variant: NQF different queries, cycled, one run each. */
#define NQF 64
static int kernel_time_multi(const struct obj *o, uint8_t (*f)[4096], const size_t *len, int calls,
			     double *best, double *med)
{
	static uint8_t out[8192];
	static double v[KCALLS];
	if (calls > KCALLS)
		calls = KCALLS;
	for (int i = 0; i < calls; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = f[i % NQF], .data_size_in = (uint32_t)len[i % NQF],
			    .data_out = out, .data_size_out = sizeof out, .repeat = 1);
		if (bpf_prog_test_run_opts(o->prog, &t) || t.retval != XDP_TX)
			return -EINVAL;
		v[i] = t.duration;
	}
	best_med(v, calls, best, med);
	return 0;
}

int main(int argc, char **argv)
{
	static const uint32_t dims[] = {64, 128, 256, 384, 512, 768};
	static const uint32_t ns[] = {1024, 4096};
	int cpu = argc > 1 ? atoi(argv[1]) : 1;
	cpu_set_t cs;
	CPU_ZERO(&cs);
	CPU_SET(cpu, &cs);
	if (sched_setaffinity(0, sizeof cs, &cs))
		fprintf(stderr, "warning: cannot pin to cpu %d: %s\n", cpu, strerror(errno));
	libbpf_set_print(quiet);

	printf("| D | verifier insns | load ms | N | XDP µs/query best (med) | XDP ns/vector best (med) "
	       "| scalar ns/vector best (med) | AVX2 ns/vector best (med) |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
		uint32_t dim = dims[di], nmax = 4096;
		float *x = malloc((size_t)nmax * dim * sizeof(float));
		uint8_t *u = malloc((size_t)nmax * dim), *e = malloc(RVF_XDP_VEC_SIZE(dim));
		struct rvf_xdp_quant *qv = malloc(sizeof *qv);
		float *q = malloc(dim * sizeof(float));
		uint8_t *qu = malloc(dim);
		if (!x || !u || !e || !qv || !q || !qu)
			return 1;
		for (uint32_t i = 0; i < nmax; i++) {
			float c = (float)(i % 64) / 32.0f - 1.0f;
			for (uint32_t d = 0; d < dim; d++)
				x[(size_t)i * dim + d] = c * (float)((d * 7 + i) % 5 - 2) + frand() * 0.3f;
		}
		quant8_params qp;
		struct obj o;
		if (quant8_params_init(&qp, x, nmax, dim, RVF_METRIC_L2) || quant8_fill_xdp(&qp, qv))
			return 1;
		if (load(&o, dim, nmax))
			return 1;
		uint32_t z = 0;
		if (bpf_map_update_elem(o.quant, &z, qv, BPF_ANY)) {
			fprintf(stderr, "quant map: %s\n", strerror(errno));
			return 1;
		}
		for (uint32_t i = 0; i < nmax; i++) {
			quant8_quantize(&qp, x + (size_t)i * dim, u + (size_t)i * dim);
			static uint64_t bc[RVF_XDP_BIN_BLOCK * RVF_BIN_WORDS(RVF_XDP_MAX_DIM)];
			uint32_t bw = RVF_BIN_WORDS(dim), blk = i / RVF_XDP_BIN_BLOCK;
			quant8_vec_entry(u + (size_t)i * dim, dim, i, e);
			quant8_bin(u + (size_t)i * dim, dim, bc + (i % RVF_XDP_BIN_BLOCK) * bw);
			if (bpf_map_update_elem(o.vecs, &i, e, BPF_ANY) ||
			    (i % RVF_XDP_BIN_BLOCK == RVF_XDP_BIN_BLOCK - 1 &&
			     bpf_map_update_elem(o.bins, &blk, bc, BPF_ANY))) {
				fprintf(stderr, "vecs map: %s\n", strerror(errno));
				return 1;
			}
		}
		for (uint32_t d = 0; d < dim; d++)
			q[d] = x[(size_t)17 * dim + d] + frand() * 0.1f;
		quant8_quantize_raw(&qp, q, qu);
		static uint8_t pl[4096], f[4096];
		struct xf_opts fo;
		xf_defaults(&fo);
		fo.dport = PORT;
		size_t len = xf_build(f, sizeof f, &fo, pl,
				      xf_rvf_query(pl, sizeof pl, 1, (uint16_t)dim, 10, 0, q, NULL, 0, 0));
		static uint8_t mf[NQF][4096];
		size_t mlen[NQF];
		for (int j = 0; j < NQF; j++) { /* near other stored vectors */
			float *qq = malloc(dim * sizeof(float));
			static uint8_t mpl[4096];
			uint32_t src = (uint32_t)(rnd() % nmax);
			for (uint32_t d = 0; d < dim; d++)
				qq[d] = x[(size_t)src * dim + d] + frand() * 0.1f;
			mlen[j] = xf_build(mf[j], sizeof mf[j], &fo, mpl,
					   xf_rvf_query(mpl, sizeof mpl, 1, (uint16_t)dim, 10, 0, qq, NULL, 0, 0));
			free(qq);
		}
		double b0, m0;
		if (set_mode(&o, &qp, dim, 0, RVF_SCAN_PACK3, 0) ||
		    kernel_time(&o, f, len, KCALLS, &b0, &m0))
			return 1;
		for (size_t ni = 0; ni < 2; ni++) {
			uint32_t n = ns[ni];
			double b, m;
			if (set_mode(&o, &qp, dim, n, RVF_SCAN_PACK3, 0) ||
			    kernel_time(&o, f, len, KCALLS, &b, &m))
				return 1;
			/* userspace */
			double vs[NCALLS], va[NCALLS], bs, ms, ba, ma;
			uint64_t top[10];
			const int nq = 64;
			for (int r = 0; r < NCALLS; r++) {
				double t0 = now_ns();
				for (int j = 0; j < nq; j++)
					scan_scalar(u, n, dim, qu, top);
				double t1 = now_ns();
				for (int j = 0; j < nq; j++)
					scan_avx2(u, n, dim, qu, top);
				double t2 = now_ns();
				vs[r] = (t1 - t0) / nq / n;
				va[r] = (t2 - t1) / nq / n;
			}
			best_med(vs, NCALLS, &bs, &ms);
			best_med(va, NCALLS, &ba, &ma);
			if (ni == 0)
				printf("| %u | %u | %.1f | %u | %.1f (%.1f) | %.2f (%.2f) | %.2f (%.2f) | %.2f "
				       "(%.2f) |\n",
				       dim, o.insns, o.load_ms, n, b / 1e3, m / 1e3, (b - b0) / n,
				       (m - m0) / n, bs, ms, ba, ma);
			else
				printf("| | | | %u | %.1f (%.1f) | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) |\n",
				       n, b / 1e3, m / 1e3, (b - b0) / n, (m - m0) / n, bs, ms, ba, ma);
			/* two-stage: 1-bit hamming over all N, PACK3 rerank of R */
			for (uint32_t R = 32; R <= 128; R *= 2) {
				if (set_mode(&o, &qp, dim, n, RVF_SCAN_BIN, R) ||
				    kernel_time(&o, f, len, KCALLS, &b, &m))
					return 1;
				printf("| | | | %u BIN+rerank R=%u | %.1f (%.1f) | %.2f (%.2f) | | |\n", n, R,
				       b / 1e3, m / 1e3, (b - b0) / n, (m - m0) / n);
				if (set_mode(&o, &qp, dim, n, RVF_SCAN_BIN, R) ||
				    kernel_time_multi(&o, mf, mlen, KCALLS, &b, &m))
					return 1;
				printf("| | | | %u BIN+rerank R=%u, %d queries cycled | %.1f (%.1f) | %.2f (%.2f) | | |\n",
				       n, R, NQF, b / 1e3, m / 1e3, (b - b0) / n, (m - m0) / n);
			}
			if (set_mode(&o, &qp, dim, n, RVF_SCAN_PACK3, 0) ||
			    kernel_time_multi(&o, mf, mlen, KCALLS, &b, &m))
				return 1;
			printf("| | | | %u PACK3, %d queries cycled | %.1f (%.1f) | %.2f (%.2f) | | |\n", n, NQF,
			       b / 1e3, m / 1e3, (b - b0) / n, (m - m0) / n);
		}
		printf("| | | | 0 (parse+quantize+reply) | %.2f (%.2f) | | | |\n", b0 / 1e3, m0 / 1e3);
		fflush(stdout);
		bpf_object__close(o.obj);
		quant8_params_free(&qp);
		free(x);
		free(u);
		free(e);
		free(qv);
		free(q);
		free(qu);
	}
	return 0;
}
