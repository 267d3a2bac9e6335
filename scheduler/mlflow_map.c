/* mlflow_map: what a job's results become in MLflow; see mlflow_map.h. */
#define LOG_MODULE "mlflow_sync"
#include "mlflow_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "mem.h"

const char *const mlflow_role_names[MLFLOW_N_ROLES] = {"parent", "custom", "base"};

const char *mlflow_map_experiment(const spec_t *sp)
{
    if (sp->mlflow_experiment && *sp->mlflow_experiment) return sp->mlflow_experiment;
    if (sp->job_name && *sp->job_name) return sp->job_name;
    return "llmaj";
}

const char *mlflow_map_run_name(const spec_t *sp, const char *job_id)
{
    if (sp->mlflow_run_name && *sp->mlflow_run_name) return sp->mlflow_run_name;
    if (sp->job_name && *sp->job_name) return sp->job_name;
    return job_id;
}

/* Entries of a batch. mlflow_batch_* refuse an entry only when its key is already in the batch
 * (the batch logs that and keeps the first) or a metric is not finite (dropped by design: JSON
 * cannot carry it, and the mapping skips nulls anyway). Neither is a failure of the sync, so
 * their results are deliberately not checked. */
static void metric(mlflow_batch_t *b, const char *key, double v, int64_t ts)
{
    (void)mlflow_batch_metric(b, key, v, ts, 0);
}

static void param(mlflow_batch_t *b, const char *key, const char *v) { (void)mlflow_batch_param(b, key, v); }

static void tag(mlflow_batch_t *b, const char *key, const char *v) { (void)mlflow_batch_tag(b, key, v); }

/* Adds every number of a summary object as `prefix/field`; ci95 [lo, hi] as ci95_low/ci95_high;
 * ratings {rating: count} as ratings/<rating>. Nulls and strings are skipped. */
static void add_stats(mlflow_batch_t *b, const char *prefix, const cJSON *obj, int64_t ts)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        if (!f->string) continue;
        char *key = NULL;
        if (cJSON_IsNumber(f)) {
            key = xasprintf("%s/%s", prefix, f->string);
            metric(b, key, f->valuedouble, ts);
        } else if (!strcmp(f->string, "ci95") && cJSON_GetArraySize(f) == 2) {
            const cJSON *lo = cJSON_GetArrayItem(f, 0), *hi = cJSON_GetArrayItem(f, 1);
            if (cJSON_IsNumber(lo)) {
                key = xasprintf("%s/ci95_low", prefix);
                metric(b, key, lo->valuedouble, ts);
                free(key);
                key = NULL;
            }
            if (cJSON_IsNumber(hi)) {
                key = xasprintf("%s/ci95_high", prefix);
                metric(b, key, hi->valuedouble, ts);
            }
        } else if (!strcmp(f->string, "ratings") && cJSON_IsObject(f)) {
            const cJSON *r;
            cJSON_ArrayForEach(r, f)
            {
                if (!cJSON_IsNumber(r) || !r->string) continue;
                char *k = xasprintf("%s/ratings/%s", prefix, r->string);
                metric(b, k, r->valuedouble, ts);
                free(k);
            }
        }
        free(key);
    }
}

/* Metrics of one target T: <metric>/<field> and category/<cat>/<metric>/<field>, under `prefix`
 * ("" for the child run, "custom/" for the parent's headline copy, which skips categories). */
static void add_target(mlflow_batch_t *b, const char *prefix, const cJSON *t, bool categories, int64_t ts)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(t, "metrics"))
    {
        if (!m->string || !cJSON_IsObject(m)) continue;
        char *p = xasprintf("%s%s", prefix, m->string);
        add_stats(b, p, m, ts);
        free(p);
    }
    if (!categories) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(t, "categories"))
    {
        if (!c->string || !cJSON_IsObject(c)) continue;
        cJSON_ArrayForEach(m, c)
        {
            if (!m->string || !cJSON_IsObject(m)) continue;
            char *p = xasprintf("%scategory/%s/%s", prefix, c->string, m->string);
            add_stats(b, p, m, ts);
            free(p);
        }
    }
}

/* The job's metric names, comma-separated; only the lower-is-better ones when `lower` (NULL when
 * there is none of those). Caller frees. */
static char *metric_list(const spec_t *sp, bool lower)
{
    buf_t b;
    buf_init(&b, 0);
    int w = 0;
    for (size_t i = 0; i < sp->n_metrics; i++) {
        if (lower && !sp->metrics[i]->lower_is_better) continue;
        if (b.len) w |= buf_putc(&b, ',');
        w |= buf_puts(&b, sp->metrics[i]->name);
    }
    if (w < 0) log_error("metric list append failed");
    if (lower && !b.len) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

static void param_num(mlflow_batch_t *b, const char *key, double v)
{
    char s[64];
    snprintf(s, sizeof s, "%.17g", v);
    param(b, key, s);
}

static void param_str(mlflow_batch_t *b, const char *key, const char *v)
{
    if (v) param(b, key, v);
}

static void add_gen_params(mlflow_batch_t *b, const char *prefix, const spec_gen_t *g)
{
    char k[64];
    snprintf(k, sizeof k, "%s.max_tokens", prefix);
    param_num(b, k, g->max_tokens);
    snprintf(k, sizeof k, "%s.temperature", prefix);
    param_num(b, k, g->temperature);
    if (g->top_p >= 0) {
        snprintf(k, sizeof k, "%s.top_p", prefix);
        param_num(b, k, g->top_p);
    }
}

mlflow_batch_t *mlflow_map_parent(const spec_t *sp, const char *job_id, const cJSON *summary, const cJSON *job,
                                  const char *final_status, int64_t ts)
{
    mlflow_batch_t *b = mlflow_batch_new();
    char *metrics = metric_list(sp, false), *lower = metric_list(sp, true);
    param_str(b, "model", sp->model);
    param_str(b, "base_model", sp->base_model);
    param_str(b, "evaluate_base_model", sp->base_model ? (sp->evaluate_base_model ? "true" : "false") : NULL);
    param_str(b, "evaluator_model", sp->evaluator_model);
    param_str(b, "dataset", sp->dataset);
    param_str(b, "metrics", metrics);
    param_str(b, "metrics_lower_is_better", lower); /* their compare/<metric> figures are oriented */
    param_str(b, "region", sp->region);
    param_str(b, "job_name", sp->job_name);
    param_num(b, "shard_size", sp->shard_size);
    param_str(b, "skip_invalid", sp->skip_invalid ? "true" : "false");
    if (sp->cache) param_str(b, "cache", "true"); /* docs/iteration.md: only when asked for */
    if (sp->reuse_from) param_str(b, "reuse_responses_from", sp->reuse_from);
    add_gen_params(b, "inference", &sp->inference);
    add_gen_params(b, "judge", &sp->judge);
    free(metrics);
    free(lower);
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(summary, "records");
    if (!recs) recs = cJSON_GetObjectItemCaseSensitive(job, "records");
    const cJSON *v;
    cJSON_ArrayForEach(v, recs)
    {
        if (!cJSON_IsNumber(v) || !v->string || !strcmp(v->string, "per_second")) continue;
        char *k = xasprintf("records.%s", v->string);
        param_num(b, k, v->valuedouble);
        free(k);
    }

    tag(b, "llmaj.status", final_status);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(job, "status");
    if (cJSON_IsString(js)) tag(b, "llmaj.job_status", js->valuestring);
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(job, "error");
    if (cJSON_IsString(je)) tag(b, "llmaj.error", je->valuestring);
    char *note = xasprintf("llmaj evaluation %s of `%s`%s%s%s judged by `%s` on `%s`.", job_id,
                           sp->model ? sp->model : "dataset responses", sp->base_model ? " against `" : "",
                           sp->base_model ? sp->base_model : "", sp->base_model ? "`" : "", sp->evaluator_model,
                           sp->dataset);
    tag(b, "mlflow.note.content", note);
    free(note);

    /* Metrics: records, comparison, headline copies of each target, usage, cost, time. */
    cJSON_ArrayForEach(v, recs)
    {
        if (!cJSON_IsNumber(v) || !v->string) continue;
        char *k = xasprintf("records/%s", v->string);
        metric(b, k, v->valuedouble, ts);
        free(k);
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(summary, "cache")) /* calls not made */
    {
        if (!cJSON_IsNumber(c) || !c->string) continue;
        char *k = xasprintf("cache/%s", c->string);
        metric(b, k, c->valuedouble, ts);
        free(k);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(summary, "comparison"))
    {
        if (!c->string || !cJSON_IsObject(c)) continue;
        char *p = xasprintf("compare/%s", c->string);
        add_stats(b, p, c, ts);
        free(p);
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(summary, "targets"))
    {
        if (!t->string || !cJSON_IsObject(t)) continue;
        char *p = xasprintf("%s/", t->string);
        add_target(b, p, t, false, ts);
        free(p);
    }
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(job, "usage"))
    {
        if (!u->string || !cJSON_IsObject(u)) continue;
        char *p = xasprintf("usage/%s", u->string);
        add_stats(b, p, u, ts);
        free(p);
    }
    static const char *const job_nums[] = {"estimated_cost_usd", "elapsed_s"};
    for (size_t i = 0; i < sizeof job_nums / sizeof *job_nums; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(job, job_nums[i]);
        if (cJSON_IsNumber(n)) metric(b, job_nums[i], n->valuedouble, ts);
    }
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "records"), "per_second");
    if (cJSON_IsNumber(per)) metric(b, "records_per_second", per->valuedouble, ts);
    return b;
}

mlflow_batch_t *mlflow_map_child(const spec_t *sp, int role, const cJSON *summary, int64_t ts)
{
    mlflow_batch_t *b = mlflow_batch_new();
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(summary, "targets"),
                                                      mlflow_role_names[role]);
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(t, "model");
    const char *model = cJSON_IsString(tm) ? tm->valuestring : role == MLFLOW_ROLE_CUSTOM ? sp->model : sp->base_model;
    char *metrics = metric_list(sp, false), *lower = metric_list(sp, true);
    param_str(b, "target", mlflow_role_names[role]);
    param_str(b, "model", model);
    param_str(b, "evaluator_model", sp->evaluator_model);
    param_str(b, "dataset", sp->dataset);
    param_str(b, "metrics", metrics);
    param_str(b, "metrics_lower_is_better", lower);
    free(metrics);
    free(lower);
    if (t) add_target(b, "", t, true, ts);
    return b;
}
