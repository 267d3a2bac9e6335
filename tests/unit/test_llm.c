/* test_llm: the model-call engine against a scripted HTTP server (libmicrohttpd, in this
 * process, on a free 127.0.0.1 port). The request's model name picks the server's behaviour:
 * success, 429 then success, 5xx then success, permanent errors, quota, slow replies, oversize
 * bodies, Anthropic format. The server also checks what it receives (path, auth headers, body
 * shape) and counts concurrent requests per model, so limits are asserted from the outside.
 * The client's loop runs on a virtual clock (vclock.h): backoff, Retry-After and rate-limit
 * pacing wait in virtual time, so the test takes seconds; the server stamps arrivals with the
 * same clock, so waits are still asserted. White-box: includes llm.c to read its per-endpoint
 * bookkeeping. */
#include "llm/llm.c"

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>

#include "check.h"
#include "mockllm/mock.h"
#include "standin.h"
#include "vclock.h"

static vclock_t vclock; /* the client loop's clock; the server thread reads it too */

#define OPENAI_KEY "sk-test-KEY123"
#define ANTHROPIC_KEY "ak-test-KEY456"
#define SYSTEM "You are a judge."
#define HUGE_LEN ((size_t)33 << 20)

/* ---- the scripted server ---- */
typedef struct {
    char name[64];
    int count;       /* requests seen */
    int cur, max;    /* concurrent requests now / at most */
    int64_t t_us[4]; /* arrival times of the first requests */
} scen_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static scen_t scens[64];
static int n_scens;
static atomic_int connections;
static char *huge_body;

/* Request index for `model` (0-based), recorded under the lock. */
static int scen_enter(const char *model, bool concurrent)
{
    pthread_mutex_lock(&mu);
    scen_t *s = NULL;
    for (int i = 0; i < n_scens; i++)
        if (strcmp(scens[i].name, model) == 0) s = &scens[i];
    if (!s && n_scens < 64) {
        s = &scens[n_scens++];
        snprintf(s->name, sizeof s->name, "%s", model);
    }
    int idx = -1;
    if (s) {
        idx = s->count++;
        if (idx < 4) s->t_us[idx] = vclock_read(&vclock);
        if (concurrent && ++s->cur > s->max) s->max = s->cur;
    }
    pthread_mutex_unlock(&mu);
    return idx;
}

static void scen_leave(const char *model)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_scens; i++)
        if (strcmp(scens[i].name, model) == 0) scens[i].cur--;
    pthread_mutex_unlock(&mu);
}

static scen_t scen_get(const char *model)
{
    scen_t out = {0};
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_scens; i++)
        if (strcmp(scens[i].name, model) == 0) out = scens[i];
    pthread_mutex_unlock(&mu);
    return out;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body, const char *const *hdrs)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    for (int i = 0; hdrs && hdrs[i]; i += 2) MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reject(struct MHD_Connection *conn, const char *why)
{
    char *b = xasprintf("{\"error\":{\"message\":\"test server: %s\",\"type\":\"test_error\"}}", why);
    enum MHD_Result ret = reply(conn, 422, b, NULL);
    free(b);
    return ret;
}

static const char *const OPENAI_RL[] = {"x-ratelimit-limit-requests",
                                        "500",
                                        "x-ratelimit-remaining-requests",
                                        "499",
                                        "x-ratelimit-reset-requests",
                                        "120ms",
                                        "x-ratelimit-limit-tokens",
                                        "10000",
                                        "x-ratelimit-remaining-tokens",
                                        "9000",
                                        "x-ratelimit-reset-tokens",
                                        "1s",
                                        NULL};
static const char *const ANTHROPIC_RL[] = {"anthropic-ratelimit-requests-limit",
                                           "50",
                                           "anthropic-ratelimit-requests-remaining",
                                           "49",
                                           "anthropic-ratelimit-output-tokens-limit",
                                           "8000",
                                           "anthropic-ratelimit-output-tokens-remaining",
                                           "7900",
                                           "anthropic-ratelimit-output-tokens-reset",
                                           "2099-01-01T00:00:00Z",
                                           NULL};

static enum MHD_Result ok_openai(struct MHD_Connection *conn, const char *last)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", "chatcmpl-1");
    cJSON_AddStringToObject(root, "object", "chat.completion");
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *c0 = cJSON_CreateObject();
    cJSON *msg = cJSON_AddObjectToObject(c0, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    char *text = xasprintf("echo:%s", last);
    cJSON_AddStringToObject(msg, "content", text);
    free(text);
    cJSON_AddStringToObject(c0, "finish_reason", "stop");
    cJSON_AddItemToArray(choices, c0);
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", 10);
    cJSON_AddNumberToObject(usage, "completion_tokens", 3);
    cJSON_AddNumberToObject(usage, "total_tokens", 13);
    char *s = cJSON_PrintUnformatted(root);
    enum MHD_Result ret = reply(conn, 200, s, OPENAI_RL);
    free(s);
    cJSON_Delete(root);
    return ret;
}

static enum MHD_Result ok_anthropic(struct MHD_Connection *conn, const char *last)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", "msg_1");
    cJSON_AddStringToObject(root, "type", "message");
    cJSON_AddStringToObject(root, "role", "assistant");
    cJSON *content = cJSON_AddArrayToObject(root, "content");
    cJSON *b1 = cJSON_CreateObject();
    cJSON_AddStringToObject(b1, "type", "text");
    cJSON_AddStringToObject(b1, "text", "echo:");
    cJSON_AddItemToArray(content, b1);
    cJSON *b2 = cJSON_CreateObject();
    cJSON_AddStringToObject(b2, "type", "text");
    cJSON_AddStringToObject(b2, "text", last);
    cJSON_AddItemToArray(content, b2);
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", 11);
    cJSON_AddNumberToObject(usage, "output_tokens", 4);
    char *s = cJSON_PrintUnformatted(root);
    enum MHD_Result ret = reply(conn, 200, s, ANTHROPIC_RL);
    free(s);
    cJSON_Delete(root);
    return ret;
}

/* A structured reply: the object as the content (OpenAI) or a tool_use block after a text one
 * (Anthropic). */
static enum MHD_Result ok_object(struct MHD_Connection *conn, bool anthropic)
{
    static const char openai_body[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
                                      "\"{\\\"reasoning\\\":\\\"fine\\\",\\\"rating\\\":\\\"correct\\\"}\"}}],"
                                      "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3}}";
    static const char anthropic_body[] =
        "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"aside\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"verdict\","
        "\"input\":{\"reasoning\":\"fine\",\"rating\":\"correct\"}}],\"stop_reason\":\"tool_use\","
        "\"usage\":{\"input_tokens\":11,\"output_tokens\":4}}";
    return reply(conn, 200, anthropic ? anthropic_body : openai_body, NULL);
}

static const char *hdr(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result respond(struct MHD_Connection *conn, const char *url, const char *method, sreq_t *rq)
{
    bool anthropic = strcmp(url, "/v1/messages") == 0;
    bool openai = strcmp(url, "/v1/chat/completions") == 0;
    bool compat = !openai && !anthropic && strlen(url) > 20 &&
                  strcmp(url + strlen(url) - 20, "/v1/chat/completions") == 0;
    if (strcmp(method, "POST") != 0) return reject(conn, "method is not POST");
    if (!anthropic && !openai && !compat) return reject(conn, "unknown path");
    const char *ct = hdr(conn, "Content-Type");
    if (!ct || strcmp(ct, "application/json") != 0) return reject(conn, "content-type is not application/json");
    if (openai) {
        const char *a = hdr(conn, "Authorization");
        if (!a || strcmp(a, "Bearer " OPENAI_KEY) != 0) return reject(conn, "bad Authorization");
    } else if (compat) {
        if (hdr(conn, "Authorization")) return reject(conn, "Authorization sent without a key");
    } else {
        const char *k = hdr(conn, "x-api-key"), *v = hdr(conn, "anthropic-version");
        if (!k || strcmp(k, ANTHROPIC_KEY) != 0) return reject(conn, "bad x-api-key");
        if (!v || strcmp(v, "2023-06-01") != 0) return reject(conn, "bad anthropic-version");
        if (hdr(conn, "Authorization")) return reject(conn, "Authorization sent to anthropic");
    }
    cJSON *j = cJSON_ParseWithLength(rq->body.data ? rq->body.data : "", rq->body.len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return reject(conn, "body is not a JSON object");
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(j, "temperature");
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(j, "system");
    const char *why = NULL;
    if (!cJSON_IsString(model)) why = "no model";
    else if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) < 1) why = "no messages";
    else if (!cJSON_IsNumber(mt) || mt->valuedouble < 1) why = "no max_tokens";
    else if (!cJSON_IsNumber(temp)) why = "no temperature";
    else if (anthropic && (!cJSON_IsString(sys) || strcmp(sys->valuestring, SYSTEM) != 0)) why = "no system";
    else if (!anthropic) {
        const cJSON *m0 = cJSON_GetArrayItem(msgs, 0);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m0, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m0, "content");
        if (!cJSON_IsString(role) || strcmp(role->valuestring, "system") != 0 || !cJSON_IsString(content) ||
            strcmp(content->valuestring, SYSTEM) != 0)
            why = "system message is not first";
    }
    if (why) {
        cJSON_Delete(j);
        return reject(conn, why);
    }
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1),
                                                         "content");
    char lastbuf[256];
    snprintf(lastbuf, sizeof lastbuf, "%s", cJSON_IsString(last) ? last->valuestring : "");
    char name[64];
    snprintf(name, sizeof name, "%s", model->valuestring);
    /* structured output as each API asks for it: OpenAI response_format, Anthropic a forced tool */
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "response_format");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(j, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(j, "tool_choice");
    bool wants_object = false;
    if (rf) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
        const cJSON *sname = cJSON_GetObjectItemCaseSensitive(js, "name");
        const cJSON *strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "json_schema") != 0 || !cJSON_IsString(sname) ||
            strcmp(sname->valuestring, "verdict") != 0 || !cJSON_IsTrue(strict) ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(js, "schema")))
            why = "bad response_format";
        wants_object = true;
    }
    if (tools || choice) {
        const cJSON *t0 = cJSON_GetArrayItem(tools, 0);
        const cJSON *tname = cJSON_GetObjectItemCaseSensitive(t0, "name");
        const cJSON *ctype = cJSON_GetObjectItemCaseSensitive(choice, "type");
        const cJSON *cname = cJSON_GetObjectItemCaseSensitive(choice, "name");
        if (!anthropic || !cJSON_IsString(tname) || strcmp(tname->valuestring, "verdict") != 0 ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t0, "input_schema")) || !cJSON_IsString(ctype) ||
            strcmp(ctype->valuestring, "tool") != 0 || !cJSON_IsString(cname) ||
            strcmp(cname->valuestring, "verdict") != 0)
            why = "bad tools / tool_choice";
        wants_object = true;
    }
    cJSON_Delete(j);
    if (why) return reject(conn, why);

    bool concurrent = strcmp(name, "conc") == 0 || strcmp(name, "many") == 0 || strcmp(name, "latermodel") == 0;
    int idx = scen_enter(name, concurrent);
    enum MHD_Result ret;
    if (concurrent) {
        usleep(strcmp(name, "many") == 0 ? 2000 : 20000);
        scen_leave(name);
        ret = ok_openai(conn, lastbuf);
    } else if (strcmp(name, "r429") == 0 && idx == 0) {
        static const char *const h[] = {"retry-after", "0", "x-ratelimit-limit-requests", "100", NULL};
        ret = reply(
            conn, 429,
            "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
            h);
    } else if (strcmp(name, "r429ms") == 0 && idx == 0) {
        static const char *const h[] = {"retry-after-ms", "300", NULL};
        ret = reply(conn, 429, "{\"error\":{\"message\":\"slow down\"}}", h);
    } else if (strcmp(name, "r500x2") == 0 && idx < 2) {
        ret = reply(conn, 500, "{\"error\":{\"message\":\"boom\"}}", NULL);
    } else if (strcmp(name, "always503ra") == 0) {
        static const char *const h[] = {"retry-after", "60", NULL};
        ret = reply(conn, 503, "try again in a minute", h);
    } else if (strcmp(name, "always503") == 0) {
        ret = reply(conn, 503, "upstream unavailable", NULL);
    } else if (strcmp(name, "bad400") == 0) {
        ret = reply(
            conn, 400,
            "{\"error\":{\"message\":\"Invalid value for 'max_tokens'\",\"type\":\"invalid_request_error\",\"code\":null}}",
            NULL);
    } else if (strcmp(name, "quota") == 0) {
        ret = reply(
            conn, 429,
            "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan and billing details.\",\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
            NULL);
    } else if (strcmp(name, "garbage") == 0) {
        ret = reply(conn, 200, "this is not json", NULL);
    } else if (strcmp(name, "leak") == 0) {
        ret = reply(conn, 401,
                    "{\"error\":{\"message\":\"Incorrect API key provided: " OPENAI_KEY
                    ".\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
                    NULL);
    } else if (strcmp(name, "huge") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(HUGE_LEN, huge_body, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
    } else if (strcmp(name, "slow") == 0) {
        usleep(1500 * 1000);
        ret = ok_openai(conn, lastbuf);
    } else if (strcmp(name, "slow2") == 0) {
        usleep(2000 * 1000);
        ret = ok_openai(conn, lastbuf);
    } else if (strcmp(name, "struct") == 0 && wants_object) {
        ret = ok_object(conn, anthropic);
    } else if (strcmp(name, "nostruct") == 0 && wants_object) {
        ret = reply(conn, 400, "{\"error\":{\"message\":\"response_format is not supported\"}}", NULL);
    } else if (strcmp(name, "flaky503") == 0) { /* 503 for its first 30 s (virtual), then fine */
        scen_t sc = scen_get(name);
        if (vclock_read(&vclock) - sc.t_us[0] < 30 * 1000000LL) ret = reply(conn, 503, "down for maintenance", NULL);
        else ret = ok_openai(conn, lastbuf);
    } else if (strcmp(name, "claude-credit") == 0) {
        ret = reply(
            conn, 400,
            "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.\"}}",
            NULL);
    } else if (strcmp(name, "claude-529") == 0 && idx == 0) {
        ret = reply(conn, 529,
                    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", NULL);
    } else if (anthropic) {
        ret = ok_anthropic(conn, lastbuf);
    } else {
        ret = ok_openai(conn, lastbuf);
    }
    return ret;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&connections, 1);
}

/* ---- the client side (slot_t, on_done, drain: standin.h) ---- */
static const llm_msg_t HELLO[] = {{"user", "hello"}};

static llm_req_t req_of(const llm_msg_t *msgs, size_t n)
{
    llm_req_t r = {.system = SYSTEM, .msgs = msgs, .n_msgs = n, .max_tokens = 32, .temperature = 0, .top_p = -1};
    return r;
}

static int call(llm_client_t *c, const char *model, slot_t *s)
{
    llm_req_t req = req_of(HELLO, 1);
    char err[512];
    if (llm_call(c, model, &req, on_done, s, err, sizeof err) < 0) {
        fprintf(stderr, "llm_call(%s): %s\n", model, err);
        return -1;
    }
    return 0;
}

static endpoint_t *ep_of(llm_client_t *c, const char *model)
{
    for (model_t *m = c->models; m; m = m->next)
        if (strcmp(m->input, model) == 0) return m->ep;
    return NULL;
}

typedef struct {
    llm_client_t *c;
    slot_t *first, *second;
} chain_t;

static void on_chain(const llm_reply_t *r, void *arg)
{
    chain_t *ch = arg;
    on_done(r, ch->first);
    llm_req_t req = req_of(HELLO, 1);
    char err[256];
    if (llm_call(ch->c, "openai/chain", &req, on_done, ch->second, err, sizeof err) < 0) ch->second->done = -100;
    CHECK(ch->second->done == 0); /* not re-entrant */
}

/* Every scenario once, on one client; exact statistics afterwards. */
static void test_scenarios(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_retries = 3;
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 20;
    o.connect_timeout_ms = 5000;
    o.request_timeout_ms = 60000;
    llm_client_t *c = llm_client_new(loop, &o);
    CHECK(c != NULL);
    if (!c) return;

    enum {
        OK,
        R429,
        R429MS,
        R500,
        A503,
        BAD,
        QUOTA,
        QUOTA2,
        GARBAGE,
        HUGE,
        LEAK,
        C_OK,
        C_CREDIT,
        C_529,
        LOCAL,
        DEAD,
        INVALID,
        MULTI,
        N
    };
    static const char *const models[N] = {[OK] = "openai/ok",
                                          [R429] = "openai/r429",
                                          [R429MS] = "openai/r429ms",
                                          [R500] = "openai/r500x2",
                                          [A503] = "openai/always503",
                                          [BAD] = "openai/bad400",
                                          [QUOTA] = "openai/quota",
                                          [QUOTA2] = "openai/quota",
                                          [GARBAGE] = "openai/garbage",
                                          [HUGE] = "openai/huge",
                                          [LEAK] = "openai/leak",
                                          [C_OK] = "anthropic/claude-ok",
                                          [C_CREDIT] = "anthropic/claude-credit",
                                          [C_529] = "anthropic/claude-529",
                                          [LOCAL] = "openai-api/local/localmodel",
                                          [DEAD] = "openai-api/dead/x",
                                          [INVALID] = "openai/ok",
                                          [MULTI] = "anthropic/claude-ok"};
    slot_t s[N] = {0};
    slot_t chain1 = {0}, chain2 = {0};
    chain_t ch = {c, &chain1, &chain2};

    /* unresolvable model strings: -1, no callback */
    char err[512] = "";
    llm_req_t req = req_of(HELLO, 1);
    slot_t never = {0};
    CHECK(llm_call(c, "no-such-provider/x", &req, on_done, &never, err, sizeof err) < 0);
    CHECK(err[0] != '\0');
    err[0] = '\0';
    CHECK(llm_call(c, "openai-api/nosvc/x", &req, on_done, &never, err, sizeof err) < 0);
    CHECK(contains(err, "NOSVC_BASE_URL"));

    for (int i = 0; i < N; i++) {
        if (i == QUOTA2 || i == INVALID || i == MULTI) continue;
        CHECK(call(c, models[i], &s[i]) == 0);
    }
    /* invalid request: accepted, fails through the callback, never inside llm_call */
    llm_req_t bad = req_of(HELLO, 1);
    bad.max_tokens = 0;
    CHECK(llm_call(c, models[INVALID], &bad, on_done, &s[INVALID], err, sizeof err) == 0);
    CHECK(s[INVALID].done == 0);
    /* a conversation: user, assistant, user; the reply echoes the last user turn */
    static const llm_msg_t conv[] = {{"user", "first"}, {"assistant", "answer"}, {"user", "second"}};
    llm_req_t creq = req_of(conv, 3);
    CHECK(llm_call(c, models[MULTI], &creq, on_done, &s[MULTI], err, sizeof err) == 0);
    /* a callback that queues another call */
    CHECK(llm_call(c, "openai/chain", &req, on_chain, &ch, err, sizeof err) == 0);
    CHECK(s[OK].done == 0);
    CHECK(llm_pending(c) == N - 1 + 1);

    CHECK(drain(loop, c) == 0);
    /* the first quota refusal marks the endpoint exhausted: a later call fails without being sent */
    CHECK(call(c, models[QUOTA2], &s[QUOTA2]) == 0);
    CHECK(drain(loop, c) == 0);

    for (int i = 0; i < N; i++) CHECK(s[i].done == 1);
    CHECK(never.done == 0);
    CHECK(chain1.done == 1 && chain2.done == 1);

    CHECK(s[OK].status == LLM_OK);
    CHECK(s[OK].text && strcmp(s[OK].text, "echo:hello") == 0 && s[OK].text_len == 10);
    CHECK(s[OK].usage.input_tokens == 10 && s[OK].usage.output_tokens == 3);
    CHECK(s[OK].attempts == 1 && s[OK].http == 200 && s[OK].error == NULL);
    CHECK(s[OK].latency_ms > 0);

    CHECK(s[R429].status == LLM_OK && s[R429].attempts == 2 && s[R429].http == 200);
    CHECK(s[R429MS].status == LLM_OK && s[R429MS].attempts == 2);
    scen_t r = scen_get("r429ms");
    CHECK(r.count == 2);
    CHECK(r.t_us[1] - r.t_us[0] >= 290 * 1000); /* retry-after-ms: 300 honoured (ms rounding aside) */
    CHECK(s[R429MS].latency_ms >= 290);
    CHECK(s[R500].status == LLM_OK && s[R500].attempts == 3);
    CHECK(scen_get("r500x2").count == 3);

    CHECK(s[A503].status == LLM_ERR_TRANSIENT && s[A503].attempts == 4 && s[A503].http == 503);
    CHECK(contains(s[A503].error, "gave up after 4 attempts") && contains(s[A503].error, "upstream unavailable"));
    CHECK(contains(s[A503].error, "openai/always503"));
    CHECK(s[A503].text == NULL);

    CHECK(s[BAD].status == LLM_ERR_PERMANENT && s[BAD].attempts == 1 && s[BAD].http == 400);
    CHECK(contains(s[BAD].error, "Invalid value for 'max_tokens'"));
    CHECK(scen_get("bad400").count == 1);

    CHECK(s[QUOTA].status == LLM_ERR_QUOTA && s[QUOTA].attempts == 1 && s[QUOTA].http == 429);
    CHECK(contains(s[QUOTA].error, "quota") && contains(s[QUOTA].error, "exceeded your current quota"));
    CHECK(s[QUOTA2].status == LLM_ERR_QUOTA && s[QUOTA2].attempts == 0);
    CHECK(scen_get("quota").count == 1); /* never retried, never sent again */

    CHECK(s[GARBAGE].status == LLM_ERR_PERMANENT && s[GARBAGE].attempts == 1 && s[GARBAGE].http == 200);
    CHECK(contains(s[GARBAGE].error, "not a JSON object"));

    CHECK(s[HUGE].status == LLM_ERR_PERMANENT && s[HUGE].attempts == 1);
    CHECK(contains(s[HUGE].error, "32 MiB cap"));

    CHECK(s[LEAK].status == LLM_ERR_PERMANENT && s[LEAK].http == 401);
    CHECK(!contains(s[LEAK].error, OPENAI_KEY) && contains(s[LEAK].error, "[redacted]"));

    CHECK(s[C_OK].status == LLM_OK && strcmp(s[C_OK].text, "echo:hello") == 0);
    CHECK(s[C_OK].usage.input_tokens == 11 && s[C_OK].usage.output_tokens == 4);
    CHECK(s[MULTI].status == LLM_OK && s[MULTI].text && strcmp(s[MULTI].text, "echo:second") == 0);
    CHECK(s[C_CREDIT].status == LLM_ERR_QUOTA && s[C_CREDIT].attempts == 1 && s[C_CREDIT].http == 400);
    CHECK(contains(s[C_CREDIT].error, "credit balance is too low"));
    CHECK(s[C_529].status == LLM_OK && s[C_529].attempts == 2);

    CHECK(s[LOCAL].status == LLM_OK && s[LOCAL].text && strcmp(s[LOCAL].text, "echo:hello") == 0);

    CHECK(s[DEAD].status == LLM_ERR_TRANSIENT && s[DEAD].attempts == 4 && s[DEAD].http == 0);
    CHECK(contains(s[DEAD].error, "request to http://127.0.0.1:1/v1/chat/completions failed"));

    CHECK(s[INVALID].status == LLM_ERR_PERMANENT && s[INVALID].attempts == 0 && s[INVALID].latency_ms == 0);
    CHECK(contains(s[INVALID].error, "max_tokens"));

    CHECK(chain1.status == LLM_OK && chain2.status == LLM_OK);
    for (int i = 0; i < N; i++) CHECK(!contains(s[i].error, OPENAI_KEY) && !contains(s[i].error, ANTHROPIC_KEY));

    llm_stats_t st;
    llm_get_stats(c, &st);
    CHECK(st.calls_ok == 10);     /* OK R429 R429MS R500 C_OK MULTI C_529 LOCAL chain1 chain2 */
    CHECK(st.calls_failed == 10); /* A503 BAD QUOTA QUOTA2 GARBAGE HUGE LEAK C_CREDIT DEAD INVALID */
    CHECK(st.http_requests == 29);
    CHECK(st.retries == 11);
    CHECK(st.http_429 == 3);
    CHECK(st.http_5xx == 7);
    CHECK(st.transport_errors == 4);
    CHECK(st.input_tokens == 7 * 10 + 3 * 11);
    CHECK(st.output_tokens == 7 * 3 + 3 * 4);

    /* per-endpoint bookkeeping: estimates, usage and the last rate-limit headers */
    endpoint_t *ep = ep_of(c, "openai/ok");
    CHECK(ep != NULL);
    if (ep) {
        CHECK(ep->in_flight == 0);
        CHECK(ep->requests_started == 1); /* the invalid request never started */
        CHECK(ep->tokens_estimated == (strlen(SYSTEM) + strlen("hello")) / 4 + 32);
        CHECK(ep->input_tokens == 10 && ep->output_tokens == 3);
        CHECK(ep->rl.dim[RLH_REQUESTS].limit == 500 && ep->rl.dim[RLH_REQUESTS].remaining == 499);
        CHECK(ep->rl.dim[RLH_REQUESTS].reset_ms == 120 && ep->rl.dim[RLH_TOKENS].reset_ms == 1000);
    }
    ep = ep_of(c, "anthropic/claude-ok");
    CHECK(ep && ep->rl.dim[RLH_OUTPUT_TOKENS].limit == 8000 && ep->rl.dim[RLH_OUTPUT_TOKENS].reset_ms > 0);
    CHECK(ep && ep->requests_started == 2 && ep->in_flight == 0);
    ep = ep_of(c, "openai/r429");
    CHECK(ep && ep->throttles == 1);
    CHECK(ep_of(c, "openai/quota") && ratelimit_exhausted(c->rl, ep_of(c, "openai/quota")->key));

    for (int i = 0; i < N; i++) slot_free(&s[i]);
    slot_free(&chain1);
    slot_free(&chain2);
    llm_client_destroy(&c);
    CHECK(c == NULL);
    llm_client_destroy(&c); /* NULL is fine */
}

/* A request slower than the request timeout: retried, then a transient failure. */
static void test_timeout(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_retries = 1;
    o.backoff_base_ms = 5;
    o.request_timeout_ms = 300;
    llm_client_t *c = llm_client_new(loop, &o);
    slot_t s = {0};
    CHECK(call(c, "openai/slow", &s) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(s.done == 1);
    CHECK(s.status == LLM_ERR_TRANSIENT && s.attempts == 2 && s.http == 0);
    CHECK(contains(s.error, "timed out"));
    llm_stats_t st;
    llm_get_stats(c, &st);
    CHECK(st.transport_errors == 2 && st.retries == 1 && st.calls_failed == 1);
    slot_free(&s);
    llm_client_destroy(&c);
}

/* Per-model concurrency limits, a limit given before its model resolves, and 300 concurrent
 * calls that all complete exactly once under the global limit, over reused connections. */
static void test_concurrency(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_concurrency = 100; /* above the pump's per-pass budget: starts spread over passes */
    o.backoff_base_ms = 5;
    llm_client_t *c = llm_client_new(loop, &o);

    llm_set_limit(c, "openai/conc", 0, 0, 3);
    unsetenv("LATER_BASE_URL");
    llm_set_limit(c, "openai-api/later/latermodel", 0, 0, 2); /* not resolvable yet: kept */
    const char *base = getenv("LOCAL_BASE_URL");
    char *later = xasprintf("%.*s/later/v1", (int)(strstr(base, "/local/v1") - base), base);
    setenv("LATER_BASE_URL", later, 1);
    free(later);

    slot_t conc[40] = {0}, lat[12] = {0};
    for (int i = 0; i < 40; i++) CHECK(call(c, "openai/conc", &conc[i]) == 0);
    for (int i = 0; i < 12; i++) CHECK(call(c, "openai-api/later/latermodel", &lat[i]) == 0);
    CHECK(drain(loop, c) == 0);
    int ok = 0;
    for (int i = 0; i < 40; i++) ok += conc[i].done == 1 && conc[i].status == LLM_OK;
    CHECK(ok == 40);
    ok = 0;
    for (int i = 0; i < 12; i++) ok += lat[i].done == 1 && lat[i].status == LLM_OK;
    CHECK(ok == 12);
    scen_t sc = scen_get("conc");
    CHECK(sc.count == 40 && sc.max >= 1 && sc.max <= 3);
    sc = scen_get("latermodel");
    CHECK(sc.count == 12 && sc.max >= 1 && sc.max <= 2);
    for (int i = 0; i < 40; i++) slot_free(&conc[i]);
    for (int i = 0; i < 12; i++) slot_free(&lat[i]);

    enum { M = 300 };
    static slot_t many[M];
    static llm_msg_t msgs[M];
    static char texts[M][16];
    int conn_before = atomic_load(&connections);
    char err[256];
    for (int i = 0; i < M; i++) {
        snprintf(texts[i], sizeof texts[i], "n=%d", i);
        msgs[i] = (llm_msg_t){"user", texts[i]};
        llm_req_t req = req_of(&msgs[i], 1);
        CHECK(llm_call(c, "openai/many", &req, on_done, &many[i], err, sizeof err) == 0);
    }
    CHECK(llm_pending(c) == M);
    CHECK(drain(loop, c) == 0);
    int once = 0, echoed = 0;
    for (int i = 0; i < M; i++) {
        once += many[i].done == 1;
        char want[32];
        snprintf(want, sizeof want, "echo:n=%d", i);
        echoed += many[i].status == LLM_OK && many[i].text && strcmp(many[i].text, want) == 0;
    }
    CHECK(once == M);
    CHECK(echoed == M);
    sc = scen_get("many");
    CHECK(sc.count == M);
    CHECK(sc.max >= 1 && sc.max <= 100);
    int opened = atomic_load(&connections) - conn_before;
    CHECK(opened <= 150); /* keep-alive: connections are reused (those of earlier calls too), not one per call */
    llm_stats_t st;
    llm_get_stats(c, &st);
    CHECK(st.calls_ok == 40 + 12 + M && st.calls_failed == 0 && st.retries == 0);
    for (int i = 0; i < M; i++) slot_free(&many[i]);
    llm_client_destroy(&c);
}

/* Destroying the client with calls queued, on the wire and backing off: no callbacks, no leaks. */
static void test_destroy_in_flight(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_concurrency = 3;
    llm_client_t *c = llm_client_new(loop, &o);
    slot_t s[6] = {0};
    for (int i = 0; i < 5; i++) CHECK(call(c, "openai/slow2", &s[i]) == 0);
    CHECK(call(c, "openai/always503ra", &s[5]) == 0); /* backing off for a minute */
    /* until the 503 has been answered (the slow replies take 2 s) */
    int64_t deadline = loop_now_ms() + 1500;
    bool backing_off = false;
    while (!backing_off && loop_now_ms() < deadline) {
        loop_run_once(loop, 10);
        for (call_t *k = c->all; k; k = k->all_next) backing_off |= k->state == CALL_BACKOFF;
    }
    CHECK(llm_pending(c) == 6);
    int states[4] = {0};
    for (call_t *k = c->all; k; k = k->all_next) states[k->state]++;
    CHECK(states[CALL_QUEUED] == 2 && states[CALL_ACTIVE] == 3 && states[CALL_BACKOFF] == 1);
    llm_client_destroy(&c);
    for (int i = 0; i < 20; i++) loop_run_once(loop, 5); /* nothing left behind fires */
    for (int i = 0; i < 6; i++) CHECK(s[i].done == 0);
}

/* A caller's `cancelled` flag: calls still queued when it is set are never sent (they complete
 * with LLM_ERR_CANCELLED); the one on the wire runs to its end; one backing off is not retried. */
static void test_cancelled(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_concurrency = 1;
    o.backoff_base_ms = 5;
    llm_client_t *c = llm_client_new(loop, &o);
    bool cancelled = false;
    slot_t s[4] = {0};
    char err[256];
    for (int i = 0; i < 4; i++) {
        llm_req_t req = req_of(HELLO, 1);
        req.cancelled = &cancelled;
        CHECK(llm_call(c, "openai/cancelme", &req, on_done, &s[i], err, sizeof err) == 0);
    }
    int64_t deadline = loop_now_ms() + 10000;
    while (scen_get("cancelme").count == 0 && loop_now_ms() < deadline) loop_run_once(loop, 5);
    cancelled = true;
    CHECK(drain(loop, c) == 0);
    int ok = 0, gone = 0;
    for (int i = 0; i < 4; i++) {
        ok += s[i].done == 1 && s[i].status == LLM_OK;
        gone += s[i].done == 1 && s[i].status == LLM_ERR_CANCELLED;
    }
    CHECK(ok == 1 && gone == 3 && scen_get("cancelme").count == 1);
    for (int i = 0; i < 4; i++) slot_free(&s[i]);
    llm_client_destroy(&c);
}

static const llm_schema_t VERDICT = {
    .name = "verdict",
    .description = "Record the verdict",
    .schema = "{\"type\":\"object\",\"properties\":{\"reasoning\":{\"type\":\"string\"},\"rating\":"
              "{\"type\":\"string\",\"enum\":[\"correct\",\"incorrect\"]}},\"required\":[\"reasoning\","
              "\"rating\"],\"additionalProperties\":false}"};

static int call_schema(llm_client_t *c, const char *model, slot_t *s)
{
    llm_req_t req = req_of(HELLO, 1);
    req.schema = &VERDICT;
    char err[512];
    if (llm_call(c, model, &req, on_done, s, err, sizeof err) < 0) {
        fprintf(stderr, "llm_call(%s): %s\n", model, err);
        return -1;
    }
    return 0;
}

/* Structured output: asked for the way each API takes it (the server rejects anything else),
 * answered in kind; an endpoint that refuses it is asked again without it, once, and never again;
 * a provider without structured output (SageMaker) never sends it. */
static void test_structured(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.backoff_base_ms = 5;
    llm_client_t *c = llm_client_new(loop, &o);
    slot_t oa = {0}, an = {0}, plain = {0};
    CHECK(call_schema(c, "openai/struct", &oa) == 0);
    CHECK(call_schema(c, "anthropic/struct", &an) == 0);
    CHECK(call(c, "openai/struct", &plain) == 0); /* no schema: plain text as before */
    CHECK(drain(loop, c) == 0);
    CHECK(oa.status == LLM_OK && oa.structured &&
          strcmp(oa.structured, "{\"reasoning\":\"fine\",\"rating\":\"correct\"}") == 0);
    CHECK(oa.text && oa.text_len == 0);
    CHECK(an.status == LLM_OK && an.structured && strstr(an.structured, "\"rating\":\"correct\""));
    CHECK(an.text && strcmp(an.text, "aside") == 0);
    CHECK(plain.status == LLM_OK && !plain.structured && strcmp(plain.text, "echo:hello") == 0);
    CHECK(ep_of(c, "openai/struct")->structured == STRUCT_YES);

    /* refused: 400 to the structured request, then the plain twin answers */
    slot_t r1 = {0}, r2 = {0};
    CHECK(call_schema(c, "openai-api/local/nostruct", &r1) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(r1.status == LLM_OK && !r1.structured && strcmp(r1.text, "echo:hello") == 0 && r1.attempts == 2);
    CHECK(ep_of(c, "openai-api/local/nostruct")->structured == STRUCT_NO);
    CHECK(call_schema(c, "openai-api/local/nostruct", &r2) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(r2.status == LLM_OK && r2.attempts == 1); /* not asked again */
    CHECK(scen_get("nostruct").count == 3);
    llm_stats_t st;
    llm_get_stats(c, &st);
    CHECK(st.retries == 0 && st.calls_ok == 5);

    /* a malformed schema name is a bad request, reported through the callback */
    llm_schema_t bad = VERDICT;
    bad.name = "no spaces allowed";
    llm_req_t req = req_of(HELLO, 1);
    req.schema = &bad;
    slot_t b = {0};
    char err[256];
    CHECK(llm_call(c, "openai/struct", &req, on_done, &b, err, sizeof err) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(b.status == LLM_ERR_PERMANENT && contains(b.error, "schema's name"));

    /* SageMaker has no structured output: its request never carries the schema */
    model_t *m = NULL;
    CHECK((m = model_get(c, "sagemaker/ep", NULL, err, sizeof err)) != NULL);
    if (m) {
        call_t probe = {.m = m};
        httpmsg_request_init(&probe.http);
        llm_req_t sreq = req_of(HELLO, 1);
        sreq.schema = &VERDICT;
        CHECK(call_build(&probe, &sreq, err, sizeof err) == 0);
        CHECK(!probe.structured && !probe.has_plain && probe.http.body.data &&
              !strstr(probe.http.body.data, "verdict"));
        httpmsg_request_clear(&probe.http);
    }
    slot_free(&oa);
    slot_free(&an);
    slot_free(&plain);
    slot_free(&r1);
    slot_free(&r2);
    slot_free(&b);
    llm_client_destroy(&c);
}

/* Retries ride out an outage: a provider that answers 503 for 30 s loses nothing with the default
 * budget; one that never recovers is given up after the budget, not after a count, and the waits
 * between attempts grow (the floor of each backoff delay). Virtual time. */
static void test_retry_budget(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o); /* base 500 ms, cap 30 s, no count limit, budget 300 s */
    CHECK(o.max_retries < 0 && o.retry_budget_ms == 300000);
    llm_client_t *c = llm_client_new(loop, &o);
    slot_t outage = {0}, dead = {0};
    CHECK(call(c, "openai/flaky503", &outage) == 0);
    llm_req_t req = req_of(HELLO, 1);
    req.retry_budget_ms = 60000;
    char err[256];
    CHECK(llm_call(c, "openai/always503", &req, on_done, &dead, err, sizeof err) == 0);
    CHECK(drain(loop, c) == 0);

    CHECK(outage.status == LLM_OK && outage.attempts >= 3 && outage.latency_ms >= 30000);
    scen_t sc = scen_get("flaky503");
    CHECK(sc.count == (int)outage.attempts);
    /* each wait at least the growing floor: 250, 500, 1000 ms */
    CHECK(sc.t_us[1] - sc.t_us[0] >= 250 * 1000);
    CHECK(sc.t_us[2] - sc.t_us[1] >= 500 * 1000);
    CHECK(sc.t_us[3] - sc.t_us[2] >= 1000 * 1000);

    CHECK(dead.status == LLM_ERR_TRANSIENT && dead.http == 503);
    CHECK(contains(dead.error, "the retry budget is 60 s") && contains(dead.error, "upstream unavailable"));
    CHECK(dead.latency_ms <= 60000 && dead.latency_ms >= 15000); /* the floors of 6+ retries add up */
    CHECK(dead.attempts >= 6 && dead.attempts <= 12);
    slot_free(&outage);
    slot_free(&dead);
    llm_client_destroy(&c);
}

/* llm_model_check: what a scheduler asks before it accepts a job. */
static void test_model_check(void)
{
    char err[512] = "";
    CHECK(llm_model_check("openai/gpt-4o-mini", NULL, err, sizeof err) == 0);
    CHECK(llm_model_check("anthropic/claude-x", NULL, err, sizeof err) == 0);
    CHECK(llm_model_check("openai-api/local/m", NULL, err, sizeof err) == 0);
    CHECK(llm_model_check("bedrock/amazon.nova-pro-v1:0", "us-east-1", err, sizeof err) == 0);
    char *saved_key = xstrdup(getenv("OPENAI_API_KEY")), *saved_url = xstrdup(getenv("OPENAI_BASE_URL"));
    unsetenv("OPENAI_API_KEY");
    CHECK(llm_model_check("openai/gpt-4o-mini", NULL, err, sizeof err) == 0); /* a base URL: keys optional */
    unsetenv("OPENAI_BASE_URL");
    CHECK(llm_model_check("openai/gpt-4o-mini", NULL, err, sizeof err) < 0);
    CHECK(contains(err, "`openai/gpt-4o-mini` needs OPENAI_API_KEY") && contains(err, "OPENAI_BASE_URL"));
    setenv("OPENAI_API_KEY", saved_key, 1);
    setenv("OPENAI_BASE_URL", saved_url, 1);
    free(saved_key);
    free(saved_url);
    CHECK(llm_model_check("openai-api/nosvc/m", NULL, err, sizeof err) < 0 && contains(err, "NOSVC_BASE_URL"));
    CHECK(llm_model_check("what/ever", NULL, err, sizeof err) < 0 && err[0]);
    CHECK(llm_model_check("nova-textgeneration-pro", "sa-east-1", err, sizeof err) < 0 && err[0]);
}

/* Structured output end to end against the mock LLM (in this process): the verdict object comes
 * back from OpenAI-compatible, Anthropic and Bedrock (SigV4-signed Converse) dialects alike; a
 * server that refuses it is asked again in plain text. */
static void test_structured_mock(loop_t *loop)
{
    static const llm_schema_t schema = {
        .name = "record_verdict",
        .description = "Record the verdict",
        .schema = "{\"type\":\"object\",\"properties\":{\"reasoning\":{\"type\":\"string\"},\"rating\":{\"type\":"
                  "\"string\",\"enum\":[\"incorrect\",\"partially correct\",\"correct\"]}},\"required\":[\"reasoning\","
                  "\"rating\"],\"additionalProperties\":false}"};
    static const llm_msg_t judge_msg[] = {{"user", "Rate it.\n<response-0123456789abcdef0123456789abcdef>\nParis.\n"
                                                   "</response-0123456789abcdef0123456789abcdef>\n\n"
                                                   "Choose exactly one rating from this scale:\n- incorrect\n"
                                                   "- partially correct\n- correct\n\nEnd with JSON."}};
    for (int refuse = 0; refuse < 2; refuse++) {
        mock_opts_t mo;
        mock_opts_default(&mo);
        mo.log_level = LOG_ERROR;
        mo.no_structured = refuse;
        char err[256];
        mock_t *mock = mock_new(&mo, err, sizeof err);
        CHECK(mock != NULL);
        if (!mock) return;
        char *saved = xstrdup(getenv("ANTHROPIC_BASE_URL")), *v1 = xasprintf("%s/v1", mock_url(mock));
        setenv("ANTHROPIC_BASE_URL", mock_url(mock), 1);
        setenv("ANTHROPIC_API_KEY", "k", 1);
        setenv("MOCKJ_BASE_URL", v1, 1);
        setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", mock_url(mock), 1);
        setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        llm_opts_t o;
        llm_opts_default(&o);
        llm_client_t *c = llm_client_new(loop, &o);
        static const char *const models[] = {"openai-api/mockj/judge", "anthropic/judge",
                                             "bedrock/amazon.nova-pro-v1:0"};
        slot_t s[3] = {{0}};
        for (int i = 0; i < 3; i++) {
            llm_req_t req =
                {.system = SYSTEM, .msgs = judge_msg, .n_msgs = 1, .max_tokens = 256, .top_p = -1, .schema = &schema};
            CHECK(llm_call(c, models[i], &req, on_done, &s[i], err, sizeof err) == 0);
        }
        CHECK(drain(loop, c) == 0);
        for (int i = 0; i < 3; i++) {
            CHECK(s[i].status == LLM_OK);
            if (refuse) {
                CHECK(!s[i].structured && s[i].text && s[i].attempts == 2);
                CHECK(ep_of(c, models[i])->structured == STRUCT_NO);
            } else {
                cJSON *obj = s[i].structured ? cJSON_Parse(s[i].structured) : NULL;
                const cJSON *r = cJSON_GetObjectItemCaseSensitive(obj, "rating");
                CHECK(cJSON_IsString(r) &&
                      (strcmp(r->valuestring, "incorrect") == 0 || strcmp(r->valuestring, "partially correct") == 0 ||
                       strcmp(r->valuestring, "correct") == 0));
                CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, "reasoning")));
                cJSON_Delete(obj);
                CHECK(s[i].attempts == 1 && ep_of(c, models[i])->structured == STRUCT_YES);
            }
            slot_free(&s[i]);
        }
        llm_client_destroy(&c);
        mock_destroy(&mock);
        setenv("ANTHROPIC_BASE_URL", saved, 1);
        setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY, 1);
        free(saved);
        free(v1);
    }
}

int main(void)
{
    huge_body = xmalloc(HUGE_LEN);
    memset(huge_body, 'x', HUGE_LEN);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "test_llm: cannot start the test HTTP server\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    if (!port) {
        fprintf(stderr, "test_llm: no port\n");
        return 1;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1", port);
    setenv("OPENAI_BASE_URL", url, 1);
    setenv("OPENAI_API_KEY", OPENAI_KEY, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
    setenv("ANTHROPIC_BASE_URL", url, 1);
    setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/local/v1", port);
    setenv("LOCAL_BASE_URL", url, 1);
    unsetenv("LOCAL_API_KEY");
    setenv("DEAD_BASE_URL", "http://127.0.0.1:1/v1", 1);
    unsetenv("DEAD_API_KEY");
    unsetenv("NOSVC_BASE_URL");
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    log_set_level(LOG_ERROR);

    loop_t *loop = loop_new();
    vclock_init(&vclock);
    loop_set_clock(loop, &vclock.base);
    test_scenarios(loop);
    test_timeout(loop);
    test_concurrency(loop);
    test_destroy_in_flight(loop);
    test_cancelled(loop);
    test_structured(loop);
    test_retry_budget(loop);
    test_model_check();
    test_structured_mock(loop);
    loop_destroy(&loop);
    MHD_stop_daemon(d);
    free(huge_body);
    curl_global_cleanup();
    return check_summary("test_llm");
}
