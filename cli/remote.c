/* remote: the CLI's job verbs over the scheduler service's REST API; see remote.h. */
#include "remote.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "restc.h"

struct remote {
    restc_t *c;
    bool unavailable; /* the last request got no answer, or 502/503/504: the service may be restarting */
};

const char *remote_url(const char *flag)
{
    if (flag && *flag) return flag;
    const char *env = getenv(REMOTE_ENV);
    return env && *env ? env : NULL;
}

const char *remote_take_flag(int *argc, char **argv)
{
    const char *url = NULL;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--scheduler") && i + 1 < *argc) {
            url = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "--scheduler=", 12)) {
            url = argv[i] + 12;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
    return url;
}

remote_t *remote_open(const char *url, char *err, size_t errlen)
{
    restc_t *c = restc_new(url, getenv(REMOTE_TOKEN_ENV), err, errlen);
    if (!c) return NULL;
    remote_t *r = xcalloc(1, sizeof *r);
    r->c = c;
    return r;
}

void remote_close(remote_t **self_p)
{
    if (!self_p || !*self_p) return;
    restc_destroy(&(*self_p)->c);
    free(*self_p);
    *self_p = NULL;
}

const char *remote_where(const remote_t *r) { return restc_url(r->c); }

bool remote_unavailable(const remote_t *r) { return r->unavailable; }

/* ------------------------------------------------------------------ requests ---- */

static sched_err_t err_of(long status)
{
    if (status == 400 || status == 401 || status == 403 || status == 413 || status == 415) return SCHED_E_INPUT;
    if (status == 404) return SCHED_E_NOTFOUND;
    if (status == 409) return SCHED_E_STATE;
    return SCHED_E_INTERNAL;
}

/* The service's error list into errs ("key: message"), or a line saying what came back. */
static void add_errors(remote_t *r, long status, const char *answer, errlist_t *errs)
{
    cJSON *o = cJSON_Parse(answer);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "errors");
    const cJSON *e;
    size_t n = 0;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "key"),
                    *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        const char *ks = cJSON_IsString(k) ? k->valuestring : "", *ms = cJSON_IsString(m) ? m->valuestring : "?";
        if (*ks) errlist_add(errs, "%s: %s", ks, ms);
        else errlist_add(errs, "%s", ms);
        n++;
    }
    if (status == 401)
        errlist_add(errs, "the service at %s needs a valid token: set %s", restc_url(r->c), REMOTE_TOKEN_ENV);
    else if (!n) errlist_add(errs, "the service at %s answered HTTP %ld", restc_url(r->c), status);
    cJSON_Delete(o);
}

/* One request: SCHED_OK with the answer parsed into *out (may be NULL), or an error in errs. */
static sched_err_t call(remote_t *r, const char *method, const char *path, const char *body, long want, cJSON **out,
                        errlist_t *errs)
{
    if (out) *out = NULL;
    long status = 0;
    char *answer = NULL;
    char err[1024];
    r->unavailable = false;
    if (restc_call(r->c, method, path, body, &status, &answer, err, sizeof err) < 0) {
        errlist_add(errs, "%s", err);
        r->unavailable = true;
        return SCHED_E_INTERNAL;
    }
    if (status == 502 || status == 503 || status == 504) r->unavailable = true; /* a proxy, or shutting down */
    sched_err_t rc = SCHED_OK;
    if (status != want) {
        add_errors(r, status, answer, errs);
        rc = err_of(status);
    } else if (out && !(*out = cJSON_Parse(answer))) {
        errlist_add(errs, "%s %s: the service's answer is not JSON", method, path);
        rc = SCHED_E_INTERNAL;
    }
    free(answer);
    return rc;
}

/* "/v1/jobs/<id><suffix>" with the id escaped. Caller frees. */
static char *job_path(const char *job_id, const char *suffix)
{
    char *esc = curl_easy_escape(NULL, job_id, 0);
    char *p = xasprintf("/v1/jobs/%s%s", esc ? esc : "", suffix);
    curl_free(esc);
    return p;
}

/* ------------------------------------------------------------------ JSON to structs ---- */

int remote_state_parse(const char *name)
{
    for (int i = 0; i < 6; i++)
        if (name && !strcmp(name, sched_job_state_name((sched_job_state_t)i))) return i;
    return -1;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dup(const cJSON *o, const char *k) { return xstrdup(str(o, k)); }

static uint64_t u64(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" to Unix seconds; 0 for null or anything else. */
static int64_t when(const cJSON *o, const char *k)
{
    const char *s = str(o, k);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
    return (int64_t)timegm(&tm);
}

/* The static name among `names` that equals s (sched_status_t keeps static step names). */
static const char *intern(const char *s, const char *const *names, size_t n, const char *def)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return names[i];
    return def;
}

int remote_status_of(const cJSON *job, sched_status_t *st)
{
    static const char *const step_names[] = {"validate", "infer+judge", "collect", "mlflow"};
    static const char *const step_states[] = {"pending", "running", "succeeded", "failed",
                                              "stopped", "skipped", "stopping"};
    memset(st, 0, sizeof *st);
    int state = remote_state_parse(str(job, "status"));
    if (!cJSON_IsObject(job) || !str(job, "job_id") || state < 0) return -1;
    sched_job_t *j = &st->job;
    j->job_id = dup(job, "job_id");
    j->name = dup(job, "name");
    j->state = (sched_job_state_t)state;
    j->error = dup(job, "error");
    j->failure = dup(job, "failure");
    j->model = dup(job, "model");
    j->base_model = dup(job, "base_model");
    j->evaluator_model = dup(job, "evaluator_model");
    j->created_at = when(job, "created_at");
    j->started_at = when(job, "started_at");
    j->finished_at = when(job, "ended_at");
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(job, "elapsed_s");
    j->elapsed_s = cJSON_IsNumber(el) ? el->valuedouble : -1;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(job, "progress");
    j->records_total = u64(p, "records_total");
    st->records_valid = u64(p, "records_valid");
    j->records_invalid = j->records_total > st->records_valid ? j->records_total - st->records_valid : 0;
    j->out_dir = dup(job, "output");
    st->targets = str(job, "base_model") ? 2 : 1;
    st->records_done = u64(p, "records_done");
    st->units_total = u64(p, "units_total");
    st->units_done = u64(p, "units_done");
    st->unit_errors = u64(p, "unit_errors");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(p, "shards");
    st->shards_total = u64(sh, "total");
    st->shards_done = u64(sh, "done");
    st->shards_inflight = u64(sh, "in_flight");
    st->shards_pending = u64(sh, "pending");
    st->dispatches = u64(sh, "dispatches");
    st->deliveries = u64(sh, "deliveries");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(p, "scores");
    st->scores[SCORE_OK] = u64(sc, "ok");
    st->scores[SCORE_UNSCORED] = u64(sc, "unscored");
    st->scores[SCORE_NOT_APPLICABLE] = u64(sc, "not_applicable");
    st->scores[SCORE_ERROR] = u64(sc, "error");
    st->error_cells = st->scores[SCORE_ERROR];
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(job, "steps");
    for (int i = 0; i < SCHED_N_STEPS; i++) {
        const cJSON *s = cJSON_GetArrayItem(steps, i);
        st->steps[i].name = intern(str(s, "name"), step_names, 4, step_names[i]);
        st->steps[i].status = intern(str(s, "status"), step_states, 7, "pending");
        st->steps[i].detail = xstrdup(str(s, "detail") ? str(s, "detail") : "");
    }
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(job, "mlflow");
    st->mlflow = cJSON_IsObject(ml) ? cJSON_Duplicate(ml, 1) : cJSON_CreateObject();
    st->output_dir = xstrdup(str(job, "output") ? str(job, "output") : "");
    st->output_written = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "output_written"));
    st->output_exists = st->output_written;
    st->note = dup(job, "note");
    st->partial = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "partial"));
    const cJSON *cache = cJSON_GetObjectItemCaseSensitive(job, "cache");
    st->cache = cJSON_IsObject(cache) ? cJSON_Duplicate(cache, 1) : NULL;
    return 0;
}

int remote_row_of(const cJSON *row, record_t *rec, result_t *res)
{
    memset(rec, 0, sizeof *rec);
    memset(res, 0, sizeof *res);
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(row, "record_index");
    target_t t;
    if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || !str(row, "target") || target_parse(str(row, "target"), &t) < 0)
        return -1;
    rec->index = res->record_index = (uint64_t)idx->valuedouble;
    rec->id = dup(row, "record_id");
    rec->prompt = xstrdup(str(row, "prompt") ? str(row, "prompt") : "");
    rec->reference = dup(row, "reference");
    rec->category = dup(row, "category");
    res->job_id = dup(row, "job_id");
    res->target = t;
    res->model = dup(row, "model");
    res->response = dup(row, "response");
    res->response_from_dataset = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "response_from_dataset"));
    res->error = dup(row, "error");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(row, "usage");
    res->usage.input_tokens = u64(u, "input_tokens");
    res->usage.output_tokens = u64(u, "output_tokens");
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(row, "latency_ms");
    res->latency_ms = cJSON_IsNumber(lat) ? lat->valuedouble : 0;
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(row, "scores");
    for (const cJSON *m = cJSON_IsObject(scores) ? scores->child : NULL; m; m = m->next) {
        score_t *s = result_add_score(res);
        s->metric = xstrdup(m->string);
        score_status_t status = SCORE_ERROR;
        if (str(m, "status") && score_status_parse(str(m, "status"), &status) == 0) s->status = status;
        else s->status = SCORE_ERROR;
        s->rating = dup(m, "rating");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "score"),
                    *nv = cJSON_GetObjectItemCaseSensitive(m, "normalized");
        s->has_score = cJSON_IsNumber(v);
        s->score = s->has_score ? v->valuedouble : 0;
        s->normalized = cJSON_IsNumber(nv) ? nv->valuedouble : 0;
        s->explanation = dup(m, "explanation");
        s->error = dup(m, "error");
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "judge_calls");
        s->attempts = cJSON_IsNumber(calls) && calls->valuedouble >= 0 ? (uint32_t)calls->valuedouble : 0;
    }
    /* A row keeps the judge's tokens summed over its metrics: they go on its first score, so that
     * the row prints back (sched_result_line) as it came. */
    if (res->n_scores) {
        res->scores[0].usage.input_tokens = u64(u, "judge_input_tokens");
        res->scores[0].usage.output_tokens = u64(u, "judge_output_tokens");
    }
    return 0;
}

/* ------------------------------------------------------------------ the verbs ---- */

sched_err_t remote_jobs_list(remote_t *r, sched_job_cb cb, void *arg, errlist_t *errs)
{
    cJSON *o = NULL;
    sched_err_t rc = call(r, "GET", "/v1/jobs", NULL, 200, &o, errs);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(o, "jobs"), *j;
    cJSON_ArrayForEach(j, jobs)
    {
        if (rc != SCHED_OK) break;
        sched_status_t st;
        if (remote_status_of(j, &st) < 0) continue;
        if (cb(&st.job, arg) != 0) rc = SCHED_E_IO;
        sched_status_clear(&st);
    }
    cJSON_Delete(o);
    return rc;
}

sched_err_t remote_resolve(remote_t *r, const char *ref, char **job_id, errlist_t *errs)
{
    *job_id = NULL;
    if (!ref || !*ref) {
        errlist_add(errs, "a job id is required");
        return SCHED_E_INPUT;
    }
    char *path = job_path(ref, "");
    errlist_t quiet;
    errlist_init(&quiet, 4);
    sched_err_t rc = call(r, "GET", path, NULL, 200, NULL, &quiet);
    free(path);
    if (rc == SCHED_OK || rc != SCHED_E_NOTFOUND) {
        if (rc == SCHED_OK) *job_id = xstrdup(ref);
        else
            for (size_t i = 0; i < quiet.n_kept; i++) errlist_add(errs, "%s", quiet.msgs[i]);
        errlist_free(&quiet);
        return rc;
    }
    errlist_free(&quiet);
    /* Not an id: the beginning of one? */
    cJSON *o = NULL;
    if ((rc = call(r, "GET", "/v1/jobs", NULL, 200, &o, errs)) != SCHED_OK) return rc;
    const cJSON *j;
    size_t n = 0, len = strlen(ref);
    const char *found = NULL;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(o, "jobs"))
    {
        const char *id = str(j, "job_id");
        if (id && !strncmp(id, ref, len)) {
            if (!found) found = id;
            n++;
        }
    }
    if (n == 1) *job_id = xstrdup(found);
    else if (n == 0) errlist_add(errs, "no job '%s' at %s (a job id, or the beginning of one)", ref, restc_url(r->c));
    else errlist_add(errs, "'%s' is the beginning of %zu job ids at %s: give more of the id", ref, n, restc_url(r->c));
    cJSON_Delete(o);
    return n == 1 ? SCHED_OK : n == 0 ? SCHED_E_NOTFOUND : SCHED_E_INPUT;
}

sched_err_t remote_job_status(remote_t *r, const char *job_id, sched_status_t *out, errlist_t *errs)
{
    memset(out, 0, sizeof *out);
    char *path = job_path(job_id, "");
    cJSON *o = NULL;
    sched_err_t rc = call(r, "GET", path, NULL, 200, &o, errs);
    free(path);
    if (rc == SCHED_OK && remote_status_of(o, out) < 0) {
        errlist_add(errs, "the service's answer for job %s is not a job", job_id);
        rc = SCHED_E_INTERNAL;
    }
    cJSON_Delete(o);
    return rc;
}

sched_err_t remote_job_results(remote_t *r, const char *job_id, uint64_t offset, uint64_t limit,
                               const sched_rows_t *cbs, sched_page_t *page, errlist_t *errs)
{
    sched_status_t st;
    sched_err_t rc = remote_job_status(r, job_id, &st, errs);
    if (rc != SCHED_OK) return rc;
    sched_page_t pg = {.state = st.job.state};
    sched_status_clear(&st);
    /* The service answers pages of at most 1,000 rows (and fewer when they are large): ask on
     * until `limit` rows came or there are no more. */
    bool headed = false;
    uint64_t got = 0;
    while (rc == SCHED_OK) {
        uint64_t want = limit - got > 1000 ? 1000 : limit - got;
        char *base = job_path(job_id, "/results");
        char *path = xasprintf("%s?offset=%llu&limit=%llu", base, (unsigned long long)(offset + got),
                               (unsigned long long)(want ? want : 1));
        free(base);
        cJSON *o = NULL;
        rc = call(r, "GET", path, NULL, 200, &o, errs);
        free(path);
        if (rc != SCHED_OK) break;
        const cJSON *total = cJSON_GetObjectItemCaseSensitive(o, "total"),
                    *rows = cJSON_GetObjectItemCaseSensitive(o, "records");
        pg.total = cJSON_IsNumber(total) ? (uint64_t)total->valuedouble : 0;
        if (!headed) {
            headed = true;
            if (page) *page = pg;
            if (cbs && cbs->head) cbs->head(&pg, cbs->arg);
        }
        size_t n = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, rows)
        {
            record_t rec;
            result_t res;
            if (remote_row_of(row, &rec, &res) == 0) {
                int stop = cbs && cbs->row ? cbs->row(&rec, &res, cbs->arg) : 0;
                record_clear(&rec);
                result_clear(&res);
                if (stop) {
                    rc = SCHED_E_IO;
                    break;
                }
            }
            n++;
        }
        cJSON_Delete(o);
        got += n;
        if (n == 0 || got >= limit || offset + got >= pg.total) break;
    }
    return rc;
}

sched_err_t remote_job_summary(remote_t *r, const char *job_id, cJSON **summary, errlist_t *errs)
{
    char *path = job_path(job_id, "/summary");
    sched_err_t rc = call(r, "GET", path, NULL, 200, summary, errs);
    free(path);
    return rc;
}

sched_err_t remote_submit(remote_t *r, const char *spec_json, char *job_id, errlist_t *errs)
{
    job_id[0] = '\0';
    cJSON *o = NULL;
    sched_err_t rc = call(r, "POST", "/v1/jobs", spec_json, 201, &o, errs);
    if (rc == SCHED_OK) {
        const char *id = str(o, "job_id");
        if (id && strlen(id) < SCHED_JOB_ID_MAX) snprintf(job_id, SCHED_JOB_ID_MAX, "%s", id);
        else {
            errlist_add(errs, "the service accepted the job but named no job id");
            rc = SCHED_E_INTERNAL;
        }
    }
    cJSON_Delete(o);
    return rc;
}

sched_err_t remote_stop(remote_t *r, const char *job_id, errlist_t *errs)
{
    char *path = job_path(job_id, "/stop");
    sched_err_t rc = call(r, "POST", path, NULL, 202, NULL, errs);
    free(path);
    return rc;
}

sched_err_t remote_retry(remote_t *r, const char *job_id, bool unscored, uint64_t *cells, errlist_t *errs)
{
    char *path = job_path(job_id, unscored ? "/retry?unscored=true" : "/retry");
    cJSON *o = NULL;
    sched_err_t rc = call(r, "POST", path, NULL, 202, &o, errs);
    free(path);
    if (cells) *cells = rc == SCHED_OK ? u64(o, "cells") : 0;
    cJSON_Delete(o);
    return rc;
}
