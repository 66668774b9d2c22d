/* filter.c — parse the Node and CLI filter grammars into one AST; evaluate
 * with the reference runtime's semantics (see filter.h). */
#include "filter.h"

#include "errors.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {"eq", "ne", "lt", "le", "gt",  "ge",
				       "in", "range", "and", "or", "not"};

const char *filter_op_name(filter_op op)
{
	return (unsigned)op < sizeof op_names / sizeof *op_names ? op_names[op] : "?";
}

/* ---- AST memory --------------------------------------------------------- */

static void free_lit(meta_field *v)
{
	if (v->type == META_STRING)
		free((char *)v->v.str.ptr);
	v->type = META_U64;
	v->v.str.ptr = NULL;
}

void filter_free(filter *f)
{
	if (!f)
		return;
	free_lit(&f->val);
	free_lit(&f->high);
	for (size_t i = 0; i < f->nvals; i++)
		free_lit(&f->vals[i]);
	free(f->vals);
	for (size_t i = 0; i < f->nkids; i++)
		filter_free(f->kids[i]);
	free(f->kids);
	free(f);
}

/* Makes a literal own its string (copies it, NUL-terminated). */
static int own_lit(meta_field *v)
{
	if (v->type != META_STRING)
		return RVF_OK;
	char *c = malloc((size_t)v->v.str.len + 1);
	if (!c) {
		v->type = META_U64; /* nothing to free */
		return rvf_fail(RVF_E_NOMEM, "filter: out of memory");
	}
	if (v->v.str.len)
		memcpy(c, v->v.str.ptr, v->v.str.len);
	c[v->v.str.len] = 0;
	v->v.str.ptr = c;
	return RVF_OK;
}

/* ---- parsing ------------------------------------------------------------ */

#define PATH_MAX_LEN 256

typedef struct {
	char path[PATH_MAX_LEN];
} pbuf;

static void path_join(pbuf *dst, const char *base, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_join(pbuf *dst, const char *base, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(dst->path, sizeof dst->path, "%s", base);
	if (n < 0 || (size_t)n >= sizeof dst->path)
		return;
	va_start(ap, fmt);
	vsnprintf(dst->path + n, sizeof dst->path - (size_t)n, fmt, ap);
	va_end(ap);
}

#define FAIL(path, ...) fail_at(path, __VA_ARGS__)
__attribute__((format(printf, 2, 3))) static int fail_at(const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rvf_fail(RVF_E_ARG, "%s: %s", path, msg);
}

/* Re-prefixes the current rvf_last_error() message with a path. */
static int refail_at(int rc, const char *path)
{
	char msg[400];
	snprintf(msg, sizeof msg, "%s", rvf_last_error());
	return rvf_fail(rc, "%s: %s", path, msg);
}

static filter *new_node(filter_op op)
{
	filter *f = calloc(1, sizeof *f);
	if (f)
		f->op = op;
	return f;
}

static int alloc_kids(filter *f, size_t n)
{
	if (n == 0)
		return RVF_OK;
	f->kids = calloc(n, sizeof *f->kids);
	return f->kids ? RVF_OK : rvf_fail(RVF_E_NOMEM, "filter: out of memory");
}

static int alloc_vals(filter *f, size_t n)
{
	if (n == 0)
		return RVF_OK;
	f->vals = calloc(n, sizeof *f->vals);
	return f->vals ? RVF_OK : rvf_fail(RVF_E_NOMEM, "filter: out of memory");
}

static int parse_node(const json_t *j, const char *path, int depth, filter **out);
static int parse_cli(const json_t *j, const char *path, int depth, filter **out);

/* Field names for the parse under way (filter_parse_names), else NULL. */
static _Thread_local const meta_names *cur_names;

/* A field name: a string that does not start with a digit ("1" stays the
 * reference's "numeric field" error). */
static int is_name(const json_t *v)
{
	const char *p = json_string_value(v);
	return p && !(*p >= '0' && *p <= '9');
}

/* A field given by name: its id and dictionary type. */
static int named_field(const json_t *v, const char *path, uint16_t *id, int *dtype)
{
	const char *name = json_string_value(v);
	if (!cur_names || !cur_names->resolve)
		return FAIL(path, "field '%s' is a name: names need a store's field dictionary", name);
	if (cur_names->resolve(cur_names->ctx, name, -1, id, dtype))
		return FAIL(path, "unknown field name '%s'", name);
	return RVF_OK;
}

/* A literal for a named field takes the field's type when it converts
 * exactly (an integer to f64, a non-negative integer to i64). */
static int coerce_lit(meta_field *v, int dtype, const char *path)
{
	if (dtype < 0 || v->type == dtype)
		return RVF_OK;
	if (dtype == META_F64 && v->type == META_U64)
		v->v.f64 = (double)v->v.u64;
	else if (dtype == META_F64 && v->type == META_I64)
		v->v.f64 = (double)v->v.i64;
	else if (dtype == META_I64 && v->type == META_U64 && v->v.u64 <= (uint64_t)INT64_MAX)
		v->v.i64 = (int64_t)v->v.u64;
	else
		return FAIL(path, "the field is %s, the value %s", meta_type_name(dtype),
			    meta_type_name(v->type));
	v->type = (uint8_t)dtype;
	return RVF_OK;
}

/* ---- Node grammar ---- */

static int node_str(const json_t *obj, const char *key, const char *path, const json_t **s)
{
	*s = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!json_is_string(*s))
		return FAIL(path, "filter requires string field '%s'", key);
	return RVF_OK;
}

static int node_field(const json_t *obj, const char *path, uint16_t *id, int *dtype)
{
	const json_t *v = json_object_get(obj, "fieldId");
	*dtype = -1;
	if (!v && is_name(json_object_get(obj, "field")))
		v = json_object_get(obj, "field");
	if (is_name(v))
		return named_field(v, path, id, dtype);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return FAIL(path, "filter requires numeric field 'fieldId'");
	if (json_integer_value(v) > 65535)
		return FAIL(path, "fieldId %" JSON_INTEGER_FORMAT " out of range 0..65535",
			    json_integer_value(v));
	*id = (uint16_t)json_integer_value(v);
	return RVF_OK;
}

static int node_value(const json_t *s, const char *vt, const char *path, uint16_t field,
		      meta_field *out)
{
	int type = meta_type_from_name(vt);
	if (type < 0)
		return FAIL(path, "Unknown value_type '%s'", vt);
	int rc = meta_value_from_string(type, json_string_value(s), json_string_length(s), out);
	if (rc)
		return refail_at(rc, path);
	out->id = field;
	return own_lit(out);
}

static int node_leaf(filter *f, const json_t *j, const char *path)
{
	const json_t *vt, *raw;
	int dtype;
	int rc = node_field(j, path, &f->field, &dtype);
	if (rc)
		return rc;
	const char *t = dtype >= 0 ? meta_type_name(dtype) : NULL; /* a name implies its type */
	if (!t || json_object_get(j, "valueType")) {
		if ((rc = node_str(j, "valueType", path, &vt)))
			return rc;
		t = json_string_value(vt);
		if (dtype >= 0 && meta_type_from_name(t) != dtype)
			return FAIL(path, "valueType '%s' but the field is %s", t, meta_type_name(dtype));
	}
	if (meta_type_from_name(t) < 0) /* also for an empty 'in' list */
		return FAIL(path, "Unknown value_type '%s'", t);
	pbuf sub;
	if (f->op == FILTER_IN) {
		const json_t *arr = json_object_get(j, "values"), *e;
		size_t i;
		if (!json_is_array(arr))
			return FAIL(path, "filter 'in' requires 'values' array");
		if ((rc = alloc_vals(f, json_array_size(arr))))
			return rc;
		json_array_foreach(arr, i, e)
		{
			path_join(&sub, path, ".values[%zu]", i);
			if (!json_is_string(e))
				return FAIL(sub.path, "'values' entries must be strings");
			if ((rc = node_value(e, t, sub.path, f->field, &f->vals[i])))
				return rc;
			f->nvals = i + 1;
		}
		return RVF_OK;
	}
	if (f->op == FILTER_RANGE) {
		const json_t *lo, *hi;
		if ((rc = node_str(j, "low", path, &lo)) || (rc = node_str(j, "high", path, &hi)))
			return rc;
		path_join(&sub, path, ".low");
		if ((rc = node_value(lo, t, sub.path, f->field, &f->val)))
			return rc;
		path_join(&sub, path, ".high");
		return node_value(hi, t, sub.path, f->field, &f->high);
	}
	if ((rc = node_str(j, "value", path, &raw)))
		return rc;
	path_join(&sub, path, ".value");
	return node_value(raw, t, sub.path, f->field, &f->val);
}

static int parse_node(const json_t *j, const char *path, int depth, filter **out)
{
	const json_t *jop;
	int rc;
	*out = NULL;
	if (depth > FILTER_MAX_DEPTH)
		return FAIL(path, "filter nested deeper than %d levels", FILTER_MAX_DEPTH);
	if ((rc = node_str(j, "op", path, &jop)))
		return rc;
	const char *op = json_string_value(jop);
	int k = -1;
	for (int i = 0; i <= FILTER_NOT; i++)
		if (strcmp(op, op_names[i]) == 0)
			k = i;
	if (k < 0)
		return FAIL(path, "Unknown filter op '%s'", op);
	filter *f = new_node((filter_op)k);
	if (!f)
		return rvf_fail(RVF_E_NOMEM, "filter: out of memory");
	pbuf sub;
	if (k <= FILTER_RANGE) {
		rc = node_leaf(f, j, path);
	} else if (k == FILTER_NOT) {
		const json_t *c = json_object_get(j, "child");
		if (!c)
			rc = FAIL(path, "filter 'not' requires 'child'");
		else if (!(rc = alloc_kids(f, 1))) {
			path_join(&sub, path, ".child");
			rc = parse_node(c, sub.path, depth + 1, &f->kids[0]);
			f->nkids = 1;
		}
	} else {
		const json_t *arr = json_object_get(j, "children"), *e;
		size_t i;
		if (!json_is_array(arr))
			rc = FAIL(path, "filter '%s' requires 'children' array", op);
		else if (!(rc = alloc_kids(f, json_array_size(arr)))) {
			json_array_foreach(arr, i, e)
			{
				path_join(&sub, path, ".children[%zu]", i);
				rc = parse_node(e, sub.path, depth + 1, &f->kids[i]);
				f->nkids = i + 1;
				if (rc)
					break;
			}
		}
	}
	if (rc) {
		filter_free(f);
		return rc;
	}
	*out = f;
	return RVF_OK;
}

/* ---- CLI grammar ---- */

/* A value: typed wrapper {"u64":n} ... (checked in the order u64, i64, f64,
 * string, bool) or a bare scalar with inferred type. As an extension the
 * numeric wrappers also take a string parsed per type ("18446744073709551615",
 * "NaN"). */
static int cli_value(const json_t *v, const char *path, uint16_t field, meta_field *out)
{
	static const char *const wrap[] = {"u64", "i64", "f64", "string", "bool"};
	static const char *const must[] = {"u64 value must be a number",
					   "i64 value must be a number",
					   "f64 value must be a number",
					   "string value must be a string",
					   "bool value must be a boolean"};
	memset(out, 0, sizeof *out);
	if (json_is_object(v)) {
		for (int t = 0; t < META_NTYPES; t++) {
			const json_t *x = json_object_get(v, wrap[t]);
			if (!x)
				continue;
			bool ok = false;
			out->type = (uint8_t)t;
			if (json_is_string(x) && t <= META_F64) {
				int rc = meta_value_from_string(t, json_string_value(x),
								json_string_length(x), out);
				if (rc)
					return refail_at(rc, path);
				ok = true;
			} else if (t == META_U64) {
				if ((ok = json_is_integer(x) && json_integer_value(x) >= 0))
					out->v.u64 = (uint64_t)json_integer_value(x);
			} else if (t == META_I64) {
				if ((ok = json_is_integer(x)))
					out->v.i64 = json_integer_value(x);
			} else if (t == META_F64) {
				if ((ok = json_is_number(x)))
					out->v.f64 = json_number_value(x);
			} else if (t == META_STRING) {
				if ((ok = json_is_string(x))) {
					out->v.str.ptr = json_string_value(x);
					out->v.str.len = (uint32_t)json_string_length(x);
				}
			} else if ((ok = json_is_boolean(x))) {
				out->v.b = json_is_true(x);
			}
			if (!ok) {
				out->type = META_U64;
				return FAIL(path, "%s", must[t]);
			}
			out->id = field;
			return own_lit(out);
		}
	}
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x >= 0)
			out->type = META_U64, out->v.u64 = (uint64_t)x;
		else
			out->type = META_I64, out->v.i64 = x;
	} else if (json_is_real(v)) {
		out->type = META_F64, out->v.f64 = json_real_value(v);
	} else if (json_is_string(v)) {
		out->type = META_STRING;
		out->v.str.ptr = json_string_value(v);
		out->v.str.len = (uint32_t)json_string_length(v);
	} else if (json_is_boolean(v)) {
		out->type = META_BOOL, out->v.b = json_is_true(v);
	} else {
		return FAIL(path,
			    "cannot parse filter value; expected {\"u64\": N}, {\"string\": \"...\"}, "
			    "etc.");
	}
	out->id = field;
	return own_lit(out);
}

static int cli_field(const json_t *obj, const char *path, uint16_t *id, int *dtype)
{
	const json_t *v = json_object_get(obj, "field");
	*dtype = -1;
	if (is_name(v))
		return named_field(v, path, id, dtype);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return FAIL(path, "missing or invalid 'field' (must be u16)");
	if (json_integer_value(v) > 65535)
		return FAIL(path, "'field' %" JSON_INTEGER_FORMAT " out of range (must be u16)",
			    json_integer_value(v));
	*id = (uint16_t)json_integer_value(v);
	return RVF_OK;
}

static int cli_leaf(filter *f, const json_t *inner, const char *path)
{
	int rc;
	pbuf sub;
	if (!json_is_object(inner)) {
		if (f->op == FILTER_IN)
			return FAIL(path, "'in' must be a JSON object with 'field' and 'values'");
		if (f->op == FILTER_RANGE)
			return FAIL(path,
				    "'range' must be a JSON object with 'field', 'low' and 'high'");
		return FAIL(path, "comparison must be a JSON object with 'field' and 'value'");
	}
	int dtype;
	if ((rc = cli_field(inner, path, &f->field, &dtype)))
		return rc;
	if (f->op == FILTER_IN) {
		const json_t *arr = json_object_get(inner, "values"), *e;
		size_t i;
		if (!json_is_array(arr))
			return FAIL(path, "'in' requires a 'values' array");
		if ((rc = alloc_vals(f, json_array_size(arr))))
			return rc;
		json_array_foreach(arr, i, e)
		{
			path_join(&sub, path, ".values[%zu]", i);
			if ((rc = cli_value(e, sub.path, f->field, &f->vals[i])))
				return rc;
			f->nvals = i + 1;
			if ((rc = coerce_lit(&f->vals[i], dtype, sub.path)))
				return rc;
		}
		return RVF_OK;
	}
	if (f->op == FILTER_RANGE) {
		const json_t *lo = json_object_get(inner, "low"), *hi = json_object_get(inner, "high");
		if (!lo)
			return FAIL(path, "missing 'low' in range");
		if (!hi)
			return FAIL(path, "missing 'high' in range");
		path_join(&sub, path, ".low");
		if ((rc = cli_value(lo, sub.path, f->field, &f->val)) ||
		    (rc = coerce_lit(&f->val, dtype, sub.path)))
			return rc;
		path_join(&sub, path, ".high");
		if ((rc = cli_value(hi, sub.path, f->field, &f->high)))
			return rc;
		return coerce_lit(&f->high, dtype, sub.path);
	}
	const json_t *v = json_object_get(inner, "value");
	if (!v)
		return FAIL(path, "missing 'value' in comparison");
	path_join(&sub, path, ".value");
	if ((rc = cli_value(v, sub.path, f->field, &f->val)))
		return rc;
	return coerce_lit(&f->val, dtype, sub.path);
}

static int parse_cli(const json_t *j, const char *path, int depth, filter **out)
{
	/* Recognition order: the reference's, then our additions. */
	static const filter_op order[] = {FILTER_EQ,  FILTER_NE, FILTER_LT,  FILTER_LE,
					  FILTER_GT,  FILTER_GE, FILTER_AND, FILTER_OR,
					  FILTER_NOT, FILTER_IN, FILTER_RANGE};
	int rc = RVF_OK;
	*out = NULL;
	if (depth > FILTER_MAX_DEPTH)
		return FAIL(path, "filter nested deeper than %d levels", FILTER_MAX_DEPTH);
	if (!json_is_object(j))
		return FAIL(path, "filter must be a JSON object");
	const json_t *inner = NULL;
	filter_op op = FILTER_EQ;
	for (size_t i = 0; i < sizeof order / sizeof *order && !inner; i++)
		if ((inner = json_object_get(j, op_names[order[i]])))
			op = order[i];
	if (!inner)
		return FAIL(path, "unrecognized filter operator; expected: eq, ne, lt, le, gt, ge, "
				  "and, or, not (or the extensions in, range)");
	filter *f = new_node(op);
	if (!f)
		return rvf_fail(RVF_E_NOMEM, "filter: out of memory");
	pbuf sub;
	path_join(&sub, path, ".%s", op_names[op]);
	if (op <= FILTER_RANGE) {
		rc = cli_leaf(f, inner, sub.path);
	} else if (op == FILTER_NOT) {
		if (!(rc = alloc_kids(f, 1))) {
			rc = parse_cli(inner, sub.path, depth + 1, &f->kids[0]);
			f->nkids = 1;
		}
	} else if (!json_is_array(inner)) {
		rc = FAIL(path, "'%s' value must be an array", op_names[op]);
	} else if (!(rc = alloc_kids(f, json_array_size(inner)))) {
		size_t i;
		const json_t *e;
		json_array_foreach(inner, i, e)
		{
			pbuf kid;
			path_join(&kid, sub.path, "[%zu]", i);
			rc = parse_cli(e, kid.path, depth + 1, &f->kids[i]);
			f->nkids = i + 1;
			if (rc)
				break;
		}
	}
	if (rc) {
		filter_free(f);
		return rc;
	}
	*out = f;
	return RVF_OK;
}

int filter_from_json(const json_t *j, filter_grammar g, filter **out)
{
	*out = NULL;
	if (g == FILTER_GRAMMAR_AUTO)
		g = json_is_object(j) && json_object_get(j, "op") ? FILTER_GRAMMAR_NODE
								   : FILTER_GRAMMAR_CLI;
	if (g == FILTER_GRAMMAR_NODE)
		return parse_node(j, "filter", 0, out);
	if (g == FILTER_GRAMMAR_CLI)
		return parse_cli(j, "filter", 0, out);
	return rvf_fail(RVF_E_ARG, "filter: unknown grammar %d", (int)g);
}

int filter_parse_names(const char *text, size_t len, filter_grammar g, const meta_names *nm,
		       filter **out)
{
	const meta_names *prev = cur_names;
	cur_names = nm;
	int rc = filter_parse(text, len, g, out);
	cur_names = prev;
	return rc;
}

int filter_parse(const char *text, size_t len, filter_grammar g, filter **out)
{
	json_error_t e;
	*out = NULL;
	if (!text)
		return rvf_fail(RVF_E_ARG, "filter: no text");
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!j)
		return rvf_fail(RVF_E_ARG, "Invalid filter JSON: %s (line %d, column %d)", e.text,
				e.line, e.column);
	int rc = filter_from_json(j, g, out);
	json_decref(j);
	return rc;
}

/* ---- evaluation --------------------------------------------------------- */

static const meta_field *lookup(const meta_field *f, size_t n, uint16_t id)
{
	for (size_t i = n; i-- > 0;)
		if (f[i].id == id)
			return &f[i];
	return NULL;
}

#define INCOMPARABLE 2
/* Rust partial_cmp over same-typed values; INCOMPARABLE across types or NaN. */
static int cmp(const meta_field *a, const meta_field *b)
{
	if (a->type != b->type)
		return INCOMPARABLE;
	switch (a->type) {
	case META_U64: return (a->v.u64 > b->v.u64) - (a->v.u64 < b->v.u64);
	case META_I64: return (a->v.i64 > b->v.i64) - (a->v.i64 < b->v.i64);
	case META_F64:
		if (isnan(a->v.f64) || isnan(b->v.f64))
			return INCOMPARABLE;
		return (a->v.f64 > b->v.f64) - (a->v.f64 < b->v.f64);
	case META_BOOL: return (int)a->v.b - (int)b->v.b;
	case META_STRING: {
		uint32_t la = a->v.str.len, lb = b->v.str.len, m = la < lb ? la : lb;
		int c = m ? memcmp(a->v.str.ptr, b->v.str.ptr, m) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return (la > lb) - (la < lb);
	}
	default: return INCOMPARABLE;
	}
}

bool filter_eval(const filter *f, const meta_field *fields, size_t n)
{
	const meta_field *v;
	int c;
	switch (f->op) {
	case FILTER_AND:
		for (size_t i = 0; i < f->nkids; i++)
			if (!filter_eval(f->kids[i], fields, n))
				return false;
		return true;
	case FILTER_OR:
		for (size_t i = 0; i < f->nkids; i++)
			if (filter_eval(f->kids[i], fields, n))
				return true;
		return false;
	case FILTER_NOT: return f->nkids == 1 && !filter_eval(f->kids[0], fields, n);
	default: break;
	}
	v = lookup(fields, n, f->field);
	if (!v)
		return f->op == FILTER_NE;
	switch (f->op) {
	case FILTER_EQ: return meta_value_eq(v, &f->val);
	case FILTER_NE: return !meta_value_eq(v, &f->val);
	case FILTER_LT: return cmp(v, &f->val) == -1;
	case FILTER_LE: c = cmp(v, &f->val); return c == -1 || c == 0;
	case FILTER_GT: return cmp(v, &f->val) == 1;
	case FILTER_GE: c = cmp(v, &f->val); return c == 1 || c == 0;
	case FILTER_IN:
		for (size_t i = 0; i < f->nvals; i++)
			if (meta_value_eq(v, &f->vals[i]))
				return true;
		return false;
	case FILTER_RANGE: {
		int lo = cmp(v, &f->val), hi = cmp(v, &f->high);
		if (lo == INCOMPARABLE || hi == INCOMPARABLE)
			return false;
		return lo >= 0 && hi < 0;
	}
	default: return false;
	}
}

/* ---- rendering ---------------------------------------------------------- */

static json_t *lit_json(const meta_field *v)
{
	char buf[32];
	json_t *x;
	switch (v->type) {
	case META_U64:
		if (v->v.u64 > (uint64_t)INT64_MAX) {
			snprintf(buf, sizeof buf, "%" PRIu64, v->v.u64);
			x = json_string(buf);
		} else {
			x = json_integer((json_int_t)v->v.u64);
		}
		break;
	case META_I64: x = json_integer(v->v.i64); break;
	case META_F64:
		x = isfinite(v->v.f64) ? json_real(v->v.f64)
				       : json_string(isnan(v->v.f64) ? "NaN"
						     : v->v.f64 > 0  ? "inf"
								     : "-inf");
		break;
	case META_STRING: x = json_stringn(v->v.str.ptr, v->v.str.len); break;
	case META_BOOL: x = json_boolean(v->v.b); break;
	default: return NULL;
	}
	return x ? json_pack("{s:o}", meta_type_name(v->type), x) : NULL;
}

json_t *filter_to_json(const filter *f)
{
	json_t *inner = NULL, *arr;
	switch (f->op) {
	case FILTER_AND:
	case FILTER_OR:
		if (!(inner = json_array()))
			return NULL;
		for (size_t i = 0; i < f->nkids; i++) {
			json_t *k = filter_to_json(f->kids[i]);
			if (!k || json_array_append_new(inner, k))
				goto fail;
		}
		break;
	case FILTER_NOT:
		if (f->nkids != 1 || !(inner = filter_to_json(f->kids[0])))
			return NULL;
		break;
	case FILTER_IN:
		if (!(arr = json_array()))
			return NULL;
		for (size_t i = 0; i < f->nvals; i++) {
			json_t *x = lit_json(&f->vals[i]);
			if (!x || json_array_append_new(arr, x)) {
				json_decref(arr);
				return NULL;
			}
		}
		inner = json_pack("{s:i,s:o}", "field", (int)f->field, "values", arr);
		break;
	case FILTER_RANGE: {
		json_t *lo = lit_json(&f->val), *hi = lit_json(&f->high);
		if (!lo || !hi) {
			json_decref(lo);
			json_decref(hi);
			return NULL;
		}
		inner = json_pack("{s:i,s:o,s:o}", "field", (int)f->field, "low", lo, "high", hi);
		break;
	}
	default: {
		json_t *x = lit_json(&f->val);
		if (!x)
			return NULL;
		inner = json_pack("{s:i,s:o}", "field", (int)f->field, "value", x);
		break;
	}
	}
	if (!inner)
		return NULL;
	return json_pack("{s:o}", filter_op_name(f->op), inner);
fail:
	json_decref(inner);
	return NULL;
}
