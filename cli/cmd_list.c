/* llmaj list: every job in a job database, newest first (the seed's `get_all`): id, name, state,
 * records, created and finished times, elapsed time. `--json` prints the same as a JSON array. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "jobdb.h"
#include "mem.h"
#include "store.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: llmaj list [--db PATH] [--json]\n"
        "\n"
        "Lists every job in the job database, newest first: id, name, state, records, when it was\n"
        "created and finished, how long it ran.\n"
        "\n"
        "options:\n"
        "  --db PATH   job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
        "  --json      a JSON array, one object per job\n"
        "\n"
        "exit status: 0 listed (also when there is no job), 1 the database could not be read,\n"
        "2 bad input (unknown flag, no job database at PATH)\n");
}

typedef struct {
    char *id, *name, *state, *error, *model, *base_model, *judge;
    uint64_t records, total, invalid;
    int64_t created, started, finished;
    double elapsed;
} row_t;

typedef struct {
    row_t *rows;
    size_t n, cap;
    int64_t now;
} rows_t;

static char *spec_str(const cJSON *spec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static int add_row(const store_job_t *j, void *arg)
{
    rows_t *rs = arg;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 32;
        rs->rows = xrealloc(rs->rows, rs->cap * sizeof(row_t));
    }
    row_t *r = &rs->rows[rs->n++];
    memset(r, 0, sizeof(*r));
    r->id = xstrdup(j->job_id);
    r->name = xstrdup(j->name);
    r->state = xstrdup(job_state_name(j->state));
    r->error = xstrdup(j->error);
    r->total = j->records_total;
    r->invalid = j->records_invalid;
    r->records = j->records_total >= j->records_invalid ? j->records_total - j->records_invalid : 0;
    r->created = j->created_at;
    r->started = j->started_at;
    r->finished = j->finished_at;
    r->elapsed = jobdb_elapsed(j, rs->now);
    cJSON *spec = j->spec_json ? cJSON_Parse(j->spec_json) : NULL;
    r->model = spec_str(spec, "model");
    r->judge = spec_str(spec, "evaluator_model");
    const cJSON *ebm = cJSON_GetObjectItemCaseSensitive(spec, "evaluate_base_model");
    if (cJSON_IsTrue(ebm)) r->base_model = spec_str(spec, "base_model");
    cJSON_Delete(spec);
    return 0;
}

static void rows_free(rows_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        row_t *r = &rs->rows[i];
        free(r->id); free(r->name); free(r->state); free(r->error);
        free(r->model); free(r->base_model); free(r->judge);
    }
    free(rs->rows);
}

static int print_json(const rows_t *rs)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < rs->n; i++) {
        const row_t *r = &rs->rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job_id", r->id);
        jobdb_json_str(o, "name", r->name);
        cJSON_AddStringToObject(o, "state", r->state);
        jobdb_json_str(o, "error", r->error);
        cJSON_AddNumberToObject(o, "records", (double)r->records);
        cJSON_AddNumberToObject(o, "records_total", (double)r->total);
        cJSON_AddNumberToObject(o, "records_invalid", (double)r->invalid);
        jobdb_json_time(o, "created_at", r->created);
        jobdb_json_time(o, "started_at", r->started);
        jobdb_json_time(o, "finished_at", r->finished);
        if (r->elapsed >= 0) cJSON_AddNumberToObject(o, "elapsed_s", r->elapsed);
        else cJSON_AddNullToObject(o, "elapsed_s");
        jobdb_json_str(o, "model", r->model);
        jobdb_json_str(o, "base_model", r->base_model);
        jobdb_json_str(o, "evaluator_model", r->judge);
        cJSON_AddItemToArray(a, o);
    }
    /* One job a line: a valid JSON array that line tools can still read. */
    int rc = fputs("[", stdout) < 0 ? -1 : 0;
    for (const cJSON *o = a->child; o && !rc; o = o->next) {
        char *txt = cJSON_PrintUnformatted(o);
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
        int l = (int)strlen(rs->rows[i].id);
        if (l > wid) wid = l;
        l = rs->rows[i].name ? (int)strlen(rs->rows[i].name) : 1;
        if (l > wname) wname = l;
    }
    if (wname > 24) wname = 24;
    printf("%-*s  %-*s  %-9s  %8s  %-19s  %-19s  %s\n", wid, "JOB ID", wname, "NAME", "STATE", "RECORDS", "CREATED",
           "FINISHED", "ELAPSED");
    for (size_t i = 0; i < rs->n; i++) {
        const row_t *r = &rs->rows[i];
        char created[32], finished[32], elapsed[32];
        jobdb_time_local(r->created, created, sizeof created);
        jobdb_time_local(r->finished, finished, sizeof finished);
        jobdb_duration(r->elapsed, elapsed, sizeof elapsed);
        printf("%-*s  %-*.*s  %-9s  %8llu  %-19s  %-19s  %s\n", wid, r->id, wname, wname, r->name ? r->name : "-",
               r->state, (unsigned long long)r->records, created, finished, elapsed);
    }
}

int cmd_list(int argc, char **argv)
{
    const char *db_flag;
    bool json;
    int done = jobdb_flags(argc, argv, usage, &db_flag, &json);
    if (done >= 0) return done;
    if (optind < argc) {
        fprintf(stderr, "llmaj list: unexpected argument '%s' (`llmaj status JOB` shows one job)\n", argv[optind]);
        return CLI_EXIT_BAD_INPUT;
    }
    const char *origin;
    const char *path = jobdb_path(db_flag, &origin);
    char err[1024];
    store_t *s = jobdb_open(path, origin, err, sizeof err);
    if (!s) {
        fprintf(stderr, "llmaj list: %s\n", err);
        return CLI_EXIT_BAD_INPUT;
    }
    rows_t rs = {.now = (int64_t)time(NULL)};
    int rc = CLI_EXIT_OK;
    if (store_jobs_each(s, add_row, &rs) < 0) {
        fprintf(stderr, "llmaj list: %s: cannot read the jobs: %s\n", path, store_errmsg(s));
        rc = CLI_EXIT_FAILED;
    } else if (json) {
        if (print_json(&rs) < 0) rc = CLI_EXIT_FAILED;
    } else if (rs.n == 0) {
        fprintf(stderr, "llmaj list: no job in %s yet\n", path);
    } else {
        print_table(&rs);
    }
    rows_free(&rs);
    store_close(&s);
    return rc;
}
