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
	char warn[LDR_WARN_MAX];
};

/* Messages */
__attribute__((format(printf, 3, 4))) int ldr_err(char *err, size_t errlen, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void ldr_warn(rvf_loader *l, const char *fmt, ...);

/* libbpf log capture around open/load (thread-local buffer). */
void ldr_log_begin(void);
void ldr_log_end(void);

/* loader.c */
int ldr_open_xdp(rvf_loader *l, const rvf_store *s, uint32_t cap, struct ldr_obj *out,
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
uint32_t ldr_ivf_cap(rvf_loader *l, const uint32_t *asg, uint32_t n, uint32_t C);

/* trust.c: verified private copy of opts.store_path (see loader.h). */
int ldr_trusted_store(const rvf_loader *l, rvf_store **out, int *memfd, char *err, size_t errlen);

/* maps_fill.c */
int ldr_config_get(int fd, struct rvf_xdp_config *c);
int ldr_config_put(int fd, const struct rvf_xdp_config *c);

#endif
