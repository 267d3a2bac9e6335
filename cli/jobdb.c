/* jobdb: the job database of the read commands; see jobdb.h.
 *
 * DESIGN: reading must never change what is read. store_open creates its tables when they are
 * missing, so a path is checked first: it must exist, be a regular file, and be an SQLite
 * database that already has the `jobs` table (checked through a read-only connection). A job
 * database written by a running `llmaj run` is fine to open: SQLite's WAL lets readers and the
 * one writer work at once. */
#include "jobdb.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "buf.h"
#include "cli.h"
#include "mem.h"

int jobdb_flags(int argc, char **argv, void (*usage)(FILE *f), const char **db_flag, bool *json)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
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

/* Whether `path` holds an SQLite database with a jobs table, through a read-only connection. */
static int check_is_jobdb(const char *path, const char *origin, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s (%s): cannot open: %s", path, how_chosen(origin), db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "%s (%s) is an SQLite database but not a job database (it has no jobs table)", path,
                 how_chosen(origin));
        ret = -1;
    } else if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s (%s): not a job database: %s", path, how_chosen(origin), sqlite3_errmsg(db));
        ret = -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ret;
}

store_t *jobdb_open(const char *path, const char *origin, char *err, size_t errlen)
{
    if (!origin) origin = "default";
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            snprintf(err, errlen,
                     "no job database at %s (%s). `llmaj run` keeps it in <output_path>/llmaj.db (the default "
                     "output_path is runs/); run from the folder that holds runs/, or pass --db PATH or set "
                     JOBDB_ENV,
                     path, how_chosen(origin));
        else
            snprintf(err, errlen, "%s (%s): %s", path, how_chosen(origin), strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s (%s) is not a file; the job database is <output_path>/llmaj.db", path,
                 how_chosen(origin));
        return NULL;
    }
    if (check_is_jobdb(path, origin, err, errlen) < 0) return NULL;
    char why[512];
    store_t *s = store_open(path, why, sizeof why);
    if (!s) snprintf(err, errlen, "%s", why);
    return s;
}

int jobdb_resolve(store_t *s, const char *db_path, const char *ref, char **job_id, char *err, size_t errlen)
{
    *job_id = NULL;
    if (!ref || !*ref) {
        snprintf(err, errlen, "a job id is required; `llmaj list --db %s` lists them", db_path);
        return 1;
    }
    enum { SHOWN = 5 };
    char *ids[SHOWN] = {0};
    size_t n = 0;
    if (store_job_match(s, ref, ids, SHOWN, &n) < 0) {
        snprintf(err, errlen, "%s: cannot read the jobs: %s", db_path, store_errmsg(s));
        return -1;
    }
    if (n == 1) {
        *job_id = ids[0];
        return 0;
    }
    if (n == 0) {
        snprintf(err, errlen, "no job '%s' in %s (a job id, or the beginning of one); `llmaj list --db %s` lists the jobs",
                 ref, db_path, db_path);
        return 1;
    }
    buf_t list;
    buf_init(&list, 2048);
    for (size_t i = 0; i < n && i < SHOWN; i++) {
        if (buf_printf(&list, "%s%s", i ? ", " : "", ids[i]) < 0) {}   /* capped: a shorter list */
        free(ids[i]);
    }
    if (n > SHOWN)
        snprintf(err, errlen, "'%s' is the beginning of %zu job ids (%s, and %zu more) in %s: give more of the id",
                 ref, n, list.data ? list.data : "", n - SHOWN, db_path);
    else
        snprintf(err, errlen, "'%s' is the beginning of %zu job ids (%s) in %s: give more of the id", ref, n,
                 list.data ? list.data : "", db_path);
    buf_free(&list);
    return 1;
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

double jobdb_elapsed(const store_job_t *j, int64_t now)
{
    if (j->started_at <= 0) return -1;
    int64_t end = j->finished_at > 0 ? j->finished_at : now;
    return end >= j->started_at ? (double)(end - j->started_at) : 0;
}
