/* SPDX-License-Identifier: ISC */
/*
 * The esc stage: when an open incident pages its team again, and how a
 * page that a provider could not take is retried.  Pure arithmetic on
 * times in milliseconds, so the schedule is tested on an injected clock;
 * the daemon owns the timers.
 *
 * Round 1 starts when the incident opens; round r starts (r - 1) repeat
 * intervals later.  A daemon that was stopped across several rounds pages
 * only the round due now: the team gets one page, not a burst of missed
 * ones.
 */
#ifndef CRITGATE_ESC_H
#define CRITGATE_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESC_RETRY_FIRST_MS	1000	/* first retry after a failure */
#define ESC_RETRY_MAX_MS	30000	/* longest wait between retries */
#define ESC_ATTEMPTS_MAX	6	/* requests per page before giving up */

/*
 * An escalation policy's timing: step i fires, then delays_ms[i] passes
 * before step i + 1.  The steps run repeat times in all, then the last
 * step fires again every delays_ms[n_steps - 1] (which must be above 0).
 * Firings are numbered from 1, the first when the incident opens.
 */
struct esc_policy {
	const int64_t	*delays_ms;
	size_t		 n_steps;	/* at least 1 */
	int64_t		 repeat;	/* at least 1 */
};

/* Returns the latest firing due at now_ms (at least 1) and its step. */
int64_t	esc_policy_due(const struct esc_policy *p, int64_t opened_ms,
	    int64_t now_ms, size_t *step);

/* Returns the step that firing k (from 1) fires. */
size_t	esc_policy_step(const struct esc_policy *p, int64_t k);

/* Returns when firing k (from 1) is due. */
int64_t	esc_policy_start_ms(const struct esc_policy *p, int64_t opened_ms,
	    int64_t k);

/* Returns when the breach at percent of an incident's promise falls. */
int64_t	esc_breach_ms(int64_t opened_ms, int64_t deadline_ms,
	    int64_t percent);

/* Returns the round due at now_ms (1 for the first), at least 1. */
int	esc_round_due(int64_t opened_ms, int64_t repeat_ms, int64_t now_ms);

/* Returns when round starts. */
int64_t	esc_round_start_ms(int64_t opened_ms, int64_t repeat_ms, int round);

/*
 * Returns the wait before the next request of a page that failed its
 * attempts-th request (1 for the first): doubling from ESC_RETRY_FIRST_MS
 * up to ESC_RETRY_MAX_MS, and never shorter than a provider's
 * retry_after_ms (-1 when it gave none).
 */
int64_t	esc_retry_delay_ms(int attempts, int64_t retry_after_ms);

/*
 * Tells whether a page that failed its attempts-th request should be tried
 * again at retry_at_ms, rather than given up: only within ESC_ATTEMPTS_MAX
 * and before the next round starts, which pages the member again anyway.
 */
bool	esc_retry_is_worth(int attempts, int64_t retry_at_ms,
	    int64_t next_round_ms);

/*
 * Page limits: at most limit requests to a member on a channel within
 * window_ms.  esc_cap_since_ms returns the time after which a request
 * counts at now_ms; esc_cap_room returns how many more requests may go out
 * when sent went out since then, 0 when the cap is reached.
 */
int64_t	esc_cap_since_ms(int64_t now_ms, int64_t window_ms);
int64_t	esc_cap_room(int64_t limit, int64_t sent);

/* Tells whether an acknowledgement at acked_ms met the deadline. */
bool	esc_sla_is_met(int64_t acked_ms, int64_t deadline_ms);

#endif
