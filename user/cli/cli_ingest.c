/* cli_ingest.c — `rvf ingest PATH -i FILE [--format F] [-b N] [--id-offset N]
 *                 [--strict] [--index auto|on|off] [--wait] [--no-progress] [--json]`.
 *
 * --index overrides the store's index policy for this run (auto: build the
 * HNSW index once the store holds >= 20000 vectors; on: build it now; off:
 * never build one). An existing index is kept current either way.
 *
 * Input formats (input.h): json (array of {"id","vector","metadata"?}),
 * jsonl, csv, tsv (header row) and npy (2-D float16/32/64, C or Fortran
 * order; not float32 is converted with a note on stderr; ids from the
 * FILE.ids.npy sidecar `rvf export` writes when it exists, else row index +
 * --id-offset). The format comes from
 * --format, else the file's extension, else json. Input is streamed: memory
 * is bounded by --batch-size rows, never by the file.
 *
 * All-or-nothing for files: a regular file is read twice. The first pass
 * validates every row (id, vector syntax, metadata) before the store is
 * touched, so a bad row anywhere fails the command with
 * "FILE: row N (line L): reason" and nothing is written. The second pass
 * ingests in batches of --batch-size rows, one commit each.
 * Pipes and stdin (`-i -`) are read once: batches commit as they fill, and a
 * bad row commits the rows before it, then fails with
 * "...; rows before N were ingested (epoch E)" so the input can be resumed.
 *
 * Rows whose vector length differs from the store's dimension, or that hold
 * NaN/inf, are counted as rejected (reference behaviour); with --strict they
 * fail the command instead (checked in the first pass for files).
 * Metadata (simple {"0": 5} or typed form, docs/METADATA.md) is stored with
 * each row; an upsert replaces the previous metadata of the id.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "npy.h"
#include "progress.h"


enum { OPT_JSON = 256, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_FORMAT, OPT_IDOFF, OPT_STRICT, OPT_NOPROG, OPT_INDEX };

static const struct option opts[] = {
	{ "input", required_argument, NULL, 'i' },
	{ "batch-size", required_argument, NULL, 'b' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "id-offset", required_argument, NULL, OPT_IDOFF },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
	{ "no-progress", no_argument, NULL, OPT_NOPROG },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

struct ing {
	const char *path, *input;
	struct in_opts io;
	uint64_t batch;
	unsigned flags;
	int json, strict, progress;
	int index_policy; /* -1: the store's */
	struct progress ipg; /* index build bar */

	rvf_store *s;
	uint32_t dim;
	/* the pending batch */
	uint64_t *bid;
	float *bvec;
	rvf_field **bf;
	size_t *bnf;
	size_t n;
	/* totals */
	uint64_t accepted, rejected, rows;
	uint32_t epoch;
	int committed; /* at least one commit happened */
};

#define MAXLEN 65536u /* vector lengths >= this share the last slot */

static void free_batch_meta(struct ing *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->bf[i]);
		g->bf[i] = NULL;
	}
}

static int open_store(struct ing *g)
{
	rvf_status st;
	int rc;

	if ((rc = cli_open_store(g->path, g->flags, &g->s)))
		return rc;
	if (g->index_policy >= 0 && (rc = rvf_set_index_policy(g->s, g->index_policy)))
		return cli_store_fail(rc);
	cli_index_progress(g->s, &g->ipg, g->progress && !g->json);
	rc = rvf_get_status(g->s, &st);
	if (rc)
		return cli_store_fail(rc);
	g->epoch = st.epoch;
	g->dim = rvf_dimension(g->s);
	g->bid = malloc(g->batch * sizeof *g->bid);
	g->bvec = malloc(g->batch * g->dim * sizeof *g->bvec);
	g->bf = calloc(g->batch, sizeof *g->bf);
	g->bnf = calloc(g->batch, sizeof *g->bnf);
	if (!g->bid || !g->bvec || !g->bf || !g->bnf)
		return cli_fail("out of memory for a batch of %llu rows (use a smaller --batch-size)",
				(unsigned long long)g->batch);
	return CLI_OK;
}

/* Field names need the store's dictionary: opened at the first name. */
static int ing_resolve(void *ctx, const char *name, int type, uint16_t *id, int *dtype)
{
	struct ing *g = ctx;
	meta_names nm;

	if (!g->s && open_store(g))
		return RVF_E_IO; /* open_store said why */
	nm = cli_names(g->s, 1);
	return nm.resolve(nm.ctx, name, type, id, dtype);
}

static int flush(struct ing *g)
{
	rvf_ingest_result res = { 0 };
	int rc;

	if (!g->n)
		return CLI_OK;
	rc = rvf_ingest_meta(g->s, g->bid, g->bvec, g->n, (const rvf_field *const *)g->bf,
			     g->bnf, &res);
	free_batch_meta(g);
	g->n = 0;
	if (rc)
		return cli_store_fail(rc);
	g->accepted += res.accepted;
	g->rejected += res.rejected;
	g->epoch = res.epoch;
	g->committed = 1;
	return CLI_OK;
}

static int finite_row(const float *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* Pass 1 (files only): every row parses. Records the first row number of
 * each vector length and of a non-finite row for --strict. */
static int validate(struct ing *g, struct in_reader *r, uint64_t *firstlen, uint64_t *nonfinite)
{
	struct progress pg;
	struct in_row row;
	char err[1024];
	int rc;

	progress_start(&pg, "validating", in_total_bytes(r), g->progress);
	while ((rc = in_next(r, &row, err, sizeof err)) == 1) {
		size_t l = row.dim < MAXLEN ? row.dim : MAXLEN;

		free(row.fields);
		g->rows++;
		if (!firstlen[l])
			firstlen[l] = row.rowno;
		if (!*nonfinite && !finite_row(row.vec, row.dim))
			*nonfinite = row.rowno;
		if ((g->rows & 1023) == 0)
			progress_update(&pg, g->rows, in_bytes_read(r));
	}
	progress_end(&pg);
	if (rc < 0)
		return cli_fail("%s: %s; nothing was written", g->input, err);
	return CLI_OK;
}

static int strict_check(struct ing *g, const uint64_t *firstlen, uint64_t nonfinite)
{
	uint64_t bad = 0, badlen = 0;
	size_t l;

	for (l = 0; l <= MAXLEN; l++)
		if (l != g->dim && firstlen[l] && (!bad || firstlen[l] < bad)) {
			bad = firstlen[l];
			badlen = l;
		}
	if (bad && (!nonfinite || bad < nonfinite))
		return cli_fail("%s: row %llu: vector has %s%llu components, the store's dimension "
				"is %u (--strict); nothing was written", g->input,
				(unsigned long long)bad, badlen == MAXLEN ? "at least " : "",
				(unsigned long long)badlen, g->dim);
	if (nonfinite)
		return cli_fail("%s: row %llu: vector holds NaN or infinity (--strict); nothing "
				"was written", g->input, (unsigned long long)nonfinite);
	return CLI_OK;
}

/* Says what is in the store after a failure at row `rowno`. */
static int fail_at(struct ing *g, const char *what, uint64_t rowno)
{
	if (!g->committed)
		return cli_fail("%s; nothing was written", what);
	return cli_fail("%s; rows before row %llu were ingested (epoch %u)", what,
			(unsigned long long)rowno, g->epoch);
}

static int ingest_pass(struct ing *g, struct in_reader *r, int single)
{
	struct progress pg;
	struct in_row row;
	char err[1024], what[1300];
	uint64_t seen = 0;
	int rc;

	progress_start(&pg, "ingesting", in_total_bytes(r), g->progress);
	while ((rc = in_next(r, &row, err, sizeof err)) == 1) {
		seen++;
		if (!g->s && (rc = open_store(g))) {
			free(row.fields);
			progress_end(&pg);
			return rc;
		}
		if (row.dim != g->dim || (g->strict && !finite_row(row.vec, row.dim))) {
			free(row.fields);
			if (g->strict) {
				if (row.dim != g->dim)
					snprintf(what, sizeof what, "%s: row %llu: vector has %zu "
						 "components, the store's dimension is %u (--strict)",
						 g->input, (unsigned long long)row.rowno, row.dim, g->dim);
				else
					snprintf(what, sizeof what, "%s: row %llu: vector holds NaN or "
						 "infinity (--strict)", g->input,
						 (unsigned long long)row.rowno);
				progress_end(&pg);
				if (flush(g))
					return CLI_FAIL;
				return fail_at(g, what, row.rowno);
			}
			g->rejected++;
			continue;
		}
		g->bid[g->n] = row.id;
		memcpy(g->bvec + g->n * g->dim, row.vec, g->dim * sizeof(float));
		g->bf[g->n] = row.fields;
		g->bnf[g->n] = row.nfields;
		g->n++;
		if (g->n == g->batch && (rc = flush(g))) {
			progress_end(&pg);
			return rc;
		}
		if ((seen & 1023) == 0)
			progress_update(&pg, seen, in_bytes_read(r));
	}
	progress_end(&pg);
	if (rc < 0) {
		snprintf(what, sizeof what, "%s: %s", g->input, err);
		/* Single pass: keep what came before the bad row (resumable). */
		if (single && g->s && flush(g))
			return CLI_FAIL;
		free_batch_meta(g);
		g->n = 0;
		return fail_at(g, what, r->rowno ? r->rowno : 1);
	}
	g->rows = seen;
	return flush(g);
}

static int persist_index(struct ing *g)
{
	rvf_index_stats is;
	int rc;

	if (rvf_get_index_stats(g->s, &is) || !is.present)
		return CLI_OK;
	rc = rvf_index_persist(g->s);
	if (rc) {
		cli_store_fail(rc);
		return cli_fail("the vectors were ingested (epoch %u) but the index was not "
				"persisted; it is rebuilt from the vectors on the next write",
				g->epoch);
	}
	return CLI_OK;
}

static int report(const struct ing *g)
{
	if (g->json)
		return cli_json_print(json_pack("{s:o, s:I, s:o}",
						"accepted", cli_json_u64(g->accepted),
						"epoch", (json_int_t)g->epoch,
						"rejected", cli_json_u64(g->rejected)));
	if (!g->s) {
		printf("No records to ingest.\n");
		return CLI_OK;
	}
	printf("Ingestion complete:\n");
	cli_kv("Accepted", "%llu", (unsigned long long)g->accepted);
	cli_kv("Rejected", "%llu", (unsigned long long)g->rejected);
	cli_kv("Epoch", "%u", g->epoch);
	return CLI_OK;
}

static int run(struct ing *g)
{
	struct in_reader *r = NULL;
	uint64_t *firstlen = NULL, nonfinite = 0;
	char err[1024];
	int rc, single;

	if (in_open(g->input, &g->io, &r, err, sizeof err))
		return cli_fail("%s: %s; nothing was written", g->input, err);
	if (r->note[0])
		fprintf(stderr, "note: %s: %s\n", g->input, r->note);
	if (g->io.ids_path)
		fprintf(stderr, "note: %s: ids from %s\n", g->input, g->io.ids_path);
	single = !in_rewindable(r);
	if (!single) {
		firstlen = calloc(MAXLEN + 1, sizeof *firstlen);
		if (!firstlen) {
			rc = cli_fail("out of memory");
			goto out;
		}
		rc = validate(g, r, firstlen, &nonfinite);
		if (rc)
			goto out;
		if (g->rows == 0) {
			/* Like the reference: succeed without touching the store. */
			rc = report(g);
			goto out;
		}
		if (!g->s && (rc = open_store(g)))
			goto out;
		if (g->strict && (rc = strict_check(g, firstlen, nonfinite)))
			goto out;
		if (in_rewind(r, err, sizeof err)) {
			rc = cli_fail("%s", err);
			goto out;
		}
	}
	rc = ingest_pass(g, r, single);
	if (rc)
		goto out;
	if (g->s && (rc = persist_index(g)))
		goto out;
	rc = report(g);
out:
	free_batch_meta(g);
	rvf_close(g->s);
	cli_index_progress_end(&g->ipg);
	g->s = NULL;
	in_close(r);
	free(firstlen);
	free(g->bid);
	free(g->bvec);
	free(g->bf);
	free(g->bnf);
	return rc;
}

int cmd_ingest(int argc, char **argv)
{
	struct ing g = { 0 };
	const char *format = NULL;
	char *ids = NULL;
	int opt, rc, idoff = 0;

	g.batch = 1000;
	g.progress = 1;
	g.index_policy = -1;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":i:b:", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			g.input = optarg;
			break;
		case 'b':
			if (cli_parse_u64(optarg, &g.batch))
				return cli_usage("ingest", "invalid value '%s' for '--batch-size <N>': "
						 "expected a non-negative integer", optarg);
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_IDOFF:
			if (cli_parse_u64(optarg, &g.io.id_offset))
				return cli_usage("ingest", "invalid value '%s' for '--id-offset <N>': "
						 "expected a non-negative integer", optarg);
			idoff = 1;
			break;
		case OPT_STRICT:
			g.strict = 1;
			break;
		case OPT_WAIT:
			g.flags |= RVF_OPEN_WAIT;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("ingest", optarg, &g.flags)))
				return rc;
			break;
		case OPT_NOPROG:
			g.progress = 0;
			break;
		case OPT_INDEX:
			if ((g.index_policy = cli_index_policy_parse(optarg)) < 0)
				return cli_usage("ingest", "invalid value '%s' for '--index <POLICY>': auto, on or off",
						 optarg);
			break;
		case OPT_JSON:
			g.json = 1;
			break;
		default:
			return cli_bad_option("ingest", argv, opt);
		}
	}
	if ((rc = cli_one_path("ingest", argc, argv, &g.path)))
		return rc;
	if (!g.input)
		return cli_usage("ingest", "the following required arguments were not provided:\n"
				 "  --input <INPUT>");
	if (format) {
		g.io.format = in_format_parse(format);
		if (g.io.format < 0)
			return cli_usage("ingest", "invalid value '%s' for '--format <FORMAT>': "
					 "expected json, jsonl, csv, tsv or npy", format);
	} else {
		g.io.format = in_format_guess(g.input);
		if (g.io.format < 0)
			g.io.format = IN_JSON;
	}
	if (g.batch == 0)
		g.batch = 1; /* reference: 0 is treated as 1 */
	if (g.batch > (1u << 24))
		g.batch = 1u << 24;
	/* `rvf export -o X.npy` writes the ids beside it as X.ids.npy */
	if (g.io.format == IN_NPY && strcmp(g.input, "-")) {
		if (!(ids = npy_ids_path(g.input)))
			return cli_fail("out of memory");
		if (!access(ids, F_OK)) {
			if (idoff) {
				rc = cli_usage("ingest", "--id-offset does not apply: the ids come from "
					       "%s (move it away to number rows instead)", ids);
				free(ids);
				return rc;
			}
			g.io.ids_path = ids;
		}
	}
	meta_names nm = { ing_resolve, NULL, &g };
	g.io.names = &nm;
	rc = run(&g);
	free(ids);
	return rc;
}
