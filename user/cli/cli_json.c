/* cli_json.c — jansson helpers: one output style for every --json command
 * and the small conversions (hex, hits, float arrays) they share; u64 ids
 * are in json_u64.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_json_print(json_t *j)
{
	char *txt;
	int rc;

	if (!j)
		return cli_fail("out of memory building JSON output");
	/* Sorted keys match the reference (serde_json maps are BTreeMaps);
	 * reals print as their shortest round-tripping text (json_u64.c). */
	txt = cli_json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	json_decref(j);
	if (!txt)
		return cli_fail("out of memory building JSON output");
	rc = fputs(txt, stdout) < 0 || putchar('\n') == EOF;
	free(txt);
	if (rc)
		return cli_fail("cannot write JSON output");
	return CLI_OK;
}

json_t *cli_json_real(double v)
{
	return cli_json_f64(v);
}

json_t *cli_json_hex(const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char buf[2 * 64 + 1];
	size_t i;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		buf[2 * i] = digits[b[i] >> 4];
		buf[2 * i + 1] = digits[b[i] & 15];
	}
	buf[2 * n] = 0;
	return json_string(buf);
}

json_t *cli_json_path(const char *path)
{
	json_t *j = json_string(path);
	char *copy, *p;

	if (j)
		return j;
	/* Not UTF-8: JSON cannot carry the raw bytes, so show them as '?'
	 * rather than failing a command whose work is already done. */
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *cli_json_hits(const rvf_hit *hits, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		json_t *o = json_object();

		if (!o) {
			json_decref(arr);
			return NULL;
		}
		json_object_set_new(o, "distance", cli_json_f32(hits[i].distance));
		json_object_set_new(o, "id", cli_json_u64(hits[i].id));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *cli_json_load(const char *path)
{
	json_error_t e;
	json_t *j;

	/* JSON_DECODE_ANY so a scalar top level gets our "expected an array"
	 * message instead of jansson's generic one. */
	j = json_load_file(path, JSON_DECODE_ANY, &e);
	if (!j) {
		/* jansson holds integers as int64: say so instead of just "too big". */
		if (strstr(e.text, "too big integer"))
			strncat(e.text, " (integers above 2^63-1 are not supported here)",
				sizeof e.text - strlen(e.text) - 1);
		if (e.line > 0)
			cli_fail("%s: %s at line %d column %d", path, e.text, e.line, e.column);
		else
			cli_fail("%s: %s", path, e.text);
	}
	return j;
}

int cli_json_floats(const json_t *arr, float *out, size_t dim, size_t *bad)
{
	size_t i;

	if (json_array_size(arr) != dim)
		return -2;
	for (i = 0; i < dim; i++) {
		json_t *x = json_array_get(arr, i);

		if (!json_is_number(x)) {
			*bad = i;
			return -1;
		}
		out[i] = (float)json_number_value(x);
	}
	return 0;
}


/* ---- metadata field names through the store's dictionary ---------------- */

static int names_lookup(void *ctx, const char *name, int type, uint16_t *id, int *dtype)
{
	(void)type;
	return rvf_field_lookup(ctx, name, id, dtype);
}

static int names_define(void *ctx, const char *name, int type, uint16_t *id, int *dtype)
{
	int rc = rvf_field_lookup(ctx, name, id, dtype);

	if (rc != RVF_E_NOT_FOUND || type < 0)
		return rc;
	rc = rvf_field_define(ctx, name, type, id);
	if (!rc)
		*dtype = type;
	return rc;
}

static const char *names_of(void *ctx, uint16_t id)
{
	return rvf_field_name(ctx, id, NULL);
}

meta_names cli_names(rvf_store *s, int define)
{
	meta_names nm = { define ? names_define : names_lookup, names_of, s };

	return nm;
}

int cli_filter_early(const char *text, rvf_filter **f, const char **deferred)
{
	*deferred = NULL;
	if (!rvf_filter_parse(text, f))
		return CLI_OK;
	if (strstr(rvf_last_error(), "names need a store")) {
		*deferred = text;
		return CLI_OK;
	}
	return cli_fail("invalid --filter: %s", rvf_last_error());
}

int cli_filter_names(const rvf_store *s, const char *text, rvf_filter **f)
{
	if (rvf_filter_parse_names(s, text, f))
		return cli_fail("invalid --filter: %s", rvf_last_error());
	return CLI_OK;
}
