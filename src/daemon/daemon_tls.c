/* SPDX-License-Identifier: ISC */
/*
 * TLS for the SMTP listener's STARTTLS, with OpenSSL: the server context
 * built from the configured certificate and key (TLS 1.2 or later), its
 * reload on SIGHUP, and non-blocking handshake, read and write on one
 * connection.  daemon_smtp.c waits on the socket for whatever each call
 * reports it wants, so the GLib main loop drives every step.
 */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon.h"
#include "log.h"

#define TLS_ERROR_MAX	256

struct daemon_tls {
	SSL_CTX	*ctx;
	char	*cert_file;
	char	*key_file;
};

struct daemon_tls_conn {
	SSL	*ssl;
	bool	 is_established;	/* handshake done */
	bool	 is_broken;		/* fatal error: no close_notify */
	char	 error[TLS_ERROR_MAX];
};

/*
 * Moves OpenSSL's error queue into buf as one line, oldest error first,
 * and leaves the queue empty.  Writes "unknown error" when it was empty.
 */
static void
error_text(char *buf, size_t size)
{
	unsigned long	 code;
	char		 one[TLS_ERROR_MAX];
	size_t		 len;

	buf[0] = '\0';
	while ((code = ERR_get_error()) != 0) {
		ERR_error_string_n(code, one, sizeof(one));
		len = strlen(buf);
		if (len > 0)
			g_strlcpy(buf + len, "; ", size - len);
		g_strlcat(buf, one, size);
	}
	if (buf[0] == '\0')
		g_strlcpy(buf, "unknown error", size);
}

/*
 * Builds a context from the files, or returns NULL with OpenSSL's reason
 * in error.
 */
static SSL_CTX *
context_new(const char *cert_file, const char *key_file, char *error,
    size_t size)
{
	SSL_CTX	*ctx, *result = NULL;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto out;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto out;

	/*
	 * Client-initiated renegotiation costs the server a handshake per
	 * request, and no SMTP client needs it.  OpenSSL's default cipher
	 * list is kept.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);

	/*
	 * A write retry passes the session's output buffer again, which may
	 * have moved and grown meanwhile.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	result = ctx;
	ctx = NULL;
out:
	if (result == NULL)
		error_text(error, size);
	SSL_CTX_free(ctx);
	return result;
}

struct daemon_tls *
daemon_tls_new(const char *cert_file, const char *key_file)
{
	struct daemon_tls	*tls;
	SSL_CTX			*ctx;
	char			 error[TLS_ERROR_MAX];

	ctx = context_new(cert_file, key_file, error, sizeof(error));
	if (ctx == NULL) {
		log_errorx("smtp: cannot load the TLS certificate cert=%s "
		    "key=%s error=\"%s\"; check tls.cert_file and "
		    "tls.key_file", cert_file, key_file, error);
		return NULL;
	}
	tls = g_new0(struct daemon_tls, 1);
	tls->ctx = ctx;
	tls->cert_file = g_strdup(cert_file);
	tls->key_file = g_strdup(key_file);
	log_info("smtp: tls certificate loaded cert=%s", cert_file);
	return tls;
}

/*
 * Connections already open hold a reference to the old context, so they
 * carry on with it; only new handshakes use the new one.
 */
int
daemon_tls_reload(struct daemon_tls *tls)
{
	SSL_CTX	*ctx;
	char	 error[TLS_ERROR_MAX];

	ctx = context_new(tls->cert_file, tls->key_file, error,
	    sizeof(error));
	if (ctx == NULL) {
		log_errorx("smtp: tls reload failed, keeping the previous "
		    "certificate cert=%s key=%s error=\"%s\"", tls->cert_file,
		    tls->key_file, error);
		return -1;
	}
	SSL_CTX_free(tls->ctx);
	tls->ctx = ctx;
	log_info("smtp: tls certificate reloaded cert=%s", tls->cert_file);
	return 0;
}

void
daemon_tls_free(struct daemon_tls *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	g_free(tls->cert_file);
	g_free(tls->key_file);
	g_free(tls);
}

struct daemon_tls_conn *
daemon_tls_conn_new(struct daemon_tls *tls, int fd)
{
	struct daemon_tls_conn	*conn;

	conn = g_new0(struct daemon_tls_conn, 1);
	ERR_clear_error();
	conn->ssl = SSL_new(tls->ctx);
	if (conn->ssl == NULL || SSL_set_fd(conn->ssl, fd) != 1) {
		error_text(conn->error, sizeof(conn->error));
		log_errorx("smtp: cannot create a TLS connection error=\"%s\"",
		    conn->error);
		SSL_free(conn->ssl);
		g_free(conn);
		return NULL;
	}
	SSL_set_accept_state(conn->ssl);
	return conn;
}

/* Sends close_notify when the connection is sound, without waiting. */
void
daemon_tls_conn_free(struct daemon_tls_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->is_established && !conn->is_broken) {
		ERR_clear_error();
		/* Best effort: the socket closes right after either way. */
		(void)SSL_shutdown(conn->ssl);
	}
	SSL_free(conn->ssl);
	g_free(conn);
}

/* Translates the result ret of an SSL call into what the caller waits on. */
static enum daemon_tls_io
io_result(struct daemon_tls_conn *conn, int ret)
{
	int	saved_errno = errno;

	switch (SSL_get_error(conn->ssl, ret)) {
	case SSL_ERROR_NONE:
		return DAEMON_TLS_OK;
	case SSL_ERROR_WANT_READ:
		return DAEMON_TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return DAEMON_TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return DAEMON_TLS_CLOSED;
	case SSL_ERROR_SYSCALL:
		conn->is_broken = true;
		g_strlcpy(conn->error, saved_errno != 0 ?
		    g_strerror(saved_errno) : "connection closed by peer",
		    sizeof(conn->error));
		ERR_clear_error();
		return DAEMON_TLS_FAILED;
	default:
		conn->is_broken = true;
		error_text(conn->error, sizeof(conn->error));
		return DAEMON_TLS_FAILED;
	}
}

enum daemon_tls_io
daemon_tls_conn_handshake(struct daemon_tls_conn *conn)
{
	enum daemon_tls_io	io;

	ERR_clear_error();
	errno = 0;
	io = io_result(conn, SSL_do_handshake(conn->ssl));
	if (io == DAEMON_TLS_OK)
		conn->is_established = true;
	else if (io == DAEMON_TLS_CLOSED)
		io = DAEMON_TLS_FAILED;	/* close_notify mid-handshake */
	if (io == DAEMON_TLS_FAILED && conn->error[0] == '\0')
		g_strlcpy(conn->error, "closed during the handshake",
		    sizeof(conn->error));
	return io;
}

enum daemon_tls_io
daemon_tls_conn_read(struct daemon_tls_conn *conn, void *buf, size_t len,
    size_t *n)
{
	*n = 0;
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(conn->ssl, buf, len, n) == 1)
		return DAEMON_TLS_OK;
	return io_result(conn, 0);
}

enum daemon_tls_io
daemon_tls_conn_write(struct daemon_tls_conn *conn, const void *buf,
    size_t len, size_t *n)
{
	*n = 0;
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(conn->ssl, buf, len, n) == 1)
		return DAEMON_TLS_OK;
	return io_result(conn, 0);
}

bool
daemon_tls_conn_has_pending(const struct daemon_tls_conn *conn)
{
	return SSL_has_pending(conn->ssl) == 1;
}

const char *
daemon_tls_conn_error(const struct daemon_tls_conn *conn)
{
	return conn->error;
}

const char *
daemon_tls_conn_version(const struct daemon_tls_conn *conn)
{
	return SSL_get_version(conn->ssl);
}

const char *
daemon_tls_conn_cipher(const struct daemon_tls_conn *conn)
{
	return SSL_get_cipher_name(conn->ssl);
}
