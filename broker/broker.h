/* broker: routes shards from schedulers to workers and results back (schemas/protocol.md).
 * Owns nothing durable: the worker registry, heartbeats both ways, credit-based dispatch (a
 * worker never holds more shards than it asked for), shard leases, and the requeue of a dead
 * worker's leases. Runs one event loop on the calling thread. */
#ifndef LLMAJ_BROKER_H
#define LLMAJ_BROKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct broker broker_t;

typedef struct {
    const char *endpoint;    /* to bind: "tcp://127.0.0.1:5555", "inproc://llmaj-broker" */
    void *zmq_ctx;           /* NULL: the broker makes its own */
    int heartbeat_ms;        /* default 1000 */
    int dead_after;          /* heartbeat intervals of silence before a peer is dead; default 5 */
    /* The liveness clock, a seam for tests: milliseconds on a monotonic scale, read when a
     * message arrives and at each heartbeat tick to decide who is silent and how old a worker's
     * DEMAND is. NULL = the monotonic clock (loop_now_ms). Heartbeats are still sent every
     * heartbeat_ms of real time; a test that holds its clock still can therefore never see a
     * peer declared dead, or its demand go stale, by scheduling luck. */
    int64_t (*clock_ms)(void *arg);
    void *clock_arg;
} broker_opts_t;

typedef struct {
    uint32_t workers_alive, schedulers_alive;
    uint64_t shards_queued, shards_leased;
    uint64_t shards_dispatched, shards_requeued, shards_done;
    uint64_t results_forwarded, workers_died, messages_dropped;
} broker_stats_t;

void broker_opts_default(broker_opts_t *o);
/* Binds the endpoint. NULL with a message in err on failure. */
broker_t *broker_new(const broker_opts_t *opts, char *err, size_t errlen);
/* Runs until broker_stop (from any thread). 0 on a clean stop. */
int broker_run(broker_t *b);
void broker_stop(broker_t *b);
void broker_get_stats(broker_t *b, broker_stats_t *out);
/* True while broker_run serves the bound socket (from any thread: /readyz). */
bool broker_ready(broker_t *b);
/* The endpoint actually bound (a "tcp://127.0.0.1:*" wildcard resolved to its port). */
const char *broker_endpoint(const broker_t *b);   /* thread-safe snapshot */
void broker_destroy(broker_t **self_p);

#endif
