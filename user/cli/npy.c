/* npy.c — the .npy header parser (batch queries here, streaming ingest in
 * input_npy.c), float16/float64 to float32 conversion, the whole-file
 * readers for batch queries and id sidecars, and the header writer of
 * `rvf export`. What is not a float16/32/64 matrix (or a uint64 id vector)
 * is refused with a sentence naming the problem, never reinterpreted. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
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

/* The dtype: "<f4" and the like; 0 or -1. */
static int parse_descr(const char *d, int want_ids, struct npy_hdr *h)
{
	char q = *d;

	if ((q != '\'' && q != '"') || (d[1] != '<' && d[1] != '>') || d[4] != q)
		return -1;
	h->big = d[1] == '>';
	h->kind = d[2];
	h->esize = (unsigned)(d[3] - '0');
	if (want_ids)
		return h->kind == 'u' && h->esize == 8 ? 0 : -1;
	return h->kind == 'f' && (h->esize == 2 || h->esize == 4 || h->esize == 8) ? 0 : -1;
}

/* Checks the header dict (NUL-terminated, trailing newline/padding removed). */
static int parse_dict(const char *hdr, int want_ids, struct npy_hdr *h, char *err, size_t errlen)
{
	const char *d = dict_value(hdr, "descr");
	const char *fo = dict_value(hdr, "fortran_order");
	const char *sh = dict_value(hdr, "shape");
	uint64_t dims[4];
	int nd;

	memset(h, 0, sizeof *h);
	if (!d || !fo || !sh)
		return fail(err, errlen, "malformed .npy header: %s", hdr);
	if (parse_descr(d, want_ids, h))
		return fail(err, errlen, want_ids ?
			    "unsupported .npy dtype for ids (uint64 '<u8' expected): %s" :
			    "unsupported .npy dtype (float16, float32 or float64 expected: "
			    "'<f2' '<f4' '<f8'): %s", hdr);
	if (!strncmp(fo, "True", 4))
		h->fortran = 1;
	else if (strncmp(fo, "False", 5))
		return fail(err, errlen, "malformed .npy fortran_order: %s", hdr);
	nd = parse_shape(sh, dims);
	if (nd < 0)
		return fail(err, errlen, "malformed .npy shape: %s", hdr);
	if (want_ids) {
		if (nd != 1 && !(nd == 2 && dims[1] == 1))
			return fail(err, errlen, ".npy ids must be 1-D (rows,), got %d dimension(s): "
				    "%s", nd, hdr);
		h->nd = 1;
		h->rows = dims[0];
		h->cols = 1;
		return 0;
	}
	if (nd != 2)
		return fail(err, errlen, ".npy array must be 2-D (rows, dimension), got %d "
			    "dimension(s): %s", nd, hdr);
	if (dims[1] == 0 || dims[1] > 65535)
		return fail(err, errlen, ".npy vector length %llu is out of range 1..65535",
			    (unsigned long long)dims[1]);
	h->nd = 2;
	h->rows = dims[0];
	h->cols = dims[1];
	return 0;
}

const char *npy_dtype_name(const struct npy_hdr *h)
{
	if (h->kind == 'u')
		return "uint64";
	return h->esize == 2 ? "float16" : h->esize == 8 ? "float64" : "float32";
}

static uint64_t load_le(const unsigned char *p, unsigned n, int big)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[big ? n - 1 - i : i] << (8 * i);
	return v;
}

static float half_to_float(uint16_t x)
{
	uint32_t sign = (uint32_t)(x >> 15) << 31, e = (x >> 10) & 31, m = x & 1023, u;
	float f;

	if (e == 31) {
		u = sign | 0x7f800000u | m << 13; /* inf, NaN (payload kept) */
	} else if (e) {
		u = sign | (e + 112) << 23 | m << 13;
	} else {
		f = (float)m * 0x1p-24f; /* subnormal or zero: exact */
		memcpy(&u, &f, 4);
		u |= sign;
	}
	memcpy(&f, &u, 4);
	return f;
}

int npy_to_f32(const struct npy_hdr *h, const unsigned char *src, size_t n, uint64_t first,
	       float *dst, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++, src += h->esize) {
		uint64_t u = load_le(src, h->esize, h->big);

		if (h->esize == 2) {
			dst[i] = half_to_float((uint16_t)u);
		} else if (h->esize == 4) {
			uint32_t w = (uint32_t)u;

			memcpy(&dst[i], &w, 4);
		} else {
			double d;

			memcpy(&d, &u, 8);
			dst[i] = (float)d;
			if (isinf(dst[i]) && isfinite(d)) {
				uint64_t k = first + i;
				uint64_t row = h->fortran ? k % h->rows : k / h->cols;
				uint64_t col = h->fortran ? k / h->rows : k % h->cols;

				return fail(err, errlen, "row %llu: component %llu: %g is outside the "
					    "float32 range (magnitude at most 3.4028235e+38)",
					    (unsigned long long)row + 1, (unsigned long long)col, d);
			}
		}
	}
	return 0;
}

long npy_parse_header(const unsigned char *b, size_t avail, int at_eof, int want_ids,
		      size_t *data_off, struct npy_hdr *h, char *err, size_t errlen)
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
	rc = parse_dict(hdr, want_ids, h, err, errlen);
	free(hdr);
	if (rc)
		return -1;
	*data_off = pre + hlen;
	return 0;
}

int npy_check_size(uint64_t data_bytes, const struct npy_hdr *h, char *err, size_t errlen)
{
	/* rows * cols * esize must equal the data bytes exactly (no overflow). */
	uint64_t per = h->cols * h->esize;

	if (h->rows > data_bytes / per || h->rows * per != data_bytes) {
		if (h->nd == 1)
			return fail(err, errlen, ".npy data is %llu bytes, the shape (%llu,) needs "
				    "%llu", (unsigned long long)data_bytes,
				    (unsigned long long)h->rows, (unsigned long long)(h->rows * per));
		return fail(err, errlen, ".npy data is %llu bytes, the shape (%llu, %llu) needs %llu",
			    (unsigned long long)data_bytes, (unsigned long long)h->rows,
			    (unsigned long long)h->cols, (unsigned long long)(h->rows * per));
	}
	return 0;
}

/* Reads path whole and checks its header and size. */
static int load(const char *path, int want_ids, uint8_t **buf, size_t *off, struct npy_hdr *h,
		char *err, size_t errlen)
{
	size_t len;
	char msg[480];
	int e = rvf_read_file(path, buf, &len);

	if (e)
		return fail(err, errlen, "%s: cannot read: %s", path, strerror(-e));
	if (npy_parse_header(*buf, len, 1, want_ids, off, h, msg, sizeof msg) ||
	    npy_check_size(len - *off, h, msg, sizeof msg)) {
		free(*buf);
		*buf = NULL;
		return fail(err, errlen, "%s: %s", path, msg);
	}
	return 0;
}

int npy_load_f32(const char *path, struct npy_f32 *out, char *err, size_t errlen)
{
	struct npy_hdr h;
	uint8_t *buf;
	size_t off, count;
	float *flat;
	char msg[400];

	memset(out, 0, sizeof *out);
	if (load(path, 0, &buf, &off, &h, err, errlen))
		return -1;
	count = h.rows * h.cols;
	flat = malloc(count ? count * sizeof(float) : 1);
	out->data = h.fortran ? malloc(count ? count * sizeof(float) : 1) : flat;
	if (!flat || !out->data) {
		free(buf);
		free(flat);
		if (h.fortran)
			free(out->data);
		out->data = NULL;
		return fail(err, errlen, "%s: out of memory", path);
	}
	if (npy_to_f32(&h, buf + off, count, 0, flat, msg, sizeof msg)) {
		free(buf);
		free(flat);
		if (h.fortran)
			free(out->data);
		out->data = NULL;
		return fail(err, errlen, "%s: %s", path, msg);
	}
	free(buf);
	if (h.fortran) {
		for (uint64_t c = 0; c < h.cols; c++)
			for (uint64_t r = 0; r < h.rows; r++)
				out->data[r * h.cols + c] = flat[c * h.rows + r];
		free(flat);
	}
	out->rows = h.rows;
	out->cols = h.cols;
	snprintf(out->dtype, sizeof out->dtype, "%s", npy_dtype_name(&h));
	return 0;
}

int npy_load_ids(const char *path, uint64_t rows, uint64_t **ids, char *err, size_t errlen)
{
	struct npy_hdr h;
	uint8_t *buf;
	size_t off;

	*ids = NULL;
	if (load(path, 1, &buf, &off, &h, err, errlen))
		return -1;
	if (h.rows != rows) {
		free(buf);
		return fail(err, errlen, "%s: %llu ids for %llu vectors", path,
			    (unsigned long long)h.rows, (unsigned long long)rows);
	}
	*ids = malloc(rows ? rows * sizeof **ids : 1);
	if (!*ids) {
		free(buf);
		return fail(err, errlen, "%s: out of memory", path);
	}
	for (uint64_t i = 0; i < rows; i++)
		(*ids)[i] = load_le(buf + off + 8 * i, 8, h.big);
	free(buf);
	return 0;
}

char *npy_ids_path(const char *out)
{
	size_t n = strlen(out);
	char *p;

	if (n > 4 && !strcmp(out + n - 4, ".npy"))
		n -= 4;
	if (asprintf(&p, "%.*s.ids.npy", (int)n, out) < 0)
		return NULL;
	return p;
}

void npy_write_header(FILE *f, const char *descr, uint64_t rows, uint32_t cols)
{
	char h[256];
	int n = cols ? snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': "
				"(%llu, %u), }", descr, (unsigned long long)rows, cols)
		     : snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': "
				"(%llu,), }", descr, (unsigned long long)rows);
	int total = 10 + n + 1, pad = (64 - total % 64) % 64;
	unsigned hl = (unsigned)(n + pad + 1);

	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc((int)(hl & 0xff), f);
	fputc((int)(hl >> 8), f);
	fwrite(h, 1, (size_t)n, f);
	while (pad--)
		fputc(' ', f);
	fputc('\n', f);
}
