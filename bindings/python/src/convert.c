/* convert.c — Python/numpy objects <-> the C arguments of rvf.h. */
#include "rvfpy.h"

#include <string.h>

/* 'f' float, 'i' signed, 'u' unsigned: the dtypes a vector may come in. */
static int numeric_kind(char kind)
{
	return kind == 'f' || kind == 'i' || kind == 'u';
}

static PyArrayObject *as_float32(PyArrayObject *a)
{
	/* Returns `a` itself (no copy) when it is already float32 (native byte
	 * order), C-contiguous and aligned. */
	PyArrayObject *r = (PyArrayObject *)PyArray_FromArray(
		a, PyArray_DescrFromType(NPY_FLOAT32),
		NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
	Py_DECREF(a);
	return r;
}

static PyArrayObject *numeric_array(PyObject *obj, const char *what)
{
	PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj);

	if (!a)
		return NULL;
	if (!numeric_kind(PyArray_DESCR(a)->kind)) {
		PyErr_Format(PyExc_TypeError, "%s must be a numeric array (float32 preferred), got dtype %S",
			     what, (PyObject *)PyArray_DESCR(a));
		Py_DECREF(a);
		return NULL;
	}
	return a;
}

PyArrayObject *rvfpy_matrix(PyObject *obj, uint32_t dim, int allow_1d, const char *what)
{
	PyArrayObject *a = numeric_array(obj, what);

	if (!a)
		return NULL;
	if (PyArray_NDIM(a) == 1 && allow_1d) {
		npy_intp d[2] = { 1, PyArray_DIM(a, 0) };
		PyArray_Dims nd = { d, 2 };
		PyArrayObject *r = (PyArrayObject *)PyArray_Newshape(a, &nd, NPY_CORDER);

		Py_DECREF(a);
		if (!r)
			return NULL;
		a = r;
	}
	if (PyArray_NDIM(a) != 2) {
		rvfpy_raise_msg(RVF_E_ARG, "%s must be a 2-D array (n, %u), got %d dimension(s)", what, dim,
				PyArray_NDIM(a));
		Py_DECREF(a);
		return NULL;
	}
	if (PyArray_DIM(a, 1) != (npy_intp)dim) {
		rvfpy_raise_msg(RVF_E_DIMENSION, "%s have %zd components, the store's vectors have %u", what,
				(Py_ssize_t)PyArray_DIM(a, 1), dim);
		Py_DECREF(a);
		return NULL;
	}
	return as_float32(a);
}

PyArrayObject *rvfpy_vector(PyObject *obj, uint32_t dim, const char *what)
{
	PyArrayObject *a = numeric_array(obj, what);

	if (!a)
		return NULL;
	if (PyArray_NDIM(a) != 1) {
		rvfpy_raise_msg(RVF_E_ARG, "%s must be a 1-D array of %u components, got %d dimension(s)%s",
				what, dim, PyArray_NDIM(a),
				PyArray_NDIM(a) == 2 ? " (query_batch takes 2-D arrays)" : "");
		Py_DECREF(a);
		return NULL;
	}
	if (PyArray_DIM(a, 0) != (npy_intp)dim) {
		rvfpy_raise_msg(RVF_E_DIMENSION, "%s has %zd components, the store's vectors have %u", what,
				(Py_ssize_t)PyArray_DIM(a, 0), dim);
		Py_DECREF(a);
		return NULL;
	}
	return as_float32(a);
}

/* Object arrays (Python ints beyond int64/uint64 mixes): element by element. */
static PyArrayObject *ids_from_objects(PyArrayObject *a)
{
	npy_intp n = PyArray_SIZE(a);
	PyArrayObject *r = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_UINT64);
	PyObject *flat = r ? PyArray_Ravel(a, NPY_CORDER) : NULL;

	for (npy_intp i = 0; flat && i < n; i++) {
		PyObject *o = PySequence_GetItem(flat, i);
		unsigned long long v = (unsigned long long)-1;

		if (o && PyLong_Check(o) && !PyBool_Check(o)) {
			v = PyLong_AsUnsignedLongLong(o);
			if (v == (unsigned long long)-1 && PyErr_Occurred()) {
				PyErr_Clear();
				rvfpy_raise_msg(RVF_E_ARG, "ids[%zd] = %S is not in 0..2**64-1", (Py_ssize_t)i, o);
			}
		} else if (o) {
			PyErr_Format(PyExc_TypeError, "ids must be integers, ids[%zd] is %.100s", (Py_ssize_t)i,
				     Py_TYPE(o)->tp_name);
		}
		Py_XDECREF(o);
		if (PyErr_Occurred()) {
			Py_CLEAR(flat);
			break;
		}
		((uint64_t *)PyArray_DATA(r))[i] = v;
	}
	if (!flat)
		Py_CLEAR(r);
	Py_XDECREF(flat);
	return r;
}

PyArrayObject *rvfpy_ids(PyObject *obj)
{
	PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj), *r;
	char kind;

	if (!a)
		return NULL;
	if (PyArray_NDIM(a) > 1) {
		rvfpy_raise_msg(RVF_E_ARG, "ids must be a 1-D sequence, got %d dimensions", PyArray_NDIM(a));
		Py_DECREF(a);
		return NULL;
	}
	kind = PyArray_DESCR(a)->kind;
	if (PyArray_SIZE(a) == 0) { /* np.asarray([]) is float64 */
		npy_intp z = 0;
		Py_DECREF(a);
		return (PyArrayObject *)PyArray_SimpleNew(1, &z, NPY_UINT64);
	}
	if (kind == 'O') {
		r = ids_from_objects(a);
		Py_DECREF(a);
		return r;
	}
	if (kind != 'i' && kind != 'u') {
		PyErr_Format(PyExc_TypeError, "ids must be integers (uint64 preferred), got dtype %S",
			     (PyObject *)PyArray_DESCR(a));
		Py_DECREF(a);
		return NULL;
	}
	if (kind == 'i') {
		PyArrayObject *s = (PyArrayObject *)PyArray_FromArray(
			a, PyArray_DescrFromType(NPY_INT64),
			NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
		Py_DECREF(a);
		if (!s)
			return NULL;
		const int64_t *v = PyArray_DATA(s);
		for (npy_intp i = 0; i < PyArray_SIZE(s); i++)
			if (v[i] < 0) {
				rvfpy_raise_msg(RVF_E_ARG, "ids[%zd] = %lld is negative: ids are 0..2**64-1",
						(Py_ssize_t)i, (long long)v[i]);
				Py_DECREF(s);
				return NULL;
			}
		a = s;
	}
	r = (PyArrayObject *)PyArray_FromArray(a, PyArray_DescrFromType(NPY_UINT64),
					       NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
	Py_DECREF(a);
	if (r && PyArray_NDIM(r) == 0) {
		npy_intp one = 1;
		PyArray_Dims nd = { &one, 1 };
		PyArrayObject *r1 = (PyArrayObject *)PyArray_Newshape(r, &nd, NPY_CORDER);
		Py_DECREF(r);
		r = r1;
	}
	return r;
}

/* ---- metadata ------------------------------------------------------------- */

static const char *const type_names[] = { "u64", "i64", "f64", "string", "bool" };

static int string_value(PyObject *v, rvf_field *f, PyObject *keep, Py_ssize_t row)
{
	Py_ssize_t len;
	const char *p;

	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "metadata[%zd]: a string field needs a str", row);
		return -1;
	}
	p = PyUnicode_AsUTF8AndSize(v, &len);
	if (!p)
		return -1;
	if ((uint64_t)len > UINT32_MAX) {
		rvfpy_raise_msg(RVF_E_ARG, "metadata[%zd]: string of %zd bytes (at most 2**32-1)", row, len);
		return -1;
	}
	if (PyList_Append(keep, v)) /* the UTF-8 bytes live as long as the str */
		return -1;
	f->type = RVF_FIELD_STRING;
	f->v.str.ptr = p;
	f->v.str.len = (uint32_t)len;
	return 0;
}

static int field_value(PyObject *v, rvf_field *f, PyObject *keep, Py_ssize_t row)
{
	if (PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2 && PyUnicode_Check(PyTuple_GET_ITEM(v, 0))) {
		/* typed form: ("u64" | "i64" | "f64" | "string" | "bool", value) */
		const char *t = PyUnicode_AsUTF8(PyTuple_GET_ITEM(v, 0));
		PyObject *x = PyTuple_GET_ITEM(v, 1);
		int type = -1;

		if (!t)
			return -1;
		for (int i = 0; i < 5; i++)
			if (!strcmp(t, type_names[i]))
				type = i;
		if (type < 0) {
			rvfpy_raise_msg(RVF_E_ARG, "metadata[%zd]: unknown type '%s' (u64, i64, f64, string, bool)",
					row, t);
			return -1;
		}
		f->type = (uint8_t)type;
		switch (type) {
		case RVF_FIELD_U64:
			f->v.u64 = PyLong_AsUnsignedLongLong(x);
			break;
		case RVF_FIELD_I64:
			f->v.i64 = PyLong_AsLongLong(x);
			break;
		case RVF_FIELD_F64:
			f->v.f64 = PyFloat_AsDouble(x);
			break;
		case RVF_FIELD_BOOL:
			if (!PyBool_Check(x)) {
				PyErr_Format(PyExc_TypeError, "metadata[%zd]: a bool field needs True or False", row);
				return -1;
			}
			f->v.b = x == Py_True;
			break;
		default:
			return string_value(x, f, keep, row);
		}
		return PyErr_Occurred() ? -1 : 0;
	}
	if (PyBool_Check(v)) {
		f->type = RVF_FIELD_BOOL;
		f->v.b = v == Py_True;
	} else if (PyLong_Check(v)) {
		int overflow = 0;
		long long x = PyLong_AsLongLongAndOverflow(v, &overflow);

		if (overflow > 0) {
			f->type = RVF_FIELD_U64;
			f->v.u64 = PyLong_AsUnsignedLongLong(v);
		} else if (overflow < 0) {
			rvfpy_raise_msg(RVF_E_ARG, "metadata[%zd]: integer %S below -2**63", row, v);
			return -1;
		} else if (x < 0) {
			f->type = RVF_FIELD_I64;
			f->v.i64 = x;
		} else {
			f->type = RVF_FIELD_U64;
			f->v.u64 = (uint64_t)x;
		}
		return PyErr_Occurred() ? -1 : 0;
	} else if (PyFloat_Check(v)) {
		f->type = RVF_FIELD_F64;
		f->v.f64 = PyFloat_AS_DOUBLE(v);
	} else if (PyUnicode_Check(v)) {
		return string_value(v, f, keep, row);
	} else {
		PyErr_Format(PyExc_TypeError,
			     "metadata[%zd]: values are int, float, str, bool or (type, value), got %.100s", row,
			     Py_TYPE(v)->tp_name);
		return -1;
	}
	return 0;
}

void rvfpy_meta_free(rvfpy_meta *m)
{
	PyMem_Free(m->fields);
	PyMem_Free(m->rows);
	PyMem_Free(m->counts);
	Py_CLEAR(m->keep);
	memset(m, 0, sizeof *m);
}

int rvfpy_meta_build(PyObject *obj, size_t n, rvfpy_meta *m)
{
	PyObject *seq = PySequence_Fast(obj, "metadata must be a sequence of dicts (one per vector)");
	size_t total = 0, at = 0;

	memset(m, 0, sizeof *m);
	if (!seq)
		return -1;
	if ((size_t)PySequence_Fast_GET_SIZE(seq) != n) {
		rvfpy_raise_msg(RVF_E_ARG, "metadata has %zd entries for %zu vectors",
				PySequence_Fast_GET_SIZE(seq), n);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		PyObject *d = PySequence_Fast_GET_ITEM(seq, i);
		if (d == Py_None)
			continue;
		if (!PyDict_Check(d)) {
			PyErr_Format(PyExc_TypeError, "metadata[%zu] must be a dict {field_id: value} or None, got %.100s",
				     i, Py_TYPE(d)->tp_name);
			goto fail;
		}
		total += (size_t)PyDict_GET_SIZE(d);
	}
	m->fields = PyMem_Calloc(total ? total : 1, sizeof *m->fields);
	m->rows = PyMem_Calloc(n ? n : 1, sizeof *m->rows);
	m->counts = PyMem_Calloc(n ? n : 1, sizeof *m->counts);
	m->keep = PyList_New(0);
	if (!m->fields || !m->rows || !m->counts || !m->keep) {
		if (!PyErr_Occurred())
			PyErr_NoMemory();
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		PyObject *d = PySequence_Fast_GET_ITEM(seq, i), *key, *val;
		Py_ssize_t pos = 0;

		m->rows[i] = m->fields + at;
		if (d == Py_None)
			continue;
		while (PyDict_Next(d, &pos, &key, &val)) {
			long id = -1;
			if (at == total) { /* the dict grew under us (another thread) */
				rvfpy_raise_msg(RVF_E_ARG, "metadata[%zu] changed during the call", i);
				goto fail;
			}
			if (PyLong_Check(key) && !PyBool_Check(key))
				id = PyLong_AsLong(key);
			if (id < 0 || id > 65535) {
				PyErr_Clear();
				rvfpy_raise_msg(RVF_E_ARG, "metadata[%zu]: field id %R is not an int 0..65535", i, key);
				goto fail;
			}
			m->fields[at].id = (uint16_t)id;
			if (field_value(val, &m->fields[at], m->keep, (Py_ssize_t)i))
				goto fail;
			at++;
			m->counts[i]++;
		}
	}
	Py_DECREF(seq);
	return 0;
fail:
	Py_DECREF(seq);
	rvfpy_meta_free(m);
	return -1;
}

PyObject *rvfpy_meta_dict(const rvf_field *f, size_t n, int typed)
{
	PyObject *d = PyDict_New();

	for (size_t i = 0; d && i < n; i++) {
		PyObject *k = PyLong_FromLong(f[i].id), *v = NULL;

		switch (f[i].type) {
		case RVF_FIELD_U64: v = PyLong_FromUnsignedLongLong(f[i].v.u64); break;
		case RVF_FIELD_I64: v = PyLong_FromLongLong(f[i].v.i64); break;
		case RVF_FIELD_F64: v = PyFloat_FromDouble(f[i].v.f64); break;
		case RVF_FIELD_STRING:
			v = PyUnicode_DecodeUTF8(f[i].v.str.ptr, f[i].v.str.len, "strict");
			break;
		case RVF_FIELD_BOOL: v = PyBool_FromLong(f[i].v.b); break;
		default: PyErr_Format(PyExc_RuntimeError, "unknown field type %d", f[i].type);
		}
		if (v && typed && f[i].type <= RVF_FIELD_BOOL) {
			PyObject *t = Py_BuildValue("(sN)", type_names[f[i].type], v);
			v = t;
		}
		if (!k || !v || PyDict_SetItem(d, k, v))
			Py_CLEAR(d);
		Py_XDECREF(k);
		Py_XDECREF(v);
	}
	return d;
}

/* ---- filters and options ---------------------------------------------------- */

int rvfpy_filter(PyObject *obj, rvf_filter **out)
{
	PyObject *txt = NULL;
	const char *json;
	int err;

	*out = NULL;
	if (obj == Py_None)
		return 0;
	if (PyUnicode_Check(obj)) {
		txt = Py_NewRef(obj);
	} else if (PyDict_Check(obj) || PyList_Check(obj)) {
		PyObject *mod = PyImport_ImportModule("json");
		txt = mod ? PyObject_CallMethod(mod, "dumps", "O", obj) : NULL;
		Py_XDECREF(mod);
		if (!txt)
			return -1;
	} else {
		PyErr_Format(PyExc_TypeError, "filter must be a JSON str or a dict, got %.100s", Py_TYPE(obj)->tp_name);
		return -1;
	}
	json = PyUnicode_AsUTF8(txt);
	if (!json) {
		Py_DECREF(txt);
		return -1;
	}
	err = rvf_filter_parse(json, out);
	Py_DECREF(txt);
	if (err) {
		rvfpy_raise(err, "invalid filter: ");
		return -1;
	}
	return 0;
}

int rvfpy_opt_u32(PyObject *obj, const char *name, uint32_t min, uint32_t dflt, uint32_t *out)
{
	unsigned long long v;

	if (!obj || obj == Py_None) {
		*out = dflt;
		return 0;
	}
	if (!PyLong_Check(obj) || PyBool_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, got %.100s", name, Py_TYPE(obj)->tp_name);
		return -1;
	}
	v = PyLong_AsUnsignedLongLong(obj);
	if ((v == (unsigned long long)-1 && PyErr_Occurred()) || v < min || v > UINT32_MAX) {
		PyErr_Clear();
		rvfpy_raise_msg(RVF_E_ARG, "%s must be %u..4294967295, got %S", name, min, obj);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}
