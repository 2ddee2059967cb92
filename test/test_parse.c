/* SPDX-License-Identifier: ISC */
/*
 * Tests of the parse stage: real-world messages from data/parse/ and short
 * inline ones, checking the decoded subject, sender, Message-ID, date and
 * body text, and that hostile input returns without crashing.
 */
#include <string.h>

#include <glib.h>

#include "parse.h"
#include "tap.h"

/* Parses a file from data/parse/ into out; returns parse_message's value. */
static int
parse_file(const char *name, struct parse_result *out)
{
	char	*path, *raw = NULL;
	gsize	 len = 0;
	int	 rc;

	path = g_build_filename("data", "parse", name, NULL);
	if (!g_file_get_contents(path, &raw, &len, NULL)) {
		printf("# cannot read %s\n", path);
		memset(out, 0, sizeof(*out));
		tap_case_failed = true;
		g_free(path);
		return -2;
	}
	rc = parse_message((const uint8_t *)raw, len, out);
	g_free(raw);
	g_free(path);
	return rc;
}

static int
parse_string(const char *text, struct parse_result *out)
{
	return parse_message((const uint8_t *)text, strlen(text), out);
}

static void
baseline_message_fields_extracted(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("baseline-critical.eml", &r), 0);
	CHECK_STR(r.subject, "Checkout down for all EU customers");
	CHECK_STR(r.from_addr, "dana@customer.example.net");
	CHECK_STR(r.from_name, "Dana Reyes");
	CHECK_STR(r.message_id, "20250603081358.A1@customer.example.net");
	/* Tue, 3 Jun 2025 10:13:58 +0200 */
	CHECK_INT(r.date_s, 1748938438);
	CHECK_CONTAINS(r.body_text,
	    "Payments fail with error 502 in all our shops.");
	CHECK(strchr(r.body_text, '\r') == NULL);
	CHECK(!r.is_unparseable);
	parse_result_fini(&r);
}

static void
subject_adjacent_base64_words_joined(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("subject-consecutive-b-words.eml", &r), 0);
	CHECK_STR(r.subject, "Checkout d\xc3\xb6rwn \xe2\x80\x93 all EU "
	    "shops affected");
	parse_result_fini(&r);
}

static void
html_only_body_reduced_to_text(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("html-only-body.eml", &r), 0);
	CHECK_STR(r.subject, "Zahlungen gest\xc3\xb6rt");
	CHECK_CONTAINS(r.body_text, "Zahlungen schlagen f\xc3\xbcr alle "
	    "Kunden fehl \xe2\x80\x93 seit 20:50 Uhr.");
	CHECK_CONTAINS(r.body_text, "Fehler: PSP-TIMEOUT");
	CHECK_CONTAINS(r.body_text, "Betroffen: alle L\xc3\xa4nder");
	CHECK(strstr(r.body_text, "MsoNormal") == NULL);
	CHECK(strstr(r.body_text, "display:none") == NULL);
	CHECK(strstr(r.body_text, "Newsletter") == NULL);
	CHECK(strstr(r.body_text, "&uuml;") == NULL);
	CHECK(strstr(r.body_text, "&#8211;") == NULL);
	CHECK(strstr(r.body_text, "&nbsp;") == NULL);
	CHECK(strchr(r.body_text, '<') == NULL);
	parse_result_fini(&r);
}

static void
message_id_folded_inside_unfolded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("msgid-folded-inside-id.eml", &r), 0);

	/* The local part keeps its case; the domain is lowercased. */
	CHECK_STR(r.message_id, "DB9PR10MB7145F3C2A1B9E0D4C7A2B9E1C4D2A@"
	    "db9pr10mb7145.eurprd10.prod.outlook.example.com");
	CHECK_STR(r.from_addr, "alice.ops@example.com");
	parse_result_fini(&r);
}

static void
mime_nesting_bomb_bounded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("mime-nesting-bomb.eml", &r), 0);
	CHECK_STR(r.subject, "Nested forward chain - shop search broken");
	CHECK_CONTAINS(r.body_text, "Shop search is broken since 20:21");
	parse_result_fini(&r);
}

static void
from_without_address_keeps_name(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("from-without-address.eml", &r), 0);
	CHECK_STR(r.from_addr, NULL);
	CHECK_STR(r.from_name, "UPS Monitoring System");
	CHECK_STR(r.subject, "UPS-3 on battery, 11 minutes runtime left");
	CHECK_CONTAINS(r.body_text, "Input power lost at 20:58.");
	parse_result_fini(&r);
}

static void
forwarded_message_outer_headers_kept(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("forwarded-page-as-attachment.eml", &r), 0);
	CHECK_STR(r.subject, "FW: [#1042] Checkout down for all EU customers");
	CHECK_STR(r.from_addr, "bob.night@example.com");
	CHECK_STR(r.from_name, "Bob Night");
	CHECK_STR(r.message_id, "20250603082200.bn2@example.com");
	CHECK_CONTAINS(r.body_text, "Who has this one?");
	CHECK(strstr(r.body_text, "CRITICAL incident") == NULL);
	parse_result_fini(&r);
}

static void
message_id_missing_null(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("From: a@example.com\r\nSubject: x\r\n\r\n"
	    "body\r\n", &r), 0);
	CHECK_STR(r.message_id, NULL);
	CHECK_INT(r.date_s, 0);
	parse_result_fini(&r);
}

static void
message_id_domain_lowercased(void)
{
	char	*id;

	id = parse_message_id_normalise("<ABC@Example.COM>");
	CHECK_STR(id, "ABC@example.com");
	g_free(id);
	id = parse_message_id_normalise(" \r\n\t<X.Y@Host.Example>\r\n");
	CHECK_STR(id, "X.Y@host.example");
	g_free(id);
}

static void
message_id_folded_unfolded(void)
{
	char	*id;

	id = parse_message_id_normalise("\r\n <part1.\r\n\tpart2@gw.\r\n "
	    "Example.com>");
	CHECK_STR(id, "part1.part2@gw.example.com");
	g_free(id);
}

static void
message_id_empty_null(void)
{
	char	*id;

	CHECK_STR(parse_message_id_normalise(NULL), NULL);
	id = parse_message_id_normalise("");
	CHECK_STR(id, NULL);
	g_free(id);
	id = parse_message_id_normalise(" <> ");
	CHECK_STR(id, NULL);
	g_free(id);
}

static void
subject_missing_placeholder(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("From: a@example.com\r\n\r\nbody\r\n", &r), 0);
	CHECK_STR(r.subject, "(no subject)");
	CHECK_STR(r.body_text, "body\n");
	parse_result_fini(&r);
}

static void
subject_folded_unfolded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: Disk\r\n  full\r\n\ton db-1\r\n"
	    "\r\nx\r\n", &r), 0);
	CHECK_STR(r.subject, "Disk full on db-1");
	parse_result_fini(&r);
}

static void
subject_quoted_printable_word_decoded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: =?ISO-8859-1?Q?St=F6rung_im?= "
	    "=?ISO-8859-1?Q?_Shop?= now\r\n\r\nx\r\n", &r), 0);
	CHECK_STR(r.subject, "St\xc3\xb6rung im Shop now");
	parse_result_fini(&r);
}

static void
subject_cp850_label_mapped(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: =?cp-850?Q?St=94rung_H=84ndler?=\r\n"
	    "\r\nx\r\n", &r), 0);
	CHECK_STR(r.subject, "St\xc3\xb6rung H\xc3\xa4ndler");
	parse_result_fini(&r);
}

static void
subject_raw_utf8_broken_tail_replaced(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: \xf0\x9f\x94\xa5 Login broken \xe2\x80"
	    "\r\n\r\nx\r\n", &r), 0);
	CHECK_STR(r.subject, "\xf0\x9f\x94\xa5 Login broken \xef\xbf\xbd");
	parse_result_fini(&r);
}

static void
body_unknown_charset_kept(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: x\r\nContent-Type: text/plain; "
	    "charset=x-no-such-charset\r\n\r\nPreis 5 \x80 f\xfcr alle\r\n",
	    &r), 0);
	CHECK_STR(r.body_text, "Preis 5 \xe2\x82\xac f\xc3\xbcr alle\n");
	CHECK(g_utf8_validate(r.body_text, -1, NULL));
	parse_result_fini(&r);
}

static void
body_latin1_converted(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: x\r\nContent-Type: text/plain; "
	    "charset=iso-8859-1\r\n\r\nGr\xfc\xdf" "e\r\n", &r), 0);
	CHECK_STR(r.body_text, "Gr\xc3\xbc\xc3\x9f" "e\n");
	parse_result_fini(&r);
}

static void
html_entities_and_links_decoded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Content-Type: text/html\r\n\r\n"
	    "<p>a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; &#x263A; "
	    "&bogus;</p><script>var x = 1;</script><!-- hidden -->"
	    "<ul><li>one</li><li>two</li></ul>"
	    "<a href=\"https://status.example.com/\">status</a>", &r), 0);
	CHECK_CONTAINS(r.body_text, "a & b <c> \"d\" 'e' \xe2\x98\xba "
	    "&bogus;");
	CHECK_CONTAINS(r.body_text, "one\ntwo");
	CHECK_CONTAINS(r.body_text, "status <https://status.example.com/>");
	CHECK(strstr(r.body_text, "var x") == NULL);
	CHECK(strstr(r.body_text, "hidden") == NULL);
	parse_result_fini(&r);
}

static void
body_long_capped_on_boundary(void)
{
	struct parse_result	 r;
	GString			*msg;
	size_t			 len;

	msg = g_string_new("Content-Type: text/plain; charset=utf-8\r\n\r\n");
	while (msg->len < 2 * PARSE_BODY_TEXT_MAX)
		g_string_append(msg, "\xc3\xa4\xe2\x82\xac");
	CHECK_INT(parse_string(msg->str, &r), 0);
	len = strlen(r.body_text);
	CHECK(len <= PARSE_BODY_TEXT_MAX);
	CHECK(len > PARSE_BODY_TEXT_MAX - 4);
	CHECK(g_utf8_validate(r.body_text, -1, NULL));
	parse_result_fini(&r);
	g_string_free(msg, TRUE);
}

static void
empty_input_returns(void)
{
	struct parse_result	 r;
	int			 rc;

	rc = parse_message((const uint8_t *)"", 0, &r);
	CHECK(rc == 0 || rc == -1);
	CHECK(r.subject != NULL);
	CHECK_STR(r.body_text, "");
	if (rc == -1) {
		CHECK(r.is_unparseable);
		CHECK_STR(r.subject, "(unparseable message)");
	}
	parse_result_fini(&r);
}

static void
garbage_bytes_return(void)
{
	struct parse_result	 r;
	uint8_t			 raw[4096];
	guint32			 seed = 12345;
	size_t			 i;
	int			 round, rc;

	for (round = 0; round < 50; round++) {
		for (i = 0; i < sizeof(raw); i++) {
			seed = seed * 1103515245u + 12345u;
			raw[i] = (uint8_t)(seed >> 16);
		}
		rc = parse_message(raw, sizeof(raw), &r);
		CHECK(rc == 0 || rc == -1);
		CHECK(r.subject != NULL);
		CHECK(r.body_text != NULL);
		CHECK(g_utf8_validate(r.subject, -1, NULL));
		CHECK(g_utf8_validate(r.body_text, -1, NULL));
		parse_result_fini(&r);
	}
}

static void
truncated_multipart_returns(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: cut\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
	    "Content-Type: text/plain\r\n\r\nfirst part, no end bou", &r), 0);
	CHECK_STR(r.subject, "cut");
	CHECK_CONTAINS(r.body_text, "first part, no end bou");
	parse_result_fini(&r);
}

static void
encoded_word_malformed_kept(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Subject: =?utf-8?B?####?= =?x?Q?a=4 "
	    "=?\xff\xfe plain\r\n\r\nx\r\n", &r), 0);
	CHECK(g_utf8_validate(r.subject, -1, NULL));
	CHECK_CONTAINS(r.subject, "plain");
	parse_result_fini(&r);
}

int
main(void)
{
	parse_init();
	TAP_RUN(baseline_message_fields_extracted);
	TAP_RUN(subject_adjacent_base64_words_joined);
	TAP_RUN(html_only_body_reduced_to_text);
	TAP_RUN(message_id_folded_inside_unfolded);
	TAP_RUN(mime_nesting_bomb_bounded);
	TAP_RUN(from_without_address_keeps_name);
	TAP_RUN(forwarded_message_outer_headers_kept);
	TAP_RUN(message_id_missing_null);
	TAP_RUN(message_id_domain_lowercased);
	TAP_RUN(message_id_folded_unfolded);
	TAP_RUN(message_id_empty_null);
	TAP_RUN(subject_missing_placeholder);
	TAP_RUN(subject_folded_unfolded);
	TAP_RUN(subject_quoted_printable_word_decoded);
	TAP_RUN(subject_cp850_label_mapped);
	TAP_RUN(subject_raw_utf8_broken_tail_replaced);
	TAP_RUN(body_unknown_charset_kept);
	TAP_RUN(body_latin1_converted);
	TAP_RUN(html_entities_and_links_decoded);
	TAP_RUN(body_long_capped_on_boundary);
	TAP_RUN(empty_input_returns);
	TAP_RUN(garbage_bytes_return);
	TAP_RUN(truncated_multipart_returns);
	TAP_RUN(encoded_word_malformed_kept);
	return tap_done();
}
