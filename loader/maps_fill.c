/* maps_fill.c — fills the XDP maps from the store through quant8 (the one
 * quantizer: PACK3 words and 1-bit codes in every entry), builds IVF
 * (k-means over the live vectors, vectors sorted by cluster, rvf_coff
 * offsets) when the store is larger than max_scan, chooses the scan mode
 * (RVF_SCAN_BIN above bin_min vectors) and publishes the result with a
 * single config write. */
#include "rvf_frontend.h"
#include "loader_int.h"
#include "quant8_xdp.h"
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

int ldr_map_flush(int fd, uint32_t key_size)
{
	uint8_t key[64];

	if (key_size > sizeof key)
		return -EINVAL;
	/* Always restart from the first key: deleting the current one would
	 * end a get_next_key walk. */
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}

int ldr_cache_invalidate(rvf_loader *l, uint32_t epoch, int disable, int flush, char *err,
			 size_t errlen)
{
	struct rvf_xdp_config c;
	int cfd = ldr_map_fd(&l->xdp, "rvf_config"), e;

	if (cfd < 0)
		return ldr_err(err, errlen, "rvf_config map missing"), -ENOENT;
	if ((e = ldr_config_get(cfd, &c)))
		return ldr_err(err, errlen, "reading rvf_config: %s", strerror(-e)), e;
	c.cache_gen++;
	c.cache_epoch = epoch;
	c.qkey[0] = l->qkey[0];
	c.qkey[1] = l->qkey[1];
	if (disable)
		c.enabled = 0;
	if ((e = ldr_config_put(cfd, &c)))
		return ldr_err(err, errlen, "writing rvf_config: %s", strerror(-e)), e;
	if (!flush)
		return 0;
	int fd = ldr_map_fd(&l->xdp, "rvf_cache");
	if (fd >= 0 && (e = ldr_map_flush(fd, sizeof(struct rvf_cache_key))))
		return ldr_err(err, errlen, "emptying rvf_cache: %s", strerror(-e)), e;
	fd = ldr_map_fd(&l->xdp, "rvf_pending");
	if (fd >= 0 && (e = ldr_map_flush(fd, sizeof(struct rvf_pending_key))))
		return ldr_err(err, errlen, "emptying rvf_pending: %s", strerror(-e)), e;
	return 0;
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

/* Nearest centroid: the library's SIMD batch distance (AVX-512/AVX2), ~10x
 * the scalar loop, which dominated the time to the first XDP answer (k-means
 * at 65,536 x 128 took seconds). Up to RVF_XDP_MAX_CENTROIDS per call. */
static uint32_t nearest(const float *cent, uint32_t C, const float *v, uint32_t d)
{
	float dist[RVF_XDP_MAX_CENTROIDS];
	uint32_t best = 0;
	float bd = INFINITY;

	if (C > RVF_XDP_MAX_CENTROIDS)
		C = RVF_XDP_MAX_CENTROIDS;
	rvf_dist_batch(RVF_METRIC_L2, v, cent, C, d, d, dist);
	for (uint32_t c = 0; c < C; c++) {
		if (dist[c] < bd) {
			bd = dist[c];
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

/* Vectors join the clusters of the last build: a vector whose id the hint
 * holds keeps its cluster (looked up by id, so appends, deletes and another
 * live order all work), the others go to their nearest centroid. Refused
 * (0) for another dimension/metric, more clusters than this store would
 * get, when fewer than half of the vectors are known, or when the
 * clusters drift out of balance (an empty cluster, a cluster above twice
 * the largest one k-means made plus 16, or the store doubled since k-means
 * ran): k-means runs again then. */
static int ivf_extend(const struct ldr_ivf *h, const uint64_t *ids, const float *v, uint32_t n,
		      uint32_t dim, int metric, float *cent, uint32_t *asg, uint32_t *C)
{
	/* cent holds *C centroids: more than that, k-means again */
	if (!h || !h->C || !h->cent || !h->n || h->dim != dim || h->metric != metric || h->C > *C ||
	    (uint64_t)n > 2ull * h->n_kmeans)
		return 0;
	uint32_t cap = 1;
	while (cap < 2 * h->n)
		cap <<= 1;
	uint32_t *slot = malloc((size_t)cap * sizeof *slot), *cnt = calloc(h->C, sizeof *cnt);
	uint32_t known = 0, mx = 0;
	int ok = 0;
	if (!slot || !cnt)
		goto out;
	memset(slot, 0xff, (size_t)cap * sizeof *slot);
	for (uint32_t i = 0; i < h->n; i++) { /* open addressing, id -> index in h */
		uint32_t j = (uint32_t)((h->ids[i] * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
		while (slot[j] != UINT32_MAX)
			j = (j + 1) & (cap - 1);
		slot[j] = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = (uint32_t)((ids[i] * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1), c = UINT32_MAX;
		for (; slot[j] != UINT32_MAX; j = (j + 1) & (cap - 1))
			if (h->ids[slot[j]] == ids[i]) {
				c = h->asg[slot[j]];
				break;
			}
		if (c < h->C)
			known++;
		else
			c = nearest(h->cent, h->C, v + (size_t)i * dim, dim);
		asg[i] = c;
		cnt[c]++;
	}
	uint32_t empty = 0;
	for (uint32_t c = 0; c < h->C; c++) {
		mx = cnt[c] > mx ? cnt[c] : mx;
		empty += cnt[c] == 0;
	}
	/* no empty cluster (as after k-means), balanced, mostly known */
	ok = !empty && 2ull * known >= n && (uint64_t)mx <= 2ull * h->max_kmeans + 16;
	if (ok) {
		memcpy(cent, h->cent, (size_t)h->C * dim * sizeof(float));
		*C = h->C;
	}
out:
	free(slot);
	free(cnt);
	return ok;
}

void ldr_ivf_free(struct ldr_ivf *v)
{
	free(v->cent);
	free(v->ids);
	free(v->asg);
	memset(v, 0, sizeof *v);
}

void ldr_slot_get(const struct rvf_xdp_config *c, uint32_t s, struct rvf_xdp_slot *o)
{
	if (s) {
		*o = c->slot1;
		return;
	}
	memset(o, 0, sizeof *o);
	o->nvec = c->nvec;
	o->epoch = c->epoch;
	o->dim = c->dim;
	o->metric = c->metric;
	o->scale = c->scale;
	o->max_scan = c->max_scan;
	o->ncentroids = c->ncentroids;
	o->nprobe = c->nprobe;
	o->scan_mode = c->scan_mode;
	o->rerank = c->rerank;
}

void ldr_slot_put(struct rvf_xdp_config *c, uint32_t s, const struct rvf_xdp_slot *i)
{
	if (s) {
		c->slot1 = *i;
		return;
	}
	c->nvec = i->nvec;
	c->epoch = i->epoch;
	c->dim = i->dim;
	c->metric = i->metric;
	c->scale = i->scale;
	c->max_scan = i->max_scan;
	c->ncentroids = i->ncentroids;
	c->nprobe = i->nprobe;
	c->scan_mode = i->scan_mode;
	c->rerank = i->rerank;
}

int ldr_fill_maps(rvf_loader *l, const rvf_store *s, const struct ldr_ivf *hint, struct ldr_obj *x,
		  struct rvf_xdp_slot *par, int *usable_out, struct ldr_ivf *ivf_out, int *reclustered,
		  char *err, size_t errlen)
{
	struct fill_state f;
	quant8_params p;
	rvf_status st;
	int e;
	uint32_t n_kmeans = 0, max_kmeans = 0;

	memset(&f, 0, sizeof f);
	memset(&p, 0, sizeof p);
	memset(ivf_out, 0, sizeof *ivf_out);
	*usable_out = 0;
	*reclustered = 0;
	if ((e = rvf_get_status(s, &st)))
		return ldr_err(err, errlen, "store status: %s: %s", rvf_strerror(e), rvf_last_error()), -EIO;
	if (rvf_dimension(s) != l->dim)
		return ldr_err(err, errlen, "store dimension %u, XDP program built for %u", rvf_dimension(s),
			       l->dim), -EXDEV;
	uint64_t live = rvf_live_count(s);
	if (live > UINT32_MAX)
		return ldr_err(err, errlen, "too many vectors for a BPF array"), -E2BIG;
	int metric = (int)rvf_get_metric(s);
	uint32_t n = (uint32_t)live, dim = l->dim, vsz = RVF_XDP_VEC_SIZE(dim);

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
	e = quant8_params_init(&p, f.vecs, n, dim, metric);
	if (e) {
		ldr_err(err, errlen, "quantizer parameters: %s", strerror(-e));
		goto out;
	}
	int usable = p.fx_ok;
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
		if (metric == RVF_METRIC_COSINE)
			for (uint32_t i = 0; i < n; i++)
				quant8_normalize(f.vecs + (size_t)i * dim, dim);
		f.cent = malloc((size_t)C * dim * sizeof(float));
		f.asg = malloc((size_t)n * sizeof *f.asg);
		if (!f.cent || !f.asg) {
			e = -ENOMEM;
			ldr_err(err, errlen, "IVF: %s", strerror(ENOMEM));
			goto out;
		}
		/* Appended vectors join the clusters unless that leaves one
		 * larger than max_scan (then XDP could not scan it: k-means). */
		if (ivf_extend(hint, f.ids, f.vecs, n, dim, metric, f.cent, f.asg, &C) &&
		    ldr_ivf_biggest(f.asg, n, C, NULL) <= l->o.max_scan) {
			*reclustered = 0; /* appended vectors joined the clusters */
			n_kmeans = hint->n_kmeans;
			max_kmeans = hint->max_kmeans;
		} else {
			int k = kmeans(f.vecs, n, dim, C, f.cent, f.asg);
			if (k < 0) {
				e = k;
				ldr_err(err, errlen, "IVF k-means: %s", strerror(-e));
				goto out;
			}
			C = (uint32_t)k;
			*reclustered = 1;
			n_kmeans = n;
			uint32_t *cnt = calloc(C ? C : 1, sizeof *cnt);
			if (!cnt) {
				e = -ENOMEM;
				goto out;
			}
			for (uint32_t i = 0; i < n; i++)
				cnt[f.asg[i]]++;
			for (uint32_t c = 0; c < C; c++)
				max_kmeans = cnt[c] > max_kmeans ? cnt[c] : max_kmeans;
			free(cnt);
		}
		C = ldr_ivf_cap(l, f.asg, n, C);
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

	memset(par, 0, sizeof *par);
	par->nvec = usable ? n : 0;
	par->epoch = st.epoch;
	par->dim = dim;
	par->metric = (__u32)metric;
	par->scale = p.scale;
	par->max_scan = l->o.max_scan;
	par->ncentroids = C;
	par->nprobe = l->o.nprobe;
	par->scan_mode = scan_mode;
	par->rerank = rerank;
	*usable_out = usable;
	if (usable && C && f.cent && f.asg) { /* kept for the next (incremental) build */
		ivf_out->cent = f.cent;
		ivf_out->asg = f.asg;
		ivf_out->ids = f.ids;
		ivf_out->C = C;
		ivf_out->dim = dim;
		ivf_out->metric = metric;
		ivf_out->n = n;
		ivf_out->n_kmeans = n_kmeans;
		ivf_out->max_kmeans = max_kmeans;
		f.cent = NULL;
		f.asg = NULL;
		f.ids = NULL;
	}
	e = 0;
out:
	quant8_params_free(&p);
	fill_free(&f);
	return e;
}

int rvf_loader_sync(rvf_loader *l, const rvf_store *s, char *err, size_t errlen)
{
	struct ldr_obj nobj;
	struct rvf_xdp_config cfg;
	struct rvf_xdp_slot par;
	struct ldr_ivf nivf;
	rvf_status st;
	int e, have_new = 0, usable = 0, recl = 0;

	memset(&nobj, 0, sizeof nobj);
	memset(&nivf, 0, sizeof nivf);
	e = rvf_get_status(s, &st);
	if (e)
		return ldr_err(err, errlen, "store status: %s: %s", rvf_strerror(e), rvf_last_error()), -EIO;
	rvf_identity ident;
	if ((e = rvf_get_identity(s, &ident)))
		return ldr_err(err, errlen, "store identity: %s: %s", rvf_strerror(e), rvf_last_error()), -EIO;
	int metric = (int)rvf_get_metric(s);

	/* 1. Stop answering from the maps and kill every cached answer and
	 *    pending query of the previous state (cache_gen + 1) before
	 *    anything can fail: the caller serves the new store from now on.
	 *    Another file, an epoch regression (restored backup), another
	 *    metric or dimension also empty the cache and pending maps. */
	int changed = !l->synced || memcmp(ident.file_id, l->file_id, 16) != 0 || st.epoch < l->epoch ||
		      metric != l->metric || rvf_dimension(s) != l->dim;
	if ((e = ldr_cache_invalidate(l, st.epoch, 1, changed, err, errlen)))
		return e;
	l->synced = 0;
	if (rvf_dimension(s) != l->dim)
		return ldr_err(err, errlen, "store dimension %u, XDP program built for %u: reopen the loader",
			       rvf_dimension(s), l->dim), -EXDEV;
	l->metric = metric;
	uint64_t live = rvf_live_count(s);
	if (live > UINT32_MAX)
		return ldr_err(err, errlen, "too many vectors for a BPF array"), -E2BIG;
	uint32_t n = (uint32_t)live;
	usleep(5000); /* packets in flight (an XDP run is well below 1 ms) */

	/* 2. A bigger rvf_vecs needs a new object (max_entries is fixed): it
	 *    reads the other parameter slot and gets its own data maps. */
	struct ldr_obj *x = &l->xdp;
	uint32_t slot = l->slot;
	if (n > l->vecs_cap) {
		slot = 1 - l->slot;
		e = ldr_open_xdp(l, s, n, slot, &nobj, l, err, errlen);
		if (e)
			goto out;
		have_new = 1;
		x = &nobj;
	}
	/* 3.-6. quantize, IVF, write the data maps */
	if ((e = ldr_fill_maps(l, s, &l->ivf, x, &par, &usable, &nivf, &recl, err, errlen)))
		goto out;

	/* 7. New object: its slot's parameters, then replace the attached program. */
	int cfd = ldr_map_fd(&l->xdp, "rvf_config");
	if (cfd < 0 || (e = ldr_config_get(cfd, &cfg))) {
		e = cfd < 0 ? -ENOENT : e;
		ldr_err(err, errlen, "reading rvf_config: %s", strerror(-e));
		goto out;
	}
	ldr_slot_put(&cfg, slot, &par);
	if (have_new && (e = ldr_config_put(cfd, &cfg))) {
		ldr_err(err, errlen, "writing rvf_config: %s", strerror(-e));
		goto out;
	}
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
		l->slot = slot;
		cfd = ldr_map_fd(&l->xdp, "rvf_config"); /* the old object's fd is closed */
	}

	/* 8. Publish: one write of the whole config. */
	cfg.active_slot = l->slot;
	cfg.cache_enabled = l->o.no_cache ? 0 : 1;
	cfg.enabled = usable ? 1 : 0;
	cfg.cache_gen++;
	cfg.cache_epoch = st.epoch;
	cfg.qkey[0] = l->qkey[0];
	cfg.qkey[1] = l->qkey[1];
	if ((e = ldr_config_put(cfd, &cfg))) {
		ldr_err(err, errlen, "writing rvf_config: %s", strerror(-e));
		goto out;
	}
	ldr_ivf_free(&l->ivf);
	l->ivf = nivf;
	memset(&nivf, 0, sizeof nivf);
	memcpy(l->file_id, ident.file_id, 16);
	l->epoch = st.epoch;
	l->synced = 1;
	e = 0;
out:
	if (have_new)
		ldr_obj_free(&nobj);
	ldr_ivf_free(&nivf);
	return e;
}
