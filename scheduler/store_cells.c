/* store_cells: what is committed and what is missing of a job, cell by cell; see store.h.
 *
 * A cell is one (record, target, metric): the unit of a retry. A (record, target) is done when
 * every one of the job's metrics has a committed score for it (a score is committed with its
 * output, or alone when a retry judged a committed response again), so "done" and "missing" are
 * counted from `scores`, never from `outputs`. This file reads one record's committed state (the
 * plan of a resubmission is built from it), counts a job's progress from scratch, and prepares a
 * retry: the cells to rerun are deleted, so that they are missing like never-run ones and the
 * ordinary dispatch reruns them; nothing else of the job changes. */
#define LOG_MODULE "store"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

void store_unit_clear(store_unit_t *u)
{
    if (!u) return;
    free(u->response);
    free(u->model);
    free(u->error);
    for (size_t i = 0; i < u->n_metrics; i++) free(u->metrics[i]);
    free(u->metrics);
    memset(u, 0, sizeof *u);
}

int store_units_of(store_t *s, const char *job_id, uint64_t idx, store_unit_t units[2])
{
    memset(units, 0, 2 * sizeof *units);
    sqlite3_stmt *st = store_stmt(s, Q_UNITS_OF);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int t = sqlite3_column_int(st, 0);
        if (t < 0 || t > 1) continue;
        store_unit_t *u = &units[t];
        u->has_output = true;
        u->response = store_col_text(st, 1);
        u->from_dataset = sqlite3_column_int(st, 2) != 0;
        u->model = store_col_text(st, 3);
        u->error = store_col_text(st, 4);
    }
    if (store_walk_end(s, st, rc, 0) < 0) goto fail;
    for (int t = 0; t < 2; t++) {
        st = store_stmt(s, Q_METRICS_OF);
        store_bind_text(st, 1, job_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
        sqlite3_bind_int(st, 3, t);
        size_t cap = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            store_unit_t *u = &units[t];
            if (u->n_metrics == cap) {
                cap = cap ? cap * 2 : 8;
                u->metrics = xrealloc(u->metrics, cap * sizeof *u->metrics);
            }
            u->metrics[u->n_metrics++] = store_col_text(st, 0);
        }
        if (store_walk_end(s, st, rc, 0) < 0) goto fail;
    }
    return 0;
fail:
    store_unit_clear(&units[0]);
    store_unit_clear(&units[1]);
    return -1;
}

/* Runs one statement with up to three integer-or-text parameters (a NULL text binds nothing). */
static int run(store_t *s, const char *q, const char *job_id, int64_t a, int64_t b, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK) {
        log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    store_bind_text(st, 1, job_id);
    if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, a);
    if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_int64(st, 3, b);
    int rc = sqlite3_step(st);
    if (out) *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        log_error("%s: job %s: %s", s->path, job_id, sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

int store_job_count(store_t *s, const char *job_id, unsigned targets, size_t n_metrics, store_counts_t *c)
{
    memset(c, 0, sizeof *c);
    store_job_stats_t js;
    if (store_job_stats(s, job_id, targets, n_metrics, &js) < 0) return -1;
    c->units_done = js.units_done;
    c->records_done = js.records_done;
    memcpy(c->scores, js.scores, sizeof c->scores);
    int64_t errors = 0;
    /* Failed inference calls among the done units: an output with an error has every score. */
    if (run(s, "SELECT count(*) FROM outputs WHERE job_id=?1 AND error IS NOT NULL", job_id, 0, 0, &errors) < 0)
        return -1;
    c->unit_errors = (uint64_t)errors;
    return 0;
}

int store_retry_prepare(store_t *s, const char *job_id, unsigned targets, size_t n_metrics, bool unscored,
                        uint64_t *missing)
{
    *missing = 0;
    const int64_t cells = (int64_t)(targets ? targets : 1) * (int64_t)(n_metrics ? n_metrics : 1);
    if (store_begin(s) < 0) return -1;
    int64_t records = 0, scores = 0;
    int rc = 0;
    /* An output whose inference failed goes with all its scores: the unit reruns whole. */
    rc |= run(s,
              "DELETE FROM scores WHERE job_id=?1 AND EXISTS (SELECT 1 FROM outputs o WHERE o.job_id=?1"
              " AND o.idx=scores.idx AND o.target=scores.target AND o.error IS NOT NULL)",
              job_id, 0, 0, NULL);
    rc |= run(s, "DELETE FROM outputs WHERE job_id=?1 AND error IS NOT NULL", job_id, 0, 0, NULL);
    /* Judge errors (and unscored, if asked): those metrics are judged again on the committed response. */
    rc |= run(s, "DELETE FROM scores WHERE job_id=?1 AND (status=3 OR (?2 AND status=1))", job_id, unscored, 0, NULL);
    rc |= run(s, "SELECT count(*) FROM records WHERE job_id=?1", job_id, 0, 0, &records);
    rc |= run(s, "SELECT count(*) FROM scores WHERE job_id=?1", job_id, 0, 0, &scores);
    if (rc == 0 && records * cells > scores) {
        *missing = (uint64_t)(records * cells - scores);
        /* A shard with a record short of cells runs again; the give-up count starts over. */
        rc |= run(s,
                  "UPDATE shards SET state=0, attempts=0 WHERE job_id=?1 AND EXISTS (SELECT 1 FROM records r"
                  " WHERE r.job_id=?1 AND r.idx BETWEEN shards.first_idx AND shards.last_idx AND"
                  " (SELECT count(*) FROM scores c WHERE c.job_id=?1 AND c.idx=r.idx) < ?2)",
                  job_id, cells, 0, NULL);
        rc |= run(s,
                  "UPDATE jobs SET state=0, error=NULL, failure=NULL, finished_at=NULL, summary_json=NULL, counts=NULL,"
                  " note=NULL WHERE job_id=?1",
                  job_id, 0, 0, NULL);
    }
    if (rc == 0 && *missing > 0) {
        if (store_commit(s) == 0) return 0;
        rc = -1;
    }
    if (store_in_tx(s) && store_rollback(s) < 0) log_error("%s: job %s: the rollback failed", s->path, job_id);
    if (rc) *missing = 0;
    return rc ? -1 : 0;
}

int store_job_reopen(store_t *s, const char *job_id)
{
    return run(s,
               "UPDATE jobs SET state=0, error=NULL, failure=NULL, finished_at=NULL, summary_json=NULL, counts=NULL,"
               " note=NULL WHERE job_id=?1 AND state=3",
               job_id, 0, 0, NULL);
}
