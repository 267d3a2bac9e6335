/* mlflow_runs: experiments, runs and log-batch calls of the MLflow client; see mlflow.h. */
#include "mlflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "mlflow"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "mlflow_int.h"

/* ---------------------------------------------------------------- experiments ---- */

/* GET path_query + value, URL-encoded (API "/runs/get?run_id=" + id); as mlflow_call. */
static int get_with_query(mlflow_t *m, const char *path_query, const char *value, cJSON **reply, mlflow_err_t *e)
{
    buf_t path;
    buf_init(&path, 0);
    if (buf_puts(&path, path_query) < 0) return -1;
    mlflow_url_encode(&path, value, strlen(value), false);
    int rc = mlflow_call(m, "GET", path.data, NULL, reply, e);
    buf_free(&path);
    return rc;
}

static char *json_string_at(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

int mlflow_experiment_get_by_name(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
{
    *id = NULL;
    cJSON *reply = NULL;
    if (get_with_query(m, API "/experiments/get-by-name?experiment_name=", name, &reply, e) < 0) {
        /* MLflow answers 404 RESOURCE_DOES_NOT_EXIST for an unknown name. */
        if (e && (!strcmp(e->code, "RESOURCE_DOES_NOT_EXIST") || (e->http_status == 404 && !e->code[0]))) return 0;
        return -1;
    }
    const char *eid = json_string_at(reply, "experiment", "experiment_id");
    const char *stage = json_string_at(reply, "experiment", "lifecycle_stage");
    if (!eid) {
        mlflow_err_set(e, 200, NULL, "%s: experiments/get-by-name '%s': answer has no experiment.experiment_id",
                       m->display, name);
        cJSON_Delete(reply);
        return -1;
    }
    if (stage && !strcmp(stage, "deleted")) {
        mlflow_err_set(e, 200, "EXPERIMENT_DELETED",
                       "%s: MLflow experiment '%s' (id %s) is deleted: restore it in MLflow or name another experiment",
                       m->display, name, eid);
        cJSON_Delete(reply);
        return -1;
    }
    *id = xstrdup(eid);
    cJSON_Delete(reply);
    return 0;
}

int mlflow_experiment_create(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
{
    *id = NULL;
    buf_t body;
    buf_init(&body, 0);
    if (buf_puts(&body, "{\"name\":") < 0 || buf_json_str(&body, name, strlen(name)) < 0 || buf_putc(&body, '}') < 0)
        return -1;
    cJSON *reply = NULL;
    int rc = mlflow_call(m, "POST", API "/experiments/create", body.data, &reply, e);
    buf_free(&body);
    if (rc < 0) return -1;
    const char *eid = json_string_at(reply, "experiment_id", NULL);
    if (!eid) {
        mlflow_err_set(e, 200, NULL, "%s: experiments/create '%s': answer has no experiment_id", m->display, name);
        cJSON_Delete(reply);
        return -1;
    }
    *id = xstrdup(eid);
    cJSON_Delete(reply);
    return 0;
}

int mlflow_experiment_ensure(mlflow_t *m, const char *name, char **id, mlflow_err_t *e)
{
    if (mlflow_experiment_get_by_name(m, name, id, e) < 0) return -1;
    if (*id) return 0;
    if (mlflow_experiment_create(m, name, id, e) == 0) return 0;
    /* Someone created it between our two calls: use theirs. */
    if (e && !strcmp(e->code, "RESOURCE_ALREADY_EXISTS")) {
        if (mlflow_experiment_get_by_name(m, name, id, e) < 0) return -1;
        if (*id) return 0;
    }
    return -1;
}

/* ---------------------------------------------------------------- runs ---- */

void mlflow_run_info_clear(mlflow_run_info_t *r)
{
    free(r->run_id);
    free(r->experiment_id);
    free(r->status);
    free(r->artifact_uri);
    free(r->lifecycle);
    memset(r, 0, sizeof *r);
}

static int64_t json_int64(const cJSON *j)
{
    /* MLflow's JSON carries int64 fields as numbers or as strings. */
    if (cJSON_IsNumber(j)) return (int64_t)j->valuedouble;
    if (cJSON_IsString(j)) {
        char *end;
        errno = 0;
        long long v = strtoll(j->valuestring, &end, 10);
        if (!errno && end != j->valuestring && *end == '\0') return v;
    }
    return 0;
}

int mlflow_run_info_from_json(const cJSON *run, mlflow_run_info_t *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(run, "info");
    const char *id = json_string_at(info, "run_id", NULL);
    if (!id) id = json_string_at(info, "run_uuid", NULL);
    if (!id) return -1;
    out->run_id = xstrdup(id);
    out->experiment_id = xstrdup(json_string_at(info, "experiment_id", NULL));
    out->status = xstrdup(json_string_at(info, "status", NULL));
    out->artifact_uri = xstrdup(json_string_at(info, "artifact_uri", NULL));
    out->lifecycle = xstrdup(json_string_at(info, "lifecycle_stage", NULL));
    out->start_time = json_int64(cJSON_GetObjectItemCaseSensitive(info, "start_time"));
    out->end_time = json_int64(cJSON_GetObjectItemCaseSensitive(info, "end_time"));
    return 0;
}

const char *mlflow_run_tag(const cJSON *run, const char *key)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "data"), "tags");
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const char *k = json_string_at(t, "key", NULL);
        if (k && !strcmp(k, key)) return json_string_at(t, "value", NULL);
    }
    return NULL;
}

int mlflow_run_create(mlflow_t *m, const char *experiment_id, const char *run_name, int64_t start_time_ms,
                      const mlflow_kv_t *tags, size_t n_tags, mlflow_run_info_t *out, mlflow_err_t *e)
{
    memset(out, 0, sizeof *out);
    buf_t b;
    buf_init(&b, 0);
    int w = 0;
    w |= buf_puts(&b, "{\"experiment_id\":");
    w |= buf_json_str(&b, experiment_id, strlen(experiment_id));
    if (run_name) {
        w |= buf_puts(&b, ",\"run_name\":");
        w |= buf_json_str(&b, run_name, mlflow_utf8_cut(run_name, MLFLOW_MAX_TAG_VALUE));
    }
    w |= buf_printf(&b, ",\"start_time\":%lld,\"tags\":[", (long long)start_time_ms);
    for (size_t i = 0; i < n_tags; i++) {
        char *k = mlflow_key_sanitize(tags[i].key);
        const char *v = tags[i].value ? tags[i].value : "";
        w |= buf_puts(&b, i ? ",{\"key\":" : "{\"key\":");
        w |= buf_json_str(&b, k, strlen(k));
        w |= buf_puts(&b, ",\"value\":");
        w |= buf_json_str(&b, v, mlflow_utf8_cut(v, MLFLOW_MAX_TAG_VALUE));
        w |= buf_putc(&b, '}');
        free(k);
    }
    w |= buf_puts(&b, "]}");
    cJSON *reply = NULL;
    int rc = w < 0 ? -1 : mlflow_call(m, "POST", API "/runs/create", b.data, &reply, e);
    buf_free(&b);
    if (rc < 0) return -1;
    if (mlflow_run_info_from_json(cJSON_GetObjectItemCaseSensitive(reply, "run"), out) < 0) {
        mlflow_err_set(e, 200, NULL, "%s: runs/create: answer has no run.info.run_id", m->display);
        cJSON_Delete(reply);
        return -1;
    }
    cJSON_Delete(reply);
    return 0;
}

int mlflow_run_update(mlflow_t *m, const char *run_id, const char *status, int64_t end_time_ms, mlflow_err_t *e)
{
    buf_t b;
    buf_init(&b, 0);
    int w = 0;
    w |= buf_puts(&b, "{\"run_id\":");
    w |= buf_json_str(&b, run_id, strlen(run_id));
    w |= buf_puts(&b, ",\"status\":");
    w |= buf_json_str(&b, status, strlen(status));
    if (end_time_ms > 0) w |= buf_printf(&b, ",\"end_time\":%lld", (long long)end_time_ms);
    w |= buf_putc(&b, '}');
    int rc = w < 0 ? -1 : mlflow_call(m, "POST", API "/runs/update", b.data, NULL, e);
    buf_free(&b);
    return rc;
}

int mlflow_run_get(mlflow_t *m, const char *run_id, cJSON **run, mlflow_err_t *e)
{
    *run = NULL;
    cJSON *reply = NULL;
    if (get_with_query(m, API "/runs/get?run_id=", run_id, &reply, e) < 0) return -1;
    cJSON *r = cJSON_DetachItemFromObjectCaseSensitive(reply, "run");
    cJSON_Delete(reply);
    if (!r) {
        mlflow_err_set(e, 200, NULL, "%s: runs/get %s: answer has no run", m->display, run_id);
        return -1;
    }
    *run = r;
    return 0;
}

int mlflow_runs_search(mlflow_t *m, const char *experiment_id, const char *filter, int max_results, cJSON **runs,
                       mlflow_err_t *e)
{
    *runs = NULL;
    if (max_results < 1) max_results = 1;
    if (max_results > 50000) max_results = 50000;
    cJSON *all = cJSON_CreateArray();
    char *page = NULL;
    int rc = -1;
    for (;;) {
        cJSON *req = cJSON_CreateObject();
        cJSON *ids = cJSON_AddArrayToObject(req, "experiment_ids");
        cJSON_AddItemToArray(ids, cJSON_CreateString(experiment_id));
        if (filter) cJSON_AddStringToObject(req, "filter", filter);
        cJSON_AddNumberToObject(req, "max_results", max_results - cJSON_GetArraySize(all));
        cJSON *order = cJSON_AddArrayToObject(req, "order_by");
        cJSON_AddItemToArray(order, cJSON_CreateString("attributes.start_time ASC"));
        if (page) cJSON_AddStringToObject(req, "page_token", page);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        cJSON *reply = NULL;
        int c = mlflow_call(m, "POST", API "/runs/search", body, &reply, e);
        free(body);
        if (c < 0) goto out;
        cJSON *got = cJSON_GetObjectItemCaseSensitive(reply, "runs");
        cJSON *r;
        while (got && (r = cJSON_DetachItemFromArray(got, 0)) != NULL) cJSON_AddItemToArray(all, r);
        free(page);
        page = xstrdup(json_string_at(reply, "next_page_token", NULL));
        cJSON_Delete(reply);
        if (!page || !*page || cJSON_GetArraySize(all) >= max_results) break;
    }
    *runs = all;
    all = NULL;
    rc = 0;
out:
    free(page);
    cJSON_Delete(all);
    return rc;
}

char *mlflow_filter_tag_eq(const char *key, const char *value)
{
    char q = '\'';
    if (strchr(value, '\'')) {
        if (strchr(value, '"')) return NULL;
        q = '"';
    }
    if (strchr(key, '`')) return NULL;
    return xasprintf("tags.`%s` = %c%s%c", key, q, value, q);
}

/* ---------------------------------------------------------------- log-batch ---- */

int mlflow_log_batch_body(mlflow_t *m, const char *body, mlflow_err_t *e)
{
    return mlflow_call(m, "POST", API "/runs/log-batch", body, NULL, e);
}

int mlflow_log_batch(mlflow_t *m, const char *run_id, const mlflow_batch_t *b, mlflow_err_t *e)
{
    size_t n = 0;
    char **bodies = mlflow_batch_bodies(b, run_id, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = mlflow_log_batch_body(m, bodies[i], e);
    mlflow_bodies_free(bodies, n);
    return rc;
}
