/* SPDX-License-Identifier: ISC */
/*
 * Finds the text of a message for its summary.  The MIME tree is walked
 * with a depth and part-count limit; text is transfer-decoded here, not by
 * GMime, so broken base64 and quoted-printable are repaired.  When no text
 * part has content, the prologue of a multipart without boundary lines, a
 * TNEF (winmail.dat) body or a calendar's summary lines stand in for it.
 */
#include <string.h>

#include "log.h"
#include "parse_priv.h"

#define MIME_DEPTH_MAX		32	/* multipart levels walked */
#define MIME_PARTS_MAX		1000	/* parts looked at per message */
/*
 * Decoded bytes of a plain-text part read for the summary: 2 bytes per
 * byte kept covers UTF-8, 8-bit charsets and UTF-16, and leaves the rest of
 * a large part unread (a UTF-32 part gets a shorter summary).  HTML
 * carries markup, so its parts get the larger PARSE_PART_BYTES_MAX.
 */
#define PLAIN_BYTES_MAX		(2 * PARSE_BODY_TEXT_MAX)
#define LABEL_CHECK_BYTES	(64 * 1024) /* read to check an attachment */
#define TNEF_SIGNATURE		0x223e9f78u
#define TNEF_ATT_BODY		0x0002800cu /* attBody, type atpText */

struct body_find {
	GMimePart	*plain;		/* first inline text/plain */
	GMimePart	*html;		/* first inline text/html */
	GMimePart	*calendar;	/* first text/calendar */
	GMimePart	*tnef;		/* first application/ms-tnef */
	GMimeMultipart	*empty;		/* first multipart without parts */
	int		 parts_seen;
	bool		 is_depth_capped;
	GPtrArray	*fallbacks;
};

/* Calendar properties copied into the summary, in their order. */
static const char *const calendar_properties[] = { "SUMMARY", "DTSTART",
	"DTEND", "LOCATION", "ORGANIZER", "DESCRIPTION", NULL };

/* Reads at most max bytes of the still-encoded content of part. */
static GByteArray *
part_encoded_read(GMimePart *part, size_t max, GMimeContentEncoding *encoding)
{
	GMimeDataWrapper	*content;
	GMimeStream		*stream;
	GByteArray		*raw;
	gssize			 n;
	guint			 len = 0, want;

	*encoding = GMIME_CONTENT_ENCODING_DEFAULT;
	content = g_mime_part_get_content(part);
	if (content == NULL)
		return g_byte_array_new();
	*encoding = g_mime_data_wrapper_get_encoding(content);
	stream = g_mime_data_wrapper_get_stream(content);
	if (stream == NULL || g_mime_stream_reset(stream) == -1)
		return g_byte_array_new();
	/*
	 * The stream reports its length, so one allocation takes all of it,
	 * with one byte more for the NUL that part_text may add.  The
	 * content is read straight into it.
	 */
	n = g_mime_stream_length(stream);
	want = n > 0 ? (guint)MIN((size_t)n, max) : 16384;
	raw = g_byte_array_sized_new(want + 1);
	while (len < max) {
		if (len == raw->len)
			g_byte_array_set_size(raw,
			    (guint)MIN((size_t)len + want, max));
		n = g_mime_stream_read(stream, (char *)raw->data + len,
		    raw->len - len);
		if (n <= 0)
			break;
		len += (guint)n;
	}
	g_byte_array_set_size(raw, len);
	return raw;
}

/* Decodes with GMime, for the encodings this file does not repair. */
static GByteArray *
part_gmime_decode(GMimePart *part)
{
	GMimeStream	*mem;
	GByteArray	*bytes;

	mem = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(part),
	    mem);
	bytes = g_byte_array_ref(g_mime_stream_mem_get_byte_array(
	    GMIME_STREAM_MEM(mem)));
	g_object_unref(mem);
	return bytes;
}

/* Tells whether base64 text goes on after a padding '=' (joined chunks). */
static bool
base64_has_inner_padding(const guint8 *s, size_t len)
{
	const guint8	*pad;
	size_t		 i;

	if (len == 0)
		return false;
	pad = memchr(s, '=', len);
	if (pad == NULL)
		return false;
	for (i = (size_t)(pad - s); i < len; i++) {
		if (g_ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '/')
			return true;
	}
	return false;
}

/* Base64 content, or its raw bytes when it is not base64 at all. */
static GByteArray *
base64_content_decode(GByteArray *raw, GPtrArray *fallbacks)
{
	GByteArray	*bytes;

	if (parse_base64_is_text((const char *)raw->data, raw->len)) {
		parse_fallback_add(fallbacks, "text labelled base64 read as "
		    "it stands");
		return g_byte_array_ref(raw);
	}
	bytes = g_byte_array_new();
	if (parse_base64_decode((const char *)raw->data, raw->len, bytes) > 0)
		parse_fallback_add(fallbacks, "broken base64 repaired");
	if (base64_has_inner_padding(raw->data, raw->len))
		parse_fallback_add(fallbacks, "base64 chunks with inner "
		    "padding joined");
	return bytes;
}

/*
 * Returns the transfer-decoded content of part, from at most twice max
 * encoded bytes (base64 needs 4 for 3, quoted-printable up to 3 for 1).
 */
static GByteArray *
part_bytes(GMimePart *part, size_t max, GPtrArray *fallbacks)
{
	GMimeContentEncoding	 encoding;
	GByteArray		*raw, *bytes;

	raw = part_encoded_read(part, 2 * max, &encoding);
	if (encoding == GMIME_CONTENT_ENCODING_BASE64) {
		bytes = base64_content_decode(raw, fallbacks);
	} else if (encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
		bytes = g_byte_array_new();
		if (parse_qp_decode((const char *)raw->data, raw->len,
		    bytes) > 0)
			parse_fallback_add(fallbacks, "broken "
			    "quoted-printable repaired");
	} else if (encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
		bytes = part_gmime_decode(part);
	} else {
		bytes = g_byte_array_ref(raw);
	}
	g_byte_array_unref(raw);
	return bytes;
}

/*
 * Returns the first max decoded bytes of part, converted to UTF-8 with LF
 * lines.
 */
static char *
part_text(GMimePart *part, size_t max, GPtrArray *fallbacks)
{
	GByteArray	*bytes;
	GString		*out;
	const char	*charset;
	char		*text;

	bytes = part_bytes(part, max, fallbacks);
	charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part),
	    "charset");
	if (parse_charset_is_verbatim(charset, (const char *)bytes->data,
	    MIN(bytes->len, max))) {
		/* Plain ASCII: the bytes become the text, with no copy. */
		g_byte_array_set_size(bytes, MIN(bytes->len, max) + 1);
		bytes->data[bytes->len - 1] = '\0';
		text = (char *)g_byte_array_free(bytes, FALSE);
		parse_newlines_normalise(text);
		return text;
	}
	/* Sized once: growing by doubling would copy the text each time. */
	out = g_string_sized_new(MIN(bytes->len, max) + 1);

	/* The cap can split a character; the fallbacks keep the rest. */
	parse_charset_append(out, charset, (const char *)bytes->data,
	    MIN(bytes->len, max), fallbacks);
	g_byte_array_unref(bytes);
	text = parse_gstring_free_valid(out);
	parse_newlines_normalise(text);
	return text;
}

static bool
part_is_tnef(GMimeObject *obj, GMimeContentType *type)
{
	const char	*filename;

	if (g_mime_content_type_is_type(type, "application", "ms-tnef") ||
	    g_mime_content_type_is_type(type, "application", "vnd.ms-tnef"))
		return true;
	filename = g_mime_part_get_filename(GMIME_PART(obj));
	return filename != NULL && g_ascii_strcasecmp(filename,
	    "winmail.dat") == 0;
}

/* Flags an attachment labelled base64 whose start is plain text. */
static void
attachment_label_check(GMimePart *part, GPtrArray *fallbacks)
{
	GMimeContentEncoding	 encoding;
	GByteArray		*raw;
	const char		*filename;
	char			 name[PARSE_CHARSET_NAME_MAX];

	raw = part_encoded_read(part, LABEL_CHECK_BYTES, &encoding);
	if (encoding == GMIME_CONTENT_ENCODING_BASE64 &&
	    parse_base64_is_text((const char *)raw->data, raw->len)) {
		filename = g_mime_part_get_filename(part);
		parse_label_clean(filename != NULL ? filename : "(unnamed)",
		    name, sizeof(name));
		parse_fallback_add(fallbacks, "attachment %s labelled base64 "
		    "is not base64", name);
	}
	g_byte_array_unref(raw);
}

/* Sorts a leaf part into the slots of find. */
static void
body_find_leaf(GMimeObject *obj, struct body_find *find)
{
	GMimeContentDisposition	*disposition;
	GMimeContentType	*type;
	bool			 is_attachment;

	type = g_mime_object_get_content_type(obj);
	if (type == NULL)
		return;
	disposition = g_mime_object_get_content_disposition(obj);
	is_attachment = disposition != NULL &&
	    g_mime_content_disposition_is_attachment(disposition);
	if (part_is_tnef(obj, type)) {
		if (find->tnef == NULL)
			find->tnef = GMIME_PART(obj);
	} else if (g_mime_content_type_is_type(type, "text", "calendar")) {
		if (find->calendar == NULL)
			find->calendar = GMIME_PART(obj);
	} else if (is_attachment) {
		attachment_label_check(GMIME_PART(obj), find->fallbacks);
	} else if (g_mime_content_type_is_type(type, "text", "plain")) {
		if (find->plain == NULL)
			find->plain = GMIME_PART(obj);
	} else if (g_mime_content_type_is_type(type, "text", "html")) {
		if (find->html == NULL)
			find->html = GMIME_PART(obj);
	}
}

/*
 * Walks the MIME tree MIME_DEPTH_MAX levels deep and MIME_PARTS_MAX parts
 * wide, so recursion depth and time stay bounded whatever GMime built.
 * message/rfc822 parts are never entered: a forwarded message supplies
 * neither body nor headers.
 */
static void
body_find_walk(GMimeObject *obj, int depth, struct body_find *find)
{
	GMimeMultipart	*multipart;
	int		 i, n;

	if (++find->parts_seen > MIME_PARTS_MAX)
		return;
	if (depth > MIME_DEPTH_MAX) {
		find->is_depth_capped = true;
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		multipart = GMIME_MULTIPART(obj);
		n = g_mime_multipart_get_count(multipart);
		if (n == 0 && find->empty == NULL)
			find->empty = multipart;
		for (i = 0; i < n && find->parts_seen <= MIME_PARTS_MAX; i++)
			body_find_walk(g_mime_multipart_get_part(multipart, i),
			    depth + 1, find);
		return;
	}
	if (GMIME_IS_PART(obj))
		body_find_leaf(obj, find);
}

static bool
text_is_blank(const char *text)
{
	for (; *text != '\0'; text++) {
		if (!g_ascii_isspace(*text))
			return false;
	}
	return true;
}

/* Returns the attBody text of a TNEF stream, or NULL if it has none. */
static char *
tnef_body_text(const guint8 *d, size_t len, GPtrArray *fallbacks)
{
	GString	*out;
	size_t	 pos;
	guint32	 signature, attr, attr_len;

	if (len < 6)
		return NULL;
	memcpy(&signature, d, 4);
	if (GUINT32_FROM_LE(signature) != TNEF_SIGNATURE)
		return NULL;

	/* Records: level (1), attribute (4), length (4), data, checksum (2). */
	for (pos = 6; pos + 9 <= len; pos += (size_t)attr_len + 2) {
		memcpy(&attr, d + pos + 1, 4);
		memcpy(&attr_len, d + pos + 5, 4);
		attr = GUINT32_FROM_LE(attr);
		attr_len = GUINT32_FROM_LE(attr_len);
		pos += 9;
		if (attr_len > len - pos)
			return NULL;
		if (attr != TNEF_ATT_BODY)
			continue;
		out = g_string_new(NULL);
		parse_charset_append(out, "windows-1252",
		    (const char *)d + pos, strnlen((const char *)d + pos,
		    attr_len), fallbacks);
		return parse_gstring_free_valid(out);
	}
	return NULL;
}

/* Describes a TNEF part: its attBody text, or a note on where it is. */
static char *
tnef_text(GMimePart *part, GPtrArray *fallbacks)
{
	GByteArray	*bytes;
	const char	*filename;
	char		 name[PARSE_CHARSET_NAME_MAX];
	char		*text;

	bytes = part_bytes(part, PARSE_PART_BYTES_MAX, fallbacks);
	text = tnef_body_text(bytes->data, bytes->len, fallbacks);
	if (text != NULL && !text_is_blank(text)) {
		parse_fallback_add(fallbacks, "body read from a TNEF "
		    "attachment");
		g_byte_array_unref(bytes);
		parse_newlines_normalise(text);
		return text;
	}
	g_free(text);
	filename = g_mime_part_get_filename(part);
	parse_label_clean(filename != NULL ? filename : "winmail.dat", name,
	    sizeof(name));
	text = g_strdup_printf("(the message body is a Microsoft TNEF "
	    "attachment, %s, %u KB; open the raw message to read it)", name,
	    (bytes->len + 1023) / 1024);
	parse_fallback_add(fallbacks, "TNEF body described");
	g_byte_array_unref(bytes);
	return text;
}

/* Appends an iCalendar value with its escapes (RFC 5545 3.3.11) undone. */
static void
calendar_value_append(GString *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v != '\\' || v[1] == '\0') {
			g_string_append_c(out, *v);
			continue;
		}
		v++;
		g_string_append_c(out, *v == 'n' || *v == 'N' ? '\n' : *v);
	}
}

/* Appends "NAME: value" when line holds the calendar property name. */
static void
calendar_line_append(GString *out, const char *line, const char *name)
{
	size_t		 len = strlen(name);
	const char	*p;
	bool		 is_quoted = false;

	if (g_ascii_strncasecmp(line, name, len) != 0 ||
	    (line[len] != ':' && line[len] != ';'))
		return;
	for (p = line + len; *p != '\0'; p++) {
		if (*p == '"')
			is_quoted = !is_quoted;
		else if (*p == ':' && !is_quoted)
			break;
	}
	if (*p == '\0')
		return;
	g_string_append_printf(out, "%s: ", name);
	calendar_value_append(out, p + 1);
	g_string_append_c(out, '\n');
}

/* Reduces an iCalendar text (LF lines) to its summary properties. */
static char *
calendar_summary(char *ics)
{
	GString	 *out;
	char	**lines;
	size_t	  i, j;
	char	 *r, *w;

	/* Unfolds: a line break followed by a blank continues the line. */
	for (r = w = ics; *r != '\0'; r++) {
		if (r[0] == '\n' && (r[1] == ' ' || r[1] == '\t')) {
			r++;
			continue;
		}
		*w++ = *r;
	}
	*w = '\0';
	out = g_string_new(NULL);
	lines = g_strsplit(ics, "\n", -1);
	for (j = 0; calendar_properties[j] != NULL; j++) {
		for (i = 0; lines[i] != NULL; i++)
			calendar_line_append(out, lines[i],
			    calendar_properties[j]);
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

static char *
calendar_text(GMimePart *part, GPtrArray *fallbacks)
{
	char	*ics, *text;

	ics = part_text(part, PARSE_PART_BYTES_MAX, fallbacks);
	text = calendar_summary(ics);
	g_free(ics);
	parse_fallback_add(fallbacks, "calendar body summarised");
	if (!text_is_blank(text))
		return text;
	g_free(text);
	return g_strdup("(the message body is a calendar file without a "
	    "summary; open the raw message to read it)");
}

/*
 * Cuts the first part out of text that opens with a boundary line other
 * than the declared one (or when none was declared): the part's headers
 * are dropped and its content runs to the next line with that boundary.
 * Returns false, leaving text alone, when text opens with no such line.
 */
static bool
prologue_first_part(char *text)
{
	char	*eol, *start, *next, *delimiter;
	size_t	 delimiter_len;

	if (strncmp(text, "--", 2) != 0 || !g_ascii_isgraph(text[2]))
		return false;
	eol = strchr(text, '\n');
	start = eol != NULL ? strstr(eol, "\n\n") : NULL;
	if (start == NULL)
		return false;
	delimiter_len = (size_t)(eol - text);
	delimiter = g_strndup(text, delimiter_len);
	g_strchomp(delimiter);
	start += 2;
	next = strstr(start, delimiter);
	while (next != NULL && next != start && next[-1] != '\n')
		next = strstr(next + 1, delimiter);
	g_free(delimiter);
	if (next != NULL)
		*next = '\0';
	memmove(text, start, strlen(start) + 1);
	return true;
}

/*
 * Reads the text of a multipart whose boundary never appears: its whole
 * content is left in the prologue by GMime.
 */
static char *
prologue_text(GMimeMultipart *multipart, GPtrArray *fallbacks)
{
	const char	*prologue;
	GString		*out;
	char		*text;

	prologue = g_mime_multipart_get_prologue(multipart);
	out = g_string_new(NULL);
	if (prologue != NULL)
		parse_charset_append(out, NULL, prologue, strlen(prologue),
		    fallbacks);
	text = parse_gstring_free_valid(out);
	parse_newlines_normalise(text);
	if (prologue_first_part(text))
		parse_fallback_add(fallbacks, "first part cut at a boundary "
		    "other than the declared one");
	if (!text_is_blank(text))
		parse_fallback_add(fallbacks, "multipart without boundary "
		    "lines read as text");
	return text;
}

static char *
html_part_text(GMimePart *part, GPtrArray *fallbacks)
{
	char	*html, *text;

	html = part_text(part, PARSE_PART_BYTES_MAX, fallbacks);
	text = parse_html_to_text(html);
	g_free(html);
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

/* Takes the first of the stand-ins for the body that has text. */
static char *
body_choose(struct body_find *find)
{
	char	*text;

	text = find->plain != NULL ? part_text(find->plain, PLAIN_BYTES_MAX,
	    find->fallbacks) :
	    g_strdup("");
	if (text_is_blank(text) && find->html != NULL) {
		g_free(text);
		text = html_part_text(find->html, find->fallbacks);
	}
	if (text_is_blank(text) && find->empty != NULL) {
		g_free(text);
		text = prologue_text(find->empty, find->fallbacks);
	}
	if (text_is_blank(text) && find->tnef != NULL) {
		g_free(text);
		text = tnef_text(find->tnef, find->fallbacks);
	}
	if (text_is_blank(text) && find->calendar != NULL) {
		g_free(text);
		text = calendar_text(find->calendar, find->fallbacks);
	}
	return text;
}

char *
parse_body_extract(GMimeMessage *msg, struct parse_result *out)
{
	struct body_find	 find;
	GMimeObject		*top;
	char			*text;

	memset(&find, 0, sizeof(find));
	find.fallbacks = out->fallbacks;
	top = g_mime_message_get_mime_part(msg);
	if (top != NULL)
		body_find_walk(top, 0, &find);
	if (find.is_depth_capped || find.parts_seen > MIME_PARTS_MAX) {
		parse_fallback_add(out->fallbacks, "MIME nesting limit "
		    "reached");
		log_info("parse: mime limit reached msgid=%s depth_max=%d "
		    "parts_max=%d", out->message_id != NULL ?
		    out->message_id : "-", MIME_DEPTH_MAX, MIME_PARTS_MAX);
	}
	text = body_choose(&find);
	utf8_truncate(text, PARSE_BODY_TEXT_MAX);
	return text;
}
