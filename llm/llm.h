/* llm: one thread's client for model calls. Owns a libcurl multi handle driven by the thread's
 * loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION, keep-alive, HTTP/2 where offered), the
 * providers (provider.h) that turn a request into HTTP and a reply into text and usage, retries
 * of transient failures (connect errors, timeouts, 408, 429, 5xx) with backoff (backoff.h:
 * decorrelated jitter over a growing floor, Retry-After honoured) within a time budget per call,
 * and the per-endpoint concurrency and rate limits (ratelimit.h).
 *
 * Calls are accepted at once and queued; the client starts them as limits allow. Every accepted
 * call completes exactly once through its callback (from the loop, never from inside llm_call),
 * unless the client is destroyed first. Time is the loop's clock (loop_time_ms): a test may run
 * the client on a virtual clock. */
#ifndef LLMAJ_LLM_H
#define LLMAJ_LLM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "ratelimit.h"
#include "result.h"

typedef struct llm_client llm_client_t;

typedef struct {
    int max_concurrency;    /* HTTP requests in flight for the whole client; default 256 */
    int connect_timeout_ms; /* default 10000 */
    int request_timeout_ms; /* default 300000 */
    int max_retries;        /* < 0 (the default): no count limit, the retry budget decides;
                                 else at most this many retries of a call */
    int retry_budget_ms;    /* how long a call may keep retrying, from its first attempt's start,
                                 unless its request says (llm_req_t.retry_budget_ms); default
                                 300000: a provider down for minutes loses no call */
    int backoff_base_ms;    /* default 500 */
    int backoff_max_ms;     /* default 30000 */
    const char *region;     /* default region for Bedrock/SageMaker model strings */
} llm_opts_t;

typedef struct {
    const char *role; /* "user" | "assistant" */
    const char *content;
} llm_msg_t;

/* A JSON object the reply must be (structured output). All borrowed. */
typedef struct {
    const char *name;        /* 1-64 of [A-Za-z0-9_-]: the schema's or tool's name */
    const char *description; /* what the object records (a tool's description) */
    const char *schema;      /* a JSON Schema of an object, as JSON text (trusted: the caller's) */
} llm_schema_t;

typedef struct {
    const char *system;    /* may be NULL */
    const llm_msg_t *msgs; /* alternating user/assistant, starting and ending with user */
    size_t n_msgs;
    int max_tokens;
    double temperature;
    double top_p;               /* < 0: not sent */
    const llm_schema_t *schema; /* NULL: free text. Else the reply is asked for as that object
                                     where the provider can (OpenAI response_format json_schema,
                                     Anthropic and Bedrock a forced tool); an endpoint that refuses
                                     the request (HTTP 400/422) is asked again without it, and from
                                     then on always without it */
    int retry_budget_ms;        /* <= 0: the client's llm_opts_t.retry_budget_ms */
    /* The caller's "no longer wanted" flag, or NULL. While it points at true, the call is neither
     * started nor retried: it completes with LLM_ERR_CANCELLED without going on the wire (an
     * attempt already on the wire runs to its end). Must stay valid until the callback. */
    const bool *cancelled;
    const char *region; /* the job's AWS region for Bedrock/SageMaker model strings; NULL = the
                                 client's default (llm_opts_t.region) */
    const char *api;    /* SageMaker endpoints: "messages" (NULL: the default) or "tgi" */
} llm_req_t;

typedef enum {
    LLM_OK = 0,
    LLM_ERR_TRANSIENT, /* transient failures until the retry budget (or count) ran out */
    LLM_ERR_PERMANENT, /* 4xx other than 408/429, unparseable reply, bad endpoint */
    LLM_ERR_QUOTA,     /* quota exhausted (insufficient_quota, spend limit): not retried */
    LLM_ERR_CANCELLED, /* the caller's `cancelled` flag was set before it went (again) */
} llm_status_t;

typedef struct {
    llm_status_t status;
    const char *text; /* LLM_OK: the reply text exactly as returned (with a structured
                                 reply, the text beside the object: often "") */
    size_t text_len;
    const char *structured; /* LLM_OK, a schema asked for and answered in kind: the object as
                                 JSON text; else NULL */
    size_t structured_len;
    usage_t usage;
    double latency_ms; /* first attempt start to completion, retries included */
    long http_status;  /* last HTTP status (0 for transport errors) */
    uint32_t attempts;
    const char *error; /* not LLM_OK: readable reason */
} llm_reply_t;

/* `reply` and everything it points to are valid only during the callback. */
typedef void (*llm_done_cb)(const llm_reply_t *reply, void *arg);

void llm_opts_default(llm_opts_t *o);
llm_client_t *llm_client_new(loop_t *loop, const llm_opts_t *opts); /* NULL on failure */
void llm_client_destroy(llm_client_t **self_p);                     /* in-flight calls are dropped, no callbacks */

/* Queues one call to `model` (a model string). The request is copied. -1 (and no callback) only
 * when the model string cannot be resolved to an endpoint: err says why. */
int llm_call(llm_client_t *c, const char *model, const llm_req_t *req, llm_done_cb cb, void *arg, char *err,
             size_t errlen) __attribute__((warn_unused_result));

/* Can calls to `model` be sent from this process: the model string resolves to an endpoint
 * (region: the spec's, NULL for the environment's), this build has its provider, and the
 * provider's environment is complete (an API key, or a base URL for a server without keys).
 * Reads the environment; sends nothing. 0, or -1 with the reason in err (the model string named,
 * no key prefix). For a scheduler to call before it accepts a job. */
int llm_model_check(const char *model, const char *region, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Calls accepted and not yet completed (queued, waiting for a retry, or on the wire). */
size_t llm_pending(const llm_client_t *c);

/* Configured limits for a model string (0 = unlimited): spec `limits`. llm_set_limit_in resolves
 * the model string for `region` (a job's region; NULL = the client's), as llm_call does for a
 * request with that region. */
void llm_set_limit(llm_client_t *c, const char *model, double rpm, double tpm, int max_concurrency);
void llm_set_limit_in(llm_client_t *c, const char *model, const char *region, double rpm, double tpm,
                      int max_concurrency);

/* The fleet-wide rate exchange (ratelimit.h): the demand rows to report to the broker (caller
 * frees the array; 0 = nothing to report), whether a report is due now rather than at the next
 * tick, and this thread's shares as the broker allots them (calls waiting for a share go now). */
size_t llm_demand(llm_client_t *c, ratelimit_row_t **rows);
bool llm_demand_due(const llm_client_t *c);
void llm_allot(llm_client_t *c, const ratelimit_row_t *rows, size_t n);

/* Cumulative counters, for progress, /metrics and benchmarks. */
typedef struct {
    uint64_t calls_ok, calls_failed, http_requests, retries, http_429, http_5xx, transport_errors;
    uint64_t input_tokens, output_tokens;
} llm_stats_t;
void llm_get_stats(const llm_client_t *c, llm_stats_t *out);

#endif
