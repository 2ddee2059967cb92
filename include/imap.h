/* SPDX-License-Identifier: ISC */
/*
 * The imap stage: reads the mailbox in cfg->imap at a mail provider, on a
 * thread of its own.  Each new message is committed to the store before
 * the poller flags or moves it on the server, so a dropped connection
 * loses nothing.  The daemon learns of each commit through a callback.
 */
#ifndef CRITGATE_IMAP_H
#define CRITGATE_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "cfg.h"

struct imap_poller;

/* The envelope critgate derives from a fetched message's headers. */
struct imap_envelope {
	char		*mail_from;	/* Return-Path address, or "" */
	GPtrArray	*rcpts;		/* char *, lowercase, never empty */
};

/*
 * Starts a thread that connects to cfg->imap (cfg->imap.host must not be
 * NULL), commits every message above the last UID it recorded to its own
 * handle on the store at cfg->store_path, then waits for new mail with
 * IDLE, or polls every cfg->imap.poll_ms when the server lacks IDLE.  With
 * security "tls" or "starttls", it logs in only when the server's
 * certificate chains to a CA trusted by the system or listed in
 * cfg->imap.ca_file and names cfg->imap.host.  It reconnects with backoff
 * after any failure, a rejected certificate included.  After each committed
 * message it calls on_stored(ctx) from its own thread, so on_stored must be
 * thread-safe (g_main_context_invoke is).  cfg is borrowed until
 * imap_poller_stop returns.  Returns the poller; never NULL.
 */
struct imap_poller	*imap_poller_start(const struct cfg *cfg,
			    void (*on_stored)(void *ctx), void *ctx);

/*
 * Asks the thread to stop, waits for it and frees the poller.  Blocks for
 * at most the network timeout of the call in progress (IDLE and the waits
 * between attempts end at once).  imap_poller_stop(NULL) does nothing.
 */
void	imap_poller_stop(struct imap_poller *poller);

/*
 * Fills out from the headers of one raw message: mail_from from
 * Return-Path, rcpts from the routed addresses of Delivered-To,
 * X-Original-To, To and Cc (each once), or cfg->imap.user alone when none
 * is routed.  Never fails; release with imap_envelope_fini.  Thread-safe
 * once parse_init has run.
 */
void	imap_envelope_init(struct imap_envelope *out, const struct cfg *cfg,
	    const uint8_t *raw, size_t len);
void	imap_envelope_fini(struct imap_envelope *env);

/*
 * Returns the key under which the store keeps the poller's place in the
 * mailbox, "user@host:port/MAILBOX"; caller frees with g_free.
 */
char	*imap_mailbox_key(const struct cfg_imap *imap);

#endif
