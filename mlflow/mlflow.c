/* mlflow: blocking MLflow REST client; see mlflow.h. */
#include "mlflow.h"
#include "file.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define LOG_MODULE "mlflow"
#include "awscreds.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "sigv4.h"

#define REPLY_MAX (32u << 20) /* bytes of one answer we are willing to hold */
#define API "/api/2.0/mlflow"
#define ARTIFACTS_ROUTE "/api/2.0/mlflow-artifacts/artifacts"

struct mlflow {
    char *base;          /* scheme://[userinfo@]host[:port][/prefix], no trailing slash */
    char *display;       /* base without userinfo: the only form used in messages */
    mlflow_auth_t auth;
    char *token;
    char *username;
    char *password;
    char *arn;           /* SIGV4: the tracking-server ARN (sent in a header) */
    char *region;        /* SIGV4: from the ARN; s3:// artifacts use it too */
    char *s3_endpoint;   /* NULL = https://BUCKET.s3.REGION.amazonaws.com */
    char *aws_profile;
    long timeout_ms;
    long connect_timeout_ms;
    bool insecure_tls;
    const atomic_int *abort_flag;
    CURL *curl;
};

/* ---------------------------------------------------------------- options, auth, ARN ---- */

const char *mlflow_auth_name(mlflow_auth_t a)
{
    switch (a) {
    case MLFLOW_AUTH_NONE: return "none";
    case MLFLOW_AUTH_BEARER: return "bearer";
    case MLFLOW_AUTH_BASIC: return "basic";
    case MLFLOW_AUTH_SIGV4: return "sigv4";
    }
    return "?";
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void mlflow_opts_from_env(mlflow_opts_t *o)
{
    const char *v;
    if (!o->tracking_uri && (v = env_nonempty("MLFLOW_TRACKING_URI"))) o->tracking_uri = v;
    if ((v = env_nonempty("MLFLOW_TRACKING_TOKEN"))) o->token = v;
    if ((v = env_nonempty("MLFLOW_TRACKING_USERNAME"))) o->username = v;
    if ((v = env_nonempty("MLFLOW_TRACKING_PASSWORD"))) o->password = v;
    if ((v = env_nonempty("MLFLOW_HTTP_REQUEST_TIMEOUT"))) {
        char *end;
        errno = 0;
        long s = strtol(v, &end, 10);
        if (!errno && *end == '\0' && s > 0 && s <= 86400) o->timeout_ms = s * 1000;
        else log_warn("MLFLOW_HTTP_REQUEST_TIMEOUT: '%s' is not a number of seconds from 1 to 86400; ignored", v);
    }
    if ((v = env_nonempty("MLFLOW_TRACKING_INSECURE_TLS")))
        o->insecure_tls = !strcasecmp(v, "true") || !strcmp(v, "1");
    if ((v = env_nonempty("AWS_ENDPOINT_URL_SAGEMAKER_MLFLOW"))) o->endpoint_override = v;
    if ((v = env_nonempty("AWS_ENDPOINT_URL_S3"))) o->s3_endpoint = v;
}

bool mlflow_is_arn(const char *uri) { return uri && !strncmp(uri, "arn:", 4); }

mlflow_auth_t mlflow_auth_select(const mlflow_opts_t *o)
{
    if (mlflow_is_arn(o->tracking_uri)) return MLFLOW_AUTH_SIGV4;
    if (o->token && *o->token) return MLFLOW_AUTH_BEARER;
    if (o->username && *o->username) return MLFLOW_AUTH_BASIC;
    return MLFLOW_AUTH_NONE;
}

static bool region_ok(const char *s, size_t n)
{
    if (n < 1 || n > 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-')) return false;
    return true;
}

int mlflow_arn_parse(const char *arn, char *region, size_t regionlen, char *url, size_t urllen, char *err,
                     size_t errlen)
{
    static const char *const forms =
        "expected arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME (or mlflow-app/NAME)";
    /* arn : partition : service : region : account : resource */
    const char *f[6];
    size_t len[6];
    const char *p = arn;
    for (int i = 0; i < 6; i++) {
        const char *c = i < 5 ? strchr(p, ':') : p + strlen(p);
        if (!c) { snprintf(err, errlen, "tracking URI '%s' is not an ARN: %s", arn, forms); return -1; }
        f[i] = p;
        len[i] = (size_t)(c - p);
        p = c + 1;
    }
    if (len[0] != 3 || strncmp(f[0], "arn", 3) || len[1] == 0) {
        snprintf(err, errlen, "tracking URI '%s' is not an ARN: %s", arn, forms);
        return -1;
    }
    if (len[2] != 9 || strncmp(f[2], "sagemaker", 9)) {
        snprintf(err, errlen, "ARN '%s' is not a SageMaker ARN (service '%.*s'): %s", arn, (int)len[2], f[2], forms);
        return -1;
    }
    if (!region_ok(f[3], len[3])) {
        snprintf(err, errlen, "ARN '%s': region '%.*s' is not a region name such as us-west-2", arn, (int)len[3], f[3]);
        return -1;
    }
    if (len[4] != 12 || strspn(f[4], "0123456789") < 12) {
        snprintf(err, errlen, "ARN '%s': account '%.*s' is not a 12-digit AWS account id", arn, (int)len[4], f[4]);
        return -1;
    }
    const char *res = f[5];
    size_t name_at = 0;
    if (!strncmp(res, "mlflow-tracking-server/", 23)) name_at = 23;
    else if (!strncmp(res, "mlflow-app/", 11)) name_at = 11;
    if (!name_at || !res[name_at] || strchr(res + name_at, '/') || strpbrk(res + name_at, " \t\r\n")) {
        snprintf(err, errlen, "ARN '%s': resource '%s' is not an MLflow tracking server: %s", arn, res, forms);
        return -1;
    }
    if (len[3] + 1 > regionlen) { snprintf(err, errlen, "ARN '%s': region too long", arn); return -1; }
    memcpy(region, f[3], len[3]);
    region[len[3]] = '\0';
    int n = snprintf(url, urllen, "https://%s.experiments.sagemaker.aws", region);
    if (n < 0 || (size_t)n >= urllen) { snprintf(err, errlen, "ARN '%s': URL buffer too small", arn); return -1; }
    return 0;
}

/* ---------------------------------------------------------------- errors ---- */

static void err_set(mlflow_err_t *e, long status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_set(mlflow_err_t *e, long status, const char *code, const char *fmt, ...)
{
    if (!e) return;
    e->http_status = status;
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

bool mlflow_err_retryable(const mlflow_err_t *e)
{
    if (!e) return false;
    long s = e->http_status;
    if (s == 0 || s == 408 || s == 429 || s >= 500) return true;
    return !strcmp(e->code, "TEMPORARILY_UNAVAILABLE") || !strcmp(e->code, "REQUEST_LIMIT_EXCEEDED");
}

/* ---------------------------------------------------------------- construction ---- */

/* Copies url without a trailing '/' and returns its credential-free form in *display. -1 if it is
 * not http(s)://host... */
static int split_base(const char *url, char **base, char **display)
{
    size_t skip;
    if (!strncmp(url, "http://", 7)) skip = 7;
    else if (!strncmp(url, "https://", 8)) skip = 8;
    else return -1;
    const char *host = url + skip;
    if (!*host || *host == '/' || strpbrk(url, " \t\r\n?#")) return -1;
    size_t n = strlen(url);
    while (n > skip && url[n - 1] == '/') n--;
    *base = xstrndup(url, n);
    const char *slash = strchr(host, '/');
    size_t auth_len = slash ? (size_t)(slash - host) : strlen(host);
    const char *at = memchr(host, '@', auth_len);
    if (at) *display = xasprintf("%.*s%.*s", (int)skip, url, (int)(n - (size_t)(at + 1 - url)), at + 1);
    else *display = xstrdup(*base);
    return 0;
}

mlflow_t *mlflow_new(const mlflow_opts_t *o, mlflow_err_t *e)
{
    if (!o->tracking_uri || !*o->tracking_uri) {
        err_set(e, 0, NULL, "no MLflow tracking URI: set mlflow.tracking_uri in the spec, --tracking-uri or MLFLOW_TRACKING_URI");
        return NULL;
    }
    mlflow_t *m = xcalloc(1, sizeof *m);
    m->auth = mlflow_auth_select(o);
    m->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 120000;
    m->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    m->insecure_tls = o->insecure_tls;
    m->s3_endpoint = o->s3_endpoint && *o->s3_endpoint ? xstrdup(o->s3_endpoint) : NULL;
    m->aws_profile = o->aws_profile && *o->aws_profile ? xstrdup(o->aws_profile) : NULL;
    const char *url = o->tracking_uri;
    char region[64], arn_url[128], why[512];
    if (m->auth == MLFLOW_AUTH_SIGV4) {
        if (mlflow_arn_parse(o->tracking_uri, region, sizeof region, arn_url, sizeof arn_url, why, sizeof why) < 0) {
            err_set(e, 0, NULL, "%s", why);
            goto fail;
        }
        m->arn = xstrdup(o->tracking_uri);
        m->region = xstrdup(region);
        url = o->endpoint_override && *o->endpoint_override ? o->endpoint_override : arn_url;
    } else if (mlflow_is_arn(url)) {
        err_set(e, 0, NULL, "tracking URI '%s' is an ARN but not a SageMaker MLflow one", url);
        goto fail;
    }
    if (split_base(url, &m->base, &m->display) < 0) {
        err_set(e, 0, NULL,
                "MLflow tracking URI '%s' is not an http(s):// URL or a SageMaker tracking-server ARN "
                "(arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME)",
                m->auth == MLFLOW_AUTH_SIGV4 ? url : "(given)");
        goto fail;
    }
    if (m->auth == MLFLOW_AUTH_BEARER) m->token = xstrdup(o->token);
    if (m->auth == MLFLOW_AUTH_BASIC) {
        if (!o->password) {
            err_set(e, 0, NULL, "MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not (basic auth needs both)");
            goto fail;
        }
        m->username = xstrdup(o->username);
        m->password = xstrdup(o->password);
    }
    if (m->auth == MLFLOW_AUTH_SIGV4) {
        /* Fail now, with the reason, rather than on the first request. */
        char cerr[512];
        awscreds_t *c = awscreds_new(m->aws_profile, cerr, sizeof cerr);
        if (!c) {
            err_set(e, 0, NULL, "SageMaker MLflow %s: no AWS credentials: %s", m->arn, cerr);
            goto fail;
        }
        log_debug("SageMaker MLflow %s: AWS credentials from %s", m->arn, awscreds_source(c));
        awscreds_destroy(&c);
    }
    m->curl = curl_easy_init();
    if (!m->curl) {
        err_set(e, 0, NULL, "MLflow %s: libcurl could not create a handle", m->display);
        goto fail;
    }
    return m;
fail:
    mlflow_destroy(&m);
    return NULL;
}

static void wipe_free(char **p)
{
    if (*p) {
        volatile char *v = *p;
        while (*v) *v++ = 0;
        free(*p);
        *p = NULL;
    }
}

void mlflow_destroy(mlflow_t **self_p)
{
    if (!self_p || !*self_p) return;
    mlflow_t *m = *self_p;
    if (m->curl) curl_easy_cleanup(m->curl);
    free(m->base);
    free(m->display);
    wipe_free(&m->token);
    free(m->username);
    wipe_free(&m->password);
    free(m->arn);
    free(m->region);
    free(m->s3_endpoint);
    free(m->aws_profile);
    free(m);
    *self_p = NULL;
}

mlflow_auth_t mlflow_auth_kind(const mlflow_t *m) { return m->auth; }
const char *mlflow_display_url(const mlflow_t *m) { return m->display; }
void mlflow_set_abort_flag(mlflow_t *m, const atomic_int *flag) { m->abort_flag = flag; }

/* ---------------------------------------------------------------- HTTP ---- */

/* Percent-encodes s (len bytes) into b: RFC 3986 unreserved bytes kept, and '/' when keep_slash. */
static void url_encode(buf_t *b, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            rc |= buf_putc(b, (char)c);
        else
            rc |= buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
    if (rc < 0) log_error("url buffer append failed");
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, p, n) < 0 ? 0 : n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const mlflow_t *m = ud;
    return m->abort_flag && atomic_load(m->abort_flag) ? 1 : 0;
}

typedef struct {
    const char *method;
    const char *url;          /* full URL as it goes on the wire */
    const char *what;         /* "POST /api/2.0/mlflow/runs/create" for messages */
    const void *body;
    size_t body_len;
    const char *content_type; /* or NULL */
    const char *sign_service; /* SigV4 service, or NULL = no signing */
    const char *sign_region;
    FILE *file;               /* PUT this file's bytes instead of body (file_len bytes) */
    uint64_t file_len;
    const char *payload_hash; /* hex SHA-256 of file, for signing; NULL = of body */
    bool s3;                  /* sign as S3 (content hash header) */
    bool tracking;            /* a tracking-server request: bearer/basic/ARN header apply */
} request_t;

/* Sends one request; answer body in *resp, status in *status. Returns -1 (with e) only when no
 * HTTP answer came; the caller judges the status. */
static int http_send(mlflow_t *m, const request_t *r, long *status, buf_t *resp, mlflow_err_t *e)
{
    CURL *c = m->curl;
    curl_easy_reset(c);
    struct curl_slist *hdrs = NULL;
    sigv4_result_t sig;
    memset(&sig, 0, sizeof sig);
    char line[1024];
    int rc = -1;

    sigv4_header_t sh[4];
    size_t n_sh = 0;
    if (r->content_type) sh[n_sh++] = (sigv4_header_t){"Content-Type", r->content_type};
    if (r->tracking && m->auth == MLFLOW_AUTH_SIGV4) sh[n_sh++] = (sigv4_header_t){MLFLOW_SAGEMAKER_ARN_HEADER, m->arn};
    for (size_t i = 0; i < n_sh; i++) {
        snprintf(line, sizeof line, "%s: %s", sh[i].name, sh[i].value);
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");

    if (r->sign_service) {
        char cerr[512];
        /* Read for every request: a rotated key or session token in the file is picked up. */
        awscreds_t *cr = awscreds_new(m->aws_profile, cerr, sizeof cerr);
        if (!cr) {
            err_set(e, 0, NULL, "%s %s: no AWS credentials: %s", m->display, r->what, cerr);
            goto out;
        }
        sigv4_params_t sp = {
            .access_key = awscreds_access_key(cr),
            .secret_key = awscreds_secret_key(cr),
            .session_token = awscreds_session_token(cr),
            .region = r->sign_region,
            .service = r->sign_service,
            .add_content_sha256 = r->s3,
            .payload_hash = r->payload_hash,
        };
        char serr[512];
        int s = sigv4_sign(&sp, r->method, r->url, sh, n_sh, r->body, r->body_len, &sig, serr, sizeof serr);
        awscreds_destroy(&cr);
        if (s < 0) {
            err_set(e, 0, NULL, "%s %s: cannot sign the request: %s", m->display, r->what, serr);
            goto out;
        }
        for (size_t i = 0; i < sig.n_headers; i++) {
            char *h = xasprintf("%s: %s", sig.headers[i].name, sig.headers[i].value);
            hdrs = curl_slist_append(hdrs, h);
            free(h);
        }
    } else if (r->tracking && m->auth == MLFLOW_AUTH_BEARER) {
        char *h = xasprintf("Authorization: Bearer %s", m->token);
        hdrs = curl_slist_append(hdrs, h);
        wipe_free(&h);
    }
    if (r->tracking && m->auth == MLFLOW_AUTH_BASIC) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, m->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, m->password);
    }

    char cerrbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    if (!strcmp(r->method, "GET")) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    else if (r->file) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, fread);
        curl_easy_setopt(c, CURLOPT_READDATA, r->file);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->file_len);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, m);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, m->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, m->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerrbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "llmaj/" LLMAJ_VERSION);
    if (m->insecure_tls) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        const char *why = cerrbuf[0] ? cerrbuf : curl_easy_strerror(cc);
        if (cc == CURLE_ABORTED_BY_CALLBACK) why = "stopped (shutting down)";
        else if (cc == CURLE_WRITE_ERROR && resp->max && resp->len >= resp->max - 65536) why = "answer too large";
        err_set(e, 0, NULL, "%s %s: no answer: %s", m->display, r->what, why);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    rc = 0;
out:
    curl_slist_free_all(hdrs);
    sigv4_result_free(&sig);
    /* The header list may have held a token; libcurl copied nothing we must wipe beyond it. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    return rc;
}

/* Fills e from an unsuccessful answer, reading MLflow's {"error_code","message"} when present
 * (AWS services answer {"message"} or {"Message"}, with the code in "__type"). */
static void err_from_answer(mlflow_t *m, const char *what, long status, const buf_t *resp, mlflow_err_t *e)
{
    const char *code = "", *msg = NULL;
    cJSON *j = resp->data ? cJSON_ParseWithLength(resp->data, resp->len) : NULL;
    if (j) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "error_code");
        if (!cJSON_IsString(c)) c = cJSON_GetObjectItemCaseSensitive(j, "__type");
        if (cJSON_IsString(c)) code = c->valuestring;
        const cJSON *mm = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (!cJSON_IsString(mm)) mm = cJSON_GetObjectItemCaseSensitive(j, "Message");
        if (cJSON_IsString(mm)) msg = mm->valuestring;
    }
    char snippet[300] = "";
    if (!msg && resp->data) {
        /* Not JSON (a proxy's HTML page, a plain-text error): quote the start, one line. */
        size_t n = resp->len < sizeof snippet - 1 ? resp->len : sizeof snippet - 1;
        for (size_t i = 0; i < n; i++) snippet[i] = isprint((unsigned char)resp->data[i]) ? resp->data[i] : ' ';
        snippet[n] = '\0';
        msg = snippet;
    }
    err_set(e, status, code, "%s %s: HTTP %ld%s%s%s%s", m->display, what, status, *code ? " " : "", code,
            msg && *msg ? ": " : "", msg ? msg : "");
    cJSON_Delete(j);
}

int mlflow_call(mlflow_t *m, const char *method, const char *path, const char *json_body, cJSON **reply,
                mlflow_err_t *e)
{
    if (reply) *reply = NULL;
    char *url = xasprintf("%s%s", m->base, path);
    const char *q = strchr(path, '?');
    char *what = xasprintf("%s %.*s", method, q ? (int)(q - path) : (int)strlen(path), path);
    request_t r = {
        .method = method, .url = url, .what = what, .body = json_body,
        .body_len = json_body ? strlen(json_body) : 0,
        .content_type = json_body ? "application/json" : NULL,
        .sign_service = m->auth == MLFLOW_AUTH_SIGV4 ? MLFLOW_SAGEMAKER_SERVICE : NULL,
        .sign_region = m->region, .tracking = true,
    };
    buf_t resp;
    buf_init(&resp, REPLY_MAX);
    long status = 0;
    int rc = -1;
    if (http_send(m, &r, &status, &resp, e) < 0) goto out;
    if (status < 200 || status > 299) {
        err_from_answer(m, what, status, &resp, e);
        goto out;
    }
    if (reply) {
        *reply = resp.len ? cJSON_ParseWithLength(resp.data, resp.len) : cJSON_CreateObject();
        if (!*reply) {
            err_set(e, status, NULL, "%s %s: HTTP %ld but the answer is not JSON", m->display, what, status);
            goto out;
        }
    }
    rc = 0;
out:
    buf_free(&resp);
    free(url);
    free(what);
    return rc;
}

/* ---------------------------------------------------------------- experiments ---- */

/* GET path_query + value, URL-encoded (API "/runs/get?run_id=" + id); as mlflow_call. */
static int get_with_query(mlflow_t *m, const char *path_query, const char *value, cJSON **reply, mlflow_err_t *e)
{
    buf_t path;
    buf_init(&path, 0);
    if (buf_puts(&path, path_query) < 0) return -1;
    url_encode(&path, value, strlen(value), false);
    int rc = mlflow_call(m, "GET", path.data, NULL, reply, e);
    buf_free(&path);
    return rc;
}

static char *json_string_at(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

int mlflow_experiment_get_by_name(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
{
    *id = NULL;
    cJSON *reply = NULL;
    if (get_with_query(m, API "/experiments/get-by-name?experiment_name=", name, &reply, e) < 0) {
        /* MLflow answers 404 RESOURCE_DOES_NOT_EXIST for an unknown name. */
        if (e && (!strcmp(e->code, "RESOURCE_DOES_NOT_EXIST") || (e->http_status == 404 && !e->code[0]))) return 0;
        return -1;
    }
    const char *eid = json_string_at(reply, "experiment", "experiment_id");
    const char *stage = json_string_at(reply, "experiment", "lifecycle_stage");
    if (!eid) {
        err_set(e, 200, NULL, "%s: experiments/get-by-name '%s': answer has no experiment.experiment_id", m->display, name);
        cJSON_Delete(reply);
        return -1;
    }
    if (stage && !strcmp(stage, "deleted")) {
        err_set(e, 200, "EXPERIMENT_DELETED",
                "%s: MLflow experiment '%s' (id %s) is deleted: restore it in MLflow or name another experiment",
                m->display, name, eid);
        cJSON_Delete(reply);
        return -1;
    }
    *id = xstrdup(eid);
    cJSON_Delete(reply);
    return 0;
}

int mlflow_experiment_create(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
{
    *id = NULL;
    buf_t body;
    buf_init(&body, 0);
    if (buf_puts(&body, "{\"name\":") < 0 || buf_json_str(&body, name, strlen(name)) < 0 || buf_putc(&body, '}') < 0)
        return -1;
    cJSON *reply = NULL;
    int rc = mlflow_call(m, "POST", API "/experiments/create", body.data, &reply, e);
    buf_free(&body);
    if (rc < 0) return -1;
    const char *eid = json_string_at(reply, "experiment_id", NULL);
    if (!eid) {
        err_set(e, 200, NULL, "%s: experiments/create '%s': answer has no experiment_id", m->display, name);
        cJSON_Delete(reply);
        return -1;
    }
    *id = xstrdup(eid);
    cJSON_Delete(reply);
    return 0;
}

int mlflow_experiment_ensure(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
{
    if (mlflow_experiment_get_by_name(m, name, id, e) < 0) return -1;
    if (*id) return 0;
    if (mlflow_experiment_create(m, name, id, e) == 0) return 0;
    /* Someone created it between our two calls: use theirs. */
    if (e && !strcmp(e->code, "RESOURCE_ALREADY_EXISTS")) {
        if (mlflow_experiment_get_by_name(m, name, id, e) < 0) return -1;
        if (*id) return 0;
    }
    return -1;
}

/* ---------------------------------------------------------------- runs ---- */

void mlflow_run_info_clear(mlflow_run_info_t *r)
{
    free(r->run_id);
    free(r->experiment_id);
    free(r->status);
    free(r->artifact_uri);
    free(r->lifecycle);
    memset(r, 0, sizeof *r);
}

static int64_t json_int64(const cJSON *j)
{
    /* MLflow's JSON carries int64 fields as numbers or as strings. */
    if (cJSON_IsNumber(j)) return (int64_t)j->valuedouble;
    if (cJSON_IsString(j)) {
        char *end;
        errno = 0;
        long long v = strtoll(j->valuestring, &end, 10);
        if (!errno && end != j->valuestring && *end == '\0') return v;
    }
    return 0;
}

int mlflow_run_info_from_json(const cJSON *run, mlflow_run_info_t *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(run, "info");
    const char *id = json_string_at(info, "run_id", NULL);
    if (!id) id = json_string_at(info, "run_uuid", NULL);
    if (!id) return -1;
    out->run_id = xstrdup(id);
    out->experiment_id = xstrdup(json_string_at(info, "experiment_id", NULL));
    out->status = xstrdup(json_string_at(info, "status", NULL));
    out->artifact_uri = xstrdup(json_string_at(info, "artifact_uri", NULL));
    out->lifecycle = xstrdup(json_string_at(info, "lifecycle_stage", NULL));
    out->start_time = json_int64(cJSON_GetObjectItemCaseSensitive(info, "start_time"));
    out->end_time = json_int64(cJSON_GetObjectItemCaseSensitive(info, "end_time"));
    return 0;
}

const char *mlflow_run_tag(const cJSON *run, const char *key)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "data"), "tags");
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const char *k = json_string_at(t, "key", NULL);
        if (k && !strcmp(k, key)) return json_string_at(t, "value", NULL);
    }
    return NULL;
}

int mlflow_run_create(mlflow_t *m, const char *experiment_id, const char *run_name, int64_t start_time_ms,
                      const mlflow_kv_t *tags, size_t n_tags, mlflow_run_info_t *out, mlflow_err_t *e)
{
    memset(out, 0, sizeof *out);
    buf_t b;
    buf_init(&b, 0);
    int w = 0;
    w |= buf_puts(&b, "{\"experiment_id\":");
    w |= buf_json_str(&b, experiment_id, strlen(experiment_id));
    if (run_name) {
        w |= buf_puts(&b, ",\"run_name\":");
        w |= buf_json_str(&b, run_name, mlflow_utf8_cut(run_name, MLFLOW_MAX_TAG_VALUE));
    }
    w |= buf_printf(&b, ",\"start_time\":%lld,\"tags\":[", (long long)start_time_ms);
    for (size_t i = 0; i < n_tags; i++) {
        char *k = mlflow_key_sanitize(tags[i].key);
        const char *v = tags[i].value ? tags[i].value : "";
        w |= buf_puts(&b, i ? ",{\"key\":" : "{\"key\":");
        w |= buf_json_str(&b, k, strlen(k));
        w |= buf_puts(&b, ",\"value\":");
        w |= buf_json_str(&b, v, mlflow_utf8_cut(v, MLFLOW_MAX_TAG_VALUE));
        w |= buf_putc(&b, '}');
        free(k);
    }
    w |= buf_puts(&b, "]}");
    cJSON *reply = NULL;
    int rc = w < 0 ? -1 : mlflow_call(m, "POST", API "/runs/create", b.data, &reply, e);
    buf_free(&b);
    if (rc < 0) return -1;
    if (mlflow_run_info_from_json(cJSON_GetObjectItemCaseSensitive(reply, "run"), out) < 0) {
        err_set(e, 200, NULL, "%s: runs/create: answer has no run.info.run_id", m->display);
        cJSON_Delete(reply);
        return -1;
    }
    cJSON_Delete(reply);
    return 0;
}

int mlflow_run_update(mlflow_t *m, const char *run_id, const char *status, int64_t end_time_ms, mlflow_err_t *e)
{
    buf_t b;
    buf_init(&b, 0);
    int w = 0;
    w |= buf_puts(&b, "{\"run_id\":");
    w |= buf_json_str(&b, run_id, strlen(run_id));
    w |= buf_puts(&b, ",\"status\":");
    w |= buf_json_str(&b, status, strlen(status));
    if (end_time_ms > 0) w |= buf_printf(&b, ",\"end_time\":%lld", (long long)end_time_ms);
    w |= buf_putc(&b, '}');
    int rc = w < 0 ? -1 : mlflow_call(m, "POST", API "/runs/update", b.data, NULL, e);
    buf_free(&b);
    return rc;
}

int mlflow_run_get(mlflow_t *m, const char *run_id, cJSON **run, mlflow_err_t *e)
{
    *run = NULL;
    cJSON *reply = NULL;
    if (get_with_query(m, API "/runs/get?run_id=", run_id, &reply, e) < 0) return -1;
    cJSON *r = cJSON_DetachItemFromObjectCaseSensitive(reply, "run");
    cJSON_Delete(reply);
    if (!r) {
        err_set(e, 200, NULL, "%s: runs/get %s: answer has no run", m->display, run_id);
        return -1;
    }
    *run = r;
    return 0;
}

int mlflow_runs_search(mlflow_t *m, const char *experiment_id, const char *filter, int max_results, cJSON **runs,
                       mlflow_err_t *e)
{
    *runs = NULL;
    if (max_results < 1) max_results = 1;
    if (max_results > 50000) max_results = 50000;
    cJSON *all = cJSON_CreateArray();
    char *page = NULL;
    int rc = -1;
    for (;;) {
        cJSON *req = cJSON_CreateObject();
        cJSON *ids = cJSON_AddArrayToObject(req, "experiment_ids");
        cJSON_AddItemToArray(ids, cJSON_CreateString(experiment_id));
        if (filter) cJSON_AddStringToObject(req, "filter", filter);
        cJSON_AddNumberToObject(req, "max_results", max_results - cJSON_GetArraySize(all));
        cJSON *order = cJSON_AddArrayToObject(req, "order_by");
        cJSON_AddItemToArray(order, cJSON_CreateString("attributes.start_time ASC"));
        if (page) cJSON_AddStringToObject(req, "page_token", page);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        cJSON *reply = NULL;
        int c = mlflow_call(m, "POST", API "/runs/search", body, &reply, e);
        free(body);
        if (c < 0) goto out;
        cJSON *got = cJSON_GetObjectItemCaseSensitive(reply, "runs");
        cJSON *r;
        while (got && (r = cJSON_DetachItemFromArray(got, 0)) != NULL) cJSON_AddItemToArray(all, r);
        free(page);
        page = xstrdup(json_string_at(reply, "next_page_token", NULL));
        cJSON_Delete(reply);
        if (!page || !*page || cJSON_GetArraySize(all) >= max_results) break;
    }
    *runs = all;
    all = NULL;
    rc = 0;
out:
    free(page);
    cJSON_Delete(all);
    return rc;
}

char *mlflow_filter_tag_eq(const char *key, const char *value)
{
    char q = '\'';
    if (strchr(value, '\'')) {
        if (strchr(value, '"')) return NULL;
        q = '"';
    }
    if (strchr(key, '`')) return NULL;
    return xasprintf("tags.`%s` = %c%s%c", key, q, value, q);
}

/* ---------------------------------------------------------------- log-batch ---- */

int mlflow_log_batch_body(mlflow_t *m, const char *body, mlflow_err_t *e)
{
    return mlflow_call(m, "POST", API "/runs/log-batch", body, NULL, e);
}

int mlflow_log_batch(mlflow_t *m, const char *run_id, const mlflow_batch_t *b, mlflow_err_t *e)
{
    size_t n = 0;
    char **bodies = mlflow_batch_bodies(b, run_id, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = mlflow_log_batch_body(m, bodies[i], e);
    mlflow_bodies_free(bodies, n);
    return rc;
}

/* ---------------------------------------------------------------- artifacts ---- */

/* Where an artifact goes. */
typedef enum { DEST_HTTP, DEST_S3, DEST_FILE } dest_kind_t;

typedef struct {
    dest_kind_t kind;
    char *url;      /* HTTP/S3: the full URL; FILE: the local path */
    char *region;   /* S3: signing region */
} dest_t;

static void dest_clear(dest_t *d)
{
    free(d->url);
    free(d->region);
    memset(d, 0, sizeof *d);
}

static bool rel_path_ok(const char *p)
{
    if (!*p || *p == '/') return false;
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
        if (!slash) return true;
        s = slash + 1;
    }
}

/* The region of s3:// artifacts: the tracking server's (from its ARN), else the AWS region chain
 * (AWS_REGION, AWS_DEFAULT_REGION, the profile's region), else us-east-1. Caller owns. */
static char *aws_region_default(const mlflow_t *m)
{
    if (m->region) return xstrdup(m->region);
    char region[64], why[256];
    if (awscreds_region(NULL, m->aws_profile, region, sizeof region, why, sizeof why) == 0) return xstrdup(region);
    return xstrdup("us-east-1");
}

static int dest_resolve(mlflow_t *m, const char *artifact_uri, const char *rel, dest_t *d, mlflow_err_t *e)
{
    memset(d, 0, sizeof *d);
    if (!artifact_uri || !*artifact_uri) {
        err_set(e, 0, NULL, "%s: the run has no artifact_uri", m->display);
        return -1;
    }
    if (!rel_path_ok(rel)) {
        err_set(e, 0, NULL, "artifact path '%s' must be relative, without empty, '.' or '..' parts", rel);
        return -1;
    }
    buf_t u;
    buf_init(&u, 0);
    int w = 0;
    if (!strncmp(artifact_uri, "mlflow-artifacts:", 17)) {
        /* mlflow-artifacts:/P, or mlflow-artifacts://HOST[:PORT]/P (served by that host with our
         * tracking server's scheme). */
        const char *p = artifact_uri + 17;
        if (!strncmp(p, "//", 2)) {
            const char *host = p + 2, *slash = strchr(host, '/');
            size_t hl = slash ? (size_t)(slash - host) : strlen(host);
            const char *scheme_end = strstr(m->base, "://");
            if (hl) w |= buf_printf(&u, "%.*s://%.*s", (int)(scheme_end - m->base), m->base, (int)hl, host);
            else w |= buf_puts(&u, m->base);
            p = slash ? slash : "";
        } else {
            w |= buf_puts(&u, m->base);
        }
        w |= buf_puts(&u, ARTIFACTS_ROUTE);
        while (*p == '/') p++;
        if (*p) { w |= buf_putc(&u, '/'); url_encode(&u, p, strlen(p), true); }
        while (u.len && u.data[u.len - 1] == '/') u.data[--u.len] = '\0';
        w |= buf_putc(&u, '/');
        url_encode(&u, rel, strlen(rel), true);
        d->kind = DEST_HTTP;
    } else if (!strncmp(artifact_uri, "http://", 7) || !strncmp(artifact_uri, "https://", 8)) {
        if (!strstr(artifact_uri, ARTIFACTS_ROUTE)) {
            err_set(e, 0, NULL, "%s: artifact_uri '%s' is an HTTP URL outside %s: not supported", m->display,
                    artifact_uri, ARTIFACTS_ROUTE);
            buf_free(&u);
            return -1;
        }
        w |= buf_puts(&u, artifact_uri);
        while (u.len && u.data[u.len - 1] == '/') u.data[--u.len] = '\0';
        w |= buf_putc(&u, '/');
        url_encode(&u, rel, strlen(rel), true);
        d->kind = DEST_HTTP;
    } else if (!strncmp(artifact_uri, "s3://", 5)) {
        const char *bucket = artifact_uri + 5, *slash = strchr(bucket, '/');
        size_t bl = slash ? (size_t)(slash - bucket) : strlen(bucket);
        if (!bl) {
            err_set(e, 0, NULL, "%s: artifact_uri '%s' has no bucket", m->display, artifact_uri);
            buf_free(&u);
            return -1;
        }
        const char *prefix = slash ? slash + 1 : "";
        size_t pl = strlen(prefix);
        while (pl && prefix[pl - 1] == '/') pl--;
        d->region = aws_region_default(m);
        bool dotted = memchr(bucket, '.', bl) != NULL;
        if (m->s3_endpoint) {
            const char *ep = m->s3_endpoint;
            size_t el = strlen(ep);
            while (el && ep[el - 1] == '/') el--;
            w |= buf_printf(&u, "%.*s/%.*s/", (int)el, ep, (int)bl, bucket);
        } else if (dotted) {
            /* A dotted bucket breaks virtual-host TLS names: path style. */
            w |= buf_printf(&u, "https://s3.%s.amazonaws.com/%.*s/", d->region, (int)bl, bucket);
        } else {
            w |= buf_printf(&u, "https://%.*s.s3.%s.amazonaws.com/", (int)bl, bucket, d->region);
        }
        if (pl) { url_encode(&u, prefix, pl, true); w |= buf_putc(&u, '/'); }
        url_encode(&u, rel, strlen(rel), true);
        d->kind = DEST_S3;
    } else if (!strncmp(artifact_uri, "file://", 7) || artifact_uri[0] == '/') {
        const char *p = artifact_uri;
        if (!strncmp(p, "file://", 7)) {
            p += 7;
            if (!strncmp(p, "localhost/", 10)) p += 9;
            if (*p != '/') {
                err_set(e, 0, NULL, "%s: artifact_uri '%s' names another host's files", m->display, artifact_uri);
                buf_free(&u);
                return -1;
            }
        }
        w |= buf_puts(&u, p);
        while (u.len > 1 && u.data[u.len - 1] == '/') u.data[--u.len] = '\0';
        w |= buf_putc(&u, '/');
        w |= buf_puts(&u, rel);
        d->kind = DEST_FILE;
    } else {
        const char *colon = strchr(artifact_uri, ':');
        err_set(e, 0, NULL,
                "%s: artifact store '%.*s' of artifact_uri '%s' is not supported (llmaj uploads to "
                "mlflow-artifacts:, http(s) artifact proxies, s3:// and local paths); start the server "
                "with --serve-artifacts",
                m->display, colon ? (int)(colon - artifact_uri) : (int)strlen(artifact_uri), artifact_uri, artifact_uri);
        buf_free(&u);
        return -1;
    }
    if (w < 0) { buf_free(&u); return -1; }
    d->url = buf_take(&u);
    return 0;
}

char *mlflow_artifact_location(mlflow_t *m, const char *artifact_uri, const char *rel_path, mlflow_err_t *e)
{
    dest_t d;
    if (dest_resolve(m, artifact_uri, rel_path, &d, e) < 0) return NULL;
    char *u = d.url;
    d.url = NULL;
    dest_clear(&d);
    return u;
}

/* Writes a local artifact atomically (lib/file.h): the bytes of `data`, or, when `src` is not NULL,
 * the rest of that file. Creates the artifact's folder first. */
static int put_file(const char *path, const void *data, size_t len, FILE *src, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = file_mkdirs(dir, 0775, err, errlen);
    }
    free(dir);
    if (rc < 0) return -1;
    file_atomic_t *out = file_atomic_open(path, err, errlen);
    if (!out) return -1;
    bool ok = true;
    if (src) {
        char chunk[65536];
        size_t n;
        while (ok && (n = fread(chunk, 1, sizeof chunk, src)) > 0) ok = file_atomic_write(out, chunk, n) == 0;
        if (ferror(src)) {
            snprintf(err, errlen, "cannot read the artifact's source for %s: %s", path, strerror(errno));
            file_atomic_abort(&out);
            return -1;
        }
    } else if (len) {
        ok = file_atomic_write(out, data, len) == 0;
    }
    /* A failed write is remembered by `out`: the commit reports it and removes the temporary. */
    return file_atomic_commit(&out, err, errlen);
}

/* Sends an artifact upload (a PUT, r->what naming it); 0 when answered 2xx, else -1 with e. */
static int put_upload(mlflow_t *m, const request_t *r, mlflow_err_t *e)
{
    buf_t resp;
    buf_init(&resp, 1u << 20);
    long status = 0;
    int rc = -1;
    if (http_send(m, r, &status, &resp, e) == 0) {
        if (status >= 200 && status <= 299) rc = 0;
        else err_from_answer(m, r->what, status, &resp, e);
    }
    buf_free(&resp);
    return rc;
}

int mlflow_artifact_put(mlflow_t *m, const char *artifact_uri, const char *rel_path, const void *data, size_t len,
                        const char *content_type, mlflow_err_t *e)
{
    dest_t d;
    if (dest_resolve(m, artifact_uri, rel_path, &d, e) < 0) return -1;
    int rc = -1;
    if (d.kind == DEST_FILE) {
        char why[512];
        if (put_file(d.url, data, len, NULL, why, sizeof why) < 0) err_set(e, 0, NULL, "artifact %s: %s", rel_path, why);
        else rc = 0;
        dest_clear(&d);
        return rc;
    }
    char *what = xasprintf("PUT artifact %s", rel_path);
    bool s3 = d.kind == DEST_S3;
    request_t r = {
        .method = "PUT", .url = d.url, .what = what, .body = data, .body_len = len,
        .content_type = content_type ? content_type : "application/octet-stream",
        /* The proxy is the tracking server: it takes the tracking server's auth. S3 is signed
         * for S3 with the same AWS credentials. */
        .sign_service = s3 ? "s3" : (m->auth == MLFLOW_AUTH_SIGV4 ? MLFLOW_SAGEMAKER_SERVICE : NULL),
        .sign_region = s3 ? d.region : m->region,
        .s3 = s3,
        .tracking = !s3,
    };
    rc = put_upload(m, &r, e);
    free(what);
    dest_clear(&d);
    return rc;
}

/* Hex SHA-256 of the rest of f; rewinds f. */
static int file_sha256(FILE *f, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(ctx); return -1; }
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (EVP_DigestUpdate(ctx, chunk, n) != 1) { EVP_MD_CTX_free(ctx); return -1; }
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    rewind(f);
    return 0;
}

int mlflow_file_sha256(const char *path, char out[65], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = file_sha256(f, out);
    if (rc < 0) snprintf(err, errlen, "cannot read %s: %s", path, errno ? strerror(errno) : "I/O error");
    fclose(f);
    return rc;
}

int mlflow_artifact_put_file(mlflow_t *m, const char *artifact_uri, const char *rel_path, const char *path,
                             const char *content_type, mlflow_err_t *e)
{
    dest_t d;
    if (dest_resolve(m, artifact_uri, rel_path, &d, e) < 0) return -1;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(e, 0, NULL, "artifact %s: cannot read %s: %s", rel_path, path, f ? "not a regular file" : strerror(errno));
        if (f) fclose(f);
        dest_clear(&d);
        return -1;
    }
    int rc = -1;
    if (d.kind == DEST_FILE) {
        char why[512];
        if (put_file(d.url, NULL, 0, f, why, sizeof why) < 0) err_set(e, 0, NULL, "artifact %s: %s", rel_path, why);
        else rc = 0;
        fclose(f);
        dest_clear(&d);
        return rc;
    }
    bool s3 = d.kind == DEST_S3;
    const char *service = s3 ? "s3" : (m->auth == MLFLOW_AUTH_SIGV4 ? MLFLOW_SAGEMAKER_SERVICE : NULL);
    char hash[65];
    if (service && file_sha256(f, hash) < 0) {
        err_set(e, 0, NULL, "artifact %s: cannot read %s", rel_path, path);
        fclose(f);
        dest_clear(&d);
        return -1;
    }
    char *what = xasprintf("PUT artifact %s", rel_path);
    request_t r = {
        .method = "PUT", .url = d.url, .what = what,
        .file = f, .file_len = (uint64_t)st.st_size, .payload_hash = service ? hash : NULL,
        .content_type = content_type ? content_type : "application/octet-stream",
        .sign_service = service, .sign_region = s3 ? d.region : m->region,
        .s3 = s3, .tracking = !s3,
    };
    rc = put_upload(m, &r, e);
    free(what);
    fclose(f);
    dest_clear(&d);
    return rc;
}
