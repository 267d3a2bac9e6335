/* provider_sagemaker: SageMaker InvokeEndpoint for LLM containers (`sagemaker/<endpoint>` or an
 * endpoint ARN), in the two request shapes the spec's `sagemaker_api` chooses (llm_req_t.api):
 *
 *   POST {endpoint}/endpoints/{name}/invocations
 *   Content-Type: application/json, SigV4 (service `sagemaker`) added by before_send
 *   "messages" (default; the OpenAI-compatible API of the LMI / vLLM containers, and of TGI's
 *   /v1/chat/completions route):
 *     {"messages": [system?, ...OpenAI-style], "max_tokens", "temperature", "top_p"?}
 *   "tgi" (Hugging Face TGI's native route):
 *     {"inputs": TEXT, "parameters": {"max_new_tokens", "return_full_text": false, "details": true,
 *      "do_sample", "temperature"? (only when > 0: TGI refuses 0), "top_p"? (only in (0, 1))}}
 *     where TEXT is the user message as it is for one turn (after the system prompt and a blank
 *     line when there is one), or "User: ...\n\nAssistant: ...\n\nUser: ...\n\nAssistant:"
 *     for a conversation (the judge's re-ask).
 *   -> choices[0].message.content and usage.prompt_tokens / completion_tokens, or
 *      [{"generated_text": ...}] / {"generated_text": ...} (output tokens from
 *      details.generated_tokens when given): either shape is read whatever was sent
 *
 * Errors: a container error comes back as HTTP 424 with x-amzn-ErrorType ModelError and a body
 * {"ErrorCode", "Message", "OriginalStatusCode", "OriginalMessage", "LogStreamArn"}: it is
 * transient when the container answered 408, 429 or 5xx, else permanent. ThrottlingException
 * (which SageMaker sends with HTTP 400), ModelNotReadyException, ServiceUnavailable,
 * InternalFailure, InternalDependencyException, 408, 429 and 5xx are transient; ValidationError
 * and other 4xx are permanent.
 * Tokens: no provider token limit; the spec's tpm counts the usage.
 * Structured output: none (containers differ); judges' verdicts are read from the text. */
#include "provider.h"
#include "provider_aws.h"
#include "mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SAGEMAKER_SERVICE "sagemaker"

/* TGI's {"inputs", "parameters"}. */
static int build_tgi(const llm_req_t *req, const char *system, buf_t *b, char *err, size_t errlen)
{
    buf_t text;
    buf_init(&text, 0);
    int rc = 0;
    if (system && (buf_puts(&text, system) < 0 || buf_puts(&text, "\n\n") < 0)) rc = -1;
    if (req->n_msgs == 1) {
        if (rc == 0 && buf_puts(&text, req->msgs[0].content) < 0) rc = -1;
    } else {
        for (size_t i = 0; rc == 0 && i < req->n_msgs; i++) {
            const llm_msg_t *m = &req->msgs[i];
            if (buf_printf(&text, "%s%s: %s", i ? "\n\n" : "", strcmp(m->role, "user") == 0 ? "User" : "Assistant",
                           m->content) < 0)
                rc = -1;
        }
        if (rc == 0 && buf_puts(&text, "\n\nAssistant:") < 0) rc = -1;
    }
    if (rc == 0 && (buf_puts(b, "{\"inputs\":") < 0 || buf_json_str(b, text.data ? text.data : "", text.len) < 0 ||
                    buf_printf(b, ",\"parameters\":{\"max_new_tokens\":%d,\"return_full_text\":false,\"details\":true",
                               req->max_tokens) < 0))
        rc = -1;
    if (rc == 0 && req->temperature > 0 &&
        (buf_puts(b, ",\"do_sample\":true,\"temperature\":") < 0 || provider_json_double(b, req->temperature) < 0))
        rc = -1;
    else if (rc == 0 && !(req->temperature > 0) && buf_puts(b, ",\"do_sample\":false") < 0) rc = -1;
    if (rc == 0 && req->top_p > 0 && req->top_p < 1 &&
        (buf_puts(b, ",\"top_p\":") < 0 || provider_json_double(b, req->top_p) < 0))
        rc = -1;
    if (rc == 0 && buf_puts(b, "}}") < 0) rc = -1;
    buf_free(&text);
    if (rc < 0) snprintf(err, errlen, "cannot encode the request body");
    return rc;
}

static int sagemaker_build(const provider_call_t *in, httpmsg_request_t *out, char *err, size_t errlen)
{
    const llm_req_t *req = in->req;
    if (provider_check_req(req, err, errlen) < 0) return -1;
    const char *name = in->model->service && *in->model->service ? in->model->service : in->model->model;
    if (!name || !*name) {
        snprintf(err, errlen, "model string `%s` names no SageMaker endpoint",
                 in->model->input ? in->model->input : "");
        return -1;
    }
    if (provider_aws_post_json(out, in->endpoint->base_url, "endpoints/", name, "/invocations", err, errlen) < 0)
        return -1;

    buf_t *b = &out->body;
    const char *system = req->system && *req->system ? req->system : NULL;
    if (req->api && strcmp(req->api, "tgi") == 0) return build_tgi(req, system, b, err, errlen);
    if (req->api && strcmp(req->api, "messages") != 0) {
        snprintf(err, errlen, "unknown SageMaker request shape `%s` (messages or tgi)", req->api);
        return -1;
    }
    if (buf_puts(b, "{\"messages\":") < 0 || provider_json_messages(b, system, req) < 0 ||
        buf_printf(b, ",\"max_tokens\":%d,\"temperature\":", req->max_tokens) < 0 ||
        provider_json_double(b, req->temperature) < 0)
        goto fail;
    if (req->top_p >= 0 && (buf_puts(b, ",\"top_p\":") < 0 || provider_json_double(b, req->top_p) < 0)) goto fail;
    if (buf_putc(b, '}') < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot encode the request body");
    return -1;
}

static int sagemaker_before_send(const modelstr_t *model, const modelstr_endpoint_t *endpoint, httpmsg_request_t *req,
                                 char *err, size_t errlen)
{
    return provider_aws_sign(model, endpoint, SAGEMAKER_SERVICE, req, err, errlen);
}

/* The chat-completions shape. 1 when root is not that shape, 0 done, -1 with err. */
static int parse_chat(const cJSON *root, provider_reply_t *out, buf_t *text, char *err, size_t errlen)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!cJSON_IsArray(choices)) return 1;
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    const cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    if (!cJSON_IsObject(msg) || provider_json_content(cJSON_GetObjectItemCaseSensitive(msg, "content"), text) < 0) {
        snprintf(err, errlen, "reply from sagemaker has no text in choices[0].message.content");
        return -1;
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        out->usage.input_tokens = provider_json_count(usage, "prompt_tokens");
        out->usage.output_tokens = provider_json_count(usage, "completion_tokens");
    }
    return 0;
}

/* {"generated_text": ..., "details"?: {"generated_tokens"}}. 1 when obj is not that shape, 0 done,
 * -1 with err. */
static int parse_generated(const cJSON *obj, provider_reply_t *out, buf_t *text, char *err, size_t errlen)
{
    const cJSON *g = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "generated_text") : NULL;
    if (!cJSON_IsString(g)) return 1;
    if (buf_puts(text, g->valuestring) < 0) {
        snprintf(err, errlen, "cannot hold the reply from sagemaker");
        return -1;
    }
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(obj, "details");
    if (cJSON_IsObject(details)) out->usage.output_tokens = provider_json_count(details, "generated_tokens");
    return 0;
}

static int sagemaker_parse_ok(const char *body, size_t len, bool structured, provider_reply_t *out, char *err,
                              size_t errlen)
{
    (void)structured; /* never asked for: .structured is false */
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root) && !cJSON_IsArray(root)) {
        snprintf(err, errlen, "reply from sagemaker is not JSON (%zu bytes)", len);
        cJSON_Delete(root);
        return -1;
    }
    buf_t text;
    buf_init(&text, 0);
    int rc;
    if (cJSON_IsArray(root)) {
        rc = parse_generated(cJSON_GetArrayItem(root, 0), out, &text, err, errlen);
    } else {
        rc = parse_chat(root, out, &text, err, errlen);
        if (rc == 1) rc = parse_generated(root, out, &text, err, errlen);
    }
    if (rc == 1) {
        provider_error_info_t info;
        provider_aws_error_info(body, len, NULL, &info);
        if (info.message[0])
            snprintf(err, errlen, "reply from sagemaker has neither choices nor generated_text: %s", info.message);
        else snprintf(err, errlen, "reply from sagemaker has neither choices[0].message.content nor generated_text");
        rc = -1;
    }
    if (rc == 0) {
        out->text_len = text.len;
        out->text = buf_take(&text);
    } else {
        memset(out, 0, sizeof(*out));
    }
    buf_free(&text);
    cJSON_Delete(root);
    return rc == 0 ? 0 : -1;
}

/* The container's own status inside a ModelError body, or 0. */
static long original_status(const char *body, size_t len)
{
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    long st = 0;
    const cJSON *v = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "OriginalStatusCode") : NULL;
    if (cJSON_IsNumber(v) && v->valuedouble >= 100 && v->valuedouble < 1000) st = (long)v->valuedouble;
    cJSON_Delete(root);
    return st;
}

static llm_status_t sagemaker_classify(long status, const char *body, size_t len, const httpmsg_headers_t *h, char *msg,
                                       size_t msglen)
{
    static const char *const transient[] = {"ThrottlingException", "ModelNotReadyException",      "ServiceUnavailable",
                                            "InternalFailure",     "InternalDependencyException", NULL};
    provider_error_info_t info;
    provider_aws_error_info(body, len, h, &info);
    provider_error_text(SAGEMAKER_SERVICE, status, &info, body, len, msg, msglen);
    if (provider_aws_creds_rejected(info.type)) provider_aws_forget_credentials();
    if (strcmp(info.type, "ModelError") == 0 || status == 424) {
        long orig = original_status(body, len);
        if (!orig && strstr(info.message, "Received server error")) orig = 500;
        return orig == 408 || orig == 429 || orig >= 500 ? LLM_ERR_TRANSIENT : LLM_ERR_PERMANENT;
    }
    for (const char *const *t = transient; *t; t++)
        if (strcmp(info.type, *t) == 0) return LLM_ERR_TRANSIENT;
    if (status == 408 || status == 429 || status >= 500) return LLM_ERR_TRANSIENT;
    return LLM_ERR_PERMANENT;
}

const provider_t provider_sagemaker = {
    .name = SAGEMAKER_SERVICE,
    .structured = false, /* containers differ; verdicts are read from the text */
    .build = sagemaker_build,
    .before_send = sagemaker_before_send,
    .parse_ok = sagemaker_parse_ok,
    .classify = sagemaker_classify,
    .charge = NULL,    /* the tokens processed: the spec's tpm counts what the endpoint did */
    .check_env = NULL, /* credentials are looked up when a call is signed */
};
