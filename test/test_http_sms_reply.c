/* SPDX-License-Identifier: ISC */
/*
 * Tests of http_sms_reply_parse: real spellings of an acknowledgement taken
 * from signed inbound SMS webhooks, look-alikes that must not acknowledge,
 * and the opt-out keywords.
 */

#include <string.h>

#include <glib.h>

#include "http.h"
#include "tap.h"

/* Public URL and auth token that signed data/http/sms-reply-NN.http. */
#define PUBLIC_URL	"https://pager.support.example.com"
#define PAGING_TOKEN	"12345678901234567890123456789012"

/* Decodes the form body of data/http/sms-reply-NN.http into form. */
static int
corpus_form_load(int nn, struct http_form *form)
{
	char	*path, *raw = NULL, *body;
	gsize	 len;
	int	 rc = -1;

	path = g_strdup_printf("data/http/sms-reply-%02d.http", nn);
	if (!g_file_get_contents(path, &raw, &len, NULL))
		goto out;
	body = strstr(raw, "\r\n\r\n");
	if (body == NULL)
		goto out;
	body += 4;
	rc = http_form_parse(body, len - (gsize)(body - raw), form);
out:
	if (rc == -1)
		printf("# cannot load %s\n", path);
	g_free(raw);
	g_free(path);
	return rc;
}

/* Returns the X-Twilio-Signature of data/http/sms-reply-NN.http. */
static char *
corpus_signature_dup(int nn)
{
	char	*path, *raw = NULL, *line, *sig = NULL;

	path = g_strdup_printf("data/http/sms-reply-%02d.http", nn);
	if (!g_file_get_contents(path, &raw, NULL, NULL))
		goto out;
	line = strstr(raw, "\r\nX-Twilio-Signature: ");
	if (line == NULL)
		goto out;
	line += strlen("\r\nX-Twilio-Signature: ");
	sig = g_strndup(line, strcspn(line, "\r\n"));
out:
	g_free(raw);
	g_free(path);
	return sig;
}

static void
check_reply(const char *body, enum http_sms_kind kind, int64_t incident_id,
    const char *note)
{
	struct http_sms_reply	reply;
	bool			had_failed = tap_case_failed;

	tap_case_failed = false;
	http_sms_reply_parse(body, &reply);
	CHECK_INT(reply.kind, kind);
	CHECK_INT(reply.incident_id, incident_id);
	CHECK_STR(reply.note, note);
	http_sms_reply_fini(&reply);
	if (tap_case_failed)
		printf("# for the reply \"%s\"\n", body);
	tap_case_failed = tap_case_failed || had_failed;
}

/* Checks the Body of data/http/sms-reply-NN.http as check_reply does. */
static void
check_corpus_reply(int nn, const char *want_body, enum http_sms_kind kind,
    int64_t incident_id, const char *note)
{
	struct http_form	form;

	if (corpus_form_load(nn, &form) == -1) {
		tap_case_failed = true;
		return;
	}
	CHECK_STR(http_form_get(&form, "Body"), want_body);
	if (http_form_get(&form, "Body") != NULL)
		check_reply(http_form_get(&form, "Body"), kind, incident_id,
		    note);
	http_form_fini(&form);
}

static void
corpus_files_signed_for_public_url(void)
{
	struct http_form	 form;
	char			*sig;
	int			 nn;

	for (nn = 1; nn <= 20; nn++) {
		if (corpus_form_load(nn, &form) == -1) {
			tap_case_failed = true;
			continue;
		}
		sig = corpus_signature_dup(nn);
		if (!http_twilio_signature_is_valid(PAGING_TOKEN,
		    PUBLIC_URL "/hooks/twilio/sms", &form, sig)) {
			printf("# sms-reply-%02d.http: bad signature\n", nn);
			tap_case_failed = true;
		}
		g_free(sig);
		http_form_fini(&form);
	}
}

static void
reply_upper_ack_acks(void)
{
	check_corpus_reply(1, "ACK", HTTP_SMS_ACK, 0, NULL);
}

static void
reply_lower_ack_acks(void)
{
	check_corpus_reply(2, "ack", HTTP_SMS_ACK, 0, NULL);
}

static void
reply_ack_full_stop_acks(void)
{
	check_corpus_reply(3, "Ack.", HTTP_SMS_ACK, 0, NULL);
}

static void
reply_spaces_around_acks(void)
{
	check_corpus_reply(4, "  ack 1042  ", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_hash_number_acks(void)
{
	check_corpus_reply(5, "ACK #1042", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_emoji_after_word_acks(void)
{
	check_corpus_reply(6, "Ack \xf0\x9f\x91\x8d", HTTP_SMS_ACK, 0,
	    "\xf0\x9f\x91\x8d");
}

static void
reply_digit_one_acks(void)
{
	check_corpus_reply(7, "1", HTTP_SMS_ACK, 0, NULL);
}

static void
reply_number_without_space_acks(void)
{
	check_corpus_reply(8, "ACK1042", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_note_after_comma_kept(void)
{
	check_corpus_reply(9, "ACK 1042, on my way", HTTP_SMS_ACK, 1042,
	    "on my way");
}

static void
reply_no_break_space_acks(void)
{
	check_corpus_reply(10, "ACK\xc2\xa0" "1042", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_acknowledged_acks(void)
{
	check_corpus_reply(11, "Acknowledged", HTTP_SMS_ACK, 0, NULL);
}

static void
reply_nack_not_ack(void)
{
	check_corpus_reply(12, "NACK", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_not_ack_yet_not_ack(void)
{
	check_corpus_reply(13, "not ack yet", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_back_in_10_not_ack(void)
{
	check_corpus_reply(14, "back in 10", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_jack_not_ack(void)
{
	check_corpus_reply(15, "Jack", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_other_incident_number_kept(void)
{
	/*
	 * "ACK 1043" is an ack of incident 1043 by its grammar.  The daemon
	 * rejects it when 1043 is not an open incident paging the sender,
	 * and must not read it as an ack of her incident 1042 instead.
	 */
	check_corpus_reply(16, "ACK 1043", HTTP_SMS_ACK, 1043, NULL);
}

static void
reply_other_digits_not_ack(void)
{
	check_corpus_reply(17, "11", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_question_not_ack(void)
{
	check_corpus_reply(18, "Ack?", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_ok_not_ack(void)
{
	check_corpus_reply(19, "OK", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_empty_mms_not_ack(void)
{
	check_corpus_reply(20, "", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_opt_out_keywords_opt_out(void)
{
	check_reply("STOP", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("stop", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("stop  ", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply(" \tStop\r\n", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("StopAll", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("UNSUBSCRIBE", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("cancel", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("End", HTTP_SMS_OPT_OUT, 0, NULL);
	check_reply("QUIT\xc2\xa0", HTTP_SMS_OPT_OUT, 0, NULL);
}

static void
reply_opt_in_keywords_opt_in(void)
{
	check_reply("START", HTTP_SMS_OPT_IN, 0, NULL);
	check_reply(" start ", HTTP_SMS_OPT_IN, 0, NULL);
	check_reply("Yes", HTTP_SMS_OPT_IN, 0, NULL);
	check_reply("unstop", HTTP_SMS_OPT_IN, 0, NULL);
}

static void
reply_help_keywords_help(void)
{
	check_reply("HELP", HTTP_SMS_HELP, 0, NULL);
	check_reply("help\n", HTTP_SMS_HELP, 0, NULL);
	check_reply("Info", HTTP_SMS_HELP, 0, NULL);
}

static void
reply_keyword_in_sentence_other(void)
{
	check_reply("stop now", HTTP_SMS_OTHER, 0, NULL);
	check_reply("please stop", HTTP_SMS_OTHER, 0, NULL);
	check_reply("STOP.", HTTP_SMS_OTHER, 0, NULL);
	check_reply("help me", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_question_after_number_not_ack(void)
{
	check_reply("Ack 1042?", HTTP_SMS_OTHER, 0, NULL);
	check_reply("ack 1042 ?", HTTP_SMS_OTHER, 0, NULL);
	check_reply("ack ?", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_number_too_long_not_ack(void)
{
	check_reply("ACK 99999999999999999999", HTTP_SMS_OTHER, 0, NULL);
	check_reply("ACK 1234567890123456789", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_eighteen_digit_number_acks(void)
{
	check_reply("ACK 999999999999999999", HTTP_SMS_ACK,
	    INT64_C(999999999999999999), NULL);
}

static void
reply_number_zero_not_ack(void)
{
	/* No incident is 0, and a bare ack would pick the open one. */
	check_reply("ACK 0", HTTP_SMS_OTHER, 0, NULL);
	check_reply("ack #000", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_letters_after_number_not_ack(void)
{
	check_reply("ack 1042abc", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_longer_word_not_ack(void)
{
	check_reply("acked", HTTP_SMS_OTHER, 0, NULL);
	check_reply("acks", HTTP_SMS_OTHER, 0, NULL);
	check_reply("Acknowledge", HTTP_SMS_OTHER, 0, NULL);
	check_reply("acknowledgedd", HTTP_SMS_OTHER, 0, NULL);
	check_reply("ackn 1042", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_empty_other(void)
{
	check_reply("", HTTP_SMS_OTHER, 0, NULL);
	check_reply(" \t\r\n", HTTP_SMS_OTHER, 0, NULL);
	check_reply("\xe3\x80\x80\xc2\xa0\xe2\x80\x8b", HTTP_SMS_OTHER, 0,
	    NULL);
}

static void
reply_one_with_punctuation_acks(void)
{
	check_reply("1.", HTTP_SMS_ACK, 0, NULL);
	check_reply("1!", HTTP_SMS_ACK, 0, NULL);
	check_reply(" 1\n", HTTP_SMS_ACK, 0, NULL);
}

static void
reply_other_digit_strings_other(void)
{
	check_reply("2", HTTP_SMS_OTHER, 0, NULL);
	check_reply("01", HTTP_SMS_OTHER, 0, NULL);
	check_reply("1042", HTTP_SMS_OTHER, 0, NULL);
	check_reply("1 1042", HTTP_SMS_OTHER, 0, NULL);
	check_reply("1?", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_unicode_spaces_trimmed(void)
{
	/* U+3000 first, U+2003 and U+00A0 inside, U+202F last. */
	check_reply("\xe3\x80\x80" "ACK\xe2\x80\x83 #\xc2\xa0" "1042"
	    "\xe2\x80\xaf", HTTP_SMS_ACK, 1042, NULL);
	check_reply("ack\t1042\r\n", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_hash_without_space_acks(void)
{
	check_reply("ACK#1042", HTTP_SMS_ACK, 1042, NULL);
	check_reply("ack # 1042", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_emoji_without_space_acks(void)
{
	check_reply("ack\xf0\x9f\x91\x8d", HTTP_SMS_ACK, 0,
	    "\xf0\x9f\x91\x8d");
}

static void
reply_note_kept_byte_for_byte(void)
{
	/* Leading ASCII punctuation is dropped, but the en dash stays. */
	check_reply("ACK 1042 \xe2\x80\x93 J\xc3\xb6rg's on it "
	    "\xf0\x9f\x91\x8d +1 & 100% sure", HTTP_SMS_ACK, 1042,
	    "\xe2\x80\x93 J\xc3\xb6rg's on it \xf0\x9f\x91\x8d +1 & 100% sure");
	check_reply("Ack - on my way ", HTTP_SMS_ACK, 0, "on my way");
	check_reply("Ack, eta 5m.", HTTP_SMS_ACK, 0, "eta 5m.");
}

static void
reply_smiley_only_no_note(void)
{
	check_reply("ack :)", HTTP_SMS_ACK, 0, NULL);
	check_reply("ACK 1042!!", HTTP_SMS_ACK, 1042, NULL);
}

static void
reply_invalid_utf8_note_replaced(void)
{
	check_reply("ack 7 \xff ok", HTTP_SMS_ACK, 7, "\xef\xbf\xbd ok");
}

/*
 * A number after punctuation names its incident, so that it is never read
 * as the note of a bare ack, which would acknowledge another incident.
 */
static void
reply_number_after_punctuation_named(void)
{
	check_reply("ACK: 1", HTTP_SMS_ACK, 1, NULL);
	check_reply("ACK-1", HTTP_SMS_ACK, 1, NULL);
	check_reply("ACK -1", HTTP_SMS_ACK, 1, NULL);
	check_reply("ACK #-1", HTTP_SMS_ACK, 1, NULL);
	check_reply("ACK (1)", HTTP_SMS_ACK, 1, NULL);
	check_reply("Ack, 1042 on it", HTTP_SMS_ACK, 1042, "on it");
	check_reply("ACK - 0", HTTP_SMS_OTHER, 0, NULL);
}

static void
reply_fini_clears_note(void)
{
	struct http_sms_reply	reply;

	http_sms_reply_parse("ack, here", &reply);
	CHECK_STR(reply.note, "here");
	http_sms_reply_fini(&reply);
	CHECK(reply.note == NULL);
}

int
main(void)
{
	TAP_RUN(corpus_files_signed_for_public_url);
	TAP_RUN(reply_upper_ack_acks);
	TAP_RUN(reply_lower_ack_acks);
	TAP_RUN(reply_ack_full_stop_acks);
	TAP_RUN(reply_spaces_around_acks);
	TAP_RUN(reply_hash_number_acks);
	TAP_RUN(reply_emoji_after_word_acks);
	TAP_RUN(reply_digit_one_acks);
	TAP_RUN(reply_number_without_space_acks);
	TAP_RUN(reply_note_after_comma_kept);
	TAP_RUN(reply_no_break_space_acks);
	TAP_RUN(reply_acknowledged_acks);
	TAP_RUN(reply_nack_not_ack);
	TAP_RUN(reply_not_ack_yet_not_ack);
	TAP_RUN(reply_back_in_10_not_ack);
	TAP_RUN(reply_jack_not_ack);
	TAP_RUN(reply_other_incident_number_kept);
	TAP_RUN(reply_other_digits_not_ack);
	TAP_RUN(reply_question_not_ack);
	TAP_RUN(reply_ok_not_ack);
	TAP_RUN(reply_empty_mms_not_ack);
	TAP_RUN(reply_opt_out_keywords_opt_out);
	TAP_RUN(reply_opt_in_keywords_opt_in);
	TAP_RUN(reply_help_keywords_help);
	TAP_RUN(reply_keyword_in_sentence_other);
	TAP_RUN(reply_question_after_number_not_ack);
	TAP_RUN(reply_number_too_long_not_ack);
	TAP_RUN(reply_eighteen_digit_number_acks);
	TAP_RUN(reply_number_zero_not_ack);
	TAP_RUN(reply_letters_after_number_not_ack);
	TAP_RUN(reply_longer_word_not_ack);
	TAP_RUN(reply_empty_other);
	TAP_RUN(reply_one_with_punctuation_acks);
	TAP_RUN(reply_other_digit_strings_other);
	TAP_RUN(reply_unicode_spaces_trimmed);
	TAP_RUN(reply_hash_without_space_acks);
	TAP_RUN(reply_emoji_without_space_acks);
	TAP_RUN(reply_note_kept_byte_for_byte);
	TAP_RUN(reply_smiley_only_no_note);
	TAP_RUN(reply_invalid_utf8_note_replaced);
	TAP_RUN(reply_number_after_punctuation_named);
	TAP_RUN(reply_fini_clears_note);
	return tap_done();
}
