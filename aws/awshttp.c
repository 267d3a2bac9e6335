/* awshttp: blocking HTTP on a libcurl easy handle, and SigV4 signing of a request; see
 * awshttp.h.
 *
 * DESIGN. The handle is reset before each request (curl_easy_reset keeps the connection cache),
 * so no option of one request leaks into the next. A body goes out with CURLOPT_POSTFIELDS for
 * every method that has one (a custom method keeps it); "Expect:" is sent empty so that curl
 * does not wait for a 100-continue on large bodies. The write callback reads the status code
 * curl has parsed by the time the body starts: 2xx bodies go to the sink when there is one,
 * everything else is buffered up to the cap. */
#define LOG_MODULE "aws"
#include "awshttp.h"
#include "log.h"
#include "mem.h"
#include "sigv4.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct awshttp {
    CURL *easy;
};

typedef struct {
    CURL *easy;
    const awshttp_req_t *req;
    awshttp_resp_t *resp;
    size_t cap;
    bool header_overflow;
} xfer_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) log_error("curl_global_init failed");
}

awshttp_t *awshttp_new(void)
{
    pthread_once(&curl_once, curl_init);
    awshttp_t *h = xcalloc(1, sizeof(*h));
    h->easy = curl_easy_init();
    if (!h->easy) {
        log_error("curl_easy_init failed: out of memory");
        abort();
    }
    return h;
}

void awshttp_destroy(awshttp_t **self_p)
{
    if (!self_p || !*self_p) return;
    curl_easy_cleanup((*self_p)->easy);
    free(*self_p);
    *self_p = NULL;
}

void awshttp_resp_init(awshttp_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    httpmsg_headers_init(&r->headers);
    buf_init(&r->body, 0);
}

void awshttp_resp_clear(awshttp_resp_t *r)
{
    httpmsg_headers_clear(&r->headers);
    buf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

void awshttp_url_for_log(const char *url, char *out, size_t outlen)
{
    if (!outlen) return;
    const char *s = url ? strstr(url, "://") : NULL;
    if (!s) {
        snprintf(out, outlen, "%s", url ? url : "");
        return;
    }
    const char *host = s + 3;
    size_t hn = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hn);
    if (at) snprintf(out, outlen, "%.*s%s", (int)(host - url), url, at + 1);
    else snprintf(out, outlen, "%s", url);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    xfer_t *x = arg;
    size_t len = size * n;
    if (httpmsg_headers_feed_line(&x->resp->headers, p, len, 64 * 1024) < 0) x->header_overflow = true;
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    xfer_t *x = arg;
    size_t len = size * n;
    long status = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (x->req->sink && status >= 200 && status < 300) {
        if (x->req->sink(p, len, x->req->sink_arg) < 0) {
            x->resp->sink_failed = true;
            return 0;
        }
        return len;
    }
    if (x->resp->body.len + len > x->cap || buf_append(&x->resp->body, p, len) < 0) {
        x->resp->too_large = true;
        return 0;
    }
    return len;
}

/* libcurl's progress callback, called often during a transfer and about once a second while the
 * server is silent: non-zero stops it. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    xfer_t *x = arg;
    if (!atomic_load(x->req->cancel)) return 0;
    x->resp->cancelled = true;
    return 1;
}

int awshttp_do(awshttp_t *h, const awshttp_req_t *req, awshttp_resp_t *resp)
{
    awshttp_resp_init(resp);
    CURL *e = h->easy;
    curl_easy_reset(e);
    xfer_t x = {.easy = e, .req = req, .resp = resp, .cap = req->max_body ? req->max_body : AWSHTTP_MAX_BODY};
    struct curl_slist *hl = NULL;
    bool has_ct = false;
    if (req->headers)
        for (size_t i = 0; i < req->headers->n; i++) {
            const httpmsg_header_t *hd = &req->headers->v[i];
            if (strcasecmp(hd->name, "Content-Type") == 0) has_ct = true;
            char *line = xasprintf("%s: %s", hd->name, hd->value);
            struct curl_slist *nl = curl_slist_append(hl, line);
            OPENSSL_cleanse(line, strlen(line)); /* may hold a token */
            free(line);
            if (!nl) {
                curl_slist_free_all(hl);
                snprintf(resp->error, sizeof resp->error, "out of memory building the request headers");
                return -1;
            }
            hl = nl;
        }
    struct curl_slist *nl = curl_slist_append(hl, "Expect:");
    if (nl) hl = nl;
    if (req->body && !has_ct && (nl = curl_slist_append(hl, "Content-Type:"))) hl = nl; /* no form default */
    const char *method = req->method ? req->method : "GET";
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                           \
    do {                                                        \
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTPHEADER, hl);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, &x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &x);
    SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_ACCEPT_ENCODING, NULL);
    if (req->no_proxy) SET(CURLOPT_NOPROXY, "*");
    if (req->cancel) {
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, &x);
        SET(CURLOPT_NOPROGRESS, 0L);
    }
    if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (req->body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, (const char *)req->body);
        if (strcmp(method, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
            SET(CURLOPT_POSTFIELDS, "");
        }
        SET(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SET
    char where[256];
    awshttp_url_for_log(req->url, where, sizeof where);
    if (rc == CURLE_OK) rc = curl_easy_perform(e);
    curl_slist_free_all(hl);
    long status = 0;
    if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (rc != CURLE_OK) {
        if (resp->too_large)
            snprintf(resp->error, sizeof resp->error, "%s %s: the reply body is larger than %zu bytes", method, where,
                     x.cap);
        else if (resp->sink_failed)
            snprintf(resp->error, sizeof resp->error, "%s %s: the transfer was stopped by its reader", method, where);
        else if (resp->cancelled) snprintf(resp->error, sizeof resp->error, "%s %s: interrupted", method, where);
        else snprintf(resp->error, sizeof resp->error, "%s %s: %s", method, where, curl_easy_strerror(rc));
        resp->status = status;
        return -1;
    }
    if (x.header_overflow) {
        snprintf(resp->error, sizeof resp->error, "%s %s: the reply headers are larger than 64 KiB", method, where);
        resp->status = status;
        return -1;
    }
    resp->status = status;
    return 0;
}

static bool is_sig_header(const char *name)
{
    return strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "X-Amz-Date") == 0 ||
           strcasecmp(name, "X-Amz-Security-Token") == 0 || strcasecmp(name, "X-Amz-Content-Sha256") == 0;
}

int awshttp_sign(const awscreds_t *creds, const char *region, const char *service, const char *method, const char *url,
                 httpmsg_headers_t *headers, const void *body, size_t body_len, bool s3_style, char *err, size_t errlen)
{
    /* drop an earlier signature's headers, wiping the token on the way out */
    httpmsg_headers_t keep;
    httpmsg_headers_init(&keep);
    for (size_t i = 0; i < headers->n; i++) {
        if (!is_sig_header(headers->v[i].name)) httpmsg_headers_add(&keep, headers->v[i].name, headers->v[i].value);
        else OPENSSL_cleanse(headers->v[i].value, strlen(headers->v[i].value));
    }
    httpmsg_headers_clear(headers);
    *headers = keep;

    bool unsigned_payload = !body && body_len == (size_t)-1;
    char payload[65];
    if (!unsigned_payload) sigv4_sha256_hex(body ? body : "", body ? body_len : 0, payload);
    size_t n = headers->n;
    sigv4_header_t *hs = xcalloc(n ? n : 1, sizeof(*hs));
    for (size_t i = 0; i < n; i++) hs[i] = (sigv4_header_t){headers->v[i].name, headers->v[i].value};
    sigv4_params_t p = {
        .access_key = awscreds_access_key(creds),
        .secret_key = awscreds_secret_key(creds),
        .session_token = awscreds_session_token(creds),
        .region = region,
        .service = service,
        .payload_hash = unsigned_payload ? SIGV4_UNSIGNED_PAYLOAD : payload,
        .add_content_sha256 = s3_style,
    };
    sigv4_result_t res;
    char serr[256];
    int rc = sigv4_sign(&p, method, url, hs, n, unsigned_payload ? NULL : body, unsigned_payload ? 0 : body_len, &res,
                        serr, sizeof serr);
    free(hs);
    if (rc < 0) {
        snprintf(err, errlen, "cannot sign the %s request with credentials from %s: %s", service,
                 awscreds_source(creds), serr);
        return -1;
    }
    for (size_t i = 0; i < res.n_headers; i++) httpmsg_headers_add(headers, res.headers[i].name, res.headers[i].value);
    sigv4_result_free(&res);
    return 0;
}

int awshttp_encode(buf_t *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (keep ? buf_putc(b, (char)c) < 0
                 : (buf_putc(b, '%') < 0 || buf_putc(b, hex[c >> 4]) < 0 || buf_putc(b, hex[c & 15]) < 0))
            return -1;
    }
    return 0;
}
