/* test_dispatch: a job's shards in flight, with the test playing the broker on a ROUTER socket in
 * this thread and the scheduler's real peer session, store and collector: the window (never more
 * than `window` SUBMITs outstanding), what a SUBMIT carries (the spec, only the records still
 * missing an output), SUBMITs counted in the store, the check at SHARD_DONE (complete: done and
 * the window moves; incomplete: submitted again with only what is missing; incomplete
 * SHARD_MAX_SUBMITS times: given up, missing outputs recorded as errors), duplicate and unknown
 * SHARD_DONEs ignored, a shard with everything committed done without a trip, resubmission of
 * everything in flight on a new session, no SUBMIT once stopping, and CANCEL sent once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "dispatch.h"
#include "frame.h"
#include "ingest.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "peer.h"
#include "store.h"
#include "wire.h"
#include "check.h"
#include "jobfix.h"

#define PASSES 2000 /* loop passes of at most 5 ms: 10 s at the most */

static char *dir;

typedef struct {
    void *ctx, *router;
    loop_t *loop;
    peer_t *peer;
    store_t *st;
    ingest_t *in;
    job_t *j;
    unsigned char ident[FRAME_MAX_IDENT];
    size_t ident_len;
    /* SUBMITs seen by the broker side: shard id and the record indexes it carried */
    uint64_t sub_shard[64];
    uint64_t sub_recs[64][8];
    size_t sub_n[64];
    int n_sub, n_cancel;
} env_t;

static void on_message(const wire_hdr_t *h, const void *payload, size_t len, void *arg)
{
    env_t *e = arg;
    if (h->type == WIRE_RESULT) ingest_result(e->in, e->j, h->shard_id, payload, len);
    else if (h->type == WIRE_SHARD_DONE) dispatch_shard_done(e->j, e->in, e->peer, h->shard_id);
}

static int hook(loop_t *loop, void *arg) { return peer_pump(((env_t *)arg)->peer); }

/* Reads what the scheduler sent; WELCOMEs a HELLO. */
static void broker_read(env_t *e)
{
    frame_in_t in;
    char err[300];
    int rc;
    while ((rc = frame_read(e->router, true, &in, err, sizeof err)) != 0) {
        if (rc < 0) continue;
        memcpy(e->ident, in.ident, in.ident_len);
        e->ident_len = in.ident_len;
        if (in.h.type == WIRE_HELLO) {
            wire_hdr_t w = {.type = WIRE_WELCOME, .heartbeat_ms = 1000};
            snprintf(w.name, sizeof w.name, "test-broker");
            CHECK(frame_send(e->router, e->ident, e->ident_len, &w, NULL, 0) == 0);
        } else if (in.h.type == WIRE_SUBMIT && e->n_sub < 64) {
            wire_shard_t sh;
            char why[256];
            int k = e->n_sub++;
            e->sub_shard[k] = in.h.shard_id;
            if (wire_shard_decode(in.payload, in.payload_len, &sh, why, sizeof why) == 0) {
                CHECK(sh.spec_json && !strcmp(sh.spec_json, e->j->spec_json));
                e->sub_n[k] = sh.n_records;
                for (size_t i = 0; i < sh.n_records && i < 8; i++) e->sub_recs[k][i] = sh.records[i].index;
                wire_shard_clear(&sh);
            } else {
                CHECK(!"a SUBMIT that does not decode");
            }
        } else if (in.h.type == WIRE_CANCEL) {
            e->n_cancel++;
        }
        frame_in_close(&in);
    }
}

static void pass(env_t *e)
{
    broker_read(e);
    loop_run_once(e->loop, 5);
    broker_read(e);
}

/* Runs passes until `cond` holds (or the deadline). */
#define UNTIL(e, cond)                                          \
    do {                                                        \
        for (int i_ = 0; i_ < PASSES && !(cond); i_++) pass(e); \
    } while (0)

/* The broker side sends a RESULT of (idx, target) for shard `shard`, then optionally SHARD_DONE. */
static void send_result(env_t *e, uint64_t shard, uint64_t idx)
{
    result_t r = jobfix_result(e->j->id, idx, TARGET_CUSTOM, 2, "Correctness", "Helpfulness");
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    CHECK(wire_result_encode(&r, &b) == 0);
    wire_hdr_t h = {.type = WIRE_RESULT, .shard_id = shard, .lease = 1};
    snprintf(h.job_id, sizeof h.job_id, "%s", e->j->id);
    CHECK(frame_send(e->router, e->ident, e->ident_len, &h, b.data, b.len) == 0);
    buf_free(&b);
    result_clear(&r);
}

static void send_done(env_t *e, uint64_t shard)
{
    wire_hdr_t h = {.type = WIRE_SHARD_DONE, .shard_id = shard, .lease = 1};
    snprintf(h.job_id, sizeof h.job_id, "%s", e->j->id);
    CHECK(frame_send(e->router, e->ident, e->ident_len, &h, NULL, 0) == 0);
}

static uint32_t stored_submits(env_t *e, uint64_t shard);

static void env_start(env_t *e, int n_records)
{
    memset(e, 0, sizeof *e);
    char *data = xasprintf("%s/d.jsonl", dir), *out = xasprintf("%s/out", dir), *db = xasprintf("%s/d.db", dir);
    jobfix_dataset(data, n_records);
    char *spec = jobfix_spec(data, out, 2, 0, NULL); /* shards of 2 records, one target */
    sched_submit_t sin = {.spec_json = spec, .len = strlen(spec), .origin = "spec"};
    errlist_t errs;
    errlist_init(&errs, 0);
    char id[SCHED_JOB_ID_MAX], *used = NULL, err[512];
    CHECK(job_submit(&sin, db, NULL, NULL, &used, id, &errs) == SCHED_OK);
    e->st = store_open(db, STORE_WRITE, err, sizeof err);
    e->j = job_open(e->st, id, err, sizeof err);
    CHECK(e->j != NULL);
    e->in = ingest_new(e->st);
    errlist_free(&errs);
    free(used);
    free(spec);
    free(data);
    free(out);
    free(db);

    e->ctx = zmq_ctx_new();
    e->router = zmq_socket(e->ctx, ZMQ_ROUTER);
    CHECK(frame_setup(e->router, ZMQ_ROUTER) == 0);
    CHECK(zmq_bind(e->router, "inproc://test-dispatch") == 0);
    e->loop = loop_new();
    peer_opts_t o = {.endpoint = "inproc://test-dispatch",
                     .zmq_ctx = e->ctx,
                     .loop = e->loop,
                     .role = "scheduler",
                     .name = "s1",
                     .heartbeat_ms = 1000,
                     .dead_after = 5,
                     .on_message = on_message,
                     .arg = e};
    e->peer = peer_new(&o, err, sizeof err);
    CHECK(e->peer != NULL);
    loop_set_before_wait(e->loop, hook, e);
    UNTIL(e, peer_up(e->peer));
    CHECK(peer_up(e->peer));
}

static void env_stop(env_t *e)
{
    peer_destroy(&e->peer);
    loop_destroy(&e->loop);
    zmq_close(e->router);
    zmq_ctx_term(e->ctx);
    ingest_destroy(&e->in);
    job_destroy(&e->j);
    store_close(&e->st);
}

typedef struct {
    uint64_t id;
    uint32_t submits;
} find_t;

static int find_shard(const shard_t *sh, void *arg)
{
    find_t *f = arg;
    if (sh->id == f->id) f->submits = sh->submits;
    return 0;
}

static uint32_t stored_submits(env_t *e, uint64_t shard)
{
    find_t f = {.id = shard, .submits = 999};
    CHECK(store_shards_each(e->st, e->j->id, find_shard, &f) == 0);
    return f.submits;
}

static void test_window_and_check(void)
{
    env_t e;
    env_start(&e, 9); /* shards: [0,1] [2,3] [4,5] [6,7] [8] */
    job_t *j = e.j;
    CHECK(j->n_shards == 5);
    dispatch_fill(j, e.in, e.peer, 2);
    UNTIL(&e, e.n_sub == 2);
    for (int i = 0; i < 20; i++) pass(&e);
    CHECK(e.n_sub == 2 && j->inflight == 2); /* the window holds */
    CHECK(e.sub_shard[0] == 0 && e.sub_n[0] == 2 && e.sub_recs[0][0] == 0 && e.sub_recs[0][1] == 1);
    CHECK(e.sub_shard[1] == 1 && e.sub_recs[1][0] == 2);
    CHECK(stored_submits(&e, 0) == 1 && stored_submits(&e, 2) == 0);

    /* Shard 0 complete: done, and the window moves on. */
    send_result(&e, 0, 0);
    send_result(&e, 0, 1);
    send_done(&e, 0);
    UNTIL(&e, j->done == 1);
    CHECK(j->done == 1 && j->shards[0].state == SHARD_DONE && j->inflight == 1);
    send_done(&e, 0);  /* a duplicate: ignored */
    send_done(&e, 42); /* no such shard: ignored */
    for (int i = 0; i < 20; i++) pass(&e);
    CHECK(j->done == 1);
    dispatch_fill(j, e.in, e.peer, 2);
    UNTIL(&e, e.n_sub == 3);
    CHECK(e.sub_shard[2] == 2);

    /* Shard 1 incomplete (record 3 missing): submitted again with record 3 only. */
    send_result(&e, 1, 2);
    log_set_level(LOG_OFF);
    send_done(&e, 1);
    UNTIL(&e, e.n_sub == 4);
    CHECK(e.sub_shard[3] == 1 && e.sub_n[3] == 1 && e.sub_recs[3][0] == 3);
    CHECK(j->shards[1].state == SHARD_INFLIGHT && j->shards[1].submits == 2 && stored_submits(&e, 1) == 2);
    /* ... until it has been submitted SHARD_MAX_SUBMITS times: then given up. */
    for (uint32_t k = 2; k < SHARD_MAX_SUBMITS; k++) {
        int before = e.n_sub;
        send_done(&e, 1);
        UNTIL(&e, e.n_sub == before + 1);
        CHECK(e.sub_shard[before] == 1);
    }
    CHECK(j->shards[1].submits == SHARD_MAX_SUBMITS);
    send_done(&e, 1);
    UNTIL(&e, j->shards[1].state == SHARD_DONE);
    log_set_level(LOG_ERROR);
    CHECK(j->shards[1].state == SHARD_DONE && j->done == 2 && j->scores[SCORE_ERROR] == 2);
    uint64_t have = 0;
    CHECK(ingest_shard_outputs(e.in, j, 1, &have) == 0 && have == 2);

    /* A new session: everything in flight goes again (shard 2 here). */
    int before = e.n_sub;
    dispatch_resubmit_inflight(j, e.in, e.peer);
    UNTIL(&e, e.n_sub == before + 1);
    CHECK(e.n_sub == before + 1 && e.sub_shard[before] == 2);

    /* A shard whose outputs are all committed already is done without a trip to the workers. */
    send_result(&e, 3, 6);
    send_result(&e, 3, 7);
    for (int i = 0; i < 20; i++) pass(&e);
    CHECK(ingest_flush(e.in) == 0);
    before = e.n_sub;
    dispatch_fill(j, e.in, e.peer, 3); /* room for shards 3 and 4 */
    UNTIL(&e, e.n_sub == before + 1);
    for (int i = 0; i < 20; i++) pass(&e);
    CHECK(j->shards[3].state == SHARD_DONE && e.n_sub == before + 1 && e.sub_shard[before] == 4);

    /* Stopping: no SUBMIT any more, CANCEL once. */
    j->stop_requested = true;
    before = e.n_sub;
    dispatch_resubmit_inflight(j, e.in, e.peer);
    dispatch_fill(j, e.in, e.peer, 10);
    dispatch_cancel(j, e.peer);
    dispatch_cancel(j, e.peer);
    UNTIL(&e, e.n_cancel == 1);
    for (int i = 0; i < 20; i++) pass(&e);
    CHECK(e.n_cancel == 1 && e.n_sub == before);
    CHECK(!j->fatal);
    env_stop(&e);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    dir = jobfix_tmpdir("test_dispatch");
    jobfix_env("http://127.0.0.1:9");
    test_window_and_check();
    jobfix_rmdir(dir);
    free(dir);
    return check_summary("test_dispatch");
}
