/* rvfd_xdp.c — the daemon's XDP/tc side, through the loader (loader/loader.h):
 * load + attach + pin at start with XDP passing everything to the daemon,
 * then the maps are built on a worker thread and published with one
 * atomic program replacement (the daemon answers meanwhile); after every
 * store reopen the new state is adopted at once (result cache invalidated;
 * XDP off only for another file/metric/dimension) and the next map set is
 * built beside the live one. Counters from the per-CPU rvf_counters map,
 * detach + unpin at exit.
 * Built with -DRVFD_NO_LOADER (no loader objects linked) the daemon only
 * runs with --no-xdp; counters can still be read from a pinned map. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
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
int rvfd_xdp_cache_key(struct rvfd_xdp *x, uint64_t key[2])
{
	(void)x, (void)key;
	return -ENOENT;
}
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
	char mode[16];
	uint16_t port;
	char path[4096];     /* the store file the worker opens */
	pthread_t th;
	int th_started;
	pthread_mutex_t mu;  /* l (adopt, publish, map fds), the fields below */
	pthread_cond_t cv;
	int want;            /* a build of the current file is requested */
	int busy;            /* the worker is building */
	int stop;
	double t_start;      /* monotonic seconds at rvfd_xdp_start */
	int published;       /* a map set has been published since start */
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

static void request_build(struct rvfd_xdp *x)
{
	pthread_mutex_lock(&x->mu);
	x->want = 1;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

/* Builds the next map set beside the live one from its own read-only
 * handle of the store file, then publishes it under the mutex. Requests
 * that arrive meanwhile are folded into one more build. */
static void *worker(void *arg)
{
	struct rvfd_xdp *x = arg;
	char err[512];

	pthread_mutex_lock(&x->mu);
	for (;;) {
		while (!x->want && !x->stop)
			pthread_cond_wait(&x->cv, &x->mu);
		if (x->stop)
			break;
		x->want = 0;
		x->busy = 1;
		pthread_mutex_unlock(&x->mu);

		rvf_loader_stage *st = NULL;
		rvf_store *s = NULL;
		int rc = rvf_open(x->path, RVF_OPEN_READONLY, &s);
		err[0] = 0;
		if (rc)
			snprintf(err, sizeof(err), "opening the store: %s: %s", rvf_strerror(rc),
				 rvf_last_error());
		else
			rc = rvf_loader_stage_build(x->l, s, &st, err, sizeof(err));

		pthread_mutex_lock(&x->mu);
		if (rc == 0) {
			struct rvf_loader_stage_info in;

			rvf_loader_stage_info(st, &in);
			rc = rvf_loader_stage_publish(x->l, st, err, sizeof(err));
			if (rc == 0) {
				fprintf(stderr, "rvfd: XDP maps published: epoch %u, %u vectors%s%s, built in "
						"%.0f ms (%.0f ms after start)%s\n", in.epoch, in.nvec,
					in.ncentroids ? ", IVF " : "",
					in.ncentroids ? (in.reclustered ? "k-means" : "incremental") : "",
					in.build_ms, (rvfd_mono() - x->t_start) * 1e3,
					in.usable ? "" : " (not usable in XDP: every query goes to the daemon)");
				x->published = 1;
			}
		}
		if (rc == -ESTALE)
			x->want = 1; /* the file changed identity meanwhile: build again */
		else if (rc)
			fprintf(stderr, "rvfd: warning: building the XDP maps: %s (XDP keeps its "
					"previous maps)\n", err);
		x->busy = 0;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
		rvf_close(s);
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
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
	snprintf(x->mode, sizeof(x->mode), "%s", o->mode ? o->mode : "auto");
	snprintf(x->path, sizeof(x->path), "%s", store_path);
	x->port = o->port;
	x->t_start = rvfd_mono();
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	lo.defer_fill = 1; /* the worker brings the maps: no k-means before we answer */
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

/* Starts the map builder thread and its first build. Called in the process
 * that serves, after the privilege drop: a thread started before the fork
 * would not exist in the worker (the first maps were never published). */
int rvfd_xdp_run(struct rvfd_xdp *x)
{
	int rc = pthread_create(&x->th, NULL, worker, x);

	if (rc) {
		fprintf(stderr, "rvfd: error: starting the XDP map builder: %s\n", strerror(rc));
		return -rc;
	}
	x->th_started = 1;
	request_build(x);
	return 0;
}

/* Called by the daemon right after it switched to store s, before it
 * answers from it: adopt (fast: one config write, a flush on identity
 * change), then the worker rebuilds. Another dimension: wait for the
 * worker, load the program for the new dimension, replace the old one. */
int rvfd_xdp_sync(struct rvfd_xdp *x, rvf_store *s)
{
	char err[512] = "";
	int rc;

	if (!x)
		return 0;
	pthread_mutex_lock(&x->mu);
	rc = rvf_loader_adopt(x->l, s, err, sizeof(err));
	if (rc == -EXDEV) {
		struct rvf_loader_opts lo = { 0 };
		rvf_loader *nl;

		while (x->busy)
			pthread_cond_wait(&x->cv, &x->mu);
		fprintf(stderr, "rvfd: %s: loading the XDP program for the new dimension\n", err);
		lo.defer_fill = 1;
		lo.ifname = x->ifname;
		lo.port = x->port;
		lo.mode = !strcmp(x->mode, "native")    ? RVF_XDP_MODE_NATIVE
			  : !strcmp(x->mode, "generic") ? RVF_XDP_MODE_GENERIC
							: RVF_XDP_MODE_AUTO;
		rc = rvf_loader_open(s, &lo, &nl, err, sizeof(err));
		if (rc == 0 && (rc = rvf_loader_attach(nl, err, sizeof(err))) != 0)
			rvf_loader_close(nl);
		if (rc == 0) {
			rvf_loader_close(x->l);
			x->l = nl;
		}
	}
	if (rc >= 0) {
		x->want = 1;
		pthread_cond_broadcast(&x->cv);
	}
	pthread_mutex_unlock(&x->mu);
	if (rc < 0)
		fprintf(stderr, "rvfd: error: syncing the XDP maps: %s\n", err);
	return rc < 0 ? rc : 0;
}

int rvfd_xdp_cache_key(struct rvfd_xdp *x, uint64_t key[2])
{
	if (!x)
		return -ENOENT;
	pthread_mutex_lock(&x->mu);
	rvf_loader_cache_key(x->l, key);
	pthread_mutex_unlock(&x->mu);
	return 0;
}

int rvfd_xdp_counters(struct rvfd_xdp *x, uint64_t out[RVF_C_MAX])
{
	int fd;

	int rc;

	if (!x)
		return -ENOENT;
	pthread_mutex_lock(&x->mu);
	fd = rvf_loader_map_fd(x->l, "rvf_counters");
	rc = fd < 0 ? -ENOENT : sum_percpu(fd, out);
	pthread_mutex_unlock(&x->mu);
	return rc;
}

int64_t rvfd_xdp_epoch(struct rvfd_xdp *x)
{
	struct rvf_xdp_config c;
	uint32_t zero = 0;
	int fd;

	int64_t ep = -1;

	if (!x)
		return -1;
	pthread_mutex_lock(&x->mu);
	fd = rvf_loader_map_fd(x->l, "rvf_config");
	if (fd >= 0 && bpf_map_lookup_elem(fd, &zero, &c) == 0) {
		struct rvf_xdp_slot p;

		ep = rvf_loader_params(x->l, &p) == 0 ? p.epoch : c.epoch;
	}
	pthread_mutex_unlock(&x->mu);
	return ep;
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
	if (x->th_started) {
		pthread_mutex_lock(&x->mu);
		x->stop = 1;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
		pthread_join(x->th, NULL);
	}
	rvf_loader_close(x->l);
	if (rvf_loader_detach(x->ifname, NULL, err, sizeof(err)))
		fprintf(stderr, "rvfd: warning: detaching from %s: %s\n", x->ifname, err);
	else
		fprintf(stderr, "rvfd: XDP/tc detached from %s, pins removed\n", x->ifname);
	free(x);
}

#endif
