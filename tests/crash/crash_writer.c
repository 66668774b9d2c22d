/* crash_writer.c — writer and checker for tests/integration/crash_kill9.sh.
 *
 *   crash_writer write STORE LOG ROUND SEED
 *       Opens STORE and loops forever over random operations: ingest a batch
 *       of new ids (with metadata), upsert an earlier batch of this round
 *       (re-ingest, also of deleted ids), delete an earlier batch, compact.
 *       Before each call it appends "begin OP" to LOG, after success
 *       "committed EPOCH OP" (one write(2) each, so a SIGKILL never tears a
 *       line). OP is "I gen first n", "D first n" or "C".
 *   crash_writer check STORE LOG
 *       Replays LOG into a model (id -> generation), opens STORE read-only and
 *       requires its live set to be exactly the model, or the model plus the
 *       one operation that was in flight when the writer died (never a part
 *       of it): same ids, vectors f(id, gen) bit for bit and metadata
 *       {0: id, 1: gen}. Appends "resolved 0|1" to LOG for that operation.
 *       With CRASH_INDEX=1 in the environment (the store was created with
 *       --index on) it also requires the HNSW index to load from the file
 *       (present, persisted, no index warning) and its answers to match the
 *       exact scan: recall@10 >= 0.9 over 200 live vectors as queries,
 *       counting a hit by distance so ties cannot fail it.
 * Exit 0 ok, 1 mismatch (details on stderr), 2 usage/setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rvf.h"

#define DIM 8

static void vec_of(uint64_t id, uint32_t gen, float *v)
{
	for (int k = 0; k < DIM; k++)
		v[k] = (float)((id * 7 + (uint64_t)gen * 13 + (uint64_t)k) % 10007) * 0.5f;
}

static int logfd = -1;

__attribute__((format(printf, 1, 2))) static void logline(const char *fmt, ...)
{
	char b[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof b - 1, fmt, ap);
	va_end(ap);
	b[n++] = '\n';
	if (write(logfd, b, (size_t)n) != n) {
		perror("log write");
		exit(2);
	}
}

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((rng >> 33) % n);
}

static int do_write(const char *path, const char *logp, uint32_t round, uint64_t seed)
{
	struct { uint64_t first; uint32_t n; } done[4096];
	size_t ndone = 0;
	rvf_store *s;
	uint32_t op = 0;
	int rc;

	rng = seed * 2654435761u + round;
	logfd = open(logp, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (logfd < 0)
		return perror(logp), 2;
	rc = rvf_open(path, 0, &s);
	if (rc) {
		fprintf(stderr, "open: %s\n", rvf_last_error());
		return 2;
	}
	for (;; op++) {
		uint32_t kind = rnd(100), gen = round * 100000 + op + 1;
		uint64_t ids[64];
		float vecs[64 * DIM];
		rvf_field fl[64][2];
		const rvf_field *fp[64];
		size_t nf[64];

		if (kind < 15 && ndone) {
			uint32_t x = rnd((uint32_t)ndone);
			rvf_delete_result dr;

			for (uint32_t j = 0; j < done[x].n; j++)
				ids[j] = done[x].first + j;
			logline("begin D %" PRIu64 " %u", done[x].first, done[x].n);
			rc = rvf_delete(s, ids, done[x].n, &dr);
			if (rc)
				goto fail;
			logline("committed %u D %" PRIu64 " %u", dr.epoch, done[x].first, done[x].n);
			continue;
		}
		if (kind < 19) {
			rvf_compact_result cr;

			logline("begin C");
			rc = rvf_compact(s, &cr);
			if (rc)
				goto fail;
			logline("committed %u C", cr.epoch);
			continue;
		}
		uint64_t first;
		uint32_t n;

		if (kind < 35 && ndone) { /* upsert an earlier batch (maybe deleted) */
			uint32_t x = rnd((uint32_t)ndone);

			first = done[x].first;
			n = done[x].n;
		} else {
			first = (uint64_t)round * 10000000 + (uint64_t)op * 100;
			n = 1 + rnd(50);
			if (ndone < 4096) {
				done[ndone].first = first;
				done[ndone++].n = n;
			}
		}
		for (uint32_t j = 0; j < n; j++) {
			ids[j] = first + j;
			vec_of(ids[j], gen, vecs + j * DIM);
			fl[j][0] = (rvf_field){ .id = 0, .type = RVF_FIELD_U64, .v.u64 = ids[j] };
			fl[j][1] = (rvf_field){ .id = 1, .type = RVF_FIELD_U64, .v.u64 = gen };
			fp[j] = fl[j];
			nf[j] = 2;
		}
		rvf_ingest_result ir;

		logline("begin I %u %" PRIu64 " %u", gen, first, n);
		rc = rvf_ingest_meta(s, ids, vecs, n, fp, nf, &ir);
		if (rc)
			goto fail;
		logline("committed %u I %u %" PRIu64 " %u", ir.epoch, gen, first, n);
	}
fail:
	fprintf(stderr, "writer: %s: %s\n", rvf_strerror(rc), rvf_last_error());
	return 2;
}

/* ---- model: open-addressing map id -> gen (0 = deleted) ------------------ */
static uint64_t *mkeys;
static uint32_t *mgen;
static size_t mcap, mused;

static size_t slot_of(uint64_t id)
{
	size_t h = (size_t)(id * 0x9E3779B97F4A7C15ULL) & (mcap - 1);

	while (mgen[h] != UINT32_MAX && mkeys[h] != id)
		h = (h + 1) & (mcap - 1);
	return h;
}

static void mset(uint64_t id, uint32_t gen)
{
	if ((mused + 1) * 2 > mcap) {
		uint64_t *ok = mkeys;
		uint32_t *og = mgen;
		size_t oc = mcap;

		mcap = mcap ? mcap * 2 : 1024;
		mkeys = malloc(mcap * sizeof *mkeys);
		mgen = malloc(mcap * sizeof *mgen);
		memset(mgen, 0xff, mcap * sizeof *mgen);
		mused = 0;
		for (size_t i = 0; i < oc; i++)
			if (og[i] != UINT32_MAX) {
				size_t h = slot_of(ok[i]);

				mkeys[h] = ok[i];
				mgen[h] = og[i];
				mused++;
			}
		free(ok);
		free(og);
	}
	size_t h = slot_of(id);

	if (mgen[h] == UINT32_MAX)
		mused++;
	mkeys[h] = id;
	mgen[h] = gen;
}

static uint32_t mget(uint64_t id)
{
	size_t h;

	if (!mcap)
		return 0;
	h = slot_of(id);
	return mgen[h] == UINT32_MAX ? 0 : mgen[h];
}

struct op {
	char kind; /* 0 none, 'I', 'D', 'C' */
	uint32_t gen, n;
	uint64_t first;
};

static void apply(const struct op *o)
{
	for (uint32_t j = 0; o->kind != 'C' && j < o->n; j++)
		mset(o->first + j, o->kind == 'I' ? o->gen : 0);
}

static int parse_op(const char *p, struct op *o)
{
	memset(o, 0, sizeof *o);
	if (*p == 'C') {
		o->kind = 'C';
		return 0;
	}
	if (*p == 'I' && sscanf(p + 1, "%u %" SCNu64 " %u", &o->gen, &o->first, &o->n) == 3) {
		o->kind = 'I';
		return 0;
	}
	if (*p == 'D' && sscanf(p + 1, "%" SCNu64 " %u", &o->first, &o->n) == 2) {
		o->kind = 'D';
		return 0;
	}
	return -1;
}

/* Gen the store should have for id under the model, with or without `p`. */
static uint32_t want_gen(uint64_t id, const struct op *p, int with)
{
	if (with && (p->kind == 'I' || p->kind == 'D') && id >= p->first && id < p->first + p->n)
		return p->kind == 'I' ? p->gen : 0;
	return mget(id);
}

static uint64_t want_live(const struct op *p, int with)
{
	uint64_t live = 0;

	for (size_t i = 0; i < mcap; i++)
		if (mgen[i] != UINT32_MAX && mgen[i])
			live++;
	if (with && (p->kind == 'I' || p->kind == 'D'))
		for (uint32_t j = 0; j < p->n; j++) {
			uint64_t id = p->first + j;

			live -= mget(id) != 0;
			live += p->kind == 'I';
		}
	return live;
}

/* 0 if the store equals the model (with/without p), else -1 with `why`. */
static int compare(rvf_store *s, const struct op *p, int with, char *why, size_t wl)
{
	uint64_t n = rvf_live_count(s), want = want_live(p, with), id;
	const float *v;
	float ex[DIM];

	if (n != want) {
		snprintf(why, wl, "live count %" PRIu64 ", expected %" PRIu64, n, want);
		return -1;
	}
	for (uint64_t i = 0; i < n; i++) {
		const rvf_field *f;
		size_t nf;
		uint32_t g;

		if (rvf_live_get(s, i, &id, &v)) {
			snprintf(why, wl, "live_get %" PRIu64 ": %s", i, rvf_last_error());
			return -1;
		}
		g = want_gen(id, p, with);
		if (!g) {
			snprintf(why, wl, "id %" PRIu64 " is live but should not be", id);
			return -1;
		}
		vec_of(id, g, ex);
		if (memcmp(ex, v, sizeof ex)) {
			snprintf(why, wl, "id %" PRIu64 ": vector is not generation %u", id, g);
			return -1;
		}
		if (rvf_get_meta(s, id, &f, &nf) || nf != 2 || f[0].id != 0 || f[0].v.u64 != id ||
		    f[1].id != 1 || f[1].v.u64 != g) {
			snprintf(why, wl, "id %" PRIu64 ": metadata is not {0: id, 1: %u}", id, g);
			return -1;
		}
	}
	return 0;
}

static int check_index(rvf_store *s, char *why, size_t wl, double *recall);

static int do_check(const char *path, const char *logp)
{
	FILE *f = fopen(logp, "r");
	struct op pend = { 0 }, o;
	char line[256], w1[300], w2[300];
	uint32_t last_epoch = 0, e;
	unsigned long ncommit = 0;
	rvf_store *s;
	rvf_status st;
	int rc, a, b;

	if (!f && errno != ENOENT)
		return perror(logp), 2;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "begin ", 6)) {
			if (pend.kind) {
				fprintf(stderr, "log: unresolved op before '%s'\n", line);
				return 2;
			}
			if (parse_op(line + 6, &pend))
				return fprintf(stderr, "log: bad line '%s'\n", line), 2;
		} else if (sscanf(line, "committed %u", &e) == 1) {
			if (parse_op(strchr(line + 10, ' ') + 1, &o) || !pend.kind)
				return fprintf(stderr, "log: bad line '%s'\n", line), 2;
			apply(&pend);
			pend.kind = 0;
			last_epoch = e;
			ncommit++;
		} else if (!strcmp(line, "resolved 1")) {
			apply(&pend);
			pend.kind = 0;
		} else if (!strcmp(line, "resolved 0")) {
			pend.kind = 0;
		} else {
			return fprintf(stderr, "log: bad line '%s'\n", line), 2;
		}
	}
	if (f)
		fclose(f);
	rc = rvf_open(path, RVF_OPEN_READONLY, &s);
	if (rc) {
		fprintf(stderr, "FAIL: the store does not open after the kill: %s: %s\n",
			rvf_strerror(rc), rvf_last_error());
		return 1;
	}
	if (*rvf_open_warning(s))
		printf("warning: %s\n", rvf_open_warning(s));
	rvf_get_status(s, &st);
	if (st.epoch < last_epoch) {
		fprintf(stderr, "FAIL: epoch %u is older than the last committed epoch %u\n",
			st.epoch, last_epoch);
		rvf_close(s);
		return 1;
	}
	double recall = -1;
	a = compare(s, &pend, 0, w1, sizeof w1);
	b = pend.kind ? compare(s, &pend, 1, w2, sizeof w2) : -1;
	const char *ci = getenv("CRASH_INDEX");
	if (ci && !strcmp(ci, "1") && check_index(s, w1, sizeof w1, &recall)) {
		fprintf(stderr, "FAIL: %s\n", w1);
		rvf_close(s);
		return 1;
	}
	rvf_close(s);
	if (a && b) {
		fprintf(stderr, "FAIL: store state is neither the %lu committed operations (%s)%s%s\n",
			ncommit, w1, pend.kind ? " nor those plus the in-flight one: " : "",
			pend.kind ? w2 : "");
		return 1;
	}
	if (pend.kind) {
		logfd = open(logp, O_WRONLY | O_APPEND);
		logline("resolved %d", a ? 1 : 0);
		close(logfd);
	}
	printf("ok epoch %u, %lu committed ops%s\n", st.epoch, ncommit,
	       pend.kind ? (a ? ", in-flight op applied" : ", in-flight op absent") : "");
	if (recall >= 0)
		printf("index recall %.3f\n", recall);
	return 0;
}

/* The index survived the kill: loaded (not rebuilt, no warning) and it
 * answers like the exact scan. 0 ok, 1 fail (reason in why); *recall gets
 * recall@10 at efSearch 200 over 200 queries (a hit counted by distance so
 * ties cannot fail it). The bar is the graph being whole: a lost or cut list
 * set loses far more. These 8-d vectors lie on one line with interleaved
 * families, HNSW's hardest case: a fresh `rvf index` of such a store
 * measured 0.93-1.0, the graphs kills leave 0.99-1.0 (docs/index.md). */
static int check_index(rvf_store *s, char *why, size_t wl, double *recall)
{
	rvf_index_stats is;
	uint64_t live = rvf_live_count(s);
	if (strstr(rvf_open_warning(s), "INDEX"))
		return snprintf(why, wl, "index warning: %s", rvf_open_warning(s)), 1;
	rvf_get_index_stats(s, &is);
	if (!live)
		return 0;
	if (!is.present || !is.persisted)
		return snprintf(why, wl, "index present %d persisted %d with %" PRIu64 " live vectors", is.present,
				is.persisted, live), 1;
	size_t hit = 0, tot = 0;
	for (uint64_t q = 0; q < 200 && q < live; q++) {
		uint64_t id;
		const float *v;
		float qv[DIM];
		rvf_hit ex[10], ix[10];
		size_t ne = 0, ni = 0;
		if (rvf_live_get(s, q * live / 200, &id, &v))
			return snprintf(why, wl, "live_get failed"), 1;
		for (int k = 0; k < DIM; k++)
			qv[k] = v[k] + 0.25f;
		rvf_query_opts oe = { .k = 10, .exact = 1 }, oi = { .k = 10, .ef_search = 200 };
		if (rvf_query_ex(s, qv, DIM, &oe, ex, &ne) || rvf_query_ex(s, qv, DIM, &oi, ix, &ni))
			return snprintf(why, wl, "query failed: %s", rvf_last_error()), 1;
		for (size_t j = 0; j < ni; j++)
			hit += ne && ix[j].distance <= ex[ne - 1].distance;
		tot += ne;
	}
	*recall = tot ? (double)hit / (double)tot : 1.0;
	if (*recall < 0.9)
		return snprintf(why, wl, "index recall@10 %zu of %zu vs the exact scan", hit, tot), 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "write"))
		return do_write(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 10),
				strtoull(argv[5], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "check"))
		return do_check(argv[2], argv[3]);
	fprintf(stderr, "usage: crash_writer write STORE LOG ROUND SEED | check STORE LOG\n");
	return 2;
}
