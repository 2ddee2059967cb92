/* SPDX-License-Identifier: ISC */
/*
 * Subject handling for classification: stripping reply and forward prefix
 * chains, finding our "[#N]" incident tag, the subject key that ignores the
 * values monitoring systems change between repeats of one alert, and the
 * fingerprint and content hash that deduplication looks up.
 */
#include <string.h>

#include <glib.h>

#include "classify.h"

#define PREFIX_WORD_MAX	24	/* bytes of a prefix word before ':' */
#define OTHER_TAG_MAX	64	/* bytes of a customer's "[...]" tag */
#define HEX_ID_MIN	8	/* hex digits that make an id */

/*
 * Reply and forward prefixes, lowercase.  They cover English, German (AW,
 * WG, Antw), Nordic (SV, VS, VB, VL, FS), Dutch (Antw, Doorst) and French
 * (TR, RE) clients.  Spanish and Portuguese (RV, RES, ENC), Italian (R, I,
 * RIF), Polish (ODP, PD), Turkish (YNT, ILT), Hungarian, Czech, Greek,
 * Russian, Chinese and Japanese clients follow.
 */
static const char *const reply_prefixes[] = {
	"re", "fw", "fwd", "aw", "wg", "antw", "antwort", "sv", "vs", "vb",
	"vl", "fs", "doorst", "tr", "rv", "res", "enc", "r", "i", "rif",
	"odp", "pd", "ynt", "ilt", "vá", "továbbítás", "fv", "odg", "pr",
	"πλ", "σχετ", "ответ", "отв", "пересл", "回复", "回覆", "转发", "轉寄",
	"答复", "返信", "転送", "rép", "réf",
};

static bool
is_reply_prefix_word(const char *word, size_t len)
{
	char	*lower;
	bool	 found = false;
	size_t	 i;

	lower = g_utf8_strdown(word, (gssize)len);
	for (i = 0; i < G_N_ELEMENTS(reply_prefixes) && !found; i++)
		found = strcmp(lower, reply_prefixes[i]) == 0;
	g_free(lower);
	return found;
}

static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Skips a counter such as "[2]" or "(3)" after a prefix word. */
static const char *
skip_counter(const char *p)
{
	const char	*q;
	char		 close;

	if (*p != '[' && *p != '(')
		return p;
	close = *p == '[' ? ']' : ')';
	q = p + 1;
	while (g_ascii_isdigit(*q))
		q++;
	return q > p + 1 && *q == close ? q + 1 : p;
}

/* Returns the end of a reply prefix at p ("Re:", "AW :"), or NULL. */
static const char *
match_reply_prefix(const char *p)
{
	const char	*q = p;
	gunichar	 c;

	while (*q != '\0' && q - p <= PREFIX_WORD_MAX) {
		c = g_utf8_get_char(q);
		if (!g_unichar_isalpha(c))
			break;
		q = g_utf8_next_char(q);
	}
	if (q == p || q - p > PREFIX_WORD_MAX ||
	    !is_reply_prefix_word(p, (size_t)(q - p)))
		return NULL;
	q = skip_counter(q);
	while (*q == ' ')
		q++;
	if (*q == ':')
		return q + 1;
	if (strncmp(q, "\xef\xbc\x9a", 3) == 0)	/* fullwidth colon */
		return q + 3;
	return NULL;
}

/* Returns the end of "[#N]" at p and stores N, or NULL. */
static const char *
match_incident_tag(const char *p, int64_t *id)
{
	const char	*q;
	int64_t		 v = 0;

	if (p[0] != '[' || p[1] != '#' || !g_ascii_isdigit(p[2]))
		return NULL;
	for (q = p + 2; g_ascii_isdigit(*q); q++) {
		if (v > (INT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (*q - '0');
	}
	if (*q != ']' || v == 0)
		return NULL;
	*id = v;
	return q + 1;
}

/* Returns the end of another "[...]" tag at p, or NULL. */
static const char *
match_other_tag(const char *p)
{
	const char	*q;

	if (*p != '[')
		return NULL;
	for (q = p + 1; *q != '\0' && *q != ']' && *q != '['; q++)
		if (q - p > OTHER_TAG_MAX)
			return NULL;
	return *q == ']' ? q + 1 : NULL;
}

/* Returns the end of a prefix or our tag at p, or NULL. */
static const char *
match_strippable(const char *p)
{
	const char	*end;
	int64_t		 id;

	end = match_reply_prefix(p);
	if (end == NULL)
		end = match_incident_tag(p, &id);
	return end;
}

static char *
collapse_space(const char *s)
{
	GString	*out = g_string_new(NULL);
	bool	 pending = false;

	for (s = skip_space(s); *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			pending = true;
			continue;
		}
		if (pending)
			g_string_append_c(out, ' ');
		pending = false;
		g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

char *
classify_subject_normalise(const char *subject)
{
	GString		*kept = g_string_new(NULL);
	const char	*p, *end, *next;
	char		*valid, *out;

	valid = g_utf8_make_valid(subject != NULL ? subject : "", -1);
	p = skip_space(valid);
	for (;;) {
		end = match_strippable(p);
		if (end != NULL) {
			p = skip_space(end);
			continue;
		}
		/* A customer's own tag in front of a prefix chain stays. */
		end = match_other_tag(p);
		if (end == NULL)
			break;
		next = skip_space(end);
		if (match_strippable(next) == NULL)
			break;
		g_string_append_len(kept, p, end - p);
		g_string_append_c(kept, ' ');
		p = next;
	}
	g_string_append(kept, p);
	out = collapse_space(kept->str);
	g_string_free(kept, TRUE);
	g_free(valid);
	return out;
}

int64_t
classify_subject_incident_tag(const char *subject)
{
	const char	*p;
	int64_t		 id;

	if (subject == NULL)
		return 0;
	for (p = strchr(subject, '['); p != NULL; p = strchr(p + 1, '['))
		if (match_incident_tag(p, &id) != NULL)
			return id;
	return 0;
}

static bool
is_word_byte(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
	    c >= 0x80;
}

static const char *const value_units[] = {
	"z", "ms", "s", "sec", "secs", "m", "min", "mins", "h", "hr", "hrs",
	"d", "k", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "x", "pct",
	"utc",
};

static bool
is_unit(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(value_units); i++)
		if (strlen(value_units[i]) == len &&
		    strncmp(p, value_units[i], len) == 0)
			return true;
	return false;
}

/* Returns the end of a hex id (at least HEX_ID_MIN digits) at p, or NULL. */
static const char *
match_hex_id(const char *p)
{
	const char	*q = p;
	size_t		 n = 0;
	bool		 has_digit = false;

	for (;;) {
		if (g_ascii_isxdigit(*q)) {
			has_digit = has_digit || g_ascii_isdigit(*q);
			n++;
			q++;
		} else if (*q == '-' && g_ascii_isxdigit(q[1]) && n > 0) {
			q++;
		} else {
			break;
		}
	}
	if (n < HEX_ID_MIN || !has_digit || is_word_byte((unsigned char)*q))
		return NULL;
	return q;
}

/*
 * Returns the end of a number at p (digits with inner separators, as in
 * "23.5", "14:05:00", "2025-06-03t14:05:00") followed by nothing or a unit,
 * and sets *unit_at; NULL when the digits belong to a word like "5xx".
 */
static const char *
match_value(const char *p, const char **unit_at)
{
	const char	*q = p, *u;

	while (g_ascii_isdigit(*q) || (strchr(".,:/-t", *q) != NULL &&
	    *q != '\0' && q > p && g_ascii_isdigit(q[1])))
		q++;
	for (u = q; g_ascii_isalpha(*u); u++)
		;
	if (u > q && !is_unit(q, (size_t)(u - q)))
		return NULL;
	if (g_ascii_isalnum(*u) || *u == '_')
		return NULL;
	*unit_at = q;
	return u;
}

/* Appends the word at p unchanged and returns its end. */
static const char *
copy_word(GString *out, const char *p)
{
	const char	*q = p;

	while (*q != '\0' && is_word_byte((unsigned char)*q))
		q++;
	if (q == p)
		q++;
	g_string_append_len(out, p, q - p);
	return q;
}

char *
classify_subject_key(const char *subject)
{
	GString		*out = g_string_new(NULL);
	char		*normal, *folded;
	const char	*p, *end, *unit;

	normal = classify_subject_normalise(subject);
	folded = g_utf8_casefold(normal, -1);
	p = folded;
	while (*p != '\0') {
		if (!g_ascii_isalnum(*p)) {
			g_string_append_c(out, *p++);
			continue;
		}
		end = match_hex_id(p);
		if (end != NULL) {
			g_string_append_c(out, '#');
			p = end;
			continue;
		}
		end = g_ascii_isdigit(*p) ? match_value(p, &unit) : NULL;
		if (end != NULL) {
			g_string_append_c(out, '#');
			g_string_append_len(out, unit, end - unit);
			p = end;
			continue;
		}
		p = copy_word(out, p);
	}
	g_free(folded);
	g_free(normal);
	return g_string_free(out, FALSE);
}

char *
classify_fingerprint(const char *sender, const char *subject)
{
	GChecksum	*sum;
	char		*lower, *key, *hex;

	lower = g_ascii_strdown(sender != NULL ? sender : "", -1);
	key = classify_subject_key(subject);
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)"fingerprint-1", 14);
	g_checksum_update(sum, (const guchar *)lower, (gssize)strlen(lower));
	g_checksum_update(sum, (const guchar *)"\n", 1);
	g_checksum_update(sum, (const guchar *)key, (gssize)strlen(key));
	hex = g_strdup(g_checksum_get_string(sum));
	g_checksum_free(sum);
	g_free(key);
	g_free(lower);
	return hex;
}

/* Adds s and a NUL separator, so that fields cannot run into each other. */
static void
hash_field(GChecksum *sum, const char *s)
{
	if (s != NULL)
		g_checksum_update(sum, (const guchar *)s, (gssize)strlen(s));
	g_checksum_update(sum, (const guchar *)"", 1);
}

static void
hash_list(GChecksum *sum, const GPtrArray *list)
{
	guint	i;

	for (i = 0; list != NULL && i < list->len; i++)
		hash_field(sum, g_ptr_array_index(list, i));
	hash_field(sum, "\n");
}

char *
classify_content_hash(const struct parse_result *parsed)
{
	GChecksum	*sum;
	char		 date[24];
	char		*hex;

	sum = g_checksum_new(G_CHECKSUM_SHA256);
	hash_field(sum, "content-1");
	hash_field(sum, parsed->from_addr);
	g_snprintf(date, sizeof(date), "%" G_GINT64_FORMAT, parsed->date_s);
	hash_field(sum, date);
	hash_field(sum, parsed->subject);
	hash_list(sum, parsed->to_addrs);
	hash_list(sum, parsed->cc_addrs);
	hash_field(sum, parsed->body_text);
	hex = g_strdup(g_checksum_get_string(sum));
	g_checksum_free(sum);
	return hex;
}
