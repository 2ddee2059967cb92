/* SPDX-License-Identifier: ISC */
/*
 * Decodes application/x-www-form-urlencoded webhook bodies into name/value
 * pairs, in arrival order with repeats kept, so that the signature check
 * and the handlers read the same bytes the provider signed.
 */

#include <string.h>

#include <glib.h>

#include "http.h"

static int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes n bytes at s ("+" is a space, %XX a byte) into a new string that
 * the caller frees with g_free.  Returns NULL for a malformed escape or a
 * NUL byte, raw or escaped, because a C string cannot carry it.
 */
static char *
form_part_decode(const char *s, size_t n)
{
	char	*buf, *out = NULL;
	size_t	 i, o = 0;
	int	 hi, lo;

	buf = g_malloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			goto out;
		if (s[i] != '%') {
			buf[o++] = s[i] == '+' ? ' ' : s[i];
			continue;
		}
		if (n - i < 3)
			goto out;
		hi = hex_digit_value(s[i + 1]);
		lo = hex_digit_value(s[i + 2]);
		if (hi == -1 || lo == -1 || (hi == 0 && lo == 0))
			goto out;
		buf[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	buf[o] = '\0';
	out = buf;
	buf = NULL;
out:
	g_free(buf);
	return out;
}

/* Decodes one "name=value" or "name" segment of n bytes into param. */
static int
form_segment_decode(const char *seg, size_t n, struct http_param *param)
{
	const char	*eq;
	size_t		 name_len;

	eq = memchr(seg, '=', n);
	name_len = eq != NULL ? (size_t)(eq - seg) : n;
	param->name = form_part_decode(seg, name_len);
	if (param->name == NULL)
		return -1;
	if (eq == NULL)
		param->value = g_strdup("");
	else
		param->value = form_part_decode(eq + 1, n - name_len - 1);
	if (param->value == NULL) {
		g_free(param->name);
		param->name = NULL;
		return -1;
	}
	return 0;
}

int
http_form_parse(const char *body, size_t len, struct http_form *out)
{
	GArray			*params;
	struct http_param	 param;
	const char		*amp;
	size_t			 pos, seg_len;
	int			 rc = -1;

	params = g_array_new(FALSE, TRUE, sizeof(struct http_param));
	for (pos = 0; pos < len; pos += seg_len + 1) {
		amp = memchr(body + pos, '&', len - pos);
		if (amp != NULL)
			seg_len = (size_t)(amp - body) - pos;
		else
			seg_len = len - pos;
		/* "a=1&&b=2" and a trailing "&" leave empty segments. */
		if (seg_len == 0)
			continue;
		if (form_segment_decode(body + pos, seg_len, &param) == -1)
			goto out;
		g_array_append_val(params, param);
	}
	rc = 0;
out:
	out->n_params = params->len;
	out->params = (struct http_param *)g_array_free(params, FALSE);
	if (rc == -1)
		http_form_fini(out);
	return rc;
}

void
http_form_fini(struct http_form *form)
{
	size_t	i;

	for (i = 0; i < form->n_params; i++) {
		g_free(form->params[i].name);
		g_free(form->params[i].value);
	}
	g_free(form->params);
	form->params = NULL;
	form->n_params = 0;
}

const char *
http_form_get(const struct http_form *form, const char *name)
{
	size_t	i;

	for (i = 0; i < form->n_params; i++) {
		if (strcmp(form->params[i].name, name) == 0)
			return form->params[i].value;
	}
	return NULL;
}
