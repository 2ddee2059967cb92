/* SPDX-License-Identifier: ISC */
/*
 * One message through the poller.  UID FETCH of BODY.PEEK[] leaves \Seen
 * alone; then the message is committed to the store, flagged \Seen or
 * moved on the server, and its UID recorded as the last one read.  Each
 * step runs only after the one before it succeeded, so a failure anywhere
 * makes the next session fetch the message again.
 */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "imap.h"
#include "imap_priv.h"
#include "log.h"

#define MOVE_PREFIX	"move:"

/* Returns the UID of a fetched message, or 0. */
static uint32_t
msg_att_uid(struct mailimap_msg_att *att)
{
	struct mailimap_msg_att_item	*item;
	clistiter			*it;

	for (it = clist_begin(att->att_list); it != NULL;
	    it = clist_next(it)) {
		item = clist_content(it);
		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
		    item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
			return item->att_data.att_static->att_data.att_uid;
	}
	return 0;
}

/* Returns the body section of a fetched message, or NULL. */
static struct mailimap_msg_att_body_section *
msg_att_body(struct mailimap_msg_att *att)
{
	struct mailimap_msg_att_static	*st;
	struct mailimap_msg_att_item	*item;
	clistiter			*it;

	for (it = clist_begin(att->att_list); it != NULL;
	    it = clist_next(it)) {
		item = clist_content(it);
		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION)
			return st->att_data.att_body_section;
	}
	return NULL;
}

static gint
uid_compare(gconstpointer a, gconstpointer b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

enum imap_step
imap_fetch_uids(struct imap_poller *p, uint32_t last_uid, GArray *uids)
{
	struct mailimap_fetch_type	*type;
	struct mailimap_set		*set;
	clist				*result = NULL;
	clistiter			*it;
	uint32_t			 uid;
	int				 r;

	if (last_uid == UINT32_MAX)
		return IMAP_STEP_OK;
	/* "N:*" also matches the highest UID when it is below N (RFC 3501
	 * 6.4.8), hence the filter below. */
	set = mailimap_set_new_interval(last_uid + 1, 0);
	type = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(type,
	    mailimap_fetch_att_new_uid());
	r = mailimap_uid_fetch(p->imap, set, type, &result);
	mailimap_fetch_type_free(type);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_poller_fail(p, "UID FETCH (UID)", r);
	for (it = clist_begin(result); it != NULL; it = clist_next(it)) {
		uid = msg_att_uid(clist_content(it));
		if (uid > last_uid)
			g_array_append_val(uids, uid);
	}
	mailimap_fetch_list_free(result);
	g_array_sort(uids, uid_compare);
	return IMAP_STEP_OK;
}

/*
 * Fetches the whole message uid into *raw (caller frees with g_free).
 * *raw stays NULL when the server returned no such message: it was
 * expunged since the UIDs were listed.
 */
static enum imap_step
fetch_body(struct imap_poller *p, uint32_t uid, char **raw, size_t *len)
{
	struct mailimap_msg_att_body_section	*body;
	struct mailimap_fetch_type		*type;
	struct mailimap_set			*set;
	clist					*result = NULL;
	clistiter				*it;
	int					 r;

	set = mailimap_set_new_single(uid);
	type = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(type,
	    mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(type,
	    mailimap_fetch_att_new_body_peek_section(
	    mailimap_section_new(NULL)));
	r = mailimap_uid_fetch(p->imap, set, type, &result);
	mailimap_fetch_type_free(type);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_poller_fail(p, "UID FETCH (BODY.PEEK[])", r);
	for (it = clist_begin(result); it != NULL; it = clist_next(it)) {
		if (msg_att_uid(clist_content(it)) != uid)
			continue;
		body = msg_att_body(clist_content(it));
		*len = body != NULL && body->sec_body_part != NULL ?
		    body->sec_length : 0;
		*raw = g_malloc(*len + 1);
		if (*len > 0)
			memcpy(*raw, body->sec_body_part, *len);
		break;
	}
	mailimap_fetch_list_free(result);
	return IMAP_STEP_OK;
}

static int
message_commit(struct imap_poller *p, uint32_t uid, const char *raw,
    size_t len)
{
	struct imap_envelope	env;
	struct store_envelope	senv;
	int64_t			msg_id;
	int			rc;

	imap_envelope_init(&env, p->cfg, (const uint8_t *)raw, len);
	memset(&senv, 0, sizeof(senv));
	senv.mail_from = env.mail_from;
	senv.rcpts = (const char *const *)env.rcpts->pdata;
	senv.n_rcpts = env.rcpts->len;
	senv.peer = p->peer;
	senv.received_ms = clock_now_ms();
	rc = store_message_add(p->store, &senv, (const uint8_t *)raw, len,
	    &msg_id);
	if (rc == 0)
		log_info("imap: stored msg=%" PRId64 " uid=%" PRIu32
		    " bytes=%zu mailbox=\"%s\" from=<%s>", msg_id, uid, len,
		    p->key, env.mail_from);
	imap_envelope_fini(&env);
	return rc;
}

static enum imap_step
flag_add(struct imap_poller *p, uint32_t uid, struct mailimap_flag *flag)
{
	struct mailimap_store_att_flags	*att;
	struct mailimap_flag_list	*flags;
	struct mailimap_set		*set;
	int				 r;

	flags = mailimap_flag_list_new_empty();
	mailimap_flag_list_add(flags, flag);
	att = mailimap_store_att_flags_new_add_flags_silent(flags);
	set = mailimap_set_new_single(uid);
	r = mailimap_uid_store(p->imap, set, att);
	mailimap_set_free(set);
	mailimap_store_att_flags_free(att);
	if (r != MAILIMAP_NO_ERROR)
		return imap_poller_fail(p, "UID STORE", r);
	return IMAP_STEP_OK;
}

/* RFC 6851 MOVE, or COPY, \Deleted and EXPUNGE where MOVE is missing. */
static enum imap_step
move_once(struct imap_poller *p, uint32_t uid, const char *folder)
{
	struct mailimap_set	*set = mailimap_set_new_single(uid);
	enum imap_step		 step = IMAP_STEP_OK;
	int			 r;

	if (p->has_move) {
		r = mailimap_uid_move(p->imap, set, folder);
		if (r != MAILIMAP_NO_ERROR)
			step = imap_poller_fail(p, "UID MOVE", r);
		goto out;
	}
	r = mailimap_uid_copy(p->imap, set, folder);
	if (r != MAILIMAP_NO_ERROR) {
		step = imap_poller_fail(p, "UID COPY", r);
		goto out;
	}
	step = flag_add(p, uid, mailimap_flag_new_deleted());
	if (step != IMAP_STEP_OK)
		goto out;
	/* NOTE: without UIDPLUS, EXPUNGE also removes any other message a
	 * person flagged \Deleted in this mailbox. */
	r = p->has_uidplus ? mailimap_uid_expunge(p->imap, set) :
	    mailimap_expunge(p->imap);
	if (r != MAILIMAP_NO_ERROR)
		step = imap_poller_fail(p, "EXPUNGE", r);
out:
	mailimap_set_free(set);
	return step;
}

/* Moves uid, creating the folder once if the server refused the move. */
static enum imap_step
move_to(struct imap_poller *p, uint32_t uid, const char *folder)
{
	enum imap_step	step;

	step = move_once(p, uid, folder);
	if (step != IMAP_STEP_REFUSED)
		return step;
	if (mailimap_create(p->imap, folder) != MAILIMAP_NO_ERROR)
		return step;
	log_info("imap: folder created mailbox=\"%s\" folder=\"%s\"",
	    p->key, folder);
	return move_once(p, uid, folder);
}

static enum imap_step
after_commit(struct imap_poller *p, uint32_t uid)
{
	const char	*action = p->cfg->imap.after_commit;

	if (g_str_has_prefix(action, MOVE_PREFIX))
		return move_to(p, uid, action + strlen(MOVE_PREFIX));
	return flag_add(p, uid, mailimap_flag_new_seen());
}

static int
last_uid_record(struct imap_poller *p, uint32_t uid)
{
	if (store_imap_state_set(p->store, p->key, p->uidvalidity,
	    uid) == -1) {
		imap_poller_fail(p, "recording the last UID failed", 0);
		return -1;
	}
	return 0;
}

/* A message the server refused to give: retried in later sessions, then
 * skipped so that one broken message cannot stop the mailbox. */
static enum imap_step
message_broken(struct imap_poller *p, uint32_t uid, const char *why)
{
	char		*reason = g_strdup(why);
	enum imap_step	 step = IMAP_STEP_REFUSED;

	/* A copy: why may be p->error, which is replaced below. */

	if (p->broken_uid != uid) {
		p->broken_uid = uid;
		p->broken_tries = 0;
	}
	if (++p->broken_tries < IMAP_BROKEN_TRIES) {
		log_warnx("imap: fetch failed uid=%" PRIu32 " mailbox=\"%s\" "
		    "try=%d error=\"%s\"", uid, p->key, p->broken_tries,
		    reason);
		g_free(p->error);
		p->error = g_strdup_printf("message uid=%" PRIu32 ": %s",
		    uid, reason);
		goto out;
	}
	log_errorx("imap: message skipped uid=%" PRIu32 " mailbox=\"%s\" "
	    "tries=%d error=\"%s\": it stays on the server, unread", uid,
	    p->key, p->broken_tries, reason);
	step = last_uid_record(p, uid) == 0 ? IMAP_STEP_OK : IMAP_STEP_LOST;
out:
	g_free(reason);
	return step;
}

enum imap_step
imap_fetch_take(struct imap_poller *p, uint32_t uid)
{
	enum imap_step	 step;
	char		*raw = NULL;
	size_t		 len = 0;

	step = fetch_body(p, uid, &raw, &len);
	if (step == IMAP_STEP_LOST)
		goto out;
	if (step == IMAP_STEP_REFUSED) {
		step = message_broken(p, uid, p->error);
		goto out;
	}
	if (raw == NULL) {
		log_info("imap: message vanished uid=%" PRIu32 " mailbox="
		    "\"%s\"", uid, p->key);
		step = last_uid_record(p, uid) == 0 ? IMAP_STEP_OK :
		    IMAP_STEP_LOST;
		goto out;
	}
	if (len == 0) {
		step = message_broken(p, uid, "empty message");
		goto out;
	}
	step = IMAP_STEP_LOST;
	if (message_commit(p, uid, raw, len) == -1) {
		imap_poller_fail(p, "store commit failed", 0);
		goto out;
	}
	/*
	 * If the connection drops here, before the flag or move, the next
	 * session fetches and stores this message again: the second copy
	 * has the same Message-ID, so the daemon's deduplication joins it
	 * to the first one's incident without paging again.
	 */
	step = after_commit(p, uid);
	if (step == IMAP_STEP_LOST)
		goto out;
	if (step == IMAP_STEP_REFUSED)
		log_warnx("imap: after_commit failed uid=%" PRIu32 " mailbox="
		    "\"%s\" error=\"%s\": message stored, left as it was",
		    uid, p->key, p->error);
	step = last_uid_record(p, uid) == 0 ? IMAP_STEP_OK : IMAP_STEP_LOST;
	p->on_stored(p->ctx);
out:
	g_free(raw);
	return step;
}
