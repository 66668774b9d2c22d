/* test_harden.c — what an outside attack on durability and trust found
 * (issue 12, F2 F3 F10 F11 F12): in-place recover never drops more than
 * the damage unless told to, check and recover agree on damage the current
 * state does not use, compaction's temp file cannot be planted, every
 * state-changing commit carries a witness, and every segment header byte
 * outside the content hash is either detected or provably harmless. */
#include "testutil.h"
#include "witness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM 4

static int ingest_range(rvf_store *s, uint64_t first, size_t n)
{
	float v[64 * DIM];
	uint64_t ids[64];
	if (n > 64)
		return RVF_E_ARG;
	for (size_t i = 0; i < n; i++) {
		ids[i] = first + i;
		for (int d = 0; d < DIM; d++)
			v[i * DIM + d] = (float)(first + i) + 0.25f * (float)d;
	}
	return rvf_ingest(s, ids, v, n, NULL);
}

/* Order-independent digest of the live set plus the answer to one query. */
typedef struct {
	uint64_t n, mix, q;
	uint32_t epoch;
} state;

static state state_of(const rvf_store *s)
{
	state st = {0, 0, 0, 0};
	rvf_status status;
	memset(&status, 0, sizeof status);
	rvf_get_status(s, &status);
	st.epoch = status.epoch;
	st.n = rvf_live_count(s);
	st.mix = tu_live_mix(s);
	float q[DIM] = {3.1f, 3.3f, 3.6f, 3.8f};
	rvf_hit hits[5];
	size_t nh = 0;
	if (!rvf_query(s, q, DIM, 5, hits, &nh))
		for (size_t i = 0; i < nh; i++) {
			uint32_t b;
			memcpy(&b, &hits[i].distance, 4);
			st.q = (st.q ^ hits[i].id ^ ((uint64_t)b << 32)) * 0x100000001B3ull;
		}
	return st;
}

static int same_state(state a, state b)
{
	return a.n == b.n && a.mix == b.mix && a.q == b.q && a.epoch == b.epoch;
}

static int write_file(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(b, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Segments in file order, by their headers (payload_length at 0x10). */
typedef struct {
	size_t n;
	uint64_t off[64], end[64];
	uint8_t type[64];
} segs;

static void list_segs(const uint8_t *f, size_t len, segs *g)
{
	g->n = 0;
	for (uint64_t off = 0; off + 64 <= len && g->n < 64;) {
		uint64_t pl;
		memcpy(&pl, f + off + 16, 8);
		if (memcmp(f + off, "SFVR", 4) || pl > len - off - 64)
			break;
		g->off[g->n] = off;
		g->type[g->n] = f[off + 5];
		g->end[g->n++] = off + 64 + pl;
		off += 64 + pl;
	}
}

static size_t first_of(const segs *g, uint8_t type)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->type[i] == type)
			return i;
	return SIZE_MAX;
}

static size_t last_of(const segs *g, uint8_t type)
{
	for (size_t i = g->n; i-- > 0;)
		if (g->type[i] == type)
			return i;
	return SIZE_MAX;
}

/* create (epoch 0), ingest 1..10, 11..15, 16..18 (epochs 1..3): each batch
 * its own VEC segment, listed by every later manifest. */
static char *three_commits(const char *name, state *st)
{
	char *p = tu_tpath("harden", name);
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	int ok = CHECK_OK(rvf_create(p, &o, &s)) && CHECK_OK(ingest_range(s, 1, 10)) &&
		 CHECK_OK(ingest_range(s, 11, 5)) && CHECK_OK(ingest_range(s, 16, 3));
	if (ok && st)
		*st = state_of(s);
	rvf_close(s);
	if (!ok) {
		free(p);
		return NULL;
	}
	return p;
}

/* F2: one flipped byte in the first VEC payload used to make in-place
 * recover truncate to epoch 0 (every vector gone) and print a segment count
 * read from the truncated mapping. */
static void test_recover_refuses_big_rollback(void)
{
	char *p = three_commits("firstvec.rvf", NULL);
	if (!p)
		return;
	size_t len;
	uint8_t *f = tu_slurp(p, &len);
	segs g;
	list_segs(f, len, &g);
	size_t v = first_of(&g, 0x01), m0 = first_of(&g, 0x05);
	/* hand count: the create commit is [witness, manifest]; all else goes */
	if (!CHECK(f && v != SIZE_MAX && m0 == 1 && g.type[0] == 0x0A && v == 2 && g.end[g.n - 1] == len,
		   "layout: %zu segments, first VEC #%zu, first manifest #%zu", g.n, v, m0))
		goto out;
	uint64_t cut = g.end[m0], want_segs = g.n - 2, want_bytes = len - cut;
	f[g.off[v] + 64 + 6 + 8 + 1] ^= 0x40; /* a float of id 1 */
	write_file(p, f, len);

	rvf_check_report r;
	if (CHECK_OK(rvf_check(p, &r)))
		CHECK(!r.clean && !r.state_intact && r.first_bad_offset == g.off[v] && r.epoch == 3,
		      "check: clean %d intact %d first bad %" PRIu64 " epoch %u", r.clean, r.state_intact,
		      r.first_bad_offset, r.epoch);
	/* refused: says how much and points to salvage; nothing changed */
	rvf_recover_result res;
	int rc = rvf_recover(p, NULL, 0, &res);
	const char *msg = rvf_last_error();
	CHECK(rc == RVF_E_CORRUPT, "in-place recover returned %d (want a refusal)", rc);
	CHECK(strstr(msg, "would drop 3 commits") && strstr(msg, "8 of the 8 intact vectors") &&
		      strstr(msg, "--output NEW") && strstr(msg, "--truncate"),
	      "refusal message: %s", msg);
	char want_msg[128];
	snprintf(want_msg, sizeof want_msg, "(%" PRIu64 " bytes, %" PRIu64 " segments)", want_bytes, want_segs);
	CHECK(strstr(msg, want_msg), "refusal message lacks '%s': %s", want_msg, msg);
	size_t len2;
	uint8_t *now = tu_slurp(p, &len2);
	CHECK(now && len2 == len && !memcmp(now, f, len), "a refused recover changed the file");
	free(now);
	char bak[4096];
	snprintf(bak, sizeof bak, "%s.bak", p);
	CHECK(access(bak, F_OK) != 0, "a refused recover left a backup");

	/* salvage keeps every intact vector: 11..18 */
	char *out = tu_tpath("harden", "firstvec_salvaged.rvf");
	if (CHECK_OK(rvf_recover(p, out, 0, &res)))
		CHECK(res.vectors == 8 && res.after.clean, "salvage: %" PRIu64 " vectors, clean %d", res.vectors,
		      res.after.clean);
	free(out);

	/* --truncate: rolls back, counts as computed by hand */
	if (CHECK_OK(rvf_recover(p, NULL, RVF_RECOVER_TRUNCATE, &res))) {
		CHECK(res.changed && res.epoch == 0 && res.vectors == 0 && res.vectors_lost == 8 &&
			      res.epochs_dropped == 3,
		      "truncate: changed %d epoch %u vectors %" PRIu64 " lost %" PRIu64 " epochs %u", res.changed,
		      res.epoch, res.vectors, res.vectors_lost, res.epochs_dropped);
		CHECK(res.segments_dropped == want_segs && res.bytes_dropped == want_bytes &&
			      res.first_dropped_offset == cut && res.size_after == cut,
		      "truncate: %" PRIu64 " segments (want %" PRIu64 "), %" PRIu64 " bytes (want %" PRIu64
		      "), first at %" PRIu64 " (want %" PRIu64 ")",
		      res.segments_dropped, want_segs, res.bytes_dropped, want_bytes, res.first_dropped_offset, cut);
		CHECK(res.after.clean && tu_fsize(p) == (long long)cut, "after --truncate: clean %d, %lld bytes",
		      res.after.clean, tu_fsize(p));
		size_t bl;
		uint8_t *b = tu_slurp(res.backup, &bl);
		CHECK(b && bl == len && !memcmp(b, f, len), "backup %s is not the damaged file", res.backup);
		free(b);
	}
out:
	free(f);
	free(p);
}

/* A rollback that loses nothing salvage would keep needs no --truncate: the
 * newest VEC damaged (its vectors exist nowhere else). */
static void test_recover_small_rollback(void)
{
	state st;
	char *p = three_commits("lastvec.rvf", &st);
	if (!p)
		return;
	size_t len;
	uint8_t *f = tu_slurp(p, &len);
	segs g;
	list_segs(f, len, &g);
	size_t v = last_of(&g, 0x01), m = last_of(&g, 0x05);
	if (!CHECK(f && v != SIZE_MAX && m != SIZE_MAX && m > v, "layout"))
		goto out;
	size_t m2 = SIZE_MAX; /* the manifest of epoch 2 */
	for (size_t i = 0; i < v; i++)
		if (g.type[i] == 0x05)
			m2 = i;
	f[g.off[v] + 64 + 8] ^= 1;
	write_file(p, f, len);
	rvf_recover_result res;
	if (CHECK_OK(rvf_recover(p, NULL, 0, &res)))
		CHECK(res.changed && res.epoch == 2 && res.vectors == 15 && res.vectors_lost == 0 &&
			      res.epochs_dropped == 1 && res.segments_dropped == g.n - 1 - m2 &&
			      res.bytes_dropped == len - g.end[m2] && res.after.clean,
		      "epoch %u vectors %" PRIu64 " lost %" PRIu64 " segments %" PRIu64 " (want %zu) bytes %" PRIu64,
		      res.epoch, res.vectors, res.vectors_lost, res.segments_dropped, g.n - 1 - m2,
		      res.bytes_dropped);
out:
	free(f);
	free(p);
}

/* F3: damage in bytes the current state does not use (an old manifest, an
 * old witness) — check and recover say so, recover changes nothing and
 * reports the file still damaged; compaction rewrites without it. */
static void test_dead_damage(void)
{
	state st;
	char *p = three_commits("dead.rvf", &st);
	if (!p)
		return;
	size_t len;
	uint8_t *f = tu_slurp(p, &len);
	segs g;
	list_segs(f, len, &g);
	size_t w0 = first_of(&g, 0x0A), m0 = first_of(&g, 0x05), m1 = SIZE_MAX;
	for (size_t i = m0 + 1; i < g.n; i++)
		if (g.type[i] == 0x05) {
			m1 = i;
			break;
		}
	if (!CHECK(f && w0 == 0 && m1 != SIZE_MAX && m1 < g.n - 1, "layout"))
		goto out;
	f[g.off[m1] + 64 + 3] ^= 0x10; /* epoch 1's manifest, superseded */
	f[g.off[w0] + 64 + 15] ^= 0x01; /* the create witness's action */
	write_file(p, f, len);
	rvf_check_report r;
	if (CHECK_OK(rvf_check(p, &r)))
		CHECK(!r.clean && r.state_intact && r.dead_problems == 2 && r.first_dead_offset == 0 &&
			      r.first_bad_offset == 0 && r.tail_bytes == 0 && r.epoch == 3,
		      "check: clean %d intact %d dead %" PRIu64 " first dead %" PRIu64 " tail %" PRIu64,
		      r.clean, r.state_intact, r.dead_problems, r.first_dead_offset, r.tail_bytes);
	rvf_recover_result res;
	if (CHECK_OK(rvf_recover(p, NULL, 0, &res)))
		CHECK(!res.changed && !res.backup[0] && !res.after.clean && res.after.state_intact &&
			      res.after.dead_problems == 2 && res.epoch == 3 && res.vectors == 18,
		      "recover: changed %d clean %d intact %d", res.changed, res.after.clean,
		      res.after.state_intact);
	CHECK(tu_fsize(p) == (long long)len, "recover changed the file");
	rvf_store *s = NULL;
	if (CHECK_OK(rvf_open(p, 0, &s)) && CHECK_OK(rvf_compact(s, NULL))) {
		state a = state_of(s);
		CHECK(a.n == st.n && a.mix == st.mix && a.q == st.q, "compaction changed the live set");
	}
	rvf_close(s);
	if (CHECK_OK(rvf_check(p, &r)))
		CHECK(r.clean, "compacted file not clean: %s", r.first_problem);
out:
	free(f);
	free(p);
}

/* F10: a link or directory planted at the old fixed temp name made
 * compaction fail forever; nothing planted is followed, truncated or
 * removed, and our own leftover is. */
static void test_compact_tmp_planted(void)
{
	char *p = tu_tpath("harden", "planted.rvf");
	char *victim = tu_tpath("harden", "victim.txt");
	rvf_store *s = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	char legacy[4096], patt[4096], ours[4096], theirs[4096];
	snprintf(legacy, sizeof legacy, "%.*s.rvf.compact.tmp", (int)(strlen(p) - 4), p);
	snprintf(patt, sizeof patt, "%.*s.rvf.compact.AbC123.tmp", (int)(strlen(p) - 4), p);
	snprintf(ours, sizeof ours, "%.*s.rvf.compact.ZZ9zz9.tmp", (int)(strlen(p) - 4), p);
	snprintf(theirs, sizeof theirs, "%.*s.rvf.compact.Q1q1Q1.tmp", (int)(strlen(p) - 4), p);
	if (!CHECK(write_file(victim, (const uint8_t *)"precious", 8) == 0, "victim") ||
	    !CHECK_OK(rvf_create(p, &o, &s)) || !CHECK_OK(ingest_range(s, 1, 6)) ||
	    !CHECK_OK(rvf_delete(s, (uint64_t[]){2}, 1, NULL)))
		goto out;
	rvf_close(s);
	s = NULL;
	CHECK(symlink(victim, legacy) == 0 && symlink(victim, patt) == 0, "symlink: %s", strerror(errno));
	CHECK(write_file(ours, (const uint8_t *)"half", 4) == 0, "leftover");
	int other = geteuid() == 0;
	if (other)
		CHECK(write_file(theirs, (const uint8_t *)"not ours", 8) == 0 && chown(theirs, 4321, 4321) == 0,
		      "another user's file");
	if (CHECK_OK(rvf_open(p, 0, &s))) {
		CHECK(access(ours, F_OK) != 0, "our killed compaction's leftover was kept");
		CHECK_OK(rvf_compact(s, NULL));
	}
	rvf_close(s);
	s = NULL;
	struct stat st;
	CHECK(lstat(legacy, &st) == 0 && S_ISLNK(st.st_mode) && lstat(patt, &st) == 0 && S_ISLNK(st.st_mode),
	      "a planted symlink was removed or replaced");
	CHECK(!other || access(theirs, F_OK) == 0, "another user's file was removed");
	size_t vl;
	uint8_t *vb = tu_slurp(victim, &vl);
	CHECK(vb && vl == 8 && !memcmp(vb, "precious", 8), "the symlink's target was written");
	free(vb);
	/* a directory at the old name: compaction still succeeds */
	unlink(legacy);
	CHECK(mkdir(legacy, 0700) == 0, "mkdir");
	if (CHECK_OK(rvf_open(p, 0, &s)) && CHECK_OK(ingest_range(s, 20, 2)) &&
	    CHECK_OK(rvf_delete(s, (uint64_t[]){20}, 1, NULL)))
		CHECK_OK(rvf_compact(s, NULL));
	rvf_close(s);
	s = NULL;
	if (CHECK_OK(rvf_open(p, RVF_OPEN_READONLY, &s)))
		CHECK(rvf_live_count(s) == 6, "%" PRIu64 " live after two compactions, want 6",
		      (uint64_t)rvf_live_count(s));
	rmdir(legacy);
	unlink(patt);
	unlink(theirs);
out:
	rvf_close(s);
	free(victim);
	free(p);
}

/* The witness right before the last manifest: its action, and whether it
 * covers a segment of `type`. */
static int last_witness(const char *path, char *act, size_t cap, uint8_t type, int *covers)
{
	size_t len;
	uint8_t *f = tu_slurp(path, &len);
	segs g;
	int ok = 0;
	*covers = 0;
	if (f) {
		list_segs(f, len, &g);
		if (g.n >= 2 && g.type[g.n - 1] == 0x05 && g.type[g.n - 2] == 0x0A && g.end[g.n - 1] == len) {
			rvf_witness w;
			uint64_t o = g.off[g.n - 2];
			if (!rvf_witness_decode(f + o + 64, g.end[g.n - 2] - o - 64, &w)) {
				snprintf(act, cap, "%.*s", (int)w.action_len, w.action);
				for (uint32_t i = 0; w.cov && i < w.ncov; i++)
					*covers |= w.cov[i * RVF_WCOV_ENTRY + 24] == type;
				ok = 1;
			}
		}
	}
	free(f);
	return ok;
}

/* F11: create, index build, branch and freeze committed without a witness. */
static void test_every_commit_witnessed(void)
{
	char *p = tu_tpath("harden", "witnessed.rvf"), *c = tu_tpath("harden", "witnessed_child.rvf");
	rvf_store *s = NULL, *k = NULL;
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	char act[256];
	int cov;
	rvf_witness_report wr;
	if (!CHECK_OK(rvf_create(p, &o, &s)))
		goto out;
	CHECK(last_witness(p, act, sizeof act, 0, &cov) && !strncmp(act, "create:", 7),
	      "create: no witness before the manifest");
	if (!CHECK_OK(ingest_range(s, 1, 40)) || !CHECK_OK(rvf_index_build(s, 8, 40)))
		goto out;
	CHECK(last_witness(p, act, sizeof act, 0x02, &cov) && !strncmp(act, "index:", 6) && cov,
	      "index build: witness '%s', covers the INDEX_SEG: %d", act, cov);
	if (CHECK_OK(rvf_derive(s, c, 1, &k)))
		CHECK(last_witness(c, act, sizeof act, 0x20, &cov) && !strncmp(act, "branch:", 7) && cov,
		      "branch: witness '%s', covers the COW_MAP: %d", act, cov);
	rvf_close(k);
	k = NULL;
	if (CHECK_OK(rvf_freeze(s)))
		CHECK(last_witness(p, act, sizeof act, 0, &cov) && !strncmp(act, "freeze:", 7),
		      "freeze: witness '%s'", act);
	rvf_close(s);
	s = NULL;
	if (CHECK_OK(rvf_verify_witness(p, &wr)))
		CHECK(wr.valid && wr.restarts == 0 && wr.entries == 4, "verify-witness: valid %d, %" PRIu64
		      " entries (want create, ingest, index, freeze)", wr.valid, wr.entries);
	/* the index payload rewritten with its CRC fixed: coverage catches it */
	size_t len;
	uint8_t *f = tu_slurp(p, &len);
	segs g;
	list_segs(f, len, &g);
	size_t ix = last_of(&g, 0x02);
	if (CHECK(f && ix != SIZE_MAX, "no INDEX_SEG")) {
		f[g.off[ix] + 64 + 10] ^= 1;
		uint64_t pl = g.end[ix] - g.off[ix] - 64;
		rvf_content_hash(f + g.off[ix] + 64, pl, f + g.off[ix] + 0x28);
		CHECK_OK(rvf_verify_witness_buf(f, len, &wr));
		CHECK(!wr.valid && wr.covered_bad == 1, "a rewritten INDEX_SEG verified (covered_bad %" PRIu64 ")",
		      wr.covered_bad);
	}
	free(f);
	if (CHECK_OK(rvf_verify_witness(c, &wr)))
		CHECK(wr.valid && wr.entries == 2, "branch file: valid %d, %" PRIu64 " entries", wr.valid,
		      wr.entries);
out:
	rvf_close(k);
	rvf_close(s);
	free(c);
	free(p);
}

/* Outcome of one variant of the file: 'D' detected (check not clean, or
 * the open fails), 'H' harmless (clean, same state, same answers, same
 * frozen-ness), 'X' silently different. */
static char outcome(const char *path, state want, int want_frozen)
{
	rvf_check_report r;
	if (rvf_check(path, &r) || !r.clean)
		return 'D';
	rvf_store *s = NULL;
	if (rvf_open(path, RVF_OPEN_READONLY, &s))
		return 'D';
	state got = state_of(s);
	rvf_close(s);
	if (!same_state(got, want))
		return 'X';
	if (rvf_open(path, 0, &s))
		return 'D';
	int frozen = ingest_range(s, 900, 1) == RVF_E_READONLY;
	rvf_close(s);
	return frozen == want_frozen ? 'H' : 'X';
}

/* Header bytes a flip may leave undetected: the timestamp and checksum_algo
 * (nobody reads them; other writers set them), and the segment id of a
 * segment no manifest lists (a manifest's own, a witness's). */
static int may_be_harmless(int byte, int listed)
{
	return (byte >= 0x18 && byte <= 0x20) || (!listed && byte >= 0x08 && byte <= 0x0F);
}

static void flip_header(const char *what, const uint8_t *f, size_t len, uint64_t seg, int listed,
			state want, int want_frozen)
{
	char *t = tu_tpath("harden", "hdrflip.rvf");
	uint8_t *b = malloc(len);
	int bad = 0;
	for (int byte = 0; b && byte < 64; byte++)
		for (int x = 0; x < 2; x++) {
			uint8_t mask = x ? 0xFF : 0x01;
			memcpy(b, f, len);
			b[seg + byte] ^= mask;
			write_file(t, b, len);
			char o = outcome(t, want, want_frozen);
			if (o == 'X' || (o == 'H' && !may_be_harmless(byte, listed)))
				bad += CHECK(0, "%s header byte 0x%02x ^ 0x%02x: %s", what, byte, mask,
					     o == 'X' ? "opened silently different" : "not detected") == 0;
		}
	free(b);
	unlink(t);
	free(t);
}

/* F12: every byte of a VEC, manifest and witness header, flipped (xor 0x01
 * and 0xFF): detected by check/open, or the same state and answers. */
static void test_header_bytes(void)
{
	state st;
	char *p = three_commits("hdr.rvf", &st);
	if (!p)
		return;
	size_t len;
	uint8_t *f = tu_slurp(p, &len);
	segs g;
	list_segs(f, len, &g);
	size_t v = first_of(&g, 0x01), m = last_of(&g, 0x05), w = last_of(&g, 0x0A);
	if (CHECK(f && v != SIZE_MAX && m == g.n - 1 && w == m - 1, "layout")) {
		flip_header("first VEC", f, len, g.off[v], 1, st, 0);
		flip_header("current manifest", f, len, g.off[m], 0, st, 0);
		flip_header("last witness", f, len, g.off[w], 0, st, 0);
		/* the SEALED bit alone on the current manifest: freezes the store
		 * for this reader; check names it */
		f[g.off[m] + 6] ^= 0x08;
		write_file(p, f, len);
		rvf_check_report r;
		if (CHECK_OK(rvf_check(p, &r)))
			CHECK(!r.clean && !r.state_intact && strstr(r.first_problem, "SEALED"),
			      "SEALED set by a flip: clean %d: %s", r.clean, r.first_problem);
	}
	free(f);
	free(p);
	/* a frozen store whose SEALED bit is cleared stays frozen, and check
	 * names it */
	rvf_store *s = NULL;
	p = three_commits("hdr_frozen.rvf", &st);
	if (p && CHECK_OK(rvf_open(p, 0, &s)) && CHECK_OK(rvf_freeze(s))) {
		rvf_close(s);
		s = NULL;
		f = tu_slurp(p, &len);
		list_segs(f, len, &g);
		m = g.n - 1;
		if (CHECK(f && g.type[m] == 0x05 && (f[g.off[m] + 6] & 0x08), "frozen layout")) {
			flip_header("frozen manifest", f, len, g.off[m], 0, st, 1);
			f[g.off[m] + 6] &= (uint8_t)~0x08;
			write_file(p, f, len);
			rvf_check_report r;
			if (CHECK_OK(rvf_check(p, &r)))
				CHECK(!r.clean && strstr(r.first_problem, "records a freeze"),
				      "SEALED cleared: clean %d: %s", r.clean, r.first_problem);
			if (CHECK_OK(rvf_open(p, 0, &s)))
				CHECK(ingest_range(s, 900, 1) == RVF_E_READONLY, "clearing SEALED unfroze the store");
		}
		free(f);
	}
	rvf_close(s);
	free(p);
}

RVF_SUITE(harden, {"recover_refuses_rollback_that_drops_intact_vectors", test_recover_refuses_big_rollback},
	  {"recover_small_rollback_needs_no_flag", test_recover_small_rollback},
	  {"check_and_recover_agree_on_unused_damage", test_dead_damage},
	  {"compact_tmp_planted_link_or_dir", test_compact_tmp_planted},
	  {"every_state_change_witnessed", test_every_commit_witnessed},
	  {"header_bytes_detected_or_harmless", test_header_bytes})
