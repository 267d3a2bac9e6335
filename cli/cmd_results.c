/* llmaj results JOB: the seed's `show_results(limit, offset, show_explanations)`. One row per
 * (record, target), in record order, as records.jsonl has them: a small table per row with the
 * record id, target and model, the prompt and the response (on one line, clipped), and each
 * metric's rating, score, normalized score and status; `--explanations` adds the judge's
 * reasoning under each metric. `--json` prints the page as records.jsonl lines instead.
 *
 * Reads the job database (sched_job_results), not records.jsonl, so a running job's committed rows
 * show as they arrive (pages then shift as earlier records complete). Untrusted text goes through
 * termtext. */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "cli.h"
#include "daemon.h"
#include "jobdb.h"
#include "jobsrc.h"
#include "mem.h"
#include "result.h"
#include "scheduler.h"
#include "termtext.h"

#define TEXT_CLIP 110 /* prompt, reference, response: code points shown */
#define RATING_WIDTH 30
#define WRAP_WIDTH 92 /* explanations */

static void usage(FILE *f)
{
    fprintf(
        f, "usage: llmaj results JOB [--scheduler URL | --db PATH] [--limit N] [--offset N] [--explanations] [--json]\n"
           "\n"
           "Shows a job's results, one row per (record, target) in record order: record id, target and\n"
           "model, prompt and response (clipped), and each metric's rating, score, normalized score and\n"
           "status. Works while the job runs (committed rows only). JOB is a job id or the beginning of\n"
           "one (`llmaj list` shows them).\n"
           "\n"
           "options:\n"
           "  --scheduler URL  a scheduler service (env LLMAJ_SCHEDULER; token from LLMAJ_TOKEN)\n"
           "  --db PATH        job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
           "  --limit N        rows to show (default 10)\n"
           "  --offset N       rows to skip first (default 0)\n"
           "  --explanations   the judge's reasoning under each metric\n"
           "  --json           the rows as records.jsonl lines (one JSON object a line)\n"
           "\n"
           "exit status: 0 shown (also an empty page), 1 the database could not be read,\n"
           "2 bad input (unknown flag, no job database at PATH, no such job)\n");
}

typedef struct {
    const char *job_id;
    bool explanations, json;
    uint64_t offset, limit;
    uint64_t row; /* 1-based number of the next row */
    buf_t out;
    int failed;
} page_t;

/* The line above the rows (not with --json): which rows of how many, or why there are none. */
static void heading(const sched_page_t *pg, void *arg)
{
    const page_t *p = arg;
    if (p->json) return;
    uint64_t rows = pg->total, off = p->offset;
    bool running = pg->state == SCHED_JOB_RUNNING || pg->state == SCHED_JOB_PENDING;
    const char *state = sched_job_state_name(pg->state);
    if (off >= rows) {
        if (rows == 0)
            printf("job %s (%s): no result committed yet%s\n", p->job_id, state,
                   running ? "; `llmaj status` shows its progress" : "");
        else
            printf("job %s (%s): no row from row %llu on: it has %llu row(s) (one per record and target); try "
                   "--offset %llu\n",
                   p->job_id, state, (unsigned long long)off + 1, (unsigned long long)rows,
                   (unsigned long long)(rows > p->limit ? rows - p->limit : 0));
        return;
    }
    uint64_t last = off + p->limit < rows ? off + p->limit : rows;
    char span[64];
    if (last == off + 1) snprintf(span, sizeof span, "row %llu", (unsigned long long)last);
    else snprintf(span, sizeof span, "rows %llu-%llu", (unsigned long long)off + 1, (unsigned long long)last);
    printf("job %s (%s): %s of %llu%s (one per record and target)\n\n", p->job_id, state, span,
           (unsigned long long)rows, running ? " committed so far" : "");
}

/* ---- --json: records.jsonl lines (the scheduler's shape, DESIGN.md "Results") ---- */

static int json_row(const record_t *rec, const result_t *res, void *arg)
{
    page_t *p = arg;
    buf_t line;
    buf_init(&line, 0);
    if (sched_result_line(&line, p->job_id, rec, res) < 0 || fwrite(line.data, 1, line.len, stdout) != line.len)
        p->failed = 1;
    buf_free(&line);
    p->row++;
    return p->failed ? -1 : 0;
}

/* ---- the readable page ---- */

/* The page is built in a buffer without a cap (buf_init(&out, 0)), where appends cannot fail;
 * so the page's appends go through these two, which mark the row failed if one ever did. */
static bool page_ok = true;

static void put(buf_t *b, const char *s)
{
    if (buf_puts(b, s) < 0) page_ok = false;
}

static void putf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(b, fmt, ap) < 0) page_ok = false;
    va_end(ap);
}

static void field(buf_t *b, const char *label, const char *text)
{
    putf(b, "  %-10s ", label);
    termtext_line(b, text, TEXT_CLIP);
    put(b, "\n");
}

static int human_row(const record_t *rec, const result_t *res, void *arg)
{
    page_t *p = arg;
    buf_t *b = &p->out;
    buf_reset(b);
    putf(b, "[%llu] record ", (unsigned long long)p->row);
    if (rec->id) termtext_line(b, rec->id, 60);
    else putf(b, "%llu", (unsigned long long)rec->index);
    putf(b, " (index %llu) \xc2\xb7 %s \xc2\xb7 ", (unsigned long long)rec->index, target_name(res->target));
    termtext_line(b, res->model ? res->model : "?", 80);
    if (rec->category) {
        put(b, " \xc2\xb7 ");
        termtext_line(b, rec->category, 40);
    }
    put(b, "\n");
    field(b, "prompt", rec->prompt);
    if (rec->reference) field(b, "reference", rec->reference);
    if (res->response) field(b, res->response_from_dataset ? "response*" : "response", res->response);
    if (res->error) field(b, "error", res->error);

    size_t wm = 6;
    for (size_t i = 0; i < res->n_scores; i++) {
        size_t w = termtext_width(res->scores[i].metric);
        if (w > wm) wm = w;
    }
    if (wm > 32) wm = 32;
    put(b, "  ");
    termtext_cell(b, "metric", wm);
    put(b, "  ");
    termtext_cell(b, "rating", RATING_WIDTH);
    put(b, "  score  normalized  status\n");
    for (size_t i = 0; i < res->n_scores; i++) {
        const score_t *s = &res->scores[i];
        put(b, "  ");
        termtext_cell(b, s->metric, wm);
        put(b, "  ");
        /* No rating: say why in its place. */
        termtext_cell(b, s->rating ? s->rating : s->error ? s->error : "-", RATING_WIDTH);
        if (s->has_score) {
            putf(b, "  %5g  %10.3f  ", s->score, s->normalized);
        } else {
            put(b, "      -           -  ");
        }
        put(b, score_status_name(s->status));
        put(b, "\n");
        if (p->explanations) {
            if (s->explanation && *s->explanation) termtext_wrap(b, s->explanation, WRAP_WIDTH, "      ");
            else put(b, "      (no explanation)\n");
            if (s->error && s->rating) {
                put(b, "      error: ");
                termtext_line(b, s->error, WRAP_WIDTH);
                put(b, "\n");
            }
        }
    }
    put(b, "\n");
    p->row++;
    if (!page_ok || fwrite(b->data, 1, b->len, stdout) != b->len) {
        p->failed = 1;
        return -1;
    }
    return 0;
}

int cmd_results(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'},
        {"offset", required_argument, NULL, 'o'},
        {"explanations", no_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"scheduler", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    const char *db_flag = NULL, *url_flag = NULL;
    bool json = false, explanations = false;
    long limit = 10, offset = 0;
    char err[2048];
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db_flag = optarg; break;
        case 'S': url_flag = optarg; break;
        case 'l':
            if (daemon_parse_int(optarg, 1, 1000000000L, &limit, "--limit", err, sizeof err) < 0) goto bad;
            break;
        case 'o':
            if (daemon_parse_int(optarg, 0, 1000000000000L, &offset, "--offset", err, sizeof err) < 0) goto bad;
            break;
        case 'e': explanations = true; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "llmaj results: which job? give its id (`llmaj list` shows them)\n\n");
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    if (optind + 1 < argc) {
        snprintf(err, sizeof err, "one job at a time: unexpected argument '%s'", argv[optind + 1]);
        goto bad;
    }

    jobsrc_t src;
    int code;
    if (jobsrc_open(&src, url_flag, db_flag, "llmaj results", &code) < 0) return code;
    errlist_t rerrs;
    errlist_init(&rerrs, 0);
    char *job_id = NULL;
    sched_err_t why = jobsrc_resolve(&src, argv[optind], &job_id, &rerrs);
    if (why != SCHED_OK) {
        jobdb_errs(&rerrs, err, sizeof err);
        fprintf(stderr, "llmaj results: %s\n", err);
        errlist_free(&rerrs);
        jobsrc_close(&src);
        return cli_exit(why);
    }
    errlist_free(&rerrs);

    page_t p = {.job_id = job_id,
                .explanations = explanations,
                .json = json,
                .row = (uint64_t)offset + 1,
                .offset = (uint64_t)offset,
                .limit = (uint64_t)limit};
    buf_init(&p.out, 0);
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_page_t pg;
    int rc = CLI_EXIT_OK;
    sched_rows_t cbs = {.head = heading, .row = json ? json_row : human_row, .arg = &p};
    why = jobsrc_results(&src, job_id, (uint64_t)offset, (uint64_t)limit, &cbs, &pg, &errs);
    if (why == SCHED_E_IO) {
        fprintf(stderr, "llmaj results: cannot write the output\n");
        rc = CLI_EXIT_FAILED;
    } else if (why != SCHED_OK) {
        jobdb_errs(&errs, err, sizeof err);
        fprintf(stderr, "llmaj results: %s\n", err);
        rc = CLI_EXIT_FAILED; /* the job was there a moment ago */
    } else if (!json && p.row - 1 < pg.total && p.row > (uint64_t)offset + 1) {
        printf("next page: llmaj results %s", job_id);
        if (src.remote) printf(" --scheduler %s", remote_where(src.remote));
        else if (!strcmp(src.db_origin, "--db")) printf(" --db %s", src.db_path);
        if (limit != 10) printf(" --limit %ld", limit);
        printf(" --offset %llu%s\n", (unsigned long long)(p.row - 1), explanations ? " --explanations" : "");
    }
    errlist_free(&errs);
    buf_free(&p.out);
    free(job_id);
    jobsrc_close(&src);
    return rc;
bad:
    fprintf(stderr, "llmaj results: %s\n", err);
    return CLI_EXIT_BAD_INPUT;
}
