/* mock_limits: per-key token buckets and reset-time formatting; see mock_limits.h. */
#include "mock_limits.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "mock_reply.h"

typedef struct {
    double level; /* may be negative: debt from a request larger than the bucket */
    double cap;
    double per_us; /* refill rate */
} bucket_t;

typedef struct {
    char *key; /* NULL: empty slot */
    size_t key_len;
    int64_t last_us; /* when the buckets were last refilled */
    bucket_t req, tok;
} entry_t;

struct mock_limits {
    pthread_mutex_t mu;
    double rpm, tpm, burst_s;
    entry_t slots[MOCK_LIMITS_MAX_KEYS * 2]; /* open addressing, at most half full */
    size_t used;
    entry_t overflow;
};

static void bucket_init(bucket_t *b, double per_minute, double burst_s, double floor_cap)
{
    b->per_us = per_minute / 60e6;
    b->cap = per_minute / 60.0 * burst_s;
    if (b->cap < floor_cap) b->cap = floor_cap;
    b->level = b->cap;
}

static void entry_init(mock_limits_t *l, entry_t *e, int64_t now_us)
{
    e->last_us = now_us;
    if (l->rpm > 0) bucket_init(&e->req, l->rpm, l->burst_s, 1.0);
    if (l->tpm > 0) bucket_init(&e->tok, l->tpm, l->burst_s, 1.0);
}

mock_limits_t *mock_limits_new(double rpm, double tpm, double burst_seconds)
{
    if (!(rpm > 0) && !(tpm > 0)) return NULL;
    mock_limits_t *l = xcalloc(1, sizeof(*l));
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return NULL;
    }
    l->rpm = rpm > 0 ? rpm : 0;
    l->tpm = tpm > 0 ? tpm : 0;
    l->burst_s = burst_seconds > 0 ? burst_seconds : 1.0;
    l->overflow.key = NULL;
    entry_init(l, &l->overflow, 0);
    l->overflow.last_us = -1; /* initialised on first use */
    return l;
}

void mock_limits_destroy(mock_limits_t **self_p)
{
    if (!self_p || !*self_p) return;
    mock_limits_t *l = *self_p;
    for (size_t i = 0; i < sizeof(l->slots) / sizeof(l->slots[0]); i++) free(l->slots[i].key);
    pthread_mutex_destroy(&l->mu);
    free(l);
    *self_p = NULL;
}

static entry_t *lookup(mock_limits_t *l, const char *key, size_t n, int64_t now_us)
{
    const size_t nslots = sizeof(l->slots) / sizeof(l->slots[0]);
    size_t i = (size_t)(mock_mix64(mock_hash(key, n, 0)) % nslots);
    for (;;) {
        entry_t *e = &l->slots[i];
        if (!e->key) break;
        if (e->key_len == n && memcmp(e->key, key, n) == 0) return e;
        i = (i + 1) % nslots;
    }
    if (l->used >= MOCK_LIMITS_MAX_KEYS) {
        if (l->overflow.last_us < 0) entry_init(l, &l->overflow, now_us);
        return &l->overflow;
    }
    entry_t *e = &l->slots[i];
    e->key = xstrndup(key, n);
    e->key_len = n;
    entry_init(l, e, now_us);
    l->used++;
    return e;
}

static void refill(bucket_t *b, double dt_us)
{
    b->level += dt_us * b->per_us;
    if (b->level > b->cap) b->level = b->cap;
}

/* Time until the bucket holds `need`. */
static double wait_ms(const bucket_t *b, double need)
{
    if (b->level + 1e-9 >= need) return 0; /* refills are sums of floating-point steps */
    return (need - b->level) / b->per_us / 1000.0;
}

static uint64_t whole(double level) { return level > 0 ? (uint64_t)floor(level) : 0; }

void mock_limits_take(mock_limits_t *l, const char *key, size_t key_len, int64_t now_us, double tokens,
                      mock_limit_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    out->cost = tokens;
    if (!l) return;
    if (key_len > MOCK_LIMITS_KEY_MAX) key_len = MOCK_LIMITS_KEY_MAX;
    out->has_requests = l->rpm > 0;
    out->has_tokens = l->tpm > 0;
    out->rpm = l->rpm;
    out->tpm = l->tpm;

    pthread_mutex_lock(&l->mu);
    entry_t *e = lookup(l, key, key_len, now_us);
    double dt = now_us > e->last_us ? (double)(now_us - e->last_us) : 0;
    e->last_us = now_us > e->last_us ? now_us : e->last_us;
    if (out->has_requests) refill(&e->req, dt);
    if (out->has_tokens) refill(&e->tok, dt);

    double need_tok = out->has_tokens ? (tokens < e->tok.cap ? tokens : e->tok.cap) : 0;
    double wait_req = out->has_requests ? wait_ms(&e->req, 1.0) : 0;
    double wait_tok = out->has_tokens ? wait_ms(&e->tok, need_tok) : 0;
    if (wait_req > 0 || wait_tok > 0) {
        out->limited = true;
        out->by_tokens = wait_tok > wait_req;
        out->retry_after_ms = wait_tok > wait_req ? wait_tok : wait_req;
    } else {
        if (out->has_requests) e->req.level -= 1.0;
        if (out->has_tokens) e->tok.level -= tokens;
    }
    if (out->has_requests) {
        out->remaining_requests = whole(e->req.level);
        out->reset_requests_ms = wait_ms(&e->req, e->req.cap);
    }
    if (out->has_tokens) {
        out->remaining_tokens = whole(e->tok.level);
        out->reset_tokens_ms = wait_ms(&e->tok, e->tok.cap);
    }
    pthread_mutex_unlock(&l->mu);
}

/* Seconds with up to three decimals, trailing zeros dropped: "1", "1.5", "0.012". */
static void fmt_seconds(char *out, size_t n, double s)
{
    snprintf(out, n, "%.3f", s);
    char *dot = strchr(out, '.');
    if (!dot) return;
    char *e = out + strlen(out);
    while (e > dot + 1 && e[-1] == '0') *--e = '\0';
    if (e == dot + 1) *dot = '\0';
}

void mock_fmt_duration(char *out, size_t n, double ms)
{
    if (!(ms > 0)) {
        snprintf(out, n, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, n, "%.0fms", ceil(ms));
        return;
    }
    double total = ceil(ms) / 1000.0; /* whole milliseconds, as seconds */
    long long h = (long long)(total / 3600);
    total -= (double)h * 3600;
    long long m = (long long)(total / 60);
    total -= (double)m * 60;
    char sec[32];
    fmt_seconds(sec, sizeof sec, total);
    if (h > 0) snprintf(out, n, "%lldh%lldm%ss", h, m, sec);
    else if (m > 0) snprintf(out, n, "%lldm%ss", m, sec);
    else snprintf(out, n, "%ss", sec);
}

void mock_fmt_rfc3339(char *out, size_t n, double unix_ms)
{
    time_t t = (time_t)ceil(unix_ms / 1000.0);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
