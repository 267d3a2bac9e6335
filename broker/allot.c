/* allot: fleet-wide rate-limit allotment; see allot.h.
 *
 * DESIGN. For each key the broker keeps the limits last reported (every worker of a job reports
 * the same ones, from the job's spec) and, per worker, its demand and the share last sent. A
 * worker's share of a limit L is L * d_i / sum(d) over the workers with demand d > 0; a worker
 * without demand gets nothing, so the shares of the workers that can use the quota always add up
 * to L, never more. Demand older than STALE_TICKS heartbeats counts as zero (a worker that went
 * quiet without saying so). A worker is sent a new table only when one of its shares moved by
 * more than 2% (or to or from zero), which keeps ALLOT traffic proportional to real change.
 *
 * Holders. A worker paces its share with a bucket of BURST_S seconds of it, and a provider
 * enforces the limit with a bucket of about a second of the whole. Split among too many workers,
 * a share's bucket holds less than one call (one request, or a call's tokens: a 1,500-token call
 * against 200,000 tpm is 45% of the provider's second), every worker then sends its calls whole
 * and on its own clock, and their calls collide: three at once are more than the provider's
 * second, and it answers 429. So at most max_holders() workers hold a share of a key at once,
 * each then with room for a whole call, while the others wait with a share of 0. Holders keep
 * their share while they have demand, for HOLD_TICKS at most when others wait, then the workers
 * that waited longest take over (the new holder's token bucket starts empty, see ratelimit.c, so
 * a hand-over adds no burst). The call size is the average tokens per request the workers report. */
#define LOG_MODULE "allot"
#include "allot.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "wire.h"

#define STALE_TICKS 5
#define BURST_S 1.0    /* the workers' bucket capacity in seconds of their share (ratelimit.c) */
#define HOLD_TICKS 120 /* heartbeats a holder keeps its share while other workers wait */

typedef struct {
    void *peer;
    uint32_t demand;
    uint32_t age;    /* ticks since the last report */
    double rpm, tpm; /* share last sent */
    int conc;
    bool sent;
    bool holder;     /* may hold a share now (see Holders) */
    uint32_t held;   /* ticks as a holder while others waited */
    uint32_t waited; /* ticks with demand and no share */
} share_t;

typedef struct {
    char *key;
    double rpm, tpm;
    uint32_t max_conc;
    double avg_cost; /* tokens per request the workers report; 0 = not known yet */
    share_t *shares;
    size_t n;
} keyent_t;

struct allot {
    allot_send_fn send;
    void *arg;
    keyent_t *keys;
    size_t n_keys;
};

allot_t *allot_new(allot_send_fn send, void *arg)
{
    allot_t *a = xcalloc(1, sizeof(*a));
    a->send = send;
    a->arg = arg;
    return a;
}

void allot_destroy(allot_t **self_p)
{
    if (!self_p || !*self_p) return;
    allot_t *a = *self_p;
    for (size_t i = 0; i < a->n_keys; i++) {
        free(a->keys[i].key);
        free(a->keys[i].shares);
    }
    free(a->keys);
    free(a);
    *self_p = NULL;
}

static keyent_t *key_get(allot_t *a, const char *key)
{
    for (size_t i = 0; i < a->n_keys; i++)
        if (strcmp(a->keys[i].key, key) == 0) return &a->keys[i];
    a->keys = xrealloc(a->keys, (a->n_keys + 1) * sizeof(keyent_t));
    keyent_t *k = &a->keys[a->n_keys++];
    memset(k, 0, sizeof(*k));
    k->key = xstrdup(key);
    return k;
}

static share_t *share_get(keyent_t *k, void *peer, bool create)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->shares[i].peer == peer) return &k->shares[i];
    if (!create) return NULL;
    k->shares = xrealloc(k->shares, (k->n + 1) * sizeof(share_t));
    share_t *s = &k->shares[k->n++];
    memset(s, 0, sizeof(*s));
    s->peer = peer;
    return s;
}

static bool moved(double old, double now)
{
    if ((old == 0) != (now == 0)) return true;
    return fabs(now - old) > 0.02 * fmax(fabs(old), 1e-9);
}

/* Concurrency is whole calls: each worker with demand gets the floor of its share, at least 1
 * (or it could never start a call), then the calls left go one at a time to the largest
 * remainders, and calls given as a minimum are taken back from the shares furthest above their
 * exact value. The shares add up to max_conc, never more (unless more workers have demand than
 * max_conc has calls). */
static void conc_shares(const keyent_t *k, const double *f, int *conc)
{
    long left = k->max_conc;
    for (size_t j = 0; j < k->n; j++) {
        conc[j] = 0;
        if (!k->max_conc || f[j] <= 0) continue;
        conc[j] = (int)floor(k->max_conc * f[j]);
        if (conc[j] < 1) conc[j] = 1;
        left -= conc[j];
    }
    if (!k->max_conc) return;
    while (left != 0) {
        size_t pick = k->n;
        double best = 0;
        for (size_t j = 0; j < k->n; j++) {
            double rem = k->max_conc * f[j] - conc[j]; /* > 0: below its exact share */
            if (f[j] <= 0 || (left < 0 && conc[j] <= 1)) continue;
            if (pick == k->n || (left > 0 ? rem > best : rem < best)) {
                pick = j;
                best = rem;
            }
        }
        if (pick == k->n) break;
        conc[pick] += left > 0 ? 1 : -1;
        left += left > 0 ? -1 : 1;
    }
}

static bool active(const share_t *s) { return s->age < STALE_TICKS && s->demand > 0; }

/* How many workers may hold a share of `k` at once: each one's bucket (BURST_S of its share)
 * must have room for a whole call, one request and avg_cost tokens. At least one. */
static size_t max_holders(const keyent_t *k)
{
    double n = INFINITY;
    if (k->rpm > 0) n = fmin(n, floor(k->rpm / 60.0 * BURST_S));
    if (k->tpm > 0 && k->avg_cost > 0) n = fmin(n, floor(k->tpm / 60.0 * BURST_S / k->avg_cost));
    if (!(n >= 1)) return 1;
    return n >= (double)k->n ? k->n : (size_t)n;
}

/* Marks the holders of `k`: every worker with demand when they are few enough; else the holders
 * that have not yet held their share HOLD_TICKS keep it, and the slots left go to the workers
 * that waited longest. */
static void choose_holders(keyent_t *k)
{
    size_t slots = max_holders(k), n_active = 0, taken = 0;
    for (size_t j = 0; j < k->n; j++) {
        share_t *s = &k->shares[j];
        if (active(s)) {
            n_active++;
        } else {
            s->holder = false;
            s->held = s->waited = 0;
        }
    }
    for (size_t j = 0; j < k->n; j++) {
        share_t *s = &k->shares[j];
        if (!active(s)) continue;
        if (n_active <= slots || (s->holder && s->held < HOLD_TICKS && taken < slots)) {
            if (!s->holder) s->held = 0;
            s->holder = true;
            s->waited = 0;
            taken++;
        } else if (s->holder) {
            s->holder = false; /* its turn is over: back in line */
            s->held = s->waited = 0;
        }
    }
    while (taken < slots && taken < n_active) {
        share_t *best = NULL;
        for (size_t j = 0; j < k->n; j++) {
            share_t *s = &k->shares[j];
            if (active(s) && !s->holder && (!best || s->waited > best->waited)) best = s;
        }
        if (!best) break;
        best->holder = true;
        best->held = best->waited = 0;
        taken++;
    }
}

/* Recomputes every share; marks the peers whose table must be re-sent. */
static void recompute(allot_t *a, void ***dirty, size_t *n_dirty)
{
    for (size_t i = 0; i < a->n_keys; i++) {
        keyent_t *k = &a->keys[i];
        choose_holders(k);
        double total = 0;
        for (size_t j = 0; j < k->n; j++)
            if (k->shares[j].holder) total += k->shares[j].demand;
        double *fs = xcalloc(k->n, sizeof(double));
        int *concs = xcalloc(k->n, sizeof(int));
        for (size_t j = 0; j < k->n; j++) fs[j] = (total > 0 && k->shares[j].holder) ? k->shares[j].demand / total : 0;
        conc_shares(k, fs, concs);
        for (size_t j = 0; j < k->n; j++) {
            share_t *s = &k->shares[j];
            double f = fs[j];
            double rpm = k->rpm * f, tpm = k->tpm * f;
            int conc = concs[j];
            if (!s->sent || moved(s->rpm, rpm) || moved(s->tpm, tpm) || s->conc != conc) {
                s->rpm = rpm;
                s->tpm = tpm;
                s->conc = conc;
                s->sent = true;
                bool seen = false;
                for (size_t d = 0; d < *n_dirty; d++)
                    if ((*dirty)[d] == s->peer) seen = true;
                if (!seen) {
                    *dirty = xrealloc(*dirty, (*n_dirty + 1) * sizeof(void *));
                    (*dirty)[(*n_dirty)++] = s->peer;
                }
            }
        }
        free(fs);
        free(concs);
    }
}

static void send_table(allot_t *a, void *peer)
{
    wire_rate_t *rows = NULL;
    size_t n = 0;
    for (size_t i = 0; i < a->n_keys; i++) {
        share_t *s = share_get(&a->keys[i], peer, false);
        if (!s) continue;
        rows = xrealloc(rows, (n + 1) * sizeof(wire_rate_t));
        rows[n++] =
            (wire_rate_t){.key = a->keys[i].key, .rpm = s->rpm, .tpm = s->tpm, .max_concurrency = (uint32_t)s->conc};
    }
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_rates_encode(rows, n, &b) < 0 || a->send(a->arg, peer, b.data, b.len) < 0) {
        /* Not delivered: mark the shares unsent so the next tick sends the table again. */
        log_debug("ALLOT not delivered");
        for (size_t i = 0; i < a->n_keys; i++) {
            share_t *s = share_get(&a->keys[i], peer, false);
            if (s) s->sent = false;
        }
    }
    buf_free(&b);
    free(rows);
}

static void rebalance(allot_t *a)
{
    void **dirty = NULL;
    size_t n = 0;
    recompute(a, &dirty, &n);
    for (size_t i = 0; i < n; i++) send_table(a, dirty[i]);
    free(dirty);
}

void allot_worker_joined(allot_t *a, void *peer)
{
    (void)a;
    (void)peer; /* shares start at first DEMAND */
}

void allot_worker_gone(allot_t *a, void *peer)
{
    bool any = false;
    for (size_t i = 0; i < a->n_keys; i++) {
        keyent_t *k = &a->keys[i];
        for (size_t j = 0; j < k->n; j++) {
            if (k->shares[j].peer == peer) {
                k->shares[j] = k->shares[--k->n];
                any = true;
                break;
            }
        }
    }
    if (any) rebalance(a);
}

int allot_demand(allot_t *a, void *peer, const void *payload, size_t len)
{
    wire_rate_t *rows = NULL;
    size_t n = 0;
    char err[256];
    if (wire_rates_decode(payload, len, &rows, &n, err, sizeof err) < 0) {
        log_warn("malformed DEMAND dropped: %s", err);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        keyent_t *k = key_get(a, rows[i].key);
        /* Limits come from the job spec; the latest report wins (a new job may change them). */
        k->rpm = rows[i].rpm > 0 ? rows[i].rpm : 0;
        k->tpm = rows[i].tpm > 0 ? rows[i].tpm : 0;
        k->max_conc = rows[i].max_concurrency;
        if (rows[i].used_requests > 0) { /* the call size, smoothed over reports */
            double cost = (double)rows[i].used_tokens / (double)rows[i].used_requests;
            k->avg_cost = k->avg_cost > 0 ? 0.8 * k->avg_cost + 0.2 * cost : cost;
        }
        share_t *s = share_get(k, peer, true);
        s->demand = rows[i].demand;
        s->age = 0;
    }
    wire_rates_free(rows, n);
    rebalance(a);
    return 0;
}

void allot_tick(allot_t *a)
{
    for (size_t i = 0; i < a->n_keys; i++) {
        keyent_t *k = &a->keys[i];
        size_t n_active = 0, n_holders = 0;
        for (size_t j = 0; j < k->n; j++) {
            n_active += active(&k->shares[j]);
            n_holders += k->shares[j].holder;
        }
        for (size_t j = 0; j < k->n; j++) {
            share_t *s = &k->shares[j];
            if (n_active > n_holders && active(s)) { /* someone waits: turns are counted */
                if (s->holder) s->held++;
                else s->waited++;
            }
            if (s->age < STALE_TICKS) s->age++;
        }
    }
    rebalance(a);
}

int allot_share(const allot_t *a, const void *peer, const char *key, double *rpm, double *tpm, int *max_conc)
{
    for (size_t i = 0; i < a->n_keys; i++) {
        if (strcmp(a->keys[i].key, key) != 0) continue;
        for (size_t j = 0; j < a->keys[i].n; j++) {
            const share_t *s = &a->keys[i].shares[j];
            if (s->peer != peer) continue;
            *rpm = s->rpm;
            *tpm = s->tpm;
            *max_conc = s->conc;
            return 0;
        }
    }
    return -1;
}
