/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the mailout stage's files: the loaded templates and
 * the rendering that mailout_compose applies to them.
 */
#ifndef CRITGATE_MAILOUT_PRIV_H
#define CRITGATE_MAILOUT_PRIV_H

#include <stdbool.h>

#include "mailout.h"

/* One kind's template, checked at load: every placeholder is known. */
struct mailout_template {
	char	*subject;	/* after "Subject:", trimmed */
	char	*body;		/* LF line endings, ends in LF */
};

struct mailout_templates {
	struct mailout_template	kinds[MAILOUT_KIND_COUNT];
};

/*
 * Tells whether name (len bytes, not terminated) is one of the placeholder
 * names the templates may use.
 */
bool	mailout_var_is_known(const char *name, size_t len);

/*
 * Appends value to out.  For a header (is_header), control characters
 * become spaces.  In a body, CRLF and CR become LF, other control
 * characters but tab become spaces, and line breaks at the end are dropped.
 */
void	mailout_value_append(GString *out, const char *value, bool is_header);

/*
 * Appends tmpl to out with every placeholder replaced by its value from
 * vars, each appended by mailout_value_append.  Returns 0, or -1 with
 * *error set (caller frees with g_free) when a placeholder has no value.
 */
int	mailout_template_render(const char *tmpl,
	    const struct mailout_var *vars, size_t n_vars, bool is_header,
	    GString *out, char **error);

#endif
