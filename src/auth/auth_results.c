/* SPDX-License-Identifier: ISC */
/*
 * Parser for Authentication-Results header values (RFC 8601 section 2.2):
 * an authserv-id, an optional version, then "none" or resinfo entries
 * separated by ';', each "method[/version]=result" followed by an optional
 * reason and properties.  Comments (nested) and folding white space may
 * appear between the parts; values may be quoted strings.
 */
#include <string.h>

#include <glib.h>

#include "auth.h"

struct lexer {
	const char	*p;
	bool		 is_bad;
};

/* RFC 2045 tspecials, which end a token. */
static const char tspecials[] = "()<>@,;:\\\"/[]?=";

static bool
is_token_char(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f &&
	    strchr(tspecials, c) == NULL;
}

/*
 * Removes each CRLF or LF that is followed by a space or tab (RFC 5322
 * 2.2.3).  Returns NULL when another line break is left.
 */
static char *
unfold(const char *value)
{
	GString	*s = g_string_new(NULL);
	size_t	 i;

	for (i = 0; value[i] != '\0'; i++) {
		if (value[i] == '\r' && value[i + 1] == '\n')
			continue;
		if (value[i] == '\r' || value[i] == '\n') {
			if (value[i] == '\n' &&
			    (value[i + 1] == ' ' || value[i + 1] == '\t'))
				continue;
			g_string_free(s, TRUE);
			return NULL;
		}
		g_string_append_c(s, value[i]);
	}
	return g_string_free(s, FALSE);
}

/* Skips one comment, nested ones inside it and quoted pairs. */
static void
skip_comment(struct lexer *lx)
{
	int	depth = 0;

	do {
		if (*lx->p == '\0') {
			lx->is_bad = true;
			return;
		}
		if (*lx->p == '\\' && lx->p[1] != '\0')
			lx->p++;
		else if (*lx->p == '(')
			depth++;
		else if (*lx->p == ')')
			depth--;
		lx->p++;
	} while (depth > 0);
}

/* Skips CFWS: white space and comments. */
static void
skip_cfws(struct lexer *lx)
{
	while (!lx->is_bad) {
		if (*lx->p == ' ' || *lx->p == '\t')
			lx->p++;
		else if (*lx->p == '(')
			skip_comment(lx);
		else
			return;
	}
}

/* Reads a quoted string at lx->p (on the '"'), returning it unquoted. */
static char *
read_quoted(struct lexer *lx)
{
	GString	*s = g_string_new(NULL);

	lx->p++;
	while (*lx->p != '"') {
		if (*lx->p == '\0') {
			lx->is_bad = true;
			g_string_free(s, TRUE);
			return NULL;
		}
		if (*lx->p == '\\' && lx->p[1] != '\0')
			lx->p++;
		g_string_append_c(s, *lx->p);
		lx->p++;
	}
	lx->p++;
	return g_string_free(s, FALSE);
}

/* Reads a token after CFWS; returns NULL (and marks lx bad) if none. */
static char *
read_token(struct lexer *lx)
{
	const char	*start;

	skip_cfws(lx);
	start = lx->p;
	while (is_token_char(*lx->p))
		lx->p++;
	if (lx->is_bad || lx->p == start) {
		lx->is_bad = true;
		return NULL;
	}
	return g_strndup(start, lx->p - start);
}

/* Reads a value (RFC 2045): a token or a quoted string. */
static char *
read_value(struct lexer *lx)
{
	skip_cfws(lx);
	if (lx->is_bad)
		return NULL;
	if (*lx->p == '"')
		return read_quoted(lx);
	return read_token(lx);
}

/* Consumes c after CFWS; marks lx bad when something else is there. */
static void
expect_char(struct lexer *lx, char c)
{
	skip_cfws(lx);
	if (lx->is_bad || *lx->p != c) {
		lx->is_bad = true;
		return;
	}
	lx->p++;
}

static bool
is_at_end(struct lexer *lx)
{
	skip_cfws(lx);
	return !lx->is_bad && *lx->p == '\0';
}

/*
 * Reads a property value: a value, or "[local-part] @ domain".  A bare run
 * of non-special characters is taken whole as well, so that an unquoted
 * IPv6 address ("policy.iprev=2001:db8::1") still reads as one value.
 */
static char *
read_pvalue(struct lexer *lx)
{
	const char	*start;
	char		*local = NULL;
	char		*domain;
	char		*joined;

	skip_cfws(lx);
	if (lx->is_bad)
		return NULL;
	if (*lx->p == '"') {
		local = read_quoted(lx);
		if (local == NULL || *lx->p != '@')
			return local;
		lx->p++;
		domain = read_token(lx);
		joined = domain != NULL ?
		    g_strconcat(local, "@", domain, NULL) : NULL;
		g_free(local);
		g_free(domain);
		return joined;
	}
	start = lx->p;
	while (*lx->p != '\0' && strchr(" \t;()\"", *lx->p) == NULL)
		lx->p++;
	if (lx->p == start) {
		lx->is_bad = true;
		return NULL;
	}
	return g_strndup(start, lx->p - start);
}

static void
method_fini(struct auth_results_method *m)
{
	size_t	i;

	for (i = 0; i < m->n_props; i++) {
		g_free(m->props[i].ptype);
		g_free(m->props[i].property);
		g_free(m->props[i].value);
	}
	g_free(m->props);
	g_free(m->method);
	g_free(m->result);
	g_free(m->reason);
}

/* Reads "ptype.property=pvalue" or "reason=value" whose key is key. */
static void
read_prop(struct lexer *lx, struct auth_results_method *m, char *key)
{
	struct auth_results_prop	*prop;
	char				*dot;

	expect_char(lx, '=');
	if (lx->is_bad)
		return;
	if (g_ascii_strcasecmp(key, "reason") == 0 && m->reason == NULL &&
	    m->n_props == 0) {
		m->reason = read_value(lx);
		return;
	}
	dot = strchr(key, '.');
	if (dot == NULL || dot == key || dot[1] == '\0') {
		lx->is_bad = true;
		return;
	}
	m->props = g_renew(struct auth_results_prop, m->props,
	    m->n_props + 1);
	prop = &m->props[m->n_props++];
	prop->ptype = g_ascii_strdown(key, dot - key);
	prop->property = g_ascii_strdown(dot + 1, -1);
	prop->value = read_pvalue(lx);
	if (prop->value == NULL)
		lx->is_bad = true;
}

/* Reads "method[/version]=result" then the reason and properties. */
static void
read_resinfo(struct lexer *lx, struct auth_results_method *m)
{
	char	*word;

	word = read_token(lx);
	if (word == NULL)
		return;
	m->method = g_ascii_strdown(word, -1);
	g_free(word);
	skip_cfws(lx);
	if (!lx->is_bad && *lx->p == '/') {
		lx->p++;
		g_free(read_token(lx));
	}
	expect_char(lx, '=');
	word = read_token(lx);
	if (word == NULL)
		return;
	m->result = g_ascii_strdown(word, -1);
	g_free(word);
	while (!lx->is_bad && !is_at_end(lx) && *lx->p != ';') {
		word = read_token(lx);
		if (word == NULL)
			return;
		read_prop(lx, m, word);
		g_free(word);
	}
}

/* Reads the optional authres-version after the authserv-id. */
static void
read_version(struct lexer *lx, struct auth_results_header *out)
{
	const char	*start;
	guint64		 v;

	out->version = 1;
	skip_cfws(lx);
	start = lx->p;
	while (g_ascii_isdigit(*lx->p))
		lx->p++;
	if (lx->p == start)
		return;
	if (lx->p - start > 4 || is_token_char(*lx->p)) {
		lx->is_bad = true;
		return;
	}
	v = g_ascii_strtoull(start, NULL, 10);
	out->version = (int)v;
}

/* Tells whether the rest is "; none" and consumes it if so. */
static bool
read_none(struct lexer *lx)
{
	struct lexer	 probe = *lx;
	char		*word;
	bool		 is_none;

	expect_char(&probe, ';');
	word = read_token(&probe);
	is_none = word != NULL && g_ascii_strcasecmp(word, "none") == 0 &&
	    is_at_end(&probe);
	g_free(word);
	if (is_none)
		*lx = probe;
	return is_none;
}

static void
read_resinfos(struct lexer *lx, struct auth_results_header *out)
{
	struct auth_results_method	*m;

	do {
		expect_char(lx, ';');
		if (lx->is_bad)
			return;
		out->methods = g_renew(struct auth_results_method,
		    out->methods, out->n_methods + 1);
		m = &out->methods[out->n_methods++];
		memset(m, 0, sizeof(*m));
		read_resinfo(lx, m);
	} while (!lx->is_bad && !is_at_end(lx));
}

int
auth_results_parse(const char *value, struct auth_results_header *out)
{
	struct lexer	 lx = { 0 };
	char		*text;

	memset(out, 0, sizeof(*out));
	text = value != NULL ? unfold(value) : NULL;
	if (text == NULL)
		return -1;
	lx.p = text;
	out->authserv_id = read_value(&lx);
	if (out->authserv_id != NULL && *out->authserv_id == '\0')
		lx.is_bad = true;
	if (!lx.is_bad)
		read_version(&lx, out);
	if (!lx.is_bad && !read_none(&lx))
		read_resinfos(&lx, out);
	g_free(text);
	return lx.is_bad ? -1 : 0;
}

void
auth_results_header_fini(struct auth_results_header *header)
{
	size_t	i;

	for (i = 0; i < header->n_methods; i++)
		method_fini(&header->methods[i]);
	g_free(header->methods);
	g_free(header->authserv_id);
	memset(header, 0, sizeof(*header));
}

const char *
auth_results_prop_find(const struct auth_results_method *m,
    const char *ptype, const char *property)
{
	size_t	i;

	for (i = 0; i < m->n_props; i++) {
		if (g_ascii_strcasecmp(m->props[i].ptype, ptype) == 0 &&
		    g_ascii_strcasecmp(m->props[i].property, property) == 0)
			return m->props[i].value;
	}
	return NULL;
}
