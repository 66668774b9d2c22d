/* json_u64.h — u64 ids and shortest reals through jansson (json_u64.c):
 * exact integers 2^63..2^64-1 in JSON input and output, reals as the
 * shortest text that round-trips in their own type. */
#ifndef RVF_JSON_U64_H
#define RVF_JSON_U64_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A u64 (id, size, count). Above 2^63-1 jansson cannot hold it as an
 * integer: it is then a marker that only cli_json_dumps (and cli_json_print)
 * print right. */
json_t *cli_json_u64(uint64_t v);
/* A finite real printed as the shortest text that reads back as the same
 * float32 (cli_json_f32: a distance) or double; integral values get ".0".
 * Non-finite values become null. Only cli_json_dumps prints them right. */
json_t *cli_json_f32(float v);
json_t *cli_json_f64(double v);
/* The same text into buf (at least 32 bytes). */
void cli_json_shortest(double v, int is_f32, char *buf, size_t len);
/* json_dumps that prints every cli_json_u64 value as an exact integer and
 * every real (jansson's or cli_json_f32/f64) as its shortest round-tripping
 * text (use it, or cli_json_print, for any tree that may hold one). Free the
 * text. NULL on allocation failure. */
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
