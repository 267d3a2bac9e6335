/* cli: the `llmaj` command. Each subcommand is one function in its own file (cmd_<name>.c)
 * taking the arguments after the subcommand name. Exit codes (DESIGN.md "CLI"): 0 succeeded,
 * 1 the job failed (or was stopped), 2 bad input (spec, dataset, flags, no such job), 3 the job
 * succeeded with error cells (run, wait, retry). */
#ifndef LLMAJ_CLI_H
#define LLMAJ_CLI_H

#include "scheduler.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_BAD_INPUT 2
#define CLI_EXIT_ERROR_CELLS 3 /* run/wait/retry: the job succeeded with cells that ended `error` */

/* The exit code for a scheduler error: bad input, no such job or database, a state that does not
 * allow it: 2; a database, file, MLflow or internal failure: 1; SCHED_OK: 0. */
int cli_exit(sched_err_t e);

int cmd_run(int argc, char **argv);    /* llmaj run --spec FILE [flags] */
int cmd_sync(int argc, char **argv);   /* llmaj sync ...: (re)sync a finished job to MLflow */
int cmd_keygen(int argc, char **argv); /* llmaj keygen NAME [--force]: a CURVE key pair */
/* Reading jobs back from a job database (default runs/llmaj.db, or $LLMAJ_DB, or --db PATH);
 * JOB is a job id or a unique beginning of one. */
int cmd_list(int argc, char **argv);    /* llmaj list [--db PATH] [--json]: every job, newest first */
int cmd_status(int argc, char **argv);  /* llmaj status JOB [--db PATH] [--json]: state, steps, counts */
int cmd_results(int argc, char **argv); /* llmaj results JOB [--limit N] [--offset N] [--explanations] [--json] */
/* Against a scheduler service (--scheduler URL or LLMAJ_SCHEDULER; token LLMAJ_TOKEN), and (all but
 * evaluate) on the local job database without one; list, status and results above do the same. */
int cmd_evaluate(int argc, char **argv); /* llmaj evaluate --spec FILE [flags]: submit; prints the job id */
int cmd_wait(int argc, char **argv);     /* llmaj wait JOB [--poll S] [--timeout S]: progress, then the outcome */
int cmd_stop(int argc, char **argv);     /* llmaj stop JOB */
int cmd_retry(int argc, char **argv);    /* llmaj retry JOB [--unscored]: rerun its error cells in place */
int cmd_report(int argc, char **argv);   /* llmaj report JOB [--html FILE] [--max-rows N]: tables, or the viewer page */

#endif
