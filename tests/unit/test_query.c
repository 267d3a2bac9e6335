/* test_query: reading jobs back through scheduler.h's sched_db_*: opening (a missing path, a
 * folder, a text file, an SQLite file without jobs: each its error, nothing created or changed),
 * the list (newest first, elapsed times, the base model only when evaluated, a callback that
 * stops), resolving ids (exact, prefix, ambiguous, none, empty), a job's status in every state
 * with the steps derived from it (validate, infer+judge, collect, mlflow), liveness (a silent
 * engine), the output folder as found from here, pages of results (head once, rows in order, past
 * the end, a callback that stops) and the stored summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "job.h"
#include "log.h"
#include "mem.h"
#include "scheduler.h"
#include "store.h"
#include "check.h"
#include "jobfix.h"

static char *dir, *db_path;

static void sql(const char *q)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    CHECK(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

/* Submits a job of 6 records (shards of 2) named `name`; id gets its id. */
static void submit(const char *name, int base, const char *extra, char *id)
{
    char *data = xasprintf("%s/%s.jsonl", dir, name), *out = xasprintf("%s/runs", dir);
    jobfix_dataset(data, 6);
    char *more = xasprintf("\"name\": \"%s\"%s%s", name, extra ? ", " : "", extra ? extra : "");
    char *spec = jobfix_spec(data, out, 2, base, more);
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "spec"};
    errlist_t errs;
    errlist_init(&errs, 0);
    char *used = NULL;
    CHECK(job_submit(&in, db_path, NULL, NULL, &used, id, &errs) == SCHED_OK);
    errlist_print(&errs, stderr, "  ");
    errlist_free(&errs);
    free(used);
    free(spec);
    free(more);
    free(data);
    free(out);
}

static void commit(const char *id, uint64_t first, uint64_t last, int ok)
{
    char err[512];
    store_t *st = store_open(db_path, STORE_WRITE, err, sizeof err);
    for (uint64_t i = first; i <= last; i++) {
        result_t r = ok ? jobfix_result(id, i, TARGET_CUSTOM, 2, "Correctness", "Helpfulness")
                        : jobfix_result(id, i, TARGET_CUSTOM, 2, "!Correctness", "!Helpfulness");
        bool fo;
        size_t fs;
        CHECK(store_result_commit(st, id, &r, &fo, &fs, NULL) == 0);
        result_clear(&r);
    }
    store_close(&st);
}

static void set_state(const char *id, sched_job_state_t s, const char *error)
{
    char err[512];
    store_t *st = store_open(db_path, STORE_WRITE, err, sizeof err);
    CHECK(store_job_set_state(st, id, s, error) == 0);
    store_close(&st);
}

static void shard_state(const char *id, uint64_t shard, shard_state_t s)
{
    char err[512];
    store_t *st = store_open(db_path, STORE_WRITE, err, sizeof err);
    CHECK(store_shard_set_state(st, id, shard, s) == 0);
    store_close(&st);
}

static sched_db_t *open_db(void)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    CHECK(sched_db_open(db_path, NULL, &db, &errs) == SCHED_OK);
    errlist_free(&errs);
    return db;
}

static bool has_msg(const errlist_t *e, const char *part)
{
    for (size_t i = 0; i < e->n_kept; i++)
        if (strstr(e->msgs[i], part)) return true;
    return false;
}

static void test_open(void)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    char *missing = xasprintf("%s/missing.db", dir);
    CHECK(sched_db_open(missing, "given with --db", &db, &errs) == SCHED_E_NOTFOUND && !db);
    CHECK(has_msg(&errs, "no job database at ") && has_msg(&errs, "(given with --db)"));
    CHECK(access(missing, F_OK) != 0);
    CHECK(sched_db_open(dir, NULL, &db, &errs) == SCHED_E_INPUT && has_msg(&errs, "is not a file"));
    char *text = xasprintf("%s/notes.txt", dir);
    FILE *f = fopen(text, "w");
    fputs("just some text, long enough to be taken for a header of something ......\n", f);
    fclose(f);
    CHECK(sched_db_open(text, NULL, &db, &errs) == SCHED_E_INPUT && has_msg(&errs, "not a job database"));
    char *other = xasprintf("%s/other.db", dir);
    sqlite3 *s = NULL;
    CHECK(sqlite3_open(other, &s) == SQLITE_OK && sqlite3_exec(s, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(s);
    CHECK(sched_db_open(other, NULL, &db, &errs) == SCHED_E_INPUT && has_msg(&errs, "no jobs table"));
    errlist_free(&errs);
    free(missing);
    free(text);
    free(other);
}

typedef struct {
    char ids[8][SCHED_JOB_ID_MAX];
    double elapsed[8];
    bool base[8];
    int n, stop_at;
} listed_t;

static int listed(const sched_job_t *j, void *arg)
{
    listed_t *l = arg;
    if (l->n < 8) {
        snprintf(l->ids[l->n], sizeof l->ids[0], "%s", j->job_id);
        l->elapsed[l->n] = j->elapsed_s;
        l->base[l->n] = j->base_model != NULL;
    }
    l->n++;
    return l->stop_at && l->n >= l->stop_at;
}

static void test_list_and_resolve(const char *a, const char *b)
{
    sched_db_t *db = open_db();
    errlist_t errs;
    errlist_init(&errs, 0);
    listed_t l = {0};
    CHECK(sched_jobs_list(db, listed, &l, &errs) == SCHED_OK && l.n >= 2);
    CHECK(!strcmp(l.ids[0], b) && !strcmp(l.ids[1], a)); /* newest first */
    CHECK(l.elapsed[0] < 0);                             /* b never started */
    CHECK(!l.base[0] && l.base[1]);
    listed_t stop = {.stop_at = 1};
    CHECK(sched_jobs_list(db, listed, &stop, &errs) == SCHED_E_IO && stop.n == 1);

    char *id = NULL;
    CHECK(sched_job_resolve(db, a, &id, &errs) == SCHED_OK && !strcmp(id, a));
    free(id);
    CHECK(sched_job_resolve(db, "qb-", &id, &errs) == SCHED_OK && !strcmp(id, b));
    free(id);
    CHECK(sched_job_resolve(db, "q", &id, &errs) == SCHED_E_INPUT && !id && has_msg(&errs, "give more of the id"));
    CHECK(sched_job_resolve(db, "zz", &id, &errs) == SCHED_E_NOTFOUND && has_msg(&errs, "no job 'zz'"));
    CHECK(sched_job_resolve(db, "", &id, &errs) == SCHED_E_INPUT);
    CHECK(sched_job_resolve(db, NULL, &id, &errs) == SCHED_E_INPUT);
    errlist_free(&errs);
    sched_db_close(&db);
    sched_db_close(&db);
}

static void expect_steps(const char *id, const char *run, const char *collect, const char *mlflow)
{
    sched_db_t *db = open_db();
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_status_t st;
    CHECK(sched_job_status(db, id, &st, &errs) == SCHED_OK);
    CHECK_STR(st.steps[SCHED_STEP_VALIDATE].name, "validate");
    CHECK_STR(st.steps[SCHED_STEP_VALIDATE].status, "succeeded");
    CHECK_STR(st.steps[SCHED_STEP_RUN].status, run);
    CHECK_STR(st.steps[SCHED_STEP_COLLECT].status, collect);
    CHECK_STR(st.steps[SCHED_STEP_MLFLOW].status, mlflow);
    for (int i = 0; i < SCHED_N_STEPS; i++) CHECK(st.steps[i].detail != NULL);
    sched_status_clear(&st);
    errlist_free(&errs);
    sched_db_close(&db);
}

static void test_status(const char *a, const char *b)
{
    sched_db_t *db = open_db();
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_status_t st;
    CHECK(sched_job_status(db, "nope", &st, &errs) == SCHED_E_NOTFOUND);

    /* b: stored, not started. */
    CHECK(sched_job_status(db, b, &st, &errs) == SCHED_OK);
    CHECK(st.job.state == SCHED_JOB_PENDING && st.targets == 1 && st.records_valid == 6 && st.units_total == 6);
    CHECK(st.shards_total == 3 && st.shards_pending == 3 && st.units_done == 0 && st.silent_s == 0);
    CHECK(!st.output_exists && !st.output_written && strstr(st.output_dir, b));
    CHECK_STR(st.steps[SCHED_STEP_RUN].status, "pending");
    CHECK(st.mlflow && !strcmp(cJSON_GetObjectItemCaseSensitive(st.mlflow, "state")->valuestring, "none"));
    sched_status_clear(&st);
    sched_db_close(&db);

    /* a (two targets, an MLflow URI): running, shard 0 done, shard 1 in flight. */
    set_state(a, SCHED_JOB_RUNNING, NULL);
    shard_state(a, 0, SHARD_INFLIGHT);
    shard_state(a, 0, SHARD_DONE);
    shard_state(a, 1, SHARD_INFLIGHT);
    commit(a, 0, 2, 1);
    sql("UPDATE jobs SET updated_at=strftime('%s','now') WHERE job_id LIKE 'qa-%'");
    expect_steps(a, "running", "pending", "pending");
    db = open_db();
    CHECK(sched_job_status(db, a, &st, &errs) == SCHED_OK);
    CHECK(st.targets == 2 && st.units_total == 12 && st.units_done == 3 && st.records_done == 0);
    CHECK(st.shards_done == 1 && st.shards_inflight == 1 && st.shards_pending == 1 && st.dispatches == 2);
    CHECK(st.scores[SCORE_OK] == 6 && st.silent_s == 0);
    CHECK(strstr(st.steps[SCHED_STEP_MLFLOW].detail, "when the job ends"));
    sched_status_clear(&st);

    /* Its engine went quiet: the status says for how long. */
    sql("UPDATE jobs SET updated_at=updated_at-100 WHERE job_id LIKE 'qa-%'");
    CHECK(sched_job_status(db, a, &st, &errs) == SCHED_OK && st.silent_s >= 100);
    sched_status_clear(&st);
    sched_db_close(&db);

    /* Every shard back: collecting. Then ended, with and without its files. */
    shard_state(a, 1, SHARD_DONE);
    shard_state(a, 2, SHARD_DONE);
    expect_steps(a, "succeeded", "running", "pending");
    set_state(a, SCHED_JOB_SUCCEEDED, NULL);
    expect_steps(a, "succeeded", "succeeded", "pending");
    set_state(a, SCHED_JOB_STOPPED, NULL);
    expect_steps(a, "succeeded", "failed", "pending"); /* no job.json found */
    char *out = xasprintf("%s/runs/%s", dir, a);
    CHECK(mkdir(out, 0755) == 0);
    char *jj = xasprintf("%s/job.json", out);
    FILE *f = fopen(jj, "w");
    fputs("{}", f);
    fclose(f);
    expect_steps(a, "succeeded", "succeeded", "pending");
    db = open_db();
    CHECK(sched_job_status(db, a, &st, &errs) == SCHED_OK && st.output_exists && st.output_written);
    CHECK(strstr(st.output_dir, out) != NULL);
    sched_status_clear(&st);
    sched_db_close(&db);
    free(jj);
    free(out);

    /* The MLflow sync's states. */
    char err[512];
    store_t *w = store_open(db_path, STORE_WRITE, err, sizeof err);
    CHECK(store_sync_set(w, a, "state", "syncing") == 0 && store_sync_set(w, a, "attempts", "2") == 0);
    expect_steps(a, "succeeded", "succeeded", "running");
    CHECK(store_sync_set(w, a, "state", "done") == 0 && store_sync_set(w, a, "experiment_id", "7") == 0);
    expect_steps(a, "succeeded", "succeeded", "succeeded");
    CHECK(store_sync_set(w, a, "state", "failed") == 0);
    expect_steps(a, "succeeded", "succeeded", "failed");
    store_close(&w);

    /* b: stopped with shards left; then failed with nothing scored. */
    set_state(b, SCHED_JOB_RUNNING, NULL);
    set_state(b, SCHED_JOB_STOPPED, NULL);
    expect_steps(b, "stopped", "failed", "skipped");
    for (uint64_t i = 0; i < 3; i++) shard_state(b, i, SHARD_DONE);
    commit(b, 0, 5, 0);
    set_state(b, SCHED_JOB_FAILED, "no score at all");
    expect_steps(b, "failed", "failed", "skipped");
    db = open_db();
    CHECK(sched_job_status(db, b, &st, &errs) == SCHED_OK && st.scores[SCORE_ERROR] == 12);
    CHECK(st.job.error && !strcmp(st.job.error, "no score at all") && st.job.elapsed_s >= 0);
    sched_status_clear(&st);
    sched_db_close(&db);
    errlist_free(&errs);
}

typedef struct {
    int heads, rows;
    uint64_t total, first_idx;
    sched_job_state_t state;
    int stop_after;
} page_seen_t;

static void on_head(const sched_page_t *pg, void *arg)
{
    page_seen_t *p = arg;
    p->heads++;
    p->total = pg->total;
    p->state = pg->state;
}

static int on_row(const record_t *rec, const result_t *res, void *arg)
{
    page_seen_t *p = arg;
    if (p->rows == 0) p->first_idx = rec->index;
    p->rows++;
    return p->stop_after && p->rows >= p->stop_after;
}

static void test_results_and_summary(const char *a)
{
    sched_db_t *db = open_db();
    errlist_t errs;
    errlist_init(&errs, 0);
    page_seen_t p = {0};
    sched_rows_t cbs = {.head = on_head, .row = on_row, .arg = &p};
    sched_page_t pg;
    CHECK(sched_job_results(db, a, 1, 2, &cbs, &pg, &errs) == SCHED_OK);
    CHECK(p.heads == 1 && p.total == 3 && pg.total == 3 && p.rows == 2 && p.first_idx == 1);
    p = (page_seen_t){0};
    CHECK(sched_job_results(db, a, 3, 10, &cbs, NULL, &errs) == SCHED_OK && p.heads == 1 && p.rows == 0);
    p = (page_seen_t){.stop_after = 1};
    CHECK(sched_job_results(db, a, 0, 10, &cbs, NULL, &errs) == SCHED_E_IO && p.rows == 1);
    CHECK(sched_job_results(db, "nope", 0, 10, &cbs, NULL, &errs) == SCHED_E_NOTFOUND);

    buf_t b;
    buf_init(&b, 0);
    record_t rec = {.index = 2, .id = "r2", .prompt = "p"};
    result_t res = jobfix_result(a, 2, TARGET_CUSTOM, 1, "Correctness");
    CHECK(sched_result_line(&b, a, &rec, &res) == 0 && strstr(b.data, "\"record_id\":\"r2\""));
    result_clear(&res);
    buf_free(&b);

    cJSON *sum = NULL;
    CHECK(sched_job_summary(db, a, &sum, &errs) == SCHED_E_NOTFOUND && !sum);
    CHECK(sched_job_summary(db, "nope", &sum, &errs) == SCHED_E_NOTFOUND);
    sched_db_close(&db);
    char err[512];
    store_t *w = store_open(db_path, STORE_WRITE, err, sizeof err);
    CHECK(store_job_set_summary(w, a, "{\"job_id\": \"x\"}") == 0);
    store_close(&w);
    db = open_db();
    CHECK(sched_job_summary(db, a, &sum, &errs) == SCHED_OK && cJSON_GetObjectItemCaseSensitive(sum, "job_id"));
    cJSON_Delete(sum);
    sched_db_close(&db);
    errlist_free(&errs);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_query");
    db_path = xasprintf("%s/q.db", dir);
    jobfix_env("http://127.0.0.1:9");
    test_open();
    char a[SCHED_JOB_ID_MAX], b[SCHED_JOB_ID_MAX];
    submit("qa", 1, "\"mlflow\": {\"tracking_uri\": \"http://127.0.0.1:9\"}", a);
    submit("qb", 0, NULL, b);
    sql("UPDATE jobs SET created_at=created_at-10 WHERE job_id LIKE 'qa-%'");
    test_list_and_resolve(a, b);
    test_status(a, b);
    test_results_and_summary(a);
    jobfix_rmdir(dir);
    free(db_path);
    free(dir);
    return check_summary("test_query");
}
