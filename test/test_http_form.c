/* SPDX-License-Identifier: ISC */
/*
 * Tests of http_form_parse: application/x-www-form-urlencoded decoding as
 * Twilio's webhooks send it, with repeats, empty values and odd bytes.
 */

#include <string.h>

#include "http.h"
#include "tap.h"

/* Parses the NUL-terminated body s and checks that it succeeds. */
static void
form_parse_ok(const char *s, struct http_form *form)
{
	CHECK_INT(http_form_parse(s, strlen(s), form), 0);
}

/* Checks that body s of len bytes is rejected and leaves form empty. */
static void
form_parse_fails(const char *s, size_t len)
{
	struct http_form	form;

	form.params = (struct http_param *)&form;
	form.n_params = 99;
	CHECK_INT(http_form_parse(s, len, &form), -1);
	CHECK(form.params == NULL);
	CHECK_INT(form.n_params, 0);
}

static void
form_plus_is_space(void)
{
	struct http_form	form;

	form_parse_ok("Body=ACK+1042++now", &form);
	CHECK_INT(form.n_params, 1);
	CHECK_STR(http_form_get(&form, "Body"), "ACK 1042  now");
	http_form_fini(&form);
}

static void
form_hex_escape_either_case_decoded(void)
{
	struct http_form	form;

	form_parse_ok("a=%2b%2B&b=%e2%80%93%C3%B6&%41=%7e", &form);
	CHECK_INT(form.n_params, 3);
	CHECK_STR(http_form_get(&form, "a"), "++");
	CHECK_STR(http_form_get(&form, "b"), "\xe2\x80\x93\xc3\xb6");
	CHECK_STR(http_form_get(&form, "A"), "~");
	http_form_fini(&form);
}

static void
form_escaped_separators_stay_in_value(void)
{
	struct http_form	form;

	form_parse_ok("Body=1+%26+2%3D3&x=a=b", &form);
	CHECK_INT(form.n_params, 2);
	CHECK_STR(http_form_get(&form, "Body"), "1 & 2=3");
	CHECK_STR(http_form_get(&form, "x"), "a=b");
	http_form_fini(&form);
}

static void
form_bad_hex_digit_rejected(void)
{
	form_parse_fails("a=%G1", 5);
	form_parse_fails("a=%1G", 5);
	form_parse_fails("%zz=1", 5);
}

static void
form_truncated_escape_rejected(void)
{
	form_parse_fails("a=%4", 4);
	form_parse_fails("a=%", 3);
	form_parse_fails("a=1&b=%4&c=2", 12);
}

static void
form_escaped_nul_rejected(void)
{
	form_parse_fails("a=1&b=x%00y", 11);
}

static void
form_raw_nul_rejected(void)
{
	form_parse_fails("a=1\0b", 5);
}

static void
form_failure_after_good_params_empty(void)
{
	/* Two pairs decode before the bad one, and none may be left. */
	form_parse_fails("a=1&b=2&c=%", 11);
}

static void
form_empty_body_no_params(void)
{
	struct http_form	form;

	CHECK_INT(http_form_parse("", 0, &form), 0);
	CHECK_INT(form.n_params, 0);
	http_form_fini(&form);
	CHECK(form.params == NULL);
}

static void
form_name_without_equals_empty_value(void)
{
	struct http_form	form;

	form_parse_ok("a&b=", &form);
	CHECK_INT(form.n_params, 2);
	CHECK_STR(form.params[0].name, "a");
	CHECK_STR(form.params[0].value, "");
	CHECK_STR(form.params[1].name, "b");
	CHECK_STR(form.params[1].value, "");
	http_form_fini(&form);
}

static void
form_empty_segments_skipped(void)
{
	struct http_form	form;

	form_parse_ok("&a=1&&b=2&", &form);
	CHECK_INT(form.n_params, 2);
	CHECK_STR(form.params[0].name, "a");
	CHECK_STR(form.params[1].name, "b");
	http_form_fini(&form);
}

static void
form_order_and_repeats_kept(void)
{
	struct http_form	form;

	form_parse_ok("z=1&Digits=5678&a=2&Digits=1234&Digits=5678", &form);
	CHECK_INT(form.n_params, 5);
	CHECK_STR(form.params[0].name, "z");
	CHECK_STR(form.params[1].value, "5678");
	CHECK_STR(form.params[2].name, "a");
	CHECK_STR(form.params[3].value, "1234");
	CHECK_STR(form.params[4].name, "Digits");
	CHECK_STR(form.params[4].value, "5678");
	CHECK_STR(http_form_get(&form, "Digits"), "5678");
	http_form_fini(&form);
}

static void
form_get_missing_name_null(void)
{
	struct http_form	form;

	form_parse_ok("Body=x", &form);
	CHECK(http_form_get(&form, "body") == NULL);
	CHECK(http_form_get(&form, "From") == NULL);
	http_form_fini(&form);
}

static void
form_invalid_utf8_value_kept(void)
{
	struct http_form	form;

	form_parse_ok("Body=%FF%FEok", &form);
	CHECK_STR(http_form_get(&form, "Body"), "\xff\xfeok");
	http_form_fini(&form);
}

static void
form_length_bounds_body(void)
{
	struct http_form	form;

	/* Only the first 3 bytes are the body: no NUL terminator needed. */
	CHECK_INT(http_form_parse("a=1&b=2", 3, &form), 0);
	CHECK_INT(form.n_params, 1);
	CHECK_STR(http_form_get(&form, "a"), "1");
	CHECK(http_form_get(&form, "b") == NULL);
	http_form_fini(&form);
}

static void
form_twilio_sms_body_decoded(void)
{
	static const char	body[] =
	    "To=%2B15017122661&From=%2B15558675310&Body=ACK+1001"
	    "&MessageSid=SM00000000000000000000000000000077"
	    "&SmsSid=SM00000000000000000000000000000077"
	    "&SmsMessageSid=SM00000000000000000000000000000077"
	    "&AccountSid=AC00000000000000000000000000000001"
	    "&NumMedia=0&NumSegments=1&SmsStatus=received"
	    "&ApiVersion=2010-04-01";
	struct http_form	form;

	form_parse_ok(body, &form);
	CHECK_INT(form.n_params, 11);
	CHECK_STR(http_form_get(&form, "Body"), "ACK 1001");
	CHECK_STR(http_form_get(&form, "To"), "+15017122661");
	CHECK_STR(http_form_get(&form, "From"), "+15558675310");
	CHECK_STR(http_form_get(&form, "NumMedia"), "0");
	CHECK_STR(form.params[10].name, "ApiVersion");
	CHECK_STR(form.params[10].value, "2010-04-01");
	http_form_fini(&form);
}

int
main(void)
{
	TAP_RUN(form_plus_is_space);
	TAP_RUN(form_hex_escape_either_case_decoded);
	TAP_RUN(form_escaped_separators_stay_in_value);
	TAP_RUN(form_bad_hex_digit_rejected);
	TAP_RUN(form_truncated_escape_rejected);
	TAP_RUN(form_escaped_nul_rejected);
	TAP_RUN(form_raw_nul_rejected);
	TAP_RUN(form_failure_after_good_params_empty);
	TAP_RUN(form_empty_body_no_params);
	TAP_RUN(form_name_without_equals_empty_value);
	TAP_RUN(form_empty_segments_skipped);
	TAP_RUN(form_order_and_repeats_kept);
	TAP_RUN(form_get_missing_name_null);
	TAP_RUN(form_invalid_utf8_value_kept);
	TAP_RUN(form_length_bounds_body);
	TAP_RUN(form_twilio_sms_body_decoded);
	return tap_done();
}
