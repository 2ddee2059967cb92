/* SPDX-License-Identifier: ISC */
/*
 * The notify stage for Twilio: builds the form POSTs that send a page by
 * SMS (Messages.json) and by voice call (Calls.json, with inline TwiML that
 * gathers one keypress), and sorts Twilio's responses into sent, retry later
 * and failed.  These are pure functions, and the daemon does the I/O with
 * libcurl.
 */
#include <inttypes.h>
#include <string.h>

#include <curl/curl.h>
#include <json-glib/json-glib.h>

#include "notify.h"
#include "notify_priv.h"

#define SMS_VALIDITY_S		300	/* a page older than this is stale */
#define SMS_GSM7_MAX		160	/* septets in one GSM-7 segment */
#define SMS_UCS2_MAX		70	/* UTF-16 units in one UCS-2 segment */
#define SMS_ELLIPSIS		"..."
#define TWIML_SUBJECT_MAX	200	/* characters of subject spoken */
#define TWIML_MAX		4000	/* characters Twilio accepts inline */
#define CALL_RING_S		25	/* ends the call before voicemail */
#define CALL_TIME_LIMIT_S	120
#define SID_MAX			64
#define ERROR_MESSAGE_MAX	256	/* characters kept of Twilio's text */
#define BUNDLE_SMS_END		"; reply ACK <number>"
#define BUNDLE_SUBJECT_MIN	8	/* units of a cut subject, "..." in */
#define BUNDLE_SPOKEN_MAX	100	/* incidents a bundled call names */

static const char *const channel_names[NOTIFY_CHANNEL_COUNT] = {
	[NOTIFY_CHANNEL_VOICE] = "voice",
	[NOTIFY_CHANNEL_SMS] = "sms",
};

static const char *const call_events[] = { "initiated", "ringing",
	"answered", "completed", NULL };

/* Characters of the GSM 03.38 basic set outside ASCII. */
static const char gsm7_basic_extra[] = "\xc2\xa3\xc2\xa5\xc3\xa8\xc3\xa9"
    "\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\xc3\x98\xc3\xb8\xc3\x85\xc3\xa5"
    "\xce\x94\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3"
    "\xce\x98\xce\x9e\xc3\x86\xc3\xa6\xc3\x9f\xc3\x89\xc2\xa4\xc2\xa1"
    "\xc3\x84\xc3\x96\xc3\x91\xc3\x9c\xc2\xa7\xc2\xbf\xc3\xa4\xc3\xb6"
    "\xc3\xb1\xc3\xbc\xc3\xa0";

/* GSM 03.38 extension characters: sent as escape plus character. */
static const char gsm7_extension[] = "^{}\\[~]|\xe2\x82\xac";

/* Typographic characters replaced by GSM-7 ones so an SMS stays GSM-7. */
static const struct {
	gunichar	 from;
	const char	*to;
} sms_plain[] = {
	{ 0x2018, "'" }, { 0x2019, "'" }, { 0x201a, "'" }, { 0x201c, "\"" },
	{ 0x201d, "\"" }, { 0x201e, "\"" }, { 0x2013, "-" }, { 0x2014, "-" },
	{ 0x2026, "..." }, { 0, NULL }
};

/* Returns the septets c takes in GSM-7 (1 or 2), or 0 if it has none. */
static int
gsm7_cost(gunichar c)
{
	char	 utf8[8];
	int	 len;

	if (c == '\n' || c == '\r')
		return 1;
	if (c == '`' || c < ' ' || c == 0x7f)
		return 0;
	len = g_unichar_to_utf8(c, utf8);
	utf8[len] = '\0';
	if (strstr(gsm7_extension, utf8) != NULL)
		return 2;
	if (c < 0x80 || strstr(gsm7_basic_extra, utf8) != NULL)
		return 1;
	return 0;
}

static bool
text_is_gsm7(const char *s)
{
	for (; *s != '\0'; s = g_utf8_next_char(s)) {
		if (gsm7_cost(g_utf8_get_char(s)) == 0)
			return false;
	}
	return true;
}

bool
notify_text_is_gsm7(const char *s)
{
	return text_is_gsm7(s);
}

/* Returns the segment units c takes: septets, or UTF-16 units. */
static int
char_cost(gunichar c, bool is_gsm7)
{
	if (is_gsm7)
		return gsm7_cost(c);
	return c > 0xffff ? 2 : 1;
}

static int
text_cost(const char *s, bool is_gsm7)
{
	int	 cost = 0;

	for (; *s != '\0'; s = g_utf8_next_char(s))
		cost += char_cost(g_utf8_get_char(s), is_gsm7);
	return cost;
}

/* Tells whether c attaches to the character before it. */
static bool
char_is_extender(gunichar c)
{
	return g_unichar_ismark(c) || c == 0x200d || c == 0xfe0e ||
	    c == 0xfe0f || (c >= 0x1f3fb && c <= 0x1f3ff) ||
	    (c >= 0xe0020 && c <= 0xe007f);
}

static bool
char_is_regional_indicator(gunichar c)
{
	return c >= 0x1f1e6 && c <= 0x1f1ff;
}

/*
 * Moves a cut at byte offset cut in s back to a grapheme boundary (a
 * simplification of UAX #29): not before an extender, not after a ZWJ,
 * and not inside a pair of regional indicators (a flag).
 */
static size_t
cut_to_grapheme(const char *s, size_t cut)
{
	const char	*p;
	size_t		 n_ri;

	while (cut > 0) {
		p = g_utf8_prev_char(s + cut);
		if (!char_is_extender(g_utf8_get_char(s + cut)) &&
		    g_utf8_get_char(p) != 0x200d)
			break;
		cut = (size_t)(p - s);
	}
	n_ri = 0;
	for (p = s + cut; p > s; p = g_utf8_prev_char(p)) {
		if (!char_is_regional_indicator(g_utf8_get_char(
		    g_utf8_prev_char(p))))
			break;
		n_ri++;
	}
	if (n_ri % 2 == 1)
		cut = (size_t)(g_utf8_prev_char(s + cut) - s);
	return cut;
}

/*
 * Returns subject cut so that it costs at most budget units, with
 * SMS_ELLIPSIS appended when cut.  Never splits a character.
 */
static char *
subject_fit(const char *subject, int budget, bool is_gsm7)
{
	const char	*p;
	GString		*out;
	int		 cost = 0, room;

	if (text_cost(subject, is_gsm7) <= budget)
		return g_strdup(subject);
	room = budget - (int)strlen(SMS_ELLIPSIS);
	for (p = subject; *p != '\0' && room > 0; p = g_utf8_next_char(p)) {
		if (cost + char_cost(g_utf8_get_char(p), is_gsm7) > room)
			break;
		cost += char_cost(g_utf8_get_char(p), is_gsm7);
	}
	out = g_string_new_len(subject, (gssize)cut_to_grapheme(subject,
	    (size_t)(p - subject)));
	while (out->len > 0 && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	if (room > 0)
		g_string_append(out, SMS_ELLIPSIS);
	return g_string_free(out, FALSE);
}

/*
 * Returns subject as one line: control characters dropped, each run of
 * whitespace turned into one space, both ends trimmed.  With is_for_sms,
 * typographic quotes and dashes become their GSM-7 forms.
 */
static char *
subject_clean(const char *subject, bool is_for_sms)
{
	GString		*out;
	gunichar	 c;
	size_t		 i;
	bool		 is_gap = false;
	char		*valid;
	const char	*p;

	valid = g_utf8_make_valid(subject != NULL ? subject : "", -1);
	out = g_string_new(NULL);
	for (p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		c = g_utf8_get_char(p);
		for (i = 0; is_for_sms && sms_plain[i].to != NULL; i++) {
			if (sms_plain[i].from == c)
				break;
		}
		if (g_unichar_isspace(c)) {
			is_gap = out->len > 0;
			continue;
		}
		if (g_unichar_iscntrl(c) || c == 0xfffe || c == 0xffff)
			continue;
		if (is_gap)
			g_string_append_c(out, ' ');
		is_gap = false;
		if (is_for_sms && sms_plain[i].to != NULL)
			g_string_append(out, sms_plain[i].to);
		else
			g_string_append_unichar(out, c);
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

char *
notify_twilio_sms_text(const struct notify_page *page)
{
	char	*subject, *fitted, *prefix, *suffix, *text;
	bool	 is_gsm7;
	int	 limit;

	subject = subject_clean(page->subject, true);
	prefix = g_strdup_printf("%s #%" PRId64 ":",
	    page->severity == CFG_SEVERITY_CRITICAL ? "CRITICAL" : "HIGH",
	    page->incident_id);
	suffix = g_strdup_printf(" Reply ACK %" PRId64 " to acknowledge.",
	    page->incident_id);
	is_gsm7 = text_is_gsm7(subject);
	limit = is_gsm7 ? SMS_GSM7_MAX : SMS_UCS2_MAX;

	/* The 1 is the space between prefix and subject. */
	fitted = subject_fit(subject, limit - text_cost(prefix, is_gsm7) - 1 -
	    text_cost(suffix, is_gsm7), is_gsm7);
	text = g_strconcat(prefix, *fitted != '\0' ? " " : "", fitted, suffix,
	    NULL);
	g_free(fitted);
	g_free(suffix);
	g_free(prefix);
	g_free(subject);
	return text;
}

static const char *
severity_word(enum cfg_severity severity)
{
	return severity == CFG_SEVERITY_CRITICAL ? "critical" : "high";
}

/*
 * Shares budget units among the subjects: one that fits a fair share keeps
 * all of it and leaves the rest to the others.  Returns the share of the
 * subjects still too long; fits[i] tells which fit whole.
 */
static int
bundle_share(char **subjects, size_t n, int budget, bool is_gsm7,
    bool *fits)
{
	size_t	 i, left = n;
	int	 share = 0, cost;
	bool	 is_changed = true;

	while (is_changed && left > 0) {
		is_changed = false;
		share = budget > 0 ? budget / (int)left : 0;
		for (i = 0; i < n; i++) {
			cost = text_cost(subjects[i], is_gsm7);
			if (fits[i] || cost > share)
				continue;
			fits[i] = true;
			budget -= cost;
			left--;
			is_changed = true;
		}
	}
	return share;
}

/* Returns " #ID severity" for each page, the fixed part of its item. */
static char *
bundle_item_head(const struct notify_page *page)
{
	return g_strdup_printf("#%" PRId64 " %s", page->incident_id,
	    severity_word(page->severity));
}

/*
 * Returns the room left for the subjects of a bundle in one segment;
 * heads are ASCII, so they cost one unit in either encoding.
 */
static int
bundle_budget(char **heads, size_t n, size_t start_len, bool is_gsm7)
{
	int	 budget;
	size_t	 i;

	budget = (is_gsm7 ? SMS_GSM7_MAX : SMS_UCS2_MAX) - (int)start_len -
	    (int)strlen(BUNDLE_SMS_END);
	/* "; " or " " before each head, " " before each subject. */
	for (i = 0; i < n; i++)
		budget -= (int)strlen(heads[i]) + (i == 0 ? 1 : 2) + 1;
	return budget;
}

/*
 * Chooses the encoding and the subjects' share: when UCS-2 leaves the
 * subjects too little room, the subjects that need UCS-2 are dropped and
 * the others go in GSM-7.  Returns the share.
 */
static int
bundle_fit(char **subjects, char **heads, size_t n, size_t start_len,
    bool *fits)
{
	bool	 is_gsm7 = true;
	int	 share;
	size_t	 i;

	for (i = 0; i < n; i++)
		is_gsm7 = is_gsm7 && text_is_gsm7(subjects[i]);
	share = bundle_share(subjects, n, bundle_budget(heads, n, start_len,
	    is_gsm7), is_gsm7, fits);
	if (is_gsm7 || share >= BUNDLE_SUBJECT_MIN)
		return share;
	memset(fits, 0, n * sizeof(*fits));
	for (i = 0; i < n; i++) {
		if (!text_is_gsm7(subjects[i]))
			subjects[i][0] = '\0';
	}
	return bundle_share(subjects, n, bundle_budget(heads, n, start_len,
	    true), true, fits);
}

char *
notify_twilio_bundle_sms_text(const struct notify_page *pages, size_t n)
{
	GString	*text;
	char	**subjects, **heads, *fitted;
	bool	*fits;
	int	 share;
	size_t	 i;

	subjects = g_new0(char *, n + 1);
	heads = g_new0(char *, n + 1);
	fits = g_new0(bool, n);
	text = g_string_new(NULL);
	g_string_printf(text, "%zu open incidents:", n);
	for (i = 0; i < n; i++) {
		subjects[i] = subject_clean(pages[i].subject, true);
		heads[i] = bundle_item_head(&pages[i]);
	}
	share = bundle_fit(subjects, heads, n, text->len, fits);
	for (i = 0; i < n; i++) {
		/* A subject cut to a few characters says nothing. */
		fitted = fits[i] ? g_strdup(subjects[i]) :
		    share < BUNDLE_SUBJECT_MIN ? g_strdup("") :
		    subject_fit(subjects[i], share, text_is_gsm7(subjects[i]));
		g_string_append_printf(text, "%s%s%s%s", i == 0 ? " " : "; ",
		    heads[i], *fitted != '\0' ? " " : "", fitted);
		g_free(fitted);
	}
	g_string_append(text, BUNDLE_SMS_END);
	g_strfreev(subjects);
	g_strfreev(heads);
	g_free(fits);
	return g_string_free(text, FALSE);
}

char *
notify_twilio_bundle_twiml(const struct notify_page *pages, size_t n,
    const char *gather_url)
{
	GString	*say;
	char	*url, *twiml;
	size_t	 i, spoken = MIN(n, BUNDLE_SPOKEN_MAX);

	say = g_string_new(NULL);
	g_string_printf(say, "%zu open incidents: ", n);
	for (i = 0; i < spoken; i++)
		g_string_append_printf(say, "%s%s incident %" PRId64,
		    i == 0 ? "" : (i + 1 == spoken && spoken == n ?
		    ", and " : ", "), pages[i].severity ==
		    CFG_SEVERITY_CRITICAL ? "critical" : "high priority",
		    pages[i].incident_id);
	if (spoken < n)
		g_string_append_printf(say, ", and %zu more", n - spoken);
	url = g_markup_escape_text(gather_url, -1);
	twiml = g_strdup_printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"8\" "
	    "method=\"POST\" action=\"%s\"><Say loop=\"2\">%s. Press 1 to "
	    "acknowledge all of them.</Say></Gather><Say>No input received. "
	    "Goodbye.</Say><Hangup/></Response>", url, say->str);
	g_free(url);
	g_string_free(say, TRUE);
	return twiml;
}

/* Returns at most max characters of s, cut on a grapheme boundary. */
static char *
text_cut(const char *s, long max)
{
	const char	*end;

	if (g_utf8_strlen(s, -1) <= max)
		return g_strdup(s);
	end = g_utf8_offset_to_pointer(s, max);
	return g_strndup(s, cut_to_grapheme(s, (size_t)(end - s)));
}

static char *
twiml_build(const struct notify_page *page, const char *subject,
    const char *gather_url)
{
	char	*url, *say, *twiml;

	url = g_markup_escape_text(gather_url, -1);
	say = g_markup_escape_text(subject, -1);
	twiml = g_strdup_printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"8\" "
	    "method=\"POST\" action=\"%s\"><Say loop=\"2\">%s incident %"
	    PRId64 ". %s%sPress 1 to acknowledge.</Say></Gather>"
	    "<Say>No input received. Goodbye.</Say><Hangup/></Response>",
	    url, page->severity == CFG_SEVERITY_CRITICAL ? "Critical" :
	    "High priority", page->incident_id, say, *say != '\0' ? ". " : "");
	g_free(say);
	g_free(url);
	return twiml;
}

char *
notify_twilio_twiml(const struct notify_page *page, const char *gather_url)
{
	char	*clean, *subject, *twiml;
	long	 max;

	clean = subject_clean(page->subject, false);
	max = TWIML_SUBJECT_MAX;
	for (;;) {
		subject = text_cut(clean, max);
		twiml = twiml_build(page, subject, gather_url);
		g_free(subject);

		/* Escapes can make the text six times longer, so cut more. */
		if (g_utf8_strlen(twiml, -1) < TWIML_MAX || max == 0)
			break;
		g_free(twiml);
		max /= 2;
	}
	g_free(clean);
	return twiml;
}

/*
 * Appends name=value to a form body, percent-encoding every byte but the
 * RFC 3986 unreserved ones, so "+" is sent as %2B and space as %20.
 */
static void
form_add(GString *form, const char *name, const char *value)
{
	char	*escaped;

	escaped = g_uri_escape_string(value, NULL, FALSE);
	g_string_append_printf(form, "%s%s=%s", form->len > 0 ? "&" : "",
	    name, escaped);
	g_free(escaped);
}

static char *
resource_url(const struct cfg *cfg, const char *resource)
{
	char	*sid, *url;

	sid = g_uri_escape_string(cfg->twilio.account_sid, NULL, FALSE);
	url = g_strdup_printf("%s/2010-04-01/Accounts/%s/%s",
	    cfg->twilio.api_base, sid, resource);
	g_free(sid);
	return url;
}

void
notify_pages_param_add(GString *url, const struct notify_page *pages,
    size_t n)
{
	size_t	i;

	g_string_append(url, "pages=");
	for (i = 0; i < n && i < NOTIFY_STATUS_URL_PAGES; i++)
		g_string_append_printf(url, "%s%" PRId64, i > 0 ? "," : "",
		    pages[i].page_id);
}

/* Returns the status callback URL of a request carrying pages. */
static char *
status_url_build(const struct cfg *cfg, const char *path,
    const struct notify_page *pages, size_t n)
{
	GString	*url = g_string_new(cfg->public_url);

	g_string_append_printf(url, "%s?", path);
	notify_pages_param_add(url, pages, n);
	return g_string_free(url, FALSE);
}

static void
sms_request_build(const struct cfg *cfg, const struct notify_page *pages,
    size_t n, const char *text, struct notify_request *out)
{
	GString	*form;
	char	*callback, *validity;

	callback = status_url_build(cfg, "/hooks/twilio/sms/status", pages,
	    n);
	validity = g_strdup_printf("%d", SMS_VALIDITY_S);
	form = g_string_new(NULL);
	form_add(form, "To", pages[0].to);
	form_add(form, "From", cfg->twilio.from);
	form_add(form, "Body", text);
	form_add(form, "StatusCallback", callback);
	form_add(form, "ValidityPeriod", validity);
	out->url = resource_url(cfg, "Messages.json");
	out->body = g_string_free(form, FALSE);
	g_free(validity);
	g_free(callback);
}

/* Returns the URL of the call's keypress, which names its incident and
 * pages. */
static char *
gather_url_build(const struct cfg *cfg, const struct notify_page *pages,
    size_t n)
{
	GString	*url = g_string_new(cfg->public_url);

	g_string_append_printf(url, "/hooks/twilio/voice/gather?page=%" PRId64
	    "&", pages[0].incident_id);
	notify_pages_param_add(url, pages, n);
	return g_string_free(url, FALSE);
}

static void
call_request_build(const struct cfg *cfg, const struct notify_page *pages,
    size_t n, const char *twiml, struct notify_request *out)
{
	GString	*form;
	char	*callback, *number;
	size_t	 i;

	callback = status_url_build(cfg, "/hooks/twilio/voice/status", pages,
	    n);
	form = g_string_new(NULL);
	form_add(form, "To", pages[0].to);
	form_add(form, "From", cfg->twilio.from);
	form_add(form, "Twiml", twiml);
	form_add(form, "StatusCallback", callback);
	for (i = 0; call_events[i] != NULL; i++)
		form_add(form, "StatusCallbackEvent", call_events[i]);
	number = g_strdup_printf("%d", CALL_RING_S);
	form_add(form, "Timeout", number);
	g_free(number);
	number = g_strdup_printf("%d", CALL_TIME_LIMIT_S);
	form_add(form, "TimeLimit", number);
	g_free(number);
	out->url = resource_url(cfg, "Calls.json");
	out->body = g_string_free(form, FALSE);
	g_free(callback);
}

void
notify_twilio_sms_request(const struct cfg *cfg,
    const struct notify_page *page, struct notify_request *out)
{
	notify_twilio_bundle_request(cfg, NOTIFY_CHANNEL_SMS, page, 1, out);
}

void
notify_twilio_call_request(const struct cfg *cfg,
    const struct notify_page *page, struct notify_request *out)
{
	notify_twilio_bundle_request(cfg, NOTIFY_CHANNEL_VOICE, page, 1, out);
}

void
notify_twilio_bundle_request(const struct cfg *cfg,
    enum notify_channel channel, const struct notify_page *pages, size_t n,
    struct notify_request *out)
{
	char	*text, *gather_url;

	memset(out, 0, sizeof(*out));
	if (channel == NOTIFY_CHANNEL_SMS) {
		text = n == 1 ? notify_twilio_sms_text(pages) :
		    notify_twilio_bundle_sms_text(pages, n);
		sms_request_build(cfg, pages, n, text, out);
		g_free(text);
		return;
	}
	gather_url = gather_url_build(cfg, pages, n);
	text = n == 1 ? notify_twilio_twiml(pages, gather_url) :
	    notify_twilio_bundle_twiml(pages, n, gather_url);
	call_request_build(cfg, pages, n, text, out);
	g_free(text);
	g_free(gather_url);
}

void
notify_request_fini(struct notify_request *req)
{
	g_clear_pointer(&req->url, g_free);
	g_clear_pointer(&req->body, g_free);
	g_clear_pointer(&req->content_type, g_free);
	g_clear_pointer(&req->authorization, g_free);
}

/* Returns the string member name of obj, or NULL if absent or not one. */
static const char *
json_string_member(JsonObject *obj, const char *name)
{
	JsonNode	*node;

	node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/* Returns the member name as an int (a number or a string of digits). */
static int
json_int_member(JsonObject *obj, const char *name)
{
	JsonNode	*node;
	const char	*s;
	gint64		 value;

	node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
		return 0;
	if (json_node_get_value_type(node) == G_TYPE_INT64) {
		value = json_node_get_int(node);
		return value > 0 && value <= G_MAXINT ? (int)value : 0;
	}
	s = json_string_member(obj, name);
	if (s == NULL || g_ascii_string_to_signed(s, 10, 1, G_MAXINT, &value,
	    NULL) == FALSE)
		return 0;
	return (int)value;
}

/* Tells whether sid is short and alphanumeric, as it goes into logs. */
static bool
sid_is_valid(const char *sid)
{
	size_t	 i, len;

	if (sid == NULL)
		return false;
	len = strlen(sid);
	for (i = 0; i < len; i++) {
		if (!g_ascii_isalnum(sid[i]))
			return false;
	}
	return len >= 2 && len <= SID_MAX;
}

/* Reads sid, code and message from a JSON body and ignores the rest. */
static void
response_json_read(const char *body, size_t len, struct notify_response *out)
{
	JsonParser	*parser;
	JsonNode	*root;
	JsonObject	*obj;
	const char	*s;

	if (body == NULL || len == 0 || len > G_MAXSSIZE)
		return;
	parser = json_parser_new();
	if (!json_parser_load_from_data(parser, body, (gssize)len, NULL))
		goto out;
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		goto out;
	obj = json_node_get_object(root);
	s = json_string_member(obj, "sid");
	if (sid_is_valid(s))
		out->sid = g_strdup(s);
	out->error_code = json_int_member(obj, "code");
	s = json_string_member(obj, "message");
	if (s != NULL && *s != '\0')
		out->error_message = g_utf8_substring(s, 0,
		    MIN(g_utf8_strlen(s, -1), ERROR_MESSAGE_MAX));
out:
	g_object_unref(parser);
}

/*
 * Returns the delay in a Retry-After value, in ms, or -1 if it is invalid.
 * The value is delta-seconds or an HTTP-date (RFC 9110 10.2.3), which is
 * taken relative to now_ms.
 */
static int64_t
retry_after_parse(const char *value, int64_t now_ms)
{
	char	*trimmed;
	gint64	 seconds;
	time_t	 when;
	int64_t	 delay_ms = -1;

	if (value == NULL)
		return -1;
	trimmed = g_strstrip(g_strdup(value));
	if (*trimmed == '\0')
		goto out;
	if (g_ascii_isdigit(*trimmed)) {
		if (g_ascii_string_to_signed(trimmed, 10, 0, G_MAXINT32,
		    &seconds, NULL))
			delay_ms = seconds * 1000;
		goto out;
	}
	when = curl_getdate(trimmed, NULL);
	if (when == (time_t)-1)
		goto out;
	delay_ms = MAX((int64_t)when * 1000 - now_ms, 0);
out:
	g_free(trimmed);
	return delay_ms;
}

int64_t
notify_retry_after_ms(const char *value, int64_t now_ms)
{
	return retry_after_parse(value, now_ms);
}

/* Returns what an HTTP status means for the page (0: no response). */
static enum notify_result
status_result(long http_status)
{
	/*
	 * A 2xx means the provider accepted the page, even when its answer
	 * cannot be read: sending it again would page the member twice in
	 * one round.  Without a sid, status callbacks and keypresses on that
	 * call cannot be matched, which the caller logs.
	 */
	if (http_status >= 200 && http_status <= 299)
		return NOTIFY_OK;
	if (http_status == 429)
		return NOTIFY_RETRY;

	/*
	 * Any other 4xx is about this request (bad number, opted out, bad
	 * credentials) and will fail again.  A 3xx means api_base points at
	 * something that redirects, which a retry cannot fix either.
	 */
	if (http_status >= 300 && http_status <= 499)
		return NOTIFY_FAILED;

	/* No response (0), 5xx, or a status no HTTP server sends. */
	return NOTIFY_RETRY;
}

void
notify_twilio_classify(long http_status, const char *body, size_t len,
    const char *retry_after, int64_t now_ms, struct notify_response *out)
{
	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	out->retry_after_ms = -1;
	response_json_read(body, len, out);
	out->result = status_result(http_status);
	if (out->result != NOTIFY_OK)
		g_clear_pointer(&out->sid, g_free);
	if (http_status == 429)
		out->retry_after_ms = retry_after_parse(retry_after, now_ms);
}

void
notify_response_fini(struct notify_response *resp)
{
	g_clear_pointer(&resp->sid, g_free);
	g_clear_pointer(&resp->error_message, g_free);
}

const char *
notify_channel_name(enum notify_channel channel)
{
	if ((unsigned)channel >= NOTIFY_CHANNEL_COUNT)
		return "unknown";
	return channel_names[channel];
}
