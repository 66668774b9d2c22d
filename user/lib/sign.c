/* sign.c — Ed25519 signatures over the committed state (CRYPTO_SEG), key
 * files, and detection of §18.5 per-segment footers. docs/SECURITY.md §2. */
#include "sign.h"
#include "errors.h"
#include "store.h"
#include "witness.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEG_CTX "RVF-v1-segment" /* §18.5, 14 bytes */
#define SIG_CTX "RVF-v1-crypto"  /* ours, 13 bytes */
#define FLAG_SIGNED 0x0004

static void sodium_ready(void)
{
	if (sodium_init() < 0)
		abort();
}

int rvf_keygen(uint8_t seed[32], uint8_t pubkey[32])
{
	sodium_ready();
	randombytes_buf(seed, 32);
	rvf_key_public(seed, pubkey);
	return 0;
}

void rvf_key_public(const uint8_t seed[32], uint8_t pubkey[32])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	sodium_ready();
	crypto_sign_seed_keypair(pubkey, sk, seed);
	sodium_memzero(sk, sizeof sk);
}

/* ---- message ----------------------------------------------------------- */

void rvf_sig_message(const uint8_t *mh, const uint8_t *head, uint8_t *msg)
{
	uint64_t plen = rd64(mh + 0x10);
	uint8_t d[32];
	memcpy(msg, mh, 0x28);             /* header bytes 0x00..0x27 */
	memcpy(msg + 40, mh + 0x28, 16);   /* content_hash */
	memcpy(msg + 56, SEG_CTX, 14);     /* "RVF-v1-segment" */
	memcpy(msg + 70, mh + 0x08, 8);    /* segment_id again */
	rvf_blake2b256(mh + RVF_SEG_HDR_SIZE, plen, d);
	memcpy(msg + 78, d, 16);           /* BLAKE2b-256(payload)[0..16) */
	memcpy(msg + 94, SIG_CTX, 13);     /* "RVF-v1-crypto" */
	memcpy(msg + 107, head, RVF_SIG_HEAD);
}

uint64_t rvf_sig_footer_len(const uint8_t *f, size_t len, uint64_t off, uint16_t flags,
			    uint64_t payload_length)
{
	if (!(flags & FLAG_SIGNED))
		return 0;
	uint64_t at = off + RVF_SEG_HDR_SIZE + payload_length;
	if (at > len || len - at < 8)
		return 0;
	uint16_t algo = rd16(f + at), sl = rd16(f + at + 2);
	static const uint16_t lens[3] = {64, 3309, 7856};
	if (algo > 2 || sl != lens[algo] || len - at < 8u + sl)
		return 0;
	if (rd32(f + at + 4 + sl) != 8u + sl)
		return 0;
	return 8u + sl;
}

/* ---- signing ----------------------------------------------------------- */

int rvf_sign(rvf_store *s, const uint8_t seed[32], rvf_sign_result *res)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (rvf_open_warning(s)[0])
		return rvf_fail(RVF_E_CORRUPT,
				"%s: refusing to sign: the file has bytes after its current state (%s)",
				s->path, rvf_open_warning(s));
	if ((err = store_mapped(s)))
		return err;
	uint64_t covered = s->file_size, moff = s->manifest_offset;
	if (covered > s->map_len || moff > covered || covered - moff < RVF_SEG_HDR_SIZE)
		return rvf_fail(RVF_E_CORRUPT, "%s: current manifest at %llu is outside the file", s->path,
				(unsigned long long)moff);
	const uint8_t *mh = s->map + moff;
	uint64_t mplen = rd64(mh + 0x10);
	if (rd32(mh) != RVF_SEG_MAGIC || mh[5] != RVF_SEG_MANIFEST ||
	    mplen > covered - moff - RVF_SEG_HDR_SIZE)
		return rvf_fail(RVF_E_CORRUPT, "%s: no manifest segment at %llu", s->path,
				(unsigned long long)moff);

	sodium_ready();
	uint8_t pk[32], sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_seed_keypair(pk, sk, seed);

	uint8_t pay[RVF_SIG_PAYLOAD] = {0};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wr32(pay + 0x00, RVF_SIG_MAGIC);
	wr16(pay + 0x04, RVF_SIG_VERSION);
	wr16(pay + 0x06, RVF_SIG_ALGO_ED25519);
	wr16(pay + 0x08, RVF_SIG_HASH_BLAKE2B);
	wr16(pay + 0x0A, crypto_sign_BYTES);
	wr32(pay + 0x0C, 0);
	memcpy(pay + 0x10, pk, 32);
	wr64(pay + 0x30, moff);
	memcpy(pay + 0x38, mh + 0x08, 8); /* manifest segment_id */
	wr64(pay + 0x40, covered);
	rvf_blake2b256(s->map, covered, pay + 0x48);
	wr64(pay + 0x68, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);

	uint8_t msg[RVF_SIG_MSG_LEN];
	rvf_sig_message(mh, pay, msg);
	crypto_sign_detached(pay + RVF_SIG_HEAD, NULL, msg, sizeof msg, sk);
	sodium_memzero(sk, sizeof sk);

	seg_batch b = {0};
	if (batch_add(s, &b, RVF_SEG_CRYPTO, pay, sizeof pay)) {
		batch_free(&b);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	uint64_t id = b.ents[0].seg_id;
	char act[64], hx[17];
	rvf_hex(pk, 8, hx);
	snprintf(act, sizeof act, "sign:alg=ed25519,key=%s", hx);
	err = store_commit(s, &b, act, 0);
	batch_free(&b);
	if (err)
		return err;
	if (res) {
		res->crypto_seg_id = id;
		res->crypto_offset = covered;
		res->manifest_offset = moff;
		res->manifest_seg_id = rd64(mh + 0x08);
		res->covered_len = covered;
		res->epoch = s->epoch;
		memcpy(res->pubkey, pk, 32);
	}
	return 0;
}

/* ---- verification ------------------------------------------------------ */

typedef struct {
	const uint8_t *f;
	size_t len;
	uint64_t ncrypto, nfooter;
	int found;
	uint64_t off;
	rvf_seg_hdr h;
} find_ctx;

static int find_crypto(void *vc, uint64_t off, const rvf_seg_hdr *h)
{
	find_ctx *c = vc;
	if (h->flags & FLAG_SIGNED)
		c->nfooter++;
	if (h->seg_type != RVF_SEG_CRYPTO)
		return 0;
	c->ncrypto++;
	if (h->payload_length >= 4 && rd32(c->f + off + RVF_SEG_HDR_SIZE) == RVF_SIG_MAGIC) {
		c->found = 1;
		c->off = off;
		c->h = *h;
	}
	return 0;
}

#define FAILR(st, ...)                                                      \
	do {                                                                \
		r->status = (st);                                           \
		snprintf(r->reason, sizeof r->reason, __VA_ARGS__);         \
		return 0;                                                   \
	} while (0)

int rvf_verify_signature_buf(const uint8_t *f, size_t len, const uint8_t *pubkey, int allow_append,
			     rvf_sig_report *r)
{
	memset(r, 0, sizeof *r);
	find_ctx c = {.f = f, .len = len};
	vwalk(f, len, find_crypto, NULL, &c);
	r->crypto_segments = c.ncrypto;
	r->footer_signed_segments = c.nfooter;
	if (!c.found)
		FAILR(RVF_SIG_UNSIGNED, "no signature: the file holds no rvf CRYPTO_SEG%s",
		      c.ncrypto ? " (only CRYPTO_SEGs of another format)" : "");
	const uint8_t *p = f + c.off + RVF_SEG_HDR_SIZE;
	r->crypto_seg_id = c.h.seg_id;
	r->crypto_offset = c.off;
	r->bytes_after = len - (c.off + RVF_SEG_HDR_SIZE + c.h.payload_length);
	if (c.h.payload_length < RVF_SIG_PAYLOAD)
		FAILR(RVF_SIG_MALFORMED, "CRYPTO_SEG id %llu at offset %llu is truncated (%llu of %u bytes)",
		      (unsigned long long)c.h.seg_id, (unsigned long long)c.off,
		      (unsigned long long)c.h.payload_length, RVF_SIG_PAYLOAD);
	memcpy(r->pubkey, p + 0x10, 32);
	r->manifest_offset = rd64(p + 0x30);
	r->manifest_seg_id = rd64(p + 0x38);
	r->covered_len = rd64(p + 0x40);
	r->signed_at_ns = rd64(p + 0x68);
	if (rd16(p + 4) != RVF_SIG_VERSION || rd16(p + 6) != RVF_SIG_ALGO_ED25519 ||
	    rd16(p + 8) != RVF_SIG_HASH_BLAKE2B || rd16(p + 0x0A) != crypto_sign_BYTES)
		FAILR(RVF_SIG_MALFORMED,
		      "CRYPTO_SEG id %llu: unsupported version %u / algorithm %u / hash %u / length %u",
		      (unsigned long long)c.h.seg_id, rd16(p + 4), rd16(p + 6), rd16(p + 8), rd16(p + 0x0A));
	if (pubkey && memcmp(pubkey, r->pubkey, 32)) {
		char hx[65];
		rvf_hex(r->pubkey, 32, hx);
		FAILR(RVF_SIG_WRONG_KEY, "signed by a different key (%s)", hx);
	}
	uint64_t mo = r->manifest_offset;
	if (mo > len || len - mo < RVF_SEG_HDR_SIZE || rd32(f + mo) != RVF_SEG_MAGIC ||
	    f[mo + 5] != RVF_SEG_MANIFEST || rd64(f + mo + 8) != r->manifest_seg_id ||
	    rd64(f + mo + 0x10) > len - mo - RVF_SEG_HDR_SIZE ||
	    mo + RVF_SEG_HDR_SIZE + rd64(f + mo + 0x10) > r->covered_len || r->covered_len > c.off)
		FAILR(RVF_SIG_MALFORMED,
		      "the signed manifest (id %llu at offset %llu, covered prefix %llu bytes) is not in the file",
		      (unsigned long long)r->manifest_seg_id, (unsigned long long)mo,
		      (unsigned long long)r->covered_len);
	uint8_t msg[RVF_SIG_MSG_LEN];
	rvf_sig_message(f + mo, p, msg);
	if (sodium_init() < 0)
		abort();
	r->signature_ok = crypto_sign_verify_detached(p + RVF_SIG_HEAD, msg, sizeof msg, r->pubkey) == 0;
	if (!r->signature_ok)
		FAILR(RVF_SIG_BAD_SIGNATURE,
		      "Ed25519 signature of CRYPTO_SEG id %llu does not verify (signed manifest at offset %llu "
		      "or the CRYPTO_SEG changed)",
		      (unsigned long long)c.h.seg_id, (unsigned long long)mo);
	uint8_t d[32];
	rvf_blake2b256(f, r->covered_len, d);
	r->prefix_ok = !memcmp(d, p + 0x48, 32);
	if (!r->prefix_ok)
		FAILR(RVF_SIG_PREFIX_CHANGED,
		      "the signed bytes [0, %llu) changed since signing (BLAKE2b-256 differs)",
		      (unsigned long long)r->covered_len);
	/* Is the current state still the signed one? */
	rvf_manifest cur, sig;
	uint64_t coff;
	if (vfind_manifest(f, len, &coff, &cur))
		FAILR(RVF_SIG_STATE_CHANGED, "no current manifest found");
	if (rvf_manifest_decode(f + mo + RVF_SEG_HDR_SIZE, rd64(f + mo + 0x10), &sig)) {
		rvf_manifest_free(&cur);
		FAILR(RVF_SIG_MALFORMED, "the signed manifest does not decode");
	}
	int derr = coff == mo ? 0 : sig_diff(f, len, &sig, &cur, r);
	rvf_manifest_free(&cur);
	rvf_manifest_free(&sig);
	if (derr)
		return rvf_fail(RVF_E_NOMEM, "out of memory comparing the signed and current states");
	int changed = r->vec_deleted.n || r->vec_modified.n || r->seg_removed.n || r->header_changed;
	int appended = r->vec_appended.n || r->seg_appended.n || r->seg_superseded.n;
	/* a current manifest inside the signed prefix that is not the signed
	 * one means later manifests vanished */
	if (coff != mo && coff < c.off)
		changed = 1;
	r->state_current = coff == mo || (!changed && !appended);
	if (changed) {
		r->status = RVF_SIG_SIGNED_CHANGED;
		snprintf(r->reason, sizeof r->reason,
			 "signature valid, but signed records changed after signing: %llu vector(s) deleted, "
			 "%llu modified, %llu signed segment(s) removed%s",
			 (unsigned long long)r->vec_deleted.n, (unsigned long long)r->vec_modified.n,
			 (unsigned long long)r->seg_removed.n,
			 r->header_changed ? ", store header (dimension/metric/profile/identity) changed" : "");
		return 0;
	}
	if (!r->state_current) {
		r->status = RVF_SIG_STATE_CHANGED;
		snprintf(r->reason, sizeof r->reason,
			 "signature valid; unsigned commits after it appended %llu vector(s) and %llu "
			 "segment(s); every signed record is unchanged",
			 (unsigned long long)r->vec_appended.n, (unsigned long long)r->seg_appended.n);
		r->valid = allow_append;
		return 0;
	}
	r->status = RVF_SIG_OK;
	r->valid = 1;
	snprintf(r->reason, sizeof r->reason, "signature valid; signed state is current");
	return 0;
}

int rvf_verify_signature(const char *path, const uint8_t *pubkey, int allow_append, rvf_sig_report *r)
{
	vfile vf;
	rvf_clear_error();
	int err = vfile_open(path, &vf);
	if (err)
		return err;
	err = rvf_verify_signature_buf(vf.data, vf.len, pubkey, allow_append, r);
	vfile_close(&vf);
	return err;
}

/* ---- key files --------------------------------------------------------- */

/* Writes `text` to a fresh temp file next to `path` (O_CREAT|O_EXCL, so it
 * never follows a link), syncs it, then moves it into place: rename() when
 * forcing (replaces the name itself, a symlink there is replaced, not
 * followed), link() otherwise (fails if anything, even a dangling symlink,
 * has the name). */
static int write_key_file(const char *path, const char *text, size_t tlen, mode_t mode, int force)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (!tmp)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return rvf_fail(RVF_E_IO, "%s: cannot create a temp file: %s", path, strerror(e));
	}
	int err = 0;
	if (fchmod(fd, mode) || write(fd, text, tlen) != (ssize_t)tlen || fsync(fd))
		err = rvf_fail(RVF_E_IO, "%s: write failed: %s", path, strerror(errno));
	if (close(fd) && !err)
		err = rvf_fail(RVF_E_IO, "%s: write failed: %s", path, strerror(errno));
	if (!err && force && rename(tmp, path))
		err = rvf_fail(RVF_E_IO, "%s: %s", path, strerror(errno));
	if (!err && !force && link(tmp, path))
		err = rvf_fail(errno == EEXIST ? RVF_E_EXISTS : RVF_E_IO, "%s: %s", path,
			       errno == EEXIST ? "exists (use --force to replace it)" : strerror(errno));
	if (err || !force)
		unlink(tmp);
	free(tmp);
	return err;
}

int rvf_key_write(const char *path, const uint8_t seed[32], int force)
{
	rvf_clear_error();
	size_t n = strlen(path);
	char *pub = malloc(n + 5);
	if (!pub)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	memcpy(pub, path, n);
	memcpy(pub + n, ".pub", 5);
	uint8_t pk[32];
	rvf_key_public(seed, pk);
	char sec[sizeof RVF_KEY_SECRET_LABEL + 66], pubtxt[66];
	size_t ll = sizeof RVF_KEY_SECRET_LABEL - 1;
	memcpy(sec, RVF_KEY_SECRET_LABEL, ll);
	sec[ll] = '\n';
	rvf_hex(seed, 32, sec + ll + 1);
	sec[ll + 65] = '\n';
	rvf_hex(pk, 32, pubtxt);
	pubtxt[64] = '\n';
	int err = write_key_file(path, sec, ll + 66, 0600, force);
	/* KEY.pub taken: take back the KEY just linked, or it stays beside a
	 * public key that is not its own */
	if (!err && (err = write_key_file(pub, pubtxt, 65, 0644, force)) && !force)
		unlink(path);
	sodium_memzero(sec, sizeof sec);
	free(pub);
	return err;
}

/* Reads up to 200 bytes of a regular file (O_NONBLOCK: a FIFO must not
 * hang the reader). Returns the byte count or a negative rvf_err. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return rvf_fail(errno == ENOENT ? RVF_E_NOENT : RVF_E_IO, "%s: cannot open key: %s", path,
				strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return rvf_fail(RVF_E_ARG, "%s: not a regular file", path);
	}
	ssize_t n = read(fd, buf, cap);
	int e = errno;
	close(fd);
	if (n < 0)
		return rvf_fail(RVF_E_IO, "%s: read failed: %s", path, strerror(e));
	return n;
}

/* Does `path`.pub hold the public key of seed? (keys written before the
 * label existed: a bare secret key is accepted only next to its own .pub) */
static int has_matching_pub(const char *path, const uint8_t seed[32])
{
	size_t n = strlen(path);
	char *pub = malloc(n + 5);
	if (!pub)
		return 0;
	memcpy(pub, path, n);
	memcpy(pub + n, ".pub", 5);
	char buf[201];
	uint8_t want[32], got[32];
	ssize_t r = read_small(pub, buf, 200);
	free(pub);
	rvf_clear_error();
	if (r < 0 || rvf_hex_decode(buf, (size_t)r, got, 32))
		return 0;
	rvf_key_public(seed, want);
	return !memcmp(want, got, 32);
}

int rvf_key_read_secret(const char *path, uint8_t seed[32])
{
	rvf_clear_error();
	char buf[201];
	ssize_t n = read_small(path, buf, 200);
	if (n < 0)
		return (int)n;
	size_t ll = sizeof RVF_KEY_SECRET_LABEL - 1;
	int err = 0;
	if ((size_t)n > ll && !memcmp(buf, RVF_KEY_SECRET_LABEL, ll) &&
	    rvf_hex_decode(buf + ll, (size_t)n - ll, seed, 32) == 0)
		err = 0;
	else if (rvf_hex_decode(buf, (size_t)n, seed, 32) == 0 && has_matching_pub(path, seed))
		err = 0; /* unlabelled, from before the label: its own KEY.pub vouches for it */
	else if (rvf_hex_decode(buf, (size_t)n, seed, 32) == 0 || n == 32)
		err = rvf_fail(RVF_E_ARG,
			       "%s: not a secret key (a public key, or a key without its matching "
			       "%s.pub): signing needs the secret key file written by `rvf keygen` "
			       "(KEY, not KEY.pub)", path, path);
	else
		err = rvf_fail(RVF_E_ARG, "%s: not a secret key file written by `rvf keygen`", path);
	if (err)
		sodium_memzero(seed, 32);
	sodium_memzero(buf, sizeof buf);
	return err;
}

int rvf_key_read_public(const char *s, uint8_t pubkey[32])
{
	rvf_clear_error();
	if (access(s, F_OK) != 0 && rvf_hex_decode(s, strlen(s), pubkey, 32) == 0)
		return 0;
	char buf[201];
	ssize_t n = read_small(s, buf, 200);
	if (n < 0)
		return (int)n;
	size_t ll = sizeof RVF_KEY_SECRET_LABEL - 1;
	int err = 0;
	if ((size_t)n >= ll && !memcmp(buf, RVF_KEY_SECRET_LABEL, ll))
		err = rvf_fail(RVF_E_ARG, "%s is a SECRET key: pass the public key (%s.pub)", s, s);
	else if (rvf_hex_decode(buf, (size_t)n, pubkey, 32) == 0)
		err = 0;
	else if (n == 32)
		memcpy(pubkey, buf, 32);
	else
		err = rvf_fail(RVF_E_ARG, "%s: not a public key (want 64 hex digits or 32 raw bytes)", s);
	sodium_memzero(buf, sizeof buf);
	return err;
}
