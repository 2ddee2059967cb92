/* SPDX-License-Identifier: ISC */
/*
 * The log stage: formats one line per event on stderr.  Every other stage,
 * and GLib/GMime through a log writer, reaches stderr only through here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int	log_max_level = LOG_INFO;
static bool	log_is_tty;

static void
log_vwrite(int level, const char *fmt, va_list ap, int saved_errno,
    bool add_errno)
{
	GString	*line;

	if (level > log_max_level)
		return;
	line = g_string_sized_new(128);
	if (!log_is_tty)
		g_string_append_printf(line, "<%d>", level);
	g_string_append_vprintf(line, fmt, ap);
	if (add_errno)
		g_string_append_printf(line, ": %s", g_strerror(saved_errno));
	g_string_append_c(line, '\n');
	/* One write per line keeps lines of concurrent writers whole. */
	(void)!write(STDERR_FILENO, line->str, line->len);
	g_string_free(line, TRUE);
}

static GLogWriterOutput
log_glib_writer(GLogLevelFlags flags, const GLogField *fields, gsize n_fields,
    gpointer user_data)
{
	const char	*domain = "glib", *message = "";
	int		 level = LOG_DEBUG;
	gsize		 i;

	(void)user_data;
	for (i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 &&
		    fields[i].length < 0)
			domain = fields[i].value;
		else if (strcmp(fields[i].key, "MESSAGE") == 0 &&
		    fields[i].length < 0)
			message = fields[i].value;
	}
	if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		level = LOG_ERR;
	else if (flags & G_LOG_LEVEL_WARNING)
		level = LOG_WARNING;
	else if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
		level = LOG_INFO;
	if (level == LOG_DEBUG)
		log_debug("lib: %s: %s", domain, message);
	else
		log_warnx("lib: %s: %s", domain, message);
	return G_LOG_WRITER_HANDLED;
}

void
log_init(int max_level)
{
	log_max_level = max_level;
	log_is_tty = isatty(STDERR_FILENO);
	g_log_set_writer_func(log_glib_writer, NULL, NULL);
}

#define LOG_DEFINE(name, level, add_errno)				\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	ap;							\
	int	saved_errno = errno;					\
									\
	va_start(ap, fmt);						\
	log_vwrite(level, fmt, ap, saved_errno, add_errno);		\
	va_end(ap);							\
	errno = saved_errno;						\
}

LOG_DEFINE(log_error, LOG_ERR, true)
LOG_DEFINE(log_errorx, LOG_ERR, false)
LOG_DEFINE(log_warn, LOG_WARNING, true)
LOG_DEFINE(log_warnx, LOG_WARNING, false)
LOG_DEFINE(log_info, LOG_INFO, false)
LOG_DEFINE(log_debug, LOG_DEBUG, false)

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, saved_errno, true);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0, false);
	va_end(ap);
	exit(1);
}

const char *
log_phone(const char *e164, char *buf)
{
	size_t	len, i;

	if (e164 == NULL) {
		g_strlcpy(buf, "-", LOG_PHONE_LEN);
		return buf;
	}
	len = strlen(e164);
	if (len >= LOG_PHONE_LEN)
		len = LOG_PHONE_LEN - 1;
	for (i = 0; i < len; i++)
		buf[i] = (i + 4 < len) ? '*' : e164[strlen(e164) - len + i];
	buf[len] = '\0';
	return buf;
}
