/* test_blease: the broker's authority over jobs and leases (broker/broker.c's claim, bjobs.c) and
 * its lease deadlines (broker/blease.c, the rules of proto/shard.h), with the harness of
 * test_broker (broker_env.h): a real broker on a thread, test peers over DEALER sockets, and the
 * logical clock that only the test moves, so deadlines, strikes and stalls never depend on how
 * fast the machine is.
 *
 *  - authority: a second scheduler session cannot SUBMIT or CANCEL a job another live session
 *    owns, unless it carries the job's secret (then it takes the job over, and the results go to
 *    it); a CANCEL of a job the broker does not know is refused; every refusal is counted;
 *  - deadline: a lease silent past the floor while another worker is idle is revoked (REVOKE to
 *    its holder, the shard leased again with the next attempt), and what the old holder sends
 *    under it afterwards is dropped;
 *  - quarantine: a worker whose leases stay silent while the job progresses elsewhere collects
 *    strikes and is quarantined: its leases revoked, no shard for it until the quarantine ends
 *    (the CREDIT it sends meanwhile is kept for then);
 *  - stall: a job whose shards are held and that shows no RESULT for the stall time counts in
 *    jobs_stalled until a RESULT comes. */
#include "broker_env.h"

/* The clock moves ms forward one heartbeat interval at a time, every live peer heartbeating at
 * each step, so nobody is declared dead and the broker ticks on the new time. */
static void advance(env_t *e, int64_t ms)
{
    for (int64_t done = 0; done < ms; done += e->heartbeat_ms) {
        atomic_fetch_add(&e->clock_ms, e->heartbeat_ms);
        peer_t *live = NULL;
        for (int i = 0; i < e->n_peers; i++) {
            if (!e->peers[i]->auto_hb) continue;
            beat(e->peers[i], loop_now_ms());
            if (!live) live = e->peers[i];
        }
        if (live) settle(e, live);
    }
}

static void send_job_msg(peer_t *p, wire_type_t type, const char *job, uint64_t shard, const char *secret,
                         const buf_t *payload)
{
    wire_hdr_t h = {.type = type, .shard_id = shard};
    snprintf(h.job_id, sizeof h.job_id, "%s", job);
    if (secret) snprintf(h.secret, sizeof h.secret, "%s", secret);
    send_hdr(p, &h, payload ? payload->data : NULL, payload ? payload->len : 0);
}

static bool p_submits_refused(const broker_stats_t *s, const void *arg)
{
    return s->submits_refused >= *(const uint64_t *)arg;
}
static bool p_cancels_refused(const broker_stats_t *s, const void *arg)
{
    return s->cancels_refused >= *(const uint64_t *)arg;
}
static bool p_revoked(const broker_stats_t *s, const void *arg) { return s->shards_revoked >= *(const uint64_t *)arg; }
static bool p_quarantined(const broker_stats_t *s, const void *arg)
{
    return s->workers_quarantined_total >= *(const uint64_t *)arg;
}
static bool p_stalled(const broker_stats_t *s, const void *arg) { return s->jobs_stalled == *(const uint32_t *)arg; }

static void test_authority(void)
{
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s1 = peer_new(&e, "victim"), *s2 = peer_new(&e, "thief"), *w = peer_new(&e, "worker");
    msg_t m;
    hello(s1, "scheduler", 0);
    hello(s2, "scheduler", 0);
    CHECK(wait_msg(&e, s1, WIRE_WELCOME, &m) == 0);
    CHECK(wait_msg(&e, s2, WIRE_WELCOME, &m) == 0);
    buf_t p1, p2, p3;
    make_shard(&p1, "job-x", 1, 0);
    make_shard(&p2, "job-x", 2, 0);
    make_shard(&p3, "job-x", 3, 0);
    send_job_msg(s1, WIRE_SUBMIT, "job-x", 1, "the-secret", &p1);
    uint64_t one = 1, two = 2, three = 3;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_queued, &one, &st));
    /* another live session: refused without the secret, with a wrong one, and its CANCEL too */
    send_job_msg(s2, WIRE_SUBMIT, "job-x", 2, NULL, &p2);
    send_job_msg(s2, WIRE_SUBMIT, "job-x", 2, "a-guess", &p2);
    send_job_msg(s2, WIRE_CANCEL, "job-x", 0, NULL, NULL);
    CHECK(wait_stats(&e, p_submits_refused, &two, &st));
    CHECK(wait_stats(&e, p_cancels_refused, &one, &st));
    CHECK(st.shards_queued == 1);
    /* a CANCEL of a job the broker does not know */
    send_job_msg(s2, WIRE_CANCEL, "job-unknown", 0, "x", NULL);
    CHECK(wait_stats(&e, p_cancels_refused, &two, &st));
    /* the job's secret takes it over (a restarted scheduler) */
    send_job_msg(s2, WIRE_SUBMIT, "job-x", 2, "the-secret", &p2);
    CHECK(wait_stats(&e, p_queued, &two, &st));
    /* and now the first session is the stranger: refused */
    send_job_msg(s1, WIRE_SUBMIT, "job-x", 3, NULL, &p3);
    CHECK(wait_stats(&e, p_submits_refused, &three, &st));
    CHECK(st.shards_queued == 2);
    /* results go to the owner */
    hello(w, "worker", 1);
    msg_t g;
    CHECK(wait_msg(&e, w, WIRE_SHARD, &g) == 0);
    buf_t r;
    make_result(&r, "job-x", g.h.shard_id, 0);
    to_broker(w, WIRE_RESULT, "job-x", g.h.shard_id, g.h.lease, 0, r.data, r.len);
    CHECK(wait_msg(&e, s2, WIRE_RESULT, &m) == 0);
    msg_free(&m);
    settle(&e, s1);
    CHECK(count_type(s1, WIRE_RESULT) == 0);
    msg_free(&g);
    buf_free(&r);
    buf_free(&p1);
    buf_free(&p2);
    buf_free(&p3);
    env_stop(&e);
}

static void test_deadline_revoke(void)
{
    env_lease_floor_ms = 1000;
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *bh = peer_new(&e, "black-hole"), *w = peer_new(&e, "honest");
    msg_t m, a, b;
    hello(s, "scheduler", 0);
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    hello(bh, "worker", 10);
    CHECK(wait_msg(&e, bh, WIRE_WELCOME, &m) == 0);
    buf_t p[2];
    for (int i = 0; i < 2; i++) {
        make_shard(&p[i], "job-d", (uint64_t)i + 1, 0);
        submit(s, "job-d", (uint64_t)i + 1, p[i].data, p[i].len);
    }
    CHECK(wait_msg(&e, bh, WIRE_SHARD, &a) == 0);
    CHECK(wait_msg(&e, bh, WIRE_SHARD, &b) == 0);
    /* within the floor nothing happens, even with an idle worker */
    hello(w, "worker", 2);
    CHECK(wait_msg(&e, w, WIRE_WELCOME, &m) == 0);
    advance(&e, 900);
    CHECK(count_type(bh, WIRE_REVOKE) == 0 && count_type(w, WIRE_SHARD) == 0);
    /* past it: both revoked, leased again to the idle worker, second attempt */
    advance(&e, 200);
    uint64_t two = 2;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_revoked, &two, &st));
    msg_t r1, r2, g1, g2;
    CHECK(wait_msg(&e, bh, WIRE_REVOKE, &r1) == 0 && wait_msg(&e, bh, WIRE_REVOKE, &r2) == 0);
    CHECK((r1.h.lease == a.h.lease && r2.h.lease == b.h.lease) || (r1.h.lease == b.h.lease && r2.h.lease == a.h.lease));
    CHECK(wait_msg(&e, w, WIRE_SHARD, &g1) == 0 && wait_msg(&e, w, WIRE_SHARD, &g2) == 0);
    CHECK(g1.h.n == 2 && g2.h.n == 2 && g1.h.lease > b.h.lease && g2.h.lease > b.h.lease);
    /* the old holder's late RESULT is dropped; the new holder's goes through */
    buf_t res;
    make_result(&res, "job-d", a.h.shard_id, 0);
    to_broker(bh, WIRE_RESULT, "job-d", a.h.shard_id, a.h.lease, 0, res.data, res.len);
    uint64_t zero = 0;
    CHECK(wait_stats(&e, p_refused_above, &zero, &st));
    to_broker(w, WIRE_RESULT, "job-d", g1.h.shard_id, g1.h.lease, 0, res.data, res.len);
    CHECK(wait_msg(&e, s, WIRE_RESULT, &m) == 0 && m.h.lease == g1.h.lease);
    msg_free(&m);
    CHECK(count_type(s, WIRE_RESULT) == 0);
    msg_t *all[] = {&a, &b, &r1, &r2, &g1, &g2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) msg_free(all[i]);
    buf_free(&res);
    buf_free(&p[0]);
    buf_free(&p[1]);
    env_stop(&e);
    env_lease_floor_ms = 0;
}

static void test_quarantine_and_stall(void)
{
    env_lease_floor_ms = 1000;
    env_stall_after_ms = 3000;
    env_t e;
    if (env_start(&e, 50, 100) < 0) return;
    peer_t *s = peer_new(&e, "sched"), *bh = peer_new(&e, "black-hole"), *w = peer_new(&e, "honest");
    msg_t m;
    hello(s, "scheduler", 0);
    CHECK(wait_msg(&e, s, WIRE_WELCOME, &m) == 0);
    hello(bh, "worker", 4);
    CHECK(wait_msg(&e, bh, WIRE_WELCOME, &m) == 0);
    buf_t p[5];
    for (int i = 0; i < 4; i++) {
        make_shard(&p[i], "job-q", (uint64_t)i + 1, 0);
        submit(s, "job-q", (uint64_t)i + 1, p[i].data, p[i].len);
    }
    for (int i = 0; i < 4; i++) {
        msg_t g;
        CHECK(wait_msg(&e, bh, WIRE_SHARD, &g) == 0);
        msg_free(&g);
    }
    /* nobody else, nothing progresses: an outage as far as the broker can tell, the leases are
     * kept; past the stall time the job counts as stalled */
    advance(&e, 3100);
    uint32_t one32 = 1, zero32 = 0;
    broker_stats_t st;
    CHECK(wait_stats(&e, p_stalled, &one32, &st));
    CHECK(count_type(bh, WIRE_REVOKE) == 0 && st.shards_revoked == 0);
    /* an honest worker takes a fifth shard and keeps delivering */
    hello(w, "worker", 1);
    CHECK(wait_msg(&e, w, WIRE_WELCOME, &m) == 0);
    make_shard(&p[4], "job-q", 5, 0);
    submit(s, "job-q", 5, p[4].data, p[4].len);
    msg_t g;
    CHECK(wait_msg(&e, w, WIRE_SHARD, &g) == 0);
    buf_t res;
    make_result(&res, "job-q", 5, 0);
    to_broker(w, WIRE_RESULT, "job-q", 5, g.h.lease, 0, res.data, res.len);
    CHECK(wait_msg(&e, s, WIRE_RESULT, &m) == 0);
    msg_free(&m);
    CHECK(wait_stats(&e, p_stalled, &zero32, &st)); /* a RESULT: not stalled */
    advance(&e, 1100);
    to_broker(w, WIRE_RESULT, "job-q", 5, g.h.lease, 0, res.data, res.len);
    CHECK(wait_msg(&e, s, WIRE_RESULT, &m) == 0);
    msg_free(&m);
    /* the black hole's four leases: silent past their deadline while the job progressed: strikes,
     * and at the third a quarantine that revokes the rest */
    advance(&e, 100);
    uint64_t one = 1, four = 4;
    CHECK(wait_stats(&e, p_quarantined, &one, &st));
    CHECK(wait_stats(&e, p_revoked, &four, &st));
    CHECK(st.workers_quarantined == 1);
    for (int i = 0; i < 4; i++) {
        msg_t r;
        CHECK(wait_msg(&e, bh, WIRE_REVOKE, &r) == 0);
        msg_free(&r);
    }
    /* quarantined: whatever CREDIT it sends, the shards go to the honest worker */
    credit(bh, 100);
    to_broker(w, WIRE_SHARD_DONE, "job-q", 5, g.h.lease, 2, NULL, 0);
    credit(w, 4);
    for (int i = 0; i < 4; i++) {
        msg_t x;
        CHECK(wait_msg(&e, w, WIRE_SHARD, &x) == 0);
        msg_free(&x);
    }
    settle(&e, bh);
    CHECK(count_type(bh, WIRE_SHARD) == 0);
    msg_free(&g);
    buf_free(&res);
    for (int i = 0; i < 5; i++) buf_free(&p[i]);
    env_stop(&e);
    env_lease_floor_ms = 0;
    env_stall_after_ms = 0;
}

int main(void)
{
    log_set_level(getenv("TEST_BROKER_LOG") ? LOG_DEBUG : LOG_OFF);
    test_authority();
    test_deadline_revoke();
    test_quarantine_and_stall();
    return check_summary("test_blease");
}
