/* blease: the broker's shards and leases (schemas/protocol.md §6.3, §6.4; the rules and their
 * constants are proto/shard.h's). Dispatch to the worker with the most credit, the lease lists,
 * requeueing a lost worker's leases, CANCEL's drop, and, on every heartbeat tick, the lease
 * deadlines: a lease silent past its deadline is revoked (REVOKE to its worker, the shard back to
 * the front of the queue, the worker's credit cut to 0), a worker that keeps being revoked while
 * the fleet does the same job's work is quarantined, and a job that shows no RESULT for the
 * stall time while the broker holds its shards is reported as stalled (log, /metrics).
 *
 * Does not own the sessions, the socket or the messages' meaning (broker.c), nor the rules
 * (shard.h), nor the job table (bjobs.c).
 *
 * DESIGN. Every time here is the broker's liveness clock (broker_now), so the tests drive
 * deadlines, quarantines and stalls with a logical clock exactly as they drive liveness. The
 * deadline check walks every lease once a tick: O(leases), which the credit rule bounds. A
 * quarantine of a worker whose HELLO came with a CURVE key is remembered for the key (qkey_t), so
 * the worker's next session starts quarantined; without CURVE a new session starts clean (anyone
 * may open one: that is what CURVE is for). */
#define LOG_MODULE "broker"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "log.h"
#include "mem.h"

/* ---- lists and items ---- */

void blist_push_back(list_t *l, item_t *it)
{
    it->next = NULL;
    it->prev = l->tail;
    if (l->tail) l->tail->next = it;
    else l->head = it;
    l->tail = it;
    l->n++;
}

void blist_remove(list_t *l, item_t *it)
{
    if (it->prev) it->prev->next = it->next;
    else l->head = it->next;
    if (it->next) it->next->prev = it->prev;
    else l->tail = it->prev;
    it->prev = it->next = NULL;
    l->n--;
}

item_t *bitem_new(bjob_t *job, uint64_t shard_id, const void *payload, size_t len)
{
    item_t *it = xcalloc(1, sizeof *it);
    it->job = job;
    it->shard_id = shard_id;
    it->state = SHARD_QUEUED;
    it->payload = xmalloc(len ? len : 1);
    memcpy(it->payload, payload, len);
    it->payload_len = len;
    snprintf(it->node.job_id, sizeof it->node.job_id, "%s", job->job_id);
    it->node.shard_id = shard_id;
    if (job->shards++ == 0) job->held_since_ms = job->active_ms; /* the caller set active_ms to now */
    return it;
}

void bitem_free(item_t *it)
{
    if (!it) return;
    if (it->job && it->job->shards) it->job->shards--;
    free(it->payload);
    free(it);
}

/* Back at the front of its job's queue: a new lease id and the next attempt when leased again. */
static void requeue(broker_t *b, item_t *it)
{
    it->state = SHARD_QUEUED;
    it->lease = 0;
    bqueue_push_front(b->queue, &it->node);
}

void blease_requeue_all(broker_t *b, peer_t *p)
{
    size_t n = p->leases.n;
    while (p->leases.tail) {
        item_t *it = p->leases.tail;
        blist_remove(&p->leases, it);
        requeue(b, it);
    }
    if (n) {
        log_warn("worker %s: %zu leased shard(s) back to the queue", p->name, n);
        STAT_ADD(b, shards_requeued, n);
    }
}

/* ---- dispatch ---- */

bool blease_quarantined(const broker_t *b, const peer_t *p) { return p->quarantined_until > broker_now(b); }

static peer_t *best_worker(broker_t *b)
{
    peer_t *best = NULL;
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = b->peers[i];
        if (p->role != ROLE_WORKER || !p->alive || p->credit == 0 || p->quarantined_until) continue;
        /* Most credit first; ties go to the worker holding fewer leases. */
        if (!best || p->credit > best->credit || (p->credit == best->credit && p->leases.n < best->leases.n)) best = p;
    }
    return best;
}

void blease_dispatch(broker_t *b)
{
    size_t budget = 1024; /* bounded work per pass */
    while (bqueue_len(b->queue) && budget--) {
        peer_t *w = best_worker(b);
        if (!w) break;
        item_t *it = (item_t *)bqueue_pop(b->queue); /* the next job's turn */
        it->state = SHARD_LEASED;
        it->lease = ++b->next_lease;
        it->attempts++;
        wire_hdr_t h = {.type = WIRE_SHARD, .shard_id = it->shard_id, .lease = it->lease, .n = it->attempts};
        snprintf(h.job_id, sizeof h.job_id, "%s", it->job->job_id);
        if (broker_send(b, w, &h, it->payload, it->payload_len) < 0) {
            it->attempts--;
            requeue(b, it);
            w->alive = false; /* unreachable: the next heartbeat check removes it */
            continue;
        }
        w->credit--;
        it->progress_ms = broker_now(b);
        it->job->active_ms = it->progress_ms;
        blist_push_back(&w->leases, it);
        STAT_ADD(b, shards_dispatched, 1);
        log_debug("shard %s/%llu -> %s (lease %llu, attempt %u)", it->job->job_id, (unsigned long long)it->shard_id,
                  w->name, (unsigned long long)it->lease, it->attempts);
    }
    broker_update_stats(b);
}

bool blease_known(broker_t *b, const char *job_id, uint64_t shard_id)
{
    if (bqueue_find(b->queue, job_id, shard_id)) return true;
    for (size_t i = 0; i < b->n_peers; i++)
        for (item_t *it = b->peers[i]->leases.head; it; it = it->next)
            if (it->shard_id == shard_id && strcmp(it->job->job_id, job_id) == 0) return true;
    return false;
}

item_t *blease_find(peer_t *p, const char *job_id, uint64_t shard_id, uint64_t lease)
{
    for (item_t *it = p->leases.head; it; it = it->next)
        if (it->lease == lease && it->shard_id == shard_id && strcmp(it->job->job_id, job_id) == 0) return it;
    return NULL;
}

item_t *blease_take(peer_t *p, const char *job_id, uint64_t shard_id, uint64_t lease)
{
    item_t *it = blease_find(p, job_id, shard_id, lease);
    if (it) blist_remove(&p->leases, it);
    return it;
}

static void drop_queued(bq_node_t *n, void *arg)
{
    (void)arg;
    bitem_free((item_t *)n);
}

size_t blease_drop_job(broker_t *b, const char *job_id)
{
    size_t dropped = bqueue_drop_job(b->queue, job_id, drop_queued, NULL);
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = b->peers[i];
        for (item_t *it = p->leases.head, *next; it; it = next) {
            next = it->next;
            if (strcmp(it->job->job_id, job_id) == 0) {
                blist_remove(&p->leases, it);
                bitem_free(it);
                dropped++;
            }
        }
    }
    return dropped;
}

void blease_progress(broker_t *b, item_t *it)
{
    int64_t now = broker_now(b);
    shard_pace_observe(&it->job->pace, now - it->progress_ms, now);
    it->progress_ms = now;
    it->job->active_ms = now;
    if (it->job->stalled) {
        it->job->stalled = false;
        log_info("job %s progresses again", it->job->job_id);
    }
}

/* ---- revocation and quarantine ---- */

/* Ends p's lease `it` (taken off its list by the caller): REVOKE to p, the shard to the front of
 * the queue, p's credit cut. */
static void revoke(broker_t *b, peer_t *p, item_t *it, const char *why)
{
    wire_hdr_t h = {.type = WIRE_REVOKE, .shard_id = it->shard_id, .lease = it->lease};
    snprintf(h.job_id, sizeof h.job_id, "%s", it->job->job_id);
    (void)broker_send(b, p, &h, NULL, 0); /* a failure is logged by broker_send; the lease ends here either way */
    log_warn("worker %s: lease %llu of shard %s/%llu revoked (%s): back to the queue", p->name,
             (unsigned long long)it->lease, it->job->job_id, (unsigned long long)it->shard_id, why);
    requeue(b, it);
    p->credit = 0;
    STAT_ADD(b, shards_revoked, 1);
}

static qkey_t *qkey_find(broker_t *b, const char *key)
{
    for (size_t i = 0; i < b->n_qkeys; i++)
        if (!strcmp(b->qkeys[i].key, key)) return &b->qkeys[i];
    return NULL;
}

/* Quarantines p: no shard for a while, its leases revoked (without strikes), its CREDIT ignored. */
static void quarantine(broker_t *b, peer_t *p, int64_t now)
{
    uint32_t n = ++p->quarantines;
    qkey_t *q = NULL;
    if (p->key[0]) {
        q = qkey_find(b, p->key);
        if (!q) {
            b->qkeys = xrealloc(b->qkeys, (b->n_qkeys + 1) * sizeof *b->qkeys);
            q = &b->qkeys[b->n_qkeys++];
            memset(q, 0, sizeof *q);
            snprintf(q->key, sizeof q->key, "%s", p->key);
        }
        n = ++q->count;
    }
    int64_t d = shard_quarantine_ms(n);
    p->quarantined_until = now + d;
    if (q) q->until = p->quarantined_until;
    log_warn("worker %s%s%s quarantined for %.0f s: %u of its leases were revoked while other workers did the same "
             "job's work; it gets no shard until then",
             p->name, p->key[0] ? " key " : "", p->key[0] ? p->key_name : "", d / 1000.0, p->strikes);
    while (p->leases.head) {
        item_t *it = p->leases.head;
        blist_remove(&p->leases, it);
        revoke(b, p, it, "its worker is quarantined");
    }
    p->strikes = 0;
    STAT_ADD(b, workers_quarantined_total, 1);
}

void blease_worker_joined(broker_t *b, peer_t *p)
{
    qkey_t *q = p->key[0] ? qkey_find(b, p->key) : NULL;
    if (q && q->until > broker_now(b)) {
        p->quarantined_until = q->until;
        p->credit = 0;
        log_warn("worker %s (key %s) joined in quarantine for %.0f s more", p->name, p->key_name,
                 (q->until - broker_now(b)) / 1000.0);
    }
}

/* ---- the tick ---- */

typedef struct {
    broker_t *b;
    int64_t now;
    uint32_t stalled;
} stall_walk_t;

static void stall_check(bjob_t *j, void *arg)
{
    stall_walk_t *w = arg;
    if (j->shards == 0) {
        j->stalled = false;
        return;
    }
    /* Silent since its last RESULT, or since the broker got its shards when that is later. */
    int64_t since = j->pace.last_progress_ms > j->held_since_ms ? j->pace.last_progress_ms : j->held_since_ms;
    bool stalled = w->now - since >= w->b->stall_ms;
    if (stalled && !j->stalled)
        log_warn("job %s: no RESULT for %.0f s while %u of its shard(s) are queued or leased here (stalled)", j->job_id,
                 (w->now - since) / 1000.0, j->shards);
    j->stalled = stalled;
    w->stalled += stalled;
}

static bool owner_live(const bjob_t *j, void *arg)
{
    broker_t *b = arg;
    for (size_t i = 0; i < b->n_peers; i++) {
        const peer_t *p = b->peers[i];
        if (p->session == j->owner_session && p->role == ROLE_SCHEDULER) return true;
    }
    return false;
}

void blease_tick(broker_t *b)
{
    int64_t now = broker_now(b);
    /* Quarantines that end. */
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = b->peers[i];
        if (p->quarantined_until && p->quarantined_until <= now) {
            p->quarantined_until = 0;
            p->strikes = 0;
            log_info("worker %s: quarantine over: it gets shards again once it asks (CREDIT)", p->name);
        }
    }
    /* Idle capacity: live workers, not quarantined, with credit (and so nothing queued to take). */
    uint32_t idle = 0;
    for (size_t i = 0; i < b->n_peers; i++) {
        const peer_t *p = b->peers[i];
        idle += p->role == ROLE_WORKER && p->alive && p->credit > 0 && !p->quarantined_until;
    }
    /* Lease deadlines. */
    for (size_t i = 0; i < b->n_peers; i++) {
        peer_t *p = b->peers[i];
        if (p->role != ROLE_WORKER) continue;
        bool self_idle = p->alive && p->credit > 0 && !p->quarantined_until;
        bool others_idle = idle > (self_idle ? 1u : 0u);
        for (item_t *it = p->leases.head, *next; it; it = next) {
            next = it->next;
            shard_lease_verdict_t v = shard_lease_check(&it->job->pace, it->progress_ms, it->attempts,
                                                        b->lease_floor_ms, others_idle, now);
            if (v == SHARD_LEASE_KEEP) continue;
            /* A session that has never delivered a RESULT, revoked while its job progressed
             * elsewhere since the lease's grant, is to blame even when the revocation is for idle
             * capacity: else a black hole that asks for every shard again after each REVOKE
             * (the most credit wins dispatch) would take them back for ever. */
            if (v == SHARD_LEASE_REVOKE && p->results == 0 && it->job->pace.last_progress_ms > it->progress_ms)
                v = SHARD_LEASE_REVOKE_STRIKE;
            char why[160];
            int64_t d = shard_lease_deadline_ms(&it->job->pace, it->attempts, b->lease_floor_ms, now);
            snprintf(why, sizeof why, "no RESULT for %.1f s, its deadline %.1f s%s", (now - it->progress_ms) / 1000.0,
                     d / 1000.0, v == SHARD_LEASE_REVOKE_STRIKE ? ", while other leases of its job progressed" : "");
            blist_remove(&p->leases, it);
            revoke(b, p, it, why);
            if (v == SHARD_LEASE_REVOKE_STRIKE && ++p->strikes >= SHARD_STRIKES_MAX && !p->quarantined_until) {
                quarantine(b, p, now);
                break; /* every lease of p is revoked now */
            }
        }
    }
    /* Quarantined keys whose time is up are forgotten, but for their count: kept while a session
     * of theirs lives, so a key that keeps failing gets longer quarantines. */
    for (size_t i = 0; i < b->n_qkeys;) {
        bool used = false;
        for (size_t k = 0; k < b->n_peers && !used; k++) used = !strcmp(b->peers[k]->key, b->qkeys[i].key);
        if (b->qkeys[i].until <= now && !used && now - b->qkeys[i].until >= SHARD_QUARANTINE_MAX_MS)
            b->qkeys[i] = b->qkeys[--b->n_qkeys];
        else i++;
    }
    /* Stalls and forgotten jobs. */
    stall_walk_t w = {.b = b, .now = now};
    bjobs_each(b->jobs, stall_check, &w);
    size_t gone = bjobs_sweep(b->jobs, now, owner_live, b);
    if (gone) log_debug("%zu idle job(s) without a live owner forgotten", gone);
    uint32_t quarantined = 0;
    for (size_t i = 0; i < b->n_peers; i++) quarantined += b->peers[i]->quarantined_until != 0;
    pthread_mutex_lock(&b->stats_mu);
    b->stats.jobs_stalled = w.stalled;
    b->stats.jobs_known = bjobs_count(b->jobs);
    b->stats.workers_quarantined = quarantined;
    pthread_mutex_unlock(&b->stats_mu);
}
