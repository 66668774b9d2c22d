/* loader.h — loads the rvf XDP query program and the tc egress cache filler,
 * fills their maps from an rvf store, attaches them to an interface and pins
 * them under /sys/fs/bpf/rvf/<ifname>/.
 *
 * Every function returns 0 or a negative errno. On failure a one-line
 * message ("what failed: strerror") is written to `err` (errlen bytes, may
 * be NULL/0). Non-fatal findings (a placeholder EBPF_SEG, the fall-back to
 * the built-in objects, native XDP refused) are collected as "WARNING: ..."
 * lines, see rvf_loader_warnings().
 *
 * Object source: by default the built-in objects of `bpf_dir` (default
 * rvf_loader_bpf_dir()): rvf_xdp_d<dim>.bpf.o and rvf_tc.bpf.o. The store's EBPF_SEGs (program_type 0 XdpDistance whose
 * max_dimension equals the store's dimension; program_type 1 TcFilter; ELF64
 * little-endian EM_BPF objects) are used only with ebpf_from_store, and only
 * when `rvf sign` signed the store's current state with trust_key: the
 * loader copies store_path into a sealed private memfd, verifies the
 * signature on that copy (rvf_verify_signature, no appended commits) and
 * takes the programs from the same copy, so a writer of the file cannot swap
 * them after the check. Whoever can write the .rvf therefore never chooses
 * the code attached to the NIC.
 *
 * Attachment is by BPF links: XDP (BPF_LINK_TYPE_XDP) and tcx egress
 * (Linux >= 6.6), so attach and detach touch only our own hooks and never
 * another program's XDP attachment, clsact qdisc or tc filter.
 *
 * Map names are the contract of bpf/rvf_maps.h. Pins (one directory per
 * interface): xdp_link, tc_link, xdp_prog, tc_prog and every map by name. A
 * later open with the same ifname reuses compatible pinned maps and links,
 * so a restarted loader keeps the state (config, cache, allow-list) and
 * replaces the programs in place (bpf_link_update).
 */
#ifndef RVF_LOADER_H
#define RVF_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "rvf.h"
#include "rvf_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RVF_LOADER_PIN_ROOT "/sys/fs/bpf/rvf"
#define RVF_LOADER_DEF_MAX_SCAN 4096u /* brute-force budget per query */
#define RVF_LOADER_DEF_NPROBE 2u
#define RVF_LOADER_DEF_BIN_MIN 512u /* nvec above which RVF_SCAN_BIN is used */
/* Largest max_scan: one bpf_loop call runs at most 1 << 23 iterations (the
 * verifier's inlined guard); past it bpf_loop does nothing and the XDP
 * program would answer an empty result. IVF clusters are capped at max_scan
 * vectors (see rvf_loader_sync). */
#define RVF_LOADER_MAX_SCAN 8388608u

enum rvf_xdp_mode {
	RVF_XDP_MODE_AUTO = 0, /* native, fall back to generic with a warning */
	RVF_XDP_MODE_NATIVE,
	RVF_XDP_MODE_GENERIC,
};

/* Where a program came from. */
enum rvf_obj_source {
	RVF_OBJ_NONE = 0,
	RVF_OBJ_STORE,   /* an EBPF_SEG of the store */
	RVF_OBJ_BUILTIN, /* a file of bpf_dir */
};

struct rvf_loader_opts {
	const char *ifname;   /* needed for attach and pinning; NULL: load only */
	const char *netns;    /* network namespace name (/run/netns/NAME) the
			       * interface lives in; NULL: the current one. Pins
			       * stay in the caller's mount namespace. */
	enum rvf_xdp_mode mode;
	uint16_t port;        /* UDP port (host order); 0 = RVF_WIRE_DEFAULT_PORT */
	const char *bpf_dir;  /* built-in objects; NULL = default (see above) */
	int ebpf_from_store;  /* load the store's EBPF_SEGs (else built-in only);
			       * needs store_path and trust_key */
	const char *store_path; /* the store's file, for the signature check */
	const uint8_t *trust_key; /* 32-byte Ed25519 public key of `rvf sign` */
	int no_tc;            /* do not load/attach the tc program */
	int no_pin;           /* neither reuse nor create pins */
	uint32_t max_scan;    /* 0 = RVF_LOADER_DEF_MAX_SCAN; above it IVF is built;
			       * > RVF_LOADER_MAX_SCAN is rejected (-ERANGE) */
	uint32_t nprobe;      /* 0 = RVF_LOADER_DEF_NPROBE */
	uint32_t ncentroids;  /* 0 = automatic (when IVF is needed) */
	int no_cache;         /* config.cache_enabled = 0 */
	int defer_fill;       /* open: load the objects with empty maps and XDP
			       * disabled (rvf_loader_adopt); the maps come with
			       * the first rvf_loader_stage_build/publish */
	uint32_t bin_min;     /* two-stage scan (1-bit hamming, then PACK3 rerank;
			       * RVF_SCAN_BIN) when the store holds more than
			       * this many vectors; 0 = RVF_LOADER_DEF_BIN_MIN,
			       * UINT32_MAX = never */
	uint32_t rerank;      /* candidates reranked (R); 0 = calibrated on the
			       * store's vectors: the smallest of 32/64/128 with
			       * recall@10 >= 0.95 vs exact int8, else PACK3 */
};

typedef struct rvf_loader rvf_loader;

/* Kernel features: BTF (/sys/kernel/btf/vmlinux), bpffs on /sys/fs/bpf,
 * bpf_loop for XDP programs, CAP_BPF + CAP_NET_ADMIN (or root). */
int rvf_loader_probe(char *err, size_t errlen);

/* Chooses, opens and loads the objects for the store (see above), sizes
 * rvf_vecs to the live count, reuses pinned maps (opts->ifname, !no_pin),
 * then fills the maps (rvf_loader_sync). Does not attach. */
int rvf_loader_open(const rvf_store *s, const struct rvf_loader_opts *opts, rvf_loader **out,
		    char *err, size_t errlen);

/* Refills every data map from the store and publishes the new state.
 * First (before anything can fail) config.enabled = 0 and cache_gen + 1:
 * no cached answer or pending query of the previous state survives; the
 * cache and pending maps are emptied as well when the store's identity
 * (file_id), metric or dimension changed, its epoch went back, or on the
 * first sync after open. Then wait for in-flight packets, refill rvf_quant
 * / rvf_vecs / rvf_cents / rvf_coff, and one config write with the new
 * nvec, epoch, cache_gen + 1, cache_epoch and enabled = 1. Another
 * dimension returns -EXDEV with XDP left disabled: the caller reopens the
 * loader. If the store grew beyond rvf_vecs' capacity the XDP object is
 * reloaded with a larger map (shared maps kept) and, if attached, replaced
 * in place. */
int rvf_loader_sync(rvf_loader *l, const rvf_store *s, char *err, size_t errlen);

/* ---- live change without an outage --------------------------------------
 * The daemon adopts a new store state at once and rebuilds the maps beside
 * the live ones on another thread. Calls on one loader must not overlap
 * (the daemon serializes adopt and publish with a mutex; build only reads
 * the loader's options and its own IVF state, which only publish changes). */

/* The daemon serves `s` from now on: config.cache_gen + 1 and cache_epoch
 * (no cached answer or pending query of the previous state survives).
 * Another file (file_id), an epoch that went back, another metric or
 * dimension also set enabled = 0 (XDP passes everything until a build of
 * this state is published) and empty the cache and pending maps; returns 1
 * then, 0 for a plain new state, -EXDEV (disabled) for another dimension:
 * reopen the loader. */
int rvf_loader_adopt(rvf_loader *l, const rvf_store *s, char *err, size_t errlen);

/* A map set built beside the live one: a new XDP object (the other
 * parameter slot, its own data maps, the shared maps of l) filled from s.
 * No shared map is written: packets keep being answered from the live set. */
typedef struct rvf_loader_stage rvf_loader_stage;
int rvf_loader_stage_build(rvf_loader *l, const rvf_store *s, rvf_loader_stage **out, char *err,
			   size_t errlen);
/* Makes the stage live: its slot's parameters, then (attached) one atomic
 * program replacement, then enabled = 1. Refused with -ESTALE (stage freed,
 * nothing changed) when the stage was built from another file, metric or
 * dimension than the state adopted last. Always consumes st. */
int rvf_loader_stage_publish(rvf_loader *l, rvf_loader_stage *st, char *err, size_t errlen);
void rvf_loader_stage_free(rvf_loader_stage *st);
/* What a built stage holds (for logs and benchmarks). */
struct rvf_loader_stage_info {
	uint32_t nvec, epoch, ncentroids;
	int usable;       /* 0: XDP cannot answer for this store (all to the daemon) */
	int reclustered;  /* k-means ran (else appended vectors joined the clusters) */
	double build_ms;  /* object load + quantization + IVF + map fill */
};
void rvf_loader_stage_info(const rvf_loader_stage *st, struct rvf_loader_stage_info *out);

/* Parameters of the live map set (slot of the attached program). */
int rvf_loader_params(const rvf_loader *l, struct rvf_xdp_slot *out);

/* Attaches XDP (opts->mode) and tcx egress to opts->ifname through BPF
 * links and pins links, programs and maps (unless no_pin; then the
 * attachment lives as long as the loader). A valid pinned link of ours is
 * updated in place. Another XDP program on the interface: -EBUSY. */
int rvf_loader_attach(rvf_loader *l, char *err, size_t errlen);

/* Frees userspace state. Pinned attachments stay (the programs keep
 * answering); use rvf_loader_detach to remove them. */
void rvf_loader_close(rvf_loader *l);

/* Detaches our pinned XDP and tcx links, a netlink-attached rvf_xdp and a
 * legacy rvf_tc_egress filter of older versions (the filter only, never a
 * qdisc), removes all pins and the pin directory of ifname. Nothing of
 * anybody else is touched. Idempotent; works from a fresh process. netns as
 * in the opts. An interface that does not exist: its stale pins are
 * removed and -ENODEV returned. */
int rvf_loader_detach(const char *ifname, const char *netns, char *err, size_t errlen);

/* Allow-list: adds "a.b.c.d[/n]" or an IPv6 "addr[/n]" to rvf_allow and
 * sets config.allow_enabled = 1. With l == NULL the pinned maps of ifname
 * are used. */
int rvf_loader_allow_add(rvf_loader *l, const char *ifname, const char *cidr, char *err,
			 size_t errlen);
/* Sets config.allow_enabled (0 lets every source through again). */
int rvf_loader_allow_enable(rvf_loader *l, const char *ifname, int on, char *err, size_t errlen);
/* Parses a CIDR into an LPM key (IPv4 as ::ffff:a.b.c.d, prefix + 96). */
int rvf_loader_parse_cidr(const char *cidr, uint32_t *prefixlen, uint8_t addr[16]);

/* ---- introspection --------------------------------------------------- */
const char *rvf_loader_warnings(const rvf_loader *l); /* "" if none */
/* Directory of the built-in BPF objects: $RVF_BPF_DIR if set; else
 * "<dir of the running binary>/bpf" when that is a directory (the build
 * tree: build/rvf beside build/bpf); else the installed layout
 * "<dir of the binary>/../lib/rvf/bpf" (make install: PREFIX/bin/rvf,
 * PREFIX/sbin/rvfd, PREFIX/lib/rvf/bpf). */
void rvf_loader_bpf_dir(char *buf, size_t len);
/* Verifier / libbpf log of the last failed load on this thread ("" if none). */
const char *rvf_loader_last_log(void);
enum rvf_obj_source rvf_loader_xdp_source(const rvf_loader *l);
enum rvf_obj_source rvf_loader_tc_source(const rvf_loader *l);
int rvf_loader_xdp_prog_fd(const rvf_loader *l);
int rvf_loader_tc_prog_fd(const rvf_loader *l); /* -1 without tc */
/* fd of a map by its rvf_maps.h name (-1 if absent). */
int rvf_loader_map_fd(const rvf_loader *l, const char *name);
/* The random SipHash key of the result cache's query digest (chosen at
 * open, written to config.qkey): the daemon tags its replies with
 * rvf_qdigest() under this key (docs/PROTOCOL.md §7.2). */
void rvf_loader_cache_key(const rvf_loader *l, uint64_t key[2]);
/* Attach mode actually used (NATIVE or GENERIC), AUTO before attach. */
enum rvf_xdp_mode rvf_loader_attached_mode(const rvf_loader *l);

#ifdef __cplusplus
}
#endif
#endif
