/* meta_dict.h — the field dictionary: metadata field names -> {field id,
 * type}, persisted as a META_SEG (0x07) payload "RVMF" v1 (layout in
 * docs/METADATA.md §8). The reference binding keeps META_SEGs it does not
 * understand and never reads them, so files with names stay readable there.
 *
 * Names are 1..255 bytes of UTF-8 without control characters and do not
 * start with a digit (a key "3" is always field id 3). Names and ids are
 * unique within a dictionary. Errors: RVF_OK or a negative rvf_err with
 * rvf_last_error() set. Not thread-safe (the store's lock serialises). */
#ifndef RVF_META_DICT_H
#define RVF_META_DICT_H

#include <stddef.h>
#include <stdint.h>

#define META_DICT_MAGIC "RVMF"
#define META_DICT_VERSION 1
#define META_DICT_MAX_NAME 255u

typedef struct {
	char *name; /* NUL-terminated */
	uint16_t id;
	uint8_t type; /* meta_type */
} meta_dict_ent;

typedef struct {
	meta_dict_ent *e;
	size_t n, cap;
} meta_dict;

void meta_dict_clear(meta_dict *d); /* frees the entries; d stays usable */
/* dst becomes a copy of src (dst's old entries freed). */
int meta_dict_copy(meta_dict *dst, const meta_dict *src);
/* 0 if name is acceptable (see above), else RVF_E_ARG with the reason. */
int meta_dict_name_ok(const char *name, size_t len);
/* The entry for name / for id, or NULL. */
const meta_dict_ent *meta_dict_find(const meta_dict *d, const char *name, size_t len);
const meta_dict_ent *meta_dict_by_id(const meta_dict *d, uint16_t id);
/* Adds name -> {id, type}; RVF_E_ARG for a bad name or type, a name or id
 * already present. */
int meta_dict_add(meta_dict *d, const char *name, size_t len, uint16_t id, int type);

/* Payload "RVMF" v1 (docs/METADATA.md §8), entries in the dictionary's order. */
int meta_dict_encode(const meta_dict *d, uint8_t **out, size_t *len);
/* 1 if p starts like a dictionary payload (the magic). */
int meta_dict_is(const uint8_t *p, size_t len);
/* Decodes into d (cleared first). RVF_E_UNSUPPORTED: another version or
 * flags (skip it); RVF_E_CORRUPT: damaged (message names the offset):
 * short, CRC, count that cannot fit, overrun, empty/invalid name, bad type,
 * duplicate name or id, trailing bytes. Allocates at most ~3x len. */
int meta_dict_decode(const uint8_t *p, size_t len, meta_dict *d);

#endif
