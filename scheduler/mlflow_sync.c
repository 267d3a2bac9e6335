/* mlflow_sync: exactly-once, resumable sync of a job's results to MLflow; see mlflow_sync.h. */
#include "mlflow_sync.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LOG_MODULE "mlflow_sync"
#include "backoff.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "mlflow.h"
#include "sigv4.h"
#include "webreport.h"

#define SUMMARY_MAX (256u << 20) /* summary.json / job.json larger than this are not JSON we wrote */

/* Roles of the runs of a job: the parent and one child per target. */
enum { ROLE_PARENT = 0, ROLE_CUSTOM = 1, ROLE_BASE = 2, N_ROLES = 3 };
static const char *const role_names[N_ROLES] = {"parent", "custom", "base"};

/* One process-wide lock: two threads syncing the same job could both find no run and both create
 * one. Syncs are rare and short, so serialising them all costs nothing that matters. */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ state table ---- */

int mlflow_sync_init(sqlite3 *db, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS mlflow_sync("
                     " job_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                     " updated_at INTEGER NOT NULL, PRIMARY KEY (job_id, key)) WITHOUT ROWID",
                     NULL, NULL, &msg) != SQLITE_OK) {
        fail(err, errlen, "mlflow_sync table: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The value of key for job, or NULL (caller owns). */
static char *st_get(sqlite3 *db, const char *job, const char *key)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM mlflow_sync WHERE job_id = ?1 AND key = ?2", -1, &st, NULL) !=
        SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) v = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

static int st_set(sqlite3 *db, const char *job, const char *key, const char *value, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO mlflow_sync(job_id, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT(job_id, key) DO UPDATE SET value = excluded.value,"
                           " updated_at = excluded.updated_at",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_ms());
        if (sqlite3_step(st) == SQLITE_DONE) rc = 0;
    }
    if (rc < 0) fail(err, errlen, "mlflow_sync state of job %s (%s): %s", job, key, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static void st_del(sqlite3 *db, const char *job, const char *key)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM mlflow_sync WHERE job_id = ?1 AND key = ?2", -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) log_warn("mlflow_sync: cannot delete %s of job %s: %s", key, job, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static bool st_is(sqlite3 *db, const char *job, const char *key, const char *value)
{
    char *v = st_get(db, job, key);
    bool eq = v && !strcmp(v, value);
    free(v);
    return eq;
}

/* ------------------------------------------------------------------ files ---- */

/* Parses a JSON file of job_dir; *out = NULL (and 0) when the file does not exist. */
static int read_json(const char *dir, const char *name, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        free(path);
        if (e == ENOENT) return 0;
        fail(err, errlen, "cannot read %s/%s: %s", dir, name, strerror(e));
        return -1;
    }
    buf_t b;
    buf_init(&b, SUMMARY_MAX);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n) < 0) { rc = -1; break; }
    if (ferror(f)) rc = -1;
    fclose(f);
    if (rc < 0) fail(err, errlen, "cannot read %s (unreadable or larger than %u MB)", path, SUMMARY_MAX >> 20);
    else if (!(*out = cJSON_ParseWithLength(b.data ? b.data : "", b.len))) {
        fail(err, errlen, "%s is not valid JSON (near byte %ld)", path,
             cJSON_GetErrorPtr() && b.data ? (long)(cJSON_GetErrorPtr() - b.data) : 0L);
        rc = -1;
    }
    buf_free(&b);
    free(path);
    return rc;
}

static bool file_exists(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

/* "2025-01-02T03:04:05Z" (optionally with fractional seconds) -> ms since the epoch; 0 if not. */
static int64_t parse_iso_ms(const char *s)
{
    if (!s) return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return 0;
    int64_t ms = 0;
    if (*end == '.') {
        int digits = 0;
        for (end++; *end >= '0' && *end <= '9'; end++)
            if (digits < 3) { ms = ms * 10 + (*end - '0'); digits++; }
        while (digits++ < 3) ms *= 10;
    }
    if (*end != 'Z' || end[1]) return 0;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t * 1000 + ms;
}

/* ------------------------------------------------------------------ one sync ---- */

typedef struct {
    char *id;
    char *artifact_uri;
    int64_t start;
} run_t;

typedef struct {
    sqlite3 *db;
    const char *job_id;
    const spec_t *spec;
    mlflow_t *m;
    char *exp_id;
    run_t runs[N_ROLES];
    char *err;
    size_t errlen;
} sync_t;

static void sync_clear(sync_t *s)
{
    mlflow_destroy(&s->m);
    free(s->exp_id);
    for (int i = 0; i < N_ROLES; i++) {
        free(s->runs[i].id);
        free(s->runs[i].artifact_uri);
    }
}

static const char *experiment_name(const spec_t *sp)
{
    if (sp->mlflow_experiment && *sp->mlflow_experiment) return sp->mlflow_experiment;
    if (sp->job_name && *sp->job_name) return sp->job_name;
    return "llmaj";
}

static const char *run_name(const spec_t *sp, const char *job_id)
{
    if (sp->mlflow_run_name && *sp->mlflow_run_name) return sp->mlflow_run_name;
    if (sp->job_name && *sp->job_name) return sp->job_name;
    return job_id;
}

static int open_client(sync_t *s, const atomic_int *abort_flag)
{
    mlflow_opts_t o = {.tracking_uri = s->spec->mlflow_tracking_uri};
    mlflow_opts_from_env(&o);
    mlflow_err_t e;
    s->m = mlflow_new(&o, &e);
    if (!s->m) {
        fail(s->err, s->errlen, "%s", e.message);
        return -1;
    }
    if (abort_flag) mlflow_set_abort_flag(s->m, abort_flag);
    return 0;
}

static int ensure_experiment(sync_t *s)
{
    s->exp_id = st_get(s->db, s->job_id, "experiment_id");
    if (s->exp_id) return 0;
    mlflow_err_t e;
    const char *name = experiment_name(s->spec);
    if (mlflow_experiment_ensure(s->m, name, &s->exp_id, &e) < 0) {
        fail(s->err, s->errlen, "experiment '%s': %s", name, e.message);
        return -1;
    }
    return st_set(s->db, s->job_id, "experiment_id", s->exp_id, s->err, s->errlen);
}

static int persist_run(sync_t *s, int role, const mlflow_run_info_t *info)
{
    char k[64], v[32];
    run_t *r = &s->runs[role];
    r->id = xstrdup(info->run_id);
    r->artifact_uri = xstrdup(info->artifact_uri ? info->artifact_uri : "");
    r->start = info->start_time;
    snprintf(k, sizeof k, "run:%s:artifact_uri", role_names[role]);
    if (st_set(s->db, s->job_id, k, r->artifact_uri, s->err, s->errlen) < 0) return -1;
    snprintf(k, sizeof k, "run:%s:start", role_names[role]);
    snprintf(v, sizeof v, "%lld", (long long)r->start);
    if (st_set(s->db, s->job_id, k, v, s->err, s->errlen) < 0) return -1;
    /* The id last: its presence means the rest is there too. */
    snprintf(k, sizeof k, "run:%s", role_names[role]);
    return st_set(s->db, s->job_id, k, r->id, s->err, s->errlen);
}

/* Finds or creates the run of `role` (see "Exactly once" in the header). */
static int ensure_run(sync_t *s, int role, int64_t start_ms)
{
    char k[64];
    run_t *r = &s->runs[role];
    snprintf(k, sizeof k, "run:%s", role_names[role]);
    r->id = st_get(s->db, s->job_id, k);
    if (r->id) {
        snprintf(k, sizeof k, "run:%s:artifact_uri", role_names[role]);
        r->artifact_uri = st_get(s->db, s->job_id, k);
        snprintf(k, sizeof k, "run:%s:start", role_names[role]);
        char *v = st_get(s->db, s->job_id, k);
        r->start = v ? strtoll(v, NULL, 10) : 0;
        free(v);
        if (r->artifact_uri) return 0;
        free(r->id);
        r->id = NULL;
    }
    mlflow_err_t e;
    char *f1 = mlflow_filter_tag_eq("llmaj.job_id", s->job_id);
    char *f2 = mlflow_filter_tag_eq("llmaj.role", role_names[role]);
    if (!f1 || !f2) {
        fail(s->err, s->errlen, "job id '%s' holds both quote characters: MLflow cannot search for it", s->job_id);
        free(f1);
        free(f2);
        return -1;
    }
    char *filter = xasprintf("%s and %s", f1, f2);
    free(f1);
    free(f2);
    cJSON *found = NULL;
    int rc = mlflow_runs_search(s->m, s->exp_id, filter, 10, &found, &e);
    free(filter);
    if (rc < 0) {
        fail(s->err, s->errlen, "looking for the %s run of job %s: %s", role_names[role], s->job_id, e.message);
        return -1;
    }
    mlflow_run_info_t info;
    int n = cJSON_GetArraySize(found);
    if (n > 0) {
        if (n > 1)
            log_warn("job %s has %d %s runs in experiment %s; using the oldest", s->job_id, n, role_names[role], s->exp_id);
        rc = mlflow_run_info_from_json(cJSON_GetArrayItem(found, 0), &info);
        cJSON_Delete(found);
        if (rc < 0) {
            fail(s->err, s->errlen, "the %s run of job %s found in MLflow has no run id", role_names[role], s->job_id);
            return -1;
        }
        log_info("job %s: found %s run %s in MLflow", s->job_id, role_names[role], info.run_id);
    } else {
        cJSON_Delete(found);
        const char *base = run_name(s->spec, s->job_id);
        char *name = role == ROLE_PARENT ? xstrdup(base) : xasprintf("%s-%s", base, role_names[role]);
        const char *model = role == ROLE_CUSTOM ? s->spec->model : role == ROLE_BASE ? s->spec->base_model : NULL;
        mlflow_kv_t tags[8];
        size_t nt = 0;
        tags[nt++] = (mlflow_kv_t){"llmaj.job_id", s->job_id};
        tags[nt++] = (mlflow_kv_t){"llmaj.role", role_names[role]};
        tags[nt++] = (mlflow_kv_t){"llmaj.version", LLMAJ_VERSION};
        tags[nt++] = (mlflow_kv_t){"mlflow.source.name", "llmaj"};
        tags[nt++] = (mlflow_kv_t){"mlflow.source.type", "JOB"};
        if (role != ROLE_PARENT) {
            tags[nt++] = (mlflow_kv_t){"mlflow.parentRunId", s->runs[ROLE_PARENT].id};
            tags[nt++] = (mlflow_kv_t){"llmaj.target", role_names[role]};
            if (model) tags[nt++] = (mlflow_kv_t){"llmaj.model", model};
        }
        rc = mlflow_run_create(s->m, s->exp_id, name, start_ms, tags, nt, &info, &e);
        free(name);
        if (rc < 0) {
            fail(s->err, s->errlen, "creating the %s run of job %s: %s", role_names[role], s->job_id, e.message);
            return -1;
        }
        log_info("job %s: created %s run %s in MLflow experiment %s", s->job_id, role_names[role], info.run_id, s->exp_id);
    }
    rc = persist_run(s, role, &info);
    mlflow_run_info_clear(&info);
    return rc;
}

/* Sends the bodies of a batch that MLflow has not accepted yet, recording each. */
static int send_batch(sync_t *s, int role, const mlflow_batch_t *b)
{
    size_t n = 0;
    char **bodies = mlflow_batch_bodies(b, s->runs[role].id, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char hash[65], key[96];
        sigv4_sha256_hex(bodies[i], strlen(bodies[i]), hash);
        snprintf(key, sizeof key, "batch:%s:%.32s", role_names[role], hash);
        if (st_is(s->db, s->job_id, key, "done")) continue;
        mlflow_err_t e;
        if (mlflow_log_batch_body(s->m, bodies[i], &e) < 0) {
            fail(s->err, s->errlen, "logging to the %s run %s (request %zu of %zu): %s", role_names[role],
                 s->runs[role].id, i + 1, n, e.message);
            rc = -1;
        } else {
            rc = st_set(s->db, s->job_id, key, "done", s->err, s->errlen);
        }
    }
    mlflow_bodies_free(bodies, n);
    return rc;
}

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
            if (mlflow_batch_metric(b, key, f->valuedouble, ts, 0) < 0) {}
        } else if (!strcmp(f->string, "ci95") && cJSON_GetArraySize(f) == 2) {
            const cJSON *lo = cJSON_GetArrayItem(f, 0), *hi = cJSON_GetArrayItem(f, 1);
            if (cJSON_IsNumber(lo)) {
                key = xasprintf("%s/ci95_low", prefix);
                if (mlflow_batch_metric(b, key, lo->valuedouble, ts, 0) < 0) {}
                free(key);
                key = NULL;
            }
            if (cJSON_IsNumber(hi)) {
                key = xasprintf("%s/ci95_high", prefix);
                if (mlflow_batch_metric(b, key, hi->valuedouble, ts, 0) < 0) {}
            }
        } else if (!strcmp(f->string, "ratings") && cJSON_IsObject(f)) {
            const cJSON *r;
            cJSON_ArrayForEach(r, f)
            {
                if (!cJSON_IsNumber(r) || !r->string) continue;
                char *k = xasprintf("%s/ratings/%s", prefix, r->string);
                if (mlflow_batch_metric(b, k, r->valuedouble, ts, 0) < 0) {}
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
 * there is none of those). */
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
    if (lower && !b.len) return NULL;
    if (w < 0) log_error("metric list append failed");
    return buf_take(&b);
}

static void param_num(mlflow_batch_t *b, const char *key, double v)
{
    char s[64];
    snprintf(s, sizeof s, "%.17g", v);
    if (mlflow_batch_param(b, key, s) < 0) {}
}

static void param_str(mlflow_batch_t *b, const char *key, const char *v)
{
    if (v && mlflow_batch_param(b, key, v) < 0) {}
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

static mlflow_batch_t *parent_batch(const sync_t *s, const cJSON *summary, const cJSON *job, const char *final_status,
                                    int64_t ts)
{
    const spec_t *sp = s->spec;
    mlflow_batch_t *b = mlflow_batch_new();
    char *metrics = metric_list(sp, false), *lower = metric_list(sp, true);
    param_str(b, "model", sp->model);
    param_str(b, "base_model", sp->base_model);
    param_str(b, "evaluate_base_model", sp->base_model ? (sp->evaluate_base_model ? "true" : "false") : NULL);
    param_str(b, "evaluator_model", sp->evaluator_model);
    param_str(b, "dataset", sp->dataset);
    param_str(b, "metrics", metrics);
    param_str(b, "metrics_lower_is_better", lower);   /* their compare/<metric> figures are oriented */
    param_str(b, "region", sp->region);
    param_str(b, "job_name", sp->job_name);
    param_num(b, "shard_size", sp->shard_size);
    param_str(b, "skip_invalid", sp->skip_invalid ? "true" : "false");
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

    if (mlflow_batch_tag(b, "llmaj.status", final_status) < 0) {}
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(job, "status");
    if (cJSON_IsString(js) && mlflow_batch_tag(b, "llmaj.job_status", js->valuestring) < 0) {}
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(job, "error");
    if (cJSON_IsString(je) && mlflow_batch_tag(b, "llmaj.error", je->valuestring) < 0) {}
    char *note = xasprintf("llmaj evaluation %s of `%s`%s%s%s judged by `%s` on `%s`.", s->job_id,
                           sp->model ? sp->model : "dataset responses", sp->base_model ? " against `" : "",
                           sp->base_model ? sp->base_model : "", sp->base_model ? "`" : "", sp->evaluator_model,
                           sp->dataset);
    if (mlflow_batch_tag(b, "mlflow.note.content", note) < 0) {}
    free(note);

    /* Metrics: records, comparison, headline copies of each target, usage, cost, time. */
    cJSON_ArrayForEach(v, recs)
    {
        if (!cJSON_IsNumber(v) || !v->string) continue;
        char *k = xasprintf("records/%s", v->string);
        if (mlflow_batch_metric(b, k, v->valuedouble, ts, 0) < 0) {}
        free(k);
    }
    const cJSON *c;
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
        if (cJSON_IsNumber(n) && mlflow_batch_metric(b, job_nums[i], n->valuedouble, ts, 0) < 0) {}
    }
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "records"), "per_second");
    if (cJSON_IsNumber(per) && mlflow_batch_metric(b, "records_per_second", per->valuedouble, ts, 0) < 0) {}
    return b;
}

static mlflow_batch_t *child_batch(const sync_t *s, int role, const cJSON *summary, int64_t ts)
{
    const spec_t *sp = s->spec;
    mlflow_batch_t *b = mlflow_batch_new();
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(summary, "targets"),
                                                      role_names[role]);
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(t, "model");
    const char *model = cJSON_IsString(tm) ? tm->valuestring : role == ROLE_CUSTOM ? sp->model : sp->base_model;
    char *metrics = metric_list(sp, false), *lower = metric_list(sp, true);
    param_str(b, "target", role_names[role]);
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

static const char *content_type_of(const char *name)
{
    size_t n = strlen(name);
    if (n > 6 && !strcmp(name + n - 6, ".jsonl")) return "application/x-ndjson";
    if (n > 5 && !strcmp(name + n - 5, ".json")) return "application/json";
    return "application/octet-stream";
}

/* report.html: the results viewer with the job embedded (web/webreport.h), made from the files
 * of job_dir, so the same files give the same bytes and the upload is recorded by their hash like
 * the others. Rows past REPORT_MAX_ROWS stay out of the page (it says how many there are). */
#define REPORT_MAX_ROWS 5000
static int upload_report(sync_t *s, const char *job_dir)
{
    if (!file_exists(job_dir, "job.json")) return 0;
    webreport_t *wr = webreport_new();
    uint64_t bad = 0;
    size_t len = 0;
    char *html = NULL;
    char why[512];
    int rc = webreport_load_dir(wr, job_dir, REPORT_MAX_ROWS, &bad, why, sizeof why);
    if (rc == 0 && !(html = webreport_html(wr, &len, why, sizeof why))) rc = -1;
    webreport_destroy(&wr);
    if (rc < 0) {
        fail(s->err, s->errlen, "making report.html of job %s: %s", s->job_id, why);
        return -1;
    }
    if (bad) log_warn("job %s: %llu row(s) of records.jsonl are not JSON objects: left out of report.html", s->job_id,
                      (unsigned long long)bad);
    char hash[65];
    sigv4_sha256_hex(html, len, hash);
    if (!st_is(s->db, s->job_id, "artifact:report.html", hash)) {
        mlflow_err_t e;
        rc = mlflow_artifact_put(s->m, s->runs[ROLE_PARENT].artifact_uri, "report.html", html, len,
                                 "text/html; charset=utf-8", &e);
        if (rc < 0) fail(s->err, s->errlen, "uploading report.html: %s", e.message);
        else rc = st_set(s->db, s->job_id, "artifact:report.html", hash, s->err, s->errlen);
    }
    free(html);
    return rc;
}

static int upload_artifacts(sync_t *s, const char *job_dir)
{
    static const char *const files[] = {"records.jsonl", "summary.json", "job.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (!file_exists(job_dir, files[i])) continue;
        char *path = xasprintf("%s/%s", job_dir, files[i]);
        char hash[65], key[64];
        snprintf(key, sizeof key, "artifact:%s", files[i]);
        int rc = mlflow_file_sha256(path, hash, s->err, s->errlen);
        if (rc == 0 && !st_is(s->db, s->job_id, key, hash)) {
            mlflow_err_t e;
            rc = mlflow_artifact_put_file(s->m, s->runs[ROLE_PARENT].artifact_uri, files[i], path,
                                          content_type_of(files[i]), &e);
            if (rc < 0) fail(s->err, s->errlen, "uploading %s: %s", files[i], e.message);
            else rc = st_set(s->db, s->job_id, key, hash, s->err, s->errlen);
        }
        free(path);
        if (rc < 0) return -1;
    }
    return upload_report(s, job_dir);
}

static int end_run(sync_t *s, int role, const char *status, int64_t end_ms)
{
    char key[64];
    snprintf(key, sizeof key, "end:%s", role_names[role]);
    if (st_is(s->db, s->job_id, key, status)) return 0;
    mlflow_err_t e;
    if (mlflow_run_update(s->m, s->runs[role].id, status, end_ms, &e) < 0) {
        fail(s->err, s->errlen, "ending the %s run %s as %s: %s", role_names[role], s->runs[role].id, status, e.message);
        return -1;
    }
    return st_set(s->db, s->job_id, key, status, s->err, s->errlen);
}

static bool status_ok(const char *s)
{
    return s && (!strcmp(s, "FINISHED") || !strcmp(s, "FAILED") || !strcmp(s, "KILLED"));
}

/* Records what a resume needs: spec, job_dir, final status. */
static int record_job(sqlite3 *db, const char *job_id, const spec_t *spec, const char *job_dir, const char *status,
                      char *err, size_t errlen)
{
    cJSON *sj = spec_to_json(spec);
    char *text = sj ? cJSON_PrintUnformatted(sj) : NULL;
    cJSON_Delete(sj);
    if (!text) {
        fail(err, errlen, "job %s: cannot serialise its spec", job_id);
        return -1;
    }
    int rc = st_set(db, job_id, "spec", text, err, errlen);
    free(text);
    if (rc == 0) rc = st_set(db, job_id, "job_dir", job_dir, err, errlen);
    if (rc == 0) rc = st_set(db, job_id, "final_status", status, err, errlen);
    return rc;
}

/* Redacts user:password@ from an http(s) URL for the state JSON. Caller owns. */
static char *redact_uri(const char *uri)
{
    const char *p = strstr(uri, "://");
    if (!p) return xstrdup(uri);
    const char *host = p + 3, *slash = strchr(host, '/');
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    const char *at = memchr(host, '@', hl);
    if (!at) return xstrdup(uri);
    return xasprintf("%.*s%s", (int)(host - uri), uri, at + 1);
}

static int sync_job_locked(sqlite3 *db, const char *job_id, const spec_t *spec, const char *job_dir,
                           const char *final_status, const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (!status_ok(final_status)) {
        fail(err, errlen, "MLflow run status '%s' is not FINISHED, FAILED or KILLED", final_status ? final_status : "");
        return -1;
    }
    if (mlflow_sync_init(db, err, errlen) < 0) return -1;
    if (record_job(db, job_id, spec, job_dir, final_status, err, errlen) < 0) return -1;
    char *uri = redact_uri(spec->mlflow_tracking_uri);
    int rc = st_set(db, job_id, "tracking_uri", uri, err, errlen);
    free(uri);
    if (rc < 0) return -1;
    if (st_is(db, job_id, "state", "done") && st_is(db, job_id, "synced_status", final_status)) {
        log_info("job %s: already in MLflow", job_id);
        return 0;
    }
    char *a = st_get(db, job_id, "attempts");
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%lld", (a ? strtoll(a, NULL, 10) : 0) + 1);
    free(a);
    if (st_set(db, job_id, "attempts", nbuf, err, errlen) < 0 || st_set(db, job_id, "state", "syncing", err, errlen) < 0)
        return -1;

    sync_t s = {.db = db, .job_id = job_id, .spec = spec, .err = err, .errlen = errlen};
    cJSON *summary = NULL, *job = NULL;
    rc = -1;
    if (read_json(job_dir, "summary.json", &summary, err, errlen) < 0 || read_json(job_dir, "job.json", &job, err, errlen) < 0)
        goto out;
    if (!summary && !job && !file_exists(job_dir, "records.jsonl")) {
        fail(err, errlen, "%s holds none of records.jsonl, summary.json, job.json: nothing to sync", job_dir);
        goto out;
    }
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(job, "finished_at");
    const cJSON *sta = cJSON_GetObjectItemCaseSensitive(job, "started_at");
    int64_t started = parse_iso_ms(cJSON_IsString(sta) ? sta->valuestring : NULL);
    int64_t finished = parse_iso_ms(cJSON_IsString(fin) ? fin->valuestring : NULL);
    if (!finished) {
        /* No job.json time: the first attempt's time, kept so that retries send equal metrics. */
        char *e = st_get(db, job_id, "end_ms");
        finished = e ? strtoll(e, NULL, 10) : 0;
        free(e);
        if (!finished) {
            finished = now_ms();
            snprintf(nbuf, sizeof nbuf, "%lld", (long long)finished);
            if (st_set(db, job_id, "end_ms", nbuf, err, errlen) < 0) goto out;
        }
    }
    if (!started) started = finished;

    if (open_client(&s, abort_flag) < 0 || ensure_experiment(&s) < 0 || ensure_run(&s, ROLE_PARENT, started) < 0)
        goto out;
    bool want[N_ROLES] = {true, false, false};
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(summary, "targets");
    want[ROLE_CUSTOM] = spec->model != NULL || cJSON_GetObjectItemCaseSensitive(targets, "custom") != NULL;
    want[ROLE_BASE] = (spec->base_model && spec->evaluate_base_model) || cJSON_GetObjectItemCaseSensitive(targets, "base");
    for (int r = ROLE_CUSTOM; r < N_ROLES; r++)
        if (want[r] && ensure_run(&s, r, started) < 0) goto out;

    for (int r = 0; r < N_ROLES; r++) {
        if (!want[r]) continue;
        mlflow_batch_t *b = r == ROLE_PARENT ? parent_batch(&s, summary, job, final_status, finished)
                                             : child_batch(&s, r, summary, finished);
        int brc = send_batch(&s, r, b);
        mlflow_batch_destroy(&b);
        if (brc < 0) goto out;
    }
    if (upload_artifacts(&s, job_dir) < 0) goto out;
    for (int r = N_ROLES - 1; r >= 0; r--)
        if (want[r] && end_run(&s, r, final_status, finished) < 0) goto out;
    if (st_set(db, job_id, "state", "done", err, errlen) < 0 || st_set(db, job_id, "synced_status", final_status, err, errlen) < 0)
        goto out;
    st_del(db, job_id, "last_error");
    log_info("job %s: synced to MLflow %s, experiment %s, run %s", job_id, mlflow_display_url(s.m), s.exp_id,
             s.runs[ROLE_PARENT].id);
    rc = 0;
out:
    if (rc < 0) {
        char e2[256];
        if (st_set(db, job_id, "state", "pending", e2, sizeof e2) < 0 || st_set(db, job_id, "last_error", err, e2, sizeof e2) < 0)
            log_warn("job %s: cannot record the MLflow sync failure: %s", job_id, e2);
    }
    cJSON_Delete(summary);
    cJSON_Delete(job);
    sync_clear(&s);
    return rc;
}

static int sync_job(sqlite3 *db, const char *job_id, const spec_t *spec, const char *job_dir, const char *final_status,
                    const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) return 0;
    pthread_mutex_lock(&sync_lock);
    int rc = sync_job_locked(db, job_id, spec, job_dir, final_status, abort_flag, err, errlen);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

int mlflow_sync_job(sqlite3 *db, const char *job_id, const spec_t *spec, const char *job_dir, const char *final_status,
                    char *err, size_t errlen)
{
    return sync_job(db, job_id, spec, job_dir, final_status, NULL, err, errlen);
}

static int progress_locked(sqlite3 *db, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                           uint64_t total, const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (mlflow_sync_init(db, err, errlen) < 0) return -1;
    char *state = st_get(db, job_id, "state");
    bool finished = state && (!strcmp(state, "done") || !strcmp(state, "failed"));
    bool fresh = state == NULL;
    free(state);
    if (finished) return 0;
    char *last = st_get(db, job_id, "progress_step");
    bool stale = last && strtoll(last, NULL, 10) >= step;
    free(last);
    if (stale) return 0;
    if (fresh) {
        char *uri = redact_uri(spec->mlflow_tracking_uri);
        int rc = st_set(db, job_id, "tracking_uri", uri, err, errlen);
        free(uri);
        if (rc < 0 || st_set(db, job_id, "state", "pending", err, errlen) < 0) return -1;
    }
    sync_t s = {.db = db, .job_id = job_id, .spec = spec, .err = err, .errlen = errlen};
    int rc = -1;
    int64_t now = now_ms();
    if (open_client(&s, abort_flag) == 0 && ensure_experiment(&s) == 0 && ensure_run(&s, ROLE_PARENT, now) == 0) {
        mlflow_batch_t *b = mlflow_batch_new();
        if (mlflow_batch_metric(b, "progress/done", (double)done, now, step) < 0 ||
            mlflow_batch_metric(b, "progress/total", (double)total, now, step) < 0 ||
            mlflow_batch_metric(b, "progress/fraction", total ? (double)done / (double)total : 0, now, step) < 0) {
        }
        mlflow_err_t e;
        if (mlflow_log_batch(s.m, s.runs[ROLE_PARENT].id, b, &e) < 0) {
            fail(err, errlen, "progress of job %s: %s", job_id, e.message);
        } else {
            char v[32];
            snprintf(v, sizeof v, "%lld", (long long)step);
            rc = st_set(db, job_id, "progress_step", v, err, errlen);
        }
        mlflow_batch_destroy(&b);
    }
    sync_clear(&s);
    return rc;
}

static int sync_progress(sqlite3 *db, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                         uint64_t total, const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) return 0;
    pthread_mutex_lock(&sync_lock);
    int rc = progress_locked(db, job_id, spec, step, done, total, abort_flag, err, errlen);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

int mlflow_sync_progress(sqlite3 *db, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                         uint64_t total, char *err, size_t errlen)
{
    return sync_progress(db, job_id, spec, step, done, total, NULL, err, errlen);
}

/* ------------------------------------------------------------------ state, resume ---- */

int mlflow_sync_state(sqlite3 *db, const char *job_id, char **state_json)
{
    *state_json = NULL;
    char err[256];
    if (mlflow_sync_init(db, err, sizeof err) < 0) {
        log_warn("%s", err);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT key, value, updated_at FROM mlflow_sync WHERE job_id = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        log_warn("mlflow_sync state of job %s: %s", job_id, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
    cJSON *o = cJSON_CreateObject();
    cJSON *runs = cJSON_CreateObject();
    const char *state = NULL;
    char *state_copy = NULL, *last_error = NULL, *uri = NULL, *exp = NULL, *parent = NULL;
    long long attempts = 0, updated = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        long long at = sqlite3_column_int64(st, 2);
        if (at > updated) updated = at;
        if (!strcmp(k, "state")) state = state_copy = xstrdup(v);
        else if (!strcmp(k, "attempts")) attempts = strtoll(v, NULL, 10);
        else if (!strcmp(k, "last_error")) last_error = xstrdup(v);
        else if (!strcmp(k, "tracking_uri")) uri = xstrdup(v);
        else if (!strcmp(k, "experiment_id")) exp = xstrdup(v);
        else if (!strcmp(k, "run:parent")) parent = xstrdup(v);
        else if (!strcmp(k, "run:custom") || !strcmp(k, "run:base")) cJSON_AddStringToObject(runs, k + 4, v);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_warn("mlflow_sync state of job %s: %s", job_id, sqlite3_errmsg(db));
        cJSON_Delete(o);
        cJSON_Delete(runs);
        free(state_copy); free(last_error); free(uri); free(exp); free(parent);
        return -1;
    }
    cJSON_AddStringToObject(o, "state", state ? state : "none");
    if (state) {
        cJSON_AddNumberToObject(o, "attempts", (double)attempts);
        if (last_error) cJSON_AddStringToObject(o, "last_error", last_error);
        else cJSON_AddNullToObject(o, "last_error");
        if (uri) cJSON_AddStringToObject(o, "tracking_uri", uri);
        if (exp) cJSON_AddStringToObject(o, "experiment_id", exp);
        else cJSON_AddNullToObject(o, "experiment_id");
        if (parent) cJSON_AddStringToObject(o, "parent_run_id", parent);
        else cJSON_AddNullToObject(o, "parent_run_id");
        cJSON_AddItemToObject(o, "run_ids", runs);
        runs = NULL;
        time_t t = (time_t)(updated / 1000);
        struct tm tm;
        char ts[32];
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        cJSON_AddStringToObject(o, "updated_at", ts);
    }
    cJSON_Delete(runs);
    *state_json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(state_copy); free(last_error); free(uri); free(exp); free(parent);
    return *state_json ? 0 : -1;
}

int mlflow_sync_unfinished(sqlite3 *db, char ***job_ids, size_t *n, char *err, size_t errlen)
{
    *job_ids = NULL;
    *n = 0;
    if (mlflow_sync_init(db, err, errlen) < 0) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT s.job_id FROM mlflow_sync s JOIN mlflow_sync p"
                           " ON p.job_id = s.job_id AND p.key = 'spec'"
                           " WHERE s.key = 'state' AND s.value IN ('pending', 'syncing') ORDER BY s.updated_at",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(err, errlen, "mlflow_sync: %s", sqlite3_errmsg(db));
        return -1;
    }
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) { cap = cap ? cap * 2 : 8; *job_ids = xrealloc(*job_ids, cap * sizeof **job_ids); }
        (*job_ids)[(*n)++] = xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fail(err, errlen, "mlflow_sync: %s", sqlite3_errmsg(db));
        for (size_t i = 0; i < *n; i++) free((*job_ids)[i]);
        free(*job_ids);
        *job_ids = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

static int resume(sqlite3 *db, const char *job_id, const atomic_int *abort_flag, char *err, size_t errlen)
{
    char *spec_json = st_get(db, job_id, "spec"), *dir = st_get(db, job_id, "job_dir");
    char *status = st_get(db, job_id, "final_status");
    int rc = -1;
    if (!spec_json || !dir || !status) {
        fail(err, errlen, "job %s: no recorded MLflow sync to resume", job_id);
        goto out;
    }
    errlist_t errs;
    errlist_init(&errs, 3);
    spec_t *spec = spec_parse(spec_json, strlen(spec_json), "recorded spec", NULL, &errs);
    if (!spec) {
        fail(err, errlen, "job %s: the recorded spec no longer parses: %s", job_id, errs.n_kept ? errs.msgs[0] : "?");
        errlist_free(&errs);
        goto out;
    }
    errlist_free(&errs);
    rc = sync_job(db, job_id, spec, dir, status, abort_flag, err, errlen);
    spec_destroy(&spec);
out:
    free(spec_json);
    free(dir);
    free(status);
    return rc;
}

int mlflow_sync_resume(sqlite3 *db, const char *job_id, char *err, size_t errlen)
{
    return resume(db, job_id, NULL, err, errlen);
}

int mlflow_sync_give_up(sqlite3 *db, const char *job_id)
{
    char err[256];
    if (st_set(db, job_id, "state", "failed", err, sizeof err) < 0) {
        log_warn("%s", err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ the syncer ---- */

typedef struct pending {
    char *job_id;
    int64_t next_at_ms;  /* monotonic */
    uint32_t attempts;
    struct pending *next;
} pending_t;

typedef struct progress {
    char *job_id;
    char *spec_json;
    int64_t step;
    uint64_t done, total;
    struct progress *next;
} progress_t;

struct mlflow_syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    bool stop;
    atomic_int abort;
    sqlite3 *db;         /* serialized mode: the thread and enqueue share it */
    mlflow_syncer_opts_t o;
    backoff_t bo;
    pending_t *jobs;     /* waiting (due now or later) */
    size_t running;      /* final syncs being attempted right now (0 or 1) */
    progress_t *progs;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_pending_locked(mlflow_syncer_t *s, const char *job_id, int64_t at)
{
    for (pending_t *p = s->jobs; p; p = p->next)
        if (!strcmp(p->job_id, job_id)) {
            if (at < p->next_at_ms) p->next_at_ms = at;
            return;
        }
    pending_t *p = xcalloc(1, sizeof *p);
    p->job_id = xstrdup(job_id);
    p->next_at_ms = at;
    p->next = s->jobs;
    s->jobs = p;
}

static void run_progress(mlflow_syncer_t *s, progress_t *pr)
{
    errlist_t errs;
    errlist_init(&errs, 1);
    spec_t *spec = spec_parse(pr->spec_json, strlen(pr->spec_json), "spec", NULL, &errs);
    errlist_free(&errs);
    char err[1024];
    if (spec && sync_progress(s->db, pr->job_id, spec, pr->step, pr->done, pr->total, &s->abort, err, sizeof err) < 0)
        log_warn("MLflow progress of job %s not logged: %s", pr->job_id, err);
    spec_destroy(&spec);
}

static void *syncer_main(void *arg)
{
    mlflow_syncer_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (s->progs) {
            progress_t *pr = s->progs;
            s->progs = pr->next;
            pthread_mutex_unlock(&s->mu);
            run_progress(s, pr);
            free(pr->job_id);
            free(pr->spec_json);
            free(pr);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        pending_t **best = NULL;
        for (pending_t **pp = &s->jobs; *pp; pp = &(*pp)->next)
            if (!best || (*pp)->next_at_ms < (*best)->next_at_ms) best = pp;
        if (!best) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        int64_t now = mono_ms();
        if ((*best)->next_at_ms > now) {
            int64_t at = (*best)->next_at_ms;
            struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (long)(at % 1000) * 1000000};
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        pending_t *p = *best;
        *best = p->next;
        s->running++;
        pthread_mutex_unlock(&s->mu);
        char err[1024];
        int rc = resume(s->db, p->job_id, &s->abort, err, sizeof err);
        pthread_mutex_lock(&s->mu);
        s->running--;
        if (rc == 0 || s->stop) {
            if (rc < 0) log_info("MLflow sync of job %s interrupted by shutdown; it resumes at the next start", p->job_id);
            free(p->job_id);
            free(p);
            continue;
        }
        p->attempts++;
        if (s->o.max_attempts && p->attempts >= s->o.max_attempts) {
            log_error("MLflow sync of job %s failed %u times, giving up (`llmaj sync` retries it): %s", p->job_id,
                      p->attempts, err);
            if (mlflow_sync_give_up(s->db, p->job_id) < 0) {}
            free(p->job_id);
            free(p);
            continue;
        }
        int64_t delay = backoff_delay_ms(&s->bo, p->attempts, -1);
        log_warn("MLflow sync of job %s failed (attempt %u), retrying in %.1f s: %s", p->job_id, p->attempts,
                 delay / 1000.0, err);
        p->next_at_ms = mono_ms() + delay;
        p->next = s->jobs;
        s->jobs = p;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

mlflow_syncer_t *mlflow_syncer_start(const mlflow_syncer_opts_t *o, char *err, size_t errlen)
{
    mlflow_syncer_t *s = xcalloc(1, sizeof *s);
    s->o = *o;
    s->o.db_path = NULL;
    if (sqlite3_open_v2(o->db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        fail(err, errlen, "%s: cannot open database: %s", o->db_path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if (mlflow_sync_init(s->db, err, errlen) < 0) {
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    backoff_init(&s->bo, o->backoff_base_ms > 0 ? o->backoff_base_ms : 2000,
                 o->backoff_max_ms > 0 ? o->backoff_max_ms : 300000, o->seed ? o->seed : (uint64_t)now_ms());
    atomic_init(&s->abort, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (o->resume) {
        char **ids = NULL;
        size_t n = 0;
        if (mlflow_sync_unfinished(s->db, &ids, &n, err, errlen) == 0) {
            for (size_t i = 0; i < n; i++) {
                add_pending_locked(s, ids[i], 0);
                free(ids[i]);
            }
            free(ids);
            if (n) log_info("resuming the MLflow sync of %zu job(s)", n);
        } else {
            log_warn("cannot list unfinished MLflow syncs: %s", err);
        }
    }
    if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
        fail(err, errlen, "cannot start the MLflow syncer thread: %s", strerror(errno));
        for (pending_t *p = s->jobs, *nx; p; p = nx) { nx = p->next; free(p->job_id); free(p); }
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    return s;
}

int mlflow_syncer_enqueue(mlflow_syncer_t *s, const char *job_id, const spec_t *spec, const char *job_dir,
                          const char *final_status, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) {
        fail(err, errlen, "job %s has no MLflow tracking URI", job_id);
        return -1;
    }
    if (!status_ok(final_status)) {
        fail(err, errlen, "MLflow run status '%s' is not FINISHED, FAILED or KILLED", final_status ? final_status : "");
        return -1;
    }
    pthread_mutex_lock(&sync_lock);
    int rc = mlflow_sync_init(s->db, err, errlen);
    if (rc == 0 && st_is(s->db, job_id, "state", "done") && st_is(s->db, job_id, "synced_status", final_status)) {
        pthread_mutex_unlock(&sync_lock);
        return 0; /* already in MLflow as asked */
    }
    if (rc == 0) rc = record_job(s->db, job_id, spec, job_dir, final_status, err, errlen);
    if (rc == 0) {
        char *uri = redact_uri(spec->mlflow_tracking_uri);
        rc = st_set(s->db, job_id, "tracking_uri", uri, err, errlen);
        free(uri);
    }
    if (rc == 0) rc = st_set(s->db, job_id, "state", "pending", err, errlen);
    pthread_mutex_unlock(&sync_lock);
    if (rc < 0) return -1;
    pthread_mutex_lock(&s->mu);
    add_pending_locked(s, job_id, 0);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void mlflow_syncer_progress(mlflow_syncer_t *s, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                            uint64_t total)
{
    if (!spec->mlflow_tracking_uri) return;
    cJSON *sj = spec_to_json(spec);
    char *text = sj ? cJSON_PrintUnformatted(sj) : NULL;
    cJSON_Delete(sj);
    if (!text) return;
    pthread_mutex_lock(&s->mu);
    progress_t *pr = NULL;
    for (progress_t *p = s->progs; p; p = p->next)
        if (!strcmp(p->job_id, job_id)) pr = p;
    if (pr) {
        free(pr->spec_json);
    } else {
        pr = xcalloc(1, sizeof *pr);
        pr->job_id = xstrdup(job_id);
        progress_t **tail = &s->progs;
        while (*tail) tail = &(*tail)->next;
        *tail = pr;
    }
    pr->spec_json = text;
    pr->step = step;
    pr->done = done;
    pr->total = total;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

size_t mlflow_syncer_pending(mlflow_syncer_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->running;
    for (pending_t *p = s->jobs; p; p = p->next) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void mlflow_syncer_stop(mlflow_syncer_t **self_p)
{
    if (!self_p || !*self_p) return;
    mlflow_syncer_t *s = *self_p;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    atomic_store(&s->abort, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (pending_t *p = s->jobs, *nx; p; p = nx) { nx = p->next; free(p->job_id); free(p); }
    for (progress_t *p = s->progs, *nx; p; p = nx) { nx = p->next; free(p->job_id); free(p->spec_json); free(p); }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    sqlite3_close(s->db);
    free(s);
    *self_p = NULL;
}
