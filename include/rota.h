/* SPDX-License-Identifier: ISC */
/*
 * The rota stage: on-call rotations.  Given a rotation from the config and
 * an instant, it returns who is on call, since when and until when, with
 * daylight-saving changes taken from the system's zoneinfo through GLib's
 * GTimeZone.  It reads no clock and opens no socket: times come in and go
 * out as milliseconds since the Unix epoch.
 */
#ifndef CRITGATE_ROTA_H
#define CRITGATE_ROTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Bounds of shift_hours: one hour to one year of 365 days. */
#define ROTA_SHIFT_HOURS_MIN	1
#define ROTA_SHIFT_HOURS_MAX	8760

/* Instants the stage handles: years 0001 to 9999 in UTC, inclusive. */
#define ROTA_TIME_MIN_MS	(-62135596800000LL)
#define ROTA_TIME_MAX_MS	253402300799999LL

/*
 * One override as the config writes it: member is on call during
 * [from, until).  Times are text, read as by rota_parse_time in the
 * rotation's zone.  Everything is borrowed.
 */
struct rota_override_spec {
	const char	*member;
	const char	*from;
	const char	*until;
};

/*
 * One rotation as the config writes it; everything is borrowed.
 *
 * Members take turns in list order, each for shift_hours, beginning at
 * start.  Handover k (k = 0, 1, ...) happens at the wall-clock time
 * start + k * shift_hours in time_zone.  The addition is done on the local
 * date and time, never on the UTC instant.  So a weekly shift starting
 * Monday 09:00 hands over at Monday 09:00 local time all year, and a shift
 * that spans a daylight-saving change lasts an hour more or less (167 or
 * 169 hours for a weekly one).  With a whole number of days this adds days
 * on the calendar, otherwise it adds hours on the local clock, so 12-hour
 * shifts from 09:00 hand over at 09:00 and 21:00 local time.  Each handover
 * wall-clock time becomes an instant through the zone:
 *  - a time that does not exist (the hour skipped when clocks go forward)
 *    becomes the first instant after the gap, when the clocks change;
 *  - a time that occurs twice (when clocks go back) becomes the earlier
 *    of the two instants.
 * start without an offset is a wall-clock time in time_zone.  start with
 * an offset or "Z" is an instant, and its wall-clock time in time_zone is
 * what later handovers count from.
 */
struct rota_spec {
	const char				*name;
	const char				*time_zone;	/* IANA name */
	int64_t					 shift_hours;
	const char				*start;
	const char *const			*members;
	size_t					 n_members;
	const struct rota_override_spec		*overrides;
	size_t					 n_overrides;
};

/* A checked rotation with its own copies of the names; opaque. */
struct rota;

/*
 * Who is on call at one instant.  member is NULL when nobody is on call.
 * [since_ms, until_ms) is the interval around the instant during which the
 * same source decides: the same shift with no override, the same override,
 * or nobody.  A member may continue past until_ms, for example when an
 * override gives the next shift to the same person.  since_ms is
 * ROTA_TIME_MIN_MS when nothing ends before the instant.
 */
struct rota_shift {
	const char	*member;	/* borrowed until rota_free */
	int64_t		 since_ms;
	int64_t		 until_ms;
	bool		 is_override;
};

/* One time range, [from_ms, until_ms), during which nobody is on call. */
struct rota_gap {
	int64_t		 from_ms;
	int64_t		 until_ms;
};

/*
 * Parses a time as the config writes it and returns its instant in
 * *out_ms:
 *  - RFC 3339 with an offset, "2026-03-29T10:30:00Z" or
 *    "2026-03-29T10:30:00.250+02:00" (fractional seconds optional, kept to
 *    the millisecond, "T" and "Z" in either case);
 *  - a wall-clock time in tz without an offset, "2026-01-05T09:00" or
 *    "2026-01-05T09:00:00", converted by the rules of struct rota_spec
 *    (a skipped time becomes the end of the gap, a repeated time the
 *    earlier instant).
 * Seconds may be left out in both forms.  Years run from 0001 to 9999.
 * Leap seconds (":60") are rejected.  tz is borrowed and may be NULL when
 * the text carries an offset.  Returns 0, or -1 with *error set to a
 * message that quotes the text and names the problem (caller frees with
 * g_free; error may be NULL).
 */
int			 rota_parse_time(const char *text, GTimeZone *tz,
			    int64_t *out_ms, char **error);

/*
 * Checks spec and builds a rotation from it.  Returns a new rotation
 * (caller frees with rota_free), or NULL, in which case every problem found
 * has been appended to problems (unless NULL) as a newly allocated string
 * (the array should own its elements with g_free) of the form
 * "<path>.time_zone: \"Europe/Berln\" is not a known time zone".  path is
 * where the rotation sits in the config, e.g. "rotations[0]"; NULL gives
 * "rotation".  Checks: name and time zone present, the zone known to the
 * system, shift_hours within ROTA_SHIFT_HOURS_MIN..ROTA_SHIFT_HOURS_MAX,
 * start and every override time valid, at least one member, no empty
 * member name, each override ending after it starts.  Reads zoneinfo files
 * through GLib; does not log.
 */
struct rota		*rota_new(const struct rota_spec *spec,
			    const char *path, GPtrArray *problems);

/* Frees r; rota_free(NULL) does nothing. */
void			 rota_free(struct rota *r);

/* Returns the rotation's name, borrowed until rota_free. */
const char		*rota_name(const struct rota *r);

/*
 * Finds who is on call in r at at_ms and fills out.  Before the first
 * handover nobody is on call unless an override covers the instant.  During
 * an override's [from, until) its member is on call instead of the shift's,
 * and when overrides overlap, the one later in the list wins.  Outside
 * overrides, out->until_ms is the earlier of the end of the shift and the
 * start of the next override.  During one, it is the earlier of that
 * override's end and the start of an override later in the list, while the
 * end of the shift underneath does not bound it.  The cost grows
 * with the number of overrides, not with the time since start.  Returns 0,
 * or -1 when at_ms lies outside ROTA_TIME_MIN_MS..ROTA_TIME_MAX_MS.
 */
int			 rota_oncall(const struct rota *r, int64_t at_ms,
			    struct rota_shift *out);

/*
 * Lists the time ranges within [from_ms, until_ms) during which nobody is
 * on call in r, in order, adjacent ranges merged, each clipped to
 * [from_ms, until_ms).  Returns a new array of struct rota_gap, empty when
 * someone is always on call (caller frees with g_array_unref), or NULL when
 * the range is empty or lies outside ROTA_TIME_MIN_MS..ROTA_TIME_MAX_MS.
 */
GArray			*rota_gaps(const struct rota *r, int64_t from_ms,
			    int64_t until_ms);

#endif
