/* SPDX-License-Identifier: ISC */
/*
 * The SMTP server session (RFC 5321): bytes from the client in, replies out,
 * a complete message handed to the daemon through message_ready.  States:
 * GREETED -EHLO-> HELO -MAIL-> MAIL -RCPT-> RCPT -DATA-> DATA -CRLF.CRLF->
 * COMMITTING -commit_done-> HELO.  RSET and a rejected DATA return to HELO;
 * HELO -STARTTLS-> TLS_STARTING -tls_started-> GREETED (RFC 3207).  QUIT,
 * timeout, shutdown and too many errors lead to CLOSED from any state.
 */
#include <stdarg.h>
#include <string.h>

#include "log.h"
#include "smtp.h"

#define SMTP_ERRORS_DEFAULT	10	/* when limits->max_errors is 0 */
#define SMTP_PENDING_MIN	16384	/* bytes buffered while committing */

/*
 * A SIZE over the limit (RFC 1870) is a policy rejection, not a client
 * error, so it does not count toward the error limit.
 */
static const char smtp_size_reply[] =
    "552 5.3.4 message size exceeds fixed maximum message size";

/* RFC 3207 4: the reply to mail commands while TLS is required. */
static const char smtp_tls_required_reply[] =
    "530 5.7.0 must issue a STARTTLS command first";

enum smtp_state {
	SMTP_STATE_GREETED,	/* 220 sent, no EHLO yet */
	SMTP_STATE_HELO,	/* EHLO/HELO done, no MAIL */
	SMTP_STATE_MAIL,	/* MAIL accepted, no RCPT */
	SMTP_STATE_RCPT,	/* one or more RCPT accepted */
	SMTP_STATE_DATA,	/* 354 sent, reading text */
	SMTP_STATE_COMMITTING,	/* waiting for commit_done */
	SMTP_STATE_TLS_STARTING, /* 220 to STARTTLS sent, waiting for
				 * tls_started; input is discarded */
	SMTP_STATE_CLOSED,
};

/* DATA parser state and what it found, read at CRLF.CRLF. */
struct smtp_data {
	GByteArray	*body;		/* unstuffed, CRLF ends, capped */
	GByteArray	*line;		/* current line without CRLF, capped */
	size_t		 line_len;	/* bytes seen in the line, uncapped */
	bool		 is_after_cr;	/* previous byte was an unpaired CR */
	bool		 has_bare_eol;	/* a bare CR or LF was seen */
	bool		 is_too_big;
	bool		 has_long_line;	/* over limits->max_text_line */
};

struct smtp_session {
	const struct smtp_limits	*limits;
	const struct smtp_callbacks	*callbacks;
	void				*ctx;
	char				*peer;
	enum smtp_state			 state;
	char				*helo;
	char				*mail_from;
	GPtrArray			*rcpt_to;
	struct smtp_data		 data;
	GByteArray			*in;		/* unprocessed input */
	GByteArray			*out;		/* queued replies */
	/* Maximum of in while committing. */
	size_t				 pending_max;
	unsigned int			 error_count;
	bool				 is_discarding;	/* oversize line */
	bool				 has_overflowed; /* input dropped */
	bool				 is_draining;	/* close once the
							 * transaction ends */
	bool				 is_processing;	/* guards re-entry */
	bool				 is_tls;	/* STARTTLS done */
};

struct smtp_verb {
	const char	*name;
	/* Returns NULL when the verb may run now, else the reply that
	 * rejects it. */
	const char	*(*validate)(struct smtp_session *);
	void		 (*act)(struct smtp_session *, const char *args);
};

static void
reply(struct smtp_session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_byte_array_append(s->out, (const guint8 *)text, strlen(text));
	g_byte_array_append(s->out, (const guint8 *)"\r\n", 2);
	g_free(text);
}

static void
close_session(struct smtp_session *s)
{
	s->state = SMTP_STATE_CLOSED;

	/* process_input still reads s->in and empties it on return. */
	if (!s->is_processing)
		g_byte_array_set_size(s->in, 0);
}

/*
 * Queues a reply to a command the client got wrong, and closes the session
 * once it has made limits->max_errors of them: a client that far off the
 * protocol is broken or probing.
 */
static void
reply_error(struct smtp_session *s, const char *text)
{
	reply(s, "%s", text);
	s->error_count++;
	log_debug("smtp: command rejected peer=%s reply=\"%s\"", s->peer,
	    text);
	if (s->error_count < (s->limits->max_errors > 0 ?
	    s->limits->max_errors : SMTP_ERRORS_DEFAULT))
		return;
	log_info("smtp: too many errors peer=%s errors=%u", s->peer,
	    s->error_count);
	reply(s, "421 4.7.0 %s too many errors, closing connection",
	    s->limits->hostname);
	close_session(s);
}

static void
data_clear(struct smtp_data *d)
{
	if (d->body != NULL)
		g_byte_array_unref(d->body);
	if (d->line != NULL)
		g_byte_array_unref(d->line);
	memset(d, 0, sizeof(*d));
}

static void
transaction_clear(struct smtp_session *s)
{
	g_free(s->mail_from);
	s->mail_from = NULL;
	g_ptr_array_set_size(s->rcpt_to, 0);
	data_clear(&s->data);
	if (s->state != SMTP_STATE_CLOSED)
		s->state = s->helo != NULL ? SMTP_STATE_HELO :
		    SMTP_STATE_GREETED;
}

/* Lowercases the ASCII letters of str in place, leaving other bytes. */
static void
ascii_lower(char *str)
{
	for (; *str != '\0'; str++)
		*str = g_ascii_tolower(*str);
}

/*
 * Returns the text after keyword (matched case-insensitively) and the blanks
 * that follow it, or NULL when args does not start with keyword.  Blanks
 * after the colon break RFC 5321 4.1.2, but common clients send them.
 */
static const char *
skip_keyword(const char *args, const char *keyword)
{
	size_t	len = strlen(keyword);

	if (g_ascii_strncasecmp(args, keyword, len) != 0)
		return NULL;
	args += len;
	while (*args == ' ')
		args++;
	return args;
}

/*
 * Parses "<path>" at the start of str: stores the path without brackets and
 * with any source route dropped (RFC 5321 4.1.1.3) in *path, which the
 * caller frees with g_free, and returns what follows the '>'.  Returns NULL
 * on a syntax error.
 */
static const char *
path_parse(const char *str, char **path)
{
	const char	*end, *start = str + 1, *colon;
	const char	*p;

	if (*str != '<')
		return NULL;
	end = strchr(start, '>');
	if (end == NULL)
		return NULL;
	for (p = start; p < end; p++) {
		if (*p == '<' || *p == ' ' || g_ascii_iscntrl(*p))
			return NULL;
	}
	if (*start == '@') {
		colon = memchr(start, ':', end - start);
		if (colon == NULL || colon + 1 == end)
			return NULL;
		start = colon + 1;
	}
	*path = g_strndup(start, end - start);
	return end + 1;
}

/* Parses the decimal SIZE value, or returns -1 on a syntax error. */
static int
size_parse(const char *value, guint64 *size)
{
	guint64	n = 0;

	if (*value == '\0')
		return -1;
	for (; *value != '\0'; value++) {
		if (!g_ascii_isdigit(*value))
			return -1;
		if (n > (G_MAXUINT64 - 9) / 10)
			n = G_MAXUINT64;	/* saturates: over any limit */
		else
			n = n * 10 + (guint64)(*value - '0');
	}
	*size = n;
	return 0;
}

/*
 * Checks one MAIL parameter (RFC 1870 SIZE, RFC 6152 BODY).  Returns NULL
 * when it is acceptable, else the reply that rejects the command.
 */
static const char *
mail_param_check(struct smtp_session *s, const char *param)
{
	const char	*value;
	guint64		 size;

	value = skip_keyword(param, "SIZE=");
	if (value != NULL) {
		if (size_parse(value, &size) == -1)
			return "501 5.5.4 invalid SIZE parameter";
		if (size > s->limits->max_message_bytes)
			return smtp_size_reply;
		return NULL;
	}
	value = skip_keyword(param, "BODY=");
	if (value != NULL) {
		if (g_ascii_strcasecmp(value, "7BIT") == 0 ||
		    g_ascii_strcasecmp(value, "8BITMIME") == 0)
			return NULL;
		return "501 5.5.4 invalid BODY parameter";
	}
	return "555 5.5.4 MAIL parameter not recognized";
}

/* Returns NULL when every parameter in params is acceptable. */
static const char *
mail_params_check(struct smtp_session *s, const char *params)
{
	char		**words;
	const char	 *error = NULL;
	size_t		  i;

	words = g_strsplit(params, " ", -1);
	for (i = 0; words[i] != NULL && error == NULL; i++) {
		if (words[i][0] != '\0')
			error = mail_param_check(s, words[i]);
	}
	g_strfreev(words);
	return error;
}

static const char *
validate_any(struct smtp_session *s)
{
	(void)s;
	return NULL;
}

/* Returns the 530 reply while tls.require holds and STARTTLS is not done. */
static const char *
validate_tls(struct smtp_session *s)
{
	if (s->limits->is_tls_required && !s->is_tls)
		return smtp_tls_required_reply;
	return NULL;
}

static const char *
validate_mail(struct smtp_session *s)
{
	if (validate_tls(s) != NULL)
		return smtp_tls_required_reply;
	if (s->state == SMTP_STATE_GREETED)
		return "503 5.5.1 send EHLO or HELO first";
	if (s->state != SMTP_STATE_HELO)
		return "503 5.5.1 sender already given";
	return NULL;
}

static const char *
validate_rcpt(struct smtp_session *s)
{
	if (validate_tls(s) != NULL)
		return smtp_tls_required_reply;
	if (s->state == SMTP_STATE_GREETED)
		return "503 5.5.1 send EHLO or HELO first";
	if (s->state == SMTP_STATE_HELO)
		return "503 5.5.1 need MAIL before RCPT";
	return NULL;
}

static const char *
validate_data(struct smtp_session *s)
{
	if (validate_tls(s) != NULL)
		return smtp_tls_required_reply;
	if (s->state == SMTP_STATE_GREETED)
		return "503 5.5.1 send EHLO or HELO first";
	if (s->state == SMTP_STATE_HELO)
		return "503 5.5.1 need MAIL before DATA";
	if (s->state == SMTP_STATE_MAIL)
		return "503 5.5.1 need RCPT before DATA";
	return NULL;
}

/*
 * RFC 3207 4: STARTTLS only where it is announced, once, and outside a
 * mail transaction.
 */
static const char *
validate_starttls(struct smtp_session *s)
{
	if (!s->limits->has_starttls)
		return "502 5.5.1 STARTTLS not available";
	if (s->is_tls)
		return "503 5.5.1 TLS already active";
	if (s->state == SMTP_STATE_GREETED)
		return "503 5.5.1 send EHLO first";
	if (s->state != SMTP_STATE_HELO)
		return "503 5.5.1 mail transaction in progress; send RSET first";
	return NULL;
}

/* Starts a new session with the client named in args (RFC 5321 4.1.4). */
static int
helo_accept(struct smtp_session *s, const char *args, const char *syntax)
{
	const char	*end;

	if (*args == '\0') {
		reply_error(s, syntax);
		return -1;
	}
	end = strchr(args, ' ');
	g_free(s->helo);
	s->helo = end != NULL ? g_strndup(args, end - args) : g_strdup(args);
	transaction_clear(s);
	s->state = SMTP_STATE_HELO;
	log_debug("smtp: helo peer=%s helo=%s", s->peer, s->helo);
	return 0;
}

static void	ehlo_reply(struct smtp_session *s);

static void
act_ehlo(struct smtp_session *s, const char *args)
{
	/* RFC 2033 4.1: an LMTP server answers HELO and EHLO with 500, so
	 * that an SMTP client pointed at it by mistake stops at once. */
	if (s->limits->is_lmtp) {
		reply_error(s, "500 5.5.1 this is an LMTP server: use LHLO");
		return;
	}
	if (helo_accept(s, args, "501 5.5.4 syntax: EHLO hostname") == -1)
		return;
	ehlo_reply(s);
}

static void
act_lhlo(struct smtp_session *s, const char *args)
{
	if (!s->limits->is_lmtp) {
		reply_error(s, "500 5.5.2 command not recognized");
		return;
	}
	if (helo_accept(s, args, "501 5.5.4 syntax: LHLO hostname") == -1)
		return;
	ehlo_reply(s);
}

/* Announces the extensions, after EHLO or LHLO. */
static void
ehlo_reply(struct smtp_session *s)
{
	reply(s, "250-%s", s->limits->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %zu", s->limits->max_message_bytes);
	reply(s, "250-8BITMIME");
	if (s->limits->has_starttls && !s->is_tls)
		reply(s, "250-STARTTLS");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static void
act_helo(struct smtp_session *s, const char *args)
{
	if (s->limits->is_lmtp) {
		reply_error(s, "500 5.5.1 this is an LMTP server: use LHLO");
		return;
	}
	if (helo_accept(s, args, "501 5.5.4 syntax: HELO hostname") == -1)
		return;
	reply(s, "250 %s", s->limits->hostname);
}

static void
act_mail(struct smtp_session *s, const char *args)
{
	const char	*rest, *error;
	char		*path = NULL;

	rest = skip_keyword(args, "FROM:");
	if (rest != NULL)
		rest = path_parse(rest, &path);
	if (rest == NULL || (*rest != '\0' && *rest != ' ') ||
	    (path[0] != '\0' && strchr(path, '@') == NULL)) {
		reply_error(s, "501 5.5.4 syntax: MAIL FROM:<address>");
		goto out;
	}
	error = mail_params_check(s, rest);
	if (error == smtp_size_reply) {
		log_info("smtp: sender rejected peer=%s reason=\"size\"",
		    s->peer);
		reply(s, "%s", error);
		goto out;
	}
	if (error != NULL) {
		reply_error(s, error);
		goto out;
	}
	s->mail_from = path;
	path = NULL;
	s->state = SMTP_STATE_MAIL;
	reply(s, "250 2.1.0 sender ok");
out:
	g_free(path);
}

static bool
rcpt_is_listed(const struct smtp_session *s, const char *address)
{
	guint	i;

	for (i = 0; i < s->rcpt_to->len; i++) {
		if (strcmp(g_ptr_array_index(s->rcpt_to, i), address) == 0)
			return true;
	}
	return false;
}

/*
 * Accepts a recipient only when rcpt_is_routed does: critgate delivers to
 * its own addresses and never relays.
 */
static void
act_rcpt(struct smtp_session *s, const char *args)
{
	const char	*rest;
	char		*path = NULL;

	rest = skip_keyword(args, "TO:");
	if (rest != NULL)
		rest = path_parse(rest, &path);
	if (rest == NULL || (*rest != '\0' && *rest != ' ') ||
	    path[0] == '\0') {
		reply_error(s, "501 5.5.4 syntax: RCPT TO:<address>");
		goto out;
	}
	if (rest[strspn(rest, " ")] != '\0') {
		reply_error(s, "555 5.5.4 RCPT parameters not recognized");
		goto out;
	}
	ascii_lower(path);
	if (rcpt_is_listed(s, path)) {
		reply(s, "250 2.1.5 recipient ok");
		goto out;
	}
	if (s->rcpt_to->len >= s->limits->max_recipients) {
		reply(s, "452 4.5.3 too many recipients");
		goto out;
	}
	if (!s->callbacks->rcpt_is_routed(s->ctx, path)) {
		log_info("smtp: recipient rejected peer=%s rcpt=<%s>", s->peer,
		    path);
		reply(s, "550 5.1.1 <%s>: recipient not accepted here", path);
		goto out;
	}
	g_ptr_array_add(s->rcpt_to, path);
	path = NULL;
	s->state = SMTP_STATE_RCPT;
	reply(s, "250 2.1.5 recipient ok");
out:
	g_free(path);
}

static void
act_data(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		reply_error(s, "501 5.5.4 syntax: DATA");
		return;
	}
	data_clear(&s->data);
	s->data.body = g_byte_array_new();
	s->data.line = g_byte_array_sized_new(SMTP_TEXT_LINE_MAX);
	s->state = SMTP_STATE_DATA;
	reply(s, "354 end data with <CR><LF>.<CR><LF>");
}

static void
act_rset(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		reply_error(s, "501 5.5.4 syntax: RSET");
		return;
	}
	transaction_clear(s);
	reply(s, "250 2.0.0 ok");
}

static void
act_noop(struct smtp_session *s, const char *args)
{
	(void)args;	/* RFC 5321 4.1.1.9: NOOP ignores any argument */
	reply(s, "250 2.0.0 ok");
}

static void
act_vrfy(struct smtp_session *s, const char *args)
{
	if (*args == '\0') {
		reply_error(s, "501 5.5.4 syntax: VRFY address");
		return;
	}
	reply(s, "252 2.5.0 cannot verify addresses; send the message");
}

/*
 * Queues the 220 and stops reading until the daemon has run the handshake
 * and called smtp_session_tls_started.  process_input drops whatever
 * followed the command line: plaintext pipelined after STARTTLS may come
 * from an attacker in the path, and running it inside the TLS session
 * would let them inject commands (CVE-2011-0411).
 */
static void
act_starttls(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		reply_error(s, "501 5.5.4 syntax: STARTTLS (no parameters)");
		return;
	}
	reply(s, "220 2.0.0 ready to start TLS");
	s->state = SMTP_STATE_TLS_STARTING;
	s->callbacks->start_tls(s->ctx, s);
}

static void
act_quit(struct smtp_session *s, const char *args)
{
	(void)args;
	reply(s, "221 2.0.0 bye");
	close_session(s);
}

static const struct smtp_verb smtp_verbs[] = {
	{ "EHLO",	validate_any,	act_ehlo },
	{ "HELO",	validate_any,	act_helo },
	{ "LHLO",	validate_any,	act_lhlo },
	{ "MAIL",	validate_mail,	act_mail },
	{ "RCPT",	validate_rcpt,	act_rcpt },
	{ "DATA",	validate_data,	act_data },
	{ "RSET",	validate_any,	act_rset },
	{ "NOOP",	validate_any,	act_noop },
	{ "VRFY",	validate_tls,	act_vrfy },
	{ "STARTTLS",	validate_starttls, act_starttls },
	{ "QUIT",	validate_any,	act_quit },
};

/* Runs one command line, already stripped of its CRLF and free of NULs. */
static void
command_run(struct smtp_session *s, const char *line)
{
	const struct smtp_verb	*verb;
	const char		*error;
	size_t			 len, i;

	len = strcspn(line, " ");
	for (i = 0; i < G_N_ELEMENTS(smtp_verbs); i++) {
		verb = &smtp_verbs[i];
		if (len == strlen(verb->name) &&
		    g_ascii_strncasecmp(line, verb->name, len) == 0)
			break;
	}
	if (i == G_N_ELEMENTS(smtp_verbs)) {
		reply_error(s, "500 5.5.2 command not recognized");
		return;
	}
	log_debug("smtp: command peer=%s verb=%s", s->peer, verb->name);
	error = verb->validate(s);
	if (error == smtp_tls_required_reply)
		log_info("smtp: command rejected peer=%s verb=%s "
		    "reason=\"STARTTLS required\"", s->peer, verb->name);
	if (error != NULL) {
		reply_error(s, error);
		return;
	}
	verb->act(s, line[len] == ' ' ? line + len + 1 : line + len);
}

/*
 * Checks and runs the command line of len bytes at line, which ends in LF.
 * A CR anywhere but right before that LF, or an LF without CR, rejects the
 * whole line unrun: a server that reads lines the way other hops do not
 * lets a client smuggle commands past them.
 */
static void
command_line(struct smtp_session *s, const uint8_t *line, size_t len)
{
	char	*text;

	if (len > SMTP_COMMAND_LINE_MAX) {
		reply_error(s, "500 5.5.2 line too long");
		return;
	}
	if (len < 2 || line[len - 2] != '\r' ||
	    memchr(line, '\r', len - 2) != NULL) {
		reply_error(s, "500 5.5.2 bare <LF>/<CR> in command");
		return;
	}
	if (memchr(line, '\0', len) != NULL) {
		reply_error(s, "500 5.5.2 NUL in command");
		return;
	}
	text = g_strndup((const char *)line, len - 2);
	command_run(s, text);
	g_free(text);
}

/*
 * Consumes command input from s->in at *off.  Returns false when it needs
 * more bytes.  A line over SMTP_COMMAND_LINE_MAX is dropped as it arrives,
 * so the buffer never holds more than one line and the current chunk; its
 * 500 reply is queued at its LF, in order with the other replies.
 */
static bool
command_consume(struct smtp_session *s, size_t *off)
{
	const uint8_t	*start = s->in->data + *off;
	const uint8_t	*lf;
	size_t		 avail = s->in->len - *off;

	lf = memchr(start, '\n', avail);
	if (s->is_discarding) {
		if (lf == NULL) {
			*off += avail;
			return false;
		}
		*off += lf - start + 1;
		s->is_discarding = false;
		reply_error(s, "500 5.5.2 line too long");
		return true;
	}
	if (lf == NULL) {
		if (avail >= SMTP_COMMAND_LINE_MAX) {
			s->is_discarding = true;
			*off += avail;
		}
		return false;
	}
	*off += lf - start + 1;
	command_line(s, start, lf - start + 1);
	return true;
}

/*
 * Adds a byte to the current text line.  Lines may be longer than RFC 5321
 * 4.5.3.1.6's 1000 octets up to limits->max_text_line: monitoring systems
 * send such lines, and RFC 5321 4.5.3.1 asks servers not to impose limits
 * where they can avoid them.  The message size bounds a line in any case.
 */
static void
data_line_add(struct smtp_session *s, uint8_t byte)
{
	struct smtp_data	*d = &s->data;

	if (s->limits->max_text_line > 0 &&
	    d->line_len >= s->limits->max_text_line)
		d->has_long_line = true;
	else if (d->line->len <= s->limits->max_message_bytes)
		g_byte_array_append(d->line, &byte, 1);
	else
		d->is_too_big = true;
	d->line_len++;
}

/* Stores a finished line, dot-unstuffed (RFC 5321 4.5.2), in the body. */
static void
data_line_store(struct smtp_session *s)
{
	struct smtp_data	*d = &s->data;
	const uint8_t		*text = d->line->data;
	size_t			 len = d->line->len;

	if (len > 0 && text[0] == '.') {
		text++;
		len--;
	}
	if (d->is_too_big ||
	    d->body->len + len + 2 > s->limits->max_message_bytes) {
		d->is_too_big = true;
	} else {
		g_byte_array_append(d->body, text, len);
		g_byte_array_append(d->body, (const guint8 *)"\r\n", 2);
	}
	g_byte_array_set_size(d->line, 0);
	d->line_len = 0;
}

static struct smtp_message *
message_build(struct smtp_session *s)
{
	struct smtp_message	*msg;
	guint			 i;

	msg = g_new0(struct smtp_message, 1);
	msg->mail_from = g_strdup(s->mail_from);
	msg->rcpt_to = g_ptr_array_new_with_free_func(g_free);
	for (i = 0; i < s->rcpt_to->len; i++)
		g_ptr_array_add(msg->rcpt_to,
		    g_strdup(g_ptr_array_index(s->rcpt_to, i)));
	msg->peer = g_strdup(s->peer);
	msg->helo = g_strdup(s->helo);
	msg->data = s->data.body;
	s->data.body = NULL;
	return msg;
}

/*
 * Ends the DATA at CRLF.CRLF with exactly one reply, or none until
 * commit_done when the message is handed over.  A bad message is rejected
 * only at its end: replying mid-DATA would desynchronise the client.
 */
static void
data_end(struct smtp_session *s)
{
	struct smtp_data	*d = &s->data;
	const char		*reason = NULL;
	char			*text = NULL;
	guint			 i, n;

	if (d->has_bare_eol) {
		reason = "bare LF or CR";
		text = g_strdup("550 5.5.2 bare <LF>/<CR> in data; nothing "
		    "stored");
	} else if (d->has_long_line) {
		/* RFC 5321 4.5.3.1.10 names 500 for a line too long. */
		reason = "line too long";
		text = g_strdup_printf("500 5.5.2 text line longer than %zu "
		    "bytes; nothing stored", s->limits->max_text_line);
	} else if (d->is_too_big) {
		reason = "message too big";
		text = g_strdup("552 5.3.4 message too big; nothing stored");
	}
	if (reason != NULL) {
		/* RFC 2033 4.2: LMTP answers once per accepted recipient. */
		n = s->limits->is_lmtp ? MAX(s->rcpt_to->len, 1) : 1;
		for (i = 0; i < n; i++)
			reply(s, "%s", text);
		g_free(text);
		log_info("smtp: data rejected peer=%s reason=\"%s\"", s->peer,
		    reason);
		transaction_clear(s);
		if (s->is_draining)
			smtp_session_shutdown(s);
		return;
	}
	/* The line that reports whether it was stored repeats these. */
	log_debug("smtp: message received peer=%s rcpts=%u bytes=%u", s->peer,
	    s->rcpt_to->len, d->body->len);
	s->state = SMTP_STATE_COMMITTING;
	s->callbacks->message_ready(s->ctx, s, message_build(s));
}

/*
 * Handles one byte of DATA text.  Only CRLF ends a line, so CRLF.CRLF is the
 * only terminator; a bare CR or LF is kept as text and marks the message
 * bad.  Returns true at the terminator.
 */
static bool
data_byte(struct smtp_session *s, uint8_t byte)
{
	struct smtp_data	*d = &s->data;

	if (d->is_after_cr) {
		d->is_after_cr = false;
		if (byte == '\n') {
			if (d->line_len == 1 && d->line->data[0] == '.')
				return true;
			data_line_store(s);
			return false;
		}
		d->has_bare_eol = true;
		data_line_add(s, '\r');
	}
	if (byte == '\r') {
		d->is_after_cr = true;
		return false;
	}
	if (byte == '\n')
		d->has_bare_eol = true;
	data_line_add(s, byte);
	return false;
}

/*
 * Adds the bytes at p up to the next CR or LF to the current line in one
 * step, as data_line_add would one by one; returns how many it took.
 */
static size_t
data_run(struct smtp_session *s, const uint8_t *p, size_t avail)
{
	struct smtp_data	*d = &s->data;
	const uint8_t		*cr, *lf;
	size_t			 n, take, room;

	if (d->is_after_cr)
		return 0;
	cr = memchr(p, '\r', avail);
	lf = memchr(p, '\n', cr != NULL ? (size_t)(cr - p) : avail);
	n = lf != NULL ? (size_t)(lf - p) : cr != NULL ? (size_t)(cr - p) :
	    avail;
	take = n;
	if (s->limits->max_text_line > 0) {
		room = d->line_len < s->limits->max_text_line ?
		    s->limits->max_text_line - d->line_len : 0;
		if (take > room) {
			d->has_long_line = true;
			take = room;
		}
	}
	if (d->line->len + take <= s->limits->max_message_bytes + 1)
		g_byte_array_append(d->line, p, (guint)take);
	else
		d->is_too_big = true;
	d->line_len += n;
	return n;
}

/* Consumes DATA text from s->in at *off, returning true at its end. */
static bool
data_consume(struct smtp_session *s, size_t *off)
{
	while (*off < s->in->len) {
		*off += data_run(s, s->in->data + *off, s->in->len - *off);
		if (*off == s->in->len)
			break;
		if (data_byte(s, s->in->data[(*off)++])) {
			data_end(s);
			return true;
		}
	}
	return false;
}

/* Drops len bytes of plaintext that came after STARTTLS. */
static void
input_discard(struct smtp_session *s, size_t len)
{
	if (len == 0)
		return;
	log_info("smtp: input after STARTTLS discarded peer=%s bytes=%zu",
	    s->peer, len);
}

/*
 * Runs buffered input until it runs out or the session stops reading
 * (committing, starting TLS or closed).  message_ready may call
 * commit_done, which calls back here.  The is_processing guard turns that
 * call into a no-op, so this loop carries on with the input instead of
 * recursing once per message.
 */
static void
process_input(struct smtp_session *s)
{
	size_t	off = 0;
	bool	is_progressing = true;

	if (s->is_processing)
		return;
	s->is_processing = true;
	while (is_progressing && off < s->in->len &&
	    s->state != SMTP_STATE_COMMITTING &&
	    s->state != SMTP_STATE_TLS_STARTING &&
	    s->state != SMTP_STATE_CLOSED) {
		if (s->state == SMTP_STATE_DATA)
			is_progressing = data_consume(s, &off);
		else
			is_progressing = command_consume(s, &off);
	}
	if (s->state == SMTP_STATE_TLS_STARTING)
		input_discard(s, s->in->len - off);
	if (s->state == SMTP_STATE_CLOSED ||
	    s->state == SMTP_STATE_TLS_STARTING)
		g_byte_array_set_size(s->in, 0);
	else
		g_byte_array_remove_range(s->in, 0, off);
	s->is_processing = false;
}

struct smtp_session *
smtp_session_new(const struct smtp_limits *limits,
    const struct smtp_callbacks *callbacks, void *ctx, const char *peer)
{
	struct smtp_session	*s;

	s = g_new0(struct smtp_session, 1);
	s->limits = limits;
	s->callbacks = callbacks;
	s->ctx = ctx;
	s->peer = g_strdup(peer);
	s->state = SMTP_STATE_GREETED;
	s->rcpt_to = g_ptr_array_new_with_free_func(g_free);
	s->in = g_byte_array_new();
	s->out = g_byte_array_new();

	/*
	 * While committing, a PIPELINING client (RFC 2920) may send the
	 * next MAIL, its RCPTs and DATA, then must wait for 354.
	 */
	s->pending_max = MAX(SMTP_PENDING_MIN,
	    (limits->max_recipients + 3) * SMTP_COMMAND_LINE_MAX);
	reply(s, "220 %s %s critgate", limits->hostname,
	    limits->is_lmtp ? "LMTP" : "ESMTP");
	return s;
}

void
smtp_session_free(struct smtp_session *session)
{
	if (session == NULL)
		return;
	data_clear(&session->data);
	g_free(session->mail_from);
	g_ptr_array_unref(session->rcpt_to);
	g_free(session->helo);
	g_free(session->peer);
	g_byte_array_unref(session->in);
	g_byte_array_unref(session->out);
	g_free(session);
}

/*
 * Input beyond pending_max while committing is dropped, so the session
 * closes with 421 after the commit reply: the stream cannot be resumed
 * once bytes of it are lost.
 */
void
smtp_session_feed(struct smtp_session *session, const uint8_t *buf,
    size_t len)
{
	if (session->state == SMTP_STATE_CLOSED || len == 0)
		return;
	if (session->state == SMTP_STATE_TLS_STARTING) {
		input_discard(session, len);
		return;
	}
	if (session->state == SMTP_STATE_COMMITTING) {
		if (session->in->len + len > session->pending_max) {
			session->has_overflowed = true;
			return;
		}
		g_byte_array_append(session->in, buf, len);
		return;
	}
	g_byte_array_append(session->in, buf, len);
	process_input(session);
}

/*
 * RFC 2033 4.2: after DATA, one reply per accepted recipient, in RCPT
 * order.  One commit stores the message for all of them, so all replies
 * agree.
 */
static void
lmtp_replies(struct smtp_session *s, bool is_committed)
{
	guint	i;

	for (i = 0; i < s->rcpt_to->len; i++) {
		if (is_committed)
			reply(s, "250 2.0.0 <%s> message accepted",
			    (char *)g_ptr_array_index(s->rcpt_to, i));
		else
			reply(s, "451 4.3.0 <%s> temporary failure storing "
			    "message, try again later",
			    (char *)g_ptr_array_index(s->rcpt_to, i));
	}
}

/* Queues nothing when the session was closed while committing. */
void
smtp_session_commit_done(struct smtp_session *session, bool is_committed)
{
	if (session->state != SMTP_STATE_COMMITTING)
		return;
	if (session->limits->is_lmtp)
		lmtp_replies(session, is_committed);
	else if (is_committed)
		reply(session, "250 2.0.0 message accepted");
	else
		reply(session, "451 4.3.0 temporary failure storing message, "
		    "try again later");
	session->state = SMTP_STATE_HELO;
	transaction_clear(session);
	if (session->is_draining) {
		smtp_session_shutdown(session);
		return;
	}
	if (session->has_overflowed) {
		log_info("smtp: too much pipelined input peer=%s",
		    session->peer);
		reply(session, "421 4.7.0 %s too much pipelined input, "
		    "closing connection", session->limits->hostname);
		close_session(session);
		return;
	}
	process_input(session);
}

void
smtp_session_tls_started(struct smtp_session *session)
{
	if (session->state != SMTP_STATE_TLS_STARTING)
		return;
	session->is_tls = true;

	/* RFC 3207 4.2: forget what the client said before TLS, EHLO
	 * included. */
	g_free(session->helo);
	session->helo = NULL;
	session->state = SMTP_STATE_GREETED;
	transaction_clear(session);
	session->is_discarding = false;
	g_byte_array_set_size(session->in, 0);
}

void
smtp_session_timeout(struct smtp_session *session)
{
	if (session->state == SMTP_STATE_CLOSED)
		return;
	log_info("smtp: timeout peer=%s", session->peer);
	reply(session, "421 4.4.2 %s timeout, closing connection",
	    session->limits->hostname);
	close_session(session);
}

void
smtp_session_shutdown(struct smtp_session *session)
{
	if (session->state == SMTP_STATE_CLOSED)
		return;
	reply(session, "421 4.3.2 %s shutting down", session->limits->hostname);
	close_session(session);
}

const uint8_t *
smtp_session_output(struct smtp_session *session, size_t *len)
{
	*len = session->out->len;
	return session->out->data;
}

void
smtp_session_output_consume(struct smtp_session *session, size_t n)
{
	g_byte_array_remove_range(session->out, 0,
	    MIN(n, session->out->len));
}

bool
smtp_session_is_closed(const struct smtp_session *session)
{
	return session->state == SMTP_STATE_CLOSED;
}

bool
smtp_session_is_committing(const struct smtp_session *session)
{
	return session->state == SMTP_STATE_COMMITTING;
}

bool
smtp_session_is_sending(const struct smtp_session *session)
{
	return session->state == SMTP_STATE_MAIL ||
	    session->state == SMTP_STATE_RCPT ||
	    session->state == SMTP_STATE_DATA;
}

void
smtp_session_drain(struct smtp_session *session)
{
	if (smtp_session_is_busy(session))
		session->is_draining = true;
	else
		smtp_session_shutdown(session);
}

bool
smtp_session_is_busy(const struct smtp_session *session)
{
	return session->state == SMTP_STATE_DATA ||
	    session->state == SMTP_STATE_COMMITTING;
}

void
smtp_message_free(struct smtp_message *msg)
{
	if (msg == NULL)
		return;
	g_free(msg->mail_from);
	if (msg->rcpt_to != NULL)
		g_ptr_array_unref(msg->rcpt_to);
	g_free(msg->peer);
	g_free(msg->helo);
	if (msg->data != NULL)
		g_byte_array_unref(msg->data);
	g_free(msg);
}
