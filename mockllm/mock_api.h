/* mock_api: the provider dialects the mock LLM speaks, behind one small vtable, one file each
 * (mock_api_openai.c, mock_api_anthropic.c, mock_api_bedrock.c). A dialect checks the request
 * headers, parses a request body into the neutral mock_req_t, and writes replies and errors in
 * the provider's format: status, headers (rate-limit headers included) and JSON body. Nothing
 * here touches sockets or libmicrohttpd: a reply is a mock_resp_t that mock.c sends.
 * Also owns mock_resp_t and the helpers the dialects share. */
#ifndef LLMAJ_MOCK_API_H
#define LLMAJ_MOCK_API_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "mock_limits.h"
#include "mock_reply.h"

#define MOCK_RESP_MAX_HEADERS 20

typedef struct {
    char name[48];
    char value[112];
} mock_hdr_t;

/* One HTTP reply, ready to send. */
typedef struct {
    int status;
    const char *content_type; /* static string */
    buf_t body;
    mock_hdr_t headers[MOCK_RESP_MAX_HEADERS];
    size_t n_headers;
} mock_resp_t;

void mock_resp_init(mock_resp_t *r);
void mock_resp_free(mock_resp_t *r); /* frees the body; r can be re-inited */
/* Adds a header; the value is cut to fit mock_hdr_t. Beyond MOCK_RESP_MAX_HEADERS headers are
 * dropped (a programmer error: every dialect sends fewer). */
void mock_resp_header(mock_resp_t *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets status and a JSON body (copied). */
void mock_resp_json(mock_resp_t *r, int status, const char *json, size_t len);
/* Sets status and empties the body; returns the body for the dialect to write (headers kept). */
buf_t *mock_resp_start(mock_resp_t *r, int status);

/* The request headers a dialect looks at (NULL when absent). */
typedef struct {
    const char *authorization;
    const char *x_api_key;
    const char *anthropic_version;
} mock_hdrs_t;

typedef enum {
    MOCK_ERR_INVALID = 0, /* 400: the request body or a header is wrong; message says what */
    MOCK_ERR_AUTH,        /* 401 (Bedrock 403): missing or wrong credentials */
    MOCK_ERR_RATE,        /* 429: over the rate limit; call->limits says which and for how long */
    MOCK_ERR_QUOTA,       /* quota exhausted: OpenAI 429, Anthropic 400, Bedrock 403 */
    MOCK_ERR_SERVER,      /* injected server error, with the configured 5xx status */
} mock_err_t;

/* Everything a dialect may need to write a reply. Pointers may be NULL in error replies
 * written before the request was parsed. */
typedef struct {
    const mock_req_t *req;
    const mock_gen_t *gen;              /* success replies only */
    const mock_limit_verdict_t *limits; /* NULL or nothing configured: no rate-limit headers */
    uint64_t id;                        /* unique per reply; ids are derived from it */
    double latency_ms;                  /* the delay the reply is sent after */
    double now_unix_ms;                 /* wall clock, for created and reset times */
} mock_call_t;

typedef struct mock_api {
    const char *name; /* "openai" | "anthropic" | "bedrock"; also the rate-limit key prefix */
    /* Checks the request headers: 0, or -1 with the error reply written to resp. api_key: the
     * configured key, or NULL when none is required. */
    int (*check)(const mock_hdrs_t *h, const char *api_key, const mock_call_t *call, mock_resp_t *resp);
    /* Parses and validates a body into req, borrowing strings from root. url_model: the model
     * named in the URL (Bedrock), else NULL. 0, or -1 with the reason (naming the field) in err. */
    int (*parse)(const cJSON *root, const char *url_model, mock_req_t *req, char *err, size_t errlen);
    /* A success reply for call->req / call->gen. */
    void (*reply)(const mock_call_t *call, mock_resp_t *resp);
    /* An error reply. status: for MOCK_ERR_SERVER; message: for MOCK_ERR_INVALID (the others
     * use the provider's own wording). */
    void (*error)(const mock_call_t *call, mock_err_t kind, int status, const char *message, mock_resp_t *resp);
} mock_api_t;

extern const mock_api_t mock_api_openai;
extern const mock_api_t mock_api_anthropic;
extern const mock_api_t mock_api_bedrock;
extern const mock_api_t mock_api_sagemaker; /* SageMaker InvokeEndpoint (mock_api_sagemaker.c) */

/* ---- helpers shared by the dialects ---- */

/* Adds the text of a content value to req as one message: a string, or an array of blocks whose
 * "text" strings are joined with newlines. typed: a string, or blocks that carry "type" where
 * only "text" blocks count (OpenAI, Anthropic); untyped: blocks only, and any block with a
 * "text" member counts (Bedrock).
 * null_ok: JSON null is empty content. where: the field's path for messages. 0 / -1 with err. */
int mock_api_add_content(mock_req_t *req, mock_role_t role, const cJSON *content, bool typed, bool null_ok,
                         const char *where, char *err, size_t errlen) __attribute__((warn_unused_result));

/* A positive whole number of tokens from a JSON value: 0 and *out set, or -1 with err. */
int mock_api_max_tokens(const cJSON *v, const char *where, long *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A model name fit for messages: at most 120 bytes, "…" added when cut. */
void mock_api_model_label(const char *model, char *out, size_t n);

#endif
