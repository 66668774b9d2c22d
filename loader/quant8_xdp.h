/* quant8_xdp.h — the int8 quantizer's parameters (quant8.h, library) in the
 * layout of the XDP program's rvf_quant map (rvf_wire.h). Lives in the loader
 * so that the library does not depend on the network protocol. */
#ifndef RVF_QUANT8_XDP_H
#define RVF_QUANT8_XDP_H

#include "rvf_frontend.h"
#include "rvf_wire.h"

/* Fills the rvf_quant map value. -EINVAL unless p->fx_ok and the dimension
 * is one the XDP objects are built for (<= RVF_XDP_MAX_DIM). */
int quant8_fill_xdp(const quant8_params *p, struct rvf_xdp_quant *out);
/* One rvf_vecs / rvf_cents entry (RVF_XDP_VEC_SIZE(dim) bytes): header
 * (id, norm) + PACK3 words of the offset-binary codes u. */
void quant8_vec_entry(const uint8_t *u, uint32_t dim, uint64_t id, void *out);

#endif
