/* SPDX-License-Identifier: ISC */
/*
 * The parse stage: turns the raw bytes of a stored message into the fields
 * the classifier and the pager read (subject, sender, ids, date, the
 * headers that mark automatic mail, recipients and a plain-text body).
 * GMime builds the MIME tree and reports what it found broken; header
 * words, ids, charsets and bodies are decoded leniently in this stage.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "log.h"
#include "parse_priv.h"

struct parser_warning {
	GMimeParserWarning	 code;
	const char		*phrase;
};

/* GMime parser warnings kept as fallbacks; others are not recorded. */
static const struct parser_warning parser_warnings[] = {
	{ GMIME_WARN_UNENCODED_8BIT_HEADER, "raw 8-bit bytes in a header" },
	{ GMIME_WARN_INVALID_CONTENT_TYPE,
	    "invalid Content-Type read as application/octet-stream" },
	{ GMIME_WARN_MALFORMED_MULTIPART, "multipart without parts" },
	{ GMIME_WARN_TRUNCATED_MESSAGE, "message truncated" },
	{ GMIME_WARN_MALFORMED_MESSAGE, "malformed message" },
	{ GMIME_CRIT_INVALID_HEADER_NAME,
	    "line without a header name in a header block skipped" },
	{ GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY,
	    "multipart without a boundary parameter" },
	{ GMIME_WARN_INVALID_ADDRESS_LIST, "address list without an address" },
	{ GMIME_CRIT_NESTING_OVERFLOW, "MIME nesting limit reached" },
	{ GMIME_WARN_PART_WITHOUT_CONTENT, "part headers ended by a boundary" },
	{ GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT,
	    "part without headers or content" },
	{ 0, NULL }
};

void
parse_init(void)
{
	static gsize is_done;

	if (g_once_init_enter(&is_done)) {
		g_mime_init();
		g_once_init_leave(&is_done, 1);
	}
}

/* Records a GMime parser warning; the item text is not kept. */
static void
parser_warning_record(gint64 offset, GMimeParserWarning code,
    const gchar *item, gpointer data)
{
	GPtrArray	*fallbacks = data;
	size_t		 i;

	(void)offset;
	(void)item;
	for (i = 0; parser_warnings[i].phrase != NULL; i++) {
		if (parser_warnings[i].code == code)
			parse_fallback_add(fallbacks, "%s",
			    parser_warnings[i].phrase);
	}
}

/* Returns the raw value of the first header called name, or NULL. */
static const char *
header_raw(GMimeMessage *msg, const char *name)
{
	GMimeHeaderList	*headers;
	GMimeHeader	*header;

	headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	if (headers == NULL)
		return NULL;
	header = g_mime_header_list_get_header(headers, name);
	if (header == NULL)
		return NULL;
	return g_mime_header_get_raw_value(header);
}

/* Returns the decoded, unfolded header value, or NULL if absent or blank. */
static char *
header_text(GMimeMessage *msg, const char *name, GPtrArray *fallbacks)
{
	const char	*raw;
	char		*text;

	raw = header_raw(msg, name);
	if (raw == NULL)
		return NULL;
	text = parse_header_decode(raw, fallbacks);
	parse_whitespace_collapse(text);
	if (*text == '\0') {
		g_free(text);
		return NULL;
	}
	return text;
}

/* Returns header_text lowercased (ASCII), or NULL. */
static char *
header_text_lower(GMimeMessage *msg, const char *name, GPtrArray *fallbacks)
{
	char	*text;
	char	*p;

	text = header_text(msg, name, fallbacks);
	for (p = text; p != NULL && *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	return text;
}

static void
domain_lowercase(char *addr)
{
	char	*at, *p;

	at = strrchr(addr, '@');
	if (at == NULL)
		return;
	for (p = at + 1; *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
}

/* Returns the id in [p, end) without blanks and '<', or NULL if empty. */
static char *
id_from_span(const char *p, const char *end)
{
	GString	*id;

	id = g_string_new(NULL);
	for (; p < end; p++) {
		if (!g_ascii_isspace(*p) && *p != '<' && *p != '>')
			g_string_append_c(id, *p);
	}
	if (id->len == 0) {
		g_string_free(id, TRUE);
		return NULL;
	}
	domain_lowercase(id->str);
	return parse_gstring_free_valid(id);
}

char *
parse_message_id_normalise(const char *value)
{
	const char	*p, *end;

	if (value == NULL)
		return NULL;
	p = strchr(value, '<');
	p = p != NULL ? p + 1 : value;
	end = strchr(p, '>');
	return id_from_span(p, end != NULL ? end : p + strlen(p));
}

/* Returns the end of the comment or quoted string that opens at p. */
static const char *
skip_comment_or_quote(const char *p)
{
	char	 close = *p == '(' ? ')' : '"';
	int	 depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(' && close == ')')
			depth++;
		else if (*p == close && (close == '"' ? depth++ > 0 :
		    --depth == 0))
			return p + 1;
	}
	return p;
}

/*
 * Appends each id of an In-Reply-To or References value to ids, in order.
 * Ids in angle brackets may be folded inside.  A bare token containing '@'
 * is taken as an id, because some mailers drop the brackets.  Comments,
 * quoted strings and other words are skipped.
 */
static void
ids_parse(const char *raw, GPtrArray *ids)
{
	const char	*p, *end;
	char		*id;

	for (p = raw; *p != '\0';) {
		if (*p == '(' || *p == '"') {
			p = skip_comment_or_quote(p);
			continue;
		}
		if (g_ascii_isspace(*p) || *p == ',' || *p == '>') {
			p++;
			continue;
		}
		if (*p == '<') {
			end = strchr(p, '>');
			end = end != NULL ? end : p + strlen(p);
			id = id_from_span(p + 1, end);
		} else {
			end = p + strcspn(p, " \t\r\n<,(\"");
			id = memchr(p, '@', (size_t)(end - p)) != NULL ?
			    id_from_span(p, end) : NULL;
		}
		if (id != NULL)
			g_ptr_array_add(ids, id);
		p = end;
	}
}

/* Fills in_reply_to and references. */
static void
ids_extract(GMimeMessage *msg, struct parse_result *out)
{
	GPtrArray	*ids;
	const char	*raw;

	raw = header_raw(msg, "In-Reply-To");
	if (raw != NULL) {
		ids = g_ptr_array_new_with_free_func(g_free);
		ids_parse(raw, ids);
		if (ids->len > 0)
			out->in_reply_to = g_strdup(g_ptr_array_index(ids, 0));
		g_ptr_array_unref(ids);
	}
	raw = header_raw(msg, "References");
	if (raw != NULL)
		ids_parse(raw, out->references);
}

/* Appends the lowercase addr-spec of every mailbox in list to addrs. */
static void
addrs_append(InternetAddressList *list, GPtrArray *addrs, int depth)
{
	InternetAddress	*addr;
	const char	*spec;
	int		 i, n;

	if (list == NULL)
		return;
	n = internet_address_list_length(list);
	for (i = 0; i < n; i++) {
		addr = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(addr) && depth == 0) {
			addrs_append(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(addr)), addrs, depth + 1);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(addr))
			continue;
		spec = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(addr));
		if (spec != NULL && *spec != '\0')
			g_ptr_array_add(addrs, g_utf8_strdown(spec, -1));
	}
}

/* Returns the first mailbox in list, looking one level into groups. */
static InternetAddressMailbox *
mailbox_first(InternetAddressList *list, int depth)
{
	InternetAddress		*addr;
	InternetAddressMailbox	*found;
	int			 i, n;

	if (list == NULL)
		return NULL;
	n = internet_address_list_length(list);
	for (i = 0; i < n; i++) {
		addr = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(addr))
			return INTERNET_ADDRESS_MAILBOX(addr);
		if (!INTERNET_ADDRESS_IS_GROUP(addr) || depth > 0)
			continue;
		found = mailbox_first(internet_address_group_get_members(
		    INTERNET_ADDRESS_GROUP(addr)), depth + 1);
		if (found != NULL)
			return found;
	}
	return NULL;
}

/*
 * Decodes the display name before the first '<' of a raw From value with
 * this stage's decoder.  Senders put encoded-words inside quotes and break
 * their base64; GMime 3.2.13 returns an empty name for those.
 */
static char *
from_name_decode(const char *raw, GPtrArray *fallbacks)
{
	const char	*lt;
	GString		*name;
	char		*text;

	lt = strchr(raw, '<');
	if (lt == NULL)
		return NULL;
	name = g_string_new(NULL);
	for (; raw < lt; raw++) {
		if (*raw == '\\' && raw + 1 < lt)
			raw++;
		else if (*raw == '"')
			continue;
		g_string_append_c(name, *raw);
	}
	text = parse_header_decode(name->str, fallbacks);
	g_string_free(name, TRUE);
	parse_whitespace_collapse(text);
	if (*text == '\0')
		g_clear_pointer(&text, g_free);
	return text;
}

/*
 * Fills from_addr and from_name.  A From: without any address (a bare
 * name) leaves from_addr NULL and keeps the decoded text as the name.
 */
static void
from_extract(GMimeMessage *msg, struct parse_result *out)
{
	InternetAddressMailbox	*mailbox;
	const char		*addr, *name, *raw;

	mailbox = mailbox_first(g_mime_message_get_from(msg), 0);
	if (mailbox == NULL) {
		out->from_name = header_text(msg, "From", out->fallbacks);
		if (out->from_name != NULL)
			parse_fallback_add(out->fallbacks, "From header has "
			    "no address; its text kept as the name");
		return;
	}
	addr = internet_address_mailbox_get_addr(mailbox);
	if (addr != NULL && *addr != '\0') {
		out->from_addr = g_utf8_make_valid(addr, -1);
		domain_lowercase(out->from_addr);
	}
	name = internet_address_get_name(INTERNET_ADDRESS(mailbox));
	raw = header_raw(msg, "From");
	if (raw != NULL && (strstr(raw, "=?") != NULL || name == NULL ||
	    *name == '\0')) {
		out->from_name = from_name_decode(raw, out->fallbacks);
		return;
	}
	if (name != NULL && *name != '\0') {
		out->from_name = g_utf8_make_valid(name, -1);
		parse_whitespace_collapse(out->from_name);
	}
}

static int64_t
date_extract(GMimeMessage *msg)
{
	const char	*raw;
	GDateTime	*date;
	int64_t		 date_s;

	raw = header_raw(msg, "Date");
	if (raw == NULL)
		return 0;
	date = g_mime_utils_header_decode_date(raw);
	if (date == NULL)
		return 0;
	date_s = g_date_time_to_unix(date);
	g_date_time_unref(date);
	return date_s;
}

/* Fills the fields that tell automatic mail and reports from people's. */
static void
auto_headers_extract(GMimeMessage *msg, struct parse_result *out)
{
	GMimeObject		*top;
	GMimeContentType	*type;
	const char		*report_type;

	out->auto_submitted = header_text_lower(msg, "Auto-Submitted",
	    out->fallbacks);
	out->precedence = header_text_lower(msg, "Precedence", out->fallbacks);
	out->has_autoreply_header = header_raw(msg, "X-Autoreply") != NULL ||
	    header_raw(msg, "X-Autorespond") != NULL;
	out->list_id = header_text(msg, "List-Id", out->fallbacks);
	out->auto_response_suppress = header_text(msg,
	    "X-Auto-Response-Suppress", out->fallbacks);
	top = g_mime_message_get_mime_part(msg);
	type = top != NULL ? g_mime_object_get_content_type(top) : NULL;
	if (type == NULL ||
	    !g_mime_content_type_is_type(type, "multipart", "report"))
		return;
	out->is_report = true;
	report_type = g_mime_content_type_get_parameter(type, "report-type");
	if (report_type != NULL && *report_type != '\0')
		out->report_type = g_utf8_strdown(report_type, -1);
}

static void
result_unparseable(struct parse_result *out)
{
	out->subject = g_strdup("(unparseable message)");
	out->body_text = g_strdup("");
	out->is_unparseable = true;
}

/* Runs GMime's parser over raw, recording its warnings as fallbacks. */
static GMimeMessage *
message_construct(const uint8_t *raw, size_t len, GPtrArray *fallbacks)
{
	GMimeStream		*stream;
	GMimeParser		*parser;
	GMimeParserOptions	*options;
	GMimeMessage		*msg;

	stream = g_mime_stream_mem_new_with_buffer(raw != NULL ?
	    (const char *)raw : "", raw != NULL ? len : 0);
	parser = g_mime_parser_new_with_stream(stream);
	options = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(options,
	    parser_warning_record, fallbacks);
	msg = g_mime_parser_construct_message(parser, options);
	g_mime_parser_options_free(options);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

int
parse_message(const uint8_t *raw, size_t len, struct parse_result *out)
{
	GMimeMessage	*msg;

	memset(out, 0, sizeof(*out));
	parse_init();
	out->references = g_ptr_array_new_with_free_func(g_free);
	out->to_addrs = g_ptr_array_new_with_free_func(g_free);
	out->cc_addrs = g_ptr_array_new_with_free_func(g_free);
	out->fallbacks = g_ptr_array_new_with_free_func(g_free);
	msg = message_construct(raw, len, out->fallbacks);
	if (msg == NULL) {
		result_unparseable(out);
		log_info("parse: message unparseable bytes=%zu", len);
		return -1;
	}
	out->subject = header_text(msg, "Subject", out->fallbacks);
	if (out->subject == NULL)
		out->subject = g_strdup("(no subject)");
	from_extract(msg, out);
	out->message_id = parse_message_id_normalise(header_raw(msg,
	    "Message-ID"));
	out->date_s = date_extract(msg);
	ids_extract(msg, out);
	auto_headers_extract(msg, out);
	addrs_append(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO),
	    out->to_addrs, 0);
	addrs_append(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_CC),
	    out->cc_addrs, 0);
	out->body_text = parse_body_extract(msg, out);
	g_object_unref(msg);
	if (out->fallbacks->len > 0)
		log_info("parse: decoding fallbacks applied msgid=%s count=%u",
		    out->message_id != NULL ? out->message_id : "-",
		    out->fallbacks->len);
	return 0;
}

void
parse_result_fini(struct parse_result *result)
{
	g_clear_pointer(&result->subject, g_free);
	g_clear_pointer(&result->from_addr, g_free);
	g_clear_pointer(&result->from_name, g_free);
	g_clear_pointer(&result->message_id, g_free);
	g_clear_pointer(&result->body_text, g_free);
	g_clear_pointer(&result->in_reply_to, g_free);
	g_clear_pointer(&result->references, g_ptr_array_unref);
	g_clear_pointer(&result->auto_submitted, g_free);
	g_clear_pointer(&result->precedence, g_free);
	g_clear_pointer(&result->list_id, g_free);
	g_clear_pointer(&result->auto_response_suppress, g_free);
	g_clear_pointer(&result->report_type, g_free);
	g_clear_pointer(&result->to_addrs, g_ptr_array_unref);
	g_clear_pointer(&result->cc_addrs, g_ptr_array_unref);
	g_clear_pointer(&result->fallbacks, g_ptr_array_unref);
	result->date_s = 0;
	result->is_unparseable = false;
	result->has_autoreply_header = false;
	result->is_report = false;
}
