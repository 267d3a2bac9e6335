/* test_api: the REST control plane in one process (tests/support/svcfix.h: mock LLM, inproc fleet,
 * an engine in serve mode, the API on 127.0.0.1:0 with a token), spoken to over HTTP with libcurl:
 * the token (401 without or with a wrong one, /healthz and /readyz open), submission (201 with
 * Location, 400 with every problem keyed, nothing created), a job to its end through GET, results
 * pages and their bounds, summary (404 before, summary.json's bytes after), stop (202, 409 once
 * ended), retry (409 with nothing to rerun), unknown paths and jobs (404), wrong methods (405 with
 * Allow), bodies too deep, too large or not JSON; /metrics with per-job figures; shutting down
 * (api_close: 503 with Retry-After for all but /healthz). Also the bodies' helpers: message keys,
 * depth, error lists. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "check.h"
#include "file.h"
#include "jobfix.h"
#include "log.h"
#include "mem.h"
#include "svcfix.h"

static char *dir;
static svcfix_t svc;

typedef struct {
    long status;
    char *body;
    char allow[128], location[256], auth[64], retry_after[16];
} reply_t;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    buf_t *b = arg;
    return buf_append(b, p, sz * n) < 0 ? 0 : sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    reply_t *r = arg;
    size_t len = sz * n;
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } h[] = {{"Allow: ", r->allow, sizeof r->allow},
             {"Location: ", r->location, sizeof r->location},
             {"WWW-Authenticate: ", r->auth, sizeof r->auth},
             {"Retry-After: ", r->retry_after, sizeof r->retry_after}};
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        size_t k = strlen(h[i].name);
        if (len > k && !strncasecmp(p, h[i].name, k)) {
            size_t v = len - k;
            while (v && (p[k + v - 1] == '\r' || p[k + v - 1] == '\n')) v--;
            snprintf(h[i].dst, h[i].cap, "%.*s", (int)v, p + k);
        }
    }
    return len;
}

/* One request; token NULL: the right one; "": none. */
static reply_t call(const char *method, const char *path, const char *body, const char *token, const char *ctype)
{
    reply_t r = {0};
    CURL *e = curl_easy_init();
    char *url = xasprintf("%s%s", svc.url, path);
    buf_t b;
    buf_init(&b, 256u << 20);
    struct curl_slist *h = NULL;
    char auth[256];
    const char *tok = token ? token : SVCFIX_TOKEN;
    if (*tok) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        h = curl_slist_append(h, auth);
    }
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    if (body) h = curl_slist_append(h, ct);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
    if (body) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    else if (!strcmp(method, "POST")) curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = buf_take(&b);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    free(url);
    return r;
}

static cJSON *json_of(const reply_t *r) { return cJSON_Parse(r->body ? r->body : ""); }

/* The first error's key of an error body. */
static const char *first_key(cJSON *o)
{
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "errors"), 0);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "key");
    return cJSON_IsString(k) ? k->valuestring : "";
}

static const char *status_of(const char *job_id)
{
    static char st[32];
    char *path = xasprintf("/v1/jobs/%s", job_id);
    reply_t r = call("GET", path, NULL, NULL, NULL);
    cJSON *o = json_of(&r);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "status");
    snprintf(st, sizeof st, "%s", cJSON_IsString(s) ? s->valuestring : "?");
    cJSON_Delete(o);
    free(r.body);
    free(path);
    return st;
}

static bool wait_status(const char *job_id, const char *want)
{
    for (int i = 0; i < 6000; i++) {
        if (!strcmp(status_of(job_id), want)) return true;
        usleep(10000);
    }
    return false;
}

static void test_auth_and_routes(void)
{
    reply_t r = call("GET", "/v1/jobs", NULL, "", NULL);
    CHECK(r.status == 401 && !strcmp(r.auth, "Bearer"));
    cJSON *o = json_of(&r);
    CHECK_STR(first_key(o), "Authorization");
    cJSON_Delete(o);
    free(r.body);
    r = call("GET", "/v1/jobs", NULL, "not-the-token", NULL);
    CHECK(r.status == 401);
    free(r.body);
    r = call("GET", "/v1/jobs", NULL, SVCFIX_TOKEN "x", NULL);
    CHECK(r.status == 401);
    free(r.body);
    r = call("GET", "/healthz", NULL, "", NULL);
    CHECK(r.status == 200 && !strcmp(r.body, "ok\n"));
    free(r.body);
    r = call("GET", "/readyz", NULL, "", NULL);
    CHECK(r.status == 200 && !strncmp(r.body, "ready", 5));
    free(r.body);
    /* The viewer's pages carry no job data: no token needed; the data routes still need it. */
    r = call("GET", "/", NULL, "", NULL);
    CHECK(r.status == 200 && strstr(r.body, "<html") != NULL);
    free(r.body);
    r = call("GET", "/jobs/some-job", NULL, "", NULL);
    CHECK(r.status == 200);
    free(r.body);
    r = call("POST", "/", NULL, "", NULL);
    CHECK(r.status == 405);
    free(r.body);
    r = call("GET", "/v1/jobs", NULL, NULL, NULL);
    CHECK(r.status == 200 && !strcmp(r.body, "{\"jobs\":[]}"));
    free(r.body);
    r = call("GET", "/v1/nope", NULL, NULL, NULL);
    CHECK(r.status == 404);
    free(r.body);
    r = call("GET", "/v1/jobs/no-such-job", NULL, NULL, NULL);
    CHECK(r.status == 404);
    o = json_of(&r);
    CHECK_STR(first_key(o), "job_id");
    cJSON_Delete(o);
    free(r.body);
    r = call("GET", "/v1/jobs/bad%20id!/summary", NULL, NULL, NULL);
    CHECK(r.status == 404);
    free(r.body);
    r = call("GET", "/v1/jobs/x/other", NULL, NULL, NULL);
    CHECK(r.status == 404);
    free(r.body);
    r = call("DELETE", "/v1/jobs", NULL, NULL, NULL);
    CHECK(r.status == 405 && !strcmp(r.allow, "GET, POST"));
    free(r.body);
    r = call("GET", "/v1/jobs/x/stop", NULL, NULL, NULL);
    CHECK(r.status == 405 && !strcmp(r.allow, "POST"));
    free(r.body);
    r = call("POST", "/healthz", NULL, NULL, NULL);
    CHECK(r.status == 405);
    free(r.body);
    /* Bodies. */
    r = call("POST", "/v1/jobs", "{\"model\": ", NULL, NULL);
    CHECK(r.status == 400);
    free(r.body);
    r = call("POST", "/v1/jobs", "\"a string\"", NULL, NULL);
    CHECK(r.status == 400);
    free(r.body);
    r = call("POST", "/v1/jobs", "", NULL, NULL); /* empty */
    CHECK(r.status == 400 && strstr(r.body, "\"key\":\"body\""));
    free(r.body);
    r = call("POST", "/v1/jobs", NULL, NULL, NULL); /* a form, not JSON */
    CHECK(r.status == 415);
    free(r.body);
    char deep[200];
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    deep[80] = '\0';
    r = call("POST", "/v1/jobs", deep, NULL, NULL);
    CHECK(r.status == 400 && strstr(r.body, "deeper than 32"));
    free(r.body);
    r = call("POST", "/v1/jobs", "{}", NULL, "text/plain");
    CHECK(r.status == 415);
    free(r.body);
    char *big = xmalloc(API_MAX_BODY + 2);
    memset(big, ' ', API_MAX_BODY + 1);
    big[API_MAX_BODY + 1] = '\0';
    r = call("POST", "/v1/jobs", big, NULL, NULL);
    CHECK(r.status == 413);
    free(r.body);
    free(big);
    r = call("GET", "/healthz", NULL, "", NULL); /* still serving */
    CHECK(r.status == 200);
    free(r.body);
}

static void test_job_life(void)
{
    char *data = xasprintf("%s/d.jsonl", dir), *out = xasprintf("%s/out", dir);
    jobfix_dataset(data, 30);
    /* Every problem keyed, nothing created. */
    char *bad = xasprintf("{\"model\": \"nope/x\", \"evaluator_model\": \"anthropic/judge\", \"dataset\": \"%s\","
                          " \"builtin_metrics\": [\"Bogus\"]}",
                          data);
    reply_t r = call("POST", "/v1/jobs", bad, NULL, NULL);
    CHECK(r.status == 400);
    cJSON *o = json_of(&r);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "errors")) == 2);
    CHECK_HAS(r.body, "\"key\":\"model\"");
    CHECK_HAS(r.body, "\"key\":\"builtin_metrics[0]\"");
    cJSON_Delete(o);
    free(r.body);
    free(bad);
    r = call("GET", "/v1/jobs", NULL, NULL, NULL);
    CHECK(!strcmp(r.body, "{\"jobs\":[]}"));
    free(r.body);

    /* A job to its end. */
    char *spec = jobfix_spec(data, out, 4, 1, "\"name\": \"api\"");
    r = call("POST", "/v1/jobs", spec, NULL, NULL);
    CHECK(r.status == 201);
    o = json_of(&r);
    char id[SCHED_JOB_ID_MAX] = "";
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(o, "job_id");
    if (cJSON_IsString(jid)) snprintf(id, sizeof id, "%s", jid->valuestring);
    CHECK_HAS(r.body, "\"status\":\"queued\"");
    char *loc = xasprintf("/v1/jobs/%s", id);
    CHECK_STR(r.location, loc);
    cJSON_Delete(o);
    free(r.body);
    CHECK(wait_status(id, "succeeded"));
    r = call("GET", loc, NULL, NULL, NULL);
    o = json_of(&r);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "progress");
    CHECK(cJSON_GetObjectItemCaseSensitive(p, "units_done")->valuedouble == 60);
    CHECK(cJSON_GetObjectItemCaseSensitive(p, "units_total")->valuedouble == 60);
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "scores"), "ok")->valuedouble == 120);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, "api");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "ended_at")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "steps")) == SCHED_N_STEPS);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(o, "base_model")->valuestring, "openai-api/mock/base");
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(o, "output");
    char *summary_path = cJSON_IsString(output) ? xasprintf("%s/summary.json", output->valuestring) : NULL;
    cJSON_Delete(o);
    free(r.body);

    /* Pages: bounds, order, total. */
    char *path = xasprintf("%s/results?offset=58&limit=5", loc);
    r = call("GET", path, NULL, NULL, NULL);
    o = json_of(&r);
    CHECK(r.status == 200 && cJSON_GetObjectItemCaseSensitive(o, "total")->valuedouble == 60 &&
          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "records")) == 2);
    cJSON_Delete(o);
    free(r.body);
    free(path);
    const char *bad_q[] = {"offset=-1", "limit=0", "limit=1001", "offset=x", "limit=1e3"};
    for (size_t i = 0; i < 5; i++) {
        path = xasprintf("%s/results?%s", loc, bad_q[i]);
        r = call("GET", path, NULL, NULL, NULL);
        CHECK(r.status == 400);
        free(r.body);
        free(path);
    }
    /* The summary: summary.json's own bytes. */
    path = xasprintf("%s/summary", loc);
    r = call("GET", path, NULL, NULL, NULL);
    char *file = NULL, err[256];
    size_t len = 0;
    CHECK(r.status == 200 && summary_path &&
          file_read_all(summary_path, 1u << 24, 0, &file, &len, err, sizeof err) == 0 && !strcmp(file, r.body));
    free(file);
    free(r.body);
    free(path);
    /* Ended: stop is 409, and so is a retry with nothing to rerun. */
    path = xasprintf("%s/stop", loc);
    r = call("POST", path, NULL, NULL, NULL);
    CHECK(r.status == 409);
    free(r.body);
    free(path);
    path = xasprintf("%s/retry", loc);
    r = call("POST", path, NULL, NULL, NULL);
    CHECK(r.status == 409);
    free(r.body);
    free(path);
    path = xasprintf("%s/retry?unscored=maybe", loc);
    r = call("POST", path, NULL, NULL, NULL);
    CHECK(r.status == 400);
    free(r.body);
    free(path);

    /* A long job stopped: 202 stopping, then stopped, partial; summary there. */
    char *data2 = xasprintf("%s/long.jsonl", dir);
    jobfix_dataset(data2, 3000);
    char *spec2 = jobfix_spec(data2, out, 2, 0, NULL);
    r = call("POST", "/v1/jobs", spec2, NULL, NULL);
    o = json_of(&r);
    char id2[SCHED_JOB_ID_MAX] = "";
    jid = cJSON_GetObjectItemCaseSensitive(o, "job_id");
    if (cJSON_IsString(jid)) snprintf(id2, sizeof id2, "%s", jid->valuestring);
    cJSON_Delete(o);
    free(r.body);
    CHECK(wait_status(id2, "running"));
    reply_t m = call("GET", "/metrics", NULL, NULL, NULL);
    char *want = xasprintf("llmaj_scheduler_job_info{job_id=\"%s\",phase=\"running\"} 1", id2);
    CHECK(m.status == 200);
    CHECK_HAS(m.body, want);
    CHECK_HAS(m.body, "llmaj_scheduler_jobs{status=\"succeeded\"} 1");
    free(want);
    free(m.body);
    m = call("GET", "/metrics", NULL, "", NULL);
    CHECK(m.status == 401);
    free(m.body);
    path = xasprintf("/v1/jobs/%s/stop", id2);
    r = call("POST", path, NULL, NULL, NULL);
    CHECK(r.status == 202);
    CHECK_HAS(r.body, "\"status\":\"stopping\"");
    free(r.body);
    CHECK(wait_status(id2, "stopped"));
    free(path);
    path = xasprintf("/v1/jobs/%s/summary", id2);
    r = call("GET", path, NULL, NULL, NULL);
    CHECK(r.status == 200);
    CHECK_HAS(r.body, "\"partial\":\ttrue");
    free(r.body);
    free(path);
    /* A stopped job can be retried: it runs what it never reached. */
    path = xasprintf("/v1/jobs/%s/retry", id2);
    r = call("POST", path, NULL, NULL, NULL);
    CHECK(r.status == 202);
    CHECK_HAS(r.body, "\"status\":\"queued\"");
    free(r.body);
    free(path);
    CHECK(wait_status(id2, "succeeded"));
    free(spec2);
    free(data2);
    free(summary_path);
    free(loc);
    free(spec);
    free(data);
    free(out);
}

static void test_bodies(void)
{
    char *key = NULL;
    const char *rest;
    api_split_message("builtin_metrics[2]: unknown metric `x`", &key, &rest);
    CHECK_STR(key, "builtin_metrics[2]");
    CHECK_STR(rest, "unknown metric `x`");
    free(key);
    api_split_message("/data/d.jsonl:12: no prompt", &key, &rest);
    CHECK_STR(key, "/data/d.jsonl:12");
    CHECK_STR(rest, "no prompt");
    free(key);
    api_split_message("... and 3 more problem(s): in x", &key, &rest);
    CHECK(key == NULL && !strcmp(rest, "... and 3 more problem(s): in x"));
    api_split_message("no separator", &key, &rest);
    CHECK(key == NULL);
    CHECK(!api_json_too_deep("{\"a\": \"[[[[[[\"}", 14, 2));
    CHECK(api_json_too_deep("[[[]]]", 6, 2));
    CHECK(!api_json_too_deep("[[]]", 4, 2));
    CHECK(!api_json_too_deep("\"\\\"[[[[\"", 9, 1));
    errlist_t errs;
    errlist_init(&errs, 1);
    errlist_add(&errs, "model: bad");
    errlist_add(&errs, "dataset: worse");
    char *txt = api_errors_json(&errs, "x");
    CHECK_STR(txt, "{\"errors\":[{\"key\":\"model\",\"message\":\"bad\"},"
                   "{\"key\":\"x\",\"message\":\"... and 1 more problem(s)\"}]}");
    free(txt);
    errlist_free(&errs);
    txt = api_error_json("k", "m \"q\"");
    CHECK_STR(txt, "{\"errors\":[{\"key\":\"k\",\"message\":\"m \\\"q\\\"\"}]}");
    free(txt);
}

/* Shutting down (api_close): every request but /healthz is refused with 503 and Retry-After, the
 * token checked or not; /healthz still answers. */
static void test_closing(void)
{
    api_close(svc.api);
    reply_t r = call("GET", "/healthz", NULL, "", NULL);
    CHECK(r.status == 200);
    free(r.body);
    const char *paths[][2] = {{"GET", "/readyz"}, {"GET", "/v1/jobs"}, {"GET", "/metrics"}, {"POST", "/v1/jobs"}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        r = call(paths[i][0], paths[i][1], !strcmp(paths[i][0], "POST") ? "{}" : NULL, NULL, NULL);
        CHECK(r.status == 503 && !strcmp(r.retry_after, "5"));
        cJSON *o = json_of(&r);
        CHECK_STR(first_key(o), "service");
        cJSON_Delete(o);
        CHECK(r.body && strstr(r.body, "shutting down"));
        free(r.body);
    }
    r = call("GET", "/v1/jobs", NULL, "", NULL); /* no token: still 503, nothing said of the jobs */
    CHECK(r.status == 503);
    free(r.body);
    api_close(NULL);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dir = jobfix_tmpdir("test_api");
    test_bodies();
    if (svcfix_start(&svc, dir, 2, 2) == 0) {
        test_auth_and_routes();
        test_job_life();
        test_closing();
    } else {
        CHECK(!"the service started");
    }
    svcfix_stop(&svc);
    /* Off loopback without a token: refused. */
    char err[512];
    api_opts_t ao = {.listen = "0.0.0.0:0", .db_path = "x.db"};
    CHECK(api_start(&ao, err, sizeof err) == NULL && strstr(err, "not a loopback address"));
    ao.listen = "nonsense:port";
    CHECK(api_start(&ao, err, sizeof err) == NULL && strstr(err, "--listen"));
    jobfix_rmdir(dir);
    free(dir);
    curl_global_cleanup();
    return check_summary("test_api");
}
