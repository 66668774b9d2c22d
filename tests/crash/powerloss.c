/* powerloss.c — what a power cut can leave of the last commit.
 *
 * Usage: powerloss DIR
 *
 * Builds a small store with acknowledged commits, then for every byte
 * position p of the last commit writes three variants of the file: cut at
 * p (truncation), zeros from p to the end (a zero-filled tail, what many
 * file systems show after a crash), and pseudo-random bytes from p to the
 * end (garbage). Each variant must open read-only with exactly the state of
 * the previous commit or of the last one — every acknowledged batch, never
 * a partial batch, never empty, never an error — with a warning whenever
 * the newest commit was lost. For every 8th position a writer must also be
 * able to open the variant and commit on top of it, and the result must
 * hold the state it opened plus the new batch.
 *
 * Two scenarios: the last commit ingests vectors with metadata (VEC, META,
 * WITNESS, MANIFEST); the last commit deletes (WITNESS, MANIFEST).
 * Exit 0 and a summary line, or 1 with the first failures.
 */
#include "rvf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM 8

typedef struct {
	uint64_t n, mix, meta;
	uint32_t epoch;
} state;

static int failures;

#define FAIL(...)                                                     \
	do {                                                          \
		if (failures++ < 20) {                                \
			fprintf(stderr, "powerloss: " __VA_ARGS__);   \
			fputc('\n', stderr);                          \
		}                                                     \
	} while (0)

static state state_of(const rvf_store *s)
{
	state st = {0, 0, 0, 0};
	rvf_status status;
	memset(&status, 0, sizeof status);
	rvf_get_status(s, &status);
	st.epoch = status.epoch;
	st.n = rvf_live_count(s);
	for (uint64_t i = 0; i < st.n; i++) {
		uint64_t id;
		const float *v;
		if (rvf_live_get(s, i, &id, &v))
			continue;
		uint64_t h = id * 0x9E3779B97F4A7C15ull;
		for (int d = 0; d < DIM; d++) {
			uint32_t b;
			memcpy(&b, &v[d], 4);
			h = (h ^ b) * 0x100000001B3ull;
		}
		const rvf_field *f;
		size_t nf;
		if (rvf_get_meta(s, id, &f, &nf) == RVF_OK && nf == 1 && f[0].type == RVF_FIELD_U64) {
			h ^= f[0].v.u64 * 0xC2B2AE3D27D4EB4Full;
			st.meta++;
		}
		st.mix += h;
	}
	return st;
}

static int same(state a, state b) { return a.n == b.n && a.mix == b.mix && a.meta == b.meta && a.epoch == b.epoch; }

static int ingest(rvf_store *s, uint64_t first, size_t n, int with_meta)
{
	float v[64 * DIM];
	uint64_t ids[64];
	rvf_field fl[64];
	const rvf_field *fp[64];
	size_t nf[64];
	for (size_t i = 0; i < n; i++) {
		ids[i] = first + i;
		for (int d = 0; d < DIM; d++)
			v[i * DIM + d] = (float)(first + i) * 0.5f - (float)d;
		memset(&fl[i], 0, sizeof fl[i]);
		fl[i].id = 0;
		fl[i].type = RVF_FIELD_U64;
		fl[i].v.u64 = 7 * (first + i);
		fp[i] = &fl[i];
		nf[i] = 1;
	}
	return rvf_ingest_meta(s, ids, v, n, with_meta ? fp : NULL, with_meta ? nf : NULL, NULL);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static int put(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(b, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

enum { CUT, ZEROS, GARBAGE };
static const char *const mode_name[] = {"truncated", "zero-filled", "garbage-filled"};

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint8_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

/* One scenario: base has the acknowledged commits; prev/last are the states
 * after the commit before the last and after the last. */
static void run(const char *dir, const char *name, const uint8_t *full, size_t len, size_t prev_end,
		state prev, state last, uint64_t *variants, uint64_t *opened_prev, uint64_t *opened_last)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.variant.rvf", dir, name);
	uint8_t *b = malloc(len);
	for (size_t p = prev_end; p < len; p++) {
		for (int mode = CUT; mode <= GARBAGE; mode++) {
			size_t n = mode == CUT ? p : len;
			memcpy(b, full, p);
			for (size_t i = p; i < n; i++)
				b[i] = mode == ZEROS ? 0 : rnd();
			if (put(path, b, n)) {
				FAIL("%s: cannot write %s", name, path);
				goto out;
			}
			(*variants)++;
			rvf_store *s = NULL;
			int rc = rvf_open(path, RVF_OPEN_READONLY, &s);
			if (rc) {
				FAIL("%s: %s at %zu: open failed: %s", name, mode_name[mode], p, rvf_last_error());
				continue;
			}
			state st = state_of(s);
			int is_prev = same(st, prev), is_last = same(st, last);
			int identical = n == len ? !memcmp(b, full, len) : n == prev_end;
			if (!is_prev && !is_last)
				FAIL("%s: %s at %zu: state epoch %u, %" PRIu64 " vectors (%" PRIu64
				     " with metadata) is neither the previous commit (epoch %u, %" PRIu64
				     ") nor the last (epoch %u, %" PRIu64 ")",
				     name, mode_name[mode], p, st.epoch, st.n, st.meta, prev.epoch, prev.n,
				     last.epoch, last.n);
			else if (is_prev && !identical && !rvf_open_warning(s)[0])
				FAIL("%s: %s at %zu: the last commit was lost without a warning", name,
				     mode_name[mode], p);
			if (st.n == 0)
				FAIL("%s: %s at %zu: opened empty", name, mode_name[mode], p);
			*opened_prev += is_prev;
			*opened_last += is_last;
			rvf_close(s);
			if (p % 8 || (!is_prev && !is_last))
				continue;
			/* a writer continues on top of what it finds */
			s = NULL;
			if ((rc = rvf_open(path, 0, &s)) || (rc = ingest(s, 1000, 1, 1))) {
				FAIL("%s: %s at %zu: writer failed: %s", name, mode_name[mode], p, rvf_last_error());
				rvf_close(s);
				continue;
			}
			rvf_close(s);
			s = NULL;
			if ((rc = rvf_open(path, RVF_OPEN_READONLY, &s))) {
				FAIL("%s: %s at %zu: reopen after the writer failed: %s", name, mode_name[mode], p,
				     rvf_last_error());
				continue;
			}
			state after = state_of(s);
			state base = is_last ? last : prev;
			if (after.n != base.n + 1 || after.epoch != base.epoch + 1 || after.meta != base.meta + 1)
				FAIL("%s: %s at %zu: after a commit on top: epoch %u, %" PRIu64
				     " vectors; want epoch %u, %" PRIu64,
				     name, mode_name[mode], p, after.epoch, after.n, base.epoch + 1, base.n + 1);
			rvf_close(s);
		}
	}
out:
	unlink(path);
	free(b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: powerloss DIR\n");
		return 2;
	}
	uint64_t variants = 0, opened_prev = 0, opened_last = 0;
	for (int scenario = 0; scenario < 2; scenario++) {
		const char *name = scenario ? "delete" : "ingest";
		char path[4096];
		snprintf(path, sizeof path, "%s/powerloss_%s.rvf", argv[1], name);
		unlink(path);
		rvf_store *s = NULL;
		rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
		uint64_t del[] = {3, 4, 17};
		struct stat st;
		state prev, last;
		if (rvf_create(path, &o, &s) || ingest(s, 1, 20, 1) || ingest(s, 21, 10, 1) ||
		    rvf_delete(s, del, 2, NULL)) {
			fprintf(stderr, "powerloss: building the store: %s\n", rvf_last_error());
			return 1;
		}
		prev = state_of(s);
		if (stat(path, &st)) {
			perror(path);
			return 1;
		}
		size_t prev_end = (size_t)st.st_size;
		int rc = scenario ? rvf_delete(s, del + 2, 1, NULL) : ingest(s, 31, 12, 1);
		if (rc) {
			fprintf(stderr, "powerloss: last commit: %s\n", rvf_last_error());
			return 1;
		}
		last = state_of(s);
		rvf_close(s);
		size_t len;
		uint8_t *full = slurp(path, &len);
		if (!full || len <= prev_end) {
			fprintf(stderr, "powerloss: cannot read %s\n", path);
			return 1;
		}
		run(argv[1], name, full, len, prev_end, prev, last, &variants, &opened_prev, &opened_last);
		printf("powerloss: %s: last commit is %zu bytes (%zu..%zu)\n", name, len - prev_end, prev_end,
		       len);
		free(full);
		unlink(path);
	}
	printf("powerloss: %" PRIu64 " variants: %" PRIu64 " opened the previous commit, %" PRIu64
	       " the last one, %d failures\n",
	       variants, opened_prev, opened_last, failures);
	return failures ? 1 : 0;
}
