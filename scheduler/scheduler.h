/* scheduler: the scheduler's one face. The CLI sees nothing else of scheduler/ (nor will the REST
 * control plane or the SDK behind it): not the store, not its SQL, not the collector.
 *
 * Three parts:
 *  - The engine (sched_t): one event loop on the thread that calls sched_run, one session with
 *    the broker, one job database, any number of jobs at once. A job is submitted (the spec and
 *    the whole dataset validated and stored in one transaction, on the caller's thread), then
 *    run by the engine: its shards dispatched through the broker with flow control, its results
 *    committed as they arrive, and at its end the result files written and the MLflow sync
 *    queued. Submitting, resuming and stopping are safe from any thread while sched_run runs.
 *    `llmaj run` and `llmaj-scheduler --spec/--resume` are this engine with one job.
 *  - Reading jobs back (sched_db_t): the list, one job's status (state, steps, counts, timings,
 *    output folder, MLflow sync, liveness), a page of its results (records.jsonl rows), its
 *    summary. Reads the job database only, so it works from any thread or process while an
 *    engine writes the same database, and with no engine at all (`llmaj list/status/results`).
 *  - Syncing a finished job's folder to MLflow by hand (`llmaj sync`): sched_sync_dir.
 *
 * Errors: every fallible call returns a sched_err_t (SCHED_OK, or what kind of failure, which the
 * CLI maps to its exit codes and a REST layer to HTTP statuses) and adds readable messages to an
 * errlist_t: every problem of a bad spec or dataset, each naming its key or FILE:LINE.
 * Ownership: strings and objects in the structs filled here belong to the struct; clear it with
 * its _clear function. Times are Unix seconds, 0 for "not yet". */
#ifndef LLMAJ_SCHEDULER_H
#define LLMAJ_SCHEDULER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errlist.h"
#include "record.h"
#include "result.h"

/* ------------------------------------------------------------------------------ errors ---- */

typedef enum {
    SCHED_OK = 0,
    SCHED_E_INPUT,       /* bad input: spec, dataset, metrics, model strings, a value; nothing was done */
    SCHED_E_NOTFOUND,    /* no such job (or a prefix that names none), no job database at a path */
    SCHED_E_STATE,       /* the job's state does not allow it (resuming a job that already ended) */
    SCHED_E_DB,          /* the job database could not be opened, read or written */
    SCHED_E_IO,          /* a file or folder could not be written or read; or a caller's callback failed */
    SCHED_E_MLFLOW,      /* MLflow could not be reached or refused; what was done is kept: call again */
    SCHED_E_INTERNAL,    /* anything else (a thread, a socket, the event loop could not be set up) */
    SCHED_E_INTERRUPTED, /* a stop or shutdown (a signal) cut a submission short: nothing was stored */
} sched_err_t;

const char *sched_strerror(sched_err_t e); /* "bad input", ...; static */

/* --------------------------------------------------------------------------- job states ---- */

#define SCHED_JOB_ID_MAX 128 /* job ids are shorter (the wire's limit, WIRE_MAX_ID) */

typedef enum {
    SCHED_JOB_PENDING = 0,   /* "queued": validated and stored, not yet running (waiting for the
                                  engine, or for room under its max_jobs) */
    SCHED_JOB_RUNNING = 1,   /* shards being dispatched, results committed as they come */
    SCHED_JOB_SUCCEEDED = 2, /* every shard done, result files written */
    SCHED_JOB_FAILED = 3,    /* ended with nothing scored, or by an error it could not get past */
    SCHED_JOB_STOPPED = 4,   /* stopped on request; what was committed is kept and written */
    SCHED_JOB_STOPPING = 5,  /* a stop was asked for: no new model call starts; it ends STOPPED
                                  once its results files are written (also after a restart) */
} sched_job_state_t;

/* "queued", "running", "succeeded", "failed", "stopped", "stopping": the names the CLI, the REST
 * API (DESIGN.md "Control plane") and the docs use. */
const char *sched_job_state_name(sched_job_state_t s);
bool sched_job_state_ended(sched_job_state_t s); /* succeeded, failed or stopped */

/* ------------------------------------------------------------------------------ engine ---- */

/* A running job's progress, handed to sched_opts_t.progress. Valid during the call. */
typedef struct {
    const char *job_id;
    uint64_t records;     /* valid records */
    uint64_t units_total; /* (record, target) outputs */
    uint64_t units_done;  /* committed */
    uint64_t shards_total, shards_done, shards_inflight;
    uint64_t scores_ok, scores_unscored, scores_error, scores_na;
    uint32_t workers;         /* alive, as the broker last said */
    bool connected;           /* welcomed by the broker, the session not since ended */
    double elapsed_s;         /* since the job started running in this engine */
    bool finished;            /* the last report of the job: it has ended */
    const char *note;         /* the engine's word on its fleet ("cannot reach the broker at ..."),
                                   or NULL when all is well */
    double stalled_s;         /* > 0: no result committed for this long with shards in flight
                                   (past sched_opts_t.stall_after_ms); 0: progressing */
    uint64_t results_refused; /* RESULTs and SHARD_DONEs dropped: not for a shard in flight, or
                                   under a lease older than the shard's current one */
} sched_progress_t;

#define SCHED_STALL_MS 600000 /* ten minutes */

typedef struct sched sched_t;

typedef struct {
    const char *broker;  /* broker endpoint: "tcp://127.0.0.1:5555", "inproc://..." */
    void *zmq_ctx;       /* borrowed, must outlive the engine; NULL: the engine makes one */
    const char *db_path; /* the job database; NULL: the first submitted job's
                                   <output_path>/llmaj.db (the one-job form; submit before
                                   sched_run), or runs/llmaj.db */
    const char *name;    /* in the broker's logs; NULL: scheduler-<pid> */
    int window;          /* shards of a job in flight at most; 0: 64 */
    int heartbeat_ms;    /* 0: 1000 */
    int dead_after;      /* broker silent this many heartbeats: reconnect; 0: 5 */
    bool until_idle;     /* sched_run returns once no job is pending or running and every
                                   MLflow sync is done (or mlflow_wait_ms passed) */
    int mlflow_wait_ms;  /* until_idle: longest wait for the syncs at the end; <0: 60000.
                                   An unfinished sync resumes with the next engine on the database */
    /* Called on the engine's thread for every running job at most every progress_ms, and once
     * when it ends (finished = true). Must not block; may be NULL. */
    void (*progress)(const sched_progress_t *p, void *arg);
    void *progress_arg;
    int progress_ms;    /* 0: 200 */
    int stall_after_ms; /* a running job with shards in flight and no result committed this
                                   long is reported stalled (log, note, /metrics); 0: SCHED_STALL_MS */
    int max_jobs;       /* jobs running at once at most, the others wait queued (in
                                   submission order); 0: no limit */
    /* Called once on sched_run's thread when the engine is set up (its database open, the jobs
     * it takes up queued), before it runs jobs: where a service starts listening. May be NULL. */
    void (*on_start)(sched_t *s, void *arg);
    void *on_start_arg;
    bool serve; /* the service (llmaj-scheduler --serve): jobs submitted to it are
                                   its own, and at start it takes up every one of its own jobs that
                                   an earlier engine left queued, running or stopping, and deletes
                                   submissions a crash cut short. Holds <db>.lock (one service per
                                   database): sched_run fails when another holds it */
    /* CURVE to the broker (proto/curve.h: this scheduler's key pair and the broker's public key);
     * NULL = plaintext. Borrowed until sched_run has connected (the session copies it). */
    const struct curve_keys *curve;
} sched_opts_t;

/* A new engine (nothing connected or opened yet: sched_run does). The options' strings are
 * copied. NULL with the reason in errs. Caller owns the result (sched_destroy). */
sched_t *sched_new(const sched_opts_t *o, errlist_t *errs);

/* Stops the engine if it runs (as sched_shutdown) and frees it. Accepts NULL; sets *self_p = NULL. */
void sched_destroy(sched_t **self_p);

/* A job to submit. */
typedef struct {
    const char *spec_json; /* the job spec (JSON text; not NUL-terminated necessarily) */
    size_t len;
    const char *origin;     /* names the spec in messages: its file, "flags", "request"; NULL: "spec" */
    const char *base_dir;   /* relative paths in the spec (dataset, custom metric files) start
                                   here; NULL: the current folder */
    const cJSON *overrides; /* spec keys that replace the spec's (the CLI's flags); may be NULL */
} sched_submit_t;

/* Validates the spec, the custom metrics, the model strings (each must resolve to an endpoint
 * with its credentials here) and every dataset line, then stores the job, its records and its
 * shards in one transaction and queues it for the engine; a job with bad input leaves no trace.
 * Runs on the caller's thread (reading the dataset takes as long as it takes), from any thread,
 * before or while sched_run runs. job_id (SCHED_JOB_ID_MAX bytes) gets the new job's id.
 * SCHED_OK; SCHED_E_INPUT with every problem in errs (nothing stored, no model called);
 * SCHED_E_IO (output_path cannot be created), SCHED_E_DB. */
sched_err_t sched_submit(sched_t *s, const sched_submit_t *in, char *job_id, errlist_t *errs)
    __attribute__((warn_unused_result));

/* Queues a job an earlier engine left unfinished (stopped, or its process died while it ran):
 * shards done are kept, the others run again with only their records that have no result yet,
 * results already committed are not redone. SCHED_OK; SCHED_E_NOTFOUND (no such job);
 * SCHED_E_STATE (it already succeeded or failed, or this engine runs it); SCHED_E_INPUT (its
 * stored spec no longer validates here, e.g. a model's credentials are missing); SCHED_E_DB. */
sched_err_t sched_resume(sched_t *s, const char *job_id, errlist_t *errs) __attribute__((warn_unused_result));

/* Stops a job from any thread: no new shard is sent, the broker and workers drop its work, and
 * it ends STOPPED with what it committed written out (a queued job is opened and ends at once).
 * Returns at once; sched_job_status then shows it ending. SCHED_OK; SCHED_E_NOTFOUND (no such job
 * in the engine's database); SCHED_E_STATE (it has ended, or it is not run by this engine). */
sched_err_t sched_stop(sched_t *s, const char *job_id, errlist_t *errs) __attribute__((warn_unused_result));

/* Stops every job of the engine, as sched_stop (a signal handler's thread may call it). */
void sched_stop_all(sched_t *s);

/* Retries an ended job (succeeded, failed or stopped) in place: its cells (record, target,
 * metric) that ended `error`, and with `unscored` those that ended `unscored`, are run again
 * (an inference that failed: the whole (record, target); a judge call: that metric, on the
 * committed response), as are the cells a stopped or failed job never reached; then its result
 * files are written again. What succeeded is kept and not redone. *cells (may be NULL) gets how
 * many cells will run. SCHED_OK (queued to run); SCHED_E_NOTFOUND; SCHED_E_STATE (it has not
 * ended, or it has nothing to rerun); SCHED_E_INPUT (its stored spec no longer validates here);
 * SCHED_E_DB. */
sched_err_t sched_retry(sched_t *s, const char *job_id, bool unscored, uint64_t *cells, errlist_t *errs)
    __attribute__((warn_unused_result));

/* What the engine holds of one job right now, for /metrics: the latest progress (job_id valid
 * during the call) and the job's phase. */
typedef enum { SCHED_PHASE_QUEUED, SCHED_PHASE_RUNNING, SCHED_PHASE_ENDING } sched_phase_t;
typedef void (*sched_snap_cb)(const sched_progress_t *p, sched_phase_t phase, void *arg);
/* Calls cb for every job the engine has queued, running or being written, from any thread. The
 * engine's own figures (connected, workers, note) come in *fleet (may be NULL; its strings valid
 * until the next call on this thread). */
void sched_snapshot(sched_t *s, sched_snap_cb cb, void *arg, sched_progress_t *fleet);

/* Runs the engine on the calling thread: opens the job database, starts the MLflow syncer
 * (which also finishes syncs an earlier engine left), connects to the broker and runs jobs as
 * they come, until sched_shutdown, or (until_idle) until none is left. SCHED_OK when it ran;
 * SCHED_E_DB or SCHED_E_INTERNAL when it could not start (errs says why). How a job ended is
 * the job's state (sched_job_status), not this result. Call once. */
sched_err_t sched_run(sched_t *s, errlist_t *errs) __attribute__((warn_unused_result));

/* From any thread: sched_run returns soon; jobs still running stay RUNNING in the database (a
 * later engine resumes them), their MLflow syncs stay queued there. */
void sched_shutdown(sched_t *s);

/* The job database this engine uses (or will use); NULL before it is known (see db_path). */
const char *sched_db_path(const sched_t *s);

/* Asks whatever engine runs job_id in the database at db_path to stop it, from another process
 * (`llmaj stop` without a service): the job is marked STOPPING there; its engine sees it within a
 * heartbeat, a queued job's engine when it would start it. SCHED_OK; SCHED_E_NOTFOUND;
 * SCHED_E_STATE (it has ended); SCHED_E_DB. */
sched_err_t sched_request_stop(const char *db_path, const char *job_id, errlist_t *errs)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------- reading jobs back ---- */

typedef struct sched_db sched_db_t;

/* Opens an existing job database to read it; never creates or changes one. `label` (may be NULL)
 * follows the path in messages, e.g. "given with --db". SCHED_OK; SCHED_E_NOTFOUND (nothing at
 * path); SCHED_E_INPUT (a folder, not an SQLite file, or an SQLite file with no jobs table);
 * SCHED_E_DB. One sched_db_t per thread. */
sched_err_t sched_db_open(const char *path, const char *label, sched_db_t **out, errlist_t *errs)
    __attribute__((warn_unused_result));
void sched_db_close(sched_db_t **self_p);        /* accepts NULL */
const char *sched_db_file(const sched_db_t *db); /* the path it was opened with */

/* A job as listed. */
typedef struct {
    char *job_id;
    char *name; /* the spec's name, or NULL */
    sched_job_state_t state;
    char *error;                                /* why it failed, or NULL */
    char *failure;                              /* a failed job's kind of failure, or NULL: "output" (its result
                                   files could not be written; every result is in the database),
                                   "database" (the job database could not be written), "models"
                                   (no score at all), "other". "output" and "database" are resumed
                                   (resume or retry) without calling a model for what is committed */
    char *spec_json;                            /* the spec as run (canonical JSON) */
    char *model, *base_model, *evaluator_model; /* from the spec; base_model only when evaluated */
    int64_t created_at, started_at, finished_at;
    int64_t updated_at;       /* the last sign of life of the engine running it */
    uint64_t records_total;   /* non-blank dataset lines */
    uint64_t records_invalid; /* of which invalid, skipped (skip_invalid) */
    char *out_dir;            /* where its result files go (absolute), as stored; may be NULL */
    double elapsed_s;         /* finished (or now) - started; -1 when it never started */
} sched_job_t;
void sched_job_clear(sched_job_t *j);

/* Calls cb for every job, newest first; the job is valid during the call. A non-zero return from
 * cb stops the walk (SCHED_E_IO). SCHED_OK or SCHED_E_DB. */
typedef int (*sched_job_cb)(const sched_job_t *job, void *arg);
sched_err_t sched_jobs_list(sched_db_t *db, sched_job_cb cb, void *arg, errlist_t *errs)
    __attribute__((warn_unused_result));

/* The id of the one job `ref` names: a job id, or a beginning of exactly one (an exact id wins
 * over longer ids that begin with it). *job_id gets a copy (caller frees). SCHED_OK;
 * SCHED_E_NOTFOUND (none: the message says so); SCHED_E_INPUT (empty, or the beginning of several
 * ids: the message lists some); SCHED_E_DB. */
sched_err_t sched_job_resolve(sched_db_t *db, const char *ref, char **job_id, errlist_t *errs)
    __attribute__((warn_unused_result));

/* The steps a job goes through, as the seed's users know them. */
enum { SCHED_STEP_VALIDATE, SCHED_STEP_RUN, SCHED_STEP_COLLECT, SCHED_STEP_MLFLOW, SCHED_N_STEPS };

typedef struct {
    const char *name;   /* "validate", "infer+judge", "collect", "mlflow" (static) */
    const char *status; /* "pending", "running", "succeeded", "failed", "stopped", "skipped" (static) */
    char *detail;       /* one line for people */
} sched_step_t;

/* Everything about one job, read in one snapshot. */
typedef struct {
    sched_job_t job;
    unsigned targets;       /* 1, or 2 when the base model is evaluated */
    uint64_t records_valid; /* valid records stored */
    uint64_t records_done;  /* records with a committed output for every target */
    uint64_t units_total;   /* (record, target) outputs: records_valid × targets */
    uint64_t units_done;    /* committed */
    uint64_t unit_errors;   /* committed with a failed inference call */
    uint64_t error_cells;   /* cells (record, target, metric) that ended `error`: scores[3] */
    uint64_t shards_total, shards_pending, shards_inflight, shards_done;
    uint64_t dispatches; /* SUBMITs of its shards to the broker, resubmissions included */
    uint64_t deliveries; /* deliveries of its shards to workers seen: more than the SUBMITs
                                   when the broker handed a lost worker's shards to another */
    uint64_t scores[4];  /* committed scores by score_status_t (result.h) */
    sched_step_t steps[SCHED_N_STEPS];
    cJSON *mlflow;       /* the MLflow sync's state: {"state": "none"} without one, else
                                   {"state": "pending|syncing|done|failed", "attempts", "last_error",
                                   "tracking_uri", "experiment_id", "parent_run_id", "run_ids",
                                   "updated_at"} */
    char *output_dir;    /* the result folder as found from here (see sched_job_status) */
    bool output_exists;  /* that folder exists */
    bool output_written; /* its job.json exists: the result files are complete */
    char *output_uri;    /* an s3:// output: where the files are uploaded when the job ends
                                   (s3://bucket/prefix/<job_id>/); NULL for a local output */
    int64_t silent_s;    /* a running job whose engine has not been seen for more than
                                   SCHED_SILENT_S seconds: how many; else 0 */
    char *note;          /* its engine's word on the fleet ("cannot reach the broker at
                                   ..."), or NULL */
    bool partial;        /* it ended without every cell committed (stopped, failed) */
    cJSON *cache;        /* a job whose spec has "cache" or "reuse_responses_from": {"enabled",
                                   "reused_from", "reused_responses", "inference_hits", "judge_hits"}
                                   (as summary.json's "cache"); else NULL */
} sched_status_t;

#define SCHED_SILENT_S 30 /* an engine marks its running jobs alive every heartbeat */

/* Fills *out (caller clears it). The output folder is the stored one when it exists, else
 * <folder of the database>/<job id>, else <output_path>/<job id> as seen from here, else where it
 * is expected. SCHED_OK; SCHED_E_NOTFOUND; SCHED_E_DB. */
sched_err_t sched_job_status(sched_db_t *db, const char *job_id, sched_status_t *out, errlist_t *errs)
    __attribute__((warn_unused_result));
void sched_status_clear(sched_status_t *s);

/* A page of a job's results: one row per committed (record, target), in (record, target) order,
 * as records.jsonl has them; rows offset .. offset+limit-1 of that order, read in one snapshot
 * together with the job's state and the row count, so they agree while the job runs (only
 * committed rows show; pages shift as earlier records complete). `head` is called once with the
 * page (state, total) before the first row, `row` for each row with its record and result (valid
 * during the call; a non-zero return stops the walk: SCHED_E_IO); either may be NULL. *page (may
 * be NULL) gets the same as head. SCHED_OK; SCHED_E_NOTFOUND; SCHED_E_DB. */
typedef struct {
    sched_job_state_t state; /* the job's state when read */
    uint64_t total;          /* rows committed so far */
} sched_page_t;
typedef struct {
    void (*head)(const sched_page_t *page, void *arg);
    int (*row)(const record_t *rec, const result_t *res, void *arg);
    void *arg;
} sched_rows_t;
sched_err_t sched_job_results(sched_db_t *db, const char *job_id, uint64_t offset, uint64_t limit,
                              const sched_rows_t *cbs, sched_page_t *page, errlist_t *errs)
    __attribute__((warn_unused_result));

/* Appends one records.jsonl line (newline included) for a row to b (DESIGN.md "Results"). 0, or
 * -1 when b's cap is hit. */
int sched_result_line(buf_t *b, const char *job_id, const record_t *rec, const result_t *res)
    __attribute__((warn_unused_result));

/* The job's summary.json object, once the job has ended and it was written (caller owns:
 * cJSON_Delete). SCHED_OK; SCHED_E_NOTFOUND (no such job, or no summary yet); SCHED_E_DB. */
sched_err_t sched_job_summary(sched_db_t *db, const char *job_id, cJSON **summary, errlist_t *errs)
    __attribute__((warn_unused_result));

/* Prints summary.json (a job's summary object) as tables: per target and metric (mean, mean
 * score, 95% CI, n, unscored, not applicable, errors), then the comparison with the base model,
 * and a line when it is partial. NULL or an odd object prints no garbage. */
void sched_summary_print(FILE *f, const cJSON *summary);

/* ------------------------------------------------------------------ MLflow, by hand ---- */

typedef struct {
    const char *job_dir;      /* the job's result folder: records.jsonl, summary.json, job.json */
    const char *db_path;      /* keeps what was already logged; NULL: <job_dir>/../llmaj.db
                                   (created if missing) */
    const char *tracking_uri; /* NULL: the spec's mlflow.tracking_uri, else $MLFLOW_TRACKING_URI */
    const char *experiment;   /* NULL: the spec's mlflow.experiment */
    const char *status;       /* FINISHED, FAILED or KILLED; NULL: from job.json's status */
} sched_sync_opts_t;

typedef struct {
    char *job_id;
    char *tracking_uri;           /* credentials removed */
    char *experiment_id, *run_id; /* the parent run */
    char *status;                 /* the runs' final status */
    char *db_path;                /* where the sync's state is kept */
} sched_sync_out_t;
void sched_sync_out_clear(sched_sync_out_t *o);

/* Syncs a finished job folder to MLflow (docs/mlflow.md says what lands where), or finishes an
 * interrupted sync; a job already synced with that status is left as it is, and nothing is ever
 * logged twice. The spec comes from job.json. SCHED_OK; SCHED_E_INPUT (no folder, no job.json,
 * a spec or status that does not do, no tracking URI); SCHED_E_DB; SCHED_E_MLFLOW (run it again:
 * it resumes). */
sched_err_t sched_sync_dir(const sched_sync_opts_t *o, sched_sync_out_t *out, errlist_t *errs)
    __attribute__((warn_unused_result));

#endif
