/* hnsw_parallel.c — bulk insertion with progress reporting. */
#define HNSW_INTERNAL
#include "hnsw.h"
#include "rvf.h"

int hnsw_build_parallel(hnsw_index *x, uint32_t n, unsigned threads,
			void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	(void)threads;
	uint32_t step = n / 100 ? n / 100 : 1;
	int rc = hnsw_grow(x, n);
	for (uint32_t i = 0; !rc && i < n; i++) {
		rc = hnsw_insert(x, i);
		if (progress && (i + 1) % step == 0)
			progress(ctx, i + 1, n);
	}
	if (!rc && progress)
		progress(ctx, n, n);
	return rc;
}
