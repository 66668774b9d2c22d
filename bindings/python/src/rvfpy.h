/* rvfpy.h — shared declarations of the rvf Python extension (module rvf._rvf).
 *
 * Layers: module.c (module, exceptions, create/open), store.c (the Store
 * type: locking, GIL release, the rvf_* calls), convert.c (Python/numpy
 * objects <-> the C arguments of rvf.h). Only include/rvf.h is used from the
 * library.
 *
 * Locking (store.c): every Store holds a pthread rwlock. Queries and
 * metadata reads take it shared, every other call (writes, status, close)
 * exclusively. The GIL is always released BEFORE the lock is taken, so a
 * thread never waits for the lock while holding the GIL. */
#ifndef RVFPY_H
#define RVFPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL rvfpy_ARRAY_API
#ifndef RVFPY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
#include <pthread.h>
#include <stdint.h>

#include "rvf.h"

typedef struct {
	PyObject_HEAD
	rvf_store *s;          /* NULL once closed */
	pthread_rwlock_t lock; /* shared: queries, metadata reads; exclusive: the rest */
	uint32_t dim;          /* fixed for the store's life */
	rvf_metric metric;
	PyObject *path;        /* str */
} rvfpy_store;

extern PyTypeObject rvfpy_store_type;

/* ---- errors (module.c) ---- */
/* Raises the exception class of `err` with rvf_last_error() (or
 * rvf_strerror(err) when empty) as message, prefixed by `prefix` if not
 * NULL. Returns NULL. Call with the GIL, on the thread that failed. */
PyObject *rvfpy_raise(int err, const char *prefix);
/* Raises the class of `err` with a message of our own. Returns NULL. */
PyObject *rvfpy_raise_msg(int err, const char *fmt, ...);
PyObject *rvfpy_raise_closed(void);

/* A new Store owning s (closed on failure). */
PyObject *rvfpy_store_new(rvf_store *s);

/* ---- conversions (convert.c); each returns NULL / -1 with an exception set ---- */
/* A float32, C-contiguous, aligned array of shape (n, dim) viewing `obj`
 * without a copy when it already is one; other numeric dtypes and layouts
 * are converted. ndim 1 is taken as one row when allow_1d. */
PyArrayObject *rvfpy_matrix(PyObject *obj, uint32_t dim, int allow_1d, const char *what);
/* A float32 C-contiguous vector of length dim (1-D input only). */
PyArrayObject *rvfpy_vector(PyObject *obj, uint32_t dim, const char *what);
/* A uint64 C-contiguous 1-D array of ids (a scalar is one id); negative or
 * non-integer ids are refused. */
PyArrayObject *rvfpy_ids(PyObject *obj);

/* Metadata for n rows: a sequence of n dicts (or None) {field_id: value}. */
typedef struct {
	rvf_field *fields;      /* all rows' fields, back to back */
	rvf_field **rows;       /* rows[i] -> first field of row i */
	size_t *counts;         /* fields of row i */
	PyObject *keep;         /* list keeping the str objects alive */
} rvfpy_meta;
int rvfpy_meta_build(PyObject *obj, size_t n, rvfpy_meta *m);
void rvfpy_meta_free(rvfpy_meta *m);
/* {field_id: value}, or {field_id: (type, value)} when typed. */
PyObject *rvfpy_meta_dict(const rvf_field *f, size_t n, int typed);

/* A filter from a JSON string or a dict/list (serialised with json.dumps).
 * *out stays NULL for None. */
int rvfpy_filter(PyObject *obj, rvf_filter **out);

/* Optional unsigned 32-bit keyword value: None -> dflt. */
int rvfpy_opt_u32(PyObject *obj, const char *name, uint32_t min, uint32_t dflt, uint32_t *out);

#endif
