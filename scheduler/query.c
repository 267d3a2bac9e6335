/* query: reading jobs back (the sched_db_* part of scheduler.h): the list, a job's status with its
 * steps, a page of its results, its summary. Only reads: the database must already be a job
 * database, and nothing is created or changed in it (store.h STORE_READ).
 *
 * How a job's steps are derived (the store keeps its state and its shards' states, not steps):
 *   validate     a job is stored only once its spec and whole dataset passed validation, so it is
 *                "succeeded" for every stored job ("running" while the job is still pending).
 *   infer+judge  "running" until every shard is done; "succeeded" then; a job that failed or was
 *                stopped with shards left shows "failed" / "stopped", and a failed job whose
 *                shards all came back without a single score (every call failed) "failed".
 *   collect      "pending" while shards remain; "running" between the last shard and the job's
 *                end; "succeeded" when the job succeeded, or ended otherwise with job.json
 *                written; else "failed".
 *   mlflow       "skipped" without mlflow.tracking_uri; else from the sync state (mlflow_sync.h):
 *                pending -> "pending", syncing -> "running", done -> "succeeded", failed ->
 *                "failed"; no state yet -> "pending". */
#define LOG_MODULE "query"
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "cache.h"
#include "log.h"
#include "mem.h"
#include "mlflow_sync.h"
#include "output.h"
#include "scheduler.h"
#include "store.h"

struct sched_db {
    store_t *st;
    char *path;
};

static const char *const step_names[SCHED_N_STEPS] = {"validate", "infer+judge", "collect", "mlflow"};

/* ---- the database ---- */

sched_err_t sched_db_open(const char *path, const char *label, sched_db_t **out, errlist_t *errs)
{
    *out = NULL;
    char how[256] = "";
    if (label && *label) snprintf(how, sizeof how, " (%s)", label);
    struct stat sb;
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT) {
            errlist_add(errs, "no job database at %s%s", path, how);
            return SCHED_E_NOTFOUND;
        }
        errlist_add(errs, "%s%s: %s", path, how, strerror(errno));
        return SCHED_E_INPUT;
    }
    if (!S_ISREG(sb.st_mode)) {
        errlist_add(errs, "%s%s is not a file; the job database is <output_path>/llmaj.db", path, how);
        return SCHED_E_INPUT;
    }
    char err[1024];
    int p = store_probe(path, err, sizeof err);
    if (p == 1) {
        errlist_add(errs, "%s%s is an SQLite database but not a job database (it has no jobs table)", path, how);
        return SCHED_E_INPUT;
    }
    if (p < 0) {
        errlist_add(errs, "%s%s: not a job database: %s", path, how, err);
        return SCHED_E_INPUT;
    }
    store_t *st = store_open(path, STORE_READ, err, sizeof err);
    if (!st) {
        errlist_add(errs, "%s", err);
        return SCHED_E_DB;
    }
    sched_db_t *db = xcalloc(1, sizeof *db);
    db->st = st;
    db->path = xstrdup(path);
    *out = db;
    return SCHED_OK;
}

void sched_db_close(sched_db_t **self_p)
{
    if (!self_p || !*self_p) return;
    store_close(&(*self_p)->st);
    free((*self_p)->path);
    free(*self_p);
    *self_p = NULL;
}

const char *sched_db_file(const sched_db_t *db) { return db->path; }

/* Ends a read snapshot. A read-only transaction loses nothing whatever happens, so a failure to
 * end it is only logged (the store logs the COMMIT's); it is rolled back so the connection is
 * clean for the next read. */
static void snapshot_end(store_t *st)
{
    if (!store_in_tx(st) || store_commit(st) == 0) return;
    if (store_rollback(st) < 0) log_warn("%s: a read snapshot could not be ended", store_path(st));
}

/* ---- jobs ---- */

static char *spec_str(const cJSON *spec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

void sched_job_clear(sched_job_t *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->name);
    free(j->error);
    free(j->failure);
    free(j->spec_json);
    free(j->model);
    free(j->base_model);
    free(j->evaluator_model);
    free(j->out_dir);
    memset(j, 0, sizeof *j);
}

/* Moves a store row into a sched_job_t (the row is left empty). */
static void job_from_row(store_job_t *r, sched_job_t *j, int64_t now)
{
    memset(j, 0, sizeof *j);
    j->job_id = r->job_id;
    j->name = r->name;
    j->error = r->error;
    j->failure = r->failure;
    j->spec_json = r->spec_json;
    j->out_dir = r->out_dir;
    r->job_id = r->name = r->error = r->failure = r->spec_json = r->out_dir = NULL;
    j->state = r->state;
    j->created_at = r->created_at;
    j->started_at = r->started_at;
    j->finished_at = r->finished_at;
    j->updated_at = r->updated_at;
    j->records_total = r->records_total;
    j->records_invalid = r->records_invalid;
    if (j->started_at <= 0) {
        j->elapsed_s = -1;
    } else {
        int64_t end = j->finished_at > 0 ? j->finished_at : now;
        j->elapsed_s = end >= j->started_at ? (double)(end - j->started_at) : 0;
    }
    cJSON *spec = j->spec_json ? cJSON_Parse(j->spec_json) : NULL;
    j->model = spec_str(spec, "model");
    j->evaluator_model = spec_str(spec, "evaluator_model");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "evaluate_base_model")))
        j->base_model = spec_str(spec, "base_model");
    cJSON_Delete(spec);
}

typedef struct {
    sched_job_cb cb;
    void *arg;
    int64_t now;
    bool stopped;
} list_t;

static int list_row(const store_job_t *row, void *arg)
{
    list_t *l = arg;
    store_job_t copy = *row; /* the store frees its row after the call: copy what we take */
    copy.job_id = xstrdup(row->job_id);
    copy.name = xstrdup(row->name);
    copy.error = xstrdup(row->error);
    copy.failure = xstrdup(row->failure);
    copy.spec_json = xstrdup(row->spec_json);
    copy.out_dir = xstrdup(row->out_dir);
    copy.owner = copy.note = NULL; /* not taken */
    sched_job_t j;
    job_from_row(&copy, &j, l->now);
    int rc = l->cb(&j, l->arg);
    sched_job_clear(&j);
    if (rc) l->stopped = true;
    return rc;
}

sched_err_t sched_jobs_list(sched_db_t *db, sched_job_cb cb, void *arg, errlist_t *errs)
{
    list_t l = {.cb = cb, .arg = arg, .now = (int64_t)time(NULL)};
    if (store_jobs_each(db->st, list_row, &l) < 0) {
        if (l.stopped) return SCHED_E_IO;
        errlist_add(errs, "%s: cannot read the jobs: %s", db->path, store_errmsg(db->st));
        return SCHED_E_DB;
    }
    return SCHED_OK;
}

sched_err_t sched_job_resolve(sched_db_t *db, const char *ref, char **job_id, errlist_t *errs)
{
    *job_id = NULL;
    if (!ref || !*ref) {
        errlist_add(errs, "a job id is required");
        return SCHED_E_INPUT;
    }
    enum { SHOWN = 5 };
    char *ids[SHOWN] = {0};
    size_t n = 0;
    if (store_job_match(db->st, ref, ids, SHOWN, &n) < 0) {
        errlist_add(errs, "%s: cannot read the jobs: %s", db->path, store_errmsg(db->st));
        return SCHED_E_DB;
    }
    if (n == 1) {
        *job_id = ids[0];
        return SCHED_OK;
    }
    if (n == 0) {
        errlist_add(errs, "no job '%s' in %s (a job id, or the beginning of one)", ref, db->path);
        return SCHED_E_NOTFOUND;
    }
    buf_t list;
    buf_init(&list, 4096);
    bool cut = false; /* past the cap the list is shorter, which the count still says */
    for (size_t i = 0; i < n && i < SHOWN; i++) {
        if (!cut && buf_printf(&list, "%s%s", i ? ", " : "", ids[i]) < 0) cut = true;
        free(ids[i]);
    }
    if (n > SHOWN)
        errlist_add(errs, "'%s' is the beginning of %zu job ids (%s, and %zu more) in %s: give more of the id", ref, n,
                    list.data ? list.data : "", n - SHOWN, db->path);
    else
        errlist_add(errs, "'%s' is the beginning of %zu job ids (%s) in %s: give more of the id", ref, n,
                    list.data ? list.data : "", db->path);
    buf_free(&list);
    return SCHED_E_INPUT;
}

/* ---- status ---- */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The job's output folder as found from here (scheduler.h, sched_job_status). */
static void find_output(sched_status_t *s, const char *db_path, const char *output_path)
{
    char tmp[PATH_MAX], real[PATH_MAX];
    const char *id = s->job.job_id;
    snprintf(tmp, sizeof tmp, "%s", db_path);
    char *db_dir = xasprintf("%s/%s", dirname(tmp), id);
    char *from_spec = NULL;
    if (output_path) {
        size_t n = strlen(output_path);
        from_spec = xasprintf("%.*s/%s", (int)(n && output_path[n - 1] == '/' ? n - 1 : n), output_path, id);
    }
    const char *stored = s->job.out_dir;
    const char *found = stored && is_dir(stored)         ? stored
                        : is_dir(db_dir)                 ? db_dir
                        : from_spec && is_dir(from_spec) ? from_spec
                                                         : NULL;
    if (found) {
        s->output_dir = xstrdup(realpath(found, real) ? real : found);
        s->output_exists = true;
        char *jj = xasprintf("%s/job.json", s->output_dir);
        struct stat st;
        s->output_written = stat(jj, &st) == 0;
        free(jj);
    } else if (stored) {
        s->output_dir = xstrdup(stored);
    } else if (from_spec && (output_path[0] == '/' || !strncmp(output_path, "s3://", 5))) {
        s->output_dir = xstrdup(from_spec);
    } else {
        snprintf(tmp, sizeof tmp, "%s", db_path);
        const char *d = dirname(tmp);
        s->output_dir = realpath(d, real) ? xasprintf("%s/%s", real, id) : xstrdup(db_dir);
    }
    free(db_dir);
    free(from_spec);
}

static void set_step(sched_status_t *s, int i, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_step(sched_status_t *s, int i, const char *status, const char *fmt, ...)
{
    s->steps[i].name = step_names[i];
    s->steps[i].status = status;
    buf_t b;
    buf_init(&b, 0); /* no cap: only a bad format could fail, and then the detail is empty */
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc < 0) buf_reset(&b);
    free(s->steps[i].detail);
    s->steps[i].detail = buf_take(&b);
    if (!s->steps[i].detail) s->steps[i].detail = xstrdup("");
}

static const char *mlflow_str(const sched_status_t *s, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->mlflow, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void derive_steps(sched_status_t *s, const char *tracking_uri)
{
    const sched_job_state_t js = s->job.state;
    const bool shards_done = s->shards_total > 0 && s->shards_done >= s->shards_total;
    const bool ended = sched_job_state_ended(js);
    const char *out = s->output_dir;

    if (js == SCHED_JOB_PENDING && s->job.started_at == 0)
        set_step(s, SCHED_STEP_VALIDATE, "succeeded", "%llu valid record(s) of %llu line(s); waiting to run",
                 (unsigned long long)s->records_valid, (unsigned long long)s->job.records_total);
    else if (s->job.records_invalid)
        set_step(s, SCHED_STEP_VALIDATE, "succeeded", "%llu valid record(s) of %llu line(s), %llu invalid skipped",
                 (unsigned long long)s->records_valid, (unsigned long long)s->job.records_total,
                 (unsigned long long)s->job.records_invalid);
    else
        set_step(s, SCHED_STEP_VALIDATE, "succeeded", "%llu valid record(s) of %llu line(s)",
                 (unsigned long long)s->records_valid, (unsigned long long)s->job.records_total);

    /* All shards done yet nothing scored is how a job fails when every call failed: the step failed. */
    const bool nothing_scored = s->scores[SCORE_OK] + s->scores[SCORE_NOT_APPLICABLE] == 0;
    const char *run = js == SCHED_JOB_PENDING          ? "pending"
                      : js == SCHED_JOB_SUCCEEDED      ? "succeeded"
                      : js == SCHED_JOB_RUNNING        ? (shards_done ? "succeeded" : "running")
                      : js == SCHED_JOB_STOPPING       ? "stopping"
                      : shards_done && !nothing_scored ? "succeeded"
                      : js == SCHED_JOB_STOPPED        ? "stopped"
                                                       : "failed";
    char errs[96] = "";
    if (s->unit_errors || s->scores[SCORE_ERROR])
        snprintf(errs, sizeof errs, "; %llu inference error(s), %llu judge error(s)",
                 (unsigned long long)s->unit_errors, (unsigned long long)s->scores[SCORE_ERROR]);
    set_step(s, SCHED_STEP_RUN, run,
             "%llu/%llu record-target(s) done, %llu shard(s) of %llu done, %llu in flight%s%s%s",
             (unsigned long long)s->units_done, (unsigned long long)s->units_total, (unsigned long long)s->shards_done,
             (unsigned long long)s->shards_total, (unsigned long long)s->shards_inflight, errs, s->note ? "; " : "",
             s->note ? s->note : "");

    const char *col = js == SCHED_JOB_SUCCEEDED ? "succeeded"
                      : ended                   ? (s->output_written ? "succeeded" : "failed")
                      : (js == SCHED_JOB_RUNNING || js == SCHED_JOB_STOPPING) && shards_done ? "running"
                      : js == SCHED_JOB_STOPPING                                             ? "running"
                                                                                             : "pending";
    if (!strcmp(col, "succeeded")) set_step(s, SCHED_STEP_COLLECT, col, "%s", out);
    else if (!strcmp(col, "failed")) set_step(s, SCHED_STEP_COLLECT, col, "no job.json in %s", out);
    else set_step(s, SCHED_STEP_COLLECT, col, "writes records.jsonl, summary.json, job.json to %s", out);

    const char *ms = mlflow_str(s, "state");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(s->mlflow, "attempts");
    long long attempts = cJSON_IsNumber(att) ? (long long)att->valuedouble : 0;
    if (!tracking_uri && (!ms || !strcmp(ms, "none"))) {
        set_step(s, SCHED_STEP_MLFLOW, "skipped", "no mlflow.tracking_uri in the spec");
    } else if (!ms || !strcmp(ms, "none")) {
        if (ended) set_step(s, SCHED_STEP_MLFLOW, "pending", "not started; `llmaj sync --job-dir %s` syncs it", out);
        else set_step(s, SCHED_STEP_MLFLOW, "pending", "syncs to %s when the job ends", tracking_uri);
    } else if (!strcmp(ms, "done")) {
        const char *exp = mlflow_str(s, "experiment_id"), *run_id = mlflow_str(s, "parent_run_id");
        const char *u = mlflow_str(s, "tracking_uri");
        set_step(s, SCHED_STEP_MLFLOW, "succeeded", "experiment %s, run %s at %s", exp ? exp : "?",
                 run_id ? run_id : "?",
                 u              ? u
                 : tracking_uri ? tracking_uri
                                : "?");
    } else if (!strcmp(ms, "syncing")) {
        set_step(s, SCHED_STEP_MLFLOW, "running",
                 "attempt %lld (a sync cut short resumes with the next `llmaj run` on "
                 "this database, or `llmaj sync --job-dir %s`)",
                 attempts, out);
    } else if (!strcmp(ms, "failed")) {
        set_step(s, SCHED_STEP_MLFLOW, "failed", "gave up after %lld attempt(s); `llmaj sync --job-dir %s` retries",
                 attempts, out);
    } else if (attempts > 0) {
        set_step(s, SCHED_STEP_MLFLOW, "pending",
                 "%lld attempt(s) failed; retried by the next `llmaj run` on this "
                 "database, or `llmaj sync --job-dir %s`",
                 attempts, out);
    } else {
        set_step(s, SCHED_STEP_MLFLOW, "pending", "queued");
    }
}

void sched_status_clear(sched_status_t *s)
{
    if (!s) return;
    sched_job_clear(&s->job);
    cJSON_Delete(s->mlflow);
    cJSON_Delete(s->cache);
    free(s->output_dir);
    free(s->note);
    free(s->output_uri);
    for (int i = 0; i < SCHED_N_STEPS; i++) free(s->steps[i].detail);
    memset(s, 0, sizeof *s);
}

sched_err_t sched_job_status(sched_db_t *db, const char *job_id, sched_status_t *s, errlist_t *errs)
{
    memset(s, 0, sizeof *s);
    store_t *st = db->st;
    if (store_begin(st) < 0) { /* one snapshot for everything below */
        errlist_add(errs, "%s: %s", db->path, store_errmsg(st));
        return SCHED_E_DB;
    }
    store_job_t row;
    int g = store_job_get(st, job_id, &row);
    if (g != 0) {
        if (g > 0) errlist_add(errs, "no job '%s' in %s", job_id, db->path);
        else errlist_add(errs, "%s: job %s: %s", db->path, job_id, store_errmsg(st));
        snapshot_end(st);
        return g > 0 ? SCHED_E_NOTFOUND : SCHED_E_DB;
    }
    int64_t now = (int64_t)time(NULL);
    bool has_counts = row.has_counts;
    store_counts_t counts = row.counts;
    s->note = row.note;
    row.note = NULL;
    job_from_row(&row, &s->job, now);
    store_job_clear(&row);
    cJSON *spec = s->job.spec_json ? cJSON_Parse(s->job.spec_json) : NULL;
    s->targets = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "evaluate_base_model")) ? 2 : 1;
    size_t n_metrics = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "builtin_metrics")) +
                       (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "custom_metrics"));
    store_job_stats_t stats;
    /* The engine keeps a job's counts in its row: a large job's status needs no count over its results. */
    int rc = has_counts ? store_job_stats_light(st, job_id, &stats)
                        : store_job_stats(st, job_id, s->targets, n_metrics, &stats);
    const cJSON *reuse = cJSON_GetObjectItemCaseSensitive(spec, "reuse_responses_from");
    bool cached = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "cache"));
    if (rc == 0 && (cached || cJSON_IsString(reuse)) &&
        !(s->cache = cache_status_json(st, job_id, cached, cJSON_IsString(reuse) ? reuse->valuestring : NULL,
                                       has_counts && counts.has_saved ? counts.saved : NULL)))
        rc = -1;
    if (rc < 0 || mlflow_sync_state(st, job_id, &s->mlflow) < 0) {
        errlist_add(errs, "%s: job %s: %s", db->path, job_id, store_errmsg(st));
        cJSON_Delete(spec);
        snapshot_end(st);
        sched_status_clear(s);
        return SCHED_E_DB;
    }
    snapshot_end(st);
    if (has_counts) {
        stats.records_done = counts.records_done;
        stats.units_done = counts.units_done;
        stats.output_errors = counts.unit_errors;
        memcpy(stats.scores, counts.scores, sizeof stats.scores);
    }
    s->records_valid = stats.records;
    s->records_done = stats.records_done;
    s->units_total = stats.records * s->targets;
    s->units_done = stats.units_done;
    s->unit_errors = stats.output_errors;
    s->shards_pending = stats.shards[SHARD_PENDING];
    s->shards_inflight = stats.shards[SHARD_INFLIGHT];
    s->shards_done = stats.shards[SHARD_DONE];
    s->shards_total = s->shards_pending + s->shards_inflight + s->shards_done;
    s->dispatches = stats.dispatches;
    s->deliveries = stats.leases;
    memcpy(s->scores, stats.scores, sizeof s->scores);
    s->error_cells = s->scores[SCORE_ERROR];
    s->partial = sched_job_state_ended(s->job.state) && s->units_done < s->units_total;
    if ((s->job.state == SCHED_JOB_RUNNING || s->job.state == SCHED_JOB_STOPPING) && s->job.updated_at > 0 &&
        now - s->job.updated_at > SCHED_SILENT_S)
        s->silent_s = now - s->job.updated_at;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(spec, "output_path");
    find_output(s, db->path, cJSON_IsString(op) ? op->valuestring : NULL);
    if (cJSON_IsString(op) && strncmp(op->valuestring, "s3://", 5) == 0) {
        size_t n = strlen(op->valuestring);
        while (n > 5 && op->valuestring[n - 1] == '/') n--;
        s->output_uri = xasprintf("%.*s/%s/", (int)n, op->valuestring, s->job.job_id);
    }
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(spec, "mlflow");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(ml, "tracking_uri");
    derive_steps(s, cJSON_IsString(uri) && *uri->valuestring ? uri->valuestring : NULL);
    cJSON_Delete(spec);
    return SCHED_OK;
}

/* ---- results ---- */

typedef struct {
    const sched_rows_t *cbs;
    bool stopped; /* the caller's callback stopped the walk */
} rows_t;

static int row_cb(const record_t *rec, const result_t *res, void *arg)
{
    rows_t *r = arg;
    int rc = r->cbs->row(rec, res, r->cbs->arg);
    if (rc) r->stopped = true;
    return rc;
}

sched_err_t sched_job_results(sched_db_t *db, const char *job_id, uint64_t offset, uint64_t limit,
                              const sched_rows_t *cbs, sched_page_t *page, errlist_t *errs)
{
    sched_page_t pg = {0};
    store_t *st = db->st;
    if (store_begin(st) < 0) { /* one snapshot: the count and the page agree while results come in */
        errlist_add(errs, "%s: %s", db->path, store_errmsg(st));
        return SCHED_E_DB;
    }
    store_job_t row;
    uint64_t scores = 0;
    int g = store_job_get(st, job_id, &row);
    sched_err_t rc = SCHED_OK;
    if (g != 0) {
        if (g > 0) errlist_add(errs, "no job '%s' in %s", job_id, db->path);
        else errlist_add(errs, "%s: job %s: %s", db->path, job_id, store_errmsg(st));
        rc = g > 0 ? SCHED_E_NOTFOUND : SCHED_E_DB;
    } else if (store_counts(st, job_id, &pg.total, &scores) < 0) {
        errlist_add(errs, "%s: job %s: %s", db->path, job_id, store_errmsg(st));
        rc = SCHED_E_DB;
    }
    pg.state = row.state;
    store_job_clear(&row);
    if (rc == SCHED_OK) {
        if (page) *page = pg;
        if (cbs && cbs->head) cbs->head(&pg, cbs->arg);
    }
    rows_t r = {.cbs = cbs};
    if (rc == SCHED_OK && cbs && cbs->row && store_outputs_page(st, job_id, offset, limit, row_cb, &r) < 0) {
        rc = r.stopped ? SCHED_E_IO : SCHED_E_DB;
        if (rc == SCHED_E_DB) errlist_add(errs, "%s: job %s: %s", db->path, job_id, store_errmsg(st));
    }
    snapshot_end(st);
    return rc;
}

int sched_result_line(buf_t *b, const char *job_id, const record_t *rec, const result_t *res)
{
    return output_record_line(b, job_id, rec, res);
}

sched_err_t sched_job_summary(sched_db_t *db, const char *job_id, cJSON **summary, errlist_t *errs)
{
    *summary = NULL;
    char *text = NULL;
    int rc = store_job_summary(db->st, job_id, &text);
    if (rc < 0) {
        errlist_add(errs, "%s: job %s: %s", db->path, job_id, store_errmsg(db->st));
        return SCHED_E_DB;
    }
    if (rc > 0) {
        errlist_add(errs, "job %s has no summary (yet): it is written when the job ends", job_id);
        return SCHED_E_NOTFOUND;
    }
    *summary = cJSON_Parse(text);
    free(text);
    if (!*summary) {
        errlist_add(errs, "%s: job %s: its stored summary is not valid JSON", db->path, job_id);
        return SCHED_E_DB;
    }
    return SCHED_OK;
}
