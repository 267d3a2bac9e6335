/* backoff: decorrelated jitter over a growing floor; see backoff.h. */
#include "backoff.h"

void backoff_init(backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->state = seed;
}

/* splitmix64 (Steele, Lea, Flood 2014): every seed, 0 included, gives a full-period sequence. */
static uint64_t next_u64(backoff_t *b)
{
    uint64_t z = (b->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t backoff_uniform(backoff_t *b, uint64_t n)
{
    if (n == UINT64_MAX) return next_u64(b);
    /* multiply-shift maps 64 random bits onto [0, n] without a division */
    return (uint64_t)(((unsigned __int128)next_u64(b) * (n + 1)) >> 64);
}

/* exp(n) = min(max, base * 2^(n-1)), without overflow for any n. */
static int64_t step_ms(const backoff_t *b, uint32_t retry)
{
    int64_t step = b->base_ms;
    for (uint32_t i = 1; i < retry && step < b->max_ms; i++) step = step > b->max_ms / 2 ? b->max_ms : step * 2;
    return step < b->max_ms ? step : b->max_ms;
}

int64_t backoff_floor_ms(const backoff_t *b, uint32_t retry) { return step_ms(b, retry ? retry : 1) / 2; }

int64_t backoff_next_ms(backoff_t *b, uint32_t retry, int64_t prev_ms, int64_t retry_after_ms)
{
    int64_t step = step_ms(b, retry ? retry : 1);
    int64_t lo = step / 2, hi = step;
    if (prev_ms > 0) {
        int64_t tripled = prev_ms > b->max_ms / 3 ? b->max_ms : prev_ms * 3;
        if (tripled > hi) hi = tripled;
    }
    if (hi > b->max_ms) hi = b->max_ms;
    int64_t delay = lo + (int64_t)backoff_uniform(b, (uint64_t)(hi - lo));
    if (retry_after_ms >= 0) {
        int64_t floor = retry_after_ms < BACKOFF_RETRY_AFTER_MAX_MS ? retry_after_ms : BACKOFF_RETRY_AFTER_MAX_MS;
        int64_t spread = floor / 10 < b->base_ms ? floor / 10 : b->base_ms;
        int64_t honoured = floor + (int64_t)backoff_uniform(b, (uint64_t)spread);
        if (delay < honoured) delay = honoured;
    }
    return delay;
}

int64_t backoff_delay_ms(backoff_t *b, uint32_t retry, int64_t retry_after_ms)
{
    return backoff_next_ms(b, retry, -1, retry_after_ms);
}
