/* test_shard: the shard's rules in proto/shard.h: the scheduler's check at SHARD_DONE (accept when
 * complete, resubmit while submissions remain, give up after SHARD_MAX_SUBMITS), the states a
 * stored shard takes on resume, and every state's name. */
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
    CHECK(shard_on_done(&s, 10, 0) == SHARD_ACCEPT);   /* no targets given: one */
    for (uint32_t k = 1; k < SHARD_MAX_SUBMITS; k++) {
        s.submits = k;
        CHECK(shard_on_done(&s, 5, 1) == SHARD_RESUBMIT);
    }
    s.submits = SHARD_MAX_SUBMITS;
    CHECK(shard_on_done(&s, 5, 1) == SHARD_GIVE_UP);
    CHECK(shard_on_done(&s, 10, 1) == SHARD_ACCEPT);   /* complete at the last chance */
    s.submits = SHARD_MAX_SUBMITS + 7;                  /* counted across restarts */
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

int main(void)
{
    test_on_done();
    test_resume_and_names();
    return check_summary("test_shard");
}
