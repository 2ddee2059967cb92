/* SPDX-License-Identifier: ISC */
/*
 * Tests of the store stage on real SQLite files in a temporary folder:
 * durable intake, Message-ID deduplication, rounds that are created once,
 * the first acknowledgement winning, and statuses that only move forward.
 */
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "store.h"
#include "tap.h"

static char	*tmpdir;

static struct cfg *
team_cfg(void)
{
	struct cfg	*cfg = g_new0(struct cfg, 1);

	cfg->n_team = 2;
	cfg->team = g_new0(struct cfg_member, 2);
	cfg->team[0].name = g_strdup("ana");
	cfg->team[0].phone = g_strdup("+15550100001");
	cfg->team[1].name = g_strdup("ben");
	cfg->team[1].phone = g_strdup("+15550100002");
	return cfg;
}

static struct store *
fresh_store(const char *name)
{
	char		*path = g_build_filename(tmpdir, name, NULL);
	struct store	*store = store_open(path, true);

	g_free(path);
	return store;
}

/* Returns the number of elements of list and frees it. */
static guint
count(GPtrArray *list)
{
	guint	n = list != NULL ? list->len : 0;

	if (list != NULL)
		g_ptr_array_free(list, TRUE);
	return n;
}

/* Returns the count that sql selects, or -1 if it fails. */
static int64_t
select_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*stmt;
	int64_t		 n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

static int64_t
add_message(struct store *store, const char *raw)
{
	const char		*rcpts[] = { "critical@example.com" };
	struct store_envelope	 env = {
		.mail_from = "dana@customer.example.net", .rcpts = rcpts,
		.n_rcpts = 1, .peer = "127.0.0.1:4000", .helo = "client",
		.received_ms = 1000,
	};
	int64_t			 id = -1;

	if (store_message_add(store, &env, (const uint8_t *)raw, strlen(raw),
	    &id) == -1)
		return -1;
	return id;
}

/* A store outcome, reduced to what the tests check. */
struct outcome {
	int64_t	 incident_id;
	int64_t	 duplicate_of;
	bool	 is_duplicate;
};

static int
process(struct store *store, int64_t msg_id, const char *message_id,
    struct outcome *out)
{
	struct parse_result		parsed = {
		.subject = (char *)"Checkout down", .body_text = (char *)"",
		.from_addr = (char *)"dana@customer.example.net",
		.message_id = (char *)message_id,
	};
	struct store_disposition	disp = {
		.parsed = &parsed, .severity = CFG_SEVERITY_CRITICAL,
		.ack_deadline_ms = 1000 + 1800000, .now_ms = 2000,
		.class_name = "new-incident", .opens_incident = true,
	};
	struct store_outcome		result;
	int				rc;

	/* The daemon's classification, reduced to Message-ID duplicates. */
	if (message_id != NULL)
		disp.duplicate_of = store_find_message_by_message_id(store,
		    message_id, msg_id);
	if (disp.duplicate_of > 0) {
		disp.class_name = "duplicate";
		disp.opens_incident = false;
		disp.incident_id = store_find_incident_of_message(store,
		    disp.duplicate_of);
	}
	rc = store_message_process(store, msg_id, &disp, &result);
	memset(out, 0, sizeof(*out));
	if (rc == 0) {
		out->incident_id = result.incident_id;
		out->duplicate_of = result.duplicate_of;
		out->is_duplicate = strcmp(result.class_name, "duplicate") == 0;
	}
	store_outcome_fini(&result);
	return rc;
}

static void
message_add_is_unprocessed_until_processed(void)
{
	struct store		*store = fresh_store("a.db");
	struct store_message	 msg;
	struct outcome	 out;
	GArray			*ids;
	int64_t			 id;

	id = add_message(store, "Subject: x\r\n\r\nbody\r\n");
	CHECK(id > 0);
	ids = store_messages_unprocessed(store);
	CHECK_INT(ids->len, 1);
	g_array_free(ids, TRUE);
	CHECK_INT(store_message_load(store, id, &msg), 0);
	CHECK_INT(g_bytes_get_size(msg.raw), 20);
	CHECK_STR(g_ptr_array_index(msg.rcpts, 0), "critical@example.com");
	store_message_fini(&msg);
	CHECK_INT(process(store, id, "a@b", &out), 0);
	CHECK(!out.is_duplicate);
	ids = store_messages_unprocessed(store);
	CHECK_INT(ids->len, 0);
	g_array_free(ids, TRUE);
	store_close(store);
}

static void
message_same_id_joins_incident(void)
{
	struct store		*store = fresh_store("b.db");
	struct outcome	 first, second, again;
	struct store_incident	 inc;

	CHECK_INT(process(store, add_message(store, "1"), "x@y", &first), 0);
	CHECK_INT(process(store, add_message(store, "2"), "x@y", &second), 0);
	CHECK(second.is_duplicate);
	CHECK_INT(second.incident_id, first.incident_id);
	/* Processing again returns the first outcome and opens nothing. */
	CHECK_INT(process(store, 2, "x@y", &again), 0);
	CHECK(again.is_duplicate);
	CHECK_INT(store_incident_get(store, first.incident_id, &inc), 0);
	CHECK_INT(inc.messages, 2);
	store_incident_fini(&inc);
	CHECK_INT(count(store_incidents_list(store, false)), 1);
	store_close(store);
}

static void
message_without_id_opens_own_incident(void)
{
	struct store		*store = fresh_store("c.db");
	struct outcome	 first, second;

	CHECK_INT(process(store, add_message(store, "1"), NULL, &first), 0);
	CHECK_INT(process(store, add_message(store, "2"), NULL, &second), 0);
	CHECK(!second.is_duplicate);
	CHECK(second.incident_id != first.incident_id);
	store_close(store);
}

/*
 * Mail under the subject of an open incident's first message finds it
 * while it is open and was opened in the window.  Another subject does
 * not.
 */
static void
subject_key_finds_open_incident(void)
{
	struct store			*store = fresh_store("key.db");
	struct parse_result		 parsed = {
		.subject = (char *)"Checkout down", .body_text = (char *)"",
	};
	struct store_disposition	 disp = {
		.parsed = &parsed, .severity = CFG_SEVERITY_CRITICAL,
		.ack_deadline_ms = 1000 + 1800000, .now_ms = 2000,
		.class_name = "new-incident", .opens_incident = true,
		.subject_key = "checkout down",
	};
	struct store_outcome		 out;
	int64_t				 id;

	CHECK_INT(store_message_process(store, add_message(store, "1"),
	    &disp, &out), 0);
	id = out.incident_id;
	store_outcome_fini(&out);
	CHECK(id > 0);
	CHECK_INT(store_find_incident_by_subject_key(store, "checkout down",
	    1000), id);
	CHECK_INT(store_find_incident_by_subject_key(store, "login errors",
	    1000), 0);
	CHECK_INT(store_find_incident_by_subject_key(store, "checkout down",
	    1001), 0);
	CHECK_INT(store_incident_ack(store, id, "ana", "sms", NULL, 9000), 1);
	CHECK_INT(store_find_incident_by_subject_key(store, "checkout down",
	    1000), 0);
	store_close(store);
}

static void
round_created_once(void)
{
	struct store		*store = fresh_store("d.db");
	struct outcome	 out;
	struct cfg		*cfg = team_cfg();

	CHECK_INT(process(store, add_message(store, "1"), "r@s", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 6), 0);
	CHECK_INT(store_round_last(store, out.incident_id), 1);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_PENDING)), 4);
	cfg_free(cfg);
	store_close(store);
}

static void
ack_first_wins_and_cancels_pending(void)
{
	struct store		*store = fresh_store("e.db");
	struct outcome	 out;
	struct store_incident	 inc;
	struct cfg		*cfg = team_cfg();

	CHECK_INT(process(store, add_message(store, "1"), "t@u", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_incident_ack(store, out.incident_id, "ana", "sms",
	    "on my way", 9000), 1);
	CHECK_INT(store_incident_ack(store, out.incident_id, "ben", "voice",
	    NULL, 9500), 0);
	CHECK_INT(store_incident_get(store, out.incident_id, &inc), 0);
	CHECK_STR(inc.acked_by, "ana");
	CHECK_STR(inc.acked_channel, "sms");
	CHECK_INT(inc.acked_ms, 9000);
	store_incident_fini(&inc);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_PENDING)), 0);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_CANCELED)), 4);
	CHECK_INT(count(store_incidents_list(store, true)), 0);
	CHECK_INT(store_incident_ack(store, 999, "ana", "sms", NULL, 1), 0);
	cfg_free(cfg);
	store_close(store);
}

static void
status_never_moves_back(void)
{
	struct store		*store = fresh_store("f.db");
	struct outcome	 out;
	struct store_page	 page;
	struct cfg		*cfg = team_cfg();
	int64_t			 page_id, incident_id;

	CHECK_INT(process(store, add_message(store, "1"), "v@w", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_page_sent(store, 1, "SM1", 10), 0);
	CHECK_INT(store_page_status(store, "SM1", "delivered", 5, NULL, 20,
	    &page_id, &incident_id), 1);
	CHECK_INT(page_id, 1);
	CHECK_INT(incident_id, out.incident_id);
	CHECK_INT(store_page_status(store, "SM1", "sent", 3, NULL, 21,
	    &page_id, &incident_id), 0);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	CHECK_STR(page.provider_status, "delivered");
	CHECK_INT(page.attempts, 1);
	CHECK_INT(page.state, STORE_PAGE_SENT);
	store_page_fini(&page);
	CHECK_INT(store_page_status(store, "SM-unknown", "sent", 3, NULL, 22,
	    &page_id, &incident_id), 0);
	CHECK_INT(page_id, 0);
	CHECK_INT(incident_id, 0);
	cfg_free(cfg);
	store_close(store);
}

static void
requeue_clears_provider_status(void)
{
	struct store		*store = fresh_store("q.db");
	struct outcome	 out;
	struct store_page	 page;
	struct cfg		*cfg = team_cfg();
	int64_t			 page_id, incident_id;

	CHECK_INT(process(store, add_message(store, "1"), "r@w", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_page_sent(store, 1, "VN1", 10), 0);
	CHECK_INT(store_page_status(store, "VN1", "failed", 5, "6", 20,
	    &page_id, &incident_id), 1);
	CHECK_INT(store_page_requeue(store, 1, "vonage: not delivered", 21),
	    0);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	CHECK_INT(page.state, STORE_PAGE_PENDING);
	CHECK(page.sid == NULL);
	CHECK(page.provider_status == NULL);
	store_page_fini(&page);

	/* The next provider's statuses rank from the start again. */
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_page_sent(store, 1, "SM2", 30), 0);
	CHECK_INT(store_page_status(store, "SM2", "delivered", 5, NULL, 40,
	    &page_id, &incident_id), 1);
	CHECK_INT(page_id, 1);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	CHECK_STR(page.provider_status, "delivered");
	store_page_fini(&page);
	cfg_free(cfg);
	store_close(store);
}

static void
sending_pages_become_unknown_after_stop(void)
{
	struct store		*store = fresh_store("g.db");
	struct outcome	 out;
	struct cfg		*cfg = team_cfg();

	CHECK_INT(process(store, add_message(store, "1"), "o@p", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_sending(store, 2, 2), 0);
	store_close(store);
	store = fresh_store("g.db");
	CHECK_INT(store_pages_orphaned(store, 50), 1);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_UNKNOWN)), 1);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_PENDING)), 3);
	cfg_free(cfg);
	store_close(store);
}

/* A request in flight at a stop may have gone out: it counts towards the
 * member's page limit from the start that found it. */
static void
unknown_pages_count_towards_limit(void)
{
	struct store		*store = fresh_store("limit.db");
	struct store_page	 page;
	struct outcome		 out;
	struct cfg		*cfg = team_cfg();

	CHECK_INT(process(store, add_message(store, "1"), "o@p", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_pages_orphaned(store, 50), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    50), 0);
	/* Sent again, it was two requests: the one before the stop too. */
	CHECK_INT(store_pages_resend_unknown(store, 60, "resend", 70), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_page_sent(store, 1, "SID1", 80), 0);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	store_page_fini(&page);
	cfg_free(cfg);
	store_close(store);
}

/*
 * Opens an incident for each of the n Message-IDs in ids, with a first
 * round of 4 pages.  Each round makes its pages in the same order of
 * member and channel, so pages 1, 5, 9 and on go to one member on one
 * channel.
 */
static void
open_incidents_paged(struct store *store, const struct cfg *cfg,
    const char *const *ids, int n)
{
	struct outcome	out;
	int		i;

	for (i = 0; i < n; i++) {
		CHECK_INT(process(store, add_message(store, ids[i]), ids[i],
		    &out), 0);
		CHECK_INT(store_round_create(store, out.incident_id, 1, cfg,
		    5), 4);
	}
}

/* A bundle in flight at a stop was one request, and counts once toward its
 * member's page limit, also once sent again, and after a status names one
 * of its pages. */
static void
bundled_unknown_pages_count_once(void)
{
	static const char *const ids[] = { "a@p", "b@p", "c@p" };
	struct store		*store = fresh_store("bundle-limit.db");
	struct store_page	 page, other;
	struct cfg		*cfg = team_cfg();
	int64_t			 i;

	open_incidents_paged(store, cfg, ids, 3);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	for (i = 1; i <= 9; i += 4) {
		CHECK_INT(store_page_get(store, i, &other), 0);
		CHECK_STR(other.member, page.member);
		CHECK_INT(other.channel, page.channel);
		store_page_fini(&other);
		CHECK_INT(store_page_sending(store, i, 1), 0);
	}
	CHECK_INT(store_pages_orphaned(store, 50), 3);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	/* Page 5 alone in flight at a second stop, then a status of the
	 * first request names pages 1 and 5: two requests still. */
	CHECK_INT(store_page_sending(store, 5, 5), 0);
	CHECK_INT(store_pages_orphaned(store, 60), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	CHECK_INT(store_page_found_sent(store, 1, "SM1", 65), 1);
	CHECK_INT(store_page_found_sent(store, 5, "SM1", 65), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	CHECK_INT(store_pages_resend_unknown(store, 60, "resend", 70), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	store_page_fini(&page);
	cfg_free(cfg);
	store_close(store);
}

/*
 * A page in flight at two stops in a row was two requests that may have
 * reached the member, and one sent after them is a third.  One that a
 * status names after a stop counts once, as in flight at the stop, until
 * it is sent anew.
 */
static void
unknown_twice_counts_each_request(void)
{
	struct store		*store = fresh_store("twice-limit.db");
	struct store_page	 page;
	struct outcome		 out;
	struct cfg		*cfg = team_cfg();

	CHECK_INT(process(store, add_message(store, "1"), "t@p", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_pages_orphaned(store, 50), 1);
	CHECK_INT(store_pages_resend_unknown(store, 60, "resend", 70), 1);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_pages_orphaned(store, 80), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	CHECK_INT(store_pages_resend_unknown(store, 90, "resend", 100), 1);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_page_sent(store, 1, "SID3", 110), 0);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 3);
	/* Page 3 in flight at a stop, then named by a status. */
	CHECK_INT(store_page_sending(store, 3, 3), 0);
	CHECK_INT(store_pages_orphaned(store, 120), 1);
	store_page_fini(&page);
	CHECK_INT(store_page_get(store, 3, &page), 0);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	CHECK_INT(store_page_found_sent(store, 3, "SID4", 130), 1);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	/* Failed over and sent again, by a provider of its own. */
	CHECK_INT(store_page_requeue(store, 3, "no-answer", 140), 0);
	CHECK_INT(store_page_sending(store, 3, 3), 0);
	CHECK_INT(store_page_sent(store, 3, "SID5", 150), 0);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	store_page_fini(&page);
	cfg_free(cfg);
	store_close(store);
}

/*
 * A request that a provider took counts once its page failed over to the
 * next provider, once for a bundle, and the next provider's request too.
 */
static void
failover_counts_both_requests(void)
{
	static const char *const ids[] = { "f@p", "g@p" };
	struct store		*store = fresh_store("failover-limit.db");
	struct store_page	 page;
	struct cfg		*cfg = team_cfg();
	int64_t			 i;

	open_incidents_paged(store, cfg, ids, 2);
	CHECK_INT(store_page_get(store, 1, &page), 0);
	for (i = 1; i <= 5; i += 4) {
		CHECK_INT(store_page_sending(store, i, 1), 0);
		CHECK_INT(store_page_sent(store, i, "CA1", 100), 0);
	}
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	for (i = 1; i <= 5; i += 4)
		CHECK_INT(store_page_requeue(store, i, "no-answer", 110), 0);
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 1);
	for (i = 1; i <= 5; i += 4) {
		CHECK_INT(store_page_sending(store, i, 1), 0);
		CHECK_INT(store_page_sent(store, i, "VN2", 120), 0);
	}
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    40), 2);
	/* The first request left at 100: out of a window from 105. */
	CHECK_INT(store_page_requests_since(store, page.member, page.channel,
	    105), 1);
	store_page_fini(&page);
	cfg_free(cfg);
	store_close(store);
}

/*
 * Unknown pages go out again once waited for, also at a later start,
 * unless a status named them or a later round paged their member on that
 * channel.
 */
static void
unknown_pages_sent_again_after_wait(void)
{
	struct store	*store = fresh_store("resend.db");
	struct outcome	 out;
	struct cfg	*cfg = team_cfg();

	CHECK_INT(process(store, add_message(store, "1"), "r@p", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	CHECK_INT(store_page_sending(store, 2, 2), 0);
	CHECK_INT(store_page_sending(store, 3, 3), 0);
	store_close(store);
	store = fresh_store("resend.db");
	CHECK_INT(store_pages_orphaned(store, 100), 3);
	CHECK_INT(store_page_found_sent(store, 3, "SM1", 150), 1);
	CHECK_INT(store_pages_resend_unknown(store, 99, "again", 160), 0);
	/* A later start finds nothing more in flight, and sends them. */
	store_close(store);
	store = fresh_store("resend.db");
	CHECK_INT(store_pages_orphaned(store, 165), 0);
	CHECK_INT(store_pages_resend_unknown(store, 100, "again", 170), 2);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_PENDING)), 3);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_SENT)), 1);

	CHECK_INT(store_page_sending(store, 1, 1), 0);
	store_close(store);
	store = fresh_store("resend.db");
	CHECK_INT(store_pages_orphaned(store, 300), 1);
	CHECK_INT(store_round_create(store, out.incident_id, 2, cfg, 310), 4);
	CHECK_INT(store_pages_resend_unknown(store, 400, "again", 410), 0);
	CHECK_INT(count(store_pages_in_state(store, STORE_PAGE_UNKNOWN)), 1);
	cfg_free(cfg);
	store_close(store);
}

/* Keeps one part of sender's SMS ref; returns as store_sms_part_add. */
static int
sms_part(struct store *store, const char *ref, int part, int total,
    const char *message_id, const char *text, int64_t now_ms, char **joined)
{
	struct store_sms_part	sp = { .sender = "+15550100011", .ref = ref,
				    .part = part, .total = total,
				    .message_id = message_id, .text = text };

	return store_sms_part_add(store, &sp, now_ms, joined);
}

/*
 * The parts of a long SMS are joined in order once all have come.  A part
 * sent again is recognised by its message id, also after the join.  A
 * part left waiting too long is dropped, and a part whose place is taken
 * under another message id starts the SMS over.
 */
static void
sms_parts_join_in_order(void)
{
	struct store	*store = fresh_store("parts.db");
	char		*joined = NULL;
	const int64_t	 keep = STORE_SMS_PART_KEEP_MS;

	CHECK_INT(sms_part(store, "A7", 3, 3, "m3", "three", 1000, &joined),
	    0);
	CHECK_INT(sms_part(store, "A7", 3, 3, "m3", "three", 1001, &joined),
	    2);
	CHECK_INT(sms_part(store, "A7", 1, 3, "m1", "one ", 1002, &joined), 0);
	CHECK_INT(sms_part(store, "A7", 2, 3, "m2", "two ", 1003, &joined), 1);
	CHECK_STR(joined, "one two three");
	g_free(joined);
	joined = NULL;
	CHECK_INT(sms_part(store, "A7", 2, 3, "m2", "two ", 1004, &joined), 2);
	CHECK(joined == NULL);

	/* A first part waits too long for the rest. */
	CHECK_INT(sms_part(store, "B1", 1, 2, "n1", "stale ", 1000, &joined),
	    0);
	CHECK_INT(sms_part(store, "B1", 2, 2, "n2", "late", 1001 + keep,
	    &joined), 0);
	CHECK(joined == NULL);

	/* The reference comes back for another SMS. */
	CHECK_INT(sms_part(store, "C1", 1, 2, "p1", "ACK 3 old-", 2000,
	    &joined), 0);
	CHECK_INT(sms_part(store, "C1", 1, 2, "q1", "ACK 4 new-", 3000,
	    &joined), 0);
	CHECK_INT(sms_part(store, "C1", 2, 2, "q2", "tail", 3001, &joined), 1);
	CHECK_STR(joined, "ACK 4 new-tail");
	g_free(joined);
	store_close(store);
}

/* Queues one mail about incident to rcpt; returns its id. */
static int64_t
queue_mail(struct store *store, int64_t incident, const char *kind,
    const char *rcpt, int64_t now_ms)
{
	struct store_mail_new	m = { .incident_id = incident, .kind = kind,
				    .rcpt = rcpt, .raw = "Subject: x\r\n\r\n",
				    .raw_len = 15 };
	char			*message_id;
	int			 rc;

	m.id = store_mail_next_id(store);
	message_id = g_strdup_printf("t%" G_GINT64_FORMAT "@gw.example.com",
	    m.id);
	m.message_id = message_id;
	rc = store_mail_add(store, &m, now_ms);
	g_free(message_id);
	return rc == 0 ? m.id : -1;
}

static void
mail_moves_from_pending_to_sent_once(void)
{
	struct store		*store = fresh_store("m.db");
	struct store_mail	 mail;
	struct outcome		 out;
	GArray			*due;
	int64_t			 id;

	CHECK_INT(process(store, add_message(store, "1"), "m@n", &out), 0);
	id = queue_mail(store, out.incident_id, "confirmation",
	    "dana@customer.example.net", 100);
	CHECK_INT(id, 1);
	CHECK_INT(store_find_incident_by_thread_id(store, "t1@gw.example.com"),
	    out.incident_id);
	due = store_mail_due(store, 100);
	CHECK_INT(due->len, 1);
	g_array_free(due, TRUE);
	CHECK_INT(store_mail_sending(store, id), 0);
	due = store_mail_due(store, 100);
	CHECK_INT(due->len, 0);
	g_array_free(due, TRUE);
	CHECK_INT(store_mail_retry(store, id, "451", 5000, 200), 0);
	CHECK_INT(store_mail_next_due(store), 5000);
	due = store_mail_due(store, 4999);
	CHECK_INT(due->len, 0);
	g_array_free(due, TRUE);
	CHECK_INT(store_mail_sending(store, id), 0);
	CHECK_INT(store_mail_sent(store, id, "250", 5100), 0);
	CHECK_INT(store_mail_get(store, id, &mail), 0);
	CHECK_INT(mail.state, STORE_MAIL_SENT);
	CHECK_INT(mail.attempts, 2);
	CHECK_INT(mail.sent_ms, 5100);
	CHECK_STR(mail.reply, "250");
	CHECK_INT(g_bytes_get_size(mail.raw), 15);
	store_mail_fini(&mail);
	CHECK_INT(store_mail_count_for(store, out.incident_id,
	    "confirmation", "dana@customer.example.net"), 1);
	CHECK_INT(store_mail_count_to(store, "dana@customer.example.net", 100),
	    1);
	CHECK_INT(store_mail_count_to(store, "dana@customer.example.net", 101),
	    0);
	store_close(store);
}

static void
mail_body_sent_becomes_unknown_after_stop(void)
{
	struct store	*store = fresh_store("n.db");
	struct outcome	 out;
	GPtrArray	*mails;
	int64_t		 a, b;

	CHECK_INT(process(store, add_message(store, "1"), "q@r", &out), 0);
	a = queue_mail(store, out.incident_id, "page", "ana@example.com", 1);
	b = queue_mail(store, out.incident_id, "page", "ben@example.com", 1);
	CHECK_INT(store_mail_sending(store, a), 0);
	CHECK_INT(store_mail_reached_data(store, a), 0);
	/* b's body never left, so b can go again. */
	CHECK_INT(store_mail_sending(store, b), 0);
	store_close(store);
	store = fresh_store("n.db");
	CHECK_INT(store_mails_orphaned(store, 50), 1);
	mails = store_mails_of_incident(store, out.incident_id);
	CHECK_INT(mails->len, 2);
	if (mails->len == 2) {
		CHECK_INT(((struct store_mail *)mails->pdata[0])->state,
		    STORE_MAIL_UNKNOWN);
		CHECK_INT(((struct store_mail *)mails->pdata[1])->state,
		    STORE_MAIL_PENDING);
		CHECK_INT(((struct store_mail *)mails->pdata[1])->id, b);
	}
	g_ptr_array_free(mails, TRUE);
	store_close(store);
}

static void
resolve_acknowledges_and_counts_once(void)
{
	struct store		*store = fresh_store("r.db");
	struct store_incident	 inc;
	struct outcome		 out;

	CHECK_INT(process(store, add_message(store, "1"), "s@t", &out), 0);
	CHECK_INT(store_incident_resolve(store, out.incident_id, "ana",
	    "email", 300), 1);
	CHECK_INT(store_incident_resolve(store, out.incident_id, "ben",
	    "cli", 400), 0);
	CHECK_INT(store_incident_get(store, out.incident_id, &inc), 0);
	CHECK_INT(inc.acked_ms, 300);
	CHECK_STR(inc.acked_by, "ana");
	CHECK_INT(inc.resolved_ms, 300);
	CHECK_STR(inc.resolved_by, "ana");
	store_incident_fini(&inc);
	CHECK_INT(store_incident_resolve(store, 999, "ana", "cli", 500), 0);
	store_close(store);
}

static void
follow_up_recorded_once_each(void)
{
	struct store		*store = fresh_store("follow-up.db");
	struct store_incident	 inc;
	struct outcome		 out;

	CHECK_INT(process(store, add_message(store, "1"), "s@t", &out), 0);
	CHECK_INT(store_incident_analysed(store, out.incident_id, "ana",
	    9000, 500), 1);
	CHECK_INT(store_incident_analysed(store, out.incident_id, "ben",
	    9900, 600), 0);
	CHECK_INT(store_incident_fixed(store, out.incident_id, "ben", 700),
	    1);
	CHECK_INT(store_incident_fixed(store, out.incident_id, "ana", 800),
	    0);
	CHECK_INT(store_incident_get(store, out.incident_id, &inc), 0);
	CHECK_INT(inc.analysed_ms, 500);
	CHECK_STR(inc.analysed_by, "ana");
	CHECK_INT(inc.fix_due_ms, 9000);
	CHECK_INT(inc.fixed_ms, 700);
	CHECK_STR(inc.fixed_by, "ben");
	/* Neither acknowledges: only a member taking it does. */
	CHECK_INT(inc.acked_ms, 0);
	store_incident_fini(&inc);
	CHECK_INT(store_incident_analysed(store, 999, "ana", 9000, 500), 0);
	CHECK_INT(store_incident_fixed(store, 999, "ana", 500), 0);
	store_close(store);
}

static void
follow_up_events_in_timeline(void)
{
	struct store		*store = fresh_store("follow-up-events.db");
	struct store_event	*ev;
	struct outcome		 out;
	GPtrArray		*events;
	guint			 i, analysed = 0, fixed = 0;

	CHECK_INT(process(store, add_message(store, "1"), "s@t", &out), 0);
	CHECK_INT(store_incident_analysed(store, out.incident_id, "ana",
	    86400000, 500), 1);
	CHECK_INT(store_incident_fixed(store, out.incident_id, "ben", 700),
	    1);
	events = store_events_of_incident(store, out.incident_id);
	CHECK(events != NULL);
	for (i = 0; events != NULL && i < events->len; i++) {
		ev = g_ptr_array_index(events, i);
		if (strcmp(ev->kind, "analysed") == 0) {
			analysed++;
			CHECK_STR(ev->detail,
			    "by=ana fix_due=1970-01-02T00:00:00.000Z");
		} else if (strcmp(ev->kind, "fix-deployed") == 0) {
			fixed++;
			CHECK_STR(ev->detail, "by=ben");
		}
	}
	CHECK_INT(analysed, 1);
	CHECK_INT(fixed, 1);
	if (events != NULL)
		g_ptr_array_free(events, TRUE);
	store_close(store);
}

static void
fix_overdue_marked_once(void)
{
	struct store	*store = fresh_store("fix-overdue.db");
	struct outcome	 late, fixed, ahead;
	GPtrArray	*events;
	GArray		*ids;
	guint		 i, marks = 0;

	CHECK_INT(process(store, add_message(store, "1"), "a@t", &late), 0);
	CHECK_INT(process(store, add_message(store, "2"), "b@t", &fixed), 0);
	CHECK_INT(process(store, add_message(store, "3"), "c@t", &ahead), 0);
	CHECK_INT(store_incident_analysed(store, late.incident_id, "ana",
	    1000, 100), 1);
	CHECK_INT(store_incident_analysed(store, fixed.incident_id, "ana",
	    1000, 100), 1);
	CHECK_INT(store_incident_fixed(store, fixed.incident_id, "ben", 900),
	    1);
	CHECK_INT(store_incident_analysed(store, ahead.incident_id, "ana",
	    5000, 100), 1);
	ids = store_fixes_overdue_mark(store, 1000, NULL, NULL);
	CHECK(ids != NULL);
	if (ids != NULL) {
		CHECK_INT(ids->len, 0);
		g_array_free(ids, TRUE);
	}
	ids = store_fixes_overdue_mark(store, 1001, NULL, NULL);
	CHECK(ids != NULL);
	if (ids != NULL) {
		CHECK_INT(ids->len, 1);
		if (ids->len == 1)
			CHECK_INT(g_array_index(ids, int64_t, 0),
			    late.incident_id);
		g_array_free(ids, TRUE);
	}
	ids = store_fixes_overdue_mark(store, 2000, NULL, NULL);
	CHECK(ids != NULL);
	if (ids != NULL) {
		CHECK_INT(ids->len, 0);
		g_array_free(ids, TRUE);
	}
	events = store_events_of_incident(store, late.incident_id);
	CHECK(events != NULL);
	for (i = 0; events != NULL && i < events->len; i++)
		if (strcmp(((struct store_event *)events->pdata[i])->kind,
		    "fix-overdue") == 0)
			marks++;
	CHECK_INT(marks, 1);
	if (events != NULL)
		g_ptr_array_free(events, TRUE);
	store_close(store);
}

/* Fails for the incident ctx points to, and records an event for the
 * others, as queueing mail would. */
static int
overdue_each(void *ctx, int64_t incident_id)
{
	struct store	*store = ((void **)ctx)[0];
	int64_t		 refused = *(int64_t *)((void **)ctx)[1];

	if (incident_id == refused)
		return -1;
	return store_event_add(store, incident_id, 0, "test-each", NULL, 1);
}

/* Counts the events of kind in the timeline of incident_id. */
static int
events_count(struct store *store, int64_t incident_id, const char *kind)
{
	GPtrArray	*events = store_events_of_incident(store, incident_id);
	guint		 i;
	int		 n = 0;

	for (i = 0; events != NULL && i < events->len; i++)
		if (strcmp(((struct store_event *)events->pdata[i])->kind,
		    kind) == 0)
			n++;
	if (events != NULL)
		g_ptr_array_free(events, TRUE);
	return n;
}

/*
 * What the callback records commits with the mark.  When it fails, its
 * incident stays unmarked, with nothing of the callback's, while the
 * others are marked, and a later call marks it.
 */
static void
fix_overdue_each_commits_with_mark(void)
{
	struct store	*store = fresh_store("fix-overdue-each.db");
	struct outcome	 one, two;
	GArray		*ids;
	int64_t		 refused;
	void		*ctx[2] = { store, &refused };

	CHECK_INT(process(store, add_message(store, "1"), "a@t", &one), 0);
	CHECK_INT(process(store, add_message(store, "2"), "b@t", &two), 0);
	CHECK_INT(store_incident_analysed(store, one.incident_id, "ana",
	    1000, 100), 1);
	CHECK_INT(store_incident_analysed(store, two.incident_id, "ana",
	    1000, 100), 1);
	refused = one.incident_id;
	ids = store_fixes_overdue_mark(store, 2000, overdue_each, ctx);
	CHECK(ids != NULL);
	if (ids != NULL) {
		CHECK_INT(ids->len, 1);
		if (ids->len == 1)
			CHECK_INT(g_array_index(ids, int64_t, 0),
			    two.incident_id);
		g_array_free(ids, TRUE);
	}
	CHECK_INT(events_count(store, one.incident_id, "fix-overdue"), 0);
	CHECK_INT(events_count(store, two.incident_id, "fix-overdue"), 1);
	CHECK_INT(events_count(store, two.incident_id, "test-each"), 1);
	refused = 0;
	ids = store_fixes_overdue_mark(store, 3000, overdue_each, ctx);
	CHECK(ids != NULL);
	if (ids != NULL) {
		CHECK_INT(ids->len, 1);
		if (ids->len == 1)
			CHECK_INT(g_array_index(ids, int64_t, 0),
			    one.incident_id);
		g_array_free(ids, TRUE);
	}
	CHECK_INT(events_count(store, one.incident_id, "fix-overdue"), 1);
	CHECK_INT(events_count(store, one.incident_id, "test-each"), 1);
	CHECK_INT(events_count(store, two.incident_id, "test-each"), 1);
	store_close(store);
}

/*
 * A batch committed without a flush is visible at once, also to another
 * handle, and a flush on that handle makes it durable (in WAL mode it
 * flushes the whole log).  A flush refuses to run inside a batch.
 */
static void
unflushed_batch_is_committed_and_flushed_later(void)
{
	struct store	*store = fresh_store("unflushed.db");
	struct store	*other;
	GArray		*ids;
	char		*path;
	int64_t		 id;

	CHECK_INT(store_batch_begin_unflushed(store), 0);
	CHECK_INT(store_batch_begin_unflushed(store), -1);
	CHECK_INT(store_flush(store), -1);
	id = add_message(store, "Message-ID: <u1@example.net>\r\n\r\nx\r\n");
	CHECK(id > 0);
	CHECK_INT(store_batch_commit(store), 0);
	path = g_build_filename(tmpdir, "unflushed.db", NULL);
	other = store_open(path, false);
	CHECK(other != NULL);
	ids = store_messages_unprocessed(other);
	CHECK(ids != NULL);
	CHECK_INT(ids != NULL ? ids->len : 0, 1);
	if (ids != NULL)
		g_array_free(ids, TRUE);
	CHECK_INT(store_flush(other), 0);
	store_close(other);
	g_free(path);
	store_close(store);
}

static gpointer
begin_and_commit(gpointer data)
{
	struct store	*store = data;

	return GINT_TO_POINTER(store_batch_begin(store) == 0 &&
	    store_batch_commit(store) == 0);
}

/*
 * Handles of one process take turns at the write lock: a transaction on
 * another thread waits while this one is open and goes ahead once it is
 * committed, seeing its message.
 */
static void
turns_pass_between_threads(void)
{
	struct store	*store = fresh_store("turns.db");
	struct store	*other;
	GThread		*thread;
	GArray		*ids;
	char		*path;

	path = g_build_filename(tmpdir, "turns.db", NULL);
	other = store_open(path, false);
	CHECK(other != NULL);
	CHECK_INT(store_batch_begin(store), 0);
	CHECK(add_message(store, "Subject: turn\r\n\r\nx\r\n") > 0);
	thread = g_thread_new("turn", begin_and_commit, other);
	CHECK_INT(store_batch_commit(store), 0);
	CHECK(GPOINTER_TO_INT(g_thread_join(thread)));
	ids = store_messages_unprocessed(other);
	CHECK_INT(ids != NULL ? ids->len : 0, 1);
	if (ids != NULL)
		g_array_free(ids, TRUE);
	store_close(other);
	store_close(store);
	g_free(path);
}

/* Adds messages of about 8 KiB, each in its own flushed commit, until
 * the log passes pages; returns the log's length then, or -1. */
static int
grow_log(struct store *store, int pages)
{
	GString	*raw = g_string_new("Subject: filler\r\n\r\n");
	int	 n;

	while (raw->len < 8192)
		g_string_append(raw, "filler text for the log\r\n");
	for (n = 0; n < 2 * pages && store_log_pages(store) <= pages; n++)
		if (add_message(store, raw->str) <= 0)
			break;
	g_string_free(raw, TRUE);
	return store_log_pages(store) > pages ? store_log_pages(store) : -1;
}

/*
 * A handle left to store_checkpoint lets the log grow past the mark at
 * which SQLite would copy it into the database.  After one checkpoint,
 * the next commit starts the log from its beginning again.
 */
static void
checkpoint_later_leaves_log_to_caller(void)
{
	struct store	*store = fresh_store("later.db");

	store_checkpoint_later(store);
	CHECK(grow_log(store, STORE_CHECKPOINT_PAGES + 200) > 0);
	CHECK_INT(store_checkpoint(store), 0);
	CHECK(add_message(store, "Subject: after\r\n\r\nx\r\n") > 0);
	CHECK(store_log_pages(store) < 100);
	store_close(store);
}

/* By default a long log is copied into the database at the mark. */
static void
checkpoint_runs_at_mark_by_default(void)
{
	struct store	*store = fresh_store("auto.db");

	CHECK_INT(grow_log(store, STORE_CHECKPOINT_PAGES + 200), -1);
	store_close(store);
}

/* Checks that the report at now_ms has one month with these counts. */
static void
check_one_month(struct store *store, int64_t now_ms, int64_t count,
    int64_t met, int64_t running)
{
	GPtrArray		*months = store_report_months(store, now_ms);
	struct store_month	*m;

	CHECK(months != NULL);
	CHECK_INT(months != NULL ? months->len : 0, 1);
	if (months != NULL && months->len == 1) {
		m = g_ptr_array_index(months, 0);
		CHECK_INT(m->count, count);
		CHECK_INT(m->met, met);
		CHECK_INT(m->running, running);
	}
	if (months != NULL)
		g_ptr_array_free(months, TRUE);
}

/* An incident whose deadline is still ahead counts as running, neither
 * met nor missed.  Acknowledged in time, it counts as met. */
static void
report_month_counts_running_apart(void)
{
	struct store	*store = fresh_store("m.db");
	struct outcome	 out;

	CHECK_INT(process(store, add_message(store, "1"), "m@n", &out), 0);
	check_one_month(store, 5000, 1, 0, 1);
	CHECK_INT(store_incident_resolve(store, out.incident_id, "ana",
	    "cli", 6000), 1);
	check_one_month(store, 7000, 1, 1, 0);
	store_close(store);
}

/* A store a newer critgate made is refused, not written to. */
static void
open_newer_schema_refused(void)
{
	char	*path = g_build_filename(tmpdir, "newer.db", NULL);
	sqlite3	*db = NULL;

	store_close(store_open(path, true));
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "PRAGMA user_version = 9999", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK(store_open(path, false) == NULL);
	g_free(path);
}

/*
 * A store written while the raw bytes were a column of messages: its
 * unprocessed message is still read whole after the upgrade.
 */
static void
upgrade_moves_raw_bytes_to_own_table(void)
{
	const char		*raw = "Subject: Checkout down\r\n\r\nbody\r\n";
	char			*path = g_build_filename(tmpdir, "upgrade.db",
				    NULL);
	struct store		*store;
	struct store_message	 msg;
	sqlite3			*db = NULL;
	GArray			*ids;
	GBytes			*want = g_bytes_new_static(raw, strlen(raw));
	int64_t			 id;

	store = store_open(path, true);
	id = add_message(store, raw);
	store_close(store);
	/* Back to version 16: what later versions added goes too. */
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "ALTER TABLE messages ADD COLUMN raw BLOB;"
	    "UPDATE messages SET raw = (SELECT raw FROM message_raw WHERE "
	    "message = messages.id);"
	    "DROP TABLE message_raw;"
	    "DROP TABLE sms_parts;"
	    "DROP INDEX incidents_fix_due;"
	    "DROP INDEX IF EXISTS pages_resent;"
	    "ALTER TABLE pages DROP COLUMN resent_ms;"
	    "ALTER TABLE incidents DROP COLUMN fix_overdue_ms;"
	    "ALTER TABLE incidents DROP COLUMN analysed_ms;"
	    "ALTER TABLE incidents DROP COLUMN analysed_by;"
	    "ALTER TABLE incidents DROP COLUMN fix_due_ms;"
	    "ALTER TABLE incidents DROP COLUMN fixed_ms;"
	    "ALTER TABLE incidents DROP COLUMN fixed_by;"
	    "CREATE INDEX messages_subject_key ON messages(subject_key);"
	    "ALTER TABLE pages DROP COLUMN request;"
	    "DROP TABLE past_requests;"
	    "ALTER TABLE pages DROP COLUMN found_ms;"
	    "PRAGMA user_version = 16;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	/* Opened as it is, the file keeps its schema until upgraded. */
	store_close(store_open_as_is(path, false));
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(select_count(db, "PRAGMA user_version"), 16);
	sqlite3_close(db);
	store = store_open_as_is(path, false);
	CHECK(store != NULL);
	if (store == NULL) {
		g_bytes_unref(want);
		g_free(path);
		return;
	}
	CHECK_INT(store_schema_version(store), 16);
	CHECK_INT(store_upgrade(store), 0);
	CHECK_INT(store_schema_version(store), store_schema_current());
	CHECK_INT(store_message_load(store, id, &msg), 0);
	CHECK(msg.raw != NULL);
	if (msg.raw != NULL)
		CHECK(g_bytes_equal(msg.raw, want));
	ids = store_messages_unprocessed(store);
	CHECK(ids != NULL);
	if (ids != NULL) {
		CHECK_INT(ids->len, 1);
		if (ids->len == 1)
			CHECK_INT(g_array_index(ids, gint64, 0), id);
		g_array_free(ids, TRUE);
	}
	store_message_fini(&msg);
	g_bytes_unref(want);
	store_close(store);
	/* The index that no query reads is gone after the upgrade. */
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(select_count(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'messages_subject_key'"), 0);
	sqlite3_close(db);
	g_free(path);
}

static void
open_missing_without_create_fails(void)
{
	char	*path = g_build_filename(tmpdir, "missing.db", NULL);

	CHECK(store_open(path, false) == NULL);
	g_free(path);
}

/*
 * A page left unknown by a stop counts in flight while its incident pages,
 * and mail left unknown, which is never sent again, counts as queued no
 * more.
 */
static void
backlog_counts_what_is_left(void)
{
	struct store		*store = fresh_store("backlog.db");
	struct store_backlog	 b;
	struct outcome		 out;
	struct cfg		*cfg = team_cfg();
	int64_t			 msg, mail;

	msg = add_message(store, "1");
	CHECK_INT(store_backlog_read(store, &b), 0);
	CHECK_INT(b.messages_waiting, 1);
	CHECK_INT(process(store, msg, "b@w", &out), 0);
	CHECK_INT(store_round_create(store, out.incident_id, 1, cfg, 5), 4);
	CHECK_INT(store_page_sending(store, 1, 1), 0);
	mail = queue_mail(store, out.incident_id, "confirmation",
	    "dana@customer.example.net", 100);
	CHECK_INT(store_backlog_read(store, &b), 0);
	CHECK_INT(b.messages_waiting, 0);
	CHECK_INT(b.incidents_paging, 1);
	CHECK_INT(b.pages_pending, 3);
	CHECK_INT(b.pages_in_flight, 1);
	CHECK_INT(b.mail_queued, 1);
	CHECK_INT(store_pages_orphaned(store, 200), 1);
	CHECK_INT(store_mail_sending(store, mail), 0);
	CHECK_INT(store_mail_unknown(store, mail, "no reply", 300), 0);
	CHECK_INT(store_backlog_read(store, &b), 0);
	CHECK_INT(b.pages_in_flight, 1);
	CHECK_INT(b.mail_queued, 0);
	CHECK_INT(store_incident_ack(store, out.incident_id, "ana", "sms",
	    NULL, 400), 1);
	CHECK_INT(store_backlog_read(store, &b), 0);
	CHECK_INT(b.incidents_paging, 0);
	CHECK_INT(b.pages_in_flight, 0);
	cfg_free(cfg);
	store_close(store);
}

int
main(void)
{
	tmpdir = g_dir_make_tmp("critgate-store-XXXXXX", NULL);
	TAP_RUN(message_add_is_unprocessed_until_processed);
	TAP_RUN(message_same_id_joins_incident);
	TAP_RUN(message_without_id_opens_own_incident);
	TAP_RUN(subject_key_finds_open_incident);
	TAP_RUN(round_created_once);
	TAP_RUN(ack_first_wins_and_cancels_pending);
	TAP_RUN(status_never_moves_back);
	TAP_RUN(requeue_clears_provider_status);
	TAP_RUN(sending_pages_become_unknown_after_stop);
	TAP_RUN(unknown_pages_count_towards_limit);
	TAP_RUN(bundled_unknown_pages_count_once);
	TAP_RUN(unknown_twice_counts_each_request);
	TAP_RUN(failover_counts_both_requests);
	TAP_RUN(unknown_pages_sent_again_after_wait);
	TAP_RUN(sms_parts_join_in_order);
	TAP_RUN(open_missing_without_create_fails);
	TAP_RUN(open_newer_schema_refused);
	TAP_RUN(upgrade_moves_raw_bytes_to_own_table);
	TAP_RUN(mail_moves_from_pending_to_sent_once);
	TAP_RUN(mail_body_sent_becomes_unknown_after_stop);
	TAP_RUN(resolve_acknowledges_and_counts_once);
	TAP_RUN(follow_up_recorded_once_each);
	TAP_RUN(follow_up_events_in_timeline);
	TAP_RUN(fix_overdue_marked_once);
	TAP_RUN(fix_overdue_each_commits_with_mark);
	TAP_RUN(unflushed_batch_is_committed_and_flushed_later);
	TAP_RUN(turns_pass_between_threads);
	TAP_RUN(checkpoint_later_leaves_log_to_caller);
	TAP_RUN(checkpoint_runs_at_mark_by_default);
	TAP_RUN(report_month_counts_running_apart);
	TAP_RUN(backlog_counts_what_is_left);
	return tap_done();
}
