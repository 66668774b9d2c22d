/* testreg.h — each test file registers its CUnit suite from a constructor so
 * that adding a file to tests/unit/ needs no edit anywhere else. */
#ifndef RVF_TESTREG_H
#define RVF_TESTREG_H
#include <CUnit/CUnit.h>

typedef struct {
	const char *name;
	CU_TestFunc fn;
} rvf_test;

void rvf_register_suite(const char *name, const rvf_test *tests);

#define RVF_SUITE(name, ...)                                                   \
	static const rvf_test name##_tests[] = {__VA_ARGS__, {0, 0}};          \
	__attribute__((constructor)) static void name##_register(void)        \
	{                                                                      \
		rvf_register_suite(#name, name##_tests);                       \
	}

/* Paths used by tests: the shared corpus beside the checkout, a scratch dir. */
const char *rvf_test_shared_dir(void); /* "../shared" or $RVF_SHARED */
const char *rvf_test_tmpdir(void);     /* fresh per run, removed at exit */
#endif
