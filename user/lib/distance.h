/* distance.h — vector distances (spec §17).
 *
 * Two tiers:
 *  - rvf_dist_exact(): the reference definition, each sum accumulated
 *    sequentially in f32 over dims 0..dim-1 with no fused multiply-add, so
 *    results are bit-identical to the reference implementation.
 *  - rvf_dist_batch*(): fast approximate scan of many rows (AVX-512,
 *    AVX2+FMA or scalar, picked once at run time). Results differ from the
 *    exact ones by a few ULP of the sums; callers that report distances
 *    keep the best k+margin candidates and recompute them exactly.
 *
 * Metric codes are rvf_metric (include/rvf.h): 0 L2 squared, 1 IP (-dot),
 * 2 cosine (1 - dot/sqrt(qq*vv), exactly 1.0f when that sqrt < FLT_EPSILON).
 * Unknown metric codes yield NaN distances.
 */
#ifndef RVF_DISTANCE_H
#define RVF_DISTANCE_H
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Exact reference distance between q and v (both dim floats). */
float rvf_dist_exact(int metric, const float *q, const float *v, uint32_t dim);

/* Exact sequential f32 sum of squares of v (the "vv" of the cosine metric;
 * bit-identical to the one rvf_dist_exact accumulates). */
float rvf_sqnorm_exact(const float *v, uint32_t dim);

/* Approximate distances of q to n rows: row i starts at base + i*stride
 * floats (stride >= dim; no alignment required, 32-byte aligned rows are
 * merely faster to load). out[i] receives the distance to row i.
 * For cosine, qq is computed once per call and vv once per row. */
void rvf_dist_batch(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		    size_t stride, float *out);

/* Same, but for cosine the caller supplies row_sqnorm[i] = vv of row i
 * (e.g. cached from rvf_sqnorm_exact at load time), which halves the work
 * per row. row_sqnorm is ignored for L2/IP and may be NULL (then this is
 * rvf_dist_batch). */
void rvf_dist_batch_norms(int metric, const float *q, const float *base, size_t n, uint32_t dim,
			  size_t stride, const float *row_sqnorm, float *out);

/* ---- SIMD selection (tests and benchmarks) -----------------------------
 * The kernel is resolved on first use: RVF_SIMD=scalar|avx2|avx512 in the
 * environment forces one (clamped to what the CPU supports), otherwise the
 * best available. The scalar path is bit-identical to rvf_dist_exact. */
enum rvf_simd_level {
	RVF_SIMD_AUTO = -1, /* only for rvf_simd_force: forget, re-resolve */
	RVF_SIMD_SCALAR = 0,
	RVF_SIMD_AVX2 = 1,   /* AVX2 + FMA */
	RVF_SIMD_AVX512 = 2, /* AVX-512F */
	RVF_SIMD_WASM128 = 3, /* WebAssembly SIMD128 (the wasm build only) */
};

/* Force a level for the whole process. Returns 0, or -1 if the CPU (or
 * build) lacks it, in which case nothing changes. Not meant to race with
 * running scans of other threads (they may use either kernel meanwhile). */
int rvf_simd_force(int level);
int rvf_simd_supported(int level);
int rvf_simd_active(void);           /* resolves if needed */
const char *rvf_simd_name(int level); /* "scalar", "avx2", "avx512", "wasm128" */

/* ---- internal: per-ISA kernels, shared by distance*.c only ------------- */
typedef void (*rvf_batch_fn)(int metric, const float *q, const float *base, size_t n,
			     uint32_t dim, size_t stride, const float *row_sqnorm, float *out);
void rvf_batch_avx2(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		    size_t stride, const float *row_sqnorm, float *out);
void rvf_batch_avx512(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		      size_t stride, const float *row_sqnorm, float *out);
void rvf_batch_wasm128(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		       size_t stride, const float *row_sqnorm, float *out);
/* single-pair sums for the HNSW search (distance_wasm128.c) */
float rvf_l2_wasm128(const float *a, const float *b, uint32_t dim);
float rvf_dot_wasm128(const float *a, const float *b, uint32_t dim);

/* Cosine from its three sums, exactly as the reference finishes it. */
static inline float rvf_cos_finish(float dot, float qq, float vv)
{
	float d = sqrtf(qq * vv);

	if (d < FLT_EPSILON) /* zero (or vanishingly small) vector */
		return 1.0f;
	return 1.0f - dot / d;
}
#endif
