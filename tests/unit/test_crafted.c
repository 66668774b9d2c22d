/* Crafted files and payloads: each decoder bug found by review or by the
 * fuzzers (tests/fuzz/) gets its reproduction here. Every case must end in a
 * clear error (or a documented lenient result), never in a read or write
 * past a buffer; the suite runs under ASan in `asan-unit`. */
#include "format.h"
#include "rvf.h"
#include "testreg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 8

static char *tp(const char *name)
{
	static char buf[4][512];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 512, "%s/crafted_%s", rvf_test_tmpdir(), name);
	return b;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static int spit(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(b, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Offset of the last segment of `type` in a file written by us (segments
 * back to back from offset 0), or SIZE_MAX. */
static size_t last_seg(const uint8_t *b, size_t len, uint8_t type)
{
	size_t found = SIZE_MAX;
	for (size_t off = 0; len - off >= RVF_SEG_HDR_SIZE;) {
		rvf_seg_hdr h;
		rvf_hdr_decode(b + off, &h);
		if (h.magic != RVF_SEG_MAGIC || h.payload_length > len - off - RVF_SEG_HDR_SIZE)
			break;
		if (h.seg_type == type)
			found = off;
		off += RVF_SEG_HDR_SIZE + h.payload_length;
	}
	return found;
}

/* A 3-vector parent and its COW branch, closed; returns the branch's bytes
 * and the offset of its latest COW_MAP segment. */
static uint8_t *make_branch(const char *parent, const char *child, size_t *len, size_t *cm)
{
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	rvf_store *p, *c;
	remove(parent);
	remove(child);
	if (rvf_create(parent, &o, &p))
		return NULL;
	uint64_t ids[3] = {1, 2, 3};
	float v[3 * DIM];
	for (int i = 0; i < 3 * DIM; i++)
		v[i] = (float)i;
	int err = rvf_ingest(p, ids, v, 3, NULL);
	if (!err)
		err = rvf_derive(p, child, 1, &c);
	rvf_close(p);
	if (err)
		return NULL;
	rvf_close(c);
	uint8_t *b = slurp(child, len);
	*cm = b ? last_seg(b, *len, RVF_SEG_COW_MAP) : SIZE_MAX;
	return b;
}

/* Rewrites the content hash of the segment at `off` after a payload edit. */
static void rehash(uint8_t *b, size_t off)
{
	rvf_seg_hdr h;
	rvf_hdr_decode(b + off, &h);
	rvf_content_hash(b + off + RVF_SEG_HDR_SIZE, h.payload_length, b + off + 0x28);
}

/* Opens `path` for writing and tries every writer that rewrites the COW map:
 * the open itself must already refuse the file with RVF_E_CORRUPT. */
static void expect_cow_refused(const char *path, const char *what)
{
	rvf_store *s = NULL;
	int rc = rvf_open(path, 0, &s);
	CU_ASSERT_EQUAL(rc, RVF_E_CORRUPT);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), what));
	if (s) { /* old code: the next commit wrote past the COW map buffer */
		uint64_t id = 50;
		float v[DIM] = {0};
		rvf_ingest(s, &id, v, 1, NULL);
		rvf_delete(s, &id, 1, NULL);
		rvf_freeze(s);
		rvf_close(s);
	}
	rc = rvf_open(path, RVF_OPEN_READONLY, &s);
	CU_ASSERT_EQUAL(rc, RVF_E_CORRUPT);
	if (!rc)
		rvf_close(s);
}

/* Issue 12: a cluster count whose 5 + 9 * count wraps a u32 passed `status`
 * and the next ingest, delete or freeze wrote past the heap buffer. */
static void test_cow_cluster_count_wraps(void)
{
	size_t len, cm;
	uint8_t *b = make_branch(tp("cp.rvf"), tp("cc.rvf"), &len, &cm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_FATAL(cm != SIZE_MAX);
	uint8_t *p = b + cm + RVF_SEG_HDR_SIZE;
	uint32_t plen = rd32(p + 0x49);
	CU_ASSERT_EQUAL(rd32(p + 0x4D), 5 + 9 * rd32(p + 0x51 + plen + 1));
	/* 9 * 0x1C71C71C + 5 = 2^32 + 1: the old writer allocated 1 map byte */
	wr32(p + 0x51 + plen + 1, 0x1C71C71Cu);
	rehash(b, cm);
	CU_ASSERT_EQUAL_FATAL(spit(tp("cc.rvf"), b, len), 0);
	expect_cow_refused(tp("cc.rvf"), "cluster map");
	free(b);
}

/* A map_len (q) beyond the payload, and a payload that ends right after the
 * parent path while q still says 5 (the old reader read 5 bytes past it). */
static void test_cow_map_len_past_payload(void)
{
	size_t len, cm;
	uint8_t *b = make_branch(tp("qp.rvf"), tp("qc.rvf"), &len, &cm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_FATAL(cm != SIZE_MAX);
	uint8_t *p = b + cm + RVF_SEG_HDR_SIZE;
	uint32_t q = rd32(p + 0x4D);
	wr32(p + 0x4D, 0xFFFFFFFFu);
	rehash(b, cm);
	CU_ASSERT_EQUAL_FATAL(spit(tp("qc.rvf"), b, len), 0);
	expect_cow_refused(tp("qc.rvf"), "cluster map");

	/* Drop the cluster map from the payload (header length shortened; the
	 * directory locates segments, the header gives the length). */
	wr32(p + 0x4D, q);
	wr64(b + cm + 0x10, rd64(b + cm + 0x10) - q);
	rehash(b, cm);
	CU_ASSERT_EQUAL_FATAL(spit(tp("qc.rvf"), b, len), 0);
	expect_cow_refused(tp("qc.rvf"), "cluster map");

	/* a count that needs more bytes than q declares */
	wr64(b + cm + 0x10, rd64(b + cm + 0x10) + q);
	uint32_t plen = rd32(p + 0x49);
	wr32(p + 0x51 + plen + 1, rd32(p + 0x51 + plen + 1) + 1);
	rehash(b, cm);
	CU_ASSERT_EQUAL_FATAL(spit(tp("qc.rvf"), b, len), 0);
	expect_cow_refused(tp("qc.rvf"), "cluster map");
	free(b);
}

/* The untouched branch still opens and takes writes (the checks above are
 * not over-strict for what we and the reference write). */
static void test_cow_valid_branch_writes(void)
{
	size_t len, cm;
	uint8_t *b = make_branch(tp("vp.rvf"), tp("vc.rvf"), &len, &cm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	free(b);
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("vc.rvf"), 0, &s), RVF_OK);
	uint64_t id = 50;
	float v[DIM] = {0};
	CU_ASSERT_EQUAL(rvf_ingest(s, &id, v, 1, NULL), RVF_OK);
	CU_ASSERT_EQUAL(rvf_delete(s, &id, 1, NULL), RVF_OK);
	CU_ASSERT_EQUAL(rvf_freeze(s), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(s), 3);
	rvf_close(s);
}

/* Appends a segment (type, payload) and a manifest listing it after the
 * file's current directory; returns 0 or -1. */
static int append_listed(const char *path, uint8_t type, const uint8_t *pay, size_t plen)
{
	size_t len;
	uint8_t *b = slurp(path, &len);
	if (!b)
		return -1;
	size_t mo = last_seg(b, len, RVF_SEG_MANIFEST);
	rvf_manifest m;
	if (mo == SIZE_MAX || rvf_manifest_decode(b + mo + RVF_SEG_HDR_SIZE, rd64(b + mo + 0x10), &m)) {
		free(b);
		return -1;
	}
	uint64_t id = rd64(b + mo + 8) + 1;
	rvf_dir_entry *d = realloc(m.dir, (m.seg_count + 1) * sizeof *d);
	if (!d) {
		rvf_manifest_free(&m);
		free(b);
		return -1;
	}
	m.dir = d;
	m.dir[m.seg_count++] = (rvf_dir_entry){.seg_id = id, .offset = len, .payload_length = plen,
						.seg_type = type};
	m.epoch++;
	uint64_t mlen = rvf_manifest_encoded_size(&m);
	size_t nlen = len + 2 * RVF_SEG_HDR_SIZE + plen + mlen;
	uint8_t *n = realloc(b, nlen);
	if (!n) {
		rvf_manifest_free(&m);
		free(b);
		return -1;
	}
	uint8_t *sp = n + len + RVF_SEG_HDR_SIZE, *mp = sp + plen + RVF_SEG_HDR_SIZE;
	memcpy(sp, pay, plen);
	rvf_hdr_encode(sp - RVF_SEG_HDR_SIZE, type, id, sp, plen);
	rvf_manifest_encode(&m, mp);
	rvf_hdr_encode(mp - RVF_SEG_HDR_SIZE, RVF_SEG_MANIFEST, id + 1, mp, mlen);
	rvf_manifest_free(&m);
	int rc = spit(path, n, nlen);
	free(n);
	return rc;
}

/* A listed VEC_SEG shorter than its 6-byte header: the open skips it, and
 * the next ingest, which absorbs small trailing VEC segments, sized the
 * merge from (payload_length - 6) and failed with "out of memory". */
static void test_vec_seg_shorter_than_header(void)
{
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	rvf_store *s;
	remove(tp("sv.rvf"));
	CU_ASSERT_EQUAL_FATAL(rvf_create(tp("sv.rvf"), &o, &s), RVF_OK);
	uint64_t id = 1;
	float v[DIM] = {1, 2, 3, 4, 5, 6, 7, 8};
	CU_ASSERT_EQUAL_FATAL(rvf_ingest(s, &id, v, 1, NULL), RVF_OK);
	rvf_close(s);
	static const uint8_t tiny[2] = {DIM, 0};
	CU_ASSERT_EQUAL_FATAL(append_listed(tp("sv.rvf"), RVF_SEG_VEC, tiny, sizeof tiny), 0);
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("sv.rvf"), 0, &s), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(s), 1);
	id = 2;
	CU_ASSERT_EQUAL(rvf_ingest(s, &id, v, 1, NULL), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(s), 2);
	rvf_close(s);
	CU_ASSERT_EQUAL_FATAL(rvf_open(tp("sv.rvf"), RVF_OPEN_READONLY, &s), RVF_OK);
	CU_ASSERT_EQUAL(rvf_live_count(s), 2);
	rvf_close(s);
}

RVF_SUITE(crafted, {"COW map: cluster count whose map size wraps u32", test_cow_cluster_count_wraps},
	  {"COW map: map_len past the payload / count past map_len", test_cow_map_len_past_payload},
	  {"COW map: a valid branch still opens and takes writes", test_cow_valid_branch_writes},
	  {"VEC_SEG shorter than its header: skipped, and the next ingest absorbs it", test_vec_seg_shorter_than_header})
