/* SPDX-License-Identifier: ISC */
/*
 * Signed tokens in the local part of critgate's own Message-IDs.  A reply
 * threads back to our mail through them, and they tell which incident,
 * which recipient and which kind of mail the reply is about.  Layout before
 * encoding: a flags byte (kind, recipient type), varint incident id, varint
 * serial, the member name (length byte, bytes) or a varint reporter index,
 * then the first TOKEN_MAC_LEN bytes of HMAC-SHA256 over all of that.
 */
#include <string.h>

#include <glib.h>

#include "classify.h"

#define TOKEN_VERSION		'1'
#define TOKEN_MAC_LEN		12	/* 96 bits against forged acks */
#define TOKEN_PAYLOAD_MAX	(1 + 10 + 10 + 1 + CLASSIFY_TOKEN_MEMBER_MAX)
#define TOKEN_RAW_MAX		(TOKEN_PAYLOAD_MAX + TOKEN_MAC_LEN)
#define TOKEN_FLAG_REPORTER	0x10
#define TOKEN_KIND_MASK		0x0f

static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

struct token_buf {
	uint8_t	bytes[TOKEN_RAW_MAX];
	size_t	len;
	size_t	pos;	/* read position */
};

static void
put_varint(struct token_buf *b, uint64_t v)
{
	do {
		b->bytes[b->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 :
		    0));
		v >>= 7;
	} while (v != 0);
}

static int
get_varint(struct token_buf *b, size_t end, uint64_t *out)
{
	uint64_t	v = 0;
	unsigned	shift = 0;
	uint8_t		c;

	do {
		if (b->pos >= end || shift > 63)
			return -1;
		c = b->bytes[b->pos++];
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while ((c & 0x80) != 0);
	*out = v;
	return 0;
}

static void
token_mac(const struct classify_settings *settings, const uint8_t *payload,
    size_t len, uint8_t mac[TOKEN_MAC_LEN])
{
	GHmac	*hmac;
	guint8	 digest[32];
	gsize	 digest_len = sizeof(digest);

	hmac = g_hmac_new(G_CHECKSUM_SHA256, settings->token_key,
	    settings->token_key_len);
	g_hmac_update(hmac, (const guchar *)"critgate-token-1", 16);
	g_hmac_update(hmac, payload, len);
	g_hmac_get_digest(hmac, digest, &digest_len);
	g_hmac_unref(hmac);
	memcpy(mac, digest, TOKEN_MAC_LEN);
	explicit_bzero(digest, sizeof(digest));
}

static char *
base32_encode(const uint8_t *in, size_t len)
{
	GString		*s = g_string_new(NULL);
	uint32_t	 acc = 0;
	unsigned	 bits = 0;
	size_t		 i;

	g_string_append_c(s, TOKEN_VERSION);
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			g_string_append_c(s, base32_alphabet[(acc >> bits) &
			    0x1f]);
		}
	}
	if (bits > 0)
		g_string_append_c(s, base32_alphabet[(acc << (5 - bits)) &
		    0x1f]);
	return g_string_free(s, FALSE);
}

static int
base32_value(char c)
{
	c = g_ascii_tolower(c);
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* Decodes text (without the version character) into b; -1 if invalid. */
static int
base32_decode(const char *text, struct token_buf *b)
{
	uint32_t	acc = 0;
	unsigned	bits = 0;
	int		v;

	b->len = 0;
	for (; *text != '\0'; text++) {
		v = base32_value(*text);
		if (v < 0)
			return -1;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits < 8)
			continue;
		bits -= 8;
		if (b->len == sizeof(b->bytes))
			return -1;
		b->bytes[b->len++] = (uint8_t)(acc >> bits);
	}
	/* Leftover bits must be the zero padding the encoder writes. */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return 0;
}

static bool
key_is_usable(const struct classify_settings *settings)
{
	return settings != NULL && settings->token_key != NULL &&
	    settings->token_key_len >= CLASSIFY_TOKEN_KEY_MIN;
}

char *
classify_token_make(const struct classify_settings *settings,
    const struct classify_token *tok)
{
	struct token_buf	b = { .len = 0 };
	size_t			name_len = 0;

	if (!key_is_usable(settings) || tok->incident_id <= 0 ||
	    (unsigned)tok->kind >= CLASSIFY_TOKEN_KIND_COUNT)
		return NULL;
	if (tok->member != NULL) {
		name_len = strlen(tok->member);
		if (name_len == 0 || name_len > CLASSIFY_TOKEN_MEMBER_MAX)
			return NULL;
	}
	b.bytes[b.len++] = (uint8_t)tok->kind |
	    (tok->member == NULL ? TOKEN_FLAG_REPORTER : 0);
	put_varint(&b, (uint64_t)tok->incident_id);
	put_varint(&b, tok->serial);
	if (tok->member != NULL) {
		b.bytes[b.len++] = (uint8_t)name_len;
		memcpy(b.bytes + b.len, tok->member, name_len);
		b.len += name_len;
	} else {
		put_varint(&b, tok->reporter_index);
	}
	token_mac(settings, b.bytes, b.len, b.bytes + b.len);
	b.len += TOKEN_MAC_LEN;
	return base32_encode(b.bytes, b.len);
}

static bool
mac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t	diff = 0;
	size_t	i;

	/* Constant time, so that response timing does not leak the MAC. */
	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Reads the recipient field at b->pos up to end into out. */
static int
read_recipient(struct token_buf *b, size_t end, bool is_reporter,
    struct classify_token *out)
{
	uint64_t	v;
	size_t		name_len;

	if (is_reporter) {
		if (get_varint(b, end, &v) == -1 || v > UINT32_MAX)
			return -1;
		out->reporter_index = (uint32_t)v;
		return b->pos == end ? 0 : -1;
	}
	if (b->pos >= end)
		return -1;
	name_len = b->bytes[b->pos++];
	if (name_len == 0 || name_len > CLASSIFY_TOKEN_MEMBER_MAX ||
	    b->pos + name_len != end ||
	    memchr(b->bytes + b->pos, '\0', name_len) != NULL)
		return -1;
	out->member = g_strndup((const char *)b->bytes + b->pos, name_len);
	b->pos = end;
	return 0;
}

static int
read_payload(struct token_buf *b, size_t end, struct classify_token *out)
{
	uint8_t		flags;
	uint64_t	incident;

	flags = b->bytes[b->pos++];
	if ((flags & ~(TOKEN_KIND_MASK | TOKEN_FLAG_REPORTER)) != 0 ||
	    (flags & TOKEN_KIND_MASK) >= CLASSIFY_TOKEN_KIND_COUNT)
		return -1;
	out->kind = (enum classify_token_kind)(flags & TOKEN_KIND_MASK);
	if (get_varint(b, end, &incident) == -1 || incident == 0 ||
	    incident > INT64_MAX)
		return -1;
	out->incident_id = (int64_t)incident;
	if (get_varint(b, end, &out->serial) == -1)
		return -1;
	return read_recipient(b, end, (flags & TOKEN_FLAG_REPORTER) != 0, out);
}

int
classify_token_verify(const struct classify_settings *settings,
    const char *local, struct classify_token *out)
{
	struct token_buf	b = { .len = 0 };
	uint8_t			mac[TOKEN_MAC_LEN];
	size_t			end;
	int			rc = -1;

	memset(out, 0, sizeof(*out));
	if (!key_is_usable(settings) || local == NULL ||
	    local[0] != TOKEN_VERSION)
		goto out;
	if (base32_decode(local + 1, &b) == -1 || b.len < TOKEN_MAC_LEN + 4)
		goto out;
	end = b.len - TOKEN_MAC_LEN;
	token_mac(settings, b.bytes, end, mac);
	if (!mac_equal(mac, b.bytes + end, TOKEN_MAC_LEN))
		goto out;
	b.pos = 0;
	if (read_payload(&b, end, out) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		classify_token_fini(out);
	return rc;
}

int
classify_token_from_message_id(const struct classify_settings *settings,
    const char *message_id, struct classify_token *out)
{
	const char	*at;
	char		*local = NULL;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	if (settings == NULL || settings->domain == NULL || message_id == NULL)
		goto out;
	at = strrchr(message_id, '@');
	if (at == NULL || g_ascii_strncasecmp(at + 1, "gw.", 3) != 0 ||
	    g_ascii_strcasecmp(at + 4, settings->domain) != 0)
		goto out;
	local = g_strndup(message_id, (gsize)(at - message_id));
	if (classify_token_verify(settings, local, out) == -1)
		goto out;
	rc = 0;
out:
	g_free(local);
	return rc;
}

void
classify_token_fini(struct classify_token *tok)
{
	g_clear_pointer(&tok->member, g_free);
	tok->incident_id = 0;
	tok->reporter_index = 0;
	tok->serial = 0;
}
