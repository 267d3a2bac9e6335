/* test_peer: the broker-client session (proto/peer.c) and message framing (proto/frame.c), with the
 * test playing the broker on a ROUTER socket in the same thread. Every wait is a bounded number
 * of loop passes polling for an outcome (never a timing assertion); silence is simulated with a
 * short heartbeat and dead_after 2. */
#include "peer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "frame.h"
#include "log.h"
#include "loop.h"
#include "wire.h"

#define HB_MS 20
#define DEADLINE_PASSES 2000 /* loop passes of at most 5 ms: 10 s at the most */

typedef struct {
    void *ctx, *router;
    loop_t *loop;
    peer_t *peer;
    /* what the peer's callbacks saw */
    int ups, downs, ups_again;
    wire_hdr_t got[64];
    int n_got;
    uint32_t credit;
    /* the last peer identity the broker side heard from */
    unsigned char ident[FRAME_MAX_IDENT];
    size_t ident_len;
    /* the test broker heartbeats (as `instance`) on every pass while hb_on */
    bool hb_on;
    uint32_t hb_n;
    char instance[WIRE_MAX_ID];
} env_t;

static void broker_send(env_t *e, const wire_hdr_t *h);

/* One pass: the broker side heartbeats if it is on, then the peer's loop runs once. */
static void pass(env_t *e)
{
    if (e->hb_on && e->ident_len) {
        wire_hdr_t hb = {.type = WIRE_HEARTBEAT, .n = e->hb_n};
        snprintf(hb.name, sizeof hb.name, "%s", e->instance);
        if (frame_send(e->router, e->ident, e->ident_len, &hb, NULL, 0) < 0) {} /* to an old identity: gone */
    }
    loop_run_once(e->loop, 5);
}

static void on_message(const wire_hdr_t *h, const void *payload, size_t len, void *arg)
{
    env_t *e = arg;
    if (e->n_got < 64) e->got[e->n_got++] = *h;
}

static void on_session(peer_event_t ev, bool again, const wire_hdr_t *h, const char *why, void *arg)
{
    env_t *e = arg;
    if (ev == PEER_UP) {
        e->ups++;
        if (again) e->ups_again++;
    } else {
        e->downs++;
    }
}

static uint32_t hello_credit(void *arg) { return ((env_t *)arg)->credit; }

static int hook(loop_t *loop, void *arg) { return peer_pump(((env_t *)arg)->peer); }

/* srv/cli: CURVE keys of the broker side and of the peer (NULL: plaintext). */
static void env_start_keys(env_t *e, const char *endpoint, const curve_keys_t *srv, const curve_keys_t *cli)
{
    memset(e, 0, sizeof(*e));
    e->ctx = zmq_ctx_new();
    e->router = zmq_socket(e->ctx, ZMQ_ROUTER);
    CHECK(frame_setup(e->router, ZMQ_ROUTER) == 0);
    if (srv) CHECK(frame_setup_curve(e->router, srv) == 0);
    CHECK(zmq_bind(e->router, endpoint) == 0);
    char bound[256];
    size_t blen = sizeof bound;
    CHECK(zmq_getsockopt(e->router, ZMQ_LAST_ENDPOINT, bound, &blen) == 0);
    endpoint = bound;
    e->loop = loop_new();
    e->credit = 3;
    peer_opts_t o = {.endpoint = endpoint,
                     .zmq_ctx = e->ctx,
                     .loop = e->loop,
                     .role = "worker",
                     .name = "w1",
                     .heartbeat_ms = HB_MS,
                     .dead_after = 2,
                     .on_message = on_message,
                     .on_session = on_session,
                     .hello_credit = hello_credit,
                     .arg = e,
                     .curve = cli};
    char err[256];
    e->peer = peer_new(&o, err, sizeof err);
    CHECK(e->peer != NULL);
    loop_set_before_wait(e->loop, hook, e);
}

static void env_start(env_t *e, const char *endpoint) { env_start_keys(e, endpoint, NULL, NULL); }

static void env_stop(env_t *e)
{
    peer_destroy(&e->peer);
    CHECK(e->peer == NULL);
    loop_destroy(&e->loop);
    zmq_close(e->router);
    zmq_ctx_term(e->ctx);
}

/* Runs the peer's loop until the broker side receives a message of `type` (skipping others);
 * returns it, or type 0 when none came. */
static wire_hdr_t broker_expect(env_t *e, wire_type_t type)
{
    for (int i = 0; i < DEADLINE_PASSES; i++) {
        frame_in_t in;
        char err[300];
        int rc;
        while ((rc = frame_read(e->router, true, &in, err, sizeof err)) != 0) {
            if (rc < 0) continue;
            memcpy(e->ident, in.ident, in.ident_len);
            e->ident_len = in.ident_len;
            wire_hdr_t h = in.h;
            frame_in_close(&in);
            if (h.type == type) return h;
        }
        pass(e);
    }
    return (wire_hdr_t){0};
}

static void broker_send(env_t *e, const wire_hdr_t *h)
{
    CHECK(frame_send(e->router, e->ident, e->ident_len, h, NULL, 0) == 0);
}

static void welcome(env_t *e, const char *instance)
{
    snprintf(e->instance, sizeof e->instance, "%s", instance);
    e->hb_on = true;
    e->hb_n = 4;
    wire_hdr_t w = {.type = WIRE_WELCOME, .n = 4, .heartbeat_ms = HB_MS};
    snprintf(w.name, sizeof w.name, "%s", instance);
    broker_send(e, &w);
}

static bool run_until(env_t *e, bool (*cond)(env_t *))
{
    for (int i = 0; i < DEADLINE_PASSES; i++) {
        if (cond(e)) return true;
        pass(e);
    }
    return cond(e);
}

static bool is_up(env_t *e) { return peer_up(e->peer); }
static bool is_down(env_t *e) { return !peer_up(e->peer); }
static bool got_one(env_t *e) { return e->n_got > 0; }

static void test_handshake_and_messages(void)
{
    env_t e;
    env_start(&e, "inproc://peer-1");
    wire_hdr_t hello = broker_expect(&e, WIRE_HELLO);
    CHECK(hello.type == WIRE_HELLO);
    CHECK_STR(hello.role, "worker");
    CHECK_STR(hello.name, "w1");
    CHECK(hello.n == 3);
    CHECK(!peer_up(e.peer));
    welcome(&e, "broker-A");
    CHECK(run_until(&e, is_up));
    CHECK(e.ups == 1 && e.ups_again == 0);
    CHECK(peer_workers(e.peer) == 4);
    CHECK_STR(peer_broker_id(e.peer), "broker-A");

    /* Heartbeats flow from the peer on its own. */
    CHECK(broker_expect(&e, WIRE_HEARTBEAT).type == WIRE_HEARTBEAT);
    /* Heartbeats from the same instance change nothing; the workers figure follows them. */
    e.hb_n = 7;
    wire_hdr_t shard = {.type = WIRE_SHARD, .shard_id = 5, .lease = 9};
    snprintf(shard.job_id, sizeof shard.job_id, "job-1");
    broker_send(&e, &shard);
    CHECK(run_until(&e, got_one));
    CHECK(e.n_got == 1 && e.got[0].type == WIRE_SHARD && e.got[0].shard_id == 5 && e.got[0].lease == 9);
    CHECK(peer_workers(e.peer) == 7);
    CHECK(peer_up(e.peer) && e.downs == 0);

    /* What the role sends arrives in order. */
    wire_hdr_t r = {.type = WIRE_RESULT, .shard_id = 5, .lease = 9};
    snprintf(r.job_id, sizeof r.job_id, "job-1");
    peer_send(e.peer, &r, "payload", 7);
    wire_hdr_t d = {.type = WIRE_SHARD_DONE, .shard_id = 5, .lease = 9, .n = 1};
    snprintf(d.job_id, sizeof d.job_id, "job-1");
    peer_send(e.peer, &d, NULL, 0);
    CHECK(broker_expect(&e, WIRE_RESULT).shard_id == 5);
    CHECK(broker_expect(&e, WIRE_SHARD_DONE).n == 1);
    env_stop(&e);
}

static void test_session_ends(void)
{
    env_t e;
    env_start(&e, "inproc://peer-2");
    CHECK(broker_expect(&e, WIRE_HELLO).type == WIRE_HELLO);
    welcome(&e, "broker-A");
    CHECK(run_until(&e, is_up));

    /* BYE: the session ends and a new HELLO follows; WELCOME again says `again`. */
    wire_hdr_t bye = {.type = WIRE_BYE};
    broker_send(&e, &bye);
    CHECK(run_until(&e, is_down));
    CHECK(e.downs == 1);
    CHECK(broker_expect(&e, WIRE_HELLO).type == WIRE_HELLO);
    welcome(&e, "broker-A");
    CHECK(run_until(&e, is_up));
    CHECK(e.ups == 2 && e.ups_again == 1);

    /* Heartbeats from another instance: the broker restarted. */
    snprintf(e.instance, sizeof e.instance, "broker-B");
    CHECK(run_until(&e, is_down));
    CHECK(broker_expect(&e, WIRE_HELLO).type == WIRE_HELLO);
    welcome(&e, "broker-B");
    CHECK(run_until(&e, is_up));
    CHECK_STR(peer_broker_id(e.peer), "broker-B");

    /* Silence: after dead_after heartbeat intervals without a word, a new session. */
    e.hb_on = false;
    uint64_t before = peer_reconnects(e.peer);
    CHECK(run_until(&e, is_down));
    CHECK(peer_reconnects(e.peer) == before + 1);
    CHECK(broker_expect(&e, WIRE_HELLO).type == WIRE_HELLO);
    env_stop(&e);
}

/* The outbox: what cannot go waits in order; a new session keeps the job's messages and drops
 * the old session's own. Tested without a broker at all, so nothing can be sent. */
static void test_outbox_across_sessions(void)
{
    void *ctx = zmq_ctx_new();
    loop_t *loop = loop_new();
    env_t e;
    memset(&e, 0, sizeof e);
    /* tcp to a port nobody listens on: DEALER sends fail with EAGAIN (no peer), so all waits. */
    peer_opts_t o = {.endpoint = "tcp://127.0.0.1:1",
                     .zmq_ctx = ctx,
                     .loop = loop,
                     .role = "scheduler",
                     .heartbeat_ms = HB_MS,
                     .dead_after = 2,
                     .on_session = on_session,
                     .arg = &e};
    char err[256];
    peer_t *p = peer_new(&o, err, sizeof err);
    CHECK(p != NULL);
    CHECK(peer_outbox(p) == 1); /* the HELLO */
    wire_hdr_t submit = {.type = WIRE_SUBMIT, .shard_id = 1};
    snprintf(submit.job_id, sizeof submit.job_id, "job-1");
    peer_send(p, &submit, "x", 1);
    wire_hdr_t credit = {.type = WIRE_CREDIT, .n = 1};
    peer_send(p, &credit, NULL, 0);
    wire_hdr_t cancel = {.type = WIRE_CANCEL};
    snprintf(cancel.job_id, sizeof cancel.job_id, "job-1");
    peer_send(p, &cancel, NULL, 0);
    wire_hdr_t ret = {.type = WIRE_RETURN, .shard_id = 1, .lease = 3};
    snprintf(ret.job_id, sizeof ret.job_id, "job-1");
    peer_send(p, &ret, NULL, 0);
    CHECK(peer_outbox(p) == 5);
    /* Silence ends the session: HELLO, CREDIT and RETURN (its lease was the old session's) go,
     * SUBMIT and CANCEL stay behind a new HELLO. */
    for (int i = 0; i < DEADLINE_PASSES && peer_reconnects(p) == 0; i++) loop_run_once(loop, 5);
    CHECK(peer_reconnects(p) >= 1);
    CHECK(e.downs >= 1);
    size_t n = peer_outbox(p);
    /* new HELLO + SUBMIT + CANCEL, plus heartbeats of the new session queued since */
    CHECK(n >= 3);
    peer_destroy(&p);
    loop_destroy(&loop);
    zmq_ctx_term(ctx);
}

static void test_frame_read(void)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(frame_setup(router, ZMQ_ROUTER) == 0 && frame_setup(dealer, ZMQ_DEALER) == 0);
    CHECK(zmq_bind(router, "inproc://frame") == 0 && zmq_connect(dealer, "inproc://frame") == 0);
    frame_in_t in;
    char err[300];
    CHECK(frame_read(router, true, &in, err, sizeof err) == 0); /* nothing waiting */

    wire_hdr_t h = {.type = WIRE_SUBMIT, .shard_id = 3};
    snprintf(h.job_id, sizeof h.job_id, "j");
    CHECK(frame_send(dealer, NULL, 0, &h, "abc", 3) == 0);
    int rc = 0;
    for (int i = 0; i < 1000 && (rc = frame_read(router, true, &in, err, sizeof err)) == 0; i++) zmq_poll(NULL, 0, 1);
    CHECK(rc == 1);
    CHECK(in.ident_len == 16 && in.h.type == WIRE_SUBMIT && in.h.shard_id == 3);
    CHECK(in.payload_len == 3 && memcmp(in.payload, "abc", 3) == 0);
    unsigned char ident[FRAME_MAX_IDENT];
    size_t ilen = in.ident_len;
    memcpy(ident, in.ident, ilen);
    frame_in_close(&in);

    /* Not protocol v1: garbage header, too many frames. Each is dropped with a reason. */
    CHECK(zmq_send(dealer, "\xc1", 1, 0) == 1);
    for (int i = 0; i < 1000 && (rc = frame_read(router, true, &in, err, sizeof err)) == 0; i++) zmq_poll(NULL, 0, 1);
    CHECK(rc == -2);
    CHECK_HAS(err, "malformed");
    for (int k = 0; k < 3; k++) CHECK(zmq_send(dealer, "x", 1, ZMQ_SNDMORE) == 1);
    CHECK(zmq_send(dealer, "x", 1, 0) == 1);
    for (int i = 0; i < 1000 && (rc = frame_read(router, true, &in, err, sizeof err)) == 0; i++) zmq_poll(NULL, 0, 1);
    CHECK(rc == -2);
    CHECK_HAS(err, "frame(s)");

    /* The DEALER side reads without an identity frame. */
    wire_hdr_t w = {.type = WIRE_WELCOME, .heartbeat_ms = 50};
    CHECK(frame_send(router, ident, ilen, &w, NULL, 0) == 0);
    for (int i = 0; i < 1000 && (rc = frame_read(dealer, false, &in, err, sizeof err)) == 0; i++) zmq_poll(NULL, 0, 1);
    CHECK(rc == 1 && in.ident == NULL && in.h.type == WIRE_WELCOME && in.h.heartbeat_ms == 50 && !in.payload);
    frame_in_close(&in);
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

/* CURVE: the same session over TCP with the peer's keys (the test's ROUTER has no ZAP handler,
 * so any client key is let in); a peer with the wrong broker key never gets its HELLO through. */
static void test_curve_session(void)
{
    curve_keys_t srv, cli;
    CHECK(curve_keygen(&srv) == 0 && curve_keygen(&cli) == 0);
    memcpy(cli.server, srv.public_key, sizeof cli.server);
    env_t e;
    env_start_keys(&e, "tcp://127.0.0.1:*", &srv, &cli);
    curve_wipe(&cli); /* the peer keeps its own copy */
    CHECK(broker_expect(&e, WIRE_HELLO).type == WIRE_HELLO);
    welcome(&e, "broker-C");
    CHECK(run_until(&e, is_up));
    wire_hdr_t r = {.type = WIRE_RESULT, .shard_id = 2, .lease = 1};
    snprintf(r.job_id, sizeof r.job_id, "job-c");
    peer_send(e.peer, &r, "p", 1);
    CHECK(broker_expect(&e, WIRE_RESULT).shard_id == 2);
    env_stop(&e);

    curve_keys_t other;
    CHECK(curve_keygen(&cli) == 0 && curve_keygen(&other) == 0);
    memcpy(cli.server, other.public_key, sizeof cli.server);
    env_start_keys(&e, "tcp://127.0.0.1:*", &srv, &cli);
    CHECK(broker_expect(&e, WIRE_HELLO).type == 0);
    CHECK(!peer_up(e.peer));
    env_stop(&e);
}

int main(void)
{
    log_set_level(getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
    test_frame_read();
    test_handshake_and_messages();
    test_session_ends();
    test_outbox_across_sessions();
    test_curve_session();
    return check_summary("test_peer");
}
