/* test_writer: the thread that ends jobs: a job handed over is written there (result files, the
 * summary, the counts, its final state) with the thread's own connection, and comes back with its
 * summary and job.json objects, after a wake; pending counts the jobs handed over and not taken
 * back; a job still queued when the writer stops is left as it was in the database (RUNNING), for
 * the next engine to end. Also job_count's bookkeeping of units, records and errors. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "jobfix.h"
#include "job.h"
#include "mem.h"
#include "store.h"
#include "writer.h"

static char *dir;
static atomic_int wakes;

static void wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

/* A stored job of 5 records (shards of 2, one target, Correctness and Helpfulness), opened, with
 * every result committed (record 4's judge failed on Helpfulness) and its shards done. */
static job_t *finished_job(const char *db, store_t **st, char *id)
{
    char *data = xasprintf("%s/d.jsonl", dir), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, 5);
    char *spec = jobfix_spec(data, out, 2, 0, NULL);
    errlist_t errs;
    errlist_init(&errs, 0);
    char *used = NULL;
    sched_submit_t in = {.spec_json = spec, .len = strlen(spec), .origin = "spec"};
    CHECK(job_submit(&in, db, NULL, NULL, &used, id, &errs) == SCHED_OK);
    errlist_free(&errs);
    free(used);
    free(spec);
    free(data);
    free(out);
    char err[512];
    *st = store_open(db, STORE_WRITE, err, sizeof err);
    job_t *j = job_open(*st, id, err, sizeof err);
    CHECK(j != NULL);
    for (uint64_t i = 0; j && i < 5; i++) {
        result_t r = i < 4 ? jobfix_result(id, i, TARGET_CUSTOM, 2, "Correctness", "Helpfulness")
                           : jobfix_result(id, i, TARGET_CUSTOM, 2, "Correctness", "!Helpfulness");
        bool fo;
        size_t fs;
        uint64_t by[4] = {0};
        CHECK(store_result_commit(*st, id, &r, &fo, &fs, by) == 0);
        job_count(j, *st, &r, fo, fs, by);
        /* A redelivery counts nothing. */
        memset(by, 0, sizeof by);
        CHECK(store_result_commit(*st, id, &r, &fo, &fs, by) == 0 && !fo && fs == 0);
        job_count(j, *st, &r, fo, fs, by);
        result_clear(&r);
    }
    if (j) {
        CHECK(j->units_done == 5 && j->records_done == 5 && j->unit_errors == 0);
        CHECK(j->scores[SCORE_OK] == 9 && j->scores[SCORE_ERROR] == 1);
        for (size_t i = 0; i < j->n_shards; i++) j->shards[i].state = SHARD_DONE;
        j->done = j->n_shards;
    }
    return j;
}

static void test_write(void)
{
    char *db = xasprintf("%s/w.db", dir);
    char id[SCHED_JOB_ID_MAX];
    store_t *st = NULL;
    job_t *j = finished_job(db, &st, id);
    char *out_dir = j ? xstrdup(j->out_dir) : NULL;
    char err[512];
    writer_t *w = writer_start(db, wake, NULL, err, sizeof err);
    CHECK(w != NULL);
    if (!w || !j) return;
    CHECK(job_over(j) && job_final_state(j) == SCHED_JOB_SUCCEEDED);
    writer_submit(w, j, SCHED_JOB_SUCCEEDED, 2);
    CHECK(writer_pending(w) == 1);
    written_t *got = NULL;
    for (int i = 0; i < 500 && !got; i++) {
        got = writer_take(w);
        if (!got) usleep(20000);
    }
    CHECK(got && got->job == j && got->state == SCHED_JOB_SUCCEEDED && got->summary && got->jobj && !got->next);
    CHECK(atomic_load(&wakes) >= 1 && writer_pending(w) == 0);
    const cJSON *partial = cJSON_GetObjectItemCaseSensitive(got ? got->summary : NULL, "partial");
    CHECK(cJSON_IsFalse(partial));
    written_free(got);
    store_job_t row;
    CHECK(store_job_get(st, id, &row) == 0 && row.state == SCHED_JOB_SUCCEEDED && row.has_counts &&
          row.counts.units_done == 5 && row.counts.scores[SCORE_ERROR] == 1);
    store_job_clear(&row);
    char *rec = xasprintf("%s/records.jsonl", out_dir);
    struct stat sb;
    CHECK(stat(rec, &sb) == 0 && sb.st_size > 0);
    free(rec);

    /* Stopping with a job queued (the thread busy or not): it stays RUNNING in the database. */
    char id2[SCHED_JOB_ID_MAX];
    char *db2 = xasprintf("%s/w2.db", dir);
    store_t *st2 = NULL;
    job_t *j2 = finished_job(db2, &st2, id2);
    writer_stop(&w);
    CHECK(w == NULL);
    writer_t *w2 = writer_start(db2, wake, NULL, err, sizeof err);
    CHECK(w2 != NULL);
    if (w2 && j2) {
        /* Stop at once: whether or not it got to it, the job ends in a known state. */
        writer_submit(w2, j2, SCHED_JOB_STOPPED, 1);
        writer_stop(&w2);
        CHECK(store_job_get(st2, id2, &row) == 0 && (row.state == SCHED_JOB_RUNNING || row.state == SCHED_JOB_STOPPED));
        store_job_clear(&row);
    }
    writer_stop(&w2);
    store_close(&st2);
    store_close(&st);
    free(db2);
    free(out_dir);
    free(db);
}

int main(void)
{
    dir = jobfix_tmpdir("test_writer");
    jobfix_env("http://127.0.0.1:9");
    test_write();
    char err[256];
    CHECK(writer_start("/nonexistent/dir/x.db", wake, NULL, err, sizeof err) == NULL && strlen(err) > 0);
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_writer");
}
