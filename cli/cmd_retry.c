/* llmaj retry JOB: reruns, in place, the cells (record, target, metric) of an ended job that ended
 * `error` (with --unscored also `unscored`), and those a stopped or failed job never reached; what
 * succeeded is kept and not redone, and the job's result files are written again. Against a
 * scheduler service (--scheduler URL / LLMAJ_SCHEDULER) the service runs it (and --wait waits for
 * it, as `llmaj wait`); without one it runs here, on the local job database, as
 * `llmaj run --retry JOB` does. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jobdb.h"
#include "jobsrc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj retry JOB [--unscored] [--scheduler URL [--wait] | --db PATH] [--quiet]\n"
               "\n"
               "Reruns the cells of an ended job (succeeded, failed or stopped) that ended `error`, and the\n"
               "records a stopped or failed job never reached; keeps everything else; writes its results again.\n"
               "\n"
               "options:\n"
               "  --unscored       also rerun the cells that ended `unscored`\n"
               "  --scheduler URL  a scheduler service runs it (env LLMAJ_SCHEDULER; token from LLMAJ_TOKEN);\n"
               "                   --wait: wait for it as `llmaj wait` does. Without a service it runs here\n"
               "  --db PATH        job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
               "\n"
               "exit status: as `llmaj run` (0 succeeded, 1 failed, 2 bad input or nothing to rerun, 3 succeeded\n"
               "with error cells); with a service and no --wait: 0 once it is queued\n");
}

int cmd_retry(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scheduler", required_argument, NULL, 'S'},
        {"db", required_argument, NULL, 'd'},
        {"unscored", no_argument, NULL, 'u'},
        {"wait", no_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url_flag = NULL, *db_flag = NULL;
    bool unscored = false, wait = false, quiet = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'S': url_flag = optarg; break;
        case 'd': db_flag = optarg; break;
        case 'u': unscored = true; break;
        case 'w': wait = true; break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "llmaj retry: give one job id (`llmaj list` shows them)\n");
        return CLI_EXIT_BAD_INPUT;
    }
    const char *url = url_flag ? url_flag : db_flag ? NULL : remote_url(NULL);
    if (!url) {
        /* Here, on the local database: the embedded fleet runs it. */
        if (wait) {
            fprintf(stderr, "llmaj retry: --wait goes with a scheduler service; here the retry runs until it ends\n");
            return CLI_EXIT_BAD_INPUT;
        }
        const char *path = jobdb_path(db_flag, NULL);
        char *av[8] = {"run", "--retry", argv[optind], "--db", (char *)path};
        int n = 5;
        if (unscored) av[n++] = "--unscored";
        if (quiet) av[n++] = "--quiet";
        av[n] = NULL;
        return cmd_run(n, av);
    }
    jobsrc_t src;
    int code;
    if (jobsrc_open(&src, url, db_flag, "llmaj retry", &code) < 0) return code;
    errlist_t errs;
    errlist_init(&errs, 0);
    char *job_id = NULL;
    uint64_t cells = 0;
    sched_err_t rc = jobsrc_resolve(&src, argv[optind], &job_id, &errs);
    if (rc == SCHED_OK) rc = remote_retry(src.remote, job_id, unscored, &cells, &errs);
    code = cli_exit(rc);
    if (rc == SCHED_OK) {
        printf("job %s queued to run again: %llu cell(s)\n", job_id, (unsigned long long)cells);
        fflush(stdout);
    } else {
        fprintf(stderr, "llmaj retry:\n");
        errlist_print(&errs, stderr, "  ");
    }
    jobsrc_close(&src);
    errlist_free(&errs);
    if (rc == SCHED_OK && wait) {
        char *av[] = {"wait", job_id, "--scheduler", (char *)url, quiet ? "--quiet" : NULL, NULL};
        code = cmd_wait(quiet ? 5 : 4, av);
    }
    free(job_id);
    return code;
}
