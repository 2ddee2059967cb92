/* SPDX-License-Identifier: ISC */
/*
 * Tests of X-Twilio-Signature: the published Twilio vector, critgate's own
 * Gather and SMS vectors, the port rule, and raw webhook requests captured
 * behind a TLS proxy, checked against the configured public URL.
 */

#include <string.h>

#include <glib.h>

#include "http.h"
#include "tap.h"

#define VECTOR_A_TOKEN	"12345"
#define VECTOR_A_URL	"https://mycompany.com/myapp.php?foo=1&bar=2"
#define VECTOR_A_URL_443 "https://mycompany.com:443/myapp.php?foo=1&bar=2"
#define VECTOR_A_SIG	"RSOYDt4T1cUTdK1PDd93/VVr8B8="
#define VECTOR_A_SIG_443 "kvajT1Ptam85bY51eRf/AJRuM3w="
#define VECTOR_A_BODY							\
	"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"	\
	"&From=%2B14158675309&To=%2B18005551212"

#define OUR_TOKEN	"test_auth_token_0123456789abcdef"

/* Public URL and auth token that signed the captured requests below. */
#define PUBLIC_URL	"https://pager.support.example.com"
#define PAGING_TOKEN	"12345678901234567890123456789012"

struct raw_request {
	char			*target;	/* request-target */
	char			*signature;	/* X-Twilio-Signature or NULL */
	struct http_form	 form;
};

static void
form_from(const char *body, struct http_form *form)
{
	CHECK_INT(http_form_parse(body, strlen(body), form), 0);
}

static void
check_signature(const char *token, const char *url, const char *body,
    const char *want)
{
	struct http_form	 form;
	char			*sig;

	form_from(body, &form);
	sig = http_twilio_signature(token, url, &form);
	CHECK_STR(sig, want);
	g_free(sig);
	http_form_fini(&form);
}

static bool
vector_a_is_valid(const char *token, const char *url, const char *body,
    const char *sig)
{
	struct http_form	form;
	bool			is_valid;

	form_from(body, &form);
	is_valid = http_twilio_signature_is_valid(token, url, &form, sig);
	http_form_fini(&form);
	return is_valid;
}

/* Returns the value of header name (with its colon) in lines, or NULL. */
static char *
header_value_dup(char **lines, const char *name)
{
	size_t	i, len = strlen(name);

	for (i = 1; lines[i] != NULL; i++) {
		if (g_ascii_strncasecmp(lines[i], name, len) == 0)
			return g_strstrip(g_strdup(lines[i] + len));
	}
	return NULL;
}

/*
 * Reads a raw HTTP request (CRLF line ends) from data/http/name: the
 * request-target, the signature header and the decoded form body.
 */
static int
raw_request_load(const char *name, struct raw_request *req)
{
	char	*path, *raw = NULL, *sep, *head = NULL, **lines = NULL;
	char	*length = NULL, **words = NULL;
	gsize	 len;
	int	 rc = -1;

	memset(req, 0, sizeof(*req));
	path = g_build_filename("data", "http", name, NULL);
	if (!g_file_get_contents(path, &raw, &len, NULL))
		goto out;
	sep = strstr(raw, "\r\n\r\n");
	if (sep == NULL)
		goto out;
	head = g_strndup(raw, (gsize)(sep - raw));
	lines = g_strsplit(head, "\r\n", -1);
	if (lines[0] == NULL)
		goto out;
	words = g_strsplit(lines[0], " ", 3);
	if (g_strv_length(words) != 3)
		goto out;
	req->target = g_strdup(words[1]);
	req->signature = header_value_dup(lines, "X-Twilio-Signature:");
	length = header_value_dup(lines, "Content-Length:");
	sep += 4;
	CHECK_INT(g_ascii_strtoull(length != NULL ? length : "0", NULL, 10),
	    len - (gsize)(sep - raw));
	rc = http_form_parse(sep, len - (gsize)(sep - raw), &req->form);
out:
	g_strfreev(words);
	g_free(length);
	g_strfreev(lines);
	g_free(head);
	g_free(raw);
	g_free(path);
	CHECK_INT(rc, 0);
	return rc;
}

static void
raw_request_fini(struct raw_request *req)
{
	g_free(req->target);
	g_free(req->signature);
	http_form_fini(&req->form);
}

/* Checks the request in file name against signed_url and public_url. */
static void
check_captured(const char *name, const char *signed_url,
    bool is_valid_for_public_url)
{
	struct raw_request	 req;
	char			*public_url;

	if (raw_request_load(name, &req) == -1)
		return;
	CHECK(req.signature != NULL);
	public_url = g_strconcat(PUBLIC_URL, req.target, NULL);
	CHECK(http_twilio_signature_is_valid(PAGING_TOKEN, signed_url,
	    &req.form, req.signature));
	CHECK_INT(http_twilio_signature_is_valid(PAGING_TOKEN, public_url,
	    &req.form, req.signature), is_valid_for_public_url);
	g_free(public_url);
	raw_request_fini(&req);
}

static void
vector_a_plain_url_signed(void)
{
	check_signature(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    VECTOR_A_SIG);
}

static void
vector_a_port_443_url_signed(void)
{
	check_signature(VECTOR_A_TOKEN, VECTOR_A_URL_443, VECTOR_A_BODY,
	    VECTOR_A_SIG_443);
}

static void
vector_a_repeated_keys_sorted_by_value(void)
{
	check_signature(VECTOR_A_TOKEN, VECTOR_A_URL,
	    "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234",
	    "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

static void
vector_a_exact_duplicate_signed_once(void)
{
	check_signature(VECTOR_A_TOKEN, VECTOR_A_URL,
	    "Digits=1234&Sid=CA123&Digits=5678&SidAccount=AC123&Digits=1234",
	    "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

static void
vector_a_body_hash_url_without_form(void)
{
	char	*sig;

	sig = http_twilio_signature(VECTOR_A_TOKEN, VECTOR_A_URL
	    "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e"
	    "41502b283a80c7cf19632632f96e6620", NULL);
	CHECK_STR(sig, "a9nBmqA0ju/hNViExpshrM61xv4=");
	g_free(sig);
}

static void
vector_b_gather_signed(void)
{
	check_signature(OUR_TOKEN,
	    "https://pager.example.net/hooks/twilio/voice/gather?page=P-1001",
	    "AccountSid=AC00000000000000000000000000000001"
	    "&ApiVersion=2010-04-01"
	    "&CallSid=CA00000000000000000000000000000042"
	    "&CallStatus=in-progress&Called=%2B15558675310"
	    "&Caller=%2B15017122661&Digits=1&Direction=outbound-api"
	    "&FinishedOnKey=&From=%2B15017122661&To=%2B15558675310",
	    "jFBaejA28amwyBOlkL5NFM16zVA=");
}

static void
vector_c_sms_signed(void)
{
	check_signature(OUR_TOKEN, "https://pager.example.net/hooks/twilio/sms",
	    "To=%2B15017122661&From=%2B15558675310&Body=ACK+1001"
	    "&MessageSid=SM00000000000000000000000000000077"
	    "&SmsSid=SM00000000000000000000000000000077"
	    "&SmsMessageSid=SM00000000000000000000000000000077"
	    "&AccountSid=AC00000000000000000000000000000001"
	    "&NumMedia=0&NumSegments=1&SmsStatus=received"
	    "&ApiVersion=2010-04-01",
	    "nLoN12+4I1rMMH9Qx95B3op++ps=");
}

static void
valid_signature_accepted(void)
{
	CHECK(vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    VECTOR_A_SIG));
}

static void
signature_with_port_443_accepted(void)
{
	/* Signed with ":443", checked against the URL without a port. */
	CHECK(vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    VECTOR_A_SIG_443));
	/* Signed without a port, checked against the URL with ":443". */
	CHECK(vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL_443,
	    VECTOR_A_BODY, VECTOR_A_SIG));
}

static void
signature_with_port_80_accepted(void)
{
	struct http_form	 form;
	char			*sig;

	form_from("Digits=1", &form);
	sig = http_twilio_signature("t", "http://h.example/x?a=1", &form);
	CHECK(http_twilio_signature_is_valid("t", "http://h.example:80/x?a=1",
	    &form, sig));
	g_free(sig);
	sig = http_twilio_signature("t", "http://h.example:80/x", &form);
	CHECK(http_twilio_signature_is_valid("t", "http://h.example/x",
	    &form, sig));
	g_free(sig);
	http_form_fini(&form);
}

static void
changed_body_param_rejected(void)
{
	CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL,
	    "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1"
	    "&From=%2B14158675309&To=%2B18005551212", VECTOR_A_SIG));
}

static void
added_body_param_rejected(void)
{
	CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL,
	    VECTOR_A_BODY "&FinishedOnKey=", VECTOR_A_SIG));
}

static void
wrong_token_rejected(void)
{
	CHECK(!vector_a_is_valid("12346", VECTOR_A_URL, VECTOR_A_BODY,
	    VECTOR_A_SIG));
}

static void
missing_signature_rejected(void)
{
	CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    NULL));
}

static void
empty_signature_rejected(void)
{
	CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    ""));
}

static void
signature_for_other_url_rejected(void)
{
	static const char *const other_urls[] = {
		"https://mycompany.com:8443/myapp.php?foo=1&bar=2",
		"http://mycompany.com/myapp.php?foo=1&bar=2",
		"http://mycompany.com:443/myapp.php?foo=1&bar=2",
		"https://mycompany.com/myapp.php?foo=1&bar=3",
		"https://mycompany.com/myapp.php",
		"https://staging.mycompany.com/myapp.php?foo=1&bar=2",
	};
	struct http_form	 form;
	char			*sig;
	size_t			 i;

	form_from(VECTOR_A_BODY, &form);
	for (i = 0; i < G_N_ELEMENTS(other_urls); i++) {
		sig = http_twilio_signature(VECTOR_A_TOKEN, other_urls[i],
		    &form);
		if (http_twilio_signature_is_valid(VECTOR_A_TOKEN,
		    VECTOR_A_URL, &form, sig)) {
			printf("# accepted a signature for %s\n",
			    other_urls[i]);
			tap_case_failed = true;
		}
		g_free(sig);
	}
	http_form_fini(&form);
}

static void
signature_one_char_changed_rejected(void)
{
	char	sig[] = VECTOR_A_SIG;
	size_t	i;

	for (i = 0; i < strlen(VECTOR_A_SIG); i++) {
		sig[i] = sig[i] == 'A' ? 'B' : 'A';
		CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL,
		    VECTOR_A_BODY, sig));
		sig[i] = VECTOR_A_SIG[i];
	}
}

static void
signature_other_length_rejected(void)
{
	CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
	CHECK(!vector_a_is_valid(VECTOR_A_TOKEN, VECTOR_A_URL, VECTOR_A_BODY,
	    VECTOR_A_SIG "="));
}

static void
proxied_sms_public_url_accepted(void)
{
	check_captured("proxied-sms-ack.http",
	    "https://pager.support.example.com/hooks/twilio/sms", true);
}

static void
gather_signed_with_port_443_accepted(void)
{
	check_captured("gather-signed-with-port-443.http",
	    "https://pager.support.example.com:443"
	    "/hooks/twilio/voice/gather?page=1042", true);
}

static void
staging_signed_forwarded_host_rejected(void)
{
	/*
	 * The signature is genuine for the staging instance that
	 * X-Forwarded-Host names, and so it must fail for our public URL.
	 */
	check_captured("staging-signed-forwarded-host.http",
	    "https://pager-staging.support.example.com/hooks/twilio/sms",
	    false);
}

static void
sms_body_encoding_accepted(void)
{
	struct raw_request	req;

	check_captured("sms-body-encoding.http",
	    "https://pager.support.example.com/hooks/twilio/sms", true);
	if (raw_request_load("sms-body-encoding.http", &req) == -1)
		return;
	CHECK_STR(http_form_get(&req.form, "Body"),
	    "ACK 1042 \xe2\x80\x93 J\xc3\xb6rg's on it \xf0\x9f\x91\x8d"
	    " +1 & 100% sure");
	CHECK_STR(http_form_get(&req.form, "ToCity"), "");
	CHECK_STR(http_form_get(&req.form, "AddOns"),
	    "{\"status\":\"successful\",\"message\":null,\"code\":null,"
	    "\"results\":{}}");
	raw_request_fini(&req);
}

int
main(void)
{
	TAP_RUN(vector_a_plain_url_signed);
	TAP_RUN(vector_a_port_443_url_signed);
	TAP_RUN(vector_a_repeated_keys_sorted_by_value);
	TAP_RUN(vector_a_exact_duplicate_signed_once);
	TAP_RUN(vector_a_body_hash_url_without_form);
	TAP_RUN(vector_b_gather_signed);
	TAP_RUN(vector_c_sms_signed);
	TAP_RUN(valid_signature_accepted);
	TAP_RUN(signature_with_port_443_accepted);
	TAP_RUN(signature_with_port_80_accepted);
	TAP_RUN(changed_body_param_rejected);
	TAP_RUN(added_body_param_rejected);
	TAP_RUN(wrong_token_rejected);
	TAP_RUN(missing_signature_rejected);
	TAP_RUN(empty_signature_rejected);
	TAP_RUN(signature_for_other_url_rejected);
	TAP_RUN(signature_one_char_changed_rejected);
	TAP_RUN(signature_other_length_rejected);
	TAP_RUN(proxied_sms_public_url_accepted);
	TAP_RUN(gather_signed_with_port_443_accepted);
	TAP_RUN(staging_signed_forwarded_host_rejected);
	TAP_RUN(sms_body_encoding_accepted);
	return tap_done();
}
