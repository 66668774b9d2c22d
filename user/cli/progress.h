/* progress.h — a one-line progress bar on stderr for long CLI operations.
 * It draws only when stderr is a terminal (and RVF_NO_PROGRESS is unset), at
 * most ~10 times a second, and erases itself when done, so redirected output
 * and scripts never see it. */
#ifndef RVF_CLI_PROGRESS_H
#define RVF_CLI_PROGRESS_H

#include <stdint.h>

struct progress {
	int on;
	const char *label;
	uint64_t total; /* units for the percentage (bytes or rows); 0 = unknown */
	double t0, last;
	int drawn;
};

/* `enable` 0 forces it off (e.g. --no-progress). */
void progress_start(struct progress *p, const char *label, uint64_t total, int enable);
/* rows done so far, `done` units of `total` (bytes read, rows written...). */
void progress_update(struct progress *p, uint64_t rows, uint64_t done);
/* Erases the line. Safe to call when off or twice. */
void progress_end(struct progress *p);

#endif
