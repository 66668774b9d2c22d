/* cli_fanout.h — `rvf net-query --shards | --shard-map` (cli_fanout.c). */
#ifndef RVF_CLI_FANOUT_H
#define RVF_CLI_FANOUT_H

#include <stddef.h>
#include <stdint.h>

/* Sends each of the nq queries (q: nq * dim floats) to every shard, prints
 * the merged top-k: CLI_OK, CLI_PARTIAL (3) when some shard is missing,
 * CLI_FAIL when none answered. */
int cli_net_query_shards(const char *const *addrs, size_t n, const float *q, size_t dim,
			 size_t nq, int k, uint16_t flags, int timeout_ms, int retries, int json);
/* Shard addresses from a shard map's "addr" fields / a comma-separated
 * list: CLI_OK with *addrs (free with cli_shard_addrs_free), or the exit
 * status after printing the error. */
int cli_shard_addrs_from_map(const char *path, char ***addrs, size_t *n);
int cli_shard_addrs_from_list(const char *list, char ***addrs, size_t *n);
void cli_shard_addrs_free(char **addrs, size_t n);

#endif
