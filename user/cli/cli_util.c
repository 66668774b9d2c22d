/* cli_util.c — error reporting, option helpers and list parsing shared by
 * every `rvf` subcommand. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	const struct cli_cmd *c = cmd ? cli_find_cmd(cmd) : NULL;
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		fprintf(stderr, "\nUsage: %s\n\nFor more information, try 'rvf %s --help'.\n",
			c->usage, c->name);
	else
		fputs("\nUsage: rvf <COMMAND>\n\nFor more information, try 'rvf --help'.\n",
		      stderr);
	return CLI_USAGE;
}

int cli_store_fail(int err)
{
	const char *detail = rvf_last_error();

	if (detail && *detail)
		fprintf(stderr, "error: %s: %s\n", rvf_strerror(err), detail);
	else
		fprintf(stderr, "error: %s\n", rvf_strerror(err));
	return CLI_FAIL;
}

int cli_bad_option(const char *cmd, char **argv, int opt)
{
	/* getopt leaves the offending word at optind - 1; optopt holds the
	 * letter for short options (or a long option's value). */
	extern int optind, optopt;
	const char *word = argv[optind - 1];
	char name[64];

	if (strncmp(word, "--", 2) == 0)
		snprintf(name, sizeof name, "%.*s", (int)strcspn(word, "="), word);
	else if (optopt > 0 && optopt < 128 && isgraph(optopt))
		snprintf(name, sizeof name, "-%c", optopt);
	else
		snprintf(name, sizeof name, "%s", word);
	if (opt == ':')
		return cli_usage(cmd, "a value is required for '%s' but none was supplied", name);
	return cli_usage(cmd, "unexpected argument '%s' found", name);
}

int cli_one_path(const char *cmd, int argc, char **argv, const char **path)
{
	extern int optind;

	if (optind >= argc)
		return cli_usage(cmd, "the required argument <PATH> was not provided");
	if (optind + 1 < argc)
		return cli_usage(cmd, "unexpected argument '%s' found", argv[optind + 1]);
	*path = argv[optind];
	return CLI_OK;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* Copies s[0..n) trimmed of surrounding whitespace into a fresh string. */
static char *trimmed(const char *s, size_t n)
{
	char *r;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = 0;
	}
	return r;
}

/* Splits on commas and calls `one` on each trimmed item. */
static int split_list(const char *s, void *out, size_t elem, size_t *n,
		      int (*one)(const char *item, void *dst))
{
	size_t cap = 1, cnt = 0;
	const char *p;
	char *buf, *item;
	int rc;

	for (p = s; *p; p++)
		cap += *p == ',';
	buf = malloc(cap * elem);
	if (!buf)
		return cli_fail("out of memory");
	for (p = s;; ) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		item = trimmed(p, len);
		if (!item) {
			free(buf);
			return cli_fail("out of memory");
		}
		rc = one(item, buf + cnt * elem);
		free(item);
		if (rc) {
			free(buf);
			return rc;
		}
		cnt++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*(char **)out = buf;
	*n = cnt;
	return CLI_OK;
}

static int one_float(const char *item, void *dst)
{
	char *end;
	float v;

	errno = 0;
	v = strtof(item, &end);
	/* strtof takes hex floats and leading junk-free words; require a full,
	 * non-empty match. ERANGE on underflow is fine (denormal or 0). */
	if (!*item || *end)
		return cli_fail("Invalid vector component '%s': not a valid float", item);
	if (errno == ERANGE && isinf(v))
		return cli_fail("Invalid vector component '%s': outside the float32 range "
				"(magnitude at most 3.4028235e+38)", item);
	memcpy(dst, &v, sizeof v);
	return 0;
}

static int one_id(const char *item, void *dst)
{
	uint64_t v;

	if (cli_parse_u64(item, &v))
		return cli_fail("Invalid ID '%s': not an unsigned 64-bit integer", item);
	memcpy(dst, &v, sizeof v);
	return 0;
}

/* "1,2,3" or, as users of JSON type it, "[1, 2, 3]": the list inside one
 * pair of brackets (whitespace around them allowed). */
static int bracketed_list(const char *s, const char *what, void *out, size_t elem, size_t *n,
			  int (*one)(const char *item, void *dst))
{
	const char *b = s, *e = s + strlen(s);
	while (isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	int open = e > b && *b == '[', close = e > b && e[-1] == ']';
	if (open != close || (open && e - b < 2))
		return cli_fail("Invalid %s '%s': unbalanced brackets", what, s);
	if (!open)
		return split_list(s, out, elem, n, one);
	char *inner = trimmed(b + 1, (size_t)(e - b - 2));
	if (!inner)
		return cli_fail("out of memory");
	int rc = split_list(inner, out, elem, n, one);
	free(inner);
	return rc;
}

int cli_parse_vector(const char *s, float **out, size_t *n)
{
	return bracketed_list(s, "vector", out, sizeof(float), n, one_float);
}

int cli_parse_ids(const char *s, uint64_t **out, size_t *n)
{
	return bracketed_list(s, "ID list", out, sizeof(uint64_t), n, one_id);
}

void cli_kv(const char *key, const char *fmt, ...)
{
	char k[64];
	va_list ap;

	snprintf(k, sizeof k, "%s:", key);
	printf("  %-20s ", k);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double cli_ms_since(uint64_t t0_ns)
{
	return (double)(cli_now_ns() - t0_ns) / 1e6;
}

double cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
