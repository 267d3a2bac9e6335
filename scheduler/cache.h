/* cache: cheap iteration, on the scheduler's side only. Two ways a job avoids paying for a model
 * call again:
 *  - "reuse_responses_from": JOB. The job judges another job's committed responses: its records
 *    are that job's (reuse.c checks and copies them at submission), and before each shard goes
 *    out its responses are copied in as committed outputs, so the ordinary plan of a shard
 *    (dispatch.c) sends the workers only judge calls.
 *  - "cache": true. Model and judge answers are kept in the scheduler's database by the SHA-256 of
 *    what was asked, and shared by every job of that database. Before a shard goes out the
 *    scheduler looks its missing cells up: an inference hit becomes a committed response, a judge
 *    hit a committed score, both without a worker; what is left travels as usual. Answers that
 *    come back from the workers are kept as they are committed (ingest.c).
 * Workers need no database and know nothing of either: they are sent a plan with the responses,
 * as for a retry.
 *
 * DESIGN (the keys). A judge call's key covers everything its reply depends on: the judge model,
 * the job's region and request shape, the system prompt, max_tokens, temperature and top_p, the
 * metric's rendered prompt (its instructions, scale and answer format, with the per-call tag id
 * fixed) and verdict schema, and each of prompt, response, reference and context length-prefixed
 * (so no two different records hash alike, whatever they contain). An inference key covers the
 * model, region, request shape, max_tokens, temperature, top_p, prompt and context. A verdict is
 * kept as its rating and explanation (scores are recomputed from the metric's scale on a hit);
 * only `ok` and `not_applicable` verdicts and error-free responses are kept, never an error or
 * an unscored reply, so a retry asks those again. The first answer kept for a key stays. The
 * cache is never emptied by llmaj; delete its rows (`DELETE FROM cache`) to start afresh.
 *
 * DESIGN (the counts). What a call did not cost is stored with the result itself (outputs.origin,
 * scores.cached), so summary.json counts it exactly from the store. The REST status of a running
 * job must not count over a million results at every poll: the engine counts as it commits
 * (job_t.saved, cache_count) and writes the counts into the job's row with its progress
 * (store_counts_t.saved); the status reads them there. */
#ifndef LLMAJ_CACHE_H
#define LLMAJ_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ingest.h"
#include "job.h"
#include "metric.h"
#include "record.h"
#include "result.h"
#include "spec.h"
#include "store.h"

#define CACHE_KEY_LEN STORE_CACHE_KEY

/* The key of the inference call of `model` for rec under sp's settings. */
void cache_key_inference(const spec_t *sp, const char *model, const record_t *rec, uint8_t key[CACHE_KEY_LEN]);
/* The key of the judge call of metric m on `response` to rec under sp's settings. */
void cache_key_judge(const spec_t *sp, const metric_t *m, const record_t *rec, const char *response,
                     uint8_t key[CACHE_KEY_LEN]);

/* Before shard `shard` of j is sent (dispatch.c): copies the reused job's responses of its records
 * in, and commits every cache hit of its missing cells (through ingest_commit), then commits.
 * Nothing to do for a job with neither key. 0; -1 when the job failed (the reason is its fatal). */
int cache_prefill(job_t *j, ingest_t *in, size_t shard);

/* A worker's result of j was committed (ingest.c): keeps its fresh answers (the response when its
 * output was new and came from a model call; each ok or not-applicable verdict) when j has
 * "cache": true. A failure is logged: the cache is an optimisation, never a reason to fail. */
void cache_learn(store_t *st, const job_t *j, const result_t *r, bool new_output, size_t new_scores);

/* What a job's "cache" reports: {"enabled": cache, "reused_from": the job or null,
 * "reused_responses", "inference_hits", "judge_hits"}, from `saved` (by STORE_SAVED_*: what its
 * engine last wrote) or, when NULL, counted from the store (slow on a large job: for its summary
 * and a job without an engine's counts). NULL on a database failure. */
cJSON *cache_status_json(store_t *st, const char *job_id, bool cache, const char *reused_from, const uint64_t *saved);

/* Adds "cache" to a job's summary when its spec has "cache" or "reuse_responses_from":
 * {"enabled", "reused_from", "reused_responses", "inference_hits", "judge_hits"}, counted from
 * the store. A database failure is logged and leaves the summary as it was. */
void cache_summary_add(store_t *st, const char *job_id, const spec_t *sp, cJSON *summary);

/* A result of j was committed (ingest.c): counts what the scheduler supplied of it (a response
 * from the cache, cached verdicts) into j->saved when new. */
void cache_count(job_t *j, const result_t *r, bool new_output, size_t new_scores);

/* This process's counters since it started (every job of every engine in it). */
typedef struct {
    uint64_t lookups[2]; /* by store_cache_kind_t */
    uint64_t hits[2];
    uint64_t stored[2];
    uint64_t reused; /* responses copied from another job */
} cache_stats_t;
void cache_stats(cache_stats_t *out);

/* The counters as Prometheus families (llmaj_scheduler_cache_*). 0, or -1 when b is full. */
int cache_metrics(buf_t *b) __attribute__((warn_unused_result));

#endif
