/* SPDX-License-Identifier: ISC */
/*
 * The SMTP listener: accepts connections, feeds each one's bytes to its
 * smtp stage session, writes the replies, and runs the idle and whole-
 * session timers.  A complete message is committed to the store before the
 * session is told, so "250" never goes out for a message not on disk.
 * After STARTTLS, a connection's bytes pass through daemon_tls.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <glib-unix.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "smtp.h"

#define SMTP_READ_CHUNK		65536
/*
 * Replies waiting to be written past which the connection is not read:
 * a client that pipelines commands but never reads the replies would
 * otherwise make the daemon buffer them without end.
 */
#define SMTP_OUTPUT_PAUSE	65536
#define SMTP_ACCEPT_PAUSE_MS	1000	/* after accept() runs out of fds */

/* One listening socket: SMTP, or LMTP for a local MTA. */
struct smtp_listener {
	struct daemon_smtp	*smtp;
	const char		*name;		/* "smtp" or "lmtp" */
	char			*unix_path;	/* to unlink, or NULL */
	int			 fd;
	guint			 source;
	guint			 accept_timer;	/* accept paused until then */
	struct smtp_limits	 limits;
};

struct daemon_smtp {
	struct daemon		*d;
	struct smtp_listener	 listeners[2];
	size_t			 n_listeners;
	GList			*conns;
	GHashTable		*by_id;		/* session id -> conn */
	unsigned		 n_conns;
	GHashTable		*per_client;	/* address -> count */
	struct smtp_callbacks	 callbacks;
	uint64_t		 next_conn_id;
	struct daemon_tls	*tls;		/* NULL: no STARTTLS */
};

struct smtp_conn {
	struct daemon_smtp	*smtp;
	GList			*link;
	struct smtp_session	*session;
	int			 fd;
	uint64_t		 id;
	guint			 read_source;
	guint			 write_source;
	guint			 idle_timer;
	guint			 total_timer;
	char			 peer[INET6_ADDRSTRLEN + 8];
	char			 address[INET6_ADDRSTRLEN]; /* no port */
	GIOCondition		 read_cond;	/* G_IO_OUT while a TLS read
						 * waits to write */
	struct daemon_tls_conn	*tls;		/* NULL until STARTTLS */
	guint			 handshake_source;
	bool			 is_tls_wanted;	/* handshake after the 220 */
	bool			 is_handshaking;
};

static void	conn_close(struct smtp_conn *conn);
static void	conn_flush(struct smtp_conn *conn);
static gboolean	conn_on_readable(int fd, GIOCondition cond, gpointer data);
static void	conn_tls_begin(struct smtp_conn *conn);

static bool
smtp_rcpt_is_routed(void *ctx, const char *address)
{
	struct smtp_conn	*conn = ctx;

	return cfg_route_find(conn->smtp->d->cfg, address) != NULL;
}

/* The destination of a commit result; the session may be gone by then. */
struct commit_ctx {
	struct daemon_smtp	*smtp;
	uint64_t		 conn_id;
	char			*peer;
	char			*mail_from;
	unsigned		 rcpts;
	unsigned		 bytes;
};

static void
smtp_on_committed(void *data, bool is_committed, int64_t msg_id)
{
	struct commit_ctx	*cc = data;
	struct daemon_smtp	*smtp = cc->smtp;
	struct smtp_conn	*conn;

	if (is_committed)
		log_info("smtp: message stored msg=%" PRId64 " peer=%s "
		    "mail_from=<%s> rcpts=%u bytes=%u", msg_id, cc->peer,
		    cc->mail_from, cc->rcpts, cc->bytes);
	else
		log_errorx("smtp: message not stored peer=%s mail_from=<%s>; "
		    "replied 451 so the sender retries", cc->peer,
		    cc->mail_from);
	conn = g_hash_table_lookup(smtp->by_id, &cc->conn_id);
	if (conn != NULL) {
		smtp_session_commit_done(conn->session, is_committed);
		conn_flush(conn);
	} else if (is_committed) {
		/* Stored, but the sender never heard 250: it sends again,
		 * and the copy is absorbed as a duplicate. */
		log_info("smtp: sender left before the commit ended msg=%"
		    PRId64 " peer=%s", msg_id, cc->peer);
	}
	g_free(cc->peer);
	g_free(cc->mail_from);
	g_free(cc);
}

/*
 * Counts the messages the writer may wait for: this one, and those of the
 * sessions between MAIL FROM and the final dot.  Counting only those in
 * DATA left batches of about 9 messages at 20 sessions in the benchmark,
 * and 0.115 flushes per message.  Counting these made it 0.068.
 * Sessions already committing wait for the writer itself, so they do not
 * count.
 */
static unsigned
busy_count(const struct daemon_smtp *smtp)
{
	const struct smtp_conn	*conn;
	unsigned		 n = 1;
	GList			*l;

	for (l = smtp->conns; l != NULL; l = l->next) {
		conn = l->data;
		if (smtp_session_is_sending(conn->session))
			n++;
	}
	return n;
}

static void
smtp_message_ready(void *ctx, struct smtp_session *session,
    struct smtp_message *msg)
{
	struct smtp_conn	*conn = ctx;
	struct daemon_smtp	*smtp = conn->smtp;
	struct commit_ctx	*cc;

	(void)session;
	cc = g_new0(struct commit_ctx, 1);
	cc->smtp = smtp;
	cc->conn_id = conn->id;
	cc->peer = g_strdup(msg->peer);
	cc->mail_from = g_strdup(msg->mail_from);
	cc->rcpts = msg->rcpt_to->len;
	cc->bytes = msg->data->len;
	daemon_writer_submit(smtp->d->writer, msg, clock_now_ms(),
	    busy_count(smtp), smtp_on_committed, cc);
}

static void
smtp_start_tls(void *ctx, struct smtp_session *session)
{
	struct smtp_conn	*conn = ctx;

	(void)session;
	conn->is_tls_wanted = true;
}

static gboolean
conn_on_writable(int fd, GIOCondition cond, gpointer data)
{
	struct smtp_conn	*conn = data;

	(void)fd;
	(void)cond;
	conn->write_source = 0;
	conn_flush(conn);
	return G_SOURCE_REMOVE;
}

/*
 * Reads from the client only while few replies wait to be written, so
 * that the output never grows past SMTP_OUTPUT_PAUSE and one chunk, and
 * not at all from the STARTTLS command to the end of the handshake.
 */
static void
conn_read_update(struct smtp_conn *conn, size_t pending)
{
	bool	is_paused = pending >= SMTP_OUTPUT_PAUSE ||
	    conn->is_tls_wanted || conn->is_handshaking;

	if (is_paused && conn->read_source != 0) {
		g_source_remove(conn->read_source);
		conn->read_source = 0;
	} else if (!is_paused && conn->read_source == 0) {
		conn->read_source = daemon_fd_watch(conn->fd,
		    conn->read_cond | G_IO_HUP | G_IO_ERR, conn_on_readable,
		    conn);
	}
}

/*
 * Writes up to len bytes to the client, in plaintext or through TLS.
 * Returns what to wait for when the socket takes nothing now.
 */
static enum daemon_tls_io
conn_send(struct smtp_conn *conn, const uint8_t *buf, size_t len,
    size_t *n)
{
	enum daemon_tls_io	io;
	ssize_t			sent;

	if (conn->tls != NULL) {
		io = daemon_tls_conn_write(conn->tls, buf, len, n);
		if (io == DAEMON_TLS_FAILED)
			log_debug("smtp: tls write failed session=%" PRIu64
			    " peer=%s error=\"%s\"", conn->id, conn->peer,
			    daemon_tls_conn_error(conn->tls));
		return io;
	}
	sent = send(conn->fd, buf, len, MSG_NOSIGNAL);
	if (sent == -1 && (errno == EAGAIN || errno == EINTR))
		return DAEMON_TLS_WANT_WRITE;
	if (sent == -1) {
		log_debug("smtp: write failed session=%" PRIu64 " peer=%s: %s",
		    conn->id, conn->peer, g_strerror(errno));
		return DAEMON_TLS_FAILED;
	}
	*n = (size_t)sent;
	return DAEMON_TLS_OK;
}

/*
 * Writes what the session queued; closes the connection when it is done,
 * and starts the TLS handshake once the 220 to STARTTLS is out.  During
 * the handshake nothing is written: a session closed meanwhile (timeout,
 * shutdown) loses its 421, which could not go out in plaintext anyway.
 */
static void
conn_flush(struct smtp_conn *conn)
{
	const uint8_t		*out;
	size_t			 len = 0, n = 0;
	enum daemon_tls_io	 io;

	if (conn->is_handshaking) {
		if (smtp_session_is_closed(conn->session))
			conn_close(conn);
		return;
	}
	while ((out = smtp_session_output(conn->session, &len)) != NULL &&
	    len > 0) {
		io = conn_send(conn, out, len, &n);
		if (io == DAEMON_TLS_WANT_READ || io == DAEMON_TLS_WANT_WRITE) {
			if (conn->write_source == 0)
				conn->write_source = daemon_fd_watch(conn->fd,
				    io == DAEMON_TLS_WANT_READ ? G_IO_IN :
				    G_IO_OUT, conn_on_writable, conn);
			conn_read_update(conn, len);
			return;
		}
		if (io != DAEMON_TLS_OK) {
			conn_close(conn);
			return;
		}
		smtp_session_output_consume(conn->session, n);
	}
	if (smtp_session_is_closed(conn->session)) {
		conn_close(conn);
		return;
	}
	if (conn->is_tls_wanted) {
		conn_tls_begin(conn);
		return;
	}
	conn_read_update(conn, 0);
}

static gboolean
conn_on_idle(gpointer data)
{
	struct smtp_conn	*conn = data;

	/* The session logs the timeout with the peer. */
	conn->idle_timer = 0;
	smtp_session_timeout(conn->session);
	conn_flush(conn);
	return G_SOURCE_REMOVE;
}

static gboolean
conn_on_total(gpointer data)
{
	struct smtp_conn	*conn = data;

	conn->total_timer = 0;
	log_info("smtp: session too long session=%" PRIu64 " peer=%s",
	    conn->id, conn->peer);
	smtp_session_timeout(conn->session);
	conn_flush(conn);
	return G_SOURCE_REMOVE;
}

static void
conn_idle_restart(struct smtp_conn *conn)
{
	if (conn->idle_timer != 0)
		g_source_remove(conn->idle_timer);
	conn->idle_timer = g_timeout_add(
	    (guint)conn->smtp->d->cfg->smtp_idle_timeout_ms, conn_on_idle,
	    conn);
}

/* Reads up to len bytes from the client, in plaintext or through TLS. */
static enum daemon_tls_io
conn_recv(struct smtp_conn *conn, uint8_t *buf, size_t len, size_t *n)
{
	enum daemon_tls_io	io;
	ssize_t			got;

	if (conn->tls != NULL) {
		io = daemon_tls_conn_read(conn->tls, buf, len, n);
		if (io == DAEMON_TLS_FAILED)
			log_debug("smtp: tls read failed session=%" PRIu64
			    " peer=%s error=\"%s\"", conn->id, conn->peer,
			    daemon_tls_conn_error(conn->tls));
		return io;
	}
	got = recv(conn->fd, buf, len, 0);
	if (got == -1 && (errno == EAGAIN || errno == EINTR))
		return DAEMON_TLS_WANT_READ;
	if (got == 0)
		return DAEMON_TLS_CLOSED;
	if (got == -1) {
		log_debug("smtp: read failed session=%" PRIu64 " peer=%s: %s",
		    conn->id, conn->peer, g_strerror(errno));
		return DAEMON_TLS_FAILED;
	}
	*n = (size_t)got;
	return DAEMON_TLS_OK;
}

/*
 * Feeds what the client sent to the session.  Under TLS it reads on while
 * OpenSSL holds decrypted bytes, which would not make the socket readable
 * again.
 */
static enum daemon_tls_io
conn_receive(struct smtp_conn *conn)
{
	uint8_t			buf[SMTP_READ_CHUNK];
	enum daemon_tls_io	io;
	size_t			n = 0;

	do {
		io = conn_recv(conn, buf, sizeof(buf), &n);
		if (io != DAEMON_TLS_OK)
			break;
		conn_idle_restart(conn);
		smtp_session_feed(conn->session, buf, n);
	} while (conn->tls != NULL && daemon_tls_conn_has_pending(conn->tls) &&
	    !smtp_session_is_closed(conn->session));
	return io;
}

static gboolean
conn_on_readable(int fd, GIOCondition cond, gpointer data)
{
	struct smtp_conn	*conn = data;
	GIOCondition		 want;
	enum daemon_tls_io	 io;

	(void)fd;
	(void)cond;
	io = conn_receive(conn);
	if (io == DAEMON_TLS_CLOSED || io == DAEMON_TLS_FAILED) {
		conn->read_source = 0;
		conn_close(conn);
		return G_SOURCE_REMOVE;
	}

	/* A TLS read may need to write first (a key update, say). */
	want = io == DAEMON_TLS_WANT_WRITE ? G_IO_OUT : G_IO_IN;
	if (want != conn->read_cond) {
		conn->read_cond = want;
		g_source_remove(conn->read_source);
		conn->read_source = 0;
	}
	conn_flush(conn);
	return G_SOURCE_CONTINUE;
}

static gboolean	conn_on_handshake_ready(int fd, GIOCondition cond,
		    gpointer data);

/* Runs the handshake as far as the socket allows. */
static void
conn_handshake_step(struct smtp_conn *conn)
{
	enum daemon_tls_io	io;

	io = daemon_tls_conn_handshake(conn->tls);
	if (io == DAEMON_TLS_WANT_READ || io == DAEMON_TLS_WANT_WRITE) {
		conn->handshake_source = daemon_fd_watch(conn->fd,
		    (io == DAEMON_TLS_WANT_READ ? G_IO_IN : G_IO_OUT) |
		    G_IO_HUP | G_IO_ERR, conn_on_handshake_ready, conn);
		return;
	}
	if (io != DAEMON_TLS_OK) {
		log_info("smtp: tls handshake failed session=%" PRIu64
		    " peer=%s error=\"%s\"", conn->id, conn->peer,
		    daemon_tls_conn_error(conn->tls));
		conn_close(conn);
		return;
	}
	conn->is_handshaking = false;
	log_info("smtp: tls started session=%" PRIu64 " peer=%s version=%s "
	    "cipher=%s", conn->id, conn->peer,
	    daemon_tls_conn_version(conn->tls),
	    daemon_tls_conn_cipher(conn->tls));
	smtp_session_tls_started(conn->session);
	conn_idle_restart(conn);
	conn_flush(conn);
}

static gboolean
conn_on_handshake_ready(int fd, GIOCondition cond, gpointer data)
{
	struct smtp_conn	*conn = data;

	(void)fd;
	(void)cond;
	conn->handshake_source = 0;
	conn_handshake_step(conn);
	return G_SOURCE_REMOVE;
}

/* Switches the connection to TLS, once the 220 to STARTTLS is written. */
static void
conn_tls_begin(struct smtp_conn *conn)
{
	conn->is_tls_wanted = false;
	conn->is_handshaking = true;
	conn_read_update(conn, 0);
	conn->tls = daemon_tls_conn_new(conn->smtp->tls, conn->fd);
	if (conn->tls == NULL) {
		conn_close(conn);
		return;
	}
	conn_handshake_step(conn);
}

/* Adds delta to the connections counted for address; returns the count. */
static unsigned
client_count_add(struct daemon_smtp *smtp, const char *address, int delta)
{
	unsigned	n;

	n = GPOINTER_TO_UINT(g_hash_table_lookup(smtp->per_client, address));
	n += delta;
	if (n == 0)
		g_hash_table_remove(smtp->per_client, address);
	else
		g_hash_table_insert(smtp->per_client, g_strdup(address),
		    GUINT_TO_POINTER(n));
	return n;
}

static void
conn_close(struct smtp_conn *conn)
{
	struct daemon_smtp	*smtp = conn->smtp;

	log_debug("smtp: close session=%" PRIu64 " peer=%s", conn->id,
	    conn->peer);
	if (conn->read_source != 0)
		g_source_remove(conn->read_source);
	if (conn->write_source != 0)
		g_source_remove(conn->write_source);
	if (conn->idle_timer != 0)
		g_source_remove(conn->idle_timer);
	if (conn->total_timer != 0)
		g_source_remove(conn->total_timer);
	if (conn->handshake_source != 0)
		g_source_remove(conn->handshake_source);
	daemon_tls_conn_free(conn->tls);
	close(conn->fd);
	g_hash_table_remove(smtp->by_id, &conn->id);
	smtp->conns = g_list_delete_link(smtp->conns, conn->link);
	smtp->n_conns--;
	client_count_add(smtp, conn->address, -1);
	smtp_session_free(conn->session);
	g_free(conn);
}

static void
conn_peer_name(int fd, char *buf, size_t size, char *host)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 port = 0;

	g_strlcpy(buf, "unknown", size);
	g_strlcpy(host, "unknown", INET6_ADDRSTRLEN);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, INET6_ADDRSTRLEN);
		port = ntohs(sin->sin_port);
		snprintf(buf, size, "%s:%d", host, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host,
		    INET6_ADDRSTRLEN);
		port = ntohs(sin6->sin6_port);
		snprintf(buf, size, "[%s]:%d", host, port);
	}
}

/*
 * Tells whether a new connection goes over limits.connections or
 * limits.connections_per_client; if so it gets its 421 here, so that the
 * client retries later rather than treating a closed socket as a failure.
 */
static bool
conn_is_over_limit(struct daemon_smtp *smtp, struct smtp_conn *conn)
{
	const struct cfg	*cfg = smtp->d->cfg;
	char			*reply;
	unsigned		 n;

	n = GPOINTER_TO_UINT(g_hash_table_lookup(smtp->per_client,
	    conn->address));
	if (smtp->n_conns < cfg->max_connections &&
	    n < cfg->max_connections_per_client)
		return false;
	log_info("smtp: connection refused session=%" PRIu64 " peer=%s "
	    "connections=%u from_client=%u", conn->id, conn->peer,
	    smtp->n_conns, n);
	reply = g_strdup_printf("421 4.7.0 %s too many connections, try "
	    "again later\r\n", cfg->hostname);
	/* Best effort: the socket is new, so its buffer has room. */
	(void)!send(conn->fd, reply, strlen(reply), MSG_NOSIGNAL);
	g_free(reply);
	return true;
}

static gboolean	smtp_on_accept(int fd, GIOCondition cond, gpointer data);

static gboolean
smtp_on_accept_resume(gpointer data)
{
	struct smtp_listener	*l = data;

	l->accept_timer = 0;
	l->source = daemon_fd_watch(l->fd, G_IO_IN, smtp_on_accept, l);
	return G_SOURCE_REMOVE;
}

static void
conn_start(struct smtp_listener *l, struct smtp_conn *conn)
{
	struct daemon_smtp	*smtp = l->smtp;

	smtp->n_conns++;
	client_count_add(smtp, conn->address, 1);
	conn->session = smtp_session_new(&l->limits, &smtp->callbacks, conn,
	    conn->peer);
	g_hash_table_insert(smtp->by_id, &conn->id, conn);
	smtp->conns = g_list_prepend(smtp->conns, conn);
	conn->link = smtp->conns;
	log_debug("%s: connect session=%" PRIu64 " peer=%s", l->name,
	    conn->id, conn->peer);
	conn->read_cond = G_IO_IN;
	conn->read_source = daemon_fd_watch(conn->fd,
	    conn->read_cond | G_IO_HUP | G_IO_ERR, conn_on_readable, conn);
	conn->total_timer = g_timeout_add(
	    (guint)smtp->d->cfg->smtp_session_timeout_ms, conn_on_total, conn);
	conn_idle_restart(conn);
	conn_flush(conn);
}

static gboolean
smtp_on_accept(int fd, GIOCondition cond, gpointer data)
{
	struct smtp_listener	*l = data;
	struct smtp_conn	*conn;
	int			 cfd;

	(void)cond;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd == -1) {
		if (errno == EAGAIN || errno == EINTR ||
		    errno == ECONNABORTED)
			return G_SOURCE_CONTINUE;
		/* Out of file descriptors or memory: the listener stays
		 * readable, so pause it rather than spin on it. */
		log_warn("%s: accept failed, pausing new connections for "
		    "%d ms", l->name, SMTP_ACCEPT_PAUSE_MS);
		l->source = 0;
		l->accept_timer = g_timeout_add(SMTP_ACCEPT_PAUSE_MS,
		    smtp_on_accept_resume, l);
		return G_SOURCE_REMOVE;
	}
	conn = g_new0(struct smtp_conn, 1);
	conn->smtp = l->smtp;
	conn->fd = cfd;
	conn->id = ++l->smtp->next_conn_id;
	conn_peer_name(cfd, conn->peer, sizeof(conn->peer), conn->address);
	if (l->unix_path != NULL) {
		g_strlcpy(conn->peer, "unix", sizeof(conn->peer));
		g_strlcpy(conn->address, "unix", sizeof(conn->address));
	}
	if (conn_is_over_limit(l->smtp, conn)) {
		close(cfd);
		g_free(conn);
		return G_SOURCE_CONTINUE;
	}
	conn_start(l, conn);
	return G_SOURCE_CONTINUE;
}

/* Opens a Unix socket for LMTP, replacing a stale one left by a crash. */
static int
listen_unix(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_errorx("lmtp: socket path too long path=%s", path);
		return -1;
	}
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_error("lmtp: socket failed");
		return -1;
	}
	(void)unlink(path);	/* a leftover socket, or nothing */
	/* The local MTA runs as another user; the folder holding the
	 * socket decides who may connect. */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, 128) == -1) {
		log_error("lmtp: cannot listen path=%s", path);
		close(fd);
		return -1;
	}
	log_info("lmtp: listening path=%s", path);
	return fd;
}

static int
listener_open(struct daemon_smtp *smtp, const char *name, const char *addr,
    bool is_lmtp)
{
	const struct cfg	*cfg = smtp->d->cfg;
	struct smtp_listener	*l = &smtp->listeners[smtp->n_listeners];

	memset(l, 0, sizeof(*l));
	l->smtp = smtp;
	l->name = name;
	if (g_str_has_prefix(addr, "unix:")) {
		l->unix_path = g_strdup(addr + 5);
		l->fd = listen_unix(l->unix_path);
	} else {
		l->fd = daemon_listen(name, addr);
	}
	if (l->fd == -1) {
		g_free(l->unix_path);
		return -1;
	}
	l->limits.hostname = cfg->hostname;
	l->limits.max_message_bytes = (size_t)cfg->max_message_bytes;
	l->limits.max_recipients = (size_t)cfg->max_recipients;
	l->limits.max_errors = (size_t)cfg->max_errors_per_session;
	l->limits.max_text_line = (size_t)cfg->max_text_line;
	l->limits.is_lmtp = is_lmtp;

	/* LMTP comes from a local MTA, so only SMTP offers STARTTLS. */
	l->limits.has_starttls = !is_lmtp && smtp->tls != NULL;
	l->limits.is_tls_required = l->limits.has_starttls &&
	    cfg->tls_require;
	l->source = daemon_fd_watch(l->fd, G_IO_IN, smtp_on_accept, l);
	smtp->n_listeners++;
	return 0;
}

static void
listener_close(struct smtp_listener *l)
{
	if (l->accept_timer != 0)
		g_source_remove(l->accept_timer);
	if (l->source != 0)
		g_source_remove(l->source);
	if (l->fd != -1)
		close(l->fd);
	if (l->unix_path != NULL)
		(void)unlink(l->unix_path);	/* gone already is fine */
	g_free(l->unix_path);
	l->unix_path = NULL;
	l->accept_timer = 0;
	l->source = 0;
	l->fd = -1;
}

struct daemon_smtp *
daemon_smtp_start(struct daemon *d)
{
	struct daemon_smtp	*smtp;

	smtp = g_new0(struct daemon_smtp, 1);
	smtp->d = d;
	smtp->per_client = g_hash_table_new_full(g_str_hash, g_str_equal,
	    g_free, NULL);
	smtp->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
	smtp->callbacks.rcpt_is_routed = smtp_rcpt_is_routed;
	smtp->callbacks.message_ready = smtp_message_ready;
	smtp->callbacks.start_tls = smtp_start_tls;
	if (d->cfg->tls_cert_file != NULL) {
		smtp->tls = daemon_tls_new(d->cfg->tls_cert_file,
		    d->cfg->tls_key_file);
		if (smtp->tls == NULL) {
			daemon_smtp_free(smtp);
			return NULL;
		}
	}
	if (listener_open(smtp, "smtp", d->cfg->listen_smtp, false) == -1 ||
	    (d->cfg->listen_lmtp != NULL && listener_open(smtp, "lmtp",
	    d->cfg->listen_lmtp, true) == -1)) {
		daemon_smtp_free(smtp);
		return NULL;
	}
	return smtp;
}

void
daemon_smtp_shutdown(struct daemon_smtp *smtp)
{
	struct smtp_conn	*conn;
	GList			*l, *next;
	size_t			 i;

	if (smtp == NULL)
		return;
	for (i = 0; i < smtp->n_listeners; i++)
		listener_close(&smtp->listeners[i]);
	for (l = smtp->conns; l != NULL; l = next) {
		next = l->next;
		conn = l->data;
		smtp_session_shutdown(conn->session);
		conn_flush(conn);
	}
}

void
daemon_smtp_drain(struct daemon_smtp *smtp)
{
	struct smtp_conn	*conn;
	GList			*l, *next;
	size_t			 i;

	for (i = 0; i < smtp->n_listeners; i++)
		listener_close(&smtp->listeners[i]);
	for (l = smtp->conns; l != NULL; l = next) {
		next = l->next;
		conn = l->data;
		smtp_session_drain(conn->session);
		conn_flush(conn);
	}
}

bool
daemon_smtp_is_busy(const struct daemon_smtp *smtp)
{
	const struct smtp_conn	*conn;
	GList			*l;

	for (l = smtp->conns; l != NULL; l = l->next) {
		conn = l->data;
		if (smtp_session_is_busy(conn->session))
			return true;
	}
	return false;
}

void
daemon_smtp_free(struct daemon_smtp *smtp)
{
	if (smtp == NULL)
		return;
	daemon_smtp_shutdown(smtp);
	while (smtp->conns != NULL)
		conn_close(smtp->conns->data);
	g_hash_table_destroy(smtp->per_client);
	g_hash_table_destroy(smtp->by_id);
	daemon_tls_free(smtp->tls);
	g_free(smtp);
}

void
daemon_smtp_tls_reload(struct daemon_smtp *smtp)
{
	if (smtp == NULL || smtp->tls == NULL) {
		log_info("smtp: no TLS certificate configured, nothing to "
		    "reload");
		return;
	}
	(void)daemon_tls_reload(smtp->tls);	/* logs either way */
}
