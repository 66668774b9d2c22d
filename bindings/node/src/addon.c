/* addon.c — module init, the RvfDatabase class, open/create/close and the
 * small getters. */
#include <stdlib.h>
#include <string.h>

#include "rvfn.h"

/* Per-environment data: the class constructor, and the token that lets our
 * own factories (and nobody else) run it. */
typedef struct {
	napi_ref ctor;
} rvfn_module;
static const char construct_token = 0;

/* Also reached at environment teardown (process.exit) while a Promise call
 * may still run on the pool: wait for it before closing. */
static void db_free(rvfn_db *db)
{
	pthread_mutex_lock(&db->mu);
	rvf_close(db->s);
	db->s = NULL;
	pthread_mutex_unlock(&db->mu);
	pthread_mutex_destroy(&db->mu);
	free(db);
}

static void db_finalize(napi_env env, void *data, void *hint)
{
	(void)env, (void)hint;
	db_free(data);
}

static napi_value ctor(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], self;
	void *tok = NULL;
	if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok)
		return NULL;
	napi_valuetype t;
	if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
	    napi_get_value_external(env, argv[0], &tok) != napi_ok || tok != &construct_token)
		return rvfn_throw_msg(env, NULL, /* no code, as the reference */
				      "Class contains no `constructor`, can not new it! "
				      "(use RvfDatabase.create / open / openReadonly)");
	return self;
}

napi_value rvfn_wrap_store(napi_env env, rvf_store *s, uint32_t m, uint32_t efc)
{
	rvfn_module *mod = NULL;
	napi_value c, tok, obj = NULL;
	rvfn_db *db = calloc(1, sizeof *db);
	if (!db) {
		rvf_close(s);
		return rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
	}
	db->s = s;
	db->m = m;
	db->ef_construction = efc;
	pthread_mutex_init(&db->mu, NULL);
	if (napi_get_instance_data(env, (void **)&mod) != napi_ok || !mod ||
	    napi_get_reference_value(env, mod->ctor, &c) != napi_ok ||
	    napi_create_external(env, (void *)&construct_token, NULL, NULL, &tok) != napi_ok ||
	    napi_new_instance(env, c, 1, &tok, &obj) != napi_ok ||
	    napi_wrap(env, obj, db, db_finalize, NULL, NULL) != napi_ok) {
		db_free(db);
		return rvfn_throw_msg(env, RVFN_GENERIC, "cannot create the RvfDatabase object");
	}
	return obj;
}

rvfn_db *rvfn_unwrap(napi_env env, napi_value self)
{
	rvfn_db *db = NULL;
	if (napi_unwrap(env, self, (void **)&db) != napi_ok || !db) {
		rvfn_throw_msg(env, RVFN_INVALID_ARG, "this is not an RvfDatabase");
		return NULL;
	}
	return db;
}

rvfn_db *rvfn_lock(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
		   napi_value *self)
{
	napi_value this_;
	size_t zero = 0;
	if (napi_get_cb_info(env, info, argc ? argc : &zero, argv, &this_, NULL) != napi_ok)
		return NULL;
	if (self)
		*self = this_;
	rvfn_db *db = rvfn_unwrap(env, this_);
	if (!db)
		return NULL;
	pthread_mutex_lock(&db->mu);
	if (!db->s) {
		pthread_mutex_unlock(&db->mu);
		rvfn_throw_msg(env, RVFN_GENERIC, "Store is closed");
		return NULL;
	}
	return db;
}

void rvfn_unlock(rvfn_db *db)
{
	pthread_mutex_unlock(&db->mu);
}

/* ---- options ------------------------------------------------------------- */
static int metric_from(const char *s, rvf_metric *m)
{
	static const struct {
		const char *name;
		rvf_metric m;
	} t[] = {{"l2", RVF_METRIC_L2},		 {"L2", RVF_METRIC_L2},
		 {"inner_product", RVF_METRIC_IP}, {"ip", RVF_METRIC_IP},
		 {"InnerProduct", RVF_METRIC_IP},  {"cosine", RVF_METRIC_COSINE},
		 {"Cosine", RVF_METRIC_COSINE}};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(s, t[i].name)) {
			*m = t[i].m;
			return 0;
		}
	return -1;
}

bool rvfn_parse_options(napi_env env, napi_value opts, rvf_create_opts *o, uint32_t *m, uint32_t *efc)
{
	napi_value v;
	uint32_t u;
	char *str = NULL;
	memset(o, 0, sizeof *o);
	*m = 16, *efc = 200;
	if (!(v = rvfn_prop(env, opts, "dimension"))) {
		rvfn_throw_msg(env, RVFN_INVALID_ARG, "Missing field `dimension`");
		return false;
	}
	double d;
	if (!rvfn_get_u32(env, v, "RvfOptions.dimension", &u) || napi_get_value_double(env, v, &d) != napi_ok)
		return false;
	/* the reference wraps 70000 to 4464 and -1 to 65535 and truncates 1.5
	 * to 1: refused here, with the error it gives for 0 */
	if (!(d >= 1 && d < 65536 && d == (double)(uint32_t)d)) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC,
			     "RVF error 0x0105: InvalidManifest (dimension %.17g is not an integer in 1..65535)", d);
		rvfn_throw(env, &e);
		return false;
	}
	o->dimension = (uint32_t)d;
	o->metric = RVF_METRIC_L2;
	if ((v = rvfn_prop(env, opts, "metric"))) {
		if (!rvfn_get_string(env, v, "RvfOptions.metric", &str))
			return false;
		if (metric_from(str, &o->metric)) {
			rvfn_err e;
			rvfn_err_set(&e, RVFN_GENERIC,
				     "Invalid metric '%s'. Expected 'l2', 'inner_product', or 'cosine'.", str);
			free(str);
			rvfn_throw(env, &e);
			return false;
		}
		free(str);
	}
	if ((v = rvfn_prop(env, opts, "profile"))) {
		if (!rvfn_get_u32(env, v, "RvfOptions.profile", &u))
			return false;
		if (u > 255) { /* the reference stores it modulo 256 (300 -> 44) */
			rvfn_err e;
			rvfn_err_set(&e, RVFN_GENERIC, "RVF error 0x0105: InvalidManifest (profile %u is not in 0..255)", u);
			rvfn_throw(env, &e);
			return false;
		}
		o->profile = (uint8_t)u;
	}
	if ((v = rvfn_prop(env, opts, "compression"))) {
		static const char *ok[] = {"None", "none", "Scalar", "scalar", "Product", "product"};
		bool found = false;
		if (!rvfn_get_string(env, v, "RvfOptions.compression", &str))
			return false;
		for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
			found |= !strcmp(str, ok[i]);
		if (!found) {
			rvfn_err e;
			rvfn_err_set(&e, RVFN_GENERIC,
				     "Invalid compression '%s'. Expected 'None', 'Scalar', or 'Product'.", str);
			free(str);
			rvfn_throw(env, &e);
			return false;
		}
		free(str);
	}
	bool b;
	if ((v = rvfn_prop(env, opts, "signing")) && !rvfn_get_bool(env, v, "RvfOptions.signing", &b))
		return false;
	double x;
	if ((v = rvfn_prop(env, opts, "m"))) {
		if (!rvfn_get_int(env, v, "RvfOptions.m", 0, 4294967295.0, &x))
			return false;
		*m = (uint32_t)x;
	}
	if ((v = rvfn_prop(env, opts, "efConstruction"))) {
		if (!rvfn_get_int(env, v, "RvfOptions.efConstruction", 0, 4294967295.0, &x))
			return false;
		*efc = (uint32_t)x;
	}
	return true;
}

/* ---- static factories ---------------------------------------------------- */
static napi_value db_create(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = {NULL, NULL};
	char *path = NULL;
	napi_valuetype t = napi_undefined;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok ||
	    !rvfn_get_string(env, argc > 0 ? argv[0] : NULL, NULL, &path))
		return NULL;
	if (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok || t == napi_undefined || t == napi_null) {
		free(path);
		napi_throw_type_error(env, NULL, "Cannot convert undefined or null to object");
		return NULL;
	}
	rvf_create_opts o;
	uint32_t m, efc;
	rvf_store *s = NULL;
	if (!rvfn_parse_options(env, argv[1], &o, &m, &efc)) {
		free(path);
		return NULL;
	}
	int rc = rvf_create(path, &o, &s);
	free(path);
	if (rc)
		return rvfn_throw_rvf(env, rc);
	return rvfn_wrap_store(env, s, m, efc);
}

/* process.emitWarning(msg): a non-fatal report from open (e.g. a torn
 * newest manifest skipped) reaches the user as the CLI's warning does. */
static void emit_warning(napi_env env, const char *msg)
{
	napi_value global, process, fn, arg;
	napi_valuetype t;
	if (napi_get_global(env, &global) != napi_ok ||
	    napi_get_named_property(env, global, "process", &process) != napi_ok ||
	    napi_get_named_property(env, process, "emitWarning", &fn) != napi_ok ||
	    napi_typeof(env, fn, &t) != napi_ok || t != napi_function ||
	    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &arg) != napi_ok)
		return;
	napi_call_function(env, process, fn, 1, &arg, NULL);
}

static napi_value open_with(napi_env env, napi_callback_info info, unsigned flags)
{
	size_t argc = 1;
	napi_value argv[1] = {NULL};
	char *path = NULL;
	rvf_store *s = NULL;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok ||
	    !rvfn_get_string(env, argc > 0 ? argv[0] : NULL, NULL, &path))
		return NULL;
	int rc = rvf_open(path, flags, &s);
	free(path);
	if (rc)
		return rvfn_throw_rvf(env, rc);
	if (*rvf_open_warning(s))
		emit_warning(env, rvf_open_warning(s));
	return rvfn_wrap_store(env, s, 16, 200);
}

static napi_value db_open(napi_env env, napi_callback_info info)
{
	return open_with(env, info, 0);
}

static napi_value db_open_ro(napi_env env, napi_callback_info info)
{
	return open_with(env, info, RVF_OPEN_READONLY);
}

/* ---- instance methods ---------------------------------------------------- */
static napi_value db_close(napi_env env, napi_callback_info info)
{
	napi_value self;
	if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok)
		return NULL;
	rvfn_db *db = rvfn_unwrap(env, self);
	if (!db)
		return NULL;
	pthread_mutex_lock(&db->mu); /* waits for a Promise call in flight */
	rvf_store *s = db->s;
	db->s = NULL;
	pthread_mutex_unlock(&db->mu);
	if (!s)
		return rvfn_throw_msg(env, RVFN_GENERIC, "Store is already closed");
	rvf_close(s);
	return NULL;
}

static napi_value set_num(napi_env env, napi_value obj, const char *key, double d)
{
	napi_value v = rvfn_num(env, d);
	if (!v || napi_set_named_property(env, obj, key, v) != napi_ok)
		return NULL;
	return obj;
}

static napi_value set_bool(napi_env env, napi_value obj, const char *key, bool b)
{
	napi_value v;
	if (napi_get_boolean(env, b, &v) != napi_ok || napi_set_named_property(env, obj, key, v) != napi_ok)
		return NULL;
	return obj;
}

static napi_value db_status(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	rvf_status st;
	int rc = rvf_get_status(db->s, &st);
	rvfn_unlock(db);
	if (rc)
		return rvfn_throw_rvf(env, rc);
	napi_value o, idle;
	if (napi_create_object(env, &o) != napi_ok ||
	    napi_create_string_utf8(env, "idle", NAPI_AUTO_LENGTH, &idle) != napi_ok)
		return NULL;
	if (!set_num(env, o, "totalVectors", (double)st.total_vectors) ||
	    !set_num(env, o, "totalSegments", (double)st.total_segments) ||
	    !set_num(env, o, "fileSize", (double)st.file_size) ||
	    !set_num(env, o, "currentEpoch", st.epoch) || !set_num(env, o, "profileId", st.profile_id) ||
	    napi_set_named_property(env, o, "compactionState", idle) != napi_ok ||
	    !set_num(env, o, "deadSpaceRatio", st.dead_space_ratio) ||
	    !set_bool(env, o, "readOnly", st.read_only))
		return NULL;
	return o;
}

static napi_value db_dimension(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	uint32_t d = rvf_dimension(db->s);
	rvfn_unlock(db);
	return rvfn_num(env, d);
}

static napi_value db_metric(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	const char *m = rvf_metric_name(rvf_get_metric(db->s));
	rvfn_unlock(db);
	napi_value v = NULL;
	napi_create_string_utf8(env, m, NAPI_AUTO_LENGTH, &v);
	return v;
}

/* {indexedVectors, layers, m, efConstruction, needsRebuild}: the persisted
 * graph's real figures (the reference reports the live count and layers 0). */
static napi_value db_index_stats(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	rvf_index_stats st;
	int rc = rvf_get_index_stats(db->s, &st);
	uint32_t m = db->m, efc = db->ef_construction;
	rvfn_unlock(db);
	if (rc)
		return rvfn_throw_rvf(env, rc);
	napi_value o;
	if (napi_create_object(env, &o) != napi_ok)
		return NULL;
	if (!set_num(env, o, "indexedVectors", st.present ? (double)st.nodes : 0) ||
	    !set_num(env, o, "layers", st.present ? st.max_level + 1.0 : 0) ||
	    !set_num(env, o, "m", st.present ? st.m : m) ||
	    !set_num(env, o, "efConstruction", st.present ? st.ef_construction : efc) ||
	    !set_bool(env, o, "needsRebuild", st.rebuild_needed))
		return NULL;
	return o;
}

/* Seals the file (persisted: every later writer gets ReadOnly); returns the epoch. */
static napi_value db_freeze(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	int rc = rvf_freeze(db->s);
	rvf_status st = {0};
	if (!rc)
		rc = rvf_get_status(db->s, &st);
	rvfn_unlock(db);
	if (rc)
		return rvfn_throw_rvf(env, rc);
	return rvfn_num(env, st.epoch);
}

#define JOB_FN(name, kind, async)                                              \
	static napi_value name(napi_env env, napi_callback_info info)          \
	{                                                                      \
		return rvfn_job_call(env, info, kind, async);                  \
	}
JOB_FN(db_ingest, JOB_INGEST, false)
JOB_FN(db_ingest_async, JOB_INGEST, true)
JOB_FN(db_query, JOB_QUERY, false)
JOB_FN(db_query_async, JOB_QUERY, true)
JOB_FN(db_delete, JOB_DELETE, false)
JOB_FN(db_delete_async, JOB_DELETE, true)
JOB_FN(db_delete_filter, JOB_DELETE_FILTER, false)
JOB_FN(db_delete_filter_async, JOB_DELETE_FILTER, true)
JOB_FN(db_compact, JOB_COMPACT, false)
JOB_FN(db_compact_async, JOB_COMPACT, true)
JOB_FN(db_build_index, JOB_BUILD_INDEX, false)
JOB_FN(db_build_index_async, JOB_BUILD_INDEX, true)

static void module_free(napi_env env, void *data, void *hint)
{
	rvfn_module *mod = data;
	(void)hint;
	napi_delete_reference(env, mod->ctor);
	free(mod);
}

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL}
#define STATIC(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_static | napi_default_method, NULL}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */)
{
	static const napi_property_descriptor props[] = {
		STATIC("create", db_create),
		STATIC("open", db_open),
		STATIC("openReadonly", db_open_ro),
		METHOD("ingestBatch", db_ingest),
		METHOD("query", db_query),
		METHOD("delete", db_delete),
		METHOD("deleteByFilter", db_delete_filter),
		METHOD("compact", db_compact),
		METHOD("status", db_status),
		METHOD("close", db_close),
		METHOD("fileId", rvfn_file_id),
		METHOD("parentId", rvfn_parent_id),
		METHOD("lineageDepth", rvfn_lineage_depth),
		METHOD("derive", rvfn_derive),
		METHOD("branch", rvfn_branch),
		METHOD("embedKernel", rvfn_embed_kernel),
		METHOD("extractKernel", rvfn_extract_kernel),
		METHOD("embedEbpf", rvfn_embed_ebpf),
		METHOD("extractEbpf", rvfn_extract_ebpf),
		METHOD("segments", rvfn_segments),
		METHOD("dimension", db_dimension),
		METHOD("indexStats", db_index_stats),
		METHOD("freeze", db_freeze),
		METHOD("metric", db_metric),
		/* ours: the long calls on the libuv pool, returning Promises */
		METHOD("ingestBatchAsync", db_ingest_async),
		METHOD("queryAsync", db_query_async),
		METHOD("deleteAsync", db_delete_async),
		METHOD("deleteByFilterAsync", db_delete_filter_async),
		METHOD("compactAsync", db_compact_async),
		METHOD("buildIndex", db_build_index),
		METHOD("buildIndexAsync", db_build_index_async),
	};
	napi_value cls;
	rvfn_module *mod = calloc(1, sizeof *mod);
	if (!mod)
		return NULL;
	if (napi_define_class(env, "RvfDatabase", NAPI_AUTO_LENGTH, ctor, NULL,
			      sizeof props / sizeof props[0], props, &cls) != napi_ok ||
	    napi_create_reference(env, cls, 1, &mod->ctor) != napi_ok) {
		free(mod);
		return NULL;
	}
	if (napi_set_instance_data(env, mod, module_free, NULL) != napi_ok ||
	    napi_set_named_property(env, exports, "RvfDatabase", cls) != napi_ok)
		return NULL;
	return exports;
}
