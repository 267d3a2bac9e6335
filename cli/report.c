/* report: progress and summary tables; see report.h. */
#include "report.h"

#include "cli.h"
#include "jsonprint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void report_progress_init(report_progress_t *r, FILE *f, bool quiet)
{
    memset(r, 0, sizeof(*r));
    r->f = f;
    r->quiet = quiet;
    r->tty = isatty(fileno(f)) != 0;
    r->last_line_s = -1e9;
}

/* "45s", "16m30s", "2h47m": rounded once, to the second (to the minute past an hour), so a
 * field never reads 60 ("59m60s"). */
static void fmt_eta(char *out, size_t n, double s)
{
    if (!isfinite(s) || s < 0 || s > 1e9) {
        snprintf(out, n, "--");
        return;
    }
    long long t = llround(s);
    if (t < 60) snprintf(out, n, "%llds", t);
    else if (t < 3600) snprintf(out, n, "%lldm%02llds", t / 60, t % 60);
    else snprintf(out, n, "%lldh%02lldm", (t + 30) / 3600, (t + 30) / 60 % 60);
}

void report_progress(const sched_progress_t *p, void *arg)
{
    report_progress_t *r = arg;
    if (r->quiet) return;
    double frac = p->units_total ? (double)p->units_done / (double)p->units_total : 0;
    double rate = p->elapsed_s > 0 ? p->units_done / p->elapsed_s : 0;
    char eta[32];
    fmt_eta(eta, sizeof eta, rate > 0 ? (p->units_total - p->units_done) / rate : -1);
    if (r->tty) {
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(r->f,
                "\r\033[K[%s] %3.0f%% %llu/%llu  %.1f/s  ETA %s  workers %u  scores ok %llu unscored %llu errors %llu",
                bar, frac * 100, (unsigned long long)p->units_done, (unsigned long long)p->units_total, rate, eta,
                p->workers, (unsigned long long)p->scores_ok, (unsigned long long)p->scores_unscored,
                (unsigned long long)p->scores_error);
        fflush(r->f);
        r->drawn = true;
        return;
    }
    if (!p->finished && p->elapsed_s - r->last_line_s < 5) return;
    r->last_line_s = p->elapsed_s;
    fprintf(
        r->f,
        "progress: %llu/%llu (%.0f%%) record-targets, %.1f/s, shards %llu/%llu, scores ok %llu unscored %llu errors %llu%s%s%s\n",
        (unsigned long long)p->units_done, (unsigned long long)p->units_total, frac * 100, rate,
        (unsigned long long)p->shards_done, (unsigned long long)p->shards_total, (unsigned long long)p->scores_ok,
        (unsigned long long)p->scores_unscored, (unsigned long long)p->scores_error, p->finished ? " (done)" : "",
        p->note ? "; " : "", p->note ? p->note : "");
    fflush(r->f);
}

void report_progress_end(report_progress_t *r)
{
    if (r->drawn) fputc('\n', r->f);
    r->drawn = false;
}

void report_summary(FILE *f, const cJSON *summary) { sched_summary_print(f, summary); }

int report_outcome(FILE *f, const sched_status_t *st, const cJSON *summary)
{
    const char *id = st->job.job_id;
    fprintf(f, "job %s\n", id);
    if (summary) report_summary(f, summary);
    if (st->job.error) fprintf(f, "error: %s\n", st->job.error);
    fprintf(f, "results: %s\n", st->output_dir ? st->output_dir : "?");
    if (st->output_uri) fprintf(f, "s3: %s\n", st->output_uri); /* where the files are uploaded (see error if not) */
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(st->mlflow, "state");
    if (cJSON_IsString(ms) && strcmp(ms->valuestring, "none") != 0) {
        char *txt = jsonprint(st->mlflow, false);
        fprintf(f, "mlflow: %s\n", txt ? txt : "?");
        free(txt);
    }
    if (st->job.state == SCHED_JOB_SUCCEEDED && st->error_cells > 0) {
        fprintf(f, "job %s succeeded with %llu error cell(s) (record, target, metric): `llmaj retry %s` reruns them\n",
                id, (unsigned long long)st->error_cells, id);
        return CLI_EXIT_ERROR_CELLS;
    }
    if (st->job.state == SCHED_JOB_FAILED && st->job.failure &&
        (!strcmp(st->job.failure, "output") || !strcmp(st->job.failure, "database")))
        fprintf(f,
                "every committed result is kept in the job database: free space, then `llmaj run --resume %s` "
                "finishes the job and writes its files without calling a model again for them\n",
                id);
    if (st->job.state == SCHED_JOB_RUNNING || st->job.state == SCHED_JOB_STOPPING)
        fprintf(f,
                "the job has not ended in the job database (its result files are not written): `llmaj run --resume "
                "%s` finishes it\n",
                id);
    fprintf(f, "job %s %s\n", id, sched_job_state_name(st->job.state));
    return st->job.state == SCHED_JOB_SUCCEEDED ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
