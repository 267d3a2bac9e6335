/* s3: the S3 client's addressing, signing, retries, errors and the single-request calls; see
 * s3.h. Multipart upload is s3_upload.c.
 *
 * DESIGN. Every call goes through s3_request: build the URL, take a reference to the current
 * credentials, sign (payload hash of the body: S3 wants X-Amz-Content-Sha256), send, and decide
 * from the status and the XML error code whether to retry, refresh credentials, or report.
 * Reports are written once, in s3_fail, from the operation, the s3:// URI, the status and S3's
 * code and message. */
#define LOG_MODULE "aws"
#include "s3.h"
#include "awscreds.h"
#include "awshttp.h"
#include "awsxml.h"
#include "backoff.h"
#include "log.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct s3 {
    char *region;
    char *profile;
    char *endpoint; /* NULL = AWS */
    bool path_style;
    int max_attempts;
    backoff_t bo;
    size_t part_size, threshold;
    long timeout_ms;
    awshttp_t *http;
};

/* ---- URIs ---- */

static bool bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63) return false;
    if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1])) return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)b[i]) && !isdigit((unsigned char)b[i]) && b[i] != '-' && b[i] != '.') return false;
    return true;
}

int s3_uri_parse(const char *uri, bool allow_no_key, char **bucket, char **key, char *err, size_t errlen)
{
    *bucket = *key = NULL;
    if (!uri || strncmp(uri, "s3://", 5) != 0) {
        snprintf(err, errlen, "`%s` is not an s3:// URI", uri ? uri : "");
        return -1;
    }
    const char *b = uri + 5;
    size_t bl = strcspn(b, "/");
    if (!bucket_ok(b, bl)) {
        snprintf(err, errlen, "`%s`: `%.*s` is not an S3 bucket name (3-63 lower-case letters, digits, '-' and '.')",
                 uri, (int)(bl > 80 ? 80 : bl), b);
        return -1;
    }
    const char *k = b[bl] == '/' ? b + bl + 1 : "";
    if (!*k && !allow_no_key) {
        snprintf(err, errlen, "`%s` names a bucket but no object: expected s3://bucket/key", uri);
        return -1;
    }
    if (strlen(k) > 1024) {
        snprintf(err, errlen, "`%.80s...`: an S3 key is at most 1024 bytes", uri);
        return -1;
    }
    *bucket = xstrndup(b, bl);
    *key = xstrdup(k);
    return 0;
}

/* ---- the client ---- */

static const char *env(const char *n)
{
    const char *v = getenv(n);
    return v && *v ? v : NULL;
}

s3_t *s3_new(const s3_opts_t *o, char *err, size_t errlen)
{
    if (!o->region || !*o->region) {
        snprintf(err, errlen, "S3 needs a region (the job's region)");
        return NULL;
    }
    const char *ep = o->endpoint ? o->endpoint : env("AWS_ENDPOINT_URL_S3");
    if (!ep) ep = env("AWS_ENDPOINT_URL");
    if (ep && strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
        snprintf(err, errlen, "the S3 endpoint `%s` is not an http:// or https:// URL", ep);
        return NULL;
    }
    s3_t *s = xcalloc(1, sizeof(*s));
    s->region = xstrdup(o->region);
    s->profile = o->profile ? xstrdup(o->profile) : NULL;
    if (ep) {
        size_t n = strlen(ep);
        while (n && ep[n - 1] == '/') n--;
        s->endpoint = xstrndup(ep, n);
    }
    s->path_style = ep != NULL;
    const char *style = env("AWS_S3_ADDRESSING_STYLE");
    if (style && strcasecmp(style, "path") == 0) s->path_style = true;
    else if (style && strcasecmp(style, "virtual") == 0) s->path_style = false;
    if (o->path_style == 0 || o->path_style == 1) s->path_style = o->path_style == 1;
    s->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
    backoff_init(&s->bo, o->backoff_base_ms > 0 ? o->backoff_base_ms : 200,
                 o->backoff_max_ms > 0 ? o->backoff_max_ms : 20000, (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20);
    s->part_size = o->part_size ? o->part_size : S3_PART_SIZE_DEFAULT;
    if (s->part_size < S3_PART_SIZE_MIN) s->part_size = S3_PART_SIZE_MIN;
    s->threshold = o->multipart_threshold ? o->multipart_threshold : S3_MULTIPART_THRESHOLD_DEFAULT;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 300000;
    s->http = awshttp_new();
    return s;
}

void s3_destroy(s3_t **self_p)
{
    if (!self_p || !*self_p) return;
    s3_t *s = *self_p;
    awshttp_destroy(&s->http);
    free(s->region);
    free(s->profile);
    free(s->endpoint);
    free(s);
    *self_p = NULL;
}

size_t s3_part_size(const s3_t *s, uint64_t file_size)
{
    uint64_t need = (file_size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
    return need > s->part_size ? (size_t)need : s->part_size;
}

size_t s3_multipart_threshold(const s3_t *s) { return s->threshold; }

static char *url_for(const s3_t *s, const char *bucket, const char *key, const char *query)
{
    buf_t u;
    buf_init(&u, 0);
    bool path = s->path_style || strchr(bucket, '.');
    int rc = 0;
    if (s->endpoint && path) {
        rc = buf_printf(&u, "%s/%s", s->endpoint, bucket);
    } else if (s->endpoint) {
        const char *host = strstr(s->endpoint, "://") + 3;
        rc = buf_printf(&u, "%.*s%s.%s", (int)(host - s->endpoint), s->endpoint, bucket, host);
    } else if (path) {
        rc = buf_printf(&u, "https://s3.%s.amazonaws.com/%s", s->region, bucket);
    } else {
        rc = buf_printf(&u, "https://%s.s3.%s.amazonaws.com", bucket, s->region);
    }
    if (rc < 0 || buf_putc(&u, '/') < 0 || (key && awshttp_encode(&u, key, true) < 0) ||
        (query && *query && (buf_putc(&u, '?') < 0 || buf_puts(&u, query) < 0))) {
        buf_free(&u);
        return xstrdup("");
    }
    return buf_take(&u);
}

char *s3_object_url(const s3_t *s, const char *bucket, const char *key) { return url_for(s, bucket, key, NULL); }

/* ---- errors ---- */

static void seterr(s3_err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(s3_err_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

static void clip(const char *s, char *out, size_t n)
{
    snprintf(out, n, "%.300s", s ? s : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

/* Writes e->msg for a failed answer. */
static void s3_fail(s3_t *s, s3_err_t *e, const char *op, const char *action, const char *bucket, const char *key,
                    long status, const char *code, const char *message, const char *region_hint, const char *source)
{
    char where[1200];
    if (key && *key) snprintf(where, sizeof where, "s3://%s/%.1000s", bucket, key);
    else snprintf(where, sizeof where, "s3://%s", bucket);
    char m[320];
    clip(message, m, sizeof m);
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    if (region_hint && *region_hint) snprintf(e->bucket_region, sizeof e->bucket_region, "%s", region_hint);
    if (region_hint && *region_hint && strcmp(region_hint, s->region) != 0) {
        seterr(e,
               "%s %s: the bucket %s is in region %s, but this job's region is %s (S3 answered HTTP %ld%s%s): set "
               "\"region\": \"%s\" in the spec to run the job there, or use a bucket in %s",
               op, where, bucket, region_hint, s->region, status, code && *code ? " " : "", code ? code : "",
               region_hint, s->region);
    } else if (code && strcmp(code, "NoSuchBucket") == 0) {
        seterr(e,
               "%s %s: NoSuchBucket (HTTP %ld): the bucket %s does not exist (or not in this account's view of "
               "region %s)",
               op, where, status, bucket, s->region);
    } else if (code && strcmp(code, "NoSuchKey") == 0) {
        seterr(e, "%s %s: NoSuchKey (HTTP %ld): the object does not exist", op, where, status);
    } else if (code && (strcmp(code, "AccessDenied") == 0 || strcmp(code, "AllAccessDisabled") == 0)) {
        char res[1200];
        if (strcmp(action, "s3:ListBucket") == 0) snprintf(res, sizeof res, "arn:aws:s3:::%s", bucket);
        else snprintf(res, sizeof res, "arn:aws:s3:::%s/%.1000s", bucket, key ? key : "*");
        seterr(e, "%s %s: AccessDenied (HTTP %ld) for the credentials from %s: they need %s on %s%s%s", op, where,
               status, source ? source : "the credential chain", action, res, m[0] ? " (S3 said: " : "", m[0] ? m : "");
        if (m[0] && strlen(e->msg) + 2 < sizeof e->msg) strcat(e->msg, ")");
    } else if (status == 404 && (!code || !*code)) {
        seterr(e, "%s %s: HTTP 404: %s", op, where,
               key && *key ? "the object (or the bucket) does not exist" : "the bucket does not exist");
    } else if (status == 412) {
        seterr(e,
               "%s %s: the object changed while it was being read (PreconditionFailed: its ETag is no longer the "
               "one read first); start again",
               op, where);
    } else if (status) {
        seterr(e, "%s %s: HTTP %ld%s%s%s%s", op, where, status, code && *code ? " " : "", code ? code : "",
               m[0] ? ": " : "", m);
    } else {
        seterr(e, "%s %s: %s", op, where, m);
    }
}

static bool retryable(long status, const char *code)
{
    if (status == 0 || status == 500 || status == 502 || status == 503 || status == 504) return true;
    return code && (strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0 ||
                    strcmp(code, "InternalError") == 0 || strcmp(code, "OperationAborted") == 0 ||
                    strcmp(code, "RequestTimeTooSkewed") == 0);
}

static bool creds_rejected(const char *code)
{
    return code && (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0 ||
                    strcmp(code, "TokenRefreshRequired") == 0);
}

/* ---- the request ---- */

int s3_request(s3_t *s, const char *op, const char *action, const char *method, const char *bucket, const char *key,
               const char *query, const httpmsg_headers_t *extra, const void *body, size_t body_len, buf_t *resp_body,
               httpmsg_headers_t *resp_headers, s3_err_t *e)
{
    memset(e, 0, sizeof(*e));
    char *url = url_for(s, bucket, key, query);
    bool refreshed = false;
    int rc = -1;
    for (int attempt = 1;; attempt++) {
        char cerr[1536];
        awscreds_t *c = awscreds_new(s->profile, cerr, sizeof cerr);
        if (!c) {
            seterr(e, "%s s3://%s/%s: no usable AWS credentials: %s", op, bucket, key ? key : "", cerr);
            break;
        }
        httpmsg_headers_t hd;
        httpmsg_headers_init(&hd);
        for (size_t i = 0; extra && i < extra->n; i++) httpmsg_headers_add(&hd, extra->v[i].name, extra->v[i].value);
        char serr[512];
        if (awshttp_sign(c, s->region, "s3", method, url, &hd, body ? body : "", body ? body_len : 0, true, serr,
                         sizeof serr) < 0) {
            seterr(e, "%s s3://%s/%s: %s", op, bucket, key ? key : "", serr);
            httpmsg_headers_clear(&hd);
            awscreds_destroy(&c);
            break;
        }
        char *source = xstrdup(awscreds_source(c));
        awscreds_destroy(&c);
        awshttp_req_t q = {.method = method,
                           .url = url,
                           .headers = &hd,
                           .body = body,
                           .body_len = body_len,
                           .timeout_ms = s->timeout_ms,
                           .connect_timeout_ms = 10000,
                           /* error bodies are small; a range's body is its length */
                           .max_body = resp_body && resp_body->max
                                           ? (resp_body->max > (1u << 20) ? resp_body->max : (1u << 20)) + 1
                                           : AWSHTTP_MAX_BODY};
        if (body && body_len == 0) q.body = "";
        awshttp_resp_t resp;
        int sent = awshttp_do(s->http, &q, &resp);
        httpmsg_headers_clear(&hd);
        char *code = NULL, *msg = NULL, *region = NULL;
        const char *x = resp.body.data ? resp.body.data : "";
        if (sent == 0 && resp.status >= 200 && resp.status < 300) {
            /* CompleteMultipartUpload may answer 200 with an error inside */
            awsxml_span_t err_el;
            if (resp.body.len && strcmp(method, "POST") == 0 && awsxml_find(x, resp.body.len, "Error", &err_el)) {
                code = awsxml_text(err_el.p, err_el.len, "Code");
                msg = awsxml_text(err_el.p, err_el.len, "Message");
            } else {
                if (resp_body && resp.body.len && buf_append(resp_body, resp.body.data, resp.body.len) < 0) {
                    seterr(e, "%s s3://%s/%s: the answer is larger than %zu bytes", op, bucket, key ? key : "",
                           resp_body->max);
                } else {
                    if (resp_headers) {
                        *resp_headers = resp.headers;
                        httpmsg_headers_init(&resp.headers);
                    }
                    rc = 0;
                }
                awshttp_resp_clear(&resp);
                free(source);
                break;
            }
        }
        long status = sent == 0 ? resp.status : 0;
        if (sent == 0 && resp.body.len && !awsxml_has_doctype(x, resp.body.len)) {
            if (!code) code = awsxml_text(x, resp.body.len, "Code");
            if (!msg) msg = awsxml_text(x, resp.body.len, "Message");
            region = awsxml_text(x, resp.body.len, "Region");
        }
        const char *hdr_region = sent == 0 ? httpmsg_headers_get(&resp.headers, "x-amz-bucket-region") : NULL;
        if (!region && hdr_region) region = xstrdup(hdr_region);
        if (!code && status == 301) code = xstrdup("PermanentRedirect");
        bool wrong_region = (status == 301 || (code && strcmp(code, "AuthorizationHeaderMalformed") == 0) ||
                             (code && strcmp(code, "PermanentRedirect") == 0)) &&
                            region && *region && strcmp(region, s->region) != 0;
        s3_fail(s, e, op, action, bucket, key, status, code, sent == 0 ? msg : resp.error, wrong_region ? region : NULL,
                source);
        bool again = false;
        if (creds_rejected(code) && !refreshed) {
            awscreds_forget();
            refreshed = true;
            again = true;
        } else if (!wrong_region && retryable(status, code) && attempt < s->max_attempts) {
            again = true;
            const char *ra = sent == 0 ? httpmsg_headers_get(&resp.headers, "Retry-After") : NULL;
            long ra_ms = ra ? strtol(ra, NULL, 10) * 1000 : -1;
            int64_t d = backoff_delay_ms(&s->bo, (uint32_t)attempt, ra_ms);
            log_info("%s s3://%s/%s: %s; retrying in %lld ms (attempt %d of %d)", op, bucket, key ? key : "",
                     code && *code ? code
                     : sent == 0   ? "server error"
                                   : "connection error",
                     (long long)d, attempt + 1, s->max_attempts);
            usleep((useconds_t)(d * 1000));
        }
        free(code);
        free(msg);
        free(region);
        free(source);
        awshttp_resp_clear(&resp);
        if (!again) break;
        memset(e, 0, sizeof(*e));
    }
    free(url);
    return rc;
}

/* ---- single-request calls ---- */

static void etag_of(const httpmsg_headers_t *h, char *out, size_t n)
{
    const char *v = httpmsg_headers_get(h, "ETag");
    snprintf(out, n, "%s", v ? v : "");
}

int s3_head(s3_t *s, const char *bucket, const char *key, s3_object_t *out, s3_err_t *e)
{
    memset(out, 0, sizeof(*out));
    httpmsg_headers_t rh;
    httpmsg_headers_init(&rh);
    if (s3_request(s, "HeadObject", "s3:GetObject", "HEAD", bucket, key, NULL, NULL, NULL, 0, NULL, &rh, e) < 0)
        return -1;
    const char *cl = httpmsg_headers_get(&rh, "Content-Length");
    char *end = NULL;
    errno = 0;
    unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;
    if (!cl || errno || end == cl || *end) {
        seterr(e, "HeadObject s3://%s/%s: the answer has no valid Content-Length", bucket, key);
        httpmsg_headers_clear(&rh);
        return -1;
    }
    out->size = n;
    etag_of(&rh, out->etag, sizeof out->etag);
    httpmsg_headers_clear(&rh);
    return 0;
}

int s3_get_range(s3_t *s, const char *bucket, const char *key, uint64_t offset, uint64_t len, const char *if_match,
                 buf_t *out, s3_err_t *e)
{
    if (len == 0) {
        memset(e, 0, sizeof(*e));
        return 0;
    }
    httpmsg_headers_t hd;
    httpmsg_headers_init(&hd);
    char range[64];
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
    httpmsg_headers_add(&hd, "Range", range);
    if (if_match && *if_match) httpmsg_headers_add(&hd, "If-Match", if_match);
    buf_t got;
    buf_init(&got, (size_t)len);
    httpmsg_headers_t rh;
    httpmsg_headers_init(&rh);
    int rc = s3_request(s, "GetObject", "s3:GetObject", "GET", bucket, key, NULL, &hd, NULL, 0, &got, &rh, e);
    httpmsg_headers_clear(&hd);
    if (rc == 0 && got.len && buf_append(out, got.data, got.len) < 0) {
        seterr(e, "GetObject s3://%s/%s: the range does not fit its buffer", bucket, key);
        rc = -1;
    }
    httpmsg_headers_clear(&rh);
    buf_free(&got);
    return rc;
}

int s3_put(s3_t *s, const char *bucket, const char *key, const void *data, size_t len, const char *content_type,
           s3_err_t *e)
{
    httpmsg_headers_t hd;
    httpmsg_headers_init(&hd);
    httpmsg_headers_add(&hd, "Content-Type", content_type ? content_type : "application/octet-stream");
    int rc = s3_request(s, "PutObject", "s3:PutObject", "PUT", bucket, key, NULL, &hd, data ? data : "", len, NULL,
                        NULL, e);
    httpmsg_headers_clear(&hd);
    return rc;
}

int s3_list(s3_t *s, const char *bucket, const char *prefix, const char *continuation, int max_keys, s3_entry_t **out,
            size_t *n, char **next, s3_err_t *e)
{
    *out = NULL;
    *n = 0;
    *next = NULL;
    buf_t q;
    buf_init(&q, 0);
    int rc = 0;
    if (continuation && (buf_puts(&q, "continuation-token=") < 0 || awshttp_encode(&q, continuation, false) < 0))
        rc = -1;
    if (rc == 0 && buf_printf(&q, "%slist-type=2&max-keys=%d", q.len ? "&" : "",
                              max_keys < 1      ? 1
                              : max_keys > 1000 ? 1000
                                                : max_keys) < 0)
        rc = -1;
    if (rc == 0 && prefix && *prefix && (buf_puts(&q, "&prefix=") < 0 || awshttp_encode(&q, prefix, false) < 0))
        rc = -1;
    buf_t body;
    buf_init(&body, 0);
    if (rc == 0)
        rc = s3_request(s, "ListObjectsV2", "s3:ListBucket", "GET", bucket, NULL, q.data, NULL, NULL, 0, &body, NULL,
                        e);
    buf_free(&q);
    if (rc < 0) {
        buf_free(&body);
        return -1;
    }
    const char *x = body.data ? body.data : "";
    size_t pos = 0, cap = 0;
    awsxml_span_t c;
    while (awsxml_next(x, body.len, "Contents", &pos, &c)) {
        char *k = awsxml_text(c.p, c.len, "Key");
        char *sz = awsxml_text(c.p, c.len, "Size");
        char *et = awsxml_text(c.p, c.len, "ETag");
        if (k) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                *out = xrealloc(*out, cap * sizeof(**out));
            }
            s3_entry_t *en = &(*out)[(*n)++];
            memset(en, 0, sizeof(*en));
            en->key = k;
            en->size = sz ? strtoull(sz, NULL, 10) : 0;
            snprintf(en->etag, sizeof en->etag, "%s", et ? et : "");
        }
        free(sz);
        free(et);
    }
    char *trunc = awsxml_text(x, body.len, "IsTruncated");
    if (trunc && strcmp(trunc, "true") == 0) *next = awsxml_text(x, body.len, "NextContinuationToken");
    free(trunc);
    buf_free(&body);
    return 0;
}

void s3_entries_free(s3_entry_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].key);
    free(v);
}
