/* lograte: a few log lines per interval for an event that may come in floods, then one line with
 * the count of the rest (after the kernel's printk_ratelimit). Anyone can send a broker, a worker
 * or a scheduler malformed or refused messages by the thousand; each is still dropped and counted
 * in /metrics, but the log says the first LOGRATE_BURST of them in each interval in full and then,
 * once, how many more there were, so a flood cannot fill the disk or bury the other lines.
 *
 * Not thread-safe: one lograte_t per thread (a broker loop, a worker thread, a peer session).
 * Times are the caller's milliseconds on any monotonic scale (loop_now_ms), so tests can drive it.
 *
 * Use: `log_rated(&r, LOG_WARN, "dropped %s", why);`, and from a periodic tick
 * `lograte_tick(&r, now)` so the count of a flood that has stopped is still said. */
#ifndef LLMAJ_LOGRATE_H
#define LLMAJ_LOGRATE_H
#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "loop.h"

#define LOGRATE_INTERVAL_MS 10000 /* one interval */
#define LOGRATE_BURST 5           /* lines in full per interval */

typedef struct {
    const char *what;     /* names the kind of event in the summary line ("messages dropped") */
    log_level_t level;    /* of the summary line */
    int64_t interval_ms;  /* 0: LOGRATE_INTERVAL_MS */
    uint32_t burst;       /* 0: LOGRATE_BURST */
    int64_t window_start; /* start of the current interval (0 before the first event) */
    uint32_t in_window;   /* events logged in full in it */
    uint64_t suppressed;  /* events of it not logged */
    uint64_t total;       /* every event seen */
} lograte_t;

#define LOGRATE_INIT(what_, level_)        \
    {                                      \
        .what = (what_), .level = (level_) \
    }

/* An event at now_ms. True when it may be logged in full. When an earlier interval ended with
 * events not logged, *suppressed gets their count (the caller says it first), else 0. */
bool lograte_allow(lograte_t *r, int64_t now_ms, uint64_t *suppressed);

/* From a periodic tick: when the current interval is over and some of its events were not
 * logged, returns their count (and starts afresh); else 0. */
uint64_t lograte_take(lograte_t *r, int64_t now_ms);

/* lograte_take, and the summary line when there is one. */
void lograte_tick_at(lograte_t *r, int64_t now_ms, const char *module);

#define lograte_tick(r, now_ms) lograte_tick_at((r), (now_ms), LOG_MODULE)

#define log_rated(r, lvl_, ...)                                                                                  \
    do {                                                                                                         \
        uint64_t sup_;                                                                                           \
        if (lograte_allow((r), loop_now_ms(), &sup_)) {                                                          \
            if (sup_)                                                                                            \
                LOG((r)->level, "%llu more %s not logged one by one in the last %g s", (unsigned long long)sup_, \
                    (r)->what, (((r)->interval_ms ? (r)->interval_ms : LOGRATE_INTERVAL_MS) / 1000.0));          \
            LOG(lvl_, __VA_ARGS__);                                                                              \
        }                                                                                                        \
    } while (0)

#endif
