/* loop: a small epoll event loop (after redis's ae): file descriptors, one-shot timers, a hook
 * that runs before every wait, and a thread-safe wake-up. One loop per thread; nothing in a
 * callback may block. Callbacks may add and remove fds and timers freely, including their own. */
#ifndef LLMAJ_LOOP_H
#define LLMAJ_LOOP_H
#include <stdint.h>

typedef struct loop loop_t;

#define LOOP_READ 1
#define LOOP_WRITE 2

typedef void (*loop_fd_cb)(loop_t *loop, int fd, int events, void *arg);
typedef void (*loop_timer_cb)(loop_t *loop, uint64_t id, void *arg);
/* A before-wait hook returns non-zero when it left work pending: the next wait then does not block. */
typedef int (*loop_hook_cb)(loop_t *loop, void *arg);

loop_t *loop_new(void);             /* NULL on failure (epoll/eventfd) */
void loop_destroy(loop_t **self_p); /* accepts NULL; does not close registered fds */

/* Watches fd for `events` (LOOP_READ|LOOP_WRITE, level-triggered); replaces an earlier
 * registration of the same fd. events == 0 removes it. 0 / -1. */
int loop_fd_set(loop_t *loop, int fd, int events, loop_fd_cb cb, void *arg) __attribute__((warn_unused_result));
void loop_fd_del(loop_t *loop, int fd);

/* One-shot timer `ms` from now (0 = next pass). Returns an id > 0 for loop_timer_del. */
uint64_t loop_timer_add(loop_t *loop, int64_t ms, loop_timer_cb cb, void *arg);
void loop_timer_del(loop_t *loop, uint64_t id); /* unknown or fired ids are ignored */

/* Runs before every wait (e.g. to drain an edge-triggered ZMQ_FD). One hook per loop. */
void loop_set_before_wait(loop_t *loop, loop_hook_cb cb, void *arg);

/* Runs passes until loop_stop(). loop_run_once waits at most max_wait_ms (-1 = until an event). */
void loop_run(loop_t *loop);
int loop_run_once(loop_t *loop, int max_wait_ms);
void loop_stop(loop_t *loop);       /* from the loop's own thread */
void loop_wake(loop_t *loop);       /* from any thread: makes the current wait return */
void loop_stop_async(loop_t *loop); /* from any thread: stop + wake */

int64_t loop_now_ms(void); /* monotonic clock, milliseconds */
int64_t loop_now_us(void); /* monotonic clock, microseconds */

/* The clock of a loop's timers: the monotonic clock unless a test puts in another (a seam, like
 * beanstalkd's falloc: the code under test is the same, only time is not). Code whose waits run
 * on a loop's timers reads the time with loop_time_ms / loop_time_us of that loop.
 *   now_us   the time in microseconds; never goes back.
 *   skip_to  NULL for a clock that runs by itself. Else the clock is virtual: when a pass finds
 *            no fd ready within a short real wait (1 ms) while its next timer is due at `due_us`
 *            on this clock, the loop calls skip_to, which moves the clock to due_us, and runs
 *            the timer at once instead of sleeping: time runs as fast as the loop has work. */
typedef struct loop_clock {
    int64_t (*now_us)(struct loop_clock *self);
    void (*skip_to)(struct loop_clock *self, int64_t due_us);
} loop_clock_t;

/* Borrows `clock` (it must outlive its use by the loop); NULL restores the monotonic clock. Set it
 * before adding timers: timers already added keep their due times on the old clock. */
void loop_set_clock(loop_t *loop, loop_clock_t *clock);
int64_t loop_time_us(const loop_t *loop); /* the loop's clock, microseconds */
int64_t loop_time_ms(const loop_t *loop); /* the loop's clock, milliseconds */

#endif
