/* rvfn.h — the Node binding (Node-API, C) over librvf: shared declarations.
 *
 * One RvfDatabase JS object wraps one rvfn_db. Every call that touches the
 * store holds db->mu, so a Promise variant running on the libuv pool and a
 * synchronous call from JS never use the store at the same time. Errors
 * follow the reference binding (@ruvector/rvf-node 0.2.3): plain Error
 * objects whose `code` is the napi-rs status name ("GenericFailure" for
 * store errors, "InvalidArg" / "NumberExpected" / "StringExpected" /
 * "BooleanExpected" for arguments) and whose message starts with the
 * reference's text ("RVF error 0x0200: DimensionMismatch", ...). */
#ifndef RVFN_H
#define RVFN_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rvf.h"

typedef struct {
	rvf_store *s; /* NULL once closed */
	pthread_mutex_t mu;
	uint32_t m, ef_construction; /* create options, used by buildIndex */
} rvfn_db;

/* ---- errors (errors.c) --------------------------------------------------- */
#define RVFN_GENERIC "GenericFailure"
#define RVFN_INVALID_ARG "InvalidArg"
#define RVFN_NUMBER "NumberExpected"
#define RVFN_STRING "StringExpected"
#define RVFN_BOOL "BooleanExpected"

/* An error to hand to JS: napi-rs code name and message. */
typedef struct {
	const char *code; /* NULL: no error */
	char msg[640];
} rvfn_err;

/* Sets e from a library failure rc (with rvf_last_error() of this thread). */
void rvfn_err_rvf(rvfn_err *e, int rc);
__attribute__((format(printf, 3, 4))) void rvfn_err_set(rvfn_err *e, const char *code, const char *fmt,
							 ...);
/* Throws e (or a pending napi exception) in env; returns NULL for callers. */
napi_value rvfn_throw(napi_env env, const rvfn_err *e);
napi_value rvfn_throw_msg(napi_env env, const char *code, const char *msg);
napi_value rvfn_create_error(napi_env env, const rvfn_err *e);
/* Throws a library failure at once. */
napi_value rvfn_throw_rvf(napi_env env, int rc);

/* ---- argument conversion (args.c); false = exception thrown -------------- */
bool rvfn_is_nullish(napi_env env, napi_value v);
bool rvfn_get_string(napi_env env, napi_value v, const char *on, char **out); /* malloc'd */
bool rvfn_get_u32(napi_env env, napi_value v, const char *on, uint32_t *out);
bool rvfn_get_bool(napi_env env, napi_value v, const char *on, bool *out);
/* A number that is an integer in min..max, else NumberExpected (not a
 * number) or InvalidArg naming `name` (NaN, Infinity, a fraction, out of
 * range): never truncated or wrapped. */
#define RVFN_MAX_SAFE_INT 9007199254740991.0 /* 2^53-1 */
bool rvfn_get_int(napi_env env, napi_value v, const char *name, double min, double max, double *out);
/* obj[key] if obj is an object and has it (not undefined/null), else NULL. */
napi_value rvfn_prop(napi_env env, napi_value obj, const char *key);
bool rvfn_get_f32(napi_env env, napi_value v, const float **data, size_t *n);
bool rvfn_get_ids(napi_env env, napi_value v, uint64_t **ids, size_t *n); /* malloc'd */
bool rvfn_get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *n);
napi_value rvfn_num(napi_env env, double d);

/* ---- the handle (addon.c) ------------------------------------------------ */
rvfn_db *rvfn_unwrap(napi_env env, napi_value self); /* NULL: thrown */
/* this's rvfn_db with its store, locked; NULL with "Store is closed" thrown. */
rvfn_db *rvfn_lock(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
		   napi_value *self);
void rvfn_unlock(rvfn_db *db);
/* A new RvfDatabase object owning s (closed on failure). */
napi_value rvfn_wrap_store(napi_env env, rvf_store *s, uint32_t m, uint32_t efc);
/* Parses an RvfOptions object (create / derive). */
bool rvfn_parse_options(napi_env env, napi_value opts, rvf_create_opts *o, uint32_t *m, uint32_t *efc);

/* ---- long calls: one job type, run synchronously or on the pool (jobs.c) */
typedef enum {
	JOB_INGEST,
	JOB_QUERY,
	JOB_DELETE,
	JOB_DELETE_FILTER,
	JOB_COMPACT,
	JOB_BUILD_INDEX,
} rvfn_job_kind;

napi_value rvfn_job_call(napi_env env, napi_callback_info info, rvfn_job_kind kind, bool async);

/* ---- everything else, registered from addon.c ---------------------------- */
napi_value rvfn_segments(napi_env env, napi_callback_info info);
napi_value rvfn_embed_kernel(napi_env env, napi_callback_info info);
napi_value rvfn_extract_kernel(napi_env env, napi_callback_info info);
napi_value rvfn_embed_ebpf(napi_env env, napi_callback_info info);
napi_value rvfn_extract_ebpf(napi_env env, napi_callback_info info);
napi_value rvfn_derive(napi_env env, napi_callback_info info);
napi_value rvfn_branch(napi_env env, napi_callback_info info);
napi_value rvfn_file_id(napi_env env, napi_callback_info info);
napi_value rvfn_parent_id(napi_env env, napi_callback_info info);
napi_value rvfn_lineage_depth(napi_env env, napi_callback_info info);

#endif
