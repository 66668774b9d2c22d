/* input_npy.c — streams a 2-D little-endian float32 .npy (versions 1.0, 2.0,
 * 3.0) row by row; ids are the row index plus --id-offset. The header is
 * checked by npy_parse_header (npy.c): every other dtype, order or shape is
 * refused with the header quoted, never guessed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "npy.h"

struct npy {
	uint64_t rows, cols, done;
};

/* Makes at least n unread bytes available; 0 ok, 1 short (EOF), -1 error. */
static int need(struct in_src *s, size_t n)
{
	while (s->len - s->pos < n) {
		long got = in_src_fill(s);

		if (got < 0)
			return -1;
		if (got == 0)
			return 1;
	}
	return 0;
}

static int next_npy(struct in_reader *r, struct in_row *row, char *err, size_t errlen)
{
	struct npy *n = r->fmt;
	struct in_src *s = &r->src;
	size_t bytes = (size_t)n->cols * 4;
	int rc;

	if (n->done == n->rows) {
		rc = need(s, 1);
		if (rc < 0)
			goto io;
		if (rc == 0) {
			snprintf(err, errlen, "unexpected data after the %llu x %llu array",
				 (unsigned long long)n->rows, (unsigned long long)n->cols);
			return -1;
		}
		return 0;
	}
	rc = need(s, bytes);
	if (rc < 0)
		goto io;
	row->rowno = ++r->rowno;
	if (rc) {
		snprintf(err, errlen, "row %llu: truncated .npy data: the header promises %llu "
			 "rows, the file ends inside row %llu", (unsigned long long)row->rowno,
			 (unsigned long long)n->rows, (unsigned long long)row->rowno);
		return -1;
	}
	memcpy(r->vec, s->buf + s->pos, bytes); /* little-endian host */
	s->pos += bytes;
	row->id = r->o.id_offset + n->done;
	if (row->id < r->o.id_offset) {
		snprintf(err, errlen, "row %llu: id overflows 2^64 (--id-offset too large)",
			 (unsigned long long)row->rowno);
		return -1;
	}
	n->done++;
	row->vec = r->vec;
	row->dim = (size_t)n->cols;
	return 1;
io:
	snprintf(err, errlen, "read error on %s: %s", r->path, strerror(errno));
	return -1;
}

static void free_npy(struct in_reader *r)
{
	free(r->fmt);
	r->fmt = NULL;
}

int in_npy_init(struct in_reader *r, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	struct npy *n;
	size_t off;
	uint64_t rows, cols;
	long want = 10; /* the v1.0 preamble */

	r->next = next_npy;
	r->free_fmt = free_npy;
	/* Feed the shared parser until it has the whole header (or the input ends). */
	do {
		int rc = need(s, (size_t)want);

		if (rc < 0)
			goto io;
		want = npy_parse_header(s->buf + s->pos, s->len - s->pos, rc, &off, &rows, &cols,
					err, errlen);
	} while (want > 0);
	if (want < 0)
		return -1;
	s->pos += off;
	if (r->src.size &&
	    npy_check_size(r->src.size - s->base - s->pos, rows, cols, err, errlen))
		return -1;
	n = calloc(1, sizeof *n);
	if (!n || in_vec_reserve(r, (size_t)cols)) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->rows = rows;
	n->cols = cols;
	r->fmt = n;
	return 0;
io:
	snprintf(err, errlen, "read error on %s: %s", r->path, strerror(errno));
	return -1;
}
