/* topk.h — bounded max-heap keeping the k best (id, distance) pairs.
 *
 * Order is total and independent of push order: ascending distance, ties by
 * ascending id; NaN ranks after every other distance, +inf included (NaNs
 * among themselves by id), so it never disturbs the finite results. The caller provides the
 * storage, so any capacity works: the store keeps k+margin approximate
 * candidates in one heap, recomputes them exactly, and re-sorts them with
 * rvf_topk_sort() (or pushes them into a second heap of capacity k).
 */
#ifndef RVF_TOPK_H
#define RVF_TOPK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t id;
	float dist;
} rvf_topk_item;

typedef struct {
	rvf_topk_item *items; /* heap while pushing, sorted after finish */
	size_t cap;
	size_t n;
} rvf_topk;

/* storage must hold k items; k == 0 is allowed (keeps nothing). */
void rvf_topk_init(rvf_topk *t, size_t k, rvf_topk_item *storage);

/* Offer a pair; returns true if it was kept (it may be evicted later). */
bool rvf_topk_push(rvf_topk *t, uint64_t id, float dist);

/* Worst kept distance once the heap is full (+infinity while it is not,
 * -infinity if k == 0): a scan may skip any d with d > bound. It can be NaN,
 * which then skips nothing; a d equal to it may still win on a smaller id. */
float rvf_topk_bound(const rvf_topk *t);

/* Sort the kept pairs ascending in place (t->items) and return how many
 * there are. The heap is consumed: push no more until rvf_topk_init. */
size_t rvf_topk_finish(rvf_topk *t);

/* Sort any array of pairs in the same order (for the exact rerank). */
void rvf_topk_sort(rvf_topk_item *items, size_t n);

/* <0, 0, >0 as a ranks before, equal to, after b. */
int rvf_topk_cmp(const rvf_topk_item *a, const rvf_topk_item *b);
#endif
