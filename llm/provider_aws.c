/* provider_aws: SigV4 signing with cached credentials, the signing region, AWS error replies and
 * request paths for the Bedrock and SageMaker providers; see provider_aws.h. */
#include "provider_aws.h"
#include "awscreds.h"
#include "mem.h"
#include "sigv4.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- credentials ---- */

void provider_aws_forget_credentials(void) { awscreds_forget(); }

/* ---- region ---- */

static int is_region_name(const char *s, size_t n)
{
    if (n < 4 || n > 63 || !memchr(s, '-', n)) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return s[0] != '-' && s[n - 1] >= '0' && s[n - 1] <= '9';
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* The region an AWS endpoint URL names, into out; 0 when the host is not an AWS one. */
static int region_of_host(const char *url, char *out, size_t outlen)
{
    const char *h = url ? strstr(url, "://") : NULL;
    if (!h) return 0;
    h += 3;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *colon = memchr(h, ':', n);
    if (colon) n = (size_t)(colon - h);
    if (ends_with(h, n, ".amazonaws.com")) n -= strlen(".amazonaws.com");
    else if (ends_with(h, n, ".amazonaws.com.cn")) n -= strlen(".amazonaws.com.cn");
    else return 0;
    if (ends_with(h, n, ".vpce")) n -= strlen(".vpce"); /* vpce-id.bedrock-runtime.<region>.vpce.amazonaws.com */
    const char *dot = memrchr(h, '.', n);
    const char *label = dot ? dot + 1 : h;
    size_t ln = n - (size_t)(label - h);
    if (!is_region_name(label, ln) || ln >= outlen) return 0;
    memcpy(out, label, ln);
    out[ln] = '\0';
    return 1;
}

int provider_aws_region(const modelstr_t *model, const char *base_url, char *out, size_t outlen, char *err,
                        size_t errlen)
{
    if (region_of_host(base_url, out, outlen)) return 0;
    if (model->region && *model->region) {
        if (!is_region_name(model->region, strlen(model->region)) || strlen(model->region) >= outlen) {
            snprintf(err, errlen, "model `%s`: `%.70s` is not an AWS region name", model->input ? model->input : "",
                     model->region);
            return -1;
        }
        snprintf(out, outlen, "%s", model->region);
        return 0;
    }
    char rerr[512];
    if (awscreds_region(NULL, NULL, out, outlen, rerr, sizeof rerr) < 0) {
        snprintf(err, errlen, "model `%s` has no AWS region to sign with: %s", model->input ? model->input : "", rerr);
        return -1;
    }
    return 0;
}

/* ---- signing ---- */

static int is_auth_header(const char *name)
{
    return strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "X-Amz-Date") == 0 ||
           strcasecmp(name, "X-Amz-Security-Token") == 0 || strcasecmp(name, "X-Amz-Content-Sha256") == 0;
}

/* Removes the headers an earlier signature added; the session token is wiped on the way out. */
static void strip_auth_headers(httpmsg_headers_t *h)
{
    httpmsg_headers_t keep;
    httpmsg_headers_init(&keep);
    for (size_t i = 0; i < h->n; i++) {
        if (!is_auth_header(h->v[i].name)) httpmsg_headers_add(&keep, h->v[i].name, h->v[i].value);
        else OPENSSL_cleanse(h->v[i].value, strlen(h->v[i].value));
    }
    httpmsg_headers_clear(h);
    *h = keep;
}

int provider_aws_sign(const modelstr_t *model, const modelstr_endpoint_t *endpoint, const char *service,
                      httpmsg_request_t *req, char *err, size_t errlen)
{
    char region[64];
    if (provider_aws_region(model, endpoint->base_url, region, sizeof region, err, errlen) < 0) return -1;
    if (!req->url) {
        snprintf(err, errlen, "the request to sign has no URL");
        return -1;
    }
    strip_auth_headers(&req->headers);
    size_t n = req->headers.n;
    sigv4_header_t *hs = xcalloc(n ? n : 1, sizeof(*hs));
    for (size_t i = 0; i < n; i++) hs[i] = (sigv4_header_t){req->headers.v[i].name, req->headers.v[i].value};

    char payload[65];
    sigv4_sha256_hex(req->body.data ? req->body.data : "", req->body.len, payload);

    int rc = -1;
    char cerr[900];
    awscreds_t *c = awscreds_new(NULL, cerr, sizeof cerr); /* a reference to the cached snapshot */
    if (!c) {
        snprintf(err, errlen, "cannot sign the %s request for `%s`: no usable AWS credentials: %s", service,
                 model->input ? model->input : "", cerr);
    } else {
        sigv4_params_t p = {
            .access_key = awscreds_access_key(c),
            .secret_key = awscreds_secret_key(c),
            .session_token = awscreds_session_token(c),
            .region = region,
            .service = service,
            .payload_hash = payload,
        };
        sigv4_result_t res;
        char serr[256];
        if (sigv4_sign(&p, req->method ? req->method : "POST", req->url, hs, n, req->body.data, req->body.len, &res,
                       serr, sizeof serr) < 0) {
            snprintf(err, errlen, "cannot sign the %s request for `%s` with credentials from %s: %s", service,
                     model->input ? model->input : "", awscreds_source(c), serr);
        } else {
            for (size_t i = 0; i < res.n_headers; i++)
                httpmsg_headers_add(&req->headers, res.headers[i].name, res.headers[i].value);
            sigv4_result_free(&res);
            rc = 0;
        }
        awscreds_destroy(&c);
    }
    free(hs);
    return rc;
}

/* ---- errors ---- */

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    dst[n] = '\0';
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

void provider_aws_error_info(const char *body, size_t len, const httpmsg_headers_t *h, provider_error_info_t *out)
{
    provider_error_info(body, len, out); /* generic fields first: {"message"}, {"error": {...}} */
    const char *et = h ? httpmsg_headers_get(h, "x-amzn-ErrorType") : NULL;
    if (et && *et) {
        /* "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" */
        copy_field(out->type, sizeof out->type, et, strcspn(et, ":"));
        out->code[0] = '\0';
    }
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    if (cJSON_IsObject(root)) {
        const char *m = json_str(root, "message");
        if (!m) m = json_str(root, "Message");
        if (m) copy_field(out->message, sizeof out->message, m, strlen(m));
        if (!out->type[0]) {
            const char *t = json_str(root, "__type"); /* "com.amazon.coral.service#UnrecognizedClientException" */
            if (t) {
                const char *hash = strrchr(t, '#');
                if (hash) t = hash + 1;
                copy_field(out->type, sizeof out->type, t, strcspn(t, ":"));
                out->code[0] = '\0';
            } else if ((t = json_str(root, "Code")) != NULL) {
                copy_field(out->type, sizeof out->type, t, strlen(t));
                out->code[0] = '\0';
            } else if (out->code[0] && !out->type[0]) {
                memcpy(out->type, out->code, sizeof out->code);
                out->code[0] = '\0';
            }
        }
    }
    cJSON_Delete(root);
}

int provider_aws_creds_rejected(const char *type)
{
    return strcmp(type, "ExpiredToken") == 0 || strcmp(type, "ExpiredTokenException") == 0 ||
           strcmp(type, "UnrecognizedClientException") == 0 || strcmp(type, "InvalidClientTokenId") == 0;
}

int provider_aws_path_segment(buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                   c == '_' || c == '~';
        if (keep ? buf_putc(b, (char)c) < 0
                 : (buf_putc(b, '%') < 0 || buf_putc(b, hex[c >> 4]) < 0 || buf_putc(b, hex[c & 15]) < 0))
            return -1;
    }
    return 0;
}

int provider_aws_post_json(httpmsg_request_t *out, const char *base_url, const char *prefix, const char *segment,
                           const char *suffix, char *err, size_t errlen)
{
    buf_t path;
    buf_init(&path, 0);
    if (buf_puts(&path, prefix) < 0 || provider_aws_path_segment(&path, segment) < 0 || buf_puts(&path, suffix) < 0) {
        buf_free(&path);
        snprintf(err, errlen, "cannot encode the request path");
        return -1;
    }
    provider_post_json(out, base_url, path.data);
    buf_free(&path);
    return 0;
}
