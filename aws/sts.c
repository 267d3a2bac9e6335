/* sts: AssumeRole and AssumeRoleWithWebIdentity; see sts.h.
 *
 * DESIGN. One request builder for both actions: the form body is built with every value
 * percent-encoded; AssumeRole is signed (service "sts", the endpoint's region or us-east-1 for
 * the global endpoint), AssumeRoleWithWebIdentity is not. The reply's <Credentials> element holds
 * the four values; an <Error> element holds <Code> and <Message>. */
#define LOG_MODULE "aws"
#include "sts.h"
#include "awscreds_int.h"
#include "awshttp.h"
#include "awsxml.h"
#include "backoff.h"
#include "log.h"
#include "mem.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STS_ATTEMPTS 4

char *sts_endpoint(const char *region)
{
    const char *u = awscreds_env("AWS_ENDPOINT_URL_STS");
    if (!u) u = awscreds_env("AWS_ENDPOINT_URL");
    if (u) {
        size_t n = strlen(u);
        while (n && u[n - 1] == '/') n--;
        return xasprintf("%.*s/", (int)n, u);
    }
    if (region && *region) return xasprintf("https://sts.%s.amazonaws.com/", region);
    return xstrdup("https://sts.amazonaws.com/");
}

static int form_add(buf_t *b, const char *k, const char *v)
{
    if (b->len && buf_putc(b, '&') < 0) return -1;
    if (buf_puts(b, k) < 0 || buf_putc(b, '=') < 0) return -1;
    return awshttp_encode(b, v, false);
}

static bool transient(long status, const char *code)
{
    if (status == 0 || status >= 500) return true;
    return code && (strcmp(code, "Throttling") == 0 || strcmp(code, "IDPCommunicationError") == 0 ||
                    strcmp(code, "ServiceUnavailable") == 0 || strcmp(code, "InternalFailure") == 0);
}

/* Copies at most 200 bytes of an STS message for an error text. */
static void clip(const char *s, char *out, size_t n)
{
    snprintf(out, n, "%.200s", s ? s : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

static int call(const char *action, const sts_role_t *r, const awscreds_t *source, const char *token, awscreds_t **out,
                char *err, size_t errlen)
{
    *out = NULL;
    char session[80];
    if (r->session_name && *r->session_name) snprintf(session, sizeof session, "%.64s", r->session_name);
    else snprintf(session, sizeof session, "llmaj-%lld", (long long)time(NULL));
    char dur[16];
    snprintf(dur, sizeof dur, "%d", r->duration_s > 0 ? r->duration_s : STS_DEFAULT_DURATION_S);
    buf_t form;
    buf_init(&form, 0);
    if (form_add(&form, "Action", action) < 0 || form_add(&form, "Version", "2011-06-15") < 0 ||
        form_add(&form, "RoleArn", r->role_arn) < 0 || form_add(&form, "RoleSessionName", session) < 0 ||
        form_add(&form, "DurationSeconds", dur) < 0 ||
        (r->external_id && *r->external_id && form_add(&form, "ExternalId", r->external_id) < 0) ||
        (token && form_add(&form, "WebIdentityToken", token) < 0)) {
        buf_free(&form);
        awscreds_seterr(err, errlen, "cannot build the STS request");
        return -1;
    }
    char *url = sts_endpoint(r->region);
    const char *sign_region = r->region && *r->region ? r->region : "us-east-1";
    char where[200];
    awshttp_url_for_log(url, where, sizeof where);
    awshttp_t *h = awshttp_new();
    backoff_t bo;
    backoff_init(&bo, 200, 3000, (uint64_t)time(NULL) ^ (uint64_t)getpid());
    int rc = -1;
    for (int attempt = 1; attempt <= STS_ATTEMPTS; attempt++) {
        httpmsg_headers_t hd;
        httpmsg_headers_init(&hd);
        httpmsg_headers_add(&hd, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
        httpmsg_headers_add(&hd, "Accept", "text/xml");
        if (source &&
            awshttp_sign(source, sign_region, "sts", "POST", url, &hd, form.data, form.len, false, err, errlen) < 0) {
            httpmsg_headers_clear(&hd);
            break;
        }
        awshttp_req_t q = {.method = "POST",
                           .url = url,
                           .headers = &hd,
                           .body = form.data,
                           .body_len = form.len,
                           .timeout_ms = 15000,
                           .connect_timeout_ms = 5000,
                           .max_body = 1 << 20};
        awshttp_resp_t resp;
        int sent = awshttp_do(h, &q, &resp);
        for (size_t i = 0; i < hd.n; i++) OPENSSL_cleanse(hd.v[i].value, strlen(hd.v[i].value));
        httpmsg_headers_clear(&hd);
        char *code = NULL, *msg = NULL;
        if (sent == 0 && resp.status == 200) {
            awsxml_span_t cr;
            const char *x = resp.body.data ? resp.body.data : "";
            if (awsxml_has_doctype(x, resp.body.len) || !awsxml_find(x, resp.body.len, "Credentials", &cr)) {
                awscreds_seterr(err, errlen, "STS %s for %s at %s: the reply has no <Credentials>", action, r->role_arn,
                                where);
            } else {
                char *ak = awsxml_text(cr.p, cr.len, "AccessKeyId");
                char *sk = awsxml_text(cr.p, cr.len, "SecretAccessKey");
                char *tk = awsxml_text(cr.p, cr.len, "SessionToken");
                char *ex = awsxml_text(cr.p, cr.len, "Expiration");
                time_t exp = 0;
                if (!ak || !*ak || !sk || !*sk || !tk || !*tk)
                    awscreds_seterr(err, errlen,
                                    "STS %s for %s: the reply lacks AccessKeyId, SecretAccessKey or "
                                    "SessionToken",
                                    action, r->role_arn);
                else if (!ex || awscreds_parse_time(ex, &exp) < 0)
                    awscreds_seterr(err, errlen, "STS %s for %s: the reply's Expiration is missing or malformed",
                                    action, r->role_arn);
                else {
                    *out = awscreds_make(ak, sk, tk, exp, r->profile ? r->profile : "default",
                                         xasprintf("STS %s %s (%s)", action, r->role_arn, where));
                    rc = 0;
                }
                free(ak);
                awscreds_free_secret(&sk);
                awscreds_free_secret(&tk);
                free(ex);
            }
            awshttp_resp_clear(&resp);
            break;
        }
        if (sent == 0) {
            const char *x = resp.body.data ? resp.body.data : "";
            code = awsxml_text(x, resp.body.len, "Code");
            msg = awsxml_text(x, resp.body.len, "Message");
            char m[240];
            clip(msg, m, sizeof m);
            awscreds_seterr(err, errlen, "STS %s for %s at %s refused (HTTP %ld%s%s)%s%s", action, r->role_arn, where,
                            resp.status, code ? ", " : "", code ? code : "", m[0] ? ": " : "", m);
        } else {
            awscreds_seterr(err, errlen, "STS %s for %s: %s", action, r->role_arn, resp.error);
        }
        bool again = transient(sent == 0 ? resp.status : 0, code) && attempt < STS_ATTEMPTS;
        free(code);
        free(msg);
        awshttp_resp_clear(&resp);
        if (!again) break;
        int64_t d = backoff_delay_ms(&bo, (uint32_t)attempt, -1);
        log_debug("STS %s: retrying in %lld ms", action, (long long)d);
        usleep((useconds_t)(d * 1000));
    }
    awshttp_destroy(&h);
    if (form.data) OPENSSL_cleanse(form.data, form.len);
    buf_free(&form);
    free(url);
    return rc;
}

int sts_assume_role(const sts_role_t *r, const awscreds_t *source, awscreds_t **out, char *err, size_t errlen)
{
    return call("AssumeRole", r, source, NULL, out, err, errlen);
}

int sts_assume_role_with_web_identity(const sts_role_t *r, const char *token, awscreds_t **out, char *err,
                                      size_t errlen)
{
    return call("AssumeRoleWithWebIdentity", r, NULL, token, out, err, errlen);
}
