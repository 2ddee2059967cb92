/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by the notify stage's providers: SMS alphabet detection,
 * Retry-After parsing and the page list of status URLs, all implemented in
 * notify_twilio.c.
 */
#ifndef CRITGATE_NOTIFY_PRIV_H
#define CRITGATE_NOTIFY_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "notify.h"

/* Tells whether every character of the UTF-8 string s is in GSM 03.38. */
bool	notify_text_is_gsm7(const char *s);

/*
 * Returns the delay in a Retry-After value (delta-seconds, or an HTTP-date
 * taken relative to now_ms) in ms, or -1 when value is NULL or invalid.
 */
int64_t	notify_retry_after_ms(const char *value, int64_t now_ms);

/* Appends the ids of pages to url as "pages=5,6", up to
 * NOTIFY_STATUS_URL_PAGES of them. */
void	notify_pages_param_add(GString *url, const struct notify_page *pages,
	    size_t n);

#endif
