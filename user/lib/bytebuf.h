/* bytebuf.h — a growable output buffer and LEB128 varints, shared by the
 * INDEX_SEG codec (hnsw_codec.c) and the INDEX_LOG writer/reader
 * (store_index_log.c). */
#ifndef RVF_BYTEBUF_H
#define RVF_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint8_t *p;
	size_t n, cap;
	int oom; /* a realloc failed: every later call is a no-op */
} bytebuf;

/* k more bytes at the end (uninitialised), or NULL (oom set). */
uint8_t *bytebuf_room(bytebuf *b, size_t k);
/* Appends v as an unsigned LEB128 varint. */
void bytebuf_varint(bytebuf *b, uint64_t v);
/* Reads a varint from p[*pos .. len): 0, or -1 when it runs past len or
 * past 64 bits. */
int bytebuf_read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v);

#endif
