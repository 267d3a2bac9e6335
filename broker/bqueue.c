/* bqueue: the broker's queue, round robin over jobs; see bqueue.h.
 *
 * DESIGN. The jobs with queued items form a ring; `turn` points at the job whose item goes next.
 * pop takes the head of turn's FIFO and moves turn to the next job, so k jobs with items each get
 * one lease in k. A job enters the ring just before turn (it waits a full round, as a newcomer
 * should) unless its item was requeued, which puts the job at turn (served next). A job whose FIFO
 * empties leaves the ring and is freed. Finding a job is a walk over the ring: a broker serves a
 * few jobs at a time, not thousands. */
#include "bqueue.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct bq_job {
    char job_id[WIRE_MAX_ID];
    bq_node_t *head, *tail;
    size_t n;
    bq_job_t *prev, *next; /* the ring */
};

struct bqueue {
    bq_job_t *turn; /* the ring (NULL when empty), at the job served next */
    size_t n_items, n_jobs;
};

bqueue_t *bqueue_new(void) { return xcalloc(1, sizeof(bqueue_t)); }

void bqueue_destroy(bqueue_t **self_p)
{
    if (!self_p || !*self_p) return;
    bqueue_t *q = *self_p;
    while (q->turn) {
        bq_job_t *j = q->turn;
        if (j->next == j) q->turn = NULL;
        else {
            j->prev->next = j->next;
            j->next->prev = j->prev;
            q->turn = j->next;
        }
        free(j);
    }
    free(q);
    *self_p = NULL;
}

static bq_job_t *job_find(bqueue_t *q, const char *job_id)
{
    bq_job_t *j = q->turn;
    if (!j) return NULL;
    do {
        if (!strcmp(j->job_id, job_id)) return j;
        j = j->next;
    } while (j != q->turn);
    return NULL;
}

/* A new job in the ring: served next (`first`), else after every other job. */
static bq_job_t *job_add(bqueue_t *q, const char *job_id, bool first)
{
    bq_job_t *j = xcalloc(1, sizeof *j);
    snprintf(j->job_id, sizeof j->job_id, "%s", job_id);
    if (!q->turn) {
        j->prev = j->next = j;
        q->turn = j;
    } else {
        j->next = q->turn;
        j->prev = q->turn->prev;
        q->turn->prev->next = j;
        q->turn->prev = j;
        if (first) q->turn = j;
    }
    q->n_jobs++;
    return j;
}

static void job_remove(bqueue_t *q, bq_job_t *j)
{
    if (j->next == j) {
        q->turn = NULL;
    } else {
        j->prev->next = j->next;
        j->next->prev = j->prev;
        if (q->turn == j) q->turn = j->next;
    }
    q->n_jobs--;
    free(j);
}

void bqueue_push_back(bqueue_t *q, bq_node_t *n)
{
    bq_job_t *j = job_find(q, n->job_id);
    if (!j) j = job_add(q, n->job_id, false);
    n->job = j;
    n->next = NULL;
    n->prev = j->tail;
    if (j->tail) j->tail->next = n;
    else j->head = n;
    j->tail = n;
    j->n++;
    q->n_items++;
}

void bqueue_push_front(bqueue_t *q, bq_node_t *n)
{
    bq_job_t *j = job_find(q, n->job_id);
    if (!j) j = job_add(q, n->job_id, true);
    else q->turn = j;
    n->job = j;
    n->prev = NULL;
    n->next = j->head;
    if (j->head) j->head->prev = n;
    else j->tail = n;
    j->head = n;
    j->n++;
    q->n_items++;
}

void bqueue_remove(bqueue_t *q, bq_node_t *n)
{
    bq_job_t *j = n->job;
    if (n->prev) n->prev->next = n->next;
    else j->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else j->tail = n->prev;
    n->prev = n->next = NULL;
    n->job = NULL;
    j->n--;
    q->n_items--;
    if (j->n == 0) job_remove(q, j);
}

bq_node_t *bqueue_peek(bqueue_t *q) { return q->turn ? q->turn->head : NULL; }

bq_node_t *bqueue_pop(bqueue_t *q)
{
    if (!q->turn) return NULL;
    bq_job_t *j = q->turn;
    bq_node_t *n = j->head;
    q->turn = j->next; /* the next job's turn, whether or not this one empties */
    bqueue_remove(q, n);
    return n;
}

bq_node_t *bqueue_find(bqueue_t *q, const char *job_id, uint64_t shard_id)
{
    bq_job_t *j = job_find(q, job_id);
    for (bq_node_t *n = j ? j->head : NULL; n; n = n->next)
        if (n->shard_id == shard_id) return n;
    return NULL;
}

size_t bqueue_drop_job(bqueue_t *q, const char *job_id, void (*drop)(bq_node_t *n, void *arg), void *arg)
{
    bq_job_t *j = job_find(q, job_id);
    size_t k = 0;
    while (j) {
        bq_node_t *n = j->head;
        bool last = j->n == 1;
        bqueue_remove(q, n); /* frees j with the last item */
        k++;
        if (drop) drop(n, arg);
        if (last) break;
    }
    return k;
}

size_t bqueue_len(const bqueue_t *q) { return q->n_items; }
size_t bqueue_jobs(const bqueue_t *q) { return q->n_jobs; }
