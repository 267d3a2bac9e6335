/* backoff: how long to wait before retrying a failed call. Decorrelated jitter (after Marc
 * Brooker's "Exponential Backoff And Jitter", AWS Architecture Blog, 2015) over a growing floor:
 *
 *   exp(n)    = min(max, base * 2^(n-1))                   the exponential step of retry n
 *   floor(n)  = exp(n) / 2                                  grows with every retry, to max / 2
 *   ceil(n)   = min(max, max(exp(n), 3 * previous delay))  decorrelated: tied to the last wait
 *   delay(n)  = uniform in [floor(n), ceil(n)]
 *
 * The jitter keeps clients that failed together from retrying together; the floor makes the
 * waits add up, so a handful of retries cannot all land inside a short outage (with base 500 ms
 * and max 30 s, six retries wait at least 15.75 s in all, eight at least 45.75 s). A server's
 * Retry-After is a floor too: the delay is never shorter, and is spread above it by up to a tenth
 * of it (at most base_ms) for the same reason. The pseudo-random source is a seeded splitmix64,
 * so a test that fixes the seed gets the same delays every run.
 * Owns no timers and no clock: the caller schedules the retry and keeps the time budget. */
#ifndef LLMAJ_BACKOFF_H
#define LLMAJ_BACKOFF_H
#include <stdint.h>

/* A Retry-After longer than this is clamped: a bogus "wait a year" must not park a call forever. */
#define BACKOFF_RETRY_AFTER_MAX_MS (10 * 60 * 1000)

typedef struct {
    int64_t base_ms; /* the first retry's step, > 0 */
    int64_t max_ms;  /* cap of every delay (Retry-After aside), >= base_ms */
    uint64_t state;  /* PRNG state */
} backoff_t;

/* base_ms <= 0 becomes 1; max_ms < base_ms becomes base_ms. */
void backoff_init(backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed);

/* Delay in ms before retry number `retry` (1 = the first retry) of one call. prev_ms: the delay
 * before the call's previous retry (< 0: none, or not kept). retry_after_ms < 0: the server gave
 * none. */
int64_t backoff_next_ms(backoff_t *b, uint32_t retry, int64_t prev_ms, int64_t retry_after_ms);

/* backoff_next_ms without the previous delay: for callers that keep none. */
int64_t backoff_delay_ms(backoff_t *b, uint32_t retry, int64_t retry_after_ms);

/* The least delay before retry number `retry` (floor(n) above, Retry-After aside). */
int64_t backoff_floor_ms(const backoff_t *b, uint32_t retry);

/* Uniform integer in [0, n] from the same source. */
uint64_t backoff_uniform(backoff_t *b, uint64_t n);

#endif
