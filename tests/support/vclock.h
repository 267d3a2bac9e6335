/* vclock.h: a virtual clock for a loop (loop_set_clock), for tests whose code under test waits on
 * loop timers (backoff, rate-limit pacing, Retry-After): the real monotonic clock plus an offset
 * that grows whenever the loop would sleep until its next timer, so minutes of waiting pass in
 * milliseconds and the order of events is kept. Other threads (a stand-in server) may read it
 * with vclock_now_us. Header-only. */
#ifndef LLMAJ_TESTS_VCLOCK_H
#define LLMAJ_TESTS_VCLOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "loop.h"

typedef struct {
    loop_clock_t base;         /* first: the loop sees this */
    _Atomic int64_t offset_us; /* time skipped so far */
} vclock_t;

static inline int64_t vclock_read(const vclock_t *v) { return loop_now_us() + atomic_load(&v->offset_us); }

static int64_t vclock_now_cb(loop_clock_t *c) { return vclock_read((vclock_t *)(void *)c); }

static void vclock_skip_cb(loop_clock_t *c, int64_t due_us)
{
    vclock_t *v = (vclock_t *)(void *)c;
    int64_t gap = due_us - vclock_read(v);
    if (gap > 0) atomic_fetch_add(&v->offset_us, gap);
}

/* Starts at the real time (offset 0). */
static inline void vclock_init(vclock_t *v)
{
    v->base.now_us = vclock_now_cb;
    v->base.skip_to = vclock_skip_cb;
    atomic_store(&v->offset_us, 0);
}

/* Moves the clock forward by `us` (a test's own step). */
static inline void vclock_advance(vclock_t *v, int64_t us) { atomic_fetch_add(&v->offset_us, us); }

#endif
