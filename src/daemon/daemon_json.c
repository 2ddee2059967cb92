/* SPDX-License-Identifier: ISC */
/*
 * JSON output of the subcommands, with json-glib: members that may be
 * missing come out as null, times as RFC 3339 UTC.  Also the shorter time
 * that text for people shows.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "daemon.h"

void
daemon_json_time(JsonBuilder *b, const char *name, int64_t ms)
{
	char	buf[CLOCK_RFC3339_LEN];

	json_builder_set_member_name(b, name);
	if (ms == 0)
		json_builder_add_null_value(b);
	else
		json_builder_add_string_value(b, clock_format(ms, buf));
}

void
daemon_json_string(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value == NULL)
		json_builder_add_null_value(b);
	else
		json_builder_add_string_value(b, value);
}

void
daemon_json_strings(JsonBuilder *b, const char *name, GPtrArray *values)
{
	guint	i;

	json_builder_set_member_name(b, name);
	json_builder_begin_array(b);
	for (i = 0; values != NULL && i < values->len; i++)
		json_builder_add_string_value(b, values->pdata[i]);
	json_builder_end_array(b);
}

void
daemon_json_int(JsonBuilder *b, const char *name, int64_t value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

void
daemon_json_bool(JsonBuilder *b, const char *name, bool value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_boolean_value(b, value);
}

void
daemon_json_print(JsonBuilder *b)
{
	JsonGenerator	*gen = json_generator_new();
	JsonNode	*root = json_builder_get_root(b);
	char		*text;

	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
	g_free(text);
	json_node_unref(root);
	g_object_unref(gen);
	g_object_unref(b);
}

void
daemon_json_array_begin(void)
{
	fputs("[", stdout);
}

void
daemon_json_array_add(JsonBuilder *b, int64_t count)
{
	JsonGenerator	*gen = json_generator_new();
	JsonNode	*root = json_builder_get_root(b);
	char		*text, *line, *next;

	json_generator_set_root(gen, root);
	json_generator_set_pretty(gen, TRUE);
	text = json_generator_to_data(gen, NULL);
	/* Indented one level, as inside the array. */
	fputs(count == 0 ? "\n" : ",\n", stdout);
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		printf("  %s%s", line, next != NULL ? "\n" : "");
	}
	g_free(text);
	json_node_unref(root);
	g_object_unref(gen);
	g_object_unref(b);
}

void
daemon_json_array_end(int64_t count)
{
	fputs(count == 0 ? "]\n" : "\n]\n", stdout);
}

char *
daemon_minute_text(int64_t ms)
{
	GDateTime	*dt = g_date_time_new_from_unix_utc(ms / 1000);
	char		*text;

	if (dt == NULL)
		return g_strdup("unknown");
	text = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
	g_date_time_unref(dt);
	return text;
}
