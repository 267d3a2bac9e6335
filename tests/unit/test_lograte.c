/* test_lograte: rate-limited logging (lib/lograte.c) on a logical clock: the first LOGRATE_BURST
 * events of an interval pass, the rest are counted, and the count comes back once, with the next
 * event after the interval or from a tick; a custom interval and burst; the log_rated macro runs
 * (its lines go to stderr). */
#include <string.h>

#include "lograte.h"
#include "check.h"

static void test_burst_then_count(void)
{
    lograte_t r = LOGRATE_INIT("messages dropped", LOG_WARN);
    uint64_t sup = 99;
    int passed = 0;
    for (int i = 0; i < 1000; i++) passed += lograte_allow(&r, 1000 + i, &sup) ? 1 : 0;
    CHECK(passed == LOGRATE_BURST);
    CHECK(r.total == 1000 && r.suppressed == 1000 - LOGRATE_BURST);
    /* within the interval, a tick says nothing yet */
    CHECK(lograte_take(&r, 1000 + LOGRATE_INTERVAL_MS - 1) == 0);
    /* the next event after the interval passes, and brings the count */
    CHECK(lograte_allow(&r, 1000 + LOGRATE_INTERVAL_MS, &sup));
    CHECK(sup == 1000 - LOGRATE_BURST);
    CHECK(r.suppressed == 0);
    /* a fresh interval: a burst again */
    passed = 1;
    for (int i = 0; i < 10; i++) passed += lograte_allow(&r, 1000 + LOGRATE_INTERVAL_MS + 1 + i, &sup) ? 1 : 0;
    CHECK(passed == LOGRATE_BURST && sup == 0);
    /* the flood stops: a tick after the interval takes the count once */
    int64_t later = 1000 + 2 * LOGRATE_INTERVAL_MS + 5;
    CHECK(lograte_take(&r, later) == 11 - LOGRATE_BURST);
    CHECK(lograte_take(&r, later + LOGRATE_INTERVAL_MS) == 0);
    CHECK(r.total == 1011);
}

static void test_custom(void)
{
    lograte_t r = {.what = "refusals", .level = LOG_INFO, .interval_ms = 100, .burst = 1};
    uint64_t sup;
    CHECK(lograte_allow(&r, 0, &sup) && sup == 0); /* a clock that starts at 0 works too */
    CHECK(!lograte_allow(&r, 50, &sup));
    CHECK(!lograte_allow(&r, 99, &sup));
    CHECK(lograte_allow(&r, 120, &sup) && sup == 2);
    CHECK(!lograte_allow(&r, 130, &sup) && sup == 0);
    lograte_tick_at(&r, 400, "test"); /* says "1 more refusals ..." on stderr */
    CHECK(r.suppressed == 0);
    /* nothing suppressed: nothing to say */
    lograte_t q = LOGRATE_INIT("x", LOG_WARN);
    CHECK(lograte_take(&q, 123456) == 0);
}

static void test_macro(void)
{
    lograte_t r = LOGRATE_INIT("test lines", LOG_WARN);
    log_set_level(LOG_ERROR); /* keep the test's own output short */
    for (int i = 0; i < 100; i++) log_rated(&r, LOG_WARN, "line %d", i);
    CHECK(r.total == 100 && r.suppressed == 100 - LOGRATE_BURST);
    log_set_level(LOG_INFO);
}

int main(void)
{
    test_burst_then_count();
    test_custom();
    test_macro();
    return check_summary("test_lograte");
}
