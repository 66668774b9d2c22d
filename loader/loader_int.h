/* loader_int.h — internals shared by the loader's source files. */
#ifndef RVF_LOADER_INT_H
#define RVF_LOADER_INT_H

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>

#include "loader.h"
#include "rvf_wire.h"

#define LDR_WARN_MAX 4096
#define LDR_PATH_MAX 256
#define LDR_DIR_MAX 200 /* bpf_dir, leaves room for file names */

/* One loaded object (XDP or tc) and where its bytes came from. */
struct ldr_obj {
	struct bpf_object *obj;
	struct bpf_program *prog;
	void *bytes; /* copy of the object bytes (must outlive open until load) */
	size_t size;
	enum rvf_obj_source src;
	char origin[LDR_PATH_MAX]; /* "EBPF_SEG #i" or the file path */
};

/* IVF of the last build, kept so that appended vectors join the existing
 * clusters (no k-means) while the clusters stay balanced. */
struct ldr_ivf {
	float *cent;      /* C x dim (normalized space for cosine) */
	uint32_t C, dim;
	int metric;
	uint64_t *ids;    /* ids of the n vectors in live order when built */
	uint32_t *asg;    /* their clusters */
	uint32_t n;
	uint32_t n_kmeans; /* vectors when k-means last ran */
	uint32_t max_kmeans; /* its largest cluster */
};
void ldr_ivf_free(struct ldr_ivf *v);

struct rvf_loader {
	struct rvf_loader_opts o;
	char ifname[64];
	char netns[64];
	char bpf_dir[LDR_DIR_MAX];
	uint32_t dim;
	int metric;
	struct ldr_obj xdp, tc;
	uint32_t vecs_cap; /* rvf_vecs max_entries */
	int ifindex;
	enum rvf_xdp_mode attached; /* AUTO = not attached */
	int xdp_link, tc_link;      /* link fds, -1 if none */
	uint32_t slot;         /* parameter slot of the live XDP object */
	struct ldr_ivf ivf;
	uint64_t qkey[2];      /* SipHash key of the cache's query digest (per open) */
	int synced;            /* the fields below describe the last sync */
	uint8_t file_id[16];   /* store identity at the last sync */
	uint32_t epoch;
	char warn[LDR_WARN_MAX];
};

/* Messages */
__attribute__((format(printf, 3, 4))) int ldr_err(char *err, size_t errlen, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void ldr_warn(rvf_loader *l, const char *fmt, ...);

/* libbpf log capture around open/load (thread-local buffer). */
void ldr_log_begin(void);
void ldr_log_end(void);

/* loader.c */
int ldr_open_xdp(rvf_loader *l, const rvf_store *s, uint32_t cap, uint32_t slot, struct ldr_obj *out,
		 const rvf_loader *reuse_from, char *err, size_t errlen);
void ldr_obj_free(struct ldr_obj *o);
int ldr_map_fd(const struct ldr_obj *o, const char *name);

/* pin.c */
int ldr_pin_dir(const char *ifname, char *buf, size_t len);
int ldr_pin_all(rvf_loader *l, char *err, size_t errlen);
/* bpf_map__reuse_fd from a compatible pin (no-op if none). */
int ldr_reuse_pinned(rvf_loader *l, struct bpf_object *obj, char *err, size_t errlen);
int ldr_unpin_all(const char *ifname, char *err, size_t errlen);
int ldr_pinned_map_fd(const char *ifname, const char *name);

/* attach.c: enter/leave a named network namespace (NULL/"" = no-op). */
int ldr_netns_enter(const char *netns, int *saved_fd, char *err, size_t errlen);
void ldr_netns_leave(int saved_fd);
int ldr_replace_xdp(rvf_loader *l, struct ldr_obj *nobj, char *err, size_t errlen);

/* loader.c: the IVF cluster cap. Returns C, or 0 (no IVF: XDP hands the
 * queries to the daemon) with a warning when a cluster of asg holds more
 * than max_scan vectors. */
/* Size of the largest of C clusters (UINT32_MAX without memory); *at its index. */
uint32_t ldr_ivf_biggest(const uint32_t *asg, uint32_t n, uint32_t C, uint32_t *at);
uint32_t ldr_ivf_cap(rvf_loader *l, const uint32_t *asg, uint32_t n, uint32_t C);

/* trust.c: verified private copy of opts.store_path (see loader.h). */
int ldr_trusted_store(const rvf_loader *l, rvf_store **out, int *memfd, char *err, size_t errlen);

/* maps_fill.c */
int ldr_config_get(int fd, struct rvf_xdp_config *c);
int ldr_config_put(int fd, const struct rvf_xdp_config *c);
/* Deletes every entry of a hash map (rvf_cache, rvf_pending). */
int ldr_map_flush(int fd, uint32_t key_size);
/* Result cache invalidation: cache_gen + 1, cache_epoch = epoch, qkey (and
 * enabled = 0 if disable), one config write; then rvf_cache and
 * rvf_pending are emptied if flush. */
int ldr_cache_invalidate(rvf_loader *l, uint32_t epoch, int disable, int flush, char *err,
			 size_t errlen);
/* Parameter slot s of a config (struct rvf_xdp_slot). */
void ldr_slot_get(const struct rvf_xdp_config *c, uint32_t s, struct rvf_xdp_slot *out);
void ldr_slot_put(struct rvf_xdp_config *c, uint32_t s, const struct rvf_xdp_slot *in);
/* Quantizes the store into x's data maps (rvf_quant, rvf_vecs, rvf_bins,
 * IVF maps), reusing hint's clusters for appended vectors when they stay
 * balanced. Fills par (the slot parameters), *usable (0: XDP cannot answer
 * for this store) and, with IVF, ivf_out (owned by the caller). Touches no
 * shared map. */
int ldr_fill_maps(rvf_loader *l, const rvf_store *s, const struct ldr_ivf *hint, struct ldr_obj *x,
		  struct rvf_xdp_slot *par, int *usable, struct ldr_ivf *ivf_out, int *reclustered,
		  char *err, size_t errlen);

#endif
