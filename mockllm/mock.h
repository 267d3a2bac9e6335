/* mock: llmaj-mockllm, the mock LLM HTTP server used by tests, benchmarks and the quickstart.
 * Owns the libmicrohttpd daemon, routing, the request pipeline (auth, body limits, parsing,
 * quota, rate limits, error injection, latency) and the counters served at /stats. What the
 * model says lives in mock_reply.c, each provider's wire format in mock_api_*.c, settings in
 * mock_opts.c. The program (main.c) is a thin wrapper; tests start servers in-process.
 *
 * Endpoints (docs/mockllm.md has the details):
 *   POST .../chat/completions       OpenAI chat completions (any prefix, e.g. /v1, /openai/v1)
 *   POST .../v1/messages            Anthropic Messages
 *   POST /model/{modelId}/converse  Bedrock Converse
 *   POST /endpoints/{name}/invocations  SageMaker InvokeEndpoint (messages API or TGI)
 *   S3, STS, SageMaker, container credentials, IMDSv2, /_mock/aws/...   mock_aws.h
 *   GET  /healthz                   200 "ok"
 *   GET  /stats, POST /stats/reset  counters as JSON; zero them
 *
 * Bad days on purpose (all off by default): an outage window (5xx or connections closed
 * unanswered), a limited episode that announces and enforces low limits and then normal ones,
 * structured-output requests refused, judge replies that quote the judged response.
 *
 * DESIGN. It must never be the bottleneck of what it measures. libmicrohttpd runs its own
 * epoll threads (--threads, one by default); a request's whole life is one pass through the
 * handler (parse with cJSON, build the reply with buf_t) and a few atomic counters. A delayed
 * reply is built at once, then its connection is suspended and handed to the timer thread
 * (mock_timer.c), which resumes it when due: waiting costs no thread, so thousands of delayed
 * requests can be in flight on one core. Shutdown resumes every parked connection before the
 * daemon stops (libmicrohttpd refuses to stop with suspended connections). */
#ifndef LLMAJ_MOCK_H
#define LLMAJ_MOCK_H
#include <stddef.h>
#include <stdint.h>

#include "mock_opts.h"

#define MOCK_MAX_BODY (16u * 1024 * 1024) /* larger request bodies get a 400 */
#define MOCK_DEFAULT_MAX_TOKENS 1024      /* output tokens charged when a request sets none */

typedef struct mock mock_t;

/* A snapshot of the counters (GET /stats). Responses are counted for model calls only. */
typedef struct {
    uint64_t requests_total; /* every HTTP request, /stats and /healthz included */
    uint64_t req_chat_completions, req_messages, req_converse, req_invocations, req_healthz, req_stats, req_other;
    uint64_t inference_calls;    /* model calls answered 2xx that were not judge calls */
    uint64_t judge_calls;        /* judge calls answered 2xx, re-asks included */
    uint64_t reask_calls;        /* judge calls with an assistant turn (subset of judge_calls) */
    uint64_t unscorable_replies; /* judge replies that named no rating */
    uint64_t status_2xx, status_4xx /* 429 excluded */, status_429, status_5xx_injected;
    uint64_t rate_limited;          /* 429s from the rate limiter (quota 429s are not) */
    uint64_t tokens_in, tokens_out; /* usage reported in 2xx replies */
    uint64_t in_flight;             /* model calls received and not yet answered */
    uint64_t max_in_flight;         /* highest in_flight since start or reset */
    uint64_t outage_replies;        /* model calls failed (or hung up on) by --outage-ms */
    uint64_t episode_calls;         /* model calls served under the --episode-* limits */
} mock_stats_t;

/* Binds and starts serving. NULL on failure with the reason in err (e.g. the address is in use).
 * The options are copied. */
mock_t *mock_new(const mock_opts_t *opts, char *err, size_t errlen);

/* Resumes every delayed request (it is answered or closed), stops the threads, frees. When it
 * returns no thread of the server runs. Accepts NULL. */
void mock_destroy(mock_t **self_p);

int mock_port(const mock_t *m);        /* the bound port */
const char *mock_url(const mock_t *m); /* "http://127.0.0.1:PORT"; valid until destroy */

void mock_get_stats(mock_t *m, mock_stats_t *out);
void mock_reset_stats(mock_t *m); /* zeroes all but in_flight; max_in_flight = in_flight */
char *mock_stats_json(mock_t *m); /* the /stats body; caller frees */

#endif
