/* fuzz_manifest.c — libFuzzer harness for the §6 manifest codec.
 * fuzz-seeds: rvf (whole files: a manifest decoded from the front of one)
 *
 * rvf_manifest_decode must never read past the buffer or allocate beyond a
 * small multiple of it; whatever it accepts must survive a round trip:
 * decode(encode(decode(x))) == decode(x), and encode is a fixed point from
 * then on (encode(decode(encode(m))) == encode(m) byte for byte). */
#include "format.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void same(const rvf_manifest *a, const rvf_manifest *b)
{
	if (a->epoch != b->epoch || a->dimension != b->dimension ||
	    a->total_vectors != b->total_vectors || a->profile_id != b->profile_id ||
	    a->metric != b->metric || a->seg_count != b->seg_count ||
	    a->deleted_count != b->deleted_count || a->has_identity != b->has_identity)
		abort();
	for (uint32_t i = 0; i < a->seg_count; i++)
		if (a->dir[i].seg_id != b->dir[i].seg_id || a->dir[i].offset != b->dir[i].offset ||
		    a->dir[i].payload_length != b->dir[i].payload_length ||
		    a->dir[i].seg_type != b->dir[i].seg_type)
			abort();
	if (a->deleted_count && memcmp(a->deleted, b->deleted, a->deleted_count * sizeof(uint64_t)))
		abort();
	if (a->has_identity &&
	    (memcmp(a->file_id, b->file_id, 16) || memcmp(a->parent_id, b->parent_id, 16) ||
	     memcmp(a->parent_hash, b->parent_hash, 32) || a->lineage_depth != b->lineage_depth))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-size copy so ASan sees any read past the end */
	uint8_t *in = malloc(size ? size : 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	rvf_manifest m;
	int r = rvf_manifest_decode(in, size, &m);
	if (r == -2) {
		free(in);
		return 0;
	}
	if (r != 0) {
		if (r != -1 || m.dir || m.deleted)
			abort();
		free(in);
		return 0;
	}
	if (m.seg_count > size / 25 || m.deleted_count > size / 8)
		abort(); /* allocations bounded by the payload */

	uint64_t len = rvf_manifest_encoded_size(&m);
	if (len > 22 + 25ull * m.seg_count + 4 + 8ull * m.deleted_count + 72)
		abort();
	uint8_t *enc = malloc(len);
	if (!enc)
		abort();
	rvf_manifest_encode(&m, enc);
	rvf_manifest m2;
	if (rvf_manifest_decode(enc, len, &m2) != 0)
		abort();
	same(&m, &m2);

	uint8_t *enc2 = malloc(len);
	if (!enc2)
		abort();
	if (rvf_manifest_encoded_size(&m2) != len)
		abort();
	rvf_manifest_encode(&m2, enc2);
	if (memcmp(enc, enc2, len))
		abort();

	rvf_manifest_free(&m2);
	rvf_manifest_free(&m);
	rvf_manifest_free(&m); /* idempotent */
	free(enc2);
	free(enc);
	free(in);
	return 0;
}
