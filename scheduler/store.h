/* store: the scheduler's durable state in SQLite (WAL): jobs, their records, shards, and the
 * committed results. A result is keyed by (job, record, target, metric): committing it twice is
 * harmless (INSERT OR IGNORE), which is what makes redelivery safe. Does not aggregate (aggregate.c)
 * or write result files (collector.c). Single-threaded: one store per thread. */
#ifndef LLMAJ_STORE_H
#define LLMAJ_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "record.h"
#include "result.h"

typedef struct store store_t;

/* Job states, as stored and shown. */
typedef enum {
    JOB_PENDING = 0,   /* accepted, dataset not yet loaded into shards */
    JOB_RUNNING = 1,   /* shards being dispatched */
    JOB_SUCCEEDED = 2, /* every shard done and results written */
    JOB_FAILED = 3,    /* ended with nothing scored, or stopped by an unrecoverable error */
    JOB_STOPPED = 4,   /* cancelled by the user */
} job_state_t;
const char *job_state_name(job_state_t s);

/* Shard states. A shard is PENDING until submitted, INFLIGHT until its SHARD_DONE arrives, DONE after. */
typedef enum { SHARD_PENDING = 0, SHARD_INFLIGHT = 1, SHARD_DONE = 2 } shard_state_t;

store_t *store_open(const char *path, char *err, size_t errlen);   /* creates the schema */
void store_close(store_t **self_p);
sqlite3 *store_db(store_t *s);    /* for modules that keep tables of their own (mlflow_sync) */

int store_begin(store_t *s) __attribute__((warn_unused_result));
int store_commit(store_t *s) __attribute__((warn_unused_result));
int store_rollback(store_t *s) __attribute__((warn_unused_result));

int store_job_create(store_t *s, const char *job_id, const char *name, const char *spec_json)
    __attribute__((warn_unused_result));
int store_job_set_state(store_t *s, const char *job_id, job_state_t st, const char *error)
    __attribute__((warn_unused_result));
int store_job_set_counts(store_t *s, const char *job_id, uint64_t total, uint64_t invalid)
    __attribute__((warn_unused_result));

/* Records of a job (only valid ones are stored). */
int store_record_put(store_t *s, const char *job_id, const record_t *r) __attribute__((warn_unused_result));
/* Loads the records with first <= index <= last that do not yet have a committed output for each
 * of `targets` targets (all of them when nothing is committed; UINT_MAX = all), in index order;
 * caller owns *out (record_clear each, free). */
int store_records_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, unsigned targets,
                        record_t **out, size_t *n) __attribute__((warn_unused_result));

int store_shard_put(store_t *s, const char *job_id, uint64_t shard_id, uint64_t first, uint64_t last,
                    uint32_t n) __attribute__((warn_unused_result));
int store_shard_set_state(store_t *s, const char *job_id, uint64_t shard_id, shard_state_t st)
    __attribute__((warn_unused_result));

/* Commits one result idempotently. *new_scores = scores not seen before (0 on redelivery). */
int store_result_commit(store_t *s, const char *job_id, const result_t *r, size_t *new_scores)
    __attribute__((warn_unused_result));

/* Iterates committed (record, target) outputs in (record_index, target) order with their scores
 * and the record's fields; the callback gets a filled result_t and record_t (valid during the
 * call). Returns 0, or -1 on a database error or when the callback returns non-zero. */
typedef int (*store_output_cb)(const record_t *rec, const result_t *res, void *arg);
int store_outputs_each(store_t *s, const char *job_id, store_output_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Counts of committed outputs (record, target) and scores for a job. */
int store_counts(store_t *s, const char *job_id, uint64_t *outputs, uint64_t *scores)
    __attribute__((warn_unused_result));

/* Committed outputs (record, target) with first <= record index <= last. */
int store_outputs_in_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, uint64_t *n)
    __attribute__((warn_unused_result));

/* Token usage grouped by model: inference (outputs) and judge (scores, under `judge_model`).
 * Calls cb once per model. */
typedef void (*store_usage_cb)(const char *model, bool judge, uint64_t in, uint64_t out, uint64_t calls, void *arg);
int store_usage(store_t *s, const char *job_id, store_usage_cb cb, void *arg) __attribute__((warn_unused_result));

/* ---- reading jobs back (the CLI's list, status and results; safe while a job runs: each call
 * reads one consistent snapshot, and store_begin/store_commit around several calls makes them
 * one snapshot together) ---- */

/* A job's row. Times are Unix seconds, 0 when not reached yet. */
typedef struct {
    char *job_id;
    char *name;            /* the spec's name, or NULL */
    char *spec_json;       /* the spec as run (canonical JSON) */
    char *error;           /* why it failed, or NULL */
    job_state_t state;
    int64_t created_at, started_at, finished_at;
    uint64_t records_total;   /* non-blank dataset lines */
    uint64_t records_invalid; /* of which invalid (skipped) */
    char *out_dir;            /* the job's results folder (absolute), once known */
    int64_t updated_at;       /* last sign of life of the scheduler running it (Unix seconds) */
} store_job_t;
void store_job_clear(store_job_t *j);   /* frees the members; j itself is the caller's */

/* Loads one job into *out (caller clears it). Returns 0 when found, 1 when there is no such job
 * (*out left zeroed), -1 on a database error (store_errmsg). */
int store_job_get(store_t *s, const char *job_id, store_job_t *out) __attribute__((warn_unused_result));

/* Calls cb for every job, newest first (created_at, then insertion order); the row is valid during
 * the call. Returns 0, or -1 on a database error or when the callback returns non-zero. */
typedef int (*store_job_cb)(const store_job_t *job, void *arg);
int store_jobs_each(store_t *s, store_job_cb cb, void *arg) __attribute__((warn_unused_result));

/* Job ids that begin with `prefix`: *n gets how many match (0 none, 1 unique, more: ambiguous),
 * and ids[0..min(*n, max)-1] the first of them, newest first (caller frees each). An id equal to
 * `prefix` is the only match even when longer ids begin with it. 0, or -1 on a database error. */
int store_job_match(store_t *s, const char *prefix, char **ids, size_t max, size_t *n)
    __attribute__((warn_unused_result));

/* Where a job is: counts by state and status. */
typedef struct {
    uint64_t records;         /* valid records stored */
    uint64_t records_done;    /* records with a committed output for every one of `targets` targets */
    uint64_t outputs;         /* committed (record, target) outputs */
    uint64_t output_errors;   /* of which the inference call failed */
    uint64_t shards[3];       /* by shard_state_t */
    uint64_t dispatches;      /* shard dispatches, redeliveries included */
    uint64_t scores[4];       /* committed scores by score_status_t */
} store_job_stats_t;
int store_job_stats(store_t *s, const char *job_id, unsigned targets, store_job_stats_t *out)
    __attribute__((warn_unused_result));

/* Like store_outputs_each, for the outputs at positions offset .. offset+limit-1 of that order. */
int store_outputs_page(store_t *s, const char *job_id, uint64_t offset, uint64_t limit, store_output_cb cb,
                       void *arg) __attribute__((warn_unused_result));

/* Where the job's result files go (absolute path), and a sign of life while it runs. */
int store_job_set_outdir(store_t *s, const char *job_id, const char *out_dir) __attribute__((warn_unused_result));
int store_job_touch(store_t *s, const char *job_id) __attribute__((warn_unused_result));

/* Every shard of a job in id order (for resuming it). */
typedef int (*store_shard_cb)(uint64_t shard_id, uint64_t first, uint64_t last, uint32_t n, shard_state_t state,
                              uint32_t attempts, void *arg);
int store_shards_each(store_t *s, const char *job_id, store_shard_cb cb, void *arg) __attribute__((warn_unused_result));

/* Committed scores by score_status_t. */
int store_score_counts(store_t *s, const char *job_id, uint64_t counts[4]) __attribute__((warn_unused_result));

const char *store_errmsg(store_t *s);

#endif
