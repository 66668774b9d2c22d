/* meta.h — typed per-vector metadata: an in-memory table keyed by dense slot
 * number, the META_SEG (0x07) payload codec "RVMD" v1, and JSON helpers.
 *
 * The reference never persists metadata (rvf-format.md §10); this module is
 * our extension. The byte layout is specified in docs/METADATA.md.
 *
 * A field is {u16 id, type, value}. Types: u64, i64, f64, string (UTF-8,
 * may contain NUL, length-counted) and bool. Within one vector, field ids are
 * unique; everything this module returns is sorted by ascending id.
 *
 * Errors: functions returning int give RVF_OK (0) or a negative rvf_err and
 * set rvf_last_error() (errors.h). Not thread-safe: callers serialise access
 * to one table (the store's lock does).
 */
#ifndef RVF_META_H
#define RVF_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rvf.h"

typedef enum {
	META_U64 = RVF_FIELD_U64,
	META_I64 = RVF_FIELD_I64,
	META_F64 = RVF_FIELD_F64,
	META_STRING = RVF_FIELD_STRING,
	META_BOOL = RVF_FIELD_BOOL,
} meta_type;
#define META_NTYPES 5

typedef rvf_field meta_field; /* the public type (include/rvf.h) */

#define META_SLOT_NONE UINT32_MAX /* meta_compact: drop this slot */
#define META_MAX_FIELDS 65535u     /* per vector (u16 count on disk) */

/* "u64" "i64" "f64" "string" "bool"; NULL for an invalid type. */
const char *meta_type_name(int type);
/* Returns the meta_type for a name above, or -1. */
int meta_type_from_name(const char *name);

/* Parses text the way the reference's Node binding parses a metadata or
 * filter value string (Rust FromStr): u64 "[+]digits", i64 "[+-]digits"
 * (range-checked), f64 Rust float syntax incl. inf/infinity/nan (any case),
 * bool exactly "true"/"false", string taken verbatim. On failure returns
 * RVF_E_ARG with the reference's message "Cannot parse 'x' as u64".
 * For META_STRING, out->v.str points into s (no copy). out->id is left 0. */
int meta_value_from_string(int type, const char *s, size_t len, meta_field *out);

/* 1 if equal types and values (f64 by ==, so NaN != NaN, -0 == 0; strings
 * bytewise). Field ids are not compared. */
bool meta_value_eq(const meta_field *a, const meta_field *b);

/* Sorts fields by id (stable) and removes duplicate ids, keeping the LAST
 * occurrence (a later value for the same field wins). *n is updated. */
void meta_normalize(meta_field *fields, size_t *n);

/* 1 if buf[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool meta_utf8_valid(const char *buf, size_t len);

/* ---- the per-slot table ------------------------------------------------ */
typedef struct meta_table meta_table;

meta_table *meta_new(void); /* NULL on allocation failure */
void meta_free(meta_table *t);

/* Replaces the metadata of slot with a copy of fields[0..n) (strings copied;
 * normalised: sorted, duplicate ids -> last wins). n == 0 clears. Fails with
 * RVF_E_ARG (bad type code, invalid UTF-8, NULL string with len > 0, n > 65535)
 * or RVF_E_NOMEM, leaving the slot unchanged. */
int meta_set(meta_table *t, uint32_t slot, const meta_field *fields, size_t n);

/* Sets *fields and *n to the slot's fields (ascending ids; NULL/0 if none).
 * Pointers stay valid until the next meta_set/meta_clear/meta_compact/
 * meta_free touching that slot. Returns 1 if the slot has fields, else 0. */
int meta_get(const meta_table *t, uint32_t slot, const meta_field **fields, size_t *n);

void meta_clear(meta_table *t, uint32_t slot);

/* Renumbers slots after compaction: remap[old] is the new slot or
 * META_SLOT_NONE to drop it. Slots >= nremap are dropped. New slot numbers
 * must be unique (RVF_E_ARG otherwise, table unchanged). */
int meta_compact(meta_table *t, const uint32_t *remap, size_t nremap);

/* Number of slots that currently have at least one field. */
size_t meta_count(const meta_table *t);

/* ---- META_SEG payload codec (docs/METADATA.md) -------------------------- */
#define META_SEG_MAGIC "RVMD"
#define META_SEG_VERSION 1
#define META_SEG_HDR 12    /* magic, version, flags, record count */
#define META_SEG_TRAILER 4 /* CRC-32 (zlib) of every preceding byte */

typedef struct {
	uint64_t id;          /* vector id */
	const meta_field *fields; /* ascending, unique ids */
	size_t nfields;       /* 0 = the id has no metadata (clears) */
} meta_record;

typedef struct {
	meta_record *recs;
	size_t n;
	void *arena_; /* owns recs, fields and string bytes */
} meta_batch;

/* Exact encoded size, or 0 if a record is invalid (see meta_seg_encode). */
uint64_t meta_seg_size(const meta_record *recs, size_t n);
/* Encodes into a malloc'd buffer (*out, *len). Records are written in order;
 * each record's fields must be sorted by strictly ascending id (meta_get
 * output is; use meta_normalize otherwise) with valid types and UTF-8
 * strings, else RVF_E_ARG. n must be < 2^32. */
int meta_seg_encode(const meta_record *recs, size_t n, uint8_t **out, size_t *len);
/* Convenience for the store: one record per slots[i] with vector id ids[i]
 * and that slot's current fields (zero fields if none). */
int meta_seg_encode_slots(const meta_table *t, const uint32_t *slots, const uint64_t *ids,
			  size_t n, uint8_t **out, size_t *len);

/* Decodes a META_SEG payload. Returns:
 *   RVF_OK            *b filled (free with meta_batch_free);
 *   RVF_E_UNSUPPORTED not an RVMD payload or a newer version (e.g. the
 *                     upstream metadata chain): skip the segment, keep it;
 *   RVF_E_CORRUPT     RVMD v1 but damaged (message names the byte offset);
 *   RVF_E_NOMEM.
 * Never reads outside p[0..len) and allocates at most ~10 x len bytes.
 * Records are in payload order; apply them in order (later ones win). */
int meta_seg_decode(const uint8_t *p, size_t len, meta_batch *b);
void meta_batch_free(meta_batch *b);

/* ---- JSON --------------------------------------------------------------- */
/* Parses one vector's metadata from JSON. Accepted forms:
 *   simple:  {"0": 5, "1": "text", "2": 1.5, "3": true, "4": -7}
 *            keys are decimal field ids 0..65535; types are inferred:
 *            non-negative integer -> u64, negative integer -> i64,
 *            real -> f64, string -> string, true/false -> bool;
 *   typed:   {"fields": [{"id": 0, "type": "u64", "value": 5}, ...]}
 *            or the bare array [...]; "fieldId"/"valueType" are accepted as
 *            aliases of "id"/"type" (the Node binding's entry shape); value
 *            may be the JSON type or a string parsed per type (as the Node
 *            binding does, so "18446744073709551615" or "NaN" work).
 * On success *fields is a malloc'd, normalised array whose strings are
 * allocated in the same block: free(*fields) releases everything.
 * Errors (RVF_E_ARG) name the JSON path: "metadata.fields[2].type: ...". */
int meta_from_json(const json_t *j, meta_field **fields, size_t *n);
/* Same, from text (jansson parse errors reported with line/column). */
int meta_from_json_text(const char *text, size_t len, meta_field **fields, size_t *n);

/* Field names for the JSON forms (the store's dictionary, meta_dict.h).
 * resolve: name -> *id and its dictionary type *dtype; type is the value's
 * type (a new name may be defined with it) or -1 (look up only). Returns 0
 * or an rvf_err with rvf_last_error() set. name_of: id -> name or NULL. */
#define META_NAME_MAX 255
typedef struct {
	int (*resolve)(void *ctx, const char *name, int type, uint16_t *id, int *dtype);
	const char *(*name_of)(void *ctx, uint16_t id);
	void *ctx;
} meta_names;
/* meta_from_json that also takes names: a simple-form key that does not
 * start with a digit, or a typed entry's "name" (instead of "id"), is
 * resolved through nm. A simple-form value takes the name's type when it
 * converts exactly from the inferred one (an integer to f64, a non-negative
 * integer to i64); any other mismatch is an error naming field and types. */
int meta_from_json_names(const json_t *j, const meta_names *nm, meta_field **fields, size_t *n);
int meta_from_json_text_names(const char *text, size_t len, const meta_names *nm, meta_field **fields,
			      size_t *n);

enum {
	META_JSON_AUTO = 0,   /* simple form if it round-trips exactly, else typed */
	META_JSON_SIMPLE = 1, /* always simple (lossy: i64 >= 0 re-reads as u64, ...) */
	META_JSON_TYPED = 2,  /* always {"fields":[...]} */
};
/* Renders fields (as given; normally meta_get output). In the typed form u64
 * values above 2^63-1 and non-finite f64 values are written as strings
 * ("18446744073709551615", "NaN", "inf", "-inf") so they re-parse exactly.
 * Returns a new reference or NULL on allocation failure / invalid UTF-8. */
json_t *meta_to_json(const meta_field *fields, size_t n, int form);
/* Same, with named fields keyed by their name (simple form) or carrying a
 * "name" (typed form). */
json_t *meta_to_json_names(const meta_field *fields, size_t n, int form, const meta_names *nm);

#endif
