/* filter.h — metadata filter expressions: both reference grammars parsed into
 * one AST, evaluated exactly as the reference runtime does
 * (rvf-behaviour.md §b.5; grammars in docs/METADATA.md).
 *
 * Grammars:
 *   NODE  the Node binding / MCP form (every value a JSON string):
 *         {"op":"eq|ne|lt|le|gt|ge","fieldId":0,"valueType":"u64","value":"5"}
 *         {"op":"in","fieldId":0,"valueType":"u64","values":["1","2"]}
 *         {"op":"range","fieldId":0,"valueType":"u64","low":"10","high":"50"}
 *         {"op":"and"|"or","children":[...]}   {"op":"not","child":{...}}
 *   CLI   the reference `rvf query --filter` form: the first key found in the
 *         order eq, ne, lt, le, gt, ge, and, or, not (then our additions in,
 *         range) decides the node:
 *         {"eq":{"field":0,"value":{"u64":5}}}  (or a bare scalar value:
 *         non-negative int -> u64, negative -> i64, real -> f64, string, bool)
 *         {"and":[...]} {"or":[...]} {"not":{...}}
 *         {"in":{"field":0,"values":[1,2]}}  {"range":{"field":0,"low":10,"high":50}}
 *   AUTO  NODE if the top-level object has an "op" key, else CLI.
 *
 * Evaluation (the reference's, including its quirks):
 *   - a field matches a literal only if both have the same type (no numeric
 *     promotion: u64 5 never equals i64 5 or f64 5.0);
 *   - eq/lt/le/gt/ge/in/range on a missing field -> false; ne -> true;
 *     ne with a literal of another type -> true (it is "not equal");
 *   - f64 compares with IEEE rules: NaN makes eq/lt/le/gt/ge/range false and
 *     ne true; -0 == 0;
 *   - strings compare bytewise (lexicographic, shorter prefix first);
 *     bools order false < true;
 *   - range is half-open [low, high); low and high of different types (or
 *     either incomparable with the field) -> false;
 *   - and [] -> true, or [] -> false, not = plain negation.
 */
#ifndef RVF_FILTER_H
#define RVF_FILTER_H

#include "meta.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	FILTER_EQ,
	FILTER_NE,
	FILTER_LT,
	FILTER_LE,
	FILTER_GT,
	FILTER_GE,
	FILTER_IN,
	FILTER_RANGE,
	FILTER_AND,
	FILTER_OR,
	FILTER_NOT,
} filter_op;

typedef enum {
	FILTER_GRAMMAR_AUTO = 0,
	FILTER_GRAMMAR_NODE = 1,
	FILTER_GRAMMAR_CLI = 2,
} filter_grammar;

#define FILTER_MAX_DEPTH 64 /* nesting limit; deeper filters are rejected */

typedef struct filter filter;
struct filter {
	filter_op op;
	uint16_t field;    /* EQ..GE, IN, RANGE */
	meta_field val;    /* EQ..GE: the literal; RANGE: low. val.id == field */
	meta_field high;   /* RANGE: high (exclusive) */
	meta_field *vals;  /* IN: nvals literals */
	size_t nvals;
	filter **kids;     /* AND/OR: nkids children; NOT: kids[0] */
	size_t nkids;
};
/* Literal strings are owned by the node (NUL-terminated copies). */

/* Parses JSON text. Returns RVF_OK with *out set, or RVF_E_ARG (RVF_E_NOMEM)
 * with rvf_last_error() = "<json path>: <message>", e.g.
 *   "filter.and[1].eq: missing 'value' in comparison"
 *   "filter.children[0]: filter requires string field 'value'"
 *   "Invalid filter JSON: ... (line 1, column 7)".
 * The messages after the path are the reference's where it has one. */
int filter_parse(const char *text, size_t len, filter_grammar g, filter **out);
/* Same, where a field may also be a name ("field": "tag" in either grammar,
 * or "fieldId": "tag"), looked up through nm (only resolve with type -1 is
 * called). A named field's literals take its type when they convert exactly
 * (integer -> f64, non-negative integer -> i64), else an error; in the Node
 * grammar a name makes "valueType" optional. Unknown name: an error. */
int filter_parse_names(const char *text, size_t len, filter_grammar g, const meta_names *nm,
		       filter **out);
int filter_from_json(const json_t *j, filter_grammar g, filter **out);
void filter_free(filter *f);

/* Evaluates f against one vector's fields (any order; if an id repeats, the
 * last occurrence counts, matching meta_normalize). n == 0: no metadata. */
bool filter_eval(const filter *f, const meta_field *fields, size_t n);

/* Canonical CLI-grammar JSON for f (typed wrappers; u64 > 2^63-1 and
 * non-finite f64 as strings, which filter_parse accepts back). NULL on
 * allocation failure. Parsing the result yields an identical filter. */
json_t *filter_to_json(const filter *f);

const char *filter_op_name(filter_op op); /* "eq" ... "not" */

#endif
