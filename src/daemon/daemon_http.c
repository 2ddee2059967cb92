/* SPDX-License-Identifier: ISC */
/*
 * The HTTP listener (libmicrohttpd on the GLib loop through its epoll fd)
 * and the handlers of Twilio's and Vonage's webhooks: an engineer's SMS
 * reply, the keypress on our call, and delivery status.  Every webhook
 * must carry a valid signature (X-Twilio-Signature over our public URL,
 * Vonage's "sig" or its signed JWT), or it gets 401 or 403 and changes
 * nothing.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <glib-unix.h>
#include <microhttpd.h>

#include "clock.h"
#include "daemon.h"
#include "http.h"
#include "log.h"

#define HTTP_TICK_MS		1000
/*
 * Twilio gives up on a webhook after 15 s, so a connection silent for 10 s
 * is not Twilio's: closing it early keeps slow clients from holding every
 * slot while an engineer's acknowledgement waits.
 */
#define HTTP_IDLE_S		10
#define HTTP_CONNECTIONS_MAX	1024

/* How many statuses for unknown sids are kept, and for how long. */
#define HTTP_EARLY_MAX		256
#define HTTP_EARLY_MS		(60 * 1000)

/* Parts of one SMS at most: a concatenated SMS's header counts them in
 * one byte. */
#define VONAGE_SMS_PARTS_MAX	255
/*
 * Bytes of an SMS's text read at most, the rest cut off: the length of
 * the longest Twilio SMS, in characters, and far beyond what an
 * acknowledgement needs.  Without it, a webhook could make a note of
 * megabytes out of many parts.
 */
#define SMS_TEXT_MAX		1600

struct daemon_http {
	struct daemon		*d;
	struct MHD_Daemon	*mhd;
	guint			 epoll_source;
	guint			 tick_source;
	/* sid -> struct early_status: statuses a provider sent before its
	 * API response was handled. */
	GHashTable		*early;
	/* member name -> struct reply_budget: the SMS replies each member
	 * got lately. */
	GHashTable		*replies;
};

/*
 * SMS replies a member gets at most in SMS_REPLY_WINDOW_MS.  Past them,
 * an SMS gets no reply, so that an auto-reply on a phone and ours cannot
 * keep answering each other.  The confirmation of an acknowledgement
 * always goes out, as there is one per incident.
 */
#define SMS_REPLIES_MAX		5
#define SMS_REPLY_WINDOW_MS	(10 * 60 * 1000)

struct reply_budget {
	int64_t	since_ms;	/* start of the current window */
	int	count;		/* replies in it */
};

struct early_status {
	char	*status;
	char	*error;		/* or NULL */
	int64_t	 at_ms;
};

/* One request as it arrives; owned by libmicrohttpd's connection. */
struct http_request {
	char	*raw_uri;	/* path and query exactly as sent */
	GString	*body;
	bool	 is_started;
	bool	 is_too_big;
};

/* What a handler answers. */
struct http_answer {
	unsigned int	 status;
	const char	*content_type;
	char		*body;		/* owned, may be NULL */
};

struct http_call {
	struct daemon			*d;
	struct MHD_Connection		*conn;
	struct http_request		*req;
	const struct http_form		*form;
	struct http_answer		*answer;
};

typedef void	(*http_handler_fn)(struct http_call *call);
/* Checks a request as its provider's webhook, then runs handler. */
typedef void	(*http_check_fn)(struct daemon *d, struct MHD_Connection *conn,
		    struct http_request *req, const char *method,
		    http_handler_fn handler, struct http_answer *answer);

static void	hook_sms(struct http_call *call);
static void	hook_sms_status(struct http_call *call);
static void	hook_voice_status(struct http_call *call);
static void	hook_voice_gather(struct http_call *call);
static void	hook_vonage_sms(struct http_call *call);
static void	hook_vonage_dlr(struct http_call *call);
static void	hook_vonage_event(struct http_call *call);
static void	hook_vonage_input(struct http_call *call);
static void	check_twilio(struct daemon *d, struct MHD_Connection *conn,
		    struct http_request *req, const char *method,
		    http_handler_fn handler, struct http_answer *answer);
static void	check_vonage_sms(struct daemon *d,
		    struct MHD_Connection *conn, struct http_request *req,
		    const char *method, http_handler_fn handler,
		    struct http_answer *answer);
static void	check_vonage_voice(struct daemon *d,
		    struct MHD_Connection *conn, struct http_request *req,
		    const char *method, http_handler_fn handler,
		    struct http_answer *answer);

static const struct http_hook {
	const char	*path;
	http_handler_fn	 handler;
	http_check_fn	 check;
} http_hooks[] = {
	{ "/hooks/twilio/sms", hook_sms, check_twilio },
	{ "/hooks/twilio/sms/status", hook_sms_status, check_twilio },
	{ "/hooks/twilio/voice/status", hook_voice_status, check_twilio },
	{ "/hooks/twilio/voice/gather", hook_voice_gather, check_twilio },
	{ "/hooks/vonage/sms/inbound", hook_vonage_sms, check_vonage_sms },
	{ "/hooks/vonage/sms/status", hook_vonage_dlr, check_vonage_sms },
	{ "/hooks/vonage/voice/event", hook_vonage_event,
	    check_vonage_voice },
	{ "/hooks/vonage/voice/input", hook_vonage_input,
	    check_vonage_voice },
};

static void
answer_twiml(struct http_call *call, char *twiml)
{
	call->answer->status = MHD_HTTP_OK;
	call->answer->content_type = "text/xml";
	call->answer->body = twiml;
}

/* Answers an SMS with a reply text, or with nothing when text is NULL. */
static void
answer_sms(struct http_call *call, const char *text)
{
	if (text == NULL) {
		answer_twiml(call, g_strdup("<?xml version=\"1.0\" encoding="
		    "\"UTF-8\"?><Response/>"));
		return;
	}
	answer_twiml(call, g_markup_printf_escaped("<?xml version=\"1.0\" "
	    "encoding=\"UTF-8\"?><Response><Message>%s</Message></Response>",
	    text));
}

static char *
open_incidents_text(GPtrArray *open)
{
	GString	*text = g_string_new("Several incidents are paging you: "
	    "reply ");
	guint	 i;

	for (i = 0; i < open->len; i++) {
		struct store_incident *inc = g_ptr_array_index(open, i);

		g_string_append_printf(text, "%sACK %" PRId64,
		    i == 0 ? "" : (i + 1 == open->len ? " or " : ", "),
		    inc->id);
	}
	g_string_append(text, ".");
	return g_string_free(text, FALSE);
}

static const struct store_incident *
find_incident(GPtrArray *list, int64_t id)
{
	guint	i;

	for (i = 0; i < list->len; i++) {
		struct store_incident *inc = g_ptr_array_index(list, i);

		if (inc->id == id)
			return inc;
	}
	return NULL;
}

static void
sms_ack_note_rejected(struct store *store, int64_t incident_id,
    const char *detail)
{
	(void)store_event_add_unless_recent(store, incident_id,
	    "ack-rejected", detail, clock_now_ms(),
	    DAEMON_ACK_REJECTED_QUIET_MS);
}

/*
 * Returns the reply to an ACK that acknowledged nothing.  Records the
 * attempt on the timeline of the incident it named, or of every incident
 * paging the member when it named none, so that `critgate show` lists
 * it.
 */
static char *
sms_ack_rejected(struct store *store, const char *member,
    const struct http_sms_reply *reply, GPtrArray *open)
{
	struct store_incident	 named;
	char			*detail = NULL, *text;
	guint			 i;

	if (reply->incident_id == 0 && open->len == 0)
		return g_strdup("No open incident is paging you, so nothing "
		    "was acknowledged.");
	if (reply->incident_id == 0) {
		detail = g_strdup_printf("by=%s channel=sms: no incident "
		    "named, and %u are paging %s", member, open->len, member);
		for (i = 0; i < open->len; i++)
			sms_ack_note_rejected(store, ((struct store_incident *)
			    g_ptr_array_index(open, i))->id, detail);
		g_free(detail);
		return open_incidents_text(open);
	}
	if (store_incident_get(store, reply->incident_id, &named) == -1)
		return g_strdup_printf("%" PRId64 " is not an open incident "
		    "paging you, so nothing was acknowledged. Reply ACK "
		    "<number> with the number of your page.",
		    reply->incident_id);
	if (named.acked_ms != 0 && g_strcmp0(named.acked_by, member) == 0) {
		text = g_strdup_printf("You acknowledged incident %" PRId64
		    " already.", named.id);
	} else if (named.acked_ms != 0) {
		text = g_strdup_printf("Incident %" PRId64 " was acknowledged "
		    "by %s already, so nothing more was recorded.", named.id,
		    named.acked_by != NULL ? named.acked_by : "someone");
		detail = g_strdup_printf("by=%s channel=sms: acknowledged by "
		    "%s already", member, named.acked_by != NULL ?
		    named.acked_by : "-");
	} else {
		text = g_strdup_printf("%" PRId64 " is not an open incident "
		    "paging you, so nothing was acknowledged. Reply ACK "
		    "<number> with the number of your page.", named.id);
		detail = g_strdup_printf("by=%s channel=sms: the incident "
		    "named is not paging %s", member, member);
	}
	if (detail != NULL)
		sms_ack_note_rejected(store, named.id, detail);
	g_free(detail);
	store_incident_fini(&named);
	return text;
}

/*
 * Picks the incident an ACK means: the one named, or the only one open.
 * Returns the reply, and sets *is_acked when the ACK acknowledged the
 * incident, which happens once per incident.
 */
static char *
sms_ack(struct http_call *call, const struct cfg_member *member,
    const struct http_sms_reply *reply, bool *is_acked)
{
	const struct store_incident	*target = NULL;
	GPtrArray			*open;
	char				*text;
	int				 rc;

	*is_acked = false;
	open = store_incidents_paging_member(call->d->store, member->name);
	if (open == NULL)
		return g_strdup("critgate could not read its store; your "
		    "acknowledgement was not recorded. Please try again.");
	if (reply->incident_id != 0)
		target = find_incident(open, reply->incident_id);
	else if (open->len == 1)
		target = g_ptr_array_index(open, 0);
	if (target == NULL) {
		log_info("http: sms ack not applied member=%s inc=%" PRId64
		    " paging_member=%u", member->name, reply->incident_id,
		    open->len);
		text = sms_ack_rejected(call->d->store, member->name, reply,
		    open);
		g_ptr_array_free(open, TRUE);
		return text;
	}
	rc = daemon_page_ack(&call->d->outbox, target->id, member->name,
	    "sms", reply->note);
	if (rc == -1)
		text = g_strdup("critgate could not record your "
		    "acknowledgement. Please try again.");
	else
		text = g_strdup_printf("Acknowledged incident %" PRId64
		    ". Paging stopped for everyone.", target->id);
	*is_acked = rc == 1;
	g_ptr_array_free(open, TRUE);
	return text;
}

/*
 * Counts one SMS reply to member, and returns whether it may go out:
 * SMS_REPLIES_MAX in SMS_REPLY_WINDOW_MS at most.
 */
static bool
sms_reply_allowed(struct daemon_http *http, const char *member)
{
	struct reply_budget	*b = g_hash_table_lookup(http->replies, member);
	int64_t			 now = clock_now_ms();

	if (b == NULL) {
		b = g_new0(struct reply_budget, 1);
		g_hash_table_insert(http->replies, g_strdup(member), b);
	}
	if (b->count == 0 || now - b->since_ms >= SMS_REPLY_WINDOW_MS) {
		b->since_ms = now;
		b->count = 0;
	}
	if (b->count >= SMS_REPLIES_MAX) {
		log_warnx("http: sms reply withheld member=%s; %d went out in "
		    "the last %d minutes", member, b->count,
		    SMS_REPLY_WINDOW_MS / 60000);
		return false;
	}
	b->count++;
	return true;
}

/*
 * Tells whether this SMS was handled before, and then answers it.  A
 * signed request carries no timestamp, so a captured or retried "ACK"
 * could otherwise acknowledge whichever incident is open when it is
 * sent again.
 */
static bool
sms_is_replay(struct http_call *call)
{
	const char	*sid = http_form_get(call->form, "MessageSid");
	char		*key;
	int		 seen;

	if (sid == NULL || sid[0] == '\0') {
		log_info("http: sms without MessageSid ignored");
		answer_sms(call, NULL);
		return true;
	}
	key = g_strconcat("twilio-sms:", sid, NULL);
	seen = store_webhook_seen(call->d->store, key, clock_now_ms());
	g_free(key);
	if (seen == 0)
		return false;
	if (seen == 1)
		log_info("http: sms replayed, ignored sid=%s", sid);
	/* A store failure: 503, so that a provider retry can still land. */
	if (seen == -1)
		call->answer->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else
		answer_sms(call, NULL);
	return true;
}

static void
hook_sms(struct http_call *call)
{
	const struct cfg_member	*member;
	struct http_sms_reply	 reply;
	const char		*from, *body;
	char			 phone[LOG_PHONE_LEN], *text = NULL;
	bool			 is_acked = false;

	from = http_form_get(call->form, "From");
	body = http_form_get(call->form, "Body");
	member = from != NULL ? cfg_member_by_phone(call->d->cfg, from) : NULL;
	if (member == NULL) {
		log_info("http: sms from a number not in the team from=%s",
		    log_phone(from, phone));
		answer_sms(call, NULL);
		return;
	}
	if (sms_is_replay(call))
		return;
	http_sms_reply_parse(body != NULL ? body : "", &reply);
	switch (reply.kind) {
	case HTTP_SMS_ACK:
		text = sms_ack(call, member, &reply, &is_acked);
		break;
	case HTTP_SMS_OPT_OUT:
		log_errorx("http: sms opt-out member=%s; the provider sends "
		    "this member no SMS until they text START", member->name);
		break;
	case HTTP_SMS_OPT_IN:
	case HTTP_SMS_HELP:
		log_info("http: sms keyword member=%s", member->name);
		break;
	case HTTP_SMS_OTHER:
		log_info("http: sms not an acknowledgement member=%s",
		    member->name);
		text = g_strdup("Not understood. To acknowledge, reply ACK, "
		    "ACK <incident number> or 1.");
		break;
	}
	if (text != NULL && !is_acked &&
	    !sms_reply_allowed(call->d->http, member->name)) {
		g_free(text);
		text = NULL;
	}
	answer_sms(call, text);
	g_free(text);
	http_sms_reply_fini(&reply);
}

/* Ranks a provider status so that a late, earlier status never wins. */
static int
status_rank(const char *status)
{
	static const struct {
		const char	*name;
		int		 rank;
	} ranks[] = {
		{ "accepted", 0 }, { "scheduled", 0 }, { "queued", 1 },
		{ "initiated", 2 }, { "sending", 2 }, { "ringing", 3 },
		{ "sent", 3 }, { "in-progress", 4 }, { "delivered", 5 },
		{ "undelivered", 5 }, { "failed", 5 }, { "completed", 5 },
		{ "busy", 5 }, { "no-answer", 5 }, { "canceled", 5 },
		{ "read", 6 },
		/* Vonage's call events and delivery receipt statuses. */
		{ "started", 2 }, { "answered", 4 }, { "buffered", 3 },
		{ "expired", 5 }, { "rejected", 5 }, { "unknown", 5 },
		{ "unanswered", 5 }, { "timeout", 5 }, { "cancelled", 5 },
	};
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(ranks); i++)
		if (strcmp(status, ranks[i].name) == 0)
			return ranks[i].rank;
	return 0;
}

/* Final statuses that mean a page did not reach the member: an SMS not
 * delivered, or a call not answered. */
static bool
status_is_undelivered(const char *status)
{
	static const char *const names[] = {
		"undelivered", "failed", "busy", "no-answer", "expired",
		"rejected", "unanswered", "timeout",
	};
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (strcmp(status, names[i]) == 0)
			return true;
	return false;
}

static void
early_free(gpointer data)
{
	struct early_status	*e = data;

	g_free(e->status);
	g_free(e->error);
	g_free(e);
}

static gboolean
early_is_stale(gpointer key, gpointer value, gpointer now_ms)
{
	const struct early_status	*e = value;

	(void)key;
	return *(const int64_t *)now_ms - e->at_ms > HTTP_EARLY_MS;
}

/*
 * Keeps a status for a sid no page carries yet, because a provider may
 * send it before critgate has handled the API response that named the
 * sid.  Of several, the one of highest rank is kept.  Returns whether it
 * was kept.
 */
static bool
early_keep(struct daemon_http *http, const char *sid, const char *status,
    const char *error, int64_t now_ms)
{
	struct early_status	*e;

	if (daemon_curl_in_flight(http->d->curl) == 0)
		return false;
	g_hash_table_foreach_remove(http->early, early_is_stale, &now_ms);
	e = g_hash_table_lookup(http->early, sid);
	if (e == NULL && g_hash_table_size(http->early) >= HTTP_EARLY_MAX)
		return false;
	if (e != NULL && status_rank(e->status) >= status_rank(status))
		return true;
	e = g_new0(struct early_status, 1);
	e->status = g_strdup(status);
	e->error = g_strdup(error);
	e->at_ms = now_ms;
	g_hash_table_replace(http->early, g_strdup(sid), e);
	return true;
}

/* The first page of a status's sid and that page's incident, both 0 when
 * the sid is unknown. */
struct status_page {
	int64_t	id;
	int64_t	incident_id;
};

/* Logs a status that the pages of sid recorded, a line for each page, so
 * that each incident of a bundle has its own. */
static void
status_log(struct daemon *d, const char *sid, const char *status,
    const char *error)
{
	const struct store_page	*page;
	GPtrArray		*pages;
	guint			 i;

	pages = store_pages_by_sid(d->store, sid);
	if (pages == NULL)
		return;
	for (i = 0; i < pages->len; i++) {
		page = g_ptr_array_index(pages, i);
		log_info("notify: status inc=%" PRId64 " page=%" PRId64
		    " sid=%s status=%s%s%s", page->incident_id, page->id, sid,
		    status, error ? " error=" : "", error ? error : "");
	}
	g_ptr_array_free(pages, TRUE);
}

/* Records a delivery status of the request sent as sid; a failed
 * delivery sends its pages through the next provider.  Returns what
 * store_page_status returned, and 0 for an unknown sid. */
static int
status_apply(struct daemon *d, const char *sid, const char *status,
    const char *error, struct status_page *page)
{
	int	recorded;

	if (error != NULL && error[0] == '\0')
		error = NULL;
	recorded = store_page_status(d->store, sid, status,
	    status_rank(status), error, clock_now_ms(), &page->id,
	    &page->incident_id);
	if (recorded != 1)
		return recorded;
	status_log(d, sid, status, error);
	if (status_is_undelivered(status))
		daemon_provider_undelivered(d, sid, status);
	return 1;
}

void
daemon_http_status_early(struct daemon *d, const char *sid)
{
	struct early_status	*e;
	struct status_page	 page;
	gpointer		 key;

	if (d->http == NULL || sid == NULL ||
	    !g_hash_table_steal_extended(d->http->early, sid, &key,
	    (gpointer *)&e))
		return;
	g_free(key);
	log_info("notify: status that came before the API response applied "
	    "sid=%s status=%s", sid, e->status);
	(void)status_apply(d, sid, e->status, e->error, &page);
	early_free(e);
}

/*
 * Reads the page ids of list into ids, checking that they name pages of
 * one member on channel, as one request carries, that went last to
 * provider.  Returns NULL, or the reason they do not.
 */
static const char *
listed_pages_read(struct store *store, const char *list,
    enum notify_channel channel, const char *provider, GArray *ids)
{
	struct store_page	 page;
	const char		*reason = NULL;
	char			**items, *member = NULL;
	gint64			 id;
	int			 i;

	items = g_strsplit(list, ",", NOTIFY_STATUS_URL_PAGES + 1);
	for (i = 0; reason == NULL && items[i] != NULL &&
	    i < NOTIFY_STATUS_URL_PAGES; i++) {
		memset(&page, 0, sizeof(page));
		if (!g_ascii_string_to_signed(items[i], 10, 1, G_MAXINT64,
		    &id, NULL))
			reason = "not a page id";
		else if (store_page_get(store, id, &page) == -1)
			reason = "no such page";
		else if (page.channel != channel)
			reason = "a page of another channel";
		else if (member != NULL && strcmp(member, page.member) != 0)
			reason = "pages of two members";
		else if (page.provider != NULL &&
		    strcmp(page.provider, provider) != 0)
			/* It failed over: the request in flight at the stop
			 * went to the next provider, whose status counts. */
			reason = "a page sent through another provider since";
		if (reason == NULL && member == NULL)
			member = g_strdup(page.member);
		if (reason == NULL)
			g_array_append_val(ids, id);
		store_page_fini(&page);
	}
	if (reason == NULL && ids->len == 0)
		reason = "no page id";
	g_strfreev(items);
	g_free(member);
	return reason;
}

/* Returns the name of the provider whose webhook call is. */
static const char *
hook_provider(const struct http_call *call)
{
	return g_str_has_prefix(call->req->raw_uri, "/hooks/vonage/") ?
	    "vonage" : "twilio";
}

/*
 * Records sid on the pages of list ("5,6") that were in flight when the
 * daemon last stopped, so it never read the sid.  The list comes signed
 * with the status: in Twilio's URLs, or as the client-ref of a Vonage
 * receipt, both written for that request.  A Vonage call's event URL is
 * not signed, and vonage_event_pages checks its list.  Returns how many
 * pages were recorded.
 */
static int
status_find_pages(struct http_call *call, const char *sid, const char *list,
    enum notify_channel channel)
{
	struct store_page	 page;
	GArray			*ids;
	const char		*reason;
	int64_t			 id;
	guint			 i;
	int			 n = 0;

	if (list == NULL)
		return 0;
	ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	reason = listed_pages_read(call->d->store, list, channel,
	    hook_provider(call), ids);
	if (reason != NULL) {
		log_warnx("notify: page list of a status ignored sid=%s "
		    "pages=\"%.80s\" reason=\"%s\"", sid, list, reason);
		goto out;
	}
	for (i = 0; i < ids->len; i++) {
		id = g_array_index(ids, int64_t, i);
		if (store_page_found_sent(call->d->store, id, sid,
		    clock_now_ms()) != 1)
			continue;
		if (store_page_get(call->d->store, id, &page) == 0) {
			log_info("notify: page in flight at the last stop was "
			    "sent inc=%" PRId64 " page=%" PRId64 " sid=%s",
			    page.incident_id, id, sid);
			store_page_fini(&page);
		}
		n++;
	}
	if (n == 0)
		log_debug("notify: no listed page was in flight at the last "
		    "stop sid=%s pages=\"%.80s\"", sid, list);
out:
	g_array_free(ids, TRUE);
	return n;
}

/* Returns the page list of the URL Twilio called ("pages=5,6"), or NULL. */
static const char *
url_pages(struct http_call *call)
{
	return MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND,
	    "pages");
}

/* Records a status of the request on channel sent as sid, which carried
 * the pages of list (NULL when the status names none). */
static void
status_record(struct http_call *call, const char *sid, const char *status,
    const char *error, const char *list, enum notify_channel channel)
{
	struct status_page	page;
	int			recorded;

	recorded = status_apply(call->d, sid, status, error, &page);
	if (recorded == 0 && page.id == 0 &&
	    status_find_pages(call, sid, list, channel) > 0)
		recorded = status_apply(call->d, sid, status, error, &page);
	if (recorded == -1) {
		/* Twilio does not retry a 5xx by default; the status is
		 * only informational, so the loss is logged, not fatal. */
		call->answer->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		return;
	}
	if (page.id == 0 && early_keep(call->d->http, sid, status, error,
	    clock_now_ms())) {
		log_info("notify: status for a sid not recorded yet kept "
		    "sid=%s status=%s", sid, status);
		return;
	}
	if (page.id == 0) {
		log_info("notify: status for an unknown sid ignored sid=%s "
		    "status=%s", sid, status);
		return;
	}
	/* A status that ranks no higher than the page's last one came late:
	 * it must neither move the page back nor fail it over. */
	if (recorded == 0) {
		log_info("notify: late status ignored inc=%" PRId64 " page=%"
		    PRId64 " sid=%s status=%s", page.incident_id, page.id, sid,
		    status);
		return;
	}
}

static void
hook_status(struct http_call *call, const char *sid_key,
    const char *status_key, enum notify_channel channel)
{
	const char	*sid, *status, *error;
	bool		 is_batch;

	sid = http_form_get(call->form, sid_key);
	status = http_form_get(call->form, status_key);
	error = http_form_get(call->form, "ErrorCode");
	call->answer->status = MHD_HTTP_NO_CONTENT;
	if (sid == NULL || status == NULL)
		return;
	/* By default Twilio is thought to send a status callback again
	 * only when it could not connect (not verified), so waiting for the
	 * disk before the 204 would keep little more. */
	is_batch = daemon_record_soon_begin(call->d);
	status_record(call, sid, status, error, url_pages(call), channel);
	daemon_record_soon_end(call->d, is_batch);
}

static void
hook_sms_status(struct http_call *call)
{
	hook_status(call, "MessageSid", "MessageStatus", NOTIFY_CHANNEL_SMS);
}

static void
hook_voice_status(struct http_call *call)
{
	hook_status(call, "CallSid", "CallStatus", NOTIFY_CHANNEL_VOICE);
}

static char *
gather_again(struct http_call *call, const char *digits)
{
	char	*action, *twiml;

	action = g_strconcat(call->d->cfg->public_url, call->req->raw_uri,
	    NULL);
	twiml = g_markup_printf_escaped("<?xml version=\"1.0\" encoding="
	    "\"UTF-8\"?><Response><Gather input=\"dtmf\" numDigits=\"1\" "
	    "timeout=\"8\" method=\"POST\" action=\"%s\"><Say>You pressed "
	    "%s. Press 1 to acknowledge.</Say></Gather><Say>Not "
	    "acknowledged. Goodbye.</Say><Hangup/></Response>", action,
	    digits);
	g_free(action);
	return twiml;
}

static void
answer_unknown_call(struct http_call *call, const char *sid)
{
	log_info("http: keypress on an unknown call sid=%s",
	    sid != NULL ? sid : "-");
	answer_twiml(call, g_strdup("<?xml version=\"1.0\" encoding="
	    "\"UTF-8\"?><Response><Say>This call is not known to "
	    "critgate.</Say><Hangup/></Response>"));
}

/*
 * Acknowledges the incident of every page of a call (a bundled call names
 * several).  Returns what the call says.
 */
static char *
gather_ack(struct http_call *call, GPtrArray *pages)
{
	struct store_page	*page;
	GString			*ids = g_string_new(NULL);
	guint			 i;
	bool			 is_failed = false;

	for (i = 0; i < pages->len; i++) {
		page = g_ptr_array_index(pages, i);
		if (daemon_page_ack(&call->d->outbox, page->incident_id,
		    page->member, "voice", NULL) == -1)
			is_failed = true;
		g_string_append_printf(ids, "%s%" PRId64, i == 0 ? "" :
		    (i + 1 == pages->len ? " and " : ", "), page->incident_id);
	}
	if (is_failed) {
		g_string_free(ids, TRUE);
		return g_strdup("critgate could not record your "
		    "acknowledgement. Please use SMS.");
	}
	g_string_prepend(ids, pages->len == 1 ? "Incident " : "Incidents ");
	g_string_append(ids, " acknowledged. Thank you.");
	return g_string_free(ids, FALSE);
}

static void
hook_voice_gather(struct http_call *call)
{
	struct store_page	*page;
	GPtrArray		*pages;
	const char		*sid, *digits;
	char			*say;

	sid = http_form_get(call->form, "CallSid");
	digits = http_form_get(call->form, "Digits");
	/* The CallSid decides which pages these are: the page parameter in
	 * the URL only routes and is never trusted alone.  A call placed
	 * before the daemon last stopped may have had its every status
	 * meanwhile, so the pages the URL names learn its sid here. */
	pages = sid != NULL ? store_pages_by_sid(call->d->store, sid) : NULL;
	if (pages != NULL && pages->len == 0 && status_find_pages(call, sid,
	    url_pages(call), NOTIFY_CHANNEL_VOICE) > 0) {
		g_ptr_array_free(pages, TRUE);
		pages = store_pages_by_sid(call->d->store, sid);
	}
	if (pages == NULL || pages->len == 0) {
		answer_unknown_call(call, sid);
		goto out;
	}
	page = g_ptr_array_index(pages, 0);
	if (page->channel != NOTIFY_CHANNEL_VOICE || digits == NULL ||
	    strcmp(digits, "1") != 0) {
		log_info("http: keypress not an acknowledgement inc=%" PRId64
		    " page=%" PRId64 " sid=%s digits=%s", page->incident_id,
		    page->id, sid, digits != NULL ? digits : "");
		answer_twiml(call, gather_again(call, digits ? digits : ""));
		goto out;
	}
	say = gather_ack(call, pages);
	answer_twiml(call, g_markup_printf_escaped("<?xml version=\"1.0\" "
	    "encoding=\"UTF-8\"?><Response><Say>%s</Say><Hangup/></Response>",
	    say));
	g_free(say);
out:
	if (pages != NULL)
		g_ptr_array_free(pages, TRUE);
}

static int
respond(struct MHD_Connection *conn, const struct http_answer *answer)
{
	struct MHD_Response	*resp;
	const char		*body = answer->body != NULL ? answer->body : "";
	enum MHD_Result		 rc;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (answer->content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    answer->content_type);
	rc = MHD_queue_response(conn, answer->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static const struct http_hook *
hook_find(const char *raw_uri)
{
	size_t	i, len;

	len = strcspn(raw_uri, "?");
	for (i = 0; i < G_N_ELEMENTS(http_hooks); i++)
		if (strlen(http_hooks[i].path) == len &&
		    strncmp(raw_uri, http_hooks[i].path, len) == 0)
			return &http_hooks[i];
	return NULL;
}

static const char *
peer_name(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo	*info;
	const struct sockaddr		*sa;

	g_strlcpy(buf, "unknown", size);
	info = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return buf;
	sa = info->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, size);
	return buf;
}

/* Runs handler on a checked request and its parameters. */
static void
hook_run(struct daemon *d, struct MHD_Connection *conn,
    struct http_request *req, const struct http_form *form,
    http_handler_fn handler, struct http_answer *answer)
{
	struct http_call	call;

	memset(&call, 0, sizeof(call));
	call.d = d;
	call.conn = conn;
	call.req = req;
	call.form = form;
	call.answer = answer;
	handler(&call);
}

/* Checks the request as a Twilio webhook and runs its handler. */
static void
check_twilio(struct daemon *d, struct MHD_Connection *conn,
    struct http_request *req, const char *method, http_handler_fn handler,
    struct http_answer *answer)
{
	struct http_form	 form = { 0 };
	const char		*type, *signature;
	char			*url, peer[64];

	if (strcmp(method, "POST") != 0) {
		answer->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		return;
	}
	type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type == NULL || g_ascii_strncasecmp(type,
	    "application/x-www-form-urlencoded", 33) != 0) {
		answer->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		return;
	}
	if (http_form_parse(req->body->str, req->body->len, &form) == -1) {
		log_info("http: malformed form peer=%s path=%s",
		    peer_name(conn, peer, sizeof(peer)), req->raw_uri);
		answer->status = MHD_HTTP_BAD_REQUEST;
		return;
	}
	/* Twilio signs the URL it called: our public URL, not the address
	 * this listener sees behind a proxy. */
	url = g_strconcat(d->cfg->public_url, req->raw_uri, NULL);
	signature = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "X-Twilio-Signature");
	if (!http_twilio_signature_is_valid(d->cfg->twilio.auth_token, url,
	    &form, signature)) {
		log_info("http: signature rejected peer=%s path=%s%s",
		    peer_name(conn, peer, sizeof(peer)), req->raw_uri,
		    signature == NULL ? " missing=yes" : "");
		answer->status = MHD_HTTP_FORBIDDEN;
		goto out;
	}
	hook_run(d, conn, req, &form, handler, answer);
out:
	g_free(url);
	http_form_fini(&form);
}

/* Fills keys from the config; -1 when no Vonage account is set. */
static int
vonage_keys(const struct cfg *cfg, struct http_vonage_keys *keys)
{
	const char	*method = cfg->vonage.signature_method;

	if (cfg->vonage.signature_secret == NULL ||
	    cfg->vonage.api_key == NULL)
		return -1;
	keys->signature_secret = cfg->vonage.signature_secret;
	keys->api_key = cfg->vonage.api_key;
	return http_vonage_sig_method_parse(method != NULL ? method :
	    "md5hash", &keys->sms_method);
}

/* Adds the members of obj to params as "name" (nested: "outer.name")
 * and their values as text; arrays are left out. */
static void
json_flatten(JsonObject *obj, const char *prefix, GArray *params)
{
	struct http_param	 param;
	GList			*names, *l;
	JsonNode		*node;
	GValue			 value = G_VALUE_INIT;
	char			*nested;

	names = json_object_get_members(obj);
	for (l = names; l != NULL; l = l->next) {
		node = json_object_get_member(obj, l->data);
		param.name = g_strconcat(prefix, l->data, NULL);
		if (JSON_NODE_HOLDS_OBJECT(node)) {
			nested = g_strconcat(param.name, ".", NULL);
			json_flatten(json_node_get_object(node), nested,
			    params);
			g_free(nested);
			g_free(param.name);
			continue;
		}
		if (!JSON_NODE_HOLDS_VALUE(node)) {
			g_free(param.name);
			continue;
		}
		json_node_get_value(node, &value);
		param.value = g_strdup_value_contents(&value);
		if (G_VALUE_HOLDS_STRING(&value)) {
			g_free(param.value);
			param.value = g_value_dup_string(&value);
		}
		g_value_unset(&value);
		g_array_append_val(params, param);
	}
	g_list_free(names);
}

/* Reads a JSON object body into out as flat parameters; 0 or -1. */
static int
json_form_parse(const char *body, size_t len, struct http_form *out)
{
	JsonParser	*parser = json_parser_new();
	GArray		*params;
	JsonNode	*root;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_parser_load_from_data(parser, body, (gssize)len, NULL))
		goto out;
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		goto out;
	params = g_array_new(FALSE, TRUE, sizeof(struct http_param));
	json_flatten(json_node_get_object(root), "", params);
	out->n_params = params->len;
	out->params = (struct http_param *)(void *)g_array_free(params,
	    FALSE);
	rc = 0;
out:
	g_object_unref(parser);
	return rc;
}

/*
 * Reads the parameters of a Vonage SMS webhook: the query of a GET, or a
 * form or JSON body.  Returns 0, or -1 with answer set.
 */
static int
vonage_sms_form(struct MHD_Connection *conn, struct http_request *req,
    const char *method, struct http_answer *answer, struct http_form *out)
{
	const char	*type, *query;

	memset(out, 0, sizeof(*out));
	answer->status = MHD_HTTP_BAD_REQUEST;
	if (strcmp(method, "GET") == 0) {
		query = strchr(req->raw_uri, '?');
		query = query != NULL ? query + 1 : "";
		return http_form_parse(query, strlen(query), out);
	}
	if (strcmp(method, "POST") != 0) {
		answer->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		return -1;
	}
	type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type != NULL && g_ascii_strncasecmp(type, "application/json",
	    16) == 0)
		return json_form_parse(req->body->str, req->body->len, out);
	if (type != NULL && g_ascii_strncasecmp(type,
	    "application/x-www-form-urlencoded", 33) == 0)
		return http_form_parse(req->body->str, req->body->len, out);
	answer->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
	return -1;
}

/* Sets the response status for a rejected signature: 401 when the
 * request carried none, else 403. */
static void
vonage_reject(struct MHD_Connection *conn, struct http_request *req,
    enum http_vonage_verdict verdict, struct http_answer *answer)
{
	char	peer[64];

	log_info("http: vonage signature rejected peer=%s path=%s "
	    "verdict=%s", peer_name(conn, peer, sizeof(peer)), req->raw_uri,
	    http_vonage_verdict_name(verdict));
	answer->status = verdict == HTTP_VONAGE_UNSIGNED ?
	    MHD_HTTP_UNAUTHORIZED : MHD_HTTP_FORBIDDEN;
}

/* Checks the request as a signed Vonage SMS webhook and runs handler. */
static void
check_vonage_sms(struct daemon *d, struct MHD_Connection *conn,
    struct http_request *req, const char *method, http_handler_fn handler,
    struct http_answer *answer)
{
	struct http_vonage_keys		keys;
	struct http_form		form;
	enum http_vonage_verdict	verdict;

	if (vonage_keys(d->cfg, &keys) == -1)
		return;		/* 404: no Vonage account */
	if (vonage_sms_form(conn, req, method, answer, &form) == -1)
		goto out;
	verdict = http_vonage_sms_check(&keys, &form,
	    clock_now_ms() / 1000);
	if (verdict != HTTP_VONAGE_VALID) {
		vonage_reject(conn, req, verdict, answer);
		goto out;
	}
	answer->status = MHD_HTTP_OK;
	hook_run(d, conn, req, &form, handler, answer);
out:
	http_form_fini(&form);
}

/*
 * Checks the request as a Vonage Voice webhook (JSON body, HS256 JWT)
 * and runs handler; a token already seen is a replay and changes nothing.
 */
static void
check_vonage_voice(struct daemon *d, struct MHD_Connection *conn,
    struct http_request *req, const char *method, http_handler_fn handler,
    struct http_answer *answer)
{
	struct http_vonage_keys		 keys;
	struct http_form		 form = { 0 };
	enum http_vonage_verdict	 verdict;
	const char			*auth;
	char				*jti = NULL, *key;
	int				 seen;

	if (vonage_keys(d->cfg, &keys) == -1)
		return;
	answer->status = MHD_HTTP_METHOD_NOT_ALLOWED;
	if (strcmp(method, "POST") != 0)
		return;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	verdict = http_vonage_voice_check(&keys, auth, req->body->str,
	    req->body->len, clock_now_ms() / 1000);
	if (verdict != HTTP_VONAGE_VALID) {
		vonage_reject(conn, req, verdict, answer);
		return;
	}
	answer->status = MHD_HTTP_BAD_REQUEST;
	jti = http_vonage_voice_jti(auth);
	if (jti == NULL || json_form_parse(req->body->str, req->body->len,
	    &form) == -1)
		goto out;
	key = g_strconcat("vonage-jwt:", jti, NULL);
	seen = store_webhook_seen(d->store, key, clock_now_ms());
	g_free(key);
	answer->status = seen == -1 ? MHD_HTTP_SERVICE_UNAVAILABLE :
	    MHD_HTTP_OK;
	if (seen == 1)
		log_info("http: vonage voice webhook replayed, ignored jti=%s",
		    jti);
	if (seen == 0)
		hook_run(d, conn, req, &form, handler, answer);
out:
	g_free(jti);
	http_form_fini(&form);
}

/*
 * Tells whether the Vonage webhook keyed by kind and id was handled
 * before (a redelivery).  The response stays 200, or becomes 503
 * on a store failure so that Vonage sends it again.
 */
static bool
vonage_is_replay(struct http_call *call, const char *kind, const char *id)
{
	char	*key;
	int	 seen;

	if (id == NULL || id[0] == '\0')
		return true;
	key = g_strconcat(kind, id, NULL);
	seen = store_webhook_seen(call->d->store, key, clock_now_ms());
	if (seen == 1)
		log_info("http: vonage webhook replayed, ignored key=%s", key);
	g_free(key);
	if (seen == -1)
		call->answer->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	return seen != 0;
}

/* Reads a positive number of a form field; 0 when missing or not one. */
static int
form_count(const struct http_form *form, const char *name)
{
	const char	*value = http_form_get(form, name);
	guint64		 n;

	if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 1,
	    VONAGE_SMS_PARTS_MAX, &n, NULL))
		return 0;
	return (int)n;
}

/* Returns text cut to SMS_TEXT_MAX bytes on a character boundary; the
 * caller frees it. */
static char *
sms_text_dup(const char *text)
{
	const char	*end;

	if (text == NULL)
		return g_strdup("");
	if (strlen(text) <= SMS_TEXT_MAX)
		return g_strdup(text);
	end = g_utf8_find_prev_char(text, text + SMS_TEXT_MAX + 1);
	return g_strndup(text, end != NULL ? (gsize)(end - text) : 0);
}

/*
 * Keeps one part of a long SMS.  Returns 1 with *text set to the whole
 * SMS (the caller frees it) once every part has come, 0 while some are
 * missing or when the part was seen before.  A part that could not be
 * kept also returns 0, and the response is 503 so that Vonage sends it
 * again.
 */
static int
vonage_sms_join(struct http_call *call, const char *msisdn,
    const char *member, char **text)
{
	struct store_sms_part	 sp = {
		.sender = msisdn,
		.ref = http_form_get(call->form, "concat-ref"),
		.part = form_count(call->form, "concat-part"),
		.total = form_count(call->form, "concat-total"),
		.message_id = http_form_get(call->form, "messageId"),
	};
	char			*part_text, *joined = NULL;
	int			 rc;

	if (sp.ref == NULL || sp.part == 0 || sp.part > sp.total) {
		/* Read alone rather than dropped, once. */
		log_warnx("http: vonage sms part without a valid concat-ref, "
		    "concat-part or concat-total, read alone member=%s",
		    member);
		if (vonage_is_replay(call, "vonage-sms:", sp.message_id))
			return 0;
		*text = sms_text_dup(http_form_get(call->form, "text"));
		return 1;
	}
	if (sp.message_id == NULL || sp.message_id[0] == '\0') {
		log_warnx("http: vonage sms part without a messageId, ignored "
		    "member=%s", member);
		return 0;
	}
	part_text = sms_text_dup(http_form_get(call->form, "text"));
	sp.text = part_text;
	rc = store_sms_part_add(call->d->store, &sp, clock_now_ms(), &joined);
	g_free(part_text);
	if (rc == -1)
		call->answer->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (rc == 0)
		log_info("http: vonage sms part kept member=%s ref=%s part=%d "
		    "total=%d", member, sp.ref, sp.part, sp.total);
	else if (rc == 2)
		log_info("http: vonage webhook replayed, ignored key=vonage-sms:"
		    "%s", sp.message_id);
	if (rc != 1)
		return 0;
	*text = sms_text_dup(joined);
	g_free(joined);
	return 1;
}

/*
 * An engineer's SMS to our Vonage number.  Vonage takes no reply in the
 * response, so the reply to an ACK goes out as an SMS of its own.  Other
 * texts get no reply, so that an auto-reply on the phone cannot start a
 * loop of SMS.  A long SMS comes in parts, one webhook each, and is read
 * once joined.
 */
static void
hook_vonage_sms(struct http_call *call)
{
	const struct cfg_member	*member = NULL;
	struct http_sms_reply	 reply;
	const char		*msisdn, *concat;
	char			*e164, *text = NULL, *answer_text = NULL;
	char			 phone[LOG_PHONE_LEN];
	bool			 is_acked = false;

	msisdn = http_form_get(call->form, "msisdn");
	/* The whole number with "+" added: never a match on its last
	 * digits, which another country's number can share. */
	e164 = msisdn != NULL ? notify_vonage_msisdn_to_e164(msisdn) : NULL;
	if (e164 != NULL)
		member = cfg_member_by_phone(call->d->cfg, e164);
	if (member == NULL) {
		log_info("http: vonage sms from a number not in the team "
		    "from=%s", log_phone(e164, phone));
		goto out;
	}
	/* A part sent again is recognised by its messageId, as a whole SMS
	 * is. */
	concat = http_form_get(call->form, "concat");
	if (concat != NULL && strcmp(concat, "true") == 0) {
		if (vonage_sms_join(call, msisdn, member->name, &text) == 0)
			goto out;
	} else if (vonage_is_replay(call, "vonage-sms:",
	    http_form_get(call->form, "messageId")))
		goto out;
	else
		text = sms_text_dup(http_form_get(call->form, "text"));
	http_sms_reply_parse(text, &reply);
	if (reply.kind == HTTP_SMS_ACK)
		answer_text = sms_ack(call, member, &reply, &is_acked);
	else
		log_info("http: vonage sms not an acknowledgement member=%s",
		    member->name);
	if (answer_text != NULL && (is_acked ||
	    sms_reply_allowed(call->d->http, member->name)))
		daemon_provider_vonage_reply(call->d, member->name, e164,
		    answer_text);
	g_free(answer_text);
	http_sms_reply_fini(&reply);
out:
	g_free(text);
	g_free(e164);
}

/* A delivery receipt for an SMS sent through Vonage. */
static void
hook_vonage_dlr(struct http_call *call)
{
	const char	*id, *status, *err;
	char		*key_id;
	bool		 is_replay;

	id = http_form_get(call->form, "messageId");
	status = http_form_get(call->form, "status");
	err = http_form_get(call->form, "err-code");
	if (id == NULL || status == NULL)
		return;
	key_id = g_strdup_printf("%s:%s:%s", id, status,
	    err != NULL ? err : "");
	is_replay = vonage_is_replay(call, "vonage-dlr:", key_id);
	g_free(key_id);
	if (is_replay)
		return;
	status_record(call, id, status, err != NULL &&
	    strcmp(err, "0") != 0 ? err : NULL, http_form_get(call->form,
	    "client-ref"), NOTIFY_CHANNEL_SMS);
}

/* A call event; a machine-detection event names the call "call_uuid". */
/* Compares two phone numbers, with or without the leading '+'. */
static bool
number_is_same(const char *a, const char *b)
{
	if (*a == '+')
		a++;
	if (*b == '+')
		b++;
	return strcmp(a, b) == 0;
}

/*
 * Returns the page list of the URL Vonage sent a call's event to
 * ("pages=5,6"), or NULL.  The JWT signs the body and not the URL, so the
 * list counts only when its first page called the number the body names.
 */
static const char *
vonage_event_pages(struct http_call *call, const char *uuid)
{
	struct store_page	 page;
	const char		*list = url_pages(call), *to;
	gint64			 id;
	bool			 is_same;

	to = http_form_get(call->form, "to");
	if (list == NULL || to == NULL)
		return NULL;
	memset(&page, 0, sizeof(page));
	id = g_ascii_strtoll(list, NULL, 10);
	is_same = id > 0 && store_page_get(call->d->store, id, &page) == 0 &&
	    page.to != NULL && number_is_same(page.to, to);
	store_page_fini(&page);
	if (is_same)
		return list;
	log_warnx("notify: page list of a vonage event ignored uuid=%s "
	    "pages=\"%.80s\" reason=\"not the number called\"", uuid, list);
	return NULL;
}

static void
hook_vonage_event(struct http_call *call)
{
	const char	*uuid, *status;

	uuid = http_form_get(call->form, "uuid");
	if (uuid == NULL)
		uuid = http_form_get(call->form, "call_uuid");
	status = http_form_get(call->form, "status");
	if (uuid == NULL || status == NULL)
		return;
	status_record(call, uuid, status, http_form_get(call->form,
	    "reason"), vonage_event_pages(call, uuid), NOTIFY_CHANNEL_VOICE);
}

static void
answer_ncco(struct http_call *call, const char *text)
{
	JsonBuilder	*b = json_builder_new();
	JsonGenerator	*gen = json_generator_new();
	JsonNode	*root;

	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "action");
	json_builder_add_string_value(b, "talk");
	json_builder_set_member_name(b, "text");
	json_builder_add_string_value(b, text);
	json_builder_end_object(b);
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	call->answer->status = MHD_HTTP_OK;
	call->answer->content_type = "application/json";
	call->answer->body = json_generator_to_data(gen, NULL);
	json_node_unref(root);
	g_object_unref(gen);
	g_object_unref(b);
}

/*
 * The digit pressed on a Vonage call.  The call's uuid decides which
 * pages it was about; the page parameter of the URL only routes.
 */
static void
hook_vonage_input(struct http_call *call)
{
	struct store_page	*page;
	GPtrArray		*pages;
	const char		*uuid, *digits;
	char			*say;

	uuid = http_form_get(call->form, "uuid");
	digits = http_form_get(call->form, "dtmf.digits");
	pages = uuid != NULL ? store_pages_by_sid(call->d->store, uuid) : NULL;
	if (pages == NULL || pages->len == 0) {
		log_info("http: keypress on an unknown vonage call uuid=%s",
		    uuid != NULL ? uuid : "-");
		answer_ncco(call, "This call is not known to critgate.");
		goto out;
	}
	page = g_ptr_array_index(pages, 0);
	if (page->channel != NOTIFY_CHANNEL_VOICE || digits == NULL ||
	    strcmp(digits, "1") != 0) {
		log_info("http: keypress not an acknowledgement inc=%" PRId64
		    " page=%" PRId64 " sid=%s digits=%s", page->incident_id,
		    page->id, uuid, digits != NULL ? digits : "");
		answer_ncco(call, "Not acknowledged. Goodbye.");
		goto out;
	}
	say = gather_ack(call, pages);
	answer_ncco(call, say);
	g_free(say);
out:
	if (pages != NULL)
		g_ptr_array_free(pages, TRUE);
}

static void
http_dispatch(struct daemon *d, struct MHD_Connection *conn,
    struct http_request *req, const char *method, struct http_answer *answer)
{
	const struct http_hook	*hook;

	answer->status = MHD_HTTP_NOT_FOUND;
	answer->content_type = "text/plain";
	if (strcmp(method, "GET") == 0 && strcmp(req->raw_uri, "/healthz") == 0) {
		answer->status = d->is_store_moved ?
		    MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
		answer->body = g_strdup(d->is_store_moved ? "store files "
		    "removed or replaced; mail is refused, see the log\n" :
		    "ok\n");
		return;
	}
	hook = hook_find(req->raw_uri);
	if (hook == NULL)
		return;
	if (req->is_too_big) {
		answer->status = MHD_HTTP_CONTENT_TOO_LARGE;
		return;
	}
	hook->check(d, conn, req, method, hook->handler, answer);
}

static enum MHD_Result
http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct daemon_http	*http = cls;
	struct http_request	*req = *con_cls;
	struct http_answer	 answer = { 0 };
	enum MHD_Result		 rc;

	(void)url;
	(void)version;
	if (!req->is_started) {
		req->is_started = true;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (req->body->len + *upload_data_size > HTTP_BODY_MAX)
			req->is_too_big = true;
		else
			g_string_append_len(req->body, upload_data,
			    (gssize)*upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	http_dispatch(http->d, conn, req, method, &answer);
	log_debug("http: request method=%s path=%s status=%u", method,
	    req->raw_uri, answer.status);
	rc = respond(conn, &answer);
	g_free(answer.body);
	return rc;
}

static void *
http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_request	*req;

	(void)cls;
	(void)conn;
	req = g_new0(struct http_request, 1);
	req->raw_uri = g_strdup(uri);
	req->body = g_string_new(NULL);
	return req;
}

static void
http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode code)
{
	struct http_request	*req = *con_cls;

	(void)cls;
	(void)conn;
	(void)code;
	if (req == NULL)
		return;
	g_free(req->raw_uri);
	g_string_free(req->body, TRUE);
	g_free(req);
	*con_cls = NULL;
}

static void
http_on_log(void *cls, const char *fmt, va_list ap)
{
	char	*text;

	(void)cls;
	text = g_strdup_vprintf(fmt, ap);
	g_strchomp(text);
	log_debug("http: libmicrohttpd: %s", text);
	g_free(text);
}

static gboolean	http_on_timer(gpointer data);

/*
 * Runs libmicrohttpd, then arms a timer for when it wants to run again:
 * at once while it has buffered work (a large body arrives in several
 * reads), later for connection timeouts.
 */
static void
http_run(struct daemon_http *http)
{
	MHD_UNSIGNED_LONG_LONG	timeout_ms = HTTP_TICK_MS;

	MHD_run(http->mhd);
	if (MHD_get_timeout(http->mhd, &timeout_ms) != MHD_YES ||
	    timeout_ms > HTTP_TICK_MS)
		timeout_ms = HTTP_TICK_MS;
	if (http->tick_source != 0)
		g_source_remove(http->tick_source);
	http->tick_source = g_timeout_add((guint)timeout_ms, http_on_timer,
	    http);
}

static gboolean
http_on_timer(gpointer data)
{
	struct daemon_http	*http = data;

	http->tick_source = 0;
	http_run(http);
	return G_SOURCE_REMOVE;
}

static gboolean
http_on_ready(int fd, GIOCondition cond, gpointer data)
{
	(void)fd;
	(void)cond;
	http_run(data);
	return G_SOURCE_CONTINUE;
}

struct daemon_http *
daemon_http_start(struct daemon *d)
{
	const union MHD_DaemonInfo	*info;
	struct daemon_http		*http;
	int				 fd;

	fd = daemon_listen("http", d->cfg->listen_http);
	if (fd == -1)
		return NULL;
	http = g_new0(struct daemon_http, 1);
	http->d = d;
	http->early = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    early_free);
	http->replies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    g_free);
	http->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, http_on_request, http,
	    MHD_OPTION_EXTERNAL_LOGGER, http_on_log, http,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, http,
	    MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, http,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS_MAX,
	    MHD_OPTION_END);
	if (http->mhd == NULL) {
		log_errorx("http: libmicrohttpd failed to start addr=%s",
		    d->cfg->listen_http);
		close(fd);
		g_hash_table_destroy(http->early);
		g_hash_table_destroy(http->replies);
		g_free(http);
		return NULL;
	}
	info = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	http->epoll_source = daemon_fd_watch(info->epoll_fd, G_IO_IN,
	    http_on_ready, http);
	http->tick_source = g_timeout_add(HTTP_TICK_MS, http_on_timer, http);
	return http;
}

void
daemon_http_free(struct daemon_http *http)
{
	if (http == NULL)
		return;
	g_source_remove(http->epoll_source);
	if (http->tick_source != 0)
		g_source_remove(http->tick_source);
	MHD_stop_daemon(http->mhd);
	g_hash_table_destroy(http->early);
	g_hash_table_destroy(http->replies);
	g_free(http);
}
