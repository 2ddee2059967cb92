/* SPDX-License-Identifier: ISC */
/*
 * The pass that understands stored mail, on a thread of its own: each new
 * message is parsed, classified and recorded, opening or joining an
 * incident, and its sender hears of it.  The thread has its own store
 * handle and outbox.  It hands the incidents it touched to the main loop,
 * which pages for them (daemon_page.c), so the loop goes on with SMTP
 * sessions and webhooks while a batch of mail is understood.
 */
#include <inttypes.h>
#include <string.h>

#include "auth.h"
#include "classify.h"
#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "parse.h"

#define SUBJECT_MAX_CHARS	300	/* kept of a subject, in characters */
#define MESSAGE_ID_SHOWN_MAX	200	/* bytes of a Message-ID logged */
#define AUTH_DNS_TIMEOUT_S	5	/* DKIM key lookups of an email ack */
/*
 * Messages recorded in one transaction at most.  Batches of 16 made the
 * intake benchmark slower than batches of 64 (about 7,500 against 8,800
 * messages per second), and 256 no faster.
 */
#define PASS_BATCH_MAX		64
/* Raw bytes a batch loads at most, beyond its first message. */
#define PASS_BATCH_BYTES	(8 * 1024 * 1024)

struct daemon_pass {
	GThread			*thread;
	GMutex			 lock;
	GCond			 wake;
	bool			 is_due;	/* new mail may be waiting */
	bool			 is_stopping;
	const struct cfg	*cfg;		/* the running config, held */
	struct daemon		*d;		/* for results on the loop */
	GMainContext		*context;
	/* Used by the thread only: */
	struct store		*store;
	struct daemon_outbox	 outbox;	/* on store */
	const struct cfg	*outbox_cfg;	/* the config it was opened
						 * with, held */
	const struct cfg	*rejected_cfg;	/* held, or NULL: its
						 * templates failed to load */
	uint64_t		 batches;	/* for the stop log */
	uint64_t		 messages;
};

/* The incidents one batch opened or joined, on their way to the loop. */
struct pass_result {
	struct daemon	*d;
	GArray		*touched;	/* gint64 */
};

static void
message_log_outcome(const struct store_message *msg,
    const struct parse_result *parsed, const struct classify_result *cr,
    const struct store_outcome *out)
{
	char	*shown;

	if (out->is_new_incident) {
		/* The sender wrote it: escaped and cut to keep the line one
		 * short line. */
		shown = g_strescape(parsed->message_id != NULL ?
		    parsed->message_id : "-", NULL);
		log_info("incident: opened inc=%" PRId64 " msg=%" PRId64
		    " severity=%s from=<%s> message_id=<%.*s> subject=\"%s\"%s",
		    out->incident_id, msg->id, cfg_severity_name(cr->severity),
		    parsed->from_addr != NULL ? parsed->from_addr :
		    msg->mail_from != NULL ? msg->mail_from : "",
		    MESSAGE_ID_SHOWN_MAX, shown, parsed->subject,
		    parsed->is_unparseable ? " unparseable" : "");
		g_free(shown);
		return;
	}
	log_info("classify: %s msg=%" PRId64 " inc=%" PRId64 " original=%"
	    PRId64 " message_id=<%s> reason=\"%s\"",
	    classify_class_name(cr->class), msg->id, out->incident_id,
	    out->duplicate_of, parsed->message_id ? parsed->message_id : "",
	    cr->reason);
}

/*
 * Cuts an overlong subject on a character boundary: it goes into every
 * log line, SMS, call and listing about the incident, and the raw message
 * keeps the whole of it.
 */
static void
subject_cap(char **subject)
{
	const char	*end;
	char		*capped;

	if (g_utf8_strlen(*subject, -1) <= SUBJECT_MAX_CHARS)
		return;
	end = g_utf8_offset_to_pointer(*subject, SUBJECT_MAX_CHARS);
	capped = g_strdup_printf("%.*s...", (int)(end - *subject), *subject);
	g_free(*subject);
	*subject = capped;
}

/*
 * Mail to a more severe route must not sit in a less severe incident: an
 * open incident is raised to it, and a closed one gives way to a new
 * incident that pages.  Returns 0, or -1 on a store failure.
 */
static int
message_check_severity(struct daemon_outbox *ob,
    const struct store_message *msg, struct store_disposition *disp)
{
	struct store_incident	inc;
	int			rc = 0;

	if (disp->opens_incident || disp->incident_id <= 0 ||
	    store_incident_get(ob->store, disp->incident_id, &inc) == -1)
		return 0;
	if (disp->severity >= inc.severity)
		goto out;
	if (inc.acked_ms == 0) {
		log_info("incident: raised inc=%" PRId64 " msg=%" PRId64
		    " severity=%s", inc.id, msg->id,
		    cfg_severity_name(disp->severity));
		rc = store_incident_raise(ob->store, inc.id, disp->severity,
		    disp->ack_deadline_ms, disp->now_ms);
		goto out;
	}
	disp->class_name = "new-incident";
	disp->reason = "more severe than the closed incident it named";
	disp->opens_incident = true;
	disp->incident_id = 0;
	disp->duplicate_of = 0;
out:
	store_incident_fini(&inc);
	return rc;
}

/*
 * Tells whether msg is a reply to our own mail whose severity comes from
 * mail.from, the address our mail gives for replies, whichever route that
 * is.  Its route then does not set the incident's severity.  A copy to a
 * more severe route still raises the incident.
 */
static bool
message_is_reply_to_from(const struct cfg *cfg,
    const struct store_message *msg, const struct classify_result *cr)
{
	const struct cfg_route	*from;
	guint			 i;

	if (!cr->is_reply_to_us || cfg->mail_from == NULL ||
	    (from = cfg_route_find(cfg, cfg->mail_from)) == NULL ||
	    cr->severity != from->severity)
		return false;
	for (i = 0; msg->rcpts != NULL && i < msg->rcpts->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(msg->rcpts, i),
		    cfg->mail_from) == 0)
			return true;
	return false;
}

/* Turns a classification into what the store records. */
static void
message_disposition(const struct store_message *msg,
    const struct parse_result *parsed, const struct classify_result *cr,
    const struct cfg *cfg, struct store_disposition *disp)
{
	memset(disp, 0, sizeof(*disp));
	disp->parsed = parsed;
	disp->class_name = classify_class_name(cr->class);
	disp->reason = cr->reason;
	disp->opens_incident = cr->class == CLASSIFY_NEW_INCIDENT;
	disp->severity = cr->severity;
	disp->ack_deadline_ms = msg->received_ms +
	    cfg->ack_deadline_ms[cr->severity];
	disp->incident_id = cr->incident_id;
	disp->duplicate_of = cr->duplicate_of;
	disp->fingerprint = cr->fingerprint;
	disp->subject_key = cr->subject_key;
	disp->content_hash = cr->content_hash;
	disp->is_repeat = cr->is_repeat;
	disp->is_not_reporter = cr->is_not_reporter;
	disp->now_ms = clock_now_ms();
}

/* The address part of a stored peer, "" when it is no IP peer. */
static char *
peer_address(const char *peer)
{
	const char	*colon;

	if (peer == NULL)
		return g_strdup("");
	if (peer[0] == '[' && strchr(peer, ']') != NULL)
		return g_strndup(peer + 1, (gsize)(strchr(peer, ']') - peer -
		    1));
	colon = strchr(peer, ':');
	if (colon == NULL || strchr(colon + 1, ':') != NULL ||
	    !g_ascii_isdigit(peer[0]))
		return g_strdup("");
	return g_strndup(peer, (gsize)(colon - peer));
}

/*
 * Checks whether the sender of msg is authenticated for the domain of its
 * From address, into res (release with auth_result_fini).  May wait for
 * DNS answers.
 */
static void
message_authenticate(const struct cfg *cfg, const struct store_message *msg,
    const struct parse_result *parsed, struct auth_result *res)
{
	struct auth_settings	 s;
	struct auth_input	 in;
	char			*peer = peer_address(msg->peer);

	memset(&s, 0, sizeof(s));
	s.authserv_id = cfg->mail.authserv_id;
	s.trusted_relays = (const char *const *)cfg->mail.trusted_relays;
	s.n_trusted_relays = g_strv_length(cfg->mail.trusted_relays);
	s.dns_timeout_s = AUTH_DNS_TIMEOUT_S;
	memset(&in, 0, sizeof(in));
	in.peer_addr = peer;
	in.helo = msg->helo != NULL ? msg->helo : "";
	in.mail_from = msg->mail_from != NULL ? msg->mail_from : "";
	in.from_addr = parsed->from_addr;
	in.raw = g_bytes_get_data(msg->raw, &in.raw_len);
	(void)auth_check(&s, &in, NULL, res);
	log_info("auth: %s msg=%" PRId64 " from=<%s> peer=%s method=%s "
	    "reason=\"%s\"", res->is_authenticated ? "passed" : "failed",
	    msg->id, parsed->from_addr, peer[0] != '\0' ? peer : "local",
	    res->method != NULL ? res->method : "none", res->reason);
	g_free(peer);
}

/* Tells whether address is a member's, who may acknowledge by mail. */
static bool
is_member_address(const struct cfg *cfg, const char *address)
{
	size_t	i;

	for (i = 0; address != NULL && i < cfg->n_team; i++)
		if (cfg->team[i].email != NULL &&
		    g_ascii_strcasecmp(cfg->team[i].email, address) == 0)
			return true;
	return false;
}

/*
 * Demotes an acknowledgement by mail to an update unless its sender is
 * authenticated (res), so that the paging goes on.  The attempt goes on
 * the incident's timeline, as a rejected ACK by SMS does.
 */
static void
message_check_ack_sender(struct store *store, const struct auth_result *res,
    struct classify_result *cr)
{
	char	*reason, *detail;

	if (res->is_authenticated)
		return;
	detail = g_strdup_printf("by=%s channel=email: the sender is not "
	    "authenticated: %s", cr->ack_member, res->reason);
	(void)store_event_add_unless_recent(store, cr->incident_id,
	    "ack-rejected", detail, clock_now_ms(),
	    DAEMON_ACK_REJECTED_QUIET_MS);
	g_free(detail);
	reason = g_strdup_printf("%s from member %s, but the sender is not "
	    "authenticated: %s", cr->is_resolve ? "resolve" :
	    "acknowledgement", cr->ack_member, res->reason);
	g_free(cr->reason);
	cr->reason = reason;
	cr->class = CLASSIFY_UPDATE;
}

/* Acknowledges by mail, noting which mail: "mail <Message-ID>". */
static void
message_ack(struct daemon_outbox *ob, int64_t incident_id,
    const char *member, const struct parse_result *parsed)
{
	char	*note = NULL;

	if (parsed->message_id != NULL)
		note = g_strdup_printf("mail <%s>", parsed->message_id);
	(void)daemon_page_ack(ob, incident_id, member, "email", note);
	g_free(note);
}

/* What an incident's timeline and its reporters hear of one message. */
static void
message_follow_up(struct daemon_outbox *ob, const struct store_message *msg,
    const struct parse_result *parsed, const struct classify_result *cr,
    const struct store_outcome *out)
{
	int64_t	now = clock_now_ms();

	if (out->is_new_incident)
		(void)daemon_outbox_opened(ob, out->incident_id, msg,
		    parsed, now);
	else if (cr->class == CLASSIFY_UPDATE && out->incident_id > 0 &&
	    !cr->is_not_reporter) {
		(void)daemon_outbox_joined(ob, out->incident_id, msg,
		    parsed, now);
		(void)daemon_outbox_reporter_wrote(ob, out->incident_id, msg,
		    parsed, now);
	}
	else if (cr->class == CLASSIFY_ACK && cr->is_resolve)
		(void)daemon_page_resolve(ob, out->incident_id, cr->ack_member,
		    "email");
	else if (cr->class == CLASSIFY_ACK)
		message_ack(ob, out->incident_id, cr->ack_member, parsed);
}

/*
 * A stored message, loaded and parsed before the transaction that records
 * it, so that the transaction holds the write lock for less time.  Only a
 * member's mail can acknowledge, and its sender is authenticated then
 * too: the DNS lookups can take seconds, and the writer's commits, which
 * senders wait for, would wait as long.
 */
struct pass_item {
	bool			 is_loaded;
	struct store_message	 msg;
	struct parse_result	 parsed;
	bool			 has_auth;
	struct auth_result	 auth;
};

static void
message_load(struct store *store, const struct cfg *cfg, int64_t msg_id,
    struct pass_item *item)
{
	item->is_loaded = store_message_load(store, msg_id, &item->msg) == 0;
	if (!item->is_loaded)
		return;
	(void)parse_message(g_bytes_get_data(item->msg.raw, NULL),
	    g_bytes_get_size(item->msg.raw), &item->parsed); /* never fails */
	subject_cap(&item->parsed.subject);
	if (is_member_address(cfg, item->parsed.from_addr)) {
		message_authenticate(cfg, &item->msg, &item->parsed,
		    &item->auth);
		item->has_auth = true;
	}
}

static void
message_unload(struct pass_item *item)
{
	if (item->is_loaded)
		parse_result_fini(&item->parsed);
	if (item->has_auth)
		auth_result_fini(&item->auth);
	store_message_fini(&item->msg);
}

/*
 * Understands and records one loaded message.  Adds the incident it
 * opened or joined to touched, once.
 */
static int
message_process(struct daemon_outbox *ob, struct pass_item *item,
    GArray *touched)
{
	struct store_disposition	 disp;
	struct classify_result		 cr;
	struct store_outcome		 out;
	struct store_message		*msg = &item->msg;
	struct parse_result		*parsed = &item->parsed;
	char				*sender = NULL;
	int				 rc = -1;

	if (!item->is_loaded ||
	    daemon_classify(ob->store, ob->cfg, msg, parsed, &cr) == -1)
		return -1;
	/* An acknowledgement comes from a member's address, so its sender
	 * was authenticated at the load; the check here is a fallback. */
	if (cr.class == CLASSIFY_ACK && !item->has_auth) {
		message_authenticate(ob->cfg, msg, parsed, &item->auth);
		item->has_auth = true;
	}
	if (cr.class == CLASSIFY_ACK)
		message_check_ack_sender(ob->store, &item->auth, &cr);
	message_disposition(msg, parsed, &cr, ob->cfg, &disp);
	if (!message_is_reply_to_from(ob->cfg, msg, &cr) &&
	    message_check_severity(ob, msg, &disp) == -1)
		goto out;
	/* The sender a later mail is matched on, as the classifier reads
	 * it: the From address, else the envelope sender. */
	if (parsed->from_addr != NULL || (msg->mail_from != NULL &&
	    msg->mail_from[0] != '\0'))
		sender = g_ascii_strdown(parsed->from_addr != NULL ?
		    parsed->from_addr : msg->mail_from, -1);
	disp.sender = sender;
	if (store_message_process(ob->store, msg->id, &disp, &out) == -1)
		goto out;
	if (out.incident_id > 0 && (touched->len == 0 || g_array_index(
	    touched, gint64, touched->len - 1) != out.incident_id))
		g_array_append_val(touched, out.incident_id);
	message_log_outcome(msg, parsed, &cr, &out);
	message_follow_up(ob, msg, parsed, &cr, &out);
	store_outcome_fini(&out);
	rc = 0;
out:
	g_free(sender);
	classify_result_fini(&cr);
	return rc;
}


static gboolean
pass_on_result(gpointer data)
{
	struct pass_result	*r = data;

	daemon_page_after_pass(r->d, r->touched);
	g_array_free(r->touched, TRUE);
	g_free(r);
	return G_SOURCE_REMOVE;
}

/*
 * Reopens the thread's outbox on a config that a reload put in place,
 * taking over the caller's hold on cfg.  A config whose templates fail to
 * load here (the files changed after the reload checked them) leaves the
 * old outbox in use.
 */
static void
pass_use_cfg(struct daemon_pass *p, const struct cfg *cfg)
{
	struct daemon_outbox	ob;

	if (cfg == p->outbox_cfg || cfg == p->rejected_cfg) {
		cfg_release(cfg);
		return;
	}
	if (daemon_outbox_open(&ob, p->store, cfg) == -1) {
		log_warnx("pass: mail templates of the reloaded config failed "
		    "to load; new mail is understood under the previous "
		    "config until the next reload");
		cfg_release(p->rejected_cfg);
		p->rejected_cfg = cfg;
		return;
	}
	daemon_outbox_close(&p->outbox);
	p->outbox = ob;
	cfg_release(p->outbox_cfg);
	p->outbox_cfg = cfg;
}

/*
 * Understands up to PASS_BATCH_MAX of ids (PASS_BATCH_BYTES of mail) from
 * *next on in one transaction, and hands the incidents they touched to the
 * loop.  Returns
 * -1 when the transaction failed: the rest waits for the next tick.
 */
static int
pass_batch(struct daemon_pass *p, const GArray *ids, guint *next)
{
	struct pass_item	 items[PASS_BATCH_MAX];
	struct pass_result	*r;
	GArray			*touched;
	guint			 i, n = MIN(ids->len - *next, PASS_BATCH_MAX);
	size_t			 bytes = 0;
	int			 rc;

	memset(items, 0, sizeof(items));
	for (i = 0; i < n && (i == 0 || bytes < PASS_BATCH_BYTES); i++) {
		message_load(p->store, p->outbox.cfg, g_array_index(ids,
		    gint64, *next + i), &items[i]);
		if (items[i].is_loaded)
			bytes += g_bytes_get_size(items[i].msg.raw);
	}
	n = i;
	rc = store_batch_begin_unflushed(p->store);
	touched = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (i = 0; rc == 0 && i < n; i++)
		/* A failure is logged; the message stays unprocessed and is
		 * tried again at the next tick. */
		(void)message_process(&p->outbox, &items[i], touched);
	if (rc == 0)
		rc = store_batch_commit(p->store);
	for (i = 0; i < n; i++)
		message_unload(&items[i]);
	if (rc == -1) {
		g_array_free(touched, TRUE);
		return -1;
	}
	*next += n;
	p->batches++;
	p->messages += n;
	r = g_new0(struct pass_result, 1);
	r->d = p->d;
	r->touched = touched;
	/*
	 * Ahead of other events: the time from the final dot to the first
	 * page is the figure that matters most.  The next start pages for
	 * any result the stopped loop never took.
	 */
	daemon_loop_post(p->context, G_PRIORITY_HIGH, pass_on_result, r);
	return 0;
}

static bool
pass_is_stopping(struct daemon_pass *p)
{
	bool	is_stopping;

	g_mutex_lock(&p->lock);
	is_stopping = p->is_stopping;
	g_mutex_unlock(&p->lock);
	return is_stopping;
}

static gpointer
pass_run(gpointer data)
{
	struct daemon_pass	*p = data;
	const struct cfg	*cfg;
	GArray			*ids;
	guint			 next;
	bool			 is_stopping;

	for (;;) {
		g_mutex_lock(&p->lock);
		while (!p->is_due && !p->is_stopping)
			g_cond_wait(&p->wake, &p->lock);
		p->is_due = false;
		is_stopping = p->is_stopping;
		cfg = is_stopping ? NULL : cfg_hold(p->cfg);
		g_mutex_unlock(&p->lock);
		if (is_stopping)
			break;
		pass_use_cfg(p, cfg);
		ids = store_messages_unprocessed(p->store);
		/* A stop waits for one batch, not for a whole backlog. */
		for (next = 0; ids != NULL && next < ids->len &&
		    (next == 0 || !pass_is_stopping(p));)
			if (pass_batch(p, ids, &next) == -1)
				break;
		if (ids != NULL)
			g_array_free(ids, TRUE);
	}
	return NULL;
}

struct daemon_pass *
daemon_pass_start(struct daemon *d)
{
	struct daemon_pass	*p;

	p = g_new0(struct daemon_pass, 1);
	p->store = store_open(d->cfg->store_path, true);
	if (p->store == NULL) {
		g_free(p);
		return NULL;
	}
	/* The writer runs the checkpoints. */
	store_checkpoint_later(p->store);
	if (daemon_outbox_open(&p->outbox, p->store, d->cfg) == -1) {
		store_close(p->store);
		g_free(p);
		return NULL;
	}
	p->outbox_cfg = cfg_hold(d->cfg);
	p->cfg = cfg_hold(d->cfg);
	p->d = d;
	g_mutex_init(&p->lock);
	g_cond_init(&p->wake);
	p->context = g_main_context_ref(g_main_context_default());
	p->thread = g_thread_new("critgate-pass", pass_run, p);
	return p;
}

static void
pass_signal(struct daemon_pass *p, const struct cfg *cfg, bool is_stopping)
{
	const struct cfg	*old = NULL;

	g_mutex_lock(&p->lock);
	if (cfg != NULL) {
		old = p->cfg;
		p->cfg = cfg_hold(cfg);
	}
	p->is_due = true;
	p->is_stopping = p->is_stopping || is_stopping;
	g_cond_signal(&p->wake);
	g_mutex_unlock(&p->lock);
	cfg_release(old);
}

void
daemon_pass_kick(struct daemon_pass *p)
{
	if (p != NULL)
		pass_signal(p, NULL, false);
}

void
daemon_pass_set_cfg(struct daemon_pass *p, const struct cfg *cfg)
{
	if (p != NULL)
		pass_signal(p, cfg, false);
}

void
daemon_pass_stop(struct daemon_pass *p)
{
	if (p == NULL)
		return;
	/* A batch under way ends first; the mail left is understood at the
	 * next start. */
	pass_signal(p, NULL, true);
	g_thread_join(p->thread);
	log_info("pass: stopped batches=%" G_GUINT64_FORMAT " messages=%"
	    G_GUINT64_FORMAT, p->batches, p->messages);
	daemon_outbox_close(&p->outbox);
	cfg_release(p->outbox_cfg);
	cfg_release(p->rejected_cfg);
	cfg_release(p->cfg);
	store_close(p->store);
	g_main_context_unref(p->context);
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->wake);
	g_free(p);
}
