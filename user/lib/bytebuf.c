/* bytebuf.c — see bytebuf.h. */
#include "bytebuf.h"

#include <stdlib.h>
#include <string.h>

uint8_t *bytebuf_room(bytebuf *b, size_t k)
{
	if (b->oom)
		return NULL;
	if (b->n + k > b->cap) {
		size_t c = b->cap ? b->cap * 2 : 4096;
		while (c < b->n + k)
			c *= 2;
		uint8_t *t = realloc(b->p, c);
		if (!t) {
			b->oom = 1;
			return NULL;
		}
		b->p = t;
		b->cap = c;
	}
	b->n += k;
	return b->p + b->n - k;
}

void bytebuf_varint(bytebuf *b, uint64_t v)
{
	uint8_t t[10];
	size_t k = 0;
	do {
		t[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	uint8_t *o = bytebuf_room(b, k);
	if (o)
		memcpy(o, t, k);
}

int bytebuf_read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	for (int sh = 0; sh < 64; sh += 7) {
		if (*pos >= len)
			return -1;
		uint8_t c = p[(*pos)++];
		if (sh == 63 && c > 1)
			return -1;
		r |= (uint64_t)(c & 0x7f) << sh;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}
