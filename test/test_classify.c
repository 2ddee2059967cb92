/* SPDX-License-Identifier: ISC */
/*
 * Tests for the classify stage: signed tokens, subject normalisation,
 * fingerprints, acknowledgement words, and whole messages from
 * test/data/classify classified against an in-memory store that records
 * each result the way the daemon does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cfg.h"
#include "classify.h"
#include "parse.h"
#include "tap.h"

#define MINUTE_MS	(60 * 1000)
#define T0_MS		INT64_C(1748938442000)	/* 2025-06-03 08:14:02 UTC */
#define INCIDENT_1042	1042

static const char	*skip_reason;

/* Like TAP_RUN, but a case may set skip_reason to report itself skipped. */
#define RUN(fn) do {							\
	skip_reason = NULL;						\
	tap_case_failed = false;					\
	fn();								\
	tap_count++;							\
	if (skip_reason != NULL) {					\
		printf("ok %d - %s # SKIP %s\n", tap_count, #fn,	\
		    skip_reason);					\
	} else {							\
		if (tap_case_failed)					\
			tap_failed++;					\
		printf("%s %d - %s\n", tap_case_failed ? "not ok" :	\
		    "ok", tap_count, #fn);				\
	}								\
	fflush(stdout);							\
} while (0)

static const uint8_t	test_key[] = "0123456789abcdef-test-key-bytes";
static const uint8_t	other_key[] = "fedcba9876543210-other-key-bytes";

static const struct classify_settings settings = {
	.window_ms = 30 * MINUTE_MS,
	.domain = "support.example.com",
	.from_addr = "critical@support.example.com",
	.token_key = test_key,
	.token_key_len = sizeof(test_key) - 1,
};

static struct cfg_route routes[] = {
	{ (char *)"critical@support.example.com", CFG_SEVERITY_CRITICAL },
	{ (char *)"high@support.example.com", CFG_SEVERITY_HIGH },
};

static struct cfg_member team[] = {
	{ (char *)"alice.ops", (char *)"Alice Ops", (char *)"+4915100000001",
	  (char *)"alice.ops@example.com" },
	{ (char *)"bob.night", (char *)"Bob Night", (char *)"+4915100000002",
	  (char *)"bob.night@example.com" },
	{ (char *)"joerg.mueller", (char *)"Joerg Mueller",
	  (char *)"+4915100000003", (char *)"joerg.mueller@example.com" },
};

static struct cfg test_cfg = {
	.routes = routes,
	.n_routes = G_N_ELEMENTS(routes),
	.team = team,
	.n_team = G_N_ELEMENTS(team),
};

/* The in-memory store behind the lookup callbacks. */
struct fake_message {
	int64_t	 id;
	char	*message_id;
	char	*content_hash;
	char	*fingerprint;
	char	*sender;
	char	*subject_key;	/* set on the message opening an incident */
	int64_t	 incident_id;
	int64_t	 received_ms;
};

struct fake_incident {
	int64_t			 id;
	bool			 is_open;	/* and not acknowledged */
	GPtrArray		*outbound_ids;	/* Message-IDs of mail we
						 * sent */
	int64_t			 opened_ms;
	enum cfg_severity	 severity;
};

struct fake_store {
	GArray		*messages;	/* struct fake_message */
	GArray		*incidents;	/* struct fake_incident */
	int64_t		 next_incident;
	/* The settings classify_mail uses; the static ones by default. */
	const struct classify_settings	*settings;
};

static struct fake_incident *
fake_incident_find(struct fake_store *st, int64_t id)
{
	guint	i;

	for (i = 0; i < st->incidents->len; i++)
		if (g_array_index(st->incidents, struct fake_incident,
		    i).id == id)
			return &g_array_index(st->incidents,
			    struct fake_incident, i);
	return NULL;
}

static bool
fake_is_open(struct fake_store *st, int64_t incident_id)
{
	struct fake_incident	*inc = fake_incident_find(st, incident_id);

	return inc != NULL && inc->is_open;
}

static int64_t
fake_message_by_message_id(void *ctx, const char *message_id)
{
	struct fake_store	*st = ctx;
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		if (m->message_id != NULL &&
		    strcmp(m->message_id, message_id) == 0)
			return m->id;
	}
	return 0;
}

static int64_t
fake_message_by_content_hash(void *ctx, const char *hash)
{
	struct fake_store	*st = ctx;
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		if (m->content_hash != NULL &&
		    strcmp(m->content_hash, hash) == 0)
			return m->id;
	}
	return 0;
}

static int64_t
fake_incident_of_message(void *ctx, int64_t msg_id)
{
	struct fake_store	*st = ctx;
	guint			 i;

	for (i = 0; i < st->messages->len; i++)
		if (g_array_index(st->messages, struct fake_message,
		    i).id == msg_id)
			return g_array_index(st->messages,
			    struct fake_message, i).incident_id;
	return 0;
}

static int64_t
fake_incident_by_message_id(void *ctx, const char *message_id)
{
	struct fake_store	*st = ctx;
	struct fake_incident	*inc;
	guint			 i, j;
	int64_t			 msg;

	msg = fake_message_by_message_id(ctx, message_id);
	if (msg != 0)
		return fake_incident_of_message(ctx, msg);
	for (i = 0; i < st->incidents->len; i++) {
		inc = &g_array_index(st->incidents, struct fake_incident, i);
		for (j = 0; j < inc->outbound_ids->len; j++)
			if (strcmp(g_ptr_array_index(inc->outbound_ids, j),
			    message_id) == 0)
				return inc->id;
	}
	return 0;
}

static int64_t
fake_incident_by_fingerprint(void *ctx, const char *fingerprint,
    int64_t since_ms)
{
	struct fake_store	*st = ctx;
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		if (m->fingerprint != NULL && m->received_ms >= since_ms &&
		    strcmp(m->fingerprint, fingerprint) == 0 &&
		    fake_is_open(st, m->incident_id))
			return m->incident_id;
	}
	return 0;
}

static int64_t
fake_incident_by_sender(void *ctx, const char *addr, int64_t since_ms)
{
	struct fake_store	*st = ctx;
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		if (m->sender != NULL && m->received_ms >= since_ms &&
		    g_ascii_strcasecmp(m->sender, addr) == 0 &&
		    fake_is_open(st, m->incident_id))
			return m->incident_id;
	}
	return 0;
}

static int64_t
fake_incident_by_subject_key(void *ctx, const char *key, int64_t since_ms)
{
	struct fake_store	*st = ctx;
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		if (m->subject_key != NULL && m->received_ms >= since_ms &&
		    strcmp(m->subject_key, key) == 0 &&
		    fake_is_open(st, m->incident_id))
			return m->incident_id;
	}
	return 0;
}

static bool
fake_incident_has_sender(void *ctx, int64_t incident_id, const char *addr)
{
	struct fake_store	*st = ctx;
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		if (m->incident_id == incident_id && m->sender != NULL &&
		    g_ascii_strcasecmp(m->sender, addr) == 0)
			return true;
	}
	return false;
}

static bool
fake_incident_exists(void *ctx, int64_t incident_id, bool *is_open)
{
	struct fake_incident	*inc = fake_incident_find(ctx, incident_id);

	if (inc == NULL)
		return false;
	*is_open = inc->is_open;
	return true;
}

static int64_t
fake_incident_unacked_since(void *ctx, enum cfg_severity severity,
    int64_t since_ms)
{
	struct fake_store	*st = ctx;
	struct fake_incident	*inc;
	guint			 i = st->incidents->len;

	while (i-- > 0) {
		inc = &g_array_index(st->incidents, struct fake_incident, i);
		if (inc->severity == severity && inc->opened_ms >= since_ms)
			return inc->is_open ? inc->id : 0;
	}
	return 0;
}

static const struct classify_lookup fake_lookup = {
	.message_by_message_id = fake_message_by_message_id,
	.message_by_content_hash = fake_message_by_content_hash,
	.incident_of_message = fake_incident_of_message,
	.incident_by_message_id = fake_incident_by_message_id,
	.incident_by_fingerprint = fake_incident_by_fingerprint,
	.incident_by_sender = fake_incident_by_sender,
	.incident_by_subject_key = fake_incident_by_subject_key,
	.incident_has_sender = fake_incident_has_sender,
	.incident_exists = fake_incident_exists,
	.incident_unacked_since = fake_incident_unacked_since,
};

static void
fake_store_init(struct fake_store *st)
{
	st->messages = g_array_new(FALSE, TRUE, sizeof(struct fake_message));
	st->incidents = g_array_new(FALSE, TRUE,
	    sizeof(struct fake_incident));
	st->next_incident = 2001;
	st->settings = &settings;
}

static void
fake_store_fini(struct fake_store *st)
{
	struct fake_message	*m;
	guint			 i;

	for (i = 0; i < st->messages->len; i++) {
		m = &g_array_index(st->messages, struct fake_message, i);
		g_free(m->message_id);
		g_free(m->content_hash);
		g_free(m->fingerprint);
		g_free(m->sender);
		g_free(m->subject_key);
	}
	for (i = 0; i < st->incidents->len; i++)
		g_ptr_array_unref(g_array_index(st->incidents,
		    struct fake_incident, i).outbound_ids);
	g_array_unref(st->messages);
	g_array_unref(st->incidents);
}

static struct fake_incident *
fake_incident_add(struct fake_store *st, int64_t id)
{
	struct fake_incident	inc = { .id = id, .is_open = true };

	inc.outbound_ids = g_ptr_array_new_with_free_func(g_free);
	g_array_append_val(st->incidents, inc);
	return fake_incident_find(st, id);
}

/* Stores a classified message as the daemon would; returns its incident. */
static int64_t
fake_store_record(struct fake_store *st, const struct parse_result *parsed,
    const char *mail_from, int64_t received_ms,
    const struct classify_result *res)
{
	struct fake_message	 m = { 0 };
	struct fake_incident	*inc;
	int64_t			 incident = res->incident_id;

	if (res->class == CLASSIFY_NEW_INCIDENT) {
		incident = st->next_incident++;
		inc = fake_incident_add(st, incident);
		inc->opened_ms = received_ms;
		inc->severity = res->severity;
		m.subject_key = g_strdup(res->subject_key);
	}
	m.id = st->messages->len + 1;
	m.message_id = g_strdup(parsed->message_id);
	m.content_hash = g_strdup(res->content_hash);
	m.fingerprint = g_strdup(res->fingerprint);
	m.sender = g_strdup(parsed->from_addr != NULL ? parsed->from_addr :
	    mail_from);
	m.incident_id = incident;
	m.received_ms = received_ms;
	g_array_append_val(st->messages, m);
	return incident;
}

static char *
make_token(enum classify_token_kind kind, const char *member,
    uint64_t serial)
{
	struct classify_token	tok = { kind, INCIDENT_1042, (char *)member,
	    0, serial };

	return classify_token_make(&settings, &tok);
}

static char *
page_token(const char *member)
{
	return make_token(CLASSIFY_TOKEN_PAGE, member, 1);
}

static char *
confirm_token(void)
{
	return make_token(CLASSIFY_TOKEN_CONFIRMATION, NULL, 2);
}

static void
add_outbound(struct fake_incident *inc, char *token)
{
	g_ptr_array_add(inc->outbound_ids, g_strconcat(token,
	    "@gw.support.example.com", NULL));
	g_free(token);
}

/*
 * Sets up incident 1042 as opened from the baseline message, with a page
 * mail to each member and a confirmation to the reporter.
 */
static void
fake_store_with_1042(struct fake_store *st)
{
	struct fake_incident	*inc;
	struct fake_message	 m = { 0 };
	size_t			 i;

	fake_store_init(st);
	inc = fake_incident_add(st, INCIDENT_1042);
	for (i = 0; i < G_N_ELEMENTS(team); i++)
		add_outbound(inc, page_token(team[i].name));
	add_outbound(inc, confirm_token());
	m.id = st->messages->len + 1;
	m.message_id = g_strdup("20250603081358.A1@customer.example.net");
	m.sender = g_strdup("dana@customer.example.net");
	m.fingerprint = classify_fingerprint(m.sender,
	    "Checkout down for all EU customers");
	m.incident_id = INCIDENT_1042;
	m.received_ms = T0_MS;
	g_array_append_val(st->messages, m);
}

/* A message read from test data with its placeholders filled in. */
struct mail {
	uint8_t			*raw;
	size_t			 raw_len;
	struct parse_result	 parsed;
};

static char *
replace_all(const char *text, const char *what, const char *with)
{
	char	**parts, *joined;

	parts = g_strsplit(text, what, -1);
	joined = g_strjoinv(with, parts);
	g_strfreev(parts);
	return joined;
}

/*
 * Reads data/classify/name, puts the page token for page_member and the
 * confirmation token in place of the placeholders, and parses it.
 */
static bool
mail_load(struct mail *mail, const char *name, const char *page_member)
{
	char	*path, *text = NULL, *page, *confirm, *step;
	gsize	 len = 0;
	bool	 ok;

	memset(mail, 0, sizeof(*mail));
	path = g_build_filename("data", "classify", name, NULL);
	ok = g_file_get_contents(path, &text, &len, NULL);
	g_free(path);
	if (!ok) {
		printf("# cannot read data/classify/%s\n", name);
		return false;
	}
	if (memchr(text, '\0', len) == NULL) {
		page = page_token(page_member != NULL ? page_member :
		    "alice.ops");
		confirm = confirm_token();
		step = replace_all(text, "{{PAGE-1042}}", page);
		g_free(text);
		text = replace_all(step, "{{CONFIRM-1042}}", confirm);
		len = strlen(text);
		g_free(step);
		g_free(confirm);
		g_free(page);
	}
	mail->raw = (uint8_t *)text;
	mail->raw_len = len;
	(void)parse_message(mail->raw, mail->raw_len, &mail->parsed);
	return true;
}

static void
mail_fini(struct mail *mail)
{
	parse_result_fini(&mail->parsed);
	g_free(mail->raw);
}

static const char *const rcpt_critical[] = { "critical@support.example.com" };
static const char *const rcpt_high[] = { "high@support.example.com" };
static const char *const rcpt_high_first[] = { "high@support.example.com",
    "critical@support.example.com" };
static const char *const rcpt_none[] = { "sales@support.example.com" };

/* Classifies mail received at received_ms and records it in st. */
static int64_t
classify_mail(struct fake_store *st, struct mail *mail, const char *mail_from,
    const char *const *rcpts, size_t n_rcpts, int64_t received_ms,
    struct classify_result *res)
{
	struct classify_input	in = {
		.parsed = &mail->parsed,
		.mail_from = mail_from,
		.rcpts = rcpts,
		.n_rcpts = n_rcpts,
		.received_ms = received_ms,
		.raw = mail->raw,
		.raw_len = mail->raw_len,
	};

	CHECK_INT(classify_message(&test_cfg, st->settings, &in, &fake_lookup,
	    st, res), 0);
	CHECK(res->reason != NULL);
	return fake_store_record(st, &mail->parsed, mail_from, received_ms,
	    res);
}

/* Loads, classifies, records and frees one message; 0 if not readable. */
static int64_t
feed(struct fake_store *st, const char *name, const char *page_member,
    const char *mail_from, int64_t received_ms, struct classify_result *res)
{
	struct mail	mail;
	int64_t		incident;

	memset(res, 0, sizeof(*res));
	if (!mail_load(&mail, name, page_member)) {
		tap_case_failed = true;
		return 0;
	}
	incident = classify_mail(st, &mail, mail_from, rcpt_critical, 1,
	    received_ms, res);
	mail_fini(&mail);
	return incident;
}

/* Classifies and records a message given as text, from sender. */
static int64_t
feed_text(struct fake_store *st, const char *sender, const char *subject,
    int64_t received_ms, struct classify_result *res)
{
	struct mail	mail;
	int64_t		incident;
	char		*text;

	text = g_strdup_printf("From: <%s>\r\nTo: critical@support.example."
	    "com\r\nSubject: %s\r\nMessage-ID: <%s-%" G_GINT64_FORMAT
	    "@example.org>\r\n\r\nIt is down for us too.\r\n", sender,
	    subject, sender, received_ms);
	memset(&mail, 0, sizeof(mail));
	mail.raw = (uint8_t *)text;
	mail.raw_len = strlen(text);
	(void)parse_message(mail.raw, mail.raw_len, &mail.parsed);
	memset(res, 0, sizeof(*res));
	incident = classify_mail(st, &mail, sender, rcpt_critical, 1,
	    received_ms, res);
	mail_fini(&mail);
	return incident;
}

static void
tag_of_closed_incident_from_stranger_opens_new(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first;

	fake_store_init(&st);
	first = feed_text(&st, "eve@other.example", "Website down for "
	    "everyone", T0_MS, &res);
	classify_result_fini(&res);
	fake_incident_find(&st, first)->is_open = false;
	feed_text(&st, "carl@third.example", "[#2001] New outage: our API "
	    "returns 500", T0_MS + MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	/* The reporter of the closed incident still adds to it. */
	CHECK_INT(feed_text(&st, "eve@other.example", "Re: [#2001] Website "
	    "down for everyone", T0_MS + 2 * MINUTE_MS, &res), first);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

/* Classifies and records raw bytes as they came, from sender. */
static int64_t
feed_raw(struct fake_store *st, const char *sender, const char *raw,
    int64_t received_ms, struct classify_result *res)
{
	struct mail	mail;
	int64_t		incident;

	memset(&mail, 0, sizeof(mail));
	mail.raw = (uint8_t *)g_strdup(raw);
	mail.raw_len = strlen(raw);
	(void)parse_message(mail.raw, mail.raw_len, &mail.parsed);
	memset(res, 0, sizeof(*res));
	incident = classify_mail(st, &mail, sender, rcpt_critical, 1,
	    received_ms, res);
	mail_fini(&mail);
	return incident;
}

static void
headerless_mail_from_others_not_duplicates(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	feed_raw(&st, "a@one.example", "Our payment system is down since "
	    "10:00, please call\r\n", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	feed_raw(&st, "b@two.example", "DATABASE CLUSTER ON FIRE - totally "
	    "different customer\r\n", T0_MS + MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	/* The same bytes from the same sender again are one message. */
	feed_raw(&st, "b@two.example", "DATABASE CLUSTER ON FIRE - totally "
	    "different customer\r\n", T0_MS + 2 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_DUPLICATE);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
outage_other_customers_join(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first;

	fake_store_init(&st);
	first = feed_text(&st, "ana@shop-one.example", "Checkout down",
	    T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	CHECK_INT(feed_text(&st, "ben@shop-two.example", "RE: checkout DOWN",
	    T0_MS + MINUTE_MS, &res), first);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_CONTAINS(res.reason, "same subject");
	classify_result_fini(&res);
	/* Outside the window the outage is reported anew. */
	feed_text(&st, "cy@shop-three.example", "Checkout down",
	    T0_MS + 31 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
outage_other_numbers_new_incident(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	feed_text(&st, "ana@shop-one.example", "Order 4711 stuck in pending",
	    T0_MS, &res);
	classify_result_fini(&res);
	feed_text(&st, "ben@shop-two.example", "Order 9001 stuck in pending",
	    T0_MS + MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
outage_generic_subject_new_incident(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	feed_text(&st, "ana@shop-one.example", "Urgent!", T0_MS, &res);
	CHECK(res.subject_key == NULL);
	classify_result_fini(&res);
	feed_text(&st, "ben@shop-two.example", "Urgent!", T0_MS + MINUTE_MS,
	    &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

/*
 * With storm grouping on, reports in other words join the unacknowledged
 * incident.  Past the window, or once the latest incident is
 * acknowledged, a report opens its own again.  Off, each opens one.
 */
static void
storm_joins_unacknowledged_incident(void)
{
	struct classify_settings	 storm = settings;
	struct fake_incident		*inc;
	struct fake_store		 st;
	struct classify_result		 res;
	int64_t				 first, later;

	fake_store_init(&st);
	feed_text(&st, "ana@shop-one.example", "Checkout down", T0_MS, &res);
	classify_result_fini(&res);
	feed_text(&st, "ben@shop-two.example", "URGENT: payments failing",
	    T0_MS + MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	fake_store_fini(&st);

	storm.storm_window_ms = 10 * MINUTE_MS;
	fake_store_init(&st);
	st.settings = &storm;
	first = feed_text(&st, "ana@shop-one.example", "Checkout down",
	    T0_MS, &res);
	classify_result_fini(&res);
	CHECK_INT(feed_text(&st, "ben@shop-two.example", "URGENT: payments "
	    "failing", T0_MS + MINUTE_MS, &res), first);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_CONTAINS(res.reason, "storm");
	CHECK(!res.is_not_reporter);
	classify_result_fini(&res);
	/* Past the window. */
	later = feed_text(&st, "cy@shop-three.example", "Cannot log in",
	    T0_MS + 11 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	/* A raised incident, now acknowledged, is the latest: a report
	 * opens its own even though an older one is still open. */
	inc = fake_incident_add(&st, 3001);
	inc->opened_ms = T0_MS + 12 * MINUTE_MS;
	inc->severity = CFG_SEVERITY_CRITICAL;
	inc->is_open = false;
	CHECK(fake_incident_find(&st, later)->is_open);
	feed_text(&st, "dee@shop-four.example", "SMS campaigns stuck",
	    T0_MS + 13 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

/* Loads name and returns whether parse fills the threading headers. */
static bool
parse_fills_threading(const char *name)
{
	struct mail	mail;
	bool		filled;

	if (!mail_load(&mail, name, "alice.ops"))
		return false;
	filled = mail.parsed.in_reply_to != NULL ||
	    (mail.parsed.references != NULL &&
	    mail.parsed.references->len > 0);
	mail_fini(&mail);
	return filled;
}

/* Loads name and returns whether parse sets any automatic-mail field. */
static bool
parse_fills_automatic(const char *name)
{
	struct mail	mail;
	bool		filled;

	if (!mail_load(&mail, name, "alice.ops"))
		return false;
	filled = mail.parsed.auto_submitted != NULL ||
	    mail.parsed.precedence != NULL ||
	    mail.parsed.has_autoreply_header || mail.parsed.is_report;
	mail_fini(&mail);
	return filled;
}

#define SKIP_THREADING	"parse does not fill In-Reply-To/References yet"
#define SKIP_AUTOMATIC	"parse does not fill the automatic-mail fields yet"

/* ---- signed tokens ---- */

static void
token_page_round_trip_verifies(void)
{
	struct classify_token	 tok = { CLASSIFY_TOKEN_PAGE, 1042,
	    (char *)"alice.ops", 0, 77 };
	struct classify_token	 got;
	char			*local;

	local = classify_token_make(&settings, &tok);
	CHECK(local != NULL);
	CHECK_INT(local[0], '1');
	CHECK_INT(strspn(local, "1abcdefghijklmnopqrstuvwxyz234567"),
	    strlen(local));
	CHECK(strlen(local) <= 64);
	CHECK_INT(classify_token_verify(&settings, local, &got), 0);
	CHECK_INT(got.kind, CLASSIFY_TOKEN_PAGE);
	CHECK_INT(got.incident_id, 1042);
	CHECK_STR(got.member, "alice.ops");
	CHECK_INT(got.serial, 77);
	classify_token_fini(&got);
	g_free(local);
}

static void
token_reporter_round_trip_verifies(void)
{
	struct classify_token	 tok = { CLASSIFY_TOKEN_CONFIRMATION,
	    INT64_C(9000000000), NULL, 3, UINT64_MAX };
	struct classify_token	 got;
	char			*local;

	local = classify_token_make(&settings, &tok);
	CHECK(local != NULL);
	CHECK_INT(classify_token_verify(&settings, local, &got), 0);
	CHECK_INT(got.kind, CLASSIFY_TOKEN_CONFIRMATION);
	CHECK_INT(got.incident_id, INT64_C(9000000000));
	CHECK(got.member == NULL);
	CHECK_INT(got.reporter_index, 3);
	CHECK(got.serial == UINT64_MAX);
	classify_token_fini(&got);
	g_free(local);
}

static void
token_uppercased_still_verifies(void)
{
	struct classify_token	 got;
	char			*local, *upper;

	local = page_token("bob.night");
	upper = g_ascii_strup(local, -1);
	CHECK_INT(classify_token_verify(&settings, upper, &got), 0);
	CHECK_STR(got.member, "bob.night");
	classify_token_fini(&got);
	g_free(upper);
	g_free(local);
}

static void
token_any_changed_character_rejected(void)
{
	struct classify_token	 got;
	char			*local;
	size_t			 i;
	char			 saved;

	local = page_token("alice.ops");
	for (i = 0; local[i] != '\0'; i++) {
		saved = local[i];
		local[i] = saved == 'a' ? 'b' : 'a';
		if (classify_token_verify(&settings, local, &got) == 0) {
			printf("# change at %zu verified\n", i);
			tap_case_failed = true;
		}
		CHECK(got.member == NULL);
		local[i] = saved;
	}
	g_free(local);
}

static void
token_wrong_key_rejected(void)
{
	struct classify_settings	 other = settings;
	struct classify_token		 got;
	char				*local;

	other.token_key = other_key;
	other.token_key_len = sizeof(other_key) - 1;
	local = page_token("alice.ops");
	CHECK_INT(classify_token_verify(&other, local, &got), -1);
	g_free(local);
}

static void
token_truncated_rejected(void)
{
	struct classify_token	 got;
	char			*local;
	size_t			 len;

	local = page_token("alice.ops");
	for (len = strlen(local); len > 0; len--) {
		local[len - 1] = '\0';
		CHECK_INT(classify_token_verify(&settings, local, &got), -1);
	}
	g_free(local);
}

static void
token_extended_rejected(void)
{
	struct classify_token	 got;
	char			*local, *longer;

	local = page_token("alice.ops");
	longer = g_strconcat(local, "a", NULL);
	CHECK_INT(classify_token_verify(&settings, longer, &got), -1);
	g_free(longer);
	g_free(local);
}

static void
token_short_key_not_made(void)
{
	struct classify_settings	weak = settings;
	struct classify_token		tok = { CLASSIFY_TOKEN_PAGE, 1042,
	    (char *)"alice.ops", 0, 1 };

	weak.token_key_len = CLASSIFY_TOKEN_KEY_MIN - 1;
	CHECK(classify_token_make(&weak, &tok) == NULL);
	weak.token_key_len = 0;
	CHECK(classify_token_make(&weak, &tok) == NULL);
}

static void
token_bad_fields_not_made(void)
{
	struct classify_token	tok = { CLASSIFY_TOKEN_PAGE, 0,
	    (char *)"alice.ops", 0, 1 };

	CHECK(classify_token_make(&settings, &tok) == NULL);
	tok.incident_id = 1;
	tok.member = (char *)"";
	CHECK(classify_token_make(&settings, &tok) == NULL);
	tok.member = (char *)"a-member-name-that-is-longer-than-32";
	CHECK(classify_token_make(&settings, &tok) == NULL);
}

static void
token_message_id_domain_checked(void)
{
	struct classify_token	 got;
	char			*local, *ours, *theirs;

	local = page_token("alice.ops");
	ours = g_strconcat(local, "@gw.support.example.com", NULL);
	theirs = g_strconcat(local, "@gw.example.org", NULL);
	CHECK_INT(classify_token_from_message_id(&settings, ours, &got), 0);
	CHECK_INT(got.incident_id, 1042);
	classify_token_fini(&got);
	CHECK_INT(classify_token_from_message_id(&settings, theirs, &got), -1);
	CHECK_INT(classify_token_from_message_id(&settings,
	    "20250603081358.A1@customer.example.net", &got), -1);
	g_free(theirs);
	g_free(ours);
	g_free(local);
}

/* ---- subjects, fingerprints, ack words ---- */

static void
subject_normalise_table_stripped(void)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "SV: VS: AW: Re: WG: [#1042] Checkout down for all EU "
		  "customers", "Checkout down for all EU customers" },
		{ "RE: Fwd: FW: re: fwd: Orders stuck", "Orders stuck" },
		{ "TR: RE : Antw: Doorst: RV: Panne", "Panne" },
		{ "Re[2]: Re(3): ODP: PD: YNT: Disk full", "Disk full" },
		{ "回复：转发: 支付失败", "支付失败" },
		{ "[Ticket#5521] RE: [#1042] Checkout down",
		  "[Ticket#5521] Checkout down" },
		{ "[FIRING:1] CheckoutErrorRate critical",
		  "[FIRING:1] CheckoutErrorRate critical" },
		{ "  Re:\tRe:   spaced\r\n  out  ", "spaced out" },
		{ "Regarding: not a prefix", "Regarding: not a prefix" },
		{ "Automatic reply: [#1042] Checkout down",
		  "Automatic reply: [#1042] Checkout down" },
		{ "", "" },
	};
	char	*got;
	size_t	 i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		got = classify_subject_normalise(cases[i].in);
		CHECK_STR(got, cases[i].want);
		g_free(got);
	}
	got = classify_subject_normalise(NULL);
	CHECK_STR(got, "");
	g_free(got);
}

static void
subject_tag_found_anywhere(void)
{
	CHECK_INT(classify_subject_incident_tag("Re: [#1042] x"), 1042);
	CHECK_INT(classify_subject_incident_tag(
	    "Away until Monday (Re: [#1042] Checkout down)"), 1042);
	CHECK_INT(classify_subject_incident_tag("[Ticket#5521] [#7] x"), 7);
	CHECK_INT(classify_subject_incident_tag("[#] [#abc] [#0] x"), 0);
	CHECK_INT(classify_subject_incident_tag(
	    "[#99999999999999999999999] x"), 0);
	CHECK_INT(classify_subject_incident_tag(NULL), 0);
}

static void
subject_key_values_replaced(void)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "[FIRING:1] CheckoutErrorRate critical (eu-west-1)",
		  "[firing:#] checkouterrorrate critical (eu-west-1)" },
		{ "payment-api: 5xx rate 41% for the last 10 minutes",
		  "payment-api: 5xx rate #% for the last # minutes" },
		{ "disk 91.5% full at 2025-06-03 14:05:00 UTC",
		  "disk #% full at # # utc" },
		{ "event 9f8e7d6c5b4a at 2025-06-03T14:05:00Z",
		  "event # at #z" },
		{ "latency 250ms on host-12 (md0)",
		  "latency #ms on host-12 (md0)" },
		{ "Re: UPS-3 on battery, 11 minutes left",
		  "ups-3 on battery, # minutes left" },
	};
	char	*got;
	size_t	 i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		got = classify_subject_key(cases[i].in);
		CHECK_STR(got, cases[i].want);
		g_free(got);
	}
}

static void
fingerprint_varying_values_stable(void)
{
	char	*a, *b, *c, *d;

	a = classify_fingerprint("alerts@monitor.example.net",
	    "ALERT db-7: disk 91% full (event 9f8e7d6c5b4a)");
	b = classify_fingerprint("Alerts@Monitor.example.net",
	    "Re: ALERT db-7: disk 97.5% full (event 0a1b2c3d4e5f)");
	c = classify_fingerprint("alerts@monitor.example.net",
	    "ALERT db-8: disk 91% full (event 9f8e7d6c5b4a)");
	d = classify_fingerprint("other@monitor.example.net",
	    "ALERT db-7: disk 91% full (event 9f8e7d6c5b4a)");
	CHECK_INT(strlen(a), 64);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK(strcmp(a, d) != 0);
	g_free(d);
	g_free(c);
	g_free(b);
	g_free(a);
}

static void
ack_words_table_matched(void)
{
	static const struct {
		const char	*text;
		bool		 is_ack;
	} cases[] = {
		{ "ACK - looking at the payment gateway now.", true },
		{ "Taking it.", true },
		{ "\xc3\x9c" "bernehme ich. / I\xe2\x80\x99m on it.", true },
		{ "\n\n  I\xe2\x80\x99m on it\n> quoted", true },
		{ "ok", true },
		{ "> ACK\n\nCannot take it, driving.", false },
		{ "Acknowledgement needed from someone else", false },
		{ "Okta is down too", false },
		{ "", false },
	};
	const char	*word;
	size_t		 i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		if (classify_is_ack_text(cases[i].text, NULL, &word) !=
		    cases[i].is_ack) {
			printf("# case %zu: \"%s\"\n", i, cases[i].text);
			tap_case_failed = true;
		}
	}
	CHECK(!classify_is_ack_text(NULL, NULL, &word));
	CHECK(word == NULL);
}

static void
ack_words_configured_replace_table(void)
{
	static const char *const words[] = { "mine now", "1", NULL };
	const char		*word;

	CHECK(classify_is_ack_text("Mine now, calling them", words, &word));
	CHECK_STR(word, "mine now");
	CHECK(classify_is_ack_text("1", words, &word));
	CHECK(!classify_is_ack_text("1pm works for me", words, &word));
	CHECK(!classify_is_ack_text("ACK", words, &word));
	CHECK(!classify_is_ack_text("Resolved, ack", NULL, &word));
	CHECK(classify_is_resolve_text("RESOLVE\n\n> [#1042] ..."));
	CHECK(classify_is_resolve_text("  Resolved - root cause was DNS"));
	CHECK(!classify_is_resolve_text("> RESOLVE\nnot yet"));
	CHECK(!classify_is_resolve_text("Resolving now"));
}

static void
ack_words_questions_acknowledge_nothing(void)
{
	static const char *const questions[] = {
		"ack?", "On it? I thought Ben had it", "1 question: is it prod",
		"1)", "Resolve? not yet", "1 ?",
	};
	const char	*word;
	size_t		 i;

	for (i = 0; i < G_N_ELEMENTS(questions); i++) {
		if (classify_is_ack_text(questions[i], NULL, &word) ||
		    classify_is_resolve_text(questions[i])) {
			printf("# acted on \"%s\"\n", questions[i]);
			tap_case_failed = true;
		}
	}
	CHECK(classify_is_ack_text("1", NULL, &word));
	CHECK(classify_is_ack_text("1.", NULL, &word));
	CHECK(classify_is_ack_text("ACK!", NULL, &word));
	CHECK(classify_is_resolve_text("Resolved."));
}

static void
class_names_all_named(void)
{
	CHECK_STR(classify_class_name(CLASSIFY_NEW_INCIDENT), "new-incident");
	CHECK_STR(classify_class_name(CLASSIFY_DUPLICATE), "duplicate");
	CHECK_STR(classify_class_name(CLASSIFY_UPDATE), "update");
	CHECK_STR(classify_class_name(CLASSIFY_ACK), "ack");
	CHECK_STR(classify_class_name(CLASSIFY_AUTO_REPLY), "auto-reply");
	CHECK_STR(classify_class_name(CLASSIFY_BOUNCE), "bounce");
	CHECK_STR(classify_class_name(CLASSIFY_LOOP), "loop");
	CHECK_STR(classify_class_name(CLASSIFY_REJECTED), "rejected");
	CHECK_STR(classify_class_name(CLASSIFY_CLASS_COUNT), "unknown");
}

/* ---- corpus messages, new incidents and duplicates ---- */

static void
baseline_new_incident_critical(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	(void)feed(&st, "baseline-critical.eml", NULL,
	    "dana@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK_INT(res.severity, CFG_SEVERITY_CRITICAL);
	CHECK(res.is_routed);
	CHECK_INT(res.incident_id, 0);
	CHECK_STR(res.subject, "Checkout down for all EU customers");
	CHECK(res.ack_member == NULL);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
folded_message_id_second_copy_duplicate(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first;

	fake_store_init(&st);
	first = feed(&st, "dup-folded-message-id-01.eml", NULL,
	    "li.wei@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	(void)feed(&st, "dup-folded-message-id-02.eml", NULL,
	    "li.wei@customer.example.net", T0_MS + 30000, &res);
	CHECK_INT(res.class, CLASSIFY_DUPLICATE);
	CHECK_INT(res.duplicate_of, 1);
	CHECK_INT(res.incident_id, first);
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2002);
	fake_store_fini(&st);
}

static void
no_message_id_refetched_duplicate(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct mail		mail;
	char			*again;
	int64_t			first;

	fake_store_init(&st);
	first = feed(&st, "no-message-id.eml", NULL,
	    "nas-01@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);

	/* The same bytes again, with one more trace header in front. */
	if (!mail_load(&mail, "no-message-id.eml", NULL)) {
		tap_case_failed = true;
		fake_store_fini(&st);
		return;
	}
	again = g_strconcat("Received: from relay2.support.example.com\r\n",
	    (const char *)mail.raw, NULL);
	mail_fini(&mail);
	mail.raw = (uint8_t *)again;
	mail.raw_len = strlen(again);
	(void)parse_message(mail.raw, mail.raw_len, &mail.parsed);
	(void)classify_mail(&st, &mail, "nas-01@customer.example.net",
	    rcpt_critical, 1, T0_MS + 60 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_DUPLICATE);
	CHECK_INT(res.incident_id, first);
	classify_result_fini(&res);
	mail_fini(&mail);
	fake_store_fini(&st);
}

static void
no_message_id_different_body_not_duplicate(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct mail		mail;
	char			*other;

	fake_store_init(&st);
	(void)feed(&st, "no-message-id.eml", NULL,
	    "nas-01@customer.example.net", T0_MS, &res);
	classify_result_fini(&res);
	if (!mail_load(&mail, "no-message-id.eml", NULL)) {
		tap_case_failed = true;
		fake_store_fini(&st);
		return;
	}
	other = replace_all((const char *)mail.raw, "Disk sdc", "Disk sdd");
	mail_fini(&mail);
	mail.raw = (uint8_t *)other;
	mail.raw_len = strlen(other);
	(void)parse_message(mail.raw, mail.raw_len, &mail.parsed);
	/* Outside the window, so only the content hash could match. */
	(void)classify_mail(&st, &mail, "nas-01@customer.example.net",
	    rcpt_critical, 1, T0_MS + 120 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	mail_fini(&mail);
	fake_store_fini(&st);
}

static void
two_routes_one_delivery_critical(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct mail		mail;

	fake_store_init(&st);
	if (!mail_load(&mail, "two-gateway-recipients.eml", NULL)) {
		tap_case_failed = true;
		fake_store_fini(&st);
		return;
	}
	(void)classify_mail(&st, &mail, "dana@customer.example.net",
	    rcpt_high_first, 2, T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK_INT(res.severity, CFG_SEVERITY_CRITICAL);
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2002);
	mail_fini(&mail);
	fake_store_fini(&st);
}

static void
two_routes_two_deliveries_one_incident(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct mail		mail;
	int64_t			first;

	fake_store_init(&st);
	if (!mail_load(&mail, "two-gateway-recipients.eml", NULL)) {
		tap_case_failed = true;
		fake_store_fini(&st);
		return;
	}
	first = classify_mail(&st, &mail, "dana@customer.example.net",
	    rcpt_high, 1, T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK_INT(res.severity, CFG_SEVERITY_HIGH);
	classify_result_fini(&res);

	/* The caller raises the incident to the duplicate's severity. */
	(void)classify_mail(&st, &mail, "dana@customer.example.net",
	    rcpt_critical, 1, T0_MS + 5000, &res);
	CHECK_INT(res.class, CLASSIFY_DUPLICATE);
	CHECK_INT(res.incident_id, first);
	CHECK_INT(res.severity, CFG_SEVERITY_CRITICAL);
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2002);
	mail_fini(&mail);
	fake_store_fini(&st);
}

static void
monitor_flood_joins_as_repeat(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first, incident;

	fake_store_init(&st);
	first = feed(&st, "monitor-flood-01.eml", NULL,
	    "alerts@monitor.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK(!res.is_repeat);
	classify_result_fini(&res);
	incident = feed(&st, "monitor-flood-02.eml", NULL,
	    "alerts@monitor.example.net", T0_MS + MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK(res.is_repeat);
	CHECK_INT(incident, first);
	classify_result_fini(&res);
	incident = feed(&st, "monitor-flood-03.eml", NULL,
	    "alerts@monitor.example.net", T0_MS + 2 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK(res.is_repeat);
	CHECK_INT(incident, first);
	CHECK_STR(res.subject, "[FIRING:1] CheckoutErrorRate critical "
	    "(eu-west-1)");
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2002);
	fake_store_fini(&st);
}

static void
disk_alert_other_values_repeat(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first, incident;

	fake_store_init(&st);
	first = feed(&st, "disk-alert-01.eml", NULL,
	    "alerts@monitor.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	incident = feed(&st, "disk-alert-02.eml", NULL,
	    "alerts@monitor.example.net", T0_MS + 4 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK(res.is_repeat);
	CHECK_INT(incident, first);
	CHECK_CONTAINS(res.subject, "97% full at 2025-06-03 14:09:30");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
repeat_outside_window_new_incident(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	(void)feed(&st, "monitor-flood-01.eml", NULL,
	    "alerts@monitor.example.net", T0_MS, &res);
	classify_result_fini(&res);
	(void)feed(&st, "monitor-flood-02.eml", NULL,
	    "alerts@monitor.example.net", T0_MS + 31 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK(!res.is_repeat);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
customer_writes_again_updates(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first, incident;

	if (!parse_fills_threading("customer-writes-again-02.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_init(&st);
	first = feed(&st, "customer-writes-again-01.eml", NULL,
	    "dana@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	incident = feed(&st, "customer-writes-again-02.eml", NULL,
	    "dana@customer.example.net", T0_MS + 3 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(incident, first);
	CHECK_CONTAINS(res.reason, "References");
	classify_result_fini(&res);
	incident = feed(&st, "customer-writes-again-03.eml", NULL,
	    "dana@customer.example.net", T0_MS + 6 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(incident, first);
	CHECK(!res.is_repeat);
	CHECK_CONTAINS(res.reason, "same sender");
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2002);
	fake_store_fini(&st);
}

static void
reply_all_with_ack_word_update(void)
{
	struct fake_store	st;
	struct classify_result	res;
	int64_t			first, incident;

	if (!parse_fills_threading("reply-all-from-cc-02.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_init(&st);
	first = feed(&st, "reply-all-from-cc-01.eml", NULL,
	    "dana@customer.example.net", T0_MS, &res);
	classify_result_fini(&res);
	incident = feed(&st, "reply-all-from-cc-02.eml", NULL,
	    "li.wei@customer.example.net", T0_MS + 165000, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(incident, first);
	CHECK(res.ack_member == NULL);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
envelope_bcc_routes_critical(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	(void)feed(&st, "gateway-only-in-envelope-bcc.eml", NULL,
	    "dana@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK_INT(res.severity, CFG_SEVERITY_CRITICAL);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
auto_response_suppress_alone_new_incident(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_init(&st);
	(void)feed(&st, "human-mail-auto-response-suppress.eml", NULL,
	    "li.wei@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK_INT(res.severity, CFG_SEVERITY_CRITICAL);
	CHECK_STR(res.subject, "All logins fail with 'session expired'");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
unrouted_recipient_rejected(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct mail		mail;

	fake_store_init(&st);
	if (!mail_load(&mail, "baseline-critical.eml", NULL)) {
		tap_case_failed = true;
		fake_store_fini(&st);
		return;
	}
	(void)classify_mail(&st, &mail, "dana@customer.example.net",
	    rcpt_none, 1, T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_REJECTED);
	CHECK_STR(res.reason, "no routed recipient");
	CHECK(!res.is_routed);
	classify_result_fini(&res);
	(void)classify_mail(&st, &mail, "dana@customer.example.net",
	    rcpt_none, 0, T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_REJECTED);
	classify_result_fini(&res);
	mail_fini(&mail);
	fake_store_fini(&st);
}

/* Messages whose only expectation within classification is a new incident. */
static void
odd_encodings_new_incident(void)
{
	static const char *const names[] = {
		"subject-consecutive-b-words.eml", "raw-8bit-headers.eml",
		"unknown-charset-labels.eml",
		"iso-2022-jp-without-charset.eml", "us-ascii-8bit-body.eml",
		"chunked-base64-body.eml", "bad-content-transfer-encoding.eml",
		"multipart-without-boundary-lines.eml",
		"truncated-inside-boundary.eml", "mime-nesting-bomb.eml",
		"tnef-winmail-dat-only-body.eml", "html-only-body.eml",
		"from-header-without-address.eml", "poison-message.eml",
		"good-after-poison.eml",
	};
	struct fake_store	st;
	struct classify_result	res;
	size_t			i;

	fake_store_init(&st);
	for (i = 0; i < G_N_ELEMENTS(names); i++) {
		(void)feed(&st, names[i], NULL, "sender@customer.example.net",
		    T0_MS + (int64_t)i * 60 * MINUTE_MS, &res);
		if (res.class != CLASSIFY_NEW_INCIDENT) {
			printf("# %s: %s (%s)\n", names[i],
			    classify_class_name(res.class), res.reason);
			tap_case_failed = true;
		}
		classify_result_fini(&res);
	}
	fake_store_fini(&st);
}

/* ---- replies to incident 1042 ---- */

static void
bare_in_reply_to_ack_from_bob(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_threading("ack-in-reply-to-without-brackets.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "ack-in-reply-to-without-brackets.eml", "bob.night",
	    "bob.night@example.com", T0_MS + 5 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_ACK);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_STR(res.ack_member, "bob.night");
	CHECK_CONTAINS(res.reason, "token for member bob.night");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
folded_in_reply_to_ack_from_alice(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_threading("ack-msgid-folded-inside-id.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "ack-msgid-folded-inside-id.eml", "alice.ops",
	    "alice.ops@example.com", T0_MS + 4 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_ACK);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_STR(res.ack_member, "alice.ops");
	CHECK_CONTAINS(res.reason, "taking it");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
outlook_ack_and_second_copy(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_threading("outlook-ack.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "outlook-ack.eml", "alice.ops",
	    "alice.ops@example.com", T0_MS + 3 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_ACK);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_STR(res.ack_member, "alice.ops");
	classify_result_fini(&res);

	/* The same mail again must not count as a second ack. */
	(void)feed(&st, "outlook-ack.eml", "alice.ops",
	    "alice.ops@example.com", T0_MS + 4 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_DUPLICATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
ack_word_to_other_members_page_update(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_threading("ack-other-member-token.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "ack-other-member-token.eml", "alice.ops",
	    "bob.night@example.com", T0_MS + 3 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	CHECK_CONTAINS(res.reason, "another sender");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
ack_with_changed_token_not_ack(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct mail		mail;
	char			*token, *changed, *text;

	if (!parse_fills_threading("outlook-ack.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	if (!mail_load(&mail, "outlook-ack.eml", "alice.ops")) {
		tap_case_failed = true;
		fake_store_fini(&st);
		return;
	}
	token = page_token("alice.ops");
	changed = g_strdup(token);
	changed[10] = changed[10] == 'q' ? 'r' : 'q';
	text = replace_all((const char *)mail.raw, token, changed);
	mail_fini(&mail);
	mail.raw = (uint8_t *)text;
	mail.raw_len = strlen(text);
	(void)parse_message(mail.raw, mail.raw_len, &mail.parsed);
	(void)classify_mail(&st, &mail, "alice.ops@example.com",
	    rcpt_critical, 1, T0_MS + 3 * MINUTE_MS, &res);
	/* Only the subject tag is left to thread it. */
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	CHECK_CONTAINS(res.reason, "subject tag");
	classify_result_fini(&res);
	mail_fini(&mail);
	g_free(changed);
	g_free(token);
	fake_store_fini(&st);
}

static void
prefix_chain_tag_update(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_with_1042(&st);
	(void)feed(&st, "subject-prefix-chain.eml", NULL,
	    "dana@customer.example.net", T0_MS + 26 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_STR(res.subject, "Checkout down for all EU customers");
	CHECK(res.ack_member == NULL);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
french_prefix_behind_ticket_tag_update(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_with_1042(&st);
	(void)feed(&st, "french-prefix-reply.eml", NULL,
	    "dana@customer.example.net", T0_MS + 90 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_STR(res.subject,
	    "[Ticket#5521] Checkout down for all EU customers");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
forwarded_page_update_not_loop(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_with_1042(&st);
	(void)feed(&st, "forwarded-page-as-attachment.eml", "bob.night",
	    "bob.night@example.com", T0_MS + 8 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	CHECK_CONTAINS(res.reason, "subject tag");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
customer_ack_to_confirmation_update(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_threading("customer-reply-is-not-ack.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "customer-reply-is-not-ack.eml", NULL,
	    "dana@customer.example.net", T0_MS + 11 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	CHECK_CONTAINS(res.reason, "confirmation");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
stray_header_line_reply_update(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_threading("non-header-line-in-header-block.eml")) {
		skip_reason = SKIP_THREADING;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "non-header-line-in-header-block.eml", NULL,
	    "dana@customer.example.net", T0_MS + 600 * MINUTE_MS, &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
member_out_of_office_auto_reply(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_automatic("member-ooo-reply-to-page.eml")) {
		skip_reason = SKIP_AUTOMATIC;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "member-ooo-reply-to-page.eml", "bob.night",
	    "bob.night@example.com", T0_MS + 7000, &res);
	CHECK_INT(res.class, CLASSIFY_AUTO_REPLY);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
customer_vacation_auto_reply(void)
{
	struct fake_store	st;
	struct classify_result	res;
	struct fake_incident	*inc;

	if (!parse_fills_automatic("customer-vacation-reply.eml")) {
		skip_reason = SKIP_AUTOMATIC;
		return;
	}
	fake_store_with_1042(&st);
	inc = fake_incident_find(&st, INCIDENT_1042);
	inc->is_open = false;
	(void)feed(&st, "customer-vacation-reply.eml", NULL,
	    "dana@customer.example.net", T0_MS + 18000, &res);
	CHECK_INT(res.class, CLASSIFY_AUTO_REPLY);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2001);
	fake_store_fini(&st);
}

static void
x_autorespond_auto_reply(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_automatic("vacation-x-autorespond.eml")) {
		skip_reason = SKIP_AUTOMATIC;
		return;
	}
	fake_store_init(&st);
	(void)feed(&st, "vacation-x-autorespond.eml", NULL,
	    "li.wei@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_AUTO_REPLY);
	CHECK_INT(res.incident_id, 0);
	CHECK_CONTAINS(res.reason, "X-Autoreply or X-Autorespond");
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
read_receipt_auto_reply(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_automatic("read-receipt.eml")) {
		skip_reason = SKIP_AUTOMATIC;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "read-receipt.eml", NULL,
	    "dana@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_AUTO_REPLY);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

static void
bounce_of_confirmation_bounce(void)
{
	struct fake_store	st;
	struct classify_result	res;

	if (!parse_fills_automatic("bounce-of-own-confirmation.eml")) {
		skip_reason = SKIP_AUTOMATIC;
		return;
	}
	fake_store_with_1042(&st);
	(void)feed(&st, "bounce-of-own-confirmation.eml", NULL, "",
	    T0_MS + 29000, &res);
	CHECK_INT(res.class, CLASSIFY_BOUNCE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_STR(res.bounce_recipient, "dana.reyes@customer.example.net");
	CHECK_STR(res.bounce_status, "5.1.1");
	classify_result_fini(&res);
	CHECK_INT(st.next_incident, 2001);
	fake_store_fini(&st);
}

static void
loop_header_loop(void)
{
	struct fake_store	st;
	struct classify_result	res;

	fake_store_with_1042(&st);
	(void)feed(&st, "loop-own-header.eml", NULL,
	    "relay@customer.example.net", T0_MS, &res);
	CHECK_INT(res.class, CLASSIFY_LOOP);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK_CONTAINS(res.reason, CLASSIFY_LOOP_HEADER);
	classify_result_fini(&res);
	fake_store_fini(&st);
}

/* ---- hand-built parse results ---- */

static void
pr_init(struct parse_result *pr, const char *from, const char *subject,
    const char *message_id, const char *body)
{
	memset(pr, 0, sizeof(*pr));
	pr->from_addr = g_strdup(from);
	pr->subject = g_strdup(subject);
	pr->message_id = g_strdup(message_id);
	pr->body_text = g_strdup(body);
	pr->references = g_ptr_array_new_with_free_func(g_free);
	pr->to_addrs = g_ptr_array_new_with_free_func(g_free);
	pr->cc_addrs = g_ptr_array_new_with_free_func(g_free);
	pr->fallbacks = g_ptr_array_new_with_free_func(g_free);
}

static void
classify_pr(struct fake_store *st, struct parse_result *pr,
    const char *mail_from, struct classify_result *res)
{
	struct classify_input	in = {
		.parsed = pr,
		.mail_from = mail_from,
		.rcpts = rcpt_critical,
		.n_rcpts = 1,
		.received_ms = T0_MS,
	};

	CHECK_INT(classify_message(&test_cfg, &settings, &in, &fake_lookup, st,
	    res), 0);
}

static void
automatic_headers_auto_reply(void)
{
	static const char *const names[] = {
		"auto-submitted", "precedence-junk", "precedence-list",
		"list-id", "x-autoreply", "null-path", "report",
	};
	struct fake_store	st;
	struct parse_result	pr;
	struct classify_result	res;
	size_t			i;

	fake_store_init(&st);
	for (i = 0; i < G_N_ELEMENTS(names); i++) {
		pr_init(&pr, "tool@customer.example.net", "Weekly digest",
		    NULL, "Hello");
		if (i == 0)
			pr.auto_submitted = g_strdup("auto-generated");
		else if (i == 1)
			pr.precedence = g_strdup("junk");
		else if (i == 2)
			pr.precedence = g_strdup("list");
		else if (i == 3)
			pr.list_id = g_strdup("<ops.customer.example.net>");
		else if (i == 4)
			pr.has_autoreply_header = true;
		else if (i == 6)
			pr.is_report = true;
		classify_pr(&st, &pr, i == 5 ? "" : "tool@customer.example.net",
		    &res);
		if (res.class != CLASSIFY_AUTO_REPLY) {
			printf("# %s: %s\n", names[i],
			    classify_class_name(res.class));
			tap_case_failed = true;
		}
		classify_result_fini(&res);
		parse_result_fini(&pr);
	}
	fake_store_fini(&st);
}

static void
auto_submitted_no_new_incident(void)
{
	struct fake_store	st;
	struct parse_result	pr;
	struct classify_result	res;

	fake_store_init(&st);
	pr_init(&pr, "li.wei@customer.example.net", "Logins fail", "x1@c.net",
	    "Help");
	pr.auto_submitted = g_strdup("no");
	pr.precedence = g_strdup("first-class");
	pr.auto_response_suppress = g_strdup("All");
	classify_pr(&st, &pr, "li.wei@customer.example.net", &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	classify_result_fini(&res);
	parse_result_fini(&pr);
	fake_store_fini(&st);
}

static void
own_from_address_loop(void)
{
	struct fake_store	st;
	struct parse_result	pr;
	struct classify_result	res;

	fake_store_with_1042(&st);
	pr_init(&pr, "critical@support.example.com",
	    "[#1042] Checkout down for all EU customers", "x2@relay.example.org",
	    "CRITICAL incident #1042");
	classify_pr(&st, &pr, "critical@support.example.com", &res);
	CHECK_INT(res.class, CLASSIFY_LOOP);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	classify_result_fini(&res);
	parse_result_fini(&pr);
	fake_store_fini(&st);
}

static void
own_message_id_loop(void)
{
	struct fake_store	 st;
	struct parse_result	 pr;
	struct classify_result	 res;
	char			*token, *id;

	fake_store_with_1042(&st);
	token = page_token("joerg.mueller");
	id = g_strconcat(token, "@gw.support.example.com", NULL);
	pr_init(&pr, "relay@customer.example.net", "Checkout down", id,
	    "ACK");
	classify_pr(&st, &pr, "relay@customer.example.net", &res);
	CHECK_INT(res.class, CLASSIFY_LOOP);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	classify_result_fini(&res);
	parse_result_fini(&pr);
	g_free(id);
	g_free(token);
	fake_store_fini(&st);
}

static void
member_note_without_ack_word_update(void)
{
	struct fake_store	 st;
	struct parse_result	 pr;
	struct classify_result	 res;
	char			*token;

	fake_store_with_1042(&st);
	token = page_token("joerg.mueller");
	pr_init(&pr, "joerg.mueller@example.com", "Re: Checkout down",
	    "j1@example.com", "Cannot take it, I am driving.\n> ACK\n");
	pr.in_reply_to = g_strconcat(token, "@gw.support.example.com", NULL);
	classify_pr(&st, &pr, "joerg.mueller@example.com", &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	CHECK(res.ack_member == NULL);
	CHECK_CONTAINS(res.reason, "note from member joerg.mueller");
	classify_result_fini(&res);
	parse_result_fini(&pr);
	g_free(token);
	fake_store_fini(&st);
}

static void
older_reference_ancestor_threads(void)
{
	struct fake_store	st;
	struct parse_result	pr;
	struct classify_result	res;

	fake_store_with_1042(&st);
	pr_init(&pr, "someone@customer.example.net", "Re: Re: checkout",
	    "s1@customer.example.net", "Still failing.");
	pr.in_reply_to = g_strdup("unknown-parent@customer.example.net");
	g_ptr_array_add(pr.references,
	    g_strdup("20250603081358.A1@customer.example.net"));
	g_ptr_array_add(pr.references,
	    g_strdup("unknown-parent@customer.example.net"));
	classify_pr(&st, &pr, "someone@customer.example.net", &res);
	CHECK_INT(res.class, CLASSIFY_UPDATE);
	CHECK_INT(res.incident_id, INCIDENT_1042);
	classify_result_fini(&res);
	parse_result_fini(&pr);
	fake_store_fini(&st);
}

static void
token_for_unknown_incident_ignored(void)
{
	struct fake_store	 st;
	struct parse_result	 pr;
	struct classify_result	 res;
	struct classify_token	 tok = { CLASSIFY_TOKEN_PAGE, 555,
	    (char *)"alice.ops", 0, 1 };
	char			*token;

	fake_store_with_1042(&st);
	token = classify_token_make(&settings, &tok);
	pr_init(&pr, "alice.ops@example.com", "Re: something else",
	    "a9@example.com", "ACK");
	pr.in_reply_to = g_strconcat(token, "@gw.support.example.com", NULL);
	classify_pr(&st, &pr, "alice.ops@example.com", &res);
	CHECK_INT(res.class, CLASSIFY_NEW_INCIDENT);
	CHECK(res.ack_member == NULL);
	classify_result_fini(&res);
	parse_result_fini(&pr);
	g_free(token);
	fake_store_fini(&st);
}

static void
missing_lookup_rejected(void)
{
	struct classify_lookup	partial = fake_lookup;
	struct parse_result	pr;
	struct classify_result	res;
	struct classify_input	in = { .parsed = &pr, .rcpts = rcpt_critical,
	    .n_rcpts = 1 };

	pr_init(&pr, "a@b.example", "x", NULL, "");
	partial.incident_by_sender = NULL;
	CHECK_INT(classify_message(&test_cfg, &settings, &in, &partial, NULL,
	    &res), -1);
	CHECK_INT(res.class, CLASSIFY_REJECTED);
	classify_result_fini(&res);
	in.parsed = NULL;
	CHECK_INT(classify_message(&test_cfg, &settings, &in, &fake_lookup,
	    NULL, &res), -1);
	classify_result_fini(&res);
	parse_result_fini(&pr);
}

/* ---- later work ---- */

static void
confirmation_sent_once_per_message(void)
{
	skip_reason = "outbound confirmation mail is not sent yet";
}

static void
email_ack_stops_paging(void)
{
	skip_reason = "email ack acceptance (sender authentication, "
	    "recording, stopping the pages) is not implemented yet";
}

static void
outbound_mail_carries_loop_header(void)
{
	skip_reason = "outbound mail is not written yet, so nothing adds "
	    CLASSIFY_LOOP_HEADER " or Auto-Submitted: auto-replied";
}

int
main(void)
{
	parse_init();
	RUN(token_page_round_trip_verifies);
	RUN(token_reporter_round_trip_verifies);
	RUN(token_uppercased_still_verifies);
	RUN(token_any_changed_character_rejected);
	RUN(token_wrong_key_rejected);
	RUN(token_truncated_rejected);
	RUN(token_extended_rejected);
	RUN(token_short_key_not_made);
	RUN(token_bad_fields_not_made);
	RUN(token_message_id_domain_checked);
	RUN(subject_normalise_table_stripped);
	RUN(subject_tag_found_anywhere);
	RUN(subject_key_values_replaced);
	RUN(fingerprint_varying_values_stable);
	RUN(ack_words_table_matched);
	RUN(ack_words_configured_replace_table);
	RUN(ack_words_questions_acknowledge_nothing);
	RUN(class_names_all_named);
	RUN(baseline_new_incident_critical);
	RUN(folded_message_id_second_copy_duplicate);
	RUN(no_message_id_refetched_duplicate);
	RUN(no_message_id_different_body_not_duplicate);
	RUN(two_routes_one_delivery_critical);
	RUN(two_routes_two_deliveries_one_incident);
	RUN(monitor_flood_joins_as_repeat);
	RUN(disk_alert_other_values_repeat);
	RUN(repeat_outside_window_new_incident);
	RUN(outage_other_customers_join);
	RUN(headerless_mail_from_others_not_duplicates);
	RUN(tag_of_closed_incident_from_stranger_opens_new);
	RUN(outage_other_numbers_new_incident);
	RUN(outage_generic_subject_new_incident);
	RUN(storm_joins_unacknowledged_incident);
	RUN(customer_writes_again_updates);
	RUN(reply_all_with_ack_word_update);
	RUN(envelope_bcc_routes_critical);
	RUN(auto_response_suppress_alone_new_incident);
	RUN(unrouted_recipient_rejected);
	RUN(odd_encodings_new_incident);
	RUN(bare_in_reply_to_ack_from_bob);
	RUN(folded_in_reply_to_ack_from_alice);
	RUN(outlook_ack_and_second_copy);
	RUN(ack_word_to_other_members_page_update);
	RUN(ack_with_changed_token_not_ack);
	RUN(prefix_chain_tag_update);
	RUN(french_prefix_behind_ticket_tag_update);
	RUN(forwarded_page_update_not_loop);
	RUN(customer_ack_to_confirmation_update);
	RUN(stray_header_line_reply_update);
	RUN(member_out_of_office_auto_reply);
	RUN(customer_vacation_auto_reply);
	RUN(x_autorespond_auto_reply);
	RUN(read_receipt_auto_reply);
	RUN(bounce_of_confirmation_bounce);
	RUN(loop_header_loop);
	RUN(automatic_headers_auto_reply);
	RUN(auto_submitted_no_new_incident);
	RUN(own_from_address_loop);
	RUN(own_message_id_loop);
	RUN(member_note_without_ack_word_update);
	RUN(older_reference_ancestor_threads);
	RUN(token_for_unknown_incident_ignored);
	RUN(missing_lookup_rejected);
	RUN(confirmation_sent_once_per_message);
	RUN(email_ack_stops_paging);
	RUN(outbound_mail_carries_loop_header);
	return tap_done();
}
