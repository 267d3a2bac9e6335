/* llm: the model-call engine of one thread; see llm.h.
 *
 * Owns: the queue of accepted calls, retries within their time budget, the structured-output
 * fallback, per-endpoint bookkeeping (the rate-limit seam), stats, the public API.
 * Does not own: the transfers and libcurl (transfer.c, llm_int.h), request/reply formats
 * (provider_*.c), model-string resolution (modelstr.c), header parsing (rlheaders.c), the delay
 * formula (backoff.c).
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
 * Finished transfers come back through llm_attempt_done (from transfer.c, which drives libcurl
 * on the loop). User callbacks run from there (or from the pass's kick timer), never from inside
 * a curl callback, so they may call llm_call. They must not destroy the client.
 *
 * Retries: a transient failure is retried while the call's retry budget lasts (its first
 * attempt's start + budget, on the loop's clock), after a backoff delay (backoff.h: decorrelated
 * jitter over a growing floor, the server's Retry-After a floor too). A structured-output request
 * refused as malformed (400/422) by an endpoint not yet known to take them is sent again at once
 * as its plain twin (built with it), which teaches the endpoint's answer to later calls.
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
#include "llm_int.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ---- */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm_kick_cb(loop_t *loop, uint64_t id, void *arg);
void llm_kick(llm_client_t *c)
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
    } else { /* insert before the current head: last in the round */
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
    int64_t wait = ratelimit_acquire(c->rl, ep->key, call->est_tokens, loop_time_ms(c->loop));
    if (wait > 0) return wait;
    ep->in_flight++;
    ep->requests_started++;
    ep->tokens_estimated += call->est_tokens;
    return 0;
}

static bool gate_exhausted(const llm_client_t *c, const endpoint_t *ep) { return ratelimit_exhausted(c->rl, ep->key); }

/* The token dimension closest to running out (OpenAI reports one, Anthropic three). */
static void tightest_tokens(const rlheaders_t *rl, int64_t *remaining, int64_t *reset_ms)
{
    *remaining = *reset_ms = -1;
    for (int d = RLH_TOKENS; d <= RLH_OUTPUT_TOKENS; d++) {
        const rlheaders_window_t *w = &rl->dim[d];
        if (w->remaining < 0) continue;
        if (*remaining < 0 || w->remaining < *remaining || (w->remaining == *remaining && w->reset_ms > *reset_ms)) {
            *remaining = w->remaining;
            *reset_ms = w->reset_ms;
        }
    }
}

/* What a finished call cost against the provider's token limit, once its usage is known (0 =
 * unknown: the estimate stands). Providers count differently (provider_t.charge): OpenAI-style
 * APIs charge prompt + max_tokens at admission, Anthropic and Bedrock settle on the usage. */
static uint64_t charged_tokens(const call_t *call, const usage_t *used)
{
    if (!used) return 0;
    if (call->m->prov->charge) return call->m->prov->charge(call->est_tokens, call->max_tokens, used);
    return used->input_tokens + used->output_tokens;
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
    ratelimit_release(c->rl, ep->key, &o, loop_time_ms(c->loop));
    ep->in_flight--;
    if (call->http_status != 0) ep->heard = true;
    if (used) {
        ep->input_tokens += used->input_tokens;
        ep->output_tokens += used->output_tokens;
    }
    if (rl->n_seen || rl->throttled) {
        ep->rl = *rl;
        ep->rl_at_ms = loop_time_ms(c->loop);
    }
    if (rl->throttled) ep->throttles++;
    if (rl->n_invalid && !ep->warned_bad_headers) {
        ep->warned_bad_headers = true;
        log_warn("endpoint %s: ignoring %u malformed rate-limit header value(s), first `%s`", ep->key, rl->n_invalid,
                 rl->first_invalid);
    }
    ring_add(c, ep); /* a slot opened, or the limiter changed its mind: queued calls may go */
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
    llm_kick(c);
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
    if (call->has_plain) httpmsg_request_clear(&call->plain);
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
    if (call->status != LLM_OK) { /* the message names the model, and the attempts when retried */
        char *e;
        if (call->status == LLM_ERR_TRANSIENT && call->out_of_budget)
            e = xasprintf("%s: gave up after %u attempts in %.1f s (the retry budget is %.0f s): %s", call->m->input,
                          call->attempts, (double)(loop_time_us(c->loop) - call->t_first_us) / 1e6,
                          (double)call->budget_ms / 1000.0, call->error ? call->error : "unknown error");
        else if (call->status == LLM_ERR_TRANSIENT && call->attempts > 1)
            e = xasprintf("%s: gave up after %u attempts: %s", call->m->input, call->attempts,
                          call->error ? call->error : "unknown error");
        else e = xasprintf("%s: %s", call->m->input, call->error ? call->error : "unknown error");
        free(call->error);
        call->error = e;
    }
    llm_reply_t r = {
        .status = call->status,
        .text = call->status == LLM_OK ? (call->reply.text ? call->reply.text : "") : NULL,
        .text_len = call->status == LLM_OK ? call->reply.text_len : 0,
        .structured = call->status == LLM_OK ? call->reply.structured : NULL,
        .structured_len = call->status == LLM_OK && call->reply.structured ? call->reply.structured_len : 0,
        .usage = call->status == LLM_OK ? call->reply.usage : (usage_t){0, 0},
        .latency_ms = call->t_first_us ? (double)(loop_time_us(c->loop) - call->t_first_us) / 1000.0 : 0.0,
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

void llm_set_error(call_t *call, llm_status_t status, const char *fmt, ...)
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

static void on_retry(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    call_t *call = arg;
    llm_client_t *c = call->c;
    call->retry_timer = 0;
    queue_push(c, call->m->ep, call, true);
    ring_add(c, call->m->ep);
    llm_pump(c);
}

/* One attempt ended with transfer result `res` and HTTP `status`; `prepared`: it never reached
 * the wire and start_attempt already set status and error. Decides between done and retry. */
/* May `call` be retried after a transient failure, and after how long? Within the call's retry
 * budget (and the count cap when one is set), with the next backoff delay (decorrelated jitter
 * over a growing floor, at least the server's Retry-After). */
static bool retry_delay(llm_client_t *c, call_t *call, int64_t retry_after_ms, int64_t *delay)
{
    if (c->o.max_retries >= 0 && call->attempts > (uint32_t)c->o.max_retries) return false;
    int64_t d = backoff_next_ms(&c->backoff, call->attempts, call->last_delay_ms, retry_after_ms);
    int64_t spent_ms = (loop_time_us(c->loop) - call->t_first_us) / 1000;
    if (spent_ms + d > call->budget_ms) {
        call->out_of_budget = true;
        return false;
    }
    call->last_delay_ms = d;
    *delay = d;
    return true;
}

/* A structured-output request was refused as malformed (400/422) by an endpoint not known to take
 * such requests: the plain twin goes next, at once; nothing is counted as a retry. */
static bool fall_back_to_plain(llm_client_t *c, call_t *call)
{
    if (!call->has_plain || !call->structured || call->status != LLM_ERR_PERMANENT ||
        (call->http_status != 400 && call->http_status != 422))
        return false;
    log_debug("%s: the structured-output request was refused (%s); asking again without it", call->m->input,
              call->error);
    httpmsg_request_t t = call->http;
    call->http = call->plain;
    call->plain = t;
    call->structured = false;
    queue_push(c, call->m->ep, call, true);
    ring_add(c, call->m->ep);
    llm_kick(c);
    return true;
}

/* A reply came back: the endpoint's answer to structured-output requests is known now. */
static void learn_structured(call_t *call)
{
    endpoint_t *ep = call->m->ep;
    if (!call->has_plain || ep->structured != STRUCT_UNKNOWN) return;
    if (call->structured) {
        ep->structured = STRUCT_YES;
    } else {
        ep->structured = STRUCT_NO;
        log_warn("endpoint %s refused a structured-output request and answered without it: its replies are read "
                 "as text from now on",
                 ep->key);
    }
}

/* One attempt ended with transfer result `res` and HTTP `status`; `prepared`: it never reached
 * the wire and start_attempt already set status and error. Decides between done and retry. */
void llm_attempt_done(llm_client_t *c, call_t *call, CURLcode res, long status, bool prepared)
{
    endpoint_t *ep = call->m->ep;
    c->active--;
    call->http_status = (res == CURLE_OK || call->body_overflow || call->header_overflow) ? status : 0;
    rlheaders_t rl;
    rlheaders_parse(&rl, &call->rh, call->http_status, call->resp.data, call->resp.len, wall_ms());
    const usage_t *used = NULL;
    char url[512];
    transfer_url_for_log(call->http.url ? call->http.url : "", url, sizeof url);

    if (prepared) {
        /* status and message already set by start_attempt */
    } else if (call->body_overflow) {
        llm_set_error(call, LLM_ERR_PERMANENT, "reply from %s is larger than the %zu MiB cap", url, LLM_MAX_BODY >> 20);
    } else if (call->header_overflow) {
        llm_set_error(call, LLM_ERR_PERMANENT, "reply headers from %s are larger than the %zu KiB cap", url,
                      LLM_MAX_HEADERS >> 10);
    } else if (res != CURLE_OK) {
        c->stats.transport_errors++;
        llm_set_error(call, transfer_class(res), "request to %s failed: %s", url,
                      call->curl_err[0] ? call->curl_err : curl_easy_strerror(res));
    } else if (status >= 200 && status < 300) {
        char err[512];
        provider_reply_clear(&call->reply);
        if (call->m->prov->parse_ok(call->resp.data ? call->resp.data : "", call->resp.len, call->structured,
                                    &call->reply, err, sizeof err) == 0) {
            call->status = LLM_OK;
            used = &call->reply.usage;
            learn_structured(call);
        } else {
            llm_set_error(call, LLM_ERR_PERMANENT, "%s", err);
        }
    } else {
        if (status == 429) c->stats.http_429++;
        if (status >= 500) c->stats.http_5xx++;
        char msg[900];
        llm_status_t cls = call->m->prov->classify(status, call->resp.data, call->resp.len, &call->rh, msg, sizeof msg);
        if (cls == LLM_ERR_QUOTA) llm_set_error(call, cls, "quota exhausted: %s", msg);
        else llm_set_error(call, cls, "%s", msg);
    }
    gate_finished(c, ep, call, &rl, used);
    buf_free(&call->resp);
    httpmsg_headers_clear(&call->rh);

    if (fall_back_to_plain(c, call)) return;
    int64_t delay = 0;
    if (call->status == LLM_ERR_TRANSIENT && call->cancelled && *call->cancelled) {
        llm_set_error(call, LLM_ERR_CANCELLED, "cancelled after attempt %u: not retried", call->attempts);
    } else if (call->status == LLM_ERR_TRANSIENT && retry_delay(c, call, rl.retry_after_ms, &delay)) {
        c->stats.retries++;
        log_debug("%s: attempt %u failed (%s); retrying in %lld ms", call->m->input, call->attempts, call->error,
                  (long long)delay);
        call->state = CALL_BACKOFF;
        call->retry_timer = loop_timer_add(c->loop, delay, on_retry, call);
        return;
    }
    finish(c, call);
}

/* Starts queued calls while the global and endpoint limits allow, round robin over endpoints. */
void llm_pump(llm_client_t *c)
{
    if (c->pumping || c->destroying) { /* re-entered from a callback: run on the next pass */
        llm_kick(c);
        return;
    }
    c->pumping = true;
    int budget = PASS_BUDGET;
    while (c->ring && c->active < c->o.max_concurrency && budget > 0) {
        endpoint_t *ep = c->ring;
        if (!ep->q_head) {
            ring_remove(c, ep); /* back in when a call is queued */
            continue;
        }
        if (ep->q_head->cancelled && *ep->q_head->cancelled) { /* its caller no longer wants it */
            call_t *call = queue_pop(c, ep);
            llm_set_error(call, LLM_ERR_CANCELLED, "cancelled: not sent");
            finish(c, call);
            budget--;
            continue;
        }
        if (gate_exhausted(c, ep)) { /* fail fast: the provider already said the quota is gone */
            call_t *call = queue_pop(c, ep);
            llm_set_error(call, LLM_ERR_QUOTA,
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
        transfer_start(c, call);
        budget--;
    }
    c->pumping = false;
    if (budget == 0 && c->ring && c->active < c->o.max_concurrency) llm_kick(c);
}

static void on_ep_wake(loop_t *loop, uint64_t id, void *arg)
{
    (void)loop;
    (void)id;
    endpoint_t *ep = arg;
    ep->wake_timer = 0;
    ring_add(ep->c, ep);
    llm_pump(ep->c);
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
    if (c->done_head) llm_kick(c);
    transfer_process(c); /* also pumps */
}

/* ---- public ---- */
void llm_opts_default(llm_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_concurrency = 256;
    o->connect_timeout_ms = 10000;
    o->request_timeout_ms = 300000;
    o->max_retries = -1;
    o->retry_budget_ms = 300000;
    o->backoff_base_ms = 500;
    o->backoff_max_ms = 30000;
    o->region = NULL;
}

llm_client_t *llm_client_new(loop_t *loop, const llm_opts_t *opts)
{
    if (!transfer_global_ready()) return NULL;
    llm_opts_t d;
    llm_opts_default(&d);
    llm_client_t *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->o = opts ? *opts : d;
    if (c->o.max_concurrency <= 0) c->o.max_concurrency = d.max_concurrency;
    if (c->o.connect_timeout_ms <= 0) c->o.connect_timeout_ms = d.connect_timeout_ms;
    if (c->o.request_timeout_ms <= 0) c->o.request_timeout_ms = d.request_timeout_ms;
    if (c->o.retry_budget_ms <= 0) c->o.retry_budget_ms = d.retry_budget_ms;
    if (c->o.backoff_base_ms <= 0) c->o.backoff_base_ms = d.backoff_base_ms;
    if (c->o.backoff_max_ms <= 0) c->o.backoff_max_ms = d.backoff_max_ms;
    c->region = xstrdup(c->o.region);
    c->o.region = c->region;
    c->rl = ratelimit_new(c->o.max_concurrency);
    backoff_init(&c->backoff, c->o.backoff_base_ms, c->o.backoff_max_ms,
                 (uint64_t)loop_now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c);
    if (transfer_setup(c) < 0) {
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
        transfer_drop(c, call);
        if (call->retry_timer) loop_timer_del(c->loop, call->retry_timer);
        call_free(call);
    }
    if (c->kick_timer) loop_timer_del(c->loop, c->kick_timer);
    c->kick_timer = 0;
    transfer_teardown(c);
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
    if (req->schema && req->schema->schema) n += strlen(req->schema->schema);
    return n;
}

/* A schema the providers can express: a name of 1-64 [A-Za-z0-9_-] and some schema text. */
static bool schema_ok(const llm_schema_t *sc)
{
    if (!sc->name || !sc->schema || !*sc->schema) return false;
    size_t n = strlen(sc->name);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = sc->name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

/* Builds the call's request(s): with the schema when the provider can ask for structured output
 * and the endpoint has not refused it, and then also a plain twin while the endpoint's answer to
 * such requests is not known. -1 with err when the request cannot be expressed. */
static int call_build(call_t *call, const llm_req_t *req, char *err, size_t errlen)
{
    model_t *m = call->m;
    llm_req_t plain = *req;
    plain.schema = NULL;
    bool structured = req->schema && m->prov->structured && m->ep->structured != STRUCT_NO;
    if (req->schema && !schema_ok(req->schema)) {
        snprintf(err, errlen, "the schema's name must be 1 to 64 of A-Z a-z 0-9 _ - and its text not empty");
        return -1;
    }
    provider_call_t pc = {.model = &m->ms, .endpoint = &m->where, .req = structured ? req : &plain};
    if (m->prov->build(&pc, &call->http, err, errlen) < 0) return -1;
    call->structured = structured;
    if (structured && m->ep->structured == STRUCT_UNKNOWN) {
        httpmsg_request_init(&call->plain);
        call->has_plain = true;
        pc.req = &plain;
        if (m->prov->build(&pc, &call->plain, err, errlen) < 0) return -1;
    }
    return 0;
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
    call->cancelled = req->cancelled;
    httpmsg_request_init(&call->http);
    buf_init(&call->resp, LLM_MAX_BODY);
    httpmsg_headers_init(&call->rh);
    call->max_tokens = (uint64_t)(req->max_tokens > 0 ? req->max_tokens : 0);
    call->est_tokens = prompt_bytes(req) / 4 + call->max_tokens;
    call->budget_ms = req->retry_budget_ms > 0 ? req->retry_budget_ms : c->o.retry_budget_ms;
    call->last_delay_ms = -1;
    call->all_next = c->all;
    if (c->all) c->all->all_prev = call;
    c->all = call;
    c->pending++;

    char berr[512];
    if (call_build(call, req, berr, sizeof berr) < 0) {
        llm_set_error(call, LLM_ERR_PERMANENT, "invalid request: %s", berr);
        call->state = CALL_DONE;
        if (c->done_tail) c->done_tail->next = call;
        else c->done_head = call;
        c->done_tail = call;
    } else {
        queue_push(c, m->ep, call, false);
        ring_add(c, m->ep);
    }
    llm_kick(c);
    return 0;
}

int llm_model_check(const char *model, const char *region, char *err, size_t errlen)
{
    modelstr_t ms;
    if (modelstr_parse(model, region, &ms, err, errlen) < 0) return -1;
    int rc = -1;
    const provider_t *prov = provider_for(ms.kind);
    modelstr_endpoint_t where;
    if (!prov) {
        snprintf(err, errlen, "`%s`: the %s provider is not available in this build", model,
                 provider_kind_name(ms.kind));
    } else if (modelstr_endpoint(&ms, &where, err, errlen) == 0) {
        rc = prov->check_env ? prov->check_env(&ms, &where, err, errlen) : 0;
        modelstr_endpoint_clear(&where);
    }
    modelstr_clear(&ms);
    return rc;
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
    llm_kick(c);
}
