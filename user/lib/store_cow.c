/* store_cow.c — copy-on-write branches (spec §15), read and write side.
 *
 * A branch child lists a COW_MAP_SEG naming its parent by a path relative to
 * the child's directory, and a MEMBERSHIP_SEG bitmap of the parent ids it
 * sees. The latest of each in the directory is authoritative, and every
 * commit of a branch writes both afresh (as the reference does). Visible
 * parent vectors are copied in as extra slots marked inherited.
 */
#include "errors.h"
#include "store.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The COW map names the parent relative to the child's directory (an
 * absolute path is taken as is). */
static int resolve_parent(const rvf_store *s, const char *rel, size_t rlen, char *out, size_t outsz)
{
	const char *slash = strrchr(s->path, '/');
	int dlen = slash && rel[0] != '/' ? (int)(slash - s->path + 1) : 0;
	if ((size_t)dlen + rlen + 1 > outsz)
		return rvf_fail(RVF_E_CORRUPT, "%s: COW parent path too long", s->path);
	snprintf(out, outsz, "%.*s%.*s", dlen, s->path, (int)rlen, rel);
	return 0;
}

static int parent_path(const rvf_store *s, const rvf_dir_entry *e, char *out, size_t outsz,
		       const uint8_t **map_payload)
{
	const uint8_t *p;
	uint64_t len;
	int err = payload_of(s, e, &p, &len);
	if (err)
		return err;
	*map_payload = p;
	if (len < 0x51 || rd32(p) != COW_MAP_MAGIC)
		return rvf_fail(RVF_E_CORRUPT, "%s: COW map at offset %llu has no valid header",
				s->path, (unsigned long long)e->offset);
	uint32_t plen = rd32(p + 0x49);
	if (plen == 0 || plen > len - 0x51 || memchr(p + 0x51, 0, plen))
		return rvf_fail(RVF_E_CORRUPT, "%s: COW map at offset %llu: bad parent path",
				s->path, (unsigned long long)e->offset);
	/* The cluster map (u8 format, u32 count, 9 bytes per cluster) must lie
	 * inside the payload and hold the count it declares: the count is
	 * rewritten on every commit (store_cow_segments sizes it 5 + 9 * count). */
	uint64_t q = rd32(p + 0x4D);
	if (q > len - 0x51 - plen || (q >= 5 && 5 + 9 * (uint64_t)rd32(p + 0x51 + plen + 1) > q))
		return rvf_fail(RVF_E_CORRUPT, "%s: COW map at offset %llu: cluster map (%llu bytes, "
				"%llu clusters) exceeds its segment or its own length",
				s->path, (unsigned long long)e->offset, (unsigned long long)q,
				q >= 5 ? (unsigned long long)rd32(p + 0x51 + plen + 1) : 0ull);
	return resolve_parent(s, (const char *)p + 0x51, plen, out, outsz);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Reads the COW_MAP fields the child rewrites on every commit. */
static int keep_cow_state(rvf_store *s, const uint8_t *cm, const membership *mb, const rvf_store *par)
{
	struct store_cow *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	s->cow = c;
	uint32_t plen = rd32(cm + 0x49);
	if (!(c->parent_rel = strndup((const char *)cm + 0x51, plen)))
		return -1;
	memcpy(c->base_id, cm + 0x10, 16);
	memcpy(c->base_hash, cm + 0x20, 32);
	c->frozen = cm[0x44];
	c->frozen_epoch = rd32(cm + 0x45);
	uint32_t q = rd32(cm + 0x4D);
	c->clusters = q >= 5 ? rd32(cm + 0x51 + plen + 1) : 0;
	if (c->frozen)
		s->frozen = 1;
	/* Without a membership segment every live parent id is visible. */
	uint64_t maxid = 0;
	for (size_t i = 0; i < par->nslots; i++)
		if (!par->deleted[i] && par->ids[i] >= maxid)
			maxid = par->ids[i] + 1;
	c->nbits = mb->bits ? mb->nbits : maxid;
	if (c->nbits > (64ull << 23)) /* 64 MiB bitmap, the reference's cap */
		return RVF_E_UNSUPPORTED;
	size_t bytes = (size_t)((c->nbits + 63) / 64 * 8);
	if (!(c->bits = calloc(bytes ? bytes : 8, 1)))
		return -1;
	for (uint64_t id = 0; id < c->nbits; id++)
		if (mb->bits ? member(mb, id) : 0)
			c->bits[id / 8] |= (uint8_t)(1u << (id % 8));
	if (!mb->bits)
		for (size_t i = 0; i < par->nslots; i++)
			if (!par->deleted[i])
				c->bits[par->ids[i] / 8] |= (uint8_t)(1u << (par->ids[i] % 8));
	return 0;
}

void store_cow_free(rvf_store *s)
{
	if (!s->cow)
		return;
	free(s->cow->parent_rel);
	free(s->cow->bits);
	free(s->cow);
	s->cow = NULL;
}

/* Parent tail digest recorded at derive time (§7): fold32 of the last
 * min(64 KiB, size) bytes of the parent file. */
static int parent_tail_hash(const rvf_store *par, uint8_t out[32])
{
	int err = store_mapped(par);
	if (err)
		return err;
	uint64_t n = par->map_len < 65536 ? par->map_len : 65536;
	rvf_fold32(par->map + par->map_len - n, n, out);
	return 0;
}

int store_load_cow(rvf_store *s, int depth)
{
	const rvf_dir_entry *cm = latest(s, RVF_SEG_COW_MAP);
	const rvf_dir_entry *me = latest(s, RVF_SEG_MEMBERSHIP);
	if (!cm)
		return 0;
	if (depth == COW_DEPTH_BUFFER)
		return rvf_fail(RVF_E_PARENT, "%s: a COW branch: its parent is a file, open it by path",
				s->path);
	if (depth >= COW_MAX_DEPTH)
		return rvf_fail(RVF_E_PARENT, "%s: COW parent chain deeper than %d (cyclic?)", s->path,
				COW_MAX_DEPTH);
	char path[PATH_MAX];
	const uint8_t *cmp;
	int err = parent_path(s, cm, path, sizeof path, &cmp);
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
	err = keep_cow_state(s, cmp, &mb, par);
	if (err) {
		rvf_close(par);
		return err == RVF_E_UNSUPPORTED
			       ? rvf_fail(err, "%s: parent ids too large for a membership bitmap", s->path)
			       : rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	uint8_t tail[32];
	if (!parent_tail_hash(par, tail) && memcmp(tail, s->cow->base_hash, 32) && !s->warning[0])
		snprintf(s->warning, sizeof s->warning,
			 "%.150s: parent %.150s changed since this branch was made (its tail no "
			 "longer matches the recorded parent hash); inherited vectors reflect its current state",
			 s->path, path);
	if (s->norphan_del)
		qsort(s->orphan_del, s->norphan_del, sizeof *s->orphan_del, cmp_u64);
	if (!(s->inh = calloc(s->slot_cap ? s->slot_cap : 1, 1)))
		err = -1;
	if (!err)
		err = store_reserve_slots(s, par->nslots - par->ndeleted);
	for (size_t i = 0; !err && i < par->nslots; i++) {
		uint64_t id = par->ids[i];
		if (par->deleted[i] || (me && !member(&mb, id)) ||
		    idmap_get(&s->slot_of, id) != IDMAP_NONE ||
		    (s->norphan_del && bsearch(&id, s->orphan_del, s->norphan_del, sizeof id, cmp_u64)))
			continue;
		uint32_t slot = (uint32_t)s->nslots;
		if (idmap_put(&s->slot_of, id, slot)) {
			err = -1;
			break;
		}
		s->ids[slot] = id;
		s->deleted[slot] = 0;
		s->inh[slot] = 1;
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

/* ---- write side ----------------------------------------------------------- */

static void drop_dir_type(rvf_store *s, uint8_t type)
{
	size_t w = 0;
	for (size_t i = 0; i < s->ndir; i++)
		if (s->dir[i].seg_type != type)
			s->dir[w++] = s->dir[i];
	s->ndir = w;
}

int store_cow_segments(rvf_store *s, seg_batch *b)
{
	struct store_cow *c = s->cow;
	uint32_t bpv = 4 * s->dim;
	uint32_t vpc = 4096 / bpv ? 4096 / bpv : 1;
	uint32_t csz = 4096;
	while (csz < (uint64_t)vpc * bpv)
		csz *= 2;
	uint32_t plen = (uint32_t)strlen(c->parent_rel);
	/* clusters came from a COW map whose map_len held them (parent_path) or
	 * from derive; the u32 map_len field must still hold 5 + 9 * clusters. */
	uint64_t q = 5 + 9 * (uint64_t)c->clusters;
	if (q > UINT32_MAX)
		return rvf_fail(RVF_E_CORRUPT, "%s: %u COW clusters do not fit a COW map", s->path,
				c->clusters);
	uint8_t *p = batch_add_raw(s, b, RVF_SEG_COW_MAP, 0x51 + (uint64_t)plen + q);
	if (!p)
		return -1;
	memset(p, 0, 0x51 + (size_t)plen + (size_t)q);
	wr32(p, COW_MAP_MAGIC);
	wr16(p + 4, 1);
	wr32(p + 0x08, csz);
	wr32(p + 0x0C, vpc);
	memcpy(p + 0x10, c->base_id, 16);
	memcpy(p + 0x20, c->base_hash, 32);
	wr32(p + 0x40, bpv);
	p[0x44] = c->frozen;
	wr32(p + 0x45, c->frozen_epoch);
	wr32(p + 0x49, plen);
	wr32(p + 0x4D, (uint32_t)q);
	memcpy(p + 0x51, c->parent_rel, plen);
	uint8_t *m = p + 0x51 + plen;
	wr32(m + 1, c->clusters);
	for (uint32_t i = 0; i < c->clusters; i++)
		m[5 + 9 * i] = 1; /* parent-ref */

	uint32_t fsize = (uint32_t)((c->nbits + 63) / 64 * 8);
	uint8_t *mp = batch_add_raw(s, b, RVF_SEG_MEMBERSHIP, 96 + (uint64_t)fsize);
	if (!mp)
		return -1;
	memset(mp, 0, 96);
	uint64_t members = 0;
	for (uint32_t i = 0; i < fsize; i++)
		members += (uint64_t)__builtin_popcount(c->bits[i]);
	wr32(mp, MEMBERSHIP_MAGIC);
	wr16(mp + 4, 1);
	wr64(mp + 0x08, c->nbits);
	wr64(mp + 0x10, members);
	wr64(mp + 0x18, 96);
	wr32(mp + 0x20, fsize);
	memcpy(mp + 96, c->bits, fsize);
	rvf_fold32(mp + 96, fsize, mp + 0x28);
	drop_dir_type(s, RVF_SEG_COW_MAP);
	drop_dir_type(s, RVF_SEG_MEMBERSHIP);
	return 0;
}

/* Path of `target` relative to the directory holding `from` (both made
 * absolute first), as the COW map stores it. */
static char *relative_path(const char *from, const char *target)
{
	char a[PATH_MAX], t[PATH_MAX];
	char *fdir = strdup(from);
	if (!fdir)
		return NULL;
	char *slash = strrchr(fdir, '/');
	if (slash)
		*slash = 0;
	if (!realpath(slash ? (*fdir ? fdir : "/") : ".", a) || !realpath(target, t)) {
		free(fdir);
		return NULL;
	}
	free(fdir);
	size_t common = 0, i = 0;
	for (; a[i] && a[i] == t[i]; i++)
		if (a[i] == '/')
			common = i;
	if (!a[i] && t[i] == '/')
		common = i;
	else if (!a[i] && !t[i])
		common = i;
	size_t ups = 0;
	for (const char *q = a + common; *q; q++)
		ups += *q == '/';
	if (a[common] && a[common] != '/')
		ups++;
	char *out = malloc(3 * ups + strlen(t) + 2);
	if (!out)
		return NULL;
	out[0] = 0;
	for (size_t u = 0; u < ups; u++)
		strcat(out, "../");
	strcat(out, t + common + (t[common] == '/'));
	return out;
}

int rvf_derive(rvf_store *parent, const char *child_path, int branch, rvf_store **out)
{
	rvf_clear_error();
	*out = NULL;
	rvf_create_opts o = {.dimension = parent->dim, .metric = parent->metric, .profile = parent->profile};
	if (parent->lineage_depth == UINT32_MAX)
		return rvf_fail(RVF_E_PARENT, "%s: lineage depth overflow", parent->path);
	rvf_identity id = {0};
	memcpy(id.parent_id, parent->file_id, 16);
	id.lineage_depth = parent->lineage_depth + 1;
	int err = parent_tail_hash(parent, id.parent_hash);
	if (err)
		return err;
	rvf_store *c;
	if ((err = store_create(child_path, &o, &id, &c)))
		return err;
	/* children inherit the field names */
	if ((err = meta_dict_copy(&c->dict, &parent->dict))) {
		rvf_close(c);
		unlink(child_path);
		return err;
	}
	c->dict_dirty = c->dict.n > 0;
	if (!branch) {
		seg_batch db = {.same_epoch = 1}; /* a new file: epoch 0, as a create */
		err = c->dict_dirty ? store_commit(c, &db, "derive:field-names", 1) : 0;
		batch_free(&db);
		if (err) {
			rvf_close(c);
			unlink(child_path);
			return err;
		}
		*out = c;
		return 0;
	}
	struct store_cow *cw = calloc(1, sizeof *cw);
	err = cw ? 0 : -1;
	if (!err) {
		c->cow = cw;
		c->is_cow = 1;
		memcpy(cw->base_id, parent->file_id, 16);
		memcpy(cw->base_hash, id.parent_hash, 32);
		if (!(cw->parent_rel = relative_path(child_path, parent->path)))
			err = RVF_E_PARENT;
	}
	uint64_t maxid = 0, live = 0;
	for (size_t i = 0; !err && i < parent->nslots; i++)
		if (!parent->deleted[i]) {
			live++;
			if (parent->ids[i] >= maxid)
				maxid = parent->ids[i] + 1;
		}
	if (!err && maxid > (64ull << 23))
		err = RVF_E_UNSUPPORTED;
	if (!err) {
		uint32_t vpc = 4096 / (4 * c->dim) ? 4096 / (4 * c->dim) : 1;
		cw->clusters = (uint32_t)((live + vpc - 1) / vpc);
		cw->nbits = maxid;
		if (!(cw->bits = calloc((size_t)((maxid + 63) / 64 * 8) + 8, 1)))
			err = -1;
	}
	/* The parent's vectors become the child's inherited slots right away. */
	if (!err && (!(c->inh = calloc(1, 1)) || store_reserve_slots(c, live)))
		err = -1;
	for (size_t i = 0; !err && i < parent->nslots; i++) {
		if (parent->deleted[i])
			continue;
		uint64_t pid = parent->ids[i];
		cw->bits[pid / 8] |= (uint8_t)(1u << (pid % 8));
		uint32_t slot = (uint32_t)c->nslots;
		if (idmap_put(&c->slot_of, pid, slot)) {
			err = -1;
			break;
		}
		c->ids[slot] = pid;
		c->deleted[slot] = 0;
		c->inh[slot] = 1;
		memcpy(c->vecs + (size_t)slot * c->stride, parent->vecs + i * parent->stride, c->dim * sizeof(float));
		c->nslots++;
		c->ninherited++;
	}
	seg_batch b = {.same_epoch = 1}; /* a new file: epoch 0, as a create */
	if (!err)
		err = store_commit(c, &b, "branch:cow", 1); /* COW_MAP + MEMBERSHIP + witness + manifest */
	batch_free(&b);
	if (err) {
		char *p = strdup(child_path);
		rvf_close(c);
		if (p)
			unlink(p);
		free(p);
		if (err == -1)
			return rvf_fail(RVF_E_NOMEM, "out of memory");
		if (err == RVF_E_UNSUPPORTED)
			return rvf_fail(err, "%s: parent ids too large for a membership bitmap", parent->path);
		if (err == RVF_E_PARENT)
			return rvf_fail(err, "%s: cannot express the parent path relative to %s", parent->path,
					child_path);
		return err;
	}
	c->live_dirty = 1;
	*out = c;
	return 0;
}

int rvf_freeze(rvf_store *s)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	s->frozen = 1;
	if (s->cow) {
		s->cow->frozen = 1;
		s->cow->frozen_epoch = s->epoch;
	}
	seg_batch b = {.same_epoch = 1};
	/* a SEALED manifest, same epoch, after a witness saying so: the flag is
	 * outside every hash (store_commit_froze) */
	err = store_commit(s, &b, "freeze:sealed", 1);
	batch_free(&b);
	return err;
}

int rvf_membership(rvf_store *s, const uint64_t *ids, size_t n, int include)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!s->cow)
		return rvf_fail(RVF_E_UNSUPPORTED, "%s: membership filters apply to branches (rvf derive); "
				"use delete on a plain file", s->path);
	uint64_t changed = 0;
	if (include) {
		/* keep only the listed parent ids visible */
		idmap keep;
		if (idmap_init(&keep, n))
			return rvf_fail(RVF_E_NOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			if (idmap_put(&keep, ids[i], 0)) {
				idmap_free(&keep);
				return rvf_fail(RVF_E_NOMEM, "out of memory");
			}
		for (size_t i = 0; i < s->nslots; i++)
			if (s->inh[i] && !s->deleted[i] && idmap_get(&keep, s->ids[i]) == IDMAP_NONE) {
				store_mark_deleted(s, (uint32_t)i);
				changed++;
			}
		idmap_free(&keep);
	} else {
		for (size_t i = 0; i < n; i++) {
			uint32_t slot = idmap_get(&s->slot_of, ids[i]);
			if (slot != IDMAP_NONE && s->inh[slot] && !s->deleted[slot]) {
				store_mark_deleted(s, slot);
				changed++;
			}
		}
	}
	seg_batch b = {0};
	char act[64];
	snprintf(act, sizeof act, "membership:hidden=%llu", (unsigned long long)changed);
	err = store_commit(s, &b, act, 0);
	batch_free(&b);
	return err;
}

/* rvf_rebuild_refcounts: a REFCOUNT_SEG (§15.3) with, per COW cluster of the
 * parent (vectors_per_cluster parent vectors in the parent's live order),
 * 1 if this branch still sees any of its vectors, else 0; the count of
 * clusters holding an id the branch overrides is returned as `local`. */
#define REFCOUNT_MAGIC 0x52565243u

int rvf_rebuild_refcounts(rvf_store *s, uint32_t *clusters, uint32_t *local)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!s->cow)
		return rvf_fail(RVF_E_NOT_FOUND, "%s: no COW map (not a branch): nothing to rebuild", s->path);
	char path[PATH_MAX];
	if ((err = resolve_parent(s, s->cow->parent_rel, strlen(s->cow->parent_rel), path, sizeof path)))
		return err;
	rvf_store *par;
	if ((err = rvf_open(path, RVF_OPEN_READONLY, &par)))
		return rvf_fail(RVF_E_PARENT, "%s: parent %s: %s", s->path, path, rvf_last_error());
	uint32_t vpc = 4096 / (4 * s->dim) ? 4096 / (4 * s->dim) : 1;
	uint64_t live = par->nslots - par->ndeleted;
	uint32_t nc = (uint32_t)((live + vpc - 1) / vpc);
	uint8_t *rc = calloc(nc ? nc : 1, 1), *loc = calloc(nc ? nc : 1, 1);
	if (!rc || !loc) {
		free(rc);
		free(loc);
		rvf_close(par);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	uint64_t k = 0;
	for (size_t i = 0; i < par->nslots; i++) {
		if (par->deleted[i])
			continue;
		uint32_t c = (uint32_t)(k++ / vpc);
		uint32_t slot = idmap_get(&s->slot_of, par->ids[i]);
		if (slot == IDMAP_NONE || s->deleted[slot])
			continue;
		if (s->inh[slot])
			rc[c] = 1;
		else
			loc[c] = 1;
	}
	rvf_close(par);
	uint32_t nlocal = 0, maxrc = 0;
	for (uint32_t c = 0; c < nc; c++) {
		nlocal += loc[c];
		maxrc |= rc[c];
	}
	seg_batch b = {0};
	uint8_t *p = batch_add_raw(s, &b, RVF_SEG_REFCOUNT, 32 + (uint64_t)nc);
	if (p) {
		memset(p, 0, 32);
		wr32(p, REFCOUNT_MAGIC);
		wr16(p + 4, 1);
		p[6] = 1; /* one byte per count */
		wr32(p + 8, nc);
		wr32(p + 12, maxrc);
		wr64(p + 16, 32);
		wr32(p + 24, s->epoch + 1);
		memcpy(p + 32, rc, nc);
		drop_dir_type(s, RVF_SEG_REFCOUNT);
		err = store_commit(s, &b, "refcounts:rebuilt", 1);
	} else {
		err = rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	batch_free(&b);
	free(rc);
	free(loc);
	if (!err) {
		*clusters = nc;
		*local = nlocal;
	}
	return err;
}
