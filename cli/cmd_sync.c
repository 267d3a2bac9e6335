/* llmaj sync: puts a finished job folder's results into MLflow, or completes an interrupted sync:
 * the flags, then sched_sync_dir (the spec comes from the folder's job.json; what was already
 * logged is read from the job database, so running it again never logs anything twice). */
#define LOG_MODULE "sync"
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errlist.h"
#include "log.h"
#include "scheduler.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj sync --job-dir DIR [options]\n"
               "\n"
               "Syncs a finished job's results (DIR/records.jsonl, summary.json, job.json) to MLflow:\n"
               "experiment, parent and per-target runs, params, metrics, tags and artifacts. Resumes an\n"
               "interrupted sync; a job already synced is left as it is.\n"
               "\n"
               "options:\n"
               "  --job-dir DIR        the job's output folder (required)\n"
               "  --db PATH            job database holding the sync state (default DIR/../llmaj.db;\n"
               "                       created if missing)\n"
               "  --tracking-uri URI   MLflow tracking URI or SageMaker tracking-server ARN (default: the\n"
               "                       spec's mlflow.tracking_uri, else MLFLOW_TRACKING_URI)\n"
               "  --experiment NAME    MLflow experiment (default: the spec's mlflow.experiment)\n"
               "  --status S           FINISHED, FAILED or KILLED (default: from job.json's status)\n"
               "  --log-level LEVEL    debug, info (default), warn, error\n"
               "\n"
               "auth: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD; for an ARN,\n"
               "AWS credentials from the environment or ~/.aws (AWS_PROFILE). See docs/mlflow.md.\n"
               "\n"
               "exit status: 0 synced, 1 MLflow could not be reached or refused (run it again to resume),\n"
               "2 bad input\n");
}

int cmd_sync(int argc, char **argv)
{
    static const struct option opts[] = {
        {"job-dir", required_argument, NULL, 'j'},
        {"db", required_argument, NULL, 'd'},
        {"tracking-uri", required_argument, NULL, 'u'},
        {"experiment", required_argument, NULL, 'e'},
        {"status", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *job_dir = NULL, *db_path = NULL, *uri = NULL, *experiment = NULL, *status = NULL;
    log_set_level(LOG_INFO);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': job_dir = optarg; break;
        case 'd': db_path = optarg; break;
        case 'u': uri = optarg; break;
        case 'e': experiment = optarg; break;
        case 's': status = optarg; break;
        case 'l': {
            log_level_t lv;
            if (log_parse_level(optarg, &lv) < 0) {
                fprintf(stderr, "llmaj sync: --log-level: '%s' is not debug, info, warn, error or off\n", optarg);
                return CLI_EXIT_BAD_INPUT;
            }
            log_set_level(lv);
            break;
        }
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmaj sync: unexpected argument '%s'\n", argv[optind]);
        return CLI_EXIT_BAD_INPUT;
    }
    if (!job_dir) {
        fprintf(stderr, "llmaj sync: --job-dir is required\n\n");
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    sched_sync_opts_t o = {.job_dir = job_dir,
                           .db_path = db_path,
                           .tracking_uri = uri,
                           .experiment = experiment,
                           .status = status};
    sched_sync_out_t out;
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_err_t rc = sched_sync_dir(&o, &out, &errs);
    if (rc == SCHED_OK) {
        printf("job %s synced to MLflow %s: experiment %s, run %s (%s)\n", out.job_id,
               out.tracking_uri ? out.tracking_uri : "?", out.experiment_id ? out.experiment_id : "?",
               out.run_id ? out.run_id : "?", out.status);
    } else {
        for (size_t i = 0; i < errs.n_kept; i++) fprintf(stderr, "llmaj sync: %s\n", errs.msgs[i]);
    }
    sched_sync_out_clear(&out);
    errlist_free(&errs);
    return cli_exit(rc);
}
