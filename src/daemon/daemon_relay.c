/* SPDX-License-Identifier: ISC */
/*
 * SMTP transactions with the mail relay on worker threads.  libcurl waits
 * for the relay's reply to the end of the data in a blocking loop, so a
 * relay that stops replying would stall the main loop.  Here it stalls
 * one worker.  Before the message body goes out, the worker asks the main
 * loop to record that fact and waits for it, so that after a crash a mail
 * whose body never left can be sent again and one that did is not.
 */
#include <string.h>

#include <curl/curl.h>

#include "daemon.h"
#include "log.h"

#define RELAY_THREADS		4
#define RELAY_CONNECT_MS	5000
#define RELAY_REPLY_MAX		200	/* bytes of a relay reply kept */

enum relay_gate {
	RELAY_GATE_WAIT,	/* the body waits for the main loop */
	RELAY_GATE_OPEN,	/* recorded: the body may go */
	RELAY_GATE_SHUT,	/* stopping, or the record failed */
};

struct daemon_relay {
	GThreadPool	*pool;
	GMutex		 lock;
	GCond		 cond;
	GHashTable	*jobs;		/* every job not yet finished */
	gint		 is_stopping;	/* atomic */
};

struct relay_job {
	struct daemon_relay	*relay;
	struct daemon_curl_mail	 mail;		/* strings owned */
	daemon_relay_data_fn	 on_data;
	daemon_relay_done_fn	 on_done;
	void			*ctx;
	size_t			 upload_pos;
	bool			 is_asked;	/* the main loop was asked */
	enum relay_gate		 gate;		/* under relay->lock */
	guint			 data_source;	/* under relay->lock */
	guint			 done_source;	/* under relay->lock */
	struct daemon_relay_result result;
	char			 error[CURL_ERROR_SIZE];
};

static void
relay_job_free(struct relay_job *job)
{
	g_free((char *)job->mail.relay);
	g_free((char *)job->mail.helo);
	g_free((char *)job->mail.mail_from);
	g_free((char *)job->mail.rcpt);
	g_free((char *)job->mail.user);
	if (job->mail.password != NULL)
		explicit_bzero((char *)job->mail.password,
		    strlen(job->mail.password));
	g_free((char *)job->mail.password);
	g_bytes_unref(job->mail.data);
	g_free(job->result.reply);
	g_free(job);
}

/* On the main loop: records that the body is about to go. */
static gboolean
relay_on_data(gpointer data)
{
	struct relay_job	*job = data;
	struct daemon_relay	*relay = job->relay;
	bool			 is_recorded;

	is_recorded = job->on_data(job->ctx) == 0;
	g_mutex_lock(&relay->lock);
	job->data_source = 0;
	job->gate = is_recorded ? RELAY_GATE_OPEN : RELAY_GATE_SHUT;
	g_cond_broadcast(&relay->cond);
	g_mutex_unlock(&relay->lock);
	return G_SOURCE_REMOVE;
}

/* On the main loop: hands the result over and frees the job. */
static gboolean
relay_on_done(gpointer data)
{
	struct relay_job	*job = data;
	struct daemon_relay	*relay = job->relay;

	g_mutex_lock(&relay->lock);
	job->done_source = 0;
	g_hash_table_remove(relay->jobs, job);
	g_mutex_unlock(&relay->lock);
	job->on_done(job->ctx, &job->result);
	relay_job_free(job);
	return G_SOURCE_REMOVE;
}

/* Waits at the first read for the main loop's record of the body. */
static size_t
relay_on_upload(char *buf, size_t size, size_t nitems, void *userp)
{
	struct relay_job	*job = userp;
	struct daemon_relay	*relay = job->relay;
	const char		*bytes;
	gsize			 len;
	size_t			 n;

	g_mutex_lock(&relay->lock);
	if (!job->is_asked) {
		job->is_asked = true;
		if (!g_atomic_int_get(&relay->is_stopping))
			job->data_source = g_idle_add(relay_on_data, job);
		else
			job->gate = RELAY_GATE_SHUT;
	}
	while (job->gate == RELAY_GATE_WAIT)
		g_cond_wait(&relay->cond, &relay->lock);
	g_mutex_unlock(&relay->lock);
	/* Not one byte of the body left when the gate stayed shut. */
	if (job->gate == RELAY_GATE_SHUT)
		return CURL_READFUNC_ABORT;
	job->result.reached_data = true;
	bytes = g_bytes_get_data(job->mail.data, &len);
	n = MIN(size * nitems, len - job->upload_pos);
	memcpy(buf, bytes + job->upload_pos, n);
	job->upload_pos += n;
	return n;
}

/* Keeps the relay's last reply line, which libcurl does not report. */
static int
relay_on_debug(CURL *easy, curl_infotype type, char *data, size_t size,
    void *userp)
{
	struct relay_job	*job = userp;
	size_t			 len = size;

	(void)easy;
	if (type != CURLINFO_HEADER_IN || size < 3)
		return 0;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	g_free(job->result.reply);
	job->result.reply = g_strndup(data, MIN(len, RELAY_REPLY_MAX));
	job->result.code = g_ascii_isdigit(data[0]) ?
	    (int)g_ascii_strtoll(data, NULL, 10) : 0;
	return 0;
}

static int
relay_on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct relay_job	*job = userp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return g_atomic_int_get(&job->relay->is_stopping) ? 1 : 0;
}

static void
relay_setup(CURL *easy, struct relay_job *job, struct curl_slist *rcpts)
{
	const struct daemon_curl_mail	*m = &job->mail;
	char				*url, *from;

	/* The path of an SMTP URL is the name curl greets the relay with. */
	url = g_strconcat(m->relay, "/", m->helo, NULL);
	from = g_strconcat("<", m->mail_from, ">", NULL);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)m->timeout_ms);
	/* While libcurl waits for a reply, this limit replaces
	 * CURLOPT_TIMEOUT (CURLOPT_SERVER_RESPONSE_TIMEOUT(3)). */
	curl_easy_setopt(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT,
	    (long)MAX(1, m->timeout_ms / 1000));
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)MIN(m->timeout_ms, RELAY_CONNECT_MS));
	curl_easy_setopt(easy, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, rcpts);
	/* Credentials never cross the network in clear: with them, the
	 * relay must offer STARTTLS; without them, TLS is used when
	 * offered. */
	curl_easy_setopt(easy, CURLOPT_USE_SSL, m->user != NULL ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (m->user != NULL) {
		curl_easy_setopt(easy, CURLOPT_USERNAME, m->user);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, m->password);
	}
	curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)g_bytes_get_size(m->data));
	curl_easy_setopt(easy, CURLOPT_READFUNCTION, relay_on_upload);
	curl_easy_setopt(easy, CURLOPT_READDATA, job);
	curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, relay_on_debug);
	curl_easy_setopt(easy, CURLOPT_DEBUGDATA, job);
	curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, relay_on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, job);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, job->error);
	g_free(from);
	g_free(url);
}

/* On a worker: one whole SMTP transaction. */
static void
relay_run(gpointer data, gpointer user_data)
{
	struct relay_job	*job = data;
	struct daemon_relay	*relay = user_data;
	struct curl_slist	*rcpts;
	CURL			*easy = curl_easy_init();
	CURLcode		 code = CURLE_FAILED_INIT;

	rcpts = curl_slist_append(NULL, job->mail.rcpt);
	if (easy != NULL) {
		relay_setup(easy, job, rcpts);
		code = curl_easy_perform(easy);
		curl_easy_cleanup(easy);
	}
	curl_slist_free_all(rcpts);
	job->result.is_sent = code == CURLE_OK;
	if (code != CURLE_OK)
		job->result.error = job->error[0] != '\0' ? job->error :
		    curl_easy_strerror(code);
	g_mutex_lock(&relay->lock);
	job->done_source = g_idle_add(relay_on_done, job);
	g_mutex_unlock(&relay->lock);
}

struct daemon_relay *
daemon_relay_new(void)
{
	struct daemon_relay	*relay = g_new0(struct daemon_relay, 1);

	g_mutex_init(&relay->lock);
	g_cond_init(&relay->cond);
	relay->jobs = g_hash_table_new(g_direct_hash, g_direct_equal);
	relay->pool = g_thread_pool_new(relay_run, relay, RELAY_THREADS,
	    FALSE, NULL);
	return relay;
}

void
daemon_relay_send(struct daemon_relay *relay,
    const struct daemon_curl_mail *m, daemon_relay_data_fn on_data,
    daemon_relay_done_fn on_done, void *ctx)
{
	struct relay_job	*job = g_new0(struct relay_job, 1);

	job->relay = relay;
	job->mail = (struct daemon_curl_mail){ g_strdup(m->relay),
	    g_strdup(m->helo), g_strdup(m->mail_from), g_strdup(m->rcpt),
	    g_bytes_ref(m->data), g_strdup(m->user), g_strdup(m->password),
	    m->timeout_ms };
	job->on_data = on_data;
	job->on_done = on_done;
	job->ctx = ctx;
	job->gate = RELAY_GATE_WAIT;
	g_mutex_lock(&relay->lock);
	g_hash_table_add(relay->jobs, job);
	g_mutex_unlock(&relay->lock);
	g_thread_pool_push(relay->pool, job, NULL);
}

/*
 * Aborts the transactions in progress, waits for the workers, and hands
 * every result over, so that mail the relay took is recorded as sent.
 */
void
daemon_relay_free(struct daemon_relay *relay)
{
	GHashTableIter	 iter;
	gpointer	 key;
	GPtrArray	*left = g_ptr_array_new();
	guint		 i;

	if (relay == NULL)
		return;
	g_atomic_int_set(&relay->is_stopping, 1);
	g_mutex_lock(&relay->lock);
	g_hash_table_iter_init(&iter, relay->jobs);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		struct relay_job *job = key;

		if (job->data_source != 0)
			g_source_remove(job->data_source);
		job->data_source = 0;
		job->gate = RELAY_GATE_SHUT;
	}
	g_cond_broadcast(&relay->cond);
	g_mutex_unlock(&relay->lock);
	g_thread_pool_free(relay->pool, TRUE, TRUE);
	/* The workers are gone: only this thread touches the jobs now. */
	g_hash_table_iter_init(&iter, relay->jobs);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(left, key);
	for (i = 0; i < left->len; i++) {
		struct relay_job *job = g_ptr_array_index(left, i);

		if (job->done_source != 0) {
			g_source_remove(job->done_source);
			relay_on_done(job);
		} else {
			/* Never started: the mail stays queued. */
			g_hash_table_remove(relay->jobs, job);
			relay_job_free(job);
		}
	}
	g_ptr_array_free(left, TRUE);
	g_hash_table_destroy(relay->jobs);
	g_mutex_clear(&relay->lock);
	g_cond_clear(&relay->cond);
	g_free(relay);
}
