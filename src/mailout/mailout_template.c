/* SPDX-License-Identifier: ISC */
/*
 * Templates of the mailout stage: loads one file per kind of mail from the
 * configured folder and checks it (size, UTF-8, Subject line,
 * placeholders), so that a bad template stops startup instead of a page.
 * mailout_compose then fills the placeholders in through this file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "mailout.h"
#include "mailout_priv.h"

#define SUBJECT_PREFIX	"Subject:"

static const char *const kind_names[MAILOUT_KIND_COUNT] = {
	[MAILOUT_PAGE] = "page",
	[MAILOUT_CONFIRMATION] = "confirmation",
	[MAILOUT_JOINED] = "joined",
	[MAILOUT_ACKNOWLEDGED] = "acknowledged",
	[MAILOUT_RESOLVED] = "resolved",
	[MAILOUT_STATUS] = "status",
	[MAILOUT_FIX_OVERDUE] = "fix_overdue",
	[MAILOUT_UPDATE] = "update",
};

static const char *const var_names[] = {
	"incident", "severity", "subject", "reporter", "promise", "deadline",
	"member", "acked_by", "text", "ack_how", "analysed", "analysed_by",
	"fix_due", "writer", "state",
};

const char *
mailout_kind_name(enum mailout_kind kind)
{
	if ((unsigned)kind >= MAILOUT_KIND_COUNT)
		return "unknown";
	return kind_names[kind];
}

int
mailout_kind_from_name(const char *name, enum mailout_kind *out)
{
	size_t	i;

	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum mailout_kind)i;
			return 0;
		}
	}
	return -1;
}

bool
mailout_var_is_known(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(var_names); i++) {
		if (strlen(var_names[i]) == len &&
		    memcmp(var_names[i], name, len) == 0)
			return true;
	}
	return false;
}

/* Returns the 1-based line of offset in text. */
static int
line_of(const char *text, size_t offset)
{
	int	line = 1;
	size_t	i;

	for (i = 0; i < offset; i++) {
		if (text[i] == '\n')
			line++;
	}
	return line;
}

/*
 * Reads path whole into *out (caller frees with g_free), refusing files
 * over MAILOUT_TEMPLATE_MAX bytes without reading them all.
 */
static int
file_read(const char *path, char **out, size_t *len, char **error)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 n;
	int	 rc = -1;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		*error = g_strdup_printf("%s: open failed: %s", path,
		    g_strerror(errno));
		goto out;
	}
	buf = g_malloc(MAILOUT_TEMPLATE_MAX + 2);
	n = fread(buf, 1, MAILOUT_TEMPLATE_MAX + 1, fp);
	if (ferror(fp)) {
		*error = g_strdup_printf("%s: read failed: %s", path,
		    g_strerror(errno));
		goto out;
	}
	if (n > MAILOUT_TEMPLATE_MAX) {
		*error = g_strdup_printf("%s: larger than %d bytes", path,
		    MAILOUT_TEMPLATE_MAX);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	g_free(buf);
	if (fp != NULL)
		fclose(fp);
	return rc;
}

/*
 * Removes the CR of each CRLF, then rejects invalid UTF-8 and control
 * characters other than tab and LF.  Updates *len.
 */
static int
text_check(const char *path, char *text, size_t *len, char **error)
{
	const char	*end;
	size_t		 i, j;

	if (!g_utf8_validate(text, *len, &end)) {
		*error = g_strdup_printf("%s:%d: invalid UTF-8", path,
		    line_of(text, (size_t)(end - text)));
		return -1;
	}
	for (i = 0, j = 0; i < *len; i++) {
		if (text[i] == '\r' && text[i + 1] == '\n')
			continue;
		text[j++] = text[i];
	}
	text[j] = '\0';
	*len = j;
	for (i = 0; i < *len; i++) {
		if (g_ascii_iscntrl(text[i]) && text[i] != '\t' &&
		    text[i] != '\n') {
			*error = g_strdup_printf("%s:%d: control character "
			    "0x%02x", path, line_of(text, i),
			    (unsigned char)text[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Checks every placeholder in text, whose first line is line first_line
 * of the file: each "{{" is closed on its line and names a known value.
 */
static int
placeholders_check(const char *path, const char *text, int first_line,
    char **error)
{
	const char	*p = text, *close, *eol;
	size_t		 len;

	while ((p = strstr(p, "{{")) != NULL) {
		eol = strchrnul(p, '\n');
		close = g_strstr_len(p + 2, eol - (p + 2), "}}");
		if (close == NULL) {
			*error = g_strdup_printf("%s:%d: unclosed {{", path,
			    first_line - 1 + line_of(text, p - text));
			return -1;
		}
		len = (size_t)(close - (p + 2));
		if (!mailout_var_is_known(p + 2, len)) {
			*error = g_strdup_printf("%s:%d: unknown placeholder "
			    "{{%.*s}}", path,
			    first_line - 1 + line_of(text, p - text),
			    (int)len, p + 2);
			return -1;
		}
		p = close + 2;
	}
	return 0;
}

/* Splits checked text into the Subject line and the body. */
static int
template_split(const char *path, const char *text, struct mailout_template *t,
    char **error)
{
	const char	*eol, *body;

	eol = strchrnul(text, '\n');
	if (g_ascii_strncasecmp(text, SUBJECT_PREFIX,
	    strlen(SUBJECT_PREFIX)) != 0) {
		*error = g_strdup_printf("%s:1: missing \"Subject:\" line",
		    path);
		return -1;
	}
	t->subject = g_strndup(text + strlen(SUBJECT_PREFIX),
	    eol - (text + strlen(SUBJECT_PREFIX)));
	g_strstrip(t->subject);
	if (*t->subject == '\0') {
		*error = g_strdup_printf("%s:1: empty Subject", path);
		return -1;
	}
	if (*eol == '\0' || eol[1] != '\n') {
		*error = g_strdup_printf("%s:2: expected a blank line after "
		    "the Subject line", path);
		return -1;
	}
	body = eol + 2;
	if (*body == '\0') {
		*error = g_strdup_printf("%s:3: empty body", path);
		return -1;
	}
	if (g_str_has_suffix(body, "\n"))
		t->body = g_strdup(body);
	else
		t->body = g_strconcat(body, "\n", NULL);
	return 0;
}

static int
template_load(const char *dir, enum mailout_kind kind,
    struct mailout_template *t, char **error)
{
	char	*path, *name, *text = NULL;
	size_t	 len;
	int	 rc = -1;

	name = g_strconcat(kind_names[kind], ".txt", NULL);
	path = g_build_filename(dir, name, NULL);
	/* A folder copied from a version before the kind existed lacks its
	 * file; failing the start over it would stop the paging. */
	if ((kind == MAILOUT_FIX_OVERDUE || kind == MAILOUT_UPDATE) &&
	    !g_file_test(path, G_FILE_TEST_EXISTS)) {
		rc = 0;
		goto out;
	}
	if (file_read(path, &text, &len, error) == -1)
		goto out;
	if (text_check(path, text, &len, error) == -1)
		goto out;
	if (template_split(path, text, t, error) == -1)
		goto out;
	if (placeholders_check(path, t->subject, 1, error) == -1)
		goto out;
	if (placeholders_check(path, t->body, 3, error) == -1)
		goto out;
	rc = 0;
out:
	g_free(text);
	g_free(path);
	g_free(name);
	return rc;
}

struct mailout_templates *
mailout_templates_load(const char *dir, char **error)
{
	struct mailout_templates	*templates;
	GString				*all = NULL;
	char				*one;
	size_t				 i;

	*error = NULL;
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		*error = g_strdup_printf("%s: not found or not a folder", dir);
		return NULL;
	}
	templates = g_new0(struct mailout_templates, 1);
	/* Every file is read, so that one run reports every problem. */
	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		one = NULL;
		if (template_load(dir, (enum mailout_kind)i,
		    &templates->kinds[i], &one) == 0)
			continue;
		if (all == NULL)
			all = g_string_new(one);
		else
			g_string_append_printf(all, "; %s", one);
		g_free(one);
	}
	if (all == NULL)
		return templates;
	*error = g_string_free(all, FALSE);
	mailout_templates_free(templates);
	return NULL;
}

bool
mailout_templates_have(const struct mailout_templates *templates,
    enum mailout_kind kind)
{
	return templates != NULL && (unsigned)kind < MAILOUT_KIND_COUNT &&
	    templates->kinds[kind].subject != NULL;
}

void
mailout_templates_free(struct mailout_templates *templates)
{
	size_t	i;

	if (templates == NULL)
		return;
	for (i = 0; i < MAILOUT_KIND_COUNT; i++) {
		g_free(templates->kinds[i].subject);
		g_free(templates->kinds[i].body);
	}
	g_free(templates);
}

/*
 * Tells whether the character c, decoded from UTF-8, is a C0 or C1 control
 * character, DEL, or a Unicode line or paragraph separator.
 */
static bool
is_control(gunichar c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 ||
	    c == 0x2029;
}

/*
 * Invalid UTF-8 is replaced first.  In a header every control character
 * becomes a space, so that no value can end the header line and start
 * another (header injection).
 */
void
mailout_value_append(GString *out, const char *value, bool is_header)
{
	char		*valid;
	const char	*p;
	gunichar	 c;
	gsize		 start = out->len;

	valid = g_utf8_make_valid(value, -1);
	for (p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		c = g_utf8_get_char(p);
		if (!is_header && c == '\r') {
			g_string_append_c(out, '\n');
			if (p[1] == '\n')
				p++;
		} else if (!is_header && (c == '\n' || c == '\t')) {
			g_string_append_c(out, (char)c);
		} else if (is_control(c)) {
			g_string_append_c(out, ' ');
		} else {
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
		}
	}
	/* The template decides where lines end after a value. */
	while (!is_header && out->len > start &&
	    out->str[out->len - 1] == '\n')
		g_string_truncate(out, out->len - 1);
	g_free(valid);
}

static const char *
var_find(const struct mailout_var *vars, size_t n_vars, const char *name,
    size_t len)
{
	size_t	i;

	for (i = 0; i < n_vars; i++) {
		if (strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return vars[i].value;
	}
	return NULL;
}

int
mailout_template_render(const char *tmpl, const struct mailout_var *vars,
    size_t n_vars, bool is_header, GString *out, char **error)
{
	const char	*p = tmpl, *open, *close, *value;
	size_t		 len;

	while ((open = strstr(p, "{{")) != NULL) {
		/* Load checked that each "{{" is closed on its line. */
		close = strstr(open + 2, "}}");
		len = (size_t)(close - (open + 2));
		value = var_find(vars, n_vars, open + 2, len);
		if (value == NULL) {
			*error = g_strdup_printf("no value for placeholder "
			    "{{%.*s}}", (int)len, open + 2);
			return -1;
		}
		g_string_append_len(out, p, open - p);
		mailout_value_append(out, value, is_header);
		p = close + 2;
	}
	g_string_append(out, p);
	return 0;
}
