/* awsjob: region, model packages, remote datasets and S3 results of a job; see awsjob.h.
 *
 * DESIGN. Every function here runs in the scheduler's thread before the job starts or after it
 * ends, never while model calls are in flight, so blocking calls (STS, S3, SageMaker) are fine.
 * Problems are collected, not stopped at: a spec with a malformed region and an unreachable
 * package reports both. A model package is described in its own region, which must be the job's:
 * a job's AWS calls all go to one region. */
#define LOG_MODULE "aws"
#include "awsjob.h"
#include "arn.h"
#include "awscreds.h"
#include "jsonprint.h"
#include "log.h"
#include "mem.h"
#include "modelstr.h"
#include "rstream.h"
#include "s3.h"
#include "smpkg.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- region ---- */

char *awsjob_spec_with_region(const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return NULL; /* spec_parse reports it */
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "region");
    char region[64], err[512];
    char *out = NULL;
    if ((!r || cJSON_IsNull(r)) && awscreds_region(NULL, NULL, region, sizeof region, err, sizeof err) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "region");
        cJSON_AddStringToObject(root, "region", region);
        out = jsonprint(root, false); /* the spec's numbers unchanged (lib/jsonprint.h) */
        log_debug("the job's region is %s (from the scheduler's environment or AWS profile)", region);
    }
    cJSON_Delete(root);
    return out;
}

static bool model_is_aws(const char *m, const char *region)
{
    if (!m) return false;
    if (strncmp(m, "nova-textgeneration-", 20) == 0) return true;
    modelstr_t ms;
    char err[512];
    if (modelstr_parse(m, region, &ms, err, sizeof err) < 0) return false;
    bool aws = ms.kind == PROVIDER_BEDROCK || ms.kind == PROVIDER_SAGEMAKER;
    modelstr_clear(&ms);
    return aws;
}

bool awsjob_needs_region(const spec_t *sp)
{
    return sp->model_is_package || sp->base_model_is_package || sp->model_package_group ||
           model_is_aws(sp->model, sp->region) ||
           (sp->evaluate_base_model && model_is_aws(sp->base_model, sp->region)) ||
           model_is_aws(sp->evaluator_model, sp->region) || (sp->dataset && strncmp(sp->dataset, "s3://", 5) == 0) ||
           awsjob_output_is_s3(sp);
}

/* ---- model packages ---- */

typedef struct {
    const char *region;
} servable_ctx_t;

static bool servable(const char *model, void *ctx)
{
    const servable_ctx_t *c = ctx;
    modelstr_t ms;
    char err[512];
    if (modelstr_parse(model, c->region, &ms, err, sizeof err) < 0) return false;
    bool ok = ms.kind == PROVIDER_BEDROCK || ms.kind == PROVIDER_SAGEMAKER;
    modelstr_clear(&ms);
    return ok;
}

/* Resolves one package ARN for `key`; the resolved model string, or NULL with a problem added. */
static char *resolve_package(const spec_t *sp, const char *key, const char *arn, errlist_t *errs, char **base_out)
{
    arn_t a;
    char why[2048];
    if (arn_parse(arn, &a, why, sizeof why) < 0) {
        errlist_add(errs, "%s: `%s`: %s", key, arn, why);
        return NULL;
    }
    if (strcmp(a.region, sp->region) != 0) {
        errlist_add(errs,
                    "%s: the model package %s is in region %s, but this job's region is %s: set \"region\": "
                    "\"%s\" to evaluate it there (every AWS call of a job goes to its region)",
                    key, arn, a.region, sp->region, a.region);
        return NULL;
    }
    smpkg_t p;
    if (smpkg_describe(sp->region, arn, &p, why, sizeof why) < 0) {
        errlist_add(errs, "%s: cannot describe the model package %s: %s", key, arn, why);
        return NULL;
    }
    servable_ctx_t ctx = {.region = sp->region};
    char *model = smpkg_resolve(&p, key, servable, &ctx, why, sizeof why);
    if (!model) errlist_add(errs, "%s: %s", key, why);
    else
        log_info("%s: model package %s (%s, %s) resolves to %s", key, arn, p.group ? p.group : "no group",
                 p.approval ? p.approval : "no approval status", model);
    if (base_out && p.base_model) {
        *base_out = smpkg_resolve(&(smpkg_t){.arn = p.arn, .base_model = p.base_model}, "base_model", servable, &ctx,
                                  why, sizeof why);
        if (!*base_out) log_info("model package %s: its base model %s is not callable: %s", arn, p.base_model, why);
    }
    smpkg_clear(&p);
    return model;
}

int awsjob_prepare(spec_t *sp, errlist_t *errs)
{
    size_t before = errs->count;
    if (!awsjob_needs_region(sp)) return 0;
    if (!sp->region) {
        errlist_add(errs, "region: this job calls AWS (Bedrock, SageMaker or S3) but no region is set: set \"region\" "
                          "in the spec (or --region), AWS_REGION where the scheduler runs, or `region` in the AWS "
                          "config profile");
        return -1;
    }
    if (!arn_region_ok(sp->region)) {
        errlist_add(errs, "region: `%s` is not an AWS region name (e.g. us-west-2)", sp->region);
        return -1;
    }
    if (!sp->model && sp->model_package_group) {
        char why[2048];
        const char *g = sp->model_package_group;
        arn_t a;
        if (arn_like(g) && arn_parse(g, &a, why, sizeof why) == 0 && strcmp(a.region, sp->region) != 0) {
            errlist_add(errs, "model_package_group: the group %s is in region %s, but this job's region is %s", g,
                        a.region, sp->region);
        } else {
            char *arn = smpkg_latest_approved(sp->region, g, why, sizeof why);
            if (!arn) {
                errlist_add(errs, "model_package_group: %s", why);
            } else {
                log_info("model_package_group %s: latest approved version %s", g, arn);
                sp->model = arn;
                sp->model_is_package = true;
            }
        }
    }
    char *pkg_base = NULL;
    if (sp->model_is_package) {
        bool want_base = sp->evaluate_base_model && !sp->base_model;
        char *m = resolve_package(sp, "model", sp->model, errs, want_base ? &pkg_base : NULL);
        if (m) {
            free(sp->model_package);
            sp->model_package = sp->model;
            sp->model = m;
            sp->model_is_package = false;
        }
        if (want_base && m) {
            if (pkg_base) {
                sp->base_model = pkg_base;
                pkg_base = NULL;
            } else {
                errlist_add(errs,
                            "evaluate_base_model: is true, but no base_model is given and the package %s names "
                            "no base model llmaj can call: give base_model",
                            sp->model_package);
            }
        }
    }
    free(pkg_base);
    if (sp->base_model_is_package) {
        char *m = resolve_package(sp, "base_model", sp->base_model, errs, NULL);
        if (m) {
            free(sp->base_model_package);
            sp->base_model_package = sp->base_model;
            sp->base_model = m;
            sp->base_model_is_package = false;
        }
    }
    if (sp->model_artifact && !sp->model && !sp->model_package_group)
        errlist_add(errs,
                    "model_artifact: llmaj evaluates models that are already served; it does not deploy model "
                    "artifacts (that would create paid infrastructure): deploy %s to a SageMaker endpoint and "
                    "pass `model`: \"sagemaker/<endpoint>\"",
                    sp->model_artifact);
    return errs->count == before ? 0 : -1;
}

/* ---- datasets ---- */

dataset_t *awsjob_dataset_open(const spec_t *sp, size_t max_line, char *err, size_t errlen)
{
    return awsjob_dataset_open_bounded(sp, max_line, NULL, err, errlen);
}

dataset_t *awsjob_dataset_open_bounded(const spec_t *sp, size_t max_line, const atomic_int *cancel, char *err,
                                       size_t errlen)
{
    dataset_t *d;
    if (!rstream_supports(sp->dataset)) {
        d = dataset_open_capped(sp->dataset, max_line, sp->dataset_max_bytes, err, errlen);
        if (d) dataset_limit(d, sp->dataset_max_bytes, cancel);
        return d;
    }
    rstream_opts_t o = {.region = sp->region, .cancel = cancel, .max_bytes = sp->dataset_max_bytes};
    rstream_t *r = rstream_open(sp->dataset, &o, err, errlen);
    if (!r) return NULL;
    if (rstream_size(r) > sp->dataset_max_bytes) {
        snprintf(err, errlen, "%s: the object is %llu bytes, larger than the cap of %llu bytes (dataset_max_bytes)",
                 sp->dataset, (unsigned long long)rstream_size(r), (unsigned long long)sp->dataset_max_bytes);
        rstream_close(&r);
        return NULL;
    }
    log_info("dataset %s: %llu bytes, read in ranged windows", sp->dataset, (unsigned long long)rstream_size(r));
    d = dataset_open_source(sp->dataset, rstream_dataset_source(r), max_line, err, errlen);
    if (d) dataset_limit(d, sp->dataset_max_bytes, cancel);
    return d;
}

/* ---- results ---- */

bool awsjob_output_is_s3(const spec_t *sp) { return sp->output_path && strncmp(sp->output_path, "s3://", 5) == 0; }

const char *awsjob_local_root(const spec_t *sp)
{
    if (awsjob_output_is_s3(sp)) return AWSJOB_LOCAL_ROOT;
    return sp->output_path ? sp->output_path : AWSJOB_LOCAL_ROOT;
}

/* bucket and key prefix ("p/q/" or "") of the output. */
static int output_parts(const spec_t *sp, char **bucket, char **prefix, char *err, size_t errlen)
{
    char *key = NULL;
    if (s3_uri_parse(sp->output_path, true, bucket, &key, err, errlen) < 0) return -1;
    size_t n = strlen(key);
    *prefix = n && key[n - 1] != '/' ? xasprintf("%s/", key) : xstrdup(key);
    free(key);
    return 0;
}

char *awsjob_output_uri(const spec_t *sp, const char *job_id)
{
    if (!awsjob_output_is_s3(sp)) return NULL;
    char *b, *p, err[256];
    if (output_parts(sp, &b, &p, err, sizeof err) < 0) return NULL;
    char *u = xasprintf("s3://%s/%s%s/", b, p, job_id);
    free(b);
    free(p);
    return u;
}

static s3_t *client(const spec_t *sp, char *err, size_t errlen)
{
    s3_opts_t o = {.region = sp->region, .path_style = -1};
    return s3_new(&o, err, errlen);
}

int awsjob_output_check(const spec_t *sp, const char *job_id, const char *spec_json, errlist_t *errs)
{
    if (!awsjob_output_is_s3(sp)) return 0;
    char err[2048], *bucket = NULL, *prefix = NULL;
    s3_t *s = NULL;
    int rc = -1;
    if (output_parts(sp, &bucket, &prefix, err, sizeof err) < 0 || !(s = client(sp, err, sizeof err))) {
        errlist_add(errs, "output_path: %s", err);
        goto done;
    }
    char *key = xasprintf("%s%s/job.json", prefix, job_id);
    char *body = xasprintf("{\"job_id\":\"%s\",\"status\":\"running\",\"spec\":%s}\n", job_id,
                           spec_json ? spec_json : "null");
    s3_err_t e;
    if (s3_put(s, bucket, key, body, strlen(body), "application/json", &e) < 0)
        errlist_add(errs, "output_path: %s is not writable: %s", sp->output_path, e.msg);
    else rc = 0;
    free(body);
    free(key);
done:
    s3_destroy(&s);
    free(bucket);
    free(prefix);
    return rc;
}

int awsjob_upload(const spec_t *sp, const char *job_id, const char *local_dir, char *err, size_t errlen)
{
    if (!awsjob_output_is_s3(sp)) return 0;
    char *bucket = NULL, *prefix = NULL;
    s3_t *s = NULL;
    if (output_parts(sp, &bucket, &prefix, err, errlen) < 0 || !(s = client(sp, err, errlen))) {
        free(bucket);
        free(prefix);
        return -1;
    }
    static const struct {
        const char *name, *type;
    } files[] = {{"records.jsonl", "application/x-ndjson"},
                 {"summary.json", "application/json"},
                 {"job.json", "application/json"}};
    int rc = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && rc == 0; i++) {
        char *path = xasprintf("%s/%s", local_dir, files[i].name);
        char *key = xasprintf("%s%s/%s", prefix, job_id, files[i].name);
        s3_object_t o;
        s3_err_t e;
        int parts = s3_upload_file(s, bucket, key, path, files[i].type, &o, &e);
        if (parts < 0) {
            snprintf(err, errlen, "results not uploaded to s3://%s/%s%s/ (they are in %s): %s", bucket, prefix, job_id,
                     local_dir, e.msg);
            rc = -1;
        } else {
            log_info("uploaded %s to s3://%s/%s (%llu bytes, %d part%s)", path, bucket, key, (unsigned long long)o.size,
                     parts, parts == 1 ? "" : "s");
        }
        free(path);
        free(key);
    }
    s3_destroy(&s);
    free(bucket);
    free(prefix);
    return rc;
}
