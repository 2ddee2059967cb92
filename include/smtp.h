/* SPDX-License-Identifier: ISC */
/*
 * The smtp stage: an SMTP server session (RFC 5321) as a state machine over
 * bytes.  The daemon feeds it what the client sent and writes out what it
 * queues; the session never touches a socket, a timer or the store.  When a
 * message is complete the session hands it over and waits, reading nothing
 * more, until the daemon reports whether the commit succeeded: only then is
 * "250" queued.
 */
#ifndef CRITGATE_SMTP_H
#define CRITGATE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define SMTP_COMMAND_LINE_MAX	512	/* RFC 5321 4.5.3.1.4, CRLF included */
#define SMTP_TEXT_LINE_MAX	1000	/* RFC 5321 4.5.3.1.6, CRLF included */

struct smtp_session;

/* One complete transaction; the receiver owns it and frees it with
 * smtp_message_free. */
struct smtp_message {
	char		*mail_from;	/* reverse path without <>, "" for null */
	GPtrArray	*rcpt_to;	/* char *, lowercase, without <> */
	char		*peer;		/* client address, "ip:port" */
	char		*helo;		/* EHLO/HELO argument */
	GByteArray	*data;		/* dot-unstuffed, CRLF line ends, no
					 * final ".CRLF" */
};

struct smtp_callbacks {
	/* Tells whether we accept mail for address (lowercase, no <>). */
	bool	(*rcpt_is_routed)(void *ctx, const char *address);
	/*
	 * Takes over msg.  The session stays waiting until
	 * smtp_session_commit_done() is called for it, possibly from a later
	 * loop iteration.
	 */
	void	(*message_ready)(void *ctx, struct smtp_session *session,
		    struct smtp_message *msg);
	/*
	 * Called when the client's STARTTLS was accepted and "220" queued:
	 * the daemon writes the queued output in plaintext, runs the TLS
	 * handshake, then calls smtp_session_tls_started.  Until then the
	 * session discards all input.  May be NULL when has_starttls is
	 * false.
	 */
	void	(*start_tls)(void *ctx, struct smtp_session *session);
};

struct smtp_limits {
	const char	*hostname;		/* borrowed for the session */
	size_t		 max_message_bytes;	/* after unstuffing */
	size_t		 max_recipients;
	size_t		 max_errors;		/* protocol errors before
						 * 421; 0 means 10 */
	size_t		 max_text_line;		/* bytes of a DATA line,
						 * CRLF excluded; 0 means
						 * no limit but the size */
	bool		 is_lmtp;		/* speak LMTP (RFC 2033):
						 * LHLO, and one reply per
						 * recipient after DATA */
	bool		 has_starttls;		/* announce and accept
						 * STARTTLS (RFC 3207) */
	bool		 is_tls_required;	/* MAIL, RCPT, DATA and VRFY
						 * get 530 until STARTTLS */
};

/*
 * Creates a session for a client at peer (copied) and queues the 220
 * greeting.  limits and callbacks are borrowed for the session's life.
 */
struct smtp_session	*smtp_session_new(const struct smtp_limits *limits,
			    const struct smtp_callbacks *callbacks, void *ctx,
			    const char *peer);
void			 smtp_session_free(struct smtp_session *session);

/*
 * Processes len bytes from the client.  Replies are queued for output.
 * While a commit is pending, input is buffered (pipelining) and processed
 * after smtp_session_commit_done.
 */
void	smtp_session_feed(struct smtp_session *session, const uint8_t *buf,
	    size_t len);

/* Queues 250 when is_committed, 451 4.3.0 otherwise, then resumes. */
void	smtp_session_commit_done(struct smtp_session *session,
	    bool is_committed);

/*
 * Reports a completed TLS handshake after start_tls.  The session returns
 * to its state after the greeting, forgetting the EHLO (RFC 3207 4.2),
 * and no longer offers STARTTLS.  Does nothing in any other state.
 */
void	smtp_session_tls_started(struct smtp_session *session);

/* Queues "421 4.4.2 ... timeout" and closes the session. */
void	smtp_session_timeout(struct smtp_session *session);

/* Queues "421 4.3.2 ... shutting down" and closes the session. */
void	smtp_session_shutdown(struct smtp_session *session);

/* Returns the queued output (borrowed until the next call on the session). */
const uint8_t	*smtp_session_output(struct smtp_session *session,
		    size_t *len);
/* Drops the first n bytes of queued output, once written. */
void		 smtp_session_output_consume(struct smtp_session *session,
		    size_t n);

/* Tells whether the daemon should close after flushing the output. */
bool	smtp_session_is_closed(const struct smtp_session *session);

/*
 * Starts a graceful stop: a session between transactions gets "421"
 * and closes at once; one in DATA or committing finishes its message,
 * sends its reply, then "421" and closes.
 */
void	smtp_session_drain(struct smtp_session *session);

/* Tells whether the session is in DATA or waits for its commit. */
bool	smtp_session_is_busy(const struct smtp_session *session);

/* Tells whether the session waits for smtp_session_commit_done. */
bool	smtp_session_is_committing(const struct smtp_session *session);

/* Tells whether the session has a sender and no message sent yet. */
bool	smtp_session_is_sending(const struct smtp_session *session);

void	smtp_message_free(struct smtp_message *msg);

#endif
