/* SPDX-License-Identifier: ISC */
/*
 * Group commit: one writer thread owns a store handle of its own and
 * commits every message waiting at that moment in one transaction.  A
 * flusher thread then flushes the store's log, which makes every batch
 * committed before the flush durable, and reports each result back to
 * the main loop.  Under load the writer commits the next batch while the
 * disk flushes the last one, so one flush covers many senders.  The
 * flushes run outside the write lock, so the main loop and the pass
 * commit meanwhile.  Neither thread touches loop-owned objects: jobs
 * carry copies, and results travel to the loop through daemon_loop_post.
 *
 * The main loop also queues flush requests here, for provider outcomes
 * that it committed without a flush and that no other flush made durable
 * meanwhile.
 *
 * The writer also runs the checkpoints, which copy the log into the
 * database, once it has committed a batch: SQLite would otherwise start
 * each one inside the commit that made the log long, before that commit's
 * senders hear their 250.  The next commit then starts the log over.
 */
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "smtp.h"

#define WRITER_BATCH_MAX	256	/* messages per transaction at most */
/*
 * How long a batch waits for messages that other sessions were still
 * sending when it began: a little latency buys one flush for many.
 */
#define WRITER_GATHER_US	1000
/*
 * How long provider outcomes wait for a flush that other work makes
 * anyway (a message's commit, the marks of a page) before asking for one
 * of their own.
 */
#define RECORD_FLUSH_MS		100

struct daemon_writer {
	GThread		*thread;
	GAsyncQueue	*queue;		/* struct writer_job * */
	struct store	*store;		/* used by the thread only */
	GMainContext	*context;	/* where results are delivered */
	uint64_t	 batches;	/* commits made, for the stop log */
	uint64_t	 messages;
	int		 checkpoint_mark; /* log pages that call for one */
	int		 log_pages;	/* after the last commit */
	uint64_t	 checkpoints;	/* run, for the stop log */
	uint64_t	 submitted;	/* jobs queued and flushes of the
					 * main loop, counted there */
	GMutex		 pass_lock;
	struct daemon_pass *pass;	/* woken after each commit of mail */

	GThread		*flusher;
	GAsyncQueue	*committed;	/* struct writer_batch *, to flush */
	struct store	*flush_store;	/* used by the flusher only */
	uint64_t	 flushes;	/* made, for the stop log */
};

struct writer_job {
	struct smtp_message	*msg;		/* NULL for a flush request */
	int64_t			 received_ms;
	unsigned		 busy_sessions;	/* sending at submit time,
						 * this one included */
	daemon_writer_done_fn	 done;
	void			*ctx;
	bool			 is_committed;
	int64_t			 msg_id;
};

/* Queued last: the thread commits what came before it, then ends. */
static struct writer_job	writer_stop_job;

/* The results of one transaction, delivered on the main loop. */
struct writer_batch {
	GPtrArray	*jobs;		/* struct writer_job * */
	bool		 is_committed;
};

/* Queued last for the flusher, once the writer has ended. */
static struct writer_batch	flusher_stop_batch;

static void
job_free(struct writer_job *job)
{
	smtp_message_free(job->msg);
	g_free(job);
}

static gboolean
writer_on_results(gpointer data)
{
	struct writer_batch	*batch = data;
	struct writer_job	*job;
	guint			 i;

	for (i = 0; i < batch->jobs->len; i++) {
		job = g_ptr_array_index(batch->jobs, i);
		if (job->done != NULL)
			job->done(job->ctx, job->is_committed, job->msg_id);
		job_free(job);
	}
	g_ptr_array_free(batch->jobs, TRUE);
	g_free(batch);
	return G_SOURCE_REMOVE;
}

/*
 * Runs a checkpoint each time the log grows by another
 * STORE_CHECKPOINT_PAGES.  While a reader keeps the log from starting
 * over, it stays long after a checkpoint, and running one after every
 * commit would flush the log and the database again each time.
 */
static void
writer_check_log(struct daemon_writer *w)
{
	int	pages = store_log_pages(w->store);

	if (pages < w->log_pages)	/* the log started over */
		w->checkpoint_mark = STORE_CHECKPOINT_PAGES;
	w->log_pages = pages;
	if (pages < w->checkpoint_mark)
		return;
	w->checkpoint_mark = pages + STORE_CHECKPOINT_PAGES;
	if (store_checkpoint(w->store) == 0)
		w->checkpoints++;
}

static void
writer_commit(struct daemon_writer *w, GPtrArray *jobs)
{
	struct store_batch_item	*items;
	struct writer_job	*job;
	struct writer_batch	*batch;
	guint			 i, n = 0;
	bool			 is_committed;

	items = g_new0(struct store_batch_item, jobs->len);
	for (i = 0; i < jobs->len; i++) {
		job = g_ptr_array_index(jobs, i);
		if (job->msg == NULL)
			continue;
		items[n].env.mail_from = job->msg->mail_from;
		items[n].env.rcpts =
		    (const char *const *)job->msg->rcpt_to->pdata;
		items[n].env.n_rcpts = job->msg->rcpt_to->len;
		items[n].env.peer = job->msg->peer;
		items[n].env.helo = job->msg->helo;
		items[n].env.received_ms = job->received_ms;
		items[n].raw = job->msg->data->data;
		items[n].len = job->msg->data->len;
		n++;
	}
	/*
	 * The pass reads the mail while the flusher flushes it.  The pages
	 * it opens leave only after a later flush, which also carries the
	 * mail to disk if this one fails.
	 */
	is_committed = n == 0 || store_messages_add_batch(w->store, items,
	    n) == 0;
	if (is_committed && n > 0) {
		g_mutex_lock(&w->pass_lock);
		daemon_pass_kick(w->pass);
		g_mutex_unlock(&w->pass_lock);
	}
	for (i = 0, n = 0; i < jobs->len; i++) {
		job = g_ptr_array_index(jobs, i);
		if (job->msg != NULL)
			job->msg_id = items[n++].msg_id;
	}
	g_free(items);
	w->batches++;
	w->messages += n;
	batch = g_new0(struct writer_batch, 1);
	batch->jobs = jobs;
	batch->is_committed = is_committed;
	g_async_queue_push(w->committed, batch);
	writer_check_log(w);
}

/*
 * Adds to jobs everything that queued up during the last commit, then
 * waits briefly for the messages other sessions were sending when these
 * were submitted.  Returns whether the stop job was seen.
 */
static bool
writer_gather(struct daemon_writer *w, GPtrArray *jobs)
{
	struct writer_job	*job;
	unsigned		 expected = 1;
	int64_t			 deadline_us = 0;

	while (jobs->len < WRITER_BATCH_MAX) {
		job = g_ptr_array_index(jobs, jobs->len - 1);
		expected = MAX(expected, job->busy_sessions);
		job = g_async_queue_try_pop(w->queue);
		if (job == NULL && jobs->len < expected) {
			if (deadline_us == 0)
				deadline_us = g_get_monotonic_time() +
				    WRITER_GATHER_US;
			if (g_get_monotonic_time() < deadline_us)
				job = g_async_queue_timeout_pop(w->queue,
				    deadline_us - g_get_monotonic_time());
		}
		if (job == NULL)
			return false;
		if (job == &writer_stop_job)
			return true;
		g_ptr_array_add(jobs, job);
	}
	return false;
}

static gpointer
writer_run(gpointer data)
{
	struct daemon_writer	*w = data;
	struct writer_job	*job;
	GPtrArray		*jobs;
	bool			 is_stopping = false;

	while (!is_stopping) {
		job = g_async_queue_pop(w->queue);
		if (job == &writer_stop_job)
			break;
		jobs = g_ptr_array_new();
		g_ptr_array_add(jobs, job);
		is_stopping = writer_gather(w, jobs);
		writer_commit(w, jobs);
	}
	return NULL;
}

/*
 * Flushes the log once for all the batches committed since the last
 * flush, then reports them.  A batch whose commit failed is reported as
 * failed whether or not the flush succeeds.
 */
static gpointer
flusher_run(gpointer data)
{
	struct daemon_writer	*w = data;
	struct writer_batch	*batch;
	struct writer_job	*job;
	GPtrArray		*batches = g_ptr_array_new();
	bool			 is_flushed, is_stopping = false;
	guint			 i, j;

	while (!is_stopping) {
		batch = g_async_queue_pop(w->committed);
		do {
			if (batch == &flusher_stop_batch)
				is_stopping = true;
			else
				g_ptr_array_add(batches, batch);
		} while ((batch = g_async_queue_try_pop(w->committed)) !=
		    NULL);
		if (batches->len == 0)
			continue;
		is_flushed = store_flush(w->flush_store) == 0;
		w->flushes++;
		for (i = 0; i < batches->len; i++) {
			batch = g_ptr_array_index(batches, i);
			for (j = 0; j < batch->jobs->len; j++) {
				job = g_ptr_array_index(batch->jobs, j);
				job->is_committed = batch->is_committed &&
				    is_flushed;
			}
			/* A batch the stopped loop never takes gets no
			 * reply, and its senders send again. */
			daemon_loop_post(w->context, G_PRIORITY_DEFAULT,
			    writer_on_results, batch);
		}
		g_ptr_array_set_size(batches, 0);
	}
	g_ptr_array_free(batches, TRUE);
	return NULL;
}

struct daemon_writer *
daemon_writer_start(const char *store_path)
{
	struct daemon_writer	*w;

	w = g_new0(struct daemon_writer, 1);
	w->store = store_open(store_path, true);
	w->flush_store = store_open(store_path, false);
	if (w->store == NULL || w->flush_store == NULL) {
		store_close(w->store);
		store_close(w->flush_store);
		g_free(w);
		return NULL;
	}
	store_checkpoint_later(w->store);
	store_flush_later(w->store);
	store_checkpoint_later(w->flush_store);
	w->checkpoint_mark = STORE_CHECKPOINT_PAGES;
	w->queue = g_async_queue_new();
	g_mutex_init(&w->pass_lock);
	w->context = g_main_context_ref(g_main_context_default());
	w->committed = g_async_queue_new();
	w->flusher = g_thread_new("critgate-flush", flusher_run, w);
	w->thread = g_thread_new("critgate-writer", writer_run, w);
	return w;
}

void
daemon_writer_set_pass(struct daemon_writer *w, struct daemon_pass *pass)
{
	g_mutex_lock(&w->pass_lock);
	w->pass = pass;
	g_mutex_unlock(&w->pass_lock);
}

void
daemon_writer_flushed(struct daemon_writer *w)
{
	if (w != NULL)
		w->submitted++;
}

void
daemon_writer_submit(struct daemon_writer *w, struct smtp_message *msg,
    int64_t received_ms, unsigned busy_sessions, daemon_writer_done_fn done,
    void *ctx)
{
	struct writer_job	*job = g_new0(struct writer_job, 1);

	job->msg = msg;
	job->received_ms = received_ms;
	job->busy_sessions = busy_sessions;
	job->done = done;
	job->ctx = ctx;
	w->submitted++;
	g_async_queue_push(w->queue, job);
}

/*
 * Queues a flush of the log, which makes every commit made before the call
 * durable, whichever handle made it.
 */
static void
writer_flush(struct daemon_writer *w)
{
	w->submitted++;
	g_async_queue_push(w->queue, g_new0(struct writer_job, 1));
}

bool
daemon_record_soon_begin(struct daemon *d)
{
	return d->writer != NULL && store_batch_begin_unflushed(d->store) == 0;
}

/*
 * Every job queued after the outcomes' commit ends in a flush of the log,
 * as does each flush the main loop makes itself.  Either makes the
 * outcomes durable, so they need no flush of their own.
 */
static gboolean
record_on_timeout(gpointer data)
{
	struct daemon	*d = data;

	d->record_source = 0;
	if (d->writer->submitted == d->record_mark)
		writer_flush(d->writer);
	return G_SOURCE_REMOVE;
}

void
daemon_record_soon_end(struct daemon *d, bool is_batch)
{
	if (!is_batch || store_batch_commit(d->store) == -1)
		return;
	d->record_mark = d->writer->submitted;
	if (d->record_source == 0)
		d->record_source = g_timeout_add(RECORD_FLUSH_MS,
		    record_on_timeout, d);
}

void
daemon_record_flush_now(struct daemon *d)
{
	if (d->record_source == 0)
		return;
	g_source_remove(d->record_source);
	record_on_timeout(d);
}

void
daemon_writer_stop(struct daemon_writer *w)
{
	if (w == NULL)
		return;
	/* The messages queued before the stop are committed and flushed
	 * first.  Their senders get no reply, as the loop has stopped, and
	 * send again. */
	g_async_queue_push(w->queue, &writer_stop_job);
	g_thread_join(w->thread);
	g_async_queue_push(w->committed, &flusher_stop_batch);
	g_thread_join(w->flusher);
	log_info("writer: stopped batches=%" G_GUINT64_FORMAT " messages=%"
	    G_GUINT64_FORMAT " flushes=%" G_GUINT64_FORMAT " checkpoints=%"
	    G_GUINT64_FORMAT, w->batches, w->messages, w->flushes,
	    w->checkpoints);
	g_async_queue_unref(w->queue);
	g_async_queue_unref(w->committed);
	g_mutex_clear(&w->pass_lock);
	g_main_context_unref(w->context);
	store_close(w->store);
	store_close(w->flush_store);
	g_free(w);
}
