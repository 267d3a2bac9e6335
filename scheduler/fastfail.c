/* fastfail: the first calls of each model, all refused for their set-up; see fastfail.h. */
#include "fastfail.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define MODELS 4 /* a job calls three model strings at most */

typedef struct {
    char *model;
    const char *key;  /* the spec key that names it (static) */
    unsigned refused; /* configuration errors, every call so far */
    bool disarmed;    /* a call did something else */
    char *first_error;
} watch_t;

struct fastfail {
    watch_t w[MODELS];
    size_t n;
    bool fired;
    char msg[1536];
};

fastfail_t *fastfail_new(void) { return xcalloc(1, sizeof(fastfail_t)); }

void fastfail_destroy(fastfail_t **self_p)
{
    if (!self_p || !*self_p) return;
    fastfail_t *f = *self_p;
    for (size_t i = 0; i < f->n; i++) {
        free(f->w[i].model);
        free(f->w[i].first_error);
    }
    free(f);
    *self_p = NULL;
}

static watch_t *watch_of(fastfail_t *f, const char *model, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->w[i].model, model)) return &f->w[i];
    if (f->n == MODELS) return NULL;
    watch_t *w = &f->w[f->n++];
    w->model = xstrdup(model);
    w->key = key;
    return w;
}

/* One call's outcome: refused for its set-up (error_config) or not. */
static const char *see(fastfail_t *f, const char *model, const char *key, bool refused, const char *error)
{
    watch_t *w = model ? watch_of(f, model, key) : NULL;
    if (!w || w->disarmed || f->fired) return NULL;
    if (!refused) {
        w->disarmed = true;
        return NULL;
    }
    if (!w->first_error) w->first_error = xstrdup(error ? error : "refused");
    if (++w->refused < FASTFAIL_CALLS) return NULL;
    f->fired = true;
    snprintf(f->msg, sizeof f->msg,
             "%s `%s`: its first %u calls were all refused for how the model is set up, so every other call would "
             "be too: %s (check the model name, and its key, base URL or region on every worker: docs/fleet.md)",
             w->key, w->model, w->refused, w->first_error);
    return f->msg;
}

const char *fastfail_see(fastfail_t *f, const spec_t *sp, const result_t *r)
{
    const char *why = NULL;
    if (!r->response_from_dataset && (r->response || r->error)) {
        const char *key = r->target == TARGET_BASE ? "base_model" : "model";
        const char *model = r->target == TARGET_BASE ? sp->base_model : sp->model;
        why = see(f, model ? model : r->model, key, r->error && r->error_config, r->error);
    }
    for (size_t i = 0; i < r->n_scores && !why; i++) {
        const score_t *s = &r->scores[i];
        if (s->status == SCORE_ERROR && s->attempts == 0 && !s->error_config) continue; /* no judge call */
        why = see(f, sp->evaluator_model, "evaluator_model", s->status == SCORE_ERROR && s->error_config, s->error);
    }
    return why;
}
