/* SPDX-License-Identifier: ISC */
/*
 * The store stage's provider health: the daemon keeps each phone
 * provider's counters and circuit in memory and writes them here on every
 * change, so that "critgate status", a separate process, can read them.
 */
#include <string.h>

#include "log.h"
#include "store_priv.h"

int
store_provider_health_put(struct store *store,
    const struct store_provider_health *h)
{
	return store_exec(store, "INSERT OR REPLACE INTO provider_health "
	    "(name, requests, failures, consecutive, circuit, since_ms, "
	    "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)", "siiisii", h->name,
	    h->requests, h->failures, h->consecutive, h->circuit,
	    h->since_ms, h->updated_ms);
}

void
store_provider_health_free(struct store_provider_health *h)
{
	if (h == NULL)
		return;
	g_free(h->name);
	g_free(h->circuit);
	g_free(h);
}

GPtrArray *
store_provider_health_list(struct store *store)
{
	struct store_provider_health	*h;
	sqlite3_stmt			*stmt;
	GPtrArray			*list;
	int				 rc;

	stmt = store_prepare(store, "SELECT name, requests, failures, "
	    "consecutive, circuit, since_ms, updated_ms FROM provider_health "
	    "ORDER BY name", "");
	if (stmt == NULL)
		return NULL;
	list = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)store_provider_health_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		h = g_new0(struct store_provider_health, 1);
		h->name = store_column_strdup(stmt, 0);
		h->requests = sqlite3_column_int64(stmt, 1);
		h->failures = sqlite3_column_int64(stmt, 2);
		h->consecutive = sqlite3_column_int64(stmt, 3);
		h->circuit = store_column_strdup(stmt, 4);
		h->since_ms = sqlite3_column_int64(stmt, 5);
		h->updated_ms = sqlite3_column_int64(stmt, 6);
		g_ptr_array_add(list, h);
	}
	store_finish(store, stmt);
	if (rc != SQLITE_DONE) {
		log_errorx("store: listing provider health failed error=\"%s\"",
		    sqlite3_errmsg(store->db));
		g_ptr_array_free(list, TRUE);
		return NULL;
	}
	return list;
}
