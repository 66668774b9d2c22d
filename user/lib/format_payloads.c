/* format_payloads.c — small fixed-layout payloads: §8 VEC_SEG header,
 * §9 JOURNAL_SEG and §11.1 WITNESS_SEG. */
#include "format.h"

#include <string.h>

#define JR_HDR 16
#define JR_ENTRY 12
#define JR_DELETE_VECTOR 0x01
#define WT_FIXED 13 /* type, timestamp, action_len */
#define WT_PREV 32

uint64_t rvf_vec_decode_header(const uint8_t *p, uint64_t len, uint16_t *dim, uint32_t *count)
{
	uint64_t fit;

	*dim = 0;
	*count = 0;
	if (len < RVF_VEC_HDR)
		return 0;
	*dim = rd16(p);
	*count = rd32(p + 2);
	/* Complete records only; the caller compares with *count to spot a
	 * short payload (which the reference ignores entirely). */
	fit = (len - RVF_VEC_HDR) / rvf_vec_record_size(*dim);
	return fit < *count ? fit : *count;
}

uint64_t rvf_journal_size(size_t n)
{
	return JR_HDR + (uint64_t)JR_ENTRY * n;
}

void rvf_journal_encode(uint8_t *out, const uint64_t *ids, size_t n, uint32_t epoch)
{
	wr32(out, (uint32_t)n);
	wr32(out + 4, epoch);
	wr64(out + 8, 0); /* prev_journal_seg_id: always 0 in reference files */
	out += JR_HDR;
	for (size_t i = 0; i < n; i++, out += JR_ENTRY) {
		out[0] = JR_DELETE_VECTOR;
		out[1] = 0;
		wr16(out + 2, 8);
		wr64(out + 4, ids[i]);
	}
}

uint64_t rvf_witness_size(size_t action_len)
{
	return WT_FIXED + (uint64_t)action_len + WT_PREV;
}

/* A NULL prev_hash stands for the all-zero link that starts a session. */
void rvf_witness_encode(uint8_t *out, uint8_t type, uint64_t ts_ns, const char *action,
			size_t action_len, const uint8_t prev_hash[32])
{
	out[0] = type;
	wr64(out + 1, ts_ns);
	wr32(out + 9, (uint32_t)action_len);
	if (action_len)
		memcpy(out + WT_FIXED, action, action_len);
	if (prev_hash)
		memcpy(out + WT_FIXED + action_len, prev_hash, WT_PREV);
	else
		memset(out + WT_FIXED + action_len, 0, WT_PREV);
}

/* Returns 0, or -1 if the payload cannot hold the declared action and the
 * chain link. Trailing bytes after prev_hash are tolerated. */
int rvf_witness_decode(const uint8_t *p, uint64_t len, rvf_witness *w)
{
	uint32_t a;

	memset(w, 0, sizeof(*w));
	if (len < WT_FIXED + WT_PREV)
		return -1;
	a = rd32(p + 9);
	if (a > len - WT_FIXED - WT_PREV)
		return -1;
	w->type = p[0];
	w->timestamp_ns = rd64(p + 1);
	w->action = (const char *)(p + WT_FIXED);
	w->action_len = a;
	w->prev_hash = p + WT_FIXED + a;
	uint64_t at = WT_FIXED + (uint64_t)a + WT_PREV, rest = len - at;
	if (rest >= 4 && !memcmp(p + at, RVF_WCOV_MAGIC, 4)) {
		uint32_t n = rest >= RVF_WCOV_HDR ? rd32(p + at + 4) : 0;
		if (rest < RVF_WCOV_HDR || (rest - RVF_WCOV_HDR) / RVF_WCOV_ENTRY < n) {
			w->cov_malformed = 1;
		} else {
			w->cov = p + at + RVF_WCOV_HDR;
			w->ncov = n;
		}
	}
	return 0;
}

void rvf_wcov_get(const rvf_witness *w, uint32_t i, rvf_wcov *out)
{
	const uint8_t *e = w->cov + (size_t)i * RVF_WCOV_ENTRY;
	out->seg_id = rd64(e);
	out->offset = rd64(e + 8);
	out->payload_length = rd64(e + 16);
	out->seg_type = e[24];
	out->hash = e + 32;
}
