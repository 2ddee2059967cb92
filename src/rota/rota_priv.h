/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the rota stage's files: the checked rotation and the
 * conversions between instants and wall-clock times in a zone.  A
 * wall-clock time is kept as milliseconds since 1970-01-01T00:00 on the
 * zone's clock, that is, the local date and time read as if it were UTC, so
 * that adding hours or days to it is calendar arithmetic on the local clock.
 */
#ifndef CRITGATE_ROTA_PRIV_H
#define CRITGATE_ROTA_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

struct rota_override {
	char		*member;
	int64_t		 from_ms;
	int64_t		 until_ms;
};

struct rota {
	char			*name;
	GTimeZone		*tz;
	int64_t			 start_wall_ms;	/* handover 0, local clock */
	int64_t			 start_ms;	/* handover 0, an instant */
	int64_t			 shift_ms;
	char			**members;
	size_t			 n_members;
	struct rota_override	*overrides;
	size_t			 n_overrides;
};

/* A time as written: its wall-clock value and the offset, if it has one. */
struct rota_time {
	int64_t		 wall_ms;
	bool		 has_offset;
	int32_t		 offset_s;	/* east of UTC */
};

/*
 * Reads the syntax of text (see rota_parse_time) into out.  Returns 0, or
 * -1 with *error set (caller frees with g_free; error may be NULL).
 */
int	rota_time_read(const char *text, struct rota_time *out, char **error);

/*
 * Converts a wall-clock time in tz to an instant: a skipped time becomes
 * the first instant after the gap, a repeated time the earlier instant.
 */
int64_t	rota_wall_to_instant(GTimeZone *tz, int64_t wall_ms);

/* Converts an instant to the wall-clock time in tz. */
int64_t	rota_instant_to_wall(GTimeZone *tz, int64_t at_ms);

/*
 * Parses text like rota_parse_time but returns its wall-clock time in tz:
 * text without an offset as written, text with one converted.  tz must
 * not be NULL.
 */
int	rota_parse_wall(const char *text, GTimeZone *tz, int64_t *out_wall_ms,
	    char **error);

#endif
