/* module.c — the rvf._rvf module: exception classes, create(), open(). */
#define RVFPY_MODULE_C
#include "rvfpy.h"

#include <stdarg.h>
#include <stdio.h>

/* Exception classes; Error is the base of all of them. */
static PyObject *exc_error, *exc_argument, *exc_dimension, *exc_exists, *exc_file_missing,
	*exc_not_found, *exc_readonly, *exc_locked, *exc_corrupt, *exc_storage, *exc_nomem,
	*exc_closed;

static PyObject *exc_class(int err)
{
	switch (err) {
	case RVF_E_ARG: return exc_argument;
	case RVF_E_DIMENSION: return exc_dimension;
	case RVF_E_EXISTS: return exc_exists;
	case RVF_E_NOENT: return exc_file_missing;
	case RVF_E_NOT_FOUND: return exc_not_found;
	case RVF_E_READONLY: return exc_readonly;
	case RVF_E_LOCKED: return exc_locked;
	case RVF_E_CORRUPT:
	case RVF_E_CHECKSUM:
	case RVF_E_NO_MANIFEST: return exc_corrupt;
	case RVF_E_IO: return exc_storage;
	case RVF_E_NOMEM: return exc_nomem;
	default: return exc_error;
	}
}

/* Raises cls(msg) with .code and .message set. */
static PyObject *raise_obj(PyObject *cls, int err, const char *msg)
{
	PyObject *m = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
	PyObject *e = m ? PyObject_CallOneArg(cls, m) : NULL;
	PyObject *code = PyLong_FromLong(err);

	if (e && code && !PyObject_SetAttrString(e, "code", code) &&
	    !PyObject_SetAttrString(e, "message", m))
		PyErr_SetObject(cls, e);
	Py_XDECREF(m);
	Py_XDECREF(e);
	Py_XDECREF(code);
	return NULL;
}

PyObject *rvfpy_raise(int err, const char *prefix)
{
	const char *msg = rvf_last_error();
	char buf[1024];

	if (!msg || !*msg)
		msg = rvf_strerror(err);
	if (prefix) {
		snprintf(buf, sizeof buf, "%s%s", prefix, msg);
		msg = buf;
	}
	return raise_obj(exc_class(err), err, msg);
}

PyObject *rvfpy_raise_msg(int err, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return raise_obj(exc_class(err), err, buf);
}

PyObject *rvfpy_raise_closed(void)
{
	return raise_obj(exc_closed, RVF_E_ARG, "operation on a closed rvf store");
}

/* ---- create / open -------------------------------------------------------- */

PyDoc_STRVAR(create_doc,
"create(path, dim, metric='l2', profile=0) -> Store\n\n"
"Create a new RVF file (it must not exist) holding dim-component vectors\n"
"compared with metric 'l2' (squared Euclidean), 'cosine' or 'ip' (negated\n"
"dot product). The store is open for writing.");

static PyObject *py_create(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "dim", "metric", "profile", NULL };
	PyObject *path = NULL;
	long long dim;
	const char *metric = "l2";
	int profile = 0, err;
	rvf_create_opts o = { 0 };
	rvf_store *s = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&L|si:create", kwlist, PyUnicode_FSConverter,
					 &path, &dim, &metric, &profile))
		return NULL;
	if (dim < 1 || dim > 65535) {
		Py_DECREF(path);
		return rvfpy_raise_msg(RVF_E_ARG, "dim must be 1..65535, got %lld", dim);
	}
	if (profile < 0 || profile > 255) {
		Py_DECREF(path);
		return rvfpy_raise_msg(RVF_E_ARG, "profile must be 0..255, got %d", profile);
	}
	if (rvf_metric_parse(metric, &o.metric)) {
		Py_DECREF(path);
		return rvfpy_raise_msg(RVF_E_ARG, "unknown metric '%s' (l2, cosine, ip)", metric);
	}
	o.dimension = (uint32_t)dim;
	o.profile = (uint8_t)profile;
	Py_BEGIN_ALLOW_THREADS
	err = rvf_create(PyBytes_AS_STRING(path), &o, &s);
	Py_END_ALLOW_THREADS
	Py_DECREF(path);
	if (err)
		return rvfpy_raise(err, NULL);
	return rvfpy_store_new(s);
}

PyDoc_STRVAR(open_doc,
"open(path, readonly=False, wait=False) -> Store\n\n"
"Open an existing RVF file. A writer takes the file's lock (LockedError if\n"
"another writer holds it, unless wait=True); readonly=True takes no lock and\n"
"refuses writes with ReadOnlyError. A non-fatal report of the open (e.g. a\n"
"torn newest manifest skipped) is issued as a RuntimeWarning and kept in\n"
"Store.warning.");

static PyObject *py_open(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "readonly", "wait", NULL };
	PyObject *path = NULL, *st;
	int readonly = 0, wait = 0, err;
	unsigned flags;
	rvf_store *s = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|pp:open", kwlist, PyUnicode_FSConverter, &path,
					 &readonly, &wait))
		return NULL;
	flags = (readonly ? RVF_OPEN_READONLY : 0) | (wait ? RVF_OPEN_WAIT : 0);
	Py_BEGIN_ALLOW_THREADS
	err = rvf_open(PyBytes_AS_STRING(path), flags, &s);
	Py_END_ALLOW_THREADS
	Py_DECREF(path);
	if (err)
		return rvfpy_raise(err, NULL);
	st = rvfpy_store_new(s);
	if (st && *rvf_open_warning(s) &&
	    PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "%s", rvf_open_warning(s))) {
		Py_DECREF(st); /* warnings turned into errors */
		return NULL;
	}
	return st;
}

static PyMethodDef module_methods[] = {
	{ "create", (PyCFunction)(void (*)(void))py_create, METH_VARARGS | METH_KEYWORDS, create_doc },
	{ "open", (PyCFunction)(void (*)(void))py_open, METH_VARARGS | METH_KEYWORDS, open_doc },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT, "rvf._rvf",
	"C extension over librvf (include/rvf.h); use the `rvf` package.", -1, module_methods,
	NULL, NULL, NULL, NULL,
};

/* New exception class rvf.NAME(bases...) added to the module. */
static PyObject *add_exc(PyObject *m, const char *name, const char *doc, PyObject *bases)
{
	char full[64];
	PyObject *c;

	snprintf(full, sizeof full, "rvf.%s", name);
	c = bases ? PyErr_NewExceptionWithDoc(full, doc, bases, NULL) : NULL;
	Py_XDECREF(bases);
	if (c && PyModule_AddObjectRef(m, name, c)) {
		Py_DECREF(c);
		return NULL;
	}
	return c;
}

static int add_exceptions(PyObject *m)
{
	exc_error = add_exc(m, "Error",
			    "Base of every rvf error: .code is the library's rvf_err (negative int),\n"
			    ".message its sentence (also str(e)).",
			    PyTuple_Pack(1, PyExc_Exception));
	if (!exc_error)
		return -1;
#define SUB(var, name, doc, base)                                                      \
	if (!(var = add_exc(m, name, doc, PyTuple_Pack(2, exc_error, base))))          \
		return -1;
	SUB(exc_argument, "ArgumentError", "Invalid argument (RVF_E_ARG).", PyExc_ValueError)
	SUB(exc_dimension, "DimensionError", "Vector length differs from the store's (RVF_E_DIMENSION).",
	    PyExc_ValueError)
	SUB(exc_exists, "ExistsError", "create(): the path exists (RVF_E_EXISTS).", PyExc_FileExistsError)
	SUB(exc_file_missing, "FileMissingError", "The file does not exist (RVF_E_NOENT).",
	    PyExc_FileNotFoundError)
	SUB(exc_not_found, "NotFoundError", "Requested item absent, e.g. an id that is not live (RVF_E_NOT_FOUND).",
	    PyExc_LookupError)
	SUB(exc_closed, "ClosedError", "Operation on a closed store.", PyExc_ValueError)
	SUB(exc_storage, "StorageError", "read/write/fsync/mmap failed (RVF_E_IO).", PyExc_OSError)
	SUB(exc_nomem, "OutOfMemoryError", "Out of memory (RVF_E_NOMEM).", PyExc_MemoryError)
#undef SUB
#define SUB1(var, name, doc)                                                           \
	if (!(var = add_exc(m, name, doc, PyTuple_Pack(1, exc_error))))                \
		return -1;
	SUB1(exc_readonly, "ReadOnlyError", "Write on a read-only store (RVF_E_READONLY).")
	SUB1(exc_locked, "LockedError", "Another writer holds the file (RVF_E_LOCKED).")
	SUB1(exc_corrupt, "CorruptError",
	     "Damaged file: bad structure, content hash or no manifest (RVF_E_CORRUPT, RVF_E_CHECKSUM, "
	     "RVF_E_NO_MANIFEST).")
#undef SUB1
	return 0;
}

static int add_constants(PyObject *m)
{
	static const struct { const char *name; long v; } k[] = {
		{ "E_IO", RVF_E_IO }, { "E_NOMEM", RVF_E_NOMEM }, { "E_ARG", RVF_E_ARG },
		{ "E_EXISTS", RVF_E_EXISTS }, { "E_NOENT", RVF_E_NOENT },
		{ "E_NO_MANIFEST", RVF_E_NO_MANIFEST }, { "E_CORRUPT", RVF_E_CORRUPT },
		{ "E_CHECKSUM", RVF_E_CHECKSUM }, { "E_DIMENSION", RVF_E_DIMENSION },
		{ "E_READONLY", RVF_E_READONLY }, { "E_LOCKED", RVF_E_LOCKED },
		{ "E_PARENT", RVF_E_PARENT }, { "E_UNSUPPORTED", RVF_E_UNSUPPORTED },
		{ "E_NOT_FOUND", RVF_E_NOT_FOUND }, { "E_TIMEOUT", RVF_E_TIMEOUT },
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		if (PyModule_AddIntConstant(m, k[i].name, k[i].v))
			return -1;
	return 0;
}

PyMODINIT_FUNC PyInit__rvf(void)
{
	PyObject *m;

	import_array();
	if (PyType_Ready(&rvfpy_store_type) < 0)
		return NULL;
	m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	if (add_exceptions(m) || add_constants(m) ||
	    PyModule_AddObjectRef(m, "Store", (PyObject *)&rvfpy_store_type)) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
