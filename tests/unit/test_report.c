/* test_report: what `llmaj run` shows a person (cli/report.c): the plain progress line (every
 * 5 s of job time at most, always at the end, nothing when quiet), the redrawn bar on a terminal
 * (a pseudo-terminal here), the ETA's units and rounding, and the summary tables of a
 * summary.json: numbers, "-" for what is null, the rating counts of a string scale, the
 * comparison with its signs ("+0.000", never "-0.000"), the '*' of metrics where lower is better,
 * and the same figures from a summary read back from its JSON text as from the one in memory. */
#include "report.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonprint.h"
#include "check.h"

/* Output captured in memory (not a terminal). */
typedef struct {
    char *text;
    size_t len;
    FILE *f;
} cap_t;

static void cap_open(cap_t *c)
{
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->text, &c->len);
}

static char *cap_close(cap_t *c)
{
    fclose(c->f);
    return c->text;
}

static sched_progress_t progress(uint64_t done, uint64_t total, double elapsed, bool finished)
{
    sched_progress_t p = {.job_id = "j",
                          .records = total / 2,
                          .units_total = total,
                          .units_done = done,
                          .shards_total = 10,
                          .shards_done = done / 10,
                          .scores_ok = done * 2,
                          .scores_unscored = 1,
                          .scores_error = 2,
                          .workers = 3,
                          .connected = true,
                          .elapsed_s = elapsed,
                          .finished = finished};
    return p;
}

static void test_plain(void)
{
    cap_t c;
    cap_open(&c);
    report_progress_t r;
    report_progress_init(&r, c.f, false);
    CHECK(!r.tty);
    sched_progress_t p = progress(50, 200, 10, false);
    report_progress(&p, &r);
    p = progress(60, 200, 12, false); /* 2 s later: no new line */
    report_progress(&p, &r);
    p = progress(80, 200, 15.5, false); /* 5.5 s later: a line */
    report_progress(&p, &r);
    p = progress(80, 200, 15.6, true); /* the end: always a line */
    report_progress(&p, &r);
    report_progress_end(&r); /* nothing was drawn: adds nothing */
    char *out = cap_close(&c);
    CHECK_STR(out,
              "progress: 50/200 (25%) record-targets, 5.0/s, shards 5/10, scores ok 100 unscored 1 errors 2\n"
              "progress: 80/200 (40%) record-targets, 5.2/s, shards 8/10, scores ok 160 unscored 1 errors 2\n"
              "progress: 80/200 (40%) record-targets, 5.1/s, shards 8/10, scores ok 160 unscored 1 errors 2 (done)\n");
    free(out);

    /* Quiet: nothing at all. An empty job is 0%, not a division by zero. */
    cap_open(&c);
    report_progress_init(&r, c.f, true);
    p = progress(0, 0, 0, true);
    report_progress(&p, &r);
    out = cap_close(&c);
    CHECK(out && out[0] == '\0');
    free(out);
    cap_open(&c);
    report_progress_init(&r, c.f, false);
    report_progress(&p, &r);
    out = cap_close(&c);
    CHECK_HAS(out, "progress: 0/0 (0%) record-targets, 0.0/s");
    free(out);
}

/* The bar on a pseudo-terminal: read back from the master side. */
static void test_tty(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        fprintf(stderr, "test_report: no pseudo-terminal here, the bar is not tested\n");
        if (master >= 0) close(master);
        return;
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    if (slave < 0) {
        close(master);
        return;
    }
    FILE *f = fdopen(slave, "w");
    report_progress_t r;
    report_progress_init(&r, f, false);
    CHECK(r.tty);
    sched_progress_t p = progress(50, 200, 10, false); /* ETA 30 s */
    report_progress(&p, &r);
    p = progress(10, 1000, 10, false); /* 1 /s: 990 s = 16m30s */
    report_progress(&p, &r);
    p = progress(1, 10000, 1, false); /* 9999 s = 2h46m39s: 2h47m */
    report_progress(&p, &r);
    p = progress(5, 303, 1, false); /* 59.6 s: 1m00s, not 60s */
    report_progress(&p, &r);
    p = progress(5, 18003, 1, false); /* 3599.6 s: 1h00m, not 59m60s */
    report_progress(&p, &r);
    p = progress(5, 18148, 1, false); /* 3628.6 s: 1h00m */
    report_progress(&p, &r);
    p = progress(0, 10, 5, false); /* no rate yet: no ETA */
    report_progress(&p, &r);
    report_progress_end(&r);
    CHECK(!r.drawn);
    report_progress_end(&r); /* once only */
    fclose(f);

    char buf[4096];
    size_t n = 0;
    int fl = fcntl(master, F_GETFL);
    fcntl(master, F_SETFL, fl | O_NONBLOCK);
    for (;;) {
        ssize_t k = read(master, buf + n, sizeof buf - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    close(master);
    CHECK_HAS(buf, "\r\033[K[#######.......................]  25% 50/200  5.0/s  ETA 30s  workers 3  scores ok 100 "
                   "unscored 1 errors 2");
    CHECK_HAS(buf, "ETA 16m30s");
    CHECK_HAS(buf, "ETA 2h47m");
    CHECK_HAS(buf, "ETA 1m00s ");
    CHECK(strstr(buf, "ETA 1h00m ") && !strstr(buf, "60s") && !strstr(buf, "60m"));
    CHECK_HAS(buf, "[..............................]   0% 0/10  0.0/s  ETA --");
    /* One line end after the bar (the terminal shows it as CR LF), not two. */
    size_t len = strlen(buf);
    CHECK(len >= 2 && strcmp(buf + len - 2, "\r\n") == 0 && (len < 4 || strcmp(buf + len - 4, "\r\n\r\n") != 0));
}

static void test_summary(void)
{
    const char *json =
        "{\"job_id\": \"j\", \"records\": {\"total\": 4, \"invalid_skipped\": 0},"
        " \"targets\": {"
        "  \"custom\": {\"model\": \"openai/custom\", \"metrics\": {"
        "    \"Correctness\": {\"mean\": 0.8125, \"mean_score\": 1.625, \"std\": 0.3, \"n\": 992, \"n_unscored\": 3,"
        "                     \"n_not_applicable\": 0, \"n_error\": 5, \"ci95\": [0.79375, 0.83125],"
        "                     \"ratings\": {\"incorrect\": 62, \"partially correct\": 248, \"correct\": 682}},"
        "    \"ARatherLongCustomMetricNameThatIsCut\": {\"mean\": null, \"mean_score\": null, \"n\": 0, \"n_unscored\": 1,"
        "                     \"n_error\": 0, \"ci95\": null, \"ratings\": {\"formal\": 0, \"casual\": 0}},"
        "    \"Tone\": {\"mean\": null, \"mean_score\": null, \"n\": 3, \"n_unscored\": 0, \"n_error\": 0, \"ci95\": null,"
        "             \"ratings\": {\"formal\": 2, \"casual\": 1}}}},"
        "  \"base\": {\"model\": \"openai/base\", \"metrics\": {"
        "    \"Correctness\": {\"mean\": 0.5, \"mean_score\": 1, \"n\": 1, \"n_unscored\": 0, \"n_error\": 0,"
        "                     \"ci95\": [0.5, 0.5], \"ratings\": {\"incorrect\": 0, \"partially correct\": 1, \"correct\": 0}}}}},"
        " \"comparison\": {"
        "  \"Correctness\": {\"n\": 985, \"mean_diff\": 0.0614, \"ci95\": [0.0401, 0.0827], \"wins\": 231, \"ties\": 640,"
        "                   \"losses\": 114, \"win_rate\": 0.2345},"
        "  \"Helpfulness\": {\"n\": 2, \"mean_diff\": -0.0001, \"ci95\": [-0.5, 0.25], \"wins\": 1, \"ties\": 0,"
        "                   \"losses\": 1, \"win_rate\": 0.5},"
        "  \"Relevance\": {\"n\": 0, \"mean_diff\": null, \"ci95\": null, \"wins\": 0, \"ties\": 0, \"losses\": 0,"
        "                 \"win_rate\": null}}}";
    cJSON *s = cJSON_Parse(json);
    CHECK(s != NULL);
    cap_t c;
    cap_open(&c);
    report_summary(c.f, s);
    char *out = cap_close(&c);
    CHECK_HAS(out, "\ncustom model: openai/custom\n");
    CHECK_HAS(out, "\nbase model: openai/base\n");
    CHECK_HAS(
        out, "  metric                          mean mean score            95% CI       n  unscored     n/a  errors\n");
    CHECK_HAS(
        out, "  Correctness                    0.812      1.625    [0.794, 0.831]     992         3       0       5\n");
    /* A name wider than the column is cut; nulls print as "-"; a string scale lists its ratings. */
    CHECK_HAS(
        out, "  ARatherLongCustomMetricNameT       -          -                 -       0         1       0       0\n");
    CHECK_HAS(out,
              "  Tone                               -          -                 -       3         0       0       0\n"
              "                               formal: 2 casual: 1\n");
    CHECK(!strstr(out, "incorrect: 62")); /* a float scale shows its mean, not its counts */
    CHECK_HAS(
        out, "  Correctness                    0.500      1.000    [0.500, 0.500]       1         0       0       0\n");
    CHECK_HAS(out, "\ncustom vs base (positive = custom better)\n");
    CHECK_HAS(out, "  Correctness                     +0.061  [+0.040, +0.083]    231    640    114    23.4%\n");
    CHECK_HAS(out, "  Helpfulness                     +0.000  [-0.500, +0.250]      1      0      1    50.0%\n");
    CHECK_HAS(out, "  Relevance                            -                 -      0      0      0        -\n");
    CHECK(strlen(out) > 0 && out[strlen(out) - 1] == '\n');
    free(out);
    cJSON_Delete(s);

    /* No base model: no comparison section; an empty or odd summary prints no garbage. */
    s = cJSON_Parse("{\"targets\": {\"custom\": {\"metrics\": {}}}, \"comparison\": {}}");
    cap_open(&c);
    report_summary(c.f, s);
    out = cap_close(&c);
    CHECK_HAS(out, "custom model: ?\n");
    CHECK(!strstr(out, "custom vs base"));
    free(out);
    cJSON_Delete(s);
    cap_open(&c);
    report_summary(c.f, NULL);
    out = cap_close(&c);
    CHECK_STR(out, "\n");
    free(out);
}

/* Metrics whose lower ratings are better carry a '*' (inside the name column) and the comparison
 * says its signs were flipped for them; with no comparison a footnote says what '*' means. */
static void test_lower_is_better(void)
{
#define LIB_TARGETS                                                                                               \
    "{\"targets\": {\"custom\": {\"model\": \"m\", \"metrics\": {"                                                \
    "  \"BadMetric\": {\"mean\": 0.25, \"mean_score\": 1.5, \"n\": 4, \"n_unscored\": 0, \"n_error\": 0,"         \
    "                \"ci95\": [0.1, 0.4], \"lower_is_better\": true},"                                           \
    "  \"ARatherLongCustomMetricNameThatIsCut\": {\"mean\": 0.5, \"mean_score\": 1, \"n\": 4, \"n_unscored\": 0," \
    "                \"n_error\": 0, \"ci95\": [0.5, 0.5], \"lower_is_better\": true},"                           \
    "  \"Correctness\": {\"mean\": 0.5, \"mean_score\": 1, \"n\": 4, \"n_unscored\": 0, \"n_error\": 0,"          \
    "                \"ci95\": [0.5, 0.5], \"lower_is_better\": false}}}}"
    cJSON *s = cJSON_Parse(LIB_TARGETS "}");
    CHECK(s != NULL);
    cap_t c;
    cap_open(&c);
    report_summary(c.f, s);
    char *out = cap_close(&c);
    CHECK_HAS(
        out, "  BadMetric*                     0.250      1.500    [0.100, 0.400]       4         0       0       0\n");
    CHECK_HAS(out, "  ARatherLongCustomMetricName*   0.500      1.000");
    CHECK_HAS(out, "  Correctness                    0.500");
    CHECK_HAS(out, "\n* lower is better\n");
    free(out);
    cJSON_Delete(s);

    s = cJSON_Parse(LIB_TARGETS
                    ", \"comparison\": {\"BadMetric\": {\"n\": 4, \"mean_diff\": 0.25, \"ci95\": [0.1, 0.4],"
                    " \"wins\": 2, \"ties\": 1, \"losses\": 1, \"win_rate\": 0.5, \"lower_is_better\": true}}}");
#undef LIB_TARGETS
    CHECK(s != NULL);
    cap_open(&c);
    report_summary(c.f, s);
    out = cap_close(&c);
    CHECK_HAS(out, "custom vs base (positive = custom better; for * metrics lower ratings are better, and the sign is "
                   "flipped to match)\n");
    CHECK_HAS(out, "  BadMetric*                      +0.250  [+0.100, +0.400]      2      1      1    50.0%\n");
    CHECK(!strstr(out, "\n* lower is better\n"));
    free(out);
    cJSON_Delete(s);
}

/* The tables of a summary read back from its JSON text (summary.json, the job database) equal
 * those of the summary in memory (`llmaj run`): the text's numbers are the same doubles. A mean
 * just above 0.4875 shows 0.488 both ways; cJSON's own printer writes it 0.4875, which reads back
 * below and shows 0.487. */
static void test_read_back_agrees(void)
{
    double up = nextafter(0.4875, 1.0);
    cJSON *s = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(s, "targets"), "custom"),
                                       "metrics");
    cJSON *x = cJSON_AddObjectToObject(m, "Correctness");
    cJSON_AddNumberToObject(x, "mean", up);
    cJSON_AddNumberToObject(x, "mean_score", 2 * up);
    cJSON_AddNumberToObject(x, "n", 80);
    char *texts[2] = {jsonprint(s, true), jsonprint(s, false)};
    cap_t c;
    cap_open(&c);
    report_summary(c.f, s);
    char *want = cap_close(&c);
    CHECK_HAS(want, "  Correctness                    0.488      0.975");
    for (int i = 0; i < 2; i++) {
        cJSON *back = cJSON_Parse(texts[i]);
        cap_open(&c);
        report_summary(c.f, back);
        char *got = cap_close(&c);
        CHECK_STR(got, want);
        free(got);
        cJSON_Delete(back);
        free(texts[i]);
    }
    char *cj = cJSON_PrintUnformatted(s);
    cJSON *back = cJSON_Parse(cj);
    cap_open(&c);
    report_summary(c.f, back);
    char *got = cap_close(&c);
    CHECK_HAS(got, "  Correctness                    0.487"); /* why jsonprint exists */
    free(got);
    cJSON_Delete(back);
    free(cj);
    free(want);
    cJSON_Delete(s);
}

/* Exact ties round to the even digit (printf's rule; the viewer's fixed() and Python's format
 * follow it, tests/web/viewer_report.cjs checks the page on these same numbers); a CI end that
 * rounds to zero shows +0.000 like the difference does. */
static void test_rounding(void)
{
    cJSON *s = cJSON_Parse(
        "{\"targets\": {\"custom\": {\"model\": \"m\", \"metrics\": {\"A\": {\"mean\": 0.0625, \"mean_score\": 0.1875,"
        " \"n\": 16, \"n_unscored\": 0, \"n_error\": 0, \"ci95\": [0.3125, 0.4375]}}}},"
        " \"comparison\": {\"A\": {\"n\": 16, \"mean_diff\": -0.0625, \"ci95\": [-0.0001, 0.5625], \"wins\": 1,"
        " \"ties\": 15, \"losses\": 0, \"win_rate\": 0.0625}}}");
    CHECK(s != NULL);
    cap_t c;
    cap_open(&c);
    report_summary(c.f, s);
    char *out = cap_close(&c);
    CHECK_HAS(
        out, "  A                              0.062      0.188    [0.312, 0.438]      16         0       0       0\n");
    CHECK_HAS(out, "  A                               -0.062  [+0.000, +0.562]      1     15      0     6.2%\n");
    free(out);
    cJSON_Delete(s);
}

int main(void)
{
    test_plain();
    test_tty();
    test_summary();
    test_lower_is_better();
    test_read_back_agrees();
    test_rounding();
    return check_summary("test_report");
}
