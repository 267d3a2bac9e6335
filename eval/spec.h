/* spec: the job spec (DESIGN.md "Job spec"): parse, validate every key, resolve the seed's
 * aliases, and write it back as canonical JSON (for the wire, job.json and MLflow params).
 * Does not read the dataset (dataset.c) and does not call anything. */
#ifndef LLMAJ_SPEC_H
#define LLMAJ_SPEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "errlist.h"
#include "metric.h"

#define SPEC_RETRY_BUDGET_S 300 /* default retry budget of a call, seconds */

typedef struct {
    int max_tokens;     /* default 1024 */
    double temperature; /* default 0 */
    double top_p;       /* < 0 = not sent */
    int retry_budget_s; /* how long a call may keep retrying; default SPEC_RETRY_BUDGET_S, 1..86400 */
} spec_gen_t;

typedef struct {
    char *model;         /* the model string the limit applies to (its endpoint key) */
    double rpm;          /* requests per minute, 0 = unlimited */
    double tpm;          /* tokens per minute, 0 = unlimited */
    int max_concurrency; /* 0 = default */
} spec_limit_t;

typedef struct {
    char *model; /* a sagemaker/ model string */
    char *api;   /* "messages" | "tgi" */
} spec_api_t;

#define SPEC_API_MESSAGES "messages"
#define SPEC_API_TGI "tgi"

#define SPEC_DATASET_MAX_BYTES_DEFAULT ((uint64_t)10 << 30) /* 10 GiB */
#define SPEC_DATASET_MAX_BYTES_HI 9007199254740992.0        /* 2^53: what a JSON number holds exactly */

typedef struct spec {
    char *job_name;        /* optional "name" */
    char *model;           /* NULL only when every line carries modelResponses; may be a
                                   SageMaker model package ARN until the scheduler resolves it */
    char *base_model;      /* or NULL; may be a model package ARN likewise */
    bool model_is_package; /* model (base_model) is a model package ARN not resolved yet */
    bool base_model_is_package;
    char *model_package;       /* the package `model` was resolved from (recorded), or NULL */
    char *base_model_package;  /* the package `base_model` was resolved from, or NULL */
    char *model_package_group; /* a model package group (name or ARN): `model` defaults to its
                                   latest approved version */
    char *model_artifact;      /* s3:// model artifacts (recorded; llmaj does not deploy them) */
    char *sagemaker_api;       /* request shape of sagemaker/ endpoints: "messages" (default) or "tgi" */
    spec_api_t *apis;          /* per-endpoint shapes (sagemaker_api given as an object) */
    size_t n_apis;
    bool evaluate_base_model;       /* default: true when base_model is set */
    bool evaluate_base_model_given; /* the spec said evaluate_base_model (not written back) */
    char *evaluator_model;
    char *dataset;      /* as given (local path, s3://, https://); NULL with reuse_from until
                                   the scheduler fills in that job's */
    char *reuse_from;   /* "reuse_responses_from": the job whose records and responses this
                                   job judges (no inference call); the scheduler fills model,
                                   base_model and dataset from it. Or NULL */
    bool cache;         /* "cache": model and judge calls answered from, and kept in, the
                                   scheduler's cache (by content) */
    char *output_path;  /* default "runs/" */
    char *region;       /* or NULL */
    metric_t **metrics; /* built-ins first, in the order given, then custom */
    size_t n_metrics;
    spec_gen_t inference;
    spec_gen_t judge;
    spec_limit_t *limits;
    size_t n_limits;
    int shard_size; /* default 64, 1..10000 */
    bool skip_invalid;
    uint64_t dataset_max_bytes; /* a local dataset file, or a remote one's bytes, at most this;
                                   default SPEC_DATASET_MAX_BYTES_DEFAULT (10 GiB) */
    char *mlflow_tracking_uri;  /* or NULL; an ARN is accepted (mlflow_resource_arn) */
    char *mlflow_experiment;
    char *mlflow_run_name;
    char *judge_system_prompt; /* optional override */
} spec_t;

/* Parses a spec from JSON text. `origin` names the source in messages (a file name or "spec").
 * `base_dir` resolves relative paths in the spec (custom_metrics given as a file path; dataset and
 * output_path are resolved against it too); NULL = as given. Every violation is added to errs
 * with the key it concerns ("shard_size: must be an integer from 1 to 10000"). Returns a new spec
 * (caller owns) or NULL when errs gained any entry. Model strings are checked with modelstr. */
spec_t *spec_parse(const char *json, size_t len, const char *origin, const char *base_dir, errlist_t *errs);

/* Reads and parses a spec file (errors include the path). */
spec_t *spec_load(const char *path, errlist_t *errs);

/* Canonical JSON of the resolved spec: custom metrics inlined in the seed format, defaults
 * filled in. spec_parse(spec_to_json(s)) gives an equal spec. Caller owns the cJSON. */
cJSON *spec_to_json(const spec_t *s);

/* The request shape ("messages" or "tgi") for a sagemaker/ model string: its entry in
 * sagemaker_api when given as an object, else the spec's default. */
const char *spec_sagemaker_api(const spec_t *s, const char *model);

/* True when s is a SageMaker model package ARN (arn:PARTITION:sagemaker:REGION:ACCOUNT:
 * model-package/NAME[/VERSION]); when it is not and err is not NULL, err says why an ARN that
 * looks like one is malformed (empty when s is simply not a package ARN). */
bool spec_is_model_package(const char *s, char *err, size_t errlen);

/* The limit entry that applies to `model`, or NULL. */
const spec_limit_t *spec_limit_for(const spec_t *s, const char *model);

void spec_destroy(spec_t **self_p);

#endif
