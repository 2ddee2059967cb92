/* SPDX-License-Identifier: ISC */
/*
 * A mailstream_low driver over GnuTLS for the session's socket, used for
 * imap.security "tls" and "starttls".  libetpan 1.9.4 built with GnuTLS
 * accepts any server certificate.  This driver checks the chain against
 * the system's trusted CAs and imap.ca_file, and the name against
 * imap.host, during the handshake, and it speaks TLS 1.2 or later only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "imap_priv.h"
#include "log.h"

#define TLS_PRIORITY	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define TLS_TIMEOUT_MS	(IMAP_NET_TIMEOUT_S * 1000)

struct tls_conn {
	gnutls_session_t			 session;
	gnutls_certificate_credentials_t	 creds;
	int					 fd;	/* -1 until the
							 * handshake passed */
};

static void
conn_free(struct tls_conn *c)
{
	if (c->session != NULL)
		gnutls_deinit(c->session);
	if (c->creds != NULL)
		gnutls_certificate_free_credentials(c->creds);
	if (c->fd != -1)
		close(c->fd);
	g_free(c);
}

static ssize_t
tls_read(mailstream_low *s, void *buf, size_t count)
{
	struct tls_conn	*c = s->data;
	ssize_t		 n;

	/* The GnuTLS manual asks for another call after these two codes.
	 * The socket is blocking, so a silent server ends the loop with
	 * GNUTLS_E_TIMEDOUT from the record timeout set in session_init. */
	do {
		n = gnutls_record_recv(c->session, buf, count);
	} while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
	if (n < 0) {
		log_debug("imap: TLS read failed: %s",
		    gnutls_strerror((int)n));
		return -1;
	}
	return n;
}

static ssize_t
tls_write(mailstream_low *s, const void *buf, size_t count)
{
	struct tls_conn	*c = s->data;
	ssize_t		 n;

	/* GNUTLS_E_AGAIN here means SO_SNDTIMEO expired: an error. */
	do {
		n = gnutls_record_send(c->session, buf, count);
	} while (n == GNUTLS_E_INTERRUPTED);
	if (n < 0) {
		log_debug("imap: TLS write failed: %s",
		    gnutls_strerror((int)n));
		return -1;
	}
	return n;
}

/* Closes the socket without close_notify, which could block for the
 * whole network timeout on a peer that went away. */
static int
tls_close(mailstream_low *s)
{
	struct tls_conn	*c = s->data;

	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	return 0;
}

static int
tls_get_fd(mailstream_low *s)
{
	struct tls_conn	*c = s->data;

	return c->fd;
}

/* Frees the mailstream_low itself too, as libetpan's own drivers do. */
static void
tls_free(mailstream_low *s)
{
	conn_free(s->data);
	s->data = NULL;
	free(s);
}

/* No cancel pipe: imap_poller_stop shuts the socket down instead. */
static struct mailstream_cancel *
tls_get_cancel(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static carray *
tls_get_certificate_chain(mailstream_low *s)
{
	(void)s;
	return NULL;
}

/* The idle members stay NULL: libetpan then waits with its own pipe. */
static mailstream_low_driver tls_driver = {
	.mailstream_read = tls_read,
	.mailstream_write = tls_write,
	.mailstream_close = tls_close,
	.mailstream_get_fd = tls_get_fd,
	.mailstream_free = tls_free,
	.mailstream_get_cancel = tls_get_cancel,
	.mailstream_get_certificate_chain = tls_get_certificate_chain,
};

/* Loads the CAs to trust: the system's, and those in ca_file if set. */
static int
creds_init(struct tls_conn *c, const char *ca_file, char **error)
{
	int	count = 0;
	int	r;

	r = gnutls_certificate_allocate_credentials(&c->creds);
	if (r < 0) {
		*error = g_strdup_printf("TLS setup failed: %s",
		    gnutls_strerror(r));
		return -1;
	}
	r = gnutls_certificate_set_x509_system_trust(c->creds);
	if (r > 0)
		count = r;
	else if (r < 0)
		log_warnx("imap: loading the system's trusted CAs failed: %s",
		    gnutls_strerror(r));
	if (ca_file != NULL) {
		r = gnutls_certificate_set_x509_trust_file(c->creds, ca_file,
		    GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			*error = g_strdup_printf("imap.ca_file %s: no PEM "
			    "certificate loaded: %s", ca_file, r < 0 ?
			    gnutls_strerror(r) : "the file has none");
			return -1;
		}
		count += r;
	}
	if (count == 0) {
		*error = g_strdup("no trusted CA: the system store is empty "
		    "and imap.ca_file is not set");
		return -1;
	}
	return 0;
}

/* Returns r, with *error set when r is a GnuTLS error. */
static int
tls_check(int r, const char *what, char **error)
{
	if (r < 0)
		*error = g_strdup_printf("TLS setup failed: %s: %s", what,
		    gnutls_strerror(r));
	return r;
}

static int
session_init(struct tls_conn *c, int fd, const char *host, char **error)
{
	if (tls_check(gnutls_init(&c->session, GNUTLS_CLIENT), "init",
	    error) < 0)
		return -1;
	if (tls_check(gnutls_priority_set_direct(c->session, TLS_PRIORITY,
	    NULL), "priority", error) < 0)
		return -1;
	if (tls_check(gnutls_credentials_set(c->session,
	    GNUTLS_CRD_CERTIFICATE, c->creds), "credentials", error) < 0)
		return -1;
	/* RFC 6066 3: a server name, never an address literal. */
	if (!g_hostname_is_ip_address(host) && tls_check(
	    gnutls_server_name_set(c->session, GNUTLS_NAME_DNS, host,
	    strlen(host)), "server name", error) < 0)
		return -1;
	/* The handshake fails unless the chain ends at a trusted CA and the
	 * certificate names host (gnutls_x509_crt_check_hostname). */
	gnutls_session_set_verify_cert(c->session, host, 0);
	gnutls_transport_set_int(c->session, fd);
	gnutls_handshake_set_timeout(c->session, TLS_TIMEOUT_MS);
	gnutls_record_set_timeout(c->session, TLS_TIMEOUT_MS);
	return 0;
}

/* Makes fd blocking, with writes that give up after the network timeout;
 * GnuTLS bounds reads itself. */
static int
socket_prepare(int fd, char **error)
{
	struct timeval	tv = { .tv_sec = IMAP_NET_TIMEOUT_S };
	int		flags;

	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		*error = g_strdup_printf("TLS setup failed: socket: %s",
		    g_strerror(errno));
		return -1;
	}
	return 0;
}

static int
handshake(struct tls_conn *c, const char *host, char **error)
{
	gnutls_datum_t	text = { NULL, 0 };
	unsigned int	status;
	char		*reason;
	int		r;

	do {
		r = gnutls_handshake(c->session);
	} while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r == 0)
		return 0;
	if (r != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		*error = g_strdup_printf("TLS handshake failed: %s",
		    gnutls_strerror(r));
		return -1;
	}
	status = gnutls_session_get_verify_cert_status(c->session);
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &text, 0) < 0 || text.data == NULL)
		reason = g_strdup_printf("verification status 0x%x", status);
	else
		reason = g_strstrip(g_strdup((const char *)text.data));
	gnutls_free(text.data);
	g_strdelimit(reason, "\"\r\n", '\'');
	log_warnx("imap: certificate rejected host=%s reason=\"%s\"", host,
	    reason);
	*error = g_strdup_printf("certificate rejected: %s", reason);
	g_free(reason);
	return -1;
}

mailstream_low *
imap_tls_open(int fd, const struct cfg_imap *imap, char **error)
{
	struct tls_conn	*c = g_new0(struct tls_conn, 1);
	mailstream_low	*low = NULL;

	c->fd = -1;
	*error = NULL;
	if (socket_prepare(fd, error) == -1 ||
	    creds_init(c, imap->ca_file, error) == -1 ||
	    session_init(c, fd, imap->host, error) == -1 ||
	    handshake(c, imap->host, error) == -1)
		goto out;
	low = mailstream_low_new(c, &tls_driver);
	if (low == NULL) {
		*error = g_strdup("TLS setup failed: out of memory");
		goto out;
	}
	c->fd = fd;
	mailstream_low_set_timeout(low, IMAP_NET_TIMEOUT_S);
	log_debug("imap: TLS established host=%s version=%s", imap->host,
	    gnutls_protocol_get_name(gnutls_protocol_get_version(
	    c->session)));
out:
	if (low == NULL)
		conn_free(c);
	return low;
}
