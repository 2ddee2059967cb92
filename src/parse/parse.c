/* SPDX-License-Identifier: ISC */
/*
 * The parse stage: turns the raw bytes of a stored message into the fields
 * the classifier and the pager read (subject, sender, Message-ID, date and a
 * plain-text body).  GMime builds the MIME tree; header words (RFC 2047),
 * charsets and HTML bodies are decoded here.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "log.h"
#include "parse.h"

#define MIME_DEPTH_MAX		32	/* multipart levels walked */
#define PART_BYTES_MAX		(16 * PARSE_BODY_TEXT_MAX) /* read per part */
#define CHARSET_NAME_MAX	64

struct body_find {
	GMimePart	*plain;		/* first inline text/plain */
	GMimePart	*html;		/* first inline text/html */
	bool		 is_depth_capped;
};

/* HTML element skipped whole with its content. */
static const char *const html_skipped[] = { "script", "style", "head",
	"title", NULL };

/* HTML elements that start a new line, opening or closing. */
static const char *const html_breaks[] = { "p", "div", "li", "tr",
	"h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
	"blockquote", "hr", "pre", NULL };

struct html_entity {
	const char	*name;
	gunichar	 codepoint;
};

static const struct html_entity html_entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xa9 }, { "reg", 0xae },
	{ "deg", 0xb0 }, { "euro", 0x20ac }, { "ndash", 0x2013 },
	{ "mdash", 0x2014 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
	{ "ldquo", 0x201c }, { "rdquo", 0x201d }, { "hellip", 0x2026 },
	{ "bull", 0x2022 }, { "laquo", 0xab }, { "raquo", 0xbb },
	{ "middot", 0xb7 }, { "sect", 0xa7 }, { "pound", 0xa3 },
	{ "cent", 0xa2 }, { "yen", 0xa5 }, { "times", 0xd7 },
	{ "divide", 0xf7 }, { "szlig", 0xdf }, { "auml", 0xe4 },
	{ "ouml", 0xf6 }, { "uuml", 0xfc }, { "Auml", 0xc4 },
	{ "Ouml", 0xd6 }, { "Uuml", 0xdc }, { "aacute", 0xe1 },
	{ "agrave", 0xe0 }, { "acirc", 0xe2 }, { "aring", 0xe5 },
	{ "Aring", 0xc5 }, { "aelig", 0xe6 }, { "AElig", 0xc6 },
	{ "ccedil", 0xe7 }, { "eacute", 0xe9 }, { "egrave", 0xe8 },
	{ "ecirc", 0xea }, { "euml", 0xeb }, { "Eacute", 0xc9 },
	{ "iacute", 0xed }, { "icirc", 0xee }, { "iuml", 0xef },
	{ "ntilde", 0xf1 }, { "Ntilde", 0xd1 }, { "oacute", 0xf3 },
	{ "ograve", 0xf2 }, { "ocirc", 0xf4 }, { "oslash", 0xf8 },
	{ "Oslash", 0xd8 }, { "uacute", 0xfa }, { "ugrave", 0xf9 },
	{ "ucirc", 0xfb }, { NULL, 0 }
};

/* Code points of windows-1252 bytes 0x80-0x9f; 0 marks an unused byte. */
static const gunichar cp1252_high[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178
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

/*
 * Decodes bytes as windows-1252, the usual label of mislabelled 8-bit
 * mail.  Never fails: its unused bytes become U+FFFD and NUL a space.
 */
static void
cp1252_append(GString *out, const char *s, size_t len)
{
	size_t	 i;
	guchar	 c;

	for (i = 0; i < len; i++) {
		c = (guchar)s[i];
		if (c == '\0') {
			g_string_append_c(out, ' ');
		} else if (c < 0x80) {
			g_string_append_c(out, (char)c);
		} else if (c < 0xa0 && cp1252_high[c - 0x80] != 0) {
			g_string_append_unichar(out, cp1252_high[c - 0x80]);
		} else if (c < 0xa0) {
			g_string_append_unichar(out, 0xfffd);
		} else {
			g_string_append_unichar(out, c);
		}
	}
}

/* Tells whether s contains a valid multibyte UTF-8 sequence. */
static bool
utf8_has_multibyte(const char *s, size_t len)
{
	const char	*end = s + len;
	gunichar	 c;

	for (; s < end; s++) {
		if ((guchar)*s < 0xc2)
			continue;
		c = g_utf8_get_char_validated(s, end - s);
		if (c != (gunichar)-1 && c != (gunichar)-2)
			return true;
	}
	return false;
}

/*
 * Appends UTF-8 text with each broken sequence (a bad lead byte and the
 * continuation bytes after it) replaced by one U+FFFD.  A NUL byte counts
 * as broken, as GLib's validation treats it so.
 */
static void
utf8_replace_append(GString *out, const char *s, size_t len)
{
	const char	*end = s + len;
	gunichar	 c;

	while (s < end) {
		c = g_utf8_get_char_validated(s, end - s);
		if (c != (gunichar)-1 && c != (gunichar)-2) {
			g_string_append_unichar(out, c);
			s = g_utf8_next_char(s);
		} else {
			g_string_append_unichar(out, 0xfffd);
			for (s++; s < end && ((guchar)*s & 0xc0) == 0x80; s++)
				;
		}
	}
}

/*
 * Appends bytes that claim no charset.  Text containing valid UTF-8
 * sequences is taken as UTF-8, with its broken bytes replaced by U+FFFD.
 * Anything else is taken as windows-1252, the usual charset of unlabelled
 * 8-bit mail.
 */
static void
raw_append(GString *out, const char *s, size_t len)
{
	if (g_utf8_validate_len(s, len, NULL)) {
		g_string_append_len(out, s, len);
	} else if (utf8_has_multibyte(s, len)) {
		utf8_replace_append(out, s, len);
	} else {
		cp1252_append(out, s, len);
	}
}

/*
 * Maps charset labels that iconv does not know to its names: "cp-850" and
 * "850" to "CP850", "1252" to "WINDOWS-1252".  Other labels are kept.
 */
static void
charset_alias(const char *charset, char *buf, size_t size)
{
	const char	*digits = charset;

	if (g_ascii_strncasecmp(digits, "cp", 2) == 0) {
		digits += 2;
		if (*digits == '-' || *digits == '_')
			digits++;
	}
	if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits)) {
		g_strlcpy(buf, charset, size);
		return;
	}
	if (strlen(digits) == 4 && strncmp(digits, "125", 3) == 0)
		g_snprintf(buf, size, "WINDOWS-%s", digits);
	else
		g_snprintf(buf, size, "CP%s", digits);
}

static bool
charset_is_utf8_or_ascii(const char *charset)
{
	return g_ascii_strcasecmp(charset, "utf-8") == 0 ||
	    g_ascii_strcasecmp(charset, "utf8") == 0 ||
	    g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
	    g_ascii_strcasecmp(charset, "ascii") == 0;
}

/*
 * Appends s converted from charset to UTF-8.  An unknown charset, or bytes
 * invalid in the named one, fall back to raw_append so no text is dropped.
 */
static void
charset_append(GString *out, const char *charset, const char *s, size_t len)
{
	iconv_t	 cd;
	char	 name[CHARSET_NAME_MAX];
	char	*converted = NULL;

	if (len == 0)
		return;
	if (charset == NULL || *charset == '\0' ||
	    charset_is_utf8_or_ascii(charset)) {
		raw_append(out, s, len);
		return;
	}
	charset_alias(charset, name, sizeof(name));
	cd = g_mime_iconv_open("UTF-8", name);
	if (cd != (iconv_t)-1) {
		converted = g_mime_iconv_strndup(cd, s, len);
		g_mime_iconv_close(cd);
	}
	if (converted == NULL)
		raw_append(out, s, len);
	else
		g_string_append(out, converted);
	g_free(converted);
}

/* Returns a valid UTF-8 copy of the text in out, freeing out. */
static char *
gstring_free_valid(GString *out)
{
	char	*text;

	text = g_utf8_make_valid(out->str, (gssize)out->len);
	g_string_free(out, TRUE);
	return text;
}

/*
 * Replaces each run of whitespace and control characters with one space
 * and trims both ends, in place.  This unfolds a header (RFC 5322 2.2.3).
 */
static void
whitespace_collapse(char *s)
{
	char	*r, *w;
	bool	 is_gap = false;

	w = s;
	for (r = s; *r != '\0'; r++) {
		if ((guchar)*r <= ' ' || *r == 0x7f) {
			is_gap = true;
			continue;
		}
		if (is_gap && w != s)
			*w++ = ' ';
		is_gap = false;
		*w++ = *r;
	}
	*w = '\0';
}

/* An RFC 2047 encoded-word: =?charset?B|Q?text?= */
struct encoded_word {
	char		 charset[CHARSET_NAME_MAX];
	char		 encoding;	/* 'B' or 'Q' */
	const char	*text;
	size_t		 text_len;
	const char	*end;		/* just past "?=" */
};

/* Reads the encoded-word at p, which starts with "=?"; false if none. */
static bool
encoded_word_scan(const char *p, struct encoded_word *w)
{
	const char	*cs, *q;
	size_t		 cs_len;

	cs = p + 2;
	cs_len = strcspn(cs, "? \t\r\n");
	if (cs_len == 0 || cs_len >= CHARSET_NAME_MAX || cs[cs_len] != '?')
		return false;
	q = cs + cs_len + 1;
	if (strchr("BbQq", *q) == NULL || *q == '\0' || q[1] != '?')
		return false;
	w->encoding = g_ascii_toupper(*q);
	w->text = q + 2;
	w->text_len = strcspn(w->text, "? \t\r\n");
	if (w->text[w->text_len] != '?' || w->text[w->text_len + 1] != '=')
		return false;
	w->end = w->text + w->text_len + 2;

	/* RFC 2231 5 allows "charset*language", and the language is dropped. */
	memcpy(w->charset, cs, cs_len);
	w->charset[cs_len] = '\0';
	w->charset[strcspn(w->charset, "*")] = '\0';
	return true;
}

/* Appends the decoded bytes of w to bytes. */
static void
encoded_word_decode(const struct encoded_word *w, GByteArray *bytes)
{
	guchar	 buf[3 * 64 / 4 + 3];
	size_t	 i, n;
	gint	 state = 0;
	guint	 save = 0;
	int	 hi, lo;

	if (w->encoding == 'B') {
		for (i = 0; i < w->text_len; i += 64) {
			n = MIN(64, w->text_len - i);
			n = g_base64_decode_step(w->text + i, n, buf, &state,
			    &save);
			g_byte_array_append(bytes, buf, (guint)n);
		}
		return;
	}
	for (i = 0; i < w->text_len; i++) {
		buf[0] = (guchar)(w->text[i] == '_' ? ' ' : w->text[i]);
		if (w->text[i] == '=' && i + 2 < w->text_len &&
		    (hi = g_ascii_xdigit_value(w->text[i + 1])) >= 0 &&
		    (lo = g_ascii_xdigit_value(w->text[i + 2])) >= 0) {
			buf[0] = (guchar)(hi << 4 | lo);
			i += 2;
		}
		g_byte_array_append(bytes, buf, 1);
	}
}

static bool
span_is_blank(const char *s, const char *end)
{
	for (; s < end; s++) {
		if (!g_ascii_isspace(*s))
			return false;
	}
	return true;
}

/*
 * Decodes a raw header value to UTF-8.  Adjacent encoded-words in the same
 * charset are joined as bytes before conversion, because senders split a
 * multibyte character across two words.  The blank between two words is
 * dropped (RFC 2047 6.2).  Text outside encoded-words goes to raw_append.
 * GMime's decoder is not used because in 3.2.13 (Debian 12) it drops the
 * word that follows a base64 word ending in "=" padding.
 */
static char *
header_decode(const char *raw)
{
	GString			*out;
	GByteArray		*pending;
	char			 pending_cs[CHARSET_NAME_MAX] = "";
	struct encoded_word	 w;
	const char		*p, *literal;
	bool			 is_after_word = false;

	out = g_string_new(NULL);
	pending = g_byte_array_new();
	literal = raw;
	for (p = raw; *p != '\0'; p++) {
		if (p[0] != '=' || p[1] != '?' || !encoded_word_scan(p, &w))
			continue;
		if (!is_after_word || !span_is_blank(literal, p) ||
		    g_ascii_strcasecmp(pending_cs, w.charset) != 0) {
			charset_append(out, pending_cs,
			    (const char *)pending->data, pending->len);
			g_byte_array_set_size(pending, 0);
			if (!is_after_word || !span_is_blank(literal, p))
				raw_append(out, literal, (size_t)(p - literal));
		}
		g_strlcpy(pending_cs, w.charset, sizeof(pending_cs));
		encoded_word_decode(&w, pending);
		is_after_word = true;
		literal = w.end;
		p = w.end - 1;
	}
	charset_append(out, pending_cs, (const char *)pending->data,
	    pending->len);
	raw_append(out, literal, strlen(literal));
	g_byte_array_free(pending, TRUE);
	return gstring_free_valid(out);
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
header_text(GMimeMessage *msg, const char *name)
{
	const char	*raw;
	char		*text;

	raw = header_raw(msg, name);
	if (raw == NULL)
		return NULL;
	text = header_decode(raw);
	whitespace_collapse(text);
	if (*text == '\0') {
		g_free(text);
		return NULL;
	}
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

char *
parse_message_id_normalise(const char *value)
{
	GString		*id;
	const char	*p;

	if (value == NULL)
		return NULL;
	p = strchr(value, '<');
	p = p != NULL ? p + 1 : value;
	id = g_string_new(NULL);
	for (; *p != '\0' && *p != '>'; p++) {
		if (!g_ascii_isspace(*p) && *p != '<')
			g_string_append_c(id, *p);
	}
	if (id->len == 0) {
		g_string_free(id, TRUE);
		return NULL;
	}
	domain_lowercase(id->str);
	return g_string_free(id, FALSE);
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
 * Fills from_addr and from_name.  A From: without any address (a bare
 * name) leaves from_addr NULL and keeps the decoded text as the name.
 */
static void
from_extract(GMimeMessage *msg, struct parse_result *out)
{
	InternetAddressMailbox	*mailbox;
	const char		*addr, *name;

	mailbox = mailbox_first(g_mime_message_get_from(msg), 0);
	if (mailbox == NULL) {
		out->from_name = header_text(msg, "From");
		return;
	}
	addr = internet_address_mailbox_get_addr(mailbox);
	if (addr != NULL && *addr != '\0') {
		out->from_addr = g_utf8_make_valid(addr, -1);
		domain_lowercase(out->from_addr);
	}
	/*
	 * NOTE: the display name is decoded by GMime, so in 3.2.13 a name
	 * split into several base64 words can lose its tail.
	 */
	name = internet_address_get_name(INTERNET_ADDRESS(mailbox));
	if (name != NULL && *name != '\0') {
		out->from_name = g_utf8_make_valid(name, -1);
		whitespace_collapse(out->from_name);
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

/*
 * Finds the first inline text/plain and text/html leaves.  Multipart
 * nesting is walked MIME_DEPTH_MAX levels deep.  message/rfc822 parts are
 * never entered, so a forwarded message supplies neither body nor headers.
 */
static void
body_find_walk(GMimeObject *obj, int depth, struct body_find *find)
{
	GMimeContentDisposition	*disposition;
	GMimeContentType	*type;
	int			 i, n;

	if (find->plain != NULL)
		return;
	if (depth > MIME_DEPTH_MAX) {
		find->is_depth_capped = true;
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
		for (i = 0; i < n && find->plain == NULL; i++)
			body_find_walk(g_mime_multipart_get_part(
			    GMIME_MULTIPART(obj), i), depth + 1, find);
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	disposition = g_mime_object_get_content_disposition(obj);
	if (disposition != NULL &&
	    g_mime_content_disposition_is_attachment(disposition))
		return;
	type = g_mime_object_get_content_type(obj);
	if (type == NULL)
		return;
	if (g_mime_content_type_is_type(type, "text", "plain"))
		find->plain = GMIME_PART(obj);
	else if (g_mime_content_type_is_type(type, "text", "html") &&
	    find->html == NULL)
		find->html = GMIME_PART(obj);
}

/* Returns the content of part, transfer-decoded and converted to UTF-8. */
static char *
part_text(GMimePart *part)
{
	GMimeDataWrapper	*content;
	GMimeStream		*mem;
	GByteArray		*bytes;
	GString			*out;
	const char		*charset;

	out = g_string_new(NULL);
	content = g_mime_part_get_content(part);
	if (content == NULL)
		return gstring_free_valid(out);
	mem = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(content, mem);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part),
	    "charset");

	/* The cap can split a character; the fallbacks keep the rest. */
	charset_append(out, charset, (const char *)bytes->data,
	    MIN(bytes->len, PART_BYTES_MAX));
	g_object_unref(mem);
	return gstring_free_valid(out);
}

/* Turns CRLF and lone CR into LF, in place. */
static void
newlines_normalise(char *s)
{
	char	*r, *w;

	w = s;
	for (r = s; *r != '\0'; r++) {
		if (*r == '\r' && r[1] == '\n')
			continue;
		*w++ = *r == '\r' ? '\n' : *r;
	}
	*w = '\0';
}

static bool
name_in(const char *name, const char *const *list)
{
	size_t	 i;

	for (i = 0; list[i] != NULL; i++) {
		if (strcmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

/* Tells whether a tag name of len bytes starts at p (then not alnum). */
static bool
tag_name_at(const char *p, const char *name, size_t len)
{
	return g_ascii_strncasecmp(p, name, len) == 0 &&
	    !g_ascii_isalnum(p[len]);
}

/* Returns the end of the tag at p ('>' or the final NUL), past quotes. */
static const char *
tag_end(const char *p)
{
	char	 quote = '\0';

	for (p++; *p != '\0'; p++) {
		if (quote != '\0') {
			if (*p == quote)
				quote = '\0';
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '>') {
			break;
		}
	}
	return p;
}

/*
 * Returns the position just past the end tag that closes the element
 * called name, counting nested elements of the same name, or NULL if the
 * element is never closed.  p points past the start tag.
 */
static const char *
element_skip(const char *p, const char *name)
{
	size_t	 len = strlen(name);
	int	 depth = 1;

	for (p = strchr(p, '<'); p != NULL; p = strchr(p + 1, '<')) {
		if (p[1] == '/' && tag_name_at(p + 2, name, len))
			depth--;
		else if (tag_name_at(p + 1, name, len))
			depth++;
		if (depth == 0)
			break;
	}
	if (p == NULL)
		return NULL;
	p = tag_end(p);
	return *p != '\0' ? p + 1 : p;
}

/* Tells whether the attributes in [p, end) hide the element (CSS). */
static bool
attrs_hide(const char *p, const char *end)
{
	GString	*squeezed;
	bool	 is_hidden;

	squeezed = g_string_new(NULL);
	for (; p < end; p++) {
		if (!g_ascii_isspace(*p))
			g_string_append_c(squeezed, g_ascii_tolower(*p));
	}
	is_hidden = strstr(squeezed->str, "display:none") != NULL ||
	    strstr(squeezed->str, "visibility:hidden") != NULL;
	g_string_free(squeezed, TRUE);
	return is_hidden;
}

/* Returns the value of the attribute name in [p, end), or NULL. */
static char *
attr_value(const char *p, const char *end, const char *name)
{
	size_t		 len = strlen(name);
	const char	*v;
	char		 quote;

	for (; p + len < end; p++) {
		if (!g_ascii_isspace(p[-1]) ||
		    g_ascii_strncasecmp(p, name, len) != 0)
			continue;
		for (v = p + len; v < end && g_ascii_isspace(*v); v++)
			;
		if (v >= end || *v != '=')
			continue;
		for (v++; v < end && g_ascii_isspace(*v); v++)
			;
		quote = v < end && (*v == '"' || *v == '\'') ? *v++ : '\0';
		p = v;
		while (v < end && (quote != '\0' ? *v != quote :
		    !g_ascii_isspace(*v)))
			v++;
		return g_strndup(p, (gsize)(v - p));
	}
	return NULL;
}

struct html_text {
	GString	*out;
	char	*href;		/* target of the open <a>, or NULL */
	size_t	 link_start;	/* offset in out of the link's text */
};

static void
html_space(struct html_text *ht)
{
	GString	*out = ht->out;

	if (out->len > 0 && out->str[out->len - 1] != ' ' &&
	    out->str[out->len - 1] != '\n')
		g_string_append_c(out, ' ');
}

/* Tells whether the text in [s, s + len) is target, blanks aside. */
static bool
text_is(const char *s, size_t len, const char *target)
{
	while (len > 0 && g_ascii_isspace(*s)) {
		s++;
		len--;
	}
	while (len > 0 && g_ascii_isspace(s[len - 1]))
		len--;
	return len == strlen(target) && strncmp(s, target, len) == 0;
}

/* Starts a new line unless the text already ends one. */
static void
html_newline(struct html_text *ht)
{
	GString	*out = ht->out;

	while (out->len > 0 && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append_c(out, '\n');
}

/* Handles <a href> and </a>, so a link keeps its target: "text <url>". */
static void
html_link(struct html_text *ht, bool is_close, const char *attrs,
    const char *end)
{
	size_t	 start;

	if (!is_close) {
		g_free(ht->href);
		ht->href = attr_value(attrs, end, "href");
		ht->link_start = ht->out->len;
		return;
	}
	if (ht->href == NULL)
		return;
	start = MIN(ht->link_start, ht->out->len);
	if (*ht->href != '\0' && *ht->href != '#' &&
	    !text_is(ht->out->str + start, ht->out->len - start, ht->href))
		g_string_append_printf(ht->out, " <%s>", ht->href);
	g_clear_pointer(&ht->href, g_free);
}

/* Consumes the tag, comment or declaration at p and returns the rest. */
static const char *
html_tag(struct html_text *ht, const char *p)
{
	char		 name[16];
	const char	*attrs, *end, *skip;
	size_t		 len;
	bool		 is_close;

	if (strncmp(p, "<!--", 4) == 0) {
		end = strstr(p + 4, "-->");
		return end != NULL ? end + 3 : p + strlen(p);
	}
	is_close = p[1] == '/';
	attrs = p + 1 + is_close;
	len = 0;
	while (g_ascii_isalnum(attrs[len]))
		len++;
	if (len == 0 && p[1] != '!' && p[1] != '?') {
		g_string_append_c(ht->out, '<');
		return p + 1;
	}
	end = tag_end(p);
	g_strlcpy(name, attrs, MIN(len + 1, sizeof(name)));
	attrs += len;
	for (len = 0; name[len] != '\0'; len++)
		name[len] = g_ascii_tolower(name[len]);
	skip = NULL;
	if (!is_close && *name != '\0' && end[-1] != '/' &&
	    (name_in(name, html_skipped) || attrs_hide(attrs, end)))
		skip = element_skip(end, name);
	if (skip != NULL)
		return skip;
	if (strcmp(name, "br") == 0)
		g_string_append_c(ht->out, '\n');
	else if (name_in(name, html_breaks))
		html_newline(ht);
	else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
		html_space(ht);
	else if (strcmp(name, "a") == 0)
		html_link(ht, is_close, attrs, end);
	return *end != '\0' ? end + 1 : end;
}

/* Appends the character reference at p (starting with '&'). */
static const char *
html_entity(GString *out, const char *p)
{
	const struct html_entity	*e;
	char				*num_end;
	guint64				 cp;
	size_t				 len;

	if (p[1] == '#') {
		if (p[2] == 'x' || p[2] == 'X')
			cp = g_ascii_strtoull(p + 3, &num_end, 16);
		else
			cp = g_ascii_strtoull(p + 2, &num_end, 10);
		if (num_end == p + 2 || num_end == p + 3) {
			g_string_append_c(out, '&');
			return p + 1;
		}
		if (cp == 0xa0)
			cp = ' ';
		g_string_append_unichar(out, cp != 0 && cp <= 0x10ffff &&
		    g_unichar_validate((gunichar)cp) ? (gunichar)cp : 0xfffd);
		return *num_end == ';' ? num_end + 1 : num_end;
	}
	for (e = html_entities; e->name != NULL; e++) {
		len = strlen(e->name);
		if (strncmp(p + 1, e->name, len) == 0 && p[1 + len] == ';') {
			g_string_append_unichar(out, e->codepoint);
			return p + len + 2;
		}
	}
	g_string_append_c(out, '&');
	return p + 1;
}

/* Trims each line and keeps at most one blank line in a row. */
static char *
lines_tidy(const char *text)
{
	GString	 *out;
	char	**lines;
	int	  blanks = 0;
	size_t	  i;

	out = g_string_new(NULL);
	lines = g_strsplit(text, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		g_strstrip(lines[i]);
		if (*lines[i] == '\0') {
			blanks++;
			continue;
		}
		if (out->len > 0)
			g_string_append(out, blanks > 0 ? "\n\n" : "\n");
		g_string_append(out, lines[i]);
		blanks = 0;
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

/* Reduces an HTML document to plain text for the summary and the pages. */
static char *
html_to_text(const char *html)
{
	struct html_text	 ht = { NULL, NULL, 0 };
	const char		*p;
	char			*text;

	ht.out = g_string_new(NULL);
	p = html;
	while (*p != '\0') {
		if (*p == '<') {
			p = html_tag(&ht, p);
		} else if (*p == '&') {
			p = html_entity(ht.out, p);
		} else if (g_ascii_isspace(*p)) {
			html_space(&ht);
			p++;
		} else {
			g_string_append_c(ht.out, *p++);
		}
	}
	g_free(ht.href);
	text = lines_tidy(ht.out->str);
	g_string_free(ht.out, TRUE);
	return text;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void
utf8_truncate(char *s, size_t max)
{
	size_t	 i;

	if (strlen(s) <= max)
		return;
	i = max;
	while (i > 0 && ((guchar)s[i] & 0xc0) == 0x80)
		i--;
	s[i] = '\0';
}

static char *
body_extract(GMimeMessage *msg, const char *message_id)
{
	struct body_find	 find = { NULL, NULL, false };
	GMimeObject		*top;
	char			*text, *plain;

	top = g_mime_message_get_mime_part(msg);
	if (top != NULL)
		body_find_walk(top, 0, &find);
	if (find.is_depth_capped)
		log_info("parse: mime nesting limit reached msgid=%s depth=%d",
		    message_id != NULL ? message_id : "-", MIME_DEPTH_MAX);
	if (find.plain == NULL && find.html == NULL)
		return g_strdup("");
	text = part_text(find.plain != NULL ? find.plain : find.html);
	newlines_normalise(text);
	if (find.plain == NULL) {
		plain = html_to_text(text);
		g_free(text);
		text = plain;
	}
	utf8_truncate(text, PARSE_BODY_TEXT_MAX);
	return text;
}

static void
result_unparseable(struct parse_result *out)
{
	out->subject = g_strdup("(unparseable message)");
	out->body_text = g_strdup("");
	out->is_unparseable = true;
}

int
parse_message(const uint8_t *raw, size_t len, struct parse_result *out)
{
	GMimeStream		*stream;
	GMimeParser		*parser;
	GMimeParserOptions	*options;
	GMimeMessage		*msg;

	memset(out, 0, sizeof(*out));
	parse_init();
	stream = g_mime_stream_mem_new_with_buffer(raw != NULL ?
	    (const char *)raw : "", raw != NULL ? len : 0);
	parser = g_mime_parser_new_with_stream(stream);
	options = g_mime_parser_options_new();
	msg = g_mime_parser_construct_message(parser, options);
	g_mime_parser_options_free(options);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg == NULL) {
		result_unparseable(out);
		return -1;
	}
	out->subject = header_text(msg, "Subject");
	if (out->subject == NULL)
		out->subject = g_strdup("(no subject)");
	from_extract(msg, out);
	out->message_id = parse_message_id_normalise(header_raw(msg,
	    "Message-ID"));
	out->date_s = date_extract(msg);
	out->body_text = body_extract(msg, out->message_id);
	g_object_unref(msg);
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
