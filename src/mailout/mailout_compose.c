/* SPDX-License-Identifier: ISC */
/*
 * Composing of the mailout stage: checks the addresses and ids of one
 * outbound mail, renders its template and builds the message with GMime.
 * It writes the message with CRLF line endings for the SMTP relay and
 * checks the bytes against RFC 5322's line limits before returning them.
 */
#include <stddef.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "classify.h"
#include "mailout.h"
#include "mailout_priv.h"
#include "parse.h"

/* RFC 5322 2.1.1: a line is at most 998 octets without its CRLF. */
#define LINE_MAX_OCTETS		998

/* Body lines longer than this are sent quoted-printable (RFC 2045 6.7). */
#define BODY_LINE_7BIT_MAX	76

/* Maximum length of the loop header value, in bytes. */
#define LOOP_VALUE_MAX		200

/* Maximum length of a value quoted in an error message, in bytes. */
#define ERROR_VALUE_MAX		80

/* An address or id field of struct mailout_message and its rules. */
struct field_rule {
	const char	*name;
	size_t		 offset;
	bool		 is_required;
	bool		 is_address;
};

static const struct field_rule field_rules[] = {
	{ "from_addr", offsetof(struct mailout_message, from_addr), true,
	    true },
	{ "to_addr", offsetof(struct mailout_message, to_addr), true, true },
	{ "reply_to", offsetof(struct mailout_message, reply_to), false,
	    true },
	{ "message_id", offsetof(struct mailout_message, message_id), true,
	    false },
	{ "in_reply_to", offsetof(struct mailout_message, in_reply_to), false,
	    false },
};

/*
 * Auto-Submitted values (RFC 3834 5): a page and the notice of an overdue
 * fix are sent on our own initiative, and every other kind replies to a
 * customer's mail.  No kind gets a Precedence header.  It is not a
 * standard header, and "Precedence: bulk" makes some providers hide the
 * mail or file it as junk.  Auto-Submitted is the standard signal that
 * keeps other responders from replying.
 */
static const char *const auto_submitted[MAILOUT_KIND_COUNT] = {
	[MAILOUT_PAGE] = "auto-generated",
	[MAILOUT_CONFIRMATION] = "auto-replied",
	[MAILOUT_JOINED] = "auto-replied",
	[MAILOUT_ACKNOWLEDGED] = "auto-replied",
	[MAILOUT_RESOLVED] = "auto-replied",
	[MAILOUT_STATUS] = "auto-replied",
	[MAILOUT_FIX_OVERDUE] = "auto-generated",
	[MAILOUT_UPDATE] = "auto-generated",
};

/*
 * Tells whether s is printable ASCII without space, angle brackets or the
 * specials that would let it split into two addresses or ids, and is at
 * most max bytes long.
 */
static bool
is_atom_text(const char *s, size_t max)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("<>,;\"\\",
		    s[i]) != NULL)
			return false;
	}
	return i > 0 && i <= max;
}

/* Tells whether s is local@domain with both parts non-empty. */
static bool
has_one_at(const char *s)
{
	const char	*at = strchr(s, '@');

	return at != NULL && at != s && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL;
}

static bool
is_address(const char *s)
{
	return is_atom_text(s, MAILOUT_ADDR_MAX) && has_one_at(s) &&
	    strpbrk(s, "()[]:") == NULL;
}

static void
invalid_set(char **error, const char *what, const char *value)
{
	char	*escaped;

	escaped = g_strescape(value, NULL);
	*error = g_strdup_printf("invalid %s \"%.*s\": expected an address "
	    "or id without spaces, control characters, \"<\" or \">\"", what,
	    ERROR_VALUE_MAX, escaped);
	g_free(escaped);
}

static int
fields_check(const struct mailout_message *m, char **error)
{
	const struct field_rule	*rule;
	const char		*value;
	bool			 is_valid;
	size_t			 i;

	for (i = 0; i < G_N_ELEMENTS(field_rules); i++) {
		rule = &field_rules[i];
		value = *(const char *const *)((const char *)m + rule->offset);
		if (value == NULL && !rule->is_required)
			continue;
		if (value == NULL) {
			*error = g_strdup_printf("missing %s", rule->name);
			return -1;
		}
		if (rule->is_address)
			is_valid = is_address(value);
		else
			is_valid = is_atom_text(value, MAILOUT_MSGID_MAX);
		if (!is_valid) {
			invalid_set(error, rule->name, value);
			return -1;
		}
	}
	if (!has_one_at(m->message_id)) {
		invalid_set(error, "message_id", m->message_id);
		return -1;
	}
	return 0;
}

/* Checks the references, the loop header value and the variable names. */
static int
extras_check(const struct mailout_message *m, char **error)
{
	size_t	i;

	for (i = 0; i < m->n_references; i++) {
		if (m->references[i] == NULL ||
		    !is_atom_text(m->references[i], MAILOUT_MSGID_MAX)) {
			invalid_set(error, "reference",
			    m->references[i] != NULL ? m->references[i] : "");
			return -1;
		}
	}
	if (m->loop_value == NULL || *m->loop_value == '\0' ||
	    strlen(m->loop_value) > LOOP_VALUE_MAX) {
		*error = g_strdup("missing or too long loop_value");
		return -1;
	}
	for (i = 0; m->loop_value[i] != '\0'; i++) {
		if (m->loop_value[i] < ' ' || m->loop_value[i] >= 0x7f) {
			invalid_set(error, "loop_value", m->loop_value);
			return -1;
		}
	}
	for (i = 0; i < m->n_vars; i++) {
		if (m->vars[i].name == NULL || m->vars[i].value == NULL ||
		    !mailout_var_is_known(m->vars[i].name,
		    strlen(m->vars[i].name))) {
			*error = g_strdup_printf("unknown variable \"%s\" or "
			    "no value", m->vars[i].name != NULL ?
			    m->vars[i].name : "(null)");
			return -1;
		}
	}
	return 0;
}

static int
message_check(const struct mailout_message *m, char **error)
{
	if ((unsigned)m->kind >= MAILOUT_KIND_COUNT) {
		*error = g_strdup_printf("unknown mail kind %d", (int)m->kind);
		return -1;
	}
	if (m->n_references > 0 && m->references == NULL) {
		*error = g_strdup("references missing for n_references > 0");
		return -1;
	}
	if (fields_check(m, error) == -1)
		return -1;
	return extras_check(m, error);
}

/* Adds a mailbox whose display name is made safe for a header. */
static void
mailbox_add(InternetAddressList *list, const char *name, const char *addr)
{
	InternetAddress	*mailbox;
	GString		*safe;

	safe = g_string_new(NULL);
	if (name != NULL)
		mailout_value_append(safe, name, true);
	g_strstrip(safe->str);
	mailbox = internet_address_mailbox_new(*safe->str != '\0' ?
	    safe->str : NULL, addr);
	/* Else GMime picks the smallest charset, e.g. ISO-8859-1. */
	internet_address_set_charset(mailbox, "utf-8");
	internet_address_list_add(list, mailbox);
	g_object_unref(mailbox);
	g_string_free(safe, TRUE);
}

static int
date_set(GMimeMessage *msg, int64_t date_ms, char **error)
{
	GDateTime	*date;
	int64_t		 date_s;

	/* Floor division, so that a time before 1970 rounds down too. */
	date_s = date_ms / 1000 - (date_ms % 1000 < 0 ? 1 : 0);
	date = g_date_time_new_from_unix_utc(date_s);
	if (date == NULL) {
		*error = g_strdup_printf("date out of range: %" G_GINT64_FORMAT
		    " ms", date_ms);
		return -1;
	}
	g_mime_message_set_date(msg, date);
	g_date_time_unref(date);
	return 0;
}

/*
 * Sets References to the first id and the last MAILOUT_REFERENCES_MAX - 1
 * when there are more, so that the header stays short but still leads to
 * the thread's root and its recent mail.
 */
static void
references_set(GMimeObject *obj, const char *const *refs, size_t n)
{
	GString	*value;
	size_t	 i;

	if (n == 0)
		return;
	value = g_string_new(NULL);
	g_string_append_printf(value, "<%s>", refs[0]);
	i = n > MAILOUT_REFERENCES_MAX ? n - (MAILOUT_REFERENCES_MAX - 1) : 1;
	for (; i < n; i++)
		g_string_append_printf(value, " <%s>", refs[i]);
	g_mime_object_set_header(obj, "References", value->str, NULL);
	g_string_free(value, TRUE);
}

static void
headers_set(GMimeMessage *msg, const struct mailout_message *m)
{
	GMimeObject	*obj = GMIME_OBJECT(msg);
	char		*value;

	mailbox_add(g_mime_message_get_from(msg), m->from_name, m->from_addr);
	mailbox_add(g_mime_message_get_to(msg), m->to_name, m->to_addr);
	if (m->reply_to != NULL)
		mailbox_add(g_mime_message_get_reply_to(msg), NULL,
		    m->reply_to);
	g_mime_message_set_message_id(msg, m->message_id);
	if (m->in_reply_to != NULL) {
		value = g_strdup_printf("<%s>", m->in_reply_to);
		g_mime_object_set_header(obj, "In-Reply-To", value, NULL);
		g_free(value);
	}
	references_set(obj, m->references, m->n_references);
	g_mime_object_set_header(obj, "Auto-Submitted",
	    auto_submitted[m->kind], NULL);
	/* Asks Microsoft Exchange not to send out-of-office replies. */
	g_mime_object_set_header(obj, "X-Auto-Response-Suppress", "All",
	    NULL);
	g_mime_object_set_header(obj, CLASSIFY_LOOP_HEADER, m->loop_value,
	    NULL);
}

/* Tells whether body needs quoted-printable: non-ASCII or long lines. */
static bool
needs_quoted_printable(const char *body)
{
	size_t	line_len = 0;

	for (; *body != '\0'; body++) {
		if ((unsigned char)*body >= 0x80)
			return true;
		if (*body == '\n')
			line_len = 0;
		else if (++line_len > BODY_LINE_7BIT_MAX)
			return true;
	}
	return false;
}

/*
 * Makes the text/plain part.  The content is set as UTF-8 bytes directly:
 * g_mime_text_part_set_text would convert it to the smallest charset that
 * fits, e.g. ISO-8859-1.
 */
static GMimeObject *
body_part_new(const char *body)
{
	GMimeTextPart		*part;
	GMimeStream		*stream;
	GMimeDataWrapper	*content;
	GMimeContentEncoding	 encoding;

	encoding = needs_quoted_printable(body) ?
	    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE :
	    GMIME_CONTENT_ENCODING_7BIT;
	stream = g_mime_stream_mem_new_with_buffer(body, strlen(body));
	content = g_mime_data_wrapper_new_with_stream(stream,
	    GMIME_CONTENT_ENCODING_DEFAULT);
	part = g_mime_text_part_new_with_subtype("plain");
	g_mime_part_set_content(GMIME_PART(part), content);
	g_mime_text_part_set_charset(part, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(part), encoding);
	g_object_unref(content);
	g_object_unref(stream);
	return GMIME_OBJECT(part);
}

/* Writes msg with CRLF line endings; returns NULL when GMime fails. */
static GBytes *
message_write(GMimeMessage *msg)
{
	GMimeFormatOptions	*options;
	GMimeStream		*stream;
	GByteArray		*array;
	GBytes			*bytes = NULL;

	options = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(options,
	    GMIME_NEWLINE_FORMAT_DOS);
	stream = g_mime_stream_mem_new();
	if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), options,
	    stream) == -1)
		goto out;
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	bytes = g_byte_array_free_to_bytes(array);
out:
	g_object_unref(stream);
	g_mime_format_options_free(options);
	return bytes;
}

/*
 * Checks that every line ends in CRLF and fits LINE_MAX_OCTETS, which
 * GMime's folding and encoding should always ensure.
 */
static int
output_check(GBytes *bytes, char **error)
{
	const char	*data;
	size_t		 len, i, line_start = 0;

	data = g_bytes_get_data(bytes, &len);
	for (i = 0; i < len; i++) {
		if (data[i] == '\r' && (i + 1 == len || data[i + 1] != '\n'))
			break;
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			break;
		if (data[i] == '\n')
			line_start = i + 1;
		else if (data[i] != '\r' && i - line_start >= LINE_MAX_OCTETS)
			break;
	}
	if (i < len || line_start != len) {
		*error = g_strdup_printf("composed message breaks RFC 5322 "
		    "line rules at byte %zu", i);
		return -1;
	}
	return 0;
}

/* Renders the kind's template into *subject and *body (g_free both). */
static int
template_apply(const struct mailout_templates *templates,
    const struct mailout_message *m, char **subject, char **body,
    char **error)
{
	const struct mailout_template	*t = &templates->kinds[m->kind];
	GString				*s, *b;
	int				 rc = -1;

	if (t->subject == NULL) {
		*error = g_strdup_printf("no template %s.txt",
		    mailout_kind_name(m->kind));
		return -1;
	}
	s = g_string_new(NULL);
	b = g_string_new(NULL);
	if (mailout_template_render(t->subject, m->vars, m->n_vars, true, s,
	    error) == -1)
		goto out;
	if (mailout_template_render(t->body, m->vars, m->n_vars, false, b,
	    error) == -1)
		goto out;
	if (b->len == 0 || b->str[b->len - 1] != '\n')
		g_string_append_c(b, '\n');
	*subject = g_strdup(g_strstrip(s->str));
	*body = g_strdup(b->str);
	rc = 0;
out:
	g_string_free(b, TRUE);
	g_string_free(s, TRUE);
	return rc;
}

GBytes *
mailout_compose(const struct mailout_templates *templates,
    const struct mailout_message *m, char **error)
{
	GMimeMessage	*msg = NULL;
	GMimeObject	*part;
	GBytes		*bytes = NULL;
	char		*subject = NULL, *body = NULL;

	*error = NULL;
	if (message_check(m, error) == -1)
		goto out;
	if (template_apply(templates, m, &subject, &body, error) == -1)
		goto out;
	parse_init();
	msg = g_mime_message_new(TRUE);
	headers_set(msg, m);
	g_mime_message_set_subject(msg, subject, "utf-8");
	if (date_set(msg, m->date_ms, error) == -1)
		goto out;
	part = body_part_new(body);
	g_mime_message_set_mime_part(msg, part);
	g_object_unref(part);
	bytes = message_write(msg);
	if (bytes == NULL) {
		*error = g_strdup("writing the message with GMime failed");
		goto out;
	}
	if (output_check(bytes, error) == -1) {
		g_bytes_unref(bytes);
		bytes = NULL;
	}
out:
	if (msg != NULL)
		g_object_unref(msg);
	g_free(body);
	g_free(subject);
	return bytes;
}
