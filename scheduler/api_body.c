/* api_body: the REST bodies the control plane answers with (api.h; schemas/openapi.yaml): a
 * job, the error list, and the checks on a request body that come before parsing it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "buf.h"
#include "mem.h"

/* An ISO 8601 UTC time, or null for 0. */
static void add_time(cJSON *o, const char *key, int64_t t)
{
    if (t <= 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, key, buf);
}

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v) cJSON_AddStringToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void add_u64(cJSON *o, const char *key, uint64_t v) { cJSON_AddNumberToObject(o, key, (double)v); }

cJSON *api_job_json(const sched_status_t *s)
{
    const sched_job_t *j = &s->job;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", j->job_id);
    add_str(o, "name", j->name);
    cJSON_AddStringToObject(o, "status", sched_job_state_name(j->state));
    add_time(o, "created_at", j->created_at);
    add_time(o, "started_at", j->started_at);
    add_time(o, "ended_at", sched_job_state_ended(j->state) ? j->finished_at : 0);
    add_str(o, "model", j->model);
    add_str(o, "base_model", j->base_model);
    add_str(o, "evaluator_model", j->evaluator_model);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    add_u64(p, "units_done", s->units_done);
    add_u64(p, "units_total", s->units_total);
    add_u64(p, "records_total", j->records_total);
    add_u64(p, "records_valid", s->records_valid);
    add_u64(p, "records_done", s->records_done);
    add_u64(p, "unit_errors", s->unit_errors);
    cJSON *sc = cJSON_AddObjectToObject(p, "scores");
    add_u64(sc, "ok", s->scores[SCORE_OK]);
    add_u64(sc, "unscored", s->scores[SCORE_UNSCORED]);
    add_u64(sc, "not_applicable", s->scores[SCORE_NOT_APPLICABLE]);
    add_u64(sc, "error", s->scores[SCORE_ERROR]);
    cJSON *sh = cJSON_AddObjectToObject(p, "shards");
    add_u64(sh, "total", s->shards_total);
    add_u64(sh, "done", s->shards_done);
    add_u64(sh, "in_flight", s->shards_inflight);
    add_u64(sh, "pending", s->shards_pending);
    add_u64(sh, "dispatches", s->dispatches);
    add_u64(sh, "deliveries", s->deliveries);
    cJSON *steps = cJSON_AddArrayToObject(o, "steps");
    for (int i = 0; i < SCHED_N_STEPS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", s->steps[i].name ? s->steps[i].name : "");
        cJSON_AddStringToObject(e, "status", s->steps[i].status ? s->steps[i].status : "pending");
        cJSON_AddStringToObject(e, "detail", s->steps[i].detail ? s->steps[i].detail : "");
        cJSON_AddItemToArray(steps, e);
    }
    add_str(o, "output", s->output_dir);
    cJSON_AddBoolToObject(o, "output_written", s->output_written);
    add_str(o, "error", j->error);
    add_str(o, "failure", j->failure);
    add_str(o, "note", s->note);
    cJSON_AddBoolToObject(o, "partial", s->partial);
    if (j->elapsed_s >= 0) cJSON_AddNumberToObject(o, "elapsed_s", j->elapsed_s);
    else cJSON_AddNullToObject(o, "elapsed_s");
    if (s->cache) cJSON_AddItemToObject(o, "cache", cJSON_Duplicate(s->cache, 1));
    cJSON_AddItemToObject(o, "mlflow", s->mlflow ? cJSON_Duplicate(s->mlflow, 1) : cJSON_CreateObject());
    return o;
}

void api_split_message(const char *msg, char **key, const char **rest)
{
    *key = NULL;
    *rest = msg;
    const char *sep = strstr(msg, ": ");
    if (!sep || sep == msg || (size_t)(sep - msg) > 256) return;
    for (const char *c = msg; c < sep; c++)
        if (*c == ' ' || *c == '\t') return;
    *key = xstrndup(msg, (size_t)(sep - msg));
    *rest = sep + 2;
}

static void add_error(cJSON *a, const char *key, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "key", key ? key : "");
    cJSON_AddStringToObject(e, "message", message ? message : "");
    cJSON_AddItemToArray(a, e);
}

static char *print(cJSON *o)
{
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt ? txt : xstrdup("{\"errors\":[{\"key\":\"\",\"message\":\"out of memory\"}]}");
}

char *api_errors_json(const errlist_t *errs, const char *key)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "errors");
    for (size_t i = 0; i < errs->n_kept; i++) {
        char *k = NULL;
        const char *rest;
        api_split_message(errs->msgs[i], &k, &rest);
        add_error(a, k ? k : key, rest);
        free(k);
    }
    if (errs->count > errs->n_kept) {
        char more[96];
        snprintf(more, sizeof more, "... and %zu more problem(s)", errs->count - errs->n_kept);
        add_error(a, key, more);
    }
    if (errs->n_kept == 0) add_error(a, key, "unknown error");
    return print(o);
}

char *api_error_json(const char *key, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    add_error(cJSON_AddArrayToObject(o, "errors"), key, message);
    return print(o);
}

bool api_json_too_deep(const char *text, size_t len, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max) return true;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return false;
}
