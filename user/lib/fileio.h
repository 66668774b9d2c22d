/* fileio.h — reads a whole regular file into memory. The one copy used by the
 * CLI, the BPF loader and the tests (object files, kernel images, .npy). */
#ifndef RVF_FILEIO_H
#define RVF_FILEIO_H
#include <stddef.h>
#include <stdint.h>

/* Reads all of path into a malloc'd buffer (free() it; at least 1 byte is
 * allocated, so an empty file gives a valid pointer and *size 0). Returns 0,
 * or a negative errno: -EISDIR for a directory, -EINVAL for anything else
 * that is not a regular file, -EIO if the file ends before its stat size. */
int rvf_read_file(const char *path, uint8_t **out, size_t *size);
#endif
