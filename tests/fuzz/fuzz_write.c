/* fuzz_write.c — libFuzzer harness for the write paths on arbitrary files.
 * fuzz-seeds: rvf (the shared corpus/fixtures, plus tests/fuzz/seeds/fuzz_write)
 *
 * The input is written to sub/child.rvf in a private tmpfs directory that
 * also holds COW parents: parent.rvf (made here: dim 8, ids 0..9) beside it
 * and the reference fixtures' f_cow_parent.rvf / ../f_cow2_parent.rvf, so
 * mutated branches (tests/fuzz/seeds/fuzz_write) resolve their parent. If
 * the file opens for writing, every writer runs on it: ingest with metadata
 * (a new id and an upsert), delete, delete by filter, a membership change,
 * a query through the index and the quantizer, compaction, freeze. Then:
 *   - every failed call left a code and a message, and none ran out of
 *     memory (sizes come from a file of at most 256 KiB);
 *   - the file reopens (read-only) after the writes, with the live count
 *     the writer ended with when every write succeeded.
 * Inputs over 256 KiB are skipped (the large corpus files only slow it). */
#include "rvf.h"
#include "fuzz_util.h"

#define MAX_INPUT (256u << 10)
#define PDIM 8

static char child[300];
static rvf_filter *filt;

static void copy_fixture(const char *name, const char *to)
{
	const char *shared = getenv("RVF_SHARED") ? getenv("RVF_SHARED") : "../shared";
	char from[512];
	snprintf(from, sizeof from, "%s/spec/fixtures/ref/%s", shared, name);
	FILE *f = fopen(from, "rb");
	if (!f)
		return; /* no fixtures: those branches just fail to open */
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	fz_write_file(to, buf, n);
}

static void make_parent(const char *path)
{
	rvf_create_opts o = {.dimension = PDIM, .metric = RVF_METRIC_L2};
	rvf_store *s;
	if (rvf_create(path, &o, &s))
		abort();
	uint64_t ids[10];
	float v[10 * PDIM];
	for (int i = 0; i < 10; i++) {
		ids[i] = (uint64_t)i;
		for (int d = 0; d < PDIM; d++)
			v[i * PDIM + d] = (float)((i * 7 + d * 3) % 11) - 5.0f;
	}
	if (rvf_ingest(s, ids, v, 10, NULL))
		abort();
	rvf_close(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *wd = fz_workdir();
	char p[400];
	snprintf(p, sizeof p, "%s/sub", wd);
	if (mkdir(p, 0700))
		abort();
	snprintf(p, sizeof p, "%s/sub/parent.rvf", wd);
	make_parent(p);
	snprintf(p, sizeof p, "%s/sub/f_cow_parent.rvf", wd);
	copy_fixture("f_cow_parent.rvf", p);
	snprintf(p, sizeof p, "%s/f_cow2_parent.rvf", wd);
	copy_fixture("f_cow2_parent.rvf", p);
	snprintf(child, sizeof child, "%s/sub/child.rvf", wd);
	if (rvf_filter_parse("{\"eq\":{\"field\":0,\"value\":5}}", &filt))
		abort();
	/* RVF_FUZZ_MKSEED=DIR: write the seed branches (a fresh branch of
	 * parent.rvf, and one with own writes, deletes and a membership change)
	 * to DIR and exit; they are committed in tests/fuzz/seeds/fuzz_write. */
	const char *mk = getenv("RVF_FUZZ_MKSEED");
	if (mk) {
		rvf_store *par, *c;
		snprintf(p, sizeof p, "%s/sub/parent.rvf", wd);
		if (rvf_open(p, RVF_OPEN_READONLY, &par) || rvf_derive(par, child, 1, &c))
			abort();
		rvf_close(c);
		char out[600];
		snprintf(out, sizeof out, "cp '%s' '%s/branch_fresh.rvf'", child, mk);
		if (system(out))
			abort();
		if (rvf_open(child, 0, &c))
			abort();
		uint64_t id[2] = {3, 42};
		float v[2 * PDIM] = {1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1};
		rvf_field f = {.id = 0, .type = RVF_FIELD_U64, .v.u64 = 5};
		const rvf_field *fs[2] = {&f, &f};
		size_t nf[2] = {1, 1};
		uint64_t hide = 7, del = 4;
		if (rvf_ingest_meta(c, id, v, 2, fs, nf, NULL) || rvf_delete(c, &del, 1, NULL) ||
		    rvf_membership(c, &hide, 1, 0) || rvf_index_build(c, 0, 0))
			abort();
		rvf_close(c);
		snprintf(out, sizeof out, "cp '%s' '%s/branch_edited.rvf'", child, mk);
		if (system(out))
			abort();
		rvf_close(par);
		exit(0);
	}
	return 0;
}

static int fails = 0;

/* A failed call must say why; out of memory on an input of at most 256 KiB
 * means a size was computed from garbage. */
static int chk(int rc)
{
	if (rc != RVF_OK) {
		if (rc > 0 || !*rvf_last_error() || !*rvf_strerror(rc))
			abort();
		if (rc == RVF_E_NOMEM) {
			fprintf(stderr, "fuzz_write: out of memory: %s\n", rvf_last_error());
			abort();
		}
		/* refusals (a frozen file, compacting a branch) write nothing */
		if (rc != RVF_E_READONLY && rc != RVF_E_UNSUPPORTED)
			fails++;
	}
	return rc;
}

static void write_all(rvf_store *s, int freeze)
{
	uint32_t dim = rvf_dimension(s);
	if (dim == 0 || dim > 4096)
		return;
	float *v = calloc(2 * (size_t)dim, sizeof *v);
	if (!v)
		abort();
	for (uint32_t d = 0; d < 2 * dim; d++)
		v[d] = (float)(d % 5) - 2.0f;
	uint64_t ids[2] = {1, 777777};
	rvf_field f[2] = {{.id = 0, .type = RVF_FIELD_U64, .v.u64 = 5},
			  {.id = 1, .type = RVF_FIELD_STRING, .v.str = {"fz", 2}}};
	const rvf_field *fs[2] = {f, NULL};
	size_t nf[2] = {2, 0};
	rvf_ingest_result ir;
	chk(rvf_ingest_meta(s, ids, v, 2, fs, nf, &ir));
	const rvf_field *got;
	size_t ng;
	if (rvf_get_meta(s, 1, &got, &ng) == RVF_OK)
		for (size_t i = 0; i < ng; i++)
			if (got[i].type == RVF_FIELD_STRING)
				fz_touch(got[i].v.str.ptr, got[i].v.str.len);
	uint64_t del[2] = {2, 777777};
	rvf_delete_result dr;
	chk(rvf_delete(s, del, 2, &dr));
	chk(rvf_delete_filter(s, filt, &dr));
	uint64_t hide = 3;
	chk(rvf_membership(s, &hide, 1, 0)); /* RVF_E_UNSUPPORTED unless a branch */
	rvf_hit hits[5];
	size_t n;
	rvf_query_opts qo = {.k = 5};
	chk(rvf_query_ex(s, v, dim, &qo, hits, &n));
	qo.quant = 1;
	chk(rvf_query_ex(s, v, dim, &qo, hits, &n));
	rvf_compact_result cr;
	chk(rvf_compact(s, &cr));
	if (freeze)
		chk(rvf_freeze(s));
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	fz_write_file(child, data, size);
	rvf_store *s = NULL;
	int rc = rvf_open(child, 0, &s);
	if (rc != RVF_OK) {
		if (rc > 0 || s || !*rvf_last_error())
			abort();
		return 0;
	}
	fails = 0;
	write_all(s, size & 1);
	uint64_t live = rvf_live_count(s);
	rvf_close(s);
	rc = rvf_open(child, RVF_OPEN_READONLY, &s);
	if (rc != RVF_OK) {
		fprintf(stderr, "fuzz_write: reopen after the writes failed: %s\n", rvf_last_error());
		abort();
	}
	if (!fails && rvf_live_count(s) != live) {
		fprintf(stderr, "fuzz_write: %llu live vectors after reopen, the writer had %llu\n",
			(unsigned long long)rvf_live_count(s), (unsigned long long)live);
		abort();
	}
	rvf_close(s);
	return 0;
}
