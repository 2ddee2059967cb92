/* SPDX-License-Identifier: ISC */
/*
 * The daemon: main(), the GLib main loop and the wiring of the stages to
 * sockets and timers.  Only the files of this folder attach anything to
 * the loop; the stages they call take plain structs.
 */
#ifndef CRITGATE_DAEMON_H
#define CRITGATE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "cfg.h"
#include "mailout.h"
#include "notify.h"
#include "store.h"

struct daemon_smtp;
struct daemon_http;
struct daemon_curl;
struct daemon_providers;
struct imap_poller;
struct daemon_writer;
struct daemon_pass;
struct mailout_templates;
struct parse_result;

/* The queue of outbound mail: the store, and the templates to compose
 * mail with (NULL when no relay is set, so nothing is queued). */
struct daemon_outbox {
	struct store			*store;
	const struct cfg		*cfg;
	struct mailout_templates	*templates;
};

struct daemon {
	struct cfg		*cfg;
	struct store		*store;
	GMainLoop		*loop;
	struct daemon_smtp	*smtp;
	struct daemon_http	*http;
	struct daemon_curl	*curl;
	struct imap_poller	*imap;		/* or NULL */
	struct daemon_writer	*writer;
	struct daemon_pass	*pass;
	GHashTable		*in_flight;	/* page id -> struct page_job */
	int64_t			 orphaned_ms;	/* when the start marked the
						 * pages in flight at the last
						 * stop unknown */
	struct daemon_providers	*providers;
	struct daemon_outbox	 outbox;
	struct daemon_relay	*relay;
	GHashTable		*mail_jobs;	/* mail with the relay */
	guint			 tick_source;
	guint			 drain_source;
	guint			 record_source;	/* flushes provider outcomes */
	uint64_t		 record_mark;	/* writer jobs queued before
						 * the last outcome */
	int64_t			 drain_deadline_ms;
	bool			 is_stopping;
	bool			 is_store_moved; /* a file of the store was
						 * removed or replaced */
	const struct cfg	*first_cfg;	/* held for the listeners and
						 * the IMAP poller, which keep
						 * pointers into it */
	int			 signals;	/* SIGTERM/SIGINT seen */
	int			 lock_fd;	/* holds the store's lock
						 * file, or -1 */
	int64_t			 events_seen;	/* the last timeline event
						 * read for the commands' log */
};

/* JSON output of the subcommands (daemon_json.c); null for NULL or 0. */
void	daemon_json_time(JsonBuilder *b, const char *name, int64_t ms);
void	daemon_json_string(JsonBuilder *b, const char *name,
	    const char *value);
void	daemon_json_strings(JsonBuilder *b, const char *name,
	    GPtrArray *values);
void	daemon_json_int(JsonBuilder *b, const char *name, int64_t value);
void	daemon_json_bool(JsonBuilder *b, const char *name, bool value);
/* Prints the builder's document on standard output and frees it. */
void	daemon_json_print(JsonBuilder *b);
/*
 * Prints a JSON array one element at a time, so that a long listing is
 * never kept whole in memory.  Call begin, then add for each element (b
 * contains one value, printed and freed), then end.  count is how many
 * elements came before, or for end in all.
 */
void	daemon_json_array_begin(void);
void	daemon_json_array_add(JsonBuilder *b, int64_t count);
void	daemon_json_array_end(int64_t count);
/* Formats ms as "2026-12-24 09:00 UTC" for people to read; caller frees
 * the new string. */
char	*daemon_minute_text(int64_t ms);

/*
 * Adds entries (ending with one without a long name) to ctx and parses
 * argv, refusing an option other than a list given twice.  On failure,
 * sets *error to a message for the user (caller frees) and returns false.
 */
bool	daemon_options_parse(GOptionContext *ctx,
	    const GOptionEntry *entries, int *argc, char ***argv,
	    char **error);

/* Subcommands; each returns the process exit status. */
int	daemon_serve_main(int argc, char **argv);
int	daemon_cli_check_config(int argc, char **argv);
int	daemon_cli_incidents(int argc, char **argv);
int	daemon_cli_messages(int argc, char **argv);
int	daemon_cli_show(int argc, char **argv);
int	daemon_cli_report(int argc, char **argv);
int	daemon_cli_status(int argc, char **argv);
int	daemon_cli_ack(int argc, char **argv);
int	daemon_cli_resolve(int argc, char **argv);
int	daemon_cli_analysed(int argc, char **argv);
int	daemon_cli_fixed(int argc, char **argv);
int	daemon_cli_notify(int argc, char **argv);
int	daemon_cli_oncall(int argc, char **argv);
/*
 * The values of cfg that only a restart applies, one "key=value" line
 * each (caller frees).  The daemon keeps its own in the store, so that
 * "critgate reload" rejects such a file before it signals the daemon.
 */
char	*daemon_cfg_restart_text(const struct cfg *cfg);
/* Returns the first key whose line differs between running and text
 * (caller frees), or NULL. */
char	*daemon_cfg_restart_change(const char *running, const char *text);
int	daemon_cli_reload(int argc, char **argv);
/*
 * Returns the text the daemon keeps in its lock file, naming the log and
 * index files of the store at store_path ("dev:ino dev:ino\n"), or NULL
 * when one is missing (caller frees).
 */
char	*daemon_store_files_text(const char *store_path);
/* Returns the path of the file whose lock the daemon serving the store at
 * store_path holds (caller frees). */
char	*daemon_store_lock_path(const char *store_path);
/*
 * Returns the pid of the running critgate that serves the store at
 * store_path (open as store), or 0 when none does.  Not for the daemon,
 * which would release its own lock.
 */
long	 daemon_store_server(const char *store_path, struct store *store);
/* Returns the pid of the running critgate, other than this process, that
 * the store notes as serving it, or 0. */
long	 daemon_store_noted_server(struct store *store);
/*
 * Opens the store for a command run beside the daemon.  An older schema is
 * upgraded only when no critgate serves the store: the running one would
 * not keep a newer schema up to date, and could not start again on it.
 * Returns the handle, or NULL having logged why.
 */
struct store	*daemon_store_open_beside(const char *path, bool is_create);
/* Appends to warnings what the config leaves open in the next 14 days
 * from now_ms: nobody on call, members without a phone, no fallback. */
void	daemon_cfg_warnings(const struct cfg *cfg, int64_t now_ms,
	    GPtrArray *warnings);
int	daemon_deliver_main(int argc, char **argv);
int	daemon_parse_main(int argc, char **argv);

#define DAEMON_CFG_DEFAULT	"/etc/critgate/critgate.conf"
/* Repeats of a rejected ACK within this time add no event to the
 * incident's timeline, as from a phone that sends it again and again. */
#define DAEMON_ACK_REJECTED_QUIET_MS	60000

/*
 * Rereads the config file.  A file that fails the checks, or changes what
 * only a restart applies, is rejected whole and the reason is logged.
 * Otherwise it replaces the running config at once.
 */
void		 daemon_reload(struct daemon *d);

/* Loads and checks the config at path, printing every problem; NULL if bad. */
struct cfg	*daemon_cfg_load(const char *path);

/* Returns the config path from --config, $CRITGATE_CONFIG or the default. */
const char	*daemon_cfg_path(const char *option);

/*
 * Opens a listening TCP socket on "host:port" ("[::1]:25" for IPv6),
 * non-blocking and close-on-exec.  Returns the fd, or -1 (logged).
 */
int	daemon_listen(const char *what, const char *host_port);

/*
 * Runs fn(data) on context's loop at priority, from any thread.  Not
 * g_main_context_invoke: while the loop is not running (at start and
 * during a stop) it would run fn at once on the calling thread, against
 * loop-owned objects.  A call the stopped loop never takes is dropped.
 */
void	daemon_loop_post(GMainContext *context, gint priority,
	    GSourceFunc fn, gpointer data);
/*
 * Calls fn whenever fd meets cond, as g_unix_fd_add does, and returns the
 * source id.  The source is not blocked while fn runs, which spares the
 * loop two wakeups per event (see daemon_serve.c).  fn must not run the
 * main loop itself.
 */
guint	daemon_fd_watch(int fd, GIOCondition cond, GUnixFDSourceFunc fn,
	    gpointer data);

/* Group commit of received messages on a thread (daemon_writer.c). */
struct smtp_message;
typedef void	(*daemon_writer_done_fn)(void *ctx, bool is_committed,
		    int64_t msg_id);
/* Starts the writer with its own handle on the store; NULL if it cannot
 * be opened (logged). */
struct daemon_writer	*daemon_writer_start(const char *store_path);
/* Makes the writer wake pass after each commit of mail, before the
 * commit's flush.  NULL stops that. */
void	daemon_writer_set_pass(struct daemon_writer *writer,
	    struct daemon_pass *pass);
/*
 * Queues msg (taken over) for the next commit.  done is called on the main
 * loop once the transaction holding it has been committed and flushed, or
 * has failed.
 * busy_sessions counts the sessions with a message under way right now,
 * this one included: the writer waits a moment for theirs before
 * committing.
 */
void	daemon_writer_submit(struct daemon_writer *writer,
	    struct smtp_message *msg, int64_t received_ms,
	    unsigned busy_sessions, daemon_writer_done_fn done, void *ctx);
/* Tells the writer that the main loop flushed the log itself. */
void	daemon_writer_flushed(struct daemon_writer *writer);
/*
 * Between these two calls, store writes on the main loop commit without a
 * flush of their own.  They are for provider outcomes (an accepted
 * request's sid, a delivery status), which nothing outside the store acts
 * on at once.  The next flush of the log makes them durable: the commit of
 * the next message, the marks of the next page, or, when neither comes
 * within a tenth of a second, a flush they ask the writer for.  So a burst
 * of them costs one flush at most, made off the loop, and mail arriving
 * meanwhile does not wait behind flushes of theirs.  A power loss before
 * the flush loses them, and the page's outcome is then unknown, as for a
 * page in flight at a crash.  begin returns whether it opened a batch, to
 * pass to end.
 */
bool	daemon_record_soon_begin(struct daemon *d);
void	daemon_record_soon_end(struct daemon *d, bool is_batch);
/* Flushes the outcomes recorded since the last flush at once (at stop). */
void	daemon_record_flush_now(struct daemon *d);
/* Commits and flushes what is queued, then stops the threads and frees the
 * writer. */
void	daemon_writer_stop(struct daemon_writer *writer);

/* SMTP listener (daemon_smtp.c). */
struct daemon_smtp	*daemon_smtp_start(struct daemon *d);
void			 daemon_smtp_shutdown(struct daemon_smtp *smtp);
/*
 * Closes the listeners and lets each session finish the message it is
 * receiving or committing; idle sessions get 421 at once.
 */
void			 daemon_smtp_drain(struct daemon_smtp *smtp);
/* Tells whether a session is still in DATA or committing. */
bool			 daemon_smtp_is_busy(const struct daemon_smtp *smtp);
void			 daemon_smtp_free(struct daemon_smtp *smtp);

/* Rereads the STARTTLS certificate and key, on SIGHUP.  Keeps the old ones
 * when the new ones cannot be loaded (logged either way). */
void			 daemon_smtp_tls_reload(struct daemon_smtp *smtp);

/*
 * TLS for STARTTLS (daemon_tls.c): a server context and non-blocking
 * connections.  A call that cannot finish returns what it waits for; the
 * caller repeats it once the socket is ready for that.
 */
struct daemon_tls;
struct daemon_tls_conn;
enum daemon_tls_io {
	DAEMON_TLS_OK,
	DAEMON_TLS_WANT_READ,
	DAEMON_TLS_WANT_WRITE,
	DAEMON_TLS_CLOSED,	/* the client sent close_notify */
	DAEMON_TLS_FAILED,	/* see daemon_tls_conn_error */
};
/*
 * Loads the PEM certificate chain and private key into a server context
 * accepting TLS 1.2 or later.  Returns NULL when they cannot be loaded or
 * do not match (logged).  The paths are copied for daemon_tls_reload.
 */
struct daemon_tls	*daemon_tls_new(const char *cert_file,
			    const char *key_file);
/*
 * Rereads the files into a new context for later handshakes.  Returns 0,
 * or -1 with the old context kept (logged either way).
 */
int			 daemon_tls_reload(struct daemon_tls *tls);
void			 daemon_tls_free(struct daemon_tls *tls);
/* Starts the server side of TLS on the connected socket fd (not taken
 * over).  Returns NULL on failure (logged). */
struct daemon_tls_conn	*daemon_tls_conn_new(struct daemon_tls *tls, int fd);
/* Sends close_notify when possible, without waiting, and frees conn. */
void			 daemon_tls_conn_free(struct daemon_tls_conn *conn);
enum daemon_tls_io	 daemon_tls_conn_handshake(
			    struct daemon_tls_conn *conn);
/* Reads or writes up to len bytes.  On DAEMON_TLS_OK, *n is the count
 * done. */
enum daemon_tls_io	 daemon_tls_conn_read(struct daemon_tls_conn *conn,
			    void *buf, size_t len, size_t *n);
enum daemon_tls_io	 daemon_tls_conn_write(struct daemon_tls_conn *conn,
			    const void *buf, size_t len, size_t *n);
/* Tells whether OpenSSL holds received bytes not yet read out of conn. */
bool			 daemon_tls_conn_has_pending(
			    const struct daemon_tls_conn *conn);
/* The reason of the last DAEMON_TLS_FAILED, borrowed from conn. */
const char		*daemon_tls_conn_error(
			    const struct daemon_tls_conn *conn);
/* The protocol ("TLSv1.3") and cipher agreed, borrowed from conn. */
const char		*daemon_tls_conn_version(
			    const struct daemon_tls_conn *conn);
const char		*daemon_tls_conn_cipher(
			    const struct daemon_tls_conn *conn);

/* HTTP listener for provider webhooks (daemon_http.c). */
struct daemon_http	*daemon_http_start(struct daemon *d);
void			 daemon_http_free(struct daemon_http *http);
/* Applies a delivery status that arrived for sid before the API response
 * that named sid was handled.  Call once the page carries sid. */
void			 daemon_http_status_early(struct daemon *d,
			    const char *sid);

/* libcurl's multi interface on the GLib loop (daemon_curl.c). */
typedef void	(*daemon_curl_done_fn)(void *ctx, long http_status,
		    const char *body, size_t len, const char *retry_after,
		    const char *error);
struct daemon_curl	*daemon_curl_new(void);
void			 daemon_curl_free(struct daemon_curl *curl);
/*
 * Starts a form POST with Basic auth.  done is called once, from the loop,
 * never from inside this call.  user and password are copied.
 */
void	daemon_curl_post(struct daemon_curl *curl, const char *url,
	    const char *body, const char *user, const char *password,
	    int64_t timeout_ms, daemon_curl_done_fn done, void *ctx);
/*
 * Starts a POST of req as built, with its own Content-Type and
 * Authorization headers when it names them; done as for daemon_curl_post.
 */
void	daemon_curl_request(struct daemon_curl *curl,
	    const struct notify_request *req, int64_t timeout_ms,
	    daemon_curl_done_fn done, void *ctx);
/*
 * The mail relay (daemon_relay.c): SMTP transactions on worker threads.
 * One message for the relay; daemon_relay_send copies it.
 */
struct daemon_curl_mail {
	const char	*relay;		/* smtp://host:port or smtps://... */
	const char	*helo;		/* our name in EHLO */
	const char	*mail_from;
	const char	*rcpt;
	GBytes		*data;		/* the message with CRLF endings */
	const char	*user;		/* AUTH, or NULL */
	const char	*password;
	int64_t		 timeout_ms;
};
struct daemon_relay_result {
	bool		 is_sent;	/* the relay accepted the message */
	bool		 reached_data;	/* the body began to go out */
	int		 code;		/* of the relay's last reply, or 0 */
	char		*reply;		/* the relay's last reply line, or
					 * NULL */
	const char	*error;		/* why not sent, or NULL */
};
/* Runs on the main loop before the body goes out; 0 lets it go. */
typedef int	(*daemon_relay_data_fn)(void *ctx);
/* Runs on the main loop with the outcome; result is borrowed. */
typedef void	(*daemon_relay_done_fn)(void *ctx,
		    const struct daemon_relay_result *result);
struct daemon_relay;
struct daemon_relay	*daemon_relay_new(void);
/* Starts one transaction; curl does the dot-stuffing. */
void			 daemon_relay_send(struct daemon_relay *relay,
			    const struct daemon_curl_mail *m,
			    daemon_relay_data_fn on_data,
			    daemon_relay_done_fn on_done, void *ctx);
/* Aborts what is in progress, then reports every outcome known. */
void			 daemon_relay_free(struct daemon_relay *relay);

/* Tells how many requests are in flight. */
unsigned	daemon_curl_in_flight(const struct daemon_curl *curl);

/* Classification against the store (daemon_classify.c). */
struct classify_settings;
struct classify_result;
struct parse_result;
/* Fills settings from cfg; the pointers borrow from cfg. */
void	daemon_classify_settings(const struct cfg *cfg,
	    struct classify_settings *out);
/*
 * Classifies a stored message.  Returns 0 with out filled (release with
 * classify_result_fini), or -1 when a store query failed: the message is
 * then left for the next attempt.
 */
int	daemon_classify(struct store *store, const struct cfg *cfg,
	    const struct store_message *msg, const struct parse_result *parsed,
	    struct classify_result *out);

/*
 * Outbound mail (daemon_mail.c).  daemon_outbox_open loads the templates
 * when a relay is set; -1 (logged) when they cannot be loaded.  The
 * queueing calls compose and commit (inside the caller's transaction, if
 * any); each returns 0, or -1 on a store failure.
 */
int	daemon_outbox_open(struct daemon_outbox *ob, struct store *store,
	    const struct cfg *cfg);
void	daemon_outbox_close(struct daemon_outbox *ob);
/* Page mail to member about the incident, once per incident: returns 1
 * when it queued it, 0 when it was queued before. */
int	daemon_outbox_page(struct daemon_outbox *ob, int64_t incident_id,
	    const struct cfg_member *member, int64_t now_ms);
/* A confirmation to the reporter of msg, which opened the incident. */
int	daemon_outbox_opened(struct daemon_outbox *ob, int64_t incident_id,
	    const struct store_message *msg,
	    const struct parse_result *parsed, int64_t now_ms);
/* Tells the sender of msg, once, that it joined the open incident. */
int	daemon_outbox_joined(struct daemon_outbox *ob, int64_t incident_id,
	    const struct store_message *msg,
	    const struct parse_result *parsed, int64_t now_ms);
/* Sends kind (acknowledged, resolved: once each; status: always, with
 * text) to every reporter of the incident. */
int	daemon_outbox_update(struct daemon_outbox *ob, int64_t incident_id,
	    enum mailout_kind kind, const char *text, int64_t now_ms);
/*
 * Mails what a reporter wrote (msg) to the members who acknowledged and
 * resolved incident_id, once they have: the team's own notes and machines
 * are not forwarded.
 */
int	daemon_outbox_reporter_wrote(struct daemon_outbox *ob,
	    int64_t incident_id, const struct store_message *msg,
	    const struct parse_result *parsed, int64_t now_ms);
/* Tells those responsible, once per incident, that its fix is overdue:
 * the members who analysed and acknowledged it, else the whole team. */
int	daemon_outbox_fix_overdue(struct daemon_outbox *ob,
	    int64_t incident_id, int64_t now_ms);
/* Marks the due mail as with the relay; call inside a transaction and
 * hand the result to daemon_mail_post once it committed or failed. */
GPtrArray	*daemon_mail_prepare(struct daemon *d);
void		 daemon_mail_post(struct daemon *d, GPtrArray *jobs,
		    bool is_committed);
void		 daemon_mail_recover(struct daemon *d);
/* Tells whether mail is with the relay, which a stop waits for. */
bool		 daemon_mail_is_busy(const struct daemon *d);
void		 daemon_mail_stop(struct daemon *d);

/* Escalation policies and breaches (daemon_esc.c), inside the caller's
 * transaction. */
void	daemon_esc_tick(struct daemon *d);
/* The same for the incidents in ids (gint64) only: those new mail just
 * opened or joined, which may be due at once. */
void	daemon_esc_tick_some(struct daemon *d, const GArray *ids);
/* Returns when the round after round of inc is due; INT64_MAX for a
 * breach's pages. */
int64_t	daemon_esc_next_round_ms(struct daemon *d,
	    const struct store_incident *inc, int round);

/*
 * Phone providers in the order of providers.order, each with a circuit
 * breaker (daemon_provider.c).  A provider is named by its index in that
 * order.
 */
#define DAEMON_CIRCUIT_FAILURES	3	/* failures in a row that open it */

enum daemon_circuit {
	DAEMON_CIRCUIT_CLOSED,
	DAEMON_CIRCUIT_OPEN,		/* skipped until the cool down ends */
	DAEMON_CIRCUIT_HALF_OPEN	/* one trial request decides */
};

/* What the page does after a provider's answer. */
enum daemon_provider_verdict {
	DAEMON_PROVIDER_OK,		/* accepted */
	DAEMON_PROVIDER_RETRY,		/* rate limited: same provider later */
	DAEMON_PROVIDER_FAIL_OVER,	/* provider or account fault: the
					 * next provider now */
	DAEMON_PROVIDER_RECIPIENT	/* the number cannot take this
					 * channel: no provider would help */
};

/* A provider's answer as curl returned it; all borrowed. */
struct daemon_provider_reply {
	long		 http_status;	/* 0: no answer */
	const char	*body;
	size_t		 len;
	const char	*retry_after;
};

/* Reads providers.order; writes each provider's health to store. */
struct daemon_providers	*daemon_providers_new(const struct cfg *cfg,
			    struct store *store);
void			 daemon_providers_free(struct daemon_providers *ps);
/* Takes a reloaded providers.cool_down_seconds. */
void			 daemon_providers_reload(struct daemon_providers *ps,
			    const struct cfg *cfg);
int			 daemon_provider_count(
			    const struct daemon_providers *ps);
/* Returns the provider's name, "none" for an index out of range. */
const char		*daemon_provider_name(
			    const struct daemon_providers *ps, int index);
/* Returns the index of the provider called name, or -1. */
int			 daemon_provider_find(
			    const struct daemon_providers *ps,
			    const char *name);
/*
 * Returns the first provider from index from on whose circuit takes a
 * request now (an open one past its cool down becomes half-open for one
 * trial), or -1 when none is left.  The last provider is always taken.
 */
int			 daemon_provider_pick(struct daemon_providers *ps,
			    int from, int64_t now_ms);
/* Builds the request of provider index for n pages to one number (a
 * provider without bundles names the others in the text); 0 or -1. */
int	daemon_provider_build(struct daemon *d, int index,
	    enum notify_channel channel, const struct notify_page *pages,
	    size_t n, struct notify_request *out);
/*
 * Sends text to a member's number to through Vonage, outside any page:
 * the reply to an SMS, which Vonage does not take in its webhook's
 * response.  The outcome is only logged.
 */
void	daemon_provider_vonage_reply(struct daemon *d, const char *member,
	    const char *to, const char *text);
/* Counts and starts the request; done as for daemon_curl_post. */
void	daemon_provider_post(struct daemon *d, int index,
	    const struct notify_request *req, daemon_curl_done_fn done,
	    void *ctx);
/* Classifies the answer into out (release with notify_response_fini),
 * counts it against the provider's circuit and returns what to do. */
enum daemon_provider_verdict daemon_provider_answer(struct daemon *d,
	    int index, enum notify_channel channel,
	    const struct daemon_provider_reply *reply,
	    struct notify_response *out);
/*
 * Queues page mail to the member of page_id (once per incident) with a
 * "page-mail" event on the timeline, as the page did not reach them.  why
 * gives the reason ("every phone provider failed").
 */
void	daemon_provider_mail_instead(struct daemon *d, int64_t page_id,
	    const char *why);
/*
 * Handles a status callback that says the request sent as sid was not
 * delivered: counts it against the provider that carried it, unless the
 * callee was busy or did not answer, and puts its pages back for the next
 * provider, or pages their members by mail when none is left.
 */
void	daemon_provider_undelivered(struct daemon *d, const char *sid,
	    const char *status);
/* Returns "closed", "open" or "half-open". */
const char	*daemon_circuit_name(enum daemon_circuit circuit);

/*
 * The pass that understands new mail on a thread (daemon_pass.c).  start
 * returns NULL when its store handle or templates fail to open (logged).
 * kick wakes it because mail may be waiting.  set_cfg hands it a reloaded
 * config, on which it takes a hold (cfg_hold) for as long as it uses it.
 */
struct daemon_pass	*daemon_pass_start(struct daemon *d);
void			 daemon_pass_kick(struct daemon_pass *pass);
void			 daemon_pass_set_cfg(struct daemon_pass *pass,
			    const struct cfg *cfg);
/* Lets a batch under way end, then stops the thread and frees pass. */
void			 daemon_pass_stop(struct daemon_pass *pass);

/*
 * Escalation and acknowledgement (daemon_page.c).  process_messages has
 * the pass understand new mail.  after_pass, on the loop, checks the
 * incidents that a batch of it opened or joined (touched, gint64) and
 * sends pending pages.  tick does both for every open incident.
 */
void	daemon_page_process_messages(struct daemon *d);
void	daemon_page_after_pass(struct daemon *d, const GArray *touched);
void	daemon_page_tick(struct daemon *d);
void	daemon_page_recover(struct daemon *d);
void	daemon_page_stop(struct daemon *d);

/*
 * Acknowledges incident id for member over channel ("sms", "voice").
 * Returns 1 when this was the first acknowledgement, 0 when it was already
 * acknowledged or unknown, -1 on a store failure.
 */
int	daemon_page_ack(struct daemon_outbox *ob, int64_t incident_id,
	    const char *member, const char *channel, const char *note);
/*
 * Under a multi_ack policy, records member's own acknowledgement and keeps
 * the incident paging the others; call before store_incident_ack.
 * Returns 0, or -1 on failure.
 */
int	daemon_ack_member(struct store *store, const struct cfg *cfg,
	    int64_t incident_id, const char *member, const char *channel,
	    int64_t now_ms);

/* Resolves (and acknowledges, if still open) incident id, returning as
 * daemon_page_ack does, and mails the reporters. */
int	daemon_page_resolve(struct daemon_outbox *ob, int64_t incident_id,
	    const char *member, const char *channel);

#endif
