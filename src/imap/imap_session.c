/* SPDX-License-Identifier: ISC */
/*
 * One IMAP session with libetpan: connect (TLS, STARTTLS or plain), LOGIN,
 * CAPABILITY and SELECT.  TLS runs over the driver in imap_tls.c, which
 * checks the server's certificate.  Then it reads every message above the
 * last UID recorded in the store, and waits for new mail before the next
 * round.
 * The wait is IDLE (RFC 2177) when the server announces it, else a timer
 * followed by NOOP.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "imap.h"
#include "imap_priv.h"
#include "log.h"

#define STREAM_BUFFER_BYTES	8192

/* Waits for a non-blocking connect on fd; returns 0 or -1 with errno. */
static int
connect_wait(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	socklen_t	len = sizeof(int);
	int		err = 0;
	int		n;

	do {
		n = poll(&pfd, 1, IMAP_NET_TIMEOUT_S * 1000);
	} while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	if (n <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	errno = err;
	return err == 0 ? 0 : -1;
}

/* Tries one address; returns a connected socket or -1 with errno. */
static int
connect_addr(const struct addrinfo *ai)
{
	int	fd;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    (errno == EINPROGRESS && connect_wait(fd) == 0))
		return fd;
	close(fd);
	return -1;
}

/* Connects to each address of host in turn, each within the network
 * timeout.  Returns a socket in non-blocking mode, or -1 with the failure
 * recorded. */
static int
tcp_connect(struct imap_poller *p, const char *host, uint16_t port)
{
	struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo	*res = NULL;
	struct addrinfo	*ai;
	char		 service[8];
	char		*why;
	int		 fd = -1;
	int		 r;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r != 0) {
		why = g_strdup_printf("resolving the host failed: %s",
		    gai_strerror(r));
		imap_poller_fail(p, why, 0);
		g_free(why);
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = connect_addr(ai);
	if (fd == -1) {
		why = g_strdup_printf("connect failed: %s", g_strerror(errno));
		imap_poller_fail(p, why, 0);
		g_free(why);
	}
	freeaddrinfo(res);
	return fd;
}

/* Publishes fd, then runs the TLS handshake on it.  Returns the TLS
 * driver, which owns fd from then on, or NULL with the failure recorded. */
static mailstream_low *
tls_wrap(struct imap_poller *p, int fd)
{
	mailstream_low	*low;
	char		*error = NULL;

	imap_poller_sock_set(p, fd);
	low = imap_tls_open(fd, &p->cfg->imap, &error);
	if (low == NULL) {
		imap_poller_fail(p, error, 0);
		g_free(error);
	}
	return low;
}

/* Takes libetpan's code r from reading the greeting. */
static int
greeting_check(struct imap_poller *p, int r)
{
	if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED ||
	    r == MAILIMAP_NO_ERROR_AUTHENTICATED)
		return 0;
	imap_poller_fail(p, "connect", r);
	return -1;
}

static int
connect_tls(struct imap_poller *p, const char *host, uint16_t port)
{
	mailstream_low	*low;
	mailstream	*stream;
	int		 fd;

	fd = tcp_connect(p, host, port);
	if (fd == -1)
		return -1;
	low = tls_wrap(p, fd);
	if (low == NULL) {
		imap_poller_sock_set(p, -1);
		close(fd);
		return -1;
	}
	stream = mailstream_new(low, STREAM_BUFFER_BYTES);
	if (stream == NULL) {
		imap_poller_sock_set(p, -1);
		mailstream_low_close(low);
		mailstream_low_free(low);
		imap_poller_fail(p, "connect", MAILIMAP_ERROR_MEMORY);
		return -1;
	}
	/* The session owns the stream from here, even on failure. */
	return greeting_check(p, mailimap_connect(p->imap, stream));
}

/* RFC 3501 6.2.1: STARTTLS, then the TLS handshake on the same socket in
 * place of the plain stream, as mailimap_socket_starttls does. */
static int
connect_starttls(struct imap_poller *p, const char *host, uint16_t port)
{
	mailstream_low	*plain;
	mailstream_low	*low;
	int		 r;

	r = mailimap_socket_connect(p->imap, host, port);
	if (greeting_check(p, r) == -1)
		return -1;
	r = mailimap_starttls(p->imap);
	if (r != MAILIMAP_NO_ERROR) {
		imap_poller_fail(p, "STARTTLS", r);
		return -1;
	}
	/* Bytes after the tagged OK came in clear and would be read as if
	 * they had come over TLS: a man in the middle could inject them. */
	if (p->imap->imap_stream->read_buffer_len != 0) {
		imap_poller_fail(p, "STARTTLS: the server sent data before "
		    "the TLS handshake", 0);
		return -1;
	}
	plain = mailstream_get_low(p->imap->imap_stream);
	low = tls_wrap(p, mailstream_low_get_fd(plain));
	if (low == NULL)
		return -1;
	/* The socket driver's free leaves the fd open; the TLS driver owns
	 * it now. */
	mailstream_low_free(plain);
	mailstream_set_low(p->imap->imap_stream, low);
	return 0;
}

static int
connect_plain(struct imap_poller *p, const char *host, uint16_t port)
{
	return greeting_check(p, mailimap_socket_connect(p->imap, host,
	    port));
}

/* Each returns 0, or -1 with the failure recorded. */
static const struct {
	const char	*security;
	int		(*connect)(struct imap_poller *, const char *,
			    uint16_t);
} connectors[] = {
	{ "tls", connect_tls },
	{ "starttls", connect_starttls },
	{ "none", connect_plain },
};

static int
session_connect(struct imap_poller *p)
{
	const struct cfg_imap	*imap = &p->cfg->imap;
	size_t			 i;

	p->imap = mailimap_new(0, NULL);
	mailimap_set_timeout(p->imap, IMAP_NET_TIMEOUT_S);
	for (i = 0; i < G_N_ELEMENTS(connectors); i++) {
		if (strcmp(imap->security, connectors[i].security) != 0)
			continue;
		if (connectors[i].connect(p, imap->host,
		    (uint16_t)imap->port) == -1)
			return -1;
		imap_poller_sock_set(p, mailstream_low_get_fd(
		    mailstream_get_low(p->imap->imap_stream)));
		if (imap_stream_wrap(p->imap) == -1) {
			imap_poller_fail(p, "wrapping the stream failed", 0);
			return -1;
		}
		return 0;
	}
	imap_poller_fail(p, "unknown imap.security", 0);
	return -1;
}

/* Reads the capabilities after LOGIN: servers may announce more then. */
static int
session_capabilities(struct imap_poller *p)
{
	struct mailimap_capability_data	*caps = NULL;
	int				 r;

	r = mailimap_capability(p->imap, &caps);
	if (r != MAILIMAP_NO_ERROR) {
		imap_poller_fail(p, "CAPABILITY", r);
		return -1;
	}
	mailimap_capability_data_free(caps);
	p->has_idle = mailimap_has_idle(p->imap) != 0;
	p->has_move = mailimap_has_extension(p->imap, "MOVE") != 0;
	p->has_uidplus = mailimap_has_uidplus(p->imap) != 0;
	return 0;
}

static int
session_select(struct imap_poller *p)
{
	int	r;

	r = mailimap_select(p->imap, p->cfg->imap.mailbox);
	if (r != MAILIMAP_NO_ERROR) {
		imap_poller_fail(p, "SELECT", r);
		return -1;
	}
	p->uidvalidity = p->imap->imap_selection_info != NULL ?
	    p->imap->imap_selection_info->sel_uidvalidity : 0;
	if (p->uidvalidity == 0) {
		/* RFC 3501 2.3.1.1 requires it; without it a UID means
		 * nothing across sessions. */
		imap_poller_fail(p, "SELECT returned no UIDVALIDITY", 0);
		return -1;
	}
	return 0;
}

int
imap_session_open(struct imap_poller *p)
{
	const struct cfg_imap	*imap = &p->cfg->imap;
	int			 r;

	if (session_connect(p) == -1)
		return -1;
	r = mailimap_login(p->imap, imap->user, imap->password);
	if (r != MAILIMAP_NO_ERROR) {
		imap_poller_fail(p, "LOGIN", r);
		return -1;
	}
	if (session_capabilities(p) == -1 || session_select(p) == -1)
		return -1;
	log_info("imap: connected host=%s user=%s mailbox=\"%s\" "
	    "uidvalidity=%" PRIu32 " idle=%s move=%s", imap->host, imap->user,
	    imap->mailbox, p->uidvalidity, p->has_idle ? "yes" : "no",
	    p->has_move ? "yes" : "no");
	return 0;
}

void
imap_session_close(struct imap_poller *p)
{
	if (p->imap == NULL)
		return;
	/* No LOGOUT: after a failure it could block for the whole network
	 * timeout, and the server treats a closed socket the same. */
	imap_poller_sock_set(p, -1);
	mailimap_free(p->imap);
	p->imap = NULL;
}

/* Reads the place recorded in the store, starting over at UID 1 when the
 * mailbox's UIDVALIDITY changed (RFC 3501 2.3.1.1). */
static int
sync_last_uid(struct imap_poller *p, uint32_t *last_uid)
{
	uint32_t	validity;

	if (store_imap_state_get(p->store, p->key, &validity,
	    last_uid) == -1) {
		imap_poller_fail(p, "reading the mailbox state failed", 0);
		return -1;
	}
	if (validity == p->uidvalidity)
		return 0;
	if (validity != 0)
		log_warnx("imap: uidvalidity changed mailbox=\"%s\" old=%"
		    PRIu32 " new=%" PRIu32 ": reading every message again",
		    p->key, validity, p->uidvalidity);
	*last_uid = 0;
	if (store_imap_state_set(p->store, p->key, p->uidvalidity,
	    0) == -1) {
		imap_poller_fail(p, "recording the mailbox state failed", 0);
		return -1;
	}
	return 0;
}

enum imap_step
imap_session_sync(struct imap_poller *p)
{
	GArray		*uids;
	uint32_t	 last_uid;
	enum imap_step	 step;
	guint		 i;

	if (sync_last_uid(p, &last_uid) == -1)
		return IMAP_STEP_LOST;
	uids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	step = imap_fetch_uids(p, last_uid, uids);
	if (uids->len > 0)
		log_info("imap: new messages mailbox=\"%s\" count=%u "
		    "after_uid=%" PRIu32, p->key, uids->len, last_uid);
	for (i = 0; step == IMAP_STEP_OK && i < uids->len; i++) {
		step = imap_poller_wait(p, -1, 0);
		if (step == IMAP_STEP_OK)
			step = imap_fetch_take(p,
			    g_array_index(uids, uint32_t, i));
	}
	g_array_free(uids, TRUE);
	return step;
}

/* Waits in IDLE until the server reports anything, the time limit of
 * RFC 2177 comes, or a stop is asked; DONE ends IDLE in the first two. */
static enum imap_step
wait_idle(struct imap_poller *p)
{
	enum imap_step	step = IMAP_STEP_OK;
	int		r;

	r = mailimap_idle(p->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_poller_fail(p, "IDLE", r);
	log_debug("imap: idling mailbox=\"%s\"", p->key);
	/* A response already buffered would never wake poll(). */
	if (p->imap->imap_stream->read_buffer_len == 0)
		step = imap_poller_wait(p, mailimap_idle_get_fd(p->imap),
		    IMAP_IDLE_MS);
	if (step == IMAP_STEP_STOP)
		return step;
	r = mailimap_idle_done(p->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_poller_fail(p, "IDLE DONE", r);
	return IMAP_STEP_OK;
}

/* Without IDLE: waits poll_ms, then a NOOP lets the server report new
 * messages before the next UID FETCH. */
static enum imap_step
wait_poll(struct imap_poller *p)
{
	enum imap_step	step;
	int		r;

	log_debug("imap: polling mailbox=\"%s\" in_ms=%" G_GINT64_FORMAT,
	    p->key, p->cfg->imap.poll_ms);
	step = imap_poller_wait(p, -1, p->cfg->imap.poll_ms);
	if (step != IMAP_STEP_OK)
		return step;
	r = mailimap_noop(p->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_poller_fail(p, "NOOP", r);
	return IMAP_STEP_OK;
}

enum imap_step
imap_session_wait(struct imap_poller *p)
{
	return p->has_idle ? wait_idle(p) : wait_poll(p);
}
