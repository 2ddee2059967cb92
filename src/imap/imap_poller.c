/* SPDX-License-Identifier: ISC */
/*
 * The poller's thread from start to stop, and its reconnect loop.  The
 * backoff starts at 1 s and doubles up to 5 min; it returns to 1 s after a
 * session that read the mailbox to its end.  A stop request ends every
 * wait at once.  The session itself is in imap_session.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "imap.h"
#include "imap_priv.h"
#include "log.h"

/* libetpan's codes for a connection that cannot go on.  The other codes
 * mean that the server rejected one command with NO or BAD. */
static const struct {
	int		 code;
	const char	*name;
} lost_codes[] = {
	{ MAILIMAP_ERROR_BAD_STATE, "unexpected session state" },
	{ MAILIMAP_ERROR_STREAM, "connection lost" },
	{ MAILIMAP_ERROR_PARSE, "unparseable response" },
	{ MAILIMAP_ERROR_CONNECTION_REFUSED, "connection refused" },
	{ MAILIMAP_ERROR_MEMORY, "out of memory" },
	{ MAILIMAP_ERROR_FATAL, "server closed the session" },
	{ MAILIMAP_ERROR_PROTOCOL, "protocol error" },
	{ MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION, "server rejected the "
	  "connection" },
	{ MAILIMAP_ERROR_SSL, "TLS handshake failed" },
};

char *
imap_mailbox_key(const struct cfg_imap *imap)
{
	return g_strdup_printf("%s@%s:%" G_GINT64_FORMAT "/%s", imap->user,
	    imap->host, imap->port, imap->mailbox);
}

/* Returns the name of a code that ends the session, or NULL. */
static const char *
lost_code_name(int r)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(lost_codes); i++)
		if (lost_codes[i].code == r)
			return lost_codes[i].name;
	return NULL;
}

enum imap_step
imap_poller_fail(struct imap_poller *p, const char *what, int r)
{
	const char	*lost = lost_code_name(r);
	char		*text;

	/* The server's text, never ours: it cannot hold the password. */
	text = g_strdup(p->imap != NULL && p->imap->imap_response != NULL ?
	    p->imap->imap_response : "");
	g_strdelimit(text, "\"\r\n", '\'');
	g_free(p->error);
	if (r == 0)
		p->error = g_strdup(what);
	else if (lost != NULL)
		p->error = g_strdup_printf("%s failed: %s", what, lost);
	else
		p->error = g_strdup_printf("%s rejected by the server: "
		    "code %d%s%s", what, r, text[0] != '\0' ? ": " : "",
		    text);
	g_free(text);
	return r != 0 && lost == NULL ? IMAP_STEP_REFUSED : IMAP_STEP_LOST;
}

enum imap_step
imap_poller_wait(struct imap_poller *p, int fd, int64_t timeout_ms)
{
	struct pollfd	pfd[2];
	int		n;

	pfd[0].fd = p->wake[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = fd;
	pfd[1].events = POLLIN;
	do {
		n = poll(pfd, fd != -1 ? 2 : 1,
		    (int)MIN(timeout_ms, (int64_t)G_MAXINT));
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		log_warn("imap: poll failed");
	if (n > 0 && (pfd[0].revents & POLLIN) != 0)
		return IMAP_STEP_STOP;
	return IMAP_STEP_OK;
}

void
imap_poller_sock_set(struct imap_poller *p, int fd)
{
	g_mutex_lock(&p->lock);
	p->sock_fd = fd;
	/* A stop asked while the connection was being made. */
	if (fd != -1 && p->is_stopping)
		(void)shutdown(fd, SHUT_RDWR);
	g_mutex_unlock(&p->lock);
}

/* Runs one session; returns whether it read the mailbox to its end. */
static bool
session_run(struct imap_poller *p)
{
	bool		is_good = false;
	enum imap_step	step;

	if (imap_session_open(p) == -1)
		goto out;
	for (;;) {
		step = imap_session_sync(p);
		if (step != IMAP_STEP_OK)
			break;
		is_good = true;
		step = imap_session_wait(p);
		if (step != IMAP_STEP_OK)
			break;
	}
out:
	imap_session_close(p);
	return is_good;
}

static gpointer
poller_main(gpointer data)
{
	struct imap_poller	*p = data;
	int64_t			 delay_ms = IMAP_BACKOFF_MIN_MS;
	int			 attempt = 0;

	for (;;) {
		if (p->store == NULL)
			p->store = store_open(p->cfg->store_path, true);
		if (p->store != NULL && session_run(p)) {
			attempt = 0;
			delay_ms = IMAP_BACKOFF_MIN_MS;
		}
		if (imap_poller_wait(p, -1, 0) == IMAP_STEP_STOP)
			break;
		attempt++;
		log_warnx("imap: reconnecting host=%s attempt=%d in_ms=%"
		    G_GINT64_FORMAT " error=\"%s\"", p->cfg->imap.host,
		    attempt, delay_ms, p->store == NULL ? "store open failed" :
		    p->error != NULL ? p->error : "");
		if (imap_poller_wait(p, -1, delay_ms) == IMAP_STEP_STOP)
			break;
		delay_ms = MIN(delay_ms * 2, IMAP_BACKOFF_MAX_MS);
	}
	log_info("imap: stopped host=%s", p->cfg->imap.host);
	return NULL;
}

struct imap_poller *
imap_poller_start(const struct cfg *cfg, void (*on_stored)(void *ctx),
    void *ctx)
{
	struct imap_poller	*p = g_new0(struct imap_poller, 1);

	p->cfg = cfg;
	p->on_stored = on_stored;
	p->ctx = ctx;
	p->sock_fd = -1;
	g_mutex_init(&p->lock);
	if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("imap: cannot create the wake pipe");
	p->key = imap_mailbox_key(&cfg->imap);
	p->peer = g_strdup_printf("imap:%s", cfg->imap.host);
	if (strcmp(cfg->imap.security, "none") == 0)
		log_warnx("imap: security=none: the password crosses the "
		    "network in clear host=%s", cfg->imap.host);
	log_info("imap: starting host=%s port=%" G_GINT64_FORMAT
	    " security=%s mailbox=\"%s\" after_commit=%s", cfg->imap.host,
	    cfg->imap.port, cfg->imap.security, cfg->imap.mailbox,
	    cfg->imap.after_commit);
	p->thread = g_thread_new("imap", poller_main, p);
	return p;
}

void
imap_poller_stop(struct imap_poller *p)
{
	if (p == NULL)
		return;
	/* The byte ends IDLE and backoff waits; shutting the socket down
	 * ends a blocking read or write in libetpan at once. */
	(void)!write(p->wake[1], "x", 1);
	g_mutex_lock(&p->lock);
	p->is_stopping = true;
	if (p->sock_fd != -1)
		(void)shutdown(p->sock_fd, SHUT_RDWR);
	g_mutex_unlock(&p->lock);
	g_thread_join(p->thread);
	store_close(p->store);
	close(p->wake[0]);
	close(p->wake[1]);
	g_mutex_clear(&p->lock);
	g_free(p->key);
	g_free(p->peer);
	g_free(p->error);
	g_free(p);
}
