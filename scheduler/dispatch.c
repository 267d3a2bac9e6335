/* dispatch: shards in flight; see dispatch.h and proto/shard.h. */
#define LOG_MODULE "dispatch"
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cache.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "wire.h"

/* Records a shard's new state (see DESIGN: a failure is logged, not fatal). */
static void save_state(job_t *j, ingest_t *in, size_t i, shard_state_t st)
{
    store_t *s = ingest_store(in);
    if (store_shard_set_state(s, j->id, i, st) < 0)
        log_error("job %s: shard %zu is %s but %s could not record it (%s); status may show it stale", j->id, i,
                  shard_state_name(st), store_path(s), store_errmsg(s));
}

static void mark_done(job_t *j, ingest_t *in, size_t i)
{
    shard_t *sh = &j->shards[i];
    if (sh->state == SHARD_INFLIGHT) j->inflight--;
    sh->state = SHARD_DONE;
    j->done++;
    save_state(j, in, i, SHARD_DONE);
}

/* The plan of a record with part of it committed (a retry, a resubmission after a partial
 * result): per target, nothing when it is complete, its missing metrics on the committed response
 * when it has one, else the whole target. 0 with plan->n_units 0 when nothing of it is committed
 * (the worker evaluates it in full); -1 on a database error. */
static int plan_of(job_t *j, store_t *st, uint64_t idx, wire_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    store_unit_t u[2];
    if (store_units_of(st, j->id, idx, u) < 0) return -1;
    bool any = false;
    for (unsigned t = 0; t < j->targets; t++) any |= u[t].has_output || u[t].n_metrics > 0;
    if (any) {
        plan->units = xcalloc(j->targets, sizeof *plan->units);
        for (unsigned t = 0; t < j->targets; t++) {
            if (u[t].n_metrics >= j->n_metrics) continue; /* complete */
            wire_unit_plan_t *p = &plan->units[plan->n_units++];
            p->target = (target_t)t;
            if (!u[t].has_output || u[t].error || !u[t].response) continue; /* the whole target */
            p->response = u[t].response;
            u[t].response = NULL;
            p->from_dataset = u[t].from_dataset;
            p->model = u[t].model;
            u[t].model = NULL;
            p->metrics = xcalloc(j->n_metrics, sizeof *p->metrics);
            for (size_t m = 0; m < j->n_metrics; m++) {
                const char *name = j->spec->metrics[m]->name;
                bool scored = false;
                for (size_t k = 0; k < u[t].n_metrics && !scored; k++) scored = !strcmp(u[t].metrics[k], name);
                if (!scored) p->metrics[p->n_metrics++] = xstrdup(name);
            }
        }
    }
    store_unit_clear(&u[0]);
    store_unit_clear(&u[1]);
    return 0;
}

/* Sends shard i (PENDING or INFLIGHT) with its records still missing a cell. */
static void submit(job_t *j, ingest_t *in, peer_t *peer, size_t i)
{
    shard_t *sh = &j->shards[i];
    record_t *recs = NULL;
    size_t n = 0;
    /* What was received so far must be committed before asking what is missing; then what the
     * scheduler has itself (reused responses, cache hits) is committed without a worker. */
    if (ingest_flush(in) < 0 || cache_prefill(j, in, i) < 0) return;
    store_t *st = ingest_store(in);
    if (store_records_range(st, j->id, sh->first, sh->last, (uint64_t)j->targets * j->n_metrics, &recs, &n) < 0) {
        job_fail_as(j, JOB_FAILURE_DATABASE, "database %s: cannot read shard %zu: %s", store_path(st), i,
                    store_errmsg(st));
        return;
    }
    if (n == 0) {
        /* Everything is already committed: the shard is done without a trip to the workers. */
        free(recs);
        mark_done(j, in, i);
        return;
    }
    wire_plan_t *plans = xcalloc(n, sizeof *plans);
    int rc = 0;
    bool planned = false;
    for (size_t k = 0; k < n && rc == 0; k++) {
        rc = plan_of(j, st, recs[k].index, &plans[k]);
        planned |= plans[k].n_units > 0;
    }
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (rc < 0)
        job_fail_as(j, JOB_FAILURE_DATABASE, "database %s: cannot read what shard %zu has committed: %s",
                    store_path(st), i, store_errmsg(st));
    else rc = wire_shard_encode_plans(j->spec_json, recs, planned ? plans : NULL, n, &b);
    for (size_t k = 0; k < n; k++) {
        record_clear(&recs[k]);
        wire_plan_clear(&plans[k]);
    }
    free(recs);
    free(plans);
    if (rc < 0) {
        if (!j->fatal)
            job_fail(j, "shard %zu is larger than a message may be (%u bytes): lower shard_size", i, WIRE_MAX_MSG);
        buf_free(&b);
        return;
    }
    wire_hdr_t h = {.type = WIRE_SUBMIT, .shard_id = i, .lease_max_s = j->lease_max_s};
    snprintf(h.job_id, sizeof h.job_id, "%s", j->id);
    snprintf(h.secret, sizeof h.secret, "%s", j->secret);
    peer_send(peer, &h, b.data, b.len);
    buf_free(&b);
    if (sh->state == SHARD_PENDING) {
        sh->state = SHARD_INFLIGHT;
        j->inflight++;
    }
    sh->submitted_ms = loop_now_ms();
    sh->submits++;
    save_state(j, in, i, SHARD_INFLIGHT); /* counts the SUBMIT */
}

/* Shards looked at per call at most: a resumed job whose shards are all complete already would
 * otherwise be walked through in one pass of the loop. */
#define FILL_BUDGET 256

bool dispatch_fill(job_t *j, ingest_t *in, peer_t *peer, int window)
{
    if (!peer_up(peer) || j->stop_requested) return false;
    int budget = FILL_BUDGET;
    while (j->inflight < (size_t)window && j->next_pending < j->n_shards && !j->fatal && budget-- > 0) {
        if (j->shards[j->next_pending].state == SHARD_PENDING) submit(j, in, peer, j->next_pending);
        j->next_pending++;
    }
    return budget < 0 && j->inflight < (size_t)window && j->next_pending < j->n_shards && !j->fatal;
}

void dispatch_shard_done(job_t *j, ingest_t *in, peer_t *peer, uint64_t shard_id)
{
    if (shard_id >= j->n_shards) return;
    shard_t *sh = &j->shards[shard_id];
    if (sh->state != SHARD_INFLIGHT) return; /* a duplicate SHARD_DONE, or one from before a resume */
    uint64_t have = 0;
    if (ingest_shard_outputs(in, j, shard_id, &have) < 0) return;
    switch (shard_on_done(sh, have, j->targets)) {
    case SHARD_ACCEPT: break;
    case SHARD_RESUBMIT:
        log_warn("job %s: shard %llu reported done with %llu of %llu results: submitting it again", j->id,
                 (unsigned long long)shard_id, (unsigned long long)have, (unsigned long long)sh->n * j->targets);
        if (!j->stop_requested) {
            submit(j, in, peer, shard_id);
            return;
        }
        break; /* stopping: what it has is kept, the rest stays missing */
    case SHARD_GIVE_UP:
        log_error("job %s: shard %llu came back incomplete %u times: its missing results are recorded as errors", j->id,
                  (unsigned long long)shard_id, sh->submits);
        if (ingest_give_up(in, j, shard_id) < 0) return;
        break;
    }
    mark_done(j, in, shard_id);
}

bool dispatch_accepts(const job_t *j, uint64_t shard_id, uint64_t lease)
{
    if (shard_id >= j->n_shards) return false;
    const shard_t *sh = &j->shards[shard_id];
    return sh->state == SHARD_INFLIGHT && lease != 0 && lease >= sh->last_lease;
}

void dispatch_resubmit_inflight(job_t *j, ingest_t *in, peer_t *peer)
{
    /* A new broker session (maybe a new broker): its lease numbers start again. */
    for (size_t i = 0; i < j->n_shards; i++) j->shards[i].last_lease = 0;
    if (j->stop_requested) return;
    size_t n = 0;
    for (size_t i = 0; i < j->n_shards && !j->fatal; i++)
        if (j->shards[i].state == SHARD_INFLIGHT) {
            submit(j, in, peer, i);
            n++;
        }
    if (n) log_info("job %s: %zu in-flight shard(s) submitted again", j->id, n);
}

void dispatch_lease_seen(job_t *j, ingest_t *in, uint64_t shard_id, uint64_t lease)
{
    if (shard_id >= j->n_shards || lease == 0) return;
    shard_t *sh = &j->shards[shard_id];
    if (sh->last_lease == lease) return;
    /* A lease not seen before: one more delivery (stale results of an earlier lease may still
     * come after a later one's: they count once more, which only overstates the redeliveries). */
    sh->last_lease = lease;
    sh->leases++;
    store_t *s = ingest_store(in);
    if (store_shard_set_leases(s, j->id, shard_id, sh->leases) < 0)
        log_warn("job %s: shard %llu: %s could not record its deliveries (%s)", j->id, (unsigned long long)shard_id,
                 store_path(s), store_errmsg(s));
}

void dispatch_cancel(job_t *j, peer_t *peer)
{
    if (j->cancel_sent) return;
    wire_hdr_t c = {.type = WIRE_CANCEL};
    snprintf(c.job_id, sizeof c.job_id, "%s", j->id);
    snprintf(c.secret, sizeof c.secret, "%s", j->secret);
    peer_send(peer, &c, NULL, 0);
    j->cancel_sent = true;
    log_warn("job %s: stop requested: cancelled at the broker", j->id);
}
