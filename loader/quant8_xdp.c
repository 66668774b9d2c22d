/* quant8_xdp.c — quant8 parameters -> the rvf_quant map value (quant8_xdp.h). */
#include <errno.h>
#include <string.h>

#include "quant8_xdp.h"

/* The quantizer's code sizes are the maps' (both formulas are spelled out
 * twice: rvf_wire.h is also compiled for BPF and includes nothing of ours). */
#define SAME_WORDS(d)                                                                  \
	_Static_assert(QUANT8_PACK3_WORDS(d) == RVF_PACK3_WORDS(d) &&                  \
			       QUANT8_BIN_WORDS(d) == RVF_BIN_WORDS(d),                    \
		       "code words differ at dimension " #d)
SAME_WORDS(1);
SAME_WORDS(2);
SAME_WORDS(3);
SAME_WORDS(63);
SAME_WORDS(64);
SAME_WORDS(65);
SAME_WORDS(767);
SAME_WORDS(RVF_XDP_MAX_DIM);

static uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

int quant8_fill_xdp(const quant8_params *p, struct rvf_xdp_quant *out)
{
	memset(out, 0, sizeof *out);
	if (!p->fx_ok || p->dim > RVF_XDP_MAX_DIM)
		return -EINVAL;
	out->scale_bits = f2u(p->scale);
	out->dist_bits = f2u(p->factor);
	out->dim = p->dim;
	for (uint32_t d = 0; d < p->dim; d++)
		out->off[d] = p->off_fx[d];
	return 0;
}

void quant8_vec_entry(const uint8_t *u, uint32_t dim, uint64_t id, void *out)
{
	struct rvf_xdp_vec_hdr h = { .id = id, .norm = quant8_norm(u, dim), .pad = 0 };
	memcpy(out, &h, sizeof h);
	quant8_pack3(u, dim, (uint64_t *)((char *)out + sizeof h));
}
