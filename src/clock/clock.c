/* SPDX-License-Identifier: ISC */
/*
 * The clock stage: the one place that reads the system's wall clock, so that
 * tests can pin time for every stage at once.
 */
#include <stdio.h>
#include <time.h>

#include "clock.h"

static clock_source_fn	clock_source;

int64_t
clock_now_ms(void)
{
	struct timespec	ts;

	if (clock_source != NULL)
		return clock_source();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
clock_set_source(clock_source_fn fn)
{
	clock_source = fn;
}

const char *
clock_format(int64_t ms, char *buf)
{
	time_t		secs;
	struct tm	tm;
	char		date[CLOCK_RFC3339_LEN];

	/* RFC 3339 has four-digit years; a store edited by hand may hold
	 * any number. */
	if (ms < 0)
		ms = 0;
	else if (ms > CLOCK_MAX_MS)
		ms = CLOCK_MAX_MS;
	secs = (time_t)(ms / 1000);
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, CLOCK_RFC3339_LEN, "%.20s.%03dZ", date,
	    (int)(ms % 1000));
	return buf;
}
