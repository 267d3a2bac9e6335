/* jobdb: the job database of the read commands; see jobdb.h. Reading never changes what is read:
 * sched_db_open checks the path before anything touches it. */
#include "jobdb.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mem.h"

int jobdb_flags(int argc, char **argv, void (*usage)(FILE *f), const char **db_flag, bool *json)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *db_flag = NULL;
    *json = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': *db_flag = optarg; break;
        case 'j': *json = true; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    return -1;
}

const char *jobdb_path(const char *flag, const char **origin)
{
    const char *o = "default", *p = JOBDB_DEFAULT;
    const char *env = getenv(JOBDB_ENV);
    if (flag) {
        o = "--db";
        p = flag;
    } else if (env && *env) {
        o = JOBDB_ENV;
        p = env;
    }
    if (origin) *origin = o;
    return p;
}

static const char *how_chosen(const char *origin)
{
    if (!strcmp(origin, "--db")) return "given with --db";
    if (!strcmp(origin, JOBDB_ENV)) return "from " JOBDB_ENV;
    return "the default";
}

void jobdb_errs(const errlist_t *errs, char *err, size_t errlen)
{
    size_t used = 0;
    err[0] = '\0';
    for (size_t i = 0; i < errs->n_kept && used < errlen; i++) {
        int n = snprintf(err + used, errlen - used, "%s%s", i ? "\n" : "", errs->msgs[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

sched_db_t *jobdb_open(const char *path, const char *origin, char *err, size_t errlen, sched_err_t *why)
{
    if (!origin) origin = "default";
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    sched_err_t rc = sched_db_open(path, how_chosen(origin), &db, &errs);
    if (why) *why = rc;
    if (rc == SCHED_E_NOTFOUND)
        snprintf(err, errlen,
                 "no job database at %s (%s). `llmaj run` keeps it in <output_path>/llmaj.db (the default "
                 "output_path is runs/); run from the folder that holds runs/, or pass --db PATH or set " JOBDB_ENV,
                 path, how_chosen(origin));
    else if (rc != SCHED_OK) jobdb_errs(&errs, err, errlen);
    errlist_free(&errs);
    return db;
}

sched_err_t jobdb_resolve(sched_db_t *db, const char *ref, char **job_id, char *err, size_t errlen)
{
    const char *path = sched_db_file(db);
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_err_t rc = sched_job_resolve(db, ref, job_id, &errs);
    if (rc == SCHED_OK) {
        /* resolved */
    } else if (!ref || !*ref) {
        snprintf(err, errlen, "a job id is required; `llmaj list --db %s` lists them", path);
    } else if (rc == SCHED_E_NOTFOUND) {
        snprintf(err, errlen,
                 "no job '%s' in %s (a job id, or the beginning of one); `llmaj list --db %s` lists the jobs", ref,
                 path, path);
    } else {
        jobdb_errs(&errs, err, errlen);
    }
    errlist_free(&errs);
    return rc;
}

void jobdb_time_local(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm)) snprintf(out, n, "-");
}

void jobdb_time_iso(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, n, "%s", "");
}

void jobdb_json_time(cJSON *o, const char *key, int64_t t)
{
    char ts[32];
    jobdb_time_iso(t, ts, sizeof ts);
    if (*ts) cJSON_AddStringToObject(o, key, ts);
    else cJSON_AddNullToObject(o, key);
}

void jobdb_json_str(cJSON *o, const char *key, const char *v)
{
    if (v) cJSON_AddStringToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

void jobdb_duration(double s, char *out, size_t n)
{
    if (!(s >= 0)) snprintf(out, n, "-");
    else if (s < 1) snprintf(out, n, "<1s");
    else if (s < 60) snprintf(out, n, "%.0fs", s);
    else if (s < 3600) snprintf(out, n, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
    else snprintf(out, n, "%lldh%02lldm", (long long)s / 3600, (long long)s / 60 % 60);
}
