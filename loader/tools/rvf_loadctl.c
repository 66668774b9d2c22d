/* rvf_loadctl.c — `rvf-loadctl`, a small front end of the loader for
 * operators and the integration tests:
 *
 *   rvf-loadctl probe
 *   rvf-loadctl attach STORE IFACE [--netns NS] [--mode auto|native|generic]
 *               [--port P] [--bpf-dir DIR] [--ebpf-from-store --trust-key K.pub]
 *               [--no-tc] [--no-pin] [--max-scan N] [--nprobe N]
 *               [--centroids N] [--no-cache] [--allow CIDR]...
 *       (re-running it is a restart: pinned maps are reused, the maps are
 *        refilled from the store, the programs replaced in place)
 *   rvf-loadctl detach IFACE [--netns NS]
 *   rvf-loadctl allow IFACE CIDR...      (pinned maps; enables the list)
 *   rvf-loadctl allow-off IFACE
 *
 * Exit: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "rvf.h"

static int usage(void)
{
	fputs("usage: rvf-loadctl probe\n"
	      "       rvf-loadctl attach STORE IFACE [--netns NS] [--mode auto|native|generic] [--port P]\n"
	      "                   [--bpf-dir DIR] [--ebpf-from-store --trust-key K.pub] [--no-tc]\n"
	      "                   [--no-pin] [--max-scan N (1..8388608)]\n"
	      "                   [--nprobe N] [--centroids N] [--no-cache] [--allow CIDR]...\n"
	      "       rvf-loadctl detach IFACE [--netns NS]\n"
	      "       rvf-loadctl allow IFACE CIDR...\n"
	      "       rvf-loadctl allow-off IFACE\n",
	      stderr);
	return 2;
}

static int num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int fail(const char *what, const char *msg)
{
	fprintf(stderr, "error: %s: %s\n", what, msg);
	const char *lg = rvf_loader_last_log();
	if (lg && *lg)
		fprintf(stderr, "---- libbpf / verifier log ----\n%s-------------------------------\n", lg);
	return 1;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option lo[] = {
		{"netns", 1, 0, 'n'},     {"mode", 1, 0, 'm'},      {"port", 1, 0, 'p'},
		{"bpf-dir", 1, 0, 'b'},   {"ebpf-from-store", 0, 0, 'E'}, {"no-tc", 0, 0, 'T'},
		{"trust-key", 1, 0, 'K'},
		{"no-pin", 0, 0, 'P'},    {"max-scan", 1, 0, 's'},  {"nprobe", 1, 0, 'r'},
		{"centroids", 1, 0, 'c'}, {"no-cache", 0, 0, 'C'},  {"allow", 1, 0, 'a'},
		{0, 0, 0, 0}};
	struct rvf_loader_opts o;
	const char *allow[64];
	int nallow = 0, c;
	const char *trust = NULL;
	uint8_t key[32];
	unsigned long v;
	char err[512] = "";

	memset(&o, 0, sizeof o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o.netns = optarg; break;
		case 'm':
			if (!strcmp(optarg, "auto")) o.mode = RVF_XDP_MODE_AUTO;
			else if (!strcmp(optarg, "native")) o.mode = RVF_XDP_MODE_NATIVE;
			else if (!strcmp(optarg, "generic")) o.mode = RVF_XDP_MODE_GENERIC;
			else return usage();
			break;
		case 'p': if (num(optarg, 65535, &v) || !v) return usage(); o.port = (uint16_t)v; break;
		case 'b': o.bpf_dir = optarg; break;
		case 'E': o.ebpf_from_store = 1; break;
		case 'K': trust = optarg; break;
		case 'T': o.no_tc = 1; break;
		case 'P': o.no_pin = 1; break;
		case 's':
			if (num(optarg, ULONG_MAX, &v) || !v || v > RVF_LOADER_MAX_SCAN) {
				fprintf(stderr, "error: --max-scan '%s': expected 1..%u (one bpf_loop runs at most %u iterations)\n",
					optarg, RVF_LOADER_MAX_SCAN, RVF_LOADER_MAX_SCAN);
				return 2;
			}
			o.max_scan = (uint32_t)v;
			break;
		case 'r': if (num(optarg, 16, &v) || !v) return usage(); o.nprobe = (uint32_t)v; break;
		case 'c': if (num(optarg, 4096, &v)) return usage(); o.ncentroids = (uint32_t)v; break;
		case 'C': o.no_cache = 1; break;
		case 'a': if (nallow == 64) return usage(); allow[nallow++] = optarg; break;
		default: return usage();
		}
	}
	if (argc - optind != 2)
		return usage();
	const char *path = argv[optind];
	o.ifname = argv[optind + 1];
	if (o.ebpf_from_store != (trust != NULL)) {
		fprintf(stderr, "error: --ebpf-from-store and --trust-key go together\n");
		return 2;
	}
	if (trust) {
		if (rvf_key_read_public(trust, key)) {
			fprintf(stderr, "error: --trust-key %s: %s\n", trust, rvf_last_error());
			return 1;
		}
		o.trust_key = key;
		o.store_path = path;
	}

	if (rvf_loader_probe(err, sizeof err))
		return fail("kernel features", err);
	rvf_store *s;
	int e = rvf_open(path, RVF_OPEN_READONLY, &s);
	if (e) {
		fprintf(stderr, "error: %s: %s: %s\n", path, rvf_strerror(e), rvf_last_error());
		return 1;
	}
	rvf_loader *l;
	e = rvf_loader_open(s, &o, &l, err, sizeof err);
	if (e) {
		rvf_close(s);
		return fail("load", err);
	}
	e = rvf_loader_attach(l, err, sizeof err);
	for (int i = 0; !e && i < nallow; i++)
		e = rvf_loader_allow_add(l, NULL, allow[i], err, sizeof err);
	fputs(rvf_loader_warnings(l), stderr);
	if (!e)
		printf("attached %s: xdp %s (%s), tc %s, pins %s/%s\n", o.ifname,
		       rvf_loader_attached_mode(l) == RVF_XDP_MODE_NATIVE ? "native" : "generic",
		       rvf_loader_xdp_source(l) == RVF_OBJ_STORE ? "from the store" : "built-in",
		       o.no_tc ? "off" : rvf_loader_tc_source(l) == RVF_OBJ_STORE ? "from the store" : "built-in",
		       RVF_LOADER_PIN_ROOT, o.ifname);
	rvf_loader_close(l);
	rvf_close(s);
	return e ? fail("attach", err) : 0;
}

int main(int argc, char **argv)
{
	char err[512] = "";
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "probe")) {
		if (rvf_loader_probe(err, sizeof err))
			return fail("kernel features", err);
		puts("ok: BTF, bpffs, bpf_loop for XDP, capabilities");
		return 0;
	}
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "detach")) {
		const char *ns = NULL;
		if (argc == 5 && !strcmp(argv[3], "--netns"))
			ns = argv[4];
		else if (argc != 3)
			return usage();
		if (rvf_loader_detach(argv[2], ns, err, sizeof err))
			return fail("detach", err);
		return 0;
	}
	if (!strcmp(cmd, "allow")) {
		if (argc < 4)
			return usage();
		for (int i = 3; i < argc; i++)
			if (rvf_loader_allow_add(NULL, argv[2], argv[i], err, sizeof err))
				return fail("allow", err);
		return 0;
	}
	if (!strcmp(cmd, "allow-off")) {
		if (argc != 3)
			return usage();
		if (rvf_loader_allow_enable(NULL, argv[2], 0, err, sizeof err))
			return fail("allow-off", err);
		return 0;
	}
	return usage();
}
