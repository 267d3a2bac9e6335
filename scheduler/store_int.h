/* store_int: what the store's files (store.c, store_results.c, store_sync.c, store_cells.c,
 * store_cache.c) share and nobody else
 * sees: the connection with its prepared statements, and the few helpers every query uses. */
#ifndef LLMAJ_STORE_INT_H
#define LLMAJ_STORE_INT_H
#include <sqlite3.h>

#include "store.h"

/* Prepared once per connection (store_open), in the order of the SQL table in store.c. */
enum {
    Q_JOB_CREATE,
    Q_JOB_STATE,
    Q_JOB_COUNTS,
    Q_JOB_OUTDIR,
    Q_JOB_TOUCH,
    Q_JOB_SET_SUMMARY,
    Q_JOB_SUMMARY,
    Q_JOB_GET,
    Q_JOBS_ALL,
    Q_JOB_MATCH,
    Q_RECORD_PUT,
    Q_RECORDS_RANGE,
    Q_SHARD_PUT,
    Q_SHARD_STATE,
    Q_SHARDS_ALL,
    Q_OUTPUT_PUT,
    Q_SCORE_PUT,
    Q_OUTPUTS_EACH,
    Q_OUTPUTS_PAGE,
    Q_SCORES_OF,
    Q_COUNT_OUT,
    Q_COUNT_SCORES,
    Q_OUT_RANGE,
    Q_USAGE_INF,
    Q_USAGE_JUDGE,
    Q_SCORE_COUNTS,
    Q_RECORDS_COUNT,
    Q_RECORDS_DONE,
    Q_OUT_STATS,
    Q_SHARD_STATS,
    Q_JOB_CREATE_AS,
    Q_JOB_PROGRESS,
    Q_JOB_NOTE,
    Q_JOB_STATE_OF,
    Q_UNITS_OF,
    Q_METRICS_OF,
    Q_UNITS_DONE,
    Q_SHARDS_UNSENT,
    Q_JOB_PUBLISH,
    Q_JOBS_OWNED,
    Q_UNIT_SCORES,
    Q_SHARD_LEASES,
    Q_JOB_FAILURE,
    Q_MAX
};

/* The MLflow sync's statements, prepared on first use (the table may not exist in STORE_READ). */
enum { QS_GET, QS_SET, QS_DEL, QS_EACH, QS_UNFINISHED, QS_MAX };

/* store_cache.c's statements (the cache, reused responses), prepared on first use likewise. */
enum {
    QC_GET,
    QC_PUT,
    QC_RECORD,
    QC_REUSE_COPY,
    QC_REUSE_MISSING,
    QC_REUSE_FIRST,
    QC_COUNT_OUT,
    QC_COUNT_SCORES,
    QC_RECORDS_PAGE,
    QC_USABLE,
    QC_MAX
};

struct store {
    sqlite3 *db;
    store_mode_t mode;
    char *path;
    sqlite3_stmt *q[Q_MAX];
    sqlite3_stmt *qs[QS_MAX];
    sqlite3_stmt *qc[QC_MAX];
    int sync_table; /* -1 not known yet, 0 absent, 1 there */
};

/* The statement, reset and unbound, ready to bind. */
sqlite3_stmt *store_stmt(store_t *s, int q);
void store_bind_text(sqlite3_stmt *st, int i, const char *v); /* NULL binds NULL */
/* Steps a statement that returns no row; resets it. 0, or -1 (logged). */
int store_step_done(store_t *s, sqlite3_stmt *st);
/* Ends a walk over the rows of st whose last step returned rc: resets st; returns ret (-1 when the
 * walk was stopped), or -1, logged, when the rows ended in an error rather than SQLITE_DONE. */
int store_walk_end(store_t *s, sqlite3_stmt *st, int rc, int ret);
char *store_col_text(sqlite3_stmt *st, int i); /* a copy, or NULL for NULL */
int store_exec(store_t *s, const char *sql);   /* 0, or -1 (logged) */
/* A record from a row whose columns are idx, rid, prompt, reference, context, category, responses. */
void store_record_row(sqlite3_stmt *st, record_t *r);

#endif
