/* input_common.c — the buffered byte source and the format-independent parts
 * of the ingest readers (see input.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "json_u64.h"
#include "rvf_frontend.h"

#define IN_CHUNK (1u << 20)

static const char *const names[IN_NFORMATS] = { "json", "jsonl", "csv", "tsv", "npy" };

int in_format_parse(const char *s)
{
	int i;

	for (i = 0; i < IN_NFORMATS; i++)
		if (!strcmp(s, names[i]))
			return i;
	if (!strcmp(s, "ndjson"))
		return IN_JSONL;
	return -1;
}

const char *in_format_name(int f)
{
	return f >= 0 && f < IN_NFORMATS ? names[f] : "?";
}

int in_format_guess(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot || strchr(dot, '/'))
		return -1;
	dot++;
	if (!strcasecmp(dot, "json"))
		return IN_JSON;
	if (!strcasecmp(dot, "jsonl") || !strcasecmp(dot, "ndjson"))
		return IN_JSONL;
	if (!strcasecmp(dot, "csv"))
		return IN_CSV;
	if (!strcasecmp(dot, "tsv") || !strcasecmp(dot, "tab"))
		return IN_TSV;
	if (!strcasecmp(dot, "npy"))
		return IN_NPY;
	return -1;
}

long in_src_fill(struct in_src *s)
{
	ssize_t got;

	if (s->eof)
		return 0;
	if (s->pos > 0 && (s->len == s->cap || s->pos >= s->cap / 2)) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->base += s->pos;
		s->len -= s->pos;
		s->pos = 0;
	}
	if (s->len == s->cap) {
		if (s->text && s->cap >= IN_MAX_RECORD) {
			s->bad = IN_BAD_LONG;
			return -1;
		}
		size_t ncap = s->cap ? s->cap * 2 : IN_CHUNK;
		unsigned char *nb = realloc(s->buf, ncap);

		if (!nb) {
			errno = ENOMEM;
			return -1;
		}
		s->buf = nb;
		s->cap = ncap;
	}
	do
		got = read(s->fd, s->buf + s->len, s->cap - s->len);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -1;
	if (got == 0) {
		s->eof = 1;
		return 0;
	}
	if (s->text) {
		const unsigned char *z = memchr(s->buf + s->len, 0, (size_t)got);

		if (z) {
			s->bad = IN_BAD_NUL;
			s->bad_off = s->base + (uint64_t)(z - s->buf);
			s->len += (size_t)got;
			return -1;
		}
	}
	s->len += (size_t)got;
	return got;
}

int in_src_error(struct in_reader *r, char *err, size_t errlen)
{
	struct in_src *s = &r->src;
	unsigned long long line = r->line;

	if (s->bad == IN_BAD_NUL) {
		const unsigned char *p = s->buf + s->pos, *e = s->buf + (s->bad_off - s->base);

		while ((p = memchr(p, '\n', (size_t)(e - p)))) {
			line++;
			p++;
		}
		snprintf(err, errlen, "line %llu: NUL byte at offset %llu: %s input must be text "
			 "(binary data? check --format)", line, (unsigned long long)s->bad_off,
			 in_format_name(r->o.format));
	} else if (s->bad == IN_BAD_LONG) {
		snprintf(err, errlen, "line %llu: record longer than %u MiB (no line end; binary "
			 "data? check --format)", line, IN_MAX_RECORD >> 20);
	} else {
		snprintf(err, errlen, "read error on %s: %s", r->path, strerror(errno));
	}
	return -1;
}

int in_vec_reserve(struct in_reader *r, size_t n)
{
	float *nv;

	if (n <= r->vcap)
		return 0;
	nv = realloc(r->vec, n * sizeof *nv);
	if (!nv)
		return -1;
	r->vec = nv;
	r->vcap = n;
	return 0;
}

int in_parse_float(const char *s, size_t len, float *out)
{
	char tmp[64], *end;
	float v;

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len || len >= sizeof tmp)
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	/* No hex floats: they are not what a CSV writer means. */
	if (strchr(tmp, 'x') || strchr(tmp, 'X'))
		return -1;
	errno = 0;
	v = strtof(tmp, &end);
	if (*end)
		return -1;
	if (errno == ERANGE && isinf(v) && !strchr(tmp, 'i') && !strchr(tmp, 'I'))
		return -2;
	*out = v;
	return 0;
}

int in_row_from_json(struct in_reader *r, const json_t *o, struct in_row *row, char *err,
		     size_t errlen)
{
	const json_t *id, *vec, *md, *x;
	size_t k, n;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "expected an object with \"id\" and \"vector\"");
		return -1;
	}
	id = json_object_get(o, "id");
	if (!id) {
		snprintf(err, errlen, "missing field \"id\"");
		return -1;
	}
	if (cli_json_get_u64(id, &row->id)) {
		snprintf(err, errlen,
			 "\"id\" must be a non-negative integer (at most 18446744073709551615)");
		return -1;
	}
	vec = json_object_get(o, "vector");
	if (!vec) {
		snprintf(err, errlen, "missing field \"vector\"");
		return -1;
	}
	if (!json_is_array(vec)) {
		snprintf(err, errlen, "\"vector\" must be an array of numbers");
		return -1;
	}
	n = json_array_size(vec);
	if (in_vec_reserve(r, n ? n : 1)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(vec, k, x) {
		if (!json_is_number(x)) {
			snprintf(err, errlen, "\"vector\" component %zu is not a number", k);
			return -1;
		}
		double d = json_number_value(x);

		r->vec[k] = (float)d;
		if (isinf(r->vec[k])) {
			snprintf(err, errlen, "\"vector\" component %zu: %g is %s", k, d, IN_F32_RANGE);
			return -1;
		}
	}
	row->vec = r->vec;
	row->dim = n;
	row->fields = NULL;
	row->nfields = 0;
	md = json_object_get(o, "metadata");
	if (md && !json_is_null(md)) {
		meta_field *f = NULL;
		size_t nf = 0;

		if (meta_from_json_names(md, r->o.names, &f, &nf)) {
			snprintf(err, errlen, "bad metadata: %s", rvf_last_error());
			return -1;
		}
		if (!nf) {
			free(f);
			f = NULL;
		}
		row->fields = f;
		row->nfields = nf;
	}
	return 0;
}

static int src_open(struct in_reader *r, char *err, size_t errlen)
{
	struct stat st;

	if (!strcmp(r->path, "-")) {
		r->src.fd = STDIN_FILENO;
	} else {
		r->src.fd = open(r->path, O_RDONLY | O_CLOEXEC);
		if (r->src.fd < 0) {
			snprintf(err, errlen, "unable to open: %s", strerror(errno));
			return -1;
		}
	}
	if (fstat(r->src.fd, &st) == 0 && S_ISREG(st.st_mode)) {
		r->src.size = (uint64_t)st.st_size;
		r->src.seekable = lseek(r->src.fd, 0, SEEK_CUR) == 0;
	} else if (fstat(r->src.fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "unable to read: Is a directory");
		return -1;
	}
	return 0;
}

static int fmt_init(struct in_reader *r, char *err, size_t errlen)
{
	switch (r->o.format) {
	case IN_JSON:
	case IN_JSONL:
		return in_json_init(r, err, errlen);
	case IN_CSV:
	case IN_TSV:
		return in_csv_init(r, err, errlen);
	case IN_NPY:
		return in_npy_init(r, err, errlen);
	}
	snprintf(err, errlen, "unknown input format");
	return -1;
}

int in_open(const char *path, const struct in_opts *o, struct in_reader **out, char *err,
	    size_t errlen)
{
	struct in_reader *r = calloc(1, sizeof *r);

	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->path = path;
	r->o = *o;
	r->src.fd = -1;
	r->line = 1;
	if (src_open(r, err, errlen) || fmt_init(r, err, errlen)) {
		in_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

int in_next(struct in_reader *r, struct in_row *row, char *err, size_t errlen)
{
	memset(row, 0, sizeof *row);
	return r->next(r, row, err, errlen);
}

uint64_t in_bytes_read(const struct in_reader *r)
{
	return r->src.base + r->src.pos;
}

uint64_t in_total_bytes(const struct in_reader *r)
{
	return r->src.size;
}

int in_rewindable(const struct in_reader *r)
{
	return r->src.seekable;
}

int in_rewind(struct in_reader *r, char *err, size_t errlen)
{
	if (!r->src.seekable || lseek(r->src.fd, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "cannot rewind %s: %s", r->path, strerror(errno));
		return -1;
	}
	r->src.eof = 0;
	r->src.bad = 0;
	r->src.pos = r->src.len = 0;
	r->src.base = 0;
	r->rowno = 0;
	r->line = 1;
	r->state = 0;
	if (r->free_fmt)
		r->free_fmt(r);
	r->fmt = NULL;
	return fmt_init(r, err, errlen);
}

void in_close(struct in_reader *r)
{
	if (!r)
		return;
	if (r->free_fmt)
		r->free_fmt(r);
	if (r->src.fd > STDIN_FILENO)
		close(r->src.fd);
	free(r->src.buf);
	free(r->vec);
	free(r);
}
