/* format_hdr.c — §3 segment header, §4 CRC-rotated content hash and the
 * §11.3 fold32 digest. */
#include "format.h"

#include <isa-l/crc.h>
#include <string.h>

void rvf_hdr_decode(const uint8_t *b, rvf_seg_hdr *h)
{
	h->magic = rd32(b + 0x00);
	h->version = b[0x04];
	h->seg_type = b[0x05];
	h->flags = rd16(b + 0x06);
	h->seg_id = rd64(b + 0x08);
	h->payload_length = rd64(b + 0x10);
	h->timestamp_ns = rd64(b + 0x18);
	h->checksum_algo = b[0x20];
	h->compression = b[0x21];
	h->reserved_0 = rd16(b + 0x22);
	h->reserved_1 = rd32(b + 0x24);
	memcpy(h->content_hash, b + 0x28, 16);
	h->uncompressed_len = rd32(b + 0x38);
	h->alignment_pad = rd32(b + 0x3C);
}

const char *rvf_hdr_odd(const rvf_seg_hdr *h)
{
	if (h->version != 1)
		return "header version is not 1 (every writer writes 1; the rvf-wire reader refuses "
		       "others): header byte changed?";
	if (h->flags & ~(h->seg_type == RVF_SEG_MANIFEST ? RVF_SEG_FLAG_SEALED : 0))
		return "header flags set that no writer sets (COMPRESSED, ENCRYPTED, SIGNED, ... change "
		       "what other readers make of the payload): header byte changed?";
	if (h->compression)
		return "header says compressed, which no writer does (this reader reads the payload as "
		       "is): header byte changed?";
	if (h->reserved_0 || h->reserved_1 || h->uncompressed_len || h->alignment_pad)
		return "reserved header bytes (0x22-0x27, 0x38-0x3f) are not zero: header byte changed?";
	return NULL;
}

void rvf_hdr_encode(uint8_t *b, uint8_t seg_type, uint64_t seg_id, const uint8_t *payload,
		    uint64_t payload_len)
{
	/* Everything the reference leaves at zero (timestamp, algo, reserved,
	 * uncompressed_len, alignment_pad) comes from this memset. */
	memset(b, 0, RVF_SEG_HDR_SIZE);
	wr32(b + 0x00, RVF_SEG_MAGIC);
	b[0x04] = 1;
	b[0x05] = seg_type;
	wr64(b + 0x08, seg_id);
	wr64(b + 0x10, payload_len);
	rvf_content_hash(payload, payload_len, b + 0x28);
}

/* CRC-32/ISO-HDLC (zlib's, the reference's) via ISA-L: the same values as
 * zlib's crc32() at ~8x its speed here (PCLMUL/AVX-512 folding); it hashes
 * every vector at open and on ingest, where zlib's was the largest cost. */
uint32_t rvf_crc32(const uint8_t *data, uint64_t len)
{
	return len ? crc32_gzip_refl(0, data, len) : 0;
}

void rvf_content_hash(const uint8_t *payload, uint64_t len, uint8_t out[16])
{
	uint32_t v = rvf_crc32(payload, len);

	for (int k = 0; k < 4; k++) {
		unsigned r = 8u * (unsigned)k;
		uint32_t rot = r ? (v << r | v >> (32 - r)) : v;

		wr32(out + 4 * k, rot);
	}
}

int rvf_content_hash_ok(const uint8_t hash[16], const uint8_t *payload, uint64_t len)
{
	uint8_t want[16];

	rvf_content_hash(payload, len, want);
	if (!memcmp(hash, want, 16))
		return RVF_HASH_CRC;
#ifdef RVF_NO_ALT_HASH
	return 0;
#else
	return rvf_content_hash_alt_ok(hash, payload, len);
#endif
}

int rvf_hash_unset(const uint8_t hash[16], uint64_t len)
{
	static const uint8_t zero[16];

	return len && !memcmp(hash, zero, 16);
}

const char *rvf_seg_damage(const uint8_t *f, uint64_t unhashed_end, uint64_t off, const rvf_seg_hdr *h)
{
	const uint8_t *p = f + off + RVF_SEG_HDR_SIZE;
	uint64_t len = h->payload_length;

	if (rvf_hash_unset(h->content_hash, len)) {
		if (h->seg_type == RVF_SEG_MANIFEST) {
			uint64_t i = 0;
			while (i < len && !p[i])
				i++;
			if (i == len)
				return "zero-filled (torn write)";
		}
		if (off + RVF_SEG_HDR_SIZE + len > unhashed_end)
			return "content hash is zero (unset) in a file whose writer sets hashes";
		return NULL;
	}
	return rvf_content_hash_ok(h->content_hash, p, len) ? NULL : "content hash mismatch";
}

uint64_t rvf_unhashed_end(const uint8_t *f, uint64_t size)
{
	static const uint8_t magic[4] = {0x53, 0x46, 0x56, 0x52};
	uint64_t off = 0, end = 0;

	while (size >= RVF_SEG_HDR_SIZE && off <= size - RVF_SEG_HDR_SIZE) {
		rvf_seg_hdr h;

		rvf_hdr_decode(f + off, &h);
		if (h.magic == RVF_SEG_MAGIC && h.payload_length <= size - off - RVF_SEG_HDR_SIZE) {
			if (h.payload_length && !rvf_hash_unset(h.content_hash, h.payload_length))
				break; /* a writer that hashes was here */
			off += RVF_SEG_HDR_SIZE + h.payload_length;
			if (h.seg_type == RVF_SEG_MANIFEST)
				end = off;
			continue;
		}
		const uint8_t *next = memmem(f + off + 1, size - off - 1, magic, sizeof magic);
		if (!next)
			break;
		off = (uint64_t)(next - f);
	}
	return end;
}

void rvf_fold32(const uint8_t *data, size_t len, uint8_t out[32])
{
	memset(out, 0, 32);
	for (size_t i = 0; i < len; i++) {
		size_t k = i % 32, j = (i + 13) % 32;
		uint8_t s;

		out[k] = (uint8_t)(out[k] + data[i]);
		s = out[k];
		out[j] = (uint8_t)(out[j] + (uint8_t)(s << 3 | s >> 5));
	}
}
