/* test_quant.c — suite "quant": SQ8 / binary codes of the store
 * (user/lib/store_quant.c, user/lib/sq8.c).
 *
 *  - every int8 kernel level (scalar, AVX2, AVX-512 VNNI) gives the same
 *    integers, equal to quant8_l2 through the u8-offset identity;
 *  - sq8_encode gives the bytes of quant8_quantize_raw (the XDP quantizer);
 *  - the persisted scale equals quant8_params_init over the live vectors;
 *  - recall@10 on clustered 10k x 128: sq8 >= 0.99 at rerank 4k, binary
 *    reported; returned distances bit-identical to the exact ones;
 *  - reopen (codes rebuilt from the QUANT_SEG), ingest/upsert after
 *    quantize, deletes, filters, compaction;
 *  - a corrupted QUANT_SEG: warning, exact answers, open succeeds. */
#include "bruteforce.h"
#include "quant8.h"
#include "rvf.h"
#include "sq8.h"
#include "testreg.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cond is evaluated once: it may have side effects (an init call) */
#define QCHECK(cond, ...)                                                   \
	do {                                                                \
		int ok_ = !!(cond);                                         \
		if (!ok_) {                                                 \
			fprintf(stderr, "\n    FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
		}                                                           \
		CU_ASSERT(ok_);                                             \
	} while (0)
#define QOK(call)                                                                          \
	do {                                                                               \
		int rc_ = (call);                                                          \
		QCHECK(rc_ == RVF_OK, "%s -> %d: %s", #call, rc_, rvf_last_error());      \
	} while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}
static float frand(void) { return (float)rnd() / 2147483648.0f; } /* [0, 1) */
static float gauss(void)
{
	float u = frand() + 1e-7f, v = frand();
	return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

/* n x dim vectors around nc centres (spread 1), Gaussian noise sigma. */
static float *clustered(size_t n, uint32_t dim, uint32_t nc, float sigma)
{
	float *c = malloc((size_t)nc * dim * sizeof *c), *v = malloc(n * dim * sizeof *v);
	for (size_t i = 0; i < (size_t)nc * dim; i++)
		c[i] = frand() * 2 - 1;
	for (size_t i = 0; i < n; i++) {
		const float *cc = c + (size_t)(rnd() % nc) * dim;
		for (uint32_t d = 0; d < dim; d++)
			v[i * dim + d] = cc[d] + sigma * gauss();
	}
	free(c);
	return v;
}

static rvf_store *make_store(const char *path, rvf_metric m, const float *v, size_t n, uint32_t dim,
			     uint64_t id0)
{
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = dim, .metric = m};
	if (rvf_create(path, &o, &s))
		return NULL;
	uint64_t *ids = malloc(n * sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = id0 + i;
	int rc = rvf_ingest(s, ids, v, n, NULL);
	free(ids);
	if (rc) {
		rvf_close(s);
		return NULL;
	}
	return s;
}

static int same_hits(const rvf_hit *a, size_t na, const rvf_hit *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].id != b[i].id || !bf_same_bits(a[i].distance, b[i].distance))
			return 0;
	return 1;
}

/* Mean recall@k of quantized queries vs the exact scan; checks each
 * returned distance equals the exact one bit for bit. */
static double recall_of(const rvf_store *s, const float *qs, size_t nq, size_t k, int quant, uint32_t rerank,
			int *dist_ok)
{
	uint32_t dim = rvf_dimension(s);
	rvf_hit ex[64], ap[64];
	size_t ne, na;
	double sum = 0;
	*dist_ok = 1;
	for (size_t i = 0; i < nq; i++) {
		const float *q = qs + i * dim;
		rvf_query_opts eo = {.k = k, .exact = 1}, qo = {.k = k, .quant = quant, .rerank = rerank};
		if (rvf_query_ex(s, q, dim, &eo, ex, &ne) || rvf_query_ex(s, q, dim, &qo, ap, &na)) {
			*dist_ok = 0;
			return -1;
		}
		size_t hit = 0;
		for (size_t a = 0; a < na; a++) {
			for (size_t b = 0; b < ne; b++)
				hit += ap[a].id == ex[b].id;
		}
		sum += ne ? (double)hit / ne : 1;
		/* distances: every returned hit carries the exact distance */
		for (size_t a = 0; a < na; a++)
			for (size_t b = 0; b < ne; b++)
				if (ap[a].id == ex[b].id && !bf_same_bits(ap[a].distance, ex[b].distance))
					*dist_ok = 0;
		for (size_t a = 1; a < na; a++)
			if (bf_hit_cmp(&ap[a - 1], &ap[a]) > 0)
				*dist_ok = 0;
	}
	return sum / nq;
}

/* ---- kernels ------------------------------------------------------------- */

static void test_kernels_equal(void)
{
	uint32_t dims[] = {1, 7, 64, 100, 128, 300, 768};
	for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
		uint32_t dim = dims[t];
		size_t cs = SQ8_STRIDE(dim), n = 37;
		uint8_t *codes = calloc(n, cs), *uq = calloc(cs, 1);
		int8_t *sq = calloc(cs, 1);
		int32_t ref[37], got[37];
		for (size_t i = 0; i < n; i++)
			for (uint32_t d = 0; d < dim; d++)
				codes[i * cs + d] = i < 2 ? (uint8_t)(i ? 255 : 1) : (uint8_t)(1 + rnd() % 255);
		for (uint32_t d = 0; d < dim; d++) {
			uq[d] = (uint8_t)(1 + rnd() % 255);
			if (t == 0 || d % 5 == 0)
				uq[d] = d & 1 ? 1 : 255; /* extremes: s = -127 / +127 */
			sq[d] = (int8_t)((int)uq[d] - 128);
		}
		sq8_dot_batch_level(SQ8_SCALAR, codes, n, cs, sq, ref);
		for (size_t i = 0; i < n; i++) {
			uint32_t l2 = (uint32_t)((int64_t)sq8_row_const(codes + i * cs, dim) + quant8_norm(uq, dim) -
						 2 * (int64_t)ref[i]);
			QCHECK(l2 == quant8_l2(codes + i * cs, uq, dim), "dim %u row %zu: %u vs %u", dim, i, l2,
			       quant8_l2(codes + i * cs, uq, dim));
		}
		for (int lv = SQ8_AVX2; lv <= SQ8_VNNI; lv++) {
			if (!sq8_supported(lv)) {
				fprintf(stderr, "[quant: %s not supported here] ", sq8_name(lv));
				continue;
			}
			sq8_dot_batch_level(lv, codes, n, cs, sq, got);
			QCHECK(!memcmp(ref, got, sizeof ref), "dim %u: %s differs from scalar", dim, sq8_name(lv));
		}
		/* hamming = quant8_hamming */
		uint32_t bw = QUANT8_BIN_WORDS(dim);
		uint64_t *bins = calloc(n * bw, 8), *qb = calloc(bw, 8);
		uint32_t h[37];
		for (size_t i = 0; i < n; i++)
			quant8_bin(codes + i * cs, dim, bins + i * bw);
		quant8_bin(uq, dim, qb);
		sq8_hamming_batch(bins, n, bw, qb, h);
		for (size_t i = 0; i < n; i++)
			QCHECK(h[i] == quant8_hamming(bins + i * bw, qb, dim), "hamming dim %u row %zu", dim, i);
		free(bins);
		free(qb);
		free(codes);
		free(uq);
		free(sq);
	}
}

static void test_encode_equals_quant8(void)
{
	uint32_t dim = 96;
	size_t n = 2000;
	float *v = clustered(n, dim, 8, 0.3f);
	/* extremes: zeros, denormals, huge, values beyond the range */
	for (uint32_t d = 0; d < dim; d++) {
		v[d] = 0;
		v[dim + d] = d & 1 ? 1e-40f : -1e-42f;
		v[2 * dim + d] = d & 1 ? 3e30f : -3e30f;
		v[3 * dim + d] = (d & 1 ? 1 : -1) * 5.0f;
	}
	quant8_params p;
	QCHECK(quant8_params_init(&p, v + 4 * dim, n - 4, dim, RVF_METRIC_L2) == 0, "params");
	uint8_t a[96], b[96];
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		quant8_quantize_raw(&p, v + i * dim, a);
		sq8_encode(&p, v + i * dim, b);
		bad += memcmp(a, b, dim) != 0;
	}
	/* exhaustive-ish: midpoints between code levels (ties) */
	float x[96];
	for (int r = -130; r <= 130; r++) {
		for (uint32_t d = 0; d < dim; d++)
			x[d] = p.off[d] + ((float)r + 0.5f) * p.scale;
		quant8_quantize_raw(&p, x, a);
		sq8_encode(&p, x, b);
		bad += memcmp(a, b, dim) != 0;
	}
	QCHECK(bad == 0, "%zu vectors encode differently", bad);
	quant8_params_free(&p);
	free(v);
}

/* ---- store --------------------------------------------------------------- */

static size_t quant_segments(const rvf_store *s, uint64_t *off, uint64_t *len)
{
	size_t c = 0;
	for (size_t i = 0; i < rvf_segment_count(s); i++) {
		rvf_segment_info si;
		rvf_segment_get(s, i, &si);
		if (si.seg_type == 0x06) {
			c++;
			*off = si.offset;
			*len = si.payload_length;
		}
	}
	return c;
}

static void test_recall_persist(void)
{
	uint32_t dim = 128;
	size_t n = 10000, nq = 100;
	float *v = clustered(n + nq, dim, 50, 0.15f);
	char *path = tu_tpath("quant", "recall.rvf");
	rvf_store *s = make_store(path, RVF_METRIC_L2, v, n, dim, 1);
	QCHECK(s != NULL, "create: %s", rvf_last_error());
	if (!s)
		return;
	QOK(rvf_quantize(s, RVF_QUANT_SQ8));
	const float *qs = v + n * dim;
	int ok;
	double r_sq8 = recall_of(s, qs, nq, 10, RVF_QUANT_SQ8, 40, &ok);
	QCHECK(r_sq8 >= 0.99, "sq8 recall@10 (rerank 40) = %.4f", r_sq8);
	QCHECK(ok, "sq8: distances not exact / unsorted");
	double r_bin = recall_of(s, qs, nq, 10, RVF_QUANT_BINARY, 40, &ok);
	double r_bin2 = recall_of(s, qs, nq, 10, RVF_QUANT_BINARY, 200, &ok);
	QCHECK(ok, "binary: distances not exact / unsorted");
	QCHECK(r_bin2 >= r_bin - 1e-9, "binary recall should grow with rerank");
	fprintf(stderr, "[quant recall@10 10k x 128: sq8 %.4f, binary %.4f (rerank 40) %.4f (rerank 200)] ",
		r_sq8, r_bin, r_bin2);

	/* the persisted scale is quant8_params_init's over the live vectors */
	uint64_t off = 0, len = 0;
	QCHECK(quant_segments(s, &off, &len) == 1, "one QUANT_SEG listed");
	QCHECK(len == 64 + 8 * dim + 32, "payload length %llu", (unsigned long long)len);
	quant8_params p;
	quant8_params_init(&p, v, n, dim, RVF_METRIC_L2);
	int fd = open(path, O_RDONLY);
	uint8_t pay[64 + 8 * 128 + 32];
	QCHECK(pread(fd, pay, sizeof pay, (off_t)(off + 64)) == (ssize_t)sizeof pay, "read QUANT_SEG");
	close(fd);
	uint32_t sb;
	memcpy(&sb, &p.scale, 4);
	QCHECK(pay[0] == 0 && pay[2] == (dim & 0xff) && !memcmp(pay + 64 + 8 * dim, "RVQ8", 4), "header");
	QCHECK(!memcmp(pay + 64 + 8 * dim + 8, &sb, 4), "scale bits differ from quant8_params_init");
	quant8_params_free(&p);

	/* results before / after reopen are identical */
	rvf_hit a[10], b[10];
	size_t na, nb;
	rvf_query_opts qo = {.k = 10, .quant = RVF_QUANT_SQ8};
	QOK(rvf_query_ex(s, qs, dim, &qo, a, &na));
	rvf_close(s);
	QOK(rvf_open(path, RVF_OPEN_READONLY, &s));
	QCHECK(rvf_open_warning(s)[0] == 0, "warning: %s", rvf_open_warning(s));
	QOK(rvf_query_ex(s, qs, dim, &qo, b, &nb));
	QCHECK(same_hits(a, na, b, nb), "results changed across reopen");
	double r2 = recall_of(s, qs, nq, 10, RVF_QUANT_SQ8, 40, &ok);
	QCHECK(r2 == r_sq8, "recall after reopen %.4f vs %.4f", r2, r_sq8);
	rvf_close(s);
	free(path);
	free(v);
}

static void test_metrics(void)
{
	uint32_t dim = 64;
	size_t n = 4000, nq = 50;
	rvf_metric ms[] = {RVF_METRIC_COSINE, RVF_METRIC_IP};
	for (int t = 0; t < 2; t++) {
		float *v = clustered(n + nq, dim, 20, 0.2f);
		char *path = tu_tpath("quant", "metric.rvf");
		rvf_store *s = make_store(path, ms[t], v, n, dim, 1);
		QCHECK(s && rvf_quantize(s, RVF_QUANT_SQ8) == 0, "quantize: %s", rvf_last_error());
		int ok;
		double r = recall_of(s, v + n * dim, nq, 10, RVF_QUANT_SQ8, 40, &ok);
		double rb = recall_of(s, v + n * dim, nq, 10, RVF_QUANT_BINARY, 100, &ok);
		fprintf(stderr, "[%s: sq8 %.3f binary %.3f] ", rvf_metric_name(ms[t]), r, rb);
		QCHECK(r >= 0.95 && ok, "%s sq8 recall %.3f", rvf_metric_name(ms[t]), r);
		rvf_close(s);
		free(path);
		free(v);
	}
}

static void test_ingest_delete_compact(void)
{
	uint32_t dim = 32;
	size_t n = 3000;
	float *v = clustered(2 * n, dim, 10, 0.2f);
	char *path = tu_tpath("quant", "mut.rvf");
	rvf_store *s = make_store(path, RVF_METRIC_L2, v, n, dim, 1);
	QCHECK(s && rvf_quantize(s, RVF_QUANT_SQ8) == 0, "quantize");
	if (!s)
		return;
	/* ingest after quantize: new ids found by their own vectors */
	uint64_t *ids = malloc(n * sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = 100000 + i;
	QOK(rvf_ingest(s, ids, v + n * dim, n, NULL));
	rvf_hit h[10];
	size_t nh, found = 0;
	for (size_t i = 0; i < n; i += 97) {
		rvf_query_opts qo = {.k = 1, .quant = RVF_QUANT_SQ8};
		QOK(rvf_query_ex(s, v + (n + i) * dim, dim, &qo, h, &nh));
		found += nh == 1 && h[0].id == ids[i] && h[0].distance == 0;
	}
	QCHECK(found == (n + 96) / 97, "new vectors found: %zu", found);
	/* upsert: id 5 moves to a far-away vector */
	float far[32];
	for (uint32_t d = 0; d < dim; d++)
		far[d] = 0.9f * (d & 1 ? 1 : -1);
	uint64_t id5 = 5;
	QOK(rvf_ingest(s, &id5, far, 1, NULL));
	rvf_query_opts q1 = {.k = 1, .quant = RVF_QUANT_BINARY, .rerank = 5};
	QOK(rvf_query_ex(s, far, dim, &q1, h, &nh));
	QCHECK(nh == 1 && h[0].id == 5 && h[0].distance == 0, "upserted vector not found (id %llu)",
	       nh ? (unsigned long long)h[0].id : 0ull);
	/* deletes never returned, with and without filter-free rerank */
	uint64_t del[300];
	for (int i = 0; i < 300; i++)
		del[i] = 1 + 2 * (uint64_t)i;
	QOK(rvf_delete(s, del, 300, NULL));
	int ok;
	double r = recall_of(s, v, 50, 10, RVF_QUANT_SQ8, 0, &ok);
	QCHECK(r >= 0.97 && ok, "after delete: recall %.3f", r);
	for (int i = 0; i < 300; i += 7) {
		rvf_query_opts qo = {.k = 5, .quant = RVF_QUANT_SQ8};
		QOK(rvf_query_ex(s, v + (2 * i) * dim, dim, &qo, h, &nh));
		for (size_t j = 0; j < nh; j++)
			QCHECK(h[j].id % 2 == 0 || h[j].id > 600, "deleted id %llu returned",
			       (unsigned long long)h[j].id);
	}
	/* compaction: codes follow their slots; QUANT_SEG kept */
	QOK(rvf_compact(s, NULL));
	uint64_t off = 0, len = 0;
	QCHECK(quant_segments(s, &off, &len) == 1, "QUANT_SEG after compaction");
	double rc = recall_of(s, v, 50, 10, RVF_QUANT_SQ8, 0, &ok);
	QCHECK(rc == r && ok, "after compaction: recall %.3f (was %.3f)", rc, r);
	rvf_hit a[10], b[10];
	size_t na, nb;
	rvf_query_opts qo = {.k = 10, .quant = RVF_QUANT_SQ8};
	QOK(rvf_query_ex(s, v + 11 * dim, dim, &qo, a, &na));
	rvf_close(s);
	QOK(rvf_open(path, 0, &s));
	QCHECK(rvf_open_warning(s)[0] == 0, "warning: %s", rvf_open_warning(s));
	QOK(rvf_query_ex(s, v + 11 * dim, dim, &qo, b, &nb));
	QCHECK(same_hits(a, na, b, nb), "results changed across compaction + reopen");
	/* re-quantize replaces the listed segment */
	QOK(rvf_quantize(s, RVF_QUANT_BINARY));
	QCHECK(quant_segments(s, &off, &len) == 1, "one QUANT_SEG after re-quantize");
	rvf_close(s);
	free(ids);
	free(path);
	free(v);
}

static void test_filter(void)
{
	uint32_t dim = 16;
	size_t n = 2000;
	float *v = clustered(n, dim, 5, 0.3f);
	char *path = tu_tpath("quant", "filter.rvf");
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = dim};
	QOK(rvf_create(path, &o, &s));
	uint64_t *ids = malloc(n * sizeof *ids);
	rvf_field *f = malloc(n * sizeof *f);
	const rvf_field **fp = malloc(n * sizeof *fp);
	size_t *nf = malloc(n * sizeof *nf);
	for (size_t i = 0; i < n; i++) {
		ids[i] = i;
		f[i] = (rvf_field){.id = 0, .type = RVF_FIELD_U64, .v.u64 = i % 3};
		fp[i] = &f[i];
		nf[i] = 1;
	}
	QOK(rvf_ingest_meta(s, ids, v, n, fp, nf, NULL));
	QOK(rvf_quantize(s, RVF_QUANT_SQ8));
	rvf_filter *flt = NULL;
	QOK(rvf_filter_parse("{\"eq\":{\"field\":0,\"value\":1}}", &flt));
	size_t same = 0;
	for (int t = 0; t < 20; t++) {
		rvf_hit a[10], b[10];
		size_t na, nb;
		rvf_query_opts eo = {.k = 10, .filter = flt, .exact = 1};
		rvf_query_opts qo = {.k = 10, .filter = flt, .quant = RVF_QUANT_SQ8, .rerank = 100};
		QOK(rvf_query_ex(s, v + t * 50 * dim, dim, &eo, a, &na));
		QOK(rvf_query_ex(s, v + t * 50 * dim, dim, &qo, b, &nb));
		for (size_t j = 0; j < nb; j++)
			QCHECK(b[j].id % 3 == 1, "filter not applied: id %llu", (unsigned long long)b[j].id);
		same += same_hits(a, na, b, nb);
	}
	QCHECK(same >= 19, "filtered quantized results equal exact in %zu / 20", same);
	rvf_filter_free(flt);
	rvf_close(s);
	free(ids);
	free(f);
	free(fp);
	free(nf);
	free(path);
	free(v);
}

static void test_corrupt_segment(void)
{
	uint32_t dim = 32;
	size_t n = 1000;
	float *v = clustered(n, dim, 5, 0.2f);
	char *path = tu_tpath("quant", "corrupt.rvf");
	rvf_store *s = make_store(path, RVF_METRIC_L2, v, n, dim, 1);
	QCHECK(s && rvf_quantize(s, RVF_QUANT_SQ8) == 0, "quantize");
	if (!s)
		return;
	uint64_t off = 0, len = 0;
	quant_segments(s, &off, &len);
	rvf_close(s);
	int fd = open(path, O_RDWR);
	uint8_t byte;
	QCHECK(pread(fd, &byte, 1, (off_t)(off + 64 + 64 + 5)) == 1, "read");
	byte ^= 0x40;
	QCHECK(pwrite(fd, &byte, 1, (off_t)(off + 64 + 64 + 5)) == 1, "write");
	close(fd);
	s = NULL;
	QOK(rvf_open(path, RVF_OPEN_READONLY, &s));
	if (!s)
		return;
	QCHECK(strstr(rvf_open_warning(s), "QUANT") != NULL, "no warning: '%s'", rvf_open_warning(s));
	size_t same = 0;
	for (int t = 0; t < 10; t++) {
		rvf_hit a[10], b[10];
		size_t na, nb;
		rvf_query_opts eo = {.k = 10, .exact = 1}, qo = {.k = 10, .quant = RVF_QUANT_SQ8, .rerank = 10};
		QOK(rvf_query_ex(s, v + t * 37 * dim, dim, &eo, a, &na));
		QOK(rvf_query_ex(s, v + t * 37 * dim, dim, &qo, b, &nb));
		same += same_hits(a, na, b, nb);
	}
	QCHECK(same == 10, "exact answers expected: %zu / 10", same);
	rvf_close(s);
	free(path);
	free(v);
}

static void test_args(void)
{
	char *path = tu_tpath("quant", "args.rvf");
	float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	rvf_store *s = make_store(path, RVF_METRIC_L2, v, 2, 4, 1);
	QCHECK(s != NULL, "create");
	if (!s)
		return;
	QCHECK(rvf_quantize(s, 3) == RVF_E_ARG, "type 3 accepted");
	/* no quantizer: opts.quant falls back to the exact scan */
	rvf_hit h[2];
	size_t nh;
	rvf_query_opts qo = {.k = 2, .quant = RVF_QUANT_SQ8};
	QOK(rvf_query_ex(s, v, 4, &qo, h, &nh));
	QCHECK(nh == 2 && h[0].id == 1 && h[0].distance == 0, "fallback");
	QOK(rvf_quantize(s, RVF_QUANT_SQ8));
	qo.quant = 7;
	QCHECK(rvf_query_ex(s, v, 4, &qo, h, &nh) == RVF_E_ARG, "quant 7 accepted");
	rvf_close(s);
	QOK(rvf_open(path, RVF_OPEN_READONLY, &s));
	QCHECK(rvf_quantize(s, RVF_QUANT_SQ8) == RVF_E_READONLY, "read-only quantize");
	rvf_close(s);
	free(path);
}

RVF_SUITE(quant, {"int8 kernels: every level equals scalar and quant8_l2", test_kernels_equal},
	  {"sq8_encode equals quant8_quantize_raw", test_encode_equals_quant8},
	  {"recall 10k x 128, persistence, scale = quant8_params_init", test_recall_persist},
	  {"cosine and inner product", test_metrics},
	  {"ingest, upsert, delete, compaction", test_ingest_delete_compact},
	  {"filters applied during the code scan", test_filter},
	  {"corrupted QUANT_SEG: warning + exact answers", test_corrupt_segment},
	  {"arguments, fallback, read-only", test_args})
