/* input_json.c — streaming JSON array and JSON-lines readers.
 *
 * jansson cannot stream an array, so the array reader finds each element's
 * extent itself (brace depth outside strings, escapes honoured) and hands
 * exactly that span to json_loadb. Only one element is in memory at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "json_u64.h"

enum { J_START = 0, J_FIRST, J_AFTER, J_DONE };

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skips whitespace (counting lines). Returns the next byte (not consumed),
 * -1 at end of input, -2 on a read error. */
static int peek_nonws(struct in_reader *r)
{
	struct in_src *s = &r->src;

	for (;;) {
		while (s->pos < s->len) {
			int c = s->buf[s->pos];

			if (!is_ws(c))
				return c;
			if (c == '\n')
				r->line++;
			s->pos++;
		}
		long got = in_src_fill(s);

		if (got < 0)
			return -2;
		if (got == 0)
			return -1;
	}
}

/* Finds the end of the object starting at buf[pos] ('{'). Sets *len to its
 * length; returns 1 if complete, 0 if the input ended first, -1 on error. */
static int scan_object(struct in_src *s, size_t *len)
{
	size_t off = 0;
	int depth = 0, in_str = 0, esc = 0;

	for (;;) {
		while (s->pos + off < s->len) {
			unsigned char c = s->buf[s->pos + off++];

			if (in_str) {
				if (esc)
					esc = 0;
				else if (c == '\\')
					esc = 1;
				else if (c == '"')
					in_str = 0;
			} else if (c == '"') {
				in_str = 1;
			} else if (c == '{' || c == '[') {
				depth++;
			} else if (c == '}' || c == ']') {
				if (--depth == 0) {
					*len = off;
					return 1;
				}
			}
		}
		long got = in_src_fill(s);

		if (got < 0)
			return -1;
		if (got == 0) {
			*len = off;
			return 0;
		}
	}
}

static size_t count_nl(const unsigned char *p, size_t n)
{
	size_t c = 0;
	const unsigned char *e = p + n;

	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		c++;
		p++;
	}
	return c;
}

/* Parses buf[pos..pos+len) as one row; always consumes the span and `extra`
 * bytes after it (a line's '\n'). */
static int parse_span(struct in_reader *r, size_t len, size_t extra, struct in_row *row,
		      char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	const char *p = (const char *)s->buf + s->pos;
	char why[400];
	json_error_t e;
	json_t *j;
	int rc;

	r->rowno++;
	row->rowno = r->rowno;
	row->line = r->line;
	j = cli_json_loadb(p, len, 0, &e);
	r->line += count_nl((const unsigned char *)p, len + extra);
	s->pos += len + extra;
	if (!j) {
		const char *hint = strstr(e.text, "too big integer") ?
			" (integers above 2^63-1 are supported only as \"id\", up to 2^64-1)" : "";

		snprintf(err, errlen, "row %llu (line %llu): invalid JSON: %s%s at line %d column %d",
			 (unsigned long long)row->rowno,
			 (unsigned long long)(row->line + (e.line > 0 ? (unsigned)e.line - 1 : 0)),
			 e.text, hint, e.line, e.column);
		return -1;
	}
	rc = in_row_from_json(r, j, row, why, sizeof why);
	json_decref(j);
	if (rc) {
		snprintf(err, errlen, "row %llu (line %llu): %s", (unsigned long long)row->rowno,
			 (unsigned long long)row->line, why);
		return -1;
	}
	return 1;
}

static int next_array(struct in_reader *r, struct in_row *row, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	size_t len;
	int c, rc;

	for (;;) {
		c = peek_nonws(r);
		if (c == -2)
			return in_src_error(r, err, errlen);
		switch (r->state) {
		case J_START:
			if (c == -1) {
				snprintf(err, errlen, "empty input: expected a JSON array of "
					 "{\"id\": N, \"vector\": [...]} records");
				return -1;
			}
			/* A UTF-8 byte order mark is tolerated. */
			if (c == 0xEF && s->len - s->pos >= 3 &&
			    !memcmp(s->buf + s->pos, "\xEF\xBB\xBF", 3)) {
				s->pos += 3;
				continue;
			}
			if (c != '[') {
				snprintf(err, errlen, "expected a JSON array of {\"id\": N, "
					 "\"vector\": [...]} records (line %llu starts with '%c')",
					 (unsigned long long)r->line, c >= 32 && c < 127 ? c : '?');
				return -1;
			}
			s->pos++;
			r->state = J_FIRST;
			continue;
		case J_FIRST:
		case J_AFTER:
			if (c == -1) {
				snprintf(err, errlen, "row %llu (line %llu): invalid JSON: the array is "
					 "not closed (']' expected near end of file)",
					 (unsigned long long)r->rowno + (r->state == J_FIRST),
					 (unsigned long long)r->line);
				return -1;
			}
			if (c == ']') {
				s->pos++;
				r->state = J_DONE;
				continue;
			}
			if (r->state == J_AFTER) {
				if (c != ',') {
					snprintf(err, errlen, "row %llu (line %llu): invalid JSON: ',' "
						 "or ']' expected after the row, found '%c'",
						 (unsigned long long)r->rowno, (unsigned long long)r->line,
						 c >= 32 && c < 127 ? c : '?');
					return -1;
				}
				s->pos++;
				c = peek_nonws(r);
				if (c == -2)
					return in_src_error(r, err, errlen);
				if (c == -1 || c == ']') {
					snprintf(err, errlen, "row %llu (line %llu): invalid JSON: a row "
						 "expected after ','", (unsigned long long)r->rowno + 1,
						 (unsigned long long)r->line);
					return -1;
				}
			}
			r->state = J_AFTER;
			if (c != '{') {
				r->rowno++;
				snprintf(err, errlen, "row %llu (line %llu): expected an object with "
					 "\"id\" and \"vector\"", (unsigned long long)r->rowno,
					 (unsigned long long)r->line);
				return -1;
			}
			rc = scan_object(s, &len);
			if (rc < 0)
				return in_src_error(r, err, errlen);
			return parse_span(r, len, 0, row, err, errlen);
		case J_DONE:
			if (c == -1)
				return 0;
			snprintf(err, errlen, "line %llu: unexpected data after the closing ']'",
				 (unsigned long long)r->line);
			return -1;
		}
	}
}

static int next_lines(struct in_reader *r, struct in_row *row, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	size_t off = 0, len, i;

	for (;;) {
		unsigned char *nl = s->len > s->pos + off ?
			memchr(s->buf + s->pos + off, '\n', s->len - s->pos - off) : NULL;
		int blank = 1;

		if (!nl) {
			long got;

			off = s->len - s->pos;
			got = in_src_fill(s);
			if (got < 0)
				return in_src_error(r, err, errlen);
			if (got > 0)
				continue;
			if (s->pos == s->len)
				return 0;
			len = s->len - s->pos; /* last line without '\n' */
		} else {
			len = (size_t)(nl - (s->buf + s->pos));
		}
		for (i = 0; i < len && blank; i++)
			blank = is_ws(s->buf[s->pos + i]);
		if (blank) {
			s->pos += len + (nl != NULL);
			r->line += nl != NULL;
			off = 0;
			continue;
		}
		return parse_span(r, len, nl != NULL, row, err, errlen);
	}
}

int in_json_init(struct in_reader *r, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	r->state = J_START;
	r->src.text = 1;
	r->next = r->o.format == IN_JSONL ? next_lines : next_array;
	r->reset = NULL;
	r->free_fmt = NULL;
	return 0;
}
