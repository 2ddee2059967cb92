/* SPDX-License-Identifier: ISC */
/*
 * Lenient decoders of the parse stage: charsets (with labels iconv does not
 * know and 8-bit text under the wrong label), RFC 2047 header words in
 * their broken real-world shapes, base64 and quoted-printable.  Nothing is
 * dropped: what cannot be decoded as declared is read another way, and the
 * fallback is recorded.
 */
#include <stdarg.h>
#include <string.h>

#include "parse_priv.h"

/* Code points of windows-1252 bytes 0x80-0x9f; 0 marks an unused byte. */
static const gunichar cp1252_high[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178
};

struct charset_alias {
	const char	*label;
	const char	*name;		/* as iconv knows it */
};

/* Labels seen in mail that glibc's iconv does not accept. */
static const struct charset_alias charset_aliases[] = {
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "x-mac", "MACINTOSH" },
	{ "mac", "MACINTOSH" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "iso-8859-6-i", "ISO-8859-6" },
	{ "unicode-1-1-utf-7", "UTF-7" },
	{ "x-unknown", "WINDOWS-1252" },
	{ "x-user-defined", "WINDOWS-1252" },
	{ "latin-1", "ISO-8859-1" },
	{ "utf-8-sig", "UTF-8" },
	{ NULL, NULL }
};

/* Prefixes put before a Windows or IBM code page number ("cp-850"). */
static const char *const codepage_prefixes[] = { "x-cp", "windows", "win",
	"cp", "ms", "ansi", "ibm", NULL };

void
parse_fallback_add(GPtrArray *fallbacks, const char *format, ...)
{
	va_list	 ap;
	char	*phrase;
	guint	 i;

	if (fallbacks == NULL)
		return;
	va_start(ap, format);
	phrase = g_strdup_vprintf(format, ap);
	va_end(ap);
	for (i = 0; i < fallbacks->len; i++) {
		if (strcmp(g_ptr_array_index(fallbacks, i), phrase) == 0) {
			g_free(phrase);
			return;
		}
	}
	g_ptr_array_add(fallbacks, phrase);
}

void
parse_label_clean(const char *label, char *buf, size_t size)
{
	size_t	 i;

	for (i = 0; label[i] != '\0' && i + 1 < size; i++)
		buf[i] = label[i] > ' ' && label[i] < 0x7f ? label[i] : '?';
	buf[i] = '\0';
}

/* Decodes bytes as windows-1252; unused bytes become U+FFFD, NUL a space. */
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

static bool
bytes_are_7bit(const char *s, size_t len)
{
	uint64_t	word, any = 0;
	size_t		i = 0;

	/* Eight bytes at a time: a body is mostly plain ASCII. */
	for (; i + sizeof(word) <= len; i += sizeof(word)) {
		memcpy(&word, s + i, sizeof(word));
		any |= word;
	}
	for (; i < len; i++)
		any |= (guchar)s[i];
	return (any & UINT64_C(0x8080808080808080)) == 0;
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
 * Appends bytes that claim no usable charset.  Text containing valid UTF-8
 * sequences is taken as UTF-8, with broken bytes replaced by U+FFFD;
 * anything else as windows-1252, the usual charset of unlabelled 8-bit
 * mail.  Returns how 8-bit text was read, or NULL for 7-bit or valid UTF-8
 * without 8-bit bytes.
 */
static const char *
raw_append(GString *out, const char *s, size_t len)
{
	if (bytes_are_7bit(s, len) && memchr(s, '\0', len) == NULL) {
		g_string_append_len(out, s, (gssize)len);
		return NULL;
	}
	if (g_utf8_validate_len(s, len, NULL)) {
		g_string_append_len(out, s, (gssize)len);
		return "UTF-8";
	}
	if (utf8_has_multibyte(s, len)) {
		utf8_replace_append(out, s, len);
		return "UTF-8 with invalid bytes replaced";
	}
	cp1252_append(out, s, len);
	return "windows-1252";
}

/*
 * Writes into buf the iconv name for a label iconv may not know: table
 * entries, and code page numbers with or without a prefix ("1252",
 * "cp-850", "win-1250").  Returns false when the label is kept as it is.
 */
static bool
charset_alias(const char *charset, char *buf, size_t size)
{
	const char	*digits = charset;
	size_t		 i, len;

	for (i = 0; charset_aliases[i].label != NULL; i++) {
		if (g_ascii_strcasecmp(charset,
		    charset_aliases[i].label) == 0) {
			g_strlcpy(buf, charset_aliases[i].name, size);
			return true;
		}
	}
	for (i = 0; codepage_prefixes[i] != NULL; i++) {
		len = strlen(codepage_prefixes[i]);
		if (g_ascii_strncasecmp(charset, codepage_prefixes[i],
		    len) == 0) {
			digits = charset + len;
			break;
		}
	}
	if (*digits == '-' || *digits == '_' || *digits == ' ')
		digits++;
	if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits) ||
	    strlen(digits) > 5)
		return false;
	if (strlen(digits) == 4 && strncmp(digits, "125", 3) == 0)
		g_snprintf(buf, size, "WINDOWS-%s", digits);
	else
		g_snprintf(buf, size, "CP%s", digits);
	return g_ascii_strcasecmp(buf, charset) != 0;
}

static bool
charset_is_utf8_or_ascii(const char *charset)
{
	return g_ascii_strcasecmp(charset, "utf-8") == 0 ||
	    g_ascii_strcasecmp(charset, "utf8") == 0 ||
	    g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
	    g_ascii_strcasecmp(charset, "ascii") == 0;
}

/* Tells whether 7-bit text carries ISO-2022-JP escape sequences. */
static bool
has_iso2022jp_escapes(const char *s, size_t len)
{
	const char	*esc, *end = s + len;

	/* One memchr for ESC, which most text lacks, instead of a memmem
	 * per sequence over the whole part. */
	if (s == NULL)
		return false;
	for (esc = memchr(s, '\x1b', len); esc != NULL && end - esc >= 3;
	    esc = memchr(esc + 1, '\x1b', (size_t)(end - esc - 1))) {
		if (memcmp(esc, "\x1b$B", 3) == 0 ||
		    memcmp(esc, "\x1b$@", 3) == 0 ||
		    memcmp(esc, "\x1b(J", 3) == 0)
			return true;
	}
	return false;
}

/* Converts with iconv; returns NULL when name is unknown or bytes invalid. */
static char *
iconv_convert(const char *name, const char *s, size_t len)
{
	iconv_t	 cd;
	char	*converted;

	cd = g_mime_iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return NULL;
	converted = g_mime_iconv_strndup(cd, s, len);
	g_mime_iconv_close(cd);
	return converted;
}

/* Handles text labelled UTF-8, us-ascii or nothing at all. */
static void
unlabelled_append(GString *out, const char *charset, const char *s,
    size_t len, GPtrArray *fallbacks)
{
	char		 label[PARSE_CHARSET_NAME_MAX];
	char		*converted = NULL;
	const char	*how;

	parse_label_clean(charset != NULL && *charset != '\0' ? charset :
	    "(none)", label, sizeof(label));
	if (bytes_are_7bit(s, len) && has_iso2022jp_escapes(s, len))
		converted = iconv_convert("ISO-2022-JP", s, len);
	if (converted != NULL) {
		g_string_append(out, converted);
		g_free(converted);
		parse_fallback_add(fallbacks, "ISO-2022-JP escapes in a part "
		    "labelled %s read as ISO-2022-JP", label);
		return;
	}
	how = raw_append(out, s, len);
	if (how == NULL)
		return;
	if (g_ascii_strncasecmp(label, "utf", 3) == 0) {
		if (strcmp(how, "UTF-8") != 0)
			parse_fallback_add(fallbacks, "invalid UTF-8 read as "
			    "%s", how);
		return;
	}
	parse_fallback_add(fallbacks, "8-bit bytes in a part labelled %s "
	    "read as %s", label, how);
}

void
parse_charset_append(GString *out, const char *charset, const char *s,
    size_t len, GPtrArray *fallbacks)
{
	char		 name[PARSE_CHARSET_NAME_MAX];
	char		 label[PARSE_CHARSET_NAME_MAX];
	char		*converted;
	const char	*how;

	if (len == 0)
		return;
	if (charset == NULL || *charset == '\0' ||
	    charset_is_utf8_or_ascii(charset)) {
		unlabelled_append(out, charset, s, len, fallbacks);
		return;
	}
	parse_label_clean(charset, label, sizeof(label));
	if (charset_alias(charset, name, sizeof(name)))
		parse_fallback_add(fallbacks, "charset %s read as %s", label,
		    name);
	else
		g_strlcpy(name, charset, sizeof(name));
	converted = iconv_convert(name, s, len);
	if (converted != NULL) {
		g_string_append(out, converted);
		g_free(converted);
		return;
	}
	how = raw_append(out, s, len);
	parse_fallback_add(fallbacks, "unknown or invalid charset %s read as "
	    "%s", label, how != NULL ? how : "ASCII");
}

bool
parse_charset_is_verbatim(const char *charset, const char *s, size_t len)
{
	if (len == 0 || (charset != NULL && *charset != '\0' &&
	    !charset_is_utf8_or_ascii(charset)))
		return false;
	return bytes_are_7bit(s, len) && memchr(s, '\0', len) == NULL &&
	    memchr(s, '\x1b', len) == NULL;
}

char *
parse_gstring_free_valid(GString *out)
{
	char	*text;

	/* ASCII without NUL bytes is valid UTF-8 already. */
	if (bytes_are_7bit(out->str, out->len) &&
	    memchr(out->str, '\0', out->len) == NULL)
		return g_string_free(out, FALSE);
	text = g_utf8_make_valid(out->str, (gssize)out->len);
	g_string_free(out, TRUE);
	return text;
}

void
parse_whitespace_collapse(char *s)
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

void
parse_newlines_normalise(char *s)
{
	char	*r, *w, *cr, *end = s + strlen(s);
	size_t	 n;

	/*
	 * Moves the text between CRs in blocks rather than byte by byte,
	 * finding them with memchr, as the end is known.
	 */
	r = w = memchr(s, '\r', (size_t)(end - s));
	while (r != NULL) {
		if (r[1] == '\n')
			r++;
		else
			*r = '\n';
		cr = memchr(r + 1, '\r', (size_t)(end - r - 1));
		n = (size_t)((cr != NULL ? cr : end) - r);
		memmove(w, r, n);
		w += n;
		r = cr;
	}
	if (w != NULL)
		*w = '\0';
}

static int
base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Writes the 1 or 2 bytes of an incomplete quantum of n sextets. */
static void
base64_flush(guint32 acc, int n, GByteArray *out)
{
	guint8	 bytes[2];

	if (n == 2) {
		bytes[0] = (guint8)(acc >> 4);
		g_byte_array_append(out, bytes, 1);
	} else if (n == 3) {
		bytes[0] = (guint8)(acc >> 10);
		bytes[1] = (guint8)(acc >> 2);
		g_byte_array_append(out, bytes, 2);
	}
}

size_t
parse_base64_decode(const char *s, size_t len, GByteArray *out)
{
	guint32	 acc = 0;
	guint8	 bytes[3];
	size_t	 i, skipped = 0;
	int	 n = 0, v;

	for (i = 0; i < len; i++) {
		v = base64_value(s[i]);
		if (s[i] == '=') {
			/* Padding ends a quantum; a later chunk starts anew. */
			base64_flush(acc, n, out);
			skipped += n == 1;
			acc = 0;
			n = 0;
		} else if (v < 0) {
			skipped += !g_ascii_isspace(s[i]);
		} else {
			acc = acc << 6 | (guint32)v;
			if (++n < 4)
				continue;
			bytes[0] = (guint8)(acc >> 16);
			bytes[1] = (guint8)(acc >> 8);
			bytes[2] = (guint8)acc;
			g_byte_array_append(out, bytes, 3);
			acc = 0;
			n = 0;
		}
	}
	base64_flush(acc, n, out);
	return skipped + (n == 1);
}

bool
parse_base64_is_text(const char *s, size_t len)
{
	size_t	 i, invalid = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			/* Base64 lines hold no blank between two characters. */
			invalid += i > 0 && i + 1 < len &&
			    !g_ascii_isspace(s[i - 1]) &&
			    !g_ascii_isspace(s[i + 1]);
		} else if (base64_value(s[i]) < 0 && s[i] != '=' &&
		    !g_ascii_isspace(s[i])) {
			invalid++;
		}
	}
	return invalid * 10 > len;
}

size_t
parse_qp_decode(const char *s, size_t len, GByteArray *out)
{
	size_t	 i, j, broken = 0;
	int	 hi, lo;
	guint8	 c;

	for (i = 0; i < len; i++) {
		c = (guint8)s[i];
		if (c != '=') {
			g_byte_array_append(out, &c, 1);
			continue;
		}
		hi = i + 1 < len ? g_ascii_xdigit_value(s[i + 1]) : -1;
		lo = i + 2 < len ? g_ascii_xdigit_value(s[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			c = (guint8)(hi << 4 | lo);
			g_byte_array_append(out, &c, 1);
			i += 2;
			continue;
		}

		/* A soft line break, perhaps with blanks before its end. */
		for (j = i + 1; j < len && (s[j] == ' ' || s[j] == '\t'); j++)
			;
		if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
			j++;
		if (j >= len || s[j] == '\n' || s[j] == '\r') {
			broken += j > i + 1 && s[i + 1] != '\n' &&
			    s[i + 1] != '\r';
			i = j;
			continue;
		}
		broken++;
		g_byte_array_append(out, &c, 1);
	}
	return broken;
}

/* An RFC 2047 encoded-word: =?charset?B|Q?text?= */
struct encoded_word {
	char		 charset[PARSE_CHARSET_NAME_MAX];
	char		 encoding;	/* 'B' or 'Q' */
	const char	*text;
	size_t		 text_len;
	const char	*end;		/* just past "?=" */
	bool		 is_broken;	/* blanks inside, or no "?=" */
};

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
 * Finds the end of an encoded-word's text at text: the "?=" on the same
 * line.  Senders put blanks inside the text and cut the last word of a
 * header short, so both are taken, flagged broken.
 */
static bool
encoded_word_text_scan(const char *text, struct encoded_word *w)
{
	const char	*p;

	for (p = text; *p != '\0' && *p != '\r' && *p != '\n'; p++) {
		if (p[0] == '?' && p[1] == '=')
			break;
		if (p[0] == '=' && p[1] == '?' && p[2] != '=')
			return false;
	}
	if ((*p == '\r' || *p == '\n') && !span_is_blank(p, p + strlen(p)))
		return false;
	if (*p == '\r' || *p == '\n')
		p += strlen(p);
	w->text = text;
	w->text_len = (size_t)(p - text);
	w->end = *p == '\0' ? p : p + 2;
	while (*p == '\0' && w->text_len > 0 &&
	    g_ascii_isspace(text[w->text_len - 1]))
		w->text_len--;
	w->is_broken = *p == '\0' || strcspn(text, " \t") < w->text_len;
	return true;
}

/* Reads the encoded-word at p, which starts with "=?"; false if none. */
static bool
encoded_word_scan(const char *p, struct encoded_word *w)
{
	const char	*cs, *q;
	size_t		 cs_len;

	cs = p + 2;
	cs_len = strcspn(cs, "? \t\r\n");
	if (cs_len == 0 || cs_len >= PARSE_CHARSET_NAME_MAX ||
	    cs[cs_len] != '?')
		return false;
	q = cs + cs_len + 1;
	if (*q == '\0' || strchr("BbQq", *q) == NULL || q[1] != '?')
		return false;
	w->encoding = g_ascii_toupper(*q);
	if (!encoded_word_text_scan(q + 2, w))
		return false;

	/* RFC 2231 5 allows "charset*language", and the language is dropped. */
	memcpy(w->charset, cs, cs_len);
	w->charset[cs_len] = '\0';
	w->charset[strcspn(w->charset, "*")] = '\0';
	return true;
}

/* Tells whether text holds only base64 characters and blanks. */
static bool
text_is_base64(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (base64_value(s[i]) < 0 && s[i] != '=' && s[i] != ' ' &&
		    s[i] != '\t')
			return false;
	}
	return true;
}

/* Appends the decoded bytes of w to bytes. */
static void
encoded_word_decode(const struct encoded_word *w, GByteArray *bytes,
    GPtrArray *fallbacks)
{
	size_t	 i;
	guint8	 c;
	int	 hi, lo;

	if (w->is_broken)
		parse_fallback_add(fallbacks, "malformed encoded-word decoded");
	if (w->encoding == 'B' && !text_is_base64(w->text, w->text_len)) {
		parse_fallback_add(fallbacks, "encoded-word with invalid "
		    "base64 read as raw text");
		g_byte_array_append(bytes, (const guint8 *)w->text,
		    (guint)w->text_len);
		return;
	}
	if (w->encoding == 'B') {
		(void)parse_base64_decode(w->text, w->text_len, bytes);
		return;
	}
	for (i = 0; i < w->text_len; i++) {
		c = (guint8)(w->text[i] == '_' ? ' ' : w->text[i]);
		hi = i + 2 < w->text_len ? g_ascii_xdigit_value(w->text[i + 1])
		    : -1;
		lo = hi >= 0 ? g_ascii_xdigit_value(w->text[i + 2]) : -1;
		if (w->text[i] == '=' && hi >= 0 && lo >= 0) {
			c = (guint8)(hi << 4 | lo);
			i += 2;
		}
		g_byte_array_append(bytes, &c, 1);
	}
}

/* Appends header text outside encoded-words, noting raw 8-bit bytes. */
static void
header_literal_append(GString *out, const char *s, size_t len,
    GPtrArray *fallbacks)
{
	const char	*how;

	how = raw_append(out, s, len);
	if (how != NULL)
		parse_fallback_add(fallbacks, "raw 8-bit header text read as "
		    "%s", how);
}

/*
 * Adjacent encoded-words in the same charset are joined as bytes before
 * conversion, because senders split a multibyte character across two
 * words.  The blank between two words is dropped (RFC 2047 6.2).  GMime's
 * decoder is not used because in 3.2.13 (Debian 12) it drops the word that
 * follows a base64 word ending in "=" padding.
 */
char *
parse_header_decode(const char *raw, GPtrArray *fallbacks)
{
	GString			*out;
	GByteArray		*pending;
	char			 pending_cs[PARSE_CHARSET_NAME_MAX] = "";
	struct encoded_word	 w;
	const char		*p, *literal;
	bool			 is_joined, is_after_word = false;

	out = g_string_new(NULL);
	pending = g_byte_array_new();
	literal = raw;
	for (p = raw; *p != '\0'; p++) {
		if (p[0] != '=' || p[1] != '?' || !encoded_word_scan(p, &w))
			continue;
		is_joined = is_after_word && span_is_blank(literal, p);
		if (!is_joined ||
		    g_ascii_strcasecmp(pending_cs, w.charset) != 0) {
			parse_charset_append(out, pending_cs,
			    (const char *)pending->data, pending->len,
			    fallbacks);
			g_byte_array_set_size(pending, 0);
		}
		if (!is_joined)
			header_literal_append(out, literal,
			    (size_t)(p - literal), fallbacks);
		g_strlcpy(pending_cs, w.charset, sizeof(pending_cs));
		encoded_word_decode(&w, pending, fallbacks);
		is_after_word = true;
		literal = w.end;
		p = w.end - 1;
	}
	parse_charset_append(out, pending_cs, (const char *)pending->data,
	    pending->len, fallbacks);
	header_literal_append(out, literal, strlen(literal), fallbacks);
	g_byte_array_free(pending, TRUE);
	return parse_gstring_free_valid(out);
}
