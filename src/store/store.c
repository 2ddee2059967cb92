/* SPDX-License-Identifier: ISC */
/*
 * The store stage's handle, schema and statement helpers, and the messages
 * table: raw bytes and envelope committed before the SMTP "250", then the
 * result of parsing and deduplication recorded in one transaction.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "log.h"
#include "store_priv.h"

/*
 * The schema.  user_version tells which statements a file already has; a
 * new version appends statements and never edits old ones.
 */
static const char *const store_schema[] = {
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  received_ms INTEGER NOT NULL,"
	"  peer TEXT NOT NULL,"
	"  helo TEXT,"
	"  mail_from TEXT NOT NULL,"
	"  raw BLOB NOT NULL,"
	"  is_processed INTEGER NOT NULL DEFAULT 0,"
	"  message_id TEXT,"
	"  subject TEXT,"
	"  from_addr TEXT,"
	"  body_text TEXT,"
	"  is_unparseable INTEGER NOT NULL DEFAULT 0,"
	"  class TEXT,"
	"  incident_id INTEGER REFERENCES incidents(id),"
	"  duplicate_of INTEGER REFERENCES messages(id));"
	"CREATE INDEX messages_message_id ON messages(message_id);"
	"CREATE INDEX messages_unprocessed ON messages(is_processed);"
	"CREATE TABLE message_rcpts ("
	"  message INTEGER NOT NULL REFERENCES messages(id),"
	"  address TEXT NOT NULL,"
	"  PRIMARY KEY (message, address));"
	"CREATE TABLE incidents ("
	"  id INTEGER PRIMARY KEY,"
	"  severity TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  reporter TEXT,"
	"  message INTEGER NOT NULL REFERENCES messages(id),"
	"  opened_ms INTEGER NOT NULL,"
	"  ack_deadline_ms INTEGER NOT NULL,"
	"  acked_ms INTEGER,"
	"  acked_by TEXT,"
	"  acked_channel TEXT,"
	"  ack_note TEXT);"
	"CREATE INDEX incidents_open ON incidents(acked_ms);"
	"CREATE TABLE pages ("
	"  id INTEGER PRIMARY KEY,"
	"  incident INTEGER NOT NULL REFERENCES incidents(id),"
	"  round INTEGER NOT NULL,"
	"  member TEXT NOT NULL,"
	"  channel TEXT NOT NULL,"
	"  to_number TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  sent_ms INTEGER,"
	"  sid TEXT,"
	"  provider_status TEXT,"
	"  provider_rank INTEGER NOT NULL DEFAULT -1,"
	"  status_ms INTEGER,"
	"  error TEXT,"
	"  UNIQUE (incident, round, member, channel));"
	"CREATE INDEX pages_sid ON pages(sid);"
	"CREATE INDEX pages_state ON pages(state);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  incident INTEGER NOT NULL REFERENCES incidents(id),"
	"  page INTEGER,"
	"  at_ms INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  detail TEXT);"
	"CREATE INDEX events_incident ON events(incident);",
};

static void
store_sqlite_log(void *arg, int code, const char *msg)
{
	(void)arg;
	/* SQLITE_NOTICE covers WAL recovery after a crash: worth a line. */
	log_warnx("store: sqlite code=%d text=\"%s\"", code, msg);
}

static int
store_configure(struct store *store)
{
	static const char *const pragmas =
	    "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;";
	char	*err = NULL;

	sqlite3_busy_timeout(store->db, 5000);
	if (sqlite3_exec(store->db, pragmas, NULL, NULL, &err) != SQLITE_OK) {
		log_errorx("store: configuring failed path=%s error=\"%s\"",
		    store->path, err);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
store_migrate(struct store *store)
{
	int64_t	version;
	size_t	i;
	char	*err = NULL, *sql;

	version = store_query_int(store, 0, "PRAGMA user_version", "");
	if (version < 0)
		return -1;
	for (i = (size_t)version; i < G_N_ELEMENTS(store_schema); i++) {
		sql = g_strdup_printf("BEGIN IMMEDIATE; %s PRAGMA user_version"
		    "=%zu; COMMIT;", store_schema[i], i + 1);
		if (sqlite3_exec(store->db, sql, NULL, NULL, &err) !=
		    SQLITE_OK) {
			log_errorx("store: schema update failed path=%s "
			    "version=%zu error=\"%s\"", store->path, i + 1,
			    err);
			sqlite3_free(err);
			g_free(sql);
			store_rollback(store);
			return -1;
		}
		g_free(sql);
	}
	return 0;
}

struct store *
store_open(const char *path, bool is_create)
{
	static gsize	 logger_set;
	struct store	*store;
	int		 flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if (g_once_init_enter(&logger_set)) {
		sqlite3_config(SQLITE_CONFIG_LOG, store_sqlite_log, NULL);
		g_once_init_leave(&logger_set, 1);
	}
	if (is_create)
		flags |= SQLITE_OPEN_CREATE;
	store = g_new0(struct store, 1);
	store->path = g_strdup(path);
	if (sqlite3_open_v2(path, &store->db, flags, NULL) != SQLITE_OK) {
		log_errorx("store: open failed path=%s error=\"%s\"", path,
		    store->db ? sqlite3_errmsg(store->db) : "out of memory");
		goto fail;
	}
	if (store_configure(store) == -1 || store_migrate(store) == -1)
		goto fail;
	return store;
fail:
	store_close(store);
	return NULL;
}

void
store_close(struct store *store)
{
	if (store == NULL)
		return;
	if (store->db != NULL)
		sqlite3_close(store->db);
	g_free(store->path);
	g_free(store);
}

static int
store_bind(struct store *store, sqlite3_stmt *stmt, const char *types,
    va_list ap)
{
	const void	*blob;
	size_t		 len;
	int		 i, rc = SQLITE_OK;

	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 'i':
			rc = sqlite3_bind_int64(stmt, i + 1,
			    va_arg(ap, int64_t));
			break;
		case 's':
			rc = sqlite3_bind_text(stmt, i + 1,
			    va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
			break;
		case 'b':
			blob = va_arg(ap, const void *);
			len = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(stmt, i + 1, blob, len,
			    SQLITE_STATIC);
			break;
		default:
			fatalx("store: bad bind type '%c'", types[i]);
		}
	}
	if (rc != SQLITE_OK) {
		log_errorx("store: bind failed path=%s error=\"%s\"",
		    store->path, sqlite3_errmsg(store->db));
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
store_vprepare(struct store *store, const char *sql, const char *types,
    va_list ap)
{
	sqlite3_stmt	*stmt = NULL;

	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		log_errorx("store: prepare failed path=%s error=\"%s\" "
		    "sql=\"%.60s\"", store->path, sqlite3_errmsg(store->db),
		    sql);
		return NULL;
	}
	if (store_bind(store, stmt, types, ap) == -1) {
		sqlite3_finalize(stmt);
		return NULL;
	}
	return stmt;
}

sqlite3_stmt *
store_prepare(struct store *store, const char *sql, const char *types, ...)
{
	sqlite3_stmt	*stmt;
	va_list		 ap;

	va_start(ap, types);
	stmt = store_vprepare(store, sql, types, ap);
	va_end(ap);
	return stmt;
}

int
store_exec(struct store *store, const char *sql, const char *types, ...)
{
	sqlite3_stmt	*stmt;
	va_list		 ap;
	int		 rc;

	va_start(ap, types);
	stmt = store_vprepare(store, sql, types, ap);
	va_end(ap);
	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_errorx("store: statement failed path=%s error=\"%s\" "
		    "sql=\"%.60s\"", store->path, sqlite3_errmsg(store->db),
		    sql);
		return -1;
	}
	return 0;
}

int64_t
store_query_int(struct store *store, int64_t dflt, const char *sql,
    const char *types, ...)
{
	sqlite3_stmt	*stmt;
	va_list		 ap;
	int64_t		 value = -1;
	int		 rc;

	va_start(ap, types);
	stmt = store_vprepare(store, sql, types, ap);
	va_end(ap);
	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		value = sqlite3_column_int64(stmt, 0);
	else if (rc == SQLITE_DONE)
		value = dflt;
	else
		log_errorx("store: query failed path=%s error=\"%s\"",
		    store->path, sqlite3_errmsg(store->db));
	sqlite3_finalize(stmt);
	return value;
}

int
store_begin(struct store *store)
{
	return store_exec(store, "BEGIN IMMEDIATE", "");
}

int
store_commit(struct store *store)
{
	return store_exec(store, "COMMIT", "");
}

void
store_rollback(struct store *store)
{
	/* Fails harmlessly when no transaction is open. */
	(void)sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

char *
store_column_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char	*text = sqlite3_column_text(stmt, col);

	return text != NULL ? g_strdup((const char *)text) : NULL;
}

int
store_message_add(struct store *store, const struct store_envelope *env,
    const uint8_t *raw, size_t len, int64_t *msg_id)
{
	size_t	i;

	if (store_begin(store) == -1)
		return -1;
	if (store_exec(store, "INSERT INTO messages (received_ms, peer, helo,"
	    " mail_from, raw) VALUES (?, ?, ?, ?, ?)", "isssb",
	    env->received_ms, env->peer, env->helo, env->mail_from,
	    (const void *)raw, len) == -1)
		goto fail;
	*msg_id = sqlite3_last_insert_rowid(store->db);
	for (i = 0; i < env->n_rcpts; i++) {
		if (store_exec(store, "INSERT OR IGNORE INTO message_rcpts "
		    "(message, address) VALUES (?, ?)", "is", *msg_id,
		    env->rcpts[i]) == -1)
			goto fail;
	}
	if (store_commit(store) == -1)
		goto fail;
	return 0;
fail:
	store_rollback(store);
	return -1;
}

GArray *
store_messages_unprocessed(struct store *store)
{
	sqlite3_stmt	*stmt;
	GArray		*ids;
	gint64		 id;
	int		 rc;

	stmt = store_prepare(store, "SELECT id FROM messages WHERE "
	    "is_processed = 0 ORDER BY id", "");
	if (stmt == NULL)
		return NULL;
	ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		id = sqlite3_column_int64(stmt, 0);
		g_array_append_val(ids, id);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		log_errorx("store: listing messages failed error=\"%s\"",
		    sqlite3_errmsg(store->db));
		g_array_free(ids, TRUE);
		return NULL;
	}
	return ids;
}

static int
store_message_load_rcpts(struct store *store, struct store_message *out)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	stmt = store_prepare(store, "SELECT address FROM message_rcpts WHERE "
	    "message = ? ORDER BY address", "i", out->id);
	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(out->rcpts, store_column_strdup(stmt, 0));
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_message_load(struct store *store, int64_t id, struct store_message *out)
{
	sqlite3_stmt	*stmt;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	out->rcpts = g_ptr_array_new_with_free_func(g_free);
	stmt = store_prepare(store, "SELECT received_ms, mail_from, peer, raw "
	    "FROM messages WHERE id = ?", "i", id);
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		log_errorx("store: message not found msg=%" PRId64, id);
		goto out;
	}
	out->id = id;
	out->received_ms = sqlite3_column_int64(stmt, 0);
	out->mail_from = store_column_strdup(stmt, 1);
	out->peer = store_column_strdup(stmt, 2);
	out->raw = g_bytes_new(sqlite3_column_blob(stmt, 3),
	    (gsize)sqlite3_column_bytes(stmt, 3));
	rc = store_message_load_rcpts(store, out);
out:
	sqlite3_finalize(stmt);
	return rc;
}

void
store_message_fini(struct store_message *msg)
{
	g_free(msg->mail_from);
	g_free(msg->peer);
	if (msg->rcpts != NULL)
		g_ptr_array_free(msg->rcpts, TRUE);
	if (msg->raw != NULL)
		g_bytes_unref(msg->raw);
	memset(msg, 0, sizeof(*msg));
}

/* Returns the earlier processed message with the same Message-ID, or 0. */
static int64_t
store_message_find_original(struct store *store, int64_t msg_id,
    const char *message_id)
{
	if (message_id == NULL)
		return 0;
	return store_query_int(store, 0, "SELECT id FROM messages WHERE "
	    "message_id = ? AND is_processed = 1 AND id <> ? AND "
	    "incident_id IS NOT NULL ORDER BY id LIMIT 1", "si", message_id,
	    msg_id);
}

static int
store_message_open_incident(struct store *store, int64_t msg_id,
    const struct store_disposition *disp, struct store_outcome *out)
{
	const struct parse_result	*p = disp->parsed;
	int64_t				 received_ms;

	received_ms = store_query_int(store, -1, "SELECT received_ms FROM "
	    "messages WHERE id = ?", "i", msg_id);
	if (received_ms < 0)
		return -1;
	if (store_exec(store, "INSERT INTO incidents (severity, subject, "
	    "reporter, message, opened_ms, ack_deadline_ms) VALUES "
	    "(?, ?, ?, ?, ?, ?)", "sssiii", cfg_severity_name(disp->severity),
	    p->subject, p->from_addr, msg_id, received_ms,
	    disp->ack_deadline_ms) == -1)
		return -1;
	out->class = STORE_CLASS_NEW_INCIDENT;
	out->incident_id = sqlite3_last_insert_rowid(store->db);
	out->duplicate_of = 0;
	return store_event_add(store, out->incident_id, 0, "opened",
	    cfg_severity_name(disp->severity), disp->now_ms);
}

static int
store_message_join(struct store *store, int64_t msg_id, int64_t original,
    const struct store_disposition *disp, struct store_outcome *out)
{
	char	*detail;
	int	 rc;

	out->class = STORE_CLASS_DUPLICATE;
	out->duplicate_of = original;
	out->incident_id = store_query_int(store, -1, "SELECT incident_id "
	    "FROM messages WHERE id = ?", "i", original);
	if (out->incident_id < 0)
		return -1;
	detail = g_strdup_printf("msg=%" PRId64 " duplicate of msg=%" PRId64,
	    msg_id, original);
	rc = store_event_add(store, out->incident_id, 0, "duplicate", detail,
	    disp->now_ms);
	g_free(detail);
	return rc;
}

/* Fills out from a message that was already processed. */
static int
store_message_outcome(struct store *store, int64_t msg_id,
    struct store_outcome *out)
{
	sqlite3_stmt	*stmt;
	const char	*class;
	int		 rc = -1;

	stmt = store_prepare(store, "SELECT class, incident_id, "
	    "coalesce(duplicate_of, 0) FROM messages WHERE id = ?", "i",
	    msg_id);
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		class = (const char *)sqlite3_column_text(stmt, 0);
		out->class = (class != NULL && strcmp(class, "duplicate") == 0)
		    ? STORE_CLASS_DUPLICATE : STORE_CLASS_NEW_INCIDENT;
		out->incident_id = sqlite3_column_int64(stmt, 1);
		out->duplicate_of = sqlite3_column_int64(stmt, 2);
		rc = 0;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
store_message_process(struct store *store, int64_t msg_id,
    const struct store_disposition *disp, struct store_outcome *out)
{
	const struct parse_result	*p = disp->parsed;
	int64_t				 done, original;

	if (store_begin(store) == -1)
		return -1;
	done = store_query_int(store, -1, "SELECT is_processed FROM messages "
	    "WHERE id = ?", "i", msg_id);
	if (done < 0)
		goto fail;
	if (done == 1) {
		store_rollback(store);
		return store_message_outcome(store, msg_id, out);
	}
	original = store_message_find_original(store, msg_id, p->message_id);
	if (original < 0)
		goto fail;
	if (original > 0 ? store_message_join(store, msg_id, original, disp,
	    out) == -1 : store_message_open_incident(store, msg_id, disp,
	    out) == -1)
		goto fail;
	if (store_exec(store, "UPDATE messages SET is_processed = 1, "
	    "message_id = ?, subject = ?, from_addr = ?, body_text = ?, "
	    "is_unparseable = ?, class = ?, incident_id = ?, duplicate_of = "
	    "nullif(?, 0) WHERE id = ?", "ssssisiii",
	    p->message_id, p->subject, p->from_addr, p->body_text,
	    (int64_t)p->is_unparseable, store_class_name(out->class),
	    out->incident_id, out->duplicate_of, msg_id) == -1)
		goto fail;
	if (store_commit(store) == -1)
		goto fail;
	return 0;
fail:
	store_rollback(store);
	return -1;
}

const char *
store_class_name(enum store_class class)
{
	static const char *const names[STORE_CLASS_COUNT] = {
		[STORE_CLASS_NEW_INCIDENT] = "new-incident",
		[STORE_CLASS_DUPLICATE] = "duplicate",
	};

	return (unsigned)class < STORE_CLASS_COUNT ? names[class] : "?";
}
