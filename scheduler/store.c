/* store: the connection, the schema, jobs, records and shards; see store.h.
 *
 * DESIGN: one database file holds every job of a scheduler. Records are stored once when the job
 * is loaded (only valid lines), so shards are re-read from here, not from the dataset. Results are
 * split into `outputs` (one row per (record, target): the response, usage, latency, error) and
 * `scores` (one row per (record, target, metric)); both use INSERT OR IGNORE on their natural key.
 * WAL with synchronous=NORMAL: a commit survives a process crash; writers batch commits in
 * transactions. Columns added after the first schema are added to older databases on open (the
 * only change a STORE_READ connection may make: adding an empty column loses nothing). */
#define LOG_MODULE "store"
#include "store_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mem.h"

#define JOB_COLUMNS                                                                              \
    "job_id, name, spec_json, state, error, created_at, started_at, finished_at, records_total," \
    " records_invalid, out_dir, updated_at, owner, note, counts, failure"
#define OUTPUTS_SELECT                                                                           \
    "SELECT o.idx, o.target, o.model, o.response, o.from_dataset, o.error, o.in_tokens,"         \
    " o.out_tokens, o.latency_ms, r.rid, r.prompt, r.reference, r.context, r.category, o.origin" \
    " FROM outputs o JOIN records r ON r.job_id=o.job_id AND r.idx=o.idx"                        \
    " WHERE o.job_id=? ORDER BY o.idx, o.target"

static const char *const sql[Q_MAX] = {
    [Q_JOB_CREATE] = "INSERT INTO jobs(job_id, name, spec_json, state, created_at, out_dir) VALUES(?,?,?,0,?,?)",
    [Q_JOB_STATE] = "UPDATE jobs SET state=?, error=?, "
                    "started_at=CASE WHEN ?=1 AND started_at IS NULL THEN ? ELSE started_at END, "
                    "finished_at=CASE WHEN ? IN (2,3,4) THEN ? ELSE finished_at END WHERE job_id=?",
    [Q_JOB_COUNTS] = "UPDATE jobs SET records_total=?, records_invalid=? WHERE job_id=?",
    [Q_JOB_OUTDIR] = "UPDATE jobs SET out_dir=? WHERE job_id=?",
    [Q_JOB_TOUCH] = "UPDATE jobs SET updated_at=? WHERE job_id=?",
    [Q_JOB_SET_SUMMARY] = "UPDATE jobs SET summary_json=? WHERE job_id=?",
    [Q_JOB_SUMMARY] = "SELECT summary_json FROM jobs WHERE job_id=? AND summary_json IS NOT NULL",
    [Q_JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE job_id=?",
    [Q_JOBS_ALL] = "SELECT " JOB_COLUMNS " FROM jobs WHERE state>=0 ORDER BY created_at DESC, rowid DESC",
    [Q_JOB_MATCH] = "SELECT job_id, job_id=?1 FROM jobs WHERE state>=0 AND substr(job_id, 1, length(?1))=?1"
                    " ORDER BY job_id=?1 DESC, created_at DESC, rowid DESC",
    [Q_RECORD_PUT] = "INSERT OR REPLACE INTO records(job_id, idx, rid, prompt, reference, context, category, responses)"
                     " VALUES(?,?,?,?,?,?,?,?)",
    [Q_RECORDS_RANGE] = "SELECT idx, rid, prompt, reference, context, category, responses FROM records"
                        " WHERE job_id=? AND idx BETWEEN ? AND ?"
                        " AND (SELECT count(*) FROM scores c WHERE c.job_id=records.job_id AND c.idx=records.idx) < ?"
                        " ORDER BY idx",
    [Q_SHARD_PUT] = "INSERT OR REPLACE INTO shards(job_id, shard_id, first_idx, last_idx, n, state) VALUES(?,?,?,?,?,0)",
    [Q_SHARD_STATE] = "UPDATE shards SET state=?, attempts=attempts+(?=1) WHERE job_id=? AND shard_id=?",
    [Q_SHARDS_ALL] = "SELECT shard_id, first_idx, last_idx, n, state, attempts, leases FROM shards WHERE job_id=?"
                     " ORDER BY shard_id",
    [Q_OUTPUT_PUT] = "INSERT OR IGNORE INTO outputs(job_id, idx, target, model, response, from_dataset, error,"
                     " in_tokens, out_tokens, latency_ms, origin) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [Q_SCORE_PUT] = "INSERT OR IGNORE INTO scores(job_id, idx, target, metric, status, rating, score, normalized,"
                    " explanation, error, in_tokens, out_tokens, attempts, cached) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_OUTPUTS_EACH] = OUTPUTS_SELECT,
    [Q_OUTPUTS_PAGE] = OUTPUTS_SELECT " LIMIT ? OFFSET ?",
    [Q_SCORES_OF] = "SELECT metric, status, rating, score, normalized, explanation, error, in_tokens, out_tokens,"
                    " attempts, cached FROM scores WHERE job_id=? AND idx=? AND target=? ORDER BY rowid",
    [Q_COUNT_OUT] = "SELECT count(*) FROM outputs WHERE job_id=?",
    [Q_COUNT_SCORES] = "SELECT count(*) FROM scores WHERE job_id=?",
    [Q_OUT_RANGE] = "SELECT count(*) FROM (SELECT 1 FROM scores WHERE job_id=? AND idx BETWEEN ? AND ?"
                    " GROUP BY idx, target HAVING count(*)>=?)",
    [Q_USAGE_INF] = "SELECT model, sum(in_tokens), sum(out_tokens), sum(from_dataset=0 AND error IS NULL AND origin=0)"
                    " FROM outputs WHERE job_id=? AND from_dataset=0 GROUP BY model",
    [Q_USAGE_JUDGE] = "SELECT sum(in_tokens), sum(out_tokens), sum(attempts) FROM scores WHERE job_id=?",
    [Q_SCORE_COUNTS] = "SELECT status, count(*) FROM scores WHERE job_id=? GROUP BY status",
    [Q_RECORDS_COUNT] = "SELECT count(*) FROM records WHERE job_id=?",
    [Q_RECORDS_DONE] = "SELECT count(*) FROM (SELECT idx FROM scores WHERE job_id=?1 GROUP BY idx HAVING count(*)>=?2)",
    [Q_OUT_STATS] = "SELECT count(*), sum(error IS NOT NULL) FROM outputs WHERE job_id=?",
    [Q_SHARD_STATS] = "SELECT state, count(*), sum(attempts), sum(leases) FROM shards WHERE job_id=? GROUP BY state",
    [Q_SHARD_LEASES] = "UPDATE shards SET leases=? WHERE job_id=? AND shard_id=?",
    [Q_JOB_CREATE_AS] = "INSERT INTO jobs(job_id, name, spec_json, state, created_at, out_dir, owner)"
                        " VALUES(?,?,?,?,?,?,?)",
    [Q_JOB_PROGRESS] = "UPDATE jobs SET counts=?, updated_at=? WHERE job_id=?",
    [Q_JOB_NOTE] = "UPDATE jobs SET note=? WHERE job_id=?",
    [Q_JOB_STATE_OF] = "SELECT state FROM jobs WHERE job_id=?",
    [Q_UNITS_OF] = "SELECT target, response, from_dataset, model, error FROM outputs WHERE job_id=? AND idx=?"
                   " ORDER BY target",
    [Q_METRICS_OF] = "SELECT metric FROM scores WHERE job_id=? AND idx=? AND target=?",
    [Q_UNITS_DONE] =
        "SELECT count(*) FROM (SELECT 1 FROM scores WHERE job_id=? GROUP BY idx, target HAVING count(*)>=?)",
    [Q_SHARDS_UNSENT] = "UPDATE shards SET state=0 WHERE job_id=? AND state=1",
    [Q_UNIT_SCORES] = "SELECT count(*) FROM scores WHERE job_id=? AND idx=? AND target=?",
    [Q_JOB_PUBLISH] = "UPDATE jobs SET state=0, created_at=? WHERE job_id=? AND state=-1",
    [Q_JOBS_OWNED] = "SELECT job_id, state FROM jobs WHERE owner=? AND state IN (-1,0,1,5) ORDER BY created_at, rowid",
    [Q_JOB_FAILURE] = "UPDATE jobs SET failure=? WHERE job_id=?",
};

static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=NORMAL;"
                              "PRAGMA foreign_keys=OFF;";

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS jobs(job_id TEXT PRIMARY KEY, name TEXT, spec_json TEXT NOT NULL,"
    " state INTEGER NOT NULL, error TEXT, created_at INTEGER, started_at INTEGER, finished_at INTEGER,"
    " records_total INTEGER DEFAULT 0, records_invalid INTEGER DEFAULT 0, out_dir TEXT, updated_at INTEGER,"
    " summary_json TEXT, owner TEXT, note TEXT, counts TEXT, failure TEXT);"
    "CREATE TABLE IF NOT EXISTS records(job_id TEXT NOT NULL, idx INTEGER NOT NULL, rid TEXT, prompt TEXT NOT NULL,"
    " reference TEXT, context TEXT, category TEXT, responses TEXT, PRIMARY KEY(job_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS shards(job_id TEXT NOT NULL, shard_id INTEGER NOT NULL, first_idx INTEGER NOT NULL,"
    " last_idx INTEGER NOT NULL, n INTEGER NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " leases INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(job_id, shard_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS outputs(job_id TEXT NOT NULL, idx INTEGER NOT NULL, target INTEGER NOT NULL,"
    " model TEXT, response TEXT, from_dataset INTEGER, error TEXT, in_tokens INTEGER, out_tokens INTEGER,"
    " latency_ms REAL, origin INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(job_id, idx, target));"
    "CREATE TABLE IF NOT EXISTS scores(job_id TEXT NOT NULL, idx INTEGER NOT NULL, target INTEGER NOT NULL,"
    " metric TEXT NOT NULL, status INTEGER NOT NULL, rating TEXT, score REAL, normalized REAL, explanation TEXT,"
    " error TEXT, in_tokens INTEGER, out_tokens INTEGER, attempts INTEGER, cached INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(job_id, idx, target, metric));"
    "CREATE TABLE IF NOT EXISTS mlflow_sync(job_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY (job_id, key)) WITHOUT ROWID;"
    /* store_cache.c: model and judge answers by the SHA-256 of their content, shared by every job */
    "CREATE TABLE IF NOT EXISTS cache(key BLOB NOT NULL, kind INTEGER NOT NULL, text TEXT, status INTEGER,"
    " rating TEXT, in_tokens INTEGER, out_tokens INTEGER, created_at INTEGER NOT NULL, PRIMARY KEY(key, kind))"
    " WITHOUT ROWID;";

/* ---- helpers (store_int.h) ---- */

const char *store_errmsg(store_t *s) { return sqlite3_errmsg(s->db); }
const char *store_path(const store_t *s) { return s->path; }

int store_exec(store_t *s, const char *q)
{
    char *emsg = NULL;
    if (sqlite3_exec(s->db, q, NULL, NULL, &emsg) != SQLITE_OK) {
        log_error("%s: %s: %s", s->path, q, emsg ? emsg : "?");
        sqlite3_free(emsg);
        return -1;
    }
    return 0;
}

sqlite3_stmt *store_stmt(store_t *s, int q)
{
    sqlite3_reset(s->q[q]);
    sqlite3_clear_bindings(s->q[q]);
    return s->q[q];
}

void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

int store_step_done(store_t *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

int store_walk_end(store_t *s, sqlite3_stmt *st, int rc, int ret)
{
    sqlite3_reset(st);
    if (!ret && rc != SQLITE_DONE) {
        log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
        ret = -1;
    }
    return ret;
}

char *store_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

/* ---- the connection ---- */

int store_probe(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open: %s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_DONE) {
        ret = 1;
    } else if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        ret = -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ret;
}

/* Columns added since the first schema: databases made before them get them on open. */
static int migrate(store_t *s, char *err, size_t errlen)
{
    static const struct {
        const char *table, *column, *type;
    } added[] = {
        {"jobs", "out_dir", "TEXT"},
        {"jobs", "updated_at", "INTEGER"},
        {"jobs", "summary_json", "TEXT"},
        {"jobs", "owner", "TEXT"},
        {"jobs", "note", "TEXT"},
        {"jobs", "counts", "TEXT"},
        {"jobs", "secret", "TEXT"}, /* store_secret.c */
        {"jobs", "failure", "TEXT"},
        {"shards", "leases", "INTEGER NOT NULL DEFAULT 0"},
        {"outputs", "origin", "INTEGER NOT NULL DEFAULT 0"},
        {"scores", "cached", "INTEGER NOT NULL DEFAULT 0"},
    };
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
        char q[256];
        snprintf(q, sizeof q, "SELECT 1 FROM pragma_table_info('%s') WHERE name='%s'", added[i].table, added[i].column);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: cannot read the schema: %s", s->path, sqlite3_errmsg(s->db));
            return -1;
        }
        int have = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (have) continue;
        snprintf(q, sizeof q, "ALTER TABLE %s ADD COLUMN %s %s", added[i].table, added[i].column, added[i].type);
        char *emsg = NULL;
        if (sqlite3_exec(s->db, q, NULL, NULL, &emsg) != SQLITE_OK) {
            /* Another process opening the same old database added it between our look and ours. */
            if (emsg && strstr(emsg, "duplicate column name")) {
                sqlite3_free(emsg);
                continue;
            }
            snprintf(err, errlen, "%s: cannot upgrade the schema (%s): %s", s->path, q, emsg ? emsg : "?");
            sqlite3_free(emsg);
            return -1;
        }
    }
    return 0;
}

store_t *store_open(const char *path, store_mode_t mode, char *err, size_t errlen)
{
    store_t *s = xcalloc(1, sizeof(*s));
    s->mode = mode;
    s->path = xstrdup(path);
    s->sync_table = -1;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (mode == STORE_WRITE ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open the database: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(&s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 10000);
    char *emsg = NULL;
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, &emsg) != SQLITE_OK ||
        (mode == STORE_WRITE && sqlite3_exec(s->db, schema, NULL, NULL, &emsg) != SQLITE_OK)) {
        snprintf(err, errlen, "%s: cannot set the database up: %s", path, emsg ? emsg : sqlite3_errmsg(s->db));
        sqlite3_free(emsg);
        store_close(&s);
        return NULL;
    }
    if (migrate(s, err, errlen) < 0) {
        store_close(&s);
        return NULL;
    }
    for (int i = 0; i < Q_MAX; i++) {
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &s->q[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: not a job database of this version (statement %d: %s)", path, i,
                     sqlite3_errmsg(s->db));
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
    for (int i = 0; i < QS_MAX; i++) sqlite3_finalize(s->qs[i]);
    for (int i = 0; i < QC_MAX; i++) sqlite3_finalize(s->qc[i]);
    if (s->db && !sqlite3_get_autocommit(s->db))
        log_warn("%s: closed inside a transaction: its uncommitted changes are rolled back", s->path);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
    *self_p = NULL;
}

int store_begin(store_t *s) { return store_exec(s, "BEGIN"); }
int store_commit(store_t *s) { return store_exec(s, "COMMIT"); }
int store_rollback(store_t *s) { return store_exec(s, "ROLLBACK"); }
bool store_in_tx(store_t *s) { return sqlite3_get_autocommit(s->db) == 0; }

/* ---- jobs ---- */

int store_job_create(store_t *s, const char *job_id, const char *name, const char *spec_json, const char *out_dir)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_CREATE);
    store_bind_text(st, 1, job_id);
    store_bind_text(st, 2, name);
    store_bind_text(st, 3, spec_json);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    store_bind_text(st, 5, out_dir);
    return store_step_done(s, st);
}

int store_job_set_state(store_t *s, const char *job_id, sched_job_state_t js, const char *error)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_STATE);
    sqlite3_int64 now = (sqlite3_int64)time(NULL);
    sqlite3_bind_int(st, 1, (int)js);
    store_bind_text(st, 2, error);
    sqlite3_bind_int(st, 3, (int)js);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int(st, 5, (int)js);
    sqlite3_bind_int64(st, 6, now);
    store_bind_text(st, 7, job_id);
    return store_step_done(s, st);
}

int store_job_set_counts(store_t *s, const char *job_id, uint64_t total, uint64_t invalid)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_COUNTS);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)total);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)invalid);
    store_bind_text(st, 3, job_id);
    return store_step_done(s, st);
}

int store_job_set_outdir(store_t *s, const char *job_id, const char *out_dir)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_OUTDIR);
    store_bind_text(st, 1, out_dir);
    store_bind_text(st, 2, job_id);
    return store_step_done(s, st);
}

int store_job_touch(store_t *s, const char *job_id)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_TOUCH);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
    store_bind_text(st, 2, job_id);
    return store_step_done(s, st);
}

int store_job_set_summary(store_t *s, const char *job_id, const char *summary_json)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_SET_SUMMARY);
    store_bind_text(st, 1, summary_json);
    store_bind_text(st, 2, job_id);
    return store_step_done(s, st);
}

int store_job_summary(store_t *s, const char *job_id, char **json)
{
    *json = NULL;
    sqlite3_stmt *st = store_stmt(s, Q_JOB_SUMMARY);
    store_bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *json = store_col_text(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return *json ? 0 : 1;
    if (rc == SQLITE_DONE) return 1;
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_job_create_as(store_t *s, const char *job_id, const char *name, const char *spec_json, const char *out_dir,
                        const char *owner, int state)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_CREATE_AS);
    store_bind_text(st, 1, job_id);
    store_bind_text(st, 2, name);
    store_bind_text(st, 3, spec_json);
    sqlite3_bind_int(st, 4, state);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    store_bind_text(st, 6, out_dir);
    store_bind_text(st, 7, owner);
    return store_step_done(s, st);
}

int store_job_publish(store_t *s, const char *job_id)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_PUBLISH);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
    store_bind_text(st, 2, job_id);
    return store_step_done(s, st);
}

int store_job_state(store_t *s, const char *job_id, int *state)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_STATE_OF);
    store_bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *state = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return 1;
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_job_set_failure(store_t *s, const char *job_id, const char *failure)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_FAILURE);
    store_bind_text(st, 1, failure);
    store_bind_text(st, 2, job_id);
    return store_step_done(s, st);
}

int store_job_set_note(store_t *s, const char *job_id, const char *note)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOB_NOTE);
    store_bind_text(st, 1, note);
    store_bind_text(st, 2, job_id);
    return store_step_done(s, st);
}

int store_counts_parse(const char *json, store_counts_t *c)
{
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return -1;
    }
    const char *keys[] = {"units_done", "unit_errors", "records_done"};
    uint64_t *dst[] = {&c->units_done, &c->unit_errors, &c->records_done};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) *dst[i] = (uint64_t)v->valuedouble;
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scores");
    for (int i = 0; i < 4 && cJSON_IsArray(sc); i++) {
        const cJSON *v = cJSON_GetArrayItem(sc, i);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) c->scores[i] = (uint64_t)v->valuedouble;
    }
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "saved");
    c->has_saved = cJSON_IsArray(sv) && cJSON_GetArraySize(sv) == 3;
    for (int i = 0; i < 3 && c->has_saved; i++) {
        const cJSON *v = cJSON_GetArrayItem(sv, i);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) c->saved[i] = (uint64_t)v->valuedouble;
    }
    cJSON_Delete(o);
    return 0;
}

int store_job_set_progress(store_t *s, const char *job_id, const store_counts_t *c)
{
    char txt[384];
    snprintf(txt, sizeof txt,
             "{\"units_done\":%llu,\"unit_errors\":%llu,\"records_done\":%llu,\"scores\":[%llu,%llu,%llu,%llu],"
             "\"saved\":[%llu,%llu,%llu]}",
             (unsigned long long)c->units_done, (unsigned long long)c->unit_errors, (unsigned long long)c->records_done,
             (unsigned long long)c->scores[0], (unsigned long long)c->scores[1], (unsigned long long)c->scores[2],
             (unsigned long long)c->scores[3], (unsigned long long)c->saved[0], (unsigned long long)c->saved[1],
             (unsigned long long)c->saved[2]);
    sqlite3_stmt *st = store_stmt(s, Q_JOB_PROGRESS);
    store_bind_text(st, 1, txt);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
    store_bind_text(st, 3, job_id);
    return store_step_done(s, st);
}

int store_shards_unsend(store_t *s, const char *job_id)
{
    sqlite3_stmt *st = store_stmt(s, Q_SHARDS_UNSENT);
    store_bind_text(st, 1, job_id);
    return store_step_done(s, st);
}

int store_jobs_owned(store_t *s, const char *owner, store_owned_cb cb, void *arg)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOBS_OWNED);
    store_bind_text(st, 1, owner);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1), arg) != 0) {
            ret = -1;
            break;
        }
    }
    return store_walk_end(s, st, rc, ret);
}

/* Deletes in runs of DELETE_RUN rows, each its own transaction, so that removing a large job
 * never holds the write lock for long. */
#define DELETE_RUN 20000

int store_job_delete(store_t *s, const char *job_id)
{
    static const char *const q[] = {
        "DELETE FROM scores WHERE rowid IN (SELECT rowid FROM scores WHERE job_id=?1 LIMIT 20000)",
        "DELETE FROM outputs WHERE rowid IN (SELECT rowid FROM outputs WHERE job_id=?1 LIMIT 20000)",
        "DELETE FROM records WHERE (job_id, idx) IN (SELECT job_id, idx FROM records WHERE job_id=?1 LIMIT 20000)",
        "DELETE FROM shards WHERE (job_id, shard_id) IN (SELECT job_id, shard_id FROM shards WHERE job_id=?1 LIMIT 20000)",
        "DELETE FROM mlflow_sync WHERE job_id=?1",
        "DELETE FROM jobs WHERE job_id=?1",
    };
    _Static_assert(DELETE_RUN == 20000, "the statements above spell the run out");
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL) != SQLITE_OK) {
            log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
            return -1;
        }
        store_bind_text(st, 1, job_id);
        int rc;
        do {
            sqlite3_reset(st);
            rc = sqlite3_step(st);
        } while (rc == SQLITE_DONE && sqlite3_changes(s->db) >= DELETE_RUN);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            log_error("%s: deleting job %s: %s", s->path, job_id, sqlite3_errmsg(s->db));
            return -1;
        }
    }
    return 0;
}

void store_job_clear(store_job_t *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->name);
    free(j->spec_json);
    free(j->error);
    free(j->out_dir);
    free(j->owner);
    free(j->note);
    free(j->failure);
    memset(j, 0, sizeof(*j));
}

static void job_from_row(sqlite3_stmt *st, store_job_t *j)
{
    /* columns: JOB_COLUMNS */
    memset(j, 0, sizeof(*j));
    j->job_id = store_col_text(st, 0);
    j->name = store_col_text(st, 1);
    j->spec_json = store_col_text(st, 2);
    j->state = (sched_job_state_t)sqlite3_column_int(st, 3);
    j->error = store_col_text(st, 4);
    j->created_at = (int64_t)sqlite3_column_int64(st, 5);
    j->started_at = (int64_t)sqlite3_column_int64(st, 6);
    j->finished_at = (int64_t)sqlite3_column_int64(st, 7);
    j->records_total = (uint64_t)sqlite3_column_int64(st, 8);
    j->records_invalid = (uint64_t)sqlite3_column_int64(st, 9);
    j->out_dir = store_col_text(st, 10);
    j->updated_at = (int64_t)sqlite3_column_int64(st, 11);
    j->owner = store_col_text(st, 12);
    j->note = store_col_text(st, 13);
    const unsigned char *counts = sqlite3_column_text(st, 14);
    if (counts) j->has_counts = store_counts_parse((const char *)counts, &j->counts) == 0;
    j->failure = store_col_text(st, 15);
}

int store_job_get(store_t *s, const char *job_id, store_job_t *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = store_stmt(s, Q_JOB_GET);
    store_bind_text(st, 1, job_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) job_from_row(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return 1;
    log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

int store_jobs_each(store_t *s, store_job_cb cb, void *arg)
{
    sqlite3_stmt *st = store_stmt(s, Q_JOBS_ALL);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_job_t j;
        job_from_row(st, &j);
        ret = cb(&j, arg) != 0 ? -1 : 0;
        store_job_clear(&j);
        if (ret) break;
    }
    return store_walk_end(s, st, rc, ret);
}

int store_job_match(store_t *s, const char *prefix, char **ids, size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = store_stmt(s, Q_JOB_MATCH);
    store_bind_text(st, 1, prefix);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool exact = sqlite3_column_int(st, 1) != 0;
        if (exact) {
            /* Ordered first: the exact id is the answer, whatever else begins with it. */
            if (max > 0) ids[0] = store_col_text(st, 0);
            *n = 1;
            rc = SQLITE_DONE;
            break;
        }
        if (*n < max) ids[*n] = store_col_text(st, 0);
        (*n)++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("%s: %s", s->path, sqlite3_errmsg(s->db));
        for (size_t i = 0; i < *n && i < max; i++) xfree(&ids[i]);
        *n = 0;
        return -1;
    }
    return 0;
}

/* ---- records ---- */

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
    sqlite3_stmt *st = store_stmt(s, Q_RECORD_PUT);
    char *resp = responses_json(r);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->index);
    store_bind_text(st, 3, r->id);
    store_bind_text(st, 4, r->prompt);
    store_bind_text(st, 5, r->reference);
    store_bind_text(st, 6, r->context);
    store_bind_text(st, 7, r->category);
    store_bind_text(st, 8, resp);
    int rc = store_step_done(s, st);
    free(resp);
    return rc;
}

void store_record_row(sqlite3_stmt *st, record_t *r)
{
    memset(r, 0, sizeof(*r));
    r->index = (uint64_t)sqlite3_column_int64(st, 0);
    r->id = store_col_text(st, 1);
    r->prompt = store_col_text(st, 2);
    r->reference = store_col_text(st, 3);
    r->context = store_col_text(st, 4);
    r->category = store_col_text(st, 5);
    responses_parse((const char *)sqlite3_column_text(st, 6), r);
}

int store_records_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, uint64_t cells, record_t **out,
                        size_t *n)
{
    sqlite3_stmt *st = store_stmt(s, Q_RECORDS_RANGE);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
    sqlite3_bind_int64(st, 4, cells > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)cells);
    size_t cap = 0, cnt = 0;
    record_t *recs = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            recs = xrealloc(recs, cap * sizeof(record_t));
        }
        store_record_row(st, &recs[cnt++]);
    }
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

/* ---- shards ---- */

int store_shard_put(store_t *s, const char *job_id, uint64_t shard_id, uint64_t first, uint64_t last, uint32_t n)
{
    sqlite3_stmt *st = store_stmt(s, Q_SHARD_PUT);
    store_bind_text(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)shard_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)first);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)last);
    sqlite3_bind_int(st, 5, (int)n);
    return store_step_done(s, st);
}

int store_shard_set_state(store_t *s, const char *job_id, uint64_t shard_id, shard_state_t ss)
{
    sqlite3_stmt *st = store_stmt(s, Q_SHARD_STATE);
    sqlite3_bind_int(st, 1, (int)ss);
    sqlite3_bind_int(st, 2, (int)ss);
    store_bind_text(st, 3, job_id);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)shard_id);
    return store_step_done(s, st);
}

int store_shard_set_leases(store_t *s, const char *job_id, uint64_t shard_id, uint32_t leases)
{
    sqlite3_stmt *st = store_stmt(s, Q_SHARD_LEASES);
    sqlite3_bind_int(st, 1, (int)leases);
    store_bind_text(st, 2, job_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)shard_id);
    return store_step_done(s, st);
}

int store_shards_each(store_t *s, const char *job_id, store_shard_cb cb, void *arg)
{
    sqlite3_stmt *st = store_stmt(s, Q_SHARDS_ALL);
    store_bind_text(st, 1, job_id);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        shard_t sh = {.id = (uint64_t)sqlite3_column_int64(st, 0),
                      .first = (uint64_t)sqlite3_column_int64(st, 1),
                      .last = (uint64_t)sqlite3_column_int64(st, 2),
                      .n = (uint32_t)sqlite3_column_int(st, 3),
                      .state = (shard_state_t)sqlite3_column_int(st, 4),
                      .submits = (uint32_t)sqlite3_column_int(st, 5),
                      .leases = (uint32_t)sqlite3_column_int(st, 6)};
        if (cb(&sh, arg) != 0) {
            ret = -1;
            break;
        }
    }
    return store_walk_end(s, st, rc, ret);
}
