/* SPDX-License-Identifier: ISC */
/*
 * The http stage: the provider-facing rules of critgate's HTTP listener,
 * as pure functions: form bodies, Twilio's request signatures, and the
 * grammar of an engineer's SMS reply.  The daemon runs the listener
 * (libmicrohttpd) and calls these.
 */
#ifndef CRITGATE_HTTP_H
#define CRITGATE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_BODY_MAX	(64 * 1024)	/* bytes of webhook body accepted */

struct http_param {
	char	*name;		/* decoded */
	char	*value;		/* decoded, may be "" */
};

/* Parameters in the order they arrived, repeats kept. */
struct http_form {
	struct http_param	*params;
	size_t			 n_params;
};

/*
 * Decodes an application/x-www-form-urlencoded body ("+" is a space, %XX a
 * byte).  Returns 0, or -1 for a malformed escape or a NUL byte, leaving
 * out empty.  out is released with http_form_fini.
 */
int		 http_form_parse(const char *body, size_t len,
		    struct http_form *out);
void		 http_form_fini(struct http_form *form);

/* Returns the first value of name (borrowed from form), or NULL. */
const char	*http_form_get(const struct http_form *form, const char *name);

/*
 * Computes X-Twilio-Signature for url and form (NULL for a GET): base64 of
 * HMAC-SHA1 keyed with auth_token over url followed by each name and value,
 * sorted by name then value, exact duplicate pairs dropped.  Caller frees
 * with g_free.
 */
char	*http_twilio_signature(const char *auth_token, const char *url,
	    const struct http_form *form);

/*
 * Tells whether signature (the header value, NULL if missing) is valid for
 * url and form, compared in constant time.  Also tries url with its default
 * port added or its explicit port removed, as Twilio is not consistent.
 */
bool	http_twilio_signature_is_valid(const char *auth_token,
	    const char *url, const struct http_form *form,
	    const char *signature);

enum http_sms_kind {
	HTTP_SMS_ACK,		/* an acknowledgement */
	HTTP_SMS_OPT_OUT,	/* STOP and its synonyms */
	HTTP_SMS_OPT_IN,	/* START and its synonyms */
	HTTP_SMS_HELP,		/* HELP, INFO */
	HTTP_SMS_OTHER		/* anything else: never an acknowledgement */
};

struct http_sms_reply {
	enum http_sms_kind	 kind;
	int64_t			 incident_id;	/* 0 when none was named */
	char			*note;		/* text after the ack or NULL */
};

/*
 * Reads an engineer's SMS reply (UTF-8, borrowed).  Acknowledgements: "ACK",
 * "Acknowledged" or "1", case-insensitive, surrounded by any spaces, with an
 * optional incident number ("ACK 1042", "ACK #1042", "ACK1042") and an
 * optional note after punctuation or a space.  A word that only contains
 * "ack", a question ("Ack?") or any other digit string is not one.
 * out is released with http_sms_reply_fini.
 */
void	http_sms_reply_parse(const char *body, struct http_sms_reply *out);
void	http_sms_reply_fini(struct http_sms_reply *reply);

#endif
