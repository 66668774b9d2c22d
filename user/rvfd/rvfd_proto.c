/* rvfd_proto.c — one request in, one reply out (docs/PROTOCOL.md).
 *
 * Rules implemented here:
 *  - fewer than 32 bytes: no reply at all;
 *  - op == REPLY: no reply (two servers must never ping-pong error replies);
 *  - wrong magic: BAD_REQUEST; version != 1, op != QUERY, unknown flag bits
 *    or FILTER (no filter encoding exists yet): UNSUPPORTED;
 *  - dim == 0 or the vector does not fit in the datagram: BAD_REQUEST;
 *  - k == 0 or k > 64: BAD_K; dim != the store's: DIM_MISMATCH;
 *  - int8 query with a scale that is not finite and > 0, or any non-finite
 *    component: BAD_REQUEST; no store open: INTERNAL;
 *  - OK: count = min(results, k, 64, (request length - 32) / 16), so a reply
 *    is never larger than its request; error replies are 32 bytes, count 0.
 * Every reply echoes flags, req_id, dim, k and scale, carries the current
 * store epoch and path DAEMON. An OK reply with results carries the query
 * tag (rvf_qdigest word 0 under the loader's key: header `tag` = bits 0..31,
 * result 0's `reserved` = bits 32..63) when XDP is attached, so that the tc
 * cache filler can tell which query a reply answers (PROTOCOL §7.2). Lengths in the request are never trusted:
 * every access is checked against the datagram length first.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rvf_qdigest.h"
#include "rvfd.h"

_Static_assert(sizeof(struct rvf_wire_hdr) == RVF_WIRE_HDR_SIZE, "wire header size");
_Static_assert(sizeof(struct rvf_wire_result) == RVF_WIRE_RESULT_SIZE, "wire result size");

#define KNOWN_FLAGS (RVF_WF_I8 | RVF_WF_DAEMON | RVF_WF_NO_CACHE | RVF_WF_FILTER)

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

static float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

int rvfd_work_init(struct rvfd_work *w)
{
	w->q = malloc(sizeof(float) * 65535u);
	w->hits = malloc(sizeof(rvf_hit) * RVF_WIRE_MAX_K);
	if (!w->q || !w->hits) {
		rvfd_work_free(w);
		return -ENOMEM;
	}
	return 0;
}

void rvfd_work_free(struct rvfd_work *w)
{
	free(w->q);
	free(w->hits);
	w->q = NULL;
	w->hits = NULL;
}

/* Header of the reply: the request's echoed fields with our own magic,
 * version and op (the request's may be what made it invalid). */
static size_t reply_hdr(const uint8_t *req, uint8_t *out, uint32_t epoch, uint8_t status,
			uint16_t count)
{
	memset(out, 0, RVF_WIRE_HDR_SIZE);
	put32(out + 0, RVF_WIRE_MAGIC);
	out[4] = RVF_WIRE_VERSION;
	out[5] = RVF_OP_REPLY;
	memcpy(out + 6, req + 6, 2);   /* flags */
	memcpy(out + 8, req + 8, 4);   /* req_id */
	memcpy(out + 12, req + 12, 4); /* dim, k */
	put32(out + 16, epoch);
	out[20] = status;
	out[21] = RVF_PATH_DAEMON;
	put16(out + 22, count);
	memcpy(out + 24, req + 24, 4); /* scale */
	return RVF_WIRE_HDR_SIZE;
}

int rvfd_handle(const struct rvfd_store *st, struct rvfd_work *w, const uint8_t *req, size_t len,
		uint8_t *out, size_t cap, size_t *outlen, uint8_t *status)
{
	uint32_t epoch = st && st->s ? st->epoch : 0;
	uint16_t flags, dim, k;
	size_t vbytes, room, n = 0, i, count;
	uint8_t stt = RVF_ST_OK;
	int i8;

	*outlen = 0;
	if (len < RVF_WIRE_HDR_SIZE || cap < RVF_WIRE_HDR_SIZE)
		return RVFD_DROP_SHORT;
	if (req[5] == RVF_OP_REPLY && get32(req) == RVF_WIRE_MAGIC)
		return RVFD_DROP_REPLY;

	flags = get16(req + 6);
	dim = get16(req + 12);
	k = get16(req + 14);
	i8 = !!(flags & RVF_WF_I8);
	vbytes = (size_t)dim * (i8 ? 1u : 4u);

	if (get32(req) != RVF_WIRE_MAGIC)
		stt = RVF_ST_BAD_REQUEST;
	else if (req[4] != RVF_WIRE_VERSION || req[5] != RVF_OP_QUERY ||
		 (flags & ~KNOWN_FLAGS) || (flags & RVF_WF_FILTER))
		stt = RVF_ST_UNSUPPORTED;
	else if (dim == 0 || len - RVF_WIRE_HDR_SIZE < vbytes)
		stt = RVF_ST_BAD_REQUEST;
	else if (k == 0 || k > RVF_WIRE_MAX_K)
		stt = RVF_ST_BAD_K;
	else if (!st || !st->s)
		stt = RVF_ST_INTERNAL;
	else if (dim != st->dim)
		stt = RVF_ST_DIM_MISMATCH;

	if (stt == RVF_ST_OK) {
		const uint8_t *v = req + RVF_WIRE_HDR_SIZE;

		if (i8) {
			float scale = bits_f32(get32(req + 24));

			if (!isfinite(scale) || !(scale > 0.0f))
				stt = RVF_ST_BAD_REQUEST;
			for (i = 0; stt == RVF_ST_OK && i < dim; i++)
				w->q[i] = (float)(int8_t)v[i] * scale;
		} else {
			for (i = 0; i < dim; i++)
				w->q[i] = bits_f32(get32(v + 4 * i));
		}
		for (i = 0; stt == RVF_ST_OK && i < dim; i++)
			if (!isfinite(w->q[i]))
				stt = RVF_ST_BAD_REQUEST;
	}
	/* Misses use the store's HNSW index when it has one; RVF_WF_DAEMON asks
	 * for the exact f32 scan. */
	rvf_query_opts qo = {.k = k, .exact = !!(flags & RVF_WF_DAEMON)};
	if (stt == RVF_ST_OK && rvf_query_ex(st->s, w->q, dim, &qo, w->hits, &n) != RVF_OK)
		stt = RVF_ST_INTERNAL;

	if (stt != RVF_ST_OK) {
		*outlen = reply_hdr(req, out, epoch, stt, 0);
		*status = stt;
		return RVFD_REPLY;
	}
	/* Anti-amplification: never more bytes than the request (PROTOCOL §4.1). */
	room = (len - RVF_WIRE_HDR_SIZE) / RVF_WIRE_RESULT_SIZE;
	if ((cap - RVF_WIRE_HDR_SIZE) / RVF_WIRE_RESULT_SIZE < room)
		room = (cap - RVF_WIRE_HDR_SIZE) / RVF_WIRE_RESULT_SIZE;
	count = n < k ? n : k;
	if (count > RVF_WIRE_MAX_K)
		count = RVF_WIRE_MAX_K;
	if (count > room)
		count = room;
	reply_hdr(req, out, epoch, RVF_ST_OK, (uint16_t)count);
	for (i = 0; i < count; i++) {
		uint8_t *r = out + RVF_WIRE_HDR_SIZE + i * RVF_WIRE_RESULT_SIZE;

		put64(r, w->hits[i].id);
		put32(r + 8, f32_bits(w->hits[i].distance));
		put32(r + 12, 0);
	}
	if (count && w->have_qkey) {
		uint64_t qd[2];

		rvf_qdigest(w->qkey[0], w->qkey[1], dim, flags, get32(req + 24), req + RVF_WIRE_HDR_SIZE, qd);
		put32(out + 28, (uint32_t)qd[0]);
		put32(out + RVF_WIRE_HDR_SIZE + 12, (uint32_t)(qd[0] >> 32));
	}
	*outlen = RVF_WIRE_HDR_SIZE + count * RVF_WIRE_RESULT_SIZE;
	*status = RVF_ST_OK;
	return RVFD_REPLY;
}
