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
/* Loads records with first <= index <= last, in index order; caller owns *out (record_clear each, free). */
int store_records_range(store_t *s, const char *job_id, uint64_t first, uint64_t last, record_t **out,
                        size_t *n) __attribute__((warn_unused_result));

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

const char *store_errmsg(store_t *s);

#endif
