/* SPDX-License-Identifier: ISC */
/*
 * Logging for every stage: one line per event on stderr, in the shape
 * "<stage>: <event> key=value ...". When stderr is not a terminal each line
 * starts with "<N>", the syslog level, which the systemd journal reads.
 */
#ifndef CRITGATE_LOG_H
#define CRITGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include <glib.h>

/*
 * Sets the most verbose level written (LOG_ERR ... LOG_DEBUG) and routes
 * GLib's and GMime's own messages through this module.  Safe to call again.
 */
void	log_init(int max_level);

/* The plain forms append ": <strerror(errno)>"; the x forms do not. */
void	log_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void	log_errorx(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void	log_warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void	log_info(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void	log_debug(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Logs at LOG_CRIT and exits with status 1: startup errors only. */
void	fatal(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;
void	fatalx(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

/*
 * Writes a phone number for a log line with all but its last 4 digits
 * hidden ("*******0001") into buf, which holds at least LOG_PHONE_LEN
 * bytes, and returns buf.
 */
#define LOG_PHONE_LEN	24
const char	*log_phone(const char *e164, char *buf);

#endif
