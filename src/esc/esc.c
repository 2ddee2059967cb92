/* SPDX-License-Identifier: ISC */
/*
 * The esc stage: the repeat schedule of an open incident's pages and the
 * backoff of a page that a provider refused for now.
 */
#include "esc.h"

int
esc_round_due(int64_t opened_ms, int64_t repeat_ms, int64_t now_ms)
{
	int64_t	round;

	if (now_ms <= opened_ms || repeat_ms <= 0)
		return 1;
	round = (now_ms - opened_ms) / repeat_ms + 1;
	return round > 1000000 ? 1000000 : (int)round;
}

int64_t
esc_round_start_ms(int64_t opened_ms, int64_t repeat_ms, int round)
{
	if (round < 1)
		round = 1;
	return opened_ms + (int64_t)(round - 1) * repeat_ms;
}

int64_t
esc_retry_delay_ms(int attempts, int64_t retry_after_ms)
{
	int64_t	delay = ESC_RETRY_FIRST_MS;
	int	i;

	for (i = 1; i < attempts && delay < ESC_RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > ESC_RETRY_MAX_MS)
		delay = ESC_RETRY_MAX_MS;
	if (retry_after_ms > delay)
		delay = retry_after_ms;
	return delay;
}

bool
esc_retry_is_worth(int attempts, int64_t retry_at_ms, int64_t next_round_ms)
{
	return attempts < ESC_ATTEMPTS_MAX && retry_at_ms < next_round_ms;
}

bool
esc_sla_is_met(int64_t acked_ms, int64_t deadline_ms)
{
	return acked_ms > 0 && acked_ms <= deadline_ms;
}

int64_t
esc_cap_since_ms(int64_t now_ms, int64_t window_ms)
{
	return now_ms - window_ms;
}

int64_t
esc_cap_room(int64_t limit, int64_t sent)
{
	return sent >= limit ? 0 : limit - sent;
}
