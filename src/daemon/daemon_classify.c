/* SPDX-License-Identifier: ISC */
/*
 * The classify stage wired to the store: its lookups answered by store
 * queries, its settings taken from the config.  The decision itself stays
 * in the classify stage, which never sees the store.
 */
#include <string.h>

#include "classify.h"
#include "daemon.h"
#include "log.h"

/* The lookup context: the store, the message being classified, and
 * whether a query failed (the message is then tried again later). */
struct lookup_ctx {
	struct store	*store;
	int64_t		 msg_id;
	bool		 has_failed;
};

/* Turns a store answer into a lookup answer, noting failures. */
static int64_t
found(struct lookup_ctx *lc, int64_t id)
{
	if (id < 0) {
		lc->has_failed = true;
		return 0;
	}
	return id;
}

static int64_t
by_message_id(void *ctx, const char *message_id)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_message_by_message_id(lc->store,
	    message_id, lc->msg_id));
}

static int64_t
by_content_hash(void *ctx, const char *hash)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_message_by_content_hash(lc->store, hash,
	    lc->msg_id));
}

static int64_t
incident_of_message(void *ctx, int64_t msg_id)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_incident_of_message(lc->store, msg_id));
}

static int64_t
incident_by_message_id(void *ctx, const char *message_id)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_incident_by_thread_id(lc->store,
	    message_id));
}

static int64_t
incident_by_fingerprint(void *ctx, const char *fingerprint, int64_t since_ms)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_incident_by_fingerprint(lc->store,
	    fingerprint, since_ms));
}

static int64_t
incident_by_sender(void *ctx, const char *addr, int64_t since_ms)
{
	struct lookup_ctx	*lc = ctx;
	char			*lower = g_ascii_strdown(addr, -1);
	int64_t			 id;

	id = found(lc, store_find_incident_by_sender(lc->store, lower,
	    since_ms));
	g_free(lower);
	return id;
}

static int64_t
incident_by_subject_key(void *ctx, const char *key, int64_t since_ms)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_incident_by_subject_key(lc->store, key,
	    since_ms));
}

static bool
incident_has_sender(void *ctx, int64_t incident_id, const char *addr)
{
	struct lookup_ctx	*lc = ctx;
	char			*lower = g_ascii_strdown(addr, -1);
	int			 rc;

	rc = store_incident_has_sender(lc->store, incident_id, lower);
	g_free(lower);
	if (rc == -1)
		lc->has_failed = true;
	return rc == 1;
}

static bool
incident_exists(void *ctx, int64_t incident_id, bool *is_open)
{
	struct lookup_ctx	*lc = ctx;
	int			 rc;

	rc = store_incident_exists(lc->store, incident_id, is_open);
	if (rc == -1)
		lc->has_failed = true;
	return rc == 1;
}

static int64_t
incident_mailed_to(void *ctx, const char *addr, int64_t since_ms,
    int64_t until_ms)
{
	struct lookup_ctx	*lc = ctx;
	char			*lower = g_ascii_strdown(addr, -1);
	int64_t			 id;

	id = found(lc, store_find_incident_mailed_to(lc->store, lower,
	    since_ms, until_ms));
	g_free(lower);
	return id;
}

static int64_t
incident_unacked_since(void *ctx, enum cfg_severity severity,
    int64_t since_ms)
{
	struct lookup_ctx	*lc = ctx;

	return found(lc, store_find_incident_unacked_since(lc->store,
	    cfg_severity_name(severity), since_ms));
}

static const struct classify_lookup store_lookup = {
	.message_by_message_id = by_message_id,
	.message_by_content_hash = by_content_hash,
	.incident_of_message = incident_of_message,
	.incident_by_message_id = incident_by_message_id,
	.incident_by_fingerprint = incident_by_fingerprint,
	.incident_by_sender = incident_by_sender,
	.incident_by_subject_key = incident_by_subject_key,
	.incident_has_sender = incident_has_sender,
	.incident_exists = incident_exists,
	.incident_mailed_to = incident_mailed_to,
	.incident_unacked_since = incident_unacked_since,
};

void
daemon_classify_settings(const struct cfg *cfg, struct classify_settings *out)
{
	memset(out, 0, sizeof(*out));
	out->window_ms = cfg->dedup_window_ms;
	out->storm_window_ms = cfg->storm_window_ms;
	out->domain = cfg->mail_domain;
	out->from_addr = cfg->mail_from;
	out->token_key = cfg->token_key;
	out->token_key_len = cfg->token_key_len;
	out->ack_words = (const char *const *)cfg->mail.ack_words;
}

int
daemon_classify(struct store *store, const struct cfg *cfg,
    const struct store_message *msg, const struct parse_result *parsed,
    struct classify_result *out)
{
	struct classify_settings	settings;
	struct classify_input		in;
	struct lookup_ctx		lc = { .store = store,
					    .msg_id = msg->id };

	daemon_classify_settings(cfg, &settings);
	memset(&in, 0, sizeof(in));
	in.parsed = parsed;
	in.mail_from = msg->mail_from != NULL ? msg->mail_from : "";
	in.rcpts = (const char *const *)msg->rcpts->pdata;
	in.n_rcpts = msg->rcpts->len;
	in.received_ms = msg->received_ms;
	in.raw = g_bytes_get_data(msg->raw, NULL);
	in.raw_len = g_bytes_get_size(msg->raw);
	if (classify_message(cfg, &settings, &in, &store_lookup, &lc,
	    out) == -1) {
		log_errorx("classify: failed msg=%" G_GINT64_FORMAT, msg->id);
		return -1;
	}
	if (lc.has_failed) {
		classify_result_fini(out);
		return -1;
	}
	return 0;
}
