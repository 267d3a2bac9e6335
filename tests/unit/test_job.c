/* test_job: a job's life without an engine: the submission (the job, its valid records, its shards
 * and counts stored in one transaction; the database path from the spec; bad datasets, specs and
 * missing credentials refused with every problem and nothing stored; skip_invalid), the checks
 * before a resume, opening a stored job (shard states by proto/shard.h's resume rule, committed
 * counts, RUNNING), and its end (the final state decided: succeeded, stopped, failed on a fatal
 * error or with nothing scored; result files and summary written; state recorded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "check.h"
#include "jobfix.h"

static char *dir;

static sched_err_t submit(const char *spec, const char *db, char **used, char *id, errlist_t *errs)
{
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "spec.json", .base_dir = dir};
    return job_submit(&in, db, NULL, NULL, used, id, errs);
}

static int count_jobs(const store_job_t *j, void *arg)
{
    (void)j;
    (*(int *)arg)++;
    return 0;
}

static void test_submit(void)
{
    char *data = xasprintf("%s/d.jsonl", dir), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, 7);
    char *spec = jobfix_spec(data, out, 3, 1, "\"name\": \"my job!\"");
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX], *used = NULL;
    CHECK(submit(spec, NULL, &used, id, &errs) == SCHED_OK && errs.count == 0);
    char *want_db = xasprintf("%s/llmaj.db", out);
    CHECK_STR(used, want_db);               /* <output_path>/llmaj.db */
    CHECK(strncmp(id, "my-job--", 8) == 0); /* the name reduced to [A-Za-z0-9-] */
    char err[512];
    store_t *st = store_open(used, STORE_READ, err, sizeof err);
    CHECK(st != NULL);
    store_job_t j;
    CHECK(st && store_job_get(st, id, &j) == 0);
    CHECK(j.state == SCHED_JOB_PENDING && j.records_total == 7 && j.records_invalid == 0 && j.started_at == 0);
    CHECK(j.out_dir && strstr(j.out_dir, "/out/") && strstr(j.out_dir, id));
    CHECK(j.spec_json && strstr(j.spec_json, "\"shard_size\":3"));
    store_job_clear(&j);
    uint64_t outputs = 9, scores = 9;
    CHECK(store_counts(st, id, &outputs, &scores) == 0 && outputs == 0 && scores == 0);
    store_job_stats_t stats;
    CHECK(store_job_stats(st, id, 2, 2, &stats) == 0 && stats.records == 7 && stats.shards[SHARD_PENDING] == 3);
    store_close(&st);
    free(used);
    used = NULL;

    /* A given database is used as is. */
    char *db2 = xasprintf("%s/other.db", dir);
    CHECK(submit(spec, db2, &used, id, &errs) == SCHED_OK && !strcmp(used, db2));
    free(used);
    used = NULL;

    /* Bad lines: every one listed with FILE:LINE, nothing stored. */
    FILE *f = fopen(data, "a");
    fputs("{\"prompt\": 3}\nnot json\n", f);
    fclose(f);
    int before = 0, after = 0;
    st = store_open(db2, STORE_READ, err, sizeof err);
    CHECK(store_jobs_each(st, count_jobs, &before) == 0);
    store_close(&st);
    errlist_free(&errs);
    errlist_init(&errs, 0);
    CHECK(submit(spec, db2, &used, id, &errs) == SCHED_E_INPUT && used == NULL && id[0] == '\0');
    char *l8 = xasprintf("%s:8", data), *l9 = xasprintf("%s:9", data);
    bool has8 = false, has9 = false, says = false;
    for (size_t i = 0; i < errs.n_kept; i++) {
        has8 |= strstr(errs.msgs[i], l8) != NULL;
        has9 |= strstr(errs.msgs[i], l9) != NULL;
        says |= strstr(errs.msgs[i], "nothing was run") != NULL;
    }
    CHECK(has8 && has9 && says);
    free(l8);
    free(l9);
    st = store_open(db2, STORE_READ, err, sizeof err);
    CHECK(store_jobs_each(st, count_jobs, &after) == 0 && after == before);
    store_close(&st);

    /* ... unless skip_invalid: the valid ones are run, the others counted. */
    char *skip = jobfix_spec(data, out, 3, 0, "\"skip_invalid\": true");
    errlist_free(&errs);
    errlist_init(&errs, 0);
    CHECK(submit(skip, db2, &used, id, &errs) == SCHED_OK);
    st = store_open(db2, STORE_READ, err, sizeof err);
    CHECK(st && store_job_get(st, id, &j) == 0 && j.records_total == 9 && j.records_invalid == 2);
    store_job_clear(&j);
    store_close(&st);
    free(used);
    used = NULL;
    free(skip);

    /* A model whose credentials are missing is refused before anything is read. */
    unsetenv("ANTHROPIC_API_KEY");
    unsetenv("ANTHROPIC_BASE_URL");
    errlist_free(&errs);
    errlist_init(&errs, 0);
    errlist_add(&errs, "a problem of the caller's own"); /* not counted as the submission's */
    CHECK(submit(spec, db2, &used, id, &errs) == SCHED_E_INPUT && errs.count == 2);
    CHECK(strstr(errs.msgs[1], "evaluator_model") && strstr(errs.msgs[1], "ANTHROPIC_API_KEY"));
    jobfix_env("http://127.0.0.1:9");

    /* An output_path that cannot be created. */
    char *blocker = xasprintf("%s/file", dir);
    f = fopen(blocker, "w");
    fclose(f);
    char *under = xasprintf("%s/sub", blocker);
    char *nope = jobfix_spec(data, under, 3, 0, NULL);
    errlist_free(&errs);
    errlist_init(&errs, 0);
    CHECK(submit(nope, NULL, &used, id, &errs) == SCHED_E_IO && errs.count == 1 && strstr(errs.msgs[0], "output_path"));
    free(nope);
    free(under);
    free(blocker);
    errlist_free(&errs);
    free(db2);
    free(want_db);
    free(spec);
    free(data);
    free(out);
}

/* A stored job (7 records, shards of 3) with some results committed, for the tests below. */
static char *stored_job(const char *db, int base, char *id)
{
    char *data = xasprintf("%s/s.jsonl", dir), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, 7);
    char *spec = jobfix_spec(data, out, 3, base, NULL);
    errlist_t errs;
    errlist_init(&errs, 0);
    char *used = NULL;
    CHECK(submit(spec, db, &used, id, &errs) == SCHED_OK);
    errlist_free(&errs);
    free(used);
    free(spec);
    free(data);
    return out;
}

static void test_resume_checks_and_open(void)
{
    char *db = xasprintf("%s/r.db", dir);
    char id[SCHED_JOB_ID_MAX];
    char *out = stored_job(db, 1, id);
    errlist_t errs;
    errlist_init(&errs, 0);
    char *missing = xasprintf("%s/missing.db", dir);
    sched_job_state_t state;
    CHECK(job_check_resume(missing, id, &state, &errs) == SCHED_E_NOTFOUND);
    CHECK(access(missing, F_OK) != 0); /* nothing created */
    CHECK(job_check_resume(db, "no-such", &state, &errs) == SCHED_E_NOTFOUND);
    CHECK(job_check_resume(db, id, &state, &errs) == SCHED_OK && state == SCHED_JOB_PENDING);

    char err[512];
    store_t *st = store_open(db, STORE_WRITE, err, sizeof err);
    /* Shard 0 done, shard 1 in flight when "the last engine" stopped, one result committed. */
    CHECK(store_shard_set_state(st, id, 0, SHARD_INFLIGHT) == 0 && store_shard_set_state(st, id, 0, SHARD_DONE) == 0);
    CHECK(store_shard_set_state(st, id, 1, SHARD_INFLIGHT) == 0);
    result_t r = jobfix_result(id, 0, TARGET_CUSTOM, 2, "Correctness", "Helpfulness");
    bool fo;
    size_t fs;
    CHECK(store_result_commit(st, id, &r, &fo, &fs, NULL) == 0);
    result_clear(&r);
    job_t *j = job_open(st, id, err, sizeof err);
    CHECK(j != NULL);
    if (j) {
        CHECK(j->n_shards == 3 && j->records == 7 && j->targets == 2 && j->done == 1 && j->inflight == 0);
        CHECK(j->shards[0].state == SHARD_DONE && j->shards[1].state == SHARD_PENDING && j->shards[1].submits == 1);
        CHECK(j->shards[2].state == SHARD_PENDING && j->shards[2].first == 6 && j->shards[2].n == 1);
        CHECK(j->units_done == 1 && j->scores[SCORE_OK] == 2);
        CHECK(j->out_dir && strstr(j->out_dir, id));
        job_destroy(&j);
    }
    store_job_t row;
    CHECK(store_job_get(st, id, &row) == 0 && row.state == SCHED_JOB_RUNNING && row.started_at > 0 &&
          row.updated_at > 0);
    store_job_clear(&row);
    CHECK(job_open(st, "no-such", err, sizeof err) == NULL && strstr(err, "not in the database"));

    /* The check says the state; an ended job is resumed as a retry (sched.c). */
    CHECK(store_job_set_state(st, id, SCHED_JOB_STOPPED, NULL) == 0);
    CHECK(job_check_resume(db, id, &state, &errs) == SCHED_OK && state == SCHED_JOB_STOPPED);
    CHECK(store_job_set_state(st, id, SCHED_JOB_SUCCEEDED, NULL) == 0);
    CHECK(job_check_resume(db, id, &state, &errs) == SCHED_OK && state == SCHED_JOB_SUCCEEDED);
    store_close(&st);
    errlist_free(&errs);
    free(missing);
    free(out);
    free(db);
}

/* Opens the stored job, commits `ok` outputs with scores (and the rest with errors when
 * `errors`), marks every shard done, applies `how`, ends it; returns the state. */
static sched_job_state_t end_with(const char *db, const char *id, int ok, char how, cJSON **summary)
{
    char err[512];
    store_t *st = store_open(db, STORE_WRITE, err, sizeof err);
    job_t *j = job_open(st, id, err, sizeof err);
    if (!j) {
        store_close(&st);
        return (sched_job_state_t)-1;
    }
    for (int i = 0; i < 7; i++) {
        result_t r = i < ok ? jobfix_result(id, (uint64_t)i, TARGET_CUSTOM, 2, "Correctness", "Helpfulness")
                            : jobfix_result(id, (uint64_t)i, TARGET_CUSTOM, 2, "!Correctness", "!Helpfulness");
        bool fo;
        size_t fs;
        uint64_t by[4] = {0};
        if (store_result_commit(st, id, &r, &fo, &fs, by) == 0) job_count(j, st, &r, fo, fs, by);
        result_clear(&r);
    }
    for (size_t i = 0; i < j->n_shards; i++) j->shards[i].state = SHARD_DONE;
    j->done = j->n_shards;
    if (how == 's') j->stop_requested = true;
    if (how == 'f') job_fail(j, "the %s went wrong", "thing");
    if (how == 'f') job_fail(j, "and then another"); /* only the first is kept */
    if (how == 'o') job_fail_as(j, JOB_FAILURE_OUTPUT, "cannot write the result files: disk full");
    if (how == 'd') job_fail_as(j, JOB_FAILURE_DATABASE, "database: cannot commit results: disk full");
    atomic_int cut = 1;
    if (how == 'i') j->write_abort = &cut;
    CHECK(job_over(j));
    cJSON *jobj = NULL;
    sched_job_state_t state = job_write(j, st, job_final_state(j), 3, summary, &jobj);
    if (how == 'i') { /* interrupted: nothing written, nothing stored */
        CHECK(state == SCHED_JOB_RUNNING && !*summary && !jobj);
        job_destroy(&j);
        store_close(&st);
        return state;
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(jobj, "status");
    CHECK(cJSON_IsString(status) && !strcmp(status->valuestring, sched_job_state_name(state)));
    CHECK(cJSON_GetObjectItemCaseSensitive(jobj, "workers_seen")->valuedouble == 3);
    cJSON_Delete(jobj);
    job_destroy(&j);
    store_close(&st);
    return state;
}

static void test_end(void)
{
    char *db = xasprintf("%s/e.db", dir);
    char id[SCHED_JOB_ID_MAX];
    char *out = stored_job(db, 0, id);
    cJSON *summary = NULL;
    CHECK(end_with(db, id, 7, 'n', &summary) == SCHED_JOB_SUCCEEDED);
    CHECK(summary != NULL);
    cJSON_Delete(summary);
    char err[512];
    store_t *st = store_open(db, STORE_READ, err, sizeof err);
    store_job_t row;
    char *text = NULL;
    CHECK(store_job_get(st, id, &row) == 0 && row.state == SCHED_JOB_SUCCEEDED && row.finished_at > 0 && !row.error);
    CHECK(store_job_summary(st, id, &text) == 0 && strstr(text, "\"targets\""));
    char *sj = xasprintf("%s/summary.json", row.out_dir);
    struct stat sb;
    CHECK(stat(sj, &sb) == 0);
    free(sj);
    free(text);
    store_job_clear(&row);
    store_close(&st);
    free(out);

    /* Nothing scored at all: failed, and says why. */
    out = stored_job(db, 0, id);
    log_set_level(LOG_OFF); /* the failure is logged */
    CHECK(end_with(db, id, 0, 'n', &summary) == SCHED_JOB_FAILED);
    log_set_level(LOG_ERROR);
    cJSON_Delete(summary);
    st = store_open(db, STORE_READ, err, sizeof err);
    CHECK(store_job_get(st, id, &row) == 0 && row.error && strstr(row.error, "no score at all"));
    store_job_clear(&row);
    store_close(&st);
    free(out);

    /* Stopped; failed on a fatal error (the first reason kept). */
    out = stored_job(db, 0, id);
    CHECK(end_with(db, id, 3, 's', &summary) == SCHED_JOB_STOPPED);
    cJSON_Delete(summary);
    free(out);
    out = stored_job(db, 0, id);
    log_set_level(LOG_OFF);
    CHECK(end_with(db, id, 7, 'f', &summary) == SCHED_JOB_FAILED);
    log_set_level(LOG_ERROR);
    cJSON_Delete(summary);
    st = store_open(db, STORE_READ, err, sizeof err);
    CHECK(store_job_get(st, id, &row) == 0 && row.error && !strcmp(row.error, "the thing went wrong"));
    CHECK(row.failure && !strcmp(row.failure, "other"));
    store_job_clear(&row);
    store_close(&st);
    /* ... which a retry does not reopen: every cell is committed without an error */
    errlist_t errs;
    errlist_init(&errs, 0);
    uint64_t cells = 9;
    CHECK(job_prepare_retry(db, id, false, &cells, &errs) == SCHED_E_STATE && cells == 0);
    errlist_free(&errs);
    free(out);

    /* The files (or the database) failed: the kind is stored, and a retry reopens the job as it
     * is, nothing to rerun, for its files to be written again. */
    for (const char *how = "od"; *how; how++) {
        out = stored_job(db, 0, id);
        log_set_level(LOG_OFF);
        CHECK(end_with(db, id, 7, *how, &summary) == SCHED_JOB_FAILED);
        log_set_level(LOG_ERROR);
        cJSON_Delete(summary);
        st = store_open(db, STORE_READ, err, sizeof err);
        CHECK(store_job_get(st, id, &row) == 0 && row.failure &&
              !strcmp(row.failure, *how == 'o' ? "output" : "database"));
        store_job_clear(&row);
        store_close(&st);
        errlist_init(&errs, 0);
        cells = 9;
        CHECK(job_prepare_retry(db, id, false, &cells, &errs) == SCHED_OK && cells == 0 && errs.count == 0);
        errlist_free(&errs);
        st = store_open(db, STORE_READ, err, sizeof err);
        CHECK(store_job_get(st, id, &row) == 0 && row.state == SCHED_JOB_PENDING && !row.failure && !row.error &&
              row.finished_at == 0);
        store_job_clear(&row);
        store_close(&st);
        CHECK(end_with(db, id, 7, 'n', &summary) == SCHED_JOB_SUCCEEDED); /* and it ends well */
        cJSON_Delete(summary);
        free(out);
    }

    /* Writing cut short by a signal: the job stays running in the database, for a resume. */
    out = stored_job(db, 0, id);
    log_set_level(LOG_OFF);
    CHECK(end_with(db, id, 7, 'i', &summary) == SCHED_JOB_RUNNING);
    log_set_level(LOG_ERROR);
    st = store_open(db, STORE_READ, err, sizeof err);
    CHECK(store_job_get(st, id, &row) == 0 && row.state == SCHED_JOB_RUNNING && !row.failure);
    store_job_clear(&row);
    store_close(&st);
    free(out);
    free(db);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_job");
    jobfix_env("http://127.0.0.1:9");
    test_submit();
    test_resume_checks_and_open();
    test_end();
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_job");
}
