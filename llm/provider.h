/* provider: one small vtable per LLM API (after curl's vtls/vtls_int.h): everything that differs
 * between APIs lives in the provider's table entry, and no code outside the providers switches on
 * which provider it is. A provider turns a model call into an HTTP request (structured output
 * included, where the API has it), a 2xx body into text, structured object and usage, and an
 * error reply into a status class with a readable message; it says how the API charges tokens
 * against its limit and what the environment must hold for a call to be sent. One file per
 * provider (provider_openai.c, provider_anthropic.c, provider_bedrock.c, provider_sagemaker.c).
 * Providers do no I/O and keep no state: llm.c sends, times, retries and limits.
 *
 * Error classes (llm_status_t): LLM_ERR_TRANSIENT for 408, 429, 5xx (529 "overloaded"
 * included) and anything the server marks retryable; LLM_ERR_QUOTA when the account is out of
 * quota or credit (never retried); LLM_ERR_PERMANENT for other statuses. Messages carry the
 * provider's own error text, never the API key. */
#ifndef LLMAJ_PROVIDER_H
#define LLMAJ_PROVIDER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "httpmsg.h"
#include "llm.h"
#include "modelstr.h"
#include "result.h"

/* What a provider needs to build one request. All borrowed. */
typedef struct {
    const modelstr_t *model;
    const modelstr_endpoint_t *endpoint;
    const llm_req_t *req;
} provider_call_t;

/* A successful reply. Owned; free with provider_reply_clear. */
typedef struct {
    char *text; /* the reply's text (beside the structured object, when there is one) */
    size_t text_len;
    char *structured; /* the structured object as JSON text, or NULL */
    size_t structured_len;
    usage_t usage;
} provider_reply_t;

void provider_reply_clear(provider_reply_t *r);

typedef struct provider {
    const char *name; /* "openai", "anthropic", ... */
    /* The API can be asked for a reply that is a JSON object of a given schema: build honours
     * req->schema (otherwise llm.c never passes one). */
    bool structured;
    /* Fills `out` (initialised by the caller with httpmsg_request_init): URL, headers, body.
     * -1 with err when the request cannot be expressed (bad max_tokens, non-finite numbers). */
    int (*build)(const provider_call_t *in, httpmsg_request_t *out, char *err, size_t errlen);
    /* Called before every attempt, retries included; may be NULL. For providers whose
     * authentication is time-bound (SigV4 signatures expire), (re-)sign the built `req` here. */
    int (*before_send)(const modelstr_t *model, const modelstr_endpoint_t *endpoint, httpmsg_request_t *req, char *err,
                       size_t errlen);
    /* Parses a 2xx body. `structured`: the request asked for a schema; the object goes to
     * out->structured when the reply has one (a reply in plain text is still a reply). -1 with
     * err when the body is not the expected shape. */
    int (*parse_ok)(const char *body, size_t len, bool structured, provider_reply_t *out, char *err, size_t errlen);
    /* Classifies a non-2xx reply into the API's error classes (see above); writes "HTTP <status>
     * from <name>: <provider message>" to msg. */
    llm_status_t (*classify)(long status, const char *body, size_t len, const httpmsg_headers_t *h, char *msg,
                             size_t msglen);
    /* What a finished call cost against the API's token limit, given the estimate the limiter
     * took (prompt bytes / 4 + max_tokens), the request's max_tokens and the reply's usage.
     * NULL: the usage (input + output), as APIs that settle on actual use count. */
    uint64_t (*charge)(uint64_t est_tokens, uint64_t max_tokens, const usage_t *used);
    /* Can a call be sent with this environment (an API key, or a base URL for a server without
     * keys)? NULL: nothing to check before sending. -1 with err naming the variables. */
    int (*check_env)(const modelstr_t *model, const modelstr_endpoint_t *endpoint, char *err, size_t errlen);
} provider_t;

extern const provider_t provider_openai; /* openai/ and openai-api/<service>/ */
extern const provider_t provider_anthropic;
extern const provider_t provider_bedrock, provider_sagemaker; /* SigV4-signed (provider_aws.h) */

/* The provider for a kind (the table), or NULL if this build has none for it. */
const provider_t *provider_for(provider_kind_t kind);

/* ---- helpers shared by provider implementations ---- */

/* charge for APIs that take prompt + max_tokens at admission and give nothing back (OpenAI,
 * Azure OpenAI and most OpenAI-compatible gateways): the estimate, raised only when the real
 * prompt was larger than estimated. */
uint64_t provider_charge_admitted(uint64_t est_tokens, uint64_t max_tokens, const usage_t *used);

/* check_env for a public API that needs a key unless its base URL variable points elsewhere:
 * -1 with "`<model>` needs <key_var> in the environment (or <url_var> for a server without
 * keys)" when the endpoint has no key and url_var is unset or empty. */
int provider_need_key(const modelstr_t *model, const modelstr_endpoint_t *endpoint, const char *key_var,
                      const char *url_var, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Appends `,"<key>":` then the schema's JSON text (trusted), for building structured requests. */
int provider_json_raw(buf_t *b, const char *key, const char *json) __attribute__((warn_unused_result));

/* Appends a JSON number that reads back as exactly `v`; -1 for NaN/inf (lib/jsonprint.h). */
int provider_json_double(buf_t *b, double v) __attribute__((warn_unused_result));

/* The `error` object of a JSON error body, as OpenAI and Anthropic (and most compatible servers)
 * send it: {"error": {"message": ..., "type": ..., "code": ...}} or {"error": "text"} or
 * {"message": ...}. Fields not found are left "". Strings are truncated to their buffers. */
typedef struct {
    char message[512];
    char type[64];
    char code[64];
} provider_error_info_t;
void provider_error_info(const char *body, size_t len, provider_error_info_t *out);

/* The common status rule: 408, 429, >= 500 transient; `x-should-retry: true|false` (sent by the
 * OpenAI and Anthropic APIs) overrides it; other statuses permanent. */
llm_status_t provider_default_class(long status, const httpmsg_headers_t *h);

/* Writes "HTTP <status> from <name>[ (<type>[/<code>])]: <message>" into msg; the message is
 * the error info's, else the start of the body, with control characters replaced. */
void provider_error_text(const char *name, long status, const provider_error_info_t *info, const char *body, size_t len,
                         char *msg, size_t msglen);

/* Replaces every occurrence of `secret` (when at least 4 bytes long) in msg by "[redacted]",
 * in place, within msglen. */
void provider_redact(char *msg, size_t msglen, const char *secret);

/* Checks what every chat API needs: max_tokens >= 1, at least one message, roles "user" or
 * "assistant", contents and a system prompt (when given) not NULL, finite temperature and top_p.
 * -1 with err naming the field. */
int provider_check_req(const llm_req_t *req, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Appends a JSON array of {"role","content"} objects: `system` first as a "system" message when
 * not NULL, then the request's messages. */
int provider_json_messages(buf_t *b, const char *system, const llm_req_t *req) __attribute__((warn_unused_result));

/* Base URL + path without a doubled slash. Caller owns the result. */
char *provider_url(const char *base, const char *path);

/* Makes `out` a POST of JSON to provider_url(base_url, path): method, URL, and Content-Type and
 * Accept headers "application/json". */
void provider_post_json(httpmsg_request_t *out, const char *base_url, const char *path);

/* Parses a 2xx body that must be a JSON object. Caller owns the result (cJSON_Delete); NULL with
 * "reply from <name> is not a JSON object (N bytes)" in err. */
cJSON *provider_parse_object(const char *name, const char *body, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The token count `name` of a JSON object: a number from 0 to 1e15, else 0. */
uint64_t provider_json_count(const cJSON *obj, const char *name);

/* Appends a chat message's content to text: a string, or the texts of an array of
 * {"type":"text","text":...} parts (as some OpenAI-compatible servers send it). -1 when content
 * is neither. */
int provider_json_content(const cJSON *content, buf_t *text) __attribute__((warn_unused_result));

#endif
