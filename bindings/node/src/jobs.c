/* jobs.c — the long calls (ingestBatch, query, delete, deleteByFilter,
 * compact, buildIndex): arguments parsed on the JS thread into a job, the
 * job run with the handle's mutex held, the result turned into JS values.
 * The plain methods run the job at once (synchronous, as the reference);
 * the *Async variants run it on the libuv pool (napi async work) and
 * return a Promise, so a long ingest or compaction never blocks the JS
 * thread. */
#include <stdlib.h>
#include <string.h>

#include "rvfn.h"
#include "rvfn_meta.h"

typedef struct {
	rvfn_job_kind kind;
	rvfn_db *db;
	napi_ref self;
	napi_async_work work;
	napi_deferred deferred;
	/* inputs */
	const float *vec; /* ingest rows / the query vector */
	float *vec_copy;  /* async: our copy */
	size_t nfloats;
	uint64_t *ids;
	size_t n;
	rvfn_meta meta;
	rvf_filter *filter;
	uint32_t k, ef_search, timeout_ms, m, ef_construction;
	/* outputs */
	rvfn_err err;
	rvf_ingest_result ir;
	rvf_delete_result dr;
	rvf_compact_result cr;
	rvf_hit *hits;
	size_t nhits;
} job;

static void job_free(job *j)
{
	free(j->vec_copy);
	free(j->ids);
	rvfn_meta_free(&j->meta);
	rvf_filter_free(j->filter);
	free(j->hits);
	free(j);
}

/* ---- parsing (JS thread) ------------------------------------------------- */
static bool parse_filter(napi_env env, napi_value v, const char *on, rvf_filter **out)
{
	char *text = NULL;
	if (!rvfn_get_string(env, v, on, &text))
		return false;
	int rc = rvf_filter_parse(text, out);
	free(text);
	if (rc) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC, "%s", rvf_last_error());
		rvfn_throw(env, &e);
		return false;
	}
	return true;
}

/* Reading the ids, metadata and options runs user code (getters, Proxies)
 * that may resize, transfer or detach the vectors' ArrayBuffer: the data
 * pointer taken first is re-read after the last such read, and the length
 * checked again (found by an outside attack: a getter freeing the buffer
 * made ingestBatch / query read freed memory). */
static bool refetch_vectors(napi_env env, napi_value v, job *j)
{
	size_t before = j->nfloats;
	if (!rvfn_get_f32(env, v, &j->vec, &j->nfloats))
		return false;
	if (j->nfloats != before) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_INVALID_ARG,
			     "the vectors' buffer changed size while the other arguments were read (%zu -> %zu floats)",
			     before, j->nfloats);
		rvfn_throw(env, &e);
		return false;
	}
	return true;
}

/* One batch may not carry an id twice: the later row would silently
 * replace the earlier and `accepted` count both (the reference does that;
 * README "duplicate-ids"). */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool check_unique(napi_env env, const uint64_t *ids, size_t n)
{
	if (n < 2)
		return true;
	uint64_t *s = malloc(n * sizeof *s);
	if (!s) {
		rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
		return false;
	}
	memcpy(s, ids, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_u64);
	size_t i = 1;
	while (i < n && s[i] != s[i - 1])
		i++;
	bool dup = i < n;
	uint64_t id = dup ? s[i] : 0;
	free(s);
	if (!dup)
		return true;
	size_t first = 0, second = 0;
	while (ids[first] != id)
		first++;
	for (second = first + 1; ids[second] != id; second++)
		;
	rvfn_err e;
	rvfn_err_set(&e, RVFN_INVALID_ARG, "ids: %llu appears twice in one batch (rows %zu and %zu)",
		     (unsigned long long)id, first, second);
	rvfn_throw(env, &e);
	return false;
}

static bool parse_ingest(napi_env env, size_t argc, napi_value *argv, job *j)
{
	if (!rvfn_get_f32(env, argc > 0 ? argv[0] : NULL, &j->vec, &j->nfloats) ||
	    !rvfn_get_ids(env, argc > 1 ? argv[1] : NULL, &j->ids, &j->n))
		return false;
	if (j->n && j->nfloats % j->n) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC, "vectors length (%zu) must be divisible by ids length (%zu)",
			     j->nfloats, j->n);
		rvfn_throw(env, &e);
		return false;
	}
	if (!j->n && j->nfloats) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC, "vectors length (%zu) must be divisible by ids length (0)",
			     j->nfloats);
		rvfn_throw(env, &e);
		return false;
	}
	if (!check_unique(env, j->ids, j->n) || !rvfn_meta_parse(env, argc > 2 ? argv[2] : NULL, j->n, &j->meta))
		return false;
	return refetch_vectors(env, argv[0], j);
}

/* The bounds of query's numbers (the reference coerces them: k NaN,
 * Infinity or 2^32 -> [], -1 -> every vector, 1.5 -> 1; efSearch and
 * timeoutMs any value; README "numeric-args"). efSearch as `rvf index
 * --ef-search`; 0 would mean the store's default, so it is not a value. */
#define EF_SEARCH_MAX 1000000.0
#define U32_MAX_D 4294967295.0

static bool parse_query(napi_env env, size_t argc, napi_value *argv, job *j)
{
	double d;
	if (!rvfn_get_f32(env, argc > 0 ? argv[0] : NULL, &j->vec, &j->nfloats) ||
	    !rvfn_get_int(env, argc > 1 ? argv[1] : NULL, "k", 0, U32_MAX_D, &d))
		return false;
	j->k = (uint32_t)d;
	napi_value o = argc > 2 ? argv[2] : NULL, v;
	if ((v = rvfn_prop(env, o, "efSearch"))) {
		if (!rvfn_get_int(env, v, "RvfQueryOptions.efSearch", 1, EF_SEARCH_MAX, &d))
			return false;
		j->ef_search = (uint32_t)d;
	}
	if ((v = rvfn_prop(env, o, "timeoutMs"))) {
		if (!rvfn_get_int(env, v, "RvfQueryOptions.timeoutMs", 0, U32_MAX_D, &d))
			return false;
		j->timeout_ms = (uint32_t)d;
	}
	if ((v = rvfn_prop(env, o, "filter")) && !parse_filter(env, v, "RvfQueryOptions.filter", &j->filter))
		return false;
	return refetch_vectors(env, argv[0], j);
}

static bool parse_build(napi_env env, size_t argc, napi_value *argv, job *j)
{
	napi_value o = argc > 0 ? argv[0] : NULL, v;
	double d;
	j->m = j->db->m, j->ef_construction = j->db->ef_construction;
	if ((v = rvfn_prop(env, o, "m"))) {
		if (!rvfn_get_int(env, v, "m", 0, U32_MAX_D, &d))
			return false;
		j->m = (uint32_t)d;
	}
	if ((v = rvfn_prop(env, o, "efConstruction"))) {
		if (!rvfn_get_int(env, v, "efConstruction", 0, U32_MAX_D, &d))
			return false;
		j->ef_construction = (uint32_t)d;
	}
	return true;
}


static bool parse(napi_env env, size_t argc, napi_value *argv, job *j)
{
	switch (j->kind) {
	case JOB_INGEST: return parse_ingest(env, argc, argv, j);
	case JOB_QUERY: return parse_query(env, argc, argv, j);
	case JOB_DELETE: return rvfn_get_ids(env, argc > 0 ? argv[0] : NULL, &j->ids, &j->n);
	case JOB_DELETE_FILTER: return parse_filter(env, argc > 0 ? argv[0] : NULL, NULL, &j->filter);
	case JOB_COMPACT: return true;
	case JOB_BUILD_INDEX: return parse_build(env, argc, argv, j);
	}
	return false;
}

/* ---- running (any thread, db->mu held, no napi calls) -------------------- */
static void run_ingest(rvf_store *s, job *j)
{
	rvf_status st;
	int rc;
	uint32_t dim = rvf_dimension(s);
	if (j->n == 0 || j->nfloats / j->n != dim) {
		/* rows of another dimension are rejected, not an error (as the
		 * reference); nothing is written and the epoch stays */
		if ((rc = rvf_get_status(s, &st)))
			goto fail;
		j->ir.accepted = 0;
		j->ir.rejected = j->n;
		j->ir.epoch = st.epoch;
		return;
	}
	rc = j->meta.rows ? rvf_ingest_meta(s, j->ids, j->vec, j->n, j->meta.rows, j->meta.counts, &j->ir)
			  : rvf_ingest(s, j->ids, j->vec, j->n, &j->ir);
	if (!rc)
		return;
fail:
	rvfn_err_rvf(&j->err, rc);
}

static void run_query(rvf_store *s, job *j)
{
	uint32_t dim = rvf_dimension(s);
	if (j->nfloats != dim) {
		rvfn_err_set(&j->err, RVFN_GENERIC,
			     "RVF error 0x0200: DimensionMismatch (the query has %zu components, the "
			     "store's dimension is %u)",
			     j->nfloats, dim);
		return;
	}
	uint64_t live = rvf_live_count(s);
	size_t k = j->k < live ? j->k : (size_t)live;
	if (k == 0)
		return;
	j->hits = malloc(k * sizeof *j->hits);
	if (!j->hits) {
		rvfn_err_set(&j->err, RVFN_GENERIC, "out of memory for %zu results", k);
		return;
	}
	rvf_query_opts o = {.k = k, .filter = j->filter, .ef_search = j->ef_search, .timeout_ms = j->timeout_ms};
	int rc = rvf_query_ex(s, j->vec, dim, &o, j->hits, &j->nhits);
	if (rc)
		rvfn_err_rvf(&j->err, rc);
}

static void run(job *j)
{
	rvfn_db *db = j->db;
	int rc = 0;
	pthread_mutex_lock(&db->mu);
	if (!db->s) {
		rvfn_err_set(&j->err, RVFN_GENERIC, "Store is closed");
		goto out;
	}
	switch (j->kind) {
	case JOB_INGEST: run_ingest(db->s, j); break;
	case JOB_QUERY: run_query(db->s, j); break;
	case JOB_DELETE: rc = rvf_delete(db->s, j->ids, j->n, &j->dr); break;
	case JOB_DELETE_FILTER: rc = rvf_delete_filter(db->s, j->filter, &j->dr); break;
	case JOB_COMPACT: rc = rvf_compact(db->s, &j->cr); break;
	case JOB_BUILD_INDEX: rc = rvf_index_build(db->s, j->m, j->ef_construction); break;
	}
	if (rc)
		rvfn_err_rvf(&j->err, rc);
out:
	pthread_mutex_unlock(&db->mu);
}

/* ---- results (JS thread) ------------------------------------------------- */
static bool put(napi_env env, napi_value o, const char *key, double d)
{
	napi_value v = rvfn_num(env, d);
	return v && napi_set_named_property(env, o, key, v) == napi_ok;
}

static napi_value result(napi_env env, job *j)
{
	napi_value o = NULL;
	if (j->kind == JOB_BUILD_INDEX) {
		napi_get_undefined(env, &o);
		return o;
	}
	if (j->kind == JOB_QUERY) {
		if (napi_create_array_with_length(env, j->nhits, &o) != napi_ok)
			return NULL;
		for (size_t i = 0; i < j->nhits; i++) {
			napi_value h;
			/* ids come back as the reference's i64: 2^64-1 is -1 */
			if (napi_create_object(env, &h) != napi_ok ||
			    !put(env, h, "id", (double)(int64_t)j->hits[i].id) ||
			    !put(env, h, "distance", j->hits[i].distance) ||
			    napi_set_element(env, o, (uint32_t)i, h) != napi_ok)
				return NULL;
		}
		return o;
	}
	if (napi_create_object(env, &o) != napi_ok)
		return NULL;
	bool ok = true;
	switch (j->kind) {
	case JOB_INGEST:
		ok = put(env, o, "accepted", (double)j->ir.accepted) &&
		     put(env, o, "rejected", (double)j->ir.rejected) && put(env, o, "epoch", j->ir.epoch);
		break;
	case JOB_DELETE:
	case JOB_DELETE_FILTER:
		ok = put(env, o, "deleted", (double)j->dr.deleted) && put(env, o, "epoch", j->dr.epoch);
		break;
	case JOB_COMPACT:
		/* segmentsCompacted: deleted vectors purged (the reference's
		 * meaning); bytesReclaimed: file bytes actually reclaimed */
		ok = put(env, o, "segmentsCompacted", (double)j->cr.segments_compacted) &&
		     put(env, o, "bytesReclaimed", (double)j->cr.bytes_reclaimed) &&
		     put(env, o, "epoch", j->cr.epoch);
		break;
	default: break;
	}
	return ok ? o : NULL;
}

/* ---- async plumbing ------------------------------------------------------ */
static void execute(napi_env env, void *data)
{
	(void)env;
	run(data);
}

static void complete(napi_env env, napi_status status, void *data)
{
	job *j = data;
	napi_value v = NULL;
	if (status == napi_cancelled)
		rvfn_err_set(&j->err, RVFN_GENERIC, "cancelled");
	if (j->err.code)
		v = rvfn_create_error(env, &j->err);
	else
		v = result(env, j);
	if (!v) { /* the result itself failed (out of memory): reject with that */
		napi_value exc = NULL;
		bool pending = false;
		if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
			napi_get_and_clear_last_exception(env, &exc);
		if (!exc) {
			rvfn_err e;
			rvfn_err_set(&e, RVFN_GENERIC, "cannot build the result");
			exc = rvfn_create_error(env, &e);
		}
		napi_reject_deferred(env, j->deferred, exc);
	} else if (j->err.code) {
		napi_reject_deferred(env, j->deferred, v);
	} else {
		napi_resolve_deferred(env, j->deferred, v);
	}
	napi_delete_async_work(env, j->work);
	napi_delete_reference(env, j->self);
	job_free(j);
}

static const char *job_name(rvfn_job_kind k)
{
	static const char *n[] = {"rvf.ingestBatch", "rvf.query", "rvf.delete",
				  "rvf.deleteByFilter", "rvf.compact", "rvf.buildIndex"};
	return n[k];
}

static napi_value queue(napi_env env, napi_value self, job *j)
{
	napi_value promise, name;
	if (j->vec && j->nfloats) { /* the caller may change its array meanwhile */
		j->vec_copy = malloc(j->nfloats * sizeof(float));
		if (!j->vec_copy) {
			job_free(j);
			return rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
		}
		memcpy(j->vec_copy, j->vec, j->nfloats * sizeof(float));
		j->vec = j->vec_copy;
	}
	if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
	    napi_create_string_utf8(env, job_name(j->kind), NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_reference(env, self, 1, &j->self) != napi_ok) {
		job_free(j);
		return rvfn_throw_msg(env, RVFN_GENERIC, "cannot create the Promise");
	}
	if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok ||
	    napi_queue_async_work(env, j->work) != napi_ok) {
		/* the promise is dropped unsettled only if Node-API itself fails */
		napi_delete_reference(env, j->self);
		job_free(j);
		return rvfn_throw_msg(env, RVFN_GENERIC, "cannot queue the async work");
	}
	return promise;
}

/* A Promise variant never throws: a bad argument rejects its Promise. */
static napi_value rejected(napi_env env)
{
	napi_value exc = NULL, promise = NULL;
	napi_deferred d;
	if (napi_get_and_clear_last_exception(env, &exc) != napi_ok ||
	    napi_create_promise(env, &d, &promise) != napi_ok || napi_reject_deferred(env, d, exc) != napi_ok)
		return NULL;
	return promise;
}

napi_value rvfn_job_call(napi_env env, napi_callback_info info, rvfn_job_kind kind, bool async)
{
	size_t argc = 3;
	napi_value argv[3] = {NULL, NULL, NULL}, self;
	if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok)
		return NULL;
	rvfn_db *db = rvfn_unwrap(env, self);
	if (!db)
		return NULL;
	job *j = calloc(1, sizeof *j);
	if (!j)
		return rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
	j->kind = kind;
	j->db = db;
	if (!parse(env, argc, argv, j)) {
		job_free(j);
		return async ? rejected(env) : NULL;
	}
	if (async)
		return queue(env, self, j);
	run(j);
	napi_value v = j->err.code ? rvfn_throw(env, &j->err) : result(env, j);
	job_free(j);
	return v;
}
