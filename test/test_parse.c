/* SPDX-License-Identifier: ISC */
/*
 * Tests of the parse stage: real-world messages from data/parse/ and short
 * inline ones, checking the decoded subject, sender, ids, the headers of
 * automatic mail, recipients, body text and the fallbacks recorded, and
 * that hostile input returns in bounded time without crashing.
 */
#include <string.h>

#include <glib.h>

#include "parse.h"
#include "../src/parse/parse_priv.h"
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

/* Tells whether one of the fallbacks of r contains phrase. */
static bool
fallbacks_have(const struct parse_result *r, const char *phrase)
{
	guint	 i;

	if (r->fallbacks == NULL)
		return false;
	for (i = 0; i < r->fallbacks->len; i++) {
		if (strstr(g_ptr_array_index(r->fallbacks, i), phrase) != NULL)
			return true;
	}
	return false;
}

/* Returns element i of a string array, or NULL past its end. */
static const char *
item(const GPtrArray *array, guint i)
{
	return array != NULL && i < array->len ?
	    g_ptr_array_index(array, i) : NULL;
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

static void
in_reply_to_bare_id_accepted(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("ack-in-reply-to-without-brackets.eml", &r), 0);
	CHECK_STR(r.in_reply_to, "{{PAGE-1042}}@gw.support.example.com");
	CHECK_INT(r.references->len, 2);
	CHECK_STR(item(r.references, 0),
	    "{{PAGE-1042}}@gw.support.example.com");
	CHECK_STR(item(r.references, 1),
	    "20250603081358.A1@customer.example.net");
	CHECK_STR(item(r.to_addrs, 0), "critical@support.example.com");
	CHECK_INT(r.cc_addrs->len, 0);
	CHECK_INT(r.fallbacks->len, 0);
	parse_result_fini(&r);
}

static void
in_reply_to_folded_inside_unfolded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("msgid-folded-inside-id.eml", &r), 0);
	CHECK_STR(r.in_reply_to, "{{PAGE-1042}}@gw.support.example.com");
	CHECK_INT(r.references->len, 2);
	CHECK_STR(item(r.references, 0),
	    "20250603081358.A1@customer.example.net");
	CHECK_STR(item(r.references, 1),
	    "{{PAGE-1042}}@gw.support.example.com");
	parse_result_fini(&r);
}

static void
references_comments_and_words_skipped(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("In-Reply-To: Your message of \"Tue, 3 Jun\" "
	    "(a@b comment) <A1@Host.Example>\r\nReferences: <x1@a.example>,"
	    "\r\n\t<x2@b.\r\n example>  x3@C.example\r\n\r\nx\r\n", &r), 0);
	CHECK_STR(r.in_reply_to, "A1@host.example");
	CHECK_INT(r.references->len, 3);
	CHECK_STR(item(r.references, 0), "x1@a.example");
	CHECK_STR(item(r.references, 1), "x2@b.example");
	CHECK_STR(item(r.references, 2), "x3@c.example");
	parse_result_fini(&r);
}

static void
auto_reply_headers_read(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("vacation-reply-auto-headers.eml", &r), 0);
	CHECK_STR(r.auto_submitted, "auto-replied");
	CHECK_STR(r.precedence, "bulk");
	CHECK(r.has_autoreply_header);
	CHECK(!r.is_report);
	CHECK_STR(r.in_reply_to, "{{CONFIRM-1042}}@gw.support.example.com");
	parse_result_fini(&r);
}

static void
auto_headers_lowercased_and_list_id_kept(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Auto-Submitted: Auto-Generated\r\n"
	    "Precedence: LIST\r\nList-Id: Ops <ops.lists.example.com>\r\n"
	    "X-Auto-Response-Suppress: DR, OOF\r\nX-Autorespond: yes\r\n"
	    "\r\nx\r\n", &r), 0);
	CHECK_STR(r.auto_submitted, "auto-generated");
	CHECK_STR(r.precedence, "list");
	CHECK_STR(r.list_id, "Ops <ops.lists.example.com>");
	CHECK_STR(r.auto_response_suppress, "DR, OOF");
	CHECK(r.has_autoreply_header);
	parse_result_fini(&r);
}

static void
bounce_report_type_read(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("bounce-multipart-report.eml", &r), 0);
	CHECK(r.is_report);
	CHECK_STR(r.report_type, "delivery-status");
	CHECK_CONTAINS(r.body_text, "550 5.1.1 User unknown");
	parse_result_fini(&r);
}

static void
recipients_lowercased(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("two-gateway-recipients-cc.eml", &r), 0);
	CHECK_INT(r.to_addrs->len, 1);
	CHECK_STR(item(r.to_addrs, 0), "critical@support.example.com");
	CHECK_INT(r.cc_addrs->len, 2);
	CHECK_STR(item(r.cc_addrs, 0), "high@support.example.com");
	CHECK_STR(item(r.cc_addrs, 1), "li.wei@customer.example.net");
	parse_result_fini(&r);
	CHECK_INT(parse_string("To: Ops Team: A <Alice.Ops@Example.COM>, "
	    "b@x.example;\r\nCc: \r\n\r\nx\r\n", &r), 0);
	CHECK_INT(r.to_addrs->len, 2);
	CHECK_STR(item(r.to_addrs, 0), "alice.ops@example.com");
	CHECK_STR(item(r.to_addrs, 1), "b@x.example");
	CHECK_INT(r.cc_addrs->len, 0);
	parse_result_fini(&r);
}

static void
raw_8bit_headers_made_valid(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("raw-8bit-headers-bad-encoded-word.eml", &r), 0);
	CHECK_STR(r.subject, "\xf0\x9f\x94\xa5 Login broken for all users "
	    "\xef\xbf\xbd");
	CHECK_STR(r.from_addr, "zoe.martin@shop.example.net");
	CHECK_STR(r.from_name, "Zo\xc3\xa9");
	CHECK(fallbacks_have(&r, "raw 8-bit"));
	CHECK(fallbacks_have(&r, "invalid base64 read as raw text"));
	parse_result_fini(&r);
}

static void
encoded_word_broken_shapes_decoded(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("broken-encoded-word-shapes.eml", &r), 0);
	CHECK_STR(r.subject, "Zahlung fehlgeschlagen f\xc3\xbcr alle");
	CHECK_STR(r.from_name, "J\xc3\xb6rg M\xc3\xbcller");
	CHECK_STR(r.from_addr, "joerg.mueller@example.com");
	CHECK(fallbacks_have(&r, "malformed encoded-word"));
	parse_result_fini(&r);
}

static void
charset_labels_mapped(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("unknown-charset-labels.eml", &r), 0);
	CHECK_STR(r.subject, "St\xc3\xb6rung H\xc3\xa4ndlerportal");
	CHECK_CONTAINS(r.body_text, "Kundenkonto gesperrt \xe2\x80\x93 "
	    "\xe2\x80\x9eLogin\xe2\x80\x9c schl\xc3\xa4gt f\xc3\xbcr alle "
	    "H\xc3\xa4ndler fehl.");
	CHECK(fallbacks_have(&r, "charset cp-850 read as CP850"));
	CHECK(fallbacks_have(&r, "charset 1252 read as WINDOWS-1252"));
	parse_result_fini(&r);
}

static void
charset_other_labels_mapped(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("own-charset-labels.eml", &r), 0);
	CHECK_STR(r.subject, "St\xc3\xb6rung H\xc3\xa4ndler");
	CHECK_CONTAINS(r.body_text, "P\xc5\x99\xc3\xadli\xc5\xa1 mnoho chyb");
	CHECK(fallbacks_have(&r, "charset x-mac-roman read as MACINTOSH"));
	CHECK(fallbacks_have(&r, "charset win-1250 read as WINDOWS-1250"));
	parse_result_fini(&r);
}

static void
body_unknown_charset_flagged(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Content-Type: text/plain; charset=x-klingon"
	    "\r\n\r\nPreis 5 \x80\r\n", &r), 0);
	CHECK_STR(r.body_text, "Preis 5 \xe2\x82\xac\n");
	CHECK(fallbacks_have(&r, "charset x-klingon read as windows-1252"));
	parse_result_fini(&r);
}

static void
iso_2022_jp_unlabelled_detected(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("iso-2022-jp-without-charset.eml", &r), 0);
	CHECK_STR(r.subject, "\xe6\xb1\xba\xe6\xb8\x88\xe9\x9a\x9c\xe5\xae"
	    "\xb3\xef\xbc\x88\xe5\x85\xa8\xe5\xba\x97\xe8\x88\x97\xef\xbc\x89");
	CHECK_CONTAINS(r.body_text, "\xe6\xb1\xba\xe6\xb8\x88\xe3\x81\x8c"
	    "\xe5\x85\xa8\xe5\xba\x97\xe8\x88\x97\xe3\x81\xa7\xe5\xa4\xb1\xe6"
	    "\x95\x97\xe3\x81\x97\xe3\x81\xa6\xe3\x81\x84\xe3\x81\xbe\xe3\x81"
	    "\x99\xe3\x80\x82\xe8\x87\xb3\xe6\x80\xa5\xe5\xaf\xbe\xe5\xbf\x9c"
	    "\xe3\x82\x92\xe3\x81\x8a\xe9\xa1\x98\xe3\x81\x84\xe3\x81\x97\xe3"
	    "\x81\xbe\xe3\x81\x99\xe3\x80\x82");
	CHECK(strchr(r.body_text, '\x1b') == NULL);
	CHECK(fallbacks_have(&r, "ISO-2022-JP"));
	parse_result_fini(&r);
}

static void
iso_2022_jp_labelled_ascii_detected(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("iso-2022-jp-labelled-us-ascii.eml", &r), 0);
	CHECK_STR(r.body_text, "\xe9\x9a\x9c\xe5\xae\xb3\xe3\x81\x8c\xe3\x81"
	    "\x82\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x99\n");
	CHECK(fallbacks_have(&r, "labelled us-ascii read as ISO-2022-JP"));
	parse_result_fini(&r);
}

static void
us_ascii_8bit_body_kept(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("us-ascii-declared-8bit-body.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "every caf\xc3\xa9 and restaurant "
	    "customer");
	CHECK(fallbacks_have(&r, "8-bit bytes in a part labelled us-ascii"));
	parse_result_fini(&r);
}

static void
us_ascii_utf8_body_read_as_utf8(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Content-Type: text/plain; charset=us-ascii"
	    "\r\n\r\nRen\xc3\xa9" "e\r\n", &r), 0);
	CHECK_STR(r.body_text, "Ren\xc3\xa9" "e\n");
	CHECK(fallbacks_have(&r, "labelled us-ascii read as UTF-8"));
	parse_result_fini(&r);
}

static void
base64_chunks_joined(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("chunked-base64-body.eml", &r), 0);
	CHECK_STR(r.body_text, "Checkout down for all EU customers since "
	    "19:05.\n");
	CHECK(fallbacks_have(&r, "inner padding"));
	parse_result_fini(&r);
}

static void
base64_broken_bytes_skipped(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("broken-base64-body.eml", &r), 0);
	CHECK_STR(r.body_text, "Die Kasse meldet f\xc3\xbcr alle Filialen "
	    "Fehler 42.\n");
	CHECK(fallbacks_have(&r, "broken base64 repaired"));
	parse_result_fini(&r);
}

static void
base64_empty_body_returns(void)
{
	struct parse_result	 r;

	/* Found by fuzzing: an empty base64 body reached memchr(NULL). */
	CHECK_INT(parse_string("Content-Transfer-Encoding: base64\r\n\r\n",
	    &r), 0);
	CHECK_STR(r.body_text, "");
	parse_result_fini(&r);
}

static void
transfer_encoding_mislabelled_flagged(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("bad-content-transfer-encoding.eml", &r), 0);
	CHECK_STR(r.body_text, "Stock sync stopped: no product is available "
	    "in any shop.\n");
	CHECK(fallbacks_have(&r, "attachment sync.log labelled base64 is not "
	    "base64"));
	parse_result_fini(&r);
}

static void
base64_label_on_text_body_read_as_text(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_string("Content-Transfer-Encoding: base64\r\n\r\n"
	    "Disk full on db-1: writes fail.\r\n", &r), 0);
	CHECK_STR(r.body_text, "Disk full on db-1: writes fail.\n");
	CHECK(fallbacks_have(&r, "text labelled base64 read as it stands"));
	parse_result_fini(&r);
}

static void
quoted_printable_broken_repaired(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("broken-quoted-printable-body.eml", &r), 0);
	CHECK_STR(r.subject, "Kasse gest\xc3\xb6rt");
	CHECK_STR(r.body_text, "Die Kasse ist gest\xc3\xb6rt, Fehler =4 in "
	    "allen Filialen, Summe 100=.\n");
	CHECK(fallbacks_have(&r, "broken quoted-printable repaired"));
	parse_result_fini(&r);
}

static void
boundary_blank_line_after_parsed(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("boundary-then-whitespace-only-line.eml", &r), 0);
	CHECK_STR(r.subject, "Payment gateway timeout on all EU nodes");
	CHECK_CONTAINS(r.body_text, "Payment gateway calls time out after "
	    "30 s on all EU nodes since 18:31.");
	CHECK(strstr(r.body_text, "timeouts.csv") == NULL);
	parse_result_fini(&r);
}

static void
boundary_lines_missing_prologue_read(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("multipart-without-boundary-lines.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "Gift cards are rejected at checkout in "
	    "every shop since 19:20.");
	CHECK(fallbacks_have(&r, "multipart without boundary lines"));
	parse_result_fini(&r);
}

static void
boundary_other_than_declared_cut(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("boundary-not-declared.eml", &r), 0);
	CHECK_STR(r.body_text, "The order export fails for all shops since "
	    "07:10.\n");
	CHECK(fallbacks_have(&r, "boundary other than the declared one"));
	parse_result_fini(&r);
	CHECK_INT(parse_string("Content-Type: multipart/mixed\r\n\r\n--x\r\n"
	    "Content-Type: text/plain\r\n\r\nExport fails.\r\n--x--\r\n",
	    &r), 0);
	CHECK_STR(r.body_text, "Export fails.\n");
	CHECK(fallbacks_have(&r, "without a boundary parameter"));
	parse_result_fini(&r);
}

static void
truncated_inside_boundary_flagged(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("truncated-inside-boundary.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "The warehouse API returns 503 for every "
	    "request since 19:31.");
	CHECK(fallbacks_have(&r, "message truncated"));
	parse_result_fini(&r);
}

static void
truncated_inside_base64_flagged(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("truncated-inside-base64.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "The search index is empty since 06:40");
	CHECK(fallbacks_have(&r, "message truncated"));
	parse_result_fini(&r);
}

static void
part_headers_across_4k_read(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("part-headers-cross-4k-boundary.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "Consumer lag is 2.1M messages");
	CHECK_INT(r.fallbacks->len, 0);
	parse_result_fini(&r);
}

static void
non_header_line_later_headers_kept(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("non-header-line-in-header-block.eml", &r), 0);
	CHECK_CONTAINS(r.subject, "Checkout down for all EU customers,");
	CHECK_STR(r.message_id, "20250603181000.H1@customer.example.net");
	CHECK_STR(r.in_reply_to, "{{CONFIRM-1042}}@gw.support.example.com");
	CHECK_CONTAINS(r.body_text, "It is down again since the deploy at "
	    "20:00.");
	CHECK(fallbacks_have(&r, "line without a header name"));
	parse_result_fini(&r);
}

static void
nesting_bomb_flagged(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("mime-nesting-bomb.eml", &r), 0);
	CHECK(fallbacks_have(&r, "MIME nesting limit reached"));
	parse_result_fini(&r);
}

static void
nesting_deep_generated_bounded(void)
{
	struct parse_result	 r;
	GString			*msg;
	int			 i;

	msg = g_string_new("Subject: deep\r\n");
	for (i = 0; i < 3000; i++)
		g_string_append_printf(msg, "Content-Type: multipart/mixed; "
		    "boundary=\"d%d\"\r\n\r\n--d%d\r\n", i, i);
	g_string_append(msg, "Content-Type: message/rfc822\r\n\r\n");
	for (i = 0; i < 1000; i++)
		g_string_append(msg, "Subject: inner\r\nContent-Type: "
		    "message/rfc822\r\n\r\n");
	g_string_append(msg, "\r\ndeepest text\r\n");
	CHECK_INT(parse_string(msg->str, &r), 0);
	CHECK_STR(r.subject, "deep");
	CHECK(fallbacks_have(&r, "MIME nesting limit reached"));
	CHECK(strstr(r.body_text, "deepest text") == NULL);
	parse_result_fini(&r);
	g_string_free(msg, TRUE);
}

static void
large_attachment_body_read(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("large-attachment.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "Checkout fails for every customer.");
	CHECK(strlen(r.body_text) < 1024);
	parse_result_fini(&r);
}

static void
tnef_body_text_read(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("tnef-winmail-dat-only-body.eml", &r), 0);
	CHECK_STR(r.subject, "Partner portal login fails");
	CHECK_CONTAINS(r.body_text, "All logins to the partner portal fail "
	    "with error 0x80070005 since 21:02.");
	CHECK(fallbacks_have(&r, "TNEF"));
	parse_result_fini(&r);
}

static void
tnef_without_text_described(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("tnef-without-body-text.eml", &r), 0);
	CHECK_STR(r.body_text, "(the message body is a Microsoft TNEF "
	    "attachment, winmail.dat, 1 KB; open the raw message to read it)");
	CHECK(fallbacks_have(&r, "TNEF body described"));
	parse_result_fini(&r);
}

static void
calendar_only_body_summarised(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("calendar-only-body.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "SUMMARY: Failover drill, database "
	    "cluster\n");
	CHECK_CONTAINS(r.body_text, "DTSTART: 20250604T080000Z\n");
	CHECK_CONTAINS(r.body_text, "DESCRIPTION: Switch the primary to db-2."
	    "\nExpect 30 s of read-only mode.");
	CHECK_CONTAINS(r.body_text, "ORGANIZER: mailto:alice.ops@example.com");
	CHECK(strstr(r.body_text, "BEGIN:") == NULL);
	CHECK(fallbacks_have(&r, "calendar body summarised"));
	parse_result_fini(&r);
}

static void
html_hidden_tricks_dropped(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("html-hidden-tricks.eml", &r), 0);
	CHECK_CONTAINS(r.body_text, "The shop is offline \xe2\x80\x93 all "
	    "\"EU\" regions.");
	CHECK_CONTAINS(r.body_text, "details "
	    "<https://status.example.org/incident/7>");
	CHECK(strstr(r.body_text, "PREHEADER") == NULL);
	CHECK(strstr(r.body_text, "TEMPLATE") == NULL);
	CHECK(strstr(r.body_text, "color") == NULL);
	parse_result_fini(&r);
}

static void
html_unclosed_hidden_elements_linear(void)
{
	struct parse_result	 r;
	GString			*msg;
	int			 i;

	msg = g_string_new("Content-Type: text/html\r\n\r\n");
	for (i = 0; i < 20000; i++)
		g_string_append(msg, "<div hidden>x<img style=display:none>");
	g_string_append(msg, "tail text");
	CHECK_INT(parse_string(msg->str, &r), 0);
	CHECK_CONTAINS(r.body_text, "tail text");
	parse_result_fini(&r);
	g_string_free(msg, TRUE);
}

static void
from_without_address_flagged(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("from-without-address.eml", &r), 0);
	CHECK(fallbacks_have(&r, "From header has no address"));
	parse_result_fini(&r);
}

static void
poison_message_then_next_parsed(void)
{
	struct parse_result	 r;

	CHECK_INT(parse_file("poison-message-first.eml", &r), 0);
	CHECK_STR(r.subject, "Admin login returns 403 for every admin");
	CHECK_CONTAINS(r.body_text, "Every admin login returns 403 since "
	    "21:31.");
	CHECK(fallbacks_have(&r, "raw 8-bit bytes in a header"));
	CHECK(fallbacks_have(&r, "invalid Content-Type"));
	parse_result_fini(&r);
	CHECK_INT(parse_file("poison-message-next.eml", &r), 0);
	CHECK_STR(r.subject, "Refunds failing with R-17 again");
	CHECK_CONTAINS(r.body_text, "Refunds fail with R-17 again since "
	    "21:35.");
	CHECK_INT(r.fallbacks->len, 0);
	parse_result_fini(&r);
}

static void
unparseable_result_complete(void)
{
	struct parse_result	 r;
	uint8_t			 raw[512];
	size_t			 i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 7 + 3);
	if (parse_message(raw, sizeof(raw), &r) == 0) {
		printf("# 512 bytes of noise parsed as a message\n");
		CHECK(!r.is_unparseable);
	} else {
		CHECK(r.is_unparseable);
		CHECK_STR(r.subject, "(unparseable message)");
	}
	CHECK(r.references != NULL);
	CHECK(r.to_addrs != NULL);
	CHECK(r.cc_addrs != NULL);
	CHECK(r.fallbacks != NULL);
	CHECK(r.body_text != NULL);
	parse_result_fini(&r);
}

static void
newlines_every_ending_becomes_lf(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "a\r\nb\r\n", "a\nb\n" },
		{ "a\rb\r", "a\nb\n" },
		{ "\r\r\n\n", "\n\n\n" },
		{ "no endings", "no endings" },
		{ "lf only\nhere\n", "lf only\nhere\n" },
		{ "\r", "\n" },
		{ "", "" },
	};
	char	*s;
	size_t	 i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		s = g_strdup(cases[i].in);
		parse_newlines_normalise(s);
		if (strcmp(s, cases[i].out) != 0) {
			printf("# case %zu came out different\n", i);
			tap_case_failed = true;
		}
		g_free(s);
	}
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
	TAP_RUN(in_reply_to_bare_id_accepted);
	TAP_RUN(in_reply_to_folded_inside_unfolded);
	TAP_RUN(references_comments_and_words_skipped);
	TAP_RUN(auto_reply_headers_read);
	TAP_RUN(auto_headers_lowercased_and_list_id_kept);
	TAP_RUN(bounce_report_type_read);
	TAP_RUN(recipients_lowercased);
	TAP_RUN(raw_8bit_headers_made_valid);
	TAP_RUN(encoded_word_broken_shapes_decoded);
	TAP_RUN(charset_labels_mapped);
	TAP_RUN(charset_other_labels_mapped);
	TAP_RUN(body_unknown_charset_flagged);
	TAP_RUN(iso_2022_jp_unlabelled_detected);
	TAP_RUN(iso_2022_jp_labelled_ascii_detected);
	TAP_RUN(us_ascii_8bit_body_kept);
	TAP_RUN(us_ascii_utf8_body_read_as_utf8);
	TAP_RUN(base64_chunks_joined);
	TAP_RUN(base64_broken_bytes_skipped);
	TAP_RUN(base64_empty_body_returns);
	TAP_RUN(transfer_encoding_mislabelled_flagged);
	TAP_RUN(base64_label_on_text_body_read_as_text);
	TAP_RUN(quoted_printable_broken_repaired);
	TAP_RUN(boundary_blank_line_after_parsed);
	TAP_RUN(boundary_lines_missing_prologue_read);
	TAP_RUN(boundary_other_than_declared_cut);
	TAP_RUN(truncated_inside_boundary_flagged);
	TAP_RUN(truncated_inside_base64_flagged);
	TAP_RUN(part_headers_across_4k_read);
	TAP_RUN(non_header_line_later_headers_kept);
	TAP_RUN(nesting_bomb_flagged);
	TAP_RUN(nesting_deep_generated_bounded);
	TAP_RUN(large_attachment_body_read);
	TAP_RUN(tnef_body_text_read);
	TAP_RUN(tnef_without_text_described);
	TAP_RUN(calendar_only_body_summarised);
	TAP_RUN(html_hidden_tricks_dropped);
	TAP_RUN(html_unclosed_hidden_elements_linear);
	TAP_RUN(from_without_address_flagged);
	TAP_RUN(poison_message_then_next_parsed);
	TAP_RUN(unparseable_result_complete);
	TAP_RUN(newlines_every_ending_becomes_lf);
	return tap_done();
}
