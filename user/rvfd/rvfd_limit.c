/* rvfd_limit.c — per-source token bucket for error replies (--error-rate
 * N/s): a source may receive N error replies per second, with a burst of N.
 * The table is bounded: RVFD_LIMIT_SLOTS sources in 8-way sets indexed by a
 * hash of the address; a new source replaces the least recently seen one of
 * its set, so spoofed sources cannot grow memory. OK replies are never
 * limited. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "rvfd.h"

int rvfd_limit_init(struct rvfd_limit *rl, double rate)
{
	rl->rate = rate;
	rl->slot = NULL;
	if (rate <= 0)
		return 0;
	rl->slot = calloc(RVFD_LIMIT_SLOTS, sizeof(*rl->slot));
	return rl->slot ? 0 : -ENOMEM;
}

void rvfd_limit_free(struct rvfd_limit *rl)
{
	free(rl->slot);
	rl->slot = NULL;
}

/* The address as 16 bytes (IPv4 mapped). */
static void addr16(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

static uint32_t hash16(const uint8_t a[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

int rvfd_limit_take(struct rvfd_limit *rl, const struct sockaddr *sa, double now)
{
	uint8_t a[16];
	struct rvfd_limit_slot *set, *s = NULL, *old = NULL;

	if (rl->rate <= 0 || !rl->slot)
		return 1;
	addr16(sa, a);
	set = rl->slot + (hash16(a) % (RVFD_LIMIT_SLOTS / RVFD_LIMIT_WAYS)) * RVFD_LIMIT_WAYS;
	for (int i = 0; i < RVFD_LIMIT_WAYS && !s; i++) {
		if (set[i].last > 0 && !memcmp(set[i].addr, a, 16))
			s = &set[i];
		else if (!old || set[i].last < old->last)
			old = &set[i];
	}
	if (!s) {
		s = old;
		memcpy(s->addr, a, 16);
		s->tokens = rl->rate;
		s->last = now;
	}
	s->tokens += (now - s->last) * rl->rate;
	if (s->tokens > rl->rate)
		s->tokens = rl->rate;
	s->last = now > 0 ? now : 1e-9;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}
