/* llmaj status JOB: where a job is, read from its job database (so it also works while the job
 * runs, from another terminal): state and error, the steps the seed's users know (validate →
 * infer+judge → collect → mlflow) each with its status, counts of records, shards and scores,
 * timings, the MLflow sync state and the output folder. `--json` prints the same as one object.
 *
 * How the steps are derived (the store keeps the job's state and per-shard states, not steps):
 *   validate     a job is stored only once its spec and whole dataset passed validation, so it is
 *                "succeeded" for every stored job ("running" while the job is still pending).
 *   infer+judge  "running" until every shard is done; "succeeded" then; a job that failed or
 *                was stopped with shards left shows "failed" / "stopped", and a failed job whose
 *                shards all came back without a single score (every call failed) "failed".
 *   collect      "pending" while shards remain; "running" between the last shard and the job's
 *                end; "succeeded" when the job succeeded, or ended otherwise with job.json
 *                written; else "failed".
 *   mlflow       "skipped" without mlflow.tracking_uri; else from the sync state
 *                (scheduler/mlflow_sync.h): pending → "pending", syncing → "running",
 *                done → "succeeded", failed → "failed"; no state yet → "pending". */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "buf.h"
#include "cli.h"
#include "jobdb.h"
#include "mem.h"
#include "mlflow_sync.h"
#include "store.h"
#include "termtext.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: llmaj status JOB [--db PATH] [--json]\n"
        "\n"
        "Shows a job: its state and error, its steps (validate, infer+judge, collect, mlflow) each\n"
        "with a status, counts of records, shards and scores, timings, the MLflow sync state and the\n"
        "output folder. Works while the job runs. JOB is a job id or the beginning of one\n"
        "(`llmaj list` shows them).\n"
        "\n"
        "options:\n"
        "  --db PATH   job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
        "  --json      one JSON object\n"
        "\n"
        "exit status: 0 shown (whatever the job's state), 1 the database could not be read,\n"
        "2 bad input (unknown flag, no job database at PATH, no such job)\n");
}

enum { STEP_VALIDATE, STEP_RUN, STEP_COLLECT, STEP_MLFLOW, N_STEPS };
static const char *const step_names[N_STEPS] = {"validate", "infer+judge", "collect", "mlflow"};

typedef struct {
    store_job_t job;
    cJSON *spec;                /* parsed spec_json (may be NULL) */
    cJSON *mlflow;              /* parsed mlflow_sync_state */
    store_job_stats_t st;
    unsigned targets;
    uint64_t shards_total, units_total;
    char *out_dir;
    bool out_exists, out_written;   /* the folder exists; job.json is in it */
    double elapsed;             /* -1 when not started */
    const char *steps[N_STEPS];
    char *details[N_STEPS];
} status_t;

static const char *spec_str(const cJSON *spec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *mlflow_str(const status_t *s, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->mlflow, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *tracking_uri(const status_t *s)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s->spec, "mlflow");
    const char *u = spec_str(m, "tracking_uri");
    return u && *u ? u : NULL;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The job's output folder: <folder of the database>/<job id> when it exists (the database's
 * default place is <output_path>/llmaj.db), else <output_path>/<job id> when that exists (as seen
 * from here: relative output paths are relative to where the job ran), else where it is expected. */
static void find_output(status_t *s, const char *db_path)
{
    char tmp[PATH_MAX], real[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", db_path);
    char *db_dir = xasprintf("%s/%s", dirname(tmp), s->job.job_id);
    const char *op = spec_str(s->spec, "output_path");
    char *from_spec = NULL;
    if (op) {
        size_t n = strlen(op);
        from_spec = xasprintf("%.*s/%s", (int)(n && op[n - 1] == '/' ? n - 1 : n), op, s->job.job_id);
    }
    const char *found = is_dir(db_dir) ? db_dir : from_spec && is_dir(from_spec) ? from_spec : NULL;
    if (found) {
        s->out_dir = xstrdup(realpath(found, real) ? real : found);
        s->out_exists = true;
        char *jj = xasprintf("%s/job.json", s->out_dir);
        struct stat st;
        s->out_written = stat(jj, &st) == 0;
        free(jj);
    } else if (from_spec && (op[0] == '/' || !strncmp(op, "s3://", 5))) {
        s->out_dir = xstrdup(from_spec);
    } else {
        snprintf(tmp, sizeof tmp, "%s", db_path);
        const char *d = dirname(tmp);
        s->out_dir = realpath(d, real) ? xasprintf("%s/%s", real, s->job.job_id) : xstrdup(db_dir);
    }
    free(db_dir);
    free(from_spec);
}

/* A running job whose scheduler has not touched it for a while (it refreshes every heartbeat):
 * seconds of silence past STALE_S, else 0. */
#define STALE_S 30
static int64_t stale_seconds(const store_job_t *j)
{
    if (j->state != JOB_RUNNING || j->updated_at <= 0) return 0;
    int64_t quiet = (int64_t)time(NULL) - j->updated_at;
    return quiet > STALE_S ? quiet : 0;
}

/* mlflow_sync_state, unless the database has never had an MLflow sync (then {"state":"none"}
 * without creating the table: reading changes nothing). */
static int load_mlflow(store_t *st, const char *job_id, cJSON **out)
{
    sqlite3 *db = store_db(st);
    sqlite3_stmt *q = NULL;
    bool have = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='mlflow_sync'", -1, &q,
                           NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(q);
    have = rc == SQLITE_ROW;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    char *txt = NULL;
    if (have && mlflow_sync_state(db, job_id, &txt) < 0) return -1;
    *out = cJSON_Parse(txt ? txt : "{\"state\":\"none\"}");
    free(txt);
    return *out ? 0 : -1;
}

static void set_step(status_t *s, int i, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_step(status_t *s, int i, const char *status, const char *fmt, ...)
{
    s->steps[i] = status;
    buf_t b;
    buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(&b, fmt, ap) < 0) {}   /* a long detail is cut */
    va_end(ap);
    free(s->details[i]);
    s->details[i] = buf_take(&b);
}

static void derive_steps(status_t *s)
{
    const job_state_t js = s->job.state;
    const store_job_stats_t *st = &s->st;
    const bool shards_done = s->shards_total > 0 && st->shards[SHARD_DONE] >= s->shards_total;
    const bool ended = js == JOB_SUCCEEDED || js == JOB_FAILED || js == JOB_STOPPED;

    if (js == JOB_PENDING)
        set_step(s, STEP_VALIDATE, "running", "reading the dataset");
    else if (s->job.records_invalid)
        set_step(s, STEP_VALIDATE, "succeeded", "%llu valid record(s) of %llu line(s), %llu invalid skipped",
                 (unsigned long long)st->records, (unsigned long long)s->job.records_total,
                 (unsigned long long)s->job.records_invalid);
    else
        set_step(s, STEP_VALIDATE, "succeeded", "%llu valid record(s) of %llu line(s)",
                 (unsigned long long)st->records, (unsigned long long)s->job.records_total);

    /* All shards done yet nothing scored is how the scheduler fails a job: the step failed. */
    const bool nothing_scored = st->scores[SCORE_OK] + st->scores[SCORE_NOT_APPLICABLE] == 0;
    const char *run = js == JOB_PENDING ? "pending"
                    : js == JOB_SUCCEEDED ? "succeeded"
                    : js == JOB_RUNNING ? (shards_done ? "succeeded" : "running")
                    : shards_done && !nothing_scored ? "succeeded"
                    : js == JOB_STOPPED ? "stopped" : "failed";
    char errs[96] = "";
    if (st->output_errors || st->scores[SCORE_ERROR])
        snprintf(errs, sizeof errs, "; %llu inference error(s), %llu judge error(s)",
                 (unsigned long long)st->output_errors, (unsigned long long)st->scores[SCORE_ERROR]);
    set_step(s, STEP_RUN, run, "%llu/%llu record-target(s) done, %llu shard(s) of %llu done, %llu in flight%s",
             (unsigned long long)st->outputs, (unsigned long long)s->units_total,
             (unsigned long long)st->shards[SHARD_DONE], (unsigned long long)s->shards_total,
             (unsigned long long)st->shards[SHARD_INFLIGHT], errs);

    const char *col = js == JOB_SUCCEEDED ? "succeeded"
                    : ended ? (s->out_written ? "succeeded" : "failed")
                    : js == JOB_RUNNING && shards_done ? "running" : "pending";
    if (!strcmp(col, "succeeded")) set_step(s, STEP_COLLECT, col, "%s", s->out_dir);
    else if (!strcmp(col, "failed")) set_step(s, STEP_COLLECT, col, "no job.json in %s", s->out_dir);
    else set_step(s, STEP_COLLECT, col, "writes records.jsonl, summary.json, job.json to %s", s->out_dir);

    const char *uri = tracking_uri(s);
    const char *ms = mlflow_str(s, "state");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(s->mlflow, "attempts");
    long long attempts = cJSON_IsNumber(att) ? (long long)att->valuedouble : 0;
    if (!uri && (!ms || !strcmp(ms, "none"))) {
        set_step(s, STEP_MLFLOW, "skipped", "no mlflow.tracking_uri in the spec");
    } else if (!ms || !strcmp(ms, "none")) {
        if (ended)
            set_step(s, STEP_MLFLOW, "pending", "not started; `llmaj sync --job-dir %s` syncs it", s->out_dir);
        else
            set_step(s, STEP_MLFLOW, "pending", "syncs to %s when the job ends", uri);
    } else if (!strcmp(ms, "done")) {
        const char *exp = mlflow_str(s, "experiment_id"), *run_id = mlflow_str(s, "parent_run_id");
        set_step(s, STEP_MLFLOW, "succeeded", "experiment %s, run %s at %s", exp ? exp : "?", run_id ? run_id : "?",
                 mlflow_str(s, "tracking_uri") ? mlflow_str(s, "tracking_uri") : uri ? uri : "?");
    } else if (!strcmp(ms, "syncing")) {
        set_step(s, STEP_MLFLOW, "running", "attempt %lld (a sync cut short resumes with the next `llmaj run` on "
                                            "this database, or `llmaj sync --job-dir %s`)", attempts, s->out_dir);
    } else if (!strcmp(ms, "failed")) {
        set_step(s, STEP_MLFLOW, "failed", "gave up after %lld attempt(s); `llmaj sync --job-dir %s` retries",
                 attempts, s->out_dir);
    } else if (attempts > 0) {
        set_step(s, STEP_MLFLOW, "pending", "%lld attempt(s) failed; retried by the next `llmaj run` on this "
                                            "database, or `llmaj sync --job-dir %s`",
                 attempts, s->out_dir);
    } else {
        set_step(s, STEP_MLFLOW, "pending", "queued");
    }
}

static void status_clear(status_t *s)
{
    store_job_clear(&s->job);
    cJSON_Delete(s->spec);
    cJSON_Delete(s->mlflow);
    free(s->out_dir);
    for (int i = 0; i < N_STEPS; i++) free(s->details[i]);
}

/* Reads everything in one snapshot. 0, or -1 with err. */
static int load(store_t *st, const char *db_path, const char *job_id, status_t *s, char *err, size_t errlen)
{
    if (store_begin(st) < 0) {
        snprintf(err, errlen, "%s: %s", db_path, store_errmsg(st));
        return -1;
    }
    int rc = store_job_get(st, job_id, &s->job);
    if (rc != 0) {
        snprintf(err, errlen, "%s: job %s: %s", db_path, job_id, rc > 0 ? "gone (deleted meanwhile?)" : store_errmsg(st));
        if (store_rollback(st) < 0) {}
        return -1;
    }
    s->spec = s->job.spec_json ? cJSON_Parse(s->job.spec_json) : NULL;
    s->targets = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->spec, "evaluate_base_model")) ? 2 : 1;
    if (store_job_stats(st, job_id, s->targets, &s->st) < 0 || load_mlflow(st, job_id, &s->mlflow) < 0) {
        snprintf(err, errlen, "%s: job %s: %s", db_path, job_id, store_errmsg(st));
        if (store_rollback(st) < 0) {}
        return -1;
    }
    if (store_commit(st) < 0) {}   /* read only */
    s->shards_total = s->st.shards[SHARD_PENDING] + s->st.shards[SHARD_INFLIGHT] + s->st.shards[SHARD_DONE];
    s->units_total = s->st.records * s->targets;
    s->elapsed = jobdb_elapsed(&s->job, (int64_t)time(NULL));
    find_output(s, db_path);
    derive_steps(s);
    return 0;
}

static void metric_names(const cJSON *spec, buf_t *b)
{
    const cJSON *bi = cJSON_GetObjectItemCaseSensitive(spec, "builtin_metrics");
    const cJSON *cu = cJSON_GetObjectItemCaseSensitive(spec, "custom_metrics");
    const cJSON *m;
    cJSON_ArrayForEach(m, bi)
        if (cJSON_IsString(m) && buf_printf(b, "%s%s", b->len ? ", " : "", m->valuestring) < 0) {}
    cJSON_ArrayForEach(m, cu) {
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(m, "customMetricDefinition");
        const char *name = spec_str(def ? def : m, "name");
        if (name && buf_printf(b, "%s%s", b->len ? ", " : "", name) < 0) {}
    }
}

static void print_human(const status_t *s)
{
    const store_job_stats_t *st = &s->st;
    buf_t b;
    buf_init(&b, 0);
    printf("job             %s\n", s->job.job_id);
    if (s->job.name) {
        termtext_line(&b, s->job.name, 200);
        printf("name            %s\n", b.data ? b.data : "");
        buf_reset(&b);
    }
    printf("state           %s\n", job_state_name(s->job.state));
    int64_t quiet = stale_seconds(&s->job);
    if (quiet > 0)
        printf("                no sign of its scheduler for %llds: if it died, finish the job with\n"
               "                `llmaj run --resume %s --db DB` (or llmaj-scheduler --resume)\n",
               (long long)quiet, s->job.job_id);
    else if (s->job.state == JOB_STOPPED)
        printf("                finish it with `llmaj run --resume %s --db DB`\n", s->job.job_id);
    if (s->job.error) {
        termtext_line(&b, s->job.error, 0);
        printf("error           %s\n", b.data ? b.data : "");
        buf_reset(&b);
    }
    const char *model = spec_str(s->spec, "model"), *base = spec_str(s->spec, "base_model");
    const char *judge = spec_str(s->spec, "evaluator_model");
    if (model || s->targets > 1 || judge) {
        if (model) printf("model           %s\n", model);
        else printf("model           (responses from the dataset)\n");
        if (s->targets > 1) printf("base model      %s\n", base ? base : "(responses from the dataset)");
        if (judge) printf("judge           %s\n", judge);
    }
    metric_names(s->spec, &b);
    if (b.len) printf("metrics         %s\n", b.data);
    buf_reset(&b);

    printf("\nsteps\n");
    for (int i = 0; i < N_STEPS; i++) printf("  %-12s %-10s %s\n", step_names[i], s->steps[i], s->details[i]);

    printf("\nrecords         %llu line(s): %llu valid, %llu invalid; %llu evaluated (every target done)\n",
           (unsigned long long)s->job.records_total, (unsigned long long)st->records,
           (unsigned long long)s->job.records_invalid, (unsigned long long)st->records_done);
    printf("record-targets  %llu/%llu done (%.0f%%), %llu inference error(s)\n", (unsigned long long)st->outputs,
           (unsigned long long)s->units_total, s->units_total ? 100.0 * (double)st->outputs / (double)s->units_total : 0.0,
           (unsigned long long)st->output_errors);
    printf("shards          %llu done, %llu in flight, %llu pending (%llu total, %llu dispatch(es))\n",
           (unsigned long long)st->shards[SHARD_DONE], (unsigned long long)st->shards[SHARD_INFLIGHT],
           (unsigned long long)st->shards[SHARD_PENDING], (unsigned long long)s->shards_total,
           (unsigned long long)st->dispatches);
    printf("scores          %llu ok, %llu unscored, %llu n.a., %llu error\n", (unsigned long long)st->scores[SCORE_OK],
           (unsigned long long)st->scores[SCORE_UNSCORED], (unsigned long long)st->scores[SCORE_NOT_APPLICABLE],
           (unsigned long long)st->scores[SCORE_ERROR]);

    char t[32], d[32];
    jobdb_time_local(s->job.created_at, t, sizeof t);
    printf("created         %s\n", t);
    jobdb_time_local(s->job.started_at, t, sizeof t);
    printf("started         %s\n", t);
    jobdb_time_local(s->job.finished_at, t, sizeof t);
    printf("finished        %s\n", t);
    jobdb_duration(s->elapsed, d, sizeof d);
    printf("elapsed         %s", d);
    if (s->elapsed > 0 && st->outputs > 0) {
        double rate = (double)st->outputs / s->elapsed;
        printf(" (%.1f record-targets/s", rate);
        if (s->job.state == JOB_RUNNING && st->outputs < s->units_total) {
            jobdb_duration((double)(s->units_total - st->outputs) / rate, d, sizeof d);
            printf(", about %s to go", d);
        }
        printf(")");
    }
    printf("\n");

    const char *ms = mlflow_str(s, "state");
    if (!ms || !strcmp(ms, "none")) {
        printf("mlflow          %s\n", tracking_uri(s) ? "not synced yet" : "-");
    } else {
        const cJSON *att = cJSON_GetObjectItemCaseSensitive(s->mlflow, "attempts");
        printf("mlflow          %s, %lld attempt(s)", ms, cJSON_IsNumber(att) ? (long long)att->valuedouble : 0LL);
        const char *u = mlflow_str(s, "tracking_uri");
        if (u) printf(", %s", u);
        const char *last = mlflow_str(s, "last_error");
        if (last && strcmp(ms, "done")) {
            termtext_line(&b, last, 300);
            printf(", last error: %s", b.data ? b.data : "");
            buf_reset(&b);
        }
        printf("\n");
    }
    printf("output          %s%s\n", s->out_dir,
           s->out_written ? ""
           : s->job.state == JOB_RUNNING || s->job.state == JOB_PENDING ? " (written when the job ends)"
           : s->out_exists ? " (incomplete: no job.json)" : " (not found here)");
    buf_free(&b);
}

static int print_json(status_t *s)
{
    const store_job_stats_t *st = &s->st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", s->job.job_id);
    jobdb_json_str(o, "name", s->job.name);
    cJSON_AddStringToObject(o, "state", job_state_name(s->job.state));
    cJSON_AddNumberToObject(o, "seconds_since_scheduler_seen", (double)stale_seconds(&s->job));
    jobdb_json_str(o, "error", s->job.error);
    jobdb_json_str(o, "model", spec_str(s->spec, "model"));
    jobdb_json_str(o, "base_model", s->targets > 1 ? spec_str(s->spec, "base_model") : NULL);
    jobdb_json_str(o, "evaluator_model", spec_str(s->spec, "evaluator_model"));
    cJSON *a = cJSON_AddArrayToObject(o, "steps");
    for (int i = 0; i < N_STEPS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", step_names[i]);
        cJSON_AddStringToObject(e, "status", s->steps[i]);
        cJSON_AddStringToObject(e, "detail", s->details[i]);
        cJSON_AddItemToArray(a, e);
    }
    cJSON *r = cJSON_AddObjectToObject(o, "records");
    cJSON_AddNumberToObject(r, "total", (double)s->job.records_total);
    cJSON_AddNumberToObject(r, "valid", (double)st->records);
    cJSON_AddNumberToObject(r, "invalid", (double)s->job.records_invalid);
    cJSON_AddNumberToObject(r, "evaluated", (double)st->records_done);
    r = cJSON_AddObjectToObject(o, "record_targets");
    cJSON_AddNumberToObject(r, "total", (double)s->units_total);
    cJSON_AddNumberToObject(r, "done", (double)st->outputs);
    cJSON_AddNumberToObject(r, "errors", (double)st->output_errors);
    r = cJSON_AddObjectToObject(o, "shards");
    cJSON_AddNumberToObject(r, "total", (double)s->shards_total);
    cJSON_AddNumberToObject(r, "done", (double)st->shards[SHARD_DONE]);
    cJSON_AddNumberToObject(r, "in_flight", (double)st->shards[SHARD_INFLIGHT]);
    cJSON_AddNumberToObject(r, "pending", (double)st->shards[SHARD_PENDING]);
    cJSON_AddNumberToObject(r, "dispatches", (double)st->dispatches);
    r = cJSON_AddObjectToObject(o, "scores");
    cJSON_AddNumberToObject(r, "ok", (double)st->scores[SCORE_OK]);
    cJSON_AddNumberToObject(r, "unscored", (double)st->scores[SCORE_UNSCORED]);
    cJSON_AddNumberToObject(r, "not_applicable", (double)st->scores[SCORE_NOT_APPLICABLE]);
    cJSON_AddNumberToObject(r, "error", (double)st->scores[SCORE_ERROR]);
    jobdb_json_time(o, "created_at", s->job.created_at);
    jobdb_json_time(o, "started_at", s->job.started_at);
    jobdb_json_time(o, "finished_at", s->job.finished_at);
    if (s->elapsed >= 0) cJSON_AddNumberToObject(o, "elapsed_s", s->elapsed);
    else cJSON_AddNullToObject(o, "elapsed_s");
    cJSON_AddItemToObject(o, "mlflow", s->mlflow);
    s->mlflow = NULL;   /* now o's */
    cJSON_AddStringToObject(o, "output_dir", s->out_dir);
    cJSON_AddBoolToObject(o, "output_written", s->out_written);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return -1;
    int rc = puts(txt) < 0 ? -1 : 0;
    free(txt);
    return rc;
}

int cmd_status(int argc, char **argv)
{
    const char *db_flag;
    bool json;
    int done = jobdb_flags(argc, argv, usage, &db_flag, &json);
    if (done >= 0) return done;
    if (optind >= argc) {
        fprintf(stderr, "llmaj status: which job? give its id (`llmaj list` shows them)\n\n");
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "llmaj status: one job at a time: unexpected argument '%s'\n", argv[optind + 1]);
        return CLI_EXIT_BAD_INPUT;
    }
    const char *origin;
    const char *path = jobdb_path(db_flag, &origin);
    char err[2048];
    store_t *st = jobdb_open(path, origin, err, sizeof err);
    if (!st) {
        fprintf(stderr, "llmaj status: %s\n", err);
        return CLI_EXIT_BAD_INPUT;
    }
    char *job_id = NULL;
    int rc = jobdb_resolve(st, path, argv[optind], &job_id, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "llmaj status: %s\n", err);
        store_close(&st);
        return rc > 0 ? CLI_EXIT_BAD_INPUT : CLI_EXIT_FAILED;
    }
    status_t s;
    memset(&s, 0, sizeof s);
    rc = CLI_EXIT_OK;
    if (load(st, path, job_id, &s, err, sizeof err) < 0) {
        fprintf(stderr, "llmaj status: %s\n", err);
        rc = CLI_EXIT_FAILED;
    } else if (json) {
        if (print_json(&s) < 0) rc = CLI_EXIT_FAILED;
    } else {
        print_human(&s);
    }
    status_clear(&s);
    free(job_id);
    store_close(&st);
    return rc;
}
