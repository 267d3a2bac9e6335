/* mock_aws: shared state, routing, signature checks, the request log and the admin routes of the
 * mock's AWS services; see mock_aws.h.
 *
 * DESIGN. Every AWS request is answered under one mutex, from the start of the check to the end
 * of the answer: the services are small and the mock serves tests, where a consistent view (a
 * credential issued is usable by the next request, an object written is listed by the next) is
 * worth more than parallelism. Issued credentials are never forgotten while the mock runs, so a
 * request signed with expired ones gets ExpiredToken rather than an unknown-key error. */
#define LOG_MODULE "mockllm"
#include "mock_aws.h"
#include "mock_aws_int.h"

#include "log.h"
#include "mem.h"

#include <openssl/rand.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */

/* ---- helpers ---- */

const char *mock_aws_header(const mock_aws_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
    return NULL;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *mock_aws_unescape(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h = i + 2 < n ? hexv(s[i + 1]) : -1, l = i + 2 < n ? hexv(s[i + 2]) : -1;
            if (h < 0 || l < 0) {
                free(out);
                return NULL;
            }
            out[k++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

char *mock_aws_query(const char *raw_uri, const char *name, bool *present)
{
    if (present) *present = false;
    const char *q = strchr(raw_uri, '?');
    if (!q) return NULL;
    size_t nl = strlen(name);
    for (const char *p = q + 1; *p;) {
        size_t len = strcspn(p, "&");
        size_t kl = strcspn(p, "=&");
        if (kl == nl && strncmp(p, name, nl) == 0) {
            if (present) *present = true;
            if (kl < len) return mock_aws_unescape(p + kl + 1, len - kl - 1);
            return xstrdup("");
        }
        p += len;
        if (*p == '&') p++;
    }
    return NULL;
}

void mock_aws_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *rand_text(const char *prefix, size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[128];
    if (n > sizeof raw) n = sizeof raw;
    if (RAND_bytes(raw, (int)n) != 1) abort();
    char *s = xmalloc(strlen(prefix) + n + 1);
    size_t p = strlen(prefix);
    memcpy(s, prefix, p);
    for (size_t i = 0; i < n; i++) s[p + i] = alpha[raw[i] % (sizeof alpha - 1)];
    s[p + n] = '\0';
    return s;
}

static mock_cred_t *cred_add(mock_aws_t *a, char *ak, char *sk, char *token, time_t expires, const char *issuer)
{
    a->creds = xrealloc(a->creds, (a->n_creds + 1) * sizeof(*a->creds));
    mock_cred_t *c = &a->creds[a->n_creds++];
    *c = (mock_cred_t){.access_key = ak, .secret = sk, .token = token, .expires = expires, .issuer = xstrdup(issuer)};
    return c;
}

const mock_cred_t *mock_aws_issue(mock_aws_t *a, const char *issuer)
{
    char pre[32];
    snprintf(pre, sizeof pre, "ASIAMOCK%04llu", (unsigned long long)(++a->issued % 10000));
    return cred_add(a, rand_text(pre, 8), rand_text("", 40), rand_text("IQoJmocktoken", 64),
                    time(NULL) + a->creds_ttl_s, issuer);
}

static const mock_cred_t *cred_find(mock_aws_t *a, const char *ak)
{
    for (size_t i = 0; i < a->n_creds; i++)
        if (strcmp(a->creds[i].access_key, ak) == 0) return &a->creds[i];
    return NULL;
}

static int lookup(void *ctx, const char *access_key, char *secret, size_t size)
{
    const mock_cred_t *c = cred_find(ctx, access_key);
    if (!c) return -1;
    snprintf(secret, size, "%s", c->secret);
    return 0;
}

int mock_aws_check_sig(mock_aws_t *a, const mock_aws_req_t *r, const char *service, char *region, size_t rlen,
                       int *status, const char **code, char *msgbuf, size_t msglen)
{
    if (region && rlen) region[0] = '\0';
    sigv4_auth_t auth;
    memset(&auth, 0, sizeof auth);
    char reason[256];
    sigv4_status_t st;
    if (!a->verify) {
        /* no key configured: the Authorization header only has to parse (any key, any date) */
        const char *h = mock_aws_header(r, "Authorization");
        const char *cr = h ? strstr(h, "Credential=") : NULL;
        st = !h ? SIGV4_ERR_MISSING : !cr ? SIGV4_ERR_MALFORMED : SIGV4_OK;
        if (st == SIGV4_ERR_MISSING) snprintf(reason, sizeof reason, "Missing Authentication Token");
        if (st == SIGV4_ERR_MALFORMED) snprintf(reason, sizeof reason, "Authorization header requires 'Credential'");
        if (cr) { /* AK/DATE/REGION/SERVICE/aws4_request: keep the region */
            const char *p = cr + strlen("Credential=");
            for (int slash = 0; slash < 2 && p; slash++) p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL;
            size_t n = p ? strcspn(p, "/,") : 0;
            if (p && n < sizeof auth.region) snprintf(auth.region, sizeof auth.region, "%.*s", (int)n, p);
        }
    } else {
        sigv4_verify_opts_t vo = {.lookup = lookup, .lookup_ctx = a, .service = service};
        st = sigv4_verify(&vo, r->method, r->raw_uri, r->headers, r->n_headers, r->body, r->body_len, &auth, reason,
                          sizeof reason);
    }
    if (region && auth.region[0]) snprintf(region, rlen, "%s", auth.region);
    if (st != SIGV4_OK) {
        a->n_refused++;
        *status = st == SIGV4_ERR_MISSING ? 403 : st == SIGV4_ERR_MALFORMED ? 400 : 403;
        *code = sigv4_status_aws_code(st);
        snprintf(msgbuf, msglen, "%s", reason);
        return -1;
    }
    if (!a->verify) return 0;
    const mock_cred_t *c = cred_find(a, auth.access_key);
    const char *tok = mock_aws_header(r, "X-Amz-Security-Token");
    if (c->token && (!tok || strcmp(tok, c->token) != 0)) {
        a->n_refused++;
        *status = 403;
        *code = "InvalidToken";
        snprintf(msgbuf, msglen,
                 "The provided token is malformed or otherwise invalid (temporary key %s needs its "
                 "session token)",
                 c->access_key);
        return -1;
    }
    if (c->expires && time(NULL) >= c->expires) {
        a->n_refused++;
        *status = 400;
        *code = "ExpiredToken";
        snprintf(msgbuf, msglen, "The provided token has expired.");
        return -1;
    }
    return 0;
}

void mock_aws_log(mock_aws_t *a, const mock_aws_req_t *r, const char *service, int status)
{
    mock_logged_t *l = &a->log[a->log_next];
    free(l->method);
    free(l->uri);
    for (size_t i = 0; i < l->n_headers; i++) {
        free(l->hnames[i]);
        free(l->hvalues[i]);
    }
    free(l->hnames);
    free(l->hvalues);
    free(l->body);
    memset(l, 0, sizeof(*l));
    l->method = xstrdup(r->method);
    l->uri = xstrdup(r->raw_uri);
    l->n_headers = r->n_headers;
    l->hnames = xcalloc(r->n_headers ? r->n_headers : 1, sizeof(char *));
    l->hvalues = xcalloc(r->n_headers ? r->n_headers : 1, sizeof(char *));
    for (size_t i = 0; i < r->n_headers; i++) {
        l->hnames[i] = xstrdup(r->headers[i].name);
        l->hvalues[i] = xstrdup(r->headers[i].value);
    }
    size_t keep = r->body_len < MOCK_AWS_LOG_BODY_MAX ? r->body_len : MOCK_AWS_LOG_BODY_MAX;
    l->body = xstrndup(r->body ? r->body : "", keep);
    l->body_len = r->body_len;
    sigv4_sha256_hex(r->body ? r->body : "", r->body_len, l->payload_sha256);
    snprintf(l->service, sizeof l->service, "%s", service);
    l->status = status;
    a->log_next = (a->log_next + 1) % MOCK_AWS_LOG_MAX;
    if (a->log_n < MOCK_AWS_LOG_MAX) a->log_n++;
}

/* ---- routing ---- */

/* The service of a SigV4 credential scope ("AK/DATE/REGION/SERVICE/aws4_request"), into buf. */
static const char *scope_service(const char *auth, char *buf, size_t len)
{
    const char *c = auth ? strstr(auth, "Credential=") : NULL;
    if (!c) return NULL;
    const char *end = strstr(c, "/aws4_request");
    if (!end) return NULL;
    const char *s = end;
    while (s > c && s[-1] != '/') s--;
    size_t sl = (size_t)(end - s);
    if (sl == 0 || sl >= len) return NULL;
    memcpy(buf, s, sl);
    buf[sl] = '\0';
    return buf;
}

mock_aws_route_t mock_aws_route(const char *method, const char *raw_uri, const char *authorization, const char *target,
                                const char *content_type)
{
    if (strncmp(raw_uri, "/_mock/aws/", 11) == 0) return MOCK_AWS_ADMIN;
    if (strncmp(raw_uri, "/latest/", 8) == 0) return MOCK_AWS_IMDS;
    if (strncmp(raw_uri, "/aws/container-credentials", 26) == 0 || strncmp(raw_uri, "/v2/credentials", 15) == 0)
        return MOCK_AWS_CONTAINER;
    if (target && strncmp(target, "SageMaker.", 10) == 0) return MOCK_AWS_SAGEMAKER;
    char svc[32];
    const char *s = scope_service(authorization, svc, sizeof svc);
    if (s && strcmp(s, "s3") == 0) return MOCK_AWS_S3;
    if (s && strcmp(s, "sts") == 0) return MOCK_AWS_STS;
    if (!s && strcmp(method, "POST") == 0 && (strcmp(raw_uri, "/") == 0 || strncmp(raw_uri, "/?", 2) == 0) &&
        content_type && strncasecmp(content_type, "application/x-www-form-urlencoded", 33) == 0)
        return MOCK_AWS_STS;
    return MOCK_AWS_NONE;
}

/* ---- admin ---- */

static void json_reply(mock_resp_t *resp, int status, buf_t *b)
{
    mock_resp_json(resp, status, b->data ? b->data : "{}", b->data ? b->len : 2);
    buf_free(b);
}

static void admin(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp)
{
    const char *p = r->raw_uri + strlen("/_mock/aws/");
    buf_t b;
    buf_init(&b, 0);
    if (strncmp(p, "requests", 8) == 0 && strcmp(r->method, "GET") == 0) {
        PUT(buf_puts(&b, "{\"requests\":["));
        size_t first = (a->log_next + MOCK_AWS_LOG_MAX - a->log_n) % MOCK_AWS_LOG_MAX;
        for (size_t k = 0; k < a->log_n; k++) {
            const mock_logged_t *l = &a->log[(first + k) % MOCK_AWS_LOG_MAX];
            PUT(buf_puts(&b, k ? ",{\"method\":" : "{\"method\":"));
            PUT(buf_json_str(&b, l->method, strlen(l->method)));
            PUT(buf_puts(&b, ",\"uri\":"));
            PUT(buf_json_str(&b, l->uri, strlen(l->uri)));
            PUT(buf_puts(&b, ",\"service\":"));
            PUT(buf_json_str(&b, l->service, strlen(l->service)));
            PUT(buf_printf(&b, ",\"status\":%d,\"body_len\":%zu,\"payload_sha256\":\"%s\",\"body\":", l->status,
                           l->body_len, l->payload_sha256));
            PUT(buf_json_str(&b, l->body, strlen(l->body)));
            PUT(buf_puts(&b, ",\"headers\":["));
            for (size_t i = 0; i < l->n_headers; i++) {
                PUT(buf_puts(&b, i ? ",[" : "["));
                PUT(buf_json_str(&b, l->hnames[i], strlen(l->hnames[i])));
                PUT(buf_putc(&b, ','));
                PUT(buf_json_str(&b, l->hvalues[i], strlen(l->hvalues[i])));
                PUT(buf_putc(&b, ']'));
            }
            PUT(buf_puts(&b, "]}"));
        }
        PUT(buf_puts(&b, "]}\n"));
        json_reply(resp, 200, &b);
        return;
    }
    if (strncmp(p, "secret", 6) == 0 && strcmp(r->method, "GET") == 0) {
        char *ak = mock_aws_query(r->raw_uri, "access_key", NULL);
        const mock_cred_t *c = ak ? cred_find(a, ak) : NULL;
        free(ak);
        if (!c) {
            PUT(buf_puts(&b, "{\"error\":\"unknown access key\"}"));
            json_reply(resp, 404, &b);
            return;
        }
        PUT(buf_puts(&b, "{\"secret_key\":"));
        PUT(buf_json_str(&b, c->secret, strlen(c->secret)));
        PUT(buf_puts(&b, ",\"issuer\":"));
        PUT(buf_json_str(&b, c->issuer, strlen(c->issuer)));
        PUT(buf_printf(&b, ",\"expires\":%lld}\n", (long long)c->expires));
        json_reply(resp, 200, &b);
        return;
    }
    if (strncmp(p, "stats", 5) == 0 && strcmp(r->method, "GET") == 0) {
        PUT(buf_printf(
            &b,
            "{\"s3\":%llu,\"sts\":%llu,\"container\":%llu,\"imds\":%llu,\"sagemaker\":%llu,"
            "\"refused\":%llu,\"multipart_parts\":%llu,\"slowdown\":%llu,\"stalled\":%llu,\"issued\":%llu}\n",
            (unsigned long long)a->n_s3, (unsigned long long)a->n_sts, (unsigned long long)a->n_container,
            (unsigned long long)a->n_imds, (unsigned long long)a->n_sagemaker, (unsigned long long)a->n_refused,
            (unsigned long long)a->n_multipart_parts, (unsigned long long)a->n_slowdown,
            (unsigned long long)a->n_stalled, (unsigned long long)a->issued));
        json_reply(resp, 200, &b);
        return;
    }
    if (strncmp(p, "model-packages", 14) == 0 && strcmp(r->method, "PUT") == 0) {
        cJSON *j = cJSON_ParseWithLength(r->body ? r->body : "", r->body_len);
        if (!cJSON_IsArray(j)) {
            cJSON_Delete(j);
            PUT(buf_puts(&b, "{\"error\":\"expected a JSON array of DescribeModelPackage replies\"}"));
            json_reply(resp, 400, &b);
            return;
        }
        cJSON_Delete(a->packages);
        a->packages = j;
        PUT(buf_printf(&b, "{\"packages\":%d}\n", cJSON_GetArraySize(j)));
        json_reply(resp, 200, &b);
        return;
    }
    if (strncmp(p, "deny", 4) == 0 && strcmp(r->method, "POST") == 0) {
        char *what = mock_aws_query(r->raw_uri, "prefix", NULL);
        if (what && *what) {
            a->deny = xrealloc(a->deny, (a->n_deny + 1) * sizeof(char *));
            a->deny[a->n_deny++] = what;
            what = NULL;
        }
        free(what);
        PUT(buf_printf(&b, "{\"deny\":%zu}\n", a->n_deny));
        json_reply(resp, 200, &b);
        return;
    }
    if (strncmp(p, "slowdown", 8) == 0 && strcmp(r->method, "POST") == 0) {
        char *n = mock_aws_query(r->raw_uri, "n", NULL);
        char *end = NULL;
        long v = n ? strtol(n, &end, 10) : -1;
        bool ok = n && end != n && !*end && v >= 0 && v <= 1000000;
        free(n);
        if (!ok) {
            PUT(buf_puts(&b, "{\"error\":\"n must be a whole number from 0 to 1000000\"}"));
            json_reply(resp, 400, &b);
            return;
        }
        a->slowdown_left = (int)v;
        PUT(buf_printf(&b, "{\"slowdown\":%ld}\n", v));
        json_reply(resp, 200, &b);
        return;
    }
    if (strncmp(p, "stall", 5) == 0 && strcmp(r->method, "POST") == 0) {
        char *match = mock_aws_query(r->raw_uri, "match", NULL);
        char *ms = mock_aws_query(r->raw_uri, "ms", NULL);
        char *end = NULL;
        long v = ms ? strtol(ms, &end, 10) : -1;
        bool ok = ms && end != ms && !*end && v >= 0 && v <= 3600000;
        free(ms);
        if (!ok || (v > 0 && (!match || !*match))) {
            free(match);
            PUT(buf_puts(&b, "{\"error\":\"give match=SUBSTRING and ms=0..3600000 (0 ends the stall)\"}"));
            json_reply(resp, 400, &b);
            return;
        }
        free(a->stall_match);
        a->stall_match = v > 0 ? match : NULL;
        if (v == 0) free(match);
        a->stall_ms = v;
        PUT(buf_printf(&b, "{\"stall_ms\":%ld}\n", v));
        json_reply(resp, 200, &b);
        return;
    }
    PUT(buf_puts(&b, "{\"error\":\"no such admin route\"}"));
    json_reply(resp, 404, &b);
}

void mock_aws_serve(mock_aws_t *a, mock_aws_route_t route, const mock_aws_req_t *r, mock_resp_t *resp,
                    int64_t *delay_ms)
{
    *delay_ms = 0;
    pthread_mutex_lock(&a->mu);
    if (route == MOCK_AWS_S3 && a->stall_match && strstr(r->raw_uri, a->stall_match)) {
        a->n_s3++;
        a->n_stalled++;
        *delay_ms = a->stall_ms;
        static const char slow[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                                   "<Message>Please reduce your request rate.</Message></Error>";
        mock_resp_json(resp, 503, slow, sizeof slow - 1);
        resp->content_type = "application/xml";
        pthread_mutex_unlock(&a->mu);
        return;
    }
    switch (route) {
    case MOCK_AWS_ADMIN: admin(a, r, resp); break;
    case MOCK_AWS_IMDS:
        a->n_imds++;
        mock_aws_imds(a, r, resp);
        break;
    case MOCK_AWS_CONTAINER:
        a->n_container++;
        mock_aws_container(a, r, resp);
        break;
    case MOCK_AWS_SAGEMAKER:
        a->n_sagemaker++;
        mock_aws_sagemaker(a, r, resp);
        break;
    case MOCK_AWS_STS:
        a->n_sts++;
        mock_aws_sts(a, r, resp);
        break;
    case MOCK_AWS_S3:
        a->n_s3++;
        mock_aws_s3(a, r, resp);
        break;
    case MOCK_AWS_NONE: mock_resp_json(resp, 404, "{}", 2); break;
    }
    pthread_mutex_unlock(&a->mu);
}

int mock_aws_verify_model_call(mock_aws_t *a, const char *service, const mock_aws_req_t *r, mock_resp_t *resp)
{
    if (!a->verify) return 0; /* no key pair: the dialect's own scheme check is all (and no lock, no log) */
    pthread_mutex_lock(&a->mu);
    int status = 0;
    const char *code = NULL;
    char msg[300];
    int rc = mock_aws_check_sig(a, r, service, NULL, 0, &status, &code, msg, sizeof msg);
    if (rc < 0) {
        /* the JSON services' error shape */
        const char *type = strcmp(code, "ExpiredToken") == 0 ? "ExpiredTokenException" : code;
        buf_t *b = mock_resp_start(resp, status == 400 && strcmp(code, "ExpiredToken") == 0 ? 403 : status);
        PUT(buf_puts(b, "{\"message\":"));
        PUT(buf_json_str(b, msg, strlen(msg)));
        PUT(buf_putc(b, '}'));
        mock_resp_header(resp, "x-amzn-ErrorType", "%s", type);
    }
    mock_aws_log(a, r, service, rc < 0 ? status : 200);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* ---- lifecycle ---- */

static int add_buckets(mock_aws_t *a, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char item[128];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "--aws-buckets: an empty or too long item in '%s'", list);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *colon = strchr(item, ':');
        const char *region = a->region;
        if (colon) {
            *colon = '\0';
            region = colon + 1;
        }
        if (strlen(item) < 3 || !*region) {
            snprintf(err, errlen, "--aws-buckets: '%s' is not name[:region]", item);
            return -1;
        }
        if (!mock_aws_bucket(a, item)) (void)mock_aws_bucket_add(a, item, region);
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

mock_aws_t *mock_aws_new(const mock_opts_t *o, char *err, size_t errlen)
{
    mock_aws_t *a = xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    a->creds_ttl_s = o->aws_creds_ttl > 0 ? o->aws_creds_ttl : 3600;
    a->region = xstrdup(o->aws_region ? o->aws_region : "us-east-1");
    a->container_token = xstrdup(o->aws_container_token);
    a->web_identity_token = xstrdup(o->aws_web_identity_token);
    a->slowdown_left = o->aws_slowdown;
    a->packages = cJSON_CreateArray();
    if ((o->aws_access_key == NULL) != (o->aws_secret_key == NULL)) {
        snprintf(err, errlen, "--aws-access-key and --aws-secret-key go together");
        goto fail;
    }
    if (o->aws_access_key) {
        a->verify = true;
        cred_add(a, xstrdup(o->aws_access_key), xstrdup(o->aws_secret_key), NULL, 0, "static");
    }
    if (o->aws_buckets && add_buckets(a, o->aws_buckets, err, errlen) < 0) goto fail;
    for (const char *p = o->aws_deny; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len) {
            a->deny = xrealloc(a->deny, (a->n_deny + 1) * sizeof(char *));
            a->deny[a->n_deny++] = xstrndup(p, len);
        }
        p += len;
        if (*p == ',') p++;
    }
    if (o->aws_model_packages) {
        FILE *f = fopen(o->aws_model_packages, "rb");
        if (!f) {
            snprintf(err, errlen, "--aws-model-packages %s: %s", o->aws_model_packages, strerror(errno));
            goto fail;
        }
        buf_t b;
        buf_init(&b, 16u << 20);
        char chunk[4096];
        size_t n;
        int bad = 0;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            if (buf_append(&b, chunk, n) < 0) bad = 1;
        fclose(f);
        cJSON *j = bad || !b.data ? NULL : cJSON_ParseWithLength(b.data, b.len);
        buf_free(&b);
        if (!cJSON_IsArray(j)) {
            cJSON_Delete(j);
            snprintf(err, errlen, "--aws-model-packages %s: expected a JSON array of DescribeModelPackage replies",
                     o->aws_model_packages);
            goto fail;
        }
        cJSON_Delete(a->packages);
        a->packages = j;
    }
    return a;
fail:
    mock_aws_destroy(&a);
    return NULL;
}

void mock_aws_destroy(mock_aws_t **self_p)
{
    if (!self_p || !*self_p) return;
    mock_aws_t *a = *self_p;
    for (size_t i = 0; i < a->n_creds; i++) {
        free(a->creds[i].access_key);
        free(a->creds[i].secret);
        free(a->creds[i].token);
        free(a->creds[i].issuer);
    }
    free(a->creds);
    mock_aws_s3_free(a);
    for (size_t i = 0; i < a->n_deny; i++) free(a->deny[i]);
    free(a->deny);
    for (size_t k = 0; k < MOCK_AWS_LOG_MAX; k++) {
        mock_logged_t *l = &a->log[k];
        free(l->method);
        free(l->uri);
        for (size_t i = 0; i < l->n_headers; i++) {
            free(l->hnames[i]);
            free(l->hvalues[i]);
        }
        free(l->hnames);
        free(l->hvalues);
        free(l->body);
    }
    cJSON_Delete(a->packages);
    free(a->stall_match);
    free(a->region);
    free(a->container_token);
    free(a->web_identity_token);
    pthread_mutex_destroy(&a->mu);
    free(a);
    *self_p = NULL;
}
