/* progress.c — see progress.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

#define BAR 28

void progress_start(struct progress *p, const char *label, uint64_t total, int enable)
{
	const char *env = getenv("RVF_NO_PROGRESS");

	memset(p, 0, sizeof *p);
	p->on = enable && isatty(STDERR_FILENO) && !(env && *env && strcmp(env, "0"));
	p->label = label;
	p->total = total;
	p->t0 = cli_now_ms();
	p->last = p->t0;
}

void progress_update(struct progress *p, uint64_t rows, uint64_t done)
{
	double now, secs, rate;
	char bar[BAR + 1];
	int i, fill;

	if (!p->on)
		return;
	now = cli_now_ms();
	if (p->drawn && now - p->last < 100)
		return;
	p->last = now;
	secs = (now - p->t0) / 1e3;
	rate = secs > 0 ? (double)rows / secs : 0;
	if (p->total) {
		double f = done >= p->total ? 1.0 : (double)done / (double)p->total;

		fill = (int)(f * BAR);
		for (i = 0; i < BAR; i++)
			bar[i] = i < fill ? '#' : '-';
		bar[BAR] = 0;
		fprintf(stderr, "\r\033[K%s [%s] %5.1f%%  %llu rows  %.0f rows/s", p->label, bar,
			f * 100, (unsigned long long)rows, rate);
	} else {
		fprintf(stderr, "\r\033[K%s %llu rows  %.0f rows/s", p->label,
			(unsigned long long)rows, rate);
	}
	fflush(stderr);
	p->drawn = 1;
}

void progress_end(struct progress *p)
{
	if (p->on && p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = 0;
	p->on = 0;
}
