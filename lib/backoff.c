/* backoff: capped exponential backoff with full jitter; see backoff.h. */
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

int64_t backoff_delay_ms(backoff_t *b, uint32_t retry, int64_t retry_after_ms)
{
    int64_t cap = b->base_ms;
    for (uint32_t i = 1; i < retry && cap < b->max_ms; i++) cap = cap > b->max_ms / 2 ? b->max_ms : cap * 2;
    if (cap > b->max_ms) cap = b->max_ms;
    int64_t delay = (int64_t)backoff_uniform(b, (uint64_t)cap);
    if (retry_after_ms >= 0) {
        int64_t floor = retry_after_ms < BACKOFF_RETRY_AFTER_MAX_MS ? retry_after_ms : BACKOFF_RETRY_AFTER_MAX_MS;
        int64_t spread = floor / 10 < b->base_ms ? floor / 10 : b->base_ms;
        int64_t honoured = floor + (int64_t)backoff_uniform(b, (uint64_t)spread);
        if (delay < honoured) delay = honoured;
    }
    return delay;
}
