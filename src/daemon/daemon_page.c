/* SPDX-License-Identifier: ISC */
/*
 * Intake to acknowledgement on the loop: stored messages are parsed and
 * turned into incidents, open incidents page the whole team round after
 * round, each page is sent through the provider and retried with backoff,
 * and the first acknowledgement stops it all.  The store is the only
 * memory that matters: after a restart, everything resumes from it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classify.h"
#include "clock.h"
#include "daemon.h"
#include "esc.h"
#include "log.h"
#include "parse.h"

#define SUBJECT_MAX_CHARS	300	/* kept of a subject, in characters */
#define AUTH_DNS_TIMEOUT_S	5	/* DKIM key lookups of an email ack */

/*
 * One request being sent, or waiting to be sent again: the pages of every
 * incident due for one member on one channel, bundled.  d->in_flight maps
 * each of its page ids to it, and each entry holds a reference.
 */
struct page_job {
	struct daemon		*d;
	int			 refs;
	int64_t			*page_ids;
	size_t			 n_pages;
	int64_t			 incident_id;	/* of the first page */
	guint			 retry_timer;
	bool			 is_requesting;
	/* Between page_prepare and page_post: */
	bool			 has_request;
	struct notify_request	 req;
	int			 round;
	int			 attempt;
	int			 provider;	/* index, -1 before the first */
	bool			 is_picked;	/* provider chosen for the next
						 * request */
	enum notify_channel	 channel;
	char			 member[64];
	char			 to_shown[LOG_PHONE_LEN];
};

static void	page_send(struct daemon *d, struct page_job *job);

/*
 * Sends again the pages of a stopped daemon that no provider status has
 * named since the start.  A status for a request that reached the provider
 * usually comes within seconds, so without one the request most likely
 * never left.  A second call after a crash is the lesser harm, because a
 * page left unknown waits for the next round, minutes later.
 */
static void
page_resend_unknown(struct daemon *d)
{
	int64_t	now = clock_now_ms(), wait_ms = d->cfg->resend_unknown_ms;
	int64_t	waited_s = (now - d->orphaned_ms) / 1000;
	char	*detail;
	int	 n;

	/* Once this start has waited: a status may also name the pages that
	 * an earlier start found unknown and stopped before sending again. */
	if (wait_ms == 0 || d->orphaned_ms == 0 ||
	    now - d->orphaned_ms < wait_ms)
		return;
	detail = g_strdup_printf("no provider status named it in the %" PRId64
	    " s since the restart; sending it again", waited_s);
	n = store_pages_resend_unknown(d->store, now - wait_ms, detail, now);
	if (n > 0)
		log_warnx("notify: pages in flight at a stop sent again "
		    "count=%d; no provider status named them in the %" PRId64
		    " s since the restart", n, waited_s);
	g_free(detail);
}

static void
job_unref(gpointer data)
{
	struct page_job	*job = data;

	if (--job->refs > 0)
		return;
	if (job->retry_timer != 0)
		g_source_remove(job->retry_timer);
	if (job->has_request)
		notify_request_fini(&job->req);
	g_free(job->page_ids);
	g_free(job);
}

/* Maps page_id to job in d->in_flight. */
static void
job_hold(struct daemon *d, struct page_job *job, int64_t page_id)
{
	job->refs++;
	g_hash_table_insert(d->in_flight, g_memdup2(&page_id,
	    sizeof(page_id)), job);
}

/* Takes every page of job out of d->in_flight, which may free it. */
static void
job_drop(struct daemon *d, struct page_job *job)
{
	size_t	i;

	job->refs++;
	for (i = 0; i < job->n_pages; i++)
		g_hash_table_remove(d->in_flight, &job->page_ids[i]);
	job_unref(job);
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

/* Tells whether any incident of job is still unacknowledged. */
static bool
job_has_open_incident(struct daemon *d, const struct page_job *job)
{
	struct store_incident	inc;
	struct store_page	page;
	bool			is_open = false;
	size_t			i;

	for (i = 0; i < job->n_pages && !is_open; i++) {
		if (store_page_get(d->store, job->page_ids[i], &page) == -1)
			continue;
		if (store_incident_get(d->store, page.incident_id, &inc) == 0)
			is_open = STORE_INCIDENT_PAGES(&inc);
		store_incident_fini(&inc);
		store_page_fini(&page);
	}
	return is_open;
}

/* Records the same outcome on every page of job. */
static void
job_record(struct daemon *d, const struct page_job *job, const char *sid,
    const char *error, bool is_retry, bool is_failed)
{
	int64_t	now = clock_now_ms();
	size_t	i;

	for (i = 0; i < job->n_pages; i++) {
		if (is_retry)
			(void)store_page_retry(d->store, job->page_ids[i],
			    error, now);
		else if (is_failed)
			(void)store_page_failed(d->store, job->page_ids[i],
			    error, now);
		else
			(void)store_page_sent(d->store, job->page_ids[i], sid,
			    now);
	}
}

/* Schedules another attempt, or gives the pages up; returns whether the
 * job lives on. */
static bool
page_retry_or_fail(struct daemon *d, struct page_job *job,
    const struct store_page *page, const struct notify_response *resp,
    const char *text)
{
	struct store_incident	inc;
	int64_t			delay = 0, now = clock_now_ms(), next_round;
	bool			is_worth = false;

	memset(&inc, 0, sizeof(inc));
	if (resp->result == NOTIFY_RETRY &&
	    store_incident_get(d->store, job->incident_id, &inc) == 0) {
		next_round = daemon_esc_next_round_ms(d, &inc, page->round);
		delay = esc_retry_delay_ms(page->attempts,
		    resp->retry_after_ms);
		is_worth = esc_retry_is_worth(page->attempts, now + delay,
		    next_round) && job_has_open_incident(d, job);
	}
	store_incident_fini(&inc);
	if (!is_worth) {
		log_warnx("notify: page failed inc=%" PRId64 " page=%" PRId64
		    " member=%s channel=%s bundle=%zu attempts=%d "
		    "error=\"%s\"", job->incident_id, job->page_ids[0],
		    page->member, notify_channel_name(page->channel),
		    job->n_pages, page->attempts, text);
		job_record(d, job, NULL, text, false, true);
		return false;
	}
	log_warnx("notify: page retry inc=%" PRId64 " page=%" PRId64
	    " member=%s channel=%s bundle=%zu attempts=%d retry_in_ms=%"
	    PRId64 " error=\"%s\"", job->incident_id, job->page_ids[0],
	    page->member, notify_channel_name(page->channel), job->n_pages,
	    page->attempts, delay, text);
	job_record(d, job, NULL, text, true, false);
	job->retry_timer = g_timeout_add((guint)delay, page_on_retry, job);
	return true;
}

static void
page_log_sent(struct daemon *d, const struct page_job *job, const char *sid)
{
	struct store_page	page;
	size_t			i;

	for (i = 0; i < job->n_pages; i++) {
		if (store_page_get(d->store, job->page_ids[i], &page) == -1)
			continue;
		log_info("notify: page sent inc=%" PRId64 " page=%" PRId64
		    " member=%s channel=%s bundle=%zu sid=%s",
		    page.incident_id, page.id, page.member,
		    notify_channel_name(page.channel), job->n_pages, sid);
		store_page_fini(&page);
	}
}

/*
 * Sends the pages of job through the next provider after a failure of
 * its own, with a "failover" event on each.  Returns whether one was
 * left.
 */
static bool
page_fail_over(struct daemon *d, struct page_job *job, const char *text)
{
	const char	*from;
	char		*detail;
	int		 next;
	size_t		 i;

	next = daemon_provider_pick(d->providers, job->provider + 1,
	    clock_now_ms());
	if (next == -1)
		return false;
	from = daemon_provider_name(d->providers, job->provider);
	log_warnx("notify: page failover inc=%" PRId64 " page=%" PRId64
	    " member=%s channel=%s from=%s to=%s error=\"%s\"",
	    job->incident_id, job->page_ids[0], job->member,
	    notify_channel_name(job->channel), from,
	    daemon_provider_name(d->providers, next), text);
	detail = g_strdup_printf("%s: %s", from, text);
	for (i = 0; i < job->n_pages; i++)
		(void)store_page_requeue(d->store, job->page_ids[i], detail,
		    clock_now_ms());
	g_free(detail);
	job->provider = next;
	job->is_picked = true;
	page_send(d, job);
	return true;
}

/* Pages the member of job by mail, every phone provider having failed. */
static void
page_mail_instead(struct daemon *d, const struct page_job *job)
{
	size_t	i;

	for (i = 0; i < job->n_pages; i++)
		daemon_provider_mail_instead(d, job->page_ids[i],
		    "every phone provider failed");
}

/* Handles a response that did not accept the pages; returns whether the
 * job lives on. */
static bool
page_on_failure(struct daemon *d, struct page_job *job,
    const struct store_page *page, enum daemon_provider_verdict verdict,
    const struct notify_response *resp, const char *error)
{
	char	*text = page_error_text(resp, error);
	bool	 is_alive = false;

	if (verdict == DAEMON_PROVIDER_FAIL_OVER) {
		/* On failure, page_prepare has let go of the job. */
		is_alive = page_fail_over(d, job, text);
		if (is_alive)
			goto out;
		/* Every provider failed: mail now, and call again from the
		 * first provider while retries are worth it. */
		page_mail_instead(d, job);
		job->provider = 0;
	}
	if (resp->result == NOTIFY_OK) {
		log_warnx("notify: page accepted without a readable response "
		    "inc=%" PRId64 " page=%" PRId64 " member=%s channel=%s "
		    "http=%ld; its status and keypress cannot be matched",
		    job->incident_id, job->page_ids[0], page->member,
		    notify_channel_name(page->channel), resp->http_status);
		job_record(d, job, NULL, NULL, false, false);
		goto out;
	}
	is_alive = page_retry_or_fail(d, job, page, resp, text);
out:
	g_free(text);
	return is_alive;
}

static void
page_on_answer(void *ctx, long http_status, const char *body, size_t len,
    const char *retry_after, const char *error)
{
	struct page_job			*job = ctx;
	struct daemon			*d = job->d;
	struct daemon_provider_reply	 reply;
	enum daemon_provider_verdict	 verdict;
	struct notify_response		 resp;
	struct store_page		 page;
	bool				 is_alive = false, is_batch;

	job->is_requesting = false;
	reply.http_status = http_status;
	reply.body = body;
	reply.len = len;
	reply.retry_after = retry_after;
	verdict = daemon_provider_answer(d, job->provider, job->channel,
	    &reply, &resp);
	if (store_page_get(d->store, job->page_ids[0], &page) == -1)
		goto out;
	if (verdict == DAEMON_PROVIDER_OK) {
		page_log_sent(d, job, resp.sid);
		is_batch = daemon_record_soon_begin(d);
		job_record(d, job, resp.sid, NULL, false, false);
		daemon_http_status_early(d, resp.sid);
		daemon_record_soon_end(d, is_batch);
	} else {
		is_alive = page_on_failure(d, job, &page, verdict, &resp,
		    error);
	}
	store_page_fini(&page);
out:
	notify_response_fini(&resp);
	if (!is_alive)
		job_drop(d, job);
}

/*
 * Follows the config as it is now.  A page waiting to go out (a retry, a
 * failover, a page sent again after a restart) goes to its member's
 * current number.  It is canceled once the member has left the team.
 * Returns 0, or -1 when the page was canceled.
 */
static int
page_follow_member(struct daemon *d, struct store_page *page)
{
	const struct cfg_member	*member;
	const char		*reason = NULL;
	int64_t			 now = clock_now_ms();

	member = cfg_member_by_name(d->cfg, page->member);
	if (member == NULL)
		reason = "the member left the team";
	else if (member->phone == NULL)
		reason = "the member has no phone number any more";
	if (reason != NULL) {
		log_info("notify: page canceled inc=%" PRId64 " page=%" PRId64
		    " member=%s reason=\"%s\"", page->incident_id, page->id,
		    page->member, reason);
		(void)store_page_canceled(d->store, page->id, reason, now);
		return -1;
	}
	if (strcmp(member->phone, page->to) == 0)
		return 0;
	if (store_page_readdressed(d->store, page->id, member->phone,
	    "the member's number changed in the config", now) == -1)
		return -1;
	log_info("notify: page to the member's new number inc=%" PRId64
	    " page=%" PRId64 " member=%s", page->incident_id, page->id,
	    page->member);
	g_free(page->to);
	page->to = g_strdup(member->phone);
	return 0;
}

/*
 * Reads page_id and checks that it should still go out: pending, its
 * incident unacknowledged and its member in the team.  Fills page and inc
 * (the caller releases both) and returns 0, or -1.
 */
static int
page_load_live(struct daemon *d, int64_t page_id, struct store_page *page,
    struct store_incident *inc)
{
	memset(inc, 0, sizeof(*inc));
	if (store_page_get(d->store, page_id, page) == -1)
		return -1;
	if (page->state != STORE_PAGE_PENDING ||
	    store_incident_get(d->store, page->incident_id, inc) == -1 ||
	    !STORE_INCIDENT_PAGES(inc))
		return -1;
	return page_follow_member(d, page);
}

/* Keeps the pages of job that should still go out, in np/pages/incs;
 * the others leave d->in_flight.  Returns how many are kept. */
static size_t
job_keep_live(struct daemon *d, struct page_job *job, struct notify_page *np,
    struct store_page *pages, struct store_incident *incs)
{
	size_t	i, n = 0;
	int64_t	id;

	for (i = 0; i < job->n_pages; i++) {
		id = job->page_ids[i];
		if (page_load_live(d, id, &pages[n], &incs[n]) == -1) {
			store_page_fini(&pages[n]);
			store_incident_fini(&incs[n]);
			g_hash_table_remove(d->in_flight, &id);
			continue;
		}
		job->page_ids[n] = id;
		np[n].incident_id = incs[n].id;
		np[n].page_id = pages[n].id;
		np[n].round = pages[n].round;
		np[n].severity = incs[n].severity;
		np[n].subject = incs[n].subject;
		np[n].to = pages[n].to;
		n++;
	}
	job->n_pages = n;
	return n;
}

/*
 * Chooses the provider of job's next request unless a failover chose it:
 * the one of its last request (for a retry), the one after the provider
 * a requeued page failed at, or the first.  Returns its index, or -1.
 */
static int
job_pick_provider(struct daemon *d, struct page_job *job,
    const struct store_page *first)
{
	int	from = 0;

	if (job->is_picked) {
		job->is_picked = false;
		return job->provider;
	}
	if (job->provider >= 0)
		from = job->provider;
	else if (first->provider != NULL)
		from = daemon_provider_find(d->providers, first->provider) + 1;
	return daemon_provider_pick(d->providers, from, clock_now_ms());
}

/*
 * Builds job's request through the chosen provider, or the next one that
 * can build it, and records that provider on its pages.  Returns 0, or -1
 * (the pages failed) when none is left.
 */
static int
job_build(struct daemon *d, struct page_job *job,
    const struct store_page *first, const struct notify_page *np, size_t n)
{
	int	index;
	size_t	i;

	index = job_pick_provider(d, job, first);
	while (index != -1 && daemon_provider_build(d, index, first->channel,
	    np, n, &job->req) == -1)
		index = daemon_provider_pick(d->providers, index + 1,
		    clock_now_ms());
	if (index == -1) {
		log_warnx("notify: no phone provider left inc=%" PRId64
		    " page=%" PRId64 " member=%s channel=%s", first->incident_id,
		    first->id, first->member,
		    notify_channel_name(first->channel));
		for (i = 0; i < n; i++) {
			(void)store_page_failed(d->store, np[i].page_id,
			    "no phone provider left", clock_now_ms());
			daemon_provider_mail_instead(d, np[i].page_id,
			    "every phone provider failed");
		}
		return -1;
	}
	job->provider = index;
	for (i = 0; i < n; i++)
		(void)store_page_provider_set(d->store, np[i].page_id,
		    daemon_provider_name(d->providers, index));
	return 0;
}

/*
 * Checks which pages of job should still go out, builds their one request
 * and marks them sending, inside the caller's transaction if there is one.
 * Returns 0, or -1 when none is to be sent (acknowledged meanwhile, or a
 * store failure); the job has then left d->in_flight.
 */
static int
page_prepare(struct daemon *d, struct page_job *job)
{
	struct store_incident	*incs;
	struct store_page	*pages;
	struct notify_page	*np;
	size_t			 i, n;
	int			 rc = -1;

	incs = g_new0(struct store_incident, job->n_pages);
	pages = g_new0(struct store_page, job->n_pages);
	np = g_new0(struct notify_page, job->n_pages);
	job->refs++;
	n = job_keep_live(d, job, np, pages, incs);
	for (i = 0; i < n; i++)
		if (store_page_sending(d->store, pages[i].id,
		    pages[0].id) == -1)
			goto out;
	if (n == 0 || job_build(d, job, &pages[0], np, n) == -1)
		goto out;
	job->has_request = true;
	job->incident_id = incs[0].id;
	job->round = pages[0].round;
	job->attempt = pages[0].attempts + 1;
	job->channel = pages[0].channel;
	g_strlcpy(job->member, pages[0].member, sizeof(job->member));
	log_phone(pages[0].to, job->to_shown);
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		store_page_fini(&pages[i]);
		store_incident_fini(&incs[i]);
	}
	g_free(np);
	g_free(pages);
	g_free(incs);
	if (rc == -1)
		job_drop(d, job);
	job_unref(job);
	return rc;
}

/* Starts the prepared request; its answer arrives in page_on_answer. */
static void
page_post(struct daemon *d, struct page_job *job)
{
	log_info("notify: page sending inc=%" PRId64 " page=%" PRId64
	    " %s=%d%s member=%s channel=%s to=%s attempt=%d bundle=%zu "
	    "provider=%s", job->incident_id, job->page_ids[0],
	    job->round > 0 ? "round" : "breach", abs(job->round),
	    job->round > 0 ? "" : "%", job->member,
	    notify_channel_name(job->channel), job->to_shown,
	    job->attempt, job->n_pages,
	    daemon_provider_name(d->providers, job->provider));
	job->is_requesting = true;
	daemon_provider_post(d, job->provider, &job->req, page_on_answer,
	    job);
	notify_request_fini(&job->req);
	job->has_request = false;
}

/* Sends one request again after a retry delay, in a transaction of its
 * own. */
static void
page_send(struct daemon *d, struct page_job *job)
{
	/* On failure, page_prepare has let go of the job. */
	if (page_prepare(d, job) == 0)
		page_post(d, job);
}

/*
 * Counts the requests to member on channel accepted within the last
 * window_ms, and those in flight now.  Returns -1 on a store failure.
 */
static int64_t
page_requests_counted(struct daemon *d, const char *member,
    enum notify_channel channel, int64_t window_ms)
{
	GHashTableIter	 iter;
	gpointer	 key, value;
	struct page_job	*job;
	int64_t		 n;

	n = store_page_requests_since(d->store, member, channel,
	    esc_cap_since_ms(clock_now_ms(), window_ms));
	if (n < 0)
		return -1;
	g_hash_table_iter_init(&iter, d->in_flight);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		job = value;
		/* A job is counted once, by its first page. */
		if (job->n_pages > 0 && *(int64_t *)key == job->page_ids[0] &&
		    job->channel == channel &&
		    strcmp(job->member, member) == 0)
			n++;
	}
	return n;
}

/* Marks the pages of a group capped, each with a timeline event. */
static void
page_cap_group(struct daemon *d, GPtrArray *group,
    const struct cfg_rate *rate, int64_t counted)
{
	struct store_page	*page = g_ptr_array_index(group, 0);
	char			*detail;
	guint			 i;

	detail = g_strdup_printf("limit=%s requests=%" PRId64, rate->spec,
	    counted);
	for (i = 0; i < group->len; i++) {
		page = g_ptr_array_index(group, i);
		log_warnx("notify: page capped inc=%" PRId64 " page=%" PRId64
		    " member=%s channel=%s limit=%s requests=%" PRId64
		    "; the incident's next round tries again",
		    page->incident_id, page->id, page->member,
		    notify_channel_name(page->channel), rate->spec, counted);
		(void)store_page_capped(d->store, page->id, detail,
		    clock_now_ms());
	}
	g_free(detail);
}

/* Tells whether group contains a page sent again after a stop. */
static bool
group_has_resend(GPtrArray *group)
{
	guint	i;

	for (i = 0; i < group->len; i++)
		if (((struct store_page *)g_ptr_array_index(group,
		    i))->resent_ms != 0)
			return true;
	return false;
}

/*
 * Prepares one request for a group of pending pages to one member on one
 * channel, or caps them all when the member's limit is reached.  Returns
 * the job, or NULL.
 */
static struct page_job *
page_prepare_group(struct daemon *d, GPtrArray *group)
{
	struct store_page	*page = g_ptr_array_index(group, 0);
	const struct cfg_rate	*rate;
	struct page_job		*job;
	int64_t			 counted;
	guint			 i;

	rate = page->channel == NOTIFY_CHANNEL_SMS ? &d->cfg->page_limit_sms :
	    &d->cfg->page_limit_voice;
	counted = page_requests_counted(d, page->member, page->channel,
	    rate->window_ms);
	if (counted < 0)
		return NULL;
	/* A page sent again after a stop replaces a request that may never
	 * have left, and which counts already: that one request is not held
	 * against its own resend, so that a crash costs no member a page. */
	if (counted > 0 && group_has_resend(group))
		counted--;
	if (esc_cap_room(rate->count, counted) == 0) {
		page_cap_group(d, group, rate, counted);
		return NULL;
	}
	job = g_new0(struct page_job, 1);
	job->d = d;
	job->provider = -1;
	job->page_ids = g_new0(int64_t, group->len);
	job->n_pages = group->len;
	job->incident_id = page->incident_id;
	for (i = 0; i < group->len; i++) {
		page = g_ptr_array_index(group, i);
		job->page_ids[i] = page->id;
		job_hold(d, job, page->id);
	}
	/* On failure, page_prepare has let go of the job. */
	return page_prepare(d, job) == 0 ? job : NULL;
}

/* Tells whether group already holds a page of incident_id. */
static bool
group_has_incident(GPtrArray *group, int64_t incident_id)
{
	guint	i;

	for (i = 0; i < group->len; i++)
		if (((struct store_page *)g_ptr_array_index(group,
		    i))->incident_id == incident_id)
			return true;
	return false;
}

/*
 * Sorts the pending pages not already in hand into groups of at most
 * NOTIFY_BUNDLE_MAX, by member and channel, with at most one page per
 * incident (a second waits for the next pass).  Returns the groups
 * (GPtrArray of borrowed pages).
 */
static GPtrArray *
page_group_pending(struct daemon *d, GPtrArray *pending)
{
	struct store_page	*page, *first;
	GPtrArray		*groups, *group, *room;
	guint			 i, j;

	groups = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)g_ptr_array_unref);
	for (i = 0; i < pending->len; i++) {
		page = g_ptr_array_index(pending, i);
		if (g_hash_table_contains(d->in_flight, &page->id))
			continue;	/* being sent or waiting to retry */
		room = NULL;
		for (j = 0; j < groups->len; j++) {
			group = g_ptr_array_index(groups, j);
			first = g_ptr_array_index(group, 0);
			if (first->channel != page->channel ||
			    strcmp(first->member, page->member) != 0)
				continue;
			if (group_has_incident(group, page->incident_id))
				break;
			if (room == NULL && group->len < NOTIFY_BUNDLE_MAX)
				room = group;
		}
		if (j < groups->len)
			continue;
		if (room == NULL) {
			room = g_ptr_array_new();
			g_ptr_array_add(groups, room);
		}
		g_ptr_array_add(room, page);
	}
	return groups;
}

/*
 * Tells whether a group waits for more pages to bundle with: when the
 * member was called or texted on that channel within page_limits.
 * bundle_seconds, the next request waits out that window, at most
 * bundle_seconds after its oldest page, and takes along every page due
 * by then.  The first page of a quiet spell goes at once.
 */
static bool
page_group_is_held(struct daemon *d, GPtrArray *group)
{
	const struct store_page	*first = g_ptr_array_index(group, 0);
	int64_t			 now = clock_now_ms(), recent;
	guint			 i;

	if (d->cfg->bundle_ms <= 0)
		return false;
	for (i = 1; i < group->len; i++) {
		const struct store_page *p = g_ptr_array_index(group, i);

		if (p->created_ms < first->created_ms)
			first = p;
	}
	if (now - first->created_ms >= d->cfg->bundle_ms)
		return false;
	recent = page_requests_counted(d, first->member, first->channel,
	    d->cfg->bundle_ms);
	return recent > 0;
}

/* Prepares every pending page not already in hand; returns the jobs. */
static GPtrArray *
page_prepare_pending(struct daemon *d)
{
	struct page_job	*job;
	GPtrArray	*pending, *groups, *jobs;
	guint		 i;

	jobs = g_ptr_array_new();
	pending = store_pages_in_state(d->store, STORE_PAGE_PENDING);
	if (pending == NULL)
		return jobs;
	groups = page_group_pending(d, pending);
	for (i = 0; i < groups->len; i++) {
		if (page_group_is_held(d, g_ptr_array_index(groups, i)))
			continue;
		job = page_prepare_group(d, g_ptr_array_index(groups, i));
		if (job != NULL)
			g_ptr_array_add(jobs, job);
	}
	g_ptr_array_free(groups, TRUE);
	g_ptr_array_free(pending, TRUE);
	return jobs;
}

/*
 * Flushes the log, then sends what a cycle prepared.  If the flush failed,
 * they go out all the same: a page sent twice after a power loss beats a
 * page never sent.
 */
static void
page_flush_and_send(struct daemon *d, GPtrArray *jobs, GPtrArray *mails)
{
	struct page_job	*job;
	guint		 i;

	if (store_flush(d->store) == 0)
		daemon_writer_flushed(d->writer);
	else
		log_warnx("store: flush before sending failed; sending "
		    "anyway pages=%u mails=%u", jobs->len, mails->len);
	for (i = 0; i < jobs->len; i++) {
		job = g_ptr_array_index(jobs, i);
		/* A job goes out even if its incident was acknowledged
		 * meanwhile, as it would if the request were in flight. */
		job->refs++;
		page_post(d, job);
		job_unref(job);
	}
	g_ptr_array_free(jobs, TRUE);
	daemon_mail_post(d, mails, true);
}

/*
 * Due rounds started and pending pages marked as sending, in one
 * transaction; then the provider requests go out.  The transaction
 * commits without a disk flush of its own: what it records follows from
 * messages already on disk, and is worked out again if a power loss takes
 * it.  Only when pages or mail are about to leave is the log flushed, and
 * they leave once that flush is done.  So no page is requested before its
 * "sending" mark is on disk, and a crash cannot page anyone twice in a
 * round.  The loop flushes itself: the writer thread took two thread
 * wake-ups more, a quarter of a millisecond before the first page in the
 * benchmark.  A batch of mail that only joins copies to their incident
 * sends nothing and costs no flush at all.
 *
 * After new mail, only the incidents it opened or joined (touched) can
 * fall due sooner than the last tick found.  The timer's tick (touched
 * NULL) checks every open incident, so paging after mail costs the same
 * with one open incident or a thousand.
 */
static void
page_cycle(struct daemon *d, const GArray *touched)
{
	GPtrArray	*jobs, *mails;
	guint		 i;

	if (d->is_stopping || store_batch_begin_unflushed(d->store) == -1)
		return;
	if (touched == NULL) {
		daemon_esc_tick(d);
		page_resend_unknown(d);
	} else
		daemon_esc_tick_some(d, touched);
	jobs = page_prepare_pending(d);
	mails = daemon_mail_prepare(d);
	if (store_batch_commit(d->store) == -1) {
		/* Nothing was recorded: the pages are still pending. */
		for (i = 0; i < jobs->len; i++)
			job_drop(d, g_ptr_array_index(jobs, i));
		g_ptr_array_free(jobs, TRUE);
		daemon_mail_post(d, mails, false);
		return;
	}
	if (jobs->len == 0 && mails->len == 0) {
		g_ptr_array_free(jobs, TRUE);
		g_ptr_array_free(mails, TRUE);
		return;
	}
	page_flush_and_send(d, jobs, mails);
}

void
daemon_page_process_messages(struct daemon *d)
{
	if (!d->is_stopping)
		daemon_pass_kick(d->pass);
}

void
daemon_page_after_pass(struct daemon *d, const GArray *touched)
{
	page_cycle(d, touched);
}

void
daemon_page_tick(struct daemon *d)
{
	/* Also mail that an earlier batch failed to record, and mail that
	 * "critgate deliver" stored from another process. */
	daemon_page_process_messages(d);
	page_cycle(d, NULL);
}

void
daemon_page_recover(struct daemon *d)
{
	int	orphans;

	d->in_flight = g_hash_table_new_full(g_int64_hash, g_int64_equal,
	    g_free, job_unref);
	d->orphaned_ms = clock_now_ms();
	orphans = store_pages_orphaned(d->store, d->orphaned_ms);
	if (orphans > 0 && d->cfg->resend_unknown_ms > 0)
		log_warnx("notify: pages in flight at a stop count=%d; those "
		    "of open incidents that no provider status names within %"
		    PRId64 " s are sent again", orphans,
		    d->cfg->resend_unknown_ms / 1000);
	else if (orphans > 0)
		log_warnx("notify: pages in flight at a stop count=%d; their "
		    "outcome is unknown and the next round pages again",
		    orphans);
	/* Also the rounds that fell due while the daemon was stopped. */
	daemon_page_tick(d);
}

void
daemon_page_stop(struct daemon *d)
{
	if (d->in_flight != NULL)
		g_hash_table_destroy(d->in_flight);
	d->in_flight = NULL;
}

int
daemon_ack_member(struct store *store, const struct cfg *cfg,
    int64_t incident_id, const char *member, const char *channel,
    int64_t now_ms)
{
	struct store_incident	inc;
	int			rc = 0;

	if (store_incident_get(store, incident_id, &inc) == -1)
		return 0;
	if (cfg_policy_of(cfg, inc.severity)->multi_ack &&
	    inc.resolved_ms == 0) {
		if (inc.acked_ms == 0)
			rc = store_multi_paging_set(store, incident_id, true);
		if (rc == 0)
			rc = store_member_ack_add(store, incident_id, member,
			    channel, now_ms) == -1 ? -1 : 0;
		if (rc == 0)
			log_info("incident: member acknowledged inc=%" PRId64
			    " by=%s channel=%s", incident_id, member, channel);
	}
	store_incident_fini(&inc);
	return rc;
}

int
daemon_page_ack(struct daemon_outbox *ob, int64_t incident_id,
    const char *member, const char *channel, const char *note)
{
	struct store_incident	inc;
	int64_t			now = clock_now_ms();
	int			rc;

	if (daemon_ack_member(ob->store, ob->cfg, incident_id, member, channel,
	    now) == -1)
		return -1;
	rc = store_incident_ack(ob->store, incident_id, member, channel, note,
	    now);
	if (rc != 1)
		return rc;
	if (store_incident_get(ob->store, incident_id, &inc) == 0) {
		log_info("incident: acknowledged inc=%" PRId64 " by=%s "
		    "channel=%s after_s=%" PRId64 " sla=%s", incident_id,
		    member, channel, (now - inc.opened_ms) / 1000,
		    esc_sla_is_met(now, inc.ack_deadline_ms) ? "met" :
		    "breached");
		store_incident_fini(&inc);
	}
	(void)daemon_outbox_update(ob, incident_id, MAILOUT_ACKNOWLEDGED,
	    NULL, now);
	return 1;
}

int
daemon_page_resolve(struct daemon_outbox *ob, int64_t incident_id,
    const char *member, const char *channel)
{
	int64_t	now = clock_now_ms();
	int	rc;

	rc = store_incident_resolve(ob->store, incident_id, member, channel,
	    now);
	if (rc != 1)
		return rc;
	log_info("incident: resolved inc=%" PRId64 " by=%s channel=%s",
	    incident_id, member, channel);
	(void)daemon_outbox_update(ob, incident_id, MAILOUT_RESOLVED, NULL,
	    now);
	return 1;
}
