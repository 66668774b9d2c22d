/* shardmap.h — the shard map file of `rvf shard split` / `merge` and
 * `rvf net-query --shard-map` (format in docs/SCALING.md): which file holds
 * which ids, and optionally where each shard is served. */
#ifndef RVF_SHARDMAP_H
#define RVF_SHARDMAP_H

#include <stddef.h>
#include <stdint.h>

#define SHARDMAP_MAX_SHARDS 1024
#define SHARDMAP_VERSION 1

enum shard_rule { SHARD_BY_HASH = 0, SHARD_BY_RANGE = 1 };

struct shard_entry {
	unsigned index;
	char file[256];     /* plain file name beside the map (no '/') */
	char file_id[33];   /* 32 lowercase hex digits */
	uint64_t vectors;
	uint64_t id_lo, id_hi; /* range rule: ids id_lo..id_hi (inclusive) */
	char addr[320];     /* "HOST:PORT" where the shard is served; "" if none */
};

struct shard_map {
	enum shard_rule by;
	unsigned nshards;
	uint32_t dimension;
	char metric[16];
	char source_file_id[33];
	char source_path[256];
	uint64_t source_vectors;
	struct shard_entry *shards;
};

/* splitmix64's finalizer of the id; hash rule: shard = hash % nshards. */
uint64_t shard_hash(uint64_t id);
/* The shard an id belongs to under the map's rule. */
unsigned shard_of(const struct shard_map *m, uint64_t id);

/* Reads and checks a map (every field typed and in range, indexes 0..S-1 in
 * order, file names plain, range bounds contiguous over 0..2^64-1). Prints
 * `error: PATH: <why>` and returns -1 on failure; 0 with *m filled. */
int shardmap_load(const char *path, struct shard_map *m);
/* Writes the map to path via a temp file + rename. 0 or -errno. */
int shardmap_save(const char *path, const struct shard_map *m);
void shardmap_free(struct shard_map *m);

#endif
