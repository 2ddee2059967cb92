/* SPDX-License-Identifier: ISC */
/*
 * Times for the rota stage: reading RFC 3339 times and zone-local times
 * without offset from the config, and converting between instants and
 * wall-clock times in a zone, with the rules for the times that a
 * daylight-saving change skips or repeats.
 */
#include <string.h>

#include <glib.h>

#include "rota.h"
#include "rota_priv.h"

#define MS_PER_S	1000
#define S_PER_DAY	86400
#define FRACTION_DIGITS_MAX	9
/* Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar. */
#define DAYS_TO_UNIX_EPOCH	719162
/*
 * A search bound for the instants that show a given wall-clock time: every
 * offset in zoneinfo, local mean time included, is within 26 hours of UTC.
 */
#define OFFSET_SPAN_S	(26 * 3600)

struct fields {
	int	year;
	int	month;
	int	day;
	int	hour;
	int	minute;
	int	second;
	int	milli;
};

static const int month_days[12] = {
	31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t	q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

static bool
is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
days_in_month(int year, int month)
{
	if (month == 2 && is_leap_year(year))
		return 29;
	return month_days[month - 1];
}

/* Days from 1970-01-01 to the date, negative before it. */
static int64_t
unix_day(int year, int month, int day)
{
	int64_t	y = year - 1;
	int64_t	days;
	int	m;

	days = 365 * y + y / 4 - y / 100 + y / 400;
	for (m = 1; m < month; m++)
		days += days_in_month(year, m);
	return days + day - 1 - DAYS_TO_UNIX_EPOCH;
}

/* Reads exactly width digits. */
static bool
read_digits(const char **p, int width, int *out)
{
	int	value = 0;
	int	i;

	for (i = 0; i < width; i++) {
		if (!g_ascii_isdigit((*p)[i]))
			return false;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += width;
	*out = value;
	return true;
}

static bool
read_char(const char **p, char c)
{
	if (g_ascii_tolower(**p) != g_ascii_tolower(c))
		return false;
	(*p)++;
	return true;
}

static int
read_date(const char **p, struct fields *f, char **reason)
{
	if (!read_digits(p, 4, &f->year) || !read_char(p, '-') ||
	    !read_digits(p, 2, &f->month) || !read_char(p, '-') ||
	    !read_digits(p, 2, &f->day)) {
		*reason = g_strdup("expected a date and time as "
		    "YYYY-MM-DDTHH:MM");
		return -1;
	}
	if (!read_char(p, 'T')) {
		*reason = g_strdup(
		    "expected \"T\" between the date and the time");
		return -1;
	}
	return 0;
}

/* Reads ".d..." into milliseconds; digits past the third are dropped. */
static int
read_fraction(const char **p, struct fields *f, char **reason)
{
	int	n = 0;

	f->milli = 0;
	if (!read_char(p, '.'))
		return 0;
	while (g_ascii_isdigit(**p)) {
		if (n < 3)
			f->milli = f->milli * 10 + (**p - '0');
		n++;
		(*p)++;
	}
	if (n == 0) {
		*reason = g_strdup("expected digits after \".\"");
		return -1;
	}
	if (n > FRACTION_DIGITS_MAX) {
		*reason = g_strdup_printf("more than %d digits of fractional "
		    "seconds", FRACTION_DIGITS_MAX);
		return -1;
	}
	for (; n < 3; n++)
		f->milli *= 10;
	return 0;
}

static int
read_clock(const char **p, struct fields *f, char **reason)
{
	f->second = 0;
	f->milli = 0;
	if (!read_digits(p, 2, &f->hour) || !read_char(p, ':') ||
	    !read_digits(p, 2, &f->minute)) {
		*reason = g_strdup(
		    "expected a time of day as hh:mm or hh:mm:ss");
		return -1;
	}
	if (!read_char(p, ':'))
		return 0;
	if (!read_digits(p, 2, &f->second)) {
		*reason = g_strdup(
		    "expected seconds as two digits after hh:mm:");
		return -1;
	}
	return read_fraction(p, f, reason);
}

static int
read_offset(const char **p, struct rota_time *out, char **reason)
{
	int	sign = 1;
	int	hours = 0;
	int	minutes = 0;
	bool	is_read = false;

	out->has_offset = **p != '\0';
	out->offset_s = 0;
	if (**p == '\0' || read_char(p, 'Z'))
		return 0;
	if (**p == '+' || **p == '-') {
		sign = **p == '-' ? -1 : 1;
		(*p)++;
		is_read = read_digits(p, 2, &hours) && read_char(p, ':') &&
		    read_digits(p, 2, &minutes);
	}
	if (!is_read) {
		*reason = g_strdup("expected an offset as Z, +hh:mm or -hh:mm");
		return -1;
	}
	if (hours > 23 || minutes > 59) {
		*reason = g_strdup_printf("offset %02d:%02d is out of range "
		    "00:00-23:59", hours, minutes);
		return -1;
	}
	out->offset_s = sign * (hours * 3600 + minutes * 60);
	return 0;
}

static int
check_fields(const struct fields *f, char **reason)
{
	if (f->year < 1) {
		*reason = g_strdup("year 0000 is out of range 0001-9999");
	} else if (f->month < 1 || f->month > 12) {
		*reason = g_strdup_printf("month %02d is out of range 01-12",
		    f->month);
	} else if (f->day < 1 || f->day > days_in_month(f->year, f->month)) {
		*reason = g_strdup_printf(
		    "day %02d does not exist in %04d-%02d",
		    f->day, f->year, f->month);
	} else if (f->hour > 23) {
		*reason = g_strdup_printf("hour %02d is out of range 00-23",
		    f->hour);
	} else if (f->minute > 59) {
		*reason = g_strdup_printf("minute %02d is out of range 00-59",
		    f->minute);
	} else if (f->second == 60) {
		*reason = g_strdup("leap second 60 is not supported");
	} else if (f->second > 59) {
		*reason = g_strdup_printf("second %02d is out of range 00-59",
		    f->second);
	} else {
		return 0;
	}
	return -1;
}

int
rota_time_read(const char *text, struct rota_time *out, char **error)
{
	struct fields	 f;
	const char	*p = text;
	char		*reason = NULL;
	int64_t		 seconds;
	int		 rc = -1;

	if (text == NULL || *text == '\0') {
		reason = g_strdup("the text is empty");
		goto out;
	}
	if (read_date(&p, &f, &reason) == -1)
		goto out;
	if (read_clock(&p, &f, &reason) == -1)
		goto out;
	if (read_offset(&p, out, &reason) == -1)
		goto out;
	if (*p != '\0') {
		reason = g_strdup_printf("unexpected \"%s\" after the time", p);
		goto out;
	}
	if (check_fields(&f, &reason) == -1)
		goto out;
	seconds = unix_day(f.year, f.month, f.day) * S_PER_DAY +
	    f.hour * 3600 + f.minute * 60 + f.second;
	out->wall_ms = seconds * MS_PER_S + f.milli;
	rc = 0;
out:
	if (rc == -1 && error != NULL)
		*error = g_strdup_printf("invalid time \"%s\": %s",
		    text != NULL ? text : "", reason);
	g_free(reason);
	return rc;
}

static int32_t
offset_at(GTimeZone *tz, int64_t at_s)
{
	gint	interval;

	interval = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, at_s);
	return g_time_zone_get_offset(tz, interval);
}

/*
 * Finds the first instant after a gap that skips wall_s: the smallest
 * instant whose wall-clock time is later than wall_s.  lo shows a time no
 * later than wall_s and hi a later one, so bisection finds where the clock
 * jumps over wall_s.
 */
static int64_t
gap_end(GTimeZone *tz, int64_t wall_s, int64_t lo, int64_t hi)
{
	int64_t	mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (mid + offset_at(tz, mid) > wall_s)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

int64_t
rota_wall_to_instant(GTimeZone *tz, int64_t wall_ms)
{
	int64_t	wall_s = floor_div(wall_ms, MS_PER_S);
	int64_t	milli = wall_ms - wall_s * MS_PER_S;
	int64_t	at_s;
	gint	first;
	gint	last;
	gint	i;

	/*
	 * Each interval of constant offset that overlaps the window can show
	 * wall_s once.  The intervals come in time order, so the first that
	 * does gives the earlier instant of a repeated time.
	 */
	first = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL,
	    wall_s - OFFSET_SPAN_S);
	last = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL,
	    wall_s + OFFSET_SPAN_S);
	for (i = first; i <= last; i++) {
		at_s = wall_s - g_time_zone_get_offset(tz, i);
		if (g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL,
		    at_s) == i)
			return at_s * MS_PER_S + milli;
	}
	return gap_end(tz, wall_s, wall_s - OFFSET_SPAN_S,
	    wall_s + OFFSET_SPAN_S) * MS_PER_S;
}

int64_t
rota_instant_to_wall(GTimeZone *tz, int64_t at_ms)
{
	int64_t	at_s = floor_div(at_ms, MS_PER_S);

	return at_ms + (int64_t)offset_at(tz, at_s) * MS_PER_S;
}

static bool
is_in_range(int64_t at_ms)
{
	return at_ms >= ROTA_TIME_MIN_MS && at_ms <= ROTA_TIME_MAX_MS;
}

static int
out_of_range(const char *text, char **error)
{
	if (error != NULL)
		*error = g_strdup_printf("invalid time \"%s\": it is outside "
		    "the years 0001-9999 in UTC", text);
	return -1;
}

int
rota_parse_time(const char *text, GTimeZone *tz, int64_t *out_ms,
    char **error)
{
	struct rota_time	t;
	int64_t			at_ms;

	if (rota_time_read(text, &t, error) == -1)
		return -1;
	if (t.has_offset) {
		at_ms = t.wall_ms - (int64_t)t.offset_s * MS_PER_S;
	} else if (tz != NULL) {
		at_ms = rota_wall_to_instant(tz, t.wall_ms);
	} else {
		if (error != NULL)
			*error = g_strdup_printf("invalid time \"%s\": it has "
			    "no offset and no time zone is known", text);
		return -1;
	}
	if (!is_in_range(at_ms))
		return out_of_range(text, error);
	*out_ms = at_ms;
	return 0;
}

int
rota_parse_wall(const char *text, GTimeZone *tz, int64_t *out_wall_ms,
    char **error)
{
	struct rota_time	t;
	int64_t			at_ms;

	if (rota_parse_time(text, tz, &at_ms, error) == -1)
		return -1;
	if (rota_time_read(text, &t, error) == -1)
		return -1;
	if (t.has_offset)
		*out_wall_ms = rota_instant_to_wall(tz, at_ms);
	else
		*out_wall_ms = t.wall_ms;
	return 0;
}
