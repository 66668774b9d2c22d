/* test_format.c — the pure byte codec of format.h against the spec's worked
 * examples (§4, §22) and the real corpus/fixture files. */
#include "format.h"
#include "testreg.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* Reads shared/<rel> whole; NULL (and a CUnit failure) if it cannot or it is
 * empty. */
static uint8_t *slurp(const char *rel, size_t *len)
{
	uint8_t *buf = tu_slurp_shared(rel, len);

	if (buf && !*len) {
		free(buf);
		buf = NULL;
	}
	CU_ASSERT_PTR_NOT_NULL(buf);
	return buf;
}

/* Decodes the segment header at off, checking it lies inside the file. */
static int seg_at(const uint8_t *f, size_t flen, size_t off, rvf_seg_hdr *h)
{
	if (off + RVF_SEG_HDR_SIZE > flen)
		return -1;
	rvf_hdr_decode(f + off, h);
	if (h->magic != RVF_SEG_MAGIC || h->payload_length > flen - off - RVF_SEG_HDR_SIZE)
		return -1;
	return 0;
}

static void check_dir(const rvf_dir_entry *e, uint64_t id, uint64_t off, uint64_t plen,
		      uint8_t type)
{
	CU_ASSERT_EQUAL(e->seg_id, id);
	CU_ASSERT_EQUAL(e->offset, off);
	CU_ASSERT_EQUAL(e->payload_length, plen);
	CU_ASSERT_EQUAL(e->seg_type, type);
}

static int is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- §3/§4 header and content hash ------------------------------------- */

static void t_crc_check_value(void)
{
	uint8_t h[16];

	rvf_content_hash((const uint8_t *)"123456789", 9, h);
	CU_ASSERT_EQUAL(rd32(h), 0xCBF43926u);
	CU_ASSERT_EQUAL(rd32(h + 4), 0xF43926CBu);
	CU_ASSERT_EQUAL(rd32(h + 8), 0x3926CBF4u);
	CU_ASSERT_EQUAL(rd32(h + 12), 0x26CBF439u);
	rvf_content_hash(NULL, 0, h); /* empty payload: CRC 0, hash all zero */
	CU_ASSERT(is_zero(h, 16));
}

static void t_hash_example(void)
{
	static const uint8_t want[16] = {0x7f, 0x78, 0x3f, 0x4c, 0x4c, 0x7f, 0x78, 0x3f,
					 0x3f, 0x4c, 0x7f, 0x78, 0x78, 0x3f, 0x4c, 0x7f};
	uint8_t h[16], zero[16] = {0}, pl[98];
	size_t n;
	uint8_t *f = slurp("corpus/basic_store.rvf", &n);

	if (!f)
		return;
	rvf_content_hash(f + 64, 98, h);
	CU_ASSERT(!memcmp(h, want, 16));
	CU_ASSERT(!memcmp(f + 0x28, want, 16));
	CU_ASSERT(rvf_content_hash_ok(f + 0x28, f + 64, 98));
	/* all zero is "unset", not a match: only rvf_unhashed_end says where it is allowed */
	CU_ASSERT(!rvf_content_hash_ok(zero, f + 64, 98));
	CU_ASSERT(rvf_hash_unset(zero, 98) && !rvf_hash_unset(zero, 0) && !rvf_hash_unset(h, 98));
	CU_ASSERT_EQUAL(rvf_unhashed_end(f, n), 0); /* the reference hashes from its first segment */
	memcpy(pl, f + 64, 98);
	pl[50] ^= 1;
	CU_ASSERT(!rvf_content_hash_ok(f + 0x28, pl, 98));
	h[15] ^= 0x80;
	CU_ASSERT(!rvf_content_hash_ok(h, f + 64, 98));
	free(f);
}

static void t_hdr_basic_store(void)
{
	static const struct {
		size_t off;
		uint8_t type;
		uint64_t id, plen;
	} segs[] = {{0, RVF_SEG_MANIFEST, 1, 98},
		    {162, RVF_SEG_VEC, 2, 154406},
		    {154632, RVF_SEG_MANIFEST, 3, 148}};
	uint8_t enc[RVF_SEG_HDR_SIZE];
	rvf_seg_hdr h;
	size_t n;
	uint8_t *f = slurp("corpus/basic_store.rvf", &n);

	if (!f)
		return;
	CU_ASSERT_EQUAL(n, 154844);
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		CU_ASSERT_FATAL(seg_at(f, n, segs[i].off, &h) == 0);
		CU_ASSERT_EQUAL(h.version, 1);
		CU_ASSERT_EQUAL(h.seg_type, segs[i].type);
		CU_ASSERT_EQUAL(h.flags, 0);
		CU_ASSERT_EQUAL(h.seg_id, segs[i].id);
		CU_ASSERT_EQUAL(h.payload_length, segs[i].plen);
		CU_ASSERT_EQUAL(h.timestamp_ns, 0);
		CU_ASSERT_EQUAL(h.checksum_algo, 0);
		CU_ASSERT_EQUAL(h.compression, 0);
		CU_ASSERT_EQUAL(h.uncompressed_len, 0);
		CU_ASSERT_EQUAL(h.alignment_pad, 0);
		CU_ASSERT(rvf_content_hash_ok(h.content_hash, f + segs[i].off + 64, h.payload_length));
		/* A G2 writer reproduces G1 headers byte for byte. */
		rvf_hdr_encode(enc, segs[i].type, segs[i].id, f + segs[i].off + 64, segs[i].plen);
		CU_ASSERT(!memcmp(enc, f + segs[i].off, RVF_SEG_HDR_SIZE));
	}
	/* Last segment ends exactly at EOF: no padding anywhere. */
	CU_ASSERT_EQUAL(154632 + 64 + 148, n);
	CU_ASSERT_EQUAL(rd32(f + 0x28 + 162), 0x9e831257u);
	free(f);
}

/* ---- §11.3 fold32 ------------------------------------------------------ */

static void t_fold32(void)
{
	static const uint8_t kpre[16] = {0x35, 0x2e, 0x11, 0xfe, 0x56, 0x36, 0xec, 0x64,
					 0x6e, 0x27, 0xa9, 0x2d, 0xc7, 0x83, 0xda, 0xef};
	uint8_t out[32], img[4096];
	const uint8_t *pl;
	rvf_seg_hdr h;
	size_t n;
	uint8_t *f;

	memset(out, 0xAA, sizeof(out));
	rvf_fold32(NULL, 0, out);
	CU_ASSERT(is_zero(out, 32));

	f = slurp("corpus/self_booting.rvf", &n);
	if (!f)
		return;
	CU_ASSERT_FATAL(seg_at(f, n, 26444, &h) == 0);
	CU_ASSERT_EQUAL(h.seg_type, RVF_SEG_KERNEL);
	CU_ASSERT_EQUAL_FATAL(h.payload_length, 4224);
	pl = f + 26444 + 64;
	CU_ASSERT_EQUAL(rd32(pl), RVF_KERNEL_MAGIC);
	CU_ASSERT_EQUAL(rd64(pl + 0x18), 4096);
	rvf_fold32(pl + RVF_KERNEL_HDR, 4096, out);
	CU_ASSERT(!memcmp(out, pl + 0x30, 32));
	CU_ASSERT(!memcmp(out, kpre, 16));
	/* Same digest from an independently built image of 4096 × 0x90. */
	memset(img, 0x90, sizeof(img));
	rvf_fold32(img, sizeof(img), out);
	CU_ASSERT(!memcmp(out, pl + 0x30, 32));
	free(f);

	/* eBPF program hash (§22.3): fold32 over the program only. */
	f = slurp("corpus/ebpf_accelerator.rvf", &n);
	if (!f)
		return;
	CU_ASSERT_FATAL(seg_at(f, n, 154844, &h) == 0);
	pl = f + 154844 + 64;
	CU_ASSERT_EQUAL(rd32(pl), RVF_EBPF_MAGIC);
	rvf_fold32(pl + RVF_EBPF_HDR, 1024, out);
	CU_ASSERT(!memcmp(out, pl + 0x20, 32));
	CU_ASSERT_EQUAL(out[0], 0xe5);
	free(f);
}

/* ---- §6 manifest against §22 ------------------------------------------- */

/* Loads the manifest at off, decodes it and checks re-encoding is exact. */
static uint8_t *load_manifest(const char *rel, size_t off, uint64_t plen, rvf_manifest *m)
{
	rvf_seg_hdr h;
	uint8_t *f, *enc;
	size_t n;

	memset(m, 0, sizeof(*m));
	f = slurp(rel, &n);
	if (!f)
		return NULL;
	if (seg_at(f, n, off, &h) || h.seg_type != RVF_SEG_MANIFEST || h.payload_length != plen) {
		CU_FAIL("no manifest at the spec's offset");
		free(f);
		return NULL;
	}
	CU_ASSERT(rvf_content_hash_ok(h.content_hash, f + off + 64, plen));
	CU_ASSERT_EQUAL(rvf_manifest_decode(f + off + 64, plen, m), 0);
	CU_ASSERT_EQUAL(rvf_manifest_encoded_size(m), plen);
	enc = malloc(plen);
	if (enc && rvf_manifest_encoded_size(m) == plen) {
		rvf_manifest_encode(m, enc);
		CU_ASSERT(!memcmp(enc, f + off + 64, plen));
	}
	free(enc);
	return f;
}

static void t_manifest_basic_store(void)
{
	static const uint8_t fid[16] = {0x8e, 0xef, 0xb3, 0x73, 0x9b, 0x41, 0x96, 0x70,
					0xbd, 0xb5, 0xed, 0x62, 0x13, 0x73, 0x4b, 0x6a};
	rvf_manifest m;
	uint8_t *f;

	/* §22.1: the creation manifest, empty with identity. */
	f = load_manifest("corpus/basic_store.rvf", 0, 98, &m);
	CU_ASSERT_EQUAL(m.epoch, 0);
	CU_ASSERT_EQUAL(m.dimension, 384);
	CU_ASSERT_EQUAL(m.total_vectors, 0);
	CU_ASSERT_EQUAL(m.seg_count, 0);
	CU_ASSERT_EQUAL(m.deleted_count, 0);
	CU_ASSERT(m.has_identity);
	CU_ASSERT(!memcmp(m.file_id, fid, 16));
	rvf_manifest_free(&m);
	free(f);

	/* §22.2: the current manifest. */
	f = load_manifest("corpus/basic_store.rvf", 154632, 148, &m);
	CU_ASSERT_EQUAL(m.epoch, 1);
	CU_ASSERT_EQUAL(m.dimension, 384);
	CU_ASSERT_EQUAL(m.total_vectors, 100);
	CU_ASSERT_EQUAL(m.profile_id, 0);
	CU_ASSERT_EQUAL(m.metric, 0);
	CU_ASSERT_EQUAL_FATAL(m.seg_count, 2);
	check_dir(&m.dir[0], 1, 0, 98, RVF_SEG_MANIFEST);
	check_dir(&m.dir[1], 2, 162, 154406, RVF_SEG_VEC);
	CU_ASSERT_EQUAL(m.deleted_count, 0);
	CU_ASSERT(m.has_identity);
	CU_ASSERT(!memcmp(m.file_id, fid, 16));
	CU_ASSERT(is_zero(m.parent_id, 16));
	CU_ASSERT(is_zero(m.parent_hash, 32));
	CU_ASSERT_EQUAL(m.lineage_depth, 0);
	rvf_manifest_free(&m);
	free(f);
}

static void t_manifest_ebpf_kernel(void)
{
	static const uint8_t fid[16] = {0xee, 0xb9, 0x99, 0x97, 0x1d, 0x04, 0x43, 0x4c,
					0x15, 0x1c, 0x54, 0x10, 0xb1, 0xe6, 0x4e, 0x66};
	rvf_manifest m;
	uint8_t *f;

	/* §22.4 */
	f = load_manifest("corpus/self_booting.rvf", 30732, 198, &m);
	CU_ASSERT_EQUAL(m.epoch, 2);
	CU_ASSERT_EQUAL(m.dimension, 128);
	CU_ASSERT_EQUAL(m.total_vectors, 50);
	CU_ASSERT_EQUAL(m.metric, 0);
	CU_ASSERT_EQUAL_FATAL(m.seg_count, 4);
	check_dir(&m.dir[0], 1, 0, 98, RVF_SEG_MANIFEST);
	check_dir(&m.dir[1], 2, 162, 26006, RVF_SEG_VEC);
	check_dir(&m.dir[2], 3, 26232, 148, RVF_SEG_MANIFEST);
	check_dir(&m.dir[3], 4, 26444, 4224, RVF_SEG_KERNEL);
	CU_ASSERT_EQUAL(m.deleted_count, 0);
	CU_ASSERT(m.has_identity);
	CU_ASSERT(!memcmp(m.file_id, fid, 16));
	CU_ASSERT(is_zero(m.parent_id, 16));
	CU_ASSERT_EQUAL(m.lineage_depth, 0);
	rvf_manifest_free(&m);
	free(f);

	/* §22.3 */
	f = load_manifest("corpus/ebpf_accelerator.rvf", 156252, 198, &m);
	CU_ASSERT_EQUAL(m.epoch, 2);
	CU_ASSERT_EQUAL(m.dimension, 384);
	CU_ASSERT_EQUAL_FATAL(m.seg_count, 4);
	check_dir(&m.dir[0], 1, 0, 98, RVF_SEG_MANIFEST);
	check_dir(&m.dir[1], 2, 162, 154406, RVF_SEG_VEC);
	check_dir(&m.dir[2], 3, 154632, 148, RVF_SEG_MANIFEST);
	check_dir(&m.dir[3], 4, 154844, 1344, RVF_SEG_EBPF);
	rvf_manifest_free(&m);
	free(f);
}

static void t_manifest_g2(void)
{
	static const uint8_t fid[16] = {0xb8, 0x84, 0x5a, 0x3a, 0x95, 0xe5, 0xbe, 0xea,
					0x9c, 0xcb, 0x8f, 0xa2, 0x87, 0x56, 0xf8, 0xf8};
	static const uint64_t del[] = {3, 5, 7, 120};
	rvf_manifest m;
	uint8_t *f;

	/* §22.5: metric byte 2 and a WITNESS in the directory. */
	f = load_manifest("spec/fixtures/ref/f_cosine.rvf", 14765, 173, &m);
	CU_ASSERT_EQUAL(m.epoch, 1);
	CU_ASSERT_EQUAL(m.dimension, 16);
	CU_ASSERT_EQUAL(m.total_vectors, 200);
	CU_ASSERT_EQUAL(m.profile_id, 0);
	CU_ASSERT_EQUAL(m.metric, 2);
	CU_ASSERT_EQUAL_FATAL(m.seg_count, 3);
	check_dir(&m.dir[0], 1, 0, 98, RVF_SEG_MANIFEST);
	check_dir(&m.dir[1], 2, 162, 14406, RVF_SEG_VEC);
	check_dir(&m.dir[2], 3, 14632, 69, RVF_SEG_WITNESS);
	CU_ASSERT(m.has_identity);
	CU_ASSERT(!memcmp(m.file_id, fid, 16));
	rvf_manifest_free(&m);
	free(f);

	/* f_delete: a real deletion list (999 is in the journal only, §9). */
	f = load_manifest("spec/fixtures/ref/f_delete.rvf", 12845, 430, &m);
	CU_ASSERT_EQUAL(m.epoch, 4);
	CU_ASSERT_EQUAL(m.seg_count, 12);
	CU_ASSERT_EQUAL_FATAL(m.deleted_count, 4);
	CU_ASSERT(!memcmp(m.deleted, del, sizeof(del)));
	CU_ASSERT(m.has_identity);
	rvf_manifest_free(&m);
	free(f);
}

/* Encodes m, decodes it back and compares every field. */
static void roundtrip(const rvf_manifest *m)
{
	uint64_t sz = rvf_manifest_encoded_size(m);
	uint8_t *buf = malloc(sz);
	rvf_manifest d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	rvf_manifest_encode(m, buf);
	CU_ASSERT_EQUAL_FATAL(rvf_manifest_decode(buf, sz, &d), 0);
	CU_ASSERT_EQUAL(d.epoch, m->epoch);
	CU_ASSERT_EQUAL(d.dimension, m->dimension);
	CU_ASSERT_EQUAL(d.total_vectors, m->total_vectors);
	CU_ASSERT_EQUAL(d.profile_id, m->profile_id);
	CU_ASSERT_EQUAL(d.metric, m->metric);
	CU_ASSERT_EQUAL_FATAL(d.seg_count, m->seg_count);
	for (uint32_t i = 0; i < m->seg_count; i++)
		check_dir(&d.dir[i], m->dir[i].seg_id, m->dir[i].offset, m->dir[i].payload_length,
			  m->dir[i].seg_type);
	CU_ASSERT_EQUAL_FATAL(d.deleted_count, m->deleted_count);
	for (uint32_t i = 0; i < m->deleted_count; i++)
		CU_ASSERT_EQUAL(d.deleted[i], m->deleted[i]);
	CU_ASSERT_EQUAL(d.has_identity, m->has_identity);
	if (m->has_identity) {
		CU_ASSERT(!memcmp(d.file_id, m->file_id, 16));
		CU_ASSERT(!memcmp(d.parent_id, m->parent_id, 16));
		CU_ASSERT(!memcmp(d.parent_hash, m->parent_hash, 32));
		CU_ASSERT_EQUAL(d.lineage_depth, m->lineage_depth);
	}
	rvf_manifest_free(&d);
	free(buf);
}

static void t_manifest_roundtrip(void)
{
	rvf_dir_entry dir[3] = {{1, 0, 98, RVF_SEG_MANIFEST},
				{2, 162, 14406, RVF_SEG_VEC},
				{0xFFFFFFFFFFFFFFFFull, 1ull << 40, 7, 0x99}};
	uint64_t del[3] = {1, 9007199254740991ull, 0xFFFFFFFFFFFFFFFFull};
	rvf_manifest m;

	memset(&m, 0, sizeof(m));
	m.dimension = 65535;
	CU_ASSERT_EQUAL(rvf_manifest_encoded_size(&m), 26);
	roundtrip(&m);

	m.epoch = 0xDEADBEEF;
	m.total_vectors = 1ull << 50;
	m.profile_id = 3;
	m.metric = 1;
	m.seg_count = 3;
	m.dir = dir;
	roundtrip(&m);
	m.deleted_count = 3;
	m.deleted = del;
	CU_ASSERT_EQUAL(rvf_manifest_encoded_size(&m), 22 + 75 + 4 + 24);
	roundtrip(&m);

	m.has_identity = 1;
	for (int i = 0; i < 16; i++) {
		m.file_id[i] = (uint8_t)(i + 1);
		m.parent_id[i] = (uint8_t)(0xF0 | i);
	}
	for (int i = 0; i < 32; i++)
		m.parent_hash[i] = (uint8_t)(i * 7);
	m.lineage_depth = 2;
	CU_ASSERT_EQUAL(rvf_manifest_encoded_size(&m), 22 + 75 + 4 + 24 + 72);
	roundtrip(&m);
	m.deleted_count = 0;
	roundtrip(&m);
	m.seg_count = 0;
	CU_ASSERT_EQUAL(rvf_manifest_encoded_size(&m), 98);
	roundtrip(&m);
}

/* ---- §6.2 hostile input ------------------------------------------------- */

/* Every prefix of f_delete's manifest (12 entries, 4 deletions, identity)
 * decodes exactly as the lenient rule says. */
static void t_manifest_truncate(void)
{
	const uint64_t full = 430, dir_end = 22 + 12 * 25, del_start = dir_end + 4;
	rvf_manifest m;
	size_t n;
	uint8_t *f = slurp("spec/fixtures/ref/f_delete.rvf", &n), *p;

	if (!f)
		return;
	CU_ASSERT_FATAL(n >= 12845 + 64 + full);
	for (uint64_t len = 0; len <= full; len++) {
		/* Fresh heap copy so ASan catches any read past len. */
		p = malloc(len ? len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		memcpy(p, f + 12845 + 64, len);
		int rc = rvf_manifest_decode(p, len, &m);

		if (len < dir_end) {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_PTR_NULL(m.dir);
		} else {
			uint64_t nd = len < del_start ? 0 : (len - del_start) / 8;

			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(m.seg_count, 12);
			CU_ASSERT_EQUAL(m.deleted_count, nd > 4 ? 4 : nd);
			CU_ASSERT_EQUAL(m.has_identity, len == full);
		}
		rvf_manifest_free(&m);
		free(p);
	}
	free(f);
}

/* Every byte of a real manifest flipped to several values: decode must
 * either refuse or give a structurally consistent result. */
static void t_manifest_flip(void)
{
	static const uint8_t xors[] = {0xFF, 0x01, 0x80, 0x7F};
	const uint64_t len = 198;
	rvf_manifest m;
	size_t n;
	uint8_t *f = slurp("corpus/self_booting.rvf", &n), *p;

	if (!f)
		return;
	p = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (uint64_t i = 0; i < len; i++) {
		for (size_t x = 0; x < sizeof(xors); x++) {
			memcpy(p, f + 30732 + 64, len);
			p[i] ^= xors[x];
			int rc = rvf_manifest_decode(p, len, &m);

			CU_ASSERT(rc == 0 || rc == -1);
			if (rc == 0) {
				CU_ASSERT(22 + 25ull * m.seg_count + 8ull * m.deleted_count <= len);
				if (m.seg_count)
					CU_ASSERT_PTR_NOT_NULL(m.dir);
			}
			rvf_manifest_free(&m);
		}
	}
	free(p);
	free(f);
}

static void t_manifest_garbage(void)
{
	uint8_t b[200];
	uint32_t seed = 12345;
	rvf_manifest m;

	/* seg_count larger than the payload can hold. */
	memset(b, 0, sizeof(b));
	wr32(b + 14, 0xFFFFFFFFu);
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, sizeof(b), &m), -1);
	wr32(b + 14, 8); /* (200 - 22) / 25 = 7 */
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, sizeof(b), &m), -1);
	wr32(b + 14, 7);
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, sizeof(b), &m), 0);
	CU_ASSERT_EQUAL(m.seg_count, 7);
	CU_ASSERT_EQUAL(m.dimension, 0); /* dimension 0 is accepted */
	rvf_manifest_free(&m);

	/* Huge deleted_count is clamped to the ids present. */
	memset(b, 0, sizeof(b));
	wr32(b + 22, 0xFFFFFFFFu);
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, 26 + 3 * 8 + 5, &m), 0);
	CU_ASSERT_EQUAL(m.deleted_count, 3);
	CU_ASSERT_FALSE(m.has_identity);
	rvf_manifest_free(&m);

	/* Marker with only 71 bytes after the list: no identity; with 72 and
	 * trailing junk: identity, junk ignored. */
	memset(b, 0, sizeof(b));
	wr32(b + 26, 0x46494449u);
	b[30] = 0x42;
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, 26 + 71, &m), 0);
	CU_ASSERT_FALSE(m.has_identity);
	CU_ASSERT_EQUAL(m.file_id[0], 0);
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, sizeof(b), &m), 0);
	CU_ASSERT(m.has_identity);
	CU_ASSERT_EQUAL(m.file_id[0], 0x42);
	wr32(b + 26, 0x46494448u); /* wrong marker */
	CU_ASSERT_EQUAL(rvf_manifest_decode(b, sizeof(b), &m), 0);
	CU_ASSERT_FALSE(m.has_identity);

	/* Random buffers of every size up to 200: never crash. */
	for (size_t len = 0; len <= sizeof(b); len++) {
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			b[i] = (uint8_t)(seed >> 16);
		}
		if (len >= 18 && (len & 1)) /* make some directories fit */
			wr32(b + 14, (uint32_t)(len % 7));
		int rc = rvf_manifest_decode(b, len, &m);

		CU_ASSERT(rc == 0 || rc == -1);
		rvf_manifest_free(&m);
	}
	rvf_manifest_free(NULL);
}

/* ---- §8 VEC ------------------------------------------------------------- */

static void t_vec_header(void)
{
	uint16_t dim;
	uint32_t cnt;
	size_t n;
	uint8_t *f = slurp("corpus/basic_store.rvf", &n);

	if (!f)
		return;
	CU_ASSERT_EQUAL(rvf_vec_record_size(384), 1544);
	CU_ASSERT_EQUAL(rvf_vec_decode_header(f + 162 + 64, 154406, &dim, &cnt), 100);
	CU_ASSERT_EQUAL(dim, 384);
	CU_ASSERT_EQUAL(cnt, 100);
	CU_ASSERT_EQUAL(rd64(f + 162 + 64 + 6), 0); /* rec[0].id */
	/* One byte short: only 99 complete records, declared count kept. */
	CU_ASSERT_EQUAL(rvf_vec_decode_header(f + 162 + 64, 154405, &dim, &cnt), 99);
	CU_ASSERT_EQUAL(cnt, 100);
	CU_ASSERT_EQUAL(rvf_vec_decode_header(f + 162 + 64, 6, &dim, &cnt), 0);
	CU_ASSERT_EQUAL(rvf_vec_decode_header(f + 162 + 64, 5, &dim, &cnt), 0);
	CU_ASSERT_EQUAL(rvf_vec_decode_header(f + 162 + 64, 0, &dim, &cnt), 0);
	free(f);
}

/* ---- §9 JOURNAL --------------------------------------------------------- */

static void t_journal_fixture(void)
{
	static const uint64_t j1[] = {3, 5, 7, 999}, j2[] = {120, 3};
	const struct {
		const uint64_t *ids;
		size_t n;
		uint32_t epoch;
	} want[] = {{j1, 4, 2}, {j2, 2, 4}};
	uint8_t buf[64], hdr[RVF_SEG_HDR_SIZE];
	size_t n, off = 0, found = 0;
	rvf_seg_hdr h;
	uint8_t *f = slurp("spec/fixtures/ref/f_delete.rvf", &n);

	if (!f)
		return;
	CU_ASSERT_EQUAL(rvf_journal_size(0), 16);
	CU_ASSERT_EQUAL(rvf_journal_size(4), 64);
	while (seg_at(f, n, off, &h) == 0) {
		if (h.seg_type == RVF_SEG_JOURNAL && found < 2) {
			const uint8_t *pl = f + off + 64;

			CU_ASSERT_EQUAL(h.payload_length, rvf_journal_size(want[found].n));
			rvf_journal_encode(buf, want[found].ids, want[found].n, want[found].epoch);
			CU_ASSERT(!memcmp(buf, pl, rvf_journal_size(want[found].n)));
			rvf_hdr_encode(hdr, RVF_SEG_JOURNAL, h.seg_id, buf, h.payload_length);
			CU_ASSERT(!memcmp(hdr, f + off, RVF_SEG_HDR_SIZE));
			found++;
		}
		off += 64 + h.payload_length;
	}
	CU_ASSERT_EQUAL(off, n); /* the walk covers the whole file */
	CU_ASSERT_EQUAL(found, 2);
	free(f);
}

/* ---- §11 WITNESS -------------------------------------------------------- */

static void t_witness_roundtrip(void)
{
	const char *act = "delete:count=3,epoch=2";
	size_t al = strlen(act);
	uint8_t buf[128], prev[32];
	rvf_witness w;

	for (int i = 0; i < 32; i++)
		prev[i] = (uint8_t)(0xA0 + i);
	CU_ASSERT_EQUAL(rvf_witness_size(al), 45 + al);
	rvf_witness_encode(buf, 0, 1795480311462195237ull, act, al, prev);
	CU_ASSERT_EQUAL_FATAL(rvf_witness_decode(buf, 45 + al, &w), 0);
	CU_ASSERT_EQUAL(w.type, 0);
	CU_ASSERT_EQUAL(w.timestamp_ns, 1795480311462195237ull);
	CU_ASSERT_EQUAL_FATAL(w.action_len, al);
	CU_ASSERT(!memcmp(w.action, act, al));
	CU_ASSERT(!memcmp(w.prev_hash, prev, 32));
	/* Too short for the declared action or the link. */
	for (uint64_t len = 0; len < 45 + al; len++)
		CU_ASSERT_EQUAL(rvf_witness_decode(buf, len, &w), -1);
	wr32(buf + 9, 0xFFFFFFFFu);
	CU_ASSERT_EQUAL(rvf_witness_decode(buf, sizeof(buf), &w), -1);

	/* Empty action, NULL link = the session-start zeros. */
	rvf_witness_encode(buf, 1, 0, NULL, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(rvf_witness_decode(buf, 45, &w), 0);
	CU_ASSERT_EQUAL(w.action_len, 0);
	CU_ASSERT(is_zero(w.prev_hash, 32));
}

static void t_witness_fixture(void)
{
	const char *act = "ingest:count=200,epoch=1";
	uint8_t buf[69], hdr[RVF_SEG_HDR_SIZE];
	rvf_witness w;
	rvf_seg_hdr h;
	size_t n;
	uint8_t *f = slurp("spec/fixtures/ref/f_cosine.rvf", &n);

	if (!f)
		return;
	CU_ASSERT_FATAL(seg_at(f, n, 14632, &h) == 0);
	CU_ASSERT_EQUAL(h.seg_type, RVF_SEG_WITNESS);
	CU_ASSERT_EQUAL(h.seg_id, 3);
	CU_ASSERT_EQUAL_FATAL(h.payload_length, 69);
	CU_ASSERT_EQUAL(rd32(h.content_hash), 0xb9b9874eu);
	CU_ASSERT(rvf_content_hash_ok(h.content_hash, f + 14632 + 64, 69));
	CU_ASSERT_EQUAL_FATAL(rvf_witness_decode(f + 14632 + 64, 69, &w), 0);
	CU_ASSERT_EQUAL(w.type, 1);
	CU_ASSERT_EQUAL(w.timestamp_ns, 1795480311462195237ull);
	CU_ASSERT_EQUAL_FATAL(w.action_len, strlen(act));
	CU_ASSERT(!memcmp(w.action, act, w.action_len));
	CU_ASSERT(is_zero(w.prev_hash, 32));
	/* Re-encoding the decoded fields reproduces payload and header. */
	rvf_witness_encode(buf, w.type, w.timestamp_ns, w.action, w.action_len, w.prev_hash);
	CU_ASSERT(!memcmp(buf, f + 14632 + 64, 69));
	rvf_hdr_encode(hdr, RVF_SEG_WITNESS, 3, buf, 69);
	CU_ASSERT(!memcmp(hdr, f + 14632, RVF_SEG_HDR_SIZE));
	free(f);
}

RVF_SUITE(format,
	  {"crc_check_value", t_crc_check_value},
	  {"hash_example", t_hash_example},
	  {"hdr_basic_store", t_hdr_basic_store},
	  {"fold32", t_fold32},
	  {"manifest_basic_store", t_manifest_basic_store},
	  {"manifest_ebpf_kernel", t_manifest_ebpf_kernel},
	  {"manifest_g2", t_manifest_g2},
	  {"manifest_roundtrip", t_manifest_roundtrip},
	  {"manifest_truncate", t_manifest_truncate},
	  {"manifest_flip", t_manifest_flip},
	  {"manifest_garbage", t_manifest_garbage},
	  {"vec_header", t_vec_header},
	  {"journal_fixture", t_journal_fixture},
	  {"witness_roundtrip", t_witness_roundtrip},
	  {"witness_fixture", t_witness_fixture})
