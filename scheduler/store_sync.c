/* store_sync: the MLflow sync's state, a (job, key) -> value table with the time of each change;
 * see store.h. What the keys mean is mlflow_sync.c's business. Statements are prepared on first
 * use: a STORE_READ connection on a database that never had a sync has no such table, and then
 * reads find nothing (and nothing is created). */
#define LOG_MODULE "store"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mem.h"

static const char *const qs_sql[QS_MAX] = {
    [QS_GET] = "SELECT value FROM mlflow_sync WHERE job_id=?1 AND key=?2",
    [QS_SET] = "INSERT INTO mlflow_sync(job_id, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)"
               " ON CONFLICT(job_id, key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
    [QS_DEL] = "DELETE FROM mlflow_sync WHERE job_id=?1 AND key=?2",
    [QS_EACH] = "SELECT key, value, updated_at FROM mlflow_sync WHERE job_id=?1",
    [QS_UNFINISHED] = "SELECT s.job_id FROM mlflow_sync s JOIN mlflow_sync p ON p.job_id=s.job_id AND p.key='spec'"
                      " WHERE s.key='state' AND s.value IN ('pending', 'syncing') ORDER BY s.updated_at",
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the table exists (known once per connection; STORE_WRITE created it). */
static bool have_table(store_t *s)
{
    if (s->sync_table < 0) {
        if (s->mode == STORE_WRITE) {
            s->sync_table = 1;
        } else {
            sqlite3_stmt *st = NULL;
            int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='mlflow_sync'",
                                        -1, &st, NULL);
            if (rc == SQLITE_OK) rc = sqlite3_step(st);
            sqlite3_finalize(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) return false; /* not known: ask again next time */
            s->sync_table = rc == SQLITE_ROW;
        }
    }
    return s->sync_table == 1;
}

/* The statement, reset and unbound; NULL (logged) when it cannot be prepared. */
static sqlite3_stmt *qs(store_t *s, int q)
{
    if (!s->qs[q] && sqlite3_prepare_v2(s->db, qs_sql[q], -1, &s->qs[q], NULL) != SQLITE_OK) {
        log_error("%s: mlflow_sync: %s", s->path, sqlite3_errmsg(s->db));
        s->qs[q] = NULL;
        return NULL;
    }
    sqlite3_reset(s->qs[q]);
    sqlite3_clear_bindings(s->qs[q]);
    return s->qs[q];
}

int store_sync_get(store_t *s, const char *job_id, const char *key, char **value)
{
    *value = NULL;
    if (!have_table(s)) return s->sync_table == 0 ? 1 : -1;
    sqlite3_stmt *st = qs(s, QS_GET);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    store_bind_text(st, 2, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *value = store_col_text(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return *value ? 0 : 1;
    if (rc == SQLITE_DONE) return 1;
    log_error("%s: mlflow_sync of job %s (%s): %s", s->path, job_id, key, sqlite3_errmsg(s->db));
    return -1;
}

int store_sync_set(store_t *s, const char *job_id, const char *key, const char *value)
{
    if (!have_table(s)) {
        log_error("%s: no mlflow_sync table to record %s of job %s in (opened to read only)", s->path, key, job_id);
        return -1;
    }
    sqlite3_stmt *st = qs(s, QS_SET);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    store_bind_text(st, 2, key);
    store_bind_text(st, 3, value);
    sqlite3_bind_int64(st, 4, now_ms());
    return store_step_done(s, st);
}

int store_sync_del(store_t *s, const char *job_id, const char *key)
{
    if (!have_table(s)) return s->sync_table == 0 ? 0 : -1;
    sqlite3_stmt *st = qs(s, QS_DEL);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    store_bind_text(st, 2, key);
    return store_step_done(s, st);
}

int store_sync_each(store_t *s, const char *job_id, store_sync_cb cb, void *arg)
{
    if (!have_table(s)) return s->sync_table == 0 ? 0 : -1;
    sqlite3_stmt *st = qs(s, QS_EACH);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           (int64_t)sqlite3_column_int64(st, 2), arg);
    return store_walk_end(s, st, rc, 0);
}

int store_sync_unfinished(store_t *s, char ***job_ids, size_t *n)
{
    *job_ids = NULL;
    *n = 0;
    if (!have_table(s)) return s->sync_table == 0 ? 0 : -1;
    sqlite3_stmt *st = qs(s, QS_UNFINISHED);
    if (!st) return -1;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *job_ids = xrealloc(*job_ids, cap * sizeof **job_ids);
        }
        (*job_ids)[(*n)++] = store_col_text(st, 0);
    }
    if (store_walk_end(s, st, rc, 0) < 0) {
        for (size_t i = 0; i < *n; i++) free((*job_ids)[i]);
        free(*job_ids);
        *job_ids = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}
