/* llmaj wait JOB: waits for a job to end, showing its live progress (report.c: a bar on a
 * terminal, a line every few seconds otherwise), then prints how it ended as `llmaj run` does
 * (the summary tables, the error, the results folder) and exits with run's codes. Reads the job
 * from a scheduler service (--scheduler URL / LLMAJ_SCHEDULER) or from the local job database
 * (--db), polling every --poll seconds. A service that stops answering (a restart, a rollout, a
 * port-forward that ended) is asked again for up to --patience seconds before wait gives up: the
 * job goes on without us, and a restarted service takes it up by itself. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "daemon.h"
#include "jobdb.h"
#include "jobsrc.h"
#include "loop.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj wait JOB [--scheduler URL | --db PATH] [--poll S] [--timeout S] [--patience S] [--quiet]\n"
               "\n"
               "Waits for job JOB to end, showing its progress on stderr, then prints its summary tables and\n"
               "where its results are, as `llmaj run` does. JOB is a job id or the beginning of one.\n"
               "\n"
               "options:\n"
               "  --scheduler URL  a scheduler service (env LLMAJ_SCHEDULER; token from LLMAJ_TOKEN); without it,\n"
               "                   the local job database\n"
               "  --db PATH        job database (default: $" JOBDB_ENV ", else " JOBDB_DEFAULT ")\n"
               "  --poll S         seconds between looks (default 1)\n"
               "  --timeout S      give up after S seconds (default: wait for as long as it takes)\n"
               "  --patience S     with --scheduler: keep asking a service that does not answer (restarting,\n"
               "                   or answering 502/503/504) for S seconds before giving up (default 300)\n"
               "  --quiet          no progress output\n"
               "\n"
               "exit status: 0 the job succeeded, 1 it failed or was stopped (or --timeout passed, or the\n"
               "service could not be read), 2 bad input (no such job), 3 it succeeded with error cells\n");
}

/* A job's status as the progress callback's figures. */
static void progress_of(const sched_status_t *st, double elapsed, sched_progress_t *p)
{
    *p = (sched_progress_t){.job_id = st->job.job_id,
                            .records = st->records_valid,
                            .units_total = st->units_total,
                            .units_done = st->units_done,
                            .shards_total = st->shards_total,
                            .shards_done = st->shards_done,
                            .shards_inflight = st->shards_inflight,
                            .scores_ok = st->scores[SCORE_OK],
                            .scores_unscored = st->scores[SCORE_UNSCORED],
                            .scores_error = st->scores[SCORE_ERROR],
                            .scores_na = st->scores[SCORE_NOT_APPLICABLE],
                            .connected = true,
                            .elapsed_s = elapsed,
                            .finished = sched_job_state_ended(st->job.state),
                            .note = st->note};
}

/* After a failed request: true (having slept a poll) when it failed only because the service did
 * not answer and it has not been silent for `patience_s` yet; the first time says so on stderr.
 * errs is emptied then, to hold only the last attempt's reason. */
static bool keep_asking(const jobsrc_t *src, errlist_t *errs, int64_t *down_since, long poll_s, long patience_s,
                        report_progress_t *rp)
{
    if (!jobsrc_unavailable(src)) return false;
    int64_t now = loop_now_ms();
    if (*down_since < 0) {
        *down_since = now;
        report_progress_end(rp);
        fprintf(stderr, "llmaj wait: %s; asking again every %ld s for up to %ld s (--patience)\n",
                errs->n_kept ? errs->msgs[errs->n_kept - 1] : "the service does not answer", poll_s, patience_s);
    }
    if ((now - *down_since) / 1000 >= patience_s) return false;
    errlist_free(errs);
    errlist_init(errs, 0);
    struct timespec ts = {.tv_sec = poll_s, .tv_nsec = 0};
    nanosleep(&ts, NULL);
    return true;
}

int cmd_wait(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scheduler", required_argument, NULL, 'S'},
        {"db", required_argument, NULL, 'd'},
        {"poll", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"patience", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url_flag = NULL, *db_flag = NULL;
    long poll_s = 1, timeout_s = -1, patience_s = 300;
    bool quiet = false;
    char err[1024];
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'S': url_flag = optarg; break;
        case 'd': db_flag = optarg; break;
        case 'p':
            if (daemon_parse_int(optarg, 1, 3600, &poll_s, "--poll", err, sizeof err) < 0) goto bad;
            break;
        case 't':
            if (daemon_parse_int(optarg, 0, 100000000L, &timeout_s, "--timeout", err, sizeof err) < 0) goto bad;
            break;
        case 'P':
            if (daemon_parse_int(optarg, 0, 100000000L, &patience_s, "--patience", err, sizeof err) < 0) goto bad;
            break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind + 1 != argc) {
        snprintf(err, sizeof err,
                 optind >= argc ? "which job? give its id (`llmaj list` shows them)"
                                : "one job at a time: unexpected argument '%s'",
                 argv[optind + 1]);
        goto bad;
    }
    jobsrc_t src;
    int code;
    if (jobsrc_open(&src, url_flag, db_flag, "llmaj wait", &code) < 0) return code;
    errlist_t errs;
    errlist_init(&errs, 0);
    char *job_id = NULL;
    report_progress_t rp;
    report_progress_init(&rp, stderr, quiet);
    int64_t down_since = -1; /* when the service stopped answering, or -1 */
    int64_t t0 = loop_now_ms();
    sched_err_t rc;
    while ((rc = jobsrc_resolve(&src, argv[optind], &job_id, &errs)) != SCHED_OK &&
           !(timeout_s >= 0 && (loop_now_ms() - t0) / 1000 >= timeout_s) &&
           keep_asking(&src, &errs, &down_since, poll_s, patience_s, &rp)) {
    } /* a rollout: ask again, within --timeout too */
    sched_status_t st;
    memset(&st, 0, sizeof st);
    code = CLI_EXIT_FAILED;
    while (rc == SCHED_OK) {
        sched_status_clear(&st);
        double waited = (loop_now_ms() - t0) / 1000.0;
        if ((rc = jobsrc_status(&src, job_id, &st, &errs)) != SCHED_OK) {
            if (timeout_s >= 0 && waited >= timeout_s) break;
            if (!keep_asking(&src, &errs, &down_since, poll_s, patience_s, &rp)) break;
            rc = SCHED_OK;
            continue;
        }
        if (down_since >= 0) {
            fprintf(stderr, "llmaj wait: the service answers again after %.1f s\n",
                    (loop_now_ms() - down_since) / 1000.0);
            down_since = -1;
        }
        sched_progress_t p;
        progress_of(&st, st.job.elapsed_s >= 0 ? st.job.elapsed_s : waited, &p);
        report_progress(&p, &rp);
        if (sched_job_state_ended(st.job.state)) break;
        if (timeout_s >= 0 && waited >= timeout_s) {
            report_progress_end(&rp);
            fprintf(stderr, "llmaj wait: job %s is still %s after %ld s\n", job_id, sched_job_state_name(st.job.state),
                    timeout_s);
            rc = SCHED_E_STATE;
            code = CLI_EXIT_FAILED;
            goto done;
        }
        struct timespec ts = {.tv_sec = poll_s, .tv_nsec = 0};
        nanosleep(&ts, NULL);
    }
    report_progress_end(&rp);
    if (rc != SCHED_OK) {
        fprintf(stderr, "llmaj wait:\n");
        errlist_print(&errs, stderr, "  ");
        code = rc == SCHED_E_INPUT || rc == SCHED_E_NOTFOUND ? CLI_EXIT_BAD_INPUT : CLI_EXIT_FAILED;
    } else {
        cJSON *summary = NULL;
        errlist_t quiet_errs;
        errlist_init(&quiet_errs, 1);
        if (jobsrc_summary(&src, job_id, &summary, &quiet_errs) != SCHED_OK) summary = NULL;
        errlist_free(&quiet_errs);
        code = report_outcome(stdout, &st, summary);
        cJSON_Delete(summary);
    }
done:
    sched_status_clear(&st);
    errlist_free(&errs);
    free(job_id);
    jobsrc_close(&src);
    return code;
bad:
    fprintf(stderr, "llmaj wait: %s\n", err);
    return CLI_EXIT_BAD_INPUT;
}
