/* provider_anthropic: the Anthropic Messages API (`anthropic/<model>`).
 *
 *   POST {base}/v1/messages
 *   x-api-key: KEY (when configured), anthropic-version: 2023-06-01, content-type: application/json
 *   {"model", "max_tokens", "system"?, "messages", "temperature", "top_p"?,
 *    "tools"?: [{"name", "description", "input_schema"}], "tool_choice"?: {"type": "tool", "name"}}
 *   -> the text blocks of content[] concatenated; usage.input_tokens (+ cache reads and writes,
 *      which the API counts apart) / output_tokens
 *
 * Structured output: one tool whose input schema is the object's, and tool_choice forcing it;
 * the first tool_use block's `input` is the object.
 *
 * Errors: 529 (overloaded_error) and the common transient statuses are retried; a credit or
 * billing problem (error type `billing_error`, HTTP 402, or a message saying the credit balance
 * is too low, which the API sends as a 400) is LLM_ERR_QUOTA.
 * Tokens: the API reserves max_tokens and settles on the output produced: charged the usage.
 * Environment: ANTHROPIC_API_KEY, unless ANTHROPIC_BASE_URL points at another server. */
#include "provider.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANTHROPIC_VERSION "2023-06-01"

static int anthropic_build(const provider_call_t *in, httpmsg_request_t *out, char *err, size_t errlen)
{
    const llm_req_t *req = in->req;
    if (provider_check_req(req, err, errlen) < 0) return -1;
    out->method = "POST";
    out->url = provider_url(in->endpoint->base_url, "v1/messages");
    httpmsg_headers_add(&out->headers, "content-type", "application/json");
    httpmsg_headers_add(&out->headers, "accept", "application/json");
    httpmsg_headers_add(&out->headers, "anthropic-version", ANTHROPIC_VERSION);
    if (in->endpoint->api_key && *in->endpoint->api_key)
        httpmsg_headers_add(&out->headers, "x-api-key", in->endpoint->api_key);
    buf_t *b = &out->body;
    const char *model = in->model->model ? in->model->model : "";
    if (buf_puts(b, "{\"model\":") < 0 || buf_json_str(b, model, strlen(model)) < 0 ||
        buf_printf(b, ",\"max_tokens\":%d", req->max_tokens) < 0)
        goto fail;
    if (req->system && (buf_puts(b, ",\"system\":") < 0 || buf_json_str(b, req->system, strlen(req->system)) < 0))
        goto fail;
    if (buf_puts(b, ",\"messages\":") < 0 || provider_json_messages(b, NULL, req) < 0 ||
        buf_puts(b, ",\"temperature\":") < 0 || provider_json_double(b, req->temperature) < 0)
        goto fail;
    if (req->top_p >= 0 && (buf_puts(b, ",\"top_p\":") < 0 || provider_json_double(b, req->top_p) < 0)) goto fail;
    if (req->schema) {
        const llm_schema_t *sc = req->schema;
        const char *desc = sc->description ? sc->description : "";
        if (buf_puts(b, ",\"tools\":[{\"name\":") < 0 || buf_json_str(b, sc->name, strlen(sc->name)) < 0 ||
            buf_puts(b, ",\"description\":") < 0 || buf_json_str(b, desc, strlen(desc)) < 0 ||
            provider_json_raw(b, "input_schema", sc->schema) < 0 ||
            buf_puts(b, "}],\"tool_choice\":{\"type\":\"tool\",\"name\":") < 0 ||
            buf_json_str(b, sc->name, strlen(sc->name)) < 0 || buf_putc(b, '}') < 0)
            goto fail;
    }
    if (buf_putc(b, '}') < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot encode the request body");
    return -1;
}

static int anthropic_parse_ok(const char *body, size_t len, bool structured, provider_reply_t *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = provider_parse_object("anthropic", body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    buf_t text;
    buf_init(&text, 0);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    if (!cJSON_IsArray(content)) {
        provider_error_info_t info;
        provider_error_info(body, len, &info);
        if (info.message[0]) snprintf(err, errlen, "reply from anthropic has no content: %s", info.message);
        else snprintf(err, errlen, "reply from anthropic has no content array");
        goto done;
    }
    const cJSON *block;
    cJSON_ArrayForEach(block, content)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "text");
        if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0 && cJSON_IsString(t) &&
            buf_puts(&text, t->valuestring) < 0)
            goto done;
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
        if (structured && !out->structured && cJSON_IsString(type) && strcmp(type->valuestring, "tool_use") == 0 &&
            cJSON_IsObject(input)) {
            out->structured = cJSON_PrintUnformatted(input);
            if (!out->structured) goto done;
            out->structured_len = strlen(out->structured);
        }
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        out->usage.input_tokens = provider_json_count(usage, "input_tokens") +
                                  provider_json_count(usage, "cache_creation_input_tokens") +
                                  provider_json_count(usage, "cache_read_input_tokens");
        out->usage.output_tokens = provider_json_count(usage, "output_tokens");
    }
    out->text_len = text.len;
    out->text = buf_take(&text);
    rc = 0;
done:
    if (rc < 0) provider_reply_clear(out);
    buf_free(&text);
    cJSON_Delete(root);
    return rc;
}

static llm_status_t anthropic_classify(long status, const char *body, size_t len, const httpmsg_headers_t *h, char *msg,
                                       size_t msglen)
{
    provider_error_info_t info;
    provider_error_info(body, len, &info);
    provider_error_text("anthropic", status, &info, body, len, msg, msglen);
    if (status == 402 || strcmp(info.type, "billing_error") == 0 ||
        strcasestr(info.message, "credit balance is too low"))
        return LLM_ERR_QUOTA;
    return provider_default_class(status, h);
}

static int anthropic_check_env(const modelstr_t *model, const modelstr_endpoint_t *endpoint, char *err, size_t errlen)
{
    return provider_need_key(model, endpoint, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", err, errlen);
}

const provider_t provider_anthropic = {
    .name = "anthropic",
    .structured = true,
    .build = anthropic_build,
    .before_send = NULL,
    .parse_ok = anthropic_parse_ok,
    .classify = anthropic_classify,
    .charge = NULL, /* the usage */
    .check_env = anthropic_check_env,
};
