/* test_remote: the CLI's job verbs over the service (remote.c on restc.c), against the service in
 * one process (tests/support/svcfix.h): submit, resolve (an id, a unique beginning, none, several),
 * status and a job list as the scheduler's structs, pages of results row by row, summary, stop,
 * retry, and HTTP errors mapped to the scheduler's (400 bad input with keyed messages, 401 with the
 * token hint, 404, 409); no answer (a closed port) and a bad URL; the service's JSON converted back
 * (remote_status_of, remote_row_of round-trips a records.jsonl line); --scheduler taken out of argv;
 * the same readers on the local database through jobsrc. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "file.h"
#include "jobfix.h"
#include "jobsrc.h"
#include "log.h"
#include "mem.h"
#include "remote.h"
#include "restc.h"
#include "svcfix.h"

static char *dir;
static svcfix_t svc;

static int count_job(const sched_job_t *j, void *arg)
{
    (void)j;
    (*(int *)arg)++;
    return 0;
}

typedef struct {
    int rows;
    uint64_t total;
    buf_t lines;
} rows_seen_t;

static void head_cb(const sched_page_t *pg, void *arg) { ((rows_seen_t *)arg)->total = pg->total; }

static int row_cb(const record_t *rec, const result_t *res, void *arg)
{
    rows_seen_t *r = arg;
    r->rows++;
    return sched_result_line(&r->lines, res->job_id, rec, res);
}

static bool ended(remote_t *r, const char *id, sched_job_state_t want)
{
    for (int i = 0; i < 6000; i++) {
        errlist_t errs;
        errlist_init(&errs, 1);
        sched_status_t st;
        bool ok = remote_job_status(r, id, &st, &errs) == SCHED_OK && st.job.state == want;
        sched_status_clear(&st);
        errlist_free(&errs);
        if (ok) return true;
        usleep(10000);
    }
    return false;
}

static void test_verbs(void)
{
    setenv(REMOTE_TOKEN_ENV, SVCFIX_TOKEN, 1);
    char err[512];
    remote_t *r = remote_open(svc.url, err, sizeof err);
    CHECK(r != NULL && !strcmp(remote_where(r), svc.url));
    char *data = xasprintf("%s/d.jsonl", dir), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, 12);
    char *spec = jobfix_spec(data, out, 3, 0, "\"name\": \"remote\"");
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX];
    CHECK(remote_submit(r, spec, id, &errs) == SCHED_OK && !strncmp(id, "remote-", 7));
    CHECK(ended(r, id, SCHED_JOB_SUCCEEDED));

    /* Resolve: an id, its beginning, none; the struct of a status. */
    char *got = NULL;
    CHECK(remote_resolve(r, id, &got, &errs) == SCHED_OK && !strcmp(got, id));
    free(got);
    CHECK(remote_resolve(r, "remote-", &got, &errs) == SCHED_OK && !strcmp(got, id));
    free(got);
    CHECK(remote_resolve(r, "zzz", &got, &errs) == SCHED_E_NOTFOUND && !got);
    sched_status_t st;
    CHECK(remote_job_status(r, id, &st, &errs) == SCHED_OK);
    CHECK(st.job.state == SCHED_JOB_SUCCEEDED && !strcmp(st.job.name, "remote") && st.units_done == 12 &&
          st.units_total == 12 && st.scores[SCORE_OK] == 24 && st.records_valid == 12 && st.job.created_at > 0 &&
          st.job.finished_at >= st.job.started_at && !strcmp(st.steps[SCHED_STEP_RUN].name, "infer+judge") &&
          !strcmp(st.steps[SCHED_STEP_RUN].status, "succeeded") && st.output_written);
    sched_status_clear(&st);
    int n = 0;
    CHECK(remote_jobs_list(r, count_job, &n, &errs) == SCHED_OK && n == 1);

    /* Results: pages as rows, the same lines as records.jsonl. */
    rows_seen_t seen = {0};
    buf_init(&seen.lines, 0);
    sched_rows_t cbs = {.head = head_cb, .row = row_cb, .arg = &seen};
    CHECK(remote_job_results(r, id, 0, 100, &cbs, NULL, &errs) == SCHED_OK && seen.rows == 12 && seen.total == 12);
    sched_status_t local;
    char *rec_path = NULL;
    CHECK(remote_job_status(r, id, &local, &errs) == SCHED_OK);
    rec_path = xasprintf("%s/records.jsonl", local.output_dir);
    sched_status_clear(&local);
    char *file = NULL;
    size_t len = 0;
    CHECK(file_read_all(rec_path, 1u << 24, 0, &file, &len, err, sizeof err) == 0 && seen.lines.data &&
          !strcmp(file, seen.lines.data));
    free(file);
    free(rec_path);
    buf_free(&seen.lines);
    cJSON *sum = NULL;
    CHECK(remote_job_summary(r, id, &sum, &errs) == SCHED_OK && cJSON_GetObjectItemCaseSensitive(sum, "targets"));
    cJSON_Delete(sum);

    /* Errors: 409, 400 with keys, 404. */
    errlist_t e2;
    errlist_init(&e2, 0);
    CHECK(remote_stop(r, id, &e2) == SCHED_E_STATE);
    CHECK(remote_retry(r, id, false, NULL, &e2) == SCHED_E_STATE);
    CHECK(remote_stop(r, "no-such", &e2) == SCHED_E_NOTFOUND);
    errlist_free(&e2);
    errlist_init(&e2, 0);
    char none[SCHED_JOB_ID_MAX];
    CHECK(remote_submit(r, "{\"model\": \"x/y\"}", none, &e2) == SCHED_E_INPUT && e2.n_kept >= 2 && !none[0]);
    bool keyed = false;
    for (size_t i = 0; i < e2.n_kept; i++) keyed |= !strncmp(e2.msgs[i], "model: ", 7);
    CHECK(keyed);
    errlist_free(&e2);
    /* A wrong token: bad input, and a hint. */
    setenv(REMOTE_TOKEN_ENV, "wrong", 1);
    remote_t *bad = remote_open(svc.url, err, sizeof err);
    errlist_init(&e2, 0);
    CHECK(remote_jobs_list(bad, count_job, &n, &e2) == SCHED_E_INPUT);
    bool hint = false;
    for (size_t i = 0; i < e2.n_kept; i++) hint |= strstr(e2.msgs[i], REMOTE_TOKEN_ENV) != NULL;
    CHECK(hint);
    errlist_free(&e2);
    remote_close(&bad);
    setenv(REMOTE_TOKEN_ENV, SVCFIX_TOKEN, 1);

    /* The same readers on the local database. */
    jobsrc_t src;
    int code;
    unsetenv(REMOTE_ENV);
    CHECK(jobsrc_open(&src, NULL, svc.db, "test", &code) == 0 && src.db && !src.remote);
    char *gid = NULL;
    CHECK(jobsrc_resolve(&src, "remote", &gid, &errs) == SCHED_OK && !strcmp(gid, id));
    CHECK(jobsrc_status(&src, gid, &st, &errs) == SCHED_OK && st.units_done == 12);
    sched_status_clear(&st);
    free(gid);
    jobsrc_close(&src);
    setenv(REMOTE_ENV, svc.url, 1);
    CHECK(jobsrc_open(&src, NULL, NULL, "test", &code) == 0 && src.remote); /* LLMAJ_SCHEDULER */
    jobsrc_close(&src);
    CHECK(jobsrc_open(&src, NULL, svc.db, "test", &code) == 0 && src.db); /* --db wins over it */
    jobsrc_close(&src);
    CHECK(jobsrc_open(&src, svc.url, svc.db, "test", &code) < 0 && code == 2); /* both flags: no */
    unsetenv(REMOTE_ENV);

    errlist_free(&errs);
    remote_close(&r);
    free(spec);
    free(data);
    free(out);
}

static void test_offline(void)
{
    char err[512];
    CHECK(remote_open("ftp://x", err, sizeof err) == NULL && strstr(err, "http://"));
    CHECK(restc_new(NULL, NULL, err, sizeof err) == NULL);
    /* A port nobody listens on: no answer, said so. */
    restc_t *c = restc_new("http://127.0.0.1:9/", "t", err, sizeof err);
    CHECK(c && !strcmp(restc_url(c), "http://127.0.0.1:9"));
    long status = 0;
    char *answer = NULL;
    CHECK(restc_call(c, "GET", "/v1/jobs", NULL, &status, &answer, err, sizeof err) < 0 && !answer &&
          strstr(err, "no answer from the llmaj scheduler"));
    restc_destroy(&c);
    restc_destroy(&c);

    /* --scheduler out of argv. */
    char a0[] = "status", a1[] = "--scheduler", a2[] = "http://h:1", a3[] = "job", a4[] = "--scheduler=http://h:2";
    char *argv[] = {a0, a1, a2, a3, a4, NULL};
    int argc = 5;
    CHECK_STR(remote_take_flag(&argc, argv), "http://h:2");
    CHECK(argc == 2 && !strcmp(argv[1], "job") && argv[2] == NULL);
    setenv(REMOTE_ENV, "http://env:3", 1);
    CHECK_STR(remote_url(NULL), "http://env:3");
    CHECK_STR(remote_url("http://flag:4"), "http://flag:4");
    unsetenv(REMOTE_ENV);
    CHECK(remote_url(NULL) == NULL);

    /* JSON back into structs. */
    CHECK(remote_state_parse("stopping") == SCHED_JOB_STOPPING && remote_state_parse("pending") < 0);
    cJSON *j = cJSON_Parse("{\"job_id\": \"j\", \"status\": \"bogus\"}");
    sched_status_t st;
    CHECK(remote_status_of(j, &st) < 0);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"job_id\": \"j\", \"status\": \"stopped\", \"partial\": true, \"note\": \"n\","
                    " \"created_at\": \"2026-01-02T03:04:05Z\", \"steps\": [{\"name\": \"validate\","
                    " \"status\": \"weird\", \"detail\": \"d\"}], \"progress\": {\"units_done\": 3}}");
    CHECK(remote_status_of(j, &st) == 0 && st.job.state == SCHED_JOB_STOPPED && st.partial && !strcmp(st.note, "n") &&
          st.job.created_at == 1767323045 && !strcmp(st.steps[0].status, "pending") && st.units_done == 3);
    sched_status_clear(&st);
    cJSON_Delete(j);
    record_t rec = {.index = 4, .id = "r4", .prompt = "p", .category = "c"};
    result_t res = jobfix_result("job", 4, TARGET_BASE, 2, "Correctness", "!Helpfulness");
    res.scores[0].usage.input_tokens = 7;
    res.scores[1].usage.output_tokens = 9;
    buf_t a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    CHECK(sched_result_line(&a, "job", &rec, &res) == 0);
    cJSON *row = cJSON_Parse(a.data);
    record_t rec2;
    result_t res2;
    CHECK(remote_row_of(row, &rec2, &res2) == 0 && sched_result_line(&b, "job", &rec2, &res2) == 0);
    CHECK_STR(b.data, a.data);
    record_clear(&rec2);
    result_clear(&res2);
    cJSON_Delete(row);
    row = cJSON_Parse("{\"record_index\": 1, \"target\": \"sideways\"}");
    CHECK(remote_row_of(row, &rec2, &res2) < 0);
    cJSON_Delete(row);
    result_clear(&res);
    buf_free(&a);
    buf_free(&b);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dir = jobfix_tmpdir("test_remote");
    test_offline();
    if (svcfix_start(&svc, dir, 0, 2) == 0) test_verbs();
    else CHECK(!"the service started");
    svcfix_stop(&svc);
    jobfix_rmdir(dir);
    free(dir);
    curl_global_cleanup();
    return check_summary("test_remote");
}
