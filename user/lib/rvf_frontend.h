/* rvf_frontend.h — the library as the in-tree front ends see it: the rvf
 * CLI (user/cli), rvfd (user/rvfd), the BPF loader and rvf-loadctl
 * (loader/). They include rvf.h (the public API), the public headers of
 * include/, their own layer's headers and this one — never another user/lib
 * header (tests/integration/layers.sh checks their #include lines and the
 * library symbols their objects reference).
 *
 * Not installed and not ABI: outside programs get rvf.h only. What is here
 * is shared between the library and the front ends but is not an interface
 * we promise to keep:
 *
 *   fileio.h    rvf_read_file: a whole regular file into memory (CLI: .npy,
 *               BPF objects, kernel images; the loader: BPF objects).
 *   digest.h    rvf_blake2b256 and rvf_hex: hashes printed by the CLI's
 *               verify commands, the digest `rvf launch` compares before it
 *               boots a kernel copy.
 *   meta.h      the metadata value/JSON codec (meta_from_json, meta_to_json,
 *               meta_value_from_string, ...): the CLI's JSON/CSV input,
 *               export, query output and HTTP bodies use the library's own
 *               rules, so every front end parses metadata the same way.
 *   quant8.h    THE int8 quantizer (loader: fills the XDP maps with the
 *               codes the store's SQ8 scan uses).
 *   distance.h  rvf_dist_batch (loader: k-means of the IVF clusters).
 */
#ifndef RVF_FRONTEND_H
#define RVF_FRONTEND_H

#include "rvf.h"

#include "digest.h"
#include "distance.h"
#include "fileio.h"
#include "meta.h"
#include "quant8.h"

#endif
