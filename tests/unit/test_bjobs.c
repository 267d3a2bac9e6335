/* test_bjobs: the broker's job table (broker/bjobs.c): adding and finding jobs through growth of
 * the hash table, setting an owner (a secret given replaces the stored one, none keeps it), the
 * walk over every job, and the sweep that forgets only idle jobs without shards and without a
 * live owner. */
#include <stdio.h>
#include <string.h>

#include "bjobs.h"
#include "check.h"

static bool live_if_session_odd(const bjob_t *j, void *arg)
{
    (void)arg;
    return j->owner_session % 2 == 1;
}

static void count_job(bjob_t *j, void *arg)
{
    (void)j;
    (*(size_t *)arg)++;
}

static void test_table(void)
{
    bjobs_t *t = bjobs_new();
    CHECK(bjobs_find(t, "none") == NULL);
    char id[64];
    for (int i = 0; i < 1000; i++) { /* past several growths */
        snprintf(id, sizeof id, "job-%d", i);
        bjob_t *j = bjobs_get(t, id, 100 + i);
        CHECK(j && !strcmp(j->job_id, id) && j->active_ms == 100 + i && j->owner_len == 0);
        j->owner_session = (uint64_t)i;
    }
    CHECK(bjobs_count(t) == 1000);
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "job-%d", i);
        bjob_t *j = bjobs_find(t, id);
        found += j && j->owner_session == (uint64_t)i;
    }
    CHECK(found == 1000);
    CHECK(bjobs_get(t, "job-7", 5)->active_ms == 107); /* get finds, does not add */
    CHECK(bjobs_count(t) == 1000);
    size_t n = 0;
    bjobs_each(t, count_job, &n);
    CHECK(n == 1000);

    /* owner and secret */
    bjob_t *j = bjobs_find(t, "job-3");
    bjob_set_owner(j, "sched-A", 7, 41, "s1");
    CHECK(j->owner_len == 7 && !memcmp(j->owner, "sched-A", 7) && j->owner_session == 41 && !strcmp(j->secret, "s1"));
    bjob_set_owner(j, "sched-B", 7, 43, "");
    CHECK(!memcmp(j->owner, "sched-B", 7) && j->owner_session == 43 && !strcmp(j->secret, "s1"));
    bjob_set_owner(j, "sched-C", 7, 45, "s2");
    CHECK(!strcmp(j->secret, "s2"));

    /* the sweep: shards held, a live owner (odd session) or recent activity keep a job */
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "job-%d", i);
        bjob_t *k = bjobs_find(t, id);
        if (i % 10 == 0) k->shards = 1;
    }
    CHECK(bjobs_sweep(t, 100 + BJOBS_FORGET_MS - 1, live_if_session_odd, NULL) == 0); /* nobody idle long enough */
    size_t gone = bjobs_sweep(t, 1099 + BJOBS_FORGET_MS, live_if_session_odd, NULL);
    /* kept: i % 10 == 0 (100 of them) and odd sessions (500; job-3 has session 45) */
    CHECK(gone == 1000 - 100 - 500);
    CHECK(bjobs_count(t) == 600);
    CHECK(bjobs_find(t, "job-20") != NULL && bjobs_find(t, "job-21") != NULL && bjobs_find(t, "job-22") == NULL);
    CHECK(bjobs_find(t, "job-3") != NULL);
    bjobs_destroy(&t);
    CHECK(t == NULL);
    bjobs_destroy(&t); /* NULL is fine */
}

int main(void)
{
    test_table();
    return check_summary("test_bjobs");
}
