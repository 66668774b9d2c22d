/* fuzz_meta.c — libFuzzer harness for the metadata codecs (meta.c).
 *
 * Input byte 0 selects:
 *   even: the rest is a META_SEG payload ("RVMD" v1). The harness fixes
 *         its CRC half of the time (else nearly every input dies at the
 *         CRC check). meta_seg_decode must fail with a message, or give
 *         records that meta_seg_encode writes back byte for byte (the codec
 *         is canonical), allocating at most ~10x the payload;
 *   even with bit 2 set: the rest (after an implied "RVMF" magic) is a
 *         field dictionary: a clean error, or a canonical payload whose
 *         names and ids are unique and look up to themselves;
 *   odd:  the rest is metadata JSON for meta_from_json_text; what it accepts
 *         must render (meta_to_json, typed form) and re-parse to the same
 *         fields. */
#include "errors.h"
#include "format.h"
#include "fuzz_util.h"
#include "meta.h"
#include "meta_dict.h"

static void same_fields(const meta_field *a, size_t na, const meta_field *b, size_t nb)
{
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++)
		if (a[i].id != b[i].id || !meta_value_eq(&a[i], &b[i]))
			abort();
}

static void seg(const uint8_t *data, size_t size, int fix_crc)
{
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		abort();
	memcpy(p, data, size);
	if (fix_crc && size >= META_SEG_HDR + META_SEG_TRAILER)
		wr32(p + size - 4, rvf_crc32(p, size - 4));
	meta_batch b;
	rvf_clear_error();
	int rc = meta_seg_decode(p, size, &b);
	if (rc != RVF_OK) {
		if (rc > 0 || b.recs || b.n || !*rvf_last_error())
			abort();
		free(p);
		return;
	}
	for (size_t i = 0; i < b.n; i++)
		for (size_t k = 0; k < b.recs[i].nfields; k++)
			if (b.recs[i].fields[k].type == META_STRING)
				fz_touch(b.recs[i].fields[k].v.str.ptr, b.recs[i].fields[k].v.str.len + 1);
	uint8_t *enc;
	size_t len;
	if (meta_seg_encode(b.recs, b.n, &enc, &len) != RVF_OK) {
		fprintf(stderr, "decoded records do not re-encode: %s\n", rvf_last_error());
		abort();
	}
	if (len != size || memcmp(enc, p, size)) {
		fprintf(stderr, "re-encoding differs (%zu vs %zu bytes)\n", len, size);
		abort();
	}
	free(enc);
	meta_batch_free(&b);
	free(p);
}

static void js(const uint8_t *data, size_t size)
{
	char *t = fz_cstr(data, size);
	meta_field *f = NULL;
	size_t n = 0;
	rvf_clear_error();
	int rc = meta_from_json_text(t, size, &f, &n);
	free(t);
	if (rc != RVF_OK) {
		if (f || !*rvf_last_error())
			abort();
		return;
	}
	json_t *j = meta_to_json(f, n, META_JSON_TYPED);
	if (!j) {
		free(f);
		return; /* only on allocation failure */
	}
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		abort();
	meta_field *g = NULL;
	size_t m = 0;
	if (meta_from_json_text(s, strlen(s), &g, &m) != RVF_OK) {
		fprintf(stderr, "rendered metadata does not parse back: %s\n%s\n", s, rvf_last_error());
		abort();
	}
	same_fields(f, n, g, m);
	free(s);
	free(g);
	free(f);
}

/* A field dictionary ("RVMF"): a clean error, or entries that re-encode to
 * the same bytes, with unique names and ids that each look up to themselves. */
static void dict(const uint8_t *data, size_t size, int fix_crc)
{
	uint8_t *p = malloc(size + 4);
	if (!p)
		abort();
	memcpy(p, META_DICT_MAGIC, 4); /* past the magic, or nearly nothing does */
	memcpy(p + 4, data, size);
	size += 4;
	if (fix_crc && size >= 16)
		wr32(p + size - 4, rvf_crc32(p, size - 4));
	meta_dict d = {0};
	rvf_clear_error();
	int rc = meta_dict_decode(p, size, &d);
	if (rc != RVF_OK) {
		if (rc > 0 || d.n || d.e || !*rvf_last_error())
			abort();
		free(p);
		return;
	}
	for (size_t i = 0; i < d.n; i++) {
		const char *nm = d.e[i].name;
		if (meta_dict_find(&d, nm, strlen(nm)) != &d.e[i] || meta_dict_by_id(&d, d.e[i].id) != &d.e[i] ||
		    meta_dict_name_ok(nm, strlen(nm)))
			abort();
	}
	uint8_t *enc;
	size_t len;
	if (meta_dict_encode(&d, &enc, &len) != RVF_OK || len != size || memcmp(enc, p, size))
		abort(); /* the codec is canonical */
	free(enc);
	meta_dict_clear(&d);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] & 1)
		js(data + 1, size - 1);
	else if (data[0] & 4)
		dict(data + 1, size - 1, data[0] & 2);
	else
		seg(data + 1, size - 1, data[0] & 2);
	return 0;
}
