/* npy.c — the .npy header parser (batch queries here, streaming ingest in
 * input_npy.c) and the whole-file reader for batch queries. Only what
 * `numpy.save` writes for a C-ordered float32 matrix is accepted; anything
 * else is refused with a sentence naming the problem, never reinterpreted. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvf_frontend.h"
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

/* Checks the header dict (NUL-terminated, trailing newline/padding removed). */
static int parse_dict(const char *hdr, uint64_t *rows, uint64_t *cols, char *err, size_t errlen)
{
	const char *d = dict_value(hdr, "descr");
	const char *fo = dict_value(hdr, "fortran_order");
	const char *sh = dict_value(hdr, "shape");
	uint64_t dims[4];
	int nd;

	if (!d || !fo || !sh)
		return fail(err, errlen, "malformed .npy header: %s", hdr);
	if (strncmp(d, "'<f4'", 5) && strncmp(d, "\"<f4\"", 5))
		return fail(err, errlen, "unsupported .npy dtype (only little-endian float32 '<f4' "
			    "is supported): %s", hdr);
	if (strncmp(fo, "False", 5))
		return fail(err, errlen, "Fortran-ordered .npy arrays are not supported: %s", hdr);
	nd = parse_shape(sh, dims);
	if (nd < 0)
		return fail(err, errlen, "malformed .npy shape: %s", hdr);
	if (nd != 2)
		return fail(err, errlen, ".npy array must be 2-D (rows, dimension), got %d "
			    "dimension(s): %s", nd, hdr);
	if (dims[1] == 0 || dims[1] > 65535)
		return fail(err, errlen, ".npy vector length %llu is out of range 1..65535",
			    (unsigned long long)dims[1]);
	*rows = dims[0];
	*cols = dims[1];
	return 0;
}

long npy_parse_header(const unsigned char *b, size_t avail, int at_eof, size_t *data_off,
		      uint64_t *rows, uint64_t *cols, char *err, size_t errlen)
{
	size_t pre, hlen, i;
	char *hdr;
	int rc;

	if (avail < 10) {
		if (!at_eof)
			return 10;
		return fail(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
	}
	if (memcmp(b, magic, sizeof magic))
		return fail(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
	switch (b[6]) {
	case 1:
		pre = 10;
		hlen = (size_t)b[8] | (size_t)b[9] << 8;
		break;
	case 2:
	case 3:
		if (avail < 12) {
			if (!at_eof)
				return 12;
			return fail(err, errlen, "truncated .npy header");
		}
		pre = 12;
		hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
		       (size_t)b[11] << 24;
		break;
	default:
		return fail(err, errlen, "unsupported .npy format version %u.%u", b[6], b[7]);
	}
	if (hlen > (1u << 20))
		return fail(err, errlen, ".npy header of %zu bytes is implausibly large", hlen);
	if (hlen > avail - pre) {
		if (!at_eof)
			return (long)(pre + hlen);
		return fail(err, errlen, "truncated .npy header (%zu bytes declared, %zu present)",
			    hlen, avail - pre);
	}
	hdr = strndup((const char *)b + pre, hlen);
	if (!hdr)
		return fail(err, errlen, "out of memory");
	/* numpy ends the dict with spaces and a newline; keep messages tidy. */
	hdr[strcspn(hdr, "\n")] = 0;
	for (i = strlen(hdr); i && isspace((unsigned char)hdr[i - 1]); i--)
		hdr[i - 1] = 0;
	rc = parse_dict(hdr, rows, cols, err, errlen);
	free(hdr);
	if (rc)
		return -1;
	*data_off = pre + hlen;
	return 0;
}

int npy_check_size(uint64_t data_bytes, uint64_t rows, uint64_t cols, char *err, size_t errlen)
{
	/* rows * cols * 4 must equal the data bytes exactly (no overflow). */
	if (rows > data_bytes / 4 / cols || rows * cols * 4 != data_bytes)
		return fail(err, errlen, ".npy data is %llu bytes, the shape (%llu, %llu) needs %llu",
			    (unsigned long long)data_bytes, (unsigned long long)rows,
			    (unsigned long long)cols, (unsigned long long)(rows * cols * 4));
	return 0;
}

int npy_load_f32(const char *path, struct npy_f32 *out, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len, off, i, count;
	char msg[480];
	int e;

	memset(out, 0, sizeof *out);
	e = rvf_read_file(path, &buf, &len);
	if (e)
		return fail(err, errlen, "%s: cannot read: %s", path, strerror(-e));
	if (npy_parse_header(buf, len, 1, &off, &out->rows, &out->cols, msg, sizeof msg) ||
	    npy_check_size(len - off, out->rows, out->cols, msg, sizeof msg)) {
		free(buf);
		return fail(err, errlen, "%s: %s", path, msg);
	}
	count = out->rows * out->cols;
	out->data = malloc(count ? count * sizeof(float) : 1);
	if (!out->data) {
		free(buf);
		return fail(err, errlen, "%s: out of memory", path);
	}
	for (i = 0; i < count; i++) {
		const unsigned char *b = buf + off + 4 * i;
		uint32_t u = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			     (uint32_t)b[3] << 24;

		memcpy(&out->data[i], &u, sizeof u);
	}
	free(buf);
	return 0;
}
