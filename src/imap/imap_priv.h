/* SPDX-License-Identifier: ISC */
/*
 * Internals of the imap stage shared by its files: the poller's state,
 * which only its own thread touches once started (sock_fd and the wake
 * pipe excepted), and the steps of one IMAP session.
 */
#ifndef CRITGATE_IMAP_PRIV_H
#define CRITGATE_IMAP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <libetpan/libetpan.h>

#include "cfg.h"
#include "store.h"

#define IMAP_NET_TIMEOUT_S	60	/* per blocking read or write */
#define IMAP_IDLE_MS		(25 * 60 * 1000)	/* RFC 2177: re-issue
							 * IDLE within 29 min */
#define IMAP_BACKOFF_MIN_MS	1000
#define IMAP_BACKOFF_MAX_MS	(5 * 60 * 1000)
#define IMAP_BROKEN_TRIES	3	/* refused fetches before a skip */

/* The outcome of one step of a session. */
enum imap_step {
	IMAP_STEP_OK,
	IMAP_STEP_REFUSED,	/* the server answered NO or BAD, the
				 * connection still works */
	IMAP_STEP_LOST,		/* the session cannot go on: reconnect */
	IMAP_STEP_STOP,		/* imap_poller_stop was called */
};

struct imap_poller {
	const struct cfg	*cfg;
	void			(*on_stored)(void *ctx);
	void			*ctx;
	GThread			*thread;
	int			 wake[2];	/* a byte written asks the
						 * thread to stop */
	GMutex			 lock;		/* guards the next two */
	int			 sock_fd;	/* -1 when not connected */
	bool			 is_stopping;
	char			*key;		/* in the store */
	char			*peer;		/* "imap:HOST" */
	struct store		*store;
	mailimap		*imap;
	uint32_t		 uidvalidity;	/* of the selected mailbox */
	bool			 has_idle;
	bool			 has_move;
	bool			 has_uidplus;
	char			*error;		/* why the session ended */
	uint32_t		 broken_uid;	/* refused, being retried */
	int			 broken_tries;
};

/* imap_session.c: one connection, from connect to close. */
int		imap_session_open(struct imap_poller *p);
void		imap_session_close(struct imap_poller *p);
enum imap_step	imap_session_sync(struct imap_poller *p);
enum imap_step	imap_session_wait(struct imap_poller *p);

/* imap_stream.c: makes end of file a read error; returns 0 or -1. */
int		imap_stream_wrap(mailimap *imap);

/*
 * imap_tls.c.  Runs a TLS handshake on the connected socket fd that
 * succeeds only if the server's certificate chains to a trusted CA (the
 * system's, or one in imap->ca_file) and names imap->host.  Returns a
 * driver that owns fd from then on (free it with mailstream_low_free,
 * close the fd with mailstream_low_close), or NULL with the reason in
 * *error (caller frees with g_free), fd left open.  Logs a certificate
 * rejection.  Blocks for at most the network timeout.
 */
mailstream_low	*imap_tls_open(int fd, const struct cfg_imap *imap,
		    char **error);

/* imap_fetch.c: one message, from fetch to the flag or move. */
enum imap_step	imap_fetch_uids(struct imap_poller *p, uint32_t last_uid,
		    GArray *uids);
enum imap_step	imap_fetch_take(struct imap_poller *p, uint32_t uid);

/*
 * imap_poller.c.  Waits until fd (or -1) is readable or timeout_ms has
 * passed (IMAP_STEP_OK), or until a stop is asked (IMAP_STEP_STOP).
 */
enum imap_step	imap_poller_wait(struct imap_poller *p, int fd,
		    int64_t timeout_ms);
/* Publishes the session's socket (or -1) for imap_poller_stop. */
void		imap_poller_sock_set(struct imap_poller *p, int fd);
/* Records why the session failed, with libetpan's code r (or 0) and the
 * server's last response text; returns IMAP_STEP_LOST or _REFUSED. */
enum imap_step	imap_poller_fail(struct imap_poller *p, const char *what,
		    int r);

#endif
