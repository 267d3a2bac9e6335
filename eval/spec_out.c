/* spec_out: the spec written back: its canonical JSON (spec_to_json: custom metrics inlined,
 * defaults filled in, the scheduler's resolutions recorded), the limit that applies to a model,
 * and the destructor. Split from spec.c (which reads and checks a spec) to keep each file small;
 * both implement spec.h. */
#include "spec.h"
#include "mem.h"
#include "modelstr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- output */

static cJSON *gen_json(const spec_gen_t *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "max_tokens", g->max_tokens);
    cJSON_AddNumberToObject(o, "temperature", g->temperature);
    if (g->top_p >= 0) cJSON_AddNumberToObject(o, "top_p", g->top_p);
    if (g->retry_budget_s != SPEC_RETRY_BUDGET_S) cJSON_AddNumberToObject(o, "retry_budget_s", g->retry_budget_s);
    return o;
}

static void add_opt_str(cJSON *o, const char *key, const char *v)
{
    if (v) cJSON_AddStringToObject(o, key, v);
}

cJSON *spec_to_json(const spec_t *s)
{
    cJSON *o = cJSON_CreateObject();
    add_opt_str(o, "name", s->job_name);
    add_opt_str(o, "model", s->model);
    add_opt_str(o, "base_model", s->base_model);
    add_opt_str(o, "model_package", s->model_package);
    add_opt_str(o, "base_model_package", s->base_model_package);
    add_opt_str(o, "model_package_group", s->model_package_group);
    add_opt_str(o, "model_artifact", s->model_artifact);
    cJSON_AddBoolToObject(o, "evaluate_base_model", s->evaluate_base_model);
    add_opt_str(o, "evaluator_model", s->evaluator_model);
    add_opt_str(o, "dataset", s->dataset);
    add_opt_str(o, "output_path", s->output_path);
    add_opt_str(o, "region", s->region);
    cJSON *b = cJSON_AddArrayToObject(o, "builtin_metrics");
    cJSON *cm = cJSON_AddArrayToObject(o, "custom_metrics");
    for (size_t i = 0; i < s->n_metrics; i++) {
        const metric_t *m = s->metrics[i];
        if (m->builtin) cJSON_AddItemToArray(b, cJSON_CreateString(m->name));
        else cJSON_AddItemToArray(cm, metric_to_json(m));
    }
    cJSON_AddItemToObject(o, "inference", gen_json(&s->inference));
    cJSON_AddItemToObject(o, "judge", gen_json(&s->judge));
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    for (size_t i = 0; i < s->n_limits; i++) {
        const spec_limit_t *l = &s->limits[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "rpm", l->rpm);
        cJSON_AddNumberToObject(e, "tpm", l->tpm);
        if (l->max_concurrency > 0) cJSON_AddNumberToObject(e, "max_concurrency", l->max_concurrency);
        cJSON_AddItemToObject(lim, l->model, e);
    }
    cJSON_AddNumberToObject(o, "shard_size", s->shard_size);
    cJSON_AddBoolToObject(o, "skip_invalid", s->skip_invalid);
    /* Only when not the default: the canonical spec of a job that never set it stays as it was. */
    if (s->dataset_max_bytes != SPEC_DATASET_MAX_BYTES_DEFAULT)
        cJSON_AddNumberToObject(o, "dataset_max_bytes", (double)s->dataset_max_bytes);
    if (s->mlflow_tracking_uri || s->mlflow_experiment || s->mlflow_run_name) {
        cJSON *ml = cJSON_AddObjectToObject(o, "mlflow");
        add_opt_str(ml, "tracking_uri", s->mlflow_tracking_uri);
        add_opt_str(ml, "experiment", s->mlflow_experiment);
        add_opt_str(ml, "run_name", s->mlflow_run_name);
    }
    add_opt_str(o, "judge_system_prompt", s->judge_system_prompt);
    add_opt_str(o, "reuse_responses_from", s->reuse_from);
    if (s->cache) cJSON_AddBoolToObject(o, "cache", true);
    if (s->n_apis) {
        cJSON *a = cJSON_AddObjectToObject(o, "sagemaker_api");
        for (size_t i = 0; i < s->n_apis; i++) cJSON_AddStringToObject(a, s->apis[i].model, s->apis[i].api);
    } else if (s->sagemaker_api && strcmp(s->sagemaker_api, SPEC_API_MESSAGES) != 0) {
        cJSON_AddStringToObject(o, "sagemaker_api", s->sagemaker_api);
    }
    return o;
}

/* Two model strings name the same model: the same provider, model id and service. */
static bool same_model(const char *a, const char *b, const char *region)
{
    modelstr_t ma, mb;
    char err[512];
    if (modelstr_parse(a, region, &ma, err, sizeof(err)) < 0) return false;
    if (modelstr_parse(b, region, &mb, err, sizeof(err)) < 0) {
        modelstr_clear(&ma);
        return false;
    }
    bool same = ma.kind == mb.kind && strcmp(ma.model, mb.model) == 0 && (ma.service == NULL) == (mb.service == NULL) &&
                (!ma.service || strcmp(ma.service, mb.service) == 0);
    modelstr_clear(&ma);
    modelstr_clear(&mb);
    return same;
}

const spec_limit_t *spec_limit_for(const spec_t *s, const char *model)
{
    if (!s || !model) return NULL;
    for (size_t i = 0; i < s->n_limits; i++)
        if (strcmp(s->limits[i].model, model) == 0) return &s->limits[i];
    for (size_t i = 0; i < s->n_limits; i++)
        if (same_model(s->limits[i].model, model, s->region)) return &s->limits[i];
    return NULL;
}

void spec_destroy(spec_t **self_p)
{
    if (!self_p || !*self_p) return;
    spec_t *s = *self_p;
    free(s->job_name);
    free(s->model);
    free(s->base_model);
    free(s->evaluator_model);
    free(s->dataset);
    free(s->reuse_from);
    free(s->output_path);
    free(s->region);
    for (size_t i = 0; i < s->n_metrics; i++) metric_destroy(&s->metrics[i]);
    free(s->metrics);
    for (size_t i = 0; i < s->n_limits; i++) free(s->limits[i].model);
    free(s->limits);
    free(s->mlflow_tracking_uri);
    free(s->mlflow_experiment);
    free(s->mlflow_run_name);
    free(s->judge_system_prompt);
    free(s->model_package);
    free(s->base_model_package);
    free(s->model_package_group);
    free(s->model_artifact);
    free(s->sagemaker_api);
    for (size_t i = 0; i < s->n_apis; i++) {
        free(s->apis[i].model);
        free(s->apis[i].api);
    }
    free(s->apis);
    free(s);
    *self_p = NULL;
}
