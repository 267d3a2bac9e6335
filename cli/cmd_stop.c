/* llmaj stop JOB: the seed's `stop()`. Asks the scheduler service (--scheduler URL /
 * LLMAJ_SCHEDULER) to stop the job, or, without one, marks it STOPPING in the local job
 * database, where the scheduler running it (`llmaj run` in another terminal, llmaj-scheduler)
 * takes the request up within a heartbeat. Either way no new model call starts for it; it ends
 * stopped, with what it committed kept and summarised (`llmaj wait JOB` waits for that). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "jobdb.h"
#include "jobsrc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj stop JOB [--scheduler URL | --db PATH]\n"
               "\n"
               "Stops job JOB: no new model call starts for it; it ends `stopped` with what it committed kept\n"
               "and summarised (summary.json says `partial`). JOB is a job id or the beginning of one.\n"
               "\n"
               "options:\n"
               "  --scheduler URL  a scheduler service (env LLMAJ_SCHEDULER; token from LLMAJ_TOKEN); without it,\n"
               "                   the job in the local job database (its scheduler sees the request within a second)\n"
               "  --db PATH        job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
               "\n"
               "exit status: 0 asked, 1 the service or database could not be reached, 2 no such job, or it has\n"
               "already ended\n");
}

int cmd_stop(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scheduler", required_argument, NULL, 'S'},
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url_flag = NULL, *db_flag = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'S': url_flag = optarg; break;
        case 'd': db_flag = optarg; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "llmaj stop: give one job id (`llmaj list` shows them)\n");
        return CLI_EXIT_BAD_INPUT;
    }
    jobsrc_t src;
    int code;
    if (jobsrc_open(&src, url_flag, db_flag, "llmaj stop", &code) < 0) return code;
    errlist_t errs;
    errlist_init(&errs, 0);
    char *job_id = NULL;
    sched_err_t rc = jobsrc_resolve(&src, argv[optind], &job_id, &errs);
    if (rc == SCHED_OK)
        rc = src.remote ? remote_stop(src.remote, job_id, &errs) : sched_request_stop(src.db_path, job_id, &errs);
    if (rc == SCHED_OK) {
        printf("job %s stopping\n", job_id);
    } else {
        fprintf(stderr, "llmaj stop:\n");
        errlist_print(&errs, stderr, "  ");
    }
    code = cli_exit(rc);
    errlist_free(&errs);
    free(job_id);
    jobsrc_close(&src);
    return code;
}
