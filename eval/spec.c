/* spec: the job spec: parse, validate, resolve aliases, write back canonically (see spec.h and
 * DESIGN.md "Job spec").
 *
 * Owns the spec's keys, their types, ranges, defaults and the seed's aliases. Metric names and
 * custom metric definitions are checked by metric.c, model strings by modelstr.c; this file
 * says where in the spec each problem is. It reads one file at most (custom_metrics given as a
 * path) and never the dataset.
 *
 * DESIGN. Validation never stops at the first problem: every key is looked at, every problem is
 * added to the caller's errlist with the key it concerns ("judge.max_tokens: ..."), and only a
 * spec with no problem at all is returned. JSON null on an optional key means "absent" (so
 * generated specs can write every key). Problems that concern the document as a whole (not JSON,
 * not an object) are prefixed with the origin. Relative paths are resolved against base_dir and
 * the resolved form is what spec_to_json writes, so the canonical JSON re-parses (without a
 * base_dir) to the same spec anywhere. */
#include "spec.h"
#include "spec_int.h"
#include "arn.h"
#include "file.h"
#include "jsonerr.h"
#include "mem.h"
#include "modelstr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPEC_MAX_FILE ((size_t)4 << 20) /* spec files and custom_metrics files */
#define SPEC_MAX_NAME 256
#define SPEC_MAX_SYSTEM_PROMPT 20000
#define SPEC_MAX_CONCURRENCY 1000000
#define SPEC_MAX_JOB_ID 127 /* a job id travels in wire headers (WIRE_MAX_ID with its NUL) */

static const char *const top_keys[] = {
    "name",
    "model",
    "base_model",
    "evaluate_base_model",
    "evaluator_model",
    "dataset",
    "builtin_metrics",
    "custom_metrics",
    "output_path",
    "s3_output_path",
    "mlflow",
    "mlflow_resource_arn",
    "region",
    "inference",
    "judge",
    "limits",
    "shard_size",
    "skip_invalid",
    "judge_system_prompt",
    "model_package_group",
    "model_artifact",
    "sagemaker_api",
    "model_package",
    "base_model_package",
    "reuse_responses_from",
    "cache",
    "dataset_max_bytes",
};
static const char *const gen_keys[] = {"max_tokens", "temperature", "top_p", "retry_budget_s"};
static const char *const mlflow_keys[] = {"tracking_uri", "experiment", "run_name"};
static const char *const limit_keys[] = {"rpm", "tpm", "max_concurrency"};

/* ---------------------------------------------------------------- values */

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static char *join_path(const char *base_dir, const char *path)
{
    if (!base_dir || !*base_dir || path[0] == '/' || strcmp(base_dir, ".") == 0) return xstrdup(path);
    size_t n = strlen(base_dir);
    return xasprintf("%s%s%s", base_dir, base_dir[n - 1] == '/' ? "" : "/", path);
}

static void check_model(spec_ctx_t *c, const char *name, const char *s)
{
    modelstr_t m;
    char err[1024];
    if (modelstr_parse(s, c->region, &m, err, sizeof(err)) < 0) {
        errlist_add(c->errs, "%s: %s", name, err);
        return;
    }
    modelstr_clear(&m);
}

bool spec_is_model_package(const char *s, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!arn_like(s) || !strstr(s, ":model-package/")) return false;
    arn_t a;
    char why[256];
    if (arn_parse(s, &a, why, sizeof why) < 0) {
        if (err) snprintf(err, errlen, "`%s` is not a valid model package ARN: %s", s, why);
        return false;
    }
    const char *name = a.resource + strlen("model-package/");
    size_t nl = strcspn(name, "/");
    const char *ver = name[nl] == '/' ? name + nl + 1 : NULL;
    bool ok = strcmp(a.service, "sagemaker") == 0 && a.region[0] && a.account[0] &&
              strncmp(a.resource, "model-package/", 14) == 0 && nl > 0 && nl <= 63;
    for (size_t i = 0; ok && i < nl; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-') ok = false;
    if (ok && ver) {
        ok = *ver != '\0';
        for (const char *p = ver; ok && *p; p++)
            if (!isdigit((unsigned char)*p)) ok = false;
    }
    if (!ok) {
        if (err)
            snprintf(err, errlen,
                     "`%s` is not a valid model package ARN: expected "
                     "arn:aws:sagemaker:REGION:ACCOUNT:model-package/NAME/VERSION (NAME of letters, digits and '-', "
                     "VERSION a number)",
                     s);
        return false;
    }
    return true;
}

static char *model_key(spec_ctx_t *c, const cJSON *root, const char *key, bool *is_package)
{
    const char *s = spec_get_str(c, root, key, key, 0);
    if (!s) return NULL;
    char why[600];
    if (spec_is_model_package(s, why, sizeof why)) {
        *is_package = true;
        return xstrdup(s);
    }
    if (why[0]) {
        errlist_add(c->errs, "%s: %s", key, why);
        return NULL;
    }
    check_model(c, key, s);
    return xstrdup(s);
}

/* A SageMaker MLflow tracking server ARN, checked part by part. */
static bool mlflow_arn_ok(spec_ctx_t *c, const char *key, const char *s)
{
    static const char form[] = "arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME (or mlflow-app/NAME)";
    arn_t a;
    char why[256];
    if (arn_parse(s, &a, why, sizeof why) < 0) {
        errlist_add(c->errs, "%s: `%s` is not a valid ARN: %s; expected %s", key, s, why, form);
        return false;
    }
    const char *name = NULL;
    if (strncmp(a.resource, "mlflow-tracking-server/", 23) == 0) name = a.resource + 23;
    else if (strncmp(a.resource, "mlflow-app/", 11) == 0) name = a.resource + 11;
    if (strcmp(a.service, "sagemaker") != 0 || !a.region[0] || !a.account[0] || !name || !*name || strchr(name, '/')) {
        errlist_add(c->errs, "%s: `%s` is not a SageMaker MLflow tracking server ARN; expected %s%s", key, s, form,
                    !a.region[0]    ? " (the region is missing)"
                    : !a.account[0] ? " (the account is missing)"
                                    : "");
        return false;
    }
    return true;
}

/* s3://bucket[/key]: the bucket must be there; `need_key` for objects. */
static bool s3_ok(const char *s, bool need_key)
{
    const char *b = s + strlen("s3://");
    const char *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen < 3 || blen > 63) return false;
    for (size_t i = 0; i < blen; i++)
        if (!islower((unsigned char)b[i]) && !isdigit((unsigned char)b[i]) && b[i] != '-' && b[i] != '.') return false;
    if (need_key && (!slash || !slash[1])) return false;
    return true;
}

static char *dataset_location(spec_ctx_t *c, const char *s)
{
    if (starts_with(s, "s3://")) {
        if (!s3_ok(s, true)) {
            errlist_add(c->errs, "dataset: `%s` is not an S3 object URI; expected s3://bucket/key", s);
            return NULL;
        }
        return xstrdup(s);
    }
    if (starts_with(s, "https://")) {
        if (!s[8] || s[8] == '/') {
            errlist_add(c->errs, "dataset: `%s` has no host", s);
            return NULL;
        }
        return xstrdup(s);
    }
    if (starts_with(s, "http://")) {
        const char *h = s + 7;
        if (starts_with(h, "127.") || starts_with(h, "localhost") || starts_with(h, "[::1]")) return xstrdup(s);
        errlist_add(c->errs, "dataset: `%s`: plain http:// is accepted only for a server on this machine; use https://",
                    s);
        return NULL;
    }
    if (starts_with(s, "arn:")) {
        errlist_add(c->errs,
                    "dataset: dataset ARNs (AI Registry) are not supported: give the dataset's s3://bucket/key "
                    "(the S3 location the AI Registry entry points at), a local path or an https:// URL");
        return NULL;
    }
    if (strstr(s, "://")) {
        errlist_add(c->errs,
                    "dataset: unsupported location `%s`; give a local path, s3://bucket/key or an "
                    "https:// URL",
                    s);
        return NULL;
    }
    return join_path(c->base_dir, s);
}

static char *output_location(spec_ctx_t *c, const char *name, const char *s)
{
    if (starts_with(s, "s3://")) {
        if (!s3_ok(s, false)) {
            errlist_add(c->errs, "%s: `%s` is not an S3 location; expected s3://bucket/prefix/", name, s);
            return NULL;
        }
        return xstrdup(s);
    }
    if (strstr(s, "://") || starts_with(s, "arn:")) {
        errlist_add(c->errs, "%s: unsupported location `%s`; give a local directory or s3://bucket/prefix/", name, s);
        return NULL;
    }
    return join_path(c->base_dir, s);
}

static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n < 4 || n > 32 || !islower((unsigned char)r[0]) || !isdigit((unsigned char)r[n - 1]) || !strchr(r, '-'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i]) && r[i] != '-') return false;
    return true;
}

static void parse_gen(spec_ctx_t *c, const cJSON *root, const char *key, spec_gen_t *g)
{
    g->max_tokens = 1024;
    g->temperature = 0;
    g->top_p = -1;
    g->retry_budget_s = SPEC_RETRY_BUDGET_S;
    const cJSON *o = spec_get(root, key);
    if (!o) return;
    if (!cJSON_IsObject(o)) {
        char d[96];
        errlist_add(c->errs, "%s: must be an object {max_tokens, temperature, top_p, retry_budget_s}, got %s", key,
                    spec_describe(o, d, sizeof(d)));
        return;
    }
    char prefix[32], name[64];
    snprintf(prefix, sizeof(prefix), "%s.", key);
    spec_check_keys(c, o, prefix, gen_keys, N_OF(gen_keys));
    snprintf(name, sizeof(name), "%s.max_tokens", key);
    spec_get_int(c, o, "max_tokens", name, 1, 200000, &g->max_tokens);
    snprintf(name, sizeof(name), "%s.temperature", key);
    (void)spec_get_num(c, o, "temperature", name, 0, 2, &g->temperature);
    snprintf(name, sizeof(name), "%s.top_p", key);
    (void)spec_get_num(c, o, "top_p", name, 0, 1, &g->top_p);
    snprintf(name, sizeof(name), "%s.retry_budget_s", key);
    spec_get_int(c, o, "retry_budget_s", name, 1, 86400, &g->retry_budget_s);
}

static void parse_limits(spec_ctx_t *c, const cJSON *root, spec_t *s)
{
    const cJSON *o = spec_get(root, "limits");
    if (!o) return;
    char d[96];
    if (!cJSON_IsObject(o)) {
        errlist_add(c->errs, "limits: must be an object of model string -> {rpm, tpm, max_concurrency}, got %s",
                    spec_describe(o, d, sizeof(d)));
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(o);
    s->limits = xcalloc(n ? n : 1, sizeof(spec_limit_t));
    for (const cJSON *e = o->child; e; e = e->next) {
        char where[1200], prefix[1300], name[1300];
        snprintf(where, sizeof(where), "limits[\"%s\"]", e->string ? e->string : "");
        bool dup = false;
        for (const cJSON *p = o->child; p != e; p = p->next)
            if (strcmp(p->string, e->string) == 0) dup = true;
        if (dup) {
            errlist_add(c->errs, "%s: given more than once", where);
            continue;
        }
        check_model(c, where, e->string);
        if (!cJSON_IsObject(e)) {
            errlist_add(c->errs, "%s: must be an object {rpm, tpm, max_concurrency}, got %s", where,
                        spec_describe(e, d, sizeof(d)));
            continue;
        }
        snprintf(prefix, sizeof(prefix), "%s.", where);
        spec_check_keys(c, e, prefix, limit_keys, N_OF(limit_keys));
        spec_limit_t *l = &s->limits[s->n_limits++];
        l->model = xstrdup(e->string);
        snprintf(name, sizeof(name), "%s.rpm", where);
        (void)spec_get_num(c, e, "rpm", name, 0, INFINITY, &l->rpm);
        snprintf(name, sizeof(name), "%s.tpm", where);
        (void)spec_get_num(c, e, "tpm", name, 0, INFINITY, &l->tpm);
        snprintf(name, sizeof(name), "%s.max_concurrency", where);
        spec_get_int(c, e, "max_concurrency", name, 1, SPEC_MAX_CONCURRENCY, &l->max_concurrency);
    }
}

static void parse_mlflow(spec_ctx_t *c, const cJSON *root, spec_t *s)
{
    const cJSON *o = spec_get(root, "mlflow");
    const char *uri = NULL;
    if (o && !cJSON_IsObject(o)) {
        char d[96];
        errlist_add(c->errs, "mlflow: must be an object {tracking_uri, experiment, run_name}, got %s",
                    spec_describe(o, d, sizeof(d)));
        o = NULL;
    }
    if (o) {
        spec_check_keys(c, o, "mlflow.", mlflow_keys, N_OF(mlflow_keys));
        uri = spec_get_str(c, o, "tracking_uri", "mlflow.tracking_uri", 0);
        if (uri && !starts_with(uri, "http://") && !starts_with(uri, "https://") && !starts_with(uri, "arn:")) {
            errlist_add(c->errs,
                        "mlflow.tracking_uri: must be an http:// or https:// URL or a SageMaker MLflow "
                        "ARN, got `%s`",
                        uri);
            uri = NULL;
        }
        if (uri && starts_with(uri, "arn:") && !mlflow_arn_ok(c, "mlflow.tracking_uri", uri)) uri = NULL;
        s->mlflow_experiment = xstrdup(spec_get_str(c, o, "experiment", "mlflow.experiment", SPEC_MAX_NAME));
        s->mlflow_run_name = xstrdup(spec_get_str(c, o, "run_name", "mlflow.run_name", SPEC_MAX_NAME));
    }
    const char *arn = spec_get_str(c, root, "mlflow_resource_arn", "mlflow_resource_arn", 0);
    if (arn && !starts_with(arn, "arn:")) {
        errlist_add(c->errs,
                    "mlflow_resource_arn: must be an ARN "
                    "(arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>), got `%s`",
                    arn);
        arn = NULL;
    }
    if (arn && !mlflow_arn_ok(c, "mlflow_resource_arn", arn)) arn = NULL;
    if (arn && uri && strcmp(arn, uri) != 0) {
        errlist_add(c->errs, "mlflow_resource_arn: is an alias of mlflow.tracking_uri and both are given with "
                             "different values; give one");
    }
    s->mlflow_tracking_uri = xstrdup(uri ? uri : arn);
}

/* ---------------------------------------------------------------- metrics */

static void add_metric(spec_t *s, metric_t *m)
{
    s->metrics = xrealloc(s->metrics, (s->n_metrics + 1) * sizeof(metric_t *));
    s->metrics[s->n_metrics++] = m;
}

static void parse_builtins(spec_ctx_t *c, const cJSON *root, spec_t *s, bool *bad)
{
    const cJSON *a = spec_get(root, "builtin_metrics");
    if (!a) return;
    char d[96];
    if (!cJSON_IsArray(a)) {
        errlist_add(c->errs, "builtin_metrics: must be an array of metric names, got %s",
                    spec_describe(a, d, sizeof(d)));
        *bad = true;
        return;
    }
    size_t nn = 0;
    const char *const *names = metric_builtin_names(&nn);
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) {
            errlist_add(c->errs, "builtin_metrics[%d]: must be a metric name, got %s", i,
                        spec_describe(e, d, sizeof(d)));
            *bad = true;
            continue;
        }
        metric_t *m = metric_builtin(e->valuestring);
        if (m) {
            add_metric(s, m);
            continue;
        }
        *bad = true;
        char list[1024] = "";
        size_t off = 0;
        for (size_t k = 0; k < nn && off < sizeof(list); k++) {
            int w = snprintf(list + off, sizeof(list) - off, "%s%s", k ? ", " : "", names[k]);
            if (w < 0) break;
            off += (size_t)w;
        }
        const char *base = e->valuestring;
        if (strncasecmp(base, "builtin.", 8) == 0) base += 8;
        const char *near = spec_closest(base, names, nn);
        if (near)
            errlist_add(c->errs,
                        "builtin_metrics[%d]: unknown metric `%s`; did you mean `%s`? The built-in "
                        "metrics are %s (a `Builtin.` prefix is accepted)",
                        i, e->valuestring, near, list);
        else
            errlist_add(c->errs,
                        "builtin_metrics[%d]: unknown metric `%s`; the built-in metrics are %s (a "
                        "`Builtin.` prefix is accepted)",
                        i, e->valuestring, list);
    }
}

/* "not valid JSON (unexpected `}` at line 3, column 5)" into buf. */
static void json_error_text(const char *text, size_t len, jsonerr_t at, char *buf, size_t n)
{
    size_t pos = at.pos;
    if (!at.after && jsonerr_at_end(text, len, pos)) pos = len;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (pos >= len) snprintf(buf, n, "not valid JSON (the text ends early, at line %zu, column %zu)", line, col);
    else if ((unsigned char)text[pos] >= 0x20 && (unsigned char)text[pos] < 0x7f)
        snprintf(buf, n, "not valid JSON (unexpected `%c` at line %zu, column %zu)", text[pos], line, col);
    else
        snprintf(buf, n, "not valid JSON (unexpected byte 0x%02x at line %zu, column %zu)", (unsigned char)text[pos],
                 line, col);
}

/* Parses a whole JSON text; NULL with a message in buf. */
static cJSON *parse_json_text(const char *text, size_t len, char *buf, size_t n)
{
    jsonerr_t at;
    cJSON *j = jsonerr_parse(text, len, &at);
    if (!j) json_error_text(text, len, at, buf, n);
    return j;
}

static void parse_customs(spec_ctx_t *c, const cJSON *root, spec_t *s, bool *bad)
{
    const cJSON *v = spec_get(root, "custom_metrics");
    if (!v) return;
    char d[96], msg[1200];
    cJSON *owned = NULL;
    const cJSON *arr = v;
    if (cJSON_IsString(v)) {
        const char *t = v->valuestring;
        while (isspace((unsigned char)*t)) t++;
        if (*t == '[' || *t == '{') {
            owned = parse_json_text(v->valuestring, strlen(v->valuestring), msg, sizeof(msg));
            if (!owned) {
                errlist_add(c->errs, "custom_metrics: the string is %s", msg);
                *bad = true;
                return;
            }
        } else if (!*t) {
            errlist_add(c->errs, "custom_metrics: must be an array, a JSON string of an array, or the path of a "
                                 "JSON file; got an empty string");
            *bad = true;
            return;
        } else {
            char *path = join_path(c->base_dir, v->valuestring);
            size_t len = 0;
            char *text = NULL;
            if (file_read_all(path, SPEC_MAX_FILE, 0, &text, &len, msg, sizeof(msg)) < 0) {
                errlist_add(c->errs, "custom_metrics: %s", msg);
                free(path);
                *bad = true;
                return;
            }
            owned = parse_json_text(text, len, msg, sizeof(msg));
            free(text);
            if (!owned) {
                errlist_add(c->errs, "custom_metrics: `%s` is %s", path, msg);
                free(path);
                *bad = true;
                return;
            }
            free(path);
        }
        arr = owned;
    }
    if (!cJSON_IsArray(arr)) {
        errlist_add(c->errs,
                    "custom_metrics: must be an array of {\"customMetricDefinition\": {...}} objects "
                    "(or a JSON string or file holding one), got %s",
                    spec_describe(arr, d, sizeof(d)));
        *bad = true;
        cJSON_Delete(owned);
        return;
    }
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char where[48];
        snprintf(where, sizeof(where), "custom_metrics[%d]", i);
        metric_t *m = metric_custom_parse(e, where, c->errs);
        if (m) add_metric(s, m);
        else *bad = true;
    }
    cJSON_Delete(owned);
}

/* ---------------------------------------------------------------- AWS keys */

static void parse_packages(spec_ctx_t *c, const cJSON *root, spec_t *s)
{
    const char *g = spec_get_str(c, root, "model_package_group", "model_package_group", 0);
    if (g) {
        bool ok;
        if (arn_like(g)) {
            arn_t a;
            char why[256];
            ok = arn_parse(g, &a, why, sizeof why) == 0 && strcmp(a.service, "sagemaker") == 0 && a.region[0] &&
                 a.account[0] && strncmp(a.resource, "model-package-group/", 20) == 0 && a.resource[20];
            if (!ok)
                errlist_add(c->errs,
                            "model_package_group: `%s` is not a model package group ARN (expected "
                            "arn:aws:sagemaker:REGION:ACCOUNT:model-package-group/NAME)%s%s",
                            g, arn_parse(g, &a, why, sizeof why) < 0 ? ": " : "",
                            arn_parse(g, &a, why, sizeof why) < 0 ? why : "");
        } else {
            ok = strlen(g) <= 63;
            for (const char *p = g; ok && *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-') ok = false;
            if (!ok)
                errlist_add(c->errs,
                            "model_package_group: `%s` is not a model package group name (1-63 letters, "
                            "digits and '-') or ARN",
                            g);
        }
        if (ok) s->model_package_group = xstrdup(g);
        if (ok && s->model && !s->model_is_package)
            errlist_add(c->errs, "model_package_group: is given, but `model` is not a model package; give `model` as "
                                 "a package of the group, or leave it out to use the group's latest approved version");
    }
    const char *art = spec_get_str(c, root, "model_artifact", "model_artifact", 0);
    if (art && (!starts_with(art, "s3://") || !s3_ok(art, true))) {
        errlist_add(c->errs, "model_artifact: `%s` is not an S3 object URI (s3://bucket/key)", art);
        art = NULL;
    }
    s->model_artifact = xstrdup(art);
    const char *keys[] = {"model_package", "base_model_package"};
    char **slots[] = {&s->model_package, &s->base_model_package};
    for (int i = 0; i < 2; i++) {
        const char *v = spec_get_str(c, root, keys[i], keys[i], 0);
        char why[600];
        if (v && !spec_is_model_package(v, why, sizeof why)) {
            errlist_add(c->errs, "%s: %s", keys[i], why[0] ? why : "must be a SageMaker model package ARN");
            v = NULL;
        }
        *slots[i] = xstrdup(v);
    }
    const cJSON *api = spec_get(root, "sagemaker_api");
    s->sagemaker_api = xstrdup(SPEC_API_MESSAGES);
    if (!api) return;
    char d[96];
    if (cJSON_IsString(api)) {
        if (strcmp(api->valuestring, SPEC_API_MESSAGES) == 0 || strcmp(api->valuestring, SPEC_API_TGI) == 0) {
            free(s->sagemaker_api);
            s->sagemaker_api = xstrdup(api->valuestring);
        } else {
            errlist_add(c->errs,
                        "sagemaker_api: must be \"messages\" (the OpenAI-compatible messages API of the LMI "
                        "and vLLM containers) or \"tgi\" (TGI's {\"inputs\", \"parameters\"}), got `%s`",
                        api->valuestring);
        }
        return;
    }
    if (!cJSON_IsObject(api)) {
        errlist_add(c->errs,
                    "sagemaker_api: must be \"messages\", \"tgi\", or an object of sagemaker/ model string -> "
                    "one of them, got %s",
                    spec_describe(api, d, sizeof d));
        return;
    }
    s->apis = xcalloc((size_t)cJSON_GetArraySize(api) + 1, sizeof(spec_api_t));
    for (const cJSON *e = api->child; e; e = e->next) {
        if (!starts_with(e->string, "sagemaker/") && !(arn_like(e->string) && strstr(e->string, ":endpoint/"))) {
            errlist_add(c->errs, "sagemaker_api[\"%s\"]: keys are sagemaker/<endpoint> model strings", e->string);
            continue;
        }
        if (!cJSON_IsString(e) ||
            (strcmp(e->valuestring, SPEC_API_MESSAGES) != 0 && strcmp(e->valuestring, SPEC_API_TGI) != 0)) {
            errlist_add(c->errs, "sagemaker_api[\"%s\"]: must be \"messages\" or \"tgi\"", e->string);
            continue;
        }
        s->apis[s->n_apis].model = xstrdup(e->string);
        s->apis[s->n_apis].api = xstrdup(e->valuestring);
        s->n_apis++;
    }
}

const char *spec_sagemaker_api(const spec_t *s, const char *model)
{
    for (size_t i = 0; s && model && i < s->n_apis; i++)
        if (strcmp(s->apis[i].model, model) == 0) return s->apis[i].api;
    return s && s->sagemaker_api ? s->sagemaker_api : SPEC_API_MESSAGES;
}

/* ---------------------------------------------------------------- parse */

/* "reuse_responses_from": the id of a job of the same scheduler whose responses this job judges
 * (the scheduler checks that job; here only its form). "cache": true or false. */
static void parse_reuse(spec_ctx_t *c, const cJSON *root, spec_t *s)
{
    const char *id = spec_get_str(c, root, "reuse_responses_from", "reuse_responses_from", SPEC_MAX_JOB_ID);
    if (id) {
        bool ok = true;
        for (const char *p = id; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                 *p == '_' || *p == '.';
        if (ok) s->reuse_from = xstrdup(id);
        else
            errlist_add(c->errs,
                        "reuse_responses_from: `%s` is not a job id (letters, digits, `-`, `_` and `.`; "
                        "see `llmaj list`)",
                        id);
    }
    spec_get_bool(c, root, "cache", &s->cache, NULL);
}

static spec_t *parse_root(const cJSON *root, const char *base_dir, errlist_t *errs)
{
    spec_ctx_t c = {.errs = errs, .base_dir = base_dir, .region = NULL};
    size_t before = errs->count;
    spec_t *s = xcalloc(1, sizeof(*s));
    spec_check_keys(&c, root, "", top_keys, N_OF(top_keys));

    /* region first: model strings depend on it */
    const char *region = spec_get_str(&c, root, "region", "region", 0);
    if (region && !region_ok(region)) {
        errlist_add(errs, "region: `%s` is not an AWS region name (e.g. us-west-2)", region);
        region = NULL;
    }
    if (!region && !spec_get(root, "region")) {
        /* the region the job runs in is fixed when the spec is read, so that every process that
         * later reads the canonical spec resolves model strings the same way */
        const char *env = getenv("AWS_REGION");
        if (!env || !*env) env = getenv("AWS_DEFAULT_REGION");
        if (env && region_ok(env)) region = env;
    }
    s->region = xstrdup(region);
    c.region = s->region;

    s->job_name = xstrdup(spec_get_str(&c, root, "name", "name", SPEC_MAX_NAME));
    bool judge_package = false;
    s->model = model_key(&c, root, "model", &s->model_is_package);
    s->base_model = model_key(&c, root, "base_model", &s->base_model_is_package);
    s->evaluator_model = model_key(&c, root, "evaluator_model", &judge_package);
    if (judge_package)
        errlist_add(errs, "evaluator_model: a model package cannot be the judge: give a Bedrock model id (e.g. "
                          "amazon.nova-pro-v1:0) or another model string");
    parse_packages(&c, root, s);
    if (!spec_get(root, "evaluator_model"))
        errlist_add(errs, "evaluator_model: is required (the judge's model string, e.g. bedrock/amazon.nova-pro-v1:0)");

    parse_reuse(&c, root, s);
    bool ebm_given = false;
    s->evaluate_base_model = false;
    spec_get_bool(&c, root, "evaluate_base_model", &s->evaluate_base_model, &ebm_given);
    s->evaluate_base_model_given = ebm_given;
    if (!ebm_given) s->evaluate_base_model = spec_get(root, "base_model") != NULL;
    else if (s->evaluate_base_model && !spec_get(root, "base_model") && !s->model_is_package &&
             !s->model_package_group && !s->reuse_from)
        errlist_add(errs, "evaluate_base_model: is true but no base_model is given (it may also come from the base "
                          "model a model package names, when `model` is one)");

    const char *ds = spec_get_str(&c, root, "dataset", "dataset", 0);
    if (ds) s->dataset = dataset_location(&c, ds);
    else if (!spec_get(root, "dataset") && !s->reuse_from)
        errlist_add(errs, "dataset: is required (a local path, s3://bucket/key or an https:// URL)");

    const char *out = spec_get_str(&c, root, "output_path", "output_path", 0);
    const char *s3out = spec_get_str(&c, root, "s3_output_path", "s3_output_path", 0);
    if (out && s3out && strcmp(out, s3out) != 0) {
        errlist_add(errs, "s3_output_path: is an alias of output_path and both are given with different values; "
                          "give one");
    } else if (out || s3out) {
        s->output_path = output_location(&c, out ? "output_path" : "s3_output_path", out ? out : s3out);
    } else if (!spec_get(root, "output_path") && !spec_get(root, "s3_output_path")) {
        s->output_path = xstrdup("runs/"); /* relative to where the job runs, not to base_dir */
    }

    bool metrics_bad = false;
    parse_builtins(&c, root, s, &metrics_bad);
    parse_customs(&c, root, s, &metrics_bad);
    /* The set is checked once every entry parsed: metric_check_set names entries by their
     * position among the parsed ones, which a dropped entry would shift. */
    if (!metrics_bad) (void)metric_check_set(s->metrics, s->n_metrics, errs); /* its problems are in errs */

    parse_gen(&c, root, "inference", &s->inference);
    parse_gen(&c, root, "judge", &s->judge);
    parse_limits(&c, root, s);
    parse_mlflow(&c, root, s);

    s->shard_size = 64;
    spec_get_int(&c, root, "shard_size", "shard_size", 1, 10000, &s->shard_size);
    spec_get_bool(&c, root, "skip_invalid", &s->skip_invalid, NULL);
    s->dataset_max_bytes = SPEC_DATASET_MAX_BYTES_DEFAULT;
    double dmax;
    if (spec_get_num(&c, root, "dataset_max_bytes", "dataset_max_bytes", 1, SPEC_DATASET_MAX_BYTES_HI, &dmax)) {
        if (dmax != floor(dmax)) errlist_add(errs, "dataset_max_bytes: must be a whole number of bytes, got %g", dmax);
        else s->dataset_max_bytes = (uint64_t)dmax;
    }
    s->judge_system_prompt = xstrdup(
        spec_get_str(&c, root, "judge_system_prompt", "judge_system_prompt", SPEC_MAX_SYSTEM_PROMPT));

    if (errs->count != before) spec_destroy(&s);
    return s;
}

spec_t *spec_parse(const char *json, size_t len, const char *origin, const char *base_dir, errlist_t *errs)
{
    const char *o = origin ? origin : "spec";
    char msg[256];
    cJSON *root = parse_json_text(json, len, msg, sizeof(msg));
    if (!root) {
        errlist_add(errs, "%s: %s", o, msg);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        char d[96];
        errlist_add(errs, "%s: a job spec must be a JSON object, got %s", o, spec_describe(root, d, sizeof(d)));
        cJSON_Delete(root);
        return NULL;
    }
    spec_t *s = parse_root(root, base_dir, errs);
    cJSON_Delete(root);
    return s;
}

spec_t *spec_load(const char *path, errlist_t *errs)
{
    char msg[1200];
    size_t len = 0;
    char *text = NULL;
    if (file_read_all(path, SPEC_MAX_FILE, 0, &text, &len, msg, sizeof(msg)) < 0) {
        errlist_add(errs, "spec: %s", msg);
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash) dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
    spec_t *s = spec_parse(text, len, path, dir, errs);
    free(dir);
    free(text);
    return s;
}
