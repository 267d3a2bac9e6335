/* mock_timer: one thread that fires items when they fall due. The mock server parks a delayed
 * request (suspends its connection) and hands the connection here; the fire callback resumes
 * it. Owns a min-heap of (due time, item) and the thread; does not know what the items are.
 *
 * DESIGN. Latency must never block a server thread, so thousands of requests can wait at once:
 * they cost a heap entry each, not a thread. The thread sleeps on a condition variable (on the
 * monotonic clock) until the earliest item is due, takes every due item off the heap, and fires
 * them outside the lock, so a callback may call mock_timer_add. Stopping the timer fires every
 * item still pending at once (a parked connection must be resumed before the HTTP daemon can
 * stop); after that, mock_timer_add refuses new items and the caller handles them itself. The
 * timer is freed separately, once no thread can call mock_timer_add any more. */
#ifndef LLMAJ_MOCK_TIMER_H
#define LLMAJ_MOCK_TIMER_H
#include <stddef.h>
#include <stdint.h>

typedef struct mock_timer mock_timer_t;
typedef void (*mock_timer_fire_cb)(void *item, void *arg);

/* Starts the thread. NULL on failure, with the reason in err. */
mock_timer_t *mock_timer_new(mock_timer_fire_cb fire, void *arg, char *err, size_t errlen);

/* Fires item at monotonic time due_us (loop_now_us() clock). 0, or -1 when the timer is being
 * destroyed: the item was not taken and the caller must deal with it now. Any thread. */
int mock_timer_add(mock_timer_t *t, int64_t due_us, void *item) __attribute__((warn_unused_result));

/* Stops the thread and fires every pending item from the calling thread. When it returns,
 * every item ever accepted has been fired exactly once, and mock_timer_add refuses new ones.
 * Idempotent. */
void mock_timer_stop(mock_timer_t *t);

/* Stops (as mock_timer_stop) and frees the timer. No other thread may still use it.
 * Accepts NULL. */
void mock_timer_destroy(mock_timer_t **self_p);

#endif
