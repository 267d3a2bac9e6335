/* mock_timer: a heap of due items and the thread that fires them; see mock_timer.h. */
#include "mock_timer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "mem.h"

#define FIRE_BATCH 256 /* items fired per unlock: bounds the time the heap lock is free */

typedef struct {
    int64_t due_us;
    uint64_t seq; /* insertion order breaks ties, so equal due times fire in order */
    void *item;
} slot_t;

struct mock_timer {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    slot_t *heap;
    size_t n, cap;
    uint64_t seq;
    bool stopping; /* set once; add refuses items from then on */
    bool joined;   /* the thread has been joined (by mock_timer_stop) */
    mock_timer_fire_cb fire;
    void *arg;
};

static bool before(const slot_t *a, const slot_t *b)
{
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

static void heap_push(mock_timer_t *t, slot_t s)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->heap = xrealloc(t->heap, t->cap * sizeof(*t->heap));
    }
    size_t i = t->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&s, &t->heap[p])) break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = s;
}

static slot_t heap_pop(mock_timer_t *t)
{
    slot_t top = t->heap[0];
    slot_t last = t->heap[--t->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n) break;
        if (c + 1 < t->n && before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->n > 0) t->heap[i] = last;
    return top;
}

static void *run(void *arg)
{
    mock_timer_t *t = arg;
    void *batch[FIRE_BATCH];
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        if (t->n == 0) {
            pthread_cond_wait(&t->cond, &t->mu);
            continue;
        }
        int64_t now = loop_now_us();
        if (t->heap[0].due_us > now) {
            int64_t due = t->heap[0].due_us;
            struct timespec ts = {.tv_sec = (time_t)(due / 1000000), .tv_nsec = (long)(due % 1000000) * 1000};
            pthread_cond_timedwait(&t->cond, &t->mu, &ts);
            continue;
        }
        size_t k = 0;
        while (k < FIRE_BATCH && t->n > 0 && t->heap[0].due_us <= now) batch[k++] = heap_pop(t).item;
        pthread_mutex_unlock(&t->mu);
        for (size_t i = 0; i < k; i++) t->fire(batch[i], t->arg);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

mock_timer_t *mock_timer_new(mock_timer_fire_cb fire, void *arg, char *err, size_t errlen)
{
    mock_timer_t *t = xcalloc(1, sizeof(*t));
    t->fire = fire;
    t->arg = arg;
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc == 0) rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        snprintf(err, errlen, "timer: cannot create condition variable: %s", strerror(rc));
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    rc = pthread_create(&t->thread, NULL, run, t);
    if (rc != 0) {
        snprintf(err, errlen, "timer: cannot start thread: %s", strerror(rc));
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

int mock_timer_add(mock_timer_t *t, int64_t due_us, void *item)
{
    pthread_mutex_lock(&t->mu);
    if (t->stopping) {
        pthread_mutex_unlock(&t->mu);
        return -1;
    }
    heap_push(t, (slot_t){.due_us = due_us, .seq = t->seq++, .item = item});
    if (t->heap[0].item == item && t->heap[0].seq == t->seq - 1) pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void mock_timer_stop(mock_timer_t *t)
{
    pthread_mutex_lock(&t->mu);
    bool joined = t->joined;
    t->stopping = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
    if (!joined) {
        pthread_join(t->thread, NULL);
        pthread_mutex_lock(&t->mu);
        t->joined = true;
        pthread_mutex_unlock(&t->mu);
    }
    /* The thread is gone and add refuses new items: the heap is ours alone. */
    while (t->n > 0) t->fire(heap_pop(t).item, t->arg);
}

void mock_timer_destroy(mock_timer_t **self_p)
{
    if (!self_p || !*self_p) return;
    mock_timer_t *t = *self_p;
    mock_timer_stop(t);
    free(t->heap);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    free(t);
    *self_p = NULL;
}
