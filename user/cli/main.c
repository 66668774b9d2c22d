/* main.c — `rvf` entry point: version, help and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmds[] = {
	{ "create", "rvf create [OPTIONS] --dimension <DIMENSION> <PATH>",
	  "Create a new empty RVF store", cmd_create },
	{ "ingest", "rvf ingest [OPTIONS] --input <INPUT> <PATH>",
	  "Ingest vectors from a JSON file", cmd_ingest },
	{ "query", "rvf query [OPTIONS] <--vector <VECTOR>|--input <INPUT>> <PATH>",
	  "Query nearest neighbors", cmd_query },
	{ "delete", "rvf delete [OPTIONS] <PATH>",
	  "Delete vectors by ID", cmd_delete },
	{ "status", "rvf status [OPTIONS] <PATH>",
	  "Show store status", cmd_status },
	{ "inspect", "rvf inspect [OPTIONS] <PATH>",
	  "Inspect segments and lineage", cmd_inspect },
	{ "compact", "rvf compact [OPTIONS] <PATH>",
	  "Compact the store to reclaim dead space", cmd_compact },
	{ "net-query", "rvf net-query [OPTIONS] --vector <VECTOR> <HOST:PORT>",
	  "Query a server over the UDP wire protocol (XDP/cache/daemon)", cmd_net_query },
	{ "stats", "rvf stats [OPTIONS] <IFACE|--metrics HOST:PORT>",
	  "Counters of a serving query engine (pinned XDP maps or rvfd metrics)", cmd_stats },
	{ "embed-ebpf", "rvf embed-ebpf [OPTIONS] <PATH>",
	  "Embed an eBPF program (XDP or tc object) as an EBPF_SEG", cmd_embed_ebpf },
	{ "extract-ebpf", "rvf extract-ebpf [OPTIONS] --output <DIR> <PATH>",
	  "Write the store's eBPF programs (and BTF) to a directory", cmd_extract_ebpf },
	{ "detach", "rvf detach [OPTIONS] <IFACE>",
	  "Remove the rvf XDP/tc programs and pins from an interface", cmd_detach },
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

/* Option help per command, printed by `rvf CMD --help` / `rvf help CMD`. */
static const char *const cmd_opts[NCMDS] = {
	"  -d, --dimension <N>     Vector dimension, 1..65535 (required)\n"
	"  -m, --metric <METRIC>   l2 | ip | inner_product | cosine [default: l2]\n"
	"  -p, --profile <N>       Hardware profile byte, 0..255 [default: 0]\n"
	"      --json              Output as JSON\n",
	"  -i, --input <FILE>      JSON array of {\"id\": N, \"vector\": [..]} (required)\n"
	"  -b, --batch-size <N>    Records per commit [default: 1000]\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --json              Output as JSON\n",
	"  -v, --vector <V>        Query vector, comma-separated floats\n"
	"  -i, --input <FILE>      Batch: JSON array of vectors or a 2-D <f4 .npy\n"
	"  -k, --k <K>             Neighbors per query [default: 10]\n"
	"  -f, --filter <JSON>     Metadata filter (not available yet)\n"
	"      --json              Output as JSON\n",
	"      --ids <IDS>         Comma-separated vector ids\n"
	"      --filter <JSON>     Metadata filter (not available yet)\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --json              Output as JSON\n",
	"      --json              Output as JSON\n",
	"      --json              Output as JSON\n",
	"      --strip-unknown     Accepted for compatibility; unknown segments are kept\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --json              Output as JSON\n",
	"  -v, --vector <V>        Query vector, comma-separated floats (required)\n"
	"  -k, --k <K>             Neighbors, 1..64 [default: 10]\n"
	"      --timeout-ms <T>    Wait per attempt [default: 1000]\n"
	"      --retries <R>       Extra attempts after a timeout [default: 2]\n"
	"      --daemon            Exact f32 answer from the daemon, not XDP\n"
	"      --no-cache          Neither answer from nor fill the result cache\n"
	"      --i8                Send the query quantized to int8 (+ scale)\n"
	"      --json              Output as JSON\n",
	"      --metrics <H:P>     Read rvfd's Prometheus counters (rvfd --metrics-port)\n"
	"      --pin-dir <DIR>     Pinned maps of IFACE [default: /sys/fs/bpf/rvf/IFACE]\n"
	"      --json              Output as JSON\n",
	"      --program <OBJ>     Object file to embed [default: the built xdp + tc objects\n"
	"                          for the store's dimension]\n"
	"      --program-type <T>  xdp (type 0, attach XdpIngress) | tc (type 1, attach TcEgress)\n"
	"      --max-dim <D>       Max dimension in the header [default: the store's]\n"
	"      --btf <FILE>        BTF blob to store [default: the object's .BTF section]\n"
	"      --force             Store a payload that is not an ELF BPF object\n"
	"      --wait              Wait for another writer's lock instead of failing\n"
	"      --json              Output as JSON\n",
	"  -o, --output <DIR>      Directory for the programs (created if missing)\n"
	"      --json              Output as JSON\n",
	"      --netns <NS>        Network namespace of the interface (/run/netns/NS)\n"
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
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
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
	return c->run(argc - 1, argv + 1);
}
