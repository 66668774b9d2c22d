/* test_corrupt.c — suite "corrupt": damaged copies of a small store we wrote.
 *
 * The store (dim 8, L2): create, ingest ids 1..10, ingest ids 11..20,
 * delete {3, 15} — four commits (epochs 0..3). Then, on copies:
 *  (a) every truncation length 0..size: a read-only open either fails with a
 *      non-empty rvf_last_error() or opens exactly the newest commit that is
 *      wholly inside the prefix (epoch, live ids, query results), with an
 *      rvf_open_warning() whenever bytes of a newer commit follow it;
 *  (b) every byte flipped (xor 0xFF, then xor 0x01): the open fails with a
 *      code and a message, or succeeds with exactly the original state and
 *      query results, or succeeds with a non-empty rvf_open_warning(). An
 *      open that succeeds silently with a different state is a failure; the
 *      offsets (segment type, field) are listed on stderr;
 *  (c) no open (failed or not) changes the file's bytes.
 * Runtime is about a second (a 2-3 KB file, ~5000 opens). */
#include "bruteforce.h"
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define DIM 8
#define NVEC 20
#define NQ 3
#define NCOMMIT 4

/* Observable state of an open store: what a silent change would alter. */
typedef struct {
	uint32_t epoch, dim;
	rvf_metric metric;
	uint64_t live;
	uint64_t ids[NVEC];       /* sorted live ids */
	rvf_hit hits[NQ][NVEC];   /* full ranking of each query */
	size_t nhits[NQ];
} snapshot;

static float queries[NQ][DIM];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* 0 ok; -1 the store is outside what a snapshot can hold or a call failed. */
static int snap(const rvf_store *s, snapshot *o)
{
	memset(o, 0, sizeof *o);
	rvf_status st;
	if (rvf_get_status(s, &st))
		return -1;
	o->epoch = st.epoch;
	o->dim = rvf_dimension(s);
	o->metric = rvf_get_metric(s);
	o->live = rvf_live_count(s);
	if (o->live > NVEC)
		return -1;
	for (uint64_t i = 0; i < o->live; i++) {
		const float *v;
		if (rvf_live_get(s, i, &o->ids[i], &v))
			return -1;
	}
	qsort(o->ids, o->live, sizeof o->ids[0], cmp_u64);
	if (o->dim != DIM)
		return 0;
	for (int q = 0; q < NQ; q++)
		if (rvf_query(s, queries[q], DIM, NVEC, o->hits[q], &o->nhits[q]))
			return -1;
	return 0;
}

static int snap_eq(const snapshot *a, const snapshot *b)
{
	if (a->epoch != b->epoch || a->dim != b->dim || a->metric != b->metric || a->live != b->live ||
	    memcmp(a->ids, b->ids, a->live * sizeof a->ids[0]))
		return 0;
	for (int q = 0; q < NQ; q++) {
		if (a->nhits[q] != b->nhits[q])
			return 0;
		for (size_t i = 0; i < a->nhits[q]; i++)
			if (a->hits[q][i].id != b->hits[q][i].id ||
			    !bf_same_bits(a->hits[q][i].distance, b->hits[q][i].distance))
				return 0;
	}
	return 1;
}

/* ---- the store and its commits ------------------------------------------ */

static uint8_t *orig;           /* bytes of the final file */
static size_t orig_len;
static uint64_t commit_size[NCOMMIT]; /* file size after each commit */
static snapshot commit_snap[NCOMMIT];
static int built;

static int spit(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(b, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Snapshot of the file at `path` through a fresh read-only open. */
static int snap_path(const char *path, snapshot *o)
{
	rvf_store *r = NULL;
	if (rvf_open(path, RVF_OPEN_READONLY, &r))
		return -1;
	int rc = snap(r, o);
	rvf_close(r);
	return rc;
}

static int build_store(void)
{
	if (built)
		return built > 0 ? 0 : -1;
	built = -1;
	uint64_t rs = 12345;
	float v[NVEC * DIM];
	for (size_t i = 0; i < NVEC * DIM; i++) {
		rs = rs * 6364136223846793005ull + 1442695040888963407ull;
		v[i] = (float)((rs >> 40) & 0xFFFF) / 4096.0f - 8.0f;
	}
	for (int q = 0; q < NQ; q++)
		for (int d = 0; d < DIM; d++)
			queries[q][d] = v[(q * 7 + 3) * DIM + d] + 0.25f * (float)(d - q);
	uint64_t ids[NVEC];
	for (int i = 0; i < NVEC; i++)
		ids[i] = (uint64_t)i + 1;

	char path[4096];
	snprintf(path, sizeof path, "%s/corrupt_base.rvf", rvf_test_tmpdir());
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	rvf_store *s = NULL;
	if (rvf_create(path, &o, &s)) {
		fprintf(stderr, "create: %s\n", rvf_last_error());
		return -1;
	}
	int err = 0;
	commit_size[0] = (uint64_t)tu_fsize(path);
	err |= snap_path(path, &commit_snap[0]);
	err |= rvf_ingest(s, ids, v, 10, NULL);
	commit_size[1] = (uint64_t)tu_fsize(path);
	err |= snap_path(path, &commit_snap[1]);
	err |= rvf_ingest(s, ids + 10, v + 10 * DIM, 10, NULL);
	commit_size[2] = (uint64_t)tu_fsize(path);
	err |= snap_path(path, &commit_snap[2]);
	uint64_t del[2] = {3, 15};
	err |= rvf_delete(s, del, 2, NULL);
	commit_size[3] = (uint64_t)tu_fsize(path);
	err |= snap_path(path, &commit_snap[3]);
	rvf_close(s);
	if (err) {
		fprintf(stderr, "building the store failed: %s\n", rvf_last_error());
		return -1;
	}
	orig = tu_slurp(path, &orig_len);
	if (!orig || orig_len != commit_size[3])
		return -1;
	for (int c = 0; c < NCOMMIT; c++)
		if (commit_snap[c].epoch != (uint32_t)c)
			return -1;
	built = 1;
	return 0;
}

/* Which segment and header field an offset of the original file is in. */
static void describe(size_t off, char *out, size_t outsz)
{
	size_t p = 0;
	while (p + 64 <= orig_len) {
		uint64_t plen;
		memcpy(&plen, orig + p + 16, 8);
		size_t end = p + 64 + plen;
		if (off < end) {
			size_t r = off - p;
			const char *field = "payload";
			if (r < 4)
				field = "hdr magic";
			else if (r == 4)
				field = "hdr version";
			else if (r == 5)
				field = "hdr seg_type";
			else if (r < 8)
				field = "hdr flags";
			else if (r < 16)
				field = "hdr seg_id";
			else if (r < 24)
				field = "hdr payload_length";
			else if (r < 32)
				field = "hdr timestamp";
			else if (r < 40)
				field = "hdr algo/compression/reserved";
			else if (r < 56)
				field = "hdr content_hash";
			else if (r < 64)
				field = "hdr uncompressed_len/pad";
			uint64_t id;
			memcpy(&id, orig + p + 8, 8);
			snprintf(out, outsz, "%s segment (id %" PRIu64 ") at %zu, %s byte %zu",
				 rvf_segment_type_name(orig[p + 5]), id, p, field,
				 r < 64 ? r : r - 64);
			return;
		}
		p = end;
	}
	snprintf(out, outsz, "outside any segment");
}

/* ---- tests -------------------------------------------------------------- */

static void test_truncation(void)
{
	if (!CHECK(build_store() == 0, "cannot build the base store"))
		return;
	char path[4096];
	snprintf(path, sizeof path, "%s/corrupt_trunc.rvf", rvf_test_tmpdir());
	unsigned opened = 0, failed = 0, warned = 0, silent_rollback = 0, bad = 0;
	for (size_t len = 0; len <= orig_len; len++) {
		if (spit(path, orig, len))
			break;
		int expect = -1; /* newest commit wholly inside the prefix */
		for (int c = 0; c < NCOMMIT; c++)
			if (commit_size[c] <= len)
				expect = c;
		rvf_store *s = NULL;
		int rc = rvf_open(path, RVF_OPEN_READONLY, &s);
		if (rc != RVF_OK) {
			failed++;
			CHECK(rc < 0 && !s && *rvf_last_error(),
			      "truncated to %zu: open failed (%d) without a message or left a handle", len,
			      rc);
			CHECK(expect < 0, "truncated to %zu: open failed (%d: %s) although commit %d is "
					  "complete",
			      len, rc, rvf_last_error(), expect);
		} else {
			opened++;
			snapshot got;
			int sr = snap(s, &got);
			int ok = sr == 0 && expect >= 0 && snap_eq(&got, &commit_snap[expect]);
			if (!CHECK(ok, "truncated to %zu: opened with epoch %u, %" PRIu64 " live; expected "
				       "commit %d's state",
				   len, got.epoch, got.live, expect))
				bad++;
			if (*rvf_open_warning(s))
				warned++;
			else if (expect >= 0 && (uint64_t)len != commit_size[expect])
				silent_rollback++;
			/* a prefix longer than the commit it opens holds part of a
			 * newer commit: the rollback must be reported (spec (h) #14) */
			CHECK(*rvf_open_warning(s) || expect < 0 || (uint64_t)len == commit_size[expect],
			      "truncated to %zu: rolled back to epoch %u without an rvf_open_warning()",
			      len, got.epoch);
			rvf_close(s);
		}
		size_t blen;
		uint8_t *back = tu_slurp(path, &blen);
		CHECK(back && blen == len && !memcmp(back, orig, len),
		      "truncated to %zu: the open changed the file", len);
		free(back);
	}
	printf("\n    truncation 0..%zu: %u opened (%u with a warning, %u rolled back silently), "
	       "%u failed, %u wrong\n",
	       orig_len, opened, warned, silent_rollback, failed, bad);
	unlink(path);
}

static void flip_pass(uint8_t mask)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/corrupt_flip.rvf", rvf_test_tmpdir());
	uint8_t *copy = malloc(orig_len);
	const snapshot *want = &commit_snap[NCOMMIT - 1];
	unsigned failed = 0, same = 0, warned = 0, silent = 0;
	char listing[8192] = "", wlisting[8192] = "";
	size_t ll = 0, wl = 0;
	for (size_t off = 0; off < orig_len; off++) {
		memcpy(copy, orig, orig_len);
		copy[off] ^= mask;
		if (spit(path, copy, orig_len))
			break;
		rvf_store *s = NULL;
		int rc = rvf_open(path, RVF_OPEN_READONLY, &s);
		if (rc != RVF_OK) {
			failed++;
			CHECK(rc < 0 && !s && *rvf_last_error(),
			      "xor 0x%02x at %zu: open failed (%d) without a message", mask, off, rc);
		} else {
			snapshot got;
			int sr = snap(s, &got);
			if (sr == 0 && snap_eq(&got, want)) {
				same++;
			} else if (*rvf_open_warning(s)) {
				warned++;
				if (wl < sizeof wlisting - 16)
					wl += (size_t)snprintf(wlisting + wl, sizeof wlisting - wl, " %zu", off);
			} else {
				silent++;
				char d[160];
				describe(off, d, sizeof d);
				fprintf(stderr,
					"\n    xor 0x%02x at offset %zu (%s): opened silently with epoch "
					"%u, %" PRIu64 " live (original: epoch %u, %" PRIu64 " live)",
					mask, off, d, got.epoch, got.live, want->epoch, want->live);
				if (ll < sizeof listing - 16)
					ll += (size_t)snprintf(listing + ll, sizeof listing - ll, " %zu", off);
			}
			rvf_close(s);
		}
		size_t blen;
		uint8_t *back = tu_slurp(path, &blen);
		CHECK(back && blen == orig_len && !memcmp(back, copy, orig_len),
		      "xor 0x%02x at %zu: the open changed the file", mask, off);
		free(back);
	}
	printf("\n    xor 0x%02x over %zu bytes: %u failed with an error, %u opened unchanged, "
	       "%u opened with a warning%s%s, %u opened silently different%s%s\n",
	       mask, orig_len, failed, same, warned, warned ? " (offsets" : "",
	       warned ? strcat(wlisting, ")") : "", silent, silent ? ": offsets" : "", listing);
	CHECK(silent == 0, "xor 0x%02x: %u single-byte flips opened silently with a different state "
			   "(offsets:%s)",
	      mask, silent, listing);
	free(copy);
	unlink(path);
}

static void test_flip_ff(void)
{
	if (CHECK(build_store() == 0, "cannot build the base store"))
		flip_pass(0xFF);
}

static void test_flip_01(void)
{
	if (CHECK(build_store() == 0, "cannot build the base store"))
		flip_pass(0x01);
}

static void test_store_layout(void)
{
	/* sanity of the fixture itself, so the other tests mean something */
	if (!CHECK(build_store() == 0, "cannot build the base store"))
		return;
	CHECK(commit_snap[3].live == 18 && commit_snap[2].live == 20 && commit_snap[1].live == 10 &&
		      commit_snap[0].live == 0,
	      "commit live counts %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
	      commit_snap[0].live, commit_snap[1].live, commit_snap[2].live, commit_snap[3].live);
	CHECK(commit_size[0] < commit_size[1] && commit_size[1] < commit_size[2] &&
		      commit_size[2] < commit_size[3],
	      "commit sizes not increasing");
	printf("\n    base store: %zu bytes, commits end at %" PRIu64 "/%" PRIu64 "/%" PRIu64
	       "/%" PRIu64 "\n",
	       orig_len, commit_size[0], commit_size[1], commit_size[2], commit_size[3]);
}

static void cleanup(void) { free(orig); }
__attribute__((destructor)) static void corrupt_fini(void) { cleanup(); }

RVF_SUITE(corrupt, {"fixture", test_store_layout}, {"truncation_every_length", test_truncation},
	  {"flip_every_byte_xor_ff", test_flip_ff}, {"flip_every_byte_xor_01", test_flip_01})
