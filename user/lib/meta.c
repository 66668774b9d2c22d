/* meta.c — per-slot metadata table, META_SEG "RVMD" v1 codec, JSON helpers.
 * Layout: docs/METADATA.md. */
#include "meta.h"

#include "errors.h"
#include "format.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

static const char *const type_names[META_NTYPES] = {"u64", "i64", "f64", "string", "bool"};

const char *meta_type_name(int type)
{
	return type >= 0 && type < META_NTYPES ? type_names[type] : NULL;
}

int meta_type_from_name(const char *name)
{
	for (int i = 0; name && i < META_NTYPES; i++)
		if (strcmp(name, type_names[i]) == 0)
			return i;
	return -1;
}

bool meta_utf8_valid(const char *buf, size_t len)
{
	const uint8_t *s = (const uint8_t *)buf;
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t need;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* Quoted excerpt of user text for error messages (at most 64 bytes). */
#define EXC(s, len) (int)((len) > 64 ? 64 : (len)), (s)

static int parse_digits_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static bool ieq(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* Rust's f64 FromStr grammar: [+-]? (inf | infinity | nan | decimal) where
 * decimal = (digits [. digits?] | . digits) ([eE] [+-]? digits)?. */
static bool rust_float_syntax(const char *s, size_t len)
{
	size_t i = 0, nd = 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (ieq(s + i, len - i, "inf") || ieq(s + i, len - i, "infinity") ||
	    ieq(s + i, len - i, "nan"))
		return true;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, nd++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, nd++;
	}
	if (nd == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t ne = 0;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, ne++;
		if (ne == 0)
			return false;
	}
	return i == len;
}

int meta_value_from_string(int type, const char *s, size_t len, meta_field *out)
{
	memset(out, 0, sizeof *out);
	out->type = (uint8_t)type;
	if (!s && len)
		return rvf_fail(RVF_E_ARG, "NULL value string");
	switch (type) {
	case META_U64: {
		size_t o = len && s[0] == '+';
		if (parse_digits_u64(s + o, len - o, &out->v.u64) == 0)
			return RVF_OK;
		break;
	}
	case META_I64: {
		uint64_t mag;
		bool neg = len && s[0] == '-';
		size_t o = len && (s[0] == '-' || s[0] == '+');
		if (parse_digits_u64(s + o, len - o, &mag) == 0) {
			if (!neg && mag <= (uint64_t)INT64_MAX) {
				out->v.i64 = (int64_t)mag;
				return RVF_OK;
			}
			if (neg && mag <= (uint64_t)INT64_MAX + 1) {
				out->v.i64 = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
				return RVF_OK;
			}
		}
		break;
	}
	case META_F64: {
		if (!rust_float_syntax(s, len))
			break;
		char stackbuf[64], *buf = len < sizeof stackbuf ? stackbuf : malloc(len + 1);
		if (!buf)
			return rvf_fail(RVF_E_NOMEM, "out of memory parsing f64");
		memcpy(buf, s, len);
		buf[len] = 0;
		out->v.f64 = strtod(buf, NULL); /* overflow -> inf, as Rust */
		if (buf != stackbuf)
			free(buf);
		return RVF_OK;
	}
	case META_STRING:
		if (len > UINT32_MAX)
			return rvf_fail(RVF_E_ARG, "string value longer than 4 GiB");
		out->v.str.ptr = s;
		out->v.str.len = (uint32_t)len;
		return RVF_OK;
	case META_BOOL:
		if (len == 4 && memcmp(s, "true", 4) == 0) {
			out->v.b = true;
			return RVF_OK;
		}
		if (len == 5 && memcmp(s, "false", 5) == 0) {
			out->v.b = false;
			return RVF_OK;
		}
		break;
	default:
		return rvf_fail(RVF_E_ARG, "Unknown value_type %d", type);
	}
	return rvf_fail(RVF_E_ARG, "Cannot parse '%.*s' as %s", EXC(s ? s : "", len),
			meta_type_name(type));
}

bool meta_value_eq(const meta_field *a, const meta_field *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case META_U64: return a->v.u64 == b->v.u64;
	case META_I64: return a->v.i64 == b->v.i64;
	case META_F64: return a->v.f64 == b->v.f64;
	case META_BOOL: return a->v.b == b->v.b;
	case META_STRING:
		return a->v.str.len == b->v.str.len &&
		       (a->v.str.len == 0 || memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0);
	default: return false;
	}
}

/* ---- normalisation ------------------------------------------------------ */

static void insertion_sort(meta_field *f, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		meta_field x = f[i];
		size_t j = i;
		while (j > 0 && f[j - 1].id > x.id) {
			f[j] = f[j - 1];
			j--;
		}
		f[j] = x;
	}
}

static void stable_sort(meta_field *f, size_t n)
{
	if (n <= 32) {
		insertion_sort(f, n);
		return;
	}
	for (size_t i = 1; i < n; i++)
		if (f[i - 1].id > f[i].id)
			goto unsorted;
	return;
unsorted:;
	meta_field *tmp = malloc(n * sizeof *tmp);
	if (!tmp) {
		insertion_sort(f, n);
		return;
	}
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi)
				tmp[k++] = f[b].id < f[a].id ? f[b++] : f[a++];
			while (a < mid)
				tmp[k++] = f[a++];
			while (b < hi)
				tmp[k++] = f[b++];
		}
		memcpy(f, tmp, n * sizeof *f);
	}
	free(tmp);
}

void meta_normalize(meta_field *f, size_t *n)
{
	size_t w = 0;
	stable_sort(f, *n);
	for (size_t i = 0; i < *n; i++) {
		if (i + 1 < *n && f[i + 1].id == f[i].id)
			continue; /* a later duplicate wins */
		f[w++] = f[i];
	}
	*n = w;
}

/* Validates one field supplied by a caller. */
static int check_field(const meta_field *f, const char *what, size_t idx)
{
	if (f->type >= META_NTYPES)
		return rvf_fail(RVF_E_ARG, "%s field %zu (id %u): invalid type %u", what, idx, f->id,
				f->type);
	if (f->type == META_STRING) {
		if (!f->v.str.ptr && f->v.str.len)
			return rvf_fail(RVF_E_ARG, "%s field %zu (id %u): NULL string", what, idx,
					f->id);
		if (!meta_utf8_valid(f->v.str.ptr, f->v.str.len))
			return rvf_fail(RVF_E_ARG, "%s field %zu (id %u): string is not valid UTF-8",
					what, idx, f->id);
	}
	return RVF_OK;
}

/* Copies fields[0..n) into one block (fields then string bytes, each string
 * NUL-terminated for convenience), normalised. */
static meta_field *copy_block(const meta_field *fields, size_t *n)
{
	size_t sb = 0;
	for (size_t i = 0; i < *n; i++)
		if (fields[i].type == META_STRING)
			sb += (size_t)fields[i].v.str.len + 1;
	meta_field *blk = malloc(*n * sizeof *blk + sb);
	if (!blk)
		return NULL;
	if (*n)
		memcpy(blk, fields, *n * sizeof *blk);
	meta_normalize(blk, n);
	char *sp = (char *)(blk + *n);
	for (size_t i = 0; i < *n; i++) {
		if (blk[i].type != META_STRING)
			continue;
		if (blk[i].v.str.len)
			memcpy(sp, blk[i].v.str.ptr, blk[i].v.str.len);
		sp[blk[i].v.str.len] = 0;
		blk[i].v.str.ptr = sp;
		sp += blk[i].v.str.len + 1;
	}
	return blk;
}

/* ---- table -------------------------------------------------------------- */

typedef struct {
	meta_field *f; /* one block: fields then strings; NULL if none */
	uint32_t n;
} slot_ent;

struct meta_table {
	slot_ent *s;
	size_t cap;
	size_t count; /* slots with n > 0 */
};

meta_table *meta_new(void)
{
	return calloc(1, sizeof(meta_table));
}

void meta_free(meta_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->s[i].f);
	free(t->s);
	free(t);
}

void meta_clear(meta_table *t, uint32_t slot)
{
	if (!t || slot >= t->cap || !t->s[slot].f)
		return;
	free(t->s[slot].f);
	t->s[slot].f = NULL;
	t->s[slot].n = 0;
	t->count--;
}

int meta_set(meta_table *t, uint32_t slot, const meta_field *fields, size_t n)
{
	if (!t || slot == META_SLOT_NONE)
		return rvf_fail(RVF_E_ARG, "meta_set: invalid table or slot");
	if (n == 0) {
		meta_clear(t, slot);
		return RVF_OK;
	}
	if (!fields)
		return rvf_fail(RVF_E_ARG, "meta_set: NULL fields");
	if (n > META_MAX_FIELDS)
		return rvf_fail(RVF_E_ARG, "meta_set: %zu fields (at most %u per vector)", n,
				META_MAX_FIELDS);
	for (size_t i = 0; i < n; i++) {
		int rc = check_field(&fields[i], "metadata", i);
		if (rc)
			return rc;
	}
	if (slot >= t->cap) {
		size_t nc = t->cap ? t->cap : 16;
		while (nc <= slot)
			nc = nc > SIZE_MAX / 2 ? (size_t)slot + 1 : nc * 2;
		slot_ent *ns = realloc(t->s, nc * sizeof *ns);
		if (!ns)
			return rvf_fail(RVF_E_NOMEM, "meta_set: out of memory growing to %zu slots", nc);
		memset(ns + t->cap, 0, (nc - t->cap) * sizeof *ns);
		t->s = ns;
		t->cap = nc;
	}
	size_t nn = n;
	meta_field *blk = copy_block(fields, &nn);
	if (!blk)
		return rvf_fail(RVF_E_NOMEM, "meta_set: out of memory");
	if (!t->s[slot].f)
		t->count++;
	free(t->s[slot].f);
	t->s[slot].f = blk;
	t->s[slot].n = (uint32_t)nn;
	return RVF_OK;
}

int meta_get(const meta_table *t, uint32_t slot, const meta_field **fields, size_t *n)
{
	if (!t || slot >= t->cap || !t->s[slot].f) {
		*fields = NULL;
		*n = 0;
		return 0;
	}
	*fields = t->s[slot].f;
	*n = t->s[slot].n;
	return 1;
}

size_t meta_count(const meta_table *t)
{
	return t ? t->count : 0;
}

int meta_compact(meta_table *t, const uint32_t *remap, size_t nremap)
{
	size_t newcap = 0, lim;
	if (!t)
		return rvf_fail(RVF_E_ARG, "meta_compact: NULL table");
	if (nremap && !remap)
		return rvf_fail(RVF_E_ARG, "meta_compact: NULL remap");
	lim = nremap < t->cap ? nremap : t->cap;
	for (size_t i = 0; i < lim; i++)
		if (t->s[i].f && remap[i] != META_SLOT_NONE && (size_t)remap[i] + 1 > newcap)
			newcap = (size_t)remap[i] + 1;
	slot_ent *ns = newcap ? calloc(newcap, sizeof *ns) : NULL;
	if (newcap && !ns)
		return rvf_fail(RVF_E_NOMEM, "meta_compact: out of memory");
	for (size_t i = 0; i < lim; i++) {
		if (!t->s[i].f || remap[i] == META_SLOT_NONE)
			continue;
		if (ns[remap[i]].f) {
			free(ns);
			return rvf_fail(RVF_E_ARG,
					"meta_compact: slots %zu and another both map to new slot %" PRIu32,
					i, remap[i]);
		}
		ns[remap[i]] = t->s[i];
	}
	size_t count = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->s[i].f && (i >= lim || remap[i] == META_SLOT_NONE))
			free(t->s[i].f);
	for (size_t i = 0; i < newcap; i++)
		count += ns[i].f != NULL;
	free(t->s);
	t->s = ns;
	t->cap = newcap;
	t->count = count;
	return RVF_OK;
}

/* ---- META_SEG codec ----------------------------------------------------- */

static uint64_t field_size(const meta_field *f)
{
	switch (f->type) {
	case META_STRING: return 3 + 4 + (uint64_t)f->v.str.len;
	case META_BOOL: return 3 + 1;
	default: return 3 + 8;
	}
}

static int check_record(const meta_record *r, size_t idx)
{
	if (r->nfields > META_MAX_FIELDS)
		return rvf_fail(RVF_E_ARG, "metadata record %zu (id %" PRIu64 "): %zu fields (max %u)",
				idx, r->id, r->nfields, META_MAX_FIELDS);
	if (r->nfields && !r->fields)
		return rvf_fail(RVF_E_ARG, "metadata record %zu: NULL fields", idx);
	for (size_t i = 0; i < r->nfields; i++) {
		int rc = check_field(&r->fields[i], "metadata record", i);
		if (rc)
			return rc;
		if (i && r->fields[i].id <= r->fields[i - 1].id)
			return rvf_fail(RVF_E_ARG,
					"metadata record %zu (id %" PRIu64
					"): field ids not strictly ascending (%u after %u)",
					idx, r->id, r->fields[i].id, r->fields[i - 1].id);
	}
	return RVF_OK;
}

uint64_t meta_seg_size(const meta_record *recs, size_t n)
{
	uint64_t sz = META_SEG_HDR + META_SEG_TRAILER;
	if (n > UINT32_MAX || (n && !recs))
		return 0;
	for (size_t r = 0; r < n; r++) {
		if (check_record(&recs[r], r))
			return 0;
		sz += 10;
		for (size_t i = 0; i < recs[r].nfields; i++)
			sz += field_size(&recs[r].fields[i]);
	}
	return sz;
}

int meta_seg_encode(const meta_record *recs, size_t n, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (n > UINT32_MAX)
		return rvf_fail(RVF_E_ARG, "META_SEG: %zu records (max 2^32-1)", n);
	uint64_t sz = meta_seg_size(recs, n);
	if (sz == 0)
		return RVF_E_ARG; /* message set by check_record */
	if (sz > SIZE_MAX)
		return rvf_fail(RVF_E_NOMEM, "META_SEG of %" PRIu64 " bytes", sz);
	uint8_t *b = malloc((size_t)sz), *p = b;
	if (!b)
		return rvf_fail(RVF_E_NOMEM, "META_SEG: out of memory (%" PRIu64 " bytes)", sz);
	memcpy(p, META_SEG_MAGIC, 4);
	wr16(p + 4, META_SEG_VERSION);
	wr16(p + 6, 0);
	wr32(p + 8, (uint32_t)n);
	p += META_SEG_HDR;
	for (size_t r = 0; r < n; r++) {
		wr64(p, recs[r].id);
		wr16(p + 8, (uint16_t)recs[r].nfields);
		p += 10;
		for (size_t i = 0; i < recs[r].nfields; i++) {
			const meta_field *f = &recs[r].fields[i];
			wr16(p, f->id);
			p[2] = f->type;
			p += 3;
			switch (f->type) {
			case META_U64: wr64(p, f->v.u64), p += 8; break;
			case META_I64: wr64(p, (uint64_t)f->v.i64), p += 8; break;
			case META_F64: {
				uint64_t bits;
				memcpy(&bits, &f->v.f64, 8);
				wr64(p, bits);
				p += 8;
				break;
			}
			case META_BOOL: *p++ = f->v.b ? 1 : 0; break;
			case META_STRING:
				wr32(p, f->v.str.len);
				if (f->v.str.len)
					memcpy(p + 4, f->v.str.ptr, f->v.str.len);
				p += 4 + f->v.str.len;
				break;
			}
		}
	}
	wr32(p, rvf_crc32(b, (size_t)(p - b)));
	*out = b;
	*len = (size_t)sz;
	return RVF_OK;
}

int meta_seg_encode_slots(const meta_table *t, const uint32_t *slots, const uint64_t *ids,
			  size_t n, uint8_t **out, size_t *len)
{
	meta_record *recs = n ? malloc(n * sizeof *recs) : NULL;
	if (n && !recs)
		return rvf_fail(RVF_E_NOMEM, "META_SEG: out of memory");
	for (size_t i = 0; i < n; i++) {
		recs[i].id = ids[i];
		meta_get(t, slots[i], &recs[i].fields, &recs[i].nfields);
	}
	int rc = meta_seg_encode(recs, n, out, len);
	free(recs);
	return rc;
}

/* One walk over the records: validates (fill == NULL) and counts, or fills
 * the arena laid out from the counts of a previous validating walk. */
typedef struct {
	meta_record *recs;
	meta_field *fields;
	char *strings;
} fill_ptrs;

static int walk(const uint8_t *p, size_t end, uint32_t count, size_t *nfields, size_t *sbytes,
		fill_ptrs *fill)
{
	size_t pos = META_SEG_HDR, nf = 0, sb = 0;
	for (uint32_t r = 0; r < count; r++) {
		if (end - pos < 10)
			return rvf_fail(RVF_E_CORRUPT,
					"META_SEG: record %" PRIu32 " of %" PRIu32
					" truncated at payload offset %zu",
					r, count, pos);
		uint64_t vid = rd64(p + pos);
		uint16_t cnt = rd16(p + pos + 8);
		uint16_t prev = 0;
		pos += 10;
		if (fill) {
			fill->recs[r].id = vid;
			fill->recs[r].nfields = cnt;
			fill->recs[r].fields = cnt ? fill->fields : NULL;
		}
		for (uint32_t i = 0; i < cnt; i++) {
			if (end - pos < 3)
				return rvf_fail(RVF_E_CORRUPT,
						"META_SEG: field %" PRIu32 " of record %" PRIu32
						" (id %" PRIu64 ") truncated at payload offset %zu",
						i, r, vid, pos);
			uint16_t fid = rd16(p + pos);
			uint8_t type = p[pos + 2];
			size_t fpos = pos;
			pos += 3;
			if (i && fid <= prev)
				return rvf_fail(RVF_E_CORRUPT,
						"META_SEG: record %" PRIu32 " (id %" PRIu64
						"): field id %u at payload offset %zu not above %u",
						r, vid, fid, fpos, prev);
			prev = fid;
			meta_field f;
			memset(&f, 0, sizeof f);
			f.id = fid;
			f.type = type;
			switch (type) {
			case META_U64:
			case META_I64:
			case META_F64:
				if (end - pos < 8)
					goto trunc;
				if (type == META_F64) {
					uint64_t bits = rd64(p + pos);
					memcpy(&f.v.f64, &bits, 8);
				} else if (type == META_I64) {
					f.v.i64 = (int64_t)rd64(p + pos);
				} else {
					f.v.u64 = rd64(p + pos);
				}
				pos += 8;
				break;
			case META_BOOL:
				if (end - pos < 1)
					goto trunc;
				if (p[pos] > 1)
					return rvf_fail(RVF_E_CORRUPT,
							"META_SEG: bool byte %u at payload offset %zu",
							p[pos], pos);
				f.v.b = p[pos] == 1;
				pos += 1;
				break;
			case META_STRING: {
				if (end - pos < 4)
					goto trunc;
				uint32_t sl = rd32(p + pos);
				if (end - pos - 4 < sl)
					return rvf_fail(RVF_E_CORRUPT,
							"META_SEG: string of %" PRIu32
							" bytes at payload offset %zu overruns the payload",
							sl, pos);
				if (!meta_utf8_valid((const char *)p + pos + 4, sl))
					return rvf_fail(RVF_E_CORRUPT,
							"META_SEG: string at payload offset %zu is not UTF-8",
							pos);
				if (fill) {
					memcpy(fill->strings, p + pos + 4, sl);
					fill->strings[sl] = 0;
					f.v.str.ptr = fill->strings;
					fill->strings += (size_t)sl + 1;
				}
				f.v.str.len = sl;
				sb += (size_t)sl + 1;
				pos += 4 + (size_t)sl;
				break;
			}
			default:
				return rvf_fail(RVF_E_CORRUPT,
						"META_SEG: unknown value type %u at payload offset %zu",
						type, fpos + 2);
			}
			nf++;
			if (fill)
				*fill->fields++ = f;
			continue;
		trunc:
			return rvf_fail(RVF_E_CORRUPT,
					"META_SEG: %s value at payload offset %zu truncated",
					meta_type_name(type), pos);
		}
	}
	if (pos != end)
		return rvf_fail(RVF_E_CORRUPT,
				"META_SEG: %zu unexpected bytes after %" PRIu32
				" records (payload offset %zu)",
				end - pos, count, pos);
	*nfields = nf;
	*sbytes = sb;
	return RVF_OK;
}

void meta_batch_free(meta_batch *b)
{
	if (!b)
		return;
	free(b->arena_);
	memset(b, 0, sizeof *b);
}

int meta_seg_decode(const uint8_t *p, size_t len, meta_batch *b)
{
	memset(b, 0, sizeof *b);
	if (len < 4) {
		if (len && memcmp(p, META_SEG_MAGIC, len) == 0)
			return rvf_fail(RVF_E_CORRUPT, "META_SEG: RVMD payload truncated to %zu bytes",
					len);
		return rvf_fail(RVF_E_UNSUPPORTED, "META_SEG: not an RVMD payload (%zu bytes)", len);
	}
	if (memcmp(p, META_SEG_MAGIC, 4) != 0)
		return rvf_fail(RVF_E_UNSUPPORTED,
				"META_SEG: not an RVMD payload (magic %02x %02x %02x %02x); skipped",
				p[0], p[1], p[2], p[3]);
	if (len < 6)
		return rvf_fail(RVF_E_CORRUPT, "META_SEG: RVMD payload truncated to %zu bytes", len);
	uint16_t ver = rd16(p + 4);
	if (ver != META_SEG_VERSION)
		return rvf_fail(RVF_E_UNSUPPORTED,
				"META_SEG: RVMD version %u (this build reads version %d); skipped", ver,
				META_SEG_VERSION);
	if (len < META_SEG_HDR + META_SEG_TRAILER)
		return rvf_fail(RVF_E_CORRUPT, "META_SEG: RVMD payload truncated to %zu bytes", len);
	uint16_t flags = rd16(p + 6);
	size_t end = len - META_SEG_TRAILER;
	uint32_t crc = rvf_crc32(p, end);
	if (crc != rd32(p + end))
		return rvf_fail(RVF_E_CORRUPT,
				"META_SEG: CRC-32 mismatch (stored %08x, computed %08x) over %zu bytes",
				rd32(p + end), (uint32_t)crc, end);
	if (flags != 0)
		return rvf_fail(RVF_E_UNSUPPORTED,
				"META_SEG: RVMD flags 0x%04x not understood by this build; skipped",
				flags);
	uint32_t count = rd32(p + 8);
	if (count > (end - META_SEG_HDR) / 10)
		return rvf_fail(RVF_E_CORRUPT,
				"META_SEG: %" PRIu32 " records cannot fit in %zu payload bytes", count,
				len);
	size_t nf, sb;
	int rc = walk(p, end, count, &nf, &sb, NULL);
	if (rc)
		return rc;
	/* Bounded by the payload: count <= len/10, nf <= len/4, sb <= len + nf. */
	size_t asz = (size_t)count * sizeof(meta_record) + nf * sizeof(meta_field) + sb;
	void *arena = asz ? malloc(asz) : NULL;
	if (asz && !arena)
		return rvf_fail(RVF_E_NOMEM, "META_SEG: out of memory (%zu bytes)", asz);
	/* An empty segment has no arena: offsets from NULL are undefined. */
	fill_ptrs fp = {
		.recs = arena,
		.fields = arena ? (meta_field *)((char *)arena + (size_t)count * sizeof(meta_record)) : NULL,
		.strings = arena ? (char *)arena + (size_t)count * sizeof(meta_record) + nf * sizeof(meta_field)
				 : NULL,
	};
	size_t nf2, sb2;
	rc = walk(p, end, count, &nf2, &sb2, &fp);
	if (rc) { /* cannot happen: same bytes as the validating walk */
		free(arena);
		return rc;
	}
	b->recs = count ? fp.recs : NULL;
	b->n = count;
	b->arena_ = arena;
	return RVF_OK;
}

/* ---- JSON --------------------------------------------------------------- */

/* Growing list of fields whose string pointers reference the json_t. */
typedef struct {
	meta_field *f;
	size_t n, cap;
} flist;

static int flist_push(flist *l, const meta_field *f)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		meta_field *nf = realloc(l->f, nc * sizeof *nf);
		if (!nf)
			return rvf_fail(RVF_E_NOMEM, "metadata: out of memory");
		l->f = nf;
		l->cap = nc;
	}
	l->f[l->n++] = *f;
	return RVF_OK;
}

static int json_field_id(const json_t *v, const char *path, uint16_t *id)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
		return rvf_fail(RVF_E_ARG, "%s: field id must be an integer 0..65535", path);
	*id = (uint16_t)json_integer_value(v);
	return RVF_OK;
}

static int typed_value(const json_t *v, int type, const char *path, meta_field *f)
{
	const char *tn = meta_type_name(type);
	if (json_is_string(v) && type != META_STRING) {
		int rc = meta_value_from_string(type, json_string_value(v), json_string_length(v), f);
		if (rc) {
			char msg[256];
			snprintf(msg, sizeof msg, "%s", rvf_last_error());
			return rvf_fail(rc, "%s: %s", path, msg);
		}
		return RVF_OK;
	}
	memset(f, 0, sizeof *f);
	f->type = (uint8_t)type;
	switch (type) {
	case META_U64:
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			f->v.u64 = (uint64_t)json_integer_value(v);
			return RVF_OK;
		}
		break;
	case META_I64:
		if (json_is_integer(v)) {
			f->v.i64 = json_integer_value(v);
			return RVF_OK;
		}
		break;
	case META_F64:
		if (json_is_number(v)) {
			f->v.f64 = json_number_value(v);
			return RVF_OK;
		}
		break;
	case META_STRING:
		if (json_is_string(v)) {
			if (json_string_length(v) > UINT32_MAX)
				break;
			f->v.str.ptr = json_string_value(v);
			f->v.str.len = (uint32_t)json_string_length(v);
			return RVF_OK;
		}
		break;
	case META_BOOL:
		if (json_is_boolean(v)) {
			f->v.b = json_is_true(v);
			return RVF_OK;
		}
		break;
	}
	static const char *const want[META_NTYPES] = {
		"a non-negative integer or a decimal string", "an integer or a decimal string",
		"a number or a numeric string", "a string", "true, false, \"true\" or \"false\""};
	return rvf_fail(RVF_E_ARG, "%s: %s value must be %s", path, tn, want[type]);
}

/* Brings an inferred JSON value to the dictionary type of a named field:
 * integers widen to f64, a non-negative integer may be i64. */
static int coerce(meta_field *f, int dtype, const char *path, const char *name)
{
	if (f->type == dtype)
		return RVF_OK;
	if (dtype == META_F64 && f->type == META_U64) {
		f->v.f64 = (double)f->v.u64;
	} else if (dtype == META_F64 && f->type == META_I64) {
		f->v.f64 = (double)f->v.i64;
	} else if (dtype == META_I64 && f->type == META_U64 && f->v.u64 <= (uint64_t)INT64_MAX) {
		f->v.i64 = (int64_t)f->v.u64;
	} else {
		return rvf_fail(RVF_E_ARG, "%s: field '%s' is %s, got %s", path, name, meta_type_name(dtype),
				meta_type_name(f->type));
	}
	f->type = (uint8_t)dtype;
	return RVF_OK;
}

/* name -> id through nm (type: the value's type, or -1 to look up only). */
static int resolve(const meta_names *nm, const char *name, size_t len, int type, const char *path,
		   uint16_t *id, int *dtype)
{
	char buf[META_NAME_MAX + 1];
	if (!nm || !nm->resolve)
		return rvf_fail(RVF_E_ARG,
				"metadata: key '%.*s' is not a field id (decimal 0..65535; names need a "
				"store's field dictionary; or use {\"fields\":[{\"id\",\"type\",\"value\"}]})",
				(int)(len > 64 ? 64 : len), name);
	if (len > META_NAME_MAX || memchr(name, 0, len))
		return rvf_fail(RVF_E_ARG, "%s: field name of %zu bytes is not a valid name", path, len);
	memcpy(buf, name, len);
	buf[len] = 0;
	int rc = nm->resolve(nm->ctx, buf, type, id, dtype);
	if (rc) {
		char why[256];
		snprintf(why, sizeof why, "%s", rvf_last_error());
		return rvf_fail(rc, "%s: %s", path, why);
	}
	return RVF_OK;
}

static int parse_typed_entries(const json_t *arr, const char *base, flist *l, const meta_names *nm)
{
	size_t i;
	const json_t *e;
	char path[96];
	json_array_foreach(arr, i, e)
	{
		snprintf(path, sizeof path, "%s[%zu]", base, i);
		if (!json_is_object(e))
			return rvf_fail(RVF_E_ARG, "%s: field entry must be an object", path);
		const json_t *jid = json_object_get(e, "id");
		const json_t *jty = json_object_get(e, "type");
		const json_t *jv = json_object_get(e, "value");
		const json_t *jname = json_object_get(e, "name");
		if (!jid)
			jid = json_object_get(e, "fieldId");
		if (!jty)
			jty = json_object_get(e, "valueType");
		if (!jid && !jname)
			return rvf_fail(RVF_E_ARG, "%s: missing 'id' (or 'name')", path);
		if (!jty)
			return rvf_fail(RVF_E_ARG, "%s: missing 'type'", path);
		if (!jv)
			return rvf_fail(RVF_E_ARG, "%s: missing 'value'", path);
		meta_field f;
		uint16_t id = 0;
		int type = json_is_string(jty) ? meta_type_from_name(json_string_value(jty)) : -1;
		if (type < 0)
			return rvf_fail(RVF_E_ARG,
					"%s.type: unknown type %s%s%s (expected u64, i64, f64, string, bool)",
					path, json_is_string(jty) ? "'" : "",
					json_is_string(jty) ? json_string_value(jty) : "(not a string)",
					json_is_string(jty) ? "'" : "");
		int rc = 0;
		if (jname && !jid) {
			int dtype = -1;
			char npath[112];
			snprintf(npath, sizeof npath, "%s.name", path);
			if (!json_is_string(jname))
				return rvf_fail(RVF_E_ARG, "%s: must be a string", npath);
			rc = resolve(nm, json_string_value(jname), json_string_length(jname), type, npath,
				     &id, &dtype);
			if (!rc && dtype != type)
				rc = rvf_fail(RVF_E_ARG, "%s: field '%s' is %s, not %s", npath,
					      json_string_value(jname), meta_type_name(dtype),
					      meta_type_name(type));
		} else {
			rc = json_field_id(jid, path, &id);
		}
		if (rc)
			return rc;
		char vpath[112];
		snprintf(vpath, sizeof vpath, "%s.value", path);
		rc = typed_value(jv, type, vpath, &f);
		if (rc)
			return rc;
		f.id = id;
		rc = flist_push(l, &f);
		if (rc)
			return rc;
	}
	return RVF_OK;
}

static int parse_simple(const json_t *obj, flist *l, const meta_names *nm)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		size_t klen = json_object_iter_key_len(json_object_key_to_iter(key));
		uint64_t id = 0;
		meta_field f;
		memset(&f, 0, sizeof f);
		int named = key[0] < '0' || key[0] > '9';
		if (!named && (parse_digits_u64(key, klen, &id) || id > 65535 || (klen > 1 && key[0] == '0')))
			return rvf_fail(RVF_E_ARG,
					"metadata: key '%.*s' is not a field id (decimal 0..65535; or use "
					"{\"fields\":[{\"id\",\"type\",\"value\"}]})",
					EXC(key, klen));
		f.id = (uint16_t)id;
		if (json_is_integer(v)) {
			json_int_t x = json_integer_value(v);
			if (x >= 0)
				f.type = META_U64, f.v.u64 = (uint64_t)x;
			else
				f.type = META_I64, f.v.i64 = x;
		} else if (json_is_real(v)) {
			f.type = META_F64, f.v.f64 = json_real_value(v);
		} else if (json_is_string(v) && json_string_length(v) <= UINT32_MAX) {
			f.type = META_STRING;
			f.v.str.ptr = json_string_value(v);
			f.v.str.len = (uint32_t)json_string_length(v);
		} else if (json_is_boolean(v)) {
			f.type = META_BOOL, f.v.b = json_is_true(v);
		} else {
			return rvf_fail(RVF_E_ARG,
					"metadata.%s: unsupported value (%s); use a number, string or "
					"boolean",
					key,
					json_is_null(v) ? "null" : json_is_array(v) ? "array" : "object");
		}
		if (named) {
			char path[96];
			int dtype = -1;
			snprintf(path, sizeof path, "metadata.%.*s", (int)(klen > 64 ? 64 : klen), key);
			int rc = resolve(nm, key, klen, f.type, path, &f.id, &dtype);
			if (!rc)
				rc = coerce(&f, dtype, path, key);
			if (rc)
				return rc;
		}
		int rc = flist_push(l, &f);
		if (rc)
			return rc;
	}
	return RVF_OK;
}

int meta_from_json(const json_t *j, meta_field **fields, size_t *n)
{
	return meta_from_json_names(j, NULL, fields, n);
}

int meta_from_json_names(const json_t *j, const meta_names *nm, meta_field **fields, size_t *n)
{
	flist l = {0};
	int rc;
	*fields = NULL;
	*n = 0;
	if (json_is_array(j)) {
		rc = parse_typed_entries(j, "metadata", &l, nm);
	} else if (json_is_object(j) && json_object_get(j, "fields")) {
		const json_t *a = json_object_get(j, "fields");
		rc = json_is_array(a) ? parse_typed_entries(a, "metadata.fields", &l, nm)
				      : rvf_fail(RVF_E_ARG, "metadata.fields: must be an array");
		if (!rc && json_object_size(j) != 1)
			rc = rvf_fail(RVF_E_ARG, "metadata: 'fields' cannot be mixed with other keys");
	} else if (json_is_object(j)) {
		rc = parse_simple(j, &l, nm);
	} else {
		rc = rvf_fail(RVF_E_ARG, "metadata: must be a JSON object or array");
	}
	if (!rc && l.n > META_MAX_FIELDS)
		rc = rvf_fail(RVF_E_ARG, "metadata: %zu fields (at most %u per vector)", l.n,
			      META_MAX_FIELDS);
	for (size_t i = 0; !rc && i < l.n; i++)
		if (l.f[i].type == META_STRING && !meta_utf8_valid(l.f[i].v.str.ptr, l.f[i].v.str.len))
			rc = rvf_fail(RVF_E_ARG, "metadata: field %u: string is not valid UTF-8",
				      l.f[i].id);
	if (!rc) {
		size_t nn = l.n;
		meta_field *blk = copy_block(l.f, &nn);
		if (!blk && l.n)
			rc = rvf_fail(RVF_E_NOMEM, "metadata: out of memory");
		else {
			*fields = nn ? blk : (free(blk), NULL);
			*n = nn;
		}
	}
	free(l.f);
	return rc;
}

int meta_from_json_text(const char *text, size_t len, meta_field **fields, size_t *n)
{
	return meta_from_json_text_names(text, len, NULL, fields, n);
}

int meta_from_json_text_names(const char *text, size_t len, const meta_names *nm, meta_field **fields,
			      size_t *n)
{
	json_error_t e;
	*fields = NULL;
	*n = 0;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!j)
		return rvf_fail(RVF_E_ARG, "Invalid metadata JSON: %s (line %d, column %d)", e.text,
				e.line, e.column);
	int rc = meta_from_json_names(j, nm, fields, n);
	json_decref(j);
	return rc;
}

static json_t *nonfinite_string(double x)
{
	return json_string(isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf");
}

static json_t *value_json(const meta_field *f)
{
	char buf[24];
	switch (f->type) {
	case META_U64:
		if (f->v.u64 > (uint64_t)INT64_MAX) {
			snprintf(buf, sizeof buf, "%" PRIu64, f->v.u64);
			return json_string(buf);
		}
		return json_integer((json_int_t)f->v.u64);
	case META_I64: return json_integer(f->v.i64);
	case META_F64: return isfinite(f->v.f64) ? json_real(f->v.f64) : nonfinite_string(f->v.f64);
	case META_BOOL: return json_boolean(f->v.b);
	case META_STRING: return json_stringn(f->v.str.ptr ? f->v.str.ptr : "", f->v.str.len);
	}
	return NULL;
}

static bool simple_exact(const meta_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i && f[i].id <= f[i - 1].id)
			return false;
		switch (f[i].type) {
		case META_U64: if (f[i].v.u64 > (uint64_t)INT64_MAX) return false; break;
		case META_I64: if (f[i].v.i64 >= 0) return false; break;
		case META_F64: if (!isfinite(f[i].v.f64)) return false; break;
		default: break;
		}
	}
	return true;
}

json_t *meta_to_json(const meta_field *fields, size_t n, int form)
{
	return meta_to_json_names(fields, n, form, NULL);
}

json_t *meta_to_json_names(const meta_field *fields, size_t n, int form, const meta_names *nm)
{
	bool typed = form == META_JSON_TYPED || (form == META_JSON_AUTO && !simple_exact(fields, n));
	json_t *root = json_object(), *arr = NULL;
	if (!root)
		return NULL;
	if (typed) {
		arr = json_array();
		if (!arr || json_object_set_new(root, "fields", arr))
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const meta_field *f = &fields[i];
		if (f->type >= META_NTYPES)
			goto fail;
		json_t *v = value_json(f);
		if (!v)
			goto fail;
		const char *name = nm && nm->name_of ? nm->name_of(nm->ctx, f->id) : NULL;
		if (typed) {
			json_t *e = json_pack("{s:i,s:s,s:o}", "id", (int)f->id, "type",
					      meta_type_name(f->type), "value", v);
			if (!e || (name && json_object_set_new(e, "name", json_string(name))) ||
			    json_array_append_new(arr, e))
				goto fail;
		} else {
			char key[8];
			snprintf(key, sizeof key, "%u", f->id);
			if (json_object_set_new(root, name ? name : key, v))
				goto fail;
		}
	}
	return root;
fail:
	json_decref(root);
	return NULL;
}
