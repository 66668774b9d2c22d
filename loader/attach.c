/* attach.c — XDP (native / generic / auto) and tc clsact egress attachment,
 * in-place program replacement, and detach from a fresh process. */
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

#define TC_HANDLE 1
#define TC_PRIO 1
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

/* Name of a program by id ("" if unknown). */
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

/* Refuses to replace somebody else's XDP program in either mode. */
static int check_foreign_xdp(int ifindex, const char *ifname, char *err, size_t errlen)
{
	const int flags[2] = {XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE};
	for (int i = 0; i < 2; i++) {
		__u32 id = 0;
		char name[BPF_OBJ_NAME_LEN];
		if (bpf_xdp_query_id(ifindex, flags[i], &id) || !id)
			continue;
		prog_name(id, name, sizeof name);
		if (strcmp(name, XDP_PROG_NAME) != 0)
			return ldr_err(err, errlen,
				       "%s already runs XDP program id %u (%s, %s mode): detach it first", ifname,
				       id, name[0] ? name : "?", i ? "native" : "generic"), -EBUSY;
	}
	return 0;
}

static int xdp_attach(rvf_loader *l, int prog_fd, enum rvf_xdp_mode want, enum rvf_xdp_mode *used,
		      char *err, size_t errlen)
{
	int e;
	if (want == RVF_XDP_MODE_AUTO) {
		e = bpf_xdp_attach(l->ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
		if (e == 0) {
			*used = RVF_XDP_MODE_NATIVE;
			return 0;
		}
		ldr_warn(l, "native XDP on %s failed (%s): falling back to generic (skb) mode", l->ifname,
			 strerror(-e));
		want = RVF_XDP_MODE_GENERIC;
	}
	e = bpf_xdp_attach(l->ifindex, prog_fd, mode_flags(want), NULL);
	if (e) {
		const char *lg = rvf_loader_last_log();
		(void)lg;
		return ldr_err(err, errlen, "attaching XDP (%s) to %s: %s", mode_name(want), l->ifname,
			       strerror(-e)), e;
	}
	*used = want;
	return 0;
}

int rvf_loader_attach(rvf_loader *l, char *err, size_t errlen)
{
	int saved, e;

	if (!l->ifname[0])
		return ldr_err(err, errlen, "attach: no interface given"), -EINVAL;
	if ((e = ldr_netns_enter(l->o.netns, &saved, err, errlen)))
		return e;
	ldr_log_begin(); /* kernel extack messages (e.g. clsact exists) stay quiet */
	l->ifindex = (int)if_nametoindex(l->ifname);
	if (!l->ifindex) {
		e = -errno;
		ldr_err(err, errlen, "interface %s%s%s: %s", l->ifname, l->o.netns ? " in netns " : "",
			l->o.netns ? l->o.netns : "", strerror(-e));
		goto out;
	}
	if ((e = check_foreign_xdp(l->ifindex, l->ifname, err, errlen)))
		goto out;
	e = xdp_attach(l, bpf_program__fd(l->xdp.prog), l->o.mode, &l->attached, err, errlen);
	if (e)
		goto out;
	if (l->tc.prog) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = BPF_TC_EGRESS);
		e = bpf_tc_hook_create(&hook);
		if (e && e != -EEXIST) {
			ldr_err(err, errlen, "creating clsact on %s: %s", l->ifname, strerror(-e));
			goto out;
		}
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = TC_HANDLE, .priority = TC_PRIO,
			    .prog_fd = bpf_program__fd(l->tc.prog), .flags = BPF_TC_F_REPLACE);
		e = bpf_tc_attach(&hook, &to);
		if (e) {
			ldr_err(err, errlen, "attaching tc egress to %s: %s", l->ifname, strerror(-e));
			goto out;
		}
		l->tc_attached = 1;
	}
	if (!l->o.no_pin)
		e = ldr_pin_all(l, err, errlen);
out:
	ldr_log_end();
	ldr_netns_leave(saved);
	return e;
}

int ldr_replace_xdp(rvf_loader *l, struct ldr_obj *nobj, char *err, size_t errlen)
{
	int saved, e;
	if ((e = ldr_netns_enter(l->o.netns, &saved, err, errlen)))
		return e;
	e = bpf_xdp_attach(l->ifindex, bpf_program__fd(nobj->prog), mode_flags(l->attached), NULL);
	ldr_netns_leave(saved);
	if (e)
		return ldr_err(err, errlen, "replacing the XDP program on %s: %s", l->ifname, strerror(-e)), e;
	if (l->o.no_pin)
		return 0;
	struct ldr_obj keep = l->xdp;
	l->xdp = *nobj; /* pin the new program and rvf_vecs */
	e = ldr_pin_all(l, err, errlen);
	l->xdp = keep;
	return e;
}

int rvf_loader_detach(const char *ifname, const char *netns, char *err, size_t errlen)
{
	char dir[LDR_PATH_MAX], path[LDR_PATH_MAX + 32];
	int saved, e;
	__u32 pinned_xdp = 0, pinned_tc = 0;

	if ((e = ldr_pin_dir(ifname, dir, sizeof dir)))
		return ldr_err(err, errlen, "invalid interface name '%s'", ifname ? ifname : ""), e;
	/* Ids of the pinned programs (the pins are in our mount namespace). */
	snprintf(path, sizeof path, "%s/xdp_prog", dir);
	int fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bpf_prog_info info;
		__u32 il = sizeof info;
		memset(&info, 0, sizeof info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &il))
			pinned_xdp = info.id;
		close(fd);
	}
	snprintf(path, sizeof path, "%s/tc_prog", dir);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bpf_prog_info info;
		__u32 il = sizeof info;
		memset(&info, 0, sizeof info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &il))
			pinned_tc = info.id;
		close(fd);
	}

	if ((e = ldr_netns_enter(netns, &saved, err, errlen)))
		return e;
	ldr_log_begin();
	int ifindex = (int)if_nametoindex(ifname);
	if (ifindex) {
		const int flags[2] = {XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE};
		for (int i = 0; i < 2; i++) {
			__u32 id = 0;
			char name[BPF_OBJ_NAME_LEN];
			e = bpf_xdp_query_id(ifindex, flags[i], &id);
			if (e || !id)
				continue;
			prog_name(id, name, sizeof name);
			if (id != pinned_xdp && strcmp(name, XDP_PROG_NAME) != 0)
				continue; /* not ours: leave it */
			e = bpf_xdp_detach(ifindex, flags[i], NULL);
			if (e) {
				ldr_err(err, errlen, "detaching XDP from %s: %s", ifname, strerror(-e));
				goto out;
			}
		}
		/* tc: our filter, then the clsact qdisc it lives in. */
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, q, .handle = TC_HANDLE, .priority = TC_PRIO);
		int ours = 0;
		if (bpf_tc_query(&hook, &q) == 0) {
			char name[BPF_OBJ_NAME_LEN];
			prog_name(q.prog_id, name, sizeof name);
			ours = q.prog_id == pinned_tc || !strcmp(name, TC_PROG_NAME);
			if (ours) {
				LIBBPF_OPTS(bpf_tc_opts, d, .handle = TC_HANDLE, .priority = TC_PRIO);
				e = bpf_tc_detach(&hook, &d);
				if (e && e != -ENOENT) {
					ldr_err(err, errlen, "detaching tc from %s: %s", ifname, strerror(-e));
					goto out;
				}
			}
		}
		if (ours || pinned_tc) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			e = bpf_tc_hook_destroy(&hook);
			if (e && e != -ENOENT && e != -EINVAL) {
				ldr_err(err, errlen, "removing clsact from %s: %s", ifname, strerror(-e));
				goto out;
			}
		}
	}
	e = 0;
out:
	ldr_log_end();
	ldr_netns_leave(saved);
	if (e)
		return e;
	return ldr_unpin_all(ifname, err, errlen);
}
