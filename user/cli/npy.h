/* npy.h — the one .npy header parser of the CLI, element conversion to
 * float32, and a whole-file reader for batch `rvf query`. Accepted vector
 * arrays: 2-D float16, float32 or float64 ('<f2' '<f4' '<f8', big-endian
 * '>' too), C or Fortran order, format versions 1.0, 2.0 and 3.0. Id arrays
 * (the FILE.ids.npy sidecar `rvf export` writes): 1-D uint64 '<u8'. The
 * streaming ingest reader (input_npy.c) parses its header here too. */
#ifndef RVF_CLI_NPY_H
#define RVF_CLI_NPY_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct npy_hdr {
	uint64_t rows, cols; /* cols is 1 for a 1-D array */
	int nd;              /* 1 or 2 */
	char kind;           /* 'f' float, 'u' unsigned */
	unsigned esize;      /* bytes per element: 2, 4 or 8 */
	int big;             /* big-endian elements */
	int fortran;         /* column-major data */
};

/* 1 if the file starts with the .npy magic, 0 if not, -1 if unreadable. */
int npy_sniff(const char *path);

/* Parses the preamble and header dict at the start of a .npy held in
 * b[0..avail). want_ids 0: a 2-D float matrix (cols 1..65535); 1: a 1-D
 * '<u8'/'>u8' id array. Returns
 *   0   *data_off (where the array data starts) and *h are set;
 *   >0  that many bytes are needed in total: call again with more, or with
 *       at_eof set if the input has no more (which then reports truncation);
 *   -1  err holds a sentence (without the file name).
 * The header dict may be at most 1 MiB. */
long npy_parse_header(const unsigned char *b, size_t avail, int at_eof, int want_ids,
		      size_t *data_off, struct npy_hdr *h, char *err, size_t errlen);
/* 0 if data_bytes is exactly rows * cols * esize (without overflow), else
 * -1 with a sentence in err. */
int npy_check_size(uint64_t data_bytes, const struct npy_hdr *h, char *err, size_t errlen);
/* "float16" "float32" "float64" "uint64". */
const char *npy_dtype_name(const struct npy_hdr *h);

/* Converts n elements of h's float type at src to float32 dst (float16 and
 * float32 exactly, float64 rounded to nearest). first is the flat index of
 * src[0] in the file's element order, to name the row and column of a finite
 * float64 value too large for float32: then -1 with a sentence in err. */
int npy_to_f32(const struct npy_hdr *h, const unsigned char *src, size_t n, uint64_t first,
	       float *dst, char *err, size_t errlen);

struct npy_f32 {
	uint64_t rows, cols;
	float *data; /* rows * cols, row-major; free() it */
	char dtype[8]; /* the file's dtype: "float32", ... */
};

/* Loads a 2-D float .npy (any accepted dtype and order) as row-major
 * float32. Returns 0, or -1 with a sentence in err. */
int npy_load_f32(const char *path, struct npy_f32 *out, char *err, size_t errlen);

/* Loads a 1-D uint64 id array of exactly `rows` entries (*ids malloc'd).
 * Returns 0, or -1 with a sentence in err. */
int npy_load_ids(const char *path, uint64_t rows, uint64_t **ids, char *err, size_t errlen);

/* The name of OUT's id sidecar: "x.npy" -> "x.ids.npy", other names get
 * ".ids.npy" appended. malloc'd; NULL on allocation failure. */
char *npy_ids_path(const char *out);

/* Writes a version 1.0 header (padded to 64 bytes) for descr ("<f4",
 * "<u8") and shape (rows, cols), or (rows,) when cols is 0. */
void npy_write_header(FILE *f, const char *descr, uint64_t rows, uint32_t cols);

#endif
