/* SPDX-License-Identifier: ISC */
/*
 * Reads the Body of an engineer's inbound SMS: an acknowledgement ("ACK",
 * "ACK 1042", "1", ...), one of the carrier opt-out keywords, or anything
 * else.  Only a reply that starts with the ack word counts, so look-alikes
 * such as "NACK", "back in 10" or a question "Ack?" never acknowledge.
 */

#include <string.h>

#include <glib.h>

#include "http.h"

/* 18 decimal digits always fit in an int64_t. */
#define INCIDENT_DIGITS_MAX	18

struct sms_keyword {
	const char		*word;
	enum http_sms_kind	 kind;
};

/* Opt-out, opt-in and help keywords, recognised only as the whole reply. */
static const struct sms_keyword sms_keywords[] = {
	{ "stop",		HTTP_SMS_OPT_OUT },
	{ "stopall",		HTTP_SMS_OPT_OUT },
	{ "unsubscribe",	HTTP_SMS_OPT_OUT },
	{ "cancel",		HTTP_SMS_OPT_OUT },
	{ "end",		HTTP_SMS_OPT_OUT },
	{ "quit",		HTTP_SMS_OPT_OUT },
	{ "start",		HTTP_SMS_OPT_IN },
	{ "yes",		HTTP_SMS_OPT_IN },
	{ "unstop",		HTTP_SMS_OPT_IN },
	{ "help",		HTTP_SMS_HELP },
	{ "info",		HTTP_SMS_HELP },
};

/* The longer word first, or "acknowledged" would stop after "ack". */
static const char *const ack_words[] = { "acknowledged", "ack" };

/*
 * Returns the length in bytes of the white space character at p, or 0:
 * ASCII white space, U+00A0, U+2000 to U+200B, U+202F and U+3000 in UTF-8.
 */
static size_t
space_len(const char *p, const char *end)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 left = (size_t)(end - p);

	if (left == 0)
		return 0;
	if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r'))
		return 1;
	if (left >= 2 && u[0] == 0xc2 && u[1] == 0xa0)
		return 2;
	if (left < 3)
		return 0;
	if (u[0] == 0xe2 && u[1] == 0x80 &&
	    ((u[2] >= 0x80 && u[2] <= 0x8b) || u[2] == 0xaf))
		return 3;
	if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80)
		return 3;
	return 0;
}

static const char *
skip_spaces(const char *p, const char *end)
{
	size_t	n;

	for (;;) {
		n = space_len(p, end);
		if (n == 0)
			return p;
		p += n;
	}
}

/* Returns the end of the text in [p, end) without its trailing spaces. */
static const char *
trim_end(const char *p, const char *end)
{
	const char	*last = p;
	size_t		 n;

	while (p < end) {
		n = space_len(p, end);
		if (n == 0)
			last = ++p;
		else
			p += n;
	}
	return last;
}

static bool
text_equal_nocase(const char *p, const char *end, const char *word)
{
	size_t	len = strlen(word);

	return (size_t)(end - p) == len && g_ascii_strncasecmp(p, word,
	    len) == 0;
}

static bool
keyword_find(const char *p, const char *end, enum http_sms_kind *kind)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(sms_keywords); i++) {
		if (text_equal_nocase(p, end, sms_keywords[i].word)) {
			*kind = sms_keywords[i].kind;
			return true;
		}
	}
	return false;
}

/* The digit "1" alone, as pressed on a call, with an optional "." or "!". */
static bool
is_bare_one(const char *p, const char *end)
{
	return text_equal_nocase(p, end, "1") ||
	    text_equal_nocase(p, end, "1.") || text_equal_nocase(p, end, "1!");
}

/* Returns the end of the ack word at p, or NULL when p does not start one. */
static const char *
ack_word_end(const char *p, const char *end)
{
	size_t	i, len;

	for (i = 0; i < G_N_ELEMENTS(ack_words); i++) {
		len = strlen(ack_words[i]);
		if ((size_t)(end - p) >= len &&
		    g_ascii_strncasecmp(p, ack_words[i], len) == 0)
			return p + len;
	}
	return NULL;
}

/*
 * Reads the incident number after the ack word at p ("ACK 1042", "ACK
 * #1042", "ACK: 1042", "ACK (1042)") into *id, and returns where the text
 * after it starts.  Digits there name an incident, never a note, as a bare
 * ack would acknowledge whichever incident pages the member.  Returns p
 * when no number follows, or NULL for 0 or a number too long.
 */
static const char *
incident_number_read(const char *p, const char *end, int64_t *id)
{
	const char	*q;
	size_t		 n = 0;

	*id = 0;
	q = skip_spaces(p, end);
	while (q < end && *q != '\0' && strchr("#:;,.-(", *q) != NULL)
		q = skip_spaces(q + 1, end);
	while (q + n < end && g_ascii_isdigit(q[n]))
		n++;
	if (n == 0)
		return p;
	if (n > INCIDENT_DIGITS_MAX)
		return NULL;
	*id = g_ascii_strtoll(q, NULL, 10);
	return *id > 0 ? q + n : NULL;
}

/*
 * Tells whether the text after the ack word and number may follow an ack:
 * nothing, or a space, ASCII punctuation other than "?" or a non-ASCII
 * character (an emoji) first.  A "?" first makes a question.  A letter
 * first means a longer word such as "acked", or text run into the number
 * such as "1042abc".
 */
static bool
ack_rest_is_valid(const char *p, const char *end)
{
	const char	*q = skip_spaces(p, end);

	if (q < end && *q == '?')
		return false;
	if (p == end || space_len(p, end) > 0 || (unsigned char)*p >= 0x80)
		return true;
	return g_ascii_ispunct(*p);
}

/* Returns the note after an ack, as valid UTF-8, or NULL when empty. */
static char *
ack_note_dup(const char *p, const char *end)
{
	for (;;) {
		p = skip_spaces(p, end);
		if (p == end || strchr(".,!;:-)", *p) == NULL)
			break;
		p++;
	}
	if (p == end)
		return NULL;
	/* Valid UTF-8 is copied as is, and invalid sequences become U+FFFD. */
	return g_utf8_make_valid(p, end - p);
}

static void
ack_parse(const char *p, const char *end, struct http_sms_reply *out)
{
	const char	*rest;
	int64_t		 id;

	rest = ack_word_end(p, end);
	if (rest == NULL)
		return;
	rest = incident_number_read(rest, end, &id);
	if (rest == NULL || !ack_rest_is_valid(rest, end))
		return;
	out->kind = HTTP_SMS_ACK;
	out->incident_id = id;
	out->note = ack_note_dup(rest, end);
}

void
http_sms_reply_parse(const char *body, struct http_sms_reply *out)
{
	const char	*p, *end;

	out->kind = HTTP_SMS_OTHER;
	out->incident_id = 0;
	out->note = NULL;
	if (body == NULL)
		return;
	end = body + strlen(body);
	p = skip_spaces(body, end);
	end = trim_end(p, end);
	if (p == end)
		return;
	if (keyword_find(p, end, &out->kind))
		return;
	if (is_bare_one(p, end)) {
		out->kind = HTTP_SMS_ACK;
		return;
	}
	ack_parse(p, end, out);
}

void
http_sms_reply_fini(struct http_sms_reply *reply)
{
	g_free(reply->note);
	reply->note = NULL;
}
