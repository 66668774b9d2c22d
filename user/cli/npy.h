/* npy.h — minimal reader for 2-D little-endian float32 NumPy .npy files
 * (format versions 1.0, 2.0 and 3.0), used by batch `rvf query`. */
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

#endif
