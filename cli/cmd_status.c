/* llmaj status JOB: where a job is, read from its job database (so it also works while the job
 * runs, from another terminal): state and error, the steps the seed's users know (validate ->
 * infer+judge -> collect -> mlflow) each with its status, counts of records, shards and scores,
 * timings, the MLflow sync state and the output folder. `--json` prints the same as one object.
 * What is read, and how the steps are derived, is the scheduler's (sched_job_status); this file
 * only prints it. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "cli.h"
#include "jobdb.h"
#include "jobsrc.h"
#include "jsonprint.h"
#include "mem.h"
#include "scheduler.h"
#include "termtext.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj status JOB [--scheduler URL | --db PATH] [--json]\n"
               "\n"
               "Shows a job: its state and error, its steps (validate, infer+judge, collect, mlflow) each\n"
               "with a status, counts of records, shards and scores, timings, the MLflow sync state and the\n"
               "output folder. Works while the job runs. JOB is a job id or the beginning of one\n"
               "(`llmaj list` shows them).\n"
               "\n"
               "options:\n"
               "  --scheduler URL  a scheduler service (env LLMAJ_SCHEDULER; token from LLMAJ_TOKEN)\n"
               "  --db PATH   job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
               "  --json      one JSON object\n"
               "\n"
               "exit status: 0 shown (whatever the job's state), 1 the database could not be read,\n"
               "2 bad input (unknown flag, no job database at PATH, no such job)\n");
}

static const char *spec_str(const cJSON *spec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *mlflow_str(const sched_status_t *s, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->mlflow, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *tracking_uri(const cJSON *spec)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(spec, "mlflow");
    const char *u = spec_str(m, "tracking_uri");
    return u && *u ? u : NULL;
}

static void metric_names(const cJSON *spec, buf_t *b)
{
    const cJSON *bi = cJSON_GetObjectItemCaseSensitive(spec, "builtin_metrics");
    const cJSON *cu = cJSON_GetObjectItemCaseSensitive(spec, "custom_metrics");
    const cJSON *m;
    /* b has no cap: an append cannot fail, and if it could the line would just be shorter. */
    cJSON_ArrayForEach(m, bi) if (cJSON_IsString(m) &&
                                  buf_printf(b, "%s%s", b->len ? ", " : "", m->valuestring) < 0) return;
    cJSON_ArrayForEach(m, cu)
    {
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(m, "customMetricDefinition");
        const char *name = spec_str(def ? def : m, "name");
        if (name && buf_printf(b, "%s%s", b->len ? ", " : "", name) < 0) return;
    }
}

static void print_human(const sched_status_t *s, const cJSON *spec, bool remote)
{
    const sched_job_t *j = &s->job;
    buf_t b;
    buf_init(&b, 0);
    printf("job             %s\n", j->job_id);
    if (j->name) {
        termtext_line(&b, j->name, 200);
        printf("name            %s\n", b.data ? b.data : "");
        buf_reset(&b);
    }
    printf("state           %s\n", sched_job_state_name(j->state));
    if (s->silent_s > 0)
        printf("                no sign of its scheduler for %llds: if it died, finish the job with\n"
               "                `llmaj run --resume %s --db DB` (or llmaj-scheduler --resume)\n",
               (long long)s->silent_s, j->job_id);
    else if (j->state == SCHED_JOB_STOPPED || (j->state == SCHED_JOB_FAILED && s->partial))
        printf("                %s it with `llmaj retry %s`\n", remote ? "finish" : "finish (here)", j->job_id);
    if (j->state == SCHED_JOB_SUCCEEDED && s->error_cells)
        printf("                %llu cell(s) ended `error`: `llmaj retry %s` reruns them\n",
               (unsigned long long)s->error_cells, j->job_id);
    if (s->note) printf("note            %s\n", s->note);
    if (j->error) {
        termtext_line(&b, j->error, 0);
        printf("error           %s\n", b.data ? b.data : "");
        buf_reset(&b);
    }
    if (j->state == SCHED_JOB_FAILED && j->failure &&
        (!strcmp(j->failure, "output") || !strcmp(j->failure, "database")))
        printf("                every committed result is kept: free space, then `llmaj retry %s` (or "
               "`llmaj run --resume %s`) finishes it without calling a model again for them\n",
               j->job_id, j->job_id);
    const char *base = spec_str(spec, "base_model");
    if (j->model || s->targets > 1 || j->evaluator_model) {
        if (j->model) printf("model           %s\n", j->model);
        else printf("model           (responses from the dataset)\n");
        if (s->targets > 1) printf("base model      %s\n", base ? base : "(responses from the dataset)");
        if (j->evaluator_model) printf("judge           %s\n", j->evaluator_model);
    }
    metric_names(spec, &b);
    if (b.len) printf("metrics         %s\n", b.data);
    buf_reset(&b);

    printf("\nsteps\n");
    for (int i = 0; i < SCHED_N_STEPS; i++)
        printf("  %-12s %-10s %s\n", s->steps[i].name, s->steps[i].status, s->steps[i].detail);

    printf("\nrecords         %llu line(s): %llu valid, %llu invalid; %llu evaluated (every target done)\n",
           (unsigned long long)j->records_total, (unsigned long long)s->records_valid,
           (unsigned long long)j->records_invalid, (unsigned long long)s->records_done);
    printf("record-targets  %llu/%llu done (%.0f%%), %llu inference error(s)\n", (unsigned long long)s->units_done,
           (unsigned long long)s->units_total,
           s->units_total ? 100.0 * (double)s->units_done / (double)s->units_total : 0.0,
           (unsigned long long)s->unit_errors);
    printf("shards          %llu done, %llu in flight, %llu pending (%llu total; %llu submission(s) to the broker, "
           "%llu delivery(ies) to workers)\n",
           (unsigned long long)s->shards_done, (unsigned long long)s->shards_inflight,
           (unsigned long long)s->shards_pending, (unsigned long long)s->shards_total,
           (unsigned long long)s->dispatches, (unsigned long long)s->deliveries);
    printf("scores          %llu ok, %llu unscored, %llu n.a., %llu error\n", (unsigned long long)s->scores[SCORE_OK],
           (unsigned long long)s->scores[SCORE_UNSCORED], (unsigned long long)s->scores[SCORE_NOT_APPLICABLE],
           (unsigned long long)s->scores[SCORE_ERROR]);
    if (s->cache) { /* docs/iteration.md */
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(s->cache, "reused_from");
        printf("calls saved     %.0f response(s) reused%s%s, %.0f inference and %.0f judge cache hit(s)%s\n",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s->cache, "reused_responses")),
               cJSON_IsString(from) ? " from " : "", cJSON_IsString(from) ? from->valuestring : "",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s->cache, "inference_hits")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s->cache, "judge_hits")),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->cache, "enabled")) ? "" : " (cache off)");
    }

    char t[32], d[32];
    jobdb_time_local(j->created_at, t, sizeof t);
    printf("created         %s\n", t);
    jobdb_time_local(j->started_at, t, sizeof t);
    printf("started         %s\n", t);
    jobdb_time_local(j->finished_at, t, sizeof t);
    printf("finished        %s\n", t);
    jobdb_duration(j->elapsed_s, d, sizeof d);
    printf("elapsed         %s", d);
    if (j->elapsed_s > 0 && s->units_done > 0) {
        double rate = (double)s->units_done / j->elapsed_s;
        printf(" (%.1f record-targets/s", rate);
        if (j->state == SCHED_JOB_RUNNING && s->units_done < s->units_total) {
            jobdb_duration((double)(s->units_total - s->units_done) / rate, d, sizeof d);
            printf(", about %s to go", d);
        }
        printf(")");
    }
    printf("\n");

    const char *ms = mlflow_str(s, "state");
    if (!ms || !strcmp(ms, "none")) {
        printf("mlflow          %s\n", tracking_uri(spec) ? "not synced yet" : "-");
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
    printf("output          %s%s\n", s->output_dir,
           s->output_written                                                ? ""
           : j->state == SCHED_JOB_RUNNING || j->state == SCHED_JOB_PENDING ? " (written when the job ends)"
           : s->output_exists                                               ? " (incomplete: no job.json)"
                                                                            : " (not found here)");
    buf_free(&b);
}

static int print_json(sched_status_t *s)
{
    const sched_job_t *j = &s->job;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", j->job_id);
    jobdb_json_str(o, "name", j->name);
    cJSON_AddStringToObject(o, "state", sched_job_state_name(j->state));
    cJSON_AddNumberToObject(o, "seconds_since_scheduler_seen", (double)s->silent_s);
    jobdb_json_str(o, "error", j->error);
    jobdb_json_str(o, "failure", j->failure);
    jobdb_json_str(o, "model", j->model);
    jobdb_json_str(o, "base_model", j->base_model);
    jobdb_json_str(o, "evaluator_model", j->evaluator_model);
    cJSON *a = cJSON_AddArrayToObject(o, "steps");
    for (int i = 0; i < SCHED_N_STEPS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", s->steps[i].name);
        cJSON_AddStringToObject(e, "status", s->steps[i].status);
        cJSON_AddStringToObject(e, "detail", s->steps[i].detail);
        cJSON_AddItemToArray(a, e);
    }
    cJSON *r = cJSON_AddObjectToObject(o, "records");
    cJSON_AddNumberToObject(r, "total", (double)j->records_total);
    cJSON_AddNumberToObject(r, "valid", (double)s->records_valid);
    cJSON_AddNumberToObject(r, "invalid", (double)j->records_invalid);
    cJSON_AddNumberToObject(r, "evaluated", (double)s->records_done);
    r = cJSON_AddObjectToObject(o, "record_targets");
    cJSON_AddNumberToObject(r, "total", (double)s->units_total);
    cJSON_AddNumberToObject(r, "done", (double)s->units_done);
    cJSON_AddNumberToObject(r, "errors", (double)s->unit_errors);
    r = cJSON_AddObjectToObject(o, "shards");
    cJSON_AddNumberToObject(r, "total", (double)s->shards_total);
    cJSON_AddNumberToObject(r, "done", (double)s->shards_done);
    cJSON_AddNumberToObject(r, "in_flight", (double)s->shards_inflight);
    cJSON_AddNumberToObject(r, "pending", (double)s->shards_pending);
    cJSON_AddNumberToObject(r, "dispatches", (double)s->dispatches);
    cJSON_AddNumberToObject(r, "deliveries", (double)s->deliveries);
    r = cJSON_AddObjectToObject(o, "scores");
    cJSON_AddNumberToObject(r, "ok", (double)s->scores[SCORE_OK]);
    cJSON_AddNumberToObject(r, "unscored", (double)s->scores[SCORE_UNSCORED]);
    cJSON_AddNumberToObject(r, "not_applicable", (double)s->scores[SCORE_NOT_APPLICABLE]);
    cJSON_AddNumberToObject(r, "error", (double)s->scores[SCORE_ERROR]);
    jobdb_json_time(o, "created_at", j->created_at);
    jobdb_json_time(o, "started_at", j->started_at);
    jobdb_json_time(o, "finished_at", j->finished_at);
    if (j->elapsed_s >= 0) cJSON_AddNumberToObject(o, "elapsed_s", j->elapsed_s);
    else cJSON_AddNullToObject(o, "elapsed_s");
    cJSON_AddItemToObject(o, "mlflow", s->mlflow);
    s->mlflow = NULL; /* now o's */
    if (s->cache) {
        cJSON_AddItemToObject(o, "cache", s->cache);
        s->cache = NULL; /* now o's */
    }
    jobdb_json_str(o, "note", s->note);
    cJSON_AddBoolToObject(o, "partial", s->partial);
    cJSON_AddNumberToObject(o, "error_cells", (double)s->error_cells);
    cJSON_AddStringToObject(o, "output_dir", s->output_dir ? s->output_dir : "");
    cJSON_AddBoolToObject(o, "output_written", s->output_written);
    char *txt = jsonprint(o, true);
    cJSON_Delete(o);
    if (!txt) return -1;
    int rc = puts(txt) < 0 ? -1 : 0;
    free(txt);
    return rc;
}

int cmd_status(int argc, char **argv)
{
    const char *url = remote_take_flag(&argc, argv);
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
    jobsrc_t src;
    int rc;
    if (jobsrc_open(&src, url, db_flag, "llmaj status", &rc) < 0) return rc;
    char err[4096];
    errlist_t errs;
    errlist_init(&errs, 0);
    char *job_id = NULL;
    sched_err_t why = jobsrc_resolve(&src, argv[optind], &job_id, &errs);
    if (why != SCHED_OK) {
        jobdb_errs(&errs, err, sizeof err);
        fprintf(stderr, "llmaj status: %s\n", err);
        errlist_free(&errs);
        jobsrc_close(&src);
        return cli_exit(why);
    }
    sched_status_t s;
    rc = CLI_EXIT_OK;
    why = jobsrc_status(&src, job_id, &s, &errs);
    if (why != SCHED_OK) {
        jobdb_errs(&errs, err, sizeof err);
        fprintf(stderr, "llmaj status: %s\n", err);
        /* The job was there a moment ago: whatever happened, it is not bad input. */
        rc = CLI_EXIT_FAILED;
    } else {
        cJSON *spec = s.job.spec_json ? cJSON_Parse(s.job.spec_json) : NULL;
        if (json) {
            if (print_json(&s) < 0) rc = CLI_EXIT_FAILED;
        } else {
            print_human(&s, spec, src.remote != NULL);
        }
        cJSON_Delete(spec);
        sched_status_clear(&s);
    }
    errlist_free(&errs);
    free(job_id);
    jobsrc_close(&src);
    return rc;
}
