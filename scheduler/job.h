/* job: one evaluation job's life in the scheduler. Owns the submission (the spec, the custom
 * metrics, the model strings and every dataset line validated, and the job, its records and its
 * shards stored in one transaction: bad input leaves no trace), the check before a resume, the
 * running job as the engine holds it (job_t: spec, shard table, counters, why it must end), and
 * its end (the final state, the result files, the summary stored).
 *
 * Does not own: the event loop and the broker session (sched.c), how shards travel and when they
 * go again (dispatch.c), how results are committed (ingest.c), the files' contents (output.c).
 *
 * DESIGN. A job is PENDING when stored, RUNNING once an engine opens it, and ends SUCCEEDED,
 * FAILED or STOPPED (scheduler.h). Every start goes through the store: a fresh job and a resumed
 * one are opened the same way, from the rows job_submit wrote (its shards, what is committed), so
 * there is one code path from "stored" to "running", and a restarted engine needs nothing but the
 * database. A job ends when every shard is DONE, when a stop was asked for, or on the first error
 * it cannot get past (`fatal`); a job that ends with every call failed (no score at all) is FAILED
 * even if every shard came back. */
#ifndef LLMAJ_JOB_H
#define LLMAJ_JOB_H
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "errlist.h"
#include "scheduler.h"
#include "shard.h"
#include "spec.h"
#include "store.h"

#define JOB_MAX_LISTED_ERRORS 20   /* dataset problems listed; the rest are counted */

typedef struct job {
    char id[SCHED_JOB_ID_MAX];
    spec_t *spec;
    char *spec_json;            /* canonical, as stored and sent in every shard */
    char *out_dir;              /* <output_path>/<job id>, absolute */
    unsigned targets;           /* 1, or 2 with the base model */
    uint64_t records;           /* valid records (the sum of the shards' n) */
    uint64_t invalid;           /* invalid lines skipped */

    /* The shard table (dispatch.c): index = shard id. */
    shard_t *shards;
    size_t n_shards;
    size_t next_pending;        /* no PENDING shard below this index */
    size_t inflight, done;

    /* Committed so far (ingest.c). */
    uint64_t units_done;        /* (record, target) outputs */
    uint64_t scores[4];         /* by score_status_t */

    /* Its end. */
    bool stop_requested;        /* sched_stop: CANCEL sent (or to send), no new SUBMIT */
    bool cancel_sent;
    char *fatal;                /* the first error that fails it, or NULL */

    /* Times (monotonic ms, and the wall clock at start for job.json). */
    int64_t started_ms, last_progress_ms, last_mlflow_ms;
    time_t started_at;
} job_t;

/* The submission (sched_submit): validates, then stores the job PENDING with its records and
 * shards in one transaction. `db_path` NULL: <output_path>/llmaj.db of this spec, returned in
 * *db_used (caller frees; the path given otherwise). job_id gets the new id. SCHED_OK, or
 * SCHED_E_INPUT with every problem in errs, SCHED_E_IO, SCHED_E_DB. */
sched_err_t job_submit(const sched_submit_t *in, const char *db_path, char **db_used, char *job_id, errlist_t *errs)
    __attribute__((warn_unused_result));

/* The check before a resume: the job exists in db_path, has not ended SUCCEEDED or FAILED, and
 * its stored spec still validates here (its models' endpoints and credentials). SCHED_OK;
 * SCHED_E_NOTFOUND (no database or no such job); SCHED_E_STATE; SCHED_E_INPUT; SCHED_E_DB. */
sched_err_t job_check_resume(const char *db_path, const char *job_id, errlist_t *errs)
    __attribute__((warn_unused_result));

/* Opens a stored job to run it: its spec, its shards (shard_state_on_resume), what is committed;
 * marks it RUNNING. NULL with the reason in err (the caller records the job FAILED). */
job_t *job_open(store_t *st, const char *job_id, char *err, size_t errlen);
void job_destroy(job_t **self_p);

/* Fails the job with the first reason given (later ones are only logged). */
void job_fail(job_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether the job has nothing left to do: every shard done, or a stop asked for, or fatal. */
bool job_over(const job_t *j);

/* Ends the job: decides its final state, writes its result files, stores the state, the error and
 * the summary. *summary and *jobj get what output.c wrote (caller owns; NULL when the files could
 * not be written). Returns the final state. A database failure here is logged with the job's id;
 * the job then stays RUNNING in the database, so a later resume finishes it. */
sched_job_state_t job_end(job_t *j, store_t *st, uint32_t workers, cJSON **summary, cJSON **jobj);

/* Seconds since the job started running in this engine. */
double job_elapsed_s(const job_t *j);

#endif
