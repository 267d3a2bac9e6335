/* loop: epoll event loop with a binary min-heap of timers; see loop.h.
 *
 * DESIGN: fds live in a table indexed by fd (grown on demand). Timers live in a heap ordered
 * by (due time, id); a deleted timer is removed from the heap at once through a position index
 * kept in a small open-addressing map id -> heap slot, so a loop with thousands of request
 * timeouts that are mostly cancelled never accumulates dead entries. */
#include "loop.h"
#include "mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    loop_fd_cb cb;
    void *arg;
    int events;
} fd_slot_t;

typedef struct {
    int64_t due;
    uint64_t id;
    loop_timer_cb cb;
    void *arg;
} timer_t_;

struct loop {
    int ep;
    int wake_fd;
    fd_slot_t *fds;
    int n_fds;
    timer_t_ *heap;
    size_t n_heap, cap_heap;
    /* id -> heap index map (linear probing); key 0 = empty, tombstone = UINT64_MAX */
    uint64_t *map_keys;
    size_t *map_vals;
    size_t map_cap, map_used;
    uint64_t next_id;
    loop_hook_cb before_wait;
    void *before_wait_arg;
    loop_clock_t *clock; /* NULL: the monotonic clock */
    atomic_int stop;
};

/* A pass on a clock that can skip waits a real millisecond for fds before it skips. */
#define SKIP_PROBE_MS 1

int64_t loop_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t loop_now_ms(void) { return loop_now_us() / 1000; }

void loop_set_clock(loop_t *l, loop_clock_t *clock) { l->clock = clock; }

int64_t loop_time_us(const loop_t *l) { return l->clock ? l->clock->now_us(l->clock) : loop_now_us(); }

int64_t loop_time_ms(const loop_t *l) { return loop_time_us(l) / 1000; }

/* ---- id -> heap position map ---- */
#define TOMB UINT64_MAX

static size_t map_hash(uint64_t k, size_t cap) { return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 7) & (cap - 1); }

static void map_put(loop_t *l, uint64_t id, size_t pos);

static void map_grow(loop_t *l)
{
    size_t old_cap = l->map_cap;
    uint64_t *ok = l->map_keys;
    size_t *ov = l->map_vals;
    l->map_cap = old_cap ? old_cap * 2 : 64;
    l->map_keys = xcalloc(l->map_cap, sizeof(uint64_t));
    l->map_vals = xcalloc(l->map_cap, sizeof(size_t));
    l->map_used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (ok[i] && ok[i] != TOMB) map_put(l, ok[i], ov[i]);
    free(ok);
    free(ov);
}

static void map_put(loop_t *l, uint64_t id, size_t pos)
{
    if ((l->map_used + 1) * 2 > l->map_cap) map_grow(l);
    size_t i = map_hash(id, l->map_cap);
    while (l->map_keys[i] && l->map_keys[i] != TOMB && l->map_keys[i] != id) i = (i + 1) & (l->map_cap - 1);
    if (l->map_keys[i] != id) l->map_used++;
    l->map_keys[i] = id;
    l->map_vals[i] = pos;
}

static size_t *map_get(loop_t *l, uint64_t id)
{
    if (!l->map_cap) return NULL;
    size_t i = map_hash(id, l->map_cap);
    while (l->map_keys[i]) {
        if (l->map_keys[i] == id) return &l->map_vals[i];
        i = (i + 1) & (l->map_cap - 1);
    }
    return NULL;
}

static void map_del(loop_t *l, uint64_t id)
{
    if (!l->map_cap) return;
    size_t i = map_hash(id, l->map_cap);
    while (l->map_keys[i]) {
        if (l->map_keys[i] == id) {
            l->map_keys[i] = TOMB;
            return;
        }
        i = (i + 1) & (l->map_cap - 1);
    }
}

/* ---- heap ---- */
static bool t_less(const timer_t_ *a, const timer_t_ *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_set(loop_t *l, size_t i, timer_t_ t)
{
    l->heap[i] = t;
    size_t *p = map_get(l, t.id);
    if (p) *p = i;
}

static void sift_up(loop_t *l, size_t i)
{
    timer_t_ t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!t_less(&t, &l->heap[parent])) break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void sift_down(loop_t *l, size_t i)
{
    timer_t_ t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n_heap) break;
        if (c + 1 < l->n_heap && t_less(&l->heap[c + 1], &l->heap[c])) c++;
        if (!t_less(&l->heap[c], &t)) break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

static void heap_remove_at(loop_t *l, size_t i)
{
    map_del(l, l->heap[i].id);
    l->n_heap--;
    if (i == l->n_heap) return;
    heap_set(l, i, l->heap[l->n_heap]);
    sift_down(l, i);
    sift_up(l, i);
}

/* ---- public ---- */
loop_t *loop_new(void)
{
    loop_t *l = xcalloc(1, sizeof(*l));
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->ep < 0 || l->wake_fd < 0) {
        if (l->ep >= 0) close(l->ep);
        if (l->wake_fd >= 0) close(l->wake_fd);
        free(l);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wake_fd};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0) {
        close(l->ep);
        close(l->wake_fd);
        free(l);
        return NULL;
    }
    l->next_id = 1;
    return l;
}

void loop_destroy(loop_t **self_p)
{
    if (!self_p || !*self_p) return;
    loop_t *l = *self_p;
    close(l->ep);
    close(l->wake_fd);
    free(l->fds);
    free(l->heap);
    free(l->map_keys);
    free(l->map_vals);
    free(l);
    *self_p = NULL;
}

int loop_fd_set(loop_t *l, int fd, int events, loop_fd_cb cb, void *arg)
{
    if (fd < 0) return -1;
    if (events == 0) {
        loop_fd_del(l, fd);
        return 0;
    }
    if (fd >= l->n_fds) {
        int n = l->n_fds ? l->n_fds : 64;
        while (n <= fd) n *= 2;
        l->fds = xrealloc(l->fds, (size_t)n * sizeof(fd_slot_t));
        memset(l->fds + l->n_fds, 0, (size_t)(n - l->n_fds) * sizeof(fd_slot_t));
        l->n_fds = n;
    }
    struct epoll_event ev = {0};
    ev.data.fd = fd;
    if (events & LOOP_READ) ev.events |= EPOLLIN;
    if (events & LOOP_WRITE) ev.events |= EPOLLOUT;
    int op = l->fds[fd].events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->ep, op, fd, &ev) < 0) {
        if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD;
        else if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
        else return -1;
        if (epoll_ctl(l->ep, op, fd, &ev) < 0) return -1;
    }
    l->fds[fd] = (fd_slot_t){.cb = cb, .arg = arg, .events = events};
    return 0;
}

void loop_fd_del(loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->n_fds || !l->fds[fd].events) return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
    l->fds[fd] = (fd_slot_t){0};
}

uint64_t loop_timer_add(loop_t *l, int64_t ms, loop_timer_cb cb, void *arg)
{
    if (l->n_heap == l->cap_heap) {
        l->cap_heap = l->cap_heap ? l->cap_heap * 2 : 64;
        l->heap = xrealloc(l->heap, l->cap_heap * sizeof(timer_t_));
    }
    timer_t_ t = {.due = loop_time_ms(l) + (ms > 0 ? ms : 0), .id = l->next_id++, .cb = cb, .arg = arg};
    map_put(l, t.id, l->n_heap);
    l->heap[l->n_heap++] = t;
    sift_up(l, l->n_heap - 1);
    return t.id;
}

void loop_timer_del(loop_t *l, uint64_t id)
{
    size_t *p = map_get(l, id);
    if (p) heap_remove_at(l, *p);
}

void loop_set_before_wait(loop_t *l, loop_hook_cb cb, void *arg)
{
    l->before_wait = cb;
    l->before_wait_arg = arg;
}

static void run_timers(loop_t *l)
{
    int64_t now = loop_time_ms(l);
    /* Bound the pass: timers added by callbacks for "now" run on the next pass. */
    size_t budget = l->n_heap;
    while (l->n_heap && budget-- && l->heap[0].due <= now) {
        timer_t_ t = l->heap[0];
        heap_remove_at(l, 0);
        t.cb(l, t.id, t.arg);
    }
}

int loop_run_once(loop_t *l, int max_wait_ms)
{
    int pending = l->before_wait ? l->before_wait(l, l->before_wait_arg) : 0;
    int wait = pending ? 0 : max_wait_ms;
    bool may_skip = false; /* a clock that skips: the next timer comes after a short probe */
    if (l->n_heap) {
        int64_t d = l->heap[0].due - loop_time_ms(l);
        if (d < 0) d = 0;
        if (d > 0 && wait != 0 && l->clock && l->clock->skip_to) {
            may_skip = true;
            d = SKIP_PROBE_MS;
        }
        if (wait < 0 || d < wait) wait = (int)d;
    }
    if (atomic_load(&l->stop)) wait = 0;
    struct epoll_event evs[256];
    int n = epoll_wait(l->ep, evs, 256, wait);
    if (n < 0 && errno != EINTR) return -1;
    if (n == 0 && may_skip && l->n_heap) l->clock->skip_to(l->clock, l->heap[0].due * 1000);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == l->wake_fd) {
            uint64_t v;
            ssize_t r = read(l->wake_fd, &v, sizeof v);
            (void)r;
            continue;
        }
        if (fd >= l->n_fds || !l->fds[fd].events) continue;
        int e = 0;
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) e |= LOOP_READ;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) e |= LOOP_WRITE;
        fd_slot_t s = l->fds[fd];
        e &= s.events;
        if (e && s.cb) s.cb(l, fd, e, s.arg);
    }
    run_timers(l);
    return n < 0 ? 0 : n;
}

void loop_run(loop_t *l)
{
    while (!atomic_load(&l->stop)) loop_run_once(l, -1);
}

void loop_stop(loop_t *l) { atomic_store(&l->stop, 1); }

void loop_wake(loop_t *l)
{
    uint64_t one = 1;
    ssize_t w = write(l->wake_fd, &one, sizeof one);
    (void)w;
}

void loop_stop_async(loop_t *l)
{
    loop_stop(l);
    loop_wake(l);
}
