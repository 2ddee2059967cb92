/* SPDX-License-Identifier: ISC */
/*
 * "critgate deliver": takes one message on standard input from a local
 * MTA (Postfix pipe(8), procmail, .forward) and commits it to the same
 * store as the SMTP listener.  The exit status follows sysexits.h, so the
 * MTA retries a temporary failure and bounces a refusal; a running daemon
 * picks the message up at its next check, within a second.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"

/*
 * Reads standard input into a new array, with line ends made CRLF (MTAs
 * hand pipes LF-only lines), up to max bytes.  Returns NULL when the input
 * is larger or cannot be read; *is_too_big tells which.
 */
static GByteArray *
read_message(size_t max, bool *is_too_big)
{
	GByteArray	*data = g_byte_array_new();
	uint8_t		 buf[65536], prev = 0;
	ssize_t		 n, i;

	*is_too_big = false;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			log_error("deliver: reading the message failed");
			g_byte_array_free(data, TRUE);
			return NULL;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				g_byte_array_append(data, (const uint8_t *)"\r",
				    1);
			g_byte_array_append(data, &buf[i], 1);
			prev = buf[i];
		}
		if (data->len > max) {
			*is_too_big = true;
			g_byte_array_free(data, TRUE);
			return NULL;
		}
	}
	return data;
}

/* Checks every recipient; returns EX_OK or EX_NOUSER (logged). */
static int
check_recipients(const struct cfg *cfg, char **rcpts)
{
	size_t	i;

	for (i = 0; rcpts[i] != NULL; i++) {
		g_strstrip(rcpts[i]);
		if (rcpts[i][0] == '<') {
			memmove(rcpts[i], rcpts[i] + 1, strlen(rcpts[i]));
			rcpts[i][strcspn(rcpts[i], ">")] = '\0';
		}
		for (char *c = rcpts[i]; *c != '\0'; c++)
			*c = g_ascii_tolower(*c);
		if (cfg_route_find(cfg, rcpts[i]) == NULL) {
			log_errorx("deliver: recipient not routed rcpt=<%s>; "
			    "add it to routes or fix the MTA's transport",
			    rcpts[i]);
			return EX_NOUSER;
		}
	}
	return EX_OK;
}

static int
deliver_store(const struct cfg *cfg, const char *sender, char **rcpts,
    const GByteArray *data)
{
	struct store_envelope	 env;
	struct store		*store;
	int64_t			 msg_id;
	int			 rc = EX_TEMPFAIL;

	/* A store that cannot be opened or written is temporary: the MTA
	 * keeps the message and tries again. */
	store = daemon_store_open_beside(cfg->store_path, true);
	if (store == NULL)
		return EX_TEMPFAIL;
	memset(&env, 0, sizeof(env));
	env.mail_from = sender;
	env.rcpts = (const char *const *)rcpts;
	env.n_rcpts = g_strv_length(rcpts);
	env.peer = "pipe";
	env.received_ms = clock_now_ms();
	if (store_message_add(store, &env, data->data, data->len,
	    &msg_id) == -1)
		goto out;
	/* The log it wrote to was removed or replaced meanwhile: a restart
	 * may not find the message, which the MTA then sends again. */
	if (store_files_moved(store) != NULL) {
		log_errorx("deliver: the store's files were removed or "
		    "replaced while the message was stored msg=%"
		    G_GINT64_FORMAT "; the MTA tries again", msg_id);
		goto out;
	}
	log_info("deliver: message stored msg=%" G_GINT64_FORMAT
	    " mail_from=<%s> rcpts=%zu bytes=%u", msg_id, sender, env.n_rcpts,
	    data->len);
	rc = EX_OK;
out:
	store_close(store);
	return rc;
}

int
daemon_deliver_main(int argc, char **argv)
{
	const char	*config = NULL;
	char		*sender = NULL, **rcpts = NULL;
	GOptionEntry	 entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "sender", 'f', 0, G_OPTION_ARG_STRING, &sender,
		  "envelope sender (\"\" for a bounce)", "ADDRESS" },
		{ "recipient", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &rcpts,
		  "envelope recipient, repeatable", "ADDRESS" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext	*ctx;
	GByteArray	*data = NULL;
	char		*error = NULL;
	struct cfg	*cfg = NULL;
	bool		 is_too_big;
	int		 rc = EX_USAGE;

	log_init(LOG_INFO);
	ctx = g_option_context_new("- store one message from standard input");
	if (!daemon_options_parse(ctx, entries, &argc, &argv, &error)) {
		log_errorx("deliver: %s", error);
		g_free(error);
		goto out;
	}
	if (sender == NULL || rcpts == NULL || argc != 1) {
		log_errorx("deliver: --sender and at least one --recipient "
		    "are required, and nothing else");
		goto out;
	}
	/* MTAs pass the sender bare or as <address>; "<>" is a bounce. */
	g_strstrip(sender);
	if (sender[0] == '<' && sender[strlen(sender) - 1] == '>') {
		memmove(sender, sender + 1, strlen(sender));
		sender[strlen(sender) - 1] = '\0';
	}
	rc = EX_CONFIG;
	cfg = daemon_cfg_load(daemon_cfg_path(config));
	if (cfg == NULL)
		goto out;
	rc = check_recipients(cfg, rcpts);
	if (rc != EX_OK)
		goto out;
	data = read_message((size_t)cfg->max_message_bytes, &is_too_big);
	if (data == NULL) {
		if (is_too_big)
			log_errorx("deliver: message rejected: larger than "
			    "max_message_bytes=%" G_GINT64_FORMAT,
			    cfg->max_message_bytes);
		rc = is_too_big ? EX_DATAERR : EX_TEMPFAIL;
		goto out;
	}
	rc = deliver_store(cfg, sender, rcpts, data);
out:
	if (data != NULL)
		g_byte_array_free(data, TRUE);
	g_option_context_free(ctx);
	cfg_free(cfg);
	g_free(sender);
	g_strfreev(rcpts);
	g_free((char *)config);
	return rc;
}
