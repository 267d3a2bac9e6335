/* mock_api_bedrock: the Bedrock Converse dialect of the mock LLM (POST /model/{modelId}/converse):
 * an Authorization header of the SigV4 scheme (its signature is not verified here), the request
 * body (messages, system, inferenceConfig), the Converse reply and Bedrock's errors (HTTP status,
 * x-amzn-ErrorType header, {"message": "..."} body). Bedrock sends no rate-limit headers. */
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
    uint64_t id = call->id;
    mock_resp_header(resp, "x-amzn-RequestId", "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(id >> 32),
                     (unsigned)(id >> 16) & 0xffff, (unsigned)id & 0xfff, (unsigned)(id >> 20) & 0xfff,
                     (unsigned long long)(id * 0x9e3779b97f4a7c15ULL) & 0xffffffffffffULL);
}

static void error_body(const mock_call_t *call, mock_resp_t *resp, int status, const char *type, const char *message)
{
    buf_t *b = mock_resp_start(resp, status);
    PUT(buf_puts(b, "{\"message\":"));
    PUT(buf_json_str(b, message, strlen(message)));
    PUT(buf_putc(b, '}'));
    request_id(call, resp);
    mock_resp_header(resp, "x-amzn-ErrorType", "%s", type);
}

static int check(const mock_hdrs_t *h, const char *api_key, const mock_call_t *call, mock_resp_t *resp)
{
    (void)api_key; /* Bedrock signs requests: --api-key does not apply */
    const char *a = h->authorization;
    if (!a || !*a) {
        error_body(call, resp, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
        return -1;
    }
    size_t n = strlen(SIGV4_SCHEME);
    if (strncmp(a, SIGV4_SCHEME, n) != 0 || (a[n] != ' ' && a[n] != '\0')) {
        error_body(call, resp, 403, "IncompleteSignatureException",
                   "Authorization header must use the AWS4-HMAC-SHA256 signature scheme "
                   "(AWS Signature Version 4).");
        return -1;
    }
    return 0;
}

static int number_in(const cJSON *o, const char *key, double lo, double hi, const char *where, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
        snprintf(err, errlen, "%s.%s: expected a number from %g to %g", where, key, lo, hi);
        return -1;
    }
    return 0;
}

/* toolConfig: {"tools": [{"toolSpec": {"name", "description"?, "inputSchema": {"json"}}}],
 * "toolChoice"?: {"auto": {}} | {"any": {}} | {"tool": {"name"}}}. A forced tool asks for
 * structured output: the reply is that tool's toolUse block. */
static int parse_tool_config(const cJSON *tc, mock_req_t *req, char *err, size_t errlen)
{
    req->aside_ok = true;
    if (!tc) return 0;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(tc, "tools");
    if (!cJSON_IsObject(tc) || !cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0) {
        snprintf(err, errlen, "toolConfig.tools: required, a non-empty array");
        return -1;
    }
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(t, "toolSpec");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(spec, "name");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(spec, "inputSchema");
        if (!cJSON_IsObject(spec) || !cJSON_IsString(name) || !*name->valuestring ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(schema, "json"))) {
            snprintf(err, errlen, "toolConfig.tools[%d].toolSpec: needs a name and inputSchema.json", i);
            return -1;
        }
        i++;
    }
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(tc, "toolChoice");
    const cJSON *forced = cJSON_GetObjectItemCaseSensitive(choice, "tool");
    if (!forced) return 0; /* auto, any: the model chooses */
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(forced, "name");
    if (!cJSON_IsString(name)) {
        snprintf(err, errlen, "toolConfig.toolChoice.tool.name: required");
        return -1;
    }
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "toolSpec"), "name");
        if (strcmp(tn->valuestring, name->valuestring) == 0) {
            req->structured = true;
            req->tool = name->valuestring;
            return 0;
        }
    }
    snprintf(err, errlen, "toolConfig.toolChoice.tool.name: no tool named `%.64s`", name->valuestring);
    return -1;
}

static int parse(const cJSON *root, const char *url_model, mock_req_t *req, char *err, size_t errlen)
{
    if (!url_model || !*url_model) {
        snprintf(err, errlen, "modelId: the URL must name a model: /model/{modelId}/converse");
        return -1;
    }
    req->model = url_model;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "request body: expected a JSON object");
        return -1;
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "inferenceConfig");
    if (cfg) {
        if (!cJSON_IsObject(cfg)) {
            snprintf(err, errlen, "inferenceConfig: expected an object");
            return -1;
        }
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "maxTokens");
        if (mt && mock_api_max_tokens(mt, "inferenceConfig.maxTokens", &req->max_tokens, err, errlen) < 0) return -1;
        if (number_in(cfg, "temperature", 0, 1, "inferenceConfig", err, errlen) < 0 ||
            number_in(cfg, "topP", 0, 1, "inferenceConfig", err, errlen) < 0)
            return -1;
    }
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(root, "system");
    if (system && mock_api_add_content(req, MOCK_ROLE_SYSTEM, system, false, false, "system", err, errlen) < 0)
        return -1;
    if (parse_tool_config(cJSON_GetObjectItemCaseSensitive(root, "toolConfig"), req, err, errlen) < 0) return -1;

    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "messages: required, a non-empty array");
        return -1;
    }
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!cJSON_IsObject(m)) {
            snprintf(err, errlen, "messages[%d]: expected an object", i);
            return -1;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        mock_role_t r;
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) r = MOCK_ROLE_USER;
        else if (cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0) r = MOCK_ROLE_ASSISTANT;
        else {
            snprintf(err, errlen, "messages[%d].role: expected \"user\" or \"assistant\"", i);
            return -1;
        }
        char where[64];
        snprintf(where, sizeof where, "messages[%d].content", i);
        if (mock_api_add_content(req, r, cJSON_GetObjectItemCaseSensitive(m, "content"), false, false, where, err,
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
    PUT(buf_puts(b, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["));
    if (g->structured) { /* the forced tool's call, after any text beside it */
        if (g->aside) {
            PUT(buf_puts(b, "{\"text\":"));
            PUT(buf_json_str(b, g->aside, g->aside_len));
            PUT(buf_puts(b, "},"));
        }
        const char *tool = call->req->tool ? call->req->tool : "tool";
        PUT(buf_printf(b,
                       "{\"toolUse\":{\"toolUseId\":\"tooluse_mock%016llx\",\"name\":", (unsigned long long)call->id));
        PUT(buf_json_str(b, tool, strlen(tool)));
        PUT(buf_puts(b, ",\"input\":"));
        PUT(buf_append(b, g->text, g->len));
        PUT(buf_putc(b, '}'));
    } else {
        PUT(buf_puts(b, "{\"text\":"));
        PUT(buf_json_str(b, g->text, g->len));
    }
    PUT(buf_printf(b,
                   "}]}},\"stopReason\":\"%s\",\"usage\":{\"inputTokens\":%u,\"outputTokens\":%u,"
                   "\"totalTokens\":%llu},\"metrics\":{\"latencyMs\":%.0f}}",
                   g->structured  ? "tool_use"
                   : g->truncated ? "max_tokens"
                                  : "end_turn",
                   g->input_tokens, g->output_tokens, (unsigned long long)g->input_tokens + g->output_tokens,
                   call->latency_ms));
    request_id(call, resp);
}

static void error(const mock_call_t *call, mock_err_t kind, int status, const char *message, mock_resp_t *resp)
{
    switch (kind) {
    case MOCK_ERR_INVALID: error_body(call, resp, 400, "ValidationException", message); return;
    case MOCK_ERR_AUTH:
        error_body(call, resp, 403, "UnrecognizedClientException",
                   "The security token included in the request is invalid.");
        return;
    case MOCK_ERR_QUOTA:
        error_body(call, resp, 403, "AccessDeniedException",
                   "Your account has exhausted its quota for this model (service quota or spend "
                   "limit reached). Request a quota increase or wait for the quota to reset.");
        return;
    case MOCK_ERR_RATE:
        error_body(call, resp, 429, "ThrottlingException", "Too many requests, please wait before trying again.");
        return;
    case MOCK_ERR_SERVER:
        if (status == 503)
            error_body(call, resp, status, "ServiceUnavailableException", "Bedrock is unable to process your request.");
        else
            error_body(call, resp, status, "InternalServerException",
                       "The server encountered an internal error while processing the request.");
        return;
    }
}

const mock_api_t mock_api_bedrock = {
    .name = "bedrock",
    .check = check,
    .parse = parse,
    .reply = reply,
    .error = error,
};
