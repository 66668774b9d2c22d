/* maps_fill.c — fills the XDP maps from the store through quant8 (the one
 * quantizer: PACK3 words and 1-bit codes in every entry), builds IVF
 * (k-means over the live vectors, vectors sorted by cluster, rvf_coff
 * offsets) when the store is larger than max_scan, chooses the scan mode
 * (RVF_SCAN_BIN above bin_min vectors) and publishes the result with a
 * single config write. */
#include "loader_int.h"
#include "quant8.h"
#include "rvf_wire.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ENOTSUPP_ 524 /* kernel-internal "operation not supported" */

int ldr_config_get(int fd, struct rvf_xdp_config *c)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(fd, &k, c) ? -errno : 0;
}

int ldr_config_put(int fd, const struct rvf_xdp_config *c)
{
	__u32 k = 0;
	return bpf_map_update_elem(fd, &k, c, BPF_ANY) ? -errno : 0;
}

/* Writes n values (vsz bytes each) at keys 0..n-1: mmap when the map is
 * BPF_F_MMAPABLE, else the batch API, else one update per element. */
static int array_fill(int fd, const void *vals, uint32_t n, uint32_t vsz)
{
	struct bpf_map_info info;
	__u32 il = sizeof info;

	if (n == 0)
		return 0;
	memset(&info, 0, sizeof info);
	if (bpf_obj_get_info_by_fd(fd, &info, &il))
		return -errno;
	if (info.value_size != vsz || info.max_entries < n)
		return -EINVAL;
	if (info.map_flags & BPF_F_MMAPABLE) {
		size_t stride = (vsz + 7) & ~7u, len = (size_t)info.max_entries * stride;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			for (uint32_t i = 0; i < n; i++)
				memcpy((char *)p + (size_t)i * stride, (const char *)vals + (size_t)i * vsz, vsz);
			munmap(p, len);
			return 0;
		}
	}
	const uint32_t chunk = 8192;
	__u32 *keys = malloc(sizeof *keys * (n < chunk ? n : chunk));
	if (!keys)
		return -ENOMEM;
	int err = 0, batch_ok = 1;
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = 0, .flags = 0);
	for (uint32_t at = 0; at < n && !err; at += chunk) {
		__u32 cnt = n - at < chunk ? n - at : chunk;
		for (__u32 i = 0; i < cnt; i++)
			keys[i] = at + i;
		const char *v = (const char *)vals + (size_t)at * vsz;
		if (batch_ok) {
			__u32 done = cnt;
			if (bpf_map_update_batch(fd, keys, v, &done, &bo) == 0 && done == cnt)
				continue;
			if (errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOTSUPP_) {
				err = -errno;
				break;
			}
			batch_ok = 0;
		}
		for (__u32 i = 0; i < cnt; i++)
			if (bpf_map_update_elem(fd, &keys[i], v + (size_t)i * vsz, BPF_ANY)) {
				err = -errno;
				break;
			}
	}
	free(keys);
	return err;
}

/* ---- k-means ------------------------------------------------------------- */

static float l2f(const float *a, const float *b, uint32_t d)
{
	float s = 0;
	for (uint32_t i = 0; i < d; i++) {
		float t = a[i] - b[i];
		s += t * t;
	}
	return s;
}

static uint32_t nearest(const float *cent, uint32_t C, const float *v, uint32_t d)
{
	uint32_t best = 0;
	float bd = INFINITY;
	for (uint32_t c = 0; c < C; c++) {
		float x = l2f(cent + (size_t)c * d, v, d);
		if (x < bd) {
			bd = x;
			best = c;
		}
	}
	return best;
}

/* Lloyd's k-means, deterministic seeding (evenly spaced vectors). Leaves C
 * centroids in cent and the assignment of every vector in asg. Returns the
 * number of non-empty clusters after compaction (cent/asg renumbered). */
static int kmeans(const float *v, uint32_t n, uint32_t d, uint32_t C, float *cent, uint32_t *asg)
{
	double *sum = calloc((size_t)C * d, sizeof *sum);
	uint32_t *cnt = calloc(C, sizeof *cnt), *remap = calloc(C, sizeof *remap);
	if (!sum || !cnt || !remap) {
		free(sum);
		free(cnt);
		free(remap);
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < C; c++)
		memcpy(cent + (size_t)c * d, v + (size_t)((uint64_t)c * n / C) * d, d * sizeof(float));
	/* Train on a strided sample when the store is big. */
	uint32_t step = 1;
	while ((uint64_t)n / step > (uint64_t)C * 64 && (uint64_t)n / step > 20000)
		step++;
	for (int it = 0; it < 8; it++) {
		memset(sum, 0, (size_t)C * d * sizeof *sum);
		memset(cnt, 0, C * sizeof *cnt);
		for (uint32_t i = 0; i < n; i += step) {
			const float *x = v + (size_t)i * d;
			uint32_t c = nearest(cent, C, x, d);
			cnt[c]++;
			for (uint32_t j = 0; j < d; j++)
				sum[(size_t)c * d + j] += x[j];
		}
		for (uint32_t c = 0; c < C; c++)
			if (cnt[c])
				for (uint32_t j = 0; j < d; j++)
					cent[(size_t)c * d + j] = (float)(sum[(size_t)c * d + j] / cnt[c]);
	}
	memset(cnt, 0, C * sizeof *cnt);
	for (uint32_t i = 0; i < n; i++) {
		asg[i] = nearest(cent, C, v + (size_t)i * d, d);
		cnt[asg[i]]++;
	}
	uint32_t k = 0;
	for (uint32_t c = 0; c < C; c++) {
		if (!cnt[c])
			continue;
		remap[c] = k;
		if (k != c)
			memmove(cent + (size_t)k * d, cent + (size_t)c * d, d * sizeof(float));
		k++;
	}
	for (uint32_t i = 0; i < n; i++)
		asg[i] = remap[asg[i]];
	free(sum);
	free(cnt);
	free(remap);
	return (int)k;
}

/* ---- sync ---------------------------------------------------------------- */

struct fill_state {
	float *vecs;   /* n x dim (normalized copies for cosine k-means) */
	uint64_t *ids;
	uint8_t *ent;  /* n entries */
	uint8_t *cent_ent;
	float *cent;
	uint32_t *asg, *order, *coff;
	uint8_t *u;
	uint64_t *bins; /* n x RVF_BIN_WORDS(dim), scan order */
};

static void fill_free(struct fill_state *f)
{
	free(f->vecs);
	free(f->ids);
	free(f->ent);
	free(f->cent_ent);
	free(f->cent);
	free(f->asg);
	free(f->order);
	free(f->coff);
	free(f->u);
	free(f->bins);
}

/* Two-stage scan (RVF_SCAN_BIN) above bin_min vectors. Unless the caller
 * fixed R (opts.rerank), R is calibrated on the store's own vectors: the
 * candidate set one query sees (all n, or about n * nprobe / C members in
 * cluster order for IVF; at most CAL_MAX vectors) is quantized, CAL_NQ of
 * them are queries against the others (leave one out) and the smallest R
 * of {32, 64, 128} whose recall@10 against the exact int8 top-10 is at
 * least CAL_TARGET is used. If none is, the 1-bit codes do not separate
 * this data well enough and the exact PACK3 scan stays. */
#define CAL_MAX 8192u
#define CAL_NQ 64u
#define CAL_TARGET 0.95

static int choose_scan(rvf_loader *l, const rvf_store *s, const quant8_params *p,
		       const uint32_t *order, uint32_t n, uint32_t C, uint32_t *mode, uint32_t *R)
{
	uint32_t dim = l->dim, bin_min = l->o.bin_min ? l->o.bin_min : RVF_LOADER_DEF_BIN_MIN;
	static const uint32_t Rs[] = {32, 64, RVF_XDP_MAX_RERANK};
	double rec[3];

	*mode = RVF_SCAN_PACK3;
	*R = l->o.rerank ? l->o.rerank : RVF_XDP_DEF_RERANK;
	if (n <= bin_min || n > RVF_XDP_BIN_CAP)
		return 0;
	if (l->o.rerank) {
		*mode = RVF_SCAN_BIN;
		return 0;
	}
	uint64_t scan = C ? ((uint64_t)n * (l->o.nprobe ? l->o.nprobe : 1) + C - 1) / C : n;
	uint32_t m = (uint32_t)(scan < n ? scan : n), step = 1, start = 0;
	if (m > CAL_MAX) {
		step = m / CAL_MAX;
		m = CAL_MAX;
	}
	if (C && (uint64_t)m * step < n)
		start = (n - m * step) / 2;
	uint8_t *u = malloc((size_t)m * dim);
	if (!u)
		return -ENOMEM;
	for (uint32_t j = 0; j < m; j++) {
		const float *v;
		uint64_t id;
		uint32_t i = order[start + j * step];
		if (rvf_live_get(s, i, &id, &v) || quant8_quantize(p, v, u + (size_t)j * dim)) {
			free(u);
			return -EIO;
		}
	}
	int r = quant8_bin_calibrate(u, m, dim, CAL_NQ, 10, CAL_TARGET, Rs, 3, rec);
	free(u);
	if (getenv("RVF_CAL_DEBUG")) /* operator aid: why BIN was or was not chosen */
		fprintf(stderr, "calibrate: n %u C %u m %u step %u start %u: %.3f %.3f %.3f -> %d\n", n, C, m,
			step, start, rec[0], rec[1], rec[2], r);
	if (r < 0)
		return -ENOMEM;
	if (r > 0) {
		*mode = RVF_SCAN_BIN;
		*R = (uint32_t)r;
	}
	return 0;
}

static uint32_t auto_centroids(uint32_t n, uint32_t max_scan, uint32_t nprobe)
{
	uint32_t c = (uint32_t)ceil(sqrt((double)n));
	uint64_t need = ((uint64_t)n * nprobe + max_scan - 1) / max_scan;
	if (need > c)
		c = (uint32_t)(need < RVF_XDP_MAX_CENTROIDS ? need : RVF_XDP_MAX_CENTROIDS);
	if (c > RVF_XDP_MAX_CENTROIDS)
		c = RVF_XDP_MAX_CENTROIDS;
	if (c > n)
		c = n;
	return c ? c : 1;
}

int rvf_loader_sync(rvf_loader *l, const rvf_store *s, char *err, size_t errlen)
{
	struct fill_state f;
	quant8_params p;
	struct ldr_obj nobj;
	struct rvf_xdp_config old, cfg;
	rvf_status st;
	int e, have_new = 0;

	memset(&f, 0, sizeof f);
	memset(&p, 0, sizeof p);
	memset(&nobj, 0, sizeof nobj);
	if (rvf_dimension(s) != l->dim)
		return ldr_err(err, errlen, "store dimension %u, loader built for %u", rvf_dimension(s),
			       l->dim), -EINVAL;
	e = rvf_get_status(s, &st);
	if (e)
		return ldr_err(err, errlen, "store status: %s: %s", rvf_strerror(e), rvf_last_error()), -EIO;
	uint64_t live = rvf_live_count(s);
	if (live > UINT32_MAX)
		return ldr_err(err, errlen, "too many vectors for a BPF array"), -E2BIG;
	uint32_t n = (uint32_t)live, dim = l->dim, vsz = RVF_XDP_VEC_SIZE(dim);

	int cfd = ldr_map_fd(&l->xdp, "rvf_config");
	if (cfd < 0)
		return ldr_err(err, errlen, "rvf_config map missing"), -ENOENT;
	memset(&old, 0, sizeof old);
	if ((e = ldr_config_get(cfd, &old)))
		return ldr_err(err, errlen, "reading rvf_config: %s", strerror(-e)), e;

	/* 1. Stop answering from the maps; wait for packets in flight (an XDP
	 *    run is bounded by max_scan/IVF to well below a millisecond). */
	cfg = old;
	cfg.enabled = 0;
	if (old.enabled) {
		if ((e = ldr_config_put(cfd, &cfg)))
			return ldr_err(err, errlen, "disabling rvf_config: %s", strerror(-e)), e;
		usleep(5000);
	}

	/* 2. A bigger rvf_vecs needs a new object (max_entries is fixed). */
	struct ldr_obj *x = &l->xdp;
	if (n > l->vecs_cap) {
		e = ldr_open_xdp(l, s, n, &nobj, l, err, errlen);
		if (e)
			goto out;
		have_new = 1;
		x = &nobj;
	}

	/* 3. Quantizer from the live vectors. */
	f.vecs = malloc((size_t)(n ? n : 1) * dim * sizeof(float));
	f.ids = malloc((size_t)(n ? n : 1) * sizeof *f.ids);
	f.ent = malloc((size_t)(n ? n : 1) * vsz);
	f.u = malloc(dim + 4);
	if (!f.vecs || !f.ids || !f.ent || !f.u) {
		e = -ENOMEM;
		ldr_err(err, errlen, "sync: %s", strerror(ENOMEM));
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		const float *v;
		if ((e = rvf_live_get(s, i, &f.ids[i], &v))) {
			ldr_err(err, errlen, "store vector %u: %s: %s", i, rvf_strerror(e), rvf_last_error());
			e = -EIO;
			goto out;
		}
		memcpy(f.vecs + (size_t)i * dim, v, dim * sizeof(float));
	}
	e = quant8_params_init(&p, f.vecs, n, dim, l->metric);
	if (e) {
		ldr_err(err, errlen, "quantizer parameters: %s", strerror(-e));
		goto out;
	}
	int usable = p.xdp_ok;
	struct rvf_xdp_quant q;
	memset(&q, 0, sizeof q);
	if (usable && quant8_fill_xdp(&p, &q) != 0)
		usable = 0;
	if (!usable)
		ldr_warn(l, "quantizer parameters not usable in XDP (scale out of range): every query goes to the daemon");

	/* 4. IVF when brute force would exceed the budget. */
	uint32_t C = 0;
	if (usable && n > l->o.max_scan) {
		C = l->o.ncentroids ? l->o.ncentroids : auto_centroids(n, l->o.max_scan, l->o.nprobe);
		if (C > RVF_XDP_MAX_CENTROIDS)
			C = RVF_XDP_MAX_CENTROIDS;
		if (C > n)
			C = n;
		if (l->metric == RVF_METRIC_COSINE)
			for (uint32_t i = 0; i < n; i++)
				quant8_normalize(f.vecs + (size_t)i * dim, dim);
		f.cent = malloc((size_t)C * dim * sizeof(float));
		f.asg = malloc((size_t)n * sizeof *f.asg);
		if (!f.cent || !f.asg) {
			e = -ENOMEM;
			ldr_err(err, errlen, "IVF: %s", strerror(ENOMEM));
			goto out;
		}
		int k = kmeans(f.vecs, n, dim, C, f.cent, f.asg);
		if (k < 0) {
			e = k;
			ldr_err(err, errlen, "IVF k-means: %s", strerror(-e));
			goto out;
		}
		C = ldr_ivf_cap(l, f.asg, n, (uint32_t)k);
	}
	f.order = malloc((size_t)(n ? n : 1) * sizeof *f.order);
	f.coff = calloc((size_t)C + 2, sizeof *f.coff);
	if (!f.order || !f.coff) {
		e = -ENOMEM;
		ldr_err(err, errlen, "sync: %s", strerror(ENOMEM));
		goto out;
	}
	if (C) { /* counting sort by cluster, stable (live order inside a cluster) */
		for (uint32_t i = 0; i < n; i++)
			f.coff[f.asg[i] + 1]++;
		for (uint32_t c = 0; c < C; c++)
			f.coff[c + 1] += f.coff[c];
		uint32_t *pos = malloc((size_t)C * sizeof *pos);
		if (!pos) {
			e = -ENOMEM;
			goto out;
		}
		memcpy(pos, f.coff, (size_t)C * sizeof *pos);
		for (uint32_t i = 0; i < n; i++)
			f.order[pos[f.asg[i]]++] = i;
		free(pos);
	} else {
		for (uint32_t i = 0; i < n; i++)
			f.order[i] = i;
	}

	/* 5. Entries (quant8 packing) in scan order. The f32 copies may be
	 *    normalized already (cosine IVF): quant8_quantize normalizes
	 *    again, which leaves unit vectors unchanged up to rounding, so
	 *    quantize from the store's own floats instead. */
	uint32_t bw = RVF_BIN_WORDS(dim), nblk = (n + RVF_XDP_BIN_BLOCK - 1) / RVF_XDP_BIN_BLOCK;
	if (usable && n <= RVF_XDP_BIN_CAP &&
	    !(f.bins = calloc((size_t)(nblk ? nblk : 1) * RVF_XDP_BIN_BLOCK * bw, 8))) {
		e = -ENOMEM;
		ldr_err(err, errlen, "sync: %s", strerror(ENOMEM));
		goto out;
	}
	for (uint32_t j = 0; usable && j < n; j++) {
		uint32_t i = f.order[j];
		const float *v;
		uint64_t id;
		if ((e = rvf_live_get(s, i, &id, &v))) {
			e = -EIO;
			ldr_err(err, errlen, "store vector %u: %s", i, rvf_last_error());
			goto out;
		}
		if (quant8_quantize(&p, v, f.u) != 0) {
			ldr_warn(l, "vector id %llu holds inf/nan: XDP disabled, every query goes to the daemon",
				 (unsigned long long)id);
			usable = 0;
			break;
		}
		quant8_vec_entry(f.u, dim, id, f.ent + (size_t)j * vsz);
		if (f.bins)
			quant8_bin(f.u, dim, f.bins + (size_t)j * bw);
	}

	/* 5b. Scan mode (see choose_scan). */
	uint32_t scan_mode = RVF_SCAN_PACK3, rerank = RVF_XDP_DEF_RERANK;
	if (usable && (e = choose_scan(l, s, &p, f.order, n, C, &scan_mode, &rerank))) {
		ldr_err(err, errlen, "choosing the scan mode: %s", strerror(-e));
		goto out;
	}

	/* 6. Write the maps. */
	if (usable) {
		__u32 k0 = 0;
		int qfd = ldr_map_fd(x, "rvf_quant"), vfd = ldr_map_fd(x, "rvf_vecs");
		if (qfd < 0 || vfd < 0) {
			e = -ENOENT;
			ldr_err(err, errlen, "rvf_quant/rvf_vecs missing in the XDP object");
			goto out;
		}
		if (bpf_map_update_elem(qfd, &k0, &q, BPF_ANY)) {
			e = -errno;
			ldr_err(err, errlen, "writing rvf_quant: %s", strerror(-e));
			goto out;
		}
		if ((e = array_fill(vfd, f.ent, n, vsz))) {
			ldr_err(err, errlen, "writing %u vectors into rvf_vecs: %s", n, strerror(-e));
			goto out;
		}
		if (scan_mode == RVF_SCAN_BIN) {
			int bfd = ldr_map_fd(x, "rvf_bins");
			if (bfd < 0 || !f.bins) {
				ldr_warn(l, "XDP object has no rvf_bins map: the two-stage scan is not available, PACK3 is used");
				scan_mode = RVF_SCAN_PACK3;
			} else if ((e = array_fill(bfd, f.bins, nblk, RVF_XDP_BIN_SIZE(dim)))) {
				ldr_err(err, errlen, "writing %u codes into rvf_bins: %s", n, strerror(-e));
				goto out;
			}
		}
		if (C) {
			int cefd = ldr_map_fd(x, "rvf_cents"), cofd = ldr_map_fd(x, "rvf_coff");
			if (cefd < 0 || cofd < 0) {
				ldr_warn(l, "XDP object has no rvf_cents/rvf_coff: IVF not available, queries above max_scan go to the daemon");
				C = 0;
			} else {
				f.cent_ent = malloc((size_t)C * vsz);
				if (!f.cent_ent) {
					e = -ENOMEM;
					goto out;
				}
				for (uint32_t c = 0; c < C; c++) {
					if (quant8_quantize(&p, f.cent + (size_t)c * dim, f.u) != 0)
						memset(f.u, 128, dim);
					quant8_vec_entry(f.u, dim, c, f.cent_ent + (size_t)c * vsz);
				}
				if ((e = array_fill(cefd, f.cent_ent, C, vsz)) ||
				    (e = array_fill(cofd, f.coff, C + 1, sizeof(__u32)))) {
					ldr_err(err, errlen, "writing IVF maps: %s", strerror(-e));
					goto out;
				}
			}
		}
	}

	/* 7. New object: replace the attached program before publishing. */
	if (have_new) {
		if (l->attached != RVF_XDP_MODE_AUTO) {
			e = ldr_replace_xdp(l, &nobj, err, errlen);
			if (e)
				goto out;
		}
		ldr_obj_free(&l->xdp);
		l->xdp = nobj;
		memset(&nobj, 0, sizeof nobj);
		have_new = 0;
		l->vecs_cap = n;
		x = &l->xdp;
		cfd = ldr_map_fd(x, "rvf_config"); /* the old object's fd is closed */
	}

	/* 8. Publish: one write of the whole config. */
	cfg = old;
	cfg.nvec = usable ? n : 0;
	cfg.epoch = st.epoch;
	cfg.dim = dim;
	cfg.metric = (__u32)l->metric;
	cfg.scale = p.scale;
	cfg.max_scan = l->o.max_scan;
	cfg.ncentroids = C;
	cfg.nprobe = l->o.nprobe;
	cfg.cache_enabled = l->o.no_cache ? 0 : 1;
	cfg.scan_mode = scan_mode;
	cfg.rerank = rerank;
	cfg.enabled = usable ? 1 : 0;
	if ((e = ldr_config_put(cfd, &cfg))) {
		ldr_err(err, errlen, "writing rvf_config: %s", strerror(-e));
		goto out;
	}
	e = 0;
out:
	if (have_new)
		ldr_obj_free(&nobj);
	quant8_params_free(&p);
	fill_free(&f);
	return e;
}
