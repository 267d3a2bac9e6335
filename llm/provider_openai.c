/* provider_openai: OpenAI Chat Completions, for `openai/<model>` and every OpenAI-compatible
 * server (`openai-api/<service>/<model>`: vLLM, llama.cpp, Ollama, ...).
 *
 *   POST {base}/chat/completions
 *   Authorization: Bearer KEY          (only when a key is configured)
 *   {"model", "messages": [system?, ...], "max_tokens", "temperature", "top_p"?,
 *    "response_format"?: {"type": "json_schema",
 *                         "json_schema": {"name", "description", "strict": true, "schema"}}}
 *   -> choices[0].message.content, usage.prompt_tokens / completion_tokens
 *
 * Structured output: with a schema, the content is the object itself; a content that is not a
 * JSON object (a server that ignored response_format) is kept as text.
 *
 * Quota: 429 (or any status) whose error code or type is `insufficient_quota` (also
 * `billing_hard_limit_reached`, `billing_not_active`), and 402, are LLM_ERR_QUOTA.
 * Tokens: charged prompt + max_tokens at admission (provider_charge_admitted).
 * Environment: `openai/` needs OPENAI_API_KEY unless OPENAI_BASE_URL points at another server;
 * `openai-api/<service>/` needs its base URL, which resolving the model string already checks. */
#include "provider.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int openai_build(const provider_call_t *in, httpmsg_request_t *out, char *err, size_t errlen)
{
    const llm_req_t *req = in->req;
    if (provider_check_req(req, err, errlen) < 0) return -1;
    provider_post_json(out, in->endpoint->base_url, "chat/completions");
    if (in->endpoint->api_key && *in->endpoint->api_key) {
        char *auth = xasprintf("Bearer %s", in->endpoint->api_key);
        httpmsg_headers_add(&out->headers, "Authorization", auth);
        free(auth);
    }
    buf_t *b = &out->body;
    const char *model = in->model->model ? in->model->model : "";
    if (buf_puts(b, "{\"model\":") < 0 || buf_json_str(b, model, strlen(model)) < 0 ||
        buf_puts(b, ",\"messages\":") < 0 || provider_json_messages(b, req->system, req) < 0 ||
        buf_printf(b, ",\"max_tokens\":%d,\"temperature\":", req->max_tokens) < 0 ||
        provider_json_double(b, req->temperature) < 0)
        goto fail;
    if (req->top_p >= 0 && (buf_puts(b, ",\"top_p\":") < 0 || provider_json_double(b, req->top_p) < 0)) goto fail;
    if (req->schema) {
        const llm_schema_t *sc = req->schema;
        const char *desc = sc->description ? sc->description : "";
        if (buf_puts(b, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":") < 0 ||
            buf_json_str(b, sc->name, strlen(sc->name)) < 0 || buf_puts(b, ",\"description\":") < 0 ||
            buf_json_str(b, desc, strlen(desc)) < 0 || buf_puts(b, ",\"strict\":true") < 0 ||
            provider_json_raw(b, "schema", sc->schema) < 0 || buf_puts(b, "}}") < 0)
            goto fail;
    }
    if (buf_putc(b, '}') < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot encode the request body");
    return -1;
}

static int openai_parse_ok(const char *body, size_t len, bool structured, provider_reply_t *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = provider_parse_object("openai", body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    buf_t text;
    buf_init(&text, 0);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    if (!cJSON_IsObject(msg)) {
        provider_error_info_t info;
        provider_error_info(body, len, &info);
        if (info.message[0]) snprintf(err, errlen, "reply from openai has no choices: %s", info.message);
        else snprintf(err, errlen, "reply from openai has no choices[0].message");
        goto done;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    if (provider_json_content(content, &text) < 0) {
        /* content null: a refusal is the model's answer; anything else (tool calls) is not text */
        buf_reset(&text);
        if (!cJSON_IsString(refusal) || buf_puts(&text, refusal->valuestring) < 0) {
            snprintf(err, errlen, "reply from openai has no text in choices[0].message.content");
            goto done;
        }
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        out->usage.input_tokens = provider_json_count(usage, "prompt_tokens");
        out->usage.output_tokens = provider_json_count(usage, "completion_tokens");
    }
    if (structured && cJSON_IsString(content)) { /* the content is the object, if it is one */
        cJSON *obj = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
        bool is_obj = cJSON_IsObject(obj);
        cJSON_Delete(obj);
        if (is_obj) {
            out->structured_len = text.len;
            out->structured = buf_take(&text);
        }
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

static int is_quota_code(const char *s)
{
    return strcmp(s, "insufficient_quota") == 0 || strcmp(s, "billing_hard_limit_reached") == 0 ||
           strcmp(s, "billing_not_active") == 0;
}

static llm_status_t openai_classify(long status, const char *body, size_t len, const httpmsg_headers_t *h, char *msg,
                                    size_t msglen)
{
    provider_error_info_t info;
    provider_error_info(body, len, &info);
    provider_error_text("openai", status, &info, body, len, msg, msglen);
    if (status == 402 || is_quota_code(info.code) || is_quota_code(info.type)) return LLM_ERR_QUOTA;
    return provider_default_class(status, h);
}

static int openai_check_env(const modelstr_t *model, const modelstr_endpoint_t *endpoint, char *err, size_t errlen)
{
    if (model->kind != PROVIDER_OPENAI) return 0; /* openai-api/: a base URL, keys optional */
    return provider_need_key(model, endpoint, "OPENAI_API_KEY", "OPENAI_BASE_URL", err, errlen);
}

const provider_t provider_openai = {
    .name = "openai",
    .structured = true,
    .build = openai_build,
    .before_send = NULL,
    .parse_ok = openai_parse_ok,
    .classify = openai_classify,
    .charge = provider_charge_admitted,
    .check_env = openai_check_env,
};
