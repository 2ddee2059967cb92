/* SPDX-License-Identifier: ISC */
/*
 * Tests of the clock stage: RFC 3339 text of times in and out of the
 * range it can write.
 */
#include <stdint.h>

#include "clock.h"
#include "tap.h"

static void
format_writes_milliseconds(void)
{
	char	buf[CLOCK_RFC3339_LEN];

	CHECK_STR(clock_format(0, buf), "1970-01-01T00:00:00.000Z");
	CHECK_STR(clock_format(INT64_C(1768471200123), buf),
	    "2026-01-15T10:00:00.123Z");
}

static void
format_clamps_out_of_range(void)
{
	char	buf[CLOCK_RFC3339_LEN];

	CHECK_STR(clock_format(-5, buf), "1970-01-01T00:00:00.000Z");
	CHECK_STR(clock_format(INT64_MAX, buf), "9999-12-31T23:59:59.999Z");
}

int
main(void)
{
	TAP_RUN(format_writes_milliseconds);
	TAP_RUN(format_clamps_out_of_range);
	return tap_done();
}
