/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the files of the store stage: the handle and small
 * helpers that prepare, bind and step SQLite statements.
 */
#ifndef CRITGATE_STORE_PRIV_H
#define CRITGATE_STORE_PRIV_H

#include <sys/types.h>

#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3	*db;
	char	*path;
	int64_t	 version;	/* of the schema in the file */
	int	 depth;		/* open store_begin calls */
	bool	 is_relaxed;	/* the open batch commits without a flush */
	bool	 is_checkpoint_later; /* left to store_checkpoint */
	bool	 is_flush_later;	/* commits left to store_flush */
	int	 log_pages;	/* in the log after this handle's last commit */
	int	 busy_ms;	/* how long a statement waits for a lock */
	int64_t	 busy_since_us;	/* monotonic, when the wait began */
	int64_t	 turn_since_us;	/* when the transaction being begun
				 * began to wait for its turn, or 0 */
	GHashTable *stmts;	/* SQL text -> its compiled sqlite3_stmt */
	dev_t	 db_dev;	/* the database file this handle opened, */
	ino_t	 db_ino;
	dev_t	 log_dev;	/* its log file, */
	ino_t	 log_ino;	/* 0 while there was none */
	dev_t	 index_dev;	/* and its index file, */
	ino_t	 index_ino;	/* 0 while there was none */
	bool	 is_moved_told;	/* the files' move is logged */
	int	 failed_code;	/* SQLite's code for the last failure
				 * logged */
	int64_t	 quiet_until_us; /* monotonic; until then that failure is
				 * counted, not logged */
	unsigned failed_unlogged; /* failures counted since */
};

/*
 * Prepares sql and binds its parameters, one per character of types:
 * 'i' an int64_t, 's' a const char * (NULL binds NULL), 'b' a pointer and
 * a size_t (a blob).  Returns the statement, to be handed back with
 * store_finish, or NULL, logged.
 */
sqlite3_stmt	*store_prepare(struct store *store, const char *sql,
		    const char *types, ...);
/* Hands back a statement from store_prepare. */
void		 store_finish(struct store *store, sqlite3_stmt *stmt);

/* Prepares, binds and steps sql to completion.  Returns 0 or -1, logged. */
int		 store_exec(struct store *store, const char *sql,
		    const char *types, ...);

/* Runs a query whose first row's first column is an integer; -1 on error,
 * dflt when there is no row. */
int64_t		 store_query_int(struct store *store, int64_t dflt,
		    const char *sql, const char *types, ...);

/*
 * Transactions nest: the outermost store_begin opens one, inner ones set a
 * savepoint, and only the outermost store_commit flushes to disk.
 */
int	store_begin(struct store *store);
int	store_commit(struct store *store);
void	store_rollback(struct store *store);

/* Returns a column as a new string (caller frees with g_free) or NULL. */
char	*store_column_strdup(sqlite3_stmt *stmt, int col);

/*
 * Ends a transaction that changed incident_id: adds the event kind with
 * detail (taken over and freed), then commits.  Returns 1, or -1 after
 * rolling back.
 */
int	store_event_commit(struct store *store, int64_t incident_id,
	    const char *kind, char *detail, int64_t now_ms);

#endif
