/* SPDX-License-Identifier: ISC */
/*
 * Wall-clock time for every timestamp critgate records and every deadline it
 * computes.  Tests replace the source to move time by hand.
 */
#ifndef CRITGATE_CLOCK_H
#define CRITGATE_CLOCK_H

#include <stdint.h>

typedef int64_t	(*clock_source_fn)(void);

/* Returns the current time in milliseconds since the Unix epoch. */
int64_t	clock_now_ms(void);

/* Replaces the time source; NULL restores the system clock. */
void	clock_set_source(clock_source_fn fn);

/*
 * Formats ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2026-01-15T10:00:00.000Z") into buf of at least CLOCK_RFC3339_LEN bytes.
 * A time before 1970 or after 9999 is formatted as the nearer of the two.
 */
#define CLOCK_RFC3339_LEN	32
#define CLOCK_MAX_MS		INT64_C(253402300799999)	/* 9999-12-31,
								 * last ms */
const char	*clock_format(int64_t ms, char *buf);

#endif
