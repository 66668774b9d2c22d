/* serve_api.c — the JSON endpoints of `rvf serve`: /v1/status, /v1/query,
 * /v1/ingest, /v1/delete. Every store call runs under sv->mu. Ids are u64
 * end to end (cli_json_loadb / cli_json_get_u64 in, cli_json_u64 out). */
#ifdef RVF_HAVE_MHD
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvf_frontend.h"
#include "serve.h"

/* ---- request parsing helpers ---------------------------------------------- */

/* Body as a JSON object, or NULL after sending the 400. */
static json_t *parse_body(struct server *sv, struct MHD_Connection *c, struct req *q,
			  enum MHD_Result *ret)
{
	json_error_t je;
	json_t *j;

	if (!q->len) {
		*ret = serve_send_error(sv, c, q->route, MHD_HTTP_BAD_REQUEST,
				  "empty request body: expected a JSON object");
		return NULL;
	}
	j = cli_json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		*ret = serve_send_error(sv, c, q->route, MHD_HTTP_BAD_REQUEST,
				  "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*ret = serve_send_error(sv, c, q->route, MHD_HTTP_BAD_REQUEST,
				  "request body must be a JSON object");
		return NULL;
	}
	return j;
}

/* Non-negative integer field; 0 ok, 1 absent, -1 wrong type/range. */
static int get_uint(const json_t *o, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_bool(const json_t *o, const char *key, int *out)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 1;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* "filter": a JSON object/array, or a string holding one. NULL *f if absent.
 * Returns 0 or -1 with msg filled. */
static int get_filter(struct server *sv, const json_t *o, rvf_filter **f, char *msg, size_t len)
{
	const json_t *v = json_object_get(o, "filter");
	char *txt;
	int e;

	*f = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		txt = strdup(json_string_value(v));
	else if (json_is_object(v) || json_is_array(v))
		txt = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
	else {
		snprintf(msg, len, "\"filter\" must be a JSON object (or a string holding one)");
		return -1;
	}
	if (!txt) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&sv->mu); /* field names: the store's dictionary */
	e = rvf_filter_parse_names(sv->s, txt, f);
	pthread_mutex_unlock(&sv->mu);
	free(txt);
	if (e) {
		snprintf(msg, len, "invalid filter: %s", rvf_last_error());
		return -1;
	}
	return 0;
}

/* ---- handlers ------------------------------------------------------------------ */

enum MHD_Result serve_h_status(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	rvf_status st;
	int e;

	pthread_mutex_lock(&sv->mu);
	e = rvf_get_status(sv->s, &st);
	if (e) {
		enum MHD_Result r = serve_send_store_error(sv, c, q->route, e);
		pthread_mutex_unlock(&sv->mu);
		return r;
	}
	pthread_mutex_unlock(&sv->mu);
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "total_vectors", cli_json_u64(st.total_vectors));
		json_object_set_new(o, "total_segments", cli_json_u64(st.total_segments));
		json_object_set_new(o, "file_size", cli_json_u64(st.file_size));
		json_object_set_new(o, "current_epoch", json_integer(st.epoch));
		json_object_set_new(o, "profile_id", json_integer(st.profile_id));
		json_object_set_new(o, "dead_space_ratio", cli_json_real(st.dead_space_ratio));
		json_object_set_new(o, "read_only", json_boolean(st.read_only));
		json_object_set_new(o, "dimension", json_integer(st.dimension));
		json_object_set_new(o, "metric", json_string(rvf_metric_name(st.metric)));
		json_object_set_new(o, "deleted_vectors", cli_json_u64(st.deleted_vectors));
		json_object_set_new(o, "stored_vectors", cli_json_u64(st.stored_vectors));
	}
	return serve_send_json(sv, c, q->route, MHD_HTTP_OK, o);
}

enum MHD_Result serve_h_query(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	enum MHD_Result ret = MHD_NO;
	uint64_t k = 10, ef = 0, tmo = 0;
	int with_meta = 0, exact = 0, e;
	rvf_filter *f = NULL;
	rvf_hit *hits = NULL;
	float *vec = NULL;
	char msg[512];
	size_t bad = 0, nout = 0;
	json_t *j, *v;
	uint32_t dim = rvf_dimension(sv->s); /* fixed for the life of the store */

	if (!(j = parse_body(sv, c, q, &ret)))
		return ret;
	v = json_object_get(j, "vector");
	if (!v) {
		ret = serve_send_error(sv, c, q->route, 400, "missing field \"vector\"");
		goto out;
	}
	if (!json_is_array(v)) {
		ret = serve_send_error(sv, c, q->route, 400, "\"vector\" must be an array of numbers");
		goto out;
	}
	if (get_uint(j, "k", UINT32_MAX, &k) < 0 || get_uint(j, "ef_search", UINT32_MAX, &ef) < 0 ||
	    get_uint(j, "timeout_ms", UINT32_MAX, &tmo) < 0) {
		ret = serve_send_error(sv, c, q->route, 400,
				 "\"k\", \"ef_search\" and \"timeout_ms\" must be integers 0..4294967295");
		goto out;
	}
	if (!k) {
		ret = serve_send_error(sv, c, q->route, 400, "k must be > 0");
		goto out;
	}
	if (get_bool(j, "with_metadata", &with_meta) < 0 || get_bool(j, "exact", &exact) < 0) {
		ret = serve_send_error(sv, c, q->route, 400, "\"with_metadata\" and \"exact\" must be booleans");
		goto out;
	}
	vec = malloc((dim ? dim : 1) * sizeof *vec);
	if (!vec) {
		ret = serve_send_error(sv, c, q->route, 500, "out of memory");
		goto out;
	}
	e = cli_json_floats(v, vec, dim, &bad);
	if (e == -2) {
		ret = serve_send_error(sv, c, q->route, 400,
				 "dimension mismatch: query vector has %zu components, the store has "
				 "dimension %u", json_array_size(v), dim);
		goto out;
	}
	if (e == -1) {
		ret = serve_send_error(sv, c, q->route, 400, "\"vector\" component %zu is not a number", bad);
		goto out;
	}
	if (get_filter(sv, j, &f, msg, sizeof msg)) {
		ret = serve_send_error(sv, c, q->route, 400, "%s", msg);
		goto out;
	}

	pthread_mutex_lock(&sv->mu);
	uint64_t live = rvf_live_count(sv->s);
	if (k > live)
		k = live;
	if (k && !(hits = malloc(k * sizeof *hits))) {
		pthread_mutex_unlock(&sv->mu);
		ret = serve_send_error(sv, c, q->route, 500, "out of memory");
		goto out;
	}
	if (k) {
		rvf_query_opts o = {
			.k = k, .filter = f, .ef_search = (uint32_t)ef, .timeout_ms = (uint32_t)tmo,
			.exact = exact,
		};
		double t0 = serve_mono_s();
		e = rvf_query_ex(sv->s, vec, dim, &o, hits, &nout);
		serve_observe_latency(sv, serve_mono_s() - t0);
		if (e) {
			ret = serve_send_store_error(sv, c, q->route, e);
			pthread_mutex_unlock(&sv->mu);
			goto out;
		}
	}
	/* Metadata pointers are valid until the next write: build under the lock. */
	json_t *res = json_pack("{s:I, s:o}", "count", (json_int_t)nout, "results",
				cli_json_hits_meta(sv->s, hits, nout, with_meta));
	pthread_mutex_unlock(&sv->mu);
	ret = serve_send_json(sv, c, q->route, MHD_HTTP_OK, res);
out:
	rvf_filter_free(f);
	free(hits);
	free(vec);
	json_decref(j);
	return ret;
}

enum MHD_Result serve_h_ingest(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	enum MHD_Result ret = MHD_NO;
	uint32_t dim = rvf_dimension(sv->s);
	const json_t *vecs, *ids, *mds;
	rvf_field **fields = NULL;
	size_t *nfields = NULL;
	uint64_t *idv = NULL;
	float *data = NULL;
	size_t n, i, bad = 0;
	int simple, e;
	json_t *j;

	if (!(j = parse_body(sv, c, q, &ret)))
		return ret;
	vecs = json_object_get(j, "vectors");
	if (!vecs) {
		ret = serve_send_error(sv, c, q->route, 400, "missing field \"vectors\"");
		goto out;
	}
	if (!json_is_array(vecs)) {
		ret = serve_send_error(sv, c, q->route, 400,
				 "\"vectors\" must be an array of {\"id\", \"vector\", \"metadata\"?} "
				 "objects (or of vectors, with \"ids\")");
		goto out;
	}
	n = json_array_size(vecs);
	if (!n) {
		ret = serve_send_error(sv, c, q->route, 400, "vectors must not be empty");
		goto out;
	}
	/* Reference shape: {"vectors": [[..]..], "ids": [..], "metadata"?: [{..}..]}. */
	simple = json_is_array(json_array_get(vecs, 0));
	ids = json_object_get(j, "ids");
	mds = json_object_get(j, "metadata");
	if (simple) {
		if (!ids || !json_is_array(ids)) {
			ret = serve_send_error(sv, c, q->route, 400,
					 "missing field \"ids\" (required when \"vectors\" holds arrays)");
			goto out;
		}
		if (json_array_size(ids) != n) {
			ret = serve_send_error(sv, c, q->route, 400, "vectors and ids must have the same length");
			goto out;
		}
		if (mds && !json_is_null(mds) && (!json_is_array(mds) || json_array_size(mds) != n)) {
			ret = serve_send_error(sv, c, q->route, 400,
					 "\"metadata\" must be an array with one object per vector");
			goto out;
		}
	} else if (ids) {
		ret = serve_send_error(sv, c, q->route, 400,
				 "\"ids\" is only accepted when \"vectors\" holds arrays; put \"id\" in "
				 "each record");
		goto out;
	}
	idv = calloc(n, sizeof *idv);
	data = malloc(n * (dim ? dim : 1) * sizeof *data);
	fields = calloc(n, sizeof *fields);
	nfields = calloc(n, sizeof *nfields);
	if (!idv || !data || !fields || !nfields) {
		ret = serve_send_error(sv, c, q->route, 500, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const json_t *rec = json_array_get(vecs, i), *id, *v, *md;

		if (simple) {
			id = json_array_get(ids, i);
			v = rec;
			md = mds && !json_is_null(mds) ? json_array_get(mds, i) : NULL;
		} else {
			if (!json_is_object(rec)) {
				ret = serve_send_error(sv, c, q->route, 400,
						 "vectors[%zu]: expected an object with \"id\" and \"vector\"", i);
				goto out;
			}
			id = json_object_get(rec, "id");
			v = json_object_get(rec, "vector");
			md = json_object_get(rec, "metadata");
			if (!id || !v) {
				ret = serve_send_error(sv, c, q->route, 400, "vectors[%zu]: missing field \"%s\"",
						 i, id ? "vector" : "id");
				goto out;
			}
		}
		if (cli_json_get_u64(id, &idv[i])) {
			ret = serve_send_error(sv, c, q->route, 400,
					       "%s[%zu]: id must be a non-negative integer (at most "
					       "18446744073709551615)",
					       simple ? "ids" : "vectors", i);
			goto out;
		}
		if (!json_is_array(v)) {
			ret = serve_send_error(sv, c, q->route, 400, "vectors[%zu]: vector must be an array of numbers", i);
			goto out;
		}
		e = cli_json_floats(v, data + i * dim, dim, &bad);
		if (e == -2) {
			ret = serve_send_error(sv, c, q->route, 400,
					 "dimension mismatch: vectors[%zu] has %zu components, the store "
					 "has dimension %u", i, json_array_size(v), dim);
			goto out;
		}
		if (e == -1) {
			ret = serve_send_error(sv, c, q->route, 400,
					 "vectors[%zu]: component %zu is not a number", i, bad);
			goto out;
		}
		if (md && !json_is_null(md)) {
			meta_names nm = cli_names(sv->s, 1);

			pthread_mutex_lock(&sv->mu); /* new names join the store's dictionary */
			e = meta_from_json_names(md, &nm, &fields[i], &nfields[i]);
			pthread_mutex_unlock(&sv->mu);
			if (e) {
				ret = serve_send_error(sv, c, q->route, 400, "vectors[%zu]: bad metadata: %s", i,
						 rvf_last_error());
				goto out;
			}
		}
	}
	rvf_ingest_result res;
	pthread_mutex_lock(&sv->mu);
	e = rvf_ingest_meta(sv->s, idv, data, n, (const rvf_field *const *)fields, nfields, &res);
	if (e) {
		ret = serve_send_store_error(sv, c, q->route, e);
		pthread_mutex_unlock(&sv->mu);
		goto out;
	}
	pthread_mutex_unlock(&sv->mu);
	ret = serve_send_json(sv, c, q->route, MHD_HTTP_OK,
			json_pack("{s:o, s:o, s:I}", "accepted", cli_json_u64(res.accepted), "rejected",
				  cli_json_u64(res.rejected), "epoch", (json_int_t)res.epoch));
out:
	if (fields)
		for (i = 0; i < n; i++)
			free(fields[i]);
	free(fields);
	free(nfields);
	free(idv);
	free(data);
	json_decref(j);
	return ret;
}

enum MHD_Result serve_h_delete(struct server *sv, struct MHD_Connection *c, struct req *q)
{
	enum MHD_Result ret = MHD_NO;
	const json_t *ids, *x;
	uint64_t *idv = NULL;
	rvf_filter *f = NULL;
	rvf_delete_result res;
	char msg[512];
	size_t n = 0, i;
	json_t *j;
	int e;

	if (!(j = parse_body(sv, c, q, &ret)))
		return ret;
	ids = json_object_get(j, "ids");
	if (ids && json_object_get(j, "filter")) {
		ret = serve_send_error(sv, c, q->route, 400, "give either \"ids\" or \"filter\", not both");
		goto out;
	}
	if (ids) {
		if (!json_is_array(ids)) {
			ret = serve_send_error(sv, c, q->route, 400, "\"ids\" must be an array of integers");
			goto out;
		}
		n = json_array_size(ids);
		if (!n) {
			ret = serve_send_error(sv, c, q->route, 400, "ids must not be empty");
			goto out;
		}
		idv = malloc(n * sizeof *idv);
		if (!idv) {
			ret = serve_send_error(sv, c, q->route, 500, "out of memory");
			goto out;
		}
		json_array_foreach(ids, i, x) {
			if (cli_json_get_u64(x, &idv[i])) {
				ret = serve_send_error(sv, c, q->route, 400,
						       "ids[%zu] must be a non-negative integer (at most "
						       "18446744073709551615)",
						       i);
				goto out;
			}
		}
	} else {
		if (get_filter(sv, j, &f, msg, sizeof msg)) {
			ret = serve_send_error(sv, c, q->route, 400, "%s", msg);
			goto out;
		}
		if (!f) {
			ret = serve_send_error(sv, c, q->route, 400, "missing field: expected \"ids\" or \"filter\"");
			goto out;
		}
	}
	pthread_mutex_lock(&sv->mu);
	e = f ? rvf_delete_filter(sv->s, f, &res) : rvf_delete(sv->s, idv, n, &res);
	if (e) {
		ret = serve_send_store_error(sv, c, q->route, e);
		pthread_mutex_unlock(&sv->mu);
		goto out;
	}
	pthread_mutex_unlock(&sv->mu);
	ret = serve_send_json(sv, c, q->route, MHD_HTTP_OK,
			json_pack("{s:o, s:I}", "deleted", cli_json_u64(res.deleted), "epoch",
				  (json_int_t)res.epoch));
out:
	rvf_filter_free(f);
	free(idv);
	json_decref(j);
	return ret;
}

#endif /* RVF_HAVE_MHD */
