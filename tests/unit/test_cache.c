/* test_cache: the cache of model and judge answers (cache.c, store_cache.c) on a real job database:
 * what a key covers (every setting the request carries changes it; fields cannot run into each
 * other; the per-call tag does not), the table (the first answer kept stays, kinds apart), a
 * worker's answers kept as they are committed (never an error), a second identical job filled in
 * entirely before anything goes out (outputs and verdicts, counted in its status and the process
 * counters), a job with another judge given only the responses, and /metrics' families. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "ingest.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "wire.h"
#include "check.h"
#include "jobfix.h"

static char *dir;

static spec_t *parse(const char *extra)
{
    char *txt = jobfix_spec("/tmp/d.jsonl", "/tmp/out", 4, 1, extra);
    errlist_t errs;
    errlist_init(&errs, 0);
    spec_t *sp = spec_parse(txt, strlen(txt), "spec", NULL, &errs);
    errlist_print(&errs, stderr, "  spec: ");
    errlist_free(&errs);
    free(txt);
    return sp;
}

static bool same_key(const uint8_t a[CACHE_KEY_LEN], const uint8_t b[CACHE_KEY_LEN])
{
    return memcmp(a, b, CACHE_KEY_LEN) == 0;
}

static void test_keys(void)
{
    spec_t *sp = parse(NULL), *hot = parse("\"inference\": {\"temperature\": 0.5}"),
           *judge = parse("\"judge\": {\"max_tokens\": 99}"), *sys = parse("\"judge_system_prompt\": \"Be fair.\""),
           *region = parse("\"region\": \"eu-west-1\"");
    CHECK(sp && hot && judge && sys && region);
    if (!sp || !hot || !judge || !sys || !region) return;
    record_t r = {.prompt = "What is 2+2?", .reference = "4", .context = NULL};
    uint8_t k1[CACHE_KEY_LEN], k2[CACHE_KEY_LEN];

    /* Inference: the same request, the same key; any setting or input changed, another. */
    cache_key_inference(sp, sp->model, &r, k1);
    cache_key_inference(sp, sp->model, &r, k2);
    CHECK(same_key(k1, k2));
    cache_key_inference(sp, sp->base_model, &r, k2);
    CHECK(!same_key(k1, k2));
    cache_key_inference(hot, hot->model, &r, k2);
    CHECK(!same_key(k1, k2));
    cache_key_inference(region, region->model, &r, k2);
    CHECK(!same_key(k1, k2));
    cache_key_inference(judge, judge->model, &r, k2); /* the judge's settings are not the model's */
    CHECK(same_key(k1, k2));
    record_t r2 = r;
    r2.reference = "four"; /* not sent to the model */
    cache_key_inference(sp, sp->model, &r2, k2);
    CHECK(same_key(k1, k2));
    r2.context = ""; /* an empty context is not an absent one */
    cache_key_inference(sp, sp->model, &r2, k2);
    CHECK(!same_key(k1, k2));
    /* Fields cannot run into each other: "ab" + "c" is not "a" + "bc". */
    record_t ra = {.prompt = "ab", .context = "c"}, rb = {.prompt = "a", .context = "bc"};
    cache_key_inference(sp, sp->model, &ra, k1);
    cache_key_inference(sp, sp->model, &rb, k2);
    CHECK(!same_key(k1, k2));

    /* Judge: response, reference, metric, judge settings and system prompt all count. */
    const metric_t *m0 = sp->metrics[0], *m1 = sp->metrics[1];
    cache_key_judge(sp, m0, &r, "4", k1);
    cache_key_judge(sp, m0, &r, "4", k2);
    CHECK(same_key(k1, k2)); /* the per-call tag of the prompt is not part of it */
    cache_key_judge(sp, m1, &r, "4", k2);
    CHECK(!same_key(k1, k2));
    cache_key_judge(sp, m0, &r, "5", k2);
    CHECK(!same_key(k1, k2));
    r2 = r;
    r2.reference = "four";
    cache_key_judge(sp, m0, &r2, "4", k2);
    CHECK(!same_key(k1, k2));
    cache_key_judge(judge, judge->metrics[0], &r, "4", k2);
    CHECK(!same_key(k1, k2));
    cache_key_judge(sys, sys->metrics[0], &r, "4", k2);
    CHECK(!same_key(k1, k2));
    cache_key_judge(hot, hot->metrics[0], &r, "4", k2); /* the model's settings are not the judge's */
    CHECK(same_key(k1, k2));
    cache_key_inference(sp, sp->evaluator_model, &r, k2); /* an inference key never is a judge key */
    CHECK(!same_key(k1, k2));
    spec_destroy(&sp);
    spec_destroy(&hot);
    spec_destroy(&judge);
    spec_destroy(&sys);
    spec_destroy(&region);
}

static void test_table(void)
{
    char *db = xasprintf("%s/t.db", dir);
    char err[512];
    store_t *st = store_open(db, STORE_WRITE, err, sizeof err);
    CHECK(st != NULL);
    if (!st) return;
    uint8_t k[STORE_CACHE_KEY] = {1, 2, 3};
    store_cache_val_t v = {0}, got;
    CHECK(store_cache_get(st, STORE_CACHE_INFERENCE, k, &got) == 1);
    v.text = "hello";
    v.usage.input_tokens = 3;
    v.usage.output_tokens = 4;
    bool added = false;
    CHECK(store_cache_put(st, STORE_CACHE_INFERENCE, k, &v, &added) == 0 && added);
    v.text = "other";
    CHECK(store_cache_put(st, STORE_CACHE_INFERENCE, k, &v, &added) == 0 && !added); /* the first stays */
    CHECK(store_cache_get(st, STORE_CACHE_INFERENCE, k, &got) == 0);
    CHECK(got.text && strcmp(got.text, "hello") == 0 && got.usage.input_tokens == 3 && got.usage.output_tokens == 4);
    store_cache_val_clear(&got);
    CHECK(store_cache_get(st, STORE_CACHE_JUDGE, k, &got) == 1); /* kinds apart */
    store_cache_val_t jv = {.text = NULL, .status = SCORE_OK, .rating = "correct"};
    CHECK(store_cache_put(st, STORE_CACHE_JUDGE, k, &jv, &added) == 0 && added);
    CHECK(store_cache_get(st, STORE_CACHE_JUDGE, k, &got) == 0);
    CHECK(!got.text && got.rating && strcmp(got.rating, "correct") == 0 && got.status == SCORE_OK);
    store_cache_val_clear(&got);
    uint64_t counts[2];
    CHECK(store_cache_size(st, counts) == 0 && counts[0] == 1 && counts[1] == 1);
    store_close(&st);
    free(db);
}

/* A stored job of n records (shards of 4) with `extra` spec members (and the judge anthropic/judge2
 * when judge2), opened on *st. */
static job_t *open_job(const char *db, const char *data, int n, const char *extra, bool judge2, store_t **st)
{
    char *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, n);
    char *spec = jobfix_spec(data, out, 4, 0, extra);
    char *at = judge2 ? strstr(spec, "anthropic/judge\"") : NULL;
    if (at) {
        char *changed = xasprintf("%.*santhropic/judge2%s", (int)(at - spec), spec, at + strlen("anthropic/judge"));
        free(spec);
        spec = changed;
    }
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
    free(out);
    return j;
}

static void feed(ingest_t *in, job_t *j, uint64_t idx, const char *m1, const char *m2)
{
    result_t r = jobfix_result(j->id, idx, TARGET_CUSTOM, 2, m1, m2);
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    CHECK(wire_result_encode(&r, &b) == 0);
    ingest_result(in, j, idx / 4, b.data, b.len);
    buf_free(&b);
    result_clear(&r);
}

/* Records of shard `shard` still missing a cell. */
static size_t missing(store_t *st, const job_t *j, size_t shard)
{
    record_t *recs = NULL;
    size_t n = 0;
    CHECK(store_records_range(st, j->id, j->shards[shard].first, j->shards[shard].last,
                              (uint64_t)j->targets * j->n_metrics, &recs, &n) == 0);
    for (size_t i = 0; i < n; i++) record_clear(&recs[i]);
    free(recs);
    return n;
}

static void test_learn_and_hit(void)
{
    char *db = xasprintf("%s/c.db", dir), *data = xasprintf("%s/d8.jsonl", dir);
    store_t *st = NULL, *st2 = NULL, *st3 = NULL, *st4 = NULL;
    cache_stats_t s0, s1;
    cache_stats(&s0);

    /* Job a: the workers' answers are kept, an error never. */
    job_t *a = open_job(db, data, 8, "\"cache\": true, \"name\": \"a\"", false, &st);
    CHECK(a != NULL);
    if (!a) return;
    ingest_t *in = ingest_new(st);
    CHECK(cache_prefill(a, in, 0) == 0 && cache_prefill(a, in, 1) == 0); /* nothing kept yet: no hit */
    CHECK(missing(st, a, 0) == 4 && a->units_done == 0);
    for (uint64_t i = 0; i < 7; i++) feed(in, a, i, "Correctness", "Helpfulness");
    feed(in, a, 7, "Correctness", "!Helpfulness");
    CHECK(ingest_flush(in) == 0);
    uint64_t counts[2];
    CHECK(store_cache_size(st, counts) == 0 && counts[STORE_CACHE_INFERENCE] == 8 && counts[STORE_CACHE_JUDGE] == 15);
    ingest_destroy(&in);

    /* Job b, the same: filled in before anything goes out, but record 7's Helpfulness. */
    job_t *b = open_job(db, data, 8, "\"cache\": true, \"name\": \"b\"", false, &st2);
    CHECK(b != NULL);
    if (b) {
        in = ingest_new(st2);
        CHECK(cache_prefill(b, in, 0) == 0 && cache_prefill(b, in, 1) == 0);
        CHECK(missing(st2, b, 0) == 0 && missing(st2, b, 1) == 1);
        CHECK(b->units_done == 7 && b->scores[SCORE_OK] == 15);
        store_unit_t u[2];
        CHECK(store_units_of(st2, b->id, 7, u) == 0);
        CHECK(u[0].has_output && u[0].response && strcmp(u[0].response, "response 7/0") == 0 && u[0].n_metrics == 1);
        store_unit_clear(&u[0]);
        store_unit_clear(&u[1]);
        CHECK(cache_prefill(b, in, 1) == 0 && b->units_done == 7); /* again: nothing new */
        CHECK(b->saved[STORE_SAVED_INFERENCE] == 8 && b->saved[STORE_SAVED_JUDGE] == 15 &&
              b->saved[STORE_SAVED_REUSED] == 0); /* the engine's counts, as the store's */
        cJSON *c = cache_status_json(st2, b->id, true, NULL, NULL);
        CHECK(c != NULL);
        CHECK(cJSON_GetObjectItem(c, "inference_hits")->valuedouble == 8);
        CHECK(cJSON_GetObjectItem(c, "judge_hits")->valuedouble == 15);
        CHECK(cJSON_GetObjectItem(c, "reused_responses")->valuedouble == 0);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(c, "reused_from")));
        cJSON_Delete(c);
        cache_stats(&s1);
        CHECK(s1.hits[STORE_CACHE_INFERENCE] - s0.hits[STORE_CACHE_INFERENCE] == 8);
        CHECK(s1.hits[STORE_CACHE_JUDGE] - s0.hits[STORE_CACHE_JUDGE] == 15);
        CHECK(s1.stored[STORE_CACHE_JUDGE] - s0.stored[STORE_CACHE_JUDGE] == 15);
        /* A hit is not kept again (a cached result is not learned). */
        CHECK(store_cache_size(st2, counts) == 0 && counts[STORE_CACHE_JUDGE] == 15);
        ingest_destroy(&in);
        job_destroy(&b);
    }

    /* Job c, another judge: the responses come from the cache, every verdict goes to a worker. */
    job_t *c = open_job(db, data, 8, "\"cache\": true, \"name\": \"c\"", true, &st3);
    CHECK(c != NULL);
    if (c) {
        in = ingest_new(st3);
        CHECK(cache_prefill(c, in, 0) == 0);
        CHECK(missing(st3, c, 0) == 4 && c->units_done == 0);
        store_unit_t u[2];
        CHECK(store_units_of(st3, c->id, 2, u) == 0);
        CHECK(u[0].has_output && u[0].response && strcmp(u[0].response, "response 2/0") == 0 && u[0].n_metrics == 0);
        store_unit_clear(&u[0]);
        store_unit_clear(&u[1]);
        ingest_destroy(&in);
        job_destroy(&c);
    }

    /* Job d, without "cache": nothing looked up. */
    job_t *d = open_job(db, data, 8, "\"name\": \"d\"", false, &st4);
    CHECK(d != NULL);
    if (d) {
        in = ingest_new(st4);
        cache_stats(&s0);
        CHECK(cache_prefill(d, in, 0) == 0 && missing(st4, d, 0) == 4);
        cache_stats(&s1);
        CHECK(s1.lookups[0] == s0.lookups[0] && s1.lookups[1] == s0.lookups[1]);
        ingest_destroy(&in);
        job_destroy(&d);
    }
    store_close(&st);
    store_close(&st2);
    store_close(&st3);
    store_close(&st4);
    job_destroy(&a);
    free(db);
    free(data);
}

static void test_metrics(void)
{
    buf_t b;
    buf_init(&b, 1 << 16);
    CHECK(cache_metrics(&b) == 0);
    CHECK(buf_putc(&b, '\0') == 0);
    const char *t = b.data;
    CHECK(strstr(t, "# TYPE llmaj_scheduler_cache_hits_total counter") != NULL);
    CHECK(strstr(t, "llmaj_scheduler_cache_hits_total{kind=\"inference\"} ") != NULL);
    CHECK(strstr(t, "llmaj_scheduler_cache_lookups_total{kind=\"judge\"} ") != NULL);
    CHECK(strstr(t, "llmaj_scheduler_cache_stored_total{kind=\"judge\"} ") != NULL);
    CHECK(strstr(t, "llmaj_scheduler_reused_responses_total ") != NULL);
    buf_free(&b);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_cache");
    jobfix_env("http://127.0.0.1:9");
    test_keys();
    test_table();
    test_learn_and_hit();
    test_metrics();
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_cache");
}
