/* SPDX-License-Identifier: ISC */
/*
 * Text the classify stage reads itself: the acknowledgement words at the
 * top of a team member's reply, and header values taken straight from the
 * raw message (our loop header, the headers a delivery report returns).
 */
#include <string.h>

#include <glib.h>

#include "classify.h"
#include "classify_priv.h"

/*
 * Lowercase phrases that acknowledge a page when they open the reply, in
 * the team's languages; longer phrases come before their own prefixes.
 */
static const char *const ack_words[] = {
	"acknowledged", "acknowledge", "acked", "ack",
	"i'm on it", "im on it", "i am on it", "on it",
	"taking it", "taking this", "i'll take it", "i take it", "got it",
	"mine", "okay", "ok",
	"ich übernehme", "übernehme", "übernommen", "ich bin dran", "bin dran",
	"jag tar den", "jeg tar den", "tar den", "je prends", "lo tomo",
	"1", NULL
};

/* Phrases that resolve an incident from the same place. */
static const char *const resolve_words[] = {
	"resolved", "resolve", NULL
};

/* Returns the first line that is neither blank nor quoted, or NULL. */
static char *
first_own_line(const char *text)
{
	const char	*p = text, *end;

	while (*p != '\0') {
		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p < end && *p != '>')
			return g_strndup(p, (gsize)(end - p));
		p = *end == '\0' ? end : end + 1;
	}
	return NULL;
}

/* Lowercases line and turns typographic apostrophes into ASCII ones. */
static char *
fold_line(const char *line)
{
	char	*valid, *lower, **parts, *joined;

	valid = g_utf8_make_valid(line, -1);
	lower = g_utf8_strdown(valid, -1);
	parts = g_strsplit(lower, "\xe2\x80\x99", -1);	/* U+2019 */
	joined = g_strjoinv("'", parts);
	g_strfreev(parts);
	g_free(lower);
	g_free(valid);
	return joined;
}

/*
 * Tells whether line opens with phrase as a statement: a whole word, on a
 * line that asks nothing ("ack?", "On it? Ben has it"), and for a number
 * such as "1" with nothing after it but "." or "!" ("1 question: ...").
 */
static bool
starts_with_phrase(const char *line, const char *phrase)
{
	size_t		len = strlen(phrase);
	gunichar	next;

	if (strncmp(line, phrase, len) != 0 || strchr(line, '?') != NULL)
		return false;
	if (line[len] == '\0')
		return true;
	next = g_utf8_get_char(line + len);
	if (g_unichar_isalnum(next))
		return false;
	if (strspn(phrase, "0123456789") == len)
		return strspn(line + len, ".! \t\r") == strlen(line + len);
	return true;
}

/* Tells whether the reply's own first line starts with one of words. */
static bool
first_line_starts_with(const char *text, const char *const *words,
    const char **word)
{
	char		*line, *folded;
	const char	*p;
	bool		 found = false;
	size_t		 i;

	*word = NULL;
	if (text == NULL)
		return false;
	line = first_own_line(text);
	if (line == NULL)
		return false;
	folded = fold_line(line);
	for (p = folded; *p != '\0' && strchr("*-_ \t\"'", *p) != NULL; p++)
		;
	for (i = 0; words[i] != NULL && !found; i++) {
		found = starts_with_phrase(p, words[i]);
		if (found)
			*word = words[i];
	}
	g_free(folded);
	g_free(line);
	return found;
}

bool
classify_is_ack_text(const char *text, const char *const *words,
    const char **word)
{
	const char	*resolve;

	/* "Resolved" is no acknowledgement word, whatever the list says. */
	if (first_line_starts_with(text, resolve_words, &resolve)) {
		*word = NULL;
		return false;
	}
	if (words == NULL || words[0] == NULL)
		words = ack_words;
	return first_line_starts_with(text, words, word);
}

bool
classify_is_resolve_text(const char *text)
{
	const char	*word;

	return first_line_starts_with(text, resolve_words, &word);
}

/* Returns the end of the line at p (the '\n' or end of data). */
static const uint8_t *
line_end(const uint8_t *p, const uint8_t *end)
{
	const uint8_t	*nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl : end;
}

static bool
is_blank_line(const uint8_t *p, const uint8_t *eol)
{
	return p == eol || (eol - p == 1 && *p == '\r');
}

/*
 * If the line at p starts header name, returns its unfolded value and moves
 * *next past its continuation lines; otherwise returns NULL.
 */
static char *
read_header(const uint8_t *p, const uint8_t *end, const char *name,
    const uint8_t **next)
{
	size_t		 n = strlen(name);
	const uint8_t	*eol;
	GString		*value;

	if ((size_t)(end - p) <= n || p[n] != ':' ||
	    g_ascii_strncasecmp((const char *)p, name, n) != 0)
		return NULL;
	value = g_string_new(NULL);
	p += n + 1;
	for (;;) {
		eol = line_end(p, end);
		g_string_append_len(value, (const char *)p, eol - p);
		p = eol < end ? eol + 1 : end;
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
	}
	*next = p;
	g_strdelimit(value->str, "\r\n", ' ');
	return g_strstrip(g_string_free(value, FALSE));
}

char *
classify_raw_header(const uint8_t *raw, size_t len, const char *name)
{
	const uint8_t	*p = raw, *end = raw + len, *eol, *next;
	char		*value;

	while (raw != NULL && p < end) {
		eol = line_end(p, end);
		if (is_blank_line(p, eol))
			break;
		value = read_header(p, end, name, &next);
		if (value != NULL)
			return value;
		p = eol < end ? eol + 1 : end;
	}
	return NULL;
}

/* Returns the start of the body: the byte after the first blank line. */
static const uint8_t *
body_start(const uint8_t *raw, const uint8_t *end)
{
	const uint8_t	*p = raw, *eol;

	while (p < end) {
		eol = line_end(p, end);
		if (is_blank_line(p, eol))
			return eol < end ? eol + 1 : end;
		p = eol < end ? eol + 1 : end;
	}
	return end;
}

void
classify_raw_body_headers(const uint8_t *raw, size_t len, const char *name,
    GPtrArray *values)
{
	const uint8_t	*end = raw + len, *p, *eol, *next;
	char		*value;

	if (raw == NULL)
		return;
	for (p = body_start(raw, end); p < end;) {
		value = read_header(p, end, name, &next);
		if (value != NULL) {
			g_ptr_array_add(values, value);
			p = next;
			continue;
		}
		eol = line_end(p, end);
		p = eol < end ? eol + 1 : end;
	}
}
