/* hnsw_parallel.c — bulk insertion on several threads.
 *
 * Levels are drawn and every node's lists allocated first, on the calling
 * thread (so nothing reallocates later). Then the workers take nodes in
 * order from a shared counter and link them as hnsw_insert does, with each
 * node's link lists guarded by a one-byte spin lock (x->locks: searches
 * copy a list under its lock, back-links modify it under it) and the entry
 * point by a mutex. One thread (or few nodes) inserts in order instead,
 * giving exactly hnsw_insert's graph.
 */
#define HNSW_INTERNAL
#include "hnsw.h"
#include "rvf.h"
#include <pthread.h>
#include <stdlib.h>

#define PAR_MIN 2048 /* fewer nodes: not worth the threads */

struct par {
	hnsw_index *x;
	uint32_t n; /* nodes below n are linked */
	uint32_t next, done; /* atomics */
	pthread_mutex_t entry_lock;
	int err;
};

static void link_one(struct par *p, hnsw_scratch *s, uint32_t node)
{
	hnsw_index *x = p->x;
	int lvl = x->level[node];
	pthread_mutex_lock(&p->entry_lock);
	uint32_t ep = x->entry;
	int top = x->max_level;
	pthread_mutex_unlock(&p->entry_lock);
	hnsw_link_node(x, s, node, lvl, ep, top);
	if (lvl > top) {
		pthread_mutex_lock(&p->entry_lock);
		if (lvl > x->max_level) {
			x->entry = node;
			x->max_level = lvl;
		}
		pthread_mutex_unlock(&p->entry_lock);
	}
	__atomic_add_fetch(&p->done, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	struct par *p = arg;
	hnsw_scratch *s = hnsw_scratch_new();
	if (!s || hnsw_scratch_reserve(s, p->x->cap, p->x->efc)) {
		hnsw_scratch_free(s);
		__atomic_store_n(&p->err, RVF_E_NOMEM, __ATOMIC_RELAXED);
		return NULL;
	}
	uint32_t i;
	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n)
		link_one(p, s, i);
	hnsw_scratch_free(s);
	return NULL;
}

int hnsw_insert_parallel(hnsw_index *x, uint32_t first, uint32_t n, unsigned threads,
			 void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	uint32_t step = n / 100 ? n / 100 : 1, end = first + n;
	int rc = end < first ? RVF_E_ARG : hnsw_grow(x, end > x->cap ? end : x->cap);

	if (rc)
		return rc;
	if (threads <= 1 || n < PAR_MIN || !x->base || x->sqn_stale) {
		for (uint32_t i = 0; !rc && i < n; i++) {
			rc = hnsw_insert(x, first + i);
			if (progress && (i + 1) % step == 0)
				progress(ctx, i + 1, n);
		}
		if (!rc && progress)
			progress(ctx, n, n);
		return rc;
	}
	for (uint32_t i = first; !rc && i < end; i++)
		rc = hnsw_add_node(x, i, hnsw_random_level(x));
	if (!rc && !(x->locks = calloc(x->alloc, 1)))
		rc = RVF_E_NOMEM;
	if (rc)
		return rc;
	struct par p = {.x = x, .n = end, .next = first, .done = 0};
	if (x->max_level < 0) { /* empty graph: the first node is the entry */
		x->entry = first;
		x->max_level = x->level[first];
		p.next = first + 1;
		p.done = 1;
	}
	pthread_mutex_init(&p.entry_lock, NULL);
	unsigned nt = threads > 256 ? 256 : threads;
	pthread_t th[256];
	unsigned started = 0;
	for (unsigned t = 1; t < nt; t++)
		if (!pthread_create(&th[started], NULL, worker, &p))
			started++;
	/* The calling thread works too, and reports progress. */
	hnsw_scratch *s = hnsw_scratch_new();
	if (s && !hnsw_scratch_reserve(s, x->cap, x->efc)) {
		uint32_t i, shown = 0;
		while ((i = __atomic_fetch_add(&p.next, 1, __ATOMIC_RELAXED)) < end) {
			link_one(&p, s, i);
			uint32_t d = __atomic_load_n(&p.done, __ATOMIC_RELAXED);
			if (progress && d / step != shown) {
				shown = d / step;
				progress(ctx, d, n);
			}
		}
	} else if (!started) {
		p.err = RVF_E_NOMEM;
	}
	hnsw_scratch_free(s);
	for (unsigned t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&p.entry_lock);
	free(x->locks);
	x->locks = NULL;
	if (p.err && p.done < n)
		return p.err;
	if (progress)
		progress(ctx, n, n);
	return 0;
}

int hnsw_build_parallel(hnsw_index *x, uint32_t n, unsigned threads,
			void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	if (x->count)
		return RVF_E_ARG;
	return hnsw_insert_parallel(x, 0, n, threads, progress, ctx);
}
