/* SPDX-License-Identifier: ISC */
/*
 * Tests of the Vonage notifier: numbers with and without "+", the SMS form
 * and the call's JSON byte for byte, the RS256 JWT checked with the public
 * half of a key made at test time, and the sorting of SMS statuses and
 * Voice API answers.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "notify.h"
#include "tap.h"

/* 2026-01-15T10:00:00Z */
#define NOW_S		INT64_C(1768471200)
#define NOW_MS		(NOW_S * 1000)
#define APP_ID		"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
#define JTI		"c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5"
#define RSA_BITS	2048

static EVP_PKEY	*test_key;
static char	*test_key_pem;

static void
test_account_init(struct notify_vonage_account *acct)
{
	memset(acct, 0, sizeof(*acct));
	acct->sms_base = "http://127.0.0.1:8081";
	acct->voice_base = "http://127.0.0.1:8082";
	acct->api_key = "abcd1234";
	acct->api_secret = "s3cr&t+x";
	acct->application_id = APP_ID;
	acct->private_key_pem = test_key_pem;
	acct->from = "+15550100009";
	acct->public_url = "https://pager.example.net";
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
	page->to = "+15550100013";
}

/* Makes the RSA key the tests sign with, and its PEM form. */
static void
test_key_make(void)
{
	EVP_PKEY_CTX	*ctx;
	BIO		*bio;
	char		*data;
	long		 len;

	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, RSA_BITS) != 1 ||
	    EVP_PKEY_keygen(ctx, &test_key) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	bio = BIO_new(BIO_s_mem());
	if (PEM_write_bio_PrivateKey(bio, test_key, NULL, NULL, 0, NULL,
	    NULL) != 1)
		abort();
	len = BIO_get_mem_data(bio, &data);
	test_key_pem = g_strndup(data, (gsize)len);
	BIO_free(bio);
}

/* Returns the bytes of base64url text s (no padding); caller frees. */
static guchar *
base64url_decode(const char *s, size_t n, gsize *out_len)
{
	GString	*b64;
	guchar	*raw;
	size_t	 i;

	b64 = g_string_new(NULL);
	for (i = 0; i < n; i++)
		g_string_append_c(b64, s[i] == '-' ? '+' : s[i] == '_' ? '/' :
		    s[i]);
	while (b64->len % 4 != 0)
		g_string_append_c(b64, '=');
	raw = g_base64_decode(b64->str, out_len);
	g_string_free(b64, TRUE);
	return raw;
}

static char *
base64url_decode_str(const char *s, size_t n)
{
	guchar	*raw;
	gsize	 len;
	char	*str;

	raw = base64url_decode(s, n, &len);
	str = g_strndup((const char *)raw, len);
	g_free(raw);
	return str;
}

/* Tells whether token's RS256 signature verifies with the test key. */
static bool
jwt_verifies(const char *token)
{
	EVP_MD_CTX	*ctx;
	const char	*dot;
	guchar		*sig;
	gsize		 sig_len;
	int		 rc;

	dot = strrchr(token, '.');
	if (dot == NULL)
		return false;
	sig = base64url_decode(dot + 1, strlen(dot + 1), &sig_len);
	ctx = EVP_MD_CTX_new();
	rc = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, test_key);
	if (rc == 1)
		rc = EVP_DigestVerify(ctx, sig, sig_len, (const guchar *)token,
		    (size_t)(dot - token));
	EVP_MD_CTX_free(ctx);
	g_free(sig);
	return rc == 1;
}

static void
number_e164_sent_without_plus(void)
{
	char	*n;

	n = notify_vonage_number("+15550100013");
	CHECK_STR(n, "15550100013");
	g_free(n);
	n = notify_vonage_number("+445550100013");
	CHECK_STR(n, "445550100013");
	g_free(n);
	CHECK(notify_vonage_number("15550100013") == NULL);
	CHECK(notify_vonage_number("+05550100013") == NULL);
	CHECK(notify_vonage_number("+155501") == NULL);
	CHECK(notify_vonage_number("+1234567890123456") == NULL);
	CHECK(notify_vonage_number("+1555 0100013") == NULL);
	CHECK(notify_vonage_number(NULL) == NULL);
}

static void
msisdn_digits_become_e164(void)
{
	char	*n;

	n = notify_vonage_msisdn_to_e164("15550100013");
	CHECK_STR(n, "+15550100013");
	g_free(n);
	n = notify_vonage_msisdn_to_e164("445550100013");
	CHECK_STR(n, "+445550100013");
	CHECK(g_strcmp0(n, "+15550100013") != 0);
	g_free(n);
	CHECK(notify_vonage_msisdn_to_e164("+15550100013") == NULL);
	CHECK(notify_vonage_msisdn_to_e164("05550100013") == NULL);
	CHECK(notify_vonage_msisdn_to_e164("155501") == NULL);
	CHECK(notify_vonage_msisdn_to_e164("1555010001x") == NULL);
	CHECK(notify_vonage_msisdn_to_e164("") == NULL);
}

static void
sms_request_gsm7_body_exact(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	test_page_init(&page, "Checkout down");
	CHECK_INT(notify_vonage_sms_request(&acct, &page, &req), 0);
	CHECK_STR(req.url, "http://127.0.0.1:8081/sms/json");
	CHECK_STR(req.body, "api_key=abcd1234&api_secret=s3cr%26t%2Bx"
	    "&from=15550100009&to=15550100013"
	    "&text=CRITICAL%20%231042%3A%20Checkout%20down%20Reply%20ACK"
	    "%201042%20to%20acknowledge."
	    "&callback=https%3A%2F%2Fpager.example.net%2Fhooks%2Fvonage"
	    "%2Fsms%2Fstatus&client-ref=7&ttl=300000");
	CHECK(req.content_type == NULL);
	CHECK(req.authorization == NULL);
	notify_request_fini(&req);
	CHECK(req.url == NULL);
	CHECK(req.body == NULL);
}

static void
sms_request_ucs2_text_typed_unicode(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	test_page_init(&page, "\xe6\x9d\xb1\xe4\xba\xac DC down");
	CHECK_INT(notify_vonage_sms_request(&acct, &page, &req), 0);
	CHECK_CONTAINS(req.body, "&text=CRITICAL%20%231042%3A%20%E6%9D%B1"
	    "%E4%BA%AC%20DC%20down%20Reply%20ACK%201042%20to%20acknowledge."
	    "&type=unicode&callback=");
	notify_request_fini(&req);
}

static void
sms_request_gsm7_accents_stay_text(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	test_page_init(&page, "M\xc3\xbcnchen \xc3\xa9t\xc3\xa9 down");
	CHECK_INT(notify_vonage_sms_request(&acct, &page, &req), 0);
	CHECK(strstr(req.body, "type=") == NULL);
	notify_request_fini(&req);
}

static void
sms_request_alphanumeric_sender_kept(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	acct.from = "Critgate";
	test_page_init(&page, "x");
	CHECK_INT(notify_vonage_sms_request(&acct, &page, &req), 0);
	CHECK_CONTAINS(req.body, "&from=Critgate&to=15550100013&");
	notify_request_fini(&req);
}

static void
sms_request_number_without_plus_rejected(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	test_page_init(&page, "x");
	page.to = "15550100013";
	CHECK_INT(notify_vonage_sms_request(&acct, &page, &req), -1);
	CHECK(req.url == NULL);
	CHECK(req.body == NULL);
	notify_request_fini(&req);
}

static void
call_request_json_exact(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	test_page_init(&page, "Disk \"full\"\n\tand\x01 slow");
	CHECK_INT(notify_vonage_call_request(&acct, &page, 1, NOW_S, JTI,
	    &req), 0);
	CHECK_STR(req.url, "http://127.0.0.1:8082/v1/calls");
	CHECK_STR(req.content_type, "application/json");
	CHECK_STR(req.body, "{\"to\":[{\"type\":\"phone\",\"number\":"
	    "\"15550100013\"}],\"from\":{\"type\":\"phone\",\"number\":"
	    "\"15550100009\"},\"ncco\":[{\"action\":\"talk\",\"text\":"
	    "\"Critical incident 1042. Disk \\\"full\\\" and slow. Press 1 "
	    "to acknowledge.\",\"bargeIn\":true,\"loop\":2},{\"action\":"
	    "\"input\",\"type\":[\"dtmf\"],\"dtmf\":{\"maxDigits\":1,"
	    "\"timeOut\":8},\"eventUrl\":[\"https://pager.example.net/hooks/"
	    "vonage/voice/input?page=1042\"]},{\"action\":\"talk\",\"text\":"
	    "\"No input received. Goodbye.\"}],\"event_url\":[\"https://"
	    "pager.example.net/hooks/vonage/voice/event?pages=7\"],"
	    "\"ringing_timer\":25,\"length_timer\":120,"
	    "\"machine_detection\":\"continue\"}");
	CHECK(req.authorization != NULL &&
	    g_str_has_prefix(req.authorization, "Bearer ey"));
	CHECK(req.authorization != NULL &&
	    jwt_verifies(req.authorization + strlen("Bearer ")));
	notify_request_fini(&req);
	CHECK(req.content_type == NULL);
	CHECK(req.authorization == NULL);
}

/* A bundle's call speaks of its first page, and its events name all. */
static void
call_request_bundle_event_url(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 pages[3];
	struct notify_request		 req;
	int				 i;

	test_account_init(&acct);
	for (i = 0; i < 3; i++) {
		test_page_init(&pages[i], "Checkout down");
		pages[i].page_id = 7 + i;
		pages[i].incident_id = 1042 + i;
	}
	CHECK_INT(notify_vonage_call_request(&acct, pages, 3, NOW_S, JTI,
	    &req), 0);
	CHECK_CONTAINS(req.body, "\"event_url\":[\"https://pager.example.net/"
	    "hooks/vonage/voice/event?pages=7,8,9\"]");
	CHECK_CONTAINS(req.body, "voice/input?page=1042\"");
	notify_request_fini(&req);
}

static void
ncco_high_severity_empty_subject_spoken(void)
{
	struct notify_page	 page;
	char			*ncco;

	test_page_init(&page, "  \r\n ");
	page.severity = CFG_SEVERITY_HIGH;
	ncco = notify_vonage_ncco(&page, "http://h/i");
	CHECK_CONTAINS(ncco, "\"text\":\"High priority incident 1042. Press "
	    "1 to acknowledge.\"");
	CHECK_CONTAINS(ncco, "\"eventUrl\":[\"http://h/i\"]");
	g_free(ncco);
}

static void
jwt_parts_and_signature_valid(void)
{
	char	**parts, *header, *claims, *token;

	token = notify_vonage_jwt(APP_ID, test_key_pem, JTI, NOW_S);
	CHECK(token != NULL);
	if (token == NULL)
		return;
	parts = g_strsplit(token, ".", -1);
	CHECK_INT(g_strv_length(parts), 3);
	header = base64url_decode_str(parts[0], strlen(parts[0]));
	claims = base64url_decode_str(parts[1], strlen(parts[1]));
	CHECK_STR(header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	CHECK_STR(claims, "{\"application_id\":\"" APP_ID "\",\"iat\":"
	    "1768471200,\"exp\":1768471500,\"jti\":\"" JTI "\"}");
	CHECK(strchr(token, '=') == NULL);
	CHECK(strchr(token, '+') == NULL);
	CHECK(strchr(token, '/') == NULL);
	CHECK(jwt_verifies(token));
	g_free(claims);
	g_free(header);
	g_strfreev(parts);
	g_free(token);
}

static void
jwt_changed_claims_not_verified(void)
{
	char	*token, *other, *head, *forged;

	token = notify_vonage_jwt(APP_ID, test_key_pem, JTI, NOW_S);
	other = notify_vonage_jwt(APP_ID, test_key_pem, JTI, NOW_S + 1);
	CHECK(token != NULL && other != NULL);
	if (token == NULL || other == NULL)
		goto out;

	/* The claims of one token under the signature of the other. */
	head = g_strndup(other, (gsize)(strrchr(other, '.') - other));
	forged = g_strconcat(head, strrchr(token, '.'), NULL);
	CHECK(!jwt_verifies(forged));
	g_free(forged);
	g_free(head);
out:
	g_free(other);
	g_free(token);
}

static void
jwt_unreadable_key_null(void)
{
	CHECK(notify_vonage_jwt(APP_ID, "-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n", JTI, NOW_S) == NULL);
	CHECK(notify_vonage_jwt(APP_ID, "", JTI, NOW_S) == NULL);
}

static void
call_request_unreadable_key_fails(void)
{
	struct notify_vonage_account	 acct;
	struct notify_page		 page;
	struct notify_request		 req;

	test_account_init(&acct);
	acct.private_key_pem = "not a key";
	test_page_init(&page, "x");
	CHECK_INT(notify_vonage_call_request(&acct, &page, 1, NOW_S, JTI,
	    &req), -1);
	CHECK(req.url == NULL);
	CHECK(req.authorization == NULL);
	notify_request_fini(&req);
}

static void
sms_classify(const char *body, struct notify_response *resp)
{
	notify_vonage_sms_classify(200, body, strlen(body), NULL, NOW_MS,
	    resp);
}

static void
sms_status_each_mapped(void)
{
	static const struct {
		const char		*status;
		enum notify_result	 result;
		enum notify_cause	 cause;
	} cases[] = {
		{ "1", NOTIFY_RETRY, NOTIFY_CAUSE_RATE_LIMIT },
		{ "2", NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },
		{ "3", NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },
		{ "4", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "5", NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },
		{ "6", NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },
		{ "7", NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },
		{ "8", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "9", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "10", NOTIFY_RETRY, NOTIFY_CAUSE_RATE_LIMIT },
		{ "11", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "12", NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },
		{ "14", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "15", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "22", NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },
		{ "23", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "29", NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ "32", NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },
		{ "33", NOTIFY_FAILED, NOTIFY_CAUSE_RECIPIENT },
		{ "99", NOTIFY_FAILED, NOTIFY_CAUSE_UNKNOWN },
	};
	struct notify_response	 resp;
	char			*body;
	size_t			 i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		body = g_strdup_printf("{\"message-count\":\"1\",\"messages\":"
		    "[{\"status\":\"%s\",\"error-text\":\"Because.\"}]}",
		    cases[i].status);
		sms_classify(body, &resp);
		printf("# status %s\n", cases[i].status);
		CHECK_INT(resp.result, cases[i].result);
		CHECK_INT(resp.cause, cases[i].cause);
		CHECK_INT(resp.error_code, atoi(cases[i].status));
		CHECK_STR(resp.error_message, "Because.");
		CHECK(resp.sid == NULL);
		notify_response_fini(&resp);
		g_free(body);
	}
}

static void
sms_all_parts_zero_accepted(void)
{
	struct notify_response	resp;

	sms_classify("{\"message-count\":\"2\",\"messages\":[{\"to\":"
	    "\"15558675310\",\"message-id\":\"0A0000000123ABCD1\",\"status\":"
	    "\"0\",\"client-ref\":\"7\"},{\"to\":\"15558675310\","
	    "\"message-id\":\"0A0000000123ABCD2\",\"status\":\"0\"}]}", &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_NONE);
	CHECK_INT(resp.http_status, 200);
	CHECK_STR(resp.sid, "0A0000000123ABCD1");
	CHECK_INT(resp.error_code, 0);
	CHECK(resp.error_message == NULL);
	notify_response_fini(&resp);
}

static void
sms_second_part_barred_failed(void)
{
	struct notify_response	resp;

	sms_classify("{\"message-count\":\"2\",\"messages\":[{\"message-id\":"
	    "\"0A0000000123ABCD1\",\"status\":\"0\"},{\"status\":\"7\","
	    "\"error-text\":\"Number barred.\"}]}", &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_RECIPIENT);
	CHECK_INT(resp.error_code, 7);
	CHECK_STR(resp.error_message, "Number barred.");
	CHECK(resp.sid == NULL);
	notify_response_fini(&resp);
}

static void
sms_unreadable_200_accepted_without_id(void)
{
	struct notify_response	resp;

	sms_classify("{\"messages\":[{\"status\":\"0\",\"message-id\":"
	    "\"0A00", &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK(resp.sid == NULL);
	notify_response_fini(&resp);
	sms_classify("{\"message-count\":\"1\",\"messages\":[{\"status\":0}]}",
	    &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK_INT(resp.error_code, 0);
	notify_response_fini(&resp);
	notify_vonage_sms_classify(200, NULL, 0, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	notify_response_fini(&resp);
}

static void
sms_http_errors_classified(void)
{
	struct notify_response	resp;

	notify_vonage_sms_classify(429, "", 0, "2", NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_RATE_LIMIT);
	CHECK_INT(resp.retry_after_ms, 2000);
	notify_response_fini(&resp);
	notify_vonage_sms_classify(503, "<html>", 6, "2", NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_PROVIDER);
	CHECK_INT(resp.retry_after_ms, -1);
	notify_response_fini(&resp);
	notify_vonage_sms_classify(0, NULL, 0, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_RETRY);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_PROVIDER);
	notify_response_fini(&resp);
	notify_vonage_sms_classify(401, "", 0, NULL, NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_ACCOUNT);
	notify_response_fini(&resp);
}

static void
call_created_uuid_read(void)
{
	static const char	body[] = "{\"uuid\":\"63f61863-4a51-4f6b-86e1-"
	    "46edebcf9356\",\"status\":\"started\",\"direction\":\"outbound\","
	    "\"conversation_uuid\":\"CON-f972836a-550f-45fa-956c-"
	    "12a2ab5b7d22\"}";
	struct notify_response	resp;

	notify_vonage_call_classify(201, body, strlen(body), NULL, NOW_MS,
	    &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_NONE);
	CHECK_INT(resp.http_status, 201);
	CHECK_STR(resp.sid, "63f61863-4a51-4f6b-86e1-46edebcf9356");
	notify_response_fini(&resp);
	notify_vonage_call_classify(201, "{\"uuid\":\"a b\"}", 15, NULL,
	    NOW_MS, &resp);
	CHECK_INT(resp.result, NOTIFY_OK);
	CHECK(resp.sid == NULL);
	notify_response_fini(&resp);
}

static void
call_problem_json_failed(void)
{
	static const char	body[] = "{\"type\":\"https://developer.nexmo."
	    "com/api-errors#bad-request\",\"title\":\"Bad Request\","
	    "\"detail\":\"The to number is invalid\",\"instance\":\"x\"}";
	static const char	old[] = "{\"type\":\"BAD_REQUEST\","
	    "\"error_title\":\"Bad Request\",\"invalid_parameters\":[]}";
	struct notify_response	resp;

	notify_vonage_call_classify(400, body, strlen(body), NULL, NOW_MS,
	    &resp);
	CHECK_INT(resp.result, NOTIFY_FAILED);
	CHECK_INT(resp.cause, NOTIFY_CAUSE_REQUEST);
	CHECK_STR(resp.error_message, "Bad Request");
	CHECK(resp.sid == NULL);
	notify_response_fini(&resp);
	notify_vonage_call_classify(400, old, strlen(old), NULL, NOW_MS,
	    &resp);
	CHECK_STR(resp.error_message, "Bad Request");
	notify_response_fini(&resp);
}

static void
call_http_errors_classified(void)
{
	static const struct {
		long			 status;
		enum notify_result	 result;
		enum notify_cause	 cause;
	} cases[] = {
		{ 401, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ 403, NOTIFY_FAILED, NOTIFY_CAUSE_ACCOUNT },
		{ 404, NOTIFY_FAILED, NOTIFY_CAUSE_REQUEST },
		{ 429, NOTIFY_RETRY, NOTIFY_CAUSE_RATE_LIMIT },
		{ 500, NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },
		{ 502, NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },
		{ 503, NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },
		{ 504, NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },
		{ 0, NOTIFY_RETRY, NOTIFY_CAUSE_PROVIDER },
	};
	struct notify_response	 resp;
	size_t			 i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		notify_vonage_call_classify(cases[i].status, "{\"title\":1}",
		    11, "Thu, 15 Jan 2026 10:00:03 GMT", NOW_MS, &resp);
		printf("# http %ld\n", cases[i].status);
		CHECK_INT(resp.result, cases[i].result);
		CHECK_INT(resp.cause, cases[i].cause);
		CHECK(resp.error_message == NULL);
		CHECK_INT(resp.retry_after_ms, cases[i].status == 429 ? 3000 :
		    -1);
		notify_response_fini(&resp);
	}
}

int
main(void)
{
	test_key_make();
	TAP_RUN(number_e164_sent_without_plus);
	TAP_RUN(msisdn_digits_become_e164);
	TAP_RUN(sms_request_gsm7_body_exact);
	TAP_RUN(sms_request_ucs2_text_typed_unicode);
	TAP_RUN(sms_request_gsm7_accents_stay_text);
	TAP_RUN(sms_request_alphanumeric_sender_kept);
	TAP_RUN(sms_request_number_without_plus_rejected);
	TAP_RUN(call_request_json_exact);
	TAP_RUN(call_request_bundle_event_url);
	TAP_RUN(ncco_high_severity_empty_subject_spoken);
	TAP_RUN(jwt_parts_and_signature_valid);
	TAP_RUN(jwt_changed_claims_not_verified);
	TAP_RUN(jwt_unreadable_key_null);
	TAP_RUN(call_request_unreadable_key_fails);
	TAP_RUN(sms_status_each_mapped);
	TAP_RUN(sms_all_parts_zero_accepted);
	TAP_RUN(sms_second_part_barred_failed);
	TAP_RUN(sms_unreadable_200_accepted_without_id);
	TAP_RUN(sms_http_errors_classified);
	TAP_RUN(call_created_uuid_read);
	TAP_RUN(call_problem_json_failed);
	TAP_RUN(call_http_errors_classified);
	EVP_PKEY_free(test_key);
	g_free(test_key_pem);
	return tap_done();
}
