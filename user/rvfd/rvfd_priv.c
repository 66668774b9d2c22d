/* rvfd_priv.c — least privilege for the daemon. As root it binds, loads,
 * attaches and pins; then the process that reads the network drops to
 * --user (default nobody) keeping only CAP_BPF, CAP_NET_ADMIN and
 * CAP_PERFMON (to sync the maps and reload the XDP object when the store
 * grows), or no capability at all with --no-xdp. With XDP a root monitor
 * stays behind: it reads no input, forwards TERM/INT/HUP to the worker and,
 * when the worker ends, detaches and unpins as root. The pins stay root's:
 * the worker cannot write them (after a reload that grew rvf_vecs the
 * xdp_prog / rvf_vecs pins keep the previous object until detach; the
 * pinned link runs the new program). */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rvfd.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int rvfd_priv_lookup(const char *name, struct rvfd_priv *p)
{
	struct passwd *pw;

	memset(p, 0, sizeof(*p));
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		fprintf(stderr, "rvfd: error: --user %s: %s\n", name,
			errno ? strerror(errno) : "no such user");
		return errno ? -errno : -ENOENT;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	p->drop = geteuid() == 0 && pw->pw_uid != 0;
	return 0;
}

static int fail(const char *what)
{
	int e = -errno;

	fprintf(stderr, "rvfd: error: dropping privileges: %s: %s\n", what, strerror(-e));
	return e ? e : -EPERM;
}

int rvfd_priv_drop(const struct rvfd_priv *p, int keep_bpf)
{
	const uint64_t keep = keep_bpf ? (1ull << CAP_BPF) | (1ull << CAP_NET_ADMIN) |
						 (1ull << CAP_PERFMON)
				       : 0;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	/* Bounding set first (needs CAP_SETPCAP, which goes below). */
	for (int c = 0; c < 64; c++)
		if (!(keep >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			return fail("PR_CAPBSET_DROP");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return fail("PR_CAP_AMBIENT_CLEAR_ALL");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return fail("PR_SET_KEEPCAPS");
	if (setgroups(0, NULL))
		return fail("setgroups");
	if (setresgid(p->gid, p->gid, p->gid))
		return fail("setresgid");
	if (setresuid(p->uid, p->uid, p->uid))
		return fail("setresuid");
	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = (uint32_t)keep;
	d[1].permitted = d[1].effective = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return fail("capset");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail("prctl");
	/* Check: no way back to root. */
	if (setuid(0) == 0 || geteuid() != p->uid || getegid() != p->gid) {
		fprintf(stderr, "rvfd: error: dropping privileges: still able to become root\n");
		return -EPERM;
	}
	return 0;
}

int rvfd_priv_monitor(pid_t worker, const sigset_t *set)
{
	for (;;) {
		siginfo_t si;
		int st, sig = sigwaitinfo(set, &si);

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "rvfd: error: monitor: sigwaitinfo: %s\n", strerror(errno));
			kill(worker, SIGTERM);
			sig = SIGCHLD;
		}
		if (sig != SIGCHLD) {
			kill(worker, sig);
			continue;
		}
		if (waitpid(worker, &st, WNOHANG) != worker)
			continue; /* stopped / continued, or another child */
		if (WIFEXITED(st))
			return WEXITSTATUS(st);
		fprintf(stderr, "rvfd: worker killed by signal %d\n", WTERMSIG(st));
		return 1;
	}
}
