/* SPDX-License-Identifier: ISC */
/*
 * The phone providers of providers.order and a circuit breaker for each:
 * after DAEMON_CIRCUIT_FAILURES failures in a row a provider's circuit
 * opens and pages skip it for providers.cool_down_seconds, then one trial
 * request (half-open) decides whether it closes again.  The state lives
 * in memory; every change is also written to the store for "critgate
 * status".
 */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"

/* Twilio error codes that only concern the recipient's number: another
 * provider would not reach it either. */
static const int twilio_recipient_codes[] = {
	21211,	/* invalid "To" number */
	21214,	/* "To" number cannot be reached */
	21217,	/* not a valid phone number */
	21401,	/* invalid phone number */
	21407,	/* number type not supported */
	21610,	/* the recipient replied STOP */
	21612,	/* no route to the number */
	21614,	/* not a mobile number */
};

typedef int	(*provider_build_fn)(struct daemon *d,
		    enum notify_channel channel,
		    const struct notify_page *pages, size_t n,
		    struct notify_request *out);
typedef void	(*provider_post_fn)(struct daemon *d,
		    const struct notify_request *req, daemon_curl_done_fn done,
		    void *ctx);
typedef void	(*provider_classify_fn)(long http_status, const char *body,
		    size_t len, const char *retry_after, int64_t now_ms,
		    struct notify_response *out);

struct provider_ops {
	const char		*name;
	provider_build_fn	 build;
	provider_post_fn	 post;
	provider_classify_fn	 sms_classify;
	provider_classify_fn	 call_classify;
};

struct provider {
	const struct provider_ops	*ops;
	int64_t				 requests;
	int64_t				 failures;
	int64_t				 consecutive;
	enum daemon_circuit		 circuit;
	int64_t				 since_ms;
	bool				 is_trial_out;	/* half-open */
};

struct daemon_providers {
	struct provider	*list;
	int		 n;
	struct store	*store;
	int64_t		 cool_ms;	/* providers.cool_down_seconds */
	GHashTable	*replies;	/* struct vonage_reply * in flight */
};

static void	reply_free(gpointer data);
static int	twilio_build(struct daemon *d, enum notify_channel channel,
		    const struct notify_page *pages, size_t n,
		    struct notify_request *out);
static int	vonage_build(struct daemon *d, enum notify_channel channel,
		    const struct notify_page *pages, size_t n,
		    struct notify_request *out);

static void	twilio_post(struct daemon *d,
		    const struct notify_request *req, daemon_curl_done_fn done,
		    void *ctx);
static void	vonage_post(struct daemon *d,
		    const struct notify_request *req, daemon_curl_done_fn done,
		    void *ctx);

static const struct provider_ops provider_table[] = {
	{ "twilio", twilio_build, twilio_post, notify_twilio_classify,
	    notify_twilio_classify },
	{ "vonage", vonage_build, vonage_post, notify_vonage_sms_classify,
	    notify_vonage_call_classify },
};

static const char *const circuit_names[] = {
	[DAEMON_CIRCUIT_CLOSED] = "closed",
	[DAEMON_CIRCUIT_OPEN] = "open",
	[DAEMON_CIRCUIT_HALF_OPEN] = "half-open",
};

static int
twilio_build(struct daemon *d, enum notify_channel channel,
    const struct notify_page *pages, size_t n, struct notify_request *out)
{
	notify_twilio_bundle_request(d->cfg, channel, pages, n, out);
	return 0;
}

static void
twilio_post(struct daemon *d, const struct notify_request *req,
    daemon_curl_done_fn done, void *ctx)
{
	daemon_curl_post(d->curl, req->url, req->body,
	    d->cfg->twilio.account_sid, d->cfg->twilio.auth_token,
	    d->cfg->twilio.timeout_ms, done, ctx);
}

static void
vonage_post(struct daemon *d, const struct notify_request *req,
    daemon_curl_done_fn done, void *ctx)
{
	daemon_curl_request(d->curl, req, d->cfg->vonage.timeout_ms, done,
	    ctx);
}

static void
vonage_account(const struct cfg *cfg, struct notify_vonage_account *acct)
{
	memset(acct, 0, sizeof(*acct));
	acct->sms_base = cfg->vonage.api_base;
	acct->voice_base = cfg->vonage.voice_api_base;
	acct->api_key = cfg->vonage.api_key;
	acct->api_secret = cfg->vonage.api_secret;
	acct->application_id = cfg->vonage.application_id;
	acct->private_key_pem = cfg->vonage.private_key;
	acct->from = cfg->vonage.from;
	acct->public_url = cfg->public_url;
}

/*
 * Vonage's builders word one page: a bundle goes out as its first page,
 * with the other incident numbers added to the subject so that the
 * member can acknowledge each by SMS.  A call's event URL names them all.
 */
static int
vonage_build(struct daemon *d, enum notify_channel channel,
    const struct notify_page *pages, size_t n, struct notify_request *out)
{
	struct notify_vonage_account	 acct;
	struct notify_page		*bundle;
	GString				*subject;
	char				*jti;
	size_t				 i;
	int				 rc;

	vonage_account(d->cfg, &acct);
	subject = g_string_new(pages[0].subject);
	for (i = 1; i < n; i++)
		g_string_append_printf(subject, "%s%" PRId64, i == 1 ?
		    " (also incident " : ", ", pages[i].incident_id);
	if (n > 1)
		g_string_append(subject, ")");
	bundle = g_memdup2(pages, n * sizeof(*pages));
	bundle[0].subject = subject->str;
	if (channel == NOTIFY_CHANNEL_SMS) {
		rc = notify_vonage_sms_request(&acct, &bundle[0], out);
	} else {
		jti = g_uuid_string_random();
		rc = notify_vonage_call_request(&acct, bundle, n,
		    clock_now_ms() / 1000, jti, out);
		g_free(jti);
	}
	g_free(bundle);
	g_string_free(subject, TRUE);
	return rc;
}

static const struct provider_ops *
ops_find(const char *name)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(provider_table); i++)
		if (strcmp(provider_table[i].name, name) == 0)
			return &provider_table[i];
	return NULL;
}

/*
 * Writes the health of p to the store; a failure is logged there and
 * only leaves "critgate status" behind.  Outside a batch the write costs
 * no disk flush: the daemon keeps the health in memory, and a power loss
 * that took the last few writes would only show older figures.
 */
static void
provider_save(struct daemon_providers *ps, const struct provider *p)
{
	struct store_provider_health	h;
	bool				is_batch;

	h.name = (char *)p->ops->name;
	h.requests = p->requests;
	h.failures = p->failures;
	h.consecutive = p->consecutive;
	h.circuit = (char *)circuit_names[p->circuit];
	h.since_ms = p->since_ms;
	h.updated_ms = clock_now_ms();
	is_batch = store_batch_begin_unflushed(ps->store) == 0;
	(void)store_provider_health_put(ps->store, &h);
	if (is_batch)
		(void)store_batch_commit(ps->store);
}

static void
circuit_move(const struct daemon_providers *ps, struct provider *p,
    enum daemon_circuit circuit, int64_t now_ms)
{
	p->circuit = circuit;
	p->since_ms = now_ms;
	p->is_trial_out = false;
	if (circuit == DAEMON_CIRCUIT_OPEN)
		log_warnx("notify: circuit opened provider=%s failures=%"
		    PRId64 " cool_down_s=%" PRId64, p->ops->name,
		    p->consecutive, ps->cool_ms / 1000);
	else
		log_info("notify: circuit %s provider=%s",
		    circuit == DAEMON_CIRCUIT_CLOSED ? "closed" : "half-open",
		    p->ops->name);
}

struct daemon_providers *
daemon_providers_new(const struct cfg *cfg, struct store *store)
{
	struct daemon_providers	*ps;
	const struct provider_ops *ops;
	size_t			 i;
	int64_t			 now = clock_now_ms();

	ps = g_new0(struct daemon_providers, 1);
	ps->store = store;
	ps->replies = g_hash_table_new_full(NULL, NULL, reply_free, NULL);
	ps->cool_ms = cfg->circuit_cool_ms;
	ps->list = g_new0(struct provider, g_strv_length(cfg->provider_order));
	for (i = 0; cfg->provider_order[i] != NULL; i++) {
		ops = ops_find(cfg->provider_order[i]);
		if (ops == NULL)
			fatalx("notify: unknown provider %s",
			    cfg->provider_order[i]);
		ps->list[ps->n].ops = ops;
		ps->list[ps->n].since_ms = now;
		provider_save(ps, &ps->list[ps->n]);
		ps->n++;
	}
	return ps;
}

void
daemon_providers_reload(struct daemon_providers *ps, const struct cfg *cfg)
{
	ps->cool_ms = cfg->circuit_cool_ms;
}

void
daemon_providers_free(struct daemon_providers *ps)
{
	if (ps == NULL)
		return;
	/* A stop abandons the replies in flight, their callbacks never
	 * called. */
	g_hash_table_destroy(ps->replies);
	g_free(ps->list);
	g_free(ps);
}

int
daemon_provider_count(const struct daemon_providers *ps)
{
	return ps->n;
}

const char *
daemon_provider_name(const struct daemon_providers *ps, int index)
{
	if (index < 0 || index >= ps->n)
		return "none";
	return ps->list[index].ops->name;
}

int
daemon_provider_find(const struct daemon_providers *ps, const char *name)
{
	int	i;

	for (i = 0; name != NULL && i < ps->n; i++)
		if (strcmp(ps->list[i].ops->name, name) == 0)
			return i;
	return -1;
}

/* Tells whether p takes a request now, moving an open circuit whose cool
 * down is over to half-open. */
static bool
provider_admits(struct daemon_providers *ps, struct provider *p,
    int64_t now_ms)
{
	if (p->circuit == DAEMON_CIRCUIT_CLOSED)
		return true;
	if (now_ms - p->since_ms < ps->cool_ms &&
	    (p->circuit == DAEMON_CIRCUIT_OPEN || p->is_trial_out))
		return false;
	/* The cool down is over, or a trial went unanswered as long (its
	 * request may never have been sent): one more trial. */
	circuit_move(ps, p, DAEMON_CIRCUIT_HALF_OPEN, now_ms);
	provider_save(ps, p);
	p->is_trial_out = true;
	return true;
}

int
daemon_provider_pick(struct daemon_providers *ps, int from, int64_t now_ms)
{
	int	i;

	for (i = from < 0 ? 0 : from; i < ps->n; i++) {
		/* The last provider is tried even with its circuit open:
		 * skipping it would page nobody. */
		if (i == ps->n - 1 || provider_admits(ps, &ps->list[i], now_ms))
			return i;
		log_info("notify: provider skipped provider=%s circuit=%s",
		    ps->list[i].ops->name, circuit_names[ps->list[i].circuit]);
	}
	return -1;
}

int
daemon_provider_build(struct daemon *d, int index,
    enum notify_channel channel, const struct notify_page *pages, size_t n,
    struct notify_request *out)
{
	memset(out, 0, sizeof(*out));
	if (index < 0 || index >= d->providers->n)
		return -1;
	return d->providers->list[index].ops->build(d, channel, pages, n, out);
}

/* A reply SMS to a member, on its way to Vonage. */
struct vonage_reply {
	struct daemon_providers	*ps;
	char			*member;
};

static void
reply_free(gpointer data)
{
	struct vonage_reply	*r = data;

	g_free(r->member);
	g_free(r);
}

static void
vonage_reply_done(void *ctx, long http_status, const char *body, size_t len,
    const char *retry_after, const char *error)
{
	struct vonage_reply	*r = ctx;
	struct notify_response	 resp;

	notify_vonage_sms_classify(http_status, body, len, retry_after,
	    clock_now_ms(), &resp);
	if (resp.result == NOTIFY_OK)
		log_info("http: vonage sms reply sent member=%s sid=%s",
		    r->member, resp.sid != NULL ? resp.sid : "-");
	else
		log_warnx("http: vonage sms reply failed member=%s status=%ld "
		    "error=\"%s\"", r->member, http_status, error != NULL ?
		    error : resp.error_message != NULL ? resp.error_message :
		    "");
	notify_response_fini(&resp);
	g_hash_table_remove(r->ps->replies, r);
}

void
daemon_provider_vonage_reply(struct daemon *d, const char *member,
    const char *to, const char *text)
{
	struct notify_vonage_account	 acct;
	struct notify_request		 req;
	struct vonage_reply		*r;

	vonage_account(d->cfg, &acct);
	if (notify_vonage_reply_request(&acct, to, text, &req) == -1)
		return;
	r = g_new0(struct vonage_reply, 1);
	r->ps = d->providers;
	r->member = g_strdup(member);
	g_hash_table_add(d->providers->replies, r);
	vonage_post(d, &req, vonage_reply_done, r);
	notify_request_fini(&req);
}

void
daemon_provider_post(struct daemon *d, int index,
    const struct notify_request *req, daemon_curl_done_fn done, void *ctx)
{
	struct provider	*p = &d->providers->list[index];

	/* Saved with the outcome: the request goes out first. */
	p->requests++;
	p->ops->post(d, req, done, ctx);
}

static bool
twilio_code_is_recipient(int code)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(twilio_recipient_codes); i++)
		if (twilio_recipient_codes[i] == code)
			return true;
	return false;
}

/* Derives the cause of a failed response when the reader left it
 * unknown (the Twilio reader always does). */
static enum notify_cause
answer_cause(const struct notify_response *resp)
{
	if (resp->cause != NOTIFY_CAUSE_UNKNOWN)
		return resp->cause;
	if (resp->result == NOTIFY_OK)
		return resp->sid != NULL ? NOTIFY_CAUSE_NONE :
		    NOTIFY_CAUSE_PROVIDER;
	if (resp->http_status == 429)
		return NOTIFY_CAUSE_RATE_LIMIT;
	if (resp->http_status == 0 || resp->http_status >= 500)
		return NOTIFY_CAUSE_PROVIDER;
	if (resp->http_status == 401 || resp->http_status == 403)
		return NOTIFY_CAUSE_ACCOUNT;
	if (twilio_code_is_recipient(resp->error_code))
		return NOTIFY_CAUSE_RECIPIENT;
	return NOTIFY_CAUSE_REQUEST;
}

/* Counts one outcome of p: a success closes its circuit, a failure may
 * open it. */
static void
provider_count(struct daemon_providers *ps, struct provider *p, bool is_ok,
    int64_t now_ms)
{
	p->is_trial_out = false;
	if (is_ok) {
		p->consecutive = 0;
		if (p->circuit != DAEMON_CIRCUIT_CLOSED)
			circuit_move(ps, p, DAEMON_CIRCUIT_CLOSED, now_ms);
		provider_save(ps, p);
		return;
	}
	p->failures++;
	p->consecutive++;
	if (p->circuit == DAEMON_CIRCUIT_HALF_OPEN ||
	    (p->circuit == DAEMON_CIRCUIT_CLOSED &&
	    p->consecutive >= DAEMON_CIRCUIT_FAILURES))
		circuit_move(ps, p, DAEMON_CIRCUIT_OPEN, now_ms);
	provider_save(ps, p);
}

enum daemon_provider_verdict
daemon_provider_answer(struct daemon *d, int index,
    enum notify_channel channel, const struct daemon_provider_reply *reply,
    struct notify_response *out)
{
	struct provider		*p = &d->providers->list[index];
	provider_classify_fn	 classify;
	enum notify_cause	 cause;
	int64_t			 now = clock_now_ms();

	classify = channel == NOTIFY_CHANNEL_SMS ? p->ops->sms_classify :
	    p->ops->call_classify;
	classify(reply->http_status, reply->body, reply->len,
	    reply->retry_after, now, out);
	cause = answer_cause(out);
	/* A recipient's number is no fault of the provider. */
	if (cause != NOTIFY_CAUSE_RECIPIENT)
		provider_count(d->providers, p, cause == NOTIFY_CAUSE_NONE,
		    now);
	switch (cause) {
	case NOTIFY_CAUSE_NONE:
		return DAEMON_PROVIDER_OK;
	case NOTIFY_CAUSE_RATE_LIMIT:
		return DAEMON_PROVIDER_RETRY;
	case NOTIFY_CAUSE_RECIPIENT:
		return DAEMON_PROVIDER_RECIPIENT;
	default:
		return DAEMON_PROVIDER_FAIL_OVER;
	}
}

void
daemon_provider_mail_instead(struct daemon *d, int64_t page_id,
    const char *why)
{
	const struct cfg_member	*member;
	struct store_page	 page;
	int64_t			 now = clock_now_ms();
	char			*detail;
	int			 queued;

	if (store_page_get(d->store, page_id, &page) == -1)
		return;
	member = cfg_member_by_name(d->cfg, page.member);
	if (member == NULL || d->outbox.templates == NULL) {
		log_warnx("notify: %s inc=%" PRId64 " page=%" PRId64
		    " member=%s; no page mail can go out (no relay, or the "
		    "member left the team)", why, page.incident_id, page.id,
		    page.member);
		detail = g_strdup_printf("%s; no page mail can go out", why);
		(void)store_event_add(d->store, page.incident_id, page.id,
		    "unreached", detail, now);
		g_free(detail);
		goto out;
	}
	queued = daemon_outbox_page(&d->outbox, page.incident_id, member,
	    now);
	if (queued == -1)
		goto out;
	detail = g_strdup_printf("%s%s", why, queued == 0 ? "; page mail "
	    "about the incident was queued before" : "");
	log_warnx("notify: %s inc=%" PRId64 " page=%" PRId64 " member=%s "
	    "channel=%s; %s", why, page.incident_id, page.id, page.member,
	    notify_channel_name(page.channel), queued == 0 ? "page mail "
	    "about the incident was queued before" : "paging by mail");
	(void)store_event_add(d->store, page.incident_id, page.id,
	    "page-mail", detail, now);
	g_free(detail);
out:
	store_page_fini(&page);
}

/* Tells whether the incident of page is still unacknowledged. */
static bool
page_is_open(struct daemon *d, const struct store_page *page)
{
	struct store_incident	inc;
	bool			is_open = false;

	if (store_incident_get(d->store, page->incident_id, &inc) == 0)
		is_open = inc.acked_ms == 0;
	store_incident_fini(&inc);
	return is_open;
}

/*
 * Tells whether status means that the member did not take the call (busy,
 * not answered, ringing too long), which is no fault of the provider's.
 */
static bool
status_is_callee_outcome(const char *status)
{
	static const char *const names[] = {
		"busy", "no-answer", "unanswered", "timeout",
	};
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (strcmp(status, names[i]) == 0)
			return true;
	return false;
}

/* Says why the last provider's page did not reach its member. */
static const char *
undelivered_why(const struct store_page *page, const char *status)
{
	if (status_is_callee_outcome(status))
		return "the call was not answered";
	if (page->channel == NOTIFY_CHANNEL_SMS)
		return "the SMS was not delivered";
	return "every phone provider failed";
}

void
daemon_provider_undelivered(struct daemon *d, const char *sid,
    const char *status)
{
	struct store_page	*page;
	GPtrArray		*pages;
	char			*detail;
	int			 index;
	guint			 i;

	pages = store_pages_by_sid(d->store, sid);
	if (pages == NULL || pages->len == 0)
		goto out;
	page = g_ptr_array_index(pages, 0);
	index = daemon_provider_find(d->providers, page->provider);
	if (index != -1 && !status_is_callee_outcome(status))
		provider_count(d->providers, &d->providers->list[index], false,
		    clock_now_ms());
	detail = g_strdup_printf("%s: not delivered, status %s",
	    page->provider != NULL ? page->provider : "provider", status);
	for (i = 0; i < pages->len; i++) {
		page = g_ptr_array_index(pages, i);
		if (page->state != STORE_PAGE_SENT || !page_is_open(d, page))
			continue;
		if (index != -1 && index + 1 < d->providers->n) {
			log_warnx("notify: page failover inc=%" PRId64
			    " page=%" PRId64 " member=%s channel=%s from=%s "
			    "status=%s", page->incident_id, page->id,
			    page->member, notify_channel_name(page->channel),
			    page->provider, status);
			(void)store_page_requeue(d->store, page->id, detail,
			    clock_now_ms());
		} else {
			daemon_provider_mail_instead(d, page->id,
			    undelivered_why(page, status));
		}
	}
	g_free(detail);
out:
	if (pages != NULL)
		g_ptr_array_free(pages, TRUE);
}

const char *
daemon_circuit_name(enum daemon_circuit circuit)
{
	if ((unsigned)circuit >= G_N_ELEMENTS(circuit_names))
		return "unknown";
	return circuit_names[circuit];
}
