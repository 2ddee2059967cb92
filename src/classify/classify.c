/* SPDX-License-Identifier: ISC */
/*
 * The classify stage's decision: runs a fixed list of steps over a stored
 * message (routing, duplicates, loops, bounces, automatic mail, threading by
 * token, by reference, by subject tag, repeats within the dedup window) and
 * stops at the first that decides.  The caller stores the result and acts on
 * it: opens the incident, links the message, pages or records the ack.
 */
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#include "classify.h"
#include "classify_priv.h"

struct run {
	const struct cfg		*cfg;
	const struct classify_settings	*settings;
	const struct classify_input	*in;
	const struct parse_result	*parsed;
	const struct classify_lookup	*lookup;
	void				*ctx;
	struct classify_result		*out;
	/* the From address, else the envelope sender */
	const char			*sender;
};

static const char *const class_names[CLASSIFY_CLASS_COUNT] = {
	[CLASSIFY_NEW_INCIDENT] = "new-incident",
	[CLASSIFY_DUPLICATE] = "duplicate",
	[CLASSIFY_UPDATE] = "update",
	[CLASSIFY_ACK] = "ack",
	[CLASSIFY_AUTO_REPLY] = "auto-reply",
	[CLASSIFY_BOUNCE] = "bounce",
	[CLASSIFY_LOOP] = "loop",
	[CLASSIFY_REJECTED] = "rejected",
};

static const char *const token_kind_names[CLASSIFY_TOKEN_KIND_COUNT] = {
	[CLASSIFY_TOKEN_PAGE] = "page",
	[CLASSIFY_TOKEN_CONFIRMATION] = "confirmation",
	[CLASSIFY_TOKEN_UPDATE] = "update",
};

const char *
classify_class_name(enum classify_class class)
{
	if ((unsigned)class >= CLASSIFY_CLASS_COUNT)
		return "unknown";
	return class_names[class];
}

static bool G_GNUC_PRINTF(4, 5)
decide(struct run *r, enum classify_class class, int64_t incident_id,
    const char *fmt, ...)
{
	va_list	ap;

	r->out->class = class;
	r->out->incident_id = incident_id;
	g_free(r->out->reason);
	va_start(ap, fmt);
	r->out->reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return true;
}

static bool
is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static bool
step_route(struct run *r)
{
	const struct cfg_route	*route;
	bool			 found = false;
	size_t			 i;

	r->out->severity = CFG_SEVERITY_HIGH;
	for (i = 0; i < r->in->n_rcpts; i++) {
		route = r->in->rcpts[i] != NULL ?
		    cfg_route_find(r->cfg, r->in->rcpts[i]) : NULL;
		if (route == NULL)
			continue;
		/* critical is the lowest enum value and outranks high */
		if (!found || route->severity < r->out->severity)
			r->out->severity = route->severity;
		found = true;
	}
	r->out->is_routed = found;
	if (found)
		return false;
	return decide(r, CLASSIFY_REJECTED, 0, "no routed recipient");
}

static bool
step_duplicate_id(struct run *r)
{
	int64_t	msg;

	if (is_empty(r->parsed->message_id))
		return false;
	msg = r->lookup->message_by_message_id(r->ctx, r->parsed->message_id);
	if (msg == 0)
		return false;
	r->out->duplicate_of = msg;
	return decide(r, CLASSIFY_DUPLICATE,
	    r->lookup->incident_of_message(r->ctx, msg),
	    "same Message-ID as message %" G_GINT64_FORMAT, msg);
}

static bool
step_duplicate_content(struct run *r)
{
	int64_t	msg;

	if (!is_empty(r->parsed->message_id))
		return false;
	msg = r->lookup->message_by_content_hash(r->ctx,
	    r->out->content_hash);
	if (msg == 0)
		return false;
	r->out->duplicate_of = msg;
	return decide(r, CLASSIFY_DUPLICATE,
	    r->lookup->incident_of_message(r->ctx, msg),
	    "no Message-ID, same content as message %" G_GINT64_FORMAT, msg);
}

/* Returns the incident of a verified token in id that exists, or 0. */
static int64_t
token_incident(struct run *r, const char *id, struct classify_token *tok)
{
	bool	is_open;

	if (classify_token_from_message_id(r->settings, id, tok) == -1)
		return 0;
	if (r->lookup->incident_exists(r->ctx, tok->incident_id, &is_open))
		return tok->incident_id;
	classify_token_fini(tok);
	return 0;
}

/* Returns the references to follow, newest first (borrowed strings). */
static GPtrArray *
thread_ids(const struct parse_result *parsed)
{
	GPtrArray	*ids = g_ptr_array_new();
	guint		 i;

	if (!is_empty(parsed->in_reply_to))
		g_ptr_array_add(ids, parsed->in_reply_to);
	for (i = parsed->references != NULL ? parsed->references->len : 0;
	    i > 0; i--)
		g_ptr_array_add(ids, g_ptr_array_index(parsed->references,
		    i - 1));
	return ids;
}

static int64_t
tag_incident(struct run *r)
{
	int64_t	id;
	bool	is_open;

	id = classify_subject_incident_tag(r->parsed->subject);
	if (id != 0 && r->lookup->incident_exists(r->ctx, id, &is_open))
		return id;
	return 0;
}

/*
 * Finds the incident a message belongs to by token, reference or subject
 * tag, for messages that are filed there without acting on them.
 */
static int64_t
thread_incident(struct run *r)
{
	struct classify_token	 tok;
	GPtrArray		*ids = thread_ids(r->parsed);
	int64_t			 incident = 0;
	guint			 i;

	for (i = 0; i < ids->len && incident == 0; i++) {
		incident = token_incident(r, g_ptr_array_index(ids, i), &tok);
		classify_token_fini(&tok);
	}
	for (i = 0; i < ids->len && incident == 0; i++)
		incident = r->lookup->incident_by_message_id(r->ctx,
		    g_ptr_array_index(ids, i));
	g_ptr_array_unref(ids);
	return incident != 0 ? incident : tag_incident(r);
}

static bool
step_loop(struct run *r)
{
	struct classify_token	 tok;
	char			*header;
	int64_t			 incident;

	header = classify_raw_header(r->in->raw, r->in->raw_len,
	    CLASSIFY_LOOP_HEADER);
	if (header != NULL) {
		g_free(header);
		return decide(r, CLASSIFY_LOOP, thread_incident(r),
		    "our loop header " CLASSIFY_LOOP_HEADER);
	}
	if (!is_empty(r->parsed->message_id)) {
		incident = token_incident(r, r->parsed->message_id, &tok);
		classify_token_fini(&tok);
		if (incident != 0)
			return decide(r, CLASSIFY_LOOP, incident,
			    "Message-ID is one of ours");
	}
	if (!is_empty(r->settings->from_addr) &&
	    !is_empty(r->parsed->from_addr) &&
	    g_ascii_strcasecmp(r->parsed->from_addr,
	    r->settings->from_addr) == 0)
		return decide(r, CLASSIFY_LOOP, thread_incident(r),
		    "From is our own address");
	/* Without a From header, the envelope sender stands for it. */
	if (!is_empty(r->settings->from_addr) &&
	    is_empty(r->parsed->from_addr) && !is_empty(r->sender) &&
	    g_ascii_strcasecmp(r->sender, r->settings->from_addr) == 0)
		return decide(r, CLASSIFY_LOOP, thread_incident(r),
		    "no From, and the envelope sender is our own address");
	return false;
}

static bool
is_null_path(const struct classify_input *in)
{
	return in->mail_from != NULL && in->mail_from[0] == '\0';
}

static bool
is_mailer_daemon(const char *addr)
{
	return addr != NULL &&
	    (g_ascii_strncasecmp(addr, "mailer-daemon@", 14) == 0 ||
	    g_ascii_strncasecmp(addr, "postmaster@", 11) == 0);
}

static bool
is_bounce(struct run *r)
{
	const struct parse_result	*p = r->parsed;

	if (p->is_report && p->report_type != NULL &&
	    g_ascii_strcasecmp(p->report_type, "delivery-status") == 0)
		return true;
	return is_null_path(r->in) && is_mailer_daemon(p->from_addr);
}

/* Returns a copy of the first body header called name, or NULL. */
static char *
first_body_header(struct run *r, const char *name)
{
	GPtrArray	*values = g_ptr_array_new_with_free_func(g_free);
	char		*value = NULL;

	classify_raw_body_headers(r->in->raw, r->in->raw_len, name, values);
	if (values->len > 0)
		value = g_strdup(g_ptr_array_index(values, 0));
	g_ptr_array_unref(values);
	return value;
}

/* Returns the incident of the returned message's Message-ID, or 0. */
static int64_t
returned_incident(struct run *r)
{
	struct classify_token	 tok;
	GPtrArray		*values;
	char			*id;
	int64_t			 incident = 0;
	guint			 i;

	values = g_ptr_array_new_with_free_func(g_free);
	classify_raw_body_headers(r->in->raw, r->in->raw_len, "Message-ID",
	    values);
	for (i = 0; i < values->len && incident == 0; i++) {
		id = parse_message_id_normalise(g_ptr_array_index(values, i));
		if (id == NULL)
			continue;
		incident = token_incident(r, id, &tok);
		classify_token_fini(&tok);
		if (incident == 0)
			incident = r->lookup->incident_by_message_id(r->ctx,
			    id);
		g_free(id);
	}
	g_ptr_array_unref(values);
	return incident;
}

static bool
step_bounce(struct run *r)
{
	char	*recipient, *semicolon;
	int64_t	 incident;

	if (!is_bounce(r))
		return false;
	recipient = first_body_header(r, "Final-Recipient");
	semicolon = recipient != NULL ? strchr(recipient, ';') : NULL;
	if (semicolon != NULL) {
		r->out->bounce_recipient = g_strstrip(g_strdup(semicolon + 1));
		g_free(recipient);
	} else {
		r->out->bounce_recipient = recipient;
	}
	r->out->bounce_status = first_body_header(r, "Status");
	incident = returned_incident(r);
	if (incident == 0)
		incident = thread_incident(r);
	return decide(r, CLASSIFY_BOUNCE, incident, "delivery report%s",
	    incident != 0 ? " for our mail" : "");
}

/* Returns why the message is automatic (RFC 3834 and common headers). */
static const char *
automatic_reason(struct run *r)
{
	const struct parse_result	*p = r->parsed;
	const char			*prec = p->precedence;
	size_t				 n;

	if (!is_empty(p->auto_submitted)) {
		n = strcspn(p->auto_submitted, "; \t");
		if (n != 2 || g_ascii_strncasecmp(p->auto_submitted, "no",
		    2) != 0)
			return "Auto-Submitted header";
	}
	if (prec != NULL && (g_ascii_strcasecmp(prec, "bulk") == 0 ||
	    g_ascii_strcasecmp(prec, "junk") == 0 ||
	    g_ascii_strcasecmp(prec, "list") == 0))
		return "Precedence header";
	if (p->has_autoreply_header)
		return "X-Autoreply or X-Autorespond header";
	if (!is_empty(p->list_id))
		return "List-Id header";
	if (is_null_path(r->in))
		return "null reverse path";
	if (p->is_report)
		return "multipart/report";
	return NULL;
}

static bool
step_automatic(struct run *r)
{
	const char	*why = automatic_reason(r);

	if (why == NULL)
		return false;
	return decide(r, CLASSIFY_AUTO_REPLY, thread_incident(r),
	    "automatic mail: %s", why);
}

/* Tells whether the sender wrote in the incident before. */
static bool
has_written(struct run *r, int64_t incident)
{
	return r->lookup->incident_has_sender != NULL &&
	    !is_empty(r->sender) &&
	    r->lookup->incident_has_sender(r->ctx, incident, r->sender);
}

/*
 * Decides a reply that carries a verified token of ours.  NOTE: it joins
 * the incident in any state, so a reply to the mail about a resolved
 * incident that says the outage is back pages nobody: only the members
 * who took and resolved it get it by mail.
 */
static bool
decide_token_reply(struct run *r, const struct classify_token *tok)
{
	const struct cfg_member	*member = NULL;
	const char		*word;
	const char		*kind = token_kind_names[tok->kind];

	/* Our mail may have been forwarded: a reply makes its sender a
	 * reporter only if they wrote in the incident before. */
	r->out->is_not_reporter = !has_written(r, tok->incident_id);
	r->out->is_reply_to_us = true;
	if (tok->kind != CLASSIFY_TOKEN_PAGE || tok->member == NULL)
		return decide(r, CLASSIFY_UPDATE, tok->incident_id,
		    "reply to our %s mail", kind);
	member = cfg_member_by_name(r->cfg, tok->member);
	if (member == NULL || member->email == NULL ||
	    is_empty(r->parsed->from_addr) ||
	    g_ascii_strcasecmp(member->email, r->parsed->from_addr) != 0)
		return decide(r, CLASSIFY_UPDATE, tok->incident_id,
		    "reply to the page for member %s from another sender",
		    tok->member);
	if (classify_is_resolve_text(r->parsed->body_text)) {
		r->out->ack_member = g_strdup(tok->member);
		r->out->is_resolve = true;
		return decide(r, CLASSIFY_ACK, tok->incident_id,
		    "token for member %s, sent from %s, resolve word",
		    tok->member, member->email);
	}
	if (!classify_is_ack_text(r->parsed->body_text,
	    r->settings->ack_words, &word))
		return decide(r, CLASSIFY_UPDATE, tok->incident_id,
		    "note from member %s on its page", tok->member);
	r->out->ack_member = g_strdup(tok->member);
	return decide(r, CLASSIFY_ACK, tok->incident_id,
	    "token for member %s, sent from %s, ack word '%s'", tok->member,
	    member->email, word);
}

static bool
step_token(struct run *r)
{
	struct classify_token	 tok = { .member = NULL };
	GPtrArray		*ids = thread_ids(r->parsed);
	bool			 decided = false;
	guint			 i;

	for (i = 0; i < ids->len && !decided; i++) {
		if (token_incident(r, g_ptr_array_index(ids, i), &tok) != 0)
			decided = decide_token_reply(r, &tok);
		classify_token_fini(&tok);
	}
	g_ptr_array_unref(ids);
	return decided;
}

/*
 * Tells whether a message may join incident as an update: while the
 * incident is unacknowledged, or later from someone who already wrote in
 * it.  Anyone else's mail that only names an old incident (a reply to a
 * month-old thread, a helpdesk's "[#1234]") may report a new emergency,
 * so it opens an incident of its own and pages.
 */
static bool
may_join(struct run *r, int64_t incident)
{
	bool	is_open = false;

	if (!r->lookup->incident_exists(r->ctx, incident, &is_open))
		return false;
	if (is_open)
		return true;
	return r->lookup->incident_has_sender != NULL &&
	    !is_empty(r->sender) &&
	    r->lookup->incident_has_sender(r->ctx, incident, r->sender);
}

static bool
step_references(struct run *r)
{
	GPtrArray	*ids = thread_ids(r->parsed);
	int64_t		 incident = 0;
	guint		 i;

	for (i = 0; i < ids->len && incident == 0; i++)
		incident = r->lookup->incident_by_message_id(r->ctx,
		    g_ptr_array_index(ids, i));
	g_ptr_array_unref(ids);
	if (incident == 0 || !may_join(r, incident))
		return false;
	return decide(r, CLASSIFY_UPDATE, incident,
	    "In-Reply-To or References names a message of the incident");
}

static bool
step_subject_tag(struct run *r)
{
	int64_t	incident = tag_incident(r);

	if (incident == 0 || !may_join(r, incident))
		return false;
	r->out->is_not_reporter = !has_written(r, incident);
	return decide(r, CLASSIFY_UPDATE, incident, "subject tag [#%"
	    G_GINT64_FORMAT "]", incident);
}

static bool
step_fingerprint(struct run *r)
{
	int64_t	incident;

	if (is_empty(r->sender) || r->settings->window_ms <= 0)
		return false;
	incident = r->lookup->incident_by_fingerprint(r->ctx,
	    r->out->fingerprint, r->in->received_ms - r->settings->window_ms);
	if (incident == 0)
		return false;
	r->out->is_repeat = true;
	return decide(r, CLASSIFY_UPDATE, incident,
	    "repeat: same sender and subject within the dedup window");
}

static bool
step_sender(struct run *r)
{
	int64_t	incident;

	if (is_empty(r->sender) || r->settings->window_ms <= 0)
		return false;
	incident = r->lookup->incident_by_sender(r->ctx, r->sender,
	    r->in->received_ms - r->settings->window_ms);
	if (incident == 0)
		return false;
	return decide(r, CLASSIFY_UPDATE, incident,
	    "same sender writes again within the dedup window");
}

/*
 * Many customers writing about one outage, each a new sender with the
 * same subject, join the incident the first one opened while it still
 * pages: paging the whole team once per customer is the page storm the
 * gateway exists to prevent.  The team sees each as an update.
 */
static bool
step_outage(struct run *r)
{
	int64_t	incident;

	if (r->out->subject_key == NULL || r->settings->window_ms <= 0 ||
	    r->lookup->incident_by_subject_key == NULL)
		return false;
	incident = r->lookup->incident_by_subject_key(r->ctx,
	    r->out->subject_key, r->in->received_ms - r->settings->window_ms);
	if (incident == 0)
		return false;
	return decide(r, CLASSIFY_UPDATE, incident,
	    "same subject as an open incident within the dedup window");
}

/*
 * Mail from an address critgate mailed moments ago is most likely a robot
 * answering that mail without saying so (no Auto-Submitted, a subject of
 * its own): it joins that incident, so that our update cannot open a new
 * incident that mails it again.
 */
static bool
step_echo(struct run *r)
{
	int64_t	incident;

	if (is_empty(r->sender) || r->lookup->incident_mailed_to == NULL)
		return false;
	incident = r->lookup->incident_mailed_to(r->ctx, r->sender,
	    r->in->received_ms - CLASSIFY_ECHO_WINDOW_MS, r->in->received_ms);
	if (incident == 0)
		return false;
	r->out->is_not_reporter = true;
	return decide(r, CLASSIFY_UPDATE, incident, "from an address we "
	    "mailed within %d s, most likely an automatic answer",
	    CLASSIFY_ECHO_WINDOW_MS / 1000);
}

/*
 * Joins a report to the storm incident when storm grouping is on: the
 * latest incident of the same severity opened within dedup.storm_minutes,
 * while it is not acknowledged, whatever the sender and wording.
 * Customers word one outage in many ways, and the team is already being
 * paged.  The report stays in the incident's timeline.  After an
 * acknowledgement, new reports open incidents of their own again.
 */
static bool
step_storm(struct run *r)
{
	int64_t	incident;

	if (r->settings->storm_window_ms <= 0 ||
	    r->lookup->incident_unacked_since == NULL)
		return false;
	incident = r->lookup->incident_unacked_since(r->ctx, r->out->severity,
	    r->in->received_ms - r->settings->storm_window_ms);
	if (incident == 0)
		return false;
	return decide(r, CLASSIFY_UPDATE, incident, "storm: joins incident %"
	    G_GINT64_FORMAT ", opened within dedup.storm_minutes and not "
	    "acknowledged yet", incident);
}

static bool
step_new(struct run *r)
{
	return decide(r, CLASSIFY_NEW_INCIDENT, 0, "new %s request",
	    cfg_severity_name(r->out->severity));
}

#define OUTAGE_KEY_MIN	12	/* bytes of subject key to match senders on */

/*
 * Returns the subject other senders' mail is matched on: reply and forward
 * prefixes stripped and case folded, but numbers kept, as two customers
 * naming different regions or orders are not reporting one outage.  NULL
 * when it is too short or generic ("help", "urgent") to tell.
 */
static char *
outage_key(const struct parse_result *parsed)
{
	char	*normal, *key;

	/* Placeholders ("(no subject)", "(unparseable message)") name no
	 * outage. */
	if (parsed->is_unparseable ||
	    strcmp(parsed->subject, "(no subject)") == 0)
		return NULL;
	normal = classify_subject_normalise(parsed->subject);
	key = normal != NULL ? g_utf8_casefold(normal, -1) : NULL;
	g_free(normal);
	if (key == NULL || strlen(key) < OUTAGE_KEY_MIN) {
		g_free(key);
		return NULL;
	}
	return key;
}

/*
 * The content hash of the message.  Parsed fields make a mail server's
 * refetch with an extra Received header the same message; but mail that
 * could not be parsed, or has no From, shares its placeholder fields with
 * every other such message, so its raw bytes and envelope sender are
 * hashed instead, or two customers' emergencies would count as one.
 */
static char *
content_hash(const struct run *r)
{
	GChecksum	*sum;
	char		*hex;

	if (!r->parsed->is_unparseable && !is_empty(r->parsed->from_addr))
		return classify_content_hash(r->parsed);
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)"raw-1", 6);
	if (r->in->mail_from != NULL)
		g_checksum_update(sum, (const guchar *)r->in->mail_from,
		    (gssize)strlen(r->in->mail_from) + 1);
	if (r->in->raw != NULL)
		g_checksum_update(sum, r->in->raw, (gssize)r->in->raw_len);
	hex = g_strdup(g_checksum_get_string(sum));
	g_checksum_free(sum);
	return hex;
}

/* Tried in order; the first that returns true has decided. */
static bool (*const steps[])(struct run *) = {
	step_route,
	step_duplicate_id,
	step_duplicate_content,
	step_loop,
	step_bounce,
	step_automatic,
	step_token,
	step_references,
	step_subject_tag,
	step_fingerprint,
	step_sender,
	step_outage,
	step_echo,
	step_storm,
	step_new,
};

static bool
lookup_is_complete(const struct classify_lookup *l)
{
	return l != NULL && l->message_by_message_id != NULL &&
	    l->message_by_content_hash != NULL &&
	    l->incident_of_message != NULL &&
	    l->incident_by_message_id != NULL &&
	    l->incident_by_fingerprint != NULL &&
	    l->incident_by_sender != NULL && l->incident_exists != NULL;
}

int
classify_message(const struct cfg *cfg,
    const struct classify_settings *settings, const struct classify_input *in,
    const struct classify_lookup *lookup, void *ctx,
    struct classify_result *out)
{
	struct run	r = { cfg, settings, in, NULL, lookup, ctx, out, NULL };
	size_t		i;

	memset(out, 0, sizeof(*out));
	out->class = CLASSIFY_REJECTED;
	if (cfg == NULL || settings == NULL || in == NULL ||
	    in->parsed == NULL || !lookup_is_complete(lookup)) {
		out->reason = g_strdup("classification input missing");
		out->content_hash = g_strdup("");
		return -1;
	}
	r.parsed = in->parsed;
	r.sender = !is_empty(r.parsed->from_addr) ? r.parsed->from_addr :
	    in->mail_from;
	out->subject = classify_subject_normalise(r.parsed->subject);
	out->content_hash = content_hash(&r);
	out->fingerprint = classify_fingerprint(r.sender, r.parsed->subject);
	out->subject_key = outage_key(r.parsed);
	for (i = 0; i < G_N_ELEMENTS(steps); i++)
		if (steps[i](&r))
			break;
	return 0;
}

void
classify_result_fini(struct classify_result *result)
{
	g_clear_pointer(&result->reason, g_free);
	g_clear_pointer(&result->fingerprint, g_free);
	g_clear_pointer(&result->subject_key, g_free);
	g_clear_pointer(&result->content_hash, g_free);
	g_clear_pointer(&result->subject, g_free);
	g_clear_pointer(&result->ack_member, g_free);
	g_clear_pointer(&result->bounce_recipient, g_free);
	g_clear_pointer(&result->bounce_status, g_free);
	result->incident_id = 0;
	result->duplicate_of = 0;
	result->is_repeat = false;
}
