/* SPDX-License-Identifier: ISC */
/*
 * Escalation on the loop: which step of each open incident's policy is
 * due, whom its targets name at that moment (the team, a member, whoever
 * a rotation has on call), the pages and page mail it creates, the
 * breaches of the response promise, each paged once, and the fixes that
 * fall overdue, each mailed once.
 */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "esc.h"
#include "log.h"
#include "rota.h"

#define ESC_STEPS_MAX	64	/* steps of one policy that are timed */

/* Fills p with the timing of policy, using delays for storage. */
static void
policy_timing(const struct cfg_policy *policy, int64_t *delays,
    struct esc_policy *p)
{
	size_t	i, n = MIN(policy->n_steps, ESC_STEPS_MAX);

	for (i = 0; i < n; i++)
		delays[i] = policy->steps[i].delay_ms;
	p->delays_ms = delays;
	p->n_steps = n;
	p->repeat = policy->repeat;
}

static void
add_member(GPtrArray *members, const struct cfg_member *m)
{
	guint	i;

	for (i = 0; i < members->len; i++)
		if (g_ptr_array_index(members, i) == m)
			return;
	g_ptr_array_add(members, (gpointer)m);
}

/* Adds the members target names at now_ms to members, each once. */
static void
target_members(struct daemon *d, int64_t incident_id, const char *target,
    int64_t now_ms, GPtrArray *members)
{
	const struct cfg_rotation	*rot;
	const struct cfg_member		*m;
	struct rota_shift		 shift;
	size_t				 i;

	if (strcmp(target, "team") == 0) {
		for (i = 0; i < d->cfg->n_team; i++)
			add_member(members, &d->cfg->team[i]);
		return;
	}
	if (!g_str_has_prefix(target, "rotation:")) {
		m = cfg_member_by_name(d->cfg, target);
		if (m != NULL)
			add_member(members, m);
		return;
	}
	rot = cfg_rotation_by_name(d->cfg, target + 9);
	if (rot == NULL || rota_oncall(rot->rota, now_ms, &shift) == -1 ||
	    shift.member == NULL) {
		log_warnx("escalation: no member on call inc=%" PRId64
		    " rotation=%s", incident_id, target + 9);
		return;
	}
	m = cfg_member_by_name(d->cfg, shift.member);
	if (m != NULL)
		add_member(members, m);
}

/* Pages members on channels in round, and mails them the page when
 * wants_mail; returns the number of pages created, or -1. */
static int
fire(struct daemon *d, const struct store_incident *inc, int round,
    GPtrArray *members, char **channels, bool wants_mail, int64_t now_ms)
{
	const char *const	*chans = (const char *const *)channels;
	struct store_page_want	*wants;
	const struct cfg_member	*m;
	GString			*names = g_string_new(NULL);
	char			*detail;
	size_t			 n = 0;
	guint			 i;
	int			 created;

	wants = g_new0(struct store_page_want, members->len * 2 + 1);
	for (i = 0; i < members->len; i++) {
		m = g_ptr_array_index(members, i);
		g_string_append_printf(names, "%s%s", i > 0 ? "," : "",
		    m->name);
		if (m->phone == NULL)
			continue;
		if (g_strv_contains(chans, "voice"))
			wants[n++] = (struct store_page_want){ m->name,
			    m->phone, NOTIFY_CHANNEL_VOICE };
		if (g_strv_contains(chans, "sms"))
			wants[n++] = (struct store_page_want){ m->name,
			    m->phone, NOTIFY_CHANNEL_SMS };
	}
	detail = round > 0 ? g_strdup_printf("round=%d members=%s", round,
	    names->str) : g_strdup_printf("breach=%d%% members=%s", -round,
	    names->str);
	created = store_round_fire(d->store, inc->id, round, wants, n, detail,
	    now_ms);
	wants_mail = wants_mail || g_strv_contains(chans, "email");
	for (i = 0; i < members->len && created >= 0; i++) {
		m = g_ptr_array_index(members, i);
		/* A member without a phone gets the page mail alone. */
		if (wants_mail || m->phone == NULL)
			(void)daemon_outbox_page(&d->outbox, inc->id, m,
			    now_ms);
	}
	if (created >= 0)
		log_info("escalation: %s inc=%" PRId64 " %s pages=%d",
		    round > 0 ? "round started" : "breach paged", inc->id,
		    detail, created);
	g_free(wants);
	g_free(detail);
	g_string_free(names, TRUE);
	return created;
}

/* Tells whether any of members can be reached on channels. */
static bool
is_reachable(struct daemon *d, GPtrArray *members, char **channels)
{
	const char *const	*chans = (const char *const *)channels;
	const struct cfg_member	*m;
	guint			 i;

	if (members->len > 0 && d->outbox.templates != NULL)
		return true;
	for (i = 0; i < members->len; i++) {
		m = g_ptr_array_index(members, i);
		if (m->phone != NULL && (g_strv_contains(chans, "voice") ||
		    g_strv_contains(chans, "sms")))
			return true;
	}
	return false;
}

/*
 * Pages the whole team by voice and SMS in place of targets that reach
 * no member (a rotation with nobody on call, members without a phone and no
 * mail relay): an incident is never left unpaged by a gap in the config.
 */
static void
fire_fallback(struct daemon *d, const struct store_incident *inc, int round,
    GPtrArray *members, int64_t now_ms)
{
	char	**channels = g_strsplit("voice,sms", ",", -1);
	size_t	  i;

	log_warnx("escalation: targets reach no member inc=%" PRId64
	    " round=%d; paging the whole team instead", inc->id, round);
	(void)store_event_add(d->store, inc->id, 0, "fallback", "targets "
	    "reach no member; paging the whole team", now_ms);
	g_ptr_array_set_size(members, 0);
	for (i = 0; i < d->cfg->n_team; i++)
		add_member(members, &d->cfg->team[i]);
	(void)fire(d, inc, round, members, channels, true, now_ms);
	g_strfreev(channels);
}

/* Fires the step of firing k of the incident's policy. */
static void
fire_step(struct daemon *d, const struct store_incident *inc,
    const struct cfg_policy *policy, size_t step, int64_t k, int64_t now_ms)
{
	const struct cfg_step	*s = &policy->steps[step];
	GPtrArray		*members = g_ptr_array_new();
	size_t			 i;

	for (i = 0; s->targets[i] != NULL; i++)
		target_members(d, inc->id, s->targets[i], now_ms, members);
	if (!inc->is_multi_paging && !is_reachable(d, members, s->channels)) {
		fire_fallback(d, inc, (int)k, members, now_ms);
		g_ptr_array_free(members, TRUE);
		return;
	}
	/* Under multi_ack, those who acknowledged are paged no more; once
	 * everyone a step names has, the paging ends. */
	if (inc->is_multi_paging) {
		for (i = members->len; i > 0; i--)
			if (store_member_acked(d->store, inc->id,
			    ((const struct cfg_member *)g_ptr_array_index(
			    members, i - 1))->name) == 1)
				g_ptr_array_remove_index(members, i - 1);
		if (members->len == 0) {
			(void)store_multi_paging_set(d->store, inc->id, false);
			log_info("escalation: every member acknowledged inc=%"
			    PRId64, inc->id);
		}
	}
	/* Everyone paged when the incident opens gets its page mail. */
	(void)fire(d, inc, (int)k, members, s->channels, k == 1, now_ms);
	g_ptr_array_free(members, TRUE);
}

/*
 * Fires the step due now unless it fired already.  Steps due at the same
 * moment all fire; steps missed while critgate was stopped do not, so
 * that the team gets one page rather than a burst.
 */
static void
esc_incident_steps(struct daemon *d, const struct store_incident *inc,
    int64_t now_ms)
{
	const struct cfg_policy	*policy = cfg_policy_of(d->cfg, inc->severity);
	struct esc_policy	 p;
	int64_t			 delays[ESC_STEPS_MAX], k, j, last, at;
	size_t			 step;

	policy_timing(policy, delays, &p);
	k = esc_policy_due(&p, inc->opened_ms, now_ms, &step);
	last = store_round_last(d->store, inc->id);
	if (k <= last || last < 0)
		return;
	at = esc_policy_start_ms(&p, inc->opened_ms, k);
	for (j = last + 1; j < k; j++)
		if (esc_policy_start_ms(&p, inc->opened_ms, j) == at)
			break;
	for (; j <= k; j++)
		fire_step(d, inc, policy, esc_policy_step(&p, j), j, now_ms);
}

/* Records and pages each breach of the promise that fell by now. */
static void
esc_incident_breaches(struct daemon *d, const struct store_incident *inc,
    int64_t now_ms)
{
	const struct cfg_severity_rule	*rule;
	GPtrArray			*members;
	char				**channels;
	int64_t				 last, pct;
	size_t				 i, t;

	rule = &d->cfg->severities[inc->severity];
	if (rule->n_breach_percents == 0)
		return;
	last = store_breach_last(d->store, inc->id);
	for (i = 0; i < rule->n_breach_percents && last >= 0; i++) {
		pct = rule->breach_percents[i];
		if (pct <= last || now_ms < esc_breach_ms(inc->opened_ms,
		    inc->ack_deadline_ms, pct))
			continue;
		if (store_breach_add(d->store, inc->id, pct, now_ms) != 1)
			continue;
		log_warnx("escalation: promise breached inc=%" PRId64
		    " percent=%" PRId64 " severity=%s", inc->id, pct,
		    cfg_severity_name(inc->severity));
		members = g_ptr_array_new();
		for (t = 0; rule->breach_targets[t] != NULL; t++)
			target_members(d, inc->id, rule->breach_targets[t],
			    now_ms, members);
		channels = g_strsplit("voice,sms,email", ",", -1);
		if (!is_reachable(d, members, channels))
			fire_fallback(d, inc, -(int)pct, members, now_ms);
		else
			(void)fire(d, inc, -(int)pct, members, channels, false,
			    now_ms);
		g_strfreev(channels);
		g_ptr_array_free(members, TRUE);
	}
}

/* Fires what is due for one incident that still pages. */
static void
esc_incident(struct daemon *d, const struct store_incident *inc,
    int64_t now_ms)
{
	esc_incident_steps(d, inc, now_ms);
	if (inc->acked_ms == 0)
		esc_incident_breaches(d, inc, now_ms);
}

/* The tick's daemon and time, for fix_overdue_mail. */
struct overdue_tick {
	struct daemon	*d;
	int64_t		 now_ms;
};

/*
 * Queues the mail about one overdue fix in the transaction that marks it,
 * so that the mark and the mail commit together: a stop between the two
 * can neither lose the mail nor, once marked, send it again.
 */
static int
fix_overdue_mail(void *ctx, int64_t incident_id)
{
	struct overdue_tick	*t = ctx;

	return daemon_outbox_fix_overdue(&t->d->outbox, incident_id,
	    t->now_ms);
}

void
daemon_esc_tick(struct daemon *d)
{
	GPtrArray		*open;
	GArray			*overdue;
	int64_t			 now = clock_now_ms();
	struct overdue_tick	 tick = { d, now };
	guint			 i;

	open = store_incidents_paging(d->store);
	for (i = 0; open != NULL && i < open->len; i++)
		esc_incident(d, g_ptr_array_index(open, i), now);
	if (open != NULL)
		g_ptr_array_free(open, TRUE);
	overdue = store_fixes_overdue_mark(d->store, now, fix_overdue_mail,
	    &tick);
	for (i = 0; overdue != NULL && i < overdue->len; i++)
		log_warnx("incident: fix overdue inc=%" PRId64 "; once it is "
		    "deployed, run \"critgate fixed %" PRId64 " --by NAME\"",
		    g_array_index(overdue, int64_t, i),
		    g_array_index(overdue, int64_t, i));
	if (overdue != NULL)
		g_array_free(overdue, TRUE);
}

void
daemon_esc_tick_some(struct daemon *d, const GArray *ids)
{
	struct store_incident	inc;
	int64_t			now = clock_now_ms();
	guint			i;

	for (i = 0; i < ids->len; i++) {
		if (store_incident_get(d->store, g_array_index(ids, gint64, i),
		    &inc) == -1)
			continue;
		if (STORE_INCIDENT_PAGES(&inc))
			esc_incident(d, &inc, now);
		store_incident_fini(&inc);
	}
}

int64_t
daemon_esc_next_round_ms(struct daemon *d, const struct store_incident *inc,
    int round)
{
	const struct cfg_policy	*policy = cfg_policy_of(d->cfg, inc->severity);
	struct esc_policy	 p;
	int64_t			 delays[ESC_STEPS_MAX];

	/* A breach's pages are retried until their attempts run out. */
	if (round < 1)
		return INT64_MAX;
	policy_timing(policy, delays, &p);
	return esc_policy_start_ms(&p, inc->opened_ms, round + 1);
}
