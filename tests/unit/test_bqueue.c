/* test_bqueue: the broker's queue, round robin over jobs: leases alternate between the jobs with
 * shards queued, whatever their backlogs; a job's own order is kept; a requeued shard goes to the
 * front of its job and its job is served next; a newcomer waits a full round; find, remove and
 * drop_job; counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bqueue.h"
#include "check.h"
#include "mem.h"

static bq_node_t *node(const char *job, uint64_t shard)
{
    bq_node_t *n = xcalloc(1, sizeof *n);
    snprintf(n->job_id, sizeof n->job_id, "%s", job);
    n->shard_id = shard;
    return n;
}

/* Pops k items into "job:shard job:shard ..." (freed). */
static char *pops(bqueue_t *q, int k)
{
    static char out[1024];
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        bq_node_t *n = bqueue_pop(q);
        if (!n) break;
        char one[192];
        snprintf(one, sizeof one, "%s%s:%llu", i ? " " : "", n->job_id, (unsigned long long)n->shard_id);
        strncat(out, one, sizeof out - strlen(out) - 1);
        free(n);
    }
    return out;
}

static void drop_free(bq_node_t *n, void *arg)
{
    (*(int *)arg)++;
    free(n);
}

int main(void)
{
    bqueue_t *q = bqueue_new();
    CHECK(bqueue_pop(q) == NULL && bqueue_peek(q) == NULL && bqueue_len(q) == 0 && bqueue_jobs(q) == 0);

    /* A big job's backlog, then a small job's one shard: the small one goes second, not last. */
    for (uint64_t i = 0; i < 5; i++) bqueue_push_back(q, node("big", i));
    bqueue_push_back(q, node("small", 0));
    CHECK(bqueue_len(q) == 6 && bqueue_jobs(q) == 2);
    CHECK(bqueue_peek(q) && !strcmp(bqueue_peek(q)->job_id, "big"));
    CHECK_STR(pops(q, 3), "big:0 small:0 big:1");
    CHECK(bqueue_jobs(q) == 1); /* the small job's FIFO emptied: it left the ring */
    CHECK_STR(pops(q, 10), "big:2 big:3 big:4");
    CHECK(bqueue_len(q) == 0 && bqueue_jobs(q) == 0);

    /* Three jobs alternate; a newcomer joins at the end of the round. */
    for (uint64_t i = 0; i < 3; i++) {
        bqueue_push_back(q, node("a", i));
        bqueue_push_back(q, node("b", i));
    }
    CHECK_STR(pops(q, 1), "a:0");
    bqueue_push_back(q, node("c", 0));
    CHECK_STR(pops(q, 4), "b:0 a:1 c:0 b:1");

    /* A requeued shard goes to the front of its job, and its job next. */
    bq_node_t *back = node("b", 9);
    bqueue_push_front(q, back);
    CHECK_STR(pops(q, 3), "b:9 a:2 b:2");
    CHECK(bqueue_len(q) == 0);
    bqueue_push_front(q, node("d", 1)); /* requeued into an empty queue */
    bqueue_push_back(q, node("e", 1));
    CHECK_STR(pops(q, 2), "d:1 e:1");

    /* find, remove, drop_job. */
    for (uint64_t i = 0; i < 4; i++) bqueue_push_back(q, node("x", i));
    bqueue_push_back(q, node("y", 0));
    bq_node_t *two = bqueue_find(q, "x", 2);
    CHECK(two && two->shard_id == 2 && !bqueue_find(q, "x", 7) && !bqueue_find(q, "z", 0));
    bqueue_remove(q, two);
    free(two);
    CHECK(bqueue_len(q) == 4);
    int dropped = 0;
    CHECK(bqueue_drop_job(q, "x", drop_free, &dropped) == 3 && dropped == 3);
    CHECK(bqueue_drop_job(q, "nothing", drop_free, &dropped) == 0);
    CHECK(bqueue_len(q) == 1 && bqueue_jobs(q) == 1);
    CHECK_STR(pops(q, 5), "y:0");

    /* Destroy with items still queued frees the job heads (the items are the caller's). */
    bq_node_t *left = node("z", 0);
    bqueue_push_back(q, left);
    bqueue_destroy(&q);
    CHECK(q == NULL);
    free(left);
    bqueue_destroy(&q); /* NULL is fine */
    return check_summary("test_bqueue");
}
