/* SPDX-License-Identifier: ISC */
/*
 * The notify stage for Vonage, the failover provider: builds the form POST
 * of the SMS API and the JSON POST of the Voice API (an inline NCCO that
 * takes one keypress, authorized by an RS256 JWT), and sorts Vonage's
 * answers into sent, retry later and failed.  Pure functions: the caller
 * passes the time and the token id, and the daemon does the I/O.
 */
#include <inttypes.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "log.h"
#include "notify.h"
#include "notify_priv.h"

#define NUMBER_DIGITS_MIN	7	/* Vonage's bounds on "to" */
#define NUMBER_DIGITS_MAX	15	/* E.164 */
#define SPOKEN_SUBJECT_MAX	200	/* characters of subject spoken */
#define CALL_RING_S		25	/* ends the call before voicemail */
#define CALL_LENGTH_S		120
#define INPUT_TIMEOUT_S		8	/* seconds to wait for the key */
#define TALK_LOOPS		2
#define ID_MAX			64
#define ERROR_MESSAGE_MAX	256	/* characters kept of Vonage's text */

/* What an SMS API status means; statuses not listed fail as unknown. */
static const struct {
	int			 status;
	enum notify_result	 result;
	enum notify_cause	 cause;
} sms_statuses[] = {
	{ 1, NOTIFY_RETRY, NOTIFY_CAUSE_RATE_LIMIT },	/* throttled */
	{ 2, NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },	/* missing parameter */
	{ 3, NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },	/* invalid parameter */
	{ 4, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* bad credentials */
	{ 5, NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },	/* internal error */
	{ 6, NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },	/* unroutable */
	{ 7, NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },	/* number barred */
	{ 8, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* account barred */
	{ 9, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* no credit */
	{ 10, NOTIFY_RETRY, NOTIFY_CAUSE_RATE_LIMIT },	/* too many binds */
	{ 11, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* HTTP SMS off */
	{ 12, NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },	/* message too long */
	{ 14, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* invalid signature */
	{ 15, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* sender not allowed */
	{ 22, NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },	/* network code */
	{ 23, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* callback URL */
	{ 29, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },	/* not whitelisted */
	{ 32, NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },	/* sig and secret */
	{ 33, NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },	/* deactivated */
};

/* Tells whether s is n digits within Vonage's bounds, the first not 0. */
static bool
digits_are_number(const char *s)
{
	size_t	 i, len = strlen(s);

	if (len < NUMBER_DIGITS_MIN || len > NUMBER_DIGITS_MAX || s[0] == '0')
		return false;
	for (i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return false;
	}
	return true;
}

char *
notify_vonage_number(const char *e164)
{
	if (e164 == NULL || e164[0] != '+' || !digits_are_number(e164 + 1))
		return NULL;
	return g_strdup(e164 + 1);
}

char *
notify_vonage_msisdn_to_e164(const char *msisdn)
{
	if (msisdn == NULL || !digits_are_number(msisdn))
		return NULL;
	return g_strconcat("+", msisdn, NULL);
}

/* Returns the sender as Vonage takes it: a leading "+" dropped. */
static const char *
sender_field(const char *from)
{
	return from[0] == '+' ? from + 1 : from;
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

/*
 * Builds the POST that sends text to the E.164 number to_e164.  With
 * page_id above 0, the SMS is that page's: its delivery receipts come to
 * our status hook with the page id as client-ref.
 */
static int
sms_request(const struct notify_vonage_account *acct, const char *to_e164,
    const char *text, int64_t page_id, struct notify_request *out)
{
	GString	*form;
	char	*to, *callback, *number;

	memset(out, 0, sizeof(*out));
	to = notify_vonage_number(to_e164);
	if (to == NULL)
		return -1;
	form = g_string_new(NULL);
	form_add(form, "api_key", acct->api_key);
	form_add(form, "api_secret", acct->api_secret);
	form_add(form, "from", sender_field(acct->from));
	form_add(form, "to", to);
	form_add(form, "text", text);
	if (!notify_text_is_gsm7(text))
		form_add(form, "type", "unicode");
	if (page_id > 0) {
		callback = g_strconcat(acct->public_url,
		    "/hooks/vonage/sms/status", NULL);
		form_add(form, "callback", callback);
		g_free(callback);
		number = g_strdup_printf("%" PRId64, page_id);
		form_add(form, "client-ref", number);
		g_free(number);
	}
	number = g_strdup_printf("%d", NOTIFY_VONAGE_SMS_TTL_MS);
	form_add(form, "ttl", number);
	g_free(number);
	out->url = g_strconcat(acct->sms_base, "/sms/json", NULL);
	out->body = g_string_free(form, FALSE);
	g_free(to);
	return 0;
}

int
notify_vonage_sms_request(const struct notify_vonage_account *acct,
    const struct notify_page *page, struct notify_request *out)
{
	char	*text = notify_twilio_sms_text(page);
	int	 rc;

	rc = sms_request(acct, page->to, text, page->page_id, out);
	g_free(text);
	return rc;
}

int
notify_vonage_reply_request(const struct notify_vonage_account *acct,
    const char *to, const char *text, struct notify_request *out)
{
	return sms_request(acct, to, text, 0, out);
}

/* Returns base64url of data without padding (RFC 7515 section 2). */
static char *
base64url_encode(const guchar *data, size_t len)
{
	char	*s;
	size_t	 i, n;

	s = g_base64_encode(data, len);
	n = strlen(s);
	while (n > 0 && s[n - 1] == '=')
		s[--n] = '\0';
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
	return s;
}

static char *
base64url_encode_str(const char *s)
{
	return base64url_encode((const guchar *)s, strlen(s));
}

static char *
json_node_free_to_string(JsonNode *root)
{
	JsonGenerator	*gen;
	char		*s;

	gen = json_generator_new();
	json_generator_set_root(gen, root);
	s = json_generator_to_data(gen, NULL);
	g_object_unref(gen);
	json_node_unref(root);
	return s;
}

static char *
jwt_claims_build(const char *application_id, const char *jti,
    int64_t now_s)
{
	JsonBuilder	*b;
	JsonNode	*root;

	b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "application_id");
	json_builder_add_string_value(b, application_id);
	json_builder_set_member_name(b, "iat");
	json_builder_add_int_value(b, now_s);
	json_builder_set_member_name(b, "exp");
	json_builder_add_int_value(b, now_s + NOTIFY_VONAGE_JWT_LIFETIME_S);
	json_builder_set_member_name(b, "jti");
	json_builder_add_string_value(b, jti);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g_object_unref(b);
	return json_node_free_to_string(root);
}

/* Returns base64url of the RS256 signature of input, or NULL. */
static char *
rs256_sign(const char *private_key_pem, const char *input)
{
	BIO		*bio;
	EVP_PKEY	*key = NULL;
	EVP_MD_CTX	*ctx = NULL;
	guchar		*sig = NULL;
	size_t		 sig_len = 0;
	char		*out = NULL;

	bio = BIO_new_mem_buf(private_key_pem, -1);
	if (bio == NULL)
		goto out;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (key == NULL || EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    key) != 1)
		goto out;
	if (EVP_DigestSign(ctx, NULL, &sig_len, (const guchar *)input,
	    strlen(input)) != 1)
		goto out;
	sig = g_malloc(sig_len);
	if (EVP_DigestSign(ctx, sig, &sig_len, (const guchar *)input,
	    strlen(input)) != 1)
		goto out;
	out = base64url_encode(sig, sig_len);
out:
	g_free(sig);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return out;
}

char *
notify_vonage_jwt(const char *application_id, const char *private_key_pem,
    const char *jti, int64_t now_s)
{
	char	*header, *claims, *json, *input, *sig, *token = NULL;

	header = base64url_encode_str("{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	json = jwt_claims_build(application_id, jti, now_s);
	claims = base64url_encode_str(json);
	input = g_strconcat(header, ".", claims, NULL);
	sig = rs256_sign(private_key_pem, input);
	if (sig != NULL)
		token = g_strconcat(input, ".", sig, NULL);
	g_free(sig);
	g_free(input);
	g_free(claims);
	g_free(json);
	g_free(header);
	return token;
}

/*
 * Returns subject as one line of at most SPOKEN_SUBJECT_MAX characters:
 * invalid UTF-8 replaced, control characters dropped, each run of
 * whitespace turned into one space, both ends trimmed.
 */
static char *
spoken_subject(const char *subject)
{
	GString		*out;
	char		*valid, *cut;
	const char	*p;
	gunichar	 c;
	bool		 is_gap = false;

	valid = g_utf8_make_valid(subject != NULL ? subject : "", -1);
	out = g_string_new(NULL);
	for (p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		c = g_utf8_get_char(p);
		if (g_unichar_isspace(c)) {
			is_gap = out->len > 0;
			continue;
		}
		if (g_unichar_iscntrl(c) || c == 0xfffe || c == 0xffff)
			continue;
		if (is_gap)
			g_string_append_c(out, ' ');
		is_gap = false;
		g_string_append_unichar(out, c);
	}
	g_free(valid);
	cut = g_utf8_substring(out->str, 0, MIN(g_utf8_strlen(out->str, -1),
	    SPOKEN_SUBJECT_MAX));
	g_string_free(out, TRUE);
	return cut;
}

static void
ncco_talk_add(JsonBuilder *b, const char *text, bool is_prompt)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "action");
	json_builder_add_string_value(b, "talk");
	json_builder_set_member_name(b, "text");
	json_builder_add_string_value(b, text);
	if (is_prompt) {
		json_builder_set_member_name(b, "bargeIn");
		json_builder_add_boolean_value(b, TRUE);
		json_builder_set_member_name(b, "loop");
		json_builder_add_int_value(b, TALK_LOOPS);
	}
	json_builder_end_object(b);
}

static void
ncco_input_add(JsonBuilder *b, const char *input_url)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "action");
	json_builder_add_string_value(b, "input");
	json_builder_set_member_name(b, "type");
	json_builder_begin_array(b);
	json_builder_add_string_value(b, "dtmf");
	json_builder_end_array(b);
	json_builder_set_member_name(b, "dtmf");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "maxDigits");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "timeOut");
	json_builder_add_int_value(b, INPUT_TIMEOUT_S);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "eventUrl");
	json_builder_begin_array(b);
	json_builder_add_string_value(b, input_url);
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* Adds the NCCO array of page, as the value of the current member. */
static void
ncco_add(JsonBuilder *b, const struct notify_page *page,
    const char *input_url)
{
	char	*subject, *say;

	subject = spoken_subject(page->subject);
	say = g_strdup_printf("%s incident %" PRId64 ". %s%sPress 1 to "
	    "acknowledge.", page->severity == CFG_SEVERITY_CRITICAL ?
	    "Critical" : "High priority", page->incident_id, subject,
	    *subject != '\0' ? ". " : "");
	json_builder_begin_array(b);
	ncco_talk_add(b, say, true);
	ncco_input_add(b, input_url);
	ncco_talk_add(b, "No input received. Goodbye.", false);
	json_builder_end_array(b);
	g_free(say);
	g_free(subject);
}

char *
notify_vonage_ncco(const struct notify_page *page, const char *input_url)
{
	JsonBuilder	*b;
	JsonNode	*root;

	b = json_builder_new();
	ncco_add(b, page, input_url);
	root = json_builder_get_root(b);
	g_object_unref(b);
	return json_node_free_to_string(root);
}

static void
endpoint_add(JsonBuilder *b, const char *number)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, "phone");
	json_builder_set_member_name(b, "number");
	json_builder_add_string_value(b, number);
	json_builder_end_object(b);
}

static void
int_member_add(JsonBuilder *b, const char *name, int64_t value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static char *
call_body_build(const struct notify_vonage_account *acct,
    const struct notify_page *pages, size_t n, const char *to)
{
	const struct notify_page	*page = &pages[0];
	JsonBuilder			*b;
	JsonNode			*root;
	GString				*event_url;
	char				*input_url;

	input_url = g_strdup_printf("%s/hooks/vonage/voice/input?page=%"
	    PRId64, acct->public_url, page->incident_id);
	/* A restart that lost the call's uuid finds its pages by these. */
	event_url = g_string_new(acct->public_url);
	g_string_append(event_url, "/hooks/vonage/voice/event?");
	notify_pages_param_add(event_url, pages, n);
	b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "to");
	json_builder_begin_array(b);
	endpoint_add(b, to);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "from");
	endpoint_add(b, sender_field(acct->from));
	json_builder_set_member_name(b, "ncco");
	ncco_add(b, page, input_url);
	json_builder_set_member_name(b, "event_url");
	json_builder_begin_array(b);
	json_builder_add_string_value(b, event_url->str);
	json_builder_end_array(b);
	int_member_add(b, "ringing_timer", CALL_RING_S);
	int_member_add(b, "length_timer", CALL_LENGTH_S);
	json_builder_set_member_name(b, "machine_detection");
	json_builder_add_string_value(b, "continue");
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g_object_unref(b);
	g_string_free(event_url, TRUE);
	g_free(input_url);
	return json_node_free_to_string(root);
}

int
notify_vonage_call_request(const struct notify_vonage_account *acct,
    const struct notify_page *pages, size_t n, int64_t now_s,
    const char *jti, struct notify_request *out)
{
	const struct notify_page	*page = &pages[0];
	char				*to, *jwt = NULL;
	int				 rc = -1;

	memset(out, 0, sizeof(*out));
	to = notify_vonage_number(page->to);
	if (to == NULL)
		goto out;
	jwt = notify_vonage_jwt(acct->application_id, acct->private_key_pem,
	    jti, now_s);
	if (jwt == NULL) {
		log_warnx("notify: vonage private key unusable inc=%" PRId64
		    " page=%" PRId64, page->incident_id, page->page_id);
		goto out;
	}
	out->url = g_strconcat(acct->voice_base, "/v1/calls", NULL);
	out->body = call_body_build(acct, pages, n, to);
	out->content_type = g_strdup("application/json");
	out->authorization = g_strconcat("Bearer ", jwt, NULL);
	rc = 0;
out:
	if (jwt != NULL)
		explicit_bzero(jwt, strlen(jwt));
	g_free(jwt);
	g_free(to);
	return rc;
}

/* Returns the string member name of obj, or NULL if absent or not one. */
static const char *
string_member(JsonObject *obj, const char *name)
{
	JsonNode	*node;

	node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/* Returns the root object of a JSON body, or NULL; unref the parser. */
static JsonObject *
body_object(JsonParser *parser, const char *body, size_t len)
{
	JsonNode	*root;

	if (body == NULL || len == 0 || len > G_MAXSSIZE)
		return NULL;
	if (!json_parser_load_from_data(parser, body, (gssize)len, NULL))
		return NULL;
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	return json_node_get_object(root);
}

/* Tells whether id is short and of letters, digits and "-". */
static bool
id_is_valid(const char *id)
{
	size_t	 i, len;

	if (id == NULL)
		return false;
	len = strlen(id);
	for (i = 0; i < len; i++) {
		if (!g_ascii_isalnum(id[i]) && id[i] != '-')
			return false;
	}
	return len >= 1 && len <= ID_MAX;
}

static void
error_message_set(struct notify_response *out, const char *s)
{
	if (s == NULL || *s == '\0' || out->error_message != NULL ||
	    !g_utf8_validate(s, -1, NULL))
		return;
	out->error_message = g_utf8_substring(s, 0,
	    MIN(g_utf8_strlen(s, -1), ERROR_MESSAGE_MAX));
}

/*
 * Sets result and cause from an HTTP status that is not the provider's
 * normal answer (0: no answer).  Mirrors the Twilio reading: 429 and 5xx
 * retry, other statuses fail.
 */
static void
http_status_read(long http_status, struct notify_response *out)
{
	out->result = NOTIFY_FAILED;
	out->cause = NOTIFY_CAUSE_REQUEST;
	if (http_status == 429) {
		out->result = NOTIFY_RETRY;
		out->cause = NOTIFY_CAUSE_RATE_LIMIT;
	} else if (http_status == 401 || http_status == 403) {
		out->cause = NOTIFY_CAUSE_ACCOUNT;
	} else if (http_status < 300 || http_status >= 500) {
		/* No answer, 5xx, or a status no HTTP server sends. */
		out->result = NOTIFY_RETRY;
		out->cause = NOTIFY_CAUSE_PROVIDER;
	}
}

static void
response_init(long http_status, const char *retry_after, int64_t now_ms,
    struct notify_response *out)
{
	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	out->retry_after_ms = -1;
	if (http_status == 429)
		out->retry_after_ms = notify_retry_after_ms(retry_after,
		    now_ms);
}

/* Sets result and cause from a failed part's status code. */
static void
sms_status_read(int status, struct notify_response *out)
{
	size_t	 i;

	out->error_code = status;
	out->result = NOTIFY_FAILED;
	out->cause = NOTIFY_CAUSE_UNKNOWN;
	for (i = 0; i < G_N_ELEMENTS(sms_statuses); i++) {
		if (sms_statuses[i].status != status)
			continue;
		out->result = sms_statuses[i].result;
		out->cause = sms_statuses[i].cause;
	}
}

/*
 * Reads the parts of a 200 answer.  Returns the index of the first part
 * whose status is not "0", the number of parts if all are "0", or -1 when
 * the body is not the messages[] shape.
 */
static int
sms_parts_read(JsonArray *parts, struct notify_response *out)
{
	JsonNode	*node;
	JsonObject	*part;
	const char	*status;
	gint64		 code;
	guint		 i, n = json_array_get_length(parts);

	for (i = 0; i < n && i < G_MAXINT; i++) {
		node = json_array_get_element(parts, i);
		if (!JSON_NODE_HOLDS_OBJECT(node))
			return -1;
		part = json_node_get_object(node);
		status = string_member(part, "status");
		if (status == NULL || !g_ascii_string_to_signed(status, 10, 0,
		    G_MAXINT, &code, NULL))
			return -1;
		if (code != 0) {
			sms_status_read((int)code, out);
			error_message_set(out, string_member(part,
			    "error-text"));
			return (int)i;
		}
		if (i == 0 && id_is_valid(string_member(part, "message-id")))
			out->sid = g_strdup(string_member(part, "message-id"));
	}
	return n > 0 ? (int)n : -1;
}

void
notify_vonage_sms_classify(long http_status, const char *body, size_t len,
    const char *retry_after, int64_t now_ms, struct notify_response *out)
{
	JsonParser	*parser;
	JsonObject	*obj;
	JsonNode	*node;

	response_init(http_status, retry_after, now_ms, out);
	if (http_status != 200) {
		http_status_read(http_status, out);
		return;
	}

	/*
	 * Vonage answers every request it read with 200.  One whose body
	 * cannot be read was most likely carried out, and sending it again
	 * would page the member twice; the caller logs the missing id.
	 */
	out->result = NOTIFY_OK;
	out->cause = NOTIFY_CAUSE_NONE;
	parser = json_parser_new();
	obj = body_object(parser, body, len);
	node = obj != NULL ? json_object_get_member(obj, "messages") : NULL;
	if (node != NULL && JSON_NODE_HOLDS_ARRAY(node) &&
	    sms_parts_read(json_node_get_array(node), out) == -1) {
		out->result = NOTIFY_OK;
		out->cause = NOTIFY_CAUSE_NONE;
		out->error_code = 0;
		g_clear_pointer(&out->error_message, g_free);
	}
	if (out->result != NOTIFY_OK)
		g_clear_pointer(&out->sid, g_free);
	g_object_unref(parser);
}

void
notify_vonage_call_classify(long http_status, const char *body, size_t len,
    const char *retry_after, int64_t now_ms, struct notify_response *out)
{
	JsonParser	*parser;
	JsonObject	*obj;

	response_init(http_status, retry_after, now_ms, out);
	parser = json_parser_new();
	obj = body_object(parser, body, len);
	if (http_status >= 200 && http_status <= 299) {
		/* As for SMS: an unreadable 2xx still placed the call. */
		out->result = NOTIFY_OK;
		out->cause = NOTIFY_CAUSE_NONE;
		if (obj != NULL && id_is_valid(string_member(obj, "uuid")))
			out->sid = g_strdup(string_member(obj, "uuid"));
		goto out;
	}
	http_status_read(http_status, out);
	if (obj == NULL)
		goto out;
	error_message_set(out, string_member(obj, "title"));
	error_message_set(out, string_member(obj, "error_title"));
	error_message_set(out, string_member(obj, "detail"));
out:
	g_object_unref(parser);
}
