/* test_wshard: the worker's shard runner (worker/wshard.c) against a stand-in OpenAI server in
 * this process (libmicrohttpd on a free 127.0.0.1 port, tests/support/standin.h), through the
 * real llm client and providers. The server plays the model being evaluated (it echoes the
 * prompt it got, so the test sees what inference sent) and the judge (its answer depends on a
 * marker in the material it judges: a JSON verdict, a labelled line, a reply with no rating
 * until the re-ask, no rating ever, an HTTP error), and it checks what the judge is sent: the
 * spec's system prompt, and on a re-ask the conversation so far.
 *
 * What is asserted is the shard's contract: one result per (record, target), every metric
 * scored or with its reason, responses from the dataset used without an inference call, usage
 * summed over attempts, on_done exactly once and after every result, cancellation, and a shard
 * whose calls cannot even be queued. Nothing is timed. */
#include "wshard.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "standin.h"
#include "testutil.h"

#define API_KEY "sk-test-WSHARD"
#define SYSTEM "JUDGE-SYSTEM-PROMPT"
#define FIRST_VAGUE "Hmm, that is hard to tell."

static atomic_int inference_calls, judge_calls, plain_judge_calls;

/* ---- the stand-in server ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer(struct MHD_Connection *conn, const char *text)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *c0 = cJSON_CreateObject();
    cJSON *msg = cJSON_AddObjectToObject(c0, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", text);
    cJSON_AddStringToObject(c0, "finish_reason", "stop");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), c0);
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", 10);
    cJSON_AddNumberToObject(usage, "completion_tokens", 3);
    char *s = cJSON_PrintUnformatted(root);
    enum MHD_Result ret = reply(conn, 200, s);
    free(s);
    cJSON_Delete(root);
    return ret;
}

static enum MHD_Result error400(struct MHD_Connection *conn, const char *why)
{
    char *b = xasprintf("{\"error\":{\"message\":\"stand-in: %s\",\"type\":\"invalid_request_error\"}}", why);
    enum MHD_Result ret = reply(conn, 400, b);
    free(b);
    return ret;
}

static const char *content_of(const cJSON *msgs, int i, const char *role)
{
    const cJSON *m = cJSON_GetArrayItem(msgs, i);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!cJSON_IsString(r) || strcmp(r->valuestring, role) != 0 || !cJSON_IsString(c)) return NULL;
    return c->valuestring;
}

/* The model being evaluated: echoes "<model> says: <prompt>". */
static enum MHD_Result play_model(struct MHD_Connection *conn, const char *model, const cJSON *msgs)
{
    atomic_fetch_add(&inference_calls, 1);
    const char *prompt = content_of(msgs, cJSON_GetArraySize(msgs) - 1, "user");
    if (!prompt) return error400(conn, "inference without a user message");
    if (strstr(prompt, "MARK_FAILINFER")) return error400(conn, "this prompt is refused");
    if (strstr(prompt, "MARK_SLOW")) usleep(200 * 1000);
    char *text = xasprintf("%s says: %s", model, prompt);
    enum MHD_Result ret = answer(conn, text);
    free(text);
    return ret;
}

/* The judge. Its material is the first user message (the rendered judge prompt); the metric is
 * told by its scale (only FollowingInstructions offers "not applicable"). */
static enum MHD_Result play_judge(struct MHD_Connection *conn, const cJSON *msgs, bool structured)
{
    /* Judge calls ask for structured output (this stand-in answers in text, as a server may);
     * one refused with a 400 is asked again once without it, if the judge's answer to such
     * requests is not known yet: counted apart, since that depends on which reply came first. */
    atomic_fetch_add(structured ? &judge_calls : &plain_judge_calls, 1);
    int n = cJSON_GetArraySize(msgs);
    const char *sys = content_of(msgs, 0, "system");
    if (!sys || strcmp(sys, SYSTEM) != 0) return error400(conn, "the judge was not sent the spec's system prompt");
    const char *material = content_of(msgs, 1, "user");
    if (!material) return error400(conn, "no judge prompt");
    bool fi = strstr(material, "not applicable") != NULL;
    if (strstr(material, "MARK_JUDGEFAIL")) return error400(conn, "the judge refuses");
    if (strstr(material, "MARK_NEVER")) return answer(conn, "I would rather not say.");
    if (strstr(material, "MARK_VAGUE")) {
        if (n == 2) return answer(conn, FIRST_VAGUE);
        /* The re-ask: the conversation so far, then the re-ask message. */
        const char *mine = content_of(msgs, 2, "assistant");
        if (n != 4 || !mine || strcmp(mine, FIRST_VAGUE) != 0 || !content_of(msgs, 3, "user"))
            return error400(conn, "the re-ask does not carry the conversation");
        return answer(conn, fi ? "Thinking again.\nRating: yes" : "Thinking again.\n**Rating:** Partially correct");
    }
    if (fi) return answer(conn, "Instructions? There were none.\nRating: Not applicable");
    return answer(conn, "```json\n{\"reasoning\": \"It matches the question.\", \"rating\": \"correct\"}\n```");
}

static enum MHD_Result respond(struct MHD_Connection *conn, const char *url, const char *method, sreq_t *rq)
{
    if (strcmp(method, "POST") != 0 || strcmp(url, "/v1/chat/completions") != 0) return error400(conn, "bad route");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strcmp(auth, "Bearer " API_KEY) != 0) return error400(conn, "bad Authorization");
    cJSON *j = cJSON_ParseWithLength(rq->body.data ? rq->body.data : "", rq->body.len);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    enum MHD_Result ret;
    if (!cJSON_IsString(model) || !cJSON_IsArray(msgs)) ret = error400(conn, "no model or messages");
    else if (strcmp(model->valuestring, "judge") == 0)
        ret = play_judge(conn, msgs, cJSON_GetObjectItemCaseSensitive(j, "response_format") != NULL);
    else ret = play_model(conn, model->valuestring, msgs);
    cJSON_Delete(j);
    return ret;
}

/* ---- the worker side ---- */

#define MAX_RESULTS 64
typedef struct {
    result_t res[MAX_RESULTS];
    int n;
    int done;            /* on_done calls */
    int results_at_done; /* results seen when on_done came */
    int after_done;      /* results after on_done: must stay 0 */
} sink_t;

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static void on_result(wshard_t *s, const result_t *r, void *arg)
{
    sink_t *k = arg;
    if (k->done) k->after_done++;
    if (k->n >= MAX_RESULTS) return;
    result_t *c = &k->res[k->n++];
    *c = *r;
    c->job_id = dup_or_null(r->job_id);
    c->model = dup_or_null(r->model);
    c->response = dup_or_null(r->response);
    c->error = dup_or_null(r->error);
    c->scores = xcalloc(r->n_scores ? r->n_scores : 1, sizeof(score_t));
    for (size_t i = 0; i < r->n_scores; i++) {
        c->scores[i] = r->scores[i];
        c->scores[i].metric = dup_or_null(r->scores[i].metric);
        c->scores[i].rating = dup_or_null(r->scores[i].rating);
        c->scores[i].explanation = dup_or_null(r->scores[i].explanation);
        c->scores[i].error = dup_or_null(r->scores[i].error);
    }
}

static void on_shard_done(wshard_t *s, void *arg)
{
    sink_t *k = arg;
    k->done++;
    k->results_at_done = k->n;
}

static void sink_free(sink_t *k)
{
    for (int i = 0; i < k->n; i++) result_clear(&k->res[i]);
    memset(k, 0, sizeof *k);
}

static const result_t *find(const sink_t *k, uint64_t idx, target_t t)
{
    for (int i = 0; i < k->n; i++)
        if (k->res[i].record_index == idx && k->res[i].target == t) return &k->res[i];
    return NULL;
}

static wjob_t *job_new(const char *spec_json)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    spec_t *sp = spec_parse(spec_json, strlen(spec_json), "test spec", NULL, &errs);
    if (!sp) errlist_print(&errs, stderr, "test spec: ");
    errlist_free(&errs);
    if (!sp) return NULL;
    wjob_t *j = xcalloc(1, sizeof *j);
    j->job_id = xstrdup("job-w");
    j->spec_json = xstrdup(spec_json);
    j->spec = sp;
    return j;
}

static void job_free(wjob_t *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->spec_json);
    spec_destroy(&j->spec);
    free(j);
}

/* Records from JSON lines (record_parse_line, as the dataset reader gives them). */
static record_t *records_of(const char *const *lines, size_t n)
{
    record_t *recs = xcalloc(n, sizeof *recs);
    errlist_t errs;
    errlist_init(&errs, 0);
    for (size_t i = 0; i < n; i++)
        if (record_parse_line(lines[i], strlen(lines[i]), "test", i + 1, 100 + i, &recs[i], &errs) < 0) failures++;
    if (errs.count) errlist_print(&errs, stderr, "test records: ");
    errlist_free(&errs);
    return recs;
}

/* Runs the loop until on_done came (and the client is idle). */
static bool run_shard(loop_t *loop, llm_client_t *llm, sink_t *k)
{
    int64_t end = loop_now_ms() + 120000;
    while ((!k->done || llm_pending(llm) > 0) && loop_now_ms() < end) loop_run_once(loop, 50);
    return k->done == 1;
}

static const char *SPEC =
    "{\"model\": \"openai/answerer\", \"base_model\": \"openai/base-answerer\", \"evaluator_model\": \"openai/judge\","
    " \"dataset\": \"d.jsonl\", \"builtin_metrics\": [\"Correctness\", \"FollowingInstructions\"],"
    " \"judge_system_prompt\": \"" SYSTEM "\", \"judge\": {\"max_tokens\": 64}}";

enum { M_CORR = 0, M_FI = 1 };

static void test_shard(loop_t *loop, llm_client_t *llm)
{
    wjob_t *job = job_new(SPEC);
    CHECK(job != NULL);
    if (!job) return;
    static const char *const lines[] = {
        "{\"prompt\": \"What is 2+2?\", \"reference\": \"4\"}",
        "{\"prompt\": \"Summarise it.\", \"context\": \"THE-CONTEXT\"}",
        "{\"prompt\": \"MARK_VAGUE question\"}",
        "{\"prompt\": \"MARK_NEVER question\"}",
        "{\"prompt\": \"MARK_FAILINFER question\"}",
        "{\"prompt\": \"MARK_JUDGEFAIL question\"}",
        ("{\"prompt\": \"Bring your own.\", \"modelResponses\": [{\"response\": \"from the base\", \"modelIdentifier\":"
         " \"openai/base-answerer\"}, {\"response\": \"unnamed one\"}]}"),
    };
    enum { N = sizeof lines / sizeof *lines };
    record_t *recs = records_of(lines, N);
    sink_t k = {0};
    wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
    atomic_store(&inference_calls, 0);
    atomic_store(&judge_calls, 0);
    atomic_store(&plain_judge_calls, 0);
    wshard_t *s = wshard_new(job, 7, 42, recs, NULL, N, llm, &cbs);
    CHECK(s != NULL && job->refs == 1);
    CHECK(strcmp(wshard_job_id(s), "job-w") == 0 && wshard_id(s) == 7 && wshard_lease(s) == 42);
    CHECK(!wshard_cancelled(s));
    wshard_start(s);
    CHECK(run_shard(loop, llm, &k));
    CHECK(k.n == 2 * N && k.results_at_done == 2 * N && k.after_done == 0 && wshard_results(s) == 2 * N);
    /* Inference for 6 records x 2 targets, but the one with dataset responses. */
    CHECK(atomic_load(&inference_calls) == 12);

    for (int i = 0; i < k.n; i++) {
        const result_t *r = &k.res[i];
        CHECK(strcmp(r->job_id, "job-w") == 0 && r->shard_id == 7 && r->n_scores == 2);
        CHECK(strcmp(r->scores[M_CORR].metric, "Correctness") == 0 &&
              strcmp(r->scores[M_FI].metric, "FollowingInstructions") == 0);
    }

    /* A plain record, both targets: judged by JSON (Correctness) and by a label (N/A). */
    for (int t = 0; t < 2; t++) {
        const result_t *r = find(&k, 100, (target_t)t);
        CHECK(r != NULL);
        if (!r) continue;
        CHECK_STR(r->model, t == 0 ? "openai/answerer" : "openai/base-answerer");
        CHECK_STR(r->response, t == 0 ? "answerer says: What is 2+2?" : "base-answerer says: What is 2+2?");
        CHECK(!r->response_from_dataset && !r->error && r->usage.input_tokens == 10 && r->usage.output_tokens == 3);
        const score_t *c = &r->scores[M_CORR], *f = &r->scores[M_FI];
        CHECK(c->status == SCORE_OK && c->has_score && c->score == 2 && c->normalized == 1 && c->attempts == 1);
        CHECK_STR(c->rating, "correct");
        CHECK_STR(c->explanation, "It matches the question.");
        CHECK(c->error == NULL && c->usage.input_tokens == 10 && c->usage.output_tokens == 3);
        CHECK(f->status == SCORE_NOT_APPLICABLE && !f->has_score && f->attempts == 1);
        CHECK_STR(f->rating, "not applicable");
    }
    /* The context goes before the prompt in the inference message. */
    const result_t *r = find(&k, 101, TARGET_CUSTOM);
    CHECK(r && r->response && strcmp(r->response, "answerer says: THE-CONTEXT\n\nSummarise it.") == 0);
    /* No rating at first: re-asked once with the conversation, then rated; usage of both calls. */
    r = find(&k, 102, TARGET_CUSTOM);
    CHECK(r != NULL);
    if (r) {
        const score_t *c = &r->scores[M_CORR], *f = &r->scores[M_FI];
        CHECK(c->status == SCORE_OK && c->attempts == 2 && c->score == 1 && c->normalized == 0.5);
        CHECK_STR(c->rating, "partially correct");
        CHECK(c->usage.input_tokens == 20 && c->usage.output_tokens == 6);
        CHECK(f->status == SCORE_OK && f->attempts == 2 && f->score == 1);
        CHECK_STR(f->rating, "yes");
    }
    /* Never a rating: unscored after the re-ask, the reply kept as the explanation. */
    r = find(&k, 103, TARGET_BASE);
    CHECK(r != NULL);
    if (r) {
        const score_t *c = &r->scores[M_CORR];
        CHECK(c->status == SCORE_UNSCORED && c->attempts == 2 && !c->has_score && c->rating == NULL);
        CHECK_STR(c->explanation, "I would rather not say.");
        CHECK_HAS(c->error, "no rating");
    }
    /* Inference refused: the result carries the error and every metric says why it has no score;
     * no judge call was made for it. */
    r = find(&k, 104, TARGET_CUSTOM);
    CHECK(r != NULL);
    if (r) {
        CHECK(r->response == NULL);
        CHECK_HAS(r->error, "this prompt is refused");
        for (size_t m = 0; m < r->n_scores; m++) {
            CHECK(r->scores[m].status == SCORE_ERROR && r->scores[m].attempts == 0);
            CHECK_HAS(r->scores[m].error, "no response to judge");
        }
    }
    /* The judge fails: an error on each score, the response kept. */
    r = find(&k, 105, TARGET_BASE);
    CHECK(r != NULL);
    if (r) {
        CHECK(r->response && strstr(r->response, "MARK_JUDGEFAIL") && r->error == NULL);
        CHECK(r->scores[M_CORR].status == SCORE_ERROR && r->scores[M_CORR].attempts == 1);
        CHECK_HAS(r->scores[M_CORR].error, "the judge refuses");
    }
    /* Dataset responses: the named one for its model, the unnamed one for the other target. */
    r = find(&k, 106, TARGET_BASE);
    CHECK(r && r->response_from_dataset && strcmp(r->response, "from the base") == 0 &&
          strcmp(r->model, "openai/base-answerer") == 0 && r->usage.input_tokens == 0);
    r = find(&k, 106, TARGET_CUSTOM);
    CHECK(r && r->response_from_dataset && strcmp(r->response, "unnamed one") == 0 &&
          strcmp(r->model, "openai/answerer") == 0);
    CHECK(r && r->scores[M_CORR].status == SCORE_OK);

    /* Judge calls: 2 metrics for each of the 12 units that had a response (14 minus the two
     * refused inferences), plus one re-ask per metric on each of the four MARK_VAGUE/NEVER units. */
    CHECK(atomic_load(&judge_calls) == 12 * 2 + 4 * 2);
    CHECK(atomic_load(&plain_judge_calls) <= 4); /* the MARK_JUDGEFAIL ones (2 targets x 2 metrics), at most */
    wshard_destroy(&s);
    CHECK(s == NULL && job->refs == 0);
    sink_free(&k);
    job_free(job);
}

/* Cancelled while its calls are in flight: on_done once they return, and no result at all. */
static void test_cancel(loop_t *loop, llm_client_t *llm)
{
    wjob_t *job = job_new(SPEC);
    if (!job) return;
    static const char *const lines[] = {"{\"prompt\": \"MARK_SLOW one\"}", "{\"prompt\": \"MARK_SLOW two\"}"};
    record_t *recs = records_of(lines, 2);
    sink_t k = {0};
    wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
    wshard_t *s = wshard_new(job, 8, 43, recs, NULL, 2, llm, &cbs);
    wshard_start(s);
    CHECK(llm_pending(llm) == 4 && k.done == 0);
    wshard_cancel(s);
    CHECK(wshard_cancelled(s));
    CHECK(k.done == 0); /* four inference calls are still out */
    CHECK(run_shard(loop, llm, &k));
    CHECK(k.n == 0 && wshard_results(s) == 0);
    wshard_destroy(&s);
    CHECK(job->refs == 0);
    job_free(job);

    /* Cancelled before it starts: done at once, nothing sent. */
    job = job_new(SPEC);
    recs = records_of(lines, 1);
    memset(&k, 0, sizeof k);
    s = wshard_new(job, 9, 44, recs, NULL, 1, llm, &cbs);
    wshard_cancel(s);
    CHECK(k.done == 1);
    wshard_start(s);
    CHECK(k.done == 1 && llm_pending(llm) == 0 && k.n == 0);
    wshard_destroy(&s);
    job_free(job);
}

/* Calls that cannot even be queued (an endpoint with no base URL) and a record with no response
 * and no model for it: results with the reason, delivered from inside wshard_start, and on_done
 * from there too. An empty shard is done at once. */
static void test_immediate(loop_t *loop, llm_client_t *llm)
{
    wjob_t *job = job_new("{\"model\": \"openai-api/nosvc/m\", \"evaluator_model\": \"openai/judge\","
                          " \"dataset\": \"d.jsonl\", \"builtin_metrics\": [\"Correctness\"]}");
    CHECK(job != NULL);
    if (job) {
        static const char *const lines[] = {"{\"prompt\": \"q\"}"};
        sink_t k = {0};
        wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
        wshard_t *s = wshard_new(job, 1, 1, records_of(lines, 1), NULL, 1, llm, &cbs);
        wshard_start(s);
        CHECK(k.done == 1 && k.n == 1 && llm_pending(llm) == 0);
        if (k.n == 1) {
            CHECK(k.res[0].error != NULL && k.res[0].scores[0].status == SCORE_ERROR);
            CHECK_HAS(k.res[0].scores[0].error, "no response to judge");
        }
        wshard_destroy(&s);
        sink_free(&k);
        job_free(job);
    }
    /* No model in the spec: a record without its own response cannot be evaluated. */
    job = job_new("{\"evaluator_model\": \"openai/judge\", \"dataset\": \"d.jsonl\","
                  " \"builtin_metrics\": [\"Correctness\"], \"judge_system_prompt\": \"" SYSTEM "\"}");
    CHECK(job != NULL);
    if (job) {
        static const char *const lines[] = {"{\"prompt\": \"q\"}",
                                            "{\"prompt\": \"q2\", \"modelResponses\": [{\"response\": \"r\"}]}"};
        sink_t k = {0};
        wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
        wshard_t *s = wshard_new(job, 2, 2, records_of(lines, 2), NULL, 2, llm, &cbs);
        wshard_start(s);
        CHECK(run_shard(loop, llm, &k));
        CHECK(k.n == 2);
        const result_t *r = find(&k, 100, TARGET_CUSTOM);
        CHECK(r && r->error && strstr(r->error, "no response for this target"));
        r = find(&k, 101, TARGET_CUSTOM);
        CHECK(r && r->response_from_dataset && strcmp(r->model, "dataset") == 0 && r->scores[0].status == SCORE_OK);
        wshard_destroy(&s);
        sink_free(&k);
        job_free(job);
    }
    /* No records. */
    job = job_new(SPEC);
    if (job) {
        sink_t k = {0};
        wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
        wshard_t *s = wshard_new(job, 3, 3, NULL, NULL, 0, llm, &cbs);
        wshard_start(s);
        CHECK(k.done == 1 && k.n == 0);
        wshard_destroy(&s);
        job_free(job);
    }
}

/* Plans (a retry, a resubmission after part of a record was committed): only the planned targets,
 * the listed metrics judged on the given response without an inference call, a target without a
 * response evaluated in full; a plan for a target the job does not evaluate is ignored. */
static void test_plans(loop_t *loop, llm_client_t *llm)
{
    wjob_t *job = job_new(SPEC);
    if (!job) return;
    static const char *const lines[] = {"{\"prompt\": \"What is 2+2?\", \"reference\": \"4\"}",
                                        "{\"prompt\": \"Summarise it.\"}"};
    record_t *recs = records_of(lines, 2);
    char *fi = xstrdup("FollowingInstructions");
    wire_unit_plan_t u0 = {.target = TARGET_CUSTOM,
                           .response = xstrdup("answerer says: What is 2+2?"),
                           .model = xstrdup("openai/answerer"),
                           .metrics = &fi,
                           .n_metrics = 1};
    wire_unit_plan_t u1 = {.target = TARGET_BASE};
    wire_plan_t plans[2] = {{.units = &u0, .n_units = 1}, {.units = &u1, .n_units = 1}};
    sink_t k = {0};
    wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
    atomic_store(&inference_calls, 0);
    atomic_store(&judge_calls, 0);
    wshard_t *s = wshard_new(job, 10, 45, recs, plans, 2, llm, &cbs);
    wshard_start(s);
    CHECK(run_shard(loop, llm, &k));
    CHECK(k.n == 2 && atomic_load(&inference_calls) == 1 && atomic_load(&judge_calls) == 3);
    const result_t *r = find(&k, 100, TARGET_CUSTOM);
    CHECK(r && r->n_scores == 1 && !strcmp(r->scores[0].metric, "FollowingInstructions") &&
          !strcmp(r->response, "answerer says: What is 2+2?") && !strcmp(r->model, "openai/answerer"));
    CHECK(find(&k, 100, TARGET_BASE) == NULL && find(&k, 101, TARGET_CUSTOM) == NULL);
    r = find(&k, 101, TARGET_BASE);
    CHECK(r && r->n_scores == 2 && r->response && !strcmp(r->model, "openai/base-answerer"));
    wshard_destroy(&s);
    sink_free(&k);
    free(u0.response);
    free(u0.model);
    free(fi);
    job_free(job);
}

/* Cancelled with calls still queued in the llm client (one call at a time): those are never sent. */
static void test_cancel_queued(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_retries = 0;
    o.max_concurrency = 1;
    llm_client_t *one = llm_client_new(loop, &o);
    wjob_t *job = job_new(SPEC);
    if (!one || !job) {
        llm_client_destroy(&one);
        job_free(job);
        return;
    }
    static const char *const lines[] = {"{\"prompt\": \"MARK_SLOW a\"}", "{\"prompt\": \"MARK_SLOW b\"}",
                                        "{\"prompt\": \"MARK_SLOW c\"}"};
    record_t *recs = records_of(lines, 3);
    sink_t k = {0};
    wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_shard_done, .arg = &k};
    atomic_store(&inference_calls, 0);
    wshard_t *s = wshard_new(job, 11, 46, recs, NULL, 3, one, &cbs);
    wshard_start(s);
    CHECK(llm_pending(one) == 6);
    for (int i = 0; i < 100 && atomic_load(&inference_calls) == 0; i++) loop_run_once(loop, 20);
    wshard_cancel(s);
    CHECK(run_shard(loop, one, &k));
    CHECK(k.n == 0 && atomic_load(&inference_calls) == 1); /* the one on the wire; five never went */
    wshard_destroy(&s);
    job_free(job);
    llm_client_destroy(&one);
}

int main(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "test_wshard: cannot start the stand-in server\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1", info ? info->port : 0);
    setenv("OPENAI_BASE_URL", url, 1);
    setenv("OPENAI_API_KEY", API_KEY, 1);
    unsetenv("NOSVC_BASE_URL");
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    log_set_level(LOG_OFF);

    loop_t *loop = loop_new();
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_retries = 0;
    llm_client_t *llm = llm_client_new(loop, &o);
    CHECK(llm != NULL);
    if (llm) {
        test_shard(loop, llm);
        test_cancel(loop, llm);
        test_plans(loop, llm);
        test_cancel_queued(loop);
        test_immediate(loop, llm);
        CHECK(drain(loop, llm) == 0);
        llm_client_destroy(&llm);
    }
    loop_destroy(&loop);
    MHD_stop_daemon(d);
    curl_global_cleanup();
    (void)errs_have;
    (void)contains;
    (void)slot_free;
    (void)on_done;
    return check_summary("test_wshard");
}
