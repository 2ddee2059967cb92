/* SPDX-License-Identifier: ISC */
/*
 * Tests of the mailout stage: template loading and its errors, rendering,
 * and composed mail of every kind parsed back with GMime to check headers,
 * encodings, non-ASCII round trips and RFC 5322 line rules.  Templates come
 * from data/mailout/good/ and from etc/templates/; broken ones are written
 * into a temporary folder.
 */
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>

#include "classify.h"
#include "mailout.h"
#include "parse.h"
#include "tap.h"

#define GOOD_DIR	"data/mailout/good"
#define SHIPPED_DIR	"../etc/templates"

static const char *const good_refs[] = {
	"root@example.com", "r2@example.com",
};

static const struct mailout_var good_vars[] = {
	{ "incident", "42" },
	{ "severity", "critical" },
	{ "subject", "Database down" },
	{ "reporter", "alice@customer.example" },
	{ "text", "Nothing works." },
};

/* A valid page mail; tests change fields of a copy. */
static struct mailout_message
message_sample(void)
{
	struct mailout_message	m = {
		.kind = MAILOUT_PAGE,
		.from_name = "Critical Support",
		.from_addr = "critical@support.example.com",
		.to_addr = "bob@support.example.com",
		.to_name = "Bob Example",
		.reply_to = "critical@support.example.com",
		.message_id = "1abc@gw.support.example.com",
		.in_reply_to = "r2@example.com",
		.references = good_refs,
		.n_references = G_N_ELEMENTS(good_refs),
		.date_ms = 1700000000123,
		.loop_value = "gw.support.example.com",
		.vars = good_vars,
		.n_vars = G_N_ELEMENTS(good_vars),
	};

	return m;
}

static struct mailout_templates *
templates_good(void)
{
	struct mailout_templates	*t;
	char				*error = NULL;

	t = mailout_templates_load(GOOD_DIR, &error);
	if (t == NULL) {
		printf("# loading %s failed: %s\n", GOOD_DIR, error);
		tap_case_failed = true;
	}
	g_free(error);
	return t;
}

/*
 * Makes a temporary copy of the good templates with kind's file replaced
 * by len bytes of contents; caller removes it with dir_remove.
 */
static char *
dir_with(enum mailout_kind kind, const char *contents, gssize len)
{
	char	*dir, *src, *dst, *text, *name;
	gsize	 text_len;
	int	 i;

	dir = g_dir_make_tmp("test-mailout-XXXXXX", NULL);
	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		name = g_strconcat(mailout_kind_name(i), ".txt", NULL);
		src = g_build_filename(GOOD_DIR, name, NULL);
		dst = g_build_filename(dir, name, NULL);
		if (i == (int)kind) {
			g_file_set_contents(dst, contents, len, NULL);
		} else {
			g_file_get_contents(src, &text, &text_len, NULL);
			g_file_set_contents(dst, text, text_len, NULL);
			g_free(text);
		}
		g_free(dst);
		g_free(src);
		g_free(name);
	}
	return dir;
}

static void
dir_remove(char *dir)
{
	char	*path, *name;
	int	 i;

	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		name = g_strconcat(mailout_kind_name(i), ".txt", NULL);
		path = g_build_filename(dir, name, NULL);
		(void)g_unlink(path);
		g_free(path);
		g_free(name);
	}
	(void)g_rmdir(dir);
	g_free(dir);
}

/*
 * Loads the good templates with kind's file replaced by contents and
 * returns the load error (caller frees with g_free), or NULL when the load
 * succeeded.  *dir_out gets the folder's name when dir_out is set.
 */
static char *
load_error(enum mailout_kind kind, const char *contents, gssize len,
    char **dir_out)
{
	struct mailout_templates	*t;
	char				*dir, *error = NULL;

	dir = dir_with(kind, contents, len);
	t = mailout_templates_load(dir, &error);
	CHECK(t == NULL);
	mailout_templates_free(t);
	if (dir_out != NULL)
		*dir_out = g_strdup(dir);
	dir_remove(dir);
	return error;
}

/* Checks that loading with kind's file set to contents fails with want. */
static void
check_load_error(enum mailout_kind kind, const char *contents,
    const char *want)
{
	char	*error, *dir = NULL, *full;

	error = load_error(kind, contents, -1, &dir);
	full = g_strdup_printf("%s/%s.txt%s", dir, mailout_kind_name(kind),
	    want);
	CHECK_STR(error, full);
	g_free(full);
	g_free(dir);
	g_free(error);
}

static GMimeMessage *
parse_back(GBytes *bytes)
{
	GMimeStream	*stream;
	GMimeParser	*parser;
	GMimeMessage	*msg;
	gsize		 len;
	const char	*data = g_bytes_get_data(bytes, &len);

	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

static const char *
header_of(GMimeMessage *msg, const char *name)
{
	return g_mime_object_get_header(GMIME_OBJECT(msg), name);
}

/* Returns header name of msg with each run of whitespace as one space. */
static char *
header_spaced(GMimeMessage *msg, const char *name)
{
	const char	*value = header_of(msg, name);
	char		**words, *joined;

	if (value == NULL)
		return NULL;
	words = g_regex_split_simple("[ \t]+", value, 0, 0);
	joined = g_strjoinv(" ", words);
	g_strfreev(words);
	return joined;
}

/*
 * Returns the Subject as the parse stage decodes it (caller frees with
 * g_free).  GMime 3.2.13's own decoder joins adjacent base64 encoded-words
 * before decoding, so it drops the text after a word that ends in "="
 * padding, which GMime's encoder writes.  critgate reads mail with the
 * parse stage, which decodes each word on its own.
 */
static char *
parsed_subject(GBytes *bytes)
{
	struct parse_result	 r;
	gsize			 len;
	const uint8_t		*data = g_bytes_get_data(bytes, &len);
	char			*subject;

	memset(&r, 0, sizeof(r));
	CHECK_INT(parse_message(data, len, &r), 0);
	subject = g_strdup(r.subject);
	parse_result_fini(&r);
	return subject;
}

/* Returns the header block of bytes, CRLFs included; g_free it. */
static char *
header_block(GBytes *bytes)
{
	gsize		 len;
	const char	*data = g_bytes_get_data(bytes, &len);
	const char	*end = g_strstr_len(data, len, "\r\n\r\n");

	if (end == NULL)
		return g_strndup(data, len);
	return g_strndup(data, end + 2 - data);
}

static char *
body_text(GMimeMessage *msg)
{
	GMimeObject	*part = g_mime_message_get_mime_part(msg);

	if (part == NULL || !GMIME_IS_TEXT_PART(part))
		return NULL;
	return g_mime_text_part_get_text(GMIME_TEXT_PART(part));
}

static GMimeContentEncoding
body_encoding(GMimeMessage *msg)
{
	GMimeObject	*part = g_mime_message_get_mime_part(msg);

	if (part == NULL || !GMIME_IS_PART(part))
		return GMIME_CONTENT_ENCODING_DEFAULT;
	return g_mime_part_get_content_encoding(GMIME_PART(part));
}

/* Composes m with the good templates; NULL (and a diagnostic) on error. */
static GBytes *
compose_good(const struct mailout_message *m)
{
	struct mailout_templates	*t = templates_good();
	GBytes				*bytes;
	char				*error = NULL;

	if (t == NULL)
		return NULL;
	bytes = mailout_compose(t, m, &error);
	if (bytes == NULL) {
		printf("# compose failed: %s\n", error);
		tap_case_failed = true;
	}
	g_free(error);
	mailout_templates_free(t);
	return bytes;
}

/* Returns compose's error for m (caller frees with g_free). */
static char *
compose_error(const struct mailout_message *m)
{
	struct mailout_templates	*t = templates_good();
	GBytes				*bytes;
	char				*error = NULL;

	if (t == NULL)
		return NULL;
	bytes = mailout_compose(t, m, &error);
	CHECK(bytes == NULL);
	if (bytes != NULL)
		g_bytes_unref(bytes);
	mailout_templates_free(t);
	return error;
}

/* Checks CRLF line endings, no bare CR or LF and no line over 998. */
static void
check_lines(GBytes *bytes)
{
	gsize		 len, i, start = 0;
	const char	*data = g_bytes_get_data(bytes, &len);

	for (i = 0; i < len; i++) {
		if (data[i] == '\n') {
			CHECK(i > 0);
			if (i > 0)
				CHECK(data[i - 1] == '\r');
			CHECK_INT(i - 1 - start <= 998, 1);
			start = i + 1;
		} else if (data[i] == '\r') {
			CHECK(i + 1 < len);
			if (i + 1 < len)
				CHECK(data[i + 1] == '\n');
		}
	}
	CHECK_INT(start, len);
}

static void
kind_names_round_trip(void)
{
	enum mailout_kind	kind;
	int			i;

	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		CHECK_INT(mailout_kind_from_name(mailout_kind_name(i), &kind),
		    0);
		CHECK_INT(kind, i);
	}
	CHECK_STR(mailout_kind_name(MAILOUT_PAGE), "page");
	CHECK_STR(mailout_kind_name(MAILOUT_STATUS), "status");
	CHECK_STR(mailout_kind_name(MAILOUT_FIX_OVERDUE), "fix_overdue");
	CHECK_STR(mailout_kind_name(MAILOUT_UPDATE), "update");
	CHECK_STR(mailout_kind_name(MAILOUT_KIND_COUNT), "unknown");
	CHECK_INT(mailout_kind_from_name("pager", &kind), -1);
}

static void
templates_shipped_defaults_load(void)
{
	struct mailout_templates	*t;
	char				*error = NULL;

	t = mailout_templates_load(SHIPPED_DIR, &error);
	CHECK(t != NULL);
	CHECK_STR(error, NULL);
	mailout_templates_free(t);
	g_free(error);
}

/* Every shipped template renders with a value for each placeholder. */
static void
templates_shipped_defaults_compose(void)
{
	static const struct mailout_var	vars[] = {
		{ "incident", "42" }, { "severity", "critical" },
		{ "subject", "Database down" },
		{ "reporter", "alice@customer.example" },
		{ "promise", "30 minutes" },
		{ "deadline", "2023-11-14 22:43 UTC" },
		{ "member", "Bob" }, { "acked_by", "Bob" },
		{ "text", "Nothing works." }, { "ack_how", "Reply ACK." },
		{ "analysed", "2023-11-15 09:00 UTC" },
		{ "analysed_by", "Alice" },
		{ "fix_due", "2023-11-20 09:00 UTC" },
		{ "writer", "carol@customer.example" },
		{ "state", "acknowledged by Bob" },
	};
	struct mailout_templates	*t;
	struct mailout_message		 m = message_sample();
	GBytes				*bytes;
	char				*error = NULL;
	int				 i;

	t = mailout_templates_load(SHIPPED_DIR, &error);
	CHECK(t != NULL);
	m.vars = vars;
	m.n_vars = G_N_ELEMENTS(vars);
	for (i = 0; t != NULL && i < MAILOUT_KIND_COUNT; i++) {
		m.kind = i;
		bytes = mailout_compose(t, &m, &error);
		CHECK(bytes != NULL);
		CHECK_STR(error, NULL);
		if (bytes != NULL) {
			check_lines(bytes);
			g_bytes_unref(bytes);
		}
		g_free(error);
		error = NULL;
	}
	mailout_templates_free(t);
}

static void
templates_unknown_placeholder_rejected(void)
{
	check_load_error(MAILOUT_PAGE, "Subject: x\n\nHello\n{{foo}}\n",
	    ":4: unknown placeholder {{foo}}");
	check_load_error(MAILOUT_STATUS, "Subject: {{incident}} {{Subject}}\n"
	    "\nbody\n", ":1: unknown placeholder {{Subject}}");
}

static void
templates_unclosed_brace_rejected(void)
{
	check_load_error(MAILOUT_JOINED, "Subject: x\n\nHello {{text\n}}\n",
	    ":3: unclosed {{");
}

static void
templates_missing_subject_rejected(void)
{
	check_load_error(MAILOUT_CONFIRMATION, "Hello\n\nbody\n",
	    ":1: missing \"Subject:\" line");
	check_load_error(MAILOUT_CONFIRMATION, "Subject:   \n\nbody\n",
	    ":1: empty Subject");
}

static void
templates_missing_blank_line_rejected(void)
{
	check_load_error(MAILOUT_RESOLVED, "Subject: x\nbody\n",
	    ":2: expected a blank line after the Subject line");
	check_load_error(MAILOUT_RESOLVED, "Subject: x\n",
	    ":2: expected a blank line after the Subject line");
	check_load_error(MAILOUT_RESOLVED, "Subject: x\n\n",
	    ":3: empty body");
}

static void
templates_invalid_utf8_rejected(void)
{
	check_load_error(MAILOUT_ACKNOWLEDGED, "Subject: x\n\nok\nbad \xfc\n",
	    ":4: invalid UTF-8");
}

static void
templates_control_character_rejected(void)
{
	check_load_error(MAILOUT_ACKNOWLEDGED, "Subject: x\n\nok\rbad\n",
	    ":3: control character 0x0d");
}

static void
templates_oversize_rejected(void)
{
	char	*big, *error, *dir = NULL, *want;
	size_t	 len = MAILOUT_TEMPLATE_MAX + 1;

	big = g_malloc(len);
	memset(big, 'a', len);
	memcpy(big, "Subject: x\n\n", 12);
	error = load_error(MAILOUT_PAGE, big, (gssize)len, &dir);
	want = g_strdup_printf("%s/page.txt: larger than %d bytes", dir,
	    MAILOUT_TEMPLATE_MAX);
	CHECK_STR(error, want);
	g_free(want);
	g_free(dir);
	g_free(error);
	g_free(big);
}

static void
templates_missing_file_rejected(void)
{
	struct mailout_templates	*t;
	char				*error = NULL;

	t = mailout_templates_load("data/mailout/no-such-dir", &error);
	CHECK(t == NULL);
	CHECK_STR(error, "data/mailout/no-such-dir: not found or not a "
	    "folder");
	g_free(error);
}

static void
templates_every_problem_reported(void)
{
	struct mailout_templates	*t;
	char				*dir, *path, *error = NULL;

	dir = g_dir_make_tmp("critgate-templates-XXXXXX", NULL);
	path = g_build_filename(dir, "page.txt", NULL);
	g_file_set_contents(path, "Subject: [#{{incident}}]\n\n{{nope}}\n",
	    -1, NULL);
	t = mailout_templates_load(dir, &error);
	CHECK(t == NULL);
	CHECK_CONTAINS(error, "page.txt:3: unknown placeholder {{nope}}");
	CHECK_CONTAINS(error, "confirmation.txt: open failed");
	CHECK_CONTAINS(error, "status.txt: open failed");
	CHECK(error != NULL);
	CHECK(error == NULL || strstr(error, "fix_overdue") == NULL);
	g_free(error);
	unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
}

/*
 * A folder without fix_overdue.txt, as an older version installed it,
 * still loads; that kind alone is then not composed.
 */
static void
templates_without_fix_overdue_load(void)
{
	struct mailout_templates	*t;
	struct mailout_message		 m = message_sample();
	GBytes				*bytes;
	char				*dir, *path, *error = NULL;

	dir = dir_with(MAILOUT_PAGE, "Subject: [#{{incident}}]\n\nHi\n", -1);
	path = g_build_filename(dir, "fix_overdue.txt", NULL);
	CHECK_INT(g_unlink(path), 0);
	t = mailout_templates_load(dir, &error);
	CHECK(t != NULL);
	CHECK_STR(error, NULL);
	CHECK(mailout_templates_have(t, MAILOUT_PAGE));
	CHECK(!mailout_templates_have(t, MAILOUT_FIX_OVERDUE));
	m.kind = MAILOUT_FIX_OVERDUE;
	bytes = t != NULL ? mailout_compose(t, &m, &error) : NULL;
	CHECK(bytes == NULL);
	CHECK_STR(error, "no template fix_overdue.txt");
	mailout_templates_free(t);
	g_free(error);
	g_free(path);
	dir_remove(dir);
}

static void
templates_crlf_file_accepted(void)
{
	struct mailout_templates	*t;
	char				*dir, *error = NULL;

	dir = dir_with(MAILOUT_PAGE,
	    "Subject: [#{{incident}}] {{subject}}\r\n\r\nHi\r\n", -1);
	t = mailout_templates_load(dir, &error);
	CHECK(t != NULL);
	CHECK_STR(error, NULL);
	mailout_templates_free(t);
	g_free(error);
	dir_remove(dir);
}

static void
compose_placeholders_substituted(void)
{
	struct mailout_message	 m = message_sample();
	GBytes			*bytes = compose_good(&m);
	GMimeMessage		*msg;
	char			*body;

	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	CHECK_STR(g_mime_message_get_subject(msg),
	    "[#42] page: Database down");
	body = body_text(msg);
	CHECK_STR(body, "Kind page for alice@customer.example.\r\n"
	    "Nothing works.\r\n");
	g_free(body);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void
compose_subject_injection_neutralised(void)
{
	static const struct mailout_var	vars[] = {
		{ "incident", "42" },
		{ "subject", "x\r\nBcc: evil@example.com\nX-Evil:\x01yes" },
		{ "reporter", "alice@customer.example" },
		{ "text", "t" },
	};
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*head;

	m.vars = vars;
	m.n_vars = G_N_ELEMENTS(vars);
	bytes = compose_good(&m);
	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	CHECK_STR(g_mime_message_get_subject(msg),
	    "[#42] page: x  Bcc: evil@example.com X-Evil: yes");
	CHECK_STR(header_of(msg, "Bcc"), NULL);
	CHECK_STR(header_of(msg, "X-Evil"), NULL);
	head = header_block(bytes);
	CHECK(strstr(head, "\r\nBcc:") == NULL);
	g_free(head);
	check_lines(bytes);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void
compose_each_kind_auto_submitted(void)
{
	static const char *const want[MAILOUT_KIND_COUNT] = {
		"auto-generated", "auto-replied", "auto-replied",
		"auto-replied", "auto-replied", "auto-replied",
		"auto-generated", "auto-generated",
	};
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*subject;
	int			 i;

	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		m.kind = i;
		bytes = compose_good(&m);
		if (bytes == NULL)
			continue;
		msg = parse_back(bytes);
		CHECK_STR(header_of(msg, "Auto-Submitted"), want[i]);
		CHECK_STR(header_of(msg, "X-Auto-Response-Suppress"), "All");
		CHECK_STR(header_of(msg, "Precedence"), NULL);
		subject = g_strdup_printf("[#42] %s: Database down",
		    mailout_kind_name(i));
		CHECK_STR(g_mime_message_get_subject(msg), subject);
		g_free(subject);
		g_object_unref(msg);
		g_bytes_unref(bytes);
	}
}

static void
compose_headers_round_trip(void)
{
	struct mailout_message	 m = message_sample();
	GBytes			*bytes = compose_good(&m);
	GMimeMessage		*msg;
	char			*from, *to, *head, *refs;
	GDateTime		*date;

	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	from = internet_address_list_to_string(g_mime_message_get_from(msg),
	    NULL, FALSE);
	to = internet_address_list_to_string(g_mime_message_get_to(msg),
	    NULL, FALSE);
	CHECK_STR(from, "Critical Support <critical@support.example.com>");
	CHECK_STR(to, "Bob Example <bob@support.example.com>");
	CHECK_STR(header_of(msg, "Reply-To"), "critical@support.example.com");
	CHECK_STR(g_mime_message_get_message_id(msg),
	    "1abc@gw.support.example.com");
	CHECK_STR(header_of(msg, "In-Reply-To"), "<r2@example.com>");
	refs = header_spaced(msg, "References");
	CHECK_STR(refs, "<root@example.com> <r2@example.com>");
	g_free(refs);
	CHECK_STR(header_of(msg, CLASSIFY_LOOP_HEADER),
	    "gw.support.example.com");
	CHECK_STR(header_of(msg, "MIME-Version"), "1.0");
	CHECK_STR(header_of(msg, "X-Mailer"), NULL);
	CHECK_STR(header_of(msg, "Bcc"), NULL);
	date = g_mime_message_get_date(msg);
	CHECK(date != NULL);
	if (date != NULL)
		CHECK_INT(g_date_time_to_unix(date), 1700000000);
	head = header_block(bytes);
	CHECK_CONTAINS(head, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n");
	CHECK_CONTAINS(head, "Content-Type: text/plain; charset=utf-8\r\n");
	CHECK_CONTAINS(head, "Content-Transfer-Encoding: 7bit\r\n");
	g_free(head);
	g_free(to);
	g_free(from);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void
compose_optional_headers_omitted(void)
{
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*to;

	m.from_name = NULL;
	m.to_name = NULL;
	m.reply_to = NULL;
	m.in_reply_to = NULL;
	m.references = NULL;
	m.n_references = 0;
	bytes = compose_good(&m);
	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	CHECK_STR(header_of(msg, "Reply-To"), NULL);
	CHECK_STR(header_of(msg, "In-Reply-To"), NULL);
	CHECK_STR(header_of(msg, "References"), NULL);
	to = internet_address_list_to_string(g_mime_message_get_to(msg),
	    NULL, FALSE);
	CHECK_STR(to, "bob@support.example.com");
	g_free(to);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void
compose_references_first_and_last_kept(void)
{
	struct mailout_message	 m = message_sample();
	const char		*refs[15];
	char			 names[15][32];
	GString			*want;
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*got;
	int			 i;

	want = g_string_new("<r0@example.com>");
	for (i = 0; i < 15; i++) {
		snprintf(names[i], sizeof(names[i]), "r%d@example.com", i);
		refs[i] = names[i];
		if (i >= 5)
			g_string_append_printf(want, " <%s>", names[i]);
	}
	m.references = refs;
	m.n_references = 15;
	bytes = compose_good(&m);
	if (bytes != NULL) {
		msg = parse_back(bytes);
		got = header_spaced(msg, "References");
		CHECK_STR(got, want->str);
		g_free(got);
		check_lines(bytes);
		g_object_unref(msg);
		g_bytes_unref(bytes);
	}
	g_string_free(want, TRUE);
}

static void
compose_non_ascii_round_trip(void)
{
	static const struct mailout_var	vars[] = {
		{ "incident", "7" },
		{ "subject", "Prüfungsanmeldung für Schüler gestört" },
		{ "reporter", "Jürgen Größer" },
		{ "text", "I’m unable to log in. Grüße" },
	};
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*body, *head, *from, *subject;

	m.vars = vars;
	m.n_vars = G_N_ELEMENTS(vars);
	m.from_name = "Kritischer Support Müller";
	bytes = compose_good(&m);
	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	subject = parsed_subject(bytes);
	CHECK_STR(subject, "[#7] page: Prüfungsanmeldung für Schüler gestört");
	g_free(subject);
	body = body_text(msg);
	CHECK_STR(body, "Kind page for Jürgen Größer.\r\n"
	    "I’m unable to log in. Grüße\r\n");
	CHECK_INT(body_encoding(msg), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	from = internet_address_list_to_string(g_mime_message_get_from(msg),
	    NULL, FALSE);
	CHECK_STR(from, "Kritischer Support Müller "
	    "<critical@support.example.com>");
	head = header_block(bytes);
	for (const char *p = head; *p != '\0'; p++)
		CHECK_INT((unsigned char)*p < 0x80, 1);
	CHECK_CONTAINS(head, "=?UTF-8?");
	CHECK_CONTAINS(head, "Content-Transfer-Encoding: quoted-printable");
	check_lines(bytes);
	g_free(from);
	g_free(head);
	g_free(body);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void
compose_ascii_short_lines_7bit(void)
{
	struct mailout_message	 m = message_sample();
	GBytes			*bytes = compose_good(&m);
	GMimeMessage		*msg;

	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	CHECK_INT(body_encoding(msg), GMIME_CONTENT_ENCODING_7BIT);
	check_lines(bytes);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

/* Long lines in the subject and body still give lines of 998 or less. */
static void
compose_long_lines_folded(void)
{
	struct mailout_var	 vars[4];
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*subject, *text, *body, *want;

	subject = g_strnfill(3000, 'S');
	text = g_strnfill(5000, 't');
	vars[0] = (struct mailout_var){ "incident", "42" };
	vars[1] = (struct mailout_var){ "subject", subject };
	vars[2] = (struct mailout_var){ "reporter", "a@b.example" };
	vars[3] = (struct mailout_var){ "text", text };
	m.vars = vars;
	m.n_vars = 4;
	bytes = compose_good(&m);
	if (bytes != NULL) {
		check_lines(bytes);
		msg = parse_back(bytes);
		CHECK_INT(body_encoding(msg),
		    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
		body = body_text(msg);
		want = g_strconcat("Kind page for a@b.example.\r\n", text,
		    "\r\n", NULL);
		CHECK_STR(body, want);
		g_free(want);
		g_free(body);
		g_object_unref(msg);
		g_bytes_unref(bytes);
	}
	g_free(text);
	g_free(subject);
}

/* CR and CRLF in the customer's text become plain line breaks. */
static void
compose_body_line_breaks_normalised(void)
{
	static const struct mailout_var	vars[] = {
		{ "incident", "42" }, { "subject", "s" },
		{ "reporter", "r" }, { "text", "one\r\ntwo\rthree\n" },
	};
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*body;

	m.vars = vars;
	m.n_vars = G_N_ELEMENTS(vars);
	bytes = compose_good(&m);
	if (bytes == NULL)
		return;
	check_lines(bytes);
	msg = parse_back(bytes);
	body = body_text(msg);
	CHECK_STR(body, "Kind page for r.\r\none\r\ntwo\r\nthree\r\n");
	g_free(body);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

static void
compose_invalid_address_rejected(void)
{
	static const char *const bad[] = {
		"bob @example.com", "bob@example.com\r\nBcc: x@y.example",
		"<bob@example.com>", "bob", "bob@", "@example.com",
		"a@b@example.com", "", "bob@exämple.com", "a,b@example.com",
	};
	struct mailout_message	 m;
	char			*error;
	size_t			 i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		m = message_sample();
		m.to_addr = bad[i];
		error = compose_error(&m);
		CHECK_CONTAINS(error, "invalid to_addr");
		g_free(error);
	}
	m = message_sample();
	m.from_addr = NULL;
	error = compose_error(&m);
	CHECK_STR(error, "missing from_addr");
	g_free(error);
	m = message_sample();
	m.reply_to = "x y@example.com";
	error = compose_error(&m);
	CHECK_CONTAINS(error, "invalid reply_to");
	g_free(error);
}

static void
compose_invalid_message_id_rejected(void)
{
	static const char *const bad_refs[] = { "ok@example.com", "a b" };
	struct mailout_message	 m = message_sample();
	char			*error;

	m.message_id = "<1abc@gw.example.com>";
	error = compose_error(&m);
	CHECK_CONTAINS(error, "invalid message_id");
	g_free(error);
	m.message_id = "no-at-sign";
	error = compose_error(&m);
	CHECK_CONTAINS(error, "invalid message_id");
	g_free(error);
	m = message_sample();
	m.in_reply_to = "x@y\r\nBcc: z";
	error = compose_error(&m);
	CHECK_CONTAINS(error, "invalid in_reply_to");
	g_free(error);
	m = message_sample();
	m.references = bad_refs;
	m.n_references = 2;
	error = compose_error(&m);
	CHECK_CONTAINS(error, "invalid reference \"a b\"");
	g_free(error);
}

static void
compose_bad_loop_value_rejected(void)
{
	struct mailout_message	 m = message_sample();
	char			*error;

	m.loop_value = "x\r\nBcc: y";
	error = compose_error(&m);
	CHECK_CONTAINS(error, "invalid loop_value");
	g_free(error);
	m.loop_value = NULL;
	error = compose_error(&m);
	CHECK_STR(error, "missing or too long loop_value");
	g_free(error);
}

static void
compose_missing_value_rejected(void)
{
	struct mailout_message	 m = message_sample();
	char			*error;

	m.n_vars = 1;
	error = compose_error(&m);
	CHECK_STR(error, "no value for placeholder {{subject}}");
	g_free(error);
}

static void
compose_unknown_variable_rejected(void)
{
	static const struct mailout_var	vars[] = {
		{ "incident", "42" }, { "subjekt", "s" },
	};
	struct mailout_message	 m = message_sample();
	char			*error;

	m.vars = vars;
	m.n_vars = G_N_ELEMENTS(vars);
	error = compose_error(&m);
	CHECK_STR(error, "unknown variable \"subjekt\" or no value");
	g_free(error);
}

static void
compose_display_name_controls_removed(void)
{
	struct mailout_message	 m = message_sample();
	GBytes			*bytes;
	GMimeMessage		*msg;
	char			*to;

	m.to_name = "Bob\r\nBcc: evil@example.com";
	bytes = compose_good(&m);
	if (bytes == NULL)
		return;
	msg = parse_back(bytes);
	CHECK_STR(header_of(msg, "Bcc"), NULL);
	to = internet_address_list_to_string(g_mime_message_get_to(msg),
	    NULL, FALSE);
	CHECK_STR(to, "\"Bob  Bcc: evil@example.com\" "
	    "<bob@support.example.com>");
	check_lines(bytes);
	g_free(to);
	g_object_unref(msg);
	g_bytes_unref(bytes);
}

int
main(void)
{
	parse_init();
	TAP_RUN(kind_names_round_trip);
	TAP_RUN(templates_shipped_defaults_load);
	TAP_RUN(templates_shipped_defaults_compose);
	TAP_RUN(templates_unknown_placeholder_rejected);
	TAP_RUN(templates_unclosed_brace_rejected);
	TAP_RUN(templates_missing_subject_rejected);
	TAP_RUN(templates_missing_blank_line_rejected);
	TAP_RUN(templates_invalid_utf8_rejected);
	TAP_RUN(templates_control_character_rejected);
	TAP_RUN(templates_oversize_rejected);
	TAP_RUN(templates_missing_file_rejected);
	TAP_RUN(templates_every_problem_reported);
	TAP_RUN(templates_without_fix_overdue_load);
	TAP_RUN(templates_crlf_file_accepted);
	TAP_RUN(compose_placeholders_substituted);
	TAP_RUN(compose_subject_injection_neutralised);
	TAP_RUN(compose_each_kind_auto_submitted);
	TAP_RUN(compose_headers_round_trip);
	TAP_RUN(compose_optional_headers_omitted);
	TAP_RUN(compose_references_first_and_last_kept);
	TAP_RUN(compose_non_ascii_round_trip);
	TAP_RUN(compose_ascii_short_lines_7bit);
	TAP_RUN(compose_long_lines_folded);
	TAP_RUN(compose_body_line_breaks_normalised);
	TAP_RUN(compose_invalid_address_rejected);
	TAP_RUN(compose_invalid_message_id_rejected);
	TAP_RUN(compose_bad_loop_value_rejected);
	TAP_RUN(compose_missing_value_rejected);
	TAP_RUN(compose_unknown_variable_rejected);
	TAP_RUN(compose_display_name_controls_removed);
	return tap_done();
}
