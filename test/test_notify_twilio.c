/* SPDX-License-Identifier: ISC */
/*
 * Tests of the Twilio notifier: the SMS and call requests (URL and form
 * fields), the SMS text fitted to one segment, the call's TwiML, and the
 * sorting of Twilio's responses, some read from recorded HTTP responses in
 * data/notify/.
 */
#include <string.h>

#include <glib.h>

#include "notify.h"
#include "tap.h"

#define ACCOUNT_SID	"AC0123456789abcdef0123456789abcdef"

/* 2026-01-15T10:00:01Z, 6 s before the date in 429-retry-after-date.http */
#define NOW_MS		INT64_C(1768471201000)

static char	 api_base[] = "http://127.0.0.1:8080";
static char	 account_sid[] = ACCOUNT_SID;
static char	 from_number[] = "+15005550006";
static char	 public_url[] = "https://pager.example.net";

static void
test_cfg_init(struct cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->public_url = public_url;
	cfg->twilio.api_base = api_base;
	cfg->twilio.account_sid = account_sid;
	cfg->twilio.from = from_number;
	cfg->twilio.timeout_ms = 10000;
}

static void
test_page_init(struct notify_page *page, const char *subject)
{
	memset(page, 0, sizeof(*page));
	page->incident_id = 1042;
	page->page_id = 7;
	page->round = 1;
	page->severity = CFG_SEVERITY_CRITICAL;
	page->subject = subject;
	page->to = "+15550100011";
}

/* Decodes a form body into a list of name, value, name, value, ... */
static GPtrArray *
form_decode(const char *body)
{
	GPtrArray	 *fields;
	char		**pairs, *eq, *plus;
	size_t		  i;

	fields = g_ptr_array_new_with_free_func(g_free);
	pairs = g_strsplit(body, "&", -1);
	for (i = 0; pairs[i] != NULL; i++) {
		while ((plus = strchr(pairs[i], '+')) != NULL)
			*plus = ' ';
		eq = strchr(pairs[i], '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		g_ptr_array_add(fields, g_uri_unescape_string(pairs[i], NULL));
		g_ptr_array_add(fields, g_uri_unescape_string(eq + 1, NULL));
	}
	g_strfreev(pairs);
	return fields;
}

/* Returns the nth value of the field name, or NULL. */
static const char *
form_get(GPtrArray *fields, const char *name, int nth)
{
	guint	 i;

	for (i = 0; i + 1 < fields->len; i += 2) {
		if (g_strcmp0(g_ptr_array_index(fields, i), name) == 0 &&
		    nth-- == 0)
			return g_ptr_array_index(fields, i + 1);
	}
	return NULL;
}

/* Returns the UTF-16 units of s, as a UCS-2 SMS counts them. */
static long
utf16_units(const char *s)
{
	long	 units = 0;

	for (; *s != '\0'; s = g_utf8_next_char(s))
		units += g_utf8_get_char(s) > 0xffff ? 2 : 1;
	return units;
}

/* Returns the septets of s, counting GSM-7 extension characters twice. */
static long
gsm7_septets(const char *s)
{
	long	 septets = 0;

	for (; *s != '\0'; s = g_utf8_next_char(s)) {
		septets++;
		if (strchr("^{}\\[~]|", *s) != NULL ||
		    g_utf8_get_char(s) == 0x20ac)
			septets++;
	}
	return septets;
}

static char *
data_read(const char *name)
{
	char	*path, *text = NULL;

	path = g_build_filename("data", "notify", name, NULL);
	if (!g_file_get_contents(path, &text, NULL, NULL)) {
		printf("# cannot read %s\n", path);
		tap_case_failed = true;
		text = g_strdup("");
	}
	g_free(path);
	return text;
}

/* Classifies a recorded HTTP/1.1 response from data/notify/. */
static void
http_file_classify(const char *name, struct notify_response *out)
{
	char	*raw, *body, *header, *retry_after = NULL;
	long	 status = 0;

	raw = data_read(name);
	body = strstr(raw, "\r\n\r\n");
	if (body != NULL) {
		*body = '\0';
		body += 4;
	} else {
		body = raw + strlen(raw);
	}
	if (strncmp(raw, "HTTP/1.1 ", 9) == 0)
		status = strtol(raw + 9, NULL, 10);
	header = strstr(raw, "\r\nRetry-After:");
	if (header != NULL)
		retry_after = g_strndup(header + 14, strcspn(header + 14,
		    "\r\n"));
	notify_twilio_classify(status, body, strlen(body), retry_after, NOW_MS,
	    out);
	g_free(retry_after);
	g_free(raw);
}

static void
sms_request_fields_encoded(void)
{
	struct cfg		 cfg;
	struct notify_page	 page;
	struct notify_request	 req;
	GPtrArray		*fields;
	char			*text;

	test_cfg_init(&cfg);
	test_page_init(&page, "Checkout down for all EU customers");
	notify_twilio_sms_request(&cfg, &page, &req);
	CHECK_STR(req.url, "http://127.0.0.1:8080/2010-04-01/Accounts/"
	    ACCOUNT_SID "/Messages.json");
	CHECK_CONTAINS(req.body, "To=%2B15550100011");
	CHECK_CONTAINS(req.body, "From=%2B15005550006");
	CHECK(strchr(req.body, '+') == NULL);
	CHECK(strchr(req.body, ' ') == NULL);
	fields = form_decode(req.body);
	text = notify_twilio_sms_text(&page);
	CHECK_STR(form_get(fields, "To", 0), "+15550100011");
	CHECK_STR(form_get(fields, "From", 0), "+15005550006");
	CHECK_STR(form_get(fields, "Body", 0), text);
	CHECK_STR(form_get(fields, "StatusCallback", 0),
	    "https://pager.example.net/hooks/twilio/sms/status?pages=7");
	CHECK_STR(form_get(fields, "ValidityPeriod", 0), "300");
	g_free(text);
	g_ptr_array_unref(fields);
	notify_request_fini(&req);
	CHECK(req.url == NULL);
	CHECK(req.body == NULL);
}

static void
call_request_fields_encoded(void)
{
	struct cfg		 cfg;
	struct notify_page	 page;
	struct notify_request	 req;
	GPtrArray		*fields;
	char			*twiml;

	test_cfg_init(&cfg);
	test_page_init(&page, "Disk <full> & slow");
	notify_twilio_call_request(&cfg, &page, &req);
	CHECK_STR(req.url, "http://127.0.0.1:8080/2010-04-01/Accounts/"
	    ACCOUNT_SID "/Calls.json");
	CHECK(strchr(req.body, '+') == NULL);
	CHECK(strchr(req.body, '<') == NULL);
	fields = form_decode(req.body);
	twiml = notify_twilio_twiml(&page, "https://pager.example.net/hooks/"
	    "twilio/voice/gather?page=1042&pages=7");
	CHECK_STR(form_get(fields, "To", 0), "+15550100011");
	CHECK_STR(form_get(fields, "From", 0), "+15005550006");
	CHECK_STR(form_get(fields, "Twiml", 0), twiml);
	CHECK_STR(form_get(fields, "StatusCallback", 0),
	    "https://pager.example.net/hooks/twilio/voice/status?pages=7");
	CHECK_STR(form_get(fields, "StatusCallbackEvent", 0), "initiated");
	CHECK_STR(form_get(fields, "StatusCallbackEvent", 1), "ringing");
	CHECK_STR(form_get(fields, "StatusCallbackEvent", 2), "answered");
	CHECK_STR(form_get(fields, "StatusCallbackEvent", 3), "completed");
	CHECK_STR(form_get(fields, "StatusCallbackEvent", 4), NULL);
	CHECK_STR(form_get(fields, "Timeout", 0), "25");
	CHECK_STR(form_get(fields, "TimeLimit", 0), "120");
	g_free(twiml);
	g_ptr_array_unref(fields);
	notify_request_fini(&req);
}

static void
twiml_plain_subject_exact(void)
{
	struct notify_page	 page;
	char			*twiml;

	test_page_init(&page, "Checkout down");
	twiml = notify_twilio_twiml(&page, "https://pager.example.net/g?p=1");
	CHECK_STR(twiml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"8\" "
	    "method=\"POST\" action=\"https://pager.example.net/g?p=1\">"
	    "<Say loop=\"2\">Critical incident 1042. Checkout down. Press 1 "
	    "to acknowledge.</Say></Gather><Say>No input received. Goodbye."
	    "</Say><Hangup/></Response>");
	g_free(twiml);
	page.severity = CFG_SEVERITY_HIGH;
	twiml = notify_twilio_twiml(&page, "https://pager.example.net/g?p=1");
	CHECK_CONTAINS(twiml, ">High priority incident 1042. Checkout down.");
	g_free(twiml);
}

struct markup_seen {
	GString	*say;		/* text of the first <Say> */
	char	*action;
	int	 n_elements;
	bool	 is_in_say;
};

static void
markup_start(GMarkupParseContext *ctx, const char *name, const char **names,
    const char **values, gpointer data, GError **error)
{
	struct markup_seen	*seen = data;
	int			 i;

	(void)ctx;
	(void)error;
	seen->n_elements++;
	seen->is_in_say = strcmp(name, "Say") == 0 && seen->say->len == 0;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(name, "Gather") == 0 &&
		    strcmp(names[i], "action") == 0)
			seen->action = g_strdup(values[i]);
	}
}

static void
markup_text(GMarkupParseContext *ctx, const char *text, gsize len,
    gpointer data, GError **error)
{
	struct markup_seen	*seen = data;

	(void)ctx;
	(void)error;
	if (seen->is_in_say)
		g_string_append_len(seen->say, text, (gssize)len);
}

static void
markup_end(GMarkupParseContext *ctx, const char *name, gpointer data,
    GError **error)
{
	struct markup_seen	*seen = data;

	(void)ctx;
	(void)name;
	(void)error;
	seen->is_in_say = false;
}

/* Parses twiml with GMarkup; returns false if it is not well-formed. */
static bool
twiml_parse(const char *twiml, struct markup_seen *seen)
{
	static const GMarkupParser parser = { markup_start, markup_end,
	    markup_text, NULL, NULL };
	GMarkupParseContext	*ctx;
	GError			*error = NULL;
	bool			 is_ok;

	memset(seen, 0, sizeof(*seen));
	seen->say = g_string_new(NULL);
	ctx = g_markup_parse_context_new(&parser, 0, seen, NULL);
	is_ok = g_markup_parse_context_parse(ctx, twiml, -1, &error) &&
	    g_markup_parse_context_end_parse(ctx, &error);
	if (!is_ok)
		printf("# TwiML not well-formed: %s\n", error->message);
	g_clear_error(&error);
	g_markup_parse_context_free(ctx);
	return is_ok;
}

static void
markup_seen_fini(struct markup_seen *seen)
{
	g_string_free(seen->say, TRUE);
	g_free(seen->action);
}

static void
twiml_special_chars_escaped(void)
{
	struct notify_page	 page;
	struct markup_seen	 seen;
	char			*twiml;

	test_page_init(&page, "DB <primary> & \"replica\" 'down'");
	twiml = notify_twilio_twiml(&page, "https://pager.example.net/g?"
	    "page=1042&x=<y>");
	CHECK_CONTAINS(twiml, "DB &lt;primary&gt; &amp; &quot;replica&quot; ");
	CHECK(strstr(twiml, "'down'") == NULL);
	CHECK_CONTAINS(twiml, "action=\"https://pager.example.net/g?"
	    "page=1042&amp;x=&lt;y&gt;\"");
	CHECK(twiml_parse(twiml, &seen));
	CHECK_STR(seen.say->str, "Critical incident 1042. DB <primary> & "
	    "\"replica\" 'down'. Press 1 to acknowledge.");
	CHECK_STR(seen.action, "https://pager.example.net/g?page=1042&x=<y>");
	CHECK_INT(seen.n_elements, 5);
	markup_seen_fini(&seen);
	g_free(twiml);
}

static void
twiml_long_subject_bounded(void)
{
	struct notify_page	 page;
	struct markup_seen	 seen;
	GString			*subject;
	char			*twiml;

	subject = g_string_new(NULL);
	while (subject->len < 8000)
		g_string_append(subject, "&<>\"' \xf0\x9f\x94\xa5 \x01");
	test_page_init(&page, subject->str);
	twiml = notify_twilio_twiml(&page, "https://pager.example.net/g?p=1");
	CHECK(g_utf8_strlen(twiml, -1) < 4000);
	CHECK(g_utf8_validate(twiml, -1, NULL));
	CHECK(strchr(twiml, '\x01') == NULL);
	CHECK(twiml_parse(twiml, &seen));
	CHECK_CONTAINS(seen.say->str, "Press 1 to acknowledge.");
	CHECK(g_utf8_strlen(seen.say->str, -1) <= 200 + 60);
	markup_seen_fini(&seen);
	g_free(twiml);
	g_string_free(subject, TRUE);
}

static void
sms_text_plain_subject_whole(void)
{
	struct notify_page	 page;
	char			*text;

	test_page_init(&page, "Checkout down for all EU customers");
	text = notify_twilio_sms_text(&page);
	CHECK_STR(text, "CRITICAL #1042: Checkout down for all EU customers "
	    "Reply ACK 1042 to acknowledge.");
	g_free(text);
	page.severity = CFG_SEVERITY_HIGH;
	page.incident_id = 7;
	text = notify_twilio_sms_text(&page);
	CHECK_STR(text, "HIGH #7: Checkout down for all EU customers "
	    "Reply ACK 7 to acknowledge.");
	g_free(text);
}

static void
sms_text_long_ascii_truncated(void)
{
	struct notify_page	 page;
	GString			*subject;
	char			*text;

	subject = g_string_new(NULL);
	while (subject->len < 400)
		g_string_append(subject, "database replica lag ");
	test_page_init(&page, subject->str);
	text = notify_twilio_sms_text(&page);
	CHECK(g_str_has_prefix(text, "CRITICAL #1042: database"));
	CHECK(g_str_has_suffix(text, "... Reply ACK 1042 to acknowledge."));
	CHECK(strlen(text) <= 160);
	CHECK(strlen(text) >= 150);
	g_free(text);
	g_string_free(subject, TRUE);
}

static void
sms_text_emoji_fits_ucs2(void)
{
	struct notify_page	 page;
	const char		*p;
	char			*subject, *text;
	gunichar		 before_dots;

	subject = data_read("sms-subject-emoji-ucs2.txt");
	test_page_init(&page, subject);
	text = notify_twilio_sms_text(&page);
	CHECK(g_utf8_validate(text, -1, NULL));
	CHECK(strstr(text, "\xef\xbf\xbd") == NULL);
	CHECK(utf16_units(text) <= 70);
	CHECK(g_str_has_prefix(text, "CRITICAL #1042: Zahlungen"));
	CHECK(g_str_has_suffix(text, "... Reply ACK 1042 to acknowledge."));

	/* The cut leaves no ZWJ and no half of a flag behind. */
	p = strstr(text, "... Reply");
	before_dots = p != NULL ? g_utf8_get_char(g_utf8_prev_char(p)) : 0;
	CHECK(before_dots != 0x200d);
	CHECK(before_dots < 0x1f1e6 || before_dots > 0x1f1ff);
	g_free(text);
	g_free(subject);
}

static void
sms_text_cut_keeps_graphemes_whole(void)
{
	struct notify_page	 page;
	char			*text;

	/* The unit budget ends inside the fifth flag. */
	test_page_init(&page, "xx\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa"
	    "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa\xf0\x9f\x87\xa9"
	    "\xf0\x9f\x87\xaa\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa"
	    "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa\xf0\x9f\x87\xa9"
	    "\xf0\x9f\x87\xaa");
	text = notify_twilio_sms_text(&page);
	CHECK_STR(text, "CRITICAL #1042: xx\xf0\x9f\x87\xa9\xf0\x9f\x87"
	    "\xaa\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa\xf0\x9f\x87\xa9"
	    "\xf0\x9f\x87\xaa\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa... "
	    "Reply ACK 1042 to acknowledge.");
	g_free(text);

	/* The unit budget ends just after the ZWJ of the fourth sequence. */
	test_page_init(&page, "xx\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f"
	    "\x92\xbb\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb"
	    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb\xf0\x9f"
	    "\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb\xf0\x9f\x91\xa9"
	    "\xe2\x80\x8d\xf0\x9f\x92\xbb");
	text = notify_twilio_sms_text(&page);
	CHECK_STR(text, "CRITICAL #1042: xx\xf0\x9f\x91\xa9\xe2\x80\x8d"
	    "\xf0\x9f\x92\xbb\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f"
	    "\x92\xbb\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb"
	    "... Reply ACK 1042 to acknowledge.");
	g_free(text);
}

static void
sms_text_gsm7_extension_counted_twice(void)
{
	struct notify_page	 page;
	char			*subject, *text;

	subject = data_read("sms-subject-gsm7-extension.txt");
	test_page_init(&page, subject);
	text = notify_twilio_sms_text(&page);
	CHECK(gsm7_septets(text) <= 160);
	CHECK(gsm7_septets(text) >= 155);
	CHECK(g_utf8_strlen(text, -1) < 150);
	CHECK(g_str_has_prefix(text, "CRITICAL #1042: Price feed {EUR}"));
	CHECK(g_str_has_suffix(text, "... Reply ACK 1042 to acknowledge."));
	g_free(text);
	g_free(subject);
}

static void
sms_text_curly_apostrophe_made_gsm7(void)
{
	struct notify_page	 page;
	char			*subject, *text;

	subject = data_read("sms-subject-curly-apostrophe.txt");
	test_page_init(&page, subject);
	text = notify_twilio_sms_text(&page);
	CHECK_CONTAINS(text, "SSO can't reach");
	CHECK(strstr(text, "\xe2\x80\x99") == NULL);
	CHECK(gsm7_septets(text) <= 160);
	CHECK(g_utf8_strlen(text, -1) > 70);
	CHECK(g_str_has_suffix(text, " Reply ACK 1042 to acknowledge."));
	g_free(text);
	g_free(subject);
}

static void
sms_text_controls_stripped(void)
{
	struct notify_page	 page;
	char			*text;

	test_page_init(&page, "  a\tb\r\n c\x01" "d\x7f  ");
	text = notify_twilio_sms_text(&page);
	CHECK_STR(text, "CRITICAL #1042: a b cd Reply ACK 1042 to "
	    "acknowledge.");
	g_free(text);
	test_page_init(&page, NULL);
	text = notify_twilio_sms_text(&page);
	CHECK_STR(text, "CRITICAL #1042: Reply ACK 1042 to acknowledge.");
	g_free(text);
}

static void
classify_created_json_ok(void)
{
	struct notify_response	 resp;
	const char		*body;

	body = "{\"sid\": \"SM0123456789abcdef0123456789abcdef\", "
	    "\"status\": \"queued\", \"error_code\": null}";

	notify_twilio_classify(201, body, strlen(body), NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK_INT(resp.http_status, 201);
	CHECK_STR(resp.sid, "SM0123456789abcdef0123456789abcdef");
	CHECK_INT(resp.error_code, 0);
	CHECK_STR(resp.error_message, NULL);
	CHECK_INT(resp.retry_after_ms, -1);
	notify_response_fini(&resp);
	CHECK(resp.sid == NULL);
}

static void
classify_created_garbage_ok_without_sid(void)
{
	struct notify_response	 resp;
	const char		*bodies[] = { "<html>ok</html>", "{\"sid\":",
	    "[\"sid\"]", "{\"sid\": 42}", "{\"sid\": \"SM\\n; rm\"}", "" };
	size_t			 i;

	for (i = 0; i < G_N_ELEMENTS(bodies); i++) {
		notify_twilio_classify(201, bodies[i], strlen(bodies[i]), NULL,
		    NOW_MS, &resp);
		CHECK_INT(resp.result, NOTIFY_OK);
		CHECK_STR(resp.sid, NULL);
		notify_response_fini(&resp);
	}
	notify_twilio_classify(200, NULL, 0, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK_STR(resp.sid, NULL);
	notify_response_fini(&resp);
}

static void
classify_server_error_retry(void)
{
	struct notify_response	 resp;
	const char		*html = "<html><body>503 Service Unavailable"
	    "</body></html>";

	notify_twilio_classify(500, "", 0, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.error_code, 0);
	notify_response_fini(&resp);
	notify_twilio_classify(503, html, strlen(html), NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.http_status, 503);
	CHECK_STR(resp.error_message, NULL);
	notify_response_fini(&resp);
}

static void
classify_429_delta_seconds(void)
{
	struct notify_response	 resp;

	http_file_classify("429-retry-after-seconds.http", &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.http_status, 429);
	CHECK_INT(resp.retry_after_ms, 2000);
	CHECK_INT(resp.error_code, 20429);
	CHECK_STR(resp.error_message, "Too Many Requests");
	notify_response_fini(&resp);
}

static void
classify_429_http_date(void)
{
	struct notify_response	 resp;

	http_file_classify("429-retry-after-date.http", &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.retry_after_ms, 6000);
	notify_response_fini(&resp);

	/* A date already past means no wait. */
	notify_twilio_classify(429, NULL, 0, "Thu, 15 Jan 2026 09:00:00 GMT",
	    NOW_MS, &resp);
	CHECK_INT(resp.retry_after_ms, 0);
	notify_response_fini(&resp);
}

static void
classify_429_without_header(void)
{
	struct notify_response	 resp;

	http_file_classify("429-no-retry-after.http", &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.retry_after_ms, -1);
	CHECK_INT(resp.error_code, 20429);
	notify_response_fini(&resp);
	notify_twilio_classify(429, NULL, 0, "soon", NOW_MS, &resp);
	CHECK_INT(resp.retry_after_ms, -1);
	notify_response_fini(&resp);
	notify_twilio_classify(429, NULL, 0, "-5", NOW_MS, &resp);
	CHECK_INT(resp.retry_after_ms, -1);
	notify_response_fini(&resp);
}

static void
classify_invalid_to_failed(void)
{
	struct notify_response	 resp;

	http_file_classify("400-21211-invalid-to.http", &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.http_status, 400);
	CHECK_INT(resp.error_code, 21211);
	CHECK_STR(resp.error_message,
	    "The 'To' number +15550100012 is not a valid phone number.");
	CHECK_INT(resp.retry_after_ms, -1);
	notify_response_fini(&resp);
	http_file_classify("400-21614-landline.http", &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.error_code, 21614);
	notify_response_fini(&resp);
}

static void
classify_unknown_4xx_failed(void)
{
	struct notify_response	 resp;

	http_file_classify("400-unknown-code.http", &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.error_code, 21999);
	notify_response_fini(&resp);
	notify_twilio_classify(404, "not json", 8, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.error_code, 0);
	notify_response_fini(&resp);
}

static void
classify_bad_credentials_failed(void)
{
	struct notify_response	 resp;
	const char		*body = "{\"code\": 20003, \"detail\": \"Your "
	    "AccountSid or AuthToken was incorrect.\", \"message\": "
	    "\"Authenticate\", \"more_info\": \"https://www.twilio.com/docs/"
	    "errors/20003\", \"status\": 401}";

	notify_twilio_classify(401, body, strlen(body), NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.error_code, 20003);
	CHECK_STR(resp.error_message, "Authenticate");
	CHECK_STR(resp.sid, NULL);
	notify_response_fini(&resp);
}

static void
classify_transport_failure_retry(void)
{
	struct notify_response	 resp;

	notify_twilio_classify(0, NULL, 0, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.http_status, 0);
	CHECK_STR(resp.sid, NULL);
	CHECK_INT(resp.retry_after_ms, -1);
	notify_response_fini(&resp);
}

static void
channel_names_listed(void)
{
	CHECK_STR(notify_channel_name(NOTIFY_CHANNEL_VOICE), "voice");
	CHECK_STR(notify_channel_name(NOTIFY_CHANNEL_SMS), "sms");
}

/* Fills pages with n incidents from 1042 on, subjects given. */
static void
bundle_init(struct notify_page *pages, size_t n, const char *const *subjects)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		test_page_init(&pages[i], subjects[i]);
		pages[i].incident_id = 1042 + (int64_t)i;
		pages[i].page_id = 7 + (int64_t)i;
	}
	pages[1].severity = CFG_SEVERITY_HIGH;
}

static void
bundle_sms_short_subjects_exact(void)
{
	static const char *const subjects[] = { "Checkout down",
		"Search slow", "Login errors" };
	struct notify_page	 pages[3];
	char			*text;

	bundle_init(pages, 3, subjects);
	text = notify_twilio_bundle_sms_text(pages, 3);
	CHECK_STR(text, "3 open incidents: #1042 critical Checkout down; "
	    "#1043 high Search slow; #1044 critical Login errors; reply ACK "
	    "<number>");
	g_free(text);
}

static void
bundle_sms_subjects_share_room(void)
{
	static const char *const subjects[] = { "Checkout down",
		"Search slow for every customer in every region of the world "
		"since the deploy at noon today",
		"Login errors" };
	struct notify_page	 pages[3];
	char			*text;

	bundle_init(pages, 3, subjects);
	text = notify_twilio_bundle_sms_text(pages, 3);
	printf("# %s\n", text);
	CHECK_INT(gsm7_septets(text), 160);
	CHECK_CONTAINS(text, "#1042 critical Checkout down; #1043 high Search "
	    "slow for every");
	CHECK_CONTAINS(text, "...; #1044 critical Login errors; reply ACK");
	g_free(text);
}

static void
bundle_sms_long_subjects_cut_numbers_kept(void)
{
	static const char *const subjects[] = {
		"Service 1 down in region 1 for every customer since noon",
		"Service 2 down in region 2 for every customer since noon",
		"Service 3 down in region 3 for every customer since noon",
		"Service 4 down in region 4 for every customer since noon",
		"Service 5 down in region 5 for every customer since noon",
		"Service 6 down in region 6 for every customer since noon" };
	struct notify_page	 pages[6];
	char			*text, *want;
	size_t			 i;

	bundle_init(pages, 6, subjects);
	text = notify_twilio_bundle_sms_text(pages, 6);
	printf("# %s\n", text);
	CHECK(gsm7_septets(text) <= 160);
	CHECK(g_str_has_prefix(text, "6 open incidents: #1042 critical; "));
	CHECK(g_str_has_suffix(text, "; reply ACK <number>"));
	for (i = 0; i < 6; i++) {
		want = g_strdup_printf("#%zu ", 1042 + i);
		CHECK_CONTAINS(text, want);
		g_free(want);
	}
	CHECK_CONTAINS(text, "#1042 critical; #1043 high;");
	g_free(text);
	for (i = 0; i < 6; i++)
		pages[i].subject = "Down";
	text = notify_twilio_bundle_sms_text(pages, 6);
	CHECK_CONTAINS(text, "#1043 high Down; #1044 critical Down;");
	g_free(text);
}

/* The largest bundle, with incident numbers of ten digits, stays within
 * what Twilio accepts in one SMS, and names every incident. */
static void
bundle_sms_largest_within_limit(void)
{
	const char		*subjects[NOTIFY_BUNDLE_MAX];
	struct notify_page	 pages[NOTIFY_BUNDLE_MAX];
	char			*text, *want;
	size_t			 i;

	for (i = 0; i < NOTIFY_BUNDLE_MAX; i++)
		subjects[i] = "Checkout down for every customer in the region";
	bundle_init(pages, NOTIFY_BUNDLE_MAX, subjects);
	for (i = 0; i < NOTIFY_BUNDLE_MAX; i++)
		pages[i].incident_id = 9000000000 + (int64_t)i;
	text = notify_twilio_bundle_sms_text(pages, NOTIFY_BUNDLE_MAX);
	CHECK(g_utf8_strlen(text, -1) <= NOTIFY_SMS_TEXT_MAX);
	for (i = 0; i < NOTIFY_BUNDLE_MAX; i++) {
		want = g_strdup_printf("#%" PRId64 " ", pages[i].incident_id);
		CHECK_CONTAINS(text, want);
		g_free(want);
	}
	g_free(text);
}

static void
bundle_sms_emoji_fits_ucs2(void)
{
	static const char *const subjects[] = {
		"Checkout \xf0\x9f\x94\xa5 down everywhere",
		"Search slow for all", "Login errors on mobile" };
	struct notify_page	 pages[3];
	char			*text;

	bundle_init(pages, 3, subjects);
	text = notify_twilio_bundle_sms_text(pages, 3);
	printf("# %s\n", text);
	/* The subject that would make it UCS-2 is dropped, the others kept
	 * in one GSM-7 segment. */
	CHECK(strstr(text, "\xf0\x9f\x94\xa5") == NULL);
	CHECK(gsm7_septets(text) <= 160);
	CHECK_CONTAINS(text, "#1043 high Search slow for all;");
	CHECK_CONTAINS(text, "#1042");
	CHECK_CONTAINS(text, "#1043");
	CHECK_CONTAINS(text, "#1044");
	g_free(text);
}

static void
bundle_twiml_names_every_incident_exact(void)
{
	static const char *const subjects[] = { "Checkout down",
		"Search slow", "Login <errors>" };
	struct notify_page	 pages[3];
	char			*twiml;

	bundle_init(pages, 3, subjects);
	twiml = notify_twilio_bundle_twiml(pages, 3,
	    "https://pager.example.net/g?p=1&x=2");
	CHECK_STR(twiml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"8\" "
	    "method=\"POST\" action=\"https://pager.example.net/g?p=1&amp;"
	    "x=2\"><Say loop=\"2\">3 open incidents: critical incident 1042, "
	    "high priority incident 1043, and critical incident 1044. Press "
	    "1 to acknowledge all of them.</Say></Gather><Say>No input "
	    "received. Goodbye.</Say><Hangup/></Response>");
	g_free(twiml);
}

static void
bundle_request_of_one_is_single(void)
{
	struct cfg		 cfg;
	struct notify_page	 page;
	struct notify_request	 one, single;

	test_cfg_init(&cfg);
	test_page_init(&page, "Checkout down");
	notify_twilio_bundle_request(&cfg, NOTIFY_CHANNEL_SMS, &page, 1, &one);
	notify_twilio_sms_request(&cfg, &page, &single);
	CHECK_STR(one.body, single.body);
	notify_request_fini(&one);
	notify_request_fini(&single);
	notify_twilio_bundle_request(&cfg, NOTIFY_CHANNEL_VOICE, &page, 1,
	    &one);
	notify_twilio_call_request(&cfg, &page, &single);
	CHECK_STR(one.body, single.body);
	notify_request_fini(&one);
	notify_request_fini(&single);
}

static void
bundle_call_request_carries_bundle_twiml(void)
{
	static const char *const subjects[] = { "Checkout down",
		"Search slow" };
	struct cfg		 cfg;
	struct notify_page	 pages[2];
	struct notify_request	 req;
	GPtrArray		*fields;

	test_cfg_init(&cfg);
	bundle_init(pages, 2, subjects);
	notify_twilio_bundle_request(&cfg, NOTIFY_CHANNEL_VOICE, pages, 2,
	    &req);
	fields = form_decode(req.body);
	CHECK_STR(form_get(fields, "To", 0), "+15550100011");
	CHECK_CONTAINS(form_get(fields, "Twiml", 0), "2 open incidents: "
	    "critical incident 1042, and high priority incident 1043.");
	CHECK_CONTAINS(form_get(fields, "Twiml", 0),
	    "gather?page=1042&amp;pages=7,8\"");
	/* The status names every page of the bundle. */
	CHECK_STR(form_get(fields, "StatusCallback", 0),
	    "https://pager.example.net/hooks/twilio/voice/status?pages=7,8");
	g_ptr_array_unref(fields);
	notify_request_fini(&req);
}

int
main(void)
{
	TAP_RUN(sms_request_fields_encoded);
	TAP_RUN(call_request_fields_encoded);
	TAP_RUN(twiml_plain_subject_exact);
	TAP_RUN(twiml_special_chars_escaped);
	TAP_RUN(twiml_long_subject_bounded);
	TAP_RUN(sms_text_plain_subject_whole);
	TAP_RUN(sms_text_long_ascii_truncated);
	TAP_RUN(sms_text_emoji_fits_ucs2);
	TAP_RUN(sms_text_cut_keeps_graphemes_whole);
	TAP_RUN(sms_text_gsm7_extension_counted_twice);
	TAP_RUN(sms_text_curly_apostrophe_made_gsm7);
	TAP_RUN(sms_text_controls_stripped);
	TAP_RUN(classify_created_json_ok);
	TAP_RUN(classify_created_garbage_ok_without_sid);
	TAP_RUN(classify_server_error_retry);
	TAP_RUN(classify_429_delta_seconds);
	TAP_RUN(classify_429_http_date);
	TAP_RUN(classify_429_without_header);
	TAP_RUN(classify_invalid_to_failed);
	TAP_RUN(classify_unknown_4xx_failed);
	TAP_RUN(classify_bad_credentials_failed);
	TAP_RUN(classify_transport_failure_retry);
	TAP_RUN(channel_names_listed);
	TAP_RUN(bundle_sms_short_subjects_exact);
	TAP_RUN(bundle_sms_subjects_share_room);
	TAP_RUN(bundle_sms_long_subjects_cut_numbers_kept);
	TAP_RUN(bundle_sms_largest_within_limit);
	TAP_RUN(bundle_sms_emoji_fits_ucs2);
	TAP_RUN(bundle_twiml_names_every_incident_exact);
	TAP_RUN(bundle_request_of_one_is_single);
	TAP_RUN(bundle_call_request_carries_bundle_twiml);
	return tap_done();
}
