/* worker: threads, each one peer of the broker; see worker.h and schemas/protocol.md.
 *
 * DESIGN. A thread owns a DEALER socket, a loop and an llm client; nothing is shared between
 * threads but the stats (under a mutex) and the stop flag. Shards arrive only against credit:
 * the thread asks for one more shard (CREDIT 1) while it holds fewer than `max_shards` (counting
 * those asked for and not yet received) and its model calls leave room for more work, so a worker
 * never holds more shards than it asked for and never hoards work other workers could do.
 *
 * The session with the broker (HELLO, heartbeats, restart detection, reconnecting, the outbox that
 * keeps sends in order) is proto/peer.c's; when a session ends the thread keeps the shards it
 * holds (their results are idempotent) and forgets the credit it had asked for. */
#define LOG_MODULE "worker"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "llm.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "wshard.h"
#include "spec.h"
#include "wire.h"
#include "peer.h"

#define MAX_JOBS_CACHED 8

typedef struct wthread wthread_t;

typedef struct held {
    wshard_t *s;
    bool finished;
    struct held *next;
} held_t;

struct wthread {
    worker_t *w;
    int index;
    char name[WIRE_MAX_ID];
    pthread_t tid;
    bool started;
    peer_t *peer;
    loop_t *loop;
    llm_client_t *llm;
    wjob_t *jobs[MAX_JOBS_CACHED];
    held_t *held;
    uint32_t n_held;
    uint32_t credit_out;        /* shards asked for, not yet received */
    bool welcomed;
    uint64_t use_clock;
    worker_stats_t st;          /* this thread's counters; copied under w->mu */
};

struct worker {
    worker_opts_t o;
    char *broker;
    char *name;
    char *region;
    void *ctx;
    bool own_ctx;
    wthread_t *threads;
    pthread_mutex_t mu;
    atomic_int stopping;
    atomic_int welcomed;        /* threads welcomed by a broker right now */
};

/* ---- stats ---- */
static void publish_stats(wthread_t *t)
{
    llm_stats_t ls;
    llm_get_stats(t->llm, &ls);
    t->st.calls_ok = ls.calls_ok;
    t->st.calls_failed = ls.calls_failed;
    t->st.http_requests = ls.http_requests;
    t->st.retries = ls.retries;
    t->st.http_429 = ls.http_429;
    t->st.http_5xx = ls.http_5xx;
    t->st.transport_errors = ls.transport_errors;
    t->st.input_tokens = ls.input_tokens;
    t->st.output_tokens = ls.output_tokens;
    t->st.shards_held = t->n_held;
    t->st.calls_pending = (uint32_t)llm_pending(t->llm);
}

/* ---- jobs ---- */
static void job_free(wjob_t *j)
{
    if (!j) return;
    spec_destroy(&j->spec);
    free(j->job_id);
    free(j->spec_json);
    free(j);
}

static wjob_t *job_get(wthread_t *t, const char *job_id, const char *spec_json, char *err, size_t errlen)
{
    for (int i = 0; i < MAX_JOBS_CACHED; i++) {
        wjob_t *j = t->jobs[i];
        if (j && strcmp(j->job_id, job_id) == 0 && strcmp(j->spec_json, spec_json) == 0) {
            j->last_used = ++t->use_clock;
            return j;
        }
    }
    errlist_t errs;
    errlist_init(&errs, 5);
    spec_t *sp = spec_parse(spec_json, strlen(spec_json), "shard spec", NULL, &errs);
    if (!sp) {
        snprintf(err, errlen, "%s", errs.n_kept ? errs.msgs[0] : "invalid spec");
        errlist_free(&errs);
        return NULL;
    }
    errlist_free(&errs);
    /* Evict the least recently used job that no shard holds. */
    int slot = -1;
    for (int i = 0; i < MAX_JOBS_CACHED; i++) {
        if (!t->jobs[i]) { slot = i; break; }
        if (t->jobs[i]->refs == 0 && (slot < 0 || t->jobs[i]->last_used < t->jobs[slot]->last_used)) slot = i;
    }
    if (slot < 0) {
        spec_destroy(&sp);
        snprintf(err, errlen, "too many jobs in flight on this worker thread");
        return NULL;
    }
    job_free(t->jobs[slot]);
    wjob_t *j = xcalloc(1, sizeof(*j));
    j->job_id = xstrdup(job_id);
    j->spec_json = xstrdup(spec_json);
    j->spec = sp;
    j->last_used = ++t->use_clock;
    t->jobs[slot] = j;
    for (size_t i = 0; i < sp->n_limits; i++)
        llm_set_limit_in(t->llm, sp->limits[i].model, sp->region, sp->limits[i].rpm, sp->limits[i].tpm,
                         sp->limits[i].max_concurrency);
    return j;
}

/* ---- credit ---- */
static void want_more(wthread_t *t)
{
    if (!t->welcomed || atomic_load(&t->w->stopping)) return;
    /* Room for another shard: under the cap, and the client is not already saturated with
     * queued calls (more shards would only wait here while another worker could run them). */
    while (t->n_held + t->credit_out < (uint32_t)t->w->o.max_shards &&
           (t->n_held + t->credit_out < 2 || llm_pending(t->llm) < (size_t)t->w->o.max_concurrency * 2)) {
        wire_hdr_t h = {.type = WIRE_CREDIT, .n = 1};
        peer_send(t->peer, &h, NULL, 0);
        t->credit_out++;
        if (llm_pending(t->llm) >= (size_t)t->w->o.max_concurrency) break;
    }
}

/* ---- shard callbacks ---- */
static void on_result(wshard_t *s, const result_t *r, void *arg)
{
    wthread_t *t = arg;
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_result_encode(r, &b) < 0) {
        log_error("result of record %llu too large to send", (unsigned long long)r->record_index);
        buf_free(&b);
        return;
    }
    wire_hdr_t h = {.type = WIRE_RESULT, .shard_id = wshard_id(s), .lease = wshard_lease(s)};
    snprintf(h.job_id, sizeof h.job_id, "%s", wshard_job_id(s));
    peer_send(t->peer, &h, b.data, b.len);
    buf_free(&b);
    t->st.results_sent++;
}

static void on_done(wshard_t *s, void *arg)
{
    wthread_t *t = arg;
    for (held_t *h = t->held; h; h = h->next) {
        if (h->s != s) continue;
        h->finished = true;
        if (!wshard_cancelled(s)) {
            wire_hdr_t m = {.type = WIRE_SHARD_DONE, .shard_id = wshard_id(s), .lease = wshard_lease(s),
                            .n = (uint32_t)wshard_results(s)};
            snprintf(m.job_id, sizeof m.job_id, "%s", wshard_job_id(s));
            peer_send(t->peer, &m, NULL, 0);
            t->st.shards_done++;
        }
        break;
    }
}

/* Frees finished shards; run before every wait, never from inside a shard callback. */
static void reap(wthread_t *t)
{
    bool any = false;
    for (held_t **pp = &t->held; *pp;) {
        held_t *h = *pp;
        if (h->finished) {
            *pp = h->next;
            wshard_destroy(&h->s);
            free(h);
            t->n_held--;
            any = true;
        } else {
            pp = &h->next;
        }
    }
    if (any) want_more(t);
}

/* A shard we cannot run is still finished (SHARD_DONE with no results), so its lease ends and
 * the scheduler decides what to do with it; then we ask for another. */
static void refuse_shard(wthread_t *t, const wire_hdr_t *h)
{
    wire_hdr_t m = {.type = WIRE_SHARD_DONE, .shard_id = h->shard_id, .lease = h->lease, .n = 0};
    snprintf(m.job_id, sizeof m.job_id, "%s", h->job_id);
    peer_send(t->peer, &m, NULL, 0);
    want_more(t);
}

static void on_shard(wthread_t *t, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (t->credit_out > 0) t->credit_out--;
    wire_shard_t ws;
    char err[512];
    if (!payload || wire_shard_decode(payload, len, &ws, err, sizeof err) < 0) {
        log_warn("shard %s/%llu refused: %s", h->job_id, (unsigned long long)h->shard_id, payload ? err : "no payload");
        refuse_shard(t, h);
        return;
    }
    wjob_t *job = job_get(t, h->job_id, ws.spec_json, err, sizeof err);
    if (!job) {
        log_error("shard %s/%llu: cannot use its spec: %s", h->job_id, (unsigned long long)h->shard_id, err);
        wire_shard_clear(&ws);
        refuse_shard(t, h);
        return;
    }
    wshard_cbs_t cbs = {.on_result = on_result, .on_done = on_done, .arg = t};
    size_t ws_records = ws.n_records;
    wshard_t *s = wshard_new(job, h->shard_id, h->lease, ws.records, ws.n_records, t->llm, &cbs);
    ws.records = NULL;   /* the shard owns them now */
    ws.n_records = 0;
    wire_shard_clear(&ws);
    held_t *hd = xcalloc(1, sizeof(*hd));
    hd->s = s;
    hd->next = t->held;
    t->held = hd;
    t->n_held++;
    log_debug("shard %s/%llu: %zu record(s) started", h->job_id, (unsigned long long)h->shard_id, ws_records);
    wshard_start(s);
}

static void on_cancel(wthread_t *t, const char *job_id)
{
    for (held_t *h = t->held; h; h = h->next)
        if (!h->finished && strcmp(wshard_job_id(h->s), job_id) == 0) wshard_cancel(h->s);
}

/* ---- the session ---- */

/* t->welcomed, mirrored in the worker-wide count that worker_ready reads. */
static void set_welcomed(wthread_t *t, bool on)
{
    if (t->welcomed == on) return;
    t->welcomed = on;
    atomic_fetch_add(&t->w->welcomed, on ? 1 : -1);
}

/* HELLO asks for up to two shards; the rest comes one CREDIT at a time (want_more). */
static uint32_t hello_credit(void *arg)
{
    wthread_t *t = arg;
    uint32_t room = (uint32_t)t->w->o.max_shards > t->n_held ? (uint32_t)t->w->o.max_shards - t->n_held : 0;
    t->credit_out = room < 2 ? room : 2;
    return t->credit_out;
}

static uint32_t heartbeat_n(void *arg) { return ((wthread_t *)arg)->n_held; }

static void on_session(peer_event_t ev, bool again, const wire_hdr_t *h, const char *why, void *arg)
{
    wthread_t *t = arg;
    if (ev == PEER_UP) {
        set_welcomed(t, true);
        want_more(t);
    } else {
        set_welcomed(t, false);
        t->st.reconnects++;
    }
}

static void on_allot(wthread_t *t, const void *payload, size_t len);

static void on_message(const wire_hdr_t *h, const void *payload, size_t len, void *arg)
{
    wthread_t *t = arg;
    switch (h->type) {
    case WIRE_SHARD:
        on_shard(t, h, payload, len);
        break;
    case WIRE_CANCEL:
        on_cancel(t, h->job_id);
        break;
    case WIRE_ALLOT:
        if (payload) on_allot(t, payload, len);
        break;
    default:
        log_warn("unexpected %s from the broker dropped", wire_type_name(h->type));
    }
}

/* Fleet-wide rate limits: reports the demand per endpoint key (DEMAND) to the broker, which
 * answers with this thread's shares (ALLOT). */
static void send_demand(wthread_t *t)
{
    ratelimit_row_t *rows = NULL;
    size_t n = llm_demand(t->llm, &rows);
    if (n == 0) return;
    wire_rate_t *w = xcalloc(n, sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i] = (wire_rate_t){.key = (char *)rows[i].key, .rpm = rows[i].rpm, .tpm = rows[i].tpm,
                             .demand = rows[i].demand, .max_concurrency = rows[i].max_concurrency,
                             .used_requests = rows[i].used_requests, .used_tokens = rows[i].used_tokens};
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_rates_encode(w, n, &b) == 0) {
        wire_hdr_t d = {.type = WIRE_DEMAND};
        peer_send(t->peer, &d, b.data, b.len);
    }
    buf_free(&b);
    free(w);
    free(rows);
}

/* This thread's shares, from the broker. */
static void on_allot(wthread_t *t, const void *payload, size_t len)
{
    wire_rate_t *w = NULL;
    size_t n = 0;
    char err[256];
    if (wire_rates_decode(payload, len, &w, &n, err, sizeof err) < 0) {
        log_warn("malformed ALLOT dropped: %s", err);
        return;
    }
    ratelimit_row_t *rows = xcalloc(n ? n : 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = (ratelimit_row_t){.key = w[i].key, .rpm = w[i].rpm, .tpm = w[i].tpm,
                                    .max_concurrency = w[i].max_concurrency};
    llm_allot(t->llm, rows, n);
    free(rows);
    wire_rates_free(w, n);
}

static int before_wait(loop_t *loop, void *arg)
{
    wthread_t *t = arg;
    if (atomic_load(&t->w->stopping)) {
        loop_stop(loop);
        return 1;
    }
    int more = peer_pump(t->peer);
    reap(t);
    /* A rate-limited key that the broker thinks idle here got calls: report now, not at the
     * next tick, or they would wait up to a heartbeat for a share. */
    if (t->welcomed && llm_demand_due(t->llm)) send_demand(t);
    return more | peer_pump(t->peer);
}

/* Every heartbeat interval (the session sends its own HEARTBEAT): demand, credit, stats. */
static void tick(loop_t *loop, uint64_t id, void *arg)
{
    wthread_t *t = arg;
    if (t->welcomed) {
        send_demand(t);
        want_more(t);
    }
    pthread_mutex_lock(&t->w->mu);
    publish_stats(t);
    pthread_mutex_unlock(&t->w->mu);
    loop_timer_add(loop, t->w->o.heartbeat_ms, tick, t);
}

static void *thread_main(void *arg)
{
    wthread_t *t = arg;
    peer_opts_t po = {.endpoint = t->w->broker, .zmq_ctx = t->w->ctx, .loop = t->loop, .role = "worker",
                      .name = t->name, .heartbeat_ms = t->w->o.heartbeat_ms, .dead_after = t->w->o.dead_after,
                      .on_message = on_message, .on_session = on_session, .hello_credit = hello_credit,
                      .heartbeat_n = heartbeat_n, .arg = t};
    char err[512];
    t->peer = peer_new(&po, err, sizeof err);
    if (!t->peer) {
        log_error("%s: %s", t->name, err);
        return NULL;
    }
    loop_set_before_wait(t->loop, before_wait, t);
    loop_timer_add(t->loop, t->w->o.heartbeat_ms, tick, t);
    loop_run(t->loop);
    /* Leaving: tell the broker so our leases go back to the queue at once. */
    set_welcomed(t, false);
    peer_bye(t->peer);
    pthread_mutex_lock(&t->w->mu);
    publish_stats(t);
    pthread_mutex_unlock(&t->w->mu);
    return NULL;
}

void worker_opts_default(worker_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->threads = 1;
    o->max_shards = SHARD_HOLD_DEFAULT;
    o->max_concurrency = 256;
    o->heartbeat_ms = 1000;
    o->dead_after = 5;
}

worker_t *worker_new(const worker_opts_t *opts, char *err, size_t errlen)
{
    worker_t *w = xcalloc(1, sizeof(*w));
    w->o = *opts;
    if (w->o.threads < 1) w->o.threads = 1;
    if (w->o.max_shards < 1) w->o.max_shards = SHARD_HOLD_DEFAULT;
    if (w->o.max_concurrency < 1) w->o.max_concurrency = 256;
    if (w->o.heartbeat_ms < 10) w->o.heartbeat_ms = 1000;
    if (w->o.dead_after < 2) w->o.dead_after = 5;
    w->broker = xstrdup(opts->broker);
    w->region = xstrdup(opts->region);
    if (opts->name) {
        w->name = xstrdup(opts->name);
    } else {
        char host[128] = "worker";
        gethostname(host, sizeof host - 1);
        w->name = xasprintf("%s-%d", host, (int)getpid());
    }
    w->ctx = opts->zmq_ctx;
    if (!w->ctx) {
        w->ctx = zmq_ctx_new();
        w->own_ctx = true;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->threads = xcalloc((size_t)w->o.threads, sizeof(wthread_t));
    for (int i = 0; i < w->o.threads; i++) {
        wthread_t *t = &w->threads[i];
        t->w = w;
        t->index = i;
        snprintf(t->name, sizeof t->name, "%s-t%d", w->name, i);
        t->loop = loop_new();
        llm_opts_t lo;
        llm_opts_default(&lo);
        lo.max_concurrency = w->o.max_concurrency;
        lo.region = w->region;
        t->llm = t->loop ? llm_client_new(t->loop, &lo) : NULL;
        if (!t->loop || !t->llm) {
            snprintf(err, errlen, "cannot create the event loop or the HTTP client");
            worker_destroy(&w);
            return NULL;
        }
    }
    return w;
}

int worker_start(worker_t *w)
{
    for (int i = 0; i < w->o.threads; i++) {
        if (pthread_create(&w->threads[i].tid, NULL, thread_main, &w->threads[i]) != 0) {
            worker_stop(w);
            return -1;
        }
        w->threads[i].started = true;
    }
    return 0;
}

void worker_stop(worker_t *w)
{
    atomic_store(&w->stopping, 1);
    for (int i = 0; i < w->o.threads; i++)
        if (w->threads[i].loop) loop_stop_async(w->threads[i].loop);
}

void worker_join(worker_t *w)
{
    for (int i = 0; i < w->o.threads; i++) {
        if (w->threads[i].started) {
            pthread_join(w->threads[i].tid, NULL);
            w->threads[i].started = false;
        }
    }
}

void worker_get_stats(worker_t *w, worker_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->o.threads; i++) {
        const worker_stats_t *s = &w->threads[i].st;
        out->shards_done += s->shards_done;
        out->results_sent += s->results_sent;
        out->calls_ok += s->calls_ok;
        out->calls_failed += s->calls_failed;
        out->http_requests += s->http_requests;
        out->retries += s->retries;
        out->http_429 += s->http_429;
        out->reconnects += s->reconnects;
        out->shards_held += s->shards_held;
        out->calls_pending += s->calls_pending;
        out->http_5xx += s->http_5xx;
        out->transport_errors += s->transport_errors;
        out->input_tokens += s->input_tokens;
        out->output_tokens += s->output_tokens;
    }
    pthread_mutex_unlock(&w->mu);
    int n = atomic_load(&w->welcomed);
    out->threads_connected = n > 0 ? (uint32_t)n : 0;
}

bool worker_ready(worker_t *w) { return atomic_load(&w->welcomed) > 0; }

void worker_destroy(worker_t **self_p)
{
    if (!self_p || !*self_p) return;
    worker_t *w = *self_p;
    worker_stop(w);
    worker_join(w);
    for (int i = 0; i < w->o.threads; i++) {
        wthread_t *t = &w->threads[i];
        /* Shards first (they point into the llm client's callbacks), then the client. */
        while (t->held) {
            held_t *h = t->held;
            t->held = h->next;
            wshard_destroy(&h->s);
            free(h);
        }
        llm_client_destroy(&t->llm);
        for (int j = 0; j < MAX_JOBS_CACHED; j++) job_free(t->jobs[j]);
        peer_destroy(&t->peer);
        loop_destroy(&t->loop);
    }
    free(w->threads);
    if (w->own_ctx) zmq_ctx_term(w->ctx);
    pthread_mutex_destroy(&w->mu);
    free(w->broker);
    free(w->name);
    free(w->region);
    free(w);
    *self_p = NULL;
}
