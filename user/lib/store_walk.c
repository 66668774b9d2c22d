/* store_walk.c — visit every segment of the file in order. Segments not in
 * the directory (witnesses, journals, old manifests) are only reachable this
 * way. Damage or padding between segments is skipped by searching for the
 * next segment magic; payloads are skipped by length, so bytes inside a
 * valid segment are never mistaken for a header. */
#include "store.h"
#include <string.h>

int store_walk(const rvf_store *s, store_seg_fn fn, void *ctx)
{
	static const uint8_t magic[4] = {0x53, 0x46, 0x56, 0x52};
	int err = store_mapped(s);
	if (err)
		return err;
	uint64_t off = 0, size = s->map_len;
	while (off + RVF_SEG_HDR_SIZE <= size) {
		rvf_seg_hdr h;
		rvf_hdr_decode(s->map + off, &h);
		if (h.magic == RVF_SEG_MAGIC && h.payload_length <= size - off - RVF_SEG_HDR_SIZE) {
			int r = fn(ctx, off, &h);
			if (r)
				return r;
			off += RVF_SEG_HDR_SIZE + h.payload_length;
			continue;
		}
		const uint8_t *next = memmem(s->map + off + 1, size - off - 1, magic, sizeof magic);
		if (!next)
			break;
		off = (uint64_t)(next - s->map);
	}
	return 0;
}
