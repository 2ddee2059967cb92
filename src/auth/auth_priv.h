/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the auth stage's files: the stage's own SPF and DKIM
 * checks, which the decision in auth.c runs when the peer is not a trusted
 * relay.
 */
#ifndef CRITGATE_AUTH_PRIV_H
#define CRITGATE_AUTH_PRIV_H

#include <stdbool.h>

#include "auth.h"

/* The outcome of one own check. */
struct auth_own_check {
	bool	 is_pass;	/* passed for a domain aligned with From */
	char	*summary;	/* "spf=fail for example.net"; g_free */
};

/*
 * Checks SPF for the peer, HELO and MAIL FROM of in (RFC 7208; an empty
 * MAIL FROM checks postmaster@HELO).  A loopback peer is never a pass:
 * libspf2 passes loopback addresses without a lookup, which says nothing
 * about the sender's domain.  Fills out; returns 0, or -1 when libspf2
 * fails (out then says so).
 */
int		 auth_own_spf(const struct auth_input *in,
		    const struct auth_dns *dns, const char *from_domain,
		    struct auth_own_check *out);

/*
 * Verifies the DKIM signatures of in->raw with libopendkim; passes when one
 * verifies with a d= aligned with from_domain.  Key lookups time out after
 * timeout_s seconds (0: libopendkim's default).  Fills out; returns 0, or
 * -1 when libopendkim fails (out then says so).
 */
int		 auth_own_dkim(const struct auth_input *in,
		    const struct auth_dns *dns, int timeout_s,
		    const char *from_domain, struct auth_own_check *out);

/* Returns the domain of addr (after its last '@'), borrowed, or NULL. */
const char	*auth_addr_domain(const char *addr);

#endif
