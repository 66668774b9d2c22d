/* shardmap.c — read, check and write the shard map file (shardmap.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "shardmap.h"

uint64_t shard_hash(uint64_t id)
{
	uint64_t z = id + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned shard_of(const struct shard_map *m, uint64_t id)
{
	unsigned lo = 0, hi = m->nshards - 1;

	if (m->by == SHARD_BY_HASH)
		return (unsigned)(shard_hash(id) % m->nshards);
	while (lo < hi) { /* the last shard whose id_lo <= id */
		unsigned mid = lo + (hi - lo + 1) / 2;

		if (m->shards[mid].id_lo <= id)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

void shardmap_free(struct shard_map *m)
{
	free(m->shards);
	m->shards = NULL;
}

static int bad(const char *path, const char *why, const char *what)
{
	cli_fail("%s: not a valid shard map: %s%s%s", path, why, what ? " " : "", what ? what : "");
	return -1;
}

static int is_hex32(const char *s)
{
	if (strlen(s) != 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A string field copied into buf (cap bytes incl. NUL). */
static int get_str(const json_t *o, const char *key, char *buf, size_t cap, int optional)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return optional ? 0 : -1;
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_uint(const json_t *o, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* An id bound: a decimal string 0..2^64-1 (JSON numbers lose u64 precision
 * in most parsers). */
static int get_u64_str(const json_t *o, const char *key, uint64_t *out)
{
	char buf[32];

	if (get_str(o, key, buf, sizeof buf, 0))
		return -1;
	return cli_parse_u64(buf, out);
}

static int load_shard(const char *path, const json_t *o, unsigned i, struct shard_map *m)
{
	struct shard_entry *e = &m->shards[i];
	uint64_t v;

	if (!json_is_object(o))
		return bad(path, "a shard entry is not an object", NULL);
	if (get_uint(o, "index", SHARDMAP_MAX_SHARDS, &v) || v != i)
		return bad(path, "\"index\" missing or out of order in shard", NULL);
	e->index = i;
	if (get_str(o, "file", e->file, sizeof e->file, 0) || !e->file[0] ||
	    strchr(e->file, '/') || !strcmp(e->file, ".") || !strcmp(e->file, ".."))
		return bad(path, "\"file\" must be a plain file name beside the map", NULL);
	if (get_str(o, "file_id", e->file_id, sizeof e->file_id, 0) || !is_hex32(e->file_id))
		return bad(path, "\"file_id\" must be 32 lowercase hex digits", NULL);
	if (get_uint(o, "vectors", INT64_MAX, &e->vectors))
		return bad(path, "\"vectors\" missing or not a count", NULL);
	if (get_str(o, "addr", e->addr, sizeof e->addr, 1))
		return bad(path, "\"addr\" must be a \"HOST:PORT\" string", NULL);
	if (m->by == SHARD_BY_RANGE &&
	    (get_u64_str(o, "id_lo", &e->id_lo) || get_u64_str(o, "id_hi", &e->id_hi) ||
	     e->id_lo > e->id_hi))
		return bad(path, "\"id_lo\"/\"id_hi\" must be decimal strings with id_lo <= id_hi",
			   NULL);
	return 0;
}

int shardmap_load(const char *path, struct shard_map *m)
{
	json_t *j = cli_json_load(path), *src, *arr;
	char by[8] = "", fmt[32] = "";
	uint64_t v;
	int rc = -1;

	memset(m, 0, sizeof *m);
	if (!j)
		return -1;
	if (!json_is_object(j)) {
		bad(path, "the top level is not an object", NULL);
		goto out;
	}
	if (get_str(j, "format", fmt, sizeof fmt, 0) || strcmp(fmt, "rvf-shard-map") ||
	    get_uint(j, "version", UINT32_MAX, &v) || v != SHARDMAP_VERSION) {
		bad(path, "expected \"format\": \"rvf-shard-map\", \"version\": 1", NULL);
		goto out;
	}
	if (get_str(j, "by", by, sizeof by, 0) || (strcmp(by, "hash") && strcmp(by, "range"))) {
		bad(path, "\"by\" must be \"hash\" or \"range\"", NULL);
		goto out;
	}
	m->by = by[0] == 'h' ? SHARD_BY_HASH : SHARD_BY_RANGE;
	if (get_uint(j, "dimension", 65535, &v) || v == 0) {
		bad(path, "\"dimension\" must be 1..65535", NULL);
		goto out;
	}
	m->dimension = (uint32_t)v;
	if (get_str(j, "metric", m->metric, sizeof m->metric, 0)) {
		bad(path, "\"metric\" missing", NULL);
		goto out;
	}
	src = json_object_get(j, "source");
	if (!json_is_object(src) ||
	    get_str(src, "file_id", m->source_file_id, sizeof m->source_file_id, 0) ||
	    !is_hex32(m->source_file_id) ||
	    get_str(src, "path", m->source_path, sizeof m->source_path, 0) ||
	    get_uint(src, "vectors", INT64_MAX, &m->source_vectors)) {
		bad(path, "\"source\" needs \"file_id\" (32 hex digits), \"path\", \"vectors\"", NULL);
		goto out;
	}
	arr = json_object_get(j, "shards");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > SHARDMAP_MAX_SHARDS) {
		bad(path, "\"shards\" must be an array of 1..1024 entries", NULL);
		goto out;
	}
	m->nshards = (unsigned)json_array_size(arr);
	m->shards = calloc(m->nshards, sizeof *m->shards);
	if (!m->shards) {
		cli_fail("out of memory");
		goto out;
	}
	for (unsigned i = 0; i < m->nshards; i++)
		if (load_shard(path, json_array_get(arr, i), i, m))
			goto out;
	for (unsigned i = 0; i < m->nshards; i++)
		for (unsigned k = i + 1; k < m->nshards; k++)
			if (!strcmp(m->shards[i].file, m->shards[k].file) ||
			    !strcmp(m->shards[i].file_id, m->shards[k].file_id)) {
				bad(path, "two shards name the same file or file_id", NULL);
				goto out;
			}
	if (m->by == SHARD_BY_RANGE) {
		/* Contiguous, ascending, covering every u64 id exactly once. */
		int ok = m->shards[0].id_lo == 0 && m->shards[m->nshards - 1].id_hi == UINT64_MAX;

		for (unsigned i = 1; ok && i < m->nshards; i++)
			ok = m->shards[i - 1].id_hi != UINT64_MAX &&
			     m->shards[i].id_lo == m->shards[i - 1].id_hi + 1;
		if (!ok) {
			bad(path, "the id ranges must be contiguous from 0 to 18446744073709551615",
			    NULL);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		shardmap_free(m);
	json_decref(j);
	return rc;
}

static json_t *u64_str(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return json_string(buf);
}

static json_t *to_json(const struct shard_map *m)
{
	json_t *j = json_object(), *arr = json_array(), *src = json_object();

	if (!j || !arr || !src) {
		json_decref(j);
		json_decref(arr);
		json_decref(src);
		return NULL;
	}
	json_object_set_new(j, "format", json_string("rvf-shard-map"));
	json_object_set_new(j, "version", json_integer(SHARDMAP_VERSION));
	json_object_set_new(j, "by", json_string(m->by == SHARD_BY_HASH ? "hash" : "range"));
	if (m->by == SHARD_BY_HASH)
		json_object_set_new(j, "hash", json_string("splitmix64(id) % shards"));
	json_object_set_new(j, "dimension", json_integer(m->dimension));
	json_object_set_new(j, "metric", json_string(m->metric));
	json_object_set_new(src, "file_id", json_string(m->source_file_id));
	json_object_set_new(src, "path", cli_json_path(m->source_path));
	json_object_set_new(src, "vectors", json_integer((json_int_t)m->source_vectors));
	json_object_set_new(j, "source", src);
	for (unsigned i = 0; i < m->nshards; i++) {
		const struct shard_entry *e = &m->shards[i];
		json_t *o = json_object();

		if (!o) {
			json_decref(arr);
			json_decref(j);
			return NULL;
		}
		json_object_set_new(o, "index", json_integer(e->index));
		json_object_set_new(o, "file", cli_json_path(e->file));
		json_object_set_new(o, "file_id", json_string(e->file_id));
		json_object_set_new(o, "vectors", json_integer((json_int_t)e->vectors));
		if (e->addr[0])
			json_object_set_new(o, "addr", json_string(e->addr));
		if (m->by == SHARD_BY_RANGE) {
			json_object_set_new(o, "id_lo", u64_str(e->id_lo));
			json_object_set_new(o, "id_hi", u64_str(e->id_hi));
		}
		json_array_append_new(arr, o);
	}
	json_object_set_new(j, "shards", arr);
	return j;
}

int shardmap_save(const char *path, const struct shard_map *m)
{
	json_t *j = to_json(m);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	char tmp[4200];
	size_t len;
	int fd, err = 0;

	json_decref(j);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
		free(text);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	for (size_t off = 0; !err && off <= len;) {
		/* the text, then its newline */
		const char *p = off < len ? text + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			err = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	free(text);
	return err;
}
