/* SPDX-License-Identifier: ISC */
/*
 * Intake to acknowledgement on the loop: stored messages are parsed and
 * turned into incidents, open incidents page the whole team round after
 * round, each page is sent through the provider and retried with backoff,
 * and the first acknowledgement stops it all.  The store is the only
 * memory that matters: after a restart, everything resumes from it.
 */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "esc.h"
#include "log.h"
#include "classify.h"
#include "parse.h"

#define SUBJECT_MAX_CHARS	300	/* kept of a subject, in characters */

/* A page being sent, or waiting to be sent again. */
struct page_job {
	struct daemon		*d;
	int64_t			 page_id;
	int64_t			 incident_id;
	guint			 retry_timer;
	bool			 is_requesting;
	/* Between page_prepare and page_post: */
	bool			 has_request;
	struct notify_request	 req;
	int			 round;
	int			 attempt;
	enum notify_channel	 channel;
	char			 member[64];
	char			 to_shown[LOG_PHONE_LEN];
};

static void	page_send(struct daemon *d, struct page_job *job);

static void
message_log_outcome(const struct store_message *msg,
    const struct parse_result *parsed, const struct classify_result *cr,
    const struct store_outcome *out)
{
	if (out->is_new_incident) {
		log_info("incident: opened inc=%" PRId64 " msg=%" PRId64
		    " severity=%s from=<%s> subject=\"%s\"%s",
		    out->incident_id, msg->id, cfg_severity_name(cr->severity),
		    parsed->from_addr ? parsed->from_addr : "",
		    parsed->subject,
		    parsed->is_unparseable ? " unparseable" : "");
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
message_check_severity(struct daemon *d, const struct store_message *msg,
    struct store_disposition *disp)
{
	struct store_incident	inc;
	int			rc = 0;

	if (disp->opens_incident || disp->incident_id <= 0 ||
	    store_incident_get(d->store, disp->incident_id, &inc) == -1)
		return 0;
	if (disp->severity >= inc.severity)
		goto out;
	if (inc.acked_ms == 0) {
		log_info("incident: raised inc=%" PRId64 " msg=%" PRId64
		    " severity=%s", inc.id, msg->id,
		    cfg_severity_name(disp->severity));
		rc = store_incident_raise(d->store, inc.id, disp->severity,
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
	disp->now_ms = clock_now_ms();
}

static int
message_process(struct daemon *d, int64_t msg_id)
{
	struct store_disposition	 disp;
	struct classify_result		 cr;
	struct store_outcome		 out;
	struct store_message		 msg;
	struct parse_result		 parsed;
	char				*sender = NULL;
	int				 rc = -1;

	if (store_message_load(d->store, msg_id, &msg) == -1) {
		store_message_fini(&msg);
		return -1;
	}
	(void)parse_message(g_bytes_get_data(msg.raw, NULL),
	    g_bytes_get_size(msg.raw), &parsed);	/* flags, never fails */
	subject_cap(&parsed.subject);
	if (daemon_classify(d, &msg, &parsed, &cr) == -1)
		goto out_parsed;
	message_disposition(&msg, &parsed, &cr, d->cfg, &disp);
	if (message_check_severity(d, &msg, &disp) == -1)
		goto out;
	/* The sender a later mail is matched on, as the classifier reads
	 * it: the From address, else the envelope sender. */
	if (parsed.from_addr != NULL || (msg.mail_from != NULL &&
	    msg.mail_from[0] != '\0'))
		sender = g_ascii_strdown(parsed.from_addr != NULL ?
		    parsed.from_addr : msg.mail_from, -1);
	disp.sender = sender;
	if (store_message_process(d->store, msg_id, &disp, &out) == -1)
		goto out;
	message_log_outcome(&msg, &parsed, &cr, &out);
	store_outcome_fini(&out);
	rc = 0;
out:
	g_free(sender);
	classify_result_fini(&cr);
out_parsed:
	parse_result_fini(&parsed);
	store_message_fini(&msg);
	return rc;
}

static void
job_free(gpointer data)
{
	struct page_job	*job = data;

	if (job->retry_timer != 0)
		g_source_remove(job->retry_timer);
	if (job->has_request)
		notify_request_fini(&job->req);
	g_free(job);
}

static gboolean
page_on_retry(gpointer data)
{
	struct page_job	*job = data;

	job->retry_timer = 0;
	page_send(job->d, job);
	return G_SOURCE_REMOVE;
}

static char *
page_error_text(const struct notify_response *resp, const char *error)
{
	if (resp->http_status == 0)
		return g_strdup_printf("transport: %s",
		    error != NULL ? error : "no answer");
	return g_strdup_printf("http=%ld code=%d %s", resp->http_status,
	    resp->error_code,
	    resp->error_message != NULL ? resp->error_message : "");
}

/* Schedules another attempt, or gives the page up; returns whether the job
 * lives on. */
static bool
page_retry_or_fail(struct daemon *d, struct page_job *job,
    const struct store_page *page, const struct notify_response *resp,
    const char *text)
{
	struct store_incident	inc;
	int64_t			delay, now = clock_now_ms(), next_round;
	bool			is_worth = false;

	if (resp->result == NOTIFY_RETRY &&
	    store_incident_get(d->store, job->incident_id, &inc) == 0) {
		next_round = esc_round_start_ms(inc.opened_ms,
		    d->cfg->repeat_ms, page->round + 1);
		delay = esc_retry_delay_ms(page->attempts,
		    resp->retry_after_ms);
		is_worth = inc.acked_ms == 0 && esc_retry_is_worth(
		    page->attempts, now + delay, next_round);
		store_incident_fini(&inc);
	}
	if (!is_worth) {
		log_warnx("notify: page failed inc=%" PRId64 " page=%" PRId64
		    " member=%s channel=%s attempts=%d error=\"%s\"",
		    job->incident_id, job->page_id, page->member,
		    notify_channel_name(page->channel), page->attempts, text);
		(void)store_page_failed(d->store, job->page_id, text, now);
		return false;
	}
	log_warnx("notify: page retry inc=%" PRId64 " page=%" PRId64
	    " member=%s channel=%s attempts=%d retry_in_ms=%" PRId64
	    " error=\"%s\"", job->incident_id, job->page_id, page->member,
	    notify_channel_name(page->channel), page->attempts, delay, text);
	if (store_page_retry(d->store, job->page_id, text, now) == -1)
		return false;
	job->retry_timer = g_timeout_add((guint)delay, page_on_retry, job);
	return true;
}

static void
page_on_answer(void *ctx, long http_status, const char *body, size_t len,
    const char *retry_after, const char *error)
{
	struct page_job		*job = ctx;
	struct daemon		*d = job->d;
	struct notify_response	 resp;
	struct store_page	 page;
	char			*text;
	bool			 is_alive = false;

	job->is_requesting = false;
	notify_twilio_classify(http_status, body, len, retry_after,
	    clock_now_ms(), &resp);
	if (store_page_get(d->store, job->page_id, &page) == -1)
		goto out;
	if (resp.result == NOTIFY_OK && resp.sid == NULL) {
		log_warnx("notify: page accepted without a readable answer "
		    "inc=%" PRId64 " page=%" PRId64 " member=%s channel=%s "
		    "http=%ld; its status and keypress cannot be matched",
		    job->incident_id, job->page_id, page.member,
		    notify_channel_name(page.channel), resp.http_status);
		(void)store_page_sent(d->store, job->page_id, NULL,
		    clock_now_ms());
	} else if (resp.result == NOTIFY_OK) {
		log_info("notify: page sent inc=%" PRId64 " page=%" PRId64
		    " member=%s channel=%s sid=%s", job->incident_id,
		    job->page_id, page.member,
		    notify_channel_name(page.channel), resp.sid);
		(void)store_page_sent(d->store, job->page_id, resp.sid,
		    clock_now_ms());
	} else {
		text = page_error_text(&resp, error);
		is_alive = page_retry_or_fail(d, job, &page, &resp, text);
		g_free(text);
	}
	store_page_fini(&page);
out:
	notify_response_fini(&resp);
	if (!is_alive)
		g_hash_table_remove(d->in_flight, &job->page_id);
}

/*
 * Checks that a page should still go out, builds its request and marks it
 * sending, inside the caller's transaction if there is one.  Returns 0,
 * or -1 when it is not to be sent (acknowledged meanwhile, or a store
 * failure).
 */
static int
page_prepare(struct daemon *d, struct page_job *job)
{
	struct store_incident	inc;
	struct store_page	page;
	struct notify_page	np;
	int			rc = -1;

	memset(&inc, 0, sizeof(inc));
	if (store_page_get(d->store, job->page_id, &page) == -1)
		return -1;
	if (page.state != STORE_PAGE_PENDING ||
	    store_incident_get(d->store, page.incident_id, &inc) == -1 ||
	    inc.acked_ms != 0)
		goto out;
	memset(&np, 0, sizeof(np));
	np.incident_id = inc.id;
	np.page_id = page.id;
	np.round = page.round;
	np.severity = inc.severity;
	np.subject = inc.subject;
	np.to = page.to;
	if (store_page_sending(d->store, page.id) == -1)
		goto out;
	if (page.channel == NOTIFY_CHANNEL_SMS)
		notify_twilio_sms_request(d->cfg, &np, &job->req);
	else
		notify_twilio_call_request(d->cfg, &np, &job->req);
	job->has_request = true;
	job->round = page.round;
	job->attempt = page.attempts + 1;
	job->channel = page.channel;
	g_strlcpy(job->member, page.member, sizeof(job->member));
	log_phone(page.to, job->to_shown);
	rc = 0;
out:
	store_page_fini(&page);
	store_incident_fini(&inc);
	return rc;
}

/* Starts the prepared request; its answer arrives in page_on_answer. */
static void
page_post(struct daemon *d, struct page_job *job)
{
	log_info("notify: page sending inc=%" PRId64 " page=%" PRId64
	    " round=%d member=%s channel=%s to=%s attempt=%d",
	    job->incident_id, job->page_id, job->round, job->member,
	    notify_channel_name(job->channel), job->to_shown, job->attempt);
	job->is_requesting = true;
	daemon_curl_post(d->curl, job->req.url, job->req.body,
	    d->cfg->twilio.account_sid, d->cfg->twilio.auth_token,
	    d->cfg->twilio.timeout_ms, page_on_answer, job);
	notify_request_fini(&job->req);
	job->has_request = false;
}

/* Sends one page again after a retry delay, in a transaction of its own. */
static void
page_send(struct daemon *d, struct page_job *job)
{
	if (page_prepare(d, job) == -1) {
		g_hash_table_remove(d->in_flight, &job->page_id);
		return;
	}
	page_post(d, job);
}

/* Prepares every pending page not already in hand; returns their jobs. */
static GPtrArray *
page_prepare_pending(struct daemon *d)
{
	struct store_page	*page;
	struct page_job		*job;
	GPtrArray		*pending, *jobs;
	guint			 i;

	jobs = g_ptr_array_new();
	pending = store_pages_in_state(d->store, STORE_PAGE_PENDING);
	if (pending == NULL)
		return jobs;
	for (i = 0; i < pending->len; i++) {
		page = g_ptr_array_index(pending, i);
		if (g_hash_table_contains(d->in_flight, &page->id))
			continue;	/* being sent or waiting to retry */
		job = g_new0(struct page_job, 1);
		job->d = d;
		job->page_id = page->id;
		job->incident_id = page->incident_id;
		g_hash_table_insert(d->in_flight, &job->page_id, job);
		if (page_prepare(d, job) == -1)
			g_hash_table_remove(d->in_flight, &job->page_id);
		else
			g_ptr_array_add(jobs, job);
	}
	g_ptr_array_free(pending, TRUE);
	return jobs;
}

/* Starts the rounds that are due for the open incidents. */
static void
page_rounds(struct daemon *d)
{
	struct store_incident	*inc;
	GPtrArray		*open;
	int64_t			 now = clock_now_ms();
	guint			 i;
	int			 due, created;

	open = store_incidents_list(d->store, true);
	if (open == NULL)
		return;
	for (i = 0; i < open->len; i++) {
		inc = g_ptr_array_index(open, i);
		due = esc_round_due(inc->opened_ms, d->cfg->repeat_ms, now);
		if (due <= store_round_last(d->store, inc->id))
			continue;
		created = store_round_create(d->store, inc->id, due, d->cfg,
		    now);
		if (created > 0)
			log_info("escalation: round started inc=%" PRId64
			    " round=%d pages=%d", inc->id, due, created);
	}
	g_ptr_array_free(open, TRUE);
}

/*
 * One pass over the store: new messages understood, due rounds started,
 * pending pages marked as sending, all in one transaction so that one disk
 * flush covers them; then the provider requests go out.  A page is never
 * requested before its "sending" mark is on disk, so a crash cannot page
 * anyone twice in a round.
 */
static void
page_cycle(struct daemon *d, bool is_processing)
{
	GArray		*ids = NULL;
	GPtrArray	*jobs = NULL;
	guint		 i;

	if (d->is_stopping || store_batch_begin(d->store) == -1)
		return;
	if (is_processing)
		ids = store_messages_unprocessed(d->store);
	for (i = 0; ids != NULL && i < ids->len; i++)
		/* A failure is logged; the message stays unprocessed and is
		 * tried again at the next tick. */
		(void)message_process(d, g_array_index(ids, gint64, i));
	page_rounds(d);
	jobs = page_prepare_pending(d);
	if (store_batch_commit(d->store) == -1) {
		/* Nothing was recorded: the pages are still pending. */
		for (i = 0; i < jobs->len; i++) {
			struct page_job *job = g_ptr_array_index(jobs, i);

			g_hash_table_remove(d->in_flight, &job->page_id);
		}
		g_ptr_array_set_size(jobs, 0);
	}
	for (i = 0; i < jobs->len; i++)
		page_post(d, g_ptr_array_index(jobs, i));
	g_ptr_array_free(jobs, TRUE);
	if (ids != NULL)
		g_array_free(ids, TRUE);
}

void
daemon_page_process_messages(struct daemon *d)
{
	page_cycle(d, true);
}

void
daemon_page_tick(struct daemon *d)
{
	page_cycle(d, false);
}

void
daemon_page_recover(struct daemon *d)
{
	int	orphans;

	d->in_flight = g_hash_table_new_full(g_int64_hash, g_int64_equal,
	    NULL, job_free);
	orphans = store_pages_orphaned(d->store, clock_now_ms());
	if (orphans > 0)
		log_warnx("notify: pages in flight at the last stop count=%d; "
		    "their outcome is unknown and the next round pages again",
		    orphans);
	daemon_page_process_messages(d);
}

void
daemon_page_stop(struct daemon *d)
{
	if (d->in_flight != NULL)
		g_hash_table_destroy(d->in_flight);
	d->in_flight = NULL;
}

int
daemon_page_ack(struct daemon *d, int64_t incident_id, const char *member,
    const char *channel, const char *note)
{
	struct store_incident	inc;
	int64_t			now = clock_now_ms();
	int			rc;

	rc = store_incident_ack(d->store, incident_id, member, channel, note,
	    now);
	if (rc != 1)
		return rc;
	if (store_incident_get(d->store, incident_id, &inc) == 0) {
		log_info("incident: acknowledged inc=%" PRId64 " by=%s "
		    "channel=%s after_s=%" PRId64 " sla=%s", incident_id,
		    member, channel, (now - inc.opened_ms) / 1000,
		    esc_sla_is_met(now, inc.ack_deadline_ms) ? "met" :
		    "breached");
		store_incident_fini(&inc);
	}
	return 1;
}
