/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the files of the parse stage: lenient charset and
 * transfer decoding (parse_decode.c), HTML reduction (parse_html.c) and the
 * body search (parse_body.c).  Every decoder records the fallbacks it
 * applies in a list of short phrases, the fallbacks of struct parse_result.
 */
#ifndef CRITGATE_PARSE_PRIV_H
#define CRITGATE_PARSE_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "parse.h"

#define PARSE_CHARSET_NAME_MAX	64
#define PARSE_PART_BYTES_MAX	(16 * PARSE_BODY_TEXT_MAX) /* read per part */

/* Appends a phrase to fallbacks unless the list already contains it. */
void	parse_fallback_add(GPtrArray *fallbacks, const char *format, ...)
	    G_GNUC_PRINTF(2, 3);

/* Copies label into buf with every byte outside printable ASCII as '?'. */
void	parse_label_clean(const char *label, char *buf, size_t size);

/*
 * Appends s, in charset, to out as UTF-8.  Labels iconv does not know are
 * mapped first; text that still cannot be converted is read as UTF-8 or
 * windows-1252, so no byte is dropped.  NULL charset means unlabelled.
 */
void	parse_charset_append(GString *out, const char *charset, const char *s,
	    size_t len, GPtrArray *fallbacks);

/*
 * Tells whether s is already the UTF-8 text parse_charset_append would
 * make of it, with no fallback: ASCII without NUL bytes or ISO-2022-JP
 * escapes, labelled UTF-8, ASCII or nothing.
 */
bool	parse_charset_is_verbatim(const char *charset, const char *s,
	    size_t len);

/* Decodes a raw header value (RFC 2047 encoded-words, raw 8-bit) to UTF-8. */
char	*parse_header_decode(const char *raw, GPtrArray *fallbacks);

/*
 * Decodes base64 leniently into out: bytes outside the alphabet are
 * skipped and padding in the middle (joined chunks) restarts decoding.
 * Returns the number of bytes skipped.
 */
size_t	parse_base64_decode(const char *s, size_t len, GByteArray *out);

/* Tells whether s, labelled base64, is too far from base64 to decode. */
bool	parse_base64_is_text(const char *s, size_t len);

/*
 * Decodes quoted-printable leniently into out: a broken escape is kept
 * as it stands and a soft break may carry trailing blanks.  Returns the
 * number of broken escapes.
 */
size_t	parse_qp_decode(const char *s, size_t len, GByteArray *out);

/* Returns a valid UTF-8 copy of the text in out, freeing out. */
char	*parse_gstring_free_valid(GString *out);

/* Collapses each run of whitespace and controls into one space; trims. */
void	parse_whitespace_collapse(char *s);

/* Turns CRLF and lone CR into LF, in place. */
void	parse_newlines_normalise(char *s);

/* Reduces an HTML document (UTF-8) to plain text. */
char	*parse_html_to_text(const char *html);

/* Returns the body summary of msg and records its fallbacks in out. */
char	*parse_body_extract(GMimeMessage *msg, struct parse_result *out);

#endif
