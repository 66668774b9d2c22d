/* meta_args.c — ingestBatch's metadata argument to per-row rvf_field lists.
 *
 * The reference's shape is one flat array of {fieldId, valueType, value}
 * (value always a string parsed per type) split evenly over the rows. The
 * reference divides by the number of *accepted* rows (a rejected row shifts
 * every later row's metadata onto the wrong vector, and fewer entries than
 * rows drop all of it silently); here entry i belongs to row i / (len / n),
 * and a length that is not a multiple of the row count is an error. An array
 * of per-row arrays is accepted too. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rvfn.h"
#include "rvfn_meta.h"

void rvfn_meta_free(rvfn_meta *m)
{
	if (m->fields)
		for (size_t i = 0; i < m->nfields; i++)
			if (m->fields[i].type == RVF_FIELD_STRING)
				free((char *)m->fields[i].v.str.ptr);
	free(m->fields);
	free(m->rows);
	free(m->counts);
	memset(m, 0, sizeof *m);
}

static bool bad_value(napi_env env, const char *value, const char *type)
{
	rvfn_err e;
	rvfn_err_set(&e, RVFN_GENERIC, "Cannot parse '%s' as %s", value, type);
	rvfn_throw(env, &e);
	return false;
}

/* Rust's integer from_str: optional sign ('-' only if signed), digits, no spaces. */
static bool parse_int(const char *s, bool sign_ok, bool *neg, uint64_t *mag)
{
	*neg = false;
	if (*s == '+' || (sign_ok && *s == '-'))
		*neg = *s++ == '-';
	if (!*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*mag = v;
	return true;
}

/* Rust's f64 from_str: decimal / exponent forms, inf, infinity, nan; no hex, no spaces. */
static bool parse_f64(const char *s, double *out)
{
	if (!*s || isspace((unsigned char)*s) || strpbrk(s, "xXpP"))
		return false;
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0';
}

static bool parse_entry(napi_env env, napi_value ent, rvf_field *f)
{
	napi_value vid = rvfn_prop(env, ent, "fieldId"), vt = rvfn_prop(env, ent, "valueType"),
		   vv = rvfn_prop(env, ent, "value");
	const char *missing = !vid ? "fieldId" : !vt ? "valueType" : !vv ? "value" : NULL;
	if (missing) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_INVALID_ARG, "Missing field `%s`", missing);
		rvfn_throw(env, &e);
		return false;
	}
	uint32_t id;
	char *type = NULL, *value = NULL;
	if (!rvfn_get_u32(env, vid, "RvfMetadataEntry.fieldId", &id) ||
	    !rvfn_get_string(env, vt, "RvfMetadataEntry.valueType", &type))
		return false;
	if (!rvfn_get_string(env, vv, "RvfMetadataEntry.value", &value)) {
		free(type);
		return false;
	}
	bool ok = true, neg;
	uint64_t mag;
	if (id > 65535) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC, "metadata fieldId %u is not in 0..65535", id);
		rvfn_throw(env, &e);
		ok = false;
	} else if (!strcmp(type, "u64")) {
		f->type = RVF_FIELD_U64;
		ok = parse_int(value, false, &neg, &f->v.u64) || bad_value(env, value, "u64");
	} else if (!strcmp(type, "i64")) {
		f->type = RVF_FIELD_I64;
		ok = (parse_int(value, true, &neg, &mag) && mag <= (uint64_t)INT64_MAX + neg) ||
		     bad_value(env, value, "i64");
		if (ok)
			f->v.i64 = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	} else if (!strcmp(type, "f64")) {
		f->type = RVF_FIELD_F64;
		ok = parse_f64(value, &f->v.f64) || bad_value(env, value, "f64");
	} else if (!strcmp(type, "string")) {
		f->type = RVF_FIELD_STRING;
		f->v.str.ptr = value; /* owned by the field from here */
		f->v.str.len = (uint32_t)strlen(value);
		value = NULL;
	} else {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC, "Unknown metadata value_type '%s'", type);
		rvfn_throw(env, &e);
		ok = false;
	}
	f->id = (uint16_t)id;
	free(type);
	free(value);
	return ok;
}

static bool array_len(napi_env env, napi_value v, uint32_t *len)
{
	bool is = false;
	if (napi_is_array(env, v, &is) != napi_ok || !is) {
		rvfn_throw_msg(env, RVFN_INVALID_ARG, "Given napi value is not an array");
		return false;
	}
	return napi_get_array_length(env, v, len) == napi_ok;
}

bool rvfn_meta_parse(napi_env env, napi_value v, size_t nrows, rvfn_meta *m)
{
	memset(m, 0, sizeof *m);
	uint32_t len;
	if (rvfn_is_nullish(env, v))
		return true;
	if (!array_len(env, v, &len))
		return false;
	if (len == 0 || nrows == 0)
		return true;
	napi_value first;
	bool nested = false;
	if (napi_get_element(env, v, 0, &first) != napi_ok || napi_is_array(env, first, &nested) != napi_ok)
		return false;
	if (nested ? len != nrows : len % nrows != 0) {
		rvfn_err e;
		rvfn_err_set(&e, RVFN_GENERIC,
			     nested ? "metadata has %u per-vector arrays for %zu ids"
				    : "metadata length (%u) must be a multiple of ids length (%zu): the "
				      "entries are split evenly over the vectors",
			     len, nrows);
		rvfn_throw(env, &e);
		return false;
	}
	/* count the entries */
	size_t total = len;
	if (nested) {
		total = 0;
		for (uint32_t i = 0; i < len; i++) {
			napi_value row;
			uint32_t rl;
			if (napi_get_element(env, v, i, &row) != napi_ok || !array_len(env, row, &rl))
				return false;
			total += rl;
		}
	}
	m->fields = calloc(total ? total : 1, sizeof *m->fields);
	m->rows = calloc(nrows, sizeof *m->rows);
	m->counts = calloc(nrows, sizeof *m->counts);
	if (!m->fields || !m->rows || !m->counts) {
		rvfn_meta_free(m);
		rvfn_throw_msg(env, RVFN_GENERIC, "out of memory");
		return false;
	}
	size_t per = nested ? 0 : len / nrows;
	for (size_t r = 0; r < nrows; r++) {
		napi_value row = v;
		uint32_t rl = (uint32_t)per, base = (uint32_t)(r * per);
		if (nested) {
			base = 0;
			if (napi_get_element(env, v, (uint32_t)r, &row) != napi_ok || !array_len(env, row, &rl))
				goto fail;
		}
		m->rows[r] = m->fields + m->nfields;
		m->counts[r] = rl;
		for (uint32_t j = 0; j < rl; j++) {
			napi_value ent;
			if (napi_get_element(env, row, base + j, &ent) != napi_ok)
				goto fail;
			rvf_field *f = &m->fields[m->nfields++];
			if (!parse_entry(env, ent, f)) {
				f->type = RVF_FIELD_U64; /* nothing owned */
				goto fail;
			}
		}
	}
	return true;
fail:
	rvfn_meta_free(m);
	return false;
}
