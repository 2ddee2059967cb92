/* SPDX-License-Identifier: ISC */
/*
 * A message fetched over IMAP has no SMTP envelope, so the poller derives
 * one from its headers before committing it.  The sender comes from
 * Return-Path.  The recipients come from the delivery and address headers,
 * kept only when routed, so the incident gets the severity of the address
 * the customer wrote to.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "imap.h"
#include "imap_priv.h"

/* Headers read for recipients, the ones the delivering MTA adds first. */
static const char *const rcpt_headers[] = {
	"Delivered-To", "X-Original-To", "To", "Cc",
};

/* Returns the length of the header block, blank line included. */
static size_t
header_block_len(const uint8_t *raw, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len; i++) {
		if (raw[i] != '\n')
			continue;
		if (raw[i + 1] == '\n')
			return i + 2;
		if (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Parses only the header block: the body is not needed here. */
static GMimeObject *
headers_parse(const uint8_t *raw, size_t len)
{
	GMimeStream	*stream;
	GMimeParser	*parser;
	GMimeMessage	*msg;

	stream = g_mime_stream_mem_new_with_buffer((const char *)raw,
	    header_block_len(raw, len));
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg != NULL ? GMIME_OBJECT(msg) : NULL;
}

static void
addresses_collect(InternetAddressList *list, GPtrArray *out)
{
	InternetAddress	*addr;
	const char	*spec;
	int		 i, n;

	n = internet_address_list_length(list);
	for (i = 0; i < n; i++) {
		addr = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(addr)) {
			addresses_collect(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(addr)), out);
			continue;
		}
		spec = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(addr));
		if (spec != NULL && spec[0] != '\0')
			g_ptr_array_add(out, g_ascii_strdown(spec, -1));
	}
}

/* Appends the addresses of a header value to out, lowercase. */
static void
value_addresses(const char *value, GPtrArray *out)
{
	InternetAddressList	*list;

	if (value == NULL)
		return;
	list = internet_address_list_parse(NULL, value);
	if (list == NULL)
		return;
	addresses_collect(list, out);
	g_object_unref(list);
}

static bool
is_rcpt_header(const char *name)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(rcpt_headers); i++)
		if (g_ascii_strcasecmp(name, rcpt_headers[i]) == 0)
			return true;
	return false;
}

static bool
strv_has(GPtrArray *array, const char *s)
{
	guint	i;

	for (i = 0; i < array->len; i++)
		if (strcmp(g_ptr_array_index(array, i), s) == 0)
			return true;
	return false;
}

/* Keeps the routed addresses of every recipient header, each once. */
static void
rcpts_collect(GMimeObject *obj, const struct cfg *cfg, GPtrArray *rcpts)
{
	GMimeHeaderList	*headers = g_mime_object_get_header_list(obj);
	GPtrArray	*found = g_ptr_array_new_with_free_func(g_free);
	GMimeHeader	*header;
	const char	*addr;
	int		 i, n;
	guint		 j;

	n = g_mime_header_list_get_count(headers);
	for (i = 0; i < n; i++) {
		header = g_mime_header_list_get_header_at(headers, i);
		if (is_rcpt_header(g_mime_header_get_name(header)))
			value_addresses(g_mime_header_get_value(header), found);
	}
	for (j = 0; j < found->len; j++) {
		addr = g_ptr_array_index(found, j);
		if (cfg_route_find(cfg, addr) != NULL &&
		    !strv_has(rcpts, addr))
			g_ptr_array_add(rcpts, g_strdup(addr));
	}
	g_ptr_array_free(found, TRUE);
}

/*
 * Returns the envelope sender: the Return-Path address, or "" when it is
 * "<>" (a bounce).  A mailbox without Return-Path does not say the sender
 * was null, and a null sender makes mail automatic, which never pages: so
 * the From address stands in, or the mailbox's own user when From has no
 * address either.
 */
static char *
envelope_sender(GMimeObject *obj, const struct cfg *cfg)
{
	GPtrArray	*found = g_ptr_array_new_with_free_func(g_free);
	const char	*return_path, *from;
	char		*addr;

	return_path = g_mime_object_get_header(obj, "Return-Path");
	if (return_path != NULL) {
		value_addresses(return_path, found);
		addr = g_strdup(found->len > 0 ? g_ptr_array_index(found, 0) :
		    "");
		g_ptr_array_free(found, TRUE);
		return addr;
	}
	from = g_mime_object_get_header(obj, "From");
	value_addresses(from, found);
	addr = g_ascii_strdown(found->len > 0 ? g_ptr_array_index(found, 0) :
	    cfg->imap.user, -1);
	g_ptr_array_free(found, TRUE);
	return addr;
}

void
imap_envelope_init(struct imap_envelope *out, const struct cfg *cfg,
    const uint8_t *raw, size_t len)
{
	GMimeObject	*obj;

	out->rcpts = g_ptr_array_new_with_free_func(g_free);
	obj = headers_parse(raw, len);
	if (obj != NULL) {
		out->mail_from = envelope_sender(obj, cfg);
		rcpts_collect(obj, cfg, out->rcpts);
		g_object_unref(obj);
	} else {
		out->mail_from = g_ascii_strdown(cfg->imap.user, -1);
	}
	/* The mailbox itself was written to, routed or not: the daemon
	 * pages at the highest severity for an unrouted recipient. */
	if (out->rcpts->len == 0)
		g_ptr_array_add(out->rcpts, g_ascii_strdown(cfg->imap.user,
		    -1));
}

void
imap_envelope_fini(struct imap_envelope *env)
{
	g_free(env->mail_from);
	env->mail_from = NULL;
	if (env->rcpts != NULL)
		g_ptr_array_free(env->rcpts, TRUE);
	env->rcpts = NULL;
}
