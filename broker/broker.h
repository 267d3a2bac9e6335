/* broker: routes shards from schedulers to workers and results back (schemas/protocol.md).
 * Owns nothing durable: the worker registry, heartbeats both ways, credit-based dispatch (a
 * worker never holds more shards than it asked for), shard leases, and the requeue of a dead
 * worker's leases. Runs one event loop on the calling thread. */
#ifndef LLMAJ_BROKER_H
#define LLMAJ_BROKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curve.h"

typedef struct broker broker_t;

#define BROKER_STALL_AFTER_MS 600000 /* ten minutes */

typedef struct {
    const char *endpoint; /* to bind: "tcp://127.0.0.1:5555", "inproc://llmaj-broker" */
    void *zmq_ctx;        /* NULL: the broker makes its own */
    int heartbeat_ms;     /* default 1000 */
    int dead_after;       /* heartbeat intervals of silence before a peer is dead; default 5 */
    /* Lease deadlines (proto/shard.h, "Lease deadline"): the least deadline of a lease, in ms
     * (default SHARD_LEASE_FLOOR_MS); and how long a job may show no RESULT while the broker holds
     * its shards before it counts as stalled (logged, /metrics; default BROKER_STALL_AFTER_MS). */
    int64_t lease_floor_ms;
    int64_t stall_after_ms;
    /* CURVE (DESIGN.md "Secure on a network"): the broker's keys (copied) and the folder of the
     * public keys allowed to connect (*.key, read again when it changes). Both or neither; NULL =
     * plaintext. The broker's context then holds its ZAP handler (one per context). */
    const curve_keys_t *curve;
    const char *curve_clients;
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
    uint64_t shards_returned;                               /* handed back unstarted by draining workers (RETURN) */
    bool curve;                                             /* CURVE on; the figures below are 0 without it */
    uint32_t curve_keys;                                    /* public keys allowed now */
    uint64_t refused_key, refused_plaintext, refused_other; /* handshakes refused, by reason */
    uint64_t messages_refused;                              /* from connections whose key was revoked since */
    /* The broker's authority (protocol.md §6.10) and lease deadlines (§6.4). */
    uint64_t submits_refused;           /* SUBMITs for a job another scheduler session owns */
    uint64_t cancels_refused;           /* CANCELs for such a job, or a job the broker holds nothing of */
    uint64_t results_refused;           /* RESULT, SHARD_DONE, RETURN not from the holder of that lease */
    uint64_t shards_revoked;            /* leases revoked past their deadline (or their worker's quarantine) */
    uint64_t workers_quarantined_total; /* quarantines so far */
    uint32_t workers_quarantined;       /* worker sessions in quarantine now */
    uint32_t jobs_stalled;              /* jobs with shards here and no RESULT for stall_after_ms */
    uint64_t jobs_known;                /* jobs in the broker's table (owned, not yet forgotten) */
} broker_stats_t;

void broker_opts_default(broker_opts_t *o);
/* True when `endpoint` can only be reached from this host: inproc://, ipc://, or tcp:// on a
 * loopback address (127.0.0.0/8, ::1, localhost, lo). A broker bound anywhere else without CURVE
 * accepts any host that reaches the port. */
bool broker_endpoint_is_local(const char *endpoint);
/* Binds the endpoint. NULL with a message in err on failure. */
broker_t *broker_new(const broker_opts_t *opts, char *err, size_t errlen);
/* Runs until broker_stop (from any thread), then tells every peer BYE (they reconnect at once
 * instead of waiting out the silence). 0 on a clean stop. */
int broker_run(broker_t *b);
void broker_stop(broker_t *b);
void broker_get_stats(broker_t *b, broker_stats_t *out);
/* True while broker_run serves the bound socket (from any thread: /readyz). */
bool broker_ready(broker_t *b);
/* The endpoint actually bound (a "tcp://127.0.0.1:*" wildcard resolved to its port). */
const char *broker_endpoint(const broker_t *b); /* thread-safe snapshot */
void broker_destroy(broker_t **self_p);

#endif
