/* SPDX-License-Identifier: ISC */
/*
 * "critgate serve": loads the config, opens the store, starts the SMTP and
 * HTTP listeners on one GLib main loop, resumes whatever the store says is
 * unfinished, and stops on SIGTERM or SIGINT (a second one exits at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <glib-unix.h>

#include "clock.h"
#include "daemon.h"
#include "imap.h"
#include "log.h"
#include "parse.h"

#define SERVE_TICK_MS	500	/* how often open incidents are checked */
/* Ticks a stop waits for moved store files to be made safe to open. */
#define SERVE_SETTLE_TRIES	20
/* Ticks between tries to make moved store files safe, after as many
 * tries in a row. */
#define SERVE_SETTLE_EVERY	60
#define SERVE_DRAIN_CHECK_MS	50	/* while stopping: are sessions done? */

const char *
daemon_cfg_path(const char *option)
{
	const char	*env;

	if (option != NULL)
		return option;
	env = g_getenv("CRITGATE_CONFIG");
	return env != NULL && env[0] != '\0' ? env : DAEMON_CFG_DEFAULT;
}

static bool	cfg_templates_are_usable(const struct cfg *cfg);
static void	serve_check_lock(struct daemon *d);
static bool	serve_check_store(struct daemon *d, bool is_stopping);

struct cfg *
daemon_cfg_load(const char *path)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	guint		 i;

	cfg = cfg_load(path, errors);
	for (i = 0; i < errors->len; i++)
		fprintf(stderr, "%s\n", (char *)g_ptr_array_index(errors, i));
	g_ptr_array_free(errors, TRUE);
	if (cfg == NULL && !g_file_test(path, G_FILE_TEST_EXISTS))
		fprintf(stderr, "critgate: no config file at %s; give its path "
		    "with --config FILE or CRITGATE_CONFIG\n", path);
	if (cfg != NULL && cfg->mail.relay != NULL &&
	    !cfg_templates_are_usable(cfg)) {
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Loads the mail texts once, so that a bad one fails here and not when
 * the first incident opens. */
static bool
cfg_templates_are_usable(const struct cfg *cfg)
{
	struct mailout_templates	*templates;
	char				*error = NULL;

	templates = mailout_templates_load(cfg->mail.templates, &error);
	if (templates == NULL) {
		fprintf(stderr, "%s: mail.templates: %s\n", cfg->path, error);
		g_free(error);
		return false;
	}
	mailout_templates_free(templates);
	return true;
}

/* Splits "host:port" or "[v6]:port"; returns 0 or -1. */
static int
split_host_port(const char *host_port, char **host, char **port)
{
	const char	*colon, *close;

	if (host_port[0] == '[') {
		close = strchr(host_port, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		*host = g_strndup(host_port + 1,
		    (gsize)(close - host_port - 1));
		*port = g_strdup(close + 2);
		return 0;
	}
	colon = strrchr(host_port, ':');
	if (colon == NULL)
		return -1;
	*host = g_strndup(host_port, (gsize)(colon - host_port));
	*port = g_strdup(colon + 1);
	return 0;
}

static int
listen_on(const struct addrinfo *ai)
{
	int	fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 128) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
daemon_listen(const char *what, const char *host_port)
{
	struct addrinfo	 hints, *res = NULL;
	char		*host = NULL, *port = NULL;
	int		 fd = -1, gai;

	if (split_host_port(host_port, &host, &port) == -1) {
		log_errorx("%s: invalid listen address addr=%s", what,
		    host_port);
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		log_errorx("%s: cannot resolve listen address addr=%s: %s",
		    what, host_port, gai_strerror(gai));
		goto out;
	}
	fd = listen_on(res);
	if (fd == -1)
		log_error("%s: cannot listen addr=%s", what, host_port);
	else
		log_info("%s: listening addr=%s", what, host_port);
out:
	if (res != NULL)
		freeaddrinfo(res);
	g_free(host);
	g_free(port);
	return fd;
}

/*
 * GLib 2.74 blocks a source while its callback runs.  It takes the
 * source's fd out of the poll set and puts it back afterwards, and each
 * change writes to the loop's wakeup fd.  perf counted eight such writes
 * per message under SMTP load, and a few per hundred without the block.
 * No callback here runs the loop again, so the block guards against
 * nothing.
 */
guint
daemon_fd_watch(int fd, GIOCondition cond, GUnixFDSourceFunc fn,
    gpointer data)
{
	GSource	*source = g_unix_fd_source_new(fd, cond);
	guint	 id;

	g_source_set_can_recurse(source, TRUE);
	g_source_set_callback(source, G_SOURCE_FUNC(fn), data, NULL);
	id = g_source_attach(source, NULL);
	g_source_unref(source);
	return id;
}

static void
serve_log_command(int64_t incident_id, const char *kind, const char *detail,
    void *ctx)
{
	(void)ctx;
	log_info("incident: %s inc=%" PRId64 " %s source=command", kind,
	    incident_id, detail != NULL ? detail : "");
}

/*
 * Logs what commands such as "critgate ack" recorded in the store since
 * the last tick, so that the daemon's log lists every acknowledgement,
 * also those made from the command line.
 */
static void
serve_log_commands(struct daemon *d)
{
	(void)store_command_events(d->store, &d->events_seen,
	    serve_log_command, NULL);
}

static gboolean
serve_on_tick(gpointer data)
{
	struct daemon	*d = data;

	/* Also when no mail comes: mail accepted before the removal is
	 * still only in the removed log. */
	d->is_store_moved = !serve_check_store(d, false);
	serve_check_lock(d);
	/* Also notices acknowledgements that "critgate ack" wrote to the
	 * store from another process. */
	daemon_page_tick(d);
	serve_log_commands(d);
	return G_SOURCE_CONTINUE;
}

static gboolean
serve_on_imap_stored(gpointer data)
{
	daemon_page_process_messages(data);
	return G_SOURCE_REMOVE;
}

/* Runs on the IMAP poller's thread and hands the work to the main loop. */
static void
serve_imap_stored(void *ctx)
{
	daemon_loop_post(NULL, G_PRIORITY_DEFAULT, serve_on_imap_stored, ctx);
}

void
daemon_loop_post(GMainContext *context, gint priority, GSourceFunc fn,
    gpointer data)
{
	GSource	*source = g_idle_source_new();

	g_source_set_priority(source, priority);
	g_source_set_callback(source, fn, data, NULL);
	g_source_attach(source, context);
	g_source_unref(source);
}

/*
 * Ends the loop once no session is receiving and no mail is with the
 * relay, or at the deadline.
 */
static gboolean
serve_on_drain(gpointer data)
{
	struct daemon	*d = data;

	if ((daemon_smtp_is_busy(d->smtp) || daemon_mail_is_busy(d)) &&
	    clock_now_ms() < d->drain_deadline_ms)
		return G_SOURCE_CONTINUE;
	if (daemon_smtp_is_busy(d->smtp))
		log_warnx("critgate: shutdown deadline reached; sessions still "
		    "receiving get 421 and their senders retry");
	if (daemon_mail_is_busy(d))
		log_warnx("critgate: shutdown deadline reached with mail at "
		    "the relay; it is marked unknown at the next start");
	daemon_smtp_shutdown(d->smtp);
	d->drain_source = 0;
	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
serve_on_stop(gpointer data)
{
	struct daemon	*d = data;

	if (++d->signals > 1) {
		log_warnx("critgate: second signal, exiting at once");
		_exit(1);
	}
	log_info("critgate: stopping; messages being received and mail at "
	    "the relay get %" PRId64 " s to finish; open incidents page "
	    "again at the next start",
	    d->cfg->shutdown_timeout_ms / 1000);
	d->is_stopping = true;
	d->drain_deadline_ms = clock_now_ms() + d->cfg->shutdown_timeout_ms;
	daemon_smtp_drain(d->smtp);
	d->drain_source = g_timeout_add(SERVE_DRAIN_CHECK_MS, serve_on_drain,
	    d);
	return G_SOURCE_CONTINUE;
}

/* Rereads the config file, and the TLS certificate and key. */
static gboolean
serve_on_hup(gpointer data)
{
	struct daemon	*d = data;

	log_info("critgate: SIGHUP received: reloading file=%s", d->cfg->path);
	daemon_reload(d);
	return G_SOURCE_CONTINUE;
}

/* The keys only a restart applies, and their offsets in struct cfg. */
static const struct {
	const char	*key;
	size_t		 offset;
} restart_keys[] = {
	{ "listen.smtp", offsetof(struct cfg, listen_smtp) },
	{ "listen.http", offsetof(struct cfg, listen_http) },
	{ "listen.lmtp", offsetof(struct cfg, listen_lmtp) },
	{ "store", offsetof(struct cfg, store_path) },
	{ "imap.host", offsetof(struct cfg, imap.host) },
	{ "imap.user", offsetof(struct cfg, imap.user) },
	{ "imap.mailbox", offsetof(struct cfg, imap.mailbox) },
};

char *
daemon_cfg_restart_text(const struct cfg *cfg)
{
	GString		*text = g_string_new(NULL);
	const char	*value;
	char		*escaped;
	size_t		 i;

	for (i = 0; i < G_N_ELEMENTS(restart_keys); i++) {
		value = *(const char *const *)((const char *)cfg +
		    restart_keys[i].offset);
		escaped = g_strescape(value != NULL ? value : "", NULL);
		g_string_append_printf(text, "%s=%s\n", restart_keys[i].key,
		    escaped);
		g_free(escaped);
	}
	return g_string_free(text, FALSE);
}

char *
daemon_cfg_restart_change(const char *running, const char *text)
{
	char	**old = g_strsplit(running, "\n", -1);
	char	**new = g_strsplit(text, "\n", -1);
	char	 *change = NULL;
	size_t	  i;

	for (i = 0; change == NULL && new[i] != NULL; i++)
		if (old[i] == NULL || strcmp(old[i], new[i]) != 0)
			change = g_strndup(new[i], strcspn(new[i], "="));
	g_strfreev(old);
	g_strfreev(new);
	return change;
}

/* Returns the key in cfg that only a restart applies and that changed
 * from old (caller frees), or NULL. */
static char *
reload_blocker(const struct cfg *old, const struct cfg *cfg)
{
	char	*running = daemon_cfg_restart_text(old);
	char	*text = daemon_cfg_restart_text(cfg);
	char	*change = daemon_cfg_restart_change(running, text);

	g_free(running);
	g_free(text);
	return change;
}

/* Notes the outcome of a reload in the store, where "critgate reload"
 * waits for it: "<time in us> ok", or "<time> refused: <why>". */
static void
reload_note(struct daemon *d, const char *why)
{
	char	*text;

	text = g_strdup_printf("%" PRId64 " %s%s", g_get_real_time(),
	    why != NULL ? "refused: " : "ok", why != NULL ? why : "");
	if (store_state_set_quick(d->store, "reload_result", text) == -1)
		log_warnx("critgate: the reload's outcome is not noted in the "
		    "store; \"critgate reload\" cannot report it");
	g_free(text);
}

void
daemon_reload(struct daemon *d)
{
	struct daemon_outbox	 ob;
	struct cfg		*cfg;
	const char		*why = NULL;
	char			*problem = NULL, *change = NULL;

	/* daemon_cfg_load writes each problem to the log first. */
	cfg = daemon_cfg_load(d->cfg->path);
	if (cfg == NULL)
		why = "the file fails check-config; the daemon's log lists "
		    "its problems";
	else if (cfg_check_files_secrecy(cfg, &problem) == -1)
		why = problem;
	else if ((change = reload_blocker(d->cfg, cfg)) != NULL)
		why = problem = g_strdup_printf("%s changed, which only a "
		    "restart applies", change);
	else if (daemon_outbox_open(&ob, d->store, cfg) == -1)
		why = "the mail templates cannot be loaded";
	g_free(change);
	if (why != NULL) {
		log_warnx("critgate: reload refused file=%s reason=\"%s\"; the "
		    "running config stays", d->cfg->path, why);
		reload_note(d, why);
		g_free(problem);
		cfg_free(cfg);
		return;
	}
	daemon_outbox_close(&d->outbox);
	d->outbox = ob;
	/* The old one lives on while the pass thread or the first config's
	 * holders use it. */
	cfg_release(d->cfg);
	d->cfg = cfg;
	daemon_pass_set_cfg(d->pass, cfg);
	daemon_providers_reload(d->providers, cfg);
	daemon_smtp_tls_reload(d->smtp);
	log_info("critgate: config reloaded file=%s team=%zu rotations=%zu "
	    "policies=%zu", cfg->path, cfg->n_team, cfg->n_rotations,
	    cfg->n_policies);
	reload_note(d, NULL);
}

/*
 * Raises the open-file limit to its hard maximum: each SMTP session, each
 * webhook and each provider request holds a descriptor, and the soft
 * default of 1024 is small for a gateway under a flood.
 */
static void
raise_fd_limit(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("critgate: cannot raise the open-file limit");
}

static const char *
serve_pid_text(void)
{
	static char	text[32];

	snprintf(text, sizeof(text), "%ld", (long)getpid());
	return text;
}

/*
 * Takes the lock of the store's lock file for as long as the process
 * runs, so that a second daemon refuses to serve the same store and page
 * the team twice, and commands beside it know it runs.  The process must
 * not open the file again: closing it would release the lock.
 */
static int
serve_lock(struct daemon *d)
{
	struct flock	 fl;
	char		*path = daemon_store_lock_path(d->cfg->store_path);
	char		*dir;
	long		 pid;

	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd == -1 && errno == ENOENT) {
		dir = g_path_get_dirname(d->cfg->store_path);
		log_errorx("critgate: refusing to start: the store's folder %s "
		    "does not exist; create it, writable by the user critgate "
		    "runs as, or set store in %s", dir, d->cfg->path);
		g_free(dir);
	} else if (d->lock_fd == -1)
		log_error("critgate: cannot open the lock file %s", path);
	if (d->lock_fd == -1) {
		g_free(path);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(d->lock_fd, F_SETLK, &fl) == 0) {
		g_free(path);
		return 0;
	}
	pid = fcntl(d->lock_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ?
	    fl.l_pid : 0;
	log_errorx("critgate: critgate pid=%ld serves the store %s, as its "
	    "lock %s shows; stop it first", pid, d->cfg->store_path, path);
	g_free(path);
	return -1;
}

/* Notes in the lock file which log and index files the daemon uses, for
 * commands to tell them from files put in their place. */
static void
serve_note_files(struct daemon *d)
{
	char	*text = daemon_store_files_text(d->cfg->store_path);

	if (text == NULL || ftruncate(d->lock_fd, 0) == -1 ||
	    pwrite(d->lock_fd, text, strlen(text), 0) != (ssize_t)strlen(text))
		log_warnx("critgate: the store's files are not noted in its "
		    "lock file; commands will not notice them replaced");
	g_free(text);
}

/*
 * Takes the lock again when its file was removed or replaced, so that a
 * second daemon still finds it, and stops at once if one already took it.
 */
static void
serve_check_lock(struct daemon *d)
{
	struct stat	 held, at_path;
	char		*path = daemon_store_lock_path(d->cfg->store_path);
	int		 old = d->lock_fd;

	if (fstat(old, &held) == 0 && stat(path, &at_path) == 0 &&
	    held.st_dev == at_path.st_dev && held.st_ino == at_path.st_ino) {
		g_free(path);
		return;
	}
	log_warnx("critgate: the lock file %s was removed or replaced; "
	    "taking the lock again", path);
	g_free(path);
	if (serve_lock(d) == -1) {
		log_errorx("critgate: stopping at once, as the store's lock "
		    "cannot be taken again (see the line above)");
		_exit(EXIT_FAILURE);
	}
	(void)close(old);
	serve_note_files(d);
}

/*
 * Checks that the store's files are those the daemon opened.  When one was
 * removed or replaced, a restart would not find what the daemon writes
 * from then on, and another process may start a log of its own.  So this
 * makes the files at the path safe to open (store_settle_moved) and ends
 * the process.  Returns true when the files are in place, and false while
 * they cannot be made safe yet (flushes fail meanwhile).  After the first
 * tries, it tries once in SERVE_SETTLE_EVERY calls unless is_stopping.
 */
static bool
serve_check_store(struct daemon *d, bool is_stopping)
{
	static unsigned	 tries;
	const char	*moved;

	if ((moved = store_files_moved(d->store)) == NULL)
		return true;
	if (tries == 0)
		log_errorx("critgate: the %s of the store %s was removed or "
		    "replaced while critgate ran, so a restart would not find "
		    "what is written from now on; mail is refused until the "
		    "files at the path are safe to open, then critgate stops",
		    moved, d->cfg->store_path);
	/* Each failed try is logged. */
	if (tries++ >= SERVE_SETTLE_EVERY && tries % SERVE_SETTLE_EVERY != 0 &&
	    !is_stopping)
		return false;
	if (store_settle_moved(d->store) == -1)
		return false;
	log_errorx("critgate: stopping at once; restart critgate, which "
	    "opens the store anew");
	/* As after a crash: senders that heard no 250 send again, and pages
	 * in flight are found or sent again after the restart. */
	_exit(EXIT_FAILURE);
}

/*
 * Ends the process once the files of the store are safe to open, when one
 * was removed or replaced: closing the store would checkpoint into the
 * wrong file, or delete the log at the path.
 */
static void
serve_stop_moved(struct daemon *d)
{
	int	i;

	for (i = 0; i < SERVE_SETTLE_TRIES; i++) {
		(void)serve_check_store(d, true);
		g_usleep(SERVE_TICK_MS * 1000);
	}
	log_errorx("critgate: stopping with the files of the store %s not "
	    "safe to open (see the lines above); set aside its -wal file "
	    "before the restart", d->cfg->store_path);
	_exit(EXIT_FAILURE);
}

static int
serve_start(struct daemon *d)
{
	char	*problem = NULL, *restart;
	bool	 is_failed;
	long	 pid;

	raise_fd_limit();
	if (cfg_check_files_secrecy(d->cfg, &problem) == -1) {
		log_errorx("critgate: refusing to start: %s", problem);
		g_free(problem);
		return -1;
	}
	if (serve_lock(d) == -1)
		return -1;
	d->store = store_open_as_is(d->cfg->store_path, true);
	if (d->store == NULL)
		return -1;
	/* An older daemon takes no lock, but notes its pid. */
	if ((pid = daemon_store_noted_server(d->store)) > 0) {
		log_errorx("critgate: refusing to start: critgate pid=%ld "
		    "serves the store %s; stop it first", pid,
		    d->cfg->store_path);
		return -1;
	}
	if (store_upgrade(d->store) == -1)
		return -1;
	serve_note_files(d);
	/* The writer runs them, off the loop. */
	store_checkpoint_later(d->store);
	if (daemon_outbox_open(&d->outbox, d->store, d->cfg) == -1)
		return -1;
	/* "critgate reload" finds the daemon to signal here, and what it
	 * would refuse to reload. */
	restart = daemon_cfg_restart_text(d->cfg);
	is_failed = store_state_set(d->store, "pid", serve_pid_text()) == -1 ||
	    store_state_set(d->store, "restart_config", restart) == -1;
	g_free(restart);
	if (is_failed)
		return -1;
	d->curl = daemon_curl_new();
	d->providers = daemon_providers_new(d->cfg, d->store);
	d->writer = daemon_writer_start(d->cfg->store_path);
	if (d->writer == NULL)
		return -1;
	d->pass = daemon_pass_start(d);
	if (d->pass == NULL)
		return -1;
	daemon_writer_set_pass(d->writer, d->pass);
	d->smtp = daemon_smtp_start(d);
	if (d->smtp == NULL)
		return -1;
	d->http = daemon_http_start(d);
	if (d->http == NULL)
		return -1;
	return 0;
}

static void
serve_stop(struct daemon *d)
{
	if (d->store != NULL && store_files_moved(d->store) != NULL)
		serve_stop_moved(d);
	/* First: the poller's and the pass's threads use their own store
	 * handles and cfg. */
	imap_poller_stop(d->imap);
	if (d->writer != NULL)
		daemon_writer_set_pass(d->writer, NULL);
	daemon_pass_stop(d->pass);
	if (d->tick_source != 0)
		g_source_remove(d->tick_source);
	if (d->drain_source != 0)
		g_source_remove(d->drain_source);
	daemon_smtp_free(d->smtp);
	if (d->writer != NULL)
		daemon_record_flush_now(d);
	daemon_writer_stop(d->writer);
	daemon_http_free(d->http);
	d->http = NULL;
	/* Requests in flight are abandoned before their jobs are freed. */
	daemon_curl_free(d->curl);
	daemon_page_stop(d);
	daemon_mail_stop(d);
	daemon_providers_free(d->providers);
	store_close(d->store);
	cfg_release(d->cfg);
	cfg_release(d->first_cfg);
	if (d->loop != NULL)
		g_main_loop_unref(d->loop);
	/* Last, once the store is closed. */
	if (d->lock_fd != -1)
		close(d->lock_fd);
}

/* Logs the work the last run left, which this one takes over. */
static void
serve_log_backlog(struct daemon *d)
{
	struct store_backlog	b;

	if (store_backlog_read(d->store, &b) == -1)
		return;
	log_info("critgate: backlog at start incidents_paging=%" PRId64
	    " messages_waiting=%" PRId64 " pages_pending=%" PRId64
	    " pages_in_flight=%" PRId64 " pages_capped=%" PRId64
	    " mail_queued=%" PRId64, b.incidents_paging, b.messages_waiting,
	    b.pages_pending, b.pages_in_flight, b.pages_capped,
	    b.mail_queued);
}

int
daemon_serve_main(int argc, char **argv)
{
	struct daemon	 d;
	const char	*config = NULL;
	gboolean	 is_verbose = FALSE;
	GOptionEntry	 entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &is_verbose,
		  "log protocol detail (debug level)", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext	*ctx;
	char		*error = NULL;
	int		 rc = 1;

	ctx = g_option_context_new("- run the critgate gateway");
	if (!daemon_options_parse(ctx, entries, &argc, &argv, &error)) {
		fprintf(stderr, "critgate serve: %s\n", error);
		g_free(error);
		g_option_context_free(ctx);
		return 2;
	}
	g_option_context_free(ctx);
	log_init(is_verbose ? LOG_DEBUG : LOG_INFO);
	memset(&d, 0, sizeof(d));
	d.lock_fd = -1;
	d.loop = g_main_loop_new(NULL, FALSE);
	/* First: a signal during the start waits for the loop, instead of
	 * ending the process before it has stopped its threads. */
	g_unix_signal_add(SIGTERM, serve_on_stop, &d);
	g_unix_signal_add(SIGINT, serve_on_stop, &d);
	g_unix_signal_add(SIGHUP, serve_on_hup, &d);
	d.cfg = daemon_cfg_load(daemon_cfg_path(config));
	if (d.cfg == NULL) {
		log_errorx("critgate: refusing to start: invalid config "
		    "file=%s", daemon_cfg_path(config));
		g_main_loop_unref(d.loop);
		g_free((char *)config);
		return 1;
	}
	d.first_cfg = cfg_hold(d.cfg);
	signal(SIGPIPE, SIG_IGN);
	parse_init();
	if (serve_start(&d) == -1)
		goto out;
	log_info("critgate: started version=%s config=%s store=%s team=%zu "
	    "routes=%zu", CRITGATE_VERSION, d.cfg->path, d.cfg->store_path,
	    d.cfg->n_team, d.cfg->n_routes);
	serve_log_backlog(&d);
	d.events_seen = -1;
	serve_log_commands(&d);
	daemon_mail_recover(&d);
	daemon_page_recover(&d);
	if (d.cfg->imap.host != NULL)
		d.imap = imap_poller_start(d.cfg, serve_imap_stored, &d);
	d.tick_source = g_timeout_add(SERVE_TICK_MS, serve_on_tick, &d);
	g_main_loop_run(d.loop);
	rc = 0;
	log_info("critgate: stopped");
out:
	serve_stop(&d);
	g_free((char *)config);
	return rc;
}
