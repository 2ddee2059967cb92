/* SPDX-License-Identifier: ISC */
/*
 * The notify stage: builds the provider requests that page a team member
 * (an SMS and a voice call through the Twilio REST API, or through Vonage's
 * SMS and Voice APIs) and classifies the provider's answers.  Pure
 * functions: the daemon sends the requests with libcurl on its loop and
 * feeds the answers back here.
 */
#ifndef CRITGATE_NOTIFY_H
#define CRITGATE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define NOTIFY_SMS_TEXT_MAX	1600	/* characters Twilio accepts */

enum notify_channel {
	NOTIFY_CHANNEL_VOICE,
	NOTIFY_CHANNEL_SMS,
	NOTIFY_CHANNEL_COUNT
};

/* What one page says and to whom; all strings borrowed. */
struct notify_page {
	int64_t			 incident_id;
	int64_t			 page_id;
	int			 round;		/* 1 for the first round */
	enum cfg_severity	 severity;
	const char		*subject;	/* UTF-8 */
	const char		*to;		/* E.164 */
};

/*
 * Page ids that a Twilio status callback URL names at most ("?pages=5,6"),
 * so that a status names its pages when the daemon stopped before it read
 * the request's sid.  The pages of a larger bundle past these stay
 * unknown.  A Vonage call's event URL names its pages too, and a Vonage
 * SMS names one page, its first, in its client-ref.
 */
#define NOTIFY_STATUS_URL_PAGES	64
/*
 * Pages one request carries at most.  A bundled SMS naming this many
 * incidents stays within NOTIFY_SMS_TEXT_MAX, and a status callback names
 * every one of them.
 */
#define NOTIFY_BUNDLE_MAX	NOTIFY_STATUS_URL_PAGES

/* A POST; every string is owned, released by notify_request_fini. */
struct notify_request {
	char	*url;
	char	*body;		/* in content_type */
	char	*content_type;	/* NULL: application/x-www-form-urlencoded */
	char	*authorization;	/* Authorization header value, or NULL when
				 * the caller adds its own (Twilio Basic) */
};

enum notify_result {
	NOTIFY_OK,		/* accepted; sid is set unless the answer
				 * could not be read */
	NOTIFY_RETRY,		/* transient: 429, 5xx, transport failure */
	NOTIFY_FAILED		/* permanent: this page cannot go out here */
};

/*
 * Reason a provider did not accept a page, for the failover decision.  Only
 * the Vonage readers set it, and the Twilio reader leaves
 * NOTIFY_CAUSE_UNKNOWN.
 */
enum notify_cause {
	NOTIFY_CAUSE_UNKNOWN,
	NOTIFY_CAUSE_NONE,		/* accepted */
	NOTIFY_CAUSE_RATE_LIMIT,	/* retry the same provider later */
	NOTIFY_CAUSE_PROVIDER,		/* provider fault or no answer; a 5xx
					 * may still have been accepted */
	NOTIFY_CAUSE_RECIPIENT,		/* this number cannot take this
					 * channel: try the member's other */
	NOTIFY_CAUSE_ACCOUNT,		/* credentials, credit or sender
					 * settings: alert, fail over */
	NOTIFY_CAUSE_REQUEST		/* our request was invalid (a bug):
					 * fail over */
};

struct notify_response {
	enum notify_result	 result;
	enum notify_cause	 cause;
	long			 http_status;	/* 0 when no answer came */
	int			 error_code;	/* provider's code, 0 if none */
	char			*sid;		/* provider's id, or NULL */
	char			*error_message;	/* or NULL */
	int64_t			 retry_after_ms; /* from Retry-After, or -1 */
};

/*
 * Build the POST that sends an SMS or places a call for page, with status
 * callbacks (and the call's <Gather> action) under cfg->public_url.
 */
void	notify_twilio_sms_request(const struct cfg *cfg,
	    const struct notify_page *page, struct notify_request *out);
void	notify_twilio_call_request(const struct cfg *cfg,
	    const struct notify_page *page, struct notify_request *out);

/*
 * Build one request that pages the same member about the n incidents of
 * pages (all to the same number), on channel; with n 1 it is the request
 * of that page alone.
 */
void	notify_twilio_bundle_request(const struct cfg *cfg,
	    enum notify_channel channel, const struct notify_page *pages,
	    size_t n, struct notify_request *out);

/*
 * Returns the SMS text naming n incidents: every number kept, the
 * subjects cut so that it fits one segment when the numbers allow it
 * (caller frees with g_free).
 */
char	*notify_twilio_bundle_sms_text(const struct notify_page *pages,
	    size_t n);

/*
 * Returns the TwiML of a call about n incidents: says their numbers and
 * gathers one digit that acknowledges all of them (caller frees).
 */
char	*notify_twilio_bundle_twiml(const struct notify_page *pages, size_t n,
	    const char *gather_url);

/* Returns the SMS text for page (caller frees with g_free). */
char	*notify_twilio_sms_text(const struct notify_page *page);

/*
 * Returns the TwiML of the call for page: says the incident and subject and
 * gathers one digit, posted to gather_url (caller frees with g_free).
 */
char	*notify_twilio_twiml(const struct notify_page *page,
	    const char *gather_url);

void	notify_request_fini(struct notify_request *req);

/*
 * Classifies an answer: http_status 0 means no answer (transport failure).
 * body (borrowed, may be NULL) is parsed leniently; retry_after is the
 * Retry-After header value or NULL; now_ms turns an HTTP-date into a delay.
 */
void	notify_twilio_classify(long http_status, const char *body, size_t len,
	    const char *retry_after, int64_t now_ms,
	    struct notify_response *out);

void	notify_response_fini(struct notify_response *resp);

#define NOTIFY_VONAGE_JWT_LIFETIME_S	300	/* exp - iat of our tokens */
#define NOTIFY_VONAGE_SMS_TTL_MS	300000	/* an SMS page older is stale */

/*
 * Vonage account settings, as the config stores them; all borrowed.  from is
 * our number (E.164, with or without "+") or an alphanumeric sender id.
 */
struct notify_vonage_account {
	const char	*sms_base;	/* "https://rest.nexmo.com" */
	const char	*voice_base;	/* "https://api.nexmo.com" */
	const char	*api_key;
	const char	*api_secret;
	const char	*application_id;
	const char	*private_key_pem; /* the application's RSA key */
	const char	*from;
	const char	*public_url;	/* our webhook base, no final "/" */
};

/*
 * Returns the Vonage form of an E.164 number: its 7 to 15 digits without
 * the "+".  Returns NULL when e164 is not "+" then such digits, the first
 * not 0.  Caller frees with g_free.
 */
char	*notify_vonage_number(const char *e164);

/*
 * Returns the E.164 form of a number Vonage sent (msisdn, from, to): "+"
 * before its digits.  The whole number is kept, so callers compare it to
 * the roster as a whole string.  Returns NULL unless msisdn is 7 to 15
 * digits, the first not 0.  Caller frees with g_free.
 */
char	*notify_vonage_msisdn_to_e164(const char *msisdn);

/*
 * Builds the POST to <sms_base>/sms/json that sends page's SMS: a form
 * with the key and secret, digits-only numbers, type=unicode when the text
 * needs UCS-2, client-ref set to page_id, delivery receipts to
 * <public_url>/hooks/vonage/sms/status and ttl NOTIFY_VONAGE_SMS_TTL_MS.
 * Returns 0, or -1 (out left empty) when page->to is not E.164.
 */
int	notify_vonage_sms_request(const struct notify_vonage_account *acct,
	    const struct notify_page *page, struct notify_request *out);
/*
 * Builds the POST that sends text as the reply to a member's SMS: a
 * page's SMS without client-ref and callback.  Returns 0, or -1 (out left
 * empty) when to is not E.164.
 */
int	notify_vonage_reply_request(const struct notify_vonage_account *acct,
	    const char *to, const char *text, struct notify_request *out);

/*
 * Returns the RS256 JWT that authorizes a Voice API request: claims
 * application_id, iat now_s, exp now_s + NOTIFY_VONAGE_JWT_LIFETIME_S and
 * jti, signed with the PEM private key.  jti must be unique per token (a
 * random UUID).  Returns NULL when the key cannot be read or cannot sign.
 * Caller frees with g_free.
 */
char	*notify_vonage_jwt(const char *application_id,
	    const char *private_key_pem, const char *jti, int64_t now_s);

/*
 * Returns the call script (NCCO) for page as compact JSON: says the
 * incident twice, takes one DTMF digit posted to input_url, then says
 * goodbye.  Caller frees with g_free.
 */
char	*notify_vonage_ncco(const struct notify_page *page,
	    const char *input_url);

/*
 * Builds the POST to <voice_base>/v1/calls that calls pages[0].to about
 * pages[0], in JSON with an inline NCCO whose input goes to
 * <public_url>/hooks/vonage/voice/input?page=<incident id>, call events to
 * <public_url>/hooks/vonage/voice/event?pages=<ids of the n pages>, and a
 * Bearer JWT minted at now_s with jti.  Returns 0, or -1 (out left empty)
 * when the number is not E.164 or the key cannot sign (logged).
 */
int	notify_vonage_call_request(const struct notify_vonage_account *acct,
	    const struct notify_page *pages, size_t n, int64_t now_s,
	    const char *jti, struct notify_request *out);

/*
 * Classifies an SMS API response.  Vonage returns 200 with one entry per
 * message part, and the page is sent only when every part has status
 * "0"; sid is then the first part's message-id.  Otherwise the first
 * failed part decides result and cause, and error_code is its status.
 * Other HTTP statuses, a retry_after header and now_ms are read as for
 * Twilio.  body (borrowed, may be NULL) is parsed leniently.
 */
void	notify_vonage_sms_classify(long http_status, const char *body,
	    size_t len, const char *retry_after, int64_t now_ms,
	    struct notify_response *out);

/*
 * Classifies a Voice API response to a create-call request: 201 with the
 * call's uuid as sid, or an error read by HTTP status (400 request, 401
 * and 403 account, 429 rate limit, 5xx provider), its message taken from
 * a problem+json "title"/"detail" or an older "error_title".
 */
void	notify_vonage_call_classify(long http_status, const char *body,
	    size_t len, const char *retry_after, int64_t now_ms,
	    struct notify_response *out);

/* Returns "voice" or "sms". */
const char	*notify_channel_name(enum notify_channel channel);

#endif
