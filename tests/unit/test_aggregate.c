/* test_aggregate: summary.json from hand-computed scores: means, intervals, counts per status and
 * rating, categories, a string scale, the paired comparison (lower-is-better included), anomalies,
 * and independence from the order scores are fed in. Expected values were worked out with exact
 * (40-digit) arithmetic; the t quantiles are scipy's t.ppf(0.975, n - 1). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aggregate.h"
#include "errlist.h"
#include "log.h"
#include "mem.h"
#include "metric.h"
#include "result.h"
#include "check.h"

/* The item at a path of keys (NULL-terminated), or NULL. */
static const cJSON *jget(const cJSON *root, ...)
{
    va_list ap;
    va_start(ap, root);
    const cJSON *j = root;
    for (const char *k = va_arg(ap, const char *); k && j; k = va_arg(ap, const char *))
        j = cJSON_GetObjectItemCaseSensitive(j, k);
    va_end(ap);
    return j;
}

static int near(const cJSON *j, double want, int line)
{
    if (!cJSON_IsNumber(j)) {
        fprintf(stderr, "%s:%d: not a number (want %.17g)\n", __FILE__, line, want);
        return 0;
    }
    double got = j->valuedouble;
    if (fabs(got - want) <= 1e-12 * (fabs(want) > 1 ? fabs(want) : 1)) return 1;
    fprintf(stderr, "%s:%d: got %.17g, want %.17g\n", __FILE__, line, got, want);
    return 0;
}
#define NUM(want, ...) CHECK(near(jget(__VA_ARGS__, NULL), (want), __LINE__))
#define ISNULL(...) CHECK(cJSON_IsNull(jget(__VA_ARGS__, NULL)))
#define ABSENT(...) CHECK(jget(__VA_ARGS__, NULL) == NULL)
/* ci95 = [low, high] */
#define CI(lo, hi, ...)                                              \
    do {                                                             \
        const cJSON *ci_ = jget(__VA_ARGS__, "ci95", NULL);          \
        CHECK(cJSON_IsArray(ci_) && cJSON_GetArraySize(ci_) == 2);   \
        if (cJSON_IsArray(ci_) && cJSON_GetArraySize(ci_) == 2) {    \
            CHECK(near(cJSON_GetArrayItem(ci_, 0), (lo), __LINE__)); \
            CHECK(near(cJSON_GetArrayItem(ci_, 1), (hi), __LINE__)); \
        }                                                            \
    } while (0)

/* ---- fixtures ------------------------------------------------------------------------------- */

enum { M_CORR, M_HARM, M_FI, M_DEPTH, M_TONE, N_METRICS };
static metric_t *metrics[N_METRICS];

static metric_t *custom(const char *json)
{
    errlist_t errs;
    errlist_init(&errs, 0);
    cJSON *j = cJSON_Parse(json);
    metric_t *m = j ? metric_custom_parse(j, "custom_metrics[0]", &errs) : NULL;
    if (!m) errlist_print(&errs, stderr, "fixture: ");
    cJSON_Delete(j);
    errlist_free(&errs);
    return m;
}

static int setup(void)
{
    metrics[M_CORR] = metric_builtin("Correctness");
    metrics[M_HARM] = metric_builtin("Harmfulness");
    metrics[M_FI] = metric_builtin("FollowingInstructions");
    /* Unequal spacing: normalized shallow 0, moderate 1/3, deep 1. */
    metrics[M_DEPTH] = custom(
        "{\"customMetricDefinition\": {\"name\": \"Depth\", \"instructions\": \"How deep is {{prediction}} "
        "as an answer to {{prompt}}?\", \"ratingScale\": ["
        "{\"definition\": \"shallow\", \"value\": {\"floatValue\": 1}},"
        "{\"definition\": \"moderate\", \"value\": {\"floatValue\": 2}},"
        "{\"definition\": \"deep\", \"value\": {\"floatValue\": 4}}]}}");
    metrics[M_TONE] = custom(
        "{\"customMetricDefinition\": {\"name\": \"Tone\", \"instructions\": \"What is the tone of "
        "{{prediction}} (asked: {{prompt}})?\", \"ratingScale\": ["
        "{\"definition\": \"formal\", \"value\": {\"stringValue\": \"F\"}},"
        "{\"definition\": \"casual\", \"value\": {\"stringValue\": \"C\"}}]}}");
    for (int i = 0; i < N_METRICS; i++)
        if (!metrics[i]) return -1;
    return 0;
}

/* One score to feed. status: 'o' ok, 'n' not applicable, 'u' unscored, 'e' error. */
typedef struct {
    uint64_t rec;
    target_t target;
    int metric;
    char status;
    const char *rating;
} feed_t;

static const char *const categories[] = {"math", "math", "geo", "geo", NULL, "math"};

#define C TARGET_CUSTOM
#define B TARGET_BASE
static const feed_t table[] = {
    /* Correctness: custom correct, partially, correct, incorrect, unscored, error. */
    {0, C, M_CORR, 'o', "correct"},
    {1, C, M_CORR, 'o', "partially correct"},
    {2, C, M_CORR, 'o', "correct"},
    {3, C, M_CORR, 'o', "incorrect"},
    {4, C, M_CORR, 'u', NULL},
    {5, C, M_CORR, 'e', NULL},
    /* base partially, partially, incorrect, correct, correct, incorrect. */
    {0, B, M_CORR, 'o', "partially correct"},
    {1, B, M_CORR, 'o', "partially correct"},
    {2, B, M_CORR, 'o', "incorrect"},
    {3, B, M_CORR, 'o', "correct"},
    {4, B, M_CORR, 'o', "correct"},
    {5, B, M_CORR, 'o', "incorrect"},
    /* Harmfulness (lower is better): custom no no yes no no no; base yes no yes yes no yes. */
    {0, C, M_HARM, 'o', "no"},
    {1, C, M_HARM, 'o', "no"},
    {2, C, M_HARM, 'o', "yes"},
    {3, C, M_HARM, 'o', "no"},
    {4, C, M_HARM, 'o', "no"},
    {5, C, M_HARM, 'o', "no"},
    {0, B, M_HARM, 'o', "yes"},
    {1, B, M_HARM, 'o', "no"},
    {2, B, M_HARM, 'o', "yes"},
    {3, B, M_HARM, 'o', "yes"},
    {4, B, M_HARM, 'o', "no"},
    {5, B, M_HARM, 'o', "yes"},
    /* FollowingInstructions: custom yes N/A no yes N/A yes; base N/A yes yes no unscored yes. */
    {0, C, M_FI, 'o', "yes"},
    {1, C, M_FI, 'n', "not applicable"},
    {2, C, M_FI, 'o', "no"},
    {3, C, M_FI, 'o', "yes"},
    {4, C, M_FI, 'n', "not applicable"},
    {5, C, M_FI, 'o', "yes"},
    {0, B, M_FI, 'n', "not applicable"},
    {1, B, M_FI, 'o', "yes"},
    {2, B, M_FI, 'o', "yes"},
    {3, B, M_FI, 'o', "no"},
    {4, B, M_FI, 'u', NULL},
    {5, B, M_FI, 'o', "yes"},
    /* Depth: custom deep deep moderate deep moderate deep; base moderate deep moderate moderate
     * shallow moderate. */
    {0, C, M_DEPTH, 'o', "deep"},
    {1, C, M_DEPTH, 'o', "deep"},
    {2, C, M_DEPTH, 'o', "moderate"},
    {3, C, M_DEPTH, 'o', "deep"},
    {4, C, M_DEPTH, 'o', "moderate"},
    {5, C, M_DEPTH, 'o', "deep"},
    {0, B, M_DEPTH, 'o', "moderate"},
    {1, B, M_DEPTH, 'o', "deep"},
    {2, B, M_DEPTH, 'o', "moderate"},
    {3, B, M_DEPTH, 'o', "moderate"},
    {4, B, M_DEPTH, 'o', "shallow"},
    {5, B, M_DEPTH, 'o', "moderate"},
    /* Tone (string scale): custom formal casual formal unscored formal error; base casual casual
     * formal formal casual casual. */
    {0, C, M_TONE, 'o', "formal"},
    {1, C, M_TONE, 'o', "casual"},
    {2, C, M_TONE, 'o', "formal"},
    {3, C, M_TONE, 'u', NULL},
    {4, C, M_TONE, 'o', "formal"},
    {5, C, M_TONE, 'e', NULL},
    {0, B, M_TONE, 'o', "casual"},
    {1, B, M_TONE, 'o', "casual"},
    {2, B, M_TONE, 'o', "formal"},
    {3, B, M_TONE, 'o', "formal"},
    {4, B, M_TONE, 'o', "casual"},
    {5, B, M_TONE, 'o', "casual"},
};
#undef C
#undef B
#define N_FEED (sizeof table / sizeof table[0])

static void make_score(const metric_t *m, char status, const char *rating, score_t *s)
{
    memset(s, 0, sizeof(*s));
    s->metric = m->name;
    s->status = status == 'o'   ? SCORE_OK
                : status == 'n' ? SCORE_NOT_APPLICABLE
                : status == 'u' ? SCORE_UNSCORED
                                : SCORE_ERROR;
    s->rating = status == 'o' || status == 'n' ? (char *)rating : NULL;
    int r = rating ? metric_find_rating(m, rating, strlen(rating)) : -1;
    if (status == 'o' && m->kind == METRIC_FLOAT && r >= 0) {
        s->has_score = true;
        s->score = m->ratings[r].value;
        s->normalized = m->max > m->min ? (s->score - m->min) / (m->max - m->min) : 0;
    }
    if (status == 'e') s->error = "judge call failed";
}

static void feed(aggregate_t *a, const feed_t *f)
{
    score_t s;
    make_score(metrics[f->metric], f->status, f->rating, &s);
    aggregate_add(a, f->rec, f->target, categories[f->rec], &s);
}

static aggregate_t *new_job(int with_base)
{
    aggregate_t *a = aggregate_new("job-1", metrics, N_METRICS, "openai/ft-28", with_base ? "openai/base" : NULL);
    aggregate_set_counts(a, 7, 1);
    return a;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void check_main_summary(const cJSON *s)
{
    CHECK(cJSON_IsString(jget(s, "job_id", NULL)) && strcmp(jget(s, "job_id", NULL)->valuestring, "job-1") == 0);
    NUM(7, s, "records", "total");
    NUM(1, s, "records", "invalid_skipped");
    CHECK(strcmp(jget(s, "targets", "custom", "model", NULL)->valuestring, "openai/ft-28") == 0);
    CHECK(strcmp(jget(s, "targets", "base", "model", NULL)->valuestring, "openai/base") == 0);

    /* Correctness, custom: normalized 1 .5 1 0 (mean .625), raw 2 1 2 0; t(3) interval clipped. */
    const cJSON *m = jget(s, "targets", "custom", "metrics", "Correctness", NULL);
    NUM(0.625, m, "mean");
    NUM(1.25, m, "mean_score");
    NUM(0.47871355387816905, m, "std");
    NUM(4, m, "n");
    NUM(1, m, "n_unscored");
    NUM(0, m, "n_not_applicable");
    NUM(1, m, "n_error");
    CI(0.0, 1.0, m);
    NUM(1, m, "ratings", "incorrect");
    NUM(1, m, "ratings", "partially correct");
    NUM(2, m, "ratings", "correct");
    CHECK(cJSON_GetArraySize(jget(m, "ratings", NULL)) == 3);
    /* Correctness, base: .5 .5 0 1 1 0: mean .5, s = sqrt(.2), 0.5 ± t(5)·s/√6. */
    m = jget(s, "targets", "base", "metrics", "Correctness", NULL);
    NUM(0.5, m, "mean");
    NUM(1.0, m, "mean_score");
    NUM(0.44721359549995794, m, "std");
    NUM(6, m, "n");
    CI(0.03067811423631757, 0.96932188576368243, m);
    NUM(2, m, "ratings", "correct");

    /* Harmfulness (lower is better). custom 0 0 1 0 0 0; base 1 0 1 1 0 1. */
    m = jget(s, "targets", "custom", "metrics", "Harmfulness", NULL);
    NUM(1.0 / 6, m, "mean");
    NUM(1.0 / 6, m, "mean_score");
    NUM(0.40824829046386302, m, "std");
    CI(0.0, 0.59509697260605259, m);
    NUM(5, m, "ratings", "no");
    NUM(1, m, "ratings", "yes");
    CI(0.12474043250217698, 1.0, s, "targets", "base", "metrics", "Harmfulness");

    /* FollowingInstructions: not-applicable counted and listed, never averaged. */
    m = jget(s, "targets", "custom", "metrics", "FollowingInstructions", NULL);
    NUM(0.75, m, "mean");
    NUM(0.5, m, "std");
    NUM(4, m, "n");
    NUM(2, m, "n_not_applicable");
    NUM(0, m, "n_unscored");
    NUM(1, m, "ratings", "no");
    NUM(3, m, "ratings", "yes");
    NUM(2, m, "ratings", "not applicable");
    CI(0.0, 1.0, m);
    m = jget(s, "targets", "base", "metrics", "FollowingInstructions", NULL);
    NUM(4, m, "n");
    NUM(1, m, "n_not_applicable");
    NUM(1, m, "n_unscored");
    NUM(0.75, m, "mean");

    /* Depth (values 1 2 4 -> normalized 0 1/3 1). */
    m = jget(s, "targets", "custom", "metrics", "Depth", NULL);
    NUM(7.0 / 9, m, "mean");
    NUM(10.0 / 3, m, "mean_score");
    NUM(0.34426518632954817, m, "std");
    CI(0.41649362166811799, 1.0, m);
    NUM(0, m, "ratings", "shallow");
    NUM(2, m, "ratings", "moderate");
    NUM(4, m, "ratings", "deep");
    m = jget(s, "targets", "base", "metrics", "Depth", NULL);
    NUM(7.0 / 18, m, "mean");
    NUM(13.0 / 6, m, "mean_score");
    NUM(0.32773069341672502, m, "std");
    CI(0.044956618929553284, 0.73282115884822449, m);

    /* Tone: a string scale has counts, no means. */
    m = jget(s, "targets", "custom", "metrics", "Tone", NULL);
    ISNULL(m, "mean");
    ISNULL(m, "mean_score");
    ISNULL(m, "std");
    ISNULL(m, "ci95");
    NUM(4, m, "n");
    NUM(1, m, "n_unscored");
    NUM(1, m, "n_error");
    NUM(3, m, "ratings", "formal");
    NUM(1, m, "ratings", "casual");

    /* Metrics appear in the job's order. */
    const cJSON *ms = jget(s, "targets", "custom", "metrics", NULL);
    CHECK(cJSON_GetArraySize(ms) == N_METRICS);
    CHECK(strcmp(cJSON_GetArrayItem(ms, 0)->string, "Correctness") == 0);
    CHECK(strcmp(cJSON_GetArrayItem(ms, 4)->string, "Tone") == 0);

    /* Categories, sorted by name; record 4 has none. */
    const cJSON *cats = jget(s, "targets", "custom", "categories", NULL);
    CHECK(cJSON_GetArraySize(cats) == 2);
    CHECK(strcmp(cJSON_GetArrayItem(cats, 0)->string, "geo") == 0);
    CHECK(strcmp(cJSON_GetArrayItem(cats, 1)->string, "math") == 0);
    m = jget(cats, "math", "Correctness", NULL); /* records 0 1 5: correct, partially, error */
    NUM(2, m, "n");
    NUM(0.75, m, "mean");
    NUM(1.5, m, "mean_score");
    NUM(0.35355339059327376, m, "std");
    NUM(1, m, "n_error");
    NUM(0, m, "ratings", "incorrect");
    CI(0.0, 1.0, m);
    m = jget(cats, "geo", "Correctness", NULL); /* records 2 3: correct, incorrect */
    NUM(0.5, m, "mean");
    NUM(2, m, "n");
    m = jget(cats, "geo", "Tone", NULL); /* formal, unscored */
    NUM(1, m, "n");
    NUM(1, m, "n_unscored");
    m = jget(s, "targets", "base", "categories", "geo", "Depth", NULL); /* moderate, moderate */
    NUM(1.0 / 3, m, "mean");
    NUM(0, m, "std");
    CI(1.0 / 3, 1.0 / 3, m);

    /* Comparison, over records where both targets are ok. */
    const cJSON *cmp = jget(s, "comparison", NULL);
    CHECK(cJSON_GetArraySize(cmp) == 4); /* float metrics only: no Tone */
    ABSENT(cmp, "Tone");
    m = jget(cmp, "Correctness", NULL); /* records 0..3: +.5, 0, +1, -1 */
    NUM(4, m, "n");
    NUM(0.125, m, "mean_diff");
    CI(-1.0, 1.0, m);
    NUM(2, m, "wins");
    NUM(1, m, "ties");
    NUM(1, m, "losses");
    NUM(0.5, m, "win_rate");
    m = jget(cmp, "Harmfulness", NULL); /* lower is better: base − custom = 1 0 0 1 0 1 */
    NUM(6, m, "n");
    NUM(0.5, m, "mean_diff");
    CI(-0.074799572620899286, 1.0, m);
    NUM(3, m, "wins");
    NUM(3, m, "ties");
    NUM(0, m, "losses");
    NUM(0.5, m, "win_rate");
    m = jget(cmp, "FollowingInstructions", NULL); /* records 2 3 5: -1 +1 0 */
    NUM(3, m, "n");
    NUM(0, m, "mean_diff");
    NUM(1, m, "wins");
    NUM(1, m, "ties");
    NUM(1, m, "losses");
    NUM(1.0 / 3, m, "win_rate");
    CI(-1.0, 1.0, m);
    m = jget(cmp, "Depth", NULL); /* 2/3 0 0 2/3 1/3 2/3 */
    NUM(6, m, "n");
    NUM(7.0 / 18, m, "mean_diff");
    CI(0.044956618929553284, 0.73282115884822449, m);
    NUM(4, m, "wins");
    NUM(2, m, "ties");
    NUM(0, m, "losses");
    NUM(4.0 / 6, m, "win_rate");
}

static char *summary_text(const aggregate_t *a)
{
    cJSON *s = aggregate_summary(a);
    char *t = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return t;
}

static void test_hand_computed(void)
{
    aggregate_t *a = new_job(1);
    for (size_t i = 0; i < N_FEED; i++) feed(a, &table[i]);
    CHECK(aggregate_anomalies(a) == 0);
    cJSON *s = aggregate_summary(a);
    check_main_summary(s);
    cJSON_Delete(s);

    /* The same scores in other orders give the same summary, byte for byte. */
    char *forward = summary_text(a);
    aggregate_t *rev = new_job(1);
    for (size_t i = N_FEED; i-- > 0;) feed(rev, &table[i]);
    char *backward = summary_text(rev);
    CHECK(strcmp(forward, backward) == 0);
    aggregate_t *strided = new_job(1);
    for (size_t k = 0; k < N_FEED; k++) feed(strided, &table[(k * 7) % N_FEED]); /* 7 is coprime to 60 */
    char *mixed = summary_text(strided);
    CHECK(strcmp(forward, mixed) == 0);

    /* Anomalies change nothing (but the counter). */
    score_t sc;
    make_score(metrics[M_CORR], 'o', "incorrect", &sc);
    aggregate_add(a, 0, TARGET_CUSTOM, "math", &sc); /* repeat of a paired metric */
    aggregate_add(a, 6, TARGET_CUSTOM, "math", &sc); /* index 7 would be past the total */
    aggregate_add(a, 7, TARGET_CUSTOM, "math", &sc);
    sc.metric = "Nope";
    aggregate_add(a, 1, TARGET_CUSTOM, "math", &sc); /* unknown metric */
    aggregate_add(a, 1, (target_t)5, "math", NULL);  /* no score */
    CHECK(aggregate_anomalies(a) == 4);              /* the repeat, index 7, Nope, the NULL score */
    cJSON *s2 = aggregate_summary(a);
    /* Record 6 is a valid index (total 7): only it was counted, as one more incorrect. */
    NUM(5, s2, "targets", "custom", "metrics", "Correctness", "n");
    NUM(2, s2, "targets", "custom", "metrics", "Correctness", "ratings", "incorrect");
    cJSON_Delete(s2);

    free(forward);
    free(backward);
    free(mixed);
    aggregate_destroy(&a);
    aggregate_destroy(&rev);
    aggregate_destroy(&strided);
    CHECK(a == NULL);
    aggregate_destroy(&a); /* NULL is fine */
    aggregate_destroy(NULL);
}

static void test_repeat_detected(void)
{
    aggregate_t *a = new_job(1);
    for (size_t i = 0; i < N_FEED; i++) feed(a, &table[i]);
    char *before = summary_text(a);
    feed(a, &table[0]);  /* Correctness custom record 0, again */
    feed(a, &table[12]); /* Harmfulness custom record 0, again */
    CHECK(aggregate_anomalies(a) == 2);
    char *after = summary_text(a);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
    aggregate_destroy(&a);
}

static void test_without_base(void)
{
    aggregate_t *a = aggregate_new("job-2", metrics, N_METRICS, NULL, NULL);
    cJSON *s = aggregate_summary(a);
    /* Before any score: counts 0, statistics null, every rating listed with 0. */
    NUM(0, s, "records", "total");
    ISNULL(s, "targets", "custom", "model");
    ABSENT(s, "targets", "base");
    ABSENT(s, "comparison");
    const cJSON *m = jget(s, "targets", "custom", "metrics", "Correctness", NULL);
    NUM(0, m, "n");
    ISNULL(m, "mean");
    ISNULL(m, "mean_score");
    ISNULL(m, "std");
    ISNULL(m, "ci95");
    NUM(0, m, "ratings", "correct");
    CHECK(cJSON_GetArraySize(jget(m, "ratings", NULL)) == 3);
    CHECK(cJSON_GetArraySize(jget(s, "targets", "custom", "categories", NULL)) == 0);
    cJSON_Delete(s);

    score_t sc;
    /* A base score without a base model is refused. */
    make_score(metrics[M_CORR], 'o', "correct", &sc);
    aggregate_add(a, 0, TARGET_BASE, NULL, &sc);
    CHECK(aggregate_anomalies(a) == 1);
    /* Rating matched case- and whitespace-insensitively; one score: interval [mean, mean]. */
    make_score(metrics[M_CORR], 'o', "correct", &sc);
    sc.rating = "  Partially   CORRECT ";
    aggregate_add(a, 0, TARGET_CUSTOM, "", &sc); /* "" is no category */
    s = aggregate_summary(a);
    m = jget(s, "targets", "custom", "metrics", "Correctness", NULL);
    NUM(1, m, "n");
    NUM(0.5, m, "mean");
    NUM(1, m, "mean_score");
    NUM(0, m, "std");
    CI(0.5, 0.5, m);
    NUM(1, m, "ratings", "partially correct");
    CHECK(cJSON_GetArraySize(jget(s, "targets", "custom", "categories", NULL)) == 0);
    cJSON_Delete(s);

    /* No rating text: found by value. An ok score naming no rating counts as an error. */
    make_score(metrics[M_CORR], 'o', "correct", &sc);
    sc.rating = NULL;
    aggregate_add(a, 1, TARGET_CUSTOM, NULL, &sc);
    make_score(metrics[M_CORR], 'o', "correct", &sc);
    sc.rating = "brilliant";
    sc.has_score = false;
    aggregate_add(a, 2, TARGET_CUSTOM, NULL, &sc);
    CHECK(aggregate_anomalies(a) == 2);
    /* Not applicable that names no rating is still counted. */
    make_score(metrics[M_FI], 'n', NULL, &sc);
    aggregate_add(a, 0, TARGET_CUSTOM, NULL, &sc);
    s = aggregate_summary(a);
    m = jget(s, "targets", "custom", "metrics", "Correctness", NULL);
    NUM(2, m, "n");
    NUM(1, m, "n_error");
    NUM(0.75, m, "mean");
    NUM(1, m, "ratings", "correct");
    m = jget(s, "targets", "custom", "metrics", "FollowingInstructions", NULL);
    NUM(0, m, "n");
    NUM(1, m, "n_not_applicable");
    NUM(0, m, "ratings", "not applicable");
    ISNULL(m, "mean");
    cJSON_Delete(s);
    aggregate_destroy(&a);
}

/* Many pseudo-random scores: three feeding orders give byte-identical summaries, and the means
 * equal a direct computation. */
static uint64_t lcg(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return *st >> 33;
}

#define BIG 3000
static void test_order_independence_large(void)
{
    static const char *const cats[] = {"a", "b", "c", NULL};
    feed_t *f = malloc(sizeof(feed_t) * BIG * 2 * N_METRICS);
    size_t n = 0;
    uint64_t st = 42;
    double sum_norm = 0;
    uint64_t n_ok = 0;
    for (uint64_t r = 0; r < BIG; r++)
        for (int t = 0; t < 2; t++)
            for (int mi = 0; mi < N_METRICS; mi++) {
                const metric_t *m = metrics[mi];
                uint64_t x = lcg(&st) % 20;
                feed_t *e = &f[n++];
                e->rec = r;
                e->target = (target_t)t;
                e->metric = mi;
                if (x == 0) {
                    e->status = 'u';
                    e->rating = NULL;
                } else if (x == 1) {
                    e->status = 'e';
                    e->rating = NULL;
                } else {
                    const metric_rating_t *rt = &m->ratings[lcg(&st) % m->n_ratings];
                    e->status = rt->not_applicable ? 'n' : 'o';
                    e->rating = rt->definition;
                    if (mi == M_DEPTH && t == TARGET_CUSTOM && !rt->not_applicable) {
                        sum_norm += (rt->value - m->min) / (m->max - m->min);
                        n_ok++;
                    }
                }
            }
    aggregate_t *a[3];
    char *text[3];
    for (int k = 0; k < 3; k++) {
        a[k] = aggregate_new("job-big", metrics, N_METRICS, "m", "b");
        aggregate_set_counts(a[k], BIG, 0);
    }
    for (size_t i = 0; i < n; i++) {
        const feed_t *e = &f[i];
        score_t s;
        make_score(metrics[e->metric], e->status, e->rating, &s);
        aggregate_add(a[0], e->rec, e->target, cats[e->rec % 4], &s);
    }
    for (size_t i = n; i-- > 0;) {
        const feed_t *e = &f[i];
        score_t s;
        make_score(metrics[e->metric], e->status, e->rating, &s);
        aggregate_add(a[1], e->rec, e->target, cats[e->rec % 4], &s);
    }
    /* All base scores first, then custom. */
    for (int t = 1; t >= 0; t--)
        for (size_t i = 0; i < n; i++) {
            const feed_t *e = &f[i];
            if ((int)e->target != t) continue;
            score_t s;
            make_score(metrics[e->metric], e->status, e->rating, &s);
            aggregate_add(a[2], e->rec, e->target, cats[e->rec % 4], &s);
        }
    for (int k = 0; k < 3; k++) {
        CHECK(aggregate_anomalies(a[k]) == 0);
        text[k] = summary_text(a[k]);
    }
    CHECK(strcmp(text[0], text[1]) == 0);
    CHECK(strcmp(text[0], text[2]) == 0);
    cJSON *s = cJSON_Parse(text[0]);
    NUM((double)n_ok, s, "targets", "custom", "metrics", "Depth", "n");
    NUM(sum_norm / (double)n_ok, s, "targets", "custom", "metrics", "Depth", "mean");
    CHECK(cJSON_GetArraySize(jget(s, "targets", "base", "categories", NULL)) == 3);
    cJSON_Delete(s);
    for (int k = 0; k < 3; k++) {
        free(text[k]);
        aggregate_destroy(&a[k]);
    }
    free(f);
}

static void test_bad_metric(void)
{
    metric_t *m = metric_clone(metrics[M_CORR]);
    size_t saved = m->n_ratings;
    m->n_ratings = 0;
    metric_t *list[1] = {m};
    CHECK(aggregate_new("job-x", list, 1, "m", NULL) == NULL);
    m->n_ratings = saved;
    metric_destroy(&m);
}

/* The seed's BadMetric (Bad 1, Good 0: a higher rating is worse). As the seed writes it, it is
 * compared as higher-is-better; with "lowerIsBetter": true the comparison is oriented so that a
 * win is the better (lower) rating, as for Harmfulness. Records: custom Good Good Bad Good,
 * base Bad Good Bad Bad. */
static void test_custom_lower_is_better(void)
{
    static const char *const custom_r[] = {"Good", "Good", "Bad", "Good"}, *const base_r[] = {"Bad", "Good", "Bad",
                                                                                              "Bad"};
    for (int lower = 0; lower < 2; lower++) {
        char *json = xasprintf(
            "{\"customMetricDefinition\": {\"name\": \"BadMetric\", \"instructions\": \"Is {{prediction}} "
            "negative? ({{prompt}})\", \"ratingScale\": [{\"definition\": \"Bad\", \"value\": {\"floatValue\": 1}},"
            "{\"definition\": \"Good\", \"value\": {\"floatValue\": 0}}]%s}}",
            lower ? ", \"lowerIsBetter\": true" : "");
        metric_t *m = custom(json);
        free(json);
        CHECK(m != NULL);
        if (!m) continue;
        metric_t *list[1] = {m};
        aggregate_t *a = aggregate_new("job-bad", list, 1, "ft", "base");
        for (uint64_t r = 0; r < 4; r++) {
            score_t s;
            make_score(m, 'o', custom_r[r], &s);
            aggregate_add(a, r, TARGET_CUSTOM, NULL, &s);
            make_score(m, 'o', base_r[r], &s);
            aggregate_add(a, r, TARGET_BASE, NULL, &s);
        }
        cJSON *sum = aggregate_summary(a);
        const cJSON *c = jget(sum, "comparison", "BadMetric", NULL);
        NUM(4, c, "n");
        NUM(lower ? 0.5 : -0.5, c, "mean_diff"); /* custom is less negative on 2 of 4 records */
        NUM(lower ? 2 : 0, c, "wins");
        NUM(2, c, "ties");
        NUM(lower ? 0 : 2, c, "losses");
        NUM(lower ? 0.5 : 0.0, c, "win_rate");
        CHECK(cJSON_IsBool(jget(c, "lower_is_better", NULL)) &&
              cJSON_IsTrue(jget(c, "lower_is_better", NULL)) == lower);
        /* The means stay those of the ratings' values: the direction only orients comparisons. */
        NUM(0.25, sum, "targets", "custom", "metrics", "BadMetric", "mean");
        NUM(0.75, sum, "targets", "base", "metrics", "BadMetric", "mean");
        CHECK(cJSON_IsTrue(jget(sum, "targets", "base", "metrics", "BadMetric", "lower_is_better", NULL)) == lower);
        cJSON_Delete(sum);
        aggregate_destroy(&a);
        metric_destroy(&m);
    }
    /* Built-ins carry their direction too. */
    aggregate_t *a = new_job(1);
    cJSON *sum = aggregate_summary(a);
    CHECK(cJSON_IsTrue(jget(sum, "comparison", "Harmfulness", "lower_is_better", NULL)));
    CHECK(cJSON_IsFalse(jget(sum, "comparison", "Correctness", "lower_is_better", NULL)));
    CHECK(cJSON_IsTrue(jget(sum, "targets", "custom", "metrics", "Harmfulness", "lower_is_better", NULL)));
    CHECK(cJSON_IsFalse(jget(sum, "targets", "custom", "metrics", "Tone", "lower_is_better", NULL)));
    cJSON_Delete(sum);
    aggregate_destroy(&a);
}

int main(void)
{
    log_set_level(LOG_OFF); /* the anomalies fed on purpose would be logged */
    if (setup() < 0) {
        fprintf(stderr, "test_aggregate: fixture metrics could not be built\n");
        return 1;
    }
    test_hand_computed();
    test_repeat_detected();
    test_without_base();
    test_order_independence_large();
    test_bad_metric();
    test_custom_lower_is_better();
    for (int i = 0; i < N_METRICS; i++) metric_destroy(&metrics[i]);
    return check_summary("test_aggregate");
}
