/* meta_dict.c — the field dictionary and its "RVMF" payload codec (see
 * meta_dict.h and docs/METADATA.md §8). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "format.h"
#include "meta.h"
#include "meta_dict.h"

#define HDR 12
#define TRAILER 4

void meta_dict_clear(meta_dict *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	d->e = NULL;
	d->n = d->cap = 0;
}

int meta_dict_name_ok(const char *name, size_t len)
{
	if (!len || len > META_DICT_MAX_NAME)
		return rvf_fail(RVF_E_ARG, "field name must be 1..%u bytes, got %zu", META_DICT_MAX_NAME, len);
	if (name[0] >= '0' && name[0] <= '9')
		return rvf_fail(RVF_E_ARG, "field name '%.*s' starts with a digit (digits are field ids)",
				(int)len, name);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return rvf_fail(RVF_E_ARG, "field name has a control character at byte %zu", i);
	if (!meta_utf8_valid(name, len))
		return rvf_fail(RVF_E_ARG, "field name is not valid UTF-8");
	return 0;
}

const meta_dict_ent *meta_dict_find(const meta_dict *d, const char *name, size_t len)
{
	for (size_t i = 0; d && i < d->n; i++)
		if (strlen(d->e[i].name) == len && !memcmp(d->e[i].name, name, len))
			return &d->e[i];
	return NULL;
}

const meta_dict_ent *meta_dict_by_id(const meta_dict *d, uint16_t id)
{
	for (size_t i = 0; d && i < d->n; i++)
		if (d->e[i].id == id)
			return &d->e[i];
	return NULL;
}

/* Appends without looking for duplicates (the callers do). */
static int append(meta_dict *d, const char *name, size_t len, uint16_t id, int type)
{
	int err = meta_dict_name_ok(name, len);
	if (err)
		return err;
	if (!meta_type_name(type))
		return rvf_fail(RVF_E_ARG, "field '%.*s': invalid type %d", (int)len, name, type);
	if (d->n == d->cap) {
		size_t nc = d->cap ? 2 * d->cap : 8;
		meta_dict_ent *ne = realloc(d->e, nc * sizeof *ne);
		if (!ne)
			return rvf_fail(RVF_E_NOMEM, "out of memory");
		d->e = ne;
		d->cap = nc;
	}
	char *copy = strndup(name, len);
	if (!copy)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	d->e[d->n++] = (meta_dict_ent){ .name = copy, .id = id, .type = (uint8_t)type };
	return 0;
}

int meta_dict_add(meta_dict *d, const char *name, size_t len, uint16_t id, int type)
{
	if (meta_dict_find(d, name, len))
		return rvf_fail(RVF_E_ARG, "field name '%.*s' is already defined", (int)len, name);
	const meta_dict_ent *o = meta_dict_by_id(d, id);
	if (o)
		return rvf_fail(RVF_E_ARG, "field id %u is already named '%s'", id, o->name);
	return append(d, name, len, id, type);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const meta_dict_ent *const *)a)->name, (*(const meta_dict_ent *const *)b)->name);
}

int meta_dict_copy(meta_dict *dst, const meta_dict *src)
{
	meta_dict t = { 0 };
	for (size_t i = 0; src && i < src->n; i++) {
		int err = meta_dict_add(&t, src->e[i].name, strlen(src->e[i].name), src->e[i].id,
					src->e[i].type);
		if (err) {
			meta_dict_clear(&t);
			return err;
		}
	}
	meta_dict_clear(dst);
	*dst = t;
	return 0;
}

int meta_dict_encode(const meta_dict *d, uint8_t **out, size_t *len)
{
	size_t sz = HDR + TRAILER;
	for (size_t i = 0; i < d->n; i++)
		sz += 4 + strlen(d->e[i].name);
	uint8_t *p = malloc(sz), *w = p;
	if (!p)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	memcpy(w, META_DICT_MAGIC, 4);
	wr16(w + 4, META_DICT_VERSION);
	wr16(w + 6, 0);
	wr32(w + 8, (uint32_t)d->n);
	w += HDR;
	for (size_t i = 0; i < d->n; i++) {
		size_t nl = strlen(d->e[i].name);
		wr16(w, d->e[i].id);
		w[2] = d->e[i].type;
		w[3] = (uint8_t)nl;
		memcpy(w + 4, d->e[i].name, nl);
		w += 4 + nl;
	}
	wr32(w, rvf_crc32(p, sz - TRAILER));
	*out = p;
	*len = sz;
	return 0;
}

int meta_dict_is(const uint8_t *p, size_t len)
{
	return len >= 4 && !memcmp(p, META_DICT_MAGIC, 4);
}

int meta_dict_decode(const uint8_t *p, size_t len, meta_dict *d)
{
	meta_dict_clear(d);
	if (!meta_dict_is(p, len))
		return rvf_fail(RVF_E_UNSUPPORTED, "META_SEG: not a field dictionary");
	if (len < HDR + TRAILER)
		return rvf_fail(RVF_E_CORRUPT, "field dictionary truncated to %zu bytes", len);
	if (rd16(p + 4) != META_DICT_VERSION || rd16(p + 6) != 0)
		return rvf_fail(RVF_E_UNSUPPORTED, "field dictionary version %u flags 0x%04x not understood; skipped",
				rd16(p + 4), rd16(p + 6));
	size_t end = len - TRAILER;
	uint32_t crc = rvf_crc32(p, end);
	if (crc != rd32(p + end))
		return rvf_fail(RVF_E_CORRUPT, "field dictionary: CRC-32 mismatch (stored %08x, computed %08x)",
				rd32(p + end), crc);
	uint32_t count = rd32(p + 8);
	if (count > (end - HDR) / 4)
		return rvf_fail(RVF_E_CORRUPT, "field dictionary: %" PRIu32 " entries cannot fit in %zu bytes",
				count, len);
	uint8_t *seen = calloc(65536 / 8, 1);
	if (!seen)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	meta_dict t = { 0 };
	size_t off = HDR;
	int err = 0;
	for (uint32_t i = 0; i < count && !err; i++) {
		if (end - off < 4) {
			err = rvf_fail(RVF_E_CORRUPT, "field dictionary: entry %" PRIu32 " at offset %zu runs past the end",
				       i, off);
			break;
		}
		uint16_t id = rd16(p + off);
		uint8_t type = p[off + 2], nl = p[off + 3];
		if (end - off - 4 < nl) {
			err = rvf_fail(RVF_E_CORRUPT, "field dictionary: name of entry %" PRIu32 " at offset %zu runs past the end",
				       i, off);
			break;
		}
		if (seen[id / 8] & (1u << (id % 8))) {
			err = rvf_fail(RVF_E_CORRUPT, "field dictionary: field id %u named twice (offset %zu)", id, off);
			break;
		}
		seen[id / 8] |= (uint8_t)(1u << (id % 8));
		if (append(&t, (const char *)p + off + 4, nl, id, type)) {
			char why[200];
			snprintf(why, sizeof why, "%s", rvf_last_error());
			err = rvf_fail(RVF_E_CORRUPT, "field dictionary: entry %" PRIu32 " at offset %zu: %s", i, off,
				       why);
		}
		off += 4 + (size_t)nl;
	}
	free(seen);
	if (!err && off != end)
		err = rvf_fail(RVF_E_CORRUPT, "field dictionary: %zu bytes left over at offset %zu", end - off, off);
	/* duplicate names: sort pointers, compare neighbours (n log n) */
	const meta_dict_ent **byname = !err && t.n ? malloc(t.n * sizeof *byname) : NULL;
	if (!err && t.n && !byname)
		err = rvf_fail(RVF_E_NOMEM, "out of memory");
	for (size_t i = 0; byname && i < t.n; i++)
		byname[i] = &t.e[i];
	if (byname) {
		qsort(byname, t.n, sizeof *byname, cmp_name);
		for (size_t i = 1; i < t.n && !err; i++)
			if (!strcmp(byname[i - 1]->name, byname[i]->name))
				err = rvf_fail(RVF_E_CORRUPT, "field dictionary: name '%s' defined twice",
					       byname[i]->name);
		free(byname);
	}
	if (err) {
		meta_dict_clear(&t);
		return err;
	}
	*d = t;
	return 0;
}
