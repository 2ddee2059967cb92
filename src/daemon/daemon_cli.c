/* SPDX-License-Identifier: ISC */
/*
 * The subcommands that read the config or the store and exit:
 * check-config, incidents, show, report and ack.  They open the store
 * alongside a running daemon; SQLite's WAL mode lets both work at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "clock.h"
#include "daemon.h"
#include "esc.h"
#include "log.h"

#define CLI_LIMIT_DEFAULT	50	/* rows a listing shows */

/* Options shared by the subcommands. */
struct cli_opts {
	char		*config;
	char		*by;
	char		*message_file;	/* --message-file, notify only */
	gint64		 limit;		/* --limit, listings only */
	gboolean	 is_json;
	int64_t		 incident_id;	/* the N argument, or 0 */
};

/* Options and arguments of a command besides --config and --json. */
#define CLI_ID		0x01	/* an incident number */
#define CLI_BY		0x02	/* --by NAME, required */
#define CLI_LIMIT	0x04	/* --limit N */
#define CLI_FILE	0x08	/* --message-file FILE, required */

static void
cli_opts_fini(struct cli_opts *opts)
{
	g_clear_pointer(&opts->config, g_free);
	g_clear_pointer(&opts->by, g_free);
	g_clear_pointer(&opts->message_file, g_free);
}

/* Options of a command at most; entries end with one without a long name. */
#define OPTIONS_MAX	64

/* Returns the index of the entry called name (up to '=' if any), or -1. */
static int
option_long(const GOptionEntry *entries, const char *name)
{
	size_t	len = strcspn(name, "=");
	int	i;

	for (i = 0; i < OPTIONS_MAX && entries[i].long_name != NULL; i++)
		if (strlen(entries[i].long_name) == len &&
		    strncmp(name, entries[i].long_name, len) == 0)
			return i;
	return -1;
}

/* Returns the index of the entry whose short name is c, or -1. */
static int
option_short(const GOptionEntry *entries, char c)
{
	int	i;

	for (i = 0; i < OPTIONS_MAX && entries[i].long_name != NULL; i++)
		if (entries[i].short_name == c)
			return i;
	return -1;
}

/* Marks entry i as given; returns false if it was given before and is not
 * a list. */
static bool
option_mark(const GOptionEntry *entries, int i, uint64_t *seen)
{
	bool	is_list = entries[i].arg == G_OPTION_ARG_STRING_ARRAY ||
		    entries[i].arg == G_OPTION_ARG_FILENAME_ARRAY;

	if ((*seen & (UINT64_C(1) << i)) != 0 && !is_list)
		return false;
	*seen |= UINT64_C(1) << i;
	return true;
}

/*
 * Returns the long name of the first of entries that argv gives twice, or
 * NULL.  Lists may repeat.  GLib keeps the last value of any other option,
 * so a second --by would silently replace the member named first.
 */
static const char *
option_repeated(int argc, char **argv, const GOptionEntry *entries)
{
	const char	*arg, *c;
	uint64_t	 seen = 0;
	int		 i, k;

	for (k = 1; k < argc && strcmp(argv[k], "--") != 0; k++) {
		arg = argv[k];
		if (arg[0] != '-' || arg[1] == '\0')
			continue;
		if (arg[1] == '-') {
			i = option_long(entries, arg + 2);
			if (i == -1)
				continue;
			if (!option_mark(entries, i, &seen))
				return entries[i].long_name;
			/* A value given apart is the next argument. */
			if (entries[i].arg != G_OPTION_ARG_NONE &&
			    strchr(arg, '=') == NULL)
				k++;
			continue;
		}
		/* Short options, alone or grouped: "-v", "-vc FILE". */
		for (c = arg + 1; *c != '\0'; c++) {
			i = option_short(entries, *c);
			if (i == -1)
				break;
			if (!option_mark(entries, i, &seen))
				return entries[i].long_name;
			if (entries[i].arg != G_OPTION_ARG_NONE) {
				if (c[1] == '\0')
					k++;
				break;
			}
		}
	}
	return NULL;
}

bool
daemon_options_parse(GOptionContext *ctx, const GOptionEntry *entries,
    int *argc, char ***argv, char **error)
{
	const char	*repeated;
	GError		*err = NULL;

	repeated = option_repeated(*argc, *argv, entries);
	if (repeated != NULL) {
		*error = g_strdup_printf("--%s is repeated; give it once",
		    repeated);
		return false;
	}
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		*error = g_strdup(err->message);
		g_error_free(err);
		return false;
	}
	return true;
}

static int
cli_parse(int argc, char **argv, const char *summary, unsigned takes,
    struct cli_opts *opts)
{
	const GOptionEntry	 all[] = {
		{ "by", 0, 0, G_OPTION_ARG_STRING, &opts->by,
		  "team member who acts", "NAME" },
		{ "limit", 'n', 0, G_OPTION_ARG_INT64, &opts->limit,
		  "list the latest N (default 50)", "N" },
		{ "message-file", 'm', 0, G_OPTION_ARG_FILENAME,
		  &opts->message_file, "text of the update", "FILE" },
	};
	GOptionEntry	 entries[6] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts->config,
		  "config file", "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &opts->is_json,
		  "print JSON", NULL },
	};
	GOptionContext	*ctx;
	char		*end, *error = NULL;
	size_t		 n = 2;
	bool		 wants_id = (takes & CLI_ID) != 0;
	bool		 wants_by = (takes & CLI_BY) != 0;

	memset(opts, 0, sizeof(*opts));
	opts->limit = CLI_LIMIT_DEFAULT;
	/* Only the options a command takes are offered. */
	if (wants_by)
		entries[n++] = all[0];
	if ((takes & CLI_LIMIT) != 0)
		entries[n++] = all[1];
	if ((takes & CLI_FILE) != 0)
		entries[n++] = all[2];
	ctx = g_option_context_new(summary);
	if (!daemon_options_parse(ctx, entries, &argc, &argv, &error)) {
		fprintf(stderr, "critgate %s: %s\n", argv[0], error);
		g_free(error);
		g_option_context_free(ctx);
		goto fail;
	}
	g_option_context_free(ctx);
	if (opts->limit <= 0) {
		fprintf(stderr, "critgate %s: --limit must be 1 or more\n",
		    argv[0]);
		goto fail;
	}
	if (wants_by && opts->by == NULL) {
		fprintf(stderr, "critgate %s: --by NAME is required: the team "
		    "member who acts\n", argv[0]);
		goto fail;
	}
	if ((takes & CLI_FILE) != 0 && opts->message_file == NULL) {
		fprintf(stderr, "critgate %s: --message-file FILE is required: "
		    "the text to send\n", argv[0]);
		goto fail;
	}
	if (wants_id) {
		errno = 0;
		/* Digits only: strtoll also takes blanks and a sign. */
		if (argc == 2 && g_ascii_isdigit(argv[1][0]))
			opts->incident_id = strtoll(argv[1], &end, 10);
		if (argc != 2 || errno != 0 || opts->incident_id <= 0 ||
		    *end != '\0') {
			fprintf(stderr, "critgate %s: expected one incident "
			    "number, e.g. \"critgate %s 42\"\n", argv[0],
			    argv[0]);
			goto fail;
		}
	} else if (argc != 1) {
		/* GLib keeps "--" before arguments that start with "-". */
		fprintf(stderr, "critgate %s: unexpected argument \"%s\"\n",
		    argv[0], strcmp(argv[1], "--") == 0 && argc > 2 ?
		    argv[2] : argv[1]);
		goto fail;
	}
	return 0;
fail:
	cli_opts_fini(opts);
	return -1;
}


/* Loads the config and opens its store; returns 0 or -1 (reported). */
static int
cli_open(const struct cli_opts *opts, struct cfg **cfg, struct store **store)
{
	log_init(LOG_WARNING);
	*store = NULL;
	*cfg = daemon_cfg_load(daemon_cfg_path(opts->config));
	if (*cfg == NULL)
		return -1;
	*store = daemon_store_open_beside((*cfg)->store_path, false);
	if (*store == NULL) {
		if (!g_file_test((*cfg)->store_path, G_FILE_TEST_EXISTS))
			fprintf(stderr, "critgate: there is no store %s; has "
			    "\"critgate serve\" run with this config?\n",
			    (*cfg)->store_path);
		return -1;
	}
	return 0;
}

static void
cli_close(struct cfg *cfg, struct store *store)
{
	store_close(store);
	cfg_free(cfg);
}

/*
 * Checks, after a command recorded something, that the store's files are
 * still the ones it wrote to: a file removed or replaced meanwhile can
 * take the record with it at the daemon's restart.  Returns 0, or -1
 * after saying so.
 */
static int
cli_check_written(const char *command, struct store *store)
{
	const char	*moved = store_files_moved(store);

	if (moved == NULL)
		return 0;
	fprintf(stderr, "critgate %s: the store's %s was removed or replaced "
	    "while this command wrote to it, so what it recorded may be lost. "
	    "Once critgate serves the store again, check with \"critgate "
	    "show\" and run the command again only if the record is "
	    "missing\n", command, moved);
	return -1;
}

/* Formats a duration in ms as "4m12s", "2h03m" or "1d02h". */
static char *
duration_text(int64_t ms)
{
	int64_t	s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 3600)
		return g_strdup_printf("%" PRId64 "m%02" PRId64 "s", s / 60,
		    s % 60);
	if (s < 86400)
		return g_strdup_printf("%" PRId64 "h%02" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	return g_strdup_printf("%" PRId64 "d%02" PRId64 "h", s / 86400,
	    s % 86400 / 3600);
}

static const char *
incident_state(const struct store_incident *inc)
{
	if (inc->resolved_ms != 0)
		return "resolved";
	return inc->acked_ms != 0 ? "acknowledged" : "open";
}

/* Tells whether the SLA was breached: acknowledged late, or still open
 * past the deadline. */
static bool
incident_is_breached(const struct store_incident *inc, int64_t now_ms)
{
	if (inc->acked_ms != 0)
		return !esc_sla_is_met(inc->acked_ms, inc->ack_deadline_ms);
	return now_ms > inc->ack_deadline_ms;
}

/* Tells whether the fix that the analysis promised came, or is still
 * missing, after its due date. */
static bool
incident_fix_is_late(const struct store_incident *inc, int64_t now_ms)
{
	if (inc->fix_due_ms == 0)
		return false;
	return (inc->fixed_ms != 0 ? inc->fixed_ms : now_ms) >
	    inc->fix_due_ms;
}

static void
json_add_incident(JsonBuilder *b, const struct store_incident *inc,
    int64_t now_ms)
{
	daemon_json_int(b, "id", inc->id);
	daemon_json_string(b, "severity", cfg_severity_name(inc->severity));
	daemon_json_string(b, "state", incident_state(inc));
	daemon_json_string(b, "subject", inc->subject);
	daemon_json_string(b, "reporter", inc->reporter);
	daemon_json_int(b, "messages", inc->messages);
	daemon_json_time(b, "received", inc->opened_ms);
	daemon_json_time(b, "ack_deadline", inc->ack_deadline_ms);
	daemon_json_time(b, "acknowledged", inc->acked_ms);
	daemon_json_string(b, "acknowledged_by", inc->acked_by);
	daemon_json_string(b, "acknowledged_channel", inc->acked_channel);
	daemon_json_string(b, "acknowledged_note", inc->ack_note);
	json_builder_set_member_name(b, "time_to_ack_s");
	if (inc->acked_ms != 0)
		json_builder_add_int_value(b, (inc->acked_ms -
		    inc->opened_ms) / 1000);
	else
		json_builder_add_null_value(b);
	daemon_json_bool(b, "sla_breached", incident_is_breached(inc, now_ms));
	daemon_json_time(b, "resolved", inc->resolved_ms);
	daemon_json_string(b, "resolved_by", inc->resolved_by);
	daemon_json_time(b, "analysed", inc->analysed_ms);
	daemon_json_string(b, "analysed_by", inc->analysed_by);
	daemon_json_time(b, "fix_due", inc->fix_due_ms);
	daemon_json_time(b, "fixed", inc->fixed_ms);
	daemon_json_string(b, "fixed_by", inc->fixed_by);
	daemon_json_bool(b, "fix_late", incident_fix_is_late(inc, now_ms));
}

static void
cli_print_warnings(const struct cfg *cfg)
{
	GPtrArray	*warnings = g_ptr_array_new_with_free_func(g_free);
	guint		 i;

	daemon_cfg_warnings(cfg, clock_now_ms(), warnings);
	for (i = 0; i < warnings->len; i++)
		printf("warning: %s\n", (char *)g_ptr_array_index(warnings,
		    i));
	g_ptr_array_free(warnings, TRUE);
}

int
daemon_cli_check_config(int argc, char **argv)
{
	struct cli_opts	 opts;
	struct cfg	*cfg;
	char		*problem = NULL;
	int		 rc = 1;

	if (cli_parse(argc, argv, "- validate a config file", 0, &opts) == -1)
		return 2;
	cfg = daemon_cfg_load(daemon_cfg_path(opts.config));
	if (cfg != NULL && cfg_check_files_secrecy(cfg, &problem) == -1) {
		/* "serve" refuses such a file, so the check does too. */
		fprintf(stderr, "%s: %s\n", cfg->path, problem);
		g_free(problem);
	} else if (cfg != NULL) {
		cli_print_warnings(cfg);
		printf("configuration OK\n");
		rc = 0;
	}
	cfg_free(cfg);
	cli_opts_fini(&opts);
	return rc;
}

static void
json_add_page_counts(JsonBuilder *b, const struct store_page_counts *pages)
{
	daemon_json_int(b, "pages_sent", pages->sent);
	daemon_json_int(b, "pages_capped", pages->capped);
}

/*
 * Flags an incident that the page limits kept from every phone, or from
 * some: its page mail still went out, but no call or SMS, or not all of
 * them.
 */
static const char *
page_counts_flag(const struct store_page_counts *pages)
{
	if (pages->capped == 0)
		return "";
	return pages->sent == 0 ? "[no call or SMS: page limit] " :
	    "[pages capped] ";
}

/* A listing printed as its rows come from the store. */
struct listing {
	bool	 is_json;
	int64_t	 now_ms;
	int64_t	 count;		/* rows printed */
};

static void
incident_print(const struct store_incident *inc,
    const struct store_page_counts *pages, void *ctx)
{
	struct listing	*l = ctx;
	JsonBuilder	*b;
	char		 buf[CLOCK_RFC3339_LEN], *tta;

	if (l->is_json) {
		b = json_builder_new();
		json_builder_begin_object(b);
		json_add_incident(b, inc, l->now_ms);
		json_add_page_counts(b, pages);
		json_builder_end_object(b);
		daemon_json_array_add(b, l->count++);
		return;
	}
	if (l->count++ == 0)
		printf("%6s  %-8s  %-12s  %-24s  %-8s  %s\n", "ID", "SEVERITY",
		    "STATE", "RECEIVED (UTC)", "TTA", "SUBJECT");
	tta = inc->acked_ms != 0 ? duration_text(inc->acked_ms -
	    inc->opened_ms) : g_strdup("-");
	printf("%6" PRId64 "  %-8s  %-12s  %-24s  %-8s  %s%s%s\n", inc->id,
	    cfg_severity_name(inc->severity), incident_state(inc),
	    clock_format(inc->opened_ms, buf), tta,
	    incident_is_breached(inc, l->now_ms) ? "[SLA breached] " : "",
	    page_counts_flag(pages), inc->subject);
	g_free(tta);
}

static void
message_print(const struct store_message_row *m, void *ctx)
{
	struct listing	*l = ctx;
	JsonBuilder	*b;
	char		 buf[CLOCK_RFC3339_LEN];

	if (l->is_json) {
		b = json_builder_new();
		json_builder_begin_object(b);
		daemon_json_int(b, "id", m->id);
		daemon_json_time(b, "received", m->received_ms);
		daemon_json_string(b, "mail_from", m->mail_from);
		daemon_json_string(b, "peer", m->peer);
		daemon_json_string(b, "from", m->from_addr);
		daemon_json_string(b, "message_id", m->message_id);
		daemon_json_string(b, "subject", m->subject);
		daemon_json_string(b, "class", m->class_name);
		daemon_json_string(b, "reason", m->reason);
		daemon_json_int(b, "incident", m->incident_id);
		daemon_json_int(b, "duplicate_of", m->duplicate_of);
		daemon_json_bool(b, "unparseable", m->is_unparseable);
		json_builder_end_object(b);
		daemon_json_array_add(b, l->count++);
		return;
	}
	if (l->count++ == 0)
		printf("%6s  %-24s  %-13s  %6s  %-28s  %s\n", "ID",
		    "RECEIVED (UTC)", "CLASS", "INC", "FROM",
		    "SUBJECT / REASON");
	printf("%6" PRId64 "  %-24s  %-13s  %6" PRId64 "  %-28.28s  "
	    "%s%s%s%s\n", m->id, clock_format(m->received_ms, buf),
	    m->class_name ? m->class_name : "(waiting)",
	    m->incident_id, m->from_addr ? m->from_addr : m->mail_from,
	    m->subject ? m->subject : "", m->reason ? " [" : "",
	    m->reason ? m->reason : "", m->reason ? "]" : "");
}

/*
 * Prints the latest --limit incidents (or messages) in JSON or text, each
 * as the store reads it.  The word what names them in the output.
 * Returns the exit status.
 */
static int
listing_main(int argc, char **argv, const char *summary, const char *what,
    bool is_incidents)
{
	struct listing	 l = { .now_ms = clock_now_ms() };
	struct cli_opts	 opts;
	struct store	*store;
	struct cfg	*cfg;
	int64_t		 n = -1;

	if (cli_parse(argc, argv, summary, CLI_LIMIT, &opts) == -1)
		return 2;
	if (cli_open(&opts, &cfg, &store) == -1)
		goto out;
	l.is_json = opts.is_json;
	if (l.is_json)
		daemon_json_array_begin();
	n = is_incidents ? store_incidents_each(store, opts.limit,
	    incident_print, &l) : store_messages_each(store, opts.limit,
	    message_print, &l);
	if (l.is_json)
		daemon_json_array_end(l.count);
	else if (n == 0)
		printf("no %s\n", what);
	if (n == -1)
		fprintf(stderr, "critgate %s: reading the store failed; the "
		    "listing is incomplete (see the log above)\n", what);
out:
	cli_close(cfg, store);
	cli_opts_fini(&opts);
	return n == -1 ? 1 : 0;
}

int
daemon_cli_incidents(int argc, char **argv)
{
	return listing_main(argc, argv, "- list incidents", "incidents",
	    true);
}

int
daemon_cli_messages(int argc, char **argv)
{
	return listing_main(argc, argv, "- list received messages and their "
	    "class", "messages", false);
}

static const struct store_page *
page_find(GPtrArray *pages, int64_t id)
{
	guint	i;

	for (i = 0; i < pages->len; i++) {
		const struct store_page *p = g_ptr_array_index(pages, i);

		if (p->id == id)
			return p;
	}
	return NULL;
}

/* Prints the root-cause analysis and the fix it promised, once there is
 * either. */
static void
show_print_follow_up(const struct store_incident *inc, int64_t now_ms)
{
	char	buf[CLOCK_RFC3339_LEN], due[CLOCK_RFC3339_LEN];

	if (inc->analysed_ms != 0)
		printf("  analysed:      %s by %s\n",
		    clock_format(inc->analysed_ms, buf), inc->analysed_by);
	if (inc->fixed_ms != 0)
		printf("  fix deployed:  %s by %s%s\n",
		    clock_format(inc->fixed_ms, buf), inc->fixed_by,
		    inc->fix_due_ms == 0 ? "" : incident_fix_is_late(inc,
		    now_ms) ? ", after its due date" : ", on time");
	else if (inc->fix_due_ms != 0)
		printf("  fix deployed:  not yet; due %s%s\n",
		    clock_format(inc->fix_due_ms, due),
		    incident_fix_is_late(inc, now_ms) ? ", OVERDUE" : "");
}

static void
show_print_header(const struct store_incident *inc, GPtrArray *pages,
    int64_t now_ms)
{
	struct store_page_counts	 counts;
	char				 buf[CLOCK_RFC3339_LEN];
	char				*tta, *limit;

	limit = duration_text(inc->ack_deadline_ms - inc->opened_ms);
	printf("Incident %" PRId64 " (%s): %s\n", inc->id,
	    cfg_severity_name(inc->severity), incident_state(inc));
	printf("  subject:       %s\n", inc->subject);
	printf("  reporter:      %s\n", inc->reporter ? inc->reporter : "-");
	printf("  messages:      %" PRId64 "\n", inc->messages);
	store_page_counts_of(pages, &counts);
	if (counts.capped > 0 && counts.sent == 0)
		printf("  page limits:   held back %" PRId64 " page%s; no call "
		    "or SMS went out\n", counts.capped, counts.capped == 1 ?
		    "" : "s");
	else if (counts.capped > 0)
		printf("  page limits:   held back %" PRId64 " page%s; %"
		    PRId64 " went out\n", counts.capped, counts.capped == 1 ?
		    "" : "s", counts.sent);
	printf("  received:      %s\n", clock_format(inc->opened_ms, buf));
	printf("  ack deadline:  %s (%s after receipt)\n",
	    clock_format(inc->ack_deadline_ms, buf), limit);
	g_free(limit);
	if (inc->acked_ms == 0) {
		printf("  acknowledged:  not yet; SLA %s\n",
		    incident_is_breached(inc, now_ms) ? "BREACHED" :
		    "running");
		return;
	}
	tta = duration_text(inc->acked_ms - inc->opened_ms);
	printf("  acknowledged:  %s by %s via %s%s%s\n",
	    clock_format(inc->acked_ms, buf), inc->acked_by,
	    inc->acked_channel, inc->ack_note ? ", note: " : "",
	    inc->ack_note ? inc->ack_note : "");
	printf("  time to ack:   %s, SLA %s\n", tta,
	    incident_is_breached(inc, now_ms) ? "BREACHED" : "met");
	g_free(tta);
	if (inc->resolved_ms != 0)
		printf("  resolved:      %s by %s\n",
		    clock_format(inc->resolved_ms, buf), inc->resolved_by);
	show_print_follow_up(inc, now_ms);
}

/* Writes a page's round into buf: "3", or "50%" for the page of a breach
 * at 50% of the promise (stored as round -50). */
static const char *
round_text(int round, char *buf, size_t len)
{
	if (round > 0)
		snprintf(buf, len, "%d", round);
	else
		snprintf(buf, len, "%d%%", -round);
	return buf;
}

static void
show_print_timeline(GPtrArray *events, GPtrArray *pages)
{
	const struct store_page	*page;
	char			 buf[CLOCK_RFC3339_LEN], round[16];
	guint			 i;

	printf("\nTimeline (UTC):\n");
	for (i = 0; i < events->len; i++) {
		struct store_event *ev = g_ptr_array_index(events, i);

		page = ev->page_id != 0 ? page_find(pages, ev->page_id) : NULL;
		printf("  %s  %-12s", clock_format(ev->at_ms, buf), ev->kind);
		if (page != NULL)
			printf("  page=%" PRId64 " %s=%s %s %s%s%s",
			    page->id, page->round > 0 ? "round" : "breach",
			    round_text(page->round, round, sizeof(round)),
			    page->member, notify_channel_name(page->channel),
			    page->sid ? " sid=" : "",
			    page->sid ? page->sid : "");
		/* A "sent" event's detail is the sid, printed above. */
		if (ev->detail != NULL && (page == NULL || page->sid == NULL ||
		    strcmp(ev->detail, page->sid) != 0))
			printf("  %s", ev->detail);
		printf("\n");
	}
	printf("\nPages:\n");
	printf("  %5s  %5s  %-12s  %-5s  %-8s  %-8s  %-12s  %s\n", "PAGE",
	    "ROUND", "MEMBER", "CHAN", "STATE", "PROVIDER", "STATUS", "SID");
	for (i = 0; i < pages->len; i++) {
		page = g_ptr_array_index(pages, i);
		printf("  %5" PRId64 "  %5s  %-12s  %-5s  %-8s  %-8s  %-12s  "
		    "%s\n", page->id, round_text(page->round, round,
		    sizeof(round)), page->member,
		    notify_channel_name(page->channel),
		    store_page_state_name(page->state),
		    page->provider ? page->provider : "-",
		    page->provider_status ? page->provider_status : "-",
		    page->sid ? page->sid : "-");
	}
}

static void
show_print_mails(GPtrArray *mails)
{
	const struct store_mail	*m;
	guint			 i;

	if (mails->len == 0)
		return;
	printf("\nMail:\n");
	printf("  %5s  %-12s  %-8s  %-30s  %s\n", "MAIL", "KIND", "STATE",
	    "TO", "REPLY");
	for (i = 0; i < mails->len; i++) {
		m = g_ptr_array_index(mails, i);
		printf("  %5" PRId64 "  %-12s  %-8s  %-30s  %s\n", m->id,
		    m->kind, store_mail_state_name(m->state), m->rcpt,
		    m->reply != NULL ? m->reply : "-");
	}
}

static void
json_add_mails(JsonBuilder *b, GPtrArray *mails)
{
	const struct store_mail	*m;
	guint			 i;

	json_builder_set_member_name(b, "mails");
	json_builder_begin_array(b);
	for (i = 0; i < mails->len; i++) {
		m = g_ptr_array_index(mails, i);
		json_builder_begin_object(b);
		daemon_json_int(b, "id", m->id);
		daemon_json_string(b, "kind", m->kind);
		daemon_json_string(b, "member", m->member);
		daemon_json_string(b, "to", m->rcpt);
		daemon_json_string(b, "message_id", m->message_id);
		daemon_json_string(b, "state", store_mail_state_name(m->state));
		daemon_json_int(b, "attempts", m->attempts);
		daemon_json_time(b, "created", m->created_ms);
		daemon_json_time(b, "sent", m->sent_ms);
		daemon_json_string(b, "reply", m->reply);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void
show_print_json(const struct store_incident *inc, GPtrArray *events,
    GPtrArray *pages, GPtrArray *mails, int64_t now_ms)
{
	struct store_page_counts	 counts;
	JsonBuilder			*b = json_builder_new();
	guint				 i;

	json_builder_begin_object(b);
	json_add_incident(b, inc, now_ms);
	store_page_counts_of(pages, &counts);
	json_add_page_counts(b, &counts);
	json_builder_set_member_name(b, "timeline");
	json_builder_begin_array(b);
	for (i = 0; i < events->len; i++) {
		struct store_event *ev = g_ptr_array_index(events, i);

		json_builder_begin_object(b);
		daemon_json_time(b, "at", ev->at_ms);
		daemon_json_string(b, "kind", ev->kind);
		daemon_json_string(b, "detail", ev->detail);
		json_builder_set_member_name(b, "page");
		if (ev->page_id != 0)
			json_builder_add_int_value(b, ev->page_id);
		else
			json_builder_add_null_value(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "pages");
	json_builder_begin_array(b);
	for (i = 0; i < pages->len; i++) {
		struct store_page *p = g_ptr_array_index(pages, i);

		json_builder_begin_object(b);
		daemon_json_int(b, "id", p->id);
		daemon_json_int(b, "round", p->round);
		daemon_json_string(b, "member", p->member);
		daemon_json_string(b, "channel", notify_channel_name(p->channel));
		daemon_json_string(b, "state", store_page_state_name(p->state));
		daemon_json_int(b, "attempts", p->attempts);
		daemon_json_string(b, "sid", p->sid);
		daemon_json_string(b, "provider", p->provider);
		daemon_json_string(b, "provider_status", p->provider_status);
		daemon_json_time(b, "created", p->created_ms);
		daemon_json_time(b, "sent", p->sent_ms);
		daemon_json_string(b, "error", p->error);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_add_mails(b, mails);
	json_builder_end_object(b);
	daemon_json_print(b);
}

int
daemon_cli_show(int argc, char **argv)
{
	struct store_incident	 inc;
	struct cli_opts		 opts;
	struct store		*store;
	struct cfg		*cfg;
	GPtrArray		*events = NULL, *pages = NULL, *mails = NULL;
	int			 rc = 1;

	memset(&inc, 0, sizeof(inc));
	if (cli_parse(argc, argv, "N - print one incident's timeline",
	    CLI_ID, &opts) == -1)
		return 2;
	if (cli_open(&opts, &cfg, &store) == -1)
		goto out;
	if (store_incident_get(store, opts.incident_id, &inc) == -1) {
		fprintf(stderr, "critgate show: no incident %" PRId64 "\n",
		    opts.incident_id);
		goto out;
	}
	events = store_events_of_incident(store, inc.id);
	pages = store_pages_of_incident(store, inc.id);
	mails = store_mails_of_incident(store, inc.id);
	if (events == NULL || pages == NULL || mails == NULL)
		goto out;
	if (opts.is_json)
		show_print_json(&inc, events, pages, mails, clock_now_ms());
	else {
		show_print_header(&inc, pages, clock_now_ms());
		show_print_timeline(events, pages);
		show_print_mails(mails);
	}
	rc = 0;
out:
	if (mails != NULL)
		g_ptr_array_free(mails, TRUE);
	if (events != NULL)
		g_ptr_array_free(events, TRUE);
	if (pages != NULL)
		g_ptr_array_free(pages, TRUE);
	store_incident_fini(&inc);
	cli_close(cfg, store);
	cli_opts_fini(&opts);
	return rc;
}

/* The fixes that root-cause analyses promised, for "critgate report". */
struct report_fixes {
	int64_t		 analysed;
	int64_t		 deployed;
	int64_t		 deployed_late;
	GArray		*overdue;	/* int64_t incident ids */
};

static void
report_collect_fixes(GPtrArray *list, int64_t now_ms,
    struct report_fixes *fixes)
{
	guint	i;

	for (i = 0; i < list->len; i++) {
		struct store_incident *inc = g_ptr_array_index(list, i);

		if (inc->analysed_ms != 0)
			fixes->analysed++;
		if (inc->fixed_ms != 0) {
			fixes->deployed++;
			if (incident_fix_is_late(inc, now_ms))
				fixes->deployed_late++;
		} else if (incident_fix_is_late(inc, now_ms))
			g_array_append_val(fixes->overdue, inc->id);
	}
}

static void
report_print_fixes(const struct report_fixes *fixes)
{
	guint	i;

	printf("\nfixes: %" PRId64 " analysed, %" PRId64 " deployed (%"
	    PRId64 " after the due date), %u overdue", fixes->analysed,
	    fixes->deployed, fixes->deployed_late, fixes->overdue->len);
	for (i = 0; i < fixes->overdue->len; i++)
		printf("%s%" PRId64, i == 0 ? " (" : ", ",
		    g_array_index(fixes->overdue, int64_t, i));
	printf("%s\n", fixes->overdue->len > 0 ? ")" : "");
}

static void
json_add_fixes(JsonBuilder *b, const struct report_fixes *fixes)
{
	guint	i;

	json_builder_set_member_name(b, "fixes");
	json_builder_begin_object(b);
	daemon_json_int(b, "analysed", fixes->analysed);
	daemon_json_int(b, "deployed", fixes->deployed);
	daemon_json_int(b, "deployed_late", fixes->deployed_late);
	json_builder_set_member_name(b, "overdue");
	json_builder_begin_array(b);
	for (i = 0; i < fixes->overdue->len; i++)
		json_builder_add_int_value(b, g_array_index(fixes->overdue,
		    int64_t, i));
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* Per-severity figures of "critgate report". */
struct report_row {
	int64_t		 count;
	GArray		*tta_ms;	/* int64_t, acknowledged only */
	GPtrArray	*breached;	/* struct store_incident *, borrowed */
};

static gint
cmp_int64(gconstpointer a, gconstpointer b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
report_collect(GPtrArray *list, int64_t now_ms, struct report_row *rows)
{
	int64_t	tta;
	guint	i;

	for (i = 0; i < list->len; i++) {
		struct store_incident *inc = g_ptr_array_index(list, i);
		struct report_row *row = &rows[inc->severity];

		row->count++;
		if (inc->acked_ms != 0) {
			tta = inc->acked_ms - inc->opened_ms;
			g_array_append_val(row->tta_ms, tta);
		}
		if (incident_is_breached(inc, now_ms))
			g_ptr_array_add(row->breached, inc);
	}
	for (i = 0; i < CFG_SEVERITY_COUNT; i++)
		g_array_sort(rows[i].tta_ms, cmp_int64);
}

/* Returns the median of sorted values, or -1 when there are none. */
static int64_t
median_ms(GArray *sorted)
{
	guint	n = sorted->len;

	if (n == 0)
		return -1;
	if (n % 2 == 1)
		return g_array_index(sorted, int64_t, n / 2);
	return (g_array_index(sorted, int64_t, n / 2 - 1) +
	    g_array_index(sorted, int64_t, n / 2)) / 2;
}

static int64_t
max_ms(GArray *sorted)
{
	return sorted->len == 0 ? -1 :
	    g_array_index(sorted, int64_t, sorted->len - 1);
}

static void
report_print_text(const struct cfg *cfg, struct report_row *rows)
{
	char	*median, *max, *promise;
	guint	 i, j;

	printf("%-9s  %6s  %6s  %10s  %10s  %8s  %s\n", "SEVERITY",
	    "COUNT", "ACKED", "MEDIAN TTA", "MAX TTA", "PROMISE",
	    "BREACHED (INCIDENTS)");
	for (i = 0; i < CFG_SEVERITY_COUNT; i++) {
		struct report_row *row = &rows[i];

		median = row->tta_ms->len ? duration_text(median_ms(
		    row->tta_ms)) : g_strdup("-");
		max = row->tta_ms->len ? duration_text(max_ms(row->tta_ms)) :
		    g_strdup("-");
		promise = duration_text(cfg->ack_deadline_ms[i]);
		printf("%-9s  %6" PRId64 "  %6u  %10s  %10s  %8s  %u",
		    cfg_severity_name((enum cfg_severity)i), row->count,
		    row->tta_ms->len, median, max, promise,
		    row->breached->len);
		g_free(promise);
		for (j = 0; j < row->breached->len; j++) {
			struct store_incident *inc = g_ptr_array_index(
			    row->breached, j);

			printf("%s#%" PRId64, j == 0 ? " (" : ", ", inc->id);
		}
		printf("%s\n", row->breached->len > 0 ? ")" : "");
		g_free(median);
		g_free(max);
	}
}

/* Prints the compliance of each month and severity, then each breach. */
static void
report_print_history(GPtrArray *months, GPtrArray *breaches)
{
	char	buf[CLOCK_RFC3339_LEN];
	guint	i;

	printf("\n%-7s  %-9s  %6s  %6s  %7s  %s\n", "MONTH", "SEVERITY",
	    "COUNT", "MET", "RUNNING", "COMPLIANCE");
	for (i = 0; i < months->len; i++) {
		struct store_month *m = g_ptr_array_index(months, i);
		int64_t decided = m->count - m->running;

		/* Incidents whose deadline is still ahead have neither met
		 * nor missed it yet. */
		printf("%-7s  %-9s  %6" PRId64 "  %6" PRId64 "  %7" PRId64,
		    m->month, cfg_severity_name(m->severity), m->count, m->met,
		    m->running);
		if (decided > 0)
			printf("  %5.1f%%\n", 100.0 * (double)m->met /
			    (double)decided);
		else
			printf("  %6s\n", "-");
	}
	printf("\nbreach pages (at each percentage of a promise passed "
	    "unacknowledged): %u\n", breaches->len);
	for (i = 0; i < breaches->len; i++) {
		struct store_breach *br = g_ptr_array_index(breaches, i);

		printf("  %s  incident %" PRId64 " (%s) reached %" PRId64 "%% "
		    "of its promise unacknowledged\n", clock_format(br->at_ms,
		    buf), br->incident_id, cfg_severity_name(br->severity),
		    br->percent);
	}
}

static void
json_add_history(JsonBuilder *b, GPtrArray *months, GPtrArray *breaches)
{
	guint	i;

	json_builder_set_member_name(b, "months");
	json_builder_begin_array(b);
	for (i = 0; i < months->len; i++) {
		struct store_month *m = g_ptr_array_index(months, i);

		json_builder_begin_object(b);
		daemon_json_string(b, "month", m->month);
		daemon_json_string(b, "severity",
		    cfg_severity_name(m->severity));
		daemon_json_int(b, "count", m->count);
		daemon_json_int(b, "met", m->met);
		daemon_json_int(b, "running", m->running);
		/* Percent of the decided incidents, null while none is. */
		json_builder_set_member_name(b, "compliance_percent");
		if (m->count > m->running)
			json_builder_add_double_value(b, 100.0 *
			    (double)m->met / (double)(m->count - m->running));
		else
			json_builder_add_null_value(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "breaches");
	json_builder_begin_array(b);
	for (i = 0; i < breaches->len; i++) {
		struct store_breach *br = g_ptr_array_index(breaches, i);

		json_builder_begin_object(b);
		daemon_json_int(b, "incident", br->incident_id);
		daemon_json_string(b, "severity",
		    cfg_severity_name(br->severity));
		daemon_json_int(b, "percent", br->percent);
		daemon_json_time(b, "at", br->at_ms);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void
report_print_json(const struct cfg *cfg, struct report_row *rows,
    GPtrArray *months, GPtrArray *breaches,
    const struct report_fixes *fixes, int64_t now_ms)
{
	JsonBuilder	*b = json_builder_new();
	guint		 i, j;

	json_builder_begin_object(b);
	json_add_history(b, months, breaches);
	json_add_fixes(b, fixes);
	for (i = 0; i < CFG_SEVERITY_COUNT; i++) {
		struct report_row *row = &rows[i];

		json_builder_set_member_name(b,
		    cfg_severity_name((enum cfg_severity)i));
		json_builder_begin_object(b);
		daemon_json_int(b, "count", row->count);
		daemon_json_int(b, "promise_s", cfg->ack_deadline_ms[i] / 1000);
		daemon_json_int(b, "acknowledged", row->tta_ms->len);
		daemon_json_int(b, "median_tta_s", median_ms(row->tta_ms) < 0 ?
		    -1 : median_ms(row->tta_ms) / 1000);
		daemon_json_int(b, "max_tta_s", max_ms(row->tta_ms) < 0 ? -1 :
		    max_ms(row->tta_ms) / 1000);
		json_builder_set_member_name(b, "breached");
		json_builder_begin_array(b);
		for (j = 0; j < row->breached->len; j++) {
			json_builder_begin_object(b);
			json_add_incident(b, g_ptr_array_index(row->breached,
			    j), now_ms);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	daemon_json_print(b);
}

int
daemon_cli_report(int argc, char **argv)
{
	struct report_row	 rows[CFG_SEVERITY_COUNT];
	struct report_fixes	 fixes = { .analysed = 0 };
	struct cli_opts		 opts;
	struct store		*store;
	struct cfg		*cfg;
	GPtrArray		*list = NULL, *months = NULL, *breaches = NULL;
	int64_t			 now = clock_now_ms();
	int			 i, rc = 1;

	if (cli_parse(argc, argv, "- time to acknowledge per severity, and fixes due", 0,
	    &opts) == -1)
		return 2;
	memset(rows, 0, sizeof(rows));
	fixes.overdue = g_array_new(FALSE, FALSE, sizeof(int64_t));
	for (i = 0; i < CFG_SEVERITY_COUNT; i++) {
		rows[i].tta_ms = g_array_new(FALSE, FALSE, sizeof(int64_t));
		rows[i].breached = g_ptr_array_new();
	}
	if (cli_open(&opts, &cfg, &store) == -1)
		goto out;
	list = store_incidents_list(store, false);
	months = store_report_months(store, now);
	breaches = store_breaches_list(store);
	if (list == NULL || months == NULL || breaches == NULL)
		goto out;
	report_collect(list, now, rows);
	report_collect_fixes(list, now, &fixes);
	if (opts.is_json)
		report_print_json(cfg, rows, months, breaches, &fixes, now);
	else {
		report_print_text(cfg, rows);
		report_print_fixes(&fixes);
		report_print_history(months, breaches);
	}
	rc = 0;
out:
	if (months != NULL)
		g_ptr_array_free(months, TRUE);
	if (breaches != NULL)
		g_ptr_array_free(breaches, TRUE);
	for (i = 0; i < CFG_SEVERITY_COUNT; i++) {
		g_array_free(rows[i].tta_ms, TRUE);
		g_ptr_array_free(rows[i].breached, TRUE);
	}
	if (list != NULL)
		g_ptr_array_free(list, TRUE);
	g_array_free(fixes.overdue, TRUE);
	cli_close(cfg, store);
	cli_opts_fini(&opts);
	return rc;
}

/*
 * A change that a team member makes to an incident by name: acknowledge,
 * resolve, or record a milestone that follows the resolution.
 */
struct cli_action {
	const char	*verb;		/* "acknowledge", for the usage line */
	int		(*act)(struct store *, const struct cfg *, int64_t,
			    const char *, const char *, int64_t);
	/* Prints the change made, or the one that was made before. */
	void		(*print)(const struct store_incident *inc,
			    bool is_changed, int64_t now_ms);
	enum mailout_kind mail;		/* what the reporters are sent, or
					 * MAILOUT_KIND_COUNT: nothing */
	bool		 needs_ack;	/* refused while nobody has taken
					 * the incident */
	bool		 needs_analysis; /* refused until the root-cause
					 * analysis is recorded */
};

static int
cli_ack_store(struct store *store, const struct cfg *cfg, int64_t id,
    const char *member, const char *channel, int64_t now_ms)
{
	if (daemon_ack_member(store, cfg, id, member, channel, now_ms) == -1)
		return -1;
	return store_incident_ack(store, id, member, channel, NULL, now_ms);
}

static void
cli_ack_print(const struct store_incident *inc, bool is_changed,
    int64_t now_ms)
{
	(void)now_ms;
	printf("incident %" PRId64 " %sacknowledged by %s via %s\n", inc->id,
	    is_changed ? "" : "was already ", inc->acked_by,
	    inc->acked_channel);
}

static int
cli_resolve_store(struct store *store, const struct cfg *cfg, int64_t id,
    const char *member, const char *channel, int64_t now_ms)
{
	(void)cfg;
	return store_incident_resolve(store, id, member, channel, now_ms);
}

static void
cli_resolve_print(const struct store_incident *inc, bool is_changed,
    int64_t now_ms)
{
	(void)now_ms;
	printf("incident %" PRId64 " %sresolved by %s\n", inc->id,
	    is_changed ? "" : "was already ", inc->resolved_by);
}

static int
cli_analysed_store(struct store *store, const struct cfg *cfg, int64_t id,
    const char *member, const char *channel, int64_t now_ms)
{
	(void)channel;
	return store_incident_analysed(store, id, member,
	    now_ms + cfg->fix_due_ms, now_ms);
}

static void
cli_analysed_print(const struct store_incident *inc, bool is_changed,
    int64_t now_ms)
{
	char	at[CLOCK_RFC3339_LEN], due[CLOCK_RFC3339_LEN];

	(void)now_ms;
	printf("incident %" PRId64 " %sanalysed by %s at %s; fix due %s\n",
	    inc->id, is_changed ? "" : "was already ", inc->analysed_by,
	    clock_format(inc->analysed_ms, at),
	    clock_format(inc->fix_due_ms, due));
}

static int
cli_fixed_store(struct store *store, const struct cfg *cfg, int64_t id,
    const char *member, const char *channel, int64_t now_ms)
{
	(void)cfg;
	(void)channel;
	return store_incident_fixed(store, id, member, now_ms);
}

static void
cli_fixed_print(const struct store_incident *inc, bool is_changed,
    int64_t now_ms)
{
	char	at[CLOCK_RFC3339_LEN];

	printf("incident %" PRId64 ": fix %sdeployed by %s at %s%s\n",
	    inc->id, is_changed ? "" : "was already ", inc->fixed_by,
	    clock_format(inc->fixed_ms, at), inc->fix_due_ms == 0 ? "" :
	    incident_fix_is_late(inc, now_ms) ? ", after its due date" :
	    ", on time");
}

static const struct cli_action cli_ack_action = {
	"acknowledge", cli_ack_store, cli_ack_print, MAILOUT_ACKNOWLEDGED,
	false, false
};
static const struct cli_action cli_resolve_action = {
	"resolve", cli_resolve_store, cli_resolve_print, MAILOUT_RESOLVED,
	false, false
};
static const struct cli_action cli_analysed_action = {
	"record the root-cause analysis of", cli_analysed_store,
	cli_analysed_print, MAILOUT_KIND_COUNT, true, false
};
static const struct cli_action cli_fixed_action = {
	"record the deployed fix of", cli_fixed_store, cli_fixed_print,
	MAILOUT_KIND_COUNT, true, true
};

/* Returns the team's names, separated by ", " (caller frees). */
static char *
cli_member_names(const struct cfg *cfg)
{
	GString	*names = g_string_new(NULL);
	size_t	 i;

	for (i = 0; i < cfg->n_team; i++)
		g_string_append_printf(names, "%s%s", i == 0 ? "" : ", ",
		    cfg->team[i].name);
	return g_string_free(names, FALSE);
}

static int
cli_act(int argc, char **argv, const struct cli_action *action)
{
	const struct cfg_member	*member;
	struct daemon_outbox	 ob = { .templates = NULL };
	struct store_incident	 inc;
	struct cli_opts		 opts;
	struct store		*store;
	struct cfg		*cfg;
	char			*summary, *names;
	int64_t			 now = clock_now_ms();
	int			 rc = 1, changed;
	bool			 is_acked, is_analysed;

	summary = g_strdup_printf("N --by NAME - %s incident N", action->verb);
	changed = cli_parse(argc, argv, summary, CLI_ID | CLI_BY, &opts);
	g_free(summary);
	if (changed == -1)
		return 2;
	if (cli_open(&opts, &cfg, &store) == -1 ||
	    daemon_outbox_open(&ob, store, cfg) == -1)
		goto out;
	member = cfg_member_by_name(cfg, opts.by);
	if (member == NULL) {
		names = cli_member_names(cfg);
		fprintf(stderr, "critgate %s: --by must name a team member "
		    "of %s (got \"%s\"; the team: %s)\n", argv[0], cfg->path,
		    opts.by, names);
		g_free(names);
		goto out;
	}
	if (store_incident_get(store, opts.incident_id, &inc) == -1) {
		fprintf(stderr, "critgate %s: no incident %" PRId64 "\n",
		    argv[0], opts.incident_id);
		goto out;
	}
	is_acked = inc.acked_ms != 0;
	is_analysed = inc.analysed_ms != 0;
	store_incident_fini(&inc);
	if (action->needs_ack && !is_acked) {
		fprintf(stderr, "critgate %s: incident %" PRId64 " is not "
		    "acknowledged yet; acknowledge it first with \"critgate "
		    "ack %" PRId64 " --by NAME\"\n", argv[0],
		    opts.incident_id, opts.incident_id);
		goto out;
	}
	if (action->needs_analysis && !is_analysed) {
		fprintf(stderr, "critgate %s: incident %" PRId64 " has no "
		    "root-cause analysis yet; record it first with \"critgate "
		    "analysed %" PRId64 " --by NAME\"\n", argv[0],
		    opts.incident_id, opts.incident_id);
		goto out;
	}
	changed = action->act(store, cfg, opts.incident_id, member->name,
	    "cli", now);
	if (changed == -1)
		goto out;
	if (changed == 1 && action->mail != MAILOUT_KIND_COUNT &&
	    daemon_outbox_update(&ob, opts.incident_id, action->mail, NULL,
	    now) == -1)
		fprintf(stderr, "critgate %s: the reporters' update could not "
		    "be queued\n", argv[0]);
	if (cli_check_written(argv[0], store) == -1)
		goto out;
	if (store_incident_get(store, opts.incident_id, &inc) == 0) {
		action->print(&inc, changed == 1, now);
		store_incident_fini(&inc);
	}
	rc = 0;
out:
	daemon_outbox_close(&ob);
	cli_close(cfg, store);
	cli_opts_fini(&opts);
	return rc;
}

int
daemon_cli_ack(int argc, char **argv)
{
	return cli_act(argc, argv, &cli_ack_action);
}

int
daemon_cli_resolve(int argc, char **argv)
{
	return cli_act(argc, argv, &cli_resolve_action);
}

int
daemon_cli_analysed(int argc, char **argv)
{
	return cli_act(argc, argv, &cli_analysed_action);
}

int
daemon_cli_fixed(int argc, char **argv)
{
	return cli_act(argc, argv, &cli_fixed_action);
}

int
daemon_cli_notify(int argc, char **argv)
{
	struct daemon_outbox	 ob = { .templates = NULL };
	struct cli_opts		 opts;
	struct store		*store = NULL;
	struct cfg		*cfg = NULL;
	char			*text = NULL;
	GError			*err = NULL;
	int			 rc = 1;

	if (cli_parse(argc, argv, "N --message-file FILE - send a status "
	    "update to every reporter of incident N", CLI_ID | CLI_FILE,
	    &opts) == -1)
		return 2;
	if (!g_file_get_contents(opts.message_file, &text, NULL, &err)) {
		fprintf(stderr, "critgate notify: %s\n", err->message);
		g_error_free(err);
		cli_opts_fini(&opts);
		return 1;
	}
	if (text[0] == '\0') {
		fprintf(stderr, "critgate notify: %s is empty; write the "
		    "update to send in it\n", opts.message_file);
		goto out;
	}
	if (!g_utf8_validate(text, -1, NULL)) {
		fprintf(stderr, "critgate notify: %s must hold UTF-8 text\n",
		    opts.message_file);
		goto out;
	}
	if (cli_open(&opts, &cfg, &store) == -1 ||
	    daemon_outbox_open(&ob, store, cfg) == -1)
		goto out;
	if (ob.templates == NULL) {
		fprintf(stderr, "critgate notify: mail.relay is not set in "
		    "%s, so no mail can be sent\n", cfg->path);
		goto out;
	}
	if (store_incident_exists(store, opts.incident_id, NULL) != 1) {
		fprintf(stderr, "critgate notify: no incident %" PRId64 "\n",
		    opts.incident_id);
		goto out;
	}
	if (daemon_outbox_update(&ob, opts.incident_id, MAILOUT_STATUS, text,
	    clock_now_ms()) == -1 || cli_check_written(argv[0], store) == -1)
		goto out;
	printf("status update for incident %" PRId64 " queued; \"critgate "
	    "show %" PRId64 "\" lists its mail\n", opts.incident_id,
	    opts.incident_id);
	rc = 0;
out:
	g_free(text);
	daemon_outbox_close(&ob);
	cli_close(cfg, store);
	cli_opts_fini(&opts);
	return rc;
}

static void
status_print_text(GPtrArray *list, const struct store_backlog *backlog,
    long pid, int64_t now_ms)
{
	struct store_provider_health	*h;
	char				*since;
	guint				 i;

	if (pid > 0)
		printf("critgate (pid %ld) serves this store.\n\n", pid);
	else
		printf("No critgate serves this store: the backlog is what the "
		    "next start takes over, and the providers' figures are as "
		    "the last daemon left them.\n\n");
	printf("incidents paging:  %" PRId64 "\n", backlog->incidents_paging);
	printf("messages waiting:  %" PRId64 "\n", backlog->messages_waiting);
	printf("pages pending:     %" PRId64 "\n", backlog->pages_pending);
	printf("pages in flight:   %" PRId64 "\n", backlog->pages_in_flight);
	printf("pages capped:      %" PRId64 "%s\n", backlog->pages_capped,
	    backlog->pages_capped > 0 ? " (held back by the page limits; each "
	    "incident's next round tries again)" : "");
	printf("mail queued:       %" PRId64 "\n\n", backlog->mail_queued);
	printf("%-8s  %-9s  %-10s  %8s  %8s  %11s\n", "PROVIDER", "CIRCUIT",
	    "SINCE", "REQUESTS", "FAILURES", "CONSECUTIVE");
	for (i = 0; i < list->len; i++) {
		h = g_ptr_array_index(list, i);
		since = duration_text(now_ms - h->since_ms);
		printf("%-8s  %-9s  %-10s  %8" PRId64 "  %8" PRId64 "  %11"
		    PRId64 "\n", h->name, h->circuit, since, h->requests,
		    h->failures, h->consecutive);
		g_free(since);
	}
	if (list->len == 0)
		printf("No provider health recorded: has \"critgate serve\" "
		    "run with this config?\n");
}

static void
status_print_json(GPtrArray *list, const struct store_backlog *backlog,
    long pid)
{
	struct store_provider_health	*h;
	JsonBuilder			*b = json_builder_new();
	guint				 i;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "daemon_pid");
	if (pid > 0)
		json_builder_add_int_value(b, pid);
	else
		json_builder_add_null_value(b);
	daemon_json_int(b, "incidents_paging", backlog->incidents_paging);
	daemon_json_int(b, "messages_waiting", backlog->messages_waiting);
	daemon_json_int(b, "pages_pending", backlog->pages_pending);
	daemon_json_int(b, "pages_in_flight", backlog->pages_in_flight);
	daemon_json_int(b, "pages_capped", backlog->pages_capped);
	daemon_json_int(b, "mail_queued", backlog->mail_queued);
	json_builder_set_member_name(b, "providers");
	json_builder_begin_array(b);
	for (i = 0; i < list->len; i++) {
		h = g_ptr_array_index(list, i);
		json_builder_begin_object(b);
		daemon_json_string(b, "name", h->name);
		daemon_json_string(b, "circuit", h->circuit);
		daemon_json_time(b, "since", h->since_ms);
		daemon_json_int(b, "requests", h->requests);
		daemon_json_int(b, "failures", h->failures);
		daemon_json_int(b, "consecutive_failures", h->consecutive);
		daemon_json_time(b, "updated", h->updated_ms);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	daemon_json_print(b);
}

/*
 * Prints the store's backlog, and the phone providers' health as the
 * running daemon last wrote it to the store.  The store rather than an
 * HTTP endpoint: the webhook listener usually sits behind a reverse proxy
 * on the same host, where every request comes from loopback, so
 * "loopback only" would not keep the outside world from reading it.
 */
int
daemon_cli_status(int argc, char **argv)
{
	struct store_backlog	 backlog;
	struct cli_opts		 opts;
	struct store		*store;
	struct cfg		*cfg;
	GPtrArray		*list = NULL;
	long			 pid;
	int			 rc = 1;

	if (cli_parse(argc, argv, "- show the backlog and the phone "
	    "providers' health", 0, &opts) == -1)
		return 2;
	if (cli_open(&opts, &cfg, &store) == -1)
		goto out;
	list = store_provider_health_list(store);
	if (list == NULL || store_backlog_read(store, &backlog) == -1)
		goto out;
	pid = daemon_store_server(cfg->store_path, store);
	if (opts.is_json)
		status_print_json(list, &backlog, pid);
	else
		status_print_text(list, &backlog, pid, clock_now_ms());
	rc = 0;
out:
	if (list != NULL)
		g_ptr_array_free(list, TRUE);
	cli_close(cfg, store);
	cli_opts_fini(&opts);
	return rc;
}
