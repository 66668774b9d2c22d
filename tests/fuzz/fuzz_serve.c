/* fuzz_serve.c — libFuzzer harness for the decoding behind `rvf serve`'s
 * POST bodies (user/cli/cli_serve.c: /v1/query, /v1/ingest, /v1/delete).
 *
 * cli_serve.c keeps its body handling inside the libmicrohttpd handlers, so
 * this harness follows the same steps on the same library calls: the body
 * parsed by jansson with JSON_REJECT_DUPLICATES, "filter" (object or string)
 * through rvf_filter_parse, per-record "metadata" through meta_from_json,
 * then rvf_ingest_meta / rvf_query_ex / rvf_delete / rvf_delete_filter on a
 * fresh dim-4 store (tmpfs) holding 10 vectors with metadata. The HTTP
 * plumbing itself is covered by tests/integration/serve_http.sh.
 *
 * Input byte 0 picks the route, the rest is the body. Checks: failures
 * leave a message; a query answers at most min(k, live) hits, sorted; after
 * an accepted ingest every id is live with the metadata of its last row
 * (the store upserts, last wins), and the store reopens with the same live
 * count. */
#include "fuzz_util.h"
#include "filter.h"
#include "meta.h"
#include "rvf.h"

#include <math.h>

#define DIM 4

static char path[400];

static rvf_store *fresh(void)
{
	rvf_store *s;
	remove(path);
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (rvf_create(path, &o, &s))
		abort();
	uint64_t ids[10];
	float v[10 * DIM];
	rvf_field f[10];
	const rvf_field *fs[10];
	size_t nf[10];
	for (int i = 0; i < 10; i++) {
		ids[i] = (uint64_t)i;
		for (int d = 0; d < DIM; d++)
			v[i * DIM + d] = (float)(i + d);
		f[i] = (rvf_field){.id = 0, .type = RVF_FIELD_U64, .v.u64 = (uint64_t)i * 10};
		fs[i] = &f[i];
		nf[i] = 1;
	}
	if (rvf_ingest_meta(s, ids, v, 10, fs, nf, NULL))
		abort();
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(path, sizeof path, "%s/serve.rvf", fz_workdir());
	return 0;
}

static int filter_of(const json_t *o, rvf_filter **f)
{
	const json_t *v = json_object_get(o, "filter");
	*f = NULL;
	if (!v || json_is_null(v))
		return 0;
	char *txt;
	if (json_is_string(v))
		txt = strdup(json_string_value(v));
	else if (json_is_object(v) || json_is_array(v))
		txt = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
	else
		return -1;
	if (!txt)
		abort();
	int e = rvf_filter_parse(txt, f);
	free(txt);
	if (e && (*f || !*rvf_last_error()))
		abort();
	return e ? -1 : 0;
}

static int floats(const json_t *arr, float *out, size_t dim)
{
	size_t i;
	json_t *x;
	if (!json_is_array(arr) || json_array_size(arr) != dim)
		return -1;
	json_array_foreach(arr, i, x) {
		if (!json_is_number(x))
			return -1;
		out[i] = (float)json_number_value(x);
	}
	return 0;
}

static void query(rvf_store *s, const json_t *j)
{
	float q[DIM];
	const json_t *k = json_object_get(j, "k");
	if (floats(json_object_get(j, "vector"), q, DIM))
		return;
	json_int_t kv = k && json_is_integer(k) ? json_integer_value(k) : 10;
	if (kv <= 0 || kv > UINT32_MAX)
		return;
	rvf_filter *f;
	if (filter_of(j, &f))
		return;
	uint64_t live = rvf_live_count(s);
	size_t kk = (uint64_t)kv > live ? live : (size_t)kv;
	rvf_hit *hits = malloc((kk ? kk : 1) * sizeof *hits);
	if (!hits)
		abort();
	size_t n = 0;
	const json_t *ex = json_object_get(j, "exact");
	rvf_query_opts o = {.k = kk, .filter = f, .exact = json_is_true(ex)};
	int e = kk ? rvf_query_ex(s, q, DIM, &o, hits, &n) : 0;
	if (e && !*rvf_last_error())
		abort();
	if (!e) {
		if (n > kk)
			abort();
		for (size_t i = 0; i < n; i++) {
			const rvf_field *mf;
			size_t nmf;
			if (rvf_get_meta(s, hits[i].id, &mf, &nmf) != RVF_OK)
				abort(); /* a hit is a live id */
			if (i && hits[i].distance < hits[i - 1].distance)
				abort();
		}
	}
	free(hits);
	rvf_filter_free(f);
}

static void ingest(rvf_store *s, const json_t *j)
{
	const json_t *vecs = json_object_get(j, "vectors");
	size_t n = json_array_size(vecs);
	if (!json_is_array(vecs) || !n || n > 4096)
		return;
	int simple = json_is_array(json_array_get(vecs, 0));
	const json_t *ids = json_object_get(j, "ids"), *mds = json_object_get(j, "metadata");
	if (simple && (!json_is_array(ids) || json_array_size(ids) != n))
		return;
	if (simple && mds && !json_is_null(mds) && (!json_is_array(mds) || json_array_size(mds) != n))
		return;
	uint64_t *idv = calloc(n, sizeof *idv);
	float *data = malloc(n * DIM * sizeof *data);
	rvf_field **fields = calloc(n, sizeof *fields);
	size_t *nf = calloc(n, sizeof *nf);
	if (!idv || !data || !fields || !nf)
		abort();
	size_t i;
	int bad = 0;
	for (i = 0; i < n && !bad; i++) {
		const json_t *rec = json_array_get(vecs, i), *id, *v, *md;
		if (simple) {
			id = json_array_get(ids, i);
			v = rec;
			md = mds && !json_is_null(mds) ? json_array_get(mds, i) : NULL;
		} else {
			id = json_object_get(rec, "id");
			v = json_object_get(rec, "vector");
			md = json_object_get(rec, "metadata");
		}
		if (!json_is_integer(id) || json_integer_value(id) < 0 || floats(v, data + i * DIM, DIM)) {
			bad = 1;
			break;
		}
		idv[i] = (uint64_t)json_integer_value(id);
		if (md && !json_is_null(md) && meta_from_json(md, &fields[i], &nf[i])) {
			if (fields[i] || !*rvf_last_error())
				abort();
			bad = 1;
		}
	}
	if (!bad) {
		rvf_ingest_result res;
		int e = rvf_ingest_meta(s, idv, data, n, (const rvf_field *const *)fields, nf, &res);
		if (e && !*rvf_last_error())
			abort();
		if (!e && !res.rejected) {
			for (i = 0; i < n; i++) {
				size_t last = i;
				for (size_t t = i + 1; t < n; t++)
					if (idv[t] == idv[i])
						last = t;
				const rvf_field *got;
				size_t ng;
				if (rvf_get_meta(s, idv[i], &got, &ng) != RVF_OK || ng != nf[last])
					abort();
				for (size_t t = 0; t < ng; t++)
					if (got[t].id != fields[last][t].id ||
					    !meta_value_eq(&got[t], &fields[last][t]))
						abort();
			}
		}
	}
	for (i = 0; i < n; i++)
		free(fields[i]);
	free(fields);
	free(nf);
	free(idv);
	free(data);
}

static void delete(rvf_store *s, const json_t *j)
{
	const json_t *ids = json_object_get(j, "ids"), *x;
	rvf_delete_result res;
	if (ids) {
		size_t n = json_array_size(ids), i;
		if (!json_is_array(ids) || !n)
			return;
		uint64_t *idv = malloc(n * sizeof *idv);
		if (!idv)
			abort();
		json_array_foreach(ids, i, x) {
			if (!json_is_integer(x) || json_integer_value(x) < 0) {
				free(idv);
				return;
			}
			idv[i] = (uint64_t)json_integer_value(x);
		}
		if (rvf_delete(s, idv, n, &res) == RVF_OK)
			for (i = 0; i < n; i++)
				if (rvf_get_meta(s, idv[i], &(const rvf_field *){0}, &(size_t){0}) == RVF_OK)
					abort(); /* deleted ids are gone */
		free(idv);
		return;
	}
	rvf_filter *f;
	if (filter_of(j, &f) || !f)
		return;
	if (rvf_delete_filter(s, f, &res) == RVF_OK)
		for (uint64_t i = 0; i < rvf_live_count(s); i++) {
			uint64_t id;
			const float *v;
			const rvf_field *mf;
			size_t nmf;
			if (rvf_live_get(s, i, &id, &v) != RVF_OK || rvf_get_meta(s, id, &mf, &nmf) != RVF_OK)
				abort();
			if (filter_eval(f, mf, nmf))
				abort(); /* nothing the filter matches is left */
		}
	rvf_filter_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 18))
		return 0;
	json_error_t je;
	json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return 0;
	if (!json_is_object(j)) {
		json_decref(j);
		return 0;
	}
	rvf_store *s = fresh();
	switch (data[0] % 3) {
	case 0:
		query(s, j);
		break;
	case 1:
		ingest(s, j);
		break;
	default:
		delete(s, j);
		break;
	}
	uint64_t live = rvf_live_count(s);
	rvf_close(s);
	if (rvf_open(path, RVF_OPEN_READONLY, &s) != RVF_OK || rvf_live_count(s) != live)
		abort(); /* what was committed reopens */
	rvf_close(s);
	json_decref(j);
	return 0;
}
