/* test_althash.c — files whose writers put SHA-256/128 or SHAKE-256/128 in
 * the content-hash field (spec §4) open, check clean and answer like the
 * same file with CRC-rotated hashes; a changed payload byte is still damage
 * under either algorithm. */
#include "format.h"
#include "rvf.h"
#include "testreg.h"
#include "testutil.h"

#include <nettle/sha3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 300
#define DIM 8

static int write_all(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(b, 1, n, f) == n;
	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/* Rehash every segment (manifests included) with algorithm alg (2 SHA-256,
 * 3 SHAKE-256, alternating when 0); returns the segment count. */
static int rehash(uint8_t *f, size_t len, int alg)
{
	int n = 0;
	for (size_t off = 0; off + RVF_SEG_HDR_SIZE <= len; n++) {
		rvf_seg_hdr h;
		rvf_hdr_decode(f + off, &h);
		if (h.magic != RVF_SEG_MAGIC || h.payload_length > len - off - RVF_SEG_HDR_SIZE)
			break;
		const uint8_t *p = f + off + RVF_SEG_HDR_SIZE;
		uint8_t d[32];
		int a = alg ? alg : 2 + (n & 1);
		if (a == 2) {
			crypto_hash_sha256(d, p, h.payload_length);
		} else {
			struct sha3_256_ctx x;
			sha3_256_init(&x);
			sha3_256_update(&x, h.payload_length, p);
			sha3_256_shake(&x, 16, d);
			f[off + 0x20] = 2; /* checksum_algo as rvf-wire writes it */
		}
		memcpy(f + off + 0x28, d, 16);
		off += RVF_SEG_HDR_SIZE + h.payload_length;
	}
	return n;
}

static void answers(const char *path, uint64_t *count, rvf_hit *hits, size_t *nh)
{
	rvf_store *s = NULL;
	float q[DIM] = {0.5f, -1, 2, 0, 1, 1, -0.25f, 3};
	*count = 0;
	*nh = 0;
	if (!CHECK_OK(rvf_open(path, RVF_OPEN_READONLY, &s)))
		return;
	CHECK(!*rvf_open_warning(s), "%s: open warned: %s", path, rvf_open_warning(s));
	*count = rvf_live_count(s);
	CHECK_OK(rvf_query(s, q, DIM, 10, hits, nh));
	rvf_close(s);
}

static void t_other_writers_hashes(void)
{
	char *base = tu_tpath("alth", "crc.rvf");
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	rvf_store *s = NULL;
	static uint64_t ids[N];
	static float v[N * DIM];
	for (int i = 0; i < N; i++) {
		ids[i] = (uint64_t)i * 3 + 1;
		for (int d = 0; d < DIM; d++)
			v[i * DIM + d] = (float)((i * 31 + d * 17) % 23) / 5.0f;
	}
	if (!CHECK_OK(rvf_create(base, &o, &s)))
		return;
	CHECK_OK(rvf_ingest(s, ids, v, N / 2, NULL));
	CHECK_OK(rvf_ingest(s, ids + N / 2, v + N / 2 * DIM, N - N / 2, NULL));
	rvf_delete_result dr;
	CHECK_OK(rvf_delete(s, ids + 5, 3, &dr));
	rvf_close(s);

	uint64_t c0, c1;
	rvf_hit h0[10], h1[10];
	size_t n0, n1;
	answers(base, &c0, h0, &n0);
	size_t len;
	uint8_t *f = tu_slurp(base, &len);
	if (!CHECK(f != NULL, "slurp"))
		return;
	for (int alg = 0; alg <= 3; alg++) {
		if (alg == 1)
			continue;
		uint8_t *g = malloc(len);
		memcpy(g, f, len);
		int nseg = rehash(g, len, alg);
		CHECK(nseg >= 6, "only %d segments", nseg);
		char name[32];
		snprintf(name, sizeof name, "alg%d.rvf", alg);
		char *p = tu_tpath("alth", name);
		CHECK_OK(write_all(p, g, len));
		answers(p, &c1, h1, &n1);
		CHECK(c1 == c0 && n1 == n0, "alg %d: %llu live / %zu hits, want %llu / %zu", alg,
		      (unsigned long long)c1, n1, (unsigned long long)c0, n0);
		for (size_t i = 0; i < n0 && i < n1; i++)
			CHECK(h0[i].id == h1[i].id && h0[i].distance == h1[i].distance, "alg %d hit %zu", alg, i);
		rvf_check_report r;
		if (CHECK_OK(rvf_check(p, &r)))
			CHECK(r.clean, "alg %d: check: %s at %llu", alg, r.first_problem,
			      (unsigned long long)r.first_bad_offset);
		/* one changed payload byte in the first VEC_SEG: damage under the
		 * alternative hash too (it no longer matches any algorithm) */
		rvf_seg_hdr h = {0};
		size_t off = 0;
		for (; off + RVF_SEG_HDR_SIZE <= len; off += RVF_SEG_HDR_SIZE + h.payload_length) {
			rvf_hdr_decode(g + off, &h);
			if (h.magic != RVF_SEG_MAGIC || h.seg_type == RVF_SEG_VEC)
				break;
		}
		if (CHECK(h.magic == RVF_SEG_MAGIC && h.seg_type == RVF_SEG_VEC, "no VEC_SEG found")) {
			size_t at = off + RVF_SEG_HDR_SIZE + (h.payload_length > 40 ? 40 : 0);
			g[at] ^= 0x40;
			CHECK_OK(write_all(p, g, len));
			if (CHECK_OK(rvf_check(p, &r)))
				CHECK(!r.clean, "alg %d: a flipped payload byte passed check", alg);
		}
		free(p);
		free(g);
	}
	free(f);
	free(base);
}

static void t_alt_digests(void)
{
	/* known answers: SHA-256("abc") and SHAKE-256("abc") prefixes */
	static const uint8_t sha[16] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
					0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23};
	static const uint8_t shake[16] = {0x48, 0x33, 0x66, 0x60, 0x13, 0x60, 0xa8, 0x77,
					  0x1c, 0x68, 0x63, 0x08, 0x0c, 0xc4, 0x11, 0x4d};
	const uint8_t *abc = (const uint8_t *)"abc";
	uint8_t crc[16], bad[16];
	CHECK(rvf_content_hash_ok(sha, abc, 3) == RVF_HASH_SHA256, "sha-256");
	CHECK(rvf_content_hash_ok(shake, abc, 3) == RVF_HASH_SHAKE256, "shake-256");
	rvf_content_hash(abc, 3, crc);
	CHECK(rvf_content_hash_ok(crc, abc, 3) == RVF_HASH_CRC, "crc");
	memcpy(bad, sha, 16);
	bad[15] ^= 1;
	CHECK(rvf_content_hash_ok(bad, abc, 3) == 0, "a near-miss sha-256 accepted");
}

RVF_SUITE(althash, {"SHA-256 / SHAKE-256 known answers", t_alt_digests},
	  {"files hashed by other writers open, check clean and answer alike", t_other_writers_hashes})
