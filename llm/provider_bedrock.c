/* provider_bedrock: the Amazon Bedrock Converse API (`bedrock/<model-id>`, bare Bedrock ids,
 * the nova-textgeneration-* names).
 *
 *   POST {endpoint}/model/{model id, percent-encoded}/converse
 *   Content-Type: application/json, SigV4 (service `bedrock`) added by before_send
 *   {"messages": [{"role", "content": [{"text"}]}], "system"?: [{"text"}],
 *    "inferenceConfig": {"maxTokens", "temperature", "topP"?},
 *    "toolConfig"?: {"tools": [{"toolSpec": {"name", "description", "inputSchema": {"json"}}}],
 *                    "toolChoice": {"tool": {"name"}}}}
 *   -> the text blocks of output.message.content[] concatenated; usage.inputTokens (+ cache
 *      reads and writes, which Converse counts apart) / outputTokens
 *
 * Structured output: one tool whose input schema is the object's, forced by toolChoice; the
 * first toolUse block's `input` is the object. Models that cannot be forced to a tool answer
 * 400 ValidationException, and llm.c asks them again without it.
 *
 * The model id may be an inference profile id (us.amazon.nova-lite-v1:0) or an ARN: it is one
 * path segment, so `:` and `/` are percent-encoded, as the AWS SDKs send it.
 *
 * Errors (AWS names the error in the x-amzn-ErrorType header and the message in the body's
 * `message`): ThrottlingException, TooManyRequestsException, ServiceUnavailableException,
 * ModelNotReadyException, InternalServerException, ModelTimeoutException, 408, 429 and 5xx are
 * transient; ServiceQuotaExceededException, and AccessDeniedException whose message speaks of a
 * quota, are LLM_ERR_QUOTA; ValidationException, ResourceNotFoundException and other 4xx are
 * permanent. Expired or unknown credentials also drop the credential cache so that the next
 * call reads rotated keys.
 * Tokens: Bedrock reserves max_tokens and settles on the output produced: charged the usage.
 * Environment: nothing to check before sending: credentials are found when a call is signed. */
#include "provider.h"
#include "provider_aws.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BEDROCK_SERVICE "bedrock"

static int bedrock_build(const provider_call_t *in, httpmsg_request_t *out, char *err, size_t errlen)
{
    const llm_req_t *req = in->req;
    if (provider_check_req(req, err, errlen) < 0) return -1;
    const char *model = in->model->model;
    if (!model || !*model) {
        snprintf(err, errlen, "model string `%s` names no Bedrock model id", in->model->input ? in->model->input : "");
        return -1;
    }
    if (provider_aws_post_json(out, in->endpoint->base_url, "model/", model, "/converse", err, errlen) < 0) return -1;

    buf_t *b = &out->body;
    if (buf_puts(b, "{\"messages\":[") < 0) goto fail;
    for (size_t i = 0; i < req->n_msgs; i++) {
        const llm_msg_t *m = &req->msgs[i];
        if ((i && buf_putc(b, ',') < 0) || buf_puts(b, "{\"role\":") < 0 ||
            buf_json_str(b, m->role, strlen(m->role)) < 0 || buf_puts(b, ",\"content\":[{\"text\":") < 0 ||
            buf_json_str(b, m->content, strlen(m->content)) < 0 || buf_puts(b, "}]}") < 0)
            goto fail;
    }
    if (buf_putc(b, ']') < 0) goto fail;
    /* an empty system prompt means none: Converse rejects blank text blocks */
    if (req->system && *req->system &&
        (buf_puts(b, ",\"system\":[{\"text\":") < 0 || buf_json_str(b, req->system, strlen(req->system)) < 0 ||
         buf_puts(b, "}]") < 0))
        goto fail;
    if (buf_printf(b, ",\"inferenceConfig\":{\"maxTokens\":%d,\"temperature\":", req->max_tokens) < 0 ||
        provider_json_double(b, req->temperature) < 0)
        goto fail;
    if (req->top_p >= 0 && (buf_puts(b, ",\"topP\":") < 0 || provider_json_double(b, req->top_p) < 0)) goto fail;
    if (buf_putc(b, '}') < 0) goto fail;
    if (req->schema) {
        const llm_schema_t *sc = req->schema;
        const char *desc = sc->description ? sc->description : "";
        if (buf_puts(b, ",\"toolConfig\":{\"tools\":[{\"toolSpec\":{\"name\":") < 0 ||
            buf_json_str(b, sc->name, strlen(sc->name)) < 0 || buf_puts(b, ",\"description\":") < 0 ||
            buf_json_str(b, desc, strlen(desc)) < 0 || buf_puts(b, ",\"inputSchema\":{\"json\":") < 0 ||
            buf_puts(b, sc->schema) < 0 || buf_puts(b, "}}}],\"toolChoice\":{\"tool\":{\"name\":") < 0 ||
            buf_json_str(b, sc->name, strlen(sc->name)) < 0 || buf_puts(b, "}}}") < 0)
            goto fail;
    }
    if (buf_putc(b, '}') < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot encode the request body");
    return -1;
}

static int bedrock_before_send(const modelstr_t *model, const modelstr_endpoint_t *endpoint, httpmsg_request_t *req,
                               char *err, size_t errlen)
{
    return provider_aws_sign(model, endpoint, BEDROCK_SERVICE, req, err, errlen);
}

static int bedrock_parse_ok(const char *body, size_t len, bool structured, provider_reply_t *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = provider_parse_object(BEDROCK_SERVICE, body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    buf_t text;
    buf_init(&text, 0);
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output");
    const cJSON *msg = cJSON_IsObject(output) ? cJSON_GetObjectItemCaseSensitive(output, "message") : NULL;
    const cJSON *content = cJSON_IsObject(msg) ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    if (!cJSON_IsArray(content)) {
        provider_error_info_t info;
        provider_aws_error_info(body, len, NULL, &info);
        if (info.message[0]) snprintf(err, errlen, "reply from bedrock has no output message: %s", info.message);
        else snprintf(err, errlen, "reply from bedrock has no output.message.content array");
        goto done;
    }
    /* text blocks, and the first toolUse as the object when one was asked for; reasoningContent
     * and the like are not the answer */
    const cJSON *block;
    cJSON_ArrayForEach(block, content)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "text");
        if (cJSON_IsString(t) && buf_puts(&text, t->valuestring) < 0) goto done;
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(block, "toolUse");
        const cJSON *input = cJSON_IsObject(use) ? cJSON_GetObjectItemCaseSensitive(use, "input") : NULL;
        if (structured && !out->structured && cJSON_IsObject(input)) {
            out->structured = cJSON_PrintUnformatted(input);
            if (!out->structured) goto done;
            out->structured_len = strlen(out->structured);
        }
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        out->usage.input_tokens = provider_json_count(usage, "inputTokens") +
                                  provider_json_count(usage, "cacheReadInputTokens") +
                                  provider_json_count(usage, "cacheWriteInputTokens");
        out->usage.output_tokens = provider_json_count(usage, "outputTokens");
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

static int type_is(const char *type, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(type, *names) == 0) return 1;
    return 0;
}

static llm_status_t bedrock_classify(long status, const char *body, size_t len, const httpmsg_headers_t *h, char *msg,
                                     size_t msglen)
{
    static const char *const transient[] = {
        "ThrottlingException",    "TooManyRequestsException", "ServiceUnavailableException",
        "ModelNotReadyException", "InternalServerException",  "ModelTimeoutException",
        "ServiceUnavailable",     "InternalFailure",          NULL};
    static const char *const permanent[] = {"ValidationException", "ResourceNotFoundException", NULL};
    provider_error_info_t info;
    provider_aws_error_info(body, len, h, &info);
    provider_error_text(BEDROCK_SERVICE, status, &info, body, len, msg, msglen);
    if (strcmp(info.type, "ServiceQuotaExceededException") == 0 ||
        (strcmp(info.type, "AccessDeniedException") == 0 && strcasestr(info.message, "quota")))
        return LLM_ERR_QUOTA;
    if (provider_aws_creds_rejected(info.type)) provider_aws_forget_credentials();
    if (type_is(info.type, transient)) return LLM_ERR_TRANSIENT;
    if (type_is(info.type, permanent)) return LLM_ERR_PERMANENT;
    if (status == 408 || status == 429 || status >= 500) return LLM_ERR_TRANSIENT;
    return LLM_ERR_PERMANENT;
}

const provider_t provider_bedrock = {
    .name = BEDROCK_SERVICE,
    .structured = true,
    .build = bedrock_build,
    .before_send = bedrock_before_send,
    .parse_ok = bedrock_parse_ok,
    .classify = bedrock_classify,
    .charge = NULL,    /* the usage */
    .check_env = NULL, /* credentials are looked up when a call is signed */
};
