/* mlflow_batch: what one MLflow log-batch call may carry, and how to fit any set of metrics,
 * params and tags into such calls. Pure: no I/O (mlflow.c sends the bodies).
 *
 * DESIGN.
 * - Keys. MLflow accepts metric, param and tag keys of at most 250 characters made of letters,
 *   digits, `_ - . / space` (and `:` outside Windows) that stay the same under POSIX path
 *   normalisation. mlflow_key_sanitize maps any text to such a key: every byte outside
 *   [A-Za-z0-9_-. /] becomes `_` (so a UTF-8 character becomes one `_` per byte, and `:` becomes
 *   `_` so that Windows servers accept the key too); the key is split on `/`, empty segments are
 *   dropped, a segment `.` becomes `_` and `..` becomes `__`; the result is cut to 250 bytes
 *   (then a trailing `/` is dropped and a last segment `.`/`..` mapped again); an empty result is
 *   `_`. Two different names can therefore meet on one key ("a:b" and "a_b"): the batch keeps the
 *   first and logs a warning.
 * - Values. Param values are cut to 6,000 bytes and tag values to 8,000, at a UTF-8 character
 *   boundary. Metric values that are not finite are dropped (JSON cannot carry them).
 * - Batches. A log-batch request carries at most 1,000 metrics, 100 params, 100 tags, 1,000
 *   entries in all and 1,000,000 bytes of JSON (MLflow's limits). mlflow_batch_bodies walks the
 *   params, then the tags, then the metrics, each in insertion order, and starts a new request
 *   whenever the next entry would pass a limit. The split is a pure function of the batch's
 *   contents, so a caller can remember which bodies were accepted and resume after a crash. */
#ifndef LLMAJ_MLFLOW_BATCH_H
#define LLMAJ_MLFLOW_BATCH_H
#include <stddef.h>
#include <stdint.h>

#define MLFLOW_MAX_METRICS_PER_BATCH 1000
#define MLFLOW_MAX_PARAMS_PER_BATCH 100
#define MLFLOW_MAX_TAGS_PER_BATCH 100
#define MLFLOW_MAX_ENTITIES_PER_BATCH 1000
#define MLFLOW_MAX_BATCH_BYTES 1000000
#define MLFLOW_MAX_KEY_LEN 250
#define MLFLOW_MAX_PARAM_VALUE 6000
#define MLFLOW_MAX_TAG_VALUE 8000

typedef struct mlflow_batch mlflow_batch_t;

mlflow_batch_t *mlflow_batch_new(void); /* caller owns */
void mlflow_batch_destroy(mlflow_batch_t **self_p);

/* Add entries (key sanitised, value cut; see DESIGN). 0, or -1 when the entry was not added: a
 * param or tag whose key is already in the batch, a metric whose (key, step) is, or a metric
 * value that is not finite. */
int mlflow_batch_param(mlflow_batch_t *b, const char *key, const char *value);
int mlflow_batch_tag(mlflow_batch_t *b, const char *key, const char *value);
int mlflow_batch_metric(mlflow_batch_t *b, const char *key, double value, int64_t timestamp_ms, int64_t step);

/* How many entries the batch holds (any pointer may be NULL). */
void mlflow_batch_counts(const mlflow_batch_t *b, size_t *n_metrics, size_t *n_params, size_t *n_tags);

/* The log-batch request bodies for run_id, each within the limits. *n gets the count: 0 for an
 * empty batch, and then NULL is returned. Caller owns the array and its strings (free with
 * mlflow_bodies_free). Metric values are written with 17 significant digits, so they read back
 * as the same doubles. */
char **mlflow_batch_bodies(const mlflow_batch_t *b, const char *run_id, size_t *n);
void mlflow_bodies_free(char **bodies, size_t n);

/* `key` mapped to MLflow's key rules (see DESIGN). Caller owns the result. */
char *mlflow_key_sanitize(const char *key);

/* Length of the longest prefix of s that is at most max bytes and does not cut a UTF-8
 * character in two. */
size_t mlflow_utf8_cut(const char *s, size_t max);

#endif
