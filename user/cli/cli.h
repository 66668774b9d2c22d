/* cli.h — shared pieces of the `rvf` command-line tool.
 *
 * Exit codes follow the reference CLI: 0 success, 1 runtime error, 2 usage
 * error (unknown command/flag, missing required option, malformed number).
 */
#ifndef RVF_CLI_H
#define RVF_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "json_u64.h"
#include "rvf_frontend.h"
#include "rvf.h"

#define RVF_CLI_VERSION "0.1.0"

/* CLI_PARTIAL: `net-query --shards` got answers from some shards only. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_PARTIAL = 3 };

/* One subcommand: name, one-line usage ("rvf create [OPTIONS] ..."),
 * short description and entry point (argv[0] is the command name). */
struct cli_cmd {
	const char *name;
	const char *usage;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int cmd_create(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_segments(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_net_query(int argc, char **argv); /* cli_netquery.c */
int cmd_embed_ebpf(int argc, char **argv);   /* cli_ebpf.c */
int cmd_extract_ebpf(int argc, char **argv); /* cli_ebpf.c */
int cmd_detach(int argc, char **argv);       /* cli_ebpf.c */
int cmd_stats(int argc, char **argv);     /* cli_stats.c */
int cmd_embed_kernel(int argc, char **argv);   /* cli_kernel.c */
int cmd_extract_kernel(int argc, char **argv); /* cli_kernel.c */
int cmd_launch(int argc, char **argv);         /* cli_launch.c */
int cmd_serve(int argc, char **argv);          /* cli_serve.c */
int cmd_index(int argc, char **argv);     /* cli_index.c */
int cmd_shard(int argc, char **argv);     /* cli_shard.c */

int cmd_export(int argc, char **argv);    /* cli_export.c */
int cmd_derive(int argc, char **argv);    /* cli_lineage.c */
int cmd_branch(int argc, char **argv);    /* cli_lineage.c */
int cmd_freeze(int argc, char **argv);    /* cli_lineage.c */
int cmd_filter(int argc, char **argv);    /* cli_lineage.c */
int cmd_rebuild_refcounts(int argc, char **argv); /* cli_lineage.c */
int cmd_verify_witness(int argc, char **argv);     /* cli_verify.c */
int cmd_keygen(int argc, char **argv);             /* cli_verify.c */
int cmd_sign(int argc, char **argv);               /* cli_verify.c */
int cmd_verify(int argc, char **argv);             /* cli_verify.c */
int cmd_verify_attestation(int argc, char **argv); /* cli_verify.c */
int cmd_quantize(int argc, char **argv);           /* cli_quantize.c */
int cmd_check(int argc, char **argv);              /* cli_check.c */
int cmd_recover(int argc, char **argv);            /* cli_check.c */

/* Query helpers shared by single and batch mode (cli_query.c). */
struct cli_qopts {
	uint64_t k;
	rvf_filter *filter;  /* parsed --filter, NULL if none */
	const char *filter_names; /* --filter naming fields: parsed once the store is open */
	uint32_t ef_search;  /* 0: default */
	uint32_t timeout_ms; /* 0: none */
	int exact;
	int with_meta;       /* --with-metadata */
	int quant;           /* --quant sq8|binary: 1, 2 (rvf quantize first) */
	uint32_t rerank;     /* --rerank N: exact f32 rerank shortlist */
};
/* Text lines "  [i] id=ID distance=D[ metadata={...}]" (s may be NULL when
 * !with_meta). */
void cli_print_hit_lines(const rvf_store *s, const rvf_hit *hits, size_t n, int with_meta);
int cli_print_hits(const rvf_hit *hits, size_t n);
/* cli_json_hits plus "metadata": {...} (simple form) per hit if with_meta. */
json_t *cli_json_hits_meta(const rvf_store *s, const rvf_hit *hits, size_t n, int with_meta);
int cli_dim_mismatch(const char *path, const char *what, size_t got, uint32_t dim);
/* Batch mode: QUERIES is a JSON array of vectors or a 2-D <f4 .npy. */
int cli_query_batch(const char *path, const char *input, const struct cli_qopts *q, int json);

const struct cli_cmd *cli_find_cmd(const char *name);
/* Prints the help block of one command (options included) to `f`. */
void cli_cmd_help(const struct cli_cmd *c, FILE *f);

/* ---- errors (cli_util.c) ---------------------------------------------- */
/* `error: <msg>` on stderr; returns CLI_FAIL. */
__attribute__((format(printf, 1, 2))) int cli_fail(const char *fmt, ...);
/* `error: <msg>`, a blank line, the command's usage line; returns CLI_USAGE. */
__attribute__((format(printf, 2, 3))) int cli_usage(const char *cmd, const char *fmt, ...);
/* Store failure: `error: <rvf_strerror>: <rvf_last_error>`; returns CLI_FAIL. */
int cli_store_fail(int err);

/* rvf_open plus the open warning (e.g. a torn manifest skipped) on stderr.
 * With RVF_OPEN_WAIT it waits for another writer's lock, at most
 * --wait-timeout seconds if that was given. On failure prints the error and
 * returns CLI_FAIL with *s NULL; CLI_OK otherwise (cli_open.c). */
int cli_open_store(const char *path, unsigned flags, rvf_store **s);
/* --wait-timeout SECONDS (fractions allowed; implies --wait): CLI_OK or the
 * usage error for `cmd`. */
int cli_wait_timeout_option(const char *cmd, const char *arg, unsigned *flags);

/* ---- option parsing (cli_util.c) -------------------------------------- */
/* Common getopt_long loop tail: reports an unknown option or a missing
 * argument for `cmd` (optopt/argv already set by getopt). */
int cli_bad_option(const char *cmd, char **argv, int opt);
/* Exactly one positional argument (the store path) left after options. */
int cli_one_path(const char *cmd, int argc, char **argv, const char **path);

/* Strict unsigned decimal, no sign/space/trailing junk. 0 ok, -1 bad. */
int cli_parse_u64(const char *s, uint64_t *out);
/* "1.0, 2,3e-1" → floats; on a bad component prints the error and returns
 * CLI_FAIL. *out is malloc'd. */
int cli_parse_vector(const char *s, float **out, size_t *n);
/* "1,2,3" → u64 ids (same rules). */
int cli_parse_ids(const char *s, uint64_t **out, size_t *n);

/* Text output: "  Key:<pad to 20> value". */
__attribute__((format(printf, 2, 3))) void cli_kv(const char *key, const char *fmt, ...);

/* Monotonic clock in milliseconds. */
/* Monotonic nanoseconds, and the milliseconds since such a reading as one
 * correctly rounded division (so 19289 ns prints as 0.019289). */
uint64_t cli_now_ns(void);
double cli_ms_since(uint64_t t0_ns);
double cli_now_ms(void);

/* ---- index policy (cli_index.c) ------------------------------------------- */
/* "auto" / "on" / "off" -> RVF_INDEX_*; -1 if none matches. */
int cli_index_policy_parse(const char *s);
const char *cli_index_policy_name(int policy);
/* Shows index builds of this handle as a progress bar on a TTY (the struct
 * must outlive the handle's builds; cli_index_progress_end erases it). */
struct progress;
void cli_index_progress(rvf_store *s, struct progress *p, int enable);
void cli_index_progress_end(struct progress *p);

/* ---- JSON (cli_json.c) ------------------------------------------------- */
/* Pretty (2-space indent, sorted keys, 17 significant digits) to stdout,
 * then a newline. Steals the reference to `j`. Returns CLI_OK/CLI_FAIL. */
int cli_json_print(json_t *j);
/* Numbers that JSON cannot hold (NaN, inf) become null. */
/* Parses a --filter (or delete filter): at once when it names no field,
 * else (*deferred set) after the store is open with cli_filter_names.
 * CLI_OK or the printed error. */
int cli_filter_early(const char *text, rvf_filter **f, const char **deferred);
int cli_filter_names(const rvf_store *s, const char *text, rvf_filter **f);
/* Metadata names of s for the JSON/CSV readers and meta_to_json_names:
 * lookups only, or (define) new names defined with their value's type and
 * written with the next commit. */
meta_names cli_names(rvf_store *s, int define);
json_t *cli_json_real(double v);
/* A path as a JSON string (non-UTF-8 bytes shown as '?'). */
json_t *cli_json_path(const char *path);
json_t *cli_json_hex(const uint8_t *b, size_t n);
/* {"distance": d, "id": id} array for query hits. */
json_t *cli_json_hits(const rvf_hit *hits, size_t n);
/* Loads a whole file as JSON of any type; prints the error on failure. */
json_t *cli_json_load(const char *path);
/* Element `i` of `arr` as `dim` floats into `out`: returns 0, -1 if an item
 * is not a number (index in *bad), -2 if the length differs. */
int cli_json_floats(const json_t *arr, float *out, size_t dim, size_t *bad);

#endif
