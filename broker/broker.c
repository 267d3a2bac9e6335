/* broker: see broker.h and schemas/protocol.md.
 *
 * DESIGN. Peers are whatever DEALER sockets talk to our ROUTER: each says HELLO with its role, and
 * each HELLO opens a new, numbered session. Every message from a peer refreshes its `last_seen`;
 * a peer silent for `dead_after` heartbeat intervals is dead, and a dead worker's leases go back to
 * the front of the queue at once. Silence, lease deadlines, quarantines and the ageing of
 * rate-limit demand are measured on one clock (broker_opts_t.clock_ms, the monotonic clock unless
 * a test supplies a logical one).
 *
 * The broker is the authority over jobs and leases (protocol.md §6.10), whatever CURVE says about
 * the hosts: a job belongs to the scheduler session that first SUBMITs it (or that proves it with
 * the job's secret: a restarted scheduler), and a SUBMIT or CANCEL from anyone else is refused and
 * counted; RESULT, SHARD_DONE and RETURN count only from the session holding that lease, for that
 * job and shard, and go only to the job's owner. The job table is bjobs.c; the shards, their
 * leases, deadlines, quarantine and stalls are blease.c (broker_int.h is what the files share);
 * the rules are proto/shard.h's.
 *
 * A shard is a `job_t`-free item: its routing fields plus the payload bytes exactly as the
 * scheduler sent them (the broker never decodes shards). It is in exactly one place: the queue
 * (SHARD_QUEUED), or a worker's lease list (SHARD_LEASED). The queue is fair between jobs
 * (bqueue.c: a FIFO per job, served in turn), so a small job is not stuck behind a large job's
 * backlog. SHARD_DONE from the holder ends the lease and the item.
 *
 * Credit: a worker's `credit` is the number of shards it asked for (HELLO n + CREDIT n) minus the
 * shards sent to it, cut to 0 by RETURN, REVOKE and quarantine. Dispatch hands the queue head to
 * the live worker with the most credit and never sends to a worker with none.
 *
 * Rate limits (DEMAND/ALLOT) are handled by allot.c (fleet-wide allotment).
 *
 * Logging: what anyone can make the broker drop or refuse by the thousand is logged through
 * lograte (a few lines per interval, then a count), and always counted in /metrics.
 *
 * CURVE (zap.c): every message's sender must hold a key allowed now; a message from a key revoked
 * since its connection was made is dropped, and the heartbeat tick ends the sessions of revoked
 * keys (their leases back to the queue) as soon as the folder changes. */
#define LOG_MODULE "broker"
#include "broker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "log.h"
#include "mem.h"

/* The liveness clock: last_seen, the silence check, lease deadlines and quarantines read it. */
int64_t broker_now(const broker_t *b) { return b->clock_ms ? b->clock_ms(b->clock_arg) : loop_now_ms(); }

const char *broker_role_name(const peer_t *p) { return p->role == ROLE_WORKER ? "worker" : "scheduler"; }

/* ---- peers ---- */
static peer_t *peer_find(broker_t *b, const void *ident, size_t len)
{
    for (size_t i = 0; i < b->n_peers; i++)
        if (b->peers[i]->ident_len == len && memcmp(b->peers[i]->ident, ident, len) == 0) return b->peers[i];
    return NULL;
}

static peer_t *peer_add(broker_t *b, const void *ident, size_t len)
{
    peer_t *p = xcalloc(1, sizeof(*p));
    memcpy(p->ident, ident, len);
    p->ident_len = len;
    p->alive = true;
    b->peers = xrealloc(b->peers, (b->n_peers + 1) * sizeof(peer_t *));
    b->peers[b->n_peers++] = p;
    return p;
}

void broker_update_stats(broker_t *b)
{
    uint32_t w = 0, s = 0;
    uint64_t leased = 0;
    for (size_t i = 0; i < b->n_peers; i++) {
        if (b->peers[i]->role == ROLE_WORKER) {
            w++;
            leased += b->peers[i]->leases.n;
        } else if (b->peers[i]->role == ROLE_SCHEDULER) s++;
    }
    pthread_mutex_lock(&b->stats_mu);
    b->stats.workers_alive = w;
    b->stats.schedulers_alive = s;
    b->stats.shards_queued = bqueue_len(b->queue);
    b->stats.shards_leased = leased;
    pthread_mutex_unlock(&b->stats_mu);
}

static void peer_remove(broker_t *b, peer_t *p, const char *why)
{
    if (p->role == ROLE_WORKER) {
        if (strstr(why, "BYE")) log_info("worker %s %s", p->name[0] ? p->name : "?", why);
        else log_warn("worker %s %s", p->name[0] ? p->name : "?", why);
        blease_requeue_all(b, p);
        STAT_ADD(b, workers_died, 1);
        allot_worker_gone(b->allot, p);
    } else if (p->role == ROLE_SCHEDULER) {
        if (strstr(why, "BYE")) log_info("scheduler %s %s", p->name[0] ? p->name : "?", why);
        else log_warn("scheduler %s %s", p->name[0] ? p->name : "?", why);
    }
    for (size_t i = 0; i < b->n_peers; i++) {
        if (b->peers[i] == p) {
            b->peers[i] = b->peers[--b->n_peers];
            break;
        }
    }
    free(p);
    broker_update_stats(b);
}

/* ---- sending ---- */
int broker_send(broker_t *b, peer_t *p, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (frame_send(b->sock, p->ident, p->ident_len, h, payload, len) < 0) {
        if (errno == EHOSTUNREACH) log_debug("peer %s is gone (send %s)", p->name, wire_type_name(h->type));
        else log_warn("send %s to %s failed: %s", wire_type_name(h->type), p->name, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* To a job's owner (its routing id, live or not). */
static int send_to_owner(broker_t *b, const bjob_t *j, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (frame_send(b->sock, j->owner, j->owner_len, h, payload, len) < 0) {
        STAT_ADD(b, messages_dropped, 1);
        log_rated(&b->lr_drop, LOG_WARN, "cannot forward %s for job %s to its scheduler: %s", wire_type_name(h->type),
                  h->job_id, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether the session that owns j is live. */
static bool owner_is_live(broker_t *b, const bjob_t *j)
{
    if (!j->owner_len) return false;
    const peer_t *o = peer_find(b, j->owner, j->owner_len);
    return o && o->role == ROLE_SCHEDULER && o->session == j->owner_session;
}

/* ---- message handling ---- */
static void wrong_role(broker_t *b, const peer_t *p, const wire_hdr_t *h)
{
    log_rated(&b->lr_drop, LOG_WARN, "%s from %s %s dropped: not a message that role sends", wire_type_name(h->type),
              broker_role_name(p), p->name);
    STAT_ADD(b, messages_dropped, 1);
}

static void on_hello(broker_t *b, peer_t *p, const void *ident, size_t ilen, const wire_hdr_t *h, const char *key)
{
    if (!p) p = peer_add(b, ident, ilen);
    else if (p->role == ROLE_WORKER) {
        /* A new session for a known identity ends the old one like a dead one. */
        blease_requeue_all(b, p);
        allot_worker_gone(b->allot, p);
    }
    p->last_seen = broker_now(b);
    p->role = strcmp(h->role, "scheduler") == 0 ? ROLE_SCHEDULER
              : strcmp(h->role, "worker") == 0  ? ROLE_WORKER
                                                : ROLE_UNKNOWN;
    if (p->role == ROLE_UNKNOWN) {
        log_rated(&b->lr_drop, LOG_WARN, "HELLO with unknown role dropped");
        peer_remove(b, p, "said HELLO with an unknown role");
        return;
    }
    p->session = ++b->next_session;
    p->strikes = 0;
    p->results = 0;
    p->quarantined_until = 0;
    snprintf(p->name, sizeof p->name, "%s", h->name[0] ? h->name : "?");
    if (key) {
        snprintf(p->key, sizeof p->key, "%s", key);
        snprintf(p->key_name, sizeof p->key_name, "%s", zap_key_name(b->zap, key));
    }
    p->credit = p->role == ROLE_WORKER ? (h->n > SHARD_CREDIT_MAX ? SHARD_CREDIT_MAX : h->n) : 0;
    p->threads = h->threads;
    if (p->role == ROLE_WORKER) blease_worker_joined(b, p);
    if (key) log_info("%s %s joined (credit %u, key %s)", broker_role_name(p), p->name, p->credit, p->key_name);
    else log_info("%s %s joined (credit %u)", broker_role_name(p), p->name, p->credit);
    uint32_t workers = 0;
    for (size_t i = 0; i < b->n_peers; i++) workers += b->peers[i]->role == ROLE_WORKER;
    wire_hdr_t w = {.type = WIRE_WELCOME, .heartbeat_ms = (uint32_t)b->heartbeat_ms, .n = workers};
    snprintf(w.name, sizeof w.name, "%s", b->instance);
    /* A WELCOME that cannot be sent is logged by broker_send; the peer, unwelcomed, says HELLO
     * again after its timeout, so there is nothing more to do here. */
    broker_send(b, p, &w, NULL, 0);
    if (p->role == ROLE_WORKER) allot_worker_joined(b->allot, p);
}

/* SUBMIT and CANCEL: may this session act for the job (shard_job_claim)? The job, with its owner
 * updated, or NULL when refused (counted). A CANCEL never creates a job. */
static bjob_t *claim(broker_t *b, peer_t *p, const wire_hdr_t *h)
{
    bool cancel = h->type == WIRE_CANCEL;
    bjob_t *j = bjobs_find(b->jobs, h->job_id);
    if (!j && cancel) {
        log_rated(&b->lr_refuse, LOG_WARN, "CANCEL of job %s from scheduler %s dropped: the broker holds nothing of it",
                  h->job_id, p->name);
        STAT_ADD(b, cancels_refused, 1);
        return NULL;
    }
    bool known = j && j->owner_len;
    bool same = known && j->owner_session == p->session;
    shard_claim_t c = shard_job_claim(known, same, known && owner_is_live(b, j), known ? j->secret : "", h->secret);
    if (c == SHARD_CLAIM_REFUSE) {
        log_rated(&b->lr_refuse, LOG_WARN,
                  "%s of job %s from scheduler %s refused: the job belongs to another "
                  "scheduler session%s",
                  wire_type_name(h->type), h->job_id, p->name,
                  h->secret[0] ? " and the secret given is not the job's" : " and no secret was given");
        if (cancel) STAT_ADD(b, cancels_refused, 1);
        else STAT_ADD(b, submits_refused, 1);
        return NULL;
    }
    if (!j) j = bjobs_get(b->jobs, h->job_id, broker_now(b));
    if (c == SHARD_CLAIM_TAKE) {
        if (known) log_info("job %s: scheduler %s takes it over with its secret", h->job_id, p->name);
        bjob_set_owner(j, p->ident, p->ident_len, p->session, h->secret);
    }
    if (h->lease_max_s) {
        uint64_t ms = (uint64_t)h->lease_max_s * 1000;
        j->pace.ceiling_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    }
    j->active_ms = broker_now(b);
    return j;
}

static void on_submit(broker_t *b, peer_t *p, const wire_hdr_t *h, const void *payload, size_t plen)
{
    if (p->role != ROLE_SCHEDULER || !payload) {
        log_rated(&b->lr_drop, LOG_WARN, "SUBMIT from %s dropped: %s", p->name,
                  !payload ? "no payload" : "not a scheduler");
        STAT_ADD(b, messages_dropped, 1);
        return;
    }
    bjob_t *j = claim(b, p, h);
    if (!j) return;
    if (blease_known(b, h->job_id, h->shard_id)) return; /* a resubmission of work we hold */
    bqueue_push_back(b->queue, &bitem_new(j, h->shard_id, payload, plen)->node);
}

static void on_cancel(broker_t *b, peer_t *p, const wire_hdr_t *h)
{
    if (p->role != ROLE_SCHEDULER) {
        wrong_role(b, p, h);
        return;
    }
    if (!claim(b, p, h)) return;
    size_t dropped = blease_drop_job(b, h->job_id);
    log_info("job %s cancelled: %zu shard(s) dropped", h->job_id, dropped);
    wire_hdr_t c = {.type = WIRE_CANCEL};
    snprintf(c.job_id, sizeof c.job_id, "%s", h->job_id);
    /* A worker that misses the CANCEL (broker_send logs it) finishes its shard for nothing: the
     * job's leases are dropped already, so what it sends late is dropped here. */
    for (size_t i = 0; i < b->n_peers; i++)
        if (b->peers[i]->role == ROLE_WORKER) broker_send(b, b->peers[i], &c, NULL, 0);
}

/* RESULT and SHARD_DONE: forwarded to the job's owner only from the session holding the lease. */
static void on_result(broker_t *b, peer_t *p, const wire_hdr_t *h, const void *payload, size_t plen)
{
    if (p->role != ROLE_WORKER) {
        wrong_role(b, p, h);
        return;
    }
    item_t *it = blease_find(p, h->job_id, h->shard_id, h->lease);
    if (!it) {
        log_rated(
            &b->lr_drop, LOG_WARN, "%s of %s/%llu under lease %llu from worker %s dropped: it holds no such lease",
            wire_type_name(h->type), h->job_id, (unsigned long long)h->shard_id, (unsigned long long)h->lease, p->name);
        STAT_ADD(b, results_refused, 1);
        return;
    }
    bjob_t *j = it->job;
    if (h->type == WIRE_RESULT) {
        if (!payload) {
            log_rated(&b->lr_drop, LOG_WARN, "RESULT from %s dropped: no payload", p->name);
            STAT_ADD(b, messages_dropped, 1);
            return;
        }
        blease_progress(b, it);
        p->results++;
        if (send_to_owner(b, j, h, payload, plen) == 0) STAT_ADD(b, results_forwarded, 1);
        return;
    }
    /* SHARD_DONE: the lease ends well; the worker's strikes are forgiven. A failed forward is
     * counted and logged by send_to_owner; the scheduler's check resubmits what it missed. */
    blist_remove(&p->leases, it);
    p->strikes = 0;
    STAT_ADD(b, shards_done, 1);
    (void)send_to_owner(b, j, h, NULL, 0);
    bitem_free(it); /* the job stays in the table (bjobs_sweep forgets it) */
}

static void on_return(broker_t *b, peer_t *p, const wire_hdr_t *h)
{
    if (p->role != ROLE_WORKER) {
        wrong_role(b, p, h);
        return;
    }
    p->credit = 0; /* a worker that gives work back wants no more until it sends CREDIT */
    if (!h->job_id[0]) return;
    item_t *it = blease_take(p, h->job_id, h->shard_id, h->lease);
    if (!it) {
        log_rated(&b->lr_drop, LOG_INFO, "RETURN of %s/%llu lease %llu that %s does not hold: ignored", h->job_id,
                  (unsigned long long)h->shard_id, (unsigned long long)h->lease, p->name);
        STAT_ADD(b, results_refused, 1);
        return;
    }
    it->lease = 0;
    it->state = SHARD_QUEUED;
    bqueue_push_front(b->queue, &it->node); /* the front of its job's queue, its job next */
    STAT_ADD(b, shards_returned, 1);
    log_info("worker %s returned shard %s/%llu unstarted: back at the front of the queue", p->name, it->job->job_id,
             (unsigned long long)it->shard_id);
}

static void on_message(broker_t *b, const frame_in_t *in)
{
    const void *ident = in->ident;
    size_t ilen = in->ident_len;
    wire_hdr_t h = in->h;
    const void *payload = in->payload;
    size_t plen = in->payload_len;

    peer_t *p = peer_find(b, ident, ilen);
    const char *key = b->zap ? frame_in_user(in) : NULL;
    if (b->zap && !zap_allowed(b->zap, key)) {
        /* Its connection was let in under a key that has been revoked since. */
        zap_count_refused_message(b->zap);
        if (p) {
            log_warn("%s %s: its key %s was revoked: session ended", broker_role_name(p), p->name, p->key_name);
            peer_remove(b, p, "lost its key");
        } else {
            log_rated(&b->lr_drop, LOG_DEBUG, "%s from a revoked key dropped", wire_type_name(h.type));
        }
        return;
    }
    if (p && key && p->key[0] && strcmp(key, p->key) != 0 && h.type != WIRE_HELLO) {
        /* Its routing id, another key: a connection that took over the id (ROUTER_HANDOVER) does
         * not inherit the session, its leases or its jobs. */
        log_rated(&b->lr_drop, LOG_WARN, "%s under %s %s's routing id but another key dropped", wire_type_name(h.type),
                  broker_role_name(p), p->name);
        if (h.type == WIRE_RESULT || h.type == WIRE_SHARD_DONE) STAT_ADD(b, results_refused, 1);
        else STAT_ADD(b, messages_dropped, 1);
        return;
    }
    if (!p && h.type != WIRE_HELLO) {
        /* Unknown peer (we restarted, or declared it dead): BYE tells it to start a new session
         * with HELLO. Nothing it sends counts: its leases ended with its session. */
        if (h.type != WIRE_BYE) {
            wire_hdr_t bye = {.type = WIRE_BYE};
            if (frame_send(b->sock, ident, ilen, &bye, NULL, 0) < 0) /* it is told again at its next message */
                log_debug("BYE to a peer without a session not sent: %s", zmq_strerror(errno));
        }
        log_rated(&b->lr_drop, LOG_INFO, "%s from a peer without a session dropped", wire_type_name(h.type));
        if (h.type == WIRE_RESULT || h.type == WIRE_SHARD_DONE) STAT_ADD(b, results_refused, 1);
        else STAT_ADD(b, messages_dropped, 1);
        return;
    }
    if (p) {
        p->last_seen = broker_now(b);
        p->alive = true;
    }

    switch (h.type) {
    case WIRE_HELLO: on_hello(b, p, ident, ilen, &h, key); break;
    case WIRE_HEARTBEAT: break;
    case WIRE_CREDIT:
        if (p->role != ROLE_WORKER) {
            wrong_role(b, p, &h);
        } else {
            /* Kept while it is quarantined too (dispatch skips it until the quarantine ends): it
             * asked once after its leases were revoked and will not ask again.
             * Bound: a worker cannot claim an absurd amount of work. */
            uint64_t c = (uint64_t)p->credit + h.n;
            p->credit = c > SHARD_CREDIT_MAX ? SHARD_CREDIT_MAX : (uint32_t)c;
        }
        break;
    case WIRE_SUBMIT: on_submit(b, p, &h, payload, plen); break;
    case WIRE_RESULT:
    case WIRE_SHARD_DONE: on_result(b, p, &h, payload, plen); break;
    case WIRE_CANCEL: on_cancel(b, p, &h); break;
    case WIRE_DEMAND:
        if (p->role != ROLE_WORKER || !payload) wrong_role(b, p, &h);
        else if (allot_demand(b->allot, p, payload, plen) < 0) STAT_ADD(b, messages_dropped, 1);
        break;
    case WIRE_BYE: peer_remove(b, p, "said BYE"); break;
    case WIRE_RETURN: on_return(b, p, &h); break;
    default:
        log_rated(&b->lr_drop, LOG_WARN, "unexpected %s from %s dropped", wire_type_name(h.type), p ? p->name : "?");
        STAT_ADD(b, messages_dropped, 1);
    }
}

/* ZMQ_FD is edge-triggered: read until EAGAIN, but bound the pass. Returns non-zero when
 * messages are still waiting. */
static int drain(broker_t *b)
{
    for (int i = 0; i < 4096; i++) {
        frame_in_t in;
        char err[300];
        int rc = frame_read(b->sock, true, &in, err, sizeof err);
        if (rc == 0 || rc == -1) break;
        if (rc == -2) {
            log_rated(&b->lr_drop, LOG_WARN, "dropped %s", err);
            STAT_ADD(b, messages_dropped, 1);
            continue;
        }
        on_message(b, &in);
        frame_in_close(&in);
    }
    blease_dispatch(b);
    return frame_readable(b->sock);
}

/* What drain leaves waiting is taken by the before-wait hook, which runs before the next wait. */
static void on_fd(loop_t *loop, int fd, int events, void *arg) { (void)drain(arg); }

static void on_zap_fd(loop_t *loop, int fd, int events, void *arg) { (void)zap_pump(((broker_t *)arg)->zap); }

static int before_wait(loop_t *loop, void *arg)
{
    broker_t *b = arg;
    int more = b->zap ? zap_pump(b->zap) : 0;
    return drain(b) | more;
}

/* After the allowed keys changed: ends every session whose key is no longer allowed. BYE tells
 * the peer; its HELLO again will be dropped while its key stays out. */
static void revoke_sessions(broker_t *b)
{
    for (size_t i = 0; i < b->n_peers;) {
        peer_t *p = b->peers[i];
        if (!p->key[0] || zap_allowed(b->zap, p->key)) {
            i++;
            continue;
        }
        log_warn("%s %s: its key %s was revoked: session ended", broker_role_name(p), p->name, p->key_name);
        wire_hdr_t bye = {.type = WIRE_BYE};
        if (broker_send(b, p, &bye, NULL, 0) < 0) {} /* it may be gone already: its session ends either way */
        peer_remove(b, p, "lost its key");           /* moves another peer into slot i */
    }
}

static void heartbeat_tick(loop_t *loop, uint64_t id, void *arg)
{
    broker_t *b = arg;
    int64_t now = broker_now(b);
    int64_t dead_ms = (int64_t)b->heartbeat_ms * b->dead_after;
    if (b->zap && zap_refresh(b->zap)) revoke_sessions(b);
    uint32_t workers = 0;
    for (size_t i = 0; i < b->n_peers; i++)
        if (b->peers[i]->role == ROLE_WORKER) workers++;
    for (size_t i = 0; i < b->n_peers;) {
        peer_t *p = b->peers[i];
        if (now - p->last_seen > dead_ms) {
            peer_remove(b, p, "is silent: declared dead");
            continue; /* peer_remove moved another peer into slot i */
        }
        wire_hdr_t hb = {.type = WIRE_HEARTBEAT, .n = workers};
        snprintf(hb.name, sizeof hb.name, "%s", b->instance);
        broker_send(b, p, &hb, NULL, 0); /* a missed heartbeat is logged; the next one follows */
        i++;
    }
    /* Demand ages in heartbeat intervals of the same clock as liveness, one interval per tick at
     * most (after a stall of this thread the DEMANDs that waited were just read: fresh). */
    if (now - b->allot_at >= b->heartbeat_ms) {
        allot_tick(b->allot);
        b->allot_at = now;
    }
    blease_tick(b);
    blease_dispatch(b);
    lograte_tick(&b->lr_drop, loop_now_ms());
    lograte_tick(&b->lr_refuse, loop_now_ms());
    loop_timer_add(loop, b->heartbeat_ms, heartbeat_tick, b);
}

/* allot.c sends ALLOT tables through this. */
static int allot_send(void *arg, void *peer, const void *payload, size_t len)
{
    broker_t *b = arg;
    wire_hdr_t h = {.type = WIRE_ALLOT};
    return broker_send(b, peer, &h, payload, len);
}

void broker_opts_default(broker_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->heartbeat_ms = 1000;
    o->dead_after = 5;
    o->lease_floor_ms = SHARD_LEASE_FLOOR_MS;
    o->stall_after_ms = BROKER_STALL_AFTER_MS;
}

broker_t *broker_new(const broker_opts_t *opts, char *err, size_t errlen)
{
    broker_t *b = xcalloc(1, sizeof(*b));
    b->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 1000;
    b->dead_after = opts->dead_after > 0 ? opts->dead_after : 5;
    b->lease_floor_ms = opts->lease_floor_ms > 0 ? opts->lease_floor_ms : SHARD_LEASE_FLOOR_MS;
    b->stall_ms = opts->stall_after_ms > 0 ? opts->stall_after_ms : BROKER_STALL_AFTER_MS;
    b->lr_drop = (lograte_t)LOGRATE_INIT("messages dropped", LOG_WARN);
    b->lr_refuse = (lograte_t)LOGRATE_INIT("SUBMITs and CANCELs refused", LOG_WARN);
    b->jobs = bjobs_new();
    b->clock_ms = opts->clock_ms;
    b->clock_arg = opts->clock_arg;
    b->ctx = opts->zmq_ctx;
    if (!b->ctx) {
        b->ctx = zmq_ctx_new();
        b->own_ctx = true;
    }
    pthread_mutex_init(&b->stats_mu, NULL);
    b->queue = bqueue_new();
    snprintf(b->instance, sizeof b->instance, "broker-%d-%llx", (int)getpid(), (unsigned long long)loop_now_us());
    if (!opts->curve != !opts->curve_clients) {
        snprintf(err, errlen, "%s",
                 opts->curve ? "--curve-secret needs --curve-clients DIR (the public keys allowed to connect)"
                             : "--curve-clients needs --curve-secret FILE (the broker's secret key)");
        broker_destroy(&b);
        return NULL;
    }
    /* The ZAP handler is up before the socket binds, so no handshake can go unchecked. */
    if (opts->curve && !(b->zap = zap_new(b->ctx, opts->curve_clients, err, errlen))) {
        broker_destroy(&b);
        return NULL;
    }
    b->sock = zmq_socket(b->ctx, ZMQ_ROUTER);
    if (b->sock && b->zap) {
        if (frame_setup_curve(b->sock, opts->curve) < 0) {
            snprintf(err, errlen, "cannot set CURVE up on the broker socket: %s", zmq_strerror(errno));
            broker_destroy(&b);
            return NULL;
        }
        if (zap_watch(b->zap, b->sock, err, errlen) < 0) {
            broker_destroy(&b);
            return NULL;
        }
    }
    if (!b->sock || frame_setup(b->sock, ZMQ_ROUTER) < 0 || zmq_bind(b->sock, opts->endpoint) < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", opts->endpoint, zmq_strerror(errno));
        broker_destroy(&b);
        return NULL;
    }
    size_t elen = sizeof b->endpoint;
    if (zmq_getsockopt(b->sock, ZMQ_LAST_ENDPOINT, b->endpoint, &elen) < 0)
        snprintf(b->endpoint, sizeof b->endpoint, "%s", opts->endpoint);
    b->loop = loop_new();
    if (!b->loop) {
        snprintf(err, errlen, "cannot create the event loop");
        broker_destroy(&b);
        return NULL;
    }
    b->allot = allot_new(allot_send, b);
    return b;
}

/* Stopping: every peer hears BYE, so it starts over (and finds the next broker) at once. LINGER
 * gives the BYEs a bounded time to leave when the socket closes. */
static void say_bye_all(broker_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_peers; i++) {
        wire_hdr_t bye = {.type = WIRE_BYE};
        if (broker_send(b, b->peers[i], &bye, NULL, 0) == 0) n++;
    }
    int linger = 1000;
    if (zmq_setsockopt(b->sock, ZMQ_LINGER, &linger, sizeof linger) < 0) {} /* closing only: BYE is a courtesy */
    /* A TCP connection closed with unread data in it is reset, and a reset can destroy the BYE
     * before the peer reads it. So read (and drop) what the peers still send until each has taken
     * its BYE, which shows as its HELLO on a new connection, or for 2 s at most. */
    size_t hellos = 0;
    int64_t end = loop_now_ms() + 2000;
    for (int64_t now = loop_now_ms(); hellos < n && now < end; now = loop_now_ms()) {
        zmq_pollitem_t it = {.socket = b->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, (long)(end - now)) <= 0) continue;
        frame_in_t in;
        char err[300];
        for (int i = 0; i < 4096; i++) {
            int rc = frame_read(b->sock, true, &in, err, sizeof err);
            if (rc == 0 || rc == -1) break;
            if (rc != 1) continue;
            if (in.h.type == WIRE_HELLO && !peer_find(b, in.ident, in.ident_len)) hellos++;
            frame_in_close(&in);
        }
    }
    log_info("broker %s stopped: BYE to %zu peer(s), %zu shard(s) were queued", b->instance, n, bqueue_len(b->queue));
}

int broker_run(broker_t *b)
{
    int fd = frame_fd(b->sock);
    if (fd < 0 || loop_fd_set(b->loop, fd, LOOP_READ, on_fd, b) < 0) {
        log_error("cannot watch the broker socket");
        return -1;
    }
    int zfds[2], nz = b->zap ? zap_fds(b->zap, zfds) : 0;
    for (int i = 0; i < nz; i++) {
        if (loop_fd_set(b->loop, zfds[i], LOOP_READ, on_zap_fd, b) < 0) {
            log_error("cannot watch the ZAP handler");
            return -1;
        }
    }
    loop_set_before_wait(b->loop, before_wait, b);
    b->allot_at = broker_now(b);
    loop_timer_add(b->loop, b->heartbeat_ms, heartbeat_tick, b);
    log_info("broker %s ready%s", b->instance, b->zap ? " (CURVE)" : "");
    atomic_store(&b->running, true);
    loop_run(b->loop);
    atomic_store(&b->running, false);
    say_bye_all(b);
    return 0;
}

void broker_stop(broker_t *b) { loop_stop_async(b->loop); }

void broker_get_stats(broker_t *b, broker_stats_t *out)
{
    pthread_mutex_lock(&b->stats_mu);
    *out = b->stats;
    pthread_mutex_unlock(&b->stats_mu);
    if (b->zap) {
        zap_stats_t z;
        zap_get_stats(b->zap, &z);
        out->curve = true;
        out->curve_keys = z.keys;
        out->refused_key = z.refused_key;
        out->refused_plaintext = z.refused_plaintext;
        out->refused_other = z.refused_other;
        out->messages_refused = z.messages_refused;
    }
}

bool broker_endpoint_is_local(const char *endpoint)
{
    if (strncmp(endpoint, "inproc://", 9) == 0 || strncmp(endpoint, "ipc://", 6) == 0) return true;
    if (strncmp(endpoint, "tcp://", 6) != 0) return false;
    const char *host = endpoint + 6, *end;
    char h[256];
    if (*host == '[') {
        end = strchr(host, ']');
        if (!end) return false;
        host++;
    } else {
        end = strrchr(host, ':');
        if (!end) end = host + strlen(host);
    }
    if ((size_t)(end - host) >= sizeof h) return false;
    memcpy(h, host, (size_t)(end - host));
    h[end - host] = '\0';
    if (!strcmp(h, "localhost") || !strcmp(h, "lo") || !strcmp(h, "::1")) return true;
    /* 127.0.0.0/8, written as a dotted quad */
    unsigned a, bb, c, d;
    char tail;
    return sscanf(h, "%u.%u.%u.%u%c", &a, &bb, &c, &d, &tail) == 4 && a == 127 && bb < 256 && c < 256 && d < 256;
}

bool broker_ready(broker_t *b) { return atomic_load(&b->running); }

const char *broker_endpoint(const broker_t *b) { return b->endpoint; }

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p) return;
    broker_t *b = *self_p;
    for (size_t i = 0; i < b->n_peers; i++) {
        while (b->peers[i]->leases.head) {
            item_t *it = b->peers[i]->leases.head;
            blist_remove(&b->peers[i]->leases, it);
            bitem_free(it);
        }
        free(b->peers[i]);
    }
    free(b->peers);
    for (bq_node_t *n; b->queue && (n = bqueue_pop(b->queue));) bitem_free((item_t *)n);
    bqueue_destroy(&b->queue);
    bjobs_destroy(&b->jobs);
    free(b->qkeys);
    allot_destroy(&b->allot);
    if (b->sock) zmq_close(b->sock);
    zap_destroy(&b->zap);
    if (b->own_ctx) zmq_ctx_term(b->ctx);
    loop_destroy(&b->loop);
    pthread_mutex_destroy(&b->stats_mu);
    free(b);
    *self_p = NULL;
}
