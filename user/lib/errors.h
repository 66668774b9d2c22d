/* errors.h — internal error reporting: set the thread's detailed message and
 * return the code, so call sites read `return rvf_fail(RVF_E_IO, "...")`. */
#ifndef RVF_ERRORS_H
#define RVF_ERRORS_H
#include "rvf.h"

__attribute__((format(printf, 2, 3))) int rvf_fail(int err, const char *fmt, ...);
void rvf_clear_error(void);
#endif
