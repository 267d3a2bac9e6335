/* llmaj list: every job in a job database, newest first (the seed's `get_all`): id, name, state,
 * records, created and finished times, elapsed time. `--json` prints the same as a JSON array. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "jobdb.h"
#include "jobsrc.h"
#include "jsonprint.h"
#include "mem.h"
#include "scheduler.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj list [--scheduler URL | --db PATH] [--json]\n"
               "\n"
               "Lists every job in the job database, newest first: id, name, state, records, when it was\n"
               "created and finished, how long it ran.\n"
               "\n"
               "options:\n"
               "  --scheduler URL  a scheduler service (env LLMAJ_SCHEDULER; token from LLMAJ_TOKEN)\n"
               "  --db PATH   job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
               "  --json      a JSON array, one object per job\n"
               "\n"
               "exit status: 0 listed (also when there is no job), 1 the database could not be read,\n"
               "2 bad input (unknown flag, no job database at PATH)\n");
}

/* The jobs as read, kept until printed (the table's widths need them all). */
typedef struct {
    sched_job_t *rows;
    size_t n, cap;
} rows_t;

static int add_row(const sched_job_t *j, void *arg)
{
    rows_t *rs = arg;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 32;
        rs->rows = xrealloc(rs->rows, rs->cap * sizeof(sched_job_t));
    }
    sched_job_t *r = &rs->rows[rs->n++];
    *r = *j;
    r->job_id = xstrdup(j->job_id);
    r->name = xstrdup(j->name);
    r->error = xstrdup(j->error);
    r->failure = xstrdup(j->failure);
    r->spec_json = NULL;
    r->model = xstrdup(j->model);
    r->base_model = xstrdup(j->base_model);
    r->evaluator_model = xstrdup(j->evaluator_model);
    r->out_dir = NULL;
    return 0;
}

static void rows_free(rows_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) sched_job_clear(&rs->rows[i]);
    free(rs->rows);
}

static uint64_t valid_records(const sched_job_t *r)
{
    return r->records_total >= r->records_invalid ? r->records_total - r->records_invalid : 0;
}

static int print_json(const rows_t *rs)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < rs->n; i++) {
        const sched_job_t *r = &rs->rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job_id", r->job_id);
        jobdb_json_str(o, "name", r->name);
        cJSON_AddStringToObject(o, "state", sched_job_state_name(r->state));
        jobdb_json_str(o, "error", r->error);
        jobdb_json_str(o, "failure", r->failure);
        cJSON_AddNumberToObject(o, "records", (double)valid_records(r));
        cJSON_AddNumberToObject(o, "records_total", (double)r->records_total);
        cJSON_AddNumberToObject(o, "records_invalid", (double)r->records_invalid);
        jobdb_json_time(o, "created_at", r->created_at);
        jobdb_json_time(o, "started_at", r->started_at);
        jobdb_json_time(o, "finished_at", r->finished_at);
        if (r->elapsed_s >= 0) cJSON_AddNumberToObject(o, "elapsed_s", r->elapsed_s);
        else cJSON_AddNullToObject(o, "elapsed_s");
        jobdb_json_str(o, "model", r->model);
        jobdb_json_str(o, "base_model", r->base_model);
        jobdb_json_str(o, "evaluator_model", r->evaluator_model);
        cJSON_AddItemToArray(a, o);
    }
    /* One job a line: a valid JSON array that line tools can still read. */
    int rc = fputs("[", stdout) < 0 ? -1 : 0;
    for (const cJSON *o = a->child; o && !rc; o = o->next) {
        char *txt = jsonprint(o, false);
        if (!txt || printf("%s%s", txt, o->next ? ",\n" : "") < 0) rc = -1;
        free(txt);
    }
    if (!rc && puts("]") < 0) rc = -1;
    cJSON_Delete(a);
    return rc;
}

static void print_table(const rows_t *rs)
{
    int wid = (int)strlen("JOB ID"), wname = (int)strlen("NAME");
    for (size_t i = 0; i < rs->n; i++) {
        int l = (int)strlen(rs->rows[i].job_id);
        if (l > wid) wid = l;
        l = rs->rows[i].name ? (int)strlen(rs->rows[i].name) : 1;
        if (l > wname) wname = l;
    }
    if (wname > 24) wname = 24;
    printf("%-*s  %-*s  %-9s  %8s  %-19s  %-19s  %s\n", wid, "JOB ID", wname, "NAME", "STATE", "RECORDS", "CREATED",
           "FINISHED", "ELAPSED");
    for (size_t i = 0; i < rs->n; i++) {
        const sched_job_t *r = &rs->rows[i];
        char created[32], finished[32], elapsed[32];
        jobdb_time_local(r->created_at, created, sizeof created);
        jobdb_time_local(r->finished_at, finished, sizeof finished);
        jobdb_duration(r->elapsed_s, elapsed, sizeof elapsed);
        printf("%-*s  %-*.*s  %-9s  %8llu  %-19s  %-19s  %s\n", wid, r->job_id, wname, wname, r->name ? r->name : "-",
               sched_job_state_name(r->state), (unsigned long long)valid_records(r), created, finished, elapsed);
    }
}

int cmd_list(int argc, char **argv)
{
    const char *url = remote_take_flag(&argc, argv);
    const char *db_flag;
    bool json;
    int done = jobdb_flags(argc, argv, usage, &db_flag, &json);
    if (done >= 0) return done;
    if (optind < argc) {
        fprintf(stderr, "llmaj list: unexpected argument '%s' (`llmaj status JOB` shows one job)\n", argv[optind]);
        return CLI_EXIT_BAD_INPUT;
    }
    jobsrc_t src;
    int rc;
    if (jobsrc_open(&src, url, db_flag, "llmaj list", &rc) < 0) return rc;
    char err[4096];
    rows_t rs = {0};
    errlist_t errs;
    errlist_init(&errs, 0);
    rc = CLI_EXIT_OK;
    sched_err_t e = jobsrc_list(&src, add_row, &rs, &errs);
    if (e != SCHED_OK) {
        jobdb_errs(&errs, err, sizeof err);
        fprintf(stderr, "llmaj list: %s\n", err);
        rc = cli_exit(e);
    } else if (json) {
        if (print_json(&rs) < 0) rc = CLI_EXIT_FAILED;
    } else if (rs.n == 0) {
        fprintf(stderr, "llmaj list: no job in %s yet\n", src.remote ? remote_where(src.remote) : src.db_path);
    } else {
        print_table(&rs);
    }
    errlist_free(&errs);
    rows_free(&rs);
    jobsrc_close(&src);
    return rc;
}
