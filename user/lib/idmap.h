/* idmap.h — open-addressing hash map from vector id (any u64) to slot index. */
#ifndef RVF_IDMAP_H
#define RVF_IDMAP_H
#include <stddef.h>
#include <stdint.h>

#define IDMAP_NONE UINT32_MAX

typedef struct {
	uint64_t *keys;
	uint32_t *vals; /* IDMAP_NONE marks an empty bucket */
	size_t cap;     /* power of two */
	size_t len;
} idmap;

int idmap_init(idmap *m, size_t expected);
void idmap_free(idmap *m);
uint32_t idmap_get(const idmap *m, uint64_t key);
/* Inserts or replaces. Returns 0 or -1 on allocation failure. */
int idmap_put(idmap *m, uint64_t key, uint32_t val);
#endif
