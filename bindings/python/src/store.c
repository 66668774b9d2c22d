/* store.c — the rvf.Store type: one open rvf_store behind a rwlock.
 *
 * Every call converts its arguments with the GIL held, then releases the GIL,
 * takes the store's lock (shared for queries and metadata reads, exclusive
 * for everything else), runs the rvf_* call, unlocks, and takes the GIL back
 * to build the result. The library's thread-local error message is read on
 * the same thread right after. The lock prefers writers, so a stream of
 * queries cannot starve an ingest. */
#include "rvfpy.h"

#include <stdlib.h>
#include <string.h>

static void lock_store(rvfpy_store *self, int exclusive)
{
	if (exclusive)
		pthread_rwlock_wrlock(&self->lock);
	else
		pthread_rwlock_rdlock(&self->lock);
}

static void unlock_store(rvfpy_store *self)
{
	pthread_rwlock_unlock(&self->lock);
}

/* Runs BODY with the GIL released and the store locked; `closed` says
 * whether the store was closed (BODY not run). */
#define WITH_STORE(self, exclusive, closed, BODY)                                      \
	do {                                                                           \
		Py_BEGIN_ALLOW_THREADS                                                 \
		lock_store(self, exclusive);                                           \
		closed = (self)->s == NULL;                                            \
		if (!closed) {                                                         \
			BODY;                                                          \
		}                                                                      \
		unlock_store(self);                                                    \
		Py_END_ALLOW_THREADS                                                   \
	} while (0)

/* Cheap early check for a clear error before converting arguments; the
 * authoritative check is under the lock. */
#define CHECK_OPEN(self)                                                               \
	do {                                                                           \
		if (!(self)->s)                                                        \
			return rvfpy_raise_closed();                                   \
	} while (0)

PyObject *rvfpy_store_new(rvf_store *s)
{
	rvfpy_store *self = PyObject_New(rvfpy_store, &rvfpy_store_type);
	pthread_rwlockattr_t attr;

	if (!self) {
		rvf_close(s);
		return NULL;
	}
	self->s = NULL;
	self->path = NULL;
	if (pthread_rwlockattr_init(&attr) ||
	    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) ||
	    pthread_rwlock_init(&self->lock, &attr)) {
		rvf_close(s);
		PyObject_Free(self); /* the lock was never initialised: no dealloc */
		return PyErr_NoMemory();
	}
	pthread_rwlockattr_destroy(&attr);
	self->s = s;
	self->dim = rvf_dimension(s);
	self->metric = rvf_get_metric(s);
	self->path = PyUnicode_DecodeFSDefault(rvf_path(s));
	if (!self->path) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void store_dealloc(rvfpy_store *self)
{
	/* No other reference exists, so no other thread is inside a method. */
	rvf_close(self->s);
	self->s = NULL;
	pthread_rwlock_destroy(&self->lock);
	Py_XDECREF(self->path);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- writing --------------------------------------------------------------- */

PyDoc_STRVAR(ingest_doc,
"ingest(ids, vectors, metadata=None) -> dict\n\n"
"Append len(ids) vectors in one commit. ids: integers 0..2**64-1; vectors:\n"
"(n, dim) array (a 1-D array is one vector), used without a copy when it is\n"
"float32 and C-contiguous, converted otherwise. metadata: None or n dicts\n"
"{field_id: value} (int >= 0 -> u64, int < 0 -> i64, float -> f64, str, bool,\n"
"or (type, value) with type 'u64', 'i64', 'f64', 'string', 'bool'); None rows\n"
"have no metadata. A known id is replaced (vector and metadata). Rows with a\n"
"NaN or infinite component are not written and counted as rejected.\n"
"Returns {'accepted', 'rejected', 'epoch'}.");

static PyObject *store_ingest(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "ids", "vectors", "metadata", NULL };
	PyObject *ido, *vo, *mo = Py_None;
	PyArrayObject *ids = NULL, *vec = NULL;
	rvfpy_meta meta = { 0 };
	rvf_ingest_result res = { 0 };
	int err = 0, closed, have_meta = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:ingest", kwlist, &ido, &vo, &mo))
		return NULL;
	CHECK_OPEN(self);
	if (!(ids = rvfpy_ids(ido)) || !(vec = rvfpy_matrix(vo, self->dim, 1, "vectors")))
		goto fail;
	size_t n = (size_t)PyArray_DIM(ids, 0);
	if (PyArray_DIM(vec, 0) != (npy_intp)n) {
		rvfpy_raise_msg(RVF_E_ARG, "%zu ids for %zd vectors", n, (Py_ssize_t)PyArray_DIM(vec, 0));
		goto fail;
	}
	if (mo != Py_None) {
		if (rvfpy_meta_build(mo, n, &meta))
			goto fail;
		have_meta = 1;
	}
	const uint64_t *idp = PyArray_DATA(ids);
	const float *vp = PyArray_DATA(vec);
	WITH_STORE(self, 1, closed,
		   err = have_meta ? rvf_ingest_meta(self->s, idp, vp, n,
						     (const rvf_field *const *)meta.rows, meta.counts, &res)
				   : rvf_ingest(self->s, idp, vp, n, &res));
	rvfpy_meta_free(&meta);
	Py_DECREF(ids);
	Py_DECREF(vec);
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	return Py_BuildValue("{s:K,s:K,s:k}", "accepted", (unsigned long long)res.accepted, "rejected",
			     (unsigned long long)res.rejected, "epoch", (unsigned long)res.epoch);
fail:
	rvfpy_meta_free(&meta);
	Py_XDECREF(ids);
	Py_XDECREF(vec);
	return NULL;
}

static PyObject *delete_result(const rvf_delete_result *r)
{
	return Py_BuildValue("{s:K,s:k}", "deleted", (unsigned long long)r->deleted, "epoch",
			     (unsigned long)r->epoch);
}

PyDoc_STRVAR(delete_doc,
"delete(ids) -> dict\n\n"
"Delete the given ids (unknown or already deleted ids are ignored).\n"
"Returns {'deleted': ids that were live, 'epoch'}.");

static PyObject *store_delete(rvfpy_store *self, PyObject *ido)
{
	rvf_delete_result res = { 0 };
	PyArrayObject *ids;
	int err = 0, closed;

	CHECK_OPEN(self);
	if (!(ids = rvfpy_ids(ido)))
		return NULL;
	const uint64_t *idp = PyArray_DATA(ids);
	size_t n = (size_t)PyArray_DIM(ids, 0);
	WITH_STORE(self, 1, closed, err = rvf_delete(self->s, idp, n, &res));
	Py_DECREF(ids);
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	return delete_result(&res);
}

PyDoc_STRVAR(delete_filter_doc,
"delete_filter(filter) -> dict\n\n"
"Delete every live vector the filter (JSON str or dict, docs/METADATA.md)\n"
"matches. Returns {'deleted', 'epoch'}; nothing is written when none does.");

static PyObject *store_delete_filter(rvfpy_store *self, PyObject *fo)
{
	rvf_delete_result res = { 0 };
	rvf_filter *f = NULL;
	int err = 0, closed;

	CHECK_OPEN(self);
	if (fo == Py_None)
		return rvfpy_raise_msg(RVF_E_ARG, "delete_filter: a filter is required");
	if (rvfpy_filter(fo, &f))
		return NULL;
	WITH_STORE(self, 1, closed, err = rvf_delete_filter(self->s, f, &res));
	rvf_filter_free(f);
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	return delete_result(&res);
}

PyDoc_STRVAR(compact_doc,
"compact() -> dict\n\n"
"Rewrite the file without deleted vectors and superseded segments (beside\n"
"itself, then renamed over it). Returns the counts before and after.");

static PyObject *store_compact(rvfpy_store *self, PyObject *unused)
{
	rvf_compact_result r = { 0 };
	int err = 0, closed;

	CHECK_OPEN(self);
	WITH_STORE(self, 1, closed, err = rvf_compact(self->s, &r));
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:k}", "bytes_reclaimed",
			     (unsigned long long)r.bytes_reclaimed, "file_size_after",
			     (unsigned long long)r.file_size_after, "file_size_before",
			     (unsigned long long)r.file_size_before, "segments_compacted",
			     (unsigned long long)r.segments_compacted, "vectors_after",
			     (unsigned long long)r.vectors_after, "vectors_before",
			     (unsigned long long)r.vectors_before, "epoch", (unsigned long)r.epoch);
}

static const char *policy_name(int p)
{
	return p == RVF_INDEX_ON ? "on" : p == RVF_INDEX_OFF ? "off" : "auto";
}

static PyObject *index_dict(const rvf_index_stats *x)
{
	return Py_BuildValue("{s:O,s:k,s:k,s:K,s:k,s:O,s:K,s:s,s:k,s:K,s:K,s:k,s:O}", "present",
			     x->present ? Py_True : Py_False, "m", (unsigned long)x->m, "ef_construction",
			     (unsigned long)x->ef_construction, "nodes", (unsigned long long)x->nodes,
			     "max_level", (unsigned long)x->max_level, "persisted",
			     x->persisted ? Py_True : Py_False, "memory_bytes",
			     (unsigned long long)x->memory_bytes, "policy", policy_name(x->policy),
			     "ef_search", (unsigned long)x->ef_search, "checkpoint_bytes",
			     (unsigned long long)x->checkpoint_bytes, "log_bytes",
			     (unsigned long long)x->log_bytes, "log_segments", (unsigned long)x->log_segments,
			     "rebuild_needed", x->rebuild_needed ? Py_True : Py_False);
}

PyDoc_STRVAR(index_doc,
"index(m=16, ef_construction=200, threads=0) -> dict\n\n"
"Build the HNSW index over every stored vector (threads 0 = every online\n"
"CPU, 1 = deterministic) and persist it; later opens load it and later\n"
"writes keep it current. Queries without a filter then use it. Returns the\n"
"index statistics (as status()['index']).");

static PyObject *store_index(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "m", "ef_construction", "threads", NULL };
	PyObject *mo = Py_None, *eo = Py_None, *to = Py_None;
	uint32_t m, ef, threads;
	rvf_index_stats st = { 0 };
	int err = 0, closed;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:index", kwlist, &mo, &eo, &to))
		return NULL;
	if (rvfpy_opt_u32(mo, "m", 2, 0, &m) || rvfpy_opt_u32(eo, "ef_construction", 1, 0, &ef) ||
	    rvfpy_opt_u32(to, "threads", 0, 0, &threads))
		return NULL;
	CHECK_OPEN(self);
	WITH_STORE(self, 1, closed, {
		err = rvf_set_index_threads(self->s, threads);
		if (!err)
			err = rvf_index_build(self->s, m, ef);
		if (!err)
			err = rvf_get_index_stats(self->s, &st);
	});
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	return index_dict(&st);
}

PyDoc_STRVAR(configure_index_doc,
"configure_index(policy=None, ef_search=None)\n\n"
"Store index defaults in the file (one commit): policy 'auto' (build the\n"
"HNSW index once an ingest leaves >= 20000 live vectors), 'on' (at the first\n"
"ingest) or 'off' (never); ef_search: the default of queries. None keeps a\n"
"setting.");

static PyObject *store_configure_index(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "policy", "ef_search", NULL };
	const char *policy = NULL;
	PyObject *efo = Py_None;
	uint32_t ef;
	int pol = -1, err = 0, closed;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zO:configure_index", kwlist, &policy, &efo))
		return NULL;
	if (policy) {
		if (!strcmp(policy, "auto"))
			pol = RVF_INDEX_AUTO;
		else if (!strcmp(policy, "on"))
			pol = RVF_INDEX_ON;
		else if (!strcmp(policy, "off"))
			pol = RVF_INDEX_OFF;
		else
			return rvfpy_raise_msg(RVF_E_ARG, "policy must be 'auto', 'on' or 'off', got '%s'", policy);
	}
	if (rvfpy_opt_u32(efo, "ef_search", 1, 0, &ef))
		return NULL;
	CHECK_OPEN(self);
	WITH_STORE(self, 1, closed, err = rvf_index_configure(self->s, pol, ef));
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(derive_doc,
"derive(child_path, branch=False) -> Store\n\n"
"Create child_path derived from this store (new file id, lineage to this\n"
"one, same dimension and metric), open for writing. With branch=True the\n"
"child sees this store's live vectors (copy on write) under its own writes;\n"
"otherwise it starts empty.");

static PyObject *store_derive(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "child_path", "branch", NULL };
	PyObject *path = NULL;
	int branch = 0, err = 0, closed;
	rvf_store *child = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|p:derive", kwlist, PyUnicode_FSConverter, &path,
					 &branch))
		return NULL;
	const char *p = PyBytes_AS_STRING(path);
	WITH_STORE(self, 1, closed, err = rvf_derive(self->s, p, branch, &child));
	Py_DECREF(path);
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	return rvfpy_store_new(child);
}

/* ---- reading --------------------------------------------------------------- */

/* Parses the common query options into o (filter in *f). */
static int query_opts(PyObject *fo, PyObject *efo, int exact, rvf_query_opts *o, rvf_filter **f)
{
	memset(o, 0, sizeof *o);
	if (rvfpy_opt_u32(efo, "ef_search", 1, 0, &o->ef_search) || rvfpy_filter(fo, f))
		return -1;
	o->filter = *f;
	o->exact = exact;
	return 0;
}

static int check_k(Py_ssize_t k)
{
	if (k >= 1)
		return 0;
	rvfpy_raise_msg(RVF_E_ARG, "k must be >= 1, got %zd", k);
	return -1;
}

PyDoc_STRVAR(query_doc,
"query(q, k=10, filter=None, ef_search=None, exact=False) -> (ids, distances)\n\n"
"The k nearest live vectors to q (dim components) by the store's metric:\n"
"ids (uint64) and distances (float32), ascending distance, ties by id, at\n"
"most k (fewer when fewer vectors are live or match the filter). Uses the\n"
"HNSW index when there is one and no filter is given (ef_search overrides\n"
"the stored default), unless exact=True.");

static PyObject *hits_arrays(const rvf_hit *h, size_t n)
{
	npy_intp d = (npy_intp)n;
	PyArrayObject *ids = (PyArrayObject *)PyArray_SimpleNew(1, &d, NPY_UINT64);
	PyArrayObject *dist = (PyArrayObject *)PyArray_SimpleNew(1, &d, NPY_FLOAT32);

	if (!ids || !dist) {
		Py_XDECREF(ids);
		Py_XDECREF(dist);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		((uint64_t *)PyArray_DATA(ids))[i] = h[i].id;
		((float *)PyArray_DATA(dist))[i] = h[i].distance;
	}
	return Py_BuildValue("(NN)", ids, dist);
}

static PyObject *store_query(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "q", "k", "filter", "ef_search", "exact", NULL };
	PyObject *qo, *fo = Py_None, *efo = Py_None, *ret;
	Py_ssize_t k = 10;
	int exact = 0, err = 0, closed, nomem = 0;
	rvf_query_opts o;
	rvf_filter *f = NULL;
	rvf_hit *hits = NULL;
	size_t nout = 0;
	PyArrayObject *q;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|nOOp:query", kwlist, &qo, &k, &fo, &efo, &exact))
		return NULL;
	CHECK_OPEN(self);
	if (check_k(k) || !(q = rvfpy_vector(qo, self->dim, "query")))
		return NULL;
	if (query_opts(fo, efo, exact, &o, &f)) {
		Py_DECREF(q);
		return NULL;
	}
	const float *qp = PyArray_DATA(q);
	WITH_STORE(self, 0, closed, {
		uint64_t live = rvf_live_count(self->s);
		o.k = (uint64_t)k < live ? (size_t)k : (size_t)live;
		hits = malloc((o.k ? o.k : 1) * sizeof *hits);
		if (!hits)
			nomem = 1;
		else if (o.k)
			err = rvf_query_ex(self->s, qp, self->dim, &o, hits, &nout);
	});
	rvf_filter_free(f);
	Py_DECREF(q);
	if (closed)
		ret = rvfpy_raise_closed();
	else if (nomem)
		ret = PyErr_NoMemory();
	else if (err)
		ret = rvfpy_raise(err, NULL);
	else
		ret = hits_arrays(hits, nout);
	free(hits);
	return ret;
}

PyDoc_STRVAR(query_batch_doc,
"query_batch(queries, k=10, filter=None, ef_search=None, exact=False) -> (ids, distances)\n\n"
"query() for each row of a 2-D (nq, dim) array, in one call without the GIL.\n"
"Returns (nq, kk) arrays with kk = min(k, live vectors); a row with fewer\n"
"hits (filter) is padded with id 2**64-1 and distance inf.");

static PyObject *store_query_batch(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "queries", "k", "filter", "ef_search", "exact", NULL };
	PyObject *qo, *fo = Py_None, *efo = Py_None;
	Py_ssize_t k = 10, bad = -1;
	int exact = 0, err = 0, closed, nomem = 0;
	rvf_query_opts o;
	rvf_filter *f = NULL;
	rvf_hit *hits = NULL;
	size_t *counts = NULL, kk = 0;
	PyArrayObject *Q, *ids = NULL, *dist = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|nOOp:query_batch", kwlist, &qo, &k, &fo, &efo, &exact))
		return NULL;
	CHECK_OPEN(self);
	if (check_k(k) || !(Q = rvfpy_matrix(qo, self->dim, 0, "queries")))
		return NULL;
	if (query_opts(fo, efo, exact, &o, &f)) {
		Py_DECREF(Q);
		return NULL;
	}
	const float *qp = PyArray_DATA(Q);
	size_t nq = (size_t)PyArray_DIM(Q, 0), dim = self->dim;
	WITH_STORE(self, 0, closed, {
		uint64_t live = rvf_live_count(self->s);
		kk = (uint64_t)k < live ? (size_t)k : (size_t)live;
		o.k = kk;
		counts = calloc(nq ? nq : 1, sizeof *counts);
		hits = kk && nq <= SIZE_MAX / sizeof *hits / kk ? malloc(nq * kk * sizeof *hits) : NULL;
		if (!counts || (kk && nq && !hits))
			nomem = 1;
		for (size_t i = 0; !nomem && kk && i < nq; i++) {
			err = rvf_query_ex(self->s, qp + i * dim, self->dim, &o, hits + i * kk, &counts[i]);
			if (err) {
				bad = (Py_ssize_t)i;
				break;
			}
		}
	});
	rvf_filter_free(f);
	Py_DECREF(Q);
	if (closed) {
		rvfpy_raise_closed();
	} else if (nomem) {
		PyErr_NoMemory();
	} else if (err) {
		char prefix[64];
		snprintf(prefix, sizeof prefix, "queries[%zd]: ", bad);
		rvfpy_raise(err, prefix);
	} else {
		npy_intp d[2] = { (npy_intp)nq, (npy_intp)kk };
		ids = (PyArrayObject *)PyArray_SimpleNew(2, d, NPY_UINT64);
		dist = ids ? (PyArrayObject *)PyArray_SimpleNew(2, d, NPY_FLOAT32) : NULL;
		for (size_t i = 0; dist && i < nq; i++) {
			uint64_t *ip = (uint64_t *)PyArray_DATA(ids) + i * kk;
			float *dp = (float *)PyArray_DATA(dist) + i * kk;
			for (size_t j = 0; j < kk; j++) {
				int have = j < counts[i];
				ip[j] = have ? hits[i * kk + j].id : UINT64_MAX;
				dp[j] = have ? hits[i * kk + j].distance : (float)INFINITY;
			}
		}
	}
	free(hits);
	free(counts);
	if (!dist) {
		Py_XDECREF(ids);
		return NULL;
	}
	return Py_BuildValue("(NN)", ids, dist);
}

PyDoc_STRVAR(get_metadata_doc,
"get_metadata(id, typed=False) -> dict\n\n"
"The metadata of a live id as {field_id: value} ({} if it has none), or\n"
"{field_id: (type, value)} with typed=True. NotFoundError if id is not live.");

static PyObject *store_get_metadata(rvfpy_store *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "id", "typed", NULL };
	PyObject *ido;
	unsigned long long id;
	int typed = 0, err = 0;
	const rvf_field *fields = NULL;
	size_t n = 0;
	PyObject *d = NULL;
	PyThreadState *ts;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:get_metadata", kwlist, &ido, &typed))
		return NULL;
	if (!PyLong_Check(ido) || PyBool_Check(ido)) {
		PyErr_Format(PyExc_TypeError, "id must be an int, got %.100s", Py_TYPE(ido)->tp_name);
		return NULL;
	}
	id = PyLong_AsUnsignedLongLong(ido);
	if (id == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		return rvfpy_raise_msg(RVF_E_ARG, "id %S is not in 0..2**64-1", ido);
	}
	CHECK_OPEN(self);
	/* The field pointers are valid until the next write: build the dict
	 * with the shared lock still held (taken without the GIL). */
	ts = PyEval_SaveThread();
	lock_store(self, 0);
	PyEval_RestoreThread(ts);
	if (!self->s)
		rvfpy_raise_closed();
	else if ((err = rvf_get_meta(self->s, (uint64_t)id, &fields, &n)))
		rvfpy_raise(err, NULL);
	else
		d = rvfpy_meta_dict(fields, n, typed);
	unlock_store(self);
	return d;
}

PyDoc_STRVAR(status_doc,
"status() -> dict\n\n"
"The store's counters (rvf_get_status) and, under 'index', its HNSW index\n"
"statistics.");

static PyObject *store_status(rvfpy_store *self, PyObject *unused)
{
	rvf_status st = { 0 };
	rvf_index_stats ix = { 0 };
	int err = 0, closed;
	PyObject *index;

	CHECK_OPEN(self);
	/* exclusive: status walks the file and may extend the mapping */
	WITH_STORE(self, 1, closed, {
		err = rvf_get_status(self->s, &st);
		if (!err)
			err = rvf_get_index_stats(self->s, &ix);
	});
	if (closed)
		return rvfpy_raise_closed();
	if (err)
		return rvfpy_raise(err, NULL);
	if (!(index = index_dict(&ix)))
		return NULL;
	return Py_BuildValue("{s:O,s:K,s:d,s:K,s:k,s:k,s:K,s:N,s:s,s:K,s:k,s:O,s:K,s:K,s:K}", "path",
			     self->path, "dead_bytes", (unsigned long long)st.dead_bytes, "dead_space_ratio",
			     st.dead_space_ratio, "deleted_vectors", (unsigned long long)st.deleted_vectors,
			     "dimension", (unsigned long)st.dimension, "epoch", (unsigned long)st.epoch,
			     "file_size", (unsigned long long)st.file_size, "index", index, "metric",
			     rvf_metric_name(st.metric), "inherited_vectors",
			     (unsigned long long)st.inherited_vectors, "profile_id", (unsigned long)st.profile_id,
			     "read_only", st.read_only ? Py_True : Py_False, "stored_vectors",
			     (unsigned long long)st.stored_vectors, "total_segments",
			     (unsigned long long)st.total_segments, "total_vectors",
			     (unsigned long long)st.total_vectors);
}

static Py_ssize_t store_len(rvfpy_store *self)
{
	uint64_t n = 0;
	int closed;

	WITH_STORE(self, 0, closed, n = rvf_live_count(self->s));
	if (closed) {
		rvfpy_raise_closed();
		return -1;
	}
	return (Py_ssize_t)n;
}

/* ---- lifetime ---------------------------------------------------------------- */

PyDoc_STRVAR(close_doc,
"close()\n\n"
"Close the store (waits for calls running in other threads, releases the\n"
"file's lock). Later calls raise ClosedError; closing twice is allowed.");

static PyObject *store_close(rvfpy_store *self, PyObject *unused)
{
	rvf_store *s;

	Py_BEGIN_ALLOW_THREADS
	lock_store(self, 1);
	s = self->s;
	self->s = NULL;
	rvf_close(s);
	unlock_store(self);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static PyObject *store_enter(rvfpy_store *self, PyObject *unused)
{
	CHECK_OPEN(self);
	return Py_NewRef(self);
}

static PyObject *store_exit(rvfpy_store *self, PyObject *args)
{
	PyObject *r = store_close(self, NULL);
	Py_XDECREF(r);
	if (!r)
		return NULL;
	Py_RETURN_FALSE;
}

static PyObject *store_repr(rvfpy_store *self)
{
	return PyUnicode_FromFormat("<rvf.Store %R dim=%u metric=%s%s>", self->path, (unsigned)self->dim,
				    rvf_metric_name(self->metric), self->s ? "" : " closed");
}

static PyObject *get_closed(rvfpy_store *self, void *c) { return PyBool_FromLong(self->s == NULL); }
static PyObject *get_dim(rvfpy_store *self, void *c) { return PyLong_FromUnsignedLong(self->dim); }
static PyObject *get_path(rvfpy_store *self, void *c) { return Py_NewRef(self->path); }
static PyObject *get_metric(rvfpy_store *self, void *c)
{
	return PyUnicode_FromString(rvf_metric_name(self->metric));
}

static PyObject *get_warning(rvfpy_store *self, void *c)
{
	PyObject *r = NULL;
	int closed;
	char buf[1024] = "";

	WITH_STORE(self, 0, closed, snprintf(buf, sizeof buf, "%s", rvf_open_warning(self->s)));
	if (closed)
		return rvfpy_raise_closed();
	r = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
	return r;
}

#define KW(f) (PyCFunction)(void (*)(void))(f), METH_VARARGS | METH_KEYWORDS
static PyMethodDef store_methods[] = {
	{ "ingest", KW(store_ingest), ingest_doc },
	{ "query", KW(store_query), query_doc },
	{ "query_batch", KW(store_query_batch), query_batch_doc },
	{ "delete", (PyCFunction)store_delete, METH_O, delete_doc },
	{ "delete_filter", (PyCFunction)store_delete_filter, METH_O, delete_filter_doc },
	{ "compact", (PyCFunction)store_compact, METH_NOARGS, compact_doc },
	{ "index", KW(store_index), index_doc },
	{ "configure_index", KW(store_configure_index), configure_index_doc },
	{ "derive", KW(store_derive), derive_doc },
	{ "get_metadata", KW(store_get_metadata), get_metadata_doc },
	{ "status", (PyCFunction)store_status, METH_NOARGS, status_doc },
	{ "close", (PyCFunction)store_close, METH_NOARGS, close_doc },
	{ "__enter__", (PyCFunction)store_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)store_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};
#undef KW

static PyGetSetDef store_getset[] = {
	{ "closed", (getter)get_closed, NULL, "True once close() ran", NULL },
	{ "dimension", (getter)get_dim, NULL, "components per vector", NULL },
	{ "metric", (getter)get_metric, NULL, "'l2', 'inner_product' or 'cosine'", NULL },
	{ "path", (getter)get_path, NULL, "the file's path", NULL },
	{ "warning", (getter)get_warning, NULL, "non-fatal report of the open ('' if none)", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PySequenceMethods store_as_sequence = {
	.sq_length = (lenfunc)store_len,
};

PyTypeObject rvfpy_store_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "rvf.Store",
	.tp_doc = "An open RVF file (from rvf.create / rvf.open). len(store) is the number of "
		  "vectors a query can return. Safe to share between threads: queries run in "
		  "parallel, writes one at a time.",
	.tp_basicsize = sizeof(rvfpy_store),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_dealloc = (destructor)store_dealloc,
	.tp_repr = (reprfunc)store_repr,
	.tp_methods = store_methods,
	.tp_getset = store_getset,
	.tp_as_sequence = &store_as_sequence,
};
