/* worker: threads, each one peer of the broker; see worker.h and schemas/protocol.md.
 *
 * DESIGN. A thread owns a DEALER socket, a loop and an llm client; nothing is shared between
 * threads but the stats (under a mutex) and the stop flag. Shards arrive only against credit:
 * the thread asks for one more shard (CREDIT 1) while it holds fewer than `max_shards` (counting
 * those asked for and not yet received) and its model calls leave room for more work, so a worker
 * never holds more shards than it asked for and never hoards work other workers could do.
 *
 * A shard received waits until the model-call client has room (fewer calls pending than
 * `max_concurrency`, or nothing running): calls beyond that would only queue here, and a shard
 * that has not started can still be handed back whole. Waiting shards count in the credit rule as
 * the first calls they will make, so the rule reads as if they had started.
 *
 * The session with the broker (HELLO, heartbeats, restart detection, reconnecting, the outbox that
 * keeps sends in order) is proto/peer.c's; when a session ends the thread keeps the shards it
 * runs (their results are idempotent), drops those still waiting (the broker put their leases
 * back on the queue with the session) and forgets the credit it had asked for.
 *
 * Draining (worker_drain, SIGTERM): each thread stops asking for shards, hands back every shard it
 * has not started with RETURN (RETURN with no shard when it has none, so its credit drops to 0 at
 * the broker), hands back at once any shard still on its way, lets the running shards finish and
 * send their results, then says BYE and ends. After `drain_ms` it ends anyway: BYE puts the
 * leases it still holds back on the queue, and their results sent so far are kept. */
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
#include "lograte.h"
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
    bool started; /* its calls were handed to the llm client */
    bool finished;
    struct held *next; /* in arrival order */
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
    uint32_t n_waiting;   /* held and not started */
    size_t waiting_units; /* first calls the waiting shards will make */
    bool drain_begun;
    int64_t drain_deadline; /* loop_now_ms() */
    uint32_t credit_out;    /* shards asked for, not yet received */
    lograte_t lr_drop;      /* unexpected or malformed messages from the broker */
    bool welcomed;
    uint64_t use_clock;
    worker_stats_t st;   /* this thread's counters as of its last publish; read under w->mu */
    worker_stats_t live; /* the counters this thread keeps itself (shards done, results sent,
                                 * returned, reconnects), copied into st with the client's at each
                                 * publish, so that a reader sees one moment's figures */
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
    atomic_int draining;
    int drain_ms;
    curve_keys_t curve;  /* o.curve points here when set */
    atomic_int welcomed; /* threads welcomed by a broker right now */
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
    t->st.shards_waiting = t->n_waiting;
    t->st.calls_pending = (uint32_t)llm_pending(t->llm);
    t->st.shards_done = t->live.shards_done;
    t->st.results_sent = t->live.results_sent;
    t->st.shards_returned = t->live.shards_returned;
    t->st.shards_revoked = t->live.shards_revoked;
    t->st.reconnects = t->live.reconnects;
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
        if (!t->jobs[i]) {
            slot = i;
            break;
        }
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
/* Calls pending in the client, counting those the waiting shards will start with. */
static size_t pending_calls(const wthread_t *t) { return llm_pending(t->llm) + t->waiting_units; }

static void want_more(wthread_t *t)
{
    if (!t->welcomed || atomic_load(&t->w->stopping) || t->drain_begun) return;
    /* Room for another shard: under the cap, and the client is not already saturated with
     * queued calls (more shards would only wait here while another worker could run them). */
    while (t->n_held + t->credit_out < (uint32_t)t->w->o.max_shards &&
           (t->n_held + t->credit_out < 2 || pending_calls(t) < (size_t)t->w->o.max_concurrency * 2)) {
        wire_hdr_t h = {.type = WIRE_CREDIT, .n = 1};
        peer_send(t->peer, &h, NULL, 0);
        t->credit_out++;
        if (pending_calls(t) >= (size_t)t->w->o.max_concurrency) break;
    }
}

/* Starts waiting shards, oldest first, while the client has room (or nothing runs). */
static void start_waiting(wthread_t *t)
{
    if (t->drain_begun || !t->n_waiting) return;
    bool running = false;
    for (held_t *h = t->held; h; h = h->next) running |= h->started && !h->finished;
    for (held_t *h = t->held; h; h = h->next) {
        if (h->started || h->finished) continue;
        if (running && llm_pending(t->llm) >= (size_t)t->w->o.max_concurrency) break;
        h->started = running = true;
        t->n_waiting--;
        t->waiting_units -= wshard_units(h->s);
        log_debug("shard %s/%llu started", wshard_job_id(h->s), (unsigned long long)wshard_id(h->s));
        wshard_start(h->s); /* may finish at once (on_done marks it) */
    }
}

/* Takes a waiting shard out of the list and frees it (it never made a call). */
static void drop_waiting(wthread_t *t, held_t **pp)
{
    held_t *h = *pp;
    *pp = h->next;
    t->n_waiting--;
    t->waiting_units -= wshard_units(h->s);
    t->n_held--;
    wshard_destroy(&h->s);
    free(h);
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
    t->live.results_sent++;
}

static void on_done(wshard_t *s, void *arg)
{
    wthread_t *t = arg;
    for (held_t *h = t->held; h; h = h->next) {
        if (h->s != s) continue;
        h->finished = true;
        if (!wshard_cancelled(s)) {
            wire_hdr_t m = {.type = WIRE_SHARD_DONE,
                            .shard_id = wshard_id(s),
                            .lease = wshard_lease(s),
                            .n = (uint32_t)wshard_results(s)};
            snprintf(m.job_id, sizeof m.job_id, "%s", wshard_job_id(s));
            peer_send(t->peer, &m, NULL, 0);
            t->live.shards_done++;
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
            if (!h->started) { /* cancelled while waiting */
                t->n_waiting--;
                t->waiting_units -= wshard_units(h->s);
            }
            wshard_destroy(&h->s);
            free(h);
            t->n_held--;
            any = true;
        } else {
            pp = &h->next;
        }
    }
    if (!any) return;
    want_more(t);
    /* A shard's end is a moment /metrics must show without waiting for the next tick (a job can
     * finish between two ticks); the whole snapshot is published at once, so it stays consistent. */
    pthread_mutex_lock(&t->w->mu);
    publish_stats(t);
    pthread_mutex_unlock(&t->w->mu);
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

static void send_return(wthread_t *t, const char *job_id, uint64_t shard_id, uint64_t lease)
{
    wire_hdr_t m = {.type = WIRE_RETURN, .shard_id = shard_id, .lease = lease};
    snprintf(m.job_id, sizeof m.job_id, "%s", job_id ? job_id : "");
    peer_send(t->peer, &m, NULL, 0);
    if (job_id) t->live.shards_returned++;
}

static void on_shard(wthread_t *t, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (t->credit_out > 0) t->credit_out--;
    if (t->drain_begun) {
        /* Sent before the broker saw our RETURN: straight back. */
        send_return(t, h->job_id, h->shard_id, h->lease);
        log_info("%s: shard %s/%llu arrived while draining: handed back", t->name, h->job_id,
                 (unsigned long long)h->shard_id);
        return;
    }
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
    wshard_t *s = wshard_new(job, h->shard_id, h->lease, ws.records, ws.plans, ws.n_records, t->llm, &cbs);
    for (size_t i = 0; ws.plans && i < ws.n_records; i++) wire_plan_clear(&ws.plans[i]); /* read by wshard_new */
    xfree(&ws.plans);
    ws.records = NULL; /* the shard owns them now */
    ws.n_records = 0;
    wire_shard_clear(&ws);
    held_t *hd = xcalloc(1, sizeof(*hd));
    hd->s = s;
    held_t **tail = &t->held;
    while (*tail) tail = &(*tail)->next;
    *tail = hd;
    t->n_held++;
    t->n_waiting++;
    t->waiting_units += wshard_units(s);
    log_debug("shard %s/%llu: %zu record(s) received", h->job_id, (unsigned long long)h->shard_id, ws_records);
    start_waiting(t);
}

static void on_cancel(wthread_t *t, const char *job_id)
{
    for (held_t *h = t->held; h; h = h->next)
        if (!h->finished && strcmp(wshard_job_id(h->s), job_id) == 0) wshard_cancel(h->s);
}

/* REVOKE (protocol.md §6.4): the lease ended at the broker (no RESULT within its deadline), the
 * shard is leased again elsewhere and our credit there is 0. The shard is cancelled like a
 * CANCELled job's (nothing more is sent for it) and we ask for work again as room allows. */
static void on_revoke(wthread_t *t, const wire_hdr_t *m)
{
    bool held = false;
    for (held_t *h = t->held; h; h = h->next)
        if (!h->finished && wshard_lease(h->s) == m->lease && wshard_id(h->s) == m->shard_id &&
            strcmp(wshard_job_id(h->s), m->job_id) == 0) {
            wshard_cancel(h->s);
            held = true;
        }
    t->credit_out = 0; /* the broker owes us nothing now */
    if (held) {
        t->live.shards_revoked++;
        log_warn("%s: lease %llu of shard %s/%llu revoked by the broker (no progress within its deadline): dropped",
                 t->name, (unsigned long long)m->lease, m->job_id, (unsigned long long)m->shard_id);
    }
    want_more(t);
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
    t->credit_out = t->drain_begun ? 0 : room < 2 ? room : 2;
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
        t->live.reconnects++;
        /* The broker puts the leases of an ended session back on the queue: a shard that has not
         * started here would only run twice. */
        size_t dropped = 0;
        for (held_t **pp = &t->held; *pp;) {
            if ((*pp)->started) {
                pp = &(*pp)->next;
                continue;
            }
            drop_waiting(t, pp);
            dropped++;
        }
        if (dropped)
            log_info("%s: session ended: %zu shard(s) not started dropped (the broker requeues them)", t->name,
                     dropped);
    }
}

static void on_allot(wthread_t *t, const void *payload, size_t len);

static void on_message(const wire_hdr_t *h, const void *payload, size_t len, void *arg)
{
    wthread_t *t = arg;
    switch (h->type) {
    case WIRE_SHARD: on_shard(t, h, payload, len); break;
    case WIRE_CANCEL: on_cancel(t, h->job_id); break;
    case WIRE_REVOKE: on_revoke(t, h); break;
    case WIRE_ALLOT:
        if (payload) on_allot(t, payload, len);
        break;
    default: log_rated(&t->lr_drop, LOG_WARN, "unexpected %s from the broker dropped", wire_type_name(h->type));
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
        w[i] = (wire_rate_t){.key = (char *)rows[i].key,
                             .rpm = rows[i].rpm,
                             .tpm = rows[i].tpm,
                             .demand = rows[i].demand,
                             .max_concurrency = rows[i].max_concurrency,
                             .used_requests = rows[i].used_requests,
                             .used_tokens = rows[i].used_tokens};
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
        log_rated(&t->lr_drop, LOG_WARN, "malformed ALLOT dropped: %s", err);
        return;
    }
    ratelimit_row_t *rows = xcalloc(n ? n : 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = (ratelimit_row_t){.key = w[i].key,
                                    .rpm = w[i].rpm,
                                    .tpm = w[i].tpm,
                                    .max_concurrency = w[i].max_concurrency};
    llm_allot(t->llm, rows, n);
    free(rows);
    wire_rates_free(w, n);
}

static void drain_wake(loop_t *loop, uint64_t id, void *arg) { (void)arg; } /* before_wait looks */

/* Draining starts: nothing more is asked for, the shards not started go back at once. */
static void drain_begin(wthread_t *t)
{
    t->drain_begun = true;
    t->credit_out = 0;
    t->drain_deadline = loop_now_ms() + t->w->drain_ms;
    loop_timer_add(t->loop, t->w->drain_ms, drain_wake, t);
    /* Newest first: each goes to the queue's front, so the oldest ends up first in line. */
    held_t **waiting = xcalloc(t->n_waiting ? t->n_waiting : 1, sizeof(*waiting));
    size_t n = 0;
    for (held_t *h = t->held; h; h = h->next)
        if (!h->started) waiting[n++] = h;
    for (size_t i = n; i-- > 0;) {
        if (t->welcomed)
            send_return(t, wshard_job_id(waiting[i]->s), wshard_id(waiting[i]->s), wshard_lease(waiting[i]->s));
        for (held_t **pp = &t->held; *pp; pp = &(*pp)->next) {
            if (*pp == waiting[i]) {
                drop_waiting(t, pp);
                break;
            }
        }
    }
    free(waiting);
    if (!n && t->welcomed) send_return(t, NULL, 0, 0); /* no shard: just "no more work" */
    if (peer_pump(t->peer)) {}                         /* out now; before_wait pumps again */
    log_info("%s: draining: %zu shard(s) not started handed back, %u running; leaving within %.1f s", t->name, n,
             t->n_held, t->w->drain_ms / 1000.0);
}

/* True when the thread may end: its shards are finished and sent, or the time is up. */
static bool drain_over(wthread_t *t)
{
    if (t->n_held == 0 && peer_outbox(t->peer) == 0) {
        log_info("%s: drained: every running shard finished and sent", t->name);
        return true;
    }
    if (loop_now_ms() >= t->drain_deadline) {
        log_warn("%s: drain time up with %u shard(s) running and %zu message(s) unsent: the broker requeues them",
                 t->name, t->n_held, peer_outbox(t->peer));
        return true;
    }
    return false;
}

static int before_wait(loop_t *loop, void *arg)
{
    wthread_t *t = arg;
    if (atomic_load(&t->w->stopping)) {
        loop_stop(loop);
        return 1;
    }
    if (atomic_load(&t->w->draining) && !t->drain_begun) drain_begin(t);
    int more = peer_pump(t->peer);
    reap(t);
    if (t->drain_begun && drain_over(t)) {
        loop_stop(loop);
        return 1;
    }
    start_waiting(t);
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
    lograte_tick(&t->lr_drop, loop_now_ms());
    pthread_mutex_lock(&t->w->mu);
    publish_stats(t);
    pthread_mutex_unlock(&t->w->mu);
    loop_timer_add(loop, t->w->o.heartbeat_ms, tick, t);
}

static void *thread_main(void *arg)
{
    wthread_t *t = arg;
    peer_opts_t po = {.endpoint = t->w->broker,
                      .zmq_ctx = t->w->ctx,
                      .loop = t->loop,
                      .role = "worker",
                      .name = t->name,
                      .heartbeat_ms = t->w->o.heartbeat_ms,
                      .dead_after = t->w->o.dead_after,
                      .on_message = on_message,
                      .on_session = on_session,
                      .hello_credit = hello_credit,
                      .heartbeat_n = heartbeat_n,
                      .arg = t,
                      .curve = t->w->o.curve};
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
    if (opts->curve) {
        w->curve = *opts->curve;
        w->o.curve = &w->curve;
    }
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
        t->lr_drop = (lograte_t)LOGRATE_INIT("messages from the broker dropped", LOG_WARN);
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

void worker_drain(worker_t *w, int timeout_ms)
{
    w->drain_ms = timeout_ms > 0 ? timeout_ms : 1;
    atomic_store(&w->draining, 1);
    for (int i = 0; i < w->o.threads; i++)
        if (w->threads[i].loop) loop_wake(w->threads[i].loop);
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
        out->shards_waiting += s->shards_waiting;
        out->shards_returned += s->shards_returned;
        out->shards_revoked += s->shards_revoked;
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

bool worker_ready(worker_t *w) { return atomic_load(&w->welcomed) > 0 && !atomic_load(&w->draining); }

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
    curve_wipe(&w->curve);
    free(w->broker);
    free(w->name);
    free(w->region);
    free(w);
    *self_p = NULL;
}
