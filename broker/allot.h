/* allot: fleet-wide rate-limit allotment. Workers report, per endpoint key, the fleet-wide limits
 * of the job (rpm, tpm, max_concurrency) and their demand (calls waiting or running); the broker
 * divides each key's limits among the workers that have demand, in proportion to it, and sends
 * each worker its share (ALLOT). Shares are recomputed when demand changes, when a worker joins
 * or dies, and on every heartbeat tick, so the fleet as a whole keeps to the limit whatever its
 * size. Peers are opaque pointers owned by the broker. */
#ifndef LLMAJ_ALLOT_H
#define LLMAJ_ALLOT_H
#include <stddef.h>

typedef struct allot allot_t;

/* Sends an ALLOT payload to `peer`; returns 0 / -1. */
typedef int (*allot_send_fn)(void *arg, void *peer, const void *payload, size_t len);

allot_t *allot_new(allot_send_fn send, void *arg);
void allot_destroy(allot_t **self_p);
void allot_worker_joined(allot_t *a, void *peer);
void allot_worker_gone(allot_t *a, void *peer); /* before the peer is freed */
/* A DEMAND payload from `peer`; a malformed one is logged and dropped (-1). */
int allot_demand(allot_t *a, void *peer, const void *payload, size_t len);
void allot_tick(allot_t *a); /* once per heartbeat interval */

/* For tests and /metrics: the current share of `peer` for `key`; -1 if none. */
int allot_share(const allot_t *a, const void *peer, const char *key, double *rpm, double *tpm, int *max_conc);

#endif
