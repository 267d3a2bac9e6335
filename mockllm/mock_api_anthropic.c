/* mock_api_anthropic: the Anthropic Messages dialect of the mock LLM (POST .../v1/messages):
 * x-api-key auth, the required anthropic-version header, the request body (system, messages,
 * max_tokens), the message reply, the anthropic-ratelimit-* headers and Anthropic's error bodies
 * ({"type": "error", "error": {type, message}}). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_api.h"

#define PUT(call)                \
    do {                         \
        if ((call) < 0) abort(); \
    } while (0) /* unbounded buffers */

static void error_body(mock_resp_t *resp, int status, const char *type, const char *message)
{
    buf_t *b = mock_resp_start(resp, status);
    PUT(buf_puts(b, "{\"type\":\"error\",\"error\":{\"type\":"));
    PUT(buf_json_str(b, type, strlen(type)));
    PUT(buf_puts(b, ",\"message\":"));
    PUT(buf_json_str(b, message, strlen(message)));
    PUT(buf_puts(b, "}}"));
}

static void request_id(const mock_call_t *call, mock_resp_t *resp)
{
    mock_resp_header(resp, "request-id", "req_%016llx", (unsigned long long)call->id);
}

static void limit_headers(const mock_call_t *call, mock_resp_t *resp)
{
    const mock_limit_verdict_t *lv = call->limits;
    if (!lv) return;
    char t[48];
    if (lv->has_requests) {
        mock_fmt_rfc3339(t, sizeof t, call->now_unix_ms + lv->reset_requests_ms);
        mock_resp_header(resp, "anthropic-ratelimit-requests-limit", "%.0f", lv->rpm);
        mock_resp_header(resp, "anthropic-ratelimit-requests-remaining", "%llu",
                         (unsigned long long)lv->remaining_requests);
        mock_resp_header(resp, "anthropic-ratelimit-requests-reset", "%s", t);
    }
    if (lv->has_tokens) {
        mock_fmt_rfc3339(t, sizeof t, call->now_unix_ms + lv->reset_tokens_ms);
        mock_resp_header(resp, "anthropic-ratelimit-tokens-limit", "%.0f", lv->tpm);
        mock_resp_header(resp, "anthropic-ratelimit-tokens-remaining", "%llu",
                         (unsigned long long)lv->remaining_tokens);
        mock_resp_header(resp, "anthropic-ratelimit-tokens-reset", "%s", t);
    }
}

static int check(const mock_hdrs_t *h, const char *api_key, const mock_call_t *call, mock_resp_t *resp)
{
    if (api_key && (!h->x_api_key || strcmp(h->x_api_key, api_key) != 0)) {
        request_id(call, resp);
        error_body(resp, 401, "authentication_error",
                   h->x_api_key ? "invalid x-api-key" : "x-api-key header is required");
        return -1;
    }
    if (!h->anthropic_version || !*h->anthropic_version) {
        request_id(call, resp);
        error_body(resp, 400, "invalid_request_error", "anthropic-version: header is required");
        return -1;
    }
    return 0;
}

/* tools: [{"name", "description"?, "input_schema"}], tool_choice: {"type": "auto" | "any" | "none" |
 * "tool", "name"?}. A forced tool ("tool") asks for structured output: the reply is that tool's
 * tool_use block. */
static int parse_tools(const cJSON *root, mock_req_t *req, char *err, size_t errlen)
{
    req->aside_ok = true;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    if (tools && !cJSON_IsArray(tools)) {
        snprintf(err, errlen, "tools: Input should be a valid list");
        return -1;
    }
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsObject(t) || !cJSON_IsString(name) || !*name->valuestring) {
            snprintf(err, errlen, "tools.%d.name: Field required", i);
            return -1;
        }
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t, "input_schema"))) {
            snprintf(err, errlen, "tools.%d.input_schema: Field required", i);
            return -1;
        }
        i++;
    }
    if (!choice) return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(choice, "type");
    if (!cJSON_IsObject(choice) || !cJSON_IsString(type)) {
        snprintf(err, errlen, "tool_choice.type: Field required");
        return -1;
    }
    if (strcmp(type->valuestring, "tool") != 0) return 0; /* auto, any, none: the model chooses */
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(choice, "name");
    if (!cJSON_IsString(name)) {
        snprintf(err, errlen, "tool_choice.name: Field required");
        return -1;
    }
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (strcmp(tn->valuestring, name->valuestring) == 0) {
            req->structured = true;
            req->tool = name->valuestring;
            return 0;
        }
    }
    snprintf(err, errlen, "tool_choice.name: no tool named `%.64s` in tools", name->valuestring);
    return -1;
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
        snprintf(err, errlen, "model: Field required (a non-empty string)");
        return -1;
    }
    req->model = model->valuestring;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (!mt) {
        snprintf(err, errlen, "max_tokens: Field required");
        return -1;
    }
    if (mock_api_max_tokens(mt, "max_tokens", &req->max_tokens, err, errlen) < 0) return -1;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"))) {
        snprintf(err, errlen, "stream: streaming replies are not supported by llmaj-mockllm");
        return -1;
    }
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (temp && !(cJSON_IsNumber(temp) && temp->valuedouble >= 0 && temp->valuedouble <= 1)) {
        snprintf(err, errlen, "temperature: expected a number from 0 to 1");
        return -1;
    }
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(root, "system");
    if (system && mock_api_add_content(req, MOCK_ROLE_SYSTEM, system, true, false, "system", err, errlen) < 0)
        return -1;

    if (parse_tools(root, req, err, errlen) < 0) return -1;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs)) {
        snprintf(err, errlen, "messages: Field required (an array)");
        return -1;
    }
    if (cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "messages: at least one message is required");
        return -1;
    }
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!cJSON_IsObject(m)) {
            snprintf(err, errlen, "messages.%d: expected an object", i);
            return -1;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        mock_role_t r;
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) r = MOCK_ROLE_USER;
        else if (cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0) r = MOCK_ROLE_ASSISTANT;
        else {
            snprintf(err, errlen, "messages.%d.role: Input should be 'user' or 'assistant'", i);
            return -1;
        }
        char where[64];
        snprintf(where, sizeof where, "messages.%d.content", i);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!content) {
            snprintf(err, errlen, "%s: Field required", where);
            return -1;
        }
        if (mock_api_add_content(req, r, content, true, false, where, err, errlen) < 0) return -1;
        i++;
    }
    return 0;
}

static void reply(const mock_call_t *call, mock_resp_t *resp)
{
    const mock_gen_t *g = call->gen;
    buf_t *b = mock_resp_start(resp, 200);
    PUT(buf_printf(b, "{\"id\":\"msg_mock%016llx\",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
                   (unsigned long long)call->id));
    PUT(buf_json_str(b, call->req->model, strlen(call->req->model)));
    if (g->structured) { /* the forced tool's call, after any text beside it */
        PUT(buf_puts(b, ",\"content\":["));
        if (g->aside) {
            PUT(buf_puts(b, "{\"type\":\"text\",\"text\":"));
            PUT(buf_json_str(b, g->aside, g->aside_len));
            PUT(buf_puts(b, "},"));
        }
        const char *tool = call->req->tool ? call->req->tool : "tool";
        PUT(buf_printf(b,
                       "{\"type\":\"tool_use\",\"id\":\"toolu_mock%016llx\",\"name\":", (unsigned long long)call->id));
        PUT(buf_json_str(b, tool, strlen(tool)));
        PUT(buf_puts(b, ",\"input\":"));
        PUT(buf_append(b, g->text, g->len));
        PUT(buf_printf(b,
                       "}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
                       "\"usage\":{\"input_tokens\":%u,\"output_tokens\":%u}}",
                       g->input_tokens, g->output_tokens));
    } else {
        PUT(buf_puts(b, ",\"content\":[{\"type\":\"text\",\"text\":"));
        PUT(buf_json_str(b, g->text, g->len));
        PUT(buf_printf(b,
                       "}],\"stop_reason\":\"%s\",\"stop_sequence\":null,"
                       "\"usage\":{\"input_tokens\":%u,\"output_tokens\":%u}}",
                       g->truncated ? "max_tokens" : "end_turn", g->input_tokens, g->output_tokens));
    }
    request_id(call, resp);
    limit_headers(call, resp);
}

static void error(const mock_call_t *call, mock_err_t kind, int status, const char *message, mock_resp_t *resp)
{
    request_id(call, resp);
    char msg[512];
    switch (kind) {
    case MOCK_ERR_INVALID: error_body(resp, 400, "invalid_request_error", message); return;
    case MOCK_ERR_AUTH: error_body(resp, 401, "authentication_error", "invalid x-api-key"); return;
    case MOCK_ERR_QUOTA:
        error_body(resp, 400, "invalid_request_error",
                   "Your credit balance is too low to access the Anthropic API. Please go to "
                   "Plans & Billing to upgrade or purchase credits.");
        return;
    case MOCK_ERR_RATE: {
        const mock_limit_verdict_t *lv = call->limits;
        if (lv->by_tokens)
            snprintf(msg, sizeof msg,
                     "This request would exceed the rate limit for your organization "
                     "of %.0f tokens per minute. Please try again after the retry-after period.",
                     lv->tpm);
        else
            snprintf(msg, sizeof msg,
                     "This request would exceed the rate limit for your organization "
                     "of %.0f requests per minute. Please try again after the retry-after period.",
                     lv->rpm);
        error_body(resp, 429, "rate_limit_error", msg);
        mock_resp_header(resp, "retry-after", "%.0f", ceil(lv->retry_after_ms / 1000.0));
        limit_headers(call, resp);
        return;
    }
    case MOCK_ERR_SERVER:
        if (status == 529 || status == 503) error_body(resp, status, "overloaded_error", "Overloaded");
        else error_body(resp, status, "api_error", "Internal server error");
        return;
    }
}

const mock_api_t mock_api_anthropic = {
    .name = "anthropic",
    .check = check,
    .parse = parse,
    .reply = reply,
    .error = error,
};
