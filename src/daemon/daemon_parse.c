/* SPDX-License-Identifier: ISC */
/*
 * "critgate parse FILE": shows what critgate understands of a message,
 * without touching the store: routing, decoded headers, the text summary,
 * the class with its reason, and every decoding fallback applied.  The
 * classification runs as for a first message: no earlier mail exists.
 */
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "classify.h"
#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "parse.h"

#define SUMMARY_SHOWN	600	/* bytes of body text in the text output */

static int64_t
none_found(void *ctx, const char *key)
{
	(void)ctx;
	(void)key;
	return 0;
}

static int64_t
none_of_message(void *ctx, int64_t id)
{
	(void)ctx;
	(void)id;
	return 0;
}

static int64_t
none_since(void *ctx, const char *key, int64_t since_ms)
{
	(void)ctx;
	(void)key;
	(void)since_ms;
	return 0;
}

static bool
none_exists(void *ctx, int64_t id, bool *is_open)
{
	(void)ctx;
	(void)id;
	*is_open = false;
	return false;
}

/* An empty store: every message is the first of its kind. */
static const struct classify_lookup empty_lookup = {
	.message_by_message_id = none_found,
	.message_by_content_hash = none_found,
	.incident_of_message = none_of_message,
	.incident_by_message_id = none_found,
	.incident_by_fingerprint = none_since,
	.incident_by_sender = none_since,
	.incident_exists = none_exists,
};

/* The recipients: given ones, else the routed addresses in To and Cc. */
static GPtrArray *
recipients(const struct cfg *cfg, char **given, const struct parse_result *p)
{
	GPtrArray	*rcpts = g_ptr_array_new_with_free_func(g_free);
	GPtrArray	*lists[] = { p->to_addrs, p->cc_addrs };
	size_t		 i, j;

	for (i = 0; given != NULL && given[i] != NULL; i++)
		g_ptr_array_add(rcpts, g_ascii_strdown(given[i], -1));
	if (rcpts->len > 0)
		return rcpts;
	for (i = 0; i < G_N_ELEMENTS(lists); i++)
		for (j = 0; lists[i] != NULL && j < lists[i]->len; j++)
			if (cfg_route_find(cfg, g_ptr_array_index(lists[i],
			    j)) != NULL)
				g_ptr_array_add(rcpts, g_strdup(
				    g_ptr_array_index(lists[i], j)));
	return rcpts;
}

static void
print_text(const struct parse_result *p, const struct classify_result *cr,
    GPtrArray *rcpts)
{
	guint	i;

	printf("recipients:  ");
	for (i = 0; i < rcpts->len; i++)
		printf("%s%s", i ? ", " : "", (char *)rcpts->pdata[i]);
	printf("%s\n", rcpts->len == 0 ? "(none routed)" : "");
	printf("severity:    %s\n", cr->is_routed ?
	    cfg_severity_name(cr->severity) : "- (no routed recipient)");
	printf("class:       %s (%s)\n", classify_class_name(cr->class),
	    cr->reason);
	printf("subject:     %s\n", p->subject);
	printf("reporter:    %s%s%s%s\n", p->from_name ? p->from_name : "",
	    p->from_name ? " <" : "", p->from_addr ? p->from_addr : "-",
	    p->from_name ? ">" : "");
	printf("message-id:  %s\n", p->message_id ? p->message_id : "-");
	printf("unparseable: %s\n", p->is_unparseable ? "yes" : "no");
	for (i = 0; i < p->fallbacks->len; i++)
		printf("fallback:    %s\n", (char *)p->fallbacks->pdata[i]);
	printf("\n%.*s%s\n", SUMMARY_SHOWN, p->body_text,
	    strlen(p->body_text) > SUMMARY_SHOWN ? "\n[...]" : "");
}

static void
print_json(const struct parse_result *p, const struct classify_result *cr,
    GPtrArray *rcpts)
{
	JsonBuilder	*b = json_builder_new();

	json_builder_begin_object(b);
	daemon_json_strings(b, "recipients", rcpts);
	daemon_json_string(b, "severity", cr->is_routed ?
	    cfg_severity_name(cr->severity) : NULL);
	daemon_json_string(b, "class", classify_class_name(cr->class));
	daemon_json_string(b, "reason", cr->reason);
	daemon_json_string(b, "subject", p->subject);
	daemon_json_string(b, "reporter", p->from_addr);
	daemon_json_string(b, "reporter_name", p->from_name);
	daemon_json_string(b, "message_id", p->message_id);
	daemon_json_string(b, "in_reply_to", p->in_reply_to);
	daemon_json_strings(b, "references", p->references);
	daemon_json_string(b, "auto_submitted", p->auto_submitted);
	daemon_json_string(b, "fingerprint", cr->fingerprint);
	daemon_json_string(b, "content_hash", cr->content_hash);
	daemon_json_bool(b, "unparseable", p->is_unparseable);
	daemon_json_strings(b, "fallbacks", p->fallbacks);
	daemon_json_string(b, "body_text", p->body_text);
	json_builder_end_object(b);
	daemon_json_print(b);
}

static int
parse_file(const struct cfg *cfg, const char *path, char **given,
    const char *sender, bool is_json)
{
	struct classify_settings	 settings;
	struct classify_result		 cr;
	struct classify_input		 in;
	struct parse_result		 parsed;
	GPtrArray			*rcpts;
	GError				*err = NULL;
	char				*raw = NULL;
	gsize				 len = 0;

	if (!g_file_get_contents(path, &raw, &len, &err)) {
		fprintf(stderr, "critgate parse: %s\n", err->message);
		g_error_free(err);
		return 1;
	}
	parse_init();
	(void)parse_message((const uint8_t *)raw, len, &parsed);
	rcpts = recipients(cfg, given, &parsed);
	daemon_classify_settings(cfg, &settings);
	memset(&in, 0, sizeof(in));
	in.parsed = &parsed;
	in.mail_from = sender != NULL ? sender :
	    parsed.from_addr != NULL ? parsed.from_addr : "";
	in.rcpts = (const char *const *)rcpts->pdata;
	in.n_rcpts = rcpts->len;
	in.received_ms = clock_now_ms();
	in.raw = (const uint8_t *)raw;
	in.raw_len = len;
	if (classify_message(cfg, &settings, &in, &empty_lookup, NULL,
	    &cr) == 0) {
		if (is_json)
			print_json(&parsed, &cr, rcpts);
		else
			print_text(&parsed, &cr, rcpts);
		classify_result_fini(&cr);
	}
	g_ptr_array_free(rcpts, TRUE);
	parse_result_fini(&parsed);
	g_free(raw);
	return 0;
}

int
daemon_parse_main(int argc, char **argv)
{
	const char	*config = NULL;
	char		**rcpts = NULL, *sender = NULL;
	gboolean	 is_json = FALSE;
	GOptionEntry	 entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &is_json, "print JSON",
		  NULL },
		{ "recipient", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &rcpts,
		  "envelope recipient (default: routed To and Cc)",
		  "ADDRESS" },
		{ "sender", 'f', 0, G_OPTION_ARG_STRING, &sender,
		  "envelope sender (default: the From address)", "ADDRESS" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext	*ctx;
	struct cfg	*cfg = NULL;
	char		*error = NULL;
	int		 rc = 2;

	log_init(LOG_WARNING);
	ctx = g_option_context_new("FILE.eml - show how critgate reads a "
	    "message");
	if (!daemon_options_parse(ctx, entries, &argc, &argv, &error)) {
		fprintf(stderr, "critgate parse: %s\n", error);
		g_free(error);
		goto out;
	}
	if (argc != 2) {
		fprintf(stderr, "critgate parse: expected one message file\n");
		goto out;
	}
	rc = 1;
	cfg = daemon_cfg_load(daemon_cfg_path(config));
	if (cfg != NULL)
		rc = parse_file(cfg, argv[1], rcpts, sender, is_json);
out:
	g_option_context_free(ctx);
	cfg_free(cfg);
	g_strfreev(rcpts);
	g_free(sender);
	g_free((char *)config);
	return rc;
}
