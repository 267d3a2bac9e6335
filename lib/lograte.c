/* lograte: rate-limited logging; see lograte.h. */
#include "lograte.h"

#include <stddef.h>

static int64_t interval_of(const lograte_t *r) { return r->interval_ms > 0 ? r->interval_ms : LOGRATE_INTERVAL_MS; }

bool lograte_allow(lograte_t *r, int64_t now_ms, uint64_t *suppressed)
{
    *suppressed = 0;
    if (r->window_start == 0 || now_ms - r->window_start >= interval_of(r)) {
        *suppressed = r->suppressed;
        r->suppressed = 0;
        r->in_window = 0;
        r->window_start = now_ms ? now_ms : 1;
    }
    r->total++;
    if (r->in_window < (r->burst ? r->burst : LOGRATE_BURST)) {
        r->in_window++;
        return true;
    }
    r->suppressed++;
    return false;
}

uint64_t lograte_take(lograte_t *r, int64_t now_ms)
{
    if (!r->suppressed || now_ms - r->window_start < interval_of(r)) return 0;
    uint64_t n = r->suppressed;
    r->suppressed = 0;
    r->in_window = 0;
    r->window_start = now_ms ? now_ms : 1;
    return n;
}

void lograte_tick_at(lograte_t *r, int64_t now_ms, const char *module)
{
    uint64_t n = lograte_take(r, now_ms);
    if (n && r->level >= log_get_level())
        log_emit(r->level, module, LOG_WHERE, "%llu more %s not logged one by one in the last %g s",
                 (unsigned long long)n, r->what, interval_of(r) / 1000.0);
}
