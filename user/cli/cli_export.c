/* cli_export.c — `rvf export PATH [--format json|jsonl|csv|tsv|npy] [-o OUT]
 * [--no-progress] [--json]`.
 *
 * Writes every live vector (own and inherited, in the store's stable order)
 * with its id and metadata, one row at a time, in a layout `rvf ingest`
 * reads back unchanged: exporting, ingesting into a new store and exporting
 * again gives identical bytes.
 *   json   [\n{"id":1,"vector":[..],"metadata":{..}},\n...\n]
 *   jsonl  one such object per line
 *   csv    id,vector,m:<field>:<type>...  (vector quoted as "[..]"; one
 *   tsv    column per field id and type in use; an empty cell = no field,
 *          strings always quoted so "" is the empty string)
 *   npy    2-D '<f4' (needs -o OUT) and the ids as a 1-D '<u8' sidecar
 *          OUT.ids.npy (x.npy -> x.ids.npy), which `rvf ingest -i x.npy`
 *          picks up; metadata is dropped, with a warning when there is any
 * Floats are printed with 9 significant digits (exact for float32), metadata
 * reals with 17 (exact for doubles). Metadata uses the simple JSON form when
 * it re-reads exactly, else the typed form. Ids above 2^63-1 cannot be read
 * back from JSON (a jansson limit); use csv for them.
 * The format defaults to OUT's extension, else json. OUT is written beside
 * itself and renamed into place, so a failed export leaves no partial file.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "rvf_frontend.h"
#include "npy.h"
#include "progress.h"

enum { OPT_JSON = 256, OPT_FORMAT, OPT_NOPROG };

static const struct option opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "output", required_argument, NULL, 'o' },
	{ "no-progress", no_argument, NULL, OPT_NOPROG },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

#define NTYPES 5
#define NCOLKEYS (65536u * NTYPES)

struct exp {
	rvf_store *s;
	FILE *f;
	FILE *fid; /* npy: the ids sidecar */
	int format;
	uint32_t dim;
	uint64_t n;
	/* csv/tsv */
	int32_t *colidx; /* field*5+type -> column, or -1 */
	uint32_t *colkey;
	size_t ncols;
	const rvf_field **cell;
};

/* 9 significant digits: every float32 re-reads to the same bits. In JSON an
 * integral value gets ".0" so that -0 stays -0 through jansson. */
static void put_float(FILE *f, float v, int json)
{
	char b[32];
	int n = snprintf(b, sizeof b, "%.9g", (double)v);

	if (json && !strpbrk(b, ".eni"))
		memcpy(b + n, ".0", 3);
	fputs(b, f);
}

static void put_vector(FILE *f, const float *v, uint32_t dim, int json)
{
	uint32_t i;

	fputc('[', f);
	for (i = 0; i < dim; i++) {
		if (i)
			fputc(',', f);
		put_float(f, v[i], json);
	}
	fputc(']', f);
}

static int put_json_row(struct exp *e, uint64_t id, const float *v)
{
	const rvf_field *fl = NULL;
	size_t nf = 0;

	fprintf(e->f, "{\"id\":%" PRIu64 ",\"vector\":", id);
	put_vector(e->f, v, e->dim, 1);
	if (!rvf_get_meta(e->s, id, &fl, &nf) && nf) {
		meta_names nm = cli_names(e->s, 0);
		json_t *m = meta_to_json_names(fl, nf, META_JSON_AUTO, &nm);
		char *txt = m ? cli_json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS |
					   JSON_REAL_PRECISION(17)) : NULL;

		json_decref(m);
		if (!txt)
			return cli_fail("cannot render the metadata of id %" PRIu64, id);
		fprintf(e->f, ",\"metadata\":%s", txt);
		free(txt);
	}
	fputc('}', e->f);
	return CLI_OK;
}

static void put_quoted(FILE *f, const char *p, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		if (p[i] == '"')
			fputc('"', f);
		fputc(p[i], f);
	}
	fputc('"', f);
}

static void put_value(FILE *f, const rvf_field *x)
{
	switch (x->type) {
	case RVF_FIELD_U64:
		fprintf(f, "%" PRIu64, x->v.u64);
		break;
	case RVF_FIELD_I64:
		fprintf(f, "%" PRId64, x->v.i64);
		break;
	case RVF_FIELD_F64:
		if (isnan(x->v.f64))
			fputs("NaN", f);
		else if (isinf(x->v.f64))
			fputs(x->v.f64 < 0 ? "-inf" : "inf", f);
		else
			fprintf(f, "%.17g", x->v.f64);
		break;
	case RVF_FIELD_STRING:
		put_quoted(f, x->v.str.ptr, x->v.str.len);
		break;
	case RVF_FIELD_BOOL:
		fputs(x->v.b ? "true" : "false", f);
		break;
	}
}

/* Collects the (field, type) pairs in use: one column each, sorted. */
static int csv_columns(struct exp *e)
{
	uint8_t *used = calloc(NCOLKEYS, 1);
	uint64_t i, id;
	const float *v;
	size_t k;

	e->colidx = malloc(NCOLKEYS * sizeof *e->colidx);
	if (!used || !e->colidx) {
		free(used);
		return cli_fail("out of memory");
	}
	for (i = 0; i < e->n; i++) {
		const rvf_field *fl;
		size_t nf;

		if (rvf_live_get(e->s, i, &id, &v))
			return free(used), cli_store_fail(RVF_E_NOMEM);
		if (rvf_get_meta(e->s, id, &fl, &nf))
			continue;
		for (k = 0; k < nf; k++)
			if (fl[k].type < NTYPES)
				used[fl[k].id * NTYPES + fl[k].type] = 1;
	}
	for (k = 0; k < NCOLKEYS; k++)
		e->ncols += used[k];
	e->colkey = malloc((e->ncols ? e->ncols : 1) * sizeof *e->colkey);
	e->cell = calloc(e->ncols ? e->ncols : 1, sizeof *e->cell);
	if (!e->colkey || !e->cell) {
		free(used);
		return cli_fail("out of memory");
	}
	e->ncols = 0;
	for (k = 0; k < NCOLKEYS; k++) {
		e->colidx[k] = used[k] ? (int32_t)e->ncols : -1;
		if (used[k])
			e->colkey[e->ncols++] = (uint32_t)k;
	}
	free(used);
	return CLI_OK;
}

static void put_csv_header(struct exp *e, char sep)
{
	size_t c;

	fprintf(e->f, "id%cvector", sep);
	for (c = 0; c < e->ncols; c++) {
		uint16_t field = (uint16_t)(e->colkey[c] / NTYPES);
		const char *name = rvf_field_name(e->s, field, NULL);

		/* a name that a header cell cannot carry bare stays a number */
		if (name && !strpbrk(name, ":,\t\"\r\n "))
			fprintf(e->f, "%cm:%s:%s", sep, name, meta_type_name((int)(e->colkey[c] % NTYPES)));
		else
			fprintf(e->f, "%cm:%u:%s", sep, field, meta_type_name((int)(e->colkey[c] % NTYPES)));
	}
	fputc('\n', e->f);
}

static void put_csv_row(struct exp *e, char sep, uint64_t id, const float *v)
{
	const rvf_field *fl = NULL;
	size_t nf = 0, k, c;

	fprintf(e->f, "%" PRIu64 "%c", id, sep);
	if (sep == ',')
		fputc('"', e->f);
	put_vector(e->f, v, e->dim, 0);
	if (sep == ',')
		fputc('"', e->f);
	if (e->ncols && !rvf_get_meta(e->s, id, &fl, &nf))
		for (k = 0; k < nf; k++)
			if (fl[k].type < NTYPES)
				e->cell[e->colidx[fl[k].id * NTYPES + fl[k].type]] = &fl[k];
	for (c = 0; c < e->ncols; c++) {
		fputc(sep, e->f);
		if (e->cell[c]) {
			put_value(e->f, e->cell[c]);
			e->cell[c] = NULL;
		}
	}
	fputc('\n', e->f);
}

static int export_rows(struct exp *e, int progress)
{
	struct progress pg;
	uint64_t i, id, nmeta = 0;
	const float *v;
	char sep = e->format == IN_TSV ? '\t' : ',';
	int rc = CLI_OK;

	if ((e->format == IN_CSV || e->format == IN_TSV) && (rc = csv_columns(e)))
		return rc;
	if (e->format == IN_JSON)
		fputs(e->n ? "[\n" : "[", e->f);
	else if (e->format == IN_CSV || e->format == IN_TSV)
		put_csv_header(e, sep);
	else if (e->format == IN_NPY) {
		npy_write_header(e->f, "<f4", e->n, e->dim);
		npy_write_header(e->fid, "<u8", e->n, 0);
	}
	progress_start(&pg, "exporting", e->n, progress);
	for (i = 0; i < e->n && !rc; i++) {
		if (rvf_live_get(e->s, i, &id, &v)) {
			rc = cli_store_fail(RVF_E_NOMEM);
			break;
		}
		switch (e->format) {
		case IN_JSON:
		case IN_JSONL:
			rc = put_json_row(e, id, v);
			if (e->format == IN_JSON && i + 1 < e->n)
				fputc(',', e->f);
			fputc('\n', e->f);
			break;
		case IN_CSV:
		case IN_TSV:
			put_csv_row(e, sep, id, v);
			break;
		case IN_NPY: {
			const rvf_field *fl;
			size_t nf;
			unsigned char le[8];

			fwrite(v, sizeof(float), e->dim, e->f);
			for (int b = 0; b < 8; b++)
				le[b] = (unsigned char)(id >> (8 * b));
			fwrite(le, 1, 8, e->fid);
			nmeta += !rvf_get_meta(e->s, id, &fl, &nf) && nf;
			break;
		}
		}
		if ((i & 1023) == 0)
			progress_update(&pg, i, i);
	}
	progress_end(&pg);
	if (e->format == IN_JSON && !rc)
		fputs("]\n", e->f);
	if (!rc && nmeta)
		fprintf(stderr, "warning: .npy holds vectors and ids only: metadata is not "
			"exported (use --format csv or jsonl to keep it)\n");
	return rc;
}

/* Opens a temporary file beside out (*tmp malloc'd). */
static int open_tmp(const char *out, char **tmp, FILE **f)
{
	if (asprintf(tmp, "%s.tmp.%ld", out, (long)getpid()) < 0) {
		*tmp = NULL;
		return cli_fail("out of memory");
	}
	*f = fopen(*tmp, "wb");
	if (!*f)
		return cli_fail("%s: cannot create: %m", out);
	setvbuf(*f, NULL, _IOFBF, 1 << 20);
	return CLI_OK;
}

/* Flushes, syncs and closes f; renames tmp to out when all went well (rc
 * CLI_OK), else removes tmp. Returns the first error. */
static int finish_tmp(int rc, const char *out, const char *tmp, FILE *f)
{
	if (!f)
		return rc;
	if ((fflush(f) || ferror(f) || fsync(fileno(f))) && !rc)
		rc = cli_fail("%s: write failed: %m", out);
	if (fclose(f) && !rc)
		rc = cli_fail("%s: write failed: %m", out);
	if (!rc && rename(tmp, out))
		rc = cli_fail("%s: cannot rename into place: %m", out);
	if (rc)
		unlink(tmp);
	return rc;
}

static int run(const char *path, const char *out, int format, int progress, int json)
{
	struct exp e = { 0 };
	char *tmp = NULL, *idout = NULL, *idtmp = NULL;
	int rc;

	e.format = format;
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &e.s)))
		return rc;
	e.dim = rvf_dimension(e.s);
	e.n = rvf_live_count(e.s);
	if (format == IN_NPY && !(idout = npy_ids_path(out))) {
		rc = cli_fail("out of memory");
		goto done;
	}
	if (out && (rc = open_tmp(out, &tmp, &e.f)))
		goto done;
	if (idout && (rc = open_tmp(idout, &idtmp, &e.fid)))
		goto done;
	if (!out) {
		e.f = stdout;
		setvbuf(e.f, NULL, _IOFBF, 1 << 20);
	}
	rc = export_rows(&e, progress);
	if (!out && fflush(e.f) && !rc)
		rc = cli_fail("stdout: write failed: %m");
	rc = finish_tmp(rc, idout, idtmp, e.fid);
	e.fid = NULL;
	if (out)
		rc = finish_tmp(rc, out, tmp, e.f);
	e.f = NULL;
	if (!rc && out) {
		if (json)
			rc = cli_json_print(json_pack("{s:s, s:o, s:o, s:o}", "format",
						      in_format_name(format), "ids_output",
						      idout ? cli_json_path(idout) : json_null(), "output",
						      cli_json_path(out), "vectors", cli_json_u64(e.n)));
		else {
			printf("Export complete:\n");
			cli_kv("Vectors", "%llu", (unsigned long long)e.n);
			cli_kv("Format", "%s", in_format_name(format));
			cli_kv("Output", "%s", out);
			if (idout)
				cli_kv("Ids", "%s", idout);
		}
	}
done:
	if (e.fid) {
		fclose(e.fid);
		unlink(idtmp);
	}
	if (out && e.f) {
		fclose(e.f);
		unlink(tmp);
	}
	free(tmp);
	free(idtmp);
	free(idout);
	free(e.colidx);
	free(e.colkey);
	free(e.cell);
	rvf_close(e.s);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	const char *path = NULL, *out = NULL, *format = NULL;
	int json = 0, progress = 1, opt, rc, f;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_NOPROG:
			progress = 0;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("export", argv, opt);
		}
	}
	if ((rc = cli_one_path("export", argc, argv, &path)))
		return rc;
	if (out && !strcmp(out, "-"))
		out = NULL;
	if (format) {
		f = in_format_parse(format);
		if (f < 0)
			return cli_usage("export", "invalid value '%s' for '--format <FORMAT>': "
					 "expected json, jsonl, csv, tsv or npy", format);
	} else {
		f = out ? in_format_guess(out) : -1;
		if (f < 0)
			f = IN_JSON;
	}
	if (f == IN_NPY && !out)
		return cli_usage("export", "--format npy writes binary data: give a file with "
				 "-o <OUT>");
	if (json && !out)
		return cli_usage("export", "--json describes the export and needs -o <OUT> "
				 "(the data itself goes to stdout otherwise)");
	return run(path, out, f, progress, json);
}
