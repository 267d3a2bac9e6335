/* store: SQLite job store; see store.h.
 *
 * DESIGN: one database file holds every job of a scheduler. Records are stored once at job
 * start (only valid lines), so shards are re-read from the store, not from the dataset, and a
 * restarted scheduler needs nothing but this file. Results are split into `outputs` (one row per
 * (record, target): the response, usage, latency, error) and `scores` (one row per (record,
 * target, metric)); both use INSERT OR IGNORE on their natural key. WAL with synchronous=NORMAL:
 * a commit survives a process crash; callers batch commits in transactions. */
#define LOG_MODULE "store"
#include "store.h"
#include "log.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    Q_JOB_CREATE, Q_JOB_STATE, Q_JOB_COUNTS, Q_RECORD_PUT, Q_RECORDS_RANGE, Q_SHARD_PUT, Q_SHARD_STATE,
    Q_OUTPUT_PUT, Q_SCORE_PUT, Q_OUTPUTS_EACH, Q_SCORES_OF, Q_COUNT_OUT, Q_COUNT_SCORES, Q_OUT_RANGE,
    Q_USAGE_INF, Q_USAGE_JUDGE,
    /* reading jobs back */
    Q_JOB_OUTDIR, Q_JOB_TOUCH, Q_SHARDS_ALL, Q_SCORE_COUNTS,
    Q_JOB_GET, Q_JOBS_ALL, Q_JOB_MATCH, Q_RECORDS_COUNT, Q_RECORDS_DONE, Q_OUT_STATS, Q_SHARD_STATS,
    Q_OUTPUTS_PAGE, Q_MAX
};

#define JOB_COLUMNS "job_id, name, spec_json, state, error, created_at, started_at, finished_at, records_total," \
                    " records_invalid, out_dir, updated_at"
#define OUTPUTS_SELECT "SELECT o.idx, o.target, o.model, o.response, o.from_dataset, o.error, o.in_tokens," \
                       " o.out_tokens, o.latency_ms, r.rid, r.prompt, r.reference, r.context, r.category" \
                       " FROM outputs o JOIN records r ON r.job_id=o.job_id AND r.idx=o.idx" \
                       " WHERE o.job_id=? ORDER BY o.idx, o.target"

static const char *const sql[Q_MAX] = {
    [Q_JOB_CREATE] = "INSERT INTO jobs(job_id, name, spec_json, state, created_at) VALUES(?,?,?,0,?)",
    [Q_JOB_STATE] = "UPDATE jobs SET state=?, error=?, "
                    "started_at=CASE WHEN ?=1 AND started_at IS NULL THEN ? ELSE started_at END, "
                    "finished_at=CASE WHEN ?>=2 THEN ? ELSE finished_at END WHERE job_id=?",
    [Q_JOB_COUNTS] = "UPDATE jobs SET records_total=?, records_invalid=? WHERE job_id=?",
    [Q_RECORD_PUT] = "INSERT OR REPLACE INTO records(job_id, idx, rid, prompt, reference, context, category, responses)"
                     " VALUES(?,?,?,?,?,?,?,?)",
    [Q_RECORDS_RANGE] = "SELECT idx, rid, prompt, reference, context, category, responses FROM records"
                        " WHERE job_id=? AND idx BETWEEN ? AND ?"
                        " AND (SELECT count(*) FROM outputs o WHERE o.job_id=records.job_id AND o.idx=records.idx) < ?"
                        " ORDER BY idx",
    [Q_SHARD_PUT] = "INSERT OR REPLACE INTO shards(job_id, shard_id, first_idx, last_idx, n, state) VALUES(?,?,?,?,?,0)",
    [Q_SHARD_STATE] = "UPDATE shards SET state=?, attempts=attempts+(?=1) WHERE job_id=? AND shard_id=?",
    [Q_OUTPUT_PUT] = "INSERT OR IGNORE INTO outputs(job_id, idx, target, model, response, from_dataset, error,"
                     " in_tokens, out_tokens, latency_ms) VALUES(?,?,?,?,?,?,?,?,?,?)",
    [Q_SCORE_PUT] = "INSERT OR IGNORE INTO scores(job_id, idx, target, metric, status, rating, score, normalized,"
                    " explanation, error, in_tokens, out_tokens, attempts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_OUTPUTS_EACH] = OUTPUTS_SELECT,
    [Q_SCORES_OF] = "SELECT metric, status, rating, score, normalized, explanation, error, in_tokens, out_tokens,"
                    " attempts FROM scores WHERE job_id=? AND idx=? AND target=? ORDER BY rowid",
    [Q_COUNT_OUT] = "SELECT count(*) FROM outputs WHERE job_id=?",
    [Q_COUNT_SCORES] = "SELECT count(*) FROM scores WHERE job_id=?",
    [Q_OUT_RANGE] = "SELECT count(*) FROM outputs WHERE job_id=? AND idx BETWEEN ? AND ?",
    [Q_USAGE_INF] = "SELECT model, sum(in_tokens), sum(out_tokens), sum(from_dataset=0 AND error IS NULL)"
                    " FROM outputs WHERE job_id=? AND from_dataset=0 GROUP BY model",
    [Q_USAGE_JUDGE] = "SELECT sum(in_tokens), sum(out_tokens), sum(attempts) FROM scores WHERE job_id=?",
    [Q_JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE job_id=?",
    [Q_JOB_OUTDIR] = "UPDATE jobs SET out_dir=? WHERE job_id=?",
    [Q_JOB_TOUCH] = "UPDATE jobs SET updated_at=? WHERE job_id=?",
    [Q_SHARDS_ALL] = "SELECT shard_id, first_idx, last_idx, n, state, attempts FROM shards WHERE job_id=? ORDER BY shard_id",
    [Q_SCORE_COUNTS] = "SELECT status, count(*) FROM scores WHERE job_id=? GROUP BY status",
    [Q_JOBS_ALL] = "SELECT " JOB_COLUMNS " FROM jobs ORDER BY created_at DESC, rowid DESC",
    [Q_JOB_MATCH] = "SELECT job_id, job_id=?1 FROM jobs WHERE substr(job_id, 1, length(?1))=?1"
                    " ORDER BY job_id=?1 DESC, created_at DESC, rowid DESC",
    [Q_RECORDS_COUNT] = "SELECT count(*) FROM records WHERE job_id=?",
    [Q_RECORDS_DONE] = "SELECT count(*) FROM (SELECT idx FROM outputs WHERE job_id=?1 GROUP BY idx HAVING count(*)>=?2)",
    [Q_OUT_STATS] = "SELECT count(*), sum(error IS NOT NULL) FROM outputs WHERE job_id=?",
    [Q_SHARD_STATS] = "SELECT state, count(*), sum(attempts) FROM shards WHERE job_id=? GROUP BY state",
    [Q_OUTPUTS_PAGE] = OUTPUTS_SELECT " LIMIT ? OFFSET ?",
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=OFF;"
    "CREATE TABLE IF NOT EXISTS jobs(job_id TEXT PRIMARY KEY, name TEXT, spec_json TEXT NOT NULL,"
    " state INTEGER NOT NULL, error TEXT, created_at INTEGER, started_at INTEGER, finished_at INTEGER,"
    " records_total INTEGER DEFAULT 0, records_invalid INTEGER DEFAULT 0, out_dir TEXT, updated_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS records(job_id TEXT NOT NULL, idx INTEGER NOT NULL, rid TEXT, prompt TEXT NOT NULL,"
    " reference TEXT, context TEXT, category TEXT, responses TEXT, PRIMARY KEY(job_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS shards(job_id TEXT NOT NULL, shard_id INTEGER NOT NULL, first_idx INTEGER NOT NULL,"
    " last_idx INTEGER NOT NULL, n INTEGER NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(job_id, shard_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS outputs(job_id TEXT NOT NULL, idx INTEGER NOT NULL, target INTEGER NOT NULL,"
    " model TEXT, response TEXT, from_dataset INTEGER, error TEXT, in_tokens INTEGER, out_tokens INTEGER,"
    " latency_ms REAL, PRIMARY KEY(job_id, idx, target));"
    "CREATE TABLE IF NOT EXISTS scores(job_id TEXT NOT NULL, idx INTEGER NOT NULL, target INTEGER NOT NULL,"
    " metric TEXT NOT NULL, status INTEGER NOT NULL, rating TEXT, score REAL, normalized REAL, explanation TEXT,"
    " error TEXT, in_tokens INTEGER, out_tokens INTEGER, attempts INTEGER,"
    " PRIMARY KEY(job_id, idx, target, metric));";

struct store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_MAX];
};

const char *job_state_name(job_state_t s)
{
    static const char *const n[] = {"pending", "running", "succeeded", "failed", "stopped"};
    return (unsigned)s < 5 ? n[s] : "?";
}

/* Columns added since the first schema: databases made before them get them on open. */
static int migrate(store_t *s, char *err, size_t errlen)
{
    static const struct { const char *table, *column, *type; } added[] = {
        {"jobs", "out_dir", "TEXT"},
        {"jobs", "updated_at", "INTEGER"},
    };
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
        char q[256];
        snprintf(q, sizeof q, "SELECT 1 FROM pragma_table_info('%s') WHERE name='%s'", added[i].table, added[i].column);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(s->db));
            return -1;
        }
        int have = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (have) continue;
        snprintf(q, sizeof q, "ALTER TABLE %s ADD COLUMN %s %s", added[i].table, added[i].column, added[i].type);
        char *emsg = NULL;
        if (sqlite3_exec(s->db, q, NULL, NULL, &emsg) != SQLITE_OK) {
            snprintf(err, errlen, "cannot upgrade the schema (%s): %s", q, emsg ? emsg : "?");
            sqlite3_free(emsg);
            return -1;
        }
    }
    return 0;
}

store_t *store_open(const char *path, char *err, size_t errlen)
{
    store_t *s = xcalloc(1, sizeof(*s));
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 10000);
    char *emsg = NULL;
    if (sqlite3_exec(s->db, schema, NULL, NULL, &emsg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot create schema: %s", path, emsg ? emsg : "?");
        sqlite3_free(emsg);
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    if (migrate(s, err, errlen) < 0) {
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    for (int i = 0; i < Q_MAX; i++) {
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &s->q[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: cannot prepare statement %d: %s", path, i, sqlite3_errmsg(s->db));
            store_close(&s);
            return NULL;
        }
    }
    return s;
}

void store_close(store_t **self_p)
{
    if (!self_p || !*self_p) return;
    store_t *s = *self_p;
    for (int i = 0; i < Q_MAX; i++) sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
    *self_p = NULL;
}

sqlite3 *store_db(store_t *s) { return s->db; }
const char *store_errmsg(store_t *s) { return sqlite3_errmsg(s->db); }

static int exec(store_t *s, const char *q)
{
    char *emsg = NULL;
    if (sqlite3_exec(s->db, q, NULL, NULL, &emsg) != SQLITE_OK) {
        log_error("%s: %s", q, emsg ? emsg : "?");
        sqlite3_free(emsg);
        return -1;
    }
    return 0;
}

int store_begin(store_t *s) { return exec(s, "BEGIN"); }
int store_commit(store_t *s) { return exec(s, "COMMIT"); }
int store_rollback(store_t *s) { return exec(s, "ROLLBACK"); }

static sqlite3_stmt *stmt(store_t *s, int q)
{
    sqlite3_reset(s->q[q]);
    sqlite3_clear_bindings(s->q[q]);
    return s->q[q];
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static int step_done(store_t *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("database: %s", sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* Ends a walk over the rows of st, whose last step returned rc: resets st and returns ret (-1 when
 * the walk was stopped), or -1, logged, when the rows ended in an error rather than SQLITE_DONE. */
static int walk_end(store_t *s, sqlite3_stmt *st, int rc, int ret)
{
    sqlite3_reset(st);
    if (!ret && rc != SQLITE_DONE) {
        log_error("database: %s", sqlite3_errmsg(s->db));
        ret = -1;
    }
    return ret;
}

int store_job_create(store_t *s, const char *job_id, const char *name, const char *spec_json)
{
    sqlite3_stmt *st = stmt(s, Q_JOB_CREATE);
    bind_text(st, 1, job_id);
    bind_text(st, 2, name);
    bind_text(st, 3, spec_json);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    return step_done(s, st);
}

int store_job_set_state(store_t *s, const char *job_id, job_state_t js, const char *error)
{
    sqlite3_stmt *st = stmt(s, Q_JOB_STATE);
    sqlite3_int64 now = (sqlite3_int64)time(NULL);
    sqlite3_bind_int(st, 1, (int)js);
    bind_text(st, 2, error);
    sqlite3_bind_int(st, 3, (int)js);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int(st, 5, (int)js);
    sqlite3_bind_int64(st, 6, now);
    bind_text(st, 7, job_id);
    return step_done(s, st);
}

int store_job_set_counts(store_t *s, const char *job_id, uint64_t total, uint64_t invalid)
{
    sqlite3_stmt *st = stmt(s, Q_JOB_COUNTS);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)total);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)invalid);
    bind_text(st, 3, job_id);
    return step_done(s, st);
}

static char *responses_json(const record_t *r)
{
    if (!r->n_responses) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < r->n_responses; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "response", r->responses[i].response ? r->responses[i].response : "");
        if (r->responses[i].model_identifier)
            cJSON_AddStringToObject(o, "modelIdentifier", r->responses[i].model_identifier);
        cJSON_AddItemToArray(a, o);
    }
    char *txt = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return txt;
}

static void responses_parse(const char *txt, record_t *r)
{
    cJSON *a = txt ? cJSON_Parse(txt) : NULL;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (n > 0) {
        r->responses = xcalloc((size_t)n, sizeof(record_response_t));
        r->n_responses = (size_t)n;
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_GetArrayItem(a, i);
            r->responses[i].response = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "response")));
            r->responses[i].model_identifier = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "modelIdentifier")));
        }
    }
    cJSON_Delete(a);
}

int store_record_put(store_t *s, const char *job_id, const record_t *r)
{
    sqlite3_stmt *st = stmt(s, Q_RECORD_PUT);
    char *resp = responses_json(r);
    bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->index);
    bind_text(st, 3, r->id);
    bind_text(st, 4, r->prompt);
    bind_text(st, 5, r->reference);
    bind_text(st, 6, r->context);
    bind_text(st, 7, r->category);
    bind_text(st, 8, resp);
    int rc = step_done(s, st);
    free(resp);
    return rc;
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static void record_from_row(sqlite3_stmt *st, int c0, record_t *r)
{
    /* columns c0..: rid, prompt, reference, context, category[, responses] */
    r->id = col_text(st, c0);
    r->prompt = col_text(st, c0 + 1);
    r->reference = col_text(st, c0 + 2);
    r->context = col_text(st, c0 + 3);
    r->category = col_text(st, c0 + 4);
}

int store_records_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, unsigned targets,
                        record_t **out, size_t *n)
{
    sqlite3_stmt *st = stmt(s, Q_RECORDS_RANGE);
    bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)targets);
    size_t cap = 0, cnt = 0;
    record_t *recs = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            recs = xrealloc(recs, cap * sizeof(record_t));
        }
        record_t *r = &recs[cnt++];
        memset(r, 0, sizeof(*r));
        r->index = (uint64_t)sqlite3_column_int64(st, 0);
        record_from_row(st, 1, r);
        responses_parse((const char *)sqlite3_column_text(st, 6), r);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < cnt; i++) record_clear(&recs[i]);
        free(recs);
        log_error("database: %s", sqlite3_errmsg(s->db));
        return -1;
    }
    *out = recs;
    *n = cnt;
    return 0;
}

int store_shard_put(store_t *s, const char *job_id, uint64_t shard_id, uint64_t first, uint64_t last, uint32_t n)
{
    sqlite3_stmt *st = stmt(s, Q_SHARD_PUT);
    bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)shard_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)last);
    sqlite3_bind_int(st, 5, (int)n);
    return step_done(s, st);
}

int store_shard_set_state(store_t *s, const char *job_id, uint64_t shard_id, shard_state_t ss)
{
    sqlite3_stmt *st = stmt(s, Q_SHARD_STATE);
    sqlite3_bind_int(st, 1, (int)ss);
    sqlite3_bind_int(st, 2, (int)ss);
    bind_text(st, 3, job_id);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)shard_id);
    return step_done(s, st);
}

int store_result_commit(store_t *s, const char *job_id, const result_t *r, size_t *new_scores)
{
    *new_scores = 0;
    sqlite3_stmt *st = stmt(s, Q_OUTPUT_PUT);
    bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->record_index);
    sqlite3_bind_int(st, 3, (int)r->target);
    bind_text(st, 4, r->model);
    bind_text(st, 5, r->response);
    sqlite3_bind_int(st, 6, r->response_from_dataset ? 1 : 0);
    bind_text(st, 7, r->error);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->usage.input_tokens);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->usage.output_tokens);
    sqlite3_bind_double(st, 10, r->latency_ms);
    if (step_done(s, st) < 0) return -1;
    for (size_t i = 0; i < r->n_scores; i++) {
        const score_t *sc = &r->scores[i];
        st = stmt(s, Q_SCORE_PUT);
        bind_text(st, 1, job_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->record_index);
        sqlite3_bind_int(st, 3, (int)r->target);
        bind_text(st, 4, sc->metric);
        sqlite3_bind_int(st, 5, (int)sc->status);
        bind_text(st, 6, sc->rating);
        if (sc->has_score) {
            sqlite3_bind_double(st, 7, sc->score);
            sqlite3_bind_double(st, 8, sc->normalized);
        }
        bind_text(st, 9, sc->explanation);
        bind_text(st, 10, sc->error);
        sqlite3_bind_int64(st, 11, (sqlite3_int64)sc->usage.input_tokens);
        sqlite3_bind_int64(st, 12, (sqlite3_int64)sc->usage.output_tokens);
        sqlite3_bind_int(st, 13, (int)sc->attempts);
        if (step_done(s, st) < 0) return -1;
        *new_scores += (size_t)sqlite3_changes(s->db);
    }
    return 0;
}

/* Steps `st` (a statement over OUTPUTS_SELECT, bound) and calls cb for each row with its scores.
 * Two statements are live at once (outputs, then each one's scores). */
static int outputs_walk(store_t *s, sqlite3_stmt *st, const char *job_id, store_output_cb cb, void *arg)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        record_t rec = {0};
        result_t res = {0};
        rec.index = res.record_index = (uint64_t)sqlite3_column_int64(st, 0);
        res.target = (target_t)sqlite3_column_int(st, 1);
        res.model = col_text(st, 2);
        res.response = col_text(st, 3);
        res.response_from_dataset = sqlite3_column_int(st, 4) != 0;
        res.error = col_text(st, 5);
        res.usage.input_tokens = (uint64_t)sqlite3_column_int64(st, 6);
        res.usage.output_tokens = (uint64_t)sqlite3_column_int64(st, 7);
        res.latency_ms = sqlite3_column_double(st, 8);
        record_from_row(st, 9, &rec);
        res.job_id = xstrdup(job_id);

        sqlite3_stmt *sq = stmt(s, Q_SCORES_OF);
        bind_text(sq, 1, job_id);
        sqlite3_bind_int64(sq, 2, (sqlite3_int64)res.record_index);
        sqlite3_bind_int(sq, 3, (int)res.target);
        int src;
        while ((src = sqlite3_step(sq)) == SQLITE_ROW) {
            score_t *sc = result_add_score(&res);
            sc->metric = col_text(sq, 0);
            sc->status = (score_status_t)sqlite3_column_int(sq, 1);
            sc->rating = col_text(sq, 2);
            sc->has_score = sqlite3_column_type(sq, 3) != SQLITE_NULL;
            sc->score = sqlite3_column_double(sq, 3);
            sc->normalized = sqlite3_column_double(sq, 4);
            sc->explanation = col_text(sq, 5);
            sc->error = col_text(sq, 6);
            sc->usage.input_tokens = (uint64_t)sqlite3_column_int64(sq, 7);
            sc->usage.output_tokens = (uint64_t)sqlite3_column_int64(sq, 8);
            sc->attempts = (uint32_t)sqlite3_column_int(sq, 9);
        }
        sqlite3_reset(sq);
        if (src != SQLITE_DONE) ret = -1;
        if (!ret && cb(&rec, &res, arg) != 0) ret = -1;
        record_clear(&rec);
        result_clear(&res);
        if (ret) break;
    }
    return walk_end(s, st, rc, ret);
}

int store_outputs_each(store_t *s, const char *job_id, store_output_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, Q_OUTPUTS_EACH);
    bind_text(st, 1, job_id);
    return outputs_walk(s, st, job_id, cb, arg);
}

static int count1(store_t *s, int q, const char *job_id, uint64_t *out)
{
    sqlite3_stmt *st = stmt(s, q);
    bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_counts(store_t *s, const char *job_id, uint64_t *outputs, uint64_t *scores)
{
    if (count1(s, Q_COUNT_OUT, job_id, outputs) < 0) return -1;
    return count1(s, Q_COUNT_SCORES, job_id, scores);
}

int store_outputs_in_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, uint64_t *n)
{
    sqlite3_stmt *st = stmt(s, Q_OUT_RANGE);
    bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_usage(store_t *s, const char *job_id, store_usage_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, Q_USAGE_INF);
    bind_text(st, 1, job_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb((const char *)sqlite3_column_text(st, 0), false, (uint64_t)sqlite3_column_int64(st, 1),
           (uint64_t)sqlite3_column_int64(st, 2), (uint64_t)sqlite3_column_int64(st, 3), arg);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return -1;
    st = stmt(s, Q_USAGE_JUDGE);
    bind_text(st, 1, job_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        cb(NULL, true, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
           (uint64_t)sqlite3_column_int64(st, 2), arg);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- reading jobs back ---- */

void store_job_clear(store_job_t *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->name);
    free(j->spec_json);
    free(j->error);
    free(j->out_dir);
    memset(j, 0, sizeof(*j));
}

static void job_from_row(sqlite3_stmt *st, store_job_t *j)
{
    /* columns: JOB_COLUMNS */
    memset(j, 0, sizeof(*j));
    j->job_id = col_text(st, 0);
    j->name = col_text(st, 1);
    j->spec_json = col_text(st, 2);
    j->state = (job_state_t)sqlite3_column_int(st, 3);
    j->error = col_text(st, 4);
    j->created_at = (int64_t)sqlite3_column_int64(st, 5);
    j->started_at = (int64_t)sqlite3_column_int64(st, 6);
    j->finished_at = (int64_t)sqlite3_column_int64(st, 7);
    j->records_total = (uint64_t)sqlite3_column_int64(st, 8);
    j->records_invalid = (uint64_t)sqlite3_column_int64(st, 9);
    j->out_dir = col_text(st, 10);
    j->updated_at = (int64_t)sqlite3_column_int64(st, 11);
}

int store_job_get(store_t *s, const char *job_id, store_job_t *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = stmt(s, Q_JOB_GET);
    bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) job_from_row(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return 1;
    log_error("database: %s", sqlite3_errmsg(s->db));
    return -1;
}

int store_jobs_each(store_t *s, store_job_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, Q_JOBS_ALL);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_job_t j;
        job_from_row(st, &j);
        ret = cb(&j, arg) != 0 ? -1 : 0;
        store_job_clear(&j);
        if (ret) break;
    }
    return walk_end(s, st, rc, ret);
}

int store_job_match(store_t *s, const char *prefix, char **ids, size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = stmt(s, Q_JOB_MATCH);
    bind_text(st, 1, prefix);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool exact = sqlite3_column_int(st, 1) != 0;
        if (exact) {
            /* Ordered first: the exact id is the answer, whatever else begins with it. */
            if (max > 0) ids[0] = col_text(st, 0);
            *n = 1;
            rc = SQLITE_DONE;
            break;
        }
        if (*n < max) ids[*n] = col_text(st, 0);
        (*n)++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("database: %s", sqlite3_errmsg(s->db));
        for (size_t i = 0; i < *n && i < max; i++) xfree(&ids[i]);
        *n = 0;
        return -1;
    }
    return 0;
}

/* Runs the reads of one call in one snapshot: opens a read transaction unless the caller has one. */
static int snapshot_begin(store_t *s, bool *own)
{
    *own = sqlite3_get_autocommit(s->db) != 0;
    return *own ? exec(s, "BEGIN") : 0;
}

static void snapshot_end(store_t *s, bool own)
{
    if (own && exec(s, "COMMIT") < 0) {}   /* a read-only transaction: nothing to lose */
}

int store_job_stats(store_t *s, const char *job_id, unsigned targets, store_job_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    bool own;
    if (snapshot_begin(s, &own) < 0) return -1;
    int ret = count1(s, Q_RECORDS_COUNT, job_id, &out->records);

    sqlite3_stmt *st = stmt(s, Q_RECORDS_DONE);
    bind_text(st, 1, job_id);
    sqlite3_bind_int(st, 2, (int)(targets ? targets : 1));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out->records_done = (uint64_t)sqlite3_column_int64(st, 0);
    else ret = -1;
    sqlite3_reset(st);

    st = stmt(s, Q_OUT_STATS);
    bind_text(st, 1, job_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->outputs = (uint64_t)sqlite3_column_int64(st, 0);
        out->output_errors = (uint64_t)sqlite3_column_int64(st, 1);   /* sum() of no row is NULL: 0 */
    } else {
        ret = -1;
    }
    sqlite3_reset(st);

    st = stmt(s, Q_SHARD_STATS);
    bind_text(st, 1, job_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < 3) out->shards[state] = (uint64_t)sqlite3_column_int64(st, 1);
        out->dispatches += (uint64_t)sqlite3_column_int64(st, 2);
    }
    if (rc != SQLITE_DONE) ret = -1;
    sqlite3_reset(st);

    if (store_score_counts(s, job_id, out->scores) < 0) ret = -1;

    if (ret) log_error("database: %s", sqlite3_errmsg(s->db));
    snapshot_end(s, own);
    return ret;
}

int store_outputs_page(store_t *s, const char *job_id, uint64_t offset, uint64_t limit, store_output_cb cb,
                       void *arg)
{
    sqlite3_stmt *st = stmt(s, Q_OUTPUTS_PAGE);
    bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, limit > (uint64_t)INT64_MAX ? -1 : (sqlite3_int64)limit);   /* -1: no limit */
    sqlite3_bind_int64(st, 3, offset > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
    return outputs_walk(s, st, job_id, cb, arg);
}

int store_job_set_outdir(store_t *s, const char *job_id, const char *out_dir)
{
    sqlite3_stmt *st = stmt(s, Q_JOB_OUTDIR);
    bind_text(st, 1, out_dir);
    bind_text(st, 2, job_id);
    return step_done(s, st);
}

int store_job_touch(store_t *s, const char *job_id)
{
    sqlite3_stmt *st = stmt(s, Q_JOB_TOUCH);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
    bind_text(st, 2, job_id);
    return step_done(s, st);
}

int store_shards_each(store_t *s, const char *job_id, store_shard_cb cb, void *arg)
{
    sqlite3_stmt *st = stmt(s, Q_SHARDS_ALL);
    bind_text(st, 1, job_id);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cb((uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
               (uint64_t)sqlite3_column_int64(st, 2), (uint32_t)sqlite3_column_int(st, 3),
               (shard_state_t)sqlite3_column_int(st, 4), (uint32_t)sqlite3_column_int(st, 5), arg) != 0) {
            ret = -1;
            break;
        }
    }
    return walk_end(s, st, rc, ret);
}

int store_score_counts(store_t *s, const char *job_id, uint64_t counts[4])
{
    memset(counts, 0, 4 * sizeof(uint64_t));
    sqlite3_stmt *st = stmt(s, Q_SCORE_COUNTS);
    bind_text(st, 1, job_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = sqlite3_column_int(st, 0);
        if (status >= 0 && status < 4) counts[status] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}
