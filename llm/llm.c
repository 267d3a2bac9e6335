/* llm: the model-call engine of one thread; see llm.h.
 *
 * Owns: the libcurl multi handle and its sockets and timer on the thread's loop, the queue of
 * accepted calls, retries with backoff, per-endpoint bookkeeping (the rate-limit seam), stats.
 * Does not own: request/reply formats (provider_*.c), model-string resolution (modelstr.c),
 * header parsing (ratelimit_headers.c), the delay formula (backoff.c).
 *
 * DESIGN
 * A call moves through four states:
 *   QUEUED   in its endpoint's FIFO, waiting for a global slot (max_concurrency) and for its
 *            endpoint's gate; retries re-enter at the head so they are not starved by new work.
 *   ACTIVE   one attempt on the wire: an easy handle in the multi handle, CURLOPT_PRIVATE = call.
 *   BACKOFF  a transient failure with retries left: a loop timer puts it back to QUEUED.
 *   DONE     finished before any attempt (the request could not be built): on the done list,
 *            delivered by the next pass so the callback never runs inside llm_call.
 * Every call is also on the client's `all` list, so destroy can find it in any state.
 *
 * Driving libcurl follows docs/examples/multi-event.c: CURLMOPT_SOCKETFUNCTION maps curl's
 * interest in a socket onto loop_fd_set, CURLMOPT_TIMERFUNCTION keeps one loop timer, and
 * both fd and timer callbacks call curl_multi_socket_action and then read finished transfers
 * with curl_multi_info_read. User callbacks run from there (or from the pass's kick timer),
 * never from inside a curl callback, so they may call llm_call. They must not destroy the client.
 *
 * Endpoints: calls are grouped by the endpoint key of modelstr (provider, model, base URL,
 * credential hash). Endpoints with queued work form a ring served round robin, so one busy
 * model does not starve another. Whether an endpoint may start a request now is decided by the
 * gate (gate_* below), the only place that talks to the rate limiter (ratelimit.h): it acquires
 * with the call's token estimate (prompt bytes / 4 + max_tokens), and releases with the outcome:
 * status, actual usage, Retry-After, throttling, quota exhaustion and the parsed rate-limit
 * headers (with the usage counted the way the provider counts it, see charged_tokens). When the
 * limiter says "wait N ms" the endpoint leaves the ring and a per-endpoint wake timer brings it
 * back (a release, or llm_allot with a new share, brings it back sooner). Once the limiter marks an endpoint's
 * quota exhausted, its queued calls fail at once with LLM_ERR_QUOTA without being sent.
 *
 * Bounds: at most PASS_BUDGET transfers started and PASS_BUDGET completions handled per call of
 * the pump / message reader; leftovers are picked up by a 0 ms kick timer on the next pass.
 * Reply bodies are capped at LLM_MAX_BODY and header blocks at LLM_MAX_HEADERS (permanent error). */
#define LOG_MODULE "llm"
#include "llm.h"
#include "backoff.h"
#include "buf.h"
#include "httpmsg.h"
#include "log.h"
#include "mem.h"
#include "modelstr.h"
#include "provider.h"
#include "ratelimit.h"
#include "rlheaders.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LLM_MAX_BODY ((size_t)32 << 20)
#define LLM_MAX_HEADERS ((size_t)256 << 10)
#define PASS_BUDGET 64
#define PROBE_CALLS 4   /* calls in flight on an endpoint before its first reply */

typedef struct call call_t;
typedef struct endpoint endpoint_t;

struct endpoint {
    char *key;                    /* modelstr endpoint key, also the rate limiter's key */
    llm_client_t *c;
    endpoint_t *next;             /* client's list */
    /* waiting calls */
    call_t *q_head, *q_tail;
    size_t n_queued;
    bool in_ring;
    endpoint_t *ring_prev, *ring_next;
    uint64_t wake_timer;          /* the limiter asked to wait: brings the endpoint back; 0 = none */
    /* bookkeeping (for logs and tests; the limiter keeps its own) */
    int in_flight;
    bool heard;                   /* a reply (any status) came back: the provider's limits are known */
    uint64_t requests_started;
    uint64_t tokens_estimated;    /* sum over started attempts of prompt bytes/4 + max_tokens */
    uint64_t input_tokens, output_tokens;   /* actual usage of successful replies */
    uint64_t throttles;           /* replies that said we were throttled */
    rlheaders_t rl;               /* the last reply's rate-limit headers */
    int64_t rl_at_ms;             /* when (loop_now_ms); 0 = never */
    bool warned_bad_headers;
};

typedef struct model {
    char *input;                  /* the model string as callers give it */
    char *region;                 /* the region it was resolved for (the call's, else the client's); may be NULL */
    modelstr_t ms;
    modelstr_endpoint_t where;
    const provider_t *prov;
    endpoint_t *ep;
    struct model *next;
} model_t;

/* Limits given for a model string that did not resolve yet (kept until it does). */
typedef struct pending_limit {
    char *model;
    char *region;                 /* NULL = the client's */
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
    call_t *prev, *next;          /* endpoint queue (QUEUED) or done list (DONE) */
    call_t *all_prev, *all_next;
    httpmsg_request_t http;       /* built once; before_send may amend it per attempt */
    uint64_t est_tokens;          /* prompt bytes / 4 + max_tokens: what the limiter is charged */
    uint64_t max_tokens;
    int64_t t_first_us;           /* first attempt's start, 0 before */
    uint32_t attempts;
    uint64_t retry_timer;
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
    uint64_t curl_timer;          /* loop timer standing for curl's timeout; 0 = none */
    uint64_t kick_timer;          /* 0 ms timer for deferred work; 0 = none */
    bool destroying, pumping;
    ratelimit_t *rl;
    model_t *models;
    endpoint_t *endpoints;
    endpoint_t *ring;             /* endpoints with queued calls, round robin */
    pending_limit_t *pending_limits;
    call_t *all;
    call_t *done_head, *done_tail;
    size_t pending;
    int active;                   /* attempts on the wire */
    int *socks;                   /* sockets registered with the loop */
    size_t n_socks, cap_socks;
    CURL **idle;                  /* finished easy handles kept for reuse (easy_get / easy_put) */
    size_t n_idle, cap_idle;
    backoff_t backoff;
    llm_stats_t stats;
};

static void pump(llm_client_t *c);
static void process_msgs(llm_client_t *c);

/* ---- small helpers ---- */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* URL without user:password@ for messages. */
static void url_for_log(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    const char *host = s ? s + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
    if (at) snprintf(out, n, "%.*s%s", (int)(host - url), url, at + 1);
    else snprintf(out, n, "%s", url);
}

static void arm_kick_cb(loop_t *loop, uint64_t id, void *arg);
static void arm_kick(llm_client_t *c)
{
    if (!c->kick_timer && !c->destroying) c->kick_timer = loop_timer_add(c->loop, 0, arm_kick_cb, c);
}

/* ---- endpoint queue and ring ---- */
static void queue_push(llm_client_t *c, endpoint_t *ep, call_t *call, bool at_head)
{
    ratelimit_demand_add(c->rl, ep->key, 1);
    call->state = CALL_QUEUED;
    call->prev = call->next = NULL;
    if (!ep->q_head) {
        ep->q_head = ep->q_tail = call;
    } else if (at_head) {
        call->next = ep->q_head;
        ep->q_head->prev = call;
        ep->q_head = call;
    } else {
        call->prev = ep->q_tail;
        ep->q_tail->next = call;
        ep->q_tail = call;
    }
    ep->n_queued++;
}

static call_t *queue_pop(llm_client_t *c, endpoint_t *ep)
{
    call_t *call = ep->q_head;
    if (!call) return NULL;
    ratelimit_demand_add(c->rl, ep->key, -1);
    ep->q_head = call->next;
    if (ep->q_head) ep->q_head->prev = NULL;
    else ep->q_tail = NULL;
    call->prev = call->next = NULL;
    ep->n_queued--;
    return call;
}

static void ring_add(llm_client_t *c, endpoint_t *ep)
{
    if (ep->in_ring || !ep->q_head) return;
    ep->in_ring = true;
    if (!c->ring) {
        ep->ring_prev = ep->ring_next = ep;
        c->ring = ep;
    } else {   /* insert before the current head: last in the round */
        ep->ring_next = c->ring;
        ep->ring_prev = c->ring->ring_prev;
        c->ring->ring_prev->ring_next = ep;
        c->ring->ring_prev = ep;
    }
}

static void ring_remove(llm_client_t *c, endpoint_t *ep)
{
    if (!ep->in_ring) return;
    ep->in_ring = false;
    if (ep->ring_next == ep) {
        c->ring = NULL;
    } else {
        ep->ring_prev->ring_next = ep->ring_next;
        ep->ring_next->ring_prev = ep->ring_prev;
        if (c->ring == ep) c->ring = ep->ring_next;
    }
    ep->ring_prev = ep->ring_next = NULL;
}

/* ---- the gate: the only code that talks to the rate limiter ---- */

/* May the head call of `ep` start now? 0: yes, and the limiter has counted it in flight; else
 * the ms to wait before asking again. */
static int64_t gate_admit(llm_client_t *c, endpoint_t *ep, const call_t *call)
{
    /* Probe first: until the endpoint's first reply, which may announce rate limits the limiter
     * then paces to, only PROBE_CALLS go out, not a whole queue that could trip the limit at once.
     * A release puts the endpoint back in the ring, so the wait below is only a backstop. */
    if (!ep->heard && ep->in_flight >= PROBE_CALLS) return 1000;
    int64_t wait = ratelimit_acquire(c->rl, ep->key, call->est_tokens, loop_now_ms());
    if (wait > 0) return wait;
    ep->in_flight++;
    ep->requests_started++;
    ep->tokens_estimated += call->est_tokens;
    return 0;
}

static bool gate_exhausted(const llm_client_t *c, const endpoint_t *ep)
{
    return ratelimit_exhausted(c->rl, ep->key);
}

/* The token dimension closest to running out (OpenAI reports one, Anthropic three). */
static void tightest_tokens(const rlheaders_t *rl, int64_t *remaining, int64_t *reset_ms)
{
    *remaining = *reset_ms = -1;
    for (int d = RLH_TOKENS; d <= RLH_OUTPUT_TOKENS; d++) {
        const rlheaders_window_t *w = &rl->dim[d];
        if (w->remaining < 0) continue;
        if (*remaining < 0 || w->remaining < *remaining ||
            (w->remaining == *remaining && w->reset_ms > *reset_ms)) {
            *remaining = w->remaining;
            *reset_ms = w->reset_ms;
        }
    }
}

/* What a finished call cost against the provider's token limit, once its usage is known (0 =
 * unknown: the estimate stands). Providers count differently:
 *  - OpenAI (and Azure and most OpenAI-compatible gateways) charge a request its prompt plus
 *    max_tokens when it is admitted and give nothing back: the cost is the estimate, raised
 *    only when the real prompt was larger than estimated.
 *  - Anthropic and Bedrock reserve max_tokens at admission and settle on the output actually
 *    produced: the cost is the reply's usage. So is SageMaker's (no provider token limit; the
 *    spec's tpm counts the tokens processed). */
static uint64_t charged_tokens(const call_t *call, const usage_t *used)
{
    if (!used) return 0;
    uint64_t actual = used->input_tokens + used->output_tokens;
    switch (call->m->ms.kind) {
    case PROVIDER_OPENAI:
    case PROVIDER_OPENAI_API: {
        uint64_t admitted = used->input_tokens + call->max_tokens;
        return admitted > call->est_tokens ? admitted : call->est_tokens;
    }
    default:
        return actual;
    }
}

/* An attempt admitted by gate_admit ended: tell the limiter how it went. `used` is the reply's
 * usage (NULL unless it succeeded). */
static void gate_finished(llm_client_t *c, endpoint_t *ep, const call_t *call, const rlheaders_t *rl,
                          const usage_t *used)
{
    ratelimit_outcome_t o = {
        .http_status = call->http_status,
        .est_tokens = call->est_tokens,
        .actual_tokens = charged_tokens(call, used),
        .retry_after_ms = rl->retry_after_ms,
        .throttled = rl->throttled,
        .quota_exhausted = call->status == LLM_ERR_QUOTA,
        .remaining_requests = rl->dim[RLH_REQUESTS].remaining,
        .reset_requests_ms = rl->dim[RLH_REQUESTS].reset_ms,
        .limit_requests = rl->dim[RLH_REQUESTS].limit,
        /* the combined token limit (OpenAI; Anthropic's most restrictive one), else the input one */
        .limit_tokens = rl->dim[RLH_TOKENS].limit > 0 ? rl->dim[RLH_TOKENS].limit : rl->dim[RLH_INPUT_TOKENS].limit,
    };
    tightest_tokens(rl, &o.remaining_tokens, &o.reset_tokens_ms);
    /* A bogus "wait a year" must not park the endpoint for a year: the same cap as the retry's. */
    if (o.retry_after_ms > BACKOFF_RETRY_AFTER_MAX_MS) o.retry_after_ms = BACKOFF_RETRY_AFTER_MAX_MS;
    if (o.reset_requests_ms > BACKOFF_RETRY_AFTER_MAX_MS) o.reset_requests_ms = BACKOFF_RETRY_AFTER_MAX_MS;
    if (o.reset_tokens_ms > BACKOFF_RETRY_AFTER_MAX_MS) o.reset_tokens_ms = BACKOFF_RETRY_AFTER_MAX_MS;
    ratelimit_release(c->rl, ep->key, &o, loop_now_ms());
    ep->in_flight--;
    if (call->http_status != 0) ep->heard = true;
    if (used) {
        ep->input_tokens += used->input_tokens;
        ep->output_tokens += used->output_tokens;
    }
    if (rl->n_seen || rl->throttled) {
        ep->rl = *rl;
        ep->rl_at_ms = loop_now_ms();
    }
    if (rl->throttled) ep->throttles++;
    if (rl->n_invalid && !ep->warned_bad_headers) {
        ep->warned_bad_headers = true;
        log_warn("endpoint %s: ignoring %u malformed rate-limit header value(s), first `%s`", ep->key,
                 rl->n_invalid, rl->first_invalid);
    }
    ring_add(c, ep);   /* a slot opened, or the limiter changed its mind: queued calls may go */
}

static void on_ep_wake(loop_t *loop, uint64_t id, void *arg);

/* The limiter asked `ep` to wait `ms`: out of the ring until then (or until a release). */
static void gate_wait(llm_client_t *c, endpoint_t *ep, int64_t ms)
{
    ring_remove(c, ep);
    if (ep->wake_timer) loop_timer_del(c->loop, ep->wake_timer);
    ep->wake_timer = loop_timer_add(c->loop, ms, on_ep_wake, ep);
}

/* ---- models and endpoints ---- */
static endpoint_t *endpoint_get(llm_client_t *c, const char *key)
{
    for (endpoint_t *ep = c->endpoints; ep; ep = ep->next)
        if (strcmp(ep->key, key) == 0) return ep;
    endpoint_t *ep = xcalloc(1, sizeof(*ep));
    ep->key = xstrdup(key);
    ep->c = c;
    rlheaders_init(&ep->rl);
    ep->next = c->endpoints;
    c->endpoints = ep;
    return ep;
}

static void apply_limit(llm_client_t *c, endpoint_t *ep, double rpm, double tpm, int max_concurrency)
{
    ratelimit_configure(c->rl, ep->key, rpm, tpm, max_concurrency);
    ring_add(c, ep);
    arm_kick(c);
}

static bool same_region(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* Resolves a model string once per client and region (the environment is read at first use).
 * region: the job's region for AWS model strings (NULL or "" = the client's). */
static model_t *model_get(llm_client_t *c, const char *input, const char *region, char *err, size_t errlen)
{
    const char *rg = region && *region ? region : c->region;
    for (model_t *m = c->models; m; m = m->next)
        if (strcmp(m->input, input) == 0 && same_region(m->region, rg)) return m;
    model_t *m = xcalloc(1, sizeof(*m));
    if (modelstr_parse(input, rg, &m->ms, err, errlen) < 0) {
        free(m);
        return NULL;
    }
    m->prov = provider_for(m->ms.kind);
    if (!m->prov) {
        snprintf(err, errlen, "model `%s`: %s models cannot be called by this build yet", input,
                 provider_kind_name(m->ms.kind));
        modelstr_clear(&m->ms);
        free(m);
        return NULL;
    }
    if (modelstr_endpoint(&m->ms, &m->where, err, errlen) < 0) {
        modelstr_clear(&m->ms);
        free(m);
        return NULL;
    }
    m->input = xstrdup(input);
    m->region = xstrdup(rg);
    m->ep = endpoint_get(c, m->where.key);
    m->next = c->models;
    c->models = m;
    for (pending_limit_t **pp = &c->pending_limits; *pp; pp = &(*pp)->next) {
        pending_limit_t *pl = *pp;
        if (strcmp(pl->model, input) == 0 && same_region(pl->region ? pl->region : c->region, rg)) {
            apply_limit(c, m->ep, pl->rpm, pl->tpm, pl->max_concurrency);
            *pp = pl->next;
            free(pl->model);
            free(pl->region);
            free(pl);
            break;
        }
    }
    return m;
}

/* ---- call lifetime ---- */
static void call_free(call_t *call)
{
    httpmsg_request_clear(&call->http);
    curl_slist_free_all(call->hdrs);
    buf_free(&call->resp);
    httpmsg_headers_clear(&call->rh);
    free(call->error);
    provider_reply_clear(&call->reply);
    free(call);
}

static void all_unlink(llm_client_t *c, call_t *call)
{
    if (call->all_prev) call->all_prev->all_next = call->all_next;
    else c->all = call->all_next;
    if (call->all_next) call->all_next->all_prev = call->all_prev;
    call->all_prev = call->all_next = NULL;
}

/* Delivers the outcome and frees the call. Runs from the loop only. */
static void finish(llm_client_t *c, call_t *call)
{
    if (call->status != LLM_OK) {   /* the message names the model, and the attempts when retried */
        char *e;
        if (call->status == LLM_ERR_TRANSIENT && call->attempts > 1)
            e = xasprintf("%s: gave up after %u attempts: %s", call->m->input, call->attempts,
                          call->error ? call->error : "unknown error");
        else
            e = xasprintf("%s: %s", call->m->input, call->error ? call->error : "unknown error");
        free(call->error);
        call->error = e;
    }
    llm_reply_t r = {
        .status = call->status,
        .text = call->status == LLM_OK ? (call->reply.text ? call->reply.text : "") : NULL,
        .text_len = call->status == LLM_OK ? call->reply.text_len : 0,
        .usage = call->status == LLM_OK ? call->reply.usage : (usage_t){0, 0},
        .latency_ms = call->t_first_us ? (double)(loop_now_us() - call->t_first_us) / 1000.0 : 0.0,
        .http_status = call->http_status,
        .attempts = call->attempts,
        .error = call->status == LLM_OK ? NULL : (call->error ? call->error : "unknown error"),
    };
    if (call->status == LLM_OK) {
        c->stats.calls_ok++;
        c->stats.input_tokens += r.usage.input_tokens;
        c->stats.output_tokens += r.usage.output_tokens;
    } else {
        c->stats.calls_failed++;
        log_debug("call to %s failed after %u attempt(s): %s", call->m->input, call->attempts, r.error);
    }
    all_unlink(c, call);
    c->pending--;
    call->cb(&r, call->arg);
    call_free(call);
}

static void set_error(call_t *call, llm_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(call_t *call, llm_status_t status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    provider_redact(msg, sizeof msg, call->m->where.api_key);
    free(call->error);
    call->error = xstrdup(msg);
    call->status = status;
}

/* ---- attempts ---- */

/* Easy handles are reused: curl_easy_init and curl_easy_cleanup for every request cost more than
 * the rest of an attempt's setup together, and curl_easy_reset keeps the handle's allocations.
 * At most max_concurrency idle handles are kept. */
static CURL *easy_get(llm_client_t *c)
{
    if (c->n_idle > 0) return c->idle[--c->n_idle];
    return curl_easy_init();
}

static void easy_put(llm_client_t *c, CURL *easy)
{
    if (c->destroying || c->n_idle >= (size_t)c->o.max_concurrency) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy);   /* no option, and so no pointer to the finished call, survives */
    if (c->n_idle == c->cap_idle) {
        c->cap_idle = c->cap_idle ? c->cap_idle * 2 : 64;
        c->idle = xrealloc(c->idle, c->cap_idle * sizeof(CURL *));
    }
    c->idle[c->n_idle++] = easy;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    call_t *call = userdata;
    size_t n = size * nmemb;
    if (buf_append(&call->resp, ptr, n) < 0) {
        call->body_overflow = true;
        return 0;   /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    call_t *call = userdata;
    size_t n = size * nitems;
    if (httpmsg_headers_feed_line(&call->rh, ptr, n, LLM_MAX_HEADERS) < 0) {
        call->header_overflow = true;
        return 0;
    }
    return n;
}

static llm_status_t transport_class(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_LOGIN_DENIED:
    case CURLE_FILESIZE_EXCEEDED:
        return LLM_ERR_PERMANENT;
    default:   /* connect failures, timeouts, resets, DNS, TLS handshakes, HTTP/2 stream errors */
        return LLM_ERR_TRANSIENT;
    }
}

static void attempt_done(llm_client_t *c, call_t *call, CURLcode res, long status, bool prepared);

#define SETOPT(opt, val)                                                   \
    do {                                                                   \
        if (rc == CURLE_OK) rc = curl_easy_setopt(easy, opt, val);         \
    } while (0)

/* Starts one attempt of a QUEUED call that the gate admitted. */
static void start_attempt(llm_client_t *c, call_t *call)
{
    call->attempts++;
    if (!call->t_first_us) call->t_first_us = loop_now_us();
    call->state = CALL_ACTIVE;
    c->active++;
    c->stats.http_requests++;

    buf_free(&call->resp);
    buf_init(&call->resp, LLM_MAX_BODY);
    httpmsg_headers_clear(&call->rh);
    call->body_overflow = call->header_overflow = false;
    call->curl_err[0] = '\0';
    call->http_status = 0;

    char err[512];
    if (call->m->prov->before_send &&
        call->m->prov->before_send(&call->m->ms, &call->m->where, &call->http, err, sizeof err) < 0) {
        set_error(call, LLM_ERR_PERMANENT, "cannot prepare the request: %s", err);
        attempt_done(c, call, CURLE_ABORTED_BY_CALLBACK, 0, true);
        return;
    }
    curl_slist_free_all(call->hdrs);
    call->hdrs = NULL;
    bool hdr_ok = true;
    for (size_t i = 0; i < call->http.headers.n && hdr_ok; i++) {
        char *line = xasprintf("%s: %s", call->http.headers.v[i].name, call->http.headers.v[i].value);
        struct curl_slist *n = curl_slist_append(call->hdrs, line);
        free(line);
        if (n) call->hdrs = n;
        else hdr_ok = false;
    }
    struct curl_slist *n = hdr_ok ? curl_slist_append(call->hdrs, "Expect:") : NULL;   /* no 100-continue */
    if (n) call->hdrs = n;

    CURL *easy = n ? easy_get(c) : NULL;
    if (!easy) {
        set_error(call, LLM_ERR_TRANSIENT, "cannot allocate a transfer");
        attempt_done(c, call, CURLE_OUT_OF_MEMORY, 0, true);
        return;
    }
    CURLcode rc = CURLE_OK;
    SETOPT(CURLOPT_URL, call->http.url);
    SETOPT(CURLOPT_PRIVATE, call);
    SETOPT(CURLOPT_CUSTOMREQUEST, strcmp(call->http.method, "POST") == 0 ? NULL : call->http.method);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDS, call->http.body.data ? call->http.body.data : "");
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->http.body.len);
    SETOPT(CURLOPT_HTTPHEADER, call->hdrs);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, call);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, call);
    SETOPT(CURLOPT_ERRORBUFFER, call->curl_err);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TCP_NODELAY, 1L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->o.request_timeout_ms);
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Over TLS, wait for ALPN to tell whether a connection in progress can multiplex (HTTP/2)
     * rather than open another. Not over cleartext: there the server's HTTP version is known only
     * from its first reply, which from an LLM can take a minute, and every request would wait. */
    if (strncasecmp(call->http.url, "https://", 8) == 0) SETOPT(CURLOPT_PIPEWAIT, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_USERAGENT, "llmaj/" LLMAJ_VERSION);
    if (rc != CURLE_OK) {
        easy_put(c, easy);
        set_error(call, LLM_ERR_PERMANENT, "cannot configure the transfer: %s", curl_easy_strerror(rc));
        attempt_done(c, call, rc, 0, true);
        return;
    }
    call->easy = easy;
    CURLMcode mc = curl_multi_add_handle(c->multi, easy);
    if (mc != CURLM_OK) {
        call->easy = NULL;
        easy_put(c, easy);
        log_error("curl_multi_add_handle: %s", curl_multi_strerror(mc));
        set_error(call, LLM_ERR_TRANSIENT, "cannot start the transfer: %s", curl_multi_strerror(mc));
        attempt_done(c, call, CURLE_FAILED_INIT, 0, true);
    }
}

static void on_retry(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    call_t *call = arg;
    llm_client_t *c = call->c;
    call->retry_timer = 0;
    queue_push(c, call->m->ep, call, true);
    ring_add(c, call->m->ep);
    pump(c);
}

/* One attempt ended with transfer result `res` and HTTP `status`; `prepared`: it never reached
 * the wire and start_attempt already set status and error. Decides between done and retry. */
static void attempt_done(llm_client_t *c, call_t *call, CURLcode res, long status, bool prepared)
{
    endpoint_t *ep = call->m->ep;
    c->active--;
    call->http_status = (res == CURLE_OK || call->body_overflow || call->header_overflow) ? status : 0;
    rlheaders_t rl;
    rlheaders_parse(&rl, &call->rh, call->http_status, call->resp.data, call->resp.len, wall_ms());
    const usage_t *used = NULL;
    char url[512];
    url_for_log(call->http.url ? call->http.url : "", url, sizeof url);

    if (prepared) {
        /* status and message already set by start_attempt */
    } else if (call->body_overflow) {
        set_error(call, LLM_ERR_PERMANENT, "reply from %s is larger than the %zu MiB cap", url,
                  LLM_MAX_BODY >> 20);
    } else if (call->header_overflow) {
        set_error(call, LLM_ERR_PERMANENT, "reply headers from %s are larger than the %zu KiB cap", url,
                  LLM_MAX_HEADERS >> 10);
    } else if (res != CURLE_OK) {
        c->stats.transport_errors++;
        set_error(call, transport_class(res), "request to %s failed: %s", url,
                  call->curl_err[0] ? call->curl_err : curl_easy_strerror(res));
    } else if (status >= 200 && status < 300) {
        char err[512];
        provider_reply_clear(&call->reply);
        if (call->m->prov->parse_ok(call->resp.data ? call->resp.data : "", call->resp.len, &call->reply, err,
                                    sizeof err) == 0) {
            call->status = LLM_OK;
            used = &call->reply.usage;
        } else {
            set_error(call, LLM_ERR_PERMANENT, "%s", err);
        }
    } else {
        if (status == 429) c->stats.http_429++;
        if (status >= 500) c->stats.http_5xx++;
        char msg[900];
        llm_status_t cls = call->m->prov->classify(status, call->resp.data, call->resp.len, &call->rh, msg,
                                                   sizeof msg);
        if (cls == LLM_ERR_QUOTA) set_error(call, cls, "quota exhausted: %s", msg);
        else set_error(call, cls, "%s", msg);
    }
    gate_finished(c, ep, call, &rl, used);
    buf_free(&call->resp);
    httpmsg_headers_clear(&call->rh);

    if (call->status == LLM_ERR_TRANSIENT && call->attempts <= (uint32_t)c->o.max_retries) {
        int64_t delay = backoff_delay_ms(&c->backoff, call->attempts, rl.retry_after_ms);
        c->stats.retries++;
        log_debug("%s: attempt %u failed (%s); retrying in %lld ms", call->m->input, call->attempts,
                  call->error, (long long)delay);
        call->state = CALL_BACKOFF;
        call->retry_timer = loop_timer_add(c->loop, delay, on_retry, call);
        return;
    }
    finish(c, call);
}

/* Starts queued calls while the global and endpoint limits allow, round robin over endpoints. */
static void pump(llm_client_t *c)
{
    if (c->pumping || c->destroying) {   /* re-entered from a callback: run on the next pass */
        arm_kick(c);
        return;
    }
    c->pumping = true;
    int budget = PASS_BUDGET;
    while (c->ring && c->active < c->o.max_concurrency && budget > 0) {
        endpoint_t *ep = c->ring;
        if (!ep->q_head) {
            ring_remove(c, ep);   /* back in when a call is queued */
            continue;
        }
        if (gate_exhausted(c, ep)) {   /* fail fast: the provider already said the quota is gone */
            call_t *call = queue_pop(c, ep);
            set_error(call, LLM_ERR_QUOTA,
                      "quota exhausted on this endpoint (an earlier call was refused); not sent");
            finish(c, call);
            budget--;
            continue;
        }
        int64_t wait = gate_admit(c, ep, ep->q_head);
        if (wait > 0) {
            gate_wait(c, ep, wait);
            continue;
        }
        call_t *call = queue_pop(c, ep);
        c->ring = ep->ring_next;
        start_attempt(c, call);
        budget--;
    }
    c->pumping = false;
    if (budget == 0 && c->ring && c->active < c->o.max_concurrency) arm_kick(c);
}

static void on_ep_wake(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    endpoint_t *ep = arg;
    ep->wake_timer = 0;
    ring_add(ep->c, ep);
    pump(ep->c);
}

/* Reads finished transfers (at most PASS_BUDGET), then starts what they made room for. */
static void process_msgs(llm_client_t *c)
{
    int left = 0;
    for (int budget = PASS_BUDGET; budget > 0; budget--) {
        CURLMsg *msg = curl_multi_info_read(c->multi, &left);
        if (!msg) break;
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        char *priv = NULL;
        long status = 0;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv) {
            log_error("finished transfer without its call; dropping it");
            CURLMcode mc = curl_multi_remove_handle(c->multi, easy);
            if (mc != CURLM_OK) log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
            curl_easy_cleanup(easy);
            continue;
        }
        if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
        CURLMcode mc = curl_multi_remove_handle(c->multi, easy);
        if (mc != CURLM_OK) log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
        if (mc == CURLM_OK) easy_put(c, easy);
        else curl_easy_cleanup(easy);
        call_t *call = (call_t *)priv;
        call->easy = NULL;
        attempt_done(c, call, res, status, false);
    }
    if (left > 0) arm_kick(c);
    pump(c);
}

/* ---- loop <-> curl glue (multi-event.c) ---- */
static void on_fd(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    llm_client_t *c = arg;
    int flags = ((events & LOOP_READ) ? CURL_CSELECT_IN : 0) | ((events & LOOP_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(c->multi, fd, flags, &running);
    if (mc != CURLM_OK) log_error("curl_multi_socket_action(fd %d): %s", fd, curl_multi_strerror(mc));
    process_msgs(c);
}

static void on_curl_timeout(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    llm_client_t *c = arg;
    c->curl_timer = 0;
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK) log_error("curl_multi_socket_action(timeout): %s", curl_multi_strerror(mc));
    process_msgs(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    llm_client_t *c = userp;
    if (c->curl_timer) {
        loop_timer_del(c->loop, c->curl_timer);
        c->curl_timer = 0;
    }
    /* 0 means "as soon as possible": the loop runs a 0 ms timer on its next pass, never from
     * inside this callback, which curl forbids. */
    if (timeout_ms >= 0 && !c->destroying) c->curl_timer = loop_timer_add(c->loop, timeout_ms, on_curl_timeout, c);
    return 0;
}

static void socks_forget(llm_client_t *c, int fd)
{
    for (size_t i = 0; i < c->n_socks; i++)
        if (c->socks[i] == fd) {
            c->socks[i] = c->socks[--c->n_socks];
            return;
        }
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    llm_client_t *c = userp;
    if (what == CURL_POLL_REMOVE) {
        loop_fd_del(c->loop, s);
        socks_forget(c, s);
        return 0;
    }
    if (c->destroying) return 0;
    int events = ((what & CURL_POLL_IN) ? LOOP_READ : 0) | ((what & CURL_POLL_OUT) ? LOOP_WRITE : 0);
    if (!socketp) {   /* first time curl tells us about this socket */
        CURLMcode mc = curl_multi_assign(c->multi, s, c);
        if (mc != CURLM_OK) log_error("curl_multi_assign(fd %d): %s", (int)s, curl_multi_strerror(mc));
        if (c->n_socks == c->cap_socks) {
            c->cap_socks = c->cap_socks ? c->cap_socks * 2 : 64;
            c->socks = xrealloc(c->socks, c->cap_socks * sizeof(int));
        }
        c->socks[c->n_socks++] = s;
    }
    if (loop_fd_set(c->loop, s, events, on_fd, c) < 0) {
        log_error("cannot watch socket %d: %s", (int)s, strerror(errno));
        return -1;   /* curl fails the transfers on it (CURLM_ABORTED_BY_CALLBACK) */
    }
    return 0;
}

/* Deferred work: finished transfers left by a bounded pass, calls done before any attempt,
 * and starting queued calls. */
static void arm_kick_cb(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    llm_client_t *c = arg;
    c->kick_timer = 0;
    for (int budget = PASS_BUDGET; budget > 0 && c->done_head; budget--) {
        call_t *call = c->done_head;
        c->done_head = call->next;
        if (!c->done_head) c->done_tail = NULL;
        call->next = NULL;
        finish(c, call);
    }
    if (c->done_head) arm_kick(c);
    process_msgs(c);   /* also pumps */
}

/* ---- public ---- */
void llm_opts_default(llm_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_concurrency = 256;
    o->connect_timeout_ms = 10000;
    o->request_timeout_ms = 300000;
    o->max_retries = 6;
    o->backoff_base_ms = 500;
    o->backoff_max_ms = 30000;
    o->region = NULL;
}

llm_client_t *llm_client_new(loop_t *loop, const llm_opts_t *opts)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        log_error("curl_global_init: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    llm_opts_t d;
    llm_opts_default(&d);
    llm_client_t *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->o = opts ? *opts : d;
    if (c->o.max_concurrency <= 0) c->o.max_concurrency = d.max_concurrency;
    if (c->o.connect_timeout_ms <= 0) c->o.connect_timeout_ms = d.connect_timeout_ms;
    if (c->o.request_timeout_ms <= 0) c->o.request_timeout_ms = d.request_timeout_ms;
    if (c->o.max_retries < 0) c->o.max_retries = d.max_retries;
    if (c->o.backoff_base_ms <= 0) c->o.backoff_base_ms = d.backoff_base_ms;
    if (c->o.backoff_max_ms <= 0) c->o.backoff_max_ms = d.backoff_max_ms;
    c->region = xstrdup(c->o.region);
    c->o.region = c->region;
    c->rl = ratelimit_new(c->o.max_concurrency);
    backoff_init(&c->backoff, c->o.backoff_base_ms, c->o.backoff_max_ms,
                 (uint64_t)loop_now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c);
    c->multi = curl_multi_init();
    if (!c->multi) {
        log_error("curl_multi_init failed");
        ratelimit_destroy(&c->rl);
        free(c->region);
        free(c);
        return NULL;
    }
    CURLMcode mc = CURLM_OK;
#define MSETOPT(opt, val) \
    do { if (mc == CURLM_OK) mc = curl_multi_setopt(c->multi, opt, val); } while (0)
    MSETOPT(CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    MSETOPT(CURLMOPT_SOCKETDATA, c);
    MSETOPT(CURLMOPT_TIMERFUNCTION, on_curl_timer);
    MSETOPT(CURLMOPT_TIMERDATA, c);
    MSETOPT(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    MSETOPT(CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->o.max_concurrency);
    MSETOPT(CURLMOPT_MAXCONNECTS, (long)c->o.max_concurrency);
#undef MSETOPT
    if (mc != CURLM_OK) {
        log_error("curl_multi_setopt: %s", curl_multi_strerror(mc));
        mc = curl_multi_cleanup(c->multi);
        ratelimit_destroy(&c->rl);
        free(c->region);
        free(c);
        return NULL;
    }
    return c;
}

void llm_client_destroy(llm_client_t **self_p)
{
    if (!self_p || !*self_p) return;
    llm_client_t *c = *self_p;
    c->destroying = true;
    while (c->all) {
        call_t *call = c->all;
        all_unlink(c, call);
        if (call->easy) {
            CURLMcode mc = curl_multi_remove_handle(c->multi, call->easy);
            if (mc != CURLM_OK) log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
            curl_easy_cleanup(call->easy);
        }
        if (call->retry_timer) loop_timer_del(c->loop, call->retry_timer);
        call_free(call);
    }
    if (c->kick_timer) loop_timer_del(c->loop, c->kick_timer);
    if (c->curl_timer) loop_timer_del(c->loop, c->curl_timer);
    c->kick_timer = c->curl_timer = 0;
    for (size_t i = 0; i < c->n_idle; i++) curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    CURLMcode mc = curl_multi_cleanup(c->multi);
    if (mc != CURLM_OK) log_error("curl_multi_cleanup: %s", curl_multi_strerror(mc));
    if (c->curl_timer) loop_timer_del(c->loop, c->curl_timer);
    for (size_t i = 0; i < c->n_socks; i++) loop_fd_del(c->loop, c->socks[i]);   /* curl closed them */
    free(c->socks);
    while (c->models) {
        model_t *m = c->models;
        c->models = m->next;
        free(m->input);
        free(m->region);
        modelstr_clear(&m->ms);
        modelstr_endpoint_clear(&m->where);
        free(m);
    }
    while (c->endpoints) {
        endpoint_t *ep = c->endpoints;
        c->endpoints = ep->next;
        if (ep->wake_timer) loop_timer_del(c->loop, ep->wake_timer);
        free(ep->key);
        free(ep);
    }
    while (c->pending_limits) {
        pending_limit_t *pl = c->pending_limits;
        c->pending_limits = pl->next;
        free(pl->model);
        free(pl->region);
        free(pl);
    }
    ratelimit_destroy(&c->rl);
    free(c->region);
    free(c);
    *self_p = NULL;
}

static size_t prompt_bytes(const llm_req_t *req)
{
    size_t n = req->system ? strlen(req->system) : 0;
    for (size_t i = 0; i < req->n_msgs && req->msgs; i++)
        if (req->msgs[i].content) n += strlen(req->msgs[i].content);
    return n;
}

int llm_call(llm_client_t *c, const char *model, const llm_req_t *req, llm_done_cb cb, void *arg, char *err,
             size_t errlen)
{
    if (!model || !req || !cb) {
        snprintf(err, errlen, "llm_call needs a model string, a request and a callback");
        return -1;
    }
    model_t *m = model_get(c, model, req->region, err, errlen);
    if (!m) return -1;
    call_t *call = xcalloc(1, sizeof(*call));
    call->c = c;
    call->m = m;
    call->cb = cb;
    call->arg = arg;
    httpmsg_request_init(&call->http);
    buf_init(&call->resp, LLM_MAX_BODY);
    httpmsg_headers_init(&call->rh);
    call->max_tokens = (uint64_t)(req->max_tokens > 0 ? req->max_tokens : 0);
    call->est_tokens = prompt_bytes(req) / 4 + call->max_tokens;
    call->all_next = c->all;
    if (c->all) c->all->all_prev = call;
    c->all = call;
    c->pending++;

    char berr[512];
    provider_call_t pc = {.model = &m->ms, .endpoint = &m->where, .req = req};
    if (m->prov->build(&pc, &call->http, berr, sizeof berr) < 0) {
        set_error(call, LLM_ERR_PERMANENT, "invalid request: %s", berr);
        call->state = CALL_DONE;
        if (c->done_tail) c->done_tail->next = call;
        else c->done_head = call;
        c->done_tail = call;
    } else {
        queue_push(c, m->ep, call, false);
        ring_add(c, m->ep);
    }
    arm_kick(c);
    return 0;
}

size_t llm_pending(const llm_client_t *c) { return c->pending; }

void llm_set_limit(llm_client_t *c, const char *model, double rpm, double tpm, int max_concurrency)
{
    llm_set_limit_in(c, model, NULL, rpm, tpm, max_concurrency);
}

void llm_set_limit_in(llm_client_t *c, const char *model, const char *region, double rpm, double tpm,
                      int max_concurrency)
{
    char err[512];
    model_t *m = model_get(c, model, region, err, sizeof err);
    if (m) {
        apply_limit(c, m->ep, rpm, tpm, max_concurrency);
        return;
    }
    log_warn("limits for `%s` wait until it resolves: %s", model, err);
    const char *rg = region && *region ? region : NULL;
    pending_limit_t *pl = c->pending_limits;
    while (pl && !(strcmp(pl->model, model) == 0 && same_region(pl->region, rg))) pl = pl->next;
    if (!pl) {
        pl = xcalloc(1, sizeof(*pl));
        pl->model = xstrdup(model);
        pl->region = xstrdup(rg);
        pl->next = c->pending_limits;
        c->pending_limits = pl;
    }
    pl->rpm = rpm;
    pl->tpm = tpm;
    pl->max_concurrency = max_concurrency;
}

void llm_get_stats(const llm_client_t *c, llm_stats_t *out) { *out = c->stats; }

size_t llm_demand(llm_client_t *c, ratelimit_row_t **rows) { return ratelimit_demand(c->rl, rows); }

bool llm_demand_due(const llm_client_t *c) { return ratelimit_demand_due(c->rl); }

void llm_allot(llm_client_t *c, const ratelimit_row_t *rows, size_t n)
{
    ratelimit_allot(c->rl, rows, n);
    /* Endpoints waiting for a share may go now, not at their next timer. */
    for (endpoint_t *ep = c->endpoints; ep; ep = ep->next) {
        if (!ep->wake_timer) continue;
        loop_timer_del(c->loop, ep->wake_timer);
        ep->wake_timer = 0;
        ring_add(c, ep);
    }
    arm_kick(c);
}
