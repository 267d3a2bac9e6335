/* ratelimit: see ratelimit.h.
 *
 * DESIGN. Per key:
 *  - Two token buckets, requests and tokens, refilled continuously at the effective rate with a
 *    capacity of BURST_S seconds of that rate, so a minute's quota is spread over the minute.
 *    They start with BURST_S seconds' worth, or empty when calls waited for the first ALLOT
 *    (a fleet starting at once must not add up its threads' bursts); a token share given back
 *    after none (the broker's holders take turns, allot.c) starts from empty too.
 *    The token bucket may go into debt: a call larger than the bucket starts once the bucket is
 *    full, takes it below zero, and later calls wait for the debt to refill. The estimate taken at acquire
 *    (prompt bytes / 4 + max_tokens) is corrected at release with the reply's usage.
 *  - The effective rate is the broker's share for this thread (ALLOT) times `adapt`, a factor in
 *    [ADAPT_MIN, 1]: a 429 multiplies it by CUT (at most once per CUT_GAP_MS, since one burst of
 *    429s is one signal), every clean second adds STEP, a 5xx freezes growth for FREEZE_MS.
 *  - Keys without configured rates are bounded by concurrency alone, adapted the same way
 *    (AIMD on the concurrency limit: +1 per `limit` clean completions and STEP of the default cap
 *    per clean second, x CUT on a 429), so a cut grows back within ~1/STEP seconds of calm.
 *  - A pause (`pause_until`) from Retry-After, retry-after-ms, or exhausted x-ratelimit /
 *    anthropic-ratelimit remaining counts holds every call on the key until it passes.
 *  - A key without configured rates adopts the per-minute limits the provider announces in its
 *    headers (`learned`): from then on it is paced and allotted like a configured key. A learned
 *    limit lasts only while the provider keeps announcing it: LEARN_HOLD_MS after the last reply
 *    that did, it grows by the announced value each second (additive increase), and once
 *    LEARN_FORGET_MS passed without an announcement it is forgotten and the key is adaptive
 *    again. A provider that still limits says so on its next reply (or 429), which sets the
 *    announced limit again: the growth is also the re-probe. docs/rate-limits.md draws the curve.
 *  - Before the first ALLOT for a configured key, calls wait (the worker sends its DEMAND at
 *    once, see ratelimit_demand_due, and the broker answers at once); if no ALLOT comes within NO_ALLOT_MS the thread uses
 *    the whole configured rate, as a lone worker would, and says so in the log. */
#define LOG_MODULE "ratelimit"
#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

#define BURST_S 1.0
#define CUT 0.7
#define CUT_GAP_MS 1000
#define STEP 0.05
#define ADAPT_MIN 0.05
#define FREEZE_MS 5000
#define NO_ALLOT_MS 5000
#define DEFAULT_PAUSE_MS 1000
#define LEARN_HOLD_MS 5000    /* a learned limit holds this long after its last announcement */
#define LEARN_FORGET_MS 30000 /* ...and is forgotten this long after it */

typedef struct {
    double level, cap; /* tokens now, capacity */
    double per_ms;     /* refill rate */
} bucket_t;

typedef struct {
    char *key;
    double cfg_rpm, cfg_tpm;
    int cfg_conc;
    bool allotted;
    double allot_rpm, allot_tpm;
    int allot_conc;
    int64_t first_demand_ms; /* when calls first waited for an ALLOT; 0 = not waiting */
    bool start_empty;        /* calls waited for the first ALLOT: the buckets start empty */
    bool tok_restart;        /* a token share came back after none: nothing accrued meanwhile */
    bool lone;               /* no ALLOT came: using the whole configured rate */
    double adapt;
    int64_t last_cut_ms, last_grow_ms, frozen_until_ms;
    double conc_limit; /* adaptive concurrency (keys without rates) */
    uint32_t clean_streak;
    bucket_t req, tok;
    int64_t last_refill_ms;
    int64_t pause_until_ms;
    int inflight;
    int waiting;
    bool exhausted;
    uint64_t used_requests, used_tokens; /* since the last DEMAND */
    bool demand_sent_zero;
    bool reported;                   /* a DEMAND row for it was written */
    bool learned;                    /* cfg_rpm/cfg_tpm came from the provider's headers, not the spec */
    double learned_rpm, learned_tpm; /* learned: the limits last announced */
    int64_t announced_ms;            /* learned: when they were last announced */
} key_t_;

struct ratelimit {
    key_t_ *keys;
    size_t n;
    int default_conc;
    bool demand_due; /* a key the broker thinks idle has calls waiting */
};

ratelimit_t *ratelimit_new(int default_max_concurrency)
{
    ratelimit_t *r = xcalloc(1, sizeof(*r));
    r->default_conc = default_max_concurrency > 0 ? default_max_concurrency : 256;
    return r;
}

void ratelimit_destroy(ratelimit_t **self_p)
{
    if (!self_p || !*self_p) return;
    ratelimit_t *r = *self_p;
    for (size_t i = 0; i < r->n; i++) free(r->keys[i].key);
    free(r->keys);
    free(r);
    *self_p = NULL;
}

static key_t_ *find(const ratelimit_t *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->keys[i].key, key) == 0) return &r->keys[i];
    return NULL;
}

static key_t_ *get(ratelimit_t *r, const char *key)
{
    key_t_ *k = find(r, key);
    if (k) return k;
    r->keys = xrealloc(r->keys, (r->n + 1) * sizeof(key_t_));
    k = &r->keys[r->n++];
    memset(k, 0, sizeof(*k));
    k->key = xstrdup(key);
    k->adapt = 1.0;
    k->conc_limit = r->default_conc;
    return k;
}

static bool has_rates(const key_t_ *k) { return k->cfg_rpm > 0 || k->cfg_tpm > 0; }

/* The rate this thread may use now (per minute), before adaptation. */
static void base_rates(const key_t_ *k, double *rpm, double *tpm)
{
    if (k->allotted && !k->lone) {
        *rpm = k->cfg_rpm > 0 ? k->allot_rpm : 0;
        *tpm = k->cfg_tpm > 0 ? k->allot_tpm : 0;
    } else if (k->lone) {
        *rpm = k->cfg_rpm;
        *tpm = k->cfg_tpm;
    } else {
        *rpm = *tpm = 0;
    }
}

static void set_bucket(bucket_t *b, double per_min)
{
    b->per_ms = per_min / 60000.0;
    double cap = per_min / 60.0 * BURST_S;
    if (cap < 1) cap = 1;
    b->cap = cap;
    if (b->level > cap) b->level = cap;
}

static void retune(key_t_ *k)
{
    double rpm, tpm;
    base_rates(k, &rpm, &tpm);
    set_bucket(&k->req, rpm * k->adapt);
    set_bucket(&k->tok, tpm * k->adapt);
}

static void refill(key_t_ *k, int64_t now)
{
    if (k->last_refill_ms == 0) {
        /* Start with one second's worth, not a full minute; or empty when calls had to wait for
         * this thread's first share: then the fleet is starting together, its threads get their
         * shares one after another (the first one all of it, for a moment), and a second's burst
         * from each would add up to more than the provider's own burst allowance. */
        k->last_refill_ms = now;
        k->req.level = k->start_empty ? 0 : k->req.cap;
        k->tok.level = k->start_empty ? 0 : k->tok.cap;
        k->tok_restart = false;
        return;
    }
    int64_t dt = now - k->last_refill_ms;
    if (dt <= 0) return;
    k->last_refill_ms = now;
    k->req.level = fmin(k->req.cap, k->req.level + k->req.per_ms * (double)dt);
    /* A thread that takes over a token share from another (the broker's holders, allot.c) starts
     * from empty: the other's unspent tokens are gone with its share, its debt is not. */
    double before = k->tok.level;
    k->tok.level = fmin(k->tok.cap, k->tok.level + k->tok.per_ms * (double)dt);
    if (k->tok_restart) k->tok.level = fmin(before, 0);
    k->tok_restart = false;
}

static int conc_cap(const ratelimit_t *r, const key_t_ *k)
{
    int cap = r->default_conc;
    if (k->cfg_conc > 0) cap = k->allotted && !k->lone && k->allot_conc > 0 ? k->allot_conc : k->cfg_conc;
    if (!has_rates(k)) {
        int adaptive = (int)k->conc_limit;
        if (adaptive < 1) adaptive = 1;
        if (adaptive < cap) cap = adaptive;
    }
    return cap;
}

void ratelimit_configure(ratelimit_t *r, const char *key, double rpm, double tpm, int max_concurrency)
{
    key_t_ *k = get(r, key);
    k->learned = false;
    k->cfg_rpm = rpm > 0 ? rpm : 0;
    k->cfg_tpm = tpm > 0 ? tpm : 0;
    k->cfg_conc = max_concurrency > 0 ? max_concurrency : 0;
    retune(k);
}

/* Every clean second (no 429 in it, no 5xx freeze) the rate factor and the concurrency limit
 * grow back by STEP (of the rate; of the default concurrency, at least one call). */
static void grow(ratelimit_t *r, key_t_ *k, int64_t now)
{
    if (now < k->frozen_until_ms || now - k->last_grow_ms < 1000) return;
    bool grew = false;
    if (k->adapt < 1.0) {
        k->adapt = fmin(1.0, k->adapt + STEP);
        retune(k);
        grew = true;
    }
    if (k->conc_limit < r->default_conc) {
        k->conc_limit = fmin(r->default_conc, k->conc_limit + fmax(1, r->default_conc * STEP));
        grew = true;
    }
    if (grew) k->last_grow_ms = now;
}

/* A learned limit not announced again: after the hold it grows by the announced value each
 * second, and it is forgotten at LEARN_FORGET_MS (see the DESIGN note above). */
static void decay_learned(ratelimit_t *r, key_t_ *k, int64_t now)
{
    if (!k->learned) return;
    int64_t quiet = now - k->announced_ms;
    if (quiet < LEARN_HOLD_MS) return;
    if (quiet >= LEARN_FORGET_MS) {
        log_info("%s: no limit announced for %d s: back to adaptive pacing (bounded by concurrency)", k->key,
                 LEARN_FORGET_MS / 1000);
        k->learned = false;
        k->cfg_rpm = k->cfg_tpm = 0;
        retune(k);
        return;
    }
    double factor = 2.0 + (double)((quiet - LEARN_HOLD_MS) / 1000);
    double rpm = k->learned_rpm * factor, tpm = k->learned_tpm * factor;
    if (rpm == k->cfg_rpm && tpm == k->cfg_tpm) return;
    k->cfg_rpm = rpm;
    k->cfg_tpm = tpm;
    r->demand_due = true; /* the broker divides the grown limit */
    retune(k);
}

int64_t ratelimit_acquire(ratelimit_t *r, const char *key, uint64_t est_tokens, int64_t now)
{
    key_t_ *k = get(r, key);
    if (k->exhausted) return 0; /* the caller fails the call fast (ratelimit_exhausted) */
    decay_learned(r, k, now);
    if (now < k->pause_until_ms) return k->pause_until_ms - now;
    if (k->inflight >= conc_cap(r, k)) return 5; /* re-checked on every release as well */
    if (has_rates(k)) {
        if (!k->allotted && !k->lone) {
            if (!k->first_demand_ms) k->first_demand_ms = now;
            if (now - k->first_demand_ms < NO_ALLOT_MS) return 20;
            log_warn("%s: no rate allotment from the broker after %d ms: using the whole configured rate", k->key,
                     NO_ALLOT_MS);
            k->lone = true;
            retune(k);
        }
        /* A share of 0 means none for now: wait for the next ALLOT (no one-call minimum). */
        if ((k->cfg_rpm > 0 && k->req.per_ms <= 0) || (k->cfg_tpm > 0 && k->tok.per_ms <= 0)) return 1000;
        grow(r, k, now);
        refill(k, now);
        double wait_ms = 0;
        if (k->cfg_rpm > 0 && k->req.level < 1) {
            if (k->req.per_ms <= 0) return 1000;
            wait_ms = fmax(wait_ms, (1 - k->req.level) / k->req.per_ms);
        }
        if (k->cfg_tpm > 0 && k->tok.level < 0) {
            if (k->tok.per_ms <= 0) return 1000;
            wait_ms = fmax(wait_ms, -k->tok.level / k->tok.per_ms);
        }
        if (k->cfg_tpm > 0 && k->tok.level < fmin((double)est_tokens, k->tok.cap) && k->tok.per_ms > 0 && wait_ms == 0)
            wait_ms = (fmin((double)est_tokens, k->tok.cap) - k->tok.level) / k->tok.per_ms;
        if (wait_ms > 0) return (int64_t)ceil(wait_ms);
        if (k->cfg_rpm > 0) k->req.level -= 1;
        if (k->cfg_tpm > 0) k->tok.level -= (double)est_tokens;
    }
    k->inflight++;
    k->used_requests++;
    k->used_tokens += est_tokens;
    return 0;
}

void ratelimit_release(ratelimit_t *r, const char *key, const ratelimit_outcome_t *o, int64_t now)
{
    key_t_ *k = get(r, key);
    if (k->inflight > 0) k->inflight--;
    if (o->actual_tokens > 0) {
        double diff = (double)o->actual_tokens - (double)o->est_tokens;
        if (k->cfg_tpm > 0) k->tok.level = fmin(k->tok.cap, k->tok.level - diff); /* a refund never overfills */
        if (diff > 0) k->used_tokens += (uint64_t)diff;
        else if (k->used_tokens >= (uint64_t)(-diff)) k->used_tokens -= (uint64_t)(-diff);
    }
    /* A key without configured rates paces to the limits the provider announces: they become
     * its fleet-wide rates, reported in DEMAND and divided by the broker like configured ones,
     * for as long as the provider keeps announcing them (decay_learned). */
    decay_learned(r, k, now);
    if ((!has_rates(k) || k->learned) && (o->limit_requests > 0 || o->limit_tokens > 0)) {
        double rpm = o->limit_requests > 0 ? (double)o->limit_requests : 0;
        double tpm = o->limit_tokens > 0 ? (double)o->limit_tokens : 0;
        if (!k->learned || rpm != k->learned_rpm || tpm != k->learned_tpm)
            log_info("%s: the provider announces %.0f requests and %.0f tokens a minute (0 = none): pacing to them",
                     k->key, rpm, tpm);
        k->learned = true;
        k->learned_rpm = rpm;
        k->learned_tpm = tpm;
        k->announced_ms = now;
        if (rpm != k->cfg_rpm || tpm != k->cfg_tpm) {
            k->cfg_rpm = rpm;
            k->cfg_tpm = tpm;
            r->demand_due = true; /* the broker must hear the new limits to divide them */
            retune(k);
        }
    }
    if (o->quota_exhausted) {
        if (!k->exhausted) log_error("%s: quota exhausted: no more calls will be sent to it", k->key);
        k->exhausted = true;
        return;
    }
    if (o->throttled) {
        if (now - k->last_cut_ms >= CUT_GAP_MS) {
            k->adapt = fmax(ADAPT_MIN, k->adapt * CUT);
            /* Cut from the cap in force: a configured or allotted cap may be far below conc_limit. */
            int cap = conc_cap(r, k);
            if (k->conc_limit >= cap + 1) k->conc_limit = cap;
            k->conc_limit = fmax(1, k->conc_limit * CUT);
            k->last_cut_ms = now;
            retune(k);
        }
        k->last_grow_ms = now; /* a second with a 429 in it is not a clean second */
        k->clean_streak = 0;
        int64_t pause = o->retry_after_ms >= 0 ? o->retry_after_ms : DEFAULT_PAUSE_MS;
        if (now + pause > k->pause_until_ms) k->pause_until_ms = now + pause;
        /* The bucket starts again from empty after a pause: no burst right after a 429 (nor
         * refill during the pause). */
        k->req.level = fmin(k->req.level, 0);
        k->last_refill_ms = k->pause_until_ms;
        return;
    }
    if (o->retry_after_ms > 0 && now + o->retry_after_ms > k->pause_until_ms)
        k->pause_until_ms = now + o->retry_after_ms;
    if (o->http_status >= 500 || o->http_status == 0) {
        k->frozen_until_ms = now + FREEZE_MS;
        k->clean_streak = 0;
        return;
    }
    /* Provider says a dimension is used up until its reset ("reset" is when the window is whole
     * again). When it also states its limit, a token-bucket provider admits the next request once
     * one request (or this call's tokens) is back, which is usually much sooner: wait that long. */
    if (o->remaining_requests == 0 && o->reset_requests_ms > 0) {
        double ms = (double)o->reset_requests_ms;
        if (o->limit_requests > 0) ms = fmin(ms, ceil(60000.0 / (double)o->limit_requests));
        if (now + (int64_t)ms > k->pause_until_ms) k->pause_until_ms = now + (int64_t)ms;
    }
    if (o->remaining_tokens == 0 && o->reset_tokens_ms > 0) {
        double ms = (double)o->reset_tokens_ms;
        if (o->limit_tokens > 0) ms = fmin(ms, ceil(60000.0 * (double)o->est_tokens / (double)o->limit_tokens));
        if (now + (int64_t)ms > k->pause_until_ms) k->pause_until_ms = now + (int64_t)ms;
    }
    if (o->http_status >= 200 && o->http_status < 300) {
        grow(r, k, now);
        if (!has_rates(k) && now >= k->frozen_until_ms) {
            if (++k->clean_streak >= (uint32_t)fmax(1, k->conc_limit)) {
                k->clean_streak = 0;
                if (k->conc_limit < r->default_conc) k->conc_limit += 1;
            }
        }
    }
}

void ratelimit_demand_add(ratelimit_t *r, const char *key, int delta)
{
    key_t_ *k = get(r, key);
    k->waiting += delta;
    if (k->waiting < 0) k->waiting = 0;
    /* The broker thinks this key idle here (never reported, or last reported as 0): it gets no
     * share until told, so tell it now rather than at the next heartbeat. At most once per
     * report, since a report of demand clears demand_sent_zero. */
    if (delta > 0 && (has_rates(k) || k->cfg_conc > 0) && (!k->reported || k->demand_sent_zero)) r->demand_due = true;
}

bool ratelimit_demand_due(const ratelimit_t *r) { return r->demand_due; }

bool ratelimit_exhausted(const ratelimit_t *r, const char *key)
{
    const key_t_ *k = find(r, key);
    return k && k->exhausted;
}

size_t ratelimit_demand(ratelimit_t *r, ratelimit_row_t **rows)
{
    *rows = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        key_t_ *k = &r->keys[i];
        if (!has_rates(k) && k->cfg_conc == 0) continue;
        uint32_t demand = (uint32_t)(k->waiting + k->inflight);
        if (demand == 0) {
            if (k->demand_sent_zero) continue; /* said once is enough */
            k->demand_sent_zero = true;
        } else {
            k->demand_sent_zero = false;
        }
        *rows = xrealloc(*rows, (n + 1) * sizeof(ratelimit_row_t));
        (*rows)[n++] = (ratelimit_row_t){.key = k->key,
                                         .rpm = k->cfg_rpm,
                                         .tpm = k->cfg_tpm,
                                         .demand = demand,
                                         .max_concurrency = (uint32_t)k->cfg_conc,
                                         .used_requests = k->used_requests,
                                         .used_tokens = k->used_tokens};
        k->used_requests = k->used_tokens = 0;
        k->reported = true;
    }
    r->demand_due = false;
    return n;
}

void ratelimit_allot(ratelimit_t *r, const ratelimit_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        key_t_ *k = get(r, rows[i].key);
        if (k->first_demand_ms && k->last_refill_ms == 0) k->start_empty = true; /* see refill */
        if (k->cfg_tpm > 0 && rows[i].tpm > 0 && k->tok.per_ms <= 0 && k->last_refill_ms) k->tok_restart = true;
        k->allotted = true;
        k->lone = false;
        k->first_demand_ms = 0;
        k->allot_rpm = rows[i].rpm;
        k->allot_tpm = rows[i].tpm;
        k->allot_conc = (int)rows[i].max_concurrency;
        retune(k);
    }
}
