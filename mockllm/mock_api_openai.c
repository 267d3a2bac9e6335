/* mock_api_openai: the OpenAI chat-completions dialect of the mock LLM (POST
 * .../chat/completions): Bearer auth, the request body (response_format included: a json_schema
 * one asks for structured output, and the reply's content is then the object), the
 * chat.completion reply, the x-ratelimit-* headers and OpenAI's error bodies
 * ({"error": {message, type, param, code}}). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock_api.h"

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */

static void error_body(mock_resp_t *resp, int status, const char *message, const char *type, const char *code)
{
    buf_t *b = mock_resp_start(resp, status);
    PUT(buf_puts(b, "{\"error\":{\"message\":"));
    PUT(buf_json_str(b, message, strlen(message)));
    PUT(buf_puts(b, ",\"type\":"));
    PUT(buf_json_str(b, type, strlen(type)));
    PUT(buf_puts(b, ",\"param\":null,\"code\":"));
    if (code) PUT(buf_json_str(b, code, strlen(code)));
    else PUT(buf_puts(b, "null"));
    PUT(buf_puts(b, "}}"));
}

static void request_id(const mock_call_t *call, mock_resp_t *resp)
{
    mock_resp_header(resp, "x-request-id", "req_%016llx", (unsigned long long)call->id);
}

static void limit_headers(const mock_limit_verdict_t *lv, mock_resp_t *resp)
{
    if (!lv) return;
    char d[48];
    if (lv->has_requests) {
        mock_fmt_duration(d, sizeof d, lv->reset_requests_ms);
        mock_resp_header(resp, "x-ratelimit-limit-requests", "%.0f", lv->rpm);
        mock_resp_header(resp, "x-ratelimit-remaining-requests", "%llu", (unsigned long long)lv->remaining_requests);
        mock_resp_header(resp, "x-ratelimit-reset-requests", "%s", d);
    }
    if (lv->has_tokens) {
        mock_fmt_duration(d, sizeof d, lv->reset_tokens_ms);
        mock_resp_header(resp, "x-ratelimit-limit-tokens", "%.0f", lv->tpm);
        mock_resp_header(resp, "x-ratelimit-remaining-tokens", "%llu", (unsigned long long)lv->remaining_tokens);
        mock_resp_header(resp, "x-ratelimit-reset-tokens", "%s", d);
    }
}

static int check(const mock_hdrs_t *h, const char *api_key, const mock_call_t *call, mock_resp_t *resp)
{
    if (!api_key) return 0;
    const char *a = h->authorization;
    if (!a || !*a) {
        request_id(call, resp);
        error_body(resp, 401,
                   "You didn't provide an API key. You need to provide your API key in an "
                   "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                   "invalid_request_error", NULL);
        return -1;
    }
    if (strncasecmp(a, "Bearer ", 7) != 0 || strcmp(a + 7, api_key) != 0) {
        request_id(call, resp);
        error_body(resp, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
        return -1;
    }
    return 0;
}

static int role_of(const char *s, mock_role_t *out)
{
    if (strcmp(s, "system") == 0 || strcmp(s, "developer") == 0) *out = MOCK_ROLE_SYSTEM;
    else if (strcmp(s, "user") == 0 || strcmp(s, "tool") == 0 || strcmp(s, "function") == 0) *out = MOCK_ROLE_USER;
    else if (strcmp(s, "assistant") == 0) *out = MOCK_ROLE_ASSISTANT;
    else return -1;
    return 0;
}

/* response_format: absent or {"type": "text"}: free text; {"type": "json_object"}, or
 * {"type": "json_schema", "json_schema": {"name", "schema", "strict"?, "description"?}}: the
 * reply is an object. */
static int parse_response_format(const cJSON *rf, mock_req_t *req, char *err, size_t errlen)
{
    if (!rf || cJSON_IsNull(rf)) return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
    if (!cJSON_IsObject(rf) || !cJSON_IsString(type)) {
        snprintf(err, errlen, "response_format.type: required, one of text, json_object, json_schema");
        return -1;
    }
    if (strcmp(type->valuestring, "text") == 0) return 0;
    if (strcmp(type->valuestring, "json_object") == 0) {
        req->structured = true;
        return 0;
    }
    if (strcmp(type->valuestring, "json_schema") != 0) {
        snprintf(err, errlen, "response_format.type: expected one of text, json_object, json_schema");
        return -1;
    }
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
    const cJSON *strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
    if (!cJSON_IsObject(js) || !cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > 64 ||
        strspn(name->valuestring, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            strlen(name->valuestring)) {
        snprintf(err, errlen, "response_format.json_schema.name: required, 1 to 64 of a-z A-Z 0-9 _ -");
        return -1;
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(js, "schema"))) {
        snprintf(err, errlen, "response_format.json_schema.schema: required, an object");
        return -1;
    }
    if (strict && !cJSON_IsBool(strict) && !cJSON_IsNull(strict)) {
        snprintf(err, errlen, "response_format.json_schema.strict: expected a boolean");
        return -1;
    }
    req->structured = true;
    req->tool = name->valuestring;
    return 0;
}

static int parse(const cJSON *root, const char *url_model, mock_req_t *req, char *err, size_t errlen)
{
    (void)url_model;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "request body: expected a JSON object");
        return -1;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(model) || !*model->valuestring) {
        snprintf(err, errlen, "model: required, a non-empty string");
        return -1;
    }
    req->model = model->valuestring;
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (cJSON_IsTrue(stream)) {
        snprintf(err, errlen, "stream: streaming replies are not supported by llmaj-mockllm");
        return -1;
    }
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
    if (n && !cJSON_IsNull(n) && !(cJSON_IsNumber(n) && n->valuedouble == 1)) {
        snprintf(err, errlen, "n: only 1 is supported");
        return -1;
    }
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (temp && !cJSON_IsNull(temp) && !(cJSON_IsNumber(temp) && temp->valuedouble >= 0 && temp->valuedouble <= 2)) {
        snprintf(err, errlen, "temperature: expected a number from 0 to 2");
        return -1;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens");
    const char *mt_name = "max_completion_tokens";
    if (!mt || cJSON_IsNull(mt)) {
        mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
        mt_name = "max_tokens";
    }
    if (mt && !cJSON_IsNull(mt) && mock_api_max_tokens(mt, mt_name, &req->max_tokens, err, errlen) < 0) return -1;

    if (parse_response_format(cJSON_GetObjectItemCaseSensitive(root, "response_format"), req, err, errlen) < 0)
        return -1;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "messages: required, a non-empty array");
        return -1;
    }
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        char where[64];
        if (!cJSON_IsObject(m)) {
            snprintf(err, errlen, "messages[%d]: expected an object", i);
            return -1;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        mock_role_t r;
        if (!cJSON_IsString(role) || role_of(role->valuestring, &r) < 0) {
            snprintf(err, errlen,
                     "messages[%d].role: expected one of system, developer, user, "
                     "assistant, tool",
                     i);
            return -1;
        }
        snprintf(where, sizeof where, "messages[%d].content", i);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!content && r != MOCK_ROLE_ASSISTANT) {
            snprintf(err, errlen, "%s: required", where);
            return -1;
        }
        if (mock_api_add_content(req, r, content, true, r == MOCK_ROLE_ASSISTANT, where, err, errlen) < 0) return -1;
        i++;
    }
    return 0;
}

static void reply(const mock_call_t *call, mock_resp_t *resp)
{
    const mock_gen_t *g = call->gen;
    buf_t *b = mock_resp_start(resp, 200);
    PUT(buf_printf(b, "{\"id\":\"chatcmpl-%016llx\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                   (unsigned long long)call->id, (long long)(call->now_unix_ms / 1000)));
    PUT(buf_json_str(b, call->req->model, strlen(call->req->model)));
    PUT(buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"));
    PUT(buf_json_str(b, g->text, g->len));
    PUT(buf_printf(b,
                   ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],"
                   "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%llu},"
                   "\"system_fingerprint\":\"fp_llmaj_mock\"}",
                   g->truncated ? "length" : "stop", g->input_tokens, g->output_tokens,
                   (unsigned long long)g->input_tokens + g->output_tokens));
    request_id(call, resp);
    mock_resp_header(resp, "openai-processing-ms", "%.0f", call->latency_ms);
    limit_headers(call->limits, resp);
}

static void error(const mock_call_t *call, mock_err_t kind, int status, const char *message, mock_resp_t *resp)
{
    request_id(call, resp);
    char msg[512];
    switch (kind) {
    case MOCK_ERR_INVALID: error_body(resp, 400, message, "invalid_request_error", NULL); return;
    case MOCK_ERR_AUTH:
        error_body(resp, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
        return;
    case MOCK_ERR_QUOTA:
        error_body(resp, 429,
                   "You exceeded your current quota, please check your plan and billing details. "
                   "For more information on this error, read the docs: "
                   "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                   "insufficient_quota", "insufficient_quota");
        return;
    case MOCK_ERR_RATE: {
        const mock_limit_verdict_t *lv = call->limits;
        char model[160], wait[48];
        mock_api_model_label(call->req ? call->req->model : "", model, sizeof model);
        mock_fmt_duration(wait, sizeof wait, lv->retry_after_ms);
        if (lv->by_tokens)
            snprintf(msg, sizeof msg,
                     "Rate limit reached for %s in organization org-llmaj-mock on "
                     "tokens per min (TPM): Limit %.0f, Remaining %llu, Requested %.0f. "
                     "Please try again in %s.",
                     model, lv->tpm, (unsigned long long)lv->remaining_tokens, lv->cost, wait);
        else
            snprintf(msg, sizeof msg,
                     "Rate limit reached for %s in organization org-llmaj-mock on "
                     "requests per min (RPM): Limit %.0f, Remaining %llu. Please try again in %s.",
                     model, lv->rpm, (unsigned long long)lv->remaining_requests, wait);
        error_body(resp, 429, msg, lv->by_tokens ? "tokens" : "requests", "rate_limit_exceeded");
        mock_resp_header(resp, "retry-after", "%.0f", ceil(lv->retry_after_ms / 1000.0));
        mock_resp_header(resp, "retry-after-ms", "%.0f", ceil(lv->retry_after_ms));
        limit_headers(lv, resp);
        return;
    }
    case MOCK_ERR_SERVER:
        if (status == 503) error_body(resp, status, "The server is overloaded or not ready yet.", "server_error", NULL);
        else
            error_body(resp, status, "The server had an error while processing your request. Sorry about that!",
                       "server_error", NULL);
        return;
    }
}

const mock_api_t mock_api_openai = {
    .name = "openai",
    .check = check,
    .parse = parse,
    .reply = reply,
    .error = error,
};
