/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the classify stage's files: reading header values
 * straight from the raw message, which parse does not expose (our loop
 * header, the headers a bounce returns).
 */
#ifndef CRITGATE_CLASSIFY_PRIV_H
#define CRITGATE_CLASSIFY_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/*
 * Returns the unfolded value of the first top-level header called name
 * (compared without case), trimmed, or NULL.  Caller frees with g_free.
 */
char	*classify_raw_header(const uint8_t *raw, size_t len, const char *name);

/*
 * Collects the unfolded values of every line in the body (after the
 * top-level header block) that starts a header called name, as newly
 * allocated strings appended to values.  This reaches the headers a
 * delivery report returns in its text/rfc822-headers part.
 */
void	classify_raw_body_headers(const uint8_t *raw, size_t len,
	    const char *name, GPtrArray *values);

#endif
