/* broker: see broker.h and schemas/protocol.md.
 *
 * DESIGN. Peers are whatever DEALER sockets talk to our ROUTER: each says HELLO with its role.
 * Every message from a peer refreshes its `last_seen`; a peer silent for `dead_after` heartbeat
 * intervals is dead, and a dead worker's leases go back to the front of the queue at once.
 * Silence and the ageing of rate-limit demand are measured on one clock (broker_opts_t.clock_ms,
 * the monotonic clock unless a test supplies a logical one).
 *
 * A shard is a `job_t`-free item: its routing fields plus the payload bytes exactly as the
 * scheduler sent them (the broker never decodes shards). It is in exactly one place: the queue
 * (SHARD_QUEUED), or a worker's lease list (SHARD_LEASED); its states and the lease rules are
 * proto/shard.h's. SHARD_DONE ends the lease and the item; results
 * and SHARD_DONE are forwarded to the scheduler that owns the job, whatever the lease state (a
 * late result from a worker we declared dead is still a good result: the scheduler commits
 * idempotently).
 *
 * Credit: a worker's `credit` is the number of shards it asked for (HELLO n + CREDIT n) minus the
 * shards sent to it. Dispatch hands the queue head to the live worker with the most credit and
 * never sends to a worker with none.
 *
 * Rate limits (DEMAND/ALLOT) are handled by ratelimit_allot.c (fleet-wide allotment).
 *
 * RETURN: a draining worker hands back the shards it has not started; they go to the front of
 * the queue at once, and the worker's credit drops to 0 so nothing more is sent to it.
 *
 * CURVE (zap.c): every message's sender must hold a key allowed now; a message from a key revoked
 * since its connection was made is dropped, and the heartbeat tick ends the sessions of revoked
 * keys (their leases back to the queue) as soon as the folder changes. */
#define LOG_MODULE "broker"
#include "broker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allot.h"
#include "curve.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "wire.h"
#include "frame.h"
#include "shard.h"
#include "zap.h"

#define MAX_IDENT FRAME_MAX_IDENT

typedef enum { ROLE_UNKNOWN = 0, ROLE_WORKER, ROLE_SCHEDULER } role_t;

typedef struct item {
    char job_id[WIRE_MAX_ID];
    uint64_t shard_id;
    shard_state_t state;        /* SHARD_QUEUED or SHARD_LEASED */
    uint64_t lease;             /* 0 while queued */
    unsigned char sched[MAX_IDENT + 1];
    size_t sched_len;
    void *payload;
    size_t payload_len;
    uint32_t attempts;
    struct item *prev, *next;   /* in the queue or in a worker's lease list */
} item_t;

typedef struct {
    item_t *head, *tail;
    size_t n;
} list_t;

typedef struct peer {
    unsigned char ident[MAX_IDENT + 1];
    size_t ident_len;
    role_t role;
    char name[WIRE_MAX_ID];
    int64_t last_seen;
    uint32_t credit;
    uint32_t threads;
    list_t leases;
    bool alive;
    char key[CURVE_Z85_LEN + 1];   /* CURVE: the public key its HELLO came with */
    char key_name[64];             /* that key's file name, for logs */
} peer_t;

typedef struct {
    char job_id[WIRE_MAX_ID];
    unsigned char sched[MAX_IDENT + 1];
    size_t sched_len;
} jobroute_t;

struct broker {
    void *ctx;
    bool own_ctx;
    void *sock;
    loop_t *loop;
    char instance[40];
    char endpoint[256];
    int heartbeat_ms, dead_after;
    int64_t (*clock_ms)(void *arg);   /* liveness clock (broker_opts_t); NULL = loop_now_ms */
    void *clock_arg;
    int64_t allot_at;                 /* liveness clock at the last allot_tick */
    peer_t **peers;
    size_t n_peers;
    list_t queue;
    jobroute_t *routes;
    size_t n_routes;
    uint64_t next_lease;
    allot_t *allot;
    zap_t *zap;                 /* CURVE on: who may talk to us */
    pthread_mutex_t stats_mu;
    broker_stats_t stats;
    atomic_bool running;        /* broker_run is serving the socket */
};

/* The liveness clock: last_seen and the silence check read it, nothing else. */
static int64_t now_ms(const broker_t *b) { return b->clock_ms ? b->clock_ms(b->clock_arg) : loop_now_ms(); }

/* ---- lists ---- */
static void list_push_back(list_t *l, item_t *it)
{
    it->next = NULL;
    it->prev = l->tail;
    if (l->tail) l->tail->next = it;
    else l->head = it;
    l->tail = it;
    l->n++;
}

static void list_push_front(list_t *l, item_t *it)
{
    it->prev = NULL;
    it->next = l->head;
    if (l->head) l->head->prev = it;
    else l->tail = it;
    l->head = it;
    l->n++;
}

static void list_remove(list_t *l, item_t *it)
{
    if (it->prev) it->prev->next = it->next;
    else l->head = it->next;
    if (it->next) it->next->prev = it->prev;
    else l->tail = it->prev;
    it->prev = it->next = NULL;
    l->n--;
}

static void item_free(item_t *it)
{
    free(it->payload);
    free(it);
}

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

static void update_stats(broker_t *b)
{
    uint32_t w = 0, s = 0;
    uint64_t leased = 0;
    for (size_t i = 0; i < b->n_peers; i++) {
        if (b->peers[i]->role == ROLE_WORKER) { w++; leased += b->peers[i]->leases.n; }
        else if (b->peers[i]->role == ROLE_SCHEDULER) s++;
    }
    pthread_mutex_lock(&b->stats_mu);
    b->stats.workers_alive = w;
    b->stats.schedulers_alive = s;
    b->stats.shards_queued = b->queue.n;
    b->stats.shards_leased = leased;
    pthread_mutex_unlock(&b->stats_mu);
}

#define STAT_ADD(b, field, v) do { pthread_mutex_lock(&(b)->stats_mu); (b)->stats.field += (v); pthread_mutex_unlock(&(b)->stats_mu); } while (0)

/* Puts every lease of a worker back at the front of the queue, keeping their order. */
static void requeue_leases(broker_t *b, peer_t *p)
{
    size_t n = p->leases.n;
    while (p->leases.tail) {
        item_t *it = p->leases.tail;
        list_remove(&p->leases, it);
        it->state = SHARD_QUEUED;
        it->lease = 0;
        list_push_front(&b->queue, it);
    }
    if (n) {
        log_warn("worker %s: %zu leased shard(s) back to the queue", p->name, n);
        STAT_ADD(b, shards_requeued, n);
    }
}

static void peer_remove(broker_t *b, peer_t *p, const char *why)
{
    if (p->role == ROLE_WORKER) {
        if (strstr(why, "BYE")) log_info("worker %s %s", p->name[0] ? p->name : "?", why);
        else log_warn("worker %s %s", p->name[0] ? p->name : "?", why);
        requeue_leases(b, p);
        STAT_ADD(b, workers_died, 1);
        allot_worker_gone(b->allot, p);
    } else if (p->role == ROLE_SCHEDULER) {
        log_warn("scheduler %s %s", p->name[0] ? p->name : "?", why);
    }
    for (size_t i = 0; i < b->n_peers; i++) {
        if (b->peers[i] == p) {
            b->peers[i] = b->peers[--b->n_peers];
            break;
        }
    }
    free(p);
    update_stats(b);
}

/* ---- sending ---- */
static int send_to(broker_t *b, peer_t *p, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (frame_send(b->sock, p->ident, p->ident_len, h, payload, len) < 0) {
        if (errno == EHOSTUNREACH) log_debug("peer %s is gone (send %s)", p->name, wire_type_name(h->type));
        else log_warn("send %s to %s failed: %s", wire_type_name(h->type), p->name, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int send_to_ident(broker_t *b, const void *ident, size_t ilen, const wire_hdr_t *h, const void *payload,
                         size_t len)
{
    if (frame_send(b->sock, ident, ilen, h, payload, len) < 0) {
        STAT_ADD(b, messages_dropped, 1);
        log_warn("cannot forward %s for job %s: %s", wire_type_name(h->type), h->job_id, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- routing table job -> scheduler ---- */
static jobroute_t *route_find(broker_t *b, const char *job_id)
{
    for (size_t i = 0; i < b->n_routes; i++)
        if (strcmp(b->routes[i].job_id, job_id) == 0) return &b->routes[i];
    return NULL;
}

static void route_set(broker_t *b, const char *job_id, const void *ident, size_t len)
{
    jobroute_t *r = route_find(b, job_id);
    if (!r) {
        b->routes = xrealloc(b->routes, (b->n_routes + 1) * sizeof(jobroute_t));
        r = &b->routes[b->n_routes++];
        snprintf(r->job_id, sizeof r->job_id, "%s", job_id);
    }
    memcpy(r->sched, ident, len);
    r->sched_len = len;
}

/* ---- dispatch ---- */
static peer_t *best_worker(broker_t *b)
{
    peer_t *best = NULL;
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = b->peers[i];
        if (p->role != ROLE_WORKER || !p->alive || p->credit == 0) continue;
        /* Most credit first; ties go to the worker holding fewer leases. */
        if (!best || p->credit > best->credit || (p->credit == best->credit && p->leases.n < best->leases.n))
            best = p;
    }
    return best;
}

static void dispatch(broker_t *b)
{
    size_t budget = 1024;   /* bounded work per pass */
    while (b->queue.head && budget--) {
        peer_t *w = best_worker(b);
        if (!w) break;
        item_t *it = b->queue.head;
        list_remove(&b->queue, it);
        it->state = SHARD_LEASED;
        it->lease = ++b->next_lease;
        it->attempts++;
        wire_hdr_t h = {.type = WIRE_SHARD, .shard_id = it->shard_id, .lease = it->lease, .n = it->attempts};
        snprintf(h.job_id, sizeof h.job_id, "%s", it->job_id);
        if (send_to(b, w, &h, it->payload, it->payload_len) < 0) {
            it->state = SHARD_QUEUED;
            it->lease = 0;
            it->attempts--;
            list_push_front(&b->queue, it);
            w->alive = false;   /* unreachable: the next heartbeat check removes it */
            continue;
        }
        w->credit--;
        list_push_back(&w->leases, it);
        STAT_ADD(b, shards_dispatched, 1);
        log_debug("shard %s/%llu -> %s (lease %llu, attempt %u)", it->job_id, (unsigned long long)it->shard_id,
                  w->name, (unsigned long long)it->lease, it->attempts);
    }
    update_stats(b);
}

static bool already_known(broker_t *b, const char *job_id, uint64_t shard_id)
{
    for (item_t *it = b->queue.head; it; it = it->next)
        if (it->shard_id == shard_id && strcmp(it->job_id, job_id) == 0) return true;
    for (size_t i = 0; i < b->n_peers; i++)
        for (item_t *it = b->peers[i]->leases.head; it; it = it->next)
            if (it->shard_id == shard_id && strcmp(it->job_id, job_id) == 0) return true;
    return false;
}

static item_t *lease_take(peer_t *p, const char *job_id, uint64_t shard_id, uint64_t lease)
{
    for (item_t *it = p->leases.head; it; it = it->next) {
        if (it->lease == lease && it->shard_id == shard_id && strcmp(it->job_id, job_id) == 0) {
            list_remove(&p->leases, it);
            return it;
        }
    }
    return NULL;
}

static void drop_job(broker_t *b, const char *job_id)
{
    size_t dropped = 0;
    for (item_t *it = b->queue.head, *next; it; it = next) {
        next = it->next;
        if (strcmp(it->job_id, job_id) == 0) {
            list_remove(&b->queue, it);
            item_free(it);
            dropped++;
        }
    }
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = b->peers[i];
        for (item_t *it = p->leases.head, *next; it; it = next) {
            next = it->next;
            if (strcmp(it->job_id, job_id) == 0) {
                list_remove(&p->leases, it);
                item_free(it);
                dropped++;
            }
        }
    }
    log_info("job %s cancelled: %zu shard(s) dropped", job_id, dropped);
}

/* ---- message handling ---- */
static void wrong_role(broker_t *b, const peer_t *p, const wire_hdr_t *h)
{
    log_warn("%s from %s %s dropped: not a message that role sends", wire_type_name(h->type),
             p->role == ROLE_WORKER ? "worker" : "scheduler", p->name);
    STAT_ADD(b, messages_dropped, 1);
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
            log_warn("%s %s: its key %s was revoked: session ended", p->role == ROLE_WORKER ? "worker" : "scheduler",
                     p->name, p->key_name);
            peer_remove(b, p, "lost its key");
        } else {
            log_debug("%s from a revoked key dropped", wire_type_name(h.type));
        }
        return;
    }
    if (!p && h.type != WIRE_HELLO) {
        /* Unknown peer (we restarted, or declared it dead): BYE tells it to start a new session
         * with HELLO. Its results still go through when we know the job (they are idempotent). */
        if (h.type != WIRE_BYE) {
            wire_hdr_t bye = {.type = WIRE_BYE};
            if (frame_send(b->sock, ident, ilen, &bye, NULL, 0) < 0)   /* it is told again at its next message */
                log_debug("BYE to a peer without a session not sent: %s", zmq_strerror(errno));
        }
        if (h.type != WIRE_RESULT && h.type != WIRE_SHARD_DONE) {
            log_debug("%s from a peer without a session dropped", wire_type_name(h.type));
            STAT_ADD(b, messages_dropped, 1);
            return;
        }
    }
    if (p) {
        p->last_seen = now_ms(b);
        p->alive = true;
    }

    switch (h.type) {
    case WIRE_HELLO: {
        if (!p) p = peer_add(b, ident, ilen);
        else if (p->role == ROLE_WORKER) {
            /* A new session for a known identity ends the old one like a dead one. */
            requeue_leases(b, p);
            allot_worker_gone(b->allot, p);
        }
        p->last_seen = now_ms(b);
        p->role = strcmp(h.role, "scheduler") == 0 ? ROLE_SCHEDULER : strcmp(h.role, "worker") == 0 ? ROLE_WORKER : ROLE_UNKNOWN;
        if (p->role == ROLE_UNKNOWN) {
            log_warn("HELLO with unknown role '%s' dropped", h.role);
            peer_remove(b, p, "said HELLO with an unknown role");
            return;
        }
        snprintf(p->name, sizeof p->name, "%s", h.name[0] ? h.name : "?");
        if (key) {
            snprintf(p->key, sizeof p->key, "%s", key);
            snprintf(p->key_name, sizeof p->key_name, "%s", zap_key_name(b->zap, key));
        }
        p->credit = p->role == ROLE_WORKER ? h.n : 0;
        p->threads = h.threads;
        if (key)
            log_info("%s %s joined (credit %u, key %s)", p->role == ROLE_WORKER ? "worker" : "scheduler", p->name,
                     p->credit, p->key_name);
        else
            log_info("%s %s joined (credit %u)", p->role == ROLE_WORKER ? "worker" : "scheduler", p->name, p->credit);
        uint32_t workers = 0;
        for (size_t i = 0; i < b->n_peers; i++) workers += b->peers[i]->role == ROLE_WORKER;
        wire_hdr_t w = {.type = WIRE_WELCOME, .heartbeat_ms = (uint32_t)b->heartbeat_ms, .n = workers};
        snprintf(w.name, sizeof w.name, "%s", b->instance);
        /* A WELCOME that cannot be sent is logged by send_to; the peer, unwelcomed, says HELLO
         * again after its timeout, so there is nothing more to do here. */
        send_to(b, p, &w, NULL, 0);
        if (p->role == ROLE_WORKER) allot_worker_joined(b->allot, p);
        break;
    }
    case WIRE_HEARTBEAT:
        break;
    case WIRE_CREDIT:
        if (p->role != ROLE_WORKER) {
            wrong_role(b, p, &h);
        } else {
            /* Bound: a worker cannot claim an absurd amount of work. */
            uint64_t c = (uint64_t)p->credit + h.n;
            p->credit = c > SHARD_CREDIT_MAX ? SHARD_CREDIT_MAX : (uint32_t)c;
        }
        break;
    case WIRE_SUBMIT: {
        if (p->role != ROLE_SCHEDULER || !payload || !h.job_id[0]) {
            log_warn("SUBMIT from %s dropped: %s", p->name, !payload ? "no payload" : "not a scheduler or no job id");
            STAT_ADD(b, messages_dropped, 1);
            break;
        }
        route_set(b, h.job_id, ident, ilen);
        if (already_known(b, h.job_id, h.shard_id)) break;   /* a resubmission of work we hold */
        item_t *it = xcalloc(1, sizeof(*it));
        snprintf(it->job_id, sizeof it->job_id, "%s", h.job_id);
        it->shard_id = h.shard_id;
        it->state = SHARD_QUEUED;
        memcpy(it->sched, ident, ilen);
        it->sched_len = ilen;
        it->payload = xmalloc(plen);
        memcpy(it->payload, payload, plen);
        it->payload_len = plen;
        list_push_back(&b->queue, it);
        break;
    }
    case WIRE_RESULT:
    case WIRE_SHARD_DONE: {
        if (p && p->role != ROLE_WORKER) {
            wrong_role(b, p, &h);
            break;
        }
        jobroute_t *r = route_find(b, h.job_id);
        if (p && h.type == WIRE_SHARD_DONE) {
            item_t *it = lease_take(p, h.job_id, h.shard_id, h.lease);
            if (it) item_free(it);
            STAT_ADD(b, shards_done, 1);
        }
        if (!r) {
            log_warn("%s for unknown job %s dropped", wire_type_name(h.type), h.job_id);
            STAT_ADD(b, messages_dropped, 1);
            break;
        }
        if (send_to_ident(b, r->sched, r->sched_len, &h, payload, plen) == 0 && h.type == WIRE_RESULT)
            STAT_ADD(b, results_forwarded, 1);
        break;
    }
    case WIRE_CANCEL: {
        if (p->role != ROLE_SCHEDULER) {
            wrong_role(b, p, &h);
            break;
        }
        drop_job(b, h.job_id);
        wire_hdr_t c = {.type = WIRE_CANCEL};
        snprintf(c.job_id, sizeof c.job_id, "%s", h.job_id);
        /* A worker that misses the CANCEL (send_to logs it) finishes its shard for nothing: the
         * job's leases are dropped already, and what it sends late is forwarded for the scheduler
         * to judge, as for any late message. */
        for (size_t i = 0; i < b->n_peers; i++)
            if (b->peers[i]->role == ROLE_WORKER) send_to(b, b->peers[i], &c, NULL, 0);
        break;
    }
    case WIRE_DEMAND:
        if (p->role != ROLE_WORKER || !payload) wrong_role(b, p, &h);
        else if (allot_demand(b->allot, p, payload, plen) < 0) STAT_ADD(b, messages_dropped, 1);
        break;
    case WIRE_BYE:
        peer_remove(b, p, "said BYE");
        break;
    case WIRE_RETURN:
        if (p->role != ROLE_WORKER) {
            wrong_role(b, p, &h);
            break;
        }
        p->credit = 0;   /* a worker that gives work back wants no more until it sends CREDIT */
        if (h.job_id[0]) {
            item_t *it = lease_take(p, h.job_id, h.shard_id, h.lease);
            if (!it) {
                log_debug("RETURN of %s/%llu lease %llu that %s does not hold: ignored", h.job_id,
                          (unsigned long long)h.shard_id, (unsigned long long)h.lease, p->name);
                break;
            }
            it->lease = 0;
            list_push_front(&b->queue, it);
            STAT_ADD(b, shards_returned, 1);
            log_info("worker %s returned shard %s/%llu unstarted: back at the front of the queue", p->name,
                     it->job_id, (unsigned long long)it->shard_id);
        }
        break;
    default:
        log_warn("unexpected %s from %s dropped", wire_type_name(h.type), p ? p->name : "?");
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
            log_warn("dropped %s", err);
            STAT_ADD(b, messages_dropped, 1);
            continue;
        }
        on_message(b, &in);
        frame_in_close(&in);
    }
    dispatch(b);
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
        log_warn("%s %s: its key %s was revoked: session ended", p->role == ROLE_WORKER ? "worker" : "scheduler",
                 p->name, p->key_name);
        wire_hdr_t bye = {.type = WIRE_BYE};
        if (send_to(b, p, &bye, NULL, 0) < 0) {}   /* it may be gone already: its session ends either way */
        peer_remove(b, p, "lost its key");   /* moves another peer into slot i */
    }
}

static void heartbeat_tick(loop_t *loop, uint64_t id, void *arg)
{
    broker_t *b = arg;
    int64_t now = now_ms(b);
    int64_t dead_ms = (int64_t)b->heartbeat_ms * b->dead_after;
    if (b->zap && zap_refresh(b->zap)) revoke_sessions(b);
    uint32_t workers = 0;
    for (size_t i = 0; i < b->n_peers; i++) if (b->peers[i]->role == ROLE_WORKER) workers++;
    for (size_t i = 0; i < b->n_peers;) {
        peer_t *p = b->peers[i];
        if (now - p->last_seen > dead_ms) {
            peer_remove(b, p, "is silent: declared dead");
            continue;   /* peer_remove moved another peer into slot i */
        }
        wire_hdr_t hb = {.type = WIRE_HEARTBEAT, .n = workers};
        snprintf(hb.name, sizeof hb.name, "%s", b->instance);
        send_to(b, p, &hb, NULL, 0);   /* a missed heartbeat is logged; the next one follows */
        i++;
    }
    /* Demand ages in heartbeat intervals of the same clock as liveness, one interval per tick at
     * most (after a stall of this thread the DEMANDs that waited were just read: fresh). */
    if (now - b->allot_at >= b->heartbeat_ms) {
        allot_tick(b->allot);
        b->allot_at = now;
    }
    dispatch(b);
    loop_timer_add(loop, b->heartbeat_ms, heartbeat_tick, b);
}

/* allot.c sends ALLOT tables through this. */
static int allot_send(void *arg, void *peer, const void *payload, size_t len)
{
    broker_t *b = arg;
    wire_hdr_t h = {.type = WIRE_ALLOT};
    return send_to(b, peer, &h, payload, len);
}

void broker_opts_default(broker_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->heartbeat_ms = 1000;
    o->dead_after = 5;
}

broker_t *broker_new(const broker_opts_t *opts, char *err, size_t errlen)
{
    broker_t *b = xcalloc(1, sizeof(*b));
    b->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 1000;
    b->dead_after = opts->dead_after > 0 ? opts->dead_after : 5;
    b->clock_ms = opts->clock_ms;
    b->clock_arg = opts->clock_arg;
    b->ctx = opts->zmq_ctx;
    if (!b->ctx) {
        b->ctx = zmq_ctx_new();
        b->own_ctx = true;
    }
    pthread_mutex_init(&b->stats_mu, NULL);
    snprintf(b->instance, sizeof b->instance, "broker-%d-%llx", (int)getpid(), (unsigned long long)loop_now_us());
    if (!opts->curve != !opts->curve_clients) {
        snprintf(err, errlen, "%s", opts->curve ? "--curve-secret needs --curve-clients DIR (the public keys allowed to connect)"
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
        if (send_to(b, b->peers[i], &bye, NULL, 0) == 0) n++;
    }
    int linger = 1000;
    if (zmq_setsockopt(b->sock, ZMQ_LINGER, &linger, sizeof linger) < 0) {}   /* closing only: BYE is a courtesy */
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
    log_info("broker %s stopped: BYE to %zu peer(s), %zu shard(s) were queued", b->instance, n, b->queue.n);
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
    b->allot_at = now_ms(b);
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
            list_remove(&b->peers[i]->leases, it);
            item_free(it);
        }
        free(b->peers[i]);
    }
    free(b->peers);
    while (b->queue.head) {
        item_t *it = b->queue.head;
        list_remove(&b->queue, it);
        item_free(it);
    }
    free(b->routes);
    allot_destroy(&b->allot);
    if (b->sock) zmq_close(b->sock);
    zap_destroy(&b->zap);
    if (b->own_ctx) zmq_ctx_term(b->ctx);
    loop_destroy(&b->loop);
    pthread_mutex_destroy(&b->stats_mu);
    free(b);
    *self_p = NULL;
}
