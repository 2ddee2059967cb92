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

/* The time of step i within one pass over the steps. */
static int64_t
policy_offset(const struct esc_policy *p, size_t i)
{
	int64_t	t = 0;
	size_t	j;

	for (j = 0; j < i; j++)
		t += p->delays_ms[j];
	return t;
}

int64_t
esc_policy_start_ms(const struct esc_policy *p, int64_t opened_ms,
    int64_t k)
{
	int64_t	n = (int64_t)p->n_steps, pass_ms, last_ms;

	if (k < 1)
		k = 1;
	pass_ms = policy_offset(p, p->n_steps);
	if (k <= p->repeat * n)
		return opened_ms + (k - 1) / n * pass_ms +
		    policy_offset(p, (size_t)((k - 1) % n));
	last_ms = (p->repeat - 1) * pass_ms + policy_offset(p,
	    p->n_steps - 1);
	return opened_ms + last_ms + (k - p->repeat * n) *
	    p->delays_ms[p->n_steps - 1];
}

int64_t
esc_policy_due(const struct esc_policy *p, int64_t opened_ms,
    int64_t now_ms, size_t *step)
{
	int64_t	n = (int64_t)p->n_steps, elapsed = now_ms - opened_ms;
	int64_t	pass_ms, last_ms, pass, k;
	size_t	i = 0;

	pass_ms = policy_offset(p, p->n_steps);
	last_ms = (p->repeat - 1) * pass_ms + policy_offset(p,
	    p->n_steps - 1);
	if (elapsed < 0)
		elapsed = 0;
	if (elapsed >= last_ms) {
		/* The passes are over: the last step repeats. */
		k = p->repeat * n;
		if (p->delays_ms[p->n_steps - 1] > 0)
			k += (elapsed - last_ms) / p->delays_ms[p->n_steps - 1];
		*step = p->n_steps - 1;
		return k;
	}
	pass = pass_ms > 0 ? elapsed / pass_ms : 0;
	while (i + 1 < p->n_steps && policy_offset(p, i + 1) <=
	    elapsed - pass * pass_ms)
		i++;
	*step = i;
	return pass * n + (int64_t)i + 1;
}

size_t
esc_policy_step(const struct esc_policy *p, int64_t k)
{
	int64_t	n = (int64_t)p->n_steps;

	if (k < 1)
		k = 1;
	if (k > p->repeat * n)
		return p->n_steps - 1;
	return (size_t)((k - 1) % n);
}

int64_t
esc_breach_ms(int64_t opened_ms, int64_t deadline_ms, int64_t percent)
{
	return opened_ms + (deadline_ms - opened_ms) * percent / 100;
}
