/* test_ratelimit: common/ratelimit.c, pure state with simulated time: token-bucket pacing (no
 * minute-sized bursts), token debt and its correction at release, the 429 cut (x0.7, once per
 * second) and additive recovery (+0.05 per clean second), Retry-After and rate-limit header
 * pauses, 5xx freezing growth, quota exhaustion, the concurrency cap and AIMD for keys without
 * rates, ALLOT shares, the no-ALLOT fallback, DEMAND encoding, immediate DEMAND, limits learned
 * from headers and their decay (held 5 s after the last announcement, +1x a second, forgotten at
 * 30 s), the time-based regrowth of a cut concurrency limit, the one-request wait when nothing
 * remains, and the empty starts of the buckets.
 *
 * The .c is included to read the adaptive factor and concurrency limit (a test may reach static
 * state, see CONVENTIONS.md); every behaviour is also checked through ratelimit_acquire. */
#include "llm/ratelimit.c"

#include <stdio.h>

#include "check.h"

#define T0 1000000 /* simulated monotonic clock, ms */
#define K "openai|gpt-4o|https://api.example|abc123"

static int near(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1, fabs(b)); }

static ratelimit_outcome_t outcome(long status)
{
    return (ratelimit_outcome_t){.http_status = status,
                                 .retry_after_ms = -1,
                                 .remaining_requests = -1,
                                 .remaining_tokens = -1,
                                 .reset_requests_ms = -1,
                                 .reset_tokens_ms = -1};
}

static void release_status(ratelimit_t *r, const char *key, long status, int64_t now)
{
    ratelimit_outcome_t o = outcome(status);
    ratelimit_release(r, key, &o, now);
}

static void release_429(ratelimit_t *r, const char *key, int64_t retry_after_ms, int64_t now)
{
    ratelimit_outcome_t o = outcome(429);
    o.throttled = true;
    o.retry_after_ms = retry_after_ms;
    ratelimit_release(r, key, &o, now);
}

static void release_tokens(ratelimit_t *r, const char *key, uint64_t est, uint64_t actual, int64_t now)
{
    ratelimit_outcome_t o = outcome(200);
    o.est_tokens = est;
    o.actual_tokens = actual;
    ratelimit_release(r, key, &o, now);
}

static void allot(ratelimit_t *r, const char *key, double rpm, double tpm, uint32_t conc)
{
    ratelimit_row_t row = {.key = key, .rpm = rpm, .tpm = tpm, .max_concurrency = conc};
    ratelimit_allot(r, &row, 1);
}

static double adapt_of(ratelimit_t *r, const char *key) { return find(r, key)->adapt; }

/* How many calls may start now, all at once; they are then released with a neutral outcome (a
 * 4xx: no adaptation), so this measures the concurrency cap of a key without rates. */
static int fill(ratelimit_t *r, const char *key, int64_t now)
{
    int n = 0;
    while (n < 10000 && ratelimit_acquire(r, key, 0, now) == 0) n++;
    for (int i = 0; i < n; i++) release_status(r, key, 400, now);
    return n;
}

/* n calls one after the other, each finishing at once with a 200; returns how many could start. */
static int clean_calls(ratelimit_t *r, const char *key, int n, int64_t now)
{
    int started = 0;
    for (int i = 0; i < n; i++) {
        if (ratelimit_acquire(r, key, 0, now) != 0) continue;
        started++;
        release_status(r, key, 200, now);
    }
    return started;
}

/* Runs a client that asks again exactly when told to, from `from` to `to` (ms), each call costing
 * `est` tokens and finishing at once with a 200. Counts the calls started in each simulated
 * second and the most started in any 1000 ms window. */
typedef struct {
    int per_s[64];
    int total, at_start, max_window;
} pace_t;

static void pace(ratelimit_t *r, const char *key, uint64_t est, int64_t from, int64_t to, pace_t *p)
{
    memset(p, 0, sizeof(*p));
    static int64_t starts[20000];
    int n = 0;
    int64_t t = from;
    while (t < to && n < 20000) {
        int64_t w = ratelimit_acquire(r, key, est, t);
        if (w < 0) break;
        if (w > 0) {
            t += w;
            continue;
        }
        starts[n++] = t;
        if (t == from) p->at_start++;
        int s = (int)((t - from) / 1000);
        if (s < 64) p->per_s[s]++;
        release_tokens(r, key, est, 0, t);
    }
    p->total = n;
    for (int i = 0, j = 0; i < n; i++) {
        while (starts[i] - starts[j] >= 1000) j++;
        if (i - j + 1 > p->max_window) p->max_window = i - j + 1;
    }
}

/* ---- pacing -------------------------------------------------------------------------------- */

static void test_pacing(void)
{
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 6000, 0, 0); /* fleet-wide */
    allot(r, K, 600, 0, 0);                /* this thread's share */
    pace_t p;
    pace(r, K, 0, T0, T0 + 10000, &p);
    /* The first second: one second's worth at once (not a minute's), then the refill. */
    CHECK(p.at_start == 10);
    CHECK(p.per_s[0] >= 10 && p.per_s[0] <= 20);
    int steady = 1, sum = 0;
    for (int s = 1; s < 10; s++) {
        if (p.per_s[s] < 9 || p.per_s[s] > 11) steady = 0;
        sum += p.per_s[s];
    }
    CHECK(steady);
    CHECK(sum >= 88 && sum <= 92); /* 10 a second */
    CHECK(p.max_window <= 20);
    ratelimit_destroy(&r);
    CHECK(r == NULL);
    ratelimit_destroy(&r);

    /* After a long idle period the bucket holds one second's worth, never more. */
    r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    allot(r, K, 600, 0, 0);
    pace(r, K, 0, T0, T0 + 3000, &p);
    pace(r, K, 0, T0 + 3600000, T0 + 3600000 + 2000, &p);
    CHECK(p.at_start == 10);
    CHECK(p.max_window <= 20);

    /* A slow rate: 30 rpm is one call every 2 s, a burst of at most one. */
    allot(r, K, 30, 0, 0);
    pace(r, K, 0, T0 + 7200000, T0 + 7200000 + 20000, &p);
    CHECK(p.at_start <= 1);
    CHECK(p.total >= 10 && p.total <= 11);
    CHECK(p.max_window == 1);

    /* Tokens pace the same way: 60000 tpm, 100 tokens a call = 10 calls a second. */
    ratelimit_configure(r, "tok", 0, 60000, 0);
    allot(r, "tok", 0, 60000, 0);
    pace(r, "tok", 100, T0, T0 + 10000, &p);
    CHECK(p.at_start == 10);
    steady = 1;
    for (int s = 1; s < 10; s++)
        if (p.per_s[s] < 9 || p.per_s[s] > 11) steady = 0;
    CHECK(steady);
    CHECK(p.max_window <= 20);
    ratelimit_destroy(&r);
}

/* ---- token debt ------------------------------------------------------------------------------ */

static void test_token_debt(void)
{
    /* 60000 tpm: 1 token a ms, a bucket of 1000 tokens. */
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, "a", 0, 60000, 0);
    allot(r, "a", 0, 60000, 0);

    /* A call larger than the bucket starts on a full bucket and leaves it in debt. */
    CHECK(ratelimit_acquire(r, "a", 3000, T0) == 0);
    int64_t w = ratelimit_acquire(r, "a", 100, T0);
    CHECK(w >= 2000 && w <= 2001); /* the debt refills first */
    w = ratelimit_acquire(r, "a", 100, T0 + 2000);
    CHECK(w >= 99 && w <= 101); /* then this call's own tokens */
    CHECK(ratelimit_acquire(r, "a", 100, T0 + 2100) == 0);
    /* The next large call waits for a full bucket, not for its own (larger) size. */
    w = ratelimit_acquire(r, "a", 5000, T0 + 2100);
    CHECK(w >= 999 && w <= 1001);
    CHECK(ratelimit_acquire(r, "a", 5000, T0 + 3100) == 0);

    /* Correction at release: more tokens than estimated deepen the debt... */
    ratelimit_configure(r, "b", 0, 60000, 0);
    allot(r, "b", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "b", 500, T0) == 0);
    release_tokens(r, "b", 500, 2500, T0); /* 2000 more than estimated */
    w = ratelimit_acquire(r, "b", 1, T0);
    CHECK(w >= 1500 && w <= 1502);
    /* ...and fewer give the difference back. */
    ratelimit_configure(r, "c", 0, 60000, 0);
    allot(r, "c", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "c", 1000, T0) == 0);
    CHECK(ratelimit_acquire(r, "c", 500, T0) > 0);
    release_tokens(r, "c", 1000, 200, T0); /* 800 back */
    CHECK(ratelimit_acquire(r, "c", 500, T0) == 0);
    CHECK(ratelimit_acquire(r, "c", 400, T0) > 0); /* 300 left */
    /* Unknown usage (0) keeps the estimate. */
    ratelimit_configure(r, "d", 0, 60000, 0);
    allot(r, "d", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "d", 1000, T0) == 0);
    release_tokens(r, "d", 1000, 0, T0);
    CHECK(ratelimit_acquire(r, "d", 10, T0) > 0);

    /* What is given back never overfills the bucket: after a refill to full, a refund must not
     * let more than a bucket's worth start at once. */
    ratelimit_configure(r, "e", 0, 60000, 0);
    allot(r, "e", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "e", 500, T0) == 0);     /* 500 left */
    CHECK(ratelimit_acquire(r, "e", 0, T0 + 600) == 0); /* refilled to the cap, 1000 */
    release_tokens(r, "e", 500, 100, T0 + 600);         /* 400 back: still 1000 */
    CHECK(ratelimit_acquire(r, "e", 1000, T0 + 600) == 0);
    CHECK(ratelimit_acquire(r, "e", 400, T0 + 600) > 0);
    ratelimit_destroy(&r);
}

/* ---- 429: cut, recovery ---------------------------------------------------------------------- */

static void test_throttle(void)
{
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    allot(r, K, 600, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0) == 0);
    CHECK(near(adapt_of(r, K), 1.0));

    release_429(r, K, -1, T0);
    CHECK(near(adapt_of(r, K), 0.7));
    /* A default pause of a second follows a 429 without Retry-After. */
    CHECK(ratelimit_acquire(r, K, 0, T0 + 10) == 990);
    /* More 429s within the second are the same signal: no second cut. */
    release_429(r, K, -1, T0 + 500);
    CHECK(near(adapt_of(r, K), 0.7));
    release_429(r, K, -1, T0 + 999);
    CHECK(near(adapt_of(r, K), 0.7));
    release_429(r, K, -1, T0 + 1000);
    CHECK(near(adapt_of(r, K), 0.49));
    /* Never below the floor. */
    for (int i = 2; i < 80; i++) release_429(r, K, -1, T0 + 1000 * i);
    CHECK(near(adapt_of(r, K), ADAPT_MIN));
    ratelimit_destroy(&r);

    /* Recovery: +0.05 per clean second, back to 1 and no further. */
    r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    allot(r, K, 600, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0) == 0);
    release_429(r, K, 0, T0);
    CHECK(near(adapt_of(r, K), 0.7));
    release_status(r, K, 200, T0 + 999);
    CHECK(near(adapt_of(r, K), 0.7));
    release_status(r, K, 200, T0 + 1000);
    CHECK(near(adapt_of(r, K), 0.75));
    release_status(r, K, 200, T0 + 1500);
    CHECK(near(adapt_of(r, K), 0.75));
    release_status(r, K, 200, T0 + 2000);
    CHECK(near(adapt_of(r, K), 0.80));
    /* acquire grows it too (a key may be busy with long calls) */
    (void)ratelimit_acquire(r, K, 0, T0 + 3000);
    CHECK(near(adapt_of(r, K), 0.85));
    for (int s = 4; s < 20; s++) release_status(r, K, 200, T0 + 1000 * s);
    CHECK(near(adapt_of(r, K), 1.0));

    /* A second with a 429 in it is not clean, even when that 429 did not cut again. */
    release_429(r, K, 0, T0 + 30000);
    CHECK(near(adapt_of(r, K), 0.7));
    release_429(r, K, 0, T0 + 30900); /* within the second: no cut */
    CHECK(near(adapt_of(r, K), 0.7));
    release_status(r, K, 200, T0 + 31000);
    CHECK(near(adapt_of(r, K), 0.7)); /* 100 ms since a 429: no growth */
    release_status(r, K, 200, T0 + 31900);
    CHECK(near(adapt_of(r, K), 0.75));
    ratelimit_destroy(&r);

    /* The rate used follows the cut: 600 rpm x 0.7 = 7 calls a second, and the pause is not
     * followed by a burst. */
    r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    allot(r, K, 600, 0, 0);
    pace_t p;
    pace(r, K, 0, T0, T0 + 2000, &p);
    release_429(r, K, 3000, T0 + 2000);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 2000) == 3000);
    find(r, K)->frozen_until_ms = INT64_MAX; /* hold the rate at 0.7 to measure it */
    pace(r, K, 0, T0 + 5000, T0 + 15000, &p);
    CHECK(p.per_s[0] <= 7); /* no burst when the pause ends */
    int steady = 1;
    for (int s = 1; s < 10; s++)
        if (p.per_s[s] < 6 || p.per_s[s] > 8) steady = 0;
    CHECK(steady);
    int first_200ms = 0;
    pace(r, K, 0, T0 + 20000, T0 + 20001, &p); /* drain what accumulated */
    release_429(r, K, 1000, T0 + 20001);
    for (int64_t t = T0 + 21001; t < T0 + 21201; t++)
        if (ratelimit_acquire(r, K, 0, t) == 0) first_200ms++;
    CHECK(first_200ms <= 2);
    ratelimit_destroy(&r);
}

/* ---- pauses, 5xx, quota ------------------------------------------------------------------------ */

static void test_pauses(void)
{
    ratelimit_t *r = ratelimit_new(8);
    /* Retry-After on a 429. */
    CHECK(ratelimit_acquire(r, "p", 0, T0) == 0);
    release_429(r, "p", 3000, T0);
    CHECK(ratelimit_acquire(r, "p", 0, T0) == 3000);
    CHECK(ratelimit_acquire(r, "p", 0, T0 + 2999) == 1);
    CHECK(ratelimit_acquire(r, "p", 0, T0 + 3000) == 0);
    /* A shorter Retry-After does not shorten a longer pause. */
    release_429(r, "p", 5000, T0 + 3000);
    release_429(r, "p", 10, T0 + 3001);
    CHECK(ratelimit_acquire(r, "p", 0, T0 + 4000) == 4000);
    CHECK(ratelimit_acquire(r, "p", 0, T0 + 8000) == 0);

    /* Retry-After on a 503 pauses too. */
    CHECK(ratelimit_acquire(r, "q", 0, T0) == 0);
    ratelimit_outcome_t o = outcome(503);
    o.retry_after_ms = 2000;
    ratelimit_release(r, "q", &o, T0);
    CHECK(ratelimit_acquire(r, "q", 0, T0 + 1) == 1999);
    CHECK(ratelimit_acquire(r, "q", 0, T0 + 2000) == 0);

    /* Rate-limit headers saying a dimension is used up until its reset. */
    CHECK(ratelimit_acquire(r, "h", 0, T0) == 0);
    o = outcome(200);
    o.remaining_requests = 0;
    o.reset_requests_ms = 1500;
    ratelimit_release(r, "h", &o, T0);
    CHECK(ratelimit_acquire(r, "h", 0, T0) == 1500);
    CHECK(ratelimit_acquire(r, "h", 0, T0 + 1500) == 0);
    o = outcome(200);
    o.remaining_tokens = 0;
    o.reset_tokens_ms = 700;
    ratelimit_release(r, "h", &o, T0 + 1500);
    CHECK(ratelimit_acquire(r, "h", 0, T0 + 1500) == 700);
    CHECK(ratelimit_acquire(r, "h", 0, T0 + 2200) == 0);
    o = outcome(200); /* some left: no pause */
    o.remaining_requests = 3;
    o.reset_requests_ms = 60000;
    ratelimit_release(r, "h", &o, T0 + 2200);
    CHECK(ratelimit_acquire(r, "h", 0, T0 + 2200) == 0);
    ratelimit_destroy(&r);
}

static void test_5xx_freeze(void)
{
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    allot(r, K, 600, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0) == 0);
    release_429(r, K, 0, T0);
    CHECK(near(adapt_of(r, K), 0.7));
    release_status(r, K, 500, T0 + 500); /* growth frozen for 5 s */
    CHECK(near(adapt_of(r, K), 0.7));    /* a 5xx is not a cut */
    for (int64_t t = T0 + 1000; t < T0 + 5500; t += 250) {
        release_status(r, K, 200, t);
        (void)ratelimit_acquire(r, K, 0, t);
    }
    CHECK(near(adapt_of(r, K), 0.7));
    release_status(r, K, 200, T0 + 5500);
    CHECK(near(adapt_of(r, K), 0.75));
    /* A transport error (status 0) freezes as well. */
    release_status(r, K, 0, T0 + 6000);
    release_status(r, K, 200, T0 + 7000);
    CHECK(near(adapt_of(r, K), 0.75));
    release_status(r, K, 200, T0 + 11000);
    CHECK(near(adapt_of(r, K), 0.80));
    /* Without the 5xx, the same successes would have grown it. */
    CHECK(!ratelimit_exhausted(r, K));
    ratelimit_destroy(&r);

    /* 5xx freeze the concurrency growth of keys without rates too. */
    r = ratelimit_new(10);
    CHECK(ratelimit_acquire(r, "c", 0, T0) == 0);
    release_429(r, "c", 0, T0);
    CHECK(fill(r, "c", T0) == 7);
    release_status(r, "c", 502, T0);
    CHECK(clean_calls(r, "c", 20, T0 + 100) == 20);
    CHECK(fill(r, "c", T0 + 100) == 7);
    ratelimit_destroy(&r);
}

static void test_quota(void)
{
    ratelimit_t *r = ratelimit_new(8);
    CHECK(!ratelimit_exhausted(r, "never-seen"));
    CHECK(ratelimit_acquire(r, "x", 0, T0) == 0);
    CHECK(ratelimit_acquire(r, "y", 0, T0) == 0);
    CHECK(!ratelimit_exhausted(r, "x"));
    ratelimit_outcome_t o = outcome(429);
    o.quota_exhausted = true;
    ratelimit_release(r, "x", &o, T0);
    CHECK(ratelimit_exhausted(r, "x"));
    CHECK(!ratelimit_exhausted(r, "y"));
    /* It stays exhausted whatever comes next. */
    release_status(r, "x", 200, T0 + 100000);
    CHECK(ratelimit_exhausted(r, "x"));
    /* acquire does not hold the call: the caller fails it fast. */
    CHECK(ratelimit_acquire(r, "x", 0, T0 + 100000) == 0);
    ratelimit_destroy(&r);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

static void test_concurrency(void)
{
    ratelimit_t *r = ratelimit_new(256);
    /* A configured cap without rates. */
    ratelimit_configure(r, "c3", 0, 0, 3);
    CHECK(ratelimit_acquire(r, "c3", 0, T0) == 0);
    CHECK(ratelimit_acquire(r, "c3", 0, T0) == 0);
    CHECK(ratelimit_acquire(r, "c3", 0, T0) == 0);
    CHECK(ratelimit_acquire(r, "c3", 0, T0) > 0);
    release_status(r, "c3", 200, T0);
    CHECK(ratelimit_acquire(r, "c3", 0, T0) == 0);
    CHECK(ratelimit_acquire(r, "c3", 0, T0) > 0);
    /* A cap with rates (before any ALLOT share of the cap the configured one holds). */
    ratelimit_configure(r, "rc", 600000, 0, 2);
    allot(r, "rc", 600000, 0, 0);
    CHECK(fill(r, "rc", T0) == 2);
    /* Keys without configured limits use the default. */
    CHECK(fill(r, "free", T0) == 256);
    ratelimit_destroy(&r);

    /* AIMD on the concurrency of a key without rates: x0.7 on a 429, +1 per `limit` clean calls. */
    r = ratelimit_new(10);
    CHECK(fill(r, "k", T0) == 10);
    CHECK(ratelimit_acquire(r, "k", 0, T0) == 0);
    release_429(r, "k", 0, T0);
    CHECK(fill(r, "k", T0) == 7);
    CHECK(clean_calls(r, "k", 6, T0) == 6);
    CHECK(fill(r, "k", T0) == 7); /* 6 clean calls: not yet */
    CHECK(ratelimit_acquire(r, "k", 0, T0) == 0);
    release_status(r, "k", 200, T0);
    CHECK(fill(r, "k", T0) == 8);     /* the 7th */
    release_429(r, "k", 0, T0 + 500); /* within a second of the cut */
    CHECK(fill(r, "k", T0 + 500) == 8);
    CHECK(clean_calls(r, "k", 200, T0 + 600) == 200);
    CHECK(fill(r, "k", T0 + 600) == 10); /* never above the default */
    for (int i = 0; i < 20; i++) release_429(r, "k", 0, T0 + 2000 + 1000 * i);
    CHECK(fill(r, "k", T0 + 30000) == 1); /* never below one */
    ratelimit_destroy(&r);

    /* A configured cap without rates: the cut applies to the cap in force, not the default. */
    r = ratelimit_new(256);
    ratelimit_configure(r, "c4", 0, 0, 4);
    CHECK(fill(r, "c4", T0) == 4);
    CHECK(ratelimit_acquire(r, "c4", 0, T0) == 0);
    release_429(r, "c4", 0, T0);
    CHECK(fill(r, "c4", T0) == 2); /* 4 x 0.7 */
    CHECK(clean_calls(r, "c4", 2, T0) == 2);
    CHECK(fill(r, "c4", T0) == 3);
    CHECK(clean_calls(r, "c4", 100, T0) == 100);
    CHECK(fill(r, "c4", T0) == 4); /* back to the configured cap, no more */
    ratelimit_destroy(&r);
}

/* ---- ALLOT and its absence --------------------------------------------------------------------- */

static void test_allot_applied(void)
{
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 1200, 0, 40);
    /* Before the first ALLOT a configured key waits (briefly). */
    int64_t w = ratelimit_acquire(r, K, 0, T0);
    CHECK(w > 0 && w <= 100);
    allot(r, K, 300, 0, 10);
    pace_t p;
    pace(r, K, 0, T0 + 10, T0 + 5010, &p);
    /* Calls waited for this first share: the buckets start empty, so the fleet does not spend a
     * second of its limit at once the moment shares arrive (other workers may be starting too). */
    CHECK(p.at_start == 0);
    CHECK(p.per_s[0] >= 4 && p.per_s[0] <= 6); /* 300 rpm: 5 a second from the start */
    int steady = 1;
    for (int s = 1; s < 5; s++)
        if (p.per_s[s] < 4 || p.per_s[s] > 6) steady = 0;
    CHECK(steady);
    /* A new share applies at once. */
    allot(r, K, 1200, 0, 10);
    pace(r, K, 0, T0 + 10000, T0 + 15000, &p);
    steady = 1;
    for (int s = 1; s < 5; s++)
        if (p.per_s[s] < 19 || p.per_s[s] > 21) steady = 0;
    CHECK(steady);
    /* Share 0 means none for now: nothing starts, not even one call, until a new share. */
    allot(r, K, 0, 0, 0);
    pace(r, K, 0, T0 + 20000, T0 + 30000, &p);
    CHECK(p.total == 0);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 30000) > 0);
    allot(r, K, 300, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 30000) == 0);
    /* The same for tokens, and for a first share of 0. */
    ratelimit_configure(r, "t0", 0, 100000, 0);
    allot(r, "t0", 0, 0, 0);
    pace(r, "t0", 10, T0, T0 + 5000, &p);
    CHECK(p.total == 0);
    allot(r, "t0", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "t0", 10, T0 + 5000) == 0);

    /* The concurrency share caps in-flight calls; 0 means "no share given": the configured cap. */
    ratelimit_configure(r, "c", 600000, 0, 40);
    allot(r, "c", 600000, 0, 10);
    CHECK(fill(r, "c", T0) == 10);
    allot(r, "c", 600000, 0, 0);
    CHECK(fill(r, "c", T0 + 1000) == 40);

    /* A share for a key not configured yet is kept until it is. */
    allot(r, "later", 120, 0, 0);
    CHECK(fill(r, "later", T0) == 256); /* no limits configured: only the default cap */
    ratelimit_configure(r, "later", 1200, 0, 0);
    pace(r, "later", 0, T0 + 1000, T0 + 6000, &p);
    CHECK(p.at_start == 2);      /* 120 rpm: the share, not 1200 */
    ratelimit_allot(r, NULL, 0); /* an empty allotment changes nothing */
    ratelimit_destroy(&r);
}

static void test_no_allot_fallback(void)
{
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0) > 0);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 2500) > 0);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 4999) > 0);
    /* 5 s without an ALLOT: the whole configured rate, as a lone worker. */
    pace_t p;
    pace(r, K, 0, T0 + 5000, T0 + 10000, &p);
    CHECK(p.at_start == 10);
    int steady = 1;
    for (int s = 1; s < 5; s++)
        if (p.per_s[s] < 9 || p.per_s[s] > 11) steady = 0;
    CHECK(steady);
    /* A late ALLOT takes over. */
    allot(r, K, 120, 0, 0);
    pace(r, K, 0, T0 + 10000, T0 + 20000, &p);
    steady = 1;
    for (int s = 1; s < 10; s++)
        if (p.per_s[s] < 1 || p.per_s[s] > 3) steady = 0;
    CHECK(steady);
    CHECK(p.max_window <= 4);
    ratelimit_destroy(&r);
}

/* ---- DEMAND ------------------------------------------------------------------------------------ */

typedef struct {
    ratelimit_row_t *rows;
    size_t n;
} table_t;

static int encode(ratelimit_t *r, table_t *t)
{
    t->n = ratelimit_demand(r, &t->rows);
    if (t->n == 0 && t->rows != NULL) failures++; /* nothing to report: no array */
    return (int)t->n;
}

static const ratelimit_row_t *trow(const table_t *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].key, key) == 0) return &t->rows[i];
    return NULL;
}

static void test_demand(void)
{
    ratelimit_t *r = ratelimit_new(256);
    table_t t;
    CHECK(encode(r, &t) == 0); /* no keys */

    ratelimit_configure(r, "a", 600, 100000, 0);
    ratelimit_configure(r, "c", 0, 0, 5);
    ratelimit_configure(r, "none", 0, 0, 0);      /* no limits: not reported */
    CHECK(ratelimit_acquire(r, "b", 0, T0) == 0); /* never configured: not reported */
    allot(r, "a", 600, 100000, 0);
    ratelimit_demand_add(r, "a", 3);
    CHECK(ratelimit_acquire(r, "a", 100, T0) == 0);
    release_tokens(r, "a", 100, 150, T0);
    CHECK(ratelimit_acquire(r, "a", 200, T0) == 0); /* in flight */

    CHECK(encode(r, &t) == 2);
    CHECK(t.n == 2);
    const ratelimit_row_t *a = trow(&t, "a"), *c = trow(&t, "c");
    CHECK(a && near(a->rpm, 600) && near(a->tpm, 100000) && a->demand == 4 && a->max_concurrency == 0);
    CHECK(a && a->used_requests == 2 && a->used_tokens == 350);
    CHECK(c && c->demand == 0 && c->max_concurrency == 5 && c->rpm == 0 && c->tpm == 0); /* zero, once */
    CHECK(!trow(&t, "b") && !trow(&t, "none"));
    free(t.rows);

    /* Next time: the zero row is not repeated; usage restarts from 0. */
    CHECK(encode(r, &t) == 1);
    a = trow(&t, "a");
    CHECK(a && a->demand == 4 && a->used_requests == 0 && a->used_tokens == 0);
    CHECK(!trow(&t, "c"));
    free(t.rows);

    /* Demand comes and goes: the zero is said once each time it falls to zero. */
    ratelimit_demand_add(r, "c", 2);
    CHECK(encode(r, &t) == 2);
    c = trow(&t, "c");
    CHECK(c && c->demand == 2);
    free(t.rows);
    ratelimit_demand_add(r, "c", -2);
    ratelimit_demand_add(r, "a", -3);
    release_status(r, "a", 200, T0 + 1);
    CHECK(encode(r, &t) == 2);
    CHECK(trow(&t, "c") && trow(&t, "c")->demand == 0);
    CHECK(trow(&t, "a") && trow(&t, "a")->demand == 0);
    free(t.rows);
    CHECK(encode(r, &t) == 0); /* all zero, all said */

    /* Demand never goes below zero. */
    ratelimit_demand_add(r, "c", -5);
    ratelimit_demand_add(r, "c", 1);
    CHECK(encode(r, &t) == 1);
    CHECK(trow(&t, "c") && trow(&t, "c")->demand == 1);
    free(t.rows);
    ratelimit_destroy(&r);
}

/* ---- immediate DEMAND, learned limits, header pauses, empty starts --------------------------- */

static void test_demand_due(void)
{
    ratelimit_t *r = ratelimit_new(256);
    table_t t;
    CHECK(!ratelimit_demand_due(r));
    ratelimit_configure(r, K, 600, 0, 0);
    ratelimit_configure(r, "conc", 0, 0, 3);
    ratelimit_configure(r, "none", 0, 0, 0);
    ratelimit_demand_add(r, "none", 5); /* nothing to divide: the broker need not hear */
    CHECK(!ratelimit_demand_due(r));
    ratelimit_demand_add(r, K, 2); /* never reported: tell the broker now */
    CHECK(ratelimit_demand_due(r));
    CHECK(encode(r, &t) == 2); /* K with demand, "conc" with its zero */
    free(t.rows);
    CHECK(!ratelimit_demand_due(r)); /* the report clears it */
    ratelimit_demand_add(r, K, 1);   /* the broker knows K is busy here */
    CHECK(!ratelimit_demand_due(r));
    ratelimit_demand_add(r, "conc", 1); /* last reported as idle: due */
    CHECK(ratelimit_demand_due(r));
    CHECK(encode(r, &t) == 2);
    free(t.rows);
    CHECK(!ratelimit_demand_due(r));

    /* Demand falls to zero and is reported so: the next call waiting is due at once. */
    ratelimit_demand_add(r, K, -3);
    CHECK(!ratelimit_demand_due(r)); /* less demand is not urgent */
    CHECK(encode(r, &t) == 2 && trow(&t, K) && trow(&t, K)->demand == 0);
    free(t.rows);
    ratelimit_demand_add(r, K, 1);
    CHECK(ratelimit_demand_due(r));
    CHECK(encode(r, &t) >= 1 && trow(&t, K) && trow(&t, K)->demand == 1);
    free(t.rows);
    ratelimit_destroy(&r);
}

static void test_learned_limits(void)
{
    ratelimit_t *r = ratelimit_new(256);
    table_t t;
    /* Adaptive mode: only concurrency bounds the key; nothing to report. */
    CHECK(ratelimit_acquire(r, K, 100, T0) == 0);
    CHECK(encode(r, &t) == 0);
    ratelimit_outcome_t o = outcome(200);
    o.limit_requests = 600;
    o.limit_tokens = 300000;
    ratelimit_release(r, K, &o, T0 + 10);
    CHECK(ratelimit_demand_due(r)); /* the broker must hear the new limits */
    ratelimit_demand_add(r, K, 1);
    CHECK(encode(r, &t) == 1);
    const ratelimit_row_t *row = trow(&t, K);
    CHECK(row && near(row->rpm, 600) && near(row->tpm, 300000) && row->demand == 1);
    free(t.rows);
    /* From then on it is paced like a configured key: it waits for its share... */
    CHECK(ratelimit_acquire(r, K, 100, T0 + 20) > 0);
    allot(r, K, 600, 300000, 0);
    /* ...and keeps to it: 600 rpm is 10 calls a second. */
    pace_t p;
    pace(r, K, 100, T0 + 100, T0 + 4100, &p);
    CHECK(p.max_window >= 9 && p.max_window <= 11);

    /* The same limits again (within the hold) change nothing; new announced limits replace the
     * learned ones. */
    ratelimit_release(r, K, &o, T0 + 4500);
    CHECK(!ratelimit_demand_due(r));
    o.limit_requests = 1200;
    o.limit_tokens = 0; /* tokens no longer limited */
    ratelimit_release(r, K, &o, T0 + 4501);
    CHECK(ratelimit_demand_due(r));
    CHECK(encode(r, &t) == 1);
    row = trow(&t, K);
    CHECK(row && near(row->rpm, 1200) && near(row->tpm, 0));
    free(t.rows);

    /* Limits in the spec win: configured keys ignore announced limits. */
    ratelimit_configure(r, K, 100, 0, 0);
    o.limit_requests = 6000;
    o.limit_tokens = 900000;
    ratelimit_release(r, K, &o, T0 + 7000);
    CHECK(!ratelimit_demand_due(r));
    CHECK(encode(r, &t) == 1);
    row = trow(&t, K);
    CHECK(row && near(row->rpm, 100) && near(row->tpm, 0));
    free(t.rows);
    ratelimit_configure(r, "spec", 60, 1000, 0);
    ratelimit_release(r, "spec", &o, T0 + 7000);
    CHECK(!ratelimit_demand_due(r));
    ratelimit_destroy(&r);
}

/* Learned limits decay (issue: a limited episode must not slow a worker for the rest of its
 * life). 600 rpm announced at t = 0, then replies without announcements: held for 5 s, then +600
 * rpm a second, forgotten at 30 s (adaptive: concurrency only). An announcement on the way sets
 * the announced limit again; so does a 429 that announces one. */
static void test_learned_decay(void)
{
    ratelimit_t *r = ratelimit_new(64);
    ratelimit_outcome_t ann = outcome(200);
    ann.limit_requests = 600;
    CHECK(ratelimit_acquire(r, K, 0, T0) == 0);
    ratelimit_release(r, K, &ann, T0);
    allot(r, K, 600, 0, 0);
    key_t_ *k = find(r, K);
    CHECK(k->learned && near(k->cfg_rpm, 600));
    pace_t p;
    pace(r, K, 0, T0 + 1000, T0 + 4900, &p); /* within the hold: 10 calls a second */
    for (int s = 1; s < 3; s++) CHECK(p.per_s[s] >= 9 && p.per_s[s] <= 11);
    CHECK(near(k->cfg_rpm, 600));
    /* the curve: 2x at 5 s, +1x each second, forgotten at 30 s */
    static const struct {
        int64_t at;
        double rpm;
    } curve[] = {{5000, 1200}, {5999, 1200}, {6000, 1800}, {10500, 4200}, {29999, 15600}};
    for (size_t i = 0; i < sizeof curve / sizeof curve[0]; i++) {
        (void)ratelimit_acquire(r, K, 0, T0 + curve[i].at);
        CHECK(k->learned && near(k->cfg_rpm, curve[i].rpm));
        if (!near(k->cfg_rpm, curve[i].rpm))
            fprintf(stderr, "  at %lld ms: %g rpm\n", (long long)curve[i].at, k->cfg_rpm);
        k->inflight = 0;
    }
    CHECK(ratelimit_demand_due(r)); /* the broker hears the grown limit */
    table_t t;
    ratelimit_demand_add(r, K, 1);
    CHECK(encode(r, &t) == 1 && near(trow(&t, K)->rpm, 15600));
    free(t.rows);
    /* the allotted share follows the grown limit: with the whole of 9,000 rpm, 150 calls a second */
    allot(r, K, 9000, 0, 0);
    CHECK(!k->learned || k->cfg_rpm > 0);
    (void)ratelimit_acquire(r, K, 0, T0 + 30000);
    k->inflight = 0;
    CHECK(!k->learned && near(k->cfg_rpm, 0) && !has_rates(k));
    CHECK(fill(r, K, T0 + 30001) == 64); /* unpaced: the concurrency cap alone */
    ratelimit_demand_add(r, K, -1);
    CHECK(encode(r, &t) == 0); /* nothing left to divide */
    free(t.rows);

    /* an announcement during the growth sets the announced limit again, and restarts the hold */
    ratelimit_release(r, K, &ann, T0 + 40000); /* learned again at 40 s */
    CHECK(k->learned && near(k->cfg_rpm, 600));
    (void)ratelimit_acquire(r, K, 0, T0 + 47000);
    k->inflight = 0;
    CHECK(near(k->cfg_rpm, 2400)); /* 7 s quiet: 4x */
    ann.limit_requests = 300;      /* a lower limit now */
    ratelimit_release(r, K, &ann, T0 + 47001);
    CHECK(near(k->cfg_rpm, 300));
    (void)ratelimit_acquire(r, K, 0, T0 + 51000);
    k->inflight = 0;
    CHECK(near(k->cfg_rpm, 300)); /* held again for 5 s from 47 s */
    /* a 429 that announces the limit is an announcement too */
    ratelimit_outcome_t thr = outcome(429);
    thr.throttled = true;
    thr.retry_after_ms = 0;
    thr.limit_requests = 300;
    ratelimit_release(r, K, &thr, T0 + 53000);
    (void)ratelimit_acquire(r, K, 0, T0 + 57000);
    k->inflight = 0;
    CHECK(near(k->cfg_rpm, 300));
    /* configured limits never decay */
    ratelimit_configure(r, "spec", 600, 0, 0);
    allot(r, "spec", 600, 0, 0);
    (void)ratelimit_acquire(r, "spec", 0, T0 + 500000);
    CHECK(near(find(r, "spec")->cfg_rpm, 600));
    ratelimit_destroy(&r);
}

/* 429-learned cuts grow back in bounded time: a key without rates cut to one call in flight is
 * back at the default concurrency within 20 clean seconds, however slow its calls are. */
static void test_concurrency_grows_back(void)
{
    ratelimit_t *r = ratelimit_new(100);
    for (int i = 0; i < 15; i++) release_429(r, "k", 0, T0 + 1000 * i);
    CHECK(fill(r, "k", T0 + 15000) == 1);
    int64_t t = T0 + 15000;
    int seconds = 0;
    while (fill(r, "k", t) < 100 && seconds < 60) { /* one clean (slow) call a second */
        t += 1000;
        seconds++;
        CHECK(ratelimit_acquire(r, "k", 0, t) == 0);
        release_status(r, "k", 200, t);
    }
    CHECK(seconds <= 20);
    ratelimit_destroy(&r);
}

static void test_remaining_zero_with_limit(void)
{
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 600000, 60000000, 0);
    allot(r, K, 600000, 60000000, 0);
    /* No requests remain, reset in a minute, limit 600 a minute: one request is back in 100 ms. */
    CHECK(ratelimit_acquire(r, K, 1000, T0) == 0);
    ratelimit_outcome_t o = outcome(200);
    o.est_tokens = 1000;
    o.remaining_requests = 0;
    o.reset_requests_ms = 60000;
    o.limit_requests = 600;
    ratelimit_release(r, K, &o, T0);
    CHECK(ratelimit_acquire(r, K, 1000, T0) == 100);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 99) == 1);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 100) == 0);
    /* Without a stated limit: until the reset. */
    o.limit_requests = -1;
    o.reset_requests_ms = 5000;
    ratelimit_release(r, K, &o, T0 + 100);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 100) == 5000);
    /* A reset sooner than one request's time is the shorter wait. */
    o.limit_requests = 6; /* one request per 10 s */
    o.reset_requests_ms = 2000;
    ratelimit_release(r, K, &o, T0 + 5100);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 5100) == 2000);

    /* No tokens remain, limit 120,000 a minute: this call's 1,000 tokens are back in 500 ms. */
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 7100) == 0);
    o = outcome(200);
    o.est_tokens = 1000;
    o.remaining_tokens = 0;
    o.reset_tokens_ms = 30000;
    o.limit_tokens = 120000;
    ratelimit_release(r, K, &o, T0 + 7100);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 7100) == 500);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 7600) == 0);
    o.limit_tokens = -1;
    ratelimit_release(r, K, &o, T0 + 7600);
    CHECK(ratelimit_acquire(r, K, 1000, T0 + 7600) == 30000);
    ratelimit_destroy(&r);
}

static void test_empty_starts(void)
{
    /* Calls waited for the first share: both buckets start empty. 600 rpm = one request / 100 ms. */
    ratelimit_t *r = ratelimit_new(256);
    ratelimit_configure(r, K, 600, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0) > 0);
    allot(r, K, 600, 0, 0);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 20) == 100);
    int64_t w = ratelimit_acquire(r, K, 0, T0 + 119);
    CHECK(w >= 1 && w <= 2); /* 1 ms, give or take rounding */
    CHECK(ratelimit_acquire(r, K, 0, T0 + 120) == 0);
    CHECK(ratelimit_acquire(r, K, 0, T0 + 120) == 100);
    /* A share that came before any call waited: a second's worth at once. */
    ratelimit_configure(r, "early", 600, 0, 0);
    allot(r, "early", 600, 0, 0);
    CHECK(clean_calls(r, "early", 20, T0) == 10);

    /* Token share taken away and given back (the broker's holders take turns): the bucket starts
     * from empty, nothing accrued while the share was 0. 60,000 tpm = 1 token a ms. */
    ratelimit_configure(r, "tok", 0, 60000, 0);
    allot(r, "tok", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "tok", 100, T0) == 0); /* first share, nobody waited: full */
    release_tokens(r, "tok", 100, 0, T0);
    allot(r, "tok", 0, 0, 0);
    CHECK(ratelimit_acquire(r, "tok", 100, T0 + 5000) > 0);
    allot(r, "tok", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "tok", 100, T0 + 10000) == 100);
    CHECK(ratelimit_acquire(r, "tok", 100, T0 + 10100) == 0);
    /* Debt is kept across the hand-over (a call larger than the bucket starts when it is full). */
    CHECK(ratelimit_acquire(r, "tok", 3000, T0 + 11100) == 0); /* 1,000 - 3,000: 2,000 in debt */
    release_tokens(r, "tok", 3000, 0, T0 + 11100);
    allot(r, "tok", 0, 0, 0);
    allot(r, "tok", 0, 60000, 0);
    CHECK(ratelimit_acquire(r, "tok", 1, T0 + 11200) == 2000);
    ratelimit_destroy(&r);
}

int main(void)
{
    log_set_level(LOG_OFF);
    test_pacing();
    test_token_debt();
    test_throttle();
    test_pauses();
    test_5xx_freeze();
    test_quota();
    test_concurrency();
    test_allot_applied();
    test_no_allot_fallback();
    test_demand();
    test_demand_due();
    test_learned_limits();
    test_learned_decay();
    test_concurrency_grows_back();
    test_remaining_zero_with_limit();
    test_empty_starts();
    return check_summary("test_ratelimit");
}
