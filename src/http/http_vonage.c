/* SPDX-License-Identifier: ISC */
/*
 * Checks the signatures of Vonage's webhooks: the "sig" parameter of SMS
 * webhooks (md5hash or an HMAC over the sorted parameters, with a signed
 * timestamp), and the HS256 JWT that signs Voice webhooks, whose
 * payload_hash covers the raw body.  The daemon passes the time.
 */

#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "http.h"

#define JWT_HEADER_MAX	1024	/* bytes of a decoded JWT part */
#define JWT_CLAIMS_MAX	4096

static const struct {
	const char			*name;
	enum http_vonage_sig_method	 method;
	GChecksumType			 checksum;
} sig_methods[] = {
	{ "md5hash", HTTP_VONAGE_MD5HASH, G_CHECKSUM_MD5 },
	{ "md5", HTTP_VONAGE_HMAC_MD5, G_CHECKSUM_MD5 },
	{ "sha1", HTTP_VONAGE_HMAC_SHA1, G_CHECKSUM_SHA1 },
	{ "sha256", HTTP_VONAGE_HMAC_SHA256, G_CHECKSUM_SHA256 },
	{ "sha512", HTTP_VONAGE_HMAC_SHA512, G_CHECKSUM_SHA512 },
};

static const char *const verdict_names[] = {
	[HTTP_VONAGE_VALID] = "valid",
	[HTTP_VONAGE_UNSIGNED] = "unsigned",
	[HTTP_VONAGE_MALFORMED] = "malformed",
	[HTTP_VONAGE_BAD_SIGNATURE] = "bad signature",
	[HTTP_VONAGE_STALE] = "stale",
	[HTTP_VONAGE_BAD_CLAIMS] = "bad claims",
	[HTTP_VONAGE_BAD_BODY] = "bad body hash",
};

int
http_vonage_sig_method_parse(const char *name,
    enum http_vonage_sig_method *out)
{
	size_t	 i;

	for (i = 0; i < G_N_ELEMENTS(sig_methods); i++) {
		if (strcmp(sig_methods[i].name, name) == 0) {
			*out = sig_methods[i].method;
			return 0;
		}
	}
	return -1;
}

const char *
http_vonage_verdict_name(enum http_vonage_verdict verdict)
{
	if ((unsigned)verdict >= G_N_ELEMENTS(verdict_names))
		return "unknown";
	return verdict_names[verdict];
}

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

/* Returns "&name=value..." over form without "sig", as Vonage signs it. */
static char *
sms_signing_string(const struct http_form *form)
{
	const struct http_param	**sorted;
	GString			 *s;
	size_t			  i, n = form->n_params;
	char			 *value;

	sorted = g_new(const struct http_param *, n + 1);
	for (i = 0; i < n; i++)
		sorted[i] = &form->params[i];
	qsort(sorted, n, sizeof(*sorted), param_compare);
	s = g_string_new(NULL);
	for (i = 0; i < n; i++) {
		if (strcmp(sorted[i]->name, "sig") == 0)
			continue;
		value = g_strdup(sorted[i]->value);
		g_strdelimit(value, "&=", '_');
		g_string_append_printf(s, "&%s=%s", sorted[i]->name, value);
		g_free(value);
	}
	g_free(sorted);
	return g_string_free(s, FALSE);
}

char *
http_vonage_sms_signature(enum http_vonage_sig_method method,
    const char *secret, const struct http_form *form)
{
	char		*text, *salted, *hex;
	GChecksumType	 type = G_CHECKSUM_MD5;
	size_t		 i;

	for (i = 0; i < G_N_ELEMENTS(sig_methods); i++) {
		if (sig_methods[i].method == method)
			type = sig_methods[i].checksum;
	}
	text = sms_signing_string(form);
	if (method == HTTP_VONAGE_MD5HASH) {
		salted = g_strconcat(text, secret, NULL);
		hex = g_compute_checksum_for_string(G_CHECKSUM_MD5, salted, -1);
		explicit_bzero(salted, strlen(salted));
		g_free(salted);
	} else {
		hex = g_compute_hmac_for_string(type, (const guchar *)secret,
		    strlen(secret), text, -1);
		for (i = 0; hex[i] != '\0'; i++)
			hex[i] = g_ascii_toupper(hex[i]);
	}
	g_free(text);
	return hex;
}

/*
 * Compares two strings, ASCII case-insensitively when is_caseless, without
 * a data-dependent early exit.
 */
static bool
str_equal_const_time(const char *a, const char *b, bool is_caseless)
{
	size_t		len = strlen(a), i;
	unsigned char	diff = 0;

	if (len != strlen(b))
		return false;
	for (i = 0; i < len; i++) {
		if (is_caseless)
			diff |= (unsigned char)(g_ascii_tolower(a[i]) ^
			    g_ascii_tolower(b[i]));
		else
			diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	}
	return diff == 0;
}

/* Tells whether t_s is within HTTP_VONAGE_SKEW_S of now_s. */
static bool
time_is_fresh(int64_t t_s, int64_t now_s)
{
	return t_s >= now_s - HTTP_VONAGE_SKEW_S &&
	    t_s <= now_s + HTTP_VONAGE_SKEW_S;
}

enum http_vonage_verdict
http_vonage_sms_check(const struct http_vonage_keys *keys,
    const struct http_form *form, int64_t now_s)
{
	const char	*sig, *timestamp;
	char		*want;
	gint64		 t_s;
	bool		 is_equal;

	sig = http_form_get(form, "sig");
	if (sig == NULL || *sig == '\0')
		return HTTP_VONAGE_UNSIGNED;
	timestamp = http_form_get(form, "timestamp");
	if (timestamp == NULL || !g_ascii_string_to_signed(timestamp, 10, 0,
	    G_MAXINT64, &t_s, NULL))
		return HTTP_VONAGE_MALFORMED;

	/* The signature is checked first, so a stale answer is authentic. */
	want = http_vonage_sms_signature(keys->sms_method,
	    keys->signature_secret, form);
	is_equal = str_equal_const_time(want, sig, true);
	g_free(want);
	if (!is_equal)
		return HTTP_VONAGE_BAD_SIGNATURE;
	if (!time_is_fresh(t_s, now_s))
		return HTTP_VONAGE_STALE;
	return HTTP_VONAGE_VALID;
}

/* Returns the token after "Bearer " in authorization, or NULL. */
static const char *
bearer_token(const char *authorization)
{
	const char	*p;

	if (authorization == NULL ||
	    g_ascii_strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	for (p = authorization + 7; *p == ' '; p++)
		continue;
	return *p != '\0' ? p : NULL;
}

/*
 * Decodes n characters of base64url (no padding) at s into a string of at
 * most max bytes.  Returns NULL for another alphabet, a bad length or a
 * NUL byte.  Caller frees with g_free.
 */
static char *
base64url_decode(const char *s, size_t n, size_t max)
{
	GString	*b64;
	guchar	*raw;
	gsize	 raw_len;
	size_t	 i;
	char	*out = NULL;

	if (n % 4 == 1 || n > max * 4 / 3 + 4)
		return NULL;
	b64 = g_string_sized_new(n + 3);
	for (i = 0; i < n; i++) {
		if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
			goto out;
		g_string_append_c(b64, s[i] == '-' ? '+' : s[i] == '_' ? '/' :
		    s[i]);
	}
	while (b64->len % 4 != 0)
		g_string_append_c(b64, '=');
	raw = g_base64_decode(b64->str, &raw_len);
	if (memchr(raw, '\0', raw_len) == NULL && raw_len <= max)
		out = g_strndup((const char *)raw, raw_len);
	g_free(raw);
out:
	g_string_free(b64, TRUE);
	return out;
}

static char *
base64url_of_digest(const guint8 *digest, gsize len)
{
	char	*s;
	size_t	 n;

	s = g_base64_encode(digest, len);
	n = strlen(s);
	while (n > 0 && s[n - 1] == '=')
		s[--n] = '\0';
	g_strdelimit(s, "+", '-');
	g_strdelimit(s, "/", '_');
	return s;
}

/* A JWT split in its three parts; pointers into the token. */
struct jwt_parts {
	const char	*header;
	size_t		 header_len;
	const char	*claims;
	size_t		 claims_len;
	const char	*sig;
};

static int
jwt_split(const char *token, struct jwt_parts *out)
{
	const char	*dot1, *dot2;

	dot1 = strchr(token, '.');
	if (dot1 == NULL)
		return -1;
	dot2 = strchr(dot1 + 1, '.');
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return -1;
	out->header = token;
	out->header_len = (size_t)(dot1 - token);
	out->claims = dot1 + 1;
	out->claims_len = (size_t)(dot2 - dot1 - 1);
	out->sig = dot2 + 1;
	return 0;
}

static bool
jwt_signature_is_valid(const char *secret, const char *token,
    const struct jwt_parts *parts)
{
	GHmac	*hmac;
	guint8	 digest[32];
	gsize	 digest_len = sizeof(digest);
	char	*want;
	bool	 is_equal;

	hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret,
	    strlen(secret));
	g_hmac_update(hmac, (const guchar *)token,
	    (gssize)(parts->claims + parts->claims_len - token));
	g_hmac_get_digest(hmac, digest, &digest_len);
	g_hmac_unref(hmac);
	want = base64url_of_digest(digest, digest_len);
	is_equal = str_equal_const_time(want, parts->sig, false);
	g_free(want);
	return is_equal;
}

/* Returns the object in a decoded JWT part, or NULL; unref the parser. */
static JsonObject *
jwt_part_object(JsonParser *parser, const char *s, size_t n, size_t max)
{
	JsonNode	*root;
	char		*json;
	bool		 is_loaded;

	json = base64url_decode(s, n, max);
	if (json == NULL)
		return NULL;
	is_loaded = json_parser_load_from_data(parser, json, -1, NULL);
	g_free(json);
	if (!is_loaded)
		return NULL;
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	return json_node_get_object(root);
}

/* Returns the string member name of obj, or NULL if absent or not one. */
static const char *
string_member(JsonObject *obj, const char *name)
{
	JsonNode	*node;

	node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

static bool
member_equals(JsonObject *obj, const char *name, const char *want)
{
	const char	*s;

	s = string_member(obj, name);
	return s != NULL && strcmp(s, want) == 0;
}

static bool
jwt_alg_is_hs256(JsonParser *parser, const struct jwt_parts *parts)
{
	JsonObject	*header;

	header = jwt_part_object(parser, parts->header, parts->header_len,
	    JWT_HEADER_MAX);
	return header != NULL && member_equals(header, "alg", "HS256");
}

/* Checks payload_hash against body; it may be absent for an empty body. */
static bool
payload_hash_matches(JsonObject *claims, const char *body, size_t len)
{
	const char	*hash;
	char		*want;
	bool		 is_equal;

	hash = string_member(claims, "payload_hash");
	if (hash == NULL)
		return len == 0 && !json_object_has_member(claims,
		    "payload_hash");
	want = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
	    (const guchar *)(body != NULL ? body : ""), len);
	is_equal = str_equal_const_time(want, hash, false);
	g_free(want);
	return is_equal;
}

/* Checks the claims of a token whose signature is valid. */
static enum http_vonage_verdict
jwt_claims_check(const struct http_vonage_keys *keys, JsonObject *claims,
    const char *body, size_t len, int64_t now_s)
{
	JsonNode	*iat;

	iat = json_object_get_member(claims, "iat");
	if (iat == NULL || !JSON_NODE_HOLDS_VALUE(iat) ||
	    json_node_get_value_type(iat) != G_TYPE_INT64)
		return HTTP_VONAGE_MALFORMED;
	if (!member_equals(claims, "iss", "Vonage") ||
	    (keys->api_key != NULL &&
	    !member_equals(claims, "api_key", keys->api_key)))
		return HTTP_VONAGE_BAD_CLAIMS;
	if (!time_is_fresh(json_node_get_int(iat), now_s))
		return HTTP_VONAGE_STALE;
	if (!payload_hash_matches(claims, body, len))
		return HTTP_VONAGE_BAD_BODY;
	return HTTP_VONAGE_VALID;
}

enum http_vonage_verdict
http_vonage_voice_check(const struct http_vonage_keys *keys,
    const char *authorization, const char *body, size_t len, int64_t now_s)
{
	JsonParser		*header_parser, *claims_parser;
	JsonObject		*claims;
	struct jwt_parts	 parts;
	const char		*token;
	enum http_vonage_verdict verdict = HTTP_VONAGE_MALFORMED;

	token = bearer_token(authorization);
	if (token == NULL)
		return HTTP_VONAGE_UNSIGNED;
	if (jwt_split(token, &parts) == -1)
		return HTTP_VONAGE_MALFORMED;
	header_parser = json_parser_new();
	claims_parser = json_parser_new();

	/* alg "none" or an RSA alg must not pass as an HMAC. */
	if (!jwt_alg_is_hs256(header_parser, &parts)) {
		verdict = HTTP_VONAGE_BAD_CLAIMS;
		goto out;
	}
	if (!jwt_signature_is_valid(keys->signature_secret, token, &parts)) {
		verdict = HTTP_VONAGE_BAD_SIGNATURE;
		goto out;
	}
	claims = jwt_part_object(claims_parser, parts.claims,
	    parts.claims_len, JWT_CLAIMS_MAX);
	if (claims == NULL)
		goto out;
	verdict = jwt_claims_check(keys, claims, body, len, now_s);
out:
	g_object_unref(claims_parser);
	g_object_unref(header_parser);
	return verdict;
}

char *
http_vonage_voice_jti(const char *authorization)
{
	JsonParser		*parser;
	JsonObject		*claims;
	struct jwt_parts	 parts;
	const char		*token;
	char			*jti = NULL;

	token = bearer_token(authorization);
	if (token == NULL || jwt_split(token, &parts) == -1)
		return NULL;
	parser = json_parser_new();
	claims = jwt_part_object(parser, parts.claims, parts.claims_len,
	    JWT_CLAIMS_MAX);
	if (claims != NULL)
		jti = g_strdup(string_member(claims, "jti"));
	g_object_unref(parser);
	return jti;
}
