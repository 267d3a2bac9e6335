/* mlflow: a blocking client for MLflow's REST API (/api/2.0/mlflow/...) over one libcurl easy
 * handle. It is meant for a background thread (the scheduler's syncer, `llmaj sync`), never for an
 * event loop: every call waits for its answer, bounded by the client's timeouts.
 *
 * Owns: the tracking URI (an http(s) URL, or a SageMaker managed MLflow tracking-server ARN),
 * authentication (bearer token, basic, or AWS SigV4 for SageMaker), the experiments and runs
 * calls llmaj needs, log-batch requests split to MLflow's limits, MLflow's key rules, artifact
 * upload, and readable errors that carry the HTTP status and MLflow's error_code.
 * Does not own: what is logged or when (scheduler/mlflow_sync.c), retry policy (the caller
 * retries; mlflow_err_retryable says when that makes sense), finding AWS credentials (awscreds).
 *
 * DESIGN.
 * - SageMaker managed MLflow: a tracking URI
 *   `arn:PARTITION:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME` (or `mlflow-app/NAME`)
 *   becomes the URL `https://REGION.experiments.sagemaker.aws`; every request carries the header
 *   `x-mlflow-sm-tracking-server-arn: ARN` and is signed with SigV4, service `sagemaker-mlflow`,
 *   region from the ARN, credentials from awscreds (environment, then the shared credentials
 *   file and profile). `opts.endpoint_override` (env AWS_ENDPOINT_URL_SAGEMAKER_MLFLOW) replaces
 *   the URL, for VPC endpoints and stand-in servers.
 * - Artifacts go where the run's `artifact_uri` says: `mlflow-artifacts:/P` (the server proxies
 *   artifacts: PUT {tracking}/api/2.0/mlflow-artifacts/artifacts/P/<path>), an http(s) URL under
 *   that route, `s3://bucket/prefix` (SageMaker: S3 PutObject signed with SigV4 service `s3`;
 *   env AWS_ENDPOINT_URL_S3 switches to path-style requests at that URL), or a local
 *   `file:` / absolute path (a server without --serve-artifacts on this machine).
 * - Keys, values and log-batch limits: mlflow_batch.h.
 * - Secrets (token, password, AWS keys) never appear in errors or logs; a tracking URI with
 *   `user:password@` is shown without it. */
#ifndef LLMAJ_MLFLOW_H
#define LLMAJ_MLFLOW_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlflow_batch.h"

#define MLFLOW_SAGEMAKER_SERVICE "sagemaker-mlflow"
#define MLFLOW_SAGEMAKER_ARN_HEADER "x-mlflow-sm-tracking-server-arn"

typedef enum {
    MLFLOW_AUTH_NONE = 0,
    MLFLOW_AUTH_BEARER, /* Authorization: Bearer <token> (MLFLOW_TRACKING_TOKEN) */
    MLFLOW_AUTH_BASIC,  /* user + password (MLFLOW_TRACKING_USERNAME / _PASSWORD) */
    MLFLOW_AUTH_SIGV4,  /* SageMaker managed MLflow (tracking URI is an ARN) */
} mlflow_auth_t;

const char *mlflow_auth_name(mlflow_auth_t a); /* "none", "bearer", "basic", "sigv4" */

/* How to reach a tracking server. Strings are borrowed; mlflow_new copies what it keeps. */
typedef struct {
    const char *tracking_uri; /* http(s)://host[:port][/prefix] or a tracking-server ARN */
    const char *token;        /* bearer token, or NULL */
    const char *username;     /* basic auth, with password; or NULL */
    const char *password;
    const char *endpoint_override; /* ARN only: URL used instead of https://REGION.experiments... */
    const char *s3_endpoint;       /* s3:// artifacts: path-style endpoint URL, or NULL = AWS */
    const char *aws_profile;       /* explicit AWS profile (skips the AWS_* key variables, as
                                      the AWS CLI's --profile does), or NULL = awscreds' chain */
    long timeout_ms;               /* whole request; 0 = 120000 */
    long connect_timeout_ms;       /* 0 = 10000 */
    bool insecure_tls;             /* skip TLS verification (MLFLOW_TRACKING_INSECURE_TLS) */
} mlflow_opts_t;

/* Fills `o` from the environment, leaving fields the environment does not set untouched:
 * MLFLOW_TRACKING_URI (only when o->tracking_uri is NULL), MLFLOW_TRACKING_TOKEN,
 * MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD, MLFLOW_HTTP_REQUEST_TIMEOUT (seconds),
 * MLFLOW_TRACKING_INSECURE_TLS ("true"/"1"), AWS_ENDPOINT_URL_SAGEMAKER_MLFLOW,
 * AWS_ENDPOINT_URL_S3. (AWS_PROFILE is read by awscreds itself.) Pointers are into the environment: do not setenv while the
 * options are in use. */
void mlflow_opts_from_env(mlflow_opts_t *o);

/* Which authentication the options select: an ARN -> SIGV4; else a token -> BEARER; else a
 * username -> BASIC; else NONE. */
mlflow_auth_t mlflow_auth_select(const mlflow_opts_t *o);

/* True when `uri` looks like an ARN ("arn:"). */
bool mlflow_is_arn(const char *uri);

/* Parses a SageMaker MLflow tracking-server ARN. Writes its region into region[regionlen] and the
 * endpoint URL ("https://REGION.experiments.sagemaker.aws") into url[urllen]. 0, or -1 with the
 * reason in err. */
int mlflow_arn_parse(const char *arn, char *region, size_t regionlen, char *url, size_t urllen, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* The error of a failed call. */
typedef struct {
    long http_status;   /* 0 when no HTTP answer came (connect failure, timeout, abort) */
    char code[64];      /* MLflow's error_code (e.g. "RESOURCE_DOES_NOT_EXIST"), or "" */
    char message[1024]; /* "MLflow http://host:5000: POST /api/2.0/mlflow/runs/create: HTTP 400
                           INVALID_PARAMETER_VALUE: ..." */
} mlflow_err_t;

/* True when trying again later may succeed: no answer, 408, 429, 5xx. */
bool mlflow_err_retryable(const mlflow_err_t *e);

typedef struct mlflow mlflow_t;

/* A client for opts->tracking_uri. Fails (NULL, e->message says why) on a malformed URI or ARN,
 * a username without password, or, for an ARN, no AWS credentials. Caller owns the result. */
mlflow_t *mlflow_new(const mlflow_opts_t *opts, mlflow_err_t *e);
void mlflow_destroy(mlflow_t **self_p);

mlflow_auth_t mlflow_auth_kind(const mlflow_t *m);
/* The tracking server's base URL without credentials, for messages. Valid while m lives. */
const char *mlflow_display_url(const mlflow_t *m);

/* When *flag becomes non-zero, a running request stops soon with an error (http_status 0).
 * The flag must outlive the client; NULL = never. */
void mlflow_set_abort_flag(mlflow_t *m, const atomic_int *flag);

/* One REST call: `method` "GET"/"POST"/..., `path` under the base URL ("/api/2.0/mlflow/runs/get
 * ?run_id=..." with the query already encoded), `json_body` or NULL. On 2xx returns 0 and, if
 * `reply` is not NULL, the parsed answer (caller owns; an empty body gives an empty object).
 * Otherwise -1 with e filled. */
int mlflow_call(mlflow_t *m, const char *method, const char *path, const char *json_body, cJSON **reply,
                mlflow_err_t *e) __attribute__((warn_unused_result));

/* ---- experiments ---- */

/* The id of the experiment called `name`: *id = NULL (and 0) when there is none. A deleted
 * experiment is an error (it must be restored or renamed by the user). Caller owns *id. */
int mlflow_experiment_get_by_name(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
    __attribute__((warn_unused_result));
/* Creates experiment `name`; caller owns *id. */
int mlflow_experiment_create(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
    __attribute__((warn_unused_result));
/* Get-by-name, else create (a concurrent creator's experiment is reused). Caller owns *id. */
int mlflow_experiment_ensure(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
    __attribute__((warn_unused_result));

/* ---- runs ---- */

typedef struct {
    const char *key;
    const char *value;
} mlflow_kv_t;

/* What llmaj needs of a run. Strings are owned by the struct; free with mlflow_run_info_clear. */
typedef struct {
    char *run_id;
    char *experiment_id;
    char *status; /* "RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED" */
    char *artifact_uri;
    char *lifecycle;    /* "active" or "deleted" */
    int64_t start_time; /* ms since the epoch, 0 if unset */
    int64_t end_time;
} mlflow_run_info_t;

void mlflow_run_info_clear(mlflow_run_info_t *r);
/* Reads the info of a run object ({"info": {...}, "data": {...}}). 0, or -1 when there is no
 * run_id. */
int mlflow_run_info_from_json(const cJSON *run, mlflow_run_info_t *out) __attribute__((warn_unused_result));
/* The value of tag `key` in a run object, or NULL. Valid while `run` lives. */
const char *mlflow_run_tag(const cJSON *run, const char *key);

/* Creates a run (status RUNNING) with the given tags (keys sanitised, values cut). `run_name` may
 * be NULL. Fills *out (caller clears). */
int mlflow_run_create(mlflow_t *m, const char *experiment_id, const char *run_name, int64_t start_time_ms,
                      const mlflow_kv_t *tags, size_t n_tags, mlflow_run_info_t *out, mlflow_err_t *e)
    __attribute__((warn_unused_result));
/* Sets a run's status and end time (end_time_ms <= 0: not sent). */
int mlflow_run_update(mlflow_t *m, const char *run_id, const char *status, int64_t end_time_ms, mlflow_err_t *e)
    __attribute__((warn_unused_result));
/* The whole run object {"info", "data", ...}; caller owns *run. A missing run is an error with
 * code "RESOURCE_DOES_NOT_EXIST". */
int mlflow_run_get(mlflow_t *m, const char *run_id, cJSON **run, mlflow_err_t *e) __attribute__((warn_unused_result));
/* Active runs of one experiment matching `filter` (MLflow's search syntax, may be NULL), oldest
 * first, following pages up to max_results (1..50000). *runs is a JSON array (caller owns). */
int mlflow_runs_search(mlflow_t *m, const char *experiment_id, const char *filter, int max_results, cJSON **runs,
                       mlflow_err_t *e) __attribute__((warn_unused_result));

/* A filter clause `tags.`KEY` = 'VALUE'` with a quote character the value does not contain.
 * Caller owns. NULL if the value holds both ' and " (MLflow's parser cannot express that). */
char *mlflow_filter_tag_eq(const char *key, const char *value);

/* ---- log-batch (see mlflow_batch.h) ---- */

/* POSTs one body made by mlflow_batch_bodies. */
int mlflow_log_batch_body(mlflow_t *m, const char *body, mlflow_err_t *e) __attribute__((warn_unused_result));
/* Every body of the batch, in order; stops at the first failure. */
int mlflow_log_batch(mlflow_t *m, const char *run_id, const mlflow_batch_t *b, mlflow_err_t *e)
    __attribute__((warn_unused_result));

/* ---- artifacts ---- */

/* Uploads `len` bytes as `rel_path` ("summary.json", "dir/x.txt") under a run's artifact_uri
 * (see DESIGN). Uploading the same path again replaces the file. */
int mlflow_artifact_put(mlflow_t *m, const char *artifact_uri, const char *rel_path, const void *data, size_t len,
                        const char *content_type, mlflow_err_t *e) __attribute__((warn_unused_result));

/* Like mlflow_artifact_put, streaming the file at `path` (any size the store accepts in one PUT:
 * S3 takes up to 5 GB). */
int mlflow_artifact_put_file(mlflow_t *m, const char *artifact_uri, const char *rel_path, const char *path,
                             const char *content_type, mlflow_err_t *e) __attribute__((warn_unused_result));

/* Hex SHA-256 of a file's bytes (to tell whether an artifact changed). 0, or -1 with err. */
int mlflow_file_sha256(const char *path, char out[65], char *err, size_t errlen) __attribute__((warn_unused_result));

/* The URL or local path an artifact goes to, for messages and tests (no request is made):
 * caller owns; NULL with e filled for an unsupported artifact_uri. */
char *mlflow_artifact_location(mlflow_t *m, const char *artifact_uri, const char *rel_path, mlflow_err_t *e);

#endif
