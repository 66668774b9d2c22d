/* errors.c — error names and the per-thread detailed message. */
#include "errors.h"
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_msg[512];

const char *rvf_strerror(int err)
{
	switch (err) {
	case RVF_OK: return "success";
	case RVF_E_IO: return "I/O error";
	case RVF_E_NOMEM: return "out of memory";
	case RVF_E_ARG: return "invalid argument";
	case RVF_E_EXISTS: return "file already exists";
	case RVF_E_NOENT: return "no such file";
	case RVF_E_NO_MANIFEST: return "no manifest found (not an RVF file or truncated)";
	case RVF_E_CORRUPT: return "file is corrupt";
	case RVF_E_CHECKSUM: return "content hash mismatch";
	case RVF_E_DIMENSION: return "dimension mismatch";
	case RVF_E_READONLY: return "store is read-only";
	case RVF_E_LOCKED: return "store is locked by another writer";
	case RVF_E_PARENT: return "parent file missing or changed";
	case RVF_E_UNSUPPORTED: return "unsupported feature";
	case RVF_E_NOT_FOUND: return "not found";
	case RVF_E_TIMEOUT: return "timed out";
	default: return "unknown error";
	}
}

const char *rvf_last_error(void) { return last_msg; }
void rvf_clear_error(void) { last_msg[0] = 0; }

int rvf_fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof last_msg, fmt, ap);
	va_end(ap);
	return err;
}
