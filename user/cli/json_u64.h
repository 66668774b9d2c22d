/* json_u64.h — u64 ids through jansson (json_u64.c): exact integers
 * 2^63..2^64-1 in JSON input and output. */
#ifndef RVF_JSON_U64_H
#define RVF_JSON_U64_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A u64 (id, size, count). Above 2^63-1 jansson cannot hold it as an
 * integer: it is then a marker that only cli_json_dumps (and cli_json_print)
 * print right. */
json_t *cli_json_u64(uint64_t v);
/* json_dumps that prints every cli_json_u64 value as an exact integer (use
 * it, or cli_json_print, for any tree that may hold one). Free the text. */
char *cli_json_dumps(const json_t *j, size_t flags);
/* json_loadb that keeps an integer 2^63..2^64-1 exact when it is a record's
 * id: "id" of the top-level object or of an object in its "vectors" array,
 * or an element of its "ids" array (read it with cli_json_get_u64); any
 * other integer above 2^63-1 is refused as before. */
json_t *cli_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *e);
/* An id: a non-negative integer or a big one kept by cli_json_loadb.
 * 0 ok, -1 not an integer 0..2^64-1. */
int cli_json_get_u64(const json_t *v, uint64_t *out);

#endif
