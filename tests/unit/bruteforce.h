/* bruteforce.h — test-only exact top-k search, written independently of the
 * store's query code so the two can be compared bit for bit.
 *
 * Distances follow rvf-format.md §17: every sum is accumulated sequentially in
 * f32 over dimensions 0..dim-1 (cosine: the three sums in one pass).
 *   l2            Σ (q_i - v_i)²            (squared, no root)
 *   inner_product -Σ q_i·v_i
 *   cosine        1 - dot / sqrtf(qq·vv); 1.0 if that sqrt < FLT_EPSILON
 * Results are sorted by ascending distance, ties by ascending id (NaN last). */
#ifndef RVF_TEST_BRUTEFORCE_H
#define RVF_TEST_BRUTEFORCE_H
#include "rvf.h"
#include <stddef.h>
#include <stdint.h>

float bf_distance(rvf_metric m, const float *q, const float *v, uint32_t dim);

/* Exact top-k over arrays: ids[i] with vectors vecs[i] (dim floats each).
 * Writes min(k, n) hits to out; returns that count. */
size_t bf_topk(rvf_metric m, uint32_t dim, const uint64_t *ids, const float *const *vecs,
	       size_t n, const float *q, size_t k, rvf_hit *out);

/* Exact top-k over the live set of an open store (rvf_live_count/rvf_live_get)
 * with the store's metric. Returns the number of hits written, or (size_t)-1
 * if rvf_live_get failed. */
size_t bf_topk_store(const rvf_store *s, const float *q, size_t k, rvf_hit *out);

/* Ordering used for results: distance ascending, NaN last, then id ascending. */
int bf_hit_cmp(const void *a, const void *b);

/* Bitwise float equality (so 0.0 != -0.0 and NaN == same NaN). */
int bf_same_bits(float a, float b);
#endif
