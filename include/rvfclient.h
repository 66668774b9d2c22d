/* rvfclient.h — UDP query client for the rvf network protocol (rvf_wire.h,
 * docs/PROTOCOL.md): one connected UDP socket per client, request ids that
 * start at a random value and increment, requests padded so that the reply
 * may carry k results (anti-amplification), poll()-based timeouts, retries
 * and a pipelined batch mode for benchmarks.
 *
 * Every function returning int returns 0 (or a count) on success and a
 * negative errno on failure; a reply with a non-OK status is a success of
 * the transport: look at rvf_client_result.status.
 */
#ifndef RVFCLIENT_H
#define RVFCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "rvf_wire.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Built with -fvisibility=hidden: this header is librvfclient's whole
 * exported interface (mk/shared.mk). */
#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility push(default)
#endif

typedef struct rvf_client rvf_client;

typedef struct {
	uint64_t id;
	float distance;
} rvf_client_hit;

typedef struct {
	uint8_t status;    /* enum rvf_wire_status */
	uint8_t path;      /* enum rvf_wire_path */
	uint16_t flags;    /* flags echoed by the server */
	uint32_t req_id;   /* request id of the attempt that was answered */
	uint32_t epoch;    /* store epoch of the answer */
	uint16_t dim;      /* echoed header fields */
	uint16_t k;
	uint16_t count;    /* valid entries in hits[] */
	unsigned attempts; /* datagrams sent for this query (1 + retries used) */
	uint64_t rtt_ns;   /* send of the answered attempt -> reply received */
	rvf_client_hit hits[RVF_WIRE_MAX_K];
} rvf_client_result;

/* "HOST:PORT", "[V6]:PORT", "HOST" or "[V6]" / bare IPv6 (default port
 * RVF_WIRE_DEFAULT_PORT). HOST is numeric IPv4/IPv6 or a resolvable name;
 * the first address that a UDP socket can connect() to is used.
 * -EINVAL on a malformed string, -EHOSTUNREACH when no address resolves. */
int rvf_client_open(const char *hostport, rvf_client **out);
void rvf_client_close(rvf_client *c);
/* The connected socket (for poll loops of callers); -1 if c is NULL. */
int rvf_client_fd(const rvf_client *c);
/* Overrides the next request id (tests, reproducible benchmarks). */
void rvf_client_set_next_id(rvf_client *c, uint32_t id);

/* One query with f32 components. k in 1..RVF_WIRE_MAX_K, dim in 1..65535,
 * flags from enum rvf_wire_flags except RVF_WF_I8 / RVF_WF_FILTER. Each
 * attempt (1 + retries) uses a fresh request id and waits timeout_ms for a
 * valid reply carrying that id; other datagrams (stale replies of earlier
 * attempts, wrong magic, garbage) are ignored.
 * Returns 0 with *out filled, -ETIMEDOUT (no reply), -EBADMSG (only
 * malformed replies with our id came back), -ECONNREFUSED (ICMP port
 * unreachable and no reply), -EINVAL (arguments), or another -errno. */
int rvf_client_query(rvf_client *c, const float *q, uint32_t dim, uint32_t k, uint16_t flags,
		     int timeout_ms, int retries, rvf_client_result *out);

/* Same with a quantized query: real component d is q[d] * scale. */
int rvf_client_query_i8(rvf_client *c, const int8_t *q, uint32_t dim, float scale, uint32_t k,
			uint16_t flags, int timeout_ms, int retries, rvf_client_result *out);

/* Symmetric quantization for rvf_client_query_i8: scale = max|x| / 127,
 * q = round(x / scale) clamped to -127..127 (scale 1 for an all-zero x).
 * -EINVAL if x holds a NaN or an infinity. */
int rvf_client_quantize(const float *x, uint32_t dim, int8_t *q, float *scale);

/* ---- pipelined batch (benchmarks) ------------------------------------ */

struct rvf_client_query_spec {
	const void *vec; /* dim floats, or dim int8 when flags has RVF_WF_I8 */
	float scale;     /* RVF_WF_I8 only */
	uint16_t flags;
};

/* Sends the n queries keeping up to `window` requests in flight, matches
 * replies by request id, resends a request that saw no reply within
 * timeout_ms (fresh id) up to `retries` times. out[i] / err[i] (0 or a
 * negative errno as for rvf_client_query) receive the outcome of query i.
 * Returns the number of queries answered, or a negative errno when the
 * arguments are bad or the socket fails. */
int rvf_client_batch(rvf_client *c, const struct rvf_client_query_spec *qs, size_t n,
		     uint32_t dim, uint32_t k, unsigned window, int timeout_ms, int retries,
		     rvf_client_result *out, int *err);

/* ---- fan-out over shards (docs/SCALING.md) ----------------------------
 * One unconnected UDP socket for S shard servers: a query is sent to every
 * shard at once (each datagram with its own request id), one poll loop
 * collects the replies until every shard has answered or the attempt's
 * timeout passes; shards still silent are sent the query again with a fresh
 * id (retries), then reported missing. A reply counts only if it comes from
 * the shard's exact address and port, carries the id last sent to that
 * shard, and parses (rvf_client_parse_reply; a NaN distance is malformed);
 * anything else — another shard's id, a stranger, a second reply, a
 * truncated or malformed datagram — is counted in `ignored` and changes
 * nothing. The merged top-k is the k best hits (distance, then id) over the
 * shards that answered with status OK; an id returned by two shards is kept
 * once (at its best distance) and counted in `duplicate_ids`. */
typedef struct rvf_client_fanout rvf_client_fanout;

typedef struct {
	int err;               /* 0 answered (see res.status), -ETIMEDOUT no reply,
				  -EBADMSG only malformed replies with its id */
	rvf_client_result res; /* valid when err == 0 */
} rvf_client_shard_reply;

typedef struct {
	size_t nshards;
	size_t answered;       /* shards with err 0 and status OK (merged) */
	unsigned ignored;      /* datagrams dropped (see above) */
	unsigned duplicate_ids;
	uint64_t elapsed_ns;   /* first send -> last reply or give-up */
	uint16_t count;        /* merged hits */
	rvf_client_hit hits[RVF_WIRE_MAX_K];
} rvf_client_fanout_result;

/* "HOST:PORT" of every shard, as for rvf_client_open (first resolved
 * address each). -EINVAL on a malformed string, n == 0, n > 4096 or two
 * shards at the same address; -EHOSTUNREACH when one does not resolve. */
int rvf_client_fanout_open(const char *const *hostports, size_t n, rvf_client_fanout **out);
void rvf_client_fanout_close(rvf_client_fanout *f);
int rvf_client_fanout_fd(const rvf_client_fanout *f);
void rvf_client_fanout_set_next_id(rvf_client_fanout *f, uint32_t id);
/* One f32 query to every shard (k, dim, flags as rvf_client_query). per[i]
 * receives shard i's outcome (nshards entries). Returns 0 with *out filled
 * — out->answered < out->nshards is a partial result — or a negative errno
 * for bad arguments or a socket failure. Bounded by
 * (retries + 1) * timeout_ms. */
int rvf_client_fanout_query(rvf_client_fanout *f, const float *q, uint32_t dim, uint32_t k,
			    uint16_t flags, int timeout_ms, int retries,
			    rvf_client_fanout_result *out, rvf_client_shard_reply *per);

/* First address of "HOST:PORT" (as rvf_client_open parses it). 0 or -errno. */
int rvf_client_resolve(const char *hostport, struct sockaddr_storage *out, socklen_t *len);

/* ---- wire helpers (also used by tests and benchmarks) ----------------- */

/* Bytes of a request: header + dim * (4 | 1), padded up to the size of a
 * reply with min(k, RVF_WIRE_MAX_K) results. */
size_t rvf_client_request_size(uint32_t dim, uint32_t k, int i8);
/* Builds a request into buf (zeroed padding). vec is floats or, with
 * RVF_WF_I8 in flags, int8. Returns its size or a negative errno. */
ssize_t rvf_client_build(void *buf, size_t cap, uint32_t req_id, const void *vec, uint32_t dim,
			 float scale, uint32_t k, uint16_t flags);
/* Checks a datagram as the reply to request (req_id, k): magic, version,
 * op, id, count <= k and <= RVF_WIRE_MAX_K, a non-OK status carries no
 * results, length >= header + count results. 0 and *out filled (hits
 * decoded, attempts/rtt untouched); -ENOMSG when it is not a reply to this
 * request (magic, version, op or id differ); -EBADMSG when it claims to be
 * one but is malformed. */
int rvf_client_parse_reply(const void *buf, size_t len, uint32_t req_id, uint32_t k,
			   rvf_client_result *out);

const char *rvf_client_status_str(unsigned status);
const char *rvf_client_path_str(unsigned path); /* "xdp", "cache", "daemon", "none" */

#if defined(__GNUC__) && __GNUC__ >= 4
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
