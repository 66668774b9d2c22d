/* test_durable.c — durability: what a power cut or a damaged byte leaves
 * behind opens at the last good commit (never empty, never failing while a
 * commit is intact), unset hashes are damage in our files, `rvf check` /
 * `rvf recover`, compaction keeping owner/mode/symlink, the compaction temp
 * file cleanup, and readers quiet while a writer commits. */
#include "testutil.h"
#include "witness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIM 4

/* Order-independent digest of the live set: count and a mix of id + bits. */
typedef struct {
	uint64_t n, mix;
	uint32_t epoch;
} state;

static state state_of(const rvf_store *s)
{
	state st = {0, 0, 0};
	rvf_status status;
	memset(&status, 0, sizeof status);
	rvf_get_status(s, &status);
	st.epoch = status.epoch;
	st.n = rvf_live_count(s);
	st.mix = tu_live_mix(s);
	return st;
}

static int ingest_range(rvf_store *s, uint64_t first, size_t n)
{
	float *v = malloc(n * DIM * sizeof *v);
	uint64_t *ids = malloc(n * sizeof *ids);
	int rc = RVF_E_NOMEM;
	if (v && ids) {
		for (size_t i = 0; i < n; i++) {
			ids[i] = first + i;
			for (int d = 0; d < DIM; d++)
				v[i * DIM + d] = (float)(first + i) + 0.25f * (float)d;
		}
		rc = rvf_ingest(s, ids, v, n, NULL);
	}
	free(v);
	free(ids);
	return rc;
}

/* Offset of the last segment header of a type ("SFVR", version 1, type). */
static long long last_seg(const uint8_t *f, size_t len, uint8_t type)
{
	for (size_t i = len >= 64 ? len - 64 + 1 : 0; i-- > 0;)
		if (!memcmp(f + i, "SFVR\x01", 5) && f[i + 5] == type)
			return (long long)i;
	return -1;
}

static int write_file(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(b, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* A store with two committed batches: ids 1..10 (epoch 1), 11..15 (epoch 2). */
static char *two_commits(const char *name, state *after1, state *after2)
{
	char *p = tu_tpath("durable", name);
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (!CHECK_OK(rvf_create(p, &o, &s)) || !CHECK_OK(ingest_range(s, 1, 10))) {
		rvf_close(s);
		free(p);
		return NULL;
	}
	*after1 = state_of(s);
	if (!CHECK_OK(ingest_range(s, 11, 5))) {
		rvf_close(s);
		free(p);
		return NULL;
	}
	*after2 = state_of(s);
	rvf_close(s);
	return p;
}

/* Zeroing the newest manifest from header byte 17 (power cut) used to open
 * an EMPTY store (dimension 0), and from byte 41 on to fail every command. */
static void test_zeroed_manifest(void)
{
	state a1, a2;
	char *p = two_commits("zeroed.rvf", &a1, &a2);
	if (!p)
		return;
	size_t len;
	uint8_t *orig = tu_slurp(p, &len);
	long long m = orig ? last_seg(orig, len, 0x05) : -1;
	if (!CHECK(m > 0, "no manifest found")) {
		free(orig);
		free(p);
		return;
	}
	static const int from[] = {17, 24, 41, 60, 64, 70};
	for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
		uint8_t *b = malloc(len);
		memcpy(b, orig, len);
		memset(b + m + from[k], 0, len - (size_t)m - (size_t)from[k]);
		char *q = tu_tpath("durable", "zeroed_copy.rvf");
		write_file(q, b, len);
		rvf_store *s = NULL;
		if (CHECK(rvf_open(q, RVF_OPEN_READONLY, &s) == RVF_OK,
			  "zeroed from manifest byte %d: open failed: %s", from[k], rvf_last_error())) {
			state st = state_of(s);
			CHECK(st.epoch == 1 && st.n == a1.n && st.mix == a1.mix && rvf_dimension(s) == DIM,
			      "zeroed from byte %d: epoch %u, %" PRIu64 " vectors, dim %u; want the previous "
			      "commit (epoch 1, %" PRIu64 " vectors)",
			      from[k], st.epoch, st.n, rvf_dimension(s), a1.n);
			CHECK(strstr(rvf_open_warning(s), "damaged") != NULL,
			      "zeroed from byte %d: no loud warning: '%s'", from[k], rvf_open_warning(s));
		}
		rvf_close(s);
		rvf_witness_report w;
		if (CHECK_OK(rvf_verify_witness(q, &w)))
			CHECK(!w.valid, "zeroed from byte %d: verify-witness says valid", from[k]);
		/* the compaction that used to delete every vector */
		s = NULL;
		if (CHECK_OK(rvf_open(q, 0, &s)) && CHECK_OK(rvf_compact(s, NULL))) {
			state st = state_of(s);
			CHECK(st.n == a1.n && st.mix == a1.mix,
			      "zeroed from byte %d: compaction kept %" PRIu64 " vectors, want %" PRIu64,
			      from[k], st.n, a1.n);
		}
		rvf_close(s);
		free(q);
		free(b);
	}
	free(orig);
	free(p);
}

/* Zeroing a segment's content hash used to switch its check off: a
 * modified vector was served and verify-witness said valid. */
static void test_zeroed_hash(void)
{
	state a1, a2;
	char *p = two_commits("zerohash.rvf", &a1, &a2);
	if (!p)
		return;
	size_t len;
	uint8_t *b = tu_slurp(p, &len);
	long long v = b ? last_seg(b, len, 0x01) : -1;
	if (CHECK(v > 0, "no VEC segment")) {
		memset(b + v + 0x28, 0, 16);
		b[v + 64 + 6 + 8] ^= 0x40; /* first record's first float */
		write_file(p, b, len);
		rvf_store *s = NULL;
		int rc = rvf_open(p, RVF_OPEN_READONLY, &s);
		CHECK(rc == RVF_E_CHECKSUM, "modified VEC with a zeroed hash opened (%d)", rc);
		rvf_close(s);
		rvf_witness_report w;
		if (CHECK_OK(rvf_verify_witness(p, &w)))
			CHECK(!w.valid, "verify-witness says valid");
		rvf_check_report r;
		if (CHECK_OK(rvf_check(p, &r)))
			CHECK(!r.clean && r.first_bad_offset == (uint64_t)v,
			      "check: clean %d, first bad %" PRIu64 ", want %lld", r.clean, r.first_bad_offset, v);
	}
	free(b);
	free(p);
}

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = tu_slurp(a, &la), *y = tu_slurp(b, &lb);
	int same = x && y && la == lb && !memcmp(x, y, la);
	free(x);
	free(y);
	return same;
}

/* check names the first bad offset; recover rolls back after a byte-identical
 * backup, refuses while a writer holds the lock; --output salvages. */
static void test_check_recover(void)
{
	state a1, a2;
	char *p = two_commits("recover.rvf", &a1, &a2);
	if (!p)
		return;
	rvf_check_report r;
	if (CHECK_OK(rvf_check(p, &r)))
		CHECK(r.clean && r.first_bad_offset == UINT64_MAX && r.epoch == 2, "fresh store not clean: %s",
		      r.first_problem);
	size_t len;
	uint8_t *orig = tu_slurp(p, &len);
	long long m = orig ? last_seg(orig, len, 0x05) : -1;
	long long v = orig ? last_seg(orig, len, 0x01) : -1;
	if (!CHECK(m > 0 && v > 0 && v < m, "layout")) {
		free(orig);
		free(p);
		return;
	}
	/* an old (intact) manifest appended: open would show the old state;
	 * check names it as the chain going back */
	long long m1 = last_seg(orig, (size_t)m, 0x05);
	if (CHECK(m1 > 0, "no older manifest")) {
		uint64_t mlen = 64 + (uint64_t)orig[m1 + 16] + 256u * orig[m1 + 17];
		uint8_t *b = malloc(len + mlen);
		memcpy(b, orig, len);
		memcpy(b + len, orig + m1, mlen);
		char *rb = tu_tpath("durable", "rollback.rvf");
		write_file(rb, b, len + mlen);
		if (CHECK_OK(rvf_check(rb, &r)))
			CHECK(!r.clean && r.first_bad_offset == len, "appended old manifest: clean %d, first bad %" PRIu64
			      " (want %zu): %s", r.clean, r.first_bad_offset, len, r.first_problem);
		free(rb);
		free(b);
	}
	/* torn newest commit: cut in the middle of its manifest */
	char *t = tu_tpath("durable", "torn.rvf");
	write_file(t, orig, (size_t)m + 30);
	uint64_t good_end = 0;
	if (CHECK_OK(rvf_check(t, &r))) {
		CHECK(!r.clean && r.has_commit && r.epoch == 1, "torn: clean %d epoch %u", r.clean, r.epoch);
		good_end = r.good_end;
		CHECK(r.first_bad_offset == good_end && good_end <= (uint64_t)v,
		      "torn: first bad %" PRIu64 ", last commit ends at %" PRIu64, r.first_bad_offset, good_end);
	}
	/* a writer holds the lock: refused, file unchanged */
	rvf_store *w = NULL;
	char *keep = tu_tpath("durable", "torn_before.rvf");
	write_file(keep, orig, (size_t)m + 30);
	if (CHECK_OK(rvf_open(t, 0, &w))) {
		rvf_recover_result res;
		int rc = rvf_recover(t, NULL, 0, &res);
		CHECK(rc == RVF_E_LOCKED, "recover while locked returned %d", rc);
		CHECK(same_file(t, keep), "refused recover changed the file");
	}
	rvf_close(w);
	rvf_recover_result res;
	if (CHECK_OK(rvf_recover(t, NULL, 0, &res))) {
		CHECK(res.changed && res.backup[0] && same_file(res.backup, keep),
		      "backup '%s' is not a byte-identical copy", res.backup);
		CHECK(tu_fsize(t) == (long long)good_end && res.epoch == 1 && res.vectors == a1.n,
		      "recovered: %lld bytes (want %" PRIu64 "), epoch %u, %" PRIu64 " vectors", tu_fsize(t),
		      good_end, res.epoch, res.vectors);
		if (CHECK_OK(rvf_check(t, &r)))
			CHECK(r.clean, "recovered file not clean: %s", r.first_problem);
		/* nothing left to do: no second backup */
		rvf_recover_result again;
		if (CHECK_OK(rvf_recover(t, NULL, 0, &again)))
			CHECK(!again.changed && !again.backup[0], "second recover changed something");
	}
	/* one damaged byte in the newest VEC: in place rolls back, salvage keeps
	 * every intact segment; the damaged file is not touched */
	char *d = tu_tpath("durable", "flip.rvf");
	orig[v + 64 + 6 + 8] ^= 1;
	write_file(d, orig, len);
	if (CHECK_OK(rvf_check(d, &r)))
		CHECK(!r.clean && r.first_bad_offset == (uint64_t)v, "flip: first bad %" PRIu64 ", want %lld",
		      r.first_bad_offset, v);
	char *out = tu_tpath("durable", "salvaged.rvf");
	if (CHECK_OK(rvf_recover(d, out, 0, &res))) {
		CHECK(res.segments_dropped == 1 && res.first_dropped_offset == (uint64_t)v,
		      "salvage dropped %" PRIu64 " segments, first at %" PRIu64, res.segments_dropped,
		      res.first_dropped_offset);
		rvf_store *s = NULL;
		if (CHECK_OK(rvf_open(out, RVF_OPEN_READONLY, &s))) {
			/* ids 1..10 come from the older segment the damaged one absorbed or
			 * followed; 11..15 lived only in the damaged one */
			state st = state_of(s);
			CHECK(st.n == a1.n && st.mix == a1.mix, "salvaged %" PRIu64 " vectors, want %" PRIu64,
			      st.n, a1.n);
		}
		rvf_close(s);
		if (CHECK_OK(rvf_check(out, &r)))
			CHECK(r.clean, "salvaged file not clean: %s", r.first_problem);
		int rc = rvf_recover(d, out, 0, &res);
		CHECK(rc == RVF_E_EXISTS, "salvage overwrote an existing file (%d)", rc);
	}
	free(out);
	free(d);
	free(keep);
	free(t);
	free(orig);
	free(p);
}

/* Salvage takes the vectors of segments an older commit listed, never
 * those of a torn commit that a writer later appended after. */
static void test_salvage_skips_torn_commit(void)
{
	state a1, a2;
	char *p = two_commits("phantom.rvf", &a1, &a2);
	if (!p)
		return;
	size_t len;
	uint8_t *f = tu_slurp(p, &len);
	long long m = f ? last_seg(f, len, 0x05) : -1;
	rvf_store *s = NULL;
	char *out = tu_tpath("durable", "phantom_salvaged.rvf");
	/* commit 2 (ids 11..15) torn inside its manifest; a writer goes on */
	if (!CHECK(m > 0 && truncate(p, m + 20) == 0, "cut") || !CHECK_OK(rvf_open(p, 0, &s)) ||
	    !CHECK_OK(ingest_range(s, 20, 3)))
		goto out;
	rvf_close(s);
	s = NULL;
	free(f);
	f = tu_slurp(p, &len);
	long long v = f ? last_seg(f, len, 0x01) : -1; /* ids 20..22 */
	if (!CHECK(v > m, "layout"))
		goto out;
	f[v + 64 + 6 + 8] ^= 1;
	write_file(p, f, len);
	rvf_recover_result res;
	if (CHECK_OK(rvf_recover(p, out, 0, &res)) && CHECK_OK(rvf_open(out, RVF_OPEN_READONLY, &s))) {
		state st = state_of(s);
		CHECK(st.n == a1.n && st.mix == a1.mix,
		      "salvaged %" PRIu64 " vectors, want the %" PRIu64 " of commit 1 (none of the torn commit)",
		      st.n, a1.n);
	}
out:
	rvf_close(s);
	free(out);
	free(f);
	free(p);
}

/* Compaction used to leave root:root 0644 and turn a symlink into a file. */
static void test_compact_keeps_file(void)
{
	char *real = tu_tpath("durable", "real.rvf"), *link = tu_tpath("durable", "link.rvf");
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (!CHECK_OK(rvf_create(real, &o, &s)) || !CHECK_OK(ingest_range(s, 1, 20)))
		goto out;
	uint64_t del[] = {3, 4, 5};
	if (!CHECK_OK(rvf_delete(s, del, 3, NULL)))
		goto out;
	state want = state_of(s);
	rvf_close(s);
	s = NULL;
	CHECK(chmod(real, 0640) == 0, "chmod");
	int root = geteuid() == 0;
	if (root)
		CHECK(chown(real, 1234, 5678) == 0, "chown: %s", strerror(errno));
	struct stat ls, rs;
	/* compacted through its own name: owner and mode kept */
	if (!CHECK_OK(rvf_open(real, 0, &s)) || !CHECK_OK(rvf_compact(s, NULL)))
		goto out;
	rvf_close(s);
	s = NULL;
	if (CHECK(stat(real, &rs) == 0, "stat"))
		CHECK((rs.st_mode & 07777) == 0640 && (!root || (rs.st_uid == 1234 && rs.st_gid == 5678)),
		      "compacted file mode %o owner %u:%u, want 0640 1234:5678", rs.st_mode & 07777,
		      (unsigned)rs.st_uid, (unsigned)rs.st_gid);
	/* compacted through a symlink: the target is compacted, the link stays */
	CHECK(symlink(real, link) == 0, "symlink: %s", strerror(errno));
	if (!CHECK_OK(rvf_open(link, 0, &s)) || !CHECK_OK(ingest_range(s, 50, 2)) ||
	    !CHECK_OK(rvf_delete(s, (uint64_t[]){50}, 1, NULL)) || !CHECK_OK(rvf_compact(s, NULL)))
		goto out;
	/* the handle keeps working on the compacted file */
	CHECK_OK(ingest_range(s, 100, 1));
	rvf_close(s);
	s = NULL;
	CHECK(lstat(link, &ls) == 0 && S_ISLNK(ls.st_mode), "the symlink was replaced by a file");
	if (CHECK(stat(real, &rs) == 0, "stat"))
		CHECK((rs.st_mode & 07777) == 0640 && (!root || (rs.st_uid == 1234 && rs.st_gid == 5678)),
		      "compacted file mode %o owner %u:%u", rs.st_mode & 07777, (unsigned)rs.st_uid,
		      (unsigned)rs.st_gid);
	if (CHECK_OK(rvf_open(real, RVF_OPEN_READONLY, &s))) {
		state st = state_of(s);
		CHECK(st.n == want.n + 2, "target holds %" PRIu64 " vectors, want %" PRIu64, st.n, want.n + 2);
	}
out:
	rvf_close(s);
	free(real);
	free(link);
}

/* A process that could not give the compacted file the store's owner back
 * (not root, store owned by someone else) does not replace it. */
static void test_compact_refuses_owner_change(void)
{
	if (geteuid() != 0)
		return; /* needs two users */
	/* the scratch dir is private: another user needs one it can enter */
	char dir[] = "/tmp/rvf-durable-XXXXXX";
	char path[64];
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (!CHECK(mkdtemp(dir) && chmod(dir, 0777) == 0, "mkdtemp") ||
	    (snprintf(path, sizeof path, "%s/s.rvf", dir), 0) ||
	    !CHECK_OK(rvf_create(path, &o, &s)) || !CHECK_OK(ingest_range(s, 1, 5)) ||
	    !CHECK_OK(rvf_delete(s, (uint64_t[]){2}, 1, NULL))) {
		rvf_close(s);
		unlink(path);
		rmdir(dir);
		return;
	}
	rvf_close(s);
	CHECK(chown(path, 1234, 5678) == 0 && chmod(path, 0666) == 0, "chown/chmod");
	struct stat before, after;
	stat(path, &before);
	pid_t pid = fork();
	if (pid == 0) {
		rvf_store *c = NULL;
		if (setgid(65534) || setuid(65534) || rvf_open(path, 0, &c))
			_exit(3);
		int rc = rvf_compact(c, NULL);
		_exit(rc == RVF_E_IO && strstr(rvf_last_error(), "owner") ? 0 : 4);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "compaction by another user: child status %d (3 setup, 4 not refused)", status);
	CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino && after.st_uid == 1234,
	      "the store was replaced");
	unlink(path);
	rmdir(dir);
}

/* A killed compaction's temp file is removed by the next writer (not by a
 * reader, not while another process holds it). */
static void test_stale_tmp(void)
{
	char *p = tu_tpath("durable", "tmpclean.rvf");
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (!CHECK_OK(rvf_create(p, &o, &s)))
		goto out;
	rvf_close(s);
	s = NULL;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%.*s.rvf.compact.tmp", (int)(strlen(p) - 4), p);
	CHECK(write_file(tmp, (const uint8_t *)"half a compaction", 17) == 0, "cannot write %s", tmp);
	/* a live compaction holds its temp file locked: left alone */
	int fd = open(tmp, O_RDONLY);
	CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "flock");
	if (CHECK_OK(rvf_open(p, 0, &s)))
		CHECK(access(tmp, F_OK) == 0, "a locked temp file was removed");
	rvf_close(s);
	s = NULL;
	close(fd);
	if (CHECK_OK(rvf_open(p, RVF_OPEN_READONLY, &s)))
		CHECK(access(tmp, F_OK) == 0, "a reader removed the temp file");
	rvf_close(s);
	s = NULL;
	if (CHECK_OK(rvf_open(p, 0, &s)))
		CHECK(access(tmp, F_OK) != 0, "the writer left the stale temp file");
	CHECK(rvf_open_warning(s)[0] == 0, "cleanup must not warn (sign refuses warned stores)");
out:
	rvf_close(s);
	free(p);
}

/* Readers printed "torn write" warnings while a writer committed (8 % of
 * reader runs): a live writer's unfinished tail is not damage. */
static void test_reader_quiet_during_commit(void)
{
	char *p = tu_tpath("durable", "race.rvf");
	rvf_store *w = NULL, *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	if (!CHECK_OK(rvf_create(p, &o, &w)) || !CHECK_OK(ingest_range(w, 1, 4)))
		goto out;
	/* deterministic: the lock is held and half a segment follows the manifest */
	int fd = open(p, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "SFVR\x01\x01\0\0\x09\0\0\0\0\0\0\0\xff\xff", 18) == 18, "append");
	if (fd >= 0)
		close(fd);
	if (CHECK_OK(rvf_open(p, RVF_OPEN_READONLY, &s)))
		CHECK(rvf_open_warning(s)[0] == 0, "reader warned while the writer holds the lock: %s",
		      rvf_open_warning(s));
	rvf_close(s);
	s = NULL;
	rvf_close(w);
	w = NULL;
	/* nobody writes any more: the same tail is a torn write, reported */
	if (CHECK_OK(rvf_open(p, RVF_OPEN_READONLY, &s)))
		CHECK(strstr(rvf_open_warning(s), "torn write") != NULL, "torn tail not reported: '%s'",
		      rvf_open_warning(s));
	rvf_close(s);
	s = NULL;
	/* real race: a child commits 1-vector batches while we open read-only */
	char *q = tu_tpath("durable", "race2.rvf");
	if (!CHECK_OK(rvf_create(q, &o, &w)))
		goto out2;
	rvf_close(w);
	w = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		rvf_store *c = NULL;
		if (rvf_open(q, 0, &c))
			_exit(1);
		for (uint64_t i = 1;; i++)
			if (ingest_range(c, i, 1))
				_exit(2);
	}
	int opens = 0, warned = 0;
	char first[512] = "";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (rvf_open(q, RVF_OPEN_READONLY, &s) == RVF_OK) {
			opens++;
			if (rvf_open_warning(s)[0] && !warned++)
				snprintf(first, sizeof first, "%s", rvf_open_warning(s));
		}
		rvf_close(s);
		s = NULL;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 2 && opens < 400);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(opens > 50, "only %d reader opens", opens);
	CHECK(warned == 0, "%d of %d reader opens warned during normal commits: %s", warned, opens, first);
out2:
	free(q);
out:
	rvf_close(s);
	rvf_close(w);
	free(p);
}

/* The claim behind the unset-hash rule: no reference-written file leaves a
 * hash unset (each hashes from its first segment); only the hashless
 * fixture p04 has an unhashed part (it opens: suite corpus). And `check`
 * reports no damage in any reference file. */
static void test_reference_files_hash(void)
{
	static const char *const dirs[] = {"corpus", "spec/fixtures/ref"};
	int files = 0;
	for (size_t k = 0; k < 2; k++) {
		char dpath[4096];
		snprintf(dpath, sizeof dpath, "%s/%s", rvf_test_shared_dir(), dirs[k]);
		DIR *d = opendir(dpath);
		if (!CHECK(d != NULL, "cannot read %s", dpath))
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (n < 5 || strcmp(e->d_name + n - 4, ".rvf"))
				continue;
			char rel[600];
			snprintf(rel, sizeof rel, "%s/%s", dirs[k], e->d_name);
			size_t len;
			uint8_t *f = tu_slurp_shared(rel, &len);
			if (!f)
				continue;
			files++;
			CHECK(rvf_unhashed_end(f, len) == 0, "%s: has an unhashed part of %" PRIu64 " bytes", rel,
			      rvf_unhashed_end(f, len));
			free(f);
			/* and `rvf check` finds nothing wrong in any of them */
			char full[5000];
			snprintf(full, sizeof full, "%s/%s", rvf_test_shared_dir(), rel);
			rvf_check_report r;
			if (CHECK_OK(rvf_check(full, &r)))
				CHECK(r.clean, "%s: check: first bad offset %" PRIu64 ": %s", rel, r.first_bad_offset,
				      r.first_problem);
		}
		closedir(d);
	}
	CHECK(files > 40, "only %d reference files found", files);
	size_t len;
	uint8_t *f = tu_slurp_shared("spec/fixtures/py/p04_zero_hash.rvf", &len);
	if (CHECK(f != NULL, "p04 missing"))
		CHECK(rvf_unhashed_end(f, len) == len, "p04: unhashed part %" PRIu64 " of %zu bytes",
		      rvf_unhashed_end(f, len), len);
	free(f);
}

/* An old manifest appended at the end used to roll the store back with no
 * word, and the next write or compaction made the loss permanent (found by
 * an outside attack on this issue). Open warns; every writer refuses. */
static void test_appended_old_manifest(void)
{
	state a1, a2;
	char *p = two_commits("rollback.rvf", &a1, &a2);
	if (!p)
		return;
	size_t len;
	uint8_t *orig = tu_slurp(p, &len);
	long long last = orig ? last_seg(orig, len, 0x05) : -1;
	long long prev = last > 0 ? last_seg(orig, (size_t)last + 63, 0x05) : -1;
	if (!CHECK(prev > 0 && prev < last, "manifests not found")) {
		free(orig);
		free(p);
		return;
	}
	uint64_t plen;
	memcpy(&plen, orig + prev + 16, 8);
	size_t mlen = 64 + (size_t)plen, nlen = len + mlen;
	uint8_t *b = malloc(nlen);
	memcpy(b, orig, len);
	memcpy(b + len, orig + prev, mlen);
	char *q = tu_tpath("durable", "rollback_copy.rvf");
	write_file(q, b, nlen);
	rvf_store *s = NULL;
	if (CHECK(rvf_open(q, 0, &s) == RVF_OK, "open failed: %s", rvf_last_error())) {
		CHECK(strstr(rvf_open_warning(s), "rolled back") != NULL, "no warning: '%s'",
		      rvf_open_warning(s));
		CHECK(ingest_range(s, 100, 1) == RVF_E_CORRUPT, "a write on a rolled-back file was accepted");
		rvf_compact_result cr;
		CHECK(rvf_compact(s, &cr) == RVF_E_CORRUPT, "compaction of a rolled-back file was accepted");
		rvf_close(s);
	}
	size_t after;
	uint8_t *c = tu_slurp(q, &after);
	CHECK(c && after == nlen && !memcmp(c, b, nlen), "the file changed");
	/* the untouched original: no warning */
	if (CHECK(rvf_open(p, RVF_OPEN_READONLY, &s) == RVF_OK, "open: %s", rvf_last_error())) {
		CHECK(!strstr(rvf_open_warning(s), "rolled back"), "false warning: '%s'", rvf_open_warning(s));
		rvf_close(s);
	}
	free(c);
	free(b);
	free(q);
	free(orig);
	free(p);
}

/* Another process truncates, extends, unlinks or renames over the file
 * under a writer (the flock does not stop it): the next commit is refused
 * with a message, writes nothing (the bytes at the path are untouched) and
 * every later write is refused too. The old code appended the commit past
 * the truncation point (a manifest over missing bytes) or into the orphaned
 * inode, and reported success. */
static void test_file_changed_underneath(void)
{
	static const char *what[] = {"truncated", "extended", "replaced", "removed"};
	for (int c = 0; c < 4; c++) {
		char *p = tu_tpath("durable", "under.rvf"), *other = tu_tpath("durable", "other.rvf");
		rvf_store *s = NULL, *o = NULL;
		rvf_create_opts opts = {.dimension = DIM, .metric = RVF_METRIC_L2};
		if (!CHECK_OK(rvf_create(p, &opts, &s)) || !CHECK_OK(ingest_range(s, 1, 20)))
			goto next;
		long long size = tu_fsize(p);
		if (c == 0) {
			CHECK(truncate(p, size / 2) == 0, "truncate: %s", strerror(errno));
		} else if (c == 1) {
			int fd = open(p, O_WRONLY | O_APPEND);
			CHECK(fd >= 0 && write(fd, "appended", 8) == 8, "append: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
		} else if (c == 2) {
			if (!CHECK_OK(rvf_create(other, &opts, &o)) || !CHECK_OK(ingest_range(o, 100, 3)))
				goto next;
			rvf_close(o);
			o = NULL;
			CHECK(rename(other, p) == 0, "rename: %s", strerror(errno));
		} else {
			CHECK(unlink(p) == 0, "unlink: %s", strerror(errno));
		}
		size_t before_len = 0, after_len = 0;
		uint8_t *before = c == 3 ? NULL : tu_slurp(p, &before_len);
		int rc = ingest_range(s, 50, 2);
		CHECK(rc == RVF_E_IO && strstr(rvf_last_error(), c < 2 ? "truncated or extended" : "removed or replaced"),
		      "file %s under the writer: commit -> %d (%s), want RVF_E_IO naming it", what[c], rc,
		      rvf_last_error());
		CHECK(ingest_range(s, 60, 1) == RVF_E_READONLY, "file %s: a later write was not refused", what[c]);
		if (c != 3) {
			uint8_t *after = tu_slurp(p, &after_len);
			CHECK(before && after && before_len == after_len && !memcmp(before, after, after_len),
			      "file %s: the refused commit changed the bytes at the path (%zu -> %zu bytes)", what[c],
			      before_len, after_len);
			free(after);
		} else {
			CHECK(access(p, F_OK) != 0, "file removed: the refused commit recreated it");
		}
		free(before);
	next:
		rvf_close(o);
		rvf_close(s);
		free(p);
		free(other);
	}
}

RVF_SUITE(durability, {"reference_files_hash_every_segment", test_reference_files_hash}, {"zeroed_newest_manifest_opens_previous", test_zeroed_manifest},
	  {"zeroed_hash_is_damage", test_zeroed_hash}, {"check_and_recover", test_check_recover},
	  {"salvage_skips_torn_commit", test_salvage_skips_torn_commit},
	  {"compact_keeps_owner_mode_symlink", test_compact_keeps_file},
	  {"compact_refuses_owner_change", test_compact_refuses_owner_change},
	  {"stale_compaction_tmp_removed", test_stale_tmp},
	  {"reader_quiet_during_commits", test_reader_quiet_during_commit},
	  {"appended_old_manifest_warns_and_refuses_writes", test_appended_old_manifest},
	  {"file_changed_underneath_refuses_commit", test_file_changed_underneath})
