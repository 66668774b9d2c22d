/* test_fieldnames.c — the field dictionary: the "RVMF" codec (round trip,
 * golden bytes, hostile payloads) and the store (define/lookup, persisted,
 * type conflicts, kept by compaction, inherited by derive). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "format.h"
#include "meta.h"
#include "meta_dict.h"
#include "testutil.h"

static void test_codec_golden(void)
{
	meta_dict d = {0};
	CHECK_OK(meta_dict_add(&d, "tag", 3, 0, META_STRING));
	CHECK_OK(meta_dict_add(&d, "price", 5, 7, META_F64));
	uint8_t *p;
	size_t n;
	CHECK_OK(meta_dict_encode(&d, &p, &n));
	static const uint8_t want[] = {'R', 'V', 'M', 'F', 1, 0, 0, 0, 2, 0, 0, 0,
				       0, 0, 3, 3, 't', 'a', 'g',
				       7, 0, 2, 5, 'p', 'r', 'i', 'c', 'e'};
	CHECK(n == sizeof want + 4, "size %zu", n);
	CHECK(!memcmp(p, want, sizeof want), "bytes differ");
	CHECK(rd32(p + sizeof want) == rvf_crc32(p, sizeof want), "crc");
	meta_dict e = {0};
	CHECK_OK(meta_dict_decode(p, n, &e));
	CHECK(e.n == 2 && !strcmp(e.e[1].name, "price") && e.e[1].id == 7 && e.e[1].type == META_F64,
	      "decoded");
	CHECK(meta_dict_find(&e, "tag", 3) && meta_dict_find(&e, "tag", 3)->id == 0, "find");
	CHECK(!meta_dict_find(&e, "ta", 2), "prefix is not a name");
	CHECK(meta_dict_by_id(&e, 7) && !meta_dict_by_id(&e, 1), "by id");
	free(p);
	meta_dict_clear(&d);
	meta_dict_clear(&e);
}

/* Builds a payload from raw entries and fixes the CRC. */
static size_t mk(uint8_t *buf, uint32_t count, const uint8_t *ents, size_t elen)
{
	memcpy(buf, "RVMF\x01\x00\x00\x00", 8);
	wr32(buf + 8, count);
	if (elen)
		memcpy(buf + 12, ents, elen);
	wr32(buf + 12 + elen, rvf_crc32(buf, 12 + elen));
	return 16 + elen;
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *msg)
{
	meta_dict d = {0};
	int rc = meta_dict_decode(p, n, &d);
	CHECK(rc == RVF_E_CORRUPT, "rc %d for '%s'", rc, msg);
	CHECK(strstr(rvf_last_error(), msg) != NULL, "message '%s', want '%s'", rvf_last_error(), msg);
	CHECK(d.n == 0 && d.e == NULL, "nothing kept");
}

static void test_codec_hostile(void)
{
	uint8_t b[600];
	size_t n;
	/* duplicate name, different ids */
	n = mk(b, 2, (const uint8_t *)"\x00\x00\x03\x01" "a" "\x01\x00\x03\x01" "a", 10);
	expect_corrupt(b, n, "name 'a' defined twice");
	/* duplicate id */
	n = mk(b, 2, (const uint8_t *)"\x05\x00\x03\x01" "a" "\x05\x00\x03\x01" "b", 10);
	expect_corrupt(b, n, "field id 5 named twice");
	/* bad UTF-8, control character, digit start, empty name, bad type */
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x02\xc3\x28", 6);
	expect_corrupt(b, n, "not valid UTF-8");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x02" "a\n", 6);
	expect_corrupt(b, n, "control character");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x02" "a\0", 6);
	expect_corrupt(b, n, "control character");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x01" "7", 5);
	expect_corrupt(b, n, "starts with a digit");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x00", 4);
	expect_corrupt(b, n, "1..255 bytes");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x09\x01" "a", 5);
	expect_corrupt(b, n, "invalid type 9");
	/* huge counts, overruns, leftovers */
	n = mk(b, 0xffffffffu, (const uint8_t *)"\x00\x00\x03\x01" "a", 5);
	expect_corrupt(b, n, "4294967295 entries cannot fit");
	n = mk(b, 2, (const uint8_t *)"\x00\x00\x03\x01" "a" "\x01\x00\x03\xff" "b", 10);
	expect_corrupt(b, n, "runs past the end");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x01" "a" "zz", 7);
	expect_corrupt(b, n, "2 bytes left over");
	n = mk(b, 1, (const uint8_t *)"\x00\x00\x03\x01" "a", 5);
	b[n - 1] ^= 1;
	expect_corrupt(b, n, "CRC-32 mismatch");
	expect_corrupt((const uint8_t *)"RVMF\x01\x00", 6, "truncated");
	/* another version: skipped, not an error */
	n = mk(b, 0, NULL, 0);
	b[4] = 2;
	meta_dict d = {0};
	CHECK(meta_dict_decode(b, n, &d) == RVF_E_UNSUPPORTED, "v2 skipped");
	/* every truncation of a good payload fails cleanly */
	n = mk(b, 2, (const uint8_t *)"\x00\x00\x03\x03" "tag" "\x07\x00\x02\x05" "price", 16);
	for (size_t k = 0; k < n; k++) {
		int rc = meta_dict_decode(b, k, &d);
		CHECK(rc == RVF_E_CORRUPT || rc == RVF_E_UNSUPPORTED, "truncated to %zu: %d", k, rc);
	}
	CHECK_OK(meta_dict_decode(b, n, &d));
	meta_dict_clear(&d);
}

static void test_codec_max(void)
{
	/* 65536 distinct names: decodes (n log n duplicate check) and re-encodes */
	size_t cap = 16 + 65536 * 12;
	uint8_t *raw = malloc(cap), *w = raw + 12;
	for (unsigned i = 0; i < 65536; i++) {
		char name[16];
		int l = snprintf(name, sizeof name, "f%u", i);
		wr16(w, (uint16_t)(65535 - i));
		w[2] = META_U64;
		w[3] = (uint8_t)l;
		memcpy(w + 4, name, (size_t)l);
		w += 4 + l;
	}
	memcpy(raw, "RVMF\x01\x00\x00\x00", 8);
	wr32(raw + 8, 65536);
	wr32(w, rvf_crc32(raw, (size_t)(w - raw)));
	meta_dict d = {0};
	CHECK_OK(meta_dict_decode(raw, (size_t)(w - raw) + 4, &d));
	CHECK(d.n == 65536, "n %zu", d.n);
	free(raw);
	uint8_t *p, *q;
	size_t n, m;
	CHECK_OK(meta_dict_encode(&d, &p, &n));
	meta_dict e = {0};
	CHECK_OK(meta_dict_decode(p, n, &e));
	CHECK_OK(meta_dict_encode(&e, &q, &m));
	CHECK(n == m && !memcmp(p, q, n), "canonical");
	free(p);
	free(q);
	meta_dict_clear(&d);
	meta_dict_clear(&e);
}

#define DIM 4

static void test_store_names(void)
{
	char *path = tu_tpath("names", "a.rvf"), *child = tu_tpath("names", "child.rvf"),
	     *branch = tu_tpath("names", "branch.rvf");
	rvf_create_opts o = {.dimension = DIM, .metric = RVF_METRIC_L2};
	rvf_store *s;
	CHECK_OK(rvf_create(path, &o, &s));
	/* numeric field 65535 in use: the first name gets id 65534 */
	rvf_field f0 = {.id = 65535, .type = RVF_FIELD_U64, .v.u64 = 9};
	const rvf_field *fp = &f0;
	size_t nf = 1;
	uint64_t id = 1;
	float v[DIM] = {1, 2, 3, 4};
	CHECK_OK(rvf_ingest_meta(s, &id, v, 1, &fp, &nf, NULL));
	uint16_t tag, price, again;
	CHECK_OK(rvf_field_define(s, "tag", RVF_FIELD_STRING, &tag));
	CHECK_OK(rvf_field_define(s, "price", RVF_FIELD_F64, &price));
	CHECK(tag == 65534 && price == 65533, "ids %u %u", tag, price);
	CHECK_OK(rvf_field_define(s, "tag", RVF_FIELD_STRING, &again));
	CHECK(again == tag, "same id");
	CHECK(rvf_field_define(s, "tag", RVF_FIELD_U64, &again) == RVF_E_ARG, "conflicting type");
	CHECK(!strcmp(rvf_last_error(), "field 'tag' is string, not u64"), "msg %s", rvf_last_error());
	CHECK(rvf_field_define(s, "1x", RVF_FIELD_U64, &again) == RVF_E_ARG, "digit start");
	/* a value of another type for a named id is refused */
	rvf_field bad = {.id = 65534, .type = RVF_FIELD_U64, .v.u64 = 3};
	fp = &bad;
	id = 2;
	CHECK(rvf_ingest_meta(s, &id, v, 1, &fp, &nf, NULL) == RVF_E_ARG, "type enforced");
	CHECK(strstr(rvf_last_error(), "field 'tag' (id 65534) is string, got u64") != NULL, "msg %s",
	      rvf_last_error());
	rvf_field good = {.id = 65534, .type = RVF_FIELD_STRING, .v.str = {"x", 1}};
	fp = &good;
	CHECK_OK(rvf_ingest_meta(s, &id, v, 1, &fp, &nf, NULL)); /* commits the names */
	rvf_close(s);

	CHECK_OK(rvf_open(path, 0, &s));
	int type = -1;
	CHECK_OK(rvf_field_lookup(s, "price", &again, &type));
	CHECK(again == 65533 && type == RVF_FIELD_F64, "persisted %u %d", again, type);
	CHECK(rvf_field_name(s, 65534, &type) && !strcmp(rvf_field_name(s, 65534, NULL), "tag"), "name");
	CHECK(rvf_field_name(s, 65535, NULL) == NULL, "65535 is unnamed");
	CHECK(rvf_field_lookup(s, "nope", NULL, NULL) == RVF_E_NOT_FOUND, "unknown");
	/* a later dictionary supersedes, the directory keeps one */
	CHECK_OK(rvf_field_define(s, "color", RVF_FIELD_STRING, &again));
	CHECK_OK(rvf_delete(s, &id, 1, NULL));
	CHECK_OK(rvf_compact(s, NULL));
	rvf_close(s);
	CHECK_OK(rvf_open(path, 0, &s));
	CHECK_OK(rvf_field_lookup(s, "color", &again, NULL));
	CHECK_OK(rvf_field_lookup(s, "tag", NULL, NULL));
	/* children inherit: plain derive and branch */
	rvf_store *c;
	remove(child);
	CHECK_OK(rvf_derive(s, child, 0, &c));
	rvf_close(c);
	remove(branch);
	CHECK_OK(rvf_derive(s, branch, 1, &c));
	rvf_close(c);
	rvf_close(s);
	CHECK_OK(rvf_open(child, RVF_OPEN_READONLY, &c));
	CHECK(rvf_field_lookup(c, "price", &again, &type) == 0 && again == 65533 && type == RVF_FIELD_F64,
	      "child has the names");
	rvf_close(c);
	CHECK_OK(rvf_open(branch, RVF_OPEN_READONLY, &c));
	CHECK(rvf_field_lookup(c, "color", NULL, NULL) == 0, "branch has the names");
	rvf_close(c);
	remove(path);
	remove(child);
	remove(branch);
	free(path);
	free(child);
	free(branch);
}

RVF_SUITE(fieldnames, {"RVMF golden bytes and lookups", test_codec_golden},
	  {"RVMF hostile payloads: clear errors, nothing kept", test_codec_hostile},
	  {"RVMF 65536 names round trip", test_codec_max},
	  {"store: define, enforce, persist, compact, derive", test_store_names})
