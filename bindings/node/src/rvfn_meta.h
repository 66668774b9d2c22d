/* rvfn_meta.h — ingestBatch's metadata argument (meta_args.c). */
#ifndef RVFN_META_H
#define RVFN_META_H
#include "rvfn.h"

typedef struct {
	rvf_field *fields; /* all entries; string values owned (malloc'd) */
	size_t nfields;
	const rvf_field **rows; /* per row: its first entry */
	size_t *counts;         /* per row: its entry count */
} rvfn_meta;

/* v: undefined/null (no metadata), a flat array split evenly over nrows,
 * or an array of nrows arrays. false = exception thrown, m empty. */
bool rvfn_meta_parse(napi_env env, napi_value v, size_t nrows, rvfn_meta *m);
void rvfn_meta_free(rvfn_meta *m);
#endif
