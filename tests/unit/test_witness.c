/* test_witness.c — witness chain verification (user/lib/witness.c): the
 * reference's fold32 chains, our BLAKE2b chains, mixes after reopen, and
 * tampering (every witness byte, VEC bytes, headers, truncation). */
#include "format.h"
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"
#include "witness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* The whole file, with 4096 bytes of room after it to append segments. */
static uint8_t *load(const char *path, size_t *len)
{
	uint8_t *b = tu_slurp(path, len), *nb;
	if (!b)
		return NULL;
	nb = realloc(b, *len + 4096);
	if (!nb)
		free(b);
	return nb;
}

static uint8_t *shared(const char *rel, size_t *len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", rvf_test_shared_dir(), rel);
	uint8_t *b = load(p, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	return b;
}

typedef struct {
	uint64_t off[64];
	uint64_t plen[64];
	uint8_t type[64];
	size_t n;
} segs;

static void list_segs(const uint8_t *f, size_t len, segs *s)
{
	s->n = 0;
	for (uint64_t off = 0; off + 64 <= len && s->n < 64;) {
		rvf_seg_hdr h;
		rvf_hdr_decode(f + off, &h);
		if (h.magic != RVF_SEG_MAGIC)
			break;
		s->off[s->n] = off;
		s->plen[s->n] = h.payload_length;
		s->type[s->n++] = h.seg_type;
		off += 64 + h.payload_length;
	}
}

/* Recomputes the CRC-rotated content hash of the segment at off. */
static void rehash(uint8_t *f, uint64_t off)
{
	rvf_content_hash(f + off + 64, rd64(f + off + 16), f + off + 0x28);
}

/* Appends a witness segment (our BLAKE2b mark if b2b) chained to prev
 * (payload prev/prevlen, NULL: restart); returns the new length. */
static size_t add_witness(uint8_t *f, size_t len, const char *action, int b2b, int link_alg,
			  const uint8_t *prev, size_t prevlen, uint64_t id)
{
	char act[128];
	snprintf(act, sizeof act, "%s%s", action, b2b ? RVF_WITNESS_B2B_MARK : "");
	uint8_t link[32] = {0};
	if (prev)
		rvf_witness_link(link_alg, prev, prevlen, link);
	size_t al = strlen(act);
	uint64_t pl = rvf_witness_size(al);
	rvf_witness_encode(f + len + 64, 1, 1700000000000000000ull + id, act, al, link);
	rvf_hdr_encode(f + len, RVF_SEG_WITNESS, id, f + len + 64, pl);
	return len + 64 + (size_t)pl;
}

/* ---- reference fold32 chains ------------------------------------------- */

static void test_fixture_chains(void)
{
	static const struct {
		const char *file;
		uint64_t entries, restarts, fold;
	} want[] = {
		{"spec/fixtures/ref/f_witness.rvf", 5, 0, 4},
		{"spec/fixtures/ref/f_reopen.rvf", 4, 1, 2},
		{"spec/fixtures/ref/f_compact.rvf", 3, 1, 1},
		{"corpus/security_hardened.rvf", 6, 1, 4},
		{"corpus/basic_store.rvf", 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t len;
		uint8_t *f = shared(want[i].file, &len);
		rvf_witness_report r;
		CU_ASSERT_EQUAL(rvf_verify_witness_buf(f, len, &r), 0);
		CU_ASSERT_TRUE(r.valid);
		CU_ASSERT_TRUE(r.chain_valid);
		CU_ASSERT_EQUAL(r.entries, want[i].entries);
		CU_ASSERT_EQUAL(r.restarts, want[i].restarts);
		CU_ASSERT_EQUAL(r.links_fold32, want[i].fold);
		CU_ASSERT_EQUAL(r.links_blake2b, 0);
		CU_ASSERT_EQUAL(r.hash_bad, 0);
		CU_ASSERT_EQUAL(r.listed_bad, 0);
		CU_ASSERT_TRUE(r.has_manifest);
		CU_ASSERT_EQUAL(r.nissues, 0);
		free(f);
	}
}

/* Chain head = fold32 of the last witness payload (f_witness: id 15). */
static void test_chain_head(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_witness.rvf", &len);
	rvf_witness_report r;
	rvf_verify_witness_buf(f, len, &r);
	uint8_t h[32];
	rvf_fold32(f + 2936 + 64, 67, h);
	CU_ASSERT_EQUAL(memcmp(h, r.head, 32), 0);
	CU_ASSERT_EQUAL(r.head_alg, RVF_WALG_FOLD32);
	free(f);
}

/* ---- tampering ------------------------------------------------------------ */

/* Every byte of every witness payload of f_witness: flipped -> the witness
 * itself is the first bad segment (content hash). */
static void test_every_witness_byte(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_witness.rvf", &len);
	segs s;
	list_segs(f, len, &s);
	size_t checked = 0, bad = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.type[i] != RVF_SEG_WITNESS)
			continue;
		for (uint64_t b = 0; b < s.plen[i]; b++) {
			uint8_t *p = f + s.off[i] + 64 + b;
			*p ^= 0x01;
			rvf_witness_report r;
			rvf_verify_witness_buf(f, len, &r);
			checked++;
			if (r.valid || r.nissues == 0 || r.issues[0].offset != s.off[i] ||
			    r.issues[0].seg_id != rd64(f + s.off[i] + 8))
				bad++;
			*p ^= 0x01;
		}
	}
	CU_ASSERT_EQUAL(checked, 5 * 67);
	CU_ASSERT_EQUAL(bad, 0);
	free(f);
}

/* The same with the content hash recomputed (an attacker who fixes the CRC):
 * the chain names the changed witness (its prev_hash bytes) or the next one. */
static void test_every_witness_byte_rehashed(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_witness.rvf", &len);
	segs s;
	list_segs(f, len, &s);
	size_t wi[8], nw = 0, bad = 0, checked = 0;
	for (size_t i = 0; i < s.n; i++)
		if (s.type[i] == RVF_SEG_WITNESS)
			wi[nw++] = i;
	CU_ASSERT_EQUAL_FATAL(nw, 5);
	for (size_t k = 0; k < nw; k++) {
		size_t i = wi[k];
		uint64_t prev_at = s.plen[i] - 32;
		for (uint64_t b = 0; b < s.plen[i]; b++) {
			int alen = b >= 9 && b <= 12; /* action_len: undecodable here */
			if (k == nw - 1 && b < prev_at && !alen)
				continue; /* last witness: only its link can be checked */
			uint8_t *p = f + s.off[i] + 64 + b;
			uint8_t save = *p, save_h[16];
			memcpy(save_h, f + s.off[i] + 0x28, 16);
			*p ^= 0x80;
			rehash(f, s.off[i]);
			rvf_witness_report r;
			rvf_verify_witness_buf(f, len, &r);
			checked++;
			uint64_t next = s.off[wi[k + 1 < nw ? k + 1 : k]];
			uint64_t expect = b >= prev_at || alen ? s.off[i] : next;
			if (r.valid || r.chain_valid || r.nissues == 0 || r.issues[0].offset != expect)
				bad++;
			*p = save;
			memcpy(f + s.off[i] + 0x28, save_h, 16);
		}
	}
	CU_ASSERT(checked > 250);
	CU_ASSERT_EQUAL(bad, 0);
	free(f);
}

/* A VEC byte: caught by the content hash, reported as first bad, and the
 * listed-segment check says the directory's segments do not all match. */
static void test_vec_flip(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_witness.rvf", &len);
	segs s;
	list_segs(f, len, &s);
	size_t bad = 0, n = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.type[i] != RVF_SEG_VEC)
			continue;
		for (uint64_t b = 0; b < s.plen[i]; b += 5) {
			f[s.off[i] + 64 + b] ^= 0x10;
			rvf_witness_report r;
			rvf_verify_witness_buf(f, len, &r);
			n++;
			if (r.valid || r.hash_bad != 1 || r.listed_bad != 1 || !r.chain_valid ||
			    r.issues[0].offset != s.off[i] || r.issues[0].seg_type != RVF_SEG_VEC ||
			    !strstr(r.issues[0].reason, "content hash"))
				bad++;
			f[s.off[i] + 64 + b] ^= 0x10;
		}
	}
	CU_ASSERT(n > 50);
	CU_ASSERT_EQUAL(bad, 0);
	free(f);
}

/* A destroyed witness header: the walk reports damage at that offset and the
 * next witness no longer links. */
static void test_header_damage_and_truncation(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_witness.rvf", &len);
	rvf_witness_report r;
	f[910] ^= 0xFF; /* magic of witness id 6 */
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_FALSE(r.chain_valid);
	CU_ASSERT_EQUAL(r.issues[0].offset, 910);
	CU_ASSERT(r.damaged_bytes >= 64);
	f[910] ^= 0xFF;
	/* truncated in the middle of the last witness */
	rvf_verify_witness_buf(f, 2936 + 64 + 30, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.entries, 4);
	CU_ASSERT_EQUAL(r.issues[0].offset, 2936);
	free(f);
}

/* ---- BLAKE2b chains and mixes ---------------------------------------------- */

static void test_blake2b_chain_after_reopen(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_reopen.rvf", &len);
	size_t l0 = len;
	/* a new session of ours: restart, then two BLAKE2b links */
	size_t a = len;
	len = add_witness(f, len, "ingest:count=1,epoch=5", 1, RVF_WALG_BLAKE2B, NULL, 0, 13);
	size_t b = len;
	len = add_witness(f, len, "ingest:count=2,epoch=6", 1, RVF_WALG_BLAKE2B, f + a + 64, b - a - 64, 14);
	size_t c = len;
	len = add_witness(f, len, "delete:count=1,epoch=7", 1, RVF_WALG_BLAKE2B, f + b + 64, c - b - 64, 15);
	rvf_witness_report r;
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.entries, 7);
	CU_ASSERT_EQUAL(r.restarts, 2);
	CU_ASSERT_EQUAL(r.links_fold32, 2);
	CU_ASSERT_EQUAL(r.links_blake2b, 2);
	CU_ASSERT_EQUAL(r.witnesses_blake2b, 3);
	CU_ASSERT_EQUAL(r.head_alg, RVF_WALG_BLAKE2B);
	uint8_t h[32];
	rvf_blake2b256(f + c + 64, len - c - 64, h);
	CU_ASSERT_EQUAL(memcmp(h, r.head, 32), 0);

	/* every byte of our BLAKE2b witnesses, CRC fixed: chain still breaks */
	size_t bad = 0;
	for (size_t off = a; off < c; off++) {
		size_t seg = off < b ? a : b, next = off < b ? b : c;
		if (off < seg + 64 || off == seg + 64 + 9 || off == seg + 64 + 10 || off == seg + 64 + 11 ||
		    off == seg + 64 + 12)
			continue; /* headers and action_len are other tests' business */
		f[off] ^= 0x04;
		rehash(f, seg);
		rvf_verify_witness_buf(f, len, &r);
		uint64_t linkpos = seg + 64 + (rd64(f + seg + 16) - 32);
		/* a changed mark changes the algorithm of this witness's own link */
		int mark = off + 10 >= linkpos && off < linkpos && seg == b;
		uint64_t expect = off >= linkpos || mark ? seg : next;
		if (r.valid || r.chain_valid || r.issues[0].offset != expect) {
			bad++;
			if (getenv("WV_DEBUG"))
				fprintf(stderr, "off %zu seg %zu expect %llu got %llu %s\n", off, seg,
					(unsigned long long)expect, (unsigned long long)r.issues[0].offset,
					r.issues[0].reason);
		}
		f[off] ^= 0x04;
		rehash(f, seg);
	}
	CU_ASSERT_EQUAL(bad, 0);

	/* a new session that switches back to fold32 (the reference reopening it) */
	size_t d = len;
	len = add_witness(f, len, "ingest:count=3,epoch=8", 0, RVF_WALG_FOLD32, NULL, 0, 16);
	size_t e = len;
	len = add_witness(f, len, "ingest:count=4,epoch=9", 0, RVF_WALG_FOLD32, f + d + 64, e - d - 64, 17);
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.restarts, 3);
	CU_ASSERT_EQUAL(r.links_fold32, 3);
	CU_ASSERT_EQUAL(r.links_blake2b, 2);
	(void)l0;
	free(f);
}

/* The algorithm is the one the linking witness declares: a marked witness
 * whose link is fold32, or an unmarked one linked with BLAKE2b, is broken. */
static void test_algorithm_mismatch(void)
{
	size_t len;
	uint8_t *f = shared("spec/fixtures/ref/f_witness.rvf", &len);
	size_t a = len;
	len = add_witness(f, len, "x", 1, RVF_WALG_BLAKE2B, NULL, 0, 20);
	size_t b = len;
	len = add_witness(f, len, "y", 1, RVF_WALG_FOLD32, f + a + 64, b - a - 64, 21);
	rvf_witness_report r;
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_FALSE(r.chain_valid);
	CU_ASSERT_EQUAL(r.issues[0].offset, b);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.issues[0].reason, "blake2b"));
	len = b;
	len = add_witness(f, len, "y", 0, RVF_WALG_BLAKE2B, f + a + 64, b - a - 64, 21);
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_FALSE(r.chain_valid);
	CU_ASSERT_EQUAL(r.issues[0].offset, b);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.issues[0].reason, "fold32"));
	free(f);
}

static void test_marker_detection(void)
{
	rvf_witness w = {0};
	w.action = "ingest:count=1,epoch=1,h=blake2b";
	w.action_len = (uint32_t)strlen(w.action);
	CU_ASSERT_EQUAL(rvf_witness_alg(&w), RVF_WALG_BLAKE2B);
	w.action = "ingest:count=1,epoch=1";
	w.action_len = (uint32_t)strlen(w.action);
	CU_ASSERT_EQUAL(rvf_witness_alg(&w), RVF_WALG_FOLD32);
	w.action = "h=blake2b";
	w.action_len = (uint32_t)strlen(w.action);
	CU_ASSERT_EQUAL(rvf_witness_alg(&w), RVF_WALG_FOLD32); /* the comma is part of the mark */
	/* BLAKE2b-256("") known answer */
	uint8_t h[32];
	char hx[65];
	rvf_blake2b256((const uint8_t *)"", 0, h);
	rvf_hex(h, 32, hx);
	CU_ASSERT_STRING_EQUAL(hx, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

/* ---- files written by our store ------------------------------------------- */

static void test_store_sessions(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/wit_store.rvf", rvf_test_tmpdir());
	rvf_create_opts o = {.dimension = 4, .metric = RVF_METRIC_L2};
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_create(path, &o, &s), 0);
	float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint64_t ids[2] = {1, 2};
	CU_ASSERT_EQUAL(rvf_ingest(s, ids, v, 2, NULL), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, ids, v, 2, NULL), 0);
	rvf_close(s);
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_delete(s, ids, 1, NULL), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, ids, v, 1, NULL), 0);
	CU_ASSERT_EQUAL(rvf_compact(s, NULL), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, ids + 1, v, 1, NULL), 0);
	rvf_close(s);
	rvf_witness_report r;
	CU_ASSERT_EQUAL(rvf_verify_witness(path, &r), 0);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.entries, 7); /* create + 2 + 2 kept, compact, ingest */
	/* the chain continues across the reopen and the compaction (on main
	 * both restarted it) */
	CU_ASSERT_EQUAL(r.restarts, 0);
	CU_ASSERT_EQUAL(r.links_blake2b, 6);
	CU_ASSERT_EQUAL(r.hash_bad, 0);
	CU_ASSERT_EQUAL(r.witnesses_covering, 7);
	CU_ASSERT(r.covered_compacted > 0); /* the old VECs, gone in the compaction */
	CU_ASSERT_EQUAL(r.covered_bad, 0);

	/* flip each byte of the file's witnesses and VECs: always detected */
	size_t len;
	uint8_t *f = load(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	segs s2;
	list_segs(f, len, &s2);
	size_t bad = 0;
	for (size_t i = 0; i < s2.n; i++) {
		if (s2.type[i] != RVF_SEG_WITNESS && s2.type[i] != RVF_SEG_VEC)
			continue;
		for (uint64_t b = 0; b < s2.plen[i]; b++) {
			f[s2.off[i] + 64 + b] ^= 0x20;
			rvf_verify_witness_buf(f, len, &r);
			if (r.valid || r.issues[0].offset != s2.off[i]) {
				bad++;
				if (getenv("WV_DEBUG"))
					fprintf(stderr, "seg %llu type %u byte %llu: first bad %llu %s\n",
						(unsigned long long)s2.off[i], s2.type[i], (unsigned long long)b,
						(unsigned long long)r.issues[0].offset, r.issues[0].reason);
			}
			f[s2.off[i] + 64 + b] ^= 0x20;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(f);
}

static void write_file(const char *path, const uint8_t *f, size_t len)
{
	FILE *o = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(fwrite(f, 1, len, o), len);
	fclose(o);
}

/* Witnesses carry BLAKE2b-256 of the payloads their commit wrote: a VEC
 * rewritten with its content hash recomputed fails (on main it verified),
 * as do a moved/renamed covered segment and a restarted chain. */
static void test_coverage(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/wit_cov.rvf", rvf_test_tmpdir());
	remove(path);
	rvf_create_opts o = {.dimension = 4, .metric = RVF_METRIC_L2};
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_create(path, &o, &s), 0);
	float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint64_t ids[3] = {1, 2, 3};
	CU_ASSERT_EQUAL(rvf_ingest(s, ids, v, 2, NULL), 0);
	rvf_close(s);
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, ids + 2, v, 1, NULL), 0);
	rvf_close(s);
	size_t len;
	uint8_t *f = load(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rvf_witness_report r;
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_TRUE_FATAL(r.valid);
	CU_ASSERT_EQUAL(r.restarts, 0);
	CU_ASSERT_EQUAL(r.links_blake2b, 2); /* create -> ingest -> ingest */
	CU_ASSERT_EQUAL(r.witnesses_covering, 3);
	CU_ASSERT_EQUAL(r.covered, 2); /* the create witness covers nothing */
	segs sg;
	list_segs(f, len, &sg);
	size_t vec = 0, w1 = 0, w2 = 0;
	for (size_t i = 0; i < sg.n; i++) {
		if (sg.type[i] == RVF_SEG_VEC && !vec)
			vec = sg.off[i];
		if (sg.type[i] == RVF_SEG_WITNESS && vec) /* the ingests' */
			*(w1 ? &w2 : &w1) = sg.off[i];
	}
	CU_ASSERT_FATAL(vec && w1 && w2);
	/* every VEC payload byte rewritten, content hash recomputed */
	size_t missed = 0;
	for (uint64_t b = 0; b < rd64(f + vec + 16); b++) {
		f[vec + 64 + b] ^= 0x10;
		rehash(f, vec);
		rvf_verify_witness_buf(f, len, &r);
		if (r.valid || r.issues[0].offset != vec || r.covered_bad != 1)
			missed++;
		f[vec + 64 + b] ^= 0x10;
		rehash(f, vec);
	}
	CU_ASSERT_EQUAL(missed, 0);
	f[vec + 64 + 20] ^= 1;
	rehash(f, vec);
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.issues[0].reason, "BLAKE2b-256 differs"));
	f[vec + 64 + 20] ^= 1;
	rehash(f, vec);
	/* the covered segment renamed (headers are not content-hashed) */
	uint64_t id = rd64(f + vec + 8);
	wr64(f + vec + 8, id + 100);
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.covered_bad, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.issues[0].reason, "no longer at offset"));
	wr64(f + vec + 8, id);
	/* the second witness restarted (prev_hash zeroed, CRC fixed) */
	rvf_witness w;
	CU_ASSERT_EQUAL_FATAL(rvf_witness_decode(f + w2 + 64, rd64(f + w2 + 16), &w), 0);
	memset((uint8_t *)w.prev_hash, 0, 32);
	rehash(f, w2);
	rvf_verify_witness_buf(f, len, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_FALSE(r.chain_valid);
	CU_ASSERT_EQUAL(r.issues[0].offset, w2);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.issues[0].reason, "restarts"));
	free(f);

	/* our session after the reference's: linked to its last witness */
	f = shared("spec/fixtures/ref/f_reopen.rvf", &len);
	write_file(path, f, len);
	rvf_verify_witness_buf(f, len, &r);
	uint64_t restarts = r.restarts, fold = r.links_fold32;
	free(f);
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, ids + 2, v, 1, NULL), 0);
	rvf_close(s);
	CU_ASSERT_EQUAL(rvf_verify_witness(path, &r), 0);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.restarts, restarts);
	CU_ASSERT_EQUAL(r.links_fold32, fold);
	CU_ASSERT_EQUAL(r.links_blake2b, 1);
}

static void test_missing_file(void)
{
	rvf_witness_report r;
	CU_ASSERT_EQUAL(rvf_verify_witness("/nonexistent/x.rvf", &r), RVF_E_NOENT);
	uint8_t junk[100] = {0};
	CU_ASSERT_EQUAL(rvf_verify_witness_buf(junk, sizeof junk, &r), 0);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_FALSE(r.has_manifest);
}

RVF_SUITE(witness,
	  {"fixture chains (fold32, restarts)", test_fixture_chains},
	  {"chain head", test_chain_head},
	  {"every witness byte flipped", test_every_witness_byte},
	  {"every witness byte flipped, CRC fixed", test_every_witness_byte_rehashed},
	  {"VEC byte flips", test_vec_flip},
	  {"header damage and truncation", test_header_damage_and_truncation},
	  {"BLAKE2b chain after reopen, mixed", test_blake2b_chain_after_reopen},
	  {"per-link algorithm mismatch", test_algorithm_mismatch},
	  {"marker and BLAKE2b KAT", test_marker_detection},
	  {"store sessions, compaction, flips", test_store_sessions},
	  {"coverage: rewritten payloads, renamed segments, restarts", test_coverage},
	  {"missing / junk file", test_missing_file})
