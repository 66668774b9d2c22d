/* sign.h — Ed25519 signatures over a store's committed state (CRYPTO_SEG).
 *
 * Layout and signed message: docs/SECURITY.md §2. In short, `rvf_sign`
 * appends one CRYPTO_SEG (176-byte payload, magic "SGVR") that signs
 *   - the current manifest segment with the §18.5 message layout (BLAKE2b-256
 *     in place of SHAKE-256 for the payload digest), and
 *   - BLAKE2b-256 of every file byte before the CRYPTO_SEG ("covered prefix"),
 * then commits it with a manifest that lists it. Verification checks the
 * signature, the prefix digest, and that the file's current state is still
 * the signed one (nothing but the signature commit appended).
 *
 * The public part (rvf_keygen, key files, rvf_sign, rvf_verify_signature)
 * is in rvf.h.
 */
#ifndef RVF_SIGN_H
#define RVF_SIGN_H

#include "format.h"
#include "rvf.h"
#include <stddef.h>
#include <stdint.h>

#define RVF_SIG_MAGIC 0x52564753u /* on disk "SGVR" */
#define RVF_SIG_VERSION 1
#define RVF_SIG_ALGO_ED25519 0
#define RVF_SIG_HASH_BLAKE2B 1 /* digest algorithm of the payload/prefix hashes */
#define RVF_SIG_HEAD 0x70      /* signed fields before the signature */
#define RVF_SIG_PAYLOAD 0xB0   /* head + 64-byte signature */
#define RVF_SIG_MSG_LEN (94 + 13 + RVF_SIG_HEAD) /* 219 */

/* rvf_verify_signature over a buffer (the tests, the fuzzers). */
int rvf_verify_signature_buf(const uint8_t *f, size_t len, const uint8_t *pubkey, int allow_append,
			     rvf_sig_report *r);

/* Fills r's vec_* / seg_* lists and header_changed (sign_diff.c). -1 when
 * out of memory. */
int sig_diff(const uint8_t *f, size_t len, const rvf_manifest *sig, const rvf_manifest *cur,
	     rvf_sig_report *r);

/* The signed message for manifest header `mh` (64 bytes + payload) and the
 * CRYPTO_SEG head (RVF_SIG_HEAD bytes); msg gets RVF_SIG_MSG_LEN bytes. */
void rvf_sig_message(const uint8_t *mh, const uint8_t *head, uint8_t *msg);

/* §18.5 footer after the payload of a SIGNED segment at off: its length
 * (8 + sig_length) if one is there, else 0. */
uint64_t rvf_sig_footer_len(const uint8_t *f, size_t len, uint64_t off, uint16_t flags,
			    uint64_t payload_length);

/* Key files (docs/SECURITY.md §2.1; rvf_key_write / rvf_key_read_secret /
 * rvf_key_read_public are public: rvf.h): KEY holds the label line
 * RVF_KEY_SECRET_LABEL and the 32-byte seed as 64 hex digits (mode 0600),
 * KEY.pub the public key as 64 hex digits. A secret key is never taken from
 * a file without the label unless KEY.pub next to it holds its public key
 * (so a public key passed as the secret is refused), and a labelled file is
 * refused as a public key. Written through a temp file and link/rename:
 * never through a symlink. */
#define RVF_KEY_SECRET_LABEL "RVF-ED25519-SECRET-KEY"

#endif
