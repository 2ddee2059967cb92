/* SPDX-License-Identifier: ISC */
/*
 * Building blocks that critgate's figures are compared with: one SQLite
 * commit in WAL mode with synchronous=FULL, one libcurl POST over loopback,
 * and a message parse by critgate's parse stage against a bare GMime parse.
 * Each subcommand prints one JSON object with per-operation figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <gmime/gmime.h>
#include <sqlite3.h>

#include "parse.h"

static double
clock_seconds(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
compare_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Prints p50, p99, max and CPU seconds per operation as JSON. */
static void
print_latencies(const char *name, double *lat, int n, double cpu_s)
{
	qsort(lat, (size_t)n, sizeof(*lat), compare_double);
	printf("{\"block\": \"%s\", \"count\": %d, \"p50_s\": %.9f, "
	    "\"p99_s\": %.9f, \"max_s\": %.9f, \"cpu_s_per_op\": %.9f}\n",
	    name, n, lat[n / 2], lat[(n * 99) / 100], lat[n - 1],
	    cpu_s / n);
}

static int
block_sqlite(const char *path, int n)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*stmt = NULL;
	char		 blob[1024];
	double		*lat, t0, cpu0;
	int		 i, rc = -1;

	lat = calloc((size_t)n, sizeof(*lat));
	memset(blob, 'x', sizeof(blob));
	if (lat == NULL || sqlite3_open(path, &db) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous="
	    "FULL; CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, "
	    "raw BLOB NOT NULL);", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT INTO t (raw) VALUES (?)", -1,
	    &stmt, NULL) != SQLITE_OK)
		goto out;
	cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n; i++) {
		t0 = clock_seconds(CLOCK_MONOTONIC);
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		sqlite3_bind_blob(stmt, 1, blob, sizeof(blob), SQLITE_STATIC);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			goto out;
		sqlite3_reset(stmt);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto out;
		lat[i] = clock_seconds(CLOCK_MONOTONIC) - t0;
	}
	print_latencies("sqlite_commit",  lat, n,
	    clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
	rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "blocks: sqlite failed: %s\n",
		    db ? sqlite3_errmsg(db) : "open");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(lat);
	return rc;
}

static size_t
discard_body(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

/* One new easy handle per POST, as a page request is sent. */
static int
block_post(const char *url, const char *userpwd, int n)
{
	CURL		*easy;
	CURLcode	 code;
	double		*lat, t0, cpu0;
	int		 i;

	lat = calloc((size_t)n, sizeof(*lat));
	if (lat == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n; i++) {
		t0 = clock_seconds(CLOCK_MONOTONIC);
		easy = curl_easy_init();
		curl_easy_setopt(easy, CURLOPT_URL, url);
		curl_easy_setopt(easy, CURLOPT_USERPWD, userpwd);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "To=%2B15550100011&"
		    "From=%2B15550100000&Body=bench+block");
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
		code = curl_easy_perform(easy);
		curl_easy_cleanup(easy);
		if (code != CURLE_OK) {
			fprintf(stderr, "blocks: POST %s failed: %s\n", url,
			    curl_easy_strerror(code));
			free(lat);
			return -1;
		}
		lat[i] = clock_seconds(CLOCK_MONOTONIC) - t0;
	}
	print_latencies("curl_post", lat, n,
	    clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
	free(lat);
	curl_global_cleanup();
	return 0;
}

/* A bare GMime parse: construct the message and read the headers that
 * critgate reads, without decoding or classification. */
static void
parse_bare(const char *raw, size_t len)
{
	GMimeStream	*stream;
	GMimeParser	*parser;
	GMimeMessage	*message;

	stream = g_mime_stream_mem_new_with_buffer(raw, len);
	parser = g_mime_parser_new_with_stream(stream);
	message = g_mime_parser_construct_message(parser, NULL);
	if (message != NULL) {
		(void)g_mime_message_get_subject(message);
		(void)g_mime_message_get_message_id(message);
		g_object_unref(message);
	}
	g_object_unref(parser);
	g_object_unref(stream);
}

static void
parse_critgate(const char *raw, size_t len)
{
	struct parse_result	result;

	memset(&result, 0, sizeof(result));
	parse_message((const uint8_t *)raw, len, &result);
	parse_result_fini(&result);
}

static double
parse_cpu_per_message(void (*fn)(const char *, size_t), const char *raw,
    size_t len, int n)
{
	double	cpu0;
	int	i;

	fn(raw, len);
	cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n; i++)
		fn(raw, len);
	return (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / n;
}

static int
block_parse(const char *path, int n)
{
	gchar	*raw = NULL;
	gsize	 len = 0;
	double	 bare, ours;

	if (!g_file_get_contents(path, &raw, &len, NULL)) {
		fprintf(stderr, "blocks: cannot read %s\n", path);
		return -1;
	}
	parse_init();
	bare = parse_cpu_per_message(parse_bare, raw, len, n);
	ours = parse_cpu_per_message(parse_critgate, raw, len, n);
	printf("{\"block\": \"parse\", \"bytes\": %zu, \"count\": %d, "
	    "\"gmime_cpu_s\": %.9f, \"critgate_cpu_s\": %.9f}\n", (size_t)len,
	    n, bare, ours);
	g_free(raw);
	return 0;
}

int
main(int argc, char **argv)
{
	int	rc = -1;

	if (argc == 4 && strcmp(argv[1], "sqlite") == 0)
		rc = block_sqlite(argv[2], atoi(argv[3]));
	else if (argc == 5 && strcmp(argv[1], "post") == 0)
		rc = block_post(argv[2], argv[3], atoi(argv[4]));
	else if (argc == 4 && strcmp(argv[1], "parse") == 0)
		rc = block_parse(argv[2], atoi(argv[3]));
	else
		fprintf(stderr, "usage: blocks sqlite DB COUNT | post URL "
		    "USER:PASSWORD COUNT | parse FILE COUNT\n");
	return rc == 0 ? 0 : 1;
}
