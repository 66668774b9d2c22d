/* store_index.c — HNSW index of the store (being wired in: until then no
 * store has an index and every query takes the exact scan). */
#include "store.h"

int store_index_open(rvf_store *s) { (void)s; return 0; }
int store_index_ingested(rvf_store *s, size_t first_new_slot) { (void)s; (void)first_new_slot; return 0; }
int store_index_query(const rvf_store *s, const float *q, const rvf_query_opts *o, size_t k, rvf_hit *out,
		      size_t *nout)
{
	(void)s; (void)q; (void)o; (void)k; (void)out; (void)nout;
	return 1;
}
int store_index_compacted(rvf_store *s, const uint32_t *remap, size_t nold)
{
	(void)s; (void)remap; (void)nold;
	return 0;
}
void store_index_free(rvf_store *s) { (void)s; }
