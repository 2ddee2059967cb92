/* SPDX-License-Identifier: ISC */
/*
 * The notify stage: builds the provider requests that page a team member
 * (an SMS and a voice call through the Twilio REST API) and classifies the
 * provider's answers.  Pure functions: the daemon sends the requests with
 * libcurl on its loop and feeds the answers back here.
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

/* A form POST; both strings are owned, released by notify_request_fini. */
struct notify_request {
	char	*url;
	char	*body;		/* application/x-www-form-urlencoded */
};

enum notify_result {
	NOTIFY_OK,		/* accepted; sid is set unless the answer
				 * could not be read */
	NOTIFY_RETRY,		/* transient: 429, 5xx, transport failure */
	NOTIFY_FAILED		/* permanent: this page cannot go out here */
};

struct notify_response {
	enum notify_result	 result;
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

/* Returns "voice" or "sms". */
const char	*notify_channel_name(enum notify_channel channel);

#endif
