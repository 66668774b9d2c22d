/* npy.h — the one .npy header parser of the CLI, and a whole-file reader for
 * batch `rvf query`. Accepted: 2-D little-endian float32 NumPy arrays, format
 * versions 1.0, 2.0 and 3.0, C order (what `numpy.save` writes). The streaming
 * ingest reader (input_npy.c) parses its header with npy_parse_header too. */
#ifndef RVF_CLI_NPY_H
#define RVF_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>

struct npy_f32 {
	uint64_t rows, cols;
	float *data; /* rows * cols, row-major; free() it */
};

/* 1 if the file starts with the .npy magic, 0 if not, -1 if unreadable. */
int npy_sniff(const char *path);
/* Loads dtype '<f4', fortran_order False, shape (rows, cols). Returns 0, or
 * -1 with a sentence in err. */
int npy_load_f32(const char *path, struct npy_f32 *out, char *err, size_t errlen);

/* Parses the preamble and header dict at the start of a .npy held in
 * b[0..avail). Returns
 *   0   *data_off (where the array data starts), *rows and *cols are set
 *       (dtype '<f4', fortran_order False, shape (rows, cols), cols 1..65535);
 *   >0  that many bytes are needed in total: call again with more, or with
 *       at_eof set if the input has no more (which then reports truncation);
 *   -1  err holds a sentence (without the file name).
 * The header dict may be at most 1 MiB. */
long npy_parse_header(const unsigned char *b, size_t avail, int at_eof, size_t *data_off,
		      uint64_t *rows, uint64_t *cols, char *err, size_t errlen);
/* 0 if data_bytes is exactly rows * cols * 4 (without overflow), else -1 with
 * a sentence in err. */
int npy_check_size(uint64_t data_bytes, uint64_t rows, uint64_t cols, char *err, size_t errlen);

#endif
