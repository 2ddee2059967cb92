/* SPDX-License-Identifier: ISC */
/*
 * The store stage's pages: one row per member, channel and round of an
 * incident.  The UNIQUE key on (incident, round, member, channel) is what
 * keeps a restarted daemon from paging anyone twice for the same round.
 */
#include <string.h>

#include "log.h"
#include "store_priv.h"

static const char *const page_state_names[STORE_PAGE_STATE_COUNT] = {
	[STORE_PAGE_PENDING] = "pending",
	[STORE_PAGE_SENDING] = "sending",
	[STORE_PAGE_SENT] = "sent",
	[STORE_PAGE_FAILED] = "failed",
	[STORE_PAGE_CANCELED] = "canceled",
	[STORE_PAGE_UNKNOWN] = "unknown",
	[STORE_PAGE_CAPPED] = "capped",
};

#define PAGE_COLUMNS							\
	"id, incident, round, member, channel, to_number, state, attempts, "\
	"created_ms, coalesce(sent_ms, 0), sid, provider_status, "	\
	"coalesce(status_ms, 0), error, provider, coalesce(resent_ms, 0)"

const char *
store_page_state_name(enum store_page_state state)
{
	return (unsigned)state < STORE_PAGE_STATE_COUNT ?
	    page_state_names[state] : "?";
}

void
store_page_counts_of(GPtrArray *pages, struct store_page_counts *out)
{
	const struct store_page	*page;
	guint			 i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < pages->len; i++) {
		page = g_ptr_array_index(pages, i);
		if (page->state == STORE_PAGE_SENDING ||
		    page->state == STORE_PAGE_SENT ||
		    page->state == STORE_PAGE_UNKNOWN)
			out->sent++;
		else if (page->state == STORE_PAGE_CAPPED)
			out->capped++;
	}
}

static enum store_page_state
page_state_parse(const char *name)
{
	int	i;

	for (i = 0; i < STORE_PAGE_STATE_COUNT; i++)
		if (name != NULL && strcmp(name, page_state_names[i]) == 0)
			return (enum store_page_state)i;
	return STORE_PAGE_UNKNOWN;
}

static void
store_page_read(sqlite3_stmt *stmt, struct store_page *out)
{
	const char	*channel;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(stmt, 0);
	out->incident_id = sqlite3_column_int64(stmt, 1);
	out->round = sqlite3_column_int(stmt, 2);
	out->member = store_column_strdup(stmt, 3);
	channel = (const char *)sqlite3_column_text(stmt, 4);
	out->channel = (channel != NULL && strcmp(channel, "sms") == 0) ?
	    NOTIFY_CHANNEL_SMS : NOTIFY_CHANNEL_VOICE;
	out->to = store_column_strdup(stmt, 5);
	out->state = page_state_parse((const char *)sqlite3_column_text(stmt,
	    6));
	out->attempts = sqlite3_column_int(stmt, 7);
	out->created_ms = sqlite3_column_int64(stmt, 8);
	out->sent_ms = sqlite3_column_int64(stmt, 9);
	out->sid = store_column_strdup(stmt, 10);
	out->provider_status = store_column_strdup(stmt, 11);
	out->status_ms = sqlite3_column_int64(stmt, 12);
	out->error = store_column_strdup(stmt, 13);
	out->provider = store_column_strdup(stmt, 14);
	out->resent_ms = sqlite3_column_int64(stmt, 15);
}

void
store_page_fini(struct store_page *page)
{
	g_free(page->member);
	g_free(page->to);
	g_free(page->sid);
	g_free(page->provider_status);
	g_free(page->error);
	g_free(page->provider);
	memset(page, 0, sizeof(*page));
}

void
store_page_free(struct store_page *page)
{
	if (page == NULL)
		return;
	store_page_fini(page);
	g_free(page);
}

static GPtrArray *
store_pages_query(struct store *store, sqlite3_stmt *stmt)
{
	struct store_page	*page;
	GPtrArray		*list;
	int			 rc;

	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func((GDestroyNotify)store_page_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		page = g_new0(struct store_page, 1);
		store_page_read(stmt, page);
		g_ptr_array_add(list, page);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		log_errorx("store: listing pages failed error=\"%s\"",
		    sqlite3_errmsg(store->db));
		g_ptr_array_free(list, TRUE);
		return NULL;
	}
	return list;
}

GPtrArray *
store_pages_in_state(struct store *store, enum store_page_state state)
{
	return store_pages_query(store, store_prepare(store, "SELECT "
	    PAGE_COLUMNS " FROM pages WHERE state = ? ORDER BY id", "s",
	    store_page_state_name(state)));
}

GPtrArray *
store_pages_of_incident(struct store *store, int64_t incident_id)
{
	return store_pages_query(store, store_prepare(store, "SELECT "
	    PAGE_COLUMNS " FROM pages WHERE incident = ? ORDER BY id", "i",
	    incident_id));
}

static int
store_page_get_where(struct store *store, const char *sql, const char *types,
    int64_t id, const char *sid, struct store_page *out)
{
	sqlite3_stmt	*stmt;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	stmt = sid != NULL ? store_prepare(store, sql, types, sid) :
	    store_prepare(store, sql, types, id);
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		store_page_read(stmt, out);
		rc = 0;
	}
	store_finish(store, stmt);
	return rc;
}

int
store_page_get(struct store *store, int64_t id, struct store_page *out)
{
	return store_page_get_where(store, "SELECT " PAGE_COLUMNS " FROM "
	    "pages WHERE id = ?", "i", id, NULL, out);
}

int
store_page_by_sid(struct store *store, const char *sid, struct store_page *out)
{
	return store_page_get_where(store, "SELECT " PAGE_COLUMNS " FROM "
	    "pages WHERE sid = ?", "s", 0, sid, out);
}

GPtrArray *
store_pages_by_sid(struct store *store, const char *sid)
{
	return store_pages_query(store, store_prepare(store, "SELECT "
	    PAGE_COLUMNS " FROM pages WHERE sid = ? ORDER BY id", "s", sid));
}

int
store_round_create(struct store *store, int64_t incident_id, int round,
    const struct cfg *cfg, int64_t now_ms)
{
	char	*detail;
	size_t	 i;
	int	 ch, created = 0;

	if (store_begin(store) == -1)
		return -1;
	for (i = 0; i < cfg->n_team; i++) {
		for (ch = 0; ch < NOTIFY_CHANNEL_COUNT &&
		    cfg->team[i].phone != NULL; ch++) {
			if (store_exec(store, "INSERT OR IGNORE INTO pages "
			    "(incident, round, member, channel, to_number, "
			    "state, created_ms) VALUES (?, ?, ?, ?, ?, "
			    "'pending', ?)", "iisssi", incident_id,
			    (int64_t)round, cfg->team[i].name,
			    notify_channel_name((enum notify_channel)ch),
			    cfg->team[i].phone, now_ms) == -1)
				goto fail;
			created += sqlite3_changes(store->db);
		}
	}
	if (created > 0) {
		detail = g_strdup_printf("round=%d pages=%d", round, created);
		if (store_event_add(store, incident_id, 0, "round", detail,
		    now_ms) == -1) {
			g_free(detail);
			goto fail;
		}
		g_free(detail);
	}
	if (store_commit(store) == -1)
		goto fail;
	return created;
fail:
	store_rollback(store);
	return -1;
}

int
store_round_fire(struct store *store, int64_t incident_id, int round,
    const struct store_page_want *wants, size_t n_wants, const char *detail,
    int64_t now_ms)
{
	size_t	i;
	int	created = 0;

	if (store_begin(store) == -1)
		return -1;
	if (round > 0 && store_exec(store, "UPDATE incidents SET last_round "
	    "= max(last_round, ?) WHERE id = ?", "ii", (int64_t)round,
	    incident_id) == -1)
		goto fail;
	for (i = 0; i < n_wants; i++) {
		if (store_exec(store, "INSERT OR IGNORE INTO pages (incident, "
		    "round, member, channel, to_number, state, created_ms) "
		    "VALUES (?, ?, ?, ?, ?, 'pending', ?)", "iisssi",
		    incident_id, (int64_t)round, wants[i].member,
		    notify_channel_name(wants[i].channel), wants[i].phone,
		    now_ms) == -1)
			goto fail;
		created += sqlite3_changes(store->db);
	}
	if (store_event_add(store, incident_id, 0, round > 0 ? "round" :
	    "breach-round", detail, now_ms) == -1 ||
	    store_commit(store) == -1)
		goto fail;
	return created;
fail:
	store_rollback(store);
	return -1;
}

int
store_round_last(struct store *store, int64_t incident_id)
{
	return (int)store_query_int(store, 0, "SELECT max(last_round, "
	    "(SELECT coalesce(max(round), 0) FROM pages WHERE incident = ?)) "
	    "FROM incidents WHERE id = ?", "ii", incident_id, incident_id);
}

int
store_breach_add(struct store *store, int64_t incident_id, int64_t percent,
    int64_t now_ms)
{
	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, "INSERT OR IGNORE INTO breaches (incident, "
	    "percent, at_ms) VALUES (?, ?, ?)", "iii", incident_id, percent,
	    now_ms) == -1)
		goto fail;
	if (sqlite3_changes(store->db) == 0) {
		store_rollback(store);
		return 0;
	}
	return store_event_commit(store, incident_id, "breach",
	    g_strdup_printf("percent=%" G_GINT64_FORMAT, percent), now_ms);
fail:
	store_rollback(store);
	return -1;
}

int64_t
store_breach_last(struct store *store, int64_t incident_id)
{
	return store_query_int(store, 0, "SELECT coalesce(max(percent), 0) "
	    "FROM breaches WHERE incident = ?", "i", incident_id);
}

/* Moves one page to state and records the event, in one transaction. */
static int
store_page_move(struct store *store, int64_t page_id, const char *sql,
    const char *types, const char *text, int64_t now_ms, const char *kind)
{
	int64_t	incident;

	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, sql, types, text, now_ms, page_id) == -1)
		goto fail;
	incident = store_query_int(store, -1, "SELECT incident FROM pages "
	    "WHERE id = ?", "i", page_id);
	if (incident <= 0)
		goto fail;
	if (store_event_add(store, incident, page_id, kind, text,
	    now_ms) == -1)
		goto fail;
	if (store_commit(store) == -1)
		goto fail;
	return 0;
fail:
	store_rollback(store);
	return -1;
}

int
store_page_sending(struct store *store, int64_t page_id, int64_t request)
{
	return store_exec(store, "UPDATE pages SET state = 'sending', "
	    "attempts = attempts + 1, request = ? WHERE id = ?", "ii",
	    request, page_id);
}

int
store_page_sent(struct store *store, int64_t page_id, const char *sid,
    int64_t now_ms)
{
	/* A request of its own, counted by its sid again. */
	return store_page_move(store, page_id, "UPDATE pages SET state = "
	    "'sent', sid = ?, sent_ms = ?, found_ms = NULL WHERE id = ?",
	    "sii", sid, now_ms, "sent");
}

int
store_page_found_sent(struct store *store, int64_t page_id, const char *sid,
    int64_t now_ms)
{
	int	n;

	if (store_begin(store) == -1)
		return -1;
	/* The request left before the stop; sent_ms is when critgate
	 * learnt it.  It goes on counting toward the page limits as a
	 * request in flight at the stop: the status may name any of the
	 * requests that carried the page. */
	if (store_exec(store, "UPDATE pages SET state = 'sent', sid = ?, "
	    "sent_ms = ?2, found_ms = ?2 WHERE id = ? AND state = 'unknown' "
	    "AND sid IS NULL", "sii", sid, now_ms, page_id) == -1)
		goto fail;
	n = sqlite3_changes(store->db);
	if (n > 0 && store_exec(store, "INSERT INTO events (incident, page, "
	    "at_ms, kind, detail) SELECT incident, id, ?, 'sent', ? || ' (named "
	    "by a status after the daemon stopped)' FROM pages WHERE id = ?",
	    "isi", now_ms, sid, page_id) == -1)
		goto fail;
	if (store_commit(store) == -1)
		goto fail;
	return n > 0 ? 1 : 0;
fail:
	store_rollback(store);
	return -1;
}

int
store_page_retry(struct store *store, int64_t page_id, const char *error,
    int64_t now_ms)
{
	return store_page_move(store, page_id, "UPDATE pages SET state = "
	    "'pending', error = ?, status_ms = ? WHERE id = ?", "sii", error,
	    now_ms, "retry");
}

int
store_page_failed(struct store *store, int64_t page_id, const char *error,
    int64_t now_ms)
{
	return store_page_move(store, page_id, "UPDATE pages SET state = "
	    "'failed', error = ?, status_ms = ? WHERE id = ?", "sii", error,
	    now_ms, "failed");
}

int
store_page_provider_set(struct store *store, int64_t page_id,
    const char *provider)
{
	return store_exec(store, "UPDATE pages SET provider = ? WHERE id = ?",
	    "si", provider, page_id);
}

int
store_page_requeue(struct store *store, int64_t page_id, const char *error,
    int64_t now_ms)
{
	if (store_begin(store) == -1)
		return -1;
	/*
	 * The provider took the request, and the member's phone may have
	 * rung: it goes on counting from when it was sent, once for all the
	 * pages of a bundle, unless it already counts as in flight at a stop.
	 */
	if (store_exec(store, "INSERT INTO past_requests (member, channel, "
	    "request, at_ms) SELECT member, channel, coalesce(request, id), "
	    "sent_ms FROM pages p WHERE id = ? AND sent_ms IS NOT NULL AND "
	    "found_ms IS NULL AND NOT EXISTS (SELECT 1 FROM past_requests r "
	    "WHERE r.member = p.member AND r.channel = p.channel AND "
	    "r.request = coalesce(p.request, p.id) AND r.at_ms = p.sent_ms)",
	    "i", page_id) == -1 ||
	    store_page_move(store, page_id, "UPDATE pages SET state = "
	    "'pending', sid = NULL, sent_ms = NULL, provider_status = NULL, "
	    "provider_rank = -1, error = ?, status_ms = ? WHERE id = ?", "sii",
	    error, now_ms, "failover") == -1) {
		store_rollback(store);
		return -1;
	}
	return store_commit(store);
}

/* Whether member ?1 is done with the incident whose id inc selects. */
#define MEMBER_IS_DONE(inc)						\
	"EXISTS (SELECT 1 FROM incidents i WHERE i.id = " inc " AND "	\
	"i.acked_ms IS NOT NULL AND (i.multi_paging = 0 OR EXISTS "	\
	"(SELECT 1 FROM member_acks a WHERE a.incident = i.id AND "	\
	"a.member = ?1)))"

int64_t
store_page_requests_since(struct store *store, const char *member,
    enum notify_channel channel, int64_t since_ms)
{
	/*
	 * A page accepted without a readable sid is identified by when it
	 * was accepted.  The requests no page names any more (in flight at
	 * a stop, or taken before a failover) count from past_requests,
	 * once however many pages they bundled, by their first page.  A
	 * request about an incident the member is done with (acknowledged,
	 * and not paging on under multi_ack, or acknowledged by the member)
	 * counts no more, so that it never keeps a new incident from the
	 * member's phone.
	 */
	return store_query_int(store, -1, "SELECT (SELECT count(DISTINCT "
	    "coalesce(p.sid, 'at:' || p.sent_ms)) FROM pages p WHERE "
	    "p.member = ?1 AND p.channel = ?2 AND p.sent_ms > ?3 AND "
	    "p.found_ms IS NULL AND NOT " MEMBER_IS_DONE("p.incident") ") + "
	    "(SELECT count(*) FROM past_requests r WHERE r.member = ?1 AND "
	    "r.channel = ?2 AND r.at_ms > ?3 AND NOT "
	    MEMBER_IS_DONE("(SELECT incident FROM pages WHERE id = "
	    "r.request)") ")", "ssi", member, notify_channel_name(channel),
	    since_ms);
}

int
store_page_capped(struct store *store, int64_t page_id, const char *detail,
    int64_t now_ms)
{
	return store_page_move(store, page_id, "UPDATE pages SET state = "
	    "'capped', error = ?, status_ms = ? WHERE id = ? AND state = "
	    "'pending'", "sii", detail, now_ms, "capped");
}

int
store_page_canceled(struct store *store, int64_t page_id, const char *detail,
    int64_t now_ms)
{
	return store_page_move(store, page_id, "UPDATE pages SET state = "
	    "'canceled', error = ?, status_ms = ? WHERE id = ? AND state = "
	    "'pending'", "sii", detail, now_ms, "canceled");
}

int
store_page_readdressed(struct store *store, int64_t page_id, const char *to,
    const char *detail, int64_t now_ms)
{
	int64_t	incident;

	if (store_begin(store) == -1)
		return -1;
	incident = store_query_int(store, -1, "SELECT incident FROM pages "
	    "WHERE id = ?", "i", page_id);
	if (incident > 0 && store_exec(store, "UPDATE pages SET to_number = ? "
	    "WHERE id = ?", "si", to, page_id) == 0 &&
	    store_event_add(store, incident, page_id, "readdressed", detail,
	    now_ms) == 0 && store_commit(store) == 0)
		return 0;
	store_rollback(store);
	return -1;
}

int
store_pages_orphaned(struct store *store, int64_t now_ms)
{
	int	n;

	if (store_begin(store) == -1)
		return -1;
	/* Pages sent before requests were recorded count as one request
	 * for each member and channel. */
	if (store_exec(store, "INSERT INTO past_requests (member, channel, "
	    "request, at_ms) SELECT member, channel, coalesce(request, "
	    "min(id)), ? FROM pages WHERE state = 'sending' GROUP BY member, "
	    "channel, request", "i", now_ms) == -1)
		goto fail;
	if (store_exec(store, "INSERT INTO events (incident, page, at_ms, "
	    "kind, detail) SELECT incident, id, ?, 'unknown', 'being sent "
	    "when the daemon stopped; the request may not have left' FROM "
	    "pages WHERE state = 'sending'", "i", now_ms) == -1)
		goto fail;
	if (store_exec(store, "UPDATE pages SET state = 'unknown', status_ms "
	    "= ? WHERE state = 'sending'", "i", now_ms) == -1)
		goto fail;
	n = sqlite3_changes(store->db);
	if (store_commit(store) == -1)
		goto fail;
	return n;
fail:
	store_rollback(store);
	return -1;
}

/*
 * The pages that store_pages_resend_unknown sends again; parameter ?1 is
 * before_ms.  Those that an earlier start found unknown are among them:
 * that start may have stopped before it sent them again.
 */
#define UNKNOWN_TO_RESEND						\
	"state = 'unknown' AND sid IS NULL AND status_ms <= ?1 AND "	\
	"incident IN (SELECT id FROM incidents WHERE resolved_ms IS NULL "\
	"AND (acked_ms IS NULL OR multi_paging = 1)) AND NOT EXISTS "	\
	"(SELECT 1 FROM member_acks a WHERE a.incident = pages.incident "\
	"AND a.member = pages.member) AND NOT EXISTS (SELECT 1 FROM pages "\
	"p WHERE p.incident = pages.incident AND p.member = pages.member "\
	"AND p.channel = pages.channel AND p.round > pages.round)"

int
store_pages_resend_unknown(struct store *store, int64_t before_ms,
    const char *detail, int64_t now_ms)
{
	int	n;

	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, "INSERT INTO events (incident, page, at_ms, "
	    "kind, detail) SELECT incident, id, ?2, 'resend', ?3 FROM pages "
	    "WHERE " UNKNOWN_TO_RESEND, "iis", before_ms, now_ms,
	    detail) == -1)
		goto fail;
	/* The page goes to the first provider again, because a pending page
	 * that names a provider goes to the one after it. */
	if (store_exec(store, "UPDATE pages SET state = 'pending', provider = "
	    "NULL, status_ms = ?2, resent_ms = ?2 WHERE " UNKNOWN_TO_RESEND,
	    "ii", before_ms, now_ms) == -1)
		goto fail;
	n = sqlite3_changes(store->db);
	if (store_commit(store) == -1)
		goto fail;
	return n;
fail:
	store_rollback(store);
	return -1;
}

/* Records one status on one page; 1 when recorded, 0 when the page has a
 * later status already, -1 on failure.  Inside the caller's transaction. */
static int
store_page_status_one(struct store *store, int64_t page_id,
    const char *status, int rank, const char *error, int64_t now_ms)
{
	char	*detail;
	int64_t	 incident;
	int	 rc;

	if (store_exec(store, "UPDATE pages SET provider_status = ?, "
	    "provider_rank = ?, status_ms = ?, error = coalesce(?, error) "
	    "WHERE id = ? AND provider_rank < ?", "siisii", status,
	    (int64_t)rank, now_ms, error, page_id, (int64_t)rank) == -1)
		return -1;
	if (sqlite3_changes(store->db) == 0)
		/* An earlier status arrived after a later one: keep the
		 * later, as callbacks are not ordered. */
		return 0;
	incident = store_query_int(store, -1, "SELECT incident FROM pages "
	    "WHERE id = ?", "i", page_id);
	detail = error != NULL ? g_strdup_printf("%s error=%s", status,
	    error) : g_strdup(status);
	rc = store_event_add(store, incident, page_id, "status", detail,
	    now_ms);
	g_free(detail);
	return rc == -1 ? -1 : 1;
}

int
store_page_status(struct store *store, const char *sid, const char *status,
    int rank, const char *error, int64_t now_ms, int64_t *page_id,
    int64_t *incident_id)
{
	struct store_page	*page;
	GPtrArray		*pages;
	guint			 i;
	bool			 is_recorded = false;
	int			 rc = -1, one;

	*page_id = 0;
	*incident_id = 0;
	pages = store_pages_by_sid(store, sid);
	if (pages == NULL)
		return -1;
	if (pages->len == 0) {
		rc = 0;
		goto out;
	}
	if (store_begin(store) == -1)
		goto out;
	for (i = 0; i < pages->len; i++) {
		page = g_ptr_array_index(pages, i);
		one = store_page_status_one(store, page->id, status, rank,
		    error, now_ms);
		if (one == -1)
			break;
		if (one == 1)
			is_recorded = true;
	}
	if (i < pages->len || store_commit(store) == -1) {
		store_rollback(store);
		goto out;
	}
	page = g_ptr_array_index(pages, 0);
	*page_id = page->id;
	*incident_id = page->incident_id;
	rc = is_recorded ? 1 : 0;
out:
	g_ptr_array_free(pages, TRUE);
	return rc;
}
