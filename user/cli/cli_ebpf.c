/* cli_ebpf.c — eBPF program commands:
 *
 *   rvf embed-ebpf PATH [--program OBJ --program-type xdp|tc] [--max-dim D]
 *                  [--btf FILE] [--force] [--wait] [--json]
 *       Stores an object as an EBPF_SEG (reference header, enum values of
 *       the format spec §13: xdp -> program_type 0 XdpDistance, attach 0
 *       XdpIngress; tc -> program_type 1 TcFilter, attach 2 TcEgress).
 *       Without --program: the project's built objects for the store's
 *       dimension (rvf_loader_bpf_dir(): $RVF_BPF_DIR, build/bpf, PREFIX/lib/rvf/bpf:
 *       rvf_xdp_d<D>.bpf.o and rvf_tc.bpf.o). The object must be an ELF64
 *       little-endian EM_BPF object unless --force. The BTF blob stored
 *       after the program is --btf FILE, else the object's .BTF section.
 *   rvf extract-ebpf PATH -o DIR [--json]
 *       Writes every EBPF_SEG's program to DIR/ebpf<i>_<kind>.bpf.o (or
 *       .bin for payloads that are not BPF objects, reported as
 *       placeholders) and its BTF to DIR/ebpf<i>_<kind>.btf.
 *   rvf detach IFACE [--netns NS] [--json]
 *       Detaches our XDP and tcx links (never another program, qdisc or
 *       filter) and removes the pins of /sys/fs/bpf/rvf/IFACE (needs the
 *       loader, built with RVF_LOADER). A missing interface: exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../loader/rvf_elf.h"
#include "cli.h"
#include "rvf_frontend.h"
#include "../../loader/loader.h"

enum { OPT_JSON = 256, OPT_PROGRAM, OPT_TYPE, OPT_MAXDIM, OPT_BTF, OPT_FORCE, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_NETNS };

static const char *kind_name(uint8_t pt)
{
	switch (pt) {
	case 0: return "xdp";
	case 1: return "tc";
	case 2: return "socket_filter";
	case 3: return "tracepoint";
	case 4: return "kprobe";
	case 5: return "cgroup_skb";
	case 0xff: return "custom";
	}
	return "unknown";
}

struct embed_item {
	char path[PATH_MAX + 32];
	uint8_t type, attach;
};

/* Embeds one object; adds a JSON record to arr (if non-NULL). */
static int embed_one(rvf_store *s, const struct embed_item *it, uint16_t maxdim, const char *btf_path,
		     int force, json_t *arr)
{
	uint8_t *prog = NULL, *btf = NULL;
	size_t psz = 0, bsz = 0, off, len;
	uint64_t seg = 0;
	int e, k, rc = CLI_FAIL;

	if ((e = rvf_read_file(it->path, &prog, &psz)))
		return cli_fail("%s: %s", it->path, strerror(-e));
	k = rvf_elf_check(prog, psz);
	if (k != RVF_ELF_BPF && !force) {
		cli_fail("%s: %s (use --force to store it anyway)", it->path, rvf_elf_kind_str(k));
		goto out;
	}
	if (btf_path) {
		if ((e = rvf_read_file(btf_path, &btf, &bsz))) {
			cli_fail("%s: %s", btf_path, strerror(-e));
			goto out;
		}
	} else if (k == RVF_ELF_BPF && rvf_elf_section(prog, psz, ".BTF", &off, &len) == 0 && len) {
		btf = malloc(len);
		if (!btf) {
			cli_fail("out of memory");
			goto out;
		}
		memcpy(btf, prog + off, len);
		bsz = len;
	}
	rvf_ebpf eb = {
		.program_type = it->type,
		.attach_type = it->attach,
		.max_dimension = maxdim,
		.program = prog,
		.program_size = psz,
		.btf = btf,
		.btf_size = bsz,
	};
	if ((e = rvf_embed_ebpf(s, &eb, &seg))) {
		cli_store_fail(e);
		goto out;
	}
	if (arr) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "segment_id", cli_json_u64(seg));
			json_object_set_new(o, "program", cli_json_path(it->path));
			json_object_set_new(o, "program_type", json_integer(it->type));
			json_object_set_new(o, "attach_type", json_integer(it->attach));
			json_object_set_new(o, "max_dimension", json_integer(maxdim));
			json_object_set_new(o, "program_size", cli_json_u64(psz));
			json_object_set_new(o, "btf_size", cli_json_u64(bsz));
			json_object_set_new(o, "bpf_object", json_boolean(k == RVF_ELF_BPF));
			json_array_append_new(arr, o);
		}
	} else {
		printf("Embedded %s program %s:\n", kind_name(it->type), it->path);
		cli_kv("Segment ID", "%llu", (unsigned long long)seg);
		cli_kv("Program type", "%u (%s)", it->type, kind_name(it->type));
		cli_kv("Attach type", "%u", it->attach);
		cli_kv("Max dimension", "%u", maxdim);
		cli_kv("Program size", "%zu bytes", psz);
		cli_kv("BTF size", "%zu bytes", bsz);
	}
	if (k != RVF_ELF_BPF)
		fprintf(stderr, "Warning: %s: %s; stored because of --force\n", it->path, rvf_elf_kind_str(k));
	rc = CLI_OK;
out:
	free(prog);
	free(btf);
	return rc;
}

/* --program without --program-type: the hook its code sections name. */
static int type_from_sections(const char *program, const char **type)
{
	uint8_t *b = NULL;
	size_t n = 0;
	int e = rvf_read_file(program, &b, &n);
	if (e)
		return cli_fail("%s: %s", program, strerror(-e));
	int k = rvf_elf_check(b, n), hook = rvf_elf_hook(b, n);
	free(b);
	if (k != RVF_ELF_BPF)
		return cli_fail("%s: %s: pass --program-type xdp|tc (and --force to store it)", program,
				rvf_elf_kind_str(k));
	if (hook == RVF_ELF_HOOK_XDP || hook == RVF_ELF_HOOK_TC) {
		*type = hook == RVF_ELF_HOOK_XDP ? "xdp" : "tc";
		return 0;
	}
	return cli_usage("embed-ebpf", "%s: %s; pass --program-type xdp|tc", program,
			 hook ? "has both XDP and tc code sections" : "no code section names an XDP or tc hook");
}

int cmd_embed_ebpf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "program", required_argument, NULL, OPT_PROGRAM },
		{ "program-type", required_argument, NULL, OPT_TYPE },
		{ "max-dim", required_argument, NULL, OPT_MAXDIM },
		{ "btf", required_argument, NULL, OPT_BTF },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *program = NULL, *type = NULL, *btf = NULL;
	uint64_t maxdim = 0;
	int have_maxdim = 0, force = 0, json = 0, opt, rc;
	unsigned flags = 0;
	rvf_store *s = NULL;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PROGRAM: program = optarg; break;
		case OPT_TYPE: type = optarg; break;
		case OPT_MAXDIM:
			if (cli_parse_u64(optarg, &maxdim) || maxdim > 65535)
				return cli_usage("embed-ebpf", "invalid value '%s' for '--max-dim'", optarg);
			have_maxdim = 1;
			break;
		case OPT_BTF: btf = optarg; break;
		case OPT_FORCE: force = 1; break;
		case OPT_WAIT: flags |= RVF_OPEN_WAIT; break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("embed-ebpf", optarg, &flags)))
				return rc;
			break;
		case OPT_JSON: json = 1; break;
		default: return cli_bad_option("embed-ebpf", argv, opt);
		}
	}
	if ((rc = cli_one_path("embed-ebpf", argc, argv, &path)))
		return rc;
	struct embed_item items[2];
	size_t nitems = 0;
	memset(items, 0, sizeof items);
	if (type && strcmp(type, "xdp") && strcmp(type, "tc"))
		return cli_usage("embed-ebpf", "invalid value '%s' for '--program-type' (xdp | tc)", type);
	if (program && !type && (rc = type_from_sections(program, &type)))
		return rc;
	if (!program && btf)
		return cli_usage("embed-ebpf", "--btf needs --program");
	if ((rc = cli_open_store(path, flags, &s)))
		return rc;
	uint32_t dim = rvf_dimension(s);
	uint16_t md = have_maxdim ? (uint16_t)maxdim : (uint16_t)(dim > 65535 ? 65535 : dim);
	if (program) {
		snprintf(items[0].path, sizeof items[0].path, "%s", program);
		items[0].type = strcmp(type, "xdp") ? 1 : 0;
		items[0].attach = strcmp(type, "xdp") ? 2 : 0;
		nitems = 1;
	} else {
		char dir[PATH_MAX];
		rvf_loader_bpf_dir(dir, sizeof dir);
		if (!type || !strcmp(type, "xdp")) {
			snprintf(items[nitems].path, sizeof items[nitems].path, "%s/rvf_xdp_d%u.bpf.o", dir, dim);
			items[nitems].type = 0;
			items[nitems].attach = 0;
			nitems++;
		}
		if (!type || !strcmp(type, "tc")) {
			snprintf(items[nitems].path, sizeof items[nitems].path, "%s/rvf_tc.bpf.o", dir);
			items[nitems].type = 1;
			items[nitems].attach = 2;
			nitems++;
		}
		if (access(items[0].path, R_OK) != 0) {
			rc = cli_fail("no built-in object %s for dimension %u: %s (pass --program)", items[0].path,
				      dim, strerror(errno));
			rvf_close(s);
			return rc;
		}
	}
	if (items[0].type == 0 && md != dim)
		fprintf(stderr, "Warning: --max-dim %u differs from the store's dimension %u: the loader will not use this XDP program\n",
			md, dim);
	json_t *arr = json ? json_array() : NULL;
	rc = CLI_OK;
	for (size_t i = 0; i < nitems && rc == CLI_OK; i++)
		rc = embed_one(s, &items[i], md, btf, force, arr);
	rvf_close(s);
	if (json) {
		if (rc != CLI_OK) {
			json_decref(arr);
			return rc;
		}
		json_t *o = json_object();
		if (o)
			json_object_set_new(o, "embedded", arr);
		else
			json_decref(arr);
		return cli_json_print(o);
	}
	return rc;
}

static int write_all(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	int e = (n && fwrite(b, 1, n, f) != n) ? -EIO : 0;
	if (fclose(f) && !e)
		e = -errno;
	return e;
}

int cmd_extract_ebpf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *dir = NULL;
	int json = 0, opt, rc;
	rvf_store *s = NULL;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case OPT_JSON: json = 1; break;
		default: return cli_bad_option("extract-ebpf", argv, opt);
		}
	}
	if ((rc = cli_one_path("extract-ebpf", argc, argv, &path)))
		return rc;
	if (!dir)
		return cli_usage("extract-ebpf", "the following required arguments were not provided: --output <DIR>");
	if (mkdir(dir, 0755) && errno != EEXIST)
		return cli_fail("%s: %s", dir, strerror(errno));
	if ((rc = cli_open_store(path, RVF_OPEN_READONLY, &s)))
		return rc;
	size_t n = rvf_ebpf_count(s);
	json_t *arr = json ? json_array() : NULL;
	size_t nplace = 0;
	rc = CLI_OK;
	if (!json)
		printf("%zu EBPF segment%s in %s\n", n, n == 1 ? "" : "s", path);
	for (size_t i = 0; i < n; i++) {
		rvf_ebpf eb;
		char prog_path[PATH_MAX], btf_path[PATH_MAX];
		int e = rvf_ebpf_get(s, i, &eb);
		if (e) {
			rc = cli_store_fail(e);
			break;
		}
		int k = rvf_elf_check(eb.program, eb.program_size);
		const char *kn = kind_name(eb.program_type);
		snprintf(prog_path, sizeof prog_path, "%s/ebpf%zu_%s.%s", dir, i, kn,
			 k == RVF_ELF_BPF ? "bpf.o" : "bin");
		snprintf(btf_path, sizeof btf_path, "%s/ebpf%zu_%s.btf", dir, i, kn);
		if ((e = write_all(prog_path, eb.program, eb.program_size))) {
			rc = cli_fail("%s: %s", prog_path, strerror(-e));
			break;
		}
		if (eb.btf_size && (e = write_all(btf_path, eb.btf, eb.btf_size))) {
			rc = cli_fail("%s: %s", btf_path, strerror(-e));
			break;
		}
		if (k != RVF_ELF_BPF)
			nplace++;
		if (json) {
			json_t *o = json_object();
			if (o) {
				json_object_set_new(o, "index", json_integer((json_int_t)i));
				json_object_set_new(o, "program_type", json_integer(eb.program_type));
				json_object_set_new(o, "attach_type", json_integer(eb.attach_type));
				json_object_set_new(o, "max_dimension", json_integer(eb.max_dimension));
				json_object_set_new(o, "program_size", cli_json_u64(eb.program_size));
				json_object_set_new(o, "btf_size", cli_json_u64(eb.btf_size));
				json_object_set_new(o, "program_file", cli_json_path(prog_path));
				json_object_set_new(o, "btf_file",
						    eb.btf_size ? cli_json_path(btf_path) : json_null());
				json_object_set_new(o, "bpf_object", json_boolean(k == RVF_ELF_BPF));
				json_object_set_new(o, "payload", json_string(rvf_elf_kind_str(k)));
				json_array_append_new(arr, o);
			}
		} else {
			printf("  #%zu %s (type %u, attach %u, max dim %u): %zu program bytes -> %s", i, kn,
			       eb.program_type, eb.attach_type, eb.max_dimension, eb.program_size, prog_path);
			if (eb.btf_size)
				printf(", %zu BTF bytes -> %s", eb.btf_size, btf_path);
			printf("\n");
			if (k != RVF_ELF_BPF)
				printf("    %s\n", rvf_elf_kind_str(k));
		}
	}
	rvf_close(s);
	if (json) {
		if (rc != CLI_OK) {
			json_decref(arr);
			return rc;
		}
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "count", json_integer((json_int_t)n));
			json_object_set_new(o, "placeholders", json_integer((json_int_t)nplace));
			json_object_set_new(o, "segments", arr);
		} else {
			json_decref(arr);
		}
		return cli_json_print(o);
	}
	return rc;
}

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *ifname = NULL, *netns = NULL;
	int json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_NETNS: netns = optarg; break;
		case OPT_JSON: json = 1; break;
		default: return cli_bad_option("detach", argv, opt);
		}
	}
	if ((rc = cli_one_path("detach", argc, argv, &ifname)))
		return rc;
#ifdef RVF_LOADER
	char err[512] = "";
	if (rvf_loader_detach(ifname, netns, err, sizeof err))
		return cli_fail("detach %s: %s", ifname, err);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "interface", json_string(ifname));
			json_object_set_new(o, "detached", json_true());
		}
		return cli_json_print(o);
	}
	printf("Detached rvf programs from %s and removed %s/%s\n", ifname, RVF_LOADER_PIN_ROOT, ifname);
	return CLI_OK;
#else
	(void)json;
	(void)netns;
	return cli_fail("detach %s: this rvf was built without the BPF loader (RVF_LOADER)", ifname);
#endif
}
