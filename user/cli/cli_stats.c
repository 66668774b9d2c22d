/* cli_stats.c — `rvf stats`: counters of a serving rvf query engine.
 *
 *   rvf stats IFACE [--pin-dir D] [--json]
 *       reads the pinned per-CPU map rvf_counters (and rvf_config) of the
 *       XDP/tc programs attached to IFACE (default pins
 *       /sys/fs/bpf/rvf/IFACE/) and prints the verdict counters summed over
 *       CPUs; needs root.
 *   rvf stats --metrics HOST:PORT [--json]
 *       fetches http://HOST:PORT/metrics from rvfd (--metrics-port) and
 *       prints a summary: requests, replies by status, drops, the daemon's
 *       latency histogram (p50/p99 as log2 bucket bounds), store epoch, and
 *       the XDP counters the daemon read. --json prints every sample.
 *
 * Exit status: 0 ok, 1 unreachable / no pins / bad response, 2 usage.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "rvf_wire.h"

static const char *const counter_names[RVF_C_MAX] = {
	[RVF_C_RX] = "rx",
	[RVF_C_ANSWERED] = "answered",
	[RVF_C_CACHE_HIT] = "cache_hit",
	[RVF_C_PASS_DAEMON] = "pass_daemon",
	[RVF_C_MALFORMED] = "malformed",
	[RVF_C_DENIED] = "denied",
	[RVF_C_NOT_OURS] = "not_ours",
	[RVF_C_ERROR] = "error",
	[RVF_C_TC_SEEN] = "tc_seen",
	[RVF_C_TC_CACHED] = "tc_cached",
	[RVF_C_TC_MISMATCH] = "tc_mismatch",
};

/* ---- pinned maps ------------------------------------------------------- */
static int stats_pinned(const char *iface, const char *pin_dir, int json)
{
	char dir[512], path[600];
	uint64_t tot[RVF_C_MAX] = { 0 }, *v;
	struct rvf_xdp_config cfg;
	int ncpu, fd, cfd, have_cfg = 0;
	uint32_t i, zero = 0;

	if (pin_dir)
		snprintf(dir, sizeof(dir), "%s", pin_dir);
	else
		snprintf(dir, sizeof(dir), "/sys/fs/bpf/rvf/%s", iface);
	snprintf(path, sizeof(path), "%s/rvf_counters", dir);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return cli_fail("no pinned counters at %s: nothing is attached to %s (start "
					"rvfd, or pass --pin-dir)", path, iface);
		return cli_fail("cannot open %s: %s%s", path, strerror(e),
				e == EPERM || e == EACCES ? " (needs root)" : "");
	}
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		close(fd);
		return cli_fail("cannot count CPUs: %s", strerror(ncpu ? -ncpu : EINVAL));
	}
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v) {
		close(fd);
		return cli_fail("out of memory");
	}
	for (i = 0; i < RVF_C_MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, v)) {
			int e = errno;

			free(v);
			close(fd);
			return cli_fail("reading %s[%u]: %s", path, i, strerror(e));
		}
		for (int c = 0; c < ncpu; c++)
			tot[i] += v[c];
	}
	free(v);
	close(fd);
	snprintf(path, sizeof(path), "%s/rvf_config", dir);
	cfd = bpf_obj_get(path);
	if (cfd >= 0) {
		have_cfg = bpf_map_lookup_elem(cfd, &zero, &cfg) == 0;
		close(cfd);
	}
	if (have_cfg && cfg.active_slot == 1) { /* the attached map set's parameters */
		cfg.nvec = cfg.slot1.nvec;
		cfg.epoch = cfg.slot1.epoch;
		cfg.dim = cfg.slot1.dim;
		cfg.metric = cfg.slot1.metric;
		cfg.max_scan = cfg.slot1.max_scan;
		cfg.ncentroids = cfg.slot1.ncentroids;
		cfg.nprobe = cfg.slot1.nprobe;
	}

	if (json) {
		json_t *o = json_object(), *c = json_object();

		for (i = 0; i < RVF_C_MAX; i++)
			json_object_set_new(c, counter_names[i], cli_json_u64(tot[i]));
		json_object_set_new(o, "counters", c);
		json_object_set_new(o, "iface", json_string(iface));
		json_object_set_new(o, "pin_dir", cli_json_path(dir));
		if (have_cfg)
			json_object_set_new(o, "config",
					    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b}",
						      "epoch", (json_int_t)cfg.epoch,
						      "nvec", (json_int_t)cfg.nvec,
						      "dim", (json_int_t)cfg.dim,
						      "metric", (json_int_t)cfg.metric,
						      "max_scan", (json_int_t)cfg.max_scan,
						      "ncentroids", (json_int_t)cfg.ncentroids,
						      "nprobe", (json_int_t)cfg.nprobe,
						      "enabled", (int)!!cfg.enabled,
						      "allow_enabled", (int)!!cfg.allow_enabled,
						      "cache_enabled", (int)!!cfg.cache_enabled));
		return cli_json_print(o);
	}
	printf("XDP/tc counters of %s (%s, summed over %d CPUs):\n", iface, dir, ncpu);
	for (i = 0; i < RVF_C_MAX; i++)
		cli_kv(counter_names[i], "%llu", (unsigned long long)tot[i]);
	if (have_cfg) {
		printf("Config:\n");
		cli_kv("epoch", "%u", cfg.epoch);
		cli_kv("vectors", "%u", cfg.nvec);
		cli_kv("dimension", "%u", cfg.dim);
		cli_kv("metric", "%s", rvf_metric_name((rvf_metric)cfg.metric));
		if (cfg.ncentroids)
			cli_kv("ivf", "%u centroids, nprobe %u", cfg.ncentroids, cfg.nprobe);
		else
			cli_kv("scan budget", "%u vectors", cfg.max_scan);
		cli_kv("enabled", "%s", cfg.enabled ? "yes" : "no");
		cli_kv("allow-list", "%s", cfg.allow_enabled ? "on" : "off");
		cli_kv("cache", "%s", cfg.cache_enabled ? "on" : "off");
	}
	return CLI_OK;
}

/* ---- HTTP ---------------------------------------------------------------- */
/* Splits HOST:PORT / [V6]:PORT. */
static int split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *c;

	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= hlen)
			return -1;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		c = e + 1;
	} else {
		c = strrchr(s, ':');
		if (!c || (size_t)(c - s) >= hlen || c == s)
			return -1;
		memcpy(host, s, (size_t)(c - s));
		host[c - s] = '\0';
	}
	if (!c[1] || strlen(c + 1) >= plen || strspn(c + 1, "0123456789") != strlen(c + 1))
		return -1;
	snprintf(port, plen, "%s", c + 1);
	return 0;
}

/* GET /metrics; returns the malloc'd body or NULL (message printed). */
static char *http_get(const char *target)
{
	char host[256], port[16], req[512];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
	size_t len = 0, cap = 65536;
	char *buf, *body;
	int fd = -1, rc;

	if (split_hostport(target, host, sizeof(host), port, sizeof(port))) {
		cli_usage("stats", "invalid address '%s': expected HOST:PORT or [IPV6]:PORT", target);
		return NULL;
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		cli_fail("cannot resolve %s: %s", host, gai_strerror(rc));
		return NULL;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 3 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		cli_fail("cannot connect to %s: %s (is rvfd running with --metrics-port?)", target,
			 strerror(errno));
		return NULL;
	}
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", target);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		cli_fail("sending to %s: %s", target, strerror(errno));
		close(fd);
		return NULL;
	}
	buf = malloc(cap + 1);
	while (buf) {
		ssize_t n = recv(fd, buf + len, cap - len, 0);

		if (n < 0) {
			cli_fail("reading from %s: %s", target,
				 errno == EAGAIN ? "timed out" : strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	if (!buf) {
		cli_fail("out of memory");
		return NULL;
	}
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4)) {
		char *eol = strpbrk(buf, "\r\n");

		if (eol)
			*eol = '\0';
		cli_fail("%s answered '%s', not 200 OK", target, buf);
		free(buf);
		return NULL;
	}
	body = strstr(buf, "\r\n\r\n");
	body = body ? body + 4 : buf + len;
	memmove(buf, body, strlen(body) + 1);
	return buf;
}

/* Value of the sample "name" (exact, labels included), or -1. */
static double sample(const char *text, const char *name)
{
	size_t nl = strlen(name);
	const char *p = text;

	while (p && *p) {
		if (*p != '#' && !strncmp(p, name, nl) && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Upper bound of the bucket holding quantile q of the latency histogram. */
static const char *lat_quantile(const char *text, double q, char *out, size_t len)
{
	double total = sample(text, "rvfd_daemon_latency_us_count"), want;
	char name[96];

	if (total <= 0) {
		snprintf(out, len, "-");
		return out;
	}
	want = q * total;
	for (int i = 0; i < 21; i++) {
		snprintf(name, sizeof(name), "rvfd_daemon_latency_us_bucket{le=\"%llu\"}", 1ull << i);
		if (sample(text, name) >= want) {
			snprintf(out, len, "<= %llu us", 1ull << i);
			return out;
		}
	}
	snprintf(out, len, "> %llu us", 1ull << 20);
	return out;
}

static int stats_metrics(const char *target, int json)
{
	static const char *const st[] = { "ok", "bad_request", "dim_mismatch", "busy", "bad_k",
					  "unsupported", "internal", "denied" };
	char *text = http_get(target), name[128], p50[32], p99[32];
	double errs = 0, v;
	unsigned i;

	if (!text)
		return CLI_FAIL;
	if (json) {
		json_t *o = json_object();
		char *line = text, *next;

		for (; line && *line; line = next) {
			char *sp;

			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (*line == '#' || !*line)
				continue;
			sp = strrchr(line, ' ');
			if (!sp)
				continue;
			*sp = '\0';
			json_object_set_new(o, line, cli_json_real(strtod(sp + 1, NULL)));
		}
		free(text);
		return cli_json_print(json_pack("{s:s, s:o}", "target", target, "metrics", o));
	}
	if (sample(text, "rvfd_requests_total") < 0) {
		free(text);
		return cli_fail("%s/metrics holds no rvfd counters", target);
	}
	printf("rvfd at %s:\n", target);
	cli_kv("requests", "%.0f", sample(text, "rvfd_requests_total"));
	cli_kv("replies ok", "%.0f", sample(text, "rvfd_replies_total{status=\"ok\"}"));
	for (i = 1; i < 8; i++) {
		snprintf(name, sizeof(name), "rvfd_replies_total{status=\"%s\"}", st[i]);
		v = sample(text, name);
		if (v > 0) {
			char key[64];

			snprintf(key, sizeof(key), "replies %s", st[i]);
			cli_kv(key, "%.0f", v);
		}
		errs += v > 0 ? v : 0;
	}
	cli_kv("dropped", "short %.0f, reply-op %.0f, denied %.0f",
	       sample(text, "rvfd_dropped_total{reason=\"short\"}"),
	       sample(text, "rvfd_dropped_total{reason=\"reply_op\"}"),
	       sample(text, "rvfd_dropped_total{reason=\"denied\"}"));
	v = sample(text, "rvfd_daemon_latency_us_count");
	cli_kv("daemon latency", "%.0f answers, p50 %s, p99 %s, mean %.1f us", v,
	       lat_quantile(text, 0.5, p50, sizeof(p50)), lat_quantile(text, 0.99, p99, sizeof(p99)),
	       v > 0 ? sample(text, "rvfd_daemon_latency_us_sum") / v : 0.0);
	cli_kv("store", "epoch %.0f, %.0f vectors, dimension %.0f, %.0f reloads",
	       sample(text, "rvfd_store_epoch"), sample(text, "rvfd_store_vectors"),
	       sample(text, "rvfd_store_dimension"), sample(text, "rvfd_store_reloads_total"));
	cli_kv("xdp", "%s", sample(text, "rvfd_xdp_attached") > 0 ? "attached" : "not attached");
	if (sample(text, "rvfd_xdp_packets_total{counter=\"rx\"}") >= 0) {
		for (i = 0; i < RVF_C_MAX; i++) {
			char key[64];

			snprintf(name, sizeof(name), "rvfd_xdp_packets_total{counter=\"%s\"}",
				 counter_names[i]);
			snprintf(key, sizeof(key), "xdp %s", counter_names[i]);
			cli_kv(key, "%.0f", sample(text, name));
		}
	}
	free(text);
	return CLI_OK;
}

int cmd_stats(int argc, char **argv)
{
	enum { O_JSON = 256, O_METRICS, O_PINDIR };
	static const struct option lo[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "pin-dir", required_argument, NULL, O_PINDIR },
		{ NULL, 0, NULL, 0 },
	};
	const char *metrics = NULL, *pin_dir = NULL;
	int json = 0, opt;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (opt) {
		case O_JSON:
			json = 1;
			break;
		case O_METRICS:
			metrics = optarg;
			break;
		case O_PINDIR:
			pin_dir = optarg;
			break;
		default:
			return cli_bad_option("stats", argv, opt);
		}
	}
	if (metrics) {
		if (optind < argc)
			return cli_usage("stats", "unexpected argument '%s' found (--metrics reads "
					 "the daemon, not an interface)", argv[optind]);
		return stats_metrics(metrics, json);
	}
	if (optind >= argc)
		return cli_usage("stats", "expected an interface name or --metrics HOST:PORT");
	if (optind + 1 < argc)
		return cli_usage("stats", "unexpected argument '%s' found", argv[optind + 1]);
	return stats_pinned(argv[optind], pin_dir, json);
}
