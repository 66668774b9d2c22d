/* store_slots.c — the slot arrays (ids, vectors, deletion marks) and the
 * directory the next manifest carries. */
#include "store.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *grow(void *p, size_t elem, size_t cap)
{
	return realloc(p, elem * cap);
}

int store_reserve_slots(rvf_store *s, size_t extra)
{
	if (extra > UINT32_MAX - 1 - s->nslots)
		return -1;
	size_t need = s->nslots + extra;
	if (need <= s->slot_cap)
		return 0;
	/* Doubling keeps appends amortised; a jump past double (a whole file
	 * loaded at open) gets exactly what it asked for, since every byte of
	 * fresh memory is zeroed by the kernel on first touch. */
	size_t cap = s->slot_cap ? s->slot_cap * 2 : 64;
	if (cap < need)
		cap = need;
	uint64_t *ids = grow(s->ids, sizeof *ids, cap);
	if (!ids)
		return -1;
	s->ids = ids;
	uint8_t *del = grow(s->deleted, 1, cap);
	if (!del)
		return -1;
	s->deleted = del;
	if (s->inh) {
		uint8_t *inh = grow(s->inh, 1, cap);
		if (!inh)
			return -1;
		s->inh = inh;
	}
	/* The rows live in their own anonymous mapping: page aligned (SIMD rows
	 * never split a cache line needlessly) and grown with mremap, which
	 * moves page tables instead of copying and re-faulting the old rows.
	 * No MADV_HUGEPAGE: it halves the load time on an idle machine but
	 * stalls 100+ ms in direct compaction once memory is fragmented. */
	size_t bytes = cap * (size_t)s->stride * sizeof(float);
	bytes = (bytes + 4095) & ~(size_t)4095;
	if (!bytes)
		bytes = 4096;
	void *v = s->vecs ? mremap(s->vecs, s->vecs_bytes, bytes, MREMAP_MAYMOVE)
			  : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return -1;
	s->vecs = v;
	s->vecs_bytes = bytes;
	s->slot_cap = cap;
	return 0;
}

int store_put(rvf_store *s, uint64_t id, const float *v)
{
	uint32_t slot = idmap_get(&s->slot_of, id);
	if (slot == IDMAP_NONE) {
		if (store_reserve_slots(s, 1))
			return -1;
		slot = (uint32_t)s->nslots;
		if (idmap_put(&s->slot_of, id, slot))
			return -1;
		s->nslots++;
		s->ids[slot] = id;
		s->deleted[slot] = 0;
		if (s->inh)
			s->inh[slot] = 0;
	} else {
		int inh = s->inh && s->inh[slot];
		if (s->deleted[slot]) {
			s->deleted[slot] = 0;
			s->ndeleted--;
			s->ndeleted_inh -= (size_t)inh;
		}
		if (inh) { /* the child's own vector now overrides the parent's */
			s->inh[slot] = 0;
			s->ninherited--;
		}
	}
	memcpy(s->vecs + (size_t)slot * s->stride, v, s->dim * sizeof(float));
	s->live_dirty = 1;
	return 0;
}

void store_mark_deleted(rvf_store *s, uint32_t slot)
{
	if (s->deleted[slot])
		return;
	s->deleted[slot] = 1;
	s->ndeleted++;
	s->live_dirty = 1;
	if (!s->cow)
		return;
	uint64_t id = s->ids[slot];
	if (id < s->cow->nbits)
		s->cow->bits[id / 8] &= (uint8_t)~(1u << (id % 8));
	if (s->inh[slot])
		s->ndeleted_inh++;
}

int store_dir_append(rvf_store *s, const rvf_dir_entry *e)
{
	if (s->ndir == s->dir_cap) {
		size_t cap = s->dir_cap ? s->dir_cap * 2 : 16;
		rvf_dir_entry *d = realloc(s->dir, cap * sizeof *d);
		if (!d)
			return -1;
		s->dir = d;
		s->dir_cap = cap;
	}
	s->dir[s->ndir++] = *e;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int store_deleted_list(const rvf_store *s, uint64_t **out, size_t *n)
{
	size_t cnt = s->ndeleted + s->norphan_del;
	uint64_t *l = malloc((cnt ? cnt : 1) * sizeof *l);
	if (!l)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < s->nslots; i++)
		if (s->deleted[i] && !(s->inh && s->inh[i])) /* hidden parent ids: membership */
			l[k++] = s->ids[i];
	if (s->norphan_del)
		memcpy(l + k, s->orphan_del, s->norphan_del * sizeof *l);
	k += s->norphan_del;
	qsort(l, k, sizeof *l, cmp_u64);
	size_t w = 0;
	for (size_t i = 0; i < k; i++)
		if (!w || l[w - 1] != l[i])
			l[w++] = l[i];
	*out = l;
	*n = w;
	return 0;
}

int store_rebuild_live(rvf_store *s)
{
	if (!s->live_dirty)
		return 0;
	uint32_t *l = realloc(s->live, (s->nslots ? s->nslots : 1) * sizeof *l);
	if (!l)
		return -1;
	s->live = l;
	s->nlive = 0;
	for (size_t i = 0; i < s->nslots; i++)
		if (!s->deleted[i])
			l[s->nlive++] = (uint32_t)i;
	s->live_dirty = 0;
	return 0;
}
