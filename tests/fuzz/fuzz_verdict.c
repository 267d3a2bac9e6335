/* fuzz_verdict: judge replies through the verdict parser (eval/verdict.c), whose input is
 * whatever a model answers. The first byte of the input picks the metric (the twelve built-ins
 * and two custom scales: a numeric one whose ratings overlap as words, a string one); the rest
 * is the reply, not NUL-terminated.
 *
 * Properties: a rating is found exactly when the result says so and is a rating of the scale;
 * an explanation is bounded as verdict.h says; the parse is deterministic; and a labelled answer
 * line wins: a reply with no JSON object in it, followed by the line "Rating: <a definition>",
 * reads as that rating (verdict.h rule 2), unless the reply already named another rating on a
 * labelled line: then the two conflict, and the result says so, naming that rating. Seeds:
 * corpus/verdict. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "metric.h"
#include "verdict.h"

#define MAX_METRICS 16

static metric_t *metrics[MAX_METRICS];
static size_t n_metrics;

static const char *const customs[] = {
    "{\"customMetricDefinition\": {\"name\": \"Exactness\", \"instructions\": \"Judge {{prediction}} for "
    "{{prompt}}.\", \"ratingScale\": ["
    "{\"definition\": \"incorrect\", \"value\": {\"floatValue\": 0}},"
    "{\"definition\": \"partially correct\", \"value\": {\"floatValue\": 1}},"
    "{\"definition\": \"correct\", \"value\": {\"floatValue\": 2}},"
    "{\"definition\": \"not  applicable\", \"value\": {\"floatValue\": 3}}]}}",
    "{\"customMetricDefinition\": {\"name\": \"Tone\", \"instructions\": \"What is the tone of "
    "{{prediction}}?\", \"ratingScale\": ["
    "{\"definition\": \"formal\", \"value\": {\"stringValue\": \"F\"}},"
    "{\"definition\": \"very formal\", \"value\": {\"stringValue\": \"VF\"}},"
    "{\"definition\": \"casual\", \"value\": {\"stringValue\": \"C\"}}]}}",
};

static void setup(void)
{
    size_t nb = 0;
    const char *const *names = metric_builtin_names(&nb);
    for (size_t i = 0; i < nb && n_metrics < MAX_METRICS; i++) {
        metrics[n_metrics] = metric_builtin(names[i]);
        FUZZ_ASSERT(metrics[n_metrics] != NULL);
        n_metrics++;
    }
    for (size_t i = 0; i < sizeof customs / sizeof *customs && n_metrics < MAX_METRICS; i++) {
        errlist_t errs;
        errlist_init(&errs, 0);
        cJSON *j = cJSON_Parse(customs[i]);
        metrics[n_metrics] = j ? metric_custom_parse(j, "fuzz", &errs) : NULL;
        cJSON_Delete(j);
        if (!metrics[n_metrics]) errlist_print(&errs, stderr, "fuzz_verdict setup: ");
        errlist_free(&errs);
        FUZZ_ASSERT(metrics[n_metrics] != NULL);
        n_metrics++;
    }
}

static void check_one(const metric_t *m, const char *reply, size_t len, verdict_t *v)
{
    int rc = verdict_parse(m, reply, len, v);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT(rc == 0 ? v->rating >= 0 && (size_t)v->rating < m->n_ratings : v->rating == -1);
    if (v->explanation) FUZZ_ASSERT(strlen(v->explanation) <= VERDICT_MAX_EXPLANATION + 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_OFF);
    if (!n_metrics) setup();
    if (size < 1) return 0;
    const metric_t *m = metrics[data[0] % n_metrics];
    const char *reply = (const char *)data + 1;
    size_t len = size - 1;

    verdict_t v, w;
    check_one(m, reply, len, &v);
    check_one(m, reply, len, &w);
    FUZZ_ASSERT(v.rating == w.rating);
    FUZZ_ASSERT((!v.explanation && !w.explanation) ||
                (v.explanation && w.explanation && strcmp(v.explanation, w.explanation) == 0));
    verdict_clear(&v);
    verdict_clear(&w);
    FUZZ_ASSERT(v.rating == -1 && v.explanation == NULL);

    if (memchr(reply, '{', len)) return 0;
    size_t k = (size_t)data[0] / n_metrics % m->n_ratings;
    const char *def = m->ratings[k].definition;
    size_t dlen = strlen(def);
    char *labelled = malloc(len + dlen + 10);
    FUZZ_ASSERT(labelled != NULL);
    memcpy(labelled, reply, len);
    memcpy(labelled + len, "\nRating: ", 9);
    memcpy(labelled + len + 9, def, dlen);
    check_one(m, labelled, len + 9 + dlen, &v);
    bool conflict = v.status == VERDICT_CONFLICT && (v.conflict[0] == (int)k || v.conflict[1] == (int)k);
    if (v.rating != (int)k && !conflict)
        fprintf(stderr, "metric %s: \"Rating: %s\" read as rating %d\n", m->name, def, v.rating);
    FUZZ_ASSERT(v.rating == (int)k || conflict);
    verdict_clear(&v);
    free(labelled);
    return 0;
}
