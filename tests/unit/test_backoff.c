/* test_backoff: bounds, growth, cap, Retry-After floor and determinism of the backoff delays. */
#include "backoff.h"

#include <stdio.h>

#include "check.h"

static int64_t cap_of(int64_t base, int64_t max, uint32_t retry)
{
    int64_t c = base;
    for (uint32_t i = 1; i < retry && c < max; i++) c *= 2;
    return c < max ? c : max;
}

static void test_bounds(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 1);
    for (uint32_t retry = 1; retry <= 12; retry++) {
        int64_t cap = cap_of(500, 30000, retry);
        int64_t lo = cap, hi = 0, sum = 0;
        int in_range = 1;
        for (int i = 0; i < 2000; i++) {
            int64_t d = backoff_delay_ms(&b, retry, -1);
            if (d < 0 || d > cap) in_range = 0;
            if (d < lo) lo = d;
            if (d > hi) hi = d;
            sum += d;
        }
        CHECK(in_range);
        /* full jitter: the draws spread over the whole [0, cap] range (fixed seed: no flakiness) */
        CHECK(lo <= cap / 20);
        CHECK(hi >= cap - cap / 20);
        int64_t mean = sum / 2000;
        CHECK(mean > cap * 2 / 5 && mean < cap * 3 / 5);
    }
}

static void test_cap_and_overflow(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 7);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 4000000000u, -1);   /* huge retry counts must not overflow */
        if (d < 0 || d > 30000) ok = 0;
    }
    CHECK(ok);
    /* odd parameters are repaired */
    backoff_init(&b, 0, -5, 3);
    CHECK(b.base_ms == 1);
    CHECK(b.max_ms == 1);
    CHECK(backoff_delay_ms(&b, 1, -1) <= 1);
    backoff_init(&b, 100, 50, 3);
    CHECK(b.max_ms == 100);
    /* a max that is not base * 2^k still caps exactly */
    backoff_init(&b, 300, 1000, 9);
    ok = 1;
    int64_t hi = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t d = backoff_delay_ms(&b, 10, -1);
        if (d > 1000) ok = 0;
        if (d > hi) hi = d;
    }
    CHECK(ok);
    CHECK(hi > 900);
}

static void test_retry_after_floor(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 11);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 1, 5000);   /* above the first retry's cap of 500 */
        if (d < 5000 || d > 5000 + 500) ok = 0;
    }
    CHECK(ok);
    ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 1, 2000);   /* spread at most a tenth of the floor */
        if (d < 2000 || d > 2200) ok = 0;
    }
    CHECK(ok);
    /* Retry-After: 0 adds no floor: plain jitter */
    ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 1, 0);
        if (d < 0 || d > 500) ok = 0;
    }
    CHECK(ok);
    /* a floor below the jitter cap never shortens the jittered delay's range */
    ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 8, 100);
        if (d < 100 || d > 30000) ok = 0;
    }
    CHECK(ok);
    /* absurd Retry-After values are clamped */
    int64_t d = backoff_delay_ms(&b, 1, (int64_t)1 << 50);
    CHECK(d >= BACKOFF_RETRY_AFTER_MAX_MS && d <= BACKOFF_RETRY_AFTER_MAX_MS + 500);
}

static void test_determinism(void)
{
    backoff_t a, b, c;
    backoff_init(&a, 250, 20000, 42);
    backoff_init(&b, 250, 20000, 42);
    backoff_init(&c, 250, 20000, 43);
    int same = 1, differs = 0;
    for (uint32_t i = 0; i < 500; i++) {
        int64_t ra = i % 3 == 0 ? 1000 : -1;
        int64_t da = backoff_delay_ms(&a, 1 + i % 9, ra);
        int64_t db = backoff_delay_ms(&b, 1 + i % 9, ra);
        int64_t dc = backoff_delay_ms(&c, 1 + i % 9, ra);
        if (da != db) same = 0;
        if (da != dc) differs = 1;
    }
    CHECK(same);
    CHECK(differs);
    /* seed 0 is a valid seed too */
    backoff_init(&a, 250, 20000, 0);
    backoff_init(&b, 250, 20000, 0);
    CHECK(backoff_uniform(&a, 1000000) == backoff_uniform(&b, 1000000));
    CHECK(backoff_uniform(&a, 0) == 0);
    /* uniform covers both ends of a small range */
    int seen[4] = {0};
    for (int i = 0; i < 400; i++) seen[backoff_uniform(&a, 3)]++;
    CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
}

int main(void)
{
    test_bounds();
    test_cap_and_overflow();
    test_retry_after_floor();
    test_determinism();
    return check_summary("test_backoff");
}
