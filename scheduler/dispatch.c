/* dispatch: shards in flight; see dispatch.h and proto/shard.h. */
#define LOG_MODULE "dispatch"
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
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

/* Sends shard i (PENDING or INFLIGHT) with its records still missing an output. */
static void submit(job_t *j, ingest_t *in, peer_t *peer, size_t i)
{
    shard_t *sh = &j->shards[i];
    record_t *recs = NULL;
    size_t n = 0;
    /* What was received so far must be committed before asking what is missing. */
    if (ingest_flush(in) < 0) return;
    store_t *st = ingest_store(in);
    if (store_records_range(st, j->id, sh->first, sh->last, j->targets, &recs, &n) < 0) {
        job_fail(j, "database %s: cannot read shard %zu: %s", store_path(st), i, store_errmsg(st));
        return;
    }
    if (n == 0) {
        /* Everything is already committed: the shard is done without a trip to the workers. */
        free(recs);
        mark_done(j, in, i);
        return;
    }
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    int rc = wire_shard_encode(j->spec_json, recs, n, &b);
    for (size_t k = 0; k < n; k++) record_clear(&recs[k]);
    free(recs);
    if (rc < 0) {
        job_fail(j, "shard %zu is larger than a message may be (%u bytes): lower shard_size", i, WIRE_MAX_MSG);
        buf_free(&b);
        return;
    }
    wire_hdr_t h = {.type = WIRE_SUBMIT, .shard_id = i};
    snprintf(h.job_id, sizeof h.job_id, "%s", j->id);
    peer_send(peer, &h, b.data, b.len);
    buf_free(&b);
    if (sh->state == SHARD_PENDING) {
        sh->state = SHARD_INFLIGHT;
        j->inflight++;
    }
    sh->submitted_ms = loop_now_ms();
    sh->submits++;
    save_state(j, in, i, SHARD_INFLIGHT);   /* counts the SUBMIT */
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
    if (sh->state != SHARD_INFLIGHT) return;   /* a duplicate SHARD_DONE, or one from before a resume */
    uint64_t have = 0;
    if (ingest_shard_outputs(in, j, shard_id, &have) < 0) return;
    switch (shard_on_done(sh, have, j->targets)) {
    case SHARD_ACCEPT:
        break;
    case SHARD_RESUBMIT:
        log_warn("job %s: shard %llu reported done with %llu of %llu results: submitting it again", j->id,
                 (unsigned long long)shard_id, (unsigned long long)have, (unsigned long long)sh->n * j->targets);
        if (!j->stop_requested) {
            submit(j, in, peer, shard_id);
            return;
        }
        break;   /* stopping: what it has is kept, the rest stays missing */
    case SHARD_GIVE_UP:
        log_error("job %s: shard %llu came back incomplete %u times: its missing results are recorded as errors",
                  j->id, (unsigned long long)shard_id, sh->submits);
        if (ingest_give_up(in, j, shard_id) < 0) return;
        break;
    }
    mark_done(j, in, shard_id);
}

void dispatch_resubmit_inflight(job_t *j, ingest_t *in, peer_t *peer)
{
    if (j->stop_requested) return;
    size_t n = 0;
    for (size_t i = 0; i < j->n_shards && !j->fatal; i++)
        if (j->shards[i].state == SHARD_INFLIGHT) {
            submit(j, in, peer, i);
            n++;
        }
    if (n) log_info("job %s: %zu in-flight shard(s) submitted again", j->id, n);
}

void dispatch_cancel(job_t *j, peer_t *peer)
{
    if (j->cancel_sent) return;
    wire_hdr_t c = {.type = WIRE_CANCEL};
    snprintf(c.job_id, sizeof c.job_id, "%s", j->id);
    peer_send(peer, &c, NULL, 0);
    j->cancel_sent = true;
    log_warn("job %s: stop requested: cancelled at the broker", j->id);
}
