/* reuse: the submission of a job with "reuse_responses_from": JOB (cache.h says what it is for).
 * Checks the job it names (its id, or the beginning of exactly one id, which is then completed in
 * the spec), in the same database, before anything is stored: it exists, it has
 * ended, and it has a response for every record and every target the new job evaluates; and
 * fills in what the new job takes from it (its models when not given, its dataset, which is only
 * recorded: the records are copied from that job, job.c). A spec that contradicts that job (a
 * different model, a base model it never evaluated, another dataset) is an error naming the key.
 *
 * Does not copy anything (job.c copies the records, cache.c the responses shard by shard). */
#ifndef LLMAJ_REUSE_H
#define LLMAJ_REUSE_H
#include <stdint.h>

#include "errlist.h"
#include "scheduler.h"
#include "spec.h"
#include "store.h"

/* What the new job takes over from the job it reuses. */
typedef struct {
    uint64_t records_total;   /* that job's non-blank dataset lines */
    uint64_t records_invalid; /* of which invalid (skipped) */
    uint64_t records;         /* its valid records, all of which the new job evaluates */
} reuse_src_t;

/* Checks sp->reuse_from in st and completes sp (model, base_model, evaluate_base_model, dataset)
 * from it. SCHED_OK; SCHED_E_INPUT with every problem in errs (each naming its key); SCHED_E_DB. */
sched_err_t reuse_resolve(store_t *st, spec_t *sp, reuse_src_t *src, errlist_t *errs)
    __attribute__((warn_unused_result));

#endif
