/* job: one evaluation job's life in the scheduler. Owns the submission (the spec, the custom
 * metrics, the model strings and every dataset line validated, and the job, its records and its
 * shards stored in one transaction: bad input leaves no trace), the check before a resume, the
 * running job as the engine holds it (job_t: spec, shard table, counters, why it must end), and
 * its end (the final state, the result files, the summary stored).
 *
 * Does not own: the event loop and the broker session (sched.c), how shards travel and when they
 * go again (dispatch.c), how results are committed (ingest.c), the files' contents (output.c).
 *
 * DESIGN. A job is PENDING when stored, RUNNING once an engine opens it, STOPPING once a stop is
 * asked for, and ends SUCCEEDED, FAILED or STOPPED (scheduler.h). Every start goes through the
 * store: a fresh job, a resumed one and a retried one are opened the same way, from the rows
 * job_submit wrote (its shards, what is committed), so there is one code path from "stored" to
 * "running", and a restarted engine needs nothing but the database. A job ends when every shard
 * is DONE, when a stop was asked for, or on the first error it cannot get past (`fatal`); a job
 * that ends with every call failed (no score at all) is FAILED even if every shard came back.
 *
 * Loading. A submission reads and validates the dataset while it stores it, in transactions of
 * LOAD_BATCH records, under a job row in the hidden state STORE_STATE_LOADING: the write lock is
 * held for one batch at a time, never for the whole read, so an engine on the same database keeps
 * committing results meanwhile. A dataset with a bad line stops storing at once (reading goes on
 * to report every problem) and the rows stored so far are deleted; the job is published (PENDING)
 * only when the whole dataset passed. A crash mid-load leaves a LOADING job that no listing shows
 * and the next serving engine deletes.
 *
 * Ending is two steps: job_final_state on the engine's thread (what the job ends as), then
 * job_write, which may take long on a large job, on the writer thread (writer.c) with its own
 * connection: the result files, the summary, the counts and the final state. Until job_write has
 * stored the final state, the job stays RUNNING (or STOPPING) in the database, so a crash in
 * between only means the next engine ends it again. */
#ifndef LLMAJ_JOB_H
#define LLMAJ_JOB_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "errlist.h"
#include "scheduler.h"
#include "shard.h"
#include "spec.h"
#include "store.h"
#include "wire.h"

#define JOB_MAX_LISTED_ERRORS 20  /* dataset problems listed; the rest are counted */
#define LOAD_BATCH 4096           /* records stored per transaction by a submission */
#define JOB_REQUEST_TIMEOUT_S 300 /* the llm client's request timeout (llm.h default), for the lease ceiling */

typedef struct fastfail fastfail_t;

/* What kind of error failed a job (stored with it: store_job_set_failure). OUTPUT and DATABASE are
 * a bad day of the disk, not of the job: every result committed is in the database, so a resume
 * (or a retry) reopens the job as it is, runs only what is missing and writes its files again. */
typedef enum {
    JOB_FAILURE_NONE = 0,
    JOB_FAILURE_OTHER,    /* "other" */
    JOB_FAILURE_OUTPUT,   /* "output": the result files (or their upload) could not be written */
    JOB_FAILURE_DATABASE, /* "database": results could not be committed, or read back */
    JOB_FAILURE_MODELS,   /* "models": no score at all, or every first call refused for its set-up */
} job_failure_t;

/* "other", "output", "database", "models"; NULL for NONE. */
const char *job_failure_name(job_failure_t f);
/* Whether a job that failed so (a stored name, may be NULL) is reopened by a resume or a retry. */
bool job_failure_resumable(const char *name);

typedef struct job {
    char id[SCHED_JOB_ID_MAX];
    spec_t *spec;
    char *spec_json;  /* canonical, as stored and sent in every shard */
    char *out_dir;    /* <output_path>/<job id>, absolute */
    unsigned targets; /* 1, or 2 with the base model */
    size_t n_metrics; /* cells per (record, target) */
    uint64_t records; /* valid records (the sum of the shards' n) */
    uint64_t invalid; /* invalid lines skipped */

    /* The shard table (dispatch.c): index = shard id. */
    shard_t *shards;
    size_t n_shards;
    size_t next_pending; /* no PENDING shard below this index */
    size_t inflight, done;

    /* Committed so far (ingest.c). */
    uint64_t units_done;   /* (record, target) with every metric committed */
    uint64_t unit_errors;  /* of which the inference call failed */
    uint64_t records_done; /* records with every target done */
    uint64_t scores[4];    /* by score_status_t */
    uint64_t saved[3];     /* calls not made, by STORE_SAVED_* (cache.c counts them) */
    fastfail_t *ff;        /* the first calls of each model: all refused for their set-up? */

    /* Its end. */
    bool stop_requested; /* sched_stop: CANCEL sent (or to send), no new SUBMIT */
    bool cancel_sent;
    char *fatal;           /* the first error that fails it, or NULL */
    job_failure_t failure; /* what kind of error fatal is */

    /* Times (monotonic ms, and the wall clock at start for job.json). */
    int64_t started_ms, last_progress_ms, last_mlflow_ms;
    time_t started_at;
    char *note;                    /* the note last stored for it (sched.c) */
    const atomic_int *write_abort; /* set by the writer: once non-zero, writing the files stops */

    /* At the broker (protocol.md §6.10, §6.4): the job's secret (stored, store_job_secret; in
     * every SUBMIT and CANCEL, never logged) and its lease ceiling (SUBMIT's lease_s). */
    char secret[WIRE_MAX_SECRET];
    uint32_t lease_max_s;
    bool stalled;             /* no result committed for the stall time (sched.c) */
    int64_t last_result_ms;   /* a result last committed (loop_now_ms), or its start */
    uint64_t results_refused; /* RESULT/SHARD_DONE not for a shard in flight, or a stale lease */
} job_t;

/* The submission (sched_submit): validates while it stores the job with its records and shards
 * (see DESIGN), then publishes it PENDING; bad input leaves no trace. `db_path` NULL:
 * <output_path>/llmaj.db of this spec, returned in *db_used (caller frees; the path given
 * otherwise). `owner` is stored with the job (store.h). job_id gets the new id. Once *cancel (may
 * be NULL) is set, reading the dataset stops and SCHED_E_INTERRUPTED is returned, nothing kept.
 * SCHED_OK, or SCHED_E_INPUT with every problem in errs, SCHED_E_IO, SCHED_E_DB. */
sched_err_t job_submit(const sched_submit_t *in, const char *db_path, const char *owner, const atomic_int *cancel,
                       char **db_used, char *job_id, errlist_t *errs) __attribute__((warn_unused_result));

/* Every model the spec calls resolves to an endpoint with its credentials here (problems to errs,
 * each naming its key). */
void job_check_endpoints(const spec_t *sp, errlist_t *errs);

/* The retry (sched_retry; sched_resume of an ended job): the job has ended, its stored spec still
 * validates here, and store_retry_prepare finds cells to rerun. SCHED_OK with *cells; else
 * SCHED_E_NOTFOUND, SCHED_E_STATE (not ended, or nothing to rerun), SCHED_E_INPUT, SCHED_E_DB. */
sched_err_t job_prepare_retry(const char *db_path, const char *job_id, bool unscored, uint64_t *cells, errlist_t *errs)
    __attribute__((warn_unused_result));

/* The check before a resume: the job exists in db_path and its stored spec still validates here
 * (its models' endpoints and credentials). *state gets its state (an ended one is resumed as a
 * retry). SCHED_OK; SCHED_E_NOTFOUND (no database or no such job); SCHED_E_INPUT; SCHED_E_DB. */
sched_err_t job_check_resume(const char *db_path, const char *job_id, sched_job_state_t *state, errlist_t *errs)
    __attribute__((warn_unused_result));

/* Opens a stored job to run it: its spec, its shards (shard_state_on_resume), what is committed;
 * marks it RUNNING (a STOPPING job stays STOPPING, with stop_requested set). NULL with the reason
 * in err (the caller records the job FAILED). */
job_t *job_open(store_t *st, const char *job_id, char *err, size_t errlen);
void job_destroy(job_t **self_p);

/* Fails the job with the first reason given (later ones are only logged); job_fail is
 * JOB_FAILURE_OTHER. */
void job_fail(job_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void job_fail_as(job_t *j, job_failure_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether the job has nothing left to do: every shard done, or a stop asked for, or fatal. */
bool job_over(const job_t *j);

/* Counts one committed result into the job's progress: its output was new (`new_output`), and
 * `new_scores` of its scores were (by_status: those by status). `st` answers whether a (record,
 * target) or a record is now complete when that is not plain from the result. */
void job_count(job_t *j, store_t *st, const result_t *r, bool new_output, size_t new_scores,
               const uint64_t by_status[4]);

/* What the job ends as, on the engine's thread: FAILED when fatal or when nothing at all was
 * scored, STOPPED when a stop was asked for, else SUCCEEDED. */
sched_job_state_t job_final_state(job_t *j);

/* Ends the job in the database (writer.c's thread, its own connection `st`): writes its result
 * files (summary.json says `partial` when cells are missing), stores the summary, the counts and
 * `state` (FAILED instead when the files cannot be written) with its error; a stopped job's
 * shards in flight go back to PENDING. *summary and *jobj get what output.c wrote (caller owns;
 * NULL when the files could not be written). Returns the state stored. A database failure is
 * logged with the job's id; the job then stays RUNNING there, so a later engine ends it again.
 * Writing cut short by *write_abort stores nothing and returns RUNNING (STOPPING for a stopped
 * job): the job stays so in the database, for a resume (or the service's restart) to end it. */
sched_job_state_t job_write(job_t *j, store_t *st, sched_job_state_t state, uint32_t workers, cJSON **summary,
                            cJSON **jobj);

/* The job's counts as the store keeps them. */
void job_counts(const job_t *j, store_counts_t *c);

/* Seconds since the job started running in this engine. */
double job_elapsed_s(const job_t *j);

#endif
