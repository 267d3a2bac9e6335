/* result: names of score statuses and targets, and the memory of result_t (see result.h).
 * Does not encode results (wire.c) or write them (the collector). */
#include "result.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"ok", "unscored", "not_applicable", "error"};
static const char *const target_names[] = {"custom", "base"};

const char *score_status_name(score_status_t s)
{
    if ((unsigned)s < sizeof(status_names) / sizeof(status_names[0])) return status_names[s];
    return "unknown";
}

int score_status_parse(const char *s, score_status_t *out)
{
    if (!s) return -1;
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = (score_status_t)i;
            return 0;
        }
    return -1;
}

const char *target_name(target_t t)
{
    if ((unsigned)t < sizeof(target_names) / sizeof(target_names[0])) return target_names[t];
    return "unknown";
}

int target_parse(const char *s, target_t *out)
{
    if (!s) return -1;
    for (size_t i = 0; i < sizeof(target_names) / sizeof(target_names[0]); i++)
        if (strcmp(s, target_names[i]) == 0) {
            *out = (target_t)i;
            return 0;
        }
    return -1;
}

static void score_clear(score_t *s)
{
    free(s->metric);
    free(s->rating);
    free(s->explanation);
    free(s->error);
    memset(s, 0, sizeof(*s));
}

void result_clear(result_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_scores; i++) score_clear(&r->scores[i]);
    free(r->scores);
    free(r->job_id);
    free(r->model);
    free(r->response);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

score_t *result_add_score(result_t *r)
{
    r->scores = xrealloc(r->scores, (r->n_scores + 1) * sizeof(score_t));
    score_t *s = &r->scores[r->n_scores++];
    memset(s, 0, sizeof(*s));
    return s;
}
