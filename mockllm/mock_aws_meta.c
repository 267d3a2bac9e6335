/* mock_aws_meta: the mock's credential endpoints of a machine:
 *   container credentials: GET /aws/container-credentials[/...] or /v2/credentials/... (what
 *     AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI point at); when --aws-container-token
 *     is set the Authorization header must carry it, else 401 (as EKS Pod Identity answers).
 *   IMDSv2: PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds required, 1..21600)
 *     hands out a session token; every GET needs it in X-aws-ec2-metadata-token (401 without:
 *     IMDSv1 is off, as on a hardened instance); /latest/meta-data/iam/security-credentials/
 *     names the role llmaj-mock-role, and .../llmaj-mock-role answers its credentials.
 * Both issue fresh temporary credentials (mock_aws_issue) at every fetch. */
#define LOG_MODULE "mockllm"
#include "mock_aws_int.h"

#include "mem.h"

#include <openssl/rand.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */

static void creds_json(mock_aws_t *a, const char *issuer, bool imds, mock_resp_t *resp)
{
    const mock_cred_t *c = mock_aws_issue(a, issuer);
    char exp[32], now[32];
    mock_aws_time(c->expires, exp);
    mock_aws_time(time(NULL), now);
    buf_t *b = mock_resp_start(resp, 200);
    if (imds) PUT(buf_printf(b, "{\"Code\":\"Success\",\"LastUpdated\":\"%s\",\"Type\":\"AWS-HMAC\",", now));
    else
        PUT(buf_printf(b, "{\"RoleArn\":\"arn:aws:iam::%s:role/%s\",\"AccountId\":\"%s\",", MOCK_AWS_ACCOUNT,
                       MOCK_AWS_ROLE, MOCK_AWS_ACCOUNT));
    PUT(buf_printf(b, "\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\",\"Expiration\":\"%s\"}",
                   c->access_key, c->secret, c->token, exp));
}

void mock_aws_container(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp)
{
    if (strcmp(r->method, "GET") != 0) {
        mock_resp_json(resp, 405, "{\"code\":\"MethodNotAllowed\",\"message\":\"GET only\"}", 49);
        return;
    }
    const char *auth = mock_aws_header(r, "Authorization");
    if (a->container_token && (!auth || strcmp(auth, a->container_token) != 0)) {
        static const char denied[] = "{\"code\":\"AccessDeniedException\",\"message\":\"The Authorization header is "
                                     "missing or does not carry the pod's service account token\"}";
        mock_resp_json(resp, 401, denied, sizeof denied - 1);
        return;
    }
    creds_json(a, "container", false, resp);
}

void mock_aws_imds(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp)
{
    const char *path = r->raw_uri;
    if (strcmp(path, "/latest/api/token") == 0) {
        if (strcmp(r->method, "PUT") != 0) {
            (void)mock_resp_start(resp, 405);
            return;
        }
        const char *ttl = mock_aws_header(r, "X-aws-ec2-metadata-token-ttl-seconds");
        long t = ttl ? strtol(ttl, NULL, 10) : 0;
        if (t < 1 || t > 21600) {
            (void)mock_resp_start(resp, 400);
            resp->content_type = "text/plain";
            return;
        }
        if (!a->imds_token[0]) {
            unsigned char raw[24];
            if (RAND_bytes(raw, sizeof raw) != 1) abort();
            char *p = a->imds_token;
            p += snprintf(p, 8, "AQAEAM");
            for (size_t i = 0; i < sizeof raw; i++) p += snprintf(p, 3, "%02x", raw[i]);
        }
        buf_t *b = mock_resp_start(resp, 200);
        resp->content_type = "text/plain";
        PUT(buf_puts(b, a->imds_token));
        mock_resp_header(resp, "X-aws-ec2-metadata-token-ttl-seconds", "%ld", t);
        return;
    }
    const char *tok = mock_aws_header(r, "X-aws-ec2-metadata-token");
    if (!a->imds_token[0] || !tok || strcmp(tok, a->imds_token) != 0) {
        (void)mock_resp_start(resp, 401);
        resp->content_type = "text/plain";
        return;
    }
    if (strcmp(r->method, "GET") != 0) {
        (void)mock_resp_start(resp, 405);
        return;
    }
    static const char base[] = "/latest/meta-data/iam/security-credentials/";
    if (strcmp(path, base) == 0) {
        buf_t *b = mock_resp_start(resp, 200);
        resp->content_type = "text/plain";
        PUT(buf_puts(b, MOCK_AWS_ROLE));
        return;
    }
    if (strncmp(path, base, sizeof base - 1) == 0 && strcmp(path + sizeof base - 1, MOCK_AWS_ROLE) == 0) {
        creds_json(a, "imds", true, resp);
        return;
    }
    buf_t *b = mock_resp_start(resp, 404);
    resp->content_type = "text/html";
    PUT(buf_puts(b, "<html><body><h1>404 - Not Found</h1></body></html>"));
}
