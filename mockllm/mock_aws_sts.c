/* mock_aws_sts: the mock's STS on the query protocol (POST / with a form body): AssumeRole
 * (signed; the signature is checked like every other) and AssumeRoleWithWebIdentity (unsigned;
 * the token must be --aws-web-identity-token when one is set, else any non-empty token). Both
 * issue fresh temporary credentials that live --aws-creds-ttl seconds (DurationSeconds is
 * checked for range but the mock's own lifetime wins, so tests can make credentials short-lived).
 * A role ARN whose name contains "denied" is refused with AccessDenied, for tests of the error
 * path. Errors are STS's XML <ErrorResponse>. */
#define LOG_MODULE "mockllm"
#include "mock_aws_int.h"

#include "awsxml.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */

/* A form field, '+' as space and %XX decoded; NULL when absent. Caller frees. */
static char *form_get(const char *body, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && body[end] != '&') end++;
        size_t eq = i;
        while (eq < end && body[eq] != '=') eq++;
        if (eq - i == nl && memcmp(body + i, name, nl) == 0 && eq < end) {
            char *raw = xstrndup(body + eq + 1, end - eq - 1);
            for (char *p = raw; *p; p++)
                if (*p == '+') *p = ' ';
            char *v = mock_aws_unescape(raw, strlen(raw));
            free(raw);
            return v;
        }
        i = end + 1;
    }
    return NULL;
}

static void sts_error(mock_resp_t *resp, int status, const char *type, const char *code, const char *msg)
{
    buf_t *b = mock_resp_start(resp, status);
    resp->content_type = "text/xml";
    PUT(buf_puts(b, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>"));
    PUT(buf_puts(b, type));
    PUT(buf_puts(b, "</Type><Code>"));
    PUT(buf_puts(b, code));
    PUT(buf_puts(b, "</Code><Message>"));
    PUT(awsxml_escape(b, msg));
    PUT(buf_puts(b, "</Message></Error><RequestId>mock-sts</RequestId></ErrorResponse>"));
}

void mock_aws_sts(mock_aws_t *a, const mock_aws_req_t *r, mock_resp_t *resp)
{
    const char *body = r->body ? r->body : "";
    char *action = form_get(body, r->body_len, "Action");
    char *role = form_get(body, r->body_len, "RoleArn");
    char *session = form_get(body, r->body_len, "RoleSessionName");
    char *token = form_get(body, r->body_len, "WebIdentityToken");
    char *dur = form_get(body, r->body_len, "DurationSeconds");
    bool web = action && strcmp(action, "AssumeRoleWithWebIdentity") == 0;
    int status = 0;
    const char *code = NULL;
    char msg[300];
    if (!action || (strcmp(action, "AssumeRole") != 0 && !web)) {
        sts_error(resp, 400, "Sender", "InvalidAction", "Only AssumeRole and AssumeRoleWithWebIdentity are served");
    } else if (!web && mock_aws_check_sig(a, r, "sts", NULL, 0, &status, &code, msg, sizeof msg) < 0) {
        sts_error(resp, status, "Sender",
                  strcmp(code, "UnrecognizedClientException") == 0 ? "InvalidClientTokenId"
                  : strcmp(code, "InvalidSignatureException") == 0 ? "SignatureDoesNotMatch"
                                                                   : code,
                  msg);
    } else if (!role || strncmp(role, "arn:aws:iam::", 13) != 0 || !strstr(role, ":role/")) {
        sts_error(resp, 400, "Sender", "ValidationError", "RoleArn must be an IAM role ARN");
    } else if (!session || !*session || strlen(session) > 64) {
        sts_error(resp, 400, "Sender", "ValidationError", "RoleSessionName must be 2 to 64 characters");
    } else if (dur && (strtol(dur, NULL, 10) < 900 || strtol(dur, NULL, 10) > 43200)) {
        sts_error(resp, 400, "Sender", "ValidationError", "DurationSeconds must be from 900 to 43200");
    } else if (web && (!token || !*token || (a->web_identity_token && strcmp(token, a->web_identity_token) != 0))) {
        sts_error(resp, 400, "Sender", "InvalidIdentityToken",
                  "The web identity token that was passed could not be "
                  "validated by AWS. Get a new identity token from the identity provider and then retry the request.");
    } else if (strstr(role, "denied")) {
        snprintf(msg, sizeof msg, "User is not authorized to perform: sts:%s on resource: %s", action, role);
        sts_error(resp, 403, "Sender", "AccessDenied", msg);
    } else {
        const mock_cred_t *c = mock_aws_issue(a, "sts");
        char exp[32];
        mock_aws_time(c->expires, exp);
        buf_t *b = mock_resp_start(resp, 200);
        resp->content_type = "text/xml";
        PUT(buf_printf(b, "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><%sResult>", action,
                       action));
        PUT(buf_printf(b,
                       "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
                       "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>",
                       c->access_key, c->secret, c->token, exp));
        PUT(buf_puts(b, "<AssumedRoleUser><Arn>"));
        PUT(awsxml_escape(b, role));
        PUT(buf_puts(b, "/"));
        PUT(awsxml_escape(b, session));
        PUT(buf_printf(b,
                       "</Arn><AssumedRoleId>AROAMOCK:%s</AssumedRoleId></AssumedRoleUser></%sResult>"
                       "<ResponseMetadata><RequestId>mock-sts</RequestId></ResponseMetadata></%sResponse>",
                       session, action, action));
    }
    mock_aws_log(a, r, "sts", resp->status);
    free(action);
    free(role);
    free(session);
    free(token);
    free(dur);
}
