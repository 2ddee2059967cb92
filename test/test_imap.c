/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the imap stage's envelope: which header addresses become
 * recipients, the fallback to the mailbox's user, Return-Path as the
 * sender, and the key of the mailbox's place in the store.  The poller
 * itself is tested against Dovecot in integration/test_imap.py.
 */
#include <string.h>

#include "imap.h"
#include "parse.h"
#include "tap.h"

static struct cfg_route	routes[] = {
	{ "critical@support.example.com", CFG_SEVERITY_CRITICAL },
	{ "high@support.example.com", CFG_SEVERITY_HIGH },
};

static struct cfg
test_cfg(void)
{
	struct cfg	cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.routes = routes;
	cfg.n_routes = G_N_ELEMENTS(routes);
	cfg.imap.host = "imap.example.com";
	cfg.imap.port = 993;
	cfg.imap.user = "Inbox-User@Example.com";
	cfg.imap.mailbox = "INBOX";
	return cfg;
}

static void
envelope_of(struct imap_envelope *env, const char *text)
{
	struct cfg	cfg = test_cfg();

	imap_envelope_init(env, &cfg, (const uint8_t *)text, strlen(text));
}

static void
envelope_routed_to_kept(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "From: a@customer.example.net\r\n"
	    "To: Support <Critical@Support.Example.com>\r\n"
	    "Cc: someone@else.example.org\r\n"
	    "Subject: down\r\n\r\nbody\r\n");
	CHECK_INT(env.rcpts->len, 1);
	CHECK_STR(g_ptr_array_index(env.rcpts, 0),
	    "critical@support.example.com");
	imap_envelope_fini(&env);
}

static void
envelope_delivery_headers_each_once(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "Delivered-To: high@support.example.com\r\n"
	    "X-Original-To: critical@support.example.com\r\n"
	    "To: critical@support.example.com, high@support.example.com\r\n"
	    "Subject: down\r\n\r\nbody\r\n");
	CHECK_INT(env.rcpts->len, 2);
	CHECK_STR(g_ptr_array_index(env.rcpts, 0), "high@support.example.com");
	CHECK_STR(g_ptr_array_index(env.rcpts, 1),
	    "critical@support.example.com");
	imap_envelope_fini(&env);
}

static void
envelope_group_member_kept(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "To: team: critical@support.example.com, "
	    "x@y.example;\r\n\r\nbody\r\n");
	CHECK_INT(env.rcpts->len, 1);
	CHECK_STR(g_ptr_array_index(env.rcpts, 0),
	    "critical@support.example.com");
	imap_envelope_fini(&env);
}

static void
envelope_unrouted_falls_back_to_user(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "To: other@example.org\r\n"
	    "Cc: more@example.org\r\n\r\nbody\r\n");
	CHECK_INT(env.rcpts->len, 1);
	CHECK_STR(g_ptr_array_index(env.rcpts, 0), "inbox-user@example.com");
	imap_envelope_fini(&env);
}

static void
envelope_return_path_is_sender(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "Return-Path: <Bounce@Customer.Example.net>\r\n"
	    "To: critical@support.example.com\r\n\r\nbody\r\n");
	CHECK_STR(env.mail_from, "bounce@customer.example.net");
	imap_envelope_fini(&env);
}

static void
envelope_null_return_path_empty(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "Return-Path: <>\r\n"
	    "To: critical@support.example.com\r\n\r\nbody\r\n");
	CHECK_STR(env.mail_from, "");
	imap_envelope_fini(&env);
}

static void
envelope_without_return_path_uses_from(void)
{
	struct imap_envelope	env;

	/* A missing Return-Path is not a null sender: that would make the
	 * customer's mail automatic, and automatic mail never pages. */
	envelope_of(&env, "From: Dana <Dana@Customer.example.net>\r\n"
	    "To: critical@support.example.com\r\n\r\nbody\r\n");
	CHECK_STR(env.mail_from, "dana@customer.example.net");
	imap_envelope_fini(&env);
}

static void
envelope_no_headers_falls_back(void)
{
	struct imap_envelope	env;

	envelope_of(&env, "\x01\x02 not a message at all");
	CHECK_STR(env.mail_from, "inbox-user@example.com");
	CHECK_INT(env.rcpts->len, 1);
	CHECK_STR(g_ptr_array_index(env.rcpts, 0), "inbox-user@example.com");
	imap_envelope_fini(&env);
}

static void
envelope_body_addresses_ignored(void)
{
	struct imap_envelope	env;

	/* LF line ends; the To: line below the blank line is body text. */
	envelope_of(&env, "Subject: fwd\n\nTo: critical@support.example.com\n");
	CHECK_INT(env.rcpts->len, 1);
	CHECK_STR(g_ptr_array_index(env.rcpts, 0), "inbox-user@example.com");
	imap_envelope_fini(&env);
}

static void
mailbox_key_names_user_host_port_mailbox(void)
{
	struct cfg	 cfg = test_cfg();
	char		*key = imap_mailbox_key(&cfg.imap);

	CHECK_STR(key, "Inbox-User@Example.com@imap.example.com:993/INBOX");
	g_free(key);
}

int
main(void)
{
	parse_init();
	TAP_RUN(envelope_routed_to_kept);
	TAP_RUN(envelope_delivery_headers_each_once);
	TAP_RUN(envelope_group_member_kept);
	TAP_RUN(envelope_unrouted_falls_back_to_user);
	TAP_RUN(envelope_return_path_is_sender);
	TAP_RUN(envelope_null_return_path_empty);
	TAP_RUN(envelope_without_return_path_uses_from);
	TAP_RUN(envelope_no_headers_falls_back);
	TAP_RUN(envelope_body_addresses_ignored);
	TAP_RUN(mailbox_key_names_user_host_port_mailbox);
	return tap_done();
}
