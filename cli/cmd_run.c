/* llmaj run: the embedded mode. The scheduler engine (scheduler.h) runs one job here, against a
 * broker and workers in this same process (embedded.c). This file reads the flags and the spec,
 * and prints: progress to stderr (a live bar on a terminal, plain lines otherwise; report.c),
 * then the job id, the summary table, the output folder and the MLflow sync state to stdout, all
 * read back from the job database as `llmaj status` reads them. */
#define LOG_MODULE "run"
#include <getopt.h>
#include <pthread.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "daemon.h"
#include "embedded.h"
#include "errlist.h"
#include "file.h"
#include "jsonprint.h"
#include "log.h"
#include "mem.h"
#include "report.h"
#include "scheduler.h"
#include "specflags.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: llmaj run --spec FILE [options]\n"
        "       llmaj run --resume JOB [--db PATH] [options]\n"
        "       llmaj run --retry JOB [--unscored] [--db PATH] [options]   (what `llmaj retry JOB` runs)\n"
        "\n"
        "Runs one evaluation job on this machine and waits for it to finish.\n"
        "\n"
        "options:\n"
        "  --spec FILE              the job spec (JSON); flags below override its keys\n"
        "  --workers N              worker threads (default: the number of cores)\n"
        "  --concurrency N          model calls in flight per worker thread (default 256)\n"
        "  --window N               shards in flight at most (default 64)\n"
        "  --db PATH                job database (default <output_path>/llmaj.db)\n"
        "  --mlflow-wait S          wait at most S seconds for the MLflow sync at the end (default 60);\n"
        "                           an unfinished sync resumes with the next run on the same database\n"
        "  --resume JOB             finish a job that was stopped or whose process died (shards done are kept);\n"
        "                           a job that ended with error cells reruns those; a job that failed on a\n"
        "                           full disk (its files or its database) runs what is missing and writes its files\n"
        "  --retry JOB              rerun, in place, the cells of an ended job that ended `error` (and those it\n"
        "                           never reached); --unscored: the `unscored` ones too\n"
        "  --quiet                  no progress output\n"
        "  --log-level LEVEL        debug, info, warn (default), error\n" SPECFLAGS_USAGE "\n"
        "exit status: 0 the job succeeded, 1 it failed or was stopped, 2 bad input (nothing was run),\n"
        "3 it succeeded with error cells (`llmaj retry JOB` reruns them)\n");
}

#define SPEC_MAX (64u << 20)

/* The engine a signal stops (Ctrl-C: the job ends STOPPED with what it committed); cleared under
 * the lock before the engine is freed, since the signal thread outlives it. */
static pthread_mutex_t g_sched_mu = PTHREAD_MUTEX_INITIALIZER;
static sched_t *g_sched;

static void on_signal(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_sched_mu);
    if (g_sched) sched_stop_all(g_sched);
    pthread_mutex_unlock(&g_sched_mu);
}

static void set_engine(sched_t *s)
{
    pthread_mutex_lock(&g_sched_mu);
    g_sched = s;
    pthread_mutex_unlock(&g_sched_mu);
}

/* Prints how the job ended, read back from the job database; returns the exit code. */
static int print_outcome(const char *db_path, const char *job_id)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    sched_db_t *db = NULL;
    sched_status_t st;
    int code = CLI_EXIT_FAILED;
    sched_err_t rc = sched_db_open(db_path, NULL, &db, &errs);
    if (rc == SCHED_OK) rc = sched_job_status(db, job_id, &st, &errs);
    if (rc != SCHED_OK) {
        fprintf(stderr, "llmaj: job %s: cannot read how it ended:\n", job_id);
        errlist_print(&errs, stderr, "  ");
    } else {
        cJSON *summary = NULL;
        if (sched_job_summary(db, job_id, &summary, &errs) != SCHED_OK) summary = NULL;
        code = report_outcome(stdout, &st, summary);
        cJSON_Delete(summary);
        sched_status_clear(&st);
    }
    sched_db_close(&db);
    errlist_free(&errs);
    return code;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {{"spec", required_argument, 0, 's'},
                                             {"workers", required_argument, 0, 'w'},
                                             {"concurrency", required_argument, 0, 'c'},
                                             {"window", required_argument, 0, 'W'},
                                             {"db", required_argument, 0, 'd'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"log-level", required_argument, 0, 'l'},
                                             {"help", no_argument, 0, 'h'},
                                             SPECFLAGS_LONGOPTS,
                                             {"mlflow-wait", required_argument, 0, 'M'},
                                             {"resume", required_argument, 0, 'R'},
                                             {"retry", required_argument, 0, 'Y'},
                                             {"unscored", no_argument, 0, 'U'},
                                             {0, 0, 0, 0}};
    const char *spec_path = NULL, *db = NULL, *level = NULL, *resume = NULL;
    bool retry = false, unscored = false;
    long workers = sysconf(_SC_NPROCESSORS_ONLN), conc = 256, window = 64, mlflow_wait = 60;
    int quiet = 0;
    char err[1024];
    cJSON *ov = cJSON_CreateObject();
    int c, rc = CLI_EXIT_BAD_INPUT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': spec_path = optarg; break;
        case 'w':
            if (daemon_parse_int(optarg, 1, 1024, &workers, "--workers", err, sizeof err) < 0) goto bad;
            break;
        case 'c':
            if (daemon_parse_int(optarg, 1, 100000, &conc, "--concurrency", err, sizeof err) < 0) goto bad;
            break;
        case 'W':
            if (daemon_parse_int(optarg, 1, 1000000, &window, "--window", err, sizeof err) < 0) goto bad;
            break;
        case 'd': db = optarg; break;
        case 'R': resume = optarg; break;
        case 'Y':
            resume = optarg;
            retry = true;
            break;
        case 'U': unscored = true; break;
        case 'M':
            if (daemon_parse_int(optarg, 0, 86400, &mlflow_wait, "--mlflow-wait", err, sizeof err) < 0) goto bad;
            break;
        case 'q': quiet = 1; break;
        case 'l': level = optarg; break;
        case 'h':
            usage(stdout);
            cJSON_Delete(ov);
            return 0;
        default: {
            int k = specflags_set(ov, c, optarg, err, sizeof err);
            if (k < 0) goto bad;
            if (k > 0) break;
            usage(stderr);
        }
            cJSON_Delete(ov);
            return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]);
        goto bad;
    }
    if (unscored && !retry) {
        snprintf(err, sizeof err, "--unscored goes with --retry JOB");
        goto bad;
    }
    if (resume && (spec_path || cJSON_GetArraySize(ov))) {
        snprintf(err, sizeof err, "--resume runs the job as it was stored: give no --spec or spec flags with it");
        goto bad;
    }
    if (!resume && !spec_path && !cJSON_GetArraySize(ov)) {
        snprintf(err, sizeof err, "--spec FILE is required (or give the spec keys as flags)");
        goto bad;
    }
    if (daemon_setup_logging(level ? level : daemon_env("LLMAJ_LOG_LEVEL", "warn"), NULL) < 0) {
        cJSON_Delete(ov);
        return CLI_EXIT_BAD_INPUT;
    }

    char *text = NULL;
    size_t len = 0;
    char base_dir[PATH_MAX] = ".";
    if (spec_path) {
        if (file_read_all(spec_path, SPEC_MAX, 0, &text, &len, err, sizeof err) < 0) goto bad;
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", spec_path);
        snprintf(base_dir, sizeof base_dir, "%s", dirname(tmp));
    } else {
        text = xstrdup("{}");
        len = 2;
    }

    if (daemon_on_signal(on_signal, NULL) < 0) log_warn("cannot install signal handling");
    embedded_opts_t eo = {.workers = (int)workers, .concurrency = (int)conc};
    embedded_t *fleet = embedded_start(&eo, err, sizeof err);
    sched_t *s = NULL;
    errlist_t errs;
    errlist_init(&errs, 0);
    if (!fleet) {
        fprintf(stderr, "llmaj: %s\n", err);
        rc = CLI_EXIT_FAILED;
        goto done;
    }
    report_progress_t rp;
    report_progress_init(&rp, stderr, quiet);
    sched_opts_t so = {.broker = embedded_endpoint(fleet),
                       .zmq_ctx = embedded_zmq_ctx(fleet),
                       .db_path = db,
                       .window = (int)window,
                       .until_idle = true,
                       .mlflow_wait_ms = (int)mlflow_wait * 1000,
                       .progress = report_progress,
                       .progress_arg = &rp};
    if (!(s = sched_new(&so, &errs))) {
        fprintf(stderr, "llmaj: internal error:\n");
        errlist_print(&errs, stderr, "  ");
        rc = CLI_EXIT_FAILED;
        goto done;
    }
    set_engine(s);
    char job_id[SCHED_JOB_ID_MAX] = "";
    sched_err_t jr;
    if (resume) {
        snprintf(job_id, sizeof job_id, "%s", resume);
        jr = retry ? sched_retry(s, resume, unscored, NULL, &errs) : sched_resume(s, resume, &errs);
    } else {
        sched_submit_t in = {.spec_json = text,
                             .len = len,
                             .origin = spec_path ? spec_path : "flags",
                             .base_dir = base_dir,
                             .overrides = ov};
        jr = sched_submit(s, &in, job_id, &errs);
    }
    if (jr == SCHED_OK) jr = sched_run(s, &errs);
    report_progress_end(&rp);
    if (jr != SCHED_OK) {
        rc = cli_exit(jr);
        if (rc == CLI_EXIT_BAD_INPUT) fprintf(stderr, "llmaj: the job was not run: %zu problem(s):\n", errs.count);
        else fprintf(stderr, "llmaj: %s:\n", sched_strerror(jr));
        errlist_print(&errs, stderr, "  ");
    } else {
        rc = print_outcome(sched_db_path(s), job_id);
    }

done:
    set_engine(NULL);
    sched_destroy(&s);
    embedded_stop(&fleet); /* after the engine: it shares the fleet's ZeroMQ context */
    errlist_free(&errs);
    free(text);
    cJSON_Delete(ov);
    return rc;
bad:
    fprintf(stderr, "llmaj run: %s\n", err);
    cJSON_Delete(ov);
    return CLI_EXIT_BAD_INPUT;
}
