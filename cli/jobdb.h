/* jobdb: what the commands that read jobs back (`list`, `status`, `results`) share: their common
 * flags, which job database to read (--db, LLMAJ_DB, the default) and how to say so in messages,
 * opening it and turning what the user typed into a job id with messages that say what to do
 * next, and showing times and durations.
 *
 * Does not own the database or its reading (scheduler.h's sched_db_*), nor what each command
 * prints. */
#ifndef LLMAJ_JOBDB_H
#define LLMAJ_JOBDB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "scheduler.h"

#define JOBDB_DEFAULT "runs/llmaj.db" /* the default output_path is runs/ */
#define JOBDB_ENV "LLMAJ_DB"

/* Reads the flags of `list` and `status` with getopt_long from argv[1]: --db PATH into *db_flag,
 * --json into *json, --help (usage to stdout). Returns -1 when the command goes on (optind is at
 * its first operand), else the exit code to return: CLI_EXIT_OK after --help, CLI_EXIT_BAD_INPUT
 * after a bad flag (usage to stderr). */
int jobdb_flags(int argc, char **argv, void (*usage)(FILE *f), const char **db_flag, bool *json);

/* The database to read: `flag` (--db) if given, else $LLMAJ_DB if set and not empty, else
 * JOBDB_DEFAULT. *origin (may be NULL) gets how it was chosen: "--db", "LLMAJ_DB" or "default". */
const char *jobdb_path(const char *flag, const char **origin);

/* Opens an existing job database (sched_db_open). A missing path, a folder, or a file that is not
 * a job database is an error (NULL, with a message in err that names the path, says how it was
 * chosen and how to choose another); nothing is created. *why (may be NULL) gets the scheduler's
 * error kind. Caller closes the database. */
sched_db_t *jobdb_open(const char *path, const char *origin, char *err, size_t errlen, sched_err_t *why);

/* Resolves `ref` (a job id or a unique prefix of one) to the job's id (caller frees *job_id).
 * SCHED_OK; else the error, with err saying which jobs match and how to list the job ids. */
sched_err_t jobdb_resolve(sched_db_t *db, const char *ref, char **job_id, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The messages of errs, one per line, into err. */
void jobdb_errs(const errlist_t *errs, char *err, size_t errlen);

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

#endif
