/* input_npy.c — streams a 2-D little-endian float32 .npy (versions 1.0, 2.0,
 * 3.0) row by row; ids are the row index plus --id-offset. Every other
 * dtype, order or shape is refused with the header quoted, never guessed. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

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

static const char *dict_value(const char *hdr, const char *name)
{
	char k1[32], k2[32];
	const char *p;

	snprintf(k1, sizeof k1, "'%s'", name);
	snprintf(k2, sizeof k2, "\"%s\"", name);
	p = strstr(hdr, k1);
	if (!p)
		p = strstr(hdr, k2);
	if (!p)
		return NULL;
	p += strlen(k1);
	while (isspace((unsigned char)*p))
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

static int parse_shape(const char *p, uint64_t dims[4])
{
	int nd = 0;
	char *end;

	if (*p++ != '(')
		return -1;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ')')
			return nd;
		if (!isdigit((unsigned char)*p) || nd == 4)
			return -1;
		errno = 0;
		dims[nd++] = strtoull(p, &end, 10);
		if (errno)
			return -1;
		p = end;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',')
			p++;
		else if (*p != ')')
			return -1;
	}
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
	static const unsigned char magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };
	struct in_src *s = &r->src;
	struct npy *n;
	size_t pre, hlen;
	uint64_t dims[4];
	const unsigned char *b;
	const char *d, *fo, *sh;
	char *hdr;
	int rc, nd, major;

	r->next = next_npy;
	r->free_fmt = free_npy;
	rc = need(s, 10);
	if (rc < 0)
		goto io;
	b = s->buf + s->pos;
	if (rc || memcmp(b, magic, 6)) {
		snprintf(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
		return -1;
	}
	major = b[6];
	if (major == 1) {
		pre = 10;
		hlen = (size_t)b[8] | (size_t)b[9] << 8;
	} else if (major == 2 || major == 3) {
		rc = need(s, 12);
		if (rc < 0)
			goto io;
		b = s->buf + s->pos;
		if (rc) {
			snprintf(err, errlen, "truncated .npy header");
			return -1;
		}
		pre = 12;
		hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
	} else {
		snprintf(err, errlen, "unsupported .npy format version %d.%d", major, b[7]);
		return -1;
	}
	if (hlen > (1u << 20)) {
		snprintf(err, errlen, ".npy header of %zu bytes is implausibly large", hlen);
		return -1;
	}
	rc = need(s, pre + hlen);
	if (rc < 0)
		goto io;
	if (rc) {
		snprintf(err, errlen, "truncated .npy header");
		return -1;
	}
	hdr = strndup((const char *)s->buf + s->pos + pre, hlen);
	if (!hdr) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	hdr[strcspn(hdr, "\n")] = 0;
	s->pos += pre + hlen;
	d = dict_value(hdr, "descr");
	fo = dict_value(hdr, "fortran_order");
	sh = dict_value(hdr, "shape");
	rc = -1;
	if (!d || !fo || !sh)
		snprintf(err, errlen, "malformed .npy header: %s", hdr);
	else if (strncmp(d, "'<f4'", 5) && strncmp(d, "\"<f4\"", 5))
		snprintf(err, errlen, "unsupported .npy dtype (only little-endian float32 '<f4' is "
			 "supported): %s", hdr);
	else if (strncmp(fo, "False", 5))
		snprintf(err, errlen, "Fortran-ordered .npy arrays are not supported: %s", hdr);
	else if ((nd = parse_shape(sh, dims)) < 0)
		snprintf(err, errlen, "malformed .npy shape: %s", hdr);
	else if (nd != 2)
		snprintf(err, errlen, ".npy array must be 2-D (rows, dimension), got %d "
			 "dimension(s): %s", nd, hdr);
	else if (dims[1] == 0 || dims[1] > 65535)
		snprintf(err, errlen, ".npy vector length %llu is out of range 1..65535",
			 (unsigned long long)dims[1]);
	else if (r->src.size && r->src.size != s->base + s->pos + dims[0] * dims[1] * 4)
		snprintf(err, errlen, ".npy data is %llu bytes, the shape (%llu, %llu) needs %llu",
			 (unsigned long long)(r->src.size - s->base - s->pos),
			 (unsigned long long)dims[0], (unsigned long long)dims[1],
			 (unsigned long long)(dims[0] * dims[1] * 4));
	else
		rc = 0;
	free(hdr);
	if (rc)
		return -1;
	n = calloc(1, sizeof *n);
	if (!n || in_vec_reserve(r, (size_t)dims[1])) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->rows = dims[0];
	n->cols = dims[1];
	r->fmt = n;
	return 0;
io:
	snprintf(err, errlen, "read error on %s: %s", r->path, strerror(errno));
	return -1;
}
