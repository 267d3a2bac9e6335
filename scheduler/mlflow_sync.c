/* mlflow_sync: exactly-once, resumable sync of a job's results to MLflow; see mlflow_sync.h. */
#define LOG_MODULE "mlflow_sync"
#include "mlflow_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "errlist.h"
#include "jsonprint.h"
#include "log.h"
#include "mem.h"
#include "mlflow.h"
#include "mlflow_map.h"
#include "sigv4.h"
#include "webreport.h"

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

/* ------------------------------------------------------------------ state ---- */

/* The value of key for job, or NULL when there is none (a database error is logged by the store
 * and reads as "none": the step is then done again, which the exactly-once rules make harmless). */
static char *st_get(store_t *db, const char *job, const char *key)
{
    char *v = NULL;
    if (store_sync_get(db, job, key, &v) != 0) return NULL;
    return v;
}

static int st_set(store_t *db, const char *job, const char *key, const char *value, char *err, size_t errlen)
{
    if (store_sync_set(db, job, key, value) == 0) return 0;
    fail(err, errlen, "mlflow_sync state of job %s (%s) in %s: %s", job, key, store_path(db), store_errmsg(db));
    return -1;
}

static void st_del(store_t *db, const char *job, const char *key)
{
    if (store_sync_del(db, job, key) < 0)
        log_warn("mlflow_sync: cannot delete %s of job %s in %s: %s", key, job, store_path(db), store_errmsg(db));
}

static bool st_is(store_t *db, const char *job, const char *key, const char *value)
{
    char *v = st_get(db, job, key);
    bool eq = v && !strcmp(v, value);
    free(v);
    return eq;
}

static bool file_exists(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

bool mlflow_sync_status_ok(const char *s)
{
    return s && (!strcmp(s, "FINISHED") || !strcmp(s, "FAILED") || !strcmp(s, "KILLED"));
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
            if (digits < 3) {
                ms = ms * 10 + (*end - '0');
                digits++;
            }
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
    store_t *db;
    const char *job_id;
    const spec_t *spec;
    mlflow_t *m;
    char *exp_id;
    run_t runs[MLFLOW_N_ROLES];
    char *err;
    size_t errlen;
} sync_t;

static void sync_clear(sync_t *s)
{
    mlflow_destroy(&s->m);
    free(s->exp_id);
    for (int i = 0; i < MLFLOW_N_ROLES; i++) {
        free(s->runs[i].id);
        free(s->runs[i].artifact_uri);
    }
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
    const char *name = mlflow_map_experiment(s->spec);
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
    snprintf(k, sizeof k, "run:%s:artifact_uri", mlflow_role_names[role]);
    if (st_set(s->db, s->job_id, k, r->artifact_uri, s->err, s->errlen) < 0) return -1;
    snprintf(k, sizeof k, "run:%s:start", mlflow_role_names[role]);
    snprintf(v, sizeof v, "%lld", (long long)r->start);
    if (st_set(s->db, s->job_id, k, v, s->err, s->errlen) < 0) return -1;
    /* The id last: its presence means the rest is there too. */
    snprintf(k, sizeof k, "run:%s", mlflow_role_names[role]);
    return st_set(s->db, s->job_id, k, r->id, s->err, s->errlen);
}

/* Finds or creates the run of `role` (see "Exactly once" in the header). */
static int ensure_run(sync_t *s, int role, int64_t start_ms)
{
    char k[64];
    run_t *r = &s->runs[role];
    snprintf(k, sizeof k, "run:%s", mlflow_role_names[role]);
    r->id = st_get(s->db, s->job_id, k);
    if (r->id) {
        snprintf(k, sizeof k, "run:%s:artifact_uri", mlflow_role_names[role]);
        r->artifact_uri = st_get(s->db, s->job_id, k);
        snprintf(k, sizeof k, "run:%s:start", mlflow_role_names[role]);
        char *v = st_get(s->db, s->job_id, k);
        r->start = v ? strtoll(v, NULL, 10) : 0;
        free(v);
        if (r->artifact_uri) return 0;
        free(r->id);
        r->id = NULL;
    }
    mlflow_err_t e;
    char *f1 = mlflow_filter_tag_eq("llmaj.job_id", s->job_id);
    char *f2 = mlflow_filter_tag_eq("llmaj.role", mlflow_role_names[role]);
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
        fail(s->err, s->errlen, "looking for the %s run of job %s: %s", mlflow_role_names[role], s->job_id, e.message);
        return -1;
    }
    mlflow_run_info_t info;
    int n = cJSON_GetArraySize(found);
    if (n > 0) {
        if (n > 1)
            log_warn("job %s has %d %s runs in experiment %s; using the oldest", s->job_id, n, mlflow_role_names[role],
                     s->exp_id);
        rc = mlflow_run_info_from_json(cJSON_GetArrayItem(found, 0), &info);
        cJSON_Delete(found);
        if (rc < 0) {
            fail(s->err, s->errlen, "the %s run of job %s found in MLflow has no run id", mlflow_role_names[role],
                 s->job_id);
            return -1;
        }
        log_info("job %s: found %s run %s in MLflow", s->job_id, mlflow_role_names[role], info.run_id);
    } else {
        cJSON_Delete(found);
        const char *base = mlflow_map_run_name(s->spec, s->job_id);
        char *name = role == MLFLOW_ROLE_PARENT ? xstrdup(base) : xasprintf("%s-%s", base, mlflow_role_names[role]);
        const char *model = role == MLFLOW_ROLE_CUSTOM ? s->spec->model
                            : role == MLFLOW_ROLE_BASE ? s->spec->base_model
                                                       : NULL;
        mlflow_kv_t tags[8];
        size_t nt = 0;
        tags[nt++] = (mlflow_kv_t){"llmaj.job_id", s->job_id};
        tags[nt++] = (mlflow_kv_t){"llmaj.role", mlflow_role_names[role]};
        tags[nt++] = (mlflow_kv_t){"llmaj.version", LLMAJ_VERSION};
        tags[nt++] = (mlflow_kv_t){"mlflow.source.name", "llmaj"};
        tags[nt++] = (mlflow_kv_t){"mlflow.source.type", "JOB"};
        if (role != MLFLOW_ROLE_PARENT) {
            tags[nt++] = (mlflow_kv_t){"mlflow.parentRunId", s->runs[MLFLOW_ROLE_PARENT].id};
            tags[nt++] = (mlflow_kv_t){"llmaj.target", mlflow_role_names[role]};
            if (model) tags[nt++] = (mlflow_kv_t){"llmaj.model", model};
        }
        rc = mlflow_run_create(s->m, s->exp_id, name, start_ms, tags, nt, &info, &e);
        free(name);
        if (rc < 0) {
            fail(s->err, s->errlen, "creating the %s run of job %s: %s", mlflow_role_names[role], s->job_id, e.message);
            return -1;
        }
        log_info("job %s: created %s run %s in MLflow experiment %s", s->job_id, mlflow_role_names[role], info.run_id,
                 s->exp_id);
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
        snprintf(key, sizeof key, "batch:%s:%.32s", mlflow_role_names[role], hash);
        if (st_is(s->db, s->job_id, key, "done")) continue;
        mlflow_err_t e;
        if (mlflow_log_batch_body(s->m, bodies[i], &e) < 0) {
            fail(s->err, s->errlen, "logging to the %s run %s (request %zu of %zu): %s", mlflow_role_names[role],
                 s->runs[role].id, i + 1, n, e.message);
            rc = -1;
        } else {
            rc = st_set(s->db, s->job_id, key, "done", s->err, s->errlen);
        }
    }
    mlflow_bodies_free(bodies, n);
    return rc;
}

static const char *content_type_of(const char *name)
{
    size_t n = strlen(name);
    if (n > 6 && !strcmp(name + n - 6, ".jsonl")) return "application/x-ndjson";
    if (n > 5 && !strcmp(name + n - 5, ".json")) return "application/json";
    return "application/octet-stream";
}

/* report.html: the results viewer with the job embedded (web/webreport.h), made from the sync's
 * job.json and summary objects (in memory, as for the metrics) and the rows of job_dir's
 * records.jsonl. The same inputs give the same bytes, so the upload is recorded by their hash
 * like the other artifacts. Rows past REPORT_MAX_ROWS stay out of the page (it says how many
 * there are). Nothing without job.json: a job that failed before writing its files has no page. */
#define REPORT_MAX_ROWS 5000
static int upload_report(sync_t *s, const char *job_dir, const cJSON *summary, const cJSON *job)
{
    if (!job) return 0;
    webreport_t *wr = webreport_new();
    cJSON *jo = webreport_job_from_file(job);
    webreport_set_job(wr, jo);
    cJSON_Delete(jo);
    webreport_set_summary(wr, summary);
    uint64_t bad = 0;
    size_t len = 0;
    char *html = NULL, why[512];
    char *path = xasprintf("%s/records.jsonl", job_dir);
    int rc = webreport_load_records(wr, path, REPORT_MAX_ROWS, &bad, why, sizeof why);
    free(path);
    if (rc == 0 && !(html = webreport_html(wr, &len, why, sizeof why))) rc = -1;
    webreport_destroy(&wr);
    if (rc < 0) {
        fail(s->err, s->errlen, "making report.html of job %s: %s", s->job_id, why);
        return -1;
    }
    if (bad)
        log_warn("job %s: %llu row(s) of records.jsonl are not JSON objects: left out of report.html", s->job_id,
                 (unsigned long long)bad);
    char hash[65];
    sigv4_sha256_hex(html, len, hash);
    if (!st_is(s->db, s->job_id, "artifact:report.html", hash)) {
        mlflow_err_t e;
        rc = mlflow_artifact_put(s->m, s->runs[MLFLOW_ROLE_PARENT].artifact_uri, "report.html", html, len,
                                 "text/html; charset=utf-8", &e);
        if (rc < 0) fail(s->err, s->errlen, "uploading report.html: %s", e.message);
        else rc = st_set(s->db, s->job_id, "artifact:report.html", hash, s->err, s->errlen);
    }
    free(html);
    return rc;
}

/* The job folder's files as they are, then report.html. */
static int upload_artifacts(sync_t *s, const char *job_dir, const cJSON *summary, const cJSON *job)
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
            rc = mlflow_artifact_put_file(s->m, s->runs[MLFLOW_ROLE_PARENT].artifact_uri, files[i], path,
                                          content_type_of(files[i]), &e);
            if (rc < 0) fail(s->err, s->errlen, "uploading %s: %s", files[i], e.message);
            else rc = st_set(s->db, s->job_id, key, hash, s->err, s->errlen);
        }
        free(path);
        if (rc < 0) return -1;
    }
    return upload_report(s, job_dir, summary, job);
}

static int end_run(sync_t *s, int role, const char *status, int64_t end_ms)
{
    char key[64];
    snprintf(key, sizeof key, "end:%s", mlflow_role_names[role]);
    if (st_is(s->db, s->job_id, key, status)) return 0;
    mlflow_err_t e;
    if (mlflow_run_update(s->m, s->runs[role].id, status, end_ms, &e) < 0) {
        fail(s->err, s->errlen, "ending the %s run %s as %s: %s", mlflow_role_names[role], s->runs[role].id, status,
             e.message);
        return -1;
    }
    return st_set(s->db, s->job_id, key, status, s->err, s->errlen);
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

/* A JSON object as stored text, or NULL for NULL. Caller frees. */
static char *json_text(const cJSON *j) { return j ? jsonprint(j, false) : NULL; }

static int record_locked(store_t *db, const char *job_id, const spec_t *spec, const char *job_dir, const char *status,
                         const cJSON *summary, const cJSON *job, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) {
        fail(err, errlen, "job %s has no MLflow tracking URI", job_id);
        return -1;
    }
    if (!mlflow_sync_status_ok(status)) {
        fail(err, errlen, "MLflow run status '%s' is not FINISHED, FAILED or KILLED", status ? status : "");
        return -1;
    }
    cJSON *sj = spec_to_json(spec);
    char *spec_text = json_text(sj);
    cJSON_Delete(sj);
    char *sum_text = json_text(summary), *job_text = json_text(job);
    char *uri = redact_uri(spec->mlflow_tracking_uri);
    int rc = spec_text ? 0 : -1;
    if (rc < 0) fail(err, errlen, "job %s: cannot serialise its spec", job_id);
    if (rc == 0) rc = st_set(db, job_id, "spec", spec_text, err, errlen);
    if (rc == 0) rc = st_set(db, job_id, "job_dir", job_dir, err, errlen);
    if (rc == 0) rc = st_set(db, job_id, "final_status", status, err, errlen);
    if (rc == 0 && sum_text) rc = st_set(db, job_id, "summary", sum_text, err, errlen);
    if (rc == 0 && job_text) rc = st_set(db, job_id, "job", job_text, err, errlen);
    if (rc == 0) rc = st_set(db, job_id, "tracking_uri", uri, err, errlen);
    if (rc == 0 && !(st_is(db, job_id, "state", "done") && st_is(db, job_id, "synced_status", status)))
        rc = st_set(db, job_id, "state", "pending", err, errlen);
    free(spec_text);
    free(sum_text);
    free(job_text);
    free(uri);
    return rc;
}

int mlflow_sync_record(store_t *db, const char *job_id, const spec_t *spec, const char *job_dir,
                       const char *final_status, const cJSON *summary, const cJSON *job, char *err, size_t errlen)
{
    pthread_mutex_lock(&sync_lock);
    int rc = record_locked(db, job_id, spec, job_dir, final_status, summary, job, err, errlen);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

static int sync_job_locked(store_t *db, const char *job_id, const spec_t *spec, const char *job_dir,
                           const char *final_status, const cJSON *summary, const cJSON *job,
                           const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (record_locked(db, job_id, spec, job_dir, final_status, summary, job, err, errlen) < 0) return -1;
    if (st_is(db, job_id, "state", "done") && st_is(db, job_id, "synced_status", final_status)) {
        log_info("job %s: already in MLflow", job_id);
        return 0;
    }
    char *a = st_get(db, job_id, "attempts");
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%lld", (a ? strtoll(a, NULL, 10) : 0) + 1);
    free(a);
    if (st_set(db, job_id, "attempts", nbuf, err, errlen) < 0 ||
        st_set(db, job_id, "state", "syncing", err, errlen) < 0)
        return -1;

    sync_t s = {.db = db, .job_id = job_id, .spec = spec, .err = err, .errlen = errlen};
    int rc = -1;
    if (!summary && !job && !file_exists(job_dir, "records.jsonl")) {
        fail(err, errlen, "job %s: no summary, no job.json and no records.jsonl in %s: nothing to sync", job_id,
             job_dir);
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

    if (open_client(&s, abort_flag) < 0 || ensure_experiment(&s) < 0 || ensure_run(&s, MLFLOW_ROLE_PARENT, started) < 0)
        goto out;
    bool want[MLFLOW_N_ROLES] = {true, false, false};
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(summary, "targets");
    want[MLFLOW_ROLE_CUSTOM] = spec->model != NULL || cJSON_GetObjectItemCaseSensitive(targets, "custom") != NULL;
    want[MLFLOW_ROLE_BASE] = (spec->base_model && spec->evaluate_base_model) ||
                             cJSON_GetObjectItemCaseSensitive(targets, "base");
    for (int r = MLFLOW_ROLE_CUSTOM; r < MLFLOW_N_ROLES; r++)
        if (want[r] && ensure_run(&s, r, started) < 0) goto out;

    for (int r = 0; r < MLFLOW_N_ROLES; r++) {
        if (!want[r]) continue;
        mlflow_batch_t *b = r == MLFLOW_ROLE_PARENT
                                ? mlflow_map_parent(spec, job_id, summary, job, final_status, finished)
                                : mlflow_map_child(spec, r, summary, finished);
        int brc = send_batch(&s, r, b);
        mlflow_batch_destroy(&b);
        if (brc < 0) goto out;
    }
    if (upload_artifacts(&s, job_dir, summary, job) < 0) goto out;
    for (int r = MLFLOW_N_ROLES - 1; r >= 0; r--)
        if (want[r] && end_run(&s, r, final_status, finished) < 0) goto out;
    if (st_set(db, job_id, "state", "done", err, errlen) < 0 ||
        st_set(db, job_id, "synced_status", final_status, err, errlen) < 0)
        goto out;
    st_del(db, job_id, "last_error");
    log_info("job %s: synced to MLflow %s, experiment %s, run %s", job_id, mlflow_display_url(s.m), s.exp_id,
             s.runs[MLFLOW_ROLE_PARENT].id);
    rc = 0;
out:
    if (rc < 0) {
        char e2[512];
        if (st_set(db, job_id, "state", "pending", e2, sizeof e2) < 0 ||
            st_set(db, job_id, "last_error", err, e2, sizeof e2) < 0)
            log_warn("job %s: cannot record the MLflow sync failure: %s", job_id, e2);
    }
    sync_clear(&s);
    return rc;
}

int mlflow_sync_job(store_t *db, const char *job_id, const spec_t *spec, const char *job_dir, const char *final_status,
                    const cJSON *summary, const cJSON *job, const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) return 0;
    pthread_mutex_lock(&sync_lock);
    int rc = sync_job_locked(db, job_id, spec, job_dir, final_status, summary, job, abort_flag, err, errlen);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

/* A recorded JSON object (NULL when none was recorded); -1 when one was and does not parse. */
static int recorded_json(store_t *db, const char *job_id, const char *key, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    char *text = st_get(db, job_id, key);
    if (!text) return 0;
    *out = cJSON_Parse(text);
    free(text);
    if (!*out) {
        fail(err, errlen, "job %s: its recorded %s is not valid JSON", job_id, key);
        return -1;
    }
    return 0;
}

int mlflow_sync_resume(store_t *db, const char *job_id, const atomic_int *abort_flag, char *err, size_t errlen)
{
    char *spec_json = st_get(db, job_id, "spec"), *dir = st_get(db, job_id, "job_dir");
    char *status = st_get(db, job_id, "final_status");
    cJSON *summary = NULL, *job = NULL;
    spec_t *spec = NULL;
    int rc = -1;
    if (!spec_json || !dir || !status) {
        fail(err, errlen, "job %s: no recorded MLflow sync to resume", job_id);
        goto out;
    }
    errlist_t errs;
    errlist_init(&errs, 3);
    spec = spec_parse(spec_json, strlen(spec_json), "recorded spec", NULL, &errs);
    if (!spec)
        fail(err, errlen, "job %s: the recorded spec no longer parses: %s", job_id, errs.n_kept ? errs.msgs[0] : "?");
    errlist_free(&errs);
    if (!spec || recorded_json(db, job_id, "summary", &summary, err, errlen) < 0 ||
        recorded_json(db, job_id, "job", &job, err, errlen) < 0)
        goto out;
    rc = mlflow_sync_job(db, job_id, spec, dir, status, summary, job, abort_flag, err, errlen);
out:
    spec_destroy(&spec);
    cJSON_Delete(summary);
    cJSON_Delete(job);
    free(spec_json);
    free(dir);
    free(status);
    return rc;
}

static int progress_locked(store_t *db, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                           uint64_t total, const atomic_int *abort_flag, char *err, size_t errlen)
{
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
    if (open_client(&s, abort_flag) == 0 && ensure_experiment(&s) == 0 &&
        ensure_run(&s, MLFLOW_ROLE_PARENT, now) == 0) {
        mlflow_batch_t *b = mlflow_batch_new();
        /* Three distinct keys with finite values: the batch takes them all. */
        (void)mlflow_batch_metric(b, "progress/done", (double)done, now, step);
        (void)mlflow_batch_metric(b, "progress/total", (double)total, now, step);
        (void)mlflow_batch_metric(b, "progress/fraction", total ? (double)done / (double)total : 0, now, step);
        mlflow_err_t e;
        if (mlflow_log_batch(s.m, s.runs[MLFLOW_ROLE_PARENT].id, b, &e) < 0) {
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

int mlflow_sync_progress(store_t *db, const char *job_id, const spec_t *spec, int64_t step, uint64_t done,
                         uint64_t total, const atomic_int *abort_flag, char *err, size_t errlen)
{
    if (!spec->mlflow_tracking_uri || !*spec->mlflow_tracking_uri) return 0;
    pthread_mutex_lock(&sync_lock);
    int rc = progress_locked(db, job_id, spec, step, done, total, abort_flag, err, errlen);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

/* ------------------------------------------------------------------ state, for status ---- */

typedef struct {
    char *state, *last_error, *uri, *exp, *parent;
    long long attempts;
    int64_t updated;
    cJSON *runs;
} state_acc_t;

static void state_row(const char *k, const char *v, int64_t at, void *arg)
{
    state_acc_t *a = arg;
    if (!k || !v) return;
    if (at > a->updated) a->updated = at;
    if (!strcmp(k, "state")) a->state = xstrdup(v);
    else if (!strcmp(k, "attempts")) a->attempts = strtoll(v, NULL, 10);
    else if (!strcmp(k, "last_error")) a->last_error = xstrdup(v);
    else if (!strcmp(k, "tracking_uri")) a->uri = xstrdup(v);
    else if (!strcmp(k, "experiment_id")) a->exp = xstrdup(v);
    else if (!strcmp(k, "run:parent")) a->parent = xstrdup(v);
    else if (!strcmp(k, "run:custom") || !strcmp(k, "run:base")) cJSON_AddStringToObject(a->runs, k + 4, v);
}

int mlflow_sync_state(store_t *db, const char *job_id, cJSON **state)
{
    *state = NULL;
    state_acc_t a = {.runs = cJSON_CreateObject()};
    int rc = store_sync_each(db, job_id, state_row, &a);
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state", a.state ? a.state : "none");
        if (a.state) {
            cJSON_AddNumberToObject(o, "attempts", (double)a.attempts);
            if (a.last_error) cJSON_AddStringToObject(o, "last_error", a.last_error);
            else cJSON_AddNullToObject(o, "last_error");
            if (a.uri) cJSON_AddStringToObject(o, "tracking_uri", a.uri);
            if (a.exp) cJSON_AddStringToObject(o, "experiment_id", a.exp);
            else cJSON_AddNullToObject(o, "experiment_id");
            if (a.parent) cJSON_AddStringToObject(o, "parent_run_id", a.parent);
            else cJSON_AddNullToObject(o, "parent_run_id");
            cJSON_AddItemToObject(o, "run_ids", a.runs);
            a.runs = NULL;
            time_t t = (time_t)(a.updated / 1000);
            struct tm tm;
            char ts[32];
            gmtime_r(&t, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            cJSON_AddStringToObject(o, "updated_at", ts);
        }
        *state = o;
    }
    cJSON_Delete(a.runs);
    free(a.state);
    free(a.last_error);
    free(a.uri);
    free(a.exp);
    free(a.parent);
    return rc;
}

int mlflow_sync_unfinished(store_t *db, char ***job_ids, size_t *n) { return store_sync_unfinished(db, job_ids, n); }

int mlflow_sync_give_up(store_t *db, const char *job_id)
{
    char err[512];
    if (st_set(db, job_id, "state", "failed", err, sizeof err) < 0) {
        log_warn("%s", err);
        return -1;
    }
    return 0;
}
