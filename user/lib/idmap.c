/* idmap.c — linear probing; ids are attacker-controlled, so keys are mixed
 * with splitmix64 before use (sequential ids would otherwise cluster). */
#include "idmap.h"
#include <stdlib.h>
#include <string.h>

static inline uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static int alloc_table(idmap *m, size_t cap)
{
	m->keys = malloc(cap * sizeof *m->keys);
	m->vals = malloc(cap * sizeof *m->vals);
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = NULL;
		m->vals = NULL;
		return -1;
	}
	memset(m->vals, 0xff, cap * sizeof *m->vals);
	m->cap = cap;
	m->len = 0;
	return 0;
}

int idmap_init(idmap *m, size_t expected)
{
	size_t cap = 16;
	while (cap < expected * 2)
		cap <<= 1;
	return alloc_table(m, cap);
}

void idmap_free(idmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

uint32_t idmap_get(const idmap *m, uint64_t key)
{
	size_t mask = m->cap - 1;
	for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
		if (m->vals[i] == IDMAP_NONE)
			return IDMAP_NONE;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

static void put_nogrow(idmap *m, uint64_t key, uint32_t val)
{
	size_t mask = m->cap - 1;
	size_t i = mix(key) & mask;
	while (m->vals[i] != IDMAP_NONE && m->keys[i] != key)
		i = (i + 1) & mask;
	if (m->vals[i] == IDMAP_NONE)
		m->len++;
	m->keys[i] = key;
	m->vals[i] = val;
}

int idmap_put(idmap *m, uint64_t key, uint32_t val)
{
	if ((m->len + 1) * 2 > m->cap) {
		idmap old = *m;
		if (alloc_table(m, old.cap * 2)) {
			*m = old;
			return -1;
		}
		for (size_t i = 0; i < old.cap; i++)
			if (old.vals[i] != IDMAP_NONE)
				put_nogrow(m, old.keys[i], old.vals[i]);
		free(old.keys);
		free(old.vals);
	}
	put_nogrow(m, key, val);
	return 0;
}
