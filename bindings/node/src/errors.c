/* errors.c — library failures and argument errors as the reference's JS errors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rvfn.h"

/* The reference's error code and name for each library error. Where the
 * reference picked a misleading code (create over an existing file reports
 * FsyncFailed, a missing file ManifestNotFound) the code is kept for
 * callers that match on it and our detail follows in parentheses. */
static void ref_code(int rc, unsigned *code, const char **name)
{
	switch (rc) {
	case RVF_E_IO: *code = 0x0303, *name = "FsyncFailed"; break;
	case RVF_E_EXISTS: *code = 0x0303, *name = "FsyncFailed"; break;
	case RVF_E_NOENT:
	case RVF_E_NO_MANIFEST: *code = 0x0106, *name = "ManifestNotFound"; break;
	case RVF_E_ARG:
	case RVF_E_CORRUPT: *code = 0x0105, *name = "InvalidManifest"; break;
	case RVF_E_CHECKSUM: *code = 0x0102, *name = "InvalidChecksum"; break;
	case RVF_E_DIMENSION: *code = 0x0200, *name = "DimensionMismatch"; break;
	case RVF_E_READONLY: *code = 0x0305, *name = "ReadOnly"; break;
	case RVF_E_LOCKED: *code = 0x0300, *name = "LockHeld"; break;
	case RVF_E_PARENT: *code = 0x0600, *name = "ParentNotFound"; break;
	case RVF_E_UNSUPPORTED: *code = 0x0101, *name = "InvalidVersion"; break;
	case RVF_E_TIMEOUT: *code = 0x0205, *name = "Timeout"; break;
	case RVF_E_NOT_FOUND: *code = 0x0107, *name = "UnknownSegmentType"; break;
	default: *code = 0, *name = NULL; break;
	}
}

void rvfn_err_set(rvfn_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
}

void rvfn_err_rvf(rvfn_err *e, int rc)
{
	unsigned code;
	const char *name, *detail = rvf_last_error();
	ref_code(rc, &code, &name);
	if (!name)
		rvfn_err_set(e, RVFN_GENERIC, "RVF error: %s%s%s%s", rvf_strerror(rc), *detail ? " (" : "",
			     detail, *detail ? ")" : "");
	else
		rvfn_err_set(e, RVFN_GENERIC, "RVF error 0x%04x: %s%s%s%s", code, name, *detail ? " (" : "",
			     detail, *detail ? ")" : "");
}

napi_value rvfn_create_error(napi_env env, const rvfn_err *e)
{
	napi_value code = NULL, msg, err = NULL;
	if (e->code && napi_create_string_utf8(env, e->code, NAPI_AUTO_LENGTH, &code) != napi_ok)
		return NULL;
	if (napi_create_string_utf8(env, e->msg, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
	    napi_create_error(env, code, msg, &err) != napi_ok)
		return NULL;
	return err;
}

napi_value rvfn_throw(napi_env env, const rvfn_err *e)
{
	bool pending = false;
	if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
		return NULL;
	napi_throw_error(env, e->code, e->msg);
	return NULL;
}

napi_value rvfn_throw_msg(napi_env env, const char *code, const char *msg)
{
	rvfn_err e;
	rvfn_err_set(&e, code, "%s", msg);
	return rvfn_throw(env, &e);
}

napi_value rvfn_throw_rvf(napi_env env, int rc)
{
	rvfn_err e;
	rvfn_err_rvf(&e, rc);
	return rvfn_throw(env, &e);
}
