/* test_store: the SQLite job store on a real file: jobs (create, states and their times, counts,
 * summary), records (put, range, replace, responses), shards (SUBMITs counted, read back),
 * idempotent result commits (redelivery adds nothing, new metrics count), outputs_each order and
 * contents, counts, usage; the read side: job_get, jobs_each order, job_match (unique, ambiguous,
 * exact), job_stats, outputs_page, snapshots across connections, persistence across reopen; the
 * MLflow sync's key-value state; probing a file and opening it to read without creating tables. */
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "record.h"
#include "result.h"
#include <sqlite3.h>

#include "store.h"
#include "check.h"

static bool streq(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

static char dir[64], path[128];

static void rm_db(void)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static record_t mkrec(uint64_t idx, const char *id, const char *prompt, const char *category)
{
    record_t r = {0};
    r.index = idx;
    r.id = xstrdup(id);
    r.prompt = xstrdup(prompt);
    r.reference = xasprintf("ref %llu", (unsigned long long)idx);
    r.category = xstrdup(category);
    if (idx % 2 == 0) r.context = xasprintf("ctx %llu", (unsigned long long)idx);
    return r;
}

/* A result with the given metrics (status ok unless the name starts with '!': error). */
static result_t mkres(uint64_t idx, target_t t, const char *model, const char *response, int n, ...)
{
    result_t r = {0};
    r.job_id = xstrdup("j");
    r.record_index = idx;
    r.target = t;
    r.model = xstrdup(model);
    r.response = xstrdup(response);
    if (!response) r.error = xstrdup("HTTP 500 from the model");
    r.usage.input_tokens = 10 + idx;
    r.usage.output_tokens = 20;
    r.latency_ms = 12.5;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *m = va_arg(ap, const char *);
        score_t *s = result_add_score(&r);
        if (m[0] == '!') {
            s->metric = xstrdup(m + 1);
            s->status = SCORE_ERROR;
            s->error = xstrdup("judge timed out");
        } else if (m[0] == '?') {
            s->metric = xstrdup(m + 1);
            s->status = SCORE_UNSCORED;
            s->error = xstrdup("no rating named");
            s->explanation = xstrdup("rambling reply");
        } else {
            s->metric = xstrdup(m);
            s->status = SCORE_OK;
            s->rating = xstrdup("correct");
            s->has_score = true;
            s->score = 2;
            s->normalized = 1;
            s->explanation = xasprintf("because %s", m);
        }
        s->usage.input_tokens = 100;
        s->usage.output_tokens = 5;
        s->attempts = m[0] == '?' ? 2 : 1;
    }
    va_end(ap);
    return r;
}

/* Runs SQL on the test database through a connection of its own (what another process would do). */
static void sql(const char *q)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char *e = NULL;
    CHECK(sqlite3_exec(db, q, NULL, NULL, &e) == SQLITE_OK);
    if (e) fprintf(stderr, "%s: %s\n", q, e);
    sqlite3_free(e);
    sqlite3_close(db);
}

static void test_jobs(store_t *s)
{
    CHECK(streq(sched_job_state_name(SCHED_JOB_PENDING), "queued"));
    CHECK(streq(sched_job_state_name(SCHED_JOB_STOPPING), "stopping"));
    CHECK(streq(sched_job_state_name(SCHED_JOB_STOPPED), "stopped"));
    CHECK(streq(sched_job_state_name((sched_job_state_t)9), "?"));

    CHECK(store_job_create(s, "alpha-1", "alpha", "{\"model\":\"m\"}", NULL) == 0);
    log_set_level(LOG_OFF);
    CHECK(store_job_create(s, "alpha-1", "again", "{}", NULL) < 0); /* ids are unique */
    log_set_level(LOG_WARN);
    store_job_t j;
    CHECK(store_job_get(s, "alpha-1", &j) == 0);
    CHECK(streq(j.job_id, "alpha-1") && streq(j.name, "alpha") && streq(j.spec_json, "{\"model\":\"m\"}"));
    CHECK(j.state == SCHED_JOB_PENDING && j.error == NULL);
    CHECK(j.created_at > 0 && j.started_at == 0 && j.finished_at == 0);
    CHECK(j.records_total == 0 && j.records_invalid == 0);
    store_job_clear(&j);
    CHECK(j.job_id == NULL);
    store_job_clear(NULL);

    CHECK(store_job_set_counts(s, "alpha-1", 12, 2) == 0);
    CHECK(store_job_set_state(s, "alpha-1", SCHED_JOB_RUNNING, NULL) == 0);
    CHECK(store_job_get(s, "alpha-1", &j) == 0);
    CHECK(j.state == SCHED_JOB_RUNNING && j.started_at > 0 && j.finished_at == 0);
    CHECK(j.records_total == 12 && j.records_invalid == 2);
    int64_t started = j.started_at;
    store_job_clear(&j);
    CHECK(store_job_set_state(s, "alpha-1", SCHED_JOB_FAILED, "judge unreachable") == 0);
    CHECK(store_job_get(s, "alpha-1", &j) == 0);
    CHECK(j.state == SCHED_JOB_FAILED && streq(j.error, "judge unreachable"));
    CHECK(j.started_at == started && j.finished_at >= started);
    store_job_clear(&j);

    /* A job without a name. */
    CHECK(store_job_create(s, "beta-1", NULL, "{}", NULL) == 0);
    CHECK(store_job_get(s, "beta-1", &j) == 0);
    CHECK(j.name == NULL);
    store_job_clear(&j);

    CHECK(store_job_get(s, "nope", &j) == 1);
    CHECK(j.job_id == NULL);
}

static void test_records(store_t *s)
{
    CHECK(store_job_create(s, "rec-job", "r", "{}", NULL) == 0);
    CHECK(store_begin(s) == 0);
    for (uint64_t i = 0; i < 6; i++) {
        record_t r = mkrec(i, i == 3 ? NULL : "id", "prompt", i % 2 ? "odd" : "even");
        if (i == 4) {
            r.responses = xcalloc(2, sizeof(record_response_t));
            r.n_responses = 2;
            r.responses[0].response = xstrdup("mine");
            r.responses[0].model_identifier = xstrdup("m1");
            r.responses[1].response = xstrdup("theirs");
        }
        CHECK(store_record_put(s, "rec-job", &r) == 0);
        record_clear(&r);
    }
    CHECK(store_commit(s) == 0);

    record_t *rs = NULL;
    size_t n = 0;
    CHECK(store_records_range(s, "rec-job", 2, 4, UINT_MAX, &rs, &n) == 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(rs[0].index == 2 && rs[1].index == 3 && rs[2].index == 4);
        CHECK(streq(rs[0].id, "id") && rs[1].id == NULL);
        CHECK(streq(rs[0].reference, "ref 2") && streq(rs[0].context, "ctx 2") && rs[1].context == NULL);
        CHECK(streq(rs[1].category, "odd") && streq(rs[2].category, "even"));
        CHECK(rs[0].n_responses == 0 && rs[2].n_responses == 2);
        if (rs[2].n_responses == 2) {
            CHECK(streq(rs[2].responses[0].response, "mine") && streq(rs[2].responses[0].model_identifier, "m1"));
            CHECK(streq(rs[2].responses[1].response, "theirs") && rs[2].responses[1].model_identifier == NULL);
        }
    }
    for (size_t i = 0; i < n; i++) record_clear(&rs[i]);
    free(rs);

    /* Empty range; other jobs' records are not mixed in. */
    CHECK(store_records_range(s, "rec-job", 10, 20, UINT_MAX, &rs, &n) == 0);
    CHECK(n == 0);
    free(rs);
    CHECK(store_records_range(s, "other", 0, 100, UINT_MAX, &rs, &n) == 0);
    CHECK(n == 0);
    free(rs);

    /* Putting an index again replaces it. */
    record_t r = mkrec(1, "new-id", "new prompt", "x");
    CHECK(store_record_put(s, "rec-job", &r) == 0);
    record_clear(&r);
    CHECK(store_records_range(s, "rec-job", 1, 1, UINT_MAX, &rs, &n) == 0);
    CHECK(n == 1 && streq(rs[0].id, "new-id") && streq(rs[0].prompt, "new prompt"));
    for (size_t i = 0; i < n; i++) record_clear(&rs[i]);
    free(rs);

    /* A rolled-back transaction leaves nothing. */
    CHECK(store_begin(s) == 0);
    r = mkrec(50, "gone", "p", "c");
    CHECK(store_record_put(s, "rec-job", &r) == 0);
    record_clear(&r);
    CHECK(store_rollback(s) == 0);
    CHECK(store_records_range(s, "rec-job", 50, 50, UINT_MAX, &rs, &n) == 0);
    CHECK(n == 0);
    free(rs);

    /* Only records still missing a cell (target x metric) come back (resubmission, resume, retry). */
    result_t done = {0};
    done.record_index = 2;
    done.target = TARGET_CUSTOM;
    score_t *sc = result_add_score(&done);
    sc->metric = xstrdup("m");
    size_t fresh = 0;
    bool fresh_out = false;
    CHECK(store_result_commit(s, "rec-job", &done, &fresh_out, &fresh, NULL) == 0 && fresh_out && fresh == 1);
    result_clear(&done);
    CHECK(store_records_range(s, "rec-job", 1, 3, 1, &rs, &n) == 0);
    CHECK(n == 2 && rs[0].index == 1 && rs[1].index == 3);
    for (size_t i = 0; i < n; i++) record_clear(&rs[i]);
    free(rs);
    CHECK(store_records_range(s, "rec-job", 1, 3, 2, &rs, &n) == 0); /* base target still missing */
    CHECK(n == 3);
    for (size_t i = 0; i < n; i++) record_clear(&rs[i]);
    free(rs);
}

typedef struct {
    uint64_t idx[16];
    target_t tgt[16];
    size_t n, stop_after;
    bool fields_ok;
} seen_t;

static int collect(const record_t *rec, const result_t *res, void *arg)
{
    seen_t *s = arg;
    if (s->n < 16) {
        s->idx[s->n] = res->record_index;
        s->tgt[s->n] = res->target;
    }
    s->n++;
    /* The record's fields come with the output, and the indexes agree. */
    if (rec->index != res->record_index || !rec->prompt || !streq(res->job_id, "res-job")) s->fields_ok = false;
    return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

static int check_first(const record_t *rec, const result_t *res, void *arg)
{
    int *ok = arg;
    *ok = rec->index == 0 && res->target == TARGET_CUSTOM && streq(rec->id, "id") && streq(rec->category, "even") &&
          streq(rec->reference, "ref 0") && streq(rec->context, "ctx 0") && streq(res->model, "m/ft") &&
          streq(res->response, "r0") && !res->response_from_dataset && res->error == NULL &&
          res->usage.input_tokens == 10 && res->usage.output_tokens == 20 && res->latency_ms == 12.5 &&
          res->n_scores == 3 && streq(res->scores[0].metric, "Correctness") && res->scores[0].has_score &&
          res->scores[0].score == 2 && res->scores[0].normalized == 1 && streq(res->scores[0].rating, "correct") &&
          streq(res->scores[0].explanation, "because Correctness") && res->scores[0].attempts == 1 &&
          res->scores[0].usage.input_tokens == 100 && streq(res->scores[1].metric, "Tone") &&
          res->scores[1].status == SCORE_ERROR && !res->scores[1].has_score && res->scores[1].rating == NULL &&
          streq(res->scores[1].error, "judge timed out") && streq(res->scores[2].metric, "Style") &&
          res->scores[2].status == SCORE_UNSCORED && res->scores[2].attempts == 2;
    return 1; /* stop after the first */
}

typedef struct {
    uint64_t inf_in, inf_out, inf_calls, judge_in, judge_out, judge_calls;
    int models, judges;
} usage_seen_t;

static void on_usage(const char *model, bool judge, uint64_t in, uint64_t out, uint64_t calls, void *arg)
{
    usage_seen_t *u = arg;
    if (judge) {
        u->judges++;
        u->judge_in += in;
        u->judge_out += out;
        u->judge_calls += calls;
    } else {
        u->models++;
        if (streq(model, "m/ft")) {
            u->inf_in += in;
            u->inf_out += out;
            u->inf_calls += calls;
        }
    }
}

static void test_results(store_t *s)
{
    CHECK(store_job_create(s, "res-job", "r", "{}", NULL) == 0);
    for (uint64_t i = 0; i < 4; i++) {
        record_t r = mkrec(i, "id", "prompt", i % 2 ? "odd" : "even");
        CHECK(store_record_put(s, "res-job", &r) == 0);
        record_clear(&r);
    }
    for (uint64_t sh = 0; sh < 3; sh++) CHECK(store_shard_put(s, "res-job", sh, sh * 2, sh * 2 + 1, 2) == 0);
    CHECK(store_shard_set_state(s, "res-job", 0, SHARD_INFLIGHT) == 0);
    CHECK(store_shard_set_state(s, "res-job", 0, SHARD_INFLIGHT) == 0); /* redelivered */
    CHECK(store_shard_set_state(s, "res-job", 0, SHARD_DONE) == 0);
    CHECK(store_shard_set_state(s, "res-job", 1, SHARD_INFLIGHT) == 0);

    /* Committed out of order: (2, base), (0, custom), (2, custom), (0, base), (1, custom). */
    size_t fresh = 99;
    bool fo = false;
    result_t r = mkres(2, TARGET_BASE, "m/base", "r2b", 2, "Correctness", "Tone");
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 2);
    result_clear(&r);
    r = mkres(0, TARGET_CUSTOM, "m/ft", "r0", 3, "Correctness", "!Tone", "?Style");
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 3 && fo);
    /* Redelivery: nothing new, the first commit stays. */
    free(r.response);
    r.response = xstrdup("changed");
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 0 && !fo);
    result_clear(&r);
    r = mkres(2, TARGET_CUSTOM, "m/ft", "r2", 2, "Correctness", "Tone");
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 2);
    result_clear(&r);
    r = mkres(0, TARGET_BASE, "m/base", NULL, 2, "!Correctness", "!Tone"); /* inference failed */
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 2);
    result_clear(&r);
    r = mkres(1, TARGET_CUSTOM, "m/ft", "r1", 1, "Correctness");
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 1);
    result_clear(&r);
    /* The same output again with one more metric: only that score is new. */
    r = mkres(1, TARGET_CUSTOM, "m/ft", "r1", 2, "Correctness", "Tone");
    CHECK(store_result_commit(s, "res-job", &r, &fo, &fresh, NULL) == 0 && fresh == 1 && !fo);
    result_clear(&r);

    uint64_t outputs = 0, scores = 0, in_range = 0;
    CHECK(store_counts(s, "res-job", &outputs, &scores) == 0);
    CHECK(outputs == 5 && scores == 11);
    CHECK(store_outputs_in_range(s, "res-job", 0, 1, 2, &in_range) == 0 && in_range == 3);
    CHECK(store_outputs_in_range(s, "res-job", 3, 9, 2, &in_range) == 0 && in_range == 0);
    CHECK(store_counts(s, "no-such-job", &outputs, &scores) == 0 && outputs == 0 && scores == 0);

    /* outputs_each: (record, target) order, whatever the commit order. */
    seen_t seen = {.fields_ok = true};
    CHECK(store_outputs_each(s, "res-job", collect, &seen) == 0);
    CHECK(seen.n == 5 && seen.fields_ok);
    CHECK(seen.idx[0] == 0 && seen.tgt[0] == TARGET_CUSTOM && seen.idx[1] == 0 && seen.tgt[1] == TARGET_BASE);
    CHECK(seen.idx[2] == 1 && seen.tgt[2] == TARGET_CUSTOM);
    CHECK(seen.idx[3] == 2 && seen.tgt[3] == TARGET_CUSTOM && seen.idx[4] == 2 && seen.tgt[4] == TARGET_BASE);
    int first_ok = 0;
    CHECK(store_outputs_each(s, "res-job", check_first, &first_ok) < 0); /* the callback stopped it */
    CHECK(first_ok == 1);
    seen_t stop = {.fields_ok = true, .stop_after = 2};
    CHECK(store_outputs_each(s, "res-job", collect, &stop) < 0 && stop.n == 2);

    /* outputs_page: the same order, a window of it. */
    seen_t pg = {.fields_ok = true};
    CHECK(store_outputs_page(s, "res-job", 1, 3, collect, &pg) == 0);
    CHECK(pg.n == 3 && pg.idx[0] == 0 && pg.tgt[0] == TARGET_BASE && pg.idx[2] == 2 && pg.tgt[2] == TARGET_CUSTOM);
    seen_t tail = {.fields_ok = true};
    CHECK(store_outputs_page(s, "res-job", 4, 10, collect, &tail) == 0 && tail.n == 1 && tail.tgt[0] == TARGET_BASE);
    seen_t past = {.fields_ok = true};
    CHECK(store_outputs_page(s, "res-job", 5, 10, collect, &past) == 0 && past.n == 0);
    seen_t all = {.fields_ok = true};
    CHECK(store_outputs_page(s, "res-job", 0, UINT64_MAX, collect, &all) == 0 && all.n == 5);
    first_ok = 0;
    CHECK(store_outputs_page(s, "res-job", 0, 1, check_first, &first_ok) < 0 && first_ok == 1);

    /* Usage: inference by model (failed calls count tokens, not calls), judge summed. */
    usage_seen_t u = {0};
    CHECK(store_usage(s, "res-job", on_usage, &u) == 0);
    CHECK(u.models == 2 && u.judges == 1);
    CHECK(u.inf_in == 10 + 12 + 11 && u.inf_out == 60 && u.inf_calls == 3);
    CHECK(u.judge_in == 100 * 11 && u.judge_out == 5 * 11 && u.judge_calls == 12);

    /* Stats. */
    store_job_stats_t st;
    CHECK(store_job_stats(s, "res-job", 2, 2, &st) == 0);
    CHECK(st.records == 4 && st.records_done == 2 && st.outputs == 5 && st.output_errors == 1 && st.units_done == 5);
    CHECK(st.shards[SHARD_PENDING] == 1 && st.shards[SHARD_INFLIGHT] == 1 && st.shards[SHARD_DONE] == 1);
    CHECK(st.dispatches == 3);
    CHECK(st.scores[SCORE_OK] == 7 && st.scores[SCORE_ERROR] == 3 && st.scores[SCORE_UNSCORED] == 1 &&
          st.scores[SCORE_NOT_APPLICABLE] == 0);
    CHECK(store_job_stats(s, "res-job", 1, 2, &st) == 0 && st.records_done == 3);
    /* Inside the caller's own transaction too. */
    CHECK(store_begin(s) == 0);
    CHECK(store_job_stats(s, "res-job", 2, 2, &st) == 0 && st.outputs == 5);
    CHECK(store_commit(s) == 0);
    CHECK(store_job_stats(s, "no-such-job", 2, 2, &st) == 0 && st.records == 0 && st.outputs == 0 &&
          st.dispatches == 0);
}

typedef struct {
    char ids[8][32];
    int n;
} ids_t;

static int collect_owned(const char *job_id, int state, void *arg)
{
    (void)state;
    ids_t *o = arg;
    if (o->n < 8) snprintf(o->ids[o->n], sizeof o->ids[0], "%s", job_id);
    o->n++;
    return 0;
}

static int list_ids(const store_job_t *j, void *arg)
{
    ids_t *l = arg;
    if (l->n < 8) snprintf(l->ids[l->n], sizeof l->ids[0], "%s", j->job_id);
    l->n++;
    return 0;
}

static int stop_now(const store_job_t *j, void *arg)
{
    (void)j;
    (*(int *)arg)++;
    return 1;
}

static void test_listing(void)
{
    char err[256];
    rm_db();
    store_t *s = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    ids_t l = {0};
    CHECK(store_jobs_each(s, list_ids, &l) == 0 && l.n == 0);

    CHECK(store_job_create(s, "eval-20260101-aaa", "a", "{}", NULL) == 0);
    CHECK(store_job_create(s, "eval-20260101-aab", "b", "{}", NULL) == 0);
    CHECK(store_job_create(s, "eval-2026", "short", "{}", NULL) == 0);
    CHECK(store_job_create(s, "other-1", "o", "{}", NULL) == 0);
    /* Newest first: created in the same second, so by insertion order ... */
    CHECK(store_jobs_each(s, list_ids, &l) == 0 && l.n == 4);
    CHECK(streq(l.ids[0], "other-1") && streq(l.ids[1], "eval-2026") && streq(l.ids[3], "eval-20260101-aaa"));
    /* ... but created_at comes first. */
    sql("UPDATE jobs SET created_at=created_at+100 WHERE job_id='eval-20260101-aaa'");
    memset(&l, 0, sizeof l);
    CHECK(store_jobs_each(s, list_ids, &l) == 0 && l.n == 4 && streq(l.ids[0], "eval-20260101-aaa"));
    int calls = 0;
    CHECK(store_jobs_each(s, stop_now, &calls) < 0 && calls == 1);

    char *ids[3] = {0};
    size_t n = 0;
    CHECK(store_job_match(s, "other", ids, 3, &n) == 0 && n == 1 && streq(ids[0], "other-1"));
    xfree(&ids[0]);
    CHECK(store_job_match(s, "eval-20260101-a", ids, 3, &n) == 0 && n == 2);
    CHECK(streq(ids[0], "eval-20260101-aaa") && streq(ids[1], "eval-20260101-aab")); /* newest first */
    xfree(&ids[0]);
    xfree(&ids[1]);
    /* An exact id wins over the longer ids it begins. */
    CHECK(store_job_match(s, "eval-2026", ids, 3, &n) == 0 && n == 1 && streq(ids[0], "eval-2026"));
    xfree(&ids[0]);
    CHECK(store_job_match(s, "eval-20260101-aab", ids, 3, &n) == 0 && n == 1 && streq(ids[0], "eval-20260101-aab"));
    xfree(&ids[0]);
    CHECK(store_job_match(s, "e", ids, 1, &n) == 0 && n == 3 && ids[0] && ids[1] == NULL); /* capped at max */
    xfree(&ids[0]);
    CHECK(store_job_match(s, "zzz", ids, 3, &n) == 0 && n == 0 && ids[0] == NULL);
    CHECK(store_job_match(s, "%", ids, 3, &n) == 0 && n == 0);    /* no LIKE wildcards */
    CHECK(store_job_match(s, "EVAL", ids, 3, &n) == 0 && n == 0); /* ids are case-sensitive */
    CHECK(store_job_match(s, "", ids, 3, &n) == 0 && n == 4);
    for (int i = 0; i < 3; i++) xfree(&ids[i]);

    /* Another connection reads what was committed, in a snapshot of its own. */
    store_t *r = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK(store_begin(r) == 0);
        store_job_t j;
        CHECK(store_job_get(r, "other-1", &j) == 0);
        store_job_clear(&j);
        CHECK(store_job_create(s, "late-1", NULL, "{}", NULL) == 0); /* committed after r's snapshot */
        CHECK(store_job_get(r, "late-1", &j) == 1);
        CHECK(store_commit(r) == 0);
        CHECK(store_job_get(r, "late-1", &j) == 0 && j.name == NULL);
        store_job_clear(&j);
        store_close(&r);
        CHECK(r == NULL);
    }
    store_close(&s);
    store_close(&s); /* NULL-safe */
    store_close(NULL);

    /* Everything is still there after a reopen. */
    s = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        memset(&l, 0, sizeof l);
        CHECK(store_jobs_each(s, list_ids, &l) == 0 && l.n == 5);
        store_close(&s);
    }
}

typedef struct {
    shard_t sh[8];
    int n;
} shards_seen_t;

static int shard_seen(const shard_t *sh, void *arg)
{
    shards_seen_t *s = arg;
    if (s->n < 8) s->sh[s->n] = *sh;
    s->n++;
    return 0;
}

typedef struct {
    int n;
    bool saw_b;
} kv_seen_t;

static void kv_row(const char *key, const char *value, int64_t at, void *arg)
{
    kv_seen_t *k = arg;
    k->n++;
    if (streq(key, "b") && streq(value, "2") && at > 0) k->saw_b = true;
}

/* Shards read back, the summary, the MLflow sync's key-value table, probing and read-only opens. */
static void test_more(void)
{
    char err[512];
    rm_db();
    store_t *s = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(store_job_create(s, "sum-1", "s", "{}", "/out/sum-1") == 0);
    char *text = NULL;
    CHECK(store_job_summary(s, "sum-1", &text) == 1 && text == NULL);
    CHECK(store_job_summary(s, "nope", &text) == 1);
    CHECK(store_job_set_summary(s, "sum-1", "{\"job_id\":\"sum-1\"}") == 0);
    CHECK(store_job_summary(s, "sum-1", &text) == 0 && streq(text, "{\"job_id\":\"sum-1\"}"));
    free(text);
    store_job_t j;
    CHECK(store_job_get(s, "sum-1", &j) == 0 && streq(j.out_dir, "/out/sum-1"));
    store_job_clear(&j);

    for (uint64_t i = 0; i < 3; i++) CHECK(store_shard_put(s, "sum-1", i, i * 10, i * 10 + 9, 10) == 0);
    CHECK(store_shard_set_state(s, "sum-1", 1, SHARD_INFLIGHT) == 0);
    CHECK(store_shard_set_state(s, "sum-1", 1, SHARD_INFLIGHT) == 0); /* each SUBMIT counts */
    CHECK(store_shard_set_state(s, "sum-1", 2, SHARD_INFLIGHT) == 0);
    CHECK(store_shard_set_state(s, "sum-1", 2, SHARD_DONE) == 0);
    shards_seen_t ss = {0};
    CHECK(store_shards_each(s, "sum-1", shard_seen, &ss) == 0 && ss.n == 3);
    CHECK(ss.sh[0].id == 0 && ss.sh[0].state == SHARD_PENDING && ss.sh[0].submits == 0 && ss.sh[0].n == 10);
    CHECK(ss.sh[1].first == 10 && ss.sh[1].last == 19 && ss.sh[1].state == SHARD_INFLIGHT && ss.sh[1].submits == 2);
    CHECK(ss.sh[2].state == SHARD_DONE && ss.sh[2].submits == 1);

    /* The sync's table. */
    char *v = NULL;
    CHECK(store_sync_get(s, "sum-1", "a", &v) == 1 && v == NULL);
    CHECK(store_sync_set(s, "sum-1", "a", "1") == 0 && store_sync_set(s, "sum-1", "b", "2") == 0);
    CHECK(store_sync_set(s, "sum-1", "a", "one") == 0); /* replaced */
    CHECK(store_sync_get(s, "sum-1", "a", &v) == 0 && streq(v, "one"));
    free(v);
    kv_seen_t kv = {0};
    CHECK(store_sync_each(s, "sum-1", kv_row, &kv) == 0 && kv.n == 2 && kv.saw_b);
    CHECK(store_sync_del(s, "sum-1", "a") == 0);
    CHECK(store_sync_get(s, "sum-1", "a", &v) == 1);
    char **ids = NULL;
    size_t n = 9;
    CHECK(store_sync_unfinished(s, &ids, &n) == 0 && n == 0);
    CHECK(store_sync_set(s, "sum-1", "state", "pending") == 0);
    CHECK(store_sync_unfinished(s, &ids, &n) == 0 && n == 0); /* no spec recorded: cannot be resumed */
    CHECK(store_sync_set(s, "sum-1", "spec", "{}") == 0);
    CHECK(store_sync_unfinished(s, &ids, &n) == 0 && n == 1 && streq(ids[0], "sum-1"));
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    CHECK(streq(store_path(s), path));
    store_close(&s);

    /* Probing: a job database, an SQLite file without jobs, not SQLite at all. */
    CHECK(store_probe(path, err, sizeof err) == 0);
    char other[160], text_file[160];
    snprintf(other, sizeof other, "%s/other.db", dir);
    snprintf(text_file, sizeof text_file, "%s/notes.txt", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(other, &db) == SQLITE_OK &&
          sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(store_probe(other, err, sizeof err) == 1);
    FILE *f = fopen(text_file, "w");
    if (f) {
        fputs("not a database, just text long enough to look like a header ............\n", f);
        fclose(f);
    }
    CHECK(store_probe(text_file, err, sizeof err) == -1 && strstr(err, "not a database"));
    unlink(other);
    unlink(text_file);

    /* STORE_READ on a database that never had a sync table: reads find nothing, nothing is made. */
    sql("DROP TABLE mlflow_sync");
    s = store_open(path, STORE_READ, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        kv.n = 0;
        CHECK(store_sync_each(s, "sum-1", kv_row, &kv) == 0 && kv.n == 0);
        CHECK(store_sync_get(s, "sum-1", "b", &v) == 1);
        CHECK(store_sync_unfinished(s, &ids, &n) == 0 && n == 0);
        log_set_level(LOG_OFF);
        CHECK(store_sync_set(s, "sum-1", "b", "3") == -1);
        log_set_level(LOG_WARN);
        store_close(&s);
    }
    db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name='mlflow_sync'", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* What is missing of a job, cell by cell, and a retry that removes the cells to rerun; a job's
 * life in the store: loading (hidden), published, owned, counts, note, state, leases, deleted. */
static void test_cells(store_t *s)
{
    const char *id = "cells-job";
    CHECK(store_job_create_as(s, id, "c", "{}", NULL, "service", STORE_STATE_LOADING) == 0);
    int state = 0;
    CHECK(store_job_state(s, id, &state) == 0 && state == STORE_STATE_LOADING);
    store_job_t row;
    char *ids[4] = {0};
    size_t n = 9;
    CHECK(store_job_match(s, "cells", ids, 4, &n) == 0 && n == 0); /* loading: invisible */
    CHECK(store_job_publish(s, id) == 0 && store_job_state(s, id, &state) == 0 && state == SCHED_JOB_PENDING);
    for (uint64_t i = 0; i < 4; i++) {
        record_t r = mkrec(i, "id", "p", "c");
        CHECK(store_record_put(s, id, &r) == 0);
        record_clear(&r);
    }
    CHECK(store_shard_put(s, id, 0, 0, 1, 2) == 0 && store_shard_put(s, id, 1, 2, 3, 2) == 0);
    /* Record 0: complete; 1: inference failed; 2: a judge error; 3: unscored; nothing for base. */
    const char *m2[][2] = {{"A", "B"}, {"!A", "!B"}, {"A", "!B"}, {"A", "?B"}};
    for (uint64_t i = 0; i < 4; i++) {
        result_t r = mkres(i, TARGET_CUSTOM, "m", i == 1 ? NULL : "resp", 2, m2[i][0], m2[i][1]);
        bool fo;
        size_t fs;
        uint64_t by[4] = {0};
        CHECK(store_result_commit(s, id, &r, &fo, &fs, by) == 0 && fo && fs == 2);
        result_clear(&r);
    }
    CHECK(store_shard_set_state(s, id, 0, SHARD_INFLIGHT) == 0 && store_shard_set_state(s, id, 0, SHARD_DONE) == 0);
    CHECK(store_shard_set_state(s, id, 1, SHARD_INFLIGHT) == 0 && store_shard_set_state(s, id, 1, SHARD_DONE) == 0);
    store_counts_t c;
    CHECK(store_job_count(s, id, 1, 2, &c) == 0 && c.units_done == 4 && c.records_done == 4 && c.unit_errors == 1 &&
          c.scores[SCORE_OK] == 4 && c.scores[SCORE_ERROR] == 3 && c.scores[SCORE_UNSCORED] == 1);
    CHECK(store_job_count(s, id, 2, 2, &c) == 0 && c.units_done == 4 && c.records_done == 0);
    uint64_t have = 0;
    CHECK(store_unit_scores(s, id, 2, TARGET_CUSTOM, &have) == 0 && have == 2);

    /* What one record has committed. */
    store_unit_t u[2];
    CHECK(store_units_of(s, id, 2, u) == 0 && u[0].has_output && !strcmp(u[0].response, "resp") && !u[0].error &&
          u[0].n_metrics == 2 && !u[1].has_output && u[1].n_metrics == 0);
    store_unit_clear(&u[0]);
    store_unit_clear(&u[1]);

    /* Not ended: nothing is prepared by the store itself (job.c checks the state); ended: a retry. */
    CHECK(store_job_set_state(s, id, SCHED_JOB_SUCCEEDED, NULL) == 0);
    uint64_t missing = 0;
    CHECK(store_retry_prepare(s, id, 1, 2, false, &missing) == 0 && missing == 3); /* 1's two, 2's B */
    CHECK(store_job_get(s, id, &row) == 0 && row.state == SCHED_JOB_PENDING && row.finished_at == 0 && !row.has_counts);
    store_job_clear(&row);
    CHECK(store_units_of(s, id, 1, u) == 0 && !u[0].has_output && u[0].n_metrics == 0); /* gone whole */
    store_unit_clear(&u[0]);
    store_unit_clear(&u[1]);
    CHECK(store_units_of(s, id, 2, u) == 0 && u[0].has_output && u[0].n_metrics == 1 && !strcmp(u[0].metrics[0], "A"));
    store_unit_clear(&u[0]);
    store_unit_clear(&u[1]);
    record_t *rs = NULL;
    CHECK(store_records_range(s, id, 0, 3, 2, &rs, &n) == 0 && n == 2 && rs[0].index == 1 && rs[1].index == 2);
    for (size_t i = 0; i < n; i++) record_clear(&rs[i]);
    free(rs);
    store_job_stats_t js;
    CHECK(store_job_stats(s, id, 1, 2, &js) == 0 && js.shards[SHARD_PENDING] == 2 && js.dispatches == 0);
    /* Unscored too, the second time; then nothing left: no change. */
    CHECK(store_job_set_state(s, id, SCHED_JOB_STOPPED, NULL) == 0);
    CHECK(store_retry_prepare(s, id, 1, 2, true, &missing) == 0 && missing == 4);
    CHECK(store_job_count(s, id, 1, 2, &c) == 0 && c.units_done == 1 && c.scores[SCORE_UNSCORED] == 0);
    for (uint64_t i = 1; i < 4; i++) {
        result_t r = mkres(i, TARGET_CUSTOM, "m", "resp", 2, "A", "B");
        bool fo;
        size_t fs;
        CHECK(store_result_commit(s, id, &r, &fo, &fs, NULL) == 0);
        result_clear(&r);
    }
    CHECK(store_job_set_state(s, id, SCHED_JOB_SUCCEEDED, NULL) == 0);
    CHECK(store_retry_prepare(s, id, 1, 2, true, &missing) == 0 && missing == 0);
    CHECK(store_job_get(s, id, &row) == 0 && row.state == SCHED_JOB_SUCCEEDED);
    store_job_clear(&row);

    /* Counts, note, leases, shards back from in flight, owned jobs, deletion. */
    store_counts_t w = {.units_done = 7,
                        .unit_errors = 1,
                        .records_done = 3,
                        .scores = {1, 2, 3, 4},
                        .saved = {5, 6, 7}};
    CHECK(store_job_set_progress(s, id, &w) == 0 && store_job_set_note(s, id, "no broker") == 0);
    CHECK(store_job_get(s, id, &row) == 0 && row.has_counts && row.counts.units_done == 7 &&
          row.counts.scores[3] == 4 && !strcmp(row.note, "no broker") && !strcmp(row.owner, "service"));
    CHECK(row.counts.has_saved && row.counts.saved[STORE_SAVED_REUSED] == 5 &&
          row.counts.saved[STORE_SAVED_JUDGE] == 7);
    store_job_clear(&row);
    CHECK(store_counts_parse("[1]", &c) < 0 && store_counts_parse("{\"units_done\": -3}", &c) == 0 &&
          c.units_done == 0);
    CHECK(!c.has_saved); /* written by an engine of before the cache: counted from the results instead */
    CHECK(store_shard_set_leases(s, id, 0, 3) == 0 && store_shard_set_state(s, id, 1, SHARD_INFLIGHT) == 0);
    CHECK(store_job_stats_light(s, id, &js) == 0 && js.leases == 3 && js.shards[SHARD_INFLIGHT] == 1 &&
          js.records == 4 && js.outputs == 0);
    CHECK(store_shards_unsend(s, id) == 0 && store_job_stats_light(s, id, &js) == 0 && js.shards[SHARD_INFLIGHT] == 0);
    CHECK(store_job_create_as(s, "owned-2", NULL, "{}", NULL, "service", SCHED_JOB_RUNNING) == 0);
    CHECK(store_job_create_as(s, "other-owner", NULL, "{}", NULL, NULL, SCHED_JOB_RUNNING) == 0);
    CHECK(store_job_set_state(s, "owned-2", SCHED_JOB_STOPPING, NULL) == 0);
    CHECK(store_job_get(s, "owned-2", &row) == 0 && row.finished_at == 0); /* stopping has not ended */
    store_job_clear(&row);
    CHECK(store_job_set_state(s, id, SCHED_JOB_PENDING, NULL) == 0);
    ids_t owned = {0};
    CHECK(store_jobs_owned(s, "service", collect_owned, &owned) == 0 && owned.n == 2);
    CHECK(store_job_delete(s, id) == 0 && store_job_state(s, id, &state) == 1);
    CHECK(store_records_range(s, id, 0, 100, 99, &rs, &n) == 0 && n == 0);
    free(rs);
    CHECK(store_job_delete(s, "owned-2") == 0 && store_job_delete(s, "other-owner") == 0);
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/test_store.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/llmaj.db", dir);
    char err[256];
    CHECK(store_open("/nonexistent-dir/x/llmaj.db", STORE_WRITE, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent-dir/x/llmaj.db") != NULL);

    store_t *s = store_open(path, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        test_jobs(s);
        test_records(s);
        test_results(s);
        test_cells(s);
        store_close(&s);
    }
    test_listing();
    test_more();
    rm_db();
    rmdir(dir);
    return check_summary("test_store");
}
