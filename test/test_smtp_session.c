/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the SMTP session state machine: client bytes in, reply
 * text and handed-over messages out.  Covers command order and syntax, DATA
 * framing (dot-stuffing, terminators split across feeds, bare CR/LF and
 * SMTP smuggling), size and line limits, the commit handshake, and STARTTLS
 * (RFC 3207) with the injection of plaintext after it.
 */
#include <stdlib.h>

#include "smtp.h"
#include "tap.h"

#define HOST	"mx.test"
#define OPEN	"EHLO client.test\r\nMAIL FROM:<dana@customer.test>\r\n" \
		"RCPT TO:<critical@support.test>\r\nDATA\r\n"
#define OPENED	"250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 4096\r\n" \
		"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n" \
		"250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n" \
		"354 end data with <CR><LF>.<CR><LF>\r\n"
#define BARE_DATA_REPLY	"550 5.5.2 bare <LF>/<CR> in data; nothing stored\r\n"

struct harness {
	struct smtp_session	*session;
	GPtrArray		*messages;	/* struct smtp_message * */
	bool			 is_sync_commit;
	bool			 is_commit_ok;
	unsigned		 tls_starts;	/* start_tls calls */
};

static const struct smtp_limits limits = {
	.hostname = HOST,
	.max_message_bytes = 4096,
	.max_recipients = 3,
};

static bool
routed(void *ctx, const char *address)
{
	(void)ctx;
	return strcmp(address, "critical@support.test") == 0 ||
	    strcmp(address, "ops@support.test") == 0 ||
	    strcmp(address, "oncall@support.test") == 0 ||
	    strcmp(address, "noc@support.test") == 0;
}

static void
ready(void *ctx, struct smtp_session *session, struct smtp_message *msg)
{
	struct harness	*h = ctx;

	g_ptr_array_add(h->messages, msg);
	if (h->is_sync_commit)
		smtp_session_commit_done(session, h->is_commit_ok);
}

static void
start_tls(void *ctx, struct smtp_session *session)
{
	struct harness	*h = ctx;

	(void)session;
	h->tls_starts++;
}

static const struct smtp_callbacks callbacks = {
	.rcpt_is_routed = routed,
	.message_ready = ready,
	.start_tls = start_tls,
};

static void
harness_open(struct harness *h, bool is_sync_commit)
{
	memset(h, 0, sizeof(*h));
	h->messages = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)smtp_message_free);
	h->is_sync_commit = is_sync_commit;
	h->is_commit_ok = true;
	h->session = smtp_session_new(&limits, &callbacks, h, "192.0.2.7:4242");
}

static void
harness_close(struct harness *h)
{
	smtp_session_free(h->session);
	g_ptr_array_unref(h->messages);
}

static void
feed(struct harness *h, const char *text)
{
	smtp_session_feed(h->session, (const uint8_t *)text, strlen(text));
}

static void
feed_bytewise(struct harness *h, const char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		smtp_session_feed(h->session, (const uint8_t *)buf + i, 1);
}

/* Returns the queued output as a string and consumes it; caller frees. */
static char *
take(struct harness *h)
{
	const uint8_t	*out;
	size_t		 len;
	char		*text;

	out = smtp_session_output(h->session, &len);
	text = g_strndup((const char *)out, len);
	smtp_session_output_consume(h->session, len);
	return text;
}

/* Opens a session past its greeting, through DATA's 354. */
static void
harness_open_data(struct harness *h, bool is_sync_commit)
{
	char	*out;

	harness_open(h, is_sync_commit);
	g_free(take(h));
	feed(h, OPEN);
	out = take(h);
	CHECK_STR(out, OPENED);
	g_free(out);
}

static struct smtp_message *
message_at(struct harness *h, guint i)
{
	return g_ptr_array_index(h->messages, i);
}

static char *
body_of(struct smtp_message *msg)
{
	return g_strndup((const char *)msg->data->data, msg->data->len);
}

static char *
data_file_read(const char *path, size_t *len)
{
	char	*contents = NULL;
	gsize	 size = 0;

	if (!g_file_get_contents(path, &contents, &size, NULL)) {
		printf("# cannot read %s\n", path);
		tap_case_failed = true;
		*len = 0;
		return g_strdup("");
	}
	*len = size;
	return contents;
}

/* Returns the replies of a new session to input, greeting left out. */
static char *
dialogue(const char *input)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	feed(&h, input);
	out = take(&h);
	harness_close(&h);
	return out;
}

static void
greeting_on_new_is_220(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	out = take(&h);
	CHECK_STR(out, "220 " HOST " ESMTP critgate\r\n");
	CHECK(!smtp_session_is_closed(h.session));
	CHECK(!smtp_session_is_committing(h.session));
	g_free(out);
	harness_close(&h);
}

static void
ehlo_lists_extensions(void)
{
	char	*out = dialogue("EHLO client.test\r\n");

	CHECK_STR(out, "250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 4096\r\n"
	    "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	g_free(out);
}

static void
helo_lowercase_verb_accepted(void)
{
	char	*out = dialogue("helo client.test\r\nnoop\r\n");

	CHECK_STR(out, "250 " HOST "\r\n250 2.0.0 ok\r\n");
	g_free(out);
}

static void
ehlo_without_argument_501(void)
{
	char	*out = dialogue("EHLO\r\n");

	CHECK_STR(out, "501 5.5.4 syntax: EHLO hostname\r\n");
	g_free(out);
}

static void
pipelined_transaction_one_feed_delivered(void)
{
	struct harness		 h;
	struct smtp_message	*msg;
	char			*out, *body;

	harness_open(&h, true);
	g_free(take(&h));
	feed(&h, OPEN "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
	out = take(&h);
	CHECK_STR(out, OPENED "250 2.0.0 message accepted\r\n"
	    "221 2.0.0 bye\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1) {
		msg = message_at(&h, 0);
		body = body_of(msg);
		CHECK_STR(body, "Subject: x\r\n\r\nbody\r\n");
		CHECK_STR(msg->mail_from, "dana@customer.test");
		CHECK_INT(msg->rcpt_to->len, 1);
		CHECK_STR(g_ptr_array_index(msg->rcpt_to, 0),
		    "critical@support.test");
		CHECK_STR(msg->peer, "192.0.2.7:4242");
		CHECK_STR(msg->helo, "client.test");
		g_free(body);
	}
	CHECK(smtp_session_is_closed(h.session));
	g_free(out);
	harness_close(&h);
}

static void
data_dot_stuffed_line_unstuffed(void)
{
	struct harness	 h;
	char		*body;

	harness_open_data(&h, true);
	feed(&h, "..x\r\n...\r\n..\r\nend\r\n.\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1) {
		body = body_of(message_at(&h, 0));
		CHECK_STR(body, ".x\r\n..\r\n.\r\nend\r\n");
		g_free(body);
	}
	harness_close(&h);
}

static void
data_empty_message_delivered(void)
{
	struct harness	 h;
	char		*out;

	harness_open_data(&h, true);
	feed(&h, ".\r\n");
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1)
		CHECK_INT(message_at(&h, 0)->data->len, 0);
	g_free(out);
	harness_close(&h);
}

static void
data_terminator_split_bytewise_ends(void)
{
	static const char	 text[] = "a\r\n.\r\n";
	struct harness		 h;
	char			*out;
	size_t			 i;

	harness_open_data(&h, false);
	for (i = 0; i < sizeof(text) - 1; i++) {
		CHECK(!smtp_session_is_committing(h.session));
		smtp_session_feed(h.session, (const uint8_t *)text + i, 1);
	}
	CHECK(smtp_session_is_committing(h.session));
	CHECK_INT(h.messages->len, 1);
	smtp_session_commit_done(h.session, true);
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n");
	g_free(out);
	harness_close(&h);
}

/*
 * A session counts as sending from MAIL FROM to the final dot, and the
 * writer waits briefly for such sessions' messages.  It does not count
 * before MAIL, while its message commits, or after RSET.
 */
static void
sending_from_mail_to_final_dot(void)
{
	struct harness	h;

	harness_open(&h, false);
	g_free(take(&h));
	feed(&h, "EHLO client.test\r\n");
	CHECK(!smtp_session_is_sending(h.session));
	feed(&h, "MAIL FROM:<dana@customer.test>\r\n");
	CHECK(smtp_session_is_sending(h.session));
	feed(&h, "RCPT TO:<critical@support.test>\r\n");
	CHECK(smtp_session_is_sending(h.session));
	feed(&h, "DATA\r\n");
	CHECK(smtp_session_is_sending(h.session));
	feed(&h, "a\r\n.\r\n");
	CHECK(!smtp_session_is_sending(h.session));
	smtp_session_commit_done(h.session, true);
	CHECK(!smtp_session_is_sending(h.session));
	feed(&h, "MAIL FROM:<dana@customer.test>\r\n");
	CHECK(smtp_session_is_sending(h.session));
	feed(&h, "RSET\r\n");
	CHECK(!smtp_session_is_sending(h.session));
	harness_close(&h);
}

/* Feeds text after 354, then checks the one reply and that no message came. */
static void
data_rejection_check(const char *text, size_t len, bool is_bytewise,
    const char *want)
{
	struct harness	 h;
	char		*out;

	harness_open_data(&h, true);
	if (is_bytewise)
		feed_bytewise(&h, text, len);
	else
		smtp_session_feed(h.session, (const uint8_t *)text, len);
	out = take(&h);
	CHECK_STR(out, want);
	CHECK_INT(h.messages->len, 0);
	CHECK(!smtp_session_is_committing(h.session));
	g_free(out);

	/* The session stays usable, with the HELO kept. */
	feed(&h, "MAIL FROM:<>\r\n");
	out = take(&h);
	CHECK_STR(out, "250 2.1.0 sender ok\r\n");
	g_free(out);
	harness_close(&h);
}

static void
data_bare_lf_rejected(void)
{
	static const char	text[] = "a\nb\r\n.\r\n";

	data_rejection_check(text, sizeof(text) - 1, false, BARE_DATA_REPLY);
}

static void
data_bare_cr_rejected(void)
{
	static const char	text[] = "a\rb\r\n.\r\n";

	data_rejection_check(text, sizeof(text) - 1, false, BARE_DATA_REPLY);
}

static void
data_bare_cr_before_dot_not_end(void)
{
	static const char	text[] = "a\r.\r\nb\r\n.\r\n";

	data_rejection_check(text, sizeof(text) - 1, true, BARE_DATA_REPLY);
}

static void
data_lf_dot_lf_not_end(void)
{
	static const char	text[] = "a\n.\nNOOP\r\n.\r\n";

	data_rejection_check(text, sizeof(text) - 1, false, BARE_DATA_REPLY);
}

static void
smuggle_file_check(const char *path)
{
	char	*text;
	size_t	 len;

	text = data_file_read(path, &len);
	data_rejection_check(text, len, false, BARE_DATA_REPLY);
	data_rejection_check(text, len, true, BARE_DATA_REPLY);
	g_free(text);
}

static void
smuggle_lf_dot_crlf_rejected_once(void)
{
	smuggle_file_check("data/smtp/smuggle-lf-dot-crlf.eml");
}

static void
smuggle_lf_dot_lf_rejected_once(void)
{
	smuggle_file_check("data/smtp/smuggle-lf-dot-lf.eml");
}

static void
folded_header_bare_lf_rejected(void)
{
	smuggle_file_check("data/smtp/bare-lf-in-folded-header.eml");
}

static void
data_oversize_rejected_552(void)
{
	GString	*text = g_string_new(NULL);

	while (text->len <= limits.max_message_bytes)
		g_string_append(text, "0123456789012345678901234567890\r\n");
	g_string_append(text, ".\r\n");
	data_rejection_check(text->str, text->len, false,
	    "552 5.3.4 message too big; nothing stored\r\n");
	g_string_free(text, TRUE);
}

static void
data_max_size_delivered(void)
{
	struct harness	 h;
	GString		*text = g_string_new(NULL);
	char		*out;

	while (text->len < limits.max_message_bytes) {
		g_string_append_c(text, 'x');
		if (text->len % 512 == 510)
			g_string_append(text, "\r\n");
	}
	CHECK_INT(text->len, limits.max_message_bytes);
	harness_open_data(&h, true);
	smtp_session_feed(h.session, (const uint8_t *)text->str, text->len);
	feed(&h, ".\r\n");
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1)
		CHECK_INT(message_at(&h, 0)->data->len,
		    limits.max_message_bytes);
	g_free(out);
	harness_close(&h);
	g_string_free(text, TRUE);
}

static void
data_long_line_delivered_whole(void)
{
	struct harness	 h;
	GString		*text = g_string_new(NULL);
	char		*out;

	while (text->len < 3 * SMTP_TEXT_LINE_MAX)
		g_string_append_c(text, 'y');
	g_string_append(text, "\r\n.\r\n");
	harness_open_data(&h, true);
	smtp_session_feed(h.session, (const uint8_t *)text->str, text->len);
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1)
		CHECK_INT(message_at(&h, 0)->data->len, text->len - 3);
	g_free(out);
	harness_close(&h);
	g_string_free(text, TRUE);
}

static void
data_line_over_limit_rejected_500(void)
{
	static const struct smtp_limits	strict = {
		.hostname = HOST,
		.max_message_bytes = 4096,
		.max_recipients = 3,
		.max_text_line = 998,
	};
	struct harness	 h;
	GString		*text = g_string_new(NULL);
	char		*out;

	while (text->len < 999)
		g_string_append_c(text, 'y');
	g_string_append(text, "\r\n.\r\n");
	harness_open(&h, true);
	smtp_session_free(h.session);
	h.session = smtp_session_new(&strict, &callbacks, &h, "192.0.2.7:1");
	g_free(take(&h));
	feed(&h, OPEN);
	g_free(take(&h));
	smtp_session_feed(h.session, (const uint8_t *)text->str, text->len);
	out = take(&h);
	CHECK_STR(out, "500 5.5.2 text line longer than 998 bytes; nothing "
	    "stored\r\n");
	CHECK_INT(h.messages->len, 0);
	g_free(out);
	/* The next message, within the limit, goes through. */
	feed(&h, "MAIL FROM:<>\r\nRCPT TO:<critical@support.test>\r\n"
	    "DATA\r\nshort\r\n.\r\n");
	out = take(&h);
	CHECK_CONTAINS(out, "250 2.0.0 message accepted");
	CHECK_INT(h.messages->len, 1);
	g_free(out);
	harness_close(&h);
	g_string_free(text, TRUE);
}

static void
data_endless_line_too_big(void)
{
	GString	*text = g_string_new(NULL);

	while (text->len < limits.max_message_bytes + 10)
		g_string_append_c(text, 'y');
	g_string_append(text, "\r\n.\r\n");
	data_rejection_check(text->str, text->len, false,
	    "552 5.3.4 message too big; nothing stored\r\n");
	g_string_free(text, TRUE);
}

static void
data_line_at_limit_delivered(void)
{
	struct harness	 h;
	GString		*text = g_string_new(NULL);
	char		*out;

	while (text->len < SMTP_TEXT_LINE_MAX - 2)
		g_string_append_c(text, 'y');
	g_string_append(text, "\r\n.\r\n");
	harness_open_data(&h, true);
	smtp_session_feed(h.session, (const uint8_t *)text->str, text->len);
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n");
	CHECK_INT(h.messages->len, 1);
	g_free(out);
	harness_close(&h);
	g_string_free(text, TRUE);
}

static void
command_bare_lf_discarded(void)
{
	char	*out = dialogue("EHLO a\nMAIL FROM:<x@y.test>\r\nHELO b\r\n");

	CHECK_STR(out, "500 5.5.2 bare <LF>/<CR> in command\r\n"
	    "503 5.5.1 send EHLO or HELO first\r\n250 " HOST "\r\n");
	g_free(out);
}

static void
command_bare_cr_discarded(void)
{
	char	*out = dialogue("HELO a\rQUIT\r\nNOOP\r\n");

	CHECK_STR(out, "500 5.5.2 bare <LF>/<CR> in command\r\n"
	    "250 2.0.0 ok\r\n");
	g_free(out);
}

static void
command_nul_rejected(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	smtp_session_feed(h.session, (const uint8_t *)"QU\0IT\r\n", 7);
	out = take(&h);
	CHECK_STR(out, "500 5.5.2 NUL in command\r\n");
	CHECK(!smtp_session_is_closed(h.session));
	g_free(out);
	harness_close(&h);
}

static void
command_too_long_500(void)
{
	struct harness	 h;
	GString		*line = g_string_new("NOOP ");
	char		*out;

	while (line->len < 4 * SMTP_COMMAND_LINE_MAX)
		g_string_append_c(line, 'z');
	g_string_append(line, "\r\n");
	harness_open(&h, true);
	g_free(take(&h));
	feed_bytewise(&h, line->str, line->len);
	smtp_session_feed(h.session, (const uint8_t *)line->str, line->len);
	feed(&h, "NOOP\r\n");
	out = take(&h);
	CHECK_STR(out, "500 5.5.2 line too long\r\n500 5.5.2 line too long\r\n"
	    "250 2.0.0 ok\r\n");
	g_free(out);
	harness_close(&h);
	g_string_free(line, TRUE);
}

static void
command_at_limit_accepted(void)
{
	GString	*line = g_string_new("NOOP ");
	char	*out;

	/* SMTP_COMMAND_LINE_MAX counts the CRLF. */
	while (line->len < SMTP_COMMAND_LINE_MAX - 2)
		g_string_append_c(line, 'z');
	out = dialogue(line->str);
	CHECK_STR(out, "");
	g_free(out);
	g_string_append(line, "\r\n");
	out = dialogue(line->str);
	CHECK_STR(out, "250 2.0.0 ok\r\n");
	g_free(out);
	g_string_insert_c(line, 5, 'z');
	out = dialogue(line->str);
	CHECK_STR(out, "500 5.5.2 line too long\r\n");
	g_free(out);
	g_string_free(line, TRUE);
}

static void
mail_size_param_too_big_552(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<a@b.test> SIZE=4097\r\n"
	    "MAIL FROM:<a@b.test> SIZE=99999999999999999999999\r\n"
	    "MAIL FROM:<a@b.test> SIZE=4096\r\n");

	CHECK_CONTAINS(out, "250 ENHANCEDSTATUSCODES\r\n"
	    "552 5.3.4 message size exceeds fixed maximum message size\r\n"
	    "552 5.3.4 message size exceeds fixed maximum message size\r\n"
	    "250 2.1.0 sender ok\r\n");
	g_free(out);
}

static void
mail_params_body_and_null_path_accepted(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<> BODY=8BITMIME\r\n"
	    "RSET\r\nmail from:<a@b.test> body=7bit size=10\r\nRSET\r\n"
	    "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"
	    "MAIL FROM:<a@b.test> FOO=1\r\nMAIL FROM:a@b.test\r\n"
	    "MAIL FROM:<a@b.test\r\n");

	CHECK_CONTAINS(out, "250 ENHANCEDSTATUSCODES\r\n"
	    "250 2.1.0 sender ok\r\n250 2.0.0 ok\r\n"
	    "250 2.1.0 sender ok\r\n250 2.0.0 ok\r\n"
	    "501 5.5.4 invalid BODY parameter\r\n"
	    "555 5.5.4 MAIL parameter not recognized\r\n"
	    "501 5.5.4 syntax: MAIL FROM:<address>\r\n"
	    "501 5.5.4 syntax: MAIL FROM:<address>\r\n");
	g_free(out);
}

static void
mail_null_path_delivered(void)
{
	struct harness	h;

	harness_open(&h, true);
	feed(&h, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<ops@support.test>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1)
		CHECK_STR(message_at(&h, 0)->mail_from, "");
	harness_close(&h);
}

static void
mail_nested_503(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<a@b.test>\r\n"
	    "MAIL FROM:<a@b.test>\r\n");

	CHECK_CONTAINS(out, "250 2.1.0 sender ok\r\n"
	    "503 5.5.1 sender already given\r\n");
	g_free(out);
}

static void
rcpt_unknown_rejected_550(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<Someone@Elsewhere.test>\r\nDATA\r\n");

	CHECK_CONTAINS(out, "250 2.1.0 sender ok\r\n"
	    "550 5.1.1 <someone@elsewhere.test>: recipient not accepted here"
	    "\r\n503 5.5.1 need RCPT before DATA\r\n");
	g_free(out);
}

static void
rcpt_address_lowercased(void)
{
	struct harness	h;

	harness_open(&h, true);
	feed(&h, "EHLO c\r\nMAIL FROM:<A@B.test>\r\n"
	    "RCPT TO:<CRITICAL@Support.Test>\r\nDATA\r\nx\r\n.\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1) {
		CHECK_STR(message_at(&h, 0)->mail_from, "A@B.test");
		CHECK_STR(g_ptr_array_index(message_at(&h, 0)->rcpt_to, 0),
		    "critical@support.test");
	}
	harness_close(&h);
}

static void
rcpt_before_mail_503(void)
{
	char	*out = dialogue("EHLO c\r\nRCPT TO:<ops@support.test>\r\n");

	CHECK_CONTAINS(out, "250 ENHANCEDSTATUSCODES\r\n"
	    "503 5.5.1 need MAIL before RCPT\r\n");
	g_free(out);
}

static void
rcpt_syntax_501(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\n"
	    "RCPT TO:ops@support.test\r\nRCPT TO:<ops@support.test> X=1\r\n");

	CHECK_CONTAINS(out, "250 2.1.0 sender ok\r\n"
	    "501 5.5.4 syntax: RCPT TO:<address>\r\n"
	    "501 5.5.4 syntax: RCPT TO:<address>\r\n"
	    "555 5.5.4 RCPT parameters not recognized\r\n");
	g_free(out);
}

static void
data_before_rcpt_503(void)
{
	char	*out = dialogue("EHLO c\r\nDATA\r\nMAIL FROM:<>\r\nDATA\r\n");

	CHECK_CONTAINS(out, "250 ENHANCEDSTATUSCODES\r\n"
	    "503 5.5.1 need MAIL before DATA\r\n250 2.1.0 sender ok\r\n"
	    "503 5.5.1 need RCPT before DATA\r\n");
	g_free(out);
}

static void
mail_before_ehlo_503(void)
{
	char	*out = dialogue("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\n"
	    "DATA\r\n");

	CHECK_STR(out, "503 5.5.1 send EHLO or HELO first\r\n"
	    "503 5.5.1 send EHLO or HELO first\r\n"
	    "503 5.5.1 send EHLO or HELO first\r\n");
	g_free(out);
}

static void
unknown_command_500(void)
{
	char	*out = dialogue("BDAT 10 LAST\r\nEHLOX c\r\n\r\n");

	CHECK_STR(out, "500 5.5.2 command not recognized\r\n"
	    "500 5.5.2 command not recognized\r\n"
	    "500 5.5.2 command not recognized\r\n");
	g_free(out);
}

static void
errors_over_limit_421_closed(void)
{
	struct harness	 h;
	char		*out;
	int		 i;

	harness_open(&h, true);
	g_free(take(&h));
	for (i = 0; i < 9; i++)
		feed(&h, "XYZZY\r\n");
	CHECK(!smtp_session_is_closed(h.session));
	feed(&h, "XYZZY\r\nNOOP\r\n");
	CHECK(smtp_session_is_closed(h.session));
	out = take(&h);
	CHECK_CONTAINS(out, "500 5.5.2 command not recognized\r\n"
	    "421 4.7.0 " HOST " too many errors, closing connection\r\n");
	CHECK(strstr(out, "250") == NULL);
	g_free(out);
	harness_close(&h);
}

static void
commit_failure_451_then_next_delivered(void)
{
	struct harness	 h;
	char		*out;

	harness_open_data(&h, false);
	feed(&h, "first\r\n.\r\n");
	CHECK(smtp_session_is_committing(h.session));
	out = take(&h);
	CHECK_STR(out, "");
	g_free(out);
	smtp_session_commit_done(h.session, false);
	CHECK(!smtp_session_is_committing(h.session));
	out = take(&h);
	CHECK_STR(out, "451 4.3.0 temporary failure storing message, "
	    "try again later\r\n");
	g_free(out);

	/* The HELO is kept, the transaction is not. */
	feed(&h, "DATA\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<ops@support.test>\r\nDATA\r\nsecond\r\n.\r\n");
	smtp_session_commit_done(h.session, true);
	out = take(&h);
	CHECK_STR(out, "503 5.5.1 need MAIL before DATA\r\n"
	    "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
	    "354 end data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 message accepted\r\n");
	CHECK_INT(h.messages->len, 2);
	if (h.messages->len == 2) {
		CHECK_INT(message_at(&h, 1)->rcpt_to->len, 1);
		CHECK_STR(message_at(&h, 1)->helo, "client.test");
	}
	g_free(out);
	harness_close(&h);
}

static void
pipelined_after_dot_waits_commit(void)
{
	struct harness	 h;
	char		*out;

	harness_open_data(&h, false);
	feed(&h, "x\r\n.\r\nNOOP\r\nMAIL FROM:<a@b.test>\r\n");
	feed(&h, "RCPT TO:<ops@support.test>\r\nDA");
	out = take(&h);
	CHECK_STR(out, "");
	CHECK(smtp_session_is_committing(h.session));
	g_free(out);
	smtp_session_commit_done(h.session, true);
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n250 2.0.0 ok\r\n"
	    "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n");
	g_free(out);
	feed(&h, "TA\r\n");
	out = take(&h);
	CHECK_STR(out, "354 end data with <CR><LF>.<CR><LF>\r\n");
	g_free(out);
	harness_close(&h);
}

static void
sync_commit_many_messages_in_one_feed(void)
{
	struct harness	 h;
	GString		*in = g_string_new("EHLO c\r\n");
	GString		*want = g_string_new(NULL);
	char		*out;
	int		 i;

	for (i = 0; i < 200; i++) {
		g_string_append(in, "MAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<ops@support.test>\r\nDATA\r\nx\r\n.\r\n");
		g_string_append(want, "250 2.1.0 sender ok\r\n"
		    "250 2.1.5 recipient ok\r\n"
		    "354 end data with <CR><LF>.<CR><LF>\r\n"
		    "250 2.0.0 message accepted\r\n");
	}
	harness_open(&h, true);
	smtp_session_feed(h.session, (const uint8_t *)in->str, in->len);
	out = take(&h);
	CHECK_INT(h.messages->len, 200);
	CHECK(g_str_has_suffix(out, want->str));
	g_free(out);
	harness_close(&h);
	g_string_free(in, TRUE);
	g_string_free(want, TRUE);
}

static void
commit_input_overflow_421(void)
{
	struct harness	 h;
	GString		*noise = g_string_new(NULL);
	char		*out;

	while (noise->len < 200000)
		g_string_append(noise, "NOOP\r\n");
	harness_open_data(&h, false);
	feed(&h, "x\r\n.\r\n");
	smtp_session_feed(h.session, (const uint8_t *)noise->str, noise->len);
	smtp_session_commit_done(h.session, true);
	out = take(&h);
	CHECK_STR(out, "250 2.0.0 message accepted\r\n421 4.7.0 " HOST
	    " too much pipelined input, closing connection\r\n");
	CHECK(smtp_session_is_closed(h.session));
	g_free(out);
	harness_close(&h);
	g_string_free(noise, TRUE);
}

static void
quit_221_closes(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	feed(&h, "QUIT\r\nNOOP\r\n");
	CHECK(smtp_session_is_closed(h.session));
	feed(&h, "NOOP\r\n");
	out = take(&h);
	CHECK_STR(out, "221 2.0.0 bye\r\n");
	g_free(out);
	harness_close(&h);
}

static void
timeout_421_closes(void)
{
	struct harness	 h;
	char		*out;

	harness_open_data(&h, true);
	feed(&h, "partial");
	smtp_session_timeout(h.session);
	CHECK(smtp_session_is_closed(h.session));
	feed(&h, "\r\n.\r\n");
	out = take(&h);
	CHECK_STR(out, "421 4.4.2 " HOST " timeout, closing connection\r\n");
	CHECK_INT(h.messages->len, 0);
	g_free(out);
	harness_close(&h);
}

static void
shutdown_421_closes(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	smtp_session_shutdown(h.session);
	CHECK(smtp_session_is_closed(h.session));
	smtp_session_shutdown(h.session);
	out = take(&h);
	CHECK_STR(out, "421 4.3.2 " HOST " shutting down\r\n");
	g_free(out);
	harness_close(&h);
}

static void
vrfy_252(void)
{
	char	*out = dialogue("VRFY ops\r\nvrfy\r\n");

	CHECK_STR(out, "252 2.5.0 cannot verify addresses; send the message\r\n"
	    "501 5.5.4 syntax: VRFY address\r\n");
	g_free(out);
}

static void
rset_clears_transaction(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<ops@support.test>\r\nRSET\r\nDATA\r\nRCPT TO:<x@y>\r\n");

	CHECK_CONTAINS(out, "250 2.1.5 recipient ok\r\n250 2.0.0 ok\r\n"
	    "503 5.5.1 need MAIL before DATA\r\n"
	    "503 5.5.1 need MAIL before RCPT\r\n");
	g_free(out);
}

static void
rcpt_duplicate_kept_once(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	feed(&h, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<ops@support.test>\r\nRCPT TO:<OPS@support.test>\r\n"
	    "RCPT TO:<noc@support.test>\r\nDATA\r\nx\r\n.\r\n");
	out = take(&h);
	CHECK_CONTAINS(out, "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
	    "250 2.1.5 recipient ok\r\n250 2.1.5 recipient ok\r\n354 ");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1) {
		CHECK_INT(message_at(&h, 0)->rcpt_to->len, 2);
		CHECK_STR(g_ptr_array_index(message_at(&h, 0)->rcpt_to, 0),
		    "ops@support.test");
		CHECK_STR(g_ptr_array_index(message_at(&h, 0)->rcpt_to, 1),
		    "noc@support.test");
	}
	g_free(out);
	harness_close(&h);
}

static void
rcpt_over_limit_452(void)
{
	char	*out = dialogue("EHLO c\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<ops@support.test>\r\nRCPT TO:<noc@support.test>\r\n"
	    "RCPT TO:<oncall@support.test>\r\n"
	    "RCPT TO:<critical@support.test>\r\n"
	    "RCPT TO:<ops@support.test>\r\n");

	CHECK_CONTAINS(out, "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
	    "250 2.1.5 recipient ok\r\n250 2.1.5 recipient ok\r\n"
	    "452 4.5.3 too many recipients\r\n250 2.1.5 recipient ok\r\n");
	g_free(out);
}

static void
legit_message_bytewise_delivered(void)
{
	static const char	 session[] = OPEN "From: a@b.test\r\n"
	    "Subject: down\r\n\r\n.leading dot\r\nline\r\n.\r\nQUIT\r\n";
	struct harness		 h;
	char			*out, *body;

	harness_open(&h, true);
	g_free(take(&h));
	feed_bytewise(&h, session, sizeof(session) - 1);
	out = take(&h);
	CHECK_STR(out, OPENED "250 2.0.0 message accepted\r\n"
	    "221 2.0.0 bye\r\n");
	CHECK_INT(h.messages->len, 1);
	if (h.messages->len == 1) {
		body = body_of(message_at(&h, 0));
		CHECK_STR(body, "From: a@b.test\r\nSubject: down\r\n\r\n"
		    "leading dot\r\nline\r\n");
		g_free(body);
	}
	g_free(out);
	harness_close(&h);
}

/*
 * Appends transactions whose text is drawn from pieces that matter to the
 * DATA parser, with a little noise that also hits command parsing.
 */
static void
random_dialogue_build(GRand *rand, GString *in)
{
	static const char	*pieces[] = { "x", "\r\n", ".", "..",
	    "\r\n.\r\n", "\r", "\n", "\n.\n", "\n.\r\n", "\0",
	    "MAIL FROM:<a@b.test>\r\n", "0123456789abcdef" };
	int			 msg, i;

	g_string_append(in, "EHLO c\r\n");
	for (msg = 0; msg < 20; msg++) {
		g_string_append(in, "MAIL FROM:<a@b.test>\r\n"
		    "RCPT TO:<ops@support.test>\r\nDATA\r\n");
		for (i = g_rand_int_range(rand, 0, 400); i > 0; i--) {
			const char *p = pieces[g_rand_int_range(rand, 0,
			    G_N_ELEMENTS(pieces))];

			g_string_append_len(in, p, p[0] == '\0' ? 1 :
			    (gssize)strlen(p));
		}
		g_string_append(in, "\r\n.\r\n");
	}
}

/*
 * Feeds pseudo-random dialogues in random chunks, committing at random; a
 * memory error shows under the sanitizer and valgrind setups.
 */
static void
random_input_stays_bounded(void)
{
	struct harness	 h;
	GRand		*rand = g_rand_new_with_seed(5321);
	GString		*in = g_string_new(NULL);
	guint		 delivered = 0, i;
	int		 round;
	size_t		 off, n;

	for (round = 0; round < 50; round++) {
		g_string_truncate(in, 0);
		random_dialogue_build(rand, in);
		harness_open(&h, g_rand_boolean(rand));
		for (off = 0; off < in->len; off += n) {
			n = MIN(in->len - off,
			    (size_t)g_rand_int_range(rand, 1, 700));
			smtp_session_feed(h.session,
			    (const uint8_t *)in->str + off, n);
			if (smtp_session_is_committing(h.session))
				smtp_session_commit_done(h.session,
				    g_rand_boolean(rand));
			g_free(take(&h));
		}
		delivered += h.messages->len;
		for (i = 0; i < h.messages->len; i++)
			CHECK(message_at(&h, i)->data->len <=
			    limits.max_message_bytes);
		harness_close(&h);
	}
	CHECK(delivered > 0);	/* some input reached DATA's end cleanly */
	printf("# %u messages delivered\n", delivered);
	g_string_free(in, TRUE);
	g_rand_free(rand);
}

static const struct smtp_limits lmtp_limits = {
	.hostname = HOST,
	.max_message_bytes = 4096,
	.max_recipients = 3,
	.is_lmtp = true,
};

static void
lmtp_lhlo_and_one_reply_per_recipient(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	smtp_session_free(h.session);
	h.session = smtp_session_new(&lmtp_limits, &callbacks, &h, "unix");
	out = take(&h);
	CHECK_STR(out, "220 " HOST " LMTP critgate\r\n");
	g_free(out);
	feed(&h, "EHLO mta.test\r\n");
	out = take(&h);
	CHECK(g_str_has_prefix(out, "500 5.5.1"));
	g_free(out);
	feed(&h, "LHLO mta.test\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<critical@support.test>\r\nRCPT TO:<ops@support.test>\r\n"
	    "DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
	out = take(&h);
	CHECK_CONTAINS(out, "250-PIPELINING");
	CHECK_CONTAINS(out, "354 ");
	CHECK_CONTAINS(out, "250 2.0.0 <critical@support.test> message "
	    "accepted\r\n250 2.0.0 <ops@support.test> message accepted\r\n");
	g_free(out);
	CHECK_INT(h.messages->len, 1);
	harness_close(&h);
}

static void
lmtp_commit_failure_per_recipient(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	h.is_commit_ok = false;
	smtp_session_free(h.session);
	h.session = smtp_session_new(&lmtp_limits, &callbacks, &h, "unix");
	g_free(take(&h));
	feed(&h, "LHLO mta.test\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<critical@support.test>\r\nRCPT TO:<noc@support.test>\r\n"
	    "DATA\r\n\r\nbody\r\n.\r\n");
	out = take(&h);
	CHECK_CONTAINS(out, "451 4.3.0 <critical@support.test> ");
	CHECK_CONTAINS(out, "451 4.3.0 <noc@support.test> ");
	g_free(out);
	harness_close(&h);
}

static void
lmtp_rejected_data_one_reply_per_recipient(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	smtp_session_free(h.session);
	h.session = smtp_session_new(&lmtp_limits, &callbacks, &h, "unix");
	g_free(take(&h));
	feed(&h, "LHLO mta.test\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<critical@support.test>\r\nRCPT TO:<noc@support.test>\r\n"
	    "DATA\r\nbare\nLF\r\n.\r\n");
	out = take(&h);
	CHECK_CONTAINS(out, "354 ");
	CHECK_CONTAINS(out, "550 5.5.2 bare <LF>/<CR> in data; nothing "
	    "stored\r\n550 5.5.2 bare <LF>/<CR> in data; nothing stored\r\n");
	CHECK_INT(h.messages->len, 0);
	g_free(out);
	harness_close(&h);
}

static void
smtp_lhlo_not_recognized(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	feed(&h, "LHLO mta.test\r\n");
	out = take(&h);
	CHECK(g_str_has_prefix(out, "500 5.5.2"));
	g_free(out);
	harness_close(&h);
}

static const struct smtp_limits tls_limits = {
	.hostname = HOST,
	.max_message_bytes = 4096,
	.max_recipients = 3,
	.has_starttls = true,
};

static const struct smtp_limits tls_required_limits = {
	.hostname = HOST,
	.max_message_bytes = 4096,
	.max_recipients = 3,
	.has_starttls = true,
	.is_tls_required = true,
};

#define EHLO_TLS_REPLY	"250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 4096\r\n" \
			"250-8BITMIME\r\n250-STARTTLS\r\n" \
			"250 ENHANCEDSTATUSCODES\r\n"
#define EHLO_PLAIN_REPLY "250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 4096\r\n" \
			"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
#define STARTTLS_REPLY	"220 2.0.0 ready to start TLS\r\n"

/* Opens a session with lim, past its greeting. */
static void
harness_open_limits(struct harness *h, const struct smtp_limits *lim)
{
	harness_open(h, true);
	smtp_session_free(h->session);
	h->session = smtp_session_new(lim, &callbacks, h, "192.0.2.7:4242");
	g_free(take(h));
}

/* Opens a session with lim and runs EHLO, STARTTLS and the handshake. */
static void
harness_open_tls(struct harness *h, const struct smtp_limits *lim)
{
	char	*out;

	harness_open_limits(h, lim);
	feed(h, "EHLO client.test\r\nSTARTTLS\r\n");
	out = take(h);
	CHECK_STR(out, EHLO_TLS_REPLY STARTTLS_REPLY);
	g_free(out);
	CHECK_INT(h->tls_starts, 1);
	smtp_session_tls_started(h->session);
}

static void
ehlo_starttls_announced_when_configured(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_TLS_REPLY);
	g_free(out);
	harness_close(&h);
}

static void
ehlo_starttls_absent_by_default(void)
{
	char	*out = dialogue("EHLO client.test\r\nSTARTTLS\r\n");

	CHECK_STR(out, EHLO_PLAIN_REPLY "502 5.5.1 STARTTLS not available\r\n");
	g_free(out);
}

static void
starttls_220_then_reset_to_greeted(void)
{
	struct harness	 h;
	char		*out;

	harness_open_tls(&h, &tls_limits);
	CHECK(!smtp_session_is_closed(h.session));

	/* The EHLO before TLS is forgotten: MAIL needs a new one. */
	feed(&h, "MAIL FROM:<dana@customer.test>\r\n");
	out = take(&h);
	CHECK_STR(out, "503 5.5.1 send EHLO or HELO first\r\n");
	g_free(out);
	feed(&h, "EHLO client.test\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_PLAIN_REPLY);
	g_free(out);
	feed(&h, "MAIL FROM:<dana@customer.test>\r\n"
	    "RCPT TO:<critical@support.test>\r\nDATA\r\nx\r\n.\r\n");
	out = take(&h);
	CHECK_CONTAINS(out, "250 2.0.0 message accepted\r\n");
	g_free(out);
	CHECK_INT(h.messages->len, 1);
	harness_close(&h);
}

static void
starttls_pipelined_input_discarded(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\nSTARTTLS\r\nRSET\r\n"
	    "MAIL FROM:<mallory@attacker.test>\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_TLS_REPLY STARTTLS_REPLY);
	g_free(out);
	CHECK_INT(h.tls_starts, 1);

	/* Plaintext that arrives before the handshake is dropped too. */
	feed(&h, "RCPT TO:<critical@support.test>\r\n");
	out = take(&h);
	CHECK_STR(out, "");
	g_free(out);

	smtp_session_tls_started(h.session);
	out = take(&h);
	CHECK_STR(out, "");
	g_free(out);
	feed(&h, "EHLO client.test\r\nRCPT TO:<critical@support.test>\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_PLAIN_REPLY
	    "503 5.5.1 need MAIL before RCPT\r\n");
	g_free(out);
	CHECK_INT(h.messages->len, 0);
	harness_close(&h);
}

static void
starttls_split_line_then_discarded(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\nSTART");
	g_free(take(&h));
	feed(&h, "TLS\r\nNOOP\r\n");
	out = take(&h);
	CHECK_STR(out, STARTTLS_REPLY);
	g_free(out);
	CHECK_INT(h.tls_starts, 1);
	harness_close(&h);
}

static void
starttls_second_refused_503(void)
{
	struct harness	 h;
	char		*out;

	harness_open_tls(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\nSTARTTLS\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_PLAIN_REPLY "503 5.5.1 TLS already active\r\n");
	g_free(out);
	CHECK_INT(h.tls_starts, 1);
	harness_close(&h);
}

static void
starttls_with_argument_501(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\nSTARTTLS now\r\nNOOP\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_TLS_REPLY
	    "501 5.5.4 syntax: STARTTLS (no parameters)\r\n"
	    "250 2.0.0 ok\r\n");
	g_free(out);
	CHECK_INT(h.tls_starts, 0);
	harness_close(&h);
}

static void
starttls_before_ehlo_503(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "STARTTLS\r\n");
	out = take(&h);
	CHECK_STR(out, "503 5.5.1 send EHLO first\r\n");
	g_free(out);
	CHECK_INT(h.tls_starts, 0);
	harness_close(&h);
}

static void
starttls_in_transaction_503(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\nMAIL FROM:<dana@customer.test>\r\n");
	g_free(take(&h));
	feed(&h, "STARTTLS\r\n");
	out = take(&h);
	CHECK_STR(out, "503 5.5.1 mail transaction in progress; send RSET "
	    "first\r\n");
	g_free(out);
	CHECK_INT(h.tls_starts, 0);
	harness_close(&h);
}

static void
starttls_timeout_while_starting_closes(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\nSTARTTLS\r\n");
	g_free(take(&h));
	smtp_session_timeout(h.session);
	CHECK(smtp_session_is_closed(h.session));
	smtp_session_tls_started(h.session);
	CHECK(smtp_session_is_closed(h.session));
	out = take(&h);
	CHECK_CONTAINS(out, "421 4.4.2");
	g_free(out);
	harness_close(&h);
}

static void
tls_started_outside_starttls_ignored(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_limits);
	feed(&h, "EHLO client.test\r\n");
	g_free(take(&h));
	smtp_session_tls_started(h.session);
	feed(&h, "MAIL FROM:<dana@customer.test>\r\nEHLO client.test\r\n");
	out = take(&h);
	CHECK_STR(out, "250 2.1.0 sender ok\r\n" EHLO_TLS_REPLY);
	g_free(out);
	harness_close(&h);
}

static void
tls_required_mail_530_until_starttls(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &tls_required_limits);
	feed(&h, "EHLO client.test\r\nMAIL FROM:<dana@customer.test>\r\n"
	    "RCPT TO:<critical@support.test>\r\nDATA\r\nVRFY dana\r\n"
	    "NOOP\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_TLS_REPLY
	    "530 5.7.0 must issue a STARTTLS command first\r\n"
	    "530 5.7.0 must issue a STARTTLS command first\r\n"
	    "530 5.7.0 must issue a STARTTLS command first\r\n"
	    "530 5.7.0 must issue a STARTTLS command first\r\n"
	    "250 2.0.0 ok\r\n");
	g_free(out);
	harness_close(&h);
}

static void
tls_required_mail_accepted_after_starttls(void)
{
	struct harness	 h;
	char		*out;

	harness_open_tls(&h, &tls_required_limits);
	feed(&h, "EHLO client.test\r\nMAIL FROM:<dana@customer.test>\r\n");
	out = take(&h);
	CHECK_STR(out, EHLO_PLAIN_REPLY "250 2.1.0 sender ok\r\n");
	g_free(out);
	harness_close(&h);
}

static void
lmtp_starttls_not_available(void)
{
	struct harness	 h;
	char		*out;

	harness_open_limits(&h, &lmtp_limits);
	feed(&h, "LHLO mta.test\r\nSTARTTLS\r\n");
	out = take(&h);
	CHECK(strstr(out, "250-STARTTLS") == NULL);
	CHECK_CONTAINS(out, "502 5.5.1 STARTTLS not available\r\n");
	g_free(out);
	harness_close(&h);
}

static void
drain_idle_session_closes_at_once(void)
{
	struct harness	 h;
	char		*out;

	harness_open(&h, true);
	g_free(take(&h));
	feed(&h, "EHLO client.test\r\n");
	g_free(take(&h));
	CHECK(!smtp_session_is_busy(h.session));
	smtp_session_drain(h.session);
	out = take(&h);
	CHECK(g_str_has_prefix(out, "421 4.3.2"));
	CHECK(smtp_session_is_closed(h.session));
	g_free(out);
	harness_close(&h);
}

static void
drain_data_session_finishes_then_closes(void)
{
	struct harness	 h;
	char		*out;

	harness_open_data(&h, true);
	feed(&h, "Subject: x\r\n\r\nbody");
	CHECK(smtp_session_is_busy(h.session));
	smtp_session_drain(h.session);
	out = take(&h);
	CHECK_STR(out, "");
	g_free(out);
	CHECK(!smtp_session_is_closed(h.session));
	feed(&h, "\r\n.\r\nMAIL FROM:<>\r\n");
	out = take(&h);
	CHECK(g_str_has_prefix(out, "250 2.0.0 message accepted\r\n421 4.3.2"));
	CHECK_INT(h.messages->len, 1);
	CHECK(smtp_session_is_closed(h.session));
	g_free(out);
	harness_close(&h);
}

int
main(void)
{
	TAP_RUN(greeting_on_new_is_220);
	TAP_RUN(ehlo_lists_extensions);
	TAP_RUN(helo_lowercase_verb_accepted);
	TAP_RUN(ehlo_without_argument_501);
	TAP_RUN(pipelined_transaction_one_feed_delivered);
	TAP_RUN(data_dot_stuffed_line_unstuffed);
	TAP_RUN(data_empty_message_delivered);
	TAP_RUN(data_terminator_split_bytewise_ends);
	TAP_RUN(sending_from_mail_to_final_dot);
	TAP_RUN(data_bare_lf_rejected);
	TAP_RUN(data_bare_cr_rejected);
	TAP_RUN(data_bare_cr_before_dot_not_end);
	TAP_RUN(data_lf_dot_lf_not_end);
	TAP_RUN(smuggle_lf_dot_crlf_rejected_once);
	TAP_RUN(smuggle_lf_dot_lf_rejected_once);
	TAP_RUN(folded_header_bare_lf_rejected);
	TAP_RUN(data_oversize_rejected_552);
	TAP_RUN(data_max_size_delivered);
	TAP_RUN(data_long_line_delivered_whole);
	TAP_RUN(data_endless_line_too_big);
	TAP_RUN(data_line_over_limit_rejected_500);
	TAP_RUN(data_line_at_limit_delivered);
	TAP_RUN(command_bare_lf_discarded);
	TAP_RUN(command_bare_cr_discarded);
	TAP_RUN(command_nul_rejected);
	TAP_RUN(command_too_long_500);
	TAP_RUN(command_at_limit_accepted);
	TAP_RUN(mail_size_param_too_big_552);
	TAP_RUN(mail_params_body_and_null_path_accepted);
	TAP_RUN(mail_null_path_delivered);
	TAP_RUN(mail_nested_503);
	TAP_RUN(rcpt_unknown_rejected_550);
	TAP_RUN(rcpt_address_lowercased);
	TAP_RUN(rcpt_before_mail_503);
	TAP_RUN(rcpt_syntax_501);
	TAP_RUN(data_before_rcpt_503);
	TAP_RUN(mail_before_ehlo_503);
	TAP_RUN(unknown_command_500);
	TAP_RUN(errors_over_limit_421_closed);
	TAP_RUN(commit_failure_451_then_next_delivered);
	TAP_RUN(pipelined_after_dot_waits_commit);
	TAP_RUN(sync_commit_many_messages_in_one_feed);
	TAP_RUN(commit_input_overflow_421);
	TAP_RUN(quit_221_closes);
	TAP_RUN(timeout_421_closes);
	TAP_RUN(shutdown_421_closes);
	TAP_RUN(vrfy_252);
	TAP_RUN(rset_clears_transaction);
	TAP_RUN(rcpt_duplicate_kept_once);
	TAP_RUN(rcpt_over_limit_452);
	TAP_RUN(legit_message_bytewise_delivered);
	TAP_RUN(random_input_stays_bounded);
	TAP_RUN(lmtp_lhlo_and_one_reply_per_recipient);
	TAP_RUN(lmtp_commit_failure_per_recipient);
	TAP_RUN(smtp_lhlo_not_recognized);
	TAP_RUN(lmtp_rejected_data_one_reply_per_recipient);
	TAP_RUN(ehlo_starttls_announced_when_configured);
	TAP_RUN(ehlo_starttls_absent_by_default);
	TAP_RUN(starttls_220_then_reset_to_greeted);
	TAP_RUN(starttls_pipelined_input_discarded);
	TAP_RUN(starttls_split_line_then_discarded);
	TAP_RUN(starttls_second_refused_503);
	TAP_RUN(starttls_with_argument_501);
	TAP_RUN(starttls_before_ehlo_503);
	TAP_RUN(starttls_in_transaction_503);
	TAP_RUN(starttls_timeout_while_starting_closes);
	TAP_RUN(tls_started_outside_starttls_ignored);
	TAP_RUN(tls_required_mail_530_until_starttls);
	TAP_RUN(tls_required_mail_accepted_after_starttls);
	TAP_RUN(lmtp_starttls_not_available);
	TAP_RUN(drain_idle_session_closes_at_once);
	TAP_RUN(drain_data_session_finishes_then_closes);
	return tap_done();
}
