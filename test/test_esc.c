/* SPDX-License-Identifier: ISC */
/*
 * Tests of the esc stage: the round schedule and retry backoff, on times
 * given by hand.
 */
#include <inttypes.h>
#include <stdio.h>

#include "esc.h"
#include "tap.h"

#define N_ELEMENTS(a)	(sizeof(a) / sizeof((a)[0]))

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

static void
policy_default_matches_rounds(void)
{
	static const int64_t	delays[] = { 5 * MIN_MS };
	struct esc_policy	p = { delays, 1, 1 };
	size_t			step = 9;
	int64_t			t;

	for (t = 0; t < 60 * MIN_MS; t += 37000) {
		CHECK_INT(esc_policy_due(&p, 1000, 1000 + t, &step),
		    esc_round_due(1000, 5 * MIN_MS, 1000 + t));
		CHECK_INT(step, 0);
	}
	CHECK_INT(esc_policy_start_ms(&p, 1000, 3), 1000 + 10 * MIN_MS);
}

static void
policy_steps_repeat_then_last_repeats(void)
{
	/* team at 0, manager at 5, then again team at 15, manager at 20;
	 * then the manager every 10 minutes. */
	static const int64_t	delays[] = { 5 * MIN_MS, 10 * MIN_MS };
	struct esc_policy	p = { delays, 2, 2 };
	static const struct {
		int64_t	at_min;
		int64_t	firing;
		size_t	step;
	} cases[] = {
		{ 0, 1, 0 }, { 4, 1, 0 }, { 5, 2, 1 }, { 14, 2, 1 },
		{ 15, 3, 0 }, { 19, 3, 0 }, { 20, 4, 1 }, { 29, 4, 1 },
		{ 30, 5, 1 }, { 40, 6, 1 }, { 55, 7, 1 },
	};
	size_t			i, step;
	int64_t			k;

	for (i = 0; i < N_ELEMENTS(cases); i++) {
		k = esc_policy_due(&p, 0, cases[i].at_min * MIN_MS, &step);
		if (k != cases[i].firing || step != cases[i].step) {
			printf("# at %" PRId64 " min: firing %" PRId64
			    " step %zu\n", cases[i].at_min, k, step);
			tap_case_failed = true;
		}
	}
	for (k = 1; k <= 7; k++)
		CHECK_INT(esc_policy_due(&p, 0, esc_policy_start_ms(&p, 0, k),
		    &step), k);
}

static void
policy_before_open_is_first(void)
{
	static const int64_t	delays[] = { 0, 5 * MIN_MS };
	struct esc_policy	p = { delays, 2, 1 };
	size_t			step;

	/* Two steps at the same moment: the later one is due at once. */
	CHECK_INT(esc_policy_due(&p, 1000, 0, &step), 2);
	CHECK_INT(esc_policy_start_ms(&p, 1000, 1), 1000);
	CHECK_INT(esc_policy_start_ms(&p, 1000, 2), 1000);
	CHECK_INT(esc_policy_step(&p, 1), 0);
	CHECK_INT(esc_policy_step(&p, 2), 1);
	CHECK_INT(esc_policy_step(&p, 9), 1);
}

static void
breach_falls_at_share_of_promise(void)
{
	CHECK_INT(esc_breach_ms(1000, 1000 + 30 * MIN_MS, 50),
	    1000 + 15 * MIN_MS);
	CHECK_INT(esc_breach_ms(1000, 1000 + 30 * MIN_MS, 100),
	    1000 + 30 * MIN_MS);
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
	TAP_RUN(policy_default_matches_rounds);
	TAP_RUN(policy_steps_repeat_then_last_repeats);
	TAP_RUN(policy_before_open_is_first);
	TAP_RUN(breach_falls_at_share_of_promise);
	return tap_done();
}
