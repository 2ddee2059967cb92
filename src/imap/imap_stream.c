/* SPDX-License-Identifier: ISC */
/*
 * A mailstream_low driver that wraps the session's socket or TLS stream
 * and reports end of file as an error.  libetpan 1.9.4 reads a literal
 * (a message body in a FETCH response) in a loop that ends only on -1 or
 * on the last byte.  A connection closed halfway through a body made it
 * spin at full CPU forever.  With this wrapper the fetch fails with
 * MAILIMAP_ERROR_STREAM and the poller reconnects.
 */
#include <stdlib.h>

#include "imap_priv.h"

static mailstream_low *
inner(mailstream_low *s)
{
	return s->data;
}

static ssize_t
wrap_read(mailstream_low *s, void *buf, size_t count)
{
	ssize_t	n;

	n = mailstream_low_read(inner(s), buf, count);
	return n == 0 && count > 0 ? -1 : n;
}

static ssize_t
wrap_write(mailstream_low *s, const void *buf, size_t count)
{
	return mailstream_low_write(inner(s), buf, count);
}

static int
wrap_close(mailstream_low *s)
{
	return mailstream_low_close(inner(s));
}

static int
wrap_get_fd(mailstream_low *s)
{
	return mailstream_low_get_fd(inner(s));
}

/* Frees the wrapper itself too, as libetpan's own drivers do. */
static void
wrap_free(mailstream_low *s)
{
	mailstream_low_free(inner(s));
	s->data = NULL;
	free(s);
}

static void
wrap_cancel(mailstream_low *s)
{
	mailstream_low_cancel(inner(s));
}

static struct mailstream_cancel *
wrap_get_cancel(mailstream_low *s)
{
	return mailstream_low_get_cancel(inner(s));
}

static carray *
wrap_get_certificate_chain(mailstream_low *s)
{
	return mailstream_low_get_certificate_chain(inner(s));
}

static int
wrap_setup_idle(mailstream_low *s)
{
	return mailstream_low_setup_idle(inner(s));
}

static int
wrap_unsetup_idle(mailstream_low *s)
{
	return mailstream_low_unsetup_idle(inner(s));
}

static int
wrap_interrupt_idle(mailstream_low *s)
{
	return mailstream_low_interrupt_idle(inner(s));
}

static mailstream_low_driver wrap_driver = {
	.mailstream_read = wrap_read,
	.mailstream_write = wrap_write,
	.mailstream_close = wrap_close,
	.mailstream_get_fd = wrap_get_fd,
	.mailstream_free = wrap_free,
	.mailstream_cancel = wrap_cancel,
	.mailstream_get_cancel = wrap_get_cancel,
	.mailstream_get_certificate_chain = wrap_get_certificate_chain,
	.mailstream_setup_idle = wrap_setup_idle,
	.mailstream_unsetup_idle = wrap_unsetup_idle,
	.mailstream_interrupt_idle = wrap_interrupt_idle,
};

int
imap_stream_wrap(mailimap *imap)
{
	mailstream_low	*low = mailstream_get_low(imap->imap_stream);
	mailstream_low	*wrapped;

	wrapped = mailstream_low_new(low, &wrap_driver);
	if (wrapped == NULL)
		return -1;
	mailstream_low_set_timeout(wrapped, mailstream_low_get_timeout(low));
	mailstream_set_low(imap->imap_stream, wrapped);
	return 0;
}
