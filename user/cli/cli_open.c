/* cli_open.c — opening the store for a command: the open warning, and the
 * writer lock's --wait / --wait-timeout SECONDS. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* --wait-timeout in seconds; negative: wait without a limit. One command
 * runs per process, so this is set once while its options are parsed. */
static double wait_timeout_s = -1;

int cli_wait_timeout_option(const char *cmd, const char *arg, unsigned *flags)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if ((arg[0] < '0' || arg[0] > '9') || *end || errno || !isfinite(v) || v > 31536000)
		return cli_usage(cmd, "invalid value '%s' for '--wait-timeout <SECONDS>': expected "
				 "a number of seconds 0..31536000", arg);
	wait_timeout_s = v;
	*flags |= RVF_OPEN_WAIT;
	return CLI_OK;
}

static void nap_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Lock held elsewhere: polls (10 ms doubling to 200 ms) until it is free or
 * the timeout passes. flock has no timed form, and a blocking flock cannot
 * be abandoned without a signal. */
static int open_within(const char *path, unsigned flags, rvf_store **s)
{
	double end = cli_now_ms() + wait_timeout_s * 1e3, nap = 10, left;
	int rc;

	for (;;) {
		left = end - cli_now_ms();
		if (left <= 0)
			return RVF_E_LOCKED;
		nap_ms(nap < left ? nap : left);
		rc = rvf_open(path, flags & ~(unsigned)RVF_OPEN_WAIT, s);
		if (rc != RVF_E_LOCKED)
			return rc;
		nap = nap * 2 > 200 ? 200 : nap * 2;
	}
}

int cli_open_store(const char *path, unsigned flags, rvf_store **s)
{
	const char *w;
	int rc;

	*s = NULL;
	rc = rvf_open(path, flags & ~(unsigned)RVF_OPEN_WAIT, s);
	if (rc == RVF_E_LOCKED && (flags & RVF_OPEN_WAIT)) {
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "waiting for another writer to release %s ...\n", path);
		if (wait_timeout_s < 0)
			rc = rvf_open(path, flags, s);
		else if ((rc = open_within(path, flags, s)) == RVF_E_LOCKED) {
			*s = NULL;
			return cli_fail("%s: another process still holds the writer lock after "
					"--wait-timeout %g s", path, wait_timeout_s);
		}
	}
	if (rc) {
		*s = NULL; /* so callers can rvf_close unconditionally */
		return cli_store_fail(rc);
	}
	w = rvf_open_warning(*s);
	if (w && *w)
		fprintf(stderr, "warning: %s\n", w);
	return CLI_OK;
}
