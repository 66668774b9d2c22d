/* cli_shard.c — `rvf shard split FILE --shards S --by hash|range --out-dir DIR`
 * and `rvf shard merge MAP --output FILE` (docs/SCALING.md).
 *
 * split: every live vector of FILE (with its metadata) goes to exactly one of
 * S shard files DIR/shard-N.rvf, each derived from FILE (rvf_derive without
 * copy-on-write: new file id, parent_id = FILE's file id, parent hash, depth
 * + 1, same dimension, metric and profile) with FILE's index policy and
 * efSearch (and an HNSW index built like FILE's when FILE has one), plus the
 * map DIR/shardmap.json. merge: checks every shard against the map (file id,
 * lineage, dimension, metric, vector count, every id on the shard its rule
 * names) and writes their live vectors and metadata into one new store.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "shardmap.h"

#define BATCH 1000

enum { OPT_JSON = 256, OPT_SHARDS, OPT_BY, OPT_OUT_DIR, OPT_ADDRS, OPT_OUTPUT };

static void hex16(const uint8_t *b, char out[33])
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[32] = 0;
}

/* Copies the store settings that are not vectors: index policy, efSearch. */
static int copy_settings(const rvf_index_stats *is, rvf_store *dst)
{
	return rvf_index_configure(dst, is->policy, is->ef_search);
}

/* Ingests the live slots sel[0..n) of src into dst, BATCH per commit. */
static int copy_slots(const rvf_store *src, rvf_store *dst, const uint64_t *sel, size_t n)
{
	uint32_t dim = rvf_dimension(src);
	uint64_t *ids = malloc(BATCH * sizeof *ids);
	float *vecs = malloc((size_t)BATCH * dim * sizeof *vecs);
	const rvf_field **fields = malloc(BATCH * sizeof *fields);
	size_t *nf = malloc(BATCH * sizeof *nf);
	int err = ids && vecs && fields && nf ? 0 : RVF_E_NOMEM;

	for (size_t at = 0; !err && at < n; at += BATCH) {
		size_t m = n - at < BATCH ? n - at : BATCH;
		rvf_ingest_result r;

		for (size_t i = 0; !err && i < m; i++) {
			const float *v;

			err = rvf_live_get(src, sel[at + i], &ids[i], &v);
			if (err)
				break;
			memcpy(vecs + i * dim, v, dim * sizeof *v);
			if (rvf_get_meta(src, ids[i], &fields[i], &nf[i]) != 0) {
				fields[i] = NULL;
				nf[i] = 0;
			}
		}
		if (!err)
			err = rvf_ingest_meta(dst, ids, vecs, m, fields, nf, &r);
		if (!err && r.accepted != m)
			err = RVF_E_CORRUPT; /* a live vector refused: NaN in the source */
	}
	free(ids);
	free(vecs);
	free(fields);
	free(nf);
	return err;
}

/* A store with an HNSW index gets one built with the same parameters. */
static int copy_index(const rvf_index_stats *is, rvf_store *dst)
{
	return is->present ? rvf_index_build(dst, is->m, is->ef_construction) : 0;
}

struct idpos {
	uint64_t id;
	uint64_t slot;
};

static int cmp_idpos(const void *a, const void *b)
{
	const struct idpos *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Comma-separated HOST:PORT list into the entries' addr fields. */
static int set_addrs(struct shard_map *m, const char *list)
{
	const char *p = list;

	for (unsigned i = 0; i < m->nshards; i++) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof m->shards[i].addr)
			return -1;
		memcpy(m->shards[i].addr, p, n);
		m->shards[i].addr[n] = 0;
		p += n;
		if (*p == ',' && i + 1 < m->nshards)
			p++;
		else if (*p || i + 1 < m->nshards)
			return -1;
	}
	return 0;
}

static void remove_outputs(const char *dir, const struct shard_map *m, unsigned made)
{
	char path[PATH_MAX];

	for (unsigned i = 0; i < made; i++)
		if (snprintf(path, sizeof path, "%s/%s", dir, m->shards[i].file) < (int)sizeof path)
			unlink(path);
}

static int split_print(const char *dir, const char *mappath, const struct shard_map *m, int json)
{
	if (json) {
		json_t *arr = json_array();

		for (unsigned i = 0; arr && i < m->nshards; i++) {
			json_t *o = json_object();
			char p[PATH_MAX];

			snprintf(p, sizeof p, "%s/%s", dir, m->shards[i].file);
			json_object_set_new(o, "file_id", json_string(m->shards[i].file_id));
			json_object_set_new(o, "index", json_integer(i));
			json_object_set_new(o, "path", cli_json_path(p));
			json_object_set_new(o, "vectors", cli_json_u64(m->shards[i].vectors));
			json_array_append_new(arr, o);
		}
		return cli_json_print(json_pack("{s:s, s:o, s:o, s:o, s:I}", "by",
						m->by == SHARD_BY_HASH ? "hash" : "range",
						"map", cli_json_path(mappath), "shards", arr,
						"source_file_id", json_string(m->source_file_id),
						"vectors", (json_int_t)m->source_vectors));
	}
	printf("Split %llu vectors into %u shards by %s\n", (unsigned long long)m->source_vectors,
	       m->nshards, m->by == SHARD_BY_HASH ? "hash" : "range");
	for (unsigned i = 0; i < m->nshards; i++)
		printf("  [%u] %s/%s  %llu vectors  file_id %s\n", i, dir, m->shards[i].file,
		       (unsigned long long)m->shards[i].vectors, m->shards[i].file_id);
	cli_kv("Shard map", "%s", mappath);
	return CLI_OK;
}

static int split(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shards", required_argument, NULL, OPT_SHARDS },
		{ "by", required_argument, NULL, OPT_BY },
		{ "out-dir", required_argument, NULL, OPT_OUT_DIR },
		{ "addrs", required_argument, NULL, OPT_ADDRS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path, *dir = NULL, *addrs = NULL, *by = NULL;
	uint64_t nshards = 0, n;
	struct shard_map m = { 0 };
	struct idpos *order = NULL;
	uint64_t **sel = NULL;
	size_t *nsel = NULL;
	rvf_store *src = NULL;
	rvf_identity ident;
	rvf_index_stats is;
	char mappath[PATH_MAX];
	unsigned made = 0;
	int json = 0, opt, rc, err = 0;
	struct stat sb;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SHARDS:
			if (cli_parse_u64(optarg, &nshards) || nshards < 1 ||
			    nshards > SHARDMAP_MAX_SHARDS)
				return cli_usage("shard", "invalid value '%s' for '--shards <S>': "
						 "expected 1..%d", optarg, SHARDMAP_MAX_SHARDS);
			break;
		case OPT_BY:
			by = optarg;
			if (strcmp(by, "hash") && strcmp(by, "range"))
				return cli_usage("shard", "invalid value '%s' for '--by': expected "
						 "hash or range", by);
			break;
		case OPT_OUT_DIR:
			dir = optarg;
			break;
		case OPT_ADDRS:
			addrs = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("shard", argv, opt);
		}
	}
	if ((rc = cli_one_path("shard", argc, argv, &path)))
		return rc;
	if (!nshards || !dir || !by)
		return cli_usage("shard", "split needs --shards <S>, --by hash|range and "
				 "--out-dir <DIR>");
	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode))
		return cli_fail("%s: not a directory", dir);
	if (snprintf(mappath, sizeof mappath, "%s/shardmap.json", dir) >= (int)sizeof mappath)
		return cli_fail("%s: path too long", dir);
	if (access(mappath, F_OK) == 0)
		return cli_fail("%s exists: refusing to overwrite a shard map", mappath);

	m.by = by[0] == 'h' ? SHARD_BY_HASH : SHARD_BY_RANGE;
	m.nshards = (unsigned)nshards;
	m.shards = calloc(m.nshards, sizeof *m.shards);
	sel = calloc(m.nshards, sizeof *sel);
	nsel = calloc(m.nshards, sizeof *nsel);
	if (!m.shards || !sel || !nsel) {
		rc = cli_fail("out of memory");
		goto out;
	}
	if (addrs && set_addrs(&m, addrs)) {
		rc = cli_usage("shard", "--addrs needs exactly %u comma-separated HOST:PORT "
			       "entries", m.nshards);
		goto out;
	}
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &src)))
		goto out;
	if ((err = rvf_get_identity(src, &ident)) || (err = rvf_get_index_stats(src, &is)))
		goto fail;
	m.dimension = rvf_dimension(src);
	snprintf(m.metric, sizeof m.metric, "%s", rvf_metric_name(rvf_get_metric(src)));
	hex16(ident.file_id, m.source_file_id);
	{
		const char *base = strrchr(path, '/');

		snprintf(m.source_path, sizeof m.source_path, "%s", base ? base + 1 : path);
	}
	n = rvf_live_count(src);
	m.source_vectors = n;
	order = malloc((n ? n : 1) * sizeof *order);
	for (unsigned i = 0; order && i < m.nshards; i++)
		if (!(sel[i] = malloc((n ? n : 1) * sizeof **sel)))
			order = NULL;
	if (!order) {
		err = RVF_E_NOMEM;
		goto fail;
	}
	for (uint64_t i = 0; i < n; i++) {
		const float *v;

		if ((err = rvf_live_get(src, i, &order[i].id, &v)))
			goto fail;
		order[i].slot = i;
	}
	qsort(order, n, sizeof *order, cmp_idpos);
	for (unsigned i = 0; i < m.nshards; i++) {
		/* range: equal counts of consecutive ids; bounds cover all of u64 */
		uint64_t first = n * i / m.nshards;

		m.shards[i].index = i;
		snprintf(m.shards[i].file, sizeof m.shards[i].file, "shard-%u.rvf", i);
		if (m.by == SHARD_BY_RANGE) {
			m.shards[i].id_lo = i == 0 ? 0 : first < n ? order[first].id
						       : m.shards[i - 1].id_lo;
			if (i > 0)
				m.shards[i - 1].id_hi = m.shards[i].id_lo - 1;
			m.shards[i].id_hi = UINT64_MAX;
		}
	}
	if (m.by == SHARD_BY_RANGE) {
		/* Empty shards (fewer ids than shards) would share a bound: refuse. */
		for (unsigned i = 1; i < m.nshards; i++)
			if (m.shards[i].id_lo <= m.shards[i - 1].id_lo) {
				rc = cli_fail("%s: %llu vectors cannot fill %u id ranges", path,
					      (unsigned long long)n, m.nshards);
				goto out;
			}
	}
	for (uint64_t i = 0; i < n; i++) {
		unsigned s = shard_of(&m, order[i].id);

		sel[s][nsel[s]++] = order[i].slot;
	}
	for (unsigned i = 0; i < m.nshards; i++) {
		char p[PATH_MAX];
		rvf_store *c = NULL;
		rvf_identity cid;

		if (snprintf(p, sizeof p, "%s/%s", dir, m.shards[i].file) >= (int)sizeof p) {
			rc = cli_fail("%s: path too long", dir);
			goto out;
		}
		if ((err = rvf_derive(src, p, 0, &c)))
			goto fail;
		made = i + 1; /* created: removed again on failure */
		err = copy_settings(&is, c);
		if (!err)
			err = copy_slots(src, c, sel[i], nsel[i]);
		if (!err)
			err = copy_index(&is, c);
		if (!err)
			err = rvf_get_identity(c, &cid);
		rvf_close(c);
		if (err)
			goto fail;
		hex16(cid.file_id, m.shards[i].file_id);
		m.shards[i].vectors = nsel[i];
	}
	if ((err = shardmap_save(mappath, &m))) {
		rc = cli_fail("%s: %s", mappath, strerror(-err));
		goto out;
	}
	rc = split_print(dir, mappath, &m, json);
	made = 0;
	goto out;
fail:
	rc = err == RVF_E_CORRUPT && !*rvf_last_error()
		     ? cli_fail("%s: a live vector was refused by the shard", path)
		     : cli_store_fail(err);
out:
	if (rc)
		remove_outputs(dir, &m, made);
	for (unsigned i = 0; sel && i < m.nshards; i++)
		free(sel[i]);
	free(sel);
	free(nsel);
	free(order);
	shardmap_free(&m);
	rvf_close(src);
	return rc;
}

/* Opens shard i of the map read-only and checks it against the map. */
static int open_shard(const char *mapdir, const struct shard_map *m, unsigned i, rvf_store **out)
{
	const struct shard_entry *e = &m->shards[i];
	char p[PATH_MAX], fid[33], pid[33];
	rvf_identity id;
	rvf_store *s;
	uint64_t n;
	int rc;

	if (snprintf(p, sizeof p, "%s/%s", mapdir, e->file) >= (int)sizeof p)
		return cli_fail("%s: path too long", mapdir);
	if ((rc = cli_open_store(p, RVF_OPEN_READONLY, &s)))
		return rc;
	*out = s;
	if (rvf_get_identity(s, &id))
		return cli_store_fail(RVF_E_CORRUPT);
	hex16(id.file_id, fid);
	hex16(id.parent_id, pid);
	if (strcmp(fid, e->file_id))
		return cli_fail("%s: file_id %s, the map says %s (another file?)", p, fid, e->file_id);
	if (strcmp(pid, m->source_file_id))
		return cli_fail("%s: derived from %s, the map's source is %s", p, pid,
				m->source_file_id);
	if (rvf_dimension(s) != m->dimension ||
	    strcmp(rvf_metric_name(rvf_get_metric(s)), m->metric))
		return cli_fail("%s: dimension %u / metric %s, the map says %u / %s", p,
				rvf_dimension(s), rvf_metric_name(rvf_get_metric(s)), m->dimension,
				m->metric);
	n = rvf_live_count(s);
	if (n != e->vectors)
		return cli_fail("%s: %llu live vectors, the map says %llu (changed since the split)",
				p, (unsigned long long)n, (unsigned long long)e->vectors);
	for (uint64_t k = 0; k < n; k++) {
		const float *v;
		uint64_t vid;

		if ((rc = rvf_live_get(s, k, &vid, &v)))
			return cli_store_fail(rc);
		if (shard_of(m, vid) != i)
			return cli_fail("%s: id %llu belongs to shard %u under the map's %s rule", p,
					(unsigned long long)vid, shard_of(m, vid),
					m->by == SHARD_BY_HASH ? "hash" : "range");
	}
	return CLI_OK;
}

static int merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *mappath, *output = NULL;
	struct shard_map m;
	rvf_store **shards = NULL, *dst = NULL;
	rvf_create_opts co = { 0 };
	rvf_index_stats is = { 0 };
	uint64_t *sel = NULL, total = 0, maxn = 0;
	char mapdir[PATH_MAX];
	int json = 0, opt, rc, err = 0, created = 0;
	rvf_identity id;
	rvf_status st;
	char fid[33];

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			output = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("shard", argv, opt);
		}
	}
	if ((rc = cli_one_path("shard", argc, argv, &mappath)))
		return rc;
	if (!output)
		return cli_usage("shard", "merge needs --output <FILE>");
	if (shardmap_load(mappath, &m))
		return CLI_FAIL;
	{
		const char *slash = strrchr(mappath, '/');
		size_t len = slash ? (size_t)(slash - mappath) : 1;

		if (len >= sizeof mapdir) {
			shardmap_free(&m);
			return cli_fail("%s: path too long", mappath);
		}
		memcpy(mapdir, slash ? mappath : ".", len);
		mapdir[len] = 0;
		if (slash && len == 0)
			strcpy(mapdir, "/");
	}
	shards = calloc(m.nshards, sizeof *shards);
	if (!shards) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (unsigned i = 0; i < m.nshards; i++) {
		if ((rc = open_shard(mapdir, &m, i, &shards[i])))
			goto out;
		total += m.shards[i].vectors;
		if (m.shards[i].vectors > maxn)
			maxn = m.shards[i].vectors;
	}
	co.dimension = m.dimension;
	co.metric = rvf_get_metric(shards[0]);
	if ((err = rvf_get_status(shards[0], &st)) || (err = rvf_get_index_stats(shards[0], &is)))
		goto fail;
	co.profile = st.profile_id;
	sel = malloc((maxn ? maxn : 1) * sizeof *sel);
	if (!sel) {
		err = RVF_E_NOMEM;
		goto fail;
	}
	for (uint64_t k = 0; k < maxn; k++)
		sel[k] = k;
	if ((err = rvf_create(output, &co, &dst)))
		goto fail;
	created = 1;
	err = copy_settings(&is, dst);
	for (unsigned i = 0; !err && i < m.nshards; i++)
		err = copy_slots(shards[i], dst, sel, m.shards[i].vectors);
	if (!err)
		err = copy_index(&is, dst);
	if (!err)
		err = rvf_get_identity(dst, &id);
	if (!err)
		err = rvf_get_status(dst, &st);
	if (err)
		goto fail;
	hex16(id.file_id, fid);
	if (json)
		rc = cli_json_print(json_pack("{s:I, s:s, s:o, s:I, s:I}", "epoch", (json_int_t)st.epoch,
					      "file_id", fid, "output", cli_json_path(output),
					      "shards", (json_int_t)m.nshards,
					      "vectors", (json_int_t)total));
	else
		printf("Merged %u shards (%llu vectors) into %s\n", m.nshards,
		       (unsigned long long)total, output);
	created = 0;
	goto out;
fail:
	rc = err == RVF_E_CORRUPT && !*rvf_last_error()
		     ? cli_fail("%s: a live vector was refused by the output", output)
		     : cli_store_fail(err);
out:
	rvf_close(dst);
	if (created)
		unlink(output);
	for (unsigned i = 0; shards && i < m.nshards; i++)
		rvf_close(shards[i]);
	free(shards);
	free(sel);
	shardmap_free(&m);
	return rc;
}

int cmd_shard(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("shard", "expected a subcommand: split or merge");
	if (!strcmp(argv[1], "split"))
		return split(argc - 1, argv + 1);
	if (!strcmp(argv[1], "merge"))
		return merge(argc - 1, argv + 1);
	return cli_usage("shard", "unrecognized subcommand '%s' (expected split or merge)", argv[1]);
}
