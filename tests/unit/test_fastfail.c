/* test_fastfail: a model whose first FASTFAIL_CALLS calls were all refused for its set-up fails
 * the job with the spec key, the model and the first error; one call that did anything else
 * disarms it for that model only; judge "calls" that never happened (no response to judge) do
 * not count; responses from the dataset are no inference calls. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fastfail.h"
#include "mem.h"

static result_t res(bool inf_err, bool inf_cfg, int judge) /* judge: 0 ok, 1 config error, 2 no call */
{
    result_t r = {0};
    r.target = TARGET_CUSTOM;
    r.model = xstrdup("openai/m");
    if (inf_err) {
        r.error = xstrdup(inf_cfg ? "openai/m: HTTP 401: invalid key" : "openai/m: HTTP 500");
        r.error_config = inf_cfg;
    } else {
        r.response = xstrdup("r");
    }
    score_t *s = result_add_score(&r);
    s->metric = xstrdup("Correctness");
    if (judge == 0) {
        s->status = SCORE_OK;
        s->attempts = 1;
    } else if (judge == 1) {
        s->status = SCORE_ERROR;
        s->error = xstrdup("openai/judge: HTTP 403: forbidden");
        s->error_config = true;
        s->attempts = 1;
    } else {
        s->status = SCORE_ERROR;
        s->error = xstrdup("no response to judge");
    }
    return r;
}

static const char *see(fastfail_t *f, const spec_t *sp, bool inf_err, bool inf_cfg, int judge)
{
    result_t r = res(inf_err, inf_cfg, judge);
    const char *why = fastfail_see(f, sp, &r);
    result_clear(&r);
    return why;
}

int main(void)
{
    spec_t sp;
    memset(&sp, 0, sizeof sp);
    sp.model = "openai/m";
    sp.evaluator_model = "openai/judge";

    /* Inference refused every time: fails at the FASTFAIL_CALLS-th; the judge never ran. */
    fastfail_t *f = fastfail_new();
    for (int i = 1; i < FASTFAIL_CALLS; i++) CHECK(see(f, &sp, true, true, 2) == NULL);
    const char *why = see(f, &sp, true, true, 2);
    CHECK(why != NULL);
    CHECK_HAS(why, "model `openai/m`");
    CHECK_HAS(why, "first 8 calls");
    CHECK_HAS(why, "HTTP 401: invalid key");
    CHECK(see(f, &sp, true, true, 2) == NULL); /* said once */
    fastfail_destroy(&f);
    CHECK(f == NULL);
    fastfail_destroy(&f);

    /* One success first: never for that model. */
    f = fastfail_new();
    CHECK(see(f, &sp, false, false, 0) == NULL);
    for (int i = 0; i < 3 * FASTFAIL_CALLS; i++) CHECK(see(f, &sp, true, true, 2) == NULL);
    fastfail_destroy(&f);

    /* Another kind of failure disarms too (a 500 is no set-up problem). */
    f = fastfail_new();
    CHECK(see(f, &sp, true, true, 2) == NULL);
    CHECK(see(f, &sp, true, false, 2) == NULL);
    for (int i = 0; i < 3 * FASTFAIL_CALLS; i++) CHECK(see(f, &sp, true, true, 2) == NULL);
    fastfail_destroy(&f);

    /* The judge refused while inference works: fails naming evaluator_model. */
    f = fastfail_new();
    why = NULL;
    for (int i = 0; i < FASTFAIL_CALLS && !why; i++) why = see(f, &sp, false, false, 1);
    CHECK(why != NULL);
    CHECK_HAS(why, "evaluator_model `openai/judge`");
    CHECK_HAS(why, "HTTP 403");
    fastfail_destroy(&f);

    /* Responses from the dataset are not inference calls. */
    f = fastfail_new();
    for (int i = 0; i < 2 * FASTFAIL_CALLS; i++) {
        result_t r = res(false, false, 0);
        r.response_from_dataset = true;
        r.scores[0].status = SCORE_ERROR;
        r.scores[0].error_config = false;
        r.scores[0].attempts = 0; /* and a judge error without a call: no call */
        CHECK(fastfail_see(f, &sp, &r) == NULL);
        result_clear(&r);
    }
    fastfail_destroy(&f);
    return check_summary("test_fastfail");
}
