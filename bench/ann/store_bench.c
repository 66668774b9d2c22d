/* store_bench.c — the store's HNSW index through the public API (rvf.h).
 *
 *   store_bench mk    DIR FILE        create FILE from DIR/base.f32 (ids 0..N-1, one batch)
 *   store_bench build FILE M EFC      rvf_index_build; prints build_ms, nodes, file size
 *   store_bench first FILE DIR        fresh open (read-only) -> first answer, ms
 *   store_bench sweep FILE DIR        recall@10 vs DIR/gt.i32 and QPS at ef 16..256
 *                                     (+ the exact scan), rvf_query_ex, one thread
 * DIR is an ann_bench data dir (base.f32, query.f32, gt.i32, meta.txt). Output:
 * one JSON object per line. */
#include "rvf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define K 10

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, rvf_last_error());
	exit(1);
}

static void *rfile(const char *dir, const char *name, size_t *len)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	if (!f)
		die(p);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	void *b = malloc(*len);
	if (!b || fread(b, 1, *len, f) != *len)
		die(p);
	fclose(f);
	return b;
}

static void meta(const char *dir, size_t *n, unsigned *dim, size_t *nq, char *metric)
{
	char p[4096], set[64];
	snprintf(p, sizeof p, "%s/meta.txt", dir);
	FILE *f = fopen(p, "r");
	if (!f || fscanf(f, "%63s %zu %u %zu %15s", set, n, dim, nq, metric) != 5)
		die("meta.txt");
	fclose(f);
}

static long long fsize(const char *p)
{
	struct stat st;
	return stat(p, &st) ? -1 : (long long)st.st_size;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see bench/ann/store_bench.c\n");
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "mk") && argc == 4) {
		size_t n, nq, bl;
		unsigned dim;
		char metric[16];
		meta(argv[2], &n, &dim, &nq, metric);
		float *base = rfile(argv[2], "base.f32", &bl);
		uint64_t *ids = malloc(n * sizeof *ids);
		for (size_t i = 0; i < n; i++)
			ids[i] = i;
		rvf_create_opts o = {.dimension = dim};
		if (rvf_metric_parse(metric, &o.metric))
			die("metric");
		rvf_store *s;
		remove(argv[3]);
		if (rvf_create(argv[3], &o, &s) || rvf_set_index_policy(s, RVF_INDEX_OFF) || rvf_ingest(s, ids, base, n, NULL))
			die("create/ingest");
		rvf_close(s);
		printf("{\"step\":\"mk\",\"n\":%zu,\"dim\":%u,\"file_size\":%lld}\n", n, dim, fsize(argv[3]));
		return 0;
	}
	if (!strcmp(cmd, "build") && argc == 5) {
		rvf_store *s;
		double t0 = now_ms();
		if (rvf_open(argv[2], 0, &s))
			die("open");
		double t1 = now_ms();
		if (rvf_index_build(s, (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4])))
			die("build");
		double t2 = now_ms();
		rvf_index_stats st;
		rvf_get_index_stats(s, &st);
		rvf_close(s);
		printf("{\"step\":\"build\",\"open_ms\":%.1f,\"build_persist_ms\":%.1f,\"nodes\":%llu,\"levels\":%u,"
		       "\"memory_bytes\":%llu,\"file_size\":%lld}\n",
		       t1 - t0, t2 - t1, (unsigned long long)st.nodes, st.max_level + 1,
		       (unsigned long long)st.memory_bytes, fsize(argv[2]));
		return 0;
	}
	if (!strcmp(cmd, "first") && argc == 4) {
		size_t ql;
		float *q = rfile(argv[3], "query.f32", &ql);
		rvf_store *s;
		double t0 = now_ms();
		if (rvf_open(argv[2], RVF_OPEN_READONLY, &s))
			die("open");
		double t1 = now_ms();
		rvf_hit h[K];
		size_t n;
		rvf_query_opts o = {.k = K};
		if (rvf_query_ex(s, q, rvf_dimension(s), &o, h, &n))
			die("query");
		double t2 = now_ms();
		rvf_index_stats st;
		rvf_get_index_stats(s, &st);
		printf("{\"step\":\"first\",\"open_ms\":%.2f,\"first_query_ms\":%.3f,\"open_to_first_answer_ms\":%.2f,"
		       "\"index\":%d,\"persisted\":%d,\"warning\":\"%s\"}\n",
		       t1 - t0, t2 - t1, t2 - t0, st.present, st.persisted, rvf_open_warning(s));
		rvf_close(s);
		return 0;
	}
	if (!strcmp(cmd, "sweep") && argc == 4) {
		size_t n, nq, ql, gl;
		unsigned dim;
		char metric[16];
		meta(argv[3], &n, &dim, &nq, metric);
		float *q = rfile(argv[3], "query.f32", &ql);
		int32_t *gt = rfile(argv[3], "gt.i32", &gl);
		rvf_store *s;
		if (rvf_open(argv[2], RVF_OPEN_READONLY, &s))
			die("open");
		static const unsigned efs[] = {16, 32, 64, 128, 256, 0};
		for (size_t e = 0; e < sizeof efs / sizeof efs[0]; e++) {
			rvf_query_opts o = {.k = K, .ef_search = efs[e], .exact = efs[e] == 0};
			size_t found = 0;
			rvf_hit h[K];
			size_t no;
			double t0 = now_ms();
			for (size_t i = 0; i < nq; i++) {
				if (rvf_query_ex(s, q + i * dim, dim, &o, h, &no))
					die("query");
				for (size_t j = 0; j < no; j++)
					for (int t = 0; t < K; t++)
						found += h[j].id == (uint64_t)gt[i * K + t];
			}
			double ms = now_ms() - t0;
			char ef[16];
			snprintf(ef, sizeof ef, efs[e] ? "%u" : "\"exact\"", efs[e]);
			printf("{\"step\":\"sweep\",\"ef\":%s,\"recall\":%.4f,\"qps\":%.0f}\n", ef,
			       (double)found / (double)(nq * K), nq / (ms / 1e3));
		}
		rvf_close(s);
		return 0;
	}
	fprintf(stderr, "store_bench: bad arguments\n");
	return 2;
}
