/* loader.c — feature probe, object selection (EBPF_SEG or built-in), open,
 * .rodata / map sizing, load with the verifier log, teardown. */
#include "loader_int.h"
#include "rvf_elf.h"
#include "rvf_wire.h"
#include "rvf_frontend.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* ---- messages ------------------------------------------------------------ */

int ldr_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return 0;
}

void ldr_warn(rvf_loader *l, const char *fmt, ...)
{
	size_t n = strlen(l->warn);
	if (n + 16 >= sizeof l->warn)
		return;
	n += (size_t)snprintf(l->warn + n, sizeof l->warn - n, "WARNING: ");
	if (n >= sizeof l->warn)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->warn + n, sizeof l->warn - n, fmt, ap);
	va_end(ap);
	n = strlen(l->warn);
	if (n + 1 < sizeof l->warn) {
		l->warn[n] = '\n';
		l->warn[n + 1] = 0;
	}
}

const char *rvf_loader_warnings(const rvf_loader *l) { return l ? l->warn : ""; }

/* ---- libbpf log capture -------------------------------------------------- */

static __thread char logbuf[64 * 1024];
static __thread size_t loglen;
static __thread int capturing;
static libbpf_print_fn_t prev_print;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!capturing) {
		if (level == LIBBPF_DEBUG)
			return 0;
		return vfprintf(stderr, fmt, ap);
	}
	if (level == LIBBPF_DEBUG)
		return 0;
	if (loglen < sizeof logbuf - 1) {
		int n = vsnprintf(logbuf + loglen, sizeof logbuf - loglen, fmt, ap);
		if (n > 0)
			loglen += (size_t)n < sizeof logbuf - loglen ? (size_t)n
								      : sizeof logbuf - 1 - loglen;
	}
	return 0;
}

void ldr_log_begin(void)
{
	loglen = 0;
	logbuf[0] = 0;
	capturing = 1;
	libbpf_print_fn_t p = libbpf_set_print(capture_print);
	if (p != capture_print)
		prev_print = p;
}

void ldr_log_end(void)
{
	capturing = 0;
	libbpf_set_print(prev_print);
}

const char *rvf_loader_last_log(void) { return logbuf; }

/* ---- probe --------------------------------------------------------------- */

static int have_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	if (syscall(SYS_capget, &h, d) != 0)
		return geteuid() == 0;
	int bpf = (d[CAP_BPF / 32].effective >> (CAP_BPF % 32)) & 1;
	int sys = (d[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1;
	int net = (d[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1;
	return (bpf || sys) && net;
}

int rvf_loader_probe(char *err, size_t errlen)
{
	struct statfs sf;

	if (!have_caps()) {
		ldr_err(err, errlen, "need root or CAP_BPF + CAP_NET_ADMIN to load XDP programs");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		int e = -errno;
		ldr_err(err, errlen, "kernel BTF /sys/kernel/btf/vmlinux: %s (needs CONFIG_DEBUG_INFO_BTF)",
			strerror(-e));
		return e;
	}
	if (statfs("/sys/fs/bpf", &sf) != 0) {
		int e = -errno;
		ldr_err(err, errlen, "bpffs /sys/fs/bpf: %s (mount -t bpf bpf /sys/fs/bpf)", strerror(-e));
		return e;
	}
	if ((unsigned long)sf.f_type != BPF_FS_MAGIC) {
		ldr_err(err, errlen, "/sys/fs/bpf is not a bpffs mount (mount -t bpf bpf /sys/fs/bpf)");
		return -ENODEV;
	}
	int r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_loop, NULL);
	if (r < 0) {
		ldr_err(err, errlen, "probing bpf_loop for XDP: %s", strerror(-r));
		return r;
	}
	if (r == 0) {
		ldr_err(err, errlen, "kernel lacks bpf_loop for XDP programs (needs Linux >= 5.17)");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

int ldr_map_fd(const struct ldr_obj *o, const char *name)
{
	if (!o->obj)
		return -1;
	struct bpf_map *m = bpf_object__find_map_by_name(o->obj, name);
	return m ? bpf_map__fd(m) : -1;
}

int rvf_loader_map_fd(const rvf_loader *l, const char *name)
{
	int fd = ldr_map_fd(&l->xdp, name);
	return fd >= 0 ? fd : ldr_map_fd(&l->tc, name);
}

enum rvf_obj_source rvf_loader_xdp_source(const rvf_loader *l) { return l->xdp.src; }
enum rvf_obj_source rvf_loader_tc_source(const rvf_loader *l) { return l->tc.src; }
int rvf_loader_xdp_prog_fd(const rvf_loader *l)
{
	return l->xdp.prog ? bpf_program__fd(l->xdp.prog) : -1;
}
int rvf_loader_tc_prog_fd(const rvf_loader *l)
{
	return l->tc.prog ? bpf_program__fd(l->tc.prog) : -1;
}
enum rvf_xdp_mode rvf_loader_attached_mode(const rvf_loader *l) { return l->attached; }
void rvf_loader_cache_key(const rvf_loader *l, uint64_t key[2])
{
	key[0] = l->qkey[0];
	key[1] = l->qkey[1];
}

void ldr_obj_free(struct ldr_obj *o)
{
	if (o->obj)
		bpf_object__close(o->obj);
	free(o->bytes);
	memset(o, 0, sizeof *o);
}

void rvf_loader_bpf_dir(char *buf, size_t len)
{
	const char *e = getenv("RVF_BPF_DIR");
	char exe[PATH_MAX], *dir;
	struct stat st;
	ssize_t n;

	if (e && *e) {
		snprintf(buf, len, "%s", e);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(buf, len, "build/bpf");
		return;
	}
	exe[n] = 0;
	dir = dirname(exe);
	snprintf(buf, len, "%s/bpf", dir);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return;
	snprintf(buf, len, "%s/../lib/rvf/bpf", dir);
}

/* Sets a .rodata variable of vsz bytes through the object's BTF (no
 * skeleton). -ENOENT if the object has no such variable. */
static int set_rodata(struct bpf_object *obj, const char *var, const void *val, size_t vsz)
{
	struct btf *btf = bpf_object__btf(obj);
	if (!btf)
		return -ENOENT;
	int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	const struct btf_type *sec = btf__type_by_id(btf, (__u32)id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *vt = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, vt->name_off), var) != 0)
			continue;
		if (vs->size != vsz)
			return -EINVAL;
		struct bpf_map *m;
		bpf_object__for_each_map(m, obj) {
			const char *n = bpf_map__name(m);
			size_t l = strlen(n);
			if (l < 7 || strcmp(n + l - 7, ".rodata") != 0)
				continue;
			size_t sz;
			const void *cur = bpf_map__initial_value(m, &sz);
			if (!cur || vs->offset + vsz > sz)
				return -EINVAL;
			void *cp = malloc(sz);
			if (!cp)
				return -ENOMEM;
			memcpy(cp, cur, sz);
			memcpy((char *)cp + vs->offset, val, vsz);
			int err = bpf_map__set_initial_value(m, cp, sz);
			free(cp);
			return err;
		}
		return -ENOENT;
	}
	return -ENOENT;
}

static const char *const shared_maps[] = {"rvf_config", "rvf_counters", "rvf_cache",
					  "rvf_pending", "rvf_allow"};

/* Opens bytes (copied into o), sets the port and (XDP) the parameter slot,
 * sizes rvf_vecs (cap > 0), reuses maps, loads. With reuse_from only the
 * shared maps are taken from the running loader: the data maps are new, so
 * the object can be filled beside the live one. On failure o is freed and
 * the error written. */
static int load_one(rvf_loader *l, struct ldr_obj *o, const void *bytes, size_t size,
		    enum rvf_obj_source src, const char *origin, const char *objname, uint32_t cap,
		    uint32_t slot, const rvf_loader *reuse_from, const struct ldr_obj *share,
		    char *err, size_t errlen)
{
	int e;

	memset(o, 0, sizeof *o);
	o->bytes = malloc(size ? size : 1);
	if (!o->bytes)
		return ldr_err(err, errlen, "%s: %s", origin, strerror(ENOMEM)), -ENOMEM;
	memcpy(o->bytes, bytes, size);
	o->size = size;
	o->src = src;
	snprintf(o->origin, sizeof o->origin, "%s", origin);

	ldr_log_begin();
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = objname);
	o->obj = bpf_object__open_mem(o->bytes, size, &oo);
	if (!o->obj) {
		e = -errno;
		ldr_log_end();
		ldr_err(err, errlen, "opening %s: %s", origin, strerror(-e));
		goto fail;
	}
	o->prog = bpf_object__next_program(o->obj, NULL);
	if (!o->prog) {
		e = -ENOENT;
		ldr_log_end();
		ldr_err(err, errlen, "%s holds no program", origin);
		goto fail;
	}
	uint16_t port = l->o.port ? l->o.port : RVF_WIRE_DEFAULT_PORT;
	e = set_rodata(o->obj, "rvf_port", &port, sizeof port);
	if (e) {
		ldr_log_end();
		ldr_err(err, errlen, "%s: setting .rodata rvf_port: %s", origin, strerror(-e));
		goto fail;
	}
	/* Objects without the variable read slot 0 only. */
	e = cap ? set_rodata(o->obj, "rvf_slot", &slot, sizeof slot) : 0;
	if (e && !(e == -ENOENT && slot == 0)) {
		ldr_log_end();
		ldr_err(err, errlen, "%s: setting .rodata rvf_slot: %s", origin, strerror(-e));
		goto fail;
	}
	if (cap) {
		struct bpf_map *vm = bpf_object__find_map_by_name(o->obj, "rvf_vecs");
		if (!vm) {
			e = -ENOENT;
			ldr_log_end();
			ldr_err(err, errlen, "%s has no rvf_vecs map: not the XDP query program", origin);
			goto fail;
		}
		if (bpf_map__value_size(vm) != RVF_XDP_VEC_SIZE(l->dim)) {
			e = -EINVAL;
			ldr_log_end();
			ldr_err(err, errlen,
				"%s: rvf_vecs value size %u does not match dimension %u (%u): object built for another dimension",
				origin, bpf_map__value_size(vm), l->dim, RVF_XDP_VEC_SIZE(l->dim));
			goto fail;
		}
		e = bpf_map__set_max_entries(vm, cap);
		if (e) {
			ldr_log_end();
			ldr_err(err, errlen, "%s: rvf_vecs max_entries %u: %s", origin, cap, strerror(-e));
			goto fail;
		}
	}
	/* Map sharing: from the running loader (reload), the XDP object (tc),
	 * or the pins. */
	struct bpf_map *m;
	bpf_object__for_each_map(m, o->obj) {
		const char *n = bpf_map__name(m);
		int fd = -1;
		for (size_t i = 0; i < sizeof shared_maps / sizeof *shared_maps; i++) {
			if (strcmp(n, shared_maps[i]))
				continue;
			if (reuse_from)
				fd = rvf_loader_map_fd(reuse_from, n);
			if (share)
				fd = ldr_map_fd(share, n);
		}
		if (fd >= 0 && (e = bpf_map__reuse_fd(m, fd))) {
			ldr_log_end();
			ldr_err(err, errlen, "%s: sharing map %s: %s", origin, n, strerror(-e));
			goto fail;
		}
	}
	if (!reuse_from && !share && l->ifname[0] && !l->o.no_pin) {
		e = ldr_reuse_pinned(l, o->obj, err, errlen);
		if (e) {
			ldr_log_end();
			goto fail;
		}
	}
	e = bpf_object__load(o->obj);
	ldr_log_end();
	if (e) {
		const char *lg = rvf_loader_last_log();
		ldr_err(err, errlen, "loading %s: %s%s", origin, strerror(-e),
			lg[0] ? " (verifier/libbpf log: rvf_loader_last_log())" : "");
		goto fail;
	}
	return 0;
fail:
	ldr_obj_free(o);
	return e ? e : -EINVAL;
}

uint32_t ldr_ivf_biggest(const uint32_t *asg, uint32_t n, uint32_t C, uint32_t *at)
{
	uint32_t *size = calloc(C ? C : 1, sizeof *size), big = 0;
	if (!size)
		return UINT32_MAX;
	for (uint32_t i = 0; i < n; i++)
		if (asg[i] < C && ++size[asg[i]] > big) {
			big = size[asg[i]];
			if (at)
				*at = asg[i];
		}
	free(size);
	return big;
}

uint32_t ldr_ivf_cap(rvf_loader *l, const uint32_t *asg, uint32_t n, uint32_t C)
{
	uint32_t at = 0, big = ldr_ivf_biggest(asg, n, C, &at);
	if (big == UINT32_MAX) {
		ldr_warn(l, "IVF cluster sizes: %s: queries above max_scan go to the daemon", strerror(ENOMEM));
		return 0;
	}
	if (big <= l->o.max_scan)
		return C;
	ldr_warn(l, "IVF cluster %u holds %u vectors, more than max_scan %u: no IVF in XDP, the daemon answers every query (raise --centroids or --max-scan)",
		 at, big, l->o.max_scan);
	return 0;
}

/* Program types of the EBPF_SEG header (spec §13). */
#define EBPF_PT_XDP 0
#define EBPF_PT_TC 1

/* Loads the first usable EBPF_SEG of `type` of the verified store copy
 * `trusted` (xdp: max_dimension == dim), else the built-in file. A reload
 * or a stage build (reuse_from) loads the bytes already in use again. */
static int load_kind(rvf_loader *l, const rvf_store *trusted, int type, uint32_t cap, uint32_t slot,
		     struct ldr_obj *out, const rvf_loader *reuse_from, const struct ldr_obj *share,
		     char *err, size_t errlen)
{
	const char *kind = type == EBPF_PT_XDP ? "XDP" : "tc";
	const char *objname = type == EBPF_PT_XDP ? "rvf_xdp" : "rvf_tc";
	char origin[LDR_PATH_MAX];
	int e;

	if (reuse_from) {
		const struct ldr_obj *cur = type == EBPF_PT_XDP ? &reuse_from->xdp : &reuse_from->tc;
		return load_one(l, out, cur->bytes, cur->size, cur->src, cur->origin, objname, cap,
				slot, reuse_from, share, err, errlen);
	}
	if (trusted) {
		size_t n = rvf_ebpf_count(trusted);
		for (size_t i = 0; i < n; i++) {
			rvf_ebpf eb;
			if (rvf_ebpf_get(trusted, i, &eb) != 0 || eb.program_type != type)
				continue;
			if (type == EBPF_PT_XDP && eb.max_dimension != l->dim) {
				ldr_warn(l, "EBPF_SEG #%zu (XdpDistance) is for dimension %u, the store has %u: skipped",
					 i, eb.max_dimension, l->dim);
				continue;
			}
			int k = rvf_elf_check(eb.program, eb.program_size);
			if (k != RVF_ELF_BPF) {
				ldr_warn(l, "EBPF_SEG #%zu (%s, %zu bytes): %s; not loaded", i, kind,
					 eb.program_size, rvf_elf_kind_str(k));
				continue;
			}
			snprintf(origin, sizeof origin, "EBPF_SEG #%zu (%s, signed)", i, kind);
			char e2[512];
			e = load_one(l, out, eb.program, eb.program_size, RVF_OBJ_STORE, origin, objname,
				     cap, slot, NULL, share, e2, sizeof e2);
			if (e == 0)
				return 0;
			ldr_warn(l, "%s", e2);
		}
	}
	if (type == EBPF_PT_XDP)
		snprintf(origin, sizeof origin, "%s/rvf_xdp_d%u.bpf.o", l->bpf_dir, l->dim);
	else
		snprintf(origin, sizeof origin, "%s/rvf_tc.bpf.o", l->bpf_dir);
	uint8_t *buf = NULL;
	size_t size = 0;
	e = rvf_read_file(origin, &buf, &size);
	if (e) {
		ldr_err(err, errlen, "no usable %s program: built-in %s: %s%s", kind, origin, strerror(-e),
			trusted ? " (and none in the store's EBPF_SEGs)" : "");
		return e;
	}
	if (trusted)
		ldr_warn(l, "no usable %s program in the store's EBPF_SEGs: using built-in %s", kind, origin);
	e = load_one(l, out, buf, size, RVF_OBJ_BUILTIN, origin, objname, cap, slot, NULL, share, err,
		     errlen);
	free(buf);
	return e;
}

int ldr_open_xdp(rvf_loader *l, const rvf_store *s, uint32_t cap, uint32_t slot, struct ldr_obj *out,
		 const rvf_loader *reuse_from, char *err, size_t errlen)
{
	(void)s; /* a reload uses the program bytes already verified and loaded */
	return load_kind(l, NULL, EBPF_PT_XDP, cap, slot, out, reuse_from, NULL, err, errlen);
}

int rvf_loader_open(const rvf_store *s, const struct rvf_loader_opts *opts, rvf_loader **out,
		    char *err, size_t errlen)
{
	int e;

	*out = NULL;
	if (!s)
		return ldr_err(err, errlen, "no store"), -EINVAL;
	rvf_loader *l = calloc(1, sizeof *l);
	if (!l)
		return ldr_err(err, errlen, "loader: %s", strerror(ENOMEM)), -ENOMEM;
	l->xdp_link = l->tc_link = -1;
	if (opts)
		l->o = *opts;
	l->ifindex = 0;
	if (l->o.ifname) {
		if (strlen(l->o.ifname) >= sizeof l->ifname || strchr(l->o.ifname, '/') ||
		    !l->o.ifname[0] || l->o.ifname[0] == '.') {
			free(l);
			return ldr_err(err, errlen, "invalid interface name"), -EINVAL;
		}
		snprintf(l->ifname, sizeof l->ifname, "%s", l->o.ifname);
	}
	if (l->o.netns)
		snprintf(l->netns, sizeof l->netns, "%s", l->o.netns);
	l->o.ifname = l->ifname[0] ? l->ifname : NULL;
	l->o.netns = l->netns[0] ? l->netns : NULL;
	if (l->o.bpf_dir)
		snprintf(l->bpf_dir, sizeof l->bpf_dir, "%s", l->o.bpf_dir);
	else
		rvf_loader_bpf_dir(l->bpf_dir, sizeof l->bpf_dir);
	l->o.bpf_dir = l->bpf_dir;
	if (!l->o.max_scan)
		l->o.max_scan = RVF_LOADER_DEF_MAX_SCAN;
	if (l->o.max_scan > RVF_LOADER_MAX_SCAN) {
		ldr_err(err, errlen, "max_scan %u is above %u, the bpf_loop limit of one XDP scan",
			l->o.max_scan, RVF_LOADER_MAX_SCAN);
		free(l);
		return -ERANGE;
	}
	if (!l->o.nprobe)
		l->o.nprobe = RVF_LOADER_DEF_NPROBE;
	if (l->o.nprobe > RVF_XDP_MAX_NPROBE)
		l->o.nprobe = RVF_XDP_MAX_NPROBE;
	l->dim = rvf_dimension(s);
	l->metric = (int)rvf_get_metric(s);
	if (l->dim > RVF_XDP_MAX_DIM || l->dim % 4) {
		/* Objects exist for multiples of 4 up to 768 only (RVF_DIM rule). */
		ldr_err(err, errlen, "dimension %u has no XDP program (multiples of 4 up to %u)", l->dim,
			RVF_XDP_MAX_DIM);
		free(l);
		return -EOPNOTSUPP;
	}
	uint64_t live = rvf_live_count(s);
	if (live > UINT32_MAX) {
		free(l);
		return ldr_err(err, errlen, "%llu vectors do not fit a BPF array map",
			       (unsigned long long)live), -E2BIG;
	}
	l->vecs_cap = live ? (uint32_t)live : 1;
	/* A fresh digest key per open: answers cached by an earlier loader
	 * (pinned maps) can never be looked up again. */
	if (getrandom(l->qkey, sizeof l->qkey, 0) != (ssize_t)sizeof l->qkey) {
		e = errno ? -errno : -EIO;
		ldr_err(err, errlen, "getrandom: %s", strerror(-e));
		goto fail;
	}

	rvf_store *trusted = NULL;
	int memfd = -1;
	if (l->o.ebpf_from_store) {
		if ((e = ldr_trusted_store(l, &trusted, &memfd, err, errlen)))
			goto fail;
	} else if (rvf_ebpf_count(s)) {
		ldr_warn(l, "the store carries %zu EBPF_SEG(s): not loaded, using the built-in objects (--ebpf-from-store with --trust-key loads signed ones)",
			 rvf_ebpf_count(s));
	}
	if (l->o.defer_fill)
		l->vecs_cap = 1; /* a placeholder: the first build brings the real maps */
	e = load_kind(l, trusted, EBPF_PT_XDP, l->vecs_cap, 0, &l->xdp, NULL, NULL, err, errlen);
	if (!e && !l->o.no_tc)
		e = load_kind(l, trusted, EBPF_PT_TC, 0, 0, &l->tc, NULL, &l->xdp, err, errlen);
	rvf_close(trusted);
	if (memfd >= 0)
		close(memfd);
	l->o.trust_key = NULL; /* the caller's memory: not kept */
	l->o.store_path = NULL;
	if (e)
		goto fail;
	e = l->o.defer_fill ? rvf_loader_adopt(l, s, err, errlen) : rvf_loader_sync(l, s, err, errlen);
	if (e < 0)
		goto fail;
	e = 0;
	*out = l;
	return 0;
fail:
	rvf_loader_close(l);
	return e;
}

void rvf_loader_close(rvf_loader *l)
{
	if (!l)
		return;
	if (l->xdp_link >= 0)
		close(l->xdp_link);
	if (l->tc_link >= 0)
		close(l->tc_link);
	ldr_obj_free(&l->tc);
	ldr_obj_free(&l->xdp);
	ldr_ivf_free(&l->ivf);
	free(l);
}
