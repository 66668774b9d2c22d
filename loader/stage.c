/* stage.c — live change without an outage: adopt a new store state at once
 * (result cache invalidated, XDP disabled only when the maps cannot serve
 * it), build the next map set beside the live one (another thread may do
 * this), publish it with one atomic program replacement. */
#include "loader_int.h"
#include "rvf_wire.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rvf_loader_stage {
	struct ldr_obj obj;
	uint32_t slot, cap, dim;
	int metric, usable, reclustered;
	uint8_t file_id[16];
	struct rvf_xdp_slot par;
	struct ldr_ivf ivf;
	double build_ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int rvf_loader_adopt(rvf_loader *l, const rvf_store *s, char *err, size_t errlen)
{
	rvf_status st;
	rvf_identity id;
	int e;

	if ((e = rvf_get_status(s, &st)) || (e = rvf_get_identity(s, &id)))
		return ldr_err(err, errlen, "store status: %s: %s", rvf_strerror(e), rvf_last_error()), -EIO;
	int metric = (int)rvf_get_metric(s);
	int dim_changed = rvf_dimension(s) != l->dim;
	int changed = !l->synced || memcmp(id.file_id, l->file_id, 16) != 0 || st.epoch < l->epoch ||
		      metric != l->metric || dim_changed;
	if ((e = ldr_cache_invalidate(l, st.epoch, changed, changed, err, errlen)))
		return e;
	memcpy(l->file_id, id.file_id, 16);
	l->epoch = st.epoch;
	l->metric = metric;
	l->synced = 1;
	if (dim_changed)
		return ldr_err(err, errlen, "store dimension %u, XDP program built for %u: reopen the loader",
			       rvf_dimension(s), l->dim), -EXDEV;
	return changed;
}

int rvf_loader_stage_build(rvf_loader *l, const rvf_store *s, rvf_loader_stage **out, char *err,
			   size_t errlen)
{
	rvf_identity id;
	double t0 = now_ms();
	int e;

	*out = NULL;
	if (rvf_dimension(s) != l->dim)
		return ldr_err(err, errlen, "store dimension %u, XDP program built for %u", rvf_dimension(s),
			       l->dim), -EXDEV;
	if ((e = rvf_get_identity(s, &id)))
		return ldr_err(err, errlen, "store identity: %s: %s", rvf_strerror(e), rvf_last_error()), -EIO;
	uint64_t live = rvf_live_count(s);
	if (live > UINT32_MAX)
		return ldr_err(err, errlen, "too many vectors for a BPF array"), -E2BIG;
	rvf_loader_stage *st = calloc(1, sizeof *st);
	if (!st)
		return ldr_err(err, errlen, "stage: %s", strerror(ENOMEM)), -ENOMEM;
	/* Room for appends: the next builds reuse nothing of this object, but a
	 * bigger map now costs little. */
	st->cap = live ? (uint32_t)live : 1;
	st->slot = 1 - l->slot;
	st->dim = l->dim;
	st->metric = (int)rvf_get_metric(s);
	memcpy(st->file_id, id.file_id, 16);
	e = ldr_open_xdp(l, s, st->cap, st->slot, &st->obj, l, err, errlen);
	if (!e)
		e = ldr_fill_maps(l, s, &l->ivf, &st->obj, &st->par, &st->usable, &st->ivf,
				  &st->reclustered, err, errlen);
	if (e) {
		rvf_loader_stage_free(st);
		return e;
	}
	st->build_ms = now_ms() - t0;
	*out = st;
	return 0;
}

void rvf_loader_stage_free(rvf_loader_stage *st)
{
	if (!st)
		return;
	ldr_obj_free(&st->obj);
	ldr_ivf_free(&st->ivf);
	free(st);
}

void rvf_loader_stage_info(const rvf_loader_stage *st, struct rvf_loader_stage_info *out)
{
	memset(out, 0, sizeof *out);
	out->nvec = st->par.nvec;
	out->epoch = st->par.epoch;
	out->ncentroids = st->par.ncentroids;
	out->usable = st->usable;
	out->reclustered = st->reclustered;
	out->build_ms = st->build_ms;
}

int rvf_loader_stage_publish(rvf_loader *l, rvf_loader_stage *st, char *err, size_t errlen)
{
	struct rvf_xdp_config c;
	int e, cfd = ldr_map_fd(&l->xdp, "rvf_config");

	if (st->dim != l->dim || st->metric != l->metric || !l->synced ||
	    memcmp(st->file_id, l->file_id, 16) != 0 || st->slot == l->slot) {
		rvf_loader_stage_free(st);
		return ldr_err(err, errlen, "the stage was built for another store state: dropped"), -ESTALE;
	}
	if (cfd < 0) {
		rvf_loader_stage_free(st);
		return ldr_err(err, errlen, "rvf_config map missing"), -ENOENT;
	}
	/* 1. The new slot's parameters (the live program reads the other one);
	 *    an unusable set switches XDP off first. */
	if ((e = ldr_config_get(cfd, &c)))
		goto fail_cfg;
	ldr_slot_put(&c, st->slot, &st->par);
	if (!st->usable)
		c.enabled = 0;
	if ((e = ldr_config_put(cfd, &c)))
		goto fail_cfg;
	/* 2. One atomic replacement: every packet runs either program whole. */
	if (l->attached != RVF_XDP_MODE_AUTO && (e = ldr_replace_xdp(l, &st->obj, err, errlen))) {
		rvf_loader_stage_free(st);
		return e;
	}
	ldr_obj_free(&l->xdp);
	l->xdp = st->obj;
	memset(&st->obj, 0, sizeof st->obj);
	l->slot = st->slot;
	l->vecs_cap = st->cap;
	ldr_ivf_free(&l->ivf);
	l->ivf = st->ivf;
	memset(&st->ivf, 0, sizeof st->ivf);
	/* 3. On (the cache fields belong to the adopted state: untouched). */
	cfd = ldr_map_fd(&l->xdp, "rvf_config");
	if ((e = ldr_config_get(cfd, &c)))
		goto fail_cfg;
	c.active_slot = l->slot;
	c.cache_enabled = l->o.no_cache ? 0 : 1;
	c.enabled = st->usable ? 1 : 0;
	if ((e = ldr_config_put(cfd, &c)))
		goto fail_cfg;
	rvf_loader_stage_free(st);
	return 0;
fail_cfg:
	rvf_loader_stage_free(st);
	return ldr_err(err, errlen, "rvf_config: %s", strerror(-e)), e;
}

int rvf_loader_params(const rvf_loader *l, struct rvf_xdp_slot *out)
{
	struct rvf_xdp_config c;
	int cfd = ldr_map_fd(&l->xdp, "rvf_config"), e;

	if (cfd < 0)
		return -ENOENT;
	if ((e = ldr_config_get(cfd, &c)))
		return e;
	ldr_slot_get(&c, l->slot, out);
	return 0;
}
