/* SPDX-License-Identifier: ISC */
/*
 * Outbound mail: page mail to the team when an incident opens, one
 * confirmation to its reporter, a notice to those whose mail joined it,
 * updates to every reporter when it is acknowledged or resolved, and a
 * notice to the team when the fix that an analysis promised is late.  Each
 * mail is composed and committed to the outbox first; the loop then hands
 * it to the relay, retries with backoff, and records every reply.
 */
#include <inttypes.h>
#include <string.h>

#include "classify.h"
#include "clock.h"
#include "daemon.h"
#include "esc.h"
#include "log.h"
#include "mailout.h"
#include "parse.h"

#define MAIL_GIVE_UP_MS		(INT64_C(24) * 3600 * 1000)
#define MAIL_CAP_WINDOW_MS	(INT64_C(3600) * 1000)
#define MAIL_TEXT_MAX		16384	/* bytes of a customer's text quoted */
#define MAIL_UPDATES_MAX	20	/* reporters' mails forwarded to one
					 * member per incident */
#define MAIL_FROM_NAME		"Critical Support"

/* One mail with the relay; its reply arrives in mail_on_reply. */
struct mail_job {
	struct daemon		*d;
	struct store_mail	 mail;
};

/* The plan of one outbound mail: kind, recipient and template values. */
struct mail_plan {
	enum mailout_kind	 kind;
	const char		*rcpt;
	const char		*rcpt_name;	/* or NULL */
	const char		*member;	/* page mail, else NULL */
	uint32_t		 reporter_index;
	const char		*in_reply_to;	/* or NULL */
	GPtrArray		*references;	/* char *, or NULL */
	GArray			*vars;		/* struct mailout_var */
	GPtrArray		*owned;		/* what vars point to */
};

int
daemon_outbox_open(struct daemon_outbox *ob, struct store *store,
    const struct cfg *cfg)
{
	char	*error = NULL;

	memset(ob, 0, sizeof(*ob));
	ob->store = store;
	ob->cfg = cfg;
	if (cfg->mail.relay == NULL)
		return 0;
	ob->templates = mailout_templates_load(cfg->mail.templates, &error);
	if (ob->templates == NULL) {
		log_errorx("mail: loading the templates failed: %s", error);
		g_free(error);
		return -1;
	}
	if (!mailout_templates_have(ob->templates, MAILOUT_FIX_OVERDUE))
		log_warnx("mail: %s.txt missing in %s; overdue fixes are "
		    "logged, not mailed, until it is copied there from "
		    "etc/templates", mailout_kind_name(MAILOUT_FIX_OVERDUE),
		    cfg->mail.templates);
	if (!mailout_templates_have(ob->templates, MAILOUT_UPDATE))
		log_warnx("mail: %s.txt missing in %s; what reporters write "
		    "after the acknowledgement is not mailed to who took the "
		    "incident until it is copied there from etc/templates",
		    mailout_kind_name(MAILOUT_UPDATE), cfg->mail.templates);
	return 0;
}

void
daemon_outbox_close(struct daemon_outbox *ob)
{
	if (ob->templates != NULL)
		mailout_templates_free(ob->templates);
	ob->templates = NULL;
}

/* "30 minutes", "12 hours", "1 hour 30 minutes". */
static char *
promise_text(int64_t ms)
{
	int64_t	minutes = ms / 60000, hours = minutes / 60;

	minutes %= 60;
	if (hours == 0)
		return g_strdup_printf("%" PRId64 " minute%s", minutes,
		    minutes == 1 ? "" : "s");
	if (minutes == 0)
		return g_strdup_printf("%" PRId64 " hour%s", hours,
		    hours == 1 ? "" : "s");
	return g_strdup_printf("%" PRId64 " hour%s %" PRId64 " minute%s",
	    hours, hours == 1 ? "" : "s", minutes, minutes == 1 ? "" : "s");
}

static void
plan_init(struct mail_plan *plan, enum mailout_kind kind, const char *rcpt)
{
	memset(plan, 0, sizeof(*plan));
	plan->kind = kind;
	plan->rcpt = rcpt;
	plan->vars = g_array_new(FALSE, TRUE, sizeof(struct mailout_var));
	plan->owned = g_ptr_array_new_with_free_func(g_free);
}

static void
plan_fini(struct mail_plan *plan)
{
	g_array_free(plan->vars, TRUE);
	g_ptr_array_free(plan->owned, TRUE);
	if (plan->references != NULL)
		g_ptr_array_free(plan->references, TRUE);
}

/* Sets a template variable; value (may be NULL) is taken over. */
static void
plan_var(struct mail_plan *plan, const char *name, char *value)
{
	struct mailout_var	var = { name, value != NULL ? value : "" };

	g_array_append_val(plan->vars, var);
	if (value != NULL)
		g_ptr_array_add(plan->owned, value);
}

/* Returns the full name of the member called name, or name itself when
 * the team has no such member any more (NULL for NULL). */
static const char *
member_full_name(const struct cfg *cfg, const char *name)
{
	const struct cfg_member	*m;

	m = name != NULL ? cfg_member_by_name(cfg, name) : NULL;
	return m != NULL ? m->full_name : name;
}

/* Fills the variables every template may use about incident inc. */
static void
plan_incident_vars(struct daemon_outbox *ob, struct mail_plan *plan,
    const struct store_incident *inc, const char *text)
{
	char	*trimmed = NULL, *valid;

	if (text != NULL && strlen(text) > MAIL_TEXT_MAX) {
		valid = g_utf8_make_valid(text, MAIL_TEXT_MAX);
		trimmed = g_strdup_printf("%s\n[... cut after %d bytes; the "
		    "whole message is in critgate's store]", valid,
		    MAIL_TEXT_MAX);
		g_free(valid);
		text = trimmed;
	}
	plan_var(plan, "incident", g_strdup_printf("%" PRId64,
	    inc->id));
	plan_var(plan, "severity",
	    g_strdup(cfg_severity_name(inc->severity)));
	plan_var(plan, "subject", g_strdup(inc->subject));
	plan_var(plan, "reporter", g_strdup(inc->reporter != NULL ?
	    inc->reporter : "an unknown sender"));
	plan_var(plan, "promise",
	    promise_text(ob->cfg->ack_deadline_ms[inc->severity]));
	plan_var(plan, "deadline", daemon_minute_text(inc->ack_deadline_ms));
	plan_var(plan, "acked_by", g_strdup(member_full_name(ob->cfg,
	    inc->acked_by)));
	plan_var(plan, "text", g_strdup(text));
	plan_var(plan, "ack_how", g_strdup_printf("reply to this mail "
	    "with ACK as the first line (RESOLVE when it is solved), press 1 "
	    "during the call, or answer the SMS as it says"));
	g_free(trimmed);
}

static char *
mail_token(struct daemon_outbox *ob, const struct mail_plan *plan,
    int64_t incident_id, int64_t serial)
{
	struct classify_settings	settings;
	struct classify_token		tok = {
		.incident_id = incident_id,
		.member = (char *)plan->member,
		.reporter_index = plan->reporter_index,
		.serial = (uint64_t)serial,
	};
	char				*local, *id;

	tok.kind = plan->kind == MAILOUT_PAGE ? CLASSIFY_TOKEN_PAGE :
	    plan->kind == MAILOUT_CONFIRMATION ? CLASSIFY_TOKEN_CONFIRMATION :
	    CLASSIFY_TOKEN_UPDATE;
	daemon_classify_settings(ob->cfg, &settings);
	local = classify_token_make(&settings, &tok);
	if (local == NULL)
		return NULL;
	id = g_strconcat(local, "@gw.", ob->cfg->mail_domain, NULL);
	g_free(local);
	return id;
}

/* Composes the mail of plan and commits it to the outbox. */
static int
plan_queue(struct daemon_outbox *ob, const struct mail_plan *plan,
    int64_t incident_id, int64_t now_ms)
{
	struct mailout_message	 m;
	struct store_mail_new	 row;
	GBytes			*raw = NULL;
	char			*message_id = NULL, *error = NULL;
	int64_t			 id;
	int			 rc = -1;

	/* The id is read and used under one write lock: otherwise the
	 * daemon and a command beside it could both take it. */
	if (store_batch_begin(ob->store) == -1)
		return -1;
	id = store_mail_next_id(ob->store);
	if (id < 1)
		goto out;
	message_id = mail_token(ob, plan, incident_id, id);
	if (message_id == NULL) {
		log_warnx("mail: no Message-ID token inc=%" PRId64 " kind=%s",
		    incident_id, mailout_kind_name(plan->kind));
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.kind = plan->kind;
	m.from_name = MAIL_FROM_NAME;
	m.from_addr = ob->cfg->mail_from;
	m.to_addr = plan->rcpt;
	m.to_name = plan->rcpt_name;
	m.reply_to = ob->cfg->mail_from;
	m.message_id = message_id;
	m.in_reply_to = plan->in_reply_to;
	if (plan->references != NULL) {
		m.references = (const char *const *)plan->references->pdata;
		m.n_references = plan->references->len;
	}
	m.date_ms = now_ms;
	m.loop_value = ob->cfg->mail_domain;
	m.vars = (const struct mailout_var *)(void *)plan->vars->data;
	m.n_vars = plan->vars->len;
	raw = mailout_compose(ob->templates, &m, &error);
	if (raw == NULL) {
		log_warnx("mail: not composed inc=%" PRId64 " kind=%s to=<%s> "
		    "error=\"%s\"", incident_id, mailout_kind_name(plan->kind),
		    plan->rcpt, error);
		rc = 0;	/* nothing to send, the rest goes on */
		goto out;
	}
	row = (struct store_mail_new){ .id = id, .incident_id = incident_id,
	    .kind = mailout_kind_name(plan->kind), .member = plan->member,
	    .rcpt = plan->rcpt, .message_id = message_id,
	    .raw = g_bytes_get_data(raw, NULL),
	    .raw_len = g_bytes_get_size(raw) };
	rc = store_mail_add(ob->store, &row, now_ms);
	if (rc == 0)
		log_info("mail: queued mail=%" PRId64 " inc=%" PRId64 " kind=%s "
		    "to=<%s> message_id=<%s>", id, incident_id, row.kind,
		    plan->rcpt, message_id);
out:
	/* store_mail_add wrote all of the row or none of it. */
	if (store_batch_commit(ob->store) == -1)
		rc = -1;
	if (raw != NULL)
		g_bytes_unref(raw);
	g_free(error);
	g_free(message_id);
	return rc;
}

/* Why addr gets no confirmation or update from us, or NULL when it may. */
static const char *
reporter_refusal(const struct cfg *cfg, const char *addr)
{
	static const char *const machines[] = {
		"mailer-daemon@", "postmaster@", "noreply@", "no-reply@",
		"donotreply@", "do-not-reply@", "bounce@", "bounces@",
	};
	size_t	i;

	if (addr == NULL || addr[0] == '\0')
		return "no sender address";
	if (cfg->mail_from != NULL && g_ascii_strcasecmp(addr,
	    cfg->mail_from) == 0)
		return "our own address";
	if (cfg_route_find(cfg, addr) != NULL)
		return "one of our routed addresses";
	for (i = 0; i < cfg->n_team; i++)
		if (g_ascii_strcasecmp(addr, cfg->team[i].email) == 0)
			return "a team member";
	/* RFC 3834 section 3.1: no automatic reply to mail daemons or list
	 * software. */
	for (i = 0; i < G_N_ELEMENTS(machines); i++)
		if (g_ascii_strncasecmp(addr, machines[i],
		    strlen(machines[i])) == 0)
			return "a machine address";
	if (strstr(addr, "-request@") != NULL ||
	    g_ascii_strncasecmp(addr, "owner-", 6) == 0)
		return "a mailing list address";
	return NULL;
}

/* References for a reply to the message with id, after refs. */
static GPtrArray *
thread_refs(GPtrArray *refs, const char *id)
{
	GPtrArray	*out = g_ptr_array_new_with_free_func(g_free);
	guint		 i;

	for (i = 0; refs != NULL && i < refs->len; i++)
		g_ptr_array_add(out, g_strdup(g_ptr_array_index(refs, i)));
	if (id != NULL)
		g_ptr_array_add(out, g_strdup(id));
	return out;
}

/* The index of addr among the incident's reporters, for its token. */
static uint32_t
reporter_index(struct daemon_outbox *ob, int64_t incident_id,
    const char *addr)
{
	struct store_reporter	*rep;
	GPtrArray		*reps;
	uint32_t		 i, found = 0;

	reps = store_incident_reporters(ob->store, incident_id);
	for (i = 0; reps != NULL && i < reps->len; i++) {
		rep = g_ptr_array_index(reps, i);
		if (strcmp(rep->addr, addr) == 0) {
			found = i;
			break;
		}
	}
	if (reps != NULL)
		g_ptr_array_free(reps, TRUE);
	return found;
}

/* Tells whether addr reached its hourly cap of confirmations (logged). */
static bool
reporter_is_capped(struct daemon_outbox *ob, int64_t incident_id,
    const char *addr, int64_t now_ms)
{
	int64_t	n;
	char	*detail;

	n = store_mail_count_to(ob->store, addr, now_ms - MAIL_CAP_WINDOW_MS);
	if (n < ob->cfg->mail.confirmations_per_hour)
		return false;
	log_info("mail: not sent inc=%" PRId64 " to=<%s> reason=\"%" PRId64
	    " confirmations in the last hour\"", incident_id, addr, n);
	detail = g_strdup_printf("to=<%s> limit=%" PRId64 "/h", addr,
	    ob->cfg->mail.confirmations_per_hour);
	(void)store_event_add(ob->store, incident_id, 0, "mail-capped",
	    detail, now_ms);
	g_free(detail);
	return true;
}

/*
 * Mails the reporter of msg once per incident with kind (a confirmation
 * or a joined notice): never to a null sender, our own or a team address,
 * a machine, nor past the hourly cap.  Mail without a From header gets
 * none: its envelope sender is often a bounce address or a script's.
 */
static int
answer_reporter(struct daemon_outbox *ob, const struct store_incident *inc,
    const struct store_message *msg, const struct parse_result *parsed,
    enum mailout_kind kind, int64_t now_ms)
{
	struct mail_plan	 plan;
	const char		*why;
	char			*addr;
	int			 rc = 0;

	if (msg->mail_from == NULL || msg->mail_from[0] == '\0' ||
	    parsed->from_addr == NULL)
		return 0;
	addr = g_ascii_strdown(parsed->from_addr, -1);
	why = reporter_refusal(ob->cfg, addr);
	if (why != NULL) {
		log_debug("mail: no %s inc=%" PRId64 " to=<%s> reason=\"%s\"",
		    mailout_kind_name(kind), inc->id, addr, why);
		goto out;
	}
	if (store_mail_count_for(ob->store, inc->id, mailout_kind_name(kind),
	    addr) != 0 || reporter_is_capped(ob, inc->id, addr, now_ms))
		goto out;
	plan_init(&plan, kind, addr);
	plan.rcpt_name = parsed->from_name;
	plan.reporter_index = reporter_index(ob, inc->id, addr);
	plan.in_reply_to = parsed->message_id;
	plan.references = thread_refs(parsed->references, parsed->message_id);
	plan_incident_vars(ob, &plan, inc, parsed->body_text);
	rc = plan_queue(ob, &plan, inc->id, now_ms);
	plan_fini(&plan);
out:
	g_free(addr);
	return rc;
}

/*
 * Reads the Message-ID (or NULL) and the text of stored message msg_id
 * into *message_id and *text (caller frees both), parsing its raw bytes
 * again: the store keeps no copy of the text.  Returns 0 or -1.
 */
static int
message_text(struct store *store, int64_t msg_id, char **message_id,
    char **text)
{
	struct store_message	msg;
	struct parse_result	parsed;

	*message_id = *text = NULL;
	if (store_message_load(store, msg_id, &msg) == -1) {
		store_message_fini(&msg);
		return -1;
	}
	(void)parse_message(g_bytes_get_data(msg.raw, NULL),
	    g_bytes_get_size(msg.raw), &parsed);	/* flags, never fails */
	*message_id = g_strdup(parsed.message_id);
	*text = g_strdup(parsed.body_text != NULL ? parsed.body_text : "");
	parse_result_fini(&parsed);
	store_message_fini(&msg);
	return 0;
}

int
daemon_outbox_page(struct daemon_outbox *ob, int64_t incident_id,
    const struct cfg_member *member, int64_t now_ms)
{
	struct store_incident	 inc;
	struct mail_plan	 plan;
	char			*message_id = NULL, *text = NULL;
	int			 rc = 0;

	if (ob->templates == NULL || store_mail_count_for(ob->store,
	    incident_id, "page", member->email) != 0)
		return 0;
	if (store_incident_get(ob->store, incident_id, &inc) == -1)
		return -1;
	if (message_text(ob->store, inc.message_id, &message_id,
	    &text) == -1) {
		rc = -1;
		goto out;
	}
	plan_init(&plan, MAILOUT_PAGE, member->email);
	plan.rcpt_name = member->full_name;
	plan.member = member->name;
	plan.in_reply_to = message_id;
	plan.references = thread_refs(NULL, message_id);
	plan_incident_vars(ob, &plan, &inc, text);
	plan_var(&plan, "member", g_strdup(member->full_name));
	rc = plan_queue(ob, &plan, inc.id, now_ms) == 0 ? 1 : -1;
	plan_fini(&plan);
out:
	g_free(message_id);
	g_free(text);
	store_incident_fini(&inc);
	return rc;
}

int
daemon_outbox_opened(struct daemon_outbox *ob, int64_t incident_id,
    const struct store_message *msg, const struct parse_result *parsed,
    int64_t now_ms)
{
	struct store_incident	inc;
	int			rc;

	if (ob->templates == NULL)
		return 0;
	if (store_incident_get(ob->store, incident_id, &inc) == -1)
		return -1;
	rc = answer_reporter(ob, &inc, msg, parsed, MAILOUT_CONFIRMATION,
	    now_ms);
	store_incident_fini(&inc);
	return rc;
}

/* Tells whether parsed replies to mail of ours, whose ids end in
 * "@gw.DOMAIN". */
static bool
replies_to_us(const struct cfg *cfg, const struct parse_result *parsed)
{
	char	*suffix = g_strconcat("@gw.", cfg->mail_domain, NULL);
	bool	 found;
	guint	 i;

	found = parsed->in_reply_to != NULL &&
	    g_str_has_suffix(parsed->in_reply_to, suffix);
	for (i = 0; !found && parsed->references != NULL &&
	    i < parsed->references->len; i++)
		found = g_str_has_suffix(g_ptr_array_index(parsed->references,
		    i), suffix);
	g_free(suffix);
	return found;
}

/* Tells whether we mailed the sender of msg just before it arrived, so
 * msg may be an automatic reply that must get no reply of ours. */
static bool
is_echo(struct daemon_outbox *ob, const struct store_message *msg,
    const struct parse_result *parsed)
{
	char	*addr;
	int64_t	 incident;

	if (parsed->from_addr == NULL)
		return false;
	addr = g_ascii_strdown(parsed->from_addr, -1);
	incident = store_find_incident_mailed_to(ob->store, addr,
	    msg->received_ms - CLASSIFY_ECHO_WINDOW_MS, msg->received_ms);
	g_free(addr);
	return incident != 0;
}

int
daemon_outbox_joined(struct daemon_outbox *ob, int64_t incident_id,
    const struct store_message *msg, const struct parse_result *parsed,
    int64_t now_ms)
{
	struct store_incident	inc;
	int			rc = 0;

	if (ob->templates == NULL)
		return 0;
	if (store_incident_get(ob->store, incident_id, &inc) == -1)
		return -1;
	/*
	 * Only while the team is still being paged for it, and not to a
	 * reply to our own mail, because its writer has the incident number
	 * already and replying to every reply is how two robots loop.
	 */
	if (inc.acked_ms == 0 && !replies_to_us(ob->cfg, parsed) &&
	    !is_echo(ob, msg, parsed))
		rc = answer_reporter(ob, &inc, msg, parsed, MAILOUT_JOINED,
		    now_ms);
	store_incident_fini(&inc);
	return rc;
}

/* Queues kind to one reporter unless refused or, but for status, sent. */
static int
update_reporter(struct daemon_outbox *ob, const struct store_incident *inc,
    const struct store_reporter *rep, uint32_t index, enum mailout_kind kind,
    const char *text, int64_t now_ms)
{
	struct mail_plan	plan;
	const char		*why = reporter_refusal(ob->cfg, rep->addr);
	int			rc;

	if (why != NULL)
		return 0;
	if (kind != MAILOUT_STATUS && store_mail_count_for(ob->store, inc->id,
	    mailout_kind_name(kind), rep->addr) != 0)
		return 0;
	plan_init(&plan, kind, rep->addr);
	plan.reporter_index = index;
	plan.in_reply_to = rep->message_id;
	plan.references = thread_refs(NULL, rep->message_id);
	plan_incident_vars(ob, &plan, inc, text);
	rc = plan_queue(ob, &plan, inc->id, now_ms);
	plan_fini(&plan);
	return rc;
}

int
daemon_outbox_update(struct daemon_outbox *ob, int64_t incident_id,
    enum mailout_kind kind, const char *text, int64_t now_ms)
{
	struct store_incident	 inc;
	GPtrArray		*reps;
	guint			 i;
	int			 rc = 0;

	if (ob->templates == NULL)
		return 0;
	if (store_incident_get(ob->store, incident_id, &inc) == -1)
		return -1;
	reps = store_incident_reporters(ob->store, incident_id);
	if (reps == NULL)
		rc = -1;
	for (i = 0; reps != NULL && i < reps->len && rc == 0; i++)
		rc = update_reporter(ob, &inc, g_ptr_array_index(reps, i), i,
		    kind, text, now_ms);
	if (reps != NULL)
		g_ptr_array_free(reps, TRUE);
	store_incident_fini(&inc);
	return rc;
}

/* Queues the notice of incident inc's overdue fix to member, once. */
static int
fix_overdue_member(struct daemon_outbox *ob, const struct store_incident *inc,
    const struct cfg_member *member, int64_t now_ms)
{
	struct mail_plan	plan;
	int			rc;

	if (store_mail_count_for(ob->store, inc->id,
	    mailout_kind_name(MAILOUT_FIX_OVERDUE), member->email) != 0)
		return 0;
	plan_init(&plan, MAILOUT_FIX_OVERDUE, member->email);
	plan.rcpt_name = member->full_name;
	plan.member = member->name;
	plan_incident_vars(ob, &plan, inc, NULL);
	plan_var(&plan, "member", g_strdup(member->full_name));
	plan_var(&plan, "analysed", daemon_minute_text(inc->analysed_ms));
	plan_var(&plan, "analysed_by", g_strdup(member_full_name(ob->cfg,
	    inc->analysed_by)));
	plan_var(&plan, "fix_due", daemon_minute_text(inc->fix_due_ms));
	rc = plan_queue(ob, &plan, inc->id, now_ms);
	plan_fini(&plan);
	return rc;
}

/* Adds the team member called name, if it has an address, to members. */
static void
add_addressed(GPtrArray *members, const struct cfg *cfg, const char *name)
{
	const struct cfg_member	*m;
	guint			 i;

	m = name != NULL ? cfg_member_by_name(cfg, name) : NULL;
	if (m == NULL || m->email == NULL || m->email[0] == '\0')
		return;
	for (i = 0; i < members->len; i++)
		if (g_ptr_array_index(members, i) == m)
			return;
	g_ptr_array_add(members, (gpointer)m);
}

int
daemon_outbox_fix_overdue(struct daemon_outbox *ob, int64_t incident_id,
    int64_t now_ms)
{
	struct store_incident	 inc;
	GPtrArray		*members;
	size_t			 i;
	int			 rc = 0;

	if (!mailout_templates_have(ob->templates, MAILOUT_FIX_OVERDUE))
		return 0;
	if (store_incident_get(ob->store, incident_id, &inc) == -1)
		return -1;
	/*
	 * Those who know the incident best: who found the root cause and
	 * who took it.  When a reload removed both from the team, the fix
	 * has no owner left, and everyone on the team hears of it.
	 */
	members = g_ptr_array_new();
	add_addressed(members, ob->cfg, inc.analysed_by);
	add_addressed(members, ob->cfg, inc.acked_by);
	if (members->len == 0)
		for (i = 0; i < ob->cfg->n_team; i++)
			add_addressed(members, ob->cfg, ob->cfg->team[i].name);
	for (i = 0; i < members->len && rc == 0; i++)
		rc = fix_overdue_member(ob, &inc, g_ptr_array_index(members,
		    i), now_ms);
	g_ptr_array_free(members, TRUE);
	store_incident_fini(&inc);
	return rc;
}

/*
 * Forwards what a reporter wrote to one who took the incident, 20 times
 * per incident at most.
 */
static int
update_member(struct daemon_outbox *ob, const struct store_incident *inc,
    const struct cfg_member *member, const char *writer, const char *text,
    int64_t now_ms)
{
	struct mail_plan	plan;
	int64_t			sent;
	int			rc;

	sent = store_mail_count_for(ob->store, inc->id,
	    mailout_kind_name(MAILOUT_UPDATE), member->email);
	if (sent < 0)
		return -1;
	if (sent >= MAIL_UPDATES_MAX) {
		log_info("mail: no update inc=%" PRId64 " to=<%s> reason=\"%d "
		    "sent for this incident\"", inc->id, member->email,
		    MAIL_UPDATES_MAX);
		return 0;
	}
	plan_init(&plan, MAILOUT_UPDATE, member->email);
	plan.rcpt_name = member->full_name;
	plan_incident_vars(ob, &plan, inc, text);
	plan_var(&plan, "member", g_strdup(member->full_name));
	plan_var(&plan, "writer", g_strdup(writer));
	plan_var(&plan, "state", inc->resolved_ms != 0 ?
	    g_strdup_printf("resolved by %s", member_full_name(ob->cfg,
	    inc->resolved_by)) : g_strdup_printf("acknowledged by %s",
	    member_full_name(ob->cfg, inc->acked_by)));
	rc = plan_queue(ob, &plan, inc->id, now_ms);
	plan_fini(&plan);
	return rc;
}

int
daemon_outbox_reporter_wrote(struct daemon_outbox *ob, int64_t incident_id,
    const struct store_message *msg, const struct parse_result *parsed,
    int64_t now_ms)
{
	struct store_incident	 inc;
	GPtrArray		*members;
	char			*writer;
	guint			 i;
	int			 rc = 0;

	if (!mailout_templates_have(ob->templates, MAILOUT_UPDATE))
		return 0;
	writer = g_ascii_strdown(parsed->from_addr != NULL ?
	    parsed->from_addr : msg->mail_from != NULL ? msg->mail_from : "",
	    -1);
	/* The team's own notes, and machines, are not forwarded. */
	if (reporter_refusal(ob->cfg, writer) != NULL) {
		g_free(writer);
		return 0;
	}
	if (store_incident_get(ob->store, incident_id, &inc) == -1) {
		g_free(writer);
		return -1;
	}
	/* Before the acknowledgement, the whole team is being paged. */
	members = g_ptr_array_new();
	if (inc.acked_ms != 0) {
		add_addressed(members, ob->cfg, inc.acked_by);
		add_addressed(members, ob->cfg, inc.resolved_by);
	}
	for (i = 0; i < members->len && rc == 0; i++)
		rc = update_member(ob, &inc, g_ptr_array_index(members, i),
		    writer, parsed->body_text, now_ms);
	g_ptr_array_free(members, TRUE);
	store_incident_fini(&inc);
	g_free(writer);
	return rc;
}

/*
 * Sending.
 */

static void
mail_job_free(struct mail_job *job)
{
	store_mail_fini(&job->mail);
	g_free(job);
}

/* On the main loop: records that the body goes out now. */
static int
mail_on_data(void *ctx)
{
	struct mail_job	*job = ctx;

	return store_mail_reached_data(job->d->store, job->mail.id);
}

/* What to keep of an outcome: the relay's own reply, else the error. */
static char *
reply_text(const struct daemon_relay_result *res)
{
	if (res->reply != NULL && (res->is_sent || res->code >= 400))
		return g_strdup(res->reply);
	return g_strdup_printf("no reply: %s", res->error != NULL ?
	    res->error : "unknown error");
}

/* Records the relay's reply: sent, unknown, retried later, or given up. */
static void
mail_on_reply(void *ctx, const struct daemon_relay_result *res)
{
	struct mail_job		*job = ctx;
	struct daemon		*d = job->d;
	struct store_mail	*m = &job->mail;
	int64_t			 now = clock_now_ms(), next;
	char			*reply = reply_text(res);
	const char		*outcome;

	g_hash_table_steal(d->mail_jobs, job);
	next = now + esc_retry_delay_ms(m->attempts, -1);
	if (res->is_sent) {
		outcome = "sent";
		(void)store_mail_sent(d->store, m->id, reply, now);
	} else if (res->reached_data && res->code < 400) {
		/* The body went out and no verdict came back. */
		outcome = "unknown";
		(void)store_mail_unknown(d->store, m->id, reply, now);
	} else if (res->code >= 500 || next - m->created_ms >
	    MAIL_GIVE_UP_MS) {
		outcome = "failed";
		(void)store_mail_failed(d->store, m->id, reply, now);
	} else {
		outcome = "retry";
		(void)store_mail_retry(d->store, m->id, reply, next, now);
	}
	if (res->is_sent)
		log_info("mail: sent mail=%" PRId64 " inc=%" PRId64 " kind=%s "
		    "to=<%s> reply=\"%s\"", m->id, m->incident_id, m->kind,
		    m->rcpt, reply);
	else
		log_warnx("mail: %s mail=%" PRId64 " inc=%" PRId64 " kind=%s "
		    "to=<%s> attempts=%d reply=\"%s\"", outcome, m->id,
		    m->incident_id, m->kind, m->rcpt, m->attempts, reply);
	g_free(reply);
	mail_job_free(job);
}

GPtrArray *
daemon_mail_prepare(struct daemon *d)
{
	struct mail_job	*job;
	GPtrArray	*jobs = g_ptr_array_new();
	GArray		*ids;
	guint		 i;

	if (d->outbox.templates == NULL)
		return jobs;
	ids = store_mail_due(d->store, clock_now_ms());
	for (i = 0; ids != NULL && i < ids->len; i++) {
		job = g_new0(struct mail_job, 1);
		job->d = d;
		if (store_mail_get(d->store, g_array_index(ids, gint64, i),
		    &job->mail) == -1 ||
		    store_mail_sending(d->store, job->mail.id) == -1) {
			mail_job_free(job);
			continue;
		}
		job->mail.attempts++;
		g_ptr_array_add(jobs, job);
	}
	if (ids != NULL)
		g_array_free(ids, TRUE);
	return jobs;
}

void
daemon_mail_post(struct daemon *d, GPtrArray *jobs, bool is_committed)
{
	struct daemon_curl_mail	 cm;
	struct mail_job		*job;
	guint			 i;

	for (i = 0; i < jobs->len; i++) {
		job = g_ptr_array_index(jobs, i);
		if (!is_committed) {
			mail_job_free(job);
			continue;
		}
		cm = (struct daemon_curl_mail){ .relay = d->cfg->mail.relay,
		    .helo = d->cfg->hostname, .mail_from = d->cfg->mail_from,
		    .rcpt = job->mail.rcpt, .data = job->mail.raw,
		    .user = d->cfg->mail.relay_user,
		    .password = d->cfg->mail.relay_password,
		    .timeout_ms = d->cfg->mail.timeout_ms };
		g_hash_table_add(d->mail_jobs, job);
		daemon_relay_send(d->relay, &cm, mail_on_data, mail_on_reply,
		    job);
	}
	g_ptr_array_free(jobs, TRUE);
}

void
daemon_mail_recover(struct daemon *d)
{
	int	n;

	d->mail_jobs = g_hash_table_new_full(g_direct_hash, g_direct_equal,
	    (GDestroyNotify)mail_job_free, NULL);
	d->relay = daemon_relay_new();
	n = store_mails_orphaned(d->store, clock_now_ms());
	if (n > 0)
		log_warnx("mail: mail bodies with the relay at the last stop "
		    "count=%d; whether they arrived is unknown and they are "
		    "not sent again", n);
}

bool
daemon_mail_is_busy(const struct daemon *d)
{
	return d->mail_jobs != NULL && g_hash_table_size(d->mail_jobs) > 0;
}

void
daemon_mail_stop(struct daemon *d)
{
	/* Outcomes still arriving are recorded while the store is open. */
	daemon_relay_free(d->relay);
	d->relay = NULL;
	if (d->mail_jobs != NULL)
		g_hash_table_destroy(d->mail_jobs);
	d->mail_jobs = NULL;
	daemon_outbox_close(&d->outbox);
}
