/* SPDX-License-Identifier: ISC */
/*
 * The store stage: every durable fact critgate keeps, in one SQLite file in
 * WAL mode with synchronous=FULL.  Messages (raw bytes and envelope),
 * incidents, pages and the events of each incident's timeline.  Every
 * function commits before it returns, so a reply that depends on it (SMTP
 * "250", a webhook's 200) is sent only after the fact is on disk.  The
 * functions block on the disk and are called from one thread per handle.
 * No SQLite type leaves this stage, so a second backend changes nothing above.
 */
#ifndef CRITGATE_STORE_H
#define CRITGATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "cfg.h"
#include "notify.h"
#include "parse.h"

struct store;

/* The envelope of one received message; all fields borrowed. */
struct store_envelope {
	const char		*mail_from;
	const char *const	*rcpts;
	size_t			 n_rcpts;
	const char		*peer;
	const char		*helo;
	int64_t			 received_ms;
};

/* A stored message waiting to be understood; owned, see store_message_fini. */
struct store_message {
	int64_t		 id;
	int64_t		 received_ms;
	char		*mail_from;
	char		*peer;		/* "host:port", "[v6]:port", "pipe", ... */
	char		*helo;		/* or NULL */
	GPtrArray	*rcpts;		/* char * */
	GBytes		*raw;
};

/* The decision about one message, recorded by store_message_process. */
struct store_disposition {
	const struct parse_result	*parsed;
	const char			*class_name;	/* "new-incident", ... */
	const char			*reason;	/* why, in words */
	bool				 opens_incident;
	enum cfg_severity		 severity;	/* of a new incident */
	int64_t				 ack_deadline_ms; /* absolute */
	int64_t				 incident_id;	/* joined, or 0 */
	int64_t				 duplicate_of;	/* message, or 0 */
	const char			*fingerprint;	/* or NULL */
	const char			*content_hash;	/* or NULL */
	const char			*sender;	/* lowercase address,
							 * or NULL */
	const char			*subject_key;	/* or NULL */
	bool				 is_repeat;	/* a repeat of the
							 * incident's alert */
	bool				 is_not_reporter; /* joined, but
							 * its sender hears
							 * nothing */
	int64_t				 now_ms;
};

/* The outcome of store_message_process. */
struct store_outcome {
	char		*class_name;	/* owned: release with
					 * store_outcome_fini */
	int64_t		 incident_id;	/* opened or joined, or 0 */
	int64_t		 duplicate_of;	/* message id, or 0 */
	bool		 is_new_incident;
};

struct store_incident {
	int64_t			 id;
	enum cfg_severity	 severity;
	char			*subject;
	char			*reporter;	/* sender's address, or NULL */
	int64_t			 message_id;	/* the first message */
	int64_t			 opened_ms;	/* when its mail was received */
	int64_t			 ack_deadline_ms;
	int64_t			 acked_ms;	/* 0 while unacknowledged */
	char			*acked_by;	/* member name, or NULL */
	char			*acked_channel;	/* "sms", "voice", "cli" */
	char			*ack_note;	/* or NULL */
	int64_t			 messages;	/* count, first included */
	int64_t			 repeats;	/* alert repeats joined */
	char			*latest_subject; /* of the latest repeat */
	int64_t			 resolved_ms;	/* 0 while unresolved */
	char			*resolved_by;	/* member name, or NULL */
	bool			 is_multi_paging; /* acknowledged, still paging
						  * under multi_ack */
	int64_t			 analysed_ms;	/* root cause found, or 0 */
	char			*analysed_by;	/* member name, or NULL */
	int64_t			 fix_due_ms;	/* set by the analysis, or 0 */
	int64_t			 fixed_ms;	/* fix deployed, or 0 */
	char			*fixed_by;	/* member name, or NULL */
};

/* Tells whether the incident still pages anyone. */
#define STORE_INCIDENT_PAGES(inc)					\
	((inc)->resolved_ms == 0 &&					\
	    ((inc)->acked_ms == 0 || (inc)->is_multi_paging))

enum store_page_state {
	STORE_PAGE_PENDING,	/* created, not yet handed to the provider */
	STORE_PAGE_SENDING,	/* a request is in flight */
	STORE_PAGE_SENT,	/* the provider accepted it */
	STORE_PAGE_FAILED,	/* no provider accepted it */
	STORE_PAGE_CANCELED,	/* not sent: the incident was acknowledged */
	STORE_PAGE_UNKNOWN,	/* in flight when the daemon stopped */
	STORE_PAGE_CAPPED,	/* not sent: the member's page limit was
				 * reached; the next round pages again */
	STORE_PAGE_STATE_COUNT
};

struct store_page {
	int64_t			 id;
	int64_t			 incident_id;
	int			 round;
	char			*member;
	enum notify_channel	 channel;
	char			*to;
	enum store_page_state	 state;
	int			 attempts;
	int64_t			 created_ms;
	int64_t			 sent_ms;	/* 0 until accepted */
	char			*sid;		/* provider's id, or NULL */
	char			*provider_status; /* last status callback */
	int64_t			 status_ms;
	char			*error;		/* last failure, or NULL */
	char			*provider;	/* phone provider it went to
						 * last, or NULL */
	int64_t			 resent_ms;	/* sent again after a stop,
						 * or 0 */
};

struct store_event {
	int64_t	 at_ms;
	int64_t	 page_id;	/* 0 when about the incident */
	char	*kind;
	char	*detail;
};

/*
 * Opens (creating when missing if is_create) the store at path and brings
 * its schema up to date.  Returns a new handle (caller frees with
 * store_close) or NULL, having logged why.
 */
struct store	*store_open(const char *path, bool is_create);
/*
 * Opens like store_open but leaves an older schema as it is, for a command
 * that must not upgrade the file under an older daemon still using it.
 */
struct store	*store_open_as_is(const char *path, bool is_create);
/* The schema version of the file, and the one this build writes. */
int64_t		 store_schema_version(const struct store *store);
int64_t		 store_schema_current(void);
/* Brings the schema up to date.  Returns 0, or -1 (logged). */
int		 store_upgrade(struct store *store);
/*
 * Names the file of the store that is no longer at its path, removed or
 * replaced since the handle opened it ("log file (-wal)"), or NULL.  A
 * restart would not find what is written into such a file.
 */
const char	*store_files_moved(struct store *store);
/*
 * Makes the files at the store's path safe to open again after
 * store_files_moved named one.  For the log file, writes the handle's own
 * log, which it still has open, back at the path, setting aside a file
 * found there.  For a database file removed, writes it and its
 * log back the same way.  For one replaced, copies what it can into the
 * file the handle has open, and sets aside the log at the path, which
 * belongs to that file.  Keeps the write lock it takes, as the caller ends
 * the process next.  Returns 0, or -1 (logged) when the files at the path
 * are not safe yet, for the caller to try again.
 */
int		 store_settle_moved(struct store *store);
void		 store_close(struct store *store);

/*
 * Commits a received message and its envelope durably.  Returns 0 with the
 * new id in *msg_id, or -1 (logged) when nothing was stored.
 */
int	store_message_add(struct store *store,
	    const struct store_envelope *env, const uint8_t *raw, size_t len,
	    int64_t *msg_id);

/*
 * Group the store calls between them into one transaction, so one disk
 * flush covers them all; calls inside commit nothing on their own.  A
 * failed call inside rolls back its own part only; a failed
 * store_batch_commit rolls back the whole batch.  Transactions of all
 * handles in a process take turns: one that a thread begins on another
 * handle inside this one waits for itself and fails after 5 s.  Return 0
 * or -1.
 */
int	store_batch_begin(struct store *store);
int	store_batch_commit(struct store *store);

/*
 * Begins a batch whose changes can be worked out again from what is
 * already durable, such as messages understood from their stored text:
 * its commit writes them without a disk flush of its own.  A crash of the
 * daemon loses none of it.  A power loss may lose it, together with every
 * later batch committed the same way, but not what was flushed after it.
 * store_flush flushes the log.  That makes everything committed so far on
 * any handle durable, as does a flushed commit on another handle.  One of
 * the two must come before anything outside the store acts on such a
 * batch.  Return 0 or -1.
 */
int	store_batch_begin_unflushed(struct store *store);
int	store_flush(struct store *store);
/*
 * Leaves the flush of every commit of this handle to store_flush, which
 * then runs without holding the write lock, so other handles commit while
 * the disk flushes.  Until it returns, each commit is as durable as an
 * unflushed batch.
 */
void	store_flush_later(struct store *store);

/*
 * A flushed commit that leaves at least this many pages in the log starts
 * a checkpoint, which copies the log into the database and flushes both,
 * unless store_checkpoint_later was called on the handle.
 */
#define STORE_CHECKPOINT_PAGES	1000
/* Leaves the checkpoints of this handle's commits to store_checkpoint. */
void	store_checkpoint_later(struct store *store);
/* Returns the pages in the log after this handle's last commit. */
int	store_log_pages(const struct store *store);
/*
 * Copies the log into the database, waiting a few milliseconds for other
 * handles' transactions to end, so that the next commit starts the log
 * over.  Past that wait it copies what it can without waiting, and the
 * log starts over at a later checkpoint.  Returns 0, also then, or -1,
 * logged.
 */
int	store_checkpoint(struct store *store);

/* One message of a group commit. */
struct store_batch_item {
	struct store_envelope	 env;
	const uint8_t		*raw;		/* borrowed */
	size_t			 len;
	int64_t			 msg_id;	/* set on success */
};

/*
 * Commits n messages in one transaction, so one disk flush covers them
 * all.  Returns 0 with every msg_id set, or -1 (logged) when none was
 * stored.
 */
int	store_messages_add_batch(struct store *store,
	    struct store_batch_item *items, size_t n);

/* One processed or waiting message, as "critgate messages" lists it;
 * the strings are borrowed. */
struct store_message_row {
	int64_t		 id;
	int64_t		 received_ms;
	const char	*mail_from;
	const char	*peer;
	const char	*from_addr;	/* or NULL */
	const char	*message_id;	/* NULL until processed, or if none */
	const char	*subject;	/* NULL until processed */
	const char	*class_name;	/* NULL until processed */
	const char	*reason;
	int64_t		 incident_id;	/* or 0 */
	int64_t		 duplicate_of;	/* or 0 */
	bool		 is_unparseable;
};

/*
 * Calls fn with each of the latest limit messages, oldest first, one row
 * at a time, so that a listing of a million keeps one row in memory.  The
 * row is valid during the call only.  Returns how many rows fn saw, or -1 on a
 * store failure (fn may have seen some).
 */
typedef void	(*store_message_row_fn)(const struct store_message_row *row,
		    void *ctx);
int64_t		 store_messages_each(struct store *store, int64_t limit,
		    store_message_row_fn fn, void *ctx);

/* Returns the ids (gint64 *, owned by the array) of messages not yet
 * processed, oldest first, or NULL on error. */
GArray	*store_messages_unprocessed(struct store *store);

/* The work a store holds for the daemon: what a restart takes over. */
struct store_backlog {
	int64_t	incidents_paging;	/* open, or under multi_ack */
	int64_t	messages_waiting;	/* not understood yet */
	int64_t	pages_pending;		/* not requested yet */
	int64_t	pages_in_flight;	/* no answer yet */
	int64_t	pages_capped;		/* held back, incident paging */
	int64_t	mail_queued;		/* not relayed yet */
};
/* Counts the store's backlog into out.  Returns 0, or -1 on failure. */
int	store_backlog_read(struct store *store, struct store_backlog *out);

/* Loads message id into out (release with store_message_fini). */
int	store_message_load(struct store *store, int64_t id,
	    struct store_message *out);
void	store_message_fini(struct store_message *msg);

/*
 * In one transaction: records what parsing found and how the message was
 * classified, opens a new incident or records the message on the incident
 * it joined (a timeline event), and remembers its Message-ID for threading.
 * Processing a message twice returns the first outcome again and changes
 * nothing.  Returns 0 or -1.
 */
int	store_message_process(struct store *store, int64_t msg_id,
	    const struct store_disposition *disp, struct store_outcome *out);
void	store_outcome_fini(struct store_outcome *out);

/*
 * Lookups for classification.  Each returns the id found, 0 when nothing
 * matches, or -1 on a store failure (logged).
 */
/* An earlier processed message with this Message-ID, other than msg_id. */
int64_t	store_find_message_by_message_id(struct store *store,
	    const char *message_id, int64_t msg_id);
/* An earlier processed message with this content hash, other than msg_id. */
int64_t	store_find_message_by_content_hash(struct store *store,
	    const char *hash, int64_t msg_id);
/* The incident a message joined or opened. */
int64_t	store_find_incident_of_message(struct store *store, int64_t msg_id);
/* The incident whose thread holds this Message-ID (a message it received,
 * or one critgate sent about it). */
int64_t	store_find_incident_by_thread_id(struct store *store,
	    const char *message_id);
/* The open incident with a message of this fingerprint received at or
 * after since_ms. */
int64_t	store_find_incident_by_fingerprint(struct store *store,
	    const char *fingerprint, int64_t since_ms);
/* The open incident with a message from sender (lowercase) received at
 * or after since_ms. */
int64_t	store_find_incident_by_sender(struct store *store,
	    const char *sender, int64_t since_ms);
/* The open incident opened at or after since_ms whose first message has
 * this subject key. */
int64_t	store_find_incident_by_subject_key(struct store *store,
	    const char *key, int64_t since_ms);
/* The latest incident of that severity (its name) opened at or after
 * since_ms, when it is not acknowledged. */
int64_t	store_find_incident_unacked_since(struct store *store,
	    const char *severity, int64_t since_ms);
/* Tells whether sender (lowercase) reported in incident id: a new
 * incident or update of its own, not one that joined as a stranger's or
 * an automatic reply.  1 or 0, -1 on failure. */
int	store_incident_has_sender(struct store *store, int64_t id,
	    const char *sender);
/* Tells whether incident id exists (0 or 1, -1 on failure) and, when it
 * does, whether it is unacknowledged. */
int	store_incident_exists(struct store *store, int64_t id, bool *is_open);

/* One part of a long SMS that arrives in parts; all borrowed. */
struct store_sms_part {
	const char	*sender;	/* the phone number it came from */
	const char	*ref;		/* names the parts of one SMS */
	int		 part;		/* 1 to total */
	int		 total;
	const char	*message_id;	/* the provider's, one per part */
	const char	*text;
};

/*
 * How long the parts of an SMS wait for the rest, which usually come
 * within seconds.  A phone numbers its long SMS with a reference that is
 * often a single byte, so a part kept for long could be joined to a later
 * SMS that reuses it.
 */
#define STORE_SMS_PART_KEEP_MS	(10 * 60 * 1000)

/*
 * Keeps a part.  Returns 1 when it was the last one missing, with the
 * SMS's whole text, joined in part order, in *joined (the caller frees it),
 * and the parts forgotten.  Returns 0 while parts are missing, 2 when the
 * part's message id was seen before (a webhook sent again, also after the
 * join), and -1 on a store failure.  A part whose place was taken under
 * another message id starts its SMS over.  Parts older than
 * STORE_SMS_PART_KEEP_MS are dropped.
 */
int	store_sms_part_add(struct store *store,
	    const struct store_sms_part *sp, int64_t now_ms, char **joined);

/*
 * Records that the webhook identified by key (a provider's message id) was
 * acted on.  Returns 0 the first time, 1 when key was seen before (a
 * replay, to be ignored), -1 on a store failure.
 */
int	store_webhook_seen(struct store *store, const char *key,
	    int64_t now_ms);

/*
 * Reads where the IMAP poller stopped in mailbox (a key such as
 * "user@host/INBOX"): both 0 when it never read it.  Returns 0 or -1.
 */
int	store_imap_state_get(struct store *store, const char *mailbox,
	    uint32_t *uidvalidity, uint32_t *last_uid);
/* Records it; commits.  Returns 0 or -1. */
int	store_imap_state_set(struct store *store, const char *mailbox,
	    uint32_t uidvalidity, uint32_t last_uid);

/* Remembers an id of ours (outbound mail) as part of an incident's thread. */
int	store_thread_add(struct store *store, const char *message_id,
	    int64_t incident_id);

/* Load incidents; each struct is released with store_incident_fini. */
int		 store_incident_get(struct store *store, int64_t id,
		    struct store_incident *out);	/* -1 if not found */
GPtrArray	*store_incidents_list(struct store *store, bool only_open);
/* How many of an incident's pages went out (sent, or in flight) and how
 * many the page limits held back. */
struct store_page_counts {
	int64_t	sent;
	int64_t	capped;
};
void		 store_page_counts_of(GPtrArray *pages,
		    struct store_page_counts *out);
/* Calls fn with each of the latest limit incidents, oldest first, and
 * their page counts, as store_messages_each does. */
typedef void	(*store_incident_fn)(const struct store_incident *inc,
		    const struct store_page_counts *pages, void *ctx);
int64_t		 store_incidents_each(struct store *store, int64_t limit,
		    store_incident_fn fn, void *ctx);
void		 store_incident_fini(struct store_incident *inc);
void		 store_incident_free(struct store_incident *inc);

/*
 * Records the first acknowledgement of incident id and cancels its pages
 * that were not sent.  Returns 1 when this call acknowledged it, 0 when it
 * was already acknowledged or does not exist, -1 on a store failure.
 */
int	store_incident_ack(struct store *store, int64_t id, const char *member,
	    const char *channel, const char *note, int64_t now_ms);

/*
 * Raises an open incident to a more severe level, when mail to a more
 * severe route joins it; its deadline moves earlier, never later.
 */
int	store_incident_raise(struct store *store, int64_t id,
	    enum cfg_severity severity, int64_t ack_deadline_ms,
	    int64_t now_ms);

/*
 * Creates the pages of one round (each member of team, voice and SMS)
 * unless that round already has pages.  Returns the number created, or -1.
 */
int	store_round_create(struct store *store, int64_t incident_id,
	    int round, const struct cfg *cfg, int64_t now_ms);

/* One page an escalation step asks for. */
struct store_page_want {
	const char		*member;
	const char		*phone;
	enum notify_channel	 channel;
};

/*
 * Records that round (an escalation step's firing; a breach's pages use
 * minus its percentage) fired, and creates its pages, each once.  Returns
 * the number of pages created, or -1.
 */
int	store_round_fire(struct store *store, int64_t incident_id, int round,
	    const struct store_page_want *wants, size_t n_wants,
	    const char *detail, int64_t now_ms);

/* Returns the last round fired for the incident, 0 if none. */
int	store_round_last(struct store *store, int64_t incident_id);

/* Records the breach at percent of the promise once; returns 1 when this
 * call recorded it, 0 when it was, -1 on failure. */
int	store_breach_add(struct store *store, int64_t incident_id,
	    int64_t percent, int64_t now_ms);
/* Returns the highest percentage breached so far for the incident, 0 if
 * none, -1 on failure. */
int64_t	store_breach_last(struct store *store, int64_t incident_id);

/* Returns pages (struct store_page *, owned) in state, oldest first. */
GPtrArray	*store_pages_in_state(struct store *store,
		    enum store_page_state state);
/* Returns the pages of one incident, oldest first. */
GPtrArray	*store_pages_of_incident(struct store *store,
		    int64_t incident_id);
int		 store_page_get(struct store *store, int64_t id,
		    struct store_page *out);
/* Finds the page with the provider id sid; -1 if none. */
int		 store_page_by_sid(struct store *store, const char *sid,
		    struct store_page *out);
/* Returns every page sent as sid (one request may carry several
 * incidents), oldest first, or NULL on error. */
GPtrArray	*store_pages_by_sid(struct store *store, const char *sid);
void		 store_page_fini(struct store_page *page);
void		 store_page_free(struct store_page *page);

/* Marks a page as in flight in request (the id of the request's first
 * page), and counts the attempt. */
int	store_page_sending(struct store *store, int64_t page_id,
	    int64_t request);

/* Move a page on; each records a timeline event and commits. */
int	store_page_sent(struct store *store, int64_t page_id, const char *sid,
	    int64_t now_ms);
/*
 * Records sid on a page that was in flight when the daemon stopped
 * (unknown, without a sid) and moves it to sent at now_ms, as a provider's
 * status named it.  Returns 1, 0 when the page is no such page, or -1.
 */
int	store_page_found_sent(struct store *store, int64_t page_id,
	    const char *sid, int64_t now_ms);
int	store_page_retry(struct store *store, int64_t page_id,
	    const char *error, int64_t now_ms);
int	store_page_failed(struct store *store, int64_t page_id,
	    const char *error, int64_t now_ms);

/* Records the phone provider ("twilio", "vonage") a page goes to. */
int	store_page_provider_set(struct store *store, int64_t page_id,
	    const char *provider);
/*
 * Puts a sent page back to pending for the next provider after its own
 * failed to deliver it, with a "failover" event whose detail is error.
 * The sid and provider status are cleared, as they belong to the failed
 * request and the next provider's statuses must not rank below them.
 */
int	store_page_requeue(struct store *store, int64_t page_id,
	    const char *error, int64_t now_ms);

/*
 * Counts the requests accepted for member on channel after since_ms, and
 * those in flight at a stop that a start after since_ms found, sent again
 * or not: pages sharing a sid were one request.  Requests about incidents
 * the member is done with (acknowledged) do not count.  Returns the
 * count, or -1 on failure.
 */
int64_t	store_page_requests_since(struct store *store, const char *member,
	    enum notify_channel channel, int64_t since_ms);

/* Marks a pending page canceled (not sent) with a "canceled" event whose
 * detail gives the reason; commits. */
int	store_page_canceled(struct store *store, int64_t page_id,
	    const char *detail, int64_t now_ms);
/* Sends a pending page to the number to instead of the one it was made
 * for, with an event whose detail gives the reason; commits. */
int	store_page_readdressed(struct store *store, int64_t page_id,
	    const char *to, const char *detail, int64_t now_ms);

/* Marks a pending page capped (not sent) with a "capped" event whose
 * detail names the limit; commits. */
int	store_page_capped(struct store *store, int64_t page_id,
	    const char *detail, int64_t now_ms);

/* Marks the pages left in flight by a stopped daemon unknown as of now_ms.
 * Returns their count. */
int	store_pages_orphaned(struct store *store, int64_t now_ms);

/*
 * Makes pending again each page that turned unknown by before_ms, at this
 * start or an earlier one, and that no status has named (it has no sid).
 * Only pages whose incident still pages their member, and whose member no
 * later round has paged on that channel, go again.  Records an event with
 * detail on each and commits.  Returns their count.
 */
int	store_pages_resend_unknown(struct store *store, int64_t before_ms,
	    const char *detail, int64_t now_ms);

/*
 * Records a provider status callback for every page with sid, unless a
 * page already has a later status (callbacks arrive out of order).  rank
 * orders statuses; *page_id receives the first page and *incident_id its
 * incident, both 0 when sid is unknown.  Returns 1 when a page recorded
 * the status, 0 when none did, -1 on failure.
 */
int	store_page_status(struct store *store, const char *sid,
	    const char *status, int rank, const char *error, int64_t now_ms,
	    int64_t *page_id, int64_t *incident_id);

/* Appends an event to an incident's timeline. */
int	store_event_add(struct store *store, int64_t incident_id,
	    int64_t page_id, const char *kind, const char *detail,
	    int64_t now_ms);
/*
 * Appends an event about the incident itself, unless the timeline has one
 * of the same kind and detail from the last window_ms.  Returns 1 when
 * added, 0 when not, -1 on failure.
 */
int	store_event_add_unless_recent(struct store *store,
	    int64_t incident_id, const char *kind, const char *detail,
	    int64_t now_ms, int64_t window_ms);
/*
 * Calls fn with each event after *last_id that a command (critgate ack,
 * resolve, analysed, fixed) recorded, and moves *last_id past every event
 * so far.  With *last_id at -1, only moves it.  Returns 0, or -1 on
 * failure.
 */
typedef void	(*store_command_event_fn)(int64_t incident_id,
		    const char *kind, const char *detail, void *ctx);
int	store_command_events(struct store *store, int64_t *last_id,
	    store_command_event_fn fn, void *ctx);
/* Returns the timeline (struct store_event *, owned) in time order. */
GPtrArray	*store_events_of_incident(struct store *store,
		    int64_t incident_id);

/*
 * Returns the open incidents with a page to member that was sent or is
 * being sent (struct store_incident *, owned), oldest first.
 */
GPtrArray	*store_incidents_paging_member(struct store *store,
		    const char *member);

const char	*store_page_state_name(enum store_page_state state);

/* One month of one severity in "critgate report". */
struct store_month {
	char			 month[8];	/* "2026-12" (UTC) */
	enum cfg_severity	 severity;
	int64_t			 count;
	int64_t			 met;	/* acknowledged by the deadline */
	int64_t			 running; /* unacknowledged, deadline still
					   * ahead at now_ms: not decided */
};
/* Returns the months, oldest first (struct store_month *, owned). */
GPtrArray	*store_report_months(struct store *store, int64_t now_ms);

/* One recorded breach of a response promise. */
struct store_breach {
	int64_t			 incident_id;
	enum cfg_severity	 severity;
	int64_t			 percent;
	int64_t			 at_ms;
};
/* Returns every breach in time order (struct store_breach *, owned). */
GPtrArray	*store_breaches_list(struct store *store);

/*
 * Multi-acknowledgement: under a multi_ack policy an acknowledged incident
 * keeps paging each member who has not acknowledged themselves.
 * store_member_ack_add returns 1 when it recorded member's first
 * acknowledgement, 0 when there was one, -1 on failure; it also cancels
 * that member's pages not yet sent.
 */
int	store_member_ack_add(struct store *store, int64_t incident_id,
	    const char *member, const char *channel, int64_t now_ms);
/* Returns 1 when member acknowledged the incident, 0 if not, -1. */
int	store_member_acked(struct store *store, int64_t incident_id,
	    const char *member);
/* Sets whether the acknowledged incident still pages; commits. */
int	store_multi_paging_set(struct store *store, int64_t incident_id,
	    bool is_paging);
/* Returns the incidents that page: unacknowledged, or acknowledged and
 * still paging under multi_ack, oldest first; NULL on failure. */
GPtrArray	*store_incidents_paging(struct store *store);

/* A fact about the running daemon ("pid"); set commits, get returns a
 * new string or NULL. */
int	 store_state_set(struct store *store, const char *key,
	    const char *value);
/* Like store_state_set, waiting only briefly for another's write lock:
 * for a note the main loop must not stall on. */
int	 store_state_set_quick(struct store *store, const char *key,
	    const char *value);
char	*store_state_get(struct store *store, const char *key);

/* One phone provider's health as the daemon saw it at updated_ms. */
struct store_provider_health {
	char	*name;
	int64_t	 requests;	/* sent to it since the daemon started */
	int64_t	 failures;
	int64_t	 consecutive;	/* failures since its last success */
	char	*circuit;	/* "closed", "open" or "half-open" */
	int64_t	 since_ms;	/* when the circuit took that state */
	int64_t	 updated_ms;
};

/* Replaces the stored health of h->name; commits.  0 or -1. */
int		 store_provider_health_put(struct store *store,
		    const struct store_provider_health *h);
/* Returns every stored health (struct store_provider_health *, owned)
 * by name, or NULL on failure. */
GPtrArray	*store_provider_health_list(struct store *store);
void		 store_provider_health_free(struct store_provider_health *h);

/*
 * Records that incident id was resolved, acknowledging it first when it
 * was not (which stops its paging).  Returns 1 when this call resolved it,
 * 0 when it was already resolved or does not exist, -1 on failure.
 */
int	store_incident_resolve(struct store *store, int64_t id,
	    const char *member, const char *channel, int64_t now_ms);

/*
 * Record that member found the root cause of incident id, and the date
 * by which its fix is then due, or that member deployed the fix.  Each is
 * recorded once.  They return 1 when this call recorded it, 0 when it was
 * recorded before or the incident does not exist, -1 on failure.
 */
int	store_incident_analysed(struct store *store, int64_t id,
	    const char *member, int64_t fix_due_ms, int64_t now_ms);
int	store_incident_fixed(struct store *store, int64_t id,
	    const char *member, int64_t now_ms);
/*
 * Marks the fixes that fell overdue by now_ms, each once, with a
 * "fix-overdue" event, and calls each (unless NULL) for every one inside
 * the transaction that marks it.  What each records, such as mail to
 * queue, thus commits with the mark or not at all: when each returns -1,
 * that incident is left unmarked and a later call tries it again.
 * Returns the marked incidents' ids (int64_t; caller frees), or NULL on
 * failure.
 */
typedef int	(*store_overdue_fn)(void *ctx, int64_t incident_id);
GArray	*store_fixes_overdue_mark(struct store *store, int64_t now_ms,
	    store_overdue_fn each, void *ctx);

/*
 * The outbox: every mail critgate sends, committed with its exact bytes
 * before it goes to the relay, so that a restart neither loses it nor
 * sends it twice.
 */
enum store_mail_state {
	STORE_MAIL_PENDING,	/* waiting for its next attempt */
	STORE_MAIL_SENDING,	/* handed to the relay */
	STORE_MAIL_SENT,	/* the relay accepted it */
	STORE_MAIL_FAILED,	/* the relay refused it for good */
	STORE_MAIL_UNKNOWN,	/* the relay got the body, and then no
				 * final reply came */
	STORE_MAIL_STATE_COUNT
};

/* A mail to queue; all fields borrowed. */
struct store_mail_new {
	int64_t		 id;		/* from store_mail_next_id */
	int64_t		 incident_id;
	const char	*kind;		/* "page", "confirmation", ... */
	const char	*member;	/* page mail: the member, else NULL */
	const char	*rcpt;		/* envelope recipient, lowercase */
	const char	*message_id;	/* without <> */
	const void	*raw;
	size_t		 raw_len;
};

struct store_mail {
	int64_t			 id;
	int64_t			 incident_id;
	char			*kind;
	char			*member;
	char			*rcpt;
	char			*message_id;
	GBytes			*raw;	/* NULL in listings */
	enum store_mail_state	 state;
	int			 attempts;
	int64_t			 created_ms;
	int64_t			 next_ms;
	int64_t			 sent_ms;
	char			*reply;	/* the relay's last answer, or NULL */
};

/* Returns the id the next queued mail gets (its token needs it first). */
int64_t	store_mail_next_id(struct store *store);
/* Queues a mail due at once, with a timeline event; its Message-ID
 * threads replies to the incident. */
int	store_mail_add(struct store *store, const struct store_mail_new *m,
	    int64_t now_ms);
/* Returns the ids of pending mail due at now_ms, oldest first, or NULL. */
GArray	*store_mail_due(struct store *store, int64_t now_ms);
/* Returns the time the next pending mail is due, or 0 when none is. */
int64_t	store_mail_next_due(struct store *store);
int	store_mail_get(struct store *store, int64_t id, struct store_mail *out);
/* Returns the outbox of one incident (struct store_mail *, owned, without
 * raw), oldest first. */
GPtrArray	*store_mails_of_incident(struct store *store,
		    int64_t incident_id);
void	store_mail_fini(struct store_mail *mail);
void	store_mail_free(struct store_mail *mail);

/* Move a mail on; each records a timeline event. */
int	store_mail_sending(struct store *store, int64_t id);
int	store_mail_sent(struct store *store, int64_t id, const char *reply,
	    int64_t now_ms);
int	store_mail_retry(struct store *store, int64_t id, const char *reply,
	    int64_t next_ms, int64_t now_ms);
int	store_mail_failed(struct store *store, int64_t id, const char *reply,
	    int64_t now_ms);
/* Records that the body of mail id is about to go to the relay. */
int	store_mail_reached_data(struct store *store, int64_t id);
/* The relay got the body but gave no final reply. */
int	store_mail_unknown(struct store *store, int64_t id, const char *reply,
	    int64_t now_ms);
/*
 * After a stop: mail whose body never went to the relay is pending again;
 * mail whose body did becomes unknown and is not sent again.  Returns the
 * count of unknown mail.
 */
int	store_mails_orphaned(struct store *store, int64_t now_ms);

/* The incident of the latest mail queued to rcpt from since_ms to
 * until_ms, 0 if none, -1 on failure. */
int64_t	store_find_incident_mailed_to(struct store *store, const char *rcpt,
	    int64_t since_ms, int64_t until_ms);
/* Counts mail of kind to rcpt about the incident (any state); -1 on
 * failure. */
int64_t	store_mail_count_for(struct store *store, int64_t incident_id,
	    const char *kind, const char *rcpt);
/* Counts confirmations and joined notices to rcpt queued at or after
 * since_ms, for the cap per reporter; -1 on failure. */
int64_t	store_mail_count_to(struct store *store, const char *rcpt,
	    int64_t since_ms);

/* One reporter of an incident and the Message-ID of their latest mail in
 * it (or NULL), which updates to them reply to. */
struct store_reporter {
	char	*addr;		/* lowercase */
	char	*message_id;
};

/*
 * Returns the reporters of an incident (struct store_reporter *, owned):
 * the distinct senders of its messages that were people writing (a new
 * incident or an update) with a non-null envelope sender, first writer
 * first; NULL on failure.
 */
GPtrArray	*store_incident_reporters(struct store *store,
		    int64_t incident_id);

const char	*store_mail_state_name(enum store_mail_state state);

#endif
