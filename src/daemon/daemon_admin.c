/* SPDX-License-Identifier: ISC */
/*
 * The admin's commands around the config.  "critgate oncall" names who is
 * on call in each rotation, now or at a given time.  "critgate reload"
 * checks the file, then has the running daemon reread it.  And
 * "check-config" prints warnings about gaps the file leaves open.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "rota.h"

#define ADMIN_LOOKAHEAD_MS	(INT64_C(14) * 24 * 3600 * 1000)
/* How long "critgate reload" waits for the daemon's outcome: 10 s. */
#define RELOAD_WAIT_US		50000
#define RELOAD_WAIT_TRIES	200

/* Appends "warning: ..." text to warnings. */
static void G_GNUC_PRINTF(2, 3)
warn(GPtrArray *warnings, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	g_ptr_array_add(warnings, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

/* Tells whether a policy step or a breach rule pages the rotation. */
static bool
admin_rotation_is_targeted(const struct cfg *cfg, const char *name)
{
	char	*target = g_strconcat("rotation:", name, NULL);
	bool	 found = false;
	size_t	 i, j;

	for (i = 0; i < cfg->n_policies && !found; i++)
		for (j = 0; j < cfg->policies[i].n_steps && !found; j++)
			found = g_strv_contains((const char *const *)
			    cfg->policies[i].steps[j].targets, target);
	for (i = 0; i < CFG_SEVERITY_COUNT && !found; i++)
		found = g_strv_contains((const char *const *)
		    cfg->severities[i].breach_targets, target);
	g_free(target);
	return found;
}

/* Warns about each time in the next 14 days with nobody on call in rot,
 * and says when a policy step or breach rule pages it. */
static void
warn_rotation_gaps(const struct cfg *cfg, const struct cfg_rotation *rot,
    int64_t now_ms, GPtrArray *warnings)
{
	GArray	*gaps;
	char	*from, *until;
	guint	 i;

	gaps = rota_gaps(rot->rota, now_ms, now_ms + ADMIN_LOOKAHEAD_MS);
	for (i = 0; gaps != NULL && i < gaps->len; i++) {
		struct rota_gap *gap = &g_array_index(gaps, struct rota_gap, i);

		from = daemon_minute_text(gap->from_ms);
		until = daemon_minute_text(gap->until_ms);
		/* A gap that reaches the end of the days checked may go on
		 * after it. */
		warn(warnings, "rotations: \"%s\" has nobody on call from %s "
		    "%s %s%s", rot->name, from, gap->until_ms >= now_ms +
		    ADMIN_LOOKAHEAD_MS ? "to at least" : "to", until,
		    admin_rotation_is_targeted(cfg, rot->name) ? ", and a "
		    "policy step or breach rule pages it: then the whole team "
		    "is paged instead" : "");
		g_free(from);
		g_free(until);
	}
	if (gaps != NULL)
		g_array_free(gaps, TRUE);
}

/*
 * Warns when serve could not create or write the store, for this user:
 * a warning, as check-config may run as another user than the daemon.
 */
static void
warn_store_folder(const char *store_path, GPtrArray *warnings)
{
	char	*folder = g_path_get_dirname(store_path);

	if (!g_path_is_absolute(store_path))
		warn(warnings, "store: %s is a relative path, so it depends "
		    "on the folder critgate starts in; give a full path",
		    store_path);
	if (g_file_test(store_path, G_FILE_TEST_IS_DIR))
		warn(warnings, "store: %s is a folder; name the database "
		    "file in it", store_path);
	else if (g_file_test(folder, G_FILE_TEST_EXISTS) &&
	    !g_file_test(folder, G_FILE_TEST_IS_DIR))
		warn(warnings, "store: %s is not a folder", folder);
	else if (!g_file_test(folder, G_FILE_TEST_IS_DIR))
		warn(warnings, "store: folder %s does not exist; create it, "
		    "writable by the user critgate runs as", folder);
	else if (access(folder, W_OK | X_OK) == -1)
		warn(warnings, "store: folder %s is not writable by this user "
		    "(%s)", folder, g_strerror(errno));
	g_free(folder);
}

void
daemon_cfg_warnings(const struct cfg *cfg, int64_t now_ms,
    GPtrArray *warnings)
{
	size_t	i;

	for (i = 0; i < cfg->n_rotations; i++)
		warn_rotation_gaps(cfg, &cfg->rotations[i], now_ms, warnings);
	for (i = 0; i < cfg->n_team; i++)
		if (cfg->team[i].phone == NULL)
			warn(warnings, "team[%zu]: \"%s\" has no phone, so only "
			    "page mail reaches them%s", i, cfg->team[i].name,
			    cfg->mail.relay == NULL ? ", and mail.relay is not "
			    "set" : "");
	for (i = 0; i < CFG_SEVERITY_COUNT; i++) {
		const struct cfg_severity_rule *r = &cfg->severities[i];

		if (r->n_breach_percents > 0 && r->breach_targets[0] == NULL)
			warn(warnings, "severities.%s: breach_at_percent without "
			    "breach_targets pages the whole team at each "
			    "breach", cfg_severity_name((enum cfg_severity)i));
		if (r->n_breach_percents == 0 && r->breach_targets[0] != NULL)
			warn(warnings, "severities.%s: breach_targets without "
			    "breach_at_percent are never paged",
			    cfg_severity_name((enum cfg_severity)i));
	}
	if (cfg->mail.relay != NULL && cfg->mail_from != NULL &&
	    cfg_route_find(cfg, cfg->mail_from) == NULL)
		warn(warnings, "mail.from: \"%s\" is not an address in routes, "
		    "so replies to critgate's mail (acknowledgements, "
		    "reporters' follow-ups) are refused unless your MTA "
		    "delivers them to a routed address", cfg->mail_from);
	if (cfg->n_policies > 0 && cfg->mail.relay == NULL &&
	    cfg->provider_order[1] == NULL)
		warn(warnings, "providers: only %s pages, and without "
		    "mail.relay nothing takes over when it fails",
		    cfg->provider_order[0]);
	warn_store_folder(cfg->store_path, warnings);
}

/*
 * "critgate oncall".
 */

static void
oncall_print(const struct cfg *cfg, int64_t at_ms, bool is_json)
{
	JsonBuilder		*b = json_builder_new();
	struct rota_shift	 shift;
	char			*since, *until;
	size_t			 i;

	json_builder_begin_array(b);
	for (i = 0; i < cfg->n_rotations; i++) {
		const struct cfg_rotation *rot = &cfg->rotations[i];

		if (rota_oncall(rot->rota, at_ms, &shift) == -1)
			memset(&shift, 0, sizeof(shift));
		json_builder_begin_object(b);
		daemon_json_string(b, "rotation", rot->name);
		daemon_json_string(b, "member", shift.member);
		daemon_json_time(b, "since", shift.member != NULL ?
		    shift.since_ms : 0);
		daemon_json_time(b, "until", shift.until_ms);
		daemon_json_bool(b, "is_override", shift.is_override);
		json_builder_end_object(b);
		if (is_json)
			continue;
		since = daemon_minute_text(shift.since_ms);
		until = daemon_minute_text(shift.until_ms);
		printf("%-16s %-16s since %s until %s%s\n", rot->name,
		    shift.member != NULL ? shift.member : "(nobody)",
		    shift.member != NULL ? since : "-", until,
		    shift.is_override ? " (override)" : "");
		g_free(since);
		g_free(until);
	}
	json_builder_end_array(b);
	if (!is_json && cfg->n_rotations == 0)
		printf("no rotations in %s\n", cfg->path);
	if (is_json)
		daemon_json_print(b);
	else
		g_object_unref(b);
}

int
daemon_cli_oncall(int argc, char **argv)
{
	char		*config = NULL, *at = NULL;
	gboolean	 is_json = FALSE;
	GOptionEntry	 entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "at", 0, 0, G_OPTION_ARG_STRING, &at,
		  "RFC 3339 time (default now)", "TIME" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &is_json, "print JSON",
		  NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext	*ctx = g_option_context_new("- who is on call");
	GTimeZone	*utc = g_time_zone_new_utc();
	struct cfg	*cfg = NULL;
	char		*error = NULL;
	int64_t		 at_ms = clock_now_ms();
	int		 rc = 1;

	if (!daemon_options_parse(ctx, entries, &argc, &argv, &error)) {
		fprintf(stderr, "critgate oncall: %s\n", error);
		rc = 2;
		goto out;
	}
	/* Without an offset a time would be local to which rotation? */
	if (at != NULL && (strpbrk(at + 10, "Zz+-") == NULL ||
	    rota_parse_time(at, utc, &at_ms, &error) == -1)) {
		fprintf(stderr, "critgate oncall: --at: %s\n", error != NULL ?
		    error : "expected RFC 3339 with Z or an offset, e.g. "
		    "2026-03-29T10:30:00Z");
		rc = 2;
		goto out;
	}
	cfg = daemon_cfg_load(daemon_cfg_path(config));
	if (cfg != NULL) {
		oncall_print(cfg, at_ms, is_json);
		rc = 0;
	}
out:
	g_free(error);
	g_free(config);
	g_free(at);
	cfg_free(cfg);
	g_time_zone_unref(utc);
	g_option_context_free(ctx);
	return rc;
}

/*
 * "critgate reload".
 */

/* Tells whether pid is a running critgate. */
static bool
is_critgate(long pid)
{
	char	*path = g_strdup_printf("/proc/%ld/comm", pid), *comm = NULL;
	bool	 is_ours;

	is_ours = g_file_get_contents(path, &comm, NULL, NULL) &&
	    g_str_has_prefix(comm, "critgate");
	g_free(comm);
	g_free(path);
	return is_ours;
}

char *
daemon_store_lock_path(const char *store_path)
{
	return g_strconcat(store_path, ".lock", NULL);
}

/*
 * Returns the pid of the process holding the lock file of the store at
 * store_path, or 0.  Not for the daemon itself: closing a file releases
 * every lock the process holds on it.
 */
static long
store_lock_holder(const char *store_path)
{
	struct flock	 fl;
	char		*path = daemon_store_lock_path(store_path);
	int		 fd;
	long		 pid = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	g_free(path);
	if (fd == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = fl.l_pid;
	close(fd);
	return pid;
}

char *
daemon_store_files_text(const char *store_path)
{
	struct stat	 log, index;
	char		*log_path = g_strconcat(store_path, "-wal", NULL);
	char		*index_path = g_strconcat(store_path, "-shm", NULL);
	char		*text = NULL;

	if (stat(log_path, &log) == 0 && stat(index_path, &index) == 0)
		text = g_strdup_printf("%ju:%ju %ju:%ju\n",
		    (uintmax_t)log.st_dev, (uintmax_t)log.st_ino,
		    (uintmax_t)index.st_dev, (uintmax_t)index.st_ino);
	g_free(log_path);
	g_free(index_path);
	return text;
}

/*
 * Tells whether the log and index files of the store at store_path are
 * those of the daemon holding its lock, as noted in the lock file.
 * Opening the store with other ones would start a log of its own beside
 * the one that the daemon still writes.
 */
static bool
store_files_are_daemons(const char *store_path)
{
	char	*path = daemon_store_lock_path(store_path);
	char	*noted = NULL, *now;
	bool	 is_same;

	now = daemon_store_files_text(store_path);
	(void)g_file_get_contents(path, &noted, NULL, NULL);
	is_same = now != NULL && noted != NULL && strcmp(noted, now) == 0;
	g_free(noted);
	g_free(now);
	g_free(path);
	return is_same;
}

long
daemon_store_noted_server(struct store *store)
{
	char	*pid_text;
	long	 pid;

	pid_text = store_state_get(store, "pid");
	pid = pid_text != NULL ? strtol(pid_text, NULL, 10) : 0;
	g_free(pid_text);
	if (pid > 0 && pid != (long)getpid() && is_critgate(pid))
		return pid;
	return 0;
}

long
daemon_store_server(const char *store_path, struct store *store)
{
	long	pid;

	if ((pid = store_lock_holder(store_path)) > 0)
		return pid;
	/* Before the lock file, the daemon noted only its pid. */
	return daemon_store_noted_server(store);
}

struct store *
daemon_store_open_beside(const char *path, bool is_create)
{
	struct store	*store;
	long		 pid;

	/* A removal after this check shows after the commit, which
	 * "deliver" checks for. */
	pid = store_lock_holder(path);
	if (pid > 0 && !store_files_are_daemons(path)) {
		log_errorx("store: the log files of %s that the running "
		    "critgate uses were removed or replaced, and it stops; "
		    "try again once it has restarted", path);
		return NULL;
	}
	store = store_open_as_is(path, is_create);
	if (store == NULL ||
	    store_schema_version(store) == store_schema_current())
		return store;
	/* Before the lock file, the daemon noted only its pid. */
	if (pid == 0)
		pid = daemon_store_noted_server(store);
	if (pid > 0) {
		log_errorx("store: the running critgate (pid %ld) uses schema "
		    "%" PRId64 " of %s, and this critgate needs %" PRId64
		    "; restart the daemon with this version, which upgrades "
		    "the store, or use the running version's commands", pid,
		    store_schema_version(store), path,
		    store_schema_current());
		store_close(store);
		return NULL;
	}
	if (store_upgrade(store) == -1) {
		store_close(store);
		return NULL;
	}
	return store;
}

/* Returns the key in cfg that only a restart applies and that differs
 * from the running daemon's (caller frees), or NULL. */
static char *
reload_change(struct store *store, const struct cfg *cfg)
{
	char	*running = store_state_get(store, "restart_config");
	char	*text, *change = NULL;

	/* A daemon started by an older critgate stored none. */
	if (running == NULL)
		return NULL;
	text = daemon_cfg_restart_text(cfg);
	change = daemon_cfg_restart_change(running, text);
	g_free(text);
	g_free(running);
	return change;
}

/*
 * Waits for the daemon pid to note the outcome of the reload it was asked
 * for (its "reload_result" in the store, which read before before the
 * signal), and reports it.  Returns the command's exit status.
 */
static int
reload_wait(struct store *store, const char *before, long pid,
    const char *path)
{
	const char	*outcome;
	char		*after = NULL;
	int		 i, rc = 0;

	for (i = 0; i < RELOAD_WAIT_TRIES; i++) {
		g_free(after);
		after = store_state_get(store, "reload_result");
		if (after != NULL && g_strcmp0(after, before) != 0)
			break;
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) {
			fprintf(stderr, "critgate reload: critgate (pid %ld) "
			    "stopped before it said whether it reloaded %s\n",
			    pid, path);
			g_free(after);
			return 1;
		}
		g_usleep(RELOAD_WAIT_US);
	}
	outcome = after != NULL ? strchr(after, ' ') : NULL;
	if (i == RELOAD_WAIT_TRIES || outcome == NULL)
		printf("asked critgate (pid %ld) to reload %s; it has not said "
		    "whether it did yet, see its log\n", pid, path);
	else if (strcmp(outcome + 1, "ok") == 0)
		printf("critgate (pid %ld) reloaded %s\n", pid, path);
	else {
		fprintf(stderr, "critgate reload: critgate (pid %ld) %s; the "
		    "running config stays\n", pid, outcome + 1);
		rc = 1;
	}
	g_free(after);
	return rc;
}

int
daemon_cli_reload(int argc, char **argv)
{
	char		*config = NULL;
	GOptionEntry	 entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext	*ctx = g_option_context_new("- reread the config");
	struct store	*store = NULL;
	struct cfg	*cfg = NULL;
	struct daemon_outbox ob = { .templates = NULL };
	char		*problem = NULL, *change = NULL, *before = NULL;
	long		 pid = 0;
	int		 rc = 1;

	if (!daemon_options_parse(ctx, entries, &argc, &argv, &problem)) {
		fprintf(stderr, "critgate reload: %s\n", problem);
		rc = 2;
		goto out;
	}
	/* A file that the daemon would refuse is reported here. */
	cfg = daemon_cfg_load(daemon_cfg_path(config));
	if (cfg == NULL) {
		fprintf(stderr, "critgate reload: %s fails the checks above, "
		    "so the daemon was not asked to reload; its running config "
		    "stays\n", daemon_cfg_path(config));
		goto out;
	}
	if (cfg_check_files_secrecy(cfg, &problem) == -1) {
		fprintf(stderr, "critgate reload: %s: %s\n", cfg->path,
		    problem);
		goto out;
	}
	/* Reading the daemon's pid needs no upgrade, and the daemon may be
	 * older than this command. */
	store = store_open_as_is(cfg->store_path, false);
	if (store != NULL && daemon_outbox_open(&ob, store, cfg) == -1) {
		fprintf(stderr, "critgate reload: %s: the mail templates "
		    "cannot be loaded\n", cfg->path);
		goto out;
	}
	daemon_outbox_close(&ob);
	if (store != NULL)
		pid = daemon_store_server(cfg->store_path, store);
	if (pid <= 0) {
		fprintf(stderr, "critgate reload: no running critgate uses the "
		    "store %s\n", cfg->store_path);
		goto out;
	}
	if ((change = reload_change(store, cfg)) != NULL) {
		fprintf(stderr, "critgate reload: %s: %s changed, which only a "
		    "restart applies; restart critgate instead\n", cfg->path,
		    change);
		goto out;
	}
	before = store_state_get(store, "reload_result");
	if (kill((pid_t)pid, SIGHUP) == -1) {
		fprintf(stderr, "critgate reload: cannot signal pid %ld: %s\n",
		    pid, g_strerror(errno));
		goto out;
	}
	rc = reload_wait(store, before, pid, cfg->path);
out:
	daemon_outbox_close(&ob);
	g_free(before);
	g_free(problem);
	g_free(change);
	g_free(config);
	store_close(store);
	cfg_free(cfg);
	g_option_context_free(ctx);
	return rc;
}
