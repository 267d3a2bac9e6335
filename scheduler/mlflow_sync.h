/* mlflow_sync: puts one job's results into MLflow exactly once, however often it is interrupted,
 * and the background syncer that retries it with backoff.
 *
 * Owns: the table `mlflow_sync(job_id, key, value)` in the job database (created if missing),
 * which runs and experiment belong to a job, what has already been logged, the mapping of
 * summary.json / job.json to MLflow params, metrics, tags and artifacts, and the sync's state.
 * Does not own: the HTTP calls (common/mlflow.c), the result files (collector.c writes them).
 *
 * DESIGN. What lands in MLflow (docs/mlflow.md is the user's version):
 *   experiment  spec mlflow.experiment, else the job's name, else "llmaj"
 *   parent run  name: mlflow.run_name, else the job's name, else the job id. Tags llmaj.job_id,
 *               llmaj.role=parent, llmaj.version, llmaj.status, mlflow.source.*, a description.
 *               Params: models, judge, dataset, metrics, generation settings, shard size, record
 *               counts. Metrics: records/<field>, compare/<metric>/<field> (mean_diff, ci95_low/high,
 *               wins, ties, losses, win_rate, n), <target>/<metric>/<field> (headline copies of
 *               the children's), usage/<model>/<field>, estimated_cost_usd, elapsed_s,
 *               progress/{done,total,fraction} with steps while the job runs. Param
 *               metrics_lower_is_better. Artifacts records.jsonl, summary.json, job.json, and
 *               report.html (web/webreport.h: the viewer with the job's files inside).
 *   child runs  one per target ("custom", "base"), tag mlflow.parentRunId = the parent, llmaj.role
 *               = the target; params target, model, judge, dataset, metrics; metrics
 *               <metric>/<field> (mean, mean_score, std, n, n_unscored, n_not_applicable,
 *               n_error, ci95_low, ci95_high, ratings/<rating>) and
 *               category/<category>/<metric>/<field>. Null values are skipped.
 *   status      every run ends FINISHED, FAILED or KILLED as the job did.
 * Final metrics are logged at step 0 with the job's finished_at as timestamp (else the run's start
 * time): the same numbers every time, so a repeated request is one MLflow already has.
 *
 * Exactly once. Every step is recorded in the table as soon as MLflow accepted it, and skipped
 * on the next attempt: experiment id; run ids (before creating a run the sync searches the
 * experiment for a run tagged llmaj.job_id = JOB and llmaj.role = ROLE, so a crash between
 * create and record creates no second run); each log-batch body by its SHA-256 (bodies are a pure
 * function of the files); each artifact by the SHA-256 of its bytes; each run's final status.
 * Should the table be lost, the sync finds the runs again by their tags, params are re-sent with
 * equal values (accepted), and metrics carry the same (key, value, timestamp, step), which
 * MLflow's SQL store does not store twice. Within a process, syncs are serialised by one lock.
 *
 * States (key `state`): "pending" (not yet done: never tried, or the last attempt failed and will
 * be retried), "syncing" (an attempt is running, or the process died during one: treated as
 * pending), "done", "failed" (the syncer gave up after its max attempts; `llmaj sync` retries).
 * `attempts` counts final-sync attempts, `last_error` keeps the last failure. */
#ifndef LLMAJ_MLFLOW_SYNC_H
#define LLMAJ_MLFLOW_SYNC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "spec.h"

/* Creates the mlflow_sync table if missing. 0 or -1 with err. */
int mlflow_sync_init(sqlite3 *db, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Syncs a finished job: job_dir holds records.jsonl, summary.json and job.json (any may be
 * missing for a failed job; at least one must exist). final_status is "FINISHED", "FAILED" or
 * "KILLED". Uses spec->mlflow_tracking_uri (nothing to do, returns 0, when NULL), the experiment
 * and run name of the spec, and the MLFLOW_* / AWS_* environment for auth (mlflow.h).
 * Returns 0 when everything is in MLflow, -1 with a message in err otherwise (the state keeps what
 * was done; calling again resumes). Also records job_dir, final_status and the spec in the table,
 * so that mlflow_syncer can resume the job after a restart. */
int mlflow_sync_job(sqlite3 *db, const char *job_id, const spec_t *spec, const char *job_dir,
                    const char *final_status, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Logs progress while the job runs: metrics progress/done, progress/total, progress/fraction at
 * `step` on the parent run (created if needed). Steps must grow: a step at or below the last one
 * logged is skipped (returns 0), as is any call once the job is synced. 0, or -1 with err. */
int mlflow_sync_progress(sqlite3 *db, const char *job_id, const spec_t *spec, int64_t step,
                         uint64_t done, uint64_t total, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The sync state for a job's status, as a JSON object (caller frees *state_json):
 * {"state":"pending|syncing|done|failed","attempts":N,"last_error":"..."|null,
 *  "tracking_uri":"...","experiment_id":"..."|null,"parent_run_id":"..."|null,
 *  "run_ids":{"custom":"...","base":"..."},"updated_at":"..."}; {"state":"none"} when the job
 * has no MLflow sync. 0, or -1 on a database error (*state_json = NULL). */
int mlflow_sync_state(sqlite3 *db, const char *job_id, char **state_json)
    __attribute__((warn_unused_result));

/* Jobs whose sync is not done ("pending" or "syncing") and can be resumed (their job_dir and spec
 * are recorded). Caller frees each id and the array. 0 or -1 with err. */
int mlflow_sync_unfinished(sqlite3 *db, char ***job_ids, size_t *n, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Resumes one recorded job (see mlflow_sync_unfinished) with the spec, job_dir and final status
 * stored by an earlier mlflow_sync_job or mlflow_syncer_enqueue. 0, or -1 with err. */
int mlflow_sync_resume(sqlite3 *db, const char *job_id, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Records that the sync gave up (state "failed"), keeping last_error. */
int mlflow_sync_give_up(sqlite3 *db, const char *job_id) __attribute__((warn_unused_result));

/* ---- the syncer: a thread that runs syncs and retries them with capped exponential backoff ---- */

typedef struct {
    const char *db_path;     /* the job database; the syncer opens its own connection */
    int64_t backoff_base_ms; /* first retry within this; 0 = 2000 */
    int64_t backoff_max_ms;  /* cap; 0 = 300000 (5 minutes) */
    uint32_t max_attempts;   /* then state "failed"; 0 = retry until stopped */
    bool resume;             /* at start, queue every unfinished sync found in the database */
    uint64_t seed;           /* backoff jitter seed; 0 = from the clock */
} mlflow_syncer_opts_t;

typedef struct mlflow_syncer mlflow_syncer_t;

/* Starts the thread. NULL with err if the database cannot be opened or the thread started. */
mlflow_syncer_t *mlflow_syncer_start(const mlflow_syncer_opts_t *o, char *err, size_t errlen);

/* Queues the final sync of a job. Records spec, job_dir and final status in the database first,
 * so a restart resumes it. Returns at once: 0, or -1 with err (database error, no tracking URI). */
int mlflow_syncer_enqueue(mlflow_syncer_t *s, const char *job_id, const spec_t *spec,
                          const char *job_dir, const char *final_status, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Queues a progress report (best effort: a newer report for the same job replaces a queued one;
 * a failed one is not retried). The spec is copied. */
void mlflow_syncer_progress(mlflow_syncer_t *s, const char *job_id, const spec_t *spec, int64_t step,
                            uint64_t done, uint64_t total);

/* Final syncs queued, running or waiting for a retry. */
size_t mlflow_syncer_pending(mlflow_syncer_t *s);

/* Stops the thread (a request in flight is aborted), and frees. Unfinished syncs stay recorded. */
void mlflow_syncer_stop(mlflow_syncer_t **self_p);

#endif
