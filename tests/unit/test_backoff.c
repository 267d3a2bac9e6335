/* test_backoff: bounds, the growing floor, decorrelation, cap, Retry-After floor and determinism
 * of the backoff delays. */
#include "backoff.h"

#include <stdio.h>

#include "check.h"

static int64_t step_of(int64_t base, int64_t max, uint32_t retry)
{
    int64_t c = base;
    for (uint32_t i = 1; i < retry && c < max; i++) c *= 2;
    return c < max ? c : max;
}

/* Without a previous delay, retry n waits in [step/2, step]; the draws spread over that range. */
static void test_bounds(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 1);
    for (uint32_t retry = 1; retry <= 12; retry++) {
        int64_t step = step_of(500, 30000, retry);
        int64_t lo = step, hi = 0, sum = 0;
        int in_range = 1;
        for (int i = 0; i < 2000; i++) {
            int64_t d = backoff_delay_ms(&b, retry, -1);
            if (d < step / 2 || d > step) in_range = 0;
            if (d < lo) lo = d;
            if (d > hi) hi = d;
            sum += d;
        }
        CHECK(in_range);
        CHECK(backoff_floor_ms(&b, retry) == step / 2);
        /* fixed seed: no flakiness */
        CHECK(lo <= step / 2 + step / 40);
        CHECK(hi >= step - step / 40);
        int64_t mean = sum / 2000;
        CHECK(mean > step * 13 / 20 && mean < step * 17 / 20);
    }
}

/* A call's delays, each drawn from the previous one: never below the floor, never above the cap,
 * and the sum of any k retries is at least the sum of the floors. The audit's case: seven
 * attempts (six retries) could all land within 5 s with full jitter; now they span >= 15.75 s. */
static void test_floor_adds_up(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 5);
    int ok = 1;
    int64_t min_total6 = INT64_MAX, min_total8 = INT64_MAX, max_seen = 0;
    for (int run = 0; run < 500; run++) {
        int64_t prev = -1, total = 0;
        for (uint32_t retry = 1; retry <= 8; retry++) {
            int64_t d = backoff_next_ms(&b, retry, prev, -1);
            if (d < backoff_floor_ms(&b, retry) || d > 30000) ok = 0;
            if (prev > 0 && d > 3 * prev && d > step_of(500, 30000, retry)) ok = 0; /* decorrelated ceiling */
            if (d > max_seen) max_seen = d;
            total += d;
            prev = d;
            if (retry == 6 && total < min_total6) min_total6 = total;
        }
        if (total < min_total8) min_total8 = total;
    }
    CHECK(ok);
    CHECK(min_total6 >= 15750);
    CHECK(min_total8 >= 45750);
    CHECK(max_seen == 30000 || max_seen > 29000); /* the cap is reached */
    /* decorrelation: after a long wait the next may be up to three times as long (to the cap) */
    int64_t hi = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t d = backoff_next_ms(&b, 2, 1000, -1); /* step 1000, previous 1000: [500, 3000] */
        if (d < 500 || d > 3000) ok = 0;
        if (d > hi) hi = d;
    }
    CHECK(ok);
    CHECK(hi > 2800);
}

static void test_cap_and_overflow(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 7);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_next_ms(&b, 4000000000u, INT64_MAX / 2, -1); /* huge counts and delays */
        if (d < 15000 || d > 30000) ok = 0;
    }
    CHECK(ok);
    /* odd parameters are repaired */
    backoff_init(&b, 0, -5, 3);
    CHECK(b.base_ms == 1);
    CHECK(b.max_ms == 1);
    CHECK(backoff_delay_ms(&b, 1, -1) <= 1);
    CHECK(backoff_delay_ms(&b, 0, -1) <= 1); /* retry 0 reads as the first */
    backoff_init(&b, 100, 50, 3);
    CHECK(b.max_ms == 100);
    /* a max that is not base * 2^k still caps exactly */
    backoff_init(&b, 300, 1000, 9);
    ok = 1;
    int64_t hi = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t d = backoff_next_ms(&b, 10, 900, -1);
        if (d < 500 || d > 1000) ok = 0;
        if (d > hi) hi = d;
    }
    CHECK(ok);
    CHECK(hi > 950);
}

static void test_retry_after_floor(void)
{
    backoff_t b;
    backoff_init(&b, 500, 30000, 11);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 1, 5000); /* above the first retry's step of 500 */
        if (d < 5000 || d > 5000 + 500) ok = 0;
    }
    CHECK(ok);
    ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 1, 2000); /* spread at most a tenth of the floor */
        if (d < 2000 || d > 2200) ok = 0;
    }
    CHECK(ok);
    /* Retry-After: 0 adds no floor: plain jitter */
    ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 1, 0);
        if (d < 250 || d > 500) ok = 0;
    }
    CHECK(ok);
    /* a Retry-After below the jitter's floor never shortens the jittered delay */
    ok = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(&b, 8, 100);
        if (d < 15000 || d > 30000) ok = 0;
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
        int64_t prev = i % 2 ? 700 : -1;
        int64_t da = backoff_next_ms(&a, 1 + i % 9, prev, ra);
        int64_t db = backoff_next_ms(&b, 1 + i % 9, prev, ra);
        int64_t dc = backoff_next_ms(&c, 1 + i % 9, prev, ra);
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
    test_floor_adds_up();
    test_cap_and_overflow();
    test_retry_after_floor();
    test_determinism();
    return check_summary("test_backoff");
}
