/* test_meta.c — the per-slot metadata table, the META_SEG "RVMD" v1 codec
 * (round trips, golden bytes, every truncation, bit flips, structural
 * corruption) and the JSON helpers. */
#include "errors.h"
#include "format.h"
#include "meta.h"
#include "testreg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define S(x) {.ptr = x, .len = sizeof(x) - 1}

static bool field_same(const meta_field *a, const meta_field *b)
{
	if (a->id != b->id || a->type != b->type)
		return false;
	if (a->type == META_F64) /* bitwise, so NaN and -0 round-trip exactly */
		return memcmp(&a->v.f64, &b->v.f64, 8) == 0;
	return meta_value_eq(a, b);
}

static bool fields_same(const meta_field *a, size_t na, const meta_field *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!field_same(&a[i], &b[i]))
			return false;
	return true;
}

/* A copy in a buffer of exactly len bytes, so ASan flags any overread. */
static uint8_t *exact(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);
	memcpy(c, p, len);
	return c;
}

static void fix_crc(uint8_t *p, size_t len)
{
	wr32(p + len - 4, (uint32_t)crc32(0L, p, (uInt)(len - 4)));
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- value parsing (Rust FromStr rules) ---------------------------------- */
static void test_value_from_string(void)
{
	static const struct {
		int type;
		const char *s;
		int ok;
	} t[] = {
		{META_U64, "5", 1},      {META_U64, "+5", 1},   {META_U64, "-5", 0},
		{META_U64, "", 0},       {META_U64, "+", 0},    {META_U64, " 5", 0},
		{META_U64, "5 ", 0},     {META_U64, "0x10", 0}, {META_U64, "18446744073709551615", 1},
		{META_U64, "18446744073709551616", 0},          {META_U64, "1.0", 0},
		{META_I64, "-9223372036854775808", 1},          {META_I64, "9223372036854775807", 1},
		{META_I64, "9223372036854775808", 0},           {META_I64, "-9223372036854775809", 0},
		{META_I64, "-0", 1},     {META_I64, "--1", 0},  {META_I64, "+-1", 0},
		{META_F64, "1.5", 1},    {META_F64, "1.", 1},   {META_F64, ".5", 1},
		{META_F64, "-.5e-3", 1}, {META_F64, "1E+5", 1}, {META_F64, "inf", 1},
		{META_F64, "-Infinity", 1}, {META_F64, "NaN", 1}, {META_F64, "1e", 0},
		{META_F64, ".", 0},      {META_F64, "e5", 0},   {META_F64, "0x10", 0},
		{META_F64, " 1", 0},     {META_F64, "1,5", 0},  {META_F64, "infinit", 0},
		{META_F64, "1e400", 1},  {META_BOOL, "true", 1}, {META_BOOL, "false", 1},
		{META_BOOL, "True", 0},  {META_BOOL, "1", 0},   {META_STRING, "", 1},
		{META_STRING, "any thing", 1},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		meta_field f;
		int rc = meta_value_from_string(t[i].type, t[i].s, strlen(t[i].s), &f);
		if ((rc == RVF_OK) != t[i].ok)
			fprintf(stderr, "\nvalue case %zu '%s' as %s: rc %d\n", i, t[i].s,
				meta_type_name(t[i].type), rc);
		CU_ASSERT_EQUAL(rc == RVF_OK, t[i].ok);
		CU_ASSERT(rc == RVF_OK || rc == RVF_E_ARG);
	}
	meta_field f;
	CU_ASSERT_EQUAL(meta_value_from_string(META_U64, "x1", 2, &f), RVF_E_ARG);
	CU_ASSERT_STRING_EQUAL(rvf_last_error(), "Cannot parse 'x1' as u64");
	CU_ASSERT_EQUAL(meta_value_from_string(META_I64, "-9223372036854775808", 20, &f), RVF_OK);
	CU_ASSERT_EQUAL(f.v.i64, INT64_MIN);
	CU_ASSERT_EQUAL(meta_value_from_string(META_F64, "-0", 2, &f), RVF_OK);
	CU_ASSERT(f.v.f64 == 0 && signbit(f.v.f64));
	CU_ASSERT_EQUAL(meta_value_from_string(META_F64, "1e400", 5, &f), RVF_OK);
	CU_ASSERT(isinf(f.v.f64));
	CU_ASSERT_EQUAL(meta_value_from_string(META_F64, "nan", 3, &f), RVF_OK);
	CU_ASSERT(isnan(f.v.f64));
	/* not NUL-terminated input */
	CU_ASSERT_EQUAL(meta_value_from_string(META_F64, "2.5xyz", 3, &f), RVF_OK);
	CU_ASSERT_EQUAL(f.v.f64, 2.5);
	CU_ASSERT_EQUAL(meta_type_from_name("string"), META_STRING);
	CU_ASSERT_EQUAL(meta_type_from_name("bytes"), -1);
	CU_ASSERT_PTR_NULL(meta_type_name(9));
	CU_ASSERT(meta_utf8_valid("h\xc3\xa9llo", 6));
	CU_ASSERT(!meta_utf8_valid("\xc0\xaf", 2));         /* overlong */
	CU_ASSERT(!meta_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	CU_ASSERT(!meta_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CU_ASSERT(!meta_utf8_valid("\xe2\x82", 2));         /* truncated */
	CU_ASSERT(meta_utf8_valid("a\0b", 3));
}

/* ---- table ------------------------------------------------------------- */
static void test_table_basic(void)
{
	meta_table *t = meta_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	const meta_field *g;
	size_t n;
	CU_ASSERT_EQUAL(meta_get(t, 5, &g, &n), 0);
	CU_ASSERT(g == NULL && n == 0);

	char name[] = "alpha";
	meta_field in[] = {
		{.id = 9, .type = META_BOOL, .v.b = true},
		{.id = 2, .type = META_STRING, .v.str = {.ptr = name, .len = 5}},
		{.id = 2, .type = META_U64, .v.u64 = 7}, /* duplicate id: last wins */
		{.id = 0, .type = META_F64, .v.f64 = -2.5},
	};
	CU_ASSERT_EQUAL(meta_set(t, 3, in, 4), RVF_OK);
	name[0] = 'X'; /* the table holds its own copy */
	CU_ASSERT_EQUAL(meta_get(t, 3, &g, &n), 1);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT(g[0].id == 0 && g[0].type == META_F64 && g[0].v.f64 == -2.5);
	CU_ASSERT(g[1].id == 2 && g[1].type == META_U64 && g[1].v.u64 == 7);
	CU_ASSERT(g[2].id == 9 && g[2].type == META_BOOL && g[2].v.b);
	CU_ASSERT_EQUAL(meta_count(t), 1);

	/* replace, strings copied and NUL-terminated */
	meta_field s1[] = {{.id = 1, .type = META_STRING, .v.str = {.ptr = name, .len = 5}}};
	CU_ASSERT_EQUAL(meta_set(t, 3, s1, 1), RVF_OK);
	CU_ASSERT_EQUAL(meta_get(t, 3, &g, &n), 1);
	CU_ASSERT(n == 1 && g[0].v.str.len == 5);
	CU_ASSERT_STRING_EQUAL(g[0].v.str.ptr, "Xlpha");

	/* invalid input leaves the slot unchanged */
	meta_field bad[] = {{.id = 1, .type = 7}};
	CU_ASSERT_EQUAL(meta_set(t, 3, bad, 1), RVF_E_ARG);
	meta_field badutf[] = {{.id = 1, .type = META_STRING, .v.str = S("\xff")}};
	CU_ASSERT_EQUAL(meta_set(t, 3, badutf, 1), RVF_E_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), "UTF-8"));
	CU_ASSERT_EQUAL(meta_set(t, 3, in, META_MAX_FIELDS + 1), RVF_E_ARG);
	CU_ASSERT_EQUAL(meta_get(t, 3, &g, &n), 1);
	CU_ASSERT_STRING_EQUAL(g[0].v.str.ptr, "Xlpha");

	/* empty strings and embedded NULs */
	meta_field e[] = {{.id = 4, .type = META_STRING, .v.str = {.ptr = NULL, .len = 0}},
			  {.id = 5, .type = META_STRING, .v.str = S("a\0b")}};
	CU_ASSERT_EQUAL(meta_set(t, 100, e, 2), RVF_OK);
	CU_ASSERT_EQUAL(meta_get(t, 100, &g, &n), 1);
	CU_ASSERT(n == 2 && g[0].v.str.len == 0 && g[1].v.str.len == 3 &&
		  memcmp(g[1].v.str.ptr, "a\0b", 3) == 0);
	CU_ASSERT_EQUAL(meta_count(t), 2);

	/* n == 0 clears; clear of an empty or out-of-range slot is a no-op */
	CU_ASSERT_EQUAL(meta_set(t, 100, NULL, 0), RVF_OK);
	CU_ASSERT_EQUAL(meta_get(t, 100, &g, &n), 0);
	meta_clear(t, 100);
	meta_clear(t, 123456);
	meta_clear(t, 3);
	CU_ASSERT_EQUAL(meta_get(t, 3, &g, &n), 0);
	CU_ASSERT_EQUAL(meta_count(t), 0);
	CU_ASSERT_EQUAL(meta_set(t, META_SLOT_NONE, in, 1), RVF_E_ARG);
	meta_free(t);
	meta_free(NULL);
}

static void test_normalize_large(void)
{
	/* > 32 fields exercises the merge sort; duplicates keep the last value */
	enum { N = 1000 };
	meta_field *f = malloc(N * sizeof *f);
	for (size_t i = 0; i < N; i++) {
		f[i].id = (uint16_t)((i * 7919) % 500);
		f[i].type = META_U64;
		f[i].v.u64 = i;
	}
	size_t n = N;
	meta_normalize(f, &n);
	CU_ASSERT_EQUAL_FATAL(n, 500);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(f[i].id, i);
		/* the last i with (i*7919)%500 == id is the larger of its two */
		CU_ASSERT(f[i].v.u64 >= 500);
	}
	free(f);
}

static void test_compact(void)
{
	meta_table *t = meta_new();
	for (uint32_t s = 0; s < 10; s++) {
		meta_field f = {.id = 1, .type = META_U64, .v.u64 = 1000 + s};
		if (s != 4) /* slot 4 has no metadata */
			CU_ASSERT_EQUAL(meta_set(t, s, &f, 1), RVF_OK);
	}
	/* drop 1, 3, 9 (9 is beyond the remap: dropped too); reverse the rest */
	uint32_t remap[9] = {6, META_SLOT_NONE, 5, META_SLOT_NONE, 4, 3, 2, 1, 0};
	CU_ASSERT_EQUAL(meta_compact(t, remap, 9), RVF_OK);
	CU_ASSERT_EQUAL(meta_count(t), 6);
	const meta_field *g;
	size_t n;
	static const int64_t want[] = {1008, 1007, 1006, 1005, -1, 1002, 1000, -1, -1, -1, -1};
	for (uint32_t s = 0; s < 11; s++) {
		int has = meta_get(t, s, &g, &n);
		CU_ASSERT_EQUAL(has, want[s] >= 0);
		if (has)
			CU_ASSERT_EQUAL(g[0].v.u64, (uint64_t)want[s]);
	}
	/* collision: table unchanged */
	uint32_t clash[7] = {0, 0, 1, 2, 3, 4, 5};
	CU_ASSERT_EQUAL(meta_compact(t, clash, 7), RVF_E_ARG);
	CU_ASSERT_EQUAL(meta_count(t), 6);
	CU_ASSERT_EQUAL(meta_get(t, 6, &g, &n), 1);
	CU_ASSERT_EQUAL(g[0].v.u64, 1000);
	/* drop everything */
	CU_ASSERT_EQUAL(meta_compact(t, NULL, 0), RVF_OK);
	CU_ASSERT_EQUAL(meta_count(t), 0);
	CU_ASSERT_EQUAL(meta_get(t, 0, &g, &n), 0);
	meta_free(t);
}

/* ---- codec ----------------------------------------------------------------- */
static meta_field F0[] = {
	{.id = 0, .type = META_U64, .v.u64 = UINT64_MAX},
	{.id = 1, .type = META_I64, .v.i64 = INT64_MIN},
	{.id = 2, .type = META_F64, .v.f64 = 0}, /* NaN set at run time */
	{.id = 3, .type = META_STRING, .v.str = S("h\xc3\xa9llo\0x")},
	{.id = 4, .type = META_BOOL, .v.b = true},
	{.id = 5, .type = META_BOOL, .v.b = false},
	{.id = 6, .type = META_STRING, .v.str = S("")},
	{.id = 65535, .type = META_F64, .v.f64 = -0.0},
};
static meta_field F1[] = {{.id = 7, .type = META_I64, .v.i64 = 42}};

static void sample(meta_record r[4])
{
	F0[2].v.f64 = NAN;
	r[0] = (meta_record){.id = 1, .fields = F0, .nfields = 8};
	r[1] = (meta_record){.id = UINT64_MAX, .fields = NULL, .nfields = 0}; /* clears */
	r[2] = (meta_record){.id = 1, .fields = F1, .nfields = 1}; /* same id again: later wins */
	r[3] = (meta_record){.id = 0, .fields = F0 + 6, .nfields = 2};
}

static void test_codec_roundtrip(void)
{
	meta_record r[4];
	sample(r);
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode(r, 4, &buf, &len), RVF_OK);
	CU_ASSERT_EQUAL(len, meta_seg_size(r, 4));
	CU_ASSERT(memcmp(buf, "RVMD", 4) == 0);
	CU_ASSERT_EQUAL(rd16(buf + 4), 1);
	CU_ASSERT_EQUAL(rd32(buf + 8), 4);
	uint8_t *c = exact(buf, len);
	meta_batch b;
	CU_ASSERT_EQUAL_FATAL(meta_seg_decode(c, len, &b), RVF_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 4);
	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(b.recs[i].id, r[i].id);
		CU_ASSERT(fields_same(b.recs[i].fields, b.recs[i].nfields, r[i].fields,
				      r[i].nfields));
	}
	CU_ASSERT(isnan(b.recs[0].fields[2].v.f64));
	CU_ASSERT(signbit(b.recs[0].fields[7].v.f64));
	CU_ASSERT_EQUAL(b.recs[0].fields[3].v.str.ptr[b.recs[0].fields[3].v.str.len], 0);
	/* re-encoding the decoded batch gives the same bytes */
	uint8_t *buf2;
	size_t len2;
	CU_ASSERT_EQUAL(meta_seg_encode(b.recs, b.n, &buf2, &len2), RVF_OK);
	CU_ASSERT(len2 == len && memcmp(buf, buf2, len) == 0);
	free(buf2);
	meta_batch_free(&b);
	meta_batch_free(&b); /* idempotent */
	free(c);
	free(buf);

	/* empty batch */
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode(NULL, 0, &buf, &len), RVF_OK);
	CU_ASSERT_EQUAL(len, 16);
	CU_ASSERT_EQUAL(meta_seg_decode(buf, len, &b), RVF_OK);
	CU_ASSERT(b.n == 0 && b.recs == NULL);
	meta_batch_free(&b);
	free(buf);
}

/* Golden bytes, as documented in docs/METADATA.md. */
static void test_codec_golden(void)
{
	meta_field f[] = {{.id = 0, .type = META_U64, .v.u64 = 5},
			  {.id = 1, .type = META_STRING, .v.str = S("ab")},
			  {.id = 2, .type = META_BOOL, .v.b = true}};
	meta_record r = {.id = 7, .fields = f, .nfields = 3};
	static const uint8_t want[] = {
		'R', 'V', 'M', 'D', 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* header */
		0x07, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x00,                            /* id 7, 3 fields */
		0x00, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0,                      /* f0 u64 5 */
		0x01, 0x00, 0x03, 0x02, 0x00, 0x00, 0x00, 'a', 'b',               /* f1 "ab" */
		0x02, 0x00, 0x04, 0x01,                                           /* f2 true */
		0x94, 0xd4, 0x1f, 0x11,                                           /* CRC-32 */
	};
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode(&r, 1, &buf, &len), RVF_OK);
	CU_ASSERT_EQUAL(len, sizeof want);
	if (len == sizeof want && memcmp(buf, want, len - 4) == 0 &&
	    memcmp(buf + len - 4, want + len - 4, 4) != 0)
		fprintf(stderr, "\ngolden CRC is %02x %02x %02x %02x\n", buf[len - 4],
			buf[len - 3], buf[len - 2], buf[len - 1]);
	CU_ASSERT(len == sizeof want && memcmp(buf, want, len) == 0);
	free(buf);
}

static void test_codec_truncations(void)
{
	meta_record r[4];
	sample(r);
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode(r, 4, &buf, &len), RVF_OK);
	for (size_t l = 0; l < len; l++) {
		uint8_t *c = exact(buf, l);
		meta_batch b;
		int rc = meta_seg_decode(c, l, &b);
		CU_ASSERT(rc == RVF_E_CORRUPT || (l == 0 && rc == RVF_E_UNSUPPORTED));
		CU_ASSERT(b.recs == NULL && b.n == 0);
		/* also with a valid CRC over the truncated body: structure checks */
		if (l >= 16) {
			fix_crc(c, l);
			rc = meta_seg_decode(c, l, &b);
			CU_ASSERT_EQUAL(rc, RVF_E_CORRUPT);
			if (rc == RVF_OK)
				meta_batch_free(&b);
		}
		free(c);
	}
	free(buf);
}

/* Random damage never crashes and gives either an error or a batch that
 * re-encodes to exactly the damaged bytes (i.e. a genuinely valid payload). */
static void check_damaged(const uint8_t *p, size_t len, int *ok, int *bad)
{
	uint8_t *c = exact(p, len);
	meta_batch b;
	int rc = meta_seg_decode(c, len, &b);
	if (rc == RVF_OK) {
		uint8_t *re;
		size_t rl;
		(*ok)++;
		CU_ASSERT_EQUAL(meta_seg_encode(b.recs, b.n, &re, &rl), RVF_OK);
		CU_ASSERT(rl == len && memcmp(re, p, len) == 0);
		free(re);
		meta_batch_free(&b);
	} else {
		(*bad)++;
		CU_ASSERT(rc == RVF_E_CORRUPT || rc == RVF_E_UNSUPPORTED);
		CU_ASSERT(strncmp(rvf_last_error(), "META_SEG: ", 10) == 0);
	}
	free(c);
}

static void test_codec_flips(void)
{
	meta_record r[4];
	sample(r);
	uint8_t *buf;
	size_t len;
	int ok = 0, bad = 0;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode(r, 4, &buf, &len), RVF_OK);
	uint8_t *d = malloc(len);
	/* every single-bit flip: the CRC catches them all */
	for (size_t i = 0; i < len * 8; i++) {
		memcpy(d, buf, len);
		d[i / 8] ^= (uint8_t)(1u << (i % 8));
		int ok0 = ok;
		check_damaged(d, len, &ok, &bad);
		CU_ASSERT_EQUAL(ok, ok0);
	}
	/* random multi-byte damage with the CRC recomputed: structural checks */
	int sok = 0, sbad = 0;
	for (int it = 0; it < 20000; it++) {
		memcpy(d, buf, len);
		int nflip = 1 + (int)(rnd() % 4);
		for (int k = 0; k < nflip; k++)
			d[META_SEG_HDR + rnd() % (len - META_SEG_HDR - 4)] = (uint8_t)rnd();
		if (rnd() % 8 == 0)
			d[4 + rnd() % 8] = (uint8_t)rnd(); /* header too, sometimes */
		fix_crc(d, len);
		check_damaged(d, len, &sok, &sbad);
	}
	CU_ASSERT(sbad > 0);
	free(d);
	free(buf);
}

/* Hand-built damaged payloads with valid CRCs: each check's message. */
static void test_codec_corruptions(void)
{
	meta_field f[] = {{.id = 3, .type = META_BOOL, .v.b = true},
			  {.id = 4, .type = META_STRING, .v.str = S("xy")}};
	meta_record r = {.id = 9, .fields = f, .nfields = 2};
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode(&r, 1, &buf, &len), RVF_OK);
	/* layout: 12 hdr | 8 id | 2 n | [2 id,1 t,1 b] @22 | [2 id,1 t,4 len,2] @26 | crc */
	static const struct {
		size_t off;
		uint8_t val;
		int rc;
		const char *needle;
	} t[] = {
		{8, 200, RVF_E_CORRUPT, "cannot fit"},           /* record count */
		{8, 2, RVF_E_CORRUPT, "truncated"},              /* 2 records, bytes for 1 */
		{8, 0, RVF_E_CORRUPT, "unexpected bytes"},       /* 0 records + leftovers */
		{20, 3, RVF_E_CORRUPT, "truncated"},             /* 3 fields */
		{20, 1, RVF_E_CORRUPT, "unexpected bytes"},      /* 1 field */
		{24, 9, RVF_E_CORRUPT, "unknown value type 9"},
		{25, 2, RVF_E_CORRUPT, "bool byte 2"},
		{26, 3, RVF_E_CORRUPT, "not above 3"},           /* field id 3 after 3 */
		{26, 1, RVF_E_CORRUPT, "not above 3"},
		{29, 200, RVF_E_CORRUPT, "overruns"},            /* string length */
		{33, 0xff, RVF_E_CORRUPT, "not UTF-8"},
		{4, 2, RVF_E_UNSUPPORTED, "version 2"},
		{6, 1, RVF_E_UNSUPPORTED, "flags"},
		{0, 'X', RVF_E_UNSUPPORTED, "not an RVMD payload"},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		uint8_t *c = exact(buf, len);
		c[t[i].off] = t[i].val;
		fix_crc(c, len);
		meta_batch b;
		int rc = meta_seg_decode(c, len, &b);
		CU_ASSERT_EQUAL(rc, t[i].rc);
		if (rc != t[i].rc || !strstr(rvf_last_error(), t[i].needle))
			fprintf(stderr, "\ncorruption %zu: rc %d msg %s\n", i, rc, rvf_last_error());
		CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), t[i].needle));
		if (rc == RVF_OK)
			meta_batch_free(&b);
		free(c);
	}
	/* CRC mismatch, and a foreign (upstream-style) META_SEG */
	uint8_t *c = exact(buf, len);
	c[len - 1] ^= 1;
	meta_batch b;
	CU_ASSERT_EQUAL(meta_seg_decode(c, len, &b), RVF_E_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), "CRC-32 mismatch"));
	free(c);
	static const uint8_t foreign[] = {0x01, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef};
	c = exact(foreign, sizeof foreign);
	CU_ASSERT_EQUAL(meta_seg_decode(c, sizeof foreign, &b), RVF_E_UNSUPPORTED);
	free(c);
	c = exact((const uint8_t *)"RV", 2);
	CU_ASSERT_EQUAL(meta_seg_decode(c, 2, &b), RVF_E_CORRUPT);
	free(c);
	free(buf);
}

static void test_codec_encode_rejects(void)
{
	meta_field unsorted[] = {{.id = 2, .type = META_U64}, {.id = 1, .type = META_U64}};
	meta_field dup[] = {{.id = 1, .type = META_U64}, {.id = 1, .type = META_U64}};
	meta_field badtype[] = {{.id = 1, .type = 5}};
	meta_field badstr[] = {{.id = 1, .type = META_STRING, .v.str = S("\xc3")}};
	meta_record r = {.id = 1};
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1;
	r.fields = unsorted, r.nfields = 2;
	CU_ASSERT_EQUAL(meta_seg_encode(&r, 1, &buf, &len), RVF_E_ARG);
	CU_ASSERT(buf == NULL && len == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(rvf_last_error(), "ascending"));
	r.fields = dup;
	CU_ASSERT_EQUAL(meta_seg_encode(&r, 1, &buf, &len), RVF_E_ARG);
	r.fields = badtype, r.nfields = 1;
	CU_ASSERT_EQUAL(meta_seg_encode(&r, 1, &buf, &len), RVF_E_ARG);
	r.fields = badstr;
	CU_ASSERT_EQUAL(meta_seg_encode(&r, 1, &buf, &len), RVF_E_ARG);
	CU_ASSERT_EQUAL(meta_seg_size(&r, 1), 0);
}

static void test_codec_from_table(void)
{
	meta_table *t = meta_new();
	meta_field a[] = {{.id = 5, .type = META_STRING, .v.str = S("five")},
			  {.id = 1, .type = META_I64, .v.i64 = -1}};
	CU_ASSERT_EQUAL(meta_set(t, 0, a, 2), RVF_OK);
	CU_ASSERT_EQUAL(meta_set(t, 2, a + 1, 1), RVF_OK);
	uint32_t slots[] = {0, 1, 2};
	uint64_t ids[] = {100, 101, 102};
	uint8_t *buf;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(meta_seg_encode_slots(t, slots, ids, 3, &buf, &len), RVF_OK);
	meta_batch b;
	CU_ASSERT_EQUAL_FATAL(meta_seg_decode(buf, len, &b), RVF_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 3);
	CU_ASSERT(b.recs[0].id == 100 && b.recs[0].nfields == 2 && b.recs[0].fields[0].id == 1);
	CU_ASSERT(b.recs[1].id == 101 && b.recs[1].nfields == 0);
	CU_ASSERT(b.recs[2].id == 102 && b.recs[2].nfields == 1);
	/* replay into a fresh table (what a reopen does), later records win */
	meta_table *t2 = meta_new();
	for (size_t i = 0; i < b.n; i++)
		CU_ASSERT_EQUAL(meta_set(t2, (uint32_t)(b.recs[i].id - 100), b.recs[i].fields,
					 b.recs[i].nfields),
				RVF_OK);
	for (uint32_t s = 0; s < 3; s++) {
		const meta_field *x, *y;
		size_t nx, ny;
		meta_get(t, s, &x, &nx);
		meta_get(t2, s, &y, &ny);
		CU_ASSERT(fields_same(x, nx, y, ny));
	}
	meta_batch_free(&b);
	free(buf);
	meta_free(t);
	meta_free(t2);
}

/* ---- JSON -------------------------------------------------------------- */
static char *q(const char *s)
{
	char *r = strdup(s);
	for (char *p = r; *p; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

static int parse_q(const char *s, meta_field **f, size_t *n)
{
	char *t = q(s);
	int rc = meta_from_json_text(t, strlen(t), f, n);
	free(t);
	return rc;
}

static char *render(const meta_field *f, size_t n, int form)
{
	json_t *j = meta_to_json(f, n, form);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static void test_json_simple(void)
{
	meta_field *f;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(parse_q("{'3':true,'0':5,'1':'text','2':1.5,'4':-7,'5':0}", &f, &n),
			      RVF_OK);
	CU_ASSERT_EQUAL_FATAL(n, 6);
	CU_ASSERT(f[0].id == 0 && f[0].type == META_U64 && f[0].v.u64 == 5);
	CU_ASSERT(f[1].id == 1 && f[1].type == META_STRING && f[1].v.str.len == 4);
	CU_ASSERT_STRING_EQUAL(f[1].v.str.ptr, "text");
	CU_ASSERT(f[2].type == META_F64 && f[2].v.f64 == 1.5);
	CU_ASSERT(f[3].type == META_BOOL && f[3].v.b);
	CU_ASSERT(f[4].type == META_I64 && f[4].v.i64 == -7);
	CU_ASSERT(f[5].type == META_U64 && f[5].v.u64 == 0);
	char *s = render(f, n, META_JSON_AUTO);
	CU_ASSERT_STRING_EQUAL(s, "{\"0\":5,\"1\":\"text\",\"2\":1.5,\"3\":true,\"4\":-7,\"5\":0}");
	free(s);
	free(f);
	/* 2.0 stays f64 through a render/parse cycle */
	CU_ASSERT_EQUAL_FATAL(parse_q("{'65535':2.0}", &f, &n), RVF_OK);
	s = render(f, n, META_JSON_AUTO);
	CU_ASSERT_STRING_EQUAL(s, "{\"65535\":2.0}");
	free(s);
	free(f);
	CU_ASSERT_EQUAL(parse_q("{}", &f, &n), RVF_OK);
	CU_ASSERT(f == NULL && n == 0);
}

static void test_json_typed(void)
{
	meta_field *f;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(
		parse_q("{'fields':[{'id':2,'type':'u64','value':'18446744073709551615'},"
			"{'id':0,'type':'i64','value':5},{'id':1,'type':'f64','value':'NaN'},"
			"{'fieldId':3,'valueType':'string','value':'7'},"
			"{'id':4,'type':'bool','value':'false'},{'id':5,'type':'f64','value':3},"
			"{'id':0,'type':'i64','value':'-6'}]}",
			&f, &n),
		RVF_OK);
	CU_ASSERT_EQUAL_FATAL(n, 6);
	CU_ASSERT(f[0].type == META_I64 && f[0].v.i64 == -6); /* duplicate id 0: last wins */
	CU_ASSERT(f[1].type == META_F64 && isnan(f[1].v.f64));
	CU_ASSERT(f[2].type == META_U64 && f[2].v.u64 == UINT64_MAX);
	CU_ASSERT(f[3].type == META_STRING && strcmp(f[3].v.str.ptr, "7") == 0);
	CU_ASSERT(f[4].type == META_BOOL && !f[4].v.b);
	CU_ASSERT(f[5].type == META_F64 && f[5].v.f64 == 3.0);
	/* AUTO must choose the typed form here (u64 max, NaN, non-negative i64) */
	char *s = render(f, n, META_JSON_AUTO);
	CU_ASSERT_STRING_EQUAL(s, "{\"fields\":[{\"id\":0,\"type\":\"i64\",\"value\":-6},"
				  "{\"id\":1,\"type\":\"f64\",\"value\":\"NaN\"},"
				  "{\"id\":2,\"type\":\"u64\",\"value\":\"18446744073709551615\"},"
				  "{\"id\":3,\"type\":\"string\",\"value\":\"7\"},"
				  "{\"id\":4,\"type\":\"bool\",\"value\":false},"
				  "{\"id\":5,\"type\":\"f64\",\"value\":3.0}]}");
	/* typed render re-parses to identical fields */
	meta_field *g;
	size_t ng;
	CU_ASSERT_EQUAL(meta_from_json_text(s, strlen(s), &g, &ng), RVF_OK);
	CU_ASSERT(fields_same(f, n, g, ng));
	free(g);
	free(s);
	/* bare array form == Node binding entries */
	CU_ASSERT_EQUAL_FATAL(parse_q("[{'fieldId':0,'valueType':'i64','value':'-6'}]", &g, &ng),
			      RVF_OK);
	CU_ASSERT(fields_same(f, 1, g, ng));
	free(g);
	/* i64 +5 through AUTO: typed, because simple would re-read it as u64 */
	meta_field p = {.id = 0, .type = META_I64, .v.i64 = 5};
	s = render(&p, 1, META_JSON_AUTO);
	CU_ASSERT_STRING_EQUAL(s, "{\"fields\":[{\"id\":0,\"type\":\"i64\",\"value\":5}]}");
	free(s);
	s = render(&p, 1, META_JSON_SIMPLE);
	CU_ASSERT_STRING_EQUAL(s, "{\"0\":5}");
	free(s);
	meta_field inf = {.id = 1, .type = META_F64, .v.f64 = -INFINITY};
	s = render(&inf, 1, META_JSON_TYPED);
	CU_ASSERT_STRING_EQUAL(s, "{\"fields\":[{\"id\":1,\"type\":\"f64\",\"value\":\"-inf\"}]}");
	free(s);
	free(f);
	/* every type through the typed form */
	F0[2].v.f64 = NAN;
	s = render(F0, 8, META_JSON_TYPED);
	CU_ASSERT_EQUAL_FATAL(meta_from_json_text(s, strlen(s), &g, &ng), RVF_OK);
	CU_ASSERT(fields_same(F0, 8, g, ng));
	free(g);
	free(s);
}

static void test_json_errors(void)
{
	static const struct {
		const char *text, *msg;
	} t[] = {
		{"5", "metadata: must be a JSON object or array"},
		{"{'x':1}", "metadata: key 'x' is not a field id*"},
		{"{'07':1}", "metadata: key '07' is not a field id*"},
		{"{'65536':1}", "metadata: key '65536' is not a field id*"},
		{"{'-1':1}", "metadata: key '-1' is not a field id*"},
		{"{'1':null}", "metadata.1: unsupported value (null); use a number, string or boolean"},
		{"{'1':[1]}", "metadata.1: unsupported value (array); use a number, string or boolean"},
		{"{'fields':5}", "metadata.fields: must be an array"},
		{"{'fields':[],'0':1}", "metadata: 'fields' cannot be mixed with other keys"},
		{"{'fields':[5]}", "metadata.fields[0]: field entry must be an object"},
		{"{'fields':[{'type':'u64','value':1}]}", "metadata.fields[0]: missing 'id' (or 'name')"},
		{"{'fields':[{'id':1,'value':1}]}", "metadata.fields[0]: missing 'type'"},
		{"{'fields':[{'id':1,'type':'u64'}]}", "metadata.fields[0]: missing 'value'"},
		{"{'fields':[{'id':70000,'type':'u64','value':1}]}",
		 "metadata.fields[0]: field id must be an integer 0..65535"},
		{"{'fields':[{'id':1,'type':'bytes','value':1}]}",
		 "metadata.fields[0].type: unknown type 'bytes' (expected u64, i64, f64, string, bool)"},
		{"{'fields':[{'id':1,'type':'u64','value':-1}]}",
		 "metadata.fields[0].value: u64 value must be a non-negative integer or a decimal string"},
		{"{'fields':[{'id':1,'type':'u64','value':'x'}]}",
		 "metadata.fields[0].value: Cannot parse 'x' as u64"},
		{"{'fields':[{'id':1,'type':'string','value':5}]}",
		 "metadata.fields[0].value: string value must be a string"},
		{"[{'id':1,'type':'bool','value':1}]",
		 "metadata[0].value: bool value must be true, false, \"true\" or \"false\""},
		{"{'1':", "Invalid metadata JSON: *"},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		meta_field *f = (meta_field *)1;
		size_t n = 1;
		char *want = strdup(t[i].msg);
		int rc = parse_q(t[i].text, &f, &n);
		CU_ASSERT_EQUAL(rc, RVF_E_ARG);
		CU_ASSERT(f == NULL && n == 0);
		size_t wl = strlen(want);
		bool ok = want[wl - 1] == '*' ? strncmp(rvf_last_error(), want, wl - 1) == 0
					      : strcmp(rvf_last_error(), want) == 0;
		if (!ok)
			fprintf(stderr, "\njson error %zu:\n got  %s\n want %s\n", i, rvf_last_error(),
				want);
		CU_ASSERT(ok);
		free(want);
	}
}

RVF_SUITE(meta, {"value strings parse like the reference (Rust FromStr)", test_value_from_string},
	  {"table set/get/replace/clear", test_table_basic},
	  {"normalise: stable sort, last duplicate wins", test_normalize_large},
	  {"compaction remap", test_compact},
	  {"META_SEG round trip", test_codec_roundtrip},
	  {"META_SEG golden bytes", test_codec_golden},
	  {"META_SEG every truncation", test_codec_truncations},
	  {"META_SEG bit flips and random damage", test_codec_flips},
	  {"META_SEG structural corruption messages", test_codec_corruptions},
	  {"META_SEG encoder rejects bad records", test_codec_encode_rejects},
	  {"META_SEG from the table and replay", test_codec_from_table},
	  {"JSON simple form", test_json_simple},
	  {"JSON typed form and rendering", test_json_typed},
	  {"JSON errors with paths", test_json_errors})
