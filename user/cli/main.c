/* main.c — `rvf` entry point: version, help and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmds[] = {
	{ "create", "rvf create [OPTIONS] --dimension <DIMENSION> <PATH>",
	  "Create a new empty RVF store", cmd_create },
	{ "ingest", "rvf ingest [OPTIONS] --input <INPUT> <PATH>",
	  "Ingest vectors (JSON, JSON lines, CSV, TSV or .npy)", cmd_ingest },
	{ "query", "rvf query [OPTIONS] <--vector <VECTOR>|--input <INPUT>> <PATH>",
	  "Query nearest neighbors", cmd_query },
	{ "delete", "rvf delete [OPTIONS] <PATH>",
	  "Delete vectors by ID or metadata filter", cmd_delete },
	{ "export", "rvf export [OPTIONS] <PATH>",
	  "Export every live vector with its id and metadata", cmd_export },
	{ "status", "rvf status [OPTIONS] <PATH>",
	  "Show store status", cmd_status },
	{ "inspect", "rvf inspect [OPTIONS] <PATH>",
	  "Inspect segments and lineage", cmd_inspect },
	{ "compact", "rvf compact [OPTIONS] <PATH>",
	  "Compact the store to reclaim dead space", cmd_compact },
	{ "net-query", "rvf net-query [OPTIONS] --vector <VECTOR> <HOST:PORT | --shards <LIST> | --shard-map <FILE>>",
	  "Query a server over the UDP wire protocol (XDP/cache/daemon)", cmd_net_query },
	{ "stats", "rvf stats [OPTIONS] <IFACE|--metrics HOST:PORT>",
	  "Counters of a serving query engine (pinned XDP maps or rvfd metrics)", cmd_stats },
	{ "embed-ebpf", "rvf embed-ebpf [OPTIONS] <PATH>",
	  "Embed an eBPF program (XDP or tc object) as an EBPF_SEG", cmd_embed_ebpf },
	{ "extract-ebpf", "rvf extract-ebpf [OPTIONS] --output <DIR> <PATH>",
	  "Write the store's eBPF programs (and BTF) to a directory", cmd_extract_ebpf },
	{ "detach", "rvf detach [OPTIONS] <IFACE>",
	  "Remove the rvf XDP/tc programs and pins from an interface", cmd_detach },
	{ "embed-kernel", "rvf embed-kernel [OPTIONS] --image-path <BZIMAGE> <PATH>",
	  "Embed a kernel image (+ initramfs, command line) as KERNEL_SEGs", cmd_embed_kernel },
	{ "extract-kernel", "rvf extract-kernel [OPTIONS] --output <DIR> <PATH>",
	  "Write the embedded kernel, command line and initramfs to a directory", cmd_extract_kernel },
	{ "launch", "rvf launch [OPTIONS] <PATH>",
	  "Boot the embedded kernel in QEMU (TCG) with the API port forwarded", cmd_launch },
	{ "serve", "rvf serve [OPTIONS] <PATH>",
	  "Serve the store over HTTP/JSON (query, ingest, delete, status, metrics)", cmd_serve },
	{ "index", "rvf index [OPTIONS] <PATH>",
	  "Build the HNSW index and persist it (INDEX_SEG)", cmd_index },
	{ "verify-witness", "rvf verify-witness [OPTIONS] <PATH>",
	  "Verify the witness chain and every segment's content hash", cmd_verify_witness },
	{ "keygen", "rvf keygen [OPTIONS] --output <KEY>",
	  "Generate an Ed25519 key pair (KEY and KEY.pub)", cmd_keygen },
	{ "sign", "rvf sign [OPTIONS] --key <KEY> <PATH>",
	  "Sign the store's current state (appends a CRYPTO_SEG)", cmd_sign },
	{ "verify", "rvf verify [OPTIONS] --pubkey <KEY> <PATH>",
	  "Verify the store's signature (exit 1 on failure)", cmd_verify },
	{ "verify-attestation", "rvf verify-attestation [OPTIONS] <PATH>",
	  "Verify embedded kernels: image hash and KernelBinding", cmd_verify_attestation },
	{ "derive", "rvf derive [OPTIONS] <PARENT> <CHILD|--output CHILD>",
	  "Create a child that reads through to PARENT (--empty: lineage only)", cmd_derive },
	{ "branch", "rvf branch [OPTIONS] <PARENT> <CHILD|--output CHILD>",
	  "Copy-on-write child of PARENT (same as derive)", cmd_branch },
	{ "freeze", "rvf freeze [OPTIONS] <PATH>",
	  "Make the file read-only for every later writer", cmd_freeze },
	{ "filter", "rvf filter [OPTIONS] <--include-ids IDS|--exclude-ids IDS> <PATH>",
	  "Change which parent vectors a branch sees (membership)", cmd_filter },
	{ "rebuild-refcounts", "rvf rebuild-refcounts [OPTIONS] <PATH>",
	  "Recount which parent clusters a branch still references (REFCOUNT_SEG)", cmd_rebuild_refcounts },
	{ "quantize", "rvf quantize [OPTIONS] <PATH>",
	  "Quantize the vectors (SQ8 / binary codes, QUANT_SEG)", cmd_quantize },
	{ "check", "rvf check [OPTIONS] <PATH>",
	  "Full integrity scan (exit 1 naming the first bad offset)", cmd_check },
	{ "recover", "rvf recover [OPTIONS] <PATH>",
	  "Roll back to the last good commit (after a backup), or salvage with --output", cmd_recover },
	{ "segments", "rvf segments [OPTIONS] <PATH>",
	  "List the segments of the current state", cmd_segments },
	{ "shard", "rvf shard split [OPTIONS] --shards <S> --by <hash|range> --out-dir <DIR> <PATH>\n"
	  "       rvf shard merge [OPTIONS] --output <FILE> <MAP>",
	  "Split a store into shard files + a shard map, or merge them back", cmd_shard },
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

/* Option help per command, printed by `rvf CMD --help` / `rvf help CMD`. */
static const char *const cmd_opts[NCMDS] = {
	"  -d, --dimension <N>     Vector dimension, 1..65535 (required)\n"
	"  -m, --metric <METRIC>   l2 | ip | inner_product | cosine [default: l2]\n"
	"  -p, --profile <N>       Hardware profile byte, 0..255 [default: 0]\n"
	"      --json              Output as JSON\n",
	"  -i, --input <FILE>      Input file, '-' for stdin (required)\n"
	"      --format <FORMAT>   json | jsonl | csv | tsv | npy [default: from the\n"
	"                          extension, else json]\n"
	"                          json: [{\"id\": N, \"vector\": [..], \"metadata\": {..}}]\n"
	"                          csv/tsv header: id, vector (\"1,2\") or v0..vN,\n"
	"                          m:<field>[:<type>] or meta.<field>, metadata (JSON)\n"
	"  -b, --batch-size <N>    Records per commit [default: 1000]\n"
	"      --id-offset <N>     npy: id of the first row [default: 0]\n"
	"      --strict            Fail on wrong-dimension or NaN rows instead of\n"
	"                          counting them as rejected\n"
	"      --no-progress       No progress bar (shown only when stderr is a TTY)\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"  -v, --vector <V>        Query vector, comma-separated floats\n"
	"  -i, --input <FILE>      Batch: JSON array of vectors or a 2-D <f4 .npy\n"
	"  -k, --k <K>             Neighbors per query [default: 10]\n"
	"  -f, --filter <JSON>     Metadata filter, e.g. {\"eq\":{\"field\":0,\"value\":5}}\n"
	"                          (also in, range, and/or/not, or {\"op\":...})\n"
	"      --with-metadata     Include each result's metadata\n"
	"      --ef-search <N>     HNSW candidate list size [default: the store's]\n"
	"      --timeout-ms <T>    Stop after T ms, print partial results, exit 1\n"
	"      --exact             Exact scan even when an index exists\n"
	"      --quant <KIND>      sq8 | binary: scan the codes of `rvf quantize`,\n"
	"                          then rerank exactly [default: none]\n"
	"      --rerank <N>        Shortlist size for --quant [default: 4*k]\n"
	"      --json              Output as JSON\n",
	"      --ids <IDS>         Comma-separated vector ids\n"
	"      --filter <JSON>     Delete every vector the metadata filter matches\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"      --format <FORMAT>   json | jsonl | csv | tsv | npy [default: from the\n"
	"                          extension of OUT, else json]\n"
	"  -o, --output <OUT>      Output file [default: stdout; npy needs a file]\n"
	"      --no-progress       No progress bar (shown only when stderr is a TTY)\n"
	"      --json              Summary as JSON (with -o)\n",
	"      --json              Output as JSON\n",
	"      --json              Output as JSON\n",
	"      --strip-unknown     Accepted for compatibility; unknown segments are kept\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"  -v, --vector <V>        Query vector, comma-separated floats (required)\n"
	"  -k, --k <K>             Neighbors, 1..64 [default: 10]\n"
	"      --timeout-ms <T>    Wait per attempt [default: 1000]\n"
	"      --retries <R>       Extra attempts after a timeout [default: 2]\n"
	"      --daemon            Exact f32 answer from the daemon, not XDP\n"
	"      --no-cache          Neither answer from nor fill the result cache\n"
	"      --i8                Send the query quantized to int8 (+ scale)\n"
	"      --shards <LIST>     Fan out to every HOST:PORT of LIST (comma-separated),\n"
	"                          merge the top-k; exit 3 if a shard is missing\n"
	"      --shard-map <FILE>  The same with the \"addr\" of each shard of a map\n"
	"      --input <Q.npy>     Shards: one query per row of a 2-D float32 .npy\n"
	"      --json              Output as JSON\n",
	"      --metrics <H:P>     Read rvfd's Prometheus counters (rvfd --metrics-port)\n"
	"      --pin-dir <DIR>     Pinned maps of IFACE [default: /sys/fs/bpf/rvf/IFACE]\n"
	"      --json              Output as JSON\n",
	"      --program <OBJ>     Object file to embed [default: the built xdp + tc objects\n"
	"                          for the store's dimension]\n"
	"      --program-type <T>  xdp (type 0, attach XdpIngress) | tc (type 1, attach TcEgress)\n"
	"                          [default: from the object's section names, SEC(\"xdp\") / SEC(\"tc\")]\n"
	"      --max-dim <D>       Max dimension in the header [default: the store's]\n"
	"      --btf <FILE>        BTF blob to store [default: the object's .BTF section]\n"
	"      --force             Store a payload that is not an ELF BPF object\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"  -o, --output <DIR>      Directory for the programs (created if missing)\n"
	"      --json              Output as JSON\n",
	"      --netns <NS>        Network namespace of the interface (/run/netns/NS)\n"
	"      --json              Output as JSON\n",
	"      --image-path <F>    Kernel image to embed, e.g. a bzImage (required)\n"
	"      --initramfs <F>     Initramfs to store in a second KERNEL_SEG (marker\n"
	"                          command line \"rvf.role=initramfs\")\n"
	"      --cmdline <S>       Kernel command line\n"
	"      --arch <A>          x86_64 | aarch64 | riscv64 [default: x86_64]\n"
	"      --api-port <P>      Guest API port in the header [default: 8080]\n"
	"      --kernel-type <T>   hermit|microlinux|asterinas|wasi|custom|teststub|N\n"
	"                          [default: microlinux]\n"
	"      --flags <N>         Kernel flag bits (decimal or 0x..) [default: 0]\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"  -o, --output <DIR>      Directory for vmlinuz, cmdline, initramfs.img\n"
	"      --json              Output as JSON\n",
	"  -m, --memory-mb <MB>    Guest memory [default: 128]\n"
	"      --vcpus <N>         Guest CPUs [default: 1]\n"
	"  -p, --port <PORT>       Host port forwarded (127.0.0.1) to the guest API port;\n"
	"                          0: no forwarding [default: 8080]\n"
	"      --timeout <S>       Stop the VM after S seconds; 0: never [default: 0]\n"
	"      --qemu-binary <B>   QEMU to run [default: qemu-system-x86_64 for x86_64]\n"
	"      --serial-log <F>    Write the serial console to F instead of stdout\n"
	"      --kernel <F>        Boot this kernel instead of the embedded one\n"
	"      --initramfs <F>     Use this initramfs instead of the embedded one\n"
	"      --append <S>        Extra kernel command-line words\n"
	"      --no-drive          Do not attach the store as a read-only virtio disk\n",
	"  -p, --port <PORT>       TCP port; 0 picks a free one [default: 8080]\n"
	"      --bind <ADDR>       Listen address (IPv4 or IPv6) [default: 127.0.0.1]\n"
	"      --token-file <F>    Bearer token (16..1024 visible ASCII, file not readable\n"
	"                          by others); writes need it, and without it they are\n"
	"                          refused (403)\n"
	"      --token-reads       Reads (status, query, metrics) need the token too\n"
	"      --max-body <BYTES>  Largest ingest/delete body (413 beyond; a query body:\n"
	"                          64 KiB + 64 per dimension at most) [default: 16777216]\n"
	"      --max-inflight <BYTES> Body bytes being received together, past the first\n"
	"                          16 KiB of each (503 beyond) [default: 4 * --max-body]\n"
	"      --max-connections <N> Open connections; when full, the longest-waiting\n"
	"                          idle one is evicted [default: 1024]\n"
	"      --max-per-ip <N>    Open connections from one address [default: 32]\n"
	"      --idle-timeout <S>  Close a connection idle for S seconds [default: 30]\n"
	"      --body-timeout <S>  Drop a request whose body takes longer [default: 120]\n"
	"      --min-body-rate <BYTES> Drop a body bringing fewer bytes/s in a 4 s window\n"
	"                          (0 = off) [default: 4096]\n"
	"      --threads <N>       Worker threads [default: 4]\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n",
	"      --m <M>             HNSW M, 2..2048 [default: 16]\n"
	"      --ef-construction <E> Build candidate list size [default: 200]\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"      --json              Output as JSON\n",
	"  -o, --output <KEY>      Secret key file (64 hex digits, mode 0600); the public\n"
	"                          key goes to KEY.pub (required)\n"
	"      --force             Overwrite existing key files\n"
	"      --json              Output as JSON\n",
	"      --key <KEY>         Secret key file from `rvf keygen` (required)\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"      --pubkey <KEY>      Public key file (KEY.pub) or 64 hex digits (required)\n"
	"      --allow-append      Pass when the signed prefix is intact but later\n"
	"                          commits changed the state\n"
	"      --json              Output as JSON\n",
	"      --strict            Fail when a KernelBinding cannot be verified\n"
	"      --json              Output as JSON\n",
	"      --empty              Lineage only: the child does not read the parent\n"
	"  -o, --output <CHILD>     The child's path (instead of the second argument)\n"
	"  -t, --derivation-type <T> clone|filter|merge|quantize|reindex|transform|snapshot\n"
	"                            (also --type; accepted for compatibility, not stored)\n"
	"      --json               Output as JSON\n",
	"      --empty              Lineage only: the child does not read the parent\n"
	"  -o, --output <CHILD>     The child's path (instead of the second argument)\n"
	"  -t, --derivation-type <T> (also --type) accepted for compatibility, not stored\n"
	"      --json               Output as JSON\n",
	"      --wait               Wait for another writer's lock\n"
	"      --wait-timeout <S>   Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json               Output as JSON\n",
	"      --include-ids <IDS>  Only these parent ids stay visible (comma-separated)\n"
	"      --exclude-ids <IDS>  Hide these parent ids\n"
	"      --wait               Wait for another writer's lock\n"
	"      --wait-timeout <S>   Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json               Output as JSON\n",
	"      --wait               Wait for another writer's lock\n"
	"      --wait-timeout <S>   Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json               Output as JSON\n",
	"      --type <TYPE>       sq8 | binary [default: sq8]\n"
	"      --wait              Wait for another writer's lock\n"
	"      --wait-timeout <S>  Wait at most S seconds (implies --wait), then exit 1\n"
	"      --json              Output as JSON\n",
	"      --json              Output as JSON\n",
	"  -o, --output <NEW>      Salvage every intact segment into NEW instead of\n"
	"                          rolling PATH back in place (PATH.bak first)\n"
	"      --truncate          Roll back even when that drops intact vectors\n"
	"                          (refused without it; exit 1 says how many)\n"
	"      --json              Output as JSON\n"
	"Exit: 0 the file left is clean, 1 refused or still damaged (the message\n"
	"says what to run), 2 usage\n",
	"      --json              Output as JSON\n",
	"  split: --shards <S>     Number of shard files, 1..1024 (required)\n"
	"         --by <RULE>      hash (splitmix64(id) % S) | range (equal counts of\n"
	"                          consecutive ids) (required)\n"
	"         --out-dir <DIR>  Existing directory for shard-N.rvf + shardmap.json\n"
	"         --addrs <LIST>   HOST:PORT of each shard, comma-separated, stored in\n"
	"                          the map for net-query --shard-map\n"
	"  merge: -o, --output <FILE>  New store with every shard's vectors + metadata\n"
	"      --json              Output as JSON\n",
};

const struct cli_cmd *cli_find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

void cli_cmd_help(const struct cli_cmd *c, FILE *f)
{
	fprintf(f, "%s\n\nUsage: %s\n\nOptions:\n%s  -h, --help              Print help\n",
		c->summary, c->usage, cmd_opts[c - cmds]);
}

static void usage(FILE *f)
{
	size_t i;

	fputs("RVF vector store command-line tool\n\n"
	      "Usage: rvf <COMMAND>\n\nCommands:\n", f);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-18s %s\n", cmds[i].name, cmds[i].summary);
	fputs("  help       Print this message or the help of the given command\n\n"
	      "Options:\n"
	      "  -h, --help     Print help\n"
	      "  -V, --version  Print version\n", f);
}

static int help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 3) {
		usage(stdout);
		return CLI_OK;
	}
	c = cli_find_cmd(argv[2]);
	if (!c)
		return cli_usage(NULL, "unrecognized subcommand '%s'", argv[2]);
	cli_cmd_help(c, stdout);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;
	const char *a;
	int i;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	a = argv[1];
	if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
		printf("rvf %s\n", RVF_CLI_VERSION);
		return CLI_OK;
	}
	if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help"))
		return help(argc, argv);
	c = cli_find_cmd(a);
	if (!c) {
		if (a[0] == '-')
			return cli_usage(NULL, "unexpected argument '%s' found", a);
		return cli_usage(NULL, "unrecognized subcommand '%s'", a);
	}
	/* `--help` anywhere in a command line wins, as with clap. */
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cli_cmd_help(c, stdout);
			return CLI_OK;
		}
	}
	i = c->run(argc - 1, argv + 1);
	/* A library code that escaped a command still becomes a message and
	 * exit 1, never a raw status like 251. */
	if (i < 0)
		return cli_store_fail(i);
	return i > CLI_PARTIAL ? CLI_FAIL : i;
}
