/* topk.c — bounded max-heap of (id, dist): the root is the worst kept pair,
 * so a new pair is compared once against it and usually rejected. */
#include "topk.h"
#include <math.h>

/* A total order: NaN ranks after everything (even +inf), among NaNs by id,
 * so the heap never sees an unordered float comparison. */
static inline bool before(const rvf_topk_item *a, const rvf_topk_item *b)
{
	bool na = isnan(a->dist), nb = isnan(b->dist);

	if (na || nb)
		return na == nb ? a->id < b->id : nb;
	return a->dist < b->dist || (a->dist == b->dist && a->id < b->id);
}

int rvf_topk_cmp(const rvf_topk_item *a, const rvf_topk_item *b)
{
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static void sift_down(rvf_topk_item *h, size_t n, size_t i)
{
	rvf_topk_item x = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && before(&h[c], &h[c + 1]))
			c++;
		if (!before(&x, &h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static void sift_up(rvf_topk_item *h, size_t i)
{
	rvf_topk_item x = h[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!before(&h[p], &x))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

void rvf_topk_init(rvf_topk *t, size_t k, rvf_topk_item *storage)
{
	t->items = storage;
	t->cap = k;
	t->n = 0;
}

bool rvf_topk_push(rvf_topk *t, uint64_t id, float dist)
{
	rvf_topk_item x = {.id = id, .dist = dist};

	if (t->n < t->cap) {
		t->items[t->n] = x;
		sift_up(t->items, t->n++);
		return true;
	}
	if (t->cap == 0 || !before(&x, &t->items[0]))
		return false;
	t->items[0] = x;
	sift_down(t->items, t->n, 0);
	return true;
}

float rvf_topk_bound(const rvf_topk *t)
{
	if (t->n < t->cap || t->cap == 0)
		return t->cap ? INFINITY : -INFINITY;
	return t->items[0].dist;
}

/* Heapsort: repeatedly move the max to the end, giving ascending order. */
static void heap_sort(rvf_topk_item *h, size_t n)
{
	for (size_t end = n; end > 1; end--) {
		rvf_topk_item top = h[0];

		h[0] = h[end - 1];
		h[end - 1] = top;
		sift_down(h, end - 1, 0);
	}
}

size_t rvf_topk_finish(rvf_topk *t)
{
	heap_sort(t->items, t->n);
	return t->n;
}

void rvf_topk_sort(rvf_topk_item *items, size_t n)
{
	for (size_t i = n / 2; i > 0; i--)
		sift_down(items, n, i - 1);
	heap_sort(items, n);
}
