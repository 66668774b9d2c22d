/* fuzz_rvfd.c — libFuzzer harness for rvfd's UDP request parser
 * (rvfd_handle, user/rvfd/rvfd_proto.c) and its allow-list parser
 * (rvfd_cidr_parse).
 *
 * The input is one datagram, answered from a small store (dim 4, 40
 * vectors) made at start in a tmpfs directory. Checks: a reply never
 * exceeds the request (anti-amplification) nor the output buffer (an
 * exact-size allocation, so ASan sees any overrun); an OK reply is accepted
 * by the client's reply parser (rvf_client_parse_reply) with the request's
 * id and k, holds at most k hits, and its hits are sorted by distance.
 * The same bytes, as a string, go through rvfd_cidr_parse; an accepted
 * entry has a prefix of at most 128 bits and matches its own address. */
#include "fuzz_util.h"
#include "rvfclient.h"
#include "rvfd.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#define CAP (RVF_WIRE_HDR_SIZE + RVF_WIRE_RESULT_SIZE * RVF_WIRE_MAX_K)

static struct rvfd_store st;
static struct rvfd_work w;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[400];
	snprintf(path, sizeof path, "%s/rvfd.rvf", fz_workdir());
	rvf_create_opts o = {.dimension = 4, .metric = RVF_METRIC_L2};
	rvf_store *s;
	if (rvf_create(path, &o, &s))
		abort();
	uint64_t ids[40];
	float v[40 * 4];
	for (int i = 0; i < 40; i++) {
		ids[i] = 1000 + (uint64_t)i * 3;
		for (int d = 0; d < 4; d++)
			v[i * 4 + d] = (float)((i * 5 + d * 7) % 13) - 6.0f;
	}
	if (rvf_ingest(s, ids, v, 40, NULL))
		abort();
	rvf_close(s);
	if (rvf_open(path, RVF_OPEN_READONLY, &st.s))
		abort();
	st.dim = 4;
	st.metric = RVF_METRIC_L2;
	st.epoch = 1;
	st.nvec = 40;
	if (rvfd_work_init(&w))
		abort();
	/* replies carry the query tag, as with XDP attached (PROTOCOL §7.2) */
	w.qkey[0] = 0x0706050403020100ull;
	w.qkey[1] = 0x0f0e0d0c0b0a0908ull;
	w.have_qkey = 1;
	return 0;
}

static void cidr(const uint8_t *data, size_t size)
{
	if (size > 80)
		return;
	char *s = fz_cstr(data, size);
	struct rvfd_cidr c;
	if (rvfd_cidr_parse(s, &c) == 0) {
		if (c.prefixlen > 128 || !memchr(c.text, 0, sizeof c.text))
			abort();
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
		memcpy(&a6.sin6_addr, c.addr, 16);
		if (!rvfd_allowed(&c, 1, (const struct sockaddr *)&a6))
			abort(); /* an entry allows its own (host-bits-cleared) address */
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	uint8_t *req = malloc(size ? size : 1), *out = malloc(CAP);
	if (!req || !out)
		abort();
	memcpy(req, data, size);
	size_t outlen = 0;
	uint8_t status = 0xff;
	int v = rvfd_handle(&st, &w, req, size, out, CAP, &outlen, &status);
	if (v != RVFD_REPLY) {
		if (outlen)
			abort();
	} else {
		if (outlen < RVF_WIRE_HDR_SIZE || outlen > size || outlen > CAP)
			abort();
		uint32_t req_id;
		uint16_t k;
		memcpy(&req_id, req + 8, 4);
		memcpy(&k, req + 14, 2);
		rvf_client_result r;
		int pr = rvf_client_parse_reply(out, outlen, le32toh(req_id), le16toh(k), &r);
		if (status == RVF_ST_OK) {
			if (pr != 0 || r.status != RVF_ST_OK || r.count > le16toh(k))
				abort();
			for (unsigned i = 1; i < r.count; i++)
				if (r.hits[i].distance < r.hits[i - 1].distance)
					abort();
		} else if (outlen != RVF_WIRE_HDR_SIZE || (pr == 0 && r.count)) {
			abort();
		}
	}
	cidr(data, size);
	free(req);
	free(out);
	return 0;
}
