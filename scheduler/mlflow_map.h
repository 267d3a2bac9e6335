/* mlflow_map: what a job's results become in MLflow, as pure functions of the spec, summary.json
 * and job.json (no I/O: mlflow_sync.c sends what these build). docs/mlflow.md is the user's
 * version of this mapping.
 *
 *   experiment  spec mlflow.experiment, else the job's name, else "llmaj"
 *   parent run  name: mlflow.run_name, else the job's name, else the job id. Params: models, judge,
 *               dataset, metrics, metrics_lower_is_better (the metrics whose higher ratings are
 *               worse, only when there are some: their comparison is oriented so that a positive
 *               difference still means custom is better), generation settings, shard size, record
 *               counts. Tags
 *               llmaj.status, llmaj.job_status, llmaj.error, a description. Metrics:
 *               records/<field>, compare/<metric>/<field> (mean_diff, ci95_low/high, wins, ties,
 *               losses, win_rate, n), <target>/<metric>/<field> (headline copies of the
 *               children's), usage/<model>/<field>, estimated_cost_usd, elapsed_s,
 *               records_per_second.
 *   child runs  one per target ("custom", "base"); params target, model, judge, dataset, metrics,
 *               metrics_lower_is_better;
 *               metrics <metric>/<field> (mean, mean_score, std, n, n_unscored,
 *               n_not_applicable, n_error, ci95_low, ci95_high, ratings/<rating>) and
 *               category/<category>/<metric>/<field>. Null values are skipped.
 * Every final metric is logged at step 0 with timestamp `ts` (the job's end), so the same numbers
 * are sent every time: a repeated request is one MLflow already has. */
#ifndef LLMAJ_MLFLOW_MAP_H
#define LLMAJ_MLFLOW_MAP_H
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlflow_batch.h"
#include "spec.h"

/* The runs of a job: the parent and one child per target. */
enum { MLFLOW_ROLE_PARENT = 0, MLFLOW_ROLE_CUSTOM = 1, MLFLOW_ROLE_BASE = 2, MLFLOW_N_ROLES = 3 };
extern const char *const mlflow_role_names[MLFLOW_N_ROLES]; /* "parent", "custom", "base" */

const char *mlflow_map_experiment(const spec_t *sp);
const char *mlflow_map_run_name(const spec_t *sp, const char *job_id);

/* The parent run's params, tags and metrics. summary and job may be NULL (a job that failed
 * before writing them). Caller owns the batch. */
mlflow_batch_t *mlflow_map_parent(const spec_t *sp, const char *job_id, const cJSON *summary, const cJSON *job,
                                  const char *final_status, int64_t ts);

/* A child run's (role MLFLOW_ROLE_CUSTOM or MLFLOW_ROLE_BASE). Caller owns the batch. */
mlflow_batch_t *mlflow_map_child(const spec_t *sp, int role, const cJSON *summary, int64_t ts);

#endif
