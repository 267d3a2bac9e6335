/* test_provider_aws_http: Bedrock and SageMaker calls end to end through llm_call against a
 * stand-in AWS server (libmicrohttpd, in this process, on a free 127.0.0.1 port) that checks the
 * SigV4 signature of every request with sigv4_verify over the raw request-target (an unescape
 * callback keeps MHD from decoding it), checks the body shape, and answers Converse or
 * InvokeEndpoint JSON. The model id or endpoint name picks the behaviour: success, a throttle
 * then success, a container 503 then success, a validation error, a quota error. */
#include "llm.h"
#include "mem.h"
#include "provider_aws.h"
#include "sigv4.h"
#include "sigv4_verify.h"
#include "log.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "standin.h"

#define AK "AKIDHTTPTEST0001"
#define SK "http/test/secret/key/0123456789abcdefABCD"
#define TOKEN "FwoGZXIvYXdzEXAMPLEsessiontoken//+=="
#define SYSTEM "You are a judge."

/* ---- the stand-in server ---- */

#define MAX_SEEN 64
typedef struct {
    char path[256];  /* raw request-target */
    char region[64]; /* credential scope */
    char service[64];
    bool sig_ok;
    bool token_signed; /* X-Amz-Security-Token present and signed */
} seen_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static seen_t seen[MAX_SEEN];
static int n_seen, bad_sigs;
static char last_rejection[1400]; /* why the server refused the last bad signature */

typedef struct {
    sigv4_header_t v[64];
    size_t n;
} hdrs_t;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    hdrs_t *h = cls;
    if (h->n < 64) h->v[h->n++] = (sigv4_header_t){key, value ? value : ""};
    return MHD_YES;
}

static int lookup(void *ctx, const char *ak, char *secret, size_t size)
{
    (void)ctx;
    if (strcmp(ak, AK) != 0) return -1;
    snprintf(secret, size, "%s", SK);
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *error_type, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "x-amzn-RequestId", "6f6b5a5e-0000-4000-8000-000000000000");
    if (error_type) MHD_add_response_header(r, "x-amzn-ErrorType", error_type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Requests seen so far for a path. */
static int count_path(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_seen; i++) n += strcmp(seen[i].path, path) == 0;
    pthread_mutex_unlock(&mu);
    return n;
}

static seen_t last_seen(const char *path)
{
    seen_t s = {0};
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_seen; i++)
        if (strcmp(seen[i].path, path) == 0) s = seen[i];
    pthread_mutex_unlock(&mu);
    return s;
}

/* The last user text of a request body, checking its shape; NULL if it is wrong. */
static char *last_text(const char *body, size_t len, bool bedrock)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    char *out = NULL;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    if (bedrock) {
        const cJSON *sys = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "system"), 0);
        const cJSON *ic = cJSON_GetObjectItemCaseSensitive(j, "inferenceConfig");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(last, "content"), 0), "text");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(sys, "text");
        if (cJSON_IsString(t) && cJSON_IsString(st) && strcmp(st->valuestring, SYSTEM) == 0 &&
            cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ic, "maxTokens")))
            out = xstrdup(t->valuestring);
    } else {
        const cJSON *m0 = cJSON_GetArrayItem(msgs, 0);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m0, "role");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(last, "content");
        if (cJSON_IsString(t) && cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0 &&
            cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "max_tokens")))
            out = xstrdup(t->valuestring);
    }
    cJSON_Delete(j);
    return out;
}

static enum MHD_Result converse_ok(struct MHD_Connection *conn, const char *text)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *msg = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "output"), "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON *content = cJSON_AddArrayToObject(msg, "content");
    cJSON *b = cJSON_CreateObject();
    char *t = xasprintf("echo:%s", text);
    cJSON_AddStringToObject(b, "text", t);
    free(t);
    cJSON_AddItemToArray(content, b);
    cJSON_AddStringToObject(root, "stopReason", "end_turn");
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "inputTokens", 12);
    cJSON_AddNumberToObject(u, "outputTokens", 5);
    cJSON_AddNumberToObject(u, "totalTokens", 17);
    char *s = cJSON_PrintUnformatted(root);
    enum MHD_Result ret = reply(conn, 200, NULL, s);
    free(s);
    cJSON_Delete(root);
    return ret;
}

static enum MHD_Result invoke_ok(struct MHD_Connection *conn, const char *text, bool tgi)
{
    char *t = xasprintf("echo:%s", text);
    cJSON *root;
    if (tgi) {
        root = cJSON_CreateArray();
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "generated_text", t);
        cJSON_AddItemToArray(root, g);
    } else {
        root = cJSON_CreateObject();
        cJSON *c0 = cJSON_CreateObject();
        cJSON *msg = cJSON_AddObjectToObject(c0, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", t);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), c0);
        cJSON *u = cJSON_AddObjectToObject(root, "usage");
        cJSON_AddNumberToObject(u, "prompt_tokens", 20);
        cJSON_AddNumberToObject(u, "completion_tokens", 6);
    }
    free(t);
    char *s = cJSON_PrintUnformatted(root);
    enum MHD_Result ret = reply(conn, 200, NULL, s);
    free(s);
    cJSON_Delete(root);
    return ret;
}

static enum MHD_Result respond(struct MHD_Connection *conn, const char *url, const char *method, sreq_t *rq)
{
    hdrs_t h = {.n = 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect, &h);
    sigv4_verify_opts_t o = {.lookup = lookup};
    sigv4_auth_t auth;
    char reason[1024];
    sigv4_status_t st = sigv4_verify(&o, method, url, h.v, h.n, rq->body.data, rq->body.len, &auth, reason,
                                     sizeof reason);
    const char *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Security-Token");

    pthread_mutex_lock(&mu);
    int idx = 0;
    for (int i = 0; i < n_seen; i++) idx += strcmp(seen[i].path, url) == 0;
    if (n_seen < MAX_SEEN) {
        seen_t *s = &seen[n_seen++];
        snprintf(s->path, sizeof s->path, "%s", url);
        snprintf(s->region, sizeof s->region, "%s", auth.region);
        snprintf(s->service, sizeof s->service, "%s", auth.service);
        s->sig_ok = st == SIGV4_OK;
        s->token_signed = tok && strstr(auth.signed_headers, "x-amz-security-token") && strcmp(tok, TOKEN) == 0;
    }
    if (st != SIGV4_OK) {
        bad_sigs++;
        snprintf(last_rejection, sizeof last_rejection, "%s %.300s: %s", sigv4_status_str(st), url, reason);
    }
    pthread_mutex_unlock(&mu);
    if (st != SIGV4_OK) {
        char *b = xasprintf("{\"message\":\"%s\"}", sigv4_status_str(st));
        enum MHD_Result ret = reply(conn, 403, sigv4_status_aws_code(st), b);
        free(b);
        return ret;
    }

    bool bedrock = strncmp(url, "/model/", 7) == 0 && strlen(url) > 16 &&
                   strcmp(url + strlen(url) - 9, "/converse") == 0;
    bool sagemaker = strncmp(url, "/endpoints/", 11) == 0 && strstr(url, "/invocations");
    if (strcmp(method, "POST") != 0 || (!bedrock && !sagemaker) ||
        strcmp(auth.service, bedrock ? "bedrock" : "sagemaker") != 0)
        return reply(conn, 404, "UnknownOperationException", "{\"message\":\"unknown operation or service\"}");
    char *text = last_text(rq->body.data ? rq->body.data : "", rq->body.len, bedrock);
    if (!text) return reply(conn, 400, "ValidationException", "{\"message\":\"malformed request body\"}");

    enum MHD_Result ret;
    if (strstr(url, "sm-throttle") && idx == 0) {
        ret = reply(conn, 400, "ThrottlingException", "{\"message\":\"Rate exceeded\"}");
    } else if (strstr(url, "throttle") && idx == 0) {
        ret = reply(conn, 429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                    "{\"message\":\"Too many requests, please wait before trying again.\"}");
    } else if (strstr(url, "invalid")) {
        ret = reply(conn, 400, "ValidationException", "{\"message\":\"The provided model identifier is invalid.\"}");
    } else if (strstr(url, "quota")) {
        ret = reply(conn, 400, "ServiceQuotaExceededException", "{\"message\":\"Quota exceeded for tokens per day.\"}");
    } else if (strstr(url, "busy") && idx == 0) {
        ret = reply(conn, 424, "ModelError",
                    "{\"ErrorCode\":\"SERVER_ERROR_FROM_MODEL\",\"OriginalStatusCode\":503,\"Message\":\"Received "
                    "server error (503) from primary with message \\\"busy\\\".\"}");
    } else if (bedrock) {
        ret = converse_ok(conn, text);
    } else {
        ret = invoke_ok(conn, text, strstr(url, "tgi") != NULL);
    }
    free(text);
    return ret;
}

/* SigV4 is computed over the request-target as sent: keep MHD from percent-decoding it. */
static size_t keep_raw(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    return strlen(uri);
}

/* ---- the client side (slot_t, on_done, drain: standin.h) ---- */

static const llm_msg_t HELLO[] = {{"user", "rate this: 42"}};

static int call(llm_client_t *c, const char *model, slot_t *s)
{
    llm_req_t req = {.system = SYSTEM, .msgs = HELLO, .n_msgs = 1, .max_tokens = 32, .temperature = 0, .top_p = -1};
    char err[512];
    if (llm_call(c, model, &req, on_done, s, err, sizeof err) < 0) {
        fprintf(stderr, "llm_call(%s): %s\n", model, err);
        return -1;
    }
    return 0;
}

static bool ok_echo(const slot_t *s)
{
    return s->done == 1 && s->status == LLM_OK && s->text && strcmp(s->text, "echo:rate this: 42") == 0;
}

enum { NOVA_PRO, CLAUDE, NOVA_LITE, THROTTLE, INVALID, QUOTA, SM_OK, SM_TGI, SM_BUSY, SM_THROTTLE, SM_ARN, N };
static const char *const MODELS[N] = {
    [NOVA_PRO] = "bedrock/amazon.nova-pro-v1:0",
    [CLAUDE] = "anthropic.claude-3-5-haiku-20241022-v1:0",
    [NOVA_LITE] = "nova-textgeneration-lite",
    [THROTTLE] = "bedrock/test.throttle-v1:0",
    [INVALID] = "bedrock/test.invalid-v1:0",
    [QUOTA] = "bedrock/test.quota-v1:0",
    [SM_OK] = "sagemaker/my-endpoint",
    [SM_TGI] = "sagemaker/tgi-endpoint",
    [SM_BUSY] = "sagemaker/busy-endpoint",
    [SM_THROTTLE] = "sagemaker/sm-throttle",
    [SM_ARN] = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/arn-endpoint",
};
static const char *const PATHS[N] = {
    [NOVA_PRO] = "/model/amazon.nova-pro-v1%3A0/converse",
    [CLAUDE] = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
    [NOVA_LITE] = "/model/us.amazon.nova-lite-v1%3A0/converse",
    [THROTTLE] = "/model/test.throttle-v1%3A0/converse",
    [INVALID] = "/model/test.invalid-v1%3A0/converse",
    [QUOTA] = "/model/test.quota-v1%3A0/converse",
    [SM_OK] = "/endpoints/my-endpoint/invocations",
    [SM_TGI] = "/endpoints/tgi-endpoint/invocations",
    [SM_BUSY] = "/endpoints/busy-endpoint/invocations",
    [SM_THROTTLE] = "/endpoints/sm-throttle/invocations",
    [SM_ARN] = "/endpoints/arn-endpoint/invocations",
};

static void test_calls(loop_t *loop)
{
    llm_opts_t o;
    llm_opts_default(&o);
    o.max_retries = 3;
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 20;
    llm_client_t *c = llm_client_new(loop, &o);
    CHECK(c != NULL);
    if (!c) return;
    slot_t s[N] = {0};
    for (int i = 0; i < N; i++) CHECK(call(c, MODELS[i], &s[i]) == 0);
    CHECK(drain(loop, c) == 0);

    for (int i = 0; i < N; i++) {
        if (i == INVALID || i == QUOTA) continue;
        if (!ok_echo(&s[i]))
            fprintf(stderr, "%s: status %d, text %s, error %s\n", MODELS[i], (int)s[i].status,
                    s[i].text ? s[i].text : "-", s[i].error ? s[i].error : "-");
        CHECK(ok_echo(&s[i]));
    }
    CHECK(s[NOVA_PRO].usage.input_tokens == 12 && s[NOVA_PRO].usage.output_tokens == 5);
    CHECK(s[SM_OK].usage.input_tokens == 20 && s[SM_OK].usage.output_tokens == 6);
    CHECK(s[NOVA_PRO].attempts == 1 && count_path(PATHS[NOVA_PRO]) == 1);
    CHECK(count_path(PATHS[CLAUDE]) == 1 && count_path(PATHS[SM_OK]) == 1 && count_path(PATHS[SM_TGI]) == 1);

    /* the Nova name went to the us. profile of us-west-2, signed for us-west-2 */
    CHECK(count_path(PATHS[NOVA_LITE]) == 1);
    seen_t sn = last_seen(PATHS[NOVA_LITE]);
    CHECK(strcmp(sn.region, "us-west-2") == 0 && strcmp(sn.service, "bedrock") == 0 && sn.sig_ok);
    /* the ARN names its region */
    sn = last_seen(PATHS[SM_ARN]);
    CHECK(strcmp(sn.region, "eu-west-1") == 0 && strcmp(sn.service, "sagemaker") == 0);

    /* throttled once, retried (re-signed) and answered */
    CHECK(s[THROTTLE].attempts == 2 && count_path(PATHS[THROTTLE]) == 2);
    CHECK(s[SM_BUSY].attempts == 2 && count_path(PATHS[SM_BUSY]) == 2);
    CHECK(s[SM_THROTTLE].attempts == 2 && count_path(PATHS[SM_THROTTLE]) == 2);

    /* a validation error is not retried */
    CHECK(s[INVALID].done == 1 && s[INVALID].status == LLM_ERR_PERMANENT && s[INVALID].attempts == 1);
    CHECK(s[INVALID].http == 400 && count_path(PATHS[INVALID]) == 1);
    CHECK(contains(s[INVALID].error, "ValidationException") &&
          contains(s[INVALID].error, "model identifier is invalid"));
    CHECK(s[QUOTA].done == 1 && s[QUOTA].status == LLM_ERR_QUOTA && s[QUOTA].attempts == 1);
    CHECK(contains(s[QUOTA].error, "Quota exceeded"));

    /* every request carried a valid signature, without a session token */
    pthread_mutex_lock(&mu);
    int total = n_seen, valid = 0, with_token = 0;
    for (int i = 0; i < n_seen; i++) {
        valid += seen[i].sig_ok;
        with_token += seen[i].token_signed;
    }
    int bad = bad_sigs;
    if (bad) fprintf(stderr, "stand-in server refused a signature: %s\n", last_rejection);
    pthread_mutex_unlock(&mu);
    CHECK(total == 14 && valid == total && bad == 0 && with_token == 0);
    for (int i = 0; i < N; i++) slot_free(&s[i]);

    /* the job's region travels with the call: a worker in us-west-2 running an eu-central-1 job
     * calls the eu. profile, signed for eu-central-1 */
    {
        llm_req_t req =
            {.system = SYSTEM, .msgs = HELLO, .n_msgs = 1, .max_tokens = 32, .top_p = -1, .region = "eu-central-1"};
        slot_t r = {0};
        char err[512];
        CHECK(llm_call(c, MODELS[NOVA_LITE], &req, on_done, &r, err, sizeof err) == 0);
        CHECK(drain(loop, c) == 0);
        CHECK(ok_echo(&r));
        sn = last_seen("/model/eu.amazon.nova-lite-v1%3A0/converse");
        CHECK(strcmp(sn.region, "eu-central-1") == 0 && sn.sig_ok);
        slot_free(&r);
    }

    /* temporary credentials: the session token is sent and signed */
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    slot_t t = {0};
    CHECK(call(c, MODELS[SM_OK], &t) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(ok_echo(&t));
    sn = last_seen(PATHS[SM_OK]);
    CHECK(sn.sig_ok && sn.token_signed);
    slot_free(&t);
    unsetenv("AWS_SESSION_TOKEN");

    /* no credentials anywhere: a permanent error that says what was tried; nothing sent */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    int before = count_path(PATHS[NOVA_PRO]);
    slot_t m = {0}, m2 = {0};
    CHECK(call(c, MODELS[NOVA_PRO], &m) == 0);
    CHECK(call(c, MODELS[SM_OK], &m2) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(m.done == 1 && m.status == LLM_ERR_PERMANENT && m.attempts == 1 && m.http == 0);
    CHECK(contains(m.error, "no AWS credentials found") && contains(m.error, "AWS_ACCESS_KEY_ID") &&
          contains(m.error, "shared credentials file"));
    CHECK(m2.done == 1 && m2.status == LLM_ERR_PERMANENT && contains(m2.error, "sagemaker"));
    CHECK(count_path(PATHS[NOVA_PRO]) == before);
    slot_free(&m);
    slot_free(&m2);

    /* keys back: calls work again at once (a failed lookup is not cached) */
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    CHECK(call(c, MODELS[CLAUDE], &m) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(ok_echo(&m));
    slot_free(&m);

    /* the server has teeth: a wrong secret is refused (and not retried) */
    setenv("AWS_SECRET_ACCESS_KEY", "not/the/right/secret/at/all/0000000000", 1);
    CHECK(call(c, MODELS[NOVA_PRO], &m) == 0);
    CHECK(drain(loop, c) == 0);
    CHECK(m.status == LLM_ERR_PERMANENT && m.http == 403 && m.attempts == 1);
    CHECK(contains(m.error, "InvalidSignatureException") && !contains(m.error, "not/the/right"));
    pthread_mutex_lock(&mu);
    CHECK(bad_sigs == 1);
    pthread_mutex_unlock(&mu);
    slot_free(&m);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);

    llm_stats_t stats;
    llm_get_stats(c, &stats);
    CHECK(stats.calls_ok == 12 && stats.calls_failed == 5 && stats.retries == 3);
    llm_client_destroy(&c);
}

int main(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "test_provider_aws_http: cannot start the test HTTP server\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    if (!port) {
        fprintf(stderr, "test_provider_aws_http: no port\n");
        MHD_stop_daemon(d);
        return 1;
    }
    char url[128], tmpdir[64] = "/tmp/test_provider_aws_http.XXXXXX";
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        MHD_stop_daemon(d);
        return 1;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
    setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url, 1);
    setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url, 1);
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_REGION", "us-west-2", 1);
    unsetenv("AWS_DEFAULT_REGION");
    /* hermetic: the files the credential chain falls back to do not exist */
    aws_env_home(tmpdir);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    log_set_level(LOG_ERROR);

    loop_t *loop = loop_new();
    test_calls(loop);
    loop_destroy(&loop);
    MHD_stop_daemon(d);
    provider_aws_forget_credentials();
    curl_global_cleanup();
    rmdir(tmpdir);
    return check_summary("test_provider_aws_http");
}
