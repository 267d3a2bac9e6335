/* test_jobdb: which job database the read commands use (--db, LLMAJ_DB, the default), opening it
 * (sched_db_open under it) without ever creating or changing one (missing path, a folder, not SQLite, SQLite without the
 * jobs table), job ids from unique prefixes with messages that say what to do, and time display. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "jobdb.c" /* cli/, on the unit tests' include path */
#include "log.h"
#include "store.h"
#include "check.h"

static bool has(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

static char dir[64];

static char *at(const char *name) { return xasprintf("%s/%s", dir, name); }

static off_t size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static bool has_table(const char *p, const char *table)
{
    sqlite3 *db = NULL;
    bool found = false;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name=?", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
            found = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return found;
}

static void test_path(void)
{
    const char *o = NULL;
    unsetenv("LLMAJ_DB");
    CHECK(!strcmp(jobdb_path(NULL, &o), "runs/llmaj.db") && !strcmp(o, "default"));
    CHECK(!strcmp(jobdb_path("x.db", &o), "x.db") && !strcmp(o, "--db"));
    setenv("LLMAJ_DB", "/env/llmaj.db", 1);
    CHECK(!strcmp(jobdb_path(NULL, &o), "/env/llmaj.db") && !strcmp(o, "LLMAJ_DB"));
    CHECK(!strcmp(jobdb_path("flag.db", &o), "flag.db") && !strcmp(o, "--db")); /* the flag wins */
    CHECK(!strcmp(jobdb_path(NULL, NULL), "/env/llmaj.db"));
    setenv("LLMAJ_DB", "", 1);
    CHECK(!strcmp(jobdb_path(NULL, &o), "runs/llmaj.db") && !strcmp(o, "default")); /* empty = unset */
    unsetenv("LLMAJ_DB");
}

static void test_open_refuses(void)
{
    char err[1024];
    char *missing = at("missing.db");
    sched_err_t why = SCHED_OK;
    CHECK(jobdb_open(missing, "default", err, sizeof err, &why) == NULL && why == SCHED_E_NOTFOUND);
    CHECK(has(err, missing) && has(err, "the default") && has(err, "--db") && has(err, "LLMAJ_DB"));
    CHECK(size_of(missing) < 0); /* not created */
    CHECK(jobdb_open(missing, "LLMAJ_DB", err, sizeof err, NULL) == NULL && has(err, "from LLMAJ_DB"));
    CHECK(jobdb_open(missing, "--db", err, sizeof err, NULL) == NULL && has(err, "given with --db"));
    CHECK(jobdb_open(missing, NULL, err, sizeof err, NULL) == NULL && has(err, "the default"));

    CHECK(jobdb_open(dir, "--db", err, sizeof err, &why) == NULL && has(err, "is not a file") && why == SCHED_E_INPUT);

    char *text = at("notes.txt");
    FILE *f = fopen(text, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a database, just some text that is long enough to have a header\n", f);
        fclose(f);
    }
    off_t before = size_of(text);
    CHECK(jobdb_open(text, "--db", err, sizeof err, NULL) == NULL && has(err, text) && has(err, "not a job database"));
    CHECK(size_of(text) == before);

    char *empty = at("empty.db");
    f = fopen(empty, "w");
    if (f) fclose(f);
    CHECK(jobdb_open(empty, "--db", err, sizeof err, NULL) == NULL && has(err, "no jobs table"));
    CHECK(size_of(empty) == 0); /* still empty: no schema was written */

    char *other = at("other.db");
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(other, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(jobdb_open(other, "--db", err, sizeof err, NULL) == NULL && has(err, "not a job database") &&
          has(err, "no jobs table"));
    CHECK(!has_table(other, "jobs"));

    free(missing);
    free(text);
    free(empty);
    free(other);
}

static void test_open_and_resolve(void)
{
    char err[2048];
    char *p = at("llmaj.db");
    store_t *s = store_open(p, STORE_WRITE, err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        free(p);
        return;
    }
    static const char *const ids[] = {"quick-20260101-000001-aaaaaa",
                                      "quick-20260101-000002-bbbbbb",
                                      "quick-20260102-000001-cccccc",
                                      "job-1",
                                      "job-10",
                                      "m-1",
                                      "m-2",
                                      "m-3",
                                      "m-4",
                                      "m-5",
                                      "m-6",
                                      "m-7"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) CHECK(store_job_create(s, ids[i], NULL, "{}", NULL) == 0);
    store_close(&s);

    sched_err_t why = SCHED_E_INTERNAL;
    sched_db_t *db = jobdb_open(p, "--db", err, sizeof err, &why);
    CHECK(db != NULL && why == SCHED_OK);
    if (!db) {
        free(p);
        return;
    }
    char *id = NULL;
    CHECK(jobdb_resolve(db, "quick-20260102", &id, err, sizeof err) == SCHED_OK && id && !strcmp(id, ids[2]));
    free(id);
    CHECK(jobdb_resolve(db, ids[0], &id, err, sizeof err) == SCHED_OK && !strcmp(id, ids[0]));
    free(id);
    CHECK(jobdb_resolve(db, "job-1", &id, err, sizeof err) == SCHED_OK && !strcmp(id, "job-1")); /* exact wins */
    free(id);

    CHECK(jobdb_resolve(db, "quick-20260101", &id, err, sizeof err) == SCHED_E_INPUT && id == NULL);
    CHECK(has(err, "2 job ids") && has(err, ids[0]) && has(err, ids[1]) && has(err, "give more of the id"));
    CHECK(jobdb_resolve(db, "m-", &id, err, sizeof err) == SCHED_E_INPUT);
    CHECK(has(err, "7 job ids") && has(err, "and 2 more"));

    CHECK(jobdb_resolve(db, "nothing-like-it", &id, err, sizeof err) == SCHED_E_NOTFOUND && id == NULL);
    CHECK(has(err, "no job 'nothing-like-it'") && has(err, p) && has(err, "llmaj list --db"));
    CHECK(jobdb_resolve(db, "", &id, err, sizeof err) == SCHED_E_INPUT && has(err, "a job id is required"));
    CHECK(jobdb_resolve(db, NULL, &id, err, sizeof err) == SCHED_E_INPUT);
    sched_db_close(&db);
    free(p);
}

static void test_times(void)
{
    char t[64];
    jobdb_time_iso(0, t, sizeof t);
    CHECK(!strcmp(t, ""));
    jobdb_time_iso(86400 + 3661, t, sizeof t);
    CHECK(!strcmp(t, "1970-01-02T01:01:01Z"));
    jobdb_time_local(0, t, sizeof t);
    CHECK(!strcmp(t, "-"));
    setenv("TZ", "UTC", 1);
    tzset();
    jobdb_time_local(1767225600, t, sizeof t);
    CHECK(!strcmp(t, "2026-01-01 00:00:00"));

    jobdb_duration(-1, t, sizeof t);
    CHECK(!strcmp(t, "-"));
    jobdb_duration(0.4, t, sizeof t);
    CHECK(!strcmp(t, "<1s"));
    jobdb_duration(42, t, sizeof t);
    CHECK(!strcmp(t, "42s"));
    jobdb_duration(187, t, sizeof t);
    CHECK(!strcmp(t, "3m07s"));
    jobdb_duration(7500, t, sizeof t);
    CHECK(!strcmp(t, "2h05m"));

    cJSON *o = cJSON_CreateObject();
    jobdb_json_time(o, "t0", 0);
    jobdb_json_time(o, "t1", 86400 + 3661);
    jobdb_json_str(o, "s0", NULL);
    jobdb_json_str(o, "s1", "x");
    char *js = cJSON_PrintUnformatted(o);
    CHECK(js && !strcmp(js, "{\"t0\":null,\"t1\":\"1970-01-02T01:01:01Z\",\"s0\":null,\"s1\":\"x\"}"));
    free(js);
    cJSON_Delete(o);
}

static int usage_out, usage_err;
static void count_usage(FILE *f)
{
    if (f == stdout) usage_out++;
    else if (f == stderr) usage_err++;
}

/* Runs jobdb_flags on a NULL-terminated argv (argv[0] is the command name). */
static int flags(const char **args, const char **db, bool *json)
{
    int argc = 0;
    char *argv[8];
    while (args[argc] && argc < 7) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    opterr = 0; /* getopt's own message for the bad flag is not wanted here */
    return jobdb_flags(argc, argv, count_usage, db, json);
}

static void test_flags(void)
{
    const char *db = "x";
    bool json = true;
    CHECK(flags((const char *[]){"list", NULL}, &db, &json) == -1 && db == NULL && !json && optind == 1);
    CHECK(flags((const char *[]){"status", "--db", "a.db", "--json", "JOB", NULL}, &db, &json) == -1);
    CHECK(db && strcmp(db, "a.db") == 0 && json && optind == 4);
    CHECK(flags((const char *[]){"status", "JOB", "--db=b.db", NULL}, &db, &json) == -1); /* flags after JOB */
    CHECK(db && strcmp(db, "b.db") == 0 && !json && optind == 2);
    CHECK(usage_out == 0 && usage_err == 0);
    CHECK(flags((const char *[]){"list", "--help", NULL}, &db, &json) == CLI_EXIT_OK && usage_out == 1);
    CHECK(flags((const char *[]){"list", "-h", NULL}, &db, &json) == CLI_EXIT_OK && usage_out == 2);
    CHECK(flags((const char *[]){"list", "--nope", NULL}, &db, &json) == CLI_EXIT_BAD_INPUT && usage_err == 1);
    CHECK(flags((const char *[]){"list", "--db", NULL}, &db, &json) == CLI_EXIT_BAD_INPUT && usage_err == 2);
    opterr = 1;
}

int main(void)
{
    log_set_level(LOG_OFF);
    snprintf(dir, sizeof dir, "/tmp/test_jobdb.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_path();
    test_open_refuses();
    test_open_and_resolve();
    test_times();
    test_flags();
    static const char *const files[] = {"notes.txt", "empty.db",     "other.db",
                                        "llmaj.db",  "llmaj.db-wal", "llmaj.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *f = at(files[i]);
        unlink(f);
        free(f);
    }
    if (rmdir(dir) < 0) fprintf(stderr, "test_jobdb: could not remove %s\n", dir);
    return check_summary("test_jobdb");
}
