/* rvfd_main.c — the rvf query daemon.
 *
 *   rvfd --file F --iface IF --port P [--allow CIDR ...] [--mode native|generic|auto]
 *        [--no-xdp] [--metrics-port M] [--metrics-addr A] [--pin-dir D]
 *        [--user NAME] [--ebpf-from-store --trust-key K.pub] [--error-rate N/s]
 *
 * Set-up runs as root (bind, load, attach, pin); then the worker drops to
 * --user (rvfd_priv.c). One thread, one poll loop: the UDP query sockets
 * (IPv6 and IPv4, exclusive: no SO_REUSEADDR, so nobody can bind the port
 * beside us), the metrics listener and its connections, a signalfd
 * (SIGTERM/SIGINT: detach, unpin, exit 0; SIGHUP: reload now) and a 100 ms
 * tick that stats the store file (dev, inode, size, mtime, ctime) and, when
 * it changed, reopens the store read-only and syncs the XDP maps through the
 * loader, so that an ingest by the CLI becomes visible without a restart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "rvfd.h"
#include "rvf.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define RELOAD_INTERVAL 0.1 /* seconds between stat() of the store file */
#define MAX_DGRAM 65536
#define RX_BURST 64         /* datagrams per socket per loop turn */
#define MAX_ALLOW 256

struct opts {
	const char *file, *iface, *mode, *pin_dir, *user, *metrics_addr, *trust_key;
	uint16_t port, metrics_port;
	int no_xdp, ebpf_from_store;
	double error_rate;
	struct rvfd_cidr allow[MAX_ALLOW];
	size_t nallow;
};

struct filestamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct daemon {
	struct opts o;
	struct rvfd_store st;
	struct filestamp stamp;
	struct rvfd_metrics m;
	struct rvfd_work w;
	struct rvfd_http http;
	struct rvfd_xdp *xdp;
	struct rvfd_limit rl;
	struct rvfd_priv priv;
	int udp[2]; /* IPv6, IPv4 */
	int sfd;    /* signalfd */
	int have_http;
	double next_check;
	int reload_failing;
	uint8_t *rx, *tx;
};

static void usage(FILE *f)
{
	fputs("Usage: rvfd --file F --iface IF --port P [--allow CIDR ...]\n"
	      "            [--mode native|generic|auto] [--no-xdp] [--metrics-port M]\n"
	      "            [--metrics-addr A] [--pin-dir D] [--user NAME]\n"
	      "            [--ebpf-from-store --trust-key K.pub] [--error-rate N/s]\n"
	      "\n"
	      "Serves the rvf store F over the UDP query protocol (docs/PROTOCOL.md): the XDP\n"
	      "program on IF answers int8 scans and cache hits in the kernel, the daemon the\n"
	      "rest with exact f32 results. Follows changes of F (reopen + map sync).\n"
	      "\n"
	      "  -f, --file F           store to serve (opened read-only)\n"
	      "  -i, --iface IF         interface for the XDP/tc programs (not needed with --no-xdp)\n"
	      "  -p, --port P           UDP port, IPv4 and IPv6 [default: 7878]\n"
	      "  -a, --allow CIDR       only answer sources in CIDR (repeatable; XDP drops the rest,\n"
	      "                         the daemon and the metrics port too)\n"
	      "  -m, --mode MODE        XDP attach mode: native, generic or auto [default: auto]\n"
	      "      --no-xdp           userspace only: answer every query in the daemon\n"
	      "      --metrics-port M   Prometheus text on http://A:M/metrics\n"
	      "      --metrics-addr A   address of the metrics listener [default: 127.0.0.1]\n"
	      "      --pin-dir D        bpffs pin directory [default: /sys/fs/bpf/rvf/IF]\n"
	      "      --user NAME        after set-up, serve as NAME with only CAP_BPF,\n"
	      "                         CAP_NET_ADMIN, CAP_PERFMON (none with --no-xdp); F must\n"
	      "                         stay readable by NAME [default: nobody; root: no drop]\n"
	      "      --ebpf-from-store  attach the store's EBPF_SEG programs instead of the\n"
	      "                         built-in ones; needs --trust-key\n"
	      "      --trust-key K.pub  public key (rvf keygen) whose 'rvf sign' signature of\n"
	      "                         the store's current state is required\n"
	      "      --error-rate N/s   at most N error replies per second to one source\n"
	      "                         (burst N; 4096 sources tracked) [default: no limit]\n"
	      "  -h, --help             this text\n", f);
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v == 0 || v > 65535 || s[0] == '-' || s[0] == '+')
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_NOXDP = 256, O_METRICS, O_PINDIR, O_USER, O_MADDR, O_FROMSTORE, O_TRUST, O_ERATE };
	static const struct option lo[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "iface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "allow", required_argument, NULL, 'a' },
		{ "mode", required_argument, NULL, 'm' },
		{ "no-xdp", no_argument, NULL, O_NOXDP },
		{ "metrics-port", required_argument, NULL, O_METRICS },
		{ "pin-dir", required_argument, NULL, O_PINDIR },
		{ "user", required_argument, NULL, O_USER },
		{ "metrics-addr", required_argument, NULL, O_MADDR },
		{ "ebpf-from-store", no_argument, NULL, O_FROMSTORE },
		{ "trust-key", required_argument, NULL, O_TRUST },
		{ "error-rate", required_argument, NULL, O_ERATE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->port = RVF_WIRE_DEFAULT_PORT;
	o->mode = "auto";
	o->user = "nobody";
	o->metrics_addr = "127.0.0.1";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:i:p:a:m:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 'i':
			o->iface = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &o->port)) {
				fprintf(stderr, "rvfd: error: invalid --port '%s' (1..65535)\n", optarg);
				return 2;
			}
			break;
		case O_METRICS:
			if (parse_port(optarg, &o->metrics_port)) {
				fprintf(stderr, "rvfd: error: invalid --metrics-port '%s' (1..65535)\n",
					optarg);
				return 2;
			}
			break;
		case 'a':
			if (o->nallow == MAX_ALLOW) {
				fprintf(stderr, "rvfd: error: more than %d --allow entries\n", MAX_ALLOW);
				return 2;
			}
			if (rvfd_cidr_parse(optarg, &o->allow[o->nallow])) {
				fprintf(stderr, "rvfd: error: invalid --allow '%s': expected an IPv4 or "
						"IPv6 address with an optional /prefix\n", optarg);
				return 2;
			}
			o->nallow++;
			break;
		case 'm':
			if (strcmp(optarg, "native") && strcmp(optarg, "generic") &&
			    strcmp(optarg, "auto")) {
				fprintf(stderr, "rvfd: error: invalid --mode '%s' (native, generic, "
						"auto)\n", optarg);
				return 2;
			}
			o->mode = optarg;
			break;
		case O_NOXDP:
			o->no_xdp = 1;
			break;
		case O_PINDIR:
			o->pin_dir = optarg;
			break;
		case O_USER:
			o->user = optarg;
			break;
		case O_MADDR: {
			unsigned char buf[16];

			if (inet_pton(AF_INET, optarg, buf) != 1 && inet_pton(AF_INET6, optarg, buf) != 1) {
				fprintf(stderr, "rvfd: error: invalid --metrics-addr '%s': expected an IPv4 "
						"or IPv6 address\n", optarg);
				return 2;
			}
			o->metrics_addr = optarg;
			break;
		}
		case O_FROMSTORE:
			o->ebpf_from_store = 1;
			break;
		case O_TRUST:
			o->trust_key = optarg;
			break;
		case O_ERATE: {
			char *end;

			errno = 0;
			o->error_rate = strtod(optarg, &end);
			if (*end == '/' && !strcmp(end, "/s"))
				end += 2;
			if (errno || end == optarg || *end || !(o->error_rate >= 0.001) ||
			    o->error_rate > 1e6) {
				fprintf(stderr, "rvfd: error: invalid --error-rate '%s': expected N or N/s "
						"with 0.001 <= N <= 1000000\n", optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "rvfd: error: option '%s' needs a value\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			fprintf(stderr, "rvfd: error: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rvfd: error: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->file) {
		fprintf(stderr, "rvfd: error: --file is required\n");
		usage(stderr);
		return 2;
	}
	if (o->ebpf_from_store != (o->trust_key != NULL)) {
		fprintf(stderr, "rvfd: error: --ebpf-from-store and --trust-key go together\n");
		return 2;
	}
	if (o->ebpf_from_store && o->no_xdp) {
		fprintf(stderr, "rvfd: error: --ebpf-from-store needs XDP (not --no-xdp)\n");
		return 2;
	}
	if (!o->no_xdp && !o->iface) {
		fprintf(stderr, "rvfd: error: --iface is required (or --no-xdp)\n");
		usage(stderr);
		return 2;
	}
	return 0;
}

/* ---- store ---------------------------------------------------------------- */
static int stamp_get(const char *path, struct filestamp *s)
{
	struct stat sb;

	if (stat(path, &sb))
		return -errno;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
	s->mtim = sb.st_mtim;
	s->ctim = sb.st_ctim;
	return 0;
}

static int stamp_eq(const struct filestamp *a, const struct filestamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static int store_open(const char *path, struct rvfd_store *out)
{
	rvf_status stt;
	rvf_store *s;
	int rc;

	rc = rvf_open(path, RVF_OPEN_READONLY, &s);
	if (rc)
		return rc;
	if (*rvf_open_warning(s))
		fprintf(stderr, "rvfd: warning: %s\n", rvf_open_warning(s));
	rc = rvf_get_status(s, &stt);
	if (rc) {
		rvf_close(s);
		return rc;
	}
	out->s = s;
	out->dim = rvf_dimension(s);
	out->metric = rvf_get_metric(s);
	out->epoch = stt.epoch;
	out->nvec = rvf_live_count(s);
	return 0;
}

static void metrics_store(struct daemon *d)
{
	d->m.epoch = d->st.epoch;
	d->m.nvec = d->st.nvec;
	d->m.dim = d->st.dim;
	rvfd_metrics_identity(&d->m, d->st.s);
}

/* Reopens the store if the file changed; syncs the XDP maps on a new epoch. */
static void check_reload(struct daemon *d, int force)
{
	struct filestamp now;
	struct rvfd_store ns = { 0 };
	int rc, same_file;

	rc = stamp_get(d->o.file, &now);
	if (rc) {
		if (!d->reload_failing)
			fprintf(stderr, "rvfd: warning: %s: %s (still serving epoch %u)\n", d->o.file,
				strerror(-rc), d->st.epoch);
		d->reload_failing = 1;
		return;
	}
	if (!force && stamp_eq(&now, &d->stamp))
		return;
	/* The stamp is taken before the open: a commit that lands during the
	 * open changes the file again and is picked up on the next tick. */
	rc = store_open(d->o.file, &ns);
	if (rc) {
		d->m.reload_errors++;
		if (!d->reload_failing)
			fprintf(stderr, "rvfd: warning: reopening %s: %s: %s (still serving epoch %u)\n",
				d->o.file, rvf_strerror(rc), rvf_last_error(), d->st.epoch);
		d->reload_failing = 1;
		return; /* retried next tick: the stamp is not recorded */
	}
	d->reload_failing = 0;
	if (ns.dim != d->st.dim)
		fprintf(stderr, "rvfd: warning: %s changed dimension %u -> %u\n", d->o.file, d->st.dim,
			ns.dim);
	same_file = now.dev == d->stamp.dev && now.ino == d->stamp.ino;
	d->stamp = now;
	d->m.reloads++;
	if (!force && same_file && ns.epoch == d->st.epoch && ns.nvec == d->st.nvec) {
		rvf_close(ns.s); /* nothing new committed yet */
		return;
	}
	rvf_close(d->st.s);
	d->st = ns;
	metrics_store(d);
	fprintf(stderr, "rvfd: store reloaded: epoch %u, %llu vectors\n", d->st.epoch,
		(unsigned long long)d->st.nvec);
	if (d->xdp) {
		d->m.syncs++;
		if (rvfd_xdp_sync(d->xdp, d->st.s))
			d->m.sync_errors++;
		d->w.have_qkey = rvfd_xdp_cache_key(d->xdp, d->w.qkey) == 0;
	}
}

/* ---- sockets -------------------------------------------------------------- */
static int udp_open(int family, uint16_t port)
{
	int fd, one = 1, buf = 4 << 20, err;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* No SO_REUSEADDR: with it, any local user could bind the same port
	 * (with SO_REUSEADDR too) and answer as the daemon. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (family == AF_INET6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_ANY_INIT };

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		err = bind(fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_ANY) };

		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		err = bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (err) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int open_udp(struct daemon *d)
{
	int fam[2] = { AF_INET6, AF_INET }, i, rc;

	for (i = 0; i < 2; i++) {
		rc = udp_open(fam[i], d->o.port);
		if (rc == -EADDRINUSE) {
			fprintf(stderr, "rvfd: error: UDP port %u (%s) is busy: another process (an "
					"rvfd still running?) is bound to it\n", d->o.port,
				fam[i] == AF_INET ? "IPv4" : "IPv6");
			return rc;
		}
		if (rc == -EACCES) {
			fprintf(stderr, "rvfd: error: UDP port %u: permission denied (ports below "
					"1024 need root)\n", d->o.port);
			return rc;
		}
		if (rc < 0 && fam[i] == AF_INET6 && (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)) {
			fprintf(stderr, "rvfd: warning: no IPv6 (%s): serving IPv4 only\n",
				strerror(-rc));
			d->udp[i] = -1;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "rvfd: error: UDP port %u (%s): %s\n", d->o.port,
				fam[i] == AF_INET ? "IPv4" : "IPv6", strerror(-rc));
			return rc;
		}
		d->udp[i] = rc;
	}
	return 0;
}

static double ts_diff_us(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) * 1e6 + (double)(a->tv_nsec - b->tv_nsec) / 1e3;
}

/* Receives and answers up to RX_BURST datagrams of one socket. */
static void serve_socket(struct daemon *d, int fd)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo)) + 64];
		struct cmsghdr align;
	} ctl, octl;
	int burst;

	for (burst = 0; burst < RX_BURST; burst++) {
		struct iovec iov = { d->rx, MAX_DGRAM };
		struct msghdr mh = { .msg_name = &peer, .msg_namelen = sizeof(peer), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct timespec rxts = { 0, 0 }, now;
		struct in_pktinfo pi4;
		struct in6_pktinfo pi6;
		int have4 = 0, have6 = 0;
		struct cmsghdr *cm;
		size_t outlen;
		uint8_t status;
		ssize_t n;
		int v;

		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			return; /* EAGAIN (or a transient error: poll again) */
		d->m.requests++;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
				memcpy(&rxts, CMSG_DATA(cm), sizeof(rxts));
			else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				memcpy(&pi4, CMSG_DATA(cm), sizeof(pi4));
				have4 = 1;
			} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
				memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
				have6 = 1;
			}
		}
		if (rxts.tv_sec == 0)
			clock_gettime(CLOCK_REALTIME, &rxts);
		if (!rvfd_allowed(d->o.allow, d->o.nallow, &peer.sa)) {
			d->m.drop_denied++;
			continue;
		}
		v = rvfd_handle(&d->st, &d->w, d->rx, (size_t)n, d->tx, MAX_DGRAM, &outlen, &status);
		if (v == RVFD_DROP_SHORT) {
			d->m.drop_short++;
			continue;
		}
		if (v == RVFD_DROP_REPLY) {
			d->m.drop_reply++;
			continue;
		}
		if (status != RVF_ST_OK && !rvfd_limit_take(&d->rl, &peer.sa, rvfd_mono())) {
			d->m.error_limited++;
			continue;
		}
		/* Reply from the address the request was sent to. */
		struct iovec oiov = { d->tx, outlen };
		struct msghdr om = { .msg_name = &peer, .msg_namelen = mh.msg_namelen,
				     .msg_iov = &oiov, .msg_iovlen = 1 };

		memset(&octl, 0, sizeof(octl));
		if (have4) {
			struct in_pktinfo r = { .ipi_spec_dst = pi4.ipi_addr };

			om.msg_control = octl.buf;
			om.msg_controllen = CMSG_SPACE(sizeof(r));
			cm = CMSG_FIRSTHDR(&om);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(r));
			memcpy(CMSG_DATA(cm), &r, sizeof(r));
		} else if (have6) {
			struct in6_pktinfo r = { .ipi6_addr = pi6.ipi6_addr };

			/* Link-local sources need the interface to be reachable. */
			if (IN6_IS_ADDR_LINKLOCAL(&pi6.ipi6_addr))
				r.ipi6_ifindex = pi6.ipi6_ifindex;
			om.msg_control = octl.buf;
			om.msg_controllen = CMSG_SPACE(sizeof(r));
			cm = CMSG_FIRSTHDR(&om);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(r));
			memcpy(CMSG_DATA(cm), &r, sizeof(r));
		}
		if (sendmsg(fd, &om, MSG_DONTWAIT) < 0) {
			d->m.send_errors++;
			continue;
		}
		d->m.replies[status < 8 ? status : RVF_ST_INTERNAL]++;
		clock_gettime(CLOCK_REALTIME, &now);
		rvfd_lat_observe(&d->m, ts_diff_us(&now, &rxts));
	}
}

static char *metrics_cb(void *arg)
{
	struct daemon *d = arg;

	if (d->xdp)
		d->m.xdp_valid = rvfd_xdp_counters(d->xdp, d->m.xdp) == 0;
	return rvfd_metrics_text(&d->m);
}

/* ---- preflight ------------------------------------------------------------ */
static int check_xdp_env(struct daemon *d, char *pin_dir, size_t len)
{
	struct statfs sf;

	if (geteuid() != 0) {
		fprintf(stderr, "rvfd: error: attaching XDP needs root (CAP_BPF + CAP_NET_ADMIN); "
				"run as root, or with --no-xdp for a userspace-only daemon\n");
		return -EPERM;
	}
	if (!rvfd_xdp_available()) {
		fprintf(stderr, "rvfd: error: this rvfd was built without the loader: run with "
				"--no-xdp\n");
		return -ENOTSUP;
	}
	if (if_nametoindex(d->o.iface) == 0) {
		fprintf(stderr, "rvfd: error: interface '%s' does not exist in this network "
				"namespace (see 'ip link')\n", d->o.iface);
		return -ENODEV;
	}
	if (statfs("/sys/fs/bpf", &sf) || (unsigned long)sf.f_type != BPF_FS_MAGIC) {
		fprintf(stderr, "rvfd: error: no bpffs on /sys/fs/bpf (needed for the pins): "
				"mount it with 'mount -t bpf bpf /sys/fs/bpf'%s\n",
			" (inside 'ip netns exec' it is not: start rvfd with 'nsenter "
			"--net=/run/netns/NAME' to keep the host's /sys/fs/bpf)");
		return -ENOENT;
	}
	snprintf(pin_dir, len, "/sys/fs/bpf/rvf/%s", d->o.iface);
	if (d->o.pin_dir && strcmp(d->o.pin_dir, pin_dir)) {
		fprintf(stderr, "rvfd: error: --pin-dir %s: the loader pins under %s only\n",
			d->o.pin_dir, pin_dir);
		return -EINVAL;
	}
	return 0;
}

static int run(struct daemon *d)
{
	struct pollfd pfd[4 + RVFD_HTTP_MAX_CONN];
	int np, i, timeout;

	for (;;) {
		double now = rvfd_mono();

		if (now >= d->next_check) {
			check_reload(d, 0);
			d->next_check = now + RELOAD_INTERVAL;
		}
		np = 0;
		pfd[np++] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
		for (i = 0; i < 2; i++)
			pfd[np++] = (struct pollfd){ .fd = d->udp[i], .events = POLLIN };
		if (d->have_http)
			np += rvfd_http_pollfds(&d->http, pfd + np);
		timeout = (int)((d->next_check - rvfd_mono()) * 1000.0) + 1;
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, (nfds_t)np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "rvfd: error: poll: %s\n", strerror(errno));
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					fprintf(stderr, "rvfd: SIGHUP: reloading %s\n", d->o.file);
					check_reload(d, 1);
				} else {
					fprintf(stderr, "rvfd: %s: shutting down\n",
						si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
					return 0;
				}
			}
		}
		for (i = 0; i < 2; i++)
			if (d->udp[i] >= 0 && (pfd[1 + i].revents & POLLIN))
				serve_socket(d, d->udp[i]);
		if (d->have_http)
			rvfd_http_service(&d->http, metrics_cb, d);
	}
}

/* Set-up is done: fork the root monitor (with XDP), drop the worker's
 * privileges. Returns 0 in the process that serves;
 * otherwise 1 with the exit status in *exit_rc: the monitor after the
 * worker ended (it detached), a failed worker (the monitor detaches) or a
 * failure before the fork (detached here). */
static int drop_privileges(struct daemon *d, const sigset_t *set,
			   int *exit_rc)
{
	pid_t monitor = getpid(), pid;
	int fd;

	if (!d->priv.drop)
		return 0;
	if (d->xdp) {
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "rvfd: error: fork: %s\n", strerror(errno));
			rvfd_xdp_stop(d->xdp);
			return *exit_rc = 1, 1;
		}
		if (pid > 0) { /* the monitor: no sockets, no store, no maps */
			for (int i = 0; i < 2; i++)
				if (d->udp[i] >= 0)
					close(d->udp[i]);
			if (d->have_http)
				rvfd_http_close(&d->http);
			close(d->sfd);
			rvf_close(d->st.s);
			rvfd_xdp_release(d->xdp);
			*exit_rc = rvfd_priv_monitor(pid, set);
			rvfd_xdp_stop(d->xdp);
			return 1;
		}
	}
	if (rvfd_priv_drop(&d->priv, d->xdp != NULL))
		return *exit_rc = 1, 1;
	/* The worker dies with the monitor (kill -9 of the daemon's pid). */
	if (d->xdp && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() != monitor))
		return *exit_rc = 1, 1;
	fd = open(d->o.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "rvfd: error: user %s cannot read %s: %s (it is reopened after "
				"every change: make it readable by that user, or pick --user)\n",
			d->priv.name, d->o.file, strerror(errno));
		return *exit_rc = 1, 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	char pin_dir[256] = "";
	uint8_t trust_key[32];
	struct timespec rt;
	sigset_t set;
	int rc, worker = 0;

	d.udp[0] = d.udp[1] = d.sfd = -1;
	rc = parse_args(argc, argv, &d.o);
	if (rc)
		return rc;
	setvbuf(stderr, NULL, _IOLBF, 0);

	/* Signals first: a TERM during start-up must still clean up. SIGCHLD
	 * is for the monitor (rvfd_priv_monitor). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t sfd_set = set;
	sigdelset(&sfd_set, SIGCHLD);
	d.sfd = signalfd(-1, &sfd_set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d.sfd < 0) {
		fprintf(stderr, "rvfd: error: signalfd: %s\n", strerror(errno));
		return 1;
	}
	if (rvfd_priv_lookup(d.o.user, &d.priv))
		return 1;
	if (d.o.trust_key && rvf_key_read_public(d.o.trust_key, trust_key)) {
		fprintf(stderr, "rvfd: error: --trust-key %s: %s\n", d.o.trust_key, rvf_last_error());
		return 1;
	}
	if (rvfd_limit_init(&d.rl, d.o.error_rate)) {
		fprintf(stderr, "rvfd: error: out of memory\n");
		return 1;
	}

	if (!d.o.no_xdp && check_xdp_env(&d, pin_dir, sizeof(pin_dir)))
		return 1;
	if (access(d.o.file, F_OK)) {
		fprintf(stderr, "rvfd: error: store file %s: %s\n", d.o.file, strerror(errno));
		return 1;
	}
	if (stamp_get(d.o.file, &d.stamp) || (rc = store_open(d.o.file, &d.st))) {
		fprintf(stderr, "rvfd: error: cannot open the store %s: %s: %s\n", d.o.file,
			rvf_strerror(rc), rvf_last_error());
		return 1;
	}
	metrics_store(&d);
	if (rvfd_work_init(&d.w) || !(d.rx = malloc(MAX_DGRAM)) || !(d.tx = malloc(MAX_DGRAM))) {
		fprintf(stderr, "rvfd: error: out of memory\n");
		return 1;
	}
	/* Bind before attaching: a busy port must fail with nothing attached. */
	if (open_udp(&d))
		return 1;
	if (d.o.metrics_port) {
		if (rvfd_http_open(&d.http, d.o.metrics_addr, d.o.metrics_port))
			return 1;
		d.http.allow = d.o.allow;
		d.http.nallow = d.o.nallow;
		d.http.denied = &d.m.metrics_denied;
		d.http.m = &d.m;
		d.have_http = 1;
	}
	if (!d.o.no_xdp) {
		struct rvfd_xdp_opts xo = { .ifname = d.o.iface, .pin_dir = pin_dir,
					    .mode = d.o.mode, .port = d.o.port,
					    .allow = d.o.allow, .nallow = d.o.nallow,
					    .trust_key = d.o.trust_key ? trust_key : NULL };

		if (rvfd_xdp_start(&xo, d.o.file, d.st.s, &d.xdp))
			return 1;
		d.m.xdp_attached = 1;
		d.w.have_qkey = rvfd_xdp_cache_key(d.xdp, d.w.qkey) == 0;
	}
	if (drop_privileges(&d, &set, &rc))
		return rc;
	worker = d.priv.drop && d.xdp; /* the monitor detaches, not us */
	if (d.xdp && rvfd_xdp_run(d.xdp)) {
		if (!worker)
			rvfd_xdp_stop(d.xdp);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	d.m.start_time = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9;
	d.next_check = rvfd_mono() + RELOAD_INTERVAL;

	fprintf(stderr, "rvfd: serving %s (dim %u, %s, %llu vectors, epoch %u) on UDP port %u "
			"(%s%s%s)%s%s", d.o.file, d.st.dim, rvf_metric_name(d.st.metric),
		(unsigned long long)d.st.nvec, d.st.epoch, d.o.port, d.udp[0] >= 0 ? "IPv6" : "",
		d.udp[0] >= 0 ? "+" : "", "IPv4", d.xdp ? ", XDP on " : ", no XDP",
		d.xdp ? d.o.iface : "");
	if (d.have_http)
		fprintf(stderr, ", metrics on %s:%u/metrics", d.o.metrics_addr, d.o.metrics_port);
	if (d.o.nallow) {
		fprintf(stderr, ", allow");
		for (size_t i = 0; i < d.o.nallow; i++)
			fprintf(stderr, " %s", d.o.allow[i].text);
	}
	if (d.o.error_rate > 0)
		fprintf(stderr, ", error replies <= %g/s per source", d.o.error_rate);
	if (d.priv.drop)
		fprintf(stderr, ", as user %s (uid %u)%s", d.priv.name, (unsigned)d.priv.uid,
			d.xdp ? " with CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON" : " without capabilities");
	fprintf(stderr, "\n");

	rc = run(&d);

	if (!worker)
		rvfd_xdp_stop(d.xdp);
	if (d.have_http)
		rvfd_http_close(&d.http);
	for (int i = 0; i < 2; i++)
		if (d.udp[i] >= 0)
			close(d.udp[i]);
	fprintf(stderr, "rvfd: %llu requests, %llu ok, %llu error replies, %llu dropped\n",
		(unsigned long long)d.m.requests, (unsigned long long)d.m.replies[RVF_ST_OK],
		(unsigned long long)(d.m.replies[1] + d.m.replies[2] + d.m.replies[3] +
				     d.m.replies[4] + d.m.replies[5] + d.m.replies[6] +
				     d.m.replies[7]),
		(unsigned long long)(d.m.drop_short + d.m.drop_reply + d.m.drop_denied +
				     d.m.error_limited));
	rvf_close(d.st.s);
	rvfd_work_free(&d.w);
	rvfd_limit_free(&d.rl);
	free(d.rx);
	free(d.tx);
	close(d.sfd);
	return rc;
}
