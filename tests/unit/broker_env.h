/* broker_env: the harness of the broker's unit tests (test_broker.c, test_blease.c): a broker
 * run in-process on a thread on its own inproc endpoint, with a logical liveness clock that only
 * the test moves, and test peers (DEALER sockets with the real wire encoders) that heartbeat
 * while the test waits. See test_broker.c's comment for how waits and "nothing more arrives" are
 * judged. Header-only: each test program uses part of it. */
#ifndef LLMAJ_TEST_BROKER_ENV_H
#define LLMAJ_TEST_BROKER_ENV_H
#pragma GCC diagnostic ignored "-Wunused-function"
#include "broker.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "record.h"
#include "result.h"
#include "wire.h"
#include "frame.h"
#include "check.h"

#define DEADLINE_MS 10000 /* generous: the machine may be loaded and the build sanitized */
#define PEER_HB_MS 10     /* how often the test peers heartbeat */
#define K "openai|gpt-4o|https://api.example|abc123"

/* ---- test peers ---------------------------------------------------------------------------- */

typedef struct {
    wire_hdr_t h;
    unsigned char *payload; /* NULL when the message had none */
    size_t len;
} msg_t;

typedef struct {
    void *sock;
    char name[64];
    bool auto_hb; /* the pump heartbeats for it (set by HELLO) */
    int64_t last_hb_sent;
    unsigned char *demand; /* DEMAND payload repeated with every heartbeat, or NULL */
    size_t demand_len;
    msg_t *inbox; /* received and not taken yet (heartbeats and ALLOTs excluded) */
    size_t n_inbox;
    uint32_t hb_count; /* heartbeats received from the broker */
    uint32_t hb_n;     /* the figure in the last one */
    char hb_name[WIRE_MAX_ID];
    wire_rate_t *allot; /* the last ALLOT table received */
    size_t n_allot;
    uint32_t allot_count;
} peer_t;

#define MAX_PEERS 128
typedef struct {
    void *ctx;
    broker_t *b;
    pthread_t thread;
    int run_rc;
    peer_t *peers[MAX_PEERS];
    int n_peers;
    char instance[WIRE_MAX_ID]; /* from the first WELCOME */
    int heartbeat_ms;
    int dead_after;
    _Atomic int64_t clock_ms; /* the broker's liveness clock: moved by silence() only */
} env_t;

static int64_t test_clock(void *arg)
{
    env_t *e = arg;
    return atomic_load(&e->clock_ms);
}

static void *broker_thread(void *arg)
{
    env_t *e = arg;
    e->run_rc = broker_run(e->b);
    return NULL;
}

/* Set before env_start to change the broker's lease floor and stall time (0: the defaults). */
static int64_t env_lease_floor_ms, env_stall_after_ms;

static int env_start(env_t *e, int heartbeat_ms, int dead_after)
{
    static int n;
    memset(e, 0, sizeof(*e));
    e->ctx = zmq_ctx_new();
    broker_opts_t o;
    broker_opts_default(&o);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://test-broker-%d", ++n);
    o.endpoint = ep;
    o.zmq_ctx = e->ctx;
    o.heartbeat_ms = heartbeat_ms;
    o.dead_after = dead_after;
    if (env_lease_floor_ms) o.lease_floor_ms = env_lease_floor_ms;
    if (env_stall_after_ms) o.stall_after_ms = env_stall_after_ms;
    e->heartbeat_ms = heartbeat_ms;
    e->dead_after = dead_after;
    atomic_store(&e->clock_ms, 1000000);
    o.clock_ms = test_clock;
    o.clock_arg = e;
    char err[256] = "";
    e->b = broker_new(&o, err, sizeof err);
    CHECK(e->b != NULL);
    if (!e->b) {
        fprintf(stderr, "broker_new: %s\n", err);
        zmq_ctx_term(e->ctx);
        return -1;
    }
    CHECK(strcmp(broker_endpoint(e->b), ep) == 0);
    if (pthread_create(&e->thread, NULL, broker_thread, e) != 0) {
        broker_destroy(&e->b);
        zmq_ctx_term(e->ctx);
        return -1;
    }
    return 0;
}

static void peer_free_msgs(peer_t *p)
{
    for (size_t i = 0; i < p->n_inbox; i++) free(p->inbox[i].payload);
    free(p->inbox);
    p->inbox = NULL;
    p->n_inbox = 0;
    wire_rates_free(p->allot, p->n_allot);
    p->allot = NULL;
    p->n_allot = 0;
}

static void env_stop(env_t *e)
{
    broker_stop(e->b);
    pthread_join(e->thread, NULL);
    CHECK(e->run_rc == 0);
    for (int i = 0; i < e->n_peers; i++) {
        peer_t *p = e->peers[i];
        zmq_close(p->sock);
        peer_free_msgs(p);
        free(p->demand);
        free(p);
    }
    broker_destroy(&e->b);
    CHECK(e->b == NULL);
    zmq_ctx_term(e->ctx);
}

static peer_t *peer_new(env_t *e, const char *name)
{
    peer_t *p = xcalloc(1, sizeof(*p));
    snprintf(p->name, sizeof p->name, "%s", name);
    p->sock = zmq_socket(e->ctx, ZMQ_DEALER);
    if (frame_setup(p->sock, ZMQ_DEALER) < 0) failures++;
    zmq_setsockopt(p->sock, ZMQ_ROUTING_ID, name, strlen(name));
    if (zmq_connect(p->sock, broker_endpoint(e->b)) < 0) failures++;
    if (e->n_peers < MAX_PEERS) e->peers[e->n_peers++] = p;
    else failures++;
    return p;
}

static void send_hdr(peer_t *p, const wire_hdr_t *h, const void *payload, size_t len)
{
    if (frame_send(p->sock, NULL, 0, h, payload, len) < 0) {
        fprintf(stderr, "%s: send %s failed: %s\n", p->name, wire_type_name(h->type), zmq_strerror(errno));
        failures++;
    }
}

/* Raw frames, for malformed input. */
static void send_frames(peer_t *p, const void *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(p->sock, frames[i], lens[i], (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) failures++;
}

static void hello(peer_t *p, const char *role, uint32_t credit)
{
    wire_hdr_t h = {.type = WIRE_HELLO, .n = credit, .threads = 4};
    snprintf(h.role, sizeof h.role, "%s", role);
    snprintf(h.name, sizeof h.name, "%s", p->name);
    send_hdr(p, &h, NULL, 0);
    p->auto_hb = true; /* like a real peer, heartbeats from the HELLO on */
}

static void submit(peer_t *p, const char *job, uint64_t shard, const void *payload, size_t len)
{
    wire_hdr_t h = {.type = WIRE_SUBMIT, .shard_id = shard};
    snprintf(h.job_id, sizeof h.job_id, "%s", job);
    send_hdr(p, &h, payload, len);
}

static void credit(peer_t *p, uint32_t n)
{
    wire_hdr_t h = {.type = WIRE_CREDIT, .n = n};
    send_hdr(p, &h, NULL, 0);
}

static void to_broker(peer_t *p, wire_type_t type, const char *job, uint64_t shard, uint64_t lease, uint32_t n,
                      const void *payload, size_t len)
{
    wire_hdr_t h = {.type = type, .shard_id = shard, .lease = lease, .n = n};
    if (job) snprintf(h.job_id, sizeof h.job_id, "%s", job);
    send_hdr(p, &h, payload, len);
}

static void bye(peer_t *p)
{
    wire_hdr_t h = {.type = WIRE_BYE};
    send_hdr(p, &h, NULL, 0);
    p->auto_hb = false;
}

static void set_demand(peer_t *p, const char *key, double rpm, double tpm, uint32_t conc, uint32_t demand)
{
    wire_rate_t row = {.key = (char *)key, .rpm = rpm, .tpm = tpm, .demand = demand, .max_concurrency = conc};
    buf_t b;
    buf_init(&b, WIRE_MAX_MSG);
    if (wire_rates_encode(&row, 1, &b) < 0) failures++;
    free(p->demand);
    p->demand = xmalloc(b.len);
    memcpy(p->demand, b.data, b.len);
    p->demand_len = b.len;
    buf_free(&b);
    wire_hdr_t h = {.type = WIRE_DEMAND};
    send_hdr(p, &h, p->demand, p->demand_len);
}

/* Receives everything waiting on p. */
static void peer_drain(peer_t *p)
{
    for (;;) {
        frame_msg_t m;
        int rc = frame_recv(p->sock, &m);
        if (rc <= 0) return;
        wire_hdr_t h;
        char err[256];
        if (m.n < 1 || m.dropped || m.n > 2 ||
            wire_hdr_decode(zmq_msg_data(&m.frames[0]), zmq_msg_size(&m.frames[0]), &h, err, sizeof err) < 0) {
            fprintf(stderr, "%s: the broker sent a malformed message (%d frames): %s\n", p->name, m.n, err);
            failures++;
            frame_msg_close(&m);
            continue;
        }
        const void *pl = m.n > 1 ? zmq_msg_data(&m.frames[1]) : NULL;
        size_t plen = m.n > 1 ? zmq_msg_size(&m.frames[1]) : 0;
        if (h.type == WIRE_HEARTBEAT) {
            p->hb_count++;
            p->hb_n = h.n;
            snprintf(p->hb_name, sizeof p->hb_name, "%s", h.name);
        } else if (h.type == WIRE_ALLOT) {
            wire_rate_t *rows = NULL;
            size_t n = 0;
            if (!pl || wire_rates_decode(pl, plen, &rows, &n, err, sizeof err) < 0) {
                fprintf(stderr, "%s: bad ALLOT: %s\n", p->name, pl ? err : "no payload");
                failures++;
            } else {
                wire_rates_free(p->allot, p->n_allot);
                p->allot = rows;
                p->n_allot = n;
                p->allot_count++;
            }
        } else {
            p->inbox = xrealloc(p->inbox, (p->n_inbox + 1) * sizeof(msg_t));
            msg_t *g = &p->inbox[p->n_inbox++];
            g->h = h;
            g->len = plen;
            g->payload = NULL;
            if (pl) {
                g->payload = xmalloc(plen);
                memcpy(g->payload, pl, plen);
            }
        }
        frame_msg_close(&m);
    }
}

/* A heartbeat from p (and its DEMAND, repeated as real workers do). */
static void beat(peer_t *p, int64_t now)
{
    wire_hdr_t h = {.type = WIRE_HEARTBEAT};
    send_hdr(p, &h, NULL, 0);
    if (p->demand) {
        wire_hdr_t d = {.type = WIRE_DEMAND};
        send_hdr(p, &d, p->demand, p->demand_len);
    }
    p->last_hb_sent = now;
}

/* One round: heartbeats (and DEMANDs) from the live test peers, then a short poll and drain. */
static void pump(env_t *e)
{
    int64_t now = loop_now_ms();
    zmq_pollitem_t items[MAX_PEERS];
    for (int i = 0; i < e->n_peers; i++) {
        peer_t *p = e->peers[i];
        if (p->auto_hb && now - p->last_hb_sent >= PEER_HB_MS) beat(p, now);
        items[i] = (zmq_pollitem_t){.socket = p->sock, .events = ZMQ_POLLIN};
    }
    if (zmq_poll(items, e->n_peers, 5) < 0) return;
    for (int i = 0; i < e->n_peers; i++) peer_drain(e->peers[i]);
}

static int count_type(const peer_t *p, wire_type_t t)
{
    int n = 0;
    for (size_t i = 0; i < p->n_inbox; i++) n += p->inbox[i].h.type == t;
    return n;
}

/* Waits for the first message of type t in p's inbox; takes it out. 0 / -1 on timeout. */
static int wait_msg(env_t *e, peer_t *p, wire_type_t t, msg_t *out)
{
    int64_t end = loop_now_ms() + DEADLINE_MS;
    for (;;) {
        for (size_t i = 0; i < p->n_inbox; i++) {
            if (p->inbox[i].h.type != t) continue;
            *out = p->inbox[i];
            memmove(&p->inbox[i], &p->inbox[i + 1], (p->n_inbox - i - 1) * sizeof(msg_t));
            p->n_inbox--;
            return 0;
        }
        if (loop_now_ms() > end) break;
        pump(e);
    }
    fprintf(stderr, "%s: no %s within %d ms\n", p->name, wire_type_name(t), DEADLINE_MS);
    memset(out, 0, sizeof(*out));
    return -1;
}

static void msg_free(msg_t *m)
{
    free(m->payload);
    m->payload = NULL;
}

/* Two more broker heartbeats to p: everything sent before has been handled by then. Only
 * heartbeats sent after this call count, so what already waits in p's socket is read first (on a
 * loaded machine several may have piled up there, sent before the messages we mean to settle). */
static void settle(env_t *e, peer_t *p)
{
    peer_drain(p);
    uint32_t want = p->hb_count + 2;
    int64_t end = loop_now_ms() + DEADLINE_MS;
    while (p->hb_count < want && loop_now_ms() <= end) pump(e);
    CHECK(p->hb_count >= want);
}

/* p goes silent, and enough logical time passes for the broker to declare it dead at its next
 * heartbeat tick (the caller waits for that outcome); every other live peer stays alive. */
static void silence(env_t *e, peer_t *p)
{
    p->auto_hb = false;
    /* p's last message may be handled after the first step: one step more than the dead line. */
    for (int step = 0; step < e->dead_after + 2; step++) {
        atomic_fetch_add(&e->clock_ms, e->heartbeat_ms);
        peer_t *live = NULL;
        for (int i = 0; i < e->n_peers; i++) {
            if (!e->peers[i]->auto_hb) continue;
            beat(e->peers[i], loop_now_ms());
            if (!live) live = e->peers[i];
        }
        CHECK(live != NULL); /* a scenario keeps some peer alive to watch the ticks */
        if (!live) return;
        settle(e, live);
    }
}

typedef bool (*stats_pred)(const broker_stats_t *s, const void *arg);

static bool wait_stats(env_t *e, stats_pred pred, const void *arg, broker_stats_t *out)
{
    int64_t end = loop_now_ms() + DEADLINE_MS;
    for (;;) {
        broker_get_stats(e->b, out);
        if (pred(out, arg)) return true;
        if (loop_now_ms() > end) return false;
        pump(e);
    }
}

static bool p_dropped_above(const broker_stats_t *s, const void *arg)
{
    return s->messages_dropped > *(const uint64_t *)arg;
}
static bool p_died(const broker_stats_t *s, const void *arg) { return s->workers_died >= *(const uint64_t *)arg; }
static bool p_queued(const broker_stats_t *s, const void *arg) { return s->shards_queued == *(const uint64_t *)arg; }
static bool p_refused_above(const broker_stats_t *s, const void *arg)
{
    return s->results_refused > *(const uint64_t *)arg;
}

/* The last ALLOT p received has `key` with these shares; waits for it. */
static bool wait_allot(env_t *e, peer_t *p, const char *key, double rpm, double tpm, uint32_t conc)
{
    int64_t end = loop_now_ms() + DEADLINE_MS;
    for (;;) {
        for (size_t i = 0; i < p->n_allot; i++) {
            const wire_rate_t *r = &p->allot[i];
            if (strcmp(r->key, key) == 0 && fabs(r->rpm - rpm) < 1e-6 && fabs(r->tpm - tpm) < 1e-6 &&
                r->max_concurrency == conc)
                return true;
        }
        if (loop_now_ms() > end) break;
        pump(e);
    }
    fprintf(stderr, "%s: no ALLOT %s = %g rpm, %g tpm, %u calls; last:", p->name, key, rpm, tpm, conc);
    for (size_t i = 0; i < p->n_allot; i++)
        fprintf(stderr, " %s = %g/%g/%u", p->allot[i].key, p->allot[i].rpm, p->allot[i].tpm,
                p->allot[i].max_concurrency);
    fprintf(stderr, "\n");
    return false;
}

/* ---- payloads -------------------------------------------------------------------------------- */

/* A real shard payload (wire_shard_encode); `big` makes its prompt large. */
static void make_shard(buf_t *out, const char *job, uint64_t shard, size_t big)
{
    char prompt[128];
    snprintf(prompt, sizeof prompt, "What is %s/%llu?", job, (unsigned long long)shard);
    char *text = NULL;
    if (big) {
        text = xmalloc(big + 1);
        for (size_t i = 0; i < big; i++) text[i] = (char)('a' + (i * 7 + shard) % 26);
        text[big] = '\0';
    }
    record_t recs[2] = {{.index = shard * 2, .id = "r1", .prompt = big ? text : prompt, .reference = "42"},
                        {.index = shard * 2 + 1, .prompt = prompt, .category = "math"}};
    buf_init(out, WIRE_MAX_MSG);
    if (wire_shard_encode("{\"job\":\"spec\"}", recs, 2, out) < 0) failures++;
    free(text);
}

static void make_result(buf_t *out, const char *job, uint64_t shard, uint64_t idx)
{
    result_t r = {.job_id = (char *)job,
                  .shard_id = shard,
                  .record_index = idx,
                  .target = TARGET_CUSTOM,
                  .model = "openai:gpt-4o",
                  .response = "forty-two",
                  .latency_ms = 12.5};
    buf_init(out, WIRE_MAX_MSG);
    if (wire_result_encode(&r, out) < 0) failures++;
}

static bool same_bytes(const msg_t *m, const buf_t *b)
{
    return m->payload && m->len == b->len && memcmp(m->payload, b->data, b->len) == 0;
}

/* ---- scenarios ------------------------------------------------------------------------------- */

#endif
