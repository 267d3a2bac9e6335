/* test_mlflow: the MLflow client's pure parts (key sanitising, value cuts, log-batch splitting
 * against MLflow's limits, ARN parsing, auth selection, filters, errors), then the client and the
 * sync against a local stand-in server (libmicrohttpd) that speaks the subset of MLflow's REST API
 * llmaj uses. In SageMaker mode the stand-in requires the x-mlflow-sm-tracking-server-arn header
 * and verifies every request's SigV4 signature (service sagemaker-mlflow, and s3 for the artifact
 * uploads to the run's s3:// artifact_uri) with the sigv4 module; other modes check the bearer
 * and basic Authorization headers. The sync (scheduler/mlflow_sync.c) and its background thread
 * (syncer.c) run against the same stand-in, with their state in a real job database. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <sqlite3.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "mlflow.h"
#include "mlflow_map.h"
#include "mlflow_sync.h"
#include "store.h"
#include "syncer.h"
#include "sigv4.h"
#include "sigv4_verify.h"
#include "spec.h"
#include "check.h"

#define ARN "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/llmaj-test"
#define AK "AKIDLLMAJTEST"
#define SK "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ/+EXAMPLE"
#define AK_DEV "AKIDDEVPROFILE"
#define SK_DEV "ZGV2LXByb2ZpbGUtc2VjcmV0"
#define TOKEN "session/token+with=chars"

/* ------------------------------------------------------------------ pure parts ---- */

static void check_key(const char *in, const char *want)
{
    char *k = mlflow_key_sanitize(in);
    CHECK_STR(k, want);
    free(k);
}

static void test_keys(void)
{
    check_key("Correctness/mean", "Correctness/mean");
    check_key("category/history / culture/x", "category/history / culture/x");
    check_key("usage/bedrock/amazon.nova-pro-v1:0/input_tokens", "usage/bedrock/amazon.nova-pro-v1_0/input_tokens");
    check_key("a:b", "a_b");
    check_key("caf\xc3\xa9", "caf__");
    check_key("x\ty\nz", "x_y_z");
    check_key("/lead//double///slash/", "lead/double/slash");
    check_key("a/./b/../c", "a/_/b/__/c");
    check_key(".", "_");
    check_key("..", "__");
    check_key("...", "...");
    check_key("", "_");
    check_key("///", "_");
    check_key(NULL, "_");
    check_key("ratings/not applicable", "ratings/not applicable");
    /* Long keys are cut to 250, without leaving a trailing slash or a "." segment. */
    char longk[400];
    memset(longk, 'k', sizeof longk);
    longk[399] = '\0';
    char *k = mlflow_key_sanitize(longk);
    CHECK(strlen(k) == MLFLOW_MAX_KEY_LEN);
    free(k);
    memset(longk, 'a', 249);
    longk[249] = '/';
    memcpy(longk + 250, "bbb", 4);
    k = mlflow_key_sanitize(longk);
    CHECK(strlen(k) == 249 && k[248] == 'a');
    free(k);
    memset(longk, 'a', 248);
    memcpy(longk + 248, "/..", 4);
    k = mlflow_key_sanitize(longk);
    CHECK(strlen(k) == 250 && !strcmp(k + 248, "/_"));
    free(k);
    /* Every output byte is in MLflow's allowed set. */
    char all[256];
    for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
    all[255] = '\0';
    k = mlflow_key_sanitize(all);
    bool ok = true;
    for (const char *p = k; *p; p++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-. /", *p)) ok = false;
    CHECK(ok);
    free(k);
}

static void test_utf8_cut(void)
{
    CHECK(mlflow_utf8_cut("abc", 10) == 3);
    CHECK(mlflow_utf8_cut("abc", 2) == 2);
    /* "é" is 2 bytes, "✓" 3: never cut inside one. */
    CHECK(mlflow_utf8_cut("a\xc3\xa9", 2) == 1);
    CHECK(mlflow_utf8_cut("a\xc3\xa9", 3) == 3);
    CHECK(mlflow_utf8_cut("\xe2\x9c\x93\xe2\x9c\x93", 5) == 3);
    CHECK(mlflow_utf8_cut("\xe2\x9c\x93", 0) == 0);
}

/* Parses every body and checks it against MLflow's limits; returns totals. */
static void check_bodies(char **bodies, size_t n, const char *run_id, size_t *tm, size_t *tp, size_t *tt)
{
    *tm = *tp = *tt = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(strlen(bodies[i]) <= MLFLOW_MAX_BATCH_BYTES);
        cJSON *j = cJSON_Parse(bodies[i]);
        CHECK(j != NULL);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "run_id")), run_id);
        int m = cJSON_GetArraySize(cJSON_GetObjectItem(j, "metrics"));
        int p = cJSON_GetArraySize(cJSON_GetObjectItem(j, "params"));
        int t = cJSON_GetArraySize(cJSON_GetObjectItem(j, "tags"));
        CHECK(m <= MLFLOW_MAX_METRICS_PER_BATCH && p <= MLFLOW_MAX_PARAMS_PER_BATCH && t <= MLFLOW_MAX_TAGS_PER_BATCH);
        CHECK(m + p + t <= MLFLOW_MAX_ENTITIES_PER_BATCH && m + p + t > 0);
        *tm += (size_t)m;
        *tp += (size_t)p;
        *tt += (size_t)t;
        cJSON_Delete(j);
    }
}

static void test_batch_split(void)
{
    size_t n = 0, tm, tp, tt;
    mlflow_batch_t *b = mlflow_batch_new();
    CHECK(mlflow_batch_bodies(b, "r1", &n) == NULL && n == 0);

    /* Counts: 2,500 metrics, 250 params, 150 tags. */
    char key[64], val[64];
    for (int i = 0; i < 2500; i++) {
        snprintf(key, sizeof key, "m/%d", i);
        CHECK(mlflow_batch_metric(b, key, i * 0.5, 1700000000000LL, 0) == 0);
    }
    for (int i = 0; i < 250; i++) {
        snprintf(key, sizeof key, "p%d", i);
        snprintf(val, sizeof val, "v%d", i);
        CHECK(mlflow_batch_param(b, key, val) == 0);
    }
    for (int i = 0; i < 150; i++) {
        snprintf(key, sizeof key, "t%d", i);
        CHECK(mlflow_batch_tag(b, key, "x") == 0);
    }
    size_t cm, cp, ct;
    mlflow_batch_counts(b, &cm, &cp, &ct);
    CHECK(cm == 2500 && cp == 250 && ct == 150);
    char **bodies = mlflow_batch_bodies(b, "run-1", &n);
    check_bodies(bodies, n, "run-1", &tm, &tp, &tt);
    CHECK(tm == 2500 && tp == 250 && tt == 150);
    /* 250 params need 3 requests, 150 tags 2 (the third params request has room for 50 tags),
     * 2,500 metrics fill the rest: 3 + 1 + 3 = 7 at least and at most 8. */
    CHECK(n >= 5 && n <= 8);
    /* Deterministic: the same batch gives the same bodies. */
    size_t n2 = 0;
    char **again = mlflow_batch_bodies(b, "run-1", &n2);
    CHECK(n2 == n);
    for (size_t i = 0; i < n && i < n2; i++) CHECK(!strcmp(bodies[i], again[i]));
    mlflow_bodies_free(again, n2);
    /* Order kept: the first body starts with params p0.. and metrics keep insertion order. */
    cJSON *j = cJSON_Parse(bodies[0]);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "params"), 0), "key")),
              "p0");
    cJSON_Delete(j);
    j = cJSON_Parse(bodies[n - 1]);
    cJSON *ms = cJSON_GetObjectItem(j, "metrics");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ms, cJSON_GetArraySize(ms) - 1), "key")),
              "m/2499");
    cJSON_Delete(j);
    mlflow_bodies_free(bodies, n);

    /* Duplicates and non-finite values are refused. */
    CHECK(mlflow_batch_param(b, "p0", "other") == -1);
    CHECK(mlflow_batch_param(b, "p:new", "1") == 0);
    CHECK(mlflow_batch_param(b, "p_new", "2") == -1); /* same key after sanitising */
    CHECK(mlflow_batch_metric(b, "m/0", 1, 1, 0) == -1);
    CHECK(mlflow_batch_metric(b, "m/0", 1, 1, 1) == 0); /* another step */
    CHECK(mlflow_batch_metric(b, "nan", NAN, 1, 0) == -1);
    CHECK(mlflow_batch_metric(b, "inf", INFINITY, 1, 0) == -1);
    mlflow_batch_destroy(&b);
    CHECK(b == NULL);
    mlflow_batch_destroy(&b);

    /* Bytes: 100 params of 6,000+ bytes and 100 tags of 8,000+ (cut to the limits) pass 1 MB
     * together; values are cut at a character boundary. */
    b = mlflow_batch_new();
    char *big = xmalloc(9001);
    memset(big, 'v', 9000);
    big[9000] = '\0';
    big[5999] = '\xc3'; /* a 2-byte character straddling the 6,000 limit */
    big[6000] = '\xa9';
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "big_param_%d", i);
        CHECK(mlflow_batch_param(b, key, big) == 0);
        snprintf(key, sizeof key, "big_tag_%d", i);
        CHECK(mlflow_batch_tag(b, key, big) == 0);
    }
    free(big);
    bodies = mlflow_batch_bodies(b, "run-2", &n);
    check_bodies(bodies, n, "run-2", &tm, &tp, &tt);
    CHECK(tp == 100 && tt == 100 && tm == 0);
    CHECK(n == 2);
    j = cJSON_Parse(bodies[0]);
    const char *v = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "params"), 0), "value"));
    CHECK(v && strlen(v) == 5999);
    cJSON_Delete(j);
    j = cJSON_Parse(bodies[n - 1]);
    cJSON *tags = cJSON_GetObjectItem(j, "tags");
    v = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(tags, cJSON_GetArraySize(tags) - 1), "value"));
    CHECK(v && strlen(v) == MLFLOW_MAX_TAG_VALUE);
    cJSON_Delete(j);
    mlflow_bodies_free(bodies, n);
    mlflow_batch_destroy(&b);

    /* Metric values round-trip exactly. */
    b = mlflow_batch_new();
    CHECK(mlflow_batch_metric(b, "x", 0.1 + 0.2, 5, 7) == 0);
    CHECK(mlflow_batch_metric(b, "neg0", -0.0, 5, 7) == 0);
    bodies = mlflow_batch_bodies(b, "r", &n);
    CHECK(n == 1);
    j = cJSON_Parse(bodies[0]);
    cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "metrics"), 0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "value")) == 0.1 + 0.2);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "step")) == 7);
    CHECK(strstr(bodies[0], "-0") == NULL);
    cJSON_Delete(j);
    mlflow_bodies_free(bodies, n);
    mlflow_batch_destroy(&b);
}

static void test_arn(void)
{
    char region[64], url[128], err[512];
    CHECK(mlflow_is_arn(ARN));
    CHECK(!mlflow_is_arn("http://x"));
    CHECK(!mlflow_is_arn(NULL));
    CHECK(mlflow_arn_parse(ARN, region, sizeof region, url, sizeof url, err, sizeof err) == 0);
    CHECK_STR(region, "eu-west-1");
    CHECK_STR(url, "https://eu-west-1.experiments.sagemaker.aws");
    CHECK(mlflow_arn_parse("arn:aws:sagemaker:us-gov-west-1:123456789012:mlflow-app/app-1", region, sizeof region, url,
                           sizeof url, err, sizeof err) == 0);
    CHECK_STR(region, "us-gov-west-1");
    static const char *const bad[] = {
        "arn:aws:s3:us-east-1:123456789012:mlflow-tracking-server/x",      /* service */
        "arn:aws:sagemaker::123456789012:mlflow-tracking-server/x",        /* region */
        "arn:aws:sagemaker:US_EAST:123456789012:mlflow-tracking-server/x", /* region */
        "arn:aws:sagemaker:us-east-1:1234:mlflow-tracking-server/x",       /* account */
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",             /* resource */
        "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/",
        "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/a/b",
        "arn:aws:sagemaker:us-east-1",
        "arn",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        CHECK(mlflow_arn_parse(bad[i], region, sizeof region, url, sizeof url, err, sizeof err) == -1);
        CHECK(err[0] != '\0');
    }
    CHECK(mlflow_arn_parse("arn:aws:sagemaker:us-east-1:1234:mlflow-tracking-server/x", region, sizeof region, url,
                           sizeof url, err, sizeof err) == -1);
    CHECK(strstr(err, "12-digit") != NULL);
}

static void test_auth_select(void)
{
    mlflow_opts_t o = {.tracking_uri = "http://h:5000"};
    CHECK(mlflow_auth_select(&o) == MLFLOW_AUTH_NONE);
    o.username = "u";
    CHECK(mlflow_auth_select(&o) == MLFLOW_AUTH_BASIC);
    o.token = "t";
    CHECK(mlflow_auth_select(&o) == MLFLOW_AUTH_BEARER); /* a token wins, as in MLflow's client */
    o.tracking_uri = ARN;
    CHECK(mlflow_auth_select(&o) == MLFLOW_AUTH_SIGV4); /* an ARN always signs */
    CHECK_STR(mlflow_auth_name(MLFLOW_AUTH_SIGV4), "sigv4");
    CHECK_STR(mlflow_auth_name(MLFLOW_AUTH_BASIC), "basic");

    /* From the environment. */
    setenv("MLFLOW_TRACKING_URI", "http://env-host:1", 1);
    setenv("MLFLOW_TRACKING_TOKEN", "envtok", 1);
    setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7", 1);
    mlflow_opts_t e = {0};
    mlflow_opts_from_env(&e);
    CHECK_STR(e.tracking_uri, "http://env-host:1");
    CHECK_STR(e.token, "envtok");
    CHECK(e.timeout_ms == 7000);
    mlflow_opts_t keep = {.tracking_uri = "http://given"};
    mlflow_opts_from_env(&keep);
    CHECK_STR(keep.tracking_uri, "http://given");
    unsetenv("MLFLOW_TRACKING_URI");
    unsetenv("MLFLOW_TRACKING_TOKEN");
    unsetenv("MLFLOW_HTTP_REQUEST_TIMEOUT");

    /* Construction errors, and no secret in any message. */
    mlflow_err_t err;
    mlflow_opts_t u = {.tracking_uri = "http://h", .username = "user"};
    CHECK(mlflow_new(&u, &err) == NULL);
    CHECK(strstr(err.message, "MLFLOW_TRACKING_PASSWORD") != NULL);
    mlflow_opts_t f = {.tracking_uri = "ftp://h"};
    CHECK(mlflow_new(&f, &err) == NULL);
    mlflow_opts_t none = {0};
    CHECK(mlflow_new(&none, &err) == NULL);
    CHECK(strstr(err.message, "MLFLOW_TRACKING_URI") != NULL);
    mlflow_opts_t cred = {.tracking_uri = "https://alice:s3cret@mlflow.example.com/prefix/"};
    mlflow_t *m = mlflow_new(&cred, &err);
    CHECK(m != NULL);
    if (m) {
        CHECK_STR(mlflow_display_url(m), "https://mlflow.example.com/prefix");
        CHECK(mlflow_auth_kind(m) == MLFLOW_AUTH_NONE);
        /* Artifact locations: proxy, http, s3, local; unsupported schemes are errors. */
        char *loc = mlflow_artifact_location(m, "mlflow-artifacts:/3/abc/artifacts", "dir/summary.json", &err);
        CHECK_STR(
            loc,
            "https://alice:s3cret@mlflow.example.com/prefix/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/dir/summary.json");
        free(loc);
        loc = mlflow_artifact_location(m, "mlflow-artifacts://other:81/3/abc/artifacts", "a b.json", &err);
        CHECK_STR(loc, "https://other:81/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/a%20b.json");
        free(loc);
        loc = mlflow_artifact_location(m, "s3://bucket/mlruns/3/abc/artifacts/", "job.json", &err);
        CHECK(loc && strstr(loc, "https://bucket.s3.") == loc &&
              strstr(loc, ".amazonaws.com/mlruns/3/abc/artifacts/job.json"));
        free(loc);
        loc = mlflow_artifact_location(m, "file:///tmp/mlruns/3/abc/artifacts", "job.json", &err);
        CHECK_STR(loc, "/tmp/mlruns/3/abc/artifacts/job.json");
        free(loc);
        CHECK(mlflow_artifact_location(m, "gs://b/x", "job.json", &err) == NULL);
        CHECK(strstr(err.message, "'gs'") != NULL);
        CHECK(mlflow_artifact_location(m, "mlflow-artifacts:/3", "../x", &err) == NULL);
        CHECK(strstr(err.message, "s3cret") == NULL);
        mlflow_destroy(&m);
        CHECK(m == NULL);
    }
    mlflow_destroy(&m);

    /* An ARN with no credentials anywhere fails at construction, naming the cause. */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/llmaj-test-credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/llmaj-test-config", 1);
    mlflow_opts_t a = {.tracking_uri = ARN};
    CHECK(mlflow_new(&a, &err) == NULL);
    CHECK(strstr(err.message, "no AWS credentials") != NULL);
}

static void test_filters_and_errors(void)
{
    char *f = mlflow_filter_tag_eq("llmaj.job_id", "job-1");
    CHECK_STR(f, "tags.`llmaj.job_id` = 'job-1'");
    free(f);
    f = mlflow_filter_tag_eq("k", "it's");
    CHECK_STR(f, "tags.`k` = \"it's\"");
    free(f);
    CHECK(mlflow_filter_tag_eq("k", "both ' and \"") == NULL);
    mlflow_err_t e = {0};
    CHECK(mlflow_err_retryable(&e)); /* no answer */
    e.http_status = 503;
    CHECK(mlflow_err_retryable(&e));
    e.http_status = 429;
    CHECK(mlflow_err_retryable(&e));
    e.http_status = 400;
    CHECK(!mlflow_err_retryable(&e));
    e.http_status = 403;
    CHECK(!mlflow_err_retryable(&e));
    CHECK(!mlflow_err_retryable(NULL));
}

/* ------------------------------------------------------------------ the stand-in server ---- */

enum { MODE_NONE, MODE_BEARER, MODE_BASIC, MODE_SIGV4 };

typedef struct {
    char id[40], exp[16], job[64], role[16], status[16], name[128], parent[40];
    int64_t start, end;
    int n_metrics, n_params, n_tags;
} srun_t;

typedef struct {
    int run;
    char key[256];
    double value;
    int64_t step, ts;
} smetric_t;

typedef struct {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    int mode;
    int fail_next; /* answer 503 to this many MLflow requests */
    int requests, sig_ok, sig_bad, arn_missing, auth_bad, log_batches, s3_puts, proxy_puts, creates, searches;
    char last_access_key[128];
    char last_reason[256];
    char exps[8][128];
    int n_exps;
    srun_t runs[32];
    int n_runs;
    smetric_t metrics[4096];
    int n_metrics;
    char s3_keys[8][1024];
    size_t s3_sizes[8];
    char s3_first_bytes[8][32];
} standin_t;

typedef struct {
    char *raw; /* request-target as received */
    buf_t body;
    bool started; /* the first call (headers only) has been seen */
} sreq_t;

static int secret_lookup(void *ctx, const char *ak, char *secret, size_t size)
{
    if (!strcmp(ak, AK)) {
        snprintf(secret, size, "%s", SK);
        return 0;
    }
    if (!strcmp(ak, AK_DEV)) {
        snprintf(secret, size, "%s", SK_DEV);
        return 0;
    }
    return -1;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    sreq_t *r = xcalloc(1, sizeof *r);
    r->raw = xstrdup(uri);
    buf_init(&r->body, 64u << 20);
    return r;
}

static void req_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    sreq_t *r = *con_cls;
    if (!r) return;
    free(r->raw);
    buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

typedef struct {
    sigv4_header_t h[64];
    size_t n;
} hdrs_t;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    hdrs_t *h = cls;
    if (h->n < 64) h->h[h->n++] = (sigv4_header_t){key, value ? value : ""};
    return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *json)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result reply_free(struct MHD_Connection *c, unsigned status, char *json)
{
    enum MHD_Result rc = reply(c, status, json);
    free(json);
    return rc;
}

static srun_t *find_run(standin_t *s, const char *id)
{
    for (int i = 0; i < s->n_runs; i++)
        if (!strcmp(s->runs[i].id, id)) return &s->runs[i];
    return NULL;
}

static cJSON *run_json(standin_t *s, const srun_t *r)
{
    cJSON *o = cJSON_CreateObject(), *info = cJSON_AddObjectToObject(o, "info");
    cJSON_AddStringToObject(info, "run_id", r->id);
    cJSON_AddStringToObject(info, "experiment_id", r->exp);
    cJSON_AddStringToObject(info, "status", r->status);
    cJSON_AddNumberToObject(info, "start_time", (double)r->start);
    cJSON_AddStringToObject(info, "lifecycle_stage", "active");
    char uri[256];
    if (s->mode == MODE_SIGV4) snprintf(uri, sizeof uri, "s3://llmaj-bucket/mlflow/%s/%s/artifacts", r->exp, r->id);
    else snprintf(uri, sizeof uri, "mlflow-artifacts:/%s/%s/artifacts", r->exp, r->id);
    cJSON_AddStringToObject(info, "artifact_uri", uri);
    cJSON *tags = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "data"), "tags");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "key", "llmaj.job_id");
    cJSON_AddStringToObject(t, "value", r->job);
    cJSON_AddItemToArray(tags, t);
    return o;
}

/* The value quoted after `tag` = in a filter, into out. */
static void filter_value(const char *filter, const char *tag, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = strstr(filter, tag);
    if (!p || !(p = strchr(p, '='))) return;
    while (*++p == ' ') {}
    char q = *p;
    const char *end = strchr(p + 1, q);
    if (!end) return;
    snprintf(out, n, "%.*s", (int)(end - p - 1), p + 1);
}

static enum MHD_Result mlflow_api(standin_t *s, struct MHD_Connection *c, const char *method, const char *path,
                                  const char *query, cJSON *body)
{
    if (s->fail_next > 0) {
        s->fail_next--;
        return reply(c, 503, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"stand-in is warming up\"}");
    }
    if (!strcmp(path, "/api/2.0/mlflow/experiments/get-by-name")) {
        const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "experiment_name");
        for (int i = 0; name && i < s->n_exps; i++)
            if (!strcmp(s->exps[i], name))
                return reply_free(c, 200,
                                  xasprintf("{\"experiment\":{\"experiment_id\":\"%d\",\"name\":\"%s\","
                                            "\"lifecycle_stage\":\"active\"}}",
                                            i + 1, name));
        return reply(c, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"Could not find experiment\"}");
    }
    if (!strcmp(path, "/api/2.0/mlflow/experiments/create")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(body, "name"));
        if (!name || s->n_exps == 8)
            return reply(c, 400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"name\"}");
        snprintf(s->exps[s->n_exps], sizeof s->exps[0], "%s", name);
        s->n_exps++;
        return reply_free(c, 200, xasprintf("{\"experiment_id\":\"%d\"}", s->n_exps));
    }
    if (!strcmp(path, "/api/2.0/mlflow/runs/create")) {
        if (s->n_runs == 32) return reply(c, 400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"full\"}");
        srun_t *r = &s->runs[s->n_runs];
        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "run%02d%028d", s->n_runs, 0);
        snprintf(r->exp, sizeof r->exp, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(body, "experiment_id")));
        snprintf(r->status, sizeof r->status, "RUNNING");
        const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(body, "run_name"));
        snprintf(r->name, sizeof r->name, "%s", nm ? nm : "");
        r->start = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(body, "start_time"));
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(body, "tags"))
        {
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(t, "key"));
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(t, "value"));
            if (!k || !v) continue;
            if (!strcmp(k, "llmaj.job_id")) snprintf(r->job, sizeof r->job, "%s", v);
            if (!strcmp(k, "llmaj.role")) snprintf(r->role, sizeof r->role, "%s", v);
            if (!strcmp(k, "mlflow.parentRunId")) snprintf(r->parent, sizeof r->parent, "%s", v);
        }
        s->n_runs++;
        s->creates++;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "run", run_json(s, r));
        enum MHD_Result rc = reply_free(c, 200, cJSON_PrintUnformatted(o));
        cJSON_Delete(o);
        return rc;
    }
    if (!strcmp(path, "/api/2.0/mlflow/runs/search")) {
        s->searches++;
        const char *filter = cJSON_GetStringValue(cJSON_GetObjectItem(body, "filter"));
        const char *exp = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "experiment_ids"), 0));
        char job[64], role[16];
        filter_value(filter ? filter : "", "llmaj.job_id", job, sizeof job);
        filter_value(filter ? filter : "", "llmaj.role", role, sizeof role);
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "runs");
        for (int i = 0; i < s->n_runs; i++)
            if (exp && !strcmp(s->runs[i].exp, exp) && !strcmp(s->runs[i].job, job) && !strcmp(s->runs[i].role, role))
                cJSON_AddItemToArray(arr, run_json(s, &s->runs[i]));
        enum MHD_Result rc = reply_free(c, 200, cJSON_PrintUnformatted(o));
        cJSON_Delete(o);
        return rc;
    }
    if (!strcmp(path, "/api/2.0/mlflow/runs/log-batch")) {
        srun_t *r = find_run(s, cJSON_GetStringValue(cJSON_GetObjectItem(body, "run_id")) ?: "");
        if (!r) return reply(c, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"no run\"}");
        s->log_batches++;
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(body, "metrics"))
        {
            if (s->n_metrics < 4096) {
                smetric_t *sm = &s->metrics[s->n_metrics++];
                sm->run = (int)(r - s->runs);
                snprintf(sm->key, sizeof sm->key, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(m, "key")));
                sm->value = cJSON_GetNumberValue(cJSON_GetObjectItem(m, "value"));
                sm->step = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "step"));
                sm->ts = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "timestamp"));
            }
            r->n_metrics++;
        }
        r->n_params += cJSON_GetArraySize(cJSON_GetObjectItem(body, "params"));
        r->n_tags += cJSON_GetArraySize(cJSON_GetObjectItem(body, "tags"));
        return reply(c, 200, "{}");
    }
    if (!strcmp(path, "/api/2.0/mlflow/runs/update")) {
        srun_t *r = find_run(s, cJSON_GetStringValue(cJSON_GetObjectItem(body, "run_id")) ?: "");
        if (!r) return reply(c, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"no run\"}");
        snprintf(r->status, sizeof r->status, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(body, "status")));
        r->end = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(body, "end_time"));
        return reply(c, 200, "{}");
    }
    if (!strcmp(path, "/api/2.0/mlflow/runs/get")) {
        const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "run_id");
        srun_t *r = id ? find_run(s, id) : NULL;
        if (!r) return reply(c, 404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"Run not found\"}");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "run", run_json(s, r));
        enum MHD_Result rc = reply_free(c, 200, cJSON_PrintUnformatted(o));
        cJSON_Delete(o);
        return rc;
    }
    if (!strncmp(path, "/api/2.0/mlflow-artifacts/artifacts/", 36) && !strcmp(method, "PUT")) {
        s->proxy_puts++;
        return reply(c, 200, "{}");
    }
    (void)query;
    return reply(c, 404, "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"no such endpoint\"}");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    standin_t *s = cls;
    sreq_t *r = *con_cls;
    if (!r->started) {
        r->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(&r->body, upload, *upload_size) < 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    s->requests++;
    hdrs_t h = {.n = 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &h);
    char path[1024];
    const char *q = strchr(r->raw, '?');
    snprintf(path, sizeof path, "%.*s", q ? (int)(q - r->raw) : (int)strlen(r->raw), r->raw);
    bool s3 = !strncmp(path, "/llmaj-bucket/", 14);
    enum MHD_Result rc;
    if (s->mode == MODE_SIGV4) {
        if (!s3 && !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MLFLOW_SAGEMAKER_ARN_HEADER)) {
            s->arn_missing++;
            rc = reply(c, 400, "{\"message\":\"missing x-mlflow-sm-tracking-server-arn\"}");
            goto out;
        }
        const char *arn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MLFLOW_SAGEMAKER_ARN_HEADER);
        if (!s3 && strcmp(arn, ARN)) {
            s->arn_missing++;
            rc = reply(c, 400, "{\"message\":\"wrong tracking server ARN\"}");
            goto out;
        }
        sigv4_verify_opts_t vo = {.lookup = secret_lookup,
                                  .region = "eu-west-1",
                                  .service = s3 ? "s3" : MLFLOW_SAGEMAKER_SERVICE};
        sigv4_auth_t auth;
        memset(&auth, 0, sizeof auth);
        sigv4_status_t st = sigv4_verify(&vo, method, r->raw, h.h, h.n, r->body.data, r->body.len, &auth,
                                         s->last_reason, sizeof s->last_reason);
        if (st != SIGV4_OK) {
            s->sig_bad++;
            rc = reply_free(c, 403,
                            xasprintf("{\"__type\":\"%s\",\"message\":\"The request signature we calculated "
                                      "does not match the signature you provided\"}",
                                      sigv4_status_aws_code(st)));
            goto out;
        }
        if (!s3) {
            /* The session token must be there and signed. */
            const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Security-Token");
            if (!strcmp(auth.access_key, AK) &&
                (!tok || strcmp(tok, TOKEN) || !strstr(auth.signed_headers, "x-amz-security-token"))) {
                s->sig_bad++;
                rc = reply(c, 403, "{\"__type\":\"InvalidSignatureException\",\"message\":\"token\"}");
                goto out;
            }
        }
        s->sig_ok++;
        snprintf(s->last_access_key, sizeof s->last_access_key, "%s", auth.access_key);
    } else if (s->mode == MODE_BEARER || s->mode == MODE_BASIC) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *want = s->mode == MODE_BEARER ? "Bearer tok-123"
                                                  : "Basic YWxpY2U6cEBzczp3b3Jk"; /* alice:p@ss:word */
        if (!a || strcmp(a, want)) {
            s->auth_bad++;
            rc = reply(c, 401, "{\"error_code\":\"UNAUTHENTICATED\",\"message\":\"You are not authenticated.\"}");
            goto out;
        }
    }
    if (s3) {
        if (strcmp(method, "PUT")) {
            rc = reply(c, 405, "{}");
            goto out;
        }
        int i = s->s3_puts < 8 ? s->s3_puts : 7;
        snprintf(s->s3_keys[i], sizeof s->s3_keys[i], "%s", path + 14);
        s->s3_sizes[i] = r->body.len;
        snprintf(s->s3_first_bytes[i], sizeof s->s3_first_bytes[i], "%.*s", (int)(r->body.len < 31 ? r->body.len : 31),
                 r->body.data ? r->body.data : "");
        s->s3_puts++;
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "ETag", "\"etag\"");
        rc = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        goto out;
    }
    cJSON *body = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
    rc = mlflow_api(s, c, method, path, q ? q + 1 : "", body);
    cJSON_Delete(body);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static standin_t *standin_start(int mode)
{
    standin_t *s = xcalloc(1, sizeof *s);
    s->mode = mode;
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, s, MHD_OPTION_NOTIFY_COMPLETED, req_done, s,
                            MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return s;
}

static void standin_stop(standin_t **sp)
{
    if (!*sp) return;
    MHD_stop_daemon((*sp)->d);
    pthread_mutex_destroy(&(*sp)->mu);
    free(*sp);
    *sp = NULL;
}

static const smetric_t *find_metric(standin_t *s, int run, const char *key, int64_t step)
{
    for (int i = 0; i < s->n_metrics; i++)
        if (s->metrics[i].run == run && s->metrics[i].step == step && !strcmp(s->metrics[i].key, key))
            return &s->metrics[i];
    return NULL;
}

static int run_of_role(standin_t *s, const char *role)
{
    for (int i = 0; i < s->n_runs; i++)
        if (!strcmp(s->runs[i].role, role)) return i;
    return -1;
}

/* ------------------------------------------------------------------ client and sync against it ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static const char *SUMMARY =
    "{\"job_id\":\"job-sm-1\",\"records\":{\"total\":3,\"invalid_skipped\":0},"
    "\"targets\":{\"custom\":{\"model\":\"openai/gpt-4o-mini\",\"metrics\":{\"Correctness\":{\"mean\":0.75,"
    "\"mean_score\":1.5,\"std\":0.48750000000000004,\"n\":3,\"n_unscored\":0,\"n_not_applicable\":0,\"n_error\":0,"
    "\"ci95\":[0.4,1],\"ratings\":{\"correct\":2,\"partially correct\":1}}},\"categories\":{\"math\":"
    "{\"Correctness\":{\"mean\":1,\"mean_score\":2,\"std\":null,\"n\":1,\"n_unscored\":0,\"n_not_applicable\":0,"
    "\"n_error\":0,\"ci95\":[1,1],\"ratings\":{\"correct\":1}}}}},"
    "\"base\":{\"model\":\"openai/gpt-4o\",\"metrics\":{\"Correctness\":{\"mean\":0.5,\"mean_score\":1,\"std\":0.5,"
    "\"n\":3,\"n_unscored\":0,\"n_not_applicable\":0,\"n_error\":0,\"ci95\":[0,1],\"ratings\":{\"correct\":1}}},"
    "\"categories\":{}}},"
    "\"comparison\":{\"Correctness\":{\"n\":3,\"mean_diff\":0.25,\"ci95\":null,\"wins\":1,\"ties\":2,\"losses\":0,"
    "\"win_rate\":0.3333333333333333}}}";

static const char *SM_JOB = "{\"job_id\":\"job-sm-1\",\"status\":\"succeeded\","
                            "\"started_at\":\"2025-03-01T10:00:00Z\",\"finished_at\":\"2025-03-01T10:05:00.250Z\"}";

static spec_t *make_spec(const char *uri, const char *experiment)
{
    char *json = xasprintf("{\"name\":\"sm-eval\",\"model\":\"openai/gpt-4o-mini\",\"base_model\":\"openai/gpt-4o\","
                           "\"evaluator_model\":\"bedrock/amazon.nova-pro-v1:0\",\"dataset\":\"/data/x.jsonl\","
                           "\"builtin_metrics\":[\"Correctness\"],\"mlflow\":{\"tracking_uri\":\"%s\","
                           "\"experiment\":\"%s\"}}",
                           uri, experiment);
    errlist_t errs;
    errlist_init(&errs, 5);
    spec_t *s = spec_parse(json, strlen(json), "test spec", NULL, &errs);
    if (!s) errlist_print(&errs, stderr, "spec: ");
    errlist_free(&errs);
    free(json);
    return s;
}

/* The mapping names the metrics whose lower ratings are better (a built-in like Harmfulness, a
 * custom one marked "lowerIsBetter") in a param of the parent and of each child; a job without
 * any has no such param. */
static bool body_has(mlflow_batch_t *b, const char *text)
{
    size_t n = 0;
    char **bodies = mlflow_batch_bodies(b, "run-1", &n);
    bool found = false;
    for (size_t i = 0; i < n; i++) found |= strstr(bodies[i], text) != NULL;
    mlflow_bodies_free(bodies, n);
    return found;
}

static void test_map_lower_is_better(void)
{
    const char *json =
        "{\"model\":\"openai/c\",\"base_model\":\"openai/b\",\"evaluate_base_model\":true,"
        "\"evaluator_model\":\"openai/j\",\"dataset\":\"/data/x.jsonl\","
        "\"builtin_metrics\":[\"Correctness\",\"Harmfulness\"],\"custom_metrics\":[{\"customMetricDefinition\":"
        "{\"name\":\"BadMetric\",\"lowerIsBetter\":true,\"instructions\":\"Rate {{prediction}}\",\"ratingScale\":"
        "[{\"definition\":\"Bad\",\"value\":{\"floatValue\":1}},{\"definition\":\"Good\",\"value\":{\"floatValue\":0}}]}}]}";
    errlist_t errs;
    errlist_init(&errs, 5);
    spec_t *sp = spec_parse(json, strlen(json), "test spec", NULL, &errs);
    if (!sp) errlist_print(&errs, stderr, "spec: ");
    errlist_free(&errs);
    CHECK(sp != NULL);
    if (!sp) return;
    const char *want = "{\"key\":\"metrics_lower_is_better\",\"value\":\"Harmfulness,BadMetric\"}";
    mlflow_batch_t *b = mlflow_map_parent(sp, "job-1", NULL, NULL, "FINISHED", 1);
    CHECK(body_has(b, want));
    CHECK(body_has(b, "{\"key\":\"metrics\",\"value\":\"Correctness,Harmfulness,BadMetric\"}"));
    mlflow_batch_destroy(&b);
    b = mlflow_map_child(sp, MLFLOW_ROLE_BASE, NULL, 1);
    CHECK(body_has(b, want));
    mlflow_batch_destroy(&b);
    spec_destroy(&sp);

    sp = make_spec("http://127.0.0.1:1", "x"); /* Correctness only */
    CHECK(sp != NULL);
    if (!sp) return;
    b = mlflow_map_parent(sp, "job-1", NULL, NULL, "FINISHED", 1);
    CHECK(!body_has(b, "metrics_lower_is_better"));
    CHECK(body_has(b, "{\"key\":\"metrics\",\"value\":\"Correctness\"}"));
    mlflow_batch_destroy(&b);
    spec_destroy(&sp);
}

/* A job with "cache" or "reuse_responses_from": both as params, the calls it did not make as
 * cache/... metrics (summary.json's "cache"); a job without has none of them. */
static void test_map_cache(void)
{
    const char *json = "{\"evaluator_model\":\"openai/j\",\"builtin_metrics\":[\"Correctness\"],"
                       "\"reuse_responses_from\":\"first-1\",\"cache\":true,\"model\":\"openai/c\"}";
    errlist_t errs;
    errlist_init(&errs, 5);
    spec_t *sp = spec_parse(json, strlen(json), "test spec", NULL, &errs);
    errlist_free(&errs);
    CHECK(sp != NULL);
    if (!sp) return;
    cJSON *summary = cJSON_Parse("{\"cache\":{\"enabled\":true,\"reused_from\":\"first-1\",\"reused_responses\":40,"
                                 "\"inference_hits\":0,\"judge_hits\":12}}");
    mlflow_batch_t *b = mlflow_map_parent(sp, "job-1", summary, NULL, "FINISHED", 1);
    CHECK(body_has(b, "{\"key\":\"cache\",\"value\":\"true\"}"));
    CHECK(body_has(b, "{\"key\":\"reuse_responses_from\",\"value\":\"first-1\"}"));
    CHECK(body_has(b, "\"key\":\"cache/reused_responses\",\"value\":40"));
    CHECK(body_has(b, "\"key\":\"cache/judge_hits\",\"value\":12"));
    CHECK(!body_has(b, "cache/enabled") && !body_has(b, "cache/reused_from"));
    mlflow_batch_destroy(&b);
    cJSON_Delete(summary);
    spec_destroy(&sp);

    sp = make_spec("http://127.0.0.1:1", "x");
    CHECK(sp != NULL);
    if (!sp) return;
    b = mlflow_map_parent(sp, "job-1", NULL, NULL, "FINISHED", 1);
    CHECK(!body_has(b, "cache") && !body_has(b, "reuse_responses_from"));
    mlflow_batch_destroy(&b);
    spec_destroy(&sp);
}

static char *state_of(store_t *db, const char *job)
{
    cJSON *st = NULL;
    if (mlflow_sync_state(db, job, &st) < 0) return NULL;
    char *txt = cJSON_PrintUnformatted(st);
    cJSON_Delete(st);
    return txt;
}

/* SQL on a database through a connection of its own (as another process would). */
static int sql_on(const char *dbp, const char *q)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(dbp, &db) == SQLITE_OK ? 0 : -1;
    if (rc == 0) sqlite3_busy_timeout(db, 10000);
    if (rc == 0 && sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK) rc = -1;
    sqlite3_close(db);
    return rc;
}

static void set_aws_env(standin_t *s)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    setenv("AWS_ENDPOINT_URL_SAGEMAKER_MLFLOW", url, 1);
    setenv("AWS_ENDPOINT_URL_S3", url, 1);
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
}

static void test_sagemaker_sync(const char *dir)
{
    standin_t *s = standin_start(MODE_SIGV4);
    CHECK(s != NULL);
    if (!s) return;
    set_aws_env(s);
    char *jobdir = xasprintf("%s/job-sm-1", dir);
    mkdir(jobdir, 0775);
    write_file(jobdir, "summary.json", SUMMARY);
    write_file(jobdir, "records.jsonl", "{\"record_index\":0,\"target\":\"custom\"}\n");
    write_file(jobdir, "job.json", SM_JOB);
    char *dbp = xasprintf("%s/sm.db", dir);
    char err[1024] = "";
    store_t *db = store_open(dbp, STORE_WRITE, err, sizeof err);
    CHECK(db != NULL);
    spec_t *spec = make_spec(ARN, "sm-exp");
    CHECK(spec != NULL);
    /* The summary and job.json are handed in memory (as the engine does); the artifacts are files. */
    cJSON *summary = cJSON_Parse(SUMMARY);
    cJSON *jobj = cJSON_Parse(SM_JOB);

    /* Progress while running: creates the parent run, logs at steps, skips stale steps. */
    int rc = mlflow_sync_progress(db, "job-sm-1", spec, 1, 10, 100, NULL, err, sizeof err);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "progress: %s (stand-in: %s)\n", err, s->last_reason);
    CHECK(mlflow_sync_progress(db, "job-sm-1", spec, 2, 50, 100, NULL, err, sizeof err) == 0);
    int batches = s->log_batches;
    CHECK(mlflow_sync_progress(db, "job-sm-1", spec, 2, 60, 100, NULL, err, sizeof err) == 0);
    CHECK(s->log_batches == batches);
    CHECK(s->n_runs == 1);
    const smetric_t *pm = find_metric(s, 0, "progress/fraction", 2);
    CHECK(pm && pm->value == 0.5);
    char *st = state_of(db, "job-sm-1");
    CHECK(st && strstr(st, "\"state\":\"pending\""));
    free(st);

    /* The final sync, signed, with the ARN header, artifacts to S3. */
    rc = mlflow_sync_job(db, "job-sm-1", spec, jobdir, "FINISHED", summary, jobj, NULL, err, sizeof err);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "sync: %s (stand-in: %s)\n", err, s->last_reason);
    CHECK(s->sig_bad == 0 && s->arn_missing == 0);
    CHECK(s->sig_ok == s->requests);
    CHECK_STR(s->last_access_key, AK);
    CHECK(s->n_runs == 3);
    CHECK(s->n_exps == 1 && !strcmp(s->exps[0], "sm-exp"));
    int p = run_of_role(s, "parent"), cu = run_of_role(s, "custom"), ba = run_of_role(s, "base");
    CHECK(p == 0 && cu > 0 && ba > 0);
    if (p == 0 && cu > 0 && ba > 0) {
        CHECK_STR(s->runs[cu].parent, s->runs[0].id);
        CHECK_STR(s->runs[ba].parent, s->runs[0].id);
        CHECK_STR(s->runs[p].status, "FINISHED");
        CHECK_STR(s->runs[cu].status, "FINISHED");
        CHECK(s->runs[p].end == 1740823500250LL);
        const smetric_t *m = find_metric(s, cu, "Correctness/mean", 0);
        CHECK(m && m->value == 0.75 && m->ts == 1740823500250LL);
        m = find_metric(s, cu, "Correctness/ci95_high", 0);
        CHECK(m && m->value == 1);
        m = find_metric(s, cu, "Correctness/ratings/partially correct", 0);
        CHECK(m && m->value == 1);
        m = find_metric(s, cu, "category/math/Correctness/mean", 0);
        CHECK(m && m->value == 1);
        CHECK(find_metric(s, cu, "category/math/Correctness/std", 0) == NULL); /* null skipped */
        m = find_metric(s, p, "compare/Correctness/win_rate", 0);
        CHECK(m && m->value == 0.3333333333333333);
        CHECK(find_metric(s, p, "compare/Correctness/ci95_low", 0) == NULL);
        m = find_metric(s, ba, "Correctness/mean", 0);
        CHECK(m && m->value == 0.5);
        CHECK(s->runs[p].n_params >= 8 && s->runs[cu].n_params == 5);
    }
    CHECK(s->s3_puts == 4); /* records.jsonl, summary.json, job.json, report.html */
    CHECK(strstr(s->s3_keys[0], "mlflow/1/") == s->s3_keys[0] && strstr(s->s3_keys[0], "/artifacts/records.jsonl"));
    CHECK(strstr(s->s3_keys[3], "/artifacts/report.html") != NULL);
    CHECK(s->s3_sizes[1] == strlen(SUMMARY));
    CHECK(!strncmp(s->s3_first_bytes[1], SUMMARY, 31));
    st = state_of(db, "job-sm-1");
    CHECK(st && strstr(st, "\"state\":\"done\"") && strstr(st, "\"parent_run_id\":\"run00"));
    CHECK(st && strstr(st, SK) == NULL && strstr(st, TOKEN) == NULL);
    free(st);

    /* Again: nothing is sent. */
    int before = s->requests;
    CHECK(mlflow_sync_job(db, "job-sm-1", spec, jobdir, "FINISHED", summary, jobj, NULL, err, sizeof err) == 0);
    CHECK(s->requests == before);
    /* A crash after every step but before "done": the resume works from the recorded summary and
     * job.json, printed and read back. Their numbers are the same doubles (lib/jsonprint.h; the
     * custom std 0.48750000000000004 is one cJSON would print as 0.4875), so every batch and the
     * page hash as before and nothing is sent again. */
    CHECK(sql_on(dbp, "UPDATE mlflow_sync SET value = 'pending' WHERE key = 'state'") == 0);
    rc = mlflow_sync_resume(db, "job-sm-1", NULL, err, sizeof err);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "resume: %s\n", err);
    CHECK(s->requests == before);
    const smetric_t *sd = cu > 0 ? find_metric(s, cu, "Correctness/std", 0) : NULL;
    CHECK(sd && sd->value == 0.48750000000000004);
    st = state_of(db, "job-sm-1");
    CHECK(st && strstr(st, "\"state\":\"done\""));
    free(st);
    /* Late progress after the sync is ignored. */
    CHECK(mlflow_sync_progress(db, "job-sm-1", spec, 9, 100, 100, NULL, err, sizeof err) == 0);
    CHECK(s->requests == before);

    /* State lost: runs found again by their tags, none created. */
    CHECK(sql_on(dbp, "DELETE FROM mlflow_sync") == 0);
    CHECK(mlflow_sync_job(db, "job-sm-1", spec, jobdir, "FINISHED", summary, jobj, NULL, err, sizeof err) == 0);
    CHECK(s->n_runs == 3 && s->creates == 3);

    /* A wrong secret: the stand-in refuses the signature; the error says so, with no secret. */
    CHECK(sql_on(dbp, "DELETE FROM mlflow_sync") == 0);
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    CHECK(mlflow_sync_job(db, "job-sm-1", spec, jobdir, "FINISHED", summary, jobj, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "HTTP 403") && strstr(err, "InvalidSignatureException"));
    CHECK(strstr(err, "not-the-secret") == NULL);
    st = state_of(db, "job-sm-1");
    CHECK(st && strstr(st, "\"state\":\"pending\"") && strstr(st, "HTTP 403"));
    free(st);

    /* Credentials from the shared credentials file, profile from AWS_PROFILE. */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    char *credf = xasprintf("%s/credentials", dir);
    FILE *f = fopen(credf, "w");
    if (f) {
        fprintf(f,
                "[default]\naws_access_key_id = AKIDWRONGDEFAULT\naws_secret_access_key = nope\n\n"
                "[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                AK_DEV, SK_DEV);
        fclose(f);
    }
    setenv("AWS_SHARED_CREDENTIALS_FILE", credf, 1);
    setenv("AWS_PROFILE", "dev", 1);
    rc = mlflow_sync_job(db, "job-sm-1", spec, jobdir, "FINISHED", summary, jobj, NULL, err, sizeof err);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "profile sync: %s (stand-in: %s)\n", err, s->last_reason);
    CHECK_STR(s->last_access_key, AK_DEV);
    CHECK(s->n_runs == 3);
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/llmaj-test-credentials", 1);
    free(credf);

    /* A client without the ARN header is refused by the stand-in (the header is what routes). */
    set_aws_env(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    mlflow_opts_t o = {.tracking_uri = url};
    mlflow_err_t e;
    mlflow_t *m = mlflow_new(&o, &e);
    CHECK(m != NULL);
    if (m) {
        int missing = s->arn_missing;
        CHECK(mlflow_call(m, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=x", NULL, NULL, &e) == -1);
        CHECK(s->arn_missing == missing + 1 && e.http_status == 400);
        mlflow_destroy(&m);
    }

    spec_destroy(&spec);
    cJSON_Delete(summary);
    cJSON_Delete(jobj);
    store_close(&db);
    free(dbp);
    free(jobdir);
    standin_stop(&s);
}

static void test_bearer_basic(void)
{
    mlflow_err_t e;
    char url[96], *id = NULL;
    standin_t *s = standin_start(MODE_BEARER);
    CHECK(s != NULL);
    if (!s) return;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
    mlflow_opts_t o = {.tracking_uri = url, .token = "tok-123"};
    mlflow_t *m = mlflow_new(&o, &e);
    CHECK(m && mlflow_auth_kind(m) == MLFLOW_AUTH_BEARER);
    CHECK(mlflow_experiment_ensure(m, "exp-b", &id, &e) == 0);
    CHECK_STR(id, "1");
    free(id);
    id = NULL;
    CHECK(mlflow_experiment_ensure(m, "exp-b", &id, &e) == 0); /* found, not created again */
    CHECK(s->n_exps == 1);
    free(id);
    id = NULL;
    /* Errors carry the status and MLflow's error_code. */
    cJSON *run = NULL;
    CHECK(mlflow_run_get(m, "nope", &run, &e) == -1);
    CHECK(e.http_status == 404 && !strcmp(e.code, "RESOURCE_DOES_NOT_EXIST"));
    CHECK(strstr(e.message, "GET /api/2.0/mlflow/runs/get: HTTP 404 RESOURCE_DOES_NOT_EXIST: Run not found") != NULL);
    CHECK(strstr(e.message, "tok-123") == NULL);
    /* A proxied artifact upload. */
    mlflow_kv_t tags[] = {{"llmaj.job_id", "j"}, {"llmaj.role", "parent"}};
    mlflow_run_info_t info;
    CHECK(mlflow_run_create(m, "1", "r", 1000, tags, 2, &info, &e) == 0);
    CHECK(info.artifact_uri && !strncmp(info.artifact_uri, "mlflow-artifacts:/1/", 20));
    CHECK(mlflow_artifact_put(m, info.artifact_uri, "summary.json", "{}", 2, "application/json", &e) == 0);
    CHECK(s->proxy_puts == 1);
    cJSON *runs = NULL;
    char *flt = mlflow_filter_tag_eq("llmaj.job_id", "j");
    char *flt2 = xasprintf("%s and tags.`llmaj.role` = 'parent'", flt);
    CHECK(mlflow_runs_search(m, "1", flt2, 10, &runs, &e) == 0);
    CHECK(cJSON_GetArraySize(runs) == 1);
    CHECK_STR(mlflow_run_tag(cJSON_GetArrayItem(runs, 0), "llmaj.job_id"), "j");
    cJSON_Delete(runs);
    free(flt);
    free(flt2);
    CHECK(mlflow_run_update(m, info.run_id, "FINISHED", 2000, &e) == 0);
    CHECK_STR(s->runs[0].status, "FINISHED");
    mlflow_run_info_clear(&info);
    mlflow_destroy(&m);
    /* A wrong token: 401 with MLflow's code. */
    mlflow_opts_t w = {.tracking_uri = url, .token = "wrong"};
    m = mlflow_new(&w, &e);
    CHECK(mlflow_experiment_ensure(m, "exp-b", &id, &e) == -1);
    CHECK(e.http_status == 401 && !strcmp(e.code, "UNAUTHENTICATED") && !strstr(e.message, "wrong"));
    mlflow_destroy(&m);
    /* 503s are retryable errors. */
    s->fail_next = 1;
    m = mlflow_new(&o, &e);
    CHECK(mlflow_experiment_ensure(m, "exp-b", &id, &e) == -1);
    CHECK(e.http_status == 503 && mlflow_err_retryable(&e));
    mlflow_destroy(&m);
    standin_stop(&s);

    s = standin_start(MODE_BASIC);
    CHECK(s != NULL);
    if (!s) return;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    mlflow_opts_t b = {.tracking_uri = url, .username = "alice", .password = "p@ss:word"};
    m = mlflow_new(&b, &e);
    CHECK(m && mlflow_auth_kind(m) == MLFLOW_AUTH_BASIC);
    CHECK(mlflow_experiment_ensure(m, "exp-basic", &id, &e) == 0);
    CHECK(s->auth_bad == 0 && s->n_exps == 1);
    free(id);
    id = NULL;
    mlflow_destroy(&m);
    standin_stop(&s);

    /* Nothing listening: no answer, retryable, the URL (without credentials) in the message. */
    mlflow_opts_t d = {.tracking_uri = "http://bob:hunter2@127.0.0.1:9", .connect_timeout_ms = 2000};
    m = mlflow_new(&d, &e);
    CHECK(mlflow_experiment_ensure(m, "x", &id, &e) == -1);
    CHECK(e.http_status == 0 && mlflow_err_retryable(&e));
    CHECK(strstr(e.message, "http://127.0.0.1:9") && !strstr(e.message, "hunter2"));
    mlflow_destroy(&m);
}

/* Records the job's sync in the database (as the engine does when a job ends), then queues it. */
static int record_and_enqueue(syncer_t *q, const char *dbp, const char *job, spec_t *spec, const char *jobdir,
                              const char *status, const cJSON *summary, const cJSON *jobj, char *err, size_t errlen)
{
    store_t *db = store_open(dbp, STORE_WRITE, err, errlen);
    int rc = db ? mlflow_sync_record(db, job, spec, jobdir, status, summary, jobj, err, errlen) : -1;
    store_close(&db);
    return rc == 0 ? syncer_enqueue(q, job, spec, jobdir, status, summary, jobj, err, errlen) : -1;
}

static void test_syncer(const char *dir)
{
    standin_t *s = standin_start(MODE_NONE);
    CHECK(s != NULL);
    if (!s) return;
    s->fail_next = 3; /* the first attempts fail: the syncer retries with backoff */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    char *jobdir = xasprintf("%s/job-q-1", dir);
    mkdir(jobdir, 0775);
    write_file(jobdir, "summary.json", SUMMARY);
    const char *job_text = "{\"job_id\":\"job-q-1\",\"status\":\"failed\"}";
    write_file(jobdir, "job.json", job_text);
    cJSON *summary = cJSON_Parse(SUMMARY), *jobj = cJSON_Parse(job_text);
    char *dbp = xasprintf("%s/q.db", dir);
    spec_t *spec = make_spec(url, "q-exp");
    char err[512];
    syncer_opts_t o = {.db_path = dbp, .backoff_base_ms = 5, .backoff_max_ms = 20, .seed = 42};
    syncer_t *q = syncer_start(&o, err, sizeof err);
    CHECK(q != NULL);
    if (q) {
        CHECK(record_and_enqueue(q, dbp, "job-q-1", spec, jobdir, "FAILED", summary, jobj, err, sizeof err) == 0);
        CHECK(syncer_enqueue(q, "job-q-1", spec, jobdir, "BOGUS", summary, jobj, err, sizeof err) == -1);
        for (int i = 0; i < 3000 && syncer_pending(q) > 0; i++) usleep(10000);
        CHECK(syncer_pending(q) == 0);
        syncer_stop(&q);
        CHECK(q == NULL);
    }
    store_t *db = store_open(dbp, STORE_WRITE, err, sizeof err);
    CHECK(db != NULL);
    char *st = state_of(db, "job-q-1");
    CHECK(st && strstr(st, "\"state\":\"done\"") && strstr(st, "\"attempts\":4"));
    free(st);
    CHECK(s->n_runs == 3);
    CHECK(s->n_runs == 3 && !strcmp(s->runs[0].status, "FAILED"));

    /* A restart resumes what a stopped syncer left, from the database alone (the summary and
     * job.json recorded there): mark it pending again, delete the files, start with resume. */
    CHECK(sql_on(dbp, "UPDATE mlflow_sync SET value = 'pending' WHERE key = 'state';"
                      "DELETE FROM mlflow_sync WHERE key LIKE 'end:%'") == 0);
    char *p = xasprintf("%s/summary.json", jobdir);
    unlink(p);
    free(p);
    char **ids = NULL;
    size_t n = 0;
    CHECK(mlflow_sync_unfinished(db, &ids, &n) == 0 && n == 1);
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    o.resume = true;
    q = syncer_start(&o, err, sizeof err);
    CHECK(q != NULL);
    for (int i = 0; q && i < 3000 && syncer_pending(q) > 0; i++) usleep(10000);
    syncer_stop(&q);
    st = state_of(db, "job-q-1");
    CHECK(st && strstr(st, "\"state\":\"done\""));
    free(st);
    CHECK(s->n_runs == 3);
    st = state_of(db, "no-such-job");
    CHECK_STR(st, "{\"state\":\"none\"}");
    free(st);

    /* max_attempts: a server that keeps failing makes the syncer give up ("failed"). */
    s->fail_next = 1000000;
    CHECK(sql_on(dbp, "DELETE FROM mlflow_sync") == 0);
    o.resume = false;
    o.max_attempts = 2;
    q = syncer_start(&o, err, sizeof err);
    CHECK(q != NULL);
    if (q) {
        CHECK(record_and_enqueue(q, dbp, "job-q-1", spec, jobdir, "FAILED", summary, jobj, err, sizeof err) == 0);
        for (int i = 0; i < 3000 && syncer_pending(q) > 0; i++) usleep(10000);
        syncer_stop(&q);
    }
    st = state_of(db, "job-q-1");
    CHECK(st && strstr(st, "\"state\":\"failed\"") && strstr(st, "HTTP 503 TEMPORARILY_UNAVAILABLE"));
    free(st);

    store_close(&db);
    cJSON_Delete(summary);
    cJSON_Delete(jobj);
    spec_destroy(&spec);
    free(dbp);
    free(jobdir);
    standin_stop(&s);
}

int main(void)
{
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1); /* hermetic: no instance metadata lookups */
    test_keys();
    test_utf8_cut();
    log_set_level(LOG_ERROR); /* the batch tests provoke a warning per cut value */
    test_batch_split();
    log_set_level(LOG_WARN);
    test_arn();
    test_auth_select();
    test_filters_and_errors();
    test_map_lower_is_better();
    test_map_cache();
    char tmpl[] = "/tmp/test_mlflow_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (dir) {
        test_bearer_basic();
        test_sagemaker_sync(dir);
        test_syncer(dir);
        char *cmd = xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
        free(cmd);
    }
    return check_summary("test_mlflow");
}
