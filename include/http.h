/* SPDX-License-Identifier: ISC */
/*
 * The http stage: the provider-facing rules of critgate's HTTP listener,
 * as pure functions: form bodies, Twilio's and Vonage's webhook
 * signatures, and the grammar of an engineer's SMS reply.  The daemon runs
 * the listener (libmicrohttpd) and calls these.
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

/* Max seconds between a Vonage webhook's signed time and now. */
#define HTTP_VONAGE_SKEW_S	300

/* Signature method the Vonage account uses for SMS webhooks. */
enum http_vonage_sig_method {
	HTTP_VONAGE_MD5HASH,		/* MD5 of the string then the secret */
	HTTP_VONAGE_HMAC_MD5,
	HTTP_VONAGE_HMAC_SHA1,
	HTTP_VONAGE_HMAC_SHA256,
	HTTP_VONAGE_HMAC_SHA512
};

/* The outcome of a Vonage webhook check. */
enum http_vonage_verdict {
	HTTP_VONAGE_VALID,
	HTTP_VONAGE_UNSIGNED,		/* no sig or no Bearer token */
	HTTP_VONAGE_MALFORMED,		/* unreadable token or timestamp */
	HTTP_VONAGE_BAD_SIGNATURE,
	HTTP_VONAGE_STALE,		/* time more than HTTP_VONAGE_SKEW_S
					 * from now */
	HTTP_VONAGE_BAD_CLAIMS,		/* alg, iss or api_key not ours */
	HTTP_VONAGE_BAD_BODY		/* payload_hash is not the body's */
};

/* Settings the checks need; all borrowed. */
struct http_vonage_keys {
	const char			*signature_secret;
	const char			*api_key;	/* ours */
	enum http_vonage_sig_method	 sms_method;
};

/*
 * Sets *out to the method named by the config value name: "md5hash",
 * "md5", "sha1", "sha256" or "sha512".  Returns 0, or -1 for another name.
 */
int	http_vonage_sig_method_parse(const char *name,
	    enum http_vonage_sig_method *out);

/*
 * Computes the "sig" of an SMS webhook: every parameter of form but "sig",
 * sorted by name in byte order, each "&" and "=" in values replaced by
 * "_", joined as "&name=value..." and hashed: MD5 of the string followed
 * by the secret for md5hash (lower-case hex), else HMAC of the string
 * keyed with the secret (upper-case hex).  Caller frees with g_free.
 */
char	*http_vonage_sms_signature(enum http_vonage_sig_method method,
	    const char *secret, const struct http_form *form);

/*
 * Checks an SMS webhook (inbound message or delivery receipt): the decoded
 * form of a POST body or of a GET query, with its "sig" and "timestamp".
 * The sig is compared case-insensitively in constant time, and timestamp
 * must be within HTTP_VONAGE_SKEW_S of now_s.  Replayed nonces are for the
 * caller to catch.
 */
enum http_vonage_verdict http_vonage_sms_check(
	    const struct http_vonage_keys *keys, const struct http_form *form,
	    int64_t now_s);

/*
 * Checks a Voice webhook: authorization is the Authorization header value
 * (NULL if missing), "Bearer " then an HS256 JWT keyed with the signature
 * secret; body is the raw request body.  The token's alg must be HS256,
 * its iss "Vonage", its api_key ours and its iat within HTTP_VONAGE_SKEW_S
 * of now_s; payload_hash must be the lower-case hex SHA-256 of body, and
 * may only be left out when body is empty.  Replayed jti values are for
 * the caller to catch.
 */
enum http_vonage_verdict http_vonage_voice_check(
	    const struct http_vonage_keys *keys, const char *authorization,
	    const char *body, size_t len, int64_t now_s);

/*
 * Returns the jti claim of the JWT in authorization, for de-duplication
 * after http_vonage_voice_check accepted it, or NULL.  Caller frees with
 * g_free.
 */
char	*http_vonage_voice_jti(const char *authorization);

/* Returns a word naming verdict for logs ("valid", "stale", ...). */
const char	*http_vonage_verdict_name(enum http_vonage_verdict verdict);

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
