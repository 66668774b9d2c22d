/* attach.c — XDP (native / generic / auto) and tcx egress attachment through
 * BPF links, in-place program replacement (bpf_link_update), and detach from
 * a fresh process. Only our own links (and the netlink XDP attachment or tc
 * filter named like ours, left by older versions) are ever removed. */
#include "loader_int.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Kernel >= 6.6 values; the UAPI headers of the build machine may be older. */
#define LDR_BPF_TCX_EGRESS 47
#define LDR_LINK_TYPE_XDP 6
#define LDR_LINK_TYPE_TCX 11
#define LEGACY_TC_HANDLE 1
#define LEGACY_TC_PRIO 1
#define XDP_PROG_NAME "rvf_xdp"
#define TC_PROG_NAME "rvf_tc_egress"

int ldr_netns_enter(const char *netns, int *saved_fd, char *err, size_t errlen)
{
	char path[LDR_PATH_MAX];
	*saved_fd = -1;
	if (!netns || !*netns)
		return 0;
	if (strchr(netns, '/'))
		return ldr_err(err, errlen, "invalid netns name '%s'", netns), -EINVAL;
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return ldr_err(err, errlen, "/proc/self/ns/net: %s", strerror(errno)), -errno;
	snprintf(path, sizeof path, "/run/netns/%s", netns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		close(self);
		return ldr_err(err, errlen, "network namespace %s: %s", path, strerror(-e)), e;
	}
	if (setns(fd, CLONE_NEWNET)) {
		int e = -errno;
		close(fd);
		close(self);
		return ldr_err(err, errlen, "entering network namespace %s: %s", netns, strerror(-e)), e;
	}
	close(fd);
	*saved_fd = self;
	return 0;
}

void ldr_netns_leave(int saved_fd)
{
	if (saved_fd < 0)
		return;
	if (setns(saved_fd, CLONE_NEWNET))
		fprintf(stderr, "rvf loader: could not return to the original netns: %s\n", strerror(errno));
	close(saved_fd);
}

static __u32 mode_flags(enum rvf_xdp_mode m)
{
	return m == RVF_XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

static const char *mode_name(enum rvf_xdp_mode m)
{
	return m == RVF_XDP_MODE_GENERIC ? "generic" : m == RVF_XDP_MODE_NATIVE ? "native" : "auto";
}

/* Name of a program by id ("" if unknown or not permitted). */
static void prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info;
	__u32 il = sizeof info;
	buf[0] = 0;
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	memset(&info, 0, sizeof info);
	if (!bpf_obj_get_info_by_fd(fd, &info, &il))
		snprintf(buf, len, "%s", info.name);
	close(fd);
}

/* fd of the pinned link `name` of ifname if it is a live link of `type` on
 * ifindex, else -1. (The XDP and tcx link infos both start with ifindex.) */
static int pinned_link(const char *ifname, const char *name, __u32 type, int ifindex)
{
	char dir[LDR_PATH_MAX], path[LDR_PATH_MAX + 32];
	struct bpf_link_info info;
	__u32 il = sizeof info;

	if (ldr_pin_dir(ifname, dir, sizeof dir))
		return -1;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof info);
	if (bpf_obj_get_info_by_fd(fd, &info, &il) || info.type != type ||
	    (ifindex && (int)info.xdp.ifindex != ifindex) || !info.xdp.ifindex) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Attach mode of the XDP program on ifindex (AUTO if none). */
static enum rvf_xdp_mode xdp_mode_now(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifindex, 0, &q))
		return RVF_XDP_MODE_AUTO;
	return q.attach_mode == XDP_ATTACHED_SKB   ? RVF_XDP_MODE_GENERIC
	       : q.attach_mode == XDP_ATTACHED_DRV ? RVF_XDP_MODE_NATIVE
						   : RVF_XDP_MODE_AUTO;
}

/* An XDP program on the interface that no link of ours holds: an rvf_xdp
 * attached over netlink by an older version is removed, anything else is
 * somebody else's and refused. */
static int clear_legacy_xdp(int ifindex, const char *ifname, char *err, size_t errlen)
{
	const int flags[2] = {XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE};
	for (int i = 0; i < 2; i++) {
		__u32 id = 0;
		char name[BPF_OBJ_NAME_LEN];
		if (bpf_xdp_query_id(ifindex, flags[i], &id) || !id)
			continue;
		prog_name(id, name, sizeof name);
		int e = strcmp(name, XDP_PROG_NAME) ? -EBUSY : bpf_xdp_detach(ifindex, flags[i], NULL);
		if (e)
			return ldr_err(err, errlen,
				       "%s already runs XDP program id %u (%s, %s mode): detach it first", ifname,
				       id, name[0] ? name : "?", i ? "native" : "generic"), -EBUSY;
	}
	return 0;
}

/* Removes the tc filter of older versions (handle 1, priority 1 on clsact
 * egress) if it runs our program; the qdisc and other filters stay. */
static void clear_legacy_tc(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = LEGACY_TC_HANDLE, .priority = LEGACY_TC_PRIO);
	char name[BPF_OBJ_NAME_LEN];
	if (bpf_tc_query(&hook, &q))
		return;
	prog_name(q.prog_id, name, sizeof name);
	if (strcmp(name, TC_PROG_NAME))
		return;
	LIBBPF_OPTS(bpf_tc_opts, d, .handle = LEGACY_TC_HANDLE, .priority = LEGACY_TC_PRIO);
	bpf_tc_detach(&hook, &d);
}

static int xdp_link_new(rvf_loader *l, int prog_fd, enum rvf_xdp_mode m)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = mode_flags(m));
	int fd = bpf_link_create(prog_fd, l->ifindex, BPF_XDP, &lo);
	return fd < 0 ? -errno : fd;
}

static int xdp_attach(rvf_loader *l, char *err, size_t errlen)
{
	int prog = bpf_program__fd(l->xdp.prog), fd, e;
	enum rvf_xdp_mode want = l->o.mode;

	fd = l->o.no_pin ? -1 : pinned_link(l->ifname, "xdp_link", LDR_LINK_TYPE_XDP, l->ifindex);
	if (fd >= 0) {
		enum rvf_xdp_mode cur = xdp_mode_now(l->ifindex);
		if ((want == RVF_XDP_MODE_AUTO || want == cur) && cur != RVF_XDP_MODE_AUTO &&
		    bpf_link_update(fd, prog, NULL) == 0) {
			l->xdp_link = fd;
			l->attached = cur;
			return 0;
		}
		bpf_link_detach(fd); /* other mode asked for: attach anew */
		close(fd);
	}
	if ((e = clear_legacy_xdp(l->ifindex, l->ifname, err, errlen)))
		return e;
	if (want == RVF_XDP_MODE_AUTO) {
		fd = xdp_link_new(l, prog, RVF_XDP_MODE_NATIVE);
		if (fd >= 0) {
			l->xdp_link = fd;
			l->attached = RVF_XDP_MODE_NATIVE;
			return 0;
		}
		ldr_warn(l, "native XDP on %s failed (%s): falling back to generic (skb) mode", l->ifname,
			 strerror(-fd));
		want = RVF_XDP_MODE_GENERIC;
	}
	fd = xdp_link_new(l, prog, want);
	if (fd < 0)
		return ldr_err(err, errlen, "attaching XDP (%s) to %s: %s%s", mode_name(want), l->ifname,
			       strerror(-fd), fd == -EBUSY ? " (another XDP program is attached)" : ""),
		       fd;
	l->xdp_link = fd;
	l->attached = want;
	return 0;
}

static int tc_attach(rvf_loader *l, char *err, size_t errlen)
{
	int prog = bpf_program__fd(l->tc.prog);
	int fd = l->o.no_pin ? -1 : pinned_link(l->ifname, "tc_link", LDR_LINK_TYPE_TCX, l->ifindex);
	if (fd >= 0) {
		if (bpf_link_update(fd, prog, NULL) == 0) {
			l->tc_link = fd;
			return 0;
		}
		bpf_link_detach(fd);
		close(fd);
	}
	clear_legacy_tc(l->ifindex);
	fd = bpf_link_create(prog, l->ifindex, LDR_BPF_TCX_EGRESS, NULL);
	if (fd < 0) {
		int e = -errno;
		return ldr_err(err, errlen, "attaching tcx egress to %s: %s%s", l->ifname, strerror(-e),
			       e == -EINVAL ? " (tcx links need Linux >= 6.6)" : ""), e;
	}
	l->tc_link = fd;
	return 0;
}

int rvf_loader_attach(rvf_loader *l, char *err, size_t errlen)
{
	int saved, e;

	if (!l->ifname[0])
		return ldr_err(err, errlen, "attach: no interface given"), -EINVAL;
	if ((e = ldr_netns_enter(l->o.netns, &saved, err, errlen)))
		return e;
	ldr_log_begin(); /* kernel extack messages stay quiet */
	l->ifindex = (int)if_nametoindex(l->ifname);
	if (!l->ifindex) {
		e = -errno;
		ldr_err(err, errlen, "interface %s%s%s: %s", l->ifname, l->o.netns ? " in netns " : "",
			l->o.netns ? l->o.netns : "", strerror(-e));
		goto out;
	}
	if ((e = xdp_attach(l, err, errlen)))
		goto out;
	if (l->tc.prog && (e = tc_attach(l, err, errlen)))
		goto out;
	if (!l->o.no_pin)
		e = ldr_pin_all(l, err, errlen);
out:
	ldr_log_end();
	ldr_netns_leave(saved);
	return e;
}

int ldr_replace_xdp(rvf_loader *l, struct ldr_obj *nobj, char *err, size_t errlen)
{
	if (l->xdp_link < 0)
		return ldr_err(err, errlen, "replacing the XDP program on %s: not attached", l->ifname),
		       -ENOLINK;
	if (bpf_link_update(l->xdp_link, bpf_program__fd(nobj->prog), NULL)) {
		int e = -errno;
		return ldr_err(err, errlen, "replacing the XDP program on %s: %s", l->ifname, strerror(-e)),
		       e;
	}
	if (l->o.no_pin)
		return 0;
	/* The link already runs the new program; pins are for inspection and
	 * restarts. A caller without the right to write them (a daemon that
	 * dropped root) keeps the old pins until detach. */
	char perr[256] = "";
	struct ldr_obj keep = l->xdp;
	l->xdp = *nobj; /* pin the new program and rvf_vecs */
	int e = ldr_pin_all(l, perr, sizeof perr);
	l->xdp = keep;
	if (e)
		ldr_warn(l, "%s: xdp_prog and rvf_vecs pins stay at the previous object until detach", perr);
	return 0;
}

/* bpf_link_detach on a pinned link (a link whose device is gone is
 * defunct already). */
static void detach_pinned_link(const char *dir, const char *name)
{
	char path[LDR_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	bpf_link_detach(fd);
	close(fd);
}

int rvf_loader_detach(const char *ifname, const char *netns, char *err, size_t errlen)
{
	char dir[LDR_PATH_MAX];
	int saved, e;

	if ((e = ldr_pin_dir(ifname, dir, sizeof dir)))
		return ldr_err(err, errlen, "invalid interface name '%s'", ifname ? ifname : ""), e;
	detach_pinned_link(dir, "xdp_link");
	detach_pinned_link(dir, "tc_link");

	if ((e = ldr_netns_enter(netns, &saved, err, errlen)))
		return e;
	ldr_log_begin();
	int ifindex = (int)if_nametoindex(ifname);
	if (ifindex) {
		const int flags[2] = {XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE};
		for (int i = 0; i < 2; i++) {
			__u32 id = 0;
			char name[BPF_OBJ_NAME_LEN];
			if (bpf_xdp_query_id(ifindex, flags[i], &id) || !id)
				continue;
			prog_name(id, name, sizeof name);
			if (strcmp(name, XDP_PROG_NAME) != 0)
				continue; /* not ours: leave it */
			e = bpf_xdp_detach(ifindex, flags[i], NULL);
			if (e) {
				ldr_err(err, errlen, "detaching XDP from %s: %s", ifname, strerror(-e));
				break;
			}
		}
		clear_legacy_tc(ifindex);
	}
	ldr_log_end();
	ldr_netns_leave(saved);
	if (e)
		return e;
	if ((e = ldr_unpin_all(ifname, err, errlen)))
		return e;
	if (!ifindex)
		return ldr_err(err, errlen, "interface %s does not exist%s%s", ifname,
			       netns ? " in netns " : "", netns ? netns : ""), -ENODEV;
	return 0;
}
