/* test_broker: the broker (broker/broker.c) run in-process on a thread, with the test playing the
 * schedulers and workers over DEALER sockets and the real wire encoders. Each scenario starts a
 * fresh broker on its own inproc endpoint with a short heartbeat.
 *
 * Assertions are about behaviour, never timings: waits poll against generous deadlines, and
 * "nothing more arrives" is checked after the broker has sent two more heartbeats to the peer,
 * counted from the first sent after the check began (every message sent before is then handled:
 * the broker reads its socket between two heartbeat ticks). The test peers heartbeat themselves (and repeat
 * their DEMAND) while the test waits, as real peers do, unless a scenario makes one go silent.
 *
 * Liveness and the ageing of DEMANDs run on a logical clock (broker_opts_t.clock_ms) that only
 * the test moves: however long the machine keeps this process off the CPU, no peer is declared
 * dead, and no demand goes stale, by accident.
 * To let a silent peer die, silence() advances the clock one heartbeat interval at a time and,
 * after every step, has each live peer heartbeat and waits until the broker has handled it, so
 * the live peers are never more than one interval behind and only the silent one crosses the
 * dead line. (Before the clock, a loaded machine that starved this thread for 300 ms let the
 * broker declare live peers dead or their demand stale: test_worker_loss failed its lease counts,
 * test_allotment saw shares move.) */
#include "broker_env.h"

static void test_hello_heartbeat(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched-1"), *w1 = peer_new(&e, "worker-1");
    hello(s, "scheduler", 0);
    msg_t m;
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    CHECK(m.h.heartbeat_ms == 50);
    CHECK(strncmp(m.h.name, "broker-", 7) == 0);
    snprintf(e.instance, sizeof e.instance, "%s", m.h.name);
    CHECK(m.payload == NULL);
    CHECK(m.h.n == 0); /* workers connected */
    hello(w1, "worker", 2);
    CHECK(wait_msg(&e, w1, WIRE_WELCOME, &m) == 0);
    CHECK(m.h.heartbeat_ms == 50 && strcmp(m.h.name, e.instance) == 0 && m.h.n == 1);

    /* Heartbeats carry the instance id and the number of workers. */
    settle(&e, w1);
    CHECK(w1->hb_n == 1 && strcmp(w1->hb_name, e.instance) == 0);
    CHECK(s->hb_count > 0 && s->hb_n == 1);
    peer_t *w2 = peer_new(&e, "worker-2");
    hello(w2, "worker", 1);
    CHECK(wait_msg(&e, w2, WIRE_WELCOME, &m) == 0);
    CHECK(m.h.n == 2);
    settle(&e, s);
    settle(&e, s);
    CHECK(s->hb_n == 2 && w1->hb_n == 2 && w2->hb_n == 2);
    broker_stats_t st;
    broker_get_stats(e.b, &st);
    CHECK(st.workers_alive == 2 && st.schedulers_alive == 1);
    CHECK(st.shards_queued == 0 && st.shards_leased == 0 && st.messages_dropped == 0);

    /* A second HELLO from the same peer is a restart: welcomed again. */
    hello(w2, "worker", 1);
    CHECK(wait_msg(&e, w2, WIRE_WELCOME, &m) == 0);
    settle(&e, s);
    broker_get_stats(e.b, &st);
    CHECK(st.workers_alive == 2);

    /* BYE: the peer is gone, the count follows. */
    bye(w2);
    settle(&e, s);
    settle(&e, s);
    CHECK(s->hb_n == 1);
    broker_get_stats(e.b, &st);
    CHECK(st.workers_alive == 1);
    env_stop(&e);
}

static void test_credit_dispatch(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *w = peer_new(&e, "worker");
    hello(s, "scheduler", 0);
    msg_t m;
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    buf_t pay[10];
    for (int i = 0; i < 10; i++) {
        make_shard(&pay[i], "job-1", (uint64_t)i + 1, i == 6 ? 300000 : 0);
        submit(s, "job-1", (uint64_t)i + 1, pay[i].data, pay[i].len);
    }
    uint64_t ten = 10;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_queued, &ten, &st));

    hello(w, "worker", 2);
    CHECK(wait_msg(&e, w, WIRE_WELCOME, &m) == 0);
    uint64_t last_lease = 0;
    int next = 1, in_order = 1, intact = 1, leases_up = 1, first_try = 1;
#define TAKE_SHARD()                                                                          \
    do {                                                                                      \
        msg_t g;                                                                              \
        if (wait_msg(&e, w, WIRE_SHARD, &g) < 0) {                                            \
            failures++;                                                                       \
            break;                                                                            \
        }                                                                                     \
        if (strcmp(g.h.job_id, "job-1") != 0 || g.h.shard_id != (uint64_t)next) in_order = 0; \
        if (g.h.lease <= last_lease) leases_up = 0;                                           \
        if (g.h.n != 1) first_try = 0;                                                        \
        if (next >= 1 && next <= 10 && !same_bytes(&g, &pay[next - 1])) intact = 0;           \
        last_lease = g.h.lease;                                                               \
        next++;                                                                               \
        msg_free(&g);                                                                         \
    } while (0)
    TAKE_SHARD();
    TAKE_SHARD();
    /* Credit 2: two shards, however many wait. */
    uint64_t eight = 8;
    CHECK(wait_stats(&e, p_queued, &eight, &st));
    settle(&e, w);
    settle(&e, w);
    CHECK(count_type(w, WIRE_SHARD) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 8 && st.shards_leased == 2 && st.shards_dispatched == 2);

    /* CREDIT 1: exactly one more. */
    credit(w, 1);
    TAKE_SHARD();
    settle(&e, w);
    settle(&e, w);
    CHECK(count_type(w, WIRE_SHARD) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 7 && st.shards_leased == 3);

    /* The rest, in order, with increasing leases and the bytes the scheduler sent. */
    credit(w, 7);
    for (int i = 0; i < 7; i++) TAKE_SHARD();
    CHECK(next == 11);
    CHECK(in_order && intact && leases_up && first_try);
    settle(&e, w);
    CHECK(count_type(w, WIRE_SHARD) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 0 && st.shards_leased == 10 && st.shards_dispatched == 10);

    /* Spare credit waits for work: the next submission goes out at once. */
    credit(w, 1);
    buf_t extra;
    make_shard(&extra, "job-2", 1, 0);
    submit(s, "job-2", 1, extra.data, extra.len);
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-2") == 0 && m.h.shard_id == 1 && m.h.lease > last_lease && same_bytes(&m, &extra));
    msg_free(&m);
    buf_free(&extra);

    /* Two workers: work goes to the one with credit. */
    peer_t *w2 = peer_new(&e, "worker-2");
    hello(w2, "worker", 1);
    make_shard(&extra, "job-3", 1, 0);
    submit(s, "job-3", 1, extra.data, extra.len);
    CHECK(wait_msg(&e, w2, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-3") == 0 && same_bytes(&m, &extra));
    msg_free(&m);
    buf_free(&extra);
    settle(&e, w);
    CHECK(count_type(w, WIRE_SHARD) == 0);
    for (int i = 0; i < 10; i++) buf_free(&pay[i]);
#undef TAKE_SHARD
    env_stop(&e);
}

static void test_duplicate_submit(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched");
    hello(s, "scheduler", 0);
    msg_t m;
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    buf_t a, a2, c;
    make_shard(&a, "job-d", 1, 0);
    make_shard(&a2, "job-d", 1, 100); /* same job and shard, other bytes */
    make_shard(&c, "job-e", 1, 0);    /* same shard number, other job */
    submit(s, "job-d", 1, a.data, a.len);
    submit(s, "job-d", 1, a.data, a.len);
    submit(s, "job-d", 1, a2.data, a2.len);
    settle(&e, s);
    broker_stats_t st;
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 1); /* queued once */

    peer_t *w = peer_new(&e, "worker");
    hello(w, "worker", 10);
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-d") == 0 && m.h.shard_id == 1 && same_bytes(&m, &a));
    uint64_t lease = m.h.lease;
    msg_free(&m);
    /* Leased: a resubmission is ignored too. */
    submit(s, "job-d", 1, a.data, a.len);
    submit(s, "job-e", 1, c.data, c.len); /* not a duplicate */
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-e") == 0 && same_bytes(&m, &c));
    msg_free(&m);
    settle(&e, w);
    settle(&e, w);
    CHECK(count_type(w, WIRE_SHARD) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_dispatched == 2 && st.shards_leased == 2 && st.shards_queued == 0);

    /* Once done, the shard is no longer held: submitting it again is new work. */
    to_broker(w, WIRE_SHARD_DONE, "job-d", 1, lease, 2, NULL, 0);
    CHECK(wait_msg(&e, s, WIRE_SHARD_DONE, &m) == 0);
    submit(s, "job-d", 1, a.data, a.len);
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-d") == 0 && m.h.lease > lease);
    msg_free(&m);
    buf_free(&a);
    buf_free(&a2);
    buf_free(&c);
    env_stop(&e);
}

static void test_forwarding(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s1 = peer_new(&e, "sched-1"), *s2 = peer_new(&e, "sched-2"), *w = peer_new(&e, "worker");
    hello(s1, "scheduler", 0);
    hello(s2, "scheduler", 0);
    msg_t m;
    CHECK(wait_msg(&e, s1, WIRE_WELCOME, &m) == 0);
    CHECK(wait_msg(&e, s2, WIRE_WELCOME, &m) == 0);
    buf_t pa, pb;
    make_shard(&pa, "job-a", 1, 0);
    make_shard(&pb, "job-b", 7, 0);
    submit(s1, "job-a", 1, pa.data, pa.len);
    submit(s2, "job-b", 7, pb.data, pb.len);
    hello(w, "worker", 2);
    msg_t g1, g2;
    CHECK(wait_msg(&e, w, WIRE_SHARD, &g1) == 0);
    CHECK(wait_msg(&e, w, WIRE_SHARD, &g2) == 0);
    msg_t *ga = strcmp(g1.h.job_id, "job-a") == 0 ? &g1 : &g2, *gb = ga == &g1 ? &g2 : &g1;
    CHECK(strcmp(ga->h.job_id, "job-a") == 0 && strcmp(gb->h.job_id, "job-b") == 0);

    /* RESULT for job-b goes to sched-2 only, payload intact. */
    buf_t rb, ra;
    make_result(&rb, "job-b", 7, 3);
    make_result(&ra, "job-a", 1, 0);
    to_broker(w, WIRE_RESULT, "job-b", 7, gb->h.lease, 0, rb.data, rb.len);
    CHECK(wait_msg(&e, s2, WIRE_RESULT, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-b") == 0 && m.h.shard_id == 7 && m.h.lease == gb->h.lease && same_bytes(&m, &rb));
    result_t dec = {0};
    char err[256];
    CHECK(m.payload && wire_result_decode(m.payload, m.len, &dec, err, sizeof err) == 0 && dec.record_index == 3);
    result_clear(&dec);
    msg_free(&m);
    to_broker(w, WIRE_RESULT, "job-a", 1, ga->h.lease, 0, ra.data, ra.len);
    to_broker(w, WIRE_SHARD_DONE, "job-a", 1, ga->h.lease, 1, NULL, 0);
    CHECK(wait_msg(&e, s1, WIRE_RESULT, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-a") == 0 && same_bytes(&m, &ra));
    msg_free(&m);
    CHECK(wait_msg(&e, s1, WIRE_SHARD_DONE, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-a") == 0 && m.h.shard_id == 1 && m.h.lease == ga->h.lease && m.h.n == 1 &&
          m.payload == NULL);
    settle(&e, s1);
    settle(&e, s2);
    CHECK(count_type(s1, WIRE_RESULT) == 0 && count_type(s2, WIRE_RESULT) == 0);
    CHECK(count_type(s2, WIRE_SHARD_DONE) == 0);
    CHECK(count_type(w, WIRE_RESULT) == 0 && count_type(w, WIRE_SHARD_DONE) == 0);
    broker_stats_t st;
    broker_get_stats(e.b, &st);
    CHECK(st.results_forwarded == 2 && st.shards_done == 1 && st.shards_leased == 1);

    /* A result from a peer without a session (a stranger, or a worker declared dead that finished
     * anyway) is dropped and counted: its leases ended with its session. It is told BYE, to start
     * a new session. */
    peer_t *ghost = peer_new(&e, "ghost");
    to_broker(ghost, WIRE_RESULT, "job-b", 7, 99, 0, rb.data, rb.len);
    CHECK(wait_msg(&e, ghost, WIRE_BYE, &m) == 0);
    settle(&e, s2);
    CHECK(count_type(s2, WIRE_RESULT) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.results_refused == 1 && st.results_forwarded == 2);
    /* A worker with a session but not that lease: dropped and counted too. */
    to_broker(w, WIRE_RESULT, "job-b", 7, gb->h.lease + 1000, 0, rb.data, rb.len);
    to_broker(w, WIRE_SHARD_DONE, "job-b", 7, gb->h.lease + 1000, 1, NULL, 0);
    settle(&e, s2);
    CHECK(count_type(s2, WIRE_RESULT) == 0 && count_type(s2, WIRE_SHARD_DONE) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.results_refused == 3 && st.shards_leased == 1);
    CHECK(ghost->hb_count == 0); /* no heartbeats without a session */

    msg_free(&g1);
    msg_free(&g2);
    buf_free(&pa);
    buf_free(&pb);
    buf_free(&ra);
    buf_free(&rb);
    env_stop(&e);
}

static void test_worker_loss(void)
{
    env_t e;
    if (env_start(&e, 50, 6) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *w1 = peer_new(&e, "w1"), *w2 = peer_new(&e, "w2");
    hello(s, "scheduler", 0);
    msg_t m;
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    buf_t pay[4];
    for (int i = 0; i < 4; i++) {
        make_shard(&pay[i], "job-l", (uint64_t)i + 1, 0);
        submit(s, "job-l", (uint64_t)i + 1, pay[i].data, pay[i].len);
    }
    hello(w1, "worker", 2);
    hello(w2, "worker", 0);
    msg_t a, b;
    CHECK(wait_msg(&e, w1, WIRE_SHARD, &a) == 0);
    CHECK(wait_msg(&e, w1, WIRE_SHARD, &b) == 0);
    CHECK(a.h.shard_id == 1 && b.h.shard_id == 2);
    uint64_t old_lease = b.h.lease;
    msg_free(&a);
    msg_free(&b);

    /* w1 goes silent: declared dead, its two leases back at the front of the queue. */
    silence(&e, w1);
    uint64_t one = 1;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_died, &one, &st));
    CHECK(st.shards_requeued == 2 && st.shards_queued == 4 && st.shards_leased == 0 && st.workers_alive == 1);
    credit(w2, 2);
    CHECK(wait_msg(&e, w2, WIRE_SHARD, &a) == 0);
    CHECK(wait_msg(&e, w2, WIRE_SHARD, &b) == 0);
    CHECK(a.h.shard_id == 1 && b.h.shard_id == 2); /* first in the queue */
    CHECK(a.h.n == 2 && b.h.n == 2);               /* second attempt */
    CHECK(a.h.lease > old_lease && b.h.lease > a.h.lease);
    CHECK(same_bytes(&a, &pay[0]) && same_bytes(&b, &pay[1]));
    msg_free(&a);
    msg_free(&b);

    /* A late SHARD_DONE from the dead worker is dropped (its lease ended with its session) and
     * counted; the worker is told its session is over. */
    to_broker(w1, WIRE_SHARD_DONE, "job-l", 2, old_lease, 1, NULL, 0);
    CHECK(wait_msg(&e, w1, WIRE_BYE, &m) == 0);
    settle(&e, s);
    CHECK(count_type(s, WIRE_SHARD_DONE) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.results_refused == 1);
    CHECK(st.shards_queued == 2 && st.shards_leased == 2); /* it matched no lease */

    /* w3 takes the other two and has credit to spare; w2 says BYE: its first lease goes to w3 at
     * once, the second waits at the front of the queue for credit. */
    peer_t *w3 = peer_new(&e, "w3");
    hello(w3, "worker", 3);
    CHECK(wait_msg(&e, w3, WIRE_SHARD, &a) == 0);
    CHECK(wait_msg(&e, w3, WIRE_SHARD, &b) == 0);
    CHECK(a.h.shard_id == 3 && b.h.shard_id == 4);
    msg_free(&a);
    msg_free(&b);
    bye(w2);
    CHECK(wait_msg(&e, w3, WIRE_SHARD, &a) == 0);
    CHECK(a.h.shard_id == 1 && a.h.n == 3 && same_bytes(&a, &pay[0]));
    msg_free(&a);
    uint64_t q1 = 1;
    CHECK(wait_stats(&e, p_queued, &q1, &st));
    CHECK(st.workers_died == 2);
    credit(w3, 1);
    CHECK(wait_msg(&e, w3, WIRE_SHARD, &a) == 0);
    CHECK(a.h.shard_id == 2 && same_bytes(&a, &pay[1]));
    msg_free(&a);

    /* A worker with spare credit takes a dead worker's shards without asking again. */
    peer_t *w4 = peer_new(&e, "w4");
    hello(w4, "worker", 10);
    CHECK(wait_msg(&e, w4, WIRE_WELCOME, &m) == 0);
    silence(&e, w3);
    int got[5] = {0};
    for (int i = 0; i < 4; i++) {
        if (wait_msg(&e, w4, WIRE_SHARD, &a) < 0) break;
        if (a.h.shard_id >= 1 && a.h.shard_id <= 4 && same_bytes(&a, &pay[a.h.shard_id - 1])) got[a.h.shard_id]++;
        msg_free(&a);
    }
    CHECK(got[1] == 1 && got[2] == 1 && got[3] == 1 && got[4] == 1);
    uint64_t three = 3;
    CHECK(wait_stats(&e, p_died, &three, &st));
    CHECK(st.shards_queued == 0 && st.shards_leased == 4);

    /* The dead worker comes back with a HELLO and is welcomed. */
    hello(w1, "worker", 1);
    CHECK(wait_msg(&e, w1, WIRE_WELCOME, &m) == 0);
    for (int i = 0; i < 4; i++) buf_free(&pay[i]);
    env_stop(&e);
}

static void test_late_joiner(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched");
    hello(s, "scheduler", 0);
    buf_t pay[3];
    for (int i = 0; i < 3; i++) {
        make_shard(&pay[i], "job-z", (uint64_t)i + 1, 0);
        submit(s, "job-z", (uint64_t)i + 1, pay[i].data, pay[i].len);
    }
    uint64_t three = 3;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_queued, &three, &st));
    settle(&e, s);
    settle(&e, s);
    peer_t *w = peer_new(&e, "late");
    hello(w, "worker", 5);
    for (int i = 0; i < 3; i++) {
        msg_t m;
        CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
        CHECK(m.h.shard_id == (uint64_t)i + 1 && same_bytes(&m, &pay[i]));
        msg_free(&m);
        buf_free(&pay[i]);
    }
    env_stop(&e);
}

static void test_cancel(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *w = peer_new(&e, "worker"), *w2 = peer_new(&e, "idle");
    hello(s, "scheduler", 0);
    hello(w2, "worker", 0);
    buf_t pc, pk;
    make_shard(&pc, "job-c", 1, 0);
    make_shard(&pk, "job-k", 1, 0);
    for (uint64_t i = 1; i <= 3; i++) submit(s, "job-c", i, pc.data, pc.len);
    submit(s, "job-k", 1, pk.data, pk.len);
    uint64_t four = 4;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_queued, &four, &st));
    hello(w, "worker", 1);
    msg_t m;
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-c") == 0 && m.h.shard_id == 1);
    uint64_t lease = m.h.lease;
    msg_free(&m);

    /* A CANCEL from a worker is not obeyed. */
    to_broker(w2, WIRE_CANCEL, "job-k", 0, 0, 0, NULL, 0);
    settle(&e, w);
    CHECK(count_type(w, WIRE_CANCEL) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 3);

    to_broker(s, WIRE_CANCEL, "job-c", 0, 0, 0, NULL, 0);
    CHECK(wait_msg(&e, w, WIRE_CANCEL, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-c") == 0);
    CHECK(wait_msg(&e, w2, WIRE_CANCEL, &m) == 0); /* every worker hears it */
    CHECK(strcmp(m.h.job_id, "job-c") == 0);
    uint64_t one = 1;
    CHECK(wait_stats(&e, p_queued, &one, &st));
    CHECK(st.shards_leased == 0);
    credit(w, 3);
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "job-k") == 0 && same_bytes(&m, &pk));
    msg_free(&m);
    settle(&e, w);
    settle(&e, w);
    CHECK(count_type(w, WIRE_SHARD) == 0);
    /* The worker's late SHARD_DONE for the cancelled shard is dropped: the CANCEL ended its lease. */
    to_broker(w, WIRE_SHARD_DONE, "job-c", 1, lease, 0, NULL, 0);
    settle(&e, s);
    CHECK(count_type(s, WIRE_SHARD_DONE) == 0);
    broker_get_stats(e.b, &st);
    CHECK(st.results_refused == 1);
    buf_free(&pc);
    buf_free(&pk);
    env_stop(&e);
}

/* A whole normal exchange with fresh peers: HELLO, SUBMIT, SHARD, RESULT, SHARD_DONE, BYE. */
static void normal_flow(env_t *e, int round)
{
    char name[64], job[64];
    snprintf(name, sizeof name, "ok-sched-%d", round);
    peer_t *s = peer_new(e, name);
    snprintf(name, sizeof name, "ok-worker-%d", round);
    peer_t *w = peer_new(e, name);
    snprintf(job, sizeof job, "ok-job-%d", round);
    hello(s, "scheduler", 0);
    hello(w, "worker", 1);
    msg_t m;
    int ok = wait_msg(e, s, WIRE_WELCOME, &m) == 0 && wait_msg(e, w, WIRE_WELCOME, &m) == 0;
    buf_t pay, res;
    make_shard(&pay, job, 1, 0);
    make_result(&res, job, 1, 0);
    submit(s, job, 1, pay.data, pay.len);
    if (ok && wait_msg(e, w, WIRE_SHARD, &m) == 0) {
        ok = same_bytes(&m, &pay);
        uint64_t lease = m.h.lease;
        msg_free(&m);
        to_broker(w, WIRE_RESULT, job, 1, lease, 0, res.data, res.len);
        to_broker(w, WIRE_SHARD_DONE, job, 1, lease, 1, NULL, 0);
        if (wait_msg(e, s, WIRE_RESULT, &m) == 0) {
            ok = ok && same_bytes(&m, &res);
            msg_free(&m);
        } else {
            ok = 0;
        }
        ok = ok && wait_msg(e, s, WIRE_SHARD_DONE, &m) == 0;
    } else {
        ok = 0;
    }
    if (!ok) fprintf(stderr, "normal flow after malformed input %d failed\n", round);
    CHECK(ok);
    bye(w);
    bye(s);
    buf_free(&pay);
    buf_free(&res);
}

/* msgpack-c, an encoder independent of wire.c, for hand-made headers. */
static void mp_header(buf_t *out, int version, int type, const char *role)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, version);
    msgpack_pack_int(&pk, type);
    msgpack_pack_map(&pk, role ? 1 : 0);
    if (role) {
        msgpack_pack_str(&pk, 4);
        msgpack_pack_str_body(&pk, "role", 4);
        msgpack_pack_str(&pk, strlen(role));
        msgpack_pack_str_body(&pk, role, strlen(role));
    }
    buf_init(out, WIRE_MAX_MSG);
    if (buf_append(out, sb.data, sb.size) < 0) failures++;
    msgpack_sbuffer_destroy(&sb);
}

static void test_malformed(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *w = peer_new(&e, "worker"),
           *x = peer_new(&e, "stranger"); /* x never says HELLO */
    hello(s, "scheduler", 0);
    hello(w, "worker", 0);
    msg_t m;
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    CHECK(wait_msg(&e, w, WIRE_WELCOME, &m) == 0);

    buf_t valid_hb, valid_hello, pay;
    buf_init(&valid_hb, 1024);
    buf_init(&valid_hello, 1024);
    wire_hdr_t hb = {.type = WIRE_HEARTBEAT};
    wire_hdr_t hh = {.type = WIRE_HELLO, .role = "worker", .n = 1};
    CHECK(wire_hdr_encode(&hb, &valid_hb) == 0 && wire_hdr_encode(&hh, &valid_hello) == 0);
    make_shard(&pay, "bad-job", 1, 0);
    buf_t v2, t99, t0, t_welcome_bad;
    mp_header(&v2, 2, WIRE_HELLO, "worker");
    mp_header(&t99, 1, 99, NULL);
    mp_header(&t0, 1, 0, NULL);
    mp_header(&t_welcome_bad, 1, WIRE_HELLO, "admin");

    static const unsigned char garbage[] = {0x00, 0xff, 'g', 'a', 'r', 'b', 0x93, 0xc1};
    static const unsigned char huge_array[] = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
    static const unsigned char a_map[] = {0x81, 0xa1, 'a', 0x01};
    static const unsigned char str_type[] = {0x93, 0x01, 0xa5, 'H', 'E', 'L', 'L', 'O', 0x80};
    static const unsigned char deep[] = {0x93, 0x01, 0x01, 0x81, 0xa3, 'j',  'o',
                                         'b',  0x91, 0x91, 0x91, 0x91, 0x91, 0x91};
    const void *f[5];
    size_t l[5];
    int round = 0;
    uint64_t dropped = 0, refused = 0;
    broker_stats_t st;

#define EXPECT_DROPPED()                                       \
    do {                                                       \
        CHECK(wait_stats(&e, p_dropped_above, &dropped, &st)); \
        dropped = st.messages_dropped;                         \
        normal_flow(&e, ++round);                              \
    } while (0)

    /* garbage header bytes, from a stranger and from a known worker */
    f[0] = garbage, l[0] = sizeof garbage;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    send_frames(w, f, l, 1);
    EXPECT_DROPPED();
    /* every truncation of a valid header */
    for (size_t cut = 1; cut < valid_hello.len; cut++) {
        f[0] = valid_hello.data, l[0] = cut;
        send_frames(x, f, l, 1);
    }
    EXPECT_DROPPED();
    /* wrong version, unknown types, a role that does not exist */
    f[0] = v2.data, l[0] = v2.len;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    f[0] = t99.data, l[0] = t99.len;
    send_frames(w, f, l, 1);
    EXPECT_DROPPED();
    f[0] = t0.data, l[0] = t0.len;
    send_frames(s, f, l, 1);
    EXPECT_DROPPED();
    f[0] = t_welcome_bad.data, l[0] = t_welcome_bad.len;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    /* well-formed MessagePack of the wrong shape */
    f[0] = huge_array, l[0] = sizeof huge_array;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    f[0] = a_map, l[0] = sizeof a_map;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    f[0] = str_type, l[0] = sizeof str_type;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    f[0] = deep, l[0] = sizeof deep;
    send_frames(w, f, l, 1);
    EXPECT_DROPPED();
    /* a RESULT for a job nobody submitted */
    buf_t res;
    make_result(&res, "no-such-job", 1, 0);
    to_broker(w, WIRE_RESULT, "no-such-job", 1, 1, 0, res.data, res.len);
    CHECK(wait_stats(&e, p_refused_above, &refused, &st));
    refused = st.results_refused;
    normal_flow(&e, ++round);
    buf_free(&res);
    /* five frames (identity + four) */
    f[0] = valid_hb.data, l[0] = valid_hb.len;
    f[1] = "a", l[1] = 1;
    f[2] = "b", l[2] = 1;
    f[3] = "c", l[3] = 1;
    send_frames(w, f, l, 4);
    EXPECT_DROPPED();
    /* an empty message (identity and one empty frame), and a REQ-style empty delimiter */
    f[0] = "", l[0] = 0;
    send_frames(x, f, l, 1);
    EXPECT_DROPPED();
    f[0] = "", l[0] = 0;
    f[1] = valid_hello.data, l[1] = valid_hello.len;
    send_frames(x, f, l, 2);
    EXPECT_DROPPED();
    /* nothing above was answered: a receiver never replies to a malformed message */
    settle(&e, s);
    CHECK(x->n_inbox == 0 && x->hb_count == 0);
    /* a SUBMIT from a peer that never said HELLO: dropped, and the peer is told BYE */
    submit(x, "bad-job", 1, pay.data, pay.len);
    EXPECT_DROPPED();
    CHECK(wait_msg(&e, x, WIRE_BYE, &m) == 0);
    to_broker(x, WIRE_CREDIT, NULL, 0, 0, 5, NULL, 0);
    EXPECT_DROPPED();
    CHECK(wait_msg(&e, x, WIRE_BYE, &m) == 0);
    /* a SUBMIT without payload, and one from a worker */
    submit(s, "bad-job", 2, NULL, 0);
    EXPECT_DROPPED();
    submit(w, "bad-job", 3, pay.data, pay.len);
    EXPECT_DROPPED();
    /* messages that only the broker sends */
    to_broker(w, WIRE_SHARD, "bad-job", 1, 1, 1, pay.data, pay.len);
    EXPECT_DROPPED();
    wire_hdr_t wel = {.type = WIRE_WELCOME, .heartbeat_ms = 5};
    send_hdr(s, &wel, NULL, 0);
    EXPECT_DROPPED();
    to_broker(w, WIRE_ALLOT, NULL, 0, 0, 0, "\x90", 1);
    EXPECT_DROPPED();
    /* CREDIT 0 is malformed */
    wire_hdr_t c0 = {.type = WIRE_CREDIT};
    buf_t c0b;
    buf_init(&c0b, 1024);
    CHECK(wire_hdr_encode(&c0, &c0b) == 0);
    f[0] = c0b.data, l[0] = c0b.len;
    send_frames(w, f, l, 1);
    EXPECT_DROPPED();
    buf_free(&c0b);
#undef EXPECT_DROPPED

    /* A garbage DEMAND payload is logged and dropped by the allotment; nothing else happens. */
    to_broker(w, WIRE_DEMAND, NULL, 0, 0, 0, garbage, sizeof garbage);
    to_broker(w, WIRE_DEMAND, NULL, 0, 0, 0, NULL, 0);
    settle(&e, w);
    CHECK(w->allot_count == 0);
    normal_flow(&e, ++round);

    /* None of it queued anything, and the original peers are still served. */
    settle(&e, s);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 0 && st.shards_leased == 0);
    CHECK(st.messages_dropped >= (uint64_t)round - 1);
    submit(s, "last-job", 1, pay.data, pay.len);
    credit(w, 1);
    CHECK(wait_msg(&e, w, WIRE_SHARD, &m) == 0);
    CHECK(strcmp(m.h.job_id, "last-job") == 0 && same_bytes(&m, &pay));
    msg_free(&m);

    buf_free(&valid_hb);
    buf_free(&valid_hello);
    buf_free(&pay);
    buf_free(&v2);
    buf_free(&t99);
    buf_free(&t0);
    buf_free(&t_welcome_bad);
    env_stop(&e);
}

static void test_allotment(void)
{
    env_t e;
    if (env_start(&e, 50, 6) < 0) return;
    peer_t *w1 = peer_new(&e, "w1"), *w2 = peer_new(&e, "w2");
    hello(w1, "worker", 0);
    hello(w2, "worker", 0);
    msg_t m;
    CHECK(wait_msg(&e, w1, WIRE_WELCOME, &m) == 0);
    CHECK(wait_msg(&e, w2, WIRE_WELCOME, &m) == 0);
    set_demand(w1, K, 1200, 200000, 40, 30);
    set_demand(w2, K, 1200, 200000, 40, 10);
    /* In proportion to demand: 30/40 and 10/40 of each limit. */
    CHECK(wait_allot(&e, w1, K, 900, 150000, 30));
    CHECK(wait_allot(&e, w2, K, 300, 50000, 10));
    /* Repeating the same DEMAND every heartbeat does not repeat the ALLOT. */
    uint32_t n1 = w1->allot_count;
    settle(&e, w1);
    settle(&e, w1);
    CHECK(w1->allot_count == n1);

    /* w2 dies: w1 gets the whole limit. */
    silence(&e, w2);
    CHECK(wait_allot(&e, w1, K, 1200, 200000, 40));
    uint64_t one = 1;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_died, &one, &st));

    /* A third worker with demand: re-balanced. */
    peer_t *w3 = peer_new(&e, "w3");
    hello(w3, "worker", 0);
    set_demand(w3, K, 1200, 200000, 40, 10);
    CHECK(wait_allot(&e, w1, K, 900, 150000, 30));
    CHECK(wait_allot(&e, w3, K, 300, 50000, 10));

    /* Demand 0 gets 0; the other has everything again. */
    set_demand(w3, K, 1200, 200000, 40, 0);
    CHECK(wait_allot(&e, w3, K, 0, 0, 0));
    CHECK(wait_allot(&e, w1, K, 1200, 200000, 40));

    /* Demand again, then BYE: the share goes back at once. */
    set_demand(w3, K, 1200, 200000, 40, 30);
    CHECK(wait_allot(&e, w1, K, 600, 100000, 20));
    CHECK(wait_allot(&e, w3, K, 600, 100000, 20));
    bye(w3);
    CHECK(wait_allot(&e, w1, K, 1200, 200000, 40));

    /* A DEMAND from a scheduler is ignored. */
    peer_t *s = peer_new(&e, "sched");
    hello(s, "scheduler", 0);
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    set_demand(s, K, 1200, 200000, 40, 1000);
    settle(&e, w1);
    settle(&e, w1);
    CHECK(s->allot_count == 0);
    CHECK(wait_allot(&e, w1, K, 1200, 200000, 40));
    env_stop(&e);
}

/* RETURN: a draining worker hands back shards it has not started; they go to the front of the
 * queue and its credit drops to 0. */
static bool p_returned(const broker_stats_t *s, const void *arg)
{
    return s->shards_returned == *(const uint64_t *)arg;
}

static void test_return(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *w = peer_new(&e, "worker"), *w2 = peer_new(&e, "worker-2");
    hello(s, "scheduler", 0);
    msg_t m, got[3];
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    buf_t pay[4];
    for (int i = 0; i < 3; i++) {
        make_shard(&pay[i], "job-r", (uint64_t)i + 1, 0);
        submit(s, "job-r", (uint64_t)i + 1, pay[i].data, pay[i].len);
    }
    uint64_t three = 3, zero = 0, two = 2, one = 1;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_queued, &three, &st));
    hello(w, "worker", 5); /* two more than there is work for */
    CHECK(wait_msg(&e, w, WIRE_WELCOME, &m) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(wait_msg(&e, w, WIRE_SHARD, &got[i]) == 0 && got[i].h.shard_id == (uint64_t)i + 1);
    CHECK(wait_stats(&e, p_queued, &zero, &st));

    /* A lease it does not hold, and a RETURN from a scheduler: nothing moves. */
    to_broker(w, WIRE_RETURN, "job-r", 2, got[1].h.lease + 100, 0, NULL, 0);
    uint64_t dropped = st.messages_dropped;
    to_broker(s, WIRE_RETURN, "job-r", 1, got[0].h.lease, 0, NULL, 0);
    CHECK(wait_stats(&e, p_dropped_above, &dropped, &st));
    settle(&e, w);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_returned == 0 && st.shards_queued == 0 && st.shards_leased == 3);

    /* Newest first, as a worker sends them: the oldest ends up at the front. The worker's spare
     * credit is gone with the first RETURN, so they wait for another worker. */
    to_broker(w, WIRE_RETURN, "job-r", 3, got[2].h.lease, 0, NULL, 0);
    to_broker(w, WIRE_RETURN, "job-r", 2, got[1].h.lease, 0, NULL, 0);
    CHECK(wait_stats(&e, p_returned, &two, &st));
    settle(&e, w);
    settle(&e, w);
    broker_get_stats(e.b, &st);
    CHECK(st.shards_queued == 2 && st.shards_leased == 1 && st.shards_requeued == 0 && count_type(w, WIRE_SHARD) == 0);

    /* Another worker gets them, in their order, with the same bytes. */
    hello(w2, "worker", 2);
    CHECK(wait_msg(&e, w2, WIRE_SHARD, &m) == 0);
    CHECK(m.h.shard_id == 2 && m.h.lease > got[2].h.lease && m.h.n == 2 && same_bytes(&m, &pay[1]));
    msg_free(&m);
    CHECK(wait_msg(&e, w2, WIRE_SHARD, &m) == 0);
    CHECK(m.h.shard_id == 3 && same_bytes(&m, &pay[2]));
    msg_free(&m);
    CHECK(wait_stats(&e, p_queued, &zero, &st));

    /* RETURN with no shard: "no more work". Its spare credit is gone: new work waits for w2. */
    peer_t *w3 = peer_new(&e, "worker-3");
    hello(w3, "worker", 4);
    CHECK(wait_msg(&e, w3, WIRE_WELCOME, &m) == 0);
    to_broker(w3, WIRE_RETURN, NULL, 0, 0, 0, NULL, 0);
    settle(&e, w3);
    make_shard(&pay[3], "job-r", 4, 0);
    submit(s, "job-r", 4, pay[3].data, pay[3].len);
    CHECK(wait_stats(&e, p_queued, &one, &st));
    settle(&e, w3);
    CHECK(count_type(w3, WIRE_SHARD) == 0);
    credit(w2, 1);
    CHECK(wait_msg(&e, w2, WIRE_SHARD, &m) == 0 && m.h.shard_id == 4);
    msg_free(&m);
    buf_free(&pay[3]);

    /* The first worker finishes the shard it kept; its SHARD_DONE still ends that lease, and its
     * BYE then requeues nothing. */
    to_broker(w, WIRE_SHARD_DONE, "job-r", 1, got[0].h.lease, 0, NULL, 0);
    CHECK(wait_msg(&e, s, WIRE_SHARD_DONE, &m) == 0 && m.h.shard_id == 1);
    bye(w);
    CHECK(wait_stats(&e, p_died, &one, &st));
    CHECK(st.shards_requeued == 0 && st.shards_queued == 0 && st.shards_leased == 3);
    for (int i = 0; i < 3; i++) {
        msg_free(&got[i]);
        buf_free(&pay[i]);
    }
    env_stop(&e);
}

/* Which bind addresses count as this host only (a plaintext broker elsewhere needs --insecure). */
static void test_endpoint_is_local(void)
{
    const char *local[] = {"inproc://x",           "ipc:///tmp/b.sock", "tcp://127.0.0.1:5555", "tcp://127.9.8.7:1",
                           "tcp://localhost:5555", "tcp://[::1]:5555",  "tcp://lo:5555",        "tcp://127.0.0.1:*"};
    const char *remote[] = {"tcp://0.0.0.0:5555",   "tcp://*:5555",
                            "tcp://10.1.2.3:5555",  "tcp://eth0:5555",
                            "tcp://[::]:5555",      "tcp://broker.example:5555",
                            "tcp://128.0.0.1:5555", "tcp://127.0.0.1.evil:5555",
                            "tcp://1270.0.0.1:5",   "tcp://[::1:5555",
                            "udp://127.0.0.1:5",    "tcp://127.0.0.256:5555"};
    for (size_t i = 0; i < sizeof local / sizeof *local; i++) {
        if (!broker_endpoint_is_local(local[i])) fprintf(stderr, "  %s: not local?\n", local[i]);
        CHECK(broker_endpoint_is_local(local[i]));
    }
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++) {
        if (broker_endpoint_is_local(remote[i])) fprintf(stderr, "  %s: local?\n", remote[i]);
        CHECK(!broker_endpoint_is_local(remote[i]));
    }
}

int main(void)
{
    log_set_level(getenv("TEST_BROKER_LOG") ? LOG_DEBUG : LOG_OFF);
    test_hello_heartbeat();
    test_credit_dispatch();
    test_duplicate_submit();
    test_forwarding();
    test_worker_loss();
    test_late_joiner();
    test_cancel();
    test_malformed();
    test_allotment();
    test_return();
    test_endpoint_is_local();
    return check_summary("test_broker");
}
