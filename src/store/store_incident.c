/* SPDX-License-Identifier: ISC */
/*
 * The store stage's incidents and their timelines: loading, the first
 * acknowledgement (which alone stops the paging), and the events that make
 * up what "critgate show" prints.
 */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "store_priv.h"

#define INCIDENT_COLUMNS						\
	"i.id, i.severity, i.subject, i.reporter, i.message, i.opened_ms, "\
	"i.ack_deadline_ms, coalesce(i.acked_ms, 0), i.acked_by, "	\
	"i.acked_channel, i.ack_note, i.message_count, i.repeats, "	\
	"i.latest_subject, "						\
	"coalesce(i.resolved_ms, 0), i.resolved_by, i.multi_paging, "	\
	"coalesce(i.analysed_ms, 0), i.analysed_by, "			\
	"coalesce(i.fix_due_ms, 0), coalesce(i.fixed_ms, 0), i.fixed_by"
/* How many columns INCIDENT_COLUMNS names. */
#define INCIDENT_COLUMN_COUNT	22

static void
store_incident_read(sqlite3_stmt *stmt, struct store_incident *out)
{
	const char	*severity;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(stmt, 0);
	severity = (const char *)sqlite3_column_text(stmt, 1);
	if (severity == NULL || cfg_severity_parse(severity,
	    &out->severity) == -1)
		out->severity = CFG_SEVERITY_CRITICAL;
	out->subject = store_column_strdup(stmt, 2);
	out->reporter = store_column_strdup(stmt, 3);
	out->message_id = sqlite3_column_int64(stmt, 4);
	out->opened_ms = sqlite3_column_int64(stmt, 5);
	out->ack_deadline_ms = sqlite3_column_int64(stmt, 6);
	out->acked_ms = sqlite3_column_int64(stmt, 7);
	out->acked_by = store_column_strdup(stmt, 8);
	out->acked_channel = store_column_strdup(stmt, 9);
	out->ack_note = store_column_strdup(stmt, 10);
	out->messages = sqlite3_column_int64(stmt, 11);
	out->repeats = sqlite3_column_int64(stmt, 12);
	out->latest_subject = store_column_strdup(stmt, 13);
	out->resolved_ms = sqlite3_column_int64(stmt, 14);
	out->resolved_by = store_column_strdup(stmt, 15);
	out->is_multi_paging = sqlite3_column_int(stmt, 16) != 0;
	out->analysed_ms = sqlite3_column_int64(stmt, 17);
	out->analysed_by = store_column_strdup(stmt, 18);
	out->fix_due_ms = sqlite3_column_int64(stmt, 19);
	out->fixed_ms = sqlite3_column_int64(stmt, 20);
	out->fixed_by = store_column_strdup(stmt, 21);
}

int
store_incident_get(struct store *store, int64_t id, struct store_incident *out)
{
	sqlite3_stmt	*stmt;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	stmt = store_prepare(store, "SELECT " INCIDENT_COLUMNS " FROM "
	    "incidents i WHERE i.id = ?", "i", id);
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		store_incident_read(stmt, out);
		rc = 0;
	}
	store_finish(store, stmt);
	return rc;
}

static GPtrArray *
store_incidents_query(struct store *store, sqlite3_stmt *stmt)
{
	struct store_incident	*inc;
	GPtrArray		*list;
	int			 rc;

	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)store_incident_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		inc = g_new0(struct store_incident, 1);
		store_incident_read(stmt, inc);
		g_ptr_array_add(list, inc);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		log_errorx("store: listing incidents failed error=\"%s\"",
		    sqlite3_errmsg(store->db));
		g_ptr_array_free(list, TRUE);
		return NULL;
	}
	return list;
}

GPtrArray *
store_incidents_list(struct store *store, bool only_open)
{
	return store_incidents_query(store, store_prepare(store, only_open ?
	    "SELECT " INCIDENT_COLUMNS " FROM incidents i WHERE i.acked_ms "
	    "IS NULL ORDER BY i.id" :
	    "SELECT " INCIDENT_COLUMNS " FROM incidents i ORDER BY i.id", ""));
}

GPtrArray *
store_incidents_paging(struct store *store)
{
	return store_incidents_query(store, store_prepare(store,
	    "SELECT " INCIDENT_COLUMNS " FROM incidents i WHERE i.acked_ms "
	    "IS NULL UNION ALL SELECT " INCIDENT_COLUMNS " FROM incidents i "
	    "WHERE i.multi_paging = 1 AND i.acked_ms IS NOT NULL AND "
	    "i.resolved_ms IS NULL ORDER BY 1", ""));
}

int64_t
store_incidents_each(struct store *store, int64_t limit,
    store_incident_fn fn, void *ctx)
{
	struct store_incident	 inc;
	struct store_page_counts pages;
	sqlite3_stmt		*stmt;
	int64_t			 first, n = 0;
	int			 rc;

	/* The primary key finds the oldest of the latest limit on any size
	 * of store; the rows from it on are read in order. */
	first = store_query_int(store, 0, "SELECT id FROM incidents ORDER BY "
	    "id DESC LIMIT 1 OFFSET ?", "i", limit - 1);
	if (first < 0)
		return -1;
	stmt = store_prepare(store, "SELECT " INCIDENT_COLUMNS ", "
	    "(SELECT count(*) FROM pages p WHERE p.incident = i.id AND "
	    "p.state IN ('sending', 'sent', 'unknown')), "
	    "(SELECT count(*) FROM pages p WHERE p.incident = i.id AND "
	    "p.state = 'capped') "
	    "FROM incidents i WHERE i.id >= ? ORDER BY i.id LIMIT ?", "ii",
	    first, limit);
	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		store_incident_read(stmt, &inc);
		pages.sent = sqlite3_column_int64(stmt, INCIDENT_COLUMN_COUNT);
		pages.capped = sqlite3_column_int64(stmt,
		    INCIDENT_COLUMN_COUNT + 1);
		fn(&inc, &pages, ctx);
		store_incident_fini(&inc);
		n++;
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		log_errorx("store: listing incidents failed error=\"%s\"",
		    sqlite3_errmsg(store->db));
		return -1;
	}
	return n;
}

GPtrArray *
store_incidents_paging_member(struct store *store, const char *member)
{
	return store_incidents_query(store, store_prepare(store,
	    "SELECT " INCIDENT_COLUMNS " FROM incidents i WHERE i.acked_ms "
	    "IS NULL AND EXISTS (SELECT 1 FROM pages p WHERE p.incident = "
	    "i.id AND p.member = ? AND p.state IN ('sending', 'sent', "
	    "'unknown')) ORDER BY i.id", "s", member));
}

void
store_incident_fini(struct store_incident *inc)
{
	g_free(inc->subject);
	g_free(inc->reporter);
	g_free(inc->acked_by);
	g_free(inc->acked_channel);
	g_free(inc->ack_note);
	g_free(inc->latest_subject);
	g_free(inc->resolved_by);
	g_free(inc->analysed_by);
	g_free(inc->fixed_by);
	memset(inc, 0, sizeof(*inc));
}

void
store_incident_free(struct store_incident *inc)
{
	if (inc == NULL)
		return;
	store_incident_fini(inc);
	g_free(inc);
}

int
store_incident_ack(struct store *store, int64_t id, const char *member,
    const char *channel, const char *note, int64_t now_ms)
{
	char	*detail;
	int	 changed;

	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, "UPDATE incidents SET acked_ms = ?, acked_by = "
	    "?, acked_channel = ?, ack_note = ? WHERE id = ? AND acked_ms IS "
	    "NULL", "isssi", now_ms, member, channel, note, id) == -1)
		goto fail;
	changed = sqlite3_changes(store->db);
	if (changed == 0) {
		store_rollback(store);
		return 0;
	}
	detail = g_strdup_printf("by=%s channel=%s", member, channel);
	if (store_event_add(store, id, 0, "acknowledged", detail,
	    now_ms) == -1) {
		g_free(detail);
		goto fail;
	}
	g_free(detail);
	/* Under multi_ack the others' pages still go out. */
	if (store_exec(store, "UPDATE pages SET state = 'canceled' WHERE "
	    "incident = ? AND state = 'pending' AND ((SELECT multi_paging "
	    "FROM incidents WHERE id = ?) = 0 OR member = ?)", "iis", id, id,
	    member) == -1)
		goto fail;
	if (store_commit(store) == -1)
		goto fail;
	return 1;
fail:
	store_rollback(store);
	return -1;
}

int
store_incident_resolve(struct store *store, int64_t id, const char *member,
    const char *channel, int64_t now_ms)
{
	if (store_begin(store) == -1)
		return -1;
	if (store_incident_ack(store, id, member, channel, "resolved",
	    now_ms) == -1 ||
	    store_exec(store, "UPDATE incidents SET resolved_ms = ?, "
	    "resolved_by = ? WHERE id = ? AND resolved_ms IS NULL", "isi",
	    now_ms, member, id) == -1)
		goto fail;
	if (sqlite3_changes(store->db) == 0) {
		store_rollback(store);
		return 0;
	}
	return store_event_commit(store, id, "resolved",
	    g_strdup_printf("by=%s channel=%s", member, channel), now_ms);
fail:
	store_rollback(store);
	return -1;
}

/*
 * Records a milestone of incident id once: fills column_ms and column_by
 * while they are empty, sets fix_due_ms unless it is 0, and adds the
 * event kind.
 */
static int
incident_milestone(struct store *store, int64_t id, const char *column,
    const char *kind, const char *member, int64_t fix_due_ms, int64_t now_ms)
{
	char	 sql[160], buf[CLOCK_RFC3339_LEN], *detail;

	g_snprintf(sql, sizeof(sql), "UPDATE incidents SET %s_ms = ?, %s_by = "
	    "?, fix_due_ms = coalesce(nullif(?, 0), fix_due_ms) WHERE id = ? "
	    "AND %s_ms IS NULL", column, column, column);
	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, sql, "isii", now_ms, member, fix_due_ms,
	    id) == -1)
		goto fail;
	if (sqlite3_changes(store->db) == 0) {
		store_rollback(store);
		return 0;
	}
	if (fix_due_ms != 0)
		detail = g_strdup_printf("by=%s fix_due=%s", member,
		    clock_format(fix_due_ms, buf));
	else
		detail = g_strdup_printf("by=%s", member);
	return store_event_commit(store, id, kind, detail, now_ms);
fail:
	store_rollback(store);
	return -1;
}

int
store_incident_analysed(struct store *store, int64_t id, const char *member,
    int64_t fix_due_ms, int64_t now_ms)
{
	return incident_milestone(store, id, "analysed", "analysed", member,
	    fix_due_ms, now_ms);
}

int
store_incident_fixed(struct store *store, int64_t id, const char *member,
    int64_t now_ms)
{
	return incident_milestone(store, id, "fixed", "fix-deployed", member,
	    0, now_ms);
}

/* Marks the fix of incident id overdue, in the caller's transaction. */
static int
fix_overdue_mark_one(struct store *store, int64_t id, int64_t now_ms)
{
	if (store_exec(store, "UPDATE incidents SET fix_overdue_ms = ? WHERE "
	    "id = ?", "ii", now_ms, id) == -1)
		return -1;
	return store_event_add(store, id, 0, "fix-overdue", NULL, now_ms);
}

GArray *
store_fixes_overdue_mark(struct store *store, int64_t now_ms,
    store_overdue_fn each, void *ctx)
{
	sqlite3_stmt	*stmt;
	GArray		*due, *ids;
	int64_t		 id;
	guint		 i;
	int		 rc;

	due = g_array_new(FALSE, FALSE, sizeof(int64_t));
	ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	if (store_begin(store) == -1)
		goto fail;
	stmt = store_prepare(store, "SELECT id FROM incidents WHERE "
	    "fix_due_ms < ? AND fix_due_ms IS NOT NULL AND fixed_ms IS NULL "
	    "AND fix_overdue_ms IS NULL ORDER BY id", "i", now_ms);
	if (stmt == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		id = sqlite3_column_int64(stmt, 0);
		g_array_append_val(due, id);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE)
		goto fail;
	/*
	 * Each incident in a savepoint of its own: whatever each records
	 * commits together with the mark, and when it fails, that incident
	 * stays unmarked for the next call while the others are marked.
	 */
	for (i = 0; i < due->len; i++) {
		id = g_array_index(due, int64_t, i);
		if (store_begin(store) == -1)
			goto fail;
		if (fix_overdue_mark_one(store, id, now_ms) == -1 ||
		    (each != NULL && each(ctx, id) == -1)) {
			store_rollback(store);
			log_warnx("store: marking the overdue fix failed inc=%"
			    PRId64 "; the next tick tries again", id);
			continue;
		}
		if (store_commit(store) == -1)
			goto fail;
		g_array_append_val(ids, id);
	}
	if (store_commit(store) == -1)
		goto fail;
	g_array_free(due, TRUE);
	return ids;
fail:
	store_rollback(store);
	g_array_free(due, TRUE);
	g_array_free(ids, TRUE);
	return NULL;
}

int
store_incident_raise(struct store *store, int64_t id,
    enum cfg_severity severity, int64_t ack_deadline_ms, int64_t now_ms)
{
	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, "UPDATE incidents SET severity = ?, "
	    "ack_deadline_ms = min(ack_deadline_ms, ?) WHERE id = ?", "sii",
	    cfg_severity_name(severity), ack_deadline_ms, id) == -1 ||
	    store_event_add(store, id, 0, "raised",
	    cfg_severity_name(severity), now_ms) == -1 ||
	    store_commit(store) == -1) {
		store_rollback(store);
		return -1;
	}
	return 0;
}

int
store_event_add(struct store *store, int64_t incident_id, int64_t page_id,
    const char *kind, const char *detail, int64_t now_ms)
{
	return store_exec(store, "INSERT INTO events (incident, page, at_ms, "
	    "kind, detail) VALUES (?, nullif(?, 0), ?, ?, ?)", "iiiss",
	    incident_id, page_id, now_ms, kind, detail);
}

int
store_event_add_unless_recent(struct store *store, int64_t incident_id,
    const char *kind, const char *detail, int64_t now_ms, int64_t window_ms)
{
	if (store_exec(store, "INSERT INTO events (incident, page, at_ms, "
	    "kind, detail) SELECT ?1, NULL, ?2, ?3, ?4 WHERE NOT EXISTS "
	    "(SELECT 1 FROM events WHERE incident = ?1 AND kind = ?3 AND "
	    "detail = ?4 AND at_ms > ?5)", "iissi", incident_id, now_ms, kind,
	    detail, now_ms - window_ms) == -1)
		return -1;
	return sqlite3_changes(store->db) > 0 ? 1 : 0;
}

int
store_command_events(struct store *store, int64_t *last_id,
    store_command_event_fn fn, void *ctx)
{
	sqlite3_stmt	*stmt;
	int64_t		 newest;
	int		 rc = SQLITE_DONE;

	newest = store_query_int(store, 0, "SELECT max(id) FROM events", "");
	if (newest < 0)
		return -1;
	if (*last_id >= 0 && newest > *last_id) {
		/* Analysed and fix-deployed come from commands only.
		 * Acknowledged and resolved name their channel. */
		stmt = store_prepare(store, "SELECT incident, kind, detail "
		    "FROM events WHERE id > ? AND id <= ? AND (kind IN "
		    "('analysed', 'fix-deployed') OR (kind IN ('acknowledged', "
		    "'resolved') AND detail LIKE '% channel=cli')) ORDER BY "
		    "id", "ii", *last_id, newest);
		if (stmt == NULL)
			return -1;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			fn(sqlite3_column_int64(stmt, 0),
			    (const char *)sqlite3_column_text(stmt, 1),
			    (const char *)sqlite3_column_text(stmt, 2), ctx);
		store_finish(store, stmt);
	}
	if (rc != SQLITE_DONE)
		return -1;
	*last_id = newest;
	return 0;
}

int
store_event_commit(struct store *store, int64_t incident_id,
    const char *kind, char *detail, int64_t now_ms)
{
	int	rc;

	rc = store_event_add(store, incident_id, 0, kind, detail, now_ms);
	g_free(detail);
	if (rc == -1 || store_commit(store) == -1) {
		store_rollback(store);
		return -1;
	}
	return 1;
}

static void
store_event_free(struct store_event *ev)
{
	g_free(ev->kind);
	g_free(ev->detail);
	g_free(ev);
}

GPtrArray *
store_events_of_incident(struct store *store, int64_t incident_id)
{
	struct store_event	*ev;
	sqlite3_stmt		*stmt;
	GPtrArray		*list;
	int			 rc;

	stmt = store_prepare(store, "SELECT at_ms, coalesce(page, 0), kind, "
	    "detail FROM events WHERE incident = ? ORDER BY at_ms, id", "i",
	    incident_id);
	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func((GDestroyNotify)store_event_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		ev = g_new0(struct store_event, 1);
		ev->at_ms = sqlite3_column_int64(stmt, 0);
		ev->page_id = sqlite3_column_int64(stmt, 1);
		ev->kind = store_column_strdup(stmt, 2);
		ev->detail = store_column_strdup(stmt, 3);
		g_ptr_array_add(list, ev);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		g_ptr_array_free(list, TRUE);
		return NULL;
	}
	return list;
}

GPtrArray *
store_report_months(struct store *store, int64_t now_ms)
{
	struct store_month	*m;
	sqlite3_stmt		*stmt;
	GPtrArray		*list;
	const char		*sev;

	stmt = store_prepare(store, "SELECT strftime('%Y-%m', opened_ms / "
	    "1000, 'unixepoch') AS month, severity, count(*), "
	    "sum(acked_ms IS NOT NULL AND acked_ms <= ack_deadline_ms), "
	    "sum(acked_ms IS NULL AND ack_deadline_ms > ?) FROM incidents "
	    "GROUP BY month, severity ORDER BY month, severity", "i", now_ms);
	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func(g_free);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		m = g_new0(struct store_month, 1);
		g_strlcpy(m->month, (const char *)sqlite3_column_text(stmt, 0),
		    sizeof(m->month));
		sev = (const char *)sqlite3_column_text(stmt, 1);
		if (sev == NULL || cfg_severity_parse(sev, &m->severity) == -1)
			m->severity = CFG_SEVERITY_CRITICAL;
		m->count = sqlite3_column_int64(stmt, 2);
		m->met = sqlite3_column_int64(stmt, 3);
		m->running = sqlite3_column_int64(stmt, 4);
		g_ptr_array_add(list, m);
	}
	store_finish(store, stmt);
	return list;
}

GPtrArray *
store_breaches_list(struct store *store)
{
	struct store_breach	*b;
	sqlite3_stmt		*stmt;
	GPtrArray		*list;
	const char		*sev;

	stmt = store_prepare(store, "SELECT b.incident, i.severity, "
	    "b.percent, b.at_ms FROM breaches b JOIN incidents i ON i.id = "
	    "b.incident ORDER BY b.at_ms, b.incident, b.percent", "");
	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func(g_free);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		b = g_new0(struct store_breach, 1);
		b->incident_id = sqlite3_column_int64(stmt, 0);
		sev = (const char *)sqlite3_column_text(stmt, 1);
		if (sev == NULL || cfg_severity_parse(sev, &b->severity) == -1)
			b->severity = CFG_SEVERITY_CRITICAL;
		b->percent = sqlite3_column_int64(stmt, 2);
		b->at_ms = sqlite3_column_int64(stmt, 3);
		g_ptr_array_add(list, b);
	}
	store_finish(store, stmt);
	return list;
}

int
store_member_ack_add(struct store *store, int64_t incident_id,
    const char *member, const char *channel, int64_t now_ms)
{
	char	*detail;
	int	 changed;

	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, "INSERT OR IGNORE INTO member_acks (incident, "
	    "member, at_ms, channel) VALUES (?, ?, ?, ?)", "isis",
	    incident_id, member, now_ms, channel) == -1)
		goto fail;
	changed = sqlite3_changes(store->db);
	if (changed == 0) {
		store_rollback(store);
		return 0;
	}
	detail = g_strdup_printf("by=%s channel=%s", member, channel);
	changed = store_event_add(store, incident_id, 0, "member-ack", detail,
	    now_ms);
	g_free(detail);
	if (changed == -1 || store_exec(store, "UPDATE pages SET state = "
	    "'canceled' WHERE incident = ? AND member = ? AND state = "
	    "'pending'", "is", incident_id, member) == -1 ||
	    store_commit(store) == -1)
		goto fail;
	return 1;
fail:
	store_rollback(store);
	return -1;
}

int
store_member_acked(struct store *store, int64_t incident_id,
    const char *member)
{
	return (int)store_query_int(store, 0, "SELECT count(*) FROM "
	    "member_acks WHERE incident = ? AND member = ?", "is", incident_id,
	    member);
}

int
store_multi_paging_set(struct store *store, int64_t incident_id,
    bool is_paging)
{
	return store_exec(store, "UPDATE incidents SET multi_paging = ? WHERE "
	    "id = ?", "ii", (int64_t)is_paging, incident_id);
}
