/* ratelimit: per-endpoint-key request and token pacing for one worker thread (issue: quota
 * saturation). For each key (provider|model|base_url|credential hash, see modelstr.h) it keeps
 * token buckets for requests and tokens refilled smoothly (per millisecond, so no minute-sized
 * bursts), an adaptive rate (multiplicative decrease on 429 / throttling, additive increase
 * while clean, 5xx pauses growth), a concurrency cap (AIMD when no limits are configured), the
 * pause demanded by Retry-After and rate-limit headers, and the quota-exhausted state. The
 * configured limits are fleet-wide; the broker's ALLOT gives this thread its share, and DEMAND
 * reports what this thread wants. Pure state: no I/O, time passed in by the caller. */
#ifndef LLMAJ_RATELIMIT_H
#define LLMAJ_RATELIMIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit_t;

ratelimit_t *ratelimit_new(int default_max_concurrency);
void ratelimit_destroy(ratelimit_t **self_p);

/* The fleet-wide limits configured for a key (spec `limits`; 0 = none). */
void ratelimit_configure(ratelimit_t *r, const char *key, double rpm, double tpm, int max_concurrency);

/* May a call costing `est_tokens` start on `key` now? 0 = yes (the request and tokens are taken
 * and the call counted in flight); otherwise the number of ms to wait before asking again. */
int64_t ratelimit_acquire(ratelimit_t *r, const char *key, uint64_t est_tokens, int64_t now_ms);

/* Outcome of a call that acquired: corrects the token estimate with the actual usage and adapts
 * the rate. http_status 0 = transport error. retry_after_ms >= 0 when the server asked for a pause. */
typedef struct {
    long http_status;
    uint64_t est_tokens, actual_tokens; /* actual: the cost as the provider counts it; 0 = unknown */
    int64_t retry_after_ms;             /* -1 = none */
    bool throttled;                     /* 429 / ThrottlingException */
    bool quota_exhausted;
    /* from x-ratelimit-* / anthropic-ratelimit-*: -1 = unknown */
    int64_t remaining_requests, remaining_tokens, reset_requests_ms, reset_tokens_ms;
    /* the per-minute limits the provider announces (x-ratelimit-limit-*,
     * anthropic-ratelimit-*-limit): <= 0 = unknown. A key without configured rates adopts them. */
    int64_t limit_requests, limit_tokens;
} ratelimit_outcome_t;
void ratelimit_release(ratelimit_t *r, const char *key, const ratelimit_outcome_t *o, int64_t now_ms);

/* Calls waiting for `key` (not yet acquired) are counted as demand. */
void ratelimit_demand_add(ratelimit_t *r, const char *key, int delta);

/* True when a key with limits that was never reported, or last reported without demand, has
 * calls waiting: the caller should send DEMAND now instead of at its next tick (the broker gives
 * such a key no share until it hears). ratelimit_demand clears it. */
bool ratelimit_demand_due(const ratelimit_t *r);

/* True once the key's quota is exhausted (dispatch to it stops). */
bool ratelimit_exhausted(const ratelimit_t *r, const char *key);

/* One key's row in the fleet-wide exchange with the broker (the worker carries the rows in DEMAND
 * and ALLOT messages; this module knows nothing of the wire). In a demand row, rpm/tpm/
 * max_concurrency are the configured fleet-wide limits, `demand` the calls waiting or running, and
 * used_* what was sent since the last demand. In an allotment row they are this thread's share. */
typedef struct {
    const char *key;
    double rpm, tpm;
    uint32_t demand;
    uint32_t max_concurrency;
    uint64_t used_requests, used_tokens;
} ratelimit_row_t;

/* The demand rows to report now, for keys with configured limits (a key whose demand stays 0 is
 * reported once). *rows gets a new array (caller frees the array; the keys stay valid while the
 * limiter lives) and the count is returned (0 = nothing to report, *rows NULL). Clears
 * ratelimit_demand_due. */
size_t ratelimit_demand(ratelimit_t *r, ratelimit_row_t **rows);
/* Applies this thread's share for each row's key. */
void ratelimit_allot(ratelimit_t *r, const ratelimit_row_t *rows, size_t n);

#endif
