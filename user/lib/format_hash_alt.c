/* format_hash_alt.c — content hashes other writers put in the §4 field.
 * The store writes (and expects) the CRC-rotated hash; a segment whose
 * field holds instead the first 16 bytes of SHA-256 (the reference
 * repository's ruvbot builder, checksum_algo 0) or of SHAKE-256 (the
 * rvf-wire library, checksum_algo 2) is intact if that digest of its
 * payload matches, whatever checksum_algo says: the algorithm byte is not
 * covered by anything, so it cannot be what decides. Only reached when the
 * CRC-rotated hash did not match, so a store file pays nothing.
 * SHA-256 from libsodium, SHAKE-256 from Nettle (GnuTLS's crypto library,
 * already linked through libmicrohttpd): both well kept, none hand-written. */
#include "format.h"
#include <nettle/sha3.h>
#include <sodium.h>
#include <string.h>

int rvf_content_hash_alt_ok(const uint8_t hash[16], const uint8_t *payload, uint64_t len)
{
	uint8_t d[32];
	struct sha3_256_ctx x;

	if (len > SIZE_MAX)
		return 0;
	crypto_hash_sha256(d, payload, (unsigned long long)len);
	if (!memcmp(hash, d, 16))
		return RVF_HASH_SHA256;
	sha3_256_init(&x);
	sha3_256_update(&x, (size_t)len, payload);
	sha3_256_shake(&x, 16, d);
	if (!memcmp(hash, d, 16))
		return RVF_HASH_SHAKE256;
	return 0;
}
