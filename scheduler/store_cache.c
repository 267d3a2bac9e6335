/* store_cache: the SQL of cheap iteration; see store.h. The `cache` table (model and judge answers
 * by the SHA-256 of their content, shared by every job of the database), one record read back by
 * its index, and a job's responses copied into another job (`reuse_responses_from`).
 *
 * What a key covers, when an answer is looked up and when one is kept are cache.c's: this file
 * only stores and reads. The statements are prepared on first use (like the MLflow sync's), so a
 * connection that never touches the cache prepares none of them. */
#define LOG_MODULE "store"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mem.h"

static const char *const qc_sql[QC_MAX] = {
    [QC_GET] = "SELECT text, status, rating, in_tokens, out_tokens FROM cache WHERE key=?1 AND kind=?2",
    [QC_PUT] = "INSERT OR IGNORE INTO cache(key, kind, text, status, rating, in_tokens, out_tokens, created_at)"
               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [QC_RECORD] = "SELECT idx, rid, prompt, reference, context, category, responses FROM records"
                  " WHERE job_id=?1 AND idx=?2",
    [QC_REUSE_COPY] = "INSERT OR IGNORE INTO outputs(job_id, idx, target, model, response, from_dataset, error,"
                      " in_tokens, out_tokens, latency_ms, origin)"
                      " SELECT ?1, idx, target, model, response, from_dataset, NULL, 0, 0, 0, 2 FROM outputs"
                      " WHERE job_id=?2 AND idx BETWEEN ?3 AND ?4 AND target < ?5 AND error IS NULL"
                      " AND response IS NOT NULL",
    [QC_REUSE_MISSING] = "SELECT count(*) FROM records r WHERE r.job_id=?1 AND NOT EXISTS (SELECT 1 FROM outputs o"
                         " WHERE o.job_id=?1 AND o.idx=r.idx AND o.target=?2 AND o.error IS NULL"
                         " AND o.response IS NOT NULL)",
    [QC_REUSE_FIRST] = "SELECT r.idx, o.error FROM records r LEFT JOIN outputs o ON o.job_id=r.job_id AND o.idx=r.idx"
                       " AND o.target=?2 WHERE r.job_id=?1 AND (o.idx IS NULL OR o.error IS NOT NULL"
                       " OR o.response IS NULL) ORDER BY r.idx LIMIT 1",
    [QC_COUNT_OUT] = "SELECT count(*) FILTER (WHERE origin=1), count(*) FILTER (WHERE origin=2) FROM outputs"
                     " WHERE job_id=?1",
    [QC_COUNT_SCORES] = "SELECT count(*) FROM scores WHERE job_id=?1 AND cached=1",
    [QC_USABLE] = "SELECT count(*) FROM outputs WHERE job_id=?1 AND idx BETWEEN ?2 AND ?3 AND target < ?4"
                  " AND error IS NULL AND response IS NOT NULL",
    [QC_RECORDS_PAGE] = "SELECT idx, rid, prompt, reference, context, category, responses FROM records"
                        " WHERE job_id=?1 AND idx > ?2 ORDER BY idx LIMIT ?3",
};

/* The statement, reset and unbound; NULL (logged) when it cannot be prepared. */
static sqlite3_stmt *qc(store_t *s, int q)
{
    if (!s->qc[q] && sqlite3_prepare_v2(s->db, qc_sql[q], -1, &s->qc[q], NULL) != SQLITE_OK) {
        log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
        s->qc[q] = NULL;
        return NULL;
    }
    sqlite3_reset(s->qc[q]);
    sqlite3_clear_bindings(s->qc[q]);
    return s->qc[q];
}

void store_cache_val_clear(store_cache_val_t *v)
{
    if (!v) return;
    free(v->text);
    free(v->rating);
    memset(v, 0, sizeof *v);
}

int store_cache_get(store_t *s, store_cache_kind_t kind, const uint8_t key[STORE_CACHE_KEY], store_cache_val_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = qc(s, QC_GET);
    if (!st) return -1;
    sqlite3_bind_blob(st, 1, key, STORE_CACHE_KEY, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int)kind);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->text = store_col_text(st, 0);
        out->status = (score_status_t)sqlite3_column_int(st, 1);
        out->rating = store_col_text(st, 2);
        out->usage.input_tokens = (uint64_t)sqlite3_column_int64(st, 3);
        out->usage.output_tokens = (uint64_t)sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return 1;
    log_error("%s: cache: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_cache_put(store_t *s, store_cache_kind_t kind, const uint8_t key[STORE_CACHE_KEY], const store_cache_val_t *v,
                    bool *added)
{
    *added = false;
    sqlite3_stmt *st = qc(s, QC_PUT);
    if (!st) return -1;
    sqlite3_bind_blob(st, 1, key, STORE_CACHE_KEY, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int)kind);
    store_bind_text(st, 3, v->text);
    sqlite3_bind_int(st, 4, (int)v->status);
    store_bind_text(st, 5, v->rating);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)v->usage.input_tokens);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)v->usage.output_tokens);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL));
    if (store_step_done(s, st) < 0) return -1;
    *added = sqlite3_changes(s->db) > 0;
    return 0;
}

int store_cache_size(store_t *s, uint64_t counts[2])
{
    counts[0] = counts[1] = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT kind, count(*) FROM cache GROUP BY kind", -1, &st, NULL) != SQLITE_OK) {
        log_error("%s: cache: %s", s->path, sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        if (k == STORE_CACHE_INFERENCE || k == STORE_CACHE_JUDGE) counts[k] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE) log_error("%s: cache: %s", s->path, sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_record_get(store_t *s, const char *job_id, uint64_t idx, record_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = qc(s, QC_RECORD);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) store_record_row(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return 1;
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_records_after(store_t *s, const char *job_id, int64_t after, size_t limit, record_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = qc(s, QC_RECORDS_PAGE);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    record_t *recs = xcalloc(limit ? limit : 1, sizeof *recs);
    size_t cnt = 0;
    int rc;
    while (cnt < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) store_record_row(st, &recs[cnt++]);
    if (cnt == limit) rc = SQLITE_DONE; /* LIMIT ends the rows there */
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < cnt; i++) record_clear(&recs[i]);
        free(recs);
        log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    *out = recs;
    *n = cnt;
    return 0;
}

int store_outputs_reuse(store_t *s, const char *job_id, const char *src, uint64_t first, uint64_t last,
                        unsigned targets, uint64_t *copied)
{
    *copied = 0;
    sqlite3_stmt *st = qc(s, QC_REUSE_COPY);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    store_bind_text(st, 2, src);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)last);
    sqlite3_bind_int(st, 5, (int)targets);
    if (store_step_done(s, st) < 0) return -1;
    *copied = (uint64_t)sqlite3_changes(s->db);
    return 0;
}

int store_outputs_usable(store_t *s, const char *job_id, uint64_t first, uint64_t last, unsigned targets, uint64_t *n)
{
    *n = 0;
    sqlite3_stmt *st = qc(s, QC_USABLE);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
    sqlite3_bind_int(st, 4, (int)targets);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_reuse_missing(store_t *s, const char *src, target_t target, uint64_t *missing, uint64_t *first_idx,
                        char **first_error)
{
    *missing = *first_idx = 0;
    *first_error = NULL;
    sqlite3_stmt *st = qc(s, QC_REUSE_MISSING);
    if (!st) return -1;
    store_bind_text(st, 1, src);
    sqlite3_bind_int(st, 2, (int)target);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *missing = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) goto fail;
    if (*missing == 0) return 0;
    if (!(st = qc(s, QC_REUSE_FIRST))) return -1;
    store_bind_text(st, 1, src);
    sqlite3_bind_int(st, 2, (int)target);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *first_idx = (uint64_t)sqlite3_column_int64(st, 0);
        *first_error = store_col_text(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return 0;
fail:
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_origin_counts(store_t *s, const char *job_id, uint64_t *cached_outputs, uint64_t *reused_outputs,
                        uint64_t *cached_scores)
{
    *cached_outputs = *reused_outputs = *cached_scores = 0;
    sqlite3_stmt *st = qc(s, QC_COUNT_OUT);
    if (!st) return -1;
    store_bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *cached_outputs = (uint64_t)sqlite3_column_int64(st, 0);
        *reused_outputs = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) goto fail;
    if (!(st = qc(s, QC_COUNT_SCORES))) return -1;
    store_bind_text(st, 1, job_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *cached_scores = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
fail:
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}
