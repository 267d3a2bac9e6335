/* mlflow_sync: puts one job's results into MLflow exactly once, however often it is interrupted.
 *
 * Owns: the sync's state (the `mlflow_sync` table, through store_sync_*: which experiment and
 * runs belong to a job, what has already been logged, what a resume needs), the order of the
 * calls, and the sync's states. Does not own: the HTTP calls (mlflow/mlflow.c), what lands where
 * (mlflow_map.c), retrying with backoff in the background (syncer.c), the result files (output.c).
 *
 * DESIGN. Exactly once. Every step is recorded as soon as MLflow accepted it, and skipped on the
 * next attempt: the experiment id; run ids (before creating a run the sync searches the
 * experiment for a run tagged llmaj.job_id = JOB and llmaj.role = ROLE, so a crash between create
 * and record creates no second run); each log-batch body by its SHA-256 (bodies are a pure
 * function of the spec, the summary and job.json); each artifact by the SHA-256 of its bytes;
 * each run's final status. Should the state be lost, the sync finds the runs again by their tags,
 * params are re-sent with equal values (accepted), and metrics carry the same (key, value,
 * timestamp, step), which MLflow's SQL store does not store twice. Within a process, syncs are
 * serialised by one lock.
 *
 * In memory, not read back: the summary and job.json objects are handed in by the caller (the
 * engine, which has just computed them; `llmaj sync`, which reads a job folder); only the
 * artifacts records.jsonl, summary.json and job.json are uploaded from the job folder's files.
 * The fourth artifact, report.html (the results viewer with the job inside, web/webreport.h), is
 * made from the two objects and the rows of records.jsonl. mlflow_sync_record keeps a copy of
 * both objects in the state (numbers printed to read back exactly, lib/jsonprint.h, so a resumed
 * sync sends the same metrics and the same page), so a sync cut short by a crash resumes from
 * the database alone.
 *
 * States (key `state`): "pending" (not yet done: never tried, or the last attempt failed and will
 * be retried), "syncing" (an attempt is running, or the process died during one: treated as
 * pending), "done", "failed" (the syncer gave up after its max attempts; `llmaj sync` retries).
 * `attempts` counts final-sync attempts, `last_error` keeps the last failure. */
#ifndef LLMAJ_MLFLOW_SYNC_H
#define LLMAJ_MLFLOW_SYNC_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "spec.h"
#include "store.h"

/* Whether s is FINISHED, FAILED or KILLED (MLflow's final run statuses). */
bool mlflow_sync_status_ok(const char *s);

/* Records what a sync of the ended job needs (spec, job_dir, final status, summary, job.json,
 * the tracking URI without credentials) and marks it "pending", unless it is already done with
 * that status. 0, or -1 with err (a database error, no tracking URI, a bad status). */
int mlflow_sync_record(store_t *st, const char *job_id, const spec_t *spec, const char *job_dir,
                       const char *final_status, const cJSON *summary, const cJSON *job, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* One attempt at the final sync of an ended job (records it first, as mlflow_sync_record).
 * job_dir holds the artifacts (records.jsonl, summary.json, job.json: any may be missing for a
 * failed job; summary and job may then be NULL, but something must be there), and report.html is
 * made when job is there. Uses
 * spec->mlflow_tracking_uri (none: nothing to do, 0), the spec's experiment and run name, and the
 * MLFLOW_* / AWS_* environment for auth (mlflow.h). `abort_flag` (may be NULL) cuts a request
 * short when set. 0 when everything is in MLflow; -1 with err otherwise (what was done is kept:
 * calling again resumes). */
int mlflow_sync_job(store_t *st, const char *job_id, const spec_t *spec, const char *job_dir, const char *final_status,
                    const cJSON *summary, const cJSON *job, const atomic_int *abort_flag, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Resumes a recorded sync (mlflow_sync_record) from the database alone. 0, or -1 with err. */
int mlflow_sync_resume(store_t *st, const char *job_id, const atomic_int *abort_flag, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Logs progress while the job runs: progress/done, progress/total, progress/fraction at `step`
 * on the parent run (created if needed). Steps must grow: a step at or below the last one logged
 * is skipped (0), as is any call once the job's sync is done or failed. 0, or -1 with err. */
int mlflow_sync_progress(store_t *st, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                         uint64_t total, const atomic_int *abort_flag, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The sync's state for a job's status (caller owns *state): {"state": "none"} when the job has
 * no sync, else {"state", "attempts", "last_error", "tracking_uri", "experiment_id",
 * "parent_run_id", "run_ids": {"custom", "base"}, "updated_at"}. 0, or -1 on a database error. */
int mlflow_sync_state(store_t *st, const char *job_id, cJSON **state) __attribute__((warn_unused_result));

/* Jobs whose sync is not done and can be resumed. Caller frees each id and the array. 0 or -1. */
int mlflow_sync_unfinished(store_t *st, char ***job_ids, size_t *n) __attribute__((warn_unused_result));

/* Records that the syncer gave up (state "failed"), keeping last_error. 0 or -1 (logged). */
int mlflow_sync_give_up(store_t *st, const char *job_id) __attribute__((warn_unused_result));

#endif
