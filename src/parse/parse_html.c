/* SPDX-License-Identifier: ISC */
/*
 * Reduces an HTML body to plain text for the summary and the pages: drops
 * style, script, head and elements hidden by CSS (preheaders), decodes
 * character references, breaks lines at block elements and keeps each
 * link's target after its text.  Runs in time linear in the input.
 */
#include <string.h>

#include "parse_priv.h"

/* HTML element skipped whole with its content. */
static const char *const html_skipped[] = { "script", "style", "head",
	"title", "template", NULL };

/*
 * CSS declarations (blanks removed, lowercase) that hide an element, as
 * mailers do for preheaders.  A value must not go on with a digit or dot,
 * so "font-size:0" does not match "font-size:0.9em".
 */
static const char *const css_hiding[] = { "display:none",
	"visibility:hidden", "mso-hide:all", "font-size:0", "max-height:0",
	"opacity:0", "line-height:0", NULL };

/* HTML elements that start a new line, opening or closing. */
static const char *const html_breaks[] = { "p", "div", "li", "tr",
	"h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
	"blockquote", "hr", "pre", NULL };

struct html_entity {
	const char	*name;
	gunichar	 codepoint;
};

static const struct html_entity html_entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xa9 }, { "reg", 0xae },
	{ "deg", 0xb0 }, { "euro", 0x20ac }, { "ndash", 0x2013 },
	{ "mdash", 0x2014 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
	{ "ldquo", 0x201c }, { "rdquo", 0x201d }, { "hellip", 0x2026 },
	{ "bull", 0x2022 }, { "laquo", 0xab }, { "raquo", 0xbb },
	{ "middot", 0xb7 }, { "sect", 0xa7 }, { "pound", 0xa3 },
	{ "cent", 0xa2 }, { "yen", 0xa5 }, { "times", 0xd7 },
	{ "divide", 0xf7 }, { "szlig", 0xdf }, { "auml", 0xe4 },
	{ "ouml", 0xf6 }, { "uuml", 0xfc }, { "Auml", 0xc4 },
	{ "Ouml", 0xd6 }, { "Uuml", 0xdc }, { "aacute", 0xe1 },
	{ "agrave", 0xe0 }, { "acirc", 0xe2 }, { "aring", 0xe5 },
	{ "Aring", 0xc5 }, { "aelig", 0xe6 }, { "AElig", 0xc6 },
	{ "ccedil", 0xe7 }, { "eacute", 0xe9 }, { "egrave", 0xe8 },
	{ "ecirc", 0xea }, { "euml", 0xeb }, { "Eacute", 0xc9 },
	{ "iacute", 0xed }, { "icirc", 0xee }, { "iuml", 0xef },
	{ "ntilde", 0xf1 }, { "Ntilde", 0xd1 }, { "oacute", 0xf3 },
	{ "ograve", 0xf2 }, { "ocirc", 0xf4 }, { "oslash", 0xf8 },
	{ "Oslash", 0xd8 }, { "uacute", 0xfa }, { "ugrave", 0xf9 },
	{ "ucirc", 0xfb }, { NULL, 0 }
};

/* Code points of windows-1252 bytes 0x80-0x9f; 0 marks an unused byte. */

static bool
name_in(const char *name, const char *const *list)
{
	size_t	 i;

	for (i = 0; list[i] != NULL; i++) {
		if (strcmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

/* Tells whether a tag name of len bytes starts at p (then not alnum). */
static bool
tag_name_at(const char *p, const char *name, size_t len)
{
	return g_ascii_strncasecmp(p, name, len) == 0 &&
	    !g_ascii_isalnum(p[len]);
}

/* Returns the end of the tag at p ('>' or the final NUL), past quotes. */
static const char *
tag_end(const char *p)
{
	char	 quote = '\0';

	for (p++; *p != '\0'; p++) {
		if (quote != '\0') {
			if (*p == quote)
				quote = '\0';
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '>') {
			break;
		}
	}
	return p;
}

/*
 * Returns the position just past the end tag that closes the element
 * called name, counting nested elements of the same name, or NULL if the
 * element is never closed.  p points past the start tag.
 */
static const char *
element_skip(const char *p, const char *name)
{
	size_t	 len = strlen(name);
	int	 depth = 1;

	for (p = strchr(p, '<'); p != NULL; p = strchr(p + 1, '<')) {
		if (p[1] == '/' && tag_name_at(p + 2, name, len))
			depth--;
		else if (tag_name_at(p + 1, name, len))
			depth++;
		if (depth == 0)
			break;
	}
	if (p == NULL)
		return NULL;
	p = tag_end(p);
	return *p != '\0' ? p + 1 : p;
}

/* Tells whether the declaration at the start of s is complete there. */
static bool
css_value_ends(const char *s)
{
	return !g_ascii_isdigit(*s) && *s != '.';
}

/* Tells whether a blank-separated token of [p, end) is "hidden". */
static bool
attrs_have_hidden(const char *p, const char *end)
{
	const char	*next;

	for (; p + 6 <= end; p++) {
		if (!g_ascii_isspace(p[-1]) ||
		    g_ascii_strncasecmp(p, "hidden", 6) != 0)
			continue;
		next = p + 6;
		if (next == end || g_ascii_isspace(*next) || *next == '=' ||
		    *next == '/' || *next == '>')
			return true;
	}
	return false;
}

/*
 * Tells whether the attributes in [p, end) hide the element: a hiding CSS
 * declaration or the "hidden" attribute.  p follows the tag name.
 */
static bool
attrs_hide(const char *p, const char *end)
{
	GString		*squeezed;
	const char	*hit;
	bool		 is_hidden;
	size_t		 i;

	is_hidden = attrs_have_hidden(p, end);
	squeezed = g_string_new(NULL);
	for (; p < end; p++) {
		if (!g_ascii_isspace(*p))
			g_string_append_c(squeezed, g_ascii_tolower(*p));
	}
	for (i = 0; css_hiding[i] != NULL && !is_hidden; i++) {
		hit = strstr(squeezed->str, css_hiding[i]);
		is_hidden = hit != NULL &&
		    css_value_ends(hit + strlen(css_hiding[i]));
	}
	g_string_free(squeezed, TRUE);
	return is_hidden;
}

/* Returns the value of the attribute name in [p, end), or NULL. */
static char *
attr_value(const char *p, const char *end, const char *name)
{
	size_t		 len = strlen(name);
	const char	*v;
	char		 quote;

	for (; p + len < end; p++) {
		if (!g_ascii_isspace(p[-1]) ||
		    g_ascii_strncasecmp(p, name, len) != 0)
			continue;
		for (v = p + len; v < end && g_ascii_isspace(*v); v++)
			;
		if (v >= end || *v != '=')
			continue;
		for (v++; v < end && g_ascii_isspace(*v); v++)
			;
		quote = v < end && (*v == '"' || *v == '\'') ? *v++ : '\0';
		p = v;
		while (v < end && (quote != '\0' ? *v != quote :
		    !g_ascii_isspace(*v)))
			v++;
		return g_strndup(p, (gsize)(v - p));
	}
	return NULL;
}

struct html_text {
	GString	*out;
	char	*href;		/* target of the open <a>, or NULL */
	size_t	 link_start;	/* offset in out of the link's text */
	GHashTable *unclosed;	/* names of elements never closed later on,
				 * so each end tag is searched for once */
};

/*
 * Runs element_skip unless an earlier search showed that no end tag of
 * that name follows.  An element never closed is not skipped, as it may
 * be a void element such as a hidden <img>.
 */
static const char *
element_skip_once(struct html_text *ht, const char *p, const char *name)
{
	const char	*skip;

	if (ht->unclosed != NULL && g_hash_table_contains(ht->unclosed, name))
		return NULL;
	skip = element_skip(p, name);
	if (skip != NULL)
		return skip;
	if (ht->unclosed == NULL)
		ht->unclosed = g_hash_table_new_full(g_str_hash, g_str_equal,
		    g_free, NULL);
	g_hash_table_add(ht->unclosed, g_strdup(name));
	return NULL;
}

static void
html_space(struct html_text *ht)
{
	GString	*out = ht->out;

	if (out->len > 0 && out->str[out->len - 1] != ' ' &&
	    out->str[out->len - 1] != '\n')
		g_string_append_c(out, ' ');
}

/* Tells whether the text in [s, s + len) is target, blanks aside. */
static bool
text_is(const char *s, size_t len, const char *target)
{
	while (len > 0 && g_ascii_isspace(*s)) {
		s++;
		len--;
	}
	while (len > 0 && g_ascii_isspace(s[len - 1]))
		len--;
	return len == strlen(target) && strncmp(s, target, len) == 0;
}

/* Starts a new line unless the text already ends one. */
static void
html_newline(struct html_text *ht)
{
	GString	*out = ht->out;

	while (out->len > 0 && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append_c(out, '\n');
}

/* Handles <a href> and </a>, so a link keeps its target: "text <url>". */
static void
html_link(struct html_text *ht, bool is_close, const char *attrs,
    const char *end)
{
	size_t	 start;

	if (!is_close) {
		g_free(ht->href);
		ht->href = attr_value(attrs, end, "href");
		ht->link_start = ht->out->len;
		return;
	}
	if (ht->href == NULL)
		return;
	start = MIN(ht->link_start, ht->out->len);
	if (*ht->href != '\0' && *ht->href != '#' &&
	    !text_is(ht->out->str + start, ht->out->len - start, ht->href))
		g_string_append_printf(ht->out, " <%s>", ht->href);
	g_clear_pointer(&ht->href, g_free);
}

/* Consumes the tag, comment or declaration at p and returns the rest. */
static const char *
html_tag(struct html_text *ht, const char *p)
{
	char		 name[16];
	const char	*attrs, *end, *skip;
	size_t		 len;
	bool		 is_close;

	if (strncmp(p, "<!--", 4) == 0) {
		end = strstr(p + 4, "-->");
		return end != NULL ? end + 3 : p + strlen(p);
	}
	is_close = p[1] == '/';
	attrs = p + 1 + is_close;
	len = 0;
	while (g_ascii_isalnum(attrs[len]))
		len++;
	if (len == 0 && p[1] != '!' && p[1] != '?') {
		g_string_append_c(ht->out, '<');
		return p + 1;
	}
	end = tag_end(p);
	g_strlcpy(name, attrs, MIN(len + 1, sizeof(name)));
	attrs += len;
	for (len = 0; name[len] != '\0'; len++)
		name[len] = g_ascii_tolower(name[len]);
	skip = NULL;
	if (!is_close && *name != '\0' && end[-1] != '/' &&
	    (name_in(name, html_skipped) || attrs_hide(attrs, end)))
		skip = element_skip_once(ht, end, name);
	if (skip != NULL)
		return skip;
	if (strcmp(name, "br") == 0)
		g_string_append_c(ht->out, '\n');
	else if (name_in(name, html_breaks))
		html_newline(ht);
	else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
		html_space(ht);
	else if (strcmp(name, "a") == 0)
		html_link(ht, is_close, attrs, end);
	return *end != '\0' ? end + 1 : end;
}

/* Appends the character reference at p (starting with '&'). */
static const char *
html_entity(GString *out, const char *p)
{
	const struct html_entity	*e;
	char				*num_end;
	guint64				 cp;
	size_t				 len;

	if (p[1] == '#') {
		if (p[2] == 'x' || p[2] == 'X')
			cp = g_ascii_strtoull(p + 3, &num_end, 16);
		else
			cp = g_ascii_strtoull(p + 2, &num_end, 10);
		if (num_end == p + 2 || num_end == p + 3) {
			g_string_append_c(out, '&');
			return p + 1;
		}
		if (cp == 0xa0)
			cp = ' ';
		g_string_append_unichar(out, cp != 0 && cp <= 0x10ffff &&
		    g_unichar_validate((gunichar)cp) ? (gunichar)cp : 0xfffd);
		return *num_end == ';' ? num_end + 1 : num_end;
	}
	for (e = html_entities; e->name != NULL; e++) {
		len = strlen(e->name);
		if (strncmp(p + 1, e->name, len) == 0 && p[1 + len] == ';') {
			g_string_append_unichar(out, e->codepoint);
			return p + len + 2;
		}
	}
	g_string_append_c(out, '&');
	return p + 1;
}

/* Trims each line and keeps at most one blank line in a row. */
static char *
lines_tidy(const char *text)
{
	GString	 *out;
	char	**lines;
	int	  blanks = 0;
	size_t	  i;

	out = g_string_new(NULL);
	lines = g_strsplit(text, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		g_strstrip(lines[i]);
		if (*lines[i] == '\0') {
			blanks++;
			continue;
		}
		if (out->len > 0)
			g_string_append(out, blanks > 0 ? "\n\n" : "\n");
		g_string_append(out, lines[i]);
		blanks = 0;
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

char *
parse_html_to_text(const char *html)
{
	struct html_text	 ht = { NULL, NULL, 0, NULL };
	const char		*p;
	char			*text;

	ht.out = g_string_new(NULL);
	p = html;
	while (*p != '\0') {
		if (*p == '<') {
			p = html_tag(&ht, p);
		} else if (*p == '&') {
			p = html_entity(ht.out, p);
		} else if (g_ascii_isspace(*p)) {
			html_space(&ht);
			p++;
		} else {
			g_string_append_c(ht.out, *p++);
		}
	}
	g_free(ht.href);
	if (ht.unclosed != NULL)
		g_hash_table_destroy(ht.unclosed);
	text = lines_tidy(ht.out->str);
	g_string_free(ht.out, TRUE);
	return text;
}
