/* hnsw.c — index object, storage, growth, scratch, accessors and the fast
 * f32 kernels used during traversal (search: hnsw_search.c, insertion:
 * hnsw_build.c, INDEX_SEG codec: hnsw_codec.c). */
#define HNSW_INTERNAL
#include "hnsw.h"
#include "distance.h"
#include "rvf.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- fast kernels (traversal only; results are reranked exactly) -------- */
static float l2_scalar(const float *a, const float *b, uint32_t dim)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t i = 0;

	for (; i + 4 <= dim; i += 4) {
		float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
		float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; i < dim; i++)
		s0 += (a[i] - b[i]) * (a[i] - b[i]);
	return (s0 + s1) + (s2 + s3);
}

static float dot_scalar(const float *a, const float *b, uint32_t dim)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t i = 0;

	for (; i + 4 <= dim; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < dim; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define T2 __attribute__((target("avx2,fma")))
#define T5 __attribute__((target("avx512f")))

T2 static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

T2 static inline __m256i mask8(uint32_t rem)
{
	static const int32_t tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1};

	return _mm256_loadu_si256((const __m256i *)(tab + 8 - rem));
}

T2 static float l2_avx2(const float *a, const float *b, uint32_t dim)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	uint32_t i = 0;

	for (; i + 32 <= dim; i += 32) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= dim; i += 8) {
		__m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	if (i < dim) {
		__m256i m = mask8(dim - i);
		__m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
		s1 = _mm256_fmadd_ps(d, d, s1);
	}
	return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

T2 static float dot_avx2(const float *a, const float *b, uint32_t dim)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	uint32_t i = 0;

	for (; i + 32 <= dim; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= dim; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	if (i < dim) {
		__m256i m = mask8(dim - i);
		s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
	}
	return hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

T5 static float l2_avx512(const float *a, const float *b, uint32_t dim)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = s0;
	uint32_t i = 0;

	for (; i + 32 <= dim; i += 32) {
		__m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	if (i + 16 <= dim) {
		__m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
		i += 16;
	}
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
		__m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T5 static float dot_avx512(const float *a, const float *b, uint32_t dim)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = s0;
	uint32_t i = 0;

	for (; i + 32 <= dim; i += 32) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
	}
	if (i + 16 <= dim) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		i += 16;
	}
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

static void pick_kernels(hnsw_index *x)
{
	int lvl = rvf_simd_active();

	x->l2 = l2_scalar;
	x->dot = dot_scalar;
#if defined(__x86_64__) || defined(__i386__)
	if (lvl == RVF_SIMD_AVX512) {
		x->l2 = l2_avx512;
		x->dot = dot_avx512;
	} else if (lvl == RVF_SIMD_AVX2) {
		x->l2 = l2_avx2;
		x->dot = dot_avx2;
	}
#elif defined(__wasm_simd128__)
	if (lvl == RVF_SIMD_WASM128) {
		x->l2 = rvf_l2_wasm128;
		x->dot = rvf_dot_wasm128;
	}
#else
	(void)lvl;
#endif
}

/* ---- object ------------------------------------------------------------ */
hnsw_index *hnsw_new(uint32_t dim, int metric, uint32_t M, uint32_t ef_construction, uint64_t seed)
{
	hnsw_index *x;

	if (dim == 0 || metric < 0 || metric > 2 || M < 2 || M > HNSW_MAX_M || ef_construction == 0)
		return NULL;
	x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->dim = dim;
	x->metric = metric;
	x->M = M;
	x->M0 = 2 * M;
	x->efc = ef_construction;
	x->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	x->mult = 1.0 / log((double)M);
	x->max_level = -1;
	x->stride = dim;
	pick_kernels(x);
	return x;
}

static void scratch_release(hnsw_scratch *s)
{
	free(s->visited);
	free(s->cand);
	free(s->res);
	free(s->tmp);
	memset(s, 0, sizeof *s);
}

void hnsw_free(hnsw_index *x)
{
	if (!x)
		return;
	free(x->level);
	free(x->l0);
	free(x->uoff);
	free(x->upool);
	free(x->sqn);
	free(x->chg);
	free(x->chl);
	scratch_release(&x->scratch);
	free(x);
}

void hnsw_refresh_norms(hnsw_index *x)
{
	if (x->metric != RVF_METRIC_COSINE || !x->base) {
		x->sqn_stale = x->metric == RVF_METRIC_COSINE;
		return;
	}
	for (uint32_t i = 0; i < x->cap; i++)
		if (x->level[i] >= 0) {
			const float *v = hnsw_vec(x, i);
			x->sqn[i] = x->dot(v, v, x->dim);
		}
	x->sqn_stale = 0;
}

void hnsw_set_storage(hnsw_index *x, const float *base, size_t stride)
{
	x->base = base;
	x->stride = stride ? stride : x->dim;
	if (x->sqn_stale)
		hnsw_refresh_norms(x);
}

#define GROW(p, n)                                                                                 \
	do {                                                                                       \
		void *t_ = realloc((p), (size_t)(n) * sizeof *(p));                               \
		if (!t_)                                                                           \
			return RVF_E_NOMEM;                                                        \
		(p) = t_;                                                                          \
	} while (0)

/* make node numbers < need addressable */
int hnsw_grow(hnsw_index *x, uint32_t need)
{
	uint32_t n;

	if (need > HNSW_MAX_NODES)
		return RVF_E_ARG;
	if (need <= x->alloc) {
		if (need > x->cap)
			x->cap = need;
		return 0;
	}
	n = x->alloc ? x->alloc : 64;
	while (n < need)
		n = n > HNSW_MAX_NODES / 2 ? HNSW_MAX_NODES : 2 * n;
	GROW(x->level, n);
	GROW(x->uoff, n);
	GROW(x->sqn, n);
	GROW(x->l0, (size_t)n * (1 + x->M0));
	if (x->track) {
		GROW(x->chg, n);
		memset(x->chg + x->alloc, 0, n - x->alloc);
	}
	for (uint32_t i = x->alloc; i < n; i++) {
		x->level[i] = -1;
		x->uoff[i] = UINT32_MAX;
		x->sqn[i] = 0;
		x->l0[(size_t)i * (1 + x->M0)] = 0;
	}
	x->alloc = n;
	x->cap = need;
	return 0;
}

int hnsw_scratch_reserve(hnsw_scratch *s, uint32_t nodes, size_t ef)
{
	size_t want = ef + 1;

	if (nodes > s->vcap) {
		uint32_t n = nodes + nodes / 4 + 64;
		uint32_t *v = calloc(n, sizeof *v);

		if (!v)
			return RVF_E_NOMEM;
		free(s->visited);
		s->visited = v;
		s->vcap = n;
		s->epoch = 0;
	}
	if (want > s->rcap) {
		GROW(s->res, want);
		s->rcap = want;
	}
	/* the candidate heap is bounded by the number of distinct nodes pushed */
	if (s->ccap < 256 || s->ccap < want) {
		size_t c = want < 256 ? 256 : want;
		GROW(s->cand, c);
		s->ccap = c;
	}
	if (s->tcap < want + HNSW_MAX_M * 2 + 8) {
		size_t c = want + HNSW_MAX_M * 2 + 8;
		GROW(s->tmp, c);
		s->tcap = c;
	}
	return 0;
}

hnsw_scratch *hnsw_scratch_new(void) { return calloc(1, sizeof(hnsw_scratch)); }
void hnsw_scratch_free(hnsw_scratch *s)
{
	if (s) {
		scratch_release(s);
		free(s);
	}
}

uint32_t hnsw_dim(const hnsw_index *x) { return x->dim; }
int hnsw_metric(const hnsw_index *x) { return x->metric; }
uint32_t hnsw_m(const hnsw_index *x) { return x->M; }
uint32_t hnsw_ef_construction(const hnsw_index *x) { return x->efc; }
uint32_t hnsw_capacity(const hnsw_index *x) { return x->cap; }
uint32_t hnsw_count(const hnsw_index *x) { return x->count; }
int hnsw_level(const hnsw_index *x, uint32_t n) { return n < x->cap ? x->level[n] : -1; }

int hnsw_entry(const hnsw_index *x, uint32_t *node, int *max_level)
{
	if (x->max_level < 0)
		return -1;
	if (node)
		*node = x->entry;
	if (max_level)
		*max_level = x->max_level;
	return 0;
}

const uint32_t *hnsw_links(const hnsw_index *x, uint32_t n, int layer, uint32_t *count)
{
	const uint32_t *l;

	*count = 0;
	if (n >= x->cap || layer < 0 || layer > x->level[n])
		return NULL;
	l = hnsw_list(x, n, layer);
	*count = l[0];
	return l + 1;
}

int hnsw_track_changes(hnsw_index *x, int on)
{
	if (!on) {
		free(x->chg);
		free(x->chl);
		x->chg = NULL;
		x->chl = NULL;
		x->nchl = x->chl_cap = 0;
		x->track = x->chg_overflow = 0;
		return 0;
	}
	if (x->track)
		return 0;
	x->chg = calloc(x->alloc ? x->alloc : 1, 1);
	if (!x->chg)
		return RVF_E_NOMEM;
	x->track = 1;
	x->chg_overflow = 0;
	return 0;
}

static void touch_locked(hnsw_index *x, uint32_t n);

/* In a parallel build the caller holds n's node lock, so chg[n] is stable;
 * the shared list takes its own lock. */
void hnsw_touch(hnsw_index *x, uint32_t n)
{
	if (!x->track || x->chg[n])
		return;
	if (!x->locks) {
		touch_locked(x, n);
		return;
	}
	while (__atomic_test_and_set(&x->chl_lock, __ATOMIC_ACQUIRE))
		hnsw_cpu_relax();
	touch_locked(x, n);
	__atomic_clear(&x->chl_lock, __ATOMIC_RELEASE);
}

static void touch_locked(hnsw_index *x, uint32_t n)
{
	if (x->nchl == x->chl_cap) {
		size_t c = x->chl_cap ? 2 * x->chl_cap : 256;
		uint32_t *t = realloc(x->chl, c * sizeof *t);
		if (!t) {
			x->chg_overflow = 1;
			return;
		}
		x->chl = t;
		x->chl_cap = c;
	}
	x->chg[n] = 1;
	x->chl[x->nchl++] = n;
}

const uint32_t *hnsw_changes(const hnsw_index *x, size_t *n, int *overflow)
{
	*n = x->nchl;
	*overflow = x->chg_overflow;
	return x->chl;
}

void hnsw_changes_clear(hnsw_index *x)
{
	for (size_t i = 0; i < x->nchl; i++)
		x->chg[x->chl[i]] = 0;
	x->nchl = 0;
	x->chg_overflow = 0;
}

size_t hnsw_memory(const hnsw_index *x)
{
	const hnsw_scratch *s = &x->scratch;

	return sizeof *x + (size_t)x->alloc * (1 + 4 + 4 + 4 * (1 + (size_t)x->M0)) +
	       x->ucap * 4 + (size_t)s->vcap * 4 + (s->ccap + s->rcap + s->tcap) * sizeof(hnsw_pair);
}

