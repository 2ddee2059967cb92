/* SPDX-License-Identifier: ISC */
/*
 * Tests of the esc stage: the round schedule and retry backoff, on times
 * given by hand.
 */
#include "esc.h"
#include "tap.h"

#define MIN_MS	60000

static void
round_at_open_is_first(void)
{
	CHECK_INT(esc_round_due(1000, 5 * MIN_MS, 1000), 1);
	CHECK_INT(esc_round_due(1000, 5 * MIN_MS, 500), 1);
}

static void
round_changes_at_each_interval(void)
{
	CHECK_INT(esc_round_due(0, 5 * MIN_MS, 5 * MIN_MS - 1), 1);
	CHECK_INT(esc_round_due(0, 5 * MIN_MS, 5 * MIN_MS), 2);
	CHECK_INT(esc_round_due(0, 5 * MIN_MS, 12 * MIN_MS), 3);
}

static void
round_after_long_stop_is_current_only(void)
{
	/* Down for an hour with a 5-minute repeat: round 13, not 2. */
	CHECK_INT(esc_round_due(0, 5 * MIN_MS, 60 * MIN_MS + 1), 13);
}

static void
round_start_matches_due(void)
{
	int	r;

	for (r = 1; r < 20; r++) {
		CHECK_INT(esc_round_due(7, 3000, esc_round_start_ms(7, 3000,
		    r)), r);
		CHECK_INT(esc_round_due(7, 3000, esc_round_start_ms(7, 3000,
		    r) - 1), r == 1 ? 1 : r - 1);
	}
}

static void
retry_delay_doubles_to_cap(void)
{
	CHECK_INT(esc_retry_delay_ms(1, -1), 1000);
	CHECK_INT(esc_retry_delay_ms(2, -1), 2000);
	CHECK_INT(esc_retry_delay_ms(3, -1), 4000);
	CHECK_INT(esc_retry_delay_ms(10, -1), ESC_RETRY_MAX_MS);
	CHECK_INT(esc_retry_delay_ms(1000, -1), ESC_RETRY_MAX_MS);
}

static void
retry_delay_honours_retry_after(void)
{
	CHECK_INT(esc_retry_delay_ms(1, 2000), 2000);
	CHECK_INT(esc_retry_delay_ms(3, 2000), 4000);
	CHECK_INT(esc_retry_delay_ms(1, 0), 1000);
}

static void
retry_stops_at_next_round(void)
{
	CHECK(esc_retry_is_worth(1, 1000, 2000));
	CHECK(!esc_retry_is_worth(1, 2000, 2000));
	CHECK(!esc_retry_is_worth(ESC_ATTEMPTS_MAX, 1000, 2000));
}

static void
sla_met_only_by_deadline(void)
{
	CHECK(esc_sla_is_met(100, 100));
	CHECK(!esc_sla_is_met(101, 100));
	CHECK(!esc_sla_is_met(0, 100));
}

static void
cap_room_counts_down_to_zero(void)
{
	CHECK_INT(esc_cap_room(3, 0), 3);
	CHECK_INT(esc_cap_room(3, 2), 1);
	CHECK_INT(esc_cap_room(3, 3), 0);
	CHECK_INT(esc_cap_room(3, 7), 0);
}

static void
cap_window_slides_with_now(void)
{
	CHECK_INT(esc_cap_since_ms(15 * MIN_MS + 500, 15 * MIN_MS), 500);
	CHECK_INT(esc_cap_since_ms(1000, 15 * MIN_MS), 1000 - 15 * MIN_MS);
}

int
main(void)
{
	TAP_RUN(round_at_open_is_first);
	TAP_RUN(round_changes_at_each_interval);
	TAP_RUN(round_after_long_stop_is_current_only);
	TAP_RUN(round_start_matches_due);
	TAP_RUN(retry_delay_doubles_to_cap);
	TAP_RUN(retry_delay_honours_retry_after);
	TAP_RUN(retry_stops_at_next_round);
	TAP_RUN(sla_met_only_by_deadline);
	TAP_RUN(cap_room_counts_down_to_zero);
	TAP_RUN(cap_window_slides_with_now);
	return tap_done();
}
