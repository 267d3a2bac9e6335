/* test_shard: the shard's rules in proto/shard.h: the scheduler's check at SHARD_DONE (accept when
 * complete, resubmit while submissions remain, give up after SHARD_MAX_SUBMITS), the states a
 * stored shard takes on resume, every state's name, the lease deadline (the job's pace, the
 * verdict on a silent lease, quarantine lengths, the ceiling from a job's settings) and the job
 * authority rule. Times are logical: plain numbers. */
#include <string.h>

#include "shard.h"
#include "check.h"

static void test_on_done(void)
{
    shard_t s = {.id = 3, .first = 10, .last = 19, .n = 10, .state = SHARD_INFLIGHT, .submits = 1};
    CHECK(shard_on_done(&s, 10, 1) == SHARD_ACCEPT);
    CHECK(shard_on_done(&s, 20, 2) == SHARD_ACCEPT);
    CHECK(shard_on_done(&s, 19, 2) == SHARD_RESUBMIT);
    CHECK(shard_on_done(&s, 0, 1) == SHARD_RESUBMIT);
    CHECK(shard_on_done(&s, 10, 0) == SHARD_ACCEPT); /* no targets given: one */
    for (uint32_t k = 1; k < SHARD_MAX_SUBMITS; k++) {
        s.submits = k;
        CHECK(shard_on_done(&s, 5, 1) == SHARD_RESUBMIT);
    }
    s.submits = SHARD_MAX_SUBMITS;
    CHECK(shard_on_done(&s, 5, 1) == SHARD_GIVE_UP);
    CHECK(shard_on_done(&s, 10, 1) == SHARD_ACCEPT); /* complete at the last chance */
    s.submits = SHARD_MAX_SUBMITS + 7;               /* counted across restarts */
    CHECK(shard_on_done(&s, 9, 1) == SHARD_GIVE_UP);
}

static void test_resume_and_names(void)
{
    CHECK(shard_state_on_resume(SHARD_PENDING) == SHARD_PENDING);
    CHECK(shard_state_on_resume(SHARD_INFLIGHT) == SHARD_PENDING);
    CHECK(shard_state_on_resume(SHARD_DONE) == SHARD_DONE);
    CHECK(shard_state_on_resume((shard_state_t)42) == SHARD_PENDING);
    /* Stored values are fixed: the job database keeps them. */
    CHECK(SHARD_PENDING == 0 && SHARD_INFLIGHT == 1 && SHARD_DONE == 2);
    const char *names[] = {"pending", "inflight", "done", "queued", "leased", "running", "cancelled"};
    for (int i = 0; i <= SHARD_CANCELLED; i++) CHECK_STR(shard_state_name((shard_state_t)i), names[i]);
    CHECK_STR(shard_state_name((shard_state_t)99), "?");
}

static void test_pace(void)
{
    shard_pace_t p = {0};
    CHECK(shard_pace_now(&p, 1000) == 0);
    /* nothing observed: the floor, doubled per attempt, up to the default ceiling */
    CHECK(shard_lease_deadline_ms(&p, 1, 2000, 1000) == 2000);
    CHECK(shard_lease_deadline_ms(&p, 2, 2000, 1000) == 4000);
    CHECK(shard_lease_deadline_ms(&p, 3, 2000, 1000) == 8000);
    CHECK(shard_lease_deadline_ms(&p, 40, 2000, 1000) == (int64_t)SHARD_LEASE_MAX_S * 1000);
    CHECK(shard_lease_deadline_ms(&p, 1, 0, 1000) == SHARD_LEASE_FLOOR_MS); /* 0: the default floor */
    /* the slowest silence before progress sets the pace; a faster one does not lower it */
    shard_pace_observe(&p, 3000, 10000);
    shard_pace_observe(&p, 500, 11000);
    CHECK(shard_pace_now(&p, 11000) == 3000);
    CHECK(p.last_progress_ms == 11000);
    CHECK(shard_lease_deadline_ms(&p, 1, 2000, 11000) == SHARD_PACE_K * 3000);
    /* it halves every half-life */
    CHECK(shard_pace_now(&p, 10000 + SHARD_PACE_HALFLIFE_MS) == 1500);
    CHECK(shard_pace_now(&p, 10000 + 2 * SHARD_PACE_HALFLIFE_MS) == 750);
    CHECK(shard_pace_now(&p, 10000 + 100 * (int64_t)SHARD_PACE_HALFLIFE_MS) == 0);
    /* an observation after a half-life keeps the halving (not applied twice, not lost) */
    shard_pace_observe(&p, 100, 10000 + SHARD_PACE_HALFLIFE_MS + 5);
    CHECK(shard_pace_now(&p, 10000 + SHARD_PACE_HALFLIFE_MS + 5) == 1500);
    CHECK(shard_pace_now(&p, 10000 + 2 * SHARD_PACE_HALFLIFE_MS) == 750);
    /* the job's ceiling caps everything */
    shard_pace_t q = {.ceiling_ms = 5000};
    shard_pace_observe(&q, 60000, 1);
    CHECK(shard_lease_deadline_ms(&q, 1, 2000, 1) == 5000);
}

static void test_lease_check(void)
{
    const int64_t floor = 2000;
    shard_pace_t p = {.ceiling_ms = 600000};
    /* within the deadline: kept, whatever else */
    CHECK(shard_lease_check(&p, 1000, 1, floor, true, 2999) == SHARD_LEASE_KEEP);
    /* past it, nobody progressed and nobody is idle: an outage, kept */
    CHECK(shard_lease_check(&p, 1000, 1, floor, false, 60000) == SHARD_LEASE_KEEP);
    /* ... someone idle: revoked, no strike */
    CHECK(shard_lease_check(&p, 1000, 1, floor, true, 3001) == SHARD_LEASE_REVOKE);
    /* ... past the ceiling itself: revoked, no strike */
    CHECK(shard_lease_check(&p, 1000, 1, floor, false, 601001) == SHARD_LEASE_REVOKE);
    /* the fleet did this job's work for a whole deadline since the lease's last progress: a strike */
    shard_pace_observe(&p, 100, 1500); /* progress elsewhere soon after: not enough */
    CHECK(shard_lease_check(&p, 1000, 1, floor, false, 10000) == SHARD_LEASE_KEEP);
    shard_pace_observe(&p, 100, 3000); /* a deadline (2000 ms) after it: enough */
    CHECK(shard_lease_check(&p, 1000, 1, floor, false, 10000) == SHARD_LEASE_REVOKE_STRIKE);
    /* a later attempt waits longer: 4000 ms */
    CHECK(shard_lease_check(&p, 1000, 2, floor, false, 4500) == SHARD_LEASE_KEEP);
    CHECK(shard_lease_check(&p, 1000, 2, floor, true, 5001) == SHARD_LEASE_REVOKE);
    /* an outage after steady progress: every lease silent since about the same moment */
    shard_pace_t o = {.ceiling_ms = 600000};
    for (int64_t t = 1000; t <= 20000; t += 250) shard_pace_observe(&o, 250, t);
    CHECK(shard_lease_check(&o, 19750, 1, floor, false, 50000) == SHARD_LEASE_KEEP);
    CHECK(shard_lease_check(&o, 19900, 3, floor, false, 80000) == SHARD_LEASE_KEEP);
}

static void test_quarantine_and_ceiling(void)
{
    CHECK(shard_quarantine_ms(1) == SHARD_QUARANTINE_MS);
    CHECK(shard_quarantine_ms(2) == 2 * SHARD_QUARANTINE_MS);
    CHECK(shard_quarantine_ms(3) == 4 * SHARD_QUARANTINE_MS);
    CHECK(shard_quarantine_ms(50) == SHARD_QUARANTINE_MAX_MS);
    CHECK(shard_quarantine_ms(0) == SHARD_QUARANTINE_MS);
    /* the defaults: 300 s budgets, 300 s request timeout */
    CHECK(shard_lease_ceiling_s(300, 300, 300) == SHARD_LEASE_MAX_S);
    CHECK(shard_lease_ceiling_s(10, 20, 5) == 15 + 2 * 25 + 60);
    CHECK(shard_lease_ceiling_s(86400, 86400, 86400) == 3 * 2 * 86400 + 60);
}

static void test_claim(void)
{
    CHECK(shard_job_claim(false, false, false, "", "") == SHARD_CLAIM_TAKE); /* a new job */
    CHECK(shard_job_claim(false, false, false, "", "abc") == SHARD_CLAIM_TAKE);
    CHECK(shard_job_claim(true, true, true, "abc", "") == SHARD_CLAIM_OWNER); /* its owner */
    CHECK(shard_job_claim(true, true, true, "abc", "zzz") == SHARD_CLAIM_OWNER);
    /* another session: only with the secret, live owner or not */
    CHECK(shard_job_claim(true, false, true, "abc", "") == SHARD_CLAIM_REFUSE);
    CHECK(shard_job_claim(true, false, true, "abc", "abd") == SHARD_CLAIM_REFUSE);
    CHECK(shard_job_claim(true, false, true, "abc", "ab") == SHARD_CLAIM_REFUSE);
    CHECK(shard_job_claim(true, false, true, "abc", "abcd") == SHARD_CLAIM_REFUSE);
    CHECK(shard_job_claim(true, false, false, "abc", "xyz") == SHARD_CLAIM_REFUSE);
    CHECK(shard_job_claim(true, false, true, "abc", "abc") == SHARD_CLAIM_TAKE);
    CHECK(shard_job_claim(true, false, false, "abc", "abc") == SHARD_CLAIM_TAKE);
    /* claimed without a secret: its session's while it lives */
    CHECK(shard_job_claim(true, false, true, "", "abc") == SHARD_CLAIM_REFUSE);
    CHECK(shard_job_claim(true, false, false, "", "") == SHARD_CLAIM_TAKE);
}

int main(void)
{
    test_on_done();
    test_resume_and_names();
    test_pace();
    test_lease_check();
    test_quarantine_and_ceiling();
    test_claim();
    return check_summary("test_shard");
}
