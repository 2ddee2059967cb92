/* SPDX-License-Identifier: ISC */
/*
 * The auth stage's own checks, for when critgate is the MX itself: SPF of
 * the connecting peer with libspf2 and DKIM verification with libopendkim.
 * Both use the system resolver, or the fixed records of a struct auth_dns
 * (tests).  Each call builds its own library handles, so calls may run on
 * several threads at once.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <string.h>

#include <glib.h>
#include <opendkim/dkim.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include "auth.h"
#include "auth_priv.h"
#include "log.h"

struct auth_dns {
	GPtrArray	*names;		/* of TXT records, parallel to txts */
	GPtrArray	*txts;
	char		*key_file;	/* DKIM keys, or NULL */
};

struct auth_dns *
auth_dns_new(void)
{
	struct auth_dns	*dns = g_new0(struct auth_dns, 1);

	dns->names = g_ptr_array_new_with_free_func(g_free);
	dns->txts = g_ptr_array_new_with_free_func(g_free);
	return dns;
}

void
auth_dns_add_txt(struct auth_dns *dns, const char *name, const char *txt)
{
	g_ptr_array_add(dns->names, g_strdup(name));
	g_ptr_array_add(dns->txts, g_strdup(txt));
}

void
auth_dns_set_key_file(struct auth_dns *dns, const char *path)
{
	g_free(dns->key_file);
	dns->key_file = g_strdup(path);
}

void
auth_dns_free(struct auth_dns *dns)
{
	if (dns == NULL)
		return;
	g_ptr_array_unref(dns->names);
	g_ptr_array_unref(dns->txts);
	g_free(dns->key_file);
	g_free(dns);
}

/*
 * Returns a zone resolver that serves dns's TXT records and nothing else.
 * The caller frees it with SPF_dns_free after the server that uses it:
 * SPF_server_free frees only a resolver that SPF_server_new made.
 */
static SPF_dns_server_t *
spf_zone_make(const struct auth_dns *dns)
{
	SPF_dns_server_t	*zone;
	guint			 i;

	zone = SPF_dns_zone_new(NULL, "auth", 0);
	if (zone == NULL)
		return NULL;
	for (i = 0; i < dns->names->len; i++) {
		if (SPF_dns_zone_add_str(zone, dns->names->pdata[i], ns_t_txt,
		    NETDB_SUCCESS, dns->txts->pdata[i]) != SPF_E_SUCCESS)
			log_warnx("auth: fixed spf record rejected name=%s",
			    (const char *)dns->names->pdata[i]);
	}
	return zone;
}

/*
 * Returns an SPF server on the system resolver (dns NULL) or on *zone, a
 * new zone resolver of dns's records.  libspf2 has no timeout of its own:
 * its resolver waits as long as the system resolver's timeouts and retries
 * allow (resolv.conf "options timeout:N attempts:N").
 * NOTE: so the check blocks its caller for up to that long.  The daemon
 * runs it on its pass thread, for mail from a member's address, before
 * the batch's transaction: the mail behind it waits that long to be
 * understood, while intake goes on.
 */
static SPF_server_t *
spf_server_make(const struct auth_dns *dns, SPF_dns_server_t **zone)
{
	*zone = NULL;
	if (dns == NULL)
		return SPF_server_new(SPF_DNS_CACHE, 0);
	*zone = spf_zone_make(dns);
	if (*zone == NULL)
		return NULL;
	return SPF_server_new_dns(*zone, 0);
}

/* Sets the request's client address; returns -1 when it is not one. */
static int
spf_request_set_peer(SPF_request_t *req, const char *peer)
{
	struct in_addr	v4;
	struct in6_addr	v6;

	if (inet_pton(AF_INET, peer, &v4) == 1)
		return SPF_request_set_ipv4(req, v4) == SPF_E_SUCCESS ? 0 : -1;
	if (inet_pton(AF_INET6, peer, &v6) != 1)
		return -1;
	/* RFC 7208 5.6: a v4-mapped client is checked as its IPv4 address */
	if (IN6_IS_ADDR_V4MAPPED(&v6)) {
		memcpy(&v4, &v6.s6_addr[12], sizeof(v4));
		return SPF_request_set_ipv4(req, v4) == SPF_E_SUCCESS ? 0 : -1;
	}
	return SPF_request_set_ipv6(req, v6) == SPF_E_SUCCESS ? 0 : -1;
}

/* Returns the result's name, with "temperror" for a DNS failure. */
static const char *
spf_result_name(SPF_response_t *resp, SPF_errcode_t err)
{
	SPF_result_t	result = SPF_response_result(resp);

	if (result == SPF_RESULT_INVALID)
		return err == SPF_E_DNS_ERROR ? "temperror" : "none";
	return SPF_strresult(result);
}

static void
spf_judge(SPF_response_t *resp, SPF_errcode_t err, const char *domain,
    const char *from_domain, struct auth_own_check *out)
{
	const char	*name = spf_result_name(resp, err);

	if (SPF_response_reason(resp) == SPF_REASON_LOCALHOST) {
		out->summary = g_strdup("spf not checked for a loopback peer");
		return;
	}
	out->summary = g_strdup_printf("spf=%s for %s", name, domain);
	if (SPF_response_result(resp) != SPF_RESULT_PASS)
		return;
	out->is_pass = auth_domain_is_aligned(domain, from_domain);
	if (!out->is_pass) {
		g_free(out->summary);
		out->summary = g_strdup_printf("spf=pass for %s, not "
		    "aligned with %s", domain, from_domain);
	}
}

/* Returns the MAIL FROM to check: postmaster@HELO for <> (RFC 7208 2.4). */
static char *
spf_sender(const struct auth_input *in)
{
	if (in->mail_from != NULL && *in->mail_from != '\0')
		return g_strdup(in->mail_from);
	if (in->helo == NULL || *in->helo == '\0')
		return NULL;
	return g_strconcat("postmaster@", in->helo, NULL);
}

static int
spf_query(SPF_server_t *server, const struct auth_input *in,
    const char *sender, const char *from_domain, struct auth_own_check *out)
{
	SPF_request_t	*req;
	SPF_response_t	*resp = NULL;
	SPF_errcode_t	 err;
	int		 rc = -1;

	req = SPF_request_new(server);
	if (req == NULL)
		goto out;
	if (spf_request_set_peer(req, in->peer_addr) == -1) {
		out->summary = g_strdup_printf("spf not checked: peer address "
		    "%s is invalid", in->peer_addr);
		rc = 0;
		goto out;
	}
	if (in->helo != NULL && *in->helo != '\0')
		SPF_request_set_helo_dom(req, in->helo);
	if (SPF_request_set_env_from(req, sender) != 0)
		goto out;
	err = SPF_request_query_mailfrom(req, &resp);
	if (resp == NULL)
		goto out;
	spf_judge(resp, err, auth_addr_domain(sender), from_domain, out);
	rc = 0;
out:
	if (resp != NULL)
		SPF_response_free(resp);
	if (req != NULL)
		SPF_request_free(req);
	return rc;
}

int
auth_own_spf(const struct auth_input *in, const struct auth_dns *dns,
    const char *from_domain, struct auth_own_check *out)
{
	SPF_server_t		*server = NULL;
	SPF_dns_server_t	*zone = NULL;
	char			*sender;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	sender = spf_sender(in);
	if (in->peer_addr == NULL || *in->peer_addr == '\0' ||
	    sender == NULL || auth_addr_domain(sender) == NULL) {
		out->summary = g_strdup(sender == NULL ||
		    auth_addr_domain(sender) == NULL ?
		    "spf not checked: no sender domain" :
		    "spf not checked: no peer address");
		rc = 0;
		goto out;
	}
	server = spf_server_make(dns, &zone);
	if (server == NULL) {
		log_warnx("auth: spf server setup failed");
		goto out;
	}
	rc = spf_query(server, in, sender, from_domain, out);
	if (rc == -1)
		log_warnx("auth: spf check failed peer=%s", in->peer_addr);
out:
	if (rc == -1 && out->summary == NULL)
		out->summary = g_strdup("spf check failed");
	if (server != NULL)
		SPF_server_free(server);
	if (zone != NULL)
		SPF_dns_free(zone);
	g_free(sender);
	return rc;
}

/* Sets a libopendkim option; logs and returns -1 when it is rejected. */
static int
dkim_set(DKIM_LIB *lib, dkim_opts_t opt, void *data, size_t len)
{
	DKIM_STAT	st;

	st = dkim_options(lib, DKIM_OP_SETOPT, opt, data, len);
	if (st == DKIM_STAT_OK)
		return 0;
	log_warnx("auth: dkim option rejected option=%d error=\"%s\"", opt,
	    dkim_getresultstr(st));
	return -1;
}

/* Returns a libopendkim library handle for verifying, or NULL. */
static DKIM_LIB *
dkim_lib_make(const struct auth_dns *dns, int timeout_s)
{
	DKIM_LIB	*lib;
	unsigned int	 flags = DKIM_LIBFLAGS_FIXCRLF;
	unsigned int	 timeout = timeout_s > 0 ? (unsigned int)timeout_s : 0;
	dkim_query_t	 method = DKIM_QUERY_FILE;
	const char	*file;

	lib = dkim_init(NULL, NULL);
	if (lib == NULL)
		return NULL;
	if (dkim_set(lib, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) == -1)
		goto fail;
	if (timeout > 0 &&
	    dkim_set(lib, DKIM_OPTS_TIMEOUT, &timeout, sizeof(timeout)) == -1)
		goto fail;
	if (dns == NULL)
		return lib;
	/* with no key file, every key lookup fails rather than use DNS */
	if (dkim_set(lib, DKIM_OPTS_QUERYMETHOD, &method,
	    sizeof(method)) == -1)
		goto fail;
	file = dns->key_file != NULL ? dns->key_file : "/nonexistent";
	if (dkim_set(lib, DKIM_OPTS_QUERYINFO, (void *)file,
	    strlen(file)) == -1)
		goto fail;
	return lib;
fail:
	dkim_close(lib);
	return NULL;
}

/* Returns why sig did not verify, as libopendkim words it. */
static const char *
dkim_sig_why(DKIM_SIGINFO *sig)
{
	int		 err = dkim_sig_geterror(sig);
	const char	*why;

	if (err == DKIM_SIGERROR_OK && dkim_sig_getbh(sig) ==
	    DKIM_SIGBH_MISMATCH)
		return "body hash mismatch";
	why = dkim_sig_geterrorstr(err);
	return why != NULL ? why : "unknown error";
}

/* Tells whether sig verified; adds "dkim=RESULT for d=DOMAIN" to list. */
static bool
dkim_sig_judge(DKIM_SIGINFO *sig, const char *from_domain, GString *list)
{
	const char	*domain = (const char *)dkim_sig_getdomain(sig);
	bool		 is_good;

	is_good = (dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) == 0 &&
	    DKIM_SIG_CHECK(sig);
	if (domain == NULL)
		domain = "(none)";
	if (list->len > 0)
		g_string_append(list, ", ");
	g_string_append_printf(list, "dkim=%s for d=%s",
	    is_good ? "pass" : "fail", domain);
	if (!is_good) {
		g_string_append_printf(list, " (%s)", dkim_sig_why(sig));
		return false;
	}
	if (auth_domain_is_aligned(domain, from_domain))
		return true;
	g_string_append_printf(list, " not aligned with %s", from_domain);
	return false;
}

static void
dkim_judge(DKIM *dkim, DKIM_STAT st, const char *from_domain,
    struct auth_own_check *out)
{
	DKIM_SIGINFO	**sigs = NULL;
	GString		 *list = g_string_new(NULL);
	int		  n = 0;
	int		  i;

	if (st == DKIM_STAT_NOSIG ||
	    dkim_getsiglist(dkim, &sigs, &n) != DKIM_STAT_OK || n == 0) {
		g_string_assign(list, "dkim=none");
		n = 0;
	}
	for (i = 0; i < n && !out->is_pass; i++)
		out->is_pass = dkim_sig_judge(sigs[i], from_domain, list);
	if (out->is_pass) {
		/* report only the signature that passed */
		g_string_erase(list, 0, list->len);
		g_string_printf(list, "dkim=pass for d=%s",
		    (const char *)dkim_sig_getdomain(sigs[i - 1]));
	}
	out->summary = g_string_free(list, FALSE);
}

static int
dkim_run(DKIM_LIB *lib, const struct auth_input *in, const char *from_domain,
    struct auth_own_check *out)
{
	DKIM		*dkim;
	DKIM_STAT	 st;

	dkim = dkim_verify(lib, (const unsigned char *)"auth", NULL, &st);
	if (dkim == NULL) {
		log_warnx("auth: dkim verify setup failed error=\"%s\"",
		    dkim_getresultstr(st));
		return -1;
	}
	/* libopendkim takes non-const buffers but does not write to them */
	st = dkim_chunk(dkim, (unsigned char *)in->raw, in->raw_len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(dkim, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(dkim, NULL);
	dkim_judge(dkim, st, from_domain, out);
	dkim_free(dkim);
	return 0;
}

int
auth_own_dkim(const struct auth_input *in, const struct auth_dns *dns,
    int timeout_s, const char *from_domain, struct auth_own_check *out)
{
	DKIM_LIB	*lib;
	int		 rc;

	memset(out, 0, sizeof(*out));
	lib = dkim_lib_make(dns, timeout_s);
	if (lib == NULL) {
		log_warnx("auth: dkim library setup failed");
		out->summary = g_strdup("dkim check failed");
		return -1;
	}
	rc = dkim_run(lib, in, from_domain, out);
	if (rc == -1)
		out->summary = g_strdup("dkim check failed");
	dkim_close(lib);
	return rc;
}
