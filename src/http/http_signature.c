/* SPDX-License-Identifier: ISC */
/*
 * Computes and checks X-Twilio-Signature: base64 of HMAC-SHA1, keyed with
 * the account's auth token, over the public URL Twilio requested followed by
 * the sorted form parameters.  The daemon passes the URL built from its
 * configured public URL, never from Host or X-Forwarded-* headers.
 */

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "http.h"

/* Orders parameters by name, then value, in byte order. */
static int
param_compare(const void *a, const void *b)
{
	const struct http_param	*pa = *(const struct http_param *const *)a;
	const struct http_param	*pb = *(const struct http_param *const *)b;
	int			 c;

	c = strcmp(pa->name, pb->name);
	if (c != 0)
		return c;
	return strcmp(pa->value, pb->value);
}

static void
hmac_update_str(GHmac *hmac, const char *s)
{
	g_hmac_update(hmac, (const guchar *)s, (gssize)strlen(s));
}

char *
http_twilio_signature(const char *auth_token, const char *url,
    const struct http_form *form)
{
	const struct http_param	**sorted = NULL;
	GHmac			 *hmac;
	guint8			  digest[20];
	gsize			  digest_len = sizeof(digest);
	size_t			  i, n = form != NULL ? form->n_params : 0;
	char			 *sig;

	hmac = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)auth_token,
	    strlen(auth_token));
	hmac_update_str(hmac, url);
	if (n > 0) {
		sorted = g_new(const struct http_param *, n);
		for (i = 0; i < n; i++)
			sorted[i] = &form->params[i];
		qsort(sorted, n, sizeof(*sorted), param_compare);
	}
	for (i = 0; i < n; i++) {
		/* An exact repeat of the previous pair is signed once. */
		if (i > 0 && param_compare(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		hmac_update_str(hmac, sorted[i]->name);
		hmac_update_str(hmac, sorted[i]->value);
	}
	g_hmac_get_digest(hmac, digest, &digest_len);
	g_hmac_unref(hmac);
	g_free(sorted);
	sig = g_base64_encode(digest, digest_len);
	explicit_bzero(digest, sizeof(digest));
	return sig;
}

/* Compares two strings without a data-dependent early exit. */
static bool
str_equal_const_time(const char *a, const char *b)
{
	size_t		len = strlen(a), i;
	unsigned char	diff = 0;

	if (len != strlen(b))
		return false;
	for (i = 0; i < len; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/*
 * Returns url with its port changed for the second try: an explicit port
 * removed, or ":443" (https) or ":80" (http) added after the host.  Returns
 * NULL when there is no second form: no "scheme://", or no port and a scheme
 * without a default.  Caller frees with g_free.
 */
static char *
url_port_variant(const char *url)
{
	const char	*sep, *auth, *auth_end, *host, *colon;
	const char	*port;

	sep = strstr(url, "://");
	if (sep == NULL)
		return NULL;
	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");

	/* Skip userinfo, and the colons of a bracketed IPv6 host. */
	host = memchr(auth, '@', (size_t)(auth_end - auth));
	host = host != NULL ? host + 1 : auth;
	if (*host == '[')
		host = memchr(host, ']', (size_t)(auth_end - host));
	if (host == NULL)
		return NULL;
	colon = memchr(host, ':', (size_t)(auth_end - host));
	if (colon != NULL)
		return g_strdup_printf("%.*s%s", (int)(colon - url), url,
		    auth_end);
	if (g_ascii_strncasecmp(url, "https://", 8) == 0)
		port = ":443";
	else if (g_ascii_strncasecmp(url, "http://", 7) == 0)
		port = ":80";
	else
		return NULL;
	return g_strdup_printf("%.*s%s%s", (int)(auth_end - url), url, port,
	    auth_end);
}

static bool
signature_matches(const char *auth_token, const char *url,
    const struct http_form *form, const char *signature)
{
	char	*expected;
	bool	 is_equal;

	expected = http_twilio_signature(auth_token, url, form);
	is_equal = str_equal_const_time(expected, signature);
	g_free(expected);
	return is_equal;
}

bool
http_twilio_signature_is_valid(const char *auth_token, const char *url,
    const struct http_form *form, const char *signature)
{
	char	*variant;
	bool	 is_valid;

	if (signature == NULL || signature[0] == '\0')
		return false;
	is_valid = signature_matches(auth_token, url, form, signature);
	variant = url_port_variant(url);
	if (variant != NULL) {
		/* Both forms are always computed, so timing shows neither. */
		if (signature_matches(auth_token, variant, form, signature))
			is_valid = true;
		g_free(variant);
	}
	return is_valid;
}
