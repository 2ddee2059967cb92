/* SPDX-License-Identifier: ISC */
/*
 * The store stage's outbox: each mail critgate sends is a row containing
 * its exact bytes, committed before it goes to the relay.  A row moves from
 * pending to sending to sent or failed; one left sending by a stopped
 * daemon becomes unknown and is not sent again.
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "store_priv.h"

static const char *const mail_state_names[STORE_MAIL_STATE_COUNT] = {
	[STORE_MAIL_PENDING] = "pending",
	[STORE_MAIL_SENDING] = "sending",
	[STORE_MAIL_SENT] = "sent",
	[STORE_MAIL_FAILED] = "failed",
	[STORE_MAIL_UNKNOWN] = "unknown",
};

#define MAIL_COLUMNS							\
	"id, incident, kind, member, rcpt, message_id, state, attempts, "	\
	"created_ms, next_ms, coalesce(sent_ms, 0), reply"

const char *
store_mail_state_name(enum store_mail_state state)
{
	return (unsigned)state < STORE_MAIL_STATE_COUNT ?
	    mail_state_names[state] : "?";
}

static enum store_mail_state
mail_state_parse(const char *name)
{
	int	i;

	for (i = 0; i < STORE_MAIL_STATE_COUNT; i++)
		if (name != NULL && strcmp(name, mail_state_names[i]) == 0)
			return (enum store_mail_state)i;
	return STORE_MAIL_UNKNOWN;
}

static void
store_mail_read(sqlite3_stmt *stmt, struct store_mail *out)
{
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(stmt, 0);
	out->incident_id = sqlite3_column_int64(stmt, 1);
	out->kind = store_column_strdup(stmt, 2);
	out->member = store_column_strdup(stmt, 3);
	out->rcpt = store_column_strdup(stmt, 4);
	out->message_id = store_column_strdup(stmt, 5);
	out->state = mail_state_parse((const char *)sqlite3_column_text(stmt,
	    6));
	out->attempts = sqlite3_column_int(stmt, 7);
	out->created_ms = sqlite3_column_int64(stmt, 8);
	out->next_ms = sqlite3_column_int64(stmt, 9);
	out->sent_ms = sqlite3_column_int64(stmt, 10);
	out->reply = store_column_strdup(stmt, 11);
}

void
store_mail_fini(struct store_mail *mail)
{
	g_free(mail->kind);
	g_free(mail->member);
	g_free(mail->rcpt);
	g_free(mail->message_id);
	g_free(mail->reply);
	if (mail->raw != NULL)
		g_bytes_unref(mail->raw);
	memset(mail, 0, sizeof(*mail));
}

void
store_mail_free(struct store_mail *mail)
{
	if (mail == NULL)
		return;
	store_mail_fini(mail);
	g_free(mail);
}

int64_t
store_mail_next_id(struct store *store)
{
	return store_query_int(store, 1, "SELECT coalesce(max(id), 0) + 1 "
	    "FROM outbox", "");
}

int
store_mail_add(struct store *store, const struct store_mail_new *m,
    int64_t now_ms)
{
	char	*detail;
	int	 rc = -1;

	if (store_begin(store) == -1)
		return -1;
	detail = g_strdup_printf("mail=%" PRId64 " kind=%s to=<%s>", m->id,
	    m->kind, m->rcpt);
	if (store_exec(store, "INSERT INTO outbox (id, incident, kind, member, "
	    "rcpt, message_id, raw, state, created_ms, next_ms) VALUES (?, ?, "
	    "?, ?, ?, ?, ?, 'pending', ?, ?)", "iissssbii", m->id,
	    m->incident_id, m->kind, m->member, m->rcpt, m->message_id, m->raw,
	    m->raw_len, now_ms, now_ms) == -1 ||
	    store_thread_add(store, m->message_id, m->incident_id) == -1 ||
	    store_event_add(store, m->incident_id, 0, "mail-queued", detail,
	    now_ms) == -1)
		goto out;
	rc = store_commit(store);
out:
	if (rc == -1)
		store_rollback(store);
	g_free(detail);
	return rc;
}

GArray *
store_mail_due(struct store *store, int64_t now_ms)
{
	sqlite3_stmt	*stmt;
	GArray		*ids;
	gint64		 id;
	int		 rc;

	stmt = store_prepare(store, "SELECT id FROM outbox WHERE state = "
	    "'pending' AND next_ms <= ? ORDER BY id", "i", now_ms);
	if (stmt == NULL)
		return NULL;
	ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		id = sqlite3_column_int64(stmt, 0);
		g_array_append_val(ids, id);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		g_array_free(ids, TRUE);
		return NULL;
	}
	return ids;
}

int64_t
store_mail_next_due(struct store *store)
{
	return store_query_int(store, 0, "SELECT coalesce(min(next_ms), 0) "
	    "FROM outbox WHERE state = 'pending'", "");
}

int
store_mail_get(struct store *store, int64_t id, struct store_mail *out)
{
	sqlite3_stmt	*stmt;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	stmt = store_prepare(store, "SELECT " MAIL_COLUMNS ", raw FROM outbox "
	    "WHERE id = ?", "i", id);
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		store_mail_read(stmt, out);
		out->raw = g_bytes_new(sqlite3_column_blob(stmt, 12),
		    (gsize)sqlite3_column_bytes(stmt, 12));
		rc = 0;
	}
	store_finish(store, stmt);
	return rc;
}

GPtrArray *
store_mails_of_incident(struct store *store, int64_t incident_id)
{
	struct store_mail	*mail;
	sqlite3_stmt		*stmt;
	GPtrArray		*list;
	int			 rc;

	stmt = store_prepare(store, "SELECT " MAIL_COLUMNS " FROM outbox "
	    "WHERE incident = ? ORDER BY id", "i", incident_id);
	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func((GDestroyNotify)store_mail_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		mail = g_new0(struct store_mail, 1);
		store_mail_read(stmt, mail);
		g_ptr_array_add(list, mail);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		g_ptr_array_free(list, TRUE);
		return NULL;
	}
	return list;
}

int
store_mail_sending(struct store *store, int64_t id)
{
	return store_exec(store, "UPDATE outbox SET state = 'sending', "
	    "attempts = attempts + 1, reached_data = 0 WHERE id = ?", "i", id);
}

int
store_mail_reached_data(struct store *store, int64_t id)
{
	return store_exec(store, "UPDATE outbox SET reached_data = 1 WHERE "
	    "id = ?", "i", id);
}


/* Moves mail id to state with the relay's reply and a timeline event. */
static int
mail_move(struct store *store, int64_t id, const char *state,
    const char *reply, int64_t next_ms, int64_t now_ms)
{
	char	*detail;
	int	 rc = -1;

	if (store_begin(store) == -1)
		return -1;
	detail = g_strdup_printf("mail=%" PRId64 " reply=\"%s\"", id,
	    reply != NULL ? reply : "");
	if (store_exec(store, "UPDATE outbox SET state = ?, reply = ?, "
	    "next_ms = ?, sent_ms = CASE WHEN ? = 'sent' THEN ? ELSE sent_ms "
	    "END WHERE id = ?", "ssisii", state, reply, next_ms, state, now_ms,
	    id) == -1)
		goto out;
	if (store_exec(store, "INSERT INTO events (incident, at_ms, kind, "
	    "detail) SELECT incident, ?, ?, ? FROM outbox WHERE id = ?",
	    "issi", now_ms, strcmp(state, "pending") == 0 ? "mail-retry" :
	    strcmp(state, "sent") == 0 ? "mail-sent" :
	    strcmp(state, "unknown") == 0 ? "mail-unknown" : "mail-failed",
	    detail, id) == -1)
		goto out;
	rc = store_commit(store);
out:
	if (rc == -1)
		store_rollback(store);
	g_free(detail);
	return rc;
}

int
store_mail_sent(struct store *store, int64_t id, const char *reply,
    int64_t now_ms)
{
	return mail_move(store, id, "sent", reply, now_ms, now_ms);
}

int
store_mail_retry(struct store *store, int64_t id, const char *reply,
    int64_t next_ms, int64_t now_ms)
{
	return mail_move(store, id, "pending", reply, next_ms, now_ms);
}

int
store_mail_failed(struct store *store, int64_t id, const char *reply,
    int64_t now_ms)
{
	return mail_move(store, id, "failed", reply, now_ms, now_ms);
}

int
store_mail_unknown(struct store *store, int64_t id, const char *reply,
    int64_t now_ms)
{
	return mail_move(store, id, "unknown", reply, now_ms, now_ms);
}

int
store_mails_orphaned(struct store *store, int64_t now_ms)
{
	int	n;

	if (store_begin(store) == -1)
		return -1;
	/* A body that never left can go again; one that did may have
	 * arrived. */
	if (store_exec(store, "INSERT INTO events (incident, at_ms, kind, "
	    "detail) SELECT incident, ?, 'mail-unknown', 'mail=' || id || "
	    "' body was with the relay when critgate stopped; not sent "
	    "again' FROM outbox WHERE state = 'sending' AND reached_data = 1",
	    "i", now_ms) == -1 ||
	    store_exec(store, "UPDATE outbox SET state = 'pending' WHERE "
	    "state = 'sending' AND reached_data = 0", "") == -1 ||
	    store_exec(store, "UPDATE outbox SET state = 'unknown' WHERE "
	    "state = 'sending'", "") == -1) {
		store_rollback(store);
		return -1;
	}
	n = sqlite3_changes(store->db);
	if (store_commit(store) == -1)
		return -1;
	return n;
}

int64_t
store_mail_count_for(struct store *store, int64_t incident_id,
    const char *kind, const char *rcpt)
{
	return store_query_int(store, 0, "SELECT count(*) FROM outbox WHERE "
	    "incident = ? AND kind = ? AND rcpt = ?", "iss", incident_id, kind,
	    rcpt);
}

int64_t
store_find_incident_mailed_to(struct store *store, const char *rcpt,
    int64_t since_ms, int64_t until_ms)
{
	return store_query_int(store, 0, "SELECT incident FROM outbox WHERE "
	    "rcpt = ? AND created_ms BETWEEN ? AND ? ORDER BY created_ms DESC "
	    "LIMIT 1", "sii", rcpt, since_ms, until_ms);
}

int64_t
store_mail_count_to(struct store *store, const char *rcpt, int64_t since_ms)
{
	return store_query_int(store, 0, "SELECT count(*) FROM outbox WHERE "
	    "rcpt = ? AND created_ms >= ? AND kind IN ('confirmation', "
	    "'joined')", "si", rcpt, since_ms);
}

static void
store_reporter_free(struct store_reporter *rep)
{
	g_free(rep->addr);
	g_free(rep->message_id);
	g_free(rep);
}

GPtrArray *
store_incident_reporters(struct store *store, int64_t incident_id)
{
	struct store_reporter	*rep;
	sqlite3_stmt		*stmt;
	GPtrArray		*list;
	int			 rc;

	/* SQLite takes the other columns from the row of max(id). */
	stmt = store_prepare(store, "SELECT sender, message_id, max(id) FROM "
	    "messages WHERE incident_id = ? AND class IN ('new-incident', "
	    "'update') AND mail_from != '' AND sender IS NOT NULL AND "
	    "is_reporter = 1 GROUP BY sender ORDER BY min(id)", "i",
	    incident_id);
	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)store_reporter_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rep = g_new0(struct store_reporter, 1);
		rep->addr = store_column_strdup(stmt, 0);
		rep->message_id = store_column_strdup(stmt, 1);
		g_ptr_array_add(list, rep);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		g_ptr_array_free(list, TRUE);
		return NULL;
	}
	return list;
}
