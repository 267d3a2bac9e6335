/* syncer: the MLflow sync's background thread (after redis's bio.c). The engine's loop must never
 * wait on MLflow, so final syncs and progress reports are queued here and run on this thread,
 * with its own connection to the job database; a final sync that fails is retried with capped,
 * jittered exponential backoff (lib/backoff.h) until it succeeds, the syncer is stopped, or
 * max_attempts is reached (then the sync is marked "failed" and `llmaj sync` retries it).
 *
 * DESIGN. Two queues under one mutex: final syncs (each with its next attempt time) and progress
 * reports (at most one per job: a newer report replaces a queued one; best effort, never
 * retried). The thread sleeps on a condition variable (CLOCK_MONOTONIC) until the earliest due
 * sync or a new item, takes one item at a time, and runs it unlocked; progress goes first, since
 * it is cheap and goes stale. A final sync enqueued by the engine carries the summary and job.json
 * in memory (the engine recorded them with mlflow_sync_record first); one found unfinished in the
 * database at start (resume) is read back from there. Stopping sets an abort flag that cuts the
 * HTTP request in flight short; unfinished syncs stay recorded as "pending" for the next start. */
#ifndef LLMAJ_SYNCER_H
#define LLMAJ_SYNCER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "spec.h"

typedef struct {
    const char *db_path;     /* the job database; the syncer opens its own connection */
    int64_t backoff_base_ms; /* first retry within this; 0 = 2000 */
    int64_t backoff_max_ms;  /* cap; 0 = 300000 (5 minutes) */
    uint32_t max_attempts;   /* then state "failed"; 0 = retry until stopped */
    bool resume;             /* at start, queue every unfinished sync found in the database */
    uint64_t seed;           /* backoff jitter seed; 0 = from the clock */
} syncer_opts_t;

typedef struct syncer syncer_t;

/* Starts the thread. NULL with err if the database cannot be opened or the thread started. */
syncer_t *syncer_start(const syncer_opts_t *o, char *err, size_t errlen);

/* Queues the final sync of an ended job, recorded before with mlflow_sync_record. The spec,
 * summary and job (either may be NULL) are copied. 0, or -1 with err (no tracking URI, a status
 * that is not FINISHED, FAILED or KILLED). */
int syncer_enqueue(syncer_t *s, const char *job_id, const spec_t *spec, const char *job_dir, const char *final_status,
                   const cJSON *summary, const cJSON *job, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Queues a progress report (best effort; see DESIGN). spec_json is the job's canonical spec. */
void syncer_progress(syncer_t *s, const char *job_id, const char *spec_json, int64_t step, uint64_t done,
                     uint64_t total);

/* Final syncs queued, running or waiting for a retry. */
size_t syncer_pending(syncer_t *s);

/* Stops the thread (a request in flight is aborted) and frees. Accepts NULL; sets *self_p = NULL. */
void syncer_stop(syncer_t **self_p);

#endif
