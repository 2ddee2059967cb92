/* SPDX-License-Identifier: ISC */
/*
 * Tests of the auth stage: the Authentication-Results parser, domain
 * alignment, the trusted relay path and the own SPF and DKIM checks.  DNS
 * answers come from fixed records (a libspf2 zone, a libopendkim key file
 * in a temporary folder), so no test touches the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <opendkim/dkim.h>

#include "auth.h"
#include "tap.h"

#define AUTHSERV_ID	"mx1.example.com"
#define KEY_PEM		"data/auth/dkim_key.pem"
#define KEY_TXT		"data/auth/dkim_key.txt"

static const char *const relays[] = { "192.0.2.25", "2001:db8::25" };

static const struct auth_settings settings = {
	.authserv_id = AUTHSERV_ID,
	.trusted_relays = relays,
	.n_trusted_relays = 2,
	.dns_timeout_s = 5,
};

static const char body[] =
	"From: Alice <alice@example.com>\r\n"
	"To: critical@support.example.org\r\n"
	"Subject: Re: [#42] database down\r\n"
	"Message-ID: <reply-1@example.com>\r\n"
	"\r\n"
	"ACK\r\n";

/* Returns a message with the given headers above body; g_free. */
static char *
message(const char *headers)
{
	return g_strconcat(headers, body, NULL);
}

/* Runs auth_check for a message from peer with envelope sender mail_from. */
static int
check(const struct auth_settings *s, const char *peer, const char *mail_from,
    const char *msg, const struct auth_dns *dns, struct auth_result *out)
{
	struct auth_input	in = {
		.peer_addr = peer,
		.helo = "mail.example.com",
		.mail_from = mail_from,
		.from_addr = "alice@example.com",
		.raw = (const uint8_t *)msg,
		.raw_len = strlen(msg),
	};

	return auth_check(s, &in, dns, out);
}

/* Runs check on a message with one extra header from the trusted relay. */
static void
check_relay_header(const char *header, struct auth_result *out)
{
	char	*msg = message(header);

	CHECK_INT(check(&settings, "192.0.2.25", "alice@example.com", msg,
	    NULL, out), 0);
	CHECK(out->is_trusted_relay);
	g_free(msg);
}

static void
ar_parse_simple_spf_pass(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com; spf=pass "
	    "smtp.mailfrom=alice@example.com", &h), 0);
	CHECK_STR(h.authserv_id, "mx1.example.com");
	CHECK_INT(h.version, 1);
	CHECK_INT(h.n_methods, 1);
	if (h.n_methods == 1) {
		CHECK_STR(h.methods[0].method, "spf");
		CHECK_STR(h.methods[0].result, "pass");
		CHECK_STR(auth_results_prop_find(&h.methods[0], "smtp",
		    "mailfrom"), "alice@example.com");
	}
	auth_results_header_fini(&h);
}

static void
ar_parse_nested_comments_skipped(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com (our (inner) mx);"
	    " (first) spf (method) = (eq) pass (sender (ip \\) ok) ok)"
	    " smtp.mailfrom=example.com (domain only)", &h), 0);
	CHECK_STR(h.authserv_id, "mx1.example.com");
	CHECK_INT(h.n_methods, 1);
	if (h.n_methods == 1) {
		CHECK_STR(h.methods[0].result, "pass");
		CHECK_STR(auth_results_prop_find(&h.methods[0], "smtp",
		    "mailfrom"), "example.com");
	}
	auth_results_header_fini(&h);
}

static void
ar_parse_quoted_values_unquoted(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("\"mx1.example.com\"; dkim=pass "
	    "reason=\"good signature; \\\"ok\\\"\" header.d=\"example.com\" "
	    "header.i=\"alice smith\"@example.com", &h), 0);
	CHECK_STR(h.authserv_id, "mx1.example.com");
	CHECK_INT(h.n_methods, 1);
	if (h.n_methods == 1) {
		CHECK_STR(h.methods[0].reason, "good signature; \"ok\"");
		CHECK_STR(auth_results_prop_find(&h.methods[0], "header",
		    "d"), "example.com");
		CHECK_STR(auth_results_prop_find(&h.methods[0], "header",
		    "i"), "alice smith@example.com");
	}
	auth_results_header_fini(&h);
}

static void
ar_parse_version_read(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com 1; spf=pass "
	    "smtp.mailfrom=example.com", &h), 0);
	CHECK_STR(h.authserv_id, "mx1.example.com");
	CHECK_INT(h.version, 1);
	CHECK_INT(h.n_methods, 1);
	auth_results_header_fini(&h);
	CHECK_INT(auth_results_parse("mx1.example.com (v) 2 (two); none",
	    &h), 0);
	CHECK_INT(h.version, 2);
	auth_results_header_fini(&h);
}

static void
ar_parse_none_has_no_methods(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com; none", &h), 0);
	CHECK_STR(h.authserv_id, "mx1.example.com");
	CHECK_INT(h.n_methods, 0);
	auth_results_header_fini(&h);
	CHECK_INT(auth_results_parse("mx1.example.com 1 ; NONE (nothing)",
	    &h), 0);
	CHECK_INT(h.n_methods, 0);
	auth_results_header_fini(&h);
}

static void
ar_parse_several_methods_read(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com; "
	    "spf=fail smtp.mailfrom=bob@example.net; "
	    "dkim=pass (2048-bit key) header.d=example.com "
	    "header.i=@example.com header.s=sel; "
	    "dmarc=pass header.from=example.com; "
	    "iprev=pass policy.iprev=2001:db8::1; "
	    "x-unknown=whatever", &h), 0);
	CHECK_INT(h.n_methods, 5);
	if (h.n_methods == 5) {
		CHECK_STR(h.methods[0].result, "fail");
		CHECK_STR(h.methods[1].method, "dkim");
		CHECK_INT(h.methods[1].n_props, 3);
		CHECK_STR(auth_results_prop_find(&h.methods[1], "header",
		    "i"), "@example.com");
		CHECK_STR(h.methods[2].method, "dmarc");
		CHECK_STR(auth_results_prop_find(&h.methods[3], "policy",
		    "iprev"), "2001:db8::1");
		CHECK_STR(h.methods[4].method, "x-unknown");
		CHECK_STR(h.methods[4].result, "whatever");
	}
	auth_results_header_fini(&h);
}

static void
ar_parse_names_case_folded(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("MX1.Example.COM; SPF=PASS "
	    "SMTP.MailFrom=Alice@Example.com", &h), 0);
	CHECK_STR(h.authserv_id, "MX1.Example.COM");
	CHECK_INT(h.n_methods, 1);
	if (h.n_methods == 1) {
		CHECK_STR(h.methods[0].method, "spf");
		CHECK_STR(h.methods[0].result, "pass");
		CHECK_STR(h.methods[0].props[0].ptype, "smtp");
		CHECK_STR(h.methods[0].props[0].property, "mailfrom");
		CHECK_STR(auth_results_prop_find(&h.methods[0], "smtp",
		    "MAILFROM"), "Alice@Example.com");
	}
	auth_results_header_fini(&h);
}

static void
ar_parse_folded_value_unfolded(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com;\r\n\tspf=pass\r\n "
	    "smtp.mailfrom=example.com;\n dkim=pass (\r\n\tfolded comment)"
	    " header.d=example.com", &h), 0);
	CHECK_INT(h.n_methods, 2);
	if (h.n_methods == 2) {
		CHECK_STR(auth_results_prop_find(&h.methods[0], "smtp",
		    "mailfrom"), "example.com");
		CHECK_STR(auth_results_prop_find(&h.methods[1], "header",
		    "d"), "example.com");
	}
	auth_results_header_fini(&h);
}

static void
ar_parse_method_version_accepted(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com; dkim/1=pass "
	    "header.d=example.com", &h), 0);
	CHECK_INT(h.n_methods, 1);
	if (h.n_methods == 1)
		CHECK_STR(h.methods[0].method, "dkim");
	auth_results_header_fini(&h);
}

static void
ar_parse_malformed_rejected(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"; spf=pass smtp.mailfrom=example.com",
		"mx1.example.com",
		"mx1.example.com spf=pass",
		"mx1.example.com;",
		"mx1.example.com; spf",
		"mx1.example.com; spf=",
		"mx1.example.com; =pass",
		"mx1.example.com; spf=pass smtp.mailfrom",
		"mx1.example.com; spf=pass smtp.mailfrom=",
		"mx1.example.com; spf=pass nodot=example.com",
		"mx1.example.com; spf=pass (unclosed comment",
		"mx1.example.com; spf=pass smtp.mailfrom=\"unclosed",
		"\"mx1.example.com; none",
		"mx1.example.com; spf=pass smtp.mailfrom=example.com;",
		"mx1.example.com; none; spf=pass",
		"mx1.example.com; spf=pass\r\nsmtp.mailfrom=example.com",
		"mx1.example.com 12345; none",
		"mx1.example.com; spf=pass smtp.mailfrom=a b",
	};
	struct auth_results_header	h;
	size_t				i;
	int				rc;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		rc = auth_results_parse(bad[i], &h);
		if (rc != -1)
			printf("# accepted: \"%s\"\n", bad[i]);
		CHECK_INT(rc, -1);
		auth_results_header_fini(&h);
	}
}

static void
ar_parse_malformed_keeps_authserv_id(void)
{
	struct auth_results_header	h;

	CHECK_INT(auth_results_parse("mx1.example.com; spf=pass (broken",
	    &h), -1);
	CHECK_STR(h.authserv_id, "mx1.example.com");
	auth_results_header_fini(&h);
}

static void
align_equal_ignores_case_and_dot(void)
{
	CHECK(auth_domain_is_aligned("Example.COM.", "example.com"));
	CHECK(auth_domain_is_aligned("example.com", "example.com."));
}

static void
align_subdomain_either_way_aligned(void)
{
	CHECK(auth_domain_is_aligned("mail.example.com", "example.com"));
	CHECK(auth_domain_is_aligned("example.com", "eu.mail.example.com"));
}

static void
align_other_domains_not_aligned(void)
{
	CHECK(!auth_domain_is_aligned("example.net", "example.com"));
	CHECK(!auth_domain_is_aligned("badexample.com", "example.com"));
	CHECK(!auth_domain_is_aligned("com", "example.com"));
	CHECK(!auth_domain_is_aligned("", "example.com"));
	CHECK(!auth_domain_is_aligned(NULL, "example.com"));
}

static void
align_follows_public_suffixes(void)
{
	/* Siblings share their organisational domain. */
	CHECK(auth_domain_is_aligned("eu.example.com", "bounce.example.com"));
	CHECK(auth_domain_is_aligned("mail.example.co.uk", "example.co.uk"));
	/* Under a public suffix of two labels, a domain is its own. */
	CHECK(!auth_domain_is_aligned("shop.co.uk", "bank.co.uk"));
	CHECK(!auth_domain_is_aligned("x.co.uk", "co.uk"));
	/* A public suffix that anyone can register under, not only a
	 * country's. */
	CHECK(!auth_domain_is_aligned("alice.github.io", "mallory.github.io"));
}

static void
align_malformed_domain_refused(void)
{
	CHECK(!auth_domain_is_aligned("evil..example.com", "example.com"));
	CHECK(!auth_domain_is_aligned(".example.com", "example.com"));
	CHECK(!auth_domain_is_aligned("ex ample.com", "example.com"));
	CHECK(!auth_domain_is_aligned("example.com", "example.com.."));
}

static void
relay_spf_pass_aligned_authenticated(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com;\r\n"
	    "\tspf=pass smtp.mailfrom=bounces@mail.example.com\r\n", &r);
	CHECK(r.is_authenticated);
	CHECK_STR(r.method, "spf");
	CHECK_STR(r.reason, "spf=pass for mail.example.com from "
	    "mx1.example.com");
	auth_result_fini(&r);
}

static void
relay_dkim_pass_aligned_authenticated(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com; "
	    "spf=fail smtp.mailfrom=example.net; dkim=pass (good) "
	    "header.d=example.com\r\n", &r);
	CHECK(r.is_authenticated);
	CHECK_STR(r.method, "dkim");
	auth_result_fini(&r);
	check_relay_header("Authentication-Results: mx1.example.com; "
	    "dkim=pass header.i=alice@example.com\r\n", &r);
	CHECK(r.is_authenticated);
	CHECK_STR(r.method, "dkim");
	auth_result_fini(&r);
}

static void
relay_pass_other_domain_not_authenticated(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=mallory@example.net; "
	    "dkim=pass header.d=example.net\r\n", &r);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.method, NULL);
	CHECK_STR(r.reason, "spf=pass for example.net, dkim=pass for "
	    "example.net from mx1.example.com, From domain example.com");
	auth_result_fini(&r);
}

static void
relay_fail_not_authenticated(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com; "
	    "spf=softfail smtp.mailfrom=example.com; "
	    "dkim=fail header.d=example.com; dmarc=pass\r\n", &r);
	CHECK(!r.is_authenticated);
	CHECK_CONTAINS(r.reason, "spf=softfail for example.com");
	CHECK_CONTAINS(r.reason, "dkim=fail for example.com");
	auth_result_fini(&r);
}

static void
relay_topmost_header_wins(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com; "
	    "spf=fail smtp.mailfrom=example.com\r\n"
	    "Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n", &r);
	CHECK(!r.is_authenticated);
	CHECK_CONTAINS(r.reason, "spf=fail");
	auth_result_fini(&r);
	check_relay_header("Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n"
	    "Authentication-Results: mx1.example.com; "
	    "spf=fail smtp.mailfrom=example.com\r\n", &r);
	CHECK(r.is_authenticated);
	auth_result_fini(&r);
}

static void
relay_other_authserv_id_ignored(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx.example.net; "
	    "spf=pass smtp.mailfrom=example.com\r\n", &r);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "no Authentication-Results from "
	    "mx1.example.com");
	auth_result_fini(&r);
	check_relay_header("Authentication-Results: mx.example.net; "
	    "spf=fail smtp.mailfrom=example.com\r\n"
	    "Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n", &r);
	CHECK(r.is_authenticated);
	auth_result_fini(&r);
}

static void
relay_authserv_id_case_ignored(void)
{
	struct auth_result	r;

	check_relay_header("authentication-results : MX1.Example.Com; "
	    "SPF=Pass smtp.mailfrom=example.com\r\n", &r);
	CHECK(r.is_authenticated);
	auth_result_fini(&r);
}

static void
relay_malformed_header_not_authenticated(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com (unclosed\r\n"
	    "Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n", &r);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "malformed Authentication-Results from "
	    "mx1.example.com");
	auth_result_fini(&r);
}

static void
relay_none_not_authenticated(void)
{
	struct auth_result	r;

	check_relay_header("Authentication-Results: mx1.example.com 1; "
	    "none\r\n", &r);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "none from mx1.example.com, From domain "
	    "example.com");
	auth_result_fini(&r);
}

static void
relay_header_in_body_ignored(void)
{
	struct auth_result	r;
	char			*msg;

	msg = g_strconcat(body, "Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n", NULL);
	CHECK_INT(check(&settings, "192.0.2.25", "alice@example.com", msg,
	    NULL, &r), 0);
	CHECK(!r.is_authenticated);
	auth_result_fini(&r);
	g_free(msg);
}

/* Checks that a pass from mx1.example.com counts when it came from peer. */
static void
check_relay_peer(const char *peer, bool is_trusted)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg;

	msg = message("Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n");
	CHECK_INT(check(&settings, peer, "alice@example.com", msg, dns, &r),
	    0);
	if (r.is_trusted_relay != is_trusted)
		printf("# peer %s\n", peer);
	CHECK_INT(r.is_trusted_relay, is_trusted);
	CHECK_INT(r.is_authenticated, is_trusted);
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
relay_addresses_compared_parsed(void)
{
	check_relay_peer("192.0.2.25", true);
	check_relay_peer("::ffff:192.0.2.25", true);
	check_relay_peer("::FFFF:c000:0219", true);
	check_relay_peer("2001:db8::25", true);
	check_relay_peer("2001:DB8:0:0:0:0:0:25", true);
	check_relay_peer("192.0.2.250", false);
	check_relay_peer("192.0.2.2", false);
	check_relay_peer("2001:db8::26", false);
	check_relay_peer("::192.0.2.25", false);
	check_relay_peer("", false);
	check_relay_peer("not-an-address", false);
}

static void
relay_without_authserv_id_untrusted(void)
{
	struct auth_settings	 s = settings;
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg;

	s.authserv_id = NULL;
	auth_dns_add_txt(dns, "example.com", "v=spf1 ip4:192.0.2.25 -all");
	msg = message("Authentication-Results: mx1.example.com; "
	    "spf=fail smtp.mailfrom=example.com\r\n");
	CHECK_INT(check(&s, "192.0.2.25", "alice@example.com", msg, dns, &r),
	    0);
	CHECK(!r.is_trusted_relay);
	CHECK(r.is_authenticated);
	CHECK_STR(r.method, "spf");
	CHECK_STR(r.reason, "spf=pass for example.com");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
untrusted_forged_header_falls_back_to_spf(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg;

	auth_dns_add_txt(dns, "example.com", "v=spf1 ip4:192.0.2.2 -all");
	msg = message("Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com; "
	    "dkim=pass header.d=example.com\r\n");
	CHECK_INT(check(&settings, "192.0.2.3", "alice@example.com", msg,
	    dns, &r), 0);
	CHECK(!r.is_trusted_relay);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "forged Authentication-Results ignored; "
	    "spf=fail for example.com; no DKIM-Signature");
	auth_result_fini(&r);
	CHECK_INT(check(&settings, "192.0.2.2", "alice@example.com", msg,
	    dns, &r), 0);
	CHECK(r.is_authenticated);
	CHECK_STR(r.method, "spf");
	CHECK_STR(r.reason, "forged Authentication-Results ignored; "
	    "spf=pass for example.com");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
untrusted_forged_header_never_read(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg;

	msg = message("Authentication-Results: mx1.example.com; "
	    "spf=pass smtp.mailfrom=example.com\r\n");
	CHECK_INT(check(&settings, "198.51.100.7", "alice@example.com", msg,
	    dns, &r), 0);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "forged Authentication-Results ignored; "
	    "spf=none for example.com; no DKIM-Signature");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
own_spf_empty_mail_from_uses_helo(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg = message("");

	auth_dns_add_txt(dns, "mail.example.com",
	    "v=spf1 ip4:192.0.2.2 -all");
	CHECK_INT(check(&settings, "192.0.2.2", "", msg, dns, &r), 0);
	CHECK(r.is_authenticated);
	CHECK_STR(r.reason, "spf=pass for mail.example.com");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
own_spf_pass_unaligned_not_authenticated(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg = message("");

	auth_dns_add_txt(dns, "example.net", "v=spf1 ip4:192.0.2.2 -all");
	CHECK_INT(check(&settings, "192.0.2.2", "bounce@example.net", msg,
	    dns, &r), 0);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "spf=pass for example.net, not aligned with "
	    "example.com; no DKIM-Signature");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
own_spf_ipv6_peer_checked(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg = message("");

	auth_dns_add_txt(dns, "example.com",
	    "v=spf1 ip6:2001:db8::2 ip4:192.0.2.2 -all");
	CHECK_INT(check(&settings, "2001:db8::2", "alice@example.com", msg,
	    dns, &r), 0);
	CHECK(r.is_authenticated);
	auth_result_fini(&r);
	CHECK_INT(check(&settings, "::ffff:192.0.2.2", "alice@example.com",
	    msg, dns, &r), 0);
	CHECK(r.is_authenticated);
	auth_result_fini(&r);
	CHECK_INT(check(&settings, "2001:db8::3", "alice@example.com", msg,
	    dns, &r), 0);
	CHECK(!r.is_authenticated);
	CHECK_CONTAINS(r.reason, "spf=fail for example.com");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
own_spf_loopback_peer_not_authenticated(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg = message("");

	auth_dns_add_txt(dns, "example.com", "v=spf1 -all");
	CHECK_INT(check(&settings, "127.0.0.3", "alice@example.com", msg,
	    dns, &r), 0);
	CHECK(!r.is_authenticated);
	CHECK_CONTAINS(r.reason, "spf not checked for a loopback peer");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

static void
own_no_peer_address_skips_spf(void)
{
	struct auth_result	 r;
	struct auth_dns		*dns = auth_dns_new();
	char			*msg = message("");

	auth_dns_add_txt(dns, "example.com", "v=spf1 +all");
	CHECK_INT(check(&settings, "", "alice@example.com", msg, dns, &r), 0);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "spf not checked: no peer address; "
	    "no DKIM-Signature");
	auth_result_fini(&r);
	auth_dns_free(dns);
	g_free(msg);
}

/* Returns msg with a DKIM-Signature of domain's key "sel" on top. */
static char *
dkim_sign_message(const char *msg, const char *domain)
{
	DKIM_LIB	*lib = dkim_init(NULL, NULL);
	DKIM		*dkim = NULL;
	DKIM_STAT	 st;
	gchar		*key = NULL;
	unsigned char	*sig = NULL;
	size_t		 sig_len = 0;
	char		*signed_msg = NULL;

	if (lib == NULL || !g_file_get_contents(KEY_PEM, &key, NULL, NULL))
		goto out;
	dkim = dkim_sign(lib, (const unsigned char *)"test", NULL,
	    (dkim_sigkey_t)key, (const unsigned char *)"sel",
	    (const unsigned char *)domain, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
	if (dkim == NULL)
		goto out;
	st = dkim_chunk(dkim, (unsigned char *)msg, strlen(msg));
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(dkim, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(dkim, NULL);
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(dkim, strlen("DKIM-Signature: "), &sig,
		    &sig_len);
	if (st != DKIM_STAT_OK)
		goto out;
	signed_msg = g_strdup_printf("DKIM-Signature: %.*s\r\n%s",
	    (int)sig_len, sig, msg);
out:
	if (st != DKIM_STAT_OK || signed_msg == NULL)
		printf("# signing failed: %s\n", dkim_getresultstr(st));
	if (dkim != NULL)
		dkim_free(dkim);
	if (lib != NULL)
		dkim_close(lib);
	g_free(key);
	return signed_msg;
}

/*
 * Writes a key file in a new temporary folder publishing the test key as
 * "sel" for each domain and sets it on dns.  Returns the folder; g_free.
 */
static char *
dkim_key_publish(struct auth_dns *dns, const char *const *domains,
    size_t n_domains)
{
	GString	*file = g_string_new(NULL);
	gchar	*txt = NULL;
	char	*dir;
	char	*path;
	size_t	 i;

	dir = g_dir_make_tmp("critgate-auth-XXXXXX", NULL);
	CHECK(dir != NULL);
	CHECK(g_file_get_contents(KEY_TXT, &txt, NULL, NULL));
	if (dir == NULL || txt == NULL) {
		g_string_free(file, TRUE);
		g_free(txt);
		return dir;
	}
	g_strchomp(txt);
	for (i = 0; i < n_domains; i++)
		g_string_append_printf(file, "sel._domainkey.%s %s\n",
		    domains[i], txt);
	path = g_build_filename(dir, "keys", NULL);
	CHECK(g_file_set_contents(path, file->str, -1, NULL));
	auth_dns_set_key_file(dns, path);
	g_free(path);
	g_free(txt);
	g_string_free(file, TRUE);
	return dir;
}

static void
dkim_key_unpublish(char *dir)
{
	char	*path;

	if (dir == NULL)
		return;
	path = g_build_filename(dir, "keys", NULL);
	CHECK_INT(g_unlink(path), 0);
	CHECK_INT(g_rmdir(dir), 0);
	g_free(path);
	g_free(dir);
}

/* Runs the own checks on msg from an SPF-less peer with the key file. */
static void
check_dkim(const char *msg, const char *const *key_domains,
    size_t n_key_domains, struct auth_result *out)
{
	struct auth_dns	*dns = auth_dns_new();
	char		*dir;

	dir = dkim_key_publish(dns, key_domains, n_key_domains);
	CHECK_INT(check(&settings, "198.51.100.7", "alice@example.com", msg,
	    dns, out), 0);
	dkim_key_unpublish(dir);
	auth_dns_free(dns);
}

static const char *const example_com[] = { "example.com" };

static void
own_dkim_signed_authenticated(void)
{
	struct auth_result	 r;
	char			*msg = message("");
	char			*signed_msg = dkim_sign_message(msg,
				    "example.com");

	CHECK(signed_msg != NULL);
	if (signed_msg != NULL) {
		check_dkim(signed_msg, example_com, 1, &r);
		CHECK(r.is_authenticated);
		CHECK_STR(r.method, "dkim");
		CHECK_STR(r.reason, "dkim=pass for d=example.com");
		auth_result_fini(&r);
	}
	g_free(signed_msg);
	g_free(msg);
}

static void
own_dkim_bare_lf_message_authenticated(void)
{
	struct auth_result	 r;
	char			*msg = message("");
	char			*signed_msg = dkim_sign_message(msg,
				    "example.com");
	char			*lf_msg = NULL;
	char			**lines;

	CHECK(signed_msg != NULL);
	if (signed_msg != NULL) {
		/* a message spooled with LF line ends, as a pipe delivers */
		lines = g_strsplit(signed_msg, "\r\n", -1);
		lf_msg = g_strjoinv("\n", lines);
		g_strfreev(lines);
		check_dkim(lf_msg, example_com, 1, &r);
		CHECK(r.is_authenticated);
		CHECK_STR(r.method, "dkim");
		auth_result_fini(&r);
	}
	g_free(lf_msg);
	g_free(signed_msg);
	g_free(msg);
}

static void
own_dkim_altered_body_fails(void)
{
	struct auth_result	 r;
	char			*msg = message("");
	char			*signed_msg = dkim_sign_message(msg,
				    "example.com");
	char			*ack;

	CHECK(signed_msg != NULL);
	ack = signed_msg != NULL ? strstr(signed_msg, "\r\n\r\nACK") : NULL;
	CHECK(ack != NULL);
	if (ack != NULL) {
		memcpy(ack + 4, "NAK", 3);
		check_dkim(signed_msg, example_com, 1, &r);
		CHECK(!r.is_authenticated);
		CHECK_CONTAINS(r.reason, "dkim=fail for d=example.com");
		auth_result_fini(&r);
	}
	g_free(signed_msg);
	g_free(msg);
}

static void
own_dkim_unaligned_not_authenticated(void)
{
	static const char *const example_net[] = { "example.net" };
	struct auth_result	 r;
	char			*msg = message("");
	char			*signed_msg = dkim_sign_message(msg,
				    "example.net");

	CHECK(signed_msg != NULL);
	if (signed_msg != NULL) {
		check_dkim(signed_msg, example_net, 1, &r);
		CHECK(!r.is_authenticated);
		CHECK_CONTAINS(r.reason, "dkim=pass for d=example.net not "
		    "aligned with example.com");
		auth_result_fini(&r);
	}
	g_free(signed_msg);
	g_free(msg);
}

static void
own_dkim_missing_key_fails(void)
{
	static const char *const example_org[] = { "example.org" };
	struct auth_result	 r;
	char			*msg = message("");
	char			*signed_msg = dkim_sign_message(msg,
				    "example.com");

	CHECK(signed_msg != NULL);
	if (signed_msg != NULL) {
		check_dkim(signed_msg, example_org, 1, &r);
		CHECK(!r.is_authenticated);
		CHECK_CONTAINS(r.reason, "dkim=fail for d=example.com (key "
		    "not found");
		auth_result_fini(&r);
	}
	g_free(signed_msg);
	g_free(msg);
}

static void
check_missing_input_fails(void)
{
	struct auth_input	in = { .from_addr = "alice@example.com" };
	struct auth_result	r;

	CHECK_INT(auth_check(&settings, &in, NULL, &r), -1);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "missing input");
	auth_result_fini(&r);
}

static void
check_from_without_domain_not_authenticated(void)
{
	struct auth_input	in = {
		.peer_addr = "192.0.2.25",
		.helo = "",
		.mail_from = "",
		.from_addr = "alice",
		.raw = (const uint8_t *)body,
		.raw_len = sizeof(body) - 1,
	};
	struct auth_result	r;

	CHECK_INT(auth_check(&settings, &in, NULL, &r), 0);
	CHECK(!r.is_authenticated);
	CHECK_STR(r.reason, "From address has no domain");
	auth_result_fini(&r);
}

int
main(void)
{
	TAP_RUN(ar_parse_simple_spf_pass);
	TAP_RUN(ar_parse_nested_comments_skipped);
	TAP_RUN(ar_parse_quoted_values_unquoted);
	TAP_RUN(ar_parse_version_read);
	TAP_RUN(ar_parse_none_has_no_methods);
	TAP_RUN(ar_parse_several_methods_read);
	TAP_RUN(ar_parse_names_case_folded);
	TAP_RUN(ar_parse_folded_value_unfolded);
	TAP_RUN(ar_parse_method_version_accepted);
	TAP_RUN(ar_parse_malformed_rejected);
	TAP_RUN(ar_parse_malformed_keeps_authserv_id);
	TAP_RUN(align_equal_ignores_case_and_dot);
	TAP_RUN(align_subdomain_either_way_aligned);
	TAP_RUN(align_other_domains_not_aligned);
	TAP_RUN(align_follows_public_suffixes);
	TAP_RUN(align_malformed_domain_refused);
	TAP_RUN(relay_spf_pass_aligned_authenticated);
	TAP_RUN(relay_dkim_pass_aligned_authenticated);
	TAP_RUN(relay_pass_other_domain_not_authenticated);
	TAP_RUN(relay_fail_not_authenticated);
	TAP_RUN(relay_topmost_header_wins);
	TAP_RUN(relay_other_authserv_id_ignored);
	TAP_RUN(relay_authserv_id_case_ignored);
	TAP_RUN(relay_malformed_header_not_authenticated);
	TAP_RUN(relay_none_not_authenticated);
	TAP_RUN(relay_header_in_body_ignored);
	TAP_RUN(relay_addresses_compared_parsed);
	TAP_RUN(relay_without_authserv_id_untrusted);
	TAP_RUN(untrusted_forged_header_falls_back_to_spf);
	TAP_RUN(untrusted_forged_header_never_read);
	TAP_RUN(own_spf_empty_mail_from_uses_helo);
	TAP_RUN(own_spf_pass_unaligned_not_authenticated);
	TAP_RUN(own_spf_ipv6_peer_checked);
	TAP_RUN(own_spf_loopback_peer_not_authenticated);
	TAP_RUN(own_no_peer_address_skips_spf);
	TAP_RUN(own_dkim_signed_authenticated);
	TAP_RUN(own_dkim_bare_lf_message_authenticated);
	TAP_RUN(own_dkim_altered_body_fails);
	TAP_RUN(own_dkim_unaligned_not_authenticated);
	TAP_RUN(own_dkim_missing_key_fails);
	TAP_RUN(check_missing_input_fails);
	TAP_RUN(check_from_without_domain_not_authenticated);
	return tap_done();
}
