/* fuzz_input.c — libFuzzer harness for the readers of `rvf ingest`
 * (user/cli/input_*.c: JSON array, JSON lines, CSV, TSV, .npy) and the
 * .npy loader of batch `rvf query` (user/cli/npy.c).
 *
 * Input byte 0 picks the format (and an npy id offset), the rest is the
 * file, read through a memfd. Every row is checked (a vector of the row's
 * dimension, every component read, metadata strings inside their block),
 * at most 20000 rows; an error must leave a message. The input is then
 * rewound and read again: the same rows (ids, dimensions, vectors, count,
 * outcome). For npy the whole-file loader must agree with the streaming
 * reader on the row count and the values. */
#include "fuzz_util.h"
#include "input.h"
#include "npy.h"

#define MAXROWS 20000

typedef struct {
	uint64_t n, idsum, dimsum;
	uint32_t vsum;
	int rc;
	char err[256];
} pass_t;

static void check_row(const struct in_row *row)
{
	fz_touch(row->vec, row->dim * sizeof(float));
	for (size_t i = 0; i < row->nfields; i++)
		if (row->fields[i].type == RVF_FIELD_STRING)
			fz_touch(row->fields[i].v.str.ptr, row->fields[i].v.str.len);
}

static void read_all(struct in_reader *r, pass_t *p)
{
	memset(p, 0, sizeof *p);
	struct in_row row;
	while (p->n < MAXROWS && (p->rc = in_next(r, &row, p->err, sizeof p->err)) == 1) {
		check_row(&row);
		p->n++;
		p->idsum += row.id * 31 + p->n;
		p->dimsum += row.dim;
		for (size_t d = 0; d < row.dim; d++) {
			uint32_t u;
			memcpy(&u, &row.vec[d], 4);
			p->vsum = p->vsum * 33 + u;
		}
		free(row.fields);
	}
	if (p->rc < 0 && !p->err[0])
		abort(); /* an error needs a sentence */
}

static void npy_whole(const char *path, const pass_t *p, uint64_t id_offset)
{
	struct npy_f32 a = {0};
	char err[256] = "";
	if (npy_load_f32(path, &a, err, sizeof err) != 0) {
		if (!err[0])
			abort();
		return;
	}
	if (p->rc == 0 && p->n < MAXROWS) {
		/* the streaming reader saw the same array */
		uint32_t vs = 0;
		for (uint64_t i = 0; i < a.rows * a.cols; i++) {
			uint32_t u;
			memcpy(&u, &a.data[i], 4);
			vs = vs * 33 + u;
		}
		if (a.rows != p->n || (a.rows && (a.cols * a.rows != p->dimsum || vs != p->vsum)))
			abort();
	}
	(void)id_offset;
	free(a.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	struct in_opts o = {.format = data[0] % IN_NFORMATS, .id_offset = data[0] / IN_NFORMATS};
	const char *path = fz_memfd_path(data + 1, size - 1);
	struct in_reader *r = NULL;
	char err[256] = "";
	if (in_open(path, &o, &r, err, sizeof err) != 0) {
		if (r || !err[0])
			abort();
		return 0;
	}
	pass_t a, b;
	read_all(r, &a);
	if (in_rewindable(r)) {
		if (in_rewind(r, err, sizeof err) != 0) {
			if (!err[0])
				abort();
		} else {
			read_all(r, &b);
			if (a.n != b.n || a.idsum != b.idsum || a.dimsum != b.dimsum || a.vsum != b.vsum ||
			    a.rc != b.rc || strcmp(a.err, b.err))
				abort(); /* a second pass reads the same rows */
		}
	}
	in_close(r);
	if (o.format == IN_NPY)
		npy_whole(path, &a, o.id_offset);
	return 0;
}
