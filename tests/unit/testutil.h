/* testutil.h — helpers shared by the unit tests: CHECK/CHECK_OK assertions
 * that print what differed, scratch paths, and whole-file reads. */
#ifndef RVF_TESTUTIL_H
#define RVF_TESTUTIL_H
#include "rvf.h"
#include "testreg.h"

#include <stddef.h>
#include <stdint.h>

/* Records a CUnit assertion; on failure also prints fmt to stderr. */
int tu_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define CHECK(cond, ...) tu_check(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)
/* rvf call that must succeed; prints the code and rvf_last_error() if not. */
#define CHECK_OK(call)                                                                        \
	({                                                                                    \
		int rc_ = (call);                                                             \
		tu_check(rc_ == RVF_OK, #call, __FILE__, __LINE__, "%s -> %d (%s): %s", #call, \
			 rc_, rvf_strerror(rc_), rvf_last_error());                           \
	})

/* A fresh path "<tmpdir>/<prefix>_<seq>_<name>" (free() it). */
char *tu_tpath(const char *prefix, const char *name);
/* Size of the file at path, or -1 if it cannot be stat'ed. */
long long tu_fsize(const char *path);
/* The whole file (free() it), or NULL if it cannot be read; *len is set on
 * success only. */
uint8_t *tu_slurp(const char *path, size_t *len);
/* Order-independent fingerprint of every live (id, vector) of s: two
 * states compare equal iff they hold the same vectors (up to hash luck). */
uint64_t tu_live_mix(const rvf_store *s);
/* tu_slurp of <rvf_test_shared_dir()>/<rel>. */
uint8_t *tu_slurp_shared(const char *rel, size_t *len);
#endif
