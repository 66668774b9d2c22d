/* cli_launch.c — `rvf launch`: verify the embedded kernel, then boot it
 * under QEMU and supervise the VM.
 *
 *   rvf launch PATH [--memory-mb 128] [--vcpus 1] [--port 8080] [--timeout S]
 *              [--qemu-binary BIN] [--serial-log FILE] [--kernel F]
 *              [--initramfs F] [--append "..."] [--no-drive] [--allow-unverified]
 *
 * Before anything boots, the file's kernel (first KERNEL_SEG) and its
 * initramfs are checked with rvf_verify_attestation (docs/SECURITY.md §3):
 * an INVALID kernel is always refused; one that can only be PARTIALLY
 * verified (legacy layout with a fold32 hash, reference binding, initramfs
 * not bound) is refused unless --allow-unverified. The payloads are copied
 * out of the file first and their BLAKE2b-256 compared with what the
 * verifier hashed, so exactly the verified bytes boot.
 *
 * The VM: kernel, initramfs and command line go to a private temp dir and
 * QEMU runs under TCG (KVM does not work on the machines this was built
 * for): qemu-system-x86_64 -accel tcg -nographic -no-reboot -m MB -kernel
 * -initrd -append "<cmdline> console=ttyS0 panic=-1 rvf.api_port=P",
 * user-mode networking with hostfwd=tcp:127.0.0.1:PORT-:api_port on a
 * virtio-net NIC, and the .rvf itself as a read-only virtio disk. The serial
 * console is copied to stdout (or --serial-log) and watched for a kernel
 * panic. Exit status: 0 when the guest powers off or on SIGINT/SIGTERM;
 * 1 when the guest kernel panics (the VM is stopped), at --timeout, or when
 * QEMU fails. The temp dir is always removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_kernel.h"
#include "rvf_frontend.h"

enum {
	OPT_INITRAMFS = 256, OPT_VCPUS, OPT_TIMEOUT, OPT_QEMU, OPT_SERIAL, OPT_KERNEL, OPT_APPEND,
	OPT_NODRIVE, OPT_UNVERIFIED,
};

/* What a panicking Linux kernel prints (kernel/panic.c). */
#define PANIC_TEXT "Kernel panic - not syncing"

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
	stop_sig = sig;
}

/* Full path of an executable: `name` itself if it has a slash, else found on
 * PATH (then /usr/bin, /usr/local/bin). */
static int find_exe(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char buf[4096];
	char *save = NULL, *d;

	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	snprintf(buf, sizeof buf, "%s:/usr/bin:/usr/local/bin", path ? path : "");
	for (d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *d ? d : ".", name);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* QEMU's option parser splits on ',': a literal comma is written twice. */
static char *qemu_escape(const char *s)
{
	size_t n = strlen(s), i, j = 0;
	char *o = malloc(2 * n + 1);

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		o[j++] = s[i];
		if (s[i] == ',')
			o[j++] = ',';
	}
	o[j] = 0;
	return o;
}

/* The serial console: copied to the sink and scanned for a kernel panic
 * (the text may straddle two reads: the tail of the previous one is kept). */
struct console {
	FILE *sink;
	char tail[sizeof PANIC_TEXT];
	size_t tlen;
	int panicked;
};

static void console_feed(struct console *c, const char *buf, size_t n)
{
	if (fwrite(buf, 1, n, c->sink) != n || fflush(c->sink) != 0) {
		if (!stop_sig)
			stop_sig = SIGPIPE; /* console reader gone (e.g. `| head`): stop the VM */
	}
	char scan[sizeof c->tail + 8192];
	size_t off = 0;
	while (off < n) {
		size_t take = n - off < 8192 ? n - off : 8192;
		memcpy(scan, c->tail, c->tlen);
		memcpy(scan + c->tlen, buf + off, take);
		size_t len = c->tlen + take;
		if (!c->panicked && memmem(scan, len, PANIC_TEXT, sizeof PANIC_TEXT - 1))
			c->panicked = 1;
		c->tlen = len < sizeof c->tail - 1 ? len : sizeof c->tail - 1;
		memcpy(c->tail, scan + len - c->tlen, c->tlen);
		off += take;
	}
}

static void copy_out(int fd, struct console *c)
{
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n > 0)
		console_feed(c, buf, (size_t)n);
}

struct launch_opts {
	uint64_t mem_mb, vcpus, port, timeout_s;
	const char *qemu, *serial_log, *kernel, *initramfs, *append;
	int no_drive, allow_unverified;
};

static int run_qemu(const char *path, const struct launch_opts *lo, const rvf_kernel *k,
		    const rvf_kernel *ird, const char *tmpdir)
{
	char f_img[PATH_MAX + 32], f_ird[PATH_MAX + 32], qemu[PATH_MAX], mem[32], smp[32], netdev[128];
	const char *qname = lo->qemu, *kpath = lo->kernel, *ipath = lo->initramfs;
	char *append = NULL, *drive = NULL, *esc = NULL;
	const char *args[64];
	size_t na = 0, alen;
	int pfd[2] = { -1, -1 }, rc = CLI_FAIL, e, status = 0, exited = 0, timed_out = 0;
	FILE *sink = stdout;
	struct console con = { 0 };
	pid_t pid;
	uint8_t arch = k->arch;
	const char *console = arch == 0x01 ? "ttyAMA0" : "ttyS0";

	if (!qname)
		qname = arch == 0x01 ? "qemu-system-aarch64" : arch == 0x02 ? "qemu-system-riscv64"
									    : "qemu-system-x86_64";
	if (find_exe(qname, qemu, sizeof qemu))
		return cli_fail("QEMU not found: '%s' is not an executable%s (install it with: "
				"apt-get install %s, or pass --qemu-binary)", qname,
				strchr(qname, '/') ? "" : " on PATH, in /usr/bin or /usr/local/bin",
				arch == 0x01 ? "qemu-system-arm" : arch == 0x02 ? "qemu-system-misc"
									 : "qemu-system-x86");
	if (!kpath) {
		snprintf(f_img, sizeof f_img, "%s/vmlinuz", tmpdir);
		if ((e = kernel_write_file(f_img, k->image, k->image_size)))
			return cli_fail("%s: %s", f_img, strerror(-e));
		kpath = f_img;
	}
	if (!ipath && ird) {
		snprintf(f_ird, sizeof f_ird, "%s/initramfs.img", tmpdir);
		if ((e = kernel_write_file(f_ird, ird->image, ird->image_size)))
			return cli_fail("%s: %s", f_ird, strerror(-e));
		ipath = f_ird;
	}
	/* Kernel command line: the embedded one, then what launch needs. */
	alen = k->cmdline_len + (lo->append ? strlen(lo->append) : 0) + 128;
	append = malloc(alen);
	if (!append)
		return cli_fail("out of memory");
	snprintf(append, alen, "%.*s", (int)k->cmdline_len, k->cmdline);
	if (!memmem(k->cmdline, k->cmdline_len, "console=", 8))
		snprintf(append + strlen(append), alen - strlen(append), "%sconsole=%s",
			 *append ? " " : "", console);
	if (!memmem(k->cmdline, k->cmdline_len, "panic=", 6))
		snprintf(append + strlen(append), alen - strlen(append), " panic=-1");
	snprintf(append + strlen(append), alen - strlen(append), " rvf.api_port=%u%s%s",
		 k->api_port, lo->append ? " " : "", lo->append ? lo->append : "");

	snprintf(mem, sizeof mem, "%llu", (unsigned long long)lo->mem_mb);
	snprintf(smp, sizeof smp, "%llu", (unsigned long long)lo->vcpus);
	if (lo->port)
		snprintf(netdev, sizeof netdev, "user,id=net0,hostfwd=tcp:127.0.0.1:%llu-:%u",
			 (unsigned long long)lo->port, k->api_port ? k->api_port : 8080);
	else
		snprintf(netdev, sizeof netdev, "user,id=net0");

	args[na++] = qemu;
	if (arch == 0x01) {
		args[na++] = "-machine"; args[na++] = "virt";
		args[na++] = "-cpu"; args[na++] = "cortex-a72";
	} else if (arch == 0x02) {
		args[na++] = "-machine"; args[na++] = "virt";
	}
	args[na++] = "-accel"; args[na++] = "tcg";
	args[na++] = "-nographic";
	args[na++] = "-no-reboot";
	args[na++] = "-monitor"; args[na++] = "none";
	args[na++] = "-serial"; args[na++] = "stdio";
	args[na++] = "-m"; args[na++] = mem;
	args[na++] = "-smp"; args[na++] = smp;
	args[na++] = "-kernel"; args[na++] = kpath;
	if (ipath) {
		args[na++] = "-initrd"; args[na++] = ipath;
	}
	args[na++] = "-append"; args[na++] = append;
	args[na++] = "-netdev"; args[na++] = netdev;
	args[na++] = "-device";
	args[na++] = arch == 0x00 || arch > 0x02 ? "virtio-net-pci,netdev=net0,romfile="
						 : "virtio-net-device,netdev=net0";
	if (!lo->no_drive) {
		/* The store itself, read-only, as the guest's first virtio disk. */
		esc = qemu_escape(path);
		size_t dl = (esc ? strlen(esc) : 0) + 96;
		drive = esc ? malloc(dl) : NULL;
		if (!drive) {
			free(append);
			free(esc);
			return cli_fail("out of memory");
		}
		snprintf(drive, dl, "file=%s,format=raw,if=virtio,readonly=on,file.locking=off", esc);
		args[na++] = "-drive"; args[na++] = drive;
	}
	args[na] = NULL;

	if (lo->serial_log) {
		sink = fopen(lo->serial_log, "w");
		if (!sink) {
			cli_fail("%s: %s", lo->serial_log, strerror(errno));
			sink = NULL;
			goto out;
		}
	}
	fprintf(stderr, "Launching microVM from %s...\n", path);
	fprintf(stderr, "  QEMU:     %s (TCG)\n", qemu);
	fprintf(stderr, "  Kernel:   %zu bytes, arch %s%s%s\n", lo->kernel ? (size_t)0 : k->image_size,
		kernel_arch_name(arch), lo->kernel ? ", from " : "", lo->kernel ? lo->kernel : "");
	if (ipath)
		fprintf(stderr, "  Initrd:   %s\n", lo->initramfs ? lo->initramfs : "embedded");
	fprintf(stderr, "  Memory:   %s MiB\n  vCPUs:    %s\n", mem, smp);
	if (lo->port)
		fprintf(stderr, "  API port: 127.0.0.1:%llu -> guest %u\n",
			(unsigned long long)lo->port, k->api_port ? k->api_port : 8080);
	fprintf(stderr, "  Cmdline:  %s\n", append);
	if (lo->timeout_s)
		fprintf(stderr, "  Timeout:  %llu s\n", (unsigned long long)lo->timeout_s);
	if (k->flags & 0x2)
		fprintf(stderr, "Warning: the kernel is flagged REQUIRES_KVM; launching under TCG anyway\n");
	fflush(stderr);

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		cli_fail("pipe: %s", strerror(errno));
		goto out;
	}
	struct sigaction sa = { 0 }, old_int, old_term;
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	stop_sig = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	struct sigaction ign = { 0 }, old_pipe;
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	pid_t parent = getpid();
	pid = fork();
	if (pid < 0) {
		cli_fail("fork: %s", strerror(errno));
		goto restore;
	}
	if (pid == 0) {
		/* Own process group: Ctrl+C reaches rvf, which stops QEMU in order. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		execv(qemu, (char *const *)args);
		fprintf(stderr, "error: cannot run %s: %s\n", qemu, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	fprintf(stderr, "MicroVM started (PID %d)\n", (int)pid);
	fflush(stderr);

	con.sink = sink;
	double deadline = lo->timeout_s ? now_s() + (double)lo->timeout_s : 0;
	int pipe_open = 1;
	while (!exited) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = pipe_open ? poll(&p, 1, 200) : (usleep(100000), 0);
		if (pr > 0) {
			if (p.revents & POLLIN)
				copy_out(pfd[0], &con);
			else if (p.revents & (POLLHUP | POLLERR))
				pipe_open = 0;
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			exited = 1;
			break;
		}
		if (stop_sig || con.panicked || (deadline && now_s() >= deadline)) {
			if (con.panicked) {
				fprintf(stderr, "\nlaunch: the guest kernel panicked, stopping the VM\n");
			} else if (!stop_sig) {
				timed_out = 1;
				fprintf(stderr, "\nlaunch: --timeout of %llu s reached, stopping the VM\n",
					(unsigned long long)lo->timeout_s);
			} else {
				fprintf(stderr, "\nShutting down VM...\n");
			}
			kill(pid, SIGTERM);
			for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; i++) {
				if (pipe_open)
					copy_out(pfd[0], &con);
				usleep(100000);
			}
			if (waitpid(pid, &status, WNOHANG) == 0) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
			}
			break;
		}
	}
	/* Whatever the console wrote last. */
	if (pipe_open) {
		int fl = fcntl(pfd[0], F_GETFL);
		fcntl(pfd[0], F_SETFL, fl | O_NONBLOCK);
		char buf[8192];
		ssize_t n;
		while ((n = read(pfd[0], buf, sizeof buf)) > 0)
			console_feed(&con, buf, (size_t)n);
	}
	if (con.panicked) {
		rc = cli_fail("the guest kernel panicked (\"%s\" on the serial console)", PANIC_TEXT);
	} else if (timed_out) {
		rc = cli_fail("--timeout of %llu s reached before the guest powered off",
			      (unsigned long long)lo->timeout_s);
	} else if (stop_sig) {
		fprintf(stderr, "VM stopped.\n");
		rc = CLI_OK;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		fprintf(stderr, "VM exited (guest powered off).\n");
		rc = CLI_OK;
	} else if (WIFEXITED(status)) {
		rc = cli_fail("QEMU exited with status %d (see its message above)", WEXITSTATUS(status));
	} else {
		rc = cli_fail("QEMU was killed by signal %d", WTERMSIG(status));
	}
restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (sink && sink != stdout)
		fclose(sink);
	free(append);
	free(drive);
	free(esc);
	return rc;
}

static const rvf_kernel_attest *find_att(const rvf_attest_report *r, uint64_t off)
{
	for (size_t i = 0; i < r->nkernels; i++)
		if (r->k[i].offset == off)
			return &r->k[i];
	return NULL;
}

/* One boot segment against the attestation report: refuses INVALID, and
 * PARTIAL without --allow-unverified; the copy must be the verified bytes. */
static int check_seg(const char *path, const struct launch_opts *lo, const rvf_attest_report *r,
		     const rvf_segment_info *si, const uint8_t *copy, uint64_t len, const char *what)
{
	const rvf_kernel_attest *a = find_att(r, si->offset);
	uint8_t d[32];
	if (!a)
		return cli_fail("refusing to boot %s: its %s segment %llu was not attested (more than %d "
				"kernel segments?)", path, what, (unsigned long long)si->seg_id, RVF_ATTEST_MAX);
	rvf_blake2b256(copy, len, d);
	if (memcmp(d, a->payload_digest, 32))
		return cli_fail("refusing to boot %s: the %s segment changed while it was being verified",
				path, what);
	if (a->verdict == RVF_ATT_VALID)
		return CLI_OK;
	if (a->verdict == RVF_ATT_PARTIAL && lo->allow_unverified) {
		fprintf(stderr, "Warning: booting an unverified %s (--allow-unverified): %s\n", what, a->note);
		return CLI_OK;
	}
	return cli_fail("refusing to boot %s: %s segment %llu attestation is %s: %s%s", path, what,
			(unsigned long long)si->seg_id, rvf_att_verdict_name(a->verdict), a->note,
			a->verdict == RVF_ATT_PARTIAL ? " (pass --allow-unverified to boot it anyway)" : "");
}

/* Attestation of the kernel and initramfs about to boot (docs/SECURITY.md §3). */
static int verify_boot(const char *path, const struct launch_opts *lo, const struct kpick *pk,
		       const uint8_t *kbuf, const uint8_t *ibuf)
{
	rvf_attest_report *r = malloc(sizeof *r);
	int rc, e;
	if (!r)
		return cli_fail("out of memory");
	if ((e = rvf_verify_attestation(path, r))) {
		free(r);
		return cli_store_fail(e);
	}
	rc = check_seg(path, lo, r, &pk->ksi, kbuf, pk->klen, "kernel");
	if (!rc && ibuf && !lo->initramfs)
		rc = check_seg(path, lo, r, &pk->isi, ibuf, pk->ilen, "initramfs");
	if (!rc) {
		const rvf_kernel_attest *a = find_att(r, pk->ksi.offset);
		fprintf(stderr, "Attestation: kernel segment %llu %s (%s)\n",
			(unsigned long long)pk->ksi.seg_id, rvf_att_verdict_name(a->verdict), a->note);
	}
	free(r);
	return rc;
}

int cmd_launch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "memory-mb", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, OPT_VCPUS },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "qemu-binary", required_argument, NULL, OPT_QEMU },
		{ "serial-log", required_argument, NULL, OPT_SERIAL },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initramfs", required_argument, NULL, OPT_INITRAMFS },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "no-drive", no_argument, NULL, OPT_NODRIVE },
		{ "allow-unverified", no_argument, NULL, OPT_UNVERIFIED },
		{ NULL, 0, NULL, 0 },
	};
	struct launch_opts lo = { .mem_mb = 128, .vcpus = 1, .port = 8080 };
	const char *path = NULL, *tmpbase = getenv("TMPDIR");
	char tmpdir[PATH_MAX], f[PATH_MAX + 32];
	struct kpick pk;
	rvf_store *s = NULL;
	rvf_kernel_view kv, iv;
	uint8_t *kbuf = NULL, *ibuf = NULL;
	int opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":m:p:", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if ((rc = kernel_parse_num("launch", "--memory-mb <MB>", optarg, 1 << 20, &lo.mem_mb)))
				return rc;
			if (lo.mem_mb < 16)
				return cli_usage("launch", "--memory-mb must be at least 16");
			break;
		case OPT_VCPUS:
			if ((rc = kernel_parse_num("launch", "--vcpus <N>", optarg, 255, &lo.vcpus)))
				return rc;
			if (!lo.vcpus)
				return cli_usage("launch", "--vcpus must be at least 1");
			break;
		case 'p':
			if ((rc = kernel_parse_num("launch", "--port <PORT>", optarg, 65535, &lo.port)))
				return rc;
			break;
		case OPT_TIMEOUT:
			if ((rc = kernel_parse_num("launch", "--timeout <S>", optarg, 86400 * 365, &lo.timeout_s)))
				return rc;
			break;
		case OPT_QEMU: lo.qemu = optarg; break;
		case OPT_SERIAL: lo.serial_log = optarg; break;
		case OPT_KERNEL: lo.kernel = optarg; break;
		case OPT_INITRAMFS: lo.initramfs = optarg; break;
		case OPT_APPEND: lo.append = optarg; break;
		case OPT_NODRIVE: lo.no_drive = 1; break;
		case OPT_UNVERIFIED: lo.allow_unverified = 1; break;
		default: return cli_bad_option("launch", argv, opt);
		}
	}
	if ((rc = cli_one_path("launch", argc, argv, &path)))
		return rc;
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &s)))
		return rc;
	if ((rc = kernel_pick(s, &pk)))
		goto out_store;
	/* copies: what is verified below is what boots, whatever happens to
	 * the file meanwhile */
	kbuf = malloc(pk.klen);
	ibuf = pk.has_initrd ? malloc(pk.ilen) : NULL;
	if (!kbuf || (pk.has_initrd && !ibuf)) {
		rc = cli_fail("out of memory");
		goto out_store;
	}
	memcpy(kbuf, pk.kp, pk.klen);
	if (ibuf)
		memcpy(ibuf, pk.ip, pk.ilen);
	if ((rc = verify_boot(path, &lo, &pk, kbuf, ibuf)))
		goto out_store;
	if ((rc = kernel_view(s, &pk.ksi, kbuf, pk.klen, &kv)) ||
	    (ibuf && (rc = kernel_view(s, &pk.isi, ibuf, pk.ilen, &iv))))
		goto out_store;
	snprintf(tmpdir, sizeof tmpdir, "%s/rvf-launch.XXXXXX",
		 tmpbase && *tmpbase ? tmpbase : "/tmp");
	if (!mkdtemp(tmpdir)) {
		rc = cli_fail("cannot create a temp dir in %s: %s", tmpbase && *tmpbase ? tmpbase : "/tmp",
			      strerror(errno));
		goto out_store;
	}
	rc = run_qemu(path, &lo, &kv.k, ibuf ? &iv.k : NULL, tmpdir);
	snprintf(f, sizeof f, "%s/vmlinuz", tmpdir);
	unlink(f);
	snprintf(f, sizeof f, "%s/initramfs.img", tmpdir);
	unlink(f);
	if (rmdir(tmpdir) != 0)
		fprintf(stderr, "Warning: could not remove %s: %s\n", tmpdir, strerror(errno));
out_store:
	free(kbuf);
	free(ibuf);
	rvf_close(s);
	return rc;
}
