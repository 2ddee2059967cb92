/* SPDX-License-Identifier: ISC */
/*
 * The auth stage: decides whether the sender of a message is authenticated
 * for the domain of its From address, so that a reply counts as an
 * acknowledgement only when it is.  Behind a trusted relay it reads the
 * relay's Authentication-Results header (RFC 8601); otherwise it checks SPF
 * (libspf2) and DKIM (libopendkim) itself.  No globals; reentrant.
 */
#ifndef CRITGATE_AUTH_H
#define CRITGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Settings; everything is borrowed.  authserv_id is trusted_authserv_id,
 * or NULL; trusted_relays are IPv4/IPv6 literals; dns_timeout_s bounds
 * each DKIM key lookup (0: libopendkim's default).
 */
struct auth_settings {
	const char		*authserv_id;
	const char *const	*trusted_relays;
	size_t			 n_trusted_relays;
	int			 dns_timeout_s;
};

/* The message and its envelope; everything is borrowed. */
struct auth_input {
	const char	*peer_addr;	/* connecting peer's address, no port;
					 * "" when unknown (local delivery) */
	const char	*helo;		/* HELO/EHLO name, "" when unknown */
	const char	*mail_from;	/* envelope sender, "" for <> */
	const char	*from_addr;	/* From header address, bare */
	const uint8_t	*raw;		/* the whole message, as received */
	size_t		 raw_len;
};

struct auth_result {
	bool	 is_authenticated;
	char	*method;	/* "spf" or "dkim" when authenticated, else
				 * NULL */
	char	*reason;	/* short phrase, never NULL: what passed, or
				 * why nothing did */
	bool	 is_trusted_relay;	/* the peer is a trusted relay */
};

/*
 * A fixed set of DNS records that replaces the system resolver, for tests.
 * TXT records serve SPF; DKIM keys come from a file in libopendkim's
 * query-file format: one line per key, the name
 * ("selector._domainkey.example.com"), white space, then the TXT record.
 */
struct auth_dns;

/* Returns an empty record set; release with auth_dns_free. */
struct auth_dns	*auth_dns_new(void);

/* Adds a TXT record for name; both strings are copied. */
void		 auth_dns_add_txt(struct auth_dns *dns, const char *name,
		    const char *txt);

/* Sets the DKIM key file described above; path is copied. */
void		 auth_dns_set_key_file(struct auth_dns *dns, const char *path);

void		 auth_dns_free(struct auth_dns *dns);

/*
 * Decides whether in's sender is authenticated for the From domain and
 * fills out (release with auth_result_fini).  dns is NULL in production:
 * the system resolver is then used, and the call blocks for the DNS
 * lookups (SPF, DKIM keys).  Returns 0, or -1 when an argument is missing
 * or a library fails; out then reports not authenticated and the reason.
 */
int		 auth_check(const struct auth_settings *settings,
		    const struct auth_input *in, const struct auth_dns *dns,
		    struct auth_result *out);

void		 auth_result_fini(struct auth_result *result);

/*
 * Tells whether two domains are aligned in DMARC's relaxed mode: their
 * organisational domains, found with the public suffix list, are equal
 * (case and a trailing dot ignored).
 */
bool		 auth_domain_is_aligned(const char *a, const char *b);

/* One "ptype.property=value" of a result, e.g. smtp.mailfrom. */
struct auth_results_prop {
	char	*ptype;		/* lowercase, e.g. "smtp" */
	char	*property;	/* lowercase, e.g. "mailfrom" */
	char	*value;		/* unquoted */
};

/* One resinfo: "method=result reason=... ptype.property=value ...". */
struct auth_results_method {
	char				*method;	/* lowercase */
	char				*result;	/* lowercase */
	char				*reason;	/* or NULL */
	struct auth_results_prop	*props;
	size_t				 n_props;
};

/* A parsed Authentication-Results header value (RFC 8601 section 2.2). */
struct auth_results_header {
	char				*authserv_id;
	int				 version;	/* 1 when absent */
	struct auth_results_method	*methods;	/* none for "none" */
	size_t				 n_methods;
};

/*
 * Parses one Authentication-Results header value, folded or not, with
 * comments, quoted strings, an optional version and "none".  Fills out
 * (release with auth_results_header_fini).  Returns 0, or -1 when the value
 * is malformed; out->authserv_id is then still set if it could be read,
 * so that the caller knows whose header it was.
 */
int		 auth_results_parse(const char *value,
		    struct auth_results_header *out);

void		 auth_results_header_fini(struct auth_results_header *header);

/*
 * Returns the value of the first property ptype.property (compared without
 * case) of m, borrowed from m, or NULL.
 */
const char	*auth_results_prop_find(const struct auth_results_method *m,
		    const char *ptype, const char *property);

#endif
