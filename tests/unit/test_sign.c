/* test_sign.c — Ed25519 CRYPTO_SEG signatures (user/lib/sign.c) and kernel
 * attestation (user/lib/attest.c): valid cases and tampering that must fail
 * (every covered byte, wrong keys, truncated signatures, later commits). */
#include "attest.h"
#include "format.h"
#include "rvf.h"
#include "sign.h"
#include "testreg.h"
#include "testutil.h"
#include "witness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void tmp(char *p, const char *name)
{
	snprintf(p, PATH_MAX, "%s/%s", rvf_test_tmpdir(), name);
}

/* A store with a few vectors (two commits), closed. */
static void make_store(const char *path)
{
	rvf_create_opts o = {.dimension = 4, .metric = RVF_METRIC_L2};
	rvf_store *s;
	remove(path);
	CU_ASSERT_EQUAL_FATAL(rvf_create(path, &o, &s), 0);
	float v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint64_t ids[3] = {1, 2, 3};
	CU_ASSERT_EQUAL(rvf_ingest(s, ids, v, 2, NULL), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, ids + 2, v + 8, 1, NULL), 0);
	rvf_close(s);
}

static int sign_file(const char *path, const uint8_t seed[32], rvf_sign_result *res)
{
	rvf_store *s;
	int rc = rvf_open(path, 0, &s);
	if (rc)
		return rc;
	rc = rvf_sign(s, seed, res);
	rvf_close(s);
	return rc;
}

static const uint8_t SEED[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* ---- signatures ------------------------------------------------------------ */

static void test_sign_verify(void)
{
	char path[PATH_MAX];
	tmp(path, "sig_ok.rvf");
	make_store(path);
	struct stat st;
	stat(path, &st);
	rvf_sign_result res;
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, &res), 0);
	CU_ASSERT_EQUAL(res.covered_len, (uint64_t)st.st_size);
	CU_ASSERT_EQUAL(res.crypto_offset, (uint64_t)st.st_size);
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	CU_ASSERT_EQUAL(memcmp(pk, res.pubkey, 32), 0);

	rvf_sig_report r;
	CU_ASSERT_EQUAL(rvf_verify_signature(path, pk, 0, &r), 0);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_OK);
	CU_ASSERT_TRUE(r.signature_ok && r.prefix_ok && r.state_current);
	CU_ASSERT_EQUAL(r.manifest_offset, res.manifest_offset);
	CU_ASSERT_EQUAL(r.crypto_seg_id, res.crypto_seg_id);

	/* the signed store opens, keeps its vectors and lists the CRYPTO_SEG */
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, RVF_OPEN_READONLY, &s), 0);
	rvf_status stt;
	rvf_get_status(s, &stt);
	CU_ASSERT_EQUAL(stt.total_vectors, 3);
	int listed = 0;
	for (size_t i = 0; i < rvf_segment_count(s); i++) {
		rvf_segment_info si;
		rvf_segment_get(s, i, &si);
		if (si.seg_type == RVF_SEG_CRYPTO && si.offset == res.crypto_offset)
			listed = 1;
	}
	CU_ASSERT_TRUE(listed);
	rvf_close(s);

	/* witness chain and content hashes still verify */
	rvf_witness_report w;
	rvf_verify_witness(path, &w);
	CU_ASSERT_TRUE(w.valid);

	/* signing twice: the latest CRYPTO_SEG counts and covers the first */
	rvf_sign_result res2;
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, &res2), 0);
	CU_ASSERT(res2.covered_len > res.crypto_offset);
	CU_ASSERT_EQUAL(rvf_verify_signature(path, pk, 0, &r), 0);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.crypto_segments, 2);
	CU_ASSERT_EQUAL(r.crypto_offset, res2.crypto_offset);
}

static void test_wrong_key(void)
{
	char path[PATH_MAX];
	tmp(path, "sig_wrongkey.rvf");
	make_store(path);
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, NULL), 0);
	uint8_t seed2[32], pk2[32];
	rvf_keygen(seed2, pk2);
	rvf_sig_report r;
	rvf_verify_signature(path, pk2, 0, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_WRONG_KEY);
	/* NULL key: integrity against the embedded key only */
	rvf_verify_signature(path, NULL, 0, &r);
	CU_ASSERT_TRUE(r.valid);
	/* a forged CRYPTO_SEG naming the attacker's key, re-signed by him over a
	 * changed prefix, fails against the real key */
	size_t len;
	uint8_t *f = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	uint64_t co = r.crypto_offset;
	memcpy(f + co + 64 + 0x10, pk2, 32);
	rvf_verify_signature_buf(f, len, pk, 0, &r);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_WRONG_KEY);
	rvf_verify_signature_buf(f, len, pk2, 0, &r);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_BAD_SIGNATURE);
	free(f);
}

/* Every byte before and inside the CRYPTO_SEG payload flipped: never valid. */
static void test_every_covered_byte(void)
{
	char path[PATH_MAX];
	tmp(path, "sig_flip.rvf");
	make_store(path);
	rvf_sign_result res;
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, &res), 0);
	size_t len;
	uint8_t *f = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	uint64_t end = res.crypto_offset + 64 + RVF_SIG_PAYLOAD;
	size_t bad = 0, n = 0, prefix = 0, sig = 0;
	for (uint64_t i = 0; i < end; i++) {
		if (i >= res.crypto_offset && i < res.crypto_offset + 64)
			continue; /* CRYPTO_SEG header: not signed, see below */
		f[i] ^= 0x01;
		rvf_sig_report r;
		rvf_verify_signature_buf(f, len, pk, 1, &r);
		n++;
		if (r.valid)
			bad++;
		prefix += r.status == RVF_SIG_PREFIX_CHANGED;
		sig += r.status == RVF_SIG_BAD_SIGNATURE;
		f[i] ^= 0x01;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(prefix > 0 && sig > 0);
	CU_ASSERT(n > 500);
	/* CRYPTO_SEG header: the type byte hides the signature (unsigned) */
	f[res.crypto_offset + 5] = 0x30;
	rvf_sig_report r;
	rvf_verify_signature_buf(f, len, pk, 1, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_UNSIGNED);
	free(f);
}

static void test_truncated_signature(void)
{
	char path[PATH_MAX];
	tmp(path, "sig_trunc.rvf");
	make_store(path);
	rvf_sign_result res;
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, &res), 0);
	size_t len;
	uint8_t *f = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	rvf_sig_report r;
	/* file cut inside the CRYPTO_SEG: no complete signature */
	for (uint64_t cut = res.crypto_offset; cut < res.crypto_offset + 64 + RVF_SIG_PAYLOAD; cut += 7) {
		rvf_verify_signature_buf(f, cut, pk, 1, &r);
		CU_ASSERT_FALSE(r.valid);
		CU_ASSERT_EQUAL(r.status, RVF_SIG_UNSIGNED);
	}
	/* payload_length shortened (signature cut off inside the segment) */
	for (uint64_t pl = 4; pl < RVF_SIG_PAYLOAD; pl += 20) {
		uint8_t save[8];
		memcpy(save, f + res.crypto_offset + 16, 8);
		wr64(f + res.crypto_offset + 16, pl);
		rvf_verify_signature_buf(f, len, pk, 1, &r);
		CU_ASSERT_FALSE(r.valid);
		CU_ASSERT_EQUAL(r.status, RVF_SIG_MALFORMED);
		memcpy(f + res.crypto_offset + 16, save, 8);
	}
	/* signature bytes zeroed */
	memset(f + res.crypto_offset + 64 + RVF_SIG_HEAD, 0, 64);
	rvf_verify_signature_buf(f, len, pk, 1, &r);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_BAD_SIGNATURE);
	free(f);
}

static void test_changed_after_signing(void)
{
	char path[PATH_MAX];
	tmp(path, "sig_later.rvf");
	make_store(path);
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, NULL), 0);
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	uint64_t id = 1;
	CU_ASSERT_EQUAL(rvf_delete(s, &id, 1, NULL), 0);
	rvf_close(s);
	rvf_sig_report r;
	rvf_verify_signature(path, pk, 0, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_SIGNED_CHANGED);
	CU_ASSERT_TRUE(r.signature_ok && r.prefix_ok);
	/* a signed vector deleted: fails even with allow_append (on main it
	 * passed), and the id is named */
	rvf_verify_signature(path, pk, 1, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_SIGNED_CHANGED);
	CU_ASSERT_EQUAL(r.vec_deleted.n, 1);
	CU_ASSERT_EQUAL(r.vec_deleted.ids[0], 1);
	CU_ASSERT_EQUAL(r.vec_modified.n, 0);
	/* compaction rewrites the file: the old signature no longer holds */
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_compact(s, NULL), 0);
	rvf_close(s);
	rvf_verify_signature(path, pk, 1, &r);
	CU_ASSERT_FALSE(r.valid);
}

/* --allow-append: appends are listed and allowed, a replaced (upserted)
 * signed vector fails; an identical re-ingest is not a change. */
static void test_allow_append_diff(void)
{
	char path[PATH_MAX];
	tmp(path, "sig_diff.rvf");
	make_store(path);
	CU_ASSERT_EQUAL_FATAL(sign_file(path, SEED, NULL), 0);
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	rvf_store *s;
	float same[4] = {1, 2, 3, 4}, other[4] = {0, 0, 0, 1};
	uint64_t id1 = 1, id2 = 2, id7 = 7, id8 = 8;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, &id1, same, 1, NULL), 0); /* same record again */
	CU_ASSERT_EQUAL(rvf_ingest(s, &id7, other, 1, NULL), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, &id8, other, 1, NULL), 0);
	rvf_close(s);
	rvf_sig_report r;
	rvf_verify_signature(path, pk, 0, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_STATE_CHANGED);
	rvf_verify_signature(path, pk, 1, &r);
	CU_ASSERT_TRUE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_STATE_CHANGED);
	CU_ASSERT_EQUAL(r.vec_appended.n, 2);
	CU_ASSERT_EQUAL(r.vec_appended.ids[0], 7);
	CU_ASSERT_EQUAL(r.vec_appended.ids[1], 8);
	CU_ASSERT_EQUAL(r.vec_deleted.n + r.vec_modified.n + r.seg_removed.n, 0);
	CU_ASSERT(r.seg_appended.n >= 1);
	/* replace a signed vector */
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_ingest(s, &id2, other, 1, NULL), 0);
	rvf_close(s);
	rvf_verify_signature(path, pk, 1, &r);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_SIGNED_CHANGED);
	CU_ASSERT_EQUAL(r.vec_modified.n, 1);
	CU_ASSERT_EQUAL(r.vec_modified.ids[0], 2);
	CU_ASSERT_EQUAL(r.vec_appended.n, 2);
}

static void test_unsigned_and_reference(void)
{
	char path[PATH_MAX];
	rvf_sig_report r;
	uint8_t pk[32];
	rvf_key_public(SEED, pk);
	snprintf(path, sizeof path, "%s/corpus/security_hardened.rvf", rvf_test_shared_dir());
	CU_ASSERT_EQUAL(rvf_verify_signature(path, pk, 0, &r), 0);
	CU_ASSERT_FALSE(r.valid);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_UNSIGNED);
	CU_ASSERT_EQUAL(r.crypto_segments, 0);
	CU_ASSERT_EQUAL(r.footer_signed_segments, 0); /* no SIGNED flag anywhere */
	snprintf(path, sizeof path, "%s/spec/fixtures/ref/f_witness.rvf", rvf_test_shared_dir());
	CU_ASSERT_EQUAL(rvf_verify_signature(path, pk, 0, &r), 0);
	CU_ASSERT_EQUAL(r.status, RVF_SIG_UNSIGNED);
}

static void test_message_layout(void)
{
	uint8_t seg[64 + 10], head[RVF_SIG_HEAD], msg[RVF_SIG_MSG_LEN];
	memset(head, 0xAB, sizeof head);
	memcpy(seg + 64, "0123456789", 10);
	rvf_hdr_encode(seg, RVF_SEG_MANIFEST, 0x1122334455667788ull, seg + 64, 10);
	rvf_sig_message(seg, head, msg);
	CU_ASSERT_EQUAL(memcmp(msg, seg, 40), 0);
	CU_ASSERT_EQUAL(memcmp(msg + 40, seg + 0x28, 16), 0);
	CU_ASSERT_EQUAL(memcmp(msg + 56, "RVF-v1-segment", 14), 0);
	CU_ASSERT_EQUAL(rd64(msg + 70), 0x1122334455667788ull);
	uint8_t d[32];
	rvf_blake2b256(seg + 64, 10, d);
	CU_ASSERT_EQUAL(memcmp(msg + 78, d, 16), 0);
	CU_ASSERT_EQUAL(memcmp(msg + 94, "RVF-v1-crypto", 13), 0);
	CU_ASSERT_EQUAL(memcmp(msg + 107, head, RVF_SIG_HEAD), 0);
	CU_ASSERT_EQUAL(RVF_SIG_MSG_LEN, 219);
}

/* §18.5 footer after a SIGNED payload is skipped by the walk, not damage. */
static void test_footer_skip(void)
{
	size_t len;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/spec/fixtures/ref/f_witness.rvf", rvf_test_shared_dir());
	uint8_t *f0 = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f0);
	uint8_t *f = malloc(len + 64 + 8 + 72);
	memcpy(f, f0, len);
	uint8_t *h = f + len;
	memcpy(h + 64, "payload!", 8);
	rvf_hdr_encode(h, 0x30, 99, h + 64, 8);
	wr16(h + 6, 0x0004); /* SIGNED */
	uint8_t *ft = h + 64 + 8;
	wr16(ft, 0);
	wr16(ft + 2, 64);
	memset(ft + 4, 0x5A, 64);
	wr32(ft + 68, 72);
	CU_ASSERT_EQUAL(rvf_sig_footer_len(f, len + 144, len, 0x0004, 8), 72);
	CU_ASSERT_EQUAL(rvf_sig_footer_len(f, len + 144, len, 0, 8), 0);
	rvf_witness_report r;
	rvf_verify_witness_buf(f, len + 144, &r);
	CU_ASSERT_EQUAL(r.damaged_bytes, 0);
	CU_ASSERT_TRUE(r.valid);
	rvf_sig_report s;
	rvf_verify_signature_buf(f, len + 144, NULL, 0, &s);
	CU_ASSERT_EQUAL(s.footer_signed_segments, 1);
	/* a wrong footer_length is damage */
	wr32(ft + 68, 71);
	rvf_verify_witness_buf(f, len + 144, &r);
	CU_ASSERT_EQUAL(r.damaged_bytes, 72);
	free(f);
	free(f0);
}

static void test_key_files(void)
{
	char key[PATH_MAX], pub[PATH_MAX + 8];
	tmp(key, "k1");
	snprintf(pub, sizeof pub, "%s.pub", key);
	remove(key);
	remove(pub);
	uint8_t seed[32], pk[32], s2[32], p2[32];
	rvf_keygen(seed, pk);
	CU_ASSERT_EQUAL(rvf_key_write(key, seed, 0), 0);
	CU_ASSERT_EQUAL(rvf_key_write(key, seed, 0), RVF_E_EXISTS);
	struct stat st;
	CU_ASSERT_EQUAL(stat(key, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(rvf_key_read_secret(key, s2), 0);
	CU_ASSERT_EQUAL(memcmp(seed, s2, 32), 0);
	CU_ASSERT_EQUAL(rvf_key_read_public(pub, p2), 0);
	CU_ASSERT_EQUAL(memcmp(pk, p2, 32), 0);
	/* KEY.pub exists, KEY does not: refused, and no orphan KEY is left
	 * beside a public key that is not its own (outside attack, issue 12) */
	CU_ASSERT_EQUAL(remove(key), 0);
	CU_ASSERT_EQUAL(rvf_key_write(key, s2, 0), RVF_E_EXISTS);
	CU_ASSERT_NOT_EQUAL(access(key, F_OK), 0);
	CU_ASSERT_EQUAL(rvf_key_write(key, seed, 1), 0);
	char hx[65];
	rvf_hex(pk, 32, hx);
	memset(p2, 0, 32);
	CU_ASSERT_EQUAL(rvf_key_read_public(hx, p2), 0);
	CU_ASSERT_EQUAL(memcmp(pk, p2, 32), 0);
	/* truncated key file */
	FILE *f = fopen(key, "w");
	fputs("abcdef", f);
	fclose(f);
	CU_ASSERT_EQUAL(rvf_key_read_secret(key, s2), RVF_E_ARG);
	CU_ASSERT_EQUAL(rvf_key_read_secret("/nonexistent/k", s2), RVF_E_NOENT);

	/* a public key is never taken as the secret (on main the .pub file
	 * signed with a seed anyone could read), a secret never as the public */
	remove(key);
	remove(pub);
	CU_ASSERT_EQUAL_FATAL(rvf_key_write(key, seed, 0), 0);
	CU_ASSERT_EQUAL(rvf_key_read_secret(pub, s2), RVF_E_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), "not a secret key"));
	CU_ASSERT_EQUAL(rvf_key_read_public(key, p2), RVF_E_ARG);
	/* an unlabelled (older) secret key is accepted next to its own .pub */
	char hs[66];
	rvf_hex(seed, 32, hs);
	f = fopen(key, "w");
	fprintf(f, "%s\n", hs);
	fclose(f);
	memset(s2, 0, 32);
	CU_ASSERT_EQUAL(rvf_key_read_secret(key, s2), 0);
	CU_ASSERT_EQUAL(memcmp(seed, s2, 32), 0);
	remove(pub);
	CU_ASSERT_EQUAL(rvf_key_read_secret(key, s2), RVF_E_ARG);

	/* never through a symlink: --force replaces the link, not its target */
	char victim[PATH_MAX], link[PATH_MAX];
	tmp(victim, "victim");
	tmp(link, "klink");
	snprintf(pub, sizeof pub, "%s.pub", link);
	remove(link);
	remove(pub);
	f = fopen(victim, "w");
	fputs("precious\n", f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(symlink(victim, link), 0);
	CU_ASSERT_EQUAL(rvf_key_write(link, seed, 0), RVF_E_EXISTS);
	CU_ASSERT_EQUAL(rvf_key_write(link, seed, 1), 0);
	char buf[32] = {0};
	f = fopen(victim, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT(fread(buf, 1, sizeof buf - 1, f) > 0);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "precious\n");
	CU_ASSERT_EQUAL(lstat(link, &st), 0);
	CU_ASSERT_TRUE(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	/* a dangling symlink is not created through either */
	remove(link);
	remove(pub);
	remove(victim);
	CU_ASSERT_EQUAL_FATAL(symlink(victim, link), 0);
	CU_ASSERT_EQUAL(rvf_key_write(link, seed, 0), RVF_E_EXISTS);
	CU_ASSERT_NOT_EQUAL(access(victim, F_OK), 0);
	/* a FIFO as the key: an error, no hang */
	char fifo[PATH_MAX];
	tmp(fifo, "kfifo");
	remove(fifo);
	CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
	CU_ASSERT_EQUAL(rvf_key_read_secret(fifo, s2), RVF_E_ARG);
	CU_ASSERT_EQUAL(rvf_key_read_public(fifo, p2), RVF_E_ARG);
	remove(fifo);
	remove(link);
}

/* ---- attestation ------------------------------------------------------------ */

static uint8_t IMG[3000];
static const char CMD[] = "console=ttyS0 rvf.security=paranoid";

/* bound: rvf_embed_kernel_bound with an initramfs; else rvf_embed_kernel */
static void kernel_store(const char *path, int bound)
{
	make_store(path);
	for (size_t i = 0; i < sizeof IMG; i++)
		IMG[i] = (uint8_t)(i * 7 + 3);
	rvf_kernel k = {.arch = 0, .kernel_type = 1, .flags = 0x57F3, .api_port = 8443,
			.image = IMG, .image_size = sizeof IMG, .cmdline = CMD, .cmdline_len = sizeof CMD - 1};
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	static const uint8_t IRD[] = "070701-initramfs-bytes";
	rvf_kernel ird = {.image = IRD, .image_size = sizeof IRD};
	int rc = bound ? rvf_embed_kernel_bound(s, &k, &ird, 1, 0, NULL, NULL) : rvf_embed_kernel(s, &k, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	rvf_close(s);
}

static void test_attest_bound(void)
{
	char path[PATH_MAX];
	tmp(path, "att_bound.rvf");
	kernel_store(path, 1);
	rvf_attest_report r;
	CU_ASSERT_EQUAL(rvf_verify_attestation(path, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.nkernels, 2); /* kernel + bound initramfs */
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_VALID);
	CU_ASSERT_EQUAL(r.k[0].binding_status, RVF_BIND_OK);
	CU_ASSERT_EQUAL(r.k[0].binding_version, 2);
	CU_ASSERT_TRUE(r.k[1].is_initramfs);
	CU_ASSERT_EQUAL(r.k[1].verdict, RVF_ATT_VALID);
	CU_ASSERT_EQUAL(r.k[0].initrd_offset, r.k[1].offset);
	CU_ASSERT_TRUE(r.k[0].binding_ours && r.k[0].image_hash_ok && r.k[0].policy_ok == 1 &&
		       r.k[0].manifest_ok == 1 && r.k[0].image_b2b_ok == 1);
	CU_ASSERT_EQUAL(r.k[0].cmdline_offset, 256);
	/* the store still reads the kernel (header fields) */
	rvf_store *s;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, RVF_OPEN_READONLY, &s), 0);
	rvf_close(s);

	size_t len;
	uint8_t *f = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	uint64_t ko = r.k[0].offset, p = ko + 64;
	/* every image byte (stride 13): INVALID */
	size_t bad = 0;
	uint64_t img = p + 256 + (sizeof CMD - 1);
	for (uint64_t i = 0; i < sizeof IMG; i += 13) {
		f[img + i] ^= 0x40;
		rvf_verify_attestation_buf(f, len, &r);
		if (r.verdict != RVF_ATT_INVALID || r.k[0].image_hash_ok)
			bad++;
		f[img + i] ^= 0x40;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* command line / flags / binding fields with the CRC fixed: policy */
	uint64_t pos[] = {p + 256 + 3, p + 0x08, p + 0x2A, p + 128 + 0x42, p + 128 + 0x48};
	for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
		f[pos[i]] ^= 0x01;
		rvf_content_hash(f + p, rd64(f + ko + 16), f + ko + 0x28);
		rvf_verify_attestation_buf(f, len, &r);
		CU_ASSERT_EQUAL(r.verdict, RVF_ATT_INVALID);
		CU_ASSERT_EQUAL(r.k[0].binding_status, RVF_BIND_MISMATCH);
		f[pos[i]] ^= 0x01;
		rvf_content_hash(f + p, rd64(f + ko + 16), f + ko + 0x28);
	}
	/* an initramfs byte, its fold32 and CRC recomputed: the kernel's
	 * policy hash (which binds the initramfs) fails */
	{
		uint64_t io = r.k[0].initrd_offset, ip = io + 64;
		f[ip + 128 + 3] ^= 0x01;
		rvf_fold32(f + ip + 128, rd64(f + ip + 0x18), f + ip + 0x30);
		rvf_content_hash(f + ip, rd64(f + io + 16), f + io + 0x28);
		rvf_verify_attestation_buf(f, len, &r);
		CU_ASSERT_EQUAL(r.verdict, RVF_ATT_INVALID);
		CU_ASSERT_EQUAL(r.k[0].policy_ok, 0);
		CU_ASSERT_EQUAL(r.k[1].verdict, RVF_ATT_PARTIAL); /* no longer bound */
		f[ip + 128 + 3] ^= 0x01;
		rvf_fold32(f + ip + 128, rd64(f + ip + 0x18), f + ip + 0x30);
		rvf_content_hash(f + ip, rd64(f + io + 16), f + io + 0x28);
		rvf_verify_attestation_buf(f, len, &r);
		CU_ASSERT_EQUAL(r.verdict, RVF_ATT_VALID);
	}
	/* the bound manifest changed */
	uint64_t mo = r.k[0].bound_manifest_offset;
	f[mo + 64 + 1] ^= 0x01;
	rvf_verify_attestation_buf(f, len, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_INVALID);
	CU_ASSERT_EQUAL(r.k[0].manifest_ok, 0);
	f[mo + 64 + 1] ^= 0x01;
	/* image swapped consistently (fold32 recomputed, CRC fixed): BLAKE2b catches it */
	f[img + 5] ^= 0x01;
	rvf_fold32(f + img, sizeof IMG, f + p + 0x30);
	rvf_verify_attestation_buf(f, len, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_INVALID);
	CU_ASSERT_EQUAL(r.k[0].image_b2b_ok, 0);
	free(f);

	/* compaction moves the kernel: the bound manifest is gone -> PARTIAL */
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(rvf_compact(s, NULL), 0);
	rvf_close(s);
	rvf_verify_attestation(path, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_PARTIAL);
	CU_ASSERT_EQUAL(r.k[0].binding_status, RVF_BIND_STALE);
	CU_ASSERT_EQUAL(r.k[0].policy_ok, 1);
}

/* The legacy layout (the reference's embedKernel) has only a fold32 image
 * hash: PARTIAL, never VALID (on main it was VALID). rvf_embed_kernel never
 * writes it. */
static void test_attest_legacy(void)
{
	char path[PATH_MAX];
	rvf_attest_report r;
	snprintf(path, sizeof path, "%s/spec/fixtures/ref/f_kernel.rvf", rvf_test_shared_dir());
	CU_ASSERT_EQUAL_FATAL(rvf_verify_attestation(path, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.nkernels, 1);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_PARTIAL);
	CU_ASSERT_TRUE(r.k[0].image_hash_ok);
	CU_ASSERT_EQUAL(r.k[0].binding_status, RVF_BIND_NONE);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.k[0].note, "fold32"));
	size_t len;
	uint8_t *f = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	uint64_t ko = r.k[0].offset;
	f[ko + 64 + 128 + 3] ^= 0x01;
	rvf_verify_attestation_buf(f, len, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_INVALID);
	CU_ASSERT_FALSE(r.k[0].image_hash_ok);
	f[ko + 64 + 128 + 3] ^= 0x01;
	/* unknown layout */
	f[ko + 64 + 0x70] = 200;
	rvf_verify_attestation_buf(f, len, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_INVALID);
	free(f);

	/* what rvf_embed_kernel writes is bound (kernel only, version 1) */
	tmp(path, "att_plain.rvf");
	kernel_store(path, 0);
	CU_ASSERT_EQUAL(rvf_verify_attestation(path, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.nkernels, 1);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_VALID);
	CU_ASSERT_EQUAL(r.k[0].cmdline_offset, 256);
	CU_ASSERT_EQUAL(r.k[0].binding_version, 1);
	rvf_store *s;
	rvf_kernel k;
	CU_ASSERT_EQUAL_FATAL(rvf_open(path, RVF_OPEN_READONLY, &s), 0);
	CU_ASSERT_EQUAL(rvf_kernel_get(s, &k), 0);
	CU_ASSERT_EQUAL(k.image_size, sizeof IMG);
	CU_ASSERT_EQUAL(memcmp(k.image, IMG, sizeof IMG), 0);
	CU_ASSERT_EQUAL(k.cmdline_len, sizeof CMD - 1);
	CU_ASSERT_EQUAL(k.api_port, 8443);
	rvf_close(s);
}

static void test_attest_reference(void)
{
	char path[PATH_MAX];
	rvf_attest_report r;
	snprintf(path, sizeof path, "%s/corpus/security_hardened.rvf", rvf_test_shared_dir());
	CU_ASSERT_EQUAL_FATAL(rvf_verify_attestation(path, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.nkernels, 1);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_PARTIAL);
	CU_ASSERT_TRUE(r.k[0].image_hash_ok);
	CU_ASSERT_TRUE(r.k[0].has_binding);
	CU_ASSERT_FALSE(r.k[0].binding_ours);
	CU_ASSERT_EQUAL(r.k[0].binding_status, RVF_BIND_UNVERIFIABLE);
	CU_ASSERT_EQUAL(r.k[0].binding_version, 1);
	CU_ASSERT_EQUAL(r.k[0].image_size, 32768);
	CU_ASSERT_EQUAL(r.k[0].cmdline_len, 61);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.k[0].note, "not verifiable"));
	snprintf(path, sizeof path, "%s/corpus/self_booting.rvf", rvf_test_shared_dir());
	rvf_verify_attestation(path, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_PARTIAL); /* legacy layout: fold32 only */
	CU_ASSERT_TRUE(r.k[0].image_hash_ok);
	snprintf(path, sizeof path, "%s/corpus/basic_store.rvf", rvf_test_shared_dir());
	rvf_verify_attestation(path, &r);
	CU_ASSERT_EQUAL(r.verdict, RVF_ATT_NO_KERNEL);
}

RVF_SUITE(sign,
	  {"sign and verify, reopen, re-sign", test_sign_verify},
	  {"wrong key, forged key", test_wrong_key},
	  {"every covered byte flipped", test_every_covered_byte},
	  {"truncated signatures", test_truncated_signature},
	  {"changed after signing, compaction", test_changed_after_signing},
	  {"allow-append: appends listed, replaced vector fails", test_allow_append_diff},
	  {"unsigned files, reference corpus", test_unsigned_and_reference},
	  {"signed message layout", test_message_layout},
	  {"18.5 footer skipped by the walk", test_footer_skip},
	  {"key files", test_key_files})

RVF_SUITE(attest,
	  {"bound kernel: valid, tampering, compaction", test_attest_bound},
	  {"legacy kernel: fold32 only is partial", test_attest_legacy},
	  {"reference security_hardened", test_attest_reference})
