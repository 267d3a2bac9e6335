/* scheduler: runs jobs. Validates the spec and the whole dataset before any model call, stores
 * the records and splits them into shards, keeps a bounded number of shards in flight through
 * the broker, and collects: results are committed idempotently in the store as they arrive; at
 * the end the collector writes records.jsonl, summary.json and job.json and (when configured)
 * syncs MLflow. Until the REST control plane exists, one call runs one job to its end. */
#ifndef LLMAJ_SCHEDULER_H
#define LLMAJ_SCHEDULER_H
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "errlist.h"

typedef struct {
    const char *job_id;
    uint64_t records;         /* valid records */
    uint64_t units_total;     /* (record, target) pairs */
    uint64_t units_done;      /* committed */
    uint64_t shards_total, shards_done, shards_inflight;
    uint64_t scores_ok, scores_unscored, scores_error, scores_na;
    uint32_t workers;         /* as the broker last said */
    bool connected;           /* welcomed by the broker (and not since found silent or restarted) */
    double elapsed_s;
    bool finished;
} job_progress_t;

typedef struct {
    const char *broker;       /* endpoint to connect */
    void *zmq_ctx;            /* NULL: own */
    const char *db_path;      /* NULL: <output_path>/llmaj.db */
    int window;               /* shards in flight at most; default 64 */
    int heartbeat_ms;         /* default 1000 */
    int dead_after;           /* default 5 */
    /* Called from the scheduler's thread at most every progress_ms (and once at the end). */
    void (*progress)(const job_progress_t *p, void *arg);
    void *progress_arg;
    int progress_ms;          /* default 200 */
    /* How long to wait at the end of a job for its MLflow sync (which retries with backoff)
     * before returning; an unfinished sync is resumed by the next scheduler on the same
     * database, or by `llmaj sync`. Default 60000. */
    int mlflow_wait_ms;
    /* Overrides applied to the spec JSON before validation (CLI flags); may be NULL. */
    const cJSON *overrides;
    /* CURVE to the broker (proto/curve.h: this scheduler's key pair and the broker's public key);
     * NULL = plaintext. */
    const struct curve_keys *curve;
} scheduler_opts_t;

typedef struct {
    char job_id[96];
    int state;                /* job_state_t of store.h */
    char *out_dir;            /* caller frees */
    char *error;              /* caller frees; NULL when none */
    cJSON *summary;           /* caller frees (cJSON_Delete) */
    uint64_t records, units;
    double elapsed_s;
    char *mlflow_state;       /* caller frees; NULL without MLflow */
} job_outcome_t;

void scheduler_opts_default(scheduler_opts_t *o);

/* Runs one job from spec JSON text. `origin` names it in messages; `base_dir` resolves relative
 * paths. Returns 0 when the job ran (out->state tells how it ended), 2 for bad input (every
 * problem in errs, nothing was called), -1 for an internal error (message in errs). */
int scheduler_run_job(const scheduler_opts_t *o, const char *spec_json, size_t len, const char *origin,
                      const char *base_dir, errlist_t *errs, job_outcome_t *out);

/* Resumes a job an earlier scheduler left unfinished (stopped, or killed while running), from
 * its database (o->db_path, default runs/llmaj.db): shards already done are kept, the rest run
 * again, results already committed are not redone. Returns as scheduler_run_job. */
int scheduler_resume_job(const scheduler_opts_t *o, const char *job_id, errlist_t *errs, job_outcome_t *out);

/* Stops a running job from any thread (the job ends STOPPED). */
void scheduler_request_stop(void);

void job_outcome_clear(job_outcome_t *o);

#endif
