/* rvf_wasm.c — the entry points rvf.wasm exports to JavaScript (rvf.mjs).
 * Numbers cross as wasm i32/i64/f32/f64, results that have structure
 * (status, metadata, segments) as malloc'd JSON text the caller frees with
 * free(). Only the public API (rvf.h) and Jansson's are used, and
 * distance.h's name of the distance kernel in use. */
#include "distance.h"
#include "rvf.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RVFW_EXPORT __attribute__((visibility("default")))

RVFW_EXPORT rvf_store *rvfw_open(const void *buf, uint32_t len)
{
	rvf_store *s = NULL;

	return rvf_open_buffer(buf, len, &s) ? NULL : s;
}

RVFW_EXPORT void rvfw_close(rvf_store *s) { rvf_close(s); }

RVFW_EXPORT const char *rvfw_last_error(void) { return rvf_last_error(); }

RVFW_EXPORT const char *rvfw_open_warning(const rvf_store *s) { return rvf_open_warning(s); }

RVFW_EXPORT uint32_t rvfw_dimension(const rvf_store *s) { return rvf_dimension(s); }

/* "wasm128" (the SIMD128 kernels) or "scalar". */
RVFW_EXPORT const char *rvfw_simd(void) { return rvf_simd_name(rvf_simd_active()); }

/* Query: k hits into ids[k] / dist[k]; returns the hit count (>= 0) or an
 * RVF_E_* code (< 0; message in rvfw_last_error). mode 0 = what the store
 * offers (HNSW if indexed), 1 = exact, 2 = SQ8 codes + rerank. */
RVFW_EXPORT int32_t rvfw_query(const rvf_store *s, const float *q, uint32_t dim, uint32_t k,
			       uint32_t ef_search, const char *filter_json, int32_t mode, uint64_t *ids,
			       float *dist)
{
	rvf_filter *f = NULL;
	rvf_hit *hits;
	size_t n = 0;
	int err;

	if (!s || !q || !ids || !dist || k == 0 || k > 100000 || mode < 0 || mode > 2)
		return RVF_E_ARG;
	/* NULL: no filter; "" is invalid JSON, as for `rvf query --filter ''` */
	if (filter_json && (err = rvf_filter_parse(filter_json, &f)))
		return err;
	hits = malloc((size_t)k * sizeof *hits);
	if (!hits) {
		rvf_filter_free(f);
		return RVF_E_NOMEM;
	}
	rvf_query_opts o = {
		.k = k, .filter = f, .ef_search = ef_search, .exact = mode == 1, .quant = mode == 2 ? RVF_QUANT_SQ8 : 0,
	};
	err = rvf_query_ex(s, q, dim, &o, hits, &n);
	rvf_filter_free(f);
	if (!err)
		for (size_t i = 0; i < n; i++) {
			ids[i] = hits[i].id;
			dist[i] = hits[i].distance;
		}
	free(hits);
	return err ? err : (int32_t)n;
}

static char *dump(json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	return t;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

RVFW_EXPORT char *rvfw_status_json(const rvf_store *s)
{
	rvf_status st;
	rvf_identity id;
	char fid[33], pid[33];

	if (!s || rvf_get_status(s, &st))
		return NULL;
	json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:s,s:i}", "total_vectors",
			      (json_int_t)st.total_vectors, "deleted_vectors", (json_int_t)st.deleted_vectors,
			      "total_segments", (json_int_t)st.total_segments, "file_size",
			      (json_int_t)st.file_size, "inherited_vectors", (json_int_t)st.inherited_vectors,
			      "epoch", (int)st.epoch, "dimension", (int)st.dimension, "metric",
			      rvf_metric_name(st.metric), "profile_id", (int)st.profile_id);
	if (j && !rvf_get_identity(s, &id)) {
		hex(fid, id.file_id, 16);
		hex(pid, id.parent_id, 16);
		json_object_set_new(j, "file_id", json_string(fid));
		json_object_set_new(j, "parent_id", json_string(pid));
		json_object_set_new(j, "lineage_depth", json_integer(id.lineage_depth));
	}
	return dump(j);
}

/* Metadata of a live id as {"FIELD_ID": value}; NULL + RVF_E_NOT_FOUND in
 * rvfw_last_error if the id is not live. u64 values above 2^53 become
 * strings (JavaScript numbers would round them). */
RVFW_EXPORT char *rvfw_meta_json(const rvf_store *s, uint64_t id)
{
	const rvf_field *f;
	size_t n;
	char key[8];

	if (!s || rvf_get_meta(s, id, &f, &n))
		return NULL;
	json_t *j = json_object();
	for (size_t i = 0; j && i < n; i++) {
		json_t *v;
		char big[24];
		switch (f[i].type) {
		case RVF_FIELD_U64:
			if (f[i].v.u64 <= (1ull << 53)) {
				v = json_integer((json_int_t)f[i].v.u64);
			} else {
				snprintf(big, sizeof big, "%llu", (unsigned long long)f[i].v.u64);
				v = json_string(big);
			}
			break;
		case RVF_FIELD_I64:
			v = json_integer(f[i].v.i64);
			break;
		case RVF_FIELD_F64:
			v = json_real(f[i].v.f64);
			break;
		case RVF_FIELD_BOOL:
			v = json_boolean(f[i].v.b);
			break;
		default:
			/* not UTF-8: null rather than text JSON cannot carry */
			v = json_stringn(f[i].v.str.ptr, f[i].v.str.len);
			if (!v)
				v = json_null();
			break;
		}
		snprintf(key, sizeof key, "%u", f[i].id);
		json_object_set_new(j, key, v);
	}
	return dump(j);
}

RVFW_EXPORT char *rvfw_segments_json(const rvf_store *s)
{
	json_t *a = json_array();
	size_t n = s ? rvf_segment_count(s) : 0;

	for (size_t i = 0; a && i < n; i++) {
		rvf_segment_info si;
		if (rvf_segment_get(s, i, &si))
			continue;
		json_array_append_new(a, json_pack("{s:I,s:I,s:I,s:s}", "id", (json_int_t)si.seg_id, "offset",
						   (json_int_t)si.offset, "payload_length",
						   (json_int_t)si.payload_length, "type",
						   rvf_segment_type_name(si.seg_type)));
	}
	return dump(a);
}
