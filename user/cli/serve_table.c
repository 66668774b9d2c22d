/* serve_table.c — `rvf serve`'s table of open connections, kept beside
 * libmicrohttpd's own so that neither a full table nor a slow body locks
 * other clients out:
 *
 *   - every connection is in one state (enum cstate): WAIT (its request
 *     headers are not complete yet, or it is idle between keep-alive
 *     requests), BODY (headers done, body arriving) or REPLY (request
 *     complete, being handled or answered); the list is ordered by the last
 *     state change, least recent first;
 *   - with --max-connections open, a new connection evicts the one that has
 *     waited longest in WAIT, else in BODY, never one in REPLY: its socket
 *     is shut down and libmicrohttpd closes it. Connections that send
 *     nothing, from any number of source addresses, only push each other
 *     out; a client that sends its request at once is never the oldest;
 *   - serve_reap (the main thread, 4 times a second) drops a body that
 *     brings fewer than --min-body-rate x SERVE_RATE_WINDOW_S bytes in a
 *     window of SERVE_RATE_WINDOW_S seconds, or is still arriving after
 *     --body-timeout. Bytes already in the socket's receive queue count as
 *     arrived, so a body is not blamed while its worker thread is busy.
 *
 * A socket is shut down only under tmu and only while its connection is in
 * the table; libmicrohttpd reports NOTIFY_CLOSED (which removes it, under
 * tmu) before it closes the descriptor, so a shutdown never reaches a
 * reused descriptor.
 */
#ifdef RVF_HAVE_MHD
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "serve.h"

static void unlink_conn(struct server *sv, struct sconn *sc)
{
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		sv->head = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	else
		sv->tail = sc->prev;
	sc->prev = sc->next = NULL;
}

static void append_conn(struct server *sv, struct sconn *sc)
{
	sc->prev = sv->tail;
	sc->next = NULL;
	if (sv->tail)
		sv->tail->next = sc;
	else
		sv->head = sc;
	sv->tail = sc;
}

/* Under tmu. */
static void kill_conn(struct server *sv, struct sconn *sc)
{
	shutdown(sc->fd, SHUT_RDWR);
	sc->evicting = 1;
	sv->nevicting++;
}

void serve_notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	struct server *sv = cls;
	struct sconn *sc;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci)
			return;
		sc = calloc(1, sizeof *sc);
		if (!sc) {
			/* Untracked connections would escape every limit here. */
			shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		sc->fd = ci->connect_fd;
		sc->state = CS_WAIT;
		sc->since = serve_mono_s();
		pthread_mutex_lock(&sv->tmu);
		append_conn(sv, sc);
		sv->nconns++;
		pthread_mutex_unlock(&sv->tmu);
		*socket_context = sc;
		return;
	}
	sc = *socket_context;
	if (!sc)
		return;
	pthread_mutex_lock(&sv->tmu);
	unlink_conn(sv, sc);
	sv->nconns--;
	if (sc->evicting)
		sv->nevicting--;
	pthread_mutex_unlock(&sv->tmu);
	free(sc);
	*socket_context = NULL;
}

/* The connection to evict for a new one: the least recently changed in
 * WAIT, else in BODY; NULL if every one is in REPLY. Under tmu. */
static struct sconn *victim(struct server *sv)
{
	static const enum cstate order[] = { CS_WAIT, CS_BODY };
	struct sconn *sc;
	size_t i;

	for (i = 0; i < sizeof order / sizeof *order; i++)
		for (sc = sv->head; sc; sc = sc->next)
			if (!sc->evicting && sc->state == order[i])
				return sc;
	return NULL;
}

enum MHD_Result serve_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct server *sv = cls;
	enum MHD_Result ok = MHD_YES;

	pthread_mutex_lock(&sv->tmu);
	if (sv->nconns - sv->nevicting >= sv->max_conns) {
		/* Connections being evicted still count in libmicrohttpd's own
		 * limit, which has room for them; when a flood fills even that,
		 * its threads stop accepting and new connections wait in the
		 * listen queue until the evicted ones are closed. */
		struct sconn *v = victim(sv);
		if (v) {
			kill_conn(sv, v);
			sv->evicted++;
		} else {
			sv->refused++;
			ok = MHD_NO;
		}
	}
	pthread_mutex_unlock(&sv->tmu);
	return ok;
}

struct sconn *serve_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void serve_conn_state(struct server *sv, struct sconn *sc, enum cstate st)
{
	if (!sc)
		return;
	pthread_mutex_lock(&sv->tmu);
	sc->state = st;
	sc->since = sc->mark_t = serve_mono_s();
	sc->body_bytes = sc->mark_bytes = 0;
	unlink_conn(sv, sc);
	append_conn(sv, sc);
	pthread_mutex_unlock(&sv->tmu);
}

void serve_conn_body(struct server *sv, struct sconn *sc, size_t n)
{
	if (!sc)
		return;
	pthread_mutex_lock(&sv->tmu);
	sc->body_bytes += n;
	pthread_mutex_unlock(&sv->tmu);
}

void serve_reap(struct server *sv)
{
	double now = serve_mono_s();
	struct sconn *sc;

	pthread_mutex_lock(&sv->tmu);
	for (sc = sv->head; sc; sc = sc->next) {
		if (sc->state != CS_BODY || sc->evicting)
			continue;
		if (now - sc->since > sv->body_timeout_s) {
			kill_conn(sv, sc);
			sv->dropped_slow++;
			continue;
		}
		if (sv->min_body_rate <= 0 || now - sc->mark_t < SERVE_RATE_WINDOW_S)
			continue;
		int queued = 0;
		if (ioctl(sc->fd, FIONREAD, &queued) || queued < 0)
			queued = 0;
		uint64_t got = sc->body_bytes + (uint64_t)queued;
		uint64_t came = got > sc->mark_bytes ? got - sc->mark_bytes : 0;
		if ((double)came < sv->min_body_rate * (now - sc->mark_t)) {
			kill_conn(sv, sc);
			sv->dropped_slow++;
		} else {
			sc->mark_t = now;
			sc->mark_bytes = got;
		}
	}
	pthread_mutex_unlock(&sv->tmu);
}
#endif /* RVF_HAVE_MHD */
