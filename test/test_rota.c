/* SPDX-License-Identifier: ISC */
/*
 * Tests of the rota stage: shifts across daylight-saving changes in several
 * zones, the skipped and repeated hours, overrides, gaps, the config check's
 * messages and the time parser.  Expected instants come from GLib's
 * GDateTime for unambiguous local times, or are written out in UTC.
 */
#include <glib.h>

#include "rota.h"
#include "tap.h"

#define HOUR_MS		3600000LL
#define DAY_MS		(24 * HOUR_MS)

static const char *const two[] = { "ana", "bo" };
static const char *const three[] = { "ana", "bo", "cy" };

static int64_t
utc_ms(int year, int month, int day, int hour, int minute)
{
	GDateTime	*dt;
	int64_t		 ms;

	dt = g_date_time_new_utc(year, month, day, hour, minute, 0);
	ms = g_date_time_to_unix(dt) * 1000;
	g_date_time_unref(dt);
	return ms;
}

static struct rota *
build(const struct rota_spec *spec)
{
	GPtrArray	*problems;
	struct rota	*r;
	guint		 i;

	problems = g_ptr_array_new_with_free_func(g_free);
	r = rota_new(spec, "rotations[0]", problems);
	for (i = 0; i < problems->len; i++)
		printf("# unexpected problem: %s\n",
		    (char *)problems->pdata[i]);
	CHECK(r != NULL);
	CHECK_INT(problems->len, 0);
	g_ptr_array_unref(problems);
	return r;
}

/* Checks who is on call at an instant, since when and until when. */
#define CHECK_ONCALL(r, at, name, since, until) do {			\
	struct rota_shift check_shift_;					\
									\
	CHECK_INT(rota_oncall((r), (at), &check_shift_), 0);		\
	CHECK_STR(check_shift_.member, (name));				\
	CHECK_INT(check_shift_.since_ms, (since));			\
	CHECK_INT(check_shift_.until_ms, (until));			\
} while (0)

static struct rota *
weekly_berlin(const struct rota_override_spec *overrides, size_t n)
{
	struct rota_spec	spec = {
		.name = "primary", .time_zone = "Europe/Berlin",
		.shift_hours = 168, .start = "2026-01-05T09:00",
		.members = two, .n_members = 2,
		.overrides = overrides, .n_overrides = n,
	};

	return build(&spec);
}

static void
weekly_march_change_shift_is_167h(void)
{
	struct rota	*r = weekly_berlin(NULL, 0);
	int64_t		 mar23 = utc_ms(2026, 3, 23, 8, 0);	/* 09:00 CET */
	int64_t		 mar30 = utc_ms(2026, 3, 30, 7, 0);	/* 09:00 CEST */

	/* 2026-03-23 is 11 weeks after the start, so bo has that week. */
	CHECK_ONCALL(r, utc_ms(2026, 3, 29, 12, 0), "bo", mar23, mar30);
	CHECK_INT(mar30 - mar23, 167 * HOUR_MS);
	CHECK_ONCALL(r, mar30, "ana", mar30, utc_ms(2026, 4, 6, 7, 0));
	rota_free(r);
}

static void
weekly_october_change_shift_is_169h(void)
{
	struct rota	*r = weekly_berlin(NULL, 0);
	int64_t		 oct19 = utc_ms(2026, 10, 19, 7, 0);	/* 09:00 CEST */
	int64_t		 oct26 = utc_ms(2026, 10, 26, 8, 0);	/* 09:00 CET */

	CHECK_ONCALL(r, utc_ms(2026, 10, 25, 1, 30), "bo", oct19, oct26);
	CHECK_INT(oct26 - oct19, 169 * HOUR_MS);
	CHECK_ONCALL(r, oct26, "ana", oct26, utc_ms(2026, 11, 2, 8, 0));
	rota_free(r);
}

static void
handover_instant_new_member_on(void)
{
	struct rota	*r = weekly_berlin(NULL, 0);
	int64_t		 jan12 = utc_ms(2026, 1, 12, 8, 0);
	struct rota_shift shift;

	CHECK_ONCALL(r, jan12, "bo", jan12, utc_ms(2026, 1, 19, 8, 0));
	CHECK_INT(rota_oncall(r, jan12 - 1, &shift), 0);
	CHECK_STR(shift.member, "ana");
	CHECK_INT(shift.until_ms, jan12);
	CHECK(!shift.is_override);
	rota_free(r);
}

static void
before_start_nobody_on_call(void)
{
	struct rota	*r = weekly_berlin(NULL, 0);
	int64_t		 start = utc_ms(2026, 1, 5, 8, 0);

	CHECK_ONCALL(r, start - 1, NULL, ROTA_TIME_MIN_MS, start);
	CHECK_ONCALL(r, utc_ms(2020, 1, 1, 0, 0), NULL, ROTA_TIME_MIN_MS,
	    start);
	CHECK_ONCALL(r, start, "ana", start, utc_ms(2026, 1, 12, 8, 0));
	rota_free(r);
}

static void
new_york_12h_shifts_follow_local_clock(void)
{
	struct rota_spec	 spec = {
		.name = "ny", .time_zone = "America/New_York",
		.shift_hours = 12, .start = "2026-03-01T09:00",
		.members = three, .n_members = 3,
	};
	struct rota		*r = build(&spec);
	int64_t			 mar7_21 = utc_ms(2026, 3, 8, 2, 0);
	int64_t			 mar8_09 = utc_ms(2026, 3, 8, 13, 0);
	int64_t			 oct31_21 = utc_ms(2026, 11, 1, 1, 0);
	int64_t			 nov1_09 = utc_ms(2026, 11, 1, 14, 0);

	/* Handover 13 (Mar 7, 21:00 EST) goes to bo, 14 to cy. */
	CHECK_ONCALL(r, mar7_21, "bo", mar7_21, mar8_09);
	CHECK_INT(mar8_09 - mar7_21, 11 * HOUR_MS);
	CHECK_ONCALL(r, mar8_09, "cy", mar8_09, utc_ms(2026, 3, 9, 1, 0));

	/* Clocks go back at 02:00 EDT on Nov 1: a 13-hour night shift. */
	CHECK_ONCALL(r, utc_ms(2026, 11, 1, 6, 30), "ana", oct31_21,
	    nov1_09);
	CHECK_INT(nov1_09 - oct31_21, 13 * HOUR_MS);
	CHECK_ONCALL(r, nov1_09, "bo", nov1_09, utc_ms(2026, 11, 2, 2, 0));
	rota_free(r);
}

static void
lord_howe_half_hour_change_followed(void)
{
	struct rota_spec	 spec = {
		.name = "lh", .time_zone = "Australia/Lord_Howe",
		.shift_hours = 24, .start = "2026-03-30T09:00",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);
	int64_t			 apr4 = utc_ms(2026, 4, 3, 22, 0); /* +11:00 */
	int64_t			 apr5 = utc_ms(2026, 4, 4, 22, 30); /* +10:30 */

	/* Clocks go back from 02:00 to 01:30 on 2026-04-05. */
	CHECK_ONCALL(r, utc_ms(2026, 4, 4, 20, 0), "bo", apr4, apr5);
	CHECK_INT(apr5 - apr4, 24 * HOUR_MS + HOUR_MS / 2);
	CHECK_ONCALL(r, apr5, "ana", apr5, apr5 + DAY_MS);
	rota_free(r);
}

static void
lord_howe_half_hour_gap_and_fold(void)
{
	GTimeZone	*tz = g_time_zone_new_identifier("Australia/Lord_Howe");
	int64_t		 ms = 0;

	/* 02:00-02:30 is skipped on 2026-10-04: 02:00 +10:30 is 15:30Z. */
	CHECK_INT(rota_parse_time("2026-10-04T02:15", tz, &ms, NULL), 0);
	CHECK_INT(ms, utc_ms(2026, 10, 3, 15, 30));
	/* 01:30-02:00 comes twice on 2026-04-05; the first is at +11:00. */
	CHECK_INT(rota_parse_time("2026-04-05T01:45", tz, &ms, NULL), 0);
	CHECK_INT(ms, utc_ms(2026, 4, 4, 14, 45));
	g_time_zone_unref(tz);
}

static void
kolkata_no_dst_fixed_offset(void)
{
	struct rota_spec	 spec = {
		.name = "in", .time_zone = "Asia/Kolkata",
		.shift_hours = 8, .start = "2026-01-01T06:00",
		.members = three, .n_members = 3,
	};
	struct rota		*r = build(&spec);
	int64_t			 since = utc_ms(2030, 6, 15, 8, 30);

	/* 14:00 IST on 2030-06-15 is handover 3 * 1626 + 1: bo. */
	CHECK_ONCALL(r, since + 1000, "bo", since, since + 8 * HOUR_MS);
	CHECK_ONCALL(r, utc_ms(2026, 1, 1, 0, 30), "ana",
	    utc_ms(2026, 1, 1, 0, 30), utc_ms(2026, 1, 1, 8, 30));
	rota_free(r);
}

static void
start_in_gap_moves_to_gap_end(void)
{
	struct rota_spec	 spec = {
		.name = "gap", .time_zone = "Europe/Berlin",
		.shift_hours = 24, .start = "2026-03-29T02:30",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);
	int64_t			 gap_end = utc_ms(2026, 3, 29, 1, 0);

	/* 02:30 does not exist that day; later days hand over at 02:30. */
	CHECK_ONCALL(r, gap_end - 1, NULL, ROTA_TIME_MIN_MS, gap_end);
	CHECK_ONCALL(r, gap_end, "ana", gap_end, utc_ms(2026, 3, 30, 0, 30));
	CHECK_ONCALL(r, utc_ms(2026, 3, 30, 0, 30), "bo",
	    utc_ms(2026, 3, 30, 0, 30), utc_ms(2026, 3, 31, 0, 30));
	rota_free(r);
}

static void
daily_handover_in_gap_at_gap_end(void)
{
	struct rota_spec	 spec = {
		.name = "gap", .time_zone = "Europe/Berlin",
		.shift_hours = 24, .start = "2026-03-01T02:30",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);

	/* Handover 28 falls in the gap of 2026-03-29 and happens at 03:00. */
	CHECK_ONCALL(r, utc_ms(2026, 3, 29, 0, 0), "bo",
	    utc_ms(2026, 3, 28, 1, 30), utc_ms(2026, 3, 29, 1, 0));
	CHECK_ONCALL(r, utc_ms(2026, 3, 29, 1, 0), "ana",
	    utc_ms(2026, 3, 29, 1, 0), utc_ms(2026, 3, 30, 0, 30));
	rota_free(r);
}

static void
hourly_shifts_in_gap_skip_empty_shift(void)
{
	struct rota_spec	 spec = {
		.name = "hourly", .time_zone = "Europe/Berlin",
		.shift_hours = 1, .start = "2026-03-29T00:00",
		.members = three, .n_members = 3,
	};
	struct rota		*r = build(&spec);
	int64_t			 change = utc_ms(2026, 3, 29, 1, 0);

	/*
	 * 00:00 ana, 01:00 bo, 02:00 cy (skipped: it shares its instant with
	 * 03:00), 03:00 ana.
	 */
	CHECK_ONCALL(r, change - 1, "bo", change - HOUR_MS, change);
	CHECK_ONCALL(r, change, "ana", change, change + HOUR_MS);
	rota_free(r);
}

static void
hourly_shifts_skipped_day_follow_clock(void)
{
	struct rota_spec	 spec = {
		.name = "apia", .time_zone = "Pacific/Apia",
		.shift_hours = 1, .start = "2011-12-29T00:00",
		.members = three, .n_members = 3,
	};
	struct rota		*r = build(&spec);
	int64_t			 jump = utc_ms(2011, 12, 30, 10, 0);

	/*
	 * Samoa went from 2011-12-29T23:59:59-10:00 to 2011-12-31T00:00+14:00,
	 * so handovers 24 to 47 share one instant and 48 wins it.
	 */
	CHECK_ONCALL(r, jump - 1, "cy", jump - HOUR_MS, jump);
	CHECK_ONCALL(r, jump, "ana", jump, jump + HOUR_MS);
	CHECK_ONCALL(r, jump + HOUR_MS, "bo", jump + HOUR_MS,
	    jump + 2 * HOUR_MS);
	rota_free(r);
}

static void
start_in_repeated_hour_takes_earlier(void)
{
	struct rota_spec	 spec = {
		.name = "fold", .time_zone = "Europe/Berlin",
		.shift_hours = 24, .start = "2026-10-25T02:30",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);
	int64_t			 start = utc_ms(2026, 10, 25, 0, 30);

	/* 02:30 CEST, then 02:30 CET the next day: 25 hours. */
	CHECK_ONCALL(r, start, "ana", start, utc_ms(2026, 10, 26, 1, 30));
	CHECK_ONCALL(r, start - 1, NULL, ROTA_TIME_MIN_MS, start);
	rota_free(r);
}

static void
start_with_offset_kept_as_written(void)
{
	struct rota_spec	 spec = {
		.name = "fold", .time_zone = "Europe/Berlin",
		.shift_hours = 24, .start = "2026-10-25T02:30:00+01:00",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);
	int64_t			 start = utc_ms(2026, 10, 25, 1, 30);

	/* The second 02:30 of that night, as its offset +01:00 gives. */
	CHECK_ONCALL(r, start - 1, NULL, ROTA_TIME_MIN_MS, start);
	CHECK_ONCALL(r, start, "ana", start, utc_ms(2026, 10, 26, 1, 30));
	rota_free(r);
}

static void
daily_handover_in_repeated_hour_earlier(void)
{
	struct rota_spec	 spec = {
		.name = "fold", .time_zone = "America/New_York",
		.shift_hours = 24, .start = "2026-10-01T01:30",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);
	int64_t			 first = utc_ms(2026, 11, 1, 5, 30);

	/* 01:30 EDT (05:30Z) rather than 01:30 EST (06:30Z). */
	CHECK_ONCALL(r, first, "bo", first, utc_ms(2026, 11, 2, 6, 30));
	CHECK_ONCALL(r, first - 1, "ana", utc_ms(2026, 10, 31, 5, 30),
	    first);
	rota_free(r);
}

static const struct rota_override_spec christmas[] = {
	{ "cy", "2026-12-24T00:00", "2026-12-27T00:00" },
};

static void
override_inside_member_replaced(void)
{
	struct rota	*r = weekly_berlin(christmas, 1);
	int64_t		 from = utc_ms(2026, 12, 23, 23, 0);
	int64_t		 until = utc_ms(2026, 12, 26, 23, 0);
	struct rota_shift shift;

	CHECK_INT(rota_oncall(r, utc_ms(2026, 12, 25, 12, 0), &shift), 0);
	CHECK_STR(shift.member, "cy");
	CHECK(shift.is_override);
	CHECK_INT(shift.since_ms, from);
	CHECK_INT(shift.until_ms, until);
	rota_free(r);
}

static void
override_edges_half_open(void)
{
	struct rota	*r = weekly_berlin(christmas, 1);
	int64_t		 from = utc_ms(2026, 12, 23, 23, 0);
	int64_t		 until = utc_ms(2026, 12, 26, 23, 0);
	int64_t		 dec21 = utc_ms(2026, 12, 21, 8, 0);
	int64_t		 dec28 = utc_ms(2026, 12, 28, 8, 0);
	struct rota_shift shift;

	/* Week 50 from the start: ana.  The override cuts her shift. */
	CHECK_ONCALL(r, from - 1, "ana", dec21, from);
	CHECK_ONCALL(r, from, "cy", from, until);
	CHECK_ONCALL(r, until - 1, "cy", from, until);
	CHECK_ONCALL(r, until, "ana", until, dec28);
	CHECK_INT(rota_oncall(r, until, &shift), 0);
	CHECK(!shift.is_override);
	rota_free(r);
}

static void
override_overlap_later_wins(void)
{
	static const struct rota_override_spec overrides[] = {
		{ "cy", "2026-12-24T00:00", "2026-12-27T00:00" },
		{ "dee", "2026-12-25T12:00", "2026-12-26T12:00" },
	};
	struct rota	*r = weekly_berlin(overrides, 2);
	int64_t		 a_from = utc_ms(2026, 12, 23, 23, 0);
	int64_t		 a_until = utc_ms(2026, 12, 26, 23, 0);
	int64_t		 b_from = utc_ms(2026, 12, 25, 11, 0);
	int64_t		 b_until = utc_ms(2026, 12, 26, 11, 0);

	CHECK_ONCALL(r, utc_ms(2026, 12, 25, 0, 0), "cy", a_from, b_from);
	CHECK_ONCALL(r, b_from, "dee", b_from, b_until);
	CHECK_ONCALL(r, b_until, "cy", b_until, a_until);
	rota_free(r);
}

static void
override_overlap_earlier_loses(void)
{
	static const struct rota_override_spec overrides[] = {
		{ "dee", "2026-12-25T12:00", "2026-12-26T12:00" },
		{ "cy", "2026-12-24T00:00", "2026-12-27T00:00" },
	};
	struct rota	*r = weekly_berlin(overrides, 2);
	int64_t		 a_from = utc_ms(2026, 12, 23, 23, 0);
	int64_t		 a_until = utc_ms(2026, 12, 26, 23, 0);

	CHECK_ONCALL(r, utc_ms(2026, 12, 25, 18, 0), "cy", a_from, a_until);
	CHECK_ONCALL(r, utc_ms(2026, 12, 25, 0, 0), "cy", a_from, a_until);
	rota_free(r);
}

static void
override_with_offset_read_as_instant(void)
{
	static const struct rota_override_spec overrides[] = {
		{ "cy", "2026-07-01T10:00:00Z", "2026-07-01T14:00:00+02:00" },
	};
	struct rota	*r = weekly_berlin(overrides, 1);
	int64_t		 from = utc_ms(2026, 7, 1, 10, 0);

	CHECK_ONCALL(r, from, "cy", from, from + 2 * HOUR_MS);
	rota_free(r);
}

static void
override_before_start_fills_gap(void)
{
	static const struct rota_override_spec overrides[] = {
		{ "cy", "2026-01-01T00:00", "2026-01-02T00:00" },
	};
	struct rota	*r = weekly_berlin(overrides, 1);
	int64_t		 from = utc_ms(2025, 12, 31, 23, 0);
	int64_t		 until = utc_ms(2026, 1, 1, 23, 0);
	int64_t		 start = utc_ms(2026, 1, 5, 8, 0);

	CHECK_ONCALL(r, from - 1, NULL, ROTA_TIME_MIN_MS, from);
	CHECK_ONCALL(r, from, "cy", from, until);
	CHECK_ONCALL(r, until, NULL, until, start);
	rota_free(r);
}

/*
 * Handover instants by a route independent of the stage: wall-clock
 * arithmetic in UTC, where no clock changes, then GDateTime in the zone.
 * The start hour must never be skipped or repeated in the zone.
 */
static GArray *
reference_handovers(const char *zone, GDateTime *start_wall, int hours,
    int count)
{
	GTimeZone	*tz = g_time_zone_new_identifier(zone);
	GArray		*out = g_array_new(FALSE, FALSE, sizeof(int64_t));
	GDateTime	*wall;
	GDateTime	*dt;
	int64_t		 ms;
	int		 k;

	for (k = 0; k < count; k++) {
		wall = g_date_time_add_hours(start_wall, (gint)k * hours);
		dt = g_date_time_new(tz, g_date_time_get_year(wall),
		    g_date_time_get_month(wall),
		    g_date_time_get_day_of_month(wall),
		    g_date_time_get_hour(wall), 0, 0);
		ms = g_date_time_to_unix(dt) * 1000;
		g_array_append_val(out, ms);
		g_date_time_unref(dt);
		g_date_time_unref(wall);
	}
	g_time_zone_unref(tz);
	return out;
}

/* Compares rota_oncall with a linear search of the reference handovers. */
static void
compare_with_reference(const struct rota_spec *spec, int count)
{
	struct rota	*r = build(spec);
	GDateTime	*start_wall;
	GArray		*ref;
	GRand		*rand = g_rand_new_with_seed(20260105);
	int64_t		 lo;
	int64_t		 hi;
	int64_t		 at;
	int		 i;
	int		 k;
	int		 mismatches = 0;

	start_wall = g_date_time_new_utc(2016, 1, 4, 9, 0, 0);
	ref = reference_handovers(spec->time_zone, start_wall,
	    (int)spec->shift_hours, count);
	lo = g_array_index(ref, int64_t, 0);
	hi = g_array_index(ref, int64_t, count - 1);
	for (i = 0; i < 3000; i++) {
		struct rota_shift	shift;

		at = lo + (int64_t)(g_rand_double(rand) * (double)(hi - lo));
		for (k = 0; g_array_index(ref, int64_t, k + 1) <= at; k++)
			continue;
		CHECK_INT(rota_oncall(r, at, &shift), 0);
		if (shift.since_ms != g_array_index(ref, int64_t, k) ||
		    shift.until_ms != g_array_index(ref, int64_t, k + 1) ||
		    strcmp(shift.member,
		    spec->members[k % (int)spec->n_members]) != 0)
			mismatches++;
	}
	CHECK_INT(mismatches, 0);
	g_array_unref(ref);
	g_date_time_unref(start_wall);
	g_rand_free(rand);
	rota_free(r);
}

static void
ten_year_weekly_matches_reference(void)
{
	struct rota_spec	spec = {
		.name = "long", .time_zone = "Europe/Berlin",
		.shift_hours = 168, .start = "2016-01-04T09:00",
		.members = three, .n_members = 3,
	};

	compare_with_reference(&spec, 53 * 11);
}

static void
ten_year_12h_matches_reference(void)
{
	static const char *const five[] = { "a", "b", "c", "d", "e" };
	struct rota_spec	spec = {
		.name = "long", .time_zone = "America/New_York",
		.shift_hours = 12, .start = "2016-01-04T09:00",
		.members = five, .n_members = 5,
	};

	compare_with_reference(&spec, 2 * 366 * 11);
}

static void
ten_year_lord_howe_matches_reference(void)
{
	struct rota_spec	spec = {
		.name = "long", .time_zone = "Australia/Lord_Howe",
		.shift_hours = 24, .start = "2016-01-04T09:00",
		.members = two, .n_members = 2,
	};

	compare_with_reference(&spec, 366 * 11);
}

static void
hourly_since_1900_answers_at_once(void)
{
	struct rota_spec	 spec = {
		.name = "old", .time_zone = "Europe/Berlin",
		.shift_hours = 1, .start = "1900-01-01T09:00",
		.members = three, .n_members = 3,
	};
	struct rota		*r = build(&spec);
	GDate			*d1 = g_date_new_dmy(1, 1, 1900);
	GDate			*d2 = g_date_new_dmy(1, 6, 2026);
	int64_t			 k;
	struct rota_shift	 shift;

	/*
	 * 14:34 CEST on 2026-06-01 lies in the hour from 14:00, handover
	 * days * 24 + 5.  A loop over every hour since 1900 would take
	 * over a million zone lookups here.
	 */
	k = (int64_t)g_date_days_between(d1, d2) * 24 + 5;
	CHECK_INT(rota_oncall(r, utc_ms(2026, 6, 1, 12, 34), &shift), 0);
	CHECK_STR(shift.member, three[k % 3]);
	CHECK_INT(shift.since_ms, utc_ms(2026, 6, 1, 12, 0));
	CHECK_INT(shift.until_ms, utc_ms(2026, 6, 1, 13, 0));
	g_date_free(d1);
	g_date_free(d2);
	rota_free(r);
}

static void
oncall_out_of_range_fails(void)
{
	struct rota	*r = weekly_berlin(NULL, 0);
	struct rota_shift shift;

	CHECK_INT(rota_oncall(r, ROTA_TIME_MAX_MS + 1, &shift), -1);
	CHECK_INT(rota_oncall(r, ROTA_TIME_MIN_MS - 1, &shift), -1);
	CHECK_INT(rota_oncall(r, ROTA_TIME_MAX_MS, &shift), 0);
	rota_free(r);
}

static void
parse_rfc3339_with_offset_accepted(void)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} cases[] = {
		{ "2026-03-29T10:30:00Z", 1774780200000LL },
		{ "2026-03-29T10:30:00+02:00", 1774773000000LL },
		{ "2026-03-29T10:30:00-05:30", 1774800000000LL },
		{ "2026-03-29t10:30:00z", 1774780200000LL },
		{ "2026-03-29T10:30:00.5Z", 1774780200500LL },
		{ "2026-03-29T10:30:00.123456789Z", 1774780200123LL },
		{ "2026-03-29T10:30:00-00:00", 1774780200000LL },
		{ "2026-03-29T10:30Z", 1774780200000LL },
		{ "1969-12-31T23:59:59.999Z", -1LL },
		{ "2024-02-29T00:00:00Z", 1709164800000LL },
	};
	int64_t	ms;
	char	*error;
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		error = NULL;
		ms = 0;
		CHECK_INT(rota_parse_time(cases[i].text, NULL, &ms, &error), 0);
		CHECK_INT(ms, cases[i].ms);
		CHECK_STR(error, NULL);
		g_free(error);
	}
}

static void
parse_local_time_uses_zone(void)
{
	GTimeZone	*tz = g_time_zone_new_identifier("Europe/Berlin");
	int64_t		 ms = 0;
	char		*error = NULL;

	CHECK_INT(rota_parse_time("2026-01-05T09:00", tz, &ms, &error), 0);
	CHECK_INT(ms, utc_ms(2026, 1, 5, 8, 0));
	CHECK_INT(rota_parse_time("2026-07-05T09:00:00", tz, &ms, &error), 0);
	CHECK_INT(ms, utc_ms(2026, 7, 5, 7, 0));
	CHECK_INT(rota_parse_time("2026-03-29T02:30", tz, &ms, &error), 0);
	CHECK_INT(ms, utc_ms(2026, 3, 29, 1, 0));
	CHECK_INT(rota_parse_time("2026-10-25T02:30", tz, &ms, &error), 0);
	CHECK_INT(ms, utc_ms(2026, 10, 25, 0, 30));
	CHECK_STR(error, NULL);
	g_time_zone_unref(tz);
}

static void
parse_bad_times_rejected(void)
{
	static const struct {
		const char	*text;
		const char	*why;
	} cases[] = {
		{ "", "the text is empty" },
		{ "2026-01-05", "expected \"T\" between the date and the time" },
		{ "2026-1-05T09:00",
		  "expected a date and time as YYYY-MM-DDTHH:MM" },
		{ "2026-01-05 09:00", "expected \"T\"" },
		{ "2026-01-05T9:00", "expected a time of day as hh:mm" },
		{ "2026-01-05T09:00:0", "expected seconds as two digits" },
		{ "2026-13-01T00:00", "month 13 is out of range 01-12" },
		{ "2026-02-29T00:00", "day 29 does not exist in 2026-02" },
		{ "2026-04-31T00:00", "day 31 does not exist in 2026-04" },
		{ "2026-01-05T24:00", "hour 24 is out of range 00-23" },
		{ "2026-01-05T09:60", "minute 60 is out of range 00-59" },
		{ "2026-12-31T23:59:60Z", "leap second 60 is not supported" },
		{ "2026-01-05T09:00:00.Z", "expected digits after \".\"" },
		{ "2026-01-05T09:00:00.1234567890Z", "more than 9 digits" },
		{ "2026-01-05T09:00+2:00", "expected an offset as Z" },
		{ "2026-01-05T09:00+0200", "expected an offset as Z" },
		{ "2026-01-05T09:00+24:00", "offset 24:00 is out of range" },
		{ "2026-01-05T09:00Z now", "unexpected \" now\" after the time" },
		{ "0000-01-01T00:00Z", "year 0000 is out of range 0001-9999" },
		{ "0001-01-01T00:30+01:00", "outside the years 0001-9999" },
		{ "2026-01-05T09:00", "no offset and no time zone" },
	};
	int64_t	ms = 42;
	char	*error;
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		error = NULL;
		CHECK_INT(rota_parse_time(cases[i].text, NULL, &ms, &error),
		    -1);
		CHECK_CONTAINS(error, cases[i].why);
		CHECK_CONTAINS(error, "invalid time \"");
		g_free(error);
	}
	CHECK_INT(ms, 42);
	CHECK_INT(rota_parse_time(NULL, NULL, &ms, NULL), -1);
}

/* Runs rota_new on spec and joins the problems with "\n". */
static char *
problems_of(const struct rota_spec *spec)
{
	GPtrArray	*problems = g_ptr_array_new_with_free_func(g_free);
	struct rota	*r;
	char		*joined;

	r = rota_new(spec, "rotations[0]", problems);
	CHECK(r == NULL);
	rota_free(r);
	g_ptr_array_add(problems, NULL);
	joined = g_strjoinv("\n", (char **)problems->pdata);
	g_ptr_array_unref(problems);
	return joined;
}

static void
validator_each_problem_reported(void)
{
	static const char *const members[] = { "ana", "" };
	static const struct rota_override_spec overrides[] = {
		{ "cy", "2026-12-27T00:00", "2026-12-24T00:00" },
		{ "", "2026-12-24", "2026-12-27T00:00" },
	};
	struct rota_spec	 spec = {
		.name = "primary", .time_zone = "Europe/Berln",
		.shift_hours = 0, .start = "2026-01-05T25:00",
		.members = members, .n_members = 2,
		.overrides = overrides, .n_overrides = 2,
	};
	char			*got = problems_of(&spec);

	CHECK_STR(got,
	    "rotations[0].time_zone: \"Europe/Berln\" is not a known time zone\n"
	    "rotations[0].shift_hours: 0 is out of range 1-8760\n"
	    "rotations[0].start: invalid time \"2026-01-05T25:00\": hour 25 is out of range 00-23\n"
	    "rotations[0].members[1]: empty name\n"
	    "rotations[0].overrides[0].until: \"2026-12-24T00:00\" is not after from \"2026-12-27T00:00\"\n"
	    "rotations[0].overrides[1].member: missing\n"
	    "rotations[0].overrides[1].from: invalid time \"2026-12-24\": expected \"T\" between the date and the time");
	g_free(got);
}

static void
validator_missing_fields_reported(void)
{
	struct rota_spec	 spec = { .shift_hours = 8761 };
	char			*got = problems_of(&spec);

	CHECK_STR(got,
	    "rotations[0].name: missing\n"
	    "rotations[0].time_zone: missing; name an IANA time zone such as \"Europe/Berlin\"\n"
	    "rotations[0].shift_hours: 8761 is out of range 1-8760\n"
	    "rotations[0].start: missing\n"
	    "rotations[0].members: empty; name at least one member");
	g_free(got);
}

static void
validator_good_rotation_accepted(void)
{
	GPtrArray	*problems = g_ptr_array_new_with_free_func(g_free);
	struct rota_spec spec = {
		.name = "primary", .time_zone = "Europe/Berlin",
		.shift_hours = 168, .start = "2026-01-05T09:00",
		.members = two, .n_members = 2,
		.overrides = christmas, .n_overrides = 1,
	};
	struct rota	*r;

	r = rota_new(&spec, NULL, problems);
	CHECK(r != NULL);
	CHECK_INT(problems->len, 0);
	CHECK_STR(rota_name(r), "primary");
	rota_free(r);
	g_ptr_array_unref(problems);
}

static void
gaps_start_in_3_days_one_gap(void)
{
	struct rota_spec	 spec = {
		.name = "new", .time_zone = "Europe/Berlin",
		.shift_hours = 24, .start = "2026-06-04T14:00",
		.members = two, .n_members = 2,
	};
	struct rota		*r = build(&spec);
	int64_t			 now = utc_ms(2026, 6, 1, 12, 0);
	GArray			*gaps = rota_gaps(r, now, now + 14 * DAY_MS);
	struct rota_gap		*gap;

	CHECK(gaps != NULL);
	CHECK_INT(gaps->len, 1);
	gap = &g_array_index(gaps, struct rota_gap, 0);
	CHECK_INT(gap->from_ms, now);
	CHECK_INT(gap->until_ms, now + 3 * DAY_MS);
	g_array_unref(gaps);
	rota_free(r);
}

static void
gaps_override_splits_gap(void)
{
	static const struct rota_override_spec overrides[] = {
		{ "cy", "2026-06-02T00:00", "2026-06-02T12:00" },
		{ "dee", "2026-06-02T06:00", "2026-06-02T18:00" },
		{ "eve", "2026-06-20T00:00", "2026-06-21T00:00" },
	};
	struct rota_spec	 spec = {
		.name = "new", .time_zone = "Europe/Berlin",
		.shift_hours = 24, .start = "2026-06-04T14:00",
		.members = two, .n_members = 2,
		.overrides = overrides, .n_overrides = 3,
	};
	struct rota		*r = build(&spec);
	int64_t			 now = utc_ms(2026, 6, 1, 12, 0);
	GArray			*gaps = rota_gaps(r, now, now + 14 * DAY_MS);
	struct rota_gap		*gap;

	CHECK(gaps != NULL);
	CHECK_INT(gaps->len, 2);
	gap = &g_array_index(gaps, struct rota_gap, 0);
	CHECK_INT(gap->from_ms, now);
	CHECK_INT(gap->until_ms, utc_ms(2026, 6, 1, 22, 0));
	gap = &g_array_index(gaps, struct rota_gap, 1);
	CHECK_INT(gap->from_ms, utc_ms(2026, 6, 2, 16, 0));
	CHECK_INT(gap->until_ms, utc_ms(2026, 6, 4, 12, 0));
	g_array_unref(gaps);
	rota_free(r);
}

static void
gaps_running_rotation_none(void)
{
	struct rota	*r = weekly_berlin(NULL, 0);
	int64_t		 now = utc_ms(2026, 6, 1, 12, 0);
	GArray		*gaps = rota_gaps(r, now, now + 14 * DAY_MS);

	CHECK(gaps != NULL);
	CHECK_INT(gaps->len, 0);
	g_array_unref(gaps);
	CHECK(rota_gaps(r, now, now) == NULL);
	CHECK(rota_gaps(r, now, ROTA_TIME_MAX_MS + 1) == NULL);
	rota_free(r);
}

static void
zoneinfo_has_tested_zones(void)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
		"Asia/Kolkata", "Pacific/Apia",
	};
	GTimeZone	*tz;
	size_t		 i;

	for (i = 0; i < G_N_ELEMENTS(zones); i++) {
		tz = g_time_zone_new_identifier(zones[i]);
		if (tz == NULL)
			printf("# zone %s is missing: install tzdata\n",
			    zones[i]);
		CHECK(tz != NULL);
		if (tz != NULL)
			g_time_zone_unref(tz);
	}
}

int
main(void)
{
	TAP_RUN(zoneinfo_has_tested_zones);
	TAP_RUN(weekly_march_change_shift_is_167h);
	TAP_RUN(weekly_october_change_shift_is_169h);
	TAP_RUN(handover_instant_new_member_on);
	TAP_RUN(before_start_nobody_on_call);
	TAP_RUN(new_york_12h_shifts_follow_local_clock);
	TAP_RUN(lord_howe_half_hour_change_followed);
	TAP_RUN(lord_howe_half_hour_gap_and_fold);
	TAP_RUN(kolkata_no_dst_fixed_offset);
	TAP_RUN(start_in_gap_moves_to_gap_end);
	TAP_RUN(daily_handover_in_gap_at_gap_end);
	TAP_RUN(hourly_shifts_in_gap_skip_empty_shift);
	TAP_RUN(hourly_shifts_skipped_day_follow_clock);
	TAP_RUN(start_in_repeated_hour_takes_earlier);
	TAP_RUN(start_with_offset_kept_as_written);
	TAP_RUN(daily_handover_in_repeated_hour_earlier);
	TAP_RUN(override_inside_member_replaced);
	TAP_RUN(override_edges_half_open);
	TAP_RUN(override_overlap_later_wins);
	TAP_RUN(override_overlap_earlier_loses);
	TAP_RUN(override_with_offset_read_as_instant);
	TAP_RUN(override_before_start_fills_gap);
	TAP_RUN(ten_year_weekly_matches_reference);
	TAP_RUN(ten_year_12h_matches_reference);
	TAP_RUN(ten_year_lord_howe_matches_reference);
	TAP_RUN(hourly_since_1900_answers_at_once);
	TAP_RUN(oncall_out_of_range_fails);
	TAP_RUN(parse_rfc3339_with_offset_accepted);
	TAP_RUN(parse_local_time_uses_zone);
	TAP_RUN(parse_bad_times_rejected);
	TAP_RUN(validator_each_problem_reported);
	TAP_RUN(validator_missing_fields_reported);
	TAP_RUN(validator_good_rotation_accepted);
	TAP_RUN(gaps_start_in_3_days_one_gap);
	TAP_RUN(gaps_override_splits_gap);
	TAP_RUN(gaps_running_rotation_none);
	return tap_done();
}
