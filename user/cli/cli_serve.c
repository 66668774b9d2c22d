/* cli_serve.c — `rvf serve PATH`: the store over HTTP/JSON (libmicrohttpd,
 * internal thread pool). This file: options, the token file, connection and
 * body limits, start and clean stop. Requests: serve_conn.c (checks before a
 * handler runs), serve_api.c (endpoints), serve_http.c (responses, metrics).
 *
 * The store is opened read-write (it holds the writer lock for the life of
 * the process); every store call runs under one mutex, so requests are
 * serialised against each other and a query sees every write acknowledged
 * before it. Endpoints (JSON in and out, errors {"error": "...", "code":
 * <HTTP status>}):
 *
 *   GET  /v1/status   {total_vectors, total_segments, file_size, current_epoch,
 *                      profile_id, dead_space_ratio, read_only (the reference's
 *                      keys), dimension, metric, deleted_vectors, stored_vectors}
 *   POST /v1/query    {vector, k?=10, filter?, ef_search?, with_metadata?,
 *                      exact?, timeout_ms?} -> {count, results:[{id, distance
 *                      (, metadata)}]} — the same hits and numbers as
 *                      `rvf query --json` (k is clamped to the live count;
 *                      k == 0 is a 400 as in the reference)
 *   POST /v1/ingest   {vectors:[{id, vector, metadata?}]} or the reference's
 *                      {vectors:[[..]], ids:[..]} -> {accepted, rejected, epoch};
 *                      a malformed record or a wrong dimension rejects the
 *                      whole request (400) and nothing is written
 *   POST /v1/delete   {ids:[..]} or {filter:..} -> {deleted, epoch}
 *   GET  /healthz, /v1/health  {"status":"ok"} (never needs the token)
 *   GET  /metrics     Prometheus text: rvf_http_requests_total{endpoint,status},
 *                      rvf_query_duration_seconds histogram, store gauges
 *
 * Access: writes need --token-file (else 403) and the token as
 * "Authorization: Bearer"; reads need it with --token-reads. Errors: 400 bad
 * JSON / missing or mistyped field / wrong dimension / bad filter, 401 token,
 * 403 no token file / foreign Host, 404 unknown route, 405 wrong method (with
 * Allow), 413 body larger than the route's limit, 415 not application/json,
 * 503 the in-flight body budget is used up, 409 lock held, 500 other store
 * failures; 400 and a closed connection for ambiguous headers (serve_conn.c).
 * A full connection table evicts its longest-waiting idle or partial
 * connection; bodies slower than --min-body-rate are dropped (serve_table.c).
 * SIGINT/SIGTERM: stop accepting, finish running requests, persist a changed
 * HNSW index, close the store, exit 0.
 */
#include "cli.h"

#ifndef RVF_HAVE_MHD
/* Built without libmicrohttpd (the Makefile adds -DRVF_HAVE_MHD together
 * with libmicrohttpd in PKGS): the command exists but says why it cannot run. */
int cmd_serve(int argc, char **argv)
{
	return cli_fail("this rvf was built without libmicrohttpd (install libmicrohttpd-dev, "
			"list libmicrohttpd in the Makefile's PKGS, build with -DRVF_HAVE_MHD)");
}
#else
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

#define DEFAULT_MAX_BODY (16u << 20)
#define QUERY_BODY_BASE (64u << 10)
#define QUERY_BODY_PER_DIM 64u
#define TOKEN_MIN 16
#define TOKEN_MAX 1024

enum {
	OPT_BIND = 256, OPT_MAXBODY, OPT_THREADS, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_TOKEN_FILE,
	OPT_TOKEN_READS, OPT_MAXINFLIGHT, OPT_MAXCONN, OPT_PERIP, OPT_IDLE, OPT_BODYTMO,
	OPT_MINRATE,
};

struct serve_opts {
	const char *path, *bind, *token_file;
	uint64_t port, max_body, max_inflight, threads, max_conns, per_ip, idle_s, body_s, min_rate;
	int token_reads;
	unsigned oflags;
};

/* Reads the bearer token: 16..1024 visible ASCII characters (a trailing
 * newline is dropped). A file other users can read or anyone else can write
 * is refused: the token is a password. Returns CLI_OK or CLI_FAIL. */
static int load_token(const char *path, uint8_t hash[32])
{
	char buf[TOKEN_MAX + 8];
	struct stat st;
	ssize_t n;
	size_t len, i;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cli_fail("--token-file %s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return cli_fail("--token-file %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cli_fail("--token-file %s: not a regular file", path);
	}
	if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		close(fd);
		return cli_fail("--token-file %s: mode %04o lets other users read or change the "
				"token (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0)
		return cli_fail("--token-file %s: %s", path, strerror(errno));
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len < TOKEN_MIN || len > TOKEN_MAX) {
		sodium_memzero(buf, sizeof buf);
		return cli_fail("--token-file %s: the token must be %d..%d characters (got %zu%s); "
				"e.g. head -c 32 /dev/urandom | base64 > FILE", path, TOKEN_MIN,
				TOKEN_MAX, len, (size_t)n == sizeof buf ? " or more" : "");
	}
	for (i = 0; i < len; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e)
			break;
	if (i == len)
		crypto_generichash(hash, 32, (const unsigned char *)buf, len, NULL, 0);
	sodium_memzero(buf, sizeof buf);
	if (i < len)
		return cli_fail("--token-file %s: byte %zu of the token is not a visible ASCII "
				"character (no spaces or control characters)", path, i);
	return CLI_OK;
}

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "max-body", required_argument, NULL, OPT_MAXBODY },
		{ "max-inflight", required_argument, NULL, OPT_MAXINFLIGHT },
		{ "max-connections", required_argument, NULL, OPT_MAXCONN },
		{ "max-per-ip", required_argument, NULL, OPT_PERIP },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "body-timeout", required_argument, NULL, OPT_BODYTMO },
		{ "min-body-rate", required_argument, NULL, OPT_MINRATE },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "token-reads", no_argument, NULL, OPT_TOKEN_READS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		int opt;
		const char *name;
		uint64_t lo, hi;
		size_t off;
	} nums[] = {
		{ 'p', "--port <PORT>", 0, 65535, offsetof(struct serve_opts, port) },
		{ OPT_MAXBODY, "--max-body <BYTES>", 1, 1ull << 32, offsetof(struct serve_opts, max_body) },
		{ OPT_MAXINFLIGHT, "--max-inflight <BYTES>", 1, 1ull << 40,
		  offsetof(struct serve_opts, max_inflight) },
		{ OPT_MAXCONN, "--max-connections <N>", 1, 65536, offsetof(struct serve_opts, max_conns) },
		{ OPT_PERIP, "--max-per-ip <N>", 1, 65536, offsetof(struct serve_opts, per_ip) },
		{ OPT_IDLE, "--idle-timeout <SECONDS>", 1, 86400, offsetof(struct serve_opts, idle_s) },
		{ OPT_BODYTMO, "--body-timeout <SECONDS>", 1, 86400, offsetof(struct serve_opts, body_s) },
		{ OPT_MINRATE, "--min-body-rate <BYTES>", 0, 1ull << 30,
		  offsetof(struct serve_opts, min_rate) },
		{ OPT_THREADS, "--threads <N>", 1, 256, offsetof(struct serve_opts, threads) },
	};
	int opt, rc;
	size_t i;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":p:", opts, NULL)) != -1) {
		for (i = 0; i < sizeof nums / sizeof *nums && nums[i].opt != opt; i++)
			;
		if (i < sizeof nums / sizeof *nums) {
			uint64_t *v = (uint64_t *)((char *)o + nums[i].off);
			if (cli_parse_u64(optarg, v) || *v < nums[i].lo || *v > nums[i].hi)
				return cli_usage("serve", "invalid value '%s' for '%s': expected %llu..%llu",
						 optarg, nums[i].name, (unsigned long long)nums[i].lo,
						 (unsigned long long)nums[i].hi);
			continue;
		}
		switch (opt) {
		case OPT_BIND: o->bind = optarg; break;
		case OPT_TOKEN_FILE: o->token_file = optarg; break;
		case OPT_TOKEN_READS: o->token_reads = 1; break;
		case OPT_WAIT: o->oflags |= RVF_OPEN_WAIT; break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("serve", optarg, &o->oflags)))
				return rc;
			break;
		default: return cli_bad_option("serve", argv, opt);
		}
	}
	if ((rc = cli_one_path("serve", argc, argv, &o->path)))
		return rc;
	if (o->token_reads && !o->token_file)
		return cli_usage("serve", "--token-reads needs --token-file");
	if (!o->max_inflight)
		o->max_inflight = 4 * o->max_body;
	if (o->max_inflight < o->max_body)
		return cli_usage("serve", "--max-inflight (%llu) must be at least --max-body (%llu)",
				 (unsigned long long)o->max_inflight, (unsigned long long)o->max_body);
	return CLI_OK;
}

/* libmicrohttpd's own connection limit for our --max-connections: room above
 * ours for connections being evicted and for its per-thread split (each of
 * the --threads workers gets an equal share); ours is kept by eviction. */
static uint64_t mhd_limit(uint64_t max_conns)
{
	return max_conns + max_conns / 2 + SERVE_EVICT_SLACK;
}

/* Room for mhd_limit(max_conns) sockets (plus the store, listen socket,
 * pipes): raises the soft descriptor limit, or lowers *max_conns to what the
 * hard one allows. */
static void fit_fd_limit(uint64_t *max_conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)mhd_limit(*max_conns) + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want) {
		uint64_t room = rl.rlim_cur > 64 + SERVE_EVICT_SLACK + 96 ?
			(uint64_t)rl.rlim_cur - 64 - SERVE_EVICT_SLACK : 96;
		uint64_t fit = room * 2 / 3;
		fprintf(stderr, "warning: the descriptor limit (%llu) allows %llu connections, not "
			"--max-connections %llu\n", (unsigned long long)rl.rlim_cur,
			(unsigned long long)fit, (unsigned long long)*max_conns);
		*max_conns = fit;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("rvf serve: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* Runs the slow-body reaper 4 times a second until SIGINT/SIGTERM, then
 * stops the daemon (running requests finish first) and persists a changed
 * index. */
static int run_until_signal(struct MHD_Daemon *d, struct server *sv, const sigset_t *set)
{
	const struct timespec tick = { 0, 250 * 1000 * 1000 };
	int sig, e, rc = CLI_OK;
	rvf_index_stats is;

	for (;;) {
		sig = sigtimedwait(set, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		serve_reap(sv);
	}
	fprintf(stderr, "rvf serve: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	MHD_stop_daemon(d);
	pthread_mutex_lock(&sv->mu);
	if (rvf_get_index_stats(sv->s, &is) == 0 && is.present && !is.persisted &&
	    (e = rvf_index_persist(sv->s)))
		rc = cli_store_fail(e);
	pthread_mutex_unlock(&sv->mu);
	fprintf(stderr, "rvf serve: stopped after %llu requests\n", (unsigned long long)sv->total);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = {
		.bind = "127.0.0.1", .port = 8080, .max_body = DEFAULT_MAX_BODY, .threads = 4,
		.max_conns = 1024, .per_ip = 32, .idle_s = 30, .body_s = 120, .min_rate = 4096,
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned mflags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;
	struct server *sv;
	sigset_t set;
	int rc, loopback;

	if ((rc = parse_opts(argc, argv, &o)))
		return rc;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, o.bind, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)o.port);
		loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, o.bind, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)o.port);
		mflags |= MHD_USE_IPv6;
		loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	} else {
		return cli_usage("serve", "invalid value '%s' for '--bind <ADDR>': expected an IPv4 or "
				 "IPv6 address", o.bind);
	}
	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	sv = calloc(1, sizeof *sv);
	if (!sv)
		return cli_fail("out of memory");
	pthread_mutex_init(&sv->mu, NULL);
	pthread_mutex_init(&sv->mmu, NULL);
	pthread_mutex_init(&sv->bmu, NULL);
	pthread_mutex_init(&sv->tmu, NULL);
	sv->max_body = (size_t)o.max_body;
	sv->max_inflight = (size_t)o.max_inflight;
	sv->body_timeout_s = (double)o.body_s;
	sv->min_body_rate = (double)o.min_rate;
	sv->loopback_hosts = loopback;
	sv->token_reads = o.token_reads;
	if (o.token_file) {
		if ((rc = load_token(o.token_file, sv->token_hash)))
			goto out;
		sv->have_token = 1;
	}
	if ((rc = cli_open_store(o.path, o.oflags, &sv->s)))
		goto out;
	/* A query body is one vector, k, a filter and flags: 64 bytes per
	 * component (a float printed in full is at most 24) and 64 KiB for the
	 * rest. */
	sv->query_body = QUERY_BODY_BASE + (size_t)rvf_dimension(sv->s) * QUERY_BODY_PER_DIM;
	if (sv->query_body > sv->max_body)
		sv->query_body = sv->max_body;
	fit_fd_limit(&o.max_conns);
	sv->max_conns = (size_t)o.max_conns;
	/* Server threads inherit this mask: only the main thread takes the
	 * stop signals (sigwait). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Idle or half-sent connections are closed after --idle-timeout; one
	 * address holds at most --max-per-ip connections; a full table evicts
	 * (serve_accept), so connections held open from many addresses leave
	 * room for a new client. */
	d = MHD_start_daemon(mflags, (uint16_t)o.port, serve_accept, sv, serve_handler, sv,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)o.threads,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)mhd_limit(o.max_conns),
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)o.per_ip,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o.idle_s,
			     MHD_OPTION_NOTIFY_COMPLETED, serve_completed, sv,
			     MHD_OPTION_NOTIFY_CONNECTION, serve_notify_conn, sv,
			     MHD_OPTION_END);
	if (!d) {
		rc = cli_fail("cannot listen on %s port %llu (%s)", o.bind, (unsigned long long)o.port,
			      errno ? strerror(errno) : "libmicrohttpd failed to start");
		goto out;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = di ? di->port : (unsigned)o.port;
	int v6 = strchr(o.bind, ':') != NULL;
	fprintf(stderr, "rvf serve: HTTP listening on %s%s%s:%u (store %s, dimension %u, metric %s; "
		"writes %s, reads %s)\n", v6 ? "[" : "", o.bind, v6 ? "]" : "", bound, o.path,
		rvf_dimension(sv->s), rvf_metric_name(rvf_get_metric(sv->s)),
		sv->have_token ? "need the token" : "disabled (no --token-file)",
		sv->token_reads ? "need the token" : "open");
	if (!loopback && !sv->token_reads)
		fprintf(stderr, "warning: %s is not a loopback address and reads need no token: "
			"anyone who can reach it can query the store (--token-reads)\n", o.bind);
	fflush(stderr);
	rc = run_until_signal(d, sv, &set);
out:
	rvf_close(sv->s);
	pthread_mutex_destroy(&sv->mu);
	pthread_mutex_destroy(&sv->mmu);
	pthread_mutex_destroy(&sv->bmu);
	pthread_mutex_destroy(&sv->tmu);
	sodium_memzero(sv->token_hash, sizeof sv->token_hash);
	free(sv);
	return rc;
}
#endif /* RVF_HAVE_MHD */
