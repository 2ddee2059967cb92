/* SPDX-License-Identifier: ISC */
/*
 * The mailout stage: turns the description of one outbound mail (a page to
 * a team member, a confirmation to the reporter, a status update, ...) into
 * the RFC 5322 bytes handed to the SMTP relay.  It renders the template of
 * the mail's kind and builds the message with GMime.  It reads no clock and
 * opens no socket; only mailout_templates_load reads files.
 */
#ifndef CRITGATE_MAILOUT_H
#define CRITGATE_MAILOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Largest template file accepted, in bytes. */
#define MAILOUT_TEMPLATE_MAX	(64 * 1024)

/*
 * Maximum address length in bytes: RFC 5321 4.5.3.1.3 allows 256 octets
 * for a path, angle brackets included.
 */
#define MAILOUT_ADDR_MAX	254

/* Maximum Message-ID length in bytes, without angle brackets. */
#define MAILOUT_MSGID_MAX	250

/*
 * Maximum number of ids kept in References: the first id and the last
 * MAILOUT_REFERENCES_MAX - 1, so that a long thread keeps its root.
 */
#define MAILOUT_REFERENCES_MAX	11

enum mailout_kind {
	MAILOUT_PAGE,		/* to one team member when an incident opens */
	MAILOUT_CONFIRMATION,	/* to the reporter of a new incident */
	MAILOUT_JOINED,		/* to a sender whose mail joined an incident */
	MAILOUT_ACKNOWLEDGED,	/* to the reporter once a member took it */
	MAILOUT_RESOLVED,	/* to the reporter once it is resolved */
	MAILOUT_STATUS,		/* a status update written by the team */
	MAILOUT_FIX_OVERDUE,	/* to the team once a promised fix is late */
	MAILOUT_UPDATE,		/* to who took it, when a reporter writes */
	MAILOUT_KIND_COUNT
};

/*
 * Returns "page", "confirmation", "joined", "acknowledged", "resolved",
 * "status", "fix_overdue" or "update", which is also the stem of the
 * kind's template file, or "unknown" for a value out of range.
 */
const char	*mailout_kind_name(enum mailout_kind kind);

/* Sets *out to the kind called name; returns 0, or -1 when none is. */
int		 mailout_kind_from_name(const char *name,
		    enum mailout_kind *out);

/* The templates of every kind, loaded and checked. */
struct mailout_templates;

/*
 * Loads "<kind>.txt" for every kind from dir.  A template file is UTF-8 of
 * at most MAILOUT_TEMPLATE_MAX bytes: a line "Subject: ...", a blank line,
 * then the body.  Both may use the placeholders {{incident}},
 * {{severity}}, {{subject}}, {{reporter}}, {{promise}}, {{deadline}},
 * {{member}}, {{acked_by}}, {{text}}, {{ack_how}}, {{analysed}},
 * {{analysed_by}}, {{fix_due}}, {{writer}} and {{state}}.
 * fix_overdue.txt and update.txt may be missing, so that a template
 * folder from an older version still loads.  Such a kind is then not
 * composed.  Returns the templates (caller frees with
 * mailout_templates_free), or NULL with *error set to "FILE:LINE:
 * problem" (caller frees with g_free) for the first problem found.
 * Blocks on file reads.
 */
struct mailout_templates *mailout_templates_load(const char *dir,
		    char **error);

/* Tells whether templates hold a template for kind. */
bool		 mailout_templates_have(
		    const struct mailout_templates *templates,
		    enum mailout_kind kind);

void		 mailout_templates_free(struct mailout_templates *templates);

/* The value of one placeholder; both borrowed. */
struct mailout_var {
	const char	*name;	/* without braces, e.g. "incident" */
	const char	*value;	/* UTF-8 */
};

/*
 * One mail to build; everything is borrowed.  Addresses are bare
 * addr-specs and ids have no angle brackets.
 */
struct mailout_message {
	enum mailout_kind	 kind;
	const char		*from_name;	/* "Critical Support", or NULL */
	const char		*from_addr;
	const char		*to_addr;
	const char		*to_name;	/* or NULL */
	const char		*reply_to;	/* address, or NULL */
	const char		*message_id;	/* "1abc...@gw.example.com" */
	const char		*in_reply_to;	/* or NULL */
	const char *const	*references;	/* oldest first */
	size_t			 n_references;
	int64_t			 date_ms;	/* Date header, in UTC */
	/* Value of the CLASSIFY_LOOP_HEADER header. */
	const char		*loop_value;
	/* Every placeholder the kind's template uses must have a value. */
	const struct mailout_var *vars;
	size_t			 n_vars;
};

/*
 * Renders the template for m->kind and builds the message: From, To,
 * Reply-To, Subject, Date, Message-ID, In-Reply-To, References,
 * Auto-Submitted (RFC 3834), X-Auto-Response-Suppress, the loop header and
 * a text/plain UTF-8 body in 7bit or quoted-printable.  Control characters
 * in values substituted into the Subject become spaces.  Returns the
 * message with CRLF line endings and no line over 998 octets, ready for
 * SMTP DATA before dot-stuffing.  The caller frees it with g_bytes_unref.
 * Returns NULL with *error set (caller frees with g_free) when an address
 * or id is invalid, a placeholder has no value or a variable is unknown.
 */
GBytes		*mailout_compose(const struct mailout_templates *templates,
		    const struct mailout_message *m, char **error);

#endif
