/* input.h — streaming readers for `rvf ingest`: JSON array, JSON lines,
 * CSV/TSV with a header row, and 2-D float .npy. Memory stays bounded by
 * the largest single row (plus a 1 MiB read buffer), never the whole input.
 *
 * Formats (docs in user/cli/cli_ingest.c's header comment):
 *   json   [{"id": N, "vector": [..], "metadata": {..}}, ...]
 *   jsonl  one such object per line (blank lines skipped)
 *   csv    header row: id, then `vector` ("1,2,3" or "[1,2,3]") or v0..v{d-1},
 *   tsv    then metadata columns `m:<field>[:<type>]` / `meta.<field>[:<type>]`
 *          and/or `metadata` (a JSON object, as in json). An unquoted empty
 *          metadata cell means "no such field"; "" is the empty string.
 *   npy    2-D float16/32/64 (C or Fortran order) converted to float32;
 *          ids = row index + id_offset, or from o.ids_path
 *
 * Row numbers count data rows from 1 (the CSV header is not a row); errors
 * read "row N (line L): reason" and the caller prefixes the file name.
 */
#ifndef RVF_CLI_INPUT_H
#define RVF_CLI_INPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rvf_frontend.h"
#include "rvf.h"

enum in_format { IN_JSON = 0, IN_JSONL, IN_CSV, IN_TSV, IN_NPY, IN_NFORMATS };

/* "json" ... "npy"; -1 if unknown. */
int in_format_parse(const char *s);
const char *in_format_name(int f);
/* By extension (.json .jsonl/.ndjson .csv .tsv/.tab .npy), else -1. */
int in_format_guess(const char *path);

struct in_row {
	uint64_t id;
	float *vec;        /* reader-owned, valid until the next in_next */
	size_t dim;
	rvf_field *fields; /* one malloc'd block (strings inside) or NULL; caller frees */
	size_t nfields;
	uint64_t rowno;    /* 1-based data row */
	uint64_t line;     /* 1-based line where the row starts, 0 if none (npy) */
};

struct in_reader;

struct in_opts {
	int format;
	uint64_t id_offset; /* npy only */
	const char *ids_path; /* npy only: ids from this 1-D uint64 .npy */
	const meta_names *names; /* metadata field names, or NULL (ids only) */
};

/* path "-" is stdin. Returns 0, or -1 with a sentence in err. */
int in_open(const char *path, const struct in_opts *o, struct in_reader **out, char *err,
	    size_t errlen);
/* 1: a row; 0: end of input; -1: error, sentence in err ("row N: ..."). */
int in_next(struct in_reader *r, struct in_row *row, char *err, size_t errlen);
uint64_t in_bytes_read(const struct in_reader *r);
uint64_t in_total_bytes(const struct in_reader *r); /* 0 if unknown (pipe) */
/* 1 if the input can be read twice (a regular file). */
int in_rewindable(const struct in_reader *r);
int in_rewind(struct in_reader *r, char *err, size_t errlen);
void in_close(struct in_reader *r);

/* ---- internals shared by the input_*.c files --------------------------- */
struct in_src {
	int fd;
	int eof;
	unsigned char *buf;
	size_t cap, pos, len; /* unread bytes are buf[pos..len) */
	uint64_t base;        /* file offset of buf[0] */
	uint64_t size;        /* regular file size, else 0 */
	int seekable;
	int text;             /* a text format: a NUL byte is an error */
	int bad;              /* why the last fill failed (IN_BAD_*), 0 = I/O error */
	uint64_t bad_off;     /* file offset of the NUL byte (IN_BAD_NUL) */
};

/* One record (a JSON line, a CSV row, a JSON array element) may not exceed
 * this many bytes: input without line ends fails fast instead of growing the
 * buffer without end. */
#define IN_MAX_RECORD (64u << 20)
enum { IN_BAD_NUL = 1, IN_BAD_LONG };

/* Reads more bytes after buf[len] (moving the unread part to the front and
 * growing the buffer if it is full). Returns bytes added, 0 at EOF, -1 error:
 * a read error (errno), a NUL byte in a text source (bad = IN_BAD_NUL) or an
 * unread span that would grow past IN_MAX_RECORD (bad = IN_BAD_LONG). */
long in_src_fill(struct in_src *s);

struct in_reader {
	const char *path;
	struct in_opts o;
	struct in_src src;
	uint64_t rowno, line;
	float *vec;
	size_t vcap;
	int state; /* per-format */
	void *fmt; /* per-format state */
	int (*next)(struct in_reader *r, struct in_row *row, char *err, size_t errlen);
	int (*reset)(struct in_reader *r, char *err, size_t errlen);
	void (*free_fmt)(struct in_reader *r);
	char note[96]; /* a conversion the caller should mention, or "" */
};

/* Per-format setup (called by in_open / in_rewind after the source is at 0). */
int in_json_init(struct in_reader *r, char *err, size_t errlen);
int in_csv_init(struct in_reader *r, char *err, size_t errlen);
int in_npy_init(struct in_reader *r, char *err, size_t errlen);

/* The error sentence for a failed in_src_fill, with the line number (the
 * current record starts at r->line, its bytes at src.pos). Returns -1. */
int in_src_error(struct in_reader *r, char *err, size_t errlen);

/* Makes room for n floats in r->vec. 0 or -1 (out of memory). */
int in_vec_reserve(struct in_reader *r, size_t n);
/* One {"id","vector","metadata"} object into row (vector in r->vec). Returns 0
 * or -1 with the reason (no row prefix) in err. */
int in_row_from_json(struct in_reader *r, const json_t *o, struct in_row *row, char *err,
		     size_t errlen);
/* Parses a float the way ingest accepts it (strtof, whole string, finite or
 * denormal results; "nan"/"inf" are taken and later rejected by the store).
 * Returns 0, -1 (not a number) or -2 (a finite number beyond float32). */
int in_parse_float(const char *s, size_t len, float *out);
#define IN_F32_RANGE "outside the float32 range (magnitude at most 3.4028235e+38)"

#endif
