/* bqueue: the broker's queue of shards waiting for a worker, fair between jobs. Each job has its
 * own FIFO, and the next shard to lease is taken from the jobs in turn (round robin), so a job of
 * a million records whose window keeps 64 shards queued cannot starve a job of 50 records
 * submitted after it: the small job's shard goes out with the next free credit, not after the
 * big job's backlog. Within a job the order is kept; a requeued shard (its worker was lost) goes
 * back to the front of its job's FIFO and its job is served next.
 *
 * Intrusive and allocation-light: a queued item embeds a bq_node_t; the queue owns per-job heads
 * only (freed when their FIFO empties). Not thread-safe: the broker's loop owns it. */
#ifndef LLMAJ_BQUEUE_H
#define LLMAJ_BQUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct bq_job bq_job_t;

/* Embedded in each queued item. `job_id` names the FIFO it goes in. */
typedef struct bq_node {
    char job_id[WIRE_MAX_ID];
    uint64_t shard_id;
    struct bq_node *prev, *next;
    bq_job_t *job;
} bq_node_t;

typedef struct bqueue bqueue_t;

bqueue_t *bqueue_new(void);
/* Frees the per-job heads; the items are the caller's (take them out first). Accepts NULL. */
void bqueue_destroy(bqueue_t **self_p);

/* Appends n (job_id and shard_id set) at the back of its job's FIFO. */
void bqueue_push_back(bqueue_t *q, bq_node_t *n);
/* Puts n at the front of its job's FIFO, and that job first in the turn. */
void bqueue_push_front(bqueue_t *q, bq_node_t *n);

/* The next item in turn, removed; NULL when empty. */
bq_node_t *bqueue_pop(bqueue_t *q);
/* The item that pop would return, left in place; NULL when empty. */
bq_node_t *bqueue_peek(bqueue_t *q);

/* Removes n from the queue (it must be queued). */
void bqueue_remove(bqueue_t *q, bq_node_t *n);

/* The queued item of (job_id, shard_id), or NULL. */
bq_node_t *bqueue_find(bqueue_t *q, const char *job_id, uint64_t shard_id);

/* Removes every item of job_id and hands each to drop(n, arg) (which may free it). Returns how many. */
size_t bqueue_drop_job(bqueue_t *q, const char *job_id, void (*drop)(bq_node_t *n, void *arg), void *arg);

size_t bqueue_len(const bqueue_t *q);  /* items queued */
size_t bqueue_jobs(const bqueue_t *q); /* jobs with items queued */

#endif
