/* pin.c — /sys/fs/bpf/rvf/<ifname>/{xdp_link,tc_link,xdp_prog,tc_prog,<map>...}: pinning,
 * reuse of compatible pinned maps on restart, unpinning, and the allow-list
 * (which also works on the pins from a fresh process). */
#include "loader_int.h"
#include "rvf_wire.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ldr_pin_dir(const char *ifname, char *buf, size_t len)
{
	if (!ifname || !*ifname || strchr(ifname, '/') || ifname[0] == '.')
		return -EINVAL;
	int n = snprintf(buf, len, "%s/%s", RVF_LOADER_PIN_ROOT, ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int internal_map(const char *name) { return strchr(name, '.') != NULL; }

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 il = sizeof *info;
	memset(info, 0, sizeof *info);
	return bpf_obj_get_info_by_fd(fd, info, &il) ? -errno : 0;
}

int ldr_pinned_map_fd(const char *ifname, const char *name)
{
	char dir[LDR_PATH_MAX], path[LDR_PATH_MAX + 64];
	if (ldr_pin_dir(ifname, dir, sizeof dir))
		return -EINVAL;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int ldr_reuse_pinned(rvf_loader *l, struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		if (internal_map(n))
			continue;
		int fd = ldr_pinned_map_fd(l->ifname, n);
		if (fd < 0)
			continue;
		struct bpf_map_info in;
		int e = map_info(fd, &in);
		if (e) {
			close(fd);
			continue;
		}
		if (in.type != (__u32)bpf_map__type(m) || in.key_size != bpf_map__key_size(m) ||
		    in.value_size != bpf_map__value_size(m) ||
		    in.max_entries != bpf_map__max_entries(m) ||
		    in.map_flags != bpf_map__map_flags(m)) {
			/* rvf_vecs of another size is normal after a store change. */
			if (strcmp(n, "rvf_vecs") != 0)
				ldr_warn(l, "pinned map %s/%s is incompatible (type %u key %u value %u entries %u): a new one replaces it",
					 l->ifname, n, in.type, in.key_size, in.value_size, in.max_entries);
			close(fd);
			continue;
		}
		e = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (e) {
			ldr_err(err, errlen, "reusing pinned map %s/%s: %s", l->ifname, n, strerror(-e));
			return e;
		}
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	if (mkdir(RVF_LOADER_PIN_ROOT, 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Pins fd at path unless path already holds the same object. */
static int pin_fd(int fd, const char *path)
{
	struct bpf_map_info a, b; /* prog_info starts with type, id as well */
	__u32 la = sizeof a, lb = sizeof b;
	int old = bpf_obj_get(path);
	if (old >= 0) {
		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		int same = !bpf_obj_get_info_by_fd(fd, &a, &la) && !bpf_obj_get_info_by_fd(old, &b, &lb) &&
			   a.id == b.id && la == lb;
		close(old);
		if (same)
			return 0;
	}
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

static int pin_obj_maps(struct ldr_obj *o, const char *dir, char *err, size_t errlen)
{
	struct bpf_map *m;
	char path[LDR_PATH_MAX + 64];

	if (!o->obj)
		return 0;
	bpf_object__for_each_map(m, o->obj) {
		const char *n = bpf_map__name(m);
		if (internal_map(n))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, n);
		int e = pin_fd(bpf_map__fd(m), path);
		if (e)
			return ldr_err(err, errlen, "pinning %s: %s", path, strerror(-e)), e;
	}
	return 0;
}

int ldr_pin_all(rvf_loader *l, char *err, size_t errlen)
{
	char dir[LDR_PATH_MAX], path[LDR_PATH_MAX + 64];
	int e;

	if ((e = ldr_pin_dir(l->ifname, dir, sizeof dir)))
		return ldr_err(err, errlen, "pin directory for '%s': %s", l->ifname, strerror(-e)), e;
	if ((e = mkdir_p(dir)))
		return ldr_err(err, errlen, "creating %s: %s (is bpffs mounted on /sys/fs/bpf?)", dir,
			       strerror(-e)), e;
	snprintf(path, sizeof path, "%s/xdp_prog", dir);
	if ((e = pin_fd(bpf_program__fd(l->xdp.prog), path)))
		return ldr_err(err, errlen, "pinning %s: %s", path, strerror(-e)), e;
	if (l->tc.prog) {
		snprintf(path, sizeof path, "%s/tc_prog", dir);
		if ((e = pin_fd(bpf_program__fd(l->tc.prog), path)))
			return ldr_err(err, errlen, "pinning %s: %s", path, strerror(-e)), e;
	}
	const struct { int fd; const char *name; } links[2] = {{l->xdp_link, "xdp_link"},
							      {l->tc_link, "tc_link"}};
	for (int i = 0; i < 2; i++) {
		if (links[i].fd < 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, links[i].name);
		if ((e = pin_fd(links[i].fd, path)))
			return ldr_err(err, errlen, "pinning %s: %s", path, strerror(-e)), e;
	}
	if ((e = pin_obj_maps(&l->xdp, dir, err, errlen)))
		return e;
	return pin_obj_maps(&l->tc, dir, err, errlen);
}

int ldr_unpin_all(const char *ifname, char *err, size_t errlen)
{
	char dir[LDR_PATH_MAX], path[LDR_PATH_MAX + 300];
	int e;

	if ((e = ldr_pin_dir(ifname, dir, sizeof dir)))
		return ldr_err(err, errlen, "pin directory for '%s': %s", ifname, strerror(-e)), e;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		e = -errno;
		return ldr_err(err, errlen, "opening %s: %s", dir, strerror(-e)), e;
	}
	struct dirent *de;
	e = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT && !e) {
			e = -errno;
			ldr_err(err, errlen, "unpinning %s: %s", path, strerror(-e));
		}
	}
	closedir(d);
	if (e)
		return e;
	if (rmdir(dir) && errno != ENOENT) {
		e = -errno;
		return ldr_err(err, errlen, "removing %s: %s", dir, strerror(-e)), e;
	}
	rmdir(RVF_LOADER_PIN_ROOT); /* only when empty; other interfaces keep it */
	return 0;
}

/* ---- allow-list ---------------------------------------------------------- */

int rvf_loader_parse_cidr(const char *cidr, uint32_t *prefixlen, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (!cidr || strlen(cidr) >= sizeof buf)
		return -EINVAL;
	strcpy(buf, cidr);
	char *slash = strchr(buf, '/');
	long plen = -1;
	if (slash) {
		char *end;
		*slash = 0;
		if (!slash[1])
			return -EINVAL;
		plen = strtol(slash + 1, &end, 10);
		if (*end || plen < 0)
			return -EINVAL;
	}
	struct in_addr a4;
	struct in6_addr a6;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		if (plen > 32)
			return -EINVAL;
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
		*prefixlen = 96 + (uint32_t)(plen < 0 ? 32 : plen);
	} else if (inet_pton(AF_INET6, buf, &a6) == 1) {
		if (plen > 128)
			return -EINVAL;
		memcpy(addr, &a6, 16);
		*prefixlen = (uint32_t)(plen < 0 ? 128 : plen);
	} else {
		return -EINVAL;
	}
	/* Clear host bits so that the trie holds the network address. */
	for (uint32_t b = *prefixlen; b < 128; b++)
		addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
	return 0;
}

static int get_fd(rvf_loader *l, const char *ifname, const char *name, int *owned)
{
	*owned = 0;
	if (l)
		return rvf_loader_map_fd(l, name);
	int fd = ldr_pinned_map_fd(ifname, name);
	if (fd >= 0)
		*owned = 1;
	return fd;
}

int rvf_loader_allow_enable(rvf_loader *l, const char *ifname, int on, char *err, size_t errlen)
{
	int owned, e;
	int fd = get_fd(l, ifname, "rvf_config", &owned);
	if (fd < 0)
		return ldr_err(err, errlen, "rvf_config of %s: %s", l ? "the loader" : ifname,
			       strerror(fd == -1 ? ENOENT : -fd)), fd == -1 ? -ENOENT : fd;
	struct rvf_xdp_config c;
	if (!(e = ldr_config_get(fd, &c))) {
		c.allow_enabled = on ? 1 : 0;
		e = ldr_config_put(fd, &c);
	}
	if (owned)
		close(fd);
	if (e)
		ldr_err(err, errlen, "updating rvf_config: %s", strerror(-e));
	return e;
}

int rvf_loader_allow_add(rvf_loader *l, const char *ifname, const char *cidr, char *err,
			 size_t errlen)
{
	struct rvf_allow_key k;
	int owned, e;
	__u8 one = 1;

	memset(&k, 0, sizeof k);
	if (rvf_loader_parse_cidr(cidr, &k.prefixlen, k.addr))
		return ldr_err(err, errlen, "invalid address or CIDR '%s'", cidr ? cidr : ""), -EINVAL;
	int fd = get_fd(l, ifname, "rvf_allow", &owned);
	if (fd < 0)
		return ldr_err(err, errlen, "rvf_allow of %s: %s", l ? "the loader" : ifname,
			       strerror(fd == -1 ? ENOENT : -fd)), fd == -1 ? -ENOENT : fd;
	e = bpf_map_update_elem(fd, &k, &one, BPF_ANY) ? -errno : 0;
	if (owned)
		close(fd);
	if (e)
		return ldr_err(err, errlen, "adding %s to rvf_allow: %s", cidr, strerror(-e)), e;
	return rvf_loader_allow_enable(l, ifname, 1, err, errlen);
}
