/* llmaj report JOB: a job's results as people read them. Without --html, the summary tables of
 * `llmaj run`; with --html FILE, the results viewer as one self-contained HTML page (web/
 * webreport.h) with the job, its summary and its rows embedded, to open in a browser, share or
 * attach anywhere: no server and no network needed.
 *
 * The data is read by one function, report_load, through scheduler.h's readers (as `status` and
 * `results` do): the job's status, its summary (stored when it ends) and its committed rows in
 * record order. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "cli.h"
#include "daemon.h"
#include "file.h"
#include "jobdb.h"
#include "report.h"
#include "scheduler.h"
#include "webreport.h"

#define DEFAULT_MAX_ROWS 5000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmaj report JOB [--db PATH] [--html FILE] [--max-rows N]\n"
            "\n"
            "Shows a job's summary tables; with --html, writes the results viewer as one self-contained\n"
            "HTML file (metric table with 95%% intervals, custom vs base comparison, categories, rating\n"
            "histograms, and a browser of the records with both models' responses and the judge's\n"
            "explanations). The file needs no server and loads nothing from the network. JOB is a job id\n"
            "or the beginning of one (`llmaj list` shows them).\n"
            "\n"
            "options:\n"
            "  --db PATH       job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
            "  --html FILE     write the page to FILE ('-' for standard output)\n"
            "  --max-rows N    rows (one per record and model) embedded in the page, 0 for all\n"
            "                  (default %d); the figures always cover every row\n"
            "\n"
            "exit status: 0 written, 1 the database or FILE could not be read or written,\n"
            "2 bad input (unknown flag, no job database at PATH, no such job)\n",
            DEFAULT_MAX_ROWS);
}

typedef struct {
    const char *job_id;
    webreport_t *wr;
    buf_t line;
    bool failed;
} rows_t;

static void rows_head(const sched_page_t *page, void *arg)
{
    rows_t *r = arg;
    webreport_set_rows_total(r->wr, page->total);
}

static int rows_add(const record_t *rec, const result_t *res, void *arg)
{
    rows_t *r = arg;
    buf_reset(&r->line);
    if (sched_result_line(&r->line, r->job_id, rec, res) < 0 ||
        webreport_add_record(r->wr, r->line.data, r->line.len) < 0) {
        r->failed = true;
        return -1;
    }
    return 0;
}

/* The job object the viewer reads (the shape of GET /v1/jobs/{id}). */
static cJSON *job_json(const sched_status_t *st)
{
    const sched_job_t *j = &st->job;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", j->job_id);
    jobdb_json_str(o, "name", j->name);
    cJSON_AddStringToObject(o, "status", j->state == SCHED_JOB_PENDING ? "queued" : sched_job_state_name(j->state));
    jobdb_json_time(o, "created_at", j->created_at);
    jobdb_json_time(o, "started_at", j->started_at);
    jobdb_json_time(o, "ended_at", j->finished_at);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddNumberToObject(p, "units_done", (double)st->units_done);
    cJSON_AddNumberToObject(p, "units_total", (double)st->units_total);
    cJSON *sc = cJSON_AddObjectToObject(p, "scores");
    cJSON_AddNumberToObject(sc, "ok", (double)st->scores[SCORE_OK]);
    cJSON_AddNumberToObject(sc, "unscored", (double)st->scores[SCORE_UNSCORED]);
    cJSON_AddNumberToObject(sc, "not_applicable", (double)st->scores[SCORE_NOT_APPLICABLE]);
    cJSON_AddNumberToObject(sc, "error", (double)st->scores[SCORE_ERROR]);
    jobdb_json_str(o, "output", st->output_dir);
    jobdb_json_str(o, "error", j->error);
    jobdb_json_str(o, "model", j->model);
    jobdb_json_str(o, "base_model", j->base_model); /* only when the base model is evaluated */
    jobdb_json_str(o, "evaluator_model", j->evaluator_model);
    if (j->elapsed_s >= 0) cJSON_AddNumberToObject(o, "elapsed_s", j->elapsed_s);
    return o;
}

/* Everything the report shows: the job (its status), its summary (into *summary, NULL before the
 * job has ended) and, when `with_rows`, its first max_rows rows (0 = all) with their total. Three
 * reads, each one snapshot: for an ended job they agree; for a running one the rows may be a
 * little ahead of the progress shown, as they would be a moment later anyway. SCHED_OK, or the
 * error with err. */
static sched_err_t report_load(sched_db_t *db, const char *job_id, bool with_rows, uint64_t max_rows, webreport_t *wr,
                               cJSON **summary, char *err, size_t errlen)
{
    *summary = NULL;
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_status_t st;
    memset(&st, 0, sizeof st);
    sched_err_t why = sched_job_status(db, job_id, &st, &errs);
    if (why == SCHED_OK) {
        cJSON *jo = job_json(&st);
        webreport_set_job(wr, jo);
        cJSON_Delete(jo);
        webreport_set_rows_total(wr, st.units_done);
        why = sched_job_summary(db, job_id, summary, &errs);
        if (why == SCHED_E_NOTFOUND) { /* the job is there (just read): it has no summary yet */
            why = SCHED_OK;
            *summary = NULL;
            errlist_free(&errs);
            errlist_init(&errs, 0);
        }
        if (why == SCHED_OK) webreport_set_summary(wr, *summary);
    }
    rows_t r = {.job_id = job_id, .wr = wr};
    buf_init(&r.line, 0);
    if (why == SCHED_OK && with_rows) {
        sched_rows_t cbs = {.head = rows_head, .row = rows_add, .arg = &r};
        why = sched_job_results(db, job_id, 0, max_rows ? max_rows : UINT64_MAX, &cbs, NULL, &errs);
    }
    if (r.failed) snprintf(err, errlen, "job %s: a row could not be made into JSON", job_id);
    else if (why != SCHED_OK) jobdb_errs(&errs, err, errlen);
    if (why != SCHED_OK) {
        cJSON_Delete(*summary);
        *summary = NULL;
    }
    buf_free(&r.line);
    errlist_free(&errs);
    sched_status_clear(&st);
    return why;
}

static int write_page(const char *file, const char *html, size_t len, char *err, size_t errlen)
{
    if (!strcmp(file, "-")) {
        if (fwrite(html, 1, len, stdout) != len || fflush(stdout) != 0) {
            snprintf(err, errlen, "cannot write to standard output");
            return -1;
        }
        return 0;
    }
    return file_write_atomic(file, html, len, err, errlen);
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"html", required_argument, NULL, 'w'},
        {"max-rows", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_flag = NULL, *html_file = NULL;
    long max_rows = DEFAULT_MAX_ROWS;
    char err[2048];
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db_flag = optarg; break;
        case 'w': html_file = optarg; break;
        case 'm':
            if (daemon_parse_int(optarg, 0, 1000000000000L, &max_rows, "--max-rows", err, sizeof err) < 0) goto bad;
            break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "llmaj report: which job? give its id (`llmaj list` shows them)\n\n");
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    if (optind + 1 < argc) {
        snprintf(err, sizeof err, "one job at a time: unexpected argument '%s'", argv[optind + 1]);
        goto bad;
    }
    if (html_file && !*html_file) {
        snprintf(err, sizeof err, "--html: give a file name, or '-' for standard output");
        goto bad;
    }

    const char *origin;
    const char *path = jobdb_path(db_flag, &origin);
    sched_err_t why;
    sched_db_t *db = jobdb_open(path, origin, err, sizeof err, &why);
    if (!db) {
        fprintf(stderr, "llmaj report: %s\n", err);
        return cli_exit(why);
    }
    char *job_id = NULL;
    why = jobdb_resolve(db, argv[optind], &job_id, err, sizeof err);
    if (why != SCHED_OK) {
        fprintf(stderr, "llmaj report: %s\n", err);
        sched_db_close(&db);
        return cli_exit(why);
    }
    webreport_t *wr = webreport_new();
    cJSON *summary = NULL;
    why = report_load(db, job_id, html_file != NULL, (uint64_t)max_rows, wr, &summary, err, sizeof err);
    /* The job was there a moment ago: whatever fails now is a failure to read, not bad input. */
    int rc = why == SCHED_OK ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    sched_db_close(&db);
    if (rc == CLI_EXIT_OK && html_file) {
        size_t len = 0;
        char *html = webreport_html(wr, &len, err, sizeof err);
        if (!html || write_page(html_file, html, len, err, sizeof err) < 0) rc = CLI_EXIT_FAILED;
        else if (strcmp(html_file, "-"))
            printf("wrote %s: job %s, %zu row(s) embedded%s\n", html_file, job_id, webreport_records(wr),
                   summary ? "" : " (no summary yet: the job has not ended)");
        free(html);
    } else if (rc == CLI_EXIT_OK) {
        if (summary) {
            printf("job %s", job_id);
            report_summary(stdout, summary);
        } else {
            printf("job %s: no summary yet (it is written when the job ends; `llmaj status %s` shows where it is)\n",
                   job_id, job_id);
        }
    }
    if (rc != CLI_EXIT_OK) fprintf(stderr, "llmaj report: %s\n", err);
    cJSON_Delete(summary);
    webreport_destroy(&wr);
    free(job_id);
    return rc;
bad:
    fprintf(stderr, "llmaj report: %s\n", err);
    return CLI_EXIT_BAD_INPUT;
}
