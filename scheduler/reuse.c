/* reuse: checking the job a new job reuses the responses of; see reuse.h. */
#define LOG_MODULE "scheduler"
#include "reuse.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* A model key of sp taken from the reused job when not given, else checked against it. */
static void take_model(char **mine, const char *theirs, const char *key, const char *src, errlist_t *errs)
{
    if (!*mine) {
        *mine = xstrdup(theirs);
    } else if (!same(*mine, theirs)) {
        errlist_add(errs,
                    "%s: job %s's responses are from `%s`, not `%s`: leave %s out (it is taken from that job) "
                    "or give the same",
                    key, src, theirs ? theirs : "the dataset", *mine, key);
    }
}

sched_err_t reuse_resolve(store_t *st, spec_t *sp, reuse_src_t *out, errlist_t *errs)
{
    memset(out, 0, sizeof *out);
    const size_t before = errs->count;
    /* The id, or the beginning of exactly one (as every command takes it): the full id is kept. */
    char *ids[2] = {NULL, NULL};
    size_t n_match = 0;
    if (store_job_match(st, sp->reuse_from, ids, 2, &n_match) < 0) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        return SCHED_E_DB;
    }
    if (n_match > 1)
        errlist_add(errs, "reuse_responses_from: `%s` is the beginning of %zu jobs' ids (%s, %s%s): give more of it",
                    sp->reuse_from, n_match, ids[0], ids[1], n_match > 2 ? ", ..." : "");
    if (n_match == 1) {
        free(sp->reuse_from);
        sp->reuse_from = ids[0];
        ids[0] = NULL;
    }
    free(ids[0]);
    free(ids[1]);
    if (n_match > 1) return SCHED_E_INPUT;
    const char *src = sp->reuse_from;
    store_job_t job;
    int g = store_job_get(st, src, &job);
    if (g < 0) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        return SCHED_E_DB;
    }
    if (g == 1 || (int)job.state == STORE_STATE_LOADING) {
        errlist_add(errs,
                    "reuse_responses_from: no job `%s` in this scheduler's database (%s); its jobs are those "
                    "`llmaj list` (or GET /v1/jobs) shows",
                    src, store_path(st));
        store_job_clear(&job);
        return SCHED_E_INPUT;
    }
    sched_err_t ret = SCHED_OK;
    spec_t *ss = NULL;
    if (!sched_job_state_ended(job.state)) {
        errlist_add(errs,
                    "reuse_responses_from: job %s is %s: its responses can be reused once it has ended (wait "
                    "for it, or stop it)",
                    src, sched_job_state_name(job.state));
        ret = SCHED_E_INPUT;
        goto out;
    }
    errlist_t perr;
    errlist_init(&perr, 1);
    ss = spec_parse(job.spec_json, strlen(job.spec_json), "the reused job's spec", NULL, &perr);
    if (!ss) {
        errlist_add(errs, "reuse_responses_from: job %s's stored spec no longer parses: %s", src,
                    perr.n_kept ? perr.msgs[0] : "?");
        errlist_free(&perr);
        ret = SCHED_E_INPUT;
        goto out;
    }
    errlist_free(&perr);

    /* The targets: the reused job's models, its base model only if it evaluated one. */
    take_model(&sp->model, ss->model, "model", src, errs);
    if (!sp->model_package && same(sp->model, ss->model)) sp->model_package = xstrdup(ss->model_package);
    const char *their_base = ss->evaluate_base_model ? ss->base_model : NULL;
    if (!sp->evaluate_base_model_given) {
        if (!sp->base_model) sp->base_model = xstrdup(their_base);
        sp->evaluate_base_model = sp->base_model != NULL;
    }
    if (sp->evaluate_base_model) {
        if (!their_base) {
            errlist_add(errs,
                        "evaluate_base_model: job %s did not evaluate a base model: it has no base responses to "
                        "reuse",
                        src);
        } else {
            take_model(&sp->base_model, their_base, "base_model", src, errs);
            if (!sp->base_model_package && same(sp->base_model, their_base))
                sp->base_model_package = xstrdup(ss->base_model_package);
        }
    }
    if (!sp->dataset) {
        sp->dataset = xstrdup(ss->dataset);
    } else if (!same(sp->dataset, ss->dataset)) {
        errlist_add(errs,
                    "dataset: a job that reuses responses evaluates the records of job %s (its dataset `%s`), "
                    "not `%s`: leave dataset out",
                    src, ss->dataset, sp->dataset);
    }
    if (errs->count > before) {
        ret = SCHED_E_INPUT;
        goto out;
    }

    /* Every record has a response for every target the new job evaluates. */
    store_job_stats_t stats;
    if (store_job_stats_light(st, src, &stats) < 0) {
        errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
        ret = SCHED_E_DB;
        goto out;
    }
    unsigned targets = sp->evaluate_base_model ? 2 : 1;
    for (unsigned t = 0; t < targets; t++) {
        uint64_t missing = 0, first = 0;
        char *why = NULL;
        if (store_reuse_missing(st, src, (target_t)t, &missing, &first, &why) < 0) {
            errlist_add(errs, "database %s: %s", store_path(st), store_errmsg(st));
            ret = SCHED_E_DB;
            goto out;
        }
        if (missing)
            errlist_add(errs,
                        "reuse_responses_from: job %s has no %s response for %llu of its %llu record(s) (the "
                        "first: record %llu, %s): retry that job first (`llmaj retry %s`), or evaluate without "
                        "reuse_responses_from",
                        src, target_name((target_t)t), (unsigned long long)missing, (unsigned long long)stats.records,
                        (unsigned long long)first, why ? why : "never evaluated", src);
        free(why);
    }
    if (errs->count > before) {
        ret = SCHED_E_INPUT;
        goto out;
    }
    out->records_total = job.records_total;
    out->records_invalid = job.records_invalid;
    out->records = stats.records;
    log_info("reusing job %s's responses: %llu record(s), %u target(s)", src, (unsigned long long)stats.records,
             targets);
out:
    spec_destroy(&ss);
    store_job_clear(&job);
    return ret;
}
