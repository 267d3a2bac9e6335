/* ingest: the collector. Takes RESULT payloads off the wire and commits them idempotently in the
 * job database, batching commits (every INGEST_COMMIT_EVERY results or INGEST_COMMIT_MS, whichever
 * first, and always before anything reads what was committed); answers the completeness check
 * at SHARD_DONE (proto/shard.h "The check"); and records, when a shard is given up on, its
 * missing outputs as errors so the job still ends.
 *
 * One ingest per engine, on the engine's thread, over the engine's store connection; one open
 * transaction at a time, shared by every job's results. Counts what is new in each job_t
 * (units_done, scores), so progress needs no query. Does not decide what to do with a shard
 * (dispatch.c) or write files (output.c).
 *
 * DESIGN. A result is committed only if it belongs to its header's shard (record index within
 * the shard's range, a target the job evaluates); anything else is logged and dropped. Committing
 * is INSERT OR IGNORE on (job, record, target[, metric]): a redelivered result changes nothing and
 * counts nothing. A result's scores count only with the response they judged: when another
 * response of its (record, target) is committed already (an earlier lease of the shard ran the
 * inference), they are dropped and the check resubmits the missing metrics on the committed
 * response, so every score stored judges the response stored with it. A failed COMMIT loses the batch, which may hold several jobs' results: the
 * engine then fails the jobs that had results in it (ingest_flush tells which), since their
 * counts no longer match the database. */
#ifndef LLMAJ_INGEST_H
#define LLMAJ_INGEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "store.h"

#define INGEST_COMMIT_EVERY 512
#define INGEST_COMMIT_MS 100

typedef struct ingest ingest_t;

ingest_t *ingest_new(store_t *st);
void ingest_destroy(ingest_t **self_p); /* commits what is pending (logged if it cannot) */
store_t *ingest_store(ingest_t *in);

/* Decodes and commits one RESULT of job j for shard `shard_id`. A malformed or foreign result is
 * logged and dropped; a database failure fails the job. */
void ingest_result(ingest_t *in, job_t *j, uint64_t shard_id, const void *payload, size_t len);

/* Commits one result the scheduler made itself (a cache hit, cache.c) as a worker's would be,
 * counted into j, not kept in the cache. 0, or -1 (the job is failed). */
int ingest_commit(ingest_t *in, job_t *j, const result_t *r) __attribute__((warn_unused_result));

/* Commits the open transaction, if any. 0; or -1 when the commit failed: every job that had
 * results in it is failed (job_fail) with the database's reason. The engine calls it before it
 * ends or frees a job (the batch remembers which jobs it holds results of). */
int ingest_flush(ingest_t *in);

/* The check at SHARD_DONE: commits what is pending, then counts the shard's committed outputs
 * into *outputs. 0, or -1 (the job is failed). */
int ingest_shard_outputs(ingest_t *in, job_t *j, size_t shard, uint64_t *outputs);

/* Records every (record, target) of the shard that has no output yet as an error ("no worker
 * could finish shard N after K attempts") with every metric `error`, so the shard can end;
 * what is already committed is kept. 0, or -1 (the job is failed). */
int ingest_give_up(ingest_t *in, job_t *j, size_t shard);

#endif
