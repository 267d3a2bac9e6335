/* mock_api_sagemaker: SageMaker InvokeEndpoint for LLM containers (POST
 * /endpoints/{EndpointName}/invocations), in the two request shapes llmaj sends:
 *   - the messages API of the LMI / vLLM containers (OpenAI chat: {"messages", "max_tokens"}),
 *     answered as a chat completion;
 *   - TGI's {"inputs": TEXT, "parameters": {"max_new_tokens", "details"?...}}, answered as
 *     [{"generated_text": ..., "details"?: {"finish_reason", "generated_tokens"}}].
 * The endpoint name is the model. An Authorization header of the SigV4 scheme is required (the
 * signature itself is checked by mock_aws when verification is on). Errors are SageMaker's:
 * ValidationError (400), ThrottlingException (400), and a container error as 424 ModelError with
 * OriginalStatusCode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_api.h"

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */
#define SIGV4_SCHEME "AWS4-HMAC-SHA256"

static void request_id(const mock_call_t *call, mock_resp_t *resp)
{
    mock_resp_header(resp, "x-amzn-RequestId", "sm-%016llx", (unsigned long long)call->id);
    mock_resp_header(resp, "x-Amzn-Invoked-Production-Variant", "AllTraffic");
}

static void error_body(const mock_call_t *call, mock_resp_t *resp, int status, const char *type, const char *msg,
                       int original)
{
    buf_t *b = mock_resp_start(resp, status);
    if (original) {
        PUT(buf_printf(
            b, "{\"ErrorCode\":\"CLIENT_ERROR_FROM_MODEL\",\"OriginalStatusCode\":%d,\"OriginalMessage\":", original));
        PUT(buf_json_str(b, msg, strlen(msg)));
        PUT(buf_puts(b, ",\"Message\":"));
        char m[256];
        snprintf(m, sizeof m, "Received server error (%d) from primary with message \"%s\".", original, msg);
        PUT(buf_json_str(b, m, strlen(m)));
        PUT(buf_putc(b, '}'));
    } else {
        PUT(buf_puts(b, "{\"message\":"));
        PUT(buf_json_str(b, msg, strlen(msg)));
        PUT(buf_putc(b, '}'));
    }
    mock_resp_header(resp, "x-amzn-ErrorType", "%s", type);
    request_id(call, resp);
}

static int check(const mock_hdrs_t *h, const char *api_key, const mock_call_t *call, mock_resp_t *resp)
{
    (void)api_key;
    const char *a = h->authorization;
    size_t n = strlen(SIGV4_SCHEME);
    if (!a || strncmp(a, SIGV4_SCHEME, n) != 0 || (a[n] != ' ' && a[n] != '\0')) {
        error_body(call, resp, 403, a ? "IncompleteSignatureException" : "MissingAuthenticationTokenException",
                   a ? "Authorization header must use AWS Signature Version 4." : "Missing Authentication Token", 0);
        return -1;
    }
    return 0;
}

static int parse(const cJSON *root, const char *url_model, mock_req_t *req, char *err, size_t errlen)
{
    if (!url_model || !*url_model) {
        snprintf(err, errlen, "EndpointName: the URL must name an endpoint: /endpoints/{EndpointName}/invocations");
        return -1;
    }
    req->model = url_model;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "request body: expected a JSON object");
        return -1;
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (inputs) {
        req->shape = 1;
        if (!cJSON_IsString(inputs) || !*inputs->valuestring) {
            snprintf(err, errlen, "inputs: expected a non-empty string");
            return -1;
        }
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
        if (params && !cJSON_IsObject(params)) {
            snprintf(err, errlen, "parameters: expected an object");
            return -1;
        }
        const cJSON *mt = params ? cJSON_GetObjectItemCaseSensitive(params, "max_new_tokens") : NULL;
        if (mt && mock_api_max_tokens(mt, "parameters.max_new_tokens", &req->max_tokens, err, errlen) < 0) return -1;
        const cJSON *t = params ? cJSON_GetObjectItemCaseSensitive(params, "temperature") : NULL;
        if (t && !(cJSON_IsNumber(t) && t->valuedouble > 0 && t->valuedouble <= 100)) {
            snprintf(err, errlen,
                     "parameters.temperature: must be strictly positive (TGI refuses 0; send "
                     "\"do_sample\": false for greedy decoding)");
            return -1;
        }
        mock_req_add(req, MOCK_ROLE_USER, inputs->valuestring, strlen(inputs->valuestring));
        return 0;
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "the body needs \"messages\" (messages API) or \"inputs\" (TGI)");
        return -1;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (mt && mock_api_max_tokens(mt, "max_tokens", &req->max_tokens, err, errlen) < 0) return -1;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, "role") : NULL;
        mock_role_t r;
        if (!cJSON_IsString(role)) {
            snprintf(err, errlen, "messages[%d].role: expected a string", i);
            return -1;
        }
        if (strcmp(role->valuestring, "system") == 0) r = MOCK_ROLE_SYSTEM;
        else if (strcmp(role->valuestring, "user") == 0) r = MOCK_ROLE_USER;
        else if (strcmp(role->valuestring, "assistant") == 0) r = MOCK_ROLE_ASSISTANT;
        else {
            snprintf(err, errlen, "messages[%d].role: expected system, user or assistant", i);
            return -1;
        }
        char where[64];
        snprintf(where, sizeof where, "messages[%d].content", i);
        if (mock_api_add_content(req, r, cJSON_GetObjectItemCaseSensitive(m, "content"), true, false, where, err,
                                 errlen) < 0)
            return -1;
        i++;
    }
    return 0;
}

static void reply(const mock_call_t *call, mock_resp_t *resp)
{
    const mock_gen_t *g = call->gen;
    buf_t *b = mock_resp_start(resp, 200);
    if (call->req->shape == 1) {
        PUT(buf_puts(b, "[{\"generated_text\":"));
        PUT(buf_json_str(b, g->text, g->len));
        PUT(buf_printf(b, ",\"details\":{\"finish_reason\":\"%s\",\"generated_tokens\":%u}}]",
                       g->truncated ? "length" : "eos_token", g->output_tokens));
    } else {
        PUT(buf_printf(b, "{\"id\":\"chatcmpl-%016llx\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                       (unsigned long long)call->id, (long long)(call->now_unix_ms / 1000)));
        PUT(buf_json_str(b, call->req->model, strlen(call->req->model)));
        PUT(buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"));
        PUT(buf_json_str(b, g->text, g->len));
        PUT(buf_printf(b,
                       "},\"finish_reason\":\"%s\"}],\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                       "\"total_tokens\":%llu}}",
                       g->truncated ? "length" : "stop", g->input_tokens, g->output_tokens,
                       (unsigned long long)g->input_tokens + g->output_tokens));
    }
    request_id(call, resp);
}

static void error(const mock_call_t *call, mock_err_t kind, int status, const char *message, mock_resp_t *resp)
{
    switch (kind) {
    case MOCK_ERR_INVALID: error_body(call, resp, 400, "ValidationError", message, 0); return;
    case MOCK_ERR_AUTH:
        error_body(call, resp, 403, "UnrecognizedClientException",
                   "The security token included in the request is "
                   "invalid.",
                   0);
        return;
    case MOCK_ERR_QUOTA:
        error_body(call, resp, 400, "ServiceQuotaExceededException",
                   "The account-level service limit has been "
                   "exceeded for this endpoint.",
                   0);
        return;
    case MOCK_ERR_RATE: error_body(call, resp, 400, "ThrottlingException", "Rate exceeded", 0); return;
    case MOCK_ERR_SERVER: error_body(call, resp, 424, "ModelError", "the model container failed", status); return;
    }
}

const mock_api_t mock_api_sagemaker = {
    .name = "sagemaker",
    .check = check,
    .parse = parse,
    .reply = reply,
    .error = error,
};
