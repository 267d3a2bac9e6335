/* backoff: how long to wait before retrying a failed call. Capped exponential backoff with full
 * jitter (the delay is drawn uniformly from [0, min(max, base * 2^(retry-1))]), so clients that
 * failed together do not retry together. A server's Retry-After is a floor: the delay is never
 * shorter, and is spread above it by up to a tenth of it (at most base_ms) for the same reason.
 * The pseudo-random source is a seeded splitmix64, so a test that fixes the seed gets the same
 * delays every run.
 * Owns no timers: the caller schedules the retry. */
#ifndef LLMAJ_BACKOFF_H
#define LLMAJ_BACKOFF_H
#include <stdint.h>

/* A Retry-After longer than this is clamped: a bogus "wait a year" must not park a call forever. */
#define BACKOFF_RETRY_AFTER_MAX_MS (10 * 60 * 1000)

typedef struct {
    int64_t base_ms;   /* first retry's cap, > 0 */
    int64_t max_ms;    /* cap of every retry, >= base_ms */
    uint64_t state;    /* PRNG state */
} backoff_t;

/* base_ms <= 0 becomes 1; max_ms < base_ms becomes base_ms. */
void backoff_init(backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed);

/* Delay in ms before retry number `retry` (1 = the first retry). retry_after_ms < 0: the server
 * gave none. */
int64_t backoff_delay_ms(backoff_t *b, uint32_t retry, int64_t retry_after_ms);

/* Uniform integer in [0, n] from the same source. */
uint64_t backoff_uniform(backoff_t *b, uint64_t n);

#endif
