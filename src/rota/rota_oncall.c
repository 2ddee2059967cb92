/* SPDX-License-Identifier: ISC */
/*
 * Who is on call: the shift that covers an instant, found from the elapsed
 * time and corrected by a step or two around daylight-saving changes, then
 * the overrides laid over it.  Also the gaps with nobody on call, for the
 * config check's warning.
 */
#include <sys/types.h>

#include <glib.h>

#include "rota.h"
#include "rota_priv.h"

/*
 * Handover k as an instant; see struct rota_spec for the rule.  Handover 0
 * is start as written, which matters only for a start with an offset in
 * the repeated hour, which the rule would move to the earlier instant.
 */
static int64_t
handover(const struct rota *r, int64_t k)
{
	if (k == 0)
		return r->start_ms;
	return rota_wall_to_instant(r->tz, r->start_wall_ms + k * r->shift_ms);
}

/*
 * Finds the last handover at or before at_ms, which is not before the
 * first.  The elapsed time divided by the shift length is off only by the
 * offset change since the start, so the loops take about that change
 * divided by the shift length plus one steps: one or two in most zones,
 * up to 25 for hourly shifts across a skipped day such as Pacific/Apia's
 * 2011-12-30.  Handovers that fall into one gap share its end, and the
 * last of them wins, so shifts of length zero are skipped.
 */
static int64_t
shift_index(const struct rota *r, int64_t at_ms)
{
	int64_t	k = (at_ms - r->start_ms) / r->shift_ms;

	while (k > 0 && handover(r, k) > at_ms)
		k--;
	while (handover(r, k + 1) <= at_ms)
		k++;
	return k;
}

/* Returns the index of the override that decides at at_ms, or -1. */
static ssize_t
winning_override(const struct rota *r, int64_t at_ms)
{
	const struct rota_override	*o;
	ssize_t				 i;

	for (i = (ssize_t)r->n_overrides - 1; i >= 0; i--) {
		o = &r->overrides[i];
		if (o->from_ms <= at_ms && at_ms < o->until_ms)
			return i;
	}
	return -1;
}

/*
 * Narrows out to the overrides from index first on: one that ended at or
 * before at_ms moves since_ms up to its end, one that starts after at_ms
 * moves until_ms down to its start.  None of them covers at_ms.
 */
static void
narrow(const struct rota *r, size_t first, int64_t at_ms,
    struct rota_shift *out)
{
	const struct rota_override	*o;
	size_t				 i;

	for (i = first; i < r->n_overrides; i++) {
		o = &r->overrides[i];
		if (o->until_ms <= at_ms && o->until_ms > out->since_ms)
			out->since_ms = o->until_ms;
		if (o->from_ms > at_ms && o->from_ms < out->until_ms)
			out->until_ms = o->from_ms;
	}
}

/*
 * The override at index i decides: overrides later in the list win over
 * it, earlier ones lose and do not bound it.
 */
static void
fill_override(const struct rota *r, size_t i, int64_t at_ms,
    struct rota_shift *out)
{
	out->member = r->overrides[i].member;
	out->since_ms = r->overrides[i].from_ms;
	out->until_ms = r->overrides[i].until_ms;
	out->is_override = true;
	narrow(r, i + 1, at_ms, out);
}

/* No override decides, so the shift does, or nobody before the start. */
static void
fill_shift(const struct rota *r, int64_t at_ms, struct rota_shift *out)
{
	int64_t	k;

	out->is_override = false;
	if (at_ms < r->start_ms) {
		out->member = NULL;
		out->since_ms = ROTA_TIME_MIN_MS;
		out->until_ms = r->start_ms;
	} else {
		k = shift_index(r, at_ms);
		out->member = r->members[k % (int64_t)r->n_members];
		out->since_ms = handover(r, k);
		out->until_ms = handover(r, k + 1);
	}
	narrow(r, 0, at_ms, out);
}

int
rota_oncall(const struct rota *r, int64_t at_ms, struct rota_shift *out)
{
	ssize_t	i;

	if (at_ms < ROTA_TIME_MIN_MS || at_ms > ROTA_TIME_MAX_MS)
		return -1;
	i = winning_override(r, at_ms);
	if (i >= 0)
		fill_override(r, (size_t)i, at_ms, out);
	else
		fill_shift(r, at_ms, out);
	return 0;
}

static void
add_gap(GArray *gaps, int64_t from_ms, int64_t until_ms)
{
	struct rota_gap	 gap = { from_ms, until_ms };
	struct rota_gap	*last;

	if (gaps->len > 0) {
		last = &g_array_index(gaps, struct rota_gap, gaps->len - 1);
		if (last->until_ms == from_ms) {
			last->until_ms = until_ms;
			return;
		}
	}
	g_array_append_val(gaps, gap);
}

GArray *
rota_gaps(const struct rota *r, int64_t from_ms, int64_t until_ms)
{
	struct rota_shift	 shift;
	GArray			*gaps;
	int64_t			 at_ms = from_ms;
	int64_t			 end_ms;

	if (from_ms >= until_ms || from_ms < ROTA_TIME_MIN_MS ||
	    until_ms > ROTA_TIME_MAX_MS)
		return NULL;
	gaps = g_array_new(FALSE, FALSE, sizeof(struct rota_gap));

	/*
	 * From the first handover on, a shift or an override always has a
	 * member, so only the time before it can hold gaps.  Each step ends
	 * where the on-call result may change, which is always after at_ms.
	 */
	end_ms = MIN(until_ms, r->start_ms);
	while (at_ms < end_ms) {
		/* Cannot fail: at_ms is within the range checked above. */
		(void)rota_oncall(r, at_ms, &shift);
		if (shift.member == NULL)
			add_gap(gaps, at_ms, MIN(shift.until_ms, end_ms));
		at_ms = shift.until_ms;
	}
	return gaps;
}
