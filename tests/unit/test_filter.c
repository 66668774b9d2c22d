/* test_filter.c — both filter grammars (Node op/fieldId/valueType/value and
 * the reference CLI's {"eq":{"field","value"}}) against the evaluation rules
 * of rvf-behaviour.md §b.5, plus parse errors with their JSON paths. */
#include "errors.h"
#include "filter.h"
#include "meta.h"
#include "testreg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Test JSON is written with ' for " to stay readable. */
static char *q(const char *s)
{
	char *r = strdup(s);
	for (char *p = r; *p; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

static filter *parse_q(const char *s, filter_grammar g)
{
	char *t = q(s);
	filter *f = NULL;
	int rc = filter_parse(t, strlen(t), g, &f);
	if (rc)
		fprintf(stderr, "\nparse failed (%s): %s\n", s, rvf_last_error());
	free(t);
	return f;
}

/* ---- fixture records ---------------------------------------------------- */
#define S(x) {.ptr = x, .len = sizeof(x) - 1}
static meta_field R0[] = {
	{.id = 0, .type = META_U64, .v.u64 = 25},
	{.id = 1, .type = META_STRING, .v.str = S("apple")},
	{.id = 2, .type = META_F64, .v.f64 = 1.5},
	{.id = 3, .type = META_I64, .v.i64 = -7},
	{.id = 4, .type = META_BOOL, .v.b = true},
};
static meta_field R1[] = {
	{.id = 0, .type = META_U64, .v.u64 = 35},
	{.id = 1, .type = META_STRING, .v.str = S("banana")},
	{.id = 2, .type = META_F64, .v.f64 = 0}, /* NaN, set at run time */
	{.id = 3, .type = META_I64, .v.i64 = 10},
	{.id = 4, .type = META_BOOL, .v.b = false},
};
static meta_field R3[] = {
	{.id = 0, .type = META_U64, .v.u64 = 15},
	{.id = 1, .type = META_STRING, .v.str = S("")},
	{.id = 2, .type = META_F64, .v.f64 = -0.0},
};

static const meta_field *rec_fields(int r, size_t *n)
{
	R1[2].v.f64 = NAN;
	switch (r) {
	case 0: *n = 5; return R0;
	case 1: *n = 5; return R1;
	case 3: *n = 3; return R3;
	default: *n = 0; return NULL; /* R2: no metadata */
	}
}

/* node: Node-grammar text; cli: CLI-grammar text (either may be NULL). */
typedef struct {
	const char *node, *cli;
	int rec;
	bool expect;
} eval_case;

#define NL(op, f, t, v) "{'op':'" op "','fieldId':" #f ",'valueType':'" t "','value':'" v "'}"
#define CL(op, f, v) "{'" op "':{'field':" #f ",'value':" v "}}"

static const eval_case cases[] = {
	/* eq / ne, u64, type strictness */
	{NL("eq", 0, "u64", "25"), CL("eq", 0, "{'u64':25}"), 0, true},
	{NL("eq", 0, "u64", "25"), CL("eq", 0, "25"), 1, false},
	{NL("eq", 0, "u64", "25"), CL("eq", 0, "25"), 2, false},
	{NL("eq", 0, "i64", "25"), CL("eq", 0, "{'i64':25}"), 0, false},
	{NL("eq", 0, "f64", "25"), CL("eq", 0, "{'f64':25}"), 0, false},
	{NL("eq", 0, "f64", "25"), CL("eq", 0, "25.0"), 0, false},
	{NL("ne", 0, "u64", "25"), CL("ne", 0, "25"), 0, false},
	{NL("ne", 0, "u64", "25"), CL("ne", 0, "25"), 1, true},
	{NL("ne", 0, "u64", "25"), CL("ne", 0, "25"), 2, true}, /* missing -> ne true */
	{NL("ne", 0, "i64", "25"), CL("ne", 0, "{'i64':25}"), 0, true}, /* other type */
	{NL("ne", 1, "string", "apple"), CL("ne", 1, "'apple'"), 0, false},
	{NL("eq", 0, "u64", "+25"), CL("eq", 0, "{'u64':'+25'}"), 0, true},
	/* ordering, u64 */
	{NL("lt", 0, "u64", "30"), CL("lt", 0, "30"), 0, true},
	{NL("lt", 0, "u64", "25"), CL("lt", 0, "25"), 0, false},
	{NL("le", 0, "u64", "25"), CL("le", 0, "25"), 0, true},
	{NL("gt", 0, "u64", "25"), CL("gt", 0, "25"), 0, false},
	{NL("ge", 0, "u64", "25"), CL("ge", 0, "25"), 0, true},
	{NL("gt", 0, "u64", "15"), CL("gt", 0, "15"), 1, true},
	{NL("gt", 0, "i64", "15"), CL("gt", 0, "{'i64':15}"), 1, false}, /* §b.5 example */
	{NL("lt", 0, "u64", "30"), CL("lt", 0, "30"), 2, false},
	{NL("ge", 0, "u64", "0"), CL("ge", 0, "0"), 2, false},
	{NL("le", 0, "u64", "18446744073709551615"), CL("le", 0, "{'u64':'18446744073709551615'}"),
	 1, true},
	/* i64 */
	{NL("lt", 3, "i64", "0"), CL("lt", 3, "{'i64':0}"), 0, true},
	{NL("ge", 3, "i64", "-7"), CL("ge", 3, "-7"), 0, true},
	{NL("gt", 3, "i64", "-8"), CL("gt", 3, "-8"), 0, true},
	{NL("lt", 3, "i64", "-9223372036854775808"), CL("lt", 3, "-9223372036854775808"), 0, false},
	{NL("eq", 3, "i64", "-7"), CL("eq", 3, "-7"), 0, true},
	{NL("le", 3, "i64", "10"), CL("le", 3, "{'i64':10}"), 1, true},
	{NL("eq", 3, "u64", "10"), CL("eq", 3, "10"), 1, false}, /* i64 field, u64 literal */
	/* f64, NaN, signed zero */
	{NL("eq", 2, "f64", "1.5"), CL("eq", 2, "1.5"), 0, true},
	{NL("lt", 2, "f64", "2"), CL("lt", 2, "{'f64':2}"), 0, true},
	{NL("gt", 2, "f64", "1.5"), CL("gt", 2, "1.5"), 0, false},
	{NL("eq", 2, "f64", "NaN"), CL("eq", 2, "{'f64':'NaN'}"), 1, false},
	{NL("ne", 2, "f64", "NaN"), CL("ne", 2, "{'f64':'nan'}"), 1, true},
	{NL("lt", 2, "f64", "inf"), CL("lt", 2, "{'f64':'inf'}"), 1, false},
	{NL("ge", 2, "f64", "-infinity"), CL("ge", 2, "{'f64':'-inf'}"), 1, false},
	{NL("ne", 2, "f64", "1"), CL("ne", 2, "1.0"), 1, true},
	{NL("eq", 2, "f64", "0"), CL("eq", 2, "{'f64':0}"), 3, true}, /* -0 == 0 */
	{NL("lt", 2, "f64", "0"), CL("lt", 2, "0.0"), 3, false},
	{NL("le", 2, "f64", "inf"), CL("le", 2, "{'f64':'Infinity'}"), 0, true},
	{NL("eq", 2, "f64", "1.5e0"), CL("eq", 2, "{'f64':1.5}"), 0, true},
	/* strings: bytewise, case-sensitive, prefix ordering */
	{NL("eq", 1, "string", "apple"), CL("eq", 1, "'apple'"), 0, true},
	{NL("lt", 1, "string", "banana"), CL("lt", 1, "{'string':'banana'}"), 0, true},
	{NL("gt", 1, "string", "apple"), CL("gt", 1, "'apple'"), 1, true},
	{NL("lt", 1, "string", "app"), CL("lt", 1, "'app'"), 0, false},
	{NL("gt", 1, "string", "app"), CL("gt", 1, "'app'"), 0, true},
	{NL("eq", 1, "string", ""), CL("eq", 1, "''"), 3, true},
	{NL("lt", 1, "string", "a"), CL("lt", 1, "'a'"), 3, true},
	{NL("eq", 1, "string", "Apple"), CL("eq", 1, "'Apple'"), 0, false},
	{NL("lt", 1, "string", "B"), CL("lt", 1, "'B'"), 0, false}, /* 'a' 0x61 > 'B' 0x42 */
	{NL("eq", 1, "string", "25"), CL("eq", 1, "'25'"), 0, false},
	/* bool */
	{NL("eq", 4, "bool", "true"), CL("eq", 4, "true"), 0, true},
	{NL("eq", 4, "bool", "true"), CL("eq", 4, "{'bool':true}"), 1, false},
	{NL("ne", 4, "bool", "true"), CL("ne", 4, "true"), 1, true},
	{NL("gt", 4, "bool", "false"), CL("gt", 4, "false"), 0, true}, /* false < true */
	{NL("lt", 4, "bool", "true"), CL("lt", 4, "true"), 1, true},
	{NL("eq", 4, "bool", "true"), CL("eq", 4, "true"), 2, false},
	{NL("eq", 4, "u64", "1"), CL("eq", 4, "1"), 0, false},
	{NL("ne", 65535, "string", "x"), CL("ne", 65535, "'x'"), 0, true},
	/* in */
	{"{'op':'in','fieldId':0,'valueType':'u64','values':['15','25']}",
	 "{'in':{'field':0,'values':[15,25]}}", 0, true},
	{"{'op':'in','fieldId':0,'valueType':'u64','values':['15','25']}",
	 "{'in':{'field':0,'values':[15,{'u64':25}]}}", 1, false},
	{"{'op':'in','fieldId':0,'valueType':'u64','values':[]}", "{'in':{'field':0,'values':[]}}",
	 0, false},
	{"{'op':'in','fieldId':0,'valueType':'u64','values':['25']}",
	 "{'in':{'field':0,'values':[25]}}", 2, false},
	{"{'op':'in','fieldId':1,'valueType':'string','values':['apple','kiwi']}",
	 "{'in':{'field':1,'values':['apple','kiwi']}}", 0, true},
	{"{'op':'in','fieldId':0,'valueType':'i64','values':['25']}",
	 "{'in':{'field':0,'values':[{'i64':25}]}}", 0, false},
	{"{'op':'in','fieldId':2,'valueType':'f64','values':['NaN','2']}",
	 "{'in':{'field':2,'values':[{'f64':'NaN'},2.0]}}", 1, false},
	/* range: half-open [low, high) */
	{"{'op':'range','fieldId':0,'valueType':'u64','low':'25','high':'35'}",
	 "{'range':{'field':0,'low':25,'high':35}}", 0, true},
	{"{'op':'range','fieldId':0,'valueType':'u64','low':'25','high':'35'}",
	 "{'range':{'field':0,'low':25,'high':35}}", 1, false},
	{"{'op':'range','fieldId':0,'valueType':'u64','low':'10','high':'20'}",
	 "{'range':{'field':0,'low':{'u64':10},'high':{'u64':20}}}", 3, true},
	{"{'op':'range','fieldId':0,'valueType':'u64','low':'10','high':'50'}",
	 "{'range':{'field':0,'low':10,'high':50}}", 2, false},
	{"{'op':'range','fieldId':2,'valueType':'f64','low':'0','high':'2'}",
	 "{'range':{'field':2,'low':0.0,'high':2.0}}", 0, true},
	{"{'op':'range','fieldId':2,'valueType':'f64','low':'-inf','high':'inf'}",
	 "{'range':{'field':2,'low':{'f64':'-inf'},'high':{'f64':'inf'}}}", 1, false},
	{"{'op':'range','fieldId':1,'valueType':'string','low':'a','high':'b'}",
	 "{'range':{'field':1,'low':'a','high':'b'}}", 0, true},
	{"{'op':'range','fieldId':1,'valueType':'string','low':'b','high':'c'}",
	 "{'range':{'field':1,'low':'b','high':'c'}}", 1, true},
	{"{'op':'range','fieldId':0,'valueType':'i64','low':'0','high':'100'}",
	 "{'range':{'field':0,'low':{'i64':0},'high':{'i64':100}}}", 0, false},
	{"{'op':'range','fieldId':0,'valueType':'u64','low':'30','high':'20'}",
	 "{'range':{'field':0,'low':30,'high':20}}", 0, false},
	{NULL, "{'range':{'field':0,'low':20,'high':{'i64':30}}}", 0, false}, /* mixed types */
	/* and / or / not */
	{"{'op':'and','children':[]}", "{'and':[]}", 0, true},
	{"{'op':'and','children':[]}", "{'and':[]}", 2, true},
	{"{'op':'or','children':[]}", "{'or':[]}", 0, false},
	{"{'op':'not','child':" NL("eq", 0, "u64", "25") "}", "{'not':" CL("eq", 0, "25") "}", 0,
	 false},
	{"{'op':'not','child':" NL("eq", 0, "u64", "25") "}", "{'not':" CL("eq", 0, "25") "}", 2,
	 true},
	{"{'op':'not','child':" NL("ne", 0, "u64", "25") "}", "{'not':" CL("ne", 0, "25") "}", 2,
	 false},
	{"{'op':'and','children':[" NL("eq", 1, "string", "apple") "," NL("gt", 0, "u64", "20") "]}",
	 "{'and':[" CL("eq", 1, "'apple'") "," CL("gt", 0, "20") "]}", 0, true},
	{"{'op':'and','children':[" NL("eq", 1, "string", "apple") "," NL("gt", 0, "u64", "30") "]}",
	 "{'and':[" CL("eq", 1, "'apple'") "," CL("gt", 0, "30") "]}", 0, false},
	{"{'op':'or','children':[" NL("eq", 1, "string", "kiwi") "," NL("lt", 3, "i64", "0") "]}",
	 "{'or':[" CL("eq", 1, "'kiwi'") "," CL("lt", 3, "{'i64':0}") "]}", 0, true},
	{"{'op':'or','children':[" NL("eq", 1, "string", "kiwi") "," NL("eq", 1, "string", "pear") "]}",
	 "{'or':[" CL("eq", 1, "'kiwi'") "," CL("eq", 1, "'pear'") "]}", 0, false},
	{"{'op':'not','child':{'op':'and','children':[]}}", "{'not':{'and':[]}}", 0, false},
	{"{'op':'not','child':{'op':'or','children':[]}}", "{'not':{'or':[]}}", 2, true},
	{"{'op':'and','children':[{'op':'or','children':[" NL("eq", 0, "u64", "25") "," NL("eq", 0, "u64", "35") "]},{'op':'not','child':" NL("eq", 4, "bool", "false") "}]}",
	 "{'and':[{'or':[" CL("eq", 0, "25") "," CL("eq", 0, "35") "]},{'not':" CL("eq", 4, "false") "}]}",
	 0, true},
	{"{'op':'and','children':[{'op':'or','children':[" NL("eq", 0, "u64", "25") "," NL("eq", 0, "u64", "35") "]},{'op':'not','child':" NL("eq", 4, "bool", "false") "}]}",
	 "{'and':[{'or':[" CL("eq", 0, "25") "," CL("eq", 0, "35") "]},{'not':" CL("eq", 4, "false") "}]}",
	 1, false},
	{"{'op':'not','child':{'op':'not','child':" NL("eq", 0, "u64", "25") "}}",
	 "{'not':{'not':" CL("eq", 0, "25") "}}", 0, true},
	/* CLI-only: first recognised key wins (eq before ne; eq before and) */
	{NULL, "{'ne':{'field':0,'value':25},'eq':{'field':0,'value':25}}", 0, true},
	{NULL, "{'and':[{'or':[]}],'eq':{'field':0,'value':25}}", 0, true},
	{NULL, "{'not':{'and':[]},'in':{'field':0,'values':[25]}}", 0, false},
	/* CLI-only: wrapper keys checked u64, i64, f64, string, bool */
	{NULL, "{'eq':{'field':0,'value':{'i64':25,'u64':25}}}", 0, true},
	{NULL, "{'eq':{'field':0,'value':25,'extra':[1,2]},'bogus':1}", 0, true},
	/* Node-only: extra keys ignored */
	{"{'op':'eq','fieldId':0,'valueType':'u64','value':'25','children':5}", NULL, 0, true},
};

static void test_eval_table(void)
{
	size_t ncase = sizeof cases / sizeof *cases;
	CU_ASSERT(ncase >= 60);
	for (size_t i = 0; i < ncase; i++) {
		const eval_case *c = &cases[i];
		size_t n;
		const meta_field *fields = rec_fields(c->rec, &n);
		filter *fn = c->node ? parse_q(c->node, FILTER_GRAMMAR_NODE) : NULL;
		filter *fc = c->cli ? parse_q(c->cli, FILTER_GRAMMAR_CLI) : NULL;
		if (c->node) {
			CU_ASSERT_PTR_NOT_NULL(fn);
			bool got = fn && filter_eval(fn, fields, n);
			if (got != c->expect)
				fprintf(stderr, "\ncase %zu node: got %d want %d: %s\n", i, got,
					c->expect, c->node);
			CU_ASSERT_EQUAL(got, c->expect);
			/* AUTO picks the Node grammar for objects with "op". */
			filter *fa = parse_q(c->node, FILTER_GRAMMAR_AUTO);
			CU_ASSERT(fa && filter_eval(fa, fields, n) == c->expect);
			filter_free(fa);
		}
		if (c->cli) {
			CU_ASSERT_PTR_NOT_NULL(fc);
			bool got = fc && filter_eval(fc, fields, n);
			if (got != c->expect)
				fprintf(stderr, "\ncase %zu cli: got %d want %d: %s\n", i, got,
					c->expect, c->cli);
			CU_ASSERT_EQUAL(got, c->expect);
			filter *fa = parse_q(c->cli, FILTER_GRAMMAR_AUTO);
			CU_ASSERT(fa && filter_eval(fa, fields, n) == c->expect);
			filter_free(fa);
		}
		/* Both grammars must build the same AST (compared via canonical JSON),
		 * and the canonical JSON must parse back to the same AST. */
		if (fn && fc) {
			json_t *a = filter_to_json(fn), *b = filter_to_json(fc);
			char *sa = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
			char *sb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
			CU_ASSERT(sa && sb && strcmp(sa, sb) == 0);
			if (sa && sb && strcmp(sa, sb) != 0)
				fprintf(stderr, "\ncase %zu AST differs:\n %s\n %s\n", i, sa, sb);
			free(sa);
			free(sb);
			json_decref(a);
			json_decref(b);
		}
		filter *any = fn ? fn : fc;
		if (any) {
			json_t *a = filter_to_json(any);
			filter *back = NULL;
			CU_ASSERT_EQUAL(filter_from_json(a, FILTER_GRAMMAR_CLI, &back), RVF_OK);
			json_t *b = back ? filter_to_json(back) : NULL;
			char *sa = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
			char *sb = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
			CU_ASSERT(sa && sb && strcmp(sa, sb) == 0);
			CU_ASSERT(back && filter_eval(back, fields, n) == c->expect);
			free(sa);
			free(sb);
			json_decref(a);
			json_decref(b);
			filter_free(back);
		}
		filter_free(fn);
		filter_free(fc);
	}
}

/* Every record against every case: the two grammars never disagree. */
static void test_grammars_agree_everywhere(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		if (!cases[i].node || !cases[i].cli)
			continue;
		filter *fn = parse_q(cases[i].node, FILTER_GRAMMAR_NODE);
		filter *fc = parse_q(cases[i].cli, FILTER_GRAMMAR_CLI);
		CU_ASSERT(fn && fc);
		for (int r = 0; fn && fc && r < 4; r++) {
			size_t n;
			const meta_field *fields = rec_fields(r, &n);
			CU_ASSERT_EQUAL(filter_eval(fn, fields, n), filter_eval(fc, fields, n));
		}
		filter_free(fn);
		filter_free(fc);
	}
}

static void test_duplicate_field_last_wins(void)
{
	meta_field f[] = {{.id = 0, .type = META_U64, .v.u64 = 1},
			  {.id = 0, .type = META_U64, .v.u64 = 2}};
	filter *a = parse_q(CL("eq", 0, "2"), FILTER_GRAMMAR_CLI);
	filter *b = parse_q(CL("eq", 0, "1"), FILTER_GRAMMAR_CLI);
	CU_ASSERT(a && filter_eval(a, f, 2));
	CU_ASSERT(b && !filter_eval(b, f, 2));
	filter_free(a);
	filter_free(b);
}

static void test_ast_shape(void)
{
	filter *f = parse_q("{'range':{'field':7,'low':{'string':'a'},'high':'m'}}", FILTER_GRAMMAR_CLI);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->op, FILTER_RANGE);
	CU_ASSERT_EQUAL(f->field, 7);
	CU_ASSERT_EQUAL(f->val.type, META_STRING);
	CU_ASSERT_EQUAL(f->val.id, 7);
	CU_ASSERT_EQUAL(f->high.v.str.len, 1);
	CU_ASSERT_STRING_EQUAL(f->high.v.str.ptr, "m");
	filter_free(f);
	f = parse_q("{'op':'in','fieldId':3,'valueType':'i64','values':['-1','+2']}", FILTER_GRAMMAR_NODE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->op, FILTER_IN);
	CU_ASSERT_EQUAL(f->nvals, 2);
	CU_ASSERT_EQUAL(f->vals[0].v.i64, -1);
	CU_ASSERT_EQUAL(f->vals[1].v.i64, 2);
	filter_free(f);
	CU_ASSERT_STRING_EQUAL(filter_op_name(FILTER_RANGE), "range");
	/* strings are length-counted: an embedded NUL is significant */
	f = parse_q("{'eq':{'field':1,'value':'a\\u0000b'}}", FILTER_GRAMMAR_CLI);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	meta_field nul = {.id = 1, .type = META_STRING, .v.str = {.ptr = "a\0b", .len = 3}};
	meta_field pre = {.id = 1, .type = META_STRING, .v.str = {.ptr = "a", .len = 1}};
	CU_ASSERT(filter_eval(f, &nul, 1));
	CU_ASSERT(!filter_eval(f, &pre, 1));
	filter_free(f);
	/* canonical JSON of a u64 above 2^63-1 and a NaN literal */
	f = parse_q(NL("eq", 0, "u64", "18446744073709551615"), FILTER_GRAMMAR_NODE);
	json_t *j = filter_to_json(f);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(s, "{\"eq\":{\"field\":0,\"value\":{\"u64\":\"18446744073709551615\"}}}");
	free(s);
	json_decref(j);
	filter_free(f);
}

typedef struct {
	filter_grammar g;
	const char *text;
	const char *msg; /* exact rvf_last_error(), or a prefix ending in '*' */
} err_case;

#define UNREC "unrecognized filter operator; expected: eq, ne, lt, le, gt, ge, and, or, not (or the extensions in, range)"
#define CANT "cannot parse filter value; expected {\"u64\": N}, {\"string\": \"...\"}, etc."
static const err_case errs[] = {
	{FILTER_GRAMMAR_NODE, "{", "Invalid filter JSON: *"},
	{FILTER_GRAMMAR_CLI, "{'eq':}", "Invalid filter JSON: *"},
	{FILTER_GRAMMAR_AUTO, "", "Invalid filter JSON: *"},
	{FILTER_GRAMMAR_NODE, "[]", "filter: filter requires string field 'op'"},
	{FILTER_GRAMMAR_NODE, "{'op':5}", "filter: filter requires string field 'op'"},
	{FILTER_GRAMMAR_NODE, "{'op':'xx'}", "filter: Unknown filter op 'xx'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','valueType':'u64','value':'1'}",
	 "filter: filter requires numeric field 'fieldId'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':-1,'valueType':'u64','value':'1'}",
	 "filter: filter requires numeric field 'fieldId'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':1.0,'valueType':'u64','value':'1'}",
	 "filter: filter requires numeric field 'fieldId'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':'1','valueType':'u64','value':'1'}",
	 "filter: filter requires numeric field 'fieldId'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':70000,'valueType':'u64','value':'1'}",
	 "filter: fieldId 70000 out of range 0..65535"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':0,'value':'1'}",
	 "filter: filter requires string field 'valueType'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':0,'valueType':'u64'}",
	 "filter: filter requires string field 'value'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':0,'valueType':'u64','value':5}",
	 "filter: filter requires string field 'value'"},
	{FILTER_GRAMMAR_NODE, "{'op':'eq','fieldId':0,'valueType':'zz','value':'5'}",
	 "filter: Unknown value_type 'zz'"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "u64", "x"), "filter.value: Cannot parse 'x' as u64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "u64", "-1"), "filter.value: Cannot parse '-1' as u64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "u64", " 1"), "filter.value: Cannot parse ' 1' as u64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "u64", "18446744073709551616"),
	 "filter.value: Cannot parse '18446744073709551616' as u64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "i64", "9223372036854775808"),
	 "filter.value: Cannot parse '9223372036854775808' as i64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "f64", "1e"), "filter.value: Cannot parse '1e' as f64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "f64", "0x10"), "filter.value: Cannot parse '0x10' as f64"},
	{FILTER_GRAMMAR_NODE, NL("eq", 0, "bool", "True"), "filter.value: Cannot parse 'True' as bool"},
	{FILTER_GRAMMAR_NODE, "{'op':'in','fieldId':0,'valueType':'u64'}",
	 "filter: filter 'in' requires 'values' array"},
	{FILTER_GRAMMAR_NODE, "{'op':'in','fieldId':0,'valueType':'u64','values':[1]}",
	 "filter.values[0]: 'values' entries must be strings"},
	{FILTER_GRAMMAR_NODE, "{'op':'in','fieldId':0,'valueType':'u64','values':['1','x']}",
	 "filter.values[1]: Cannot parse 'x' as u64"},
	{FILTER_GRAMMAR_NODE, "{'op':'range','fieldId':0,'valueType':'u64','low':'1'}",
	 "filter: filter requires string field 'high'"},
	{FILTER_GRAMMAR_NODE, "{'op':'range','fieldId':0,'valueType':'u64','low':'x','high':'2'}",
	 "filter.low: Cannot parse 'x' as u64"},
	{FILTER_GRAMMAR_NODE, "{'op':'and'}", "filter: filter 'and' requires 'children' array"},
	{FILTER_GRAMMAR_NODE, "{'op':'or','children':{}}",
	 "filter: filter 'or' requires 'children' array"},
	{FILTER_GRAMMAR_NODE, "{'op':'not'}", "filter: filter 'not' requires 'child'"},
	{FILTER_GRAMMAR_NODE,
	 "{'op':'and','children':[" NL("eq", 0, "u64", "1") ",{'op':'eq','fieldId':0,'valueType':'u64'}]}",
	 "filter.children[1]: filter requires string field 'value'"},
	{FILTER_GRAMMAR_NODE, "{'op':'not','child':{'op':'or','children':[{'op':'nope'}]}}",
	 "filter.child.children[0]: Unknown filter op 'nope'"},
	{FILTER_GRAMMAR_CLI, "5", "filter: filter must be a JSON object"},
	{FILTER_GRAMMAR_CLI, "{}", "filter: " UNREC},
	{FILTER_GRAMMAR_CLI, "{'op':'eq'}", "filter: " UNREC},
	{FILTER_GRAMMAR_CLI, "{'eq':5}",
	 "filter.eq: comparison must be a JSON object with 'field' and 'value'"},
	{FILTER_GRAMMAR_CLI, "{'eq':{'value':1}}", "filter.eq: missing or invalid 'field' (must be u16)"},
	{FILTER_GRAMMAR_CLI, "{'eq':{'field':-1,'value':1}}",
	 "filter.eq: missing or invalid 'field' (must be u16)"},
	{FILTER_GRAMMAR_CLI, "{'eq':{'field':70000,'value':1}}",
	 "filter.eq: 'field' 70000 out of range (must be u16)"},
	{FILTER_GRAMMAR_CLI, "{'eq':{'field':0}}", "filter.eq: missing 'value' in comparison"},
	{FILTER_GRAMMAR_CLI, "{'and':[" CL("eq", 0, "1") ",{'eq':{'field':0}}]}",
	 "filter.and[1].eq: missing 'value' in comparison"},
	{FILTER_GRAMMAR_CLI, "{'and':{}}", "filter: 'and' value must be an array"},
	{FILTER_GRAMMAR_CLI, "{'or':5}", "filter: 'or' value must be an array"},
	{FILTER_GRAMMAR_CLI, "{'not':[]}", "filter.not: filter must be a JSON object"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'u64':-1}"), "filter.eq.value: u64 value must be a number"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'u64':1.5}"), "filter.eq.value: u64 value must be a number"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'i64':1.5}"), "filter.eq.value: i64 value must be a number"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'i64':'x'}"), "filter.eq.value: Cannot parse 'x' as i64"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'f64':true}"), "filter.eq.value: f64 value must be a number"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'string':5}"), "filter.eq.value: string value must be a string"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'bool':1}"), "filter.eq.value: bool value must be a boolean"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "null"), "filter.eq.value: " CANT},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "{'x':1}"), "filter.eq.value: " CANT},
	{FILTER_GRAMMAR_CLI, CL("ge", 0, "[1]"), "filter.ge.value: " CANT},
	{FILTER_GRAMMAR_CLI, "{'in':{'field':0}}", "filter.in: 'in' requires a 'values' array"},
	{FILTER_GRAMMAR_CLI, "{'in':{'field':0,'values':[1,null]}}", "filter.in.values[1]: " CANT},
	{FILTER_GRAMMAR_CLI, "{'range':{'field':0,'low':1}}", "filter.range: missing 'high' in range"},
	{FILTER_GRAMMAR_CLI, "{'range':{'field':0,'high':1}}", "filter.range: missing 'low' in range"},
	{FILTER_GRAMMAR_CLI, "{'not':{'or':[{'lt':{'field':0,'value':{'f64':'abc'}}}]}}",
	 "filter.not.or[0].lt.value: Cannot parse 'abc' as f64"},
	{FILTER_GRAMMAR_CLI, CL("eq", 0, "18446744073709551615"), "Invalid filter JSON: *"},
	{FILTER_GRAMMAR_AUTO, "{'op':'eq','fieldId':0}", "filter: filter requires string field 'valueType'"},
	{FILTER_GRAMMAR_AUTO, "{'eq':{'field':0}}", "filter.eq: missing 'value' in comparison"},
};

static void test_parse_errors(void)
{
	for (size_t i = 0; i < sizeof errs / sizeof *errs; i++) {
		char *t = q(errs[i].text);
		filter *f = (filter *)1;
		int rc = filter_parse(t, strlen(t), errs[i].g, &f);
		CU_ASSERT_EQUAL(rc, RVF_E_ARG);
		CU_ASSERT_PTR_NULL(f);
		const char *m = rvf_last_error();
		size_t ml = strlen(errs[i].msg);
		bool ok = errs[i].msg[ml - 1] == '*' ? strncmp(m, errs[i].msg, ml - 1) == 0
						     : strcmp(m, errs[i].msg) == 0;
		if (!ok)
			fprintf(stderr, "\nerror case %zu (%s):\n got  %s\n want %s\n", i,
				errs[i].text, m, errs[i].msg);
		CU_ASSERT(ok);
		free(t);
	}
}

static void test_depth_limit(void)
{
	char buf[4096];
	size_t p = 0;
	for (int d = 0; d < FILTER_MAX_DEPTH + 5; d++)
		p += (size_t)snprintf(buf + p, sizeof buf - p, "{\"not\":");
	p += (size_t)snprintf(buf + p, sizeof buf - p, "{\"and\":[]}");
	for (int d = 0; d < FILTER_MAX_DEPTH + 5; d++)
		buf[p++] = '}';
	buf[p] = 0;
	filter *f = NULL;
	CU_ASSERT_EQUAL(filter_parse(buf, p, FILTER_GRAMMAR_CLI, &f), RVF_E_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), "nested deeper than 64 levels"));
	/* 60 levels is fine: not^60(and[]) = and[] = true */
	p = 0;
	for (int d = 0; d < 60; d++)
		p += (size_t)snprintf(buf + p, sizeof buf - p, "{\"not\":");
	p += (size_t)snprintf(buf + p, sizeof buf - p, "{\"and\":[]}");
	for (int d = 0; d < 60; d++)
		buf[p++] = '}';
	buf[p] = 0;
	CU_ASSERT_EQUAL(filter_parse(buf, p, FILTER_GRAMMAR_CLI, &f), RVF_OK);
	CU_ASSERT(f && filter_eval(f, NULL, 0));
	filter_free(f);
}

/* A filter over metadata that went through the table and the META_SEG codec
 * behaves as over the original fields (the "works after reopen" property). */
static void test_filter_after_codec(void)
{
	meta_table *t = meta_new();
	size_t n;
	const meta_field *fields = rec_fields(0, &n);
	CU_ASSERT_EQUAL(meta_set(t, 0, fields, n), RVF_OK);
	uint32_t slot = 0;
	uint64_t id = 42;
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode_slots(t, &slot, &id, 1, &buf, &len), RVF_OK);
	meta_batch b;
	CU_ASSERT_EQUAL_FATAL(meta_seg_decode(buf, len, &b), RVF_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		if (cases[i].rec != 0 || !cases[i].cli)
			continue;
		filter *f = parse_q(cases[i].cli, FILTER_GRAMMAR_CLI);
		CU_ASSERT(f && filter_eval(f, b.recs[0].fields, b.recs[0].nfields) == cases[i].expect);
		filter_free(f);
	}
	meta_batch_free(&b);
	free(buf);
	meta_free(t);
}

RVF_SUITE(filter, {"evaluation table, both grammars", test_eval_table},
	  {"grammars agree on every record", test_grammars_agree_everywhere},
	  {"duplicate field ids: last wins", test_duplicate_field_last_wins},
	  {"AST shape and canonical JSON", test_ast_shape},
	  {"parse errors with JSON paths", test_parse_errors},
	  {"nesting depth limit", test_depth_limit},
	  {"filter over decoded META_SEG", test_filter_after_codec})
