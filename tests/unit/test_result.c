/* test_result: score status and target names, result_t memory. */
#include "result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void test_result(void)
{
    score_status_t s;
    target_t t;
    const char *names[] = {"ok", "unscored", "not_applicable", "error"};
    for (int i = 0; i < 4; i++) {
        CHECK(strcmp(score_status_name((score_status_t)i), names[i]) == 0);
        CHECK(score_status_parse(names[i], &s) == 0 && s == (score_status_t)i);
    }
    CHECK(score_status_parse("OK", &s) < 0);
    CHECK(score_status_parse("", &s) < 0);
    CHECK(score_status_parse(NULL, &s) < 0);
    CHECK(strcmp(score_status_name((score_status_t)99), "unknown") == 0);
    CHECK(strcmp(target_name(TARGET_CUSTOM), "custom") == 0);
    CHECK(strcmp(target_name(TARGET_BASE), "base") == 0);
    CHECK(target_parse("custom", &t) == 0 && t == TARGET_CUSTOM);
    CHECK(target_parse("base", &t) == 0 && t == TARGET_BASE);
    CHECK(target_parse("basee", &t) < 0);
    CHECK(strcmp(target_name((target_t)7), "unknown") == 0);

    result_t r;
    memset(&r, 0, sizeof(r));
    r.job_id = strdup("j1");
    r.model = strdup("openai/x");
    r.response = strdup("resp");
    r.error = strdup("err");
    for (int i = 0; i < 20; i++) {
        score_t *sc = result_add_score(&r);
        CHECK(sc->metric == NULL && sc->status == SCORE_OK && !sc->has_score && sc->attempts == 0);
        sc->metric = strdup("Correctness");
        sc->rating = strdup("correct");
        sc->explanation = strdup("because");
        sc->error = i % 2 ? strdup("e") : NULL;
    }
    CHECK(r.n_scores == 20 && strcmp(r.scores[19].metric, "Correctness") == 0);
    result_clear(&r);
    CHECK(r.scores == NULL && r.n_scores == 0 && r.job_id == NULL);
    result_clear(&r);
    result_clear(NULL);
}

int main(void)
{
    test_result();
    return check_summary("test_result");
}
