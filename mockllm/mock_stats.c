/* mock_stats: the mock's counters (mock_get_stats, mock_reset_stats) and the /stats document
 * (mock_stats_json, with the rate-limit episode's state); see mock.h. */
#include "mock.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "buf.h"
#include "loop.h"
#include "mock_int.h"

void mock_get_stats(mock_t *m, mock_stats_t *out)
{
    uint64_t *v = (uint64_t *)(void *)out;
    for (int i = 0; i < ST__N; i++) v[i] = atomic_load_explicit(&m->st[i], memory_order_relaxed);
}

void mock_reset_stats(mock_t *m)
{
    for (int i = 0; i < ST__N; i++)
        if (i != ST_IN_FLIGHT && i != ST_MAX_IN_FLIGHT) atomic_store(&m->st[i], 0);
    atomic_store(&m->st[ST_MAX_IN_FLIGHT], atomic_load(&m->st[ST_IN_FLIGHT]));
}

/* "episode": null, or {"state": "pending" | "active" | "over", "over_for_ms": N | null}. */
static void episode_json(mock_t *m, buf_t *b)
{
    int rc;
    if (!m->episode) {
        rc = buf_puts(b, "\"episode\":null");
    } else {
        int64_t now = loop_now_us(), first = atomic_load(&m->first_call_us);
        int64_t end = atomic_load(&m->episode_end_us);
        if (!end && first && m->opts.episode_ms > 0 && now - first >= (int64_t)(m->opts.episode_ms * 1000))
            end = first + (int64_t)(m->opts.episode_ms * 1000);
        const char *state = !first ? "pending" : end ? "over" : "active";
        if (end)
            rc = buf_printf(b, "\"episode\":{\"state\":\"%s\",\"over_for_ms\":%lld}", state,
                            (long long)((now - end) / 1000));
        else rc = buf_printf(b, "\"episode\":{\"state\":\"%s\",\"over_for_ms\":null}", state);
    }
    if (rc < 0) abort(); /* unbounded buffer */
}

char *mock_stats_json(mock_t *m)
{
    mock_stats_t s;
    mock_get_stats(m, &s);
    buf_t b;
    buf_init(&b, 0);
    int rc = buf_printf(
        &b,
        "{\"requests_total\":%llu,\"requests\":{\"chat_completions\":%llu,\"messages\":%llu,"
        "\"converse\":%llu,\"invocations\":%llu,\"healthz\":%llu,\"stats\":%llu,\"other\":%llu},"
        "\"inference_calls\":%llu,\"judge_calls\":%llu,\"reask_calls\":%llu,\"unscorable_replies\":%llu,"
        "\"responses\":{\"2xx\":%llu,\"4xx\":%llu,\"429\":%llu,\"5xx_injected\":%llu},"
        "\"rate_limited\":%llu,\"tokens_in\":%llu,\"tokens_out\":%llu,"
        "\"in_flight\":%llu,\"max_in_flight\":%llu,\"outage_replies\":%llu,\"episode_calls\":%llu,",
        (unsigned long long)s.requests_total, (unsigned long long)s.req_chat_completions,
        (unsigned long long)s.req_messages, (unsigned long long)s.req_converse, (unsigned long long)s.req_invocations,
        (unsigned long long)s.req_healthz, (unsigned long long)s.req_stats, (unsigned long long)s.req_other,
        (unsigned long long)s.inference_calls, (unsigned long long)s.judge_calls, (unsigned long long)s.reask_calls,
        (unsigned long long)s.unscorable_replies, (unsigned long long)s.status_2xx, (unsigned long long)s.status_4xx,
        (unsigned long long)s.status_429, (unsigned long long)s.status_5xx_injected, (unsigned long long)s.rate_limited,
        (unsigned long long)s.tokens_in, (unsigned long long)s.tokens_out, (unsigned long long)s.in_flight,
        (unsigned long long)s.max_in_flight, (unsigned long long)s.outage_replies, (unsigned long long)s.episode_calls);
    if (rc < 0) abort(); /* unbounded buffer */
    episode_json(m, &b);
    if (buf_puts(&b, "}\n") < 0) abort();
    return buf_take(&b);
}
