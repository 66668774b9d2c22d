/* fuzz_filter.c — libFuzzer harness for both filter grammars (filter.c).
 *
 * Input: byte 0 picks the grammar (auto / Node / CLI), the rest is the
 * filter's JSON text. A rejected filter must leave a message; an accepted
 * one is evaluated against several field sets (every type, none, repeated
 * ids) and rendered with filter_to_json, which must parse back to a filter
 * that renders identically and evaluates the same on every field set. */
#include "errors.h"
#include "filter.h"
#include "fuzz_util.h"

#include <math.h>

static meta_field sets[4][6];
static size_t nset[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	meta_field *a = sets[0];
	a[0] = (meta_field){.id = 0, .type = META_U64, .v.u64 = 5};
	a[1] = (meta_field){.id = 1, .type = META_STRING, .v.str = {"red", 3}};
	a[2] = (meta_field){.id = 2, .type = META_F64, .v.f64 = NAN};
	a[3] = (meta_field){.id = 3, .type = META_BOOL, .v.b = 1};
	a[4] = (meta_field){.id = 4, .type = META_I64, .v.i64 = -7};
	nset[0] = 5;
	meta_field *b = sets[1];
	b[0] = (meta_field){.id = 0, .type = META_U64, .v.u64 = UINT64_MAX};
	b[1] = (meta_field){.id = 1, .type = META_STRING, .v.str = {"", 0}};
	b[2] = (meta_field){.id = 2, .type = META_F64, .v.f64 = -0.0};
	b[3] = (meta_field){.id = 65535, .type = META_I64, .v.i64 = INT64_MIN};
	nset[1] = 4;
	nset[2] = 0;
	meta_field *c = sets[3]; /* a repeated id: the last one counts */
	c[0] = (meta_field){.id = 0, .type = META_U64, .v.u64 = 1};
	c[1] = (meta_field){.id = 0, .type = META_STRING, .v.str = {"blue", 4}};
	c[2] = (meta_field){.id = 2, .type = META_F64, .v.f64 = INFINITY};
	nset[3] = 3;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	filter_grammar g = (filter_grammar)(data[0] % 3);
	char *text = fz_cstr(data + 1, size - 1);
	filter *f = NULL;
	rvf_clear_error();
	int rc = filter_parse(text, size - 1, g, &f);
	if (rc != RVF_OK) {
		if (f || !*rvf_last_error())
			abort();
		free(text);
		return 0;
	}
	bool r[4];
	for (int i = 0; i < 4; i++)
		r[i] = filter_eval(f, sets[i], nset[i]);
	json_t *j = filter_to_json(f);
	if (!j)
		abort();
	char *s1 = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!s1)
		abort();
	filter *f2 = NULL;
	if (filter_parse(s1, strlen(s1), FILTER_GRAMMAR_CLI, &f2) != RVF_OK) {
		fprintf(stderr, "canonical form does not parse: %s\n%s\n", s1, rvf_last_error());
		abort();
	}
	for (int i = 0; i < 4; i++)
		if (filter_eval(f2, sets[i], nset[i]) != r[i]) {
			fprintf(stderr, "canonical form %s evaluates differently on set %d\n", s1, i);
			abort();
		}
	json_t *j2 = filter_to_json(f2);
	char *s2 = j2 ? json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!s2 || strcmp(s1, s2)) {
		fprintf(stderr, "not a fixed point:\n%s\n%s\n", s1, s2 ? s2 : "(null)");
		abort();
	}
	json_decref(j2);
	free(s1);
	free(s2);
	filter_free(f2);
	filter_free(f);
	free(text);
	return 0;
}
