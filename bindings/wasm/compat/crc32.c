/* CRC-32 (gzip polynomial, reflected) for wasm32-wasi builds, where neither
 * ISA-L nor a zlib build exists in Debian. Slice-by-4 tables built on first
 * use; the native library uses ISA-L's folding kernels instead. Same results
 * as zlib's crc32() (checked by the wasm test on real files' content hashes). */
#include "isa-l/crc.h"

static uint32_t tab[4][256];
static int ready;

static void build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 4; t++)
			tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xff];
	ready = 1;
}

uint32_t crc32_gzip_refl(uint32_t init_crc, const unsigned char *buf, uint64_t len)
{
	uint32_t c = ~init_crc;

	if (!ready)
		build();
	while (len >= 4) {
		c ^= (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
		c = tab[3][c & 0xff] ^ tab[2][(c >> 8) & 0xff] ^ tab[1][(c >> 16) & 0xff] ^ tab[0][c >> 24];
		buf += 4;
		len -= 4;
	}
	while (len--)
		c = tab[0][(c ^ *buf++) & 0xff] ^ (c >> 8);
	return ~c;
}
