/* fuzz_client.c — libFuzzer harness for the UDP client's reply parser
 * (rvf_client_parse_reply, user/client/client.c).
 *
 * Input: u32 request id, u8 k, then the datagram. The parser must classify
 * it (0, -ENOMSG, -EBADMSG) without reading past it (exact-size copy); an
 * accepted reply has magic/version/op/id of ours, count <= k and <= 64,
 * enough bytes for its hits, a known path (an OK reply names one; an error
 * reply may, rvfd's do) and no hits unless OK.
 * Every accepted reply is then rebuilt as a datagram from the parsed
 * fields, which must parse to the same result. */
#include "fuzz_util.h"
#include "rvfclient.h"

#include <endian.h>
#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_bytes b = {data, size};
	uint32_t id = fz_u32(&b, 0);
	uint32_t k = fz_u8(&b, 10);
	uint8_t *d = malloc(b.n ? b.n : 1);
	if (!d)
		abort();
	memcpy(d, b.p, b.n);
	rvf_client_result r;
	memset(&r, 0, sizeof r);
	int rc = rvf_client_parse_reply(d, b.n, id, k, &r);
	if (rc != 0 && rc != -ENOMSG && rc != -EBADMSG)
		abort();
	if (rc == 0) {
		if (b.n < RVF_WIRE_HDR_SIZE + (size_t)r.count * RVF_WIRE_RESULT_SIZE ||
		    r.count > k || r.count > RVF_WIRE_MAX_K || r.req_id != id ||
		    (r.status == RVF_ST_OK && r.path == RVF_PATH_NONE) || r.path > RVF_PATH_DAEMON ||
		    (r.status != RVF_ST_OK && r.count))
			abort();
		(void)rvf_client_status_str(r.status);
		(void)rvf_client_path_str(r.path);
		/* the same reply, rebuilt from what was parsed, parses the same */
		size_t len = RVF_WIRE_HDR_SIZE + (size_t)r.count * RVF_WIRE_RESULT_SIZE;
		uint8_t *e = calloc(1, len);
		if (!e)
			abort();
		memcpy(e, d, RVF_WIRE_HDR_SIZE);
		for (unsigned i = 0; i < r.count; i++) {
			uint64_t hid = htole64(r.hits[i].id);
			uint32_t dist;
			memcpy(&dist, &r.hits[i].distance, 4);
			dist = htole32(dist);
			memcpy(e + RVF_WIRE_HDR_SIZE + 16 * i, &hid, 8);
			memcpy(e + RVF_WIRE_HDR_SIZE + 16 * i + 8, &dist, 4);
		}
		rvf_client_result r2;
		memset(&r2, 0, sizeof r2);
		if (rvf_client_parse_reply(e, len, id, k, &r2) != 0 || r2.count != r.count ||
		    r2.status != r.status || r2.path != r.path || r2.epoch != r.epoch ||
		    memcmp(r2.hits, r.hits, r.count * sizeof r.hits[0]))
			abort();
		free(e);
	}
	free(d);
	return 0;
}
