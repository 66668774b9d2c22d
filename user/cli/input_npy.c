/* input_npy.c — streams a 2-D float16/float32/float64 .npy (versions 1.0,
 * 2.0, 3.0) row by row, converted to float32; ids are the row index plus
 * --id-offset, or come from the FILE.ids.npy sidecar (in_opts.ids_path).
 * A Fortran-ordered (column-major) array is read whole first: its rows are
 * not contiguous in the file. The header is checked by npy_parse_header
 * (npy.c): every other dtype or shape is refused with the header quoted,
 * never guessed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "npy.h"

struct npy {
	struct npy_hdr h;
	uint64_t done;
	float *all;    /* Fortran order: the whole array, row-major */
	uint64_t *ids; /* from the sidecar, or NULL */
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

static int io_err(struct in_reader *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "read error on %s: %s", r->path, strerror(errno));
	return -1;
}

static int next_npy(struct in_reader *r, struct in_row *row, char *err, size_t errlen)
{
	struct npy *n = r->fmt;
	struct in_src *s = &r->src;
	size_t bytes = (size_t)n->h.cols * n->h.esize;
	int rc;

	if (n->done == n->h.rows) {
		rc = need(s, 1);
		if (rc < 0)
			return io_err(r, err, errlen);
		if (rc == 0) {
			snprintf(err, errlen, "unexpected data after the %llu x %llu array",
				 (unsigned long long)n->h.rows, (unsigned long long)n->h.cols);
			return -1;
		}
		return 0;
	}
	row->rowno = ++r->rowno;
	if (n->all) {
		memcpy(r->vec, n->all + n->done * n->h.cols, n->h.cols * sizeof(float));
	} else {
		rc = need(s, bytes);
		if (rc < 0)
			return io_err(r, err, errlen);
		if (rc) {
			snprintf(err, errlen, "row %llu: truncated .npy data: the header promises "
				 "%llu rows, the file ends inside row %llu",
				 (unsigned long long)row->rowno, (unsigned long long)n->h.rows,
				 (unsigned long long)row->rowno);
			return -1;
		}
		if (npy_to_f32(&n->h, s->buf + s->pos, (size_t)n->h.cols, n->done * n->h.cols,
			       r->vec, err, errlen))
			return -1;
		s->pos += bytes;
	}
	if (n->ids) {
		row->id = n->ids[n->done];
	} else {
		row->id = r->o.id_offset + n->done;
		if (row->id < r->o.id_offset) {
			snprintf(err, errlen, "row %llu: id overflows 2^64 (--id-offset too large)",
				 (unsigned long long)row->rowno);
			return -1;
		}
	}
	n->done++;
	row->vec = r->vec;
	row->dim = (size_t)n->h.cols;
	return 1;
}

static void free_npy(struct in_reader *r)
{
	struct npy *n = r->fmt;

	if (n) {
		free(n->all);
		free(n->ids);
	}
	free(n);
	r->fmt = NULL;
}

/* Fortran order: reads the whole array and transposes it to rows. */
static int load_fortran(struct in_reader *r, struct npy *n, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	uint64_t count = n->h.rows * n->h.cols, k;
	size_t chunk = 65536, i, got;
	float tmp[65536 / 2];
	int rc;

	if (count > SIZE_MAX / sizeof(float) || !(n->all = malloc(count ? count * sizeof(float) : 1))) {
		snprintf(err, errlen, "out of memory for a Fortran-ordered %llu x %llu array",
			 (unsigned long long)n->h.rows, (unsigned long long)n->h.cols);
		return -1;
	}
	for (k = 0; k < count; k += got) {
		got = count - k < chunk / n->h.esize ? (size_t)(count - k) : chunk / n->h.esize;
		rc = need(s, got * n->h.esize);
		if (rc < 0)
			return io_err(r, err, errlen);
		if (rc) {
			snprintf(err, errlen, "truncated .npy data: the header promises %llu x %llu "
				 "values, the file ends after %llu", (unsigned long long)n->h.rows,
				 (unsigned long long)n->h.cols,
				 (unsigned long long)(k + (s->len - s->pos) / n->h.esize));
			return -1;
		}
		if (npy_to_f32(&n->h, s->buf + s->pos, got, k, tmp, err, errlen))
			return -1;
		s->pos += got * n->h.esize;
		for (i = 0; i < got; i++)
			n->all[((k + i) % n->h.rows) * n->h.cols + (k + i) / n->h.rows] = tmp[i];
	}
	return 0;
}

int in_npy_init(struct in_reader *r, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	struct npy *n;
	struct npy_hdr h;
	size_t off;
	long want = 10; /* the v1.0 preamble */

	r->next = next_npy;
	r->free_fmt = free_npy;
	/* Feed the shared parser until it has the whole header (or the input ends). */
	do {
		int rc = need(s, (size_t)want);

		if (rc < 0)
			return io_err(r, err, errlen);
		want = npy_parse_header(s->buf + s->pos, s->len - s->pos, rc, 0, &off, &h, err,
					errlen);
	} while (want > 0);
	if (want < 0)
		return -1;
	s->pos += off;
	if (r->src.size && npy_check_size(r->src.size - s->base - s->pos, &h, err, errlen))
		return -1;
	n = calloc(1, sizeof *n);
	if (!n || in_vec_reserve(r, (size_t)h.cols)) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->h = h;
	r->fmt = n;
	if (h.esize != 4)
		snprintf(r->note, sizeof r->note, "%s .npy converted to float32", npy_dtype_name(&h));
	if (r->o.ids_path && npy_load_ids(r->o.ids_path, h.rows, &n->ids, err, errlen))
		return -1;
	return h.fortran ? load_fortran(r, n, err, errlen) : 0;
}
