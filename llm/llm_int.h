/* llm_int: what the model-call engine's two files share (after curl's *_int.h): the call,
 * endpoint, model and client structs, and the few functions each file calls in the other.
 * llm.c owns calls, queues, the rate-limit gate, retries and the public API; transfer.c drives
 * libcurl (easy handles, one attempt on the wire, the multi handle on the thread's loop). Nothing
 * outside llm/ includes this. */
#ifndef LLMAJ_LLM_INT_H
#define LLMAJ_LLM_INT_H
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "buf.h"
#include "httpmsg.h"
#include "llm.h"
#include "modelstr.h"
#include "provider.h"
#include "ratelimit.h"
#include "rlheaders.h"

#define LLM_MAX_BODY ((size_t)32 << 20)
#define LLM_MAX_HEADERS ((size_t)256 << 10)
#define PASS_BUDGET 64
#define PROBE_CALLS 4 /* calls in flight on an endpoint before its first reply */

typedef struct call call_t;
typedef struct endpoint endpoint_t;

struct endpoint {
    char *key; /* modelstr endpoint key, also the rate limiter's key */
    llm_client_t *c;
    endpoint_t *next; /* client's list */
    /* waiting calls */
    call_t *q_head, *q_tail;
    size_t n_queued;
    bool in_ring;
    endpoint_t *ring_prev, *ring_next;
    uint64_t wake_timer; /* the limiter asked to wait: brings the endpoint back; 0 = none */
    /* bookkeeping (for logs and tests; the limiter keeps its own) */
    int in_flight;
    bool heard; /* a reply (any status) came back: the provider's limits are known */
    uint64_t requests_started;
    uint64_t tokens_estimated;            /* sum over started attempts of prompt bytes/4 + max_tokens */
    uint64_t input_tokens, output_tokens; /* actual usage of successful replies */
    uint64_t throttles;                   /* replies that said we were throttled */
    rlheaders_t rl;                       /* the last reply's rate-limit headers */
    int64_t rl_at_ms;                     /* when (loop_time_ms); 0 = never */
    bool warned_bad_headers;
    /* Does the endpoint take structured-output requests? Unknown until one is answered: calls
     * built meanwhile carry a plain twin to fall back on (see attempt_done). */
    enum { STRUCT_UNKNOWN = 0, STRUCT_YES, STRUCT_NO } structured;
};

typedef struct model {
    char *input;  /* the model string as callers give it */
    char *region; /* the region it was resolved for (the call's, else the client's); may be NULL */
    modelstr_t ms;
    modelstr_endpoint_t where;
    const provider_t *prov;
    endpoint_t *ep;
    struct model *next;
} model_t;

/* Limits given for a model string that did not resolve yet (kept until it does). */
typedef struct pending_limit {
    char *model;
    char *region; /* NULL = the client's */
    double rpm, tpm;
    int max_concurrency;
    struct pending_limit *next;
} pending_limit_t;

typedef enum { CALL_QUEUED, CALL_ACTIVE, CALL_BACKOFF, CALL_DONE } call_state_t;

struct call {
    llm_client_t *c;
    model_t *m;
    llm_done_cb cb;
    void *arg;
    call_state_t state;
    call_t *prev, *next; /* endpoint queue (QUEUED) or done list (DONE) */
    call_t *all_prev, *all_next;
    httpmsg_request_t http;  /* built once; before_send may amend it per attempt */
    httpmsg_request_t plain; /* has_plain: the same request without the schema */
    bool has_plain;          /* asked for structured output of an endpoint not known to take it */
    bool structured;         /* the request on the wire asks for structured output */
    uint64_t est_tokens;     /* prompt bytes / 4 + max_tokens: what the limiter is charged */
    uint64_t max_tokens;
    int64_t t_first_us;    /* first attempt's start on the loop's clock, 0 before */
    int64_t budget_ms;     /* retries stop once a retry would start after this since t_first_us */
    int64_t last_delay_ms; /* the last backoff delay, -1 before (decorrelated jitter) */
    bool out_of_budget;    /* gave up because the next retry would pass the budget */
    uint32_t attempts;
    uint64_t retry_timer;
    const bool *cancelled; /* the caller's flag (llm_req_t), or NULL */
    /* the current attempt */
    CURL *easy;
    struct curl_slist *hdrs;
    buf_t resp;
    httpmsg_headers_t rh;
    bool body_overflow, header_overflow;
    char curl_err[CURL_ERROR_SIZE];
    /* outcome */
    long http_status;
    llm_status_t status;
    char *error;
    provider_reply_t reply;
};

struct llm_client {
    loop_t *loop;
    llm_opts_t o;
    char *region;
    CURLM *multi;
    uint64_t curl_timer; /* loop timer standing for curl's timeout; 0 = none */
    uint64_t kick_timer; /* 0 ms timer for deferred work; 0 = none */
    bool destroying, pumping;
    ratelimit_t *rl;
    model_t *models;
    endpoint_t *endpoints;
    endpoint_t *ring; /* endpoints with queued calls, round robin */
    pending_limit_t *pending_limits;
    call_t *all;
    call_t *done_head, *done_tail;
    size_t pending;
    int active; /* attempts on the wire */
    int *socks; /* sockets registered with the loop */
    size_t n_socks, cap_socks;
    CURL **idle; /* finished easy handles kept for reuse (easy_get / easy_put) */
    size_t n_idle, cap_idle;
    backoff_t backoff;
    llm_stats_t stats;
};

/* ---- llm.c, for transfer.c ---- */

/* One attempt ended with transfer result `res` and HTTP `status`; `prepared`: it never reached
 * the wire and its status and error are set. Decides between done and retry. */
void llm_attempt_done(llm_client_t *c, call_t *call, CURLcode res, long status, bool prepared);
/* Sets the call's status and error message (the API key redacted). */
void llm_set_error(call_t *call, llm_status_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Starts queued calls as limits allow (deferred to the next pass when re-entered). */
void llm_pump(llm_client_t *c);
/* Arms the 0 ms timer of deferred work. */
void llm_kick(llm_client_t *c);

/* ---- transfer.c ---- */

/* libcurl's global initialisation, once per process; false (logged) when it failed. */
bool transfer_global_ready(void);
/* Creates the client's multi handle, driven by its loop. -1 (logged) on failure. */
int transfer_setup(llm_client_t *c) __attribute__((warn_unused_result));
/* Takes an active call's transfer off the wire (client destroy). */
void transfer_drop(llm_client_t *c, call_t *call);
/* Frees the idle easy handles, the multi handle and the loop's watch on its sockets. */
void transfer_teardown(llm_client_t *c);
/* Puts one attempt of a QUEUED call that the gate admitted on the wire. */
void transfer_start(llm_client_t *c, call_t *call);
/* Reads finished transfers (at most PASS_BUDGET), then starts what they made room for. */
void transfer_process(llm_client_t *c);
/* The status class of a transfer that failed without an HTTP reply. */
llm_status_t transfer_class(CURLcode rc);
/* A URL without user:password@, for messages. */
void transfer_url_for_log(const char *url, char *out, size_t n);

#endif
