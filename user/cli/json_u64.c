/* json_u64.c — u64 ids through jansson, whose integers are int64, and
 * reals printed as their shortest round-tripping text.
 *
 * A value above 2^63-1 is carried through a jansson tree as a marker string,
 * "\x01rvf-u64-<nonce>:" and the decimal digits, where <nonce> is random per
 * process so no input string can pose as one. cli_json_dumps prints a marker
 * as the bare integer; cli_json_loadb turns such an integer in a record's id
 * position into a marker before jansson sees it; cli_json_get_u64 reads
 * either form. Reals take the same road: cli_json_f32/cli_json_f64 (and
 * every jansson real in a tree cli_json_dumps prints) become markers holding
 * the shortest text that reads back as the same float32/double, so 0.3f
 * prints 0.3 and not 0.30000001192092896. No other CLI dependency: the ingest readers (and the fuzz
 * archive that links them) use it. */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "json_u64.h"

#define MARK_TAG "\x01rvf-u64-"
#define MARK_TAG_DUMPED "\"\\u0001rvf-u64-" /* how json_dumps prints its start */

static char mark[sizeof MARK_TAG + 16 + 1]; /* MARK_TAG, 16 hex digits, ':' */
static size_t mark_len;
static pthread_once_t mark_once = PTHREAD_ONCE_INIT;

static void mark_init(void)
{
	uint8_t r[8] = { 0 };
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EINTR)
			abort(); /* no kernel randomness: nothing safe to fall back on */
	}
	mark_len = (size_t)snprintf(mark, sizeof mark, MARK_TAG "%016" PRIx64 ":",
				    ((uint64_t)r[0] << 56 | (uint64_t)r[1] << 48 | (uint64_t)r[2] << 40 |
				     (uint64_t)r[3] << 32 | (uint64_t)r[4] << 24 | (uint64_t)r[5] << 16 |
				     (uint64_t)r[6] << 8 | r[7]));
}

static const char *get_mark(void)
{
	pthread_once(&mark_once, mark_init);
	return mark;
}

/* Strict decimal digits (no sign, no leading zero) -> u64; 0 ok, -1 not one. */
static int digits_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!n || n > 20 || (n > 1 && p[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* 1 if c may appear in a number's text (digits, sign, point, exponent). */
static int num_char(char c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == '-' || c == '+';
}

/* A jansson real becomes a marker holding its shortest text. Returns 0, -1
 * on allocation failure. */
static int shorten(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	void *it;

	if (json_is_real(j))
		return -1; /* handled by the parent */
	if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if (json_is_real(v)) {
				if (json_array_set_new(j, i, cli_json_f64(json_real_value(v))))
					return -1;
			} else if (shorten(v)) {
				return -1;
			}
		}
	} else if (json_is_object(j)) {
		for (it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
			k = json_object_iter_key(it);
			v = json_object_iter_value(it);
			(void)k;
			if (json_is_real(v)) {
				if (json_object_iter_set_new(j, it, cli_json_f64(json_real_value(v))))
					return -1;
			} else if (shorten(v)) {
				return -1;
			}
		}
	}
	return 0;
}

static int has_real(const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_real(j))
		return 1;
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (has_real(v))
				return 1;
	} else if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
			if (has_real(v))
				return 1;
	}
	return 0;
}

char *cli_json_dumps(const json_t *j, size_t flags)
{
	json_t *copy = NULL;
	char *txt, *out, *w;
	const char *r, *m, *nonce;
	size_t taglen = strlen(MARK_TAG_DUMPED), noncelen;

	if (j && has_real(j)) {
		if (json_is_real(j))
			copy = cli_json_f64(json_real_value(j));
		else if ((copy = json_deep_copy(j)) && shorten(copy)) {
			json_decref(copy);
			copy = NULL;
		}
		if (!copy)
			return NULL;
		j = copy;
	}
	txt = json_dumps(j, flags);
	json_decref(copy);
	if (!txt || !strstr(txt, MARK_TAG_DUMPED))
		return txt;
	nonce = get_mark() + strlen(MARK_TAG);
	noncelen = mark_len - strlen(MARK_TAG);
	out = malloc(strlen(txt) + 1);
	if (!out) {
		free(txt);
		return NULL;
	}
	/* "\u0001rvf-u64-<nonce>:NUMBER" -> NUMBER; anything else is copied. */
	for (r = txt, w = out; (m = strstr(r, MARK_TAG_DUMPED)); ) {
		const char *d = m + taglen, *e;
		memcpy(w, r, (size_t)(m - r));
		w += m - r;
		if (!strncmp(d, nonce, noncelen)) {
			d += noncelen;
			for (e = d; num_char(*e); e++)
				;
			if (*e == '"' && e > d) {
				memcpy(w, d, (size_t)(e - d));
				w += e - d;
				r = e + 1;
				continue;
			}
		}
		*w++ = *m;
		r = m + 1;
	}
	strcpy(w, r);
	free(txt);
	return out;
}

/* The shortest "%.Ng" text that reads back as v (in float when is_f32), with
 * ".0" added to an integral value so JSON readers keep it a real. */
static void shortest(double v, int is_f32, char *buf, size_t len)
{
	int p;

	for (p = 1; p <= 17; p++) {
		snprintf(buf, len, "%.*g", p, v);
		if (is_f32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".e"))
		strcat(buf, ".0");
}

void cli_json_shortest(double v, int is_f32, char *buf, size_t len)
{
	shortest(v, is_f32, buf, len);
}

static json_t *num_marker(double v, int is_f32)
{
	char s[sizeof mark + 40];

	if (!isfinite(v))
		return json_null();
	snprintf(s, sizeof s, "%s", get_mark());
	shortest(v, is_f32, s + mark_len, sizeof s - mark_len);
	return json_string(s);
}

json_t *cli_json_f64(double v)
{
	return num_marker(v, 0);
}

json_t *cli_json_f32(float v)
{
	return num_marker((double)v, 1);
}

json_t *cli_json_u64(uint64_t v)
{
	char s[sizeof mark + 24];

	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(s, sizeof s, "%s%" PRIu64, get_mark(), v);
	return json_string(s);
}

int cli_json_get_u64(const json_t *v, uint64_t *out)
{
	const char *s;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	get_mark();
	if (json_string_length(v) <= mark_len || strncmp(s, mark, mark_len))
		return -1;
	return digits_u64(s + mark_len, json_string_length(v) - mark_len, out);
}

/* ---- exact big ids in input ----------------------------------------------- */

enum { K_OTHER, K_ID, K_IDS, K_VECTORS };
#define SCAN_DEPTH 4 /* only record-level ids matter: depth 1 and 3 */

/* Appends buf[*from..upto) and then `s` to the growing *out. */
static int emit(char **out, size_t *olen, size_t *ocap, const char *buf, size_t *from, size_t upto,
		const char *s, size_t slen)
{
	size_t need = *olen + (upto - *from) + slen + 1;

	if (need > *ocap) {
		size_t cap = *ocap ? *ocap : 256;
		while (cap < need)
			cap *= 2;
		char *nb = realloc(*out, cap);
		if (!nb)
			return -1;
		*out = nb;
		*ocap = cap;
	}
	memcpy(*out + *olen, buf + *from, upto - *from);
	*olen += upto - *from;
	memcpy(*out + *olen, s, slen);
	*olen += slen;
	*from = upto;
	return 0;
}

static int key_kind(const char *k, size_t n)
{
	if (n == 2 && !memcmp(k, "id", 2))
		return K_ID;
	if (n == 3 && !memcmp(k, "ids", 3))
		return K_IDS;
	if (n == 7 && !memcmp(k, "vectors", 7))
		return K_VECTORS;
	return K_OTHER;
}

/* A copy of buf with every integer above INT64_MAX (and at most UINT64_MAX)
 * in a record's id position replaced by a marker string; NULL in *out if
 * there is none. Id positions: "id" of the top-level object or of an object
 * in its "vectors" array, and the elements of its "ids" array (ingest
 * records, HTTP ingest and delete). Ids nested anywhere else (filters,
 * metadata) are left alone, so a marker never reaches anything that could
 * echo it. A light tokenizer: strings are skipped whole, anything odd is
 * left for jansson to refuse. Returns 0, or -1 out of memory. */
static int mark_big_ids(const char *buf, size_t len, char **out, size_t *olen)
{
	struct {
		char obj, rec, ids, vecs;
	} st[SCAN_DEPTH] = { { 0 } };
	size_t i = 0, from = 0, ocap = 0;
	int depth = 0, expect_key = 0, key = K_OTHER;

	*out = NULL;
	*olen = 0;
	while (i < len) {
		char ch = buf[i];
		int known = depth > 0 && depth <= SCAN_DEPTH;
		int top_obj = known && st[depth - 1].obj;

		if (ch == '"') {
			size_t s = ++i;
			while (i < len && buf[i] != '"')
				i += buf[i] == '\\' ? 2 : 1;
			if (top_obj && expect_key)
				key = key_kind(buf + s, (i < len ? i : len) - s);
			i++;
		} else if (ch == '{' || ch == '[') {
			if (depth < SCAN_DEPTH) {
				int value_of_top = depth == 1 && top_obj && !expect_key;
				st[depth].obj = ch == '{';
				st[depth].rec = ch == '{' && (depth == 0 || (known && st[depth - 1].vecs));
				st[depth].ids = ch == '[' && value_of_top && key == K_IDS;
				st[depth].vecs = ch == '[' && value_of_top && key == K_VECTORS;
			}
			depth++;
			expect_key = ch == '{';
			key = K_OTHER;
			i++;
		} else if (ch == '}' || ch == ']') {
			depth -= depth > 0;
			expect_key = 0;
			key = K_OTHER;
			i++;
		} else if (ch == ':') {
			expect_key = 0;
			i++;
		} else if (ch == ',') {
			expect_key = top_obj;
			key = K_OTHER;
			i++;
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t s = i;
			uint64_t v;
			while (i < len && buf[i] && strchr("+-.eE0123456789", buf[i]))
				i++;
			int idpos = known && (top_obj ? st[depth - 1].rec && !expect_key && key == K_ID
						      : st[depth - 1].ids);
			if (idpos && !digits_u64(buf + s, i - s, &v) && v > (uint64_t)INT64_MAX) {
				char m[sizeof mark + 40];
				int n = snprintf(m, sizeof m, "\"\\u0001%s%" PRIu64 "\"",
						 get_mark() + 1, v);
				if (n < 0 || (size_t)n >= sizeof m ||
				    emit(out, olen, &ocap, buf, &from, s, m, (size_t)n))
					return -1;
				from = i;
			}
		} else {
			i++;
		}
	}
	if (*out && emit(out, olen, &ocap, buf, &from, len, "", 0))
		return -1;
	return 0;
}

json_t *cli_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *e)
{
	char *copy;
	size_t clen;
	json_t *j;

	if (mark_big_ids(buf, len, &copy, &clen)) {
		free(copy);
		memset(e, 0, sizeof *e);
		snprintf(e->text, sizeof e->text, "out of memory");
		return NULL;
	}
	if (!copy)
		return json_loadb(buf, len, flags, e);
	j = json_loadb(copy, clen, flags, e);
	free(copy);
	return j;
}

