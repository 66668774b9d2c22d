/* digest.h — BLAKE2b-256 and the hex text of digests and keys (witness.c).
 * Used by the verifiers, the signer and the CLI (through rvf_frontend.h). */
#ifndef RVF_DIGEST_H
#define RVF_DIGEST_H
#include <stddef.h>
#include <stdint.h>

/* BLAKE2b-256 (unkeyed, libsodium crypto_generichash): the link hash of our
 * own witnesses, the payload digests of attestation and signatures. */
void rvf_blake2b256(const uint8_t *data, size_t len, uint8_t out[32]);

/* Hex helpers. hex_decode returns 0 if s (whitespace-trimmed) is exactly
 * 2*n hex digits. */
void rvf_hex(const uint8_t *b, size_t n, char *out); /* out: 2n+1 */
int rvf_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

#endif
