/* rvfd_allow.c — CIDR allow-list (--allow), the userspace twin of the XDP
 * LPM trie rvf_allow: IPv4 is handled as IPv4-mapped IPv6 (::ffff:a.b.c.d,
 * prefix 96 + v4 prefix), exactly as struct rvf_allow_key. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvfd.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int rvfd_cidr_parse(const char *s, struct rvfd_cidr *out)
{
	char buf[80], *slash, *end;
	unsigned long plen;
	int maxlen;
	uint32_t i;

	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr + 12) == 1) {
		memcpy(out->addr, v4mapped, 12);
		out->v4 = 1;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		maxlen = 128;
	} else {
		return -EINVAL;
	}
	plen = (unsigned long)maxlen;
	if (slash) {
		if (!slash[1] || slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end || plen > (unsigned long)maxlen)
			return -EINVAL;
	}
	out->prefixlen = (uint32_t)plen + (out->v4 ? 96u : 0u);
	/* Clear the host bits. */
	for (i = out->prefixlen; i < 128; i++)
		out->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	if (out->v4) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, out->addr + 12, a, sizeof(a));
		snprintf(out->text, sizeof(out->text), "%s/%lu", a, plen);
	} else {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, out->addr, a, sizeof(a));
		snprintf(out->text, sizeof(out->text), "%s/%lu", a, plen);
	}
	return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *net, uint32_t plen)
{
	uint32_t full = plen / 8, rest = plen % 8;

	if (memcmp(a, net, full))
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xffu << (8 - rest));

		if ((a[full] & mask) != (net[full] & mask))
			return 0;
	}
	return 1;
}

int rvfd_allowed(const struct rvfd_cidr *list, size_t n, const struct sockaddr *sa)
{
	uint8_t a[16];
	size_t i;

	if (n == 0)
		return 1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(a, v4mapped, 12);
		memcpy(a + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return 0;
	}
	for (i = 0; i < n; i++)
		if (prefix_match(a, list[i].addr, list[i].prefixlen))
			return 1;
	return 0;
}
