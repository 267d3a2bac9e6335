/* output: result files; see output.h. One pass over the store's outputs writes records.jsonl and
 * feeds the aggregate, so summary.json is computed from exactly the lines records.jsonl holds. */
#define LOG_MODULE "output"
#include "output.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "cache.h"
#include "buf.h"
#include "file.h"
#include "jsonprint.h"
#include "log.h"
#include "mem.h"
#include "pricing.h"

typedef struct {
    file_atomic_t *f;
    const char *job_id;
    aggregate_t *agg;
    buf_t line;
    const char *failed; /* why the pass stopped, or NULL */
    const atomic_int *abort;
} pass_t;

#define OUTPUT_MARGIN ((uint64_t)256 << 10)      /* free space asked for besides records.jsonl's estimate */
static const char INTERRUPTED[] = "interrupted"; /* pass_t.failed, compared by address */

static int put_str(buf_t *b, const char *key, const char *v)
{
    int rc = buf_printf(b, "\"%s\":", key);
    if (v) rc |= buf_json_str(b, v, strlen(v));
    else rc |= buf_puts(b, "null");
    return rc;
}

/* A number that reads back as exactly v (jsonprint_double); null for NaN and infinities, which
 * JSON cannot carry (a latency or score never is one, but a line must stay JSON). */
static int put_num(buf_t *b, double v) { return isfinite(v) ? jsonprint_double(b, v) : buf_puts(b, "null"); }

int output_record_line(buf_t *b, const char *job_id, const record_t *rec, const result_t *res)
{
    int rc = buf_putc(b, '{');
    rc |= put_str(b, "job_id", job_id);
    rc |= buf_printf(b, ",\"record_index\":%llu,", (unsigned long long)rec->index);
    if (rec->id) rc |= put_str(b, "record_id", rec->id);
    else rc |= buf_printf(b, "\"record_id\":\"%llu\"", (unsigned long long)rec->index);
    rc |= buf_putc(b, ',');
    rc |= put_str(b, "target", target_name(res->target));
    rc |= buf_putc(b, ',');
    rc |= put_str(b, "model", res->model);
    rc |= buf_putc(b, ',');
    rc |= put_str(b, "prompt", rec->prompt);
    rc |= buf_putc(b, ',');
    rc |= put_str(b, "response", res->response);
    rc |= buf_printf(b, ",\"response_from_dataset\":%s,", res->response_from_dataset ? "true" : "false");
    if (res->origin != RESPONSE_CALLED)
        rc |= buf_printf(b, "\"response_origin\":\"%s\",", res->origin == RESPONSE_CACHED ? "cache" : "reused");
    rc |= put_str(b, "category", rec->category);
    rc |= buf_putc(b, ',');
    rc |= put_str(b, "reference", rec->reference);
    rc |= buf_puts(b, ",\"scores\":{");
    uint64_t jin = 0, jout = 0;
    for (size_t i = 0; i < res->n_scores; i++) {
        const score_t *s = &res->scores[i];
        if (i) rc |= buf_putc(b, ',');
        rc |= buf_json_str(b, s->metric, strlen(s->metric));
        rc |= buf_puts(b, ":{\"score\":");
        if (s->has_score) rc |= put_num(b, s->score);
        else rc |= buf_puts(b, "null");
        rc |= buf_puts(b, ",\"normalized\":");
        if (s->has_score) rc |= put_num(b, s->normalized);
        else rc |= buf_puts(b, "null");
        rc |= buf_putc(b, ',');
        rc |= put_str(b, "rating", s->rating);
        rc |= buf_putc(b, ',');
        rc |= put_str(b, "explanation", s->explanation);
        rc |= buf_putc(b, ',');
        rc |= put_str(b, "status", score_status_name(s->status));
        if (s->error) {
            rc |= buf_putc(b, ',');
            rc |= put_str(b, "error", s->error);
        }
        if (s->cached) rc |= buf_puts(b, ",\"cached\":true");
        rc |= buf_printf(b, ",\"judge_calls\":%u}", s->attempts);
        jin += s->usage.input_tokens;
        jout += s->usage.output_tokens;
    }
    rc |= buf_printf(b,
                     "},\"usage\":{\"input_tokens\":%llu,\"output_tokens\":%llu,\"judge_input_tokens\":%llu,"
                     "\"judge_output_tokens\":%llu},\"latency_ms\":",
                     (unsigned long long)res->usage.input_tokens, (unsigned long long)res->usage.output_tokens,
                     (unsigned long long)jin, (unsigned long long)jout);
    rc |= put_num(b, res->latency_ms);
    rc |= buf_putc(b, ',');
    rc |= put_str(b, "error", res->error);
    rc |= buf_puts(b, "}\n");
    return rc ? -1 : 0;
}

static int write_line(const record_t *rec, const result_t *res, void *arg)
{
    pass_t *p = arg;
    if (p->abort && atomic_load(p->abort)) {
        p->failed = INTERRUPTED;
        return -1;
    }
    buf_reset(&p->line);
    for (size_t i = 0; i < res->n_scores; i++)
        aggregate_add(p->agg, rec->index, res->target, rec->category, &res->scores[i]);
    if (output_record_line(&p->line, p->job_id, rec, res) < 0) {
        p->failed = "a records.jsonl line is larger than a line may be";
        return -1;
    }
    if (file_atomic_write(p->f, p->line.data, p->line.len) < 0) {
        p->failed = "write"; /* the commit says why */
        return -1;
    }
    return 0;
}

/* Numbers as jsonprint writes them, so every reader gets back the doubles the summary holds. */
static int write_json_file(const char *dir, const char *name, const cJSON *j, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *txt = jsonprint(j, true);
    size_t n = strlen(txt);
    txt[n] = '\n'; /* the terminator becomes the final newline; the length says where it ends */
    int rc = file_write_atomic(path, txt, n + 1, err, errlen);
    free(txt);
    free(path);
    return rc;
}

typedef struct {
    cJSON *models;
    const char *judge;
    double cost;
    bool cost_known;
} usage_acc_t;

static void add_usage(const char *model, bool judge, uint64_t in, uint64_t out, uint64_t calls, void *arg)
{
    usage_acc_t *u = arg;
    const char *name = judge ? u->judge : model;
    if (!name) return;
    cJSON *m = cJSON_GetObjectItemCaseSensitive(u->models, name);
    if (!m) {
        m = cJSON_AddObjectToObject(u->models, name);
        cJSON_AddNumberToObject(m, "input_tokens", 0);
        cJSON_AddNumberToObject(m, "output_tokens", 0);
        cJSON_AddNumberToObject(m, "calls", 0);
    }
    cJSON *a = cJSON_GetObjectItem(m, "input_tokens"), *b = cJSON_GetObjectItem(m, "output_tokens"),
          *c = cJSON_GetObjectItem(m, "calls");
    cJSON_SetNumberValue(a, a->valuedouble + (double)in);
    cJSON_SetNumberValue(b, b->valuedouble + (double)out);
    cJSON_SetNumberValue(c, c->valuedouble + (double)calls);
    double pin, pout;
    if (pricing_lookup(name, &pin, &pout) == 0) {
        double cost = ((double)in * pin + (double)out * pout) / 1e6;
        u->cost += cost;
        cJSON *ec = cJSON_GetObjectItem(m, "estimated_cost_usd");
        if (ec) cJSON_SetNumberValue(ec, ec->valuedouble + cost);
        else cJSON_AddNumberToObject(m, "estimated_cost_usd", cost);
    } else {
        u->cost_known = false;
    }
}

static char *iso_time(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(b);
}

/* records.jsonl, feeding the aggregate on the way. 0, or -1 with err, OUTPUT_INTERRUPTED. */
static int write_records(store_t *st, const char *out_dir, pass_t *p, char *err, size_t errlen)
{
    char *path = xasprintf("%s/records.jsonl", out_dir);
    p->f = file_atomic_open(path, err, errlen);
    int rc = -1;
    if (!p->f) {
        /* err says why */
    } else if (store_outputs_each(st, p->job_id, write_line, p) < 0 && !p->failed) {
        snprintf(err, errlen, "%s: reading the results: %s", path, store_errmsg(st));
        file_atomic_abort(&p->f);
    } else if (p->failed && strcmp(p->failed, "write") != 0) {
        snprintf(err, errlen, "%s: %s", path, p->failed);
        file_atomic_abort(&p->f);
        if (p->failed == INTERRUPTED) rc = OUTPUT_INTERRUPTED;
    } else {
        rc = file_atomic_commit(&p->f, err, errlen); /* reports a failed write too */
    }
    free(path);
    return rc;
}

static cJSON *job_object(store_t *st, const output_info_t *ci)
{
    const spec_t *sp = ci->spec;
    cJSON *job = cJSON_CreateObject();
    cJSON_AddStringToObject(job, "job_id", ci->job_id);
    cJSON_AddStringToObject(job, "llmaj_version", LLMAJ_VERSION);
    cJSON_AddStringToObject(job, "status", sched_job_state_name(ci->state));
    if (ci->error) cJSON_AddStringToObject(job, "error", ci->error);
    cJSON_AddItemToObject(job, "spec", cJSON_Parse(ci->spec_json));
    char *t0 = iso_time(ci->started_at), *t1 = iso_time(ci->finished_at);
    cJSON_AddStringToObject(job, "started_at", t0);
    cJSON_AddStringToObject(job, "finished_at", t1);
    free(t0);
    free(t1);
    cJSON_AddNumberToObject(job, "elapsed_s", ci->elapsed_s);
    cJSON *recs = cJSON_AddObjectToObject(job, "records");
    cJSON_AddNumberToObject(recs, "total", (double)(ci->records + ci->invalid));
    cJSON_AddNumberToObject(recs, "evaluated", (double)ci->records);
    cJSON_AddNumberToObject(recs, "invalid_skipped", (double)ci->invalid);
    cJSON_AddNumberToObject(recs, "per_second", ci->elapsed_s > 0 ? ci->records / ci->elapsed_s : 0);
    cJSON_AddNumberToObject(job, "shards", (double)ci->shards);
    cJSON_AddNumberToObject(job, "workers_seen", ci->workers);
    usage_acc_t u = {.models = cJSON_CreateObject(), .judge = sp->evaluator_model, .cost_known = true};
    if (store_usage(st, ci->job_id, add_usage, &u) < 0)
        log_warn("job %s: token usage unavailable: %s", ci->job_id, store_errmsg(st));
    cJSON_AddItemToObject(job, "usage", u.models);
    if (u.cost_known) cJSON_AddNumberToObject(job, "estimated_cost_usd", u.cost);
    else cJSON_AddNullToObject(job, "estimated_cost_usd");
    return job;
}

/* Temporaries a killed writer left, then room for the files. 0, or -1 with err. */
static int prepare_dir(store_t *st, const output_info_t *ci, char *err, size_t errlen)
{
    static const char *const names[] = {"records.jsonl", "summary.json", "job.json"};
    size_t swept = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = xasprintf("%s/%s", ci->out_dir, names[i]);
        swept += file_atomic_sweep(path);
        free(path);
    }
    if (swept)
        log_info("job %s: %zu temporary file(s) left by an earlier writer removed from %s", ci->job_id, swept,
                 ci->out_dir);
    uint64_t need = 0, avail = 0;
    if (store_outputs_bytes(st, ci->job_id, &need) < 0) {
        log_warn("job %s: cannot estimate the size of records.jsonl (%s): writing without the free-space check",
                 ci->job_id, store_errmsg(st));
        return 0;
    }
    need += OUTPUT_MARGIN;
    if (file_free_space(ci->out_dir, &avail, err, errlen) < 0) return -1;
    if (avail < need) {
        snprintf(err, errlen,
                 "not enough free space in %s: the result files need at least %llu bytes, %llu are free (every "
                 "result is kept in the job database: free space, then resume the job to write them)",
                 ci->out_dir, (unsigned long long)need, (unsigned long long)avail);
        return -1;
    }
    return 0;
}

int output_write(store_t *st, const output_info_t *ci, cJSON **summary, cJSON **job, char *err, size_t errlen)
{
    *summary = *job = NULL;
    if (file_mkdirs(ci->out_dir, 0755, err, errlen) < 0) return -1;
    if (prepare_dir(st, ci, err, errlen) < 0) return -1;
    const spec_t *sp = ci->spec;
    pass_t p = {.job_id = ci->job_id, .abort = ci->abort};
    p.agg = aggregate_new(ci->job_id, sp->metrics, sp->n_metrics, sp->model ? sp->model : "dataset",
                          sp->evaluate_base_model ? sp->base_model : NULL);
    if (!p.agg) {
        snprintf(err, errlen, "job %s: cannot aggregate its metrics (see the log)", ci->job_id);
        return -1;
    }
    buf_init(&p.line, 0);
    int rc = write_records(st, ci->out_dir, &p, err, errlen);
    buf_free(&p.line);
    if (rc < 0) {
        aggregate_destroy(&p.agg);
        return rc;
    }
    aggregate_set_counts(p.agg, ci->records + ci->invalid, ci->invalid);
    cJSON *sum = aggregate_summary(p.agg);
    /* How complete it is: a stopped job's summary covers what was committed, and says so. */
    cJSON_AddStringToObject(sum, "status", sched_job_state_name(ci->state));
    cJSON_AddBoolToObject(sum, "partial", ci->partial);
    cache_summary_add(st, ci->job_id, sp, sum); /* reused responses and cache hits, when asked for */
    aggregate_destroy(&p.agg);
    cJSON *jo = job_object(st, ci);
    if (ci->abort && atomic_load(ci->abort)) {
        snprintf(err, errlen, "%s: interrupted after records.jsonl", ci->out_dir);
        cJSON_Delete(sum);
        cJSON_Delete(jo);
        return OUTPUT_INTERRUPTED;
    }
    if (write_json_file(ci->out_dir, "summary.json", sum, err, errlen) < 0 ||
        write_json_file(ci->out_dir, "job.json", jo, err, errlen) < 0) {
        cJSON_Delete(sum);
        cJSON_Delete(jo);
        return -1;
    }
    *summary = sum;
    *job = jo;
    return 0;
}
