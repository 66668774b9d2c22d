/* hnsw_codec.c — INDEX_SEG payload (rvf-format.md §14): header, restart
 * table, varint adjacency (delta-coded except at restart nodes), RVIX
 * extension with the node -> vector-id map. The decoder validates every
 * field before building anything. */
#define HNSW_INTERNAL
#include "format.h"
#include "hnsw.h"
#include "rvf.h"
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"

#define RESTART 64u
#define EXT_FIXED 24u

static void ob_pad64(bytebuf *b)
{
	size_t k = (64 - b->n % 64) % 64;
	uint8_t *o = bytebuf_room(b, k);

	if (o)
		memset(o, 0, k);
}

typedef struct {
	uint64_t id;
	uint32_t node;
} idnode;

static int idnode_cmp(const void *a, const void *b)
{
	const idnode *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int hnsw_encode(const hnsw_index *x, const uint64_t *ids, uint8_t **payload, size_t *len,
		uint32_t **seg_to_node)
{
	uint32_t n = x->count, rc_count, *rank = NULL, *tmp = NULL;
	idnode *ord = NULL;
	bytebuf b = {0};
	size_t a_start, x_start;
	uint8_t *o;
	int err = RVF_E_NOMEM;

	*payload = NULL;
	*len = 0;
	if (seg_to_node)
		*seg_to_node = NULL;
	if (n == 0 || x->max_level < 0 || !ids)
		return RVF_E_ARG;
	ord = malloc((size_t)n * sizeof *ord);
	rank = malloc((size_t)x->cap * sizeof *rank);
	tmp = malloc(((size_t)x->M0 + 1) * sizeof *tmp);
	if (!ord || !rank || !tmp)
		goto out;
	for (uint32_t i = 0, k = 0; i < x->cap; i++)
		if (x->level[i] >= 0) {
			ord[k].id = ids[i];
			ord[k++].node = i;
		}
	qsort(ord, n, sizeof *ord, idnode_cmp);
	for (uint32_t k = 0; k < n; k++) {
		if (k && ord[k].id == ord[k - 1].id) {
			err = RVF_E_ARG;
			goto out;
		}
		rank[ord[k].node] = k;
	}
	rc_count = (n + RESTART - 1) / RESTART;
	/* header */
	if (!(o = bytebuf_room(&b, 72 + 4 * (size_t)rc_count)))
		goto out;
	memset(o, 0, 72 + 4 * (size_t)rc_count);
	o[0] = 0; /* HNSW */
	o[1] = 2; /* layer_level, as the reference */
	wr16(o + 2, (uint16_t)x->M);
	wr32(o + 4, x->efc);
	wr64(o + 8, n);
	wr32(o + 64, RESTART);
	wr32(o + 68, rc_count);
	ob_pad64(&b);
	a_start = b.n;
	for (uint32_t k = 0; k < n && !b.oom; k++) {
		uint32_t node = ord[k].node;
		int nl = x->level[node] + 1;

		if (k % RESTART == 0)
			wr32(b.p + 72 + 4 * (k / RESTART), (uint32_t)(b.n - a_start));
		bytebuf_varint(&b, (uint64_t)nl);
		for (int l = 0; l < nl; l++) {
			const uint32_t *li = hnsw_list(x, node, l);
			uint32_t c = li[0], prev = 0;
			for (uint32_t i = 0; i < c; i++)
				tmp[i] = rank[li[1 + i]];
			qsort(tmp, c, sizeof *tmp, u32_cmp);
			bytebuf_varint(&b, c);
			for (uint32_t i = 0; i < c; i++) {
				int delta = k % RESTART != 0 && i > 0;
				bytebuf_varint(&b, delta ? tmp[i] - prev : tmp[i]);
				prev = tmp[i];
			}
		}
	}
	ob_pad64(&b);
	x_start = b.n;
	if (!(o = bytebuf_room(&b, EXT_FIXED)))
		goto out;
	wr16(o, 1);
	wr16(o + 2, (uint16_t)x->M0);
	wr32(o + 4, (uint32_t)x->max_level);
	wr64(o + 8, rank[x->entry]);
	wr64(o + 16, n);
	for (uint32_t k = 0; k < n; k++)
		bytebuf_varint(&b, k ? ord[k].id - ord[k - 1].id : ord[k].id);
	if (!(o = bytebuf_room(&b, 8)))
		goto out;
	wr32(o, (uint32_t)(b.n - 8 - x_start));
	memcpy(o + 4, "RVIX", 4);
	if (seg_to_node) {
		uint32_t *m = malloc((size_t)n * sizeof *m);
		if (!m)
			goto out;
		for (uint32_t k = 0; k < n; k++)
			m[k] = ord[k].node;
		*seg_to_node = m;
	}
	*payload = b.p;
	*len = b.n;
	b.p = NULL;
	err = 0;
out:
	free(b.p);
	free(ord);
	free(rank);
	free(tmp);
	return err;
}

/* ---- decoder ------------------------------------------------------------ */
typedef struct {
	const uint8_t *p;
	size_t a, x; /* adjacency [a, x) */
	uint32_t n, m, m0, rc, maxl;
} segview;

/* Walks the adjacency. Pass 1 (lev != NULL): validate, record levels.
 * Pass 2 (idx != NULL): fill the links, check link targets have the layer. */
static int walk(const segview *s, int8_t *lev, hnsw_index *idx, uint32_t *buf)
{
	size_t pos = s->a;
	uint64_t v;

	for (uint32_t k = 0; k < s->n; k++) {
		uint64_t nl;
		int restart = k % RESTART == 0;

		if (restart && pos - s->a != rd32(s->p + 72 + 4 * (size_t)(k / RESTART)))
			return -1;
		if (bytebuf_read_varint(s->p, s->x, &pos, &nl) || nl == 0 || nl > (uint64_t)s->maxl + 1)
			return -1;
		if (lev)
			lev[k] = (int8_t)(nl - 1);
		for (uint32_t l = 0; l < nl; l++) {
			uint64_t c, prev = 0;
			if (bytebuf_read_varint(s->p, s->x, &pos, &c) || c > (l ? s->m : s->m0))
				return -1;
			for (uint32_t i = 0; i < c; i++) {
				if (bytebuf_read_varint(s->p, s->x, &pos, &v))
					return -1;
				if (!restart && i > 0) {
					if (v == 0 || v >= s->n)
						return -1;
					v += prev;
				} else if (i > 0 && v <= prev) {
					return -1;
				}
				if (v >= s->n || v == k)
					return -1;
				prev = v;
				if (idx) {
					if (idx->level[v] < (int)l)
						return -1;
					buf[i] = (uint32_t)v;
				}
			}
			if (idx) {
				uint32_t *li = hnsw_list(idx, k, (int)l);
				memcpy(li + 1, buf, c * sizeof *buf);
				li[0] = (uint32_t)c;
			}
		}
	}
	/* zero padding up to the extension, which starts 64-aligned */
	if (s->x != (pos + 63) / 64 * 64)
		return -1;
	for (; pos < s->x; pos++)
		if (s->p[pos])
			return -1;
	return 0;
}

int hnsw_decode(const uint8_t *p, size_t len, uint32_t dim, int metric, uint64_t seed,
		hnsw_index **out, uint64_t **ids_out, uint64_t *n_out)
{
	segview s;
	uint64_t n64, ent, idc, v, *ids = NULL;
	uint32_t m, efc, R, bl;
	size_t pos, xend;
	int8_t *lev = NULL;
	uint32_t *buf = NULL;
	hnsw_index *x = NULL;
	int err = RVF_E_CORRUPT;

	*out = NULL;
	*ids_out = NULL;
	*n_out = 0;
	if (dim == 0 || metric < 0 || metric > 2)
		return RVF_E_ARG;
	if (!p || len < 64 + 8 + 64 + 8 || p[0] != 0)
		return RVF_E_CORRUPT;
	m = rd16(p + 2);
	efc = rd32(p + 4);
	n64 = rd64(p + 8);
	R = rd32(p + 64);
	s.rc = rd32(p + 68);
	if (m < 2 || m > HNSW_MAX_M || n64 == 0 || n64 > HNSW_MAX_NODES || n64 > len / 2 ||
	    R != RESTART || s.rc != (n64 + RESTART - 1) / RESTART)
		return RVF_E_CORRUPT;
	s.p = p;
	s.n = (uint32_t)n64;
	s.m = m;
	s.m0 = 2 * m;
	s.a = (72 + 4 * (size_t)s.rc + 63) / 64 * 64;
	if (memcmp(p + len - 4, "RVIX", 4) != 0)
		return RVF_E_CORRUPT;
	bl = rd32(p + len - 8);
	if (bl < EXT_FIXED || bl > len - 8 || len - 8 - bl < s.a)
		return RVF_E_CORRUPT;
	s.x = len - 8 - bl;
	xend = len - 8;
	/* extension */
	if (rd16(p + s.x) != 1 || rd16(p + s.x + 2) != s.m0)
		return RVF_E_CORRUPT;
	s.maxl = rd32(p + s.x + 4);
	ent = rd64(p + s.x + 8);
	idc = rd64(p + s.x + 16);
	if (s.maxl > HNSW_MAX_LEVEL || ent >= s.n || idc != s.n)
		return RVF_E_CORRUPT;
	ids = malloc((size_t)s.n * sizeof *ids);
	lev = malloc(s.n);
	buf = malloc(((size_t)s.m0 + 1) * sizeof *buf);
	if (!ids || !lev || !buf) {
		err = RVF_E_NOMEM;
		goto fail;
	}
	pos = s.x + EXT_FIXED;
	for (uint32_t k = 0; k < s.n; k++) {
		if (bytebuf_read_varint(p, xend, &pos, &v))
			goto fail;
		if (k == 0) {
			ids[0] = v;
		} else {
			if (v == 0 || v > UINT64_MAX - ids[k - 1])
				goto fail;
			ids[k] = ids[k - 1] + v;
		}
	}
	if (pos != xend)
		goto fail;
	/* adjacency, pass 1 */
	if (walk(&s, lev, NULL, NULL) != 0 || (uint32_t)lev[ent] != s.maxl)
		goto fail;
	x = hnsw_new(dim, metric, m, efc ? efc : 200, seed);
	if (!x) {
		err = RVF_E_NOMEM;
		goto fail;
	}
	if (hnsw_grow(x, s.n) != 0) {
		err = RVF_E_NOMEM;
		goto fail;
	}
	for (uint32_t k = 0; k < s.n; k++)
		if (hnsw_add_node(x, k, lev[k]) != 0) {
			err = RVF_E_NOMEM;
			goto fail;
		}
	if (walk(&s, NULL, x, buf) != 0)
		goto fail;
	x->entry = (uint32_t)ent;
	x->max_level = (int)s.maxl;
	free(lev);
	free(buf);
	*out = x;
	*ids_out = ids;
	*n_out = s.n;
	return 0;
fail:
	hnsw_free(x);
	free(ids);
	free(lev);
	free(buf);
	return err;
}
