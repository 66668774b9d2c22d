/* args.c — JS argument conversion with the reference binding's error codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvfn.h"

static const char *type_name(napi_env env, napi_value v)
{
	napi_valuetype t = napi_undefined;
	if (!v || napi_typeof(env, v, &t) != napi_ok)
		return "Undefined";
	switch (t) {
	case napi_undefined: return "Undefined";
	case napi_null: return "Null";
	case napi_boolean: return "Boolean";
	case napi_number: return "Number";
	case napi_string: return "String";
	case napi_symbol: return "Symbol";
	case napi_object: return "Object";
	case napi_function: return "Function";
	case napi_external: return "External";
	case napi_bigint: return "BigInt";
	}
	return "Unknown";
}

static bool is_type(napi_env env, napi_value v, napi_valuetype want)
{
	napi_valuetype t;
	return v && napi_typeof(env, v, &t) == napi_ok && t == want;
}

bool rvfn_is_nullish(napi_env env, napi_value v)
{
	return !v || is_type(env, v, napi_undefined) || is_type(env, v, napi_null);
}

static bool fail(napi_env env, const char *code, const char *fmt, const char *a, const char *b,
		 const char *on)
{
	rvfn_err e;
	rvfn_err_set(&e, code, fmt, a, b);
	if (on) {
		size_t n = strlen(e.msg);
		snprintf(e.msg + n, sizeof e.msg - n, " on %s", on);
	}
	rvfn_throw(env, &e);
	return false;
}

bool rvfn_get_string(napi_env env, napi_value v, const char *on, char **out)
{
	size_t n = 0;
	*out = NULL;
	if (!is_type(env, v, napi_string))
		return fail(env, RVFN_STRING, "Failed to convert JavaScript value `%s` into rust type `%s`",
			    type_name(env, v), "String", on);
	if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok)
		return fail(env, RVFN_STRING, "%s%s", "cannot read the string", "", on);
	*out = malloc(n + 1);
	if (!*out) {
		rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
		return false;
	}
	if (napi_get_value_string_utf8(env, v, *out, n + 1, &n) != napi_ok) {
		free(*out);
		*out = NULL;
		return fail(env, RVFN_STRING, "%s%s", "cannot read the string", "", on);
	}
	if (strlen(*out) != n) { /* an embedded NUL would cut a path short */
		free(*out);
		*out = NULL;
		return fail(env, RVFN_INVALID_ARG, "%s%s", "string contains a NUL character", "", on);
	}
	return true;
}

bool rvfn_get_u32(napi_env env, napi_value v, const char *on, uint32_t *out)
{
	if (!is_type(env, v, napi_number) || napi_get_value_uint32(env, v, out) != napi_ok)
		return fail(env, RVFN_NUMBER, "Failed to convert napi value %s into rust type `%s`",
			    type_name(env, v), "u32", on);
	return true;
}

bool rvfn_get_int(napi_env env, napi_value v, const char *name, double min, double max, double *out)
{
	if (!is_type(env, v, napi_number) || napi_get_value_double(env, v, out) != napi_ok)
		return fail(env, RVFN_NUMBER, "Failed to convert napi value %s into rust type `%s`",
			    type_name(env, v), "number", name);
	/* NaN fails every comparison; a fraction or an out-of-range value is
	 * refused, not truncated or wrapped as napi_get_value_uint32 would */
	if (!(*out >= min && *out <= max && *out == (double)(int64_t)*out)) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_INVALID_ARG, "%s must be an integer in %.0f..%.0f, got %.17g", name, min, max,
			     *out);
		rvfn_throw(env, &e);
		return false;
	}
	return true;
}

bool rvfn_get_bool(napi_env env, napi_value v, const char *on, bool *out)
{
	if (!is_type(env, v, napi_boolean) || napi_get_value_bool(env, v, out) != napi_ok)
		return fail(env, RVFN_BOOL, "Failed to convert napi value %s into rust type `%s`",
			    type_name(env, v), "bool", on);
	return true;
}

napi_value rvfn_prop(napi_env env, napi_value obj, const char *key)
{
	napi_value v;
	if (!is_type(env, obj, napi_object) || napi_get_named_property(env, obj, key, &v) != napi_ok ||
	    rvfn_is_nullish(env, v))
		return NULL;
	return v;
}

bool rvfn_get_f32(napi_env env, napi_value v, const float **data, size_t *n)
{
	bool is = false;
	napi_typedarray_type t;
	void *p = NULL;
	if (!v || napi_is_typedarray(env, v, &is) != napi_ok || !is)
		return fail(env, RVFN_INVALID_ARG, "Get TypedArray info failed: expected a Float32Array, got %s%s",
			    type_name(env, v), "", NULL);
	if (napi_get_typedarray_info(env, v, &t, n, &p, NULL, NULL) != napi_ok)
		return fail(env, RVFN_INVALID_ARG, "%s%s", "Get TypedArray info failed", "", NULL);
	if (t != napi_float32_array)
		return fail(env, RVFN_INVALID_ARG, "%s%s", "expected a Float32Array, got another typed array",
			    "", NULL);
	static const float empty[1];
	*data = p ? (const float *)p : empty;
	return true;
}

bool rvfn_get_ids(napi_env env, napi_value v, uint64_t **ids, size_t *n)
{
	bool is = false;
	uint32_t len = 0;
	*ids = NULL;
	if (!v || napi_is_array(env, v, &is) != napi_ok || !is)
		return fail(env, RVFN_INVALID_ARG, "%s%s", "Given napi value is not an array", "", NULL);
	if (napi_get_array_length(env, v, &len) != napi_ok)
		return fail(env, RVFN_INVALID_ARG, "%s%s", "cannot read the array length", "", NULL);
	*ids = malloc((len ? len : 1) * sizeof **ids);
	if (!*ids) {
		rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < len; i++) {
		napi_value e;
		double x;
		/* integers 0..2^53-1, the ones a JS number holds exactly (the
		 * reference casts: 1.5 -> 1, NaN -> 0, -1 -> 2^64-1) */
		if (napi_get_element(env, v, i, &e) != napi_ok ||
		    !rvfn_get_int(env, e, "id", 0, RVFN_MAX_SAFE_INT, &x)) {
			free(*ids);
			*ids = NULL;
			return false;
		}
		(*ids)[i] = (uint64_t)x;
	}
	*n = len;
	return true;
}

bool rvfn_get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *n)
{
	bool is = false;
	void *p = NULL;
	static const uint8_t empty[1];
	if (v && napi_is_buffer(env, v, &is) == napi_ok && is) {
		if (napi_get_buffer_info(env, v, &p, n) != napi_ok)
			return fail(env, RVFN_INVALID_ARG, "%s%s", "Failed to create reference from Buffer", "", NULL);
		*data = p ? p : empty;
		return true;
	}
	napi_typedarray_type t;
	if (v && napi_is_typedarray(env, v, &is) == napi_ok && is &&
	    napi_get_typedarray_info(env, v, &t, n, &p, NULL, NULL) == napi_ok && t == napi_uint8_array) {
		*data = p ? p : empty;
		return true;
	}
	return fail(env, RVFN_INVALID_ARG, "Failed to create reference from Buffer: expected a Buffer, got %s%s",
		    type_name(env, v), "", NULL);
}

napi_value rvfn_num(napi_env env, double d)
{
	napi_value v = NULL;
	napi_create_double(env, d, &v);
	return v;
}
