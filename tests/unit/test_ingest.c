/* test_ingest: the collector on a real job database: RESULT payloads decoded and committed, counted
 * once (redelivery commits and counts nothing), scores only with the response they judged (another
 * lease's different response: its scores dropped), foreign results (outside the shard's records, a
 * target the job does not evaluate) and malformed payloads dropped, batches committed at
 * INGEST_COMMIT_EVERY and on flush (an open batch is invisible to another connection until then),
 * the completeness count at SHARD_DONE, giving a shard up (its missing outputs recorded as errors,
 * what was there kept), and a commit that fails (the disk "full": a file-size limit) failing the
 * jobs that had results in the batch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "wire.h"
#include "check.h"
#include "jobfix.h"

static char *dir;

/* A stored job of n records in shards of 4, opened; *st its connection. */
static job_t *open_job(const char *db, int n, int base, store_t **st)
{
    char *data = xasprintf("%s/d%d.jsonl", dir, n), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, n);
    char *spec = jobfix_spec(data, out, 4, base, NULL);
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "spec"};
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX], *used = NULL, err[512];
    job_t *j = NULL;
    if (job_submit(&in, db, NULL, NULL, &used, id, &errs) == SCHED_OK &&
        (*st = store_open(db, STORE_WRITE, err, sizeof err)))
        j = job_open(*st, id, err, sizeof err);
    errlist_print(&errs, stderr, "  submit: ");
    errlist_free(&errs);
    free(used);
    free(spec);
    free(data);
    free(out);
    return j;
}

/* The wire payload of a result. Caller frees b. */
static void payload(buf_t *b, const result_t *r)
{
    buf_init(b, WIRE_MAX_MSG);
    CHECK(wire_result_encode(r, b) == 0);
}

static void feed(ingest_t *in, job_t *j, uint64_t shard, uint64_t idx, target_t t, const char *m1, const char *m2)
{
    result_t r = jobfix_result(j->id, idx, t, 2, m1, m2);
    buf_t b;
    payload(&b, &r);
    ingest_result(in, j, shard, b.data, b.len);
    buf_free(&b);
    result_clear(&r);
}

static uint64_t committed(const char *db, const char *id)
{
    char err[512];
    store_t *other = store_open(db, STORE_READ, err, sizeof err);
    uint64_t outputs = 0, scores = 0;
    if (!other || store_counts(other, id, &outputs, &scores) < 0) outputs = UINT64_MAX;
    store_close(&other);
    return outputs;
}

static void test_commit(void)
{
    char *db = xasprintf("%s/c.db", dir);
    store_t *st = NULL;
    job_t *j = open_job(db, 10, 1, &st);
    CHECK(j != NULL);
    if (!j) return;
    ingest_t *in = ingest_new(st);
    CHECK(ingest_store(in) == st);
    feed(in, j, 0, 0, TARGET_CUSTOM, "Correctness", "Helpfulness");
    feed(in, j, 0, 0, TARGET_BASE, "Correctness", "!Helpfulness");
    CHECK(j->units_done == 2 && j->scores[SCORE_OK] == 3 && j->scores[SCORE_ERROR] == 1);
    CHECK(committed(db, j->id) == 0); /* batched: not visible to another connection yet */
    CHECK(ingest_flush(in) == 0);
    CHECK(committed(db, j->id) == 2);
    CHECK(ingest_flush(in) == 0); /* nothing open: nothing to do */

    /* Redelivered: nothing new committed or counted. */
    feed(in, j, 0, 0, TARGET_CUSTOM, "Correctness", "Helpfulness");
    CHECK(j->units_done == 2 && j->scores[SCORE_OK] == 3);

    /* Foreign and malformed results are dropped. */
    log_set_level(LOG_OFF);
    feed(in, j, 0, 4, TARGET_CUSTOM, "Correctness", "Helpfulness"); /* record 4 is shard 1's */
    feed(in, j, 7, 0, TARGET_CUSTOM, "Correctness", "Helpfulness"); /* no shard 7 */
    ingest_result(in, j, 0, "\x93\x01\x02", 3);
    ingest_result(in, j, 0, NULL, 0);
    log_set_level(LOG_ERROR);
    CHECK(j->units_done == 2);
    CHECK(ingest_flush(in) == 0 && committed(db, j->id) == 2);

    /* Scores count only with the response they judged: record 2's response from one lease with
     * one metric, then another lease's different response with both: its scores are dropped
     * (the committed response stays); the missing metric on the committed response counts. */
    result_t a = jobfix_result(j->id, 2, TARGET_CUSTOM, 1, "Correctness");
    result_t b = jobfix_result(j->id, 2, TARGET_CUSTOM, 2, "Correctness", "Helpfulness");
    free(b.response);
    b.response = xstrdup("another lease's response");
    result_t c = jobfix_result(j->id, 2, TARGET_CUSTOM, 1, "Helpfulness");
    buf_t pb;
    uint64_t ok_before = j->scores[SCORE_OK];
    payload(&pb, &a);
    ingest_result(in, j, 0, pb.data, pb.len);
    buf_free(&pb);
    CHECK(j->scores[SCORE_OK] == ok_before + 1 && j->units_done == 2);
    log_set_level(LOG_OFF);
    payload(&pb, &b);
    ingest_result(in, j, 0, pb.data, pb.len);
    buf_free(&pb);
    log_set_level(LOG_ERROR);
    CHECK(j->scores[SCORE_OK] == ok_before + 1 && j->units_done == 2); /* nothing of b */
    payload(&pb, &c);
    ingest_result(in, j, 0, pb.data, pb.len);
    buf_free(&pb);
    CHECK(j->scores[SCORE_OK] == ok_before + 2 && j->units_done == 3);
    result_clear(&a);
    result_clear(&b);
    result_clear(&c);

    /* The check at SHARD_DONE counts what is committed, pending results included. */
    feed(in, j, 0, 1, TARGET_CUSTOM, "Correctness", "Helpfulness");
    uint64_t have = 0;
    CHECK(ingest_shard_outputs(in, j, 0, &have) == 0 && have == 4);
    CHECK(committed(db, j->id) == 4);

    /* A batch is committed by itself once it holds INGEST_COMMIT_EVERY results. */
    job_t *k = open_job(db, INGEST_COMMIT_EVERY + 4, 0, &st); /* a second job on a second connection */
    store_close(&st);
    st = ingest_store(in);
    CHECK(k != NULL);
    if (k) {
        for (uint64_t i = 0; i < INGEST_COMMIT_EVERY; i++)
            feed(in, k, i / 4, i, TARGET_CUSTOM, "Correctness", "Helpfulness");
        CHECK(committed(db, k->id) == INGEST_COMMIT_EVERY);
        CHECK(k->units_done == INGEST_COMMIT_EVERY);
        job_destroy(&k);
    }

    /* Giving shard 1 up: its missing outputs become errors, the one there stays as it was, and a
     * committed response with a metric still to judge gets that metric as an error. */
    feed(in, j, 1, 5, TARGET_BASE, "Correctness", "Helpfulness");
    result_t part = jobfix_result(j->id, 6, TARGET_CUSTOM, 1, "Correctness");
    payload(&pb, &part);
    ingest_result(in, j, 1, pb.data, pb.len);
    buf_free(&pb);
    result_clear(&part);
    ok_before = j->scores[SCORE_OK];
    j->shards[1].submits = SHARD_MAX_SUBMITS;
    CHECK(ingest_give_up(in, j, 1) == 0);
    CHECK(ingest_shard_outputs(in, j, 1, &have) == 0 && have == 8);
    CHECK(j->units_done == 4 + 8 && j->scores[SCORE_ERROR] == 1 + 6 * 2 + 1);
    CHECK(j->scores[SCORE_OK] == ok_before);
    CHECK(ingest_give_up(in, j, 1) == 0 && j->units_done == 12); /* again: nothing new */
    CHECK(!j->fatal);
    ingest_destroy(&in);
    store_close(&st);
    job_destroy(&j);
    free(db);
}

/* The disk fills up under a batch: its commit fails and the jobs with results in it fail. */
static void test_failed_commit(void)
{
    char *db = xasprintf("%s/full.db", dir);
    store_t *st = NULL;
    job_t *j = open_job(db, 40, 0, &st);
    CHECK(j != NULL);
    if (!j) return;
    ingest_t *in = ingest_new(st);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024; /* the database's files may not grow past this */
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    log_set_level(LOG_OFF);
    char *big = xmalloc(40000);
    memset(big, 'x', 39999);
    big[39999] = '\0';
    for (uint64_t i = 0; i < 40 && !j->fatal; i++) {
        result_t r = jobfix_result(j->id, i, TARGET_CUSTOM, 1, "Correctness");
        free(r.response);
        r.response = xstrdup(big);
        buf_t b;
        payload(&b, &r);
        ingest_result(in, j, i / 4, b.data, b.len);
        buf_free(&b);
        result_clear(&r);
    }
    int rc = j->fatal ? -1 : ingest_flush(in);
    log_set_level(LOG_ERROR);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(rc < 0 && j->fatal && strstr(j->fatal, "database"));
    /* The connection is clean afterwards: a new batch works once there is room again. */
    job_t other = *j;
    other.fatal = NULL;
    feed(in, &other, 0, 0, TARGET_CUSTOM, "Correctness", "Helpfulness");
    CHECK(ingest_flush(in) == 0 && !other.fatal);
    ingest_destroy(&in);
    store_close(&st);
    job_destroy(&j);
    free(big);
    free(db);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_ingest");
    jobfix_env("http://127.0.0.1:9");
    test_commit();
    test_failed_commit();
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_ingest");
}
