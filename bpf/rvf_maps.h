/* SPDX-License-Identifier: GPL-2.0 */
/* rvf_maps.h — BPF map definitions shared by the XDP query program
 * (bpf/rvf_xdp.bpf.c) and the tc egress cache filler. Include after
 * vmlinux.h and <bpf/bpf_helpers.h>. The map NAMES are a stable contract:
 * the loader finds them by name and shares the shared ones between objects
 * (bpf_map__reuse_fd or pinning).
 *
 * Shared (dimension independent):
 *   rvf_config    ARRAY(1)             u32 -> struct rvf_xdp_config
 *   rvf_counters  PERCPU_ARRAY(C_MAX)  u32 -> __u64 (enum rvf_xdp_counter)
 *   rvf_cache     LRU_HASH             struct rvf_cache_key -> struct rvf_cache_val
 *   rvf_pending   LRU_HASH             struct rvf_pending_key -> struct rvf_pending_val
 *   rvf_allow     LPM_TRIE             struct rvf_allow_key -> __u8
 * XDP query program only (defined when RVF_DIM is):
 *   rvf_quant     ARRAY(1)             u32 -> struct rvf_xdp_quant
 *   rvf_vecs      ARRAY(nvec)          u32 -> struct rvf_xdp_vec (RVF_XDP_VEC_SIZE(RVF_DIM))
 *   rvf_cents     ARRAY(MAX_CENTROIDS) u32 -> struct rvf_xdp_vec (IVF centroids, id = cluster)
 *   rvf_coff      ARRAY(MAX_CENT + 1)  u32 -> __u32 (cluster c = vecs [coff[c], coff[c+1]))
 *   rvf_bins      ARRAY(BIN_CAP / 8)   u32 -> struct rvf_xdp_bin (1-bit codes of 8 vectors)
 *   rvf_scratch   PERCPU_ARRAY(1)      u32 -> struct rvf_xdp_scratch (loop state)
 */
#ifndef RVF_MAPS_H
#define RVF_MAPS_H

#include "rvf_wire.h"
#include "rvf_qdigest.h"

#define RVF_CACHE_ENTRIES 16384
#define RVF_PENDING_ENTRIES 16384
#define RVF_ALLOW_ENTRIES 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rvf_xdp_config);
} rvf_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RVF_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rvf_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RVF_CACHE_ENTRIES);
	__type(key, struct rvf_cache_key);
	__type(value, struct rvf_cache_val);
} rvf_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RVF_PENDING_ENTRIES);
	__type(key, struct rvf_pending_key);
	__type(value, struct rvf_pending_val);
} rvf_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RVF_ALLOW_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rvf_allow_key);
	__type(value, __u8);
} rvf_allow SEC(".maps");

static __always_inline void rvf_count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&rvf_counters, &slot);
	if (v)
		*v += 1;
}

#ifdef RVF_DIM

#define RVF_W RVF_PACK3_WORDS(RVF_DIM)
#define RVF_BW RVF_BIN_WORDS(RVF_DIM)
#define RVF_XDP_QB_WORDS 16 /* >= RVF_BIN_WORDS(RVF_XDP_MAX_DIM + 2), power of 2 */

struct rvf_xdp_vec {
	__u64 id;
	__u32 norm;
	__u32 pad;
	__u64 w[RVF_W];
};

struct rvf_xdp_bin {
	__u64 b[RVF_XDP_BIN_BLOCK * RVF_BW]; /* codes of BLOCK vectors: bit d = u[d] >= 128 */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RVF_XDP_BIN_CAP / RVF_XDP_BIN_BLOCK);
	__type(key, __u32);
	__type(value, struct rvf_xdp_bin);
} rvf_bins SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rvf_xdp_quant);
} rvf_quant SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RVF_XDP_DEF_NVEC);
	__type(key, __u32);
	__type(value, struct rvf_xdp_vec);
} rvf_vecs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RVF_XDP_MAX_CENTROIDS);
	__type(key, __u32);
	__type(value, struct rvf_xdp_vec);
} rvf_cents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RVF_XDP_MAX_CENTROIDS + 1);
	__type(key, __u32);
	__type(value, __u32);
} rvf_coff SEC(".maps");

/* Loop-carried state of one query; a per-CPU map value so that the verifier
 * does not track it (see the feasibility notes). */
struct rvf_xdp_scratch {
	__u32 raw[RVF_XDP_MAX_DIM];            /* query as received (f32 or int8 bytes) */
	__u8 u[RVF_XDP_MAX_DIM + 4];           /* quantized offset-binary query */
	__u64 qw[RVF_XDP_MAX_DIM / 3 + 1];     /* PACK3, reversed lanes */
	__u64 top[RVF_WIRE_MAX_K];             /* sorted keys: l2 << 32 | index */
	__u64 ctop[RVF_XDP_MAX_NPROBE];        /* best clusters, same key shape */
	struct rvf_wire_result res[RVF_WIRE_MAX_K];
	__u64 qd0;                             /* query digest, word 0 */
	__u32 qnorm;
	__u32 k;
	__u32 ntop;
	__u32 nctop;
	__u32 nprobe;
	__u32 lo, hi;    /* vector range being scanned */
	__u32 flags;
	__s32 fail;
	__u32 pad;
	/* RVF_SCAN_BIN */
	__u64 qb[RVF_XDP_QB_WORDS];            /* query's 1-bit code */
	__u64 cand[RVF_XDP_MAX_RERANK];        /* sorted keys: hamming << 32 | index */
	__u32 ncand;
	__u32 rerank;                          /* R in use for this query */
	__u64 pend[RVF_XDP_BIN_BLOCK];         /* keys of one block below the R-th */
	__u32 npend;
	__u32 hpos;                            /* cand_insert: heap position (map memory: untracked by the verifier) */
	/* result cache: query digest word 1 and the SipHash state */
	__u64 qd1;
	__u64 sv[4];
	struct rvf_xdp_slot par;               /* this object's map set, read once per packet */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rvf_xdp_scratch);
} rvf_scratch SEC(".maps");

#endif /* RVF_DIM */
#endif
