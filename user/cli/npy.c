/* npy.c — .npy reader for batch queries. Only what `numpy.save` writes for
 * a C-ordered float32 matrix is accepted; anything else is refused with a
 * sentence naming the file and the problem, never reinterpreted. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

static const unsigned char magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int npy_sniff(const char *path)
{
	unsigned char buf[6];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return n == sizeof buf && memcmp(buf, magic, sizeof magic) == 0;
}

/* Reads the whole file; returns the buffer (free it) or NULL with errno. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long sz;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc(sz ? (size_t)sz : 1);
	if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	*len = (size_t)sz;
out:
	fclose(f);
	return buf;
}

/* Finds the value that follows key `name` in the header dict. */
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

/* Parses "(a, b)" / "(a, b,)"; returns the number of dimensions or -1. */
static int parse_shape(const char *p, uint64_t dims[3])
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
		if (!isdigit((unsigned char)*p) || nd == 3)
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

static int parse_header(const char *path, const char *hdr, uint64_t *rows, uint64_t *cols,
			char *err, size_t errlen)
{
	const char *d = dict_value(hdr, "descr");
	const char *fo = dict_value(hdr, "fortran_order");
	const char *sh = dict_value(hdr, "shape");
	uint64_t dims[3];
	int nd;

	if (!d || !fo || !sh)
		return fail(err, errlen, "%s: malformed .npy header: %s", path, hdr);
	if (strncmp(d, "'<f4'", 5) && strncmp(d, "\"<f4\"", 5))
		return fail(err, errlen, "%s: unsupported .npy dtype (only little-endian float32 "
			    "'<f4' is supported): %s", path, hdr);
	if (strncmp(fo, "False", 5))
		return fail(err, errlen, "%s: Fortran-ordered .npy arrays are not supported: %s",
			    path, hdr);
	nd = parse_shape(sh, dims);
	if (nd < 0)
		return fail(err, errlen, "%s: malformed .npy shape: %s", path, hdr);
	if (nd != 2)
		return fail(err, errlen, "%s: .npy array must be 2-D (queries, dimension), "
			    "got %d dimension(s)", path, nd);
	if (dims[1] == 0 || dims[1] > 65535)
		return fail(err, errlen, "%s: .npy vector length %llu is out of range 1..65535",
			    path, (unsigned long long)dims[1]);
	*rows = dims[0];
	*cols = dims[1];
	return 0;
}

int npy_load_f32(const char *path, struct npy_f32 *out, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len, hlen, pre, i, count;
	char *hdr;
	int rc = -1;

	memset(out, 0, sizeof *out);
	buf = slurp(path, &len);
	if (!buf)
		return fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	if (len < 10 || memcmp(buf, magic, sizeof magic)) {
		fail(err, errlen, "%s: not a .npy file (bad magic)", path);
		goto out;
	}
	switch (buf[6]) {
	case 1:
		hlen = buf[8] | (size_t)buf[9] << 8;
		pre = 10;
		break;
	case 2:
	case 3:
		if (len < 12) {
			fail(err, errlen, "%s: truncated .npy header", path);
			goto out;
		}
		hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
		       (size_t)buf[11] << 24;
		pre = 12;
		break;
	default:
		fail(err, errlen, "%s: unsupported .npy format version %u.%u", path, buf[6], buf[7]);
		goto out;
	}
	if (hlen > len - pre) {
		fail(err, errlen, "%s: truncated .npy header (%zu bytes declared, %zu present)",
		     path, hlen, len - pre);
		goto out;
	}
	hdr = strndup((const char *)buf + pre, hlen);
	if (!hdr) {
		fail(err, errlen, "%s: out of memory", path);
		goto out;
	}
	/* numpy pads the dict with spaces and a newline; keep messages tidy. */
	for (i = strlen(hdr); i && isspace((unsigned char)hdr[i - 1]); i--)
		hdr[i - 1] = 0;
	rc = parse_header(path, hdr, &out->rows, &out->cols, err, errlen);
	free(hdr);
	if (rc)
		goto out;
	rc = -1;
	pre += hlen;
	/* rows * cols * 4 must equal the data bytes exactly (no overflow). */
	if (out->rows > (len - pre) / 4 / out->cols ||
	    out->rows * out->cols * 4 != len - pre) {
		fail(err, errlen, "%s: .npy data is %zu bytes, shape (%llu, %llu) needs %llu", path,
		     len - pre, (unsigned long long)out->rows, (unsigned long long)out->cols,
		     (unsigned long long)(out->rows * out->cols * 4));
		goto out;
	}
	count = out->rows * out->cols;
	out->data = malloc(count ? count * sizeof(float) : 1);
	if (!out->data) {
		fail(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (i = 0; i < count; i++) {
		const unsigned char *b = buf + pre + 4 * i;
		uint32_t u = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			     (uint32_t)b[3] << 24;

		memcpy(&out->data[i], &u, sizeof u);
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
