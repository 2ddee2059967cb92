/* SPDX-License-Identifier: ISC */
/*
 * The classify stage: decides what a stored message is (a new incident, a
 * duplicate, an update, an acknowledgement, automatic mail, a bounce, our
 * own mail coming back, or rejected) and why.  It is a pure function of the
 * parsed message, its envelope, the settings and a table of store lookups
 * that the caller implements.  It reads no clock and opens no file or socket.
 */
#ifndef CRITGATE_CLASSIFY_H
#define CRITGATE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "parse.h"

/* Header that critgate puts on its outbound mail; seeing it again is a loop. */
#define CLASSIFY_LOOP_HEADER	"X-Critgate-Loop"

/* Maximum length of a member name in a token, in bytes. */
#define CLASSIFY_TOKEN_MEMBER_MAX	32

enum classify_class {
	CLASSIFY_NEW_INCIDENT,
	CLASSIFY_DUPLICATE,
	CLASSIFY_UPDATE,
	CLASSIFY_ACK,
	CLASSIFY_AUTO_REPLY,
	CLASSIFY_BOUNCE,
	CLASSIFY_LOOP,
	CLASSIFY_REJECTED,
	CLASSIFY_CLASS_COUNT
};

/* The kind of outbound mail a token was made for. */
enum classify_token_kind {
	CLASSIFY_TOKEN_PAGE,		/* page mail to one team member */
	CLASSIFY_TOKEN_CONFIRMATION,	/* confirmation to a reporter */
	CLASSIFY_TOKEN_UPDATE,		/* any later mail about the incident */
	CLASSIFY_TOKEN_KIND_COUNT
};

/*
 * Contents of the signed token in the local part of our Message-IDs,
 * "<token@gw.DOMAIN>".  The recipient is a team member (member set) or the
 * reporter with index reporter_index (member NULL).  serial keeps two mails
 * of the same kind to the same recipient apart, e.g. the outbound mail's row
 * id.
 */
struct classify_token {
	enum classify_token_kind	 kind;
	int64_t				 incident_id;	/* > 0 */
	char				*member;
	uint32_t			 reporter_index;
	uint64_t			 serial;
};

/* Settings from the config that cfg does not carry yet; all borrowed. */
struct classify_settings {
	int64_t		 window_ms;	/* dedup.window_minutes */
	int64_t		 storm_window_ms; /* dedup.storm_minutes; 0: off */
	const char	*domain;	/* mail.domain, lowercase */
	const char	*from_addr;	/* mail.from, our sender address */
	const uint8_t	*token_key;	/* contents of mail.token_key_file */
	size_t		 token_key_len;	/* at least CLASSIFY_TOKEN_KEY_MIN */
	const char *const *ack_words;	/* mail.ack_words; NULL: built-in */
};

#define CLASSIFY_TOKEN_KEY_MIN	16

/* The message and its envelope; everything is borrowed. */
struct classify_input {
	const struct parse_result	*parsed;
	const char			*mail_from;	/* "" for MAIL FROM:<> */
	const char *const		*rcpts;	/* envelope recipients */
	size_t				 n_rcpts;
	int64_t				 received_ms;	/* receipt time */
	const uint8_t			*raw;
	size_t				 raw_len;
};

/*
 * Store queries the caller implements.  Each returns 0 when nothing matches.
 * Every callback is required.
 */
struct classify_lookup {
	/* An earlier stored message with that normalised Message-ID. */
	int64_t	(*message_by_message_id)(void *ctx, const char *message_id);
	/* An earlier stored message with that content hash. */
	int64_t	(*message_by_content_hash)(void *ctx, const char *hash);
	/* The incident a stored message belongs to. */
	int64_t	(*incident_of_message)(void *ctx, int64_t msg_id);
	/*
	 * The incident whose thread contains that Message-ID: the ids of its
	 * stored messages and of the mail critgate sent about it.
	 */
	int64_t	(*incident_by_message_id)(void *ctx, const char *message_id);
	/*
	 * An open incident with a message of that fingerprint received at or
	 * after since_ms.
	 */
	int64_t	(*incident_by_fingerprint)(void *ctx, const char *fingerprint,
		    int64_t since_ms);
	/*
	 * An open incident with a message whose sender address (compared
	 * without case) is addr, received at or after since_ms.
	 */
	int64_t	(*incident_by_sender)(void *ctx, const char *addr,
		    int64_t since_ms);
	/*
	 * An open incident opened at or after since_ms whose first message
	 * has that outage key (classify_result.subject_key), from any
	 * sender.  May be NULL: the step that uses it is then skipped.
	 */
	int64_t	(*incident_by_subject_key)(void *ctx, const char *key,
		    int64_t since_ms);
	/*
	 * Tells whether a message of the incident came from addr (compared
	 * without case).  May be NULL: then only open incidents take
	 * replies and tagged mail.
	 */
	bool	(*incident_has_sender)(void *ctx, int64_t incident_id,
		    const char *addr);
	/* Tells whether the incident exists and, if so, whether it is open. */
	bool	(*incident_exists)(void *ctx, int64_t incident_id,
		    bool *is_open);
	/*
	 * The incident of the latest mail critgate sent to addr (compared
	 * without case) from since_ms to until_ms.  May be NULL: the step
	 * that uses it is then skipped.
	 */
	int64_t	(*incident_mailed_to)(void *ctx, const char *addr,
		    int64_t since_ms, int64_t until_ms);
	/*
	 * The latest incident of that severity opened at or after since_ms,
	 * from any sender, when it is not acknowledged.  May be NULL: the
	 * step that uses it is then skipped.
	 */
	int64_t	(*incident_unacked_since)(void *ctx,
		    enum cfg_severity severity, int64_t since_ms);
};

/* How long after our mail to an address its mail counts as an echo. */
#define CLASSIFY_ECHO_WINDOW_MS	120000

struct classify_result {
	enum classify_class	 class;
	enum cfg_severity	 severity;	/* highest routed recipient */
	bool			 is_routed;	/* a recipient has a route, so
					 * severity comes from one */
	int64_t			 incident_id;	/* 0 when none */
	int64_t			 duplicate_of;	/* message id, or 0 */
	char			*reason;	/* short phrase, never NULL */
	char			*fingerprint;	/* of sender and subject key */
	char			*subject_key;	/* normalised, case-folded
					 * subject that other senders' mail
					 * about one outage matches; NULL
					 * when too generic */
	char			*content_hash;	/* never NULL */
	/* The normalised subject, the latest one for the incident on a
	 * repeat. */
	char			*subject;
	char			*ack_member;	/* for CLASSIFY_ACK */
	bool			 is_resolve;	/* CLASSIFY_ACK that resolves */
	char			*bounce_recipient; /* Final-Recipient */
	char			*bounce_status;	/* Status, e.g. 5.1.1 */
	bool			 is_repeat;	/* joined by fingerprint */
	/* Joined by a guessable number or a forwarded token only: the
	 * sender is no reporter and is told nothing about the incident. */
	bool			 is_not_reporter;
	/* A reply to mail critgate sent, with its token: it came to
	 * mail.from, not to the route a sender chose. */
	bool			 is_reply_to_us;
};

/*
 * Classifies one message.  Fills out (release with classify_result_fini),
 * calling the lookups with ctx; reads no clock.  Returns 0, or -1 when
 * in->parsed or a lookup callback is missing, in which case out has class
 * CLASSIFY_REJECTED.  For CLASSIFY_DUPLICATE, severity is that of this
 * delivery's recipients, so that the caller can raise the incident when the
 * same message reaches a higher route a second time.
 */
int		 classify_message(const struct cfg *cfg,
		    const struct classify_settings *settings,
		    const struct classify_input *in,
		    const struct classify_lookup *lookup, void *ctx,
		    struct classify_result *out);

void		 classify_result_fini(struct classify_result *result);

/* Returns "new-incident", "duplicate", "update", "ack", ... or "unknown". */
const char	*classify_class_name(enum classify_class class);

/*
 * Makes the local part of a Message-ID for tok: a version character '1'
 * followed by lowercase base32 (RFC 4648, no padding) of the fields and a
 * truncated HMAC-SHA256 over them.  Returns a new string (caller frees with
 * g_free), or NULL when the key is shorter than CLASSIFY_TOKEN_KEY_MIN, the
 * incident id is not positive or the member name is empty or too long.
 */
char		*classify_token_make(const struct classify_settings *settings,
		    const struct classify_token *tok);

/*
 * Verifies a local part made by classify_token_make (case is ignored) and
 * fills out (release with classify_token_fini).  Returns 0, or -1 when it is
 * not a token, is damaged or was signed with another key.
 */
int		 classify_token_verify(const struct classify_settings *settings,
		    const char *local, struct classify_token *out);

/*
 * Like classify_token_verify for a whole normalised Message-ID, which must
 * end in "@gw." followed by the settings' domain.
 */
int		 classify_token_from_message_id(
		    const struct classify_settings *settings,
		    const char *message_id, struct classify_token *out);

void		 classify_token_fini(struct classify_token *tok);

/*
 * Strips reply and forward prefixes in the common languages ("Re:", "AW:",
 * "SV:", "Fwd:", "Re[2]:", ...) and our incident tag "[#N]" from the front
 * of subject, also behind another bracketed tag, and collapses whitespace.
 * Returns a new string (caller frees with g_free).
 */
char		*classify_subject_normalise(const char *subject);

/*
 * Returns the subject key used for fingerprints: the normalised subject,
 * case-folded, with numbers, percentages, times, dates and hex ids replaced
 * by '#'.  Digits inside a word ("eu-west-1", "md0", "5xx") are kept.
 * Caller frees with g_free.
 */
char		*classify_subject_key(const char *subject);

/* Finds "[#N]" anywhere in subject; returns N, or 0 when there is none. */
int64_t		 classify_subject_incident_tag(const char *subject);

/*
 * Returns the fingerprint of a sender address and a subject: lowercase hex
 * SHA-256 over the address (lowercased) and classify_subject_key(subject).
 * Caller frees with g_free.
 */
char		*classify_fingerprint(const char *sender, const char *subject);

/*
 * Returns the content hash of a parsed message, hex SHA-256 over sender,
 * Date, subject, To, Cc and body text, so that the same message fetched or
 * delivered again matches even though its trace headers differ.  Caller
 * frees with g_free.
 */
char		*classify_content_hash(const struct parse_result *parsed);

/*
 * Tells whether the first line of text that is neither blank nor quoted
 * ("> ...") starts with one of words (lowercase; NULL or empty for the
 * built-in list: "ack", "on it", "taking it", "übernehme", "1", ...);
 * *word is set to the entry (borrowed).  A line that resolves is none.
 */
bool		 classify_is_ack_text(const char *text,
		    const char *const *words, const char **word);

/* Tells whether that same line starts with "resolve" or "resolved". */
bool		 classify_is_resolve_text(const char *text);

#endif
