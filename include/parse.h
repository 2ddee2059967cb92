/* SPDX-License-Identifier: ISC */
/*
 * The parse stage: reads a stored raw message with GMime and extracts what
 * the rest of critgate needs: decoded subject, sender, Message-ID, date and
 * a plain-text summary of the body.  Never fails to return a result: a
 * message that cannot be parsed still yields one, flagged.
 */
#ifndef CRITGATE_PARSE_H
#define CRITGATE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define PARSE_BODY_TEXT_MAX	(64 * 1024)	/* bytes of summary kept */

struct parse_result {
	char	*subject;	/* UTF-8, unfolded; "(no subject)" if none,
				 * "(unparseable message)" if unparseable */
	char	*from_addr;	/* addr-spec, domain lowercase; NULL if none */
	char	*from_name;	/* display name, UTF-8; NULL if none */
	char	*message_id;	/* no <>, no whitespace, domain lowercase;
				 * NULL if none */
	int64_t	 date_s;	/* Date: as seconds since the epoch, or 0 */
	char	*body_text;	/* UTF-8 plain text, at most
				 * PARSE_BODY_TEXT_MAX bytes; "" if none */
	bool	 is_unparseable;

	/* What classification reads; NULL or empty when absent. */
	char		*in_reply_to;	/* first id, normalised as message_id */
	GPtrArray	*references;	/* char *, normalised ids, oldest first;
					 * never NULL after parse_message */
	char		*auto_submitted; /* Auto-Submitted value, lowercase */
	char		*precedence;	/* Precedence value, lowercase */
	bool		 has_autoreply_header; /* X-Autoreply, X-Autorespond */
	char		*list_id;	/* List-Id value */
	char		*auto_response_suppress; /* X-Auto-Response-Suppress */
	bool		 is_report;	/* top level is multipart/report */
	char		*report_type;	/* its report-type parameter */
	GPtrArray	*to_addrs;	/* char *, To: addr-specs, lowercase */
	GPtrArray	*cc_addrs;	/* char *, Cc: addr-specs, lowercase */
	GPtrArray	*fallbacks;	/* char *, each decoding fallback
					 * applied, as a short phrase ("charset
					 * cp-850 read as CP850"); never NULL
					 * after parse_message */
};

/* Initialises GMime once per process; safe to call again. */
void	parse_init(void);

/*
 * Parses raw (borrowed) into out, which the caller releases with
 * parse_result_fini.  Returns 0, or -1 when the message could not be parsed
 * at all, in which case out is still filled and out->is_unparseable is set.
 */
int	parse_message(const uint8_t *raw, size_t len, struct parse_result *out);

void	parse_result_fini(struct parse_result *result);

/*
 * Normalises a Message-ID header value: unfolds it, drops the angle brackets
 * and whitespace, lowercases the domain part.  Returns a new string (caller
 * frees with g_free) or NULL when value holds no id.
 */
char	*parse_message_id_normalise(const char *value);

#endif
