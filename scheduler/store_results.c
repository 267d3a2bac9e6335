/* store_results: committed results and what is counted from them; see store.h. Two statements
 * are live at once while outputs are walked (each output row, then its scores). */
#define LOG_MODULE "store"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

int store_result_commit(store_t *s, const char *job_id, const result_t *r, bool *new_output, size_t *new_scores,
                        uint64_t by_status[4])
{
    *new_output = false;
    *new_scores = 0;
    sqlite3_stmt *st = store_stmt(s, Q_OUTPUT_PUT);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->record_index);
    sqlite3_bind_int(st, 3, (int)r->target);
    store_bind_text(st, 4, r->model);
    store_bind_text(st, 5, r->response);
    sqlite3_bind_int(st, 6, r->response_from_dataset ? 1 : 0);
    store_bind_text(st, 7, r->error);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->usage.input_tokens);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->usage.output_tokens);
    sqlite3_bind_double(st, 10, r->latency_ms);
    sqlite3_bind_int(st, 11, (int)r->origin);
    if (store_step_done(s, st) < 0) return -1;
    *new_output = sqlite3_changes(s->db) > 0;
    for (size_t i = 0; i < r->n_scores; i++) {
        const score_t *sc = &r->scores[i];
        st = store_stmt(s, Q_SCORE_PUT);
        store_bind_text(st, 1, job_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->record_index);
        sqlite3_bind_int(st, 3, (int)r->target);
        store_bind_text(st, 4, sc->metric);
        sqlite3_bind_int(st, 5, (int)sc->status);
        store_bind_text(st, 6, sc->rating);
        if (sc->has_score) {
            sqlite3_bind_double(st, 7, sc->score);
            sqlite3_bind_double(st, 8, sc->normalized);
        }
        store_bind_text(st, 9, sc->explanation);
        store_bind_text(st, 10, sc->error);
        sqlite3_bind_int64(st, 11, (sqlite3_int64)sc->usage.input_tokens);
        sqlite3_bind_int64(st, 12, (sqlite3_int64)sc->usage.output_tokens);
        sqlite3_bind_int(st, 13, (int)sc->attempts);
        sqlite3_bind_int(st, 14, sc->cached ? 1 : 0);
        if (store_step_done(s, st) < 0) return -1;
        if (sqlite3_changes(s->db) > 0) {
            (*new_scores)++;
            if (by_status && (unsigned)sc->status < 4) by_status[sc->status]++;
        }
    }
    return 0;
}

/* Steps `st` (a statement over OUTPUTS_SELECT, bound) and calls cb for each row with its scores. */
static int outputs_walk(store_t *s, sqlite3_stmt *st, const char *job_id, store_output_cb cb, void *arg)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        record_t rec = {0};
        result_t res = {0};
        rec.index = res.record_index = (uint64_t)sqlite3_column_int64(st, 0);
        res.target = (target_t)sqlite3_column_int(st, 1);
        res.model = store_col_text(st, 2);
        res.response = store_col_text(st, 3);
        res.response_from_dataset = sqlite3_column_int(st, 4) != 0;
        res.error = store_col_text(st, 5);
        res.usage.input_tokens = (uint64_t)sqlite3_column_int64(st, 6);
        res.usage.output_tokens = (uint64_t)sqlite3_column_int64(st, 7);
        res.latency_ms = sqlite3_column_double(st, 8);
        rec.id = store_col_text(st, 9);
        rec.prompt = store_col_text(st, 10);
        rec.reference = store_col_text(st, 11);
        rec.context = store_col_text(st, 12);
        rec.category = store_col_text(st, 13);
        int origin = sqlite3_column_int(st, 14);
        res.origin = origin == RESPONSE_CACHED || origin == RESPONSE_REUSED ? (response_origin_t)origin
                                                                            : RESPONSE_CALLED;
        res.job_id = xstrdup(job_id);

        sqlite3_stmt *sq = store_stmt(s, Q_SCORES_OF);
        store_bind_text(sq, 1, job_id);
        sqlite3_bind_int64(sq, 2, (sqlite3_int64)res.record_index);
        sqlite3_bind_int(sq, 3, (int)res.target);
        int src;
        while ((src = sqlite3_step(sq)) == SQLITE_ROW) {
            score_t *sc = result_add_score(&res);
            sc->metric = store_col_text(sq, 0);
            sc->status = (score_status_t)sqlite3_column_int(sq, 1);
            sc->rating = store_col_text(sq, 2);
            sc->has_score = sqlite3_column_type(sq, 3) != SQLITE_NULL;
            sc->score = sqlite3_column_double(sq, 3);
            sc->normalized = sqlite3_column_double(sq, 4);
            sc->explanation = store_col_text(sq, 5);
            sc->error = store_col_text(sq, 6);
            sc->usage.input_tokens = (uint64_t)sqlite3_column_int64(sq, 7);
            sc->usage.output_tokens = (uint64_t)sqlite3_column_int64(sq, 8);
            sc->attempts = (uint32_t)sqlite3_column_int(sq, 9);
            sc->cached = sqlite3_column_int(sq, 10) != 0;
        }
        sqlite3_reset(sq);
        if (src != SQLITE_DONE) {
            log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
            ret = -1;
        }
        if (!ret && cb(&rec, &res, arg) != 0) ret = -1;
        record_clear(&rec);
        result_clear(&res);
        if (ret) break;
    }
    return store_walk_end(s, st, rc, ret);
}

int store_outputs_each(store_t *s, const char *job_id, store_output_cb cb, void *arg)
{
    sqlite3_stmt *st = store_stmt(s, Q_OUTPUTS_EACH);
    store_bind_text(st, 1, job_id);
    return outputs_walk(s, st, job_id, cb, arg);
}

int store_outputs_page(store_t *s, const char *job_id, uint64_t offset, uint64_t limit, store_output_cb cb, void *arg)
{
    sqlite3_stmt *st = store_stmt(s, Q_OUTPUTS_PAGE);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, limit > (uint64_t)INT64_MAX ? -1 : (sqlite3_int64)limit); /* -1: no limit */
    sqlite3_bind_int64(st, 3, offset > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
    return outputs_walk(s, st, job_id, cb, arg);
}

/* The one number a counting statement q (its ?1 = job id) returns. */
static int count1(store_t *s, int q, const char *job_id, uint64_t *out)
{
    sqlite3_stmt *st = store_stmt(s, q);
    store_bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_counts(store_t *s, const char *job_id, uint64_t *outputs, uint64_t *scores)
{
    if (count1(s, Q_COUNT_OUT, job_id, outputs) < 0) return -1;
    return count1(s, Q_COUNT_SCORES, job_id, scores);
}

int store_outputs_in_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, size_t n_metrics, uint64_t *n)
{
    sqlite3_stmt *st = store_stmt(s, Q_OUT_RANGE);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(n_metrics ? n_metrics : 1));
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_unit_scores(store_t *s, const char *job_id, uint64_t idx, target_t target, uint64_t *n)
{
    sqlite3_stmt *st = store_stmt(s, Q_UNIT_SCORES);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
    sqlite3_bind_int(st, 3, (int)target);
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_score_counts(store_t *s, const char *job_id, uint64_t counts[4])
{
    memset(counts, 0, 4 * sizeof(uint64_t));
    sqlite3_stmt *st = store_stmt(s, Q_SCORE_COUNTS);
    store_bind_text(st, 1, job_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = sqlite3_column_int(st, 0);
        if (status >= 0 && status < 4) counts[status] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    return store_walk_end(s, st, rc, 0);
}

int store_usage(store_t *s, const char *job_id, store_usage_cb cb, void *arg)
{
    sqlite3_stmt *st = store_stmt(s, Q_USAGE_INF);
    store_bind_text(st, 1, job_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb((const char *)sqlite3_column_text(st, 0), false, (uint64_t)sqlite3_column_int64(st, 1),
           (uint64_t)sqlite3_column_int64(st, 2), (uint64_t)sqlite3_column_int64(st, 3), arg);
    if (store_walk_end(s, st, rc, 0) < 0) return -1;
    st = store_stmt(s, Q_USAGE_JUDGE);
    store_bind_text(st, 1, job_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        cb(NULL, true, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
           (uint64_t)sqlite3_column_int64(st, 2), arg);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Records and shards: cheap whatever the job's size (no count over results). */
static int shard_stats(store_t *s, const char *job_id, store_job_stats_t *out)
{
    int ret = count1(s, Q_RECORDS_COUNT, job_id, &out->records);
    sqlite3_stmt *st = store_stmt(s, Q_SHARD_STATS);
    store_bind_text(st, 1, job_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < 3) out->shards[state] = (uint64_t)sqlite3_column_int64(st, 1);
        out->dispatches += (uint64_t)sqlite3_column_int64(st, 2);
        out->leases += (uint64_t)sqlite3_column_int64(st, 3);
    }
    if (rc != SQLITE_DONE) ret = -1;
    sqlite3_reset(st);
    return ret;
}

int store_job_stats_light(store_t *s, const char *job_id, store_job_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    int ret = shard_stats(s, job_id, out);
    if (ret) log_error("%s: job %s: %s", s->path, job_id, sqlite3_errmsg(s->db));
    return ret;
}

int store_job_stats(store_t *s, const char *job_id, unsigned targets, size_t n_metrics, store_job_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    /* One snapshot: a read transaction, unless the caller has one open. */
    bool own = !store_in_tx(s);
    if (own && store_begin(s) < 0) return -1;
    int ret = shard_stats(s, job_id, out);

    if (!n_metrics) n_metrics = 1;
    sqlite3_stmt *st = store_stmt(s, Q_RECORDS_DONE);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)((targets ? targets : 1) * n_metrics));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out->records_done = (uint64_t)sqlite3_column_int64(st, 0);
    else ret = -1;
    sqlite3_reset(st);

    st = store_stmt(s, Q_UNITS_DONE);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n_metrics);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out->units_done = (uint64_t)sqlite3_column_int64(st, 0);
    else ret = -1;
    sqlite3_reset(st);

    st = store_stmt(s, Q_OUT_STATS);
    store_bind_text(st, 1, job_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->outputs = (uint64_t)sqlite3_column_int64(st, 0);
        out->output_errors = (uint64_t)sqlite3_column_int64(st, 1); /* sum() of no row is NULL: 0 */
    } else {
        ret = -1;
    }
    sqlite3_reset(st);

    if (store_score_counts(s, job_id, out->scores) < 0) ret = -1;
    if (ret) log_error("%s: job %s: %s", s->path, job_id, sqlite3_errmsg(s->db));
    /* Ending a read-only transaction cannot lose anything; a failure to end it is logged by
     * store_exec and makes the call fail, so the caller does not read on in a stale snapshot. */
    if (own && store_commit(s) < 0) ret = -1;
    return ret;
}

int store_outputs_bytes(store_t *s, const char *job_id, uint64_t *bytes)
{
    /* What records.jsonl writes of each row at least: its texts once (JSON escaping only adds)
     * and a floor for the keys and numbers around them. */
    static const char *const q[] = {
        "SELECT coalesce(sum(coalesce(length(CAST(o.response AS BLOB)), 0) + length(CAST(r.prompt AS BLOB)) +"
        " coalesce(length(CAST(r.reference AS BLOB)), 0) + coalesce(length(CAST(r.category AS BLOB)), 0) +"
        " coalesce(length(CAST(r.rid AS BLOB)), 0) + coalesce(length(CAST(o.error AS BLOB)), 0) + 300), 0)"
        " FROM outputs o JOIN records r ON r.job_id=o.job_id AND r.idx=o.idx WHERE o.job_id=?1",
        "SELECT coalesce(sum(coalesce(length(CAST(explanation AS BLOB)), 0) +"
        " coalesce(length(CAST(rating AS BLOB)), 0) + coalesce(length(CAST(error AS BLOB)), 0) +"
        " length(CAST(metric AS BLOB)) + 100), 0) FROM scores WHERE job_id=?1",
    };
    *bytes = 0;
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL) != SQLITE_OK) return -1;
        store_bind_text(st, 1, job_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) *bytes += (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) return -1;
    }
    return 0;
}
