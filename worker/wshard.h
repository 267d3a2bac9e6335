/* wshard: a shard as a worker holds it: evaluating the records of one leased shard. A wshard owns
 * one `unit` per (record, target) and, in each unit, one judge slot per metric, so every piece of
 * in-flight work is freed with its shard. The worker thread (worker.c) feeds shards in and gets
 * results and shard completions out through the callbacks below. Its states (SHARD_RUNNING,
 * SHARD_CANCELLED) and the rules it follows (a SHARD_DONE for every lease, nothing sent after a
 * CANCEL) are proto/shard.h's. */
#ifndef LLMAJ_WORKER_WSHARD_H
#define LLMAJ_WORKER_WSHARD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llm.h"
#include "record.h"
#include "result.h"
#include "shard.h"
#include "spec.h"
#include "wire.h"

/* A job as a worker knows it: the parsed spec, shared by the shards of that job (refcounted). */
typedef struct wjob {
    char *job_id;
    char *spec_json;
    spec_t *spec;
    int refs;
    uint64_t last_used;
} wjob_t;

typedef struct wshard wshard_t;

typedef struct {
    /* A finished (record, target); the result is valid during the call. */
    void (*on_result)(wshard_t *s, const result_t *r, void *arg);
    /* Every unit finished (or the shard was cancelled and its last call returned). */
    void (*on_done)(wshard_t *s, void *arg);
    void *arg;
} wshard_cbs_t;

/* Takes ownership of the records array (and its records). `plans` (borrowed, may be NULL) says,
 * per record, which targets and metrics to evaluate (wire.h wire_plan_t); it is read here only.
 * job's refcount is taken. */
wshard_t *wshard_new(wjob_t *job, uint64_t shard_id, uint64_t lease, record_t *records, const wire_plan_t *plans,
                     size_t n, llm_client_t *llm, const wshard_cbs_t *cbs);
/* Starts every unit's first call. Callbacks may come from inside this call (a unit that fails at
 * once): the caller must not destroy the shard from on_done, only mark it for freeing. */
void wshard_start(wshard_t *s);
/* Stops starting new calls; on_done comes once the calls in flight have returned (no results). */
void wshard_cancel(wshard_t *s);
/* Frees everything. Only after on_done, or when the llm client is gone (worker shutdown). */
void wshard_destroy(wshard_t **self_p);

const char *wshard_job_id(const wshard_t *s);
uint64_t wshard_id(const wshard_t *s);
uint64_t wshard_lease(const wshard_t *s);
size_t wshard_results(const wshard_t *s); /* results reported so far */
size_t wshard_units(const wshard_t *s);   /* (record, target) units: first calls it will make */
bool wshard_cancelled(const wshard_t *s);

#endif
