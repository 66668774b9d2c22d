/* cli_kernel.c — kernel embedding commands:
 *
 *   rvf embed-kernel PATH --image-path BZIMAGE [--initramfs FILE]
 *                    [--cmdline "..."] [--arch x86_64|aarch64|riscv64]
 *                    [--api-port P] [--kernel-type T] [--flags N] [--wait] [--json]
 *   rvf extract-kernel PATH -o DIR [--json]
 *
 * Storage (format spec §12, docs/SECURITY.md §3). embed-kernel writes the
 * kernel as a KERNEL_SEG in the KernelBinding layout (header · binding ·
 * command line · image; BLAKE2b-256 of the image, the policy and the current
 * manifest) and, with --initramfs, the initramfs as the next KERNEL_SEG in
 * the same commit (128-byte header layout, kernel_type 0x04 Custom, command
 * line exactly RVF_INITRAMFS_MARKER), bound into the kernel's policy hash
 * (binding_version 2). --arch stores the format's own enumeration (x86_64
 * 0, aarch64 1, riscv64 2), not the reference CLI's off-by-one numbers
 * (behaviour spec (a) embed-kernel).
 *
 * The reference reads only the first KERNEL_SEG and does not parse the
 * binding layout (its extractKernel returns binding + command line + image
 * as the "image"), so it can read such files but not boot them. The kernel
 * is the first KERNEL_SEG of the directory, the initramfs the first later
 * KERNEL_SEG carrying the marker command line. A second embed-kernel on a
 * file that already holds a kernel appends new segments that readers
 * ignore (first one wins, as in the reference); a warning says so.
 *
 * launch is in cli_launch.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	OPT_JSON = 256, OPT_IMAGE, OPT_INITRAMFS, OPT_CMDLINE, OPT_ARCH, OPT_API_PORT,
	OPT_KTYPE, OPT_FLAGS, OPT_WAIT, OPT_WAIT_TIMEOUT,
};

/* ---- helpers -------------------------------------------------------------- */

int kernel_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const uint8_t *p = data;

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0)
		return -errno;
	return 0;
}

const char *kernel_arch_name(uint8_t a)
{
	switch (a) {
	case 0x00: return "x86_64";
	case 0x01: return "aarch64";
	case 0x02: return "riscv64";
	case 0xFE: return "universal";
	}
	return "unknown";
}

static int arch_parse(const char *s, uint8_t *out)
{
	if (!strcasecmp(s, "x86_64") || !strcasecmp(s, "x86-64") || !strcasecmp(s, "amd64"))
		*out = 0x00;
	else if (!strcasecmp(s, "aarch64") || !strcasecmp(s, "arm64"))
		*out = 0x01;
	else if (!strcasecmp(s, "riscv64"))
		*out = 0x02;
	else
		return -1;
	return 0;
}

static const char *ktype_name(uint8_t t)
{
	switch (t) {
	case 0x00: return "hermit";
	case 0x01: return "microlinux";
	case 0x02: return "asterinas";
	case 0x03: return "wasi";
	case 0x04: return "custom";
	case 0xFE: return "teststub";
	}
	return "unknown";
}

static int ktype_parse(const char *s, uint8_t *out)
{
	static const char *const names[] = { "hermit", "microlinux", "asterinas", "wasi", "custom" };
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i])) {
			*out = (uint8_t)i;
			return 0;
		}
	if (!strcasecmp(s, "teststub")) {
		*out = 0xFE;
		return 0;
	}
	if (cli_parse_u64(s, &v) || v > 255)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

int kernel_parse_num(const char *cmd, const char *flag, const char *arg, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	/* Decimal, or 0x-prefixed hex (flags). */
	if (!arg[0] || arg[0] == '-' || arg[0] == '+' || arg[0] == ' ')
		goto bad;
	v = strtoull(arg, &end, 0);
	if (errno || *end || v > max)
		goto bad;
	*out = v;
	return CLI_OK;
bad:
	return cli_usage(cmd, "invalid value '%s' for '%s': expected an integer 0..%llu", arg, flag,
			 (unsigned long long)max);
}

int kernel_view(const rvf_store *s, const rvf_segment_info *si, const uint8_t *p, uint64_t len,
		rvf_kernel_view *v)
{
	const char *why;
	if (rvf_kernel_decode(p, len, v, &why))
		return cli_fail("%s: kernel segment %llu at offset %llu: %s", rvf_path(s),
				(unsigned long long)si->seg_id, (unsigned long long)si->offset, why);
	return CLI_OK;
}

int kernel_pick(rvf_store *s, struct kpick *out)
{
	size_t n = rvf_kernel_count(s);
	rvf_kernel_view v;
	int e;

	memset(out, 0, sizeof *out);
	if (!n)
		return cli_fail("%s has no embedded kernel (add one with: rvf embed-kernel %s "
				"--image-path BZIMAGE)", rvf_path(s), rvf_path(s));
	if ((e = rvf_kernel_payload(s, 0, &out->kp, &out->klen, &out->ksi)))
		return cli_store_fail(e);
	if (kernel_view(s, &out->ksi, out->kp, out->klen, &v))
		return CLI_FAIL;
	if (rvf_kernel_is_initramfs(&v.k))
		return cli_fail("%s: the first kernel segment holds an initramfs, not a kernel",
				rvf_path(s));
	for (size_t i = 1; i < n; i++) {
		if ((e = rvf_kernel_payload(s, i, &out->ip, &out->ilen, &out->isi)))
			return cli_store_fail(e);
		if (kernel_view(s, &out->isi, out->ip, out->ilen, &v))
			return CLI_FAIL;
		if (rvf_kernel_is_initramfs(&v.k)) {
			out->has_initrd = 1;
			return CLI_OK;
		}
	}
	out->ip = NULL;
	out->ilen = 0;
	return CLI_OK;
}

/* ---- embed-kernel ------------------------------------------------------- */

int cmd_embed_kernel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image-path", required_argument, NULL, OPT_IMAGE },
		{ "initramfs", required_argument, NULL, OPT_INITRAMFS },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "api-port", required_argument, NULL, OPT_API_PORT },
		{ "kernel-type", required_argument, NULL, OPT_KTYPE },
		{ "flags", required_argument, NULL, OPT_FLAGS },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *image = NULL, *initramfs = NULL, *cmdline = NULL;
	const char *arch_s = "x86_64";
	uint8_t arch = 0, ktype = 0x01;
	uint64_t port = 8080, flags = 0, seg = 0, iseg = 0;
	uint8_t *img = NULL, *ird = NULL;
	size_t isz = 0, rsz = 0;
	unsigned oflags = 0;
	int json = 0, opt, rc, e;
	rvf_store *s = NULL;
	rvf_kernel old;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_IMAGE: image = optarg; break;
		case OPT_INITRAMFS: initramfs = optarg; break;
		case OPT_CMDLINE: cmdline = optarg; break;
		case OPT_ARCH:
			arch_s = optarg;
			if (arch_parse(optarg, &arch))
				return cli_fail("Unknown architecture: %s (x86_64, aarch64 or riscv64)",
						optarg);
			break;
		case OPT_API_PORT:
			if ((rc = kernel_parse_num("embed-kernel", "--api-port <PORT>", optarg, 65535, &port)))
				return rc;
			break;
		case OPT_KTYPE:
			if (ktype_parse(optarg, &ktype))
				return cli_usage("embed-kernel", "invalid value '%s' for '--kernel-type "
						 "<T>': hermit, microlinux, asterinas, wasi, custom, "
						 "teststub or 0..255", optarg);
			break;
		case OPT_FLAGS:
			if ((rc = kernel_parse_num("embed-kernel", "--flags <N>", optarg, UINT32_MAX, &flags)))
				return rc;
			break;
		case OPT_WAIT: oflags |= RVF_OPEN_WAIT; break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("embed-kernel", optarg, &oflags)))
				return rc;
			break;
		case OPT_JSON: json = 1; break;
		default: return cli_bad_option("embed-kernel", argv, opt);
		}
	}
	if ((rc = cli_one_path("embed-kernel", argc, argv, &path)))
		return rc;
	if (!image)
		return cli_fail("No kernel image path provided. Use --image-path <path>");
	if (cmdline && !strcmp(cmdline, RVF_INITRAMFS_MARKER))
		return cli_fail("--cmdline '%s' is reserved for the initramfs segment", cmdline);
	if ((e = rvf_read_file(image, &img, &isz)))
		return cli_fail("Failed to read kernel image '%s': %s", image, strerror(-e));
	rc = CLI_FAIL;
	if (!isz) {
		cli_fail("kernel image '%s' is empty", image);
		goto out;
	}
	if (initramfs) {
		if ((e = rvf_read_file(initramfs, &ird, &rsz))) {
			cli_fail("Failed to read initramfs '%s': %s", initramfs, strerror(-e));
			goto out;
		}
		if (!rsz) {
			cli_fail("initramfs '%s' is empty", initramfs);
			goto out;
		}
	}
	if (cli_open_store(path, oflags, &s))
		goto out;
	if (rvf_kernel_get(s, &old) == 0)
		fprintf(stderr, "Warning: %s already holds a kernel; the new segments are appended "
			"but readers (and launch) keep using the first one\n", path);
	rvf_kernel k = {
		.arch = arch,
		.kernel_type = ktype,
		.flags = (uint32_t)flags,
		.api_port = (uint16_t)port,
		.image = img,
		.image_size = isz,
		.cmdline = cmdline,
		.cmdline_len = cmdline ? strlen(cmdline) : 0,
	};
	rvf_kernel r = { .image = ird, .image_size = rsz };
	if ((e = rvf_embed_kernel_bound(s, &k, ird ? &r : NULL, 1, 0, &seg, &iseg))) {
		cli_store_fail(e);
		goto out;
	}
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "status", json_string("embedded"));
			json_object_set_new(o, "layout", json_string("binding"));
			json_object_set_new(o, "segment_id", cli_json_u64(seg));
			json_object_set_new(o, "arch", json_string(arch_s));
			json_object_set_new(o, "arch_code", json_integer(arch));
			json_object_set_new(o, "kernel_type", json_integer(ktype));
			json_object_set_new(o, "flags", json_integer((json_int_t)flags));
			json_object_set_new(o, "api_port", json_integer((json_int_t)port));
			json_object_set_new(o, "image_size", cli_json_u64(isz));
			json_object_set_new(o, "cmdline", cmdline ? json_string(cmdline) : json_null());
			json_object_set_new(o, "initramfs_size", cli_json_u64(rsz));
			json_object_set_new(o, "initramfs_segment_id",
					    ird ? cli_json_u64(iseg) : json_null());
		}
		rc = cli_json_print(o);
	} else {
		printf("Kernel embedded successfully:\n");
		cli_kv("Segment ID", "%llu", (unsigned long long)seg);
		cli_kv("Architecture", "%s", arch_s);
		cli_kv("Kernel type", "%u (%s)", ktype, ktype_name(ktype));
		cli_kv("Image size", "%zu bytes", isz);
		cli_kv("Layout", "KernelBinding (BLAKE2b-256 of image%s, policy, manifest)",
		       ird ? ", initramfs" : "");
		cli_kv("API port", "%llu", (unsigned long long)port);
		if (cmdline)
			cli_kv("Command line", "%s", cmdline);
		if (ird)
			cli_kv("Initramfs", "%zu bytes (segment %llu)", rsz, (unsigned long long)iseg);
		rc = CLI_OK;
	}
out:
	rvf_close(s);
	free(img);
	free(ird);
	return rc;
}

/* ---- extract-kernel ----------------------------------------------------- */

int cmd_extract_kernel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *dir = NULL;
	char f_img[PATH_MAX + 32], f_cmd[PATH_MAX + 32], f_ird[PATH_MAX + 32];
	int json = 0, opt, rc, e;
	rvf_store *s = NULL;
	struct kpick pk;
	rvf_kernel_view kv, iv;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case OPT_JSON: json = 1; break;
		default: return cli_bad_option("extract-kernel", argv, opt);
		}
	}
	if ((rc = cli_one_path("extract-kernel", argc, argv, &path)))
		return rc;
	if (!dir)
		return cli_usage("extract-kernel", "the following required arguments were not "
				 "provided:\n  --output <DIR>");
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &s)))
		return rc;
	if ((rc = kernel_pick(s, &pk)) || (rc = kernel_view(s, &pk.ksi, pk.kp, pk.klen, &kv)) ||
	    (pk.has_initrd && (rc = kernel_view(s, &pk.isi, pk.ip, pk.ilen, &iv))))
		goto out;
	const rvf_kernel k = kv.k;
	const int has_ird = pk.has_initrd;
	rc = CLI_FAIL;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		cli_fail("%s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(f_img, sizeof f_img, "%s/vmlinuz", dir);
	snprintf(f_cmd, sizeof f_cmd, "%s/cmdline", dir);
	snprintf(f_ird, sizeof f_ird, "%s/initramfs.img", dir);
	if ((e = kernel_write_file(f_img, k.image, k.image_size)) ||
	    (e = kernel_write_file(f_cmd, k.cmdline, k.cmdline_len)) ||
	    (has_ird && (e = kernel_write_file(f_ird, iv.k.image, iv.k.image_size)))) {
		cli_fail("%s: %s", dir, strerror(-e));
		goto out;
	}
	if (!has_ird)
		unlink(f_ird); /* a stale one from an earlier extract would mislead */
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "output", cli_json_path(dir));
			json_object_set_new(o, "arch", json_string(kernel_arch_name(k.arch)));
			json_object_set_new(o, "arch_code", json_integer(k.arch));
			json_object_set_new(o, "kernel_type", json_integer(k.kernel_type));
			json_object_set_new(o, "flags", json_integer(k.flags));
			json_object_set_new(o, "api_port", json_integer(k.api_port));
			json_object_set_new(o, "image", cli_json_path(f_img));
			json_object_set_new(o, "image_size", cli_json_u64(k.image_size));
			json_object_set_new(o, "cmdline", json_stringn(k.cmdline, k.cmdline_len));
			json_object_set_new(o, "initramfs", has_ird ? cli_json_path(f_ird) : json_null());
			json_object_set_new(o, "initramfs_size", cli_json_u64(has_ird ? iv.k.image_size : 0));
		}
		rc = cli_json_print(o);
	} else {
		printf("Kernel extracted to %s:\n", dir);
		cli_kv("Architecture", "%s", kernel_arch_name(k.arch));
		cli_kv("Kernel type", "%u (%s)", k.kernel_type, ktype_name(k.kernel_type));
		cli_kv("API port", "%u", k.api_port);
		cli_kv("Image", "%s (%zu bytes)", f_img, k.image_size);
		cli_kv("Command line", "%s (%zu bytes)", f_cmd, k.cmdline_len);
		if (has_ird)
			cli_kv("Initramfs", "%s (%zu bytes)", f_ird, iv.k.image_size);
		else
			cli_kv("Initramfs", "none");
		rc = CLI_OK;
	}
out:
	rvf_close(s);
	return rc;
}

