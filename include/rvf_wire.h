/* rvf_wire.h — the UDP query protocol and the BPF map layout, shared by the
 * XDP/tc programs (bpf/) and the C code (daemon, loader, client).
 *
 * All multi-byte fields are little-endian (the file format's order and the
 * host order of every BPF target we build for), floats IEEE-754 binary32.
 * docs/PROTOCOL.md documents every field to the byte, with hex examples.
 */
#ifndef RVF_WIRE_H
#define RVF_WIRE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RVF_WIRE_MAGIC 0x31515652u /* "RVQ1" on the wire: 52 56 51 31 */
#define RVF_WIRE_VERSION 1
#define RVF_WIRE_DEFAULT_PORT 7878

enum rvf_wire_op {
	RVF_OP_QUERY = 1,
	RVF_OP_REPLY = 2,
};

/* Request flags */
enum rvf_wire_flags {
	RVF_WF_I8 = 1 << 0,       /* query carried as dim x int8 (q = i8 * scale) */
	RVF_WF_DAEMON = 1 << 1,   /* do not answer in XDP: exact f32 by the daemon */
	RVF_WF_NO_CACHE = 1 << 2, /* do not answer from, or fill, the result cache */
	RVF_WF_FILTER = 1 << 3,   /* a filter follows the vector (daemon only) */
};

enum rvf_wire_status {
	RVF_ST_OK = 0,
	RVF_ST_BAD_REQUEST = 1,  /* malformed header or length */
	RVF_ST_DIM_MISMATCH = 2, /* dim differs from the store's */
	RVF_ST_BUSY = 3,         /* daemon overloaded, retry later */
	RVF_ST_BAD_K = 4,        /* k == 0 or above RVF_WIRE_MAX_K */
	RVF_ST_UNSUPPORTED = 5,  /* version, op or flag not supported */
	RVF_ST_INTERNAL = 6,     /* server-side failure */
	RVF_ST_DENIED = 7,       /* source not allowed */
};

enum rvf_wire_path {
	RVF_PATH_NONE = 0,
	RVF_PATH_XDP = 1,    /* int8 scan inside the kernel */
	RVF_PATH_CACHE = 2,  /* XDP answered from the tc-filled result cache */
	RVF_PATH_DAEMON = 3, /* userspace: full index, exact f32 */
};

#define RVF_WIRE_MAX_K 64

struct rvf_wire_hdr {
	__u32 magic;   /* 0: RVF_WIRE_MAGIC */
	__u8 version;  /* 4: RVF_WIRE_VERSION */
	__u8 op;       /* 5: rvf_wire_op */
	__u16 flags;   /* 6: rvf_wire_flags (request); echoed in the reply */
	__u32 req_id;  /* 8: chosen by the client, echoed */
	__u16 dim;     /* 12: query dimension */
	__u16 k;       /* 14: results wanted (request) */
	__u32 epoch;   /* 16: reply: store epoch the answer came from; request: 0 */
	__u8 status;   /* 20: reply: rvf_wire_status; request: 0 */
	__u8 path;     /* 21: reply: rvf_wire_path; request: 0 */
	__u16 count;   /* 22: reply: results that follow; request: 0 */
	__u32 scale;   /* 24: RVF_WF_I8: f32 bits of the query scale; else 0 */
	__u32 tag;     /* 28: request: 0; daemon reply with results: bits 0..31
			* of the query tag (PROTOCOL §7.2), result 0's
			* `reserved` holds bits 32..63; else 0 */
} __attribute__((packed));

/* Reply body: count results, ascending distance. A reply is never larger
 * than its request (anti-amplification): count <= (request length - header)
 * / sizeof(struct rvf_wire_result), so a client asking for many results
 * from a small int8 query pads its request. */
struct rvf_wire_result {
	__u64 id;
	float dist;   /* distance in the store's metric (f32 units) */
	__u32 reserved;
} __attribute__((packed));

#define RVF_WIRE_HDR_SIZE 32
#define RVF_WIRE_RESULT_SIZE 16

/* ---- BPF map layout (written by the loader, read by the programs) ------ */

/* Vectors are quantized to unsigned offset-binary bytes u = q + 128 with
 * q = clamp(round((x - offset[d]) / scale), -127, 127): one global scale so
 * that integer L2 is proportional to real L2 (times scale^2). Each vector
 * is packed three lanes per u64 (bits 0, 22, 44) so that one 64-bit multiply
 * with the reversed packed query yields a 3-term dot product (PACK3). */
#define RVF_PACK3_WORDS(dim) (((dim) + 2) / 3)

/* Parameters of one map set (a loaded XDP object and its data maps). The
 * loader builds the next set beside the live one: a new object whose
 * .rodata rvf_slot is the other slot, its parameters written into that
 * slot, then one atomic program replacement. A running program reads its
 * own slot once per packet, so every packet sees one consistent set. Slot
 * 0 is the fields at the start of struct rvf_xdp_config, slot 1 its slot1
 * member. */
struct rvf_xdp_slot {
	__u32 nvec;
	__u32 epoch;
	__u32 dim;
	__u32 metric;
	float scale;
	__u32 max_scan;
	__u32 ncentroids;
	__u32 nprobe;
	__u32 scan_mode;
	__u32 rerank;
};

/* Global config, one array entry, updated by the loader/daemon. */
struct rvf_xdp_config {
	__u32 nvec;        /* vectors in the scan map */
	__u32 epoch;       /* store epoch the maps reflect */
	__u32 dim;         /* dimension the maps were built for */
	__u32 metric;      /* rvf_metric; IP queries go to the daemon */
	float scale;       /* global quantization scale */
	__u32 max_scan;    /* brute-force budget: above it, use IVF or pass */
	__u32 ncentroids;  /* IVF: 0 = brute force */
	__u32 nprobe;
	__u32 enabled;     /* 0: pass everything to the daemon */
	__u32 allow_enabled; /* 1: drop sources not in the allow-list */
	__u32 cache_enabled; /* 1: answer repeats from the result cache */
	__u32 pad;
	__u32 scan_mode;   /* enum rvf_xdp_scan: how vectors (or IVF members) are scanned */
	__u32 rerank;      /* RVF_SCAN_BIN: candidates R kept by the binary pass
			    * (0 = RVF_XDP_DEF_RERANK; raised to k, capped at
			    * RVF_XDP_MAX_RERANK) */
	/* Result cache (PROTOCOL §7.2). The daemon's answers are cached for
	 * the store state the daemon serves: cache_gen names that state
	 * (bumped, never reused, whenever the daemon adopts another store
	 * state: new epoch, other file, other dimension or metric, restart),
	 * cache_epoch is its epoch. qkey is the random SipHash key of the
	 * query digest, chosen per loader open. */
	__u64 cache_gen;
	__u32 cache_epoch;
	__u32 pad2;
	__u64 qkey[2];
	struct rvf_xdp_slot slot1; /* parameters of slot 1 (see rvf_xdp_slot) */
	__u32 active_slot;         /* slot of the attached program (for readers) */
	__u32 pad3;
};

/* Scan modes (config.scan_mode). IVF is orthogonal: with ncentroids > 0
 * the mode applies to the members of the probed clusters. */
enum rvf_xdp_scan {
	RVF_SCAN_PACK3 = 0, /* exact int8 L2 (PACK3) on every vector */
	RVF_SCAN_BIN = 1,   /* two-stage: 1-bit hamming keeps the best R, exact
			     * PACK3 L2 reranks those R to the top-k */
};

/* Per-CPU counters, index = enum rvf_xdp_counter. */
enum rvf_xdp_counter {
	RVF_C_RX = 0,        /* UDP packets to our port */
	RVF_C_ANSWERED,      /* XDP_TX by the scan */
	RVF_C_CACHE_HIT,     /* XDP_TX from the cache */
	RVF_C_PASS_DAEMON,   /* passed up on purpose (flags, dim, k, budget) */
	RVF_C_MALFORMED,     /* bad header/length: passed to the daemon to reply */
	RVF_C_DENIED,        /* source not in the allow-list: dropped */
	RVF_C_NOT_OURS,      /* not UDP to our port: passed untouched */
	RVF_C_ERROR,         /* helper failure */
	RVF_C_TC_SEEN,       /* tc: daemon replies seen on egress */
	RVF_C_TC_CACHED,     /* tc: replies stored in the cache */
	RVF_C_TC_MISMATCH,   /* tc: pending entry found, reply's tag differs */
	RVF_C_MAX,
};

/* Allow-list: LPM trie keyed by address; IPv4 sources are looked up as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix 96 + v4 prefix). Enabled when
 * config.allow_enabled is set. */
struct rvf_allow_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* BMC-style cache. When XDP passes a cacheable query to the daemon it
 * records (client address, port, request id) -> (query digest, cache_gen,
 * cache_epoch, k) in an LRU "pending" map; the tc egress program matches
 * the daemon's reply against it (same key AND the reply's tag equals the
 * digest's first word, so the reply answers that very query) and stores the
 * results in the cache under (digest, cache_gen, k). XDP then answers a
 * repeat of the same query while the daemon serves the same store state. */
struct rvf_pending_key {
	__u8 addr[16]; /* client address (IPv4-mapped for IPv4) */
	__u16 port;    /* client UDP port, network order as on the wire */
	__u16 pad;
	__u32 req_id;
};

struct rvf_pending_val {
	__u64 qd[2];   /* query digest (rvf_qdigest.h) */
	__u64 gen;     /* config.cache_gen when the query was passed */
	__u32 epoch;   /* config.cache_epoch then */
	__u32 k;
};

/* Result cache (tc fills, XDP reads). The whole 128-bit digest is part of
 * the key: a hit needs both words equal. */
struct rvf_cache_key {
	__u64 qd[2];
	__u64 gen;
	__u32 k;
	__u32 pad;
};

struct rvf_cache_val {
	__u16 count;
	__u16 pad;
	__u32 epoch; /* the daemon's epoch of the answer */
	struct rvf_wire_result res[RVF_WIRE_MAX_K];
};


/* ---- XDP query program: added map value layouts (bpf/rvf_maps.h) ------- */

#define RVF_XDP_MAX_DIM 768        /* largest dimension an object is built for */
#define RVF_XDP_MAX_CENTROIDS 4096 /* IVF centroids (rvf_cents entries) */
#define RVF_XDP_MAX_NPROBE 16      /* clusters scanned per query */
#define RVF_XDP_DEF_NVEC 4096      /* rvf_vecs default max_entries (loader resizes) */
#define RVF_XDP_MAX_RERANK 128     /* RVF_SCAN_BIN: largest candidate set (power of 2) */
#define RVF_XDP_DEF_RERANK 64      /* RVF_SCAN_BIN: default candidate set */

/* One packed vector (rvf_vecs and rvf_cents entries): the caller's id, the
 * squared norm of its offset-binary bytes (sum u^2) and RVF_PACK3_WORDS(dim)
 * words of 3 lanes (u[3t] | u[3t+1] << 22 | u[3t+2] << 44), unused lanes 0.
 * The value size therefore depends on the object's dimension. */
struct rvf_xdp_vec_hdr {
	__u64 id;
	__u32 norm;
	__u32 pad;
	/* __u64 w[RVF_PACK3_WORDS(dim)] follows */
};
#define RVF_XDP_VEC_SIZE(dim) (16u + 8u * RVF_PACK3_WORDS(dim))

/* 1-bit codes (RVF_SCAN_BIN): RVF_BIN_WORDS(dim) words per vector, bit d
 * of word d / 64 = u[d] >= 128, i.e. the int8 value q[d] >= 0; unused bits
 * 0 (quant8_bin). rvf_bins entry j holds the codes of the RVF_XDP_BIN_BLOCK
 * vectors j * BLOCK .. j * BLOCK + BLOCK - 1 of rvf_vecs (in that order,
 * missing ones zero): a separate dense map (16 B per vector at D = 128)
 * read one block per bpf_loop iteration, which amortizes the callback and
 * the lookup over 8 vectors. Its capacity is fixed at build time (the
 * loader sizes rvf_vecs only): stores above RVF_XDP_BIN_CAP vectors use
 * PACK3. */
#define RVF_BIN_WORDS(dim) (((dim) + 63) / 64)
#define RVF_XDP_BIN_BLOCK 8u
#define RVF_XDP_BIN_SIZE(dim) (8u * RVF_XDP_BIN_BLOCK * RVF_BIN_WORDS(dim))
#define RVF_XDP_BIN_CAP 65536u

/* Quantizer parameters (rvf_quant, one entry), written by the loader from
 * user/lib/quant8.c and used by XDP to quantize an f32/int8 query with
 * integer arithmetic only. Fixed point: a value x is represented as
 * X = trunc(x * 2^F) with F = 151 - E(scale), so that the scale itself is
 * exactly S = 2 * mantissa(scale) in [2^24, 2^25). See quant8.h. */
struct rvf_xdp_quant {
	__u32 scale_bits; /* f32 bits of the global scale (normal, > 0) */
	__u32 dist_bits;  /* f32 bits of the distance factor: scale^2 (L2) or
			   * scale^2 / 2 (cosine); dist = (float)(int_l2 * factor) */
	__u32 dim;
	__u32 pad;
	__s64 off[RVF_XDP_MAX_DIM]; /* per-dimension offset in fixed point */
};

#endif
