/* llmaj report JOB: a job's results as people read them. Without --html, the summary tables of
 * `llmaj run`; with --html FILE, the results viewer as one self-contained HTML page (web/
 * webreport.h) with the job, its summary and its rows embedded, to open in a browser, share or
 * attach anywhere: no server and no network needed.
 *
 * The data is read by one function, report_load, from the local job database (as `status` and
 * `results` do): the job row and its progress, summary.json from the job's output folder (absent
 * until the job ends), and the committed rows in record order. When scheduler.h offers the job,
 * summary and results queries of the control plane (issue 9), report_load is the one place to
 * switch to them. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "cli.h"
#include "collector.h"
#include "daemon.h"
#include "jobdb.h"
#include "mem.h"
#include "report.h"
#include "store.h"
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
    int failed;
} rows_t;

static int add_row(const record_t *rec, const result_t *res, void *arg)
{
    rows_t *r = arg;
    buf_reset(&r->line);
    if (collector_record_line(&r->line, r->job_id, rec, res) < 0 ||
        webreport_add_record(r->wr, r->line.data, r->line.len) < 0) {
        r->failed = 1;
        return -1;
    }
    return 0;
}

static const char *spec_str(const cJSON *spec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* summary.json of the job's output folder, parsed into *summary and kept as text in wr; nothing
 * when it is not written yet (or not readable here). */
static void load_summary(const char *out_dir, webreport_t *wr, cJSON **summary)
{
    *summary = NULL;
    if (!out_dir) return;
    char *path = xasprintf("%s/summary.json", out_dir);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) return;
    buf_t b;
    buf_init(&b, 0);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) rc |= buf_append(&b, chunk, n);
    (void)rc;   /* unlimited buffer */
    fclose(f);
    if (b.len && webreport_set_summary_text(wr, b.data, b.len) == 0) *summary = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
}

/* The job object the viewer reads (the shape of GET /v1/jobs/{id}). */
static cJSON *job_json(const store_job_t *j, const cJSON *spec, const store_job_stats_t *st, unsigned targets)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", j->job_id);
    jobdb_json_str(o, "name", j->name);
    cJSON_AddStringToObject(o, "status", j->state == JOB_PENDING ? "queued" : job_state_name(j->state));
    jobdb_json_time(o, "created_at", j->created_at);
    jobdb_json_time(o, "started_at", j->started_at);
    jobdb_json_time(o, "ended_at", j->finished_at);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddNumberToObject(p, "units_done", (double)st->outputs);
    cJSON_AddNumberToObject(p, "units_total", (double)(st->records * targets));
    cJSON *sc = cJSON_AddObjectToObject(p, "scores");
    cJSON_AddNumberToObject(sc, "ok", (double)st->scores[SCORE_OK]);
    cJSON_AddNumberToObject(sc, "unscored", (double)st->scores[SCORE_UNSCORED]);
    cJSON_AddNumberToObject(sc, "not_applicable", (double)st->scores[SCORE_NOT_APPLICABLE]);
    cJSON_AddNumberToObject(sc, "error", (double)st->scores[SCORE_ERROR]);
    jobdb_json_str(o, "output", j->out_dir);
    jobdb_json_str(o, "error", j->error);
    jobdb_json_str(o, "model", spec_str(spec, "model"));
    jobdb_json_str(o, "base_model", targets > 1 ? spec_str(spec, "base_model") : NULL);
    jobdb_json_str(o, "evaluator_model", spec_str(spec, "evaluator_model"));
    return o;
}

/* Everything the report shows, in one snapshot of the job database: the job, its summary (into
 * *summary, NULL before it is written) and, when `with_rows`, up to max_rows rows (0 = all).
 * 0, or -1 with err. */
static int report_load(store_t *st, const char *db_path, const char *job_id, bool with_rows, uint64_t max_rows,
                       webreport_t *wr, cJSON **summary, char *err, size_t errlen)
{
    *summary = NULL;
    if (store_begin(st) < 0) {
        snprintf(err, errlen, "%s: %s", db_path, store_errmsg(st));
        return -1;
    }
    store_job_t job;
    store_job_stats_t stats;
    uint64_t rows = 0, scores = 0;
    int rc = store_job_get(st, job_id, &job);
    if (rc != 0) {
        snprintf(err, errlen, "%s: job %s: %s", db_path, job_id, rc > 0 ? "gone (deleted meanwhile?)" : store_errmsg(st));
        if (store_rollback(st) < 0) {}   /* read only: nothing to undo */
        return -1;
    }
    cJSON *spec = job.spec_json ? cJSON_Parse(job.spec_json) : NULL;
    unsigned targets = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "evaluate_base_model")) ? 2 : 1;
    rows_t r = {.job_id = job_id, .wr = wr};
    buf_init(&r.line, 0);
    rc = -1;
    if (store_job_stats(st, job_id, targets, &stats) < 0 || store_counts(st, job_id, &rows, &scores) < 0) {
        snprintf(err, errlen, "%s: job %s: %s", db_path, job_id, store_errmsg(st));
    } else if (with_rows && store_outputs_page(st, job_id, 0, max_rows ? max_rows : UINT64_MAX, add_row, &r) < 0) {
        snprintf(err, errlen, "%s: job %s: %s", db_path, job_id,
                 r.failed ? "a row could not be made into JSON" : store_errmsg(st));
    } else {
        cJSON *jo = job_json(&job, spec, &stats, targets);
        webreport_set_job(wr, jo);
        cJSON_Delete(jo);
        webreport_set_rows_total(wr, rows);
        load_summary(job.out_dir, wr, summary);
        rc = 0;
    }
    if (store_commit(st) < 0) {}   /* read only: nothing to keep */
    buf_free(&r.line);
    cJSON_Delete(spec);
    store_job_clear(&job);
    return rc;
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
    char *tmp = xasprintf("%s.tmp", file);
    FILE *f = fopen(tmp, "wb");
    int rc = -1;
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    } else if (fwrite(html, 1, len, f) != len || fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (remove(tmp) < 0) {}   /* best effort: the message above is what matters */
    } else if (rename(tmp, file) < 0) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
    } else {
        rc = 0;
    }
    free(tmp);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},       {"html", required_argument, NULL, 'w'},
        {"max-rows", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
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
    store_t *st = jobdb_open(path, origin, err, sizeof err);
    if (!st) goto bad;
    char *job_id = NULL;
    int rc = jobdb_resolve(st, path, argv[optind], &job_id, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "llmaj report: %s\n", err);
        store_close(&st);
        return rc > 0 ? CLI_EXIT_BAD_INPUT : CLI_EXIT_FAILED;
    }
    webreport_t *wr = webreport_new();
    cJSON *summary = NULL;
    rc = report_load(st, path, job_id, html_file != NULL, (uint64_t)max_rows, wr, &summary, err, sizeof err) < 0
             ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    store_close(&st);
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
