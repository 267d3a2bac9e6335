/* jobdb: what the commands that read jobs back (`list`, `status`, `results`) share: their common
 * flags, which job database to read, opening it without ever creating one, turning what the user
 * typed into a job id (a unique prefix will do), and showing a job's times.
 *
 * Does not own the database (scheduler/store.c does) nor what each command prints. */
#ifndef LLMAJ_JOBDB_H
#define LLMAJ_JOBDB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "store.h"

#define JOBDB_DEFAULT "runs/llmaj.db"   /* the default output_path is runs/ */
#define JOBDB_ENV "LLMAJ_DB"

/* Reads the flags of `list` and `status` with getopt_long from argv[1]: --db PATH into *db_flag,
 * --json into *json, --help (usage to stdout). Returns -1 when the command goes on (optind is at
 * its first operand), else the exit code to return: CLI_EXIT_OK after --help, CLI_EXIT_BAD_INPUT
 * after a bad flag (usage to stderr). */
int jobdb_flags(int argc, char **argv, void (*usage)(FILE *f), const char **db_flag, bool *json);

/* The database to read: `flag` (--db) if given, else $LLMAJ_DB if set and not empty, else
 * JOBDB_DEFAULT. *origin (may be NULL) gets how it was chosen: "--db", "LLMAJ_DB" or "default". */
const char *jobdb_path(const char *flag, const char **origin);

/* Opens an existing job database. A missing path, a folder, or a file that is not an SQLite
 * database is an error (NULL, with a message in err that names the path, says how it was chosen
 * and how to choose another); nothing is created. Caller closes the store. */
store_t *jobdb_open(const char *path, const char *origin, char *err, size_t errlen);

/* Resolves `ref` (a job id or a unique prefix of one) to the job's id (caller frees *job_id).
 * 0; 1 when no job or several match (err says which, and how to list the job ids; `db_path` is
 * used in that message); -1 on a database error (err). */
int jobdb_resolve(store_t *s, const char *db_path, const char *ref, char **job_id, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Times as people read them: local "YYYY-MM-DD HH:MM:SS" ("-" for 0); as JSON wants them:
 * UTC ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" (empty for 0). */
void jobdb_time_local(int64_t t, char *out, size_t n);
void jobdb_time_iso(int64_t t, char *out, size_t n);

/* Members of the --json outputs: a time as jobdb_time_iso gives it, null for 0; a string, null
 * for NULL. */
void jobdb_json_time(cJSON *o, const char *key, int64_t t);
void jobdb_json_str(cJSON *o, const char *key, const char *v);

/* A duration in seconds as "<1s", "42s", "3m07s", "2h05m" ("-" when negative). */
void jobdb_duration(double s, char *out, size_t n);

/* Seconds a job has run: finished - started, or now - started while it runs; -1 if it never
 * started. */
double jobdb_elapsed(const store_job_t *j, int64_t now);

#endif
