/* cli_admin.c — read-only reports: `rvf status`, `rvf inspect`, `rvf segments`.
 * Both open the store read-only, so they work beside an active writer. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* Parses `CMD PATH [--json]` and opens PATH read-only. */
static int open_ro(const char *cmd, int argc, char **argv, int *json, rvf_store **s,
		   rvf_status *st, const char **path)
{
	int opt, rc;

	opterr = 0;
	optind = 0;
	*json = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt != OPT_JSON)
			return cli_bad_option(cmd, argv, opt);
		*json = 1;
	}
	if ((rc = cli_one_path(cmd, argc, argv, path)))
		return rc;
	if ((rc = cli_open_store(*path, RVF_OPEN_READONLY, s)))
		return rc;
	if ((rc = rvf_get_status(*s, st))) {
		rc = cli_store_fail(rc);
		rvf_close(*s);
		*s = NULL;
	}
	return rc;
}

/* Keys shared by status and inspect. */
static json_t *common_json(const rvf_status *st)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "dimension", json_integer(st->dimension));
	json_object_set_new(o, "epoch", json_integer(st->epoch));
	json_object_set_new(o, "file_size", cli_json_u64(st->file_size));
	json_object_set_new(o, "metric", json_string(rvf_metric_name(st->metric)));
	json_object_set_new(o, "total_segments", cli_json_u64(st->total_segments));
	json_object_set_new(o, "total_vectors", cli_json_u64(st->total_vectors));
	return o;
}

/* Index stats for `status --json` (null when the store has no index). */
static json_t *index_json(const rvf_store *s)
{
	rvf_index_stats is;
	if (rvf_get_index_stats(s, &is) || !is.present)
		return json_null();
	json_t *o = json_object();
	if (!o)
		return json_null();
	json_object_set_new(o, "checkpoint_bytes", cli_json_u64(is.checkpoint_bytes));
	json_object_set_new(o, "log_bytes", cli_json_u64(is.log_bytes));
	json_object_set_new(o, "log_segments", json_integer(is.log_segments));
	json_object_set_new(o, "nodes", cli_json_u64(is.nodes));
	json_object_set_new(o, "m", json_integer(is.m));
	json_object_set_new(o, "ef_construction", json_integer(is.ef_construction));
	json_object_set_new(o, "max_level", json_integer(is.max_level));
	json_object_set_new(o, "persisted", json_boolean(is.persisted));
	json_object_set_new(o, "memory_bytes", cli_json_u64(is.memory_bytes));
	return o;
}

int cmd_status(int argc, char **argv)
{
	const char *path = NULL;
	rvf_store *s = NULL;
	rvf_status st;
	json_t *o;
	int json, rc;

	rc = open_ro("status", argc, argv, &json, &s, &st, &path);
	if (rc)
		return rc;
	if (json) {
		o = common_json(&st);
		if (o) {
			rvf_index_stats is;
			rvf_get_index_stats(s, &is);
			json_object_set_new(o, "dead_bytes", cli_json_u64(st.dead_bytes));
			json_object_set_new(o, "dead_space_ratio", cli_json_real(st.dead_space_ratio));
			json_object_set_new(o, "ef_search", json_integer(is.ef_search ? is.ef_search : 64));
			json_object_set_new(o, "index_policy", json_string(cli_index_policy_name(is.policy)));
			json_object_set_new(o, "index_rebuild_needed", json_boolean(is.rebuild_needed));
			json_object_set_new(o, "profile_id", json_integer(st.profile_id));
			json_object_set_new(o, "read_only", json_boolean(st.read_only));
			json_object_set_new(o, "frozen", json_boolean(st.frozen));
			json_object_set_new(o, "visible_vectors", cli_json_u64(st.visible_vectors));
			json_object_set_new(o, "index", index_json(s));
		}
		rc = cli_json_print(o);
	} else {
		printf("RVF Store: %s\n", path);
		cli_kv("Vectors", "%llu", (unsigned long long)st.total_vectors);
		cli_kv("Segments", "%llu", (unsigned long long)st.total_segments);
		cli_kv("File size", "%llu bytes", (unsigned long long)st.file_size);
		cli_kv("Epoch", "%u", st.epoch);
		cli_kv("Profile", "%u", st.profile_id);
		cli_kv("Dead space", "%.1f%%", st.dead_space_ratio * 100.0);
		/* Not in the reference's text, appended so its lines keep their places. */
		cli_kv("Dimension", "%u", st.dimension);
		cli_kv("Metric", "%s", rvf_metric_name(st.metric));
		cli_kv("Dead bytes", "%llu", (unsigned long long)st.dead_bytes);
		if (st.inherited_vectors)
			cli_kv("Visible vectors", "%llu (%llu own + %llu from the parent)",
			       (unsigned long long)st.visible_vectors, (unsigned long long)st.total_vectors,
			       (unsigned long long)(st.visible_vectors - st.total_vectors));
		cli_kv("Frozen", "%s", st.frozen ? "yes (every writer refuses)" : "no");
		rvf_index_stats is;
		rvf_get_index_stats(s, &is);
		if (is.present)
			cli_kv("Index", "HNSW, %llu nodes, M %u, efC %u, %u levels, %s (checkpoint %llu B + log %llu B "
			       "in %u segments)",
			       (unsigned long long)is.nodes, is.m, is.ef_construction, is.max_level + 1,
			       is.persisted ? "persisted" : "not persisted", (unsigned long long)is.checkpoint_bytes,
			       (unsigned long long)is.log_bytes, is.log_segments);
		else if (is.rebuild_needed)
			cli_kv("Index", "unusable, rebuild needed (the next ingest or rvf index rebuilds it; "
			       "exact scan until then)");
		else
			cli_kv("Index", "none (exact scan)");
		cli_kv("Index policy", "%s, ef_search %u", cli_index_policy_name(is.policy),
		       is.ef_search ? is.ef_search : 64);
	}
	rvf_close(s);
	return rc;
}

static int identity_is_root(const rvf_identity *id)
{
	static const uint8_t zero[16];

	return id->lineage_depth == 0 && !memcmp(id->parent_id, zero, sizeof zero);
}

static void hex(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static json_t *segments_json(const rvf_store *s)
{
	json_t *arr = json_array();
	rvf_segment_info si;
	size_t i, n = rvf_segment_count(s);

	for (i = 0; arr && i < n; i++) {
		if (rvf_segment_get(s, i, &si))
			continue;
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:i, s:s}",
			"offset", cli_json_u64(si.offset),
			"payload_length", cli_json_u64(si.payload_length),
			"seg_id", cli_json_u64(si.seg_id),
			"seg_type", (int)si.seg_type,
			"seg_type_name", rvf_segment_type_name(si.seg_type)));
	}
	return arr;
}

static json_t *lineage_json(const rvf_identity *id)
{
	return json_pack("{s:o, s:b, s:I, s:o, s:o}",
			 "file_id", cli_json_hex(id->file_id, sizeof id->file_id),
			 "is_root", identity_is_root(id),
			 "lineage_depth", (json_int_t)id->lineage_depth,
			 "parent_hash", cli_json_hex(id->parent_hash, sizeof id->parent_hash),
			 "parent_id", cli_json_hex(id->parent_id, sizeof id->parent_id));
}

static void inspect_text(const char *path, const rvf_store *s, const rvf_status *st,
			 const rvf_identity *id)
{
	rvf_segment_info si;
	size_t i, n = rvf_segment_count(s);

	printf("RVF Store: %s\n", path);
	cli_kv("Dimension", "%u", st->dimension);
	cli_kv("Metric", "%s", rvf_metric_name(st->metric));
	cli_kv("Epoch", "%u", st->epoch);
	cli_kv("Vectors", "%llu", (unsigned long long)st->total_vectors);
	cli_kv("File size", "%llu bytes", (unsigned long long)st->file_size);
	printf("Segments (%zu):\n", n);
	for (i = 0; i < n; i++) {
		if (rvf_segment_get(s, i, &si))
			continue;
		printf("  seg_id=%llu  type=%s  offset=%llu  payload=%llu bytes\n",
		       (unsigned long long)si.seg_id, rvf_segment_type_name(si.seg_type),
		       (unsigned long long)si.offset, (unsigned long long)si.payload_length);
	}
	printf("Lineage:\n");
	printf("  %-20s ", "File ID:");
	hex(id->file_id, sizeof id->file_id);
	printf("\n  %-20s ", "Parent ID:");
	hex(id->parent_id, sizeof id->parent_id);
	printf("\n  %-20s ", "Parent hash:");
	hex(id->parent_hash, sizeof id->parent_hash);
	putchar('\n');
	cli_kv("Lineage depth", "%u", id->lineage_depth);
	cli_kv("Is root", "%s", identity_is_root(id) ? "true" : "false");
}

/* `rvf segments PATH`: the current manifest's directory, as the npm CLI's
 * `segments` lists it (also in `inspect`). */
int cmd_segments(int argc, char **argv)
{
	const char *path = NULL;
	rvf_store *s = NULL;
	rvf_status st;
	rvf_segment_info si;
	int json, rc;

	rc = open_ro("segments", argc, argv, &json, &s, &st, &path);
	if (rc)
		return rc;
	if (json) {
		rc = cli_json_print(segments_json(s));
	} else {
		size_t n = rvf_segment_count(s);
		printf("Segments (%zu):\n", n);
		for (size_t i = 0; i < n; i++)
			if (!rvf_segment_get(s, i, &si))
				printf("  [%zu] type=0x%02x %-10s seg_id=%llu offset=%llu size=%llu\n", i,
				       si.seg_type, rvf_segment_type_name(si.seg_type),
				       (unsigned long long)si.seg_id, (unsigned long long)si.offset,
				       (unsigned long long)si.payload_length);
	}
	rvf_close(s);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	const char *path = NULL;
	rvf_store *s = NULL;
	rvf_identity id;
	rvf_status st;
	json_t *o;
	int json, rc;

	rc = open_ro("inspect", argc, argv, &json, &s, &st, &path);
	if (rc)
		return rc;
	rc = rvf_get_identity(s, &id);
	if (rc) {
		rc = cli_store_fail(rc);
		goto out;
	}
	if (json) {
		o = common_json(&st);
		if (o) {
			json_object_set_new(o, "path", cli_json_path(path));
			json_object_set_new(o, "segments", segments_json(s));
			json_object_set_new(o, "lineage", lineage_json(&id));
		}
		rc = cli_json_print(o);
	} else {
		inspect_text(path, s, &st, &id);
	}
out:
	rvf_close(s);
	return rc;
}
