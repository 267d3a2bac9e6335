/* mlflow: blocking MLflow REST client; see mlflow.h. This file: options, authentication, ARNs,
 * errors, the client and one HTTP exchange (mlflow_call). Experiments and runs are in
 * mlflow_runs.c, artifacts in mlflow_artifact.c; what they share is mlflow_int.h. */
#include "mlflow.h"
#include "mlflow_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define LOG_MODULE "mlflow"
#include "awscreds.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "sigv4.h"

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
    if ((v = env_nonempty("MLFLOW_TRACKING_INSECURE_TLS"))) o->insecure_tls = !strcasecmp(v, "true") || !strcmp(v, "1");
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
        if (!c) {
            snprintf(err, errlen, "tracking URI '%s' is not an ARN: %s", arn, forms);
            return -1;
        }
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
    if (len[3] + 1 > regionlen) {
        snprintf(err, errlen, "ARN '%s': region too long", arn);
        return -1;
    }
    memcpy(region, f[3], len[3]);
    region[len[3]] = '\0';
    int n = snprintf(url, urllen, "https://%s.experiments.sagemaker.aws", region);
    if (n < 0 || (size_t)n >= urllen) {
        snprintf(err, errlen, "ARN '%s': URL buffer too small", arn);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- errors ---- */

void mlflow_err_set(mlflow_err_t *e, long status, const char *code, const char *fmt, ...)
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
        mlflow_err_set(
            e, 0, NULL,
            "no MLflow tracking URI: set mlflow.tracking_uri in the spec, --tracking-uri or MLFLOW_TRACKING_URI");
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
            mlflow_err_set(e, 0, NULL, "%s", why);
            goto fail;
        }
        m->arn = xstrdup(o->tracking_uri);
        m->region = xstrdup(region);
        url = o->endpoint_override && *o->endpoint_override ? o->endpoint_override : arn_url;
    } else if (mlflow_is_arn(url)) {
        mlflow_err_set(e, 0, NULL, "tracking URI '%s' is an ARN but not a SageMaker MLflow one", url);
        goto fail;
    }
    if (split_base(url, &m->base, &m->display) < 0) {
        mlflow_err_set(e, 0, NULL,
                       "MLflow tracking URI '%s' is not an http(s):// URL or a SageMaker tracking-server ARN "
                       "(arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME)",
                       m->auth == MLFLOW_AUTH_SIGV4 ? url : "(given)");
        goto fail;
    }
    if (m->auth == MLFLOW_AUTH_BEARER) m->token = xstrdup(o->token);
    if (m->auth == MLFLOW_AUTH_BASIC) {
        if (!o->password) {
            mlflow_err_set(
                e, 0, NULL,
                "MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not (basic auth needs both)");
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
            mlflow_err_set(e, 0, NULL, "SageMaker MLflow %s: no AWS credentials: %s", m->arn, cerr);
            goto fail;
        }
        log_debug("SageMaker MLflow %s: AWS credentials from %s", m->arn, awscreds_source(c));
        awscreds_destroy(&c);
    }
    m->curl = curl_easy_init();
    if (!m->curl) {
        mlflow_err_set(e, 0, NULL, "MLflow %s: libcurl could not create a handle", m->display);
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
void mlflow_url_encode(buf_t *b, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            rc |= buf_putc(b, (char)c);
        else rc |= buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
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

/* Sends one request; answer body in *resp, status in *status. Returns -1 (with e) only when no
 * HTTP answer came; the caller judges the status. */
int mlflow_http_send(mlflow_t *m, const request_t *r, long *status, buf_t *resp, mlflow_err_t *e)
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
            mlflow_err_set(e, 0, NULL, "%s %s: no AWS credentials: %s", m->display, r->what, cerr);
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
            mlflow_err_set(e, 0, NULL, "%s %s: cannot sign the request: %s", m->display, r->what, serr);
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
        mlflow_err_set(e, 0, NULL, "%s %s: no answer: %s", m->display, r->what, why);
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
void mlflow_err_from_answer(mlflow_t *m, const char *what, long status, const buf_t *resp, mlflow_err_t *e)
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
    mlflow_err_set(e, status, code, "%s %s: HTTP %ld%s%s%s%s", m->display, what, status, *code ? " " : "", code,
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
        .method = method,
        .url = url,
        .what = what,
        .body = json_body,
        .body_len = json_body ? strlen(json_body) : 0,
        .content_type = json_body ? "application/json" : NULL,
        .sign_service = m->auth == MLFLOW_AUTH_SIGV4 ? MLFLOW_SAGEMAKER_SERVICE : NULL,
        .sign_region = m->region,
        .tracking = true,
    };
    buf_t resp;
    buf_init(&resp, REPLY_MAX);
    long status = 0;
    int rc = -1;
    if (mlflow_http_send(m, &r, &status, &resp, e) < 0) goto out;
    if (status < 200 || status > 299) {
        mlflow_err_from_answer(m, what, status, &resp, e);
        goto out;
    }
    if (reply) {
        *reply = resp.len ? cJSON_ParseWithLength(resp.data, resp.len) : cJSON_CreateObject();
        if (!*reply) {
            mlflow_err_set(e, status, NULL, "%s %s: HTTP %ld but the answer is not JSON", m->display, what, status);
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
