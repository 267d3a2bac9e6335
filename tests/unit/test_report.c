/* test_report: what `llmaj run` shows a person, written to a file (not a terminal): progress lines
 * at most every few seconds of the job's time and always the last one, nothing when quiet, the bar
 * on a terminal (forced), and the summary tables (per target and metric, string-valued scales as
 * rating counts, the comparison with "+0.000" for a negligible difference and no "-0.000"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "check.h"

/* What was written to f, as a string (caller frees). */
static char *contents(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
    return s;
}

static int count(const char *s, const char *part)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, part)); p += strlen(part)) n++;
    return n;
}

static void test_progress(void)
{
    FILE *f = tmpfile();
    report_progress_t r;
    report_progress_init(&r, f, false);
    CHECK(!r.tty);
    sched_progress_t p = {.job_id = "j", .records = 50, .units_total = 100, .units_done = 0, .shards_total = 10,
                          .scores_ok = 0, .workers = 2};
    for (int i = 0; i <= 20; i++) {   /* 20 reports, one every half second of the job's time */
        p.elapsed_s = i * 0.5;
        p.units_done = (uint64_t)i * 4;
        p.scores_ok = p.units_done * 2;
        report_progress(&p, &r);
    }
    p.finished = true;
    p.units_done = 100;
    p.shards_done = 10;
    report_progress(&p, &r);
    report_progress_end(&r);
    char *out = contents(f);
    CHECK(count(out, "progress: ") == 4);   /* at 0 s, 5 s, 10 s, and the last */
    CHECK(strstr(out, "progress: 0/100 (0%) record-targets") != NULL);
    CHECK(strstr(out, "progress: 100/100 (100%) record-targets, 10.0/s, shards 10/10") != NULL);
    CHECK(strstr(out, "(done)\n") != NULL);
    CHECK(strchr(out, '\r') == NULL && strstr(out, "\033[") == NULL);   /* no terminal codes in a file */
    free(out);
    fclose(f);

    f = tmpfile();
    report_progress_init(&r, f, true);
    report_progress(&p, &r);
    report_progress_end(&r);
    out = contents(f);
    CHECK(out && out[0] == '\0');
    free(out);
    fclose(f);

    /* On a terminal: one bar redrawn in place, ended by a newline. */
    f = tmpfile();
    report_progress_init(&r, f, false);
    r.tty = true;
    p.finished = false;
    p.units_done = 50;
    p.elapsed_s = 10;
    report_progress(&p, &r);
    report_progress(&p, &r);
    report_progress_end(&r);
    report_progress_end(&r);   /* once */
    out = contents(f);
    CHECK(count(out, "\r\033[K[###############...............]  50% 50/100") == 2);
    CHECK(count(out, "\n") == 1 && strstr(out, "ETA 10s") != NULL);
    free(out);
    fclose(f);
}

static const char *SUMMARY =
    "{\"job_id\": \"j\", \"targets\": {"
    "\"custom\": {\"model\": \"m/ft\", \"metrics\": {"
    "  \"Correctness\": {\"mean\": 0.75, \"mean_score\": 1.5, \"std\": 0.2, \"n\": 4, \"n_unscored\": 1, \"n_error\": 0,"
    "                  \"ci95\": [0.5, 1.0], \"ratings\": {\"correct\": 2}},"
    "  \"Label\": {\"mean\": null, \"mean_score\": null, \"n\": 3, \"n_unscored\": 0, \"n_error\": 2, \"ci95\": null,"
    "            \"ratings\": {\"on\": 2, \"off\": 1}}}},"
    "\"base\": {\"model\": \"m/base\", \"metrics\": {"
    "  \"Correctness\": {\"mean\": 0.5, \"mean_score\": 1, \"n\": 4, \"n_unscored\": 0, \"n_error\": 0, \"ci95\": [0.1, 0.9]}}}},"
    "\"comparison\": {"
    "  \"Correctness\": {\"mean_diff\": 0.25, \"ci95\": [-0.1, 0.6], \"wins\": 3, \"ties\": 1, \"losses\": 0, \"win_rate\": 0.75},"
    "  \"Harmfulness\": {\"mean_diff\": -0.0001, \"ci95\": null, \"wins\": 0, \"ties\": 4, \"losses\": 0, \"win_rate\": null}}}";

static void test_summary(void)
{
    cJSON *s = cJSON_Parse(SUMMARY);
    CHECK(s != NULL);
    FILE *f = tmpfile();
    report_summary(f, s);
    char *out = contents(f);
    CHECK(strstr(out, "\ncustom model: m/ft\n") && strstr(out, "\nbase model: m/base\n"));
    CHECK(strstr(out, "Correctness                    0.750      1.500    [0.500, 1.000]       4         1       0") != NULL);
    CHECK(strstr(out, " on: 2 off: 1") != NULL);   /* a string scale: rating counts */
    CHECK(strstr(out, "custom vs base (positive = custom better)") != NULL);
    CHECK(strstr(out, "   +0.250  [-0.100, +0.600]      3      1      0    75.0%") != NULL);
    CHECK(strstr(out, "   +0.000                 -      0      4      0        -") != NULL);
    CHECK(strstr(out, "-0.000") == NULL);
    free(out);
    fclose(f);
    cJSON_Delete(s);
}

int main(void)
{
    test_progress();
    test_summary();
    return check_summary("test_report");
}
