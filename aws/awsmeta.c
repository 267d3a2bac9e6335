/* awsmeta: container credentials and IMDSv2; see awsmeta.h.
 *
 * DESIGN. Both are plain HTTP GETs on link-local (or, in tests, loopback) endpoints, so they go
 * without proxy. The container endpoint is something the environment asked for: when it fails
 * the chain stops with its error. IMDS is the chain's last resort and is often simply absent (a
 * laptop, a container without hop limit 2): a connection that fails, times out or is refused
 * counts as "not configured"; an IMDS that answers but refuses (no role attached, a 401 after a
 * token was given) is reported. */
#define LOG_MODULE "aws"
#include "awsmeta.h"
#include "awscreds_int.h"
#include "awshttp.h"
#include "log.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONTAINER_ATTEMPTS 3
#define IMDS_TOKEN_TTL "21600"

/* The host of an http(s) URL, without brackets or port, into out. */
static bool url_host(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    if (!s) return false;
    s += 3;
    size_t len = strcspn(s, "/?#");
    const char *at = memchr(s, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    if (len && *s == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return false;
        len = (size_t)(close - s - 1);
        s++;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon) len = (size_t)(colon - s);
    }
    if (len == 0 || len >= n) return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static bool allowed_http_host(const char *h)
{
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || strncmp(h, "127.", 4) == 0) return true;
    return strcmp(h, "169.254.170.2") == 0 || strcmp(h, "169.254.170.23") == 0 || strcasecmp(h, "fd00:ec2::23") == 0;
}

/* Wipes every header value (they may hold tokens) and clears. */
static void headers_wipe(httpmsg_headers_t *h)
{
    for (size_t i = 0; i < h->n; i++) OPENSSL_cleanse(h->v[i].value, strlen(h->v[i].value));
    httpmsg_headers_clear(h);
}

/* A message from a metadata error body, for errors: at most 160 printable bytes. */
static void body_excerpt(const buf_t *b, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; b->data && i < b->len && k + 1 < n && k < 160; i++)
        out[k++] = (b->data[i] >= 0x20 && b->data[i] < 0x7f) ? b->data[i] : ' ';
    out[k] = '\0';
}

int awsmeta_container(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *rel = awscreds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = awscreds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full) {
        awscreds_note(tried, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set)");
        return 0;
    }
    char *url;
    if (rel) {
        url = xasprintf("%s%s%s", awscreds_container_base, rel[0] == '/' ? "" : "/", rel);
    } else {
        char host[256];
        bool https = strncasecmp(full, "https://", 8) == 0, http = strncasecmp(full, "http://", 7) == 0;
        if ((!https && !http) || !url_host(full, host, sizeof host)) {
            awscreds_seterr(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http:// or https:// URL");
            return -1;
        }
        if (http && !allowed_http_host(host)) {
            awscreds_seterr(err, errlen,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to a "
                            "loopback address or the ECS/EKS credential hosts (169.254.170.2, 169.254.170.23, "
                            "fd00:ec2::23), not to %s: use https",
                            host);
            return -1;
        }
        url = xstrdup(full);
    }
    char where[256];
    awshttp_url_for_log(url, where, sizeof where);
    char *token = NULL;
    const char *tfile = awscreds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (tfile) {
        token = awscreds_read_token_file(tfile, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", err, errlen);
        if (!token) {
            free(url);
            return -1;
        }
    } else if (awscreds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = xstrdup(awscreds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        if (strpbrk(token, "\r\n")) {
            awscreds_seterr(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break");
            awscreds_free_secret(&token);
            free(url);
            return -1;
        }
    }
    awshttp_t *h = awshttp_new();
    int rc = -1;
    for (int attempt = 1; attempt <= CONTAINER_ATTEMPTS; attempt++) {
        httpmsg_headers_t hd;
        httpmsg_headers_init(&hd);
        httpmsg_headers_add(&hd, "Accept", "application/json");
        if (token) httpmsg_headers_add(&hd, "Authorization", token);
        awshttp_req_t q = {.method = "GET",
                           .url = url,
                           .headers = &hd,
                           .timeout_ms = 5000,
                           .connect_timeout_ms = 2000,
                           .max_body = 64 * 1024,
                           .no_proxy = true};
        awshttp_resp_t resp;
        int sent = awshttp_do(h, &q, &resp);
        headers_wipe(&hd);
        bool retry = false;
        if (sent < 0) {
            awscreds_seterr(err, errlen, "container credentials at %s: %s", where, resp.error);
            retry = true;
        } else if (resp.status != 200) {
            char ex[200];
            body_excerpt(&resp.body, ex, sizeof ex);
            awscreds_seterr(err, errlen, "container credentials at %s: HTTP %ld%s%s", where, resp.status,
                            ex[0] ? ": " : "", ex);
            retry = resp.status >= 500 || resp.status == 429;
        } else {
            cJSON *o = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
            if (!cJSON_IsObject(o))
                awscreds_seterr(err, errlen, "container credentials at %s: the reply is not a JSON object", where);
            else if (awscreds_from_json(o, false, profile, xasprintf("container credentials %s", where), out, err,
                                        errlen) == 0)
                rc = 1;
            cJSON_Delete(o);
        }
        if (resp.body.data) OPENSSL_cleanse(resp.body.data, resp.body.len);
        awshttp_resp_clear(&resp);
        if (rc == 1 || !retry || attempt == CONTAINER_ATTEMPTS) break;
        usleep((useconds_t)(200000 * attempt));
    }
    awshttp_destroy(&h);
    awscreds_free_secret(&token);
    free(url);
    return rc;
}

char *awsmeta_imds_endpoint(void)
{
    const char *e = awscreds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (e) {
        size_t n = strlen(e);
        while (n && e[n - 1] == '/') n--;
        return xstrndup(e, n);
    }
    const char *mode = awscreds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (mode && strcasecmp(mode, "IPv6") == 0) return xstrdup("http://[fd00:ec2::254]");
    return xstrdup("http://169.254.169.254");
}

/* One IMDS exchange with up to two attempts on connection errors. */
static int imds_do(awshttp_t *h, const char *method, const char *url, const char *token, awshttp_resp_t *resp)
{
    int sent = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        httpmsg_headers_t hd;
        httpmsg_headers_init(&hd);
        if (strcmp(method, "PUT") == 0)
            httpmsg_headers_add(&hd, "X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL);
        else httpmsg_headers_add(&hd, "X-aws-ec2-metadata-token", token);
        awshttp_req_t q = {.method = method,
                           .url = url,
                           .headers = &hd,
                           .timeout_ms = 2000,
                           .connect_timeout_ms = 1000,
                           .max_body = 64 * 1024,
                           .no_proxy = true};
        if (attempt) awshttp_resp_clear(resp);
        sent = awshttp_do(h, &q, resp);
        headers_wipe(&hd);
        if (sent == 0 && resp->status < 500) break;
    }
    return sent;
}

int awsmeta_imds(buf_t *tried, const char *profile, awscreds_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *dis = awscreds_env("AWS_EC2_METADATA_DISABLED");
    if (dis && strcasecmp(dis, "true") == 0) {
        awscreds_note(tried, "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
        return 0;
    }
    char *base = awsmeta_imds_endpoint();
    awshttp_t *h = awshttp_new();
    char *url = xasprintf("%s/latest/api/token", base);
    awshttp_resp_t resp;
    int rc = 0;
    char *token = NULL, *role = NULL;
    if (imds_do(h, "PUT", url, NULL, &resp) < 0) {
        awscreds_note(tried, "instance metadata (IMDSv2 at %s: %s)", base, resp.error);
        goto done;
    }
    if (resp.status != 200 || !resp.body.len) {
        awscreds_note(tried, "instance metadata (IMDSv2 token request to %s answered HTTP %ld)", base, resp.status);
        goto done;
    }
    token = xstrndup(resp.body.data, resp.body.len);
    OPENSSL_cleanse(resp.body.data, resp.body.len);
    awshttp_resp_clear(&resp);
    free(url);
    url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
    if (imds_do(h, "GET", url, token, &resp) < 0) {
        awscreds_seterr(err, errlen, "instance metadata at %s: %s", base, resp.error);
        rc = -1;
        goto done;
    }
    if (resp.status == 404) {
        awscreds_note(tried, "instance metadata (%s: no IAM role is attached to this instance)", base);
        goto done;
    }
    if (resp.status != 200 || !resp.body.len) {
        awscreds_seterr(err, errlen, "instance metadata at %s: listing the role answered HTTP %ld", base, resp.status);
        rc = -1;
        goto done;
    }
    role = xstrndup(resp.body.data, strcspn(resp.body.data, "\r\n"));
    awshttp_resp_clear(&resp);
    buf_t path;
    buf_init(&path, 0);
    if (awshttp_encode(&path, role, false) < 0 || !path.data) {
        buf_free(&path);
        awscreds_seterr(err, errlen, "instance metadata at %s: the role name is empty", base);
        rc = -1;
        goto done;
    }
    free(url);
    url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, path.data);
    buf_free(&path);
    if (imds_do(h, "GET", url, token, &resp) < 0 || resp.status != 200) {
        if (resp.status)
            awscreds_seterr(err, errlen, "instance metadata at %s: role %s answered HTTP %ld", base, role, resp.status);
        else awscreds_seterr(err, errlen, "instance metadata at %s: %s", base, resp.error);
        rc = -1;
        goto done;
    }
    cJSON *o = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
    const cJSON *code = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "Code") : NULL;
    if (!cJSON_IsObject(o)) {
        awscreds_seterr(err, errlen, "instance metadata at %s: role %s: the reply is not a JSON object", base, role);
        rc = -1;
    } else if (cJSON_IsString(code) && strcmp(code->valuestring, "Success") != 0) {
        awscreds_seterr(err, errlen, "instance metadata at %s: role %s: Code %.60s", base, role, code->valuestring);
        rc = -1;
    } else {
        rc = awscreds_from_json(o, false, profile, xasprintf("instance metadata %s, role %s", base, role), out, err,
                                errlen) == 0
                 ? 1
                 : -1;
    }
    cJSON_Delete(o);
done:
    if (resp.body.data) OPENSSL_cleanse(resp.body.data, resp.body.len);
    awshttp_resp_clear(&resp);
    awscreds_free_secret(&token);
    free(role);
    free(url);
    free(base);
    awshttp_destroy(&h);
    return rc;
}
