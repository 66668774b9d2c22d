/* rvfd_xdp.c — the daemon's XDP/tc side, through the loader (loader/loader.h):
 * load + fill + attach + pin at start, sync after every store reopen,
 * counters from the per-CPU rvf_counters map, detach + unpin at exit.
 * Built with -DRVFD_NO_LOADER (no loader objects linked) the daemon only
 * runs with --no-xdp; counters can still be read from a pinned map. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rvfd.h"

#ifndef RVFD_NO_LOADER
#include "loader.h"
#endif

static int sum_percpu(int fd, uint64_t out[RVF_C_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	uint32_t i;
	int c;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < RVF_C_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v)) {
			int err = -errno;

			free(v);
			return err;
		}
		for (c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

int rvfd_read_pinned_counters(const char *pin_dir, uint64_t out[RVF_C_MAX])
{
	char path[512];
	int fd, err;

	snprintf(path, sizeof(path), "%s/rvf_counters", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = sum_percpu(fd, out);
	close(fd);
	return err;
}

#ifdef RVFD_NO_LOADER

struct rvfd_xdp {
	int unused;
};

int rvfd_xdp_available(void) { return 0; }

int rvfd_xdp_start(const struct rvfd_xdp_opts *o, const char *store_path, rvf_store *s,
		   struct rvfd_xdp **out)
{
	(void)o, (void)store_path, (void)s;
	*out = NULL;
	fprintf(stderr, "rvfd: error: this rvfd was built without the loader: run with --no-xdp\n");
	return -ENOTSUP;
}

int rvfd_xdp_sync(struct rvfd_xdp *x, rvf_store *s) { (void)x, (void)s; return -ENOTSUP; }
int rvfd_xdp_counters(struct rvfd_xdp *x, uint64_t out[RVF_C_MAX])
{
	(void)x, (void)out;
	return -ENOTSUP;
}
void rvfd_xdp_release(struct rvfd_xdp *x) { (void)x; }
void rvfd_xdp_stop(struct rvfd_xdp *x) { (void)x; }
int64_t rvfd_xdp_epoch(struct rvfd_xdp *x) { (void)x; return -1; }

#else

struct rvfd_xdp {
	rvf_loader *l;
	char ifname[64];
};

int rvfd_xdp_available(void) { return 1; }

static void print_warnings(const rvf_loader *l)
{
	const char *w = rvf_loader_warnings(l);

	if (w && *w)
		fprintf(stderr, "rvfd: loader: %s%s", w, w[strlen(w) - 1] == '\n' ? "" : "\n");
}

/* Empties rvf_allow (a reused pin keeps the previous run's entries). */
static void allow_clear(rvf_loader *l)
{
	int fd = rvf_loader_map_fd(l, "rvf_allow");
	struct rvf_allow_key k, next;

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		k = next;
		if (bpf_map_delete_elem(fd, &k))
			break;
	}
}

int rvfd_xdp_start(const struct rvfd_xdp_opts *o, const char *store_path, rvf_store *s,
		   struct rvfd_xdp **out)
{
	struct rvf_loader_opts lo = { 0 };
	struct rvfd_xdp *x;
	char err[512] = "";
	size_t i;
	int rc;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	snprintf(x->ifname, sizeof(x->ifname), "%s", o->ifname);
	lo.ifname = x->ifname;
	lo.port = o->port;
	lo.ebpf_from_store = o->trust_key != NULL;
	lo.trust_key = o->trust_key;
	lo.store_path = store_path;
	lo.mode = !strcmp(o->mode, "native")    ? RVF_XDP_MODE_NATIVE
		  : !strcmp(o->mode, "generic") ? RVF_XDP_MODE_GENERIC
						: RVF_XDP_MODE_AUTO;
	rc = rvf_loader_open(s, &lo, &x->l, err, sizeof(err));
	if (rc) {
		const char *log = rvf_loader_last_log();

		fprintf(stderr, "rvfd: error: loading the XDP/tc programs: %s\n", err);
		if (log && *log)
			fprintf(stderr, "rvfd: verifier/libbpf log:\n%s\n", log);
		free(x);
		return rc;
	}
	allow_clear(x->l);
	for (i = 0; i < o->nallow; i++) {
		rc = rvf_loader_allow_add(x->l, NULL, o->allow[i].text, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "rvfd: error: allow-list %s: %s\n", o->allow[i].text, err);
			goto fail;
		}
	}
	rc = rvf_loader_allow_enable(x->l, NULL, o->nallow > 0, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "rvfd: error: allow-list: %s\n", err);
		goto fail;
	}
	rc = rvf_loader_attach(x->l, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "rvfd: error: attaching to %s: %s\n", x->ifname, err);
		goto fail;
	}
	print_warnings(x->l);
	fprintf(stderr, "rvfd: XDP attached to %s (%s mode, xdp from %s, tc from %s), pinned "
			"under %s/%s\n", x->ifname,
		rvf_loader_attached_mode(x->l) == RVF_XDP_MODE_NATIVE ? "native" : "generic",
		rvf_loader_xdp_source(x->l) == RVF_OBJ_STORE ? "the store's signed EBPF_SEG" : "build/bpf",
		rvf_loader_tc_source(x->l) == RVF_OBJ_STORE	? "the store's signed EBPF_SEG"
		: rvf_loader_tc_source(x->l) == RVF_OBJ_BUILTIN ? "build/bpf"
								: "nowhere",
		RVF_LOADER_PIN_ROOT, x->ifname);
	*out = x;
	return 0;
fail:
	print_warnings(x->l);
	rvf_loader_close(x->l);
	rvf_loader_detach(x->ifname, NULL, err, sizeof(err));
	free(x);
	return rc;
}

int rvfd_xdp_sync(struct rvfd_xdp *x, rvf_store *s)
{
	char err[512] = "";
	int rc;

	if (!x)
		return 0;
	rc = rvf_loader_sync(x->l, s, err, sizeof(err));
	if (rc)
		fprintf(stderr, "rvfd: error: syncing the XDP maps: %s\n", err);
	return rc;
}

int rvfd_xdp_counters(struct rvfd_xdp *x, uint64_t out[RVF_C_MAX])
{
	int fd;

	if (!x)
		return -ENOENT;
	fd = rvf_loader_map_fd(x->l, "rvf_counters");
	if (fd < 0)
		return -ENOENT;
	return sum_percpu(fd, out);
}

int64_t rvfd_xdp_epoch(struct rvfd_xdp *x)
{
	struct rvf_xdp_config c;
	uint32_t zero = 0;
	int fd;

	if (!x)
		return -1;
	fd = rvf_loader_map_fd(x->l, "rvf_config");
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &c))
		return -1;
	return c.epoch;
}

void rvfd_xdp_release(struct rvfd_xdp *x)
{
	if (!x)
		return;
	rvf_loader_close(x->l);
	x->l = NULL;
}

void rvfd_xdp_stop(struct rvfd_xdp *x)
{
	char err[512] = "";

	if (!x)
		return;
	rvf_loader_close(x->l);
	if (rvf_loader_detach(x->ifname, NULL, err, sizeof(err)))
		fprintf(stderr, "rvfd: warning: detaching from %s: %s\n", x->ifname, err);
	else
		fprintf(stderr, "rvfd: XDP/tc detached from %s, pins removed\n", x->ifname);
	free(x);
}

#endif
