/* store_cow.c — read side of copy-on-write branches (spec §15).
 *
 * A branch child lists a COW_MAP_SEG naming its parent by a path relative to
 * the child's directory, and a MEMBERSHIP_SEG bitmap of the parent ids it
 * sees. The latest of each in the directory is authoritative. Visible parent
 * vectors are copied in as extra slots after the child's own.
 */
#include "errors.h"
#include "store.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COW_MAP_MAGIC 0x5256434Du
#define MEMBERSHIP_MAGIC 0x52564D42u
#define COW_MAX_DEPTH 8

static const rvf_dir_entry *latest(const rvf_store *s, uint8_t type)
{
	for (size_t i = s->ndir; i-- > 0;)
		if (s->dir[i].seg_type == type)
			return &s->dir[i];
	return NULL;
}

static int payload_of(const rvf_store *s, const rvf_dir_entry *e, const uint8_t **p, uint64_t *len)
{
	rvf_seg_hdr h;
	rvf_hdr_decode(s->map + e->offset, &h); /* bounds checked at load */
	*p = s->map + e->offset + RVF_SEG_HDR_SIZE;
	*len = h.payload_length;
	if (!rvf_content_hash_ok(h.content_hash, *p, *len))
		return rvf_fail(RVF_E_CHECKSUM, "%s: %s segment at offset %llu: content hash mismatch",
				s->path, rvf_segment_type_name(e->seg_type), (unsigned long long)e->offset);
	return 0;
}

typedef struct {
	const uint8_t *bits;
	uint64_t nbits;
	int exclude;
} membership;

static int parse_membership(const rvf_store *s, const rvf_dir_entry *e, membership *mb)
{
	const uint8_t *p;
	uint64_t len;
	int err = payload_of(s, e, &p, &len);
	if (err)
		return err;
	if (len < 0x60 || rd32(p) != MEMBERSHIP_MAGIC)
		return rvf_fail(RVF_E_CORRUPT, "%s: membership segment at offset %llu has no valid header",
				s->path, (unsigned long long)e->offset);
	if (p[6] != 0)
		return rvf_fail(RVF_E_UNSUPPORTED, "%s: membership filter type %u (only dense bitmaps are supported)",
				s->path, p[6]);
	uint64_t off = rd64(p + 0x18), size = rd32(p + 0x20);
	if (off > len || size > len - off)
		return rvf_fail(RVF_E_CORRUPT, "%s: membership bitmap (%llu bytes at %llu) exceeds its segment",
				s->path, (unsigned long long)size, (unsigned long long)off);
	mb->bits = p + off;
	mb->nbits = rd64(p + 8);
	if (mb->nbits > size * 8)
		mb->nbits = size * 8;
	mb->exclude = p[7] == 1;
	return 0;
}

static int member(const membership *mb, uint64_t id)
{
	int in = id < mb->nbits && (mb->bits[id / 8] >> (id % 8)) & 1;
	return mb->exclude ? !in : in;
}

static int parent_path(const rvf_store *s, const rvf_dir_entry *e, char *out, size_t outsz)
{
	const uint8_t *p;
	uint64_t len;
	int err = payload_of(s, e, &p, &len);
	if (err)
		return err;
	if (len < 0x51 || rd32(p) != COW_MAP_MAGIC)
		return rvf_fail(RVF_E_CORRUPT, "%s: COW map at offset %llu has no valid header",
				s->path, (unsigned long long)e->offset);
	uint32_t plen = rd32(p + 0x49);
	if (plen == 0 || plen > len - 0x51 || memchr(p + 0x51, 0, plen))
		return rvf_fail(RVF_E_CORRUPT, "%s: COW map at offset %llu: bad parent path",
				s->path, (unsigned long long)e->offset);
	const char *slash = strrchr(s->path, '/');
	int dlen = slash ? (int)(slash - s->path + 1) : 0;
	if (p[0x51] == '/')
		dlen = 0;
	if ((size_t)dlen + plen + 1 > outsz)
		return rvf_fail(RVF_E_CORRUPT, "%s: COW parent path too long", s->path);
	snprintf(out, outsz, "%.*s%.*s", dlen, s->path, (int)plen, (const char *)p + 0x51);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int store_load_cow(rvf_store *s, int depth)
{
	const rvf_dir_entry *cm = latest(s, RVF_SEG_COW_MAP);
	const rvf_dir_entry *me = latest(s, RVF_SEG_MEMBERSHIP);
	if (!cm)
		return 0;
	if (depth >= COW_MAX_DEPTH)
		return rvf_fail(RVF_E_PARENT, "%s: COW parent chain deeper than %d (cyclic?)", s->path,
				COW_MAX_DEPTH);
	char path[PATH_MAX];
	int err = parent_path(s, cm, path, sizeof path);
	membership mb = {0};
	if (!err && me)
		err = parse_membership(s, me, &mb);
	if (err)
		return err;
	rvf_store *par;
	err = store_open_depth(path, RVF_OPEN_READONLY, depth + 1, &par);
	if (err)
		return rvf_fail(RVF_E_PARENT, "%s: COW parent %s cannot be opened: %s", s->path, path,
				rvf_last_error());
	if (par->dim != s->dim) {
		rvf_close(par);
		return rvf_fail(RVF_E_PARENT, "%s: COW parent %s has dimension %u, the child %u", s->path,
				path, par->dim, s->dim);
	}
	s->is_cow = 1;
	if (s->norphan_del)
		qsort(s->orphan_del, s->norphan_del, sizeof *s->orphan_del, cmp_u64);
	err = store_reserve_slots(s, par->nslots - par->ndeleted);
	for (size_t i = 0; !err && i < par->nslots; i++) {
		uint64_t id = par->ids[i];
		if (par->deleted[i] || (me && !member(&mb, id)) ||
		    idmap_get(&s->slot_of, id) != IDMAP_NONE ||
		    (s->norphan_del && bsearch(&id, s->orphan_del, s->norphan_del, sizeof id, cmp_u64)))
			continue;
		uint32_t slot = (uint32_t)s->nslots;
		if (idmap_put(&s->slot_of, id, slot)) {
			err = rvf_fail(RVF_E_NOMEM, "out of memory");
			break;
		}
		s->ids[slot] = id;
		s->deleted[slot] = 0;
		memcpy(s->vecs + (size_t)slot * s->stride, par->vecs + i * par->stride, s->dim * sizeof(float));
		s->nslots++;
		s->ninherited++;
	}
	if (err == -1)
		err = rvf_fail(RVF_E_NOMEM, "out of memory");
	rvf_close(par);
	s->live_dirty = 1;
	return err;
}
