/* test_reuse: "reuse_responses_from" on a real job database (reuse.c, job.c's copy of the records,
 * cache.c's copy of the responses): a job that has not ended, does not exist, has another dataset
 * or model, no base responses or a failed inference is refused with the key named and nothing
 * stored; an accepted job takes the models and dataset from the job it names, has its records,
 * and has every response copied in (origin "reused", no usage, no verdict) before a shard goes out,
 * so that only judge calls remain; a reused response gone later fails the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "ingest.h"
#include "log.h"
#include "mem.h"
#include "reuse.h"
#include "store.h"
#include "wire.h"
#include "check.h"
#include "jobfix.h"

static char *dir, *db, *data;

/* Submits spec; SCHED_OK with the id in id. errs is the caller's (errlist_free). */
static sched_err_t submit(const char *spec, char id[SCHED_JOB_ID_MAX], errlist_t *errs)
{
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "spec"};
    errlist_init(errs, 0);
    char *used = NULL;
    sched_err_t rc = job_submit(&in, db, NULL, NULL, &used, id, errs);
    free(used);
    return rc;
}

/* A source job of 8 records (with a base model when base), its results committed (record 5's base
 * inference failed when fail5), ended. */
static void make_source(int base, bool fail5, const char *name, char id[SCHED_JOB_ID_MAX])
{
    char *out = xasprintf("%s/out", dir), *extra = xasprintf("\"name\": \"%s\"", name);
    char *spec = jobfix_spec(data, out, 4, base, extra);
    errlist_t errs;
    CHECK(submit(spec, id, &errs) == SCHED_OK);
    errlist_print(&errs, stderr, "  source: ");
    errlist_free(&errs);
    char err[512];
    store_t *st = store_open(db, STORE_WRITE, err, sizeof err);
    job_t *j = st ? job_open(st, id, err, sizeof err) : NULL;
    CHECK(j != NULL);
    if (j) {
        ingest_t *in = ingest_new(st);
        for (uint64_t i = 0; i < 8; i++)
            for (int t = 0; t <= base; t++) {
                result_t r = jobfix_result(id, i, (target_t)t, 2, "Correctness", "Helpfulness");
                if (fail5 && i == 5 && t == TARGET_BASE) {
                    free(r.response);
                    r.response = NULL;
                    r.error = xstrdup("HTTP 500: the endpoint failed");
                }
                buf_t b;
                buf_init(&b, WIRE_MAX_MSG);
                CHECK(wire_result_encode(&r, &b) == 0);
                ingest_result(in, j, i / 4, b.data, b.len);
                buf_free(&b);
                result_clear(&r);
            }
        CHECK(ingest_flush(in) == 0);
        ingest_destroy(&in);
        job_destroy(&j);
    }
    store_close(&st);
    free(spec);
    free(extra);
    free(out);
}

static void set_state(const char *id, sched_job_state_t state)
{
    char err[512];
    store_t *st = store_open(db, STORE_WRITE, err, sizeof err);
    CHECK(st && store_job_set_state(st, id, state, NULL) == 0);
    store_close(&st);
}

/* A reusing spec: `rest` more members (may be ""). Caller frees. */
static char *reuse_spec(const char *src, const char *rest)
{
    return xasprintf("{\"reuse_responses_from\": \"%s\", \"evaluator_model\": \"anthropic/judge2\", "
                     "\"builtin_metrics\": [\"Correctness\", \"Completeness\"], \"output_path\": \"%s/out\", "
                     "\"shard_size\": 3%s%s}",
                     src, dir, *rest ? ", " : "", rest);
}

/* spec is refused with a message that starts with key and contains want; nothing is stored. */
static bool refused(const char *src, const char *rest, const char *key, const char *want)
{
    char *spec = reuse_spec(src, rest), id[SCHED_JOB_ID_MAX];
    errlist_t errs;
    sched_err_t rc = submit(spec, id, &errs);
    bool found = false;
    for (size_t i = 0; i < errs.n_kept; i++)
        found |= strncmp(errs.msgs[i], key, strlen(key)) == 0 && strstr(errs.msgs[i], want) != NULL;
    if (rc != SCHED_E_INPUT || !found) {
        fprintf(stderr, "  not refused as expected (%s / %s):\n", key, want);
        errlist_print(&errs, stderr, "    ");
    }
    errlist_free(&errs);
    free(spec);
    return rc == SCHED_E_INPUT && found;
}

static int count_job(const store_job_t *job, void *arg)
{
    (void)job;
    (*(uint64_t *)arg)++;
    return 0;
}

/* Jobs in the database, hidden (loading) ones included. */
static uint64_t jobs_in_db(void)
{
    char err[512];
    store_t *st = store_open(db, STORE_READ, err, sizeof err);
    uint64_t n = 0;
    if (!st || store_jobs_each(st, count_job, &n) < 0) n = UINT64_MAX;
    store_close(&st);
    return n;
}

static void test_refused(void)
{
    char src[SCHED_JOB_ID_MAX], nobase[SCHED_JOB_ID_MAX], failed[SCHED_JOB_ID_MAX];
    make_source(1, false, "src", src);
    make_source(0, false, "nobase", nobase);
    make_source(1, true, "failed", failed);
    uint64_t jobs = jobs_in_db();

    /* Not ended yet: running, or queued. */
    CHECK(refused(src, "", "reuse_responses_from", "is running"));
    set_state(src, SCHED_JOB_PENDING);
    CHECK(refused(src, "", "reuse_responses_from", "is queued"));
    set_state(src, SCHED_JOB_SUCCEEDED);
    set_state(nobase, SCHED_JOB_SUCCEEDED);
    set_state(failed, SCHED_JOB_FAILED);

    CHECK(refused("no-such-job", "", "reuse_responses_from", "no job `no-such-job`"));
    char *other = xasprintf("\"dataset\": \"%s/other.jsonl\"", dir);
    CHECK(refused(src, other, "dataset", src));
    free(other);
    CHECK(refused(src, "\"model\": \"openai-api/mock/other\"", "model", "openai-api/mock/ft"));
    CHECK(refused(src, "\"base_model\": \"openai-api/mock/other\", \"evaluate_base_model\": true", "base_model",
                  "openai-api/mock/base"));
    CHECK(refused(nobase, "\"evaluate_base_model\": true", "evaluate_base_model", "did not evaluate a base model"));
    CHECK(refused(failed, "", "reuse_responses_from",
                  "no base response for 1 of its 8 record(s) (the first: "
                  "record 5, HTTP 500: the endpoint failed)"));
    CHECK(jobs_in_db() == jobs); /* nothing stored */

    /* The failed job's custom responses are all there: reusing only those is fine. */
    char *spec = reuse_spec(failed, "\"evaluate_base_model\": false"), id[SCHED_JOB_ID_MAX];
    errlist_t errs;
    CHECK(submit(spec, id, &errs) == SCHED_OK);
    errlist_print(&errs, stderr, "  ");
    errlist_free(&errs);
    free(spec);
}

static void test_reused(void)
{
    char src[SCHED_JOB_ID_MAX], id[SCHED_JOB_ID_MAX];
    make_source(1, false, "src2", src);
    set_state(src, SCHED_JOB_STOPPED); /* stopped with every response there: as good as finished */
    CHECK(refused("src", "", "reuse_responses_from", "is the beginning of 2 jobs' ids"));
    /* The beginning of one job's id names it; the full id is what the spec keeps. */
    char *spec = reuse_spec("src2-", "\"name\": \"rejudge\"");
    errlist_t errs;
    CHECK(submit(spec, id, &errs) == SCHED_OK);
    errlist_print(&errs, stderr, "  ");
    errlist_free(&errs);
    free(spec);

    char err[512];
    store_t *st = store_open(db, STORE_WRITE, err, sizeof err);
    job_t *j = st ? job_open(st, id, err, sizeof err) : NULL;
    CHECK(j != NULL);
    if (!j) {
        store_close(&st);
        return;
    }
    CHECK(strcmp(j->spec->reuse_from, src) == 0);
    /* The models and dataset are the source's; its records, cut in the new job's shards. */
    CHECK(strcmp(j->spec->model, "openai-api/mock/ft") == 0 &&
          strcmp(j->spec->base_model, "openai-api/mock/base") == 0);
    CHECK(j->spec->evaluate_base_model && j->targets == 2);
    CHECK(j->spec->dataset && strcmp(j->spec->dataset, data) == 0);
    CHECK(j->n_shards == 3 && j->shards[2].first == 6 && j->shards[2].last == 7);
    record_t rec;
    CHECK(store_record_get(st, id, 4, &rec) == 0 && rec.id && strcmp(rec.id, "r4") == 0);
    record_clear(&rec);

    /* Before a shard goes out, its responses are copied in: only the judge's cells remain. */
    ingest_t *in = ingest_new(st);
    cache_stats_t s0, s1;
    cache_stats(&s0);
    for (size_t k = 0; k < j->n_shards; k++) CHECK(cache_prefill(j, in, k) == 0);
    cache_stats(&s1);
    CHECK(s1.reused - s0.reused == 16);
    CHECK(j->saved[STORE_SAVED_REUSED] == 16 && j->saved[STORE_SAVED_INFERENCE] == 0);
    CHECK(cache_prefill(j, in, 0) == 0); /* again: nothing copied twice */
    cache_stats(&s0);
    CHECK(s0.reused == s1.reused);
    store_unit_t u[2];
    CHECK(store_units_of(st, id, 4, u) == 0);
    CHECK(u[0].has_output && u[0].response && strcmp(u[0].response, "response 4/0") == 0 && u[0].n_metrics == 0);
    CHECK(u[1].has_output && u[1].response && strcmp(u[1].response, "response 4/1") == 0 && u[1].n_metrics == 0);
    store_unit_clear(&u[0]);
    store_unit_clear(&u[1]);
    uint64_t cached = 9, reused = 0, verdicts = 9;
    CHECK(store_origin_counts(st, id, &cached, &reused, &verdicts) == 0 && cached == 0 && reused == 16 &&
          verdicts == 0);
    CHECK(!j->fatal);
    ingest_destroy(&in);
    job_destroy(&j);

    /* A reused response gone (its job deleted) before a shard goes out fails the job, naming it. */
    char id2[SCHED_JOB_ID_MAX];
    spec = reuse_spec(src, "\"name\": \"late\"");
    CHECK(submit(spec, id2, &errs) == SCHED_OK);
    errlist_free(&errs);
    free(spec);
    CHECK(store_job_delete(st, src) == 0);
    j = job_open(st, id2, err, sizeof err);
    CHECK(j != NULL);
    if (j) {
        in = ingest_new(st);
        CHECK(cache_prefill(j, in, 0) < 0);
        CHECK(j->fatal && strstr(j->fatal, "reuse_responses_from: job ") &&
              strstr(j->fatal, "no longer has the responses of 6 record-target(s) of records 0-2"));
        ingest_destroy(&in);
        job_destroy(&j);
    }
    store_close(&st);
}

int main(void)
{
    log_set_level(LOG_OFF);
    dir = jobfix_tmpdir("test_reuse");
    db = xasprintf("%s/llmaj.db", dir);
    data = xasprintf("%s/d.jsonl", dir);
    jobfix_dataset(data, 8);
    char *other = xasprintf("%s/other.jsonl", dir);
    jobfix_dataset(other, 3);
    free(other);
    jobfix_env("http://127.0.0.1:9");
    test_refused();
    test_reused();
    jobfix_rmdir(dir);
    free(dir);
    free(db);
    free(data);
    return check_summary("test_reuse");
}
