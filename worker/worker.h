/* worker: runs shards (schemas/protocol.md). Each thread is one peer of the broker with its own
 * DEALER socket, event loop and model-call client (llm.h): inference for the evaluated model(s)
 * unless the dataset carries responses, one judge call per (response, metric), verdict parsing
 * with one re-ask, results streamed back per (record, target) as they complete. */
#ifndef LLMAJ_WORKER_H
#define LLMAJ_WORKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curve.h"

typedef struct worker worker_t;

typedef struct {
    const char *broker;        /* endpoint to connect: "tcp://127.0.0.1:5555", "inproc://..." */
    void *zmq_ctx;             /* NULL: the worker makes its own */
    const char *name;          /* default "<hostname>-<pid>" */
    int threads;               /* default 1 */
    int max_shards;            /* shards held per thread at most; default 8 */
    int max_concurrency;       /* HTTP calls in flight per thread; default 256 */
    int heartbeat_ms;          /* default 1000 */
    int dead_after;            /* broker silent this many intervals -> reconnect; default 5 */
    const char *region;        /* default AWS region for Bedrock/SageMaker model strings */
    const curve_keys_t *curve; /* CURVE to the broker (copied by worker_new); NULL = plaintext */
} worker_opts_t;

typedef struct {
    uint64_t shards_done, results_sent, calls_ok, calls_failed, http_requests, retries, http_429;
    uint64_t http_5xx, transport_errors, input_tokens, output_tokens;
    uint64_t reconnects;
    uint32_t shards_held, calls_pending;
    uint32_t shards_waiting;    /* held and not started yet */
    uint64_t shards_returned;   /* handed back unstarted while draining */
    uint64_t shards_revoked;    /* leases the broker revoked (no progress within their deadline) */
    uint32_t threads_connected; /* threads welcomed by a broker right now */
} worker_stats_t;

void worker_opts_default(worker_opts_t *o);
worker_t *worker_new(const worker_opts_t *opts, char *err, size_t errlen);
/* Starts the threads and returns at once. */
int worker_start(worker_t *w) __attribute__((warn_unused_result));
/* Stops the threads (say BYE, drop in-flight work) and waits for them. Thread-safe, idempotent. */
void worker_stop(worker_t *w);
/* Graceful leave (SIGTERM): each thread stops asking for shards, hands back with RETURN the
 * shards it has not started (at once), lets the running ones finish and send their results, says
 * BYE and ends; after timeout_ms it ends anyway (the broker requeues what it still held). Returns
 * at once; worker_join waits. Thread-safe; worker_stop after it stops at once. */
void worker_drain(worker_t *w, int timeout_ms);
/* Blocks until the threads end (after worker_stop or worker_drain from elsewhere). */
void worker_join(worker_t *w);
/* Counters as of each thread's last heartbeat tick. Thread-safe. */
void worker_get_stats(worker_t *w, worker_stats_t *out);
/* True while at least one thread is connected and welcomed by a broker. Thread-safe (/readyz). */
bool worker_ready(worker_t *w);
void worker_destroy(worker_t **self_p);

#endif
