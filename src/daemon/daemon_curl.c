/* SPDX-License-Identifier: ISC */
/*
 * libcurl's multi interface driven by the GLib main loop: curl tells which
 * sockets to watch and when to wake up, the loop calls back into curl, and
 * finished transfers are handed to their owner.  Nothing here blocks.
 */
#include <string.h>

#include <curl/curl.h>
#include <glib-unix.h>

#include "daemon.h"
#include "log.h"

#define CURL_BODY_MAX	(1024 * 1024)	/* bytes of a provider answer kept */
#define CURL_CONNECT_TIMEOUT_MS	5000

struct daemon_curl {
	CURLM		*multi;
	guint		 timer;
	GHashTable	*watches;	/* fd -> GLib source id */
	GHashTable	*jobs;		/* struct curl_job * in flight */
	unsigned	 in_flight;
};

struct curl_job {
	struct daemon_curl	*curl;
	CURL			*easy;
	GString			*body;
	struct curl_slist	*headers;	/* or NULL */
	daemon_curl_done_fn	 done;
	void			*ctx;
	char			 error[CURL_ERROR_SIZE];
};

static void	curl_check_done(struct daemon_curl *curl);

static gboolean
curl_on_socket(int fd, GIOCondition cond, gpointer data)
{
	struct daemon_curl	*curl = data;
	int			 mask = 0, running;

	if (cond & G_IO_IN)
		mask |= CURL_CSELECT_IN;
	if (cond & G_IO_OUT)
		mask |= CURL_CSELECT_OUT;
	if (cond & (G_IO_ERR | G_IO_HUP))
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(curl->multi, fd, mask, &running);
	curl_check_done(curl);
	/* curl removes the watch through curl_on_socket_change if needed. */
	return G_SOURCE_CONTINUE;
}

static int
curl_on_socket_change(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct daemon_curl	*curl = userp;
	GIOCondition		 cond = 0;
	gpointer		 old;
	guint			 id;

	(void)easy;
	(void)socketp;
	old = g_hash_table_lookup(curl->watches, GINT_TO_POINTER(fd));
	if (old != NULL) {
		g_source_remove(GPOINTER_TO_UINT(old));
		g_hash_table_remove(curl->watches, GINT_TO_POINTER(fd));
	}
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		cond |= G_IO_IN;
	if (what & CURL_POLL_OUT)
		cond |= G_IO_OUT;
	id = daemon_fd_watch(fd, cond | G_IO_ERR | G_IO_HUP, curl_on_socket,
	    curl);
	g_hash_table_insert(curl->watches, GINT_TO_POINTER(fd),
	    GUINT_TO_POINTER(id));
	return 0;
}

static gboolean
curl_on_timer(gpointer data)
{
	struct daemon_curl	*curl = data;
	int			 running;

	curl->timer = 0;
	curl_multi_socket_action(curl->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	curl_check_done(curl);
	return G_SOURCE_REMOVE;
}

static int
curl_on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct daemon_curl	*curl = userp;

	(void)multi;
	if (curl->timer != 0) {
		g_source_remove(curl->timer);
		curl->timer = 0;
	}
	if (timeout_ms >= 0)
		curl->timer = g_timeout_add((guint)timeout_ms, curl_on_timer,
		    curl);
	return 0;
}

static size_t
curl_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct curl_job	*job = userp;
	size_t		 len = size * nmemb;

	/* Past the cap the rest is dropped: the answer is read leniently. */
	if (job->body->len + len <= CURL_BODY_MAX)
		g_string_append_len(job->body, data, (gssize)len);
	return len;
}

static void
curl_job_free(gpointer data)
{
	struct curl_job	*job = data;

	curl_easy_cleanup(job->easy);
	curl_slist_free_all(job->headers);
	g_string_free(job->body, TRUE);
	g_free(job);
}

static void
curl_job_finish(struct curl_job *job, CURLcode code)
{
	struct curl_header	*header = NULL;
	const char		*retry_after = NULL;
	long			 status = 0;

	if (code == CURLE_OK) {
		curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
		if (curl_easy_header(job->easy, "Retry-After", 0,
		    CURLH_HEADER, -1, &header) == CURLHE_OK)
			retry_after = header->value;
	} else if (job->error[0] == '\0') {
		g_strlcpy(job->error, curl_easy_strerror(code),
		    sizeof(job->error));
	}
	job->done(job->ctx, status, job->body->str, job->body->len,
	    retry_after, code == CURLE_OK ? NULL : job->error);
	curl_job_free(job);
}

static void
curl_check_done(struct daemon_curl *curl)
{
	struct curl_job	*job;
	CURLMsg		*msg;
	int		 left;

	while ((msg = curl_multi_info_read(curl->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &job);
		curl_multi_remove_handle(curl->multi, msg->easy_handle);
		g_hash_table_remove(curl->jobs, job);
		curl->in_flight--;
		curl_job_finish(job, msg->data.result);
	}
}

struct daemon_curl *
daemon_curl_new(void)
{
	struct daemon_curl	*curl;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl: global init failed");
	curl = g_new0(struct daemon_curl, 1);
	curl->multi = curl_multi_init();
	if (curl->multi == NULL)
		fatalx("curl: multi init failed");
	curl->watches = g_hash_table_new(g_direct_hash, g_direct_equal);
	curl->jobs = g_hash_table_new(g_direct_hash, g_direct_equal);
	curl_multi_setopt(curl->multi, CURLMOPT_SOCKETFUNCTION,
	    curl_on_socket_change);
	curl_multi_setopt(curl->multi, CURLMOPT_SOCKETDATA, curl);
	curl_multi_setopt(curl->multi, CURLMOPT_TIMERFUNCTION,
	    curl_on_timer_change);
	curl_multi_setopt(curl->multi, CURLMOPT_TIMERDATA, curl);
	return curl;
}

void
daemon_curl_free(struct daemon_curl *curl)
{
	GHashTableIter	 iter;
	gpointer	 key, value;

	if (curl == NULL)
		return;
	/* Requests still in flight are abandoned, their owners never called
	 * back: their pages stay "sending" and are marked "unknown" at the
	 * next start. */
	g_hash_table_iter_init(&iter, curl->jobs);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		curl_multi_remove_handle(curl->multi,
		    ((struct curl_job *)key)->easy);
		curl_job_free(key);
	}
	g_hash_table_destroy(curl->jobs);
	/* Cleaning up closes cached connections, which calls back into
	 * curl_on_socket_change: the watch table must still exist. */
	curl_multi_cleanup(curl->multi);
	g_hash_table_iter_init(&iter, curl->watches);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_source_remove(GPOINTER_TO_UINT(value));
	g_hash_table_destroy(curl->watches);
	if (curl->timer != 0)
		g_source_remove(curl->timer);
	g_free(curl);
}

unsigned
daemon_curl_in_flight(const struct daemon_curl *curl)
{
	return curl->in_flight;
}

/* Sets up a POST of body to url; the caller adds its authentication and
 * starts it with curl_start. */
static struct curl_job *
curl_job_new(struct daemon_curl *curl, const char *url, const char *body,
    int64_t timeout_ms, daemon_curl_done_fn done, void *ctx)
{
	struct curl_job	*job;
	CURL		*easy;

	easy = curl_easy_init();
	if (easy == NULL)
		fatalx("curl: easy init failed");
	job = g_new0(struct curl_job, 1);
	job->curl = curl;
	job->easy = easy;
	job->body = g_string_new(NULL);
	job->done = done;
	job->ctx = ctx;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)MIN(timeout_ms, CURL_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "critgate/" CRITGATE_VERSION);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, job->error);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, curl_on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
	return job;
}

static void
curl_start(struct daemon_curl *curl, struct curl_job *job)
{
	curl->in_flight++;
	g_hash_table_add(curl->jobs, job);
	curl_multi_add_handle(curl->multi, job->easy);
}

void
daemon_curl_post(struct daemon_curl *curl, const char *url, const char *body,
    const char *user, const char *password, int64_t timeout_ms,
    daemon_curl_done_fn done, void *ctx)
{
	struct curl_job	*job;

	job = curl_job_new(curl, url, body, timeout_ms, done, ctx);
	curl_easy_setopt(job->easy, CURLOPT_USERNAME, user);
	curl_easy_setopt(job->easy, CURLOPT_PASSWORD, password);
	curl_easy_setopt(job->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_start(curl, job);
}

void
daemon_curl_request(struct daemon_curl *curl,
    const struct notify_request *req, int64_t timeout_ms,
    daemon_curl_done_fn done, void *ctx)
{
	struct curl_job	*job;
	char		*line;

	job = curl_job_new(curl, req->url, req->body, timeout_ms, done, ctx);
	if (req->content_type != NULL) {
		line = g_strconcat("Content-Type: ", req->content_type, NULL);
		job->headers = curl_slist_append(job->headers, line);
		g_free(line);
	}
	if (req->authorization != NULL) {
		line = g_strconcat("Authorization: ", req->authorization,
		    NULL);
		job->headers = curl_slist_append(job->headers, line);
		g_free(line);
	}
	if (job->headers != NULL)
		curl_easy_setopt(job->easy, CURLOPT_HTTPHEADER, job->headers);
	curl_start(curl, job);
}
