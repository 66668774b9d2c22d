/* input_csv.c — CSV / TSV reader with a header row (RFC 4180 quoting: a
 * field in double quotes may hold separators, newlines and "" for a quote;
 * TSV uses the same rules with a tab separator).
 *
 * Header columns:
 *   id                       required, unsigned 64-bit decimal
 *   vector                   "1,2,3" or "[1,2,3]" (quote it in CSV), or
 *   v0 .. v{d-1}             one float per column (all of them, once each)
 *   m:<field>[:<type>]       a metadata field; type u64 i64 f64 string bool,
 *   meta.<field>[:<type>]    or inferred from the text when omitted
 *   metadata                 a JSON object as in the JSON formats
 * An unquoted empty metadata cell means the row has no such field; a quoted
 * empty cell ("") is the empty string. Unknown columns are an error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "rvf_frontend.h"

enum { C_ID, C_VECTOR, C_VCOMP, C_META, C_METAJSON };

struct col {
	int kind;
	uint32_t comp;  /* C_VCOMP: component index */
	uint16_t field; /* C_META */
	int type;       /* C_META: meta type or -1 (inferred) */
	char *name;
};

struct cell {
	const char *p;
	size_t len;
	int quoted;
};

struct csv {
	char sep;
	struct col *cols;
	size_t ncols;
	size_t nvcomp;   /* v0..v{n-1} columns, 0 if a `vector` column */
	size_t nmeta;    /* C_META columns */
	struct cell *cells;
	size_t cellcap;
	char *scratch;   /* unescaped record */
	size_t scap;
	meta_field *tmpf;
	size_t tmpcap;
};

/* Finds the next record (quote-aware). Returns 1 with *len (including the
 * line end) and *nl newlines, 0 at end of input, -1 on a read error. */
static int scan_record(struct in_src *s, size_t *len, size_t *nl)
{
	size_t off = 0, lines = 0;
	int inq = 0;

	for (;;) {
		while (s->pos + off < s->len) {
			unsigned char c = s->buf[s->pos + off++];

			if (c == '"')
				inq = !inq;
			else if (c == '\n') {
				lines++;
				if (!inq) {
					*len = off;
					*nl = lines;
					return 1;
				}
			}
		}
		long got = in_src_fill(s);

		if (got < 0)
			return -1;
		if (got == 0) {
			*len = off;
			*nl = lines;
			return off > 0;
		}
	}
}

/* Splits rec[0..len) into cells (unescaped into c->scratch). Returns the
 * cell count, or -1 with a reason. */
static long split(struct csv *c, const char *rec, size_t len, char *err, size_t errlen)
{
	size_t i = 0, n = 0, o = 0;
	char *dst;

	if (len && rec[len - 1] == '\n')
		len--;
	if (len && rec[len - 1] == '\r')
		len--;
	if (c->scap < len + 1) {
		char *ns = realloc(c->scratch, len + 1);

		if (!ns)
			goto nomem;
		c->scratch = ns;
		c->scap = len + 1;
	}
	dst = c->scratch;
	for (;;) {
		struct cell cl = { dst + o, 0, 0 };

		if (i < len && rec[i] == '"') {
			cl.quoted = 1;
			i++;
			for (;;) {
				if (i >= len) {
					snprintf(err, errlen, "unterminated quoted field (column %zu)",
						 n + 1);
					return -1;
				}
				if (rec[i] == '"') {
					if (i + 1 < len && rec[i + 1] == '"') {
						dst[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				dst[o++] = rec[i++];
			}
			if (i < len && rec[i] != c->sep) {
				snprintf(err, errlen, "unexpected text after a closing quote (column %zu)",
					 n + 1);
				return -1;
			}
		} else {
			while (i < len && rec[i] != c->sep) {
				if (rec[i] == '"') {
					snprintf(err, errlen, "quote inside an unquoted field (column %zu)",
						 n + 1);
					return -1;
				}
				dst[o++] = rec[i++];
			}
		}
		cl.len = (size_t)(dst + o - cl.p);
		if (n == c->cellcap) {
			size_t ncap = c->cellcap ? c->cellcap * 2 : 16;
			struct cell *nc = realloc(c->cells, ncap * sizeof *nc);

			if (!nc)
				goto nomem;
			c->cells = nc;
			c->cellcap = ncap;
		}
		c->cells[n++] = cl;
		if (i >= len)
			break;
		i++; /* separator */
	}
	return (long)n;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int parse_u16(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (!len || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int parse_col(const struct in_reader *r, struct col *col, const char *name, size_t len,
		     char *err, size_t errlen)
{
	const char *rest = NULL, *colon;
	size_t rlen;

	if (len == 2 && !memcmp(name, "id", 2)) {
		col->kind = C_ID;
		return 0;
	}
	if (len == 6 && !memcmp(name, "vector", 6)) {
		col->kind = C_VECTOR;
		return 0;
	}
	if (len == 8 && !memcmp(name, "metadata", 8)) {
		col->kind = C_METAJSON;
		return 0;
	}
	if (len >= 2 && name[0] == 'v' && isdigit((unsigned char)name[1])) {
		unsigned long v = 0;
		size_t i;

		for (i = 1; i < len && isdigit((unsigned char)name[i]) && v < 100000; i++)
			v = v * 10 + (unsigned long)(name[i] - '0');
		if (i == len && (len == 2 || name[1] != '0') && v < 65536) {
			col->kind = C_VCOMP;
			col->comp = (uint32_t)v;
			return 0;
		}
	}
	if (len > 2 && !memcmp(name, "m:", 2))
		rest = name + 2;
	else if (len > 5 && !memcmp(name, "meta.", 5))
		rest = name + 5;
	if (rest) {
		rlen = len - (size_t)(rest - name);
		colon = memchr(rest, ':', rlen);
		col->kind = C_META;
		col->type = -1;
		size_t flen = colon ? (size_t)(colon - rest) : rlen;
		int named = flen && !isdigit((unsigned char)rest[0]);
		if (!named && parse_u16(rest, flen, &col->field)) {
			snprintf(err, errlen, "header: column '%.*s': the field must be a number "
				 "0..65535", (int)len, name);
			return -1;
		}
		if (colon) {
			char t[16];
			size_t tl = rlen - (size_t)(colon + 1 - rest);

			snprintf(t, sizeof t, "%.*s", (int)(tl < 15 ? tl : 15), colon + 1);
			col->type = tl < 15 ? meta_type_from_name(t) : -1;
			if (col->type < 0) {
				snprintf(err, errlen, "header: column '%.*s': unknown type '%.*s' "
					 "(u64, i64, f64, string, bool)", (int)len, name, (int)tl,
					 colon + 1);
				return -1;
			}
		}
		if (named) {
			/* a field name: its dictionary type, or defined with the column's */
			const meta_names *nm = r->o.names;
			char fname[META_NAME_MAX + 1];
			int dtype = -1;

			if (!nm || flen > META_NAME_MAX) {
				snprintf(err, errlen, "header: column '%.*s': the field must be a number "
					 "0..65535%s", (int)len, name, nm ? "" : " (names need a store)");
				return -1;
			}
			snprintf(fname, sizeof fname, "%.*s", (int)flen, rest);
			if (nm->resolve(nm->ctx, fname, col->type, &col->field, &dtype)) {
				snprintf(err, errlen, "header: column '%.*s': %s%s", (int)len, name,
					 rvf_last_error(), col->type < 0 ? " (a new name needs its type: "
					 "m:<name>:<type>)" : "");
				return -1;
			}
			if (col->type >= 0 && dtype != col->type) {
				snprintf(err, errlen, "header: column '%.*s': field '%s' is %s", (int)len,
					 name, fname, meta_type_name(dtype));
				return -1;
			}
			col->type = dtype;
		}
		return 0;
	}
	snprintf(err, errlen, "header: unknown column '%.*s' (expected id, vector or v0..vN, "
		 "m:<field>[:<type>], meta.<field>[:<type>], metadata)", (int)len, name);
	return -1;
}

static int read_header(struct in_reader *r, struct csv *c, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	size_t len, nl, i, j, nid = 0, nvec = 0, nmj = 0;
	long n;
	int rc;
	char why[300];
	unsigned char *seen = NULL;

	rc = scan_record(s, &len, &nl);
	if (rc < 0)
		return in_src_error(r, err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, "empty input: expected a header row (id, vector or "
			 "v0..vN, metadata columns)");
		return -1;
	}
	if (len >= 3 && !memcmp(s->buf + s->pos, "\xEF\xBB\xBF", 3)) {
		s->pos += 3;
		len -= 3;
	}
	n = split(c, (const char *)s->buf + s->pos, len, why, sizeof why);
	s->pos += len;
	r->line += nl;
	if (n < 0) {
		snprintf(err, errlen, "header (line 1): %s", why);
		return -1;
	}
	c->ncols = (size_t)n;
	c->cols = calloc(c->ncols, sizeof *c->cols);
	if (!c->cols)
		goto nomem;
	for (i = 0; i < c->ncols; i++) {
		struct cell *cl = &c->cells[i];
		struct col *col = &c->cols[i];

		col->name = strndup(cl->p, cl->len);
		if (!col->name)
			goto nomem;
		if (parse_col(r, col, cl->p, cl->len, err, errlen))
			return -1;
		nid += col->kind == C_ID;
		nvec += col->kind == C_VECTOR;
		nmj += col->kind == C_METAJSON;
		c->nvcomp += col->kind == C_VCOMP;
		c->nmeta += col->kind == C_META;
	}
	if (nid == 0) {
		snprintf(err, errlen, "header: missing column 'id'");
		return -1;
	}
	if (nid > 1) {
		snprintf(err, errlen, "header: column 'id' appears %zu times", nid);
		return -1;
	}
	if (nvec > 1 || nmj > 1) {
		snprintf(err, errlen, "header: column '%s' appears more than once",
			 nvec > 1 ? "vector" : "metadata");
		return -1;
	}
	if (nvec && c->nvcomp) {
		snprintf(err, errlen, "header: give either a 'vector' column or v0..vN columns, "
			 "not both");
		return -1;
	}
	if (!nvec && !c->nvcomp) {
		snprintf(err, errlen, "header: missing the vector: a 'vector' column or "
			 "columns v0..vN");
		return -1;
	}
	if (c->nvcomp) {
		seen = calloc(c->nvcomp, 1);
		if (!seen)
			goto nomem;
		for (i = 0; i < c->ncols; i++) {
			if (c->cols[i].kind != C_VCOMP)
				continue;
			if (c->cols[i].comp >= c->nvcomp || seen[c->cols[i].comp]) {
				snprintf(err, errlen, "header: vector columns must be v0..v%zu, each "
					 "once (column '%s')", c->nvcomp - 1, c->cols[i].name);
				free(seen);
				return -1;
			}
			seen[c->cols[i].comp] = 1;
		}
		free(seen);
	}
	for (i = 0; i < c->ncols; i++)
		for (j = i + 1; j < c->ncols; j++)
			if (c->cols[i].kind == C_META && c->cols[j].kind == C_META &&
			    c->cols[i].field == c->cols[j].field &&
			    c->cols[i].type == c->cols[j].type) {
				snprintf(err, errlen, "header: columns '%s' and '%s' name the same "
					 "field", c->cols[i].name, c->cols[j].name);
				return -1;
			}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Infers a type for an untyped metadata cell: JSON-like integers become
 * u64/i64, other decimal numbers f64, true/false bool, anything else a
 * string. */
static int infer_type(const char *p, size_t len)
{
	size_t i = 0;
	int digits = 0, real = 0;

	if (len == 4 && !memcmp(p, "true", 4))
		return META_BOOL;
	if (len == 5 && !memcmp(p, "false", 5))
		return META_BOOL;
	if (i < len && (p[i] == '-' || p[i] == '+'))
		i++;
	while (i < len && isdigit((unsigned char)p[i])) {
		i++;
		digits++;
	}
	if (i < len && p[i] == '.') {
		real = 1;
		i++;
		while (i < len && isdigit((unsigned char)p[i])) {
			i++;
			digits++;
		}
	}
	if (digits && i < len && (p[i] == 'e' || p[i] == 'E')) {
		size_t e0;

		real = 1;
		i++;
		if (i < len && (p[i] == '-' || p[i] == '+'))
			i++;
		e0 = i;
		while (i < len && isdigit((unsigned char)p[i]))
			i++;
		if (i == e0)
			return META_STRING;
	}
	if (!digits || i != len)
		return META_STRING;
	if (real)
		return META_F64;
	return p[0] == '-' ? META_I64 : META_U64;
}

/* Builds the row's fields (one malloc'd block, strings copied in). */
static int row_meta(const struct in_reader *r, struct csv *c, struct in_row *row, char *err, size_t errlen)
{
	meta_field *jf = NULL, *blk;
	size_t njf = 0, nf = 0, i, j, strbytes = 0;
	char *sp;

	for (i = 0; i < c->ncols; i++) {
		const struct col *col = &c->cols[i];
		const struct cell *cl = &c->cells[i];

		if (col->kind == C_METAJSON && (cl->len || cl->quoted)) {
			if (meta_from_json_text_names(cl->p, cl->len, r->o.names, &jf, &njf)) {
				snprintf(err, errlen, "column 'metadata': %s", rvf_last_error());
				return -1;
			}
		}
	}
	if (c->tmpcap < c->nmeta + njf) {
		meta_field *nt = realloc(c->tmpf, (c->nmeta + njf) * sizeof *nt);

		if (!nt) {
			free(jf);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->tmpf = nt;
		c->tmpcap = c->nmeta + njf;
	}
	for (i = 0; i < njf; i++)
		c->tmpf[nf++] = jf[i];
	for (i = 0; i < c->ncols; i++) {
		const struct col *col = &c->cols[i];
		const struct cell *cl = &c->cells[i];
		meta_field f;
		int type;

		if (col->kind != C_META || (!cl->len && !cl->quoted))
			continue;
		type = col->type >= 0 ? col->type : cl->quoted && !cl->len ? META_STRING :
			infer_type(cl->p, cl->len);
		if (meta_value_from_string(type, cl->p, cl->len, &f)) {
			snprintf(err, errlen, "column '%s': %s", col->name, rvf_last_error());
			free(jf);
			return -1;
		}
		f.id = col->field;
		for (j = 0; j < nf; j++)
			if (c->tmpf[j].id == f.id) {
				snprintf(err, errlen, "column '%s': field %u is given twice in this row",
					 col->name, (unsigned)f.id);
				free(jf);
				return -1;
			}
		c->tmpf[nf++] = f;
	}
	if (!nf) {
		free(jf);
		return 0;
	}
	for (i = 0; i < nf; i++)
		if (c->tmpf[i].type == META_STRING)
			strbytes += c->tmpf[i].v.str.len + 1;
	blk = malloc(nf * sizeof *blk + strbytes);
	if (!blk) {
		free(jf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sp = (char *)(blk + nf);
	for (i = 0; i < nf; i++) {
		blk[i] = c->tmpf[i];
		if (blk[i].type == META_STRING) {
			if (blk[i].v.str.len)
				memcpy(sp, blk[i].v.str.ptr, blk[i].v.str.len);
			sp[blk[i].v.str.len] = 0;
			blk[i].v.str.ptr = sp;
			sp += blk[i].v.str.len + 1;
		}
	}
	free(jf);
	meta_normalize(blk, &nf);
	row->fields = blk;
	row->nfields = nf;
	return 0;
}

static int parse_vector_cell(struct in_reader *r, const struct cell *cl, size_t *dim, char *err,
			     size_t errlen)
{
	const char *p = cl->p, *e = cl->p + cl->len;
	size_t n = 0, cap;

	while (p < e && isspace((unsigned char)*p))
		p++;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	if (p < e && *p == '[') {
		if (e[-1] != ']') {
			snprintf(err, errlen, "column 'vector': missing ']'");
			return -1;
		}
		p++;
		e--;
	}
	cap = 1;
	for (const char *q = p; q < e; q++)
		cap += *q == ',';
	if (in_vec_reserve(r, cap)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (p < e && isspace((unsigned char)*p))
		p++;
	if (p == e) {
		*dim = 0;
		return 0;
	}
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(e - p));
		const char *end = comma ? comma : e;

		int rc = in_parse_float(p, (size_t)(end - p), &r->vec[n]);

		if (rc) {
			snprintf(err, errlen, "column 'vector': component %zu: %s '%.*s'%s", n,
				 rc == -2 ? "value" : "bad float", (int)(end - p > 40 ? 40 : end - p), p,
				 rc == -2 ? " is " IN_F32_RANGE : "");
			return -1;
		}
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*dim = n;
	return 0;
}

static int next_csv(struct in_reader *r, struct in_row *row, char *err, size_t errlen)
{
	struct csv *c = r->fmt;
	struct in_src *s = &r->src;
	size_t len, nl, i, dim = 0;
	char why[400];
	long n;
	int rc;

	for (;;) {
		rc = scan_record(s, &len, &nl);
		if (rc < 0)
			return in_src_error(r, err, errlen);
		if (rc == 0)
			return 0;
		row->line = r->line;
		n = split(c, (const char *)s->buf + s->pos, len, why, sizeof why);
		s->pos += len;
		r->line += nl;
		if (n == 1 && c->cells[0].len == 0 && !c->cells[0].quoted)
			continue; /* blank line */
		break;
	}
	row->rowno = ++r->rowno;
	if (n < 0)
		goto bad;
	if ((size_t)n != c->ncols) {
		snprintf(why, sizeof why, "has %ld columns, the header has %zu", n, c->ncols);
		goto bad;
	}
	if (c->nvcomp && in_vec_reserve(r, c->nvcomp)) {
		snprintf(why, sizeof why, "out of memory");
		goto bad;
	}
	for (i = 0; i < c->ncols; i++) {
		const struct col *col = &c->cols[i];
		const struct cell *cl = &c->cells[i];
		char tmp[32];

		switch (col->kind) {
		case C_ID:
			snprintf(tmp, sizeof tmp, "%.*s", (int)(cl->len < 31 ? cl->len : 31), cl->p);
			errno = 0;
			row->id = strtoull(tmp, NULL, 10);
			if (cl->len == 0 || cl->len > 20 || errno ||
			    strspn(tmp, "0123456789") != cl->len) {
				snprintf(why, sizeof why, "column 'id': '%.*s' is not an unsigned "
					 "64-bit integer", (int)(cl->len > 40 ? 40 : cl->len), cl->p);
				goto bad;
			}
			break;
		case C_VECTOR:
			if (parse_vector_cell(r, cl, &dim, why, sizeof why))
				goto bad;
			break;
		case C_VCOMP:
			rc = in_parse_float(cl->p, cl->len, &r->vec[col->comp]);
			if (rc) {
				snprintf(why, sizeof why, "column '%s': %s '%.*s'%s", col->name,
					 rc == -2 ? "value" : "bad float", (int)(cl->len > 40 ? 40 : cl->len),
					 cl->p, rc == -2 ? " is " IN_F32_RANGE : "");
				goto bad;
			}
			break;
		}
	}
	if (c->nvcomp)
		dim = c->nvcomp;
	row->vec = r->vec;
	row->dim = dim;
	if (row_meta(r, c, row, why, sizeof why))
		goto bad;
	return 1;
bad:
	snprintf(err, errlen, "row %llu (line %llu): %s", (unsigned long long)row->rowno,
		 (unsigned long long)row->line, why);
	return -1;
}

static void free_csv(struct in_reader *r)
{
	struct csv *c = r->fmt;
	size_t i;

	if (!c)
		return;
	for (i = 0; c->cols && i < c->ncols; i++)
		free(c->cols[i].name);
	free(c->cols);
	free(c->cells);
	free(c->scratch);
	free(c->tmpf);
	free(c);
	r->fmt = NULL;
}

int in_csv_init(struct in_reader *r, char *err, size_t errlen)
{
	struct csv *c = calloc(1, sizeof *c);

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->sep = r->o.format == IN_TSV ? '\t' : ',';
	r->src.text = 1;
	r->fmt = c;
	r->free_fmt = free_csv;
	r->next = next_csv;
	return read_header(r, c, err, errlen);
}
