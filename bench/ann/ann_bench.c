/* ann_bench.c — data generation, exact ground truth and our HNSW's
 * build time / memory / recall@10-vs-QPS (one thread).
 *
 *   ann_bench gen clustered|glove N DIM NQ SEED DIR   -> DIR/{base,query}.f32, gt.i32, meta.txt
 *   ann_bench run DIR METRIC M EFC                   -> JSON lines on stdout
 *
 * Files: base.f32 = N*DIM little-endian f32, query.f32 = NQ*DIM, gt.i32 =
 * NQ*10 int32 exact neighbours (rvf_dist_exact order, ties by index).
 * Build line (bench/ann/run.sh):
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Iuser/lib bench/ann/ann_bench.c \
 *       build/librvf.a -lm -lpthread -o build/bench/ann_bench
 */
#include "distance.h"
#include "hnsw.h"
#include "rvf.h"
#include "topk.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define K 10

static uint64_t rs;
static uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static double unif(void) { return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0; }
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU time of this thread: QPS per CPU second, so a shared, loaded
 * machine (other processes taking the cores) does not count against it. */
static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long rss_bytes(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

static void die(const char *m)
{
	fprintf(stderr, "ann_bench: %s\n", m);
	exit(1);
}

static void wfile(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		die(path);
}

static void *rfile(const char *dir, const char *name, size_t *n)
{
	char path[4096];
	FILE *f;
	void *p;
	long len;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		die(path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)len);
	if (!p || fread(p, 1, (size_t)len, f) != (size_t)len)
		die(path);
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* clustered: 100 gaussian centres (sd 1), points centre + N(0, 0.45^2).
 * glove: 200 unit directions; point = normalize(dir + N(0, 0.9^2/dim)) x
 * norm, norm lognormal (sigma 0.6) with a Pareto tail on 5% of points. */
static void gen_point(const char *kind, const float *cent, uint32_t nc, uint32_t dim, float *o)
{
	const float *c = cent + (rnd() % nc) * dim;

	if (!strcmp(kind, "clustered")) {
		for (uint32_t j = 0; j < dim; j++)
			o[j] = c[j] + 0.45f * (float)gauss();
	} else {
		double s = 0, norm;
		for (uint32_t j = 0; j < dim; j++) {
			o[j] = c[j] + (float)(0.9 * gauss() / sqrt(dim));
			s += (double)o[j] * o[j];
		}
		norm = exp(0.6 * gauss());
		if (unif() < 0.05)
			norm *= pow(unif(), -1.0 / 1.5); /* heavy tail */
		for (uint32_t j = 0; j < dim; j++)
			o[j] = (float)(o[j] / sqrt(s) * norm);
	}
}

static int cmd_gen(char **a)
{
	const char *kind = a[0], *dir = a[5];
	size_t n = strtoull(a[1], 0, 10), nq = strtoull(a[3], 0, 10);
	uint32_t dim = (uint32_t)atoi(a[2]), nc = strcmp(kind, "clustered") ? 200 : 100;
	int metric = strcmp(kind, "clustered") ? RVF_METRIC_COSINE : RVF_METRIC_L2;
	float *cent = malloc((size_t)nc * dim * 4), *base = malloc(n * dim * 4), *q = malloc(nq * dim * 4);
	float *d = malloc(n * 4);
	int32_t *gt = malloc(nq * K * 4);
	double t0;
	FILE *f;
	char path[4096];

	rs = strtoull(a[4], 0, 10);
	for (uint32_t i = 0; i < nc; i++) {
		double s = 0;
		for (uint32_t j = 0; j < dim; j++) {
			cent[i * dim + j] = (float)gauss();
			s += (double)cent[i * dim + j] * cent[i * dim + j];
		}
		if (metric == RVF_METRIC_COSINE)
			for (uint32_t j = 0; j < dim; j++)
				cent[i * dim + j] = (float)(cent[i * dim + j] / sqrt(s));
	}
	for (size_t i = 0; i < n; i++)
		gen_point(kind, cent, nc, dim, base + i * dim);
	for (size_t i = 0; i < nq; i++)
		gen_point(kind, cent, nc, dim, q + i * dim);
	t0 = now();
	for (size_t i = 0; i < nq; i++) {
		rvf_topk_item it[K + 16], ex[K + 16];
		rvf_topk t;
		size_t m;
		rvf_topk_init(&t, K + 16, it);
		rvf_dist_batch(metric, q + i * dim, base, n, dim, dim, d);
		for (size_t j = 0; j < n; j++)
			rvf_topk_push(&t, j, d[j]);
		m = rvf_topk_finish(&t);
		for (size_t j = 0; j < m; j++) {
			ex[j].id = it[j].id;
			ex[j].dist = rvf_dist_exact(metric, q + i * dim, base + it[j].id * dim, dim);
		}
		rvf_topk_sort(ex, m);
		for (int j = 0; j < K; j++)
			gt[i * K + j] = (int32_t)ex[j].id;
	}
	fprintf(stderr, "ground truth %zu queries x %zu: %.1f s\n", nq, n, now() - t0);
	wfile(dir, "base.f32", base, n * dim * 4);
	wfile(dir, "query.f32", q, nq * dim * 4);
	wfile(dir, "gt.i32", gt, nq * K * 4);
	snprintf(path, sizeof path, "%s/meta.txt", dir);
	f = fopen(path, "w");
	fprintf(f, "%s %zu %u %zu %s\n", kind, n, dim, nq, metric == RVF_METRIC_L2 ? "l2" : "cosine");
	fclose(f);
	return 0;
}

static int cmd_run(char **a)
{
	const char *dir = a[0];
	int metric = !strcmp(a[1], "l2") ? RVF_METRIC_L2 : !strcmp(a[1], "ip") ? RVF_METRIC_IP : RVF_METRIC_COSINE;
	uint32_t M = (uint32_t)atoi(a[2]), efc = (uint32_t)atoi(a[3]), dim;
	static const size_t efs[] = {10, 16, 32, 64, 128, 256};
	char kind[64], mname[16];
	size_t n, nq, bl, ql, gl;
	float *base, *q;
	int32_t *gt;
	hnsw_index *x;
	long r0, r1;
	double t0, tb;
	FILE *f;
	char path[4096];

	snprintf(path, sizeof path, "%s/meta.txt", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%63s %zu %u %zu %15s", kind, &n, &dim, &nq, mname) != 5)
		die("meta.txt");
	fclose(f);
	base = rfile(dir, "base.f32", &bl);
	q = rfile(dir, "query.f32", &ql);
	gt = rfile(dir, "gt.i32", &gl);
	if (bl != n * dim * 4 || ql != nq * dim * 4 || gl != nq * K * 4)
		die("sizes");
	r0 = rss_bytes();
	x = hnsw_new(dim, metric, M, efc, 100);
	hnsw_set_storage(x, base, dim);
	t0 = now();
	for (size_t i = 0; i < n; i++)
		if (hnsw_insert(x, (uint32_t)i))
			die("insert");
	tb = now() - t0;
	r1 = rss_bytes();
	printf("{\"lib\":\"rvf\",\"set\":\"%s\",\"n\":%zu,\"dim\":%u,\"build_s\":%.3f,\"rss_mb\":%.1f,"
	       "\"index_mb\":%.1f,\"simd\":\"%s\"}\n",
	       kind, n, dim, tb, (double)(r1 - r0) / 1048576.0, (double)hnsw_memory(x) / 1048576.0,
	       rvf_simd_name(rvf_simd_active()));
	fflush(stdout);
	for (size_t e = 0; e < sizeof efs / sizeof *efs; e++) {
		rvf_topk_item out[K];
		size_t hit = 0, no, reps = 0;
		double t, el;
		/* warm-up pass, then as many passes as fit in ~1 s of CPU time */
		for (size_t i = 0; i < nq; i++)
			hnsw_search(x, q + i * dim, K, efs[e], NULL, 0, out, &no);
		t = cpu_now();
		do {
			hit = 0;
			for (size_t i = 0; i < nq; i++) {
				hnsw_search(x, q + i * dim, K, efs[e], NULL, 0, out, &no);
				for (size_t j = 0; j < no; j++)
					for (int g = 0; g < K; g++)
						if ((int32_t)out[j].id == gt[i * K + g]) {
							hit++;
							break;
						}
			}
			reps++;
			el = cpu_now() - t;
		} while (el < 1.0);
		printf("{\"lib\":\"rvf\",\"set\":\"%s\",\"ef\":%zu,\"recall\":%.4f,\"qps\":%.0f}\n", kind,
		       efs[e], (double)hit / (double)(nq * K), (double)(nq * reps) / el);
		fflush(stdout);
	}
	hnsw_free(x);
	free(base);
	free(q);
	free(gt);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "gen"))
		return cmd_gen(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "run"))
		return cmd_run(argv + 2);
	fprintf(stderr, "usage: ann_bench gen clustered|glove N DIM NQ SEED DIR\n"
			"       ann_bench run DIR l2|ip|cosine M EFC\n");
	return 2;
}
