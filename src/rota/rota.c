/* SPDX-License-Identifier: ISC */
/*
 * Rotations for the rota stage: checking a rotation as the config writes it,
 * with one message per problem for the config check, and building the
 * rotation that rota_oncall and rota_gaps read.
 */
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#include "rota.h"
#include "rota_priv.h"

#define MS_PER_HOUR	3600000LL

static void G_GNUC_PRINTF(3, 4)
add_problem(GPtrArray *problems, const char *path, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(problems, g_strdup_printf("%s.%s", path, text));
	g_free(text);
}

static bool
is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* Opens the zone, or adds a problem and returns NULL. */
static GTimeZone *
open_zone(const struct rota_spec *spec, const char *path, GPtrArray *problems)
{
	GTimeZone	*tz;

	if (is_empty(spec->time_zone)) {
		add_problem(problems, path, "time_zone: missing; name an IANA "
		    "time zone such as \"Europe/Berlin\"");
		return NULL;
	}
	tz = g_time_zone_new_identifier(spec->time_zone);
	if (tz == NULL)
		add_problem(problems, path, "time_zone: \"%s\" is not a known "
		    "time zone", spec->time_zone);
	return tz;
}

static void
check_start(struct rota *r, const struct rota_spec *spec, const char *path,
    GPtrArray *problems)
{
	char	*error = NULL;

	if (is_empty(spec->start)) {
		add_problem(problems, path, "start: missing");
		return;
	}
	if (rota_parse_time(spec->start, r->tz, &r->start_ms, &error) == -1) {
		add_problem(problems, path, "start: %s", error);
		g_free(error);
		return;
	}
	/* Cannot fail: the same text has just been read. */
	(void)rota_parse_wall(spec->start, r->tz, &r->start_wall_ms, NULL);
}

static void
check_members(struct rota *r, const struct rota_spec *spec, const char *path,
    GPtrArray *problems)
{
	size_t	i;

	if (spec->n_members == 0) {
		add_problem(problems, path, "members: empty; name at least one "
		    "member");
		return;
	}
	r->members = g_new0(char *, spec->n_members + 1);
	r->n_members = spec->n_members;
	for (i = 0; i < spec->n_members; i++) {
		if (is_empty(spec->members[i]))
			add_problem(problems, path, "members[%zu]: empty name",
			    i);
		r->members[i] = g_strdup(spec->members[i]);
	}
}

/* Parses one override time, or adds a problem and returns -1. */
static int
parse_override_time(struct rota *r, const char *text, const char *key,
    const char *path, GPtrArray *problems, int64_t *out_ms)
{
	char	*error = NULL;

	if (is_empty(text)) {
		add_problem(problems, path, "%s: missing", key);
		return -1;
	}
	if (rota_parse_time(text, r->tz, out_ms, &error) == -1) {
		add_problem(problems, path, "%s: %s", key, error);
		g_free(error);
		return -1;
	}
	return 0;
}

static void
check_override(struct rota *r, const struct rota_override_spec *spec,
    const char *path, GPtrArray *problems, struct rota_override *out)
{
	int	from_rc;
	int	until_rc;

	if (is_empty(spec->member))
		add_problem(problems, path, "member: missing");
	out->member = g_strdup(spec->member);
	from_rc = parse_override_time(r, spec->from, "from", path, problems,
	    &out->from_ms);
	until_rc = parse_override_time(r, spec->until, "until", path,
	    problems, &out->until_ms);
	if (from_rc == 0 && until_rc == 0 && out->until_ms <= out->from_ms)
		add_problem(problems, path, "until: \"%s\" is not after from "
		    "\"%s\"", spec->until, spec->from);
}

static void
check_overrides(struct rota *r, const struct rota_spec *spec,
    const char *path, GPtrArray *problems)
{
	char	*item;
	size_t	 i;

	r->overrides = g_new0(struct rota_override, spec->n_overrides);
	r->n_overrides = spec->n_overrides;
	for (i = 0; i < spec->n_overrides; i++) {
		item = g_strdup_printf("%s.overrides[%zu]", path, i);
		check_override(r, &spec->overrides[i], item, problems,
		    &r->overrides[i]);
		g_free(item);
	}
}

struct rota *
rota_new(const struct rota_spec *spec, const char *path, GPtrArray *problems)
{
	GPtrArray	*found;
	struct rota	*r;

	if (path == NULL)
		path = "rotation";
	found = g_ptr_array_new_with_free_func(g_free);
	r = g_new0(struct rota, 1);
	r->name = g_strdup(spec->name);
	if (is_empty(spec->name))
		add_problem(found, path, "name: missing");
	r->tz = open_zone(spec, path, found);
	if (spec->shift_hours < ROTA_SHIFT_HOURS_MIN ||
	    spec->shift_hours > ROTA_SHIFT_HOURS_MAX)
		add_problem(found, path, "shift_hours: %" G_GINT64_FORMAT
		    " is out of range %d-%d", spec->shift_hours,
		    ROTA_SHIFT_HOURS_MIN, ROTA_SHIFT_HOURS_MAX);
	else
		r->shift_ms = spec->shift_hours * MS_PER_HOUR;

	/* Without a known zone, the times are still checked for syntax. */
	if (r->tz == NULL)
		r->tz = g_time_zone_new_utc();
	check_start(r, spec, path, found);
	check_members(r, spec, path, found);
	check_overrides(r, spec, path, found);
	if (found->len > 0) {
		rota_free(r);
		r = NULL;
	}
	while (problems != NULL && found->len > 0)
		g_ptr_array_add(problems, g_ptr_array_steal_index(found, 0));
	g_ptr_array_unref(found);
	return r;
}

void
rota_free(struct rota *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_overrides; i++)
		g_free(r->overrides[i].member);
	g_free(r->overrides);
	g_strfreev(r->members);
	if (r->tz != NULL)
		g_time_zone_unref(r->tz);
	g_free(r->name);
	g_free(r);
}

const char *
rota_name(const struct rota *r)
{
	return r->name;
}
