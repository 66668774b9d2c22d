/* CUnit runner: prints CUnit's summary and exits with the failure count
 * (CUnit's own return code does not reflect test failures). */
#include "testreg.h"
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SUITES 64
static struct {
	const char *name;
	const rvf_test *tests;
} suites[MAX_SUITES];
static int nsuites;

void rvf_register_suite(const char *name, const rvf_test *tests)
{
	if (nsuites == MAX_SUITES) {
		fprintf(stderr, "too many test suites\n");
		abort();
	}
	suites[nsuites].name = name;
	suites[nsuites].tests = tests;
	nsuites++;
}

const char *rvf_test_shared_dir(void)
{
	const char *e = getenv("RVF_SHARED");
	return e && *e ? e : "../shared";
}

static char tmpdir[PATH_MAX];
const char *rvf_test_tmpdir(void) { return tmpdir; }

static void rm_tmpdir(void)
{
	char cmd[PATH_MAX + 16];
	if (tmpdir[0] && !getenv("RVF_KEEP_TMP")) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not remove %s\n", tmpdir);
	}
}

int main(int argc, char **argv)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/rvf-tests-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (int i = 0; i < nsuites; i++) {
		/* Optional filter: run only suites whose name contains argv[1]. */
		if (argc > 1 && !strstr(suites[i].name, argv[1]))
			continue;
		CU_pSuite s = CU_add_suite(suites[i].name, NULL, NULL);
		if (!s)
			return 1;
		for (const rvf_test *t = suites[i].tests; t->name; t++)
			if (!CU_add_test(s, t->name, t->fn))
				return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_tests_failed();
	unsigned nrun = CU_get_number_of_tests_run();
	printf("\n%u passed, %u failed\n", nrun - failed, failed);
	CU_cleanup_registry();
	return failed > 255 ? 255 : (int)failed;
}
