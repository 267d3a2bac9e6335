/* result: the outcome of evaluating one (record, target): the model's response and one score per
 * metric. Workers build them, the wire carries them, the collector commits them. */
#ifndef LLMAJ_RESULT_H
#define LLMAJ_RESULT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SCORE_OK = 0,             /* the judge named a rating of the scale */
    SCORE_UNSCORED = 1,       /* no rating after the one re-ask: counted, never averaged as 0 */
    SCORE_NOT_APPLICABLE = 2, /* the judge chose a not-applicable rating */
    SCORE_ERROR = 3,          /* the judge call failed (or there was no response to judge) */
} score_status_t;

typedef enum { TARGET_CUSTOM = 0, TARGET_BASE = 1 } target_t;

/* Where a committed response came from when no model call of this job made it (stored as
 * outputs.origin; the wire never carries it: a worker's results are always RESPONSE_CALLED). */
typedef enum {
    RESPONSE_CALLED = 0, /* a model call of this job, or the dataset (response_from_dataset) */
    RESPONSE_CACHED = 1, /* the scheduler's cache of model calls ("cache": true) */
    RESPONSE_REUSED = 2, /* another job's committed response ("reuse_responses_from") */
} response_origin_t;

const char *score_status_name(score_status_t s); /* "ok", "unscored", ... */
int score_status_parse(const char *s, score_status_t *out);
const char *target_name(target_t t); /* "custom" / "base" */
int target_parse(const char *s, target_t *out);

typedef struct {
    uint64_t input_tokens;
    uint64_t output_tokens;
} usage_t;

typedef struct {
    char *metric; /* metric name */
    score_status_t status;
    char *rating;      /* the rating's definition when ok / not_applicable, else NULL */
    bool has_score;    /* false for string scales and non-ok statuses */
    double score;      /* the rating's value */
    double normalized; /* (value - min) / (max - min), 0 when max == min */
    char *explanation; /* the judge's reasoning (or the whole reply), may be NULL */
    char *error;       /* why, for error / unscored, else NULL */
    bool error_config; /* error: the judge call was refused for how it is configured (401/403, unknown
                            model or endpoint, no key or region): the same for every call, not retried */
    usage_t usage;     /* judge tokens for this metric, re-ask included */
    uint32_t attempts; /* judge calls made, re-ask included */
    bool cached;       /* the verdict came from the scheduler's cache: no judge call (attempts 0) */
} score_t;

typedef struct result {
    char *job_id;
    uint64_t shard_id;
    uint64_t record_index;
    target_t target;
    char *model;    /* the model string evaluated */
    char *response; /* exactly as returned (or from the dataset); NULL on error */
    bool response_from_dataset;
    response_origin_t origin; /* RESPONSE_CALLED unless the scheduler supplied the response */
    char *error;              /* inference error, or NULL */
    bool error_config;        /* that error is a configuration error (see score_t.error_config) */
    usage_t usage;            /* inference tokens */
    double latency_ms;        /* inference latency (0 when from the dataset) */
    score_t *scores;
    size_t n_scores;
} result_t;

void result_clear(result_t *r);         /* frees members; r is the caller's */
score_t *result_add_score(result_t *r); /* appends a zeroed score; pointer valid until next add */

#endif
