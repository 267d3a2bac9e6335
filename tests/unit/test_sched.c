/* test_sched: the scheduler engine (scheduler.h) end to end in one process: a real broker and real
 * workers over inproc (cli/embedded.c), the mock LLM server on a free 127.0.0.1 port, and the
 * engine running jobs: one job to its end with every count checked against the mock's own
 * counters and the result files; two jobs at once in one engine; bad input refused with nothing
 * stored and no model called; a job stopped from another thread (STOPPED, what it committed
 * written) and resumed by a new engine to an exact end; an engine shut down mid-job whose job a
 * new engine finishes; and the errors of stop and resume. Every wait polls for an outcome with a
 * generous deadline; nothing asserts a timing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"
#include "errlist.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "mock.h"
#include "scheduler.h"
#include <sqlite3.h>

#include "check.h"
#include "jobfix.h"

#define DEADLINE_POLLS 6000 /* 10 ms each: a minute at most */

static char *dir;
static mock_t *mock;

typedef struct {
    int calls, finals;
    uint64_t last_done;
} progress_seen_t;

static void on_progress(const sched_progress_t *p, void *arg)
{
    progress_seen_t *ps = arg;
    ps->calls++;
    if (p->finished) ps->finals++;
    ps->last_done = p->units_done;
}

static uint64_t model_calls(void)
{
    mock_stats_t st;
    mock_get_stats(mock, &st);
    return st.inference_calls + st.judge_calls;
}

/* A status read through the read side, as `llmaj status` does. 0, or -1 (printed). */
static int status_of(const char *db_path, const char *job_id, sched_status_t *st)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    sched_err_t rc = sched_db_open(db_path, NULL, &db, &errs);
    if (rc == SCHED_OK) rc = sched_job_status(db, job_id, st, &errs);
    if (rc != SCHED_OK) errlist_print(&errs, stderr, "  status: ");
    sched_db_close(&db);
    errlist_free(&errs);
    return rc == SCHED_OK ? 0 : -1;
}

static int lines_of(const char *path)
{
    char *text = NULL, err[512];
    size_t len = 0;
    if (file_read_all(path, 64u << 20, 0, &text, &len, err, sizeof err) < 0) return -1;
    int n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    free(text);
    return n;
}

static sched_t *engine(embedded_t *fleet, const char *db_path, bool until_idle, progress_seen_t *ps)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_opts_t o = {.broker = embedded_endpoint(fleet),
                      .zmq_ctx = embedded_zmq_ctx(fleet),
                      .db_path = db_path,
                      .window = 2,
                      .heartbeat_ms = 100,
                      .until_idle = until_idle,
                      .mlflow_wait_ms = 0,
                      .progress = ps ? on_progress : NULL,
                      .progress_arg = ps,
                      .progress_ms = 10};
    sched_t *s = sched_new(&o, &errs);
    if (!s) errlist_print(&errs, stderr, "  sched_new: ");
    errlist_free(&errs);
    return s;
}

static sched_err_t submit(sched_t *s, const char *spec, char *job_id, errlist_t *errs)
{
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "test spec", .base_dir = dir};
    return sched_submit(s, &in, job_id, errs);
}

/* ---- one job, and two at once ---- */

static void test_one_job(embedded_t *fleet)
{
    char *data = xasprintf("%s/one.jsonl", dir), *out = xasprintf("%s/runs", dir);
    jobfix_dataset(data, 10);
    char *spec = jobfix_spec(data, out, 3, 1, "\"name\": \"one\"");
    uint64_t calls0 = model_calls();
    progress_seen_t ps = {0};
    sched_t *s = engine(fleet, NULL, true, &ps);
    CHECK(s != NULL);
    if (!s) goto out;
    CHECK(sched_db_path(s) == NULL); /* decided by the first submission */
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX];
    CHECK(submit(s, spec, id, &errs) == SCHED_OK);
    CHECK(strncmp(id, "one-", 4) == 0);
    char *db_path = xasprintf("%s/llmaj.db", out);
    CHECK(sched_db_path(s) && !strcmp(sched_db_path(s), db_path));
    CHECK(sched_run(s, &errs) == SCHED_OK);
    errlist_print(&errs, stderr, "  ");
    CHECK(sched_run(s, &errs) == SCHED_E_INTERNAL); /* an engine runs once */
    errlist_free(&errs);
    CHECK(ps.finals == 1 && ps.last_done == 20);

    sched_status_t st;
    CHECK(status_of(db_path, id, &st) == 0);
    CHECK(st.job.state == SCHED_JOB_SUCCEEDED && st.job.error == NULL);
    CHECK(st.units_total == 20 && st.units_done == 20 && st.unit_errors == 0);
    CHECK(st.shards_total == 4 && st.shards_done == 4 && st.shards_inflight == 0 && st.dispatches >= 4);
    CHECK(st.scores[SCORE_OK] + st.scores[SCORE_UNSCORED] + st.scores[SCORE_ERROR] + st.scores[SCORE_NOT_APPLICABLE] ==
          40);
    CHECK(st.output_written && st.job.finished_at > 0);
    CHECK_STR(st.steps[SCHED_STEP_RUN].status, "succeeded");
    CHECK_STR(st.steps[SCHED_STEP_COLLECT].status, "succeeded");
    CHECK_STR(st.steps[SCHED_STEP_MLFLOW].status, "skipped");
    /* Every output made one inference call and one judge call per metric (plus re-asks). */
    CHECK(model_calls() - calls0 >= 20 + 40);
    char *records = xasprintf("%s/records.jsonl", st.output_dir);
    CHECK(lines_of(records) == 20);
    free(records);
    sched_status_clear(&st);

    /* The summary is stored with the job, and the page of results agrees with the count. */
    sched_db_t *db = NULL;
    errlist_init(&errs, 0);
    CHECK(sched_db_open(db_path, NULL, &db, &errs) == SCHED_OK);
    cJSON *sum = NULL;
    CHECK(sched_job_summary(db, id, &sum, &errs) == SCHED_OK);
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sum, "targets"), "base") != NULL);
    cJSON_Delete(sum);
    sched_page_t pg;
    CHECK(sched_job_results(db, id, 0, 5, NULL, &pg, &errs) == SCHED_OK && pg.total == 20);
    sched_db_close(&db);
    errlist_free(&errs);
    free(db_path);
    sched_destroy(&s);
out:
    free(spec);
    free(data);
    free(out);
}

static void test_two_jobs(embedded_t *fleet)
{
    char *a = xasprintf("%s/a.jsonl", dir), *b = xasprintf("%s/b.jsonl", dir), *out = xasprintf("%s/two", dir);
    char *db_path = xasprintf("%s/two.db", dir);
    jobfix_dataset(a, 7);
    jobfix_dataset(b, 5);
    char *sa = jobfix_spec(a, out, 2, 1, "\"name\": \"a\""), *sb = jobfix_spec(b, out, 2, 0, "\"name\": \"b\"");
    sched_t *s = engine(fleet, db_path, true, NULL);
    errlist_t errs;
    errlist_init(&errs, 0);
    char ida[SCHED_JOB_ID_MAX], idb[SCHED_JOB_ID_MAX];
    CHECK(s && submit(s, sa, ida, &errs) == SCHED_OK && submit(s, sb, idb, &errs) == SCHED_OK);
    CHECK(strcmp(ida, idb) != 0);
    CHECK(s && sched_run(s, &errs) == SCHED_OK);
    errlist_print(&errs, stderr, "  ");
    sched_status_t st;
    CHECK(status_of(db_path, ida, &st) == 0 && st.job.state == SCHED_JOB_SUCCEEDED && st.units_done == 14);
    sched_status_clear(&st);
    CHECK(status_of(db_path, idb, &st) == 0 && st.job.state == SCHED_JOB_SUCCEEDED && st.units_done == 5);
    sched_status_clear(&st);
    errlist_free(&errs);
    sched_destroy(&s);
    free(sa);
    free(sb);
    free(a);
    free(b);
    free(out);
    free(db_path);
}

/* ---- bad input ---- */

static int count_job(const sched_job_t *j, void *arg)
{
    (void)j;
    (*(int *)arg)++;
    return 0;
}

static int jobs_in(const char *db_path)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    int n = -1;
    if (sched_db_open(db_path, NULL, &db, &errs) == SCHED_OK) {
        n = 0;
        if (sched_jobs_list(db, count_job, &n, &errs) != SCHED_OK) n = -1;
    }
    sched_db_close(&db);
    errlist_free(&errs);
    return n;
}

static void test_bad_input(embedded_t *fleet)
{
    char *data = xasprintf("%s/bad.jsonl", dir), *out = xasprintf("%s/runs", dir);
    char *db_path = xasprintf("%s/llmaj.db", out);
    FILE *f = fopen(data, "w");
    fputs("{\"prompt\": \"fine\"}\n{\"prompt\": 3}\n{\"prompt\": \"fine too\"}\n", f);
    fclose(f);
    char *spec = jobfix_spec(data, out, 2, 0, NULL);
    int before = jobs_in(db_path);
    uint64_t calls0 = model_calls();
    sched_t *s = engine(fleet, db_path, true, NULL);
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX] = "x";
    CHECK(s && submit(s, spec, id, &errs) == SCHED_E_INPUT && id[0] == '\0');
    char *where = xasprintf("%s:2", data);
    bool named = false;
    for (size_t i = 0; i < errs.n_kept; i++) named |= strstr(errs.msgs[i], where) != NULL;
    CHECK(named);
    free(where);
    errlist_free(&errs);
    /* A spec with problems: every one listed. */
    errlist_init(&errs, 0);
    const char *bad_spec = "{\"model\": \"nope-no-such-provider\", \"builtin_metrics\": [\"Correctness\", \"Bogus\"]}";
    sched_submit_t in = {.spec_json = bad_spec, .len = strlen(bad_spec), .origin = "bad.json"};
    CHECK(s && sched_submit(s, &in, id, &errs) == SCHED_E_INPUT && errs.count >= 3);
    errlist_free(&errs);
    /* Nothing to run: the engine returns at once; nothing stored, no model called. */
    errlist_init(&errs, 0);
    CHECK(s && sched_run(s, &errs) == SCHED_OK);
    errlist_free(&errs);
    CHECK(jobs_in(db_path) == before);
    CHECK(model_calls() == calls0);
    sched_destroy(&s);
    free(spec);
    free(data);
    free(out);
    free(db_path);
}

/* ---- stop, resume, shutdown ---- */

typedef struct {
    sched_t *s;
    sched_err_t rc;
} runner_t;

static void *run_thread(void *arg)
{
    runner_t *r = arg;
    errlist_t errs;
    errlist_init(&errs, 0);
    r->rc = sched_run(r->s, &errs);
    errlist_print(&errs, stderr, "  run: ");
    errlist_free(&errs);
    return NULL;
}

/* Polls the job's status until at least `done` outputs are committed. */
static bool wait_done(const char *db_path, const char *id, uint64_t done)
{
    for (int i = 0; i < DEADLINE_POLLS; i++) {
        sched_status_t st;
        if (access(db_path, F_OK) == 0 && status_of(db_path, id, &st) == 0) {
            bool ok = st.units_done >= done;
            sched_status_clear(&st);
            if (ok) return true;
        }
        usleep(10000);
    }
    return false;
}

static void test_stop_and_resume(embedded_t *fleet)
{
    char *data = xasprintf("%s/slow.jsonl", dir), *out = xasprintf("%s/slow", dir);
    char *db_path = xasprintf("%s/slow.db", dir);
    jobfix_dataset(data, 200);
    char *spec = jobfix_spec(data, out, 2, 0, "\"name\": \"slow\"");
    sched_t *s = engine(fleet, db_path, true, NULL);
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX];
    CHECK(s && submit(s, spec, id, &errs) == SCHED_OK);
    /* Not one of this engine's / not running yet: the errors of stop and resume. */
    CHECK(sched_stop(s, "no-such-job", &errs) == SCHED_E_NOTFOUND);
    CHECK(sched_resume(s, id, &errs) == SCHED_E_STATE); /* queued here already */
    errlist_free(&errs);
    runner_t r = {.s = s};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, run_thread, &r) == 0);
    CHECK(wait_done(db_path, id, 2));
    errlist_init(&errs, 0);
    CHECK(sched_stop(s, id, &errs) == SCHED_OK);
    pthread_join(t, NULL);
    CHECK(r.rc == SCHED_OK);
    CHECK(sched_stop(s, id, &errs) == SCHED_E_STATE); /* it has ended */
    errlist_free(&errs);
    sched_destroy(&s);

    sched_status_t st;
    uint64_t done_then = 0;
    CHECK(status_of(db_path, id, &st) == 0);
    CHECK(st.job.state == SCHED_JOB_STOPPED && st.units_done < 200 && st.output_written);
    CHECK_STR(st.steps[SCHED_STEP_RUN].status, "stopped");
    done_then = st.units_done;
    char *records = xasprintf("%s/records.jsonl", st.output_dir);
    CHECK(lines_of(records) == (int)done_then); /* what it committed is written */
    sched_status_clear(&st);

    /* A new engine resumes it: only what is missing runs, nothing is counted twice. */
    uint64_t calls0 = model_calls();
    s = engine(fleet, db_path, true, NULL);
    errlist_init(&errs, 0);
    CHECK(s && sched_resume(s, "no-such-job", &errs) == SCHED_E_NOTFOUND);
    CHECK(s && sched_resume(s, id, &errs) == SCHED_OK);
    CHECK(s && sched_run(s, &errs) == SCHED_OK);
    errlist_free(&errs);
    sched_destroy(&s);
    CHECK(status_of(db_path, id, &st) == 0);
    CHECK(st.job.state == SCHED_JOB_SUCCEEDED && st.units_done == 200 && st.records_done == 200);
    sched_status_clear(&st);
    CHECK(lines_of(records) == 200);
    /* At most the shards in flight at the stop ran again in part; the rest only once. */
    CHECK(model_calls() - calls0 <= (200 - done_then + 2 * 2) * 3 * 2);
    free(records);

    /* Resuming or stopping a job that succeeded is refused, also by an engine that never ran it. */
    s = engine(fleet, db_path, true, NULL);
    errlist_init(&errs, 0);
    CHECK(s && sched_resume(s, id, &errs) == SCHED_E_STATE);
    CHECK(s && sched_stop(s, id, &errs) == SCHED_E_STATE);
    CHECK(s && sched_stop(s, "no-such-job", &errs) == SCHED_E_NOTFOUND);
    errlist_free(&errs);
    sched_destroy(&s);
    free(spec);
    free(data);
    free(out);
    free(db_path);
}

static void test_shutdown(embedded_t *fleet)
{
    char *data = xasprintf("%s/svc.jsonl", dir), *out = xasprintf("%s/svc", dir);
    char *db_path = xasprintf("%s/svc.db", dir);
    jobfix_dataset(data, 200);
    char *spec = jobfix_spec(data, out, 2, 0, "\"name\": \"svc\"");
    sched_t *s = engine(fleet, db_path, false, NULL); /* a service: runs until shut down */
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX] = "";
    runner_t r = {.s = s};
    pthread_t t;
    CHECK(s && pthread_create(&t, NULL, run_thread, &r) == 0);
    /* Submitted while the engine runs, from this thread. */
    CHECK(s && submit(s, spec, id, &errs) == SCHED_OK);
    CHECK(wait_done(db_path, id, 2));
    sched_shutdown(s);
    pthread_join(t, NULL);
    CHECK(r.rc == SCHED_OK);
    errlist_free(&errs);
    sched_destroy(&s);
    sched_status_t st;
    CHECK(status_of(db_path, id, &st) == 0 && st.job.state == SCHED_JOB_RUNNING && st.units_done < 200);
    sched_status_clear(&st);

    s = engine(fleet, db_path, true, NULL);
    errlist_init(&errs, 0);
    CHECK(s && sched_resume(s, id, &errs) == SCHED_OK && sched_run(s, &errs) == SCHED_OK);
    errlist_free(&errs);
    sched_destroy(&s);
    CHECK(status_of(db_path, id, &st) == 0 && st.job.state == SCHED_JOB_SUCCEEDED && st.units_done == 200);
    sched_status_clear(&st);
    free(spec);
    free(data);
    free(out);
    free(db_path);
}

/* ---- the service's engine: queued beyond max_jobs, a retry in place, a restart that takes its
 * jobs up, one service per database, a stop from another process ---- */

static sched_t *serve_engine(embedded_t *fleet, const char *db_path, int max_jobs)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_opts_t o = {.broker = embedded_endpoint(fleet),
                      .zmq_ctx = embedded_zmq_ctx(fleet),
                      .db_path = db_path,
                      .window = 2,
                      .heartbeat_ms = 100,
                      .serve = true,
                      .max_jobs = max_jobs};
    sched_t *s = sched_new(&o, &errs);
    errlist_free(&errs);
    return s;
}

static bool wait_state(const char *db_path, const char *id, sched_job_state_t want)
{
    for (int i = 0; i < DEADLINE_POLLS; i++) {
        sched_status_t st;
        if (access(db_path, F_OK) == 0 && status_of(db_path, id, &st) == 0) {
            bool ok = st.job.state == want;
            sched_status_clear(&st);
            if (ok) return true;
        }
        usleep(10000);
    }
    return false;
}

static void test_service_engine(embedded_t *fleet)
{
    char *data = xasprintf("%s/svc.jsonl", dir), *big = xasprintf("%s/svcbig.jsonl", dir),
         *out = xasprintf("%s/svc", dir);
    char *db_path = xasprintf("%s/svc.db", dir);
    jobfix_dataset(data, 8);
    jobfix_dataset(big, 400);
    char *spec = jobfix_spec(data, out, 2, 0, "\"name\": \"small\"");
    char *spec_big = jobfix_spec(big, out, 2, 0, "\"name\": \"big\"");
    sched_t *s = serve_engine(fleet, db_path, 1);
    errlist_t errs;
    errlist_init(&errs, 0);
    char id_big[SCHED_JOB_ID_MAX], id[SCHED_JOB_ID_MAX];
    CHECK(s && submit(s, spec_big, id_big, &errs) == SCHED_OK && submit(s, spec, id, &errs) == SCHED_OK);
    runner_t r = {.s = s};
    pthread_t t;
    pthread_create(&t, NULL, run_thread, &r);
    /* max_jobs 1: the second waits queued while the first runs. */
    CHECK(wait_done(db_path, id_big, 4));
    sched_status_t st;
    CHECK(status_of(db_path, id, &st) == 0 && st.job.state == SCHED_JOB_PENDING &&
          !strcmp(sched_job_state_name(st.job.state), "queued"));
    sched_status_clear(&st);
    /* A second service on the same database refuses to run. */
    sched_t *other = serve_engine(fleet, db_path, 1);
    CHECK(other && sched_run(other, &errs) == SCHED_E_STATE);
    sched_destroy(&other);
    /* Shut down mid-job: the big job stays running in the database, the small one queued. */
    sched_shutdown(s);
    pthread_join(t, NULL);
    sched_destroy(&s);
    CHECK(status_of(db_path, id_big, &st) == 0 && st.job.state == SCHED_JOB_RUNNING);
    uint64_t done_before = st.units_done;
    sched_status_clear(&st);
    /* A new service takes both up by itself, no resume asked for, and ends them exactly. */
    s = serve_engine(fleet, db_path, 2);
    r = (runner_t){.s = s};
    pthread_create(&t, NULL, run_thread, &r);
    CHECK(wait_state(db_path, id_big, SCHED_JOB_SUCCEEDED) && wait_state(db_path, id, SCHED_JOB_SUCCEEDED));
    CHECK(status_of(db_path, id_big, &st) == 0 && st.units_done == 400 && st.units_done > done_before &&
          st.scores[SCORE_OK] + st.scores[SCORE_UNSCORED] + st.scores[SCORE_NOT_APPLICABLE] + st.scores[SCORE_ERROR] ==
              800);
    char *records = xasprintf("%s/records.jsonl", st.output_dir);
    CHECK(lines_of(records) == 400);
    free(records);
    sched_status_clear(&st);

    /* A retry in place: two cells made `error` by hand rerun, nothing else. */
    char *q = xasprintf("UPDATE scores SET status=3, rating=NULL, score=NULL WHERE job_id='%s' AND idx IN (3, 5) AND "
                        "metric='Helpfulness'",
                        id);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK && sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    free(q);
    mock_stats_t m0, m1;
    mock_get_stats(mock, &m0);
    uint64_t cells = 0;
    CHECK(sched_retry(s, id, false, &cells, &errs) == SCHED_OK && cells == 2);
    CHECK(wait_state(db_path, id, SCHED_JOB_SUCCEEDED));
    mock_get_stats(mock, &m1);
    CHECK(m1.inference_calls == m0.inference_calls && m1.judge_calls - m0.judge_calls >= 2 &&
          m1.judge_calls - m0.judge_calls <= 4); /* the two judge calls (a re-ask each at most) */
    CHECK(status_of(db_path, id, &st) == 0 && st.units_done == 8 && st.scores[SCORE_ERROR] == 0 &&
          st.scores[SCORE_OK] + st.scores[SCORE_UNSCORED] + st.scores[SCORE_NOT_APPLICABLE] == 16);
    sched_status_clear(&st);
    CHECK(sched_retry(s, id, false, &cells, &errs) == SCHED_E_STATE); /* nothing left */
    CHECK(sched_retry(s, "no-such", false, &cells, &errs) == SCHED_E_NOTFOUND);

    /* A stop asked for from "another process", through the database. */
    char id3[SCHED_JOB_ID_MAX];
    char *spec3 = jobfix_spec(big, out, 2, 0, "\"name\": \"stopme\"");
    CHECK(submit(s, spec3, id3, &errs) == SCHED_OK);
    CHECK(wait_done(db_path, id3, 2));
    CHECK(sched_request_stop(db_path, id3, &errs) == SCHED_OK);
    CHECK(wait_state(db_path, id3, SCHED_JOB_STOPPED));
    CHECK(status_of(db_path, id3, &st) == 0 && st.partial && st.shards_inflight == 0);
    sched_status_clear(&st);
    CHECK(sched_request_stop(db_path, id3, &errs) == SCHED_E_STATE);
    CHECK(sched_request_stop(db_path, "nope", &errs) == SCHED_E_NOTFOUND);
    sched_shutdown(s);
    pthread_join(t, NULL);
    sched_destroy(&s);
    errlist_free(&errs);
    free(spec3);
    free(spec);
    free(spec_big);
    free(db_path);
    free(data);
    free(big);
    free(out);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_sched");
    mock_opts_t mo;
    mock_opts_default(&mo);
    mo.log_level = LOG_WARN;
    char err[512];
    if (!(mock = mock_new(&mo, err, sizeof err))) {
        fprintf(stderr, "mock: %s\n", err);
        return 2;
    }
    jobfix_env(mock_url(mock));
    embedded_opts_t eo = {.workers = 2, .concurrency = 8};
    embedded_t *fleet = embedded_start(&eo, err, sizeof err);
    CHECK(fleet != NULL);
    if (fleet) {
        test_one_job(fleet);
        test_two_jobs(fleet);
        test_bad_input(fleet);
        embedded_stop(&fleet);
    }
    /* Slow calls and one call at a time, so a job is caught midway. */
    mock_destroy(&mock);
    mo.latency.kind = MOCK_LATENCY_FIXED;
    mo.latency.a = 10;
    if (!(mock = mock_new(&mo, err, sizeof err))) {
        fprintf(stderr, "mock: %s\n", err);
        return 2;
    }
    jobfix_env(mock_url(mock));
    eo = (embedded_opts_t){.workers = 1, .concurrency = 1};
    fleet = embedded_start(&eo, err, sizeof err);
    CHECK(fleet != NULL);
    if (fleet) {
        test_stop_and_resume(fleet);
        test_shutdown(fleet);
        test_service_engine(fleet);
        embedded_stop(&fleet);
    }
    mock_destroy(&mock);
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_sched");
}
