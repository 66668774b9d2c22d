/* store_index_build.c — building the store's HNSW graph over every slot
 * (tombstoned ones included, as the reference: node_count = stored
 * records), on several threads (hnsw_build_parallel) with a progress
 * callback. */
#include "errors.h"
#include "store_index.h"
#include <stdlib.h>
#include <unistd.h>

unsigned idx_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

unsigned idx_threads(const rvf_store *s)
{
	unsigned t = s->ilog ? s->ilog->threads : 0;
	return t ? t : idx_default_threads();
}

int idx_build_graph(rvf_store *s, uint32_t m, uint32_t efc, hnsw_index **out)
{
	*out = NULL;
	if (!m)
		m = IDX_DEFAULT_M;
	if (!efc)
		efc = IDX_DEFAULT_EFC;
	if (m < 2 || m > HNSW_MAX_M || m > UINT16_MAX)
		return rvf_fail(RVF_E_ARG, "index: M must be between 2 and %u (got %u)", HNSW_MAX_M, m);
	if (s->nslots > HNSW_MAX_NODES)
		return rvf_fail(RVF_E_ARG, "index: too many vectors (%zu)", s->nslots);
	hnsw_index *g = hnsw_new(s->dim, (int)s->metric, m, efc, IDX_SEED);
	if (!g)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	hnsw_set_storage(g, s->vecs, s->stride);
	const struct index_log *l = s->ilog;
	int err = hnsw_build_parallel(g, (uint32_t)s->nslots, idx_threads(s), l ? l->progress : NULL,
				      l ? l->progress_ctx : NULL);
	if (!err)
		err = hnsw_track_changes(g, 1);
	if (err) {
		hnsw_free(g);
		return rvf_fail(err, "%s: building the HNSW index failed", s->path);
	}
	*out = g;
	return 0;
}
