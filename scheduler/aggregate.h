/* aggregate: builds one job's summary.json (DESIGN.md "Results"; the full reference is
 * schemas/summary.md) from the scores of its (record, target) results: per target and metric the
 * mean of normalized scores with its 95% t-interval, the mean raw score, the sample standard
 * deviation, the counts per status and per rating; the same per category; and, with a base model,
 * the paired comparison of custom against base per float metric. Does not read the store or write
 * files (output.c feeds it and writes what it returns). Not thread-safe: one owner.
 *
 * Statistics are computed from counts per rating (a float scale has at most 10 values, so the
 * rating histogram is a sufficient statistic), never from running sums in arrival order: the
 * summary is the same, bit for bit, whatever order the scores are fed in. Intervals are Student-t
 * intervals on the mean (stats.h says why), clipped to [0, 1] for means of normalized scores and
 * to [−1, 1] for paired differences. */
#ifndef LLMAJ_AGGREGATE_H
#define LLMAJ_AGGREGATE_H
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "metric.h"
#include "result.h"

typedef struct aggregate aggregate_t;

/* A new aggregate for job `job_id` and `metrics` (in the order the summary lists them; they are
 * copied), evaluating `model` (NULL when the dataset carries the responses: written as null) and
 * `base_model` (NULL: no base target and no comparison). NULL, with the reason logged, if a metric
 * has no ratings or more than METRIC_MAX_RATINGS. Caller owns the result. */
aggregate_t *aggregate_new(const char *job_id, metric_t *const *metrics, size_t n_metrics, const char *model,
                           const char *base_model);

/* Feeds one score of one (record, target). Calls may come in any order; each (record, target,
 * metric) at most once (the store guarantees it; for metrics paired with a base model a repeat is
 * detected and ignored). `category` may be NULL (or "": none). The score's `metric`, `status` and
 * `rating` are used; `score` is used only to find the rating when `rating` names none of the
 * scale. Scores that cannot be placed (unknown metric, base target without a base model, record
 * index past the total set by aggregate_set_counts, an ok score with no rating of the scale) are
 * logged (the first few), counted in aggregate_anomalies, and otherwise: an ok score without a
 * rating of the scale counts as n_error; the others are ignored. */
void aggregate_add(aggregate_t *a, uint64_t record_index, target_t target, const char *category, const score_t *score);

/* The dataset's record count (valid + skipped) and how many invalid lines were skipped. */
void aggregate_set_counts(aggregate_t *a, uint64_t records_total, uint64_t records_invalid_skipped);

/* Scores that aggregate_add could not place as given (see there). */
uint64_t aggregate_anomalies(const aggregate_t *a);

/* The summary object (schemas/summary.md). Caller owns (cJSON_Delete). */
cJSON *aggregate_summary(const aggregate_t *a);

void aggregate_destroy(aggregate_t **self_p);

#endif
