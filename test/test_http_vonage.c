/* SPDX-License-Identifier: ISC */
/*
 * Tests of Vonage webhook signatures: the SMS "sig" against the md5hash
 * vector of Vonage's SDK tests and critgate's own md5hash and HMAC
 * vectors, signed inbound SMS as Vonage posts them, and the HS256 JWT of
 * Voice webhooks with its time, claims and payload_hash checks.
 */

#include <string.h>

#include <glib.h>

#include "http.h"
#include "tap.h"

#define SECRET		"test_signature_secret_0123456789"
#define API_KEY		"abcd1234"

/* timestamp=1768471200 is 2026-01-15T10:00:00Z; iat is 5 s later. */
#define SMS_SIGNED_S	INT64_C(1768471200)
#define VOICE_IAT_S	INT64_C(1768471205)

/* Inbound SMS with the parameters of the vector, sig left out. */
#define OUR_SMS_FORM							\
	"api-key=abcd1234&keyword=ACK"					\
	"&message-timestamp=2026-01-15+10%3A00%3A00"			\
	"&messageId=0A0000000123ABCD1&msisdn=15558675310"		\
	"&nonce=aaaaaaaa-bbbb-cccc-dddd-0123456789ab"			\
	"&text=ACK+1001+%26+thanks&timestamp=1768471200"		\
	"&to=15017122661&type=text"

/* Inbound SMS bodies as Vonage posts them, signed with SECRET (md5hash). */
#define INBOUND_ACK_FORM						\
	"msisdn=15550100013&to=15550100009&messageId=0A00000001042AC01"	\
	"&text=ACK+1042&type=text&keyword=ACK&api-key=abcd1234"		\
	"&message-timestamp=2026-01-15+10%3A00%3A00&timestamp=1768471200" \
	"&nonce=b1042000-0000-4000-8000-000000000001"			\
	"&sig=a489d5588249ae5011ecba4e8848cb6b"
#define INBOUND_OTHER_COUNTRY_FORM					\
	"msisdn=445550100013&to=15550100009&messageId=0A00000001042AC02" \
	"&text=ACK+1042&type=text&keyword=ACK&api-key=abcd1234"		\
	"&message-timestamp=2026-01-15+10%3A00%3A00&timestamp=1768471200" \
	"&nonce=b1042000-0000-4000-8000-000000000002"			\
	"&sig=7cb002cb1896a6316c1b56e45e29103f"

#define VOICE_BODY							\
	"{\"speech\":{\"results\":[]},\"dtmf\":{\"digits\":\"1\","	\
	"\"timed_out\":false},\"from\":\"15017122661\",\"to\":"		\
	"\"15558675310\",\"uuid\":\"aaaaaaaa-bbbb-cccc-dddd-0123456789ab\"," \
	"\"conversation_uuid\":\"CON-bbbbbbbb-cccc-dddd-eeee-0123456789ab\"," \
	"\"timestamp\":\"2026-01-15T10:00:05.000Z\"}"
#define VOICE_HASH							\
	"4127d6a2d603bcc561c4eb0e837ad693c2c7efeae2bc5e70d1b2964c12272251"
#define VOICE_TOKEN_HEADER						\
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define VOICE_TOKEN_CLAIMS						\
	"eyJpYXQiOjE3Njg0NzEyMDUsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRm" \
	"LTNmYmU4Y2U1MTFiNSIsImlzcyI6IlZvbmFnZSIsInBheWxvYWRfaGFzaCI6IjQx" \
	"MjdkNmEyZDYwM2JjYzU2MWM0ZWIwZTgzN2FkNjkzYzJjN2VmZWFlMmJjNWU3MGQx" \
	"YjI5NjRjMTIyNzIyNTEiLCJhcGlfa2V5IjoiYWJjZDEyMzQiLCJhcHBsaWNhdGlv" \
	"bl9pZCI6ImFhYWFhYWFhLWJiYmItY2NjYy1kZGRkLTAxMjM0NTY3ODlhYiJ9"
#define VOICE_TOKEN_SIG	"wes4omYgPiyO44fq5bCdRqkcDpQ7H8NKME1DU-LsR7k"
#define VOICE_AUTH							\
	"Bearer " VOICE_TOKEN_HEADER "." VOICE_TOKEN_CLAIMS "."		\
	VOICE_TOKEN_SIG

static const struct http_vonage_keys	keys = {
	.signature_secret = SECRET,
	.api_key = API_KEY,
	.sms_method = HTTP_VONAGE_MD5HASH,
};

static void
form_from(const char *body, struct http_form *form)
{
	CHECK_INT(http_form_parse(body, strlen(body), form), 0);
}

static char *
sms_signature(enum http_vonage_sig_method method, const char *secret,
    const char *body)
{
	struct http_form	 form;
	char			*sig;

	form_from(body, &form);
	sig = http_vonage_sms_signature(method, secret, &form);
	http_form_fini(&form);
	return sig;
}

static enum http_vonage_verdict
sms_check(const struct http_vonage_keys *k, const char *body, int64_t now_s)
{
	struct http_form		form;
	enum http_vonage_verdict	verdict;

	form_from(body, &form);
	verdict = http_vonage_sms_check(k, &form, now_s);
	http_form_fini(&form);
	return verdict;
}

static enum http_vonage_verdict
voice_check(const char *authorization, const char *body, int64_t now_s)
{
	return http_vonage_voice_check(&keys, authorization, body,
	    body != NULL ? strlen(body) : 0, now_s);
}

/* Returns "Bearer " and an HS256 token over claims; caller frees. */
static char *
voice_auth_make(const char *header, const char *claims, const char *secret)
{
	char	*h, *c, *input, *sig, *auth;
	GHmac	*hmac;
	guint8	 digest[32];
	gsize	 len = sizeof(digest);

	h = g_base64_encode((const guchar *)header, strlen(header));
	c = g_base64_encode((const guchar *)claims, strlen(claims));
	g_strdelimit(h, "=", '\0');
	g_strdelimit(h, "+", '-');
	g_strdelimit(h, "/", '_');
	g_strdelimit(c, "=", '\0');
	g_strdelimit(c, "+", '-');
	g_strdelimit(c, "/", '_');
	input = g_strconcat(h, ".", c, NULL);
	hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret,
	    strlen(secret));
	g_hmac_update(hmac, (const guchar *)input, -1);
	g_hmac_get_digest(hmac, digest, &len);
	g_hmac_unref(hmac);
	sig = g_base64_encode(digest, len);
	g_strdelimit(sig, "=", '\0');
	g_strdelimit(sig, "+", '-');
	g_strdelimit(sig, "/", '_');
	auth = g_strconcat("Bearer ", input, ".", sig, NULL);
	g_free(sig);
	g_free(input);
	g_free(c);
	g_free(h);
	return auth;
}

static void
sig_method_names_parsed(void)
{
	enum http_vonage_sig_method	method = HTTP_VONAGE_HMAC_SHA1;

	CHECK_INT(http_vonage_sig_method_parse("md5hash", &method), 0);
	CHECK_INT(method, HTTP_VONAGE_MD5HASH);
	CHECK_INT(http_vonage_sig_method_parse("md5", &method), 0);
	CHECK_INT(method, HTTP_VONAGE_HMAC_MD5);
	CHECK_INT(http_vonage_sig_method_parse("sha1", &method), 0);
	CHECK_INT(method, HTTP_VONAGE_HMAC_SHA1);
	CHECK_INT(http_vonage_sig_method_parse("sha256", &method), 0);
	CHECK_INT(method, HTTP_VONAGE_HMAC_SHA256);
	CHECK_INT(http_vonage_sig_method_parse("sha512", &method), 0);
	CHECK_INT(method, HTTP_VONAGE_HMAC_SHA512);
	CHECK_INT(http_vonage_sig_method_parse("SHA256", &method), -1);
	CHECK_INT(http_vonage_sig_method_parse("", &method), -1);
}

static void
sms_sig_sdk_vector_md5hash(void)
{
	char	*sig;

	/* Vonage's SDK tests; also printf ... | openssl dgst -md5. */
	sig = sms_signature(HTTP_VONAGE_MD5HASH, "secret",
	    "a=1&b=2&timestamp=1461605396");
	CHECK_STR(sig, "6af838ef94998832dbfc29020b564830");
	g_free(sig);
	sig = sms_signature(HTTP_VONAGE_MD5HASH, "secret",
	    "timestamp=1461605396&b=2&sig=ignored&a=1");
	CHECK_STR(sig, "6af838ef94998832dbfc29020b564830");
	g_free(sig);
}

static void
sms_sig_our_vectors_match(void)
{
	char	*sig;

	sig = sms_signature(HTTP_VONAGE_MD5HASH, SECRET, OUR_SMS_FORM);
	CHECK_STR(sig, "2ddbf1b47eec5fbb161780b2a65b4b55");
	g_free(sig);
	sig = sms_signature(HTTP_VONAGE_HMAC_SHA256, SECRET, OUR_SMS_FORM);
	CHECK_STR(sig, "CCB0D671E2525E9EDC006AD9589B6C8E"
	    "AE0B45F3F4791FAB52237026C7106BB7");
	g_free(sig);
	sig = sms_signature(HTTP_VONAGE_HMAC_SHA512, SECRET, OUR_SMS_FORM);
	CHECK_STR(sig, "AD979409502509C6FB77D79E00272B37"
	    "AE69F8D13A029557865173E28341C3F5F0BBE3096EB0D50622CFAD5D40C6"
	    "1255957FBB1CA42DF2D5F142DE3B239664CB");
	g_free(sig);
}

static void
sms_inbound_signed_valid(void)
{
	CHECK_INT(sms_check(&keys, INBOUND_ACK_FORM, SMS_SIGNED_S + 30),
	    HTTP_VONAGE_VALID);
	CHECK_INT(sms_check(&keys, INBOUND_OTHER_COUNTRY_FORM,
	    SMS_SIGNED_S + 30), HTTP_VONAGE_VALID);
}

static void
sms_sig_upper_case_valid(void)
{
	CHECK_INT(sms_check(&keys, OUR_SMS_FORM
	    "&sig=2DDBF1B47EEC5FBB161780B2A65B4B55", SMS_SIGNED_S),
	    HTTP_VONAGE_VALID);
}

static void
sms_hmac_sha256_lower_case_valid(void)
{
	struct http_vonage_keys	k = keys;

	k.sms_method = HTTP_VONAGE_HMAC_SHA256;
	CHECK_INT(sms_check(&k, OUR_SMS_FORM "&sig=ccb0d671e2525e9edc006ad9"
	    "589b6c8eae0b45f3f4791fab52237026c7106bb7", SMS_SIGNED_S),
	    HTTP_VONAGE_VALID);
	CHECK_INT(sms_check(&k, OUR_SMS_FORM
	    "&sig=2ddbf1b47eec5fbb161780b2a65b4b55", SMS_SIGNED_S),
	    HTTP_VONAGE_BAD_SIGNATURE);
}

static void
sms_changed_text_bad_signature(void)
{
	char	*body;

	body = g_strdup(INBOUND_ACK_FORM);
	memcpy(strstr(body, "ACK+1042"), "ACK+1043", 8);
	CHECK_INT(sms_check(&keys, body, SMS_SIGNED_S),
	    HTTP_VONAGE_BAD_SIGNATURE);
	g_free(body);
}

static void
sms_wrong_secret_bad_signature(void)
{
	struct http_vonage_keys	k = keys;

	k.signature_secret = "test_signature_secret_0123456788";
	CHECK_INT(sms_check(&k, INBOUND_ACK_FORM, SMS_SIGNED_S),
	    HTTP_VONAGE_BAD_SIGNATURE);
}

static void
sms_old_or_future_timestamp_stale(void)
{
	CHECK_INT(sms_check(&keys, INBOUND_ACK_FORM, SMS_SIGNED_S + 300),
	    HTTP_VONAGE_VALID);
	CHECK_INT(sms_check(&keys, INBOUND_ACK_FORM, SMS_SIGNED_S + 301),
	    HTTP_VONAGE_STALE);
	CHECK_INT(sms_check(&keys, INBOUND_ACK_FORM, SMS_SIGNED_S - 300),
	    HTTP_VONAGE_VALID);
	CHECK_INT(sms_check(&keys, INBOUND_ACK_FORM, SMS_SIGNED_S - 301),
	    HTTP_VONAGE_STALE);
}

static void
sms_missing_sig_unsigned(void)
{
	CHECK_INT(sms_check(&keys, OUR_SMS_FORM, SMS_SIGNED_S),
	    HTTP_VONAGE_UNSIGNED);
	CHECK_INT(sms_check(&keys, OUR_SMS_FORM "&sig=", SMS_SIGNED_S),
	    HTTP_VONAGE_UNSIGNED);
}

static void
sms_missing_timestamp_malformed(void)
{
	CHECK_INT(sms_check(&keys, "a=1&sig=6af838ef94998832dbfc29020b564830",
	    SMS_SIGNED_S), HTTP_VONAGE_MALFORMED);
	CHECK_INT(sms_check(&keys, "a=1&timestamp=soon&sig=6af8",
	    SMS_SIGNED_S), HTTP_VONAGE_MALFORMED);
}

static void
voice_vector_valid(void)
{
	CHECK_INT(voice_check(VOICE_AUTH, VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_VALID);
	CHECK_INT(voice_check(VOICE_AUTH, VOICE_BODY, VOICE_IAT_S - 300),
	    HTTP_VONAGE_VALID);
}

static void
voice_jti_read(void)
{
	char	*jti;

	jti = http_vonage_voice_jti(VOICE_AUTH);
	CHECK_STR(jti, "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5");
	g_free(jti);
	CHECK(http_vonage_voice_jti(NULL) == NULL);
	CHECK(http_vonage_voice_jti("Bearer x.y") == NULL);
}

static void
voice_old_or_future_iat_stale(void)
{
	CHECK_INT(voice_check(VOICE_AUTH, VOICE_BODY, VOICE_IAT_S + 301),
	    HTTP_VONAGE_STALE);
	CHECK_INT(voice_check(VOICE_AUTH, VOICE_BODY, VOICE_IAT_S - 301),
	    HTTP_VONAGE_STALE);
}

static void
voice_changed_body_bad_body(void)
{
	char	*body;

	body = g_strdup(VOICE_BODY);
	memcpy(strstr(body, "\"digits\":\"1\""), "\"digits\":\"2\"", 12);
	CHECK_INT(voice_check(VOICE_AUTH, body, VOICE_IAT_S),
	    HTTP_VONAGE_BAD_BODY);
	CHECK_INT(voice_check(VOICE_AUTH, "", VOICE_IAT_S),
	    HTTP_VONAGE_BAD_BODY);
	g_free(body);
}

static void
voice_changed_signature_bad_signature(void)
{
	CHECK_INT(voice_check("Bearer " VOICE_TOKEN_HEADER "."
	    VOICE_TOKEN_CLAIMS ".wes4omYgPiyO44fq5bCdRqkcDpQ7H8NKME1DU-LsR7K",
	    VOICE_BODY, VOICE_IAT_S), HTTP_VONAGE_BAD_SIGNATURE);
	CHECK_INT(voice_check("Bearer " VOICE_TOKEN_HEADER "."
	    VOICE_TOKEN_CLAIMS ".", VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_BAD_SIGNATURE);
}

static void
voice_wrong_secret_bad_signature(void)
{
	struct http_vonage_keys	k = keys;

	k.signature_secret = "secret";
	CHECK_INT(http_vonage_voice_check(&k, VOICE_AUTH, VOICE_BODY,
	    strlen(VOICE_BODY), VOICE_IAT_S), HTTP_VONAGE_BAD_SIGNATURE);
}

static void
voice_alg_none_rejected(void)
{
	/* {"alg":"none","typ":"JWT"} with the vector's claims, unsigned. */
	CHECK_INT(voice_check("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
	    VOICE_TOKEN_CLAIMS ".", VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_BAD_CLAIMS);
	CHECK_INT(voice_check("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
	    VOICE_TOKEN_CLAIMS "." VOICE_TOKEN_SIG, VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_BAD_CLAIMS);
}

static void
voice_other_api_key_bad_claims(void)
{
	struct http_vonage_keys	k = keys;

	k.api_key = "abcd1235";
	CHECK_INT(http_vonage_voice_check(&k, VOICE_AUTH, VOICE_BODY,
	    strlen(VOICE_BODY), VOICE_IAT_S), HTTP_VONAGE_BAD_CLAIMS);
}

static void
voice_other_issuer_bad_claims(void)
{
	char	*auth;

	auth = voice_auth_make("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"iat\":1768471205,\"jti\":\"j\",\"iss\":\"Mallory\","
	    "\"payload_hash\":\"" VOICE_HASH "\",\"api_key\":\"abcd1234\"}",
	    SECRET);
	CHECK_INT(voice_check(auth, VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_BAD_CLAIMS);
	g_free(auth);
}

static void
voice_hash_left_out_only_for_empty_body(void)
{
	char	*auth;

	auth = voice_auth_make("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"iat\":1768471205,\"jti\":\"j\",\"iss\":\"Vonage\","
	    "\"api_key\":\"abcd1234\"}", SECRET);
	CHECK_INT(voice_check(auth, "", VOICE_IAT_S), HTTP_VONAGE_VALID);
	CHECK_INT(voice_check(auth, NULL, VOICE_IAT_S), HTTP_VONAGE_VALID);
	CHECK_INT(voice_check(auth, VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_BAD_BODY);
	g_free(auth);
}

static void
voice_missing_token_unsigned(void)
{
	CHECK_INT(voice_check(NULL, VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_UNSIGNED);
	CHECK_INT(voice_check("Basic YTpi", VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_UNSIGNED);
	CHECK_INT(voice_check("Bearer ", VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_UNSIGNED);
}

static void
voice_garbled_token_malformed(void)
{
	char	*auth;

	CHECK_INT(voice_check("Bearer abc", VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_MALFORMED);
	CHECK_INT(voice_check("Bearer a.b.c.d", VOICE_BODY, VOICE_IAT_S),
	    HTTP_VONAGE_MALFORMED);
	auth = voice_auth_make("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"iat\":\"1768471205\",\"iss\":\"Vonage\"}", SECRET);
	CHECK_INT(voice_check(auth, "", VOICE_IAT_S), HTTP_VONAGE_MALFORMED);
	g_free(auth);
	auth = voice_auth_make("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "[1768471205]", SECRET);
	CHECK_INT(voice_check(auth, "", VOICE_IAT_S), HTTP_VONAGE_MALFORMED);
	g_free(auth);
}

static void
verdict_names_distinct(void)
{
	CHECK_STR(http_vonage_verdict_name(HTTP_VONAGE_VALID), "valid");
	CHECK_STR(http_vonage_verdict_name(HTTP_VONAGE_STALE), "stale");
	CHECK_STR(http_vonage_verdict_name(HTTP_VONAGE_BAD_BODY),
	    "bad body hash");
	CHECK_STR(http_vonage_verdict_name((enum http_vonage_verdict)99),
	    "unknown");
}

int
main(void)
{
	TAP_RUN(sig_method_names_parsed);
	TAP_RUN(sms_sig_sdk_vector_md5hash);
	TAP_RUN(sms_sig_our_vectors_match);
	TAP_RUN(sms_inbound_signed_valid);
	TAP_RUN(sms_sig_upper_case_valid);
	TAP_RUN(sms_hmac_sha256_lower_case_valid);
	TAP_RUN(sms_changed_text_bad_signature);
	TAP_RUN(sms_wrong_secret_bad_signature);
	TAP_RUN(sms_old_or_future_timestamp_stale);
	TAP_RUN(sms_missing_sig_unsigned);
	TAP_RUN(sms_missing_timestamp_malformed);
	TAP_RUN(voice_vector_valid);
	TAP_RUN(voice_jti_read);
	TAP_RUN(voice_old_or_future_iat_stale);
	TAP_RUN(voice_changed_body_bad_body);
	TAP_RUN(voice_changed_signature_bad_signature);
	TAP_RUN(voice_wrong_secret_bad_signature);
	TAP_RUN(voice_alg_none_rejected);
	TAP_RUN(voice_other_api_key_bad_claims);
	TAP_RUN(voice_other_issuer_bad_claims);
	TAP_RUN(voice_hash_left_out_only_for_empty_body);
	TAP_RUN(voice_missing_token_unsigned);
	TAP_RUN(voice_garbled_token_malformed);
	TAP_RUN(verdict_names_distinct);
	return tap_done();
}
